//! Mapping templates keyed by content type, and the passthrough rules that choose one.

use super::{mime_type, Failure};
use crate::responses::GatewayResponseType;
use crate::vtl::{Template, TemplateError};

/// What happens when no request template fits the request's Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Passthrough {
    WhenNoMatch,
    WhenNoTemplates,
    Never,
}

impl Passthrough {
    pub fn parse(s: Option<&str>) -> Passthrough {
        match s.map(str::to_ascii_uppercase).as_deref() {
            Some("WHEN_NO_TEMPLATES") => Passthrough::WhenNoTemplates,
            Some("NEVER") => Passthrough::Never,
            _ => Passthrough::WhenNoMatch,
        }
    }
}

/// Moves an error position in `src.trim()` back to `src`.
fn untrimmed(src: &str, mut e: TemplateError) -> TemplateError {
    let cut = &src[..src.len() - src.trim_start().len()];
    let lines = cut.matches('\n').count();
    if e.line == 1 {
        e.column += cut[cut.rfind('\n').map_or(0, |i| i + 1)..].chars().count();
    }
    e.line += lines;
    e
}

/// API Gateway's limit on a mapping template's size.
pub const MAX_TEMPLATE_BYTES: usize = 300 * 1024;

/// A set of templates, each under its content type, in content-type order (the
/// configuration keeps template maps sorted; AWS stores them as an unordered map).
pub struct Templates {
    entries: Vec<(String, Template)>,
}

impl Templates {
    /// Parses every template; errors carry the content type and the position in the
    /// template text as written.
    pub fn compile<'a>(
        map: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) -> Result<Templates, (String, TemplateError)> {
        let mut entries = Vec::new();
        for (ct, src) in map {
            if src.len() > MAX_TEMPLATE_BYTES {
                let message = format!(
                    "mapping template is {} bytes; API Gateway's limit is 300 KB ({MAX_TEMPLATE_BYTES} bytes)",
                    src.len()
                );
                return Err((ct.clone(), TemplateError::at(src, 0, message)));
            }
            // AWS trims a template before rendering it.
            let trimmed = src.trim();
            let t = Template::parse(trimmed).map_err(|e| (ct.clone(), untrimmed(src, e)))?;
            entries.push((ct.to_ascii_lowercase(), t));
        }
        Ok(Templates { entries })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The request template for `content_type` (absent means application/json), applying
    /// `passthroughBehavior`: Ok(None) passes the body through, Err is a 415.
    pub fn for_request(
        &self,
        content_type: Option<&str>,
        passthrough: Passthrough,
    ) -> Result<Option<&Template>, Failure> {
        let ct = content_type.map(mime_type).unwrap_or("application/json");
        let found = self
            .entries
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(ct))
            .or_else(|| self.entries.iter().find(|(k, _)| k == "$default"));
        match (found, passthrough) {
            (Some((_, t)), _) => Ok(Some(t)),
            (None, Passthrough::Never) => {
                Err(Failure::new(GatewayResponseType::UnsupportedMediaType))
            }
            (None, Passthrough::WhenNoTemplates) if !self.is_empty() => {
                Err(Failure::new(GatewayResponseType::UnsupportedMediaType))
            }
            (None, _) => Ok(None),
        }
    }

    /// The response template for the request's Accept header: its first media type if a
    /// template has it, else application/json, else the first template (by content type). Returns the content
    /// type with it.
    pub fn for_response(&self, accept: Option<&str>) -> Option<(&str, &Template)> {
        let wanted = accept.map(mime_type).filter(|a| !a.is_empty());
        let by = |ct: &str| {
            self.entries
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(ct))
        };
        wanted
            .and_then(by)
            .or_else(|| by("application/json"))
            .or_else(|| self.entries.first())
            .map(|(k, t)| (k.as_str(), t))
    }
}
