//! The client side of HTTP/1.x: the gateway's own server session over Pingora's transport
//! stream. One session serves every request of a connection, reusing its buffers.
//!
//! Request heads are parsed with `httparse` into a [`RequestHead`] whose target and header
//! names stay as received. Framing follows RFC 9112 as Pingora's own session applies it:
//! Transfer-Encoding wins over Content-Length (and the connection closes after the response);
//! differing Content-Length values, a final coding other than `chunked`, Transfer-Encoding on
//! HTTP/1.0 and more than one `Host` are refused with 400. Illegal bytes in the target (space,
//! `"`, `<`, `>`, controls) are percent-encoded rather than refused. Responses get `Date` and
//! `Connection`; a response sent before the request body was read closes the connection.

use super::chunked::{decode_chunk, Chunk, Decoded};
use super::head::{Framing, ResponseHead};
use super::timer::LazyTimer;
use bytes::{BufMut, Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, EXPECT, HOST, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};
use pingora::prelude::*;
use pingora::protocols::l4::socket::SocketAddr;
use pingora::protocols::Stream;
use pingora::time::fast_timeout::fast_timeout;
use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::ops::Range;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The largest request head accepted (Pingora's limit).
const MAX_HEAD: usize = 1024 * 1024;
const MAX_HEADERS: usize = 256;
/// How long one read of a request head's rest or of its body may wait.
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Bodies up to this size go out in the same write as their head.
const COALESCE: usize = 16 * 1024;

/// A request head as received: method, version, the raw target and the headers.
#[derive(Default)]
pub struct RequestHead {
    pub method: Method,
    pub version: Version,
    pub headers: HeaderMap,
    raw: Bytes,
    /// Where in `raw` the target's path and query lie as sent (for an absolute-form target,
    /// the part after the authority), checked once to be UTF-8; where its `?` is.
    target: Range<usize>,
    query_at: Option<usize>,
    authority: Option<Range<usize>>,
    /// Each header line's name and value, in arrival order.
    lines: Vec<(Range<usize>, Range<usize>)>,
    seen: FramingHeaders,
}

/// Which headers that frame a request it carries, noted while its head is built: a head
/// without them is not searched for them.
#[derive(Default, Clone, Copy)]
struct FramingHeaders {
    connection: bool,
    hosts: u8,
    transfer_encoding: bool,
    content_length: bool,
    expect: bool,
}

impl FramingHeaders {
    fn note(&mut self, name: &HeaderName) {
        if *name == HOST {
            self.hosts = self.hosts.saturating_add(1);
        } else if *name == CONNECTION {
            self.connection = true;
        } else if *name == CONTENT_LENGTH {
            self.content_length = true;
        } else if *name == TRANSFER_ENCODING {
            self.transfer_encoding = true;
        } else if *name == EXPECT {
            self.expect = true;
        }
    }
}

impl RequestHead {
    /// The head from its bytes and where httparse found its parts (the header lines in
    /// `lines`); `headers` and `lines` are the last head's, emptied, for their allocations.
    fn build(
        raw: Bytes,
        parsed: Parsed,
        mut headers: HeaderMap,
        lines: Vec<(Range<usize>, Range<usize>)>,
    ) -> Result<RequestHead> {
        headers.reserve(lines.len());
        let mut seen = FramingHeaders::default();
        for (name, value) in &lines {
            let name = HeaderName::from_bytes(&raw[name.clone()])
                .map_err(|_| bad_request("invalid header name"))?;
            seen.note(&name);
            // SAFETY: httparse accepted these bytes as a header value, and the bytes it accepts
            // (tab, 0x20-0x7E, 0x80-0xFF) are exactly those `HeaderValue` allows; checking
            // them again would cost a pass over every value (long tokens included).
            let value =
                unsafe { HeaderValue::from_maybe_shared_unchecked(raw.slice(value.clone())) };
            headers.append(name, value);
        }
        let target = std::str::from_utf8(&raw[parsed.target.clone()])
            .map_err(|_| bad_request("invalid request target"))?;
        Ok(RequestHead {
            method: parsed.method,
            version: parsed.version,
            headers,
            query_at: target.find('?'),
            target: parsed.target,
            raw,
            authority: parsed.authority,
            lines,
            seen,
        })
    }

    /// The target's path and its query string (without the `?`).
    pub fn path_and_query(&self) -> (&str, Option<&str>) {
        // SAFETY: `build` checked that these bytes are UTF-8, and `raw` does not change.
        let target = unsafe { std::str::from_utf8_unchecked(&self.raw[self.target.clone()]) };
        match self.query_at {
            Some(q) => (&target[..q], Some(&target[q + 1..])),
            None => (target, None),
        }
    }

    /// The host of an absolute-form target (`GET http://host:port/path`), without the port.
    pub fn target_host(&self) -> Option<&str> {
        let authority = std::str::from_utf8(&self.raw[self.authority.clone()?]).ok()?;
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        Some(match host.rsplit_once(':') {
            Some((h, port)) if !h.ends_with(']') || port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host,
        })
    }

    /// The header lines with their names in the client's case, in arrival order.
    pub fn case_header_iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.lines
            .iter()
            .map(|(n, v)| (&self.raw[n.clone()], &self.raw[v.clone()]))
    }
}

