//! API keys, usage plans, throttling and quotas end to end (aws-security-cache-ws.md §5–6,
//! vectors E4–E8): keys from `x-api-key`, 403/429 bodies and error types, a token bucket's
//! burst then steady rate, a quota under concurrent load, counts kept across reloads and
//! crashes, stage and account throttles, and the admin usage report.

mod common;
use common::*;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const PARTNER: &str = "partner-key-0123456789abcdef";
const OTHER: &str = "other-key-0123456789abcdefgh";
const DISABLED: &str = "disabled-key-0123456789abcde";

/// `{PLAN_THROTTLE}` and `{QUOTA}` are filled in by each test.
const API: &str = r#"
    apiKeys:
      - {name: partner, value: "partner-key-0123456789abcdef"}
      - {name: other, value: "other-key-0123456789abcdefgh"}
      - {name: disabled, value: "disabled-key-0123456789abcde", enabled: false}
    usagePlans:
      - name: basic
        apiKeys: [partner, disabled]
        apiStages: [{apiId: shop, stage: prod}]
        throttle: {PLAN_THROTTLE}
        quota: {QUOTA}
      - name: testers
        apiKeys: [other]
        apiStages: [{apiId: shop, stage: test}]
    restApis:
      - id: shop
        resources:
          /keyed:
            GET:
              apiKeyRequired: true
              integration:
                type: MOCK
                requestTemplates: {application/json: '{"statusCode": 200}'}
                integrationResponses:
                  - statusCode: "200"
                    responseTemplates: {application/json: '{"apiKey":"$context.identity.apiKey","apiKeyId":"$context.identity.apiKeyId"}'}
          /open:
            GET:
              integration:
                type: MOCK
                requestTemplates: {application/json: '{"statusCode": 200}'}
                integrationResponses: [{statusCode: "200"}]
        stages:
          - stageName: prod
          - stageName: test
            methodSettings:
              "open/GET": {throttlingBurstLimit: 3, throttlingRateLimit: 0.01}
"#;

fn api(throttle: &str, quota: &str) -> String {
    API.replace("{PLAN_THROTTLE}", throttle)
        .replace("{QUOTA}", quota)
}

fn keyed(gw: &Gateway, stage: &str, key: Option<&str>) -> Response {
    let headers: Vec<(&str, &str)> = key.map(|k| ("x-api-key", k)).into_iter().collect();
    gw.request("GET", &format!("/{stage}/keyed"), &headers, b"")
}

fn assert_error(r: &Response, status: u16, body: &str, error_type: &str) {
    assert_eq!(r.status, status, "{}", r.body_str());
    assert_eq!(r.body_str(), body);
    assert_eq!(r.header("x-amzn-ErrorType"), Some(error_type));
}

