//! HTTP_PROXY integrations end to end: a real `tollgate` process in front of a real [`Backend`]
//! (AWS digest §3.2, §3.5, §8.2–8.3, TV-18, TV-19).

mod common;
use common::*;

use serde_json::Value;
use std::io::Write;
use std::time::{Duration, Instant};

/// The API under test. `{B1}` is the main backend's URL, `{B1ADDR}`/`{B2ADDR}` the two backends'
/// `host:port` (stage variables of the stages `test` and `other`).
const API: &str = r#"
    restApis:
      - id: proxyapi
        resources:
          /echo:
            ANY:
              integration: {type: HTTP_PROXY, httpMethod: ANY, uri: "{B1}/echo"}
          /fixed:
            ANY:
              integration: {type: HTTP_PROXY, httpMethod: POST, uri: "{B1}/fixed"}
          /items/{proxy+}:
            ANY:
              requestParameters: {method.request.path.proxy: true}
              integration:
                type: HTTP_PROXY
                httpMethod: ANY
                uri: "{B1}/up/{proxy}"
                requestParameters: {integration.request.path.proxy: method.request.path.proxy}
          /staged:
            GET:
              integration: {type: HTTP_PROXY, httpMethod: GET, uri: "http://${stageVariables.backend}/staged"}
          /slow:
            ANY:
              integration: {type: HTTP_PROXY, httpMethod: ANY, uri: "{B1}/slow", timeoutInMillis: 500}
          /tv18/{pathVariable}:
            POST:
              requestParameters:
                method.request.path.pathVariable: true
                method.request.header.foobar: false
                method.request.header.emptyheader: false
                method.request.querystring.testVar: false
                method.request.querystring.testQueryString: false
              integration:
                type: HTTP_PROXY
                httpMethod: POST
                uri: "{B1}/echo?testVar={pathVar}&testQs={qsVar}"
                requestParameters:
                  integration.request.header.headerVar: method.request.header.foobar
                  integration.request.path.qsVar: method.request.querystring.testVar
                  integration.request.path.pathVar: method.request.path.pathVariable
                  integration.request.querystring.queryString: method.request.querystring.testQueryString
                  integration.request.querystring.testQs: method.request.querystring.testQueryString
                  integration.request.querystring.testEmptyQs: method.request.header.emptyheader
        stages:
          - {stageName: test, variables: {backend: "{B1ADDR}"}}
          - {stageName: other, variables: {backend: "{B2ADDR}"}}
"#;

/// A gateway serving [`API`], its main backend and a second backend (stage `other`).
struct Fixture {
    gw: Gateway,
    backend: Backend,
    other: Backend,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with_backend(Backend::start())
    }

    fn with_backend(backend: Backend) -> Fixture {
        let other = Backend::start();
        let yaml = API
            .replace("{B1}", &backend.url())
            .replace("{B1ADDR}", &backend.addr.to_string())
            .replace("{B2ADDR}", &other.addr.to_string());
        Fixture {
            gw: Gateway::start(&yaml),
            backend,
            other,
        }
    }

    /// The request the main backend received last (panics if none).
    fn last(&self) -> RecordedRequest {
        self.backend
            .last_request()
            .expect("the backend received no request")
    }
}

/// Asserts `r` is a 200 whose body is the backend's JSON echo, and returns the echo.
fn echoed(r: &Response) -> Value {
    assert_eq!(r.status, 200, "body: {}", r.body_str());
    r.json()
}

/// `(name, value)` pairs of a raw query string, in order.
fn query_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Every value of query parameter `name`, in order.
fn query_values(q: &str, name: &str) -> Vec<String> {
    query_pairs(q)
        .into_iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v)
        .collect()
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A body of `n` printable bytes that is not one repeated byte.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'a' + (i % 26) as u8).collect()
}

// ---------------------------------------------------------------------------------------------
// Method, path, query, body
// ---------------------------------------------------------------------------------------------

