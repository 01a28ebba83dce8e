//! HTTP_PROXY: a lean HTTP/1.1 exchange on pooled connections (plain ones in `pool`, TLS ones
//! from Pingora's connector, which does the handshake and certificate checks). The request
//! head is written as bytes with API Gateway's header rules applied while writing; the
//! response head is parsed with httparse, renaming and dropping headers while building the
//! client's response. Both bodies stream; nothing is buffered beyond one read.

use super::chunked::{decode_chunk, Chunk, Decoded};
use super::custom::Callers;
use super::failure;
use super::head::{self, ResponseHead};
use super::pool;
use super::respond;
use super::{RequestCtx, Session, MAX_BODY};
use crate::compile::{Snapshot, Upstream};
use crate::integrations::http::{HttpProxy, DROPPED_REQUEST_HEADERS, REMAPPED_RESPONSE_HEADERS};
use crate::integrations::Failure;
use crate::responses::GatewayResponseType as G;
use bytes::{BufMut, Bytes, BytesMut};
use pingora::connectors::TransportConnector;
use pingora::prelude::*;
use pingora::protocols::Stream;
use pingora::time::fast_timeout::fast_timeout;
use pingora::upstreams::peer::Peer;
use std::io::ErrorKind;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// Request headers never forwarded: hop-by-hop ones, and those the gateway writes itself.
const SKIPPED_REQUEST_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "transfer-encoding",
    "proxy-authorization",
    "http2-settings",
    "host",
    "content-length",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-amzn-apigateway-api-id",
];

/// Response headers that only frame the backend connection.
const HOP_BY_HOP_RESPONSE_HEADERS: &[&str] = &[
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "trailer",
    "upgrade",
];

const MAX_HEAD: usize = 64 * 1024;

/// Why the exchange stopped.
enum Stop {
    /// Nothing was sent to the client yet: answer with this gateway response.
    Gateway(Failure),
    /// The client's response had started: the connection can only be dropped.
    Abort(Box<Error>),
}

impl From<Box<Error>> for Stop {
    fn from(e: Box<Error>) -> Stop {
        Stop::Abort(e)
    }
}

fn fail(kind: G) -> Stop {
    Stop::Gateway(Failure::new(kind))
}

/// Runs the exchange and answers the client, whatever happens.
pub async fn forward(
    callers: &Callers<'_>,
    session: &mut Session,
    ctx: &mut RequestCtx,
    snap: &Snapshot,
    proxy: &HttpProxy,
    up: &Upstream,
) -> Result<()> {
    match exchange(callers.tls, session, ctx, proxy, up).await {
        Ok(()) => Ok(()),
        Err(Stop::Abort(e)) => Err(e),
        Err(Stop::Gateway(failure)) => {
            let reply = respond::gateway_reply(session, ctx, snap, failure, "");
            // The request body may be half read: do not reuse the client connection.
            session.set_keepalive(None);
            respond::write(session, ctx, reply).await
        }
    }
}

/// How the request body travels.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RequestBody {
    None,
    Length(u64),
    Chunked,
}