/// How the request body is framed, and how much of it is left.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum RequestBody {
    Empty,
    Length(u64),
    Chunked(Chunk),
    Done,
}

/// How the response body is framed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ResponseBody {
    None,
    Length(u64),
    Chunked,
    Close,
}

/// A client connection's HTTP/1.x session.
pub struct Session {
    stream: Stream,
    /// Bytes read and not consumed yet: a head's start, body bytes, a pipelined request.
    buf: BytesMut,
    out: BytesMut,
    head: RequestHead,
    body: RequestBody,
    /// Keep the connection after this response; `Some(0)` waits for the next request without
    /// a bound, `Some(n)` for n seconds.
    keepalive: Option<u64>,
    response: Option<(u16, ResponseBody)>,
    /// The response's last body bytes are written.
    complete: bool,
    continued: bool,
    /// When the last response was sent (or the connection opened): idle time counts from it.
    last_active: Instant,
    idle: LazyTimer,
    backend_timer: LazyTimer,
    /// An HTTP_PROXY exchange's buffers (its request head, the backend's bytes), kept for the
    /// connection's next request: allocating them per request churns the allocator's slabs.
    backend_buffers: (BytesMut, BytesMut),
    /// Bytes were written since the last flush.
    unflushed: bool,
    secure: bool,
    peer: Option<SocketAddr>,
    local: Option<SocketAddr>,
}

fn bad_request(why: &'static str) -> Box<Error> {
    Error::explain(ErrorType::InvalidHTTPHeader, why)
}

impl Session {
    pub fn new(stream: Stream) -> Session {
        let socket = stream.get_socket_digest();
        Session {
            secure: stream.get_ssl_digest().is_some(),
            peer: socket.as_ref().and_then(|s| s.peer_addr().cloned()),
            local: socket.as_ref().and_then(|s| s.local_addr().cloned()),
            stream,
            buf: BytesMut::with_capacity(4096),
            out: BytesMut::with_capacity(1024),
            head: RequestHead::default(),
            body: RequestBody::Done,
            keepalive: Some(60),
            response: None,
            complete: false,
            continued: false,
            last_active: Instant::now(),
            idle: LazyTimer::default(),
            backend_timer: LazyTimer::default(),
            backend_buffers: (BytesMut::new(), BytesMut::new()),
            unflushed: false,
        }
    }

