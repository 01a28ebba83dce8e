//! HTTP (custom, non-proxy) integrations end to end: a real `tollgate` in front of a real
//! [`Backend`] (AWS digest §3.2–3.6, §5, §6.6).

mod common;
use common::*;

/// `{B}` is the backend's URL.
const API: &str = r#"
    restApis:
      - id: customapi
        resources:
          /plain:
            GET:
              integration:
                type: HTTP
                httpMethod: GET
                uri: "{B}/plain"
                integrationResponses:
                  - statusCode: "200"
          /mapped/{id}:
            POST:
              requestParameters:
                method.request.path.id: true
                method.request.querystring.q: false
                method.request.multivaluequerystring.tag: false
                method.request.header.x-client: false
              integration:
                type: HTTP
                httpMethod: PUT
                uri: "{B}/items/{itemId}"
                requestParameters:
                  integration.request.path.itemId: method.request.path.id
                  integration.request.querystring.search: method.request.querystring.q
                  integration.request.querystring.stage: "'fixed'"
                  integration.request.querystring.tag: method.request.multivaluequerystring.tag
                  integration.request.header.x-backend: method.request.header.x-client
                  integration.request.header.Accept: "'text/plain'"
                  integration.request.header.x-from-body: method.request.body.a
                  integration.request.header.Host: "'virtual.example.com'"
                integrationResponses:
                  - statusCode: "200"
          /status/{code}:
            GET:
              requestParameters: {method.request.path.code: true}
              methodResponses:
                - statusCode: "200"
                  responseParameters:
                    method.response.header.x-from-backend: false
                    method.response.header.x-static: false
                    method.response.header.Content-Type: false
                    method.response.header.x-backend-path: false
              integration:
                type: HTTP
                httpMethod: GET
                uri: "{B}/x/status={code}&headers=1"
                requestParameters:
                  integration.request.path.code: method.request.path.code
                integrationResponses:
                  - statusCode: "200"
                    responseParameters:
                      method.response.header.x-from-backend: integration.response.header.X-Custom
                      method.response.header.x-static: "'fixed'"
                      method.response.header.Content-Type: "'text/plain'"
                      method.response.header.x-backend-path: integration.response.body.path
                  - statusCode: "404"
                    selectionPattern: "4\\d{2}"
                    responseTemplates:
                      application/json: '{"error": "not here", "request": "$context.requestId"}'
                  - statusCode: "502"
                    selectionPattern: "5\\d{2}"
          /nodefault/{code}:
            GET:
              requestParameters: {method.request.path.code: true}
              integration:
                type: HTTP
                httpMethod: GET
                uri: "{B}/x/status={code}"
                requestParameters:
                  integration.request.path.code: method.request.path.code
                integrationResponses:
                  - statusCode: "200"
                    selectionPattern: "2\\d{2}"
          /templated:
            POST:
              integration:
                type: HTTP
                httpMethod: POST
                uri: "{B}/templated"
                passthroughBehavior: WHEN_NO_TEMPLATES
                requestTemplates:
                  application/json: '{"wrapped": $input.body, "id": "$input.params(''id'')"}'
                integrationResponses:
                  - statusCode: "201"
                    responseTemplates:
                      application/json: '{"backendSaid": $input.body}'
                      application/xml: '<said>$input.body</said>'
          /whennomatch:
            POST:
              integration:
                type: HTTP
                httpMethod: POST
                uri: "{B}/wnm"
                requestTemplates:
                  application/json: '{"templated": true}'
                integrationResponses:
                  - statusCode: "200"
          /never:
            POST:
              integration:
                type: HTTP
                httpMethod: POST
                uri: "{B}/never"
                passthroughBehavior: NEVER
                integrationResponses:
                  - statusCode: "200"
          /slow:
            GET:
              integration:
                type: HTTP
                httpMethod: GET
                uri: "{B}/sleep_ms=2000"
                timeoutInMillis: 300
                integrationResponses:
                  - statusCode: "200"
          /dead:
            GET:
              integration:
                type: HTTP
                httpMethod: GET
                uri: "http://{DEAD}/dead"
                integrationResponses:
                  - statusCode: "200"
        stages:
          - stageName: test
