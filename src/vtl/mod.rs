//! Mapping templates (AWS §6): the renderer interface used by the request pipeline.
//!
//! [`Template`] is parsed once at config load and rendered per request against a
//! [`TemplateContext`]. Today it is backed by [`substitute`], which handles plain
//! `$context`/`$stageVariables`/`$input` references only; a full Apache Velocity engine
//! will later replace the implementation behind the same interface.
//!
//! Gateway response templates are *not* VTL on AWS (simple substitution only), so
//! `crate::responses` uses [`substitute::Substitution`] directly and keeps doing so
//! after `Template` moves to Velocity.

pub mod overrides;
pub mod substitute;

pub use overrides::Overrides;

use std::borrow::Cow;
use std::fmt;

/// What a template can read. Implemented by the request pipeline.
///
/// Every lookup returns `None` for "unknown / null"; templates render that as empty text.
pub trait TemplateContext {
    /// `$context.<path>`, e.g. path = "requestId", "identity.sourceIp",
    /// "error.messageString", "authorizer.claims.sub". None = unknown/null.
    fn context_var(&self, path: &str) -> Option<Cow<'_, str>>;
    /// `$stageVariables.<name>`
    fn stage_var(&self, name: &str) -> Option<&str>;
    /// `$input.params('<name>')`: path, then query string, then header (AWS order).
    /// None if absent.
    fn input_param(&self, name: &str) -> Option<Cow<'_, str>>;
    /// `$input.params().<kind>.<name>` with kind "path" | "querystring" | "header".
    fn input_param_in(&self, kind: &str, name: &str) -> Option<Cow<'_, str>>;
    /// `$input.body` (raw body as text). AWS renders an empty body as `{}`; that mapping
    /// is the implementor's job.
    fn input_body(&self) -> &str;
}

/// A template parse error. `line` and `column` are 1-based positions inside the template
/// text (column counted in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl TemplateError {
    /// An error at byte offset `at` of `source`.
    pub(crate) fn at(source: &str, at: usize, message: impl Into<String>) -> Self {
        let at = at.min(source.len());
        let before = source.get(..at).unwrap_or(source);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        TemplateError {
            line,
            column,
            message: message.into(),
        }
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "template error at line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for TemplateError {}

/// Why a template could not be rendered (AWS answers 500).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderError {
    /// A limit that keeps a runaway template from holding a worker.
    LimitExceeded(&'static str),
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenderError::LimitExceeded(what) => write!(f, "template limit exceeded: {what}"),
        }
    }
}

impl std::error::Error for RenderError {}

/// A mapping template parsed once at config load.
///
/// The template text is used as given: AWS trims request/response mapping templates
/// before rendering (`template.strip()`), so callers that mirror that must trim the
/// source before [`Template::parse`].
#[derive(Debug, Clone)]
pub struct Template {
    inner: substitute::Substitution,
}

impl Template {
    /// Parses `source`. Errors carry the position of the offending construct.
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        substitute::Substitution::parse(source).map(|inner| Template { inner })
    }

    /// Appends the rendered template to `out`; `overrides` carries
    /// `$context.requestOverride`/`responseOverride` in and out.
    pub fn render(
        &self,
        ctx: &dyn TemplateContext,
        _overrides: &mut Overrides,
        out: &mut String,
    ) -> Result<(), RenderError> {
        self.inner.render(ctx, out);
        Ok(())
    }

    /// True if the template renders nothing whatever the context.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// The output, if it does not depend on the context (no references), so callers can
    /// precompute it.
    pub fn static_text(&self) -> Option<&str> {
        self.inner.static_text()
    }
}

/// A map-backed [`TemplateContext`] for unit tests.
#[cfg(test)]
#[derive(Default)]
pub(crate) struct TestContext {
    pub context: Vec<(&'static str, &'static str)>,
    pub stage: Vec<(&'static str, &'static str)>,
    pub path: Vec<(&'static str, &'static str)>,
    pub query: Vec<(&'static str, &'static str)>,
    pub header: Vec<(&'static str, &'static str)>,
    pub body: &'static str,
}

#[cfg(test)]
impl TestContext {
    fn find<'a>(list: &'a [(&'static str, &'static str)], name: &str) -> Option<&'a str> {
        list.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }
}

#[cfg(test)]
impl TemplateContext for TestContext {
    fn context_var(&self, path: &str) -> Option<Cow<'_, str>> {
        Self::find(&self.context, path).map(Cow::Borrowed)
    }
    fn stage_var(&self, name: &str) -> Option<&str> {
        Self::find(&self.stage, name)
    }
    fn input_param(&self, name: &str) -> Option<Cow<'_, str>> {
        Self::find(&self.path, name)
            .or_else(|| Self::find(&self.query, name))
            .or_else(|| {
                self.header
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| *v)
            })
            .map(Cow::Borrowed)
    }
    fn input_param_in(&self, kind: &str, name: &str) -> Option<Cow<'_, str>> {
        match kind {
            "path" => Self::find(&self.path, name),
            "querystring" => Self::find(&self.query, name),
            "header" => self
                .header
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v),
            _ => None,
        }
        .map(Cow::Borrowed)
    }
    fn input_body(&self) -> &str {
        self.body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_position_is_one_based_in_chars() {
        let src = "ab\ncé${x";
        let e = TemplateError::at(src, src.find('$').unwrap_or(0), "boom");
        assert_eq!((e.line, e.column), (2, 3));
        assert_eq!(
            e.to_string(),
            "template error at line 2, column 3: boom".to_string()
        );
        let e = TemplateError::at("", 0, "x");
        assert_eq!((e.line, e.column), (1, 1));
    }

    #[test]
    fn template_delegates_to_substitution() {
        let t = Template::parse("id=$context.requestId").unwrap();
        let ctx = TestContext {
            context: vec![("requestId", "r-1")],
            ..Default::default()
        };
        let mut out = String::new();
        t.render(&ctx, &mut Overrides::default(), &mut out).unwrap();
        assert_eq!(out, "id=r-1");
        assert!(!t.is_empty());
        assert_eq!(t.static_text(), None);
        assert!(Template::parse("").unwrap().is_empty());
        assert_eq!(Template::parse("abc").unwrap().static_text(), Some("abc"));
        let err = Template::parse("x ${context.a").unwrap_err();
        assert_eq!((err.line, err.column), (1, 3));
    }
}
