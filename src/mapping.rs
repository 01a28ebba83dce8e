//! Parameter mapping expressions (AWS "mapping expressions"): the right-hand side of
//! `integration.request.*`, `method.response.header.*` and `gatewayresponse.header.*` entries.
//! Parsed once at config load into a [`Source`]; evaluated per request against [`Values`].

use crate::vtl::json;
use crate::vtl::jsonpath::JsonPath;
use crate::vtl::value::Value as VtlValue;
use std::borrow::Cow;

/// Where a method request parameter comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    Path,
    QueryString,
    Header,
    MultiValueQueryString,
    MultiValueHeader,
}

impl Location {
    pub fn parse(s: &str) -> Option<Location> {
        Some(match s {
            "path" => Location::Path,
            "querystring" => Location::QueryString,
            "header" => Location::Header,
            "multivaluequerystring" => Location::MultiValueQueryString,
            "multivalueheader" => Location::MultiValueHeader,
            _ => return None,
        })
    }
}

/// A compiled mapping expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `'literal'`
    Static(String),
    /// `method.request.{location}.{name}`
    Request(Location, String),
    /// `method.request.body`
    RequestBody,
    /// `method.request.body.<JSONPath without $.>`
    RequestBodyPath(BodyPath),
    /// `stageVariables.{name}`
    StageVariable(String),
    /// `context.{path}`
    Context(String),
    /// `integration.response.header.{name}` (`multivalue` joins every value with ',')
    IntegrationHeader { name: String, multivalue: bool },
    /// `integration.response.body`
    IntegrationBody,
    /// `integration.response.body.<JSONPath without $.>`
    IntegrationBodyPath(BodyPath),
}

/// A JSONPath into a JSON body, written without its leading `$.`
/// (`method.request.body.petstore.pets[0].name`), compiled at load.
#[derive(Debug, Clone)]
pub struct BodyPath {
    text: String,
    path: JsonPath,
}

impl PartialEq for BodyPath {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for BodyPath {}

impl BodyPath {
    fn compile(text: &str, expr: &str) -> Result<BodyPath, String> {
        let path = JsonPath::compile(&format!("$.{text}"))
            .map_err(|e| format!("Invalid mapping expression specified: {expr}: {e:?}"))?;
        Ok(BodyPath {
            text: text.to_string(),
            path,
        })
    }

    /// The value at the path: a string as itself, anything else as JSON; None when the body
    /// is not JSON or the path finds nothing.
    fn eval(&self, body: &str) -> Option<String> {
        let root = json::parse(body).ok()?;
        match self.path.read(&root).ok()? {
            VtlValue::Null => None,
            VtlValue::Str(s) => Some(s.to_string()),
            v => Some(json::to_string(&v)),
        }
    }
}

impl Source {
    /// Parses a mapping expression. `response` allows `integration.response.*` sources.
    pub fn parse(expr: &str, response: bool) -> Result<Source, String> {
        let bad = || format!("Invalid mapping expression specified: {expr}");
        if expr.len() >= 2 && expr.starts_with('\'') && expr.ends_with('\'') {
            return Ok(Source::Static(expr[1..expr.len() - 1].to_string()));
        }
        if let Some(rest) = expr.strip_prefix("method.request.") {
            if rest == "body" {
                return Ok(Source::RequestBody);
            }
            if let Some(path) = rest.strip_prefix("body.") {
                return BodyPath::compile(path, expr).map(Source::RequestBodyPath);
            }
            let (loc, name) = rest.split_once('.').ok_or_else(bad)?;
            let loc = Location::parse(loc).ok_or_else(bad)?;
            if name.is_empty() {
                return Err(bad());
            }
            return Ok(Source::Request(loc, name.to_string()));
        }
        if let Some(name) = expr.strip_prefix("stageVariables.") {
            return Ok(Source::StageVariable(name.to_string()));
        }
        if let Some(path) = expr.strip_prefix("context.") {
            return Ok(Source::Context(path.to_string()));
        }
        if response {
            if let Some(name) = expr.strip_prefix("integration.response.header.") {
                return Ok(Source::IntegrationHeader {
                    name: name.to_string(),
                    multivalue: false,
                });
            }
            if let Some(name) = expr.strip_prefix("integration.response.multivalueheader.") {
                return Ok(Source::IntegrationHeader {
                    name: name.to_string(),
                    multivalue: true,
                });
            }
            if expr == "integration.response.body" {
                return Ok(Source::IntegrationBody);
            }
            if let Some(path) = expr.strip_prefix("integration.response.body.") {
                return BodyPath::compile(path, expr).map(Source::IntegrationBodyPath);
            }
        }
        Err(bad())
    }

    /// Every value of a source mapped onto a query string: one per occurrence for
    /// `method.request.multivaluequerystring.*`, else [`Self::eval`]'s (empty: not mapped).
    pub fn eval_query<'a>(&'a self, v: &'a dyn Values) -> Vec<Cow<'a, str>> {
        let values = match self {
            Source::Request(Location::MultiValueQueryString, name) => v.query_param_values(name),
            _ => self.eval(v).into_iter().collect(),
        };
        if values.iter().all(|x| x.is_empty()) {
            return Vec::new();
        }
        values
    }

