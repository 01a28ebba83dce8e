//! Lambda integrations (AWS digest §4, §5.2): the payload format 1.0 event an `AWS_PROXY`
//! function receives, what its result becomes, function errors, and the function an
//! integration or authorizer URI names. Pure: no I/O.

use super::Failure;
use crate::pipeline::{clf_time, epoch_ms, query_pairs, RequestView, UNSEEN_REQUEST_HEADERS};
use crate::responses::GatewayResponseType;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

// ---------------------------------------------------------------------------------------------
// Event
// ---------------------------------------------------------------------------------------------

/// Request headers that never reach a Lambda proxy event besides the ones the gateway never
/// sees: the client's `X-Forwarded-*` headers are replaced by the gateway's own.
const REPLACED_HEADERS: &[&str] = &["x-forwarded-for", "x-forwarded-port", "x-forwarded-proto"];

/// What a proxy event is built from. [`EventRequest::new`] fills the defaults.
pub struct EventRequest<'a> {
    /// The method request: path, query, path parameters, API, stage, method and ids.
    pub view: &'a RequestView<'a>,
    /// The request headers as received, with the client's name casing. Empty: `view.headers`
    /// is used (lower-case names).
    pub headers: &'a [(&'a [u8], &'a [u8])],
    /// The method request body, as received.
    pub body: &'a [u8],
    /// The body's Content-Type is in `binaryMediaTypes`: it travels base64-encoded.
    pub binary: bool,
    /// `X-Amzn-Trace-Id` when the client sent none (the gateway uses the same value on its
    /// response). None: a fresh one.
    pub trace_id: Option<&'a str>,
    /// `X-Forwarded-Port` (the listener's port); None leaves the header out.
    pub port: Option<u16>,
    /// `X-Forwarded-Proto`: `http` or `https`.
    pub proto: &'a str,
}

impl<'a> EventRequest<'a> {
    pub fn new(view: &'a RequestView<'a>, body: &'a [u8]) -> EventRequest<'a> {
        EventRequest {
            view,
            headers: &[],
            body,
            binary: false,
            trace_id: None,
            port: None,
            proto: "http",
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Event<'a, 'g> {
    resource: &'a str,
    path: Cow<'a, str>,
    http_method: &'a str,
    headers: Last<'g, 'a>,
    multi_value_headers: All<'g, 'a>,
    query_string_parameters: Option<Last<'g, 'a>>,
    multi_value_query_string_parameters: Option<All<'g, 'a>>,
    path_parameters: Option<Pairs<'a>>,
    stage_variables: Option<&'a BTreeMap<String, String>>,
    request_context: Context<'a>,
    body: Option<Cow<'a, str>>,
    is_base64_encoded: bool,
}

/// The digest's (alphabetical) key order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Context<'a> {
    account_id: &'a str,
    api_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorizer: Option<Authorizer<'a>>,
    deployment_id: &'a str,
    domain_name: Option<&'a str>,
    domain_prefix: Option<&'a str>,
    extended_request_id: &'a str,
    http_method: &'a str,
    identity: IdentityJson<'a>,
    path: Cow<'a, str>,
    protocol: &'static str,
    request_id: &'a str,
    request_time: String,
    request_time_epoch: u64,
    resource_id: &'a str,
    resource_path: &'a str,
    stage: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IdentityJson<'a> {
    access_key: Option<&'a str>,
    account_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_key_id: Option<&'a str>,
    caller: Option<&'a str>,
    cognito_authentication_provider: Option<&'a str>,
    cognito_authentication_type: Option<&'a str>,
    cognito_identity_id: Option<&'a str>,
    cognito_identity_pool_id: Option<&'a str>,
    principal_org_id: Option<&'a str>,
    source_ip: Option<String>,
    user: Option<&'a str>,
    user_agent: Option<&'a str>,
    user_arn: Option<&'a str>,
}

/// Names with their values, each name once, in the order built.
#[derive(Default)]
struct Groups<'a>(Vec<(Cow<'a, str>, Vec<Cow<'a, str>>)>);

impl<'a> Groups<'a> {
    fn add(&mut self, name: Cow<'a, str>, value: Cow<'a, str>, ignore_case: bool) {
        let same = |n: &Cow<str>| {
            if ignore_case {
                n.eq_ignore_ascii_case(&name)
            } else {
                *n == name
            }
        };
        match self.0.iter_mut().find(|(n, _)| same(n)) {
            Some((_, values)) => values.push(value),
            None => self.0.push((name, vec![value])),
        }
    }
}

/// A [`Groups`] as `name → last value`.
struct Last<'g, 'a>(&'g Groups<'a>);
/// A [`Groups`] as `name → [values]`.
struct All<'g, 'a>(&'g Groups<'a>);

impl Serialize for Last<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0 .0.len()))?;
        for (name, values) in &self.0 .0 {
            m.serialize_entry(name, values.last().map_or("", |v| v))?;
        }
        m.end()
    }
}

impl Serialize for All<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0 .0.len()))?;
        for (name, values) in &self.0 .0 {
            m.serialize_entry(name, values)?;
        }
        m.end()
    }
}

struct Pairs<'a>(&'a [(String, String)]);

impl Serialize for Pairs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// Authorizer values; `claims.<name>` keys become the `claims` object.
struct Authorizer<'a>(&'a [(String, String)]);

impl Serialize for Authorizer<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Claims<'a>(&'a [(String, String)]);
        impl Serialize for Claims<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(None)?;
                for (k, v) in self.0 {
                    if let Some(claim) = k.strip_prefix("claims.") {
                        m.serialize_entry(claim, v)?;
                    }
                }
                m.end()
            }
        }
        let mut m = s.serialize_map(None)?;
        let mut claims_written = false;
        for (k, v) in self.0 {
            if k.starts_with("claims.") {
                if !claims_written {
                    m.serialize_entry("claims", &Claims(self.0))?;
                    claims_written = true;
                }
            } else {
                m.serialize_entry(k, v)?;
            }
        }
        m.end()
    }
}

