//! Stage response caching end to end (reference §7): a real `tollgate` in front of a backend
//! that counts its calls.

mod common;
use common::*;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const API: &str = r#"
    restApis:
      - id: cached
        requestValidators: {params: {validateRequestParameters: true}}
        resources:
          /items:
            GET:
              requestParameters: {method.request.querystring.type: false}
              integration:
                type: HTTP_PROXY
                httpMethod: GET
                uri: "{B}/items"
                cacheKeyParameters: [method.request.querystring.type]
            POST:
              integration: {type: HTTP_PROXY, httpMethod: POST, uri: "{B}/items"}
          /short:
            GET:
              integration: {type: HTTP_PROXY, httpMethod: GET, uri: "{B}/short"}
          /slow:
            GET:
              integration: {type: HTTP_PROXY, httpMethod: GET, uri: "{B}/slow"}
          /big:
            GET:
              requestParameters: {method.request.querystring.size: false, method.request.querystring.chunked: false}
              integration:
                type: HTTP_PROXY
                httpMethod: GET
                uri: "{B}/big"
                cacheKeyParameters: [method.request.querystring.size, method.request.querystring.chunked]
          /mock:
            GET:
              integration:
                type: MOCK
                requestTemplates: {application/json: '{"statusCode": 200}'}
                integrationResponses:
                  - statusCode: "200"
                    responseTemplates: {application/json: '{"requestId": "$context.requestId"}'}
          /fail:
            GET:
              integration: {type: HTTP_PROXY, httpMethod: GET, uri: "{B}/fail"}
          /header:
            GET:
              integration: {type: HTTP_PROXY, httpMethod: GET, uri: "{B}/header"}
          /silent:
            GET:
              integration: {type: HTTP_PROXY, httpMethod: GET, uri: "{B}/silent"}
          /open:
            GET:
              integration: {type: HTTP_PROXY, httpMethod: GET, uri: "{B}/open"}
          /validated:
            GET:
              requestValidator: params
              requestParameters: {method.request.querystring.q: true}
              integration: {type: HTTP_PROXY, httpMethod: GET, uri: "{B}/validated"}
          /secret:
            GET:
              integration: {type: HTTP_PROXY, httpMethod: GET, uri: "{B}/secret"}
          /posted:
            POST:
              integration: {type: HTTP_PROXY, httpMethod: POST, uri: "{B}/posted"}
          /any:
            ANY:
              integration: {type: HTTP_PROXY, httpMethod: ANY, uri: "{B}/any"}
          /noise:
            GET:
              integration: {type: HTTP_PROXY, httpMethod: GET, uri: "{B}/noise"}
          /latin:
            GET:
              integration: {type: HTTP_PROXY, httpMethod: GET, uri: "{B}/latin"}
        stages:
          - stageName: test
            cacheClusterEnabled: true
            methodSettings:
              "*/*": {cacheTtlInSeconds: 60, cacheDataEncrypted: {ENCRYPTED}}
              "short/GET": {cacheTtlInSeconds: 1}
              "fail/GET": {unauthorizedCacheControlHeaderStrategy: FAIL_WITH_403}
              "header/GET": {unauthorizedCacheControlHeaderStrategy: SUCCEED_WITH_RESPONSE_HEADER}
              "silent/GET": {unauthorizedCacheControlHeaderStrategy: SUCCEED_WITHOUT_RESPONSE_HEADER}
              "open/GET": {requireAuthorizationForCacheControl: false}
              "noise/GET": {cachingEnabled: false}
              "posted/POST": {cachingEnabled: true}
          - stageName: nocache
"#;

