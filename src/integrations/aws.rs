//! AWS service integrations (`type: AWS`), request side: the integration URI
//! (`arn:aws:apigateway:{region}:{service}:path/...` or `...:action/{Action}`) compiled at
//! load, and per request the signed call to the service (AWS digest §3.1, §3.5, §3.6).
//!
//! Pure: the caller renders the body (request template), evaluates the parameter mappings
//! (or lets [`AwsIntegration::mapped`] do it), sends the [`AwsRequest`] and handles the
//! response.

use crate::auth::sigv4::{self, Credentials, Payload, Settings};
use crate::config::model::Integration as Spec;
use crate::mapping::{Source, Values};
use crate::responses::GatewayResponseType;
use percent_encoding::{utf8_percent_encode, AsciiSet};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::http::{split_pieces, substitute_stage_variables, Piece};
use super::Failure;

pub const INVALID_ARN: &str = "Invalid ARN specified in the request";
pub const NO_PATH_OR_ACTION: &str = "AWS ARN for integration must contain path or action";

/// Header mapping targets AWS refuses for AWS integrations: every request gets a 500.
const ILLEGAL_HEADER_TARGETS: &[&str] = &[
    "authorization",
    "connection",
    "content-length",
    "expect",
    "proxy-authenticate",
    "te",
    "transfer-encoding",
];
/// Mapped headers not sent: dropped by AWS (`referer`) or owned by the gateway and signer.
const NOT_SENT: &[&str] = &[
    "referer",
    "host",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
    "x-amzn-trace-id",
];
/// Sent but not signed: values a proxy on the way may rewrite.
const UNSIGNED_HEADERS: &[&str] = &["user-agent", "x-amzn-trace-id", "content-length"];

/// A parsed integration URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn {
    /// `aws`, `aws-cn` or `aws-us-gov`.
    pub partition: String,
    pub region: String,
    /// `mybucket` in `mybucket.s3`: the host's leading labels.
    pub subdomain: Option<String>,
    /// The service as the URI names it (`sqs`, `s3`); keys `awsEndpoints`.
    pub service: String,
    pub call: ArnCall,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArnCall {
    /// `path/{path}`: the text after `path/` (may hold `?query`, `{placeholders}` and
    /// `${stageVariables.x}`).
    Path(String),
    /// `action/{Action}`; `params` is what followed an `&` (`Bucket={bucket}&Key={key}`).
    Action { name: String, params: String },
}

/// Parses `arn:aws:apigateway:{region}:{[subdomain.]service}:{path|action}/{rest}` with AWS's
/// error messages.
pub fn parse_arn(uri: &str) -> Result<Arn, String> {
    let parts: Vec<&str> = uri.splitn(6, ':').collect();
    let [arn, partition, apigateway, region, service, rest] = parts[..] else {
        return Err(INVALID_ARN.into());
    };
    let partition_ok = matches!(partition, "aws" | "aws-cn" | "aws-us-gov");
    let label_ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
    };
    if arn != "arn" || !partition_ok || apigateway != "apigateway" || !label_ok(region) {
        return Err(INVALID_ARN.into());
    }
    if !label_ok(service) || service.starts_with('.') || service.ends_with('.') {
        return Err(INVALID_ARN.into());
    }
    let (subdomain, service) = match service.rsplit_once('.') {
        Some((sub, svc)) => (Some(sub.to_string()), svc.to_string()),
        None => (None, service.to_string()),
    };
    let call = if let Some(p) = rest.strip_prefix("path/") {
        ArnCall::Path(p.to_string())
    } else if let Some(a) = rest.strip_prefix("action/") {
        let (name, params) = a.split_once('&').unwrap_or((a, ""));
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(INVALID_ARN.into());
        }
        ArnCall::Action {
            name: name.to_string(),
            params: params.to_string(),
        }
    } else {
        return Err(NO_PATH_OR_ACTION.into());
    };
    Ok(Arn {
        partition: partition.to_string(),
        region: region.to_string(),
        subdomain,
        service,
        call,
    })
}

/// Where requests for one integration go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsEndpoint {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// The Host header: `host`, or `host:port` when the port is not the scheme's default.
    pub authority: String,
    /// A path prefix from an `awsEndpoints` URL ("" for none), without a trailing slash.
    pub base_path: String,
}