    /// Reads the next request head. `Ok(false)`: the client closed (or stayed idle past the
    /// keep-alive timeout) before sending one. A malformed head is an `InvalidHTTPHeader`
    /// error (answered with 400).
    pub async fn read_request(&mut self) -> Result<bool> {
        // A fresh head, keeping the last one's header map (emptied) and line list (`parse_head`
        // refills it) for their allocations.
        let last = std::mem::take(&mut self.head);
        let (mut headers, lines) = (last.headers, last.lines);
        // The rest goes now: the read buffer is reused only once no head refers to it.
        drop(last.raw);
        headers.clear();
        self.head.headers = headers;
        self.head.lines = lines;
        self.response = None;
        self.complete = false;
        self.continued = false;
        let idle = match self.keepalive {
            Some(0) => None,
            Some(n) => Some(Duration::from_secs(n)),
            None => Some(READ_TIMEOUT),
        };
        loop {
            if !self.buf.is_empty() {
                match parse_head(&self.buf, &mut self.head.lines) {
                    Ok(Some(parsed)) => return self.take_head(parsed).map(|()| true),
                    Ok(None) if self.buf.len() > MAX_HEAD => {
                        return Err(bad_request("request head too large"))
                    }
                    Ok(None) => {}
                    Err(ParseError::Escapable) => match escape_request_line(&self.buf) {
                        Some(escaped) => {
                            self.buf = escaped;
                            continue;
                        }
                        None => return Err(bad_request("malformed request line")),
                    },
                    Err(ParseError::Invalid(why)) => return Err(bad_request(why)),
                }
            }
            let started = !self.buf.is_empty();
            self.buf.reserve(4096);
            let n = if started {
                match fast_timeout(READ_TIMEOUT, self.stream.read_buf(&mut self.buf)).await {
                    Ok(r) => r,
                    Err(_) => return Error::e_explain(ErrorType::ReadTimedout, "request head"),
                }
            } else {
                match self.read_idle(idle).await {
                    Some(r) => r,
                    None => return Ok(false),
                }
            };
            match n {
                Ok(0) | Err(_) if !started => return Ok(false),
                Ok(0) => return Error::e_explain(ErrorType::ConnectionClosed, "mid request head"),
                Err(e) => return Err(Error::because(ErrorType::ReadError, "request head", e)),
                Ok(_) => {}
            }
        }
    }

    /// Waits for the first bytes of a request, at most `limit` after the last response; None
    /// when the connection stayed idle that long. Steady traffic costs no timer operations
    /// (see [`LazyTimer`]).
    async fn read_idle(&mut self, limit: Option<Duration>) -> Option<std::io::Result<usize>> {
        let Some(limit) = limit else {
            return Some(self.stream.read_buf(&mut self.buf).await);
        };
        let Session {
            stream,
            buf,
            idle,
            last_active,
            ..
        } = self;
        idle.run(*last_active + limit, stream.read_buf(buf)).await
    }

    /// When the last response was finished (or the connection opened).
    pub fn last_active(&self) -> Instant {
        self.last_active
    }

    /// The connection's timer for waits on a backend's response.
    pub fn backend_timer(&mut self) -> &mut LazyTimer {
        &mut self.backend_timer
    }

    /// Empty buffers for a backend exchange's request head and response bytes (those of the
    /// connection's last exchange, when it returned them).
    pub fn take_backend_buffers(&mut self) -> (BytesMut, BytesMut) {
        let (mut head, mut read) = std::mem::take(&mut self.backend_buffers);
        head.clear();
        read.clear();
        (head, read)
    }

    /// Keeps an exchange's buffers for the next one.
    pub fn keep_backend_buffers(&mut self, head: BytesMut, read: BytesMut) {
        self.backend_buffers = (head, read);
    }

    fn take_head(&mut self, parsed: Parsed) -> Result<()> {
        let raw = self.buf.split_to(parsed.len).freeze();
        let headers = std::mem::take(&mut self.head.headers);
        let lines = std::mem::take(&mut self.head.lines);
        let mut head = RequestHead::build(raw, parsed, headers, lines)?;
        let (body, keepalive) = framing(&mut head)?;
        self.head = head;
        self.body = body;
        if !keepalive {
            self.keepalive = None;
        } else if self.keepalive.is_none() {
            self.keepalive = Some(0);
        }
        Ok(())
    }

    pub fn req_header(&self) -> &RequestHead {
        &self.head
    }

    /// `None`: close the connection after this response. `Some(0)`: keep it without an idle
    /// bound; `Some(n)`: keep it n seconds idle.
    pub fn set_keepalive(&mut self, seconds: Option<u64>) {
        self.keepalive = seconds;
    }

    pub fn get_keepalive(&self) -> Option<u64> {
        self.keepalive
    }

    /// The request body's length as its head declares it (before any of it is read).
    pub fn declared_length(&self) -> Option<u64> {
        match self.body {
            RequestBody::Length(n) => Some(n),
            RequestBody::Empty => Some(0),
            RequestBody::Chunked(_) | RequestBody::Done => None,
        }
    }

    pub fn is_body_empty(&self) -> bool {
        self.body == RequestBody::Empty
    }

