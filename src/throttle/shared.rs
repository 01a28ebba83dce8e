//! Usage plan quotas and token buckets shared by every node through Redis (`server.redis`).
//!
//! Each (plan, key, period) count is one Redis key, `tollgate:{plan:key}:quota:DAY:20429`
//! (the hash tag keeps a key's counts on one Redis Cluster slot), and each key's token bucket
//! is `tollgate:{plan:key}:rate:plan` (or `:m<method>` for a per-method override), as GCRA's
//! theoretical arrival time on Redis's clock. What needs no shared state stays on the node:
//! unknown or disabled keys, and the stage, method and account throttles (per node).
//!
//! Nodes lease blocks of a key's quota and tokens from Redis, one atomic Lua script per block
//! ([`super::lease`]), and admit from the lease with atomics, off the network. A block is an
//! eighth of what Redis has left, at most [`QUOTA_BLOCK`] requests or [`TOKEN_BLOCK`] tokens,
//! at least 1; the next block is leased in the background before the lease runs out while at
//! least another block is left, and only on demand near the end. Hence, while Redis answers:
//! - a quota of N never admits more than N across the fleet: Redis's count includes every
//!   leased unit, admitted or not;
//! - a node holds at most one and a half blocks of a key's quota (at most 1,500 requests, and
//!   at most 3/16 of what was left); the unused part goes back to Redis once the node has not
//!   used the lease for a sweep ([`SWEEP`], so after 0.5–1 s idle), at a period's end, on
//!   reload and on shutdown; until then other nodes may refuse up to that many requests (a
//!   give-back Redis does not confirm is not retried: those units stay counted);
//! - in any interval of t seconds the fleet admits at most `burst + rate × t` tokens plus
//!   what the nodes held at its start: at most 1.5 × min(1000, burst / 8) tokens per node
//!   (at least 1); idle nodes give their tokens back the same way;
//! - a node that found nothing left refuses without asking Redis again for the time Redis said
//!   the next token needs, or [`EXHAUSTED_RECHECK`] for a spent quota.
//!
//! When Redis does not answer within [`CALL_TIMEOUT`], the node marks it down (logged,
//! `tollgate_redis_up` 0, `tollgate_redis_errors_total`), serves quotas from its own counts
//! (so during an outage each node may admit up to N on its own) and remembers what it
//! admitted. A probe every second brings Redis back: first the remembered counts are added to
//! Redis's, then the request path uses Redis again.

use super::lease::{Kind, Lease, SHARE};
use super::quota::{Period, QuotaCounter};
use arc_swap::ArcSwapOption;
use prometheus::{IntCounter, IntGauge};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// How long a request waits for Redis before counting locally.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(100);

/// How long a call off the request path (prefetch, giving back) waits for Redis.
const BACKGROUND_TIMEOUT: Duration = Duration::from_secs(1);

/// The largest block of a quota a node leases at once.
pub const QUOTA_BLOCK: u64 = 1000;

/// The largest block of a token bucket a node leases at once.
pub const TOKEN_BLOCK: u64 = 1000;

/// How often unused leases are looked at (and given back when idle since the last look).
pub const SWEEP: Duration = Duration::from_millis(500);

/// How long a node refuses a key whose quota Redis reported spent before asking again (an
/// idle node may have given some back).
pub const EXHAUSTED_RECHECK: Duration = Duration::from_millis(250);

/// KEYS: the quota count. ARGV: the limit, the largest block, the count's expiry in seconds,
/// the share of what is left a block may take ([`SHARE`]). {granted, left after}.
const LEASE_QUOTA: &str = r#"
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local left = tonumber(ARGV[1]) - used
if left <= 0 then return {0, 0} end
local grant = math.floor(left / tonumber(ARGV[4]))
if grant < 1 then grant = 1 end
if grant > tonumber(ARGV[2]) then grant = tonumber(ARGV[2]) end
redis.call('INCRBY', KEYS[1], grant)
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
return {grant, left - grant}
"#;

/// KEYS: the quota count. ARGV: units leased and not used. Never below 0.
const RETURN_QUOTA: &str = r#"
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local n = math.min(tonumber(ARGV[1]), used)
if n > 0 then redis.call('DECRBY', KEYS[1], n) end
return n
"#;

/// KEYS: the token bucket. ARGV: the emission interval and tolerance in µs, the largest
/// block, [`SHARE`]. GCRA granting up to `block` tokens at once: {granted, left after,
/// µs until a token is available when none is}.
const LEASE_TOKENS: &str = r#"
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local avail = math.floor((tolerance - (tat - now)) / interval)
if avail < 1 then return {0, 0, tat + interval - tolerance - now} end
local grant = math.floor(avail / tonumber(ARGV[4]))
if grant < 1 then grant = 1 end
if grant > tonumber(ARGV[3]) then grant = tonumber(ARGV[3]) end
tat = tat + grant * interval
redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', math.floor((tat - now) / 1000) + 1000)
return {grant, avail - grant, 0}
"#;

