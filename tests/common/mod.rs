//! End-to-end test harness shared by the files in `tests/` (std + `serde_json` only).
//!
//! * [`request`], [`send_raw`], [`Conn`]: a raw HTTP/1.1 client that sends exactly the bytes it
//!   is given (paths like `//stage/x` or `/stage/a%2Bb` are not normalised).
//! * [`Backend`]: a keep-alive HTTP/1.1 echo server on `127.0.0.1:0` with behaviour controls
//!   (see [`default_reply`]) or a custom handler.
//! * [`Gateway`]: runs the `tollgate` binary on a generated config in a private temp dir.
//! * [`check`]: runs `tollgate check -c FILE`.
//!
//! Every socket has 35 s read/write timeouts so a hang fails the test instead of blocking it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Read/write timeout of every harness socket.
pub const IO_TIMEOUT: Duration = Duration::from_secs(35);

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

/// A parsed HTTP response. Header names keep their original case and order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
    /// Every value of header `name` (case-insensitive), in order.
    pub fn headers_all(&self, name: &str) -> Vec<&str> {
        all_headers(&self.headers, name)
    }
    /// The body as (lossy) UTF-8.
    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// The body parsed as JSON; panics with status and body if it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "response body is not JSON ({e}): status {} body {:?}",
                self.status,
                self.body_str()
            )
        })
    }
}

/// A request as the [`Backend`] received it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    /// The raw request-target: path and `?query`, exactly as sent.
    pub target: String,
    /// Headers in order, original case.
    pub headers: Vec<(String, String)>,
    /// The body after de-chunking.
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// `target` up to `?`.
    pub fn path(&self) -> &str {
        self.target
            .split_once('?')
            .map_or(self.target.as_str(), |(p, _)| p)
    }
    /// `target` after `?` (raw, `""` if none).
    pub fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
    pub fn headers_all(&self, name: &str) -> Vec<&str> {
        all_headers(&self.headers, name)
    }
    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn all_headers<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Encodes `parts` as a chunked body (each part one chunk, then the last chunk), for requests
/// sent with `Transfer-Encoding: chunked`.
pub fn chunked(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts.iter().filter(|p| !p.is_empty()) {
        out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

// ---------------------------------------------------------------------------------------------
// Wire parsing (shared by client and backend)
// ---------------------------------------------------------------------------------------------

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// One line without its CRLF; `None` on EOF before any byte.
fn read_line(r: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut buf = Vec::new();
    if r.read_until(b'\n', &mut buf)? == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed mid-line",
        ));
    }
    while matches!(buf.last(), Some(b'\n' | b'\r')) {
        buf.pop();
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

fn need_line(r: &mut impl BufRead) -> io::Result<String> {
    read_line(r)?.ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed"))
}

/// Start line and header fields; `None` if the peer closed before sending anything.
/// A start line and its header fields.
type Head = (String, Vec<(String, String)>);

fn read_head(r: &mut impl BufRead) -> io::Result<Option<Head>> {
    let Some(start) = read_line(r)? else {
        return Ok(None);
    };
    let mut headers = Vec::new();
    loop {
        let line = need_line(r)?;
        if line.is_empty() {
            return Ok(Some((start, headers)));
        }
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("bad header line {line:?}")))?;
        headers.push((k.to_string(), v.trim_matches([' ', '\t']).to_string()));
    }
}

fn is_chunked(headers: &[(String, String)]) -> bool {
    all_headers(headers, "transfer-encoding")
        .last()
        .is_some_and(|v| {
            v.rsplit(',')
                .next()
                .is_some_and(|c| c.trim().eq_ignore_ascii_case("chunked"))
        })
}

fn content_length(headers: &[(String, String)]) -> io::Result<Option<usize>> {
    match find_header(headers, "content-length") {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| invalid(format!("bad Content-Length {v:?}"))),
    }
}

fn read_chunked(r: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = need_line(r)?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| invalid(format!("bad chunk size {line:?}")))?;
        if size == 0 {
            while !need_line(r)?.is_empty() {} // trailers are discarded
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        if !need_line(r)?.is_empty() {
            return Err(invalid("chunk not followed by CRLF".into()));
        }
    }
}

