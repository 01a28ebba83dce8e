//! Operating Tollgate: the admin listener (DESIGN A4), metrics (A5), access logs, and the
//! process lifecycle of A1 (SIGHUP reload, SIGTERM drain, SIGQUIT graceful upgrade, exit codes).

mod common;
use common::*;

use std::fs::{self, File};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The stage `prod` access log format: one JSON object per line.
const ACCESS_FORMAT: &str = r#"{"requestId":"$context.requestId","method":"$context.httpMethod","resource":"$context.resourcePath","status":"$context.status","stage":"$context.stage","ip":"$context.identity.sourceIp"}"#;

/// A config for [`Gateway::start_raw`]: a `server:` section with a drain of `grace` seconds
/// (SIGTERM and upgrades wait that long before stopping; the default is 35), then `body`.
fn with_grace(grace: u64, body: &str) -> String {
    format!(
        "server:\n  listen: [\"{{LISTEN}}\"]\n  admin: \"{{ADMIN}}\"\n  threads: 1\n  stateDir: \"{{DIR}}\"\n  gracePeriodSeconds: {grace}\n{body}"
    )
}

/// A MOCK `GET` resource answering 200 `{"resource": ..., "v": <stage variable v>}`.
fn mock_route(path: &str) -> String {
    format!(
        r#"      {path}:
        GET:
          methodResponses: [{{statusCode: "200"}}]
          integration:
            type: MOCK
            requestTemplates: {{application/json: '{{"statusCode": 200}}'}}
            integrationResponses:
              - statusCode: "200"
                responseTemplates: {{application/json: '{{"resource": "$context.resourcePath", "v": "$stageVariables.v"}}'}}
"#
    )
}

/// An HTTP_PROXY `GET` resource to `url`.
fn proxy_route(path: &str, url: &str) -> String {
    format!(
        "      {path}:\n        GET:\n          integration: {{type: HTTP_PROXY, httpMethod: GET, uri: \"{url}\"}}\n"
    )
}

/// The API `petstore`: MOCK `/pets/{petId}`, HTTP_PROXY `/slow` (omitted when `with_slow` is
/// false), MOCK `extra` resources; stage `prod` (variable `v`, JSON access log) and stage `dev`.
fn api(backend: &Backend, v: &str, with_slow: bool, extra: &[&str]) -> String {
    let mut resources = mock_route("/pets/{petId}");
    if with_slow {
        resources += &proxy_route("/slow", &format!("{}/slow", backend.url()));
    }
    for path in extra {
        resources += &mock_route(path);
    }
    format!(
        "restApis:\n  - id: petstore\n    resources:\n{resources}    stages:\n      - stageName: prod\n        variables: {{v: \"{v}\"}}\n        accessLogSettings: {{format: '{ACCESS_FORMAT}'}}\n      - stageName: dev\n"
    )
}

/// A gateway serving [`api`] with the `/slow` route, and its backend.
fn start(backend: &Backend) -> Gateway {
    Gateway::start(&api(backend, "one", true, &[]))
}

/// Polls `f` every 20 ms until it returns true or `limit` passes.
fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// The metrics once `tollgate_requests_total` adds up to `n` (requests are counted in the
/// logging phase, just after the response is sent), or after 5 s.
fn metrics_counting(gw: &Gateway, n: usize) -> String {
    let mut m = String::new();
    wait_until(Duration::from_secs(5), || {
        m = gw.metrics();
        metric_value(&m, "tollgate_requests_total", &[]) >= n as f64
    });
    m
}

/// Starts `GET path` in a thread, and returns once `backend` has received it.
fn in_flight(addr: std::net::SocketAddr, backend: &Backend, path: &str) -> JoinHandle<Response> {
    let before = backend.hits();
    let path = path.to_string();
    let handle = thread::spawn(move || request(addr, "GET", &path, &[], b""));
    assert!(
        wait_until(Duration::from_secs(5), || backend.hits() > before),
        "the slow request never reached the backend"
    );
    handle
}

