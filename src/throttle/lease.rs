//! A node's lease on a shared budget: a block of a key's quota or of its token bucket, taken
//! from Redis in one call and then spent here with atomics only (no lock, no network).
//!
//! One atomic holds the period the block belongs to (quota leases; 0 for tokens) and the
//! units still held. Refilling is single-flight: at most one block is being leased at a time,
//! so a node holds at most what was left when the refill started plus one block. While much is
//! left in Redis, a refill starts before the lease runs out (the prefetch mark); near the end
//! of a budget, blocks are leased only when needed. Unused units go back to Redis when the
//! lease has not been used for a sweep interval, at a period's end, on reload and on shutdown.

use super::quota::Period;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const HELD_BITS: u32 = 40;
const HELD_MASK: u64 = (1 << HELD_BITS) - 1;

/// Redis grants at most an eighth of what is left (at least 1): see `shared.rs`'s scripts.
pub const SHARE: u64 = 8;

fn pack(period: u64, held: u64) -> u64 {
    (period << HELD_BITS) | (held & HELD_MASK)
}

fn unpack(v: u64) -> (u64, u64) {
    (v >> HELD_BITS, v & HELD_MASK)
}

/// What a lease is a block of.
#[derive(Debug)]
pub enum Kind {
    /// A key's quota count, `name` being its Redis key less the period number.
    Quota(Period),
    /// A key's token bucket, `name` being its Redis key; the bucket's emission interval in µs
    /// (to give tokens back).
    Tokens(AtomicU64),
}

#[derive(Debug)]
pub struct Lease {
    pub name: String,
    pub kind: Kind,
    origin: Instant,
    /// Period << 40 | units held.
    state: AtomicU64,
    /// A refill starts when fewer than this many units are held after a take (0: never).
    prefetch_below: AtomicU64,
    /// A block is being leased.
    fetching: AtomicBool,
    /// Redis has nothing to grant before this time (ns after `origin`).
    retry_at: AtomicU64,
    /// `state` as the last sweep saw it.
    seen: AtomicU64,
}

impl Lease {
    pub fn new(name: String, kind: Kind) -> Lease {
        Lease {
            name,
            kind,
            origin: Instant::now(),
            state: AtomicU64::new(0),
            prefetch_below: AtomicU64::new(0),
            fetching: AtomicBool::new(false),
            retry_at: AtomicU64::new(0),
            seen: AtomicU64::new(u64::MAX),
        }
    }

    fn nanos(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.origin).as_nanos() as u64
    }

    /// (period, units held).
    pub fn held(&self) -> (u64, u64) {
        unpack(self.state.load(Ordering::Relaxed))
    }

    /// Takes one unit of period `period`; the units still held after it, or None when the
    /// lease has none for that period.
    pub fn try_take(&self, period: u64) -> Option<u64> {
        let mut v = self.state.load(Ordering::Relaxed);
        loop {
            let (p, held) = unpack(v);
            if p != period || held == 0 {
                return None;
            }
            match self.state.compare_exchange_weak(
                v,
                pack(p, held - 1),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(held - 1),
                Err(seen) => v = seen,
            }
        }
    }

    /// True when a take that left `held` units should start a refill.
    pub fn wants_refill(&self, held: u64) -> bool {
        held < self.prefetch_below.load(Ordering::Relaxed)
    }

    /// Claims the right to lease a block, until the claim is dropped (even by a cancelled
    /// request); None while another lease call is under way.
    pub fn begin_fetch(self: &Arc<Self>) -> Option<Fetch> {
        if self.fetching.swap(true, Ordering::Acquire) {
            return None;
        }
        Some(Fetch(self.clone()))
    }

    /// Adds `n` units granted for `period`, of a block of `granted` after which Redis had
    /// `left`. Units held for an older period are replaced and returned (to give back to
    /// Redis), as are units granted for a period older than the one held.
    pub fn deposit(&self, period: u64, n: u64, granted: u64, left: u64) -> Option<(u64, u64)> {
        self.prefetch_below
            .store(prefetch_mark(granted, left), Ordering::Relaxed);
        let mut v = self.state.load(Ordering::Relaxed);
        loop {
            let (p, held) = unpack(v);
            let (next, displaced) = if p == period {
                (pack(p, held.saturating_add(n).min(HELD_MASK)), None)
            } else if p < period || held == 0 {
                (pack(period, n), Some((p, held)))
            } else {
                return Some((period, n)).filter(|_| n > 0);
            };
            match self
                .state
                .compare_exchange_weak(v, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return displaced.filter(|(_, h)| *h > 0),
                Err(seen) => v = seen,
            }
        }
    }

    /// True while Redis is known to have nothing to grant.
    pub fn refusing(&self, now: Instant) -> bool {
        self.nanos(now) < self.retry_at.load(Ordering::Relaxed)
    }

    /// Redis has nothing to grant for `wait`: refuse here until then.
    pub fn refuse_for(&self, now: Instant, wait: Duration) {
        let until = self.nanos(now).saturating_add(wait.as_nanos() as u64);
        self.retry_at.store(until, Ordering::Relaxed);
    }

    /// Takes back every unit held if the lease went unused since the previous sweep, belongs
    /// to a period before `current`, or `force`: (period, units) to give back to Redis.
    pub fn drain(&self, force: bool, current: u64) -> Option<(u64, u64)> {
        let v = self.state.load(Ordering::Relaxed);
        let seen = self.seen.swap(v, Ordering::Relaxed);
        let (p, held) = unpack(v);
        if held == 0 || !(force || seen == v || p < current) {
            return None;
        }
        self.state
            .compare_exchange(v, pack(p, 0), Ordering::Relaxed, Ordering::Relaxed)
            .ok()
            .map(|_| (p, held))
    }
}

