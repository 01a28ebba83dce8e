//! Lambda authorizers, TOKEN and REQUEST (reference §3): identity sources, the input events,
//! the output contract and the policy the function returns, evaluated against the method
//! ARN. Pure: the invocation itself is the caller's.

use super::policy::{Attached, Policy};
use crate::integrations::lambda::{self, EventRequest};
use crate::pipeline::RequestView;
use crate::vtl::TemplateContext;
use regex::Regex;
use serde_json::Value;
use std::fmt::Write as _;
use std::time::Duration;

/// Where an identity value comes from (`identitySource`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySource {
    /// `method.request.header.NAME` (case-insensitive).
    Header(String),
    /// `method.request.querystring.NAME`.
    QueryString(String),
    /// `stageVariables.NAME`.
    StageVariable(String),
    /// `context.VAR`, a `$context` variable.
    Context(String),
}

impl IdentitySource {
    /// Parses a comma-separated `identitySource`.
    pub fn parse_list(s: &str) -> Result<Vec<IdentitySource>, String> {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(IdentitySource::parse)
            .collect()
    }

    pub fn parse(s: &str) -> Result<IdentitySource, String> {
        let named = |rest: &str| {
            (!rest.is_empty())
                .then(|| rest.to_string())
                .ok_or_else(|| format!("identity source `{s}` names nothing"))
        };
        if let Some(rest) = s.strip_prefix("method.request.header.") {
            Ok(IdentitySource::Header(named(rest)?.to_ascii_lowercase()))
        } else if let Some(rest) = s.strip_prefix("method.request.querystring.") {
            Ok(IdentitySource::QueryString(named(rest)?))
        } else if let Some(rest) = s.strip_prefix("stageVariables.") {
            Ok(IdentitySource::StageVariable(named(rest)?))
        } else if let Some(rest) = s.strip_prefix("context.") {
            Ok(IdentitySource::Context(named(rest)?))
        } else if s.starts_with("method.request.path.") {
            Err(format!(
                "identity source `{s}`: path parameters cannot be identity sources"
            ))
        } else {
            Err(format!(
                "identity source `{s}` must be method.request.header.NAME, \
                 method.request.querystring.NAME, stageVariables.NAME or context.NAME"
            ))
        }
    }

    /// The value in this request; None when missing or empty.
    pub fn value<'a>(&self, view: &'a RequestView<'a>) -> Option<std::borrow::Cow<'a, str>> {
        let v = match self {
            IdentitySource::Header(n) => view.input_param_in("header", n),
            IdentitySource::QueryString(n) => view.input_param_in("querystring", n),
            IdentitySource::StageVariable(n) => view.stage_var(n).map(std::borrow::Cow::Borrowed),
            IdentitySource::Context(n) => view.context_var(n),
        };
        v.filter(|v| !v.is_empty())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Token,
    Request,
}

/// How long AWS waits for an authorizer function.
pub const AUTHORIZER_TIMEOUT: Duration = Duration::from_secs(10);

/// A compiled TOKEN or REQUEST authorizer.
pub struct LambdaAuthorizer {
    pub kind: Kind,
    pub identity_sources: Vec<IdentitySource>,
    /// TOKEN: `identityValidationExpression`, with Java's whole-string match.
    pub validation: Option<Regex>,
    /// `authorizerResultTtlInSeconds`; zero turns the result cache off.
    pub ttl: Duration,
}

/// Why the function is not invoked, or what its answer means, when it is not a grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 401 `Unauthorized`.
    Unauthorized,
    /// 403: the policy denies the method explicitly.
    Denied,
    /// 403: the policy allows other methods only.
    NotAllowed,
    /// 500 `AuthorizerConfigurationException`; the reason is logged.
    Misconfigured(String),
}

/// The identity of one request: the token (TOKEN) and the result-cache key.
#[derive(Debug, PartialEq, Eq)]
pub struct Identity {
    pub token: Option<String>,
    /// None: the result is not cached.
    pub cache_key: Option<String>,
}

impl LambdaAuthorizer {
    /// Reads the identity sources. A missing or empty one (TOKEN, or REQUEST with caching)
    /// or a token the validation expression rejects is `Unauthorized`, without invoking.
    pub fn identity(&self, view: &RequestView<'_>) -> Result<Identity, Refusal> {
        match self.kind {
            Kind::Token => {
                let source = self.identity_sources.first();
                let token = source
                    .and_then(|s| s.value(view))
                    .ok_or(Refusal::Unauthorized)?;
                if let Some(re) = &self.validation {
                    if !re.is_match(&token) {
                        return Err(Refusal::Unauthorized);
                    }
                }
                let token = token.into_owned();
                let cache_key = (!self.ttl.is_zero()).then(|| token.clone());
                Ok(Identity {
                    token: Some(token),
                    cache_key,
                })
            }
            Kind::Request if self.ttl.is_zero() => Ok(Identity {
                token: None,
                cache_key: None,
            }),
            Kind::Request => {
                let mut key = String::new();
                for s in &self.identity_sources {
                    let v = s.value(view).ok_or(Refusal::Unauthorized)?;
                    // Length-prefixed so that no two value lists share a key.
                    let _ = write!(key, "{}:{v}", v.len());
                }
                Ok(Identity {
                    token: None,
                    cache_key: Some(key),
                })
            }
        }
    }