/// A client load: `threads` threads sending requests round-robin over `paths` until stopped
/// (at most `max_each` requests per thread), counting every request that is not a 200.
/// With `retry_unanswered`, a GET whose new connection closed before any response byte is
/// sent once more, as HTTP clients do for idempotent requests.
struct Load {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    failures: Arc<Mutex<Vec<String>>>,
    threads: Vec<JoinHandle<()>>,
}

impl Load {
    fn start(
        addr: std::net::SocketAddr,
        threads: usize,
        paths: &[&str],
        max_each: usize,
        retry_unanswered: bool,
    ) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let threads = (0..threads)
            .map(|t| {
                let (stop, sent, failures) = (stop.clone(), sent.clone(), failures.clone());
                let paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
                thread::spawn(move || {
                    for i in 0..max_each {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let path = &paths[(i + t) % paths.len()];
                        let mut result = try_request(addr, "GET", path, &[], b"");
                        if retry_unanswered
                            && matches!(&result, Err(e) if e.to_string().contains("closed before a response"))
                        {
                            result = try_request(addr, "GET", path, &[], b"");
                        }
                        let outcome = match result {
                            Ok(r) if r.status == 200 => None,
                            Ok(r) => Some(format!("GET {path}: {} {}", r.status, r.body_str())),
                            Err(e) => Some(format!("GET {path}: {e}")),
                        };
                        sent.fetch_add(1, Ordering::SeqCst);
                        if let Some(f) = outcome {
                            failures.lock().unwrap().push(f);
                        }
                    }
                })
            })
            .collect();
        Load {
            stop,
            sent,
            failures,
            threads,
        }
    }

    fn sent(&self) -> usize {
        self.sent.load(Ordering::SeqCst)
    }

    /// Stops the clients; returns (requests sent, failures).
    fn finish(self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads {
            t.join().expect("client thread panicked");
        }
        let sent = self.sent.load(Ordering::SeqCst);
        let failures = self.failures.lock().unwrap().clone();
        (sent, failures)
    }
}

/// A child process killed on drop.
struct ChildGuard(Child);

impl ChildGuard {
    fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let mut status = None;
        wait_until(limit, || {
            status = self.0.try_wait().ok().flatten();
            status.is_some()
        });
        status
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `tollgate <args>` in `dir`, output to `dir/<name>.stdout|stderr`.
fn spawn_tollgate(dir: &Path, name: &str, args: &[&str]) -> ChildGuard {
    let out = |ext: &str| File::create(dir.join(format!("{name}.{ext}"))).expect("log file");
    ChildGuard(
        Command::new(tollgate_bin())
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out("stdout"))
            .stderr(out("stderr"))
            .spawn()
            .expect("spawn tollgate"),
    )
}

/// The 1-based line of the first line of `file` containing `needle`.
fn line_of(file: &Path, needle: &str) -> usize {
    fs::read_to_string(file)
        .expect("read config")
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle} not in {}", file.display()))
        + 1
}

// ---------------------------------------------------------------------------------------------
// Admin listener and metrics
// ---------------------------------------------------------------------------------------------

#[test]
fn healthz_answers_200() {
    let backend = Backend::start();
    let gw = start(&backend);
    let r = request(gw.admin, "GET", "/healthz", &[], b"");
    assert_eq!(r.status, 200, "{}", r.body_str());
}