async fn exchange(
    tls: &TransportConnector,
    session: &mut Session,
    ctx: &mut RequestCtx,
    proxy: &HttpProxy,
    up: &Upstream,
) -> Result<(), Stop> {
    let started = Instant::now();
    let mut deadline = started + up.timeout;
    let (mut head, mut buf) = session.take_backend_buffers();
    let (body, is_head) = request_head(&mut head, session, ctx, proxy, up);

    // A pooled connection may have been closed by the backend in the meantime: when nothing of
    // the client's body has been consumed, one retry on a new connection is safe.
    let mut attempt = 0;
    let mut conn = loop {
        let (mut conn, reused) = open(tls, up, attempt == 0, started, deadline).await?;
        let pre_read = ctx.request_body.clone();
        // The time left for the head: all of it on a pooled connection's first try.
        let head_limit = match (attempt, reused) {
            (0, true) => up.timeout,
            _ => deadline.saturating_duration_since(Instant::now()),
        };
        match send_request(
            session, &mut conn, &head, body, pre_read, head_limit, up.timeout,
        )
        .await
        {
            // AWS has the whole body before it calls the backend: waiting for the client's
            // upload does not count against the integration timeout.
            Ok(()) if body != RequestBody::None => deadline = Instant::now() + up.timeout,
            Ok(()) => {}
            Err(SendError::Stale) if reused && body == RequestBody::None => {
                attempt += 1;
                continue;
            }
            Err(SendError::Stale) => return Err(fail(G::IntegrationFailure)),
            Err(SendError::Stop(s)) => return Err(s),
        }
        buf.clear();
        buf.reserve(4096);
        match read_more(session, &mut conn, &mut buf, deadline).await {
            Ok(0) if reused && body == RequestBody::None => {
                attempt += 1;
                continue;
            }
            Ok(0) => return Err(fail(G::IntegrationFailure)),
            Ok(_) => break conn,
            Err(s) => return Err(s),
        }
    };

    // Response head (1xx interim responses are skipped).
    let (status, resp, framing, keep_alive) = loop {
        match parse_head(&buf, is_head)? {
            // Upgrade is never forwarded: a switched connection is a protocol error.
            Some((_, parsed)) if parsed.0 == 101 => return Err(fail(G::IntegrationFailure)),
            Some((len, parsed)) if parsed.0 < 200 => {
                let _ = buf.split_to(len);
                if buf.is_empty() && read_more(session, &mut conn, &mut buf, deadline).await? == 0 {
                    return Err(fail(G::IntegrationFailure));
                }
            }
            Some((len, (status, resp, framing, keep_alive))) => {
                let _ = buf.split_to(len);
                break (status, resp, framing, keep_alive);
            }
            None => {
                if buf.len() > MAX_HEAD
                    || read_more(session, &mut conn, &mut buf, deadline).await? == 0
                {
                    return Err(fail(G::IntegrationFailure));
                }
            }
        }
    };
    ctx.outcome.status = status;
    ctx.outcome.integration_status = Some(status);
    ctx.outcome.integration_latency_ms = Some(started.elapsed().as_millis() as u64);
    let mut resp = resp;
    if is_head && session.req_header().method != http::Method::HEAD {
        // A HEAD integration for another client method: the client gets no body.
        resp.framing = head::Framing::Length(0);
    }
    respond::add_ids(&mut resp, ctx);
    super::cache::add_warning(ctx, &mut resp);
    let no_body = framing == Framing::None;
    let length = match framing {
        Framing::Length(n) => Some(n),
        Framing::None => Some(0),
        Framing::Chunked | Framing::Close => None,
    };
    super::cache::begin_stream(ctx, &resp, is_head, length);
    session.write_response_header(&resp).await?;

    // Response body, one read at a time; each read is bounded by the integration timeout.
    let clean = match framing {
        Framing::None => true,
        Framing::Length(n) => copy_length(session, ctx, &mut conn, &mut buf, n, up.timeout).await?,
        Framing::Chunked => copy_chunked(session, ctx, &mut conn, &mut buf, up.timeout).await?,
        Framing::Close => {
            copy_until_close(session, ctx, &mut conn, &mut buf, up.timeout).await?;
            false
        }
    };
    if !no_body {
        // Completes a body whose last bytes did not say so (a no-op otherwise).
        session.write_response_body(Bytes::new(), true).await?;
    }
    super::cache::end_stream(ctx);
    if clean && keep_alive && buf.is_empty() {
        match conn {
            Conn::Plain(c) => pool::put(up.addr, c, started),
            Conn::Tls(s) => tls.release_stream(s, up.peer.reuse_hash(), up.peer.idle_timeout()),
        }
    }
    session.keep_backend_buffers(head, buf);
    Ok(())
}

