//! Integration responses: selection by `selectionPattern`, then header mapping and templates
//! (AWS "integration response" → "method response").

use super::binary::{self, ContentHandling};
use super::custom::{internal_error, SpecError};
use super::templates::Templates;
use super::Failure;
use crate::config::model::IntegrationResponse as Spec;
use crate::mapping::{Source, Values};
use crate::path;
use crate::responses::GatewayResponseType;
use crate::vtl::{Overrides, TemplateContext};
use regex::Regex;

/// One compiled integration response.
pub struct IntegrationResponse {
    pub status: u16,
    /// Anchored: AWS matches the whole selector (Java `String.matches`).
    pattern: Option<Regex>,
    parameters: Vec<(String, Source)>,
    templates: Templates,
    content_handling: ContentHandling,
}

/// The integration responses of one integration, in file order.
pub struct IntegrationResponses {
    entries: Vec<IntegrationResponse>,
    default: Option<usize>,
}

/// A response ready to be written: status, headers, content type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// An integration's response as the integration responses see it.
pub struct Payload<'a> {
    pub body: &'a [u8],
    /// Its Content-Type is one of the API's binary media types.
    pub binary: bool,
    /// The client's first Accept type is one of the API's binary media types.
    pub accept_binary: bool,
}

impl IntegrationResponses {
    pub fn compile(specs: &[Spec]) -> Result<IntegrationResponses, SpecError> {
        let mut entries = Vec::with_capacity(specs.len());
        let mut default = None;
        for (i, s) in specs.iter().enumerate() {
            let status = s
                .status_code
                .as_ref()
                .and_then(|c| c.0.parse::<u16>().ok())
                .filter(|c| (100..=599).contains(c))
                .ok_or_else(|| {
                    SpecError::new(
                        path![i, "statusCode"],
                        "statusCode must be an HTTP status code",
                    )
                })?;
            let pattern = match s.selection_pattern.as_deref() {
                None | Some("") => {
                    if default.is_none() {
                        default = Some(i);
                    }
                    None
                }
                // Java's `Pattern.matches`: whole string, `.` stops at line ends.
                Some(p) => Some(crate::vtl::jregex::whole_match(p).map_err(|e| {
                    SpecError::new(
                        path![i, "selectionPattern"],
                        format!("invalid selectionPattern: {e}"),
                    )
                })?),
            };
            let mut parameters = Vec::new();
            for (target, expr) in &s.response_parameters {
                let name = target
                    .strip_prefix("method.response.header.")
                    .ok_or_else(|| {
                        SpecError::new(
                            path![i, "responseParameters", target],
                            format!("invalid response parameter `{target}`"),
                        )
                    })?;
                let src = Source::parse(expr, true)
                    .map_err(|e| SpecError::new(path![i, "responseParameters", target], e))?;
                parameters.push((name.to_string(), src));
            }
            let templates = Templates::compile(&s.response_templates)
                .map_err(|(ct, e)| SpecError::template(path![i, "responseTemplates", ct], &e))?;
            entries.push(IntegrationResponse {
                status,
                pattern,
                parameters,
                templates,
                content_handling: ContentHandling::parse(s.content_handling.as_deref()),
            });
        }
        Ok(IntegrationResponses { entries, default })
    }

    /// The response whose pattern matches `selector` (a status code, or a Lambda
    /// errorMessage), else the default one.
    pub fn select(&self, selector: &str) -> Option<&IntegrationResponse> {
        self.entries
            .iter()
            .find(|e| e.pattern.as_ref().is_some_and(|p| p.is_match(selector)))
            .or_else(|| self.default.map(|i| &self.entries[i]))
    }

    /// Selects and renders the method response for an integration response seen through
    /// `ctx` (whose `$input.body` is the payload as text); with no response template the
    /// payload passes through under `contentHandling`. Overrides set by the templates apply
    /// last. No match and no default is AWS's API_CONFIGURATION_ERROR.
    pub fn respond<C: Values + TemplateContext>(
        &self,
        selector: &str,
        ctx: &C,
        accept: Option<&str>,
        payload: &Payload,
        overrides: &mut Overrides,
    ) -> Result<MethodResponse, Failure> {
        let ir = self
            .select(selector)
            .ok_or_else(|| Failure::new(GatewayResponseType::ApiConfigurationError))?;
        let mut headers = Vec::with_capacity(ir.parameters.len());
        for (name, src) in &ir.parameters {
            if let Some(v) = src.eval(ctx) {
                headers.push((name.clone(), v.into_owned()));
            }
        }
        let (content_type, body) = match ir.templates.for_response(accept) {
            Some((ct, t)) => {
                let mut out = String::new();
                t.render(ctx, overrides, &mut out).map_err(|e| {
                    log::warn!("response template failed: {e}");
                    internal_error()
                })?;
                (ct.to_string(), out.into_bytes())
            }
            None => (
                "application/json".to_string(),
                binary::response_payload(
                    payload.body,
                    payload.binary,
                    payload.accept_binary,
                    ir.content_handling,
                )?
                .into_owned(),
            ),
        };
        let mut response = MethodResponse {
            status: ir.status,
            headers,
            content_type,
            body,
        };
        overrides.apply_to_response(&mut response.status, &mut response.headers);
        Ok(response)
    }
}