/// Reads one response. `head`: the request was HEAD (no body follows). 1xx responses other
/// than 101 are skipped.
fn read_response(r: &mut impl BufRead, head: bool) -> io::Result<Response> {
    loop {
        let (start, headers) = read_head(r)?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before a response",
            )
        })?;
        let mut parts = start.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        let status: u16 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        if !version.starts_with("HTTP/1.") || status < 100 {
            return Err(invalid(format!("bad status line {start:?}")));
        }
        let reason = parts.next().unwrap_or("").to_string();
        if (100..200).contains(&status) && status != 101 {
            continue;
        }
        let body = if head || status < 200 || status == 204 || status == 304 {
            Vec::new()
        } else if is_chunked(&headers) {
            read_chunked(r)?
        } else if let Some(n) = content_length(&headers)? {
            let mut b = vec![0; n];
            r.read_exact(&mut b)?;
            b
        } else {
            let mut b = Vec::new();
            r.read_to_end(&mut b)?;
            b
        };
        return Ok(Response {
            status,
            reason,
            headers,
            body,
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------

/// Serialises a request. Adds `Host: <addr>` and `Content-Length` when absent (`Content-Length`
/// only if the body is non-empty or the method is POST/PUT/PATCH, and never next to a
/// `Transfer-Encoding` header), and `Connection: close` when `close` and no `Connection` header
/// is given. Header order: Host, the given headers, then the added ones.
pub fn build_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    close: bool,
) -> Vec<u8> {
    let has = |n: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    if !has("host") {
        head += &format!("Host: {addr}\r\n");
    }
    for (k, v) in headers {
        head += &format!("{k}: {v}\r\n");
    }
    if !has("content-length")
        && !has("transfer-encoding")
        && (!body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH"))
    {
        head += &format!("Content-Length: {}\r\n", body.len());
    }
    if close && !has("connection") {
        head += "Connection: close\r\n";
    }
    head += "\r\n";
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

/// One request on a fresh connection (`Connection: close` unless given); panics on I/O errors.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    try_request(addr, method, path, headers, body)
        .unwrap_or_else(|e| panic!("{method} {path} on {addr}: {e}"))
}

/// [`request`] returning I/O errors (connection reset, closed without answer, timeout).
pub fn try_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Response> {
    Conn::try_open(addr)?.try_send_raw(&build_request(addr, method, path, headers, body, true))
}

/// Writes `bytes` verbatim on a fresh connection and reads one response (HEAD is recognised
/// from the first word); panics on I/O errors.
pub fn send_raw(addr: SocketAddr, bytes: &[u8]) -> Response {
    try_send_raw(addr, bytes).unwrap_or_else(|e| panic!("raw request to {addr}: {e}"))
}

pub fn try_send_raw(addr: SocketAddr, bytes: &[u8]) -> io::Result<Response> {
    Conn::try_open(addr)?.try_send_raw(bytes)
}

/// Reads what the server sent within `wait` on a connection where nothing has been read yet,
/// up to the end of one header block (`None` if nothing came).
pub fn read_interim(conn: &Conn, wait: Duration) -> Option<String> {
    let mut stream = conn.stream();
    stream.set_read_timeout(Some(wait)).expect("timeout");
    let deadline = Instant::now() + wait;
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while Instant::now() < deadline && !got.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => got.push(byte[0]),
            _ => break,
        }
    }
    stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    (!got.is_empty()).then(|| String::from_utf8_lossy(&got).into_owned())
}