/// Parses an `awsEndpoints` value: an absolute `http://` or `https://` URL, optionally with a
/// path prefix; no query or fragment.
pub fn parse_endpoint_url(url: &str) -> Result<AwsEndpoint, String> {
    let bad = || format!("`{url}` is not an absolute http:// or https:// URL");
    let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(bad());
    };
    if rest.contains(['?', '#', ' ']) {
        return Err(bad());
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let default = if tls { 443 } else { 80 };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(bad)?;
        match after.strip_prefix(':') {
            Some(p) => (h, p.parse().map_err(|_| bad())?),
            None if after.is_empty() => (h, default),
            None => return Err(bad()),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().map_err(|_| bad())?),
            None => (authority, default),
        }
    };
    if host.is_empty() || authority.contains('@') {
        return Err(bad());
    }
    Ok(AwsEndpoint {
        tls,
        host: host.to_string(),
        port,
        authority: if port == default {
            authority
                .strip_suffix(&format!(":{port}"))
                .unwrap_or(authority)
                .to_string()
        } else {
            authority.to_string()
        },
        base_path: path.trim_end_matches('/').to_string(),
    })
}

/// The name a service signs with, where it differs from its endpoint prefix.
pub fn signing_name(service: &str) -> &str {
    match service {
        "email" => "ses",
        "appsync-api" => "appsync",
        s => s,
    }
}

/// The public endpoint of a service: `{subdomain.}{service}.{region}.amazonaws.com`
/// (`.amazonaws.com.cn` in China); IAM, Route 53 and CloudFront are global.
pub fn default_host(partition: &str, service: &str, region: &str, sub: Option<&str>) -> String {
    let suffix = if partition == "aws-cn" || region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    let base = match service {
        "iam" | "route53" | "cloudfront" if partition == "aws" => format!("{service}.{suffix}"),
        _ => format!("{service}.{region}.{suffix}"),
    };
    match sub {
        Some(s) => format!("{s}.{base}"),
        None => base,
    }
}

/// The region a global service signs in.
fn signing_region<'a>(service: &str, region: &'a str) -> &'a str {
    match service {
        "iam" | "route53" | "cloudfront" => "us-east-1",
        _ => region,
    }
}

/// `X-Amz-Target` prefix that API Gateway adds to action-style calls of JSON-protocol
/// services.
fn target_prefix(service: &str) -> Option<&'static str> {
    match service {
        "dynamodb" => Some("DynamoDB_20120810"),
        "kinesis" => Some("Kinesis_20131202"),
        "states" => Some("AWSStepFunctions"),
        _ => None,
    }
}

/// Credentials from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`.
pub fn credentials_from_env() -> Option<Credentials> {
    credentials_from(|k| std::env::var(k).ok())
}

/// Credentials from a variable lookup; None unless both key id and secret are set.
pub fn credentials_from(get: impl Fn(&str) -> Option<String>) -> Option<Credentials> {
    let non_empty = |k: &str| get(k).filter(|v| !v.is_empty());
    Some(Credentials {
        access_key_id: non_empty("AWS_ACCESS_KEY_ID")?,
        secret_access_key: non_empty("AWS_SECRET_ACCESS_KEY")?,
        session_token: non_empty("AWS_SESSION_TOKEN"),
    })
}

/// The credentials an AWS integration signs with. `credentials` (the integration's field)
/// names an IAM user of `iam.users` by ARN (`arn:aws:iam::{account}:user/{name}`) whose keys
/// are used; a role ARN, or no `credentials`, signs with the environment's credentials (`env`:
/// a role cannot be assumed without AWS STS).
pub fn integration_credentials(
    credentials: Option<&str>,
    users: &[crate::config::model::IamUser],
    env: Option<Arc<Credentials>>,
) -> Result<Option<Arc<Credentials>>, String> {
    let Some(arn) = credentials else {
        return Ok(env);
    };
    let invalid =
        || format!("Invalid ARN specified in the request: `{arn}` is not an IAM user or role ARN");
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, _partition, "iam", "", _account, resource] = parts[..] else {
        return Err(invalid());
    };
    if prefix != "arn" {
        return Err(invalid());
    }
    if resource.starts_with("role/") {
        return Ok(env);
    }
    let name = resource
        .strip_prefix("user/")
        .map(|path| path.rsplit('/').next().unwrap_or(path))
        .ok_or_else(invalid)?;
    if name == "*" {
        return Err(format!(
            "`{arn}`: passing the caller's credentials through is not supported; name an IAM \
             user of `iam.users` or a role"
        ));
    }
    let user = users
        .iter()
        .find(|u| u.name == name)
        .ok_or_else(|| format!("`{arn}`: no user `{name}` in `iam.users`"))?;
    Ok(Some(Arc::new(Credentials {
        access_key_id: user.access_key_id.clone(),
        secret_access_key: user.secret_access_key.clone(),
        session_token: user.session_token.clone(),
    })))
}