#[test]
fn api_keys_exist_are_enabled_and_belong_to_a_plan_for_the_stage() {
    let gw = Gateway::start(&api(
        "{rateLimit: 1000, burstLimit: 1000}",
        "{limit: 1000, period: DAY}",
    ));
    let forbidden =
        |r: &Response| assert_error(r, 403, r#"{"message":"Forbidden"}"#, "ForbiddenException");
    forbidden(&keyed(&gw, "prod", None));
    forbidden(&keyed(&gw, "prod", Some("no-such-key-0123456789abcdef")));
    forbidden(&keyed(&gw, "prod", Some(DISABLED)));
    // A valid key, but its plan covers another stage.
    forbidden(&keyed(&gw, "prod", Some(OTHER)));
    let r = keyed(&gw, "prod", Some(PARTNER));
    assert_eq!(r.status, 200, "{}", r.body_str());
    let body = r.json();
    assert_eq!(body["apiKey"], PARTNER);
    let id = body["apiKeyId"].as_str().unwrap_or("").to_string();
    assert_eq!(id.len(), 10, "{body}");
    // The header name is case-insensitive.
    let r = gw.request("GET", "/prod/keyed", &[("X-API-Key", PARTNER)], b"");
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(keyed(&gw, "test", Some(OTHER)).status, 200);
    // Methods without apiKeyRequired ignore keys entirely.
    assert_eq!(
        gw.request("GET", "/prod/open", &[("x-api-key", "junk")], b"")
            .status,
        200
    );
    // Refused keys are not throttling.
    assert_eq!(
        gw.metric(
            "tollgate_throttled_total",
            &[("api", "shop"), ("stage", "prod"), ("reason", "quota")]
        ),
        0.0
    );
}

#[test]
fn key_token_bucket_burst_then_steady_rate() {
    const RATE: f64 = 40.0;
    // A burst worth 2.5 s of refill: a stalled machine loses no tokens to a full bucket.
    const BURST: usize = 100;
    let gw = Gateway::start(&api(
        &format!("{{rateLimit: {RATE}, burstLimit: {BURST}}}"),
        "{limit: 100000, period: DAY}",
    ));
    // A burst at once: exactly `BURST` pass.
    let accepted = Arc::new(AtomicUsize::new(0));
    let throttled = Arc::new(AtomicUsize::new(0));
    let first = Instant::now();
    let run_for = Duration::from_secs(3);
    thread::scope(|s| {
        for _ in 0..4 {
            let (gw, accepted, throttled) = (&gw, accepted.clone(), throttled.clone());
            s.spawn(move || {
                let mut conn = Conn::open(gw.addr);
                while first.elapsed() < run_for {
                    let r = conn.request("GET", "/prod/keyed", &[("x-api-key", PARTNER)], b"");
                    match r.status {
                        200 => accepted.fetch_add(1, Ordering::Relaxed),
                        429 => {
                            assert_eq!(r.body_str(), r#"{"message":"Too Many Requests"}"#);
                            assert_eq!(
                                r.header("x-amzn-ErrorType"),
                                Some("TooManyRequestsException")
                            );
                            throttled.fetch_add(1, Ordering::Relaxed)
                        }
                        other => panic!("unexpected {other}: {}", r.body_str()),
                    };
                }
            });
        }
    });
    let elapsed = first.elapsed().as_secs_f64();
    let got = accepted.load(Ordering::Relaxed) as f64;
    let expected = BURST as f64 + RATE * elapsed;
    assert!(
        (got - expected).abs() <= expected * 0.05,
        "accepted {got} (throttled {}) in {elapsed:.2}s, expected {expected:.1} ± 5%",
        throttled.load(Ordering::Relaxed)
    );
    assert!(throttled.load(Ordering::Relaxed) > 0);
    let counted = gw.metric(
        "tollgate_throttled_total",
        &[("api", "shop"), ("stage", "prod"), ("reason", "usage_plan")],
    );
    assert_eq!(counted, throttled.load(Ordering::Relaxed) as f64);
}

#[test]
fn quota_accepts_exactly_n_under_concurrent_load_and_reports_usage() {
    const N: usize = 57;
    let gw = Gateway::start(&api(
        "{rateLimit: 100000, burstLimit: 100000}",
        &format!("{{limit: {N}, period: MONTH}}"),
    ));
    let accepted = AtomicUsize::new(0);
    let refused = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..6 {
            s.spawn(|| {
                let mut conn = Conn::open(gw.addr);
                for _ in 0..20 {
                    let r = conn.request("GET", "/prod/keyed", &[("x-api-key", PARTNER)], b"");
                    match r.status {
                        200 => {
                            accepted.fetch_add(1, Ordering::Relaxed);
                        }
                        429 => {
                            assert_eq!(r.body_str(), r#"{"message":"Limit Exceeded"}"#);
                            assert_eq!(
                                r.header("x-amzn-ErrorType"),
                                Some("LimitExceededException")
                            );
                            refused.fetch_add(1, Ordering::Relaxed);
                        }
                        other => panic!("unexpected {other}: {}", r.body_str()),
                    }
                }
            });
        }
    });
    assert_eq!(accepted.load(Ordering::Relaxed), N);
    assert_eq!(refused.load(Ordering::Relaxed), 120 - N);
    assert_eq!(
        gw.metric(
            "tollgate_throttled_total",
            &[("api", "shop"), ("stage", "prod"), ("reason", "quota")]
        ),
        (120 - N) as f64
    );
    // GetUsage: [used, remaining] for the current period, by key id.
    let id = {
        let r = request(gw.admin, "GET", "/usageplans/testers/usage", &[], b"");
        assert_eq!(r.status, 200, "{}", r.body_str());
        assert_eq!(r.json()["usagePlanId"], "testers");
        let r = request(gw.admin, "GET", "/usageplans/basic/usage", &[], b"");
        assert_eq!(r.status, 200, "{}", r.body_str());
        let report = r.json();
        assert!(report["startDate"]
            .as_str()
            .is_some_and(|d| d.len() == 10 && d.ends_with("-01")));
        let items = report["items"].as_object().cloned().unwrap_or_default();
        assert_eq!(items.len(), 2, "{report}"); // partner and the disabled key
        let (id, used) = items
            .iter()
            .find(|(_, v)| v[0][0] != 0)
            .map(|(k, v)| (k.clone(), v.clone()))
            .unwrap_or_default();
        assert_eq!(used, serde_json::json!([[N, 0]]));
        id
    };
    let r = keyed(&gw, "test", Some(OTHER));
    assert_eq!(r.status, 200);
    assert_ne!(r.json()["apiKeyId"], id.as_str());
    let r = request(gw.admin, "GET", "/usageplans/nope/usage", &[], b"");
    assert_eq!(r.status, 404);
}

#[test]
fn quota_counts_survive_reload_restart_and_crash() {
    let state = TempDir::new("tollgate-state");
    let body = api(
        "{rateLimit: 1000, burstLimit: 1000}",
        "{limit: 5, offset: 1, period: DAY}",
    );
    let full = format!(
        "server:\n  listen: [\"{{LISTEN}}\"]\n  admin: \"{{ADMIN}}\"\n  threads: 1\n  gracePeriodSeconds: 1\n  stateDir: \"{}\"\n{}",
        state.path().display(),
        dedent(&body)
    );
    let gw = Gateway::start_raw(&full);
    // The offset takes one request off the first day's limit.
    for _ in 0..3 {
        assert_eq!(keyed(&gw, "prod", Some(PARTNER)).status, 200);
    }
    // A reload keeps the count.
    assert!(gw.reload(&full));
    assert_eq!(keyed(&gw, "prod", Some(PARTNER)).status, 200);
    assert_eq!(keyed(&gw, "prod", Some(PARTNER)).status, 429);
    // Counts reach the state directory within a second; a crash loses nothing older.
    thread::sleep(Duration::from_millis(1500));
    gw.signal("KILL");
    drop(gw);
    let gw = Gateway::start_raw(&full);
    assert_error(
        &keyed(&gw, "prod", Some(PARTNER)),
        429,
        r#"{"message":"Limit Exceeded"}"#,
        "LimitExceededException",
    );
    // A clean stop writes the counts too; another plan's key is unaffected.
    assert_eq!(keyed(&gw, "test", Some(OTHER)).status, 200);
    gw.signal("TERM");
    let mut gw = gw;
    assert!(gw.wait_exit(Duration::from_secs(10)).is_some());
    drop(gw);
    let saved = std::fs::read_to_string(state.path().join("usage.json")).unwrap_or_default();
    assert!(saved.contains(r#""plan":"testers""#), "{saved}");
    let gw = Gateway::start_raw(&full);
    assert_eq!(keyed(&gw, "prod", Some(PARTNER)).status, 429);
}

#[test]
fn stage_method_and_account_throttles() {
    let gw = Gateway::start(&api(
        "{rateLimit: 1000, burstLimit: 1000}",
        "{limit: 1000, period: DAY}",
    ));
    // methodSettings on the test stage: burst 3 for GET /open, almost no refill.
    let statuses: Vec<u16> = (0..5).map(|_| gw.get("/test/open").status).collect();
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    let r = gw.get("/test/open");
    assert_error(
        &r,
        429,
        r#"{"message":"Too Many Requests"}"#,
        "TooManyRequestsException",
    );
    // Other stages and methods are not limited by it.
    assert!((0..10).all(|_| gw.get("/prod/open").status == 200));
    assert_eq!(
        gw.metric(
            "tollgate_throttled_total",
            &[("api", "shop"), ("stage", "test"), ("reason", "method")]
        ),
        3.0
    );

    // server.throttle is the account limit, over every API and stage.
    let full = format!(
        "server:\n  listen: [\"{{LISTEN}}\"]\n  admin: \"{{ADMIN}}\"\n  threads: 1\n  throttle: {{rateLimit: 0.01, burstLimit: 4}}\n{}",
        dedent(&api(
            "{rateLimit: 1000, burstLimit: 1000}",
            "{limit: 1000, period: DAY}"
        ))
    );
    let gw = Gateway::start_raw(&full);
    let statuses: Vec<u16> = [
        "/prod/open",
        "/test/open",
        "/prod/open",
        "/prod/open",
        "/prod/open",
    ]
    .iter()
    .map(|p| gw.get(p).status)
    .collect();
    assert_eq!(statuses, [200, 200, 200, 200, 429]);
    assert_eq!(
        gw.metric(
            "tollgate_throttled_total",
            &[("api", "shop"), ("stage", "prod"), ("reason", "account")]
        ),
        1.0
    );
}

#[test]
fn check_reports_plan_mistakes_at_their_lines() {
    let yaml = "apiKeys: [{name: k, value: \"k-key-0123456789abcdefgh\"}]\nusagePlans:\n  - name: p\n    apiKeys: [k]\n    apiStages:\n      - apiId: a\n        stage: s\n        throttle: {\"/nope/GET\": {rateLimit: 1}}\nrestApis:\n  - id: a\n    resources:\n      /x:\n        GET:\n          integration: {type: MOCK}\n    stages: [{stageName: s}]\n";
    let (code, stdout, _) = check(yaml);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("tollgate.yaml:8:20: no method `/nope/GET` in REST API `a`"),
        "{stdout}"
    );
}

#[test]
fn the_usage_plans_example_works_as_its_comments_say() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/conf/usage-plans.yaml"
    ))
    .expect("conf/usage-plans.yaml");
    let text = text
        .replace("127.0.0.1:8080", "{LISTEN}")
        .replace("127.0.0.1:9080", "{ADMIN}")
        .replace("/tmp/tollgate-usage-demo", "{DIR}/state");
    let gw = Gateway::start_raw(&text);
    let get = |key: Option<&str>| {
        let headers: Vec<(&str, &str)> = key.map(|k| ("x-api-key", k)).into_iter().collect();
        gw.request("GET", "/prod/orders", &headers, b"")
    };
    assert_eq!(get(None).status, 403);
    assert_eq!(get(Some("former-customer-key-012345")).status, 403);
    assert_eq!(get(Some("gold-customer-key-0123456789")).status, 200);
    let free: Vec<u16> = (0..7)
        .map(|_| get(Some("free-customer-key-0123456789")).status)
        .collect();
    assert_eq!(&free[..5], &[200; 5]);
    assert_eq!(free[6], 429);
    let post = |body: &[u8]| {
        gw.request(
            "POST",
            "/prod/orders",
            &[
                ("x-api-key", "gold-customer-key-0123456789"),
                ("Content-Type", "application/json"),
            ],
            body,
        )
    };
    assert_eq!(post(br#"{"item":"tea","quantity":2}"#).status, 200);
    assert_error(
        &post(br#"{"item":"tea"}"#),
        400,
        r#"{"message":"Invalid request body"}"#,
        "BadRequestException",
    );
    let r = request(gw.admin, "GET", "/usageplans/free/usage", &[], b"");
    assert_eq!(r.status, 200);
    let items = r.json()["items"].clone();
    assert!(
        items
            .as_object()
            .is_some_and(|m| m.values().any(|v| v[0][0].as_u64() >= Some(5))),
        "{items}"
    );
}

#[test]
fn api_key_from_a_lambda_authorizer() {
    // tests/functions/authorizer.py allows the token `allow` with usageIdentifierKey
    // `usage-key-from-authorizer`.
    let yaml = r#"
    functions:
      auth: {command: ["python3", "-m", "awslambdaric", "authorizer.handler"], workingDirectory: "{FUNCS}", timeout: 3, environment: {AUTH_LOG: "{DIR}/auth.log"}}
    apiKeys: [{name: from-authorizer, value: "usage-key-from-authorizer"}]
    usagePlans:
      - {name: authorized, apiKeys: [from-authorizer], apiStages: [{apiId: authkeys, stage: prod}], quota: {limit: 2, period: WEEK}}
    restApis:
      - id: authkeys
        apiKeySource: AUTHORIZER
        authorizers:
          - {name: tok, type: TOKEN, authorizerUri: "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:auth/invocations", identitySource: method.request.header.Authorization}
        resources:
          /keyed:
            GET:
              authorizationType: CUSTOM
              authorizer: tok
              apiKeyRequired: true
              integration:
                type: MOCK
                requestTemplates: {application/json: '{"statusCode": 200}'}
                integrationResponses:
                  - statusCode: "200"
                    responseTemplates: {application/json: '{"apiKey":"$context.identity.apiKey"}'}
        stages: [{stageName: prod}]
    "#
    .replace(
        "{FUNCS}",
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/functions"),
    );
    let gw = Gateway::start(&yaml);
    let call = |token: &str| {
        gw.request(
            "GET",
            "/prod/keyed",
            &[("Authorization", token), ("x-api-key", PARTNER)],
            b"",
        )
    };
    let r = call("allow");
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.json()["apiKey"], "usage-key-from-authorizer");
    assert_eq!(call("allow").status, 200);
    // The authorizer's key, not the header's, carries the quota.
    assert_error(
        &call("allow"),
        429,
        r#"{"message":"Limit Exceeded"}"#,
        "LimitExceededException",
    );
}