/// A backend whose answers say how many calls it has had: `{"call":N,"path":"/x"}`.
/// `/big?size=N[&chunked=1]` answers N bytes; `/slow` waits 300 ms; `/secret` and `/noise`
/// answer 4000 bytes, the first with [`MARKER`] inside; `/latin` adds `X-Label: café`.
fn counting_backend() -> Backend {
    let calls = Arc::new(AtomicUsize::new(0));
    Backend::with_handler(move |req| {
        let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
        let q = req.query().to_string();
        let param = |name: &str| {
            q.split('&')
                .find_map(|p| p.strip_prefix(&format!("{name}=")))
                .map(str::to_string)
        };
        match req.path() {
            "/big" => {
                let size: usize = param("size").and_then(|s| s.parse().ok()).unwrap_or(0);
                let body: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
                let mut r = Reply::new(200, body).header("Content-Type", "text/plain");
                r.chunked = param("chunked").is_some();
                r
            }
            "/secret" | "/noise" => {
                let mut body = vec![b'y'; 4000];
                if req.path() == "/secret" {
                    body[100..100 + MARKER.len()].copy_from_slice(MARKER.as_bytes());
                }
                Reply::new(200, body).header("Content-Type", "text/plain")
            }
            path => {
                let mut r = Reply::json(200, format!(r#"{{"call":{n},"path":"{path}"}}"#))
                    .header("X-Backend", "yes");
                if path == "/slow" {
                    r.delay = Duration::from_millis(300);
                }
                if path == "/latin" {
                    r = r.header("X-Label", "café");
                }
                r
            }
        }
    })
}

const MARKER: &str = "TOLLGATE-CACHE-MARKER-7f3a9c21e4";

struct Fixture {
    gw: Gateway,
    backend: Backend,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with(false)
    }

    fn with(encrypted: bool) -> Fixture {
        let backend = counting_backend();
        let gw = Gateway::start(&yaml(&backend, encrypted));
        Fixture { gw, backend }
    }

    fn calls(&self, path: &str) -> usize {
        self.backend
            .requests()
            .iter()
            .filter(|r| r.path() == path)
            .count()
    }

    fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        self.gw.request("GET", path, headers, b"")
    }
}

fn yaml(backend: &Backend, encrypted: bool) -> String {
    API.replace("{B}", &backend.url())
        .replace("{ENCRYPTED}", if encrypted { "true" } else { "false" })
}

#[test]
fn hits_serve_the_stored_response_with_fresh_request_ids() {
    let f = Fixture::new();
    let first = f.get("/test/items", &[]);
    assert_eq!(first.status, 200, "{}", first.body_str());
    let second = f.get("/test/items", &[]);
    assert_eq!(second.status, 200);
    assert_eq!(
        f.calls("/items"),
        1,
        "the second request was served from the cache"
    );
    assert_eq!(second.body, first.body);
    assert_eq!(second.body_str(), r#"{"call":1,"path":"/items"}"#);
    assert_eq!(second.header("X-Backend"), Some("yes"));
    assert_eq!(second.header("Content-Type"), Some("application/json"));
    assert_eq!(second.header("Content-Length"), Some("26"));
    assert_ne!(
        second.header("x-amzn-RequestId"),
        first.header("x-amzn-RequestId")
    );
    assert_ne!(
        second.header("x-amz-apigw-id"),
        first.header("x-amz-apigw-id")
    );
    assert_eq!(second.headers_all("x-amzn-RequestId").len(), 1);
    assert!(second.header("Date").is_some());

    // POST is not cached by the stage default; another stage has no cache.
    for _ in 0..2 {
        assert_eq!(f.gw.request("POST", "/test/items", &[], b"{}").status, 200);
        assert_eq!(f.get("/nocache/items", &[]).status, 200);
    }
    assert_eq!(f.calls("/items"), 1 + 2 + 2);

    let labels = [
        ("api", "cached"),
        ("stage", "test"),
        ("method", "GET"),
        ("resource", "/items"),
    ];
    assert_eq!(f.gw.metric("tollgate_cache_hits_total", &labels), 1.0);
    assert_eq!(f.gw.metric("tollgate_cache_misses_total", &labels), 1.0);
}

#[test]
fn a_header_value_that_is_not_ascii_text_is_stored_as_sent() {
    let f = Fixture::new();
    for _ in 0..2 {
        let r = f.get("/test/latin", &[]);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("X-Label"), Some("café"));
        assert_eq!(r.header("X-Backend"), Some("yes"));
    }
    assert_eq!(f.calls("/latin"), 1, "the second was a hit");
}