#[test]
fn metrics_use_resource_templates_and_histograms() {
    let backend = Backend::start();
    let gw = start(&backend);
    for id in ["42", "7"] {
        let r = gw.get(&format!("/prod/pets/{id}"));
        assert_eq!(r.status, 200, "{}", r.body_str());
        assert_eq!(r.json()["resource"], "/pets/{petId}");
    }
    assert_eq!(gw.get("/prod/slow?status=503").status, 503);
    assert_eq!(gw.get("/prod/nope").status, 403);

    let m = metrics_counting(&gw, 4);
    let pets = [
        ("api", "petstore"),
        ("stage", "prod"),
        ("method", "GET"),
        ("resource", "/pets/{petId}"),
    ];
    let with_status = |labels: &[(&'static str, &'static str)], status| {
        let mut l = labels.to_vec();
        l.push(("status", status));
        metric_value(&m, "tollgate_requests_total", &l)
    };
    assert_eq!(with_status(&pets, "200"), 2.0, "{m}");
    assert!(
        !m.contains("/pets/42") && !m.contains("/pets/7"),
        "raw paths leaked into labels:\n{m}"
    );
    let slow = [
        ("api", "petstore"),
        ("stage", "prod"),
        ("method", "GET"),
        ("resource", "/slow"),
    ];
    assert_eq!(with_status(&slow, "503"), 1.0, "{m}");
    assert_eq!(
        metric_value(
            &m,
            "tollgate_requests_total",
            &[("stage", "prod"), ("status", "403")]
        ),
        1.0,
        "{m}"
    );

    let count = |name: &str, labels: &[(&str, &str)]| metric_value(&m, name, labels);
    assert_eq!(
        count("tollgate_request_duration_seconds_count", &pets),
        2.0,
        "{m}"
    );
    assert_eq!(
        count(
            "tollgate_request_duration_seconds_bucket",
            &[pets[0], pets[1], pets[2], pets[3], ("le", "+Inf")]
        ),
        2.0,
        "{m}"
    );
    assert!(
        count("tollgate_request_duration_seconds_sum", &pets) > 0.0,
        "{m}"
    );
    assert_eq!(
        count("tollgate_integration_duration_seconds_count", &slow),
        1.0,
        "{m}"
    );
    assert_eq!(
        count(
            "tollgate_integration_duration_seconds_bucket",
            &[slow[0], slow[1], slow[2], slow[3], ("le", "+Inf")]
        ),
        1.0,
        "{m}"
    );
    for metric in [
        "# TYPE tollgate_requests_total counter",
        "# TYPE tollgate_request_duration_seconds histogram",
        "# TYPE tollgate_integration_duration_seconds histogram",
    ] {
        assert!(m.contains(metric), "missing {metric:?}:\n{m}");
    }
}

/// Both reload results are exported from the start (at 0), so a scraper sees the series before
/// the first reload.
#[test]
fn config_reload_counters_are_exported_before_any_reload() {
    let backend = Backend::start();
    let gw = start(&backend);
    let m = gw.metrics();
    for result in ["success", "failure"] {
        let series = format!("tollgate_config_reloads_total{{result=\"{result}\"}} 0");
        assert!(m.contains(&series), "missing {series:?}:\n{m}");
    }
}

#[test]
fn stage_cache_flush() {
    let backend = Backend::start();
    let gw = start(&backend);
    let delete = |path: &str| request(gw.admin, "DELETE", path, &[], b"").status;
    assert_eq!(delete("/restapis/petstore/stages/prod/cache/data"), 202);
    assert_eq!(
        delete("/restapis/petstore/stages/dev/cache/authorizers"),
        202
    );
    assert_eq!(delete("/restapis/petstore/stages/nope/cache/data"), 404);
    assert_eq!(delete("/restapis/nope/stages/prod/cache/data"), 404);
}

#[test]
fn access_log_lines_use_the_stage_format() {
    let backend = Backend::start();
    let gw = start(&backend);
    let ok = gw.get("/prod/pets/42");
    let miss = gw.get("/prod/nope");
    let dev = gw.get("/dev/pets/1");
    let ids: Vec<String> = [&ok, &miss, &dev]
        .iter()
        .map(|r| {
            r.header("x-amzn-RequestId")
                .expect("request id")
                .to_string()
        })
        .collect();
    let mut log = String::new();
    let complete = wait_until(Duration::from_secs(5), || {
        log = gw.access_log();
        ids.iter().all(|id| log.contains(id.as_str()))
    });
    assert!(complete, "access log lacks some of {ids:?}:\n{log}");
    let line_with = |id: &str| {
        log.lines()
            .find(|l| l.contains(id))
            .expect("line")
            .to_string()
    };
    let entry: serde_json::Value = serde_json::from_str(&line_with(&ids[0]))
        .unwrap_or_else(|e| panic!("not the stage's JSON format ({e}):\n{log}"));
    assert_eq!(
        entry,
        serde_json::json!({"requestId": ids[0], "method": "GET", "resource": "/pets/{petId}",
                           "status": "200", "stage": "prod", "ip": "127.0.0.1"})
    );
    let entry: serde_json::Value = serde_json::from_str(&line_with(&ids[1])).expect("JSON line");
    assert_eq!(entry["status"], "403");
    assert_eq!(entry["requestId"], ids[1].as_str());
    // No resource matched: API Gateway logs a variable without a value as "-".
    assert_eq!(entry["resource"], "-");
    // Stage dev has no accessLogSettings: the server-wide (default) format, not the JSON one.
    let dev_line = line_with(&ids[2]);
    assert!(
        serde_json::from_str::<serde_json::Value>(&dev_line).is_err(),
        "{dev_line}"
    );
    assert!(
        dev_line.contains("GET") && dev_line.contains("200"),
        "{dev_line}"
    );
}

