//! The cache step (reference §13 step 9): after admission, serve a fresh entry of the stage
//! cache, or let the integration run and store its response. Policy (settings, keys,
//! `Cache-Control` decisions, storage) is in `crate::cache`; this module moves responses
//! between it and the client's session.

use super::head::{Framing, ResponseHead};
use super::RequestCtx;
use super::Session;
use crate::cache::lock::FillGuard;
use crate::cache::policy::{self, Lookup, IGNORED_CACHE_CONTROL_WARNING};
use crate::cache::settings::MAX_ENTRY_BYTES;
use crate::cache::store;
use crate::cache::{CachedResponse, Claim, StageCache};
use crate::compile::Snapshot;
use crate::integrations::Failure;
use crate::responses::GatewayResponseType as G;
use bytes::{Bytes, BytesMut};
use http::HeaderValue;
use pingora::prelude::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Headers the gateway writes per response: never stored, written fresh on a hit.
const PER_RESPONSE_HEADERS: &[&str] = &[
    "connection",
    "content-length",
    "date",
    "transfer-encoding",
    "warning",
    "x-amz-apigw-id",
    "x-amzn-requestid",
    "x-amzn-trace-id",
];

/// A miss whose response is to be stored.
pub struct Filling {
    cache: Arc<StageCache>,
    key: Vec<u8>,
    ttl: Duration,
    encrypted: bool,
    /// Releases requests waiting for this entry when the fill ends, stored or not.
    _guard: Option<FillGuard>,
    /// A streamed response: its status and headers, then its body as it passes.
    head: Option<(u16, Vec<(Bytes, HeaderValue)>)>,
    body: BytesMut,
}

/// What the request does after the cache step.
pub enum Step {
    /// Call the integration (a miss, or an uncached method).
    Integrate,
    /// A cached response was written.
    Answered,
}

/// Looks the request up in its stage cache. A hit is written here; a miss leaves a
/// [`Filling`] in `ctx` for the integration's response.
pub async fn lookup(
    session: &mut Session,
    ctx: &mut RequestCtx,
    snap: &Snapshot,
) -> Result<Result<Step, Failure>> {
    let (Some(a), Some(s), Some(m)) = (ctx.route.api, ctx.route.stage, ctx.route.method) else {
        return Ok(Ok(Step::Integrate));
    };
    let stage = &snap.apis[a].stages[s];
    let stage_method = &stage.methods[m];
    let (Some(settings), Some(cache)) = (&stage_method.cache, &stage.cache) else {
        return Ok(Ok(Step::Integrate));
    };
    let req = session.req_header();
    if settings.get_only && req.method != http::Method::GET {
        return Ok(Ok(Step::Integrate));
    }
    let refresh = policy::wants_refresh(
        req.headers
            .get_all(http::header::CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    );
    let decision = policy::decide(
        refresh,
        settings.require_authorization,
        ctx.info.may_invalidate_cache,
        settings.strategy,
    );
    match decision {
        Lookup::Refuse => {
            return Ok(Err(Failure {
                kind: G::AccessDenied,
                message: Some("Unauthorized".into()),
            }))
        }
        Lookup::ServeWithWarning => ctx.cache_warning = true,
        Lookup::Serve | Lookup::Refresh => {}
    }
    let key = {
        let view = ctx.view(snap, req, "");
        settings.key.key(req.method.as_str(), &view)
    };
    let mut guard = None;
    if decision != Lookup::Refresh {
        match cache.claim(&key).await {
            Claim::Hit(hit) => {
                stage_method.metrics.cache_hits.inc();
                write_hit(session, ctx, &hit).await?;
                return Ok(Ok(Step::Answered));
            }
            Claim::Fill(g) => guard = g,
        }
    }
    stage_method.metrics.cache_misses.inc();
    ctx.cache_fill = Some(Filling {
        cache: cache.clone(),
        key,
        ttl: settings.ttl,
        encrypted: settings.encrypted,
        _guard: guard,
        head: None,
        body: BytesMut::new(),
    });
    Ok(Ok(Step::Integrate))
}

/// Writes a cached response with this request's `x-amzn-RequestId` and `x-amz-apigw-id`
/// (the session adds `Date`).
async fn write_hit(
    session: &mut Session,
    ctx: &mut RequestCtx,
    hit: &CachedResponse,
) -> Result<()> {
    if super::request::expects_continue(session) {
        // The client holds its body back for `100 Continue`: answer without reading it.
        session.set_keepalive(None);
    } else if !session.is_body_empty() {
        let _ = session.drain_request_body().await;
    }
    let mut h = ResponseHead::new(hit.status, Framing::Length(hit.body.len() as u64));
    for (k, v) in &hit.headers {
        // Checked when stored.
        let _ = h.append(std::str::from_utf8(k).unwrap_or(""), v.as_bytes());
    }
    super::respond::add_ids(&mut h, ctx);
    add_warning(ctx, &mut h);
    ctx.outcome.status = hit.status;
    ctx.outcome.response_length = hit.body.len() as u64;
    session.write_response_header(&h).await?;
    session.write_response_body(hit.body.clone(), true).await?;
    Ok(())
}

/// Adds the `Warning` of `SUCCEED_WITH_RESPONSE_HEADER` when the caller's `Cache-Control`
/// was ignored.
pub fn add_warning(ctx: &RequestCtx, h: &mut ResponseHead) {
    if ctx.cache_warning {
        let _ = h.append("Warning", IGNORED_CACHE_CONTROL_WARNING.as_bytes());
    }
}

/// The headers to store, checked once here; None when one is not a valid header.
fn stored_headers<'a>(
    headers: impl Iterator<Item = (&'a str, &'a [u8])>,
) -> Option<Vec<(Bytes, HeaderValue)>> {
    headers
        .filter(|(k, _)| {
            !PER_RESPONSE_HEADERS
                .iter()
                .any(|p| k.eq_ignore_ascii_case(p))
        })
        .map(|(k, v)| store::header(k, v))
        .collect()
}