/// A client connection that can carry several requests (keep-alive, pipelining).
pub struct Conn {
    pub addr: SocketAddr,
    reader: BufReader<TcpStream>,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Conn {
        Conn::try_open(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"))
    }

    pub fn try_open(addr: SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            addr,
            reader: BufReader::new(stream),
        })
    }

    /// A request that keeps the connection open: like [`request`] but no `Connection: close`
    /// is added.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let bytes = build_request(self.addr, method, path, headers, body, false);
        self.try_send_raw(&bytes)
            .unwrap_or_else(|e| panic!("{method} {path} on {}: {e}", self.addr))
    }

    pub fn try_request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Response> {
        let bytes = build_request(self.addr, method, path, headers, body, false);
        self.try_send_raw(&bytes)
    }

    pub fn send_raw(&mut self, bytes: &[u8]) -> Response {
        self.try_send_raw(bytes)
            .unwrap_or_else(|e| panic!("raw request to {}: {e}", self.addr))
    }

    /// Writes `bytes` and reads one response. If the write fails (the server answered early and
    /// closed, e.g. 413 on a huge body) the response is still read when one arrived.
    pub fn try_send_raw(&mut self, bytes: &[u8]) -> io::Result<Response> {
        let head = bytes.starts_with(b"HEAD ");
        match self.reader.get_mut().write_all(bytes) {
            Ok(()) => self.read_response(head),
            Err(write_err) => self.read_response(head).map_err(|_| write_err),
        }
    }

    /// Writes without reading (pipelining, slow senders).
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.reader.get_mut().write_all(bytes)
    }

    /// Reads the next response; `head` says it answers a HEAD request.
    pub fn read_response(&mut self, head: bool) -> io::Result<Response> {
        read_response(&mut self.reader, head)
    }

    /// True if the peer has closed (EOF or reset) within `wait`; false if the connection is
    /// still open (or data is pending).
    pub fn is_closed_by_peer(&mut self, wait: Duration) -> bool {
        let stream = self.reader.get_ref();
        let _ = stream.set_read_timeout(Some(wait.max(Duration::from_millis(1))));
        let closed = match self.reader.fill_buf() {
            Ok(buf) => buf.is_empty(),
            Err(e) => !matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
        };
        let _ = self.reader.get_ref().set_read_timeout(Some(IO_TIMEOUT));
        closed
    }

    pub fn stream(&self) -> &TcpStream {
        self.reader.get_ref()
    }
}

// ---------------------------------------------------------------------------------------------
// Backend
// ---------------------------------------------------------------------------------------------

/// What a [`Backend`] handler answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    /// Sent as given. `Content-Length` (or `Transfer-Encoding: chunked` when `chunked`) is added
    /// unless one of them is present.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Send the body with chunked transfer encoding (chunks of at most 4 KiB).
    pub chunked: bool,
    /// Sleep this long before answering.
    pub delay: Duration,
    /// Close the connection without any response (a crashed backend).
    pub drop_connection: bool,
}

impl Reply {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.into(),
            chunked: false,
            delay: Duration::ZERO,
            drop_connection: false,
        }
    }
    /// A reply with `Content-Type: application/json`.
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply::new(status, body).header("Content-Type", "application/json")
    }
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

/// Headers the default backend adds with the `headers=1` control (those API Gateway remaps or
/// drops on HTTP_PROXY, plus one ordinary header that must pass through).
pub const BACKEND_EXTRA_HEADERS: &[(&str, &str)] = &[
    ("Server", "backend"),
    ("Date", "Mon, 01 Jan 2024 00:00:00 GMT"),
    ("x-amzn-RequestId", "backend-id"),
    ("Via", "1.1 backend"),
    ("X-Backend-Header", "yes"),
];

