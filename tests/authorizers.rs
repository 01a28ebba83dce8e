//! Lambda authorizers (TOKEN and REQUEST) end to end: a Python authorizer run by AWS's
//! `awslambdaric` as a local function (tests/functions/authorizer.py), which logs every event
//! it receives so that the tests count invocations and read the events.

mod common;
use common::*;

use serde_json::{json, Value};
use std::path::Path;

const FUNCTIONS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/functions");

fn lambda_uri(name: &str) -> String {
    format!(
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:{name}/invocations"
    )
}

/// A MOCK method answering with what `$context.authorizer` holds.
const MOCK: &str = r#"
              integration:
                type: MOCK
                requestTemplates: {application/json: '{"statusCode": 200}'}
                integrationResponses:
                  - statusCode: "200"
                    responseTemplates:
                      application/json: '{"principalId":"$context.authorizer.principalId","str":"$context.authorizer.str","num":"$context.authorizer.num","bool":"$context.authorizer.bool"}'
"#;

fn api() -> String {
    r#"
    functions:
      auth: {command: ["python3", "-m", "awslambdaric", "authorizer.handler"], workingDirectory: "{FUNCS}", timeout: 3, environment: {AUTH_LOG: "{DIR}/auth.log"}}
      echo: {command: ["python3", "-m", "awslambdaric", "echo.handler"], workingDirectory: "{FUNCS}", timeout: 3}
    restApis:
      - id: authapi
        authorizers:
          - {name: tok, type: TOKEN, authorizerUri: "{URI_auth}", identitySource: method.request.header.Authorization, identityValidationExpression: "[a-z-]+"}
          - {name: tok0, type: TOKEN, authorizerUri: "{URI_auth}", identitySource: method.request.header.Authorization, authorizerResultTtlInSeconds: 0}
          - {name: req, type: REQUEST, authorizerUri: "{URI_auth}", identitySource: "method.request.header.HeaderAuth1, method.request.querystring.q"}
        resources:
          /a:
            GET:
              authorizationType: CUSTOM
              authorizer: tok
              methodResponses: [{statusCode: "200"}]
{MOCK}
            POST:
              authorizationType: CUSTOM
              authorizer: tok
              methodResponses: [{statusCode: "200"}]
{MOCK}
          /open:
            GET:
              methodResponses: [{statusCode: "200"}]
{MOCK}
          /nocache:
            GET:
              authorizationType: CUSTOM
              authorizer: tok0
              methodResponses: [{statusCode: "200"}]
{MOCK}
          /req/{id}:
            GET:
              authorizationType: CUSTOM
              authorizer: req
              methodResponses: [{statusCode: "200"}]
{MOCK}
          /proxy:
            GET:
              authorizationType: CUSTOM
              authorizer: tok
              integration: {type: AWS_PROXY, httpMethod: POST, uri: "{URI_echo}"}
        stages:
          - stageName: prod
            variables: {v: "1"}
    "#
    .replace("{MOCK}", MOCK.trim_start_matches('\n').trim_end())
    .replace("{FUNCS}", FUNCTIONS_DIR)
    .replace("{URI_auth}", &lambda_uri("auth"))
    .replace("{URI_echo}", &lambda_uri("echo"))
}

/// The events the authorizer received so far.
fn events(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("auth.log"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("event line"))
        .collect()
}

fn with_token(gw: &Gateway, method: &str, path: &str, token: &str) -> Response {
    gw.request(method, path, &[("Authorization", token)], b"")
}

fn assert_refused(r: &Response, status: u16, body: &str, error_type: &str) {
    assert_eq!(r.status, status, "{}", r.body_str());
    assert_eq!(r.body_str(), body);
    assert_eq!(r.header("x-amzn-errortype"), Some(error_type));
}

fn flush(gw: &Gateway) -> u16 {
    request(
        gw.admin,
        "DELETE",
        "/restapis/authapi/stages/prod/cache/authorizers",
        &[],
        b"",
    )
    .status
}

const UNAUTHORIZED: &str = r#"{"message":"Unauthorized"}"#;