/// A `type: AWS` method integration: the service call, and the templates and integration
/// responses around it.
pub struct AwsService {
    pub service: AwsIntegration,
    pub custom: super::custom::NonProxy,
}

/// A compiled `type: AWS` integration.
#[derive(Debug)]
pub struct AwsIntegration {
    pub arn: Arn,
    pub endpoint: AwsEndpoint,
    /// The name and region the signature is scoped to.
    pub signing_name: String,
    pub signing_region: String,
    /// None: the client's method (`httpMethod: ANY`).
    pub method: Option<String>,
    pub timeout: Duration,
    /// None: requests fail with a 500, as AWS does for an integration without permission.
    pub credentials: Option<Arc<Credentials>>,
    pub settings: Settings,
    /// A mapping targets a header AWS refuses: every request gets a 500.
    pub illegal_header_mapping: bool,
    /// Path (after any endpoint prefix) with placeholders; starts with `/`.
    path: Vec<Piece>,
    /// Query text from the URI (`Action=...`, inline action parameters, `?` of a path).
    query: Vec<Piece>,
    amz_target: Option<String>,
    path_params: Vec<(String, Source)>,
    query_params: Vec<(String, Source)>,
    header_params: Vec<(String, Source)>,
}

/// Evaluated `integration.request.*` values (missing and empty ones left out). Template
/// overrides (`$context.requestOverride.*`) are applied by editing these.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mapped {
    pub path: Vec<(String, String)>,
    /// One entry per value: a multi-value source gives repeated names.
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
}

/// Per-request facts the call needs besides the mapped values.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub api_id: &'a str,
    pub trace_id: &'a str,
    /// The client's method, used when `httpMethod` is ANY.
    pub client_method: &'a str,
    /// The client's Content-Type, the default for methods that carry a body.
    pub client_content_type: Option<&'a str>,
    pub stage_variables: &'a BTreeMap<String, String>,
    pub time: SystemTime,
}

/// A signed request, ready for the HTTP client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsRequest {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub authority: String,
    pub method: String,
    /// Path and query, encoded.
    pub target: String,
    /// Host first; Content-Length included (do not add another).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Why no request could be made; both are AWS's 500 `Internal server error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsError {
    MissingCredentials,
    IllegalHeaderMapping(String),
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AwsError::MissingCredentials => f.write_str(
                "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
                 (and AWS_SESSION_TOKEN for temporary credentials)",
            ),
            AwsError::IllegalHeaderMapping(h) => {
                write!(f, "header `{h}` cannot be mapped for an AWS integration")
            }
        }
    }
}

impl AwsError {
    pub fn failure(&self) -> Failure {
        Failure {
            kind: GatewayResponseType::ApiConfigurationError,
            message: Some("Internal server error".into()),
        }
    }
}

