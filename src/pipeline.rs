//! The request pipeline's policy steps as plain functions over a request view: what a mapping
//! expression or template can read, and method request parameter validation. Nothing here
//! touches sockets; the proxy adapter builds a [`RequestView`] over the client's session.

use crate::compile::{Method, RestApi, Snapshot, Stage};
use crate::ids::{ExtendedRequestId, RequestId};
use crate::integrations::Failure;
use crate::mapping::{Location, Values};
use crate::responses::GatewayResponseType;
use crate::utc::DateTime;
use crate::vtl::TemplateContext;
use http::HeaderMap;
use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// Facts about the request that are fixed once it has been read.
pub struct RequestInfo {
    pub request_id: RequestId,
    pub extended_request_id: ExtendedRequestId,
    pub start: SystemTime,
    pub source_ip: Option<std::net::IpAddr>,
    /// `X-Amzn-Trace-Id`, made on first use.
    trace_id: OnceLock<String>,
    /// `$context.awsEndpointRequestId`: the request id of the AWS service or Lambda call.
    aws_endpoint_request_id: OnceLock<String>,
    /// `$context.identity.*` as access control and the API key step establish it.
    pub identity: CallerIdentity,
    /// `$context.authorizer.*` when an authorizer ran, in order: `principalId`, context keys,
    /// `claims.<name>`. Every value is a string, as AWS passes them.
    pub authorizer: Option<AuthorizerValues>,
    /// A Lambda authorizer's `usageIdentifierKey`: the API key when `apiKeySource` is
    /// `AUTHORIZER`.
    pub usage_identifier_key: Option<String>,
    /// The caller may refresh a cached response with `Cache-Control: max-age=0`
    /// (`execute-api:InvalidateCache` allowed).
    pub may_invalidate_cache: bool,
}

/// `$context.authorizer.*` values, shared with the authorizer's cache (a cached grant costs a
/// reference count, not a copy).
pub type AuthorizerValues = Arc<[(String, String)]>;

/// `$context.identity` values beyond `sourceIp` and `userAgent`; None is JSON `null`. An IAM
/// caller's values are shared with its compiled user.
#[derive(Debug, Clone, Default)]
pub struct CallerIdentity {
    pub access_key: Option<Arc<str>>,
    pub account_id: Option<Arc<str>>,
    pub api_key: Option<String>,
    pub api_key_id: Option<String>,
    pub caller: Option<Arc<str>>,
    pub cognito_authentication_provider: Option<String>,
    pub cognito_authentication_type: Option<String>,
    pub cognito_identity_id: Option<String>,
    pub cognito_identity_pool_id: Option<String>,
    pub principal_org_id: Option<String>,
    pub user: Option<Arc<str>>,
    pub user_arn: Option<Arc<str>>,
}

impl CallerIdentity {
    /// The value of `$context.identity.<name>` for the names held here.
    pub fn get(&self, name: &str) -> Option<&str> {
        match name {
            "accessKey" => self.access_key.as_deref(),
            "accountId" => self.account_id.as_deref(),
            "apiKey" => self.api_key.as_deref(),
            "apiKeyId" => self.api_key_id.as_deref(),
            "caller" => self.caller.as_deref(),
            "cognitoAuthenticationProvider" => self.cognito_authentication_provider.as_deref(),
            "cognitoAuthenticationType" => self.cognito_authentication_type.as_deref(),
            "cognitoIdentityId" => self.cognito_identity_id.as_deref(),
            "cognitoIdentityPoolId" => self.cognito_identity_pool_id.as_deref(),
            "principalOrgId" => self.principal_org_id.as_deref(),
            "user" => self.user.as_deref(),
            "userArn" => self.user_arn.as_deref(),
            _ => None,
        }
    }
}

impl RequestInfo {
    /// A request that arrived at `start`, with fresh ids.
    pub fn new(start: SystemTime) -> RequestInfo {
        RequestInfo {
            request_id: crate::ids::request_id(),
            extended_request_id: crate::ids::extended_request_id(),
            start,
            source_ip: None,
            trace_id: OnceLock::new(),
            aws_endpoint_request_id: OnceLock::new(),
            identity: CallerIdentity::default(),
            authorizer: None,
            usage_identifier_key: None,
            may_invalidate_cache: false,
        }
    }

