//! One function's worker pool: an actor task that owns every worker slot and the queue of
//! waiting invocations, fed by commands from the registry and by events from the workers'
//! Runtime API connections and processes. All state changes happen in this one task, so
//! there are no locks; deadlines (time-outs, init limits, restart back-off) are timers of
//! the same loop.

use super::runtime_api::{self, Assignment, Body, Call, NextReply, Reply};
use super::{Invocation, InvokeError, Spec, WorkerInfo, INIT_TIMEOUT, QUEUE_PER_WORKER};
use crate::ids;
use crate::utc::DateTime;
use bytes::Bytes;
use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

/// Longest wait before restarting a worker that keeps failing.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How long a worker that reported an init error may take to exit by itself.
const INIT_ERROR_GRACE: Duration = Duration::from_secs(1);

/// From the registry.
pub(crate) enum Cmd {
    Invoke(Job),
    /// Finish queued and running invocations, then stop (removed or replaced function).
    Drain,
    /// Stop now: fail what waits, kill every worker, answer when all have exited.
    Stop(oneshot::Sender<()>),
    Workers(oneshot::Sender<Vec<WorkerInfo>>),
}

/// A caller's invocation.
pub(crate) struct Job {
    pub payload: Bytes,
    pub trace_id: Option<String>,
    pub reply: oneshot::Sender<Result<Invocation, InvokeError>>,
}

/// Identifies one process of one slot; events from replaced processes are ignored.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Tag {
    slot: usize,
    gen: u64,
}

enum Event {
    Call(Tag, Call),
    Exited(Tag, String),
}

/// Starts the pool's actor on `rt` and returns its command channel.
pub(crate) fn start(rt: &tokio::runtime::Handle, spec: Arc<Spec>) -> mpsc::UnboundedSender<Cmd> {
    let (tx, rx) = mpsc::unbounded_channel();
    rt.spawn(async move { Pool::new(spec).run(rx).await });
    tx
}

/// What a worker slot is doing.
enum State {
    /// No process; restarts at the instant, if any.
    Down(Option<Instant>),
    /// Spawned, has not asked for its first invocation yet.
    Starting(Instant),
    /// Waiting in `next`.
    Idle(oneshot::Sender<NextReply>),
    /// Running an invocation.
    Busy(Running),
    /// Answered its invocation, has not asked for the next one yet.
    Returned,
    /// Reported an init error; killed at the instant unless it exits first.
    Failing(Instant, Bytes),
    /// Killed; waiting for the exit. An init failure to report then, if any.
    Stopping(Option<InitFailure>),
}

struct Running {
    request_id: String,
    reply: oneshot::Sender<Result<Invocation, InvokeError>>,
    deadline: Instant,
}

/// Why a worker never became ready; answered to invocations that waited for it.
#[derive(Clone)]
enum InitFailure {
    /// The body the runtime posted to `init/error`.
    Posted(Bytes),
    /// `errorType` and the text after `Error: `.
    Failed(&'static str, String),
}

impl InitFailure {
    fn payload(&self, request_id: &str) -> Bytes {
        match self {
            InitFailure::Posted(b) => b.clone(),
            InitFailure::Failed(error_type, what) => error_payload(error_type, request_id, what),
        }
    }
}

struct Slot {
    gen: u64,
    pid: Option<u32>,
    kill: Option<oneshot::Sender<()>>,
    state: State,
    failures: u32,
    spawned_at: Option<Instant>,
    init: Option<Duration>,
    started: u32,
    invocations: u64,
}

struct Pool {
    spec: Arc<Spec>,
    arn: Arc<str>,
    slots: Vec<Slot>,
    queue: VecDeque<Job>,
    events_tx: mpsc::UnboundedSender<Event>,
    events_rx: mpsc::UnboundedReceiver<Event>,
    draining: bool,
    stopping: bool,
    stop_waiters: Vec<oneshot::Sender<()>>,
    last_init_failure: Option<InitFailure>,
    next_gen: u64,
}

impl Pool {
    fn new(spec: Arc<Spec>) -> Pool {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let slots = (0..spec.concurrency)
            .map(|_| Slot {
                gen: 0,
                pid: None,
                kill: None,
                state: State::Down(None),
                failures: 0,
                spawned_at: None,
                init: None,
                started: 0,
                invocations: 0,
            })
            .collect();
        Pool {
            arn: Arc::from(spec.arn()),
            spec,
            slots,
            queue: VecDeque::new(),
            events_tx,
            events_rx,
            draining: false,
            stopping: false,
            stop_waiters: Vec::new(),
            last_init_failure: None,
            next_gen: 1,
        }
    }

