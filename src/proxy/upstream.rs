//! HTTP_PROXY: the upstream peer, and the headers changed on the way there and back
//! (AWS digest §8.2–8.3).

use super::respond::http_date;
use super::RequestCtx;
use crate::integrations::http::{
    DROPPED_REQUEST_HEADERS, DROPPED_RESPONSE_HEADERS, REMAPPED_RESPONSE_HEADERS,
};
use crate::integrations::Integration;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use pingora::upstreams::peer::HttpPeer;
use std::time::Instant;

/// The peer prepared for this stage method when the configuration was compiled.
pub fn peer(ctx: &RequestCtx) -> Result<Box<HttpPeer>> {
    let up = ctx.snapshot.as_ref().and_then(|s| {
        let api = &s.apis[ctx.route.api?];
        api.stages[ctx.route.stage?].methods[ctx.route.method?]
            .upstream
            .as_ref()
    });
    match up {
        Some(u) => Ok(Box::new(u.peer.clone())),
        None => Error::e_explain(ErrorType::InternalError, "no upstream for this method"),
    }
}

pub fn request_headers(
    session: &Session,
    req: &mut RequestHeader,
    ctx: &mut RequestCtx,
) -> Result<()> {
    let Some(snap) = ctx.snapshot.clone() else {
        return Error::e_explain(ErrorType::InternalError, "no configuration snapshot");
    };
    let (Some(a), Some(s), Some(m)) = (ctx.route.api, ctx.route.stage, ctx.route.method) else {
        return Error::e_explain(ErrorType::InternalError, "request was not routed");
    };
    let api = &snap.apis[a];
    let method = &api.methods[m];
    let Integration::HttpProxy(proxy) = &method.integration else {
        return Error::e_explain(ErrorType::InternalError, "not an HTTP_PROXY integration");
    };
    let Some(up) = api.stages[s].methods[m].upstream.as_ref() else {
        return Error::e_explain(ErrorType::InternalError, "no upstream for this method");
    };
    if let Some(pre) = &ctx.request_body {
        req.remove_header("transfer-encoding");
        req.insert_header("content-length", pre.len())?;
    }
    if let Some(prepared) = ctx.upstream.take() {
        req.set_raw_path(prepared.target.as_bytes())?;
        for (k, v) in prepared.mapped_headers {
            req.insert_header(k, v)?;
        }
    }
    if let Some(m) = proxy.method {
        req.set_method(
            http::Method::from_bytes(m.as_str().as_bytes())
                .map_err(|e| Error::because(ErrorType::InternalError, "method", e))?,
        );
    }
    // One pass over the (few) client headers; removal only when one is present.
    if req
        .headers
        .keys()
        .any(|k| DROPPED_REQUEST_HEADERS.contains(&k.as_str()))
    {
        for h in DROPPED_REQUEST_HEADERS {
            req.remove_header(*h);
        }
    }
    req.insert_header(http::header::HOST, up.host.clone())?;
    let chain = req
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    let xff = ctx.info.forwarded_for(chain);
    req.insert_header("X-Forwarded-For", xff)?;
    req.insert_header("X-Forwarded-Proto", "http")?;
    let port = session
        .server_addr()
        .and_then(|a| a.as_inet())
        .map(|a| a.port())
        .unwrap_or(0);
    req.insert_header("X-Forwarded-Port", port)?;
    if req.headers.get("x-amzn-trace-id").is_none() {
        req.insert_header("X-Amzn-Trace-Id", ctx.info.trace_id())?;
    }
    req.insert_header("X-Amzn-Apigateway-Api-Id", api.id_header.clone())?;
    ctx.integration_started.get_or_insert_with(Instant::now);
    Ok(())
}

/// Backend response → client: AWS's own Date, request ids; reserved backend headers renamed.
pub fn response_headers(resp: &mut ResponseHeader, ctx: &mut RequestCtx) -> Result<()> {
    let status = resp.status.as_u16();
    ctx.outcome.status = status;
    ctx.outcome.integration_status = Some(status);
    if let Some(t) = ctx.integration_started {
        ctx.outcome.integration_latency_ms = Some(t.elapsed().as_millis() as u64);
    }
    for (name, remapped) in REMAPPED_RESPONSE_HEADERS {
        // Content-Length frames the body and stays; the rest API Gateway replaces.
        let value = if *name == "content-length" {
            resp.headers.get(*name).cloned()
        } else {
            resp.remove_header(*name)
        };
        if let Some(v) = value {
            resp.append_header(*remapped, v)?;
        }
    }
    for name in DROPPED_RESPONSE_HEADERS {
        resp.remove_header(*name);
    }
    resp.insert_header("Date", http_date())?;
    resp.insert_header("x-amzn-RequestId", ctx.info.request_id.as_str())?;
    resp.insert_header("x-amz-apigw-id", ctx.info.extended_request_id.as_str())?;
    Ok(())
}
