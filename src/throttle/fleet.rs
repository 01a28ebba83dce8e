//! The admission decision with usage plans shared through Redis: the same steps as
//! [`super::admit`], in the same order, with the key's token bucket and quota taken from the
//! node's leases on them ([`super::shared`]). A lease with units left decides on the node;
//! Redis is asked only when a lease is spent. When Redis does not answer, the key's own
//! bucket and count on this node decide, and the count is remembered for Redis.

use super::plans::{self, ApiKeyGrant, Limits, Refusal, StageLimits, UNLIMITED};
use super::shared::{Ask, Shared};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// [`super::admit`] with the shared store up.
pub async fn admit<'a>(
    shared: &Arc<Shared>,
    limits: &Limits,
    stage: &'a StageLimits,
    method: usize,
    api_key_required: bool,
    key: Option<&str>,
    (now, wall): (Instant, SystemTime),
) -> Result<Option<&'a ApiKeyGrant>, Refusal> {
    let grant = plans::key_grant(stage, api_key_required, key)?;
    let Some(g) = grant else {
        plans::stage_throttles(limits, stage, method, now)?;
        return Ok(None);
    };
    let bucket = g
        .shared
        .method_throttle
        .get(&method)
        .or(g.shared.throttle.as_ref());
    if let Some(b) = bucket {
        let (interval, tolerance) = b.gcra;
        let admitted = match shared
            .take(&b.lease, Ask::Tokens(interval, tolerance), 0, now)
            .await
        {
            Some(a) => a,
            None => plans::local_bucket(g, method, now),
        };
        if !admitted {
            return Err(stage.refuse(Refusal::KeyThrottled));
        }
    }
    plans::stage_throttles(limits, stage, method, now)?;
    let n = g.period.number(wall);
    let (Some(q), Some(lease)) = (g.quota, &g.shared.quota) else {
        // No quota: counted here for the usage report.
        g.counter.try_take(n, UNLIMITED);
        return Ok(grant);
    };
    let limit = q.limit_in(n, g.counter.first_period);
    match shared.take(lease, Ask::Quota(limit), n, now).await {
        Some(true) => g.counter.record(n),
        Some(false) => return Err(stage.refuse(Refusal::QuotaExceeded)),
        // Redis went away: count here, and add it to Redis when it is back.
        None if g.counter.try_take(n, limit) => g.counter.note_unsynced(),
        None => return Err(stage.refuse(Refusal::QuotaExceeded)),
    }
    Ok(grant)
}
