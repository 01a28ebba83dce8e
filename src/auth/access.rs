//! Access control for one routed request: the API's resource policy combined with the
//! method's `authorizationType`, in the order and by the tables of API Gateway's
//! authorization flow (reference §2.3):
//!
//! * `NONE`: the resource policy, when there is one, must explicitly allow the anonymous
//!   caller.
//! * `AWS_IAM`: SigV4, then the user's identity policies with the resource policy: same
//!   account by Table A (either allows, no explicit deny), another account by Table B (both
//!   allow).
//! * `CUSTOM`: an explicit Deny of the resource policy refuses before the authorizer runs;
//!   the authorizer's policy then combines with the resource policy by Table A
//!   ([`after_authorizer`]).
//! * `COGNITO_USER_POOLS`: the token first, then the resource policy must explicitly allow
//!   ([`after_authorizer`]).
//!
//! [`authorize`] is everything before the authorizer runs; the authorizer itself is
//! [`super::authorizers`]. [`precheck_iam`] is the part of an AWS_IAM verification that
//! needs no body, run before the body is read.

use super::iam::{IamUser, IamUsers};
use super::policy::{self, Caller, Decision, Policy};
use super::verify::{self, ClaimHeaders, Expected, SignedRequest};
use crate::responses::GatewayResponseType as G;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

/// `Method.authorizationType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizationType {
    None,
    AwsIam,
    Custom,
    CognitoUserPools,
}

impl AuthorizationType {
    /// AWS's names; None for any other.
    pub fn parse(s: &str) -> Option<AuthorizationType> {
        match s {
            "NONE" => Some(AuthorizationType::None),
            "AWS_IAM" => Some(AuthorizationType::AwsIam),
            "CUSTOM" => Some(AuthorizationType::Custom),
            "COGNITO_USER_POOLS" => Some(AuthorizationType::CognitoUserPools),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AuthorizationType::None => "NONE",
            AuthorizationType::AwsIam => "AWS_IAM",
            AuthorizationType::Custom => "CUSTOM",
            AuthorizationType::CognitoUserPools => "COGNITO_USER_POOLS",
        }
    }
}

/// What access control knows about the API: where it lives and its resource policy.
#[derive(Debug, Clone, Copy)]
pub struct Api<'a> {
    pub region: &'a str,
    pub account: &'a str,
    pub resource_policy: Option<&'a Policy>,
}

/// The request as access control sees it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub authorization: AuthorizationType,
    /// `arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/{path}`.
    pub method_arn: &'a str,
    pub signed: SignedRequest<'a>,
    /// `signed`'s claim headers when they were found while its headers were listed; None:
    /// read from the list.
    pub claim_headers: Option<ClaimHeaders<'a>>,
    pub source_ip: Option<IpAddr>,
    /// `aws:UserAgent` and `aws:Referer`: may be left None where no policy has a condition.
    pub user_agent: Option<&'a str>,
    pub referer: Option<&'a str>,
    pub secure_transport: bool,
    pub now: SystemTime,
    /// The request asks a cached method for a fresh response (`Cache-Control: max-age=0`):
    /// whether the caller may is worth deciding.
    pub invalidation_requested: bool,
}

/// `$context.identity.*` of an IAM caller: compiled with the user, so that a request shares
/// the values rather than copying them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamIdentity {
    pub access_key: Arc<str>,
    pub account_id: Arc<str>,
    pub caller: Arc<str>,
    pub user: Arc<str>,
    pub user_arn: Arc<str>,
}

/// A request let through.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Grant {
    pub iam: Option<IamIdentity>,
    /// The caller may send `Cache-Control: max-age=0`: an IAM caller of the API's account
    /// allowed `execute-api:InvalidateCache` on the method ARN (cross-account invalidation is
    /// not supported). Decided only when the request asks for it.
    pub may_invalidate_cache: bool,
}

/// A request refused: the gateway response, its `x-amzn-ErrorType` and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub kind: G,
    pub error_type: &'static str,
    pub message: Option<String>,
}

