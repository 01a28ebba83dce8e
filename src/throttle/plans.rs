//! Usage plans compiled for the request path, and the admission decision: API key, then the
//! key's throttle (a per-method override in the plan, else the plan's), then the stage's
//! method throttle, then the account's, then the key's quota (reference §5.2, §6: AWS applies
//! per-client, per-method, then account limits). A request refused by a throttle is not
//! counted against the quota.

use super::bucket::TokenBucket;
use super::lease::Lease;
use super::quota::{Period, QuotaCounter, QuotaSettings};
use super::shared::SharedBucket;
use super::store::Usage;
use crate::config::model::{self, Config};
use crate::config::spans::Seg;
use crate::config::Problem;
use crate::ids::stable_id;
use crate::metrics::Metrics;
use crate::path;
use prometheus::IntCounter;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 403 INVALID_API_KEY.
    InvalidApiKey,
    /// 429 THROTTLED by the key's usage plan.
    KeyThrottled,
    /// 429 THROTTLED by the stage's method settings.
    MethodThrottled,
    /// 429 THROTTLED by the account limit.
    AccountThrottled,
    /// 429 QUOTA_EXCEEDED.
    QuotaExceeded,
}

impl Refusal {
    /// `reason` of `tollgate_throttled_total`.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::InvalidApiKey => "invalid_api_key",
            Refusal::KeyThrottled => "usage_plan",
            Refusal::MethodThrottled => "method",
            Refusal::AccountThrottled => "account",
            Refusal::QuotaExceeded => "quota",
        }
    }
}

/// An API key as valid on one stage: enabled, and in a usage plan covering the stage.
pub struct ApiKeyGrant {
    /// `$context.identity.apiKeyId`.
    pub id: String,
    pub value: String,
    /// The plan's throttle for this key (shared by every stage of the plan).
    pub throttle: Option<Arc<TokenBucket>>,
    /// Per-method overrides from the plan's `apiStages[].throttle`, by method id.
    pub method_throttle: HashMap<usize, Arc<TokenBucket>>,
    pub quota: Option<QuotaSettings>,
    /// Counts the key's requests in the plan (a quota's period, else days).
    pub counter: Arc<QuotaCounter>,
    pub period: Period,
    /// The key's leases on its shared quota and buckets (`server.redis`).
    pub shared: SharedGrant,
}

/// An API key's usage plan limits as shared through Redis: leases on its quota, its plan
/// throttle and per-method overrides (by method id).
#[derive(Default)]
pub struct SharedGrant {
    pub quota: Option<Arc<Lease>>,
    pub throttle: Option<SharedBucket>,
    pub method_throttle: HashMap<usize, SharedBucket>,
}

/// Refusal counters of one stage, by reason.
pub struct Refused {
    key: IntCounter,
    method: IntCounter,
    account: IntCounter,
    quota: IntCounter,
}

impl Refused {
    fn new(metrics: &Metrics, api: &str, stage: &str) -> Refused {
        let c = |r: Refusal| {
            metrics
                .throttled
                .with_label_values(&[api, stage, r.reason()])
        };
        Refused {
            key: c(Refusal::KeyThrottled),
            method: c(Refusal::MethodThrottled),
            account: c(Refusal::AccountThrottled),
            quota: c(Refusal::QuotaExceeded),
        }
    }

    pub fn count(&self, r: Refusal) {
        match r {
            Refusal::InvalidApiKey => {}
            Refusal::KeyThrottled => self.key.inc(),
            Refusal::MethodThrottled => self.method.inc(),
            Refusal::AccountThrottled => self.account.inc(),
            Refusal::QuotaExceeded => self.quota.inc(),
        }
    }
}

/// What one stage enforces.
#[derive(Default)]
pub struct StageLimits {
    /// By key value.
    pub keys: HashMap<String, ApiKeyGrant>,
    /// From `methodSettings`, by method id (None: no stage limit for the method).
    pub method_throttle: Vec<Option<TokenBucket>>,
    refused: Option<Refused>,
}

impl StageLimits {
    /// Counts refusal `r` and returns it.
    pub fn refuse(&self, r: Refusal) -> Refusal {
        if let Some(c) = &self.refused {
            c.count(r);
        }
        r
    }
}

