//! Local Lambda functions: Tollgate starts worker processes for each function that has a
//! `command` and serves each of them the Lambda Runtime API on loopback, so functions built
//! with AWS's runtimes (`lambda_runtime`, `awslambdaric`, a `bootstrap` of one's own) run as
//! they would on Lambda.
//!
//! [`Functions`] is the registry: [`Functions::configure`] (re)starts pools from the config,
//! [`Functions::invoke`] runs one synchronous invocation. Every pool lives on one dedicated
//! runtime thread (`tollgate-functions`), created on first use, so callers on any Tokio
//! runtime (Pingora's, a test's) talk to it through channels only. Create the first pool
//! after Pingora has daemonized (threads do not survive `fork`).
//!
//! Results follow what Lambda's `Invoke` returns: a function error is a payload plus
//! `X-Amz-Function-Error: Unhandled` ([`Invocation::function_error`]), and a time-out
//! carries the payload Lambda returns for it ([`InvokeError::Timeout`]).

pub mod invoke;
mod pool;
pub(crate) mod runtime_api;

use crate::config::model::Function;
use arc_swap::ArcSwap;
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

pub use runtime_api::MAX_RESPONSE_BYTES;

/// Largest synchronous invocation payload Lambda accepts (6 MiB).
pub const MAX_REQUEST_BYTES: usize = 6 * 1024 * 1024;
/// Lambda's default `Timeout`, seconds.
pub const DEFAULT_TIMEOUT_SECS: u64 = 3;
/// Lambda's longest `Timeout`, seconds.
pub const MAX_TIMEOUT_SECS: u64 = 900;
/// Lambda's default `MemorySize`, MB (reported to the function only; not enforced).
pub const DEFAULT_MEMORY_MB: u32 = 128;
/// Invocations that may wait per worker when all workers are busy; past that, `Throttled`.
/// (Lambda itself does not queue synchronous invocations: it scales out, then throttles.)
pub const QUEUE_PER_WORKER: usize = 10;
/// How long a worker may take from spawn to its first `next` (Lambda's init phase limit).
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// The outcome of an invocation, as Lambda's `Invoke` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The function's response, or the error object when `function_error` is set.
    pub payload: Bytes,
    /// `X-Amz-Function-Error`: `Some("Unhandled")` when the function failed.
    pub function_error: Option<String>,
    /// Lambda's request id for this invocation (`$context.integration.requestId`).
    pub request_id: String,
}

/// Why an invocation produced no function result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeError {
    /// No local function of that name (Lambda: `ResourceNotFoundException`, 404).
    NotFound,
    /// Every worker busy and the queue full (Lambda: `TooManyRequestsException`, 429).
    Throttled,
    /// Payload over [`MAX_REQUEST_BYTES`] (Lambda: `RequestTooLargeException`, 413).
    RequestTooLarge(usize),
    /// The function ran past its timeout and its worker was replaced. The invocation is
    /// what Lambda returns in that case: `Unhandled`, with
    /// `{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: … Error: Task timed out after N.00 seconds"}`.
    Timeout(Invocation),
    /// The function is stopping (removed, or Tollgate shutting down).
    Unavailable(String),
}

impl InvokeError {
    /// Lambda's `Invoke` view: a time-out is a function error, not an API error.
    pub fn into_invocation(self) -> Result<Invocation, InvokeError> {
        match self {
            InvokeError::Timeout(inv) => Ok(inv),
            e => Err(e),
        }
    }

    /// The status Lambda's `Invoke` API would answer with.
    pub fn status(&self) -> u16 {
        match self {
            InvokeError::NotFound => 404,
            InvokeError::Throttled => 429,
            InvokeError::RequestTooLarge(_) => 413,
            InvokeError::Timeout(_) => 200,
            InvokeError::Unavailable(_) => 500,
        }
    }

    /// Lambda's error type name (`x-amzn-ErrorType`).
    pub fn error_type(&self) -> &'static str {
        match self {
            InvokeError::NotFound => "ResourceNotFoundException",
            InvokeError::Throttled => "TooManyRequestsException",
            InvokeError::RequestTooLarge(_) => "RequestTooLargeException",
            InvokeError::Timeout(_) => "Sandbox.Timedout",
            InvokeError::Unavailable(_) => "ServiceException",
        }
    }
}

