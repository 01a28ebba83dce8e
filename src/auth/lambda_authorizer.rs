//! Lambda authorizers, TOKEN and REQUEST (reference §3): identity sources, the input events,
//! the output contract and the policy the function returns, evaluated against the method
//! ARN. Pure: the invocation itself is the caller's.

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

/// `arn:aws:execute-api:{region}:{account}:{api}/{stage}/{VERB}/{path}`: the path as the
/// client sent it, without its leading `/`.
pub fn method_arn(
    region: &str,
    account: &str,
    api: &str,
    stage: &str,
    verb: &str,
    path: &str,
) -> String {
    let path = path.strip_prefix('/').unwrap_or(path);
    format!("arn:aws:execute-api:{region}:{account}:{api}/{stage}/{verb}/{path}")
}

/// What a function granted (§3.3), as cached.
#[derive(Debug, Clone, PartialEq)]
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
    let policy = Policy::parse(
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

/// An authorizer's policy: Allow/Deny statements on `execute-api` actions and method ARNs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    statements: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Statement {
    allow: bool,
    /// Lower-cased patterns (action names are case-insensitive).
    actions: Vec<String>,
    resources: Vec<String>,
    /// Statements with a `Condition` block are not applied (conditions are not evaluated
    /// for authorizer policies in this build).
    conditional: bool,
}

/// A policy's verdict on one method ARN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// An explicit Deny.
    Deny,
    /// No statement applies.
    Implicit,
}

/// A Resource in an authorizer policy is at most this long (DG limits).
const MAX_RESOURCE_LEN: usize = 512;

impl Policy {
    pub fn parse(v: &Value) -> Result<Policy, String> {
        let o = v.as_object().ok_or("not an object")?;
        let statements = match o.get("Statement") {
            Some(Value::Array(a)) => a.iter().collect::<Vec<_>>(),
            Some(s @ Value::Object(_)) => vec![s],
            _ => return Err("Statement missing".into()),
        };
        let strings = |v: Option<&Value>, what: &str| -> Result<Vec<String>, String> {
            match v {
                Some(Value::String(s)) => Ok(vec![s.clone()]),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|x| {
                        x.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| format!("{what} entries must be strings"))
                    })
                    .collect(),
                _ => Err(format!("{what} missing")),
            }
        };
        let mut out = Vec::with_capacity(statements.len());
        for s in statements {
            let s = s.as_object().ok_or("a statement is not an object")?;
            let allow = match s.get("Effect").and_then(Value::as_str) {
                Some("Allow") => true,
                Some("Deny") => false,
                _ => return Err("Effect must be Allow or Deny".into()),
            };
            let actions = strings(s.get("Action"), "Action")?
                .into_iter()
                .map(|a| a.to_ascii_lowercase())
                .collect();
            let resources = strings(s.get("Resource"), "Resource")?;
            if resources.iter().any(|r| r.len() > MAX_RESOURCE_LEN) {
                return Err(format!(
                    "a Resource is longer than {MAX_RESOURCE_LEN} characters"
                ));
            }
            out.push(Statement {
                allow,
                actions,
                resources,
                conditional: s.contains_key("Condition"),
            });
        }
        Ok(Policy { statements: out })
    }

    /// `execute-api:Invoke` on `arn`: an explicit Deny wins, then any Allow.
    pub fn decide(&self, arn: &str) -> Decision {
        let mut allowed = false;
        for s in &self.statements {
            if s.conditional {
                continue;
            }
            let action = s.actions.iter().any(|a| wildcard(a, "execute-api:invoke"));
            if !action || !s.resources.iter().any(|r| wildcard(r, arn)) {
                continue;
            }
            if !s.allow {
                return Decision::Deny;
            }
            allowed = true;
        }
        if allowed {
            Decision::Allow
        } else {
            Decision::Implicit
        }
    }
}