/// The payload format 1.0 event for a Lambda proxy integration (§4.1), as JSON.
pub fn proxy_event(req: &EventRequest) -> String {
    let view = req.view;
    let api = view.landing.api;
    let stage = view.landing.stage;
    let method = view.landing.method;
    let stage_name = stage.map_or("", |s| s.name.as_str());
    let api_id = api.map_or("", |a| a.id.as_str());
    let (path, context_path) = view.paths();
    let headers = header_groups(req);
    let query = query_groups(view.query);
    let host = header_value(view, "host");
    let body = match (req.body.is_empty(), req.binary) {
        (true, _) => None,
        (false, true) => Some(Cow::Owned(STANDARD.encode(req.body))),
        (false, false) => Some(String::from_utf8_lossy(req.body)),
    };
    let id = &view.info.identity;
    let event = Event {
        resource: method.map_or("", |m| m.resource_path.as_str()),
        path,
        http_method: view.http_method,
        headers: Last(&headers),
        multi_value_headers: All(&headers),
        query_string_parameters: query.as_ref().map(Last),
        multi_value_query_string_parameters: query.as_ref().map(All),
        path_parameters: (!view.path_params.is_empty()).then_some(Pairs(view.path_params)),
        stage_variables: stage.map(|s| &s.variables).filter(|v| !v.is_empty()),
        request_context: Context {
            account_id: view.snapshot.server.account_id.as_str(),
            api_id,
            authorizer: view.info.authorizer.as_deref().map(Authorizer),
            deployment_id: stage.map_or("", |s| s.deployment_id.as_str()),
            domain_name: host,
            domain_prefix: host.map(|h| h.split('.').next().unwrap_or(h)),
            extended_request_id: view.info.extended_request_id.as_str(),
            http_method: view.http_method,
            identity: IdentityJson {
                access_key: id.access_key.as_deref(),
                account_id: id.account_id.as_deref(),
                api_key: id.api_key.as_deref(),
                api_key_id: id.api_key_id.as_deref(),
                caller: id.caller.as_deref(),
                cognito_authentication_provider: id.cognito_authentication_provider.as_deref(),
                cognito_authentication_type: id.cognito_authentication_type.as_deref(),
                cognito_identity_id: id.cognito_identity_id.as_deref(),
                cognito_identity_pool_id: id.cognito_identity_pool_id.as_deref(),
                principal_org_id: id.principal_org_id.as_deref(),
                source_ip: view.info.source_ip.map(|ip| ip.to_string()),
                user: id.user.as_deref(),
                user_agent: header_value(view, "user-agent"),
                user_arn: id.user_arn.as_deref(),
            },
            path: context_path,
            protocol: "HTTP/1.1",
            request_id: view.info.request_id.as_str(),
            request_time: clf_time(view.info.start),
            request_time_epoch: epoch_ms(view.info.start),
            resource_id: method.map_or("", |m| m.resource_id.as_str()),
            resource_path: method.map_or("", |m| m.resource_path.as_str()),
            stage: stage_name,
        },
        body,
        is_base64_encoded: req.binary && !req.body.is_empty(),
    };
    // Serializing borrowed strings and maps into a String cannot fail.
    serde_json::to_string(&event).unwrap_or_default()
}

/// The last value of a request header (from the lower-cased map).
fn header_value<'a>(view: &RequestView<'a>, name: &str) -> Option<&'a str> {
    let headers: &'a http::HeaderMap = view.headers;
    headers
        .get_all(name)
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
}

/// Event headers: names grouped case-insensitively (first spelling kept, `Authorization`
/// title-cased), hop-by-hop and framing headers dropped, the gateway's `X-Forwarded-*` and
/// `X-Amzn-Trace-Id` added, sorted by name ignoring case as AWS lists them.
fn header_groups<'a>(req: &EventRequest<'a>) -> Groups<'a> {
    let view = req.view;
    let lower: Vec<(&'a [u8], &'a [u8])>;
    let list: &[(&'a [u8], &'a [u8])] = if req.headers.is_empty() {
        let map: &'a http::HeaderMap = view.headers;
        lower = map
            .iter()
            .map(|(n, v)| (n.as_str().as_bytes(), v.as_bytes()))
            .collect();
        &lower
    } else {
        req.headers
    };
    let mut groups = Groups::default();
    let mut chain: Vec<Cow<str>> = Vec::new();
    let mut has_trace = false;
    for &(name, value) in list {
        let name = String::from_utf8_lossy(name);
        let value = String::from_utf8_lossy(value);
        if name.eq_ignore_ascii_case("x-forwarded-for") {
            chain.push(value);
            continue;
        }
        if UNSEEN_REQUEST_HEADERS
            .iter()
            .chain(REPLACED_HEADERS)
            .any(|d| name.eq_ignore_ascii_case(d))
        {
            continue;
        }
        has_trace |= name.eq_ignore_ascii_case("x-amzn-trace-id");
        let name = if name.eq_ignore_ascii_case("authorization") {
            Cow::Borrowed("Authorization")
        } else {
            name
        };
        groups.add(name, value, true);
    }
    let chain = (!chain.is_empty()).then(|| chain.join(", "));
    let xff = view.info.forwarded_for(chain.as_deref());
    groups.add("X-Forwarded-For".into(), xff.into(), true);
    if let Some(port) = req.port {
        groups.add("X-Forwarded-Port".into(), port.to_string().into(), true);
    }
    groups.add("X-Forwarded-Proto".into(), Cow::Borrowed(req.proto), true);
    if !has_trace {
        let trace = match req.trace_id {
            Some(t) => Cow::Borrowed(t),
            None => Cow::Borrowed(view.info.trace_id()),
        };
        groups.add("X-Amzn-Trace-Id".into(), trace, true);
    }
    groups.0.sort_by(|(a, _), (b, _)| {
        a.bytes()
            .map(|c| c.to_ascii_lowercase())
            .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
    });
    groups
}

/// Decoded query parameters as the router reads them, in order of first appearance; None
/// when there are none.
fn query_groups(query: Option<&str>) -> Option<Groups<'_>> {
    let mut groups = Groups::default();
    for (k, v) in query_pairs(query.unwrap_or("")) {
        groups.add(k, v, false);
    }
    (!groups.0.is_empty()).then_some(groups)
}

// ---------------------------------------------------------------------------------------------
// Response
// ---------------------------------------------------------------------------------------------

/// What the client gets from a proxy function's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyResponse {
    pub status: u16,
    /// In order; a name repeats for each of its values (`multiValueHeaders` first).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A function result the gateway answers with an error. `status` is what AWS sends when the
/// API has not customized the `failure.kind` gateway response (customization sets its own
/// status); `reason` is the execution-log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyError {
    pub status: u16,
    pub failure: Failure,
    pub reason: String,
}

impl ProxyError {
    /// 502 `Internal server error`, gateway response INTEGRATION_FAILURE: a malformed
    /// result or a function error.
    pub fn bad_gateway(reason: String) -> ProxyError {
        ProxyError {
            status: 502,
            failure: Failure {
                kind: GatewayResponseType::IntegrationFailure,
                message: Some("Internal server error".into()),
            },
            reason,
        }
    }

    /// Lambda refused the invocation for lack of concurrency (its 429): API Gateway answers
    /// 500 `Internal server error` through INTEGRATION_FAILURE.
    pub fn throttled() -> ProxyError {
        ProxyError {
            status: 500,
            ..ProxyError::bad_gateway(
                "Lambda throttled the invocation (TooManyRequestsException)".into(),
            )
        }
    }

    fn malformed(detail: &str) -> ProxyError {
        ProxyError::bad_gateway(format!(
            "Execution failed due to configuration error: Malformed Lambda proxy response ({detail})"
        ))
    }
}

/// A gateway response of its own status.
impl From<Failure> for ProxyError {
    fn from(failure: Failure) -> ProxyError {
        ProxyError {
            status: failure.kind.default_status(),
            reason: failure.message.clone().unwrap_or_default(),
            failure,
        }
    }
}

impl From<ProxyError> for Failure {
    fn from(e: ProxyError) -> Failure {
        e.failure
    }
}

/// A JSON object's members in document order.
struct Members(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Members, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    out.push(entry);
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// The result shape (§4.2): exactly these keys, each optional.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawResponse {
    #[serde(default)]
    status_code: Value,
    #[serde(default)]
    headers: Option<Members>,
    #[serde(default)]
    multi_value_headers: Option<Members>,
    #[serde(default)]
    body: Value,
    #[serde(default)]
    is_base64_encoded: Value,
}

