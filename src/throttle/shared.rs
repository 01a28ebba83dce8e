//! Usage plan quotas shared by every node through Redis (`server.redis`).
//!
//! Each (plan, key, period) count is one Redis key, `tollgate:{plan:key}:quota:DAY:20429`
//! (the hash tag keeps a key's counts on one Redis Cluster slot), and each key's token bucket
//! is `tollgate:{plan:key}:rate:plan` (or `:m<method>` for a per-method override), as GCRA's
//! theoretical arrival time on Redis's clock. One atomic Lua script per keyed request takes a
//! token and counts the quota, refusing at the limits, so a quota of N admits exactly N
//! across the fleet and the fleet together keeps the key's rate and burst. What needs no
//! shared state stays on the node, off the network: unknown or disabled keys, and the stage,
//! method and account throttles (per node).
//!
//! When Redis does not answer within [`CALL_TIMEOUT`], the node marks it down (logged,
//! `tollgate_redis_up` 0, `tollgate_redis_errors_total`), serves quotas from its own counts
//! (so during an outage each node may admit up to N on its own) and remembers what it
//! admitted. A probe every second brings Redis back: first the remembered counts are added to
//! Redis's, then the request path uses Redis again.

use super::quota::{Period, QuotaCounter};
use arc_swap::ArcSwapOption;
use prometheus::{IntCounter, IntGauge};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long a request waits for Redis before counting locally.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(100);

/// KEYS: the key's token bucket, its quota count (one hash tag). ARGV: the bucket's interval
/// and tolerance in µs (interval 0: no bucket), the quota limit ("" for none), the count's
/// expiry in seconds. 0: admitted, 1: throttled, 2: quota exhausted. Nothing is taken from
/// one when the other refuses.
const TAKE: &str = r#"
local interval = tonumber(ARGV[1])
local nxt
if interval > 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
  if tat < now then tat = now end
  nxt = tat + interval
  if nxt - now > tonumber(ARGV[2]) then return 1 end
end
if ARGV[3] ~= '' then
  local used = tonumber(redis.call('GET', KEYS[2]) or '0')
  if used >= tonumber(ARGV[3]) then return 2 end
  redis.call('INCR', KEYS[2])
  if used == 0 then redis.call('EXPIRE', KEYS[2], ARGV[4]) end
end
if interval > 0 then
  redis.call('SET', KEYS[1], string.format('%d', nxt), 'PX', math.floor(tonumber(ARGV[2]) / 1000) + 1000)
end
return 0
"#;

/// What the shared store decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Admitted,
    Throttled,
    QuotaExceeded,
}

/// A key's token bucket in the shared store: (Redis key, interval µs, tolerance µs).
pub type SharedBucket<'a> = (&'a str, u64, u64);

/// A key's quota in the shared store: (Redis key, period, limit).
pub type SharedQuota<'a> = (&'a str, Period, u64);

const ADD: &str = r#"
redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"#;

/// The Redis key of a count.
pub fn redis_key(plan: &str, key: &str, period: Period, number: u64) -> String {
    format!("{}{number}", redis_prefix(plan, key, period))
}

/// [`redis_key`] without the period number.
pub fn redis_prefix(plan: &str, key: &str, period: Period) -> String {
    format!("tollgate:{{{plan}:{key}}}:quota:{}:", period.as_str())
}

/// Seconds a period's count is kept: two periods.
fn ttl(period: Period) -> u64 {
    match period {
        Period::Day => 2 * 86_400,
        Period::Week => 14 * 86_400,
        Period::Month => 62 * 86_400,
    }
}

pub struct Shared {
    url: String,
    conn: ArcSwapOption<ConnectionManager>,
    up: AtomicBool,
    take: redis::Script,
    add: redis::Script,
    up_gauge: IntGauge,
    errors: IntCounter,
}

impl Shared {
    pub fn new(url: &str, up_gauge: IntGauge, errors: IntCounter) -> Shared {
        Shared {
            url: url.to_string(),
            conn: ArcSwapOption::empty(),
            up: AtomicBool::new(false),
            take: redis::Script::new(TAKE),
            add: redis::Script::new(ADD),
            up_gauge,
            errors,
        }
    }