    async fn run(mut self, mut cmds: mpsc::UnboundedReceiver<Cmd>) {
        for i in 0..self.slots.len() {
            self.spawn(i);
        }
        let mut cmds_open = true;
        loop {
            let deadline = self.next_deadline();
            tokio::select! {
                cmd = cmds.recv(), if cmds_open => match cmd {
                    Some(cmd) => self.on_cmd(cmd),
                    None => {
                        // Every handle is gone: the registry dropped this pool.
                        cmds_open = false;
                        if !self.draining {
                            self.begin_stop();
                        }
                    }
                },
                Some(ev) = self.events_rx.recv() => self.on_event(ev),
                _ = sleep_until(deadline), if deadline.is_some() => self.on_deadlines(),
            }
            self.keep_running();
            self.dispatch();
            if self.finished() {
                break;
            }
        }
        for w in self.stop_waiters.drain(..) {
            let _ = w.send(());
        }
        log::debug!("function {}: pool stopped", self.spec.name);
    }

    fn on_cmd(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Invoke(job) => self.on_invoke(job),
            Cmd::Drain => self.draining = true,
            Cmd::Stop(w) => {
                self.stop_waiters.push(w);
                self.begin_stop();
            }
            Cmd::Workers(reply) => {
                let _ = reply.send(self.slots.iter().map(Slot::info).collect());
            }
        }
    }

    fn on_invoke(&mut self, job: Job) {
        if self.stopping {
            let _ = job
                .reply
                .send(Err(InvokeError::Unavailable("function stopping".into())));
            return;
        }
        // Every worker is down after failed inits: answer at once with the init error,
        // as Lambda does when an invocation's execution environment fails to start.
        if let Some(f) = &self.last_init_failure {
            let starting = self.slots.iter().any(|s| {
                !matches!(
                    s.state,
                    State::Down(_) | State::Failing(..) | State::Stopping(_)
                )
            });
            if !starting {
                let request_id = ids::request_id().to_string();
                let _ = job
                    .reply
                    .send(Ok(unhandled(f.payload(&request_id), request_id)));
                return;
            }
        }
        let limit = self.spec.concurrency * QUEUE_PER_WORKER;
        if self.queue.len() >= limit {
            self.queue.retain(|j| !j.reply.is_closed());
        }
        if self.queue.len() >= limit {
            let _ = job.reply.send(Err(InvokeError::Throttled));
            return;
        }
        self.queue.push_back(job);
    }

    fn on_event(&mut self, ev: Event) {
        match ev {
            Event::Call(tag, call) => self.on_call(tag, call),
            Event::Exited(tag, how) => self.on_exit(tag, how),
        }
    }

