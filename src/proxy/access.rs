//! The access-control step of admission: hands the request to [`crate::auth::access`] and
//! records what it decided. A SigV4-signed request's body is read here, once the checks that
//! need no body passed, since the signature covers it; the integration then sends the bytes
//! read.

use super::custom::Callers;
use super::request::{expects_continue, read_body};
use super::respond::Reply;
use super::{RequestCtx, Session};
use crate::auth::access::{self, AuthorizationType};
use crate::auth::arn::{stage_method_arn, stage_method_arn_len};
use crate::auth::authorizers::{self, Calls};
use crate::auth::policy::Policy;
use crate::auth::verify::{self, ClaimHeaders, SignedRequest};
use crate::client::Outbound;
use crate::compile::Snapshot;
use crate::compile::Upstream;
use crate::functions::invoke::{self, FunctionTarget, InvokeFailure, InvokeOptions};
use crate::functions::Invocation;
use crate::integrations::Failure;
use crate::pipeline::header_text;
use crate::responses::GatewayResponseType as G;
use async_trait::async_trait;
use bytes::Bytes;
use pingora::prelude::*;
use std::time::Duration;

/// The failure for a request that matched no method: Missing Authentication Token, unless
/// it carries an `Authorization` header that is not readable as SigV4.
pub fn no_method(req: &super::RequestHead, ctx: &mut RequestCtx) -> Failure {
    let headers: Vec<(&str, &str)> = req
        .headers
        .get_all(http::header::AUTHORIZATION)
        .iter()
        .filter_map(|v| Some(("authorization", v.to_str().ok()?)))
        .chain(
            ["x-amz-date", "date"]
                .into_iter()
                .filter_map(|n| Some((n, req.headers.get(n)?.to_str().ok()?))),
        )
        .collect();
    if headers.first().map(|h| h.0) != Some("authorization") {
        return Failure::new(G::MissingAuthenticationToken);
    }
    let signed = SignedRequest {
        method: req.method.as_str(),
        path: "",
        query: "",
        headers: &headers,
        body: b"",
    };
    match verify::unreadable_authorization(&signed) {
        Some(e) => {
            let (kind, error_type, message) = e.response();
            ctx.outcome.error_type = Some(error_type);
            Failure {
                kind,
                message: Some(message.into_owned()),
            }
        }
        None => Failure::new(G::MissingAuthenticationToken),
    }
}

/// The longest method ARN API Gateway authorizes (bytes): a longer one, which path
/// parameter values can make, is answered 414 before any authorization.
pub const MAX_METHOD_ARN: usize = 1600;