    fn is_body_done(&self) -> bool {
        matches!(self.body, RequestBody::Empty | RequestBody::Done)
    }

    pub fn client_addr(&self) -> Option<&SocketAddr> {
        self.peer.as_ref()
    }

    pub fn server_addr(&self) -> Option<&SocketAddr> {
        self.local.as_ref()
    }

    /// Whether the connection is TLS.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The next piece of the request body; `None` at its end.
    pub async fn read_request_body(&mut self) -> Result<Option<Bytes>> {
        loop {
            match self.body {
                RequestBody::Empty | RequestBody::Done => {
                    self.body = RequestBody::Done;
                    return Ok(None);
                }
                RequestBody::Length(left) => {
                    if self.buf.is_empty() {
                        self.fill().await?;
                    }
                    let take = (self.buf.len() as u64).min(left) as usize;
                    let left = left - take as u64;
                    self.body = if left == 0 {
                        RequestBody::Done
                    } else {
                        RequestBody::Length(left)
                    };
                    return Ok(Some(self.buf.split_to(take).freeze()));
                }
                RequestBody::Chunked(state) => match decode_chunk(state, &mut self.buf)? {
                    Decoded::Data(data, next) => {
                        self.body = RequestBody::Chunked(next);
                        return Ok(Some(data));
                    }
                    Decoded::Next(next) => self.body = RequestBody::Chunked(next),
                    Decoded::End => self.body = RequestBody::Done,
                    Decoded::More => self.fill().await?,
                },
            }
        }
    }

    /// Reads and discards the rest of the request body.
    pub async fn drain_request_body(&mut self) -> Result<()> {
        while self.read_request_body().await?.is_some() {}
        Ok(())
    }

    /// Reads more of the body into the buffer; the client closing is an error.
    async fn fill(&mut self) -> Result<()> {
        self.buf.reserve(16 * 1024);
        match fast_timeout(READ_TIMEOUT, self.stream.read_buf(&mut self.buf)).await {
            Err(_) => Error::e_explain(ErrorType::ReadTimedout, "request body"),
            Ok(Ok(0)) => Error::e_explain(ErrorType::ConnectionClosed, "mid request body"),
            Ok(Err(e)) => Err(Error::because(ErrorType::ReadError, "request body", e)),
            Ok(Ok(_)) => Ok(()),
        }
    }

