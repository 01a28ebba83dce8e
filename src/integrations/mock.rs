//! MOCK integrations: the request template's `statusCode` selects the integration response.

use super::custom::{internal_error, NonProxy};
use super::response::{MethodResponse, Payload};
use super::view::IntegrationView;
use super::Failure;
use crate::mapping::Values;
use crate::vtl::{Overrides, TemplateContext};

pub struct Mock {
    pub custom: NonProxy,
}

impl Mock {
    /// Runs the mock for a request with `content_type` and `accept`: the request payload
    /// (template output) names the status, which selects the integration response. The
    /// request template's overrides carry into the response.
    pub fn invoke<C: Values + TemplateContext>(
        &self,
        ctx: &C,
        body: &[u8],
        content_type: Option<&str>,
        accept: Option<&str>,
    ) -> Result<MethodResponse, Failure> {
        let mut overrides = Overrides::default();
        let payload =
            self.custom
                .request_payload(ctx, body, false, content_type, &mut overrides)?;
        let status = status_code(&String::from_utf8_lossy(&payload)).ok_or_else(internal_error)?;
        // A MOCK's integration response has no headers and an empty body.
        let integration = IntegrationView {
            request: ctx,
            headers: None,
            body: "",
        };
        self.custom.responses.respond(
            &status.to_string(),
            &integration,
            accept,
            &Payload {
                body: b"",
                binary: false,
                accept_binary: false,
            },
            &mut overrides,
        )
    }
}

/// The `statusCode` of a MOCK request payload. AWS reads it from JSON, and also accepts the
/// relaxed object form CDK writes (`{statusCode: 200}`); an empty payload means 200.
pub fn status_code(payload: &str) -> Option<u16> {
    let p = payload.trim();
    if p.is_empty() {
        return Some(200);
    }
    if let Some(code) = plain_status_code(p) {
        return Some(code);
    }
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(p) {
        let code = v.get("statusCode")?;
        return code
            .as_u64()
            .or_else(|| code.as_str().and_then(|s| s.trim().parse().ok()))
            .and_then(|c| u16::try_from(c).ok())
            .filter(|c| (100..=599).contains(c));
    }
    // Relaxed form: find the key, then the number after the colon.
    let at = p.find("statusCode")?;
    let rest = p[at + "statusCode".len()..]
        .trim_start_matches(['"', '\''])
        .trim_start();
    let rest = rest
        .strip_prefix(':')?
        .trim_start()
        .trim_start_matches(['"', '\'']);
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().filter(|c| (100..=599).contains(c))
}

/// The common payload `{"statusCode": NNN}` read without a JSON parser; None for any other
/// form.
fn plain_status_code(p: &str) -> Option<u16> {
    let inner = p.strip_prefix('{')?.strip_suffix('}')?.trim();
    let value = inner
        .strip_prefix("\"statusCode\"")?
        .trim_start()
        .strip_prefix(':')?
        .trim();
    if value.len() != 3 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok().filter(|c| (100..=599).contains(c))
}

#[cfg(test)]
mod tests {
    use super::status_code;

    #[test]
    fn status_code_forms() {
        assert_eq!(status_code(r#"{"statusCode": 200}"#), Some(200));
        assert_eq!(status_code(r#"{"statusCode": "404"}"#), Some(404));
        assert_eq!(status_code("{statusCode: 201}"), Some(201));
        assert_eq!(status_code(""), Some(200));
        assert_eq!(status_code("{\"other\": 1}"), None);
        assert_eq!(status_code("not json"), None);
        assert_eq!(status_code(r#"{"statusCode": 99}"#), None);
        // The plain form and its neighbours agree with the JSON reading.
        assert_eq!(status_code(" {\n  \"statusCode\" :503 }\n"), Some(503));
        assert_eq!(status_code(r#"{"statusCode": 600}"#), None);
        assert_eq!(status_code(r#"{"statusCode": 200, "x": 1}"#), Some(200));
        assert_eq!(status_code(r#"{"statusCode": 2000}"#), None);
    }
}