impl AwsIntegration {
    /// Compiles `spec` (`type: AWS`) against the `awsEndpoints` overrides; `credentials`
    /// are read once per configuration (see [`credentials_from_env`]).
    pub fn compile(
        spec: &Spec,
        aws_endpoints: &BTreeMap<String, String>,
        credentials: Option<Arc<Credentials>>,
    ) -> Result<AwsIntegration, String> {
        let uri = spec.uri.as_deref().ok_or(INVALID_ARN)?;
        let arn = parse_arn(uri)?;
        if arn.region.contains('$') || arn.service.contains('$') {
            return Err(
                "the region and service of an AWS integration URI must not use stage variables"
                    .into(),
            );
        }
        let method = match spec.http_method.as_deref() {
            None | Some("") => {
                return Err("Enumeration value for HttpMethod must be non-empty".into())
            }
            Some(m) if m.eq_ignore_ascii_case("ANY") => None,
            Some(m) => Some(m.to_ascii_uppercase()),
        };
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
                    illegal |= is_illegal_header(n);
                    header_params.push((n.to_string(), src));
                }
                _ => return Err(format!("invalid integration request parameter `{target}`")),
            }
        }
        let subdomain = arn.subdomain.as_deref();
        let (endpoint, sub_path) = match aws_endpoints.get(&arn.service) {
            Some(url) => {
                let ep = parse_endpoint_url(url)
                    .map_err(|e| format!("awsEndpoints.{}: {e}", arn.service))?;
                // A local S3 has no per-bucket host names: the bucket moves into the path.
                let sub_path = match subdomain {
                    Some(s) if arn.service == "s3" => format!("/{s}"),
                    _ => String::new(),
                };
                (ep, sub_path)
            }
            None => {
                let host = default_host(&arn.partition, &arn.service, &arn.region, subdomain);
                let ep = AwsEndpoint {
                    tls: true,
                    authority: host.clone(),
                    host,
                    port: 443,
                    base_path: String::new(),
                };
                (ep, String::new())
            }
        };
        let (path_text, query_text, amz_target) = match &arn.call {
            ArnCall::Path(p) => {
                let (p, q) = p.split_once('?').unwrap_or((p, ""));
                (
                    format!("{}{sub_path}/{p}", endpoint.base_path),
                    q.to_string(),
                    None,
                )
            }
            ArnCall::Action { name, params } => {
                let mut q = format!("Action={name}");
                if !params.is_empty() {
                    q.push('&');
                    q.push_str(params);
                }
                let target = target_prefix(&arn.service).map(|p| format!("{p}.{name}"));
                (format!("{}{sub_path}/", endpoint.base_path), q, target)
            }
        };
        let path = split_pieces(&path_text);
        let query = split_pieces(&query_text);
        for p in path.iter().chain(&query) {
            if let Piece::Param(name) = p {
                if !path_params.iter().any(|(n, _)| n == name) {
                    return Err(format!(
                        "the URI placeholder {{{name}}} needs a mapping integration.request.path.{name}"
                    ));
                }
            }
        }
        let signing = signing_name(&arn.service).to_string();
        Ok(AwsIntegration {
            settings: Settings::for_service(&signing),
            signing_region: signing_region(&arn.service, &arn.region).to_string(),
            signing_name: signing,
            endpoint,
            method,
            timeout: Duration::from_millis(spec.timeout_in_millis.unwrap_or(29_000)),
            credentials,
            illegal_header_mapping: illegal,
            path,
            query,
            amz_target,
            path_params,
            query_params,
            header_params,
            arn,
        })
    }

    /// Evaluates the `integration.request.*` mappings.
    pub fn mapped(&self, v: &dyn Values) -> Mapped {
        let eval = |list: &[(String, Source)]| -> Vec<(String, String)> {
            list.iter()
                .filter_map(|(n, s)| {
                    s.eval(v)
                        .filter(|x| !x.is_empty())
                        .map(|x| (n.clone(), x.into_owned()))
                })
                .collect()
        };
        let mut query = Vec::new();
        for (name, src) in &self.query_params {
            query.extend(
                src.eval_query(v)
                    .into_iter()
                    .map(|x| (name.clone(), x.into_owned())),
            );
        }
        Mapped {
            path: eval(&self.path_params),
            query,
            headers: eval(&self.header_params),
        }
    }

    /// The signed request for a rendered `body` and the `mapped` parameter values.
    pub fn request(
        &self,
        mapped: &Mapped,
        body: &[u8],
        call: &Call,
    ) -> Result<AwsRequest, AwsError> {
        if self.illegal_header_mapping {
            let name = self
                .header_params
                .iter()
                .map(|(n, _)| n.as_str())
                .find(|n| is_illegal_header(n))
                .unwrap_or_default();
            return Err(AwsError::IllegalHeaderMapping(name.to_string()));
        }
        if let Some((n, _)) = mapped.headers.iter().find(|(n, _)| is_illegal_header(n)) {
            return Err(AwsError::IllegalHeaderMapping(n.clone()));
        }
        let creds = self
            .credentials
            .as_deref()
            .ok_or(AwsError::MissingCredentials)?;
        let method = self
            .method
            .clone()
            .unwrap_or_else(|| call.client_method.to_ascii_uppercase());
        let body: &[u8] = if matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS") {
            &[]
        } else {
            body
        };
        let (path, query) = self.target(mapped, call.stage_variables);
        let headers = self.headers(mapped, call, &method, body);
        let to_sign: Vec<(&str, &str)> = headers
            .iter()
            .filter(|(k, _)| !UNSIGNED_HEADERS.iter().any(|u| k.eq_ignore_ascii_case(u)))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let signed = sigv4::sign(
            &sigv4::Request {
                method: &method,
                path: &path,
                query: &query,
                headers: &to_sign,
                payload: Payload::Bytes(body),
            },
            creds,
            &self.signing_region,
            &self.signing_name,
            call.time,
            &self.settings,
        );
        let mut headers = headers;
        headers.extend(signed.headers.into_iter().map(|(k, v)| (k.to_string(), v)));
        let target = if query.is_empty() {
            path
        } else {
            format!("{path}?{query}")
        };
        Ok(AwsRequest {
            tls: self.endpoint.tls,
            host: self.endpoint.host.clone(),
            port: self.endpoint.port,
            authority: self.endpoint.authority.clone(),
            method,
            target,
            headers,
            body: body.to_vec(),
        })
    }

    /// The encoded path and query string.
    fn target(&self, mapped: &Mapped, vars: &BTreeMap<String, String>) -> (String, String) {
        let fill = |pieces: &[Piece], set: &'static AsciiSet| {
            let mut out = String::with_capacity(64);
            for p in pieces {
                match p {
                    Piece::Text(t) => push_literal(&mut out, &substitute(t, vars)),
                    Piece::Param(name) => {
                        if let Some((_, v)) = mapped.path.iter().find(|(n, _)| n == name) {
                            out.extend(utf8_percent_encode(v, set));
                        }
                    }
                }
            }
            out
        };
        let path = fill(&self.path, sigv4::PATH);
        let mut query = fill(&self.query, sigv4::UNRESERVED);
        for (name, value) in &mapped.query {
            if !query.is_empty() {
                query.push('&');
            }
            query.extend(utf8_percent_encode(name, sigv4::UNRESERVED));
            query.push('=');
            query.extend(utf8_percent_encode(value, sigv4::UNRESERVED));
        }
        (path, query)
    }

    /// Mapped headers, then AWS's defaults, unsigned framing last.
    fn headers(
        &self,
        mapped: &Mapped,
        call: &Call,
        method: &str,
        body: &[u8],
    ) -> Vec<(String, String)> {
        let mut h: Vec<(String, String)> = Vec::with_capacity(mapped.headers.len() + 8);
        h.push(("Host".into(), self.endpoint.authority.clone()));
        for (k, v) in &mapped.headers {
            if !NOT_SENT.iter().any(|n| k.eq_ignore_ascii_case(n)) {
                h.retain(|(e, _)| !e.eq_ignore_ascii_case(k));
                h.push((k.clone(), v.clone()));
            }
        }
        let has = |h: &[(String, String)], name: &str| {
            h.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
        };
        if !has(&h, "accept") {
            h.push(("Accept".into(), "application/json".into()));
        }
        if !has(&h, "content-type") && !matches!(method, "GET" | "HEAD" | "OPTIONS") {
            let ct = call
                .client_content_type
                .filter(|c| !c.is_empty())
                .or((!body.is_empty()).then_some("application/json"));
            if let Some(ct) = ct {
                h.push(("Content-Type".into(), ct.to_string()));
            }
        }
        if let (Some(t), false) = (&self.amz_target, has(&h, "x-amz-target")) {
            h.push(("X-Amz-Target".into(), t.clone()));
        }
        if !has(&h, "user-agent") {
            h.push((
                "User-Agent".into(),
                format!("AmazonAPIGateway_{}", call.api_id),
            ));
        }
        h.push(("X-Amzn-Trace-Id".into(), call.trace_id.to_string()));
        h.push(("Content-Length".into(), body.len().to_string()));
        h
    }
}