    fn on_call(&mut self, tag: Tag, call: Call) {
        let current = self.slots.get(tag.slot).is_some_and(|s| s.gen == tag.gen);
        if !current {
            // A call from a process being replaced: refuse and let it go.
            refuse(call, Reply::invalid_state("the worker is being replaced"));
            return;
        }
        let name = self.spec.name.clone();
        let slot = &mut self.slots[tag.slot];
        match call {
            Call::Next(waiter) => match &slot.state {
                State::Starting(_) => {
                    let init = slot.spawned_at.map(|t| t.elapsed());
                    slot.init = init;
                    slot.failures = 0;
                    self.last_init_failure = None;
                    log::info!(
                        "function {name}: worker {} (pid {}) ready, cold start {} ms",
                        tag.slot,
                        slot.pid.unwrap_or(0),
                        init.unwrap_or_default().as_millis()
                    );
                    slot.state = State::Idle(waiter);
                }
                // A repeated `next` (the runtime's earlier connection went away) replaces
                // the earlier waiter.
                State::Returned | State::Idle(_) => slot.state = State::Idle(waiter),
                State::Busy(_) => {
                    let _ = waiter.send(NextReply::Refuse(Reply::invalid_state(
                        "`next` before answering the current invocation",
                    )));
                }
                State::Down(_) | State::Failing(..) | State::Stopping(_) => {
                    let _ = waiter.send(NextReply::Refuse(Reply::invalid_state(
                        "the worker is stopping",
                    )));
                }
            },
            Call::Response {
                request_id,
                body,
                reply,
            } => {
                let answer = slot.finish(&request_id, |id| {
                    if body.too_large() {
                        let what = format!(
                            "Response payload size ({} bytes) exceeded maximum allowed payload size ({} bytes).",
                            body.len,
                            runtime_api::MAX_RESPONSE_BYTES
                        );
                        let payload = serde_json::json!({
                            "errorMessage": what,
                            "errorType": "Function.ResponseSizeTooLarge",
                        });
                        (unhandled(Bytes::from(payload.to_string()), id), Reply::too_large())
                    } else {
                        let inv = Invocation {
                            payload: body.data,
                            function_error: None,
                            request_id: id,
                        };
                        (inv, Reply::accepted())
                    }
                });
                let _ = reply.send(answer);
            }
            Call::Error {
                request_id,
                error_type,
                body,
                reply,
            } => {
                let answer = slot.finish(&request_id, |id| {
                    if body.too_large() {
                        let payload = error_payload(
                            "Function.ResponseSizeTooLarge",
                            &id,
                            "error payload exceeded the maximum allowed payload size",
                        );
                        (unhandled(payload, id), Reply::too_large())
                    } else {
                        let payload = error_body(body, error_type.as_deref());
                        (unhandled(payload, id), Reply::accepted())
                    }
                });
                let _ = reply.send(answer);
            }
            Call::InitError {
                error_type,
                body,
                reply,
            } => {
                if matches!(slot.state, State::Starting(_)) {
                    let payload = error_body(body, error_type.as_deref());
                    log::warn!(
                        "function {name}: worker {} init error: {}",
                        tag.slot,
                        String::from_utf8_lossy(&payload)
                    );
                    slot.state = State::Failing(Instant::now() + INIT_ERROR_GRACE, payload);
                    let _ = reply.send(Reply::accepted());
                } else {
                    let _ = reply.send(Reply::invalid_state("init error after init"));
                }
            }
        }
    }

    fn on_exit(&mut self, tag: Tag, how: String) {
        let Some(slot) = self.slots.get_mut(tag.slot).filter(|s| s.gen == tag.gen) else {
            return;
        };
        slot.pid = None;
        slot.kill = None;
        let name = &self.spec.name;
        let state = std::mem::replace(&mut slot.state, State::Down(None));
        let mut init_failure = None;
        match state {
            State::Busy(run) => {
                log::warn!(
                    "function {name}: worker {} {how} during invocation {}",
                    tag.slot,
                    run.request_id
                );
                slot.failures += 1;
                let what = format!("Runtime exited with error: {how}");
                let payload = error_payload("Runtime.ExitError", &run.request_id, &what);
                let _ = run.reply.send(Ok(unhandled(payload, run.request_id)));
            }
            State::Starting(_) => {
                log::warn!(
                    "function {name}: worker {} {how} before it was ready",
                    tag.slot
                );
                init_failure = Some(InitFailure::Failed(
                    "Runtime.ExitError",
                    format!("Runtime exited with error: {how}"),
                ));
            }
            State::Failing(_, posted) => init_failure = Some(InitFailure::Posted(posted)),
            State::Stopping(f) => init_failure = f,
            State::Idle(_) | State::Returned => {
                log::warn!("function {name}: worker {} {how} while idle", tag.slot);
                slot.failures += 1;
            }
            State::Down(_) => {}
        }
        if let Some(f) = init_failure {
            self.init_failed(tag.slot, f);
        }
        self.schedule_restart(tag.slot);
    }