/// KEYS: the token bucket. ARGV: tokens leased and not used, the emission interval in µs.
const RETURN_TOKENS: &str = r#"
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat == 0 then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
tat = tat - tonumber(ARGV[1]) * tonumber(ARGV[2])
if tat <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', math.floor((tat - now) / 1000) + 1000)
end
return 1
"#;

const ADD: &str = r#"
redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"#;

/// What one keyed request asks of a lease.
#[derive(Debug, Clone, Copy)]
pub enum Ask {
    /// One request of a quota whose limit in the period is this.
    Quota(u64),
    /// One token of a bucket: GCRA's (emission interval, tolerance) in µs.
    Tokens(u64, u64),
}

/// A key's token bucket in the shared store.
pub struct SharedBucket {
    pub lease: Arc<Lease>,
    /// GCRA's (emission interval, tolerance) in µs.
    pub gcra: (u64, u64),
}

/// What Redis granted: units, what it had left after, how long until it has any.
#[derive(Debug, Clone, Copy)]
struct Grant {
    granted: u64,
    left: u64,
    wait: Duration,
}

/// The Redis key of a count.
pub fn redis_key(plan: &str, key: &str, period: Period, number: u64) -> String {
    format!("{}{number}", redis_prefix(plan, key, period))
}

/// [`redis_key`] without the period number.
pub fn redis_prefix(plan: &str, key: &str, period: Period) -> String {
    format!("tollgate:{{{plan}:{key}}}:quota:{}:", period.as_str())
}

/// The largest block to lease for `ask`.
fn block_cap(ask: Ask) -> u64 {
    match ask {
        Ask::Quota(_) => QUOTA_BLOCK,
        Ask::Tokens(..) => TOKEN_BLOCK,
    }
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
    lease_quota: redis::Script,
    return_quota: redis::Script,
    lease_tokens: redis::Script,
    return_tokens: redis::Script,
    add: redis::Script,
    up_gauge: IntGauge,
    errors: IntCounter,
    /// Every lease, by Redis key (quota: less the period number), kept across reloads.
    leases: Mutex<HashMap<String, Arc<Lease>>>,
}