    /// Records the request id the AWS endpoint (a service or Lambda) gave the integration
    /// call.
    pub fn set_aws_endpoint_request_id(&self, id: &str) {
        if !id.is_empty() {
            let _ = self.aws_endpoint_request_id.set(id.to_string());
        }
    }

    /// `X-Amzn-Trace-Id` for the integration request and, where AWS returns it, the
    /// response: the client's when [`Self::adopt_trace_id`] took one, else one made from the
    /// request's time. The same value for the whole request.
    pub fn trace_id(&self) -> &str {
        self.trace_id.get_or_init(|| {
            let secs = self
                .start
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            crate::ids::trace_id(secs)
        })
    }

    /// Propagates the client's `X-Amzn-Trace-Id` (before the first [`Self::trace_id`]).
    pub fn adopt_trace_id(&self, client: &str) {
        let _ = self.trace_id.set(client.to_string());
    }

    /// `X-Forwarded-For` for the integration: the client's chain, then the client itself.
    pub fn forwarded_for(&self, chain: Option<&str>) -> String {
        let chain = chain.filter(|c| !c.is_empty());
        let mut out = String::with_capacity(chain.map_or(0, |c| c.len() + 2) + 39);
        if let Some(prev) = chain {
            out.push_str(prev);
            out.push_str(", ");
        }
        match self.source_ip {
            // Written by hand: `Display` for addresses goes through the padding-aware
            // formatter, several times the cost.
            Some(std::net::IpAddr::V4(v4)) => {
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        out.push('.');
                    }
                    if octet >= 100 {
                        out.push(char::from(b'0' + octet / 100));
                    }
                    if octet >= 10 {
                        out.push(char::from(b'0' + octet / 10 % 10));
                    }
                    out.push(char::from(b'0' + octet % 10));
                }
            }
            Some(ip) => out.push_str(&ip.to_string()),
            None => {}
        }
        out
    }
}

/// The request target split into path and query string.
pub fn split_query(target: &str) -> (&str, Option<&str>) {
    match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    }
}

/// What happened to the request, for `$context` in access logs.
#[derive(Default)]
pub struct Outcome {
    pub status: u16,
    pub response_length: u64,
    pub response_latency_ms: Option<u64>,
    pub integration_latency_ms: Option<u64>,
    pub integration_status: Option<u16>,
    pub error: Option<Failure>,
    /// `x-amzn-ErrorType` when it is not the gateway response type's own (SigV4 errors
    /// share INVALID_SIGNATURE but name their exception).
    pub error_type: Option<&'static str>,
}

/// Where in the snapshot the request landed (as far as it got).
#[derive(Clone, Copy, Default)]
pub struct Landing<'a> {
    pub api: Option<&'a RestApi>,
    pub stage: Option<&'a Stage>,
    pub method: Option<&'a Method>,
}

/// Client headers API Gateway drops when it reads the request (§3.6): they never reach
/// mapping expressions, templates or integrations (`keep-alive`, `proxy-connection` and
/// `http2-settings` are hop-by-hop as well).
pub const UNSEEN_REQUEST_HEADERS: &[&str] = &[
    "connection",
    "content-length",
    "content-md5",
    "expect",
    "http2-settings",
    "keep-alive",
    "max-forwards",
    "proxy-authenticate",
    "proxy-connection",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "www-authenticate",
];

/// A header value as text when it is visible ASCII, as `HeaderValue::to_str` has it. A value
/// holds no control character but tab, so checking for ASCII (a word at a time) is the same
/// test, several times cheaper on long values such as tokens.
pub fn header_text(v: &http::HeaderValue) -> Option<&str> {
    let bytes = v.as_bytes();
    // SAFETY: ASCII is valid UTF-8; validating it again would read the value twice.
    bytes
        .is_ascii()
        .then(|| unsafe { std::str::from_utf8_unchecked(bytes) })
}

fn unseen(name: &str) -> bool {
    UNSEEN_REQUEST_HEADERS
        .iter()
        .any(|h| h.eq_ignore_ascii_case(name))
}