    /// Records a failed init; when no worker is left starting or ready, the queued
    /// invocations get the failure instead of waiting for the back-off.
    fn init_failed(&mut self, i: usize, f: InitFailure) {
        self.slots[i].failures += 1;
        self.last_init_failure = Some(f.clone());
        let alive = self.slots.iter().any(|s| {
            matches!(
                s.state,
                State::Starting(_) | State::Idle(_) | State::Busy(_) | State::Returned
            )
        });
        if !alive {
            for job in self.queue.drain(..) {
                let request_id = ids::request_id().to_string();
                let _ = job
                    .reply
                    .send(Ok(unhandled(f.payload(&request_id), request_id)));
            }
        }
    }

    fn on_deadlines(&mut self) {
        let now = Instant::now();
        for i in 0..self.slots.len() {
            let due = self.slots[i].deadline().is_some_and(|d| d <= now);
            if !due {
                continue;
            }
            let name = self.spec.name.clone();
            let timeout = self.spec.timeout;
            let restart = self.should_run();
            let slot = &mut self.slots[i];
            match std::mem::replace(&mut slot.state, State::Down(None)) {
                State::Starting(_) => {
                    log::warn!(
                        "function {name}: worker {i} not ready after {} s; killing it",
                        INIT_TIMEOUT.as_secs()
                    );
                    slot.kill();
                    slot.state = State::Stopping(Some(InitFailure::Failed(
                        "Sandbox.Timedout",
                        format!(
                            "Init phase timed out after {}.00 seconds",
                            INIT_TIMEOUT.as_secs()
                        ),
                    )));
                }
                State::Busy(run) => {
                    log::warn!(
                        "function {name}: invocation {} timed out after {} s; replacing worker {i}",
                        run.request_id,
                        timeout.as_secs()
                    );
                    slot.kill();
                    slot.state = State::Stopping(None);
                    let what = format!("Task timed out after {}.00 seconds", timeout.as_secs());
                    let payload = error_payload("Sandbox.Timedout", &run.request_id, &what);
                    let inv = unhandled(payload, run.request_id);
                    let _ = run.reply.send(Err(InvokeError::Timeout(inv)));
                }
                State::Failing(_, posted) => {
                    slot.kill();
                    slot.state = State::Stopping(Some(InitFailure::Posted(posted)));
                }
                State::Down(Some(_)) if restart => self.spawn(i),
                State::Down(_) => slot.state = State::Down(None),
                other => slot.state = other,
            }
        }
    }

    /// After a process ends: back off, or stay down when the pool is stopping.
    fn schedule_restart(&mut self, i: usize) {
        if !self.should_run() {
            self.slots[i].state = State::Down(None);
            return;
        }
        let delay = backoff(self.slots[i].failures);
        if delay.is_zero() {
            self.spawn(i);
        } else {
            self.slots[i].state = State::Down(Some(Instant::now() + delay));
        }
    }

    /// A draining pool starts workers again only while invocations wait.
    fn should_run(&self) -> bool {
        !self.stopping && (!self.draining || !self.queue.is_empty())
    }

    /// Restarts slots left down while the pool had nothing to do, and stops the workers
    /// of a drained pool.
    fn keep_running(&mut self) {
        if self.should_run() {
            for i in 0..self.slots.len() {
                if matches!(self.slots[i].state, State::Down(None)) {
                    self.schedule_restart(i);
                }
            }
        }
        let drained = self.draining
            && self.queue.is_empty()
            && !self.slots.iter().any(|s| matches!(s.state, State::Busy(_)));
        if drained || self.stopping {
            for slot in &mut self.slots {
                match slot.state {
                    State::Down(_) => slot.state = State::Down(None),
                    State::Stopping(_) => {}
                    _ => {
                        slot.kill();
                        slot.state = State::Stopping(None);
                    }
                }
            }
        }
    }

