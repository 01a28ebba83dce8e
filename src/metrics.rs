//! Prometheus metrics (DESIGN A5). Handles are resolved when a snapshot is compiled, so the
//! request path only touches atomics.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::OnceLock;

/// Every metric Tollgate exports, in one registry.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    integration: HistogramVec,
    pub cache_hits: IntCounterVec,
    pub cache_misses: IntCounterVec,
    pub throttled: IntCounterVec,
    reloads: IntCounterVec,
    pub access_log_dropped: IntCounter,
    /// 1 while usage plan quotas are shared through `server.redis`.
    pub redis_up: IntGauge,
    /// Redis calls that failed or timed out.
    pub redis_errors: IntCounter,
}

const METHOD_LABELS: &[&str] = &["api", "stage", "method", "resource"];
/// Seconds; spans sub-millisecond mocks to the 29 s integration timeout.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
            c
        };
        let histogram = |name: &str, help: &str| {
            let h = HistogramVec::new(
                HistogramOpts::new(name, help).buckets(BUCKETS.to_vec()),
                METHOD_LABELS,
            )
            .expect("valid metric");
            registry
                .register(Box::new(h.clone()))
                .expect("unique metric");
            h
        };
        let m = Metrics {
            requests: counter(
                "tollgate_requests_total",
                "Requests by API, stage, method, resource and status [Count, 4XXError, 5XXError]",
                &["api", "stage", "method", "resource", "status"],
            ),
            duration: histogram(
                "tollgate_request_duration_seconds",
                "Time from request to response [Latency]",
            ),
            integration: histogram(
                "tollgate_integration_duration_seconds",
                "Time spent in the integration [IntegrationLatency]",
            ),
            cache_hits: counter(
                "tollgate_cache_hits_total",
                "Responses served from the stage cache [CacheHitCount]",
                METHOD_LABELS,
            ),
            cache_misses: counter(
                "tollgate_cache_misses_total",
                "Cacheable requests that missed the stage cache [CacheMissCount]",
                METHOD_LABELS,
            ),
            throttled: counter(
                "tollgate_throttled_total",
                "Requests refused by throttling or quotas",
                &["api", "stage", "reason"],
            ),
            reloads: counter(
                "tollgate_config_reloads_total",
                "Configuration reloads by result",
                &["result"],
            ),
            access_log_dropped: {
                let c = IntCounter::new(
                    "tollgate_access_log_dropped_total",
                    "Access log lines dropped because the writer fell behind",
                )
                .expect("valid metric");
                registry
                    .register(Box::new(c.clone()))
                    .expect("unique metric");
                c
            },
            redis_up: {
                let g = IntGauge::new(
                    "tollgate_redis_up",
                    "1 while usage plan quotas are shared through server.redis",
                )
                .expect("valid metric");
                registry
                    .register(Box::new(g.clone()))
                    .expect("unique metric");
                g
            },
            redis_errors: {
                let c = IntCounter::new(
                    "tollgate_redis_errors_total",
                    "Redis calls that failed or timed out (quotas then count locally)",
                )
                .expect("valid metric");
                registry
                    .register(Box::new(c.clone()))
                    .expect("unique metric");
                c
            },
            registry,
        };
        // Both results are exported from the start (at 0), so alerts on them work before the
        // first reload.
        for result in ["success", "failure"] {
            m.reloads.with_label_values(&[result]);
        }
        m
    }

    /// Pre-resolved handles for one method of one stage.
    pub fn method(&self, api: &str, stage: &str, method: &str, resource: &str) -> MethodMetrics {
        let labels = [api, stage, method, resource];
        MethodMetrics {
            duration: self.duration.with_label_values(&labels),
            cache_hits: self.cache_hits.with_label_values(&labels),
            cache_misses: self.cache_misses.with_label_values(&labels),
            integration: self.integration.with_label_values(&labels),
            statuses: StatusCounters {
                vec: self.requests.clone(),
                labels: labels.map(str::to_string),
                slots: Default::default(),
            },
        }
    }

    /// Counts a request that matched no method (resource is then "").
    pub fn count_unrouted(&self, api: &str, stage: &str, method: &str, status: u16) {
        self.requests
            .with_label_values(&[api, stage, method, "", &status.to_string()])
            .inc();
    }

    pub fn reload(&self, success: bool) {
        self.reloads
            .with_label_values(&[if success { "success" } else { "failure" }])
            .inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 * 1024);
        // Encoding into a Vec cannot fail for the text format.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Metric handles of one stage method.
pub struct MethodMetrics {
    pub duration: prometheus::Histogram,
    pub integration: prometheus::Histogram,
    pub statuses: StatusCounters,
    pub cache_hits: IntCounter,
    pub cache_misses: IntCounter,
}

/// `tollgate_requests_total` for one stage method: the first statuses seen each claim a slot
/// holding their counter, so counting is an atomic scan; rarer statuses take the labelled path.
pub struct StatusCounters {
    vec: IntCounterVec,
    labels: [String; 4],
    slots: [Slot; 6],
}

#[derive(Default)]
struct Slot {
    status: AtomicU16,
    counter: OnceLock<IntCounter>,
}

impl StatusCounters {
    pub fn inc(&self, status: u16) {
        for slot in &self.slots {
            let mut s = slot.status.load(Ordering::Acquire);
            if s == 0 {
                s = match slot.status.compare_exchange(
                    0,
                    status,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => status,
                    Err(current) => current,
                };
            }
            if s == status {
                slot.counter.get_or_init(|| self.labelled(status)).inc();
                return;
            }
        }
        self.labelled(status).inc();
    }

    fn labelled(&self, status: u16) -> IntCounter {
        let code = status.to_string();
        let l = &self.labels;
        self.vec
            .with_label_values(&[&l[0], &l[1], &l[2], &l[3], &code])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_counters_count_every_status() {
        let m = Metrics::new();
        let mm = m.method("petstore", "prod", "GET", "/pets/{petId}");
        for s in [200, 200, 404, 500, 201, 202, 203, 204, 205, 206] {
            mm.statuses.inc(s);
        }
        let text = String::from_utf8(m.render()).unwrap();
        assert!(text.contains(r#"tollgate_requests_total{api="petstore",method="GET",resource="/pets/{petId}",stage="prod",status="200"} 2"#), "{text}");
        assert!(text.contains(r#"status="206"} 1"#), "{text}");
        m.reload(false);
        assert!(String::from_utf8(m.render())
            .unwrap()
            .contains(r#"tollgate_config_reloads_total{result="failure"} 1"#));
    }
}