/// IAM wildcard matching: `*` is any sequence (also across `:` and `/`), `?` one character.
/// Linear backtracking on the last `*`, so hostile patterns cost O(n·m) at most.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn wildcards() {
        assert!(wildcard("arn:aws:execute-api:*", ARN));
        assert!(wildcard(
            "arn:aws:execute-api:us-east-1:*:api/prod/GET/pets/?",
            ARN
        ));
        assert!(!wildcard(
            "arn:aws:execute-api:us-east-1:*:api/prod/GET/pets/??",
            ARN
        ));
        assert!(wildcard("*", ""));
        assert!(wildcard("a*b*c", "aXXbYYc"));
        assert!(!wildcard("a*b*c", "aXXbYY"));
        assert!(!wildcard(
            "arn:aws:execute-api:us-east-1:*:api/prod/POST/*",
            ARN
        ));
        assert!(!wildcard(
            "arn:aws:execute-api:us-east-1:*:API/prod/GET/*",
            ARN
        ));
        let hostile = "*a".repeat(200);
        assert!(!wildcard(&hostile, &"a".repeat(150)));
    }

    #[test]
    fn policy_decisions() {
        let p = |v: Value| Policy::parse(&v).unwrap();
        let allow_all = p(
            json!({"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"arn:aws:execute-api:*"}]}),
        );
        assert_eq!(allow_all.decide(ARN), Decision::Allow);
        let deny = p(
            json!({"Statement":[{"Action":["execute-api:*"],"Effect":"Allow","Resource":["*"]},
                {"Action":"EXECUTE-API:invoke","Effect":"Deny","Resource":["arn:aws:execute-api:*:*:api/*/GET/pets/*"]}]}),
        );
        assert_eq!(deny.decide(ARN), Decision::Deny);
        let other = p(
            json!({"Statement":{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"arn:aws:execute-api:us-east-1:123456789012:api/prod/POST/pets/7"}}),
        );
        assert_eq!(other.decide(ARN), Decision::Implicit);
        let conditional = p(
            json!({"Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}),
        );
        assert_eq!(conditional.decide(ARN), Decision::Implicit);
        let wrong_action = p(
            json!({"Statement":[{"Action":"execute-api:InvalidateCache","Effect":"Allow","Resource":"*"}]}),
        );
        assert_eq!(wrong_action.decide(ARN), Decision::Implicit);
        for bad in [
            json!({}),
            json!({"Statement":[{"Effect":"allow","Action":"*","Resource":"*"}]}),
            json!({"Statement":[{"Effect":"Allow","Resource":"*"}]}),
            json!({"Statement":[{"Effect":"Allow","Action":"*","Resource":[1]}]}),
            json!({"Statement":[{"Effect":"Allow","Action":"*","Resource":"r".repeat(513)}]}),
        ] {
            assert!(Policy::parse(&bad).is_err(), "{bad}");
        }
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
        assert_eq!(o.policy.decide(ARN), Decision::Allow);

        for bad in [
            json!({"principalId":"u","policyDocument":policy,"context":{"obj":{"a":1}}}),
            json!({"principalId":"u","policyDocument":policy,"context":{"arr":[1]}}),
            json!({"policyDocument":policy}),
            json!({"principalId":"u"}),
            json!({"principalId":7,"policyDocument":policy}),
            json!({"statusCode":401,"body":"no"}),
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
        assert_eq!(
            parse_result(Some("Unhandled"), unauthorized),
            Err(Refusal::Unauthorized)
        );
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

    #[test]
    fn method_arns() {
        assert_eq!(
            method_arn("us-east-1", "1", "api", "prod", "GET", "/pets/a1b2"),
            "arn:aws:execute-api:us-east-1:1:api/prod/GET/pets/a1b2"
        );
        assert_eq!(
            method_arn("us-east-1", "1", "api", "prod", "GET", ""),
            "arn:aws:execute-api:us-east-1:1:api/prod/GET/"
        );
    }
}
