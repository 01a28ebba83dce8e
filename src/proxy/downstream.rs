//! The client side: the gateway as an HTTP application on Pingora's server sessions. Each
//! request runs the pipeline once, which always answers (an integration's response or a
//! gateway response); then the request is logged and the connection handed back for reuse.
//! Pingora's proxy framework does not run: the pipeline answers every request itself, and
//! HTTP_PROXY has its own backend exchange (`forward`).

use super::{custom::Callers, failure, logging, request, Gateway, RequestCtx};
use async_trait::async_trait;
use pingora::apps::{HttpPersistentSettings, HttpServerApp, ReusedHttpStream};
use pingora::prelude::*;
use pingora::protocols::http::ServerSession;
use pingora::server::ShutdownWatch;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A client request's session.
pub type Session = ServerSession;

#[async_trait]
impl HttpServerApp for Gateway {
    async fn process_new_http(
        self: &Arc<Self>,
        mut session: ServerSession,
        shutdown: &ShutdownWatch,
    ) -> Option<ReusedHttpStream> {
        let read = tokio::select! {
            // Biased: a request already buffered is served before the shutdown is noticed.
            biased;
            read = session.read_request() => read,
            _ = self.await_shutdown() => return None,
        };
        match read {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => {
                if matches!(e.etype(), ErrorType::InvalidHTTPHeader) {
                    let _ = session.respond_error(400).await;
                }
                session.shutdown().await;
                return None;
            }
        }
        // CONNECT frames its body differently: refused, and the connection closed.
        if session.req_header().method == http::Method::CONNECT {
            let _ = session.respond_error(405).await;
            session.shutdown().await;
            return None;
        }
        let snapshot = self.state.load_full();
        if *shutdown.borrow() {
            session.set_keepalive(None);
        } else if session.get_keepalive() == Some(0) {
            // HTTP/1.1 keep-alive never times out by default: bound it.
            session.set_keepalive(Some(snapshot.server.keepalive_timeout_seconds));
        }
        let mut ctx = RequestCtx::new(snapshot);
        let callers = Callers {
            client: &self.client,
            functions: &self.functions,
            tls: &self.tls,
        };
        let outcome = request::serve(&callers, &mut session, &mut ctx).await;
        let reuse = match outcome {
            Ok(()) => true,
            Err(e) => {
                // Client disconnects are not server errors.
                if !matches!(e.esource(), ErrorSource::Downstream) {
                    log::error!("{}: {e}", ctx.info.request_id.as_str());
                }
                failure::answer(&mut session, &e, &mut ctx).await;
                false
            }
        };
        logging::log_request(self, &session, &mut ctx);
        if !reuse {
            return None;
        }
        let settings = HttpPersistentSettings::for_session(&session);
        match session.finish().await {
            Ok(Some(stream)) => Some(ReusedHttpStream::from_reusable_stream(stream, settings)),
            _ => None,
        }
    }

    async fn http_cleanup(&self) {
        self.shutting_down.store(true, Ordering::Release);
        // Wakes the kept-alive connections waiting for their next request.
        self.shutdown.notify_waiters();
    }
}

impl Gateway {
    async fn await_shutdown(&self) {
        let notified = self.shutdown.notified();
        if !self.shutting_down.load(Ordering::Acquire) {
            notified.await;
        }
    }
}
