//! The Pingora adapter: `impl ProxyHttp` for the gateway. Each phase calls into the pipeline
//! and integrations; this module only moves bytes and headers between them and Pingora.

mod access;
mod admission;
mod cache;
mod custom;
mod failure;
mod forward;
mod logging;
mod pool;
mod request;
mod respond;
mod upstream;

use crate::access_log::AccessLogger;
use crate::compile::Snapshot;
use crate::integrations::Failure;
use crate::metrics::Metrics;
use crate::pipeline::{CasedHeaders, Landing, Outcome, RequestInfo, RequestView};
use arc_swap::ArcSwap;
use async_trait::async_trait;
use bytes::Bytes;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use pingora::proxy::FailToProxy;
use pingora::upstreams::peer::HttpPeer;
use std::sync::Arc;
use std::time::Instant;

/// AWS's payload limit: larger request bodies get 413.
pub const MAX_BODY: u64 = 10 * 1024 * 1024;

pub struct Gateway {
    pub state: Arc<ArcSwap<Snapshot>>,
    pub metrics: Arc<Metrics>,
    pub access_log: Option<AccessLogger>,
    /// For non-proxy and Lambda integrations.
    pub client: crate::client::Client,
    /// Local Lambda functions.
    pub functions: crate::functions::Functions,
}

/// Indices of what the request reached in its snapshot.
#[derive(Clone, Copy, Default)]
pub struct Route {
    pub api: Option<usize>,
    pub stage: Option<usize>,
    pub method: Option<usize>,
}

/// Per-request state. The snapshot is pinned here for the request's whole life.
pub struct RequestCtx {
    pub snapshot: Option<Arc<Snapshot>>,
    pub info: RequestInfo,
    pub started: Instant,
    pub route: Route,
    pub base_path: Option<String>,
    /// Where the routed resource path starts in the raw request path (bytes).
    pub resource_offset: Option<usize>,
    /// Where the path the method was found by (no leading slashes, no trailing slash) lies
    /// in the raw request path: the path of the method ARN.
    pub method_path: Option<std::ops::Range<usize>>,
    /// The matched resource's path parameters (raw), for templates and gateway responses.
    pub path_params: Vec<(String, String)>,
    pub outcome: Outcome,
    pub integration_started: Option<Instant>,
    /// HTTP_PROXY: the upstream request target and mapped headers, prepared in request_filter.
    pub upstream: Option<request::PreparedUpstream>,
    pub request_body_bytes: u64,
    /// The request body when a step before the integration had to read it (SigV4 signs it).
    pub request_body: Option<Bytes>,
    /// A cache miss whose response is to be stored.
    pub cache_fill: Option<cache::Filling>,
    /// The caller's `Cache-Control` was ignored: the response carries AWS's `Warning`.
    pub cache_warning: bool,
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx {
            snapshot: None,
            info: RequestInfo::new(std::time::SystemTime::now()),
            started: Instant::now(),
            route: Route::default(),
            base_path: None,
            resource_offset: None,
            method_path: None,
            path_params: Vec::new(),
            outcome: Outcome::default(),
            integration_started: None,
            upstream: None,
            request_body_bytes: 0,
            request_body: None,
            cache_fill: None,
            cache_warning: false,
        }
    }

    /// No downstream modules: Pingora's default registers a (disabled) compression module whose
    /// per-request bookkeeping costs throughput for nothing.
    fn init_downstream_modules(&self, _modules: &mut pingora::modules::http::HttpModules) {}

    async fn early_request_filter(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let snapshot = self.state.load_full();
        // Pingora's HTTP/1.1 keep-alive never times out by default: bound it.
        if session.get_keepalive() == Some(0) {
            session.set_keepalive(Some(snapshot.server.keepalive_timeout_seconds));
        }
        ctx.snapshot = Some(snapshot);
        Ok(())
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        let callers = custom::Callers {
            client: &self.client,
            functions: &self.functions,
        };
        request::request_filter(&callers, session, ctx).await
    }

    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        if let Some(pre) = &ctx.request_body {
            // Admission read the body already: send that, once, at the end.
            *body = Some(if end_of_stream {
                pre.clone()
            } else {
                Bytes::new()
            });
            return Ok(());
        }
        if let Some(b) = body {
            ctx.request_body_bytes += b.len() as u64;
            if ctx.request_body_bytes > MAX_BODY {
                return Error::e_explain(ErrorType::HTTPStatus(413), "request body over 10 MB");
            }
        }
        Ok(())
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        ctx.integration_started = Some(Instant::now());
        upstream::peer(ctx)
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        upstream_request: &mut pingora::http::RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        upstream::request_headers(session, upstream_request, ctx)
    }

    async fn response_filter(
        &self,
        session: &mut Session,
        upstream_response: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        upstream::response_headers(upstream_response, ctx)?;
        cache::add_warning(ctx, upstream_response)?;
        let length = upstream_response
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let no_body = session.req_header().method == http::Method::HEAD;
        cache::begin_stream(ctx, upstream_response, no_body, length);
        Ok(())
    }

    fn response_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<Option<std::time::Duration>> {
        if let Some(b) = body {
            ctx.outcome.response_length += b.len() as u64;
            cache::collect(ctx, b);
        }
        if end_of_stream {
            cache::end_stream(ctx);
        }
        Ok(None)
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        failure::fail_to_proxy(session, e, ctx).await
    }

    fn suppress_error_log(&self, _session: &Session, _ctx: &RequestCtx, error: &Error) -> bool {
        // Client disconnects and the gateway responses we chose are not server errors.
        matches!(error.esource(), ErrorSource::Downstream)
            || matches!(error.etype(), ErrorType::HTTPStatus(_))
    }

    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut RequestCtx) {
        logging::log_request(self, session, ctx);
    }
}

impl RequestCtx {
    pub fn fail(&mut self, f: Failure) {
        self.outcome.error = Some(f);
    }

    /// A view of this request, as far as it got, for templates and mapping expressions.
    pub fn view<'a>(
        &'a self,
        snap: &'a Snapshot,
        req: &'a RequestHeader,
        body: &'a str,
    ) -> RequestView<'a> {
        let api = self.route.api.map(|a| &snap.apis[a]);
        let (path, query) = split_target(req);
        let answered = self.outcome.status != 0 || self.outcome.error.is_some();
        RequestView {
            snapshot: snap,
            landing: Landing {
                api,
                stage: api.zip(self.route.stage).map(|(a, s)| &a.stages[s]),
                method: api.zip(self.route.method).map(|(a, m)| &a.methods[m]),
            },
            info: &self.info,
            outcome: answered.then_some(&self.outcome),
            http_method: req.method.as_str(),
            path,
            query,
            headers: &req.headers,
            path_params: &self.path_params,
            body,
            base_path: self.base_path.as_deref(),
            resource_path: self.resource_offset.and_then(|o| path.get(o..)),
            cased_headers: Some(req),
        }
    }
}

impl CasedHeaders for RequestHeader {
    fn each(&self, f: &mut dyn FnMut(&str, &str)) {
        for (name, value) in self.case_header_iter() {
            if let (Ok(name), Ok(value)) = (std::str::from_utf8(name.as_slice()), value.to_str()) {
                f(name, value);
            }
        }
    }
}

/// The raw request target split into path and query string (a non-UTF-8 target is empty).
pub fn split_target(req: &RequestHeader) -> (&str, Option<&str>) {
    crate::pipeline::split_query(std::str::from_utf8(req.raw_path()).unwrap_or(""))
}
