//! Idle upstream HTTP/1.1 connections, kept per worker thread. Worker threads each run their
//! own single-threaded runtime (`work_stealing: false`), and a socket stays with the runtime
//! that registered it, so the pool needs no lock.

use foldhash::fast::FixedState;
use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// Connections idle longer than this are dropped (below common backend keep-alive timeouts).
const IDLE: Duration = Duration::from_secs(55);
/// Idle connections kept per backend address and thread.
const PER_ADDR: usize = 256;

/// Idle connections by backend address, each with when it became idle. The addresses are
/// configured ones, so a fixed hash seed is fine.
type Idle = HashMap<SocketAddr, Vec<(TcpStream, Instant)>, FixedState>;

thread_local! {
    static IDLE_CONNS: RefCell<Idle> = RefCell::new(Idle::default());
}

/// A live idle connection to `addr`, if one is pooled at `now`. Connections the peer has closed
/// (or that hold unexpected bytes) are discarded.
pub fn take(addr: SocketAddr, now: Instant) -> Option<TcpStream> {
    IDLE_CONNS.with(|pool| {
        let mut pool = pool.borrow_mut();
        let conns = pool.get_mut(&addr)?;
        while let Some((conn, since)) = conns.pop() {
            if now.saturating_duration_since(since) > IDLE {
                continue;
            }
            let mut probe = [0u8; 1];
            match conn.try_read(&mut probe) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Some(conn),
                _ => continue,
            }
        }
        None
    })
}

/// Returns a connection whose last exchange, started at `since`, ended cleanly. Its idle time
/// counts from the exchange's start (no clock read here): that only ever drops it sooner, and
/// a connection whose exchange outlasted the idle limit is not reused.
pub fn put(addr: SocketAddr, conn: TcpStream, since: Instant) {
    IDLE_CONNS.with(|pool| {
        let mut pool = pool.borrow_mut();
        let conns = pool.entry(addr).or_default();
        if conns.len() >= PER_ADDR {
            conns.remove(0);
        }
        conns.push((conn, since));
    });
}
