//! The Lambda Invoke API client (`POST /2015-03-31/functions/{name}/invocations`): for
//! functions served by another Invoke API server (`functions.X.endpoint`), and for functions
//! on AWS Lambda, signed with SigV4.

use super::{Functions, Invocation, InvokeError};
use crate::auth::sigv4::{self, Credentials, Payload, Settings};
use crate::client::{Client, ClientError, Outbound};
use crate::compile::Upstream;
use bytes::Bytes;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Characters kept as they are in a function name or qualifier in the request path.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Where an Invoke API call goes.
pub struct InvokeEndpoint {
    pub upstream: Upstream,
    /// A path prefix of the endpoint URL ("" for none).
    pub base_path: String,
    /// For AWS Lambda: the region and credentials to sign with. None: unsigned.
    pub signing: Option<(String, Arc<Credentials>)>,
}

/// How one stage reaches the function a Lambda integration names.
pub enum FunctionTarget {
    /// A `functions.X.command` process that Tollgate runs.
    Local(String),
    /// An Invoke API: `functions.X.endpoint`, or AWS Lambda.
    Remote {
        endpoint: Box<InvokeEndpoint>,
        name: String,
        qualifier: Option<String>,
    },
}

/// Why an invocation produced no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeFailure {
    /// The integration timeout passed.
    Timeout,
    /// Lambda refused for concurrency (429 `TooManyRequestsException`).
    Throttled,
    /// Anything else: unreachable, refused (403/404…), a broken answer. Logged.
    Failed(String),
}

/// What an integration adds to an invocation.
#[derive(Debug, Default, Clone, Copy)]
pub struct InvokeOptions<'a> {
    /// The request's `X-Amzn-Trace-Id`, passed on to the function.
    pub trace_id: Option<&'a str>,
    /// `X-Amz-Invocation-Type: Event`: Lambda queues the invocation and answers at once
    /// (202, no payload).
    pub asynchronous: bool,
}

/// Invokes the function `target` names, locally or through an Invoke API, waiting at most
/// `timeout` (the integration's).
pub async fn call(
    client: &Client,
    functions: &Functions,
    target: &FunctionTarget,
    payload: Bytes,
    timeout: Duration,
) -> Result<Invocation, InvokeFailure> {
    call_with(
        client,
        functions,
        target,
        payload,
        timeout,
        InvokeOptions::default(),
    )
    .await
}

/// [`call`] with the integration's trace id and invocation type.
pub async fn call_with(
    client: &Client,
    functions: &Functions,
    target: &FunctionTarget,
    payload: Bytes,
    timeout: Duration,
    options: InvokeOptions<'_>,
) -> Result<Invocation, InvokeFailure> {
    match target {
        FunctionTarget::Local(name) => {
            let trace_id = options.trace_id.map(str::to_string);
            if options.asynchronous {
                if !functions.has(name) {
                    return Err(InvokeFailure::Failed(InvokeError::NotFound.to_string()));
                }
                let (functions, name) = (functions.clone(), name.clone());
                tokio::spawn(async move {
                    if let Err(e) = functions.invoke_traced(&name, payload, trace_id).await {
                        log::warn!("function {name}: asynchronous invocation failed: {e}");
                    }
                });
                return Ok(Invocation {
                    payload: Bytes::new(),
                    function_error: None,
                    request_id: crate::ids::request_id().as_str().to_string(),
                });
            }
            let invocation = functions.invoke_traced(name, payload, trace_id);
            match tokio::time::timeout(timeout, invocation).await {
                Err(_) => Err(InvokeFailure::Timeout),
                Ok(Ok(inv)) => Ok(inv),
                Ok(Err(e)) => e.into_invocation().map_err(|e| match e {
                    InvokeError::Throttled => InvokeFailure::Throttled,
                    e => InvokeFailure::Failed(e.to_string()),
                }),
            }
        }
        FunctionTarget::Remote {
            endpoint,
            name,
            qualifier,
        } => {
            let call = RemoteCall {
                function: name,
                qualifier: qualifier.as_deref(),
                options,
            };
            invoke(client, endpoint, &call, payload, timeout).await
        }
    }
}

/// A function behind an Invoke API, and how to call it.
pub struct RemoteCall<'a> {
    pub function: &'a str,
    pub qualifier: Option<&'a str>,
    pub options: InvokeOptions<'a>,
}

/// Invokes a function (with an optional qualifier) through an Invoke API.
pub async fn invoke(
    client: &Client,
    endpoint: &InvokeEndpoint,
    call: &RemoteCall<'_>,
    payload: Bytes,
    timeout: Duration,
) -> Result<Invocation, InvokeFailure> {
    let mut target = format!("{}/2015-03-31/functions/", endpoint.base_path);
    target.extend(utf8_percent_encode(call.function, PATH_SEGMENT));
    target.push_str("/invocations");
    let query = call
        .qualifier
        .map(|q| format!("Qualifier={}", utf8_percent_encode(q, PATH_SEGMENT)))
        .unwrap_or_default();
    let authority = endpoint.upstream.endpoint.authority.as_str();
    let invocation_type = if call.options.asynchronous {
        "Event"
    } else {
        "RequestResponse"
    };
    let mut headers = vec![
        ("Host".to_string(), authority.to_string()),
        ("Content-Type".to_string(), "application/json".to_string()),
        (
            "X-Amz-Invocation-Type".to_string(),
            invocation_type.to_string(),
        ),
    ];
    if let Some((region, creds)) = &endpoint.signing {
        let to_sign: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let signed = sigv4::sign(
            &sigv4::Request {
                method: "POST",
                path: &target,
                query: &query,
                headers: &to_sign,
                payload: Payload::Bytes(&payload),
            },
            creds,
            region,
            "lambda",
            SystemTime::now(),
            &Settings::for_service("lambda"),
        );
        headers.extend(signed.headers.into_iter().map(|(k, v)| (k.to_string(), v)));
    }
    // Not signed, as AWS's SDKs do: tracing may rewrite it on the way.
    if let Some(trace) = call.options.trace_id {
        headers.push(("X-Amzn-Trace-Id".to_string(), trace.to_string()));
    }
    if !query.is_empty() {
        target.push('?');
        target.push_str(&query);
    }
    let response = client
        .send(
            &endpoint.upstream.peer,
            Outbound {
                method: "POST".into(),
                target,
                headers,
                body: payload,
            },
            timeout,
        )
        .await
        .map_err(|e| match e {
            ClientError::Timeout => InvokeFailure::Timeout,
            ClientError::Unreachable(m) | ClientError::Protocol(m) => InvokeFailure::Failed(m),
        })?;
    match response.status {
        200..=299 => {
            let header = |name: &str| {
                response
                    .headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            Ok(Invocation {
                function_error: header("x-amz-function-error"),
                request_id: header("x-amzn-requestid").unwrap_or_default(),
                payload: response.body,
            })
        }
        429 => Err(InvokeFailure::Throttled),
        status => Err(InvokeFailure::Failed(format!(
            "Invoke answered {status}: {}",
            String::from_utf8_lossy(&response.body)
        ))),
    }
}
