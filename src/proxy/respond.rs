//! Writing responses the gateway produces itself (MOCK, gateway responses), with the headers
//! every API Gateway response carries.

use super::head::{Framing, ResponseHead};
use super::RequestCtx;
use super::Session;
use crate::compile::Snapshot;
use crate::integrations::http::REMAPPED_METHOD_RESPONSE_HEADERS;
use crate::integrations::response::MethodResponse;
use crate::integrations::Failure;
use crate::responses::ERROR_TYPE_HEADER;
use bytes::Bytes;
use pingora::prelude::*;

/// Headers a reply cannot set: the body's framing, `Date` and the connection's.
const OWN_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "transfer-encoding",
    "connection",
    "date",
];

/// A complete response to write.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub content_type: String,
    pub body: Bytes,
}

impl Reply {
    /// A method response of a non-proxy integration: headers AWS reserves are renamed
    /// `x-amzn-Remapped-<name>`.
    pub fn method_response(r: MethodResponse) -> Reply {
        let headers = r
            .headers
            .into_iter()
            .map(|(k, v)| {
                if REMAPPED_METHOD_RESPONSE_HEADERS.contains(&k.to_ascii_lowercase().as_str()) {
                    (format!("x-amzn-Remapped-{k}"), v)
                } else {
                    (k, v)
                }
            })
            .collect();
        Reply {
            status: r.status,
            headers,
            content_type: r.content_type,
            body: Bytes::from(r.body),
        }
    }
}

/// Adds `x-amzn-RequestId` and `x-amz-apigw-id`, which every response carries.
pub fn add_ids(h: &mut ResponseHead, ctx: &RequestCtx) {
    for (name, value) in [
        ("x-amzn-RequestId", ctx.info.request_id.as_str()),
        ("x-amz-apigw-id", ctx.info.extended_request_id.as_str()),
    ] {
        // Ids are ASCII letters, digits, '-' and '='.
        h.append_valid(name, value.as_bytes());
    }
}

/// The gateway response for `failure`, rendered with the API's customizations.
pub fn gateway_reply(
    session: &Session,
    ctx: &mut RequestCtx,
    snap: &Snapshot,
    failure: Failure,
    body: &str,
) -> Reply {
    let Some(api_idx) = ctx.route.api else {
        // No API or stage matched: AWS's plain 403.
        ctx.fail(failure);
        return Reply {
            status: 403,
            headers: vec![(ERROR_TYPE_HEADER.into(), "ForbiddenException".into())],
            content_type: "application/json".into(),
            body: Bytes::from_static(br#"{"message":"Forbidden"}"#),
        };
    };
    let api = &snap.apis[api_idx];
    let kind = failure.kind;
    let message = failure.message.clone();
    ctx.fail(failure);
    let view = ctx.view(snap, session.req_header(), body);
    let mut r = api.responses.render(kind, message.as_deref(), &view);
    if let Some(t) = ctx.outcome.error_type {
        for (k, v) in &mut r.headers {
            if k.eq_ignore_ascii_case(ERROR_TYPE_HEADER) {
                *v = t.to_string();
            }
        }
    }
    Reply {
        status: r.status,
        headers: r.headers,
        content_type: r.content_type,
        body: r.body,
    }
}

/// Writes `reply` with `Content-Type`, `Content-Length`, `x-amzn-RequestId` and
/// `x-amz-apigw-id` (the session adds `Date`).
pub async fn write(session: &mut Session, ctx: &mut RequestCtx, reply: Reply) -> Result<()> {
    let mut h = ResponseHead::new(reply.status, Framing::Length(reply.body.len() as u64));
    // A method response's own Content-Type wins over the integration's.
    let (name, content_type) = reply
        .headers
        .iter()
        .rev()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map_or(("Content-Type", reply.content_type.as_str()), |(k, v)| {
            (k.as_str(), v.as_str())
        });
    let mut added = h.append(name, content_type.as_bytes());
    add_ids(&mut h, ctx);
    super::cache::add_warning(ctx, &mut h);
    for (k, v) in &reply.headers {
        // The session frames the body and owns the connection headers.
        if !OWN_HEADERS.iter().any(|o| k.eq_ignore_ascii_case(o)) {
            added = added.and(h.append(k, v.as_bytes()));
        }
    }
    if added.is_err() {
        log::warn!("a response header that is not valid HTTP was dropped");
    }
    ctx.outcome.status = reply.status;
    ctx.outcome.response_length = reply.body.len() as u64;
    session.write_response_header(&h).await?;
    session.write_response_body(reply.body, true).await?;
    Ok(())
}
