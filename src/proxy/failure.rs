//! `fail_to_proxy`: an upstream or body error becomes the gateway response AWS would send.

use super::respond;
use super::RequestCtx;
use crate::integrations::Failure;
use crate::responses::GatewayResponseType as G;
use pingora::prelude::*;
use pingora::proxy::FailToProxy;

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

pub async fn fail_to_proxy(session: &mut Session, e: &Error, ctx: &mut RequestCtx) -> FailToProxy {
    let gone = FailToProxy {
        error_code: 0,
        can_reuse_downstream: false,
    };
    // Once the response has started, the only honest signal left is closing the connection.
    // (An interim `100 Continue` does not count.)
    if session
        .response_written()
        .is_some_and(|r| !r.status.is_informational())
    {
        return gone;
    }
    let Some(failure) = classify(e) else {
        return gone;
    };
    let Some(snap) = ctx.snapshot.clone() else {
        return gone;
    };
    log::info!("{}: integration error: {e}", ctx.info.request_id.as_str());
    let reply = respond::gateway_reply(session, ctx, &snap, failure, "");
    let code = reply.status;
    session.set_keepalive(None);
    if respond::write(session, ctx, reply).await.is_err() {
        return gone;
    }
    FailToProxy {
        error_code: code,
        can_reuse_downstream: false,
    }
}