/// Turns a proxy function's result into the client response (§4.2). `accept_binary`: the
/// request's first `Accept` type is in `binaryMediaTypes`; only then is an
/// `isBase64Encoded` body decoded (an undecodable one is a 500).
pub fn proxy_response(payload: &[u8], accept_binary: bool) -> Result<ProxyResponse, ProxyError> {
    if payload.trim_ascii_start().first() != Some(&b'{') {
        return Err(ProxyError::malformed("not a JSON object"));
    }
    let raw: RawResponse =
        serde_json::from_slice(payload).map_err(|e| ProxyError::malformed(&e.to_string()))?;
    let status = match &raw.status_code {
        Value::Null => 200,
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .ok_or_else(|| ProxyError::malformed("statusCode"))?,
        Value::String(s) => s
            .parse::<u16>()
            .map_err(|_| ProxyError::malformed("statusCode"))?,
        _ => return Err(ProxyError::malformed("statusCode")),
    };
    if !(100..=599).contains(&status) {
        return Err(ProxyError::malformed("statusCode out of range"));
    }
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    let mut add = |name: &str, value: String| -> Result<(), ProxyError> {
        if http::HeaderName::from_bytes(name.as_bytes()).is_err()
            || http::HeaderValue::from_bytes(value.as_bytes()).is_err()
        {
            return Err(ProxyError::malformed("header not representable in HTTP"));
        }
        match groups
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some((_, values)) => values.push(value),
            None => groups.push((name.to_string(), vec![value])),
        }
        Ok(())
    };
    for (name, value) in raw.multi_value_headers.map_or(Vec::new(), |m| m.0) {
        let Value::Array(items) = value else {
            return Err(ProxyError::malformed(
                "multiValueHeaders value is not a list",
            ));
        };
        for item in items {
            if let Some(text) = header_text(item)? {
                add(&name, text)?;
            }
        }
    }
    for (name, value) in raw.headers.map_or(Vec::new(), |m| m.0) {
        if let Some(text) = header_text(value)? {
            add(&name, text)?;
        }
    }
    let base64 = match raw.is_base64_encoded {
        Value::Null => false,
        Value::Bool(b) => b,
        _ => return Err(ProxyError::malformed("isBase64Encoded")),
    };
    let body = match raw.body {
        Value::Null => Vec::new(),
        Value::String(s) if base64 && accept_binary => decode_base64(&s)?,
        Value::String(s) => s.into_bytes(),
        _ => return Err(ProxyError::malformed("body is not a string")),
    };
    if !groups
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        groups.push(("Content-Type".into(), vec!["application/json".into()]));
    }
    let headers = groups
        .into_iter()
        .flat_map(|(name, values)| values.into_iter().map(move |v| (name.clone(), v)))
        .collect();
    Ok(ProxyResponse {
        status,
        headers,
        body,
    })
}

/// A header value as text: strings as they are, booleans and numbers spelled out; `null`
/// leaves the header out; objects and arrays make the result malformed.
fn header_text(v: Value) -> Result<Option<String>, ProxyError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Bool(b) => Ok(Some(b.to_string())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Array(_) | Value::Object(_) => Err(ProxyError::malformed("header value")),
    }
}

/// Standard base64, ASCII whitespace ignored; failure is AWS's 500 API configuration error.
fn decode_base64(s: &str) -> Result<Vec<u8>, ProxyError> {
    let compact: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    STANDARD.decode(compact).map_err(|_| ProxyError {
        status: 500,
        failure: Failure::new(GatewayResponseType::ApiConfigurationError),
        reason: "Execution failed due to configuration error: unable to base64-decode the Lambda \
                 proxy response body"
            .into(),
    })
}

// ---------------------------------------------------------------------------------------------
// Function errors
// ---------------------------------------------------------------------------------------------

/// A proxy function that failed (`X-Amz-Function-Error: Unhandled` or `Handled`): 502
/// `Internal server error`, whatever the error payload says.
pub fn function_error(payload: &[u8]) -> ProxyError {
    let msg = error_message(payload).unwrap_or_default();
    ProxyError::bad_gateway(format!(
        "Lambda execution failed with status 200 due to customer function error: {msg}"
    ))
}

/// A proxy invocation's result; `function_error_header` is its `X-Amz-Function-Error`.
pub fn proxy_result(
    function_error_header: Option<&str>,
    payload: &[u8],
    accept_binary: bool,
) -> Result<ProxyResponse, ProxyError> {
    match function_error_header {
        Some(_) => Err(function_error(payload)),
        None => proxy_response(payload, accept_binary),
    }
}

