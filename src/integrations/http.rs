//! HTTP_PROXY integrations: where the request goes and which headers change on the way
//! (AWS digest §3.2, §8.2–8.3). Pure: the proxy adapter applies the result.

use crate::config::model::Integration as Spec;
use crate::mapping::{Source, Values};
use crate::router::HttpMethod;
use crate::vtl::Overrides;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

/// Characters kept as they are in a mapped query-string value.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub struct HttpProxy {
    /// None: the client's method (`httpMethod: ANY`).
    pub method: Option<HttpMethod>,
    /// The URI as written, `${stageVariables.x}` not yet substituted.
    pub uri: String,
    pub timeout: Duration,
    pub insecure_skip_verification: bool,
    /// `integration.request.path.X` → source.
    pub path_params: Vec<(String, Source)>,
    pub query_params: Vec<(String, Source)>,
    pub header_params: Vec<(String, Source)>,
    /// A mapping targets Content-Length or Transfer-Encoding: AWS answers every request with 500.
    pub illegal_header_mapping: bool,
}

/// A URI split around its `{name}` placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Param(String),
}

/// The integration endpoint for one stage: stage variables substituted, host parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// The Host header to send (`host` or `host:port` when the port is not the default).
    pub authority: String,
    /// Path and query, with placeholders.
    pub target: Vec<Piece>,
}

impl HttpProxy {
    pub fn compile(spec: &Spec) -> Result<HttpProxy, String> {
        let mut path_params = Vec::new();
        let mut query_params = Vec::new();
        let mut header_params = Vec::new();
        let mut illegal = false;
        for (target, expr) in &spec.request_parameters {
            let src = Source::parse(expr, false)?;
            let rest = target
                .strip_prefix("integration.request.")
                .unwrap_or(target);
            match rest.split_once('.') {
                Some(("path", n)) => path_params.push((n.to_string(), src)),
                Some(("querystring", n)) => query_params.push((n.to_string(), src)),
                Some(("header", n)) => {
                    illegal |= n.eq_ignore_ascii_case("content-length")
                        || n.eq_ignore_ascii_case("transfer-encoding");
                    header_params.push((n.to_string(), src))
                }
                _ => return Err(format!("invalid integration request parameter `{target}`")),
            }
        }
        let uri = spec.uri.clone().unwrap_or_default();
        for p in placeholders(&uri) {
            if !path_params.iter().any(|(n, _)| n == p) {
                return Err(format!(
                    "the URI placeholder {{{p}}} needs a mapping integration.request.path.{p}"
                ));
            }
        }
        Ok(HttpProxy {
            method: spec.http_method.as_deref().and_then(HttpMethod::parse),
            uri,
            timeout: Duration::from_millis(spec.timeout_in_millis.unwrap_or(29_000)),
            insecure_skip_verification: spec
                .tls_config
                .as_ref()
                .is_some_and(|t| t.insecure_skip_verification),
            path_params,
            query_params,
            header_params,
            illegal_header_mapping: illegal,
        })
    }

