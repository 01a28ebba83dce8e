//! Stage and method cache settings, compiled once per load: `cacheClusterEnabled`,
//! `cacheClusterSize` and the `methodSettings` caching fields (reference §7.1).

use super::key::KeySpec;
use super::policy::UnauthorizedStrategy;
use crate::config::model::{MethodSetting, Stage};
use std::time::Duration;

/// `cacheTtlInSeconds` when unset.
pub const DEFAULT_TTL_SECONDS: u64 = 300;

/// The largest response body stored; larger ones pass through uncached.
pub const MAX_ENTRY_BYTES: usize = 1_048_576;

/// Caching of one method of one stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodCache {
    pub ttl: Duration,
    pub encrypted: bool,
    pub require_authorization: bool,
    pub strategy: UnauthorizedStrategy,
    /// Only GET requests are cached (the stage default; an `ANY` method caches its GETs).
    pub get_only: bool,
    pub key: KeySpec,
}

/// The byte budget of a stage's cache: `cacheClusterSize` GB (AWS's default 0.5), or None
/// when `cacheClusterEnabled` is false.
pub fn capacity_bytes(stage: &Stage) -> Option<usize> {
    if !stage.cache_cluster_enabled {
        return None;
    }
    let gb: f64 = stage
        .cache_cluster_size
        .as_deref()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.5);
    Some((gb * (1u64 << 30) as f64) as usize)
}

/// The effective caching of a method: the setting that names the method wins field by field
/// over `{resource}/*`, then `*/{METHOD}`, then `*/*`. Enabling the stage cache turns
/// caching on for GET methods; other methods need `cachingEnabled` in a setting that names
/// them. A TTL of 0 turns caching off.
pub fn method_cache(
    stage: &Stage,
    resource_path: &str,
    http_method: &str,
    key: KeySpec,
) -> Option<MethodCache> {
    stage.cache_cluster_enabled.then_some(())?;
    let res = resource_path.trim_start_matches('/');
    let exact = stage.method_settings.get(&format!("{res}/{http_method}"));
    let chain: Vec<&MethodSetting> = [
        exact,
        stage.method_settings.get(&format!("{res}/*")),
        stage.method_settings.get(&format!("*/{http_method}")),
        stage.method_settings.get("*/*"),
    ]
    .into_iter()
    .flatten()
    .collect();
    fn first<T: Copy>(
        chain: &[&MethodSetting],
        f: impl Fn(&MethodSetting) -> Option<T>,
    ) -> Option<T> {
        chain.iter().find_map(|s| f(s))
    }
    let explicit = exact.and_then(|s| s.caching_enabled);
    let is_get = http_method == "GET";
    let enabled = match explicit {
        Some(e) => e,
        None => {
            first(&chain, |s| s.caching_enabled).unwrap_or(true) && (is_get || http_method == "ANY")
        }
    };
    let ttl = first(&chain, |s| s.cache_ttl_in_seconds).unwrap_or(DEFAULT_TTL_SECONDS);
    if !enabled || ttl == 0 {
        return None;
    }
    let strategy = chain
        .iter()
        .find_map(|s| s.unauthorized_cache_control_header_strategy.as_deref());
    Some(MethodCache {
        ttl: Duration::from_secs(ttl.min(3600)),
        encrypted: first(&chain, |s| s.cache_data_encrypted).unwrap_or(false),
        require_authorization: first(&chain, |s| s.require_authorization_for_cache_control)
            .unwrap_or(true),
        strategy: UnauthorizedStrategy::parse(strategy),
        get_only: explicit != Some(true),
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(yaml: &str) -> Stage {
        serde_yaml::from_str(yaml).unwrap()
    }

    fn key() -> KeySpec {
        KeySpec::new("r", &[])
    }

    #[test]
    fn get_is_cached_by_default_other_methods_by_explicit_setting() {
        let s = stage("{stageName: p, cacheClusterEnabled: true}");
        let get = method_cache(&s, "/pets", "GET", key()).unwrap();
        assert_eq!(get.ttl, Duration::from_secs(300));
        assert!(get.require_authorization && !get.encrypted && get.get_only);
        assert_eq!(
            get.strategy,
            UnauthorizedStrategy::SucceedWithResponseHeader
        );
        assert!(method_cache(&s, "/pets", "POST", key()).is_none());
        assert!(method_cache(&s, "/pets", "ANY", key()).unwrap().get_only);

        let s = stage(
            r#"{stageName: p, cacheClusterEnabled: true, methodSettings: {
                "*/*": {cachingEnabled: true, cacheTtlInSeconds: 60},
                "pets/POST": {cachingEnabled: true},
                "pets/GET": {cacheTtlInSeconds: 0},
                "toys/GET": {cachingEnabled: false}}}"#,
        );
        let post = method_cache(&s, "/pets", "POST", key()).unwrap();
        assert_eq!(post.ttl, Duration::from_secs(60));
        assert!(!post.get_only);
        assert!(method_cache(&s, "/pets", "GET", key()).is_none());
        assert!(method_cache(&s, "/toys", "GET", key()).is_none());
        assert!(method_cache(&s, "/other", "PUT", key()).is_none());
        assert!(method_cache(&s, "/other", "GET", key()).is_some());
    }

    #[test]
    fn disabled_cluster_caches_nothing() {
        let s = stage(r#"{stageName: p, methodSettings: {"*/*": {cachingEnabled: true}}}"#);
        assert!(method_cache(&s, "/pets", "GET", key()).is_none());
        assert_eq!(capacity_bytes(&s), None);
        let s = stage(r#"{stageName: p, cacheClusterEnabled: true, cacheClusterSize: "1.6"}"#);
        assert_eq!(
            capacity_bytes(&s),
            Some((1.6 * (1u64 << 30) as f64) as usize)
        );
    }
}