    fn begin_stop(&mut self) {
        self.stopping = true;
        for job in self.queue.drain(..) {
            let _ = job
                .reply
                .send(Err(InvokeError::Unavailable("function stopping".into())));
        }
        for slot in &mut self.slots {
            if matches!(slot.state, State::Busy(_)) {
                if let State::Busy(run) = std::mem::replace(&mut slot.state, State::Returned) {
                    let _ = run
                        .reply
                        .send(Err(InvokeError::Unavailable("function stopping".into())));
                }
            }
        }
        // `keep_running` kills the workers.
    }

    fn finished(&self) -> bool {
        (self.stopping || self.draining)
            && self.queue.is_empty()
            && self
                .slots
                .iter()
                .all(|s| matches!(s.state, State::Down(None)))
    }

    /// Hands waiting invocations to idle workers.
    fn dispatch(&mut self) {
        while !self.queue.is_empty() {
            let Some(i) = self.idle_slot() else {
                return;
            };
            let Some(job) = self.queue.pop_front() else {
                return;
            };
            if job.reply.is_closed() {
                continue;
            }
            let slot = &mut self.slots[i];
            let State::Idle(waiter) = std::mem::replace(&mut slot.state, State::Returned) else {
                self.queue.push_front(job);
                continue;
            };
            let request_id = ids::request_id().to_string();
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            let trace_id = job.trace_id.clone().unwrap_or_else(|| {
                format!(
                    "{};Parent={:016x};Sampled=0",
                    ids::trace_id(now.as_secs()),
                    now.as_nanos() as u64
                )
            });
            let assignment = Assignment {
                request_id: request_id.clone(),
                deadline_ms: (now + self.spec.timeout).as_millis() as u64,
                function_arn: self.arn.clone(),
                trace_id,
                payload: job.payload.clone(),
            };
            match waiter.send(NextReply::Invoke(assignment)) {
                Ok(()) => {
                    slot.invocations += 1;
                    slot.state = State::Busy(Running {
                        request_id,
                        reply: job.reply,
                        deadline: Instant::now() + self.spec.timeout,
                    });
                }
                // The `next` connection is gone; the worker will ask again.
                Err(_) => self.queue.push_front(job),
            }
        }
    }

    fn idle_slot(&mut self) -> Option<usize> {
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if let State::Idle(w) = &slot.state {
                if w.is_closed() {
                    slot.state = State::Returned;
                } else {
                    return Some(i);
                }
            }
        }
        None
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.slots.iter().filter_map(Slot::deadline).min()
    }

    /// Starts a process for slot `i` with its own Runtime API listener.
    fn spawn(&mut self, i: usize) {
        let gen = self.next_gen;
        self.next_gen += 1;
        let spec = self.spec.clone();
        let slot = &mut self.slots[i];
        slot.gen = gen;
        slot.init = None;
        slot.spawned_at = Some(Instant::now());
        let tag = Tag { slot: i, gen };
        let started = listen().and_then(|listener| {
            let addr = listener.local_addr()?;
            let child = command(&spec, &addr.to_string()).spawn()?;
            Ok((listener, child))
        });
        let (listener, mut child) = match started {
            Ok(x) => x,
            Err(e) => {
                log::error!(
                    "function {}: cannot start {:?}: {e}",
                    spec.name,
                    spec.command
                );
                slot.state = State::Down(None);
                self.init_failed(
                    i,
                    InitFailure::Failed(
                        "Runtime.InvalidEntrypoint",
                        format!("cannot start {:?}: {e}", spec.command),
                    ),
                );
                self.schedule_restart_later(i);
                return;
            }
        };
        if slot.started > 0 {
            log::info!("function {}: restarting worker {i}", spec.name);
        }
        slot.started += 1;
        slot.pid = child.id();
        let label = format!("{}[{i}]", spec.name);
        if let Some(out) = child.stdout.take() {
            tokio::spawn(forward_lines(out, label.clone()));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(forward_lines(err, label));
        }
        let (kill, killed) = oneshot::channel();
        slot.kill = Some(kill);
        slot.state = State::Starting(Instant::now() + INIT_TIMEOUT);
        tokio::spawn(run_worker(
            tag,
            child,
            listener,
            self.events_tx.clone(),
            killed,
        ));
    }

    /// After a failed spawn: never respawn in the same breath (that could loop).
    fn schedule_restart_later(&mut self, i: usize) {
        if self.should_run() {
            let delay = backoff(self.slots[i].failures).max(Duration::from_millis(100));
            self.slots[i].state = State::Down(Some(Instant::now() + delay));
        }
    }
}