/// Where [`admit`] counts a key's quota (with the shared store up, [`super::fleet::admit`]
/// decides instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaMode {
    /// Here only (no shared store).
    Local,
    /// Here, remembered for the shared store, which is unreachable.
    Fallback,
}

/// A usage plan as the admin listener reports it.
pub struct PlanUsage {
    pub name: String,
    pub period: Period,
    pub quota: Option<QuotaSettings>,
    /// (key id, counter).
    pub keys: Vec<(String, Arc<QuotaCounter>)>,
}

/// Server-wide limits.
pub struct Limits {
    pub account: TokenBucket,
    pub plans: Vec<PlanUsage>,
    /// Quotas shared through Redis.
    pub shared: Option<Arc<super::Shared>>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            account: TokenBucket::new(10_000.0, 5_000),
            plans: Vec::new(),
            shared: None,
        }
    }
}

/// The API key id Tollgate reports for key `name` (AWS assigns random ten-character ids).
pub fn api_key_id(name: &str) -> String {
    let a = stable_id(&["apikey", name]);
    let b = stable_id(&["apikey2", name]);
    format!("{a}{}", &b[..4])
}

/// `methodSettings` key of a method: `pets/{id}/GET`, `/GET` at the root (`~1` for `/`
/// accepted as in AWS's patch paths).
fn setting_key(resource: &str, method: &str) -> String {
    format!("{}/{method}", resource.trim_start_matches('/'))
}

/// The methods of an API as `(resource path, method key)` by method id.
pub type MethodNames<'a> = &'a [(&'a str, &'a str)];

/// Compiles the usage plans and stage throttles of `config` into each stage's limits.
/// `apis[i]` describes `config.rest_apis[i]`'s methods; the result is indexed
/// `[api][stage]`.
pub fn compile(
    config: &Config,
    apis: &[(String, MethodNames)],
    metrics: &Metrics,
    usage: &Usage,
    now: SystemTime,
) -> Result<(Limits, Vec<Vec<StageLimits>>), Vec<Problem>> {
    let mut problems = Vec::new();
    let mut stages: Vec<Vec<StageLimits>> = Vec::new();
    for (i, api) in config.rest_apis.iter().enumerate() {
        let names = apis.get(i).map_or(&[][..], |a| a.1);
        let mut list = Vec::new();
        for s in &api.stages {
            let method_throttle = names
                .iter()
                .map(|(res, m)| stage_bucket(&s.method_settings, res, m))
                .collect();
            list.push(StageLimits {
                keys: HashMap::new(),
                method_throttle,
                refused: Some(Refused::new(metrics, &api.id, &s.stage_name)),
            });
        }
        stages.push(list);
    }
    let keys: HashMap<&str, &model::ApiKey> = config
        .api_keys
        .iter()
        .map(|k| (k.name.as_str(), k))
        .collect();
    let mut plans = Vec::new();
    for (p, plan) in config.usage_plans.iter().enumerate() {
        let quota = plan.quota.as_ref().and_then(|q| {
            Some(QuotaSettings {
                limit: q.limit,
                offset: q.offset,
                period: Period::parse(&q.period)?,
            })
        });
        let period = quota.map_or(Period::Day, |q| q.period);
        let mut report = PlanUsage {
            name: plan.name.clone(),
            period,
            quota,
            keys: Vec::new(),
        };
        for key_name in &plan.api_keys {
            let Some(key) = keys.get(key_name.as_str()) else {
                continue;
            };
            let id = api_key_id(&key.name);
            let counter = usage.counter(&plan.name, &key.name, period, period.number(now));
            report.keys.push((id.clone(), counter.clone()));
            if !key.enabled {
                continue;
            }
            let throttle = plan.throttle.as_ref().and_then(bucket_of).map(Arc::new);
            for (j, st) in plan.api_stages.iter().enumerate() {
                let spath = path!["usagePlans", p, "apiStages", j];
                let Some(a) = config.rest_apis.iter().position(|x| x.id == st.api_id) else {
                    continue;
                };
                let Some(s) = config.rest_apis[a]
                    .stages
                    .iter()
                    .position(|x| x.stage_name == st.stage)
                else {
                    continue;
                };
                let names = apis.get(a).map_or(&[][..], |x| x.1);
                let mut method_throttle = HashMap::new();
                for (k, t) in &st.throttle {
                    let wanted = k.replace("~1", "/");
                    let found = names.iter().position(|(res, m)| {
                        let res = if *res == "/" { "" } else { res };
                        wanted == format!("{res}/{m}") || wanted == format!("{res}/*")
                    });
                    match (found, bucket_of(t)) {
                        (Some(mid), Some(b)) => {
                            method_throttle.insert(mid, Arc::new(b));
                        }
                        (Some(_), None) => {}
                        (None, _) => problems.push(Problem::new(
                            at(&spath, path!["throttle", k]),
                            format!(
                                "no method `{k}` in REST API `{}` (keys are /{{resourcePath}}/{{METHOD}})",
                                st.api_id
                            ),
                        )),
                    }
                }
                let shared = usage
                    .shared
                    .as_deref()
                    .map_or_else(SharedGrant::default, |sh| {
                        let rate = format!("tollgate:{{{}:{}}}:rate:", plan.name, key.name);
                        let bucket = |name: String, b: &TokenBucket| {
                            let gcra = b.gcra_micros();
                            SharedBucket {
                                lease: sh.token_lease(&name, gcra.0),
                                gcra,
                            }
                        };
                        SharedGrant {
                            quota: quota.map(|_| {
                                let prefix =
                                    super::shared::redis_prefix(&plan.name, &key.name, period);
                                sh.quota_lease(&prefix, period)
                            }),
                            throttle: throttle.as_ref().map(|b| bucket(format!("{rate}plan"), b)),
                            method_throttle: method_throttle
                                .iter()
                                .map(|(m, b)| (*m, bucket(format!("{rate}m{m}"), b)))
                                .collect(),
                        }
                    });
                let grant = ApiKeyGrant {
                    id: id.clone(),
                    value: key.value.clone(),
                    throttle: throttle.clone(),
                    method_throttle,
                    quota,
                    counter: counter.clone(),
                    period,
                    shared,
                };
                if let Some(limits) = stages.get_mut(a).and_then(|l| l.get_mut(s)) {
                    if limits.keys.insert(key.value.clone(), grant).is_some() {
                        problems.push(Problem::new(
                            path!["usagePlans", p, "apiKeys"],
                            format!(
                                "API key `{}` is in two usage plans for stage {}/{}: a key may be in one plan per API stage",
                                key.name, st.api_id, st.stage
                            ),
                        ));
                    }
                }
            }
        }
        plans.push(report);
    }
    let account = TokenBucket::new(
        config.server.throttle.rate_limit.unwrap_or(10_000.0),
        config.server.throttle.burst_limit.unwrap_or(5_000),
    );
    if problems.is_empty() {
        Ok((
            Limits {
                account,
                plans,
                shared: usage.shared.clone(),
            },
            stages,
        ))
    } else {
        Err(problems)
    }
}

