//! Integrations that need the whole request: the non-proxy ones (MOCK, HTTP, AWS, Lambda),
//! which run the request template, call the backend if there is one and answer with the
//! selected integration response; and Lambda proxy (AWS_PROXY), which sends the request as
//! an event and answers with what the function returns.

use super::request::read_body;
use super::respond::{self, Reply};
use super::RequestCtx;
use super::Session;
use crate::client::{Client, ClientError, Inbound, Outbound};
use crate::compile::{Snapshot, Upstream};
use crate::functions::invoke::{self, FunctionTarget, InvokeFailure, InvokeOptions};
use crate::functions::Functions;
use crate::integrations::aws::{AwsService, Call};
use crate::integrations::binary::{self, BinaryMediaTypes};
use crate::integrations::custom::{internal_error, NonProxy};
use crate::integrations::http::REMAPPED_RESPONSE_HEADERS;
use crate::integrations::http_custom::{HttpIntegration, RequestDefaults};
use crate::integrations::lambda::{
    self, EventRequest, LambdaCall, LambdaCustom, ProxyError, ProxyResponse,
};
use crate::integrations::response::{MethodResponse, Payload};
use crate::integrations::view::IntegrationView;
use crate::integrations::{Failure, Integration};
use crate::pipeline::{RequestInfo, RequestView};
use crate::responses::GatewayResponseType as G;
use crate::vtl::Overrides;
use bytes::Bytes;
use pingora::prelude::*;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// The tracing header a client may send; its root becomes the request's trace id.
static TRACE_ID: http::HeaderName = http::HeaderName::from_static("x-amzn-trace-id");

/// What a request can call besides the backends of its snapshot.
pub struct Callers<'a> {
    pub client: &'a Client,
    pub functions: &'a Functions,
    /// Connections to TLS HTTP_PROXY backends.
    pub tls: &'a pingora::connectors::TransportConnector,
}

pub async fn invoke(
    callers: &Callers<'_>,
    session: &mut Session,
    ctx: &mut RequestCtx,
    snap: &Arc<Snapshot>,
) -> Result<()> {
    let pre_read = ctx.request_body.take();
    let Some(body) = (match pre_read {
        Some(b) => Some(b),
        None => read_body(session).await?,
    }) else {
        let reply =
            respond::gateway_reply(session, ctx, snap, Failure::new(G::RequestTooLarge), "");
        session.set_keepalive(None);
        return respond::write(session, ctx, reply).await;
    };
    let (Some(a), Some(s), Some(m)) = (ctx.route.api, ctx.route.stage, ctx.route.method) else {
        return Error::e_explain(ErrorType::InternalError, "integration without a route");
    };
    let api = &snap.apis[a];
    let req = session.req_header();
    let header = |n: &http::HeaderName| req.headers.get(n).and_then(crate::pipeline::header_text);
    let content_type = header(&http::header::CONTENT_TYPE);
    let request = Request {
        body: &body,
        binary_types: &api.binary_media_types,
        binary: api.binary_media_types.matches(content_type),
        content_type,
        accept: header(&http::header::ACCEPT),
    };
    if let Some(trace) = header(&TRACE_ID) {
        ctx.info.adopt_trace_id(trace);
    }
    let body_text = binary::template_text(&body, request.binary);
    let started = Instant::now();
    let client = callers.client;
    let stage_method = &api.stages[s].methods[m];
    let up = stage_method.upstream.as_ref();
    let mut integration_status = None;
    let backend_status = |(status, r): (u16, MethodResponse)| {
        integration_status = Some(status);
        r
    };
    let result = {
        let view = ctx.view(snap, req, &body_text);
        match &api.methods[m].integration {
            Integration::Mock(mock) => {
                mock.invoke(&view, &body, request.content_type, request.accept)
            }
            Integration::Http(h) => Box::pin(backend(
                client,
                false,
                up,
                &h.custom,
                &view,
                &request,
                |up, payload, overrides| http_request(h, up, &view, &request, payload, overrides),
            ))
            .await
            .map(backend_status),
            Integration::Aws(a) => Box::pin(backend(
                client,
                true,
                up,
                &a.custom,
                &view,
                &request,
                |_, payload, overrides| aws_request(a, &view, &request, &payload, overrides),
            ))
            .await
            .map(backend_status),
            Integration::Lambda(l) => match stage_method.function.as_ref() {
                Some(target) => Box::pin(lambda(callers, l, target, &view, &request)).await,
                None => Err(internal_error()),
            },
            Integration::LambdaProxy(call) => {
                let outcome = match stage_method.function.as_ref() {
                    Some(target) if !call.wrong_method => {
                        let mut event = EventRequest::new(&view, &body);
                        // The event keeps the client's header name casing.
                        let cased: Vec<(&[u8], &[u8])> = req.case_header_iter().collect();
                        event.headers = &cased;
                        event.binary = request.binary;
                        event.trace_id = Some(view.info.trace_id());
                        event.port = session
                            .server_addr()
                            .and_then(|a| a.as_inet())
                            .map(|a| a.port());
                        let payload = Bytes::from(lambda::proxy_event(&event));
                        Box::pin(lambda_proxy(
                            callers, call, target, payload, &request, view.info,
                        ))
                        .await
                    }
                    _ => Err(ProxyError::from(internal_error())),
                };
                ctx.outcome.integration_latency_ms = Some(started.elapsed().as_millis() as u64);
                let reply = match outcome {
                    Ok(r) => {
                        let reply = proxy_reply(r);
                        store(ctx, &reply);
                        traced(reply, &ctx.info)
                    }
                    Err(e) => {
                        log::info!(
                            "{}: Lambda proxy: {}",
                            ctx.info.request_id.as_str(),
                            e.reason
                        );
                        // AWS answers 502 (or 500) where no gateway response type has that
                        // status, unless the API sets the type's status itself.
                        let own_status = e.status != e.failure.kind.default_status()
                            && !api.responses.status_is_customized(e.failure.kind);
                        let mut reply =
                            respond::gateway_reply(session, ctx, snap, e.failure, &body_text);
                        if own_status {
                            reply.status = e.status;
                        }
                        reply
                    }
                };
                return respond::write(session, ctx, reply).await;
            }
            _ => Err(Failure::new(G::ApiConfigurationError)),
        }
    };
    ctx.outcome.integration_latency_ms = Some(started.elapsed().as_millis() as u64);
    let mock = matches!(api.methods[m].integration, Integration::Mock(_));
    let reply = match result {
        Ok(r) => {
            ctx.outcome.integration_status = integration_status.or(Some(r.status));
            let reply = Reply::method_response(r);
            store(ctx, &reply);
            if mock {
                reply
            } else {
                traced(reply, &ctx.info)
            }
        }
        Err(f) => respond::gateway_reply(session, ctx, snap, f, &body_text),
    };
    respond::write(session, ctx, reply).await
}

