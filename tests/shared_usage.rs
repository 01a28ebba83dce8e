//! Usage plans shared through a real `redis-server` (`server.redis`): two Tollgate processes
//! admitting exactly N together and keeping one key's rate together, admitting from leases
//! with few Redis calls, idle leases given back to the fleet, and Redis killed and restarted
//! under load without failed requests, the counts made meanwhile added back to Redis.

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const KEY: &str = "shared-key-0123456789abcdefgh";

/// A `redis-server` on `port`, without persistence; killed on drop.
struct Redis {
    child: Child,
    addr: SocketAddr,
}

impl Redis {
    fn start(port: u16) -> Redis {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (scripts/deps.sh installs it)");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let r = Redis { child, addr };
        let deadline = Instant::now() + Duration::from_secs(10);
        while r.command(&["PING"]).as_deref() != Some("+PONG") {
            assert!(Instant::now() < deadline, "redis-server did not start");
            thread::sleep(Duration::from_millis(20));
        }
        r
    }

    fn free_port() -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    }

    /// One RESP command; the reply's first line (bulk strings: their value).
    fn command(&self, args: &[&str]) -> Option<String> {
        let mut s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req += &format!("${}\r\n{a}\r\n", a.len());
        }
        s.write_all(req.as_bytes()).ok()?;
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).ok()?;
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        let mut lines = text.split("\r\n");
        let first = lines.next()?.to_string();
        if first.starts_with('$') && first != "$-1" {
            return lines.next().map(str::to_string);
        }
        Some(first)
    }

    /// Script calls served since the last `CONFIG RESETSTAT` (`INFO commandstats`).
    fn script_calls(&self) -> u64 {
        let mut s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).expect("redis");
        s.set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        s.write_all(b"*2\r\n$4\r\nINFO\r\n$12\r\ncommandstats\r\n")
            .expect("write");
        let mut reply = Vec::new();
        let mut buf = [0u8; 4096];
        // A bulk string: `$<len>\r\n<len bytes>\r\n`.
        loop {
            let n = s.read(&mut buf).expect("read");
            assert!(n > 0, "redis closed the connection");
            reply.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&reply);
            if let Some((head, body)) = text.split_once("\r\n") {
                let len: usize = head.trim_start_matches('$').parse().expect("bulk length");
                if body.len() >= len + 2 {
                    break;
                }
            }
        }
        String::from_utf8_lossy(&reply)
            .lines()
            .filter(|l| l.starts_with("cmdstat_evalsha:") || l.starts_with("cmdstat_eval:"))
            .filter_map(|l| {
                let calls = l.split_once("calls=")?.1;
                calls.split(',').next()?.parse::<u64>().ok()
            })
            .sum()
    }

    /// Waits until `key` holds `value` (leases given back).
    fn wait_for(&self, key: &str, value: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = self.command(&["GET", key]);
            if now.as_deref() == Some(value) {
                return;
            }
            assert!(Instant::now() < deadline, "{key} is {now:?}, never {value}");
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(redis: SocketAddr, limit: u64) -> String {
    config_with(redis, limit, "{rateLimit: 100000, burstLimit: 100000}")
}

fn config_with(redis: SocketAddr, limit: u64, throttle: &str) -> String {
    format!(
        r#"
server:
  listen: ["{{LISTEN}}"]
  admin: "{{ADMIN}}"
  threads: 2
  gracePeriodSeconds: 1
  redis: "redis://{redis}"
apiKeys: [{{name: shared, value: "{KEY}"}}]
usagePlans:
  - name: fleet
    apiKeys: [shared]
    apiStages: [{{apiId: api, stage: prod}}]
    quota: {{limit: {limit}, period: DAY}}
    throttle: {throttle}
restApis:
  - id: api
    resources:
      /q:
        GET:
          apiKeyRequired: true
          integration:
            type: MOCK
            requestTemplates: {{application/json: '{{"statusCode": 200}}'}}
            integrationResponses: [{{statusCode: "200"}}]
    stages: [{{stageName: prod}}]
"#
    )
}

fn wait_redis_up(gw: &Gateway, up: f64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while gw.metric("tollgate_redis_up", &[]) != up {
        assert!(
            Instant::now() < deadline,
            "tollgate_redis_up never became {up}\n{}",
            gw.logs()
        );
        thread::sleep(Duration::from_millis(50));
    }
}

fn today_key() -> String {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        / 86_400;
    format!("tollgate:{{fleet:shared}}:quota:DAY:{days}")
}

#[test]
fn two_nodes_share_one_quota_exactly() {
    const N: usize = 45;
    let redis = Redis::start(Redis::free_port());
    let a = Gateway::start_raw(&config(redis.addr, N as u64));
    let b = Gateway::start_raw(&config(redis.addr, N as u64));
    wait_redis_up(&a, 1.0);
    wait_redis_up(&b, 1.0);
    let accepted = AtomicUsize::new(0);
    let refused = AtomicUsize::new(0);
    thread::scope(|s| {
        for gw in [&a, &b, &a, &b, &a, &b] {
            let (accepted, refused) = (&accepted, &refused);
            s.spawn(move || {
                let mut conn = Conn::open(gw.addr);
                for _ in 0..25 {
                    let r = conn.request("GET", "/prod/q", &[("x-api-key", KEY)], b"");
                    match r.status {
                        200 => accepted.fetch_add(1, Ordering::Relaxed),
                        429 => {
                            assert_eq!(r.body_str(), r#"{"message":"Limit Exceeded"}"#);
                            refused.fetch_add(1, Ordering::Relaxed)
                        }
                        other => panic!("{other}: {}", r.body_str()),
                    };
                }
            });
        }
    });
    assert_eq!(accepted.load(Ordering::Relaxed), N);
    assert_eq!(refused.load(Ordering::Relaxed), 150 - N);
    assert_eq!(redis.command(&["GET", &today_key()]), Some(N.to_string()));
    // Both nodes refused some: the quota was shared, not split.
    for gw in [&a, &b] {
        let labels = [("api", "api"), ("stage", "prod"), ("reason", "quota")];
        assert!(gw.metric("tollgate_throttled_total", &labels) > 0.0);
    }
}

#[test]
fn redis_killed_and_restarted_under_load() {
    let port = Redis::free_port();
    let redis = Redis::start(port);
    let gw = Gateway::start_raw(&config(redis.addr, 100_000));
    wait_redis_up(&gw, 1.0);
    let get = || {
        gw.request("GET", "/prod/q", &[("x-api-key", KEY)], b"")
            .status
    };
    assert!((0..10).all(|_| get() == 200));
    // The node's unused lease goes back once it is idle.
    redis.wait_for(&today_key(), "10");

    // Redis goes away: requests are still served, counted locally.
    redis.stop();
    assert!((0..20).all(|_| get() == 200));
    wait_redis_up(&gw, 0.0);
    assert!(gw.metric("tollgate_redis_errors_total", &[]) >= 1.0);
    assert!(gw.logs().contains("quotas are counted locally"));

    // Back (empty, it kept nothing): the 20 counted meanwhile are added to it.
    let redis = Redis::start(port);
    wait_redis_up(&gw, 1.0);
    assert_eq!(redis.command(&["GET", &today_key()]), Some("20".into()));
    assert!((0..5).all(|_| get() == 200));
    redis.wait_for(&today_key(), "25");
}

/// Sends `n` keyed requests to `gw` on one connection: (accepted, refused by the quota).
fn send(gw: &Gateway, n: usize) -> (usize, usize) {
    let mut conn = Conn::open(gw.addr);
    let (mut ok, mut refused) = (0, 0);
    for _ in 0..n {
        let r = conn.request("GET", "/prod/q", &[("x-api-key", KEY)], b"");
        match r.status {
            200 => ok += 1,
            429 => {
                assert_eq!(r.body_str(), r#"{"message":"Limit Exceeded"}"#);
                refused += 1;
            }
            other => panic!("{other}: {}", r.body_str()),
        }
    }
    (ok, refused)
}

#[test]
fn keyed_requests_are_admitted_from_leases_off_the_network() {
    const N: usize = 1000;
    let redis = Redis::start(Redis::free_port());
    let a = Gateway::start_raw(&config(redis.addr, N as u64));
    let b = Gateway::start_raw(&config(redis.addr, N as u64));
    wait_redis_up(&a, 1.0);
    wait_redis_up(&b, 1.0);
    assert_eq!(
        redis.command(&["CONFIG", "RESETSTAT"]).as_deref(),
        Some("+OK")
    );
    let accepted = AtomicUsize::new(0);
    thread::scope(|s| {
        for gw in [&a, &b, &a, &b] {
            let accepted = &accepted;
            s.spawn(move || {
                accepted.fetch_add(send(gw, 500).0, Ordering::Relaxed);
            });
        }
    });
    // 2000 requests, the quota exact across both nodes, a small fraction of them in Redis.
    assert_eq!(accepted.load(Ordering::Relaxed), N);
    assert_eq!(redis.command(&["GET", &today_key()]), Some(N.to_string()));
    let calls = redis.script_calls();
    assert!(calls < 200, "{calls} Redis script calls for 2000 requests");
}

#[test]
fn an_idle_node_gives_its_lease_back_for_the_others() {
    const N: usize = 100;
    let redis = Redis::start(Redis::free_port());
    let a = Gateway::start_raw(&config(redis.addr, N as u64));
    let b = Gateway::start_raw(&config(redis.addr, N as u64));
    wait_redis_up(&a, 1.0);
    wait_redis_up(&b, 1.0);
    assert_eq!(send(&a, 10), (10, 0));
    // `a` leased more than it used ...
    let held: usize = redis
        .command(&["GET", &today_key()])
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(held > 10, "redis counts {held}");
    // ... and gives the rest back once idle, so `b` gets all that is left, exactly.
    redis.wait_for(&today_key(), "10");
    assert_eq!(send(&b, 150), (N - 10, 60));
    assert_eq!(redis.command(&["GET", &today_key()]), Some(N.to_string()));
    assert_eq!(send(&a, 5), (0, 5));
}

/// Two nodes sharing one key's bucket of `rate`/`burst`, four clients sending as fast as they
/// can for `secs`: (accepted, refused, seconds).
fn fleet_rate(rate: f64, burst: usize, secs: u64) -> (f64, f64, f64) {
    let redis = Redis::start(Redis::free_port());
    let throttle = format!("{{rateLimit: {rate}, burstLimit: {burst}}}");
    let a = Gateway::start_raw(&config_with(redis.addr, 1_000_000, &throttle));
    let b = Gateway::start_raw(&config_with(redis.addr, 1_000_000, &throttle));
    wait_redis_up(&a, 1.0);
    wait_redis_up(&b, 1.0);
    let accepted = AtomicUsize::new(0);
    let refused = AtomicUsize::new(0);
    let first = Instant::now();
    let run_for = Duration::from_secs(secs);
    thread::scope(|s| {
        for gw in [&a, &b, &a, &b] {
            let (accepted, refused) = (&accepted, &refused);
            s.spawn(move || {
                let mut conn = Conn::open(gw.addr);
                while first.elapsed() < run_for {
                    let r = conn.request("GET", "/prod/q", &[("x-api-key", KEY)], b"");
                    match r.status {
                        200 => accepted.fetch_add(1, Ordering::Relaxed),
                        429 => {
                            assert_eq!(r.body_str(), r#"{"message":"Too Many Requests"}"#);
                            refused.fetch_add(1, Ordering::Relaxed)
                        }
                        other => panic!("{other}: {}", r.body_str()),
                    };
                }
            });
        }
    });
    let elapsed = first.elapsed().as_secs_f64();
    // Redis stayed up: the shared bucket decided throughout.
    for gw in [&a, &b] {
        assert_eq!(
            gw.metric("tollgate_redis_errors_total", &[]),
            0.0,
            "{}",
            gw.logs()
        );
    }
    (
        accepted.load(Ordering::Relaxed) as f64,
        refused.load(Ordering::Relaxed) as f64,
        elapsed,
    )
}

#[test]
fn two_nodes_keep_one_token_bucket() {
    const RATE: f64 = 30.0;
    const BURST: usize = 75;
    let (got, _, elapsed) = fleet_rate(RATE, BURST, 3);
    // One bucket for both nodes: not twice the rate. Blocks are of 1 to 9 tokens here.
    let expected = BURST as f64 + RATE * elapsed;
    assert!(
        (got - expected).abs() <= expected * 0.05,
        "accepted {got} in {elapsed:.2}s, expected {expected:.1} ± 5%"
    );
}

#[test]
fn a_large_burst_is_leased_in_blocks_within_the_stated_bound() {
    const RATE: f64 = 100.0;
    const BURST: usize = 1600;
    let (got, refused, elapsed) = fleet_rate(RATE, BURST, 2);
    assert!(
        refused > 0.0,
        "the bucket was never emptied ({got} accepted)"
    );
    // At most burst + rate × t plus 1.5 blocks (min(1000, burst / 8) = 200) per node.
    let expected = BURST as f64 + RATE * elapsed;
    let bound = expected + 2.0 * 300.0;
    assert!(
        got >= expected * 0.95 && got <= bound,
        "accepted {got} in {elapsed:.2}s, expected {expected:.1} (at most {bound:.1})"
    );
}
