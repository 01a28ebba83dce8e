//! Steps 3–5 of the request pipeline, between routing and the integration (reference §0):
//! access control, API keys and usage plans, then request validation. Each step lets the
//! request through or names the gateway response that refuses it.

use super::custom::Callers;
use super::request::read_body;
use super::RequestCtx;
use super::Session;
use crate::compile::Snapshot;
use crate::integrations::Failure;
use crate::pipeline;
use crate::responses::GatewayResponseType as G;
use crate::throttle::{self, QuotaMode, Refusal};
use pingora::prelude::*;

/// Runs the admission steps for a routed request, in AWS's order.
pub async fn admit(
    callers: &Callers<'_>,
    session: &mut Session,
    ctx: &mut RequestCtx,
    snap: &Snapshot,
) -> Result<(), Failure> {
    let (Some(a), Some(m)) = (ctx.route.api, ctx.route.method) else {
        return Ok(());
    };
    super::access::control(callers, session, ctx, snap).await?;
    usage_plans(session, ctx, snap, a, m).await?;
    let method = &snap.apis[a].methods[m];
    if method.validate_params {
        let view = ctx.view(snap, session.req_header(), "");
        pipeline::validate_parameters(method, &view)?;
    }
    validate_body(session, ctx, snap, a, m).await
}

/// API key, usage plan throttle and quota, stage and account throttles.
async fn usage_plans(
    session: &Session,
    ctx: &mut RequestCtx,
    snap: &Snapshot,
    a: usize,
    m: usize,
) -> Result<(), Failure> {
    let Some(s) = ctx.route.stage else {
        return Ok(());
    };
    let api = &snap.apis[a];
    let required = api.methods[m].api_key_required;
    let key = match (required, api.api_key_from_authorizer) {
        (false, _) => None,
        (true, true) => ctx.info.usage_identifier_key.as_deref(),
        (true, false) => session
            .req_header()
            .headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok()),
    };
    let limits = &api.stages[s].limits;
    let at = (ctx.started, ctx.info.start);
    let admitted = match snap.limits.shared.as_ref() {
        Some(sh) if sh.is_up() => {
            throttle::fleet::admit(sh, &snap.limits, limits, m, required, key, at).await
        }
        shared => {
            let mode = match shared {
                None => QuotaMode::Local,
                Some(_) => QuotaMode::Fallback,
            };
            throttle::admit(&snap.limits, limits, m, required, key, at, mode)
        }
    };
    match admitted {
        Ok(Some(grant)) => {
            ctx.info.identity.api_key = Some(grant.value.clone());
            ctx.info.identity.api_key_id = Some(grant.id.clone());
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(r) => Err(Failure::new(match r {
            Refusal::InvalidApiKey => G::InvalidApiKey,
            Refusal::QuotaExceeded => G::QuotaExceeded,
            Refusal::KeyThrottled | Refusal::MethodThrottled | Refusal::AccountThrottled => {
                G::Throttled
            }
        })),
    }
}

/// Reads the body a method's validator checks (keeping it for the integration) and validates
/// it against the method's model.
async fn validate_body(
    session: &mut Session,
    ctx: &mut RequestCtx,
    snap: &Snapshot,
    a: usize,
    m: usize,
) -> Result<(), Failure> {
    let method = &snap.apis[a].methods[m];
    let Some(model) = &method.body_model else {
        return Ok(());
    };
    let body = match ctx.request_body.clone() {
        // Access control read it already (a SigV4-signed body).
        Some(b) => b,
        None => match read_body(session).await {
            Ok(Some(b)) => b,
            Ok(None) => return Err(Failure::new(G::RequestTooLarge)),
            Err(_) => return Err(Failure::new(G::BadRequestBody)),
        },
    };
    let checked = crate::validation::validate_body(model, &body);
    ctx.request_body = Some(body);
    checked
}
