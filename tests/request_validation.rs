//! Request validation end to end (reference §2.2–2.3, TV-7, TV-8): request validators, JSON
//! Schema draft 4 models, parameters checked before the body, the body an HTTP_PROXY backend
//! receives after validation, and `tollgate check` on bad models.

mod common;
use common::*;

/// TV-8's API (the AWS "ReqValidators Sample") in front of an echo backend, plus TV-7's
/// resource and a validated HTTP_PROXY route.
const API: &str = r#"
    restApis:
      - id: validators
        models:
          RequestBodyModel:
            type: object
            properties:
              id: {type: integer}
              type: {type: string, enum: [dog, cat, fish]}
              name: {type: string}
              price: {type: number, minimum: 25, maximum: 500}
            required: [type, name, price]
          testSchema: {type: object, properties: {a: {type: number}, b: {type: number}}, required: [a, b]}
          Wrapper:
            type: object
            required: [pet]
            properties:
              pet: {$ref: "https://apigateway.amazonaws.com/restapis/validators/models/RequestBodyModel"}
        requestValidators:
          all: {validateRequestBody: true, validateRequestParameters: true}
          params-only: {validateRequestBody: false, validateRequestParameters: true}
          body-only: {validateRequestBody: true, validateRequestParameters: false}
        resources:
          /validation:
            GET:
              requestValidator: params-only
              requestParameters: {method.request.querystring.q1: true}
              integration:
                type: MOCK
                requestTemplates: {application/json: '{"statusCode": 200}'}
                integrationResponses: [{statusCode: "200", responseTemplates: {application/json: '[{"id":1,"type":"dog"}]'}}]
            POST:
              requestValidator: all
              requestParameters: {method.request.header.h1: true}
              requestModels: {application/json: RequestBodyModel}
              integration:
                type: MOCK
                requestTemplates: {application/json: '{"statusCode": 200}'}
                integrationResponses: [{statusCode: "200"}]
          /nested/{test}:
            GET:
              requestValidator: all
              requestParameters:
                method.request.path.test: true
                method.request.querystring.qs1: true
                method.request.header.x-header-param: true
              requestModels: {application/json: testSchema}
              integration:
                type: MOCK
                requestTemplates: {application/json: '{"statusCode": 200}'}
                integrationResponses: [{statusCode: "200"}]
            POST:
              requestValidator: all
              requestParameters:
                method.request.path.issuer: true
                method.request.querystring.qs1: true
                method.request.header.x-header-param: true
              requestModels: {application/json: testSchema}
              integration:
                type: MOCK
                requestTemplates: {application/json: '{"statusCode": 200}'}
                integrationResponses: [{statusCode: "200"}]
          /proxied:
            POST:
              requestValidator: body-only
              requestModels: {$default: Wrapper}
              integration: {type: HTTP_PROXY, httpMethod: POST, uri: "{B}/proxied"}
          /open:
            POST:
              integration: {type: HTTP_PROXY, httpMethod: POST, uri: "{B}/open"}
        stages: [{stageName: testStage}]
"#;

fn fixture() -> (Gateway, Backend) {
    let backend = Backend::start();
    let gw = Gateway::start(&API.replace("{B}", &backend.url()));
    (gw, backend)
}

fn assert_400(r: &Response, body: &str) {
    assert_eq!(r.status, 400, "{}", r.body_str());
    assert_eq!(r.body_str(), body);
    assert_eq!(r.header("x-amzn-ErrorType"), Some("BadRequestException"));
}

#[test]
fn aws_request_validator_sample() {
    let (gw, _b) = fixture();
    // TV-8, as recorded on AWS.
    let r = gw.get("/testStage/validation?q1=cat");
    assert_eq!(r.status, 200, "{}", r.body_str());
    let missing_q1 = r#"{"message":"Missing required request parameters: [q1]"}"#;
    assert_400(&gw.get("/testStage/validation"), missing_q1);
    assert_400(&gw.get("/testStage/validation?q1="), missing_q1);
    let json = [("Content-Type", "application/json")];
    let good = br#"{"name":"Molly","type":"dog","price":249.99}"#;
    assert_400(
        &gw.request("POST", "/testStage/validation", &json, good),
        r#"{"message":"Missing required request parameters: [h1]"}"#,
    );
    let with_h1 = [("Content-Type", "application/json"), ("h1", "v")];
    let r = gw.request("POST", "/testStage/validation", &with_h1, good);
    assert_eq!(r.status, 200, "{}", r.body_str());
    let invalid = r#"{"message":"Invalid request body"}"#;
    for body in [
        &br#"{"name":"Molly","type":"bird","price":269}"#[..],
        br#"{"name":"Molly","type":"dog","price":501}"#,
        br#"{"name":"Molly","type":"dog"}"#,
        b"not json at all",
        b"",
    ] {
        assert_400(
            &gw.request("POST", "/testStage/validation", &with_h1, body),
            invalid,
        );
    }
}

