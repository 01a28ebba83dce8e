//! Stage response caching (reference §7): settings, keys, the byte-bounded store, the cache
//! lock and the `Cache-Control` invalidation policy. Nothing here touches Pingora; the proxy
//! adapter (`proxy::cache`) looks entries up after admission and stores integration
//! responses.
//!
//! The store is a module of its own rather than a `pingora-cache` `Storage`: most responses
//! never pass through Pingora's proxy phases (whole replies of MOCK, HTTP, AWS and Lambda
//! integrations; the lean HTTP_PROXY client), so `HttpCache`, the only consumer of that
//! trait, would not run for them; and its size cap aborts a chunked response over the limit
//! instead of passing it through whole.
//!
//! Caches live outside the [`Snapshot`]: [`Caches`] hands each compiled stage the cache of
//! the previous load when the stage's cache settings did not change, so a reload keeps it.

pub mod key;
pub mod lock;
pub mod policy;
pub mod seal;
pub mod settings;
pub mod store;

use crate::compile::Snapshot;
use lock::FillLocks;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
pub use store::CachedResponse;

/// One stage's cache.
pub struct StageCache {
    pub store: store::Store,
    pub locks: Arc<FillLocks>,
}

impl StageCache {
    pub fn new(capacity: usize) -> StageCache {
        StageCache {
            store: store::Store::new(capacity),
            locks: Arc::new(FillLocks::default()),
        }
    }

    /// FlushStageCache.
    pub fn flush(&self) {
        self.store.flush();
    }
}

/// The stage caches of the running configuration, by API, stage and cache settings.
#[derive(Default)]
pub struct Caches {
    live: Mutex<HashMap<(String, String, String), Arc<StageCache>>>,
}

impl Caches {
    /// Gives every stage of `snap` with `cacheClusterEnabled` its cache: the one it had before
    /// when its settings are the same, else a new, empty one. Caches of stages that are gone
    /// or changed are dropped.
    pub fn attach(&self, snap: &mut Snapshot) {
        let Ok(mut live) = self.live.lock() else {
            return;
        };
        let mut next = HashMap::new();
        for api in &mut snap.apis {
            for stage in &mut api.stages {
                let Some(capacity) = stage.cache_capacity else {
                    continue;
                };
                let methods: Vec<_> = stage.methods.iter().map(|m| &m.cache).collect();
                let id = (
                    api.id.clone(),
                    stage.name.clone(),
                    format!("{capacity} {methods:?}"),
                );
                let cache = live
                    .remove(&id)
                    .unwrap_or_else(|| Arc::new(StageCache::new(capacity)));
                stage.cache = Some(cache.clone());
                next.insert(id, cache);
            }
        }
        *live = next;
    }
}