#[test]
fn other_methods_are_cached_only_when_a_setting_names_them() {
    let f = Fixture::new();
    for _ in 0..2 {
        assert_eq!(f.gw.request("POST", "/test/posted", &[], b"{}").status, 200);
    }
    assert_eq!(f.calls("/posted"), 1, "posted/POST has cachingEnabled");
    // An ANY method: its GETs are cached, its other methods are not.
    for method in ["GET", "GET", "PUT", "PUT", "DELETE"] {
        assert_eq!(f.gw.request(method, "/test/any", &[], b"").status, 200);
    }
    assert_eq!(f.calls("/any"), 1 + 2 + 1);
}

#[test]
fn only_cache_key_parameters_vary_the_key() {
    let f = Fixture::new();
    let admin_a = f.get(
        "/test/items?type=admin&department=A",
        &[("Authorization", "one")],
    );
    let admin_b = f.get(
        "/test/items?type=admin&department=B",
        &[("Authorization", "two")],
    );
    assert_eq!(
        admin_b.body, admin_a.body,
        "department and Authorization are not in the key"
    );
    assert_eq!(f.calls("/items"), 1);
    let user = f.get("/test/items?type=user", &[]);
    assert_eq!(user.body_str(), r#"{"call":2,"path":"/items"}"#);
    let none = f.get("/test/items", &[]);
    assert_eq!(none.body_str(), r#"{"call":3,"path":"/items"}"#);
    assert_eq!(f.get("/test/items?type=user", &[]).body, user.body);
    assert_eq!(f.calls("/items"), 3);
}

#[test]
fn entries_expire_after_their_ttl() {
    let f = Fixture::new();
    f.get("/test/short", &[]);
    f.get("/test/short", &[]);
    assert_eq!(f.calls("/short"), 1);
    std::thread::sleep(Duration::from_millis(1100));
    let r = f.get("/test/short", &[]);
    assert_eq!(r.body_str(), r#"{"call":2,"path":"/short"}"#);
    assert_eq!(f.calls("/short"), 2);
}

#[test]
fn mock_integration_responses_are_cached() {
    let f = Fixture::new();
    let first = f.get("/test/mock", &[]);
    assert_eq!(first.status, 200);
    let id = first.header("x-amzn-RequestId").unwrap().to_string();
    assert_eq!(first.body_str(), format!(r#"{{"requestId": "{id}"}}"#));
    let second = f.get("/test/mock", &[]);
    assert_eq!(second.body, first.body, "the template did not run again");
    assert_ne!(second.header("x-amzn-RequestId"), Some(id.as_str()));
    assert_eq!(second.header("Content-Type"), Some("application/json"));
}

#[test]
fn responses_over_one_mebibyte_pass_through_whole_and_uncached() {
    let f = Fixture::new();
    for chunked in ["", "&chunked=1"] {
        let path = format!("/test/big?size=2097152{chunked}");
        for _ in 0..2 {
            let r = f.get(&path, &[]);
            assert_eq!(r.status, 200);
            assert_eq!(r.body.len(), 2_097_152);
            assert!(r
                .body
                .iter()
                .enumerate()
                .all(|(i, b)| *b == b'a' + (i % 26) as u8));
        }
    }
    assert_eq!(f.calls("/big"), 4, "nothing over 1 MiB was stored");
    // Exactly 1 MiB is stored.
    for _ in 0..2 {
        assert_eq!(
            f.get("/test/big?size=1048576&chunked=1", &[]).body.len(),
            1_048_576
        );
    }
    assert_eq!(f.calls("/big"), 5);
}

#[test]
fn concurrent_misses_reach_the_backend_once() {
    let f = Arc::new(Fixture::new());
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let f = f.clone();
            std::thread::spawn(move || f.get("/test/slow", &[]))
        })
        .collect();
    let bodies: Vec<Vec<u8>> = threads
        .into_iter()
        .map(|t| t.join().unwrap().body)
        .collect();
    assert_eq!(f.calls("/slow"), 1);
    assert!(bodies.iter().all(|b| b == &bodies[0]), "{bodies:?}");
}

#[test]
fn admin_flush_empties_the_stage_cache() {
    let f = Fixture::new();
    f.get("/test/items", &[]);
    f.get("/test/items", &[]);
    assert_eq!(f.calls("/items"), 1);
    let r = request(
        f.gw.admin,
        "DELETE",
        "/restapis/cached/stages/test/cache/data",
        &[],
        b"",
    );
    assert_eq!(r.status, 202);
    f.get("/test/items", &[]);
    assert_eq!(f.calls("/items"), 2);
    let r = request(
        f.gw.admin,
        "DELETE",
        "/restapis/cached/stages/nope/cache/data",
        &[],
        b"",
    );
    assert_eq!(r.status, 404);
}

#[test]
fn a_reload_keeps_the_cache_unless_its_settings_change() {
    let f = Fixture::new();
    f.get("/test/items", &[]);
    let yaml = yaml(&f.backend, false);
    assert!(f.gw.reload(&yaml));
    f.get("/test/items", &[]);
    assert_eq!(
        f.calls("/items"),
        1,
        "same settings: the cache survived the reload"
    );
    assert!(f
        .gw
        .reload(&yaml.replace("cacheTtlInSeconds: 60", "cacheTtlInSeconds: 120")));
    f.get("/test/items", &[]);
    assert_eq!(f.calls("/items"), 2, "changed settings: a new cache");
}

#[test]
fn a_reload_changing_a_cached_integration_starts_a_new_cache() {
    let f = Fixture::new();
    let yaml = yaml(&f.backend, false);
    let items = format!("{}/items\"", f.backend.url());
    assert_eq!(yaml.matches(&items).count(), 2, "GET then POST /items");
    f.get("/test/items", &[]);
    // POST /items is not cached: its integration does not touch the cache.
    let post_changed = yaml.replacen(&items, "PLACEHOLDER", 1).replacen(
        &items,
        &format!("{}/items?post=2\"", f.backend.url()),
        1,
    );
    assert!(f
        .gw
        .reload(&post_changed.replacen("PLACEHOLDER", &items, 1)));
    f.get("/test/items", &[]);
    assert_eq!(f.calls("/items"), 1, "an uncached method changed: kept");
    let get_changed = yaml.replacen(&items, &format!("{}/items?v=2\"", f.backend.url()), 1);
    assert!(f.gw.reload(&get_changed));
    let r = f.get("/test/items", &[]);
    assert_eq!(
        f.calls("/items"),
        2,
        "the cached integration changed: a miss"
    );
    assert_eq!(r.status, 200);
    let last = f.backend.requests();
    assert!(last
        .iter()
        .any(|r| r.path() == "/items" && r.query() == "v=2"));
    // A changed stage variable is a change of what integrations may read.
    assert!(f.gw.reload(&get_changed.replace(
        "          - stageName: test\n",
        "          - stageName: test\n            variables: {v: x}\n"
    )));
    f.get("/test/items", &[]);
    assert_eq!(f.calls("/items"), 3, "changed stage variables: a miss");
}

#[test]
fn cache_control_max_age_zero_without_authorization_requirement_refreshes() {
    let f = Fixture::new();
    f.get("/test/open", &[]);
    f.get("/test/open", &[]);
    assert_eq!(f.calls("/open"), 1);
    let r = f.get("/test/open", &[("Cache-Control", "max-age=0")]);
    assert_eq!(r.body_str(), r#"{"call":2,"path":"/open"}"#);
    assert!(r.header("Warning").is_none());
    let r = f.get("/test/open", &[]);
    assert_eq!(
        r.body_str(),
        r#"{"call":2,"path":"/open"}"#,
        "the entry was replaced"
    );
    assert_eq!(f.calls("/open"), 2);
}

#[test]
fn unauthorized_invalidation_fail_with_403() {
    let f = Fixture::new();
    f.get("/test/fail", &[]);
    let r = f.get("/test/fail", &[("Cache-Control", "max-age=0")]);
    assert_eq!(r.status, 403);
    assert_eq!(r.body_str(), r#"{"Message":"Unauthorized"}"#);
    assert_eq!(r.header("x-amzn-ErrorType"), Some("AccessDeniedException"));
    assert_eq!(f.calls("/fail"), 1);
}

#[test]
fn unauthorized_invalidation_succeeds_with_warning_header() {
    let f = Fixture::new();
    let first = f.get("/test/header", &[]);
    let r = f.get("/test/header", &[("Cache-Control", "max-age=0")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, first.body, "served from the cache");
    assert_eq!(
        r.header("Warning"),
        Some("199 Cache-control headers were ignored because the caller was unauthorized.")
    );
    assert!(f.get("/test/header", &[]).header("Warning").is_none());
    assert_eq!(f.calls("/header"), 1);
}

#[test]
fn unauthorized_invalidation_succeeds_without_header() {
    let f = Fixture::new();
    let first = f.get("/test/silent", &[]);
    let r = f.get("/test/silent", &[("Cache-Control", "max-age=0")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, first.body);
    assert!(r.header("Warning").is_none());
    assert_eq!(f.calls("/silent"), 1);
}

#[test]
fn no_cached_response_for_a_request_that_fails_admission() {
    let f = Fixture::new();
    let ok = f.get("/test/validated?q=1", &[]);
    assert_eq!(ok.status, 200);
    let refused = f.get("/test/validated", &[]);
    assert_eq!(refused.status, 400);
    assert_eq!(
        refused.body_str(),
        r#"{"message":"Missing required request parameters: [q]"}"#
    );
    assert_eq!(f.get("/test/validated?q=2", &[]).body, ok.body);
    assert_eq!(f.calls("/validated"), 1);
}

#[test]
fn the_byte_budget_evicts_least_recently_used_entries() {
    // 0.5 GB (AWS's smallest cache) of ~1 MB entries.
    let f = Fixture::new();
    let size = 1_000_000;
    let count = 600;
    for i in 0..count {
        let r = f.get(&format!("/test/big?size={size}&chunked={i}"), &[]);
        assert_eq!(r.body.len(), size);
    }
    assert_eq!(f.calls("/big"), count);
    f.get(&format!("/test/big?size={size}&chunked={}", count - 1), &[]);
    assert_eq!(f.calls("/big"), count, "the newest entry is kept");
    // Eviction takes the least recently used entry of a busier shard: the oldest entries,
    // give or take a shard's share, went first.
    let oldest = 32;
    for i in 0..oldest {
        f.get(&format!("/test/big?size={size}&chunked={i}"), &[]);
    }
    let misses = f.calls("/big") - count;
    assert!(
        misses >= oldest / 2,
        "{misses} of the {oldest} oldest entries were evicted"
    );
}

/// True when `needle` is somewhere in the writable memory of process `pid`.
fn in_process_memory(pid: u32, needle: &[u8]) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mut mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    for line in maps.lines() {
        let mut parts = line.split_whitespace();
        let (Some(range), Some(perms)) = (parts.next(), parts.next()) else {
            continue;
        };
        if !perms.starts_with("rw") || line.contains("[vvar") || line.contains("[vsyscall") {
            continue;
        }
        let (start, end) = range.split_once('-').unwrap();
        let (start, end) = (
            u64::from_str_radix(start, 16).unwrap(),
            u64::from_str_radix(end, 16).unwrap(),
        );
        let mut at = start;
        while at < end {
            let len = ((end - at) as usize).min(buf.len());
            if mem.seek(SeekFrom::Start(at)).is_err() || mem.read_exact(&mut buf[..len]).is_err() {
                break;
            }
            // Overlap reads by the needle's length so a match across chunks is found.
            if buf[..len].windows(needle.len()).any(|w| w == needle) {
                return true;
            }
            at += (len - needle.len().min(len)).max(1) as u64;
        }
    }
    false
}

/// Serves the marker once (stored), then other responses of the same size so that buffers
/// freed by the marker's exchange are reused, and scans the gateway's memory.
fn marker_in_memory_after_caching(encrypted: bool) -> bool {
    let f = Fixture::with(encrypted);
    for _ in 0..3 {
        let r = f.get("/test/secret", &[]);
        assert!(r.body_str().contains(MARKER));
    }
    assert_eq!(f.calls("/secret"), 1);
    for _ in 0..200 {
        assert_eq!(f.get("/test/noise", &[]).body.len(), 4000);
    }
    in_process_memory(f.gw.pid(), MARKER.as_bytes())
}

#[test]
fn cache_data_encrypted_keeps_no_plaintext_in_memory() {
    assert!(
        marker_in_memory_after_caching(false),
        "without encryption the stored body is in memory (the scan works)"
    );
    assert!(
        !marker_in_memory_after_caching(true),
        "with cacheDataEncrypted the body is held only as ciphertext"
    );
}

#[test]
fn lambda_proxy_results_are_cached_and_function_errors_are_not() {
    // An Invoke API server: `/fn/fail` is a function error, anything else a proxy result.
    let invoke = Backend::with_handler(|req| {
        let event: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
        match event["path"].as_str().unwrap_or_default() {
            "/fn/fail" => Reply::json(200, r#"{"errorMessage":"boom","errorType":"E"}"#)
                .header("X-Amz-Function-Error", "Unhandled"),
            path => Reply::json(
                200,
                serde_json::json!({"statusCode": 201, "body": path, "headers": {"x-from": "fn"}})
                    .to_string(),
            ),
        }
    });
    let uri = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:remote/invocations";
    let gw = Gateway::start(
        &r#"
        functions:
          remote: {endpoint: "{B}"}
        restApis:
          - id: fnapi
            resources:
              /fn/{proxy+}:
                GET:
                  requestParameters: {method.request.path.proxy: true}
                  integration:
                    type: AWS_PROXY
                    httpMethod: POST
                    uri: "{URI}"
                    cacheKeyParameters: [method.request.path.proxy]
            stages: [{stageName: test, cacheClusterEnabled: true}]
        "#
        .replace("{B}", &invoke.url())
        .replace("{URI}", uri),
    );
    for _ in 0..2 {
        let r = gw.get("/test/fn/a");
        assert_eq!(r.status, 201, "{}", r.body_str());
        assert_eq!(r.body_str(), "/fn/a");
        assert_eq!(r.header("x-from"), Some("fn"));
    }
    assert_eq!(invoke.hits(), 1);
    assert_eq!(gw.get("/test/fn/b").body_str(), "/fn/b");
    assert_eq!(invoke.hits(), 2);
    for _ in 0..2 {
        assert_eq!(gw.get("/test/fn/fail").status, 502);
    }
    assert_eq!(invoke.hits(), 4, "a function error is not stored");
}

/// Headers botocore's SigV4Auth adds to a `GET http://{addr}{path}` by `key`/`secret` with
/// `headers` signed too (tests/iam/sign.py).
fn signed_get(
    gw: &Gateway,
    path: &str,
    key: &str,
    secret: &str,
    headers: &[(&str, &str)],
) -> Response {
    use std::io::Write;
    let spec = serde_json::json!([{
        "mode": "header", "method": "GET", "url": format!("http://{}{path}", gw.addr),
        "key": key, "secret": secret,
        "headers": headers.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
    }]);
    let mut child = std::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/iam/sign.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 tests/iam/sign.py (install botocore with scripts/deps.sh)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(spec.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "sign.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let signed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sent: Vec<(String, String)> = signed[0]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h[0].as_str().unwrap().to_string(),
                h[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let sent: Vec<(&str, &str)> = sent.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    gw.request("GET", path, &sent, b"")
}

#[test]
fn invalidation_needs_execute_api_invalidate_cache_and_refused_callers_get_no_cached_response() {
    let backend = counting_backend();
    let gw = Gateway::start(
        &r#"
        iam:
          users:
            - name: admin
              accessKeyId: AKIDADMIN
              secretAccessKey: admin-secret
              policies:
                - Statement:
                    - {Effect: Allow, Action: ["execute-api:Invoke", "execute-api:InvalidateCache"], Resource: "arn:aws:execute-api:*:*:iamcache/*"}
            - name: reader
              accessKeyId: AKIDREADER
              secretAccessKey: reader-secret
              policies:
                - Statement:
                    - {Effect: Allow, Action: "execute-api:Invoke", Resource: "arn:aws:execute-api:*:*:iamcache/*"}
        restApis:
          - id: iamcache
            resources:
              /items:
                GET:
                  authorizationType: AWS_IAM
                  integration: {type: HTTP_PROXY, httpMethod: GET, uri: "{B}/items"}
            stages:
              - stageName: test
                cacheClusterEnabled: true
                methodSettings:
                  "items/GET": {unauthorizedCacheControlHeaderStrategy: FAIL_WITH_403}
        "#
        .replace("{B}", &backend.url()),
    );
    let calls = || {
        backend
            .requests()
            .iter()
            .filter(|r| r.path() == "/items")
            .count()
    };
    let refresh = [("Cache-Control", "max-age=0")];
    let r = signed_get(&gw, "/test/items", "AKIDREADER", "reader-secret", &[]);
    assert_eq!(r.body_str(), r#"{"call":1,"path":"/items"}"#);
    // A caller the method refuses never sees the cached response.
    let r = gw.get("/test/items");
    assert_eq!(r.status, 403, "{}", r.body_str());
    assert_eq!(
        r.header("x-amzn-ErrorType"),
        Some("MissingAuthenticationTokenException")
    );
    let r = signed_get(&gw, "/test/items", "AKIDREADER", "wrong-secret", &[]);
    assert_eq!(r.status, 403);
    assert_eq!(
        r.header("x-amzn-ErrorType"),
        Some("InvalidSignatureException")
    );
    // Without execute-api:InvalidateCache, max-age=0 is refused (FAIL_WITH_403).
    let r = signed_get(&gw, "/test/items", "AKIDREADER", "reader-secret", &refresh);
    assert_eq!(r.status, 403);
    assert_eq!(r.body_str(), r#"{"Message":"Unauthorized"}"#);
    assert_eq!(calls(), 1);
    // With it, the entry is refreshed.
    let r = signed_get(&gw, "/test/items", "AKIDADMIN", "admin-secret", &refresh);
    assert_eq!(r.body_str(), r#"{"call":2,"path":"/items"}"#);
    let r = signed_get(&gw, "/test/items", "AKIDREADER", "reader-secret", &[]);
    assert_eq!(r.body_str(), r#"{"call":2,"path":"/items"}"#);
    assert_eq!(calls(), 2);
}

#[test]
fn http_proxy_mappings_read_the_caller_access_control_established() {
    let backend = counting_backend();
    let gw = Gateway::start(
        &r#"
        iam:
          users:
            - name: reader
              accessKeyId: AKIDREADER
              secretAccessKey: reader-secret
              policies:
                - Statement:
                    - {Effect: Allow, Action: "execute-api:Invoke", Resource: "arn:aws:execute-api:*:*:who/*"}
        restApis:
          - id: who
            resources:
              /who:
                GET:
                  authorizationType: AWS_IAM
                  integration:
                    type: HTTP_PROXY
                    httpMethod: GET
                    uri: "{B}/who"
                    requestParameters:
                      integration.request.header.x-caller: context.identity.userArn
                      integration.request.querystring.key: context.identity.accessKey
            stages: [{stageName: test, cacheClusterEnabled: true}]
        "#
        .replace("{B}", &backend.url()),
    );
    for _ in 0..2 {
        let r = signed_get(&gw, "/test/who", "AKIDREADER", "reader-secret", &[]);
        assert_eq!(r.status, 200, "{}", r.body_str());
        assert_eq!(r.body_str(), r#"{"call":1,"path":"/who"}"#);
    }
    let seen = backend.requests();
    assert_eq!(seen.len(), 1, "the second was a hit");
    let user_arn = "arn:aws:iam::123456789012:user/reader";
    assert_eq!(seen[0].header("x-caller"), Some(user_arn));
    assert_eq!(seen[0].query(), "key=AKIDREADER");
}

#[test]
fn a_hit_answers_a_client_waiting_for_100_continue_without_its_body() {
    let f = Fixture::new();
    let first = f.get("/test/items", &[]);
    let mut conn = Conn::open(f.gw.addr);
    let r = conn.send_raw(
        b"GET /test/items HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body, first.body);
    assert!(conn.is_closed_by_peer(Duration::from_secs(5)));
    assert_eq!(f.calls("/items"), 1);
}
