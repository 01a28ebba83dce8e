//! Access control for methods secured by an authorizer (`authorizationType` CUSTOM or
//! COGNITO_USER_POOLS): the compiled authorizers of an API, and [`authorize`], which runs the
//! method's authorizer for one request and says what it granted or which gateway response
//! refuses the request.

use super::authorizer_cache::TtlCache;
use super::jwt::JwtAuthorizer;
use super::lambda_authorizer::{
    self, AuthorizerOutput, IdentitySource, Kind, LambdaAuthorizer, Refusal, AUTHORIZER_TIMEOUT,
};
use super::policy::{Caller, Decision, Request as PolicyRequest};
use crate::compile::{Method, RestApi, Stage, Upstream};
use crate::config::model;
use crate::functions::invoke::{FunctionTarget, InvokeFailure};
use crate::functions::Invocation;
use crate::ids::RequestId;
use crate::integrations::lambda::{self as lambda_integration, FunctionRef};
use crate::integrations::Failure;
use crate::pipeline::RequestView;
use crate::responses::GatewayResponseType as G;
use async_trait::async_trait;
use bytes::Bytes;
use http::HeaderMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Cached authorizer results per stage and authorizer, at most.
const CACHE_CAPACITY: usize = 10_000;

/// A compiled authorizer of a REST API.
pub enum Authorizer {
    Lambda {
        authorizer: LambdaAuthorizer,
        function: FunctionRef,
    },
    Jwt(JwtAuthorizer),
}

impl Authorizer {
    /// Compiles one `authorizers` entry; Err is (field, message).
    pub fn compile(
        a: &model::Authorizer,
        region: &str,
        resolve: crate::compile::Resolver,
    ) -> Result<Authorizer, (&'static str, String)> {
        let default_source = "method.request.header.Authorization";
        match a.kind.as_str() {
            "TOKEN" | "REQUEST" => {
                let kind = if a.kind == "TOKEN" {
                    Kind::Token
                } else {
                    Kind::Request
                };
                let function = a
                    .authorizer_uri
                    .as_deref()
                    .and_then(lambda_integration::function_name)
                    .ok_or_else(|| {
                        (
                            "authorizerUri",
                            "authorizerUri must name a Lambda function \
                             (arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations)"
                                .to_string(),
                        )
                    })?;
                let source = match (&a.identity_source, kind) {
                    (Some(s), _) => s.as_str(),
                    (None, Kind::Token) => default_source,
                    (None, Kind::Request) => "",
                };
                let identity_sources =
                    IdentitySource::parse_list(source).map_err(|e| ("identitySource", e))?;
                let ttl = Duration::from_secs(a.authorizer_result_ttl_in_seconds.unwrap_or(300));
                match kind {
                    Kind::Token
                        if !matches!(identity_sources.as_slice(), [IdentitySource::Header(_)]) =>
                    {
                        return Err((
                            "identitySource",
                            "a TOKEN authorizer's identitySource is one method.request.header.NAME"
                                .into(),
                        ))
                    }
                    Kind::Request if identity_sources.is_empty() && !ttl.is_zero() => {
                        return Err((
                            "identitySource",
                            "a REQUEST authorizer with caching needs an identitySource \
                             (or authorizerResultTtlInSeconds: 0)"
                                .into(),
                        ))
                    }
                    _ => {}
                }
                let validation = match (&a.identity_validation_expression, kind) {
                    (Some(e), Kind::Token) => Some(
                        crate::vtl::jregex::whole_match(e)
                            .map_err(|t| ("identityValidationExpression", t.to_string()))?,
                    ),
                    _ => None,
                };
                Ok(Authorizer::Lambda {
                    authorizer: LambdaAuthorizer {
                        kind,
                        identity_sources,
                        validation,
                        ttl,
                    },
                    function,
                })
            }
            _ => JwtAuthorizer::compile(a, region, resolve).map(Authorizer::Jwt),
        }
    }

    /// The Lambda function a stage invokes, if this is a Lambda authorizer.
    pub fn function(&self) -> Option<&FunctionRef> {
        match self {
            Authorizer::Lambda { function, .. } => Some(function),
            Authorizer::Jwt(_) => None,
        }
    }
}

