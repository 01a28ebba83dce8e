//! Non-proxy integrations (MOCK, HTTP): read the whole request, run the request template,
//! call the backend if there is one, then answer with the selected integration response.

use super::request::read_body;
use super::respond::{self, Reply};
use super::RequestCtx;
use crate::client::{Client, ClientError, Outbound};
use crate::compile::Snapshot;
use crate::integrations::http_custom::{HttpIntegration, RequestDefaults};
use crate::integrations::response::MethodResponse;
use crate::integrations::view::IntegrationView;
use crate::integrations::{Failure, Integration};
use crate::pipeline::RequestView;
use crate::responses::GatewayResponseType as G;
use crate::vtl::Overrides;
use bytes::Bytes;
use pingora::prelude::*;
use std::sync::Arc;
use std::time::Instant;

pub async fn invoke(
    client: &Client,
    session: &mut Session,
    ctx: &mut RequestCtx,
    snap: &Arc<Snapshot>,
) -> Result<()> {
    let Some(body) = read_body(session).await? else {
        let reply =
            respond::gateway_reply(session, ctx, snap, Failure::new(G::RequestTooLarge), "");
        session.set_keepalive(None);
        return respond::write(session, ctx, reply).await;
    };
    let body_text = String::from_utf8_lossy(&body);
    let (Some(a), Some(s), Some(m)) = (ctx.route.api, ctx.route.stage, ctx.route.method) else {
        return Error::e_explain(ErrorType::InternalError, "integration without a route");
    };
    let started = Instant::now();
    let mut integration_status = None;
    let result =
        {
            let req = session.req_header();
            let view = ctx.view(snap, req, &body_text);
            let header = |n: &str| req.headers.get(n).and_then(|v| v.to_str().ok());
            let (content_type, accept) = (header("content-type"), header("accept"));
            match &snap.apis[a].methods[m].integration {
                Integration::Mock(mock) => mock.invoke(&view, content_type, accept),
                Integration::Http(h) => {
                    let up = snap.apis[a].stages[s].methods[m].upstream.as_ref();
                    match up {
                        Some(up) => http(client, h, up, &view, content_type, accept).await.map(
                            |(status, r)| {
                                integration_status = Some(status);
                                r
                            },
                        ),
                        None => Err(Failure::new(G::ApiConfigurationError)),
                    }
                }
                _ => Err(Failure::new(G::ApiConfigurationError)),
            }
        };
    ctx.outcome.integration_latency_ms = Some(started.elapsed().as_millis() as u64);
    let reply = match result {
        Ok(r) => {
            ctx.outcome.integration_status = integration_status.or(Some(r.status));
            Reply::method_response(r)
        }
        Err(f) => respond::gateway_reply(session, ctx, snap, f, &body_text),
    };
    respond::write(session, ctx, reply).await
}

/// The HTTP integration: returns the backend status and the method response.
async fn http(
    client: &Client,
    h: &HttpIntegration,
    up: &crate::compile::Upstream,
    view: &RequestView<'_>,
    content_type: Option<&str>,
    accept: Option<&str>,
) -> Result<(u16, MethodResponse), Failure> {
    let mut overrides = Overrides::default();
    let payload = h
        .custom
        .request_payload(view, content_type, &mut overrides)?;
    if h.endpoint.illegal_header_mapping {
        return Err(Failure::new(G::ApiConfigurationError));
    }
    let target = h
        .endpoint
        .upstream_target(&up.endpoint, None, view, Some(&overrides));
    let trace_id = view.info.trace_id();
    let api_id = view.landing.api.map_or("", |a| a.id.as_str());
    let method = h
        .endpoint
        .method
        .map_or(view.http_method, |m| m.as_str())
        .to_string();
    let mut headers = h.request_headers(
        view,
        &overrides,
        &RequestDefaults {
            api_id,
            trace_id: &trace_id,
            content_type,
            method: &method,
        },
    );
    headers.push(("Host".into(), up.endpoint.authority.clone()));
    let request = Outbound {
        method,
        target,
        headers,
        body: Bytes::from(payload.into_owned()),
    };
    let response = client
        .send(&up.peer, request, up.timeout)
        .await
        .map_err(|e| {
            log::info!(
                "{}: integration error: {e:?}",
                view.info.request_id.as_str()
            );
            Failure::new(match e {
                ClientError::Timeout => G::IntegrationTimeout,
                ClientError::Unreachable(_) => G::ApiConfigurationError,
                ClientError::Protocol(_) => G::IntegrationFailure,
            })
        })?;
    let body = String::from_utf8_lossy(&response.body);
    let iview = IntegrationView {
        request: view,
        headers: Some(&response.headers),
        body: &body,
    };
    h.custom
        .responses
        .respond(&response.status.to_string(), &iview, accept, &mut overrides)
        .map(|r| (response.status, r))
}
