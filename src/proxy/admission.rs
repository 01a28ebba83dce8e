//! Steps 3–5 of the request pipeline, between routing and the integration (reference §0):
//! access control, API keys and usage plans, then request validation. Each step lets the
//! request through or names the gateway response that refuses it.

use super::custom::Callers;
use super::RequestCtx;
use crate::compile::Snapshot;
use crate::integrations::Failure;
use crate::pipeline;
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
    let method = &snap.apis[a].methods[m];
    let view = ctx.view(snap, session.req_header(), "");
    pipeline::validate_parameters(method, &view)
}