    /// Sends the interim `100 Continue`, once per request.
    pub async fn write_continue_response(&mut self) -> Result<()> {
        if self.continued {
            return Ok(());
        }
        self.continued = true;
        self.send(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
        self.flush().await
    }

    /// The status of the response once its head is written.
    pub fn response_status(&self) -> Option<u16> {
        self.response.map(|(status, _)| status)
    }

    /// Serializes the response head with its framing header, `Date` and `Connection`; it goes
    /// out with the first body bytes (at once when there are none to wait for).
    pub async fn write_response_header(&mut self, resp: &ResponseHead) -> Result<()> {
        if self.response.is_some() {
            log::warn!("a second response head for one request was dropped");
            return Ok(());
        }
        let status = StatusCode::from_u16(resp.status)
            .or_err(ErrorType::InternalError, "response status")?;
        if !self.is_body_done() {
            // The rest of the body would be taken for the next request.
            self.keepalive = None;
        }
        let body = if matches!(status, StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED)
            || self.head.method == Method::HEAD
        {
            ResponseBody::None
        } else {
            match resp.framing {
                Framing::Length(n) => ResponseBody::Length(n),
                Framing::Chunked => ResponseBody::Chunked,
                Framing::Close => ResponseBody::Close,
            }
        };
        if body == ResponseBody::Close {
            self.keepalive = None;
        }
        let out = &mut self.out;
        out.clear();
        out.put_slice(b"HTTP/1.1 ");
        out.put_slice(status.as_str().as_bytes());
        out.put_u8(b' ');
        out.put_slice(status.canonical_reason().unwrap_or("").as_bytes());
        out.put_slice(b"\r\n");
        out.put_slice(resp.lines());
        match resp.framing {
            Framing::Length(n) => {
                out.put_slice(b"Content-Length: ");
                out.put_slice(itoa::Buffer::new().format(n).as_bytes());
                out.put_slice(b"\r\n");
            }
            Framing::Chunked => out.put_slice(b"Transfer-Encoding: chunked\r\n"),
            Framing::Close => {}
        }
        out.put_slice(b"Date: ");
        out.put_slice(http_date().as_bytes());
        out.put_slice(if self.keepalive.is_some() {
            b"\r\nConnection: keep-alive\r\n\r\n"
        } else {
            b"\r\nConnection: close\r\n\r\n"
        });
        self.response = Some((resp.status, body));
        if !matches!(body, ResponseBody::Length(n) if n > 0) {
            // No body bytes to send the head with.
            self.send_out().await?;
            self.flush().await?;
        }
        Ok(())
    }

    /// Writes a piece of the response body; `end` completes the response.
    pub async fn write_response_body(&mut self, data: Bytes, end: bool) -> Result<()> {
        let Some((status, body)) = self.response else {
            return Error::e_explain(ErrorType::InternalError, "a body before its head");
        };
        if self.complete {
            return Ok(());
        }
        self.complete = end;
        let mut data = data;
        match body {
            ResponseBody::None => data.clear(),
            ResponseBody::Length(left) => {
                data.truncate(left.min(data.len() as u64) as usize);
                let left = left - data.len() as u64;
                self.response = Some((status, ResponseBody::Length(left)));
                if end && left > 0 {
                    // The client would wait for bytes that never come.
                    self.keepalive = None;
                }
            }
            ResponseBody::Chunked if !data.is_empty() => {
                let mut size = [0u8; 18];
                let n = chunk_size_line(data.len(), &mut size);
                self.out.put_slice(&size[..n]);
            }
            ResponseBody::Chunked | ResponseBody::Close => {}
        }
        if data.len() <= COALESCE {
            self.out.put_slice(&data);
        } else {
            self.send_out().await?;
            self.send(&data).await?;
        }
        if body == ResponseBody::Chunked {
            if !data.is_empty() {
                self.out.put_slice(b"\r\n");
            }
            if end {
                self.out.put_slice(b"0\r\n\r\n");
            }
        }
        self.send_out().await?;
        self.flush().await
    }

    async fn send_out(&mut self) -> Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        self.unflushed = true;
        let r = self.stream.write_all(&self.out).await;
        self.out.clear();
        r.map_err(|e| Error::because(ErrorType::WriteError, "response", e))
    }

    async fn send(&mut self, data: &[u8]) -> Result<()> {
        self.unflushed = true;
        self.stream
            .write_all(data)
            .await
            .map_err(|e| Error::because(ErrorType::WriteError, "response", e))
    }

    /// Flushes what was written since the last flush (a TLS stream holds records back).
    async fn flush(&mut self) -> Result<()> {
        if !std::mem::take(&mut self.unflushed) {
            return Ok(());
        }
        self.stream
            .flush()
            .await
            .map_err(|e| Error::because(ErrorType::WriteError, "response", e))
    }

    /// Answers a request that cannot be served (a malformed head, CONNECT) and closes.
    pub async fn respond_error(&mut self, status: u16) -> Result<()> {
        self.keepalive = None;
        self.write_response_header(&ResponseHead::new(status, Framing::Length(0)))
            .await?;
        self.write_response_body(Bytes::new(), true).await
    }

    /// Sends what is left of the response; true when the connection can carry another
    /// request.
    pub async fn finish(&mut self) -> bool {
        let sent = self.send_out().await.is_ok() && self.flush().await.is_ok();
        self.last_active = Instant::now();
        if !sent {
            return false;
        }
        let complete = match self.response {
            Some((_, ResponseBody::None)) => true,
            Some((_, ResponseBody::Length(left))) => left == 0,
            Some((_, ResponseBody::Chunked)) => self.complete,
            Some((_, ResponseBody::Close)) | None => false,
        };
        self.keepalive.is_some() && self.is_body_done() && complete
    }

    pub async fn shutdown(&mut self) {
        let _ = self.stream.shutdown().await;
    }
}