/// Writes the upstream request head into `h`; returns the body framing it announces and
/// whether the method is HEAD.
fn request_head(
    h: &mut BytesMut,
    session: &Session,
    ctx: &mut RequestCtx,
    proxy: &HttpProxy,
    up: &Upstream,
) -> (RequestBody, bool) {
    let req = session.req_header();
    let prepared = ctx.upstream.take();
    let (target, mapped) = match &prepared {
        Some(p) => (p.target.as_str(), p.mapped_headers.as_slice()),
        None => ("/", &[][..]),
    };
    let method = proxy.method.map_or(req.method.as_str(), |m| m.as_str());
    h.reserve(512 + target.len());
    h.put_slice(method.as_bytes());
    h.put_u8(b' ');
    // `upstream_target` already encoded what could split the request line.
    h.put_slice(target.as_bytes());
    h.put_slice(b" HTTP/1.1\r\nHost: ");
    h.put_slice(up.host.as_bytes());
    h.put_slice(b"\r\n");
    let mut xff: Option<&str> = None;
    let mut has_trace = false;
    let mut body = RequestBody::None;
    for (name, value) in req.headers.iter() {
        let n = name.as_str();
        match n {
            "content-length" => {
                // The session has checked that every value agrees (`5, 5` is one length of 5).
                let first = value.to_str().ok().and_then(|v| v.split(',').next());
                if let Some(len) = first.and_then(|v| v.trim().parse().ok()) {
                    if body == RequestBody::None && len > 0 {
                        body = RequestBody::Length(len);
                    }
                }
            }
            "transfer-encoding" if is_chunked(value.as_bytes()) => body = RequestBody::Chunked,
            "x-forwarded-for" => xff = value.to_str().ok(),
            "x-amzn-trace-id" => has_trace = true,
            _ => {}
        }
        if SKIPPED_REQUEST_HEADERS.contains(&n)
            || DROPPED_REQUEST_HEADERS.contains(&n)
            || mapped.iter().any(|(m, _)| m.eq_ignore_ascii_case(n))
        {
            continue;
        }
        put_header(h, n.as_bytes(), value.as_bytes());
    }
    put_header(
        h,
        b"X-Forwarded-For",
        ctx.info.forwarded_for(xff).as_bytes(),
    );
    h.put_slice(b"X-Forwarded-Proto: http\r\nX-Forwarded-Port: ");
    let port = session
        .server_addr()
        .and_then(|a| a.as_inet())
        .map_or(0, |a| a.port());
    h.put_slice(itoa::Buffer::new().format(port).as_bytes());
    h.put_slice(b"\r\n");
    has_trace |= mapped
        .iter()
        .any(|(m, _)| m.eq_ignore_ascii_case("x-amzn-trace-id"));
    if !has_trace {
        put_header(h, b"X-Amzn-Trace-Id", ctx.info.trace_id().as_bytes());
    }
    if let Some(api) = ctx.route.api.map(|a| &ctx.snapshot.apis[a]) {
        put_header(h, b"X-Amzn-Apigateway-Api-Id", api.id.as_bytes());
    }
    for (name, value) in mapped {
        // Hop-by-hop headers and those the gateway writes itself are not mapped.
        let lower = name.to_ascii_lowercase();
        if SKIPPED_REQUEST_HEADERS.contains(&lower.as_str())
            || DROPPED_REQUEST_HEADERS.contains(&lower.as_str())
        {
            continue;
        }
        // Values come from requests: refuse anything that would split the head.
        if !value.bytes().any(|b| b == b'\r' || b == b'\n') {
            put_header(h, name.as_bytes(), value.as_bytes());
        }
    }
    if let Some(pre) = &ctx.request_body {
        // Read whole already (signed or validated): sent with its length.
        body = match pre.len() {
            0 => RequestBody::None,
            n => RequestBody::Length(n as u64),
        };
    }
    match body {
        RequestBody::Length(n) => {
            h.put_slice(b"Content-Length: ");
            h.put_slice(itoa::Buffer::new().format(n).as_bytes());
            h.put_slice(b"\r\n");
        }
        RequestBody::Chunked => h.put_slice(b"Transfer-Encoding: chunked\r\n"),
        RequestBody::None => {}
    }
    h.put_slice(b"\r\n");
    (body, method == "HEAD")
}