    /// The endpoint for a stage with `variables`.
    pub fn endpoint(&self, variables: &BTreeMap<String, String>) -> Result<Endpoint, String> {
        let uri = substitute_stage_variables(&self.uri, variables);
        let (tls, rest) = if let Some(r) = uri.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = uri.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(format!("Invalid HTTP endpoint specified for URI: {uri}"));
        };
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at(split);
        let (host, port) = split_host_port(authority, if tls { 443 } else { 80 })
            .ok_or_else(|| format!("Invalid HTTP endpoint specified for URI: {uri}"))?;
        if host.contains('{') {
            return Err(format!(
                "the host of `{uri}` must not depend on the request"
            ));
        }
        let target = if target.is_empty() || target.starts_with('?') {
            format!("/{target}")
        } else {
            target.to_string()
        };
        Ok(Endpoint {
            tls,
            host: host.to_string(),
            port,
            authority: authority.to_string(),
            target: split_pieces(&target),
        })
    }

    /// Builds the upstream request target: the endpoint's path and query with placeholders
    /// filled, then the client's query string, then mapped query parameters (AWS appends them).
    /// Template overrides (non-proxy integrations) replace path and query values.
    pub fn upstream_target(
        &self,
        ep: &Endpoint,
        client_query: Option<&str>,
        v: &dyn Values,
        overrides: Option<&Overrides>,
    ) -> String {
        let mut out = String::with_capacity(64);
        for piece in &ep.target {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Param(name) => {
                    let value = match overrides.and_then(|o| o.path(name)) {
                        Some(o) => Some(Cow::Borrowed(o)),
                        None => self
                            .path_params
                            .iter()
                            .find(|(n, _)| n == name)
                            .and_then(|(_, s)| s.eval(v)),
                    };
                    if let Some(value) = value {
                        push_target_safe(&mut out, &value);
                    }
                }
            }
        }
        let mut has_query = out.contains('?');
        let mut push_sep = |out: &mut String| {
            out.push(if has_query { '&' } else { '?' });
            has_query = true;
        };
        if let Some(q) = client_query.filter(|q| !q.is_empty()) {
            if out.ends_with('?') {
                out.push_str(q);
            } else {
                push_sep(&mut out);
                out.push_str(q);
            }
        }
        let query_overrides = overrides.map_or(&[][..], |o| &o.request_querystring[..]);
        let mut push_param = |out: &mut String, name: &str, value: &str| {
            push_sep(out);
            out.extend(utf8_percent_encode(name, QUERY_VALUE));
            out.push('=');
            out.extend(utf8_percent_encode(value, QUERY_VALUE));
        };
        for (name, src) in &self.query_params {
            if query_overrides.iter().any(|(n, _)| n == name) {
                continue;
            }
            for value in src.eval_query(v) {
                push_param(&mut out, name, &value);
            }
        }
        for (name, values) in query_overrides {
            values
                .iter()
                .for_each(|one| push_param(&mut out, name, one));
        }
        out
    }

    /// Whether any request parameter is mapped (path, query string or header).
    pub fn maps_anything(&self) -> bool {
        !(self.path_params.is_empty()
            && self.query_params.is_empty()
            && self.header_params.is_empty())
    }

    /// Mapped headers to set on the upstream request (they replace the client's).
    pub fn mapped_headers<'a>(
        &'a self,
        v: &'a dyn Values,
    ) -> impl Iterator<Item = (&'a str, String)> + 'a {
        self.header_params.iter().filter_map(move |(name, src)| {
            src.eval(v)
                .filter(|x| !x.is_empty())
                .map(|x| (name.as_str(), x.into_owned()))
        })
    }
}