impl Slot {
    fn deadline(&self) -> Option<Instant> {
        match &self.state {
            State::Down(t) => *t,
            State::Starting(t) | State::Failing(t, _) => Some(*t),
            State::Busy(run) => Some(run.deadline),
            _ => None,
        }
    }

    fn kill(&mut self) {
        if let Some(k) = self.kill.take() {
            let _ = k.send(());
        }
    }

    /// Completes the current invocation with the result `make` builds from its request id;
    /// returns what to answer the runtime.
    fn finish(
        &mut self,
        request_id: &str,
        make: impl FnOnce(String) -> (Invocation, Reply),
    ) -> Reply {
        match &self.state {
            State::Busy(run) if run.request_id == request_id => {}
            State::Busy(_) => return Reply::invalid_request_id(),
            _ => return Reply::invalid_state("no invocation in progress"),
        }
        let State::Busy(run) = std::mem::replace(&mut self.state, State::Returned) else {
            return Reply::invalid_state("no invocation in progress");
        };
        let (inv, reply) = make(run.request_id);
        let _ = run.reply.send(Ok(inv));
        reply
    }

    fn info(&self) -> WorkerInfo {
        WorkerInfo {
            pid: self.pid,
            state: match self.state {
                State::Down(_) => "down",
                State::Starting(_) => "starting",
                State::Idle(_) => "idle",
                State::Busy(_) => "busy",
                State::Returned => "returned",
                State::Failing(..) => "failing",
                State::Stopping(_) => "stopping",
            },
            init: self.init,
            restarts: self.started.saturating_sub(1),
            invocations: self.invocations,
        }
    }
}

/// 0 for the first failure, then 100 ms doubling up to [`MAX_BACKOFF`].
fn backoff(failures: u32) -> Duration {
    if failures <= 1 {
        return Duration::ZERO;
    }
    let ms = 100u64.saturating_mul(1u64 << (failures - 2).min(16));
    Duration::from_millis(ms).min(MAX_BACKOFF)
}

async fn sleep_until(t: Option<Instant>) {
    if let Some(t) = t {
        tokio::time::sleep_until(t.into()).await;
    }
}

fn refuse(call: Call, reply: Reply) {
    match call {
        Call::Next(w) => {
            let _ = w.send(NextReply::Refuse(reply));
        }
        Call::Response { reply: r, .. }
        | Call::Error { reply: r, .. }
        | Call::InitError { reply: r, .. } => {
            let _ = r.send(reply);
        }
    }
}

fn unhandled(payload: Bytes, request_id: String) -> Invocation {
    Invocation {
        payload,
        function_error: Some("Unhandled".into()),
        request_id,
    }
}

/// Lambda's own error object: `{"errorType":…,"errorMessage":"RequestId: … Error: …"}`.
fn error_payload(error_type: &str, request_id: &str, what: &str) -> Bytes {
    let message = format!("RequestId: {request_id} Error: {what}");
    Bytes::from(serde_json::json!({"errorMessage": message, "errorType": error_type}).to_string())
}

/// The error object a runtime posted, passed on as Lambda does; an empty body becomes
/// `{"errorMessage":…,"errorType":…}` from the error-type header.
fn error_body(body: Body, error_type: Option<&str>) -> Bytes {
    if body.data.iter().any(|b| !b.is_ascii_whitespace()) {
        return body.data;
    }
    let t = error_type.unwrap_or("Unhandled");
    Bytes::from(serde_json::json!({"errorMessage": t, "errorType": t}).to_string())
}