/// The request body's framing and whether the connection may be kept, from the head; the
/// head loses a Content-Length that Transfer-Encoding overrides.
fn framing(head: &mut RequestHead) -> Result<(RequestBody, bool)> {
    let mut keepalive = head.version == Version::HTTP_11;
    let seen = head.seen;
    for v in seen
        .connection
        .then(|| head.headers.get_all(CONNECTION))
        .into_iter()
        .flatten()
    {
        for token in v.as_bytes().split(|&b| b == b',') {
            let token = token.trim_ascii();
            if token.eq_ignore_ascii_case(b"close") {
                keepalive = false;
                break;
            }
            if token.eq_ignore_ascii_case(b"keep-alive") {
                keepalive = true;
            }
        }
    }
    if seen.hosts > 1 {
        return Err(bad_request("more than one Host"));
    }
    if seen.transfer_encoding {
        if head.version == Version::HTTP_10 {
            return Err(bad_request("Transfer-Encoding on HTTP/1.0"));
        }
        if !is_chunked(&head.headers) {
            return Err(bad_request("the final transfer coding is not chunked"));
        }
        if head.headers.remove(CONTENT_LENGTH).is_some() {
            keepalive = false;
        }
        return Ok((RequestBody::Chunked(Chunk::Size), keepalive));
    }
    if !seen.content_length {
        return Ok((RequestBody::Empty, keepalive));
    }
    match content_length(&head.headers) {
        Ok(Some(n)) if n > 0 => Ok((RequestBody::Length(n), keepalive)),
        Ok(_) => Ok((RequestBody::Empty, keepalive)),
        Err(()) => Err(bad_request("invalid Content-Length")),
    }
}

/// Whether the last transfer coding is `chunked`.
fn is_chunked(headers: &HeaderMap) -> bool {
    headers
        .get_all(TRANSFER_ENCODING)
        .iter()
        .next_back()
        .and_then(|v| v.as_bytes().rsplit(|&b| b == b',').next())
        .is_some_and(|t| t.trim_ascii().eq_ignore_ascii_case(b"chunked"))
}

/// The Content-Length: identical repeats (`5, 5`, or the header twice) are one length;
/// differing or unparseable values are an error.
fn content_length(headers: &HeaderMap) -> std::result::Result<Option<u64>, ()> {
    let mut length = None;
    for v in headers.get_all(CONTENT_LENGTH) {
        for item in v.as_bytes().split(|&b| b == b',') {
            let item = item.trim_ascii();
            if item.is_empty() || !item.iter().all(u8::is_ascii_digit) {
                return Err(());
            }
            let n = std::str::from_utf8(item)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or(())?;
            if length.is_some_and(|l| l != n) {
                return Err(());
            }
            length = Some(n);
        }
    }
    Ok(length)
}

