//! Process wiring: the Pingora server with the gateway, admin and background services,
//! SIGHUP reload, DNS refresh and systemd notifications.

use crate::access_log;
use crate::cache::Caches;
use crate::compile::{self, Snapshot};
use crate::config::{self, Diagnostic};
use crate::functions::Functions;
use crate::metrics::Metrics;
use crate::proxy::Gateway;
use crate::throttle::Usage;
use arc_swap::ArcSwap;
use async_trait::async_trait;
use pingora::apps::http_app::{HttpServer, ServeHttp};
use pingora::listeners::{L4BufferSettings, ListenerConfig};
use pingora::protocols::http::ServerSession;
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::{Server, ShutdownWatch};
use pingora::services::background::{background_service, BackgroundService};
use pingora::services::listening::Service;
use sd_notify::NotifyState;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often usage counts are written to the state directory.
const USAGE_FLUSH: Duration = Duration::from_secs(1);

/// How often integration host names are looked up again.
const DNS_REFRESH: Duration = Duration::from_secs(30);

/// Blocking host lookup, used only while compiling a configuration (never on a request worker).
pub fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve `{host}`: {e}"))?
        .next()
        .ok_or_else(|| format!("`{host}` has no address"))
}

/// Loads and compiles `path`; every problem comes back as a located diagnostic.
pub fn load(path: &Path, metrics: &Metrics) -> Result<(config::Config, Snapshot), Vec<Diagnostic>> {
    load_with_usage(path, metrics, &Usage::ephemeral())
}

/// [`load`], with usage plans counting into `usage`.
pub fn load_with_usage(
    path: &Path,
    metrics: &Metrics,
    usage: &Usage,
) -> Result<(config::Config, Snapshot), Vec<Diagnostic>> {
    let loaded = config::load(path)?;
    match compile::compile_with_usage(&loaded.config, metrics, &resolve, usage) {
        Ok(s) => Ok((loaded.config, s)),
        Err(problems) => Err(loaded.locate(problems)),
    }
}

/// `tollgate run`.
pub fn run(path: PathBuf, daemon: bool, upgrade: bool) -> i32 {
    init_logging();
    let metrics = Arc::new(Metrics::new());
    // The state directory and its usage counts are the ones of the first load.
    let usage = match config::load(&path) {
        Ok(l) => {
            let mut usage = Usage::open(l.config.server.state_dir.as_deref().map(Path::new));
            usage.shared = l.config.server.redis.as_deref().map(|url| {
                Arc::new(crate::throttle::Shared::new(
                    url,
                    metrics.redis_up.clone(),
                    metrics.redis_errors.clone(),
                ))
            });
            Arc::new(usage)
        }
        Err(diags) => {
            for d in diags {
                eprintln!("{d}");
            }
            return 1;
        }
    };
    let (cfg, snapshot) = match load_with_usage(&path, &metrics, &usage) {
        Ok(x) => x,
        Err(diags) => {
            for d in diags {
                eprintln!("{d}");
            }
            return 1;
        }
    };
    let s = &cfg.server;
    let run_dir = s
        .state_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().display().to_string());
    let conf = ServerConf {
        daemon,
        threads: s.threads,
        grace_period_seconds: Some(s.grace_period_seconds),
        graceful_shutdown_timeout_seconds: Some(5),
        // One single-threaded runtime per worker thread: measured faster than work stealing
        // for short proxied requests (perf/RESULTS.md).
        work_stealing: false,
        upgrade_sock: s
            .upgrade_sock
            .clone()
            .unwrap_or_else(|| format!("{run_dir}/tollgate-upgrade.sock")),
        pid_file: s
            .pid_file
            .clone()
            .unwrap_or_else(|| format!("{run_dir}/tollgate.pid")),
        ..Default::default()
    };
    let opt = Opt {
        upgrade,
        daemon,
        ..Default::default()
    };
    let mut server = Server::new_with_opt_and_conf(opt, conf);
    server.bootstrap();

    let caches = Arc::new(Caches::default());
    let mut snapshot = snapshot;
    caches.attach(&mut snapshot);
    let state = Arc::new(ArcSwap::from_pointee(snapshot));
    let functions = Functions::new(&s.region, &s.account_id);
    let (logger, writer) = match s.access_log.as_ref().filter(|a| !a.path.is_empty()) {
        Some(a) => {
            let (l, w) = access_log::channel(&a.path, metrics.access_log_dropped.clone());
            (Some(l), Some(w))
        }
        None => (None, None),
    };
    let gateway = Gateway::new(state.clone(), metrics.clone(), logger, functions.clone());
    let mut proxy = Service::new("tollgate".to_string(), gateway);
    proxy.threads = Some(s.threads);
    for l in &s.listen {
        // The client session gathers each response in a buffer of its own: Pingora's write
        // buffer would only copy it once more. Its read buffer stays: with reads straight from
        // the socket, clients stalled across an `--upgrade` hand-over (tests/operations.rs).
        let unbuffered_writes = L4BufferSettings::default().write(0);
        proxy.add_listener(ListenerConfig::tcp(l).l4_buffer(unbuffered_writes));
    }
    server.add_service(proxy);
    if let Some(admin_addr) = &s.admin {
        let mut admin = Service::new(
            "tollgate admin".to_string(),
            HttpServer::new_app(Admin {
                state: state.clone(),
                metrics: metrics.clone(),
            }),
        );
        admin.add_tcp(admin_addr);
        admin.threads = Some(1);
        server.add_service(admin);
    }
    server.add_service(background_service(
        "tollgate control",
        Control {
            path,
            state,
            metrics,
            listen: s.listen.clone(),
            upgrade,
            access_log: Mutex::new(writer),
            functions,
            function_specs: cfg.functions.clone(),
            caches,
            usage,
        },
    ));
    server.run_forever()
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TOLLGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Reloads on SIGHUP and when integration hosts resolve differently; tells systemd.
struct Control {
    path: PathBuf,
    state: Arc<ArcSwap<Snapshot>>,
    metrics: Arc<Metrics>,
    listen: Vec<String>,
    upgrade: bool,
    access_log: Mutex<Option<access_log::Writer>>,
    /// Local Lambda functions; started here, after Pingora has daemonized.
    functions: Functions,
    function_specs: std::collections::BTreeMap<String, crate::config::model::Function>,
    /// Stage caches, kept across reloads for stages whose cache settings did not change.
    caches: Arc<Caches>,
    /// Usage plan counts, kept across reloads and written to the state directory.
    usage: Arc<Usage>,
}