/// The request's headers with the names as the client wrote them (`HeaderMap` lower-cases
/// them), for `$input.params().header`.
pub trait CasedHeaders {
    fn each(&self, f: &mut dyn FnMut(&str, &str));
}

/// A read-only view of one request for mapping expressions and templates.
pub struct RequestView<'a> {
    pub snapshot: &'a Snapshot,
    pub landing: Landing<'a>,
    pub info: &'a RequestInfo,
    pub outcome: Option<&'a Outcome>,
    pub http_method: &'a str,
    /// The raw request path, as received (`$context.path`).
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub path_params: &'a [(String, String)],
    pub body: &'a str,
    pub base_path: Option<&'a str>,
    /// The resource path the request was routed by: the end of `path`, after the stage or
    /// base path. None before routing.
    pub resource_path: Option<&'a str>,
    /// `headers` with their original names, where the adapter has them.
    pub cased_headers: Option<&'a (dyn CasedHeaders + Sync)>,
}

impl RequestView<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        if unseen(name) {
            return None;
        }
        self.headers
            .get_all(name)
            .iter()
            .next_back()
            .and_then(header_text)
    }

    fn header_all(&self, name: &str) -> Option<String> {
        if unseen(name) {
            return None;
        }
        let vals: Vec<&str> = self
            .headers
            .get_all(name)
            .iter()
            .filter_map(header_text)
            .collect();
        (!vals.is_empty()).then(|| vals.join(","))
    }

    fn query_values(&self, name: &str) -> impl Iterator<Item = Cow<'_, str>> + '_ {
        let name = name.to_string();
        query_pairs(self.query.unwrap_or(""))
            .filter(move |(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    fn path_param(&self, name: &str) -> Option<&str> {
        self.path_params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn host(&self) -> Option<&str> {
        self.header("host")
    }

    /// The resource path as the integration sees it (a Lambda proxy event's `path`) and
    /// `$context.path` (§1.3). On the default endpoint the first is the rest after the stage
    /// with leading slashes collapsed, and `$context.path` is `/{stage}{rest}` (inner
    /// slashes kept), also for the `/restapis/{id}/{stage}/_user_request_` form. With a
    /// custom domain both are the request path as sent (base path included), leading
    /// slashes collapsed.
    pub fn paths(&self) -> (Cow<'_, str>, Cow<'_, str>) {
        let full = self.path;
        let collapsed = leading_slashes_collapsed(full);
        let (Some(rest), Some(stage)) = (self.resource_path, self.landing.stage) else {
            return (Cow::Borrowed(collapsed), Cow::Borrowed(collapsed));
        };
        let prefix = &full[..full.len() - rest.len()];
        let stage_in_url = self.base_path.is_none()
            && (prefix.trim_start_matches('/') == stage.name || prefix.starts_with("/restapis/"));
        if !stage_in_url {
            return (Cow::Borrowed(collapsed), Cow::Borrowed(collapsed));
        }
        let path = if rest.is_empty() {
            "/"
        } else {
            leading_slashes_collapsed(rest)
        };
        (
            Cow::Borrowed(path),
            Cow::Owned(format!("/{}{rest}", stage.name)),
        )
    }
}

impl Values for RequestView<'_> {
    fn request_param(&self, loc: Location, name: &str) -> Option<Cow<'_, str>> {
        match loc {
            Location::Path => self.path_param(name).map(Cow::Borrowed),
            Location::QueryString => self.query_values(name).last(),
            Location::MultiValueQueryString => {
                let all: Vec<Cow<str>> = self.query_values(name).collect();
                (!all.is_empty()).then(|| Cow::Owned(all.join(",")))
            }
            Location::Header => self.header(name).map(Cow::Borrowed),
            Location::MultiValueHeader => self.header_all(name).map(Cow::Owned),
        }
    }

    fn query_param_values(&self, name: &str) -> Vec<Cow<'_, str>> {
        self.query_values(name).collect()
    }

    fn request_body(&self) -> &str {
        self.body
    }

    fn stage_variable(&self, name: &str) -> Option<&str> {
        self.landing
            .stage
            .and_then(|s| s.variables.get(name))
            .map(String::as_str)
    }

    fn context_variable(&self, path: &str) -> Option<Cow<'_, str>> {
        self.context_var(path)
    }
}