/// Stores an integration's response when the request missed the stage cache.
fn store(ctx: &mut RequestCtx, reply: &Reply) {
    super::cache::store_whole(
        ctx,
        reply.status,
        &reply.headers,
        &reply.content_type,
        &reply.body,
    );
}

/// The method request as a non-proxy integration reads it.
struct Request<'a> {
    body: &'a [u8],
    /// The API's `binaryMediaTypes`.
    binary_types: &'a BinaryMediaTypes,
    /// The body's Content-Type is a binary media type.
    binary: bool,
    content_type: Option<&'a str>,
    accept: Option<&'a str>,
}

impl Request<'_> {
    /// The integration request body: the request template's output, else the body as
    /// content handling passes it.
    fn payload(
        &self,
        custom: &NonProxy,
        view: &RequestView<'_>,
        overrides: &mut Overrides,
    ) -> Result<Cow<'_, [u8]>, Failure> {
        custom.request_payload(view, self.body, self.binary, self.content_type, overrides)
    }
}

/// An integration with a backend (HTTP, or AWS when `aws`): `build` makes the request from
/// the payload and the template's overrides, with its timeout; returns the backend status and
/// the method response.
async fn backend(
    client: &Client,
    aws: bool,
    up: Option<&Upstream>,
    custom: &NonProxy,
    view: &RequestView<'_>,
    request: &Request<'_>,
    build: impl FnOnce(&Upstream, Cow<'_, [u8]>, &Overrides) -> Result<(Outbound, Duration), Failure>,
) -> Result<(u16, MethodResponse), Failure> {
    let up = up.ok_or_else(|| Failure::new(G::ApiConfigurationError))?;
    let mut overrides = Overrides::default();
    let payload = request.payload(custom, view, &mut overrides)?;
    let (outbound, timeout) = build(up, payload, &overrides)?;
    let response = send(client, up, outbound, timeout, view).await?;
    if aws {
        let id = ["x-amzn-requestid", "x-amz-request-id"]
            .iter()
            .find_map(|h| response.headers.get(*h)?.to_str().ok());
        view.info
            .set_aws_endpoint_request_id(id.unwrap_or_default());
    }
    respond(custom, view, request, &response, overrides)
}

/// The HTTP integration's request to its backend.
fn http_request(
    h: &HttpIntegration,
    up: &Upstream,
    view: &RequestView<'_>,
    request: &Request<'_>,
    payload: Cow<'_, [u8]>,
    overrides: &Overrides,
) -> Result<(Outbound, Duration), Failure> {
    if h.endpoint.illegal_header_mapping {
        return Err(Failure::new(G::ApiConfigurationError));
    }
    let target = h
        .endpoint
        .upstream_target(&up.endpoint, None, view, Some(overrides));
    let api_id = view.landing.api.map_or("", |a| a.id.as_str());
    let method = h
        .endpoint
        .method
        .map_or(view.http_method, |m| m.as_str())
        .to_string();
    let mut headers = h.request_headers(
        view,
        overrides,
        &RequestDefaults {
            api_id,
            trace_id: view.info.trace_id(),
            content_type: request.content_type,
            method: &method,
        },
    );
    // A mapped `Host` (virtual hosting on the backend) replaces the backend's authority.
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        headers.push(("Host".into(), up.endpoint.authority.clone()));
    }
    let outbound = Outbound {
        method,
        target,
        headers,
        body: Bytes::from(payload.into_owned()),
    };
    Ok((outbound, up.timeout))
}

