//! HTTP_PROXY to an HTTPS backend (Pingora's TLS upstream path): a Python `http.server` behind
//! a self-signed certificate made with the `openssl` command, `tlsConfig.insecureSkipVerification`.

mod common;
use common::*;

/// An HTTPS echo server: answers `{"path": ..., "headers": {...}}` (and `"body"` for POST);
/// `/slow` sleeps 3 s first.
const SERVER: &str = r#"
import json, time
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        if self.path.startswith("/slow"):
            time.sleep(3)
        body = json.dumps({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        got = self.rfile.read(n).decode()
        body = json.dumps({"path": self.path, "body": got, "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
"#;

fn gateway(port: u16) -> Gateway {
    Gateway::start(&format!(
        r#"
restApis:
  - id: tlsapi
    models:
      Named: {{type: object, required: [name]}}
    requestValidators: {{body: {{validateRequestBody: true}}}}
    resources:
      /validated:
        POST:
          requestValidator: body
          requestModels: {{application/json: Named}}
          integration:
            type: HTTP_PROXY
            httpMethod: POST
            uri: "https://127.0.0.1:{port}/validated"
            tlsConfig: {{insecureSkipVerification: true}}
      /echo:
        GET:
          integration:
            type: HTTP_PROXY
            httpMethod: GET
            uri: "https://127.0.0.1:{port}/echo?from=tollgate"
            tlsConfig: {{insecureSkipVerification: true}}
      /slow:
        GET:
          integration:
            type: HTTP_PROXY
            httpMethod: GET
            uri: "https://127.0.0.1:{port}/slow"
            timeoutInMillis: 500
            tlsConfig: {{insecureSkipVerification: true}}
    stages: [{{stageName: prod}}, {{stageName: cached, cacheClusterEnabled: true}}]
"#
    ))
}

#[test]
fn https_backends_get_the_gateway_headers_and_responses_are_remapped() {
    let backend = HttpsServer::start(SERVER);
    let gw = gateway(backend.port);
    let r = gw.get("/prod/echo?x=1");
    assert_eq!(r.status, 200, "{}", r.body_str());
    let echo = r.json();
    assert_eq!(echo["path"], "/echo?from=tollgate&x=1");
    let h = &echo["headers"];
    assert_eq!(h["host"], format!("127.0.0.1:{}", backend.port));
    assert_eq!(h["x-amzn-apigateway-api-id"], "tlsapi");
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert!(h["x-amzn-trace-id"]
        .as_str()
        .is_some_and(|t| t.starts_with("Root=1-")));
    // Python's `Server` and `Date` are renamed; the gateway sends its own request id.
    assert!(r
        .header("x-amzn-Remapped-server")
        .is_some_and(|s| s.contains("Python")));
    assert!(r.header("x-amzn-Remapped-date").is_some());
    assert!(r.header("server").is_none());
    assert_eq!(r.header("x-amzn-RequestId").map(str::len), Some(36));
}

#[test]
fn https_backend_timeout_is_a_504() {
    let backend = HttpsServer::start(SERVER);
    let gw = gateway(backend.port);
    let r = gw.get("/prod/slow");
    assert_eq!(r.status, 504, "{}", r.body_str());
    assert_eq!(r.body_str(), r#"{"message": "Endpoint request timed out"}"#);
}

#[test]
fn https_backend_responses_are_cached_by_the_stage_cache() {
    let backend = HttpsServer::start(SERVER);
    let gw = gateway(backend.port);
    // Each backend call echoes a new X-Amzn-Trace-Id: equal bodies mean one call.
    let first = gw.get("/cached/echo");
    assert_eq!(first.status, 200, "{}", first.body_str());
    let second = gw.get("/cached/echo");
    assert_eq!(second.status, 200);
    assert_eq!(second.body, first.body);
    assert_ne!(
        second.header("x-amzn-RequestId"),
        first.header("x-amzn-RequestId")
    );
    assert!(second
        .header("x-amzn-Remapped-server")
        .is_some_and(|s| s.contains("Python")));
    assert_ne!(gw.get("/prod/echo").body, gw.get("/prod/echo").body);
    let labels = [("stage", "cached"), ("resource", "/echo")];
    assert_eq!(gw.metric("tollgate_cache_hits_total", &labels), 1.0);
}

#[test]
fn https_backends_get_a_body_read_for_validation() {
    let backend = HttpsServer::start(SERVER);
    let gw = gateway(backend.port);
    let body = br#"{"name":"Rex"}"#;
    let r = gw.request("POST", "/prod/validated", &[], body);
    assert_eq!(r.status, 200, "{}", r.body_str());
    let echo = r.json();
    assert_eq!(echo["body"], r#"{"name":"Rex"}"#);
    assert_eq!(echo["headers"]["content-length"], "14");
    // A chunked body read whole for validation goes on whole, with its length.
    let big = format!(r#"{{"name":"{}"}}"#, "x".repeat(100_000));
    let raw = [
        format!(
            "POST /prod/validated HTTP/1.1\r\nHost: {}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            gw.addr
        )
        .into_bytes(),
        chunked(&[&big.as_bytes()[..70_000], &big.as_bytes()[70_000..]]),
    ]
    .concat();
    let r = send_raw(gw.addr, &raw);
    assert_eq!(r.status, 200, "{}", r.body_str());
    let echo = r.json();
    let got = echo["body"].as_str().unwrap_or("");
    assert!(
        got == big,
        "the backend got {} bytes: {}",
        got.len(),
        &got[..got.len().min(80)]
    );
    assert_eq!(echo["headers"]["content-length"], big.len().to_string());
    let r = gw.request("POST", "/prod/validated", &[], b"{}");
    assert_eq!(r.status, 400, "{}", r.body_str());
}
