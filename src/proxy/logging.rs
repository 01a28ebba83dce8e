//! The `logging` phase: metrics and the access log line, both off the response path.

use super::{Gateway, RequestCtx, Session};
use crate::pipeline::RequestView;
use crate::vtl::TemplateContext;
use std::borrow::Cow;

pub fn log_request(gw: &Gateway, session: &Session, ctx: &mut RequestCtx) {
    let snap = ctx.snapshot.clone();
    // Logged after `Session::finish`, which noted when the response was done.
    let elapsed = session.last_active().saturating_duration_since(ctx.started);
    ctx.outcome.response_latency_ms = Some(elapsed.as_millis() as u64);
    let api = ctx.route.api.map(|a| &snap.apis[a]);
    let stage = api.zip(ctx.route.stage).map(|(a, s)| &a.stages[s]);
    let req = session.req_header();
    if ctx.outcome.status != 0 {
        match (api, stage, ctx.route.method) {
            (Some(_), Some(st), Some(m)) => {
                let mm = &st.methods[m].metrics;
                mm.statuses.inc(ctx.outcome.status);
                mm.duration.observe(elapsed.as_secs_f64());
                if let Some(ms) = ctx.outcome.integration_latency_ms {
                    mm.integration.observe(ms as f64 / 1000.0);
                }
            }
            _ => gw.metrics.count_unrouted(
                api.map_or("", |a| a.id.as_str()),
                stage.map_or("", |s| s.name.as_str()),
                req.method.as_str(),
                ctx.outcome.status,
            ),
        }
    }
    let (Some(logger), Some(format)) = (
        &gw.access_log,
        stage
            .and_then(|s| s.access_log.as_ref())
            .or(snap.server.access_log.as_ref()),
    ) else {
        return;
    };
    let view = ctx.view(&snap, req, "");
    let mut line = String::with_capacity(128);
    format.render(&AccessLogContext(&view), &mut line);
    line.push('\n');
    logger.send(line);
}

/// Access logs print `-` for a `$context` variable that has no value, as API Gateway does.
struct AccessLogContext<'a, 'v>(&'a RequestView<'v>);

impl TemplateContext for AccessLogContext<'_, '_> {
    fn context_var(&self, path: &str) -> Option<Cow<'_, str>> {
        Some(self.0.context_var(path).unwrap_or(Cow::Borrowed("-")))
    }
    fn stage_var(&self, name: &str) -> Option<&str> {
        self.0.stage_var(name)
    }
    fn input_param(&self, name: &str) -> Option<Cow<'_, str>> {
        self.0.input_param(name)
    }
    fn input_param_in(&self, kind: &str, name: &str) -> Option<Cow<'_, str>> {
        self.0.input_param_in(kind, name)
    }
    fn input_body(&self) -> &str {
        self.0.input_body()
    }
}
