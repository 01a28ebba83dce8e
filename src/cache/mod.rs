//! Stage response caching (reference §7): settings, keys, the byte-bounded store, the cache
//! lock and the `Cache-Control` invalidation policy. Nothing here touches Pingora; the proxy
//! adapter (`proxy::cache`) looks entries up after admission and stores integration
//! responses.
//!
//! The store is a module of its own rather than a `pingora-cache` `Storage`: `HttpCache`, the
//! only consumer of that trait, runs inside Pingora's proxy framework, which the gateway does
//! not use (see `proxy::downstream`); and its size cap aborts a chunked response over the
//! limit instead of passing it through whole.
//!
//! Caches live outside the [`Snapshot`]: [`Caches`] hands each compiled stage the cache of
//! the previous load when neither the stage's cache settings nor the configuration of its
//! cached methods changed, so a reload keeps it.

pub mod key;
pub mod lock;
pub mod policy;
pub mod seal;
pub mod settings;
pub mod store;

use crate::compile::Snapshot;
use crate::config::model;
use lock::{Fill, FillGuard, FillLocks};
use settings::MethodCache;
use std::collections::{BTreeMap, HashMap};
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

    /// The fresh entry under `key`, or the right to fill it. While another request fills
    /// it, waits for that one and looks again, [`lock::WAIT`] in all; past that (or after
    /// fillers that stored nothing), the request calls the integration without the lock.
    pub async fn claim(self: &Arc<Self>, key: &[u8]) -> Claim {
        let deadline = tokio::time::Instant::now() + lock::WAIT;
        for _ in 0..3 {
            if let Some(hit) = self.store.get(key, std::time::Instant::now()) {
                return Claim::Hit(hit);
            }
            match self.locks.acquire(key) {
                Fill::Filler(g) => return Claim::Fill(Some(g)),
                Fill::Wait(rx) => {
                    if !lock::wait(rx, deadline).await {
                        break;
                    }
                }
            }
        }
        Claim::Fill(None)
    }
}

/// The outcome of [`StageCache::claim`].
pub enum Claim {
    Hit(Arc<CachedResponse>),
    /// A miss: the integration is called, holding the key's fill lock when it got it.
    Fill(Option<FillGuard>),
}

/// What a stage cache's entries were made from. A reload keeps the cache only when this is
/// unchanged, so no entry outlives the configuration that produced it.
#[derive(Debug, PartialEq, Eq)]
pub struct Fingerprint {
    /// The byte budget (`cacheClusterSize`).
    pub capacity: usize,
    /// Stage variables: integration URIs and templates read them.
    pub variables: BTreeMap<String, String>,
    pub binary_media_types: Vec<String>,
    /// The cached methods, in method order.
    pub methods: Vec<CachedMethod>,
}

/// A cached method and everything its responses depend on.
#[derive(Debug, PartialEq, Eq)]
pub struct CachedMethod {
    pub resource_path: String,
    pub http_method: String,
    pub settings: MethodCache,
    /// The method as configured: method request, integration, responses.
    pub spec: model::Method,
    /// The `functions` entry a Lambda integration invokes.
    pub function: Option<model::Function>,
}

/// The stage caches of the running configuration, by API and stage, with what they were
/// made from.
#[derive(Default)]
pub struct Caches {
    live: Mutex<HashMap<StageId, (Fingerprint, Arc<StageCache>)>>,
}

/// An API id and stage name.
type StageId = (String, String);