    /// True while the request path uses Redis.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    fn mark_down(&self, why: &str) {
        self.errors.inc();
        if self.up.swap(false, Ordering::Relaxed) {
            self.up_gauge.set(0);
            log::error!(
                "redis {}: {why}; quotas are counted locally until it answers",
                self.url
            );
        }
    }

    /// Takes a token from the key's shared bucket and one request from its shared quota, in
    /// one atomic script; None when Redis is down (the caller decides locally).
    pub async fn take(
        &self,
        bucket: Option<SharedBucket<'_>>,
        quota: Option<SharedQuota<'_>>,
    ) -> Option<Decision> {
        if !self.is_up() {
            return None;
        }
        let mut conn = ConnectionManager::clone(self.conn.load().as_deref()?);
        let (bucket_key, interval, tolerance) = bucket.unwrap_or(("", 0, 0));
        let (quota_key, period, limit) = match quota {
            Some((k, p, l)) => (k, p, l.to_string()),
            None => ("", Period::Day, String::new()),
        };
        let fallback_key = format!("{quota_key}{bucket_key}");
        let mut invocation = self.take.key(if bucket_key.is_empty() {
            &fallback_key
        } else {
            bucket_key
        });
        invocation
            .key(if quota_key.is_empty() {
                &fallback_key
            } else {
                quota_key
            })
            .arg(interval)
            .arg(tolerance)
            .arg(limit)
            .arg(ttl(period));
        let call = invocation.invoke_async::<i64>(&mut conn);
        match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(Ok(n)) => Some(match n {
                0 => Decision::Admitted,
                1 => Decision::Throttled,
                _ => Decision::QuotaExceeded,
            }),
            Ok(Err(e)) => {
                self.mark_down(&e.to_string());
                None
            }
            Err(_) => {
                self.mark_down("no answer in time");
                None
            }
        }
    }

    /// Connects (once) and, while Redis is down, probes it; when it answers, adds the counts
    /// made locally meanwhile (`pending`: Redis key, period, counter) and marks it up.
    pub async fn probe(&self, pending: Vec<(String, Period, Arc<QuotaCounter>)>) {
        if self.conn.load().is_none() {
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(Duration::from_secs(1)))
                .set_response_timeout(Some(CALL_TIMEOUT))
                .set_number_of_retries(1);
            match redis::Client::open(self.url.as_str())
                .and_then(|c| ConnectionManager::new_lazy_with_config(c, config))
            {
                Ok(m) => self.conn.store(Some(Arc::new(m))),
                Err(e) => {
                    log::error!("redis {}: {e}", self.url);
                    return;
                }
            }
        }
        if self.is_up() {
            return;
        }
        let Some(conn) = self.conn.load_full() else {
            return;
        };
        let mut conn = ConnectionManager::clone(&conn);
        let ping_cmd = redis::cmd("PING");
        let ping = ping_cmd.query_async::<String>(&mut conn);
        if !matches!(
            tokio::time::timeout(Duration::from_secs(1), ping).await,
            Ok(Ok(_))
        ) {
            self.errors.inc();
            return;
        }
        for (key, period, counter) in pending {
            let n = counter.unsynced();
            if n == 0 {
                continue;
            }
            let mut invocation = self.add.key(&key);
            invocation.arg(n).arg(ttl(period));
            let call = invocation.invoke_async::<i64>(&mut conn);
            match tokio::time::timeout(Duration::from_secs(1), call).await {
                Ok(Ok(_)) => counter.synced(n),
                _ => {
                    self.errors.inc();
                    return;
                }
            }
        }
        self.up.store(true, Ordering::Relaxed);
        self.up_gauge.set(1);
        log::info!("redis {}: connected; quotas are shared", self.url);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_hash_tagged_per_plan_and_key() {
        assert_eq!(
            redis_key("basic", "partner", Period::Day, 20429),
            "tollgate:{basic:partner}:quota:DAY:20429"
        );
    }
}
