//! The client side: the gateway as a Pingora server application. Each connection gets one
//! HTTP/1.x session (`http1`) for all its requests. Each request runs the pipeline once,
//! which always answers (an integration's response or a gateway response); then the request
//! is logged and the next one read. Pingora's proxy framework does not run: the pipeline
//! answers every request itself, and HTTP_PROXY has its own backend exchange (`forward`).

use super::http1::Session;
use super::{custom::Callers, failure, logging, request, Gateway, RequestCtx};
use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::prelude::*;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;

#[async_trait]
impl ServerApp for Gateway {
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let mut session = Session::new(stream);
        // One shutdown signal for the connection's life. A `Notified` completes on `cleanup`
        // even if not polled yet; the flag covers a `cleanup` before it was made.
        let notified = self.shutdown.notified();
        let stopped = self.shutting_down.load(Ordering::Acquire);
        let mut stopping = std::pin::pin!(async move {
            if !stopped {
                notified.await;
            }
        });
        while self
            .serve_one(&mut session, stopping.as_mut(), shutdown)
            .await
        {}
        session.shutdown().await;
        None
    }

    async fn cleanup(&self) {
        self.shutting_down.store(true, Ordering::Release);
        // Wakes the kept-alive connections waiting for their next request.
        self.shutdown.notify_waiters();
    }
}

impl Gateway {
    /// Reads and answers one request; true when the connection can carry another.
    async fn serve_one(
        &self,
        session: &mut Session,
        stopping: Pin<&mut (impl Future<Output = ()> + Send)>,
        shutdown: &ShutdownWatch,
    ) -> bool {
        let read = tokio::select! {
            // Biased: a request already buffered is served before the shutdown is noticed.
            biased;
            read = session.read_request() => read,
            () = stopping => return false,
        };
        match read {
            Ok(true) => {}
            Ok(false) => return false,
            Err(e) => {
                if matches!(e.etype(), ErrorType::InvalidHTTPHeader) {
                    let _ = session.respond_error(400).await;
                }
                return false;
            }
        }
        // CONNECT frames its body differently: refused, and the connection closed.
        if session.req_header().method == http::Method::CONNECT {
            let _ = session.respond_error(405).await;
            return false;
        }
        let snapshot = self.state.load_full();
        if *shutdown.borrow() {
            session.set_keepalive(None);
        } else if session.get_keepalive().is_some() {
            session.set_keepalive(Some(snapshot.server.keepalive_timeout_seconds));
        }
        let mut ctx = RequestCtx::new(snapshot);
        let callers = Callers {
            client: &self.client,
            functions: &self.functions,
            tls: &self.tls,
        };
        let outcome = request::serve(&callers, session, &mut ctx).await;
        let reuse = match outcome {
            Ok(()) => true,
            Err(e) => {
                // Client disconnects are not server errors.
                if !matches!(e.esource(), ErrorSource::Downstream) {
                    log::error!("{}: {e}", ctx.info.request_id.as_str());
                }
                failure::answer(session, &e, &mut ctx).await;
                false
            }
        };
        let reuse = session.finish().await && reuse;
        logging::log_request(self, session, &mut ctx);
        reuse
    }
}
