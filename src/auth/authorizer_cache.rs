//! A bounded time-to-live cache for authorizer results: Lambda authorizer outputs keyed by
//! the values of their identity sources (§3.5), and verified JWTs keyed by the token. Sharded
//! so that concurrent requests rarely touch the same lock; a full shard first drops its
//! expired entries, then everything (the cache only saves work, it never decides). The clock
//! is `Instant` unless the caller keeps time another way (`SystemTime` for signatures).
//!
//! Keys come from clients, so the hasher is keyed: foldhash, seeded at random per cache.

use foldhash::fast::{FoldHasher, RandomState};
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, RwLock};
use std::time::Instant;

const SHARDS: usize = 16;
/// Longer keys (identity values, tokens) are not cached: the bound on entries then bounds
/// memory as well.
pub const MAX_KEY_BYTES: usize = 8192;

type Shard<V, T, K> = RwLock<HashMap<K, (T, Arc<V>), Sampled>>;

/// Hashes a long key by its length, head and tail only: a token ends in its signature and
/// identity values seldom share both ends, so a lookup does not hash a whole JWT. Keys that
/// share a hash still compare in full; a shard holds few entries, which bounds a collision
/// chain.
#[derive(Clone, Default)]
struct Sampled(RandomState);

/// Bytes hashed from each end of a long key.
const SAMPLE: usize = 32;

struct SampledHasher(FoldHasher<'static>);

impl BuildHasher for Sampled {
    type Hasher = SampledHasher;
    fn build_hasher(&self) -> SampledHasher {
        SampledHasher(self.0.build_hasher())
    }
}

impl Hasher for SampledHasher {
    fn write(&mut self, bytes: &[u8]) {
        if bytes.len() <= 2 * SAMPLE {
            self.0.write(bytes);
        } else {
            self.0.write_usize(bytes.len());
            self.0.write(&bytes[..SAMPLE]);
            self.0.write(&bytes[bytes.len() - SAMPLE..]);
        }
    }
    fn finish(&self) -> u64 {
        self.0.finish()
    }
}

/// Keyed by text (`String`) unless the owner looks keys up as bytes (`Box<[u8]>`).
pub struct TtlCache<V, T = Instant, K = String> {
    shards: Box<[Shard<V, T, K>]>,
    hasher: RandomState,
    per_shard: usize,
}

impl<V, T: Copy + Ord> TtlCache<V, T> {
    /// A cache holding about `capacity` entries at most, keyed by text.
    pub fn new(capacity: usize) -> TtlCache<V, T> {
        TtlCache::with_capacity(capacity)
    }
}

impl<V, T: Copy + Ord, K: Hash + Eq + AsRef<[u8]>> TtlCache<V, T, K> {
    /// A cache holding about `capacity` entries at most.
    pub fn with_capacity(capacity: usize) -> TtlCache<V, T, K> {
        TtlCache {
            shards: (0..SHARDS)
                .map(|_| RwLock::new(HashMap::with_hasher(Sampled::default())))
                .collect(),
            hasher: RandomState::default(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    /// The shard by the key's last bytes (a token's signature, an identity value's end), so
    /// that only the map hashes the whole key.
    fn shard(&self, key: &[u8]) -> &Shard<V, T, K> {
        let b = key;
        let tail = &b[b.len().saturating_sub(8)..];
        let i = self.hasher.hash_one(tail) as usize % SHARDS;
        &self.shards[i]
    }

    /// The value under `key` unless it expired by `now`.
    pub fn get<Q>(&self, key: &Q, now: T) -> Option<Arc<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + AsRef<[u8]> + ?Sized,
    {
        let shard = self
            .shard(key.as_ref())
            .read()
            .unwrap_or_else(|e| e.into_inner());
        shard
            .get(key)
            .filter(|(expires, _)| *expires > now)
            .map(|(_, v)| v.clone())
    }

    /// Stores `value` under `key` until `expires`.
    pub fn insert(&self, key: K, value: Arc<V>, expires: T, now: T) {
        if expires <= now || key.as_ref().len() > MAX_KEY_BYTES {
            return;
        }
        let mut shard = self
            .shard(key.as_ref())
            .write()
            .unwrap_or_else(|e| e.into_inner());
        if shard.len() >= self.per_shard && !shard.contains_key(&key) {
            shard.retain(|_, (e, _)| *e > now);
            if shard.len() >= self.per_shard {
                shard.clear();
            }
        }
        shard.insert(key, (expires, value));
    }

    /// Drops every entry (`FlushStageAuthorizersCache`).
    pub fn clear(&self) {
        for s in self.shards.iter() {
            s.write().unwrap_or_else(|e| e.into_inner()).clear();
        }
    }

    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn entries_expire_and_flush() {
        let c = TtlCache::new(100);
        let now = Instant::now();
        c.insert("a".into(), Arc::new(1), now + Duration::from_secs(10), now);
        assert_eq!(c.get("a", now).as_deref(), Some(&1));
        assert_eq!(c.get("a", now + Duration::from_secs(10)), None);
        assert_eq!(c.get("b", now), None);
        c.insert("x".into(), Arc::new(2), now, now);
        assert_eq!(c.get("x", now), None, "already expired: not stored");
        let long = "k".repeat(MAX_KEY_BYTES + 1);
        c.insert(
            long.clone(),
            Arc::new(3),
            now + Duration::from_secs(10),
            now,
        );
        assert_eq!(c.get(&long, now), None, "too long a key: not stored");
        c.clear();
        assert!(c.is_empty());
    }

    /// Keys that differ only in their middle share a hash, and are still told apart.
    #[test]
    fn long_keys_compare_in_full() {
        let c = TtlCache::new(100);
        let now = Instant::now();
        let later = now + Duration::from_secs(10);
        let key = |mid: char| {
            format!(
                "{}{}{}",
                "h".repeat(40),
                mid.to_string().repeat(900),
                "t".repeat(40)
            )
        };
        c.insert(key('a'), Arc::new(1), later, now);
        c.insert(key('b'), Arc::new(2), later, now);
        assert_eq!(c.get(&key('a'), now).as_deref(), Some(&1));
        assert_eq!(c.get(&key('b'), now).as_deref(), Some(&2));
        assert_eq!(c.get(&key('c'), now), None);
        assert_eq!(c.get(&key('a')[1..], now), None);
    }

    #[test]
    fn bounded() {
        let c = TtlCache::new(32);
        let now = Instant::now();
        for i in 0..10_000 {
            c.insert(
                format!("k{i}"),
                Arc::new(i),
                now + Duration::from_secs(60),
                now,
            );
        }
        assert!(c.len() <= 32, "{}", c.len());
        assert_eq!(c.get("k9999", now).as_deref(), Some(&9999));
    }
}