/// The `errorMessage` of a function error payload: the selection value of a non-proxy
/// Lambda integration (§5.2). A non-string message is given as its JSON text; None without
/// one.
pub fn error_message(payload: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct ErrorPayload {
        #[serde(rename = "errorMessage", default)]
        error_message: Value,
    }
    match serde_json::from_slice::<ErrorPayload>(payload)
        .ok()?
        .error_message
    {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// Function names
// ---------------------------------------------------------------------------------------------

/// The function an integration or authorizer URI invokes. Parts may hold
/// `${stageVariables.NAME}` references (see [`FunctionRef::resolve`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    pub name: String,
    /// Version or alias.
    pub qualifier: Option<String>,
    /// The function's region (the Lambda ARN's, else the API Gateway ARN's).
    pub region: Option<String>,
    pub account: Option<String>,
}

impl FunctionRef {
    /// The reference with every `${stageVariables.NAME}` replaced; Err names a variable the
    /// stage does not define.
    pub fn resolve(&self, vars: &BTreeMap<String, String>) -> Result<FunctionRef, String> {
        let sub = |s: &str| substitute_stage_variables(s, vars);
        Ok(FunctionRef {
            name: sub(&self.name)?,
            qualifier: self.qualifier.as_deref().map(sub).transpose()?,
            region: self.region.as_deref().map(sub).transpose()?,
            account: self.account.as_deref().map(sub).transpose()?,
        })
    }
}

/// `s` with each `${stageVariables.NAME}` replaced by the variable's value; Err names a
/// variable `vars` does not define.
pub fn substitute_stage_variables(
    s: &str,
    vars: &BTreeMap<String, String>,
) -> Result<String, String> {
    super::http::replace_stage_variables(s, |name| {
        vars.get(name)
            .map(String::as_str)
            .ok_or_else(|| name.to_string())
    })
}

/// Parses `arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{lambda}/invocations`
/// where `{lambda}` is `arn:aws:lambda:{region}:{account}:function:{name}[:{qualifier}]`, a
/// partial `{account}:function:{name}[:{qualifier}]`, or `{name}[:{qualifier}]`; any of
/// those three is also accepted on its own.
pub fn function_name(uri: &str) -> Option<FunctionRef> {
    let uri = uri.trim();
    let apigw_prefix = uri
        .strip_prefix("arn:")
        .and_then(|r| r.split_once(':'))
        .filter(|(_, r)| r.starts_with("apigateway:"));
    if let Some((_, rest)) = apigw_prefix {
        let rest = rest.strip_prefix("apigateway:")?;
        let (region, rest) = rest.split_once(':')?;
        let lambda = rest
            .strip_prefix("lambda:path/2015-03-31/functions/")?
            .strip_suffix("/invocations")?;
        let mut f = lambda_function(lambda)?;
        if f.region.is_none() && !region.is_empty() {
            f.region = Some(region.to_string());
        }
        return Some(f);
    }
    lambda_function(uri)
}

fn lambda_function(s: &str) -> Option<FunctionRef> {
    let part =
        |p: &str| (!p.is_empty() && !p.contains(['/', ' ', '?', '#'])).then(|| p.to_string());
    let opt = |p: &str| (!p.is_empty()).then(|| p.to_string());
    let fields: Vec<&str> = s.split(':').collect();
    let (region, account, name, qualifier) = match fields[..] {
        ["arn", _partition, "lambda", region, account, "function", name] => {
            (opt(region), opt(account), name, None)
        }
        ["arn", _partition, "lambda", region, account, "function", name, q] => {
            (opt(region), opt(account), name, Some(q))
        }
        [account, "function", name] => (None, opt(account), name, None),
        [account, "function", name, q] => (None, opt(account), name, Some(q)),
        [name] => (None, None, name, None),
        [name, q] if name != "arn" => (None, None, name, Some(q)),
        _ => return None,
    };
    Some(FunctionRef {
        name: part(name)?,
        qualifier: match qualifier {
            Some(q) => Some(part(q)?),
            None => None,
        },
        region,
        account,
    })
}

/// A compiled Lambda integration's call: which function, and how long to wait for it.
pub struct LambdaCall {
    pub function: FunctionRef,
    pub timeout: std::time::Duration,
    /// AWS_PROXY needs `httpMethod: POST`; with any other every request gets a 500, as on AWS.
    pub wrong_method: bool,
}

/// A custom (`type: AWS`) Lambda integration: templates and integration responses around the
/// call; a function error's `errorMessage` selects the integration response.
pub struct LambdaCustom {
    pub call: LambdaCall,
    pub custom: super::custom::NonProxy,
    /// `integration.request.header.X-Amz-Invocation-Type`: `'Event'` invokes
    /// asynchronously (§3.5).
    pub invocation_type: Option<crate::mapping::Source>,
}

impl LambdaCustom {
    /// The mapped invocation type of `requestParameters`, if any.
    pub fn invocation_type(
        parameters: &std::collections::BTreeMap<String, String>,
    ) -> Result<Option<crate::mapping::Source>, String> {
        parameters
            .iter()
            .find(|(k, _)| {
                k.eq_ignore_ascii_case("integration.request.header.X-Amz-Invocation-Type")
            })
            .map(|(_, expr)| crate::mapping::Source::parse(expr, false))
            .transpose()
    }

    /// The request asks for an asynchronous (`Event`) invocation.
    pub fn asynchronous(&self, v: &dyn crate::mapping::Values) -> bool {
        self.invocation_type
            .as_ref()
            .and_then(|s| s.eval(v))
            .is_some_and(|t| t == "Event")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::Snapshot;
    use crate::ids::RequestId;
    use crate::pipeline::{Landing, RequestInfo};
    use std::time::{Duration, UNIX_EPOCH};

    const CONFIG: &str = r#"
server:
  accountId: "123456789012"
restApis:
  - id: abc123defg
    binaryMediaTypes: ["image/png"]
    resources:
      /{proxy+}:
        ANY:
          integration: {type: MOCK}
      /hardcoded:
        ANY:
          integration: {type: MOCK}
      /pets/{petId}:
        GET:
          integration: {type: MOCK}
    stages:
      - stageName: stage
      - stageName: vars
        variables: {fn: echo, alias: live}
"#;

    fn snapshot() -> Snapshot {
        let loaded = crate::config::parse(std::path::Path::new("t.yaml"), CONFIG)
            .unwrap_or_else(|d| panic!("{}", d[0]));
        let metrics = crate::metrics::Metrics::new();
        let resolve = |_: &str, _: u16| Err("no DNS in tests".to_string());
        crate::compile::compile(&loaded.config, &metrics, &resolve)
            .unwrap_or_else(|p| panic!("{:?}", p[0].message))
    }

    fn info() -> RequestInfo {
        let mut info = RequestInfo::new(UNIX_EPOCH + Duration::from_millis(1_764_076_867_123));
        info.request_id = RequestId::parse("c6af9ac6-7b61-11e6-9a41-93e8deadbeef").unwrap();
        info.source_ip = Some("192.0.2.7".parse().unwrap());
        info
    }

    /// `GET /stage/hardcoded` on the test API with `headers`.
    fn hardcoded_view<'a>(
        snap: &'a Snapshot,
        info: &'a RequestInfo,
        headers: &'a http::HeaderMap,
    ) -> RequestView<'a> {
        let api = &snap.apis[0];
        RequestView {
            snapshot: snap,
            landing: Landing {
                api: Some(api),
                stage: Some(&api.stages[0]),
                method: Some(&api.methods[1]),
            },
            info,
            outcome: None,
            http_method: "GET",
            path: "/stage/hardcoded",
            query: None,
            headers,
            path_params: &[],
            body: "",
            base_path: None,
            resource_path: Some("/hardcoded"),
            cased_headers: None,
        }
    }

    /// A request to the test API: `target` is the raw request target, `headers` as sent.
    struct Req {
        method: &'static str,
        target: &'static str,
        headers: Vec<(&'static str, &'static str)>,
        body: Vec<u8>,
        binary: bool,
        stage: &'static str,
    }

    impl Req {
        fn get(target: &'static str) -> Req {
            Req {
                method: "GET",
                target,
                headers: vec![
                    ("Host", "abc123defg.execute-api.us-east-1.amazonaws.com"),
                    ("User-Agent", "python-requests/testing"),
                ],
                body: Vec::new(),
                binary: false,
                stage: "stage",
            }
        }

        fn header(mut self, n: &'static str, v: &'static str) -> Req {
            self.headers.push((n, v));
            self
        }

        /// Routes like the gateway, builds the event and parses it back.
        fn event(&self) -> Value {
            serde_json::from_str(&self.json()).unwrap()
        }

        /// Routes like the gateway and builds the event.
        fn json(&self) -> String {
            let snap = snapshot();
            let info = info();
            let (path, query) = crate::pipeline::split_query(self.target);
            let mut map = http::HeaderMap::new();
            for (n, v) in &self.headers {
                map.append(
                    http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                    http::HeaderValue::from_str(v).unwrap(),
                );
            }
            let target = snap.target(Some(self.headers[0].1), path).unwrap();
            let api = &snap.apis[target.api];
            let m = crate::router::HttpMethod::parse(self.method).unwrap();
            let found = api
                .router
                .find(m, target.resource_path)
                .unwrap_or_else(|| panic!("no route for {}", self.target));
            let method_id = found.method_id;
            let params: Vec<(String, String)> = found
                .params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let stage = api.stage(self.stage).unwrap();
            let view = RequestView {
                snapshot: &snap,
                landing: Landing {
                    api: Some(api),
                    stage: Some(&api.stages[stage]),
                    method: Some(&api.methods[method_id]),
                },
                info: &info,
                outcome: None,
                http_method: self.method,
                path,
                query,
                headers: &map,
                path_params: &params,
                body: "",
                base_path: None,
                resource_path: Some(target.resource_path),
                cased_headers: None,
            };
            let cased: Vec<(&[u8], &[u8])> = self
                .headers
                .iter()
                .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
                .collect();
            let mut req = EventRequest::new(&view, &self.body);
            req.headers = &cased;
            req.binary = self.binary;
            req.trace_id = Some("Root=1-692a0000-0123456789abcdef01234567");
            req.port = Some(443);
            req.proto = "https";
            proxy_event(&req)
        }
    }

    #[test]
    fn get_without_query_or_body_has_nulls() {
        let e = Req::get("/stage/hardcoded").event();
        assert_eq!(e["resource"], "/hardcoded");
        assert_eq!(e["path"], "/hardcoded");
        assert_eq!(e["httpMethod"], "GET");
        for k in [
            "queryStringParameters",
            "multiValueQueryStringParameters",
            "pathParameters",
            "stageVariables",
            "body",
        ] {
            assert!(e[k].is_null(), "{k} should be null: {}", e[k]);
            assert!(
                e.as_object().unwrap().contains_key(k),
                "{k} must be present"
            );
        }
        assert_eq!(e["isBase64Encoded"], false);
        let keys: Vec<&str> = e.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(keys.len(), 12);
    }

    #[test]
    fn key_order_is_fixed() {
        let snap = snapshot();
        let info = info();
        let map = http::HeaderMap::new();
        let view = hardcoded_view(&snap, &info, &map);
        let mut req = EventRequest::new(&view, b"");
        req.trace_id = Some("Root=1-0-0");
        let json = proxy_event(&req);
        let order = [
            "\"resource\"",
            "\"path\"",
            "\"httpMethod\"",
            "\"headers\"",
            "\"multiValueHeaders\"",
            "\"queryStringParameters\"",
            "\"multiValueQueryStringParameters\"",
            "\"pathParameters\"",
            "\"stageVariables\"",
            "\"requestContext\"",
            "\"body\"",
            "\"isBase64Encoded\"",
        ];
        let pos: Vec<usize> = order.iter().map(|k| json.find(k).unwrap()).collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "{json}");
        assert!(json.ends_with(r#""body":null,"isBase64Encoded":false}"#));
    }

    #[test]
    fn request_context_fields() {
        let e = Req::get("/stage/hardcoded").event();
        let c = &e["requestContext"];
        let keys: Vec<&str> = c.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "accountId",
                "apiId",
                "deploymentId",
                "domainName",
                "domainPrefix",
                "extendedRequestId",
                "httpMethod",
                "identity",
                "path",
                "protocol",
                "requestId",
                "requestTime",
                "requestTimeEpoch",
                "resourceId",
                "resourcePath",
                "stage"
            ]
        );
        assert!(c.get("authorizer").is_none());
        assert_eq!(c["accountId"], "123456789012");
        assert_eq!(c["apiId"], "abc123defg");
        assert_eq!(
            c["domainName"],
            "abc123defg.execute-api.us-east-1.amazonaws.com"
        );
        assert_eq!(c["domainPrefix"], "abc123defg");
        assert_eq!(c["httpMethod"], "GET");
        assert_eq!(c["path"], "/stage/hardcoded");
        assert_eq!(c["protocol"], "HTTP/1.1");
        assert_eq!(c["requestId"], "c6af9ac6-7b61-11e6-9a41-93e8deadbeef");
        assert_eq!(c["requestTime"], "25/Nov/2025:13:21:07 +0000");
        assert_eq!(c["requestTimeEpoch"], 1_764_076_867_123u64);
        assert!(c["requestTimeEpoch"].is_u64());
        assert_eq!(c["resourcePath"], "/hardcoded");
        assert_eq!(c["stage"], "stage");
        assert_eq!(c["extendedRequestId"].as_str().unwrap().len(), 16);
        let rid = c["resourceId"].as_str().unwrap();
        assert_eq!(rid, crate::ids::stable_id(&["abc123defg", "/hardcoded"]));
        let did = c["deploymentId"].as_str().unwrap();
        for id in [rid, did] {
            assert_eq!(id.len(), 6);
            assert!(id
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()));
        }
        let identity = c["identity"].as_object().unwrap();
        let ikeys: Vec<&str> = identity.keys().map(|k| k.as_str()).collect();
        assert_eq!(
            ikeys,
            [
                "accessKey",
                "accountId",
                "caller",
                "cognitoAuthenticationProvider",
                "cognitoAuthenticationType",
                "cognitoIdentityId",
                "cognitoIdentityPoolId",
                "principalOrgId",
                "sourceIp",
                "user",
                "userAgent",
                "userArn"
            ]
        );
        for (k, v) in identity {
            match k.as_str() {
                "sourceIp" => assert_eq!(v, "192.0.2.7"),
                "userAgent" => assert_eq!(v, "python-requests/testing"),
                _ => assert!(v.is_null(), "{k}"),
            }
        }
    }

    #[test]
    fn stage_variables_object_when_defined() {
        let mut r = Req::get("/vars/hardcoded");
        r.stage = "vars";
        let e = r.event();
        assert_eq!(
            e["stageVariables"],
            serde_json::json!({"alias": "live", "fn": "echo"})
        );
        assert_eq!(e["requestContext"]["path"], "/vars/hardcoded");
        let other = Req::get("/stage/hardcoded").event();
        assert_ne!(
            e["requestContext"]["deploymentId"],
            other["requestContext"]["deploymentId"]
        );
    }

    #[test]
    fn post_with_body_and_repeated_query_keys() {
        let mut r = Req::get(
            "/stage/proxy-value?category=electronics&category=books&price=10&price=20&price=30",
        )
        .header("Content-Type", "application/json;charset=utf-8")
        .header("Content-Length", "26")
        .header("aUThorization", "Bearer token123;API key456");
        r.method = "POST";
        r.body = br#"{"message": "hello world"}"#.to_vec();
        let e = r.event();
        assert_eq!(e["httpMethod"], "POST");
        assert_eq!(e["requestContext"]["httpMethod"], "POST");
        assert_eq!(e["body"], r#"{"message": "hello world"}"#);
        assert_eq!(e["isBase64Encoded"], false);
        assert_eq!(
            e["queryStringParameters"],
            serde_json::json!({"category": "books", "price": "30"})
        );
        assert_eq!(
            e["multiValueQueryStringParameters"],
            serde_json::json!({"category": ["electronics", "books"], "price": ["10", "20", "30"]})
        );
        assert_eq!(e["headers"]["Authorization"], "Bearer token123;API key456");
        assert_eq!(
            e["headers"]["Content-Type"],
            "application/json;charset=utf-8"
        );
        assert!(e["headers"].get("Content-Length").is_none());
        assert!(e["multiValueHeaders"].get("Content-Length").is_none());
        assert_eq!(
            e["pathParameters"],
            serde_json::json!({"proxy": "proxy-value"})
        );
        assert_eq!(e["resource"], "/{proxy+}");
    }

    #[test]
    fn query_decoding_matches_the_router() {
        let e = Req::get("/stage/api?dateTimeOffset=2023-06-12T18:05:10.123456+00:00&email=test%2Balias@gmail.com&plus=test+alias@gmail.com&url=https://www.google.com/&whitespace=foo%20bar&zhash=abort/&flag").event();
        assert_eq!(
            e["queryStringParameters"],
            serde_json::json!({
                "dateTimeOffset": "2023-06-12T18:05:10.123456 00:00",
                "email": "test+alias@gmail.com",
                "plus": "test alias@gmail.com",
                "url": "https://www.google.com/",
                "whitespace": "foo bar",
                "zhash": "abort/",
                "flag": ""
            })
        );
        // `?` with nothing after it is no query string.
        let e = Req::get("/stage/api?").event();
        assert!(e["queryStringParameters"].is_null());
        assert!(e["multiValueQueryStringParameters"].is_null());
    }

    #[test]
    fn headers_keep_client_casing_and_repeat_in_multi_value() {
        let r = Req::get("/stage/hardcoded")
            .header("tEsT-HEADeR", "aValUE")
            .header("authorization", "random-value")
            .header("X-Multi", "one")
            .header("x-multi", "two")
            .header("Connection", "keep-alive")
            .header("Accept", "a/b, c/d");
        let json = r.json();
        let e: Value = serde_json::from_str(&json).unwrap();
        let h = &e["headers"];
        let mh = &e["multiValueHeaders"];
        assert_eq!(h["tEsT-HEADeR"], "aValUE");
        assert_eq!(h["Authorization"], "random-value");
        assert!(h.get("authorization").is_none());
        assert_eq!(h["X-Multi"], "two", "last value wins, first spelling kept");
        assert_eq!(mh["X-Multi"], serde_json::json!(["one", "two"]));
        assert_eq!(mh["Accept"], serde_json::json!(["a/b, c/d"]));
        assert!(h.get("Connection").is_none());
        assert_eq!(h["Host"], "abc123defg.execute-api.us-east-1.amazonaws.com");
        assert_eq!(h["User-Agent"], "python-requests/testing");
        assert_eq!(h["X-Forwarded-For"], "192.0.2.7");
        assert_eq!(h["X-Forwarded-Port"], "443");
        assert_eq!(h["X-Forwarded-Proto"], "https");
        assert_eq!(
            h["X-Amzn-Trace-Id"],
            "Root=1-692a0000-0123456789abcdef01234567"
        );
        // Every header appears in both maps, sorted by name ignoring case.
        let names: Vec<&String> = h.as_object().unwrap().keys().collect();
        let multi: Vec<&String> = mh.as_object().unwrap().keys().collect();
        assert_eq!(names, multi);
        let mut sorted = names.clone();
        sorted.sort_by_key(|n| n.to_ascii_lowercase());
        let at = |n: &str| json.find(&format!("\"{n}\":\"")).unwrap();
        assert!(sorted.windows(2).all(|w| at(w[0]) < at(w[1])), "{json}");
    }

    #[test]
    fn client_forwarding_headers_are_extended_or_replaced() {
        let e = Req::get("/stage/hardcoded")
            .header("X-Forwarded-For", "203.0.113.1")
            .header("x-forwarded-proto", "gopher")
            .header(
                "X-Amzn-Trace-Id",
                "Root=1-5f3a1b2c-000000000000000000000000",
            )
            .event();
        let h = &e["headers"];
        assert_eq!(h["X-Forwarded-For"], "203.0.113.1, 192.0.2.7");
        assert_eq!(h["X-Forwarded-Proto"], "https");
        assert_eq!(
            h["X-Amzn-Trace-Id"],
            "Root=1-5f3a1b2c-000000000000000000000000"
        );
        assert!(h.get("x-forwarded-proto").is_none());
    }

    #[test]
    fn lower_case_header_map_is_the_fallback() {
        let snap = snapshot();
        let info = info();
        let mut map = http::HeaderMap::new();
        map.insert("authorization", "t".parse().unwrap());
        map.insert("x-thing", "v".parse().unwrap());
        let view = hardcoded_view(&snap, &info, &map);
        let e: Value = serde_json::from_str(&proxy_event(&EventRequest::new(&view, b""))).unwrap();
        assert_eq!(e["headers"]["Authorization"], "t");
        assert_eq!(e["headers"]["x-thing"], "v");
        assert!(e["headers"]["X-Amzn-Trace-Id"]
            .as_str()
            .unwrap()
            .starts_with("Root=1-"));
        assert!(e["headers"].get("X-Forwarded-Port").is_none());
        assert_eq!(e["headers"]["X-Forwarded-Proto"], "http");
        assert!(e["requestContext"]["domainName"].is_null());
    }

    #[test]
    fn paths_follow_the_aws_slash_table() {
        // (request path, event path, proxy parameter, requestContext.path, resource)
        let rows = [
            (
                "/stage/proxy-value",
                "/proxy-value",
                Some("proxy-value"),
                "/stage/proxy-value",
                "/{proxy+}",
            ),
            (
                "/stage/proxy-value/",
                "/proxy-value/",
                Some("proxy-value"),
                "/stage/proxy-value/",
                "/{proxy+}",
            ),
            (
                "/stage/proxy-value//double-slash",
                "/proxy-value//double-slash",
                Some("proxy-value//double-slash"),
                "/stage/proxy-value//double-slash",
                "/{proxy+}",
            ),
            (
                "//stage/proxy-value",
                "/proxy-value",
                Some("proxy-value"),
                "/stage/proxy-value",
                "/{proxy+}",
            ),
            (
                "/stage//proxy-value",
                "/proxy-value",
                Some("proxy-value"),
                "/stage//proxy-value",
                "/{proxy+}",
            ),
            (
                "/stage//hardcoded",
                "/hardcoded",
                None,
                "/stage//hardcoded",
                "/hardcoded",
            ),
            (
                "/stage/proxy-value/api/user/test%2Balias@gmail.com/plus/test+alias@gmail.com",
                "/proxy-value/api/user/test%2Balias@gmail.com/plus/test+alias@gmail.com",
                Some("proxy-value/api/user/test%2Balias@gmail.com/plus/test+alias@gmail.com"),
                "/stage/proxy-value/api/user/test%2Balias@gmail.com/plus/test+alias@gmail.com",
                "/{proxy+}",
            ),
        ];
        for (target, path, proxy, ctx_path, resource) in rows {
            let e = Req::get(target).event();
            assert_eq!(e["path"], path, "{target}");
            assert_eq!(e["requestContext"]["path"], ctx_path, "{target}");
            assert_eq!(e["resource"], resource, "{target}");
            assert_eq!(e["requestContext"]["resourcePath"], resource, "{target}");
            match proxy {
                Some(p) => assert_eq!(e["pathParameters"]["proxy"], p, "{target}"),
                None => assert!(e["pathParameters"].is_null(), "{target}"),
            }
        }
    }

    #[test]
    fn path_parameters() {
        let e = Req::get("/stage/pets/42").event();
        assert_eq!(e["pathParameters"], serde_json::json!({"petId": "42"}));
        assert_eq!(e["resource"], "/pets/{petId}");
        assert_eq!(e["path"], "/pets/42");
    }

    #[test]
    fn binary_body_is_base64() {
        let mut r = Req::get("/stage/upload").header("Content-Type", "image/png");
        r.method = "PUT";
        r.body = vec![0x89, b'P', b'N', b'G', 0xff, 0x00];
        r.binary = true;
        let e = r.event();
        assert_eq!(e["isBase64Encoded"], true);
        assert_eq!(e["body"], "iVBOR/8A");
        // Not binary: text, invalid UTF-8 replaced.
        r.binary = false;
        let e = r.event();
        assert_eq!(e["isBase64Encoded"], false);
        assert_eq!(e["body"], "\u{fffd}PNG\u{fffd}\u{0}");
    }

    #[test]
    fn authorizer_and_api_key_extension_points() {
        let snap = snapshot();
        let mut info = info();
        info.authorizer = Some(std::sync::Arc::from(vec![
            ("principalId".to_string(), "user-1".to_string()),
            ("number".to_string(), "1".to_string()),
            ("claims.sub".to_string(), "abc".to_string()),
            ("claims.email".to_string(), "a@b.c".to_string()),
            ("flag".to_string(), "true".to_string()),
        ]));
        info.identity.api_key = Some("key-value".into());
        info.identity.api_key_id = Some("key-id".into());
        let map = http::HeaderMap::new();
        let view = hardcoded_view(&snap, &info, &map);
        let req = EventRequest::new(&view, b"");
        let json = proxy_event(&req);
        let e: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            e["requestContext"]["authorizer"],
            serde_json::json!({"principalId": "user-1", "number": "1", "claims": {"sub": "abc", "email": "a@b.c"}, "flag": "true"})
        );
        assert!(json.contains(r#""apiId":"abc123defg","authorizer":{"principalId":"user-1","#));
        assert_eq!(e["requestContext"]["identity"]["apiKey"], "key-value");
        assert_eq!(e["requestContext"]["identity"]["apiKeyId"], "key-id");
        // The same values reach `$context` in mapping templates.
        use crate::vtl::TemplateContext;
        let var = |name: &str| view.context_var(name).map(|v| v.into_owned());
        assert_eq!(var("authorizer.principalId").as_deref(), Some("user-1"));
        assert_eq!(var("authorizer.claims.sub").as_deref(), Some("abc"));
        assert_eq!(var("identity.apiKeyId").as_deref(), Some("key-id"));
        assert_eq!(var("identity.userArn"), None);
        let keys: Vec<String> = view.authorizer_vars().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["number", "claims.sub", "claims.email", "flag"]);
    }

    #[test]
    fn events_deserialize_into_the_aws_lambda_events_type() {
        use aws_lambda_events::apigw::ApiGatewayProxyRequest;
        let mut post = Req::get("/stage/pets/7?a=1&a=2&b=x").header("Cookie", "c=1");
        post.method = "GET";
        let mut binary = Req::get("/stage/upload").header("Content-Type", "image/png");
        binary.method = "PUT";
        binary.body = vec![0xff, 0xfe];
        binary.binary = true;
        let mut vars = Req::get("/vars/hardcoded");
        vars.stage = "vars";
        for r in [Req::get("/stage/hardcoded"), post, binary, vars] {
            let json = r.json();
            let e: ApiGatewayProxyRequest =
                serde_json::from_str(&json).unwrap_or_else(|err| panic!("{err}: {json}"));
            assert_eq!(e.http_method.as_str(), r.method);
            assert_eq!(e.request_context.stage.as_deref(), Some(r.stage));
            assert_eq!(e.request_context.request_time_epoch, 1_764_076_867_123);
            assert_eq!(
                e.request_context.identity.source_ip.as_deref(),
                Some("192.0.2.7")
            );
            assert_eq!(e.is_base64_encoded, r.binary);
            assert_eq!(e.body.is_none(), r.body.is_empty());
        }
        let e: ApiGatewayProxyRequest =
            serde_json::from_str(&Req::get("/stage/pets/7?a=1&a=2&b=x").json()).unwrap();
        assert_eq!(
            e.path_parameters.get("petId").map(String::as_str),
            Some("7")
        );
        assert_eq!(
            e.multi_value_query_string_parameters.all("a"),
            Some(vec!["1", "2"])
        );
        assert_eq!(e.resource.as_deref(), Some("/pets/{petId}"));
    }

    // --- §4.2 result table -------------------------------------------------------------------

    fn ok(payload: &str) -> ProxyResponse {
        proxy_response(payload.as_bytes(), false).unwrap_or_else(|e| panic!("{payload}: {e:?}"))
    }

    fn bad(payload: &str) -> ProxyError {
        let e = proxy_response(payload.as_bytes(), false).expect_err(payload);
        assert_eq!(e.status, 502, "{payload}");
        assert_eq!(e.failure.kind, GatewayResponseType::IntegrationFailure);
        assert_eq!(e.failure.message.as_deref(), Some("Internal server error"));
        e
    }

    fn headers(r: &ProxyResponse) -> Vec<(&str, &str)> {
        r.headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn status_only_gets_empty_json_response() {
        let r = ok(r#"{"statusCode":200}"#);
        assert_eq!(r.status, 200);
        assert!(r.body.is_empty());
        assert_eq!(headers(&r), [("Content-Type", "application/json")]);
    }

    #[test]
    fn header_values_are_stringified() {
        let r = ok(
            r#"{"statusCode":200,"headers":{"test-header":"value","header-bool":true,"n":1.5,"i":7,"gone":null}}"#,
        );
        assert_eq!(
            headers(&r),
            [
                ("test-header", "value"),
                ("header-bool", "true"),
                ("n", "1.5"),
                ("i", "7"),
                ("Content-Type", "application/json")
            ]
        );
        bad(r#"{"statusCode":200,"headers":{"h":{"a":1}}}"#);
        bad(r#"{"statusCode":200,"headers":"x"}"#);
    }

    #[test]
    fn null_headers_are_fine() {
        let r = ok(
            r#"{"statusCode":200,"headers":null,"multiValueHeaders":null,"body":null,"isBase64Encoded":null}"#,
        );
        assert_eq!(r.status, 200);
        assert!(r.body.is_empty());
    }

    #[test]
    fn multi_value_headers_repeat_the_header() {
        let r = ok(r#"{"statusCode":200,"multiValueHeaders":{"test-multi":["value1","value2"]}}"#);
        assert_eq!(
            headers(&r),
            [
                ("test-multi", "value1"),
                ("test-multi", "value2"),
                ("Content-Type", "application/json")
            ]
        );
    }

    #[test]
    fn multi_value_and_single_headers_merge_multi_first() {
        let r = ok(
            r#"{"statusCode":200,"multiValueHeaders":{"test-multi":["value-multi"]},"headers":{"test-multi":"value-solo"}}"#,
        );
        assert_eq!(
            &headers(&r)[..2],
            [("test-multi", "value-multi"), ("test-multi", "value-solo")]
        );
        let r = ok(
            r#"{"statusCode":200,"multiValueHeaders":{"tesT-Multi":["value-multi"]},"headers":{"test-multi":"value-solo"}}"#,
        );
        assert_eq!(
            &headers(&r)[..2],
            [("tesT-Multi", "value-multi"), ("tesT-Multi", "value-solo")]
        );
        // Key order in the document does not matter: multi values still come first.
        let r = ok(
            r#"{"headers":{"Set-Cookie":"c=3"},"multiValueHeaders":{"set-cookie":["a=1","b=2"]}}"#,
        );
        assert_eq!(
            &headers(&r)[..3],
            [
                ("set-cookie", "a=1"),
                ("set-cookie", "b=2"),
                ("set-cookie", "c=3")
            ]
        );
    }

    #[test]
    fn multi_value_header_not_a_list_is_502() {
        bad(r#"{"statusCode":200,"multiValueHeaders":{"test-multi-invalid":"value1"}}"#);
        bad(r#"{"statusCode":200,"multiValueHeaders":["a"]}"#);
    }

    #[test]
    fn status_code_forms() {
        assert_eq!(ok(r#"{"statusCode":"201"}"#).status, 201);
        assert_eq!(ok(r#"{"statusCode":404,"body":"nope"}"#).status, 404);
        bad(r#"{"statusCode":"test"}"#);
        bad(r#"{"statusCode":true}"#);
        bad(r#"{"statusCode":200.5}"#);
        bad(r#"{"statusCode":-1}"#);
        bad(r#"{"statusCode":700}"#);
        bad(r#"{"statusCode":70000}"#);
    }

    #[test]
    fn unknown_key_is_502() {
        let e = bad(r#"{"statusCode":200,"wrongValue":"value"}"#);
        assert!(
            e.reason.contains("Malformed Lambda proxy response"),
            "{}",
            e.reason
        );
        bad(r#"{"statusCode":200,"base64Encoded":true}"#);
    }

    #[test]
    fn missing_status_code_is_200() {
        let r = ok(r#"{"headers":{"test-header":"value"}}"#);
        assert_eq!(r.status, 200);
        assert_eq!(headers(&r)[0], ("test-header", "value"));
    }

    #[test]
    fn empty_object_is_200_empty() {
        let r = ok("{}");
        assert_eq!(r.status, 200);
        assert!(r.body.is_empty());
        assert_eq!(ok(" \n{}\n").status, 200);
    }

    #[test]
    fn non_objects_are_502() {
        for p in [
            r#""justAString""#,
            "[]",
            r#"[200]"#,
            "42",
            "null",
            "",
            "{",
            "not json",
        ] {
            bad(p);
        }
    }

    #[test]
    fn body_must_be_a_string() {
        assert_eq!(ok(r#"{"body":"hello"}"#).body, b"hello");
        bad(r#"{"statusCode":200,"body":{"a":1}}"#);
        bad(r#"{"statusCode":200,"body":1}"#);
        bad(r#"{"statusCode":200,"isBase64Encoded":"yes"}"#);
    }

    #[test]
    fn function_content_type_wins() {
        let r = ok(r#"{"headers":{"content-type":"text/plain"},"body":"x"}"#);
        assert_eq!(headers(&r), [("content-type", "text/plain")]);
    }

    #[test]
    fn base64_body_decoded_only_for_binary_accept() {
        let p = br#"{"statusCode":200,"body":"dGVzdC1kYXRh","isBase64Encoded":true}"#;
        assert_eq!(proxy_response(p, false).unwrap().body, b"dGVzdC1kYXRh");
        assert_eq!(proxy_response(p, true).unwrap().body, b"test-data");
        // isBase64Encoded false: text even for a binary Accept.
        let p = br#"{"statusCode":200,"body":"dGVzdC1kYXRh","isBase64Encoded":false}"#;
        assert_eq!(proxy_response(p, true).unwrap().body, b"dGVzdC1kYXRh");
        // Line-wrapped base64 (Python's encodebytes) decodes.
        let p = br#"{"body":"dGVzdC1k\nYXRh\n","isBase64Encoded":true}"#;
        assert_eq!(proxy_response(p, true).unwrap().body, b"test-data");
    }

    #[test]
    fn undecodable_base64_is_500() {
        let p = r#"{"statusCode":200,"body":"èé+à)(","isBase64Encoded":true,"headers":{"Content-Type":"image/png"}}"#;
        let e = proxy_response(p.as_bytes(), true).unwrap_err();
        assert_eq!(e.status, 500);
        assert_eq!(e.failure.kind, GatewayResponseType::ApiConfigurationError);
        assert_eq!(e.failure.message.as_deref(), Some("Internal server error"));
        // Without a binary Accept the same result passes as text.
        assert_eq!(
            proxy_response(p.as_bytes(), false).unwrap().body,
            "èé+à)(".as_bytes()
        );
    }

    #[test]
    fn unrepresentable_headers_are_502() {
        bad(r#"{"headers":{"bad name":"v"}}"#);
        bad(r#"{"headers":{"x":"a\r\nInjected: 1"}}"#);
    }

    #[test]
    fn function_errors_are_502() {
        let payload = br#"{"errorMessage":"boom","errorType":"Exception","stackTrace":["a"]}"#;
        let e = proxy_result(Some("Unhandled"), payload, false).unwrap_err();
        assert_eq!(e.status, 502);
        assert_eq!(e.failure.kind, GatewayResponseType::IntegrationFailure);
        assert!(e.reason.ends_with("customer function error: boom"));
        let e = proxy_result(Some("Handled"), br#"{"statusCode":200}"#, false).unwrap_err();
        assert_eq!(e.status, 502);
        assert_eq!(
            proxy_result(None, br#"{"statusCode":204}"#, false)
                .unwrap()
                .status,
            204
        );
        // An error payload without the header is still not a proxy response.
        assert_eq!(proxy_result(None, payload, false).unwrap_err().status, 502);
        let f: Failure = e.into();
        assert_eq!(f.kind, GatewayResponseType::IntegrationFailure);
    }

    #[test]
    fn error_messages() {
        let p = br#"{"errorMessage":"Error: Raising four hundred from within the Lambda function","errorType":"Exception"}"#;
        assert_eq!(
            error_message(p).as_deref(),
            Some("Error: Raising four hundred from within the Lambda function")
        );
        assert_eq!(
            error_message(br#"{"errorMessage":42}"#).as_deref(),
            Some("42")
        );
        assert_eq!(error_message(br#"{"errorType":"X"}"#), None);
        assert_eq!(error_message(br#""Pass""#), None);
        assert_eq!(error_message(b"garbage"), None);
    }

    // --- function names ----------------------------------------------------------------------

    fn fref(
        name: &str,
        q: Option<&str>,
        region: Option<&str>,
        account: Option<&str>,
    ) -> FunctionRef {
        FunctionRef {
            name: name.into(),
            qualifier: q.map(Into::into),
            region: region.map(Into::into),
            account: account.map(Into::into),
        }
    }

    #[test]
    fn function_names_from_uris() {
        let cases = [
            (
                "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-west-2:123456789012:function:echo/invocations",
                fref("echo", None, Some("us-west-2"), Some("123456789012")),
            ),
            (
                "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:echo:live/invocations",
                fref("echo", Some("live"), Some("eu-west-1"), Some("123456789012")),
            ),
            (
                "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:${stageVariables.fn}:${stageVariables.alias}/invocations",
                fref("${stageVariables.fn}", Some("${stageVariables.alias}"), Some("us-east-1"), Some("123456789012")),
            ),
            (
                "arn:aws-cn:apigateway:cn-north-1:lambda:path/2015-03-31/functions/echo/invocations",
                fref("echo", None, Some("cn-north-1"), None),
            ),
            (
                "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/123456789012:function:echo:7/invocations",
                fref("echo", Some("7"), Some("us-east-1"), Some("123456789012")),
            ),
            (
                "arn:aws:lambda:us-east-1:123456789012:function:echo",
                fref("echo", None, Some("us-east-1"), Some("123456789012")),
            ),
            ("echo", fref("echo", None, None, None)),
            ("echo:prod", fref("echo", Some("prod"), None, None)),
        ];
        for (uri, want) in cases {
            assert_eq!(function_name(uri), Some(want), "{uri}");
        }
        for uri in [
            "",
            "arn:aws:apigateway:us-east-1:sqs:path/123/queue",
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/echo",
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions//invocations",
            "arn:aws:lambda:us-east-1:123456789012:layer:x",
            "a:b:c:d",
            "has/slash",
        ] {
            assert_eq!(function_name(uri), None, "{uri}");
        }
    }

    #[test]
    fn stage_variables_resolve() {
        let f = function_name("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:${stageVariables.fn}:${stageVariables.alias}/invocations").unwrap();
        let vars: BTreeMap<String, String> = [("fn", "echo"), ("alias", "live")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let r = f.resolve(&vars).unwrap();
        assert_eq!(
            (r.name.as_str(), r.qualifier.as_deref()),
            ("echo", Some("live"))
        );
        assert_eq!(f.resolve(&BTreeMap::new()), Err("fn".to_string()));
        assert_eq!(
            substitute_stage_variables("pre-${stageVariables.fn}-post", &vars).unwrap(),
            "pre-echo-post"
        );
    }
}