impl fmt::Display for InvokeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvokeError::NotFound => f.write_str("Function not found"),
            InvokeError::Throttled => f.write_str("Rate Exceeded."),
            InvokeError::RequestTooLarge(n) => write!(
                f,
                "{n} byte payload is too large for the RequestResponse invocation type ({MAX_REQUEST_BYTES} byte limit)"
            ),
            InvokeError::Timeout(inv) => f.write_str(&String::from_utf8_lossy(&inv.payload)),
            InvokeError::Unavailable(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for InvokeError {}

/// One worker process, for status pages and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerInfo {
    /// Process id, while a process runs.
    pub pid: Option<u32>,
    /// `starting`, `idle`, `busy`, `returned`, `failing`, `stopping` or `down`.
    pub state: &'static str,
    /// Cold start of the current process: spawn until its first `next`.
    pub init: Option<Duration>,
    /// Processes started for this slot after the first.
    pub restarts: u32,
    /// Invocations this slot has been handed.
    pub invocations: u64,
}

/// A local function's settings, normalised from the config (defaults applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Spec {
    pub name: String,
    pub command: Vec<String>,
    pub concurrency: usize,
    pub timeout: Duration,
    pub environment: BTreeMap<String, String>,
    pub working_directory: Option<String>,
    pub memory_size: u32,
    pub handler: Option<String>,
    pub region: String,
    pub account_id: String,
}

impl Spec {
    /// `None` for a function served elsewhere (`endpoint`) or without a command.
    fn from_config(name: &str, f: &Function, region: &str, account_id: &str) -> Option<Spec> {
        let command = f.command.clone().filter(|c| !c.is_empty())?;
        Some(Spec {
            name: name.to_string(),
            command,
            concurrency: f.concurrency.unwrap_or(1).max(1) as usize,
            timeout: Duration::from_secs(
                f.timeout
                    .unwrap_or(DEFAULT_TIMEOUT_SECS)
                    .clamp(1, MAX_TIMEOUT_SECS),
            ),
            environment: f.environment.clone(),
            working_directory: f.working_directory.clone(),
            memory_size: f.memory_size.unwrap_or(DEFAULT_MEMORY_MB),
            handler: f.handler.clone(),
            region: region.to_string(),
            account_id: account_id.to_string(),
        })
    }

    /// `arn:aws:lambda:{region}:{account}:function:{name}`.
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.region, self.account_id, self.name
        )
    }
}

/// A running pool as the registry sees it.
#[derive(Clone)]
struct PoolHandle {
    spec: Arc<Spec>,
    tx: mpsc::UnboundedSender<pool::Cmd>,
}

/// The local functions: an `Arc`-shared registry of worker pools, cheap to clone.
#[derive(Clone)]
pub struct Functions {
    inner: Arc<Inner>,
}

struct Inner {
    region: String,
    account_id: String,
    pools: ArcSwap<HashMap<String, PoolHandle>>,
    /// Serialises `configure` and `shutdown`; never held across an await.
    control: Mutex<Control>,
}

#[derive(Default)]
struct Control {
    runtime: Option<RuntimeThread>,
    shut_down: bool,
}

/// The dedicated thread that drives every pool; ends when `stop` is sent or dropped.
struct RuntimeThread {
    handle: tokio::runtime::Handle,
    _stop: oneshot::Sender<()>,
}

impl RuntimeThread {
    fn start() -> std::io::Result<RuntimeThread> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = rt.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("tollgate-functions".into())
            .spawn(move || {
                let _ = rt.block_on(stopped);
                // Dropping the runtime drops every pool and worker task; their children
                // are spawned with `kill_on_drop`, so no worker outlives this.
            })?;
        Ok(RuntimeThread {
            handle,
            _stop: stop,
        })
    }
}

impl Functions {
    /// An empty registry; `region` and `account_id` go into ARNs and worker environments.
    pub fn new(region: &str, account_id: &str) -> Functions {
        Functions {
            inner: Arc::new(Inner {
                region: region.to_string(),
                account_id: account_id.to_string(),
                pools: ArcSwap::from_pointee(HashMap::new()),
                control: Mutex::new(Control::default()),
            }),
        }
    }

