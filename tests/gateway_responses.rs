//! Gateway responses end to end (AWS digest §7, TV-7, TV-17, TV-21) and the MOCK integration
//! (§3.3, §3.5, §5, TV-9): default status, body and `x-amzn-ErrorType` of every error this
//! build produces, their customization, and how a MOCK builds its method response.

mod common;
use common::*;

use serde_json::{json, Value};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Config builders
// ---------------------------------------------------------------------------------------------

/// A MOCK method answering 200 with an empty body.
const OK_METHOD: &str = r#"{methodResponses: [{statusCode: "200"}], integration: {type: MOCK, requestTemplates: {application/json: '{"statusCode": 200}'}, integrationResponses: [{statusCode: "200"}]}}"#;

/// Starts one API `r` with stage `dev` (variable `a: "1"`). `api_fields` are YAML lines at the
/// API's level (e.g. `gatewayResponses`), `resources` the YAML under `resources:` (both
/// written at column 0; `{BACKEND}` becomes `backend`'s URL). `/ok` GET is always there.
fn start(api_fields: &str, resources: &str, backend: Option<&Backend>) -> Gateway {
    let resources = format!("/ok:\n  GET: {OK_METHOD}\n{}", dedent(resources));
    let mut yaml = format!(
        "restApis:\n  - id: r\n{}    resources:\n{}    stages:\n      - stageName: dev\n        variables: {{a: \"1\"}}\n",
        indent(&dedent(api_fields), 4),
        indent(&resources, 6),
    );
    if let Some(b) = backend {
        yaml = yaml.replace("{BACKEND}", &b.url());
    }
    Gateway::start(&yaml)
}

fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("{pad}{l}\n"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------------------------

/// Headers every API Gateway response carries (DESIGN A6).
fn assert_ids(r: &Response) {
    let id = r
        .header("x-amzn-RequestId")
        .unwrap_or_else(|| panic!("no x-amzn-RequestId: {r:?}"));
    assert_eq!(id.len(), 36, "x-amzn-RequestId {id:?} is not a UUID");
    assert_eq!(
        id.matches('-').count(),
        4,
        "x-amzn-RequestId {id:?} is not a UUID"
    );
    assert!(
        r.header("x-amz-apigw-id").is_some_and(|v| !v.is_empty()),
        "{r:?}"
    );
}

/// A gateway response: `status`, `x-amzn-ErrorType: error_type`, JSON body with `message`.
fn assert_error(r: &Response, status: u16, error_type: &str, message: &str) {
    assert_eq!(r.status, status, "body {}", r.body_str());
    assert_eq!(r.header("x-amzn-ErrorType"), Some(error_type), "{r:?}");
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(r.json(), json!({ "message": message }));
    assert_ids(r);
}

/// [`assert_error`] plus the exact body bytes and `Content-Length`.
fn assert_error_bytes(r: &Response, status: u16, error_type: &str, body: &str) {
    let message: Value = serde_json::from_str(body).expect("expected body is JSON");
    assert_error(
        r,
        status,
        error_type,
        message["message"].as_str().expect("message"),
    );
    assert_eq!(r.body_str(), body);
    assert_eq!(
        r.header("Content-Length"),
        Some(body.len().to_string().as_str())
    );
}

const MISSING_TOKEN: &str = r#"{"message":"Missing Authentication Token"}"#;
/// AWS's integration-phase 500: 36 bytes, with a space after the colon (§7.1, TV-17).
const INTERNAL_ERROR: &str = r#"{"message": "Internal server error"}"#;

fn assert_missing_token(r: &Response) {
    assert_error_bytes(r, 403, "MissingAuthenticationTokenException", MISSING_TOKEN);
}

fn assert_internal_error(r: &Response) {
    assert_error_bytes(r, 500, "InternalServerErrorException", INTERNAL_ERROR);
}

fn assert_missing_params(r: &Response, names: &str) {
    let message = format!("Missing required request parameters: [{names}]");
    assert_error(r, 400, "BadRequestException", &message);
}

// ---------------------------------------------------------------------------------------------
// Defaults
// ---------------------------------------------------------------------------------------------

#[test]
fn missing_authentication_token_and_unknown_stage() {
    let gw = start("", "", None);
    assert_eq!(gw.get("/dev/ok").status, 200);
    assert_missing_token(&gw.get("/dev/nope"));
    assert_missing_token(&gw.request("DELETE", "/dev/ok", &[], b""));
    let r = gw.get("/prod/ok");
    assert_error_bytes(&r, 403, "ForbiddenException", r#"{"message":"Forbidden"}"#);
}

/// TV-7: `/nested/{test}` requires a header, a path parameter the resource cannot capture
/// (`issuer`) and a query parameter; `/open/{test}` declares the same without a validator.
const VALIDATED: &str = r#"
/nested/{test}:
  GET:
    requestValidator: params
    requestParameters:
      method.request.path.test: true
      method.request.path.issuer: true
      method.request.querystring.qs1: true
      method.request.header.x-header-param: true
      method.request.querystring.optional: false
    methodResponses: [{statusCode: "200"}]
    integration: {type: MOCK, requestTemplates: {application/json: '{"statusCode": 200}'}, integrationResponses: [{statusCode: "200"}]}
/ordered/{p}:
  GET:
    requestValidator: params
    requestParameters:
      method.request.querystring.a-query: true
      method.request.path.issuer: true
      method.request.header.z-header: true
    methodResponses: [{statusCode: "200"}]
    integration: {type: MOCK, requestTemplates: {application/json: '{"statusCode": 200}'}, integrationResponses: [{statusCode: "200"}]}
/checked/{p}:
  GET:
    requestValidator: params
    requestParameters: {method.request.querystring.q1: true, method.request.header.h1: true, method.request.path.p: true}
    methodResponses: [{statusCode: "200"}]
    integration: {type: MOCK, requestTemplates: {application/json: '{"statusCode": 200}'}, integrationResponses: [{statusCode: "200"}]}
  POST:
    requestValidator: bodyOnly
    requestParameters: {method.request.querystring.q1: true}
    methodResponses: [{statusCode: "200"}]
    integration: {type: MOCK, requestTemplates: {application/json: '{"statusCode": 200}'}, integrationResponses: [{statusCode: "200"}]}
  PUT:
    requestParameters: {method.request.querystring.q1: true}
    methodResponses: [{statusCode: "200"}]
    integration: {type: MOCK, requestTemplates: {application/json: '{"statusCode": 200}'}, integrationResponses: [{statusCode: "200"}]}
"#;

const VALIDATORS: &str = r#"
requestValidators:
  params: {validateRequestParameters: true}
  bodyOnly: {validateRequestBody: true, validateRequestParameters: false}
"#;

#[test]
fn bad_request_parameters_lists_missing_names_in_key_order() {
    let gw = start(VALIDATORS, VALIDATED, None);
    let h = [("x-header-param", "test")];
    // TV-7 messages.
    assert_missing_params(&gw.get("/dev/nested/value"), "x-header-param, issuer, qs1");
    assert_missing_params(
        &gw.get("/dev/nested/value?qs1=test"),
        "x-header-param, issuer",
    );
    assert_missing_params(
        &gw.request("GET", "/dev/nested/value", &h, b""),
        "issuer, qs1",
    );
    // An empty value counts as missing (TV-8 `?q1=`).
    assert_missing_params(
        &gw.request("GET", "/dev/nested/value?qs1=", &h, b""),
        "issuer, qs1",
    );
    // header < path < querystring, whatever the names.
    assert_missing_params(&gw.get("/dev/ordered/x"), "z-header, issuer, a-query");

    let all = [("h1", "v")];
    assert_eq!(
        gw.request("GET", "/dev/checked/x?q1=a", &all, b"").status,
        200
    );
    assert_missing_params(&gw.request("GET", "/dev/checked/x?q1=", &all, b""), "q1");
    assert_missing_params(
        &gw.request("GET", "/dev/checked/x?q1=a", &[("h1", "")], b""),
        "h1",
    );
    assert_missing_params(&gw.get("/dev/checked/x?other=1"), "h1, q1");
    // A validator that does not validate parameters, and no validator: nothing is enforced.
    assert_eq!(gw.request("POST", "/dev/checked/x", &[], b"{}").status, 200);
    assert_eq!(gw.request("PUT", "/dev/checked/x", &[], b"{}").status, 200);
}

/// 10 MB, AWS's payload limit (§8.1).
const MAX_BODY: usize = 10 * 1024 * 1024;

/// `method path` announcing `Content-Length: len` without sending the body: the gateway must
/// answer from the headers alone, then close the connection (the unread body must not be
/// taken for the next request).
fn announce_body(gw: &Gateway, method: &str, path: &str, len: usize) -> Response {
    let mut conn = Conn::open(gw.addr);
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n",
        gw.addr
    );
    conn.write(head.as_bytes()).expect("write head");
    let r = conn
        .read_response(false)
        .expect("a response before the body");
    assert!(
        conn.is_closed_by_peer(Duration::from_secs(5)),
        "connection left open after {}",
        r.status
    );
    r
}

fn assert_too_large(r: &Response) {
    assert_error(r, 413, "RequestTooLargeException", "Request Too Long");
}

#[test]
fn request_too_large() {
    let backend = Backend::start();
    let gw = start(
        "",
        r#"
        /mock:
          POST: {methodResponses: [{statusCode: "200"}], integration: {type: MOCK, requestTemplates: {application/json: '{"statusCode": 200}'}, integrationResponses: [{statusCode: "200", responseTemplates: {application/json: '{"ok": true}'}}]}}
        /proxy:
          POST: {integration: {type: HTTP_PROXY, httpMethod: POST, uri: "{BACKEND}/upload"}}
        "#,
        Some(&backend),
    );
    assert_too_large(&announce_body(&gw, "POST", "/dev/mock", MAX_BODY + 1));
    assert_too_large(&announce_body(&gw, "POST", "/dev/proxy", MAX_BODY + 1));
    assert_eq!(
        backend.hits(),
        0,
        "a refused body never reaches the backend"
    );

    // Exactly 10 MB is accepted.
    let body = vec![b' '; MAX_BODY];
    let r = gw.request(
        "POST",
        "/dev/mock",
        &[("Content-Type", "application/json")],
        &body,
    );
    assert_eq!((r.status, r.body_str().as_str()), (200, r#"{"ok": true}"#));

    // Chunked: the limit is enforced while reading.
    let one_more = vec![b' '; MAX_BODY + 1];
    let head = format!(
        "POST /dev/mock HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        gw.addr
    );
    let mut bytes = head.into_bytes();
    bytes.extend(chunked(&[&one_more]));
    assert_too_large(&send_raw(gw.addr, &bytes));
}

#[test]
fn unsupported_media_type() {
    let gw = start(
        "",
        r#"
        /never:
          POST: {methodResponses: [{statusCode: "200"}], integration: {type: MOCK, passthroughBehavior: NEVER, requestTemplates: {application/json: '{"statusCode": 200}'}, integrationResponses: [{statusCode: "200"}]}}
        /never-no-templates:
          POST: {methodResponses: [{statusCode: "200"}], integration: {type: MOCK, passthroughBehavior: NEVER, integrationResponses: [{statusCode: "200"}]}}
        /when-no-templates:
          POST: {methodResponses: [{statusCode: "200"}], integration: {type: MOCK, passthroughBehavior: WHEN_NO_TEMPLATES, requestTemplates: {application/json: '{"statusCode": 200}'}, integrationResponses: [{statusCode: "200"}]}}
        /when-no-match:
          POST: {methodResponses: [{statusCode: "200"}], integration: {type: MOCK, requestTemplates: {application/json: '{"statusCode": 200}'}, integrationResponses: [{statusCode: "200"}]}}
        "#,
        None,
    );
    let post = |path: &str, ct: Option<&str>| {
        let headers: Vec<(&str, &str)> = ct.map(|c| ("Content-Type", c)).into_iter().collect();
        gw.request("POST", path, &headers, br#"{"statusCode": 200}"#)
    };
    let assert_415 =
        |r: &Response| assert_error(r, 415, "BadRequestException", "Unsupported Media Type");
    // §3.3 table.
    assert_415(&post("/dev/never", Some("text/plain")));
    assert_eq!(post("/dev/never", Some("application/json")).status, 200);
    assert_eq!(
        post("/dev/never", Some("Application/JSON; charset=UTF-8")).status,
        200
    );
    assert_eq!(
        post("/dev/never", None).status,
        200,
        "no Content-Type means application/json"
    );
    assert_415(&post("/dev/never-no-templates", Some("application/json")));
    assert_415(&post("/dev/when-no-templates", Some("application/xml")));
    assert_eq!(
        post("/dev/when-no-templates", Some("application/json")).status,
        200
    );
    // WHEN_NO_MATCH passes the body through; MOCK reads its statusCode.
    assert_eq!(post("/dev/when-no-match", Some("text/plain")).status, 200);
}

#[test]
fn api_configuration_error_is_the_36_byte_internal_server_error() {
    let gw = start(
        "",
        r#"
        /no-default:
          GET: {methodResponses: [{statusCode: "200"}], integration: {type: MOCK, requestTemplates: {application/json: '{"statusCode": 404}'}, integrationResponses: [{statusCode: "200", selectionPattern: '2\d{2}'}]}}
        /no-status:
          GET: {methodResponses: [{statusCode: "200"}], integration: {type: MOCK, requestTemplates: {application/json: '{"status": 200}'}, integrationResponses: [{statusCode: "200"}]}}
        "#,
        None,
    );
    let r = gw.get("/dev/no-default");
    assert_internal_error(&r);
    assert_eq!(r.header("Content-Length"), Some("36"));
    assert_internal_error(&gw.get("/dev/no-status"));
}

#[test]
fn illegal_header_mapping_is_a_500_before_the_backend() {
    // TV-17: mapping integration.request.header.Content-Length fails every request.
    let backend = Backend::start();
    let gw = start(
        "",
        r#"
        /content-length:
          GET: {integration: {type: HTTP_PROXY, httpMethod: GET, uri: "{BACKEND}/x", requestParameters: {integration.request.header.Content-Length: "'5'"}}}
        /transfer-encoding:
          GET: {integration: {type: HTTP_PROXY, httpMethod: GET, uri: "{BACKEND}/x", requestParameters: {integration.request.header.Transfer-Encoding: "'chunked'"}}}
        "#,
        Some(&backend),
    );
    for path in ["/dev/content-length", "/dev/transfer-encoding"] {
        let r = gw.get(path);
        assert_internal_error(&r);
        assert_eq!(r.header("Content-Length"), Some("36"));
        assert_eq!(
            r.header("X-Amzn-Trace-Id"),
            None,
            "gateway errors carry no trace id"
        );
    }
    assert_eq!(backend.hits(), 0);
}

#[test]
fn integration_timeout() {
    let backend = Backend::start();
    let gw = start(
        "",
        r#"
        /slow:
          GET: {integration: {type: HTTP_PROXY, httpMethod: GET, uri: "{BACKEND}/slow", timeoutInMillis: 500}}
        "#,
        Some(&backend),
    );
    let started = Instant::now();
    let r = gw.get("/dev/slow?sleep_ms=3000");
    let took = started.elapsed();
    assert_eq!(r.status, 504, "{}", r.body_str());
    assert_eq!(r.body_str(), r#"{"message": "Endpoint request timed out"}"#);
    assert!(r.header("x-amzn-ErrorType").is_some_and(|t| !t.is_empty()));
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_ids(&r);
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_millis(2500),
        "answered after {took:?}, expected ~500 ms"
    );
    assert_eq!(backend.hits(), 1);
}

#[test]
fn unreachable_backend_is_an_internal_server_error() {
    let dead = Backend::dead_addr();
    let gw = start(
        "",
        &format!(
            "/dead:\n  GET: {{integration: {{type: HTTP_PROXY, httpMethod: GET, uri: \"http://{dead}/x\"}}}}\n"
        ),
        None,
    );
    let r = gw.get("/dev/dead");
    assert!(
        (500..600).contains(&r.status),
        "{} {}",
        r.status,
        r.body_str()
    );
    // Connection refused: API_CONFIGURATION_ERROR (§3.5 HTTP).
    assert_internal_error(&r);
}

// ---------------------------------------------------------------------------------------------
// Customization (§7.2)
// ---------------------------------------------------------------------------------------------

/// A MOCK whose integration response never matches: API_CONFIGURATION_ERROR on every call.
const BROKEN: &str = r#"
/broken:
  GET: {methodResponses: [{statusCode: "200"}], integration: {type: MOCK, requestTemplates: {application/json: '{"statusCode": 404}'}, integrationResponses: [{statusCode: "200", selectionPattern: "200"}]}}
"#;

/// Resources producing MISSING_AUTHENTICATION_TOKEN (any miss), BAD_REQUEST_PARAMETERS
/// (`/checked/x` without parameters) and API_CONFIGURATION_ERROR (`/broken`).
fn start_customized(gateway_responses: &str) -> Gateway {
    start(
        &format!(
            "{}\ngatewayResponses:\n{}",
            dedent(VALIDATORS),
            indent(&dedent(gateway_responses), 2)
        ),
        &format!("{}{}", dedent(VALIDATED), dedent(BROKEN)),
        None,
    )
}

#[test]
fn default_4xx_parameters_apply_to_every_4xx_type() {
    let gw = start_customized(
        r#"DEFAULT_4XX: {responseParameters: {gatewayresponse.header.Access-Control-Allow-Origin: "'*'"}}"#,
    );
    let r = gw.get("/dev/nope");
    assert_missing_token(&r);
    assert_eq!(r.header("Access-Control-Allow-Origin"), Some("*"));
    let r = gw.get("/dev/checked/x");
    assert_missing_params(&r, "h1, q1");
    assert_eq!(r.header("Access-Control-Allow-Origin"), Some("*"));
    let r = gw.get("/dev/broken");
    assert_internal_error(&r);
    assert_eq!(
        r.header("Access-Control-Allow-Origin"),
        None,
        "a 5xx is not a DEFAULT_4XX"
    );
}

#[test]
fn a_specific_customization_wins_over_default_4xx() {
    let gw = start_customized(
        r#"
        DEFAULT_4XX: {responseParameters: {gatewayresponse.header.Access-Control-Allow-Origin: "'*'"}}
        MISSING_AUTHENTICATION_TOKEN: {responseParameters: {gatewayresponse.header.X-Which: "'specific'"}}
        "#,
    );
    let r = gw.get("/dev/nope");
    assert_missing_token(&r);
    assert_eq!(r.header("X-Which"), Some("specific"));
    assert_eq!(r.header("Access-Control-Allow-Origin"), None);
    let r = gw.get("/dev/checked/x");
    assert_missing_params(&r, "h1, q1");
    assert_eq!(r.header("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(r.header("X-Which"), None);
}

#[test]
fn default_4xx_and_5xx_status_and_template() {
    let gw = start_customized(
        r#"
        DEFAULT_4XX: {statusCode: 418}
        DEFAULT_5XX:
          statusCode: "503"
          responseTemplates:
            application/json: '{"error": $context.error.messageString, "type": "$context.error.responseType", "stage": "$context.stage"}'
        "#,
    );
    // The type keeps its message and x-amzn-ErrorType; the status is DEFAULT_4XX's.
    assert_error_bytes(
        &gw.get("/dev/nope"),
        418,
        "MissingAuthenticationTokenException",
        MISSING_TOKEN,
    );
    assert_error(
        &gw.get("/dev/checked/x?q1=a"),
        418,
        "BadRequestException",
        "Missing required request parameters: [h1]",
    );
    let r = gw.get("/dev/broken");
    assert_eq!(r.status, 503);
    assert_eq!(
        r.header("x-amzn-ErrorType"),
        Some("InternalServerErrorException")
    );
    assert_eq!(
        r.body_str(),
        r#"{"error": "Internal server error", "type": "API_CONFIGURATION_ERROR", "stage": "dev"}"#
    );
    assert_ids(&r);
}

#[test]
fn tv21_missing_authentication_token_customized_to_404() {
    let gw = start_customized(
        r#"
        MISSING_AUTHENTICATION_TOKEN:
          statusCode: 404
          responseParameters:
            gatewayresponse.header.Access-Control-Allow-Origin: "'a.b.c'"
            gatewayresponse.header.x-request-query: method.request.querystring.q
            gatewayresponse.header.x-request-header: method.request.header.Accept
          responseTemplates:
            application/json: '{"message": $context.error.messageString, "type": "$context.error.responseType", "stage": "$context.stage", "resourcePath": "$context.resourcePath", "stageVariables.a": "$stageVariables.a", "statusCode": "''404''"}'
        "#,
    );
    let r = gw.request(
        "GET",
        "/dev/nope?q=x",
        &[("Accept", "application/json")],
        b"",
    );
    assert_eq!(r.status, 404);
    assert_eq!(r.header("Access-Control-Allow-Origin"), Some("a.b.c"));
    assert_eq!(r.header("x-request-query"), Some("x"));
    assert_eq!(r.header("x-request-header"), Some("application/json"));
    assert_eq!(
        r.header("x-amzn-ErrorType"),
        Some("MissingAuthenticationTokenException")
    );
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(
        r.body_str(),
        r#"{"message": "Missing Authentication Token", "type": "MISSING_AUTHENTICATION_TOKEN", "stage": "dev", "resourcePath": "", "stageVariables.a": "1", "statusCode": "'404'"}"#
    );
    assert_ids(&r);
    // Other 4xx types are untouched.
    assert_missing_params(&gw.get("/dev/checked/x"), "h1, q1");
}

// ---------------------------------------------------------------------------------------------
// MOCK integration (§3.5, §5)
// ---------------------------------------------------------------------------------------------

#[test]
fn tv9_mock_reads_path_parameters_with_every_passthrough_behaviour() {
    let method = |passthrough: &str| {
        format!(
            "{{methodResponses: [{{statusCode: \"200\"}}], integration: {{type: MOCK, passthroughBehavior: {passthrough}, \
             requestTemplates: {{application/json: '{{\"statusCode\":200}}'}}, integrationResponses: [{{statusCode: \"200\", \
             responseTemplates: {{application/json: '{{\"statusCode\": 200, \"id\": $input.params().path.id}}'}}}}]}}}}"
        )
    };
    let gw = start(
        "",
        &format!(
            "/{{id}}:\n  GET: {}\n  POST: {}\n/t/{{id}}:\n  GET: {}\n",
            method("WHEN_NO_MATCH"),
            method("NEVER"),
            method("WHEN_NO_TEMPLATES")
        ),
        None,
    );
    let ct = [("Content-Type", "application/json")];
    for (m, path) in [
        ("GET", "/dev/42"),
        ("POST", "/dev/42"),
        ("GET", "/dev/t/42"),
    ] {
        let r = gw.request(m, path, &ct, b"");
        assert_eq!(r.status, 200, "{m} {path}: {}", r.body_str());
        assert_eq!(r.json(), json!({"statusCode": 200, "id": 42}), "{m} {path}");
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        assert_ids(&r);
    }
}

#[test]
fn mock_status_code_selects_the_integration_response() {
    let gw = start(
        "",
        r#"
        /status/{code}:
          GET:
            methodResponses: [{statusCode: "200"}, {statusCode: "400"}, {statusCode: "418"}, {statusCode: "503"}]
            integration:
              type: MOCK
              requestTemplates: {application/json: '{"statusCode": $input.params(''code'')}'}
              integrationResponses:
                - {statusCode: "418", selectionPattern: "4", responseTemplates: {application/json: '{"which": "teapot"}'}}
                - {statusCode: "400", selectionPattern: '4\d{2}', responseTemplates: {application/json: '{"which": "client", "code": "$input.params(''code'')"}'}}
                - {statusCode: "200", responseTemplates: {application/json: '{"which": "default"}'}}
                - {statusCode: "503", selectionPattern: '5\d{2}', responseTemplates: {application/json: '{"which": "server"}'}}
        "#,
        None,
    );
    let which = |code: &str| {
        let r = gw.get(&format!("/dev/status/{code}"));
        assert_ids(&r);
        (
            r.status,
            r.json()["which"].as_str().unwrap_or_default().to_string(),
        )
    };
    assert_eq!(which("200"), (200, "default".into()));
    assert_eq!(which("302"), (200, "default".into()));
    // `4` must match the whole selector, so "404" is not a teapot.
    assert_eq!(which("404"), (400, "client".into()));
    assert_eq!(which("500"), (503, "server".into()));
    assert_eq!(gw.get("/dev/status/404").json()["code"], "404");
}

#[test]
fn mock_response_parameters() {
    let gw = start(
        "",
        r#"
        /items/{id}:
          GET:
            requestParameters: {method.request.path.id: true, method.request.header.X-In: false, method.request.header.X-Not-Sent: false, method.request.querystring.q: false}
            methodResponses:
              - statusCode: "200"
                responseParameters:
                  method.response.header.X-Static: false
                  method.response.header.X-Echo: false
                  method.response.header.X-Query: false
                  method.response.header.X-Id: false
                  method.response.header.X-Stage-Var: false
                  method.response.header.X-Stage: false
                  method.response.header.X-Absent: false
            integration:
              type: MOCK
              requestTemplates: {application/json: '{"statusCode": 200}'}
              integrationResponses:
                - statusCode: "200"
                  responseParameters:
                    method.response.header.X-Static: "'static value'"
                    method.response.header.X-Echo: method.request.header.X-In
                    method.response.header.X-Query: method.request.querystring.q
                    method.response.header.X-Id: method.request.path.id
                    method.response.header.X-Stage-Var: stageVariables.a
                    method.response.header.X-Stage: context.stage
                    method.response.header.X-Absent: method.request.header.X-Not-Sent
        "#,
        None,
    );
    let r = gw.request(
        "GET",
        "/dev/items/7?q=search",
        &[("X-In", "from-client")],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.header("X-Static"), Some("static value"));
    assert_eq!(r.header("X-Echo"), Some("from-client"));
    assert_eq!(r.header("X-Query"), Some("search"));
    assert_eq!(r.header("X-Id"), Some("7"));
    assert_eq!(r.header("X-Stage-Var"), Some("1"));
    assert_eq!(r.header("X-Stage"), Some("dev"));
    assert_eq!(
        r.header("X-Absent"),
        None,
        "an absent source sends no header"
    );
    assert_ids(&r);
}

#[test]
fn mock_response_template_is_chosen_by_accept() {
    let gw = start(
        "",
        r#"
        /both:
          GET:
            methodResponses: [{statusCode: "200"}]
            integration:
              type: MOCK
              requestTemplates: {application/json: '{"statusCode": 200}'}
              integrationResponses:
                - statusCode: "200"
                  responseTemplates:
                    application/json: '{"format": "json"}'
                    application/xml: '<format>xml</format>'
        /xml-only:
          GET:
            methodResponses: [{statusCode: "200"}]
            integration:
              type: MOCK
              requestTemplates: {application/json: '{"statusCode": 200}'}
              integrationResponses:
                - {statusCode: "200", responseTemplates: {text/xml: '<only/>'}}
        "#,
        None,
    );
    let get = |path: &str, accept: Option<&str>| {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
        let r = gw.request("GET", path, &headers, b"");
        assert_eq!(r.status, 200, "{}", r.body_str());
        (
            r.header("Content-Type").unwrap_or_default().to_string(),
            r.body_str(),
        )
    };
    let json = (
        "application/json".to_string(),
        r#"{"format": "json"}"#.to_string(),
    );
    let xml = (
        "application/xml".to_string(),
        "<format>xml</format>".to_string(),
    );
    assert_eq!(get("/dev/both", None), json);
    assert_eq!(get("/dev/both", Some("application/json")), json);
    assert_eq!(get("/dev/both", Some("application/xml")), xml);
    // Only the first media type of Accept counts (§3.4); unknown types fall back to JSON.
    assert_eq!(
        get("/dev/both", Some("application/xml, application/json;q=0.9")),
        xml
    );
    assert_eq!(get("/dev/both", Some("text/html, application/xml")), json);
    assert_eq!(get("/dev/both", Some("*/*")), json);
    // No application/json template: the first one.
    let only = ("text/xml".to_string(), "<only/>".to_string());
    assert_eq!(get("/dev/xml-only", Some("application/json")), only);
    assert_eq!(get("/dev/xml-only", None), only);
}

#[test]
fn reserved_method_response_headers_are_remapped() {
    let gw = start(
        "",
        r#"
        /remap:
          GET:
            methodResponses:
              - statusCode: "200"
                responseParameters:
                  method.response.header.Server: false
                  method.response.header.Authorization: false
                  method.response.header.WWW-Authenticate: false
                  method.response.header.Content-Type: false
                  method.response.header.Cache-Control: false
            integration:
              type: MOCK
              requestTemplates: {application/json: '{"statusCode": 200}'}
              integrationResponses:
                - statusCode: "200"
                  responseTemplates: {application/json: '<p>hi</p>'}
                  responseParameters:
                    method.response.header.Server: "'mock-server'"
                    method.response.header.Authorization: "'response_param_Authorization'"
                    method.response.header.WWW-Authenticate: "'Basic'"
                    method.response.header.Content-Type: "'text/html'"
                    method.response.header.Cache-Control: "'no-store'"
        "#,
        None,
    );
    let r = gw.get("/dev/remap");
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.header("x-amzn-Remapped-Server"), Some("mock-server"));
    assert_eq!(
        r.header("x-amzn-Remapped-Authorization"),
        Some("response_param_Authorization")
    );
    assert_eq!(r.header("x-amzn-Remapped-WWW-Authenticate"), Some("Basic"));
    assert!(
        r.headers_all("Server").iter().all(|v| *v != "mock-server"),
        "{r:?}"
    );
    assert_eq!(r.header("Authorization"), None);
    assert_eq!(r.header("WWW-Authenticate"), None);
    // Content-Type and ordinary headers pass as they are (§5.5, §8.3).
    assert_eq!(r.headers_all("Content-Type"), vec!["text/html"]);
    assert_eq!(r.header("Cache-Control"), Some("no-store"));
    assert_eq!(r.body_str(), "<p>hi</p>");
    assert_ids(&r);
}

#[test]
fn customized_headers_read_method_request_path_parameters() {
    let gw = start_customized(
        r#"DEFAULT_4XX: {responseParameters: {gatewayresponse.header.X-Path: method.request.path.p, gatewayresponse.header.X-Query: method.request.querystring.q1}}"#,
    );
    let r = gw.get("/dev/checked/abc?q1=v");
    assert_missing_params(&r, "h1");
    assert_eq!(r.header("X-Query"), Some("v"));
    assert_eq!(r.header("X-Path"), Some("abc"));
}