/// Runs `f` until `deadline`. Pingora's shared timer wheel keeps per-request timers cheap: a
/// tokio timer would wake the runtime's driver with a syscall each time one is armed.
async fn within<F: std::future::Future>(
    deadline: Instant,
    f: F,
) -> Result<F::Output, pingora::time::Elapsed> {
    fast_timeout(deadline.saturating_duration_since(Instant::now()), f).await
}

fn is_chunked(transfer_encoding: &[u8]) -> bool {
    transfer_encoding
        .windows(7)
        .any(|w| w.eq_ignore_ascii_case(b"chunked"))
}

fn put_header(h: &mut BytesMut, name: &[u8], value: &[u8]) {
    h.put_slice(name);
    h.put_slice(b": ");
    h.put_slice(value);
    h.put_slice(b"\r\n");
}

/// A backend connection: plain TCP, or TLS through Pingora's connector.
enum Conn {
    Plain(TcpStream),
    Tls(Stream),
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(c) => Pin::new(c).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(c) => Pin::new(c).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(c) => Pin::new(c).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(c) => Pin::new(c).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// A connection to the backend, pooled when `may_reuse` and one is idle; true when pooled.
async fn open(
    tls: &TransportConnector,
    up: &Upstream,
    may_reuse: bool,
    now: Instant,
    deadline: Instant,
) -> Result<(Conn, bool), Stop> {
    if !up.endpoint.tls {
        return Ok(
            match may_reuse.then(|| pool::take(up.addr, now)).flatten() {
                Some(c) => (Conn::Plain(c), true),
                None => (Conn::Plain(connect(up.addr, deadline).await?), false),
            },
        );
    }
    // Boxed: plain-HTTP exchanges do not carry the TLS connector's state.
    let opened = if may_reuse {
        within(deadline, Box::pin(tls.get_stream(&up.peer))).await
    } else {
        within(
            deadline,
            Box::pin(async { Ok((tls.new_stream(&up.peer).await?, false)) }),
        )
        .await
    };
    match opened {
        Err(_) => Err(fail(G::IntegrationTimeout)),
        Ok(Err(e)) => Err(Stop::Gateway(
            failure::classify(&e).unwrap_or_else(|| Failure::new(G::IntegrationFailure)),
        )),
        Ok(Ok((s, reused))) => Ok((Conn::Tls(s), reused)),
    }
}

async fn connect(addr: std::net::SocketAddr, deadline: Instant) -> Result<TcpStream, Stop> {
    match within(deadline, TcpStream::connect(addr)).await {
        Err(_) => Err(fail(G::IntegrationTimeout)),
        // Nothing listens at the endpoint: AWS reports a configuration error.
        Ok(Err(_)) => Err(fail(G::ApiConfigurationError)),
        Ok(Ok(c)) => {
            let _ = c.set_nodelay(true);
            Ok(c)
        }
    }
}

enum SendError {
    /// The connection failed before any of the client's body was consumed.
    Stale,
    Stop(Stop),
}

/// Writes the head, then streams the client's body (re-chunking a chunked one), or sends
/// the body an earlier step already read.
async fn send_request(
    session: &mut Session,
    conn: &mut Conn,
    head: &[u8],
    body: RequestBody,
    mut pre_read: Option<Bytes>,
    head_limit: Duration,
    limit: Duration,
) -> Result<(), SendError> {
    match fast_timeout(head_limit, conn.write_all(head)).await {
        Err(_) => return Err(SendError::Stop(fail(G::IntegrationTimeout))),
        Ok(Err(_)) => return Err(SendError::Stale),
        Ok(Ok(())) => {}
    }
    if body == RequestBody::None {
        return Ok(());
    }
    let mut sent: u64 = 0;
    let buffered = pre_read.is_some();
    loop {
        let chunk = if buffered {
            pre_read.take()
        } else {
            match session.read_request_body().await {
                Ok(c) => c,
                Err(e) => return Err(SendError::Stop(Stop::Abort(e))),
            }
        };
        let Some(chunk) = chunk else { break };
        sent += chunk.len() as u64;
        if sent > MAX_BODY {
            return Err(SendError::Stop(fail(G::RequestTooLarge)));
        }
        if chunk.is_empty() {
            continue;
        }
        let write = async {
            if body == RequestBody::Chunked {
                conn.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .await?;
                conn.write_all(&chunk).await?;
                conn.write_all(b"\r\n").await
            } else {
                conn.write_all(&chunk).await
            }
        };
        // Each write is bounded on its own: the client's pace is not the backend's.
        match fast_timeout(limit, write).await {
            Err(_) => return Err(SendError::Stop(fail(G::IntegrationTimeout))),
            Ok(Err(_)) => return Err(SendError::Stop(fail(G::IntegrationFailure))),
            Ok(Ok(())) => {}
        }
    }
    if body == RequestBody::Chunked {
        match fast_timeout(limit, conn.write_all(b"0\r\n\r\n")).await {
            Err(_) => return Err(SendError::Stop(fail(G::IntegrationTimeout))),
            Ok(Err(_)) => return Err(SendError::Stop(fail(G::IntegrationFailure))),
            Ok(Ok(())) => {}
        }
    }
    Ok(())
}

/// Reads more of the response head; 0 means the backend closed the connection. The wait is
/// bounded by the client connection's backend timer.
async fn read_more(
    session: &mut Session,
    conn: &mut Conn,
    buf: &mut BytesMut,
    deadline: Instant,
) -> Result<usize, Stop> {
    match session
        .backend_timer()
        .run(deadline, conn.read_buf(buf))
        .await
    {
        None => Err(fail(G::IntegrationTimeout)),
        Some(Err(e)) if e.kind() == ErrorKind::ConnectionReset => Ok(0),
        Some(Err(_)) => Err(fail(G::IntegrationFailure)),
        Some(Ok(n)) => Ok(n),
    }
}

/// How the response body is delimited.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    Close,
}