impl Control {
    fn reload(&self, why: &str) {
        let mut reloading = vec![NotifyState::Reloading];
        if let Ok(now) = NotifyState::monotonic_usec_now() {
            reloading.push(now);
        }
        let _ = sd_notify::notify(&reloading);
        match load_with_usage(&self.path, &self.metrics, &self.usage) {
            Ok((cfg, mut snapshot)) => {
                self.caches.attach(&mut snapshot);
                if cfg.server.listen != self.listen {
                    log::warn!(
                        "server.listen changed: listeners change only on restart or upgrade"
                    );
                }
                self.state.store(Arc::new(snapshot));
                self.functions.configure(&cfg.functions);
                self.metrics.reload(true);
                log::info!(
                    "configuration reloaded ({why}) from {}",
                    self.path.display()
                );
            }
            Err(diags) => {
                self.metrics.reload(false);
                for d in &diags {
                    log::error!("reload rejected, the running configuration stays: {d}");
                }
            }
        }
        let _ = sd_notify::notify(&[NotifyState::Ready]);
    }

    /// Writes the usage counts (on a blocking thread: it fsyncs).
    async fn flush_usage(&self) {
        let usage = self.usage.clone();
        let written = tokio::task::spawn_blocking(move || usage.flush()).await;
        if let Ok(Err(e)) = written {
            log::error!("cannot write usage counts: {e}");
        }
    }

    /// Gives unused usage plan leases back to Redis: idle ones, or `all` (reload, shutdown).
    async fn return_leases(&self, all: bool) {
        if let Some(shared) = &self.usage.shared {
            shared.sweep(all).await;
        }
    }

    /// True when some integration host now resolves to another address.
    async fn dns_changed(&self) -> bool {
        let snap = self.state.load_full();
        for (host, port, addr) in &snap.resolved_hosts {
            if let Ok(mut addrs) = tokio::net::lookup_host((host.as_str(), *port)).await {
                if let Some(a) = addrs.next() {
                    if a != *addr {
                        return true;
                    }
                }
            }
        }
        false
    }
}