/// Whether the client waits for `100 Continue` before sending its body.
pub fn expects_continue(head: &RequestHead) -> bool {
    head.version == Version::HTTP_11
        && head.seen.expect
        && head
            .headers
            .get(EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// A complete head's parts, as offsets into the buffer.
struct Parsed {
    len: usize,
    method: Method,
    version: Version,
    target: Range<usize>,
    authority: Option<Range<usize>>,
}

enum ParseError {
    /// A byte httparse refuses in the request line: percent-encoding the target may help.
    Escapable,
    Invalid(&'static str),
}

/// Parses a request head, putting where each header line's name and value lie into `lines`;
/// `Ok(None)` when more bytes are needed.
fn parse_head(
    buf: &[u8],
    lines: &mut Vec<(Range<usize>, Range<usize>)>,
) -> std::result::Result<Option<Parsed>, ParseError> {
    let mut slots = [const { MaybeUninit::<httparse::Header>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let len = match req.parse_with_uninit_headers(buf, &mut slots) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::Token | httparse::Error::Version) => {
            return Err(ParseError::Escapable)
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(ParseError::Invalid("too many headers"))
        }
        Err(_) => return Err(ParseError::Invalid("malformed request head")),
    };
    let base = buf.as_ptr() as usize;
    let range = |s: &[u8]| {
        let start = s.as_ptr() as usize - base;
        start..start + s.len()
    };
    let method = Method::from_bytes(req.method.unwrap_or("").as_bytes())
        .map_err(|_| ParseError::Invalid("invalid method"))?;
    let version = match req.version {
        Some(1) => Version::HTTP_11,
        _ => Version::HTTP_10,
    };
    let path = req.path.unwrap_or("");
    let whole = range(path.as_bytes());
    let (target, authority) = if path.starts_with('/') || path == "*" {
        (whole, None)
    } else if let Some(rest) = ["http://", "https://"]
        .iter()
        .find(|s| path.len() > s.len() && path[..s.len()].eq_ignore_ascii_case(s))
    {
        let after = &path[rest.len()..];
        let host_len = after.find(['/', '?']).unwrap_or(after.len());
        let start = whole.start + rest.len();
        let authority = start..start + host_len;
        let target = if host_len == after.len() {
            // `GET http://host HTTP/1.1`: the path is empty, taken as "/".
            whole.end..whole.end
        } else {
            authority.end..whole.end
        };
        (target, Some(authority))
    } else if method == Method::CONNECT {
        (whole.clone(), Some(whole))
    } else {
        return Err(ParseError::Invalid("invalid request target"));
    };
    lines.clear();
    lines.extend(
        req.headers
            .iter()
            .map(|h| (range(h.name.as_bytes()), range(h.value))),
    );
    Ok(Some(Parsed {
        len,
        method,
        version,
        target,
        authority,
    }))
}

/// The request line with its target's illegal bytes percent-encoded, or None when that
/// changes nothing (or there is no request line to fix).
fn escape_request_line(buf: &[u8]) -> Option<BytesMut> {
    let line_end = buf.iter().position(|&b| b == b'\n')?;
    let line = buf[..line_end]
        .strip_suffix(b"\r")
        .unwrap_or(&buf[..line_end]);
    let method_end = line.iter().position(|&b| b == b' ')?;
    let version_start = line.windows(6).rposition(|w| w == b" HTTP/")?;
    if version_start <= method_end + 1 {
        return None;
    }
    let target = &line[method_end + 1..version_start];
    let illegal = |b: u8| b <= b' ' || b == 0x7f || matches!(b, b'"' | b'<' | b'>');
    if !target.iter().any(|&b| illegal(b)) {
        return None;
    }
    let mut out = BytesMut::with_capacity(buf.len() + 32);
    out.put_slice(&buf[..method_end + 1]);
    for &b in target {
        if illegal(b) {
            out.put_slice(format!("%{b:02X}").as_bytes());
        } else {
            out.put_u8(b);
        }
    }
    out.put_slice(&buf[method_end + 1 + target.len()..]);
    Some(out)
}

/// Writes `{len:x}\r\n` into `out`; returns its length.
fn chunk_size_line(len: usize, out: &mut [u8; 18]) -> usize {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digits = (usize::BITS - len.leading_zeros()).div_ceil(4).max(1) as usize;
    for i in 0..digits {
        out[digits - 1 - i] = HEX[(len >> (4 * i)) & 0xf];
    }
    out[digits] = b'\r';
    out[digits + 1] = b'\n';
    digits + 2
}

/// The `Date` header value, formatted at most once a second per thread.
fn http_date() -> HeaderValue {
    thread_local! {
        static CACHE: RefCell<(u64, HeaderValue)> =
            const { RefCell::new((0, HeaderValue::from_static(""))) };
    }
    let now = SystemTime::now();
    let secs = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.0 != secs {
            let value = HeaderValue::from_str(&httpdate::fmt_http_date(now))
                .unwrap_or(HeaderValue::from_static(""));
            *c = (secs, value);
        }
        c.1.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &str) -> RequestHead {
        let buf = BytesMut::from(raw.as_bytes());
        let mut lines = Vec::new();
        let parsed = match parse_head(&buf, &mut lines) {
            Ok(Some(p)) => p,
            _ => panic!("not a complete head: {raw:?}"),
        };
        RequestHead::build(buf.freeze(), parsed, HeaderMap::new(), lines).unwrap()
    }

    #[test]
    fn a_head_keeps_its_target_and_header_case() {
        let h = head("GET /prod/a%2Fb?x=1&x=2 HTTP/1.1\r\nHost: h\r\nX-Mixed-Case: v\r\n\r\n");
        assert_eq!(h.method, Method::GET);
        assert_eq!(h.path_and_query(), ("/prod/a%2Fb", Some("x=1&x=2")));
        let lines: Vec<_> = h.case_header_iter().collect();
        assert_eq!(
            lines,
            vec![(&b"Host"[..], &b"h"[..]), (b"X-Mixed-Case", b"v")]
        );
        assert_eq!(h.headers["x-mixed-case"], "v");
        assert_eq!(h.target_host(), None);
    }

    #[test]
    fn an_absolute_target_gives_its_path_and_host() {
        let h = head("GET http://api.example.com:8080/prod/x?q=1 HTTP/1.1\r\n\r\n");
        assert_eq!(h.path_and_query(), ("/prod/x", Some("q=1")));
        assert_eq!(h.target_host(), Some("api.example.com"));
        let h = head("GET http://[::1]:80/p HTTP/1.1\r\n\r\n");
        assert_eq!(h.target_host(), Some("[::1]"));
    }

    #[test]
    fn header_values_are_the_bytes_header_value_allows() {
        let h = head("GET / HTTP/1.1\r\nX-A: tab\there caf\u{e9}\r\n\r\n");
        assert_eq!(
            h.headers["x-a"].as_bytes(),
            "tab\there caf\u{e9}".as_bytes()
        );
        for bad in ["\u{1}", "\u{7f}", "\u{0}"] {
            let raw = format!("GET / HTTP/1.1\r\nX-A: a{bad}b\r\n\r\n");
            assert!(
                parse_head(raw.as_bytes(), &mut Vec::new()).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_partial_head_needs_more() {
        assert!(matches!(
            parse_head(b"GET / HTTP/1.1\r\nHost: x\r\n", &mut Vec::new()),
            Ok(None)
        ));
    }

    #[test]
    fn a_relative_target_is_refused() {
        assert!(matches!(
            parse_head(b"GET prod/x HTTP/1.1\r\n\r\n", &mut Vec::new()),
            Err(ParseError::Invalid(_))
        ));
    }

    #[test]
    fn illegal_target_bytes_are_escaped() {
        let buf = b"GET /a b\"<c> HTTP/1.1\r\nHost: x\r\n\r\nrest";
        assert!(matches!(
            parse_head(buf, &mut Vec::new()),
            Err(ParseError::Escapable)
        ));
        let escaped = escape_request_line(buf).unwrap();
        assert_eq!(
            &escaped[..],
            &b"GET /a%20b%22%3Cc%3E HTTP/1.1\r\nHost: x\r\n\r\nrest"[..]
        );
        assert!(escape_request_line(b"GET /ok HTTP/1.1\r\n\r\n").is_none());
    }

    #[test]
    fn framing_follows_rfc_9112() {
        let mut h = head("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n");
        assert_eq!(framing(&mut h).unwrap(), (RequestBody::Length(5), true));
        let mut h = head("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n");
        assert_eq!(framing(&mut h).unwrap(), (RequestBody::Length(5), true));
        let mut h = head("POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n");
        assert!(framing(&mut h).is_err());
        let mut h = head("POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n");
        assert!(framing(&mut h).is_err());
        let mut h = head("GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(framing(&mut h).unwrap(), (RequestBody::Empty, true));
        // Transfer-Encoding wins; the connection closes after the response.
        let mut h = head(
            "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        );
        assert_eq!(
            framing(&mut h).unwrap(),
            (RequestBody::Chunked(Chunk::Size), false)
        );
        assert!(!h.headers.contains_key(CONTENT_LENGTH));
        let mut h = head("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n");
        assert!(framing(&mut h).is_err());
        let mut h = head("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert!(framing(&mut h).is_err());
        let mut h = head("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
        assert!(framing(&mut h).is_err());
    }

    #[test]
    fn keepalive_follows_version_and_connection() {
        let mut h = head("GET / HTTP/1.0\r\n\r\n");
        assert!(!framing(&mut h).unwrap().1);
        let mut h = head("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
        assert!(framing(&mut h).unwrap().1);
        let mut h = head("GET / HTTP/1.1\r\nConnection: upgrade, close\r\n\r\n");
        assert!(!framing(&mut h).unwrap().1);
    }

    #[test]
    fn chunk_size_lines_are_lower_hex() {
        let mut out = [0u8; 18];
        for (len, text) in [
            (1, "1\r\n"),
            (15, "f\r\n"),
            (16, "10\r\n"),
            (65536, "10000\r\n"),
        ] {
            let n = chunk_size_line(len, &mut out);
            assert_eq!(&out[..n], text.as_bytes());
        }
    }
}
