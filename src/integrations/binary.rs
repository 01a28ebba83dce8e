//! Binary payloads (AWS digest §3.4): which media types an API treats as binary, and the
//! `contentHandling` conversions between binary and base64 text.

use super::{mime_type, Failure};
use crate::responses::GatewayResponseType;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::borrow::Cow;

/// An API's `binaryMediaTypes`: exact types, `type/*`, or `*/*` for everything.
#[derive(Debug, Clone, Default)]
pub struct BinaryMediaTypes(Vec<String>);

impl BinaryMediaTypes {
    pub fn new(types: &[String]) -> BinaryMediaTypes {
        BinaryMediaTypes(
            types
                .iter()
                .map(|t| t.trim().to_ascii_lowercase())
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a Content-Type or Accept value (its first media type) is binary. The value is
    /// matched against the list: `image/*` in the list covers `image/png`, but an `Accept:
    /// image/*` or `*/*` does not name a binary type.
    pub fn matches(&self, value: Option<&str>) -> bool {
        let Some(t) = value.map(mime_type).filter(|t| !t.is_empty()) else {
            return false;
        };
        let t = t.to_ascii_lowercase();
        self.0.iter().any(|entry| {
            entry == &t
                || entry == "*/*"
                || entry
                    .strip_suffix("/*")
                    .is_some_and(|major| t.split('/').next() == Some(major))
        })
    }
}

/// `contentHandling` of an integration (request) or integration response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContentHandling {
    /// Unset: pass the payload as it is.
    #[default]
    Passthrough,
    ConvertToBinary,
    ConvertToText,
}

impl ContentHandling {
    pub fn parse(s: Option<&str>) -> ContentHandling {
        match s {
            Some("CONVERT_TO_BINARY") => ContentHandling::ConvertToBinary,
            Some("CONVERT_TO_TEXT") => ContentHandling::ConvertToText,
            _ => ContentHandling::Passthrough,
        }
    }
}

/// A payload failing base64 decoding is an API configuration error (500).
fn decode(payload: &[u8]) -> Result<Vec<u8>, Failure> {
    let trimmed = payload.trim_ascii();
    STANDARD
        .decode(trimmed)
        .map_err(|_| Failure::new(GatewayResponseType::ApiConfigurationError))
}

/// The integration request payload for a method request body that is `binary` (its
/// Content-Type is in `binaryMediaTypes`).
pub fn request_payload(
    body: &[u8],
    binary: bool,
    handling: ContentHandling,
) -> Result<Cow<'_, [u8]>, Failure> {
    Ok(match (binary, handling) {
        (false, ContentHandling::ConvertToBinary) => Cow::Owned(decode(body)?),
        (true, ContentHandling::ConvertToText) => Cow::Owned(STANDARD.encode(body).into_bytes()),
        _ => Cow::Borrowed(body),
    })
}

/// What a mapping template sees as `$input.body`: a binary payload as base64 text.
pub fn template_text(body: &[u8], binary: bool) -> Cow<'_, str> {
    if binary {
        Cow::Owned(STANDARD.encode(body))
    } else {
        String::from_utf8_lossy(body)
    }
}

/// The method response body for an integration response `payload` passed through without a
/// template. `payload_binary`: its Content-Type is binary; `accept_binary`: the client's
/// first Accept type is binary.
pub fn response_payload(
    payload: &[u8],
    payload_binary: bool,
    accept_binary: bool,
    handling: ContentHandling,
) -> Result<Cow<'_, [u8]>, Failure> {
    use ContentHandling::*;
    Ok(match (payload_binary, handling) {
        (_, ConvertToText) if payload_binary => Cow::Owned(STANDARD.encode(payload).into_bytes()),
        (false, ConvertToBinary) => Cow::Owned(decode(payload)?),
        (false, Passthrough) if accept_binary => Cow::Owned(decode(payload)?),
        (true, Passthrough) if !accept_binary => Cow::Owned(STANDARD.encode(payload).into_bytes()),
        _ => Cow::Borrowed(payload),
    })
}

#[cfg(test)]
mod tests {
    use super::ContentHandling::*;
    use super::*;

    #[test]
    fn media_type_matching() {
        let t = BinaryMediaTypes::new(&["image/*".into(), "application/octet-stream".into()]);
        assert!(t.matches(Some("image/png")));
        assert!(t.matches(Some("Application/Octet-Stream; q=1")));
        assert!(!t.matches(Some("text/plain")));
        assert!(
            !t.matches(Some("*/*")),
            "an Accept wildcard is not a binary type"
        );
        assert!(!t.matches(None));
        let all = BinaryMediaTypes::new(&["*/*".into()]);
        assert!(all.matches(Some("text/plain")));
        assert!(!BinaryMediaTypes::default().matches(Some("image/png")));
    }

    #[test]
    fn request_conversions_follow_the_aws_table() {
        let b = |r: Result<Cow<[u8]>, Failure>| r.unwrap().into_owned();
        assert_eq!(b(request_payload(b"aGk=", false, ConvertToBinary)), b"hi");
        assert_eq!(b(request_payload(b"hi", false, Passthrough)), b"hi");
        assert_eq!(b(request_payload(b"hi", false, ConvertToText)), b"hi");
        assert_eq!(b(request_payload(&[0xff, 0], true, ConvertToText)), b"/wA=");
        assert_eq!(b(request_payload(&[0xff, 0], true, Passthrough)), [0xff, 0]);
        assert_eq!(
            b(request_payload(&[0xff, 0], true, ConvertToBinary)),
            [0xff, 0]
        );
        let e = request_payload(b"not base64!", false, ConvertToBinary).unwrap_err();
        assert_eq!(e.kind, GatewayResponseType::ApiConfigurationError);
        assert_eq!(template_text(&[0xff, 0], true), "/wA=");
    }

    #[test]
    fn response_conversions_follow_the_aws_table() {
        let b = |r: Result<Cow<[u8]>, Failure>| r.unwrap().into_owned();
        // text payload
        assert_eq!(
            b(response_payload(b"aGk=", false, false, Passthrough)),
            b"aGk="
        );
        assert_eq!(
            b(response_payload(b"aGk=", false, false, ConvertToBinary)),
            b"hi"
        );
        assert_eq!(
            b(response_payload(b"aGk=", false, true, Passthrough)),
            b"hi"
        );
        assert_eq!(
            b(response_payload(b"aGk=", false, true, ConvertToText)),
            b"aGk="
        );
        // binary payload
        assert_eq!(
            b(response_payload(&[0xff], true, false, Passthrough)),
            b"/w=="
        );
        assert_eq!(
            b(response_payload(&[0xff], true, false, ConvertToBinary)),
            [0xff]
        );
        assert_eq!(
            b(response_payload(&[0xff], true, true, Passthrough)),
            [0xff]
        );
        assert_eq!(
            b(response_payload(&[0xff], true, true, ConvertToText)),
            b"/w=="
        );
    }
}
