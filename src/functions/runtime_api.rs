//! The Lambda Runtime API (version 2018-06-01) as served to one worker process: a small
//! HTTP/1.1 server with keep-alive and `Content-Length` (or chunked) framing.
//!
//! Each connection task parses requests and hands them to the worker's pool as [`Call`]s;
//! the pool answers through a oneshot channel. `GET …/invocation/next` is a long poll: its
//! answer comes when the pool assigns an invocation to the worker.

use base64::Engine;
use bytes::{Buf, Bytes, BytesMut};
use std::io;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// Largest function response or error payload Lambda accepts: 6 MiB + 100 bytes.
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024 + 100;
/// Largest request head; the X-Ray error cause header alone may be up to 1 MiB.
const MAX_HEAD_BYTES: usize = 2 * 1024 * 1024;
/// Longest chunk-size or trailer line.
const MAX_LINE_BYTES: usize = 64 * 1024;
/// Most headers in one request.
const MAX_HEADERS: usize = 64;

const ERROR_TYPE_HEADER: &str = "lambda-runtime-function-error-type";
const ERROR_BODY_TRAILER: &str = "lambda-runtime-function-error-body";

/// A request from the worker, for its pool to decide.
pub(crate) enum Call {
    /// `GET /runtime/invocation/next`: answered when an invocation is assigned.
    Next(oneshot::Sender<NextReply>),
    /// `POST /runtime/invocation/{id}/response`.
    Response {
        request_id: String,
        body: Body,
        reply: oneshot::Sender<Reply>,
    },
    /// `POST /runtime/invocation/{id}/error`.
    Error {
        request_id: String,
        error_type: Option<String>,
        body: Body,
        reply: oneshot::Sender<Reply>,
    },
    /// `POST /runtime/init/error`.
    InitError {
        error_type: Option<String>,
        body: Body,
        reply: oneshot::Sender<Reply>,
    },
}

/// A request body, kept up to [`MAX_RESPONSE_BYTES`]; `len` is its full length.
pub(crate) struct Body {
    pub data: Bytes,
    pub len: usize,
}

impl Body {
    pub fn too_large(&self) -> bool {
        self.len > MAX_RESPONSE_BYTES
    }
}

/// The pool's answer to `next`.
pub(crate) enum NextReply {
    Invoke(Assignment),
    Refuse(Reply),
}

/// An invocation handed to a worker.
pub(crate) struct Assignment {
    pub request_id: String,
    pub deadline_ms: u64,
    pub function_arn: Arc<str>,
    pub trace_id: String,
    pub payload: Bytes,
}

/// A status and JSON body for the worker.
pub(crate) struct Reply {
    pub status: u16,
    pub body: Bytes,
}