/// Stores a response the gateway built whole (MOCK, HTTP, AWS and Lambda integrations).
pub fn store_whole(
    ctx: &mut RequestCtx,
    status: u16,
    headers: &[(String, String)],
    content_type: &str,
    body: &Bytes,
) {
    let Some(fill) = ctx.cache_fill.take() else {
        return;
    };
    let headers = headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("content-type"))
        .map(|(k, v)| (k.as_str(), v.as_bytes()));
    let content_type = ("Content-Type", content_type.as_bytes());
    let Some(stored) = stored_headers(std::iter::once(content_type).chain(headers)) else {
        return;
    };
    put(fill, status, stored, body.clone());
}

fn put(fill: Filling, status: u16, headers: Vec<(Bytes, HeaderValue)>, body: Bytes) {
    let overhead = if fill.encrypted {
        crate::cache::seal::TAG_BYTES
    } else {
        0
    };
    if body.len() + overhead > MAX_ENTRY_BYTES {
        return;
    }
    let response = CachedResponse {
        status,
        headers,
        body,
    };
    let expires = Instant::now() + fill.ttl;
    fill.cache
        .store
        .put(&fill.key, response, expires, fill.encrypted);
}

/// A streamed (HTTP_PROXY) response starts: remembers its head, or gives up on storing it
/// when it cannot be (`head_only`: a HEAD exchange; a body announced over the limit).
pub fn begin_stream(
    ctx: &mut RequestCtx,
    resp: &ResponseHead,
    head_only: bool,
    length: Option<u64>,
) {
    let Some(fill) = ctx.cache_fill.as_mut() else {
        return;
    };
    let too_large = length.is_some_and(|n| n > MAX_ENTRY_BYTES as u64);
    let headers = (!too_large && !head_only)
        .then(|| stored_headers(resp.fields()))
        .flatten();
    match headers {
        Some(h) => fill.head = Some((resp.status, h)),
        None => ctx.cache_fill = None,
    }
}

/// A piece of a streamed response body.
pub fn collect(ctx: &mut RequestCtx, data: &[u8]) {
    let Some(fill) = ctx.cache_fill.as_mut() else {
        return;
    };
    if fill.head.is_none() || fill.body.len() + data.len() > MAX_ENTRY_BYTES {
        // Over the limit: the response passes through whole, unstored.
        ctx.cache_fill = None;
        return;
    }
    fill.body.extend_from_slice(data);
}

/// The streamed response ended completely: store it.
pub fn end_stream(ctx: &mut RequestCtx) {
    let Some(mut fill) = ctx.cache_fill.take() else {
        return;
    };
    let Some((status, headers)) = fill.head.take() else {
        return;
    };
    let body = std::mem::take(&mut fill.body).freeze();
    put(fill, status, headers, body);
}