impl Caches {
    /// Gives every stage of `snap` with `cacheClusterEnabled` its cache: the one it had before
    /// when its [`Fingerprint`] is the same, else a new, empty one. Caches of stages that are
    /// gone or changed are dropped.
    pub fn attach(&self, snap: &mut Snapshot) {
        let Ok(mut live) = self.live.lock() else {
            return;
        };
        let mut next = HashMap::new();
        for api in &mut snap.apis {
            for stage in &mut api.stages {
                let Some(fingerprint) = stage.cache_fingerprint.take() else {
                    continue;
                };
                let id = (api.id.clone(), stage.name.clone());
                let cache = match live.remove(&id) {
                    Some((old, cache)) if old == fingerprint => cache,
                    _ => Arc::new(StageCache::new(fingerprint.capacity)),
                };
                stage.cache = Some(cache.clone());
                next.insert(id, (fingerprint, cache));
            }
        }
        *live = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const CONFIG: &str = r#"
restApis:
  - id: api
    resources:
      /a:
        GET: {integration: {type: MOCK, requestTemplates: {application/json: '{"statusCode": 200}'}}}
      /b:
        GET: {integration: {type: MOCK}}
      /c:
        GET: {integration: {type: MOCK, cacheNamespace: /a}}
    stages: [{stageName: prod, cacheClusterEnabled: true}]
"#;

    fn snapshot(config: &str) -> Snapshot {
        let loaded = crate::config::parse(std::path::Path::new("t.yaml"), config)
            .unwrap_or_else(|d| panic!("{}", d[0]));
        let metrics = crate::metrics::Metrics::new();
        let resolve = |_: &str, _: u16| -> Result<std::net::SocketAddr, String> {
            Err("no DNS in tests".into())
        };
        crate::compile::compile(&loaded.config, &metrics, &resolve)
            .unwrap_or_else(|p| panic!("{:?}", p[0].message))
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_waits_for_fillers_at_most_wait_in_all() {
        let cache = Arc::new(StageCache::new(1 << 20));
        let start = tokio::time::Instant::now();
        let Claim::Fill(Some(first)) = cache.claim(b"k").await else {
            panic!("the first miss fills")
        };
        let waiter = tokio::spawn({
            let cache = cache.clone();
            async move { cache.claim(b"k").await }
        });
        // The first filler ends without storing; a second takes the key and never ends.
        tokio::time::sleep(lock::WAIT - Duration::from_secs(5)).await;
        drop(first);
        let Fill::Filler(_second) = cache.locks.acquire(b"k") else {
            panic!("the key is free again")
        };
        let Claim::Fill(None) = waiter.await.unwrap() else {
            panic!("the waiter calls the integration without the lock")
        };
        assert_eq!(
            start.elapsed(),
            lock::WAIT,
            "one deadline across both waits"
        );
    }

    #[tokio::test]
    async fn a_waiter_gets_the_entry_its_filler_stored() {
        let cache = Arc::new(StageCache::new(1 << 20));
        let Claim::Fill(Some(filler)) = cache.claim(b"k").await else {
            panic!("the first miss fills")
        };
        let waiter = tokio::spawn({
            let cache = cache.clone();
            async move { cache.claim(b"k").await }
        });
        let response = CachedResponse {
            status: 200,
            headers: Vec::new(),
            body: bytes::Bytes::from_static(b"body"),
        };
        let later = std::time::Instant::now() + Duration::from_secs(60);
        assert!(cache.store.put(b"k", response, later, false));
        drop(filler);
        let Claim::Hit(hit) = waiter.await.unwrap() else {
            panic!("a hit after the fill")
        };
        assert_eq!(hit.body, "body");
    }

    #[test]
    fn the_namespace_is_the_resource_path_unless_cache_namespace_is_set() {
        let snap = snapshot(CONFIG);
        let ns: Vec<_> = snap.apis[0]
            .methods
            .iter()
            .map(|m| m.cache_key.namespace.as_str())
            .collect();
        assert_eq!(ns, ["/a", "/b", "/a"]);
    }

    #[test]
    fn attach_keeps_a_cache_only_while_its_cached_methods_are_unchanged() {
        let caches = Caches::default();
        let cache_of = |config: &str| {
            let mut snap = snapshot(config);
            caches.attach(&mut snap);
            assert!(snap.apis[0].stages[0].cache_fingerprint.is_none());
            snap.apis[0].stages[0].cache.clone().expect("a stage cache")
        };
        let first = cache_of(CONFIG);
        assert!(Arc::ptr_eq(&first, &cache_of(CONFIG)));
        let template = CONFIG.replace("200}'", "404}'");
        let changed = cache_of(&template);
        assert!(
            !Arc::ptr_eq(&first, &changed),
            "integration template changed"
        );
        let variables = template.replace(
            "cacheClusterEnabled: true",
            "cacheClusterEnabled: true, variables: {v: x}",
        );
        assert!(
            !Arc::ptr_eq(&changed, &cache_of(&variables)),
            "stage variables changed"
        );
    }
}