    /// The function's input event (§3.2).
    pub fn event(&self, view: &RequestView<'_>, token: Option<&str>, method_arn: &str) -> String {
        match self.kind {
            Kind::Token => serde_json::json!({
                "type": "TOKEN",
                "authorizationToken": token.unwrap_or(""),
                "methodArn": method_arn,
            })
            .to_string(),
            Kind::Request => {
                // The proxy event without its body, after `type` and `methodArn`.
                // The headers keep the client's name casing, as in a proxy event.
                let mut cased: Vec<(String, String)> = Vec::new();
                if let Some(h) = view.cased_headers {
                    h.each(&mut |k, v| cased.push((k.to_string(), v.to_string())));
                }
                let pairs: Vec<(&[u8], &[u8])> = cased
                    .iter()
                    .map(|(k, v)| (k.as_bytes(), v.as_bytes()))
                    .collect();
                let mut request = EventRequest::new(view, b"");
                request.headers = &pairs;
                let proxy = lambda::proxy_event(&request);
                let rest = proxy.strip_prefix('{').unwrap_or(&proxy);
                let rest = rest
                    .strip_suffix(",\"body\":null,\"isBase64Encoded\":false}")
                    .map_or_else(|| rest.to_string(), |r| format!("{r}}}"));
                let mut out = String::with_capacity(rest.len() + method_arn.len() + 48);
                out.push_str("{\"type\":\"REQUEST\",\"methodArn\":");
                out.push_str(&Value::String(method_arn.to_string()).to_string());
                out.push(',');
                out.push_str(&rest);
                out
            }
        }
    }
}

/// What a function granted (§3.3), as cached.
#[derive(Debug, Clone)]
pub struct AuthorizerOutput {
    pub principal_id: String,
    pub policy: Policy,
    /// `context`, values stringified as AWS passes them on (`1` → `"1"`); `null`s left out.
    pub context: Vec<(String, String)>,
    pub usage_identifier_key: Option<String>,
}

impl AuthorizerOutput {
    /// `$context.authorizer.*`: `principalId`, then the context keys.
    pub fn values(&self) -> Vec<(String, String)> {
        let mut v = Vec::with_capacity(self.context.len() + 1);
        v.push(("principalId".to_string(), self.principal_id.clone()));
        v.extend(
            self.context
                .iter()
                .filter(|(k, _)| k != "principalId")
                .cloned(),
        );
        v
    }
}

/// The outcome of one invocation: `function_error` is `X-Amz-Function-Error`.
pub fn parse_result(
    function_error: Option<&str>,
    payload: &[u8],
) -> Result<AuthorizerOutput, Refusal> {
    if function_error.is_some() {
        return match lambda::error_message(payload).as_deref() {
            Some("Unauthorized") => Err(Refusal::Unauthorized),
            other => Err(Refusal::Misconfigured(format!(
                "function error: {}",
                other.unwrap_or("(no message)")
            ))),
        };
    }
    let bad = |m: &str| Refusal::Misconfigured(m.to_string());
    let v: Value = serde_json::from_slice(payload).map_err(|_| bad("output is not JSON"))?;
    let o = v
        .as_object()
        .ok_or_else(|| bad("output is not an object"))?;
    let principal_id = match o.get("principalId") {
        Some(Value::String(s)) => s.clone(),
        _ => return Err(bad("principalId missing or not a string")),
    };
    let policy = compile_policy(
        o.get("policyDocument")
            .ok_or_else(|| bad("policyDocument missing"))?,
    )
    .map_err(|e| Refusal::Misconfigured(format!("policyDocument: {e}")))?;
    let mut context = Vec::new();
    match o.get("context") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                match v {
                    Value::String(s) => context.push((k.clone(), s.clone())),
                    Value::Number(n) => context.push((k.clone(), n.to_string())),
                    Value::Bool(b) => context.push((k.clone(), b.to_string())),
                    Value::Null => {}
                    _ => {
                        return Err(Refusal::Misconfigured(format!(
                            "context value `{k}` is an object or array"
                        )))
                    }
                }
            }
        }
        Some(_) => return Err(bad("context is not an object")),
    }
    let usage_identifier_key = match o.get("usageIdentifierKey") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(bad("usageIdentifierKey is not a string")),
    };
    Ok(AuthorizerOutput {
        principal_id,
        policy,
        context,
        usage_identifier_key,
    })
}