/// The default backend behaviour.
///
/// Controls are `name=value` pairs read from the query string and from the last non-empty path
/// segment (percent-decoded, `&`-separated, e.g. `/any/status=503&sleep_ms=10`), so they work
/// whether or not the gateway forwards the query; the query wins on conflicts:
/// * `status=N` — answer status N (the body stays the echo);
/// * `sleep_ms=N` — sleep N ms before answering;
/// * `size=N` — body of N bytes `a`, `Content-Type: text/plain`, instead of the echo;
/// * `chunked=1` — chunked transfer encoding;
/// * `headers=1` — also send [`BACKEND_EXTRA_HEADERS`];
/// * `content_type=T` — `Content-Type: T` instead of the default;
/// * `close=1` — read the request, then close the connection without answering.
///
/// Otherwise: 200 `application/json` echo
/// `{"method","path","query","headers":{lowercased name: value | [values]},"body"}` where `path`
/// and `query` are raw (undecoded; `query` is `""` when absent) and `body` is lossy UTF-8 (use
/// [`Backend::last_request`] for exact bytes).
pub fn default_reply(req: &RecordedRequest) -> Reply {
    let mut controls = Vec::new();
    if let Some(seg) = req.path().rsplit('/').find(|s| !s.is_empty()) {
        controls.extend(parse_pairs(&percent_decode(seg)));
    }
    controls.extend(
        parse_pairs(req.query())
            .into_iter()
            .map(|(k, v)| (percent_decode(&k), percent_decode(&v))),
    );
    let get = |name: &str| {
        controls
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let status = get("status").and_then(|s| s.parse().ok()).unwrap_or(200);
    let mut reply = match get("size").and_then(|s| s.parse::<usize>().ok()) {
        Some(n) => Reply::new(status, vec![b'a'; n]).header("Content-Type", "text/plain"),
        None => Reply::json(status, echo(req).to_string()),
    };
    if let Some(ct) = get("content_type") {
        reply
            .headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
        reply.headers.push(("Content-Type".into(), ct.to_string()));
    }
    if get("headers") == Some("1") {
        reply.headers.extend(
            BACKEND_EXTRA_HEADERS
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
    }
    reply.delay = Duration::from_millis(get("sleep_ms").and_then(|s| s.parse().ok()).unwrap_or(0));
    reply.chunked = get("chunked") == Some("1");
    reply.drop_connection = get("close") == Some("1");
    reply
}

fn parse_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `%XX` decoding (`+` stays `+`); invalid escapes are kept literally.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The JSON echo body of [`default_reply`].
pub fn echo(req: &RecordedRequest) -> serde_json::Value {
    use serde_json::Value;
    let mut headers = serde_json::Map::new();
    for (k, v) in &req.headers {
        let v = Value::String(v.clone());
        match headers.get_mut(&k.to_ascii_lowercase()) {
            Some(Value::Array(values)) => values.push(v),
            Some(first) => *first = Value::Array(vec![first.take(), v]),
            None => {
                headers.insert(k.to_ascii_lowercase(), v);
            }
        }
    }
    serde_json::json!({
        "method": req.method, "path": req.path(), "query": req.query(),
        "headers": headers, "body": req.body_str(),
    })
}

type Handler = dyn Fn(&RecordedRequest) -> Reply + Send + Sync;

struct BackendState {
    handler: Box<Handler>,
    hits: AtomicUsize,
    connections: AtomicUsize,
    requests: Mutex<Vec<RecordedRequest>>,
    stop: AtomicBool,
    /// Open connections, so Drop can shut them down and end their threads.
    open: Mutex<HashMap<usize, TcpStream>>,
}

/// An HTTP/1.1 server on `127.0.0.1:0` (one thread per connection, keep-alive, `Expect:
/// 100-continue`, chunked request bodies). Stops, closing its connections, on drop.
pub struct Backend {
    pub addr: SocketAddr,
    state: Arc<BackendState>,
}

impl Backend {
    /// A backend with [`default_reply`].
    pub fn start() -> Backend {
        Backend::with_handler(default_reply)
    }

    /// A backend answering with `handler` (which may call [`default_reply`]).
    pub fn with_handler(
        handler: impl Fn(&RecordedRequest) -> Reply + Send + Sync + 'static,
    ) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind backend");
        let addr = listener.local_addr().expect("backend addr");
        let state = Arc::new(BackendState {
            handler: Box::new(handler),
            hits: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
            requests: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            open: Mutex::new(HashMap::new()),
        });
        let st = state.clone();
        thread::spawn(move || {
            for (id, stream) in listener.incoming().enumerate() {
                if st.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                st.connections.fetch_add(1, Ordering::SeqCst);
                if let Ok(clone) = stream.try_clone() {
                    st.open.lock().unwrap().insert(id, clone);
                }
                let st = st.clone();
                thread::spawn(move || {
                    let _ = serve_connection(&st, stream);
                    st.open.lock().unwrap().remove(&id);
                });
            }
        });
        Backend { addr, state }
    }

    /// An address on 127.0.0.1 where nothing listens (connections are refused).
    pub fn dead_addr() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    }

    /// Requests received (counted when fully read, before the handler runs).
    pub fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }

    /// Connections accepted.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    pub fn last_request(&self) -> Option<RecordedRequest> {
        self.state.requests.lock().unwrap().last().cloned()
    }

    /// Every request received, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.requests.lock().unwrap().clone()
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr); // wakes the accept loop
        for s in self.state.open.lock().unwrap().values() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

