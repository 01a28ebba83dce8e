//! One request: find the API, stage and method, admit the request, look it up in the stage
//! cache, then answer: from the integration, or with a gateway response.

use super::custom::Callers;
use super::respond;
use super::{RequestCtx, Route, Session, MAX_BODY};
use crate::compile::Snapshot;
use crate::integrations::{Failure, Integration};
use crate::responses::GatewayResponseType as G;
use crate::router::HttpMethod;
use bytes::{Bytes, BytesMut};
use pingora::prelude::*;
use std::sync::Arc;

/// What the HTTP_PROXY request carries beyond the client's.
pub struct PreparedUpstream {
    pub target: String,
    pub mapped_headers: Vec<(String, String)>,
}

/// Answers the request; an error means no answer could be written (the client is gone, or the
/// response broke off after it started).
pub async fn serve(
    callers: &Callers<'_>,
    session: &mut Session,
    ctx: &mut RequestCtx,
) -> Result<()> {
    let snap = ctx.snapshot.clone();
    ctx.info.source_ip = session
        .client_addr()
        .and_then(|a| a.as_inet())
        .map(|a| a.ip());
    let step = match route(session, ctx, &snap) {
        Ok(step) => match super::admission::admit(callers, session, ctx, &snap).await {
            Ok(()) => match super::cache::lookup(session, ctx, &snap).await? {
                Ok(super::cache::Step::Answered) => return Ok(()),
                Ok(super::cache::Step::Integrate) => Ok(step),
                Err(failure) => Err(failure),
            },
            Err(failure) => Err(failure),
        },
        Err(failure) => Err(failure),
    };
    match step {
        Ok(Step::Proxy) => {
            // The backend never sees `Expect` (§8.2), so the gateway answers it.
            continue_if_expected(session).await?;
            let (Some(a), Some(s), Some(m)) = (ctx.route.api, ctx.route.stage, ctx.route.method)
            else {
                return Error::e_explain(ErrorType::InternalError, "proxy without a route");
            };
            let api = &snap.apis[a];
            match (
                &api.methods[m].integration,
                &api.stages[s].methods[m].upstream,
            ) {
                (Integration::HttpProxy(p), Some(up)) => {
                    prepare_upstream(session, ctx, &snap, p, up);
                    super::forward::forward(callers, session, ctx, &snap, p, up).await
                }
                _ => Error::e_explain(ErrorType::InternalError, "proxy without an upstream"),
            }
        }
        Ok(Step::Custom) => {
            continue_if_expected(session).await?;
            // Boxed: the custom integrations' state is large, and inlined it would make every
            // request's future (HTTP_PROXY's too) that much larger to build and move.
            Box::pin(super::custom::invoke(callers, session, ctx, &snap)).await
        }
        Err(failure) => {
            let reply = match ctx.reply.take() {
                Some(reply) => {
                    ctx.fail(failure);
                    reply
                }
                None => respond::gateway_reply(session, ctx, &snap, failure, ""),
            };
            if reply.status == 413 || expects_continue(session) {
                // Do not read a body we refuse (or that the client holds back until it gets
                // `100 Continue`): close the connection after answering.
                session.set_keepalive(None);
            }
            // A response written before the body was read closes the connection (the
            // session sees to it): a refused client is answered without waiting for it.
            respond::write(session, ctx, reply).await
        }
    }
}

/// The client holds its body back until it gets `100 Continue` (RFC 9110 §10.1.1).
pub(super) fn expects_continue(session: &mut Session) -> bool {
    !session.is_body_empty() && super::http1::expects_continue(session.req_header())
}

/// Sends the interim `100 Continue` a client waits for before sending its body (the session
/// sends it at most once: not again when access control sent it before reading the body).
async fn continue_if_expected(session: &mut Session) -> Result<()> {
    if expects_continue(session) {
        session.write_continue_response().await?;
    }
    Ok(())
}

enum Step {
    Proxy,
    /// An integration that needs the whole request (MOCK, HTTP, AWS, Lambda).
    Custom,
}

