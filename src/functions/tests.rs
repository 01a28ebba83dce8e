//! Pools driven end to end with real worker processes: `tests/functions/runtime_worker.py`
//! (a stdlib Runtime API client) and, when installed, AWS's `awslambdaric`.

use super::*;
use serde_json::{json, Value};
use std::time::{Instant, SystemTime};

const WORKER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/functions/runtime_worker.py"
);
const FUNCTIONS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/functions");

fn worker(concurrency: u32, timeout: u64, env: &[(&str, &str)]) -> Function {
    Function {
        command: Some(vec!["python3".into(), WORKER.into()]),
        concurrency: Some(concurrency),
        timeout: Some(timeout),
        environment: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        memory_size: Some(256),
        handler: Some("worker.handler".into()),
        ..Default::default()
    }
}

fn config(list: Vec<(&str, Function)>) -> BTreeMap<String, Function> {
    list.into_iter().map(|(n, f)| (n.to_string(), f)).collect()
}

fn functions(list: Vec<(&str, Function)>) -> Functions {
    let f = Functions::new("eu-west-1", "123456789012");
    f.configure(&config(list));
    f
}

async fn call(f: &Functions, name: &str, event: Value) -> Result<Invocation, InvokeError> {
    f.invoke(name, Bytes::from(event.to_string())).await
}

fn body(inv: &Invocation) -> Value {
    serde_json::from_slice(&inv.payload).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&inv.payload));
    })
}