fn serve_connection(st: &BackendState, stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut out = stream.try_clone()?;
    let mut r = BufReader::new(stream);
    while let Some((start, headers)) = read_head(&mut r)? {
        let mut parts = start.split(' ');
        let (method, target, version) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        if find_header(&headers, "expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
            out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        let body = if is_chunked(&headers) {
            read_chunked(&mut r)?
        } else {
            let mut b = vec![0; content_length(&headers)?.unwrap_or(0)];
            r.read_exact(&mut b)?;
            b
        };
        let connection = find_header(&headers, "connection")
            .unwrap_or("")
            .to_ascii_lowercase();
        let close = connection.contains("close")
            || (version == "HTTP/1.0" && !connection.contains("keep-alive"));
        let req = RecordedRequest {
            method: method.to_string(),
            target: target.to_string(),
            headers,
            body,
        };
        st.hits.fetch_add(1, Ordering::SeqCst);
        st.requests.lock().unwrap().push(req.clone());
        let reply = (st.handler)(&req);
        thread::sleep(reply.delay);
        if reply.drop_connection {
            return Ok(());
        }
        write_reply(&mut out, &reply, req.method == "HEAD", close)?;
        if close {
            return Ok(());
        }
    }
    Ok(())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

fn write_reply(out: &mut TcpStream, reply: &Reply, head: bool, close: bool) -> io::Result<()> {
    let no_body = head || reply.status < 200 || reply.status == 204 || reply.status == 304;
    let mut h = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (k, v) in &reply.headers {
        h += &format!("{k}: {v}\r\n");
    }
    let framed = reply.headers.iter().any(|(k, _)| {
        k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("transfer-encoding")
    });
    if !(framed || reply.status < 200 || reply.status == 204) {
        if reply.chunked {
            h += "Transfer-Encoding: chunked\r\n";
        } else {
            h += &format!("Content-Length: {}\r\n", reply.body.len());
        }
    }
    if close {
        h += "Connection: close\r\n";
    }
    h += "\r\n";
    out.write_all(h.as_bytes())?;
    if no_body {
        return Ok(());
    }
    if reply.chunked {
        for part in reply.body.chunks(4096) {
            out.write_all(format!("{:x}\r\n", part.len()).as_bytes())?;
            out.write_all(part)?;
            out.write_all(b"\r\n")?;
        }
        out.write_all(b"0\r\n\r\n")
    } else {
        out.write_all(&reply.body)
    }
}

// ---------------------------------------------------------------------------------------------
// Gateway process
// ---------------------------------------------------------------------------------------------

/// A directory under `std::env::temp_dir()`, removed on drop (kept if `TOLLGATE_KEEP_TMP` is set).
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path =
            std::env::temp_dir().join(format!("{prefix}-{}-{n}-{nanos}", std::process::id()));
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        TempDir { path }
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// Writes `rel` (parent directories created) and returns its absolute path.
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path.join(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("create {}: {e}", parent.display()));
        }
        fs::write(&p, contents).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("TOLLGATE_KEEP_TMP").is_none() {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// The binary under test: Cargo's `CARGO_BIN_EXE_tollgate` (set when compiling this crate's
/// integration tests), else the `TOLLGATE_BIN` environment variable.
pub fn tollgate_bin() -> PathBuf {
    match option_env!("CARGO_BIN_EXE_tollgate") {
        Some(p) => PathBuf::from(p),
        None => std::env::var_os("TOLLGATE_BIN")
            .map(PathBuf::from)
            .expect("no tollgate binary: set TOLLGATE_BIN"),
    }
}

/// Removes the common leading indentation (spaces) of non-blank lines, so configs can be
/// written as indented raw strings.
pub fn dedent(s: &str) -> String {
    let indent = s
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches(' ').len())
        .min()
        .unwrap_or(0);
    let mut out: String = s
        .lines()
        .map(|l| {
            if l.trim().is_empty() {
                ""
            } else {
                &l[indent..]
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    out.push('\n');
    out
}

/// Sum of the samples of metric `name` (exact name, e.g. `tollgate_requests_total` or
/// `..._seconds_count`) whose labels include every `labels` pair; 0 when none.
pub fn metric_value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.trim_end().rsplit_once(' ')?;
            let (n, lbl) = series
                .find('{')
                .map_or((series, ""), |i| (&series[..i], &series[i..]));
            let ok = n == name
                && labels.iter().all(|(k, v)| {
                    let pair = format!("{k}=\"{v}\"");
                    lbl.contains(&format!("{{{pair}")) || lbl.contains(&format!(",{pair}"))
                });
            if ok {
                value.parse::<f64>().ok()
            } else {
                None
            }
        })
        .sum()
}

/// A running `tollgate run -c <dir>/tollgate.yaml`, killed (and its temp dir removed) on drop.
/// On a panicking test its logs are printed to stderr.
pub struct Gateway {
    /// Data-plane listener.
    pub addr: SocketAddr,
    /// Admin listener (A4).
    pub admin: SocketAddr,
    pub config_path: PathBuf,
    child: Child,
    dir: TempDir,
    /// Generated `server:` section (empty for `start_raw`), reused by `reload`.
    server_section: String,
}

impl Gateway {
    /// Starts with `yaml_body` (the config without `server:`; dedented; placeholders `{LISTEN}`
    /// `{ADMIN}` `{DIR}` substituted) after a generated section:
    /// `server: {listen: ["127.0.0.1:P"], admin: "127.0.0.1:Q", threads: 1, stateDir: DIR,
    /// accessLog: {path: DIR/access.log}}`. Waits ≤ 20 s for admin `/healthz` → 200.
    pub fn start(yaml_body: &str) -> Gateway {
        Gateway::launch(true, yaml_body, &[], &[])
    }

    /// [`Gateway::start`] with extra files written into the temp dir first (`(relative path,
    /// contents)`); the process runs with the temp dir as working directory.
    pub fn start_with_files(yaml_body: &str, files: &[(&str, &str)]) -> Gateway {
        Gateway::launch(true, yaml_body, files, &[])
    }

    /// [`Gateway::start`] with extra environment variables for the process.
    pub fn start_with_env(yaml_body: &str, env: &[(&str, &str)]) -> Gateway {
        Gateway::launch(true, yaml_body, &[], env)
    }

    /// Starts with a complete config; `{LISTEN}` (`127.0.0.1:P`), `{ADMIN}` (`127.0.0.1:Q`) and
    /// `{DIR}` (temp dir) are substituted. Readiness needs `admin: "{ADMIN}"` and `{LISTEN}`.
    pub fn start_raw(full_yaml: &str) -> Gateway {
        Gateway::launch(false, full_yaml, &[], &[])
    }

    fn launch(
        generate_server: bool,
        text: &str,
        files: &[(&str, &str)],
        env: &[(&str, &str)],
    ) -> Gateway {
        for attempt in 0.. {
            let dir = TempDir::new("tollgate-test");
            for (rel, contents) in files {
                dir.write(rel, contents);
            }
            let (addr, admin) = free_addrs();
            let server_section = if generate_server {
                concat!(
                    "server:\n",
                    "  listen: [\"{LISTEN}\"]\n",
                    "  admin: \"{ADMIN}\"\n",
                    "  threads: 1\n",
                    "  stateDir: \"{DIR}\"\n",
                    "  accessLog: {path: \"{DIR}/access.log\"}\n",
                )
                .to_string()
            } else {
                String::new()
            };
            let config_path = dir.path.join("tollgate.yaml");
            fs::write(
                &config_path,
                render(&server_section, text, addr, admin, &dir.path),
            )
            .expect("write config");
            let child = Command::new(tollgate_bin())
                .arg("run")
                .arg("-c")
                .arg(&config_path)
                .current_dir(&dir.path)
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(File::create(dir.path.join("stdout.log")).expect("stdout.log"))
                .stderr(File::create(dir.path.join("stderr.log")).expect("stderr.log"))
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {}: {e}", tollgate_bin().display()));
            let mut gw = Gateway {
                addr,
                admin,
                config_path,
                child,
                dir,
                server_section,
            };
            match gw.wait_ready(Duration::from_secs(20)) {
                Ok(()) => return gw,
                Err(why) => {
                    let _ = gw.child.kill();
                    let _ = gw.child.wait();
                    let logs = gw.logs();
                    let config = fs::read_to_string(&gw.config_path).unwrap_or_default();
                    drop(gw); // kills the process; not panicking yet, so nothing is printed twice
                              // A free port can be taken between our probe and tollgate's bind: retry.
                    if attempt < 2 && logs.to_ascii_lowercase().contains("in use") {
                        continue;
                    }
                    panic!("tollgate did not become ready: {why}\n--- config ---\n{config}{logs}");
                }
            }
        }
        unreachable!()
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited early with {status}"));
            }
            let healthy = quick_get(self.admin, "/healthz").is_ok_and(|r| r.status == 200);
            if healthy && TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).is_ok() {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(25));
        }
        Err(format!(
            "no 200 from http://{}/healthz within {limit:?}",
            self.admin
        ))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The temp dir (config, `stdout.log`, `stderr.log`, `access.log`, state).
    pub fn dir(&self) -> &Path {
        &self.dir.path
    }

    /// `request(self.addr, ...)`.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        request(self.addr, method, path, headers, body)
    }

    pub fn get(&self, path: &str) -> Response {
        request(self.addr, "GET", path, &[], b"")
    }

    /// Rewrites the config file (same kind of text as the constructor took) without signalling.
    pub fn write_config(&self, yaml: &str) {
        let text = render(
            &self.server_section,
            yaml,
            self.addr,
            self.admin,
            &self.dir.path,
        );
        fs::write(&self.config_path, text).expect("rewrite config");
    }

    /// Rewrites the config, sends SIGHUP and waits (≤ 10 s) until
    /// `tollgate_config_reloads_total` moves; returns true for `result="success"`, false for
    /// `result="failure"`.
    pub fn reload(&self, yaml: &str) -> bool {
        let counts = || {
            let m = quick_get(self.admin, "/metrics")
                .map(|r| r.body_str())
                .unwrap_or_default();
            let c =
                |result| metric_value(&m, "tollgate_config_reloads_total", &[("result", result)]);
            (c("success"), c("failure"))
        };
        let before = counts();
        self.write_config(yaml);
        self.signal("HUP");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let now = counts();
            if now.0 > before.0 {
                return true;
            }
            if now.1 > before.1 {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "reload not reflected in tollgate_config_reloads_total within 10 s\n{}",
            self.logs()
        );
    }

    /// Sends a signal by name (`"HUP"`, `"TERM"`, `"QUIT"`, ...) with `kill`.
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "kill -{sig} {} failed",
            self.pid()
        );
    }

    /// Waits up to `limit` for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// `GET /metrics` on the admin listener (panics unless 200).
    pub fn metrics(&self) -> String {
        let r = request(self.admin, "GET", "/metrics", &[], b"");
        assert_eq!(r.status, 200, "GET /metrics: {}", r.body_str());
        r.body_str()
    }

    /// [`metric_value`] over a fresh [`Gateway::metrics`].
    pub fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        metric_value(&self.metrics(), name, labels)
    }

    /// The process's stdout and stderr so far.
    pub fn logs(&self) -> String {
        let read = |f: &str| fs::read_to_string(self.dir.path.join(f)).unwrap_or_default();
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}",
            read("stdout.log"),
            read("stderr.log")
        )
    }

    /// The access log written to `<dir>/access.log` (empty if none yet).
    pub fn access_log(&self) -> String {
        fs::read_to_string(self.dir.path.join("access.log")).unwrap_or_default()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            eprintln!(
                "=== tollgate in {} ===\n{}",
                self.dir.path.display(),
                self.logs()
            );
        }
    }
}