/// The AWS service integration's request: a signed call.
fn aws_request(
    a: &AwsService,
    view: &RequestView<'_>,
    request: &Request<'_>,
    payload: &[u8],
    overrides: &Overrides,
) -> Result<(Outbound, Duration), Failure> {
    let mut mapped = a.service.mapped(view);
    override_params(&mut mapped.path, &overrides.request_path);
    override_multi(&mut mapped.query, &overrides.request_querystring);
    override_multi(&mut mapped.headers, &overrides.request_header);
    let no_variables = BTreeMap::new();
    let call = Call {
        api_id: view.landing.api.map_or("", |a| a.id.as_str()),
        trace_id: view.info.trace_id(),
        client_method: view.http_method,
        client_content_type: request.content_type,
        stage_variables: view.landing.stage.map_or(&no_variables, |s| &s.variables),
        time: SystemTime::now(),
    };
    let signed = a.service.request(&mapped, payload, &call).map_err(|e| {
        log::warn!("{}: AWS integration: {e}", view.info.request_id.as_str());
        e.failure()
    })?;
    let outbound = Outbound {
        method: signed.method,
        target: signed.target,
        headers: signed.headers,
        body: Bytes::from(signed.body),
    };
    Ok((outbound, a.service.timeout))
}

/// The custom Lambda integration: the payload from the request template; a function error's
/// `errorMessage` selects the integration response, with the error object as its body.
async fn lambda(
    callers: &Callers<'_>,
    l: &LambdaCustom,
    target: &FunctionTarget,
    view: &RequestView<'_>,
    request: &Request<'_>,
) -> Result<MethodResponse, Failure> {
    let mut overrides = Overrides::default();
    let payload = request.payload(&l.custom, view, &mut overrides)?;
    let payload = Bytes::from(payload.into_owned());
    let options = InvokeOptions {
        trace_id: Some(view.info.trace_id()),
        asynchronous: l.asynchronous(view),
    };
    let invocation = invoke::call_with(
        callers.client,
        callers.functions,
        target,
        payload,
        l.call.timeout,
        options,
    )
    .await
    .map_err(|e| invoke_failure(e, view))?;
    view.info
        .set_aws_endpoint_request_id(&invocation.request_id);
    let selector = match invocation.function_error {
        Some(_) => lambda::error_message(&invocation.payload).unwrap_or_default(),
        None => String::new(),
    };
    let text = String::from_utf8_lossy(&invocation.payload);
    let iview = IntegrationView {
        request: view,
        headers: None,
        body: &text,
    };
    // Lambda answers JSON (never a binary media type); a binary `Accept` with passthrough
    // decodes a base64 answer, as for an HTTP backend.
    let payload = Payload {
        body: &invocation.payload,
        binary: false,
        accept_binary: request.binary_types.matches(request.accept),
    };
    l.custom
        .responses
        .respond(&selector, &iview, request.accept, &payload, &mut overrides)
}

/// Lambda proxy: invoke with the event, then read the function's response.
async fn lambda_proxy(
    callers: &Callers<'_>,
    call: &LambdaCall,
    target: &FunctionTarget,
    event: Bytes,
    request: &Request<'_>,
    info: &RequestInfo,
) -> Result<ProxyResponse, ProxyError> {
    let options = InvokeOptions {
        trace_id: Some(info.trace_id()),
        asynchronous: false,
    };
    let invocation = invoke::call_with(
        callers.client,
        callers.functions,
        target,
        event,
        call.timeout,
        options,
    )
    .await
    .map_err(|e| match e {
        InvokeFailure::Timeout => ProxyError::from(Failure::new(G::IntegrationTimeout)),
        InvokeFailure::Throttled => ProxyError::throttled(),
        InvokeFailure::Failed(reason) => ProxyError::bad_gateway(reason),
    })?;
    info.set_aws_endpoint_request_id(&invocation.request_id);
    lambda::proxy_result(
        invocation.function_error.as_deref(),
        &invocation.payload,
        request.binary_types.matches(request.accept),
    )
}