/// Waits until every worker of `name` is idle; returns their pids.
async fn ready(f: &Functions, name: &str) -> Vec<u32> {
    let start = Instant::now();
    loop {
        let ws = f.workers(name).await;
        if !ws.is_empty() && ws.iter().all(|w| w.state == "idle") {
            return ws.iter().filter_map(|w| w.pid).collect();
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{name} not ready: {ws:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

async fn gone(pid: u32) -> bool {
    for _ in 0..200 {
        if !alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn echoes_the_event_with_lambda_headers_and_environment() {
    let f = functions(vec![("echo", worker(1, 3, &[("CUSTOM", "v")]))]);
    assert!(f.has("echo") && !f.has("other"));
    let before = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let inv = call(&f, "echo", json!({"hello": [1, 2]})).await.unwrap();
    assert_eq!(inv.function_error, None);
    let b = body(&inv);
    assert_eq!(b["event"], json!({"hello": [1, 2]}));
    assert_eq!(b["requestId"], inv.request_id);
    assert_eq!(inv.request_id.len(), 36);
    assert_eq!(
        b["arn"],
        "arn:aws:lambda:eu-west-1:123456789012:function:echo"
    );
    let deadline = b["deadlineMs"].as_u64().unwrap();
    assert!(
        deadline >= before + 2_900 && deadline <= before + 13_000,
        "{deadline} vs {before}"
    );
    assert!(b["traceId"].as_str().unwrap().starts_with("Root=1-"));
    let env = &b["env"];
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "echo");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
    assert_eq!(env["AWS_LAMBDA_LOG_GROUP_NAME"], "/aws/lambda/echo");
    assert_eq!(env["AWS_LAMBDA_INITIALIZATION_TYPE"], "on-demand");
    assert_eq!(env["AWS_REGION"], "eu-west-1");
    assert_eq!(env["AWS_DEFAULT_REGION"], "eu-west-1");
    assert_eq!(env["TZ"], ":UTC");
    assert_eq!(env["_HANDLER"], "worker.handler");
    assert_eq!(env["CUSTOM"], "v");
    assert!(env["AWS_LAMBDA_RUNTIME_API"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    let stream = env["AWS_LAMBDA_LOG_STREAM_NAME"].as_str().unwrap();
    assert!(
        stream.contains("/[$LATEST]") && stream.len() == 11 + 9 + 32,
        "{stream}"
    );
    assert!(env["LAMBDA_TASK_ROOT"].as_str().unwrap().starts_with('/'));

    // The caller's trace header is passed on.
    let inv = f
        .invoke_traced("echo", Bytes::from_static(b"{}"), Some("Root=1-abc".into()))
        .await
        .unwrap();
    assert_eq!(body(&inv)["traceId"], "Root=1-abc");
    let ws = f.workers("echo").await;
    assert_eq!(ws.len(), 1);
    assert_eq!(ws[0].invocations, 2);
    eprintln!(
        "cold start (python3 runtime_worker.py): {:?}",
        ws[0].init.unwrap()
    );
    assert_eq!(
        f.invoke("nope", Bytes::new()).await,
        Err(InvokeError::NotFound)
    );
    let big = Bytes::from(vec![b' '; MAX_REQUEST_BYTES + 1]);
    assert_eq!(
        f.invoke("echo", big).await,
        Err(InvokeError::RequestTooLarge(MAX_REQUEST_BYTES + 1))
    );
    f.shutdown().await;
}

#[tokio::test]
async fn two_workers_serve_two_slow_invocations_in_parallel() {
    let f = functions(vec![("slow", worker(2, 10, &[]))]);
    let pids = ready(&f, "slow").await;
    assert_eq!(pids.len(), 2);
    let start = Instant::now();
    let (a, b) = tokio::join!(
        call(&f, "slow", json!({"sleep": 1.5})),
        call(&f, "slow", json!({"sleep": 1.5}))
    );
    let took = start.elapsed();
    let (a, b) = (body(&a.unwrap()), body(&b.unwrap()));
    assert_ne!(a["pid"], b["pid"]);
    assert!(took < Duration::from_millis(2_700), "{took:?}");
    f.shutdown().await;
}

#[tokio::test]
async fn invocations_queue_then_throttle() {
    let f = functions(vec![("q", worker(1, 10, &[]))]);
    ready(&f, "q").await;
    let mut tasks = Vec::new();
    for i in 0..(QUEUE_PER_WORKER + 2) {
        let f = f.clone();
        let event = if i == 0 {
            json!({"sleep": 1.0, "n": i})
        } else {
            json!({"n": i})
        };
        tasks.push(tokio::spawn(async move { call(&f, "q", event).await }));
        // Keep the sends in order.
        tokio::task::yield_now().await;
    }
    let mut ok = Vec::new();
    let mut throttled = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(inv) => ok.push(body(&inv)["event"]["n"].as_u64().unwrap()),
            Err(InvokeError::Throttled) => throttled += 1,
            Err(e) => panic!("{e:?}"),
        }
    }
    // One running, ten waiting, one refused; the waiting ones ran in order.
    assert_eq!(throttled, 1);
    assert_eq!(ok, (0..=QUEUE_PER_WORKER as u64).collect::<Vec<_>>());
    assert_eq!(InvokeError::Throttled.status(), 429);
    f.shutdown().await;
}

#[tokio::test]
async fn a_timed_out_worker_is_killed_and_replaced() {
    let f = functions(vec![("t", worker(1, 1, &[]))]);
    let old = ready(&f, "t").await[0];
    let start = Instant::now();
    let err = call(&f, "t", json!({"sleep": 30})).await.unwrap_err();
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(950) && took < Duration::from_secs(3),
        "{took:?}"
    );
    let InvokeError::Timeout(inv) = err.clone() else {
        panic!("{err:?}")
    };
    assert_eq!(inv.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(
        body(&inv),
        json!({
            "errorType": "Sandbox.Timedout",
            "errorMessage": format!("RequestId: {} Error: Task timed out after 1.00 seconds", inv.request_id),
        })
    );
    assert_eq!(err.into_invocation(), Ok(inv));
    assert!(gone(old).await, "old worker {old} still running");
    let new = body(&call(&f, "t", json!({})).await.unwrap())["pid"]
        .as_u64()
        .unwrap();
    assert_ne!(new, u64::from(old));
    assert_eq!(f.workers("t").await[0].restarts, 1);
    f.shutdown().await;
}

#[tokio::test]
async fn a_crash_fails_the_invocation_and_the_worker_restarts() {
    let f = functions(vec![("c", worker(1, 5, &[]))]);
    let old = ready(&f, "c").await[0];
    let inv = call(&f, "c", json!({"crash": 3})).await.unwrap();
    assert_eq!(inv.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(
        body(&inv),
        json!({
            "errorType": "Runtime.ExitError",
            "errorMessage": format!("RequestId: {} Error: Runtime exited with error: exit status 3", inv.request_id),
        })
    );
    let b = body(&call(&f, "c", json!({})).await.unwrap());
    assert_ne!(b["pid"].as_u64().unwrap(), u64::from(old));
    // A second crash in a row restarts at once too (the first `next` resets the count).
    let inv = call(&f, "c", json!({"crash": 1})).await.unwrap();
    assert!(body(&inv)["errorMessage"]
        .as_str()
        .unwrap()
        .ends_with("exit status 1"));
    let start = Instant::now();
    call(&f, "c", json!({})).await.unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(f.workers("c").await[0].restarts, 2);
    f.shutdown().await;
}

#[tokio::test]
async fn function_errors_and_runtime_api_refusals() {
    let f = functions(vec![("e", worker(1, 5, &[]))]);
    let inv = call(&f, "e", json!({"error": "boom"})).await.unwrap();
    assert_eq!(inv.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(
        body(&inv),
        json!({"errorMessage": "boom", "errorType": "TestError", "stackTrace": ["worker.py"]})
    );
    // A response to an unknown request id is refused with 400; the real one still counts.
    let inv = call(&f, "e", json!({"badid": true})).await.unwrap();
    assert_eq!(inv.function_error, None);
    let event = &body(&inv)["event"];
    assert_eq!(event["badid_status"], 400);
    assert_eq!(
        event["badid_body"],
        json!({"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"})
    );
    // An oversized response is refused with 413 and fails the invocation.
    let inv = call(&f, "e", json!({"big": 7_000_000})).await.unwrap();
    assert_eq!(inv.function_error.as_deref(), Some("Unhandled"));
    let b = body(&inv);
    assert_eq!(b["errorType"], "Function.ResponseSizeTooLarge");
    assert!(b["errorMessage"]
        .as_str()
        .unwrap()
        .contains("(7000002 bytes) exceeded maximum allowed payload size (6291556 bytes)"));
    // And the worker carries on.
    assert_eq!(call(&f, "e", json!({})).await.unwrap().function_error, None);
    f.shutdown().await;
}

#[tokio::test]
async fn init_failures_answer_the_waiting_invocations() {
    let f = functions(vec![
        (
            "posted",
            worker(1, 5, &[("WORKER_INIT_ERROR", "no config")]),
        ),
        ("exits", worker(1, 5, &[("WORKER_INIT_CRASH", "4")])),
        (
            "missing",
            Function {
                command: Some(vec!["/nonexistent/bootstrap".into()]),
                ..Default::default()
            },
        ),
    ]);
    let inv = call(&f, "posted", json!({})).await.unwrap();
    assert_eq!(inv.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(
        body(&inv),
        json!({"errorMessage": "no config", "errorType": "Runtime.InitTest"})
    );
    let inv = call(&f, "exits", json!({})).await.unwrap();
    let b = body(&inv);
    assert_eq!(b["errorType"], "Runtime.ExitError");
    assert!(b["errorMessage"]
        .as_str()
        .unwrap()
        .ends_with("Runtime exited with error: exit status 4"));
    let inv = call(&f, "missing", json!({})).await.unwrap();
    let b = body(&inv);
    assert_eq!(b["errorType"], "Runtime.InvalidEntrypoint");
    assert!(
        b["errorMessage"].as_str().unwrap().contains("No such file"),
        "{b}"
    );
    // Failing inits back off instead of spinning.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let restarts = f.workers("exits").await[0].restarts;
    assert!((2..=8).contains(&restarts), "{restarts}");
    f.shutdown().await;
}

#[tokio::test]
async fn reconfigure_keeps_unchanged_workers_and_drains_replaced_ones() {
    let f = functions(vec![
        ("keep", worker(1, 5, &[])),
        ("change", worker(1, 5, &[("CUSTOM", "1")])),
        ("drop", worker(2, 5, &[])),
    ]);
    let keep = ready(&f, "keep").await;
    let change = ready(&f, "change").await;
    let dropped = ready(&f, "drop").await;
    // An invocation running on `change` while it is replaced still completes.
    let running = {
        let f = f.clone();
        tokio::spawn(async move { call(&f, "change", json!({"sleep": 1.0})).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    f.configure(&config(vec![
        ("keep", worker(1, 5, &[])),
        ("change", worker(1, 5, &[("CUSTOM", "2")])),
        ("new", worker(1, 5, &[])),
    ]));
    assert!(f.has("new") && !f.has("drop"));
    let old = body(&running.await.unwrap().unwrap());
    assert_eq!(old["env"]["CUSTOM"], "1");
    assert_eq!(old["pid"].as_u64().unwrap(), u64::from(change[0]));
    assert_eq!(ready(&f, "keep").await, keep);
    let b = body(&call(&f, "change", json!({})).await.unwrap());
    assert_eq!(b["env"]["CUSTOM"], "2");
    assert!(gone(change[0]).await);
    for pid in dropped {
        assert!(gone(pid).await, "removed function's worker {pid} lives");
    }
    assert_eq!(
        call(&f, "drop", json!({})).await,
        Err(InvokeError::NotFound)
    );
    ready(&f, "new").await;
    f.shutdown().await;
}

#[tokio::test]
async fn shutdown_kills_every_worker() {
    let f = functions(vec![("a", worker(2, 5, &[])), ("b", worker(2, 5, &[]))]);
    let mut pids = ready(&f, "a").await;
    pids.extend(ready(&f, "b").await);
    assert_eq!(pids.len(), 4);
    // One of them busy at the time.
    let busy = {
        let f = f.clone();
        tokio::spawn(async move { call(&f, "a", json!({"sleep": 5})).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    f.shutdown().await;
    for pid in &pids {
        assert!(!alive(*pid), "worker {pid} survived shutdown");
    }
    assert!(matches!(
        busy.await.unwrap(),
        Err(InvokeError::Unavailable(_))
    ));
    assert!(!f.has("a"));
    f.configure(&config(vec![("a", worker(1, 5, &[]))]));
    assert!(!f.has("a"), "configure after shutdown is ignored");
}

#[tokio::test]
async fn dropping_the_registry_kills_workers() {
    let f = functions(vec![("d", worker(1, 5, &[]))]);
    let pid = ready(&f, "d").await[0];
    drop(f);
    assert!(gone(pid).await, "worker {pid} outlived its registry");
}

#[tokio::test]
async fn an_abandoned_invocation_never_starts() {
    let f = functions(vec![("x", worker(1, 5, &[]))]);
    ready(&f, "x").await;
    let slow = {
        let f = f.clone();
        tokio::spawn(async move { call(&f, "x", json!({"sleep": 0.8})).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Queued behind the slow one, then given up by its caller.
    let gave_up = tokio::time::timeout(Duration::from_millis(100), call(&f, "x", json!({}))).await;
    assert!(gave_up.is_err());
    slow.await.unwrap().unwrap();
    call(&f, "x", json!({})).await.unwrap();
    assert_eq!(f.workers("x").await[0].invocations, 2);
    f.shutdown().await;
}

/// Python with `awslambdaric`: `TOLLGATE_TEST_RIC_PYTHON`, else `python3`; `None` skips.
fn ric_python() -> Option<String> {
    let python = std::env::var("TOLLGATE_TEST_RIC_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = std::process::Command::new(&python)
        .args(["-c", "import awslambdaric"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(python)
}

#[tokio::test]
async fn awslambdaric_round_trips() {
    let Some(python) = ric_python() else {
        eprintln!("skipped: no awslambdaric (pip install awslambdaric; TOLLGATE_TEST_RIC_PYTHON)");
        return;
    };
    let ric = Function {
        command: Some(vec![
            python,
            "-m".into(),
            "awslambdaric".into(),
            "echo_ric.handler".into(),
        ]),
        working_directory: Some(FUNCTIONS_DIR.into()),
        memory_size: Some(512),
        handler: Some("echo_ric.handler".into()),
        ..Default::default()
    };
    let f = functions(vec![("ric", ric)]);
    let inv = call(&f, "ric", json!({"hi": 1})).await.unwrap();
    assert_eq!(inv.function_error, None, "{:?}", body(&inv));
    let b = body(&inv);
    assert_eq!(b["event"], json!({"hi": 1}));
    assert_eq!(b["requestId"], inv.request_id);
    assert_eq!(b["functionName"], "ric");
    assert_eq!(b["functionVersion"], "$LATEST");
    assert_eq!(b["memoryLimitInMB"], "512");
    assert_eq!(
        b["invokedFunctionArn"],
        "arn:aws:lambda:eu-west-1:123456789012:function:ric"
    );
    let remaining = b["remainingMs"].as_u64().unwrap();
    assert!(remaining > 2_000 && remaining <= 3_000, "{remaining}");
    // A second call reuses the warm worker over its keep-alive connection.
    let inv = call(&f, "ric", json!({"fail": "bad input"})).await.unwrap();
    assert_eq!(inv.function_error.as_deref(), Some("Unhandled"));
    let b = body(&inv);
    assert_eq!(b["errorType"], "ValueError");
    assert_eq!(b["errorMessage"], "bad input");
    let ws = f.workers("ric").await;
    assert_eq!((ws[0].restarts, ws[0].invocations), (0, 2));
    eprintln!("cold start (awslambdaric): {:?}", ws[0].init.unwrap());
    f.shutdown().await;
}
