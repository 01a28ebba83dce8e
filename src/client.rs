//! A buffered HTTP client for non-proxy integrations (HTTP, AWS service calls): sends one
//! complete request and reads one complete response over Pingora's pooled connectors, which
//! give plain and TLS backends, connection reuse and per-peer timeouts.

use bytes::{Bytes, BytesMut};
use pingora::connectors::http::Connector;
use pingora::http::RequestHeader;
use pingora::prelude::*;
use pingora::upstreams::peer::HttpPeer;
use std::time::Duration;

/// Backend responses larger than this are refused (AWS's integration payload limit).
pub const MAX_RESPONSE_BODY: usize = 10 * 1024 * 1024;

/// An outbound request, ready to send.
pub struct Outbound {
    pub method: String,
    /// Path and query, already encoded.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

/// A complete backend response.
#[derive(Debug)]
pub struct Inbound {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

/// Why an exchange failed, in the terms the gateway responses use.
#[derive(Debug, PartialEq, Eq)]
pub enum ClientError {
    /// `timeoutInMillis` passed, or a connect/read/write timeout.
    Timeout,
    /// Nothing listens there, or the address cannot be reached.
    Unreachable(String),
    /// The backend broke the protocol or the connection, or sent too much.
    Protocol(String),
}

pub struct Client {
    connector: Connector,
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

impl Client {
    pub fn new() -> Client {
        Client {
            connector: Connector::new(None),
        }
    }

    /// Sends `req` to `peer` and reads the whole response, all within `timeout`.
    pub async fn send(
        &self,
        peer: &HttpPeer,
        req: Outbound,
        timeout: Duration,
    ) -> Result<Inbound, ClientError> {
        match tokio::time::timeout(timeout, self.exchange(peer, req)).await {
            Ok(r) => r,
            Err(_) => Err(ClientError::Timeout),
        }
    }

    async fn exchange(&self, peer: &HttpPeer, req: Outbound) -> Result<Inbound, ClientError> {
        let head = request_header(&req).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let (mut session, _reused) = self
            .connector
            .get_http_session(peer)
            .await
            .map_err(classify)?;
        session
            .write_request_header(Box::new(head))
            .await
            .map_err(classify)?;
        if !req.body.is_empty() {
            session
                .write_request_body(req.body, true)
                .await
                .map_err(classify)?;
        }
        session.finish_request_body().await.map_err(classify)?;
        // Interim (1xx) responses are skipped.
        let header = loop {
            session.read_response_header().await.map_err(classify)?;
            let Some(h) = session.response_header() else {
                return Err(ClientError::Protocol("no response header".into()));
            };
            if !h.status.is_informational() {
                break h.clone();
            }
        };
        let mut body = BytesMut::new();
        while let Some(chunk) = session.read_response_body().await.map_err(classify)? {
            if body.len() + chunk.len() > MAX_RESPONSE_BODY {
                return Err(ClientError::Protocol("response body too large".into()));
            }
            body.extend_from_slice(&chunk);
        }
        let reusable = session.response_done();
        if reusable {
            self.connector
                .release_http_session(session, peer, peer.options.idle_timeout)
                .await;
        }
        Ok(Inbound {
            status: header.status.as_u16(),
            headers: header.headers.clone(),
            body: body.freeze(),
        })
    }
}

fn request_header(req: &Outbound) -> Result<RequestHeader> {
    let mut head = RequestHeader::build(req.method.as_str(), req.target.as_bytes(), None)?;
    for (k, v) in &req.headers {
        head.append_header(k.clone(), v.as_str())?;
    }
    let has_length = req
        .headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-length"));
    if !has_length && (!req.body.is_empty() || !matches!(req.method.as_str(), "GET" | "HEAD")) {
        head.insert_header("Content-Length", req.body.len().to_string())?;
    }
    Ok(head)
}

fn classify(e: Box<Error>) -> ClientError {
    use ErrorType::*;
    match e.etype() {
        ConnectTimedout | ReadTimedout | WriteTimedout | TLSHandshakeTimedout => {
            ClientError::Timeout
        }
        ConnectRefused | ConnectNoRoute | ConnectError | BindError | SocketError => {
            ClientError::Unreachable(e.to_string())
        }
        _ => ClientError::Protocol(e.to_string()),
    }
}
