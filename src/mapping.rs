//! Parameter mapping expressions (AWS "mapping expressions"): the right-hand side of
//! `integration.request.*`, `method.response.header.*` and `gatewayresponse.header.*` entries.
//! Parsed once at config load into a [`Source`]; evaluated per request against [`Values`].

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
    /// `stageVariables.{name}`
    StageVariable(String),
    /// `context.{path}`
    Context(String),
    /// `integration.response.header.{name}` (`multivalue` joins every value with ',')
    IntegrationHeader { name: String, multivalue: bool },
    /// `integration.response.body`
    IntegrationBody,
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
        }
        Err(bad())
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
        assert!(Source::parse("nonsense", true).is_err());
    }
}
