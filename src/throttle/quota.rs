//! Usage plan quotas (reference §5.1): at most `limit` requests per key per UTC day, week
//! (Monday to Sunday) or calendar month; `offset` requests are taken off the limit in the
//! first period the key is counted. A counter packs the period number and the count into one
//! atomic, so a period's count is exact under concurrency and rolls over without a lock.

use crate::utc::DateTime;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const COUNT_BITS: u32 = 40;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Week,
    Month,
}

impl Period {
    pub fn parse(s: &str) -> Option<Period> {
        match s {
            "DAY" => Some(Period::Day),
            "WEEK" => Some(Period::Week),
            "MONTH" => Some(Period::Month),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "DAY",
            Period::Week => "WEEK",
            Period::Month => "MONTH",
        }
    }

    /// The number of the period `t` falls in (days, weeks or months since 1970, UTC).
    pub fn number(self, t: SystemTime) -> u64 {
        let days = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) / 86_400;
        match self {
            Period::Day => days,
            // 1970-01-01 was a Thursday: weeks start on Monday.
            Period::Week => (days + 3) / 7,
            Period::Month => {
                let d = DateTime::of(t);
                (d.year.max(1970) as u64 - 1970) * 12 + u64::from(d.month - 1)
            }
        }
    }

    /// The first day (`YYYY-MM-DD`) of period `n`.
    pub fn start_date(self, n: u64) -> String {
        let day = match self {
            Period::Day => n,
            Period::Week => (n * 7).saturating_sub(3),
            Period::Month => {
                let (y, m) = (1970 + n / 12, n % 12 + 1);
                return format!("{y:04}-{m:02}-01");
            }
        };
        let d = DateTime::of(UNIX_EPOCH + Duration::from_secs(day * 86_400));
        format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
    }
}

/// One key's count in one usage plan.
#[derive(Debug)]
pub struct QuotaCounter {
    /// Period number << 40 | count.
    state: AtomicU64,
    /// The period in which the key was first counted (the one `offset` applies to).
    pub first_period: u64,
    /// Requests counted here while the shared store was unreachable, not yet added to it.
    unsynced: AtomicU64,
}

fn pack(period: u64, used: u64) -> u64 {
    (period << COUNT_BITS) | (used & COUNT_MASK)
}

fn unpack(v: u64) -> (u64, u64) {
    (v >> COUNT_BITS, v & COUNT_MASK)
}

impl QuotaCounter {
    pub fn new(first_period: u64) -> QuotaCounter {
        QuotaCounter {
            state: AtomicU64::new(pack(first_period, 0)),
            first_period,
            unsynced: AtomicU64::new(0),
        }
    }

    /// A counter restored from the durable store.
    pub fn restored(first_period: u64, period: u64, used: u64) -> QuotaCounter {
        QuotaCounter {
            state: AtomicU64::new(pack(period, used)),
            first_period,
            unsynced: AtomicU64::new(0),
        }
    }

    /// (period, used) as stored.
    pub fn load(&self) -> (u64, u64) {
        unpack(self.state.load(Ordering::Relaxed))
    }

    /// Counts a request the shared store admitted.
    pub fn record(&self, period: u64) {
        self.try_take(period, COUNT_MASK);
    }

    /// Notes a request counted here only (the shared store was unreachable).
    pub fn note_unsynced(&self) {
        self.unsynced.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests counted here only.
    pub fn unsynced(&self) -> u64 {
        self.unsynced.load(Ordering::Relaxed)
    }

    /// `n` requests counted here were added to the shared store.
    pub fn synced(&self, n: u64) {
        self.unsynced.fetch_sub(n, Ordering::Relaxed);
    }

    /// Requests counted in period `period`.
    pub fn used_in(&self, period: u64) -> u64 {
        match self.load() {
            (p, used) if p == period => used,
            _ => 0,
        }
    }

    /// Counts one request in `period` if fewer than `limit` were counted; false when the
    /// quota is exhausted.
    pub fn try_take(&self, period: u64, limit: u64) -> bool {
        let mut v = self.state.load(Ordering::Relaxed);
        loop {
            let (p, used) = unpack(v);
            // A clock stepped back keeps counting in the newer period.
            let (period, used) = if p >= period { (p, used) } else { (period, 0) };
            if used >= limit {
                return false;
            }
            match self.state.compare_exchange_weak(
                v,
                pack(period, used + 1),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(seen) => v = seen,
            }
        }
    }
}

/// A plan's quota settings.
#[derive(Debug, Clone, Copy)]
pub struct QuotaSettings {
    pub limit: u64,
    pub offset: u64,
    pub period: Period,
}

impl QuotaSettings {
    /// The limit in period `n` of a key first counted in `first`.
    pub fn limit_in(&self, n: u64, first: u64) -> u64 {
        if n == first {
            self.limit.saturating_sub(self.offset)
        } else {
            self.limit
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn utc_periods() {
        // 2026-12-07 (a Monday) 12:00 UTC.
        let t = at(1_796_644_800);
        let day = Period::Day.number(t);
        assert_eq!(Period::Day.start_date(day), "2026-12-07");
        assert_eq!(Period::Day.number(at(1_796_644_800 + 12 * 3600 - 1)), day);
        assert_eq!(Period::Day.number(at(1_796_644_800 + 12 * 3600)), day + 1);
        let week = Period::Week.number(t);
        assert_eq!(Period::Week.start_date(week), "2026-12-07");
        // Sunday 23:59:59 is still the previous week.
        assert_eq!(
            Period::Week.number(at(1_796_644_800 - 12 * 3600 - 1)),
            week - 1
        );
        let month = Period::Month.number(t);
        assert_eq!(Period::Month.start_date(month), "2026-12-01");
        assert_eq!(Period::Month.number(at(1_798_761_600)), month + 1); // 2027-01-01
        assert_eq!(Period::Month.start_date(month + 1), "2027-01-01");
    }

    #[test]
    fn counts_exactly_and_rolls_over() {
        let c = QuotaCounter::new(5);
        let q = QuotaSettings {
            limit: 3,
            offset: 1,
            period: Period::Day,
        };
        let lim = q.limit_in(5, c.first_period);
        assert_eq!((0..10).filter(|_| c.try_take(5, lim)).count(), 2);
        assert_eq!(c.used_in(5), 2);
        let lim = q.limit_in(6, c.first_period);
        assert_eq!((0..10).filter(|_| c.try_take(6, lim)).count(), 3);
        assert_eq!(c.used_in(5), 0);
        assert_eq!(c.load(), (6, 3));
    }

    #[test]
    fn concurrent_takers_get_exactly_the_limit() {
        let c = std::sync::Arc::new(QuotaCounter::new(1));
        let got: usize = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|_| {
                    let c = c.clone();
                    s.spawn(move || (0..500).filter(|_| c.try_take(1, 777)).count())
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap_or(0)).sum()
        });
        assert_eq!(got, 777);
    }
}