/// The HTTP_PROXY request target and mapped headers. Built after admission and the cache
/// lookup: mappings read `$context.identity.*` and `$context.authorizer.*`, and a hit needs
/// none of it.
fn prepare_upstream(
    session: &Session,
    ctx: &mut RequestCtx,
    snap: &Snapshot,
    p: &crate::integrations::http::HttpProxy,
    up: &crate::compile::Upstream,
) {
    let req = session.req_header();
    let (_, query) = req.path_and_query();
    let (target, mapped_headers) = if p.maps_anything() {
        let view = ctx.view(snap, req, "");
        let target = p.upstream_target(&up.endpoint, query, &view, None);
        let mapped = p
            .mapped_headers(&view)
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        (target, mapped)
    } else {
        let target = p.upstream_target(&up.endpoint, query, &crate::mapping::NoValues, None);
        (target, Vec::new())
    };
    ctx.upstream = Some(PreparedUpstream {
        target,
        mapped_headers,
    });
}

/// Resolution and routing; checks an HTTP_PROXY method has its upstream.
fn route(session: &Session, ctx: &mut RequestCtx, snap: &Arc<Snapshot>) -> Result<Step, Failure> {
    let req = session.req_header();
    let (path, _) = req.path_and_query();
    let host = req
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.target_host());
    let target = snap.target(host, path).ok_or_else(forbidden)?;
    ctx.route = Route {
        api: Some(target.api),
        stage: Some(target.stage),
        method: None,
    };
    ctx.base_path = target.base_path.map(str::to_string);
    ctx.resource_offset = path
        .ends_with(target.resource_path)
        .then(|| path.len() - target.resource_path.len());
    let api = &snap.apis[target.api];
    let stage = &api.stages[target.stage];
    let found = HttpMethod::parse(req.method.as_str())
        .and_then(|m| api.router.find(m, target.resource_path))
        .ok_or_else(|| super::access::no_method(req, ctx))?;
    let method = &api.methods[found.method_id];
    ctx.route.method = Some(found.method_id);
    ctx.method_path = ctx
        .resource_offset
        .map(|o| o + found.matched.start..o + found.matched.end);
    ctx.path_params = found
        .params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if session.declared_length().is_some_and(|n| n > MAX_BODY) {
        return Err(Failure::new(G::RequestTooLarge));
    }
    match &method.integration {
        Integration::HttpProxy(p) => {
            if p.illegal_header_mapping || stage.methods[found.method_id].upstream.is_none() {
                return Err(Failure::new(G::ApiConfigurationError));
            }
            Ok(Step::Proxy)
        }
        Integration::Mock(_)
        | Integration::Http(_)
        | Integration::Aws(_)
        | Integration::Lambda(_)
        | Integration::LambdaProxy(_) => Ok(Step::Custom),
        Integration::Unavailable(kind) => {
            log::error!(
                "{} {} {}: integration type {kind} is not available in this build",
                api.id,
                stage.name,
                method.resource_path
            );
            Err(Failure {
                kind: G::ApiConfigurationError,
                message: Some("Internal server error".into()),
            })
        }
    }
}

/// Reads the whole request body; None when it exceeds the 10 MB limit.
pub async fn read_body(session: &mut Session) -> Result<Option<Bytes>> {
    if session.is_body_empty() {
        return Ok(Some(Bytes::new()));
    }
    // A client waiting for `100 Continue` sends nothing until it gets it.
    continue_if_expected(session).await?;
    let mut buf = BytesMut::new();
    while let Some(chunk) = session.read_request_body().await? {
        if (buf.len() + chunk.len()) as u64 > MAX_BODY {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Some(buf.freeze()))
}

/// Unknown API or stage; `respond::gateway_reply` answers 403 `{"message":"Forbidden"}` for
/// any failure of a request that reached no API.
fn forbidden() -> Failure {
    Failure {
        kind: G::MissingAuthenticationToken,
        message: Some("Forbidden".into()),
    }
}