/// `server_section + dedent(text)` with placeholders substituted.
fn render(
    server_section: &str,
    text: &str,
    addr: SocketAddr,
    admin: SocketAddr,
    dir: &Path,
) -> String {
    format!("{server_section}{}", dedent(text))
        .replace("{LISTEN}", &addr.to_string())
        .replace("{ADMIN}", &admin.to_string())
        .replace("{DIR}", &dir.display().to_string())
}

/// Two distinct free loopback addresses (both probed at once so they differ).
fn free_addrs() -> (SocketAddr, SocketAddr) {
    let a = TcpListener::bind("127.0.0.1:0").expect("bind");
    let b = TcpListener::bind("127.0.0.1:0").expect("bind");
    (a.local_addr().expect("addr"), b.local_addr().expect("addr"))
}

/// A GET with 2 s timeouts, for polling.
fn quick_get(addr: SocketAddr, path: &str) -> io::Result<Response> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut conn = Conn {
        addr,
        reader: BufReader::new(stream),
    };
    conn.try_send_raw(&build_request(addr, "GET", path, &[], b"", true))
}

/// Runs `tollgate check -c <tmp>/tollgate.yaml` on `yaml` written verbatim (no dedent, so
/// reported LINE:COL match the text; only `{DIR}` is substituted). Returns (exit code, stdout,
/// stderr); the exit code is -1 if killed by a signal.
pub fn check(yaml: &str) -> (i32, String, String) {
    check_with_files(yaml, &[])
}