#[test]
fn parameters_are_checked_before_the_body_and_listed_in_key_order() {
    let (gw, _b) = fixture();
    let hdr = [("x-header-param", "test")];
    // TV-7.
    let r = gw.request(
        "POST",
        "/testStage/nested/value?qs1=test",
        &[
            ("x-header-param", "test"),
            ("Content-Type", "application/json"),
        ],
        br#"{"a":1,"b":2}"#,
    );
    assert_400(
        &r,
        r#"{"message":"Missing required request parameters: [issuer]"}"#,
    );
    // Missing parameters and an invalid body: the parameters error wins.
    assert_400(
        &gw.request(
            "POST",
            "/testStage/nested/value",
            &[],
            br#"{"test":"test"}"#,
        ),
        r#"{"message":"Missing required request parameters: [x-header-param, issuer, qs1]"}"#,
    );
    assert_400(
        &gw.get("/testStage/nested/value?qs1=test"),
        r#"{"message":"Missing required request parameters: [x-header-param]"}"#,
    );
    assert_400(
        &gw.request("GET", "/testStage/nested/value", &hdr, b""),
        r#"{"message":"Missing required request parameters: [qs1]"}"#,
    );
    // A GET without a body is validated as {} against a schema with `required`.
    assert_400(
        &gw.request("GET", "/testStage/nested/value?qs1=test", &hdr, b""),
        r#"{"message":"Invalid request body"}"#,
    );
    let r = gw.request(
        "GET",
        "/testStage/nested/value?qs1=test",
        &hdr,
        br#"{"a":1,"b":2}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
}

#[test]
fn http_proxy_backend_gets_the_validated_body() {
    let (gw, backend) = fixture();
    let body = br#"{"pet":{"name":"Rex","type":"dog","price":30}}"#;
    let r = gw.request(
        "POST",
        "/testStage/proxied",
        &[("Content-Type", "text/plain")],
        body,
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    let seen = backend.last_request().expect("backend called");
    assert_eq!(seen.body, body.to_vec());
    assert_eq!(seen.header("content-length"), Some("46"));
    // A chunked upload is validated whole and forwarded with its length.
    let raw = [
        format!(
            "POST /testStage/proxied HTTP/1.1\r\nHost: {}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            gw.addr
        )
        .into_bytes(),
        chunked(&[&body[..10], &body[10..]]),
    ]
    .concat();
    let r = send_raw(gw.addr, &raw);
    assert_eq!(r.status, 200, "{}", r.body_str());
    let seen = backend.last_request().expect("backend called");
    assert_eq!(seen.body, body.to_vec());
    // The nested model is reached through its $ref: a bad price fails, nothing is forwarded.
    let hits = backend.hits();
    let r = gw.request(
        "POST",
        "/testStage/proxied",
        &[],
        br#"{"pet":{"name":"Rex","type":"dog","price":3}}"#,
    );
    assert_400(&r, r#"{"message":"Invalid request body"}"#);
    assert_eq!(backend.hits(), hits);
    // Without a validator the body streams as before.
    let r = gw.request("POST", "/testStage/open", &[], b"anything");
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(backend.last_request().expect("called").body, b"anything");
}

/// A client that waits for `100 Continue` gets it before a validated body is read, and one
/// answer after it.
#[test]
fn validated_bodies_behind_expect_continue() {
    let (gw, backend) = fixture();
    let body = br#"{"pet":{"name":"Rex","type":"dog","price":30}}"#;
    let mut conn = Conn::open(gw.addr);
    let head = format!(
        "POST /testStage/proxied HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        gw.addr,
        body.len()
    );
    conn.write(head.as_bytes()).unwrap();
    assert_eq!(
        read_interim(&conn, std::time::Duration::from_millis(1500)).as_deref(),
        Some("HTTP/1.1 100 Continue\r\n\r\n"),
        "no 100 Continue before the body"
    );
    conn.write(body).unwrap();
    let answer = read_interim(&conn, std::time::Duration::from_secs(5)).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert_eq!(
        backend.last_request().expect("backend called").body,
        body.to_vec()
    );
}

#[test]
fn check_locates_bad_models() {
    let yaml = "restApis:\n  - id: a\n    models:\n      Good: {type: object}\n      Bad: {type: 12}\n    resources:\n      /x:\n        GET:\n          integration: {type: MOCK}\n    stages: [{stageName: s}]\n";
    let (code, stdout, _) = check(yaml);
    assert_eq!(code, 1, "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert!(
        lines[0].contains("tollgate.yaml:5:7: invalid model schema:"),
        "{stdout}"
    );
}