/// A Resource in an authorizer policy is at most this long (DG limits).
const MAX_RESOURCE_LEN: usize = 512;

/// Compiles a `policyDocument` (no Principal: it applies to the caller the function named).
fn compile_policy(doc: &Value) -> Result<Policy, String> {
    let statements = match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(s @ Value::Object(_)) => vec![s],
        _ => Vec::new(),
    };
    for s in statements {
        let long = match s.get("Resource") {
            Some(Value::String(r)) => r.len() > MAX_RESOURCE_LEN,
            Some(Value::Array(a)) => a
                .iter()
                .any(|r| r.as_str().is_some_and(|r| r.len() > MAX_RESOURCE_LEN)),
            _ => false,
        };
        if long {
            return Err(format!(
                "a Resource is longer than {MAX_RESOURCE_LEN} characters"
            ));
        }
    }
    Policy::compile(doc, Attached::Identity)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::policy::Decision;
    use serde_json::json;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:api/prod/GET/pets/7";

    #[test]
    fn identity_sources_parse() {
        assert_eq!(
            IdentitySource::parse_list(
                "method.request.header.Auth, method.request.querystring.Name,stageVariables.s, context.httpMethod"
            ),
            Ok(vec![
                IdentitySource::Header("auth".into()),
                IdentitySource::QueryString("Name".into()),
                IdentitySource::StageVariable("s".into()),
                IdentitySource::Context("httpMethod".into()),
            ])
        );
        assert!(IdentitySource::parse("method.request.path.id")
            .unwrap_err()
            .contains("path parameters"));
        assert!(IdentitySource::parse("header.x").is_err());
        assert!(IdentitySource::parse("method.request.header.").is_err());
    }

    fn output(v: Value) -> Result<AuthorizerOutput, Refusal> {
        parse_result(None, v.to_string().as_bytes())
    }

    #[test]
    fn output_contract() {
        let policy = json!({"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":ARN}]});
        let o = output(json!({"principalId":"my-username","policyDocument":policy,
            "context":{"str":"hello","num":123,"bool":true,"null":null},"usageIdentifierKey":"k"}))
        .unwrap();
        assert_eq!(
            o.values(),
            vec![
                ("principalId".to_string(), "my-username".to_string()),
                ("bool".to_string(), "true".to_string()),
                ("num".to_string(), "123".to_string()),
                ("str".to_string(), "hello".to_string()),
            ]
        );
        assert_eq!(o.usage_identifier_key.as_deref(), Some("k"));
        let req = |resource| crate::auth::policy::Request {
            action: "execute-api:Invoke",
            resource,
            caller: crate::auth::policy::Caller::Anonymous,
            source_ip: None,
            user_agent: None,
            referer: None,
            secure_transport: false,
        };
        assert_eq!(o.policy.evaluate(&req(ARN)), Decision::Allow);
        assert_eq!(
            o.policy.evaluate(&req(&ARN.replace("GET", "POST"))),
            Decision::ImplicitDeny
        );

        for bad in [
            json!({"principalId":"u","policyDocument":policy,"context":{"obj":{"a":1}}}),
            json!({"principalId":"u","policyDocument":policy,"context":{"arr":[1]}}),
            json!({"policyDocument":policy}),
            json!({"principalId":"u"}),
            json!({"principalId":7,"policyDocument":policy}),
            json!({"statusCode":401,"body":"no"}),
            json!({"principalId":"u","policyDocument":{"Statement":[{"Effect":"allow","Action":"*","Resource":"*"}]}}),
            json!({"principalId":"u","policyDocument":{"Statement":[{"Effect":"Allow","Action":"*","Resource":"r".repeat(513)}]}}),
            json!("Allow"),
        ] {
            assert!(
                matches!(output(bad.clone()), Err(Refusal::Misconfigured(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            parse_result(None, b"not json"),
            Err(Refusal::Misconfigured(_))
        ));
    }

    #[test]
    fn function_errors() {
        let unauthorized = br#"{"errorMessage":"Unauthorized","errorType":"Exception"}"#;
        assert!(matches!(
            parse_result(Some("Unhandled"), unauthorized),
            Err(Refusal::Unauthorized)
        ));
        let other = br#"{"errorMessage":"Error: Invalid token"}"#;
        assert!(matches!(
            parse_result(Some("Unhandled"), other),
            Err(Refusal::Misconfigured(_))
        ));
        assert!(matches!(
            parse_result(Some("Unhandled"), b""),
            Err(Refusal::Misconfigured(_))
        ));
    }
}