/// [`check`] with extra files in the temp dir (also the working directory).
pub fn check_with_files(yaml: &str, files: &[(&str, &str)]) -> (i32, String, String) {
    let dir = TempDir::new("tollgate-check");
    for (rel, contents) in files {
        dir.write(rel, contents);
    }
    let path = dir.write(
        "tollgate.yaml",
        yaml.replace("{DIR}", &dir.path.display().to_string()),
    );
    let out = Command::new(tollgate_bin())
        .arg("check")
        .arg("-c")
        .arg(&path)
        .current_dir(&dir.path)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", tollgate_bin().display()));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A self-signed certificate for `localhost` and its key, made by `openssl` in `dir`:
/// (cert.pem, key.pem).
pub fn self_signed_certificate(dir: &TempDir) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(made.success(), "openssl could not make a certificate");
    (cert, key)
}

/// An HTTPS server on a free loopback port: `handler`, a Python script defining an
/// `http.server` request handler class `H`, served with a self-signed certificate; stopped on
/// drop.
pub struct HttpsServer {
    child: Child,
    pub port: u16,
    _dir: TempDir,
}

impl HttpsServer {
    pub fn start(handler: &str) -> HttpsServer {
        use std::io::{BufRead, BufReader};
        let dir = TempDir::new("https-server");
        let (cert, key) = self_signed_certificate(&dir);
        let script = format!(
            "import http.server, ssl, sys\n{handler}\n\
             srv = http.server.ThreadingHTTPServer((\"127.0.0.1\", 0), H)\n\
             ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n\
             ctx.load_cert_chain(sys.argv[1], sys.argv[2])\n\
             srv.socket = ctx.wrap_socket(srv.socket, server_side=True)\n\
             print(srv.server_address[1], flush=True)\n\
             srv.serve_forever()\n"
        );
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(&cert)
            .arg(&key)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("port line");
        let port = line.trim().parse().expect("port");
        HttpsServer {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