fn at(base: &[Seg], rest: Vec<Seg>) -> Vec<Seg> {
    let mut p = base.to_vec();
    p.extend(rest);
    p
}

fn bucket_of(t: &model::ThrottleSettings) -> Option<TokenBucket> {
    match (t.rate_limit, t.burst_limit) {
        (None, None) => None,
        (rate, burst) => Some(TokenBucket::new(
            rate.unwrap_or(10_000.0),
            burst.unwrap_or(5_000),
        )),
    }
}

/// A method's stage throttle: its own `methodSettings` entry over `*/*`, field by field.
fn stage_bucket(
    settings: &std::collections::BTreeMap<String, model::MethodSetting>,
    resource: &str,
    method: &str,
) -> Option<TokenBucket> {
    let own = settings
        .iter()
        .find(|(k, _)| k.replace("~1", "/") == setting_key(resource, method))
        .map(|(_, v)| v);
    let all = settings.get("*/*");
    let rate = own
        .and_then(|s| s.throttling_rate_limit)
        .or_else(|| all.and_then(|s| s.throttling_rate_limit));
    let burst = own
        .and_then(|s| s.throttling_burst_limit)
        .or_else(|| all.and_then(|s| s.throttling_burst_limit));
    bucket_of(&model::ThrottleSettings {
        rate_limit: rate,
        burst_limit: burst,
    })
}

