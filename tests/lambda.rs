//! Lambda integrations end to end, with functions nobody here wrote the runtime of: a Rust
//! function built on the `lambda_runtime` crate (examples/lambda_echo.rs, which deserializes
//! the event into `aws_lambda_events`' `ApiGatewayProxyRequest`) and a Python function run
//! by `awslambdaric` (tests/functions/echo.py), both served Tollgate's Runtime API as local
//! `command` functions; and the Invoke API client against an Invoke server of our own.

mod common;
use common::*;

use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// `target/debug/examples/lambda_echo`, built by `cargo test` with the other examples.
fn rust_echo() -> PathBuf {
    let bin = tollgate_bin();
    let path = bin
        .parent()
        .expect("target dir")
        .join("examples")
        .join("lambda_echo");
    assert!(
        path.exists(),
        "{} is missing: cargo test builds it (cargo build --example lambda_echo)",
        path.display()
    );
    path
}

const FUNCTIONS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/functions");

fn lambda_uri(name: &str) -> String {
    format!(
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:{name}/invocations"
    )
}

fn api() -> String {
    r#"
    functions:
      rust: {command: ["{RUST}"], concurrency: 2, timeout: 2}
      python: {command: ["python3", "-m", "awslambdaric", "echo.handler"], workingDirectory: "{FUNCS}", timeout: 10}
      slow: {command: ["{RUST}"], concurrency: 1, timeout: 1}
    restApis:
      - id: lambdaapi
        binaryMediaTypes: ["application/octet-stream", "image/png"]
        resources:
          /rust/{proxy+}:
            ANY:
              integration: {type: AWS_PROXY, httpMethod: POST, uri: "{URI_rust}"}
          /hardcoded:
            GET:
              integration: {type: AWS_PROXY, httpMethod: POST, uri: "{URI_rust}"}
          /python/{proxy+}:
            ANY:
              integration: {type: AWS_PROXY, httpMethod: POST, uri: "{URI_python}"}
          /slow:
            GET:
              integration: {type: AWS_PROXY, httpMethod: POST, uri: "{URI_slow}"}
          /short:
            GET:
              integration: {type: AWS_PROXY, httpMethod: POST, uri: "{URI_rust}", timeoutInMillis: 300}
          /getmethod:
            GET:
              integration: {type: AWS_PROXY, httpMethod: GET, uri: "{URI_rust}"}
          /custom:
            POST:
              methodResponses: [{statusCode: "200"}, {statusCode: "400"}]
              integration:
                type: AWS
                httpMethod: POST
                uri: "{URI_python}"
                requestTemplates:
                  application/json: |
                    #set($fail = $input.path('$.fail'))
                    {"httpMethod": "GET", "path": "/custom", "queryStringParameters": {#if($fail != "")"error": "$util.escapeJavaScript($fail)", #end"status": "201"}}
                integrationResponses:
                  - statusCode: "400"
                    selectionPattern: ".*bad input.*"
                    responseTemplates:
                      application/json: '{"refused": "$input.path(''$.errorMessage'')"}'
                  - statusCode: "200"
                    responseTemplates:
                      application/json: '{"fromFunction": $input.json(''$.statusCode'')}'
        stages:
          - stageName: test
            variables: {tier: gold}
    "#
    .replace("{RUST}", &rust_echo().display().to_string())
    .replace("{FUNCS}", FUNCTIONS_DIR)
    .replace("{URI_rust}", &lambda_uri("rust"))
    .replace("{URI_python}", &lambda_uri("python"))
    .replace("{URI_slow}", &lambda_uri("slow"))
}

fn echo(r: &Response) -> Value {
    assert_eq!(r.status, 200, "{}", r.body_str());
    r.json()
}

#[test]
fn proxy_event_for_a_get_request() {
    let gw = Gateway::start(&api());
    for prefix in ["rust", "python"] {
        let r = gw.request(
            "GET",
            &format!("/test/{prefix}/a/b%20c?x=1&y=2&x=3"),
            &[
                ("X-Custom", "one"),
                ("x-custom", "two"),
                ("User-Agent", "tests/1"),
            ],
            b"",
        );
        let e = echo(&r);
        let raw = &e["raw"];
        assert_eq!(raw["httpMethod"], "GET", "{prefix}");
        assert_eq!(raw["resource"], format!("/{prefix}/{{proxy+}}"));
        assert_eq!(raw["path"], format!("/{prefix}/a/b%20c"));
        assert_eq!(raw["pathParameters"], json!({"proxy": "a/b%20c"}));
        assert_eq!(raw["queryStringParameters"], json!({"x": "3", "y": "2"}));
        assert_eq!(
            raw["multiValueQueryStringParameters"],
            json!({"x": ["1", "3"], "y": ["2"]})
        );
        assert_eq!(raw["stageVariables"], json!({"tier": "gold"}));
        assert_eq!(raw["body"], Value::Null);
        assert_eq!(raw["isBase64Encoded"], false);
        let custom: Vec<&Value> = raw["multiValueHeaders"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("x-custom"))
            .map(|(_, v)| v)
            .collect();
        assert_eq!(custom, [&json!(["one", "two"])], "{prefix}");
        let rc = &raw["requestContext"];
        assert_eq!(rc["stage"], "test");
        assert_eq!(rc["path"], format!("/test/{prefix}/a/b%20c"));
        assert_eq!(rc["resourcePath"], format!("/{prefix}/{{proxy+}}"));
        assert_eq!(rc["apiId"], "lambdaapi");
        assert_eq!(rc["accountId"], "123456789012");
        assert_eq!(rc["protocol"], "HTTP/1.1");
        assert_eq!(rc["identity"]["sourceIp"], "127.0.0.1");
        assert_eq!(rc["identity"]["userAgent"], "tests/1");
        assert_eq!(rc["identity"]["user"], Value::Null);
        assert!(rc["requestTimeEpoch"].is_u64());
        assert!(rc.get("authorizer").is_none(), "no authorizer ran");
        assert_eq!(
            rc["requestId"].as_str(),
            r.header("x-amzn-requestid"),
            "the event's requestId is the response's"
        );
        assert!(
            r.header("x-echo").is_some(),
            "the function's headers pass through"
        );
    }
    // A resource without parameters, and no query string: nulls, not empty objects.
    let raw = echo(&gw.get("/test/hardcoded"))["raw"].clone();
    assert_eq!(raw["pathParameters"], Value::Null);
    assert_eq!(raw["queryStringParameters"], Value::Null);
    assert_eq!(raw["multiValueQueryStringParameters"], Value::Null);
}

#[test]
fn proxy_event_for_post_and_binary_bodies() {
    let gw = Gateway::start(&api());
    for prefix in ["rust", "python"] {
        let e = echo(&gw.request(
            "POST",
            &format!("/test/{prefix}/items"),
            &[("Content-Type", "application/json")],
            br#"{"pet":"dog"}"#,
        ));
        assert_eq!(e["raw"]["body"], r#"{"pet":"dog"}"#);
        assert_eq!(e["raw"]["isBase64Encoded"], false);
        let e = echo(&gw.request(
            "PUT",
            &format!("/test/{prefix}/blob"),
            &[("Content-Type", "application/octet-stream")],
            &[0u8, 1, 0xfe, 0xff],
        ));
        assert_eq!(e["raw"]["body"], "AAH+/w==", "{prefix}");
        assert_eq!(e["raw"]["isBase64Encoded"], true);
    }
}

#[test]
fn proxy_response_forms() {
    let gw = Gateway::start(&api());
    for prefix in ["rust", "python"] {
        let r = gw.get(&format!(
            "/test/{prefix}/x?status=201&content_type=text/plain"
        ));
        assert_eq!(r.status, 201, "{prefix}: {}", r.body_str());
        assert_eq!(r.header("content-type"), Some("text/plain"));
        assert!(r.header("x-amzn-requestid").is_some());
        let r = gw.get(&format!("/test/{prefix}/x?multi=1"));
        assert_eq!(r.headers_all("x-echo-multi"), ["a", "b"], "{prefix}");
        assert_eq!(
            r.headers_all("set-cookie"),
            ["one=1; Path=/", "two=2; Path=/"]
        );
        assert_eq!(r.header("content-type"), Some("application/json"));
        // isBase64Encoded: decoded only for a binary Accept.
        let r = gw.request(
            "GET",
            &format!("/test/{prefix}/x?base64=1"),
            &[("Accept", "image/png")],
            b"",
        );
        assert!(r.body_str().starts_with('{'), "{prefix}: decoded JSON");
        let r = gw.get(&format!("/test/{prefix}/x?base64=1"));
        assert!(!r.body_str().starts_with('{'), "{prefix}: still base64");
    }
    let r = gw.get("/test/python/x?malformed=1");
    assert_eq!(r.status, 502);
    assert_eq!(r.json()["message"], "Internal server error");
    // The gateway's own headers win; the function's are renamed (§8.3).
    let r = gw.get("/test/python/x?gateway_headers=1");
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(
        r.header("x-amzn-Remapped-date"),
        Some("Thu, 01 Jan 1970 00:00:00 GMT")
    );
    assert_eq!(r.header("x-amzn-Remapped-server"), Some("echo"));
    assert_eq!(r.header("x-amzn-Remapped-connection"), Some("close"));
    assert_eq!(
        r.header("x-amzn-Remapped-x-amzn-RequestId"),
        Some("from-function")
    );
    for own in ["x-amzn-RequestId", "x-amz-apigw-id", "Date"] {
        assert_eq!(r.headers_all(own).len(), 1, "{own}: {:?}", r.headers);
        assert_ne!(r.header(own), Some("from-function"), "{own}");
    }
    assert_ne!(r.header("Date"), Some("Thu, 01 Jan 1970 00:00:00 GMT"));
    assert_eq!(r.header("Server"), None);
}

#[test]
fn function_errors_crashes_and_timeouts() {
    let gw = Gateway::start(&api());
    for prefix in ["rust", "python"] {
        let r = gw.get(&format!("/test/{prefix}/x?error=boom"));
        assert_eq!(r.status, 502, "{prefix}: {}", r.body_str());
        assert_eq!(r.json()["message"], "Internal server error");
        let r = gw.get(&format!("/test/{prefix}/x?panic=1"));
        assert_eq!(r.status, 502, "{prefix}");
        // The function still serves after a crash (the worker is restarted).
        assert_eq!(gw.get(&format!("/test/{prefix}/x")).status, 200, "{prefix}");
    }
    // The function's own timeout (1 s) passes first: Lambda reports a function error → 502,
    // and the worker is replaced.
    let started = Instant::now();
    let r = gw.get("/test/slow?sleep_ms=3000");
    assert_eq!(r.status, 502, "{}", r.body_str());
    assert!(started.elapsed() < Duration::from_millis(2800));
    assert_eq!(gw.get("/test/slow").status, 200);
    // The integration timeout passes first: 504.
    let r = gw.get("/test/short?sleep_ms=1000");
    assert_eq!(r.status, 504);
    assert_eq!(r.json()["message"], "Endpoint request timed out");
    // AWS_PROXY with an httpMethod other than POST: 500.
    let r = gw.get("/test/getmethod");
    assert_eq!(r.status, 500);
}

#[test]
fn concurrency_and_queueing() {
    let gw = Gateway::start(&api());
    // `rust` has two workers: two 700 ms calls run side by side, a third queues.
    let started = Instant::now();
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let addr = gw.addr;
            std::thread::spawn(move || {
                request(addr, "GET", "/test/rust/x?sleep_ms=700", &[], b"").status
            })
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let took = started.elapsed();
    assert_eq!(statuses, [200, 200, 200]);
    assert!(
        took >= Duration::from_millis(1400),
        "the third call queued: {took:?}"
    );
    assert!(
        took < Duration::from_millis(2100),
        "two ran in parallel: {took:?}"
    );
}

#[test]
fn custom_lambda_integration_selects_on_error_message() {
    let gw = Gateway::start(&api());
    let r = gw.request(
        "POST",
        "/test/custom",
        &[("Content-Type", "application/json")],
        br#"{"fail": "bad input: no name"}"#,
    );
    assert_eq!(r.status, 400, "{}", r.body_str());
    assert_eq!(r.json(), json!({"refused": "bad input: no name"}));
    let r = gw.request(
        "POST",
        "/test/custom",
        &[("Content-Type", "application/json")],
        br#"{}"#,
    );
    // Success: the selector is empty, so the default response (200) applies, whatever the
    // function's own statusCode.
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.json(), json!({"fromFunction": 201}));
}

/// An Invoke API server of our own: `/remote/fail` is a function error, `/remote/throttle`
/// Lambda's 429, anything else a proxy result echoing the path.
fn invoke_api() -> Backend {
    Backend::with_handler(|req| {
        let event: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        match event["path"].as_str().unwrap_or_default() {
            "/remote/fail" => Reply::json(200, r#"{"errorMessage":"boom","errorType":"E"}"#)
                .header("X-Amz-Function-Error", "Unhandled"),
            "/remote/throttle" => Reply::json(429, r#"{"message":"Rate Exceeded."}"#),
            path => Reply::json(
                200,
                json!({"statusCode": 200, "body": path, "headers": {"x-from": "remote"}})
                    .to_string(),
            ),
        }
    })
}

/// An API whose `/remote/{proxy+}` calls function `remote` at `invoke_api`.
fn remote_api(invoke_api: &Backend, gateway_responses: &str) -> String {
    r#"
    functions:
      remote: {endpoint: "{B}"}
    restApis:
      - id: remoteapi
        gatewayResponses: {GR}
        resources:
          /remote/{proxy+}:
            ANY:
              integration: {type: AWS_PROXY, httpMethod: POST, uri: "{URI}"}
        stages: [{stageName: test}]
    "#
    .replace("{B}", &invoke_api.url())
    .replace("{URI}", &lambda_uri("remote"))
    .replace("{GR}", gateway_responses)
}

#[test]
fn functions_behind_an_invoke_api_endpoint() {
    let invoke_api = invoke_api();
    let gw = Gateway::start(&remote_api(&invoke_api, "{}"));
    let r = gw.get("/test/remote/ok");
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.body_str(), "/remote/ok");
    assert_eq!(r.header("x-from"), Some("remote"));
    let sent = invoke_api.last_request().expect("an Invoke call");
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path(), "/2015-03-31/functions/remote/invocations");
    assert_eq!(gw.get("/test/remote/fail").status, 502);
    // Lambda's 429 reaches API Gateway's client as 500 `Internal server error`.
    let r = gw.get("/test/remote/throttle");
    assert_eq!(r.status, 500, "{}", r.body_str());
    assert_eq!(r.json(), json!({"message": "Internal server error"}));
    assert_eq!(
        r.header("x-amzn-ErrorType"),
        Some("InternalServerErrorException")
    );
}

#[test]
fn a_customized_integration_failure_status_applies_to_function_errors() {
    let invoke_api = invoke_api();
    let responses = r#"{INTEGRATION_FAILURE: {statusCode: "503", responseTemplates: {application/json: '{"failed": "$context.error.responseType"}'}}}"#;
    let gw = Gateway::start(&remote_api(&invoke_api, responses));
    for path in ["/test/remote/fail", "/test/remote/throttle"] {
        let r = gw.get(path);
        assert_eq!(r.status, 503, "{path}: {}", r.body_str());
        assert_eq!(r.json(), json!({"failed": "INTEGRATION_FAILURE"}), "{path}");
    }
}

#[test]
fn asynchronous_invocations_and_trace_ids() {
    let invoke_api = invoke_api();
    let yaml = r#"
    functions:
      remote: {endpoint: "{B}"}
      python: {command: ["python3", "-m", "awslambdaric", "echo.handler"], workingDirectory: "{FUNCS}", timeout: 5}
    restApis:
      - id: asyncapi
        resources:
          /remote-event:
            POST:
              integration:
                type: AWS
                httpMethod: POST
                uri: "{URI_remote}"
                requestParameters: {integration.request.header.X-Amz-Invocation-Type: "'Event'"}
                requestTemplates: {application/json: '{"path": "/remote/event"}'}
                integrationResponses: [{statusCode: "200", responseTemplates: {application/json: '{"queued": true}'}}]
          /local-event:
            POST:
              integration:
                type: AWS
                httpMethod: POST
                uri: "{URI_python}"
                requestParameters: {integration.request.header.X-Amz-Invocation-Type: "'Event'"}
                requestTemplates: {application/json: '{"queryStringParameters": {"sleep_ms": "3000"}}'}
                integrationResponses: [{statusCode: "200", responseTemplates: {application/json: '{"queued": true}'}}]
          /proxy:
            GET:
              integration: {type: AWS_PROXY, httpMethod: POST, uri: "{URI_remote}"}
        stages: [{stageName: test}]
    "#
    .replace("{B}", &invoke_api.url())
    .replace("{FUNCS}", FUNCTIONS_DIR)
    .replace("{URI_remote}", &lambda_uri("remote"))
    .replace("{URI_python}", &lambda_uri("python"));
    let gw = Gateway::start(&yaml);
    let post =
        |path: &str| gw.request("POST", path, &[("Content-Type", "application/json")], b"{}");
    let r = post("/test/remote-event");
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.json(), json!({"queued": true}));
    let sent = invoke_api.last_request().expect("an Invoke call");
    assert_eq!(sent.header("x-amz-invocation-type"), Some("Event"));
    let trace = sent
        .header("x-amzn-trace-id")
        .expect("a trace id")
        .to_string();
    assert_eq!(r.header("x-amzn-trace-id"), Some(trace.as_str()));
    // A local function runs it in the background: the caller does not wait for it.
    let started = Instant::now();
    let r = post("/test/local-event");
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // The client's trace id is propagated to the function and returned.
    let r = gw.request(
        "GET",
        "/test/proxy",
        &[(
            "X-Amzn-Trace-Id",
            "Root=1-5759e988-bd862e3fe1be46a994272793",
        )],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(
        r.header("x-amzn-trace-id"),
        Some("Root=1-5759e988-bd862e3fe1be46a994272793")
    );
    let sent = invoke_api.last_request().expect("an Invoke call");
    assert_eq!(
        sent.header("x-amzn-trace-id"),
        Some("Root=1-5759e988-bd862e3fe1be46a994272793")
    );
    assert_eq!(
        sent.header("x-amz-invocation-type"),
        Some("RequestResponse")
    );
}

/// Whether a process exists and has not exited (a zombie counts as gone).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
    })
}

