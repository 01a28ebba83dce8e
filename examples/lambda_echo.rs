//! A Lambda function for Tollgate's end-to-end tests of the Lambda proxy integration
//! (payload format 1.0), built on the `lambda_runtime` crate.
//!
//! The event is deserialized into `aws_lambda_events::apigw::ApiGatewayProxyRequest`, so an
//! event field of the wrong type fails the invocation. The response body is JSON describing
//! what the function parsed (`method`, `path`, `resource`, `headers`, `multiValueHeaders`,
//! `queryStringParameters`, `multiValueQueryStringParameters`, `pathParameters`,
//! `stageVariables`, `body`, `isBase64Encoded`, `requestContext`), the worker's process id
//! (`worker`) and the event as received (`raw`).
//!
//! Query string controls:
//! - `status=NNN`: the response status (default 200)
//! - `sleep_ms=N`: wait that long first
//! - `panic=1`: panic (an `Unhandled` function error)
//! - `error=MESSAGE`: return an error with that message (a function error)
//! - `base64=1`: send the body base64-encoded with `isBase64Encoded: true`
//! - `multi=1`: also set `multiValueHeaders` (`X-Echo-Multi: a`, `b`; two `Set-Cookie`)
//! - `content_type=T`: the response Content-Type (default none: the gateway's default)
//!
//! Run it against a Runtime API: `AWS_LAMBDA_RUNTIME_API=host:port
//! AWS_LAMBDA_FUNCTION_NAME=echo AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128
//! AWS_LAMBDA_FUNCTION_VERSION='$LATEST' target/debug/examples/lambda_echo`.

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderName, HeaderValue};
use aws_lambda_events::query_map::QueryMap;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handler)).await
}

async fn handler(event: LambdaEvent<Value>) -> Result<ApiGatewayProxyResponse, Error> {
    let raw = event.payload;
    let req: ApiGatewayProxyRequest = serde_json::from_value(raw.clone())
        .map_err(|e| format!("event is not an ApiGatewayProxyRequest: {e}"))?;
    let q = &req.query_string_parameters;
    if let Some(ms) = q.first("sleep_ms").and_then(|v| v.parse().ok()) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if q.first("panic") == Some("1") {
        panic!("panic requested by the query string");
    }
    if let Some(message) = q.first("error") {
        return Err(message.to_string().into());
    }
    let status = q
        .first("status")
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let echo = describe(&req, raw, &event.context.request_id);
    let text = serde_json::to_string(&echo)?;

    let mut resp = ApiGatewayProxyResponse::default();
    resp.status_code = status;
    let mut headers = HeaderMap::new();
    headers.insert("x-echo", HeaderValue::from_static("lambda_echo"));
    if let Some(ct) = q.first("content_type") {
        headers.insert("content-type", HeaderValue::from_str(ct)?);
    }
    resp.headers = headers;
    if q.first("multi") == Some("1") {
        let mut multi = HeaderMap::new();
        let name = HeaderName::from_static("x-echo-multi");
        multi.append(name.clone(), HeaderValue::from_static("a"));
        multi.append(name, HeaderValue::from_static("b"));
        multi.append("set-cookie", HeaderValue::from_static("one=1; Path=/"));
        multi.append("set-cookie", HeaderValue::from_static("two=2; Path=/"));
        resp.multi_value_headers = multi;
    }
    if q.first("base64") == Some("1") {
        resp.body = Some(Body::Binary(text.into_bytes()));
        resp.is_base64_encoded = true;
    } else {
        resp.body = Some(Body::Text(text));
    }
    Ok(resp)
}

/// What the function saw, as JSON.
fn describe(req: &ApiGatewayProxyRequest, raw: Value, invocation_id: &str) -> Value {
    let rc = &req.request_context;
    let id = &rc.identity;
    json!({
        "method": req.http_method.as_str(),
        "path": req.path,
        "resource": req.resource,
        "headers": single_headers(&req.headers),
        "multiValueHeaders": multi_headers(&req.multi_value_headers),
        "queryStringParameters": query(&req.query_string_parameters, false),
        "multiValueQueryStringParameters": query(&req.multi_value_query_string_parameters, true),
        "pathParameters": sorted(&req.path_parameters),
        "stageVariables": sorted(&req.stage_variables),
        "body": req.body,
        "isBase64Encoded": req.is_base64_encoded,
        "requestContext": {
            "accountId": rc.account_id,
            "apiId": rc.apiid,
            "resourceId": rc.resource_id,
            "resourcePath": rc.resource_path,
            "stage": rc.stage,
            "domainName": rc.domain_name,
            "domainPrefix": rc.domain_prefix,
            "requestId": rc.request_id,
            "protocol": rc.protocol,
            "path": rc.path,
            "httpMethod": rc.http_method.as_str(),
            "requestTime": rc.request_time,
            "requestTimeEpoch": rc.request_time_epoch,
            "identity": {
                "sourceIp": id.source_ip,
                "userAgent": id.user_agent,
                "apiKey": id.api_key,
                "apiKeyId": id.api_key_id,
                "user": id.user,
                "userArn": id.user_arn,
            },
        },
        "invocationRequestId": invocation_id,
        "worker": std::process::id(),
        "raw": raw,
    })
}

fn single_headers(h: &HeaderMap) -> Value {
    let mut out = Map::new();
    for name in h.keys() {
        let v = h.get_all(name).iter().next_back();
        let v = v.map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        out.insert(name.as_str().to_string(), json!(v));
    }
    Value::Object(out)
}

fn multi_headers(h: &HeaderMap) -> Value {
    let mut out = Map::new();
    for name in h.keys() {
        let all: Vec<String> = h
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        out.insert(name.as_str().to_string(), json!(all));
    }
    Value::Object(out)
}

/// `null` when empty, as in the event.
fn query(q: &QueryMap, multi: bool) -> Value {
    if q.is_empty() {
        return Value::Null;
    }
    let mut all: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (k, v) in q.iter() {
        all.entry(k).or_default().push(v);
    }
    if multi {
        json!(all)
    } else {
        json!(all
            .into_iter()
            .map(|(k, v)| (k, v.last().copied().unwrap_or_default()))
            .collect::<BTreeMap<_, _>>())
    }
}

fn sorted(m: &HashMap<String, String>) -> Value {
    if m.is_empty() {
        Value::Null
    } else {
        json!(m.iter().collect::<BTreeMap<_, _>>())
    }
}
