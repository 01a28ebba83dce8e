//! Usage plan quotas shared by every node through Redis (`server.redis`).
//!
//! Each (plan, key, period) count is one Redis key, `tollgate:{plan:key}:quota:DAY:20429`
//! (the hash tag keeps a key's counts on one Redis Cluster slot), taken by an atomic Lua
//! script that refuses at the limit, so a quota of N admits exactly N across the fleet. The
//! request path calls Redis only for keys whose plan has a quota; throttles stay local (each
//! node enforces the plan's rate and burst itself, so a fleet of k nodes admits at most k
//! times a key's rate).
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

const TAKE: &str = r#"
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used >= tonumber(ARGV[1]) then return 0 end
redis.call('INCR', KEYS[1])
if used == 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 1
"#;

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

    /// Takes one request of `limit` from the shared count; None when Redis is down (the
    /// caller counts locally).
    pub async fn take(&self, key: &str, period: Period, limit: u64) -> Option<bool> {
        if !self.is_up() {
            return None;
        }
        let mut conn = ConnectionManager::clone(self.conn.load().as_deref()?);
        let mut invocation = self.take.key(key);
        invocation.arg(limit).arg(ttl(period));
        let call = invocation.invoke_async::<i64>(&mut conn);
        match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(Ok(n)) => Some(n == 1),
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
