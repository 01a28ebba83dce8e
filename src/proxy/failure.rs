//! An upstream or body error becomes the gateway response AWS would send.

use super::respond;
use super::RequestCtx;
use super::Session;
use crate::integrations::Failure;
use crate::responses::GatewayResponseType as G;
use pingora::prelude::*;

/// The gateway response for a proxy error; None when the client is gone.
pub fn classify(e: &Error) -> Option<Failure> {
    use ErrorType::*;
    let kind = match e.etype() {
        HTTPStatus(413) => G::RequestTooLarge,
        HTTPStatus(_) => G::ApiConfigurationError,
        ConnectTimedout | ReadTimedout | WriteTimedout | TLSHandshakeTimedout => {
            G::IntegrationTimeout
        }
        // Nothing listens at the endpoint: AWS reports a configuration error.
        ConnectRefused | ConnectNoRoute | ConnectError | BindError | SocketError => {
            G::ApiConfigurationError
        }
        _ => match e.esource() {
            ErrorSource::Downstream => return None,
            ErrorSource::Upstream => G::IntegrationFailure,
            _ => G::ApiConfigurationError,
        },
    };
    Some(Failure::new(kind))
}

/// Answers an error that ended the request, while nothing of the response has been sent;
/// afterwards the only honest signal left is closing the connection (the caller does).
pub async fn answer(session: &mut Session, e: &Error, ctx: &mut RequestCtx) {
    // An interim `100 Continue` does not count as the response.
    if session.response_status().is_some() {
        return;
    }
    let Some(failure) = classify(e) else {
        return;
    };
    let snap = ctx.snapshot.clone();
    log::info!("{}: integration error: {e}", ctx.info.request_id.as_str());
    let reply = respond::gateway_reply(session, ctx, &snap, failure, "");
    session.set_keepalive(None);
    let _ = respond::write(session, ctx, reply).await;
}