fn is_illegal_header(name: &str) -> bool {
    ILLEGAL_HEADER_TARGETS
        .iter()
        .any(|i| name.eq_ignore_ascii_case(i))
}

/// `${stageVariables.x}` replaced; an undefined variable becomes "" (as AWS does).
fn substitute<'a>(s: &'a str, vars: &BTreeMap<String, String>) -> std::borrow::Cow<'a, str> {
    if s.contains("${stageVariables.") {
        substitute_stage_variables(s, vars).into()
    } else {
        s.into()
    }
}

/// Appends URI text as written, encoding only what cannot appear in a request line
/// (controls, space, DEL, non-ASCII).
fn push_literal(out: &mut String, s: &str) {
    for b in s.bytes() {
        if b <= b' ' || b >= 0x7f {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::{Location, TestParams};

    fn v() -> TestParams {
        TestParams(vec![
            (Location::Path, "key", "dir/a b+c.txt"),
            (Location::QueryString, "msg", "hello world & more"),
            (Location::MultiValueQueryString, "tag", "a,b"),
            (Location::Header, "h", "v"),
        ])
    }

    fn creds() -> Option<Arc<Credentials>> {
        Some(Arc::new(Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        }))
    }

    fn spec(yaml: &str) -> Spec {
        serde_yaml::from_str(yaml).unwrap()
    }

    fn call<'a>(vars: &'a BTreeMap<String, String>) -> Call<'a> {
        Call {
            api_id: "petstore",
            trace_id: "Root=1-5f3a1b2c-000000000000000000000000",
            client_method: "POST",
            client_content_type: Some("application/json"),
            stage_variables: vars,
            time: sigv4::parse_amz_date("20240102T030405Z").unwrap(),
        }
    }

    fn header<'a>(r: &'a AwsRequest, name: &str) -> Option<&'a str> {
        r.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn arns() {
        let a = parse_arn("arn:aws:apigateway:us-west-2:s3:path/{bucket}/{key}").unwrap();
        assert_eq!((a.region.as_str(), a.service.as_str()), ("us-west-2", "s3"));
        assert_eq!(a.call, ArnCall::Path("{bucket}/{key}".into()));
        let a = parse_arn("arn:aws:apigateway:us-east-1:mybucket.s3:path/key").unwrap();
        assert_eq!(a.subdomain.as_deref(), Some("mybucket"));
        let a = parse_arn("arn:aws:apigateway:us-east-1:s3:action/GetObject&Bucket={b}").unwrap();
        assert_eq!(
            a.call,
            ArnCall::Action {
                name: "GetObject".into(),
                params: "Bucket={b}".into()
            }
        );
        let lambda = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:f/invocations";
        assert!(
            matches!(parse_arn(lambda).unwrap().call, ArnCall::Path(p) if p.ends_with("function:f/invocations"))
        );
        assert_eq!(
            parse_arn("arn:aws:apigateway:us-east-1:sqs:queue/x").unwrap_err(),
            NO_PATH_OR_ACTION
        );
        for bad in [
            "http://example.com",
            "arn:aws:apigateway:us-east-1:sqs",
            "arn:aws:lambda:us-east-1:sqs:path/x",
            "arn:aws:apigateway::sqs:path/x",
            "arn:aws:apigateway:us-east-1:sqs:action/",
        ] {
            assert_eq!(parse_arn(bad).unwrap_err(), INVALID_ARN, "{bad}");
        }
    }

    #[test]
    fn endpoints() {
        let e = parse_endpoint_url("http://127.0.0.1:4566").unwrap();
        assert_eq!((e.tls, e.host.as_str(), e.port), (false, "127.0.0.1", 4566));
        assert_eq!(
            (e.authority.as_str(), e.base_path.as_str()),
            ("127.0.0.1:4566", "")
        );
        let e = parse_endpoint_url("https://example.com:443/prefix/").unwrap();
        assert_eq!(
            (e.authority.as_str(), e.base_path.as_str()),
            ("example.com", "/prefix")
        );
        let e = parse_endpoint_url("http://[::1]:9000").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("::1", 9000));
        for bad in [
            "localhost:4566",
            "ftp://x",
            "http://",
            "http://h:x",
            "http://h/?q",
        ] {
            assert!(parse_endpoint_url(bad).is_err(), "{bad}");
        }
        assert_eq!(
            default_host("aws", "sqs", "eu-west-1", None),
            "sqs.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            default_host("aws", "s3", "us-east-1", Some("b")),
            "b.s3.us-east-1.amazonaws.com"
        );
        assert_eq!(
            default_host("aws-cn", "sqs", "cn-north-1", None),
            "sqs.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            default_host("aws", "iam", "eu-west-1", None),
            "iam.amazonaws.com"
        );
        assert_eq!(signing_name("email"), "ses");
    }

    #[test]
    fn credentials_come_from_the_standard_variables() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(credentials_from(env(&[("AWS_ACCESS_KEY_ID", "a")])).is_none());
        let c = credentials_from(env(&[
            ("AWS_ACCESS_KEY_ID", "a"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_SESSION_TOKEN", ""),
        ]))
        .unwrap();
        assert_eq!((c.access_key_id.as_str(), c.session_token), ("a", None));
    }

    #[test]
    fn integration_credentials_name_an_iam_user_or_a_role() {
        let users = vec![crate::config::model::IamUser {
            name: "sqs-writer".into(),
            access_key_id: "AKIDUSER".into(),
            secret_access_key: "user-secret".into(),
            ..Default::default()
        }];
        let env = Some(Arc::new(Credentials {
            access_key_id: "AKIDENV".into(),
            secret_access_key: "env-secret".into(),
            session_token: None,
        }));
        let key = |arn: Option<&str>| {
            integration_credentials(arn, &users, env.clone())
                .map(|c| c.map(|c| c.access_key_id.clone()))
        };
        assert_eq!(key(None), Ok(Some("AKIDENV".into())));
        assert_eq!(
            key(Some("arn:aws:iam::123456789012:user/sqs-writer")),
            Ok(Some("AKIDUSER".into()))
        );
        assert_eq!(
            key(Some("arn:aws:iam::123456789012:user/team/sqs-writer")),
            Ok(Some("AKIDUSER".into())),
            "a user path"
        );
        assert_eq!(
            key(Some("arn:aws:iam::123456789012:role/apigw-sqs")),
            Ok(Some("AKIDENV".into()))
        );
        for bad in [
            "arn:aws:iam::123456789012:user/nobody",
            "arn:aws:iam::*:user/*",
            "arn:aws:s3:::bucket",
            "not-an-arn",
        ] {
            assert!(key(Some(bad)).is_err(), "{bad}");
        }
    }

    /// SQS SendMessage, action style: `Action` and the mapped parameters in the query
    /// string, signed for `sqs`. The expected signature was computed independently with
    /// botocore's SigV4Auth over the same request.
    #[test]
    fn sqs_action_request() {
        let s = spec(
            r#"
type: AWS
httpMethod: POST
uri: arn:aws:apigateway:us-east-1:sqs:action/SendMessage
requestParameters:
  integration.request.querystring.QueueUrl: "'https://sqs.us-east-1.amazonaws.com/123456789012/q'"
  integration.request.querystring.MessageBody: method.request.querystring.msg
  integration.request.header.Content-Type: "'application/x-www-form-urlencoded'"
"#,
        );
        let a = AwsIntegration::compile(&s, &BTreeMap::new(), creds()).unwrap();
        let vars = BTreeMap::new();
        let r = a.request(&a.mapped(&v()), b"", &call(&vars)).unwrap();
        assert_eq!(
            (r.tls, r.host.as_str(), r.port),
            (true, "sqs.us-east-1.amazonaws.com", 443)
        );
        assert_eq!(r.method, "POST");
        assert_eq!(
            r.target,
            "/?Action=SendMessage&MessageBody=hello%20world%20%26%20more&QueueUrl=https%3A%2F%2Fsqs.us-east-1.amazonaws.com%2F123456789012%2Fq"
        );
        let names: Vec<&str> = r.headers.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "Host",
                "Content-Type",
                "Accept",
                "User-Agent",
                "X-Amzn-Trace-Id",
                "Content-Length",
                "X-Amz-Date",
                "Authorization"
            ]
        );
        assert_eq!(header(&r, "user-agent"), Some("AmazonAPIGateway_petstore"));
        assert_eq!(header(&r, "content-length"), Some("0"));
        assert_eq!(
            header(&r, "authorization"),
            Some("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240102/us-east-1/sqs/aws4_request, SignedHeaders=accept;content-type;host;x-amz-date, Signature=236560ea584463c50151bea0df21177e7cb5052537bc12649fbb9b04c00bd741")
        );
    }

    #[test]
    fn json_protocol_actions_get_their_target() {
        let s = spec("{type: AWS, httpMethod: POST, uri: 'arn:aws:apigateway:eu-west-1:dynamodb:action/PutItem'}");
        let a = AwsIntegration::compile(&s, &BTreeMap::new(), creds()).unwrap();
        let vars = BTreeMap::new();
        let r = a
            .request(&Mapped::default(), br#"{"TableName":"t"}"#, &call(&vars))
            .unwrap();
        assert_eq!(r.host, "dynamodb.eu-west-1.amazonaws.com");
        assert_eq!(
            header(&r, "x-amz-target"),
            Some("DynamoDB_20120810.PutItem")
        );
        assert_eq!(header(&r, "content-type"), Some("application/json"));
        assert_eq!(header(&r, "content-length"), Some("17"));
        assert!(header(&r, "authorization").unwrap().contains(
            "/eu-west-1/dynamodb/aws4_request, SignedHeaders=accept;content-type;host;x-amz-date;x-amz-target,"
        ));
        assert_eq!(r.body, br#"{"TableName":"t"}"#);
    }

    #[test]
    fn s3_path_with_override_and_session_token() {
        let s = spec(
            r#"
type: AWS
httpMethod: PUT
uri: arn:aws:apigateway:us-east-1:mybucket.s3:path/${stageVariables.prefix}/{key}
requestParameters:
  integration.request.path.key: method.request.path.key
  integration.request.querystring.tag: method.request.multivaluequerystring.tag
  integration.request.header.X-Amz-Meta-H: method.request.header.h
  integration.request.header.Host: "'evil.example.com'"
"#,
        );
        let mut endpoints = BTreeMap::new();
        endpoints.insert("s3".to_string(), "http://127.0.0.1:5055/".to_string());
        let mut c = (*creds().unwrap()).clone();
        c.session_token = Some("TOKEN".into());
        let a = AwsIntegration::compile(&s, &endpoints, Some(Arc::new(c))).unwrap();
        let mut vars = BTreeMap::new();
        vars.insert("prefix".to_string(), "up loads".to_string());
        let r = a.request(&a.mapped(&v()), b"data", &call(&vars)).unwrap();
        assert_eq!((r.tls, r.authority.as_str()), (false, "127.0.0.1:5055"));
        assert_eq!(
            r.target,
            "/mybucket/up%20loads/dir/a%20b%2Bc.txt?tag=a&tag=b"
        );
        assert_eq!(header(&r, "host"), Some("127.0.0.1:5055"));
        assert_eq!(header(&r, "x-amz-meta-h"), Some("v"));
        assert_eq!(header(&r, "x-amz-security-token"), Some("TOKEN"));
        assert_eq!(
            header(&r, "x-amz-content-sha256"),
            Some(sigv4::sha256_hex(b"data").as_str())
        );
        let auth = header(&r, "authorization").unwrap();
        assert!(auth.contains("/us-east-1/s3/aws4_request, SignedHeaders=accept;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-meta-h;x-amz-security-token,"), "{auth}");
    }

    #[test]
    fn any_method_and_bodiless_methods() {
        let s = spec("{type: AWS, httpMethod: ANY, uri: 'arn:aws:apigateway:us-east-1:sns:action/ListTopics'}");
        let a = AwsIntegration::compile(&s, &BTreeMap::new(), creds()).unwrap();
        let vars = BTreeMap::new();
        let mut c = call(&vars);
        c.client_method = "get";
        let r = a.request(&Mapped::default(), b"ignored", &c).unwrap();
        assert_eq!((r.method.as_str(), r.body.len()), ("GET", 0));
        assert_eq!(header(&r, "content-type"), None);
        assert_eq!(header(&r, "content-length"), Some("0"));
    }

    #[test]
    fn failures() {
        let vars = BTreeMap::new();
        let s = spec("{type: AWS, httpMethod: POST, uri: 'arn:aws:apigateway:us-east-1:sqs:action/ListQueues'}");
        let a = AwsIntegration::compile(&s, &BTreeMap::new(), None).unwrap();
        let e = a
            .request(&Mapped::default(), b"", &call(&vars))
            .unwrap_err();
        assert_eq!(e, AwsError::MissingCredentials);
        assert_eq!(e.failure().kind, GatewayResponseType::ApiConfigurationError);
        let s = spec("{type: AWS, httpMethod: POST, uri: 'arn:aws:apigateway:us-east-1:sqs:action/ListQueues', requestParameters: {integration.request.header.Authorization: \"'x'\"}}");
        let a = AwsIntegration::compile(&s, &BTreeMap::new(), creds()).unwrap();
        assert!(matches!(
            a.request(&Mapped::default(), b"", &call(&vars)),
            Err(AwsError::IllegalHeaderMapping(_))
        ));
        for (yaml, msg) in [
            (
                "{type: AWS, uri: 'arn:aws:apigateway:us-east-1:sqs:action/X'}",
                "HttpMethod must be non-empty",
            ),
            (
                "{type: AWS, httpMethod: GET, uri: 'arn:aws:apigateway:us-east-1:s3:path/{key}'}",
                "integration.request.path.key",
            ),
            ("{type: AWS, httpMethod: GET}", INVALID_ARN),
        ] {
            let e = AwsIntegration::compile(&spec(yaml), &BTreeMap::new(), creds()).unwrap_err();
            assert!(e.contains(msg), "{yaml}: {e}");
        }
        let mut bad = BTreeMap::new();
        bad.insert("sqs".to_string(), "localhost:4566".to_string());
        assert!(AwsIntegration::compile(&s, &bad, creds()).is_err());
    }
}