/// AWS's `GetUsage` for plan `id` (the plan's name), over the current quota period:
/// `{"usagePlanId", "startDate", "endDate", "items": {keyId: [[used, remaining]]}}`.
pub fn usage_report(limits: &Limits, id: &str, now: SystemTime) -> Option<String> {
    let plan = limits.plans.iter().find(|p| p.name == id)?;
    let n = plan.period.number(now);
    let items: serde_json::Map<String, serde_json::Value> = plan
        .keys
        .iter()
        .map(|(key_id, c)| {
            let used = c.used_in(n);
            let remaining = plan
                .quota
                .map_or(0, |q| q.limit_in(n, c.first_period).saturating_sub(used));
            (key_id.clone(), serde_json::json!([[used, remaining]]))
        })
        .collect();
    let today = super::quota::Period::Day;
    Some(
        serde_json::json!({
            "usagePlanId": plan.name,
            "startDate": plan.period.start_date(n),
            "endDate": today.start_date(today.number(now)),
            "items": items,
        })
        .to_string(),
    )
}

/// Decides whether a request to method `method` of a stage, arriving at (`now`, `wall`),
/// may proceed. `key` is the API key
/// the request presented (header or authorizer); it is looked at only when the method
/// requires one. On success, the key grant the request used, if any.
pub fn admit<'a>(
    limits: &Limits,
    stage: &'a StageLimits,
    method: usize,
    api_key_required: bool,
    key: Option<&str>,
    (now, wall): (Instant, SystemTime),
    mode: QuotaMode,
) -> Result<Option<&'a ApiKeyGrant>, Refusal> {
    let grant = key_grant(stage, api_key_required, key)?;
    if let Some(g) = grant {
        if !local_bucket(g, method, now) {
            return Err(stage.refuse(Refusal::KeyThrottled));
        }
    }
    stage_throttles(limits, stage, method, now)?;
    if let Some(g) = grant {
        let n = g.period.number(wall);
        let limit = g
            .quota
            .map_or(UNLIMITED, |q| q.limit_in(n, g.counter.first_period));
        if !g.counter.try_take(n, limit) {
            return Err(stage.refuse(Refusal::QuotaExceeded));
        }
        if mode == QuotaMode::Fallback {
            g.counter.note_unsynced();
        }
    }
    Ok(grant)
}

/// The count limit of a key without a quota (counted for the usage report only).
pub const UNLIMITED: u64 = u64::MAX >> 24;

/// The API key grant a request uses: None when the method requires no key.
pub fn key_grant<'a>(
    stage: &'a StageLimits,
    api_key_required: bool,
    key: Option<&str>,
) -> Result<Option<&'a ApiKeyGrant>, Refusal> {
    if !api_key_required {
        return Ok(None);
    }
    match key.and_then(|k| stage.keys.get(k)) {
        Some(g) => Ok(Some(g)),
        None => Err(Refusal::InvalidApiKey),
    }
}

/// Takes a token from the key's own bucket for `method` (its plan's, or the plan's
/// override for the method), kept on this node; false when it is empty.
pub fn local_bucket(g: &ApiKeyGrant, method: usize, now: Instant) -> bool {
    let bucket = g.method_throttle.get(&method).or(g.throttle.as_ref());
    bucket.is_none_or(|b| b.try_acquire(now))
}