/// What a stage keeps per authorizer: how it reaches the function, and the result cache.
pub struct StageAuthorizer {
    /// None for JWT authorizers, and for unreachable functions (requests get a 500).
    pub function: Option<FunctionTarget>,
    /// Lambda outputs by identity; `None` is a cached `Unauthorized`.
    pub cache: TtlCache<Option<AuthorizerOutput>>,
}

impl StageAuthorizer {
    pub fn new(function: Option<FunctionTarget>) -> StageAuthorizer {
        StageAuthorizer {
            function,
            cache: TtlCache::new(CACHE_CAPACITY),
        }
    }
}

/// The I/O an authorizer needs: invoking its function, fetching a JWKS.
#[async_trait]
pub trait Calls: Sync {
    async fn invoke(
        &self,
        target: &FunctionTarget,
        payload: Bytes,
        timeout: Duration,
        trace_id: &str,
    ) -> Result<Invocation, InvokeFailure>;

    /// GET `target` from `upstream`; the body of a 200.
    async fn fetch(&self, upstream: &Upstream, target: &str) -> Result<Bytes, String>;
}

/// What access control granted: `$context.authorizer.*` and a Lambda authorizer's
/// `usageIdentifierKey`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Grant {
    pub authorizer: crate::pipeline::AuthorizerValues,
    pub usage_identifier_key: Option<String>,
}

/// What the method's authorizer established: the grant it would give, and (Lambda
/// authorizers) its policy's verdict on the method ARN, which access control combines with
/// the API's resource policy (reference §2.3). Cognito authorizers have no policy: `Allow`.
#[derive(Debug, PartialEq, Eq)]
pub struct Authorized {
    pub grant: Grant,
    pub decision: Decision,
}

/// Runs the routed method's authorizer, if it has one; its policy decides alone.
/// `Ok(None)`: no authorizer applies.
pub async fn authorize(
    view: &RequestView<'_>,
    method_arn: &str,
    calls: &dyn Calls,
) -> Result<Option<Grant>, Failure> {
    match evaluate(view, method_arn, calls, false).await? {
        None => Ok(None),
        Some(a) => match a.decision {
            Decision::Allow => Ok(Some(a.grant)),
            Decision::ExplicitDeny => Err(refused(Refusal::Denied, view)),
            Decision::ImplicitDeny => Err(refused(Refusal::NotAllowed, view)),
        },
    }
}

/// Runs the routed method's authorizer, if it has one, without acting on its policy's
/// verdict. Errors are the refusals that come before any policy: 401 (missing or invalid
/// identity, `Unauthorized`) and 500 (authorizer errors). `secure_transport` is
/// `aws:SecureTransport` for the policy's conditions; `method_arn` the request's.
pub async fn evaluate(
    view: &RequestView<'_>,
    method_arn: &str,
    calls: &dyn Calls,
    secure_transport: bool,
) -> Result<Option<Authorized>, Failure> {
    let (Some(api), Some(stage), Some(method)) =
        (view.landing.api, view.landing.stage, view.landing.method)
    else {
        return Ok(None);
    };
    let Some(index) = method.authorizer else {
        return Ok(None);
    };
    let (Some(authorizer), Some(on_stage)) =
        (api.authorizers.get(index), stage.authorizers.get(index))
    else {
        return Ok(None);
    };
    let result = match authorizer {
        Authorizer::Lambda { authorizer, .. } => {
            lambda(
                authorizer,
                on_stage,
                view,
                method_arn,
                calls,
                secure_transport,
            )
            .await
        }
        Authorizer::Jwt(jwt) => jwt_authorized(jwt, view.headers, method, calls).await,
    };
    result.map(Some).map_err(|r| refused(r, view))
}

/// The method's authorizer when it is a COGNITO_USER_POOLS one, on the stage that runs it:
/// it reads nothing of the request but its headers ([`evaluate_jwt`]).
pub fn jwt_authorizer<'a>(
    api: &'a RestApi,
    stage: &Stage,
    method: &Method,
) -> Option<&'a JwtAuthorizer> {
    let index = method.authorizer?;
    stage.authorizers.get(index)?;
    match api.authorizers.get(index)? {
        Authorizer::Jwt(jwt) => Some(jwt),
        Authorizer::Lambda { .. } => None,
    }
}

