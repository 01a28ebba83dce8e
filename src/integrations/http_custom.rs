//! HTTP (custom, non-proxy) integrations: only mapped parameters reach the backend, the body
//! is the request template's output, and the backend's status only selects an integration
//! response (AWS digest §3.5–3.6, §5).

use super::custom::NonProxy;
use super::http::HttpProxy;
use crate::mapping::Values;
use crate::vtl::Overrides;

pub struct HttpIntegration {
    /// Endpoint and parameter mappings, shared with HTTP_PROXY.
    pub endpoint: HttpProxy,
    pub custom: NonProxy,
}

/// Headers never sent to an HTTP backend, even when mapped.
const DROPPED_AFTER_MAPPING: &[&str] = &["expect", "proxy-authenticate", "te", "via"];

/// What the gateway adds to every backend request of a REST API.
pub struct RequestDefaults<'a> {
    pub api_id: &'a str,
    pub trace_id: &'a str,
    /// The client's Content-Type, sent on methods with a body.
    pub content_type: Option<&'a str>,
    pub method: &'a str,
}

impl HttpIntegration {
    /// The backend request headers: mapped ones, then template overrides, then AWS's
    /// defaults for whatever is still missing. `Host` and `Content-Length` are the
    /// client's business.
    pub fn request_headers(
        &self,
        v: &dyn Values,
        overrides: &Overrides,
        d: &RequestDefaults,
    ) -> Vec<(String, String)> {
        let mut headers: Vec<(String, String)> = self
            .endpoint
            .mapped_headers(v)
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        overrides.apply_to_request_headers(&mut headers);
        headers.retain(|(k, _)| {
            !DROPPED_AFTER_MAPPING
                .iter()
                .any(|d| k.eq_ignore_ascii_case(d))
        });
        let has = |h: &[(String, String)], name: &str| {
            h.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
        };
        if !has(&headers, "accept") {
            headers.push(("Accept".into(), "application/json".into()));
        }
        if !has(&headers, "user-agent") {
            headers.push((
                "User-Agent".into(),
                format!("AmazonAPIGateway_{}", d.api_id),
            ));
        }
        if !has(&headers, "content-type") && !matches!(d.method, "GET" | "HEAD" | "OPTIONS") {
            if let Some(ct) = d.content_type {
                headers.push(("Content-Type".into(), ct.to_string()));
            }
        }
        headers.push(("X-Amzn-Apigateway-Api-Id".into(), d.api_id.to_string()));
        headers.retain(|(k, _)| !k.eq_ignore_ascii_case("x-amzn-trace-id"));
        headers.push(("X-Amzn-Trace-Id".into(), d.trace_id.to_string()));
        headers
    }
}