/// The claim to lease a block of a [`Lease`].
pub struct Fetch(Arc<Lease>);

impl Fetch {
    pub fn lease(&self) -> &Arc<Lease> {
        &self.0
    }
}

impl Drop for Fetch {
    fn drop(&mut self) {
        self.0.fetching.store(false, Ordering::Release);
    }
}

/// Refill when fewer than half a block is held, while Redis has at least another block
/// left; near the end of the budget (blocks of 1, or little left), lease only on demand.
fn prefetch_mark(granted: u64, left: u64) -> u64 {
    if granted >= 2 && left >= granted {
        granted / 2 + 1
    } else {
        0
    }
}

/// The block a lease call asks for at most: `cap`, and (as Redis grants) an eighth of what
/// is left, at least 1. Mirrors the scripts, for the documented bounds and their tests.
pub fn block(left: u64, cap: u64) -> u64 {
    if left == 0 {
        return 0;
    }
    (left / SHARE).clamp(1, cap.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota() -> Lease {
        Lease::new("q".into(), Kind::Quota(Period::Day))
    }

    #[test]
    fn blocks_shrink_to_one_and_never_exceed_what_is_left() {
        assert_eq!(block(1_000_000, 1000), 1000);
        assert_eq!(block(800, 1000), 100);
        assert_eq!(block(15, 1000), 1);
        assert_eq!(block(1, 1000), 1);
        assert_eq!(block(0, 1000), 0);
        // Leasing block after block from a quota of 1000 hands out exactly 1000, never more,
        // in far fewer calls than requests.
        let (mut left, mut calls, mut leased) = (1000u64, 0, 0);
        while left > 0 {
            let b = block(left, 1000);
            assert!(b <= left);
            left -= b;
            leased += b;
            calls += 1;
        }
        assert_eq!(leased, 1000);
        assert!(calls < 70, "{calls}");
    }

    #[test]
    fn spends_locally_until_exhausted() {
        let l = quota();
        assert_eq!(l.try_take(7), None);
        assert_eq!(l.deposit(7, 3, 4, 1000), None);
        assert_eq!(l.try_take(7), Some(2));
        assert_eq!(l.try_take(8), None, "another period");
        assert_eq!(l.try_take(7), Some(1));
        assert_eq!(l.try_take(7), Some(0));
        assert_eq!(l.try_take(7), None);
        assert_eq!(l.held(), (7, 0));
    }

    #[test]
    fn concurrent_takers_spend_exactly_the_lease() {
        let l = std::sync::Arc::new(quota());
        l.deposit(1, 777, 777, 0);
        let got: usize = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|_| {
                    let l = l.clone();
                    s.spawn(move || (0..500).filter(|_| l.try_take(1).is_some()).count())
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap_or(0)).sum()
        });
        assert_eq!(got, 777);
    }

    #[test]
    fn refills_early_while_much_is_left_and_on_demand_near_the_end() {
        let l = Arc::new(quota());
        // A block of 100 with plenty left: refill once fewer than 51 are held.
        l.deposit(1, 99, 100, 5000);
        assert!(!l.wants_refill(51));
        assert!(l.wants_refill(50));
        // Single flight, released when the claim is dropped.
        let claim = l.begin_fetch();
        assert!(claim.is_some());
        assert!(l.begin_fetch().is_none());
        drop(claim);
        assert!(l.begin_fetch().is_some());
        // The last blocks: no prefetch.
        l.deposit(1, 0, 1, 9);
        assert!(!l.wants_refill(0));
        l.deposit(1, 3, 4, 2);
        assert!(!l.wants_refill(0));
        assert_eq!(l.held(), (1, 102));
    }

    #[test]
    fn a_new_period_replaces_and_returns_the_old_lease() {
        let l = quota();
        l.deposit(5, 10, 10, 100);
        assert_eq!(l.deposit(6, 4, 5, 100), Some((5, 10)));
        assert_eq!(l.held(), (6, 4));
        // A grant for an older period (clock stepped back) goes back as it came.
        assert_eq!(l.deposit(5, 3, 3, 100), Some((5, 3)));
        assert_eq!(l.held(), (6, 4));
    }

    #[test]
    fn idle_leases_are_drained_active_ones_kept() {
        let l = quota();
        l.deposit(3, 10, 10, 0);
        // The first sweep only looks.
        assert_eq!(l.drain(false, 3), None);
        // Used since: kept.
        l.try_take(3);
        assert_eq!(l.drain(false, 3), None);
        // Unused for a whole sweep interval: given back.
        assert_eq!(l.drain(false, 3), Some((3, 9)));
        assert_eq!(l.held(), (3, 0));
        assert_eq!(l.drain(false, 3), None);
        // A period's end, reload and shutdown take it back at once.
        l.deposit(3, 5, 5, 0);
        assert_eq!(l.drain(false, 4), Some((3, 5)));
        l.deposit(4, 2, 2, 0);
        assert_eq!(l.drain(true, 4), Some((4, 2)));
    }

    #[test]
    fn refuses_locally_while_redis_has_nothing() {
        let l = Lease::new("b".into(), Kind::Tokens(AtomicU64::new(1000)));
        let t = Instant::now();
        assert!(!l.refusing(t));
        l.refuse_for(t, Duration::from_millis(30));
        assert!(l.refusing(t + Duration::from_millis(29)));
        assert!(!l.refusing(t + Duration::from_millis(30)));
    }
}