/// The function's response as the client gets it. The gateway frames the body and writes
/// its own `Connection`, `Content-Length`, `Date`, `Server` and `x-amzn-RequestId`: the
/// function's are renamed `x-amzn-Remapped-*` (as for HTTP_PROXY backends, §8.3);
/// `x-amz-apigw-id` cannot be overridden.
fn proxy_reply(r: ProxyResponse) -> Reply {
    let mut content_type = None;
    let headers = r
        .headers
        .into_iter()
        .filter_map(|(k, v)| {
            if k.eq_ignore_ascii_case("content-type") {
                content_type = Some(v);
                return None;
            }
            if let Some((_, remapped)) = REMAPPED_RESPONSE_HEADERS
                .iter()
                .find(|(n, _)| k.eq_ignore_ascii_case(n))
            {
                return Some(((*remapped).to_string(), v));
            }
            let framing = ["transfer-encoding", "x-amz-apigw-id"]
                .iter()
                .any(|h| k.eq_ignore_ascii_case(h));
            (!framing).then_some((k, v))
        })
        .collect();
    Reply {
        status: r.status,
        headers,
        content_type: content_type.unwrap_or_else(|| "application/json".into()),
        body: Bytes::from(r.body),
    }
}

/// A successful AWS, AWS_PROXY or HTTP integration response carries the request's
/// `X-Amzn-Trace-Id` (MOCK, HTTP_PROXY and gateway errors do not: §7.3).
fn traced(mut reply: Reply, info: &RequestInfo) -> Reply {
    reply
        .headers
        .push(("X-Amzn-Trace-Id".into(), info.trace_id().to_string()));
    reply
}

/// The gateway response for a Lambda invocation that produced no result.
fn invoke_failure(e: InvokeFailure, view: &RequestView<'_>) -> Failure {
    match e {
        InvokeFailure::Timeout => Failure::new(G::IntegrationTimeout),
        // Lambda's 429 is a 500 `Internal server error` to API Gateway's client.
        InvokeFailure::Throttled => internal_error(),
        InvokeFailure::Failed(reason) => {
            log::info!("{}: Lambda: {reason}", view.info.request_id.as_str());
            internal_error()
        }
    }
}

/// Replaces mapped values by overridden ones of the same name.
fn override_params(mapped: &mut Vec<(String, String)>, overrides: &[(String, String)]) {
    for (name, value) in overrides {
        mapped.retain(|(n, _)| n != name);
        mapped.push((name.clone(), value.clone()));
    }
}

/// [`override_params`] for parameters that may take several values.
fn override_multi(mapped: &mut Vec<(String, String)>, overrides: &[(String, Vec<String>)]) {
    for (name, values) in overrides {
        mapped.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        mapped.extend(values.iter().map(|v| (name.clone(), v.clone())));
    }
}

/// Sends an integration request; a failure becomes AWS's gateway response for it.
async fn send(
    client: &Client,
    up: &Upstream,
    outbound: Outbound,
    timeout: Duration,
    view: &RequestView<'_>,
) -> Result<Inbound, Failure> {
    client.send(&up.peer, outbound, timeout).await.map_err(|e| {
        log::info!(
            "{}: integration error: {e:?}",
            view.info.request_id.as_str()
        );
        Failure::new(match e {
            ClientError::Timeout => G::IntegrationTimeout,
            ClientError::Unreachable(_) => G::ApiConfigurationError,
            ClientError::Protocol(_) => G::IntegrationFailure,
        })
    })
}

/// The integration responses for a backend `response`: returns its status and the method
/// response.
fn respond(
    custom: &NonProxy,
    view: &RequestView<'_>,
    request: &Request<'_>,
    response: &Inbound,
    mut overrides: Overrides,
) -> Result<(u16, MethodResponse), Failure> {
    let response_type = response
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let payload = Payload {
        body: &response.body,
        binary: request.binary_types.matches(response_type),
        accept_binary: request.binary_types.matches(request.accept),
    };
    let text = binary::template_text(&response.body, payload.binary);
    let iview = IntegrationView {
        request: view,
        headers: Some(&response.headers),
        body: &text,
    };
    custom
        .responses
        .respond(
            &response.status.to_string(),
            &iview,
            request.accept,
            &payload,
            &mut overrides,
        )
        .map(|r| (response.status, r))
}