#[test]
fn token_authorizer_outcomes_and_result_cache() {
    let gw = Gateway::start(&api());
    let dir = gw.dir().to_path_buf();

    // Missing or invalid identity: 401 without invoking the function.
    assert_refused(
        &gw.get("/prod/a"),
        401,
        UNAUTHORIZED,
        "UnauthorizedException",
    );
    let r = with_token(&gw, "GET", "/prod/a", "");
    assert_refused(&r, 401, UNAUTHORIZED, "UnauthorizedException");
    let r = with_token(&gw, "GET", "/prod/a", "Bearer allow");
    assert_refused(&r, 401, UNAUTHORIZED, "UnauthorizedException");
    assert_eq!(events(&dir).len(), 0, "identityValidationExpression failed");

    // Allow: the context reaches $context.authorizer; the event is the TOKEN event.
    let r = with_token(&gw, "GET", "/prod/a", "allow");
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(
        r.json(),
        json!({"principalId": "my-username", "str": "hello", "num": "123", "bool": "true"})
    );
    let seen = events(&dir);
    assert_eq!(
        seen,
        [json!({"type": "TOKEN", "authorizationToken": "allow",
            "methodArn": "arn:aws:execute-api:us-east-1:123456789012:authapi/prod/GET/a"})]
    );

    // Cached by token: no second invocation. The cached policy names GET /a only, so POST
    // /a is refused until the entry expires (evaluated per method ARN).
    assert_eq!(with_token(&gw, "GET", "/prod/a", "allow").status, 200);
    let r = with_token(&gw, "POST", "/prod/a", "allow");
    assert_refused(
        &r,
        403,
        r#"{"Message":"User is not authorized to access this resource"}"#,
        "AccessDeniedException",
    );
    assert_eq!(events(&dir).len(), 1, "served from the result cache");

    // Flushing the stage's authorizer cache makes the next request invoke again.
    assert_eq!(flush(&gw), 202);
    assert_eq!(with_token(&gw, "GET", "/prod/a", "allow").status, 200);
    assert_eq!(events(&dir).len(), 2);
    assert_eq!(
        request(
            gw.admin,
            "DELETE",
            "/restapis/authapi/stages/nope/cache/authorizers",
            &[],
            b""
        )
        .status,
        404
    );

    // Deny on the method ARN.
    let r = with_token(&gw, "GET", "/prod/a", "deny");
    assert_refused(
        &r,
        403,
        r#"{"Message":"User is not authorized to access this resource with an explicit deny"}"#,
        "AccessDeniedException",
    );

    // The function says Unauthorized: 401, and the answer is cached like any other.
    let before = events(&dir).len();
    for _ in 0..2 {
        let r = with_token(&gw, "GET", "/prod/a", "unauthorized");
        assert_refused(&r, 401, UNAUTHORIZED, "UnauthorizedException");
    }
    assert_eq!(events(&dir).len(), before + 1);

    // Other function errors and malformed outputs: 500 with a null message, not cached.
    for token in ["error", "bad-context", "http", "no-principal"] {
        let before = events(&dir).len();
        for _ in 0..2 {
            let r = with_token(&gw, "GET", "/prod/a", token);
            assert_refused(
                &r,
                500,
                r#"{"message":null}"#,
                "AuthorizerConfigurationException",
            );
        }
        assert_eq!(events(&dir).len(), before + 2, "{token}: not cached");
    }

    // authorizerResultTtlInSeconds: 0 turns the cache off.
    let before = events(&dir).len();
    for _ in 0..3 {
        assert_eq!(with_token(&gw, "GET", "/prod/nocache", "allow").status, 200);
    }
    assert_eq!(events(&dir).len(), before + 3);

    // A method without an authorizer is not affected.
    assert_eq!(gw.get("/prod/open").status, 200);
}

#[test]
fn request_authorizer_identity_sources_event_and_cache() {
    let gw = Gateway::start(&api());
    let dir = gw.dir().to_path_buf();
    let get = |path: &str, header: Option<&str>| match header {
        Some(h) => gw.request("GET", path, &[("HeaderAuth1", h)], b""),
        None => gw.get(path),
    };
    // Any identity source missing or empty: 401, not invoked.
    assert_refused(
        &get("/prod/req/42", Some("allow")),
        401,
        UNAUTHORIZED,
        "UnauthorizedException",
    );
    assert_refused(
        &get("/prod/req/42?q=1", None),
        401,
        UNAUTHORIZED,
        "UnauthorizedException",
    );
    assert_refused(
        &get("/prod/req/42?q=", Some("allow")),
        401,
        UNAUTHORIZED,
        "UnauthorizedException",
    );
    assert_eq!(events(&dir).len(), 0);

    let r = get("/prod/req/42?q=1", Some("allow"));
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.json()["principalId"], "my-username");
    let seen = events(&dir);
    assert_eq!(seen.len(), 1);
    let e = &seen[0];
    assert_eq!(e["type"], "REQUEST");
    assert_eq!(
        e["methodArn"],
        "arn:aws:execute-api:us-east-1:123456789012:authapi/prod/GET/req/42"
    );
    assert_eq!(e["resource"], "/req/{id}");
    assert_eq!(e["path"], "/req/42");
    assert_eq!(e["httpMethod"], "GET");
    assert_eq!(e["headers"]["HeaderAuth1"], "allow");
    assert_eq!(e["multiValueHeaders"]["HeaderAuth1"], json!(["allow"]));
    assert_eq!(e["queryStringParameters"], json!({"q": "1"}));
    assert_eq!(e["multiValueQueryStringParameters"], json!({"q": ["1"]}));
    assert_eq!(e["pathParameters"], json!({"id": "42"}));
    assert_eq!(e["stageVariables"], json!({"v": "1"}));
    assert_eq!(e["requestContext"]["stage"], "prod");
    assert_eq!(e["requestContext"]["resourcePath"], "/req/{id}");
    assert_eq!(e["requestContext"]["apiId"], "authapi");
    assert_eq!(e["requestContext"]["identity"]["sourceIp"], "127.0.0.1");
    assert!(e.get("body").is_none(), "{e}");

    // Keyed by every identity source: same values hit, another value misses.
    assert_eq!(get("/prod/req/42?q=1", Some("allow")).status, 200);
    assert_eq!(events(&dir).len(), 1);
    assert_eq!(get("/prod/req/42?q=2", Some("allow")).status, 200);
    assert_eq!(events(&dir).len(), 2);
    // The cached policy names /req/42 only.
    assert_eq!(get("/prod/req/43?q=2", Some("allow")).status, 403);
    assert_eq!(events(&dir).len(), 2);
}