impl TemplateContext for RequestView<'_> {
    fn context_var(&self, path: &str) -> Option<Cow<'_, str>> {
        let b = Cow::Borrowed;
        let o = |s: String| Some(Cow::Owned(s));
        let outcome = self.outcome;
        match path {
            "requestId" => Some(b(self.info.request_id.as_str())),
            "extendedRequestId" => Some(b(self.info.extended_request_id.as_str())),
            "apiId" => self.landing.api.map(|a| b(a.id.as_str())),
            "stage" => self.landing.stage.map(|s| b(s.name.as_str())),
            "httpMethod" => Some(b(self.http_method)),
            "resourcePath" => self.landing.method.map(|m| b(m.resource_path.as_str())),
            "resourceId" => self.landing.method.map(|m| b(m.resource_id.as_str())),
            "deploymentId" => self.landing.stage.map(|s| b(s.deployment_id.as_str())),
            "path" => Some(self.paths().1),
            "protocol" => Some(b("HTTP/1.1")),
            "domainName" => self.host().map(b),
            "domainPrefix" => self.host().map(|h| b(h.split('.').next().unwrap_or(h))),
            "accountId" => Some(b(self.snapshot.server.account_id.as_str())),
            "requestTime" => o(clf_time(self.info.start)),
            "requestTimeEpoch" => o(epoch_ms(self.info.start).to_string()),
            "awsEndpointRequestId" => self.info.aws_endpoint_request_id.get().map(|s| b(s)),
            "identity.sourceIp" => self.info.source_ip.map(|ip| Cow::Owned(ip.to_string())),
            "identity.userAgent" => self.header("user-agent").map(b),
            "customDomain.basePathMatched" => self.base_path.map(b),
            "status" => outcome.map(|x| x.status.to_string()).map(Cow::Owned),
            "responseLength" => outcome.map(|x| Cow::Owned(x.response_length.to_string())),
            "responseLatency" => outcome
                .and_then(|x| x.response_latency_ms)
                .map(|l| Cow::Owned(l.to_string())),
            "integrationLatency" | "integration.latency" => outcome
                .and_then(|x| x.integration_latency_ms)
                .map(|l| Cow::Owned(l.to_string())),
            "integrationStatus" | "integration.status" => outcome
                .and_then(|x| x.integration_status)
                .map(|l| Cow::Owned(l.to_string())),
            "error.message" => outcome
                .and_then(|x| x.error.as_ref())
                .and_then(|e| e.message.as_deref())
                .map(b),
            "error.messageString" => outcome.and_then(|x| x.error.as_ref()).map(|e| {
                Cow::Owned(match &e.message {
                    Some(m) => serde_json::Value::String(m.clone()).to_string(),
                    None => "null".to_string(),
                })
            }),
            "error.responseType" => outcome
                .and_then(|x| x.error.as_ref())
                .map(|e| b(e.kind.as_str())),
            _ => {
                if let Some(name) = path.strip_prefix("identity.") {
                    self.info.identity.get(name).map(b)
                } else {
                    let key = path.strip_prefix("authorizer.")?;
                    let values = self.info.authorizer.as_ref()?;
                    values.iter().find(|(k, _)| k == key).map(|(_, v)| b(v))
                }
            }
        }
    }

    fn authorizer_vars(&self) -> Vec<(String, String)> {
        self.info
            .authorizer
            .as_deref()
            .unwrap_or_default()
            .iter()
            .filter(|(k, _)| k != "principalId")
            .cloned()
            .collect()
    }

    fn stage_var(&self, name: &str) -> Option<&str> {
        self.stage_variable(name)
    }

    fn input_param(&self, name: &str) -> Option<Cow<'_, str>> {
        self.path_param(name)
            .map(Cow::Borrowed)
            .or_else(|| self.query_values(name).last())
            .or_else(|| self.header(name).map(Cow::Borrowed))
    }

    fn input_param_in(&self, kind: &str, name: &str) -> Option<Cow<'_, str>> {
        match kind {
            "path" => self.path_param(name).map(Cow::Borrowed),
            "querystring" => self.query_values(name).last(),
            "header" => self.header(name).map(Cow::Borrowed),
            _ => None,
        }
    }

    fn input_body(&self) -> &str {
        self.body
    }

    fn input_params_all(&self, kind: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        let mut put = |k: &str, v: &str| match out.iter_mut().find(|(n, _)| n == k) {
            Some(slot) => slot.1 = v.to_string(),
            None => out.push((k.to_string(), v.to_string())),
        };
        match kind {
            "path" => self.path_params.iter().for_each(|(k, v)| put(k, v)),
            "querystring" => query_pairs(self.query.unwrap_or("")).for_each(|(k, v)| put(&k, &v)),
            "header" => match self.cased_headers {
                Some(cased) => cased.each(&mut |k, v| {
                    if !unseen(k) {
                        put(k, v);
                    }
                }),
                None => self.headers.iter().for_each(|(k, v)| {
                    if let (false, Ok(v)) = (unseen(k.as_str()), header_text(v).ok_or(())) {
                        put(k.as_str(), v);
                    }
                }),
            },
            _ => {}
        }
        out
    }

    fn stage_vars(&self) -> Vec<(String, String)> {
        self.landing
            .stage
            .map(|s| {
                s.variables
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Checks a method's required parameters when its validator says so. AWS lists the missing
/// names ordered by their full keys (header < path < querystring); an empty value is missing.
pub fn validate_parameters(method: &Method, view: &RequestView) -> Result<(), Failure> {
    if !method.validate_params {
        return Ok(());
    }
    let mut missing: Vec<&str> = Vec::new();
    for p in method.params.iter().filter(|p| p.required) {
        let present = view
            .request_param(p.location, &p.name)
            .is_some_and(|v| !v.trim().is_empty());
        if !present {
            missing.push(&p.name);
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(Failure {
        kind: GatewayResponseType::BadRequestParameters,
        message: Some(format!(
            "Missing required request parameters: [{}]",
            missing.join(", ")
        )),
    })
}

/// Decoded `(name, value)` pairs of a query string: '+' is a space, percent escapes decoded,
/// invalid UTF-8 replaced.
pub fn query_pairs(q: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    q.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode_component(k), decode_component(v))
    })
}

fn decode_component(s: &str) -> Cow<'_, str> {
    if !s.contains(['+', '%']) {
        return Cow::Borrowed(s);
    }
    let spaced = s.replace('+', " ");
    Cow::Owned(
        percent_encoding::percent_decode_str(&spaced)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

/// `$context.path`: AWS collapses leading slashes (`//stage/x` → `/stage/x`, §1.3) and keeps
/// inner ones (`/stage//x`).
pub fn leading_slashes_collapsed(path: &str) -> &str {
    let extra = path
        .bytes()
        .take_while(|&b| b == b'/')
        .count()
        .saturating_sub(1);
    &path[extra..]
}

pub fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `$context.requestTime`: CLF format, `25/Nov/2026:13:21:07 +0000`.
pub fn clf_time(t: SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = DateTime::of(t);
    let mut s = String::with_capacity(26);
    let _ = write!(
        s,
        "{:02}/{}/{}:{:02}:{:02}:{:02} +0000",
        t.day,
        MONTHS[(t.month - 1) as usize],
        t.year,
        t.hour,
        t.minute,
        t.second
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn query_decoding_matches_aws() {
        // AWS-recorded: '+' is a space, %2B is '+', repeated keys keep every value.
        let q = "dateTimeOffset=2023-06-12T18:05:10.123456+00:00&email=test%2Balias@gmail.com&plus=test+alias@gmail.com&category=a&category=b";
        let pairs: Vec<(String, String)> = query_pairs(q)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        assert_eq!(pairs[0].1, "2023-06-12T18:05:10.123456 00:00");
        assert_eq!(pairs[1].1, "test+alias@gmail.com");
        assert_eq!(pairs[2].1, "test alias@gmail.com");
        assert_eq!(pairs[3], ("category".into(), "a".into()));
    }

    #[test]
    fn clf_time_format() {
        let t = UNIX_EPOCH + Duration::from_secs(1_764_076_867);
        assert_eq!(clf_time(t), "25/Nov/2025:13:21:07 +0000");
        assert_eq!(clf_time(UNIX_EPOCH), "01/Jan/1970:00:00:00 +0000");
    }
}