/// [`evaluate`] for a method whose authorizer is `jwt` ([`jwt_authorizer`]), without a view
/// of the request: the same answers.
pub async fn evaluate_jwt(
    jwt: &JwtAuthorizer,
    headers: &HeaderMap,
    method: &Method,
    calls: &dyn Calls,
    request_id: &RequestId,
) -> Result<Authorized, Failure> {
    jwt_authorized(jwt, headers, method, calls)
        .await
        .map_err(|r| refusal(r, request_id))
}

async fn jwt_authorized(
    jwt: &JwtAuthorizer,
    headers: &HeaderMap,
    method: &Method,
    calls: &dyn Calls,
) -> Result<Authorized, Refusal> {
    jwt.authorize(headers, &method.authorization_scopes, calls)
        .await
        .map(|claims| Authorized {
            grant: Grant {
                authorizer: claims,
                usage_identifier_key: None,
            },
            decision: Decision::Allow,
        })
}

/// The gateway response for a refusal.
pub fn refused(r: Refusal, view: &RequestView<'_>) -> Failure {
    refusal(r, &view.info.request_id)
}

fn refusal(r: Refusal, request_id: &RequestId) -> Failure {
    match r {
        Refusal::Unauthorized => Failure::new(G::Unauthorized),
        Refusal::Denied => Failure::new(G::AccessDenied),
        Refusal::NotAllowed => Failure {
            kind: G::AccessDenied,
            message: Some("User is not authorized to access this resource".into()),
        },
        Refusal::Misconfigured(why) => {
            log::warn!("{}: authorizer: {why}", request_id.as_str());
            Failure {
                kind: G::AuthorizerConfigurationError,
                message: None,
            }
        }
    }
}