impl Denial {
    fn access_denied(message: String) -> Denial {
        Denial {
            kind: G::AccessDenied,
            error_type: G::AccessDenied.error_type(),
            message: Some(message),
        }
    }
}

const INVOKE: &str = "execute-api:Invoke";
const INVALIDATE_CACHE: &str = "execute-api:InvalidateCache";

/// Runs access control for `req` on `api`.
pub fn authorize(api: &Api, users: &IamUsers, req: &Request) -> Result<Grant, Denial> {
    match req.authorization {
        AuthorizationType::None => {
            resource_policy_allows_anonymous(api, req)?;
            Ok(Grant::default())
        }
        AuthorizationType::AwsIam => authorize_iam(api, users, req),
        AuthorizationType::Custom => {
            if resource_decision(api, req, INVOKE, Caller::Anonymous) == Decision::ExplicitDeny {
                return Err(anonymous_denied(api, req, Decision::ExplicitDeny));
            }
            Ok(Grant::default())
        }
        AuthorizationType::CognitoUserPools => Ok(Grant::default()),
    }
}

/// Table A: an authorizer's (or IAM's) decision with the resource policy's, same account.
pub fn table_a(caller: Decision, resource: Decision) -> Decision {
    caller.and(resource)
}

/// Table B: cross-account IAM callers need both to allow.
pub fn table_b(caller: Decision, resource: Decision) -> Decision {
    match (caller, resource) {
        (Decision::ExplicitDeny, _) | (_, Decision::ExplicitDeny) => Decision::ExplicitDeny,
        (Decision::Allow, Decision::Allow) => Decision::Allow,
        _ => Decision::ImplicitDeny,
    }
}

/// COGNITO_USER_POOLS after the token checked out: with a resource policy, only its explicit
/// Allow lets the request through.
fn cognito_with_resource_policy(api: &Api, req: &Request) -> Result<(), Denial> {
    resource_policy_allows_anonymous(api, req)
}

/// After the method's authorizer granted the request: CUSTOM combines the Lambda
/// authorizer's policy verdict (`authorizer`) with the resource policy by Table A; COGNITO
/// needs the resource policy's explicit Allow when there is one.
pub fn after_authorizer(api: &Api, req: &Request, authorizer: Decision) -> Result<(), Denial> {
    match req.authorization {
        AuthorizationType::CognitoUserPools => cognito_with_resource_policy(api, req),
        AuthorizationType::Custom => {
            let resource = match api.resource_policy {
                Some(_) => resource_decision(api, req, INVOKE, Caller::Anonymous),
                None => Decision::ImplicitDeny,
            };
            match (table_a(authorizer, resource), authorizer) {
                (Decision::Allow, _) => Ok(()),
                (_, Decision::ExplicitDeny) => Err(Denial::access_denied(
                    "User is not authorized to access this resource with an explicit deny".into(),
                )),
                (Decision::ExplicitDeny, _) => {
                    Err(anonymous_denied(api, req, Decision::ExplicitDeny))
                }
                _ => Err(Denial::access_denied(
                    "User is not authorized to access this resource".into(),
                )),
            }
        }
        AuthorizationType::None | AuthorizationType::AwsIam => Ok(()),
    }
}

fn policy_request<'a>(
    req: &Request<'a>,
    action: &'a str,
    caller: Caller<'a>,
) -> policy::Request<'a> {
    policy::Request {
        action,
        resource: req.method_arn,
        caller,
        source_ip: req.source_ip,
        user_agent: req.user_agent,
        referer: req.referer,
        secure_transport: req.secure_transport,
    }
}

fn resource_decision(api: &Api, req: &Request, action: &str, caller: Caller) -> Decision {
    match api.resource_policy {
        Some(p) => p.evaluate(&policy_request(req, action, caller)),
        None => Decision::ImplicitDeny,
    }
}