/// AWS's answer to a method ARN over [`MAX_METHOD_ARN`]: not a gateway response, so no
/// customization applies.
fn uri_too_long() -> Reply {
    Reply {
        status: 414,
        headers: Vec::new(),
        content_type: "application/json".into(),
        body: Bytes::from_static(br#"{"message":"Request URI too long"}"#),
    }
}

/// Runs access control for the routed request in `ctx`: resource policy and IAM, then the
/// method's authorizer (CUSTOM, COGNITO_USER_POOLS) combined with the resource policy.
pub async fn control(
    callers: &Callers<'_>,
    session: &mut Session,
    ctx: &mut RequestCtx,
    snap: &Snapshot,
) -> Result<(), Failure> {
    let (Some(a), Some(s), Some(m)) = (ctx.route.api, ctx.route.stage, ctx.route.method) else {
        return Ok(());
    };
    let api = &snap.apis[a];
    let authorization = api.methods[m].authorization_type;
    if authorization == AuthorizationType::None && api.resource_policy.is_none() {
        return Ok(());
    }
    let method = &api.methods[m];
    let stage = &api.stages[s];
    let api_access = access::Api {
        region: &snap.server.region,
        account: &snap.server.account_id,
        resource_policy: api.resource_policy.as_ref(),
    };
    // Policies read the method ARN and the caller's headers: a token authorizer's alone
    // reads neither.
    let policies_apply =
        authorization != AuthorizationType::CognitoUserPools || api.resource_policy.is_some();
    let arn = {
        let req = session.req_header();
        let (path, _) = req.path_and_query();
        // The ARN names the path as routed: `/prod/secret/` and `//secret` are `.../GET/secret`.
        let Some(resource_path) = ctx.method_path.clone().and_then(|r| path.get(r)) else {
            return Err(Failure::new(G::Default4xx));
        };
        let verb = req.method.as_str();
        if stage_method_arn_len(&stage.arn_prefix, verb, resource_path) > MAX_METHOD_ARN {
            ctx.reply = Some(uri_too_long());
            return Err(Failure::new(G::Default4xx));
        }
        if policies_apply {
            stage_method_arn(&stage.arn_prefix, verb, resource_path)
        } else {
            String::new()
        }
    };
    if authorization == AuthorizationType::AwsIam
        && ctx.request_body.is_none()
        && !session.is_body_empty()
    {
        // Credentials first: a body is read only for a caller that could have signed it.
        {
            let req = session.req_header();
            let (path, query) = req.path_and_query();
            let (headers, _) = header_list(req);
            let signed = SignedRequest {
                method: req.method.as_str(),
                path,
                query: query.unwrap_or(""),
                headers: &headers,
                body: b"",
            };
            access::precheck_iam(&api_access, &snap.iam, &signed, ctx.info.start)
                .map_err(|d| refuse(ctx, d))?;
        }
        // The client holds its body back until it gets `100 Continue`.
        if expects_continue(session) {
            session
                .write_continue_response()
                .await
                .map_err(|_| Failure::new(G::Default4xx))?;
        }
        match read_body(session).await {
            Ok(Some(body)) => ctx.request_body = Some(body),
            Ok(None) => return Err(Failure::new(G::RequestTooLarge)),
            Err(_) => return Err(Failure::new(G::Default4xx)),
        }
    }
    let req = session.req_header();
    let (path, query) = req.path_and_query();
    // Only a SigV4 verification reads the headers as a list.
    let (headers, claim_headers) = if authorization == AuthorizationType::AwsIam {
        let (list, claims) = header_list(req);
        (list, Some(claims))
    } else {
        (Vec::new(), None)
    };
    // Only a policy condition reads `aws:UserAgent` and `aws:Referer`.
    let conditions_apply = api
        .resource_policy
        .as_ref()
        .is_some_and(Policy::has_conditions)
        || (authorization == AuthorizationType::AwsIam && snap.iam.conditional());
    let header = |name| {
        conditions_apply
            .then(|| req.headers.get(name).and_then(header_text))
            .flatten()
    };
    let request = access::Request {
        authorization,
        method_arn: &arn,
        signed: SignedRequest {
            method: req.method.as_str(),
            path,
            query: query.unwrap_or(""),
            headers: &headers,
            body: ctx.request_body.as_deref().unwrap_or_default(),
        },
        claim_headers,
        source_ip: ctx.info.source_ip,
        user_agent: header(http::header::USER_AGENT),
        referer: header(http::header::REFERER),
        secure_transport: session.is_secure(),
        now: ctx.info.start,
        invalidation_requested: authorization == AuthorizationType::AwsIam
            && stage.cache.is_some()
            && stage.methods[m].cache.is_some()
            && crate::cache::policy::wants_refresh(
                req.headers
                    .get_all(http::header::CACHE_CONTROL)
                    .iter()
                    .filter_map(|v| v.to_str().ok()),
            ),
    };
    let mut decided = access::authorize(&api_access, &snap.iam, &request);
    if decided.is_ok()
        && matches!(
            authorization,
            AuthorizationType::Custom | AuthorizationType::CognitoUserPools
        )
    {
        let jwt = match authorization {
            AuthorizationType::CognitoUserPools => authorizers::jwt_authorizer(api, stage, method),
            _ => None,
        };
        let authorized = match jwt {
            // A token authorizer reads the headers only: no view of the request is made.
            Some(jwt) => Some(
                authorizers::evaluate_jwt(jwt, &req.headers, method, callers, &ctx.info.request_id)
                    .await?,
            ),
            None => {
                let view = ctx.view(snap, req, "");
                authorizers::evaluate(&view, &arn, callers, request.secure_transport).await?
            }
        };
        if let Some(a) = authorized {
            decided = access::after_authorizer(&api_access, &request, a.decision).map(|()| {
                ctx.info.authorizer = Some(a.grant.authorizer);
                ctx.info.usage_identifier_key = a.grant.usage_identifier_key;
                access::Grant::default()
            });
        }
    }
    match decided {
        Ok(grant) => {
            if let Some(iam) = grant.iam {
                let identity = &mut ctx.info.identity;
                identity.access_key = Some(iam.access_key);
                identity.account_id = Some(iam.account_id);
                identity.caller = Some(iam.caller);
                identity.user = Some(iam.user);
                identity.user_arn = Some(iam.user_arn);
            }
            ctx.info.may_invalidate_cache = grant.may_invalidate_cache;
            Ok(())
        }
        Err(denial) => Err(refuse(ctx, denial)),
    }
}

/// The failure answering `denial`, its `x-amzn-ErrorType` noted for the response.
fn refuse(ctx: &mut RequestCtx, denial: access::Denial) -> Failure {
    if denial.error_type != denial.kind.error_type() {
        ctx.outcome.error_type = Some(denial.error_type);
    }
    Failure {
        kind: denial.kind,
        message: denial.message,
    }
}

/// The request's headers as SigV4 verification reads them, in arrival order, with the ones
/// its claim is read from.
fn header_list(req: &super::RequestHead) -> (Vec<(&str, &str)>, ClaimHeaders<'_>) {
    let mut list = Vec::with_capacity(req.headers.len());
    let mut claims = ClaimHeaders::default();
    for (k, v) in &req.headers {
        if let Some(v) = header_text(v) {
            let k = k.as_str();
            list.push((k, v));
            claims.note(k, v);
        }
    }
    (list, claims)
}

/// How long a JWKS fetch may take (API Gateway's limit for HTTP API JWT authorizers).
const JWKS_TIMEOUT: Duration = Duration::from_millis(1500);

#[async_trait]
impl Calls for Callers<'_> {
    async fn invoke(
        &self,
        target: &FunctionTarget,
        payload: Bytes,
        timeout: Duration,
        trace_id: &str,
    ) -> Result<Invocation, InvokeFailure> {
        let options = InvokeOptions {
            trace_id: Some(trace_id),
            asynchronous: false,
        };
        // Boxed, as the fetch below: an authorized request that needs neither (a cached
        // decision) does not carry their state.
        Box::pin(invoke::call_with(
            self.client,
            self.functions,
            target,
            payload,
            timeout,
            options,
        ))
        .await
    }

    async fn fetch(&self, upstream: &Upstream, target: &str) -> Result<Bytes, String> {
        let request = Outbound {
            method: "GET".into(),
            target: target.to_string(),
            headers: vec![
                ("Host".into(), upstream.endpoint.authority.clone()),
                ("Accept".into(), "application/json".into()),
            ],
            body: Bytes::new(),
        };
        let response = Box::pin(self.client.send(&upstream.peer, request, JWKS_TIMEOUT))
            .await
            .map_err(|e| format!("{e:?}"))?;
        if response.status != 200 {
            return Err(format!("status {}", response.status));
        }
        Ok(response.body)
    }
}
