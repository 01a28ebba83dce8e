//! Writing responses the gateway produces itself (MOCK, gateway responses), with the headers
//! every API Gateway response carries.

use super::RequestCtx;
use super::Session;
use crate::compile::Snapshot;
use crate::integrations::http::REMAPPED_METHOD_RESPONSE_HEADERS;
use crate::integrations::response::MethodResponse;
use crate::integrations::Failure;
use crate::responses::ERROR_TYPE_HEADER;
use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::prelude::*;

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
    let mut h = ResponseHeader::build(reply.status, Some(reply.headers.len() + 6))?;
    h.insert_header("Content-Type", reply.content_type.as_str())?;
    h.insert_header("Content-Length", reply.body.len())?;
    h.insert_header("x-amzn-RequestId", ctx.info.request_id.as_str())?;
    h.insert_header("x-amz-apigw-id", ctx.info.extended_request_id.as_str())?;
    super::cache::add_warning(ctx, &mut h)?;
    for (k, v) in reply.headers {
        if k.eq_ignore_ascii_case("content-type") {
            h.insert_header(k, v)?;
        } else if let Err(e) = h.append_header(k, v) {
            log::warn!("dropping a response header that is not valid HTTP: {e}");
        }
    }
    ctx.outcome.status = reply.status;
    ctx.outcome.response_length = reply.body.len() as u64;
    session.write_response_header(Box::new(h)).await?;
    session.write_response_body(reply.body, true).await?;
    Ok(())
}