fn resource_policy_allows_anonymous(api: &Api, req: &Request) -> Result<(), Denial> {
    if api.resource_policy.is_none() {
        return Ok(());
    }
    match resource_decision(api, req, INVOKE, Caller::Anonymous) {
        Decision::Allow => Ok(()),
        d => Err(anonymous_denied(api, req, d)),
    }
}

/// `User: anonymous is not authorized ...`; AWS masks the account id in this message.
fn anonymous_denied(api: &Api, req: &Request, d: Decision) -> Denial {
    let masked = req
        .method_arn
        .replacen(&format!(":{}:", api.account), ":********:", 1);
    Denial::access_denied(not_authorized("anonymous", &masked, d))
}

fn not_authorized(who: &str, arn: &str, d: Decision) -> String {
    let explicit = if d == Decision::ExplicitDeny {
        " with an explicit deny"
    } else {
        ""
    };
    format!(
        "User: {who} is not authorized to perform: execute-api:Invoke on resource: {arn}{explicit}"
    )
}

impl From<verify::SigV4Error> for Denial {
    fn from(e: verify::SigV4Error) -> Denial {
        let (kind, error_type, message) = e.response();
        Denial {
            kind,
            error_type,
            message: Some(message.into_owned()),
        }
    }
}

fn expected<'a>(api: &Api<'a>) -> Expected<'a> {
    Expected {
        region: api.region,
        service: "execute-api",
    }
}

/// An AWS_IAM request's checks that need no body ([`verify::precheck`]): run before the body
/// is read, so that a caller without valid credentials cannot make the gateway buffer one.
/// `signed.body` is not looked at.
pub fn precheck_iam(
    api: &Api,
    users: &IamUsers,
    signed: &SignedRequest,
    now: SystemTime,
) -> Result<(), Denial> {
    Ok(verify::precheck(signed, &expected(api), now, |k| {
        users.lookup(k)
    })?)
}