"#;

struct Fixture {
    gw: Gateway,
    backend: Backend,
}

impl Fixture {
    fn new() -> Fixture {
        let backend = Backend::start();
        let yaml = API
            .replace("{B}", &backend.url())
            .replace("{DEAD}", &Backend::dead_addr().to_string());
        Fixture {
            gw: Gateway::start(&yaml),
            backend,
        }
    }

    fn last(&self) -> RecordedRequest {
        self.backend
            .last_request()
            .expect("the backend received no request")
    }
}

#[test]
fn only_aws_default_headers_reach_the_backend() {
    let f = Fixture::new();
    let r = f.gw.request(
        "GET",
        "/test/plain?client=1",
        &[
            ("Accept", "text/html"),
            ("User-Agent", "curl/8"),
            ("X-Custom", "secret"),
            ("Authorization", "Bearer t"),
        ],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    let req = f.last();
    assert_eq!(req.method, "GET");
    assert_eq!(req.path(), "/plain");
    assert_eq!(
        req.query(),
        "",
        "the client's query string is not forwarded"
    );
    assert_eq!(req.header("accept"), Some("application/json"));
    assert_eq!(req.header("user-agent"), Some("AmazonAPIGateway_customapi"));
    assert_eq!(req.header("x-amzn-apigateway-api-id"), Some("customapi"));
    assert!(req
        .header("x-amzn-trace-id")
        .is_some_and(|t| t.starts_with("Root=1-")));
    assert_eq!(
        req.header("host"),
        Some(f.backend.addr.to_string().as_str())
    );
    for absent in ["x-custom", "authorization", "x-forwarded-for"] {
        assert_eq!(req.header(absent), None, "{absent} must not be forwarded");
    }
    // The backend's status and headers do not pass through; the body does.
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.json()["path"] == "/plain");
    assert!(r.header("x-amzn-requestid").is_some());
}

#[test]
fn mapped_parameters_build_the_backend_request() {
    let f = Fixture::new();
    let r = f.gw.request(
        "POST",
        "/test/mapped/42?q=blue%20cats&other=no&tag=a,b&tag=c",
        &[("x-client", "c1"), ("Content-Type", "application/json")],
        br#"{"a":1}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    let req = f.last();
    assert_eq!(req.method, "PUT", "httpMethod is the integration's");
    assert_eq!(req.path(), "/items/42");
    let q = req.query();
    assert!(q.contains("search=blue%20cats"), "{q}");
    assert!(q.contains("stage=fixed"), "{q}");
    assert!(!q.contains("other"), "{q}");
    assert!(
        q.contains("tag=a%2Cb&tag=c"),
        "each value of a multi-value parameter is sent on its own: {q}"
    );
    assert_eq!(req.header("x-backend"), Some("c1"));
    assert_eq!(
        req.header("x-from-body"),
        Some("1"),
        "method.request.body.a"
    );
    assert_eq!(
        req.header("accept"),
        Some("text/plain"),
        "a mapped Accept wins"
    );
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(
        req.headers_all("host"),
        ["virtual.example.com"],
        "a mapped Host replaces the backend's"
    );
    assert_eq!(req.body_str(), r#"{"a":1}"#, "no template: passthrough");
}

#[test]
fn backend_status_selects_the_integration_response() {
    let f = Fixture::new();
    // 200 → default response with mapped headers; the backend body passes through.
    let r = f.gw.get("/test/status/200");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-static"), Some("fixed"));
    assert_eq!(
        r.header("x-backend-path"),
        Some("/x/status=200&headers=1"),
        "integration.response.body.path"
    );
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert!(r.body_str().contains("\"path\""));
    // 400 → selectionPattern 4\d{2} → 404 with its template.
    let r = f.gw.get("/test/status/400");
    assert_eq!(r.status, 404, "{}", r.body_str());
    let body = r.json();
    assert_eq!(body["error"], "not here");
    assert_eq!(
        body["request"].as_str(),
        r.header("x-amzn-requestid"),
        "$context.requestId"
    );
    // 503 → 502 mapping; 302 matches no pattern → the default (200): the backend's status
    // itself never passes through.
    assert_eq!(f.gw.get("/test/status/503").status, 502);
    assert_eq!(f.gw.get("/test/status/302").status, 200);
}

#[test]
fn integration_response_header_mapping_reads_the_backend_headers() {
    let backend = Backend::with_handler(|req| {
        default_reply(req)
            .header("X-Custom", "from-backend")
            .header("X-Custom", "second")
    });
    let yaml = API
        .replace("{B}", &backend.url())
        .replace("{DEAD}", &Backend::dead_addr().to_string());
    let gw = Gateway::start(&yaml);
    let r = gw.get("/test/status/200");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("x-from-backend"),
        Some("second"),
        "last value wins"
    );
}

#[test]
fn no_matching_integration_response_is_a_configuration_error() {
    let f = Fixture::new();
    assert_eq!(f.gw.get("/test/nodefault/204").status, 200);
    let r = f.gw.get("/test/nodefault/404");
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["message"], "Internal server error");
}

