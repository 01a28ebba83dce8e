//! Mapping templates (AWS §6): the renderer interface used by the request pipeline.
//!
//! [`Template`] is an Apache Velocity 1.7 template, parsed once at config load
//! (`lexer`, `parser`, `ast`) and rendered per request (`eval`, with Java semantics in
//! `java` and `jregex`) against [`Globals`] that supply `$input`, `$util`, `$context` and
//! `$stageVariables`. Output matches Velocity byte for byte, with null references
//! rendering as empty text as on API Gateway.
//!
//! Gateway response templates are *not* VTL on AWS (simple substitution only), so
//! `crate::responses` uses [`substitute::Substitution`] directly and keeps doing so
//! after `Template` moves to Velocity.

mod ast;
pub mod aws;
mod eval;
mod java;
pub(crate) mod jregex;
pub mod json;
pub mod jsonpath;
mod lexer;
pub mod overrides;
mod parser;
pub mod substitute;
pub mod value;

pub use overrides::Overrides;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

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
    /// Every parameter of one kind ("path" | "querystring" | "header") for `$input.params()`,
    /// one entry per name with the value [`Self::input_param_in`] gives, in request order.
    fn input_params_all(&self, kind: &str) -> Vec<(String, String)> {
        let _ = kind;
        Vec::new()
    }
    /// Every stage variable, for `$stageVariables` as a map.
    fn stage_vars(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// The authorizer's values under `$context.authorizer`, keyed like "principalId",
    /// "claims.sub" or a Lambda authorizer context key.
    fn authorizer_vars(&self) -> Vec<(String, String)> {
        Vec::new()
    }
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
    /// What Velocity reports as an exception: a method that threw, `#parse`/`#include`,
    /// an `#evaluate` of invalid text, an invalid `#break` argument.
    Failed(String),
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenderError::LimitExceeded(what) => write!(f, "template limit exceeded: {what}"),
            RenderError::Failed(why) => write!(f, "template rendering failed: {why}"),
        }
    }
}

/// The predefined root variables of a render (`$input`, `$util`, `$context`, …).
/// Variables the template sets shadow them; values they return are shared, so
/// `#set($context.x.y = …)` changes the map `$context.x` returned.
pub trait Globals {
    fn root(&self, name: &str) -> Option<value::Value>;
}

impl std::error::Error for RenderError {}

/// A mapping template parsed once at config load.
///
/// The template text is used as given: AWS trims request/response mapping templates
/// before rendering (`template.strip()`), so callers that mirror that must trim the
/// source before [`Template::parse`].
#[derive(Debug, Clone)]
pub struct Template {
    program: Arc<Program>,
}

#[derive(Debug)]
struct Program {
    block: ast::Block,
    macros: Vec<Arc<ast::MacroDef>>,
    symbols: ast::Symbols,
    /// What of the request the template can observe.
    uses: aws::Uses,
    /// The output when the template is plain text.
    static_text: Option<String>,
}

impl Template {
    /// Parses `source` as a Velocity 1.7 template. Errors carry the position of the
    /// offending construct.
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        let parsed = parser::parse(source)?;
        let static_text = match &parsed.block.0[..] {
            [] => Some(String::new()),
            [ast::Node::Text(t)] => Some(t.to_string()),
            _ => None,
        };
        let uses = aws::Uses::of(&parsed.block, &parsed.macros);
        Ok(Template {
            program: Arc::new(Program {
                uses,
                block: parsed.block,
                macros: parsed.macros,
                symbols: parsed.symbols,
                static_text,
            }),
        })
    }

    /// Appends the rendered template to `out`, with API Gateway's `$input`, `$util`,
    /// `$context` and `$stageVariables` read from `ctx`. `overrides` carries
    /// `$context.requestOverride`/`responseOverride` in (so a request template's overrides
    /// are visible to the response template) and, after a successful render, out.
    pub fn render(
        &self,
        ctx: &dyn TemplateContext,
        overrides: &mut Overrides,
        out: &mut String,
    ) -> Result<(), RenderError> {
        let globals = aws::AwsGlobals::with_uses(ctx, overrides, &self.program.uses);
        self.render_with(&globals, out)?;
        if let Some(updated) = globals.into_overrides() {
            *overrides = updated;
        }
        Ok(())
    }

    /// Renders the template with `globals` as its root variables, appending to `out`.
    pub fn render_with(&self, globals: &dyn Globals, out: &mut String) -> Result<(), RenderError> {
        let p = &*self.program;
        if let Some(text) = &p.static_text {
            out.push_str(text);
            return Ok(());
        }
        eval::Eval::new(globals, &p.macros, &p.symbols, eval::LIMITS).render_template(&p.block, out)
    }

    /// True if the template renders nothing whatever the context.
    pub fn is_empty(&self) -> bool {
        self.program.static_text.as_deref() == Some("")
    }

    /// The output, if it does not depend on the context (plain text), so callers can
    /// precompute it.
    pub fn static_text(&self) -> Option<&str> {
        self.program.static_text.as_deref()
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
    fn input_params_all(&self, kind: &str) -> Vec<(String, String)> {
        let list = match kind {
            "path" => &self.path,
            "querystring" => &self.query,
            "header" => &self.header,
            _ => return Vec::new(),
        };
        let mut out: Vec<(String, String)> = Vec::new();
        for (k, v) in list {
            if !out.iter().any(|(n, _)| n == k) {
                out.push((k.to_string(), v.to_string()));
            }
        }
        out
    }
    fn stage_vars(&self) -> Vec<(String, String)> {
        self.stage
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
    fn authorizer_vars(&self) -> Vec<(String, String)> {
        self.context
            .iter()
            .filter_map(|(k, v)| {
                let key = k.strip_prefix("authorizer.")?;
                (key != "principalId").then(|| (key.to_string(), v.to_string()))
            })
            .collect()
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
    fn template_renders_velocity_with_globals() {
        struct Roots;
        impl Globals for Roots {
            fn root(&self, name: &str) -> Option<value::Value> {
                (name == "context").then(|| {
                    value::Value::map(vec![("requestId".into(), value::Value::str("r-1"))])
                })
            }
        }
        let t = Template::parse("id=$context.requestId#set($x = 1)\n$!nope").unwrap();
        let mut out = String::new();
        t.render_with(&Roots, &mut out).unwrap();
        assert_eq!(out, "id=r-1");
        assert!(!t.is_empty());
        assert_eq!(t.static_text(), None);
        assert!(Template::parse("").unwrap().is_empty());
        assert_eq!(Template::parse("abc").unwrap().static_text(), Some("abc"));
        let err = Template::parse("x ${context.a").unwrap_err();
        assert_eq!((err.line, err.column), (1, 3));
        let err = Template::parse("a\n  #if($x)b").unwrap_err();
        assert_eq!((err.line, err.column), (2, 3));
        fn shared_across_threads<T: Send + Sync>(_: &T) {}
        shared_across_threads(&t);
    }
}