fn authorize_iam(api: &Api, users: &IamUsers, req: &Request) -> Result<Grant, Denial> {
    let claims = req
        .claim_headers
        .unwrap_or_else(|| ClaimHeaders::of(&req.signed));
    let verified = verify::verify_cached_with(
        &req.signed,
        claims,
        &expected(api),
        req.now,
        |k| users.lookup(k),
        &users.verified,
    )?;
    let user: &IamUser = verified.caller;
    let identity = |action| user.evaluate(&policy_request(req, action, user.caller()));
    let decide = |action| {
        let identity = match (&verified.kept, action) {
            // A replay of a signed request: the identity policies' decision on the same
            // ARN, when it depends on nothing else, is the one made the first time.
            (Some(kept), INVOKE) if user.unconditional() => {
                kept.remembered(req.method_arn).unwrap_or_else(|| {
                    let d = identity(action);
                    kept.remember(req.method_arn, d);
                    d
                })
            }
            _ => identity(action),
        };
        match api.resource_policy {
            None => identity,
            Some(_) => {
                let resource = resource_decision(api, req, action, user.caller());
                if user.account_id == api.account {
                    table_a(identity, resource)
                } else {
                    table_b(identity, resource)
                }
            }
        }
    };
    let d = decide(INVOKE);
    if d != Decision::Allow {
        return Err(Denial::access_denied(not_authorized(
            &user.arn,
            req.method_arn,
            d,
        )));
    }
    Ok(Grant {
        iam: Some(user.identity.clone()),
        may_invalidate_cache: req.invalidation_requested
            && user.account_id == api.account
            && decide(INVALIDATE_CACHE) == Decision::Allow,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::policy::Attached;
    use crate::auth::sigv4::{self, Credentials, Payload, Settings};
    use crate::config::model;
    use serde_json::json;

    const ACCOUNT: &str = "123456789012";

    fn users() -> IamUsers {
        let u = |name: &str, key: &str, account: Option<&str>, policies| model::IamUser {
            name: name.into(),
            access_key_id: key.into(),
            secret_access_key: format!("{name}-secret"),
            account_id: account.map(str::to_string),
            policies,
            ..Default::default()
        };
        let iam = model::Iam {
            users: vec![
                u(
                    "alice",
                    "AKIDALICE",
                    None,
                    vec![json!({"Statement":[
                    {"Effect":"Allow","Action":"execute-api:*","Resource":"arn:aws:execute-api:*:*:api/*"}]})],
                ),
                u(
                    "bob",
                    "AKIDBOB",
                    None,
                    vec![json!({"Statement":[
                    {"Effect":"Allow","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:*:*:api/*/GET/*"},
                    {"Effect":"Deny","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:*:*:api/*/GET/secret"}]})],
                ),
                u(
                    "carol",
                    "AKIDCAROL",
                    Some("210987654321"),
                    vec![json!({"Statement":[
                    {"Effect":"Allow","Action":"execute-api:*","Resource":"*"}]})],
                ),
                u("dave", "AKIDDAVE", None, vec![]),
            ],
        };
        IamUsers::compile(&iam, ACCOUNT).unwrap()
    }

    struct Signed {
        headers: Vec<(String, String)>,
    }

    fn signed(name: &str, key: &str, path: &str) -> Signed {
        let now = sigv4::parse_amz_date("20260101T000000Z").unwrap();
        let base = [("Host", "api.local")];
        let s = sigv4::sign(
            &sigv4::Request {
                method: "GET",
                path,
                query: "",
                headers: &base,
                payload: Payload::Bytes(b""),
            },
            &Credentials {
                access_key_id: key.into(),
                secret_access_key: format!("{name}-secret"),
                session_token: None,
            },
            "us-east-1",
            "execute-api",
            now,
            &Settings::DEFAULT,
        );
        let mut headers = vec![("Host".to_string(), "api.local".to_string())];
        headers.extend(s.headers.into_iter().map(|(k, v)| (k.to_string(), v)));
        Signed { headers }
    }

    fn run(
        policy: Option<serde_json::Value>,
        authorization: AuthorizationType,
        who: Option<(&str, &str)>,
        path: &str,
        ip: &str,
    ) -> Result<Grant, Denial> {
        let policy = policy.map(|p| {
            Policy::compile(
                &p,
                Attached::Resource {
                    region: "us-east-1",
                    account: ACCOUNT,
                    api_id: "api",
                },
            )
            .unwrap()
        });
        let api = Api {
            region: "us-east-1",
            account: ACCOUNT,
            resource_policy: policy.as_ref(),
        };
        let s = who.map(|(n, k)| signed(n, k, path));
        let headers: Vec<(&str, &str)> = s
            .as_ref()
            .map(|s| {
                s.headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect()
            })
            .unwrap_or_default();
        let arn = format!(
            "arn:aws:execute-api:us-east-1:{ACCOUNT}:api/prod/GET/{}",
            path.trim_start_matches("/prod/")
        );
        let req = get_request(authorization, &arn, path, &headers, ip, true);
        authorize(&api, &users(), &req)
    }

    /// A GET of `path` with `headers` from `ip`, at the time the test signatures were made.
    fn get_request<'a>(
        authorization: AuthorizationType,
        method_arn: &'a str,
        path: &'a str,
        headers: &'a [(&'a str, &'a str)],
        ip: &str,
        invalidation_requested: bool,
    ) -> Request<'a> {
        Request {
            authorization,
            method_arn,
            signed: SignedRequest {
                method: "GET",
                path,
                query: "",
                headers,
                body: b"",
            },
            claim_headers: None,
            source_ip: Some(ip.parse().unwrap()),
            user_agent: None,
            referer: None,
            secure_transport: false,
            now: sigv4::parse_amz_date("20260101T000100Z").unwrap(),
            invalidation_requested,
        }
    }

    fn denied(message: &str) -> Result<Grant, Denial> {
        Err(Denial {
            kind: G::AccessDenied,
            error_type: "AccessDeniedException",
            message: Some(message.into()),
        })
    }

    #[test]
    fn authorization_types_by_name() {
        use AuthorizationType::*;
        for t in [None, AwsIam, Custom, CognitoUserPools] {
            assert_eq!(AuthorizationType::parse(t.as_str()), Some(t));
        }
        assert_eq!(AuthorizationType::parse("aws_iam"), Option::None);
        assert_eq!(AuthorizationType::parse("JWT"), Option::None);
    }

    #[test]
    fn none_with_and_without_a_resource_policy() {
        use AuthorizationType::None as N;
        assert_eq!(
            run(None, N, None, "/prod/pets", "1.2.3.4"),
            Ok(Grant::default())
        );
        let ip_deny = json!({"Statement":[
            {"Effect":"Allow","Principal":"*","Action":"execute-api:Invoke","Resource":["execute-api:/*"]},
            {"Effect":"Deny","Principal":"*","Action":"execute-api:Invoke","Resource":["execute-api:/*"],
             "Condition":{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}}]});
        assert!(run(Some(ip_deny.clone()), N, None, "/prod/pets", "1.2.3.4").is_ok());
        assert_eq!(
            run(Some(ip_deny), N, None, "/prod/pets", "192.0.2.5"),
            denied("User: anonymous is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:********:api/prod/GET/pets with an explicit deny")
        );
        // A policy naming principals turns away every unsigned caller.
        let principals = json!({"Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:user/alice"]},
            "Action":"execute-api:Invoke","Resource":"execute-api:/*"}]});
        assert_eq!(
            run(Some(principals), N, None, "/prod/pets", "1.2.3.4"),
            denied("User: anonymous is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:********:api/prod/GET/pets")
        );
    }

    #[test]
    fn iam_identity_policies() {
        use AuthorizationType::AwsIam as I;
        let g = run(
            None,
            I,
            Some(("alice", "AKIDALICE")),
            "/prod/pets",
            "1.2.3.4",
        )
        .unwrap();
        let id = g.iam.unwrap();
        assert_eq!(&*id.access_key, "AKIDALICE");
        assert_eq!(&*id.account_id, ACCOUNT);
        assert_eq!(&*id.user_arn, "arn:aws:iam::123456789012:user/alice");
        assert!(id.caller.starts_with("AIDA"));
        assert!(g.may_invalidate_cache);
        let g = run(None, I, Some(("bob", "AKIDBOB")), "/prod/pets", "1.2.3.4").unwrap();
        assert!(!g.may_invalidate_cache);
        assert_eq!(
            run(None, I, Some(("bob", "AKIDBOB")), "/prod/secret", "1.2.3.4"),
            denied("User: arn:aws:iam::123456789012:user/bob is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:123456789012:api/prod/GET/secret with an explicit deny")
        );
        assert_eq!(
            run(None, I, Some(("dave", "AKIDDAVE")), "/prod/pets", "1.2.3.4"),
            denied("User: arn:aws:iam::123456789012:user/dave is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:123456789012:api/prod/GET/pets")
        );
        let unsigned = run(None, I, None, "/prod/pets", "1.2.3.4").unwrap_err();
        assert_eq!(unsigned.kind, G::MissingAuthenticationToken);
        assert_eq!(unsigned.error_type, "MissingAuthenticationTokenException");
        let stranger = run(None, I, Some(("eve", "AKIDEVE")), "/prod/pets", "1.2.3.4").unwrap_err();
        assert_eq!(stranger.error_type, "UnrecognizedClientException");
    }

    /// Erin, with `policies`, as a configuration load compiles her.
    fn erin(policies: Vec<serde_json::Value>) -> IamUsers {
        let iam = model::Iam {
            users: vec![model::IamUser {
                name: "erin".into(),
                access_key_id: "AKIDERIN".into(),
                secret_access_key: "erin-secret".into(),
                policies,
                ..Default::default()
            }],
        };
        IamUsers::compile(&iam, ACCOUNT).unwrap()
    }

    /// `authorize` of Erin's signed GET of `path` (the same signature every time) as
    /// routed to the method ARN ending in `resource`, from `ip`.
    fn erin_calls(users: &IamUsers, path: &str, resource: &str, ip: &str) -> Result<Grant, Denial> {
        let s = signed("erin", "AKIDERIN", path);
        let headers: Vec<(&str, &str)> = s
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let arn = format!("arn:aws:execute-api:us-east-1:{ACCOUNT}:api/prod/GET/{resource}");
        let api = Api {
            region: "us-east-1",
            account: ACCOUNT,
            resource_policy: None,
        };
        let req = get_request(AuthorizationType::AwsIam, &arn, path, &headers, ip, false);
        authorize(&api, users, &req)
    }

    /// The decision kept with Erin's verified signature of `path`, for `resource`.
    fn erin_remembered(users: &IamUsers, path: &str, resource: &str) -> Option<Decision> {
        let s = signed("erin", "AKIDERIN", path);
        let headers: Vec<(&str, &str)> = s
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let signed = SignedRequest {
            method: "GET",
            path,
            query: "",
            headers: &headers,
            body: b"",
        };
        let now = sigv4::parse_amz_date("20260101T000100Z").unwrap();
        let api = Api {
            region: "us-east-1",
            account: ACCOUNT,
            resource_policy: None,
        };
        let v = verify::verify_cached(
            &signed,
            &expected(&api),
            now,
            |k| users.lookup(k),
            &users.verified,
        )
        .unwrap();
        let arn = format!("arn:aws:execute-api:us-east-1:{ACCOUNT}:api/prod/GET/{resource}");
        v.kept?.remembered(&arn)
    }

    const ERIN_DENIED: &str = "User: arn:aws:iam::123456789012:user/erin is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:123456789012:api/prod/GET/";

    /// A replayed signature reuses the identity decision made on the same ARN, and only on
    /// that ARN.
    #[test]
    fn replays_reuse_the_decision_on_their_arn() {
        let users = erin(vec![json!({"Statement":[
            {"Effect":"Allow","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:*:*:api/*/GET/*"},
            {"Effect":"Deny","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:*:*:api/*/GET/secret"}]})]);
        assert!(users.lookup("AKIDERIN").unwrap().0.unconditional());
        assert!(erin_calls(&users, "/prod/pets", "pets", "1.2.3.4").is_ok());
        assert_eq!(
            erin_remembered(&users, "/prod/pets", "pets"),
            Some(Decision::Allow)
        );
        assert!(erin_calls(&users, "/prod/pets", "pets", "1.2.3.4").is_ok());
        // The same signed bytes routed to another ARN are evaluated for it.
        assert_eq!(erin_remembered(&users, "/prod/pets", "secret"), None);
        assert_eq!(
            erin_calls(&users, "/prod/pets", "secret", "1.2.3.4"),
            denied(&format!("{ERIN_DENIED}secret with an explicit deny"))
        );
        assert!(erin_calls(&users, "/prod/pets", "pets", "1.2.3.4").is_ok());
        // A denial is remembered as one.
        assert_eq!(
            erin_calls(&users, "/prod/secret", "secret", "1.2.3.4"),
            denied(&format!("{ERIN_DENIED}secret with an explicit deny"))
        );
        assert_eq!(
            erin_remembered(&users, "/prod/secret", "secret"),
            Some(Decision::ExplicitDeny)
        );
        assert_eq!(
            erin_calls(&users, "/prod/secret", "secret", "1.2.3.4"),
            denied(&format!("{ERIN_DENIED}secret with an explicit deny"))
        );
    }

    /// A reload compiles the users anew: a Deny it adds applies to the next replay.
    #[test]
    fn a_reload_forgets_remembered_decisions() {
        let allow = json!({"Statement":[
            {"Effect":"Allow","Action":"execute-api:Invoke","Resource":"*"}]});
        let before = erin(vec![allow.clone()]);
        assert!(erin_calls(&before, "/prod/pets", "pets", "1.2.3.4").is_ok());
        assert_eq!(
            erin_remembered(&before, "/prod/pets", "pets"),
            Some(Decision::Allow)
        );
        let after = erin(vec![
            allow,
            json!({"Statement":[{"Effect":"Deny","Action":"execute-api:Invoke","Resource":"*/GET/pets"}]}),
        ]);
        assert_eq!(
            erin_calls(&after, "/prod/pets", "pets", "1.2.3.4"),
            denied(&format!("{ERIN_DENIED}pets with an explicit deny"))
        );
        assert_eq!(
            erin_calls(&after, "/prod/pets", "pets", "1.2.3.4"),
            denied(&format!("{ERIN_DENIED}pets with an explicit deny"))
        );
        // Requests still holding the old configuration keep its decision.
        assert!(erin_calls(&before, "/prod/pets", "pets", "1.2.3.4").is_ok());
    }

    /// A user with a conditioned policy is evaluated on every request, replays included.
    #[test]
    fn conditioned_decisions_are_not_remembered() {
        let users = erin(vec![
            json!({"Statement":[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"*"}]}),
            json!({"Statement":[{"Effect":"Deny","Action":"execute-api:Invoke","Resource":"*",
                "Condition":{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}}]}),
        ]);
        assert!(!users.lookup("AKIDERIN").unwrap().0.unconditional());
        assert!(erin_calls(&users, "/prod/pets", "pets", "10.0.0.1").is_ok());
        assert_eq!(erin_remembered(&users, "/prod/pets", "pets"), None);
        assert_eq!(
            erin_calls(&users, "/prod/pets", "pets", "192.0.2.7"),
            denied(&format!("{ERIN_DENIED}pets with an explicit deny"))
        );
        assert!(erin_calls(&users, "/prod/pets", "pets", "10.0.0.1").is_ok());
    }

    #[test]
    fn iam_with_resource_policy_tables() {
        use AuthorizationType::AwsIam as I;
        let allow_dave = json!({"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/dave"},
            "Action":"execute-api:Invoke","Resource":"execute-api:/*"}]});
        // Table A: the resource policy alone allows a same-account user.
        assert!(run(
            Some(allow_dave.clone()),
            I,
            Some(("dave", "AKIDDAVE")),
            "/prod/pets",
            "1.2.3.4"
        )
        .is_ok());
        // ...and the identity policy alone allows too.
        assert!(run(
            Some(allow_dave),
            I,
            Some(("alice", "AKIDALICE")),
            "/prod/pets",
            "1.2.3.4"
        )
        .is_ok());
        // Table B: a cross-account user needs both.
        let allow_carol = json!({"Statement":[{"Effect":"Allow","Principal":{"AWS":"210987654321"},
            "Action":"execute-api:*","Resource":"execute-api:/*"}]});
        let g = run(
            Some(allow_carol),
            I,
            Some(("carol", "AKIDCAROL")),
            "/prod/pets",
            "1.2.3.4",
        )
        .unwrap();
        // Both policies allow InvalidateCache, but not across accounts.
        assert!(!g.may_invalidate_cache);
        let other = json!({"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/dave"},
            "Action":"execute-api:Invoke","Resource":"execute-api:/*"}]});
        assert_eq!(
            run(Some(other), I, Some(("carol", "AKIDCAROL")), "/prod/pets", "1.2.3.4"),
            denied("User: arn:aws:iam::210987654321:user/carol is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:123456789012:api/prod/GET/pets")
        );
        // An explicit deny in the resource policy wins over the identity's allow.
        let deny_ip = json!({"Statement":[{"Effect":"Deny","Principal":"*","Action":"execute-api:Invoke",
            "Resource":"execute-api:/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]});
        assert!(run(
            Some(deny_ip.clone()),
            I,
            Some(("alice", "AKIDALICE")),
            "/prod/pets",
            "1.2.3.4"
        )
        .is_ok());
        assert_eq!(
            run(Some(deny_ip), I, Some(("alice", "AKIDALICE")), "/prod/pets", "10.0.0.1"),
            denied("User: arn:aws:iam::123456789012:user/alice is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:123456789012:api/prod/GET/pets with an explicit deny")
        );
        assert_eq!(
            table_b(Decision::Allow, Decision::ImplicitDeny),
            Decision::ImplicitDeny
        );
        assert_eq!(
            table_a(Decision::ImplicitDeny, Decision::Allow),
            Decision::Allow
        );
        assert_eq!(
            table_a(Decision::Allow, Decision::ExplicitDeny),
            Decision::ExplicitDeny
        );
    }

    #[test]
    fn custom_explicit_deny_comes_first() {
        use AuthorizationType::Custom as C;
        let deny_all = json!({"Statement":[{"Effect":"Deny","Principal":"*","Action":"execute-api:Invoke","Resource":"execute-api:/*"}]});
        assert_eq!(
            run(Some(deny_all), C, None, "/prod/pets", "1.2.3.4"),
            denied("User: anonymous is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:********:api/prod/GET/pets with an explicit deny")
        );
        assert_eq!(
            run(None, C, None, "/prod/pets", "1.2.3.4"),
            Ok(Grant::default()),
            "the authorizer decides next"
        );
    }

    /// `after_authorizer` for `authorization` with the authorizer's verdict `d`, with or
    /// without a resource policy allowing `/prod/pets` only.
    fn after(
        with_policy: bool,
        authorization: AuthorizationType,
        d: Decision,
        path: &str,
    ) -> Result<(), Denial> {
        let doc = json!({"Statement":[{"Effect":"Allow","Principal":"*","Action":"execute-api:Invoke","Resource":"execute-api:/prod/GET/pets"}]});
        let policy = Policy::compile(
            &doc,
            Attached::Resource {
                region: "us-east-1",
                account: ACCOUNT,
                api_id: "api",
            },
        )
        .unwrap();
        let api = Api {
            region: "us-east-1",
            account: ACCOUNT,
            resource_policy: with_policy.then_some(&policy),
        };
        let arn = format!("arn:aws:execute-api:us-east-1:{ACCOUNT}:api/prod/GET/{path}");
        let req = Request {
            authorization,
            method_arn: &arn,
            signed: SignedRequest {
                method: "GET",
                path,
                query: "",
                headers: &[],
                body: b"",
            },
            claim_headers: None,
            source_ip: None,
            user_agent: None,
            referer: None,
            secure_transport: false,
            now: sigv4::parse_amz_date("20260101T000100Z").unwrap(),
            invalidation_requested: false,
        };
        after_authorizer(&api, &req, d)
    }

    #[test]
    fn authorizer_verdicts_combine_with_the_resource_policy() {
        use AuthorizationType::{CognitoUserPools as P, Custom as C};
        use Decision::{Allow, ExplicitDeny, ImplicitDeny};
        let msg = |r: Result<(), Denial>| r.unwrap_err().message.unwrap();
        assert_eq!(after(false, C, Allow, "pets"), Ok(()));
        assert_eq!(
            msg(after(false, C, ExplicitDeny, "pets")),
            "User is not authorized to access this resource with an explicit deny"
        );
        assert_eq!(
            msg(after(false, C, ImplicitDeny, "pets")),
            "User is not authorized to access this resource"
        );
        // Table A: the resource policy's Allow makes up for the authorizer's silence.
        assert_eq!(after(true, C, ImplicitDeny, "pets"), Ok(()));
        assert_eq!(after(true, C, Allow, "other"), Ok(()));
        assert!(after(true, C, ExplicitDeny, "pets").is_err());
        assert!(after(true, C, ImplicitDeny, "other").is_err());
        // Cognito: the resource policy must allow explicitly.
        assert_eq!(after(false, P, Allow, "other"), Ok(()));
        assert_eq!(after(true, P, Allow, "pets"), Ok(()));
        assert_eq!(
            msg(after(true, P, Allow, "other")),
            "User: anonymous is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:********:api/prod/GET/other"
        );
    }
}