/// Appends a mapped value to a request target. Mapped query values arrive decoded, so bytes
/// that would end the request line or split the head (controls, space, DEL) are
/// percent-encoded; everything else is kept as the client sent it.
fn push_target_safe(out: &mut String, value: &str) {
    for c in value.chars() {
        if c <= ' ' || c == '\x7f' {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
}

/// Client request headers that never reach an HTTP_PROXY backend (besides the hop-by-hop ones
/// the proxy drops itself).
pub const DROPPED_REQUEST_HEADERS: &[&str] = &[
    "content-md5",
    "expect",
    "max-forwards",
    "proxy-authenticate",
    "server",
    "trailer",
    "upgrade",
    "via",
    "www-authenticate",
];

/// Backend response headers API Gateway renames to `x-amzn-Remapped-<name>` because it emits
/// its own (HTTP_PROXY).
pub const REMAPPED_RESPONSE_HEADERS: &[(&str, &str)] = &[
    ("connection", "x-amzn-Remapped-connection"),
    ("content-length", "x-amzn-Remapped-content-length"),
    ("date", "x-amzn-Remapped-date"),
    ("server", "x-amzn-Remapped-server"),
    ("x-amzn-requestid", "x-amzn-Remapped-x-amzn-RequestId"),
];

/// Backend response headers API Gateway drops (HTTP_PROXY).
pub const DROPPED_RESPONSE_HEADERS: &[&str] = &["via"];

/// Method response header names (non-proxy integrations) emitted as `x-amzn-Remapped-<name>`.
pub const REMAPPED_METHOD_RESPONSE_HEADERS: &[&str] = &[
    "authorization",
    "connection",
    "content-length",
    "content-md5",
    "date",
    "expect",
    "host",
    "max-forwards",
    "proxy-authenticate",
    "server",
    "trailer",
    "upgrade",
    "user-agent",
    "www-authenticate",
];

/// Replaces every `${stageVariables.x}`; an undefined variable becomes "" (as AWS does).
pub fn substitute_stage_variables(s: &str, vars: &BTreeMap<String, String>) -> String {
    let value = |name: &str| Ok::<_, Infallible>(vars.get(name).map_or("", String::as_str));
    match replace_stage_variables(s, value) {
        Ok(out) => out,
        Err(never) => match never {},
    }
}

/// Replaces every `${stageVariables.NAME}` by `value(NAME)`, stopping at its first error;
/// an unclosed reference stays as written.
pub(super) fn replace_stage_variables<'v, E>(
    s: &str,
    mut value: impl FnMut(&str) -> Result<&'v str, E>,
) -> Result<String, E> {
    const OPEN: &str = "${stageVariables.";
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(OPEN) {
        out.push_str(&rest[..i]);
        let after = &rest[i + OPEN.len()..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[i..]);
            return Ok(out);
        };
        out.push_str(value(&after[..end])?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn placeholders(uri: &str) -> impl Iterator<Item = &str> {
    split_pieces_ref(uri).into_iter().filter_map(|p| match p {
        (true, name) => Some(name),
        _ => None,
    })
}

/// (is_placeholder, text) pieces; `${...}` stage variable forms are text.
fn split_pieces_ref(s: &str) -> Vec<(bool, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'{' && (i == 0 || b[i - 1] != b'$') {
            if let Some(end) = s[i..].find('}') {
                if start < i {
                    out.push((false, &s[start..i]));
                }
                out.push((true, &s[i + 1..i + end]));
                i += end + 1;
                start = i;
                continue;
            }
        }
        i += 1;
    }
    if start < s.len() {
        out.push((false, &s[start..]));
    }
    out
}

/// `s` split around its `{name}` placeholders.
pub(super) fn split_pieces(s: &str) -> Vec<Piece> {
    split_pieces_ref(s)
        .into_iter()
        .map(|(p, t)| {
            if p {
                Piece::Param(t.to_string())
            } else {
                Piece::Text(t.to_string())
            }
        })
        .collect()
}

fn split_host_port(authority: &str, default: u16) -> Option<(&str, u16)> {
    if authority.is_empty() {
        return None;
    }
    if let Some(v6) = authority.strip_prefix('[') {
        let (h, rest) = v6.split_once(']')?;
        let port = match rest.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if rest.is_empty() => default,
            None => return None,
        };
        return Some((h, port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Some((h, p.parse().ok()?)),
        None => Some((authority, default)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::{Location, TestParams};
    use std::borrow::Cow;

    fn v() -> TestParams {
        TestParams(vec![
            (Location::Path, "pathVariable", "foobar"),
            (Location::QueryString, "testVar", "bar"),
            (Location::QueryString, "testQueryString", "foo"),
            (Location::Header, "foobar", "mapped-value"),
        ])
    }

    /// AWS-recorded TV-18: URI placeholders in the query, client query kept, mapped query
    /// parameters appended, empty mappings not sent.
    #[test]
    fn http_proxy_request_mapping_merge() {
        let spec: Spec = serde_yaml::from_str(
            r#"
type: HTTP_PROXY
httpMethod: POST
uri: "http://127.0.0.1:9/echo?testVar={pathVar}&testQs={qsVar}"
requestParameters:
  integration.request.header.headerVar: method.request.header.foobar
  integration.request.path.qsVar: method.request.querystring.testVar
  integration.request.path.pathVar: method.request.path.pathVariable
  integration.request.querystring.queryString: method.request.querystring.testQueryString
  integration.request.querystring.testQs: method.request.querystring.testQueryString
  integration.request.querystring.testEmptyQs: method.request.header.emptyheader
"#,
        )
        .unwrap();
        let p = HttpProxy::compile(&spec).unwrap();
        let ep = p.endpoint(&BTreeMap::new()).unwrap();
        assert_eq!(ep.authority, "127.0.0.1:9");
        let t = p.upstream_target(&ep, Some("testQueryString=foo&testVar=bar"), &v(), None);
        assert_eq!(
            t,
            "/echo?testVar=foobar&testQs=bar&testQueryString=foo&testVar=bar&queryString=foo&testQs=foo"
        );
        let values = v();
        let h: Vec<_> = p.mapped_headers(&values).collect();
        assert_eq!(h, vec![("headerVar", "mapped-value".to_string())]);
    }

    /// Without mappings the target is the endpoint's with the client's query, whatever the
    /// request holds; any one mapping makes the request's values needed.
    #[test]
    fn an_unmapped_proxy_needs_no_request_values() {
        let compile = |extra: &str| {
            let spec: Spec = serde_yaml::from_str(&format!(
                "type: HTTP_PROXY\nuri: \"http://127.0.0.1:9/a?x=1\"\n{extra}"
            ))
            .unwrap();
            HttpProxy::compile(&spec).unwrap()
        };
        let plain = compile("");
        assert!(!plain.maps_anything());
        let ep = plain.endpoint(&BTreeMap::new()).unwrap();
        let q = Some("testVar=bar");
        let unmapped = plain.upstream_target(&ep, q, &crate::mapping::NoValues, None);
        assert_eq!(unmapped, plain.upstream_target(&ep, q, &v(), None));
        assert_eq!(unmapped, "/a?x=1&testVar=bar");
        for mapping in [
            "integration.request.header.h: method.request.header.foobar",
            "integration.request.querystring.q: method.request.querystring.testVar",
            "integration.request.path.p: method.request.path.pathVariable",
        ] {
            let mapped = compile(&format!("requestParameters:\n  {mapping}\n"));
            assert!(mapped.maps_anything(), "{mapping}");
        }
    }

    #[test]
    fn mapped_values_cannot_break_the_request_line() {
        struct Evil;
        impl Values for Evil {
            fn request_param(&self, _: Location, _: &str) -> Option<Cow<'_, str>> {
                Some("a b\r\nX-Injected: yes".into())
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
        let spec: Spec = serde_yaml::from_str(
            "{type: HTTP_PROXY, httpMethod: ANY, uri: \"http://h/{p}\", requestParameters: {integration.request.path.p: method.request.querystring.q}}",
        )
        .unwrap();
        let p = HttpProxy::compile(&spec).unwrap();
        let ep = p.endpoint(&BTreeMap::new()).unwrap();
        assert_eq!(
            p.upstream_target(&ep, None, &Evil, None),
            "/a%20b%0D%0AX-Injected:%20yes"
        );
    }

    #[test]
    fn endpoints_and_stage_variables() {
        let mut vars = BTreeMap::new();
        vars.insert("backend".to_string(), "example.com:8443".to_string());
        let spec: Spec = serde_yaml::from_str(
            "{type: HTTP_PROXY, httpMethod: ANY, uri: \"https://${stageVariables.backend}\"}",
        )
        .unwrap();
        let p = HttpProxy::compile(&spec).unwrap();
        let ep = p.endpoint(&vars).unwrap();
        assert!(ep.tls);
        assert_eq!((ep.host.as_str(), ep.port), ("example.com", 8443));
        assert_eq!(ep.target, vec![Piece::Text("/".into())]);
        assert_eq!(
            substitute_stage_variables("a${stageVariables.x}b", &BTreeMap::new()),
            "ab"
        );
    }

    #[test]
    fn unmapped_placeholder_is_an_error() {
        let spec: Spec =
            serde_yaml::from_str("{type: HTTP_PROXY, httpMethod: ANY, uri: \"http://h/{proxy}\"}")
                .unwrap();
        assert!(HttpProxy::compile(&spec)
            .err()
            .unwrap()
            .contains("integration.request.path.proxy"));
    }
}