// ---------------------------------------------------------------------------------------------
// SIGHUP reload
// ---------------------------------------------------------------------------------------------

#[test]
fn sighup_reload_with_a_good_file_serves_the_new_routes() {
    let backend = Backend::start();
    let gw = start(&backend);
    assert_eq!(gw.get("/prod/new").status, 403);
    assert!(
        gw.reload(&api(&backend, "two", true, &["/new"])),
        "{}",
        gw.logs()
    );
    let r = gw.get("/prod/new");
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.json()["v"], "two");
    assert_eq!(gw.get("/prod/pets/1").json()["v"], "two");
    assert_eq!(
        gw.metric("tollgate_config_reloads_total", &[("result", "success")]),
        1.0
    );
}

#[test]
fn sighup_reload_with_a_bad_file_keeps_the_old_config() {
    let backend = Backend::start();
    let gw = start(&backend);
    let bad = format!(
        "{}bogusTopLevelKey: 1\n",
        api(&backend, "two", true, &["/new"])
    );
    assert!(
        !gw.reload(&bad),
        "a config with an unknown key was accepted"
    );
    assert_eq!(
        gw.metric("tollgate_config_reloads_total", &[("result", "failure")]),
        1.0
    );
    assert_eq!(
        gw.metric("tollgate_config_reloads_total", &[("result", "success")]),
        0.0
    );
    let r = gw.get("/prod/pets/1");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["v"], "one", "the old configuration keeps serving");
    assert_eq!(gw.get("/prod/new").status, 403);
    let at = format!(
        "{}:{}:",
        gw.config_path.display(),
        line_of(&gw.config_path, "bogusTopLevelKey")
    );
    assert!(
        wait_until(Duration::from_secs(2), || gw.logs().contains(&at)),
        "the rejection is not logged at {at}\n{}",
        gw.logs()
    );
}

#[test]
fn requests_in_flight_during_a_reload_finish() {
    let backend = Backend::start();
    let gw = start(&backend);
    let slow = in_flight(gw.addr, &backend, "/prod/slow?sleep_ms=1500");
    assert!(
        gw.reload(&api(&backend, "two", false, &[])),
        "{}",
        gw.logs()
    );
    assert_eq!(
        gw.get("/prod/slow").status,
        403,
        "the new config has no /slow"
    );
    let r = slow.join().expect("client thread");
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.json()["path"], "/slow");
}

#[test]
fn no_request_fails_during_20_reloads() {
    let backend = Backend::start();
    let gw = start(&backend);
    let load = Load::start(
        gw.addr,
        3,
        &["/prod/pets/1", "/prod/slow", "/dev/pets/2"],
        5_000,
        false,
    );
    for i in 0..20 {
        // Each reload happens while the clients are busy.
        let sent = load.sent();
        assert!(
            wait_until(Duration::from_secs(10), || load.sent() >= sent + 5),
            "the clients stalled"
        );
        let v = if i % 2 == 0 { "two" } else { "one" };
        assert!(gw.reload(&api(&backend, v, true, &[])), "{}", gw.logs());
    }
    let (sent, failures) = load.finish();
    assert!(sent >= 100, "only {sent} requests were sent");
    assert!(
        failures.is_empty(),
        "{} of {sent} requests failed, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert_eq!(
        gw.metric("tollgate_config_reloads_total", &[("result", "success")]),
        20.0
    );
}