#[test]
fn request_and_response_templates_apply() {
    let f = Fixture::new();
    let r = f.gw.request(
        "POST",
        "/test/templated?id=7",
        &[("Content-Type", "application/json; charset=utf-8")],
        br#"{"pet":"dog"}"#,
    );
    assert_eq!(r.status, 201, "{}", r.body_str());
    let sent = f.last();
    assert_eq!(sent.body_str(), r#"{"wrapped": {"pet":"dog"}, "id": "7"}"#);
    let said = r.json();
    assert_eq!(said["backendSaid"]["body"], sent.body_str());
    assert_eq!(r.header("content-type"), Some("application/json"));
    // The Accept header chooses the response template.
    let r = f.gw.request(
        "POST",
        "/test/templated",
        &[
            ("Content-Type", "application/json"),
            ("Accept", "application/xml"),
        ],
        b"{}",
    );
    assert_eq!(r.header("content-type"), Some("application/xml"));
    assert!(r.body_str().starts_with("<said>{"), "{}", r.body_str());
}

#[test]
fn passthrough_behaviors() {
    let f = Fixture::new();
    // WHEN_NO_TEMPLATES with templates and no match → 415.
    let r = f.gw.request(
        "POST",
        "/test/templated",
        &[("Content-Type", "text/plain")],
        b"hi",
    );
    assert_eq!(r.status, 415);
    assert_eq!(r.json()["message"], "Unsupported Media Type");
    assert_eq!(r.header("x-amzn-errortype"), Some("BadRequestException"));
    // WHEN_NO_MATCH: an unmatched type passes through unchanged, a matched one transforms.
    let r = f.gw.request(
        "POST",
        "/test/whennomatch",
        &[("Content-Type", "text/plain")],
        b"raw text",
    );
    assert_eq!(r.status, 200);
    assert_eq!(f.last().body_str(), "raw text");
    assert_eq!(f.last().header("content-type"), Some("text/plain"));
    f.gw.request(
        "POST",
        "/test/whennomatch",
        &[("Content-Type", "application/json")],
        b"{}",
    );
    assert_eq!(f.last().body_str(), r#"{"templated": true}"#);
    // No Content-Type means application/json.
    f.gw.request("POST", "/test/whennomatch", &[], b"{}");
    assert_eq!(f.last().body_str(), r#"{"templated": true}"#);
    // NEVER without templates → 415, and the backend is not called.
    let hits = f.backend.hits();
    let r = f.gw.request(
        "POST",
        "/test/never",
        &[("Content-Type", "application/json")],
        b"{}",
    );
    assert_eq!(r.status, 415);
    assert_eq!(f.backend.hits(), hits);
}

#[test]
fn backend_failures_map_to_aws_errors() {
    let f = Fixture::new();
    let r = f.gw.get("/test/slow");
    assert_eq!(r.status, 504);
    assert_eq!(r.json()["message"], "Endpoint request timed out");
    let r = f.gw.get("/test/dead");
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["message"], "Internal server error");
}

const BINARY_API: &str = r#"
    restApis:
      - id: binapi
        binaryMediaTypes: ["image/*", "application/octet-stream"]
        resources:
          /raw:
            POST:
              integration:
                type: HTTP
                httpMethod: POST
                uri: "{B}/raw"
                integrationResponses: [{statusCode: "200"}]
          /totext:
            POST:
              integration:
                type: HTTP
                httpMethod: POST
                uri: "{B}/totext"
                contentHandling: CONVERT_TO_TEXT
                integrationResponses: [{statusCode: "200", contentHandling: CONVERT_TO_TEXT}]
          /tobinary:
            POST:
              integration:
                type: HTTP
                httpMethod: POST
                uri: "{B}/tobinary"
                contentHandling: CONVERT_TO_BINARY
                integrationResponses: [{statusCode: "200"}]
          /templated:
            POST:
              integration:
                type: HTTP
                httpMethod: POST
                uri: "{B}/templated"
                requestTemplates:
                  application/octet-stream: '{"data": "$input.body"}'
                integrationResponses: [{statusCode: "200"}]
        stages:
          - stageName: test
"#;

/// A backend that answers every request with these PNG-typed bytes.
const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0x00, 0xff];

#[test]
fn binary_payloads_follow_content_handling() {
    let backend =
        Backend::with_handler(|_| Reply::new(200, PNG).header("Content-Type", "image/png"));
    let gw = Gateway::start(&BINARY_API.replace("{B}", &backend.url()));
    let octets: &[u8] = &[0x00, 0x01, 0xfe, 0xff];
    let last = || backend.last_request().expect("backend request");

    // Binary in, binary out (Accept names a binary type).
    let r = gw.request(
        "POST",
        "/test/raw",
        &[
            ("Content-Type", "application/octet-stream"),
            ("Accept", "image/png"),
        ],
        octets,
    );
    assert_eq!(r.status, 200);
    assert_eq!(last().body, octets);
    assert_eq!(r.body, PNG);
    // A text Accept gets the binary payload base64-encoded.
    let r = gw.request(
        "POST",
        "/test/raw",
        &[
            ("Content-Type", "application/octet-stream"),
            ("Accept", "application/json"),
        ],
        octets,
    );
    assert_eq!(r.body_str(), "iVBORwD/");

    // CONVERT_TO_TEXT: the backend gets base64, and so does the client.
    let r = gw.request(
        "POST",
        "/test/totext",
        &[
            ("Content-Type", "application/octet-stream"),
            ("Accept", "image/png"),
        ],
        octets,
    );
    assert_eq!(last().body_str(), "AAH+/w==");
    assert_eq!(r.body_str(), "iVBORwD/");

    // CONVERT_TO_BINARY: a text body is base64-decoded; invalid base64 is a 500.
    gw.request(
        "POST",
        "/test/tobinary",
        &[("Content-Type", "text/plain")],
        b"AAH+/w==",
    );
    assert_eq!(last().body, octets);
    let r = gw.request(
        "POST",
        "/test/tobinary",
        &[("Content-Type", "text/plain")],
        b"not base64!",
    );
    assert_eq!(r.status, 500);

    // A template sees a binary body as base64.
    gw.request(
        "POST",
        "/test/templated",
        &[("Content-Type", "application/octet-stream")],
        octets,
    );
    assert_eq!(last().body_str(), r#"{"data": "AAH+/w=="}"#);
}