    /// Applies the config's `functions`: starts new local functions, drains and stops
    /// removed ones, replaces changed ones, and leaves unchanged ones (and their warm
    /// workers) alone. Functions with an `endpoint` are not local and are ignored here.
    /// A replaced pool finishes the invocations it already holds before it stops.
    pub fn configure(&self, specs: &BTreeMap<String, Function>) {
        let mut control = self.inner.control.lock().unwrap_or_else(|e| e.into_inner());
        if control.shut_down {
            log::warn!("functions: configure after shutdown ignored");
            return;
        }
        let old = self.inner.pools.load_full();
        let mut new = HashMap::new();
        for (name, f) in specs {
            let Some(spec) = Spec::from_config(name, f, &self.inner.region, &self.inner.account_id)
            else {
                continue;
            };
            if let Some(h) = old.get(name).filter(|h| *h.spec == spec) {
                new.insert(name.clone(), h.clone());
                continue;
            }
            if control.runtime.is_none() {
                match RuntimeThread::start() {
                    Ok(rt) => control.runtime = Some(rt),
                    Err(e) => {
                        log::error!("functions: cannot start the functions thread: {e}");
                        return;
                    }
                }
            }
            let Some(rt) = control.runtime.as_ref() else {
                return;
            };
            let spec = Arc::new(spec);
            let tx = pool::start(&rt.handle, spec.clone());
            log::info!(
                "function {name}: starting {} worker(s): {:?}",
                spec.concurrency,
                spec.command
            );
            new.insert(name.clone(), PoolHandle { spec, tx });
        }
        self.inner.pools.store(Arc::new(new));
        let current = self.inner.pools.load();
        for (name, h) in old.iter() {
            let kept = current
                .get(name)
                .is_some_and(|n| Arc::ptr_eq(&n.spec, &h.spec));
            if !kept {
                log::info!("function {name}: stopping its workers (removed or changed)");
                let _ = h.tx.send(pool::Cmd::Drain);
            }
        }
    }

    /// True when `name` is a local function (one with a `command`).
    pub fn has(&self, name: &str) -> bool {
        self.inner.pools.load().contains_key(name)
    }

    /// Invokes `name` synchronously (`RequestResponse`) with `payload` as the event.
    /// Dropping the future abandons the invocation: a queued one is never started, a
    /// running one still runs to its end or timeout and its result is discarded.
    pub async fn invoke(&self, name: &str, payload: Bytes) -> Result<Invocation, InvokeError> {
        self.invoke_traced(name, payload, None).await
    }

    /// [`Functions::invoke`] with the X-Ray trace header to pass on
    /// (`Lambda-Runtime-Trace-Id`); one is made up when `None`.
    pub async fn invoke_traced(
        &self,
        name: &str,
        payload: Bytes,
        trace_id: Option<String>,
    ) -> Result<Invocation, InvokeError> {
        if payload.len() > MAX_REQUEST_BYTES {
            return Err(InvokeError::RequestTooLarge(payload.len()));
        }
        let (reply, result) = oneshot::channel();
        let mut job = pool::Job {
            payload,
            trace_id,
            reply,
        };
        // A pool being replaced by `configure` may close between the lookup and the send:
        // look up again once.
        for _ in 0..2 {
            let Some(tx) = self.inner.pools.load().get(name).map(|h| h.tx.clone()) else {
                return Err(InvokeError::NotFound);
            };
            match tx.send(pool::Cmd::Invoke(job)) {
                Ok(()) => {
                    return result.await.unwrap_or_else(|_| {
                        Err(InvokeError::Unavailable("function stopped".into()))
                    })
                }
                Err(mpsc::error::SendError(cmd)) => match cmd {
                    pool::Cmd::Invoke(j) => job = j,
                    _ => break,
                },
            }
        }
        Err(InvokeError::Unavailable("function stopped".into()))
    }

    /// The workers of `name` (empty when unknown).
    pub async fn workers(&self, name: &str) -> Vec<WorkerInfo> {
        let Some(tx) = self.inner.pools.load().get(name).map(|h| h.tx.clone()) else {
            return Vec::new();
        };
        let (reply, rx) = oneshot::channel();
        if tx.send(pool::Cmd::Workers(reply)).is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// Stops every function: fails waiting invocations, kills every worker and waits
    /// (up to 5 s) for them to exit. Later `configure` calls are ignored. Dropping the
    /// last `Functions` also kills every worker, without waiting.
    pub async fn shutdown(&self) {
        let (pools, runtime) = {
            let mut control = self.inner.control.lock().unwrap_or_else(|e| e.into_inner());
            control.shut_down = true;
            let pools = self.inner.pools.swap(Arc::new(HashMap::new()));
            (pools, control.runtime.take())
        };
        let mut waits = Vec::new();
        for h in pools.values() {
            let (tx, rx) = oneshot::channel();
            if h.tx.send(pool::Cmd::Stop(tx)).is_ok() {
                waits.push(rx);
            }
        }
        let all = async {
            for rx in waits {
                let _ = rx.await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(5), all)
            .await
            .is_err()
        {
            log::warn!("functions: workers still exiting after 5 s; killing the rest");
        }
        drop(runtime);
    }
}

#[cfg(test)]
mod tests;
