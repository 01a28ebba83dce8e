//! The client side of HTTP/1.x over raw sockets: pipelining, request framing (Content-Length,
//! chunked, both), malformed heads, keep-alive and its idle timeout, the headers every
//! response carries.

mod common;
use common::*;
use std::time::Duration;

const API: &str = r#"
    restApis:
      - id: h1
        resources:
          /mock:
            GET:
              methodResponses: [{statusCode: "200"}]
              integration:
                type: MOCK
                requestTemplates: {application/json: '{"statusCode": 200}'}
                integrationResponses:
                  - statusCode: "200"
                    responseTemplates: {application/json: 'n=$input.params(''n'')'}
          /echo:
            POST:
              integration: {type: HTTP_PROXY, httpMethod: POST, uri: "{BACKEND}/echo"}
        stages: [{stageName: p}]
"#;

/// The API with its HTTP_PROXY method pointing at `backend`.
fn start(backend: &Backend) -> Gateway {
    Gateway::start(&API.replace("{BACKEND}", &backend.url()))
}

fn raw(gw: &Gateway, text: &str) -> Vec<u8> {
    text.replace("{HOST}", &gw.addr.to_string()).into_bytes()
}

#[test]
fn pipelined_requests_are_answered_in_order_on_one_connection() {
    let gw = start(&Backend::start());
    let mut conn = Conn::open(gw.addr);
    let both = raw(
        &gw,
        "GET /p/mock?n=1 HTTP/1.1\r\nHost: {HOST}\r\n\r\nGET /p/mock?n=2 HTTP/1.1\r\nHost: {HOST}\r\n\r\n",
    );
    conn.write(&both).expect("write");
    let first = conn.read_response(false).expect("first response");
    let second = conn.read_response(false).expect("second response");
    assert_eq!((first.status, first.body_str().as_str()), (200, "n=1"));
    assert_eq!((second.status, second.body_str().as_str()), (200, "n=2"));
    assert!(!conn.is_closed_by_peer(Duration::from_millis(200)));
}

#[test]
fn every_response_has_one_date_and_says_whether_the_connection_stays() {
    let gw = start(&Backend::start());
    let mut conn = Conn::open(gw.addr);
    let r = conn.request("GET", "/p/mock?n=1", &[], b"");
    assert_eq!(r.headers_all("date").len(), 1, "{:?}", r.headers);
    assert_eq!(r.header("connection"), Some("keep-alive"));
    assert!(r.header("x-amzn-requestid").is_some());
    // A gateway response too.
    let r = conn.request("GET", "/p/nowhere", &[], b"");
    assert_eq!(r.status, 403);
    assert_eq!(r.headers_all("date").len(), 1, "{:?}", r.headers);
}

#[test]
fn head_gets_the_length_without_the_body() {
    let backend = Backend::start();
    let gw = Gateway::start(
        &API.replace("{BACKEND}", &backend.url()).replace("          /echo:", "          /head:\n            HEAD:\n              methodResponses: [{statusCode: \"200\"}]\n              integration:\n                type: MOCK\n                requestTemplates: {application/json: '{\"statusCode\": 200}'}\n                integrationResponses: [{statusCode: \"200\", responseTemplates: {application/json: 'twelve bytes'}}]\n          /echo:"),
    );
    let mut conn = Conn::open(gw.addr);
    let r = conn.request("HEAD", "/p/head", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("12"));
    assert!(r.body.is_empty());
    // The connection is still in step: the next response is read whole.
    let r = conn.request("GET", "/p/mock?n=7", &[], b"");
    assert_eq!(r.body_str(), "n=7");
}

#[test]
fn a_chunked_body_is_decoded_and_the_connection_kept() {
    let backend = Backend::start();
    let gw = start(&backend);
    let mut conn = Conn::open(gw.addr);
    let mut req = raw(
        &gw,
        "POST /p/echo HTTP/1.1\r\nHost: {HOST}\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    req.extend_from_slice(b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n");
    let r = conn.send_raw(&req);
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.json()["body"], "hello world");
    assert_eq!(r.header("connection"), Some("keep-alive"));
    let r = conn.request("GET", "/p/mock?n=2", &[], b"");
    assert_eq!(r.body_str(), "n=2");
}