    /// The value, or None when the source is absent (an absent value is not mapped).
    pub fn eval<'a>(&'a self, v: &'a dyn Values) -> Option<Cow<'a, str>> {
        match self {
            Source::Static(s) => Some(Cow::Borrowed(s)),
            Source::Request(loc, name) => v.request_param(*loc, name),
            Source::RequestBody => Some(Cow::Borrowed(v.request_body())),
            Source::StageVariable(n) => v.stage_variable(n).map(Cow::Borrowed),
            Source::Context(p) => v.context_variable(p),
            Source::IntegrationHeader { name, multivalue } => {
                v.integration_header(name, *multivalue)
            }
            Source::IntegrationBody => v.integration_body().map(Cow::Borrowed),
            Source::RequestBodyPath(p) => p.eval(v.request_body()).map(Cow::Owned),
            Source::IntegrationBodyPath(p) => {
                v.integration_body().and_then(|b| p.eval(b)).map(Cow::Owned)
            }
        }
    }
}

/// What a mapping expression can read, implemented by the request pipeline.
pub trait Values {
    /// Method request parameter; multi-value locations join values with ','.
    fn request_param(&self, loc: Location, name: &str) -> Option<Cow<'_, str>>;
    fn request_body(&self) -> &str;
    fn stage_variable(&self, name: &str) -> Option<&str>;
    fn context_variable(&self, path: &str) -> Option<Cow<'_, str>>;
    fn integration_header(&self, _name: &str, _multivalue: bool) -> Option<Cow<'_, str>> {
        None
    }
    fn integration_body(&self) -> Option<&str> {
        None
    }
    /// Every value of a query parameter in request order, for `multivaluequerystring`
    /// mapped onto a query string (each value is sent on its own, commas and all).
    fn query_param_values(&self, name: &str) -> Vec<Cow<'_, str>> {
        self.request_param(Location::MultiValueQueryString, name)
            .map(|v| v.split(',').map(|s| Cow::Owned(s.to_string())).collect())
            .unwrap_or_default()
    }
}

/// Values for a request whose integration maps nothing: nothing to read, so no request view
/// is built.
pub struct NoValues;

impl Values for NoValues {
    fn request_param(&self, _loc: Location, _name: &str) -> Option<Cow<'_, str>> {
        None
    }
    fn request_body(&self) -> &str {
        ""
    }
    fn stage_variable(&self, _name: &str) -> Option<&str> {
        None
    }
    fn context_variable(&self, _path: &str) -> Option<Cow<'_, str>> {
        None
    }
}

/// Request values for unit tests: the given method request parameters, nothing else.
#[cfg(test)]
pub(crate) struct TestParams(pub Vec<(Location, &'static str, &'static str)>);

#[cfg(test)]
impl Values for TestParams {
    fn request_param(&self, loc: Location, name: &str) -> Option<Cow<'_, str>> {
        self.0
            .iter()
            .find(|(l, n, _)| *l == loc && *n == name)
            .map(|(_, _, v)| Cow::Borrowed(*v))
    }
    fn request_body(&self) -> &str {
        ""
    }
    fn stage_variable(&self, _: &str) -> Option<&str> {
        None
    }
    fn context_variable(&self, _: &str) -> Option<Cow<'_, str>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(Source::parse("'*'", false), Ok(Source::Static("*".into())));
        assert_eq!(
            Source::parse("method.request.path.petId", false),
            Ok(Source::Request(Location::Path, "petId".into()))
        );
        assert_eq!(
            Source::parse("method.request.multivalueheader.x", false),
            Ok(Source::Request(Location::MultiValueHeader, "x".into()))
        );
        assert_eq!(
            Source::parse("method.request.body", false),
            Ok(Source::RequestBody)
        );
        assert_eq!(
            Source::parse("context.identity.sourceIp", false),
            Ok(Source::Context("identity.sourceIp".into()))
        );
        assert!(Source::parse("integration.response.body", false).is_err());
        assert_eq!(
            Source::parse("integration.response.body", true),
            Ok(Source::IntegrationBody)
        );
        assert!(Source::parse("method.request.cookie.x", false).is_err());
        assert!(matches!(
            Source::parse("method.request.body.pets[0].name", false),
            Ok(Source::RequestBodyPath(_))
        ));
        assert!(matches!(
            Source::parse("integration.response.body.redirect.url", true),
            Ok(Source::IntegrationBodyPath(_))
        ));
        assert!(Source::parse("integration.response.body.x", false).is_err());
        assert!(Source::parse("nonsense", true).is_err());
    }

    struct Bodies(&'static str, &'static str);

    impl Values for Bodies {
        fn request_param(&self, _: Location, _: &str) -> Option<Cow<'_, str>> {
            None
        }
        fn request_body(&self) -> &str {
            self.0
        }
        fn stage_variable(&self, _: &str) -> Option<&str> {
            None
        }
        fn context_variable(&self, _: &str) -> Option<Cow<'_, str>> {
            None
        }
        fn integration_body(&self) -> Option<&str> {
            Some(self.1)
        }
    }

    #[test]
    fn body_paths_read_json_bodies() {
        let v = Bodies(
            r#"{"petstore": {"pets": [{"name": "rex", "tags": ["a", "b"]}]}}"#,
            r#"{"redirect": {"url": "https://example.com/x", "code": 302}}"#,
        );
        let eval = |expr: &str| {
            Source::parse(expr, true)
                .unwrap()
                .eval(&v)
                .map(|c| c.into_owned())
        };
        assert_eq!(
            eval("method.request.body.petstore.pets[0].name").as_deref(),
            Some("rex")
        );
        assert_eq!(
            eval("method.request.body.petstore.pets[0].tags").as_deref(),
            Some(r#"["a","b"]"#)
        );
        assert_eq!(eval("method.request.body.nope"), None);
        assert_eq!(
            eval("integration.response.body.redirect.url").as_deref(),
            Some("https://example.com/x")
        );
        assert_eq!(
            eval("integration.response.body.redirect.code").as_deref(),
            Some("302")
        );
        let not_json = Bodies("plain text", "");
        let src = Source::parse("method.request.body.a", false).unwrap();
        assert_eq!(src.eval(&not_json), None);
    }
}