#[test]
fn lambda_proxy_event_carries_the_authorizer_context() {
    let gw = Gateway::start(&api());
    let r = with_token(&gw, "GET", "/prod/proxy", "allow-all");
    assert_eq!(r.status, 200, "{}", r.body_str());
    let raw = &r.json()["raw"];
    assert_eq!(
        raw["requestContext"]["authorizer"],
        json!({"principalId": "my-username", "bool": "true", "num": "123", "str": "hello"})
    );
    // allow-all covers the other methods from the cache as well.
    assert_eq!(with_token(&gw, "GET", "/prod/a", "allow-all").status, 200);
    assert_eq!(events(gw.dir()).len(), 1);
}

#[test]
fn check_reports_authorizer_problems_at_their_line() {
    let yaml = r#"
server: {listen: ["127.0.0.1:0"]}
restApis:
  - id: a
    authorizers:
      - {name: one, type: TOKEN, authorizerUri: "arn:aws:lambda:us-east-1:1:function:f", identitySource: "method.request.header.A, method.request.header.B"}
      - name: two
        type: REQUEST
        authorizerUri: "arn:aws:lambda:us-east-1:1:function:f"
        identitySource: method.request.path.id
      - name: three
        type: TOKEN
        authorizerUri: "arn:aws:lambda:us-east-1:1:function:f"
        identityValidationExpression: "(unclosed"
      - {name: four, type: REQUEST, authorizerUri: "arn:aws:lambda:us-east-1:1:function:f"}
      - {name: five, type: COGNITO_USER_POOLS, providerARNs: ["arn:aws:cognito-idp:us-east-1:1:userpool/p"], jwks: "{DIR}/missing.json"}
    resources:
      /: {GET: {integration: {type: MOCK}}}
    stages: [{stageName: s}]
"#;
    let (code, stdout, _) = check(yaml);
    assert_eq!(code, 1, "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    let at = |line: usize, text: &str| {
        assert!(
            lines
                .iter()
                .any(|l| l.contains(&format!("tollgate.yaml:{line}:")) && l.contains(text)),
            "no problem on line {line} mentioning {text:?} in:\n{stdout}"
        );
    };
    at(6, "one method.request.header.NAME");
    at(10, "path parameters cannot be identity sources");
    at(14, "PatternSyntaxException");
    at(15, "needs an identitySource");
    at(16, "missing.json");
}

#[test]
fn lambda_authorizer_with_a_resource_policy() {
    let policy = r#"
        policy:
          Version: "2012-10-17"
          Statement:
            - {Effect: Allow, Principal: "*", Action: "execute-api:Invoke", Resource: "execute-api:/prod/POST/a"}
            - {Effect: Deny, Principal: "*", Action: "execute-api:Invoke", Resource: "execute-api:/prod/GET/nocache"}
        authorizers:"#;
    let gw = Gateway::start(&api().replacen("\n        authorizers:", policy, 1));
    let dir = gw.dir().to_path_buf();
    // The resource policy's explicit Deny refuses before the authorizer runs.
    let r = with_token(&gw, "GET", "/prod/nocache", "allow");
    assert_refused(
        &r,
        403,
        r#"{"Message":"User: anonymous is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:********:authapi/prod/GET/nocache with an explicit deny"}"#,
        "AccessDeniedException",
    );
    assert_eq!(events(&dir).len(), 0);
    // Table A: the authorizer allows GET /a only (cached); the resource policy allows POST /a.
    assert_eq!(with_token(&gw, "GET", "/prod/a", "allow").status, 200);
    let r = with_token(&gw, "POST", "/prod/a", "allow");
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.json()["principalId"], "my-username");
    assert_eq!(events(&dir).len(), 1);
    // The authorizer's explicit Deny wins over the resource policy's Allow.
    let r = with_token(&gw, "POST", "/prod/a", "deny");
    assert_refused(
        &r,
        403,
        r#"{"Message":"User is not authorized to access this resource with an explicit deny"}"#,
        "AccessDeniedException",
    );
}