#[async_trait]
impl BackgroundService for Control {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        if let Some(writer) = self.access_log.lock().ok().and_then(|mut w| w.take()) {
            std::thread::Builder::new()
                .name("access-log".into())
                .spawn(move || writer.run())
                .map_err(|e| log::error!("cannot start the access log writer: {e}"))
                .ok();
        }
        let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                log::error!("cannot listen for SIGHUP: {e}");
                return;
            }
        };
        self.functions.configure(&self.function_specs);
        let mut ready = vec![NotifyState::Ready];
        if self.upgrade {
            ready.push(NotifyState::MainPid(std::process::id()));
        }
        let _ = sd_notify::notify(&ready);
        log::info!("tollgate serving {}", self.listen.join(", "));
        let mut dns = tokio::time::interval(DNS_REFRESH);
        dns.tick().await;
        let mut flush = tokio::time::interval(USAGE_FLUSH);
        let mut sweep = tokio::time::interval(crate::throttle::shared::SWEEP);
        loop {
            tokio::select! {
                _ = shutdown.changed() => {
                    let _ = sd_notify::notify(&[NotifyState::Stopping]);
                    self.return_leases(true).await;
                    self.flush_usage().await;
                    self.functions.shutdown().await;
                    break;
                }
                _ = hup.recv() => {
                    self.reload("SIGHUP");
                    self.return_leases(true).await;
                }
                _ = sweep.tick() => self.return_leases(false).await,
                _ = flush.tick() => {
                    self.flush_usage().await;
                    if let Some(shared) = &self.usage.shared {
                        shared.probe(self.usage.pending(std::time::SystemTime::now())).await;
                    }
                }
                _ = dns.tick() => {
                    if self.dns_changed().await {
                        self.reload("integration host addresses changed");
                        self.return_leases(true).await;
                    }
                }
            }
        }
    }
}

/// The admin listener (DESIGN A4).
struct Admin {
    state: Arc<ArcSwap<Snapshot>>,
    metrics: Arc<Metrics>,
}

#[async_trait]
impl ServeHttp for Admin {
    async fn response(&self, session: &mut ServerSession) -> http::Response<Vec<u8>> {
        let method = session.req_header().method.clone();
        let path = session.req_header().uri.path().to_string();
        let (status, ctype, body) =
            admin_route(&self.state.load(), &self.metrics, method.as_str(), &path);
        http::Response::builder()
            .status(status)
            .header("Content-Type", ctype)
            .header("Content-Length", body.len())
            .body(body)
            .unwrap_or_default()
    }
}

/// Admin routing, free of I/O so it can be unit-tested.
fn admin_route(
    snap: &Snapshot,
    metrics: &Metrics,
    method: &str,
    path: &str,
) -> (u16, &'static str, Vec<u8>) {
    const JSON: &str = "application/json";
    match (method, path) {
        ("GET", "/metrics") => (200, "text/plain; version=0.0.4", metrics.render()),
        ("GET", "/healthz") => (200, "text/plain", b"ok\n".to_vec()),
        ("GET", p) if p.starts_with("/usageplans/") && p.ends_with("/usage") => {
            let id = &p["/usageplans/".len()..p.len() - "/usage".len()];
            match crate::throttle::plans::usage_report(
                &snap.limits,
                id,
                std::time::SystemTime::now(),
            ) {
                Some(body) => (200, JSON, body.into_bytes()),
                None => (
                    404,
                    JSON,
                    br#"{"message":"Invalid Usage Plan ID specified"}"#.to_vec(),
                ),
            }
        }
        ("DELETE", p) => {
            let parts: Vec<&str> = p.trim_matches('/').split('/').collect();
            match parts.as_slice() {
                ["restapis", api, "stages", stage, "cache", what @ ("data" | "authorizers")] => {
                    let found = snap
                        .api(api)
                        .and_then(|a| Some(&snap.apis[a].stages[snap.apis[a].stage(stage)?]));
                    if let Some(stage) = found {
                        if *what == "data" {
                            if let Some(cache) = &stage.cache {
                                cache.flush();
                            }
                        } else {
                            stage.flush_authorizers();
                        }
                        (202, JSON, Vec::new())
                    } else {
                        (
                            404,
                            JSON,
                            br#"{"message":"Invalid stage identifier specified"}"#.to_vec(),
                        )
                    }
                }
                _ => (404, JSON, br#"{"message":"Not Found"}"#.to_vec()),
            }
        }
        _ => (404, JSON, br#"{"message":"Not Found"}"#.to_vec()),
    }
}