// ---------------------------------------------------------------------------------------------
// SIGTERM, SIGQUIT upgrade, exit codes
// ---------------------------------------------------------------------------------------------

#[test]
fn sigterm_drains_in_flight_requests_then_exits() {
    let backend = Backend::start();
    let mut gw = Gateway::start_raw(&with_grace(4, &api(&backend, "one", true, &[])));
    let slow = in_flight(gw.addr, &backend, "/prod/slow?sleep_ms=1500");
    gw.signal("TERM");
    let r = slow.join().expect("client thread");
    assert_eq!(r.status, 200, "{}", r.body_str());
    let status = gw.wait_exit(Duration::from_secs(20));
    assert!(
        status.is_some_and(|s| s.success()),
        "exit {status:?}\n{}",
        gw.logs()
    );
}

#[test]
fn graceful_upgrade_hands_over_without_failures() {
    let backend = Backend::start();
    let mut gw = Gateway::start_raw(&with_grace(1, &api(&backend, "one", true, &[])));
    // Pingora closes a connection that its old process accepted just before it stopped, without
    // reading the request already on it (seen about once in 20,000 requests): clients retry
    // such unanswered idempotent requests, and so does this load.
    let load = Load::start(gw.addr, 2, &["/prod/pets/1", "/prod/slow"], 20_000, true);
    let config = gw.config_path.display().to_string();
    let mut new = spawn_tollgate(gw.dir(), "upgrade", &["run", "-c", &config, "--upgrade"]);
    let sock = gw.dir().join("tollgate-upgrade.sock");
    assert!(
        wait_until(Duration::from_secs(5), || sock.exists()),
        "the new process did not open {}",
        sock.display()
    );
    gw.signal("QUIT");
    let old_exit = gw.wait_exit(Duration::from_secs(30));
    assert!(
        old_exit.is_some(),
        "the old process did not exit\n{}",
        gw.logs()
    );
    // Keep the load on the new process alone for a moment.
    let sent_at_handover = load.sent();
    assert!(
        wait_until(Duration::from_secs(10), || load.sent()
            >= sent_at_handover + 50),
        "no requests were served after the old process exited"
    );
    let (sent, failures) = load.finish();
    assert!(
        failures.is_empty(),
        "{} of {sent} requests failed across the upgrade, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(
        new.0.try_wait().ok().flatten().is_none(),
        "the new process died"
    );
    let r = gw.get("/prod/pets/1");
    assert_eq!(r.status, 200);
    let m = request(gw.admin, "GET", "/metrics", &[], b"").body_str();
    assert!(
        metric_value(&m, "tollgate_requests_total", &[("stage", "prod")]) >= 50.0,
        "the new process's admin listener does not count the requests:\n{m}"
    );
    new.0.kill().expect("kill the new process");
    assert!(new.wait_exit(Duration::from_secs(10)).is_some());
}

#[test]
fn run_with_an_invalid_config_exits_1_with_file_line_col() {
    let dir = TempDir::new("tollgate-badrun");
    let text = "restApis:\n  - id: petstore\n    bogusKey: 1\n    resources: {}\n";
    let path = dir.write("tollgate.yaml", text);
    let config = path.display().to_string();
    let mut child = spawn_tollgate(dir.path(), "run", &["run", "-c", &config]);
    let status = child
        .wait_exit(Duration::from_secs(10))
        .expect("tollgate run did not exit on an invalid config");
    assert_eq!(status.code(), Some(1));
    let stderr = fs::read_to_string(dir.path().join("run.stderr")).unwrap_or_default();
    let at = format!("{config}:3:5:");
    assert!(stderr.contains(&at), "expected {at} in:\n{stderr}");
    assert!(stderr.contains("bogusKey"), "{stderr}");
}