impl Reply {
    /// 202, as Lambda answers an accepted response or error.
    pub fn accepted() -> Reply {
        Reply {
            status: 202,
            body: Bytes::from_static(br#"{"status":"OK"}"#),
        }
    }

    /// An error in the Runtime API's `{"errorMessage","errorType"}` shape.
    pub fn error(status: u16, error_type: &str, message: &str) -> Reply {
        let body = serde_json::json!({"errorMessage": message, "errorType": error_type});
        Reply {
            status,
            body: Bytes::from(body.to_string()),
        }
    }

    /// 400 `InvalidRequestID`: the id is not the worker's current invocation.
    pub fn invalid_request_id() -> Reply {
        Reply::error(400, "InvalidRequestID", "Invalid request ID")
    }

    /// 403 `InvalidStateTransition`: the call does not fit the worker's state.
    pub fn invalid_state(what: &str) -> Reply {
        Reply::error(
            403,
            "InvalidStateTransition",
            &format!("State transition is not allowed: {what}"),
        )
    }

    /// 413 for a response or error payload over [`MAX_RESPONSE_BYTES`].
    pub fn too_large() -> Reply {
        Reply::error(
            413,
            "RequestEntityTooLarge",
            &format!("Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."),
        )
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Method {
    Get,
    Post,
    Other,
}

/// What the server needs from a request head.
struct Head {
    method: Method,
    path: String,
    content_length: Option<usize>,
    chunked: bool,
    expect_continue: bool,
    close: bool,
    error_type: Option<String>,
}

/// Trailers a streamed response may end with.
#[derive(Default)]
struct Trailers {
    error_type: Option<String>,
    error_body: Option<Bytes>,
}

/// Serves one connection until the worker closes it or breaks the protocol. `send` hands a
/// call to the pool and returns false once the pool is gone.
pub(crate) async fn serve_connection<F>(stream: TcpStream, send: F)
where
    F: Fn(Call) -> bool,
{
    let _ = stream.set_nodelay(true);
    let mut conn = Conn {
        stream,
        buf: BytesMut::with_capacity(16 * 1024),
    };
    loop {
        let head = match conn.read_head().await {
            Ok(Some(h)) => h,
            Ok(None) => return,
            Err(e) => {
                if e.kind() == io::ErrorKind::InvalidData {
                    let bad = Reply::error(400, "BadRequest", &e.to_string());
                    let _ = conn.write(&bad, &[], true).await;
                }
                return;
            }
        };
        let expects_body = head.chunked || head.content_length.unwrap_or(0) > 0;
        if head.expect_continue
            && expects_body
            && conn
                .stream
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .is_err()
        {
            return;
        }
        let (body, trailers) = match conn.read_body(&head).await {
            Ok(b) => b,
            Err(e) => {
                if e.kind() == io::ErrorKind::InvalidData {
                    let bad = Reply::error(400, "BadRequest", &e.to_string());
                    let _ = conn.write(&bad, &[], true).await;
                }
                return;
            }
        };
        let Some((reply, extra)) = route(&head, body, trailers, &send).await else {
            return;
        };
        if conn.write(&reply, &extra, head.close).await.is_err() || head.close {
            return;
        }
    }
}

/// Dispatches one request; `None` closes the connection without an answer.
async fn route<F>(
    head: &Head,
    body: Body,
    trailers: Trailers,
    send: &F,
) -> Option<(Reply, Vec<(&'static str, String)>)>
where
    F: Fn(Call) -> bool,
{
    let path = head.path.split('?').next().unwrap_or("");
    let Some(rest) = path.strip_prefix("/2018-06-01/runtime/") else {
        return Some((not_found(), Vec::new()));
    };
    let invocation = rest
        .strip_prefix("invocation/")
        .filter(|r| *r != "next")
        .and_then(|r| {
            r.strip_suffix("/response")
                .map(|id| (id, true))
                .or_else(|| r.strip_suffix("/error").map(|id| (id, false)))
        })
        .filter(|(id, _)| !id.is_empty() && !id.contains('/'));
    match (head.method, rest, invocation) {
        (Method::Get, "invocation/next", _) => {
            let (tx, rx) = oneshot::channel();
            if !send(Call::Next(tx)) {
                return None;
            }
            match rx.await.ok()? {
                NextReply::Invoke(a) => {
                    let extra = vec![
                        ("Lambda-Runtime-Aws-Request-Id", a.request_id),
                        ("Lambda-Runtime-Deadline-Ms", a.deadline_ms.to_string()),
                        (
                            "Lambda-Runtime-Invoked-Function-Arn",
                            a.function_arn.to_string(),
                        ),
                        ("Lambda-Runtime-Trace-Id", a.trace_id),
                    ];
                    Some((
                        Reply {
                            status: 200,
                            body: a.payload,
                        },
                        extra,
                    ))
                }
                NextReply::Refuse(r) => Some((r, Vec::new())),
            }
        }
        (Method::Post, "init/error", _) => {
            let error_type = head.error_type.clone();
            ask(send, |reply| Call::InitError {
                error_type,
                body,
                reply,
            })
            .await
        }
        (Method::Post, _, Some((id, true))) => {
            let request_id = id.to_string();
            if let Some(error_type) = trailers.error_type {
                // A streamed response that failed part-way reports its error in trailers.
                let data = trailers.error_body.unwrap_or_default();
                let body = Body {
                    len: data.len(),
                    data,
                };
                return ask(send, |reply| Call::Error {
                    request_id,
                    error_type: Some(error_type),
                    body,
                    reply,
                })
                .await;
            }
            ask(send, |reply| Call::Response {
                request_id,
                body,
                reply,
            })
            .await
        }
        (Method::Post, _, Some((id, false))) => {
            let request_id = id.to_string();
            let error_type = head.error_type.clone();
            ask(send, |reply| Call::Error {
                request_id,
                error_type,
                body,
                reply,
            })
            .await
        }
        (_, "invocation/next" | "init/error", _) | (_, _, Some(_)) => Some((
            Reply::error(405, "MethodNotAllowed", "Method not allowed"),
            Vec::new(),
        )),
        _ => Some((not_found(), Vec::new())),
    }
}

fn not_found() -> Reply {
    Reply::error(404, "NotFound", "Not found")
}

/// Sends a call that is answered with a plain [`Reply`].
async fn ask<F>(
    send: &F,
    make: impl FnOnce(oneshot::Sender<Reply>) -> Call,
) -> Option<(Reply, Vec<(&'static str, String)>)>
where
    F: Fn(Call) -> bool,
{
    let (tx, rx) = oneshot::channel();
    if !send(make(tx)) {
        return None;
    }
    rx.await.ok().map(|r| (r, Vec::new()))
}

struct Conn {
    stream: TcpStream,
    buf: BytesMut,
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

impl Conn {
    /// Reads more bytes into the buffer; an early end of stream is an error.
    async fn fill(&mut self) -> io::Result<()> {
        self.buf.reserve(64 * 1024);
        if self.stream.read_buf(&mut self.buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }

    /// The next request head, or `None` at a clean end of stream between requests.
    async fn read_head(&mut self) -> io::Result<Option<Head>> {
        loop {
            if !self.buf.is_empty() {
                let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut req = httparse::Request::new(&mut headers);
                match req.parse(&self.buf) {
                    Ok(httparse::Status::Complete(n)) => {
                        let head = Head::from_request(&req)?;
                        self.buf.advance(n);
                        return Ok(Some(head));
                    }
                    Ok(httparse::Status::Partial) => {
                        if self.buf.len() > MAX_HEAD_BYTES {
                            return Err(invalid("request head too large"));
                        }
                    }
                    Err(e) => return Err(invalid(format!("malformed request: {e}"))),
                }
            }
            self.buf.reserve(64 * 1024);
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(io::ErrorKind::UnexpectedEof.into())
                };
            }
        }
    }

    /// Reads the body that `head` announces, keeping at most [`MAX_RESPONSE_BYTES`] of it.
    async fn read_body(&mut self, head: &Head) -> io::Result<(Body, Trailers)> {
        let mut data = BytesMut::new();
        let mut len = 0usize;
        let mut trailers = Trailers::default();
        if head.chunked {
            loop {
                let line = self.read_line().await?;
                let size = line.split(';').next().unwrap_or("").trim();
                let size = usize::from_str_radix(size, 16)
                    .map_err(|_| invalid(format!("bad chunk size `{size}`")))?;
                if size == 0 {
                    loop {
                        let line = self.read_line().await?;
                        if line.is_empty() {
                            break;
                        }
                        trailers.add(&line);
                    }
                    break;
                }
                self.take(size, &mut data, &mut len).await?;
                if !self.read_line().await?.is_empty() {
                    return Err(invalid("chunk not followed by CRLF"));
                }
            }
        } else if let Some(n) = head.content_length {
            data.reserve(n.min(MAX_RESPONSE_BYTES));
            self.take(n, &mut data, &mut len).await?;
        }
        Ok((
            Body {
                data: data.freeze(),
                len,
            },
            trailers,
        ))
    }

    /// Consumes `n` body bytes, keeping what fits under the limit.
    async fn take(&mut self, mut n: usize, out: &mut BytesMut, len: &mut usize) -> io::Result<()> {
        while n > 0 {
            if self.buf.is_empty() {
                self.fill().await?;
            }
            let k = n.min(self.buf.len());
            let keep = k.min(MAX_RESPONSE_BYTES.saturating_sub(out.len()));
            out.extend_from_slice(&self.buf[..keep]);
            self.buf.advance(k);
            n -= k;
            *len = len.saturating_add(k);
        }
        Ok(())
    }

    /// One CRLF-terminated line (chunk sizes and trailers), without its terminator.
    async fn read_line(&mut self) -> io::Result<String> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line = self.buf.split_to(i + 1);
                let line = line.strip_suffix(b"\n").unwrap_or(&line);
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                return String::from_utf8(line.to_vec()).map_err(|_| invalid("non-UTF-8 line"));
            }
            if self.buf.len() > MAX_LINE_BYTES {
                return Err(invalid("line too long"));
            }
            self.fill().await?;
        }
    }

    /// Writes one response with `Content-Length` framing.
    async fn write(
        &mut self,
        reply: &Reply,
        extra: &[(&'static str, String)],
        close: bool,
    ) -> io::Result<()> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            reply.status,
            reason(reply.status),
            reply.body.len()
        );
        for (name, value) in extra {
            head.push_str(name);
            head.push_str(": ");
            head.push_str(value);
            head.push_str("\r\n");
        }
        if close {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        if reply.body.len() <= 64 * 1024 {
            let mut all = head.into_bytes();
            all.extend_from_slice(&reply.body);
            self.stream.write_all(&all).await?;
        } else {
            self.stream.write_all(head.as_bytes()).await?;
            self.stream.write_all(&reply.body).await?;
        }
        self.stream.flush().await
    }
}

impl Head {
    fn from_request(req: &httparse::Request<'_, '_>) -> io::Result<Head> {
        let method = match req.method {
            Some("GET") => Method::Get,
            Some("POST") => Method::Post,
            _ => Method::Other,
        };
        let mut head = Head {
            method,
            path: req.path.unwrap_or("/").to_string(),
            content_length: None,
            chunked: false,
            expect_continue: false,
            // HTTP/1.0 closes unless the client asks to keep the connection.
            close: req.version == Some(0),
            error_type: None,
        };
        for h in req.headers.iter() {
            let value = std::str::from_utf8(h.value).unwrap_or("").trim();
            if h.name.eq_ignore_ascii_case("content-length") {
                let n = value
                    .parse::<usize>()
                    .map_err(|_| invalid("bad Content-Length"))?;
                if head.content_length.is_some_and(|m| m != n) {
                    return Err(invalid("conflicting Content-Length"));
                }
                head.content_length = Some(n);
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                head.chunked = value
                    .rsplit(',')
                    .next()
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("chunked"));
                if !head.chunked {
                    return Err(invalid("unsupported Transfer-Encoding"));
                }
            } else if h.name.eq_ignore_ascii_case("expect") {
                head.expect_continue = value.eq_ignore_ascii_case("100-continue");
            } else if h.name.eq_ignore_ascii_case("connection") {
                for token in value.split(',').map(str::trim) {
                    if token.eq_ignore_ascii_case("close") {
                        head.close = true;
                    } else if token.eq_ignore_ascii_case("keep-alive") {
                        head.close = false;
                    }
                }
            } else if h.name.eq_ignore_ascii_case(ERROR_TYPE_HEADER) && !value.is_empty() {
                head.error_type = Some(value.to_string());
            }
        }
        if head.chunked && head.content_length.is_some() {
            return Err(invalid("both Content-Length and chunked"));
        }
        Ok(head)
    }
}

impl Trailers {
    fn add(&mut self, line: &str) {
        let Some((name, value)) = line.split_once(':') else {
            return;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case(ERROR_TYPE_HEADER) && !value.is_empty() {
            self.error_type = Some(value.to_string());
        } else if name.eq_ignore_ascii_case(ERROR_BODY_TRAILER) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(value)
                .unwrap_or_else(|_| value.as_bytes().to_vec());
            self.error_body = Some(Bytes::from(decoded));
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        _ => "Internal Server Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tokio::net::TcpListener;

    /// Serves one connection with a pool stand-in that answers every call at once, and
    /// returns what the client read back.
    async fn exchange(request: &[u8]) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let seen2 = seen.clone();
        let server = tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            serve_connection(s, move |call| {
                let mut seen = seen2.lock().unwrap();
                match call {
                    Call::Next(tx) => {
                        seen.push("next".into());
                        let _ = tx.send(NextReply::Invoke(Assignment {
                            request_id: "r1".into(),
                            deadline_ms: 42,
                            function_arn: Arc::from("arn:f"),
                            trace_id: "Root=1-x".into(),
                            payload: Bytes::from_static(b"{\"a\":1}"),
                        }));
                    }
                    Call::Response {
                        request_id,
                        body,
                        reply,
                    } => {
                        seen.push(format!("response {request_id} {}", body.len));
                        let _ = reply.send(if body.too_large() {
                            Reply::too_large()
                        } else {
                            Reply::accepted()
                        });
                    }
                    Call::Error {
                        request_id,
                        error_type,
                        body,
                        reply,
                    } => {
                        seen.push(format!(
                            "error {request_id} {error_type:?} {}",
                            String::from_utf8_lossy(&body.data)
                        ));
                        let _ = reply.send(Reply::accepted());
                    }
                    Call::InitError { reply, .. } => {
                        seen.push("init".into());
                        let _ = reply.send(Reply::accepted());
                    }
                }
                true
            })
            .await;
        });
        let mut client = TcpStream::connect(addr).await.unwrap();
        client.write_all(request).await.unwrap();
        client.shutdown().await.unwrap();
        let mut out = Vec::new();
        client.read_to_end(&mut out).await.unwrap();
        server.await.unwrap();
        let calls = seen.lock().unwrap().join("|");
        format!("{calls}\n{}", String::from_utf8_lossy(&out))
    }

    #[tokio::test]
    async fn keep_alive_next_then_response() {
        let out = exchange(
            b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n\
              POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\nContent-Length: 2\r\n\r\nok",
        )
        .await;
        assert!(out.starts_with("next|response r1 2\n"), "{out}");
        assert!(out.contains("HTTP/1.1 200 OK\r\n"), "{out}");
        assert!(
            out.contains("Lambda-Runtime-Aws-Request-Id: r1\r\n"),
            "{out}"
        );
        assert!(out.contains("Lambda-Runtime-Deadline-Ms: 42\r\n"), "{out}");
        assert!(out.contains("Content-Length: 7\r\n"), "{out}");
        assert!(out.contains("{\"a\":1}HTTP/1.1 202 Accepted\r\n"), "{out}");
    }

    #[tokio::test]
    async fn chunked_error_with_expect_continue() {
        let out = exchange(
            b"POST /2018-06-01/runtime/invocation/r9/error HTTP/1.1\r\n\
              Lambda-Runtime-Function-Error-Type: Oops\r\nExpect: 100-continue\r\n\
              Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
        )
        .await;
        assert!(out.starts_with("error r9 Some(\"Oops\") abcde\n"), "{out}");
        assert!(
            out.contains("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202"),
            "{out}"
        );
    }

    #[tokio::test]
    async fn streamed_error_trailers_become_an_error() {
        let out = exchange(
            b"POST /2018-06-01/runtime/invocation/r2/response HTTP/1.1\r\n\
              Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\
              Lambda-Runtime-Function-Error-Type: Boom\r\n\
              Lambda-Runtime-Function-Error-Body: eyJ4IjoxfQ==\r\n\r\n",
        )
        .await;
        assert!(
            out.starts_with("error r2 Some(\"Boom\") {\"x\":1}\n"),
            "{out}"
        );
    }

    #[tokio::test]
    async fn oversized_response_is_consumed_and_refused() {
        let n = MAX_RESPONSE_BYTES + 10;
        let mut req = format!(
            "POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\nContent-Length: {n}\r\n\r\n"
        )
        .into_bytes();
        req.extend(std::iter::repeat_n(b'x', n));
        req.extend_from_slice(b"GET /nope HTTP/1.1\r\n\r\n");
        let out = exchange(&req).await;
        assert!(out.starts_with(&format!("response r1 {n}\n")), "{out}");
        assert!(out.contains("HTTP/1.1 413 Payload Too Large"), "{out}");
        assert!(
            out.contains("\"errorType\":\"RequestEntityTooLarge\""),
            "{out}"
        );
        // The connection stayed usable for the next request.
        assert!(out.contains("HTTP/1.1 404 Not Found"), "{out}");
    }

    #[tokio::test]
    async fn http10_closes_and_bad_requests_get_400() {
        let out = exchange(b"GET /2018-06-01/runtime/invocation/next HTTP/1.0\r\n\r\nGET /x").await;
        assert!(out.contains("HTTP/1.1 200 OK"), "{out}");
        assert!(out.contains("Connection: close"), "{out}");
        assert!(!out.contains("404"), "{out}");
        let out = exchange(b"BLAH\x01 / HTTP/1.1\r\n\r\n").await;
        assert!(out.contains("HTTP/1.1 400 Bad Request"), "{out}");
        let out = exchange(b"PUT /2018-06-01/runtime/init/error HTTP/1.1\r\n\r\n").await;
        assert!(out.contains("HTTP/1.1 405"), "{out}");
    }
}