type Head = (u16, ResponseHead, Framing, bool);

/// Parses a complete response head into the client's response header (API Gateway's renames
/// applied), or None when more bytes are needed.
fn parse_head(buf: &[u8], is_head: bool) -> Result<Option<(usize, Head)>, Stop> {
    let mut slots = [const { std::mem::MaybeUninit::<httparse::Header>::uninit() }; 96];
    let mut r = httparse::Response::new(&mut []);
    let config = httparse::ParserConfig::default();
    let len = match config.parse_response_with_uninit_headers(&mut r, buf, &mut slots) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(fail(G::IntegrationFailure)),
    };
    let status = r.code.unwrap_or(502);
    let mut keep_alive = r.version == Some(1);
    let mut length = None;
    let mut lengths = 0;
    let mut chunked = false;
    // Room for the backend's lines, the `x-amzn-Remapped-` prefixes and the gateway's ids.
    let mut resp = ResponseHead::with_capacity(status, head::Framing::Close, len + 192);
    for h in r.headers.iter() {
        let name = h.name;
        // Each name is compared in full at most once: the lists differ in length mostly.
        let remapped = REMAPPED_RESPONSE_HEADERS
            .iter()
            .find(|(n, _)| name.eq_ignore_ascii_case(n));
        match remapped {
            Some(&(known, remapped)) => {
                if known == "connection" {
                    if h.value.windows(5).any(|w| w.eq_ignore_ascii_case(b"close")) {
                        keep_alive = false;
                    }
                } else if known == "content-length" {
                    // Identical values (`5, 5`, or the header twice) are one length; differing
                    // or unparseable ones in a list make the framing ambiguous (RFC 9110 §8.6).
                    for v in h.value.split(|&b| b == b',') {
                        let n = std::str::from_utf8(v)
                            .ok()
                            .and_then(|v| v.trim().parse::<u64>().ok());
                        lengths += 1;
                        if lengths > 1 && (n.is_none() || n != length) {
                            return Err(fail(G::IntegrationFailure));
                        }
                        length = n;
                    }
                }
                // API Gateway writes its own: the backend's is kept under another name.
                resp.append_valid(remapped, h.value);
            }
            None if name.eq_ignore_ascii_case("transfer-encoding") => {
                chunked |= is_chunked(h.value);
            }
            None if name.eq_ignore_ascii_case("via")
                || name.eq_ignore_ascii_case("x-amz-apigw-id")
                || HOP_BY_HOP_RESPONSE_HEADERS
                    .iter()
                    .any(|n| name.eq_ignore_ascii_case(n)) => {}
            None => resp.append_valid(name, h.value),
        }
    }
    let framing = if is_head || status < 200 || status == 204 || status == 304 {
        Framing::None
    } else if chunked {
        Framing::Chunked
    } else if let Some(n) = length {
        if n == 0 {
            Framing::None
        } else {
            Framing::Length(n)
        }
    } else {
        Framing::Close
    };
    // One Content-Length for the client, whatever list the backend sent; a body of unknown
    // length is re-chunked.
    resp.framing = match framing {
        Framing::Chunked | Framing::Close => head::Framing::Chunked,
        Framing::Length(n) => head::Framing::Length(n),
        Framing::None => length.map_or(head::Framing::Close, head::Framing::Length),
    };
    Ok(Some((len, (status, resp, framing, keep_alive))))
}