/// The stage's throttle for `method`, then the account's.
pub fn stage_throttles(
    limits: &Limits,
    stage: &StageLimits,
    method: usize,
    now: Instant,
) -> Result<(), Refusal> {
    if let Some(Some(b)) = stage.method_throttle.get(method) {
        if !b.try_acquire(now) {
            return Err(stage.refuse(Refusal::MethodThrottled));
        }
    }
    if !limits.account.try_acquire(now) {
        return Err(stage.refuse(Refusal::AccountThrottled));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml: &str) -> Config {
        serde_yaml::from_str(yaml).unwrap()
    }

    const YAML: &str = r#"
apiKeys:
  - {name: partner, value: "partner-key-000000000001"}
  - {name: other, value: "other-key-00000000000001"}
  - {name: off, value: "off-key-0000000000000001", enabled: false}
usagePlans:
  - name: basic
    apiKeys: [partner, off]
    apiStages: [{apiId: a, stage: prod, throttle: {"/pets/GET": {rateLimit: 1, burstLimit: 1}}}]
    throttle: {rateLimit: 100, burstLimit: 3}
    quota: {limit: 4, offset: 1, period: DAY}
  - name: elsewhere
    apiKeys: [other]
    apiStages: [{apiId: a, stage: test}]
restApis:
  - id: a
    stages:
      - {stageName: prod}
      - stageName: test
        methodSettings:
          "*/*": {throttlingBurstLimit: 2, throttlingRateLimit: 0.001}
          "pets/GET": {throttlingBurstLimit: 1}
"#;

    fn compiled() -> (Limits, Vec<Vec<StageLimits>>) {
        let names: &[(&str, &str)] = &[("/pets", "GET"), ("/pets", "POST")];
        compile(
            &config(YAML),
            &[("a".to_string(), names)],
            &Metrics::new(),
            &Usage::ephemeral(),
            SystemTime::now(),
        )
        .unwrap_or_else(|p| panic!("{:?}", p.iter().map(|p| &p.message).collect::<Vec<_>>()))
    }

    #[test]
    fn keys_must_exist_be_enabled_and_cover_the_stage() {
        let (limits, stages) = compiled();
        let (prod, test) = (&stages[0][0], &stages[0][1]);
        // The test stage's plan has `other` only.
        assert!(admit(
            &limits,
            test,
            1,
            true,
            Some("other-key-00000000000001"),
            (Instant::now(), SystemTime::now()),
            QuotaMode::Local,
        )
        .is_ok());
        let t = Instant::now();
        let w = SystemTime::now();
        let go = |s: &StageLimits, key: Option<&str>| {
            admit(&limits, s, 1, true, key, (t, w), QuotaMode::Local)
                .map(|g| g.map(|g| g.id.clone()))
        };
        assert_eq!(go(prod, None), Err(Refusal::InvalidApiKey));
        assert_eq!(go(prod, Some("nope")), Err(Refusal::InvalidApiKey));
        assert_eq!(
            go(prod, Some("off-key-0000000000000001")),
            Err(Refusal::InvalidApiKey)
        );
        // `other` is in a plan for the test stage only.
        assert_eq!(
            go(prod, Some("other-key-00000000000001")),
            Err(Refusal::InvalidApiKey)
        );
        assert_eq!(
            go(prod, Some("partner-key-000000000001")),
            Ok(Some(api_key_id("partner")))
        );
        // Not required: no key is looked at, nothing counted.
        assert!(admit(
            &limits,
            prod,
            1,
            false,
            Some("nope"),
            (t, w),
            QuotaMode::Local
        )
        .unwrap()
        .is_none());
    }

    #[test]
    fn plan_throttle_method_override_and_quota_with_offset() {
        let (limits, stages) = compiled();
        let prod = &stages[0][0];
        let t = Instant::now();
        let w = SystemTime::now();
        let key = Some("partner-key-000000000001");
        // GET /pets has its own bucket of 1.
        assert!(admit(&limits, prod, 0, true, key, (t, w), QuotaMode::Local).is_ok());
        assert_eq!(
            admit(&limits, prod, 0, true, key, (t, w), QuotaMode::Local).err(),
            Some(Refusal::KeyThrottled)
        );
        // POST uses the plan's bucket (burst 3); the quota (4 - offset 1) has 2 left.
        assert!(admit(&limits, prod, 1, true, key, (t, w), QuotaMode::Local).is_ok());
        assert!(admit(&limits, prod, 1, true, key, (t, w), QuotaMode::Local).is_ok());
        assert_eq!(
            admit(&limits, prod, 1, true, key, (t, w), QuotaMode::Local).err(),
            Some(Refusal::QuotaExceeded)
        );
        // The plan bucket's three tokens are gone now.
        assert_eq!(
            admit(&limits, prod, 1, true, key, (t, w), QuotaMode::Local).err(),
            Some(Refusal::KeyThrottled)
        );
    }

    #[test]
    fn fallback_counts_here_and_remembers_it_for_the_shared_store() {
        let (limits, stages) = compiled();
        let prod = &stages[0][0];
        let (t, w) = (Instant::now(), SystemTime::now());
        let key = Some("partner-key-000000000001");
        for _ in 0..3 {
            assert!(admit(&limits, prod, 1, true, key, (t, w), QuotaMode::Fallback).is_ok());
        }
        let g = &prod.keys["partner-key-000000000001"];
        assert_eq!(g.counter.unsynced(), 3);
        assert_eq!(
            admit(&limits, prod, 1, true, key, (t, w), QuotaMode::Fallback).err(),
            Some(Refusal::KeyThrottled)
        );
        // Without a shared store there are no leases.
        assert!(g.shared.quota.is_none() && g.shared.throttle.is_none());
    }

    #[test]
    fn a_shared_store_gives_each_key_leases_kept_across_loads() {
        let names: &[(&str, &str)] = &[("/pets", "GET"), ("/pets", "POST")];
        let mut usage = Usage::ephemeral();
        let metrics = Metrics::new();
        usage.shared = Some(Arc::new(super::super::Shared::new(
            "redis://127.0.0.1:1",
            metrics.redis_up.clone(),
            metrics.redis_errors.clone(),
        )));
        let load = || {
            compile(
                &config(YAML),
                &[("a".to_string(), names)],
                &metrics,
                &usage,
                SystemTime::now(),
            )
            .unwrap_or_else(|_| panic!("compiles"))
        };
        let (_, first) = load();
        let (_, second) = load();
        let g = &first[0][0].keys["partner-key-000000000001"];
        let quota = g.shared.quota.as_ref().map(|l| l.name.as_str());
        assert_eq!(quota, Some("tollgate:{basic:partner}:quota:DAY:"));
        let plan = g.shared.throttle.as_ref().map(|b| b.lease.name.as_str());
        assert_eq!(plan, Some("tollgate:{basic:partner}:rate:plan"));
        let get = g
            .shared
            .method_throttle
            .get(&0)
            .map(|b| b.lease.name.as_str());
        assert_eq!(get, Some("tollgate:{basic:partner}:rate:m0"));
        // A rate of 1 per second: one token per 1,000,000 µs, a burst of 1.
        assert_eq!(g.shared.method_throttle[&0].gcra, (1_000_000, 1_000_000));
        let again = &second[0][0].keys["partner-key-000000000001"];
        assert!(Arc::ptr_eq(
            g.shared.quota.as_ref().unwrap(),
            again.shared.quota.as_ref().unwrap()
        ));
        // The key without a quota leases tokens only.
        let other = &first[0][1].keys["other-key-00000000000001"];
        assert!(other.shared.quota.is_none() && other.shared.throttle.is_none());
    }

    #[test]
    fn stage_method_settings_per_method() {
        let (limits, stages) = compiled();
        let test = &stages[0][1];
        let t = Instant::now();
        let w = SystemTime::now();
        assert!(admit(&limits, test, 0, false, None, (t, w), QuotaMode::Local).is_ok());
        assert_eq!(
            admit(&limits, test, 0, false, None, (t, w), QuotaMode::Local).err(),
            Some(Refusal::MethodThrottled)
        );
        assert!(admit(&limits, test, 1, false, None, (t, w), QuotaMode::Local).is_ok());
        assert!(admit(&limits, test, 1, false, None, (t, w), QuotaMode::Local).is_ok());
        assert_eq!(
            admit(&limits, test, 1, false, None, (t, w), QuotaMode::Local).err(),
            Some(Refusal::MethodThrottled)
        );
        // The prod stage has no method settings.
        assert!((0..50).all(|_| admit(
            &limits,
            &stages[0][0],
            0,
            false,
            None,
            (t, w),
            QuotaMode::Local
        )
        .is_ok()));
    }

    #[test]
    fn unknown_method_override_and_double_plans_are_errors() {
        let names: &[(&str, &str)] = &[("/pets", "GET")];
        let yaml = r#"
apiKeys: [{name: k, value: "k-key-00000000000000001"}]
usagePlans:
  - {name: p1, apiKeys: [k], apiStages: [{apiId: a, stage: s, throttle: {"/cats/GET": {rateLimit: 1}}}]}
  - {name: p2, apiKeys: [k], apiStages: [{apiId: a, stage: s}]}
restApis: [{id: a, stages: [{stageName: s}]}]
"#;
        let Err(problems) = compile(
            &config(yaml),
            &[("a".to_string(), names)],
            &Metrics::new(),
            &Usage::ephemeral(),
            SystemTime::now(),
        ) else {
            panic!("expected problems");
        };
        let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages[0].contains("no method `/cats/GET`"));
        assert!(messages[1].contains("one plan per API stage"));
    }
}