async fn lambda(
    authorizer: &LambdaAuthorizer,
    on_stage: &StageAuthorizer,
    view: &RequestView<'_>,
    arn: &str,
    calls: &dyn Calls,
    secure_transport: bool,
) -> Result<Authorized, Refusal> {
    let identity = authorizer.identity(view)?;
    let now = Instant::now();
    let cached = identity
        .cache_key
        .as_deref()
        .and_then(|k| on_stage.cache.get(k, now));
    let output = match cached {
        Some(o) => o,
        None => {
            let target = on_stage.function.as_ref().ok_or_else(|| {
                Refusal::Misconfigured("the authorizer function cannot be reached".into())
            })?;
            let event = authorizer.event(view, identity.token.as_deref(), arn);
            let invocation = calls
                .invoke(
                    target,
                    Bytes::from(event),
                    AUTHORIZER_TIMEOUT,
                    view.info.trace_id(),
                )
                .await
                .map_err(|e| Refusal::Misconfigured(format!("invocation failed: {e:?}")))?;
            let output = match lambda_authorizer::parse_result(
                invocation.function_error.as_deref(),
                &invocation.payload,
            ) {
                Ok(o) => Some(o),
                Err(Refusal::Unauthorized) => None,
                Err(e) => return Err(e),
            };
            let output = Arc::new(output);
            if let Some(key) = identity.cache_key {
                on_stage
                    .cache
                    .insert(key, output.clone(), now + authorizer.ttl, now);
            }
            output
        }
    };
    let Some(output) = output.as_ref() else {
        return Err(Refusal::Unauthorized);
    };
    // A cached policy is evaluated against each request's own method ARN.
    let header = |n: &str| view.headers.get(n).and_then(crate::pipeline::header_text);
    Ok(Authorized {
        grant: Grant {
            authorizer: output.values().into(),
            usage_identifier_key: output.usage_identifier_key.clone(),
        },
        decision: output.policy.evaluate(&PolicyRequest {
            action: "execute-api:Invoke",
            resource: arn,
            caller: Caller::Anonymous,
            source_ip: view.info.source_ip,
            user_agent: header("user-agent"),
            referer: header("referer"),
            secure_transport,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::arn::method_arn;
    use crate::compile::Snapshot;
    use crate::pipeline::{Landing, RequestInfo};
    use crate::router::HttpMethod;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    use std::time::SystemTime;

    const CONFIG: &str = r#"
server:
  accountId: "123456789012"
functions:
  auth: {command: ["true"]}
restApis:
  - id: api
    authorizers:
      - {name: tok, type: TOKEN, authorizerUri: "arn:aws:lambda:us-east-1:123456789012:function:auth"}
    resources:
      /pets/{id}:
        GET: {authorizationType: CUSTOM, authorizer: tok, integration: {type: MOCK}}
        DELETE: {authorizationType: CUSTOM, authorizer: tok, integration: {type: MOCK}}
      /open:
        GET: {integration: {type: MOCK}}
    stages: [{stageName: prod}]
"#;

    fn snapshot() -> Snapshot {
        let loaded = crate::config::parse(std::path::Path::new("t.yaml"), CONFIG)
            .unwrap_or_else(|d| panic!("{}", d[0]));
        let metrics = crate::metrics::Metrics::new();
        let resolve = |_: &str, _: u16| -> Result<std::net::SocketAddr, String> {
            Err("no DNS in tests".into())
        };
        crate::compile::compile(&loaded.config, &metrics, &resolve)
            .unwrap_or_else(|p| panic!("{:?}", p[0].message))
    }

    /// An authorizer function answering by token, recording the events it gets.
    #[derive(Default)]
    struct Function {
        events: Mutex<Vec<serde_json::Value>>,
        invocations: AtomicUsize,
    }

    #[async_trait]
    impl Calls for Function {
        async fn invoke(
            &self,
            _: &FunctionTarget,
            payload: Bytes,
            _: Duration,
            _: &str,
        ) -> Result<Invocation, InvokeFailure> {
            self.invocations.fetch_add(1, Ordering::SeqCst);
            let event: serde_json::Value = serde_json::from_slice(&payload).unwrap();
            self.events.lock().unwrap().push(event.clone());
            let arn = event["methodArn"].as_str().unwrap_or_default();
            let policy = |effect: &str| {
                serde_json::json!({"Version": "2012-10-17", "Statement": [
                    {"Action": "execute-api:Invoke", "Effect": effect, "Resource": arn}]})
            };
            let (error, body) = match event["authorizationToken"].as_str() {
                Some("allow") => (
                    None,
                    serde_json::json!({"principalId": "u-1", "policyDocument": policy("Allow"),
                        "context": {"n": 1}, "usageIdentifierKey": "key-1"}),
                ),
                Some("deny") => (
                    None,
                    serde_json::json!({"principalId": "u-1", "policyDocument": policy("Deny")}),
                ),
                Some("unauthorized") => (
                    Some("Unhandled".to_string()),
                    serde_json::json!({"errorMessage": "Unauthorized"}),
                ),
                _ => (
                    Some("Unhandled".to_string()),
                    serde_json::json!({"errorMessage": "boom"}),
                ),
            };
            Ok(Invocation {
                payload: Bytes::from(body.to_string()),
                function_error: error,
                request_id: "r".into(),
            })
        }

        async fn fetch(&self, _: &Upstream, _: &str) -> Result<Bytes, String> {
            Err("no JWKS here".into())
        }
    }

    async fn call(
        snap: &Snapshot,
        function: &Function,
        method: HttpMethod,
        path: &str,
        token: Option<&str>,
    ) -> Result<Option<Grant>, Failure> {
        let api = &snap.apis[0];
        let found = api.router.find(method, path).unwrap();
        let mut headers = http::HeaderMap::new();
        if let Some(t) = token {
            headers.insert("authorization", t.parse().unwrap());
        }
        let info = RequestInfo::new(SystemTime::now());
        let params: Vec<(String, String)> = found
            .params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let full = format!("/prod{path}");
        let view = RequestView {
            snapshot: snap,
            landing: Landing {
                api: Some(api),
                stage: Some(&api.stages[0]),
                method: Some(&api.methods[found.method_id]),
            },
            info: &info,
            outcome: None,
            http_method: method.as_str(),
            path: &full,
            query: None,
            headers: &headers,
            path_params: &params,
            body: "",
            base_path: None,
            resource_path: Some(path),
            cased_headers: None,
        };
        let arn = method_arn(
            &snap.server.region,
            &snap.server.account_id,
            &api.id,
            "prod",
            method.as_str(),
            path,
        );
        authorize(&view, &arn, function).await
    }

    #[tokio::test]
    async fn grants_are_cached_by_token_and_evaluated_per_method_arn() {
        let snap = snapshot();
        let f = Function::default();
        let grant = call(&snap, &f, HttpMethod::Get, "/pets/7", Some("allow"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            grant,
            Grant {
                authorizer: vec![
                    ("principalId".into(), "u-1".into()),
                    ("n".into(), "1".into())
                ]
                .into(),
                usage_identifier_key: Some("key-1".into()),
            }
        );
        assert_eq!(
            f.events.lock().unwrap()[0],
            serde_json::json!({"type": "TOKEN", "authorizationToken": "allow",
                "methodArn": "arn:aws:execute-api:us-east-1:123456789012:api/prod/GET/pets/7"})
        );
        assert!(call(&snap, &f, HttpMethod::Get, "/pets/7", Some("allow"))
            .await
            .is_ok());
        let other = call(&snap, &f, HttpMethod::Delete, "/pets/7", Some("allow")).await;
        assert_eq!(
            other,
            Err(Failure {
                kind: G::AccessDenied,
                message: Some("User is not authorized to access this resource".into()),
            })
        );
        assert_eq!(f.invocations.load(Ordering::SeqCst), 1);
        snap.apis[0].stages[0].flush_authorizers();
        assert!(
            call(&snap, &f, HttpMethod::Delete, "/pets/7", Some("allow"))
                .await
                .is_ok()
        );
        assert_eq!(f.invocations.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn refusals() {
        let snap = snapshot();
        let f = Function::default();
        let r = call(&snap, &f, HttpMethod::Get, "/pets/7", None).await;
        assert_eq!(r, Err(Failure::new(G::Unauthorized)));
        assert_eq!(f.invocations.load(Ordering::SeqCst), 0, "not invoked");
        let r = call(&snap, &f, HttpMethod::Get, "/pets/7", Some("deny")).await;
        assert_eq!(r, Err(Failure::new(G::AccessDenied)));
        for _ in 0..2 {
            let r = call(&snap, &f, HttpMethod::Get, "/pets/7", Some("unauthorized")).await;
            assert_eq!(r, Err(Failure::new(G::Unauthorized)));
        }
        assert_eq!(
            f.invocations.load(Ordering::SeqCst),
            2,
            "Unauthorized is cached"
        );
        for _ in 0..2 {
            let r = call(&snap, &f, HttpMethod::Get, "/pets/7", Some("boom")).await;
            assert_eq!(
                r,
                Err(Failure {
                    kind: G::AuthorizerConfigurationError,
                    message: None
                })
            );
        }
        assert_eq!(f.invocations.load(Ordering::SeqCst), 4, "errors are not");
        let open = call(&snap, &f, HttpMethod::Get, "/open", None).await;
        assert_eq!(open, Ok(None));
    }

    #[tokio::test]
    async fn evaluate_leaves_the_policy_verdict_to_the_caller() {
        let snap = snapshot();
        let f = Function::default();
        let api = &snap.apis[0];
        let found = api.router.find(HttpMethod::Get, "/pets/7").unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", "deny".parse().unwrap());
        let info = RequestInfo::new(SystemTime::now());
        let params = vec![("id".to_string(), "7".to_string())];
        let view = RequestView {
            snapshot: &snap,
            landing: Landing {
                api: Some(api),
                stage: Some(&api.stages[0]),
                method: Some(&api.methods[found.method_id]),
            },
            info: &info,
            outcome: None,
            http_method: "GET",
            path: "/prod/pets/7",
            query: None,
            headers: &headers,
            path_params: &params,
            body: "",
            base_path: None,
            resource_path: Some("/pets/7"),
            cased_headers: None,
        };
        let arn = method_arn(
            &snap.server.region,
            &snap.server.account_id,
            &api.id,
            "prod",
            "GET",
            "pets/7",
        );
        let a = evaluate(&view, &arn, &f, false).await.unwrap().unwrap();
        assert_eq!(a.decision, Decision::ExplicitDeny);
        assert_eq!(a.grant.authorizer[0], ("principalId".into(), "u-1".into()));
    }
}