#[test]
fn method_path_query_and_body_are_forwarded() {
    let f = Fixture::new();
    let r = f.gw.request(
        "PUT",
        "/test/echo?a=1&b=two%20words&a=3",
        &[("Content-Type", "application/json")],
        br#"{"pet":"dog"}"#,
    );
    let e = echoed(&r);
    assert_eq!(e["method"], "PUT");
    assert_eq!(e["path"], "/echo");
    assert_eq!(e["query"], "a=1&b=two%20words&a=3");
    assert_eq!(e["body"], r#"{"pet":"dog"}"#);
    assert_eq!(e["headers"]["content-type"], "application/json");

    for method in ["GET", "DELETE", "PATCH", "OPTIONS"] {
        f.gw.request(method, "/test/echo", &[], b"");
        assert_eq!(
            f.last().method,
            method,
            "httpMethod ANY keeps the client's method"
        );
    }
    let head = f.gw.request("HEAD", "/test/echo", &[], b"");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(f.last().method, "HEAD");
}

#[test]
fn fixed_integration_method_replaces_the_clients() {
    let f = Fixture::new();
    let e = echoed(&f.gw.request("GET", "/test/fixed?x=1", &[], b""));
    assert_eq!(e["method"], "POST");
    assert_eq!(e["path"], "/fixed");
    assert_eq!(e["query"], "x=1");
    let e = echoed(&f.gw.request("PUT", "/test/fixed", &[], b"payload"));
    assert_eq!(e["method"], "POST");
    assert_eq!(e["body"], "payload");
}

#[test]
fn proxy_placeholder_is_filled_from_the_greedy_path() {
    let f = Fixture::new();
    let e = echoed(&f.gw.request("GET", "/test/items/a/b/c?x=1&y=2", &[], b""));
    assert_eq!(e["path"], "/up/a/b/c");
    assert_eq!(e["query"], "x=1&y=2");
    let e = echoed(&f.gw.request("DELETE", "/test/items/42", &[], b""));
    assert_eq!(
        (e["method"].as_str(), e["path"].as_str()),
        (Some("DELETE"), Some("/up/42"))
    );
    // Path values stay percent-encoded as the client sent them (§1.3): neither decoded nor
    // encoded twice on the way to the backend.
    let e = echoed(
        &f.gw
            .get("/test/items/test%2Balias@gmail.com/plus/test+alias@gmail.com/a%20b"),
    );
    assert_eq!(
        e["path"],
        "/up/test%2Balias@gmail.com/plus/test+alias@gmail.com/a%20b"
    );
}

#[test]
fn stage_variables_choose_the_backend() {
    let f = Fixture::new();
    let e = echoed(&f.gw.get("/test/staged"));
    assert_eq!(e["path"], "/staged");
    assert_eq!(e["headers"]["host"], f.backend.addr.to_string());
    let e = echoed(&f.gw.get("/other/staged"));
    assert_eq!(e["headers"]["host"], f.other.addr.to_string());
    assert_eq!((f.backend.hits(), f.other.hits()), (1, 1));
}

/// TV-18, exactly as AWS recorded it.
#[test]
fn request_parameter_mapping_merges_like_aws_tv18() {
    let f = Fixture::new();
    let r = f.gw.request(
        "POST",
        "/test/tv18/foobar?testQueryString=foo&testVar=bar",
        &[
            ("foobar", "mapped-value"),
            ("headerVar", "request-value"),
            ("user-Agent", "test/integration"),
        ],
        b"",
    );
    let e = echoed(&r);
    let q = e["query"].as_str().expect("query");
    let mut names: Vec<String> = query_pairs(q).into_iter().map(|(k, _)| k).collect();
    names.sort();
    names.dedup();
    assert_eq!(
        names,
        ["queryString", "testQs", "testQueryString", "testVar"],
        "query {q}"
    );
    assert_eq!(query_values(q, "queryString"), ["foo"], "query {q}");
    assert_eq!(query_values(q, "testQs"), ["bar", "foo"], "query {q}");
    assert_eq!(query_values(q, "testQueryString"), ["foo"], "query {q}");
    assert_eq!(query_values(q, "testVar"), ["foobar", "bar"], "query {q}");
    assert_eq!(e["path"], "/echo");
    assert_eq!(e["headers"]["foobar"], "mapped-value");
    assert_eq!(
        e["headers"]["headervar"], "mapped-value",
        "the mapped header replaces the client's"
    );
    assert_eq!(e["headers"]["user-agent"], "test/integration");
    assert_eq!(
        r.header("x-amzn-Remapped-content-length"),
        Some(r.body.len().to_string().as_str())
    );
}

// ---------------------------------------------------------------------------------------------
// Headers (§8.2, §8.3)
// ---------------------------------------------------------------------------------------------

#[test]
fn request_headers_added_kept_and_dropped() {
    let f = Fixture::new();
    let r = f.gw.request(
        "POST",
        "/test/echo",
        &[
            ("X-Forwarded-For", "203.0.113.7, 198.51.100.2"),
            ("User-Agent", "test/integration"),
            ("Accept", "text/plain"),
            ("X-Custom", "kept"),
            ("Via", "1.1 client-proxy"),
            ("Max-Forwards", "5"),
            ("Content-MD5", "Q2hlY2sgSW50ZWdyaXR5IQ=="),
            ("Trailer", "X-Checksum"),
        ],
        b"hello",
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    let req = f.last();
    assert_eq!(req.body, b"hello");
    assert_eq!(
        req.headers_all("x-forwarded-for"),
        ["203.0.113.7, 198.51.100.2, 127.0.0.1"],
        "the client IP is appended to the chain"
    );
    assert_eq!(req.header("x-forwarded-proto"), Some("http"));
    assert_eq!(
        req.header("x-forwarded-port"),
        Some(f.gw.addr.port().to_string().as_str())
    );
    let trace = req.header("x-amzn-trace-id").expect("X-Amzn-Trace-Id");
    let parts: Vec<&str> = trace
        .strip_prefix("Root=1-")
        .unwrap_or_else(|| panic!("trace id {trace:?}"))
        .split('-')
        .collect();
    assert!(
        parts.len() == 2 && is_hex(parts[0], 8) && is_hex(parts[1], 24),
        "trace id {trace:?}"
    );
    assert_eq!(req.header("x-amzn-apigateway-api-id"), Some("proxyapi"));
    assert_eq!(req.headers_all("host"), [f.backend.addr.to_string()]);
    assert_eq!(req.header("user-agent"), Some("test/integration"));
    assert_eq!(req.header("accept"), Some("text/plain"));
    assert_eq!(req.header("x-custom"), Some("kept"));
    for dropped in ["via", "max-forwards", "content-md5", "trailer"] {
        assert_eq!(
            req.header(dropped),
            None,
            "{dropped} must not reach the backend"
        );
    }
}

#[test]
fn client_without_forwarded_for_starts_the_chain() {
    let f = Fixture::new();
    echoed(&f.gw.get("/test/echo"));
    assert_eq!(f.last().headers_all("x-forwarded-for"), ["127.0.0.1"]);
}

#[test]
fn incoming_trace_id_root_is_propagated() {
    let f = Fixture::new();
    let root = "Root=1-5f3a1b2c-0123456789abcdef01234567";
    echoed(
        &f.gw
            .request("GET", "/test/echo", &[("X-Amzn-Trace-Id", root)], b""),
    );
    let got = f.last();
    let trace = got.header("x-amzn-trace-id").expect("trace id");
    assert!(trace.starts_with(root), "{trace}");
}

/// `Expect: 100-continue`: Tollgate does not forward the expectation, so it must answer it
/// itself with an interim `100 Continue` (else clients such as curl stall for a second before
/// sending the body); the backend never sees `Expect`.
#[test]
fn expect_continue_is_answered_and_not_forwarded() {
    let f = Fixture::new();
    let mut conn = Conn::open(f.gw.addr);
    let head = format!(
        "POST /test/echo HTTP/1.1\r\nHost: {}\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n",
        f.gw.addr
    );
    conn.write(head.as_bytes()).expect("write head");
    assert_eq!(
        read_interim(&conn, Duration::from_millis(900)).as_deref(),
        Some("HTTP/1.1 100 Continue\r\n\r\n"),
        "no interim 100 Continue before the body was sent"
    );
    conn.write(b"hello").expect("write body");
    let r = conn.read_response(false).expect("response");
    let e = echoed(&r);
    assert_eq!(e["body"], "hello");
    assert_eq!(f.last().header("expect"), None);
}

/// After the interim 100, an integration failure is still a proper gateway response.
#[test]
fn expect_continue_then_timeout_is_504() {
    let f = Fixture::new();
    let mut conn = Conn::open(f.gw.addr);
    let head = format!(
        "POST /test/slow?sleep_ms=3000 HTTP/1.1\r\nHost: {}\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
        f.gw.addr
    );
    conn.write(head.as_bytes()).expect("write head");
    let interim = read_interim(&conn, Duration::from_millis(900));
    assert!(
        interim
            .as_deref()
            .is_some_and(|s| s.starts_with("HTTP/1.1 100")),
        "{interim:?}"
    );
    conn.write(b"hello").expect("write body");
    let r = conn.read_response(false).expect("response");
    assert_eq!(r.status, 504, "{}", r.body_str());
    assert_eq!(
        r.json(),
        serde_json::json!({"message": "Endpoint request timed out"})
    );
}

/// A request refused before its body is read gets its final answer at once (no 100), and the
/// connection is closed since the body was never sent.
#[test]
fn expect_continue_on_a_refused_request_gets_the_final_answer() {
    let f = Fixture::new();
    let mut conn = Conn::open(f.gw.addr);
    let head = format!(
        "POST /test/nope HTTP/1.1\r\nHost: {}\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
        f.gw.addr
    );
    conn.write(head.as_bytes()).expect("write head");
    let head = read_interim(&conn, Duration::from_secs(2)).expect("an answer without the body");
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    assert!(conn.is_closed_by_peer(Duration::from_secs(2)) || head.contains("close"));
}

/// A request carrying `Upgrade` that is not a WebSocket handshake is proxied as a plain request
/// and the backend does not see `Upgrade`.
#[test]
fn upgrade_header_is_dropped() {
    let f = Fixture::new();
    let r =
        f.gw.request("GET", "/test/echo", &[("Upgrade", "h2c")], b"");
    echoed(&r);
    assert_eq!(f.last().header("upgrade"), None);
    // A WebSocket handshake to a REST API is a plain request for the backend too; the answer
    // and the next request on the same connection stay correctly framed.
    let mut conn = Conn::open(f.gw.addr);
    let ws = [
        ("Connection", "Upgrade"),
        ("Upgrade", "websocket"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
    ];
    let e = echoed(&conn.request("GET", "/test/echo?n=1", &ws, b""));
    assert_eq!(e["query"], "n=1");
    assert_eq!(f.last().header("upgrade"), None);
    if let Ok(r) = conn.try_request("GET", "/test/echo?n=2", &[], b"") {
        assert_eq!(echoed(&r)["query"], "n=2");
    }
}

#[test]
fn response_headers_are_remapped_or_dropped() {
    let f = Fixture::with_backend(Backend::with_handler(|req| {
        default_reply(req).header("Connection", "keep-alive")
    }));
    let r = f.gw.get("/test/echo?headers=1");
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.header("x-amzn-Remapped-Connection"), Some("keep-alive"));
    assert_eq!(r.header("x-amzn-Remapped-Server"), Some("backend"));
    assert_ne!(r.header("Server"), Some("backend"));
    assert_eq!(
        r.header("x-amzn-Remapped-Date"),
        Some("Mon, 01 Jan 2024 00:00:00 GMT")
    );
    let date = r.headers_all("Date");
    assert_eq!(date.len(), 1, "{:?}", r.headers);
    assert_ne!(date[0], "Mon, 01 Jan 2024 00:00:00 GMT");
    assert_eq!(
        r.header("x-amzn-Remapped-x-amzn-RequestId"),
        Some("backend-id")
    );
    let ids = r.headers_all("x-amzn-RequestId");
    assert_eq!(ids.len(), 1, "{:?}", r.headers);
    assert_eq!(ids[0].len(), 36, "a UUID: {}", ids[0]);
    assert!(r.header("x-amz-apigw-id").is_some_and(|v| !v.is_empty()));
    assert_eq!(r.header("Via"), None);
    assert_eq!(r.header("X-Backend-Header"), Some("yes"));
    let len = r.body.len().to_string();
    assert_eq!(r.header("Content-Length"), Some(len.as_str()));
    assert_eq!(
        r.header("x-amzn-Remapped-content-length"),
        Some(len.as_str())
    );
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(
        r.header("X-Amzn-Trace-Id"),
        None,
        "HTTP_PROXY responses carry no trace id (§7.3)"
    );
}

/// TV-19: the backend's status reaches the client.
#[test]
fn backend_status_passes_through() {
    let f = Fixture::new();
    for status in [400u16, 201, 404, 503] {
        let r = f.gw.get(&format!("/test/echo?status={status}"));
        assert_eq!(r.status, status, "{}", r.body_str());
        assert_eq!(r.json()["path"], "/echo", "the backend's body is returned");
        assert_eq!(
            r.header("x-amzn-ErrorType"),
            None,
            "a backend error is not a gateway response"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------------

const FIVE_MB: usize = 5 * 1024 * 1024;
const LIMIT: usize = 10 * 1024 * 1024;

#[test]
fn large_upload_streams_through() {
    let f = Fixture::new();
    let body = pattern(FIVE_MB);
    let r = f.gw.request("POST", "/test/echo?size=2", &[], &body);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"aa"[..]));
    let got = f.last();
    assert_eq!(got.body.len(), body.len());
    assert!(got.body == body, "the upload arrived altered");
}

#[test]
fn chunked_upload_streams_through() {
    let f = Fixture::new();
    let body = pattern(3 * 1024 * 1024);
    let parts: Vec<&[u8]> = body.chunks(256 * 1024).collect();
    let r = f.gw.request(
        "PUT",
        "/test/echo?size=2",
        &[("Transfer-Encoding", "chunked")],
        &chunked(&parts),
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    let got = f.last();
    assert_eq!(got.method, "PUT");
    assert!(got.body == body, "received {} bytes", got.body.len());
}

#[test]
fn large_download_streams_through() {
    let f = Fixture::new();
    let r = f.gw.get(&format!("/test/echo?size={FIVE_MB}"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), FIVE_MB);
    assert!(r.body.iter().all(|&b| b == b'a'));
    assert_eq!(r.header("Content-Type"), Some("text/plain"));
}

#[test]
fn chunked_download_streams_through() {
    let f = Fixture::new();
    let n = 1_000_003;
    let r = f.gw.get(&format!("/test/echo?size={n}&chunked=1"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), n);
    assert!(r.body.iter().all(|&b| b == b'a'));
    assert_eq!(r.header("x-amzn-Remapped-content-length"), None);
    // Several chunked responses in a row on one client connection stay framed correctly.
    let mut conn = Conn::open(f.gw.addr);
    for i in 1..=3 {
        let r = conn.request(
            "GET",
            &format!("/test/echo?size={}&chunked=1", i * 5000),
            &[],
            b"",
        );
        assert_eq!((r.status, r.body.len()), (200, i * 5000));
    }
}

/// A declared Content-Length over 10 MB is refused before any body byte is read (a client that
/// waits for `100 Continue` sends none).
#[test]
fn content_length_over_10mb_is_413() {
    let f = Fixture::new();
    let mut conn = Conn::open(f.gw.addr);
    let head = format!(
        "POST /test/echo HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        f.gw.addr,
        LIMIT + 1
    );
    conn.write(head.as_bytes()).expect("write head");
    let r = conn.read_response(false).expect("a 413 response");
    assert_eq!(r.status, 413, "{}", r.body_str());
    assert!(r.json()["message"].is_string(), "{}", r.body_str());
    assert!(r.header("x-amzn-RequestId").is_some());
    assert_eq!(f.backend.hits(), 0, "the backend must not be called");
}

/// A chunked body that grows past 10 MB is cut off with 413. The client stops writing right
/// after crossing the limit and waits, so the gateway has read everything it was sent.
#[test]
fn chunked_body_growing_past_10mb_is_413() {
    let f = Fixture::new();
    let mut conn = Conn::open(f.gw.addr);
    let head = format!(
        "POST /test/echo HTTP/1.1\r\nHost: {}\r\nTransfer-Encoding: chunked\r\n\r\n",
        f.gw.addr
    );
    conn.write(head.as_bytes()).expect("write head");
    let mib = vec![b'x'; 1024 * 1024];
    let mut frame = format!("{:x}\r\n", mib.len()).into_bytes();
    frame.extend_from_slice(&mib);
    frame.extend_from_slice(b"\r\n");
    for _ in 0..LIMIT / mib.len() {
        conn.write(&frame).expect("write a chunk below the limit");
    }
    conn.write(b"400\r\n")
        .expect("write the chunk crossing the limit");
    conn.write(&[b'y'; 0x400])
        .expect("write the chunk crossing the limit");
    conn.write(b"\r\n")
        .expect("write the chunk crossing the limit");
    conn.stream().flush().expect("flush");
    let r = conn.read_response(false).expect("a 413 response");
    assert_eq!(r.status, 413, "{}", r.body_str());
    assert!(r.json()["message"].is_string(), "{}", r.body_str());
    assert_eq!(
        f.backend.hits(),
        0,
        "the backend never got a complete request"
    );
    // The half-sent upstream request does not poison a pooled connection.
    let e = echoed(&f.gw.request("POST", "/test/echo?n=after", &[], b"small"));
    assert_eq!(
        (e["query"].as_str(), e["body"].as_str()),
        (Some("n=after"), Some("small"))
    );
}

// ---------------------------------------------------------------------------------------------
// Failures
// ---------------------------------------------------------------------------------------------

#[test]
fn integration_timeout_is_504() {
    let f = Fixture::new();
    let started = Instant::now();
    let r = f.gw.get("/test/slow?sleep_ms=3000");
    let took = started.elapsed();
    assert_eq!(r.status, 504, "{}", r.body_str());
    assert_eq!(
        r.json(),
        serde_json::json!({"message": "Endpoint request timed out"})
    );
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert!(r.header("x-amzn-RequestId").is_some());
    assert!(r.header("x-amzn-ErrorType").is_some());
    assert!(
        took < Duration::from_millis(2500),
        "timeoutInMillis 500 took {took:?}"
    );
    // The route still works afterwards, and the timed-out upstream connection is not reused
    // (it would deliver the late answer to the next request).
    let e = echoed(&f.gw.get("/test/slow?sleep_ms=10&n=after"));
    assert_eq!(e["query"], "sleep_ms=10&n=after");
}

#[test]
fn backend_closing_without_answer_is_a_5xx_gateway_response() {
    let f = Fixture::new();
    let r = f.gw.get("/test/echo?close=1");
    assert!((500..600).contains(&r.status), "status {}", r.status);
    assert!(r.json()["message"].is_string(), "{}", r.body_str());
    assert!(r.header("x-amzn-ErrorType").is_some());
    assert!(r.header("x-amzn-RequestId").is_some());
    assert_eq!(f.gw.get("/test/echo").status, 200, "the gateway recovers");
}

#[test]
fn refused_connection_is_a_5xx_gateway_response() {
    let dead = Backend::dead_addr();
    let gw = Gateway::start(&format!(
        r#"
        restApis:
          - id: deadapi
            resources:
              /x:
                GET:
                  integration: {{type: HTTP_PROXY, httpMethod: GET, uri: "http://{dead}/x"}}
            stages: [{{stageName: test}}]
        "#
    ));
    let r = gw.get("/test/x");
    assert!((500..600).contains(&r.status), "status {}", r.status);
    assert!(r.json()["message"].is_string(), "{}", r.body_str());
}

// ---------------------------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------------------------

#[test]
fn client_keep_alive_carries_several_requests() {
    let f = Fixture::new();
    let mut conn = Conn::open(f.gw.addr);
    for i in 0..5 {
        let r = conn.request(
            "POST",
            &format!("/test/echo?n={i}"),
            &[],
            format!("body {i}").as_bytes(),
        );
        let e = echoed(&r);
        assert_eq!(e["query"], format!("n={i}"));
        assert_eq!(e["body"], format!("body {i}"));
    }
    assert!(
        !conn.is_closed_by_peer(Duration::from_millis(200)),
        "the client connection stays open"
    );
    assert_eq!(f.backend.hits(), 5);
}

#[test]
fn upstream_connections_are_reused() {
    let f = Fixture::new();
    for i in 0..20 {
        let r = f.gw.get(&format!("/test/echo?n={i}"));
        assert_eq!(r.status, 200);
    }
    assert_eq!(f.backend.hits(), 20);
    assert!(
        f.backend.connections() <= 2,
        "20 sequential requests opened {} upstream connections",
        f.backend.connections()
    );
}

// ---------------------------------------------------------------------------------------------
// Framing and smuggling edge cases
// ---------------------------------------------------------------------------------------------

/// A one-route gateway in front of `backend` (`/test/x`, HTTP_PROXY ANY, given timeout).
fn single_route(backend: std::net::SocketAddr, timeout_ms: u64) -> Gateway {
    Gateway::start(&format!(
        r#"
        restApis:
          - id: edgeapi
            resources:
              /x:
                ANY:
                  integration: {{type: HTTP_PROXY, httpMethod: ANY, uri: "http://{backend}/x", timeoutInMillis: {timeout_ms}}}
            stages: [{{stageName: test}}]
        "#
    ))
}

/// A backend that reads request heads (bodies are not expected) and answers each with what
/// `answer(connection index, request index on that connection)` returns, verbatim. `None`
/// closes the connection. Returns its address and the raw requests it received.
fn raw_backend(
    answer: impl Fn(usize, usize) -> Option<Vec<u8>> + Send + Sync + 'static,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let answer = std::sync::Arc::new(answer);
    let log = seen.clone();
    std::thread::spawn(move || {
        for (conn_no, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let answer = answer.clone();
            let log = log.clone();
            std::thread::spawn(move || {
                let mut pending = Vec::new();
                let mut req_no = 0;
                let mut byte = [0u8; 4096];
                loop {
                    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head: Vec<u8> = pending.drain(..end + 4).collect();
                        log.lock()
                            .unwrap()
                            .push(String::from_utf8_lossy(&head).into_owned());
                        match answer(conn_no, req_no) {
                            Some(bytes) => {
                                if stream.write_all(&bytes).is_err() {
                                    return;
                                }
                            }
                            None => return,
                        }
                        req_no += 1;
                    }
                    match stream.read(&mut byte) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => pending.extend_from_slice(&byte[..n]),
                    }
                }
            });
        }
    });
    (addr, seen)
}

/// A query-string value mapped into the integration URI is decoded; CR/LF (or a space) in it
/// must not reach the upstream request line, where it would inject headers or a whole request.
#[test]
fn mapped_uri_values_cannot_inject_into_the_request_line() {
    let f = Fixture::new();
    let r = f.gw.request(
        "POST",
        "/test/tv18/foobar?testVar=x%20HTTP/1.1%0d%0aX-Injected:%20yes%0d%0aY:%20z",
        &[],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(f.backend.hits(), 1);
    let got = f.last();
    assert_eq!(got.header("x-injected"), None, "{:?}", got.headers);
    assert!(
        !got.target.contains(' ') && !got.target.contains('\r') && !got.target.contains('\n'),
        "{:?}",
        got.target
    );
    assert_eq!(
        query_values(got.query(), "testQs"),
        ["x HTTP/1.1\r\nX-Injected: yes\r\nY: z"]
    );
}

/// `Content-Length: 5, 5` is a valid (collapsed) length that Pingora accepts and reads: the
/// body must be forwarded, not dropped.
#[test]
fn list_valued_content_length_body_is_forwarded() {
    let f = Fixture::new();
    let raw = format!(
        "POST /test/echo HTTP/1.1\r\nHost: {}\r\nContent-Length: 5, 5\r\nConnection: close\r\n\r\nhello",
        f.gw.addr
    );
    let r = send_raw(f.gw.addr, raw.as_bytes());
    let e = echoed(&r);
    assert_eq!(e["body"], "hello");
    assert_eq!(f.last().body, b"hello");
}

/// A backend answer with two different Content-Length values has ambiguous framing: it must
/// become an integration failure, never reach the client with both lengths.
#[test]
fn conflicting_backend_content_lengths_are_an_integration_failure() {
    let f = Fixture::with_backend(Backend::with_handler(|_| {
        Reply::new(200, "helloworld")
            .header("Content-Length", "5")
            .header("Content-Length", "10")
    }));
    let r = f.gw.get("/test/echo");
    assert!(
        (500..600).contains(&r.status),
        "{:?} {}",
        r.headers,
        r.body_str()
    );
    assert!(r.json()["message"].is_string(), "{}", r.body_str());
    assert!(r.header("x-amzn-ErrorType").is_some());
}

/// `Content-Length: 5, 5` from a backend is one length of 5 (RFC 9110 §8.6), not a body
/// delimited by close (which, on a keep-alive backend, only ends at the integration timeout).
#[test]
fn list_valued_backend_content_length_frames_the_body() {
    let (addr, _) =
        raw_backend(|_, _| Some(b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello".to_vec()));
    let gw = single_route(addr, 3000);
    let started = Instant::now();
    let r = gw.get("/test/x");
    assert_eq!((r.status, r.body_str().as_str()), (200, "hello"));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

/// Upgrade is never forwarded, so a backend's 101 is a protocol error: the client gets a
/// gateway response and the switched connection is never reused for another request.
#[test]
fn unsolicited_101_is_a_gateway_error_and_the_connection_is_not_reused() {
    let (addr, seen) = raw_backend(|conn, _| {
        Some(if conn == 0 {
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n"
                .to_vec()
        } else {
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec()
        })
    });
    let gw = single_route(addr, 3000);
    let r = gw.get("/test/x");
    assert!(
        (500..600).contains(&r.status),
        "{:?} {}",
        r.headers,
        r.body_str()
    );
    assert!(r.header("x-amzn-ErrorType").is_some());
    let r = gw.get("/test/x");
    assert_eq!((r.status, r.body_str().as_str()), (200, "ok"));
    assert_eq!(seen.lock().unwrap().len(), 2);
}

/// A mapped `Host` must not add a second Host header to the upstream request.
#[test]
fn mapped_host_header_does_not_duplicate_host() {
    let backend = Backend::start();
    let gw = Gateway::start(&format!(
        r#"
        restApis:
          - id: hostapi
            resources:
              /x:
                GET:
                  integration:
                    type: HTTP_PROXY
                    httpMethod: GET
                    uri: "{}/x"
                    requestParameters:
                      integration.request.header.Host: "'evil.example'"
                      integration.request.header.Connection: "'Upgrade'"
            stages: [{{stageName: test}}]
        "#,
        backend.url()
    ));
    let r = gw.get("/test/x");
    assert_eq!(r.status, 200, "{}", r.body_str());
    let got = backend.last_request().expect("a request");
    assert_eq!(got.headers_all("host").len(), 1, "{:?}", got.headers);
    assert_eq!(got.header("connection"), None, "{:?}", got.headers);
}

/// `timeoutInMillis` bounds the integration, not the client's upload: AWS has the whole body
/// before it calls the backend, so a slow upload to a quick backend is not a 504.
#[test]
fn slow_client_upload_does_not_count_against_the_integration_timeout() {
    let f = Fixture::new();
    let mut conn = Conn::open(f.gw.addr);
    let head = format!(
        "POST /test/slow?sleep_ms=100 HTTP/1.1\r\nHost: {}\r\nContent-Length: 10\r\n\r\nhello",
        f.gw.addr
    );
    conn.write(head.as_bytes()).expect("write head");
    std::thread::sleep(Duration::from_millis(900));
    conn.write(b"world").expect("write rest");
    let r = conn.read_response(false).expect("response");
    assert_eq!(r.status, 200, "{}", r.body_str());
}

/// Interim 1xx, chunk extensions and trailers, 204, `Content-Length: 0`, and CL next to TE,
/// one after another over the same client and backend connections.
#[test]
fn interim_chunked_and_empty_responses_stay_framed() {
    let (addr, seen) = raw_backend(|_, req| {
        Some(match req {
            0 => b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(),
            1 => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;ext=\"a;b\"\r\nab\r\n0\r\nX-Trailer: t\r\n\r\n".to_vec(),
            2 => b"HTTP/1.1 204 No Content\r\n\r\n".to_vec(),
            3 => b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec(),
            4 => b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n".to_vec(),
            _ => b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlast".to_vec(),
        })
    });
    let gw = single_route(addr, 3000);
    let mut conn = Conn::open(gw.addr);
    let r = conn.request("GET", "/test/x", &[], b"");
    assert_eq!((r.status, r.body_str().as_str()), (200, "ok"));
    let r = conn.request("GET", "/test/x", &[], b"");
    assert_eq!((r.status, r.body_str().as_str()), (200, "ab"));
    let r = conn.request("GET", "/test/x", &[], b"");
    assert_eq!((r.status, r.body_str().as_str()), (204, ""));
    let r = conn.request("GET", "/test/x", &[], b"");
    assert_eq!((r.status, r.body_str().as_str()), (200, ""));
    let r = conn.request("GET", "/test/x", &[], b"");
    assert_eq!((r.status, r.body_str().as_str()), (200, "xyz"));
    let r = conn.request("GET", "/test/x", &[], b"");
    assert_eq!((r.status, r.body_str().as_str()), (200, "last"));
    assert_eq!(seen.lock().unwrap().len(), 6);
}

/// An integration whose httpMethod is HEAD answers a client GET with no body: the client's
/// Content-Length must say so, not repeat the backend's (the client would wait for bytes that
/// never come).
#[test]
fn head_integration_for_a_get_is_framed_as_empty() {
    let backend = Backend::start();
    let gw = Gateway::start(&format!(
        r#"
        restApis:
          - id: headapi
            resources:
              /x:
                GET:
                  integration: {{type: HTTP_PROXY, httpMethod: HEAD, uri: "{}/x"}}
            stages: [{{stageName: test}}]
        "#,
        backend.url()
    ));
    let mut conn = Conn::open(gw.addr);
    for _ in 0..2 {
        let r = conn
            .try_request("GET", "/test/x", &[], b"")
            .expect("a complete response");
        assert_eq!((r.status, r.body.len()), (200, 0), "{:?}", r.headers);
        assert_eq!(r.headers_all("content-length"), ["0"], "{:?}", r.headers);
    }
    assert_eq!(backend.last_request().expect("a request").method, "HEAD");
}
