//! The access-control step of admission: hands the request to [`crate::auth::access`] and
//! records what it decided. A SigV4-signed request's body is read here, since the signature
//! covers it; the integration then sends the bytes read.

use super::request::read_body;
use super::{split_target, RequestCtx};
use crate::auth::access::{self, AuthorizationType};
use crate::auth::arn::method_arn;
use crate::auth::verify::{self, SignedRequest};
use crate::compile::Snapshot;
use crate::integrations::{Failure, Integration};
use crate::responses::GatewayResponseType as G;
use pingora::prelude::*;

/// The failure for a request that matched no method: Missing Authentication Token, unless
/// it carries an `Authorization` header that is not readable as SigV4.
pub fn no_method(req: &pingora::http::RequestHeader, ctx: &mut RequestCtx) -> Failure {
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

/// What Pingora's retry buffer holds of a request body.
const RETRY_BUFFER: usize = 64 * 1024;

/// Runs access control for the routed request in `ctx`.
pub async fn control(
    session: &mut Session,
    ctx: &mut RequestCtx,
    snap: &Snapshot,
) -> Result<(), Failure> {
    let (Some(a), Some(s), Some(m)) = (ctx.route.api, ctx.route.stage, ctx.route.method) else {
        return Ok(());
    };
    let api = &snap.apis[a];
    let authorization = AuthorizationType::parse(&api.methods[m].authorization_type);
    if authorization == AuthorizationType::None && api.resource_policy.is_none() {
        return Ok(());
    }
    if authorization == AuthorizationType::AwsIam
        && ctx.request_body.is_none()
        && !session.is_body_empty()
    {
        // HTTP_PROXY to a TLS backend goes through Pingora's proxy, which sends on the body
        // it kept in its retry buffer (64 KiB at most).
        let pingora_proxies = matches!(api.methods[m].integration, Integration::HttpProxy(_))
            && api.stages[s].methods[m]
                .upstream
                .as_ref()
                .is_some_and(|u| u.endpoint.tls);
        if pingora_proxies {
            session.as_mut().enable_retry_buffering();
        }
        match read_body(session).await {
            Ok(Some(body)) if pingora_proxies && body.len() > RETRY_BUFFER => {
                log::warn!(
                    "{} {}: a signed body over {RETRY_BUFFER} bytes cannot be forwarded to a TLS \
                     HTTP_PROXY backend",
                    api.id,
                    api.methods[m].resource_path
                );
                return Err(Failure::new(G::RequestTooLarge));
            }
            Ok(Some(body)) => ctx.request_body = Some(body),
            Ok(None) => return Err(Failure::new(G::RequestTooLarge)),
            Err(_) => return Err(Failure::new(G::Default4xx)),
        }
    }
    let req = session.req_header();
    let (path, query) = split_target(req);
    let resource_path = ctx
        .resource_offset
        .and_then(|o| path.get(o..))
        .unwrap_or("");
    let arn = method_arn(
        &snap.server.region,
        &snap.server.account_id,
        &api.id,
        &api.stages[s].name,
        req.method.as_str(),
        resource_path,
    );
    let headers: Vec<(&str, &str)> = req
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
        .collect();
    let header = |name: &str| req.headers.get(name).and_then(|v| v.to_str().ok());
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
        source_ip: ctx.info.source_ip,
        user_agent: header("user-agent"),
        referer: header("referer"),
        secure_transport: session.digest().is_some_and(|d| d.ssl_digest.is_some()),
        now: ctx.info.start,
    };
    let api_access = access::Api {
        region: &snap.server.region,
        account: &snap.server.account_id,
        resource_policy: api.resource_policy.as_ref(),
    };
    match access::authorize(&api_access, &snap.iam, &request) {
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
        Err(denial) => {
            if denial.error_type != denial.kind.error_type() {
                ctx.outcome.error_type = Some(denial.error_type);
            }
            Err(Failure {
                kind: denial.kind,
                message: denial.message,
            })
        }
    }
}