impl Shared {
    pub fn new(url: &str, up_gauge: IntGauge, errors: IntCounter) -> Shared {
        Shared {
            url: url.to_string(),
            conn: ArcSwapOption::empty(),
            up: AtomicBool::new(false),
            lease_quota: redis::Script::new(LEASE_QUOTA),
            return_quota: redis::Script::new(RETURN_QUOTA),
            lease_tokens: redis::Script::new(LEASE_TOKENS),
            return_tokens: redis::Script::new(RETURN_TOKENS),
            add: redis::Script::new(ADD),
            up_gauge,
            errors,
            leases: Mutex::new(HashMap::new()),
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

    /// The lease on the quota counted under `prefix` (made at load time, never on a request).
    pub fn quota_lease(&self, prefix: &str, period: Period) -> Arc<Lease> {
        let mut map = self.leases.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(prefix.to_string())
            .or_insert_with(|| Arc::new(Lease::new(prefix.to_string(), Kind::Quota(period))))
            .clone()
    }

    /// The lease on the token bucket `key` with emission interval `interval` µs (made at
    /// load time).
    pub fn token_lease(&self, key: &str, interval: u64) -> Arc<Lease> {
        let mut map = self.leases.lock().unwrap_or_else(|p| p.into_inner());
        let lease = map
            .entry(key.to_string())
            .or_insert_with(|| {
                Arc::new(Lease::new(
                    key.to_string(),
                    Kind::Tokens(AtomicU64::new(interval)),
                ))
            })
            .clone();
        if let Kind::Tokens(i) = &lease.kind {
            i.store(interval, Ordering::Relaxed);
        }
        lease
    }

    /// Takes one unit (a request of a quota in period `period`, or a token) from `lease`,
    /// leasing a block from Redis when the lease is spent: true when admitted, false when
    /// refused, None when Redis did not answer (the caller decides locally).
    pub async fn take(
        self: &Arc<Self>,
        lease: &Arc<Lease>,
        ask: Ask,
        period: u64,
        now: Instant,
    ) -> Option<bool> {
        if let Some(held) = lease.try_take(period) {
            if lease.wants_refill(held) {
                if let Some(claim) = lease.begin_fetch() {
                    let sh = self.clone();
                    tokio::spawn(async move {
                        let lease = claim.lease();
                        let cap = block_cap(ask);
                        let grant = sh.lease(lease, ask, period, cap, BACKGROUND_TIMEOUT);
                        if let Ok(g) = grant.await {
                            sh.keep(lease, period, g, g.granted);
                        }
                    });
                }
            }
            return Some(true);
        }
        if lease.refusing(now) {
            return Some(false);
        }
        // One block at a time; meanwhile each request asks for itself only.
        let claim = lease.begin_fetch();
        let cap = if claim.is_some() { block_cap(ask) } else { 1 };
        match self.lease(lease, ask, period, cap, CALL_TIMEOUT).await {
            Ok(g) if g.granted > 0 => {
                if claim.is_some() {
                    self.keep(lease, period, g, g.granted - 1);
                }
                Some(true)
            }
            Ok(g) => {
                lease.refuse_for(now, g.wait);
                Some(false)
            }
            Err(()) => None,
        }
    }

    /// Deposits `n` units of grant `g` in `lease`; what a new period displaced goes back to
    /// Redis in the background.
    fn keep(self: &Arc<Self>, lease: &Arc<Lease>, period: u64, g: Grant, n: u64) {
        if let Some((p, old)) = lease.deposit(period, n, g.granted, g.left) {
            let (sh, lease) = (self.clone(), lease.clone());
            tokio::spawn(async move {
                let _ = sh.give_back(&lease, p, old).await;
            });
        }
    }

    /// Leases up to `cap` units from Redis, waiting at most `wait`.
    async fn lease(
        &self,
        lease: &Lease,
        ask: Ask,
        period: u64,
        cap: u64,
        wait: Duration,
    ) -> Result<Grant, ()> {
        if !self.is_up() {
            return Err(());
        }
        let conn = self.conn.load_full().ok_or(())?;
        let mut conn = ConnectionManager::clone(&conn);
        let reply = match (ask, &lease.kind) {
            (Ask::Quota(limit), Kind::Quota(unit)) => {
                let key = format!("{}{period}", lease.name);
                let mut call = self.lease_quota.key(key);
                call.arg(limit).arg(cap).arg(ttl(*unit)).arg(SHARE);
                self.call(call.invoke_async::<Vec<i64>>(&mut conn), wait)
                    .await
            }
            (Ask::Tokens(interval, tolerance), _) => {
                let mut call = self.lease_tokens.key(&lease.name);
                call.arg(interval).arg(tolerance).arg(cap).arg(SHARE);
                self.call(call.invoke_async::<Vec<i64>>(&mut conn), wait)
                    .await
            }
            (Ask::Quota(_), Kind::Tokens(_)) => return Err(()),
        }?;
        let at = |i: usize| reply.get(i).copied().unwrap_or(0).max(0) as u64;
        let retry = match ask {
            Ask::Quota(_) => EXHAUSTED_RECHECK,
            Ask::Tokens(..) => Duration::from_micros(at(2)),
        };
        Ok(Grant {
            granted: at(0),
            left: at(1),
            wait: retry,
        })
    }

    /// Gives `n` unused units of `lease` (of period `period`) back to Redis.
    async fn give_back(&self, lease: &Lease, period: u64, n: u64) -> Result<(), ()> {
        let conn = self.conn.load_full().ok_or(())?;
        let mut conn = ConnectionManager::clone(&conn);
        match &lease.kind {
            Kind::Quota(_) => {
                let key = format!("{}{period}", lease.name);
                let mut call = self.return_quota.key(key);
                call.arg(n);
                self.call(call.invoke_async::<i64>(&mut conn), BACKGROUND_TIMEOUT)
                    .await?;
            }
            Kind::Tokens(interval) => {
                let mut call = self.return_tokens.key(&lease.name);
                call.arg(n).arg(interval.load(Ordering::Relaxed));
                self.call(call.invoke_async::<i64>(&mut conn), BACKGROUND_TIMEOUT)
                    .await?;
            }
        }
        Ok(())
    }

    /// One script call within `limit`; Redis is marked down when it fails.
    async fn call<T>(
        &self,
        call: impl std::future::Future<Output = redis::RedisResult<T>>,
        limit: Duration,
    ) -> Result<T, ()> {
        match tokio::time::timeout(limit, call).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                self.mark_down(&e.to_string());
                Err(())
            }
            Err(_) => {
                self.mark_down("no answer in time");
                Err(())
            }
        }
    }

    /// Gives back the unused part of every lease that went unused since the last sweep or
    /// belongs to a past period; of every lease when `all` (reload, shutdown).
    pub async fn sweep(&self, all: bool) {
        if !self.is_up() {
            return;
        }
        let leases: Vec<Arc<Lease>> = {
            let map = self.leases.lock().unwrap_or_else(|p| p.into_inner());
            map.values().cloned().collect()
        };
        let wall = SystemTime::now();
        for lease in leases {
            let current = match &lease.kind {
                Kind::Quota(unit) => unit.number(wall),
                Kind::Tokens(_) => 0,
            };
            let Some((p, n)) = lease.drain(all, current) else {
                continue;
            };
            // Not retried when unconfirmed: Redis may have applied it, and giving back twice
            // could admit more than the limit. Unconfirmed units stay counted.
            if self.give_back(&lease, p, n).await.is_err() {
                return;
            }
        }
    }

    /// Connects (once) and, while Redis is down, probes it; when it answers, adds the counts
    /// made locally meanwhile (`pending`: Redis key, period, counter) and marks it up.
    pub async fn probe(&self, pending: Vec<(String, Period, Arc<QuotaCounter>)>) {
        if self.conn.load().is_none() {
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(Duration::from_secs(1)))
                .set_response_timeout(Some(BACKGROUND_TIMEOUT))
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