fn listen() -> std::io::Result<TcpListener> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    l.set_nonblocking(true)?;
    TcpListener::from_std(l)
}

/// The worker's command line and environment: the host's environment, the function's
/// `environment`, then Lambda's reserved variables (which win, as on Lambda).
fn command(spec: &Spec, runtime_api: &str) -> Command {
    let mut cmd = Command::new(&spec.command[0]);
    cmd.args(&spec.command[1..])
        .envs(&spec.environment)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(dir) = &spec.working_directory {
        cmd.current_dir(dir);
    }
    let task_root = spec
        .working_directory
        .as_ref()
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::current_dir().ok())
        .map(|p| std::path::absolute(&p).unwrap_or(p).display().to_string())
        .unwrap_or_default();
    let stream = {
        let id = ids::request_id().to_string().replace('-', "");
        let t = DateTime::of(SystemTime::now());
        format!("{:04}/{:02}/{:02}/[$LATEST]{id}", t.year, t.month, t.day)
    };
    cmd.env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", &spec.name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            spec.memory_size.to_string(),
        )
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", spec.name),
        )
        .env("AWS_LAMBDA_LOG_STREAM_NAME", stream)
        .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
        .env("AWS_REGION", &spec.region)
        .env("AWS_DEFAULT_REGION", &spec.region)
        .env("LAMBDA_TASK_ROOT", task_root)
        .env("TZ", ":UTC");
    if let Some(h) = &spec.handler {
        cmd.env("_HANDLER", h);
    }
    cmd
}

/// Copies a worker's output to the log, a line at a time, as CloudWatch would keep it.
async fn forward_lines(out: impl AsyncRead + Unpin, label: String) {
    let mut lines = BufReader::new(out).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        log::info!(target: "tollgate::function", "{label} {line}");
    }
}

/// Owns one worker process and its Runtime API listener: serves connections until the
/// process exits or is killed (a kill message, or the slot dropping its sender), then
/// reports how it ended. Its connections end with it.
async fn run_worker(
    tag: Tag,
    mut child: Child,
    listener: TcpListener,
    events: mpsc::UnboundedSender<Event>,
    mut killed: oneshot::Receiver<()>,
) {
    let mut conns = JoinSet::new();
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            _ = &mut killed => {
                let _ = child.start_kill();
                break child.wait().await;
            }
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    let events = events.clone();
                    conns.spawn(runtime_api::serve_connection(stream, move |call| {
                        events.send(Event::Call(tag, call)).is_ok()
                    }));
                }
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    };
    drop(conns);
    let how = match status {
        Ok(s) => describe_exit(s),
        Err(e) => format!("wait failed: {e}"),
    };
    let _ = events.send(Event::Exited(tag, how));
}

/// `exit status 1` / `signal: killed`, in the words Lambda's logs use.
fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    match status.signal() {
        Some(9) => "signal: killed".into(),
        Some(15) => "signal: terminated".into(),
        Some(11) => "signal: segmentation fault".into(),
        Some(6) => "signal: aborted".into(),
        Some(n) => format!("signal: {n}"),
        None => "exited".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(0), Duration::ZERO);
        assert_eq!(backoff(1), Duration::ZERO);
        assert_eq!(backoff(2), Duration::from_millis(100));
        assert_eq!(backoff(3), Duration::from_millis(200));
        assert_eq!(backoff(8), Duration::from_millis(6400));
        assert_eq!(backoff(9), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn lambda_error_shapes() {
        let p = error_payload(
            "Sandbox.Timedout",
            "abc",
            "Task timed out after 3.00 seconds",
        );
        assert_eq!(
            &p[..],
            br#"{"errorMessage":"RequestId: abc Error: Task timed out after 3.00 seconds","errorType":"Sandbox.Timedout"}"#
        );
        let empty = Body {
            data: Bytes::new(),
            len: 0,
        };
        assert_eq!(
            &error_body(empty, Some("Runtime.Oops"))[..],
            br#"{"errorMessage":"Runtime.Oops","errorType":"Runtime.Oops"}"#
        );
    }
}
