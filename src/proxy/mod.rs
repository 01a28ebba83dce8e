//! The Pingora adapter: the gateway as a server application on Pingora's listeners
//! (`downstream`), with its own HTTP/1.x client session (`http1`). The request path calls
//! into the pipeline and integrations; this module only moves bytes and headers between them
//! and the sockets.

mod access;
mod admission;
mod cache;
mod chunked;
mod custom;
mod downstream;
mod failure;
mod forward;
mod head;
mod http1;
mod logging;
mod pool;
mod request;
mod respond;
mod timer;

pub use http1::{RequestHead, Session};

use crate::access_log::AccessLogger;
use crate::compile::Snapshot;
use crate::integrations::Failure;
use crate::metrics::Metrics;
use crate::pipeline::{CasedHeaders, Landing, Outcome, RequestInfo, RequestView};
use arc_swap::ArcSwap;
use bytes::Bytes;
use pingora::connectors::TransportConnector;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Notify;

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
    /// HTTP_PROXY to TLS backends: connections and their pool.
    pub tls: TransportConnector,
    /// Set, and the waiters woken, when the service stops: kept-alive connections close.
    pub shutting_down: AtomicBool,
    pub shutdown: Notify,
}

impl Gateway {
    pub fn new(
        state: Arc<ArcSwap<Snapshot>>,
        metrics: Arc<Metrics>,
        access_log: Option<AccessLogger>,
        functions: crate::functions::Functions,
    ) -> Gateway {
        Gateway {
            state,
            metrics,
            access_log,
            client: crate::client::Client::new(),
            functions,
            tls: TransportConnector::new(None),
            shutting_down: AtomicBool::new(false),
            shutdown: Notify::new(),
        }
    }
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
    pub snapshot: Arc<Snapshot>,
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
    /// HTTP_PROXY: the upstream request target and mapped headers, prepared after admission.
    pub upstream: Option<request::PreparedUpstream>,
    /// The request body when a step before the integration had to read it (SigV4 signs it).
    pub request_body: Option<Bytes>,
    /// A cache miss whose response is to be stored.
    pub cache_fill: Option<cache::Filling>,
    /// The caller's `Cache-Control` was ignored: the response carries AWS's `Warning`.
    pub cache_warning: bool,
    /// The answer to a refused request when it is not a gateway response (414 for a method
    /// ARN over AWS's limit).
    pub reply: Option<respond::Reply>,
}

impl RequestCtx {
    pub fn new(snapshot: Arc<Snapshot>) -> RequestCtx {
        RequestCtx {
            snapshot,
            info: RequestInfo::new(std::time::SystemTime::now()),
            started: Instant::now(),
            route: Route::default(),
            base_path: None,
            resource_offset: None,
            method_path: None,
            path_params: Vec::new(),
            outcome: Outcome::default(),
            upstream: None,
            request_body: None,
            cache_fill: None,
            cache_warning: false,
            reply: None,
        }
    }

    pub fn fail(&mut self, f: Failure) {
        self.outcome.error = Some(f);
    }

    /// A view of this request, as far as it got, for templates and mapping expressions.
    pub fn view<'a>(
        &'a self,
        snap: &'a Snapshot,
        req: &'a RequestHead,
        body: &'a str,
    ) -> RequestView<'a> {
        let api = self.route.api.map(|a| &snap.apis[a]);
        let (path, query) = req.path_and_query();
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

impl CasedHeaders for RequestHead {
    fn each(&self, f: &mut dyn FnMut(&str, &str)) {
        for (name, value) in self.case_header_iter() {
            if let (Ok(name), Ok(value)) = (std::str::from_utf8(name), std::str::from_utf8(value)) {
                f(name, value);
            }
        }
    }
}
