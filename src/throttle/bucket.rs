//! A token bucket (reference §6): `burst` tokens of capacity, refilled continuously at `rate`
//! per second, one token per request. Kept as GCRA's theoretical arrival time in one atomic,
//! so taking a token is a compare-and-swap loop with no lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// The slowest refill honoured: a rate of 0 refills once in about 30 years.
const MAX_INTERVAL_NS: u64 = 1_000_000_000 * 86_400 * 365 * 30;

#[derive(Debug)]
pub struct TokenBucket {
    origin: Instant,
    /// Nanoseconds per token.
    interval: u64,
    /// How far ahead of now the arrival time may run: `burst` tokens' worth.
    tolerance: u64,
    /// Theoretical arrival time of the next request, in ns after `origin`.
    tat: AtomicU64,
    pub rate: f64,
    pub burst: u64,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: f64, burst: u64) -> TokenBucket {
        let interval = if rate > 0.0 && rate.is_finite() {
            ((1e9 / rate) as u64).clamp(1, MAX_INTERVAL_NS)
        } else {
            MAX_INTERVAL_NS
        };
        TokenBucket {
            origin: Instant::now(),
            interval,
            tolerance: interval.saturating_mul(burst),
            tat: AtomicU64::new(0),
            rate,
            burst,
        }
    }

    /// GCRA's (emission interval, tolerance) in microseconds, for a shared copy of the bucket.
    pub fn gcra_micros(&self) -> (u64, u64) {
        (
            (self.interval / 1000).max(1),
            (self.tolerance / 1000).max(self.interval / 1000),
        )
    }

    /// Takes a token if there is one.
    pub fn try_acquire(&self, now: Instant) -> bool {
        let now = now.saturating_duration_since(self.origin).as_nanos() as u64;
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            let next = tat.max(now).saturating_add(self.interval);
            if next - now > self.tolerance {
                return false;
            }
            match self
                .tat
                .compare_exchange_weak(tat, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(seen) => tat = seen,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_rate() {
        let b = TokenBucket::new(10.0, 5);
        let t0 = b.origin + Duration::from_secs(1);
        let first: usize = (0..20).filter(|_| b.try_acquire(t0)).count();
        assert_eq!(first, 5);
        // 10 per second: one more token every 100 ms.
        assert!(!b.try_acquire(t0 + Duration::from_millis(99)));
        assert!(b.try_acquire(t0 + Duration::from_millis(100)));
        assert!(!b.try_acquire(t0 + Duration::from_millis(150)));
        // Over a long idle time the bucket fills up to `burst`, no further.
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..20).filter(|_| b.try_acquire(later)).count(), 5);
        // Steady state: 1 s worth of requests every 10 ms lets 10 through.
        let start = later + Duration::from_secs(10);
        let n = (0..100)
            .filter(|i| b.try_acquire(start + Duration::from_millis(10 * i)))
            .count();
        assert!((14..=15).contains(&n), "{n}");
    }

    #[test]
    fn zero_burst_refuses_and_zero_rate_never_refills() {
        let b = TokenBucket::new(100.0, 0);
        assert!(!b.try_acquire(Instant::now()));
        let b = TokenBucket::new(0.0, 2);
        let t = Instant::now();
        assert!(b.try_acquire(t));
        assert!(b.try_acquire(t));
        assert!(!b.try_acquire(t + Duration::from_secs(3600)));
    }

    #[test]
    fn concurrent_takers_get_exactly_the_burst() {
        let b = std::sync::Arc::new(TokenBucket::new(0.001, 1000));
        let t = Instant::now();
        let got: usize = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|_| {
                    let b = b.clone();
                    s.spawn(move || (0..1000).filter(|_| b.try_acquire(t)).count())
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap_or(0)).sum()
        });
        assert_eq!(got, 1000);
    }
}