/// One body read, bounded by `limit`; 0 means the backend closed the connection.
async fn read_body(conn: &mut Conn, buf: &mut BytesMut, limit: Duration) -> Result<usize, Stop> {
    match fast_timeout(limit, conn.read_buf(buf)).await {
        Err(_) => Err(Stop::Abort(Error::explain(
            ErrorType::ReadTimedout,
            "backend body read timed out",
        ))),
        Ok(Err(e)) => Err(Stop::Abort(Error::because(
            ErrorType::ReadError,
            "backend body",
            e,
        ))),
        Ok(Ok(n)) => Ok(n),
    }
}

/// Passes body bytes to the client; `end` when they are the last.
async fn send_down(
    session: &mut Session,
    ctx: &mut RequestCtx,
    data: Bytes,
    end: bool,
) -> Result<(), Stop> {
    ctx.outcome.response_length += data.len() as u64;
    super::cache::collect(ctx, &data);
    session.write_response_body(data, end).await?;
    Ok(())
}

/// A Content-Length body; true when it ended exactly.
async fn copy_length(
    session: &mut Session,
    ctx: &mut RequestCtx,
    conn: &mut Conn,
    buf: &mut BytesMut,
    mut left: u64,
    limit: Duration,
) -> Result<bool, Stop> {
    loop {
        if !buf.is_empty() {
            let take = (buf.len() as u64).min(left) as usize;
            let data = buf.split_to(take).freeze();
            left -= take as u64;
            send_down(session, ctx, data, left == 0).await?;
        }
        if left == 0 {
            return Ok(buf.is_empty());
        }
        if read_body(conn, buf, limit).await? == 0 {
            return Err(Stop::Abort(Error::explain(
                ErrorType::ConnectionClosed,
                "backend closed mid-body",
            )));
        }
    }
}

/// A chunked body, decoded here and re-chunked by the client's session.
async fn copy_chunked(
    session: &mut Session,
    ctx: &mut RequestCtx,
    conn: &mut Conn,
    buf: &mut BytesMut,
    limit: Duration,
) -> Result<bool, Stop> {
    let mut state = Chunk::Size;
    loop {
        match decode_chunk(state, buf)? {
            Decoded::Data(data, next) => {
                state = next;
                send_down(session, ctx, data, false).await?;
            }
            Decoded::Next(next) => state = next,
            Decoded::End => return Ok(buf.is_empty()),
            Decoded::More => {
                if read_body(conn, buf, limit).await? == 0 {
                    return Err(Stop::Abort(Error::explain(
                        ErrorType::ConnectionClosed,
                        "backend closed mid-body",
                    )));
                }
            }
        }
    }
}

/// A body delimited by the backend closing the connection.
async fn copy_until_close(
    session: &mut Session,
    ctx: &mut RequestCtx,
    conn: &mut Conn,
    buf: &mut BytesMut,
    limit: Duration,
) -> Result<(), Stop> {
    loop {
        if !buf.is_empty() {
            let data = buf.split().freeze();
            send_down(session, ctx, data, false).await?;
        }
        if read_body(conn, buf, limit).await? == 0 {
            return Ok(());
        }
    }
}