fn gone_within(pid: u32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn reloads_keep_warm_workers_and_shutdown_stops_them() {
    let config = api();
    let gw = Gateway::start(&config);
    // `slow` has one worker: every invocation reports the same process.
    let worker = || {
        gw.get("/test/slow").json()["worker"]
            .as_u64()
            .expect("worker") as u32
    };
    let warm = worker();
    assert!(alive(warm));
    // A reload that leaves the function alone keeps its warm worker.
    assert!(gw.reload(&config.replace("{tier: gold}", "{tier: silver}")));
    assert_eq!(worker(), warm);
    // Changing the function's settings replaces its worker; the old one is stopped.
    let changed = config.replace("concurrency: 1, timeout: 1}", "concurrency: 1, timeout: 2}");
    assert_ne!(changed, config);
    assert!(gw.reload(&changed));
    let replaced = worker();
    assert_ne!(replaced, warm);
    assert!(
        gone_within(warm, Duration::from_secs(10)),
        "the replaced worker {warm} still runs"
    );
    // Shutdown stops every worker.
    let rust = gw.get("/test/rust/x").json()["worker"]
        .as_u64()
        .expect("worker") as u32;
    gw.signal("TERM");
    for pid in [replaced, rust] {
        assert!(
            gone_within(pid, Duration::from_secs(20)),
            "worker {pid} outlived shutdown"
        );
    }
}

#[test]
fn a_full_queue_is_lambda_throttling() {
    let gw = Gateway::start(&api());
    assert_eq!(gw.get("/test/slow").status, 200, "warm");
    // `slow` has one worker and room for ten waiting invocations. While it runs one long
    // invocation, ten of eleven more wait their turn and one is throttled, which API Gateway
    // reports as a 500.
    let addr = gw.addr;
    let long =
        std::thread::spawn(move || request(addr, "GET", "/test/slow?sleep_ms=800", &[], b""));
    std::thread::sleep(Duration::from_millis(200));
    let handles: Vec<_> = (0..11)
        .map(|_| std::thread::spawn(move || request(addr, "GET", "/test/slow", &[], b"")))
        .collect();
    let responses: Vec<Response> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(long.join().unwrap().status, 200);
    let refused: Vec<&Response> = responses.iter().filter(|r| r.status != 200).collect();
    assert_eq!(
        refused.len(),
        1,
        "{:?}",
        responses.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(refused[0].status, 500);
    assert_eq!(
        refused[0].json(),
        json!({"message": "Internal server error"})
    );
    assert_eq!(
        refused[0].header("x-amzn-ErrorType"),
        Some("InternalServerErrorException")
    );
}

const VERIFY_SIGV4: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/aws/verify_sigv4.py");

/// A function not in `functions:` is invoked on AWS Lambda, here the Invoke server that
/// `awsEndpoints.lambda` names, signed with the environment's credentials; botocore, given the
/// recorded request, computes the same `Authorization`.
#[test]
fn aws_lambda_invocations_are_signed_as_botocore_signs_them() {
    use base64::Engine;
    let backend = invoke_api();
    let config = remote_api(&backend, "{}")
        .replace("      remote: {endpoint: \"", "      other: {endpoint: \"")
        .replace(
            "    functions:",
            &format!(
                "    awsEndpoints: {{lambda: \"{}\"}}\n    functions:",
                backend.url()
            ),
        );
    let (key, secret, token) = (
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "session-token",
    );
    let gw = Gateway::start_with_env(
        &config,
        &[
            ("AWS_ACCESS_KEY_ID", key),
            ("AWS_SECRET_ACCESS_KEY", secret),
            ("AWS_SESSION_TOKEN", token),
        ],
    );
    let r = gw.get("/test/remote/signed");
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.body_str(), "/remote/signed");
    let seen = backend
        .last_request()
        .expect("the invoke server was called");
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path(), "/2015-03-31/functions/remote/invocations");
    let header = |name: &str| {
        seen.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("X-Amz-Security-Token"), Some(token));
    let recorded = json!({
        "method": seen.method,
        "url": format!("{}{}", backend.url(), seen.target),
        "headers": seen.headers,
        "body_b64": base64::engine::general_purpose::STANDARD.encode(&seen.body),
    });
    let mut child = std::process::Command::new("python3")
        .args([VERIFY_SIGV4, "lambda", "us-east-1", key, secret, token])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 (botocore: scripts/deps.sh installs it)");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(recorded.to_string().as_bytes())
        .expect("write the request");
    let out = child.wait_with_output().expect("verify_sigv4.py");
    assert!(out.status.success(), "verify_sigv4.py failed");
    let verdict: Value = serde_json::from_slice(&out.stdout).expect("JSON verdict");
    assert!(
        verdict["got"]
            .as_str()
            .is_some_and(|a| a.contains("/us-east-1/lambda/aws4_request")),
        "{verdict}"
    );
    assert_eq!(verdict["expected"], verdict["got"]);
}