#[test]
fn transfer_encoding_wins_over_content_length_and_the_connection_closes() {
    let backend = Backend::start();
    let gw = start(&backend);
    let mut conn = Conn::open(gw.addr);
    let mut req = raw(
        &gw,
        "POST /p/echo HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    req.extend_from_slice(b"5\r\nhello\r\n0\r\n\r\n");
    let r = conn.send_raw(&req);
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.json()["body"], "hello");
    assert_eq!(backend.last_request().expect("proxied").body, b"hello");
    assert_eq!(r.header("connection"), Some("close"));
    assert!(conn.is_closed_by_peer(Duration::from_secs(2)));
}

#[test]
fn ambiguous_or_malformed_heads_get_400_and_a_closed_connection() {
    let backend = Backend::start();
    let gw = start(&backend);
    for bad in [
        "POST /p/echo HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        "POST /p/echo HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: -1\r\n\r\n",
        "POST /p/echo HTTP/1.1\r\nHost: {HOST}\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
        "POST /p/echo HTTP/1.0\r\nHost: {HOST}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "GET /p/mock HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET /p/mock HTTP/1.1\r\nNo colon here\r\n\r\n",
        "GET p/mock HTTP/1.1\r\nHost: {HOST}\r\n\r\n",
    ] {
        let mut conn = Conn::open(gw.addr);
        let r = conn.send_raw(&raw(&gw, bad));
        assert_eq!(r.status, 400, "{bad:?}");
        assert!(conn.is_closed_by_peer(Duration::from_secs(2)), "{bad:?}");
    }
}

#[test]
fn illegal_bytes_in_the_target_are_percent_encoded() {
    let gw = start(&Backend::start());
    let r = send_raw(
        gw.addr,
        &raw(
            &gw,
            "GET /p/mock?n=a\"b HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n",
        ),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body_str(), "n=a\"b");
}

#[test]
fn an_absolute_target_routes_like_its_path() {
    let gw = start(&Backend::start());
    let r = send_raw(
        gw.addr,
        &raw(
            &gw,
            "GET http://{HOST}/p/mock?n=9 HTTP/1.1\r\nConnection: close\r\n\r\n",
        ),
    );
    assert_eq!((r.status, r.body_str().as_str()), (200, "n=9"));
}

#[test]
fn http_1_0_closes_unless_asked_to_keep_alive() {
    let gw = start(&Backend::start());
    let mut conn = Conn::open(gw.addr);
    let r = conn.send_raw(&raw(
        &gw,
        "GET /p/mock?n=1 HTTP/1.0\r\nHost: {HOST}\r\n\r\n",
    ));
    assert_eq!(r.header("connection"), Some("close"));
    assert!(conn.is_closed_by_peer(Duration::from_secs(2)));

    let mut conn = Conn::open(gw.addr);
    let keep = raw(
        &gw,
        "GET /p/mock?n=2 HTTP/1.0\r\nHost: {HOST}\r\nConnection: keep-alive\r\n\r\n",
    );
    let r = conn.send_raw(&keep);
    assert_eq!(r.header("connection"), Some("keep-alive"));
    let r = conn.send_raw(&keep);
    assert_eq!(r.body_str(), "n=2");
}

#[test]
fn an_idle_kept_alive_connection_is_closed_after_the_timeout() {
    let backend = Backend::start();
    let gw = Gateway::start_raw(&format!(
        "server: {{listen: [\"{{LISTEN}}\"], admin: \"{{ADMIN}}\", threads: 1, keepaliveTimeoutSeconds: 1}}\n{}",
        common::dedent(&API.replace("{BACKEND}", &backend.url()))
    ));
    let mut conn = Conn::open(gw.addr);
    let r = conn.request("GET", "/p/mock?n=1", &[], b"");
    assert_eq!(r.header("connection"), Some("keep-alive"));
    assert!(!conn.is_closed_by_peer(Duration::from_millis(300)));
    assert!(conn.is_closed_by_peer(Duration::from_secs(3)));
}
