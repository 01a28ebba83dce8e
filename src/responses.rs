//! Gateway responses (AWS §7): the error responses API Gateway produces itself, with the
//! per-API customizations of `PutGatewayResponse`.
//!
//! [`GatewayResponses::compile`] resolves every type once at config load (specific
//! customization → DEFAULT_4XX/DEFAULT_5XX customization → built-in default) and parses
//! templates once; [`GatewayResponses::render`] then only substitutes values.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::fmt;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use crate::vtl::substitute::Substitution;
use crate::vtl::TemplateContext;

/// Response header naming the error class, e.g. `MissingAuthenticationTokenException`.
pub const ERROR_TYPE_HEADER: &str = "x-amzn-ErrorType";

const APPLICATION_JSON: &str = "application/json";
const HEADER_KEY_PREFIX: &str = "gatewayresponse.header.";

/// A gateway response type. Declaration order is [`GatewayResponseType::ALL`]'s order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GatewayResponseType {
    AccessDenied,
    ApiConfigurationError,
    AuthorizerConfigurationError,
    AuthorizerFailure,
    BadRequestParameters,
    BadRequestBody,
    Default4xx,
    Default5xx,
    ExpiredToken,
    IntegrationFailure,
    IntegrationTimeout,
    InvalidApiKey,
    InvalidSignature,
    MissingAuthenticationToken,
    QuotaExceeded,
    RequestTooLarge,
    ResourceNotFound,
    Throttled,
    Unauthorized,
    UnsupportedMediaType,
    WafFiltered,
}

impl GatewayResponseType {
    pub const ALL: [Self; 21] = [
        Self::AccessDenied,
        Self::ApiConfigurationError,
        Self::AuthorizerConfigurationError,
        Self::AuthorizerFailure,
        Self::BadRequestParameters,
        Self::BadRequestBody,
        Self::Default4xx,
        Self::Default5xx,
        Self::ExpiredToken,
        Self::IntegrationFailure,
        Self::IntegrationTimeout,
        Self::InvalidApiKey,
        Self::InvalidSignature,
        Self::MissingAuthenticationToken,
        Self::QuotaExceeded,
        Self::RequestTooLarge,
        Self::ResourceNotFound,
        Self::Throttled,
        Self::Unauthorized,
        Self::UnsupportedMediaType,
        Self::WafFiltered,
    ];

    /// Parses the AWS name, e.g. "ACCESS_DENIED", "DEFAULT_4XX" (exact spelling).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The AWS name, also the value of `$context.error.responseType`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessDenied => "ACCESS_DENIED",
            Self::ApiConfigurationError => "API_CONFIGURATION_ERROR",
            Self::AuthorizerConfigurationError => "AUTHORIZER_CONFIGURATION_ERROR",
            Self::AuthorizerFailure => "AUTHORIZER_FAILURE",
            Self::BadRequestParameters => "BAD_REQUEST_PARAMETERS",
            Self::BadRequestBody => "BAD_REQUEST_BODY",
            Self::Default4xx => "DEFAULT_4XX",
            Self::Default5xx => "DEFAULT_5XX",
            Self::ExpiredToken => "EXPIRED_TOKEN",
            Self::IntegrationFailure => "INTEGRATION_FAILURE",
            Self::IntegrationTimeout => "INTEGRATION_TIMEOUT",
            Self::InvalidApiKey => "INVALID_API_KEY",
            Self::InvalidSignature => "INVALID_SIGNATURE",
            Self::MissingAuthenticationToken => "MISSING_AUTHENTICATION_TOKEN",
            Self::QuotaExceeded => "QUOTA_EXCEEDED",
            Self::RequestTooLarge => "REQUEST_TOO_LARGE",
            Self::ResourceNotFound => "RESOURCE_NOT_FOUND",
            Self::Throttled => "THROTTLED",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::WafFiltered => "WAF_FILTERED",
        }
    }

    /// Status when not customized (§7.1). DEFAULT_4XX / DEFAULT_5XX have none on AWS;
    /// 400 / 500 are used when one is rendered directly.
    pub fn default_status(self) -> u16 {
        match self {
            Self::BadRequestParameters | Self::BadRequestBody | Self::Default4xx => 400,
            Self::Unauthorized => 401,
            Self::AccessDenied
            | Self::ExpiredToken
            | Self::InvalidApiKey
            | Self::InvalidSignature
            | Self::MissingAuthenticationToken
            | Self::WafFiltered => 403,
            Self::ResourceNotFound => 404,
            Self::RequestTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::QuotaExceeded | Self::Throttled => 429,
            Self::ApiConfigurationError
            | Self::AuthorizerConfigurationError
            | Self::AuthorizerFailure
            | Self::Default5xx => 500,
            Self::IntegrationFailure | Self::IntegrationTimeout => 504,
        }
    }

    /// The generic message for this type. Callers with a specific one pass that instead
    /// (e.g. "Missing required request parameters: [q1]"). AWS sends a null message for
    /// AUTHORIZER_CONFIGURATION_ERROR: use [`GatewayResponses::render_default`] or pass
    /// `None` for that.
    pub fn default_message(self) -> &'static str {
        match self {
            Self::AccessDenied => {
                "User is not authorized to access this resource with an explicit deny"
            }
            Self::ApiConfigurationError
            | Self::AuthorizerConfigurationError
            | Self::AuthorizerFailure
            | Self::Default5xx
            | Self::IntegrationFailure => "Internal server error",
            Self::BadRequestParameters => "Missing required request parameters",
            Self::BadRequestBody => "Invalid request body",
            Self::Default4xx => "Bad Request",
            Self::ExpiredToken => "Signature expired",
            Self::IntegrationTimeout => "Endpoint request timed out",
            Self::InvalidApiKey | Self::WafFiltered => "Forbidden",
            Self::InvalidSignature => {
                "The request signature we calculated does not match the signature you \
                 provided. Check your AWS Secret Access Key and signing method. Consult the \
                 service documentation for details."
            }
            Self::MissingAuthenticationToken => "Missing Authentication Token",
            Self::QuotaExceeded => "Limit Exceeded",
            Self::RequestTooLarge => "Request Too Long",
            Self::ResourceNotFound => "Not Found",
            Self::Throttled => "Too Many Requests",
            Self::Unauthorized => "Unauthorized",
            Self::UnsupportedMediaType => "Unsupported Media Type",
        }
    }

    /// The `x-amzn-ErrorType` value. Validated on AWS: MissingAuthenticationToken,
    /// InvalidApiKey (Forbidden), integration 500s (InternalServerError); the rest follow
    /// the digest's sources (§7.1, §13 item 1).
    pub fn error_type(self) -> &'static str {
        match self {
            Self::AccessDenied => "AccessDeniedException",
            Self::ApiConfigurationError
            | Self::Default5xx
            | Self::IntegrationFailure
            | Self::IntegrationTimeout => "InternalServerErrorException",
            Self::AuthorizerConfigurationError => "AuthorizerConfigurationException",
            Self::AuthorizerFailure => "AuthorizerFailureException",
            Self::BadRequestParameters
            | Self::BadRequestBody
            | Self::Default4xx
            | Self::UnsupportedMediaType => "BadRequestException",
            Self::ExpiredToken | Self::InvalidSignature => "InvalidSignatureException",
            Self::InvalidApiKey | Self::WafFiltered => "ForbiddenException",
            Self::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            Self::QuotaExceeded => "LimitExceededException",
            Self::RequestTooLarge => "RequestTooLargeException",
            Self::ResourceNotFound => "ResourceNotFoundException",
            Self::Throttled => "TooManyRequestsException",
            Self::Unauthorized => "UnauthorizedException",
        }
    }

    /// DEFAULT_4XX or DEFAULT_5XX by status class (UNAUTHORIZED included); None for those
    /// two themselves.
    pub fn parent(self) -> Option<Self> {
        match self {
            Self::Default4xx | Self::Default5xx => None,
            _ if self.default_status() >= 500 => Some(Self::Default5xx),
            _ => Some(Self::Default4xx),
        }
    }

    /// False only for REQUEST_TOO_LARGE, which AWS does not let an API customize (it still
    /// follows a DEFAULT_4XX customization, per the type's documented fallback).
    pub fn is_customizable(self) -> bool {
        self != Self::RequestTooLarge
    }

    /// Types whose built-in body AWS emits as `{"message": "…"}` (space after the colon):
    /// the errors raised while calling or mapping the integration (§7.1, TV-17).
    fn integration_phase(self) -> bool {
        matches!(
            self,
            Self::IntegrationFailure | Self::IntegrationTimeout | Self::ApiConfigurationError
        )
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for GatewayResponseType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Customization from config, in AWS's shape (a GatewayResponse object).
#[derive(Debug, Clone, Default)]
pub struct GatewayResponseSpec {
    pub status_code: Option<u16>,
    /// (key, source expression), e.g.
    /// ("gatewayresponse.header.Access-Control-Allow-Origin", "'*'").
    pub response_parameters: Vec<(String, String)>,
    /// (content type, template).
    pub response_templates: Vec<(String, String)>,
}

/// A rendered gateway response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedResponse {
    pub status: u16,
    /// `x-amzn-ErrorType` first, then the customization's `gatewayresponse.header.*`
    /// values. A mapped value that is absent, or not a valid header value, is left out.
    pub headers: Vec<(String, String)>,
    pub content_type: String,
    pub body: Bytes,
}

/// Where a `gatewayresponse.header.*` value comes from.
#[derive(Debug, Clone)]
enum ValueSource {
    Static(Box<str>),
    Header(Box<str>),
    QueryString(Box<str>),
    Path(Box<str>),
    StageVar(Box<str>),
    Context(Box<str>),
}

impl ValueSource {
    fn parse(expr: &str) -> Result<Self, String> {
        if expr.len() >= 2 && expr.starts_with('\'') && expr.ends_with('\'') {
            let value = &expr[1..expr.len() - 1];
            if !is_header_value(value) {
                return Err(format!(
                    "static value {expr} contains characters not allowed in a header"
                ));
            }
            return Ok(Self::Static(value.into()));
        }
        type Ctor = fn(Box<str>) -> ValueSource;
        let forms: [(&str, Ctor); 5] = [
            ("method.request.header.", Self::Header),
            ("method.request.querystring.", Self::QueryString),
            ("method.request.path.", Self::Path),
            ("stageVariables.", Self::StageVar),
            ("context.", Self::Context),
        ];
        for (prefix, ctor) in forms {
            if let Some(name) = expr.strip_prefix(prefix) {
                if name.is_empty() {
                    return Err(format!("source `{expr}` lacks a name after `{prefix}`"));
                }
                return Ok(ctor(name.into()));
            }
        }
        Err(format!(
            "unsupported source `{expr}`: expected 'literal', method.request.header.NAME, \
             method.request.querystring.NAME, method.request.path.NAME, \
             stageVariables.NAME or context.NAME"
        ))
    }

    fn resolve<'a>(&'a self, ctx: &'a dyn TemplateContext) -> Option<Cow<'a, str>> {
        match self {
            Self::Static(v) => Some(Cow::Borrowed(v)),
            Self::Header(n) => ctx.input_param_in("header", n),
            Self::QueryString(n) => ctx.input_param_in("querystring", n),
            Self::Path(n) => ctx.input_param_in("path", n),
            Self::StageVar(n) => ctx.stage_var(n).map(Cow::Borrowed),
            Self::Context(p) => ctx.context_var(p),
        }
    }
}

#[derive(Debug, Clone)]
struct HeaderMapping {
    name: Box<str>,
    source: ValueSource,
}

#[derive(Debug, Clone)]
enum CustomBody {
    /// No template configured: the type's built-in body.
    Builtin,
    /// A template without references, rendered at compile time.
    Static { content_type: Box<str>, body: Bytes },
    Template {
        content_type: Box<str>,
        template: Substitution,
    },
}

#[derive(Debug, Clone)]
struct Customization {
    status: Option<u16>,
    headers: Vec<HeaderMapping>,
    body: CustomBody,
}

impl Customization {
    fn parse(spec: &GatewayResponseSpec) -> Result<Self, String> {
        if let Some(s) = spec.status_code {
            if !(100..=599).contains(&s) {
                return Err(format!("statusCode {s} is not an HTTP status (100-599)"));
            }
        }
        let mut headers: Vec<HeaderMapping> = Vec::with_capacity(spec.response_parameters.len());
        for (key, expr) in &spec.response_parameters {
            let name = key.strip_prefix(HEADER_KEY_PREFIX).ok_or_else(|| {
                format!("responseParameters key `{key}`: expected {HEADER_KEY_PREFIX}<Name>")
            })?;
            if name.is_empty() || !name.bytes().all(is_tchar) {
                return Err(format!(
                    "responseParameters key `{key}`: `{name}` is not a valid header name"
                ));
            }
            if headers.iter().any(|h| h.name.eq_ignore_ascii_case(name)) {
                return Err(format!(
                    "responseParameters: header `{name}` is mapped more than once"
                ));
            }
            let source =
                ValueSource::parse(expr).map_err(|e| format!("responseParameters `{key}`: {e}"))?;
            headers.push(HeaderMapping {
                name: name.into(),
                source,
            });
        }
        // AWS picks by the request's Accept among the configured types; we use
        // application/json when present, else the first entry. Only that one is parsed.
        let chosen = spec
            .response_templates
            .iter()
            .find(|(ct, _)| ct.eq_ignore_ascii_case(APPLICATION_JSON))
            .or_else(|| spec.response_templates.first());
        let body = match chosen {
            None => CustomBody::Builtin,
            Some((content_type, source)) => {
                if content_type.trim().is_empty() || !is_header_value(content_type) {
                    return Err(format!(
                        "responseTemplates: invalid content type `{content_type}`"
                    ));
                }
                let template = Substitution::parse(source)
                    .map_err(|e| format!("responseTemplates `{content_type}`: {e}"))?;
                let content_type: Box<str> = content_type.as_str().into();
                match template.static_text() {
                    Some(text) => CustomBody::Static {
                        content_type,
                        body: Bytes::from(text.to_owned()),
                    },
                    None => CustomBody::Template {
                        content_type,
                        template,
                    },
                }
            }
        };
        Ok(Customization {
            status: spec.status_code,
            headers,
            body,
        })
    }
}

/// One type's resolved response.
#[derive(Debug, Clone)]
struct Entry {
    status: u16,
    /// The customization in effect (the type's own, else its DEFAULT_xXX's).
    custom: Option<Arc<Customization>>,
    /// Built-in body for the type's default message, prebuilt.
    default_body: Bytes,
}

/// The compiled gateway responses of one REST API.
#[derive(Debug, Clone)]
pub struct GatewayResponses {
    entries: [Entry; 21],
}

impl Default for GatewayResponses {
    /// AWS's defaults, no customization.
    fn default() -> Self {
        Self::resolve(&Default::default())
    }
}

impl GatewayResponses {
    /// Compiles an API's customizations. Errors name the type and the problem: an
    /// unsupported key or source, an unparsable template, a bad status, a duplicate type,
    /// or any customization of REQUEST_TOO_LARGE.
    ///
    /// Resolution per type: its own customization, else its DEFAULT_4XX/DEFAULT_5XX
    /// customization, else the built-in default. A customization is taken whole (no field
    /// merging with the parent); within it, a missing statusCode means the type's default
    /// status and missing templates mean the type's built-in body.
    pub fn compile(custom: &[(GatewayResponseType, GatewayResponseSpec)]) -> Result<Self, String> {
        let mut parsed: [Option<Arc<Customization>>; 21] = Default::default();
        for (kind, spec) in custom {
            if !kind.is_customizable() {
                return Err(format!(
                    "gateway response {kind}: this type cannot be customized"
                ));
            }
            let slot = &mut parsed[kind.index()];
            if slot.is_some() {
                return Err(format!(
                    "gateway response {kind}: configured more than once"
                ));
            }
            let c =
                Customization::parse(spec).map_err(|e| format!("gateway response {kind}: {e}"))?;
            *slot = Some(Arc::new(c));
        }
        Ok(Self::resolve(&parsed))
    }

    /// AWS's defaults, for requests that match no API (unknown API or stage).
    pub fn builtin() -> &'static GatewayResponses {
        static BUILTIN: OnceLock<GatewayResponses> = OnceLock::new();
        BUILTIN.get_or_init(GatewayResponses::default)
    }

    fn resolve(parsed: &[Option<Arc<Customization>>; 21]) -> Self {
        let entries = std::array::from_fn(|i| {
            let kind = GatewayResponseType::ALL[i];
            let custom = parsed[i]
                .clone()
                .or_else(|| kind.parent().and_then(|p| parsed[p.index()].clone()));
            let status = custom
                .as_ref()
                .and_then(|c| c.status)
                .unwrap_or(kind.default_status());
            Entry {
                status,
                custom,
                default_body: builtin_body(kind, Some(kind.default_message())),
            }
        });
        GatewayResponses { entries }
    }

    /// Renders a response of `kind`. `message` becomes `$context.error.message`, and its
    /// JSON-quoted form `$context.error.messageString` (`null` when `None`);
    /// `$context.error.responseType` is `kind`'s AWS name. Everything else (request
    /// parameters for `method.request.*` sources, stage variables, other `$context`
    /// values) comes from `ctx`.
    ///
    /// Without a template, the body is `{"message":<messageString>}` as
    /// `application/json`, except for INTEGRATION_FAILURE, INTEGRATION_TIMEOUT and
    /// API_CONFIGURATION_ERROR, which AWS emits as `{"message": <messageString>}` (e.g. the
    /// 36-byte `{"message": "Internal server error"}`).
    pub fn render(
        &self,
        kind: GatewayResponseType,
        message: Option<&str>,
        ctx: &dyn TemplateContext,
    ) -> RenderedResponse {
        let entry = &self.entries[kind.index()];
        let extra = entry.custom.as_ref().map_or(0, |c| c.headers.len());
        let mut headers = Vec::with_capacity(1 + extra);
        headers.push((ERROR_TYPE_HEADER.to_owned(), kind.error_type().to_owned()));
        let builtin = || {
            if message == Some(kind.default_message()) {
                entry.default_body.clone()
            } else {
                builtin_body(kind, message)
            }
        };
        let (content_type, body) = match entry.custom.as_deref() {
            None => (APPLICATION_JSON.to_owned(), builtin()),
            Some(custom) => {
                let ectx = ErrorContext {
                    inner: ctx,
                    kind,
                    message,
                    message_string: OnceCell::new(),
                };
                for h in &custom.headers {
                    if let Some(v) = h.source.resolve(&ectx) {
                        if is_header_value(&v) {
                            headers.push((h.name.to_string(), v.into_owned()));
                        }
                    }
                }
                match &custom.body {
                    CustomBody::Builtin => (APPLICATION_JSON.to_owned(), builtin()),
                    CustomBody::Static { content_type, body } => {
                        (content_type.to_string(), body.clone())
                    }
                    CustomBody::Template {
                        content_type,
                        template,
                    } => {
                        let mut out = String::new();
                        template.render(&ectx, &mut out);
                        (content_type.to_string(), Bytes::from(out))
                    }
                }
            }
        };
        RenderedResponse {
            status: entry.status,
            headers,
            content_type,
            body,
        }
    }

    /// The API sets the status of `kind` (through its own customization or its DEFAULT_4XX /
    /// DEFAULT_5XX one).
    pub fn status_is_customized(&self, kind: GatewayResponseType) -> bool {
        self.entries[kind.index()]
            .custom
            .as_ref()
            .is_some_and(|c| c.status.is_some())
    }

    /// [`Self::render`] with the type's default message (`None` for
    /// AUTHORIZER_CONFIGURATION_ERROR, as AWS).
    pub fn render_default(
        &self,
        kind: GatewayResponseType,
        ctx: &dyn TemplateContext,
    ) -> RenderedResponse {
        let message = match kind {
            GatewayResponseType::AuthorizerConfigurationError => None,
            _ => Some(kind.default_message()),
        };
        self.render(kind, message, ctx)
    }
}

/// The caller's context plus this response's `error.*` values.
struct ErrorContext<'a> {
    inner: &'a dyn TemplateContext,
    kind: GatewayResponseType,
    message: Option<&'a str>,
    /// Built on first use: most templates reference it once, some never.
    message_string: OnceCell<String>,
}

impl TemplateContext for ErrorContext<'_> {
    fn context_var(&self, path: &str) -> Option<Cow<'_, str>> {
        match path {
            "error.message" => self.message.map(Cow::Borrowed),
            "error.messageString" => Some(Cow::Borrowed(
                self.message_string
                    .get_or_init(|| json_string_or_null(self.message)),
            )),
            "error.responseType" => Some(Cow::Borrowed(self.kind.as_str())),
            _ => self.inner.context_var(path),
        }
    }
    fn stage_var(&self, name: &str) -> Option<&str> {
        self.inner.stage_var(name)
    }
    fn input_param(&self, name: &str) -> Option<Cow<'_, str>> {
        self.inner.input_param(name)
    }
    fn input_param_in(&self, kind: &str, name: &str) -> Option<Cow<'_, str>> {
        self.inner.input_param_in(kind, name)
    }
    fn input_body(&self) -> &str {
        self.inner.input_body()
    }
}

fn builtin_body(kind: GatewayResponseType, message: Option<&str>) -> Bytes {
    // AWS capitalises the key of ACCESS_DENIED bodies (reference §2.4).
    let prefix = if kind.integration_phase() {
        "{\"message\": "
    } else if kind == GatewayResponseType::AccessDenied {
        "{\"Message\":"
    } else {
        "{\"message\":"
    };
    let mut s = String::with_capacity(prefix.len() + 3 + message.map_or(4, str::len));
    s.push_str(prefix);
    push_json_string_or_null(&mut s, message);
    s.push('}');
    Bytes::from(s)
}

fn json_string_or_null(s: Option<&str>) -> String {
    let mut out = String::with_capacity(s.map_or(4, |s| s.len() + 2));
    push_json_string_or_null(&mut out, s);
    out
}

/// Appends `s` as a JSON string literal (escaping as serde_json does), or `null`.
fn push_json_string_or_null(out: &mut String, s: Option<&str>) {
    let Some(s) = s else {
        out.push_str("null");
        return;
    };
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// RFC 9110 token character (header names).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Acceptable header value: no control characters other than HTAB.
fn is_header_value(v: &str) -> bool {
    v.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

#[cfg(test)]
mod tests {
    use super::GatewayResponseType as T;
    use super::*;
    use crate::vtl::TestContext;

    fn spec(
        status: Option<u16>,
        params: &[(&str, &str)],
        templates: &[(&str, &str)],
    ) -> GatewayResponseSpec {
        GatewayResponseSpec {
            status_code: status,
            response_parameters: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            response_templates: templates
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn header<'a>(r: &'a RenderedResponse, name: &str) -> Option<&'a str> {
        r.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn body(r: &RenderedResponse) -> &str {
        std::str::from_utf8(&r.body).unwrap()
    }

    #[test]
    fn all_is_in_declaration_order_and_names_round_trip() {
        for (i, t) in T::ALL.into_iter().enumerate() {
            assert_eq!(t.index(), i);
            assert_eq!(T::parse(t.as_str()), Some(t));
            assert_eq!(t.to_string(), t.as_str());
        }
        assert_eq!(T::parse("access_denied"), None);
        assert_eq!(T::parse("NOPE"), None);
    }

    #[test]
    fn defaults_per_type() {
        #[rustfmt::skip]
        let table: [(T, u16, &str, &str); 21] = [
            (T::AccessDenied, 403, "User is not authorized to access this resource with an explicit deny", "AccessDeniedException"),
            (T::ApiConfigurationError, 500, "Internal server error", "InternalServerErrorException"),
            (T::AuthorizerConfigurationError, 500, "Internal server error", "AuthorizerConfigurationException"),
            (T::AuthorizerFailure, 500, "Internal server error", "AuthorizerFailureException"),
            (T::BadRequestParameters, 400, "Missing required request parameters", "BadRequestException"),
            (T::BadRequestBody, 400, "Invalid request body", "BadRequestException"),
            (T::Default4xx, 400, "Bad Request", "BadRequestException"),
            (T::Default5xx, 500, "Internal server error", "InternalServerErrorException"),
            (T::ExpiredToken, 403, "Signature expired", "InvalidSignatureException"),
            (T::IntegrationFailure, 504, "Internal server error", "InternalServerErrorException"),
            (T::IntegrationTimeout, 504, "Endpoint request timed out", "InternalServerErrorException"),
            (T::InvalidApiKey, 403, "Forbidden", "ForbiddenException"),
            (T::InvalidSignature, 403, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.", "InvalidSignatureException"),
            (T::MissingAuthenticationToken, 403, "Missing Authentication Token", "MissingAuthenticationTokenException"),
            (T::QuotaExceeded, 429, "Limit Exceeded", "LimitExceededException"),
            (T::RequestTooLarge, 413, "Request Too Long", "RequestTooLargeException"),
            (T::ResourceNotFound, 404, "Not Found", "ResourceNotFoundException"),
            (T::Throttled, 429, "Too Many Requests", "TooManyRequestsException"),
            (T::Unauthorized, 401, "Unauthorized", "UnauthorizedException"),
            (T::UnsupportedMediaType, 415, "Unsupported Media Type", "BadRequestException"),
            (T::WafFiltered, 403, "Forbidden", "ForbiddenException"),
        ];
        let ctx = TestContext::default();
        for (t, status, message, error_type) in table {
            assert_eq!(t.default_status(), status, "{t}");
            assert_eq!(t.default_message(), message, "{t}");
            assert_eq!(t.error_type(), error_type, "{t}");
            let r = GatewayResponses::builtin().render(t, Some(message), &ctx);
            assert_eq!(r.status, status, "{t}");
            assert_eq!(r.content_type, "application/json");
            assert_eq!(
                r.headers,
                vec![(ERROR_TYPE_HEADER.to_string(), error_type.to_string())]
            );
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            let key = if t == T::AccessDenied {
                "Message"
            } else {
                "message"
            };
            assert_eq!(v, serde_json::json!({ key: message }), "{t}");
        }
    }

    #[test]
    fn parents() {
        for t in T::ALL {
            let expected = match t {
                T::Default4xx | T::Default5xx => None,
                T::ApiConfigurationError
                | T::AuthorizerConfigurationError
                | T::AuthorizerFailure
                | T::IntegrationFailure
                | T::IntegrationTimeout => Some(T::Default5xx),
                _ => Some(T::Default4xx),
            };
            assert_eq!(t.parent(), expected, "{t}");
        }
        assert_eq!(T::Unauthorized.parent(), Some(T::Default4xx));
    }

    #[test]
    fn builtin_bodies_byte_exact() {
        let ctx = TestContext::default();
        let g = GatewayResponses::builtin();
        let r = g.render_default(T::MissingAuthenticationToken, &ctx);
        assert_eq!(body(&r), r#"{"message":"Missing Authentication Token"}"#);
        let r = g.render_default(T::IntegrationFailure, &ctx);
        assert_eq!(body(&r), r#"{"message": "Internal server error"}"#);
        assert_eq!(r.body.len(), 36);
        let r = g.render_default(T::ApiConfigurationError, &ctx);
        assert_eq!(body(&r), r#"{"message": "Internal server error"}"#);
        let r = g.render_default(T::IntegrationTimeout, &ctx);
        assert_eq!(body(&r), r#"{"message": "Endpoint request timed out"}"#);
        assert_eq!(r.status, 504);
        let r = g.render_default(T::AuthorizerConfigurationError, &ctx);
        assert_eq!(body(&r), r#"{"message":null}"#);
        assert_eq!(r.status, 500);
        let r = g.render(
            T::BadRequestParameters,
            Some("Missing required request parameters: [q1]"),
            &ctx,
        );
        assert_eq!(
            body(&r),
            r#"{"message":"Missing required request parameters: [q1]"}"#
        );
        // The default message's body is prebuilt and shared.
        let a = g.render_default(T::Throttled, &ctx);
        let b = g.render_default(T::Throttled, &ctx);
        assert_eq!(a.body.as_ptr(), b.body.as_ptr());
    }

    #[test]
    fn builtin_equals_aws_default_template() {
        let aws_default = r#"{"message":$context.error.messageString}"#;
        let messages = [
            Some("Forbidden"),
            Some("quote \" backslash \\ nl \n tab \t ctl \u{1} é ✓ </"),
            None,
        ];
        for m in messages {
            let g = GatewayResponses::compile(&[(
                T::Throttled,
                spec(None, &[], &[("application/json", aws_default)]),
            )])
            .unwrap();
            let ctx = TestContext::default();
            let templated = g.render(T::Throttled, m, &ctx);
            let builtin = GatewayResponses::builtin().render(T::Throttled, m, &ctx);
            assert_eq!(templated, builtin);
            let expected = match m {
                Some(m) => format!(r#"{{"message":{}}}"#, serde_json::to_string(m).unwrap()),
                None => r#"{"message":null}"#.to_string(),
            };
            assert_eq!(body(&builtin), expected);
        }
    }

    #[test]
    fn default_4xx_customization_is_inherited_unless_type_is_customized() {
        let g = GatewayResponses::compile(&[
            (
                T::Default4xx,
                spec(
                    None,
                    &[("gatewayresponse.header.Access-Control-Allow-Origin", "'*'")],
                    &[],
                ),
            ),
            (
                T::Throttled,
                spec(None, &[("gatewayresponse.header.x-own", "'yes'")], &[]),
            ),
        ])
        .unwrap();
        let ctx = TestContext::default();
        for t in [
            T::MissingAuthenticationToken,
            T::Unauthorized,
            T::InvalidApiKey,
            T::RequestTooLarge,
            T::Default4xx,
        ] {
            let r = g.render_default(t, &ctx);
            assert_eq!(header(&r, "Access-Control-Allow-Origin"), Some("*"), "{t}");
            assert_eq!(r.status, t.default_status(), "{t}");
            assert_eq!(header(&r, ERROR_TYPE_HEADER), Some(t.error_type()));
            assert_eq!(r.headers[0].0, ERROR_TYPE_HEADER);
        }
        let r = g.render_default(T::MissingAuthenticationToken, &ctx);
        assert_eq!(body(&r), r#"{"message":"Missing Authentication Token"}"#);
        // Customized itself: DEFAULT_4XX's header does not apply.
        let r = g.render_default(T::Throttled, &ctx);
        assert_eq!(header(&r, "Access-Control-Allow-Origin"), None);
        assert_eq!(header(&r, "x-own"), Some("yes"));
        assert_eq!(r.status, 429);
        // 5xx types are untouched.
        let r = g.render_default(T::IntegrationFailure, &ctx);
        assert_eq!(r.headers.len(), 1);
        assert_eq!(body(&r), r#"{"message": "Internal server error"}"#);
    }

    #[test]
    fn default_4xx_status_override() {
        let g = GatewayResponses::compile(&[(T::Default4xx, spec(Some(418), &[], &[]))]).unwrap();
        let ctx = TestContext::default();
        assert_eq!(
            g.render_default(T::MissingAuthenticationToken, &ctx).status,
            418
        );
        assert_eq!(g.render_default(T::Unauthorized, &ctx).status, 418);
        assert_eq!(g.render_default(T::Default4xx, &ctx).status, 418);
        assert_eq!(g.render_default(T::BadRequestBody, &ctx).status, 418);
        assert_eq!(g.render_default(T::IntegrationTimeout, &ctx).status, 504);
        assert_eq!(g.render_default(T::Default5xx, &ctx).status, 500);
    }

    #[test]
    fn default_5xx_template_applies_to_integration_errors() {
        let g = GatewayResponses::compile(&[(
            T::Default5xx,
            spec(
                Some(502),
                &[],
                &[(
                    "application/json",
                    r#"{"error":$context.error.messageString,"type":"$context.error.responseType","id":"$context.requestId"}"#,
                )],
            ),
        )])
        .unwrap();
        let ctx = TestContext {
            context: vec![("requestId", "r-1")],
            ..Default::default()
        };
        let r = g.render_default(T::IntegrationTimeout, &ctx);
        assert_eq!(r.status, 502);
        assert_eq!(
            body(&r),
            r#"{"error":"Endpoint request timed out","type":"INTEGRATION_TIMEOUT","id":"r-1"}"#
        );
        assert_eq!(
            header(&r, ERROR_TYPE_HEADER),
            Some("InternalServerErrorException")
        );
    }

    /// TV-21 (§12): PutGatewayResponse MISSING_AUTHENTICATION_TOKEN from the AWS
    /// PutGatewayResponse example, then `GET /dev/nope?q=x` with `Accept: application/json`
    /// and stage variable a=1.
    #[test]
    fn tv21_gateway_response_customization() {
        let template = "{\n     \"message\": $context.error.messageString,\n     \"type\":  \"$context.error.responseType\",\n     \"stage\":  \"$context.stage\",\n     \"resourcePath\":  \"$context.resourcePath\",\n     \"stageVariables.a\":  \"$stageVariables.a\",\n     \"statusCode\": \"'404'\"\n}";
        let g = GatewayResponses::compile(&[(
            T::MissingAuthenticationToken,
            spec(
                Some(404),
                &[
                    (
                        "gatewayresponse.header.x-request-path",
                        "method.request.path.petId",
                    ),
                    (
                        "gatewayresponse.header.Access-Control-Allow-Origin",
                        "'a.b.c'",
                    ),
                    (
                        "gatewayresponse.header.x-request-query",
                        "method.request.querystring.q",
                    ),
                    (
                        "gatewayresponse.header.x-request-header",
                        "method.request.header.Accept",
                    ),
                ],
                &[("application/json", template)],
            ),
        )])
        .unwrap();
        let ctx = TestContext {
            context: vec![("stage", "dev"), ("resourcePath", "")],
            stage: vec![("a", "1")],
            query: vec![("q", "x")],
            header: vec![("accept", "application/json")],
            ..Default::default()
        };
        let r = g.render_default(T::MissingAuthenticationToken, &ctx);
        assert_eq!(r.status, 404);
        assert_eq!(r.content_type, "application/json");
        assert_eq!(
            r.headers,
            vec![
                (
                    "x-amzn-ErrorType".to_string(),
                    "MissingAuthenticationTokenException".to_string()
                ),
                (
                    "Access-Control-Allow-Origin".to_string(),
                    "a.b.c".to_string()
                ),
                ("x-request-query".to_string(), "x".to_string()),
                (
                    "x-request-header".to_string(),
                    "application/json".to_string()
                ),
            ]
        );
        let expected = "{\n     \"message\": \"Missing Authentication Token\",\n     \"type\":  \"MISSING_AUTHENTICATION_TOKEN\",\n     \"stage\":  \"dev\",\n     \"resourcePath\":  \"\",\n     \"stageVariables.a\":  \"1\",\n     \"statusCode\": \"'404'\"\n}";
        assert_eq!(body(&r), expected);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"message": "Missing Authentication Token", "type": "MISSING_AUTHENTICATION_TOKEN", "stage": "dev", "resourcePath": "", "stageVariables.a": "1", "statusCode": "'404'"})
        );
    }

    #[test]
    fn sources_resolve_through_context() {
        let g = GatewayResponses::compile(&[(
            T::AccessDenied,
            spec(
                None,
                &[
                    (
                        "gatewayresponse.header.x-type",
                        "context.error.responseType",
                    ),
                    ("gatewayresponse.header.x-msg", "context.error.message"),
                    ("gatewayresponse.header.x-req", "context.requestId"),
                    ("gatewayresponse.header.x-stage", "stageVariables.env"),
                    ("gatewayresponse.header.x-path", "method.request.path.id"),
                    (
                        "gatewayresponse.header.x-missing",
                        "method.request.header.nope",
                    ),
                    (
                        "gatewayresponse.header.x-crlf",
                        "method.request.querystring.evil",
                    ),
                ],
                &[(
                    "text/plain",
                    "$context.error.message|$!context.error.message",
                )],
            ),
        )])
        .unwrap();
        let ctx = TestContext {
            context: vec![("requestId", "r-9")],
            stage: vec![("env", "prod")],
            path: vec![("id", "7")],
            query: vec![("evil", "a\r\nSet-Cookie: x=1")],
            ..Default::default()
        };
        let r = g.render(T::AccessDenied, Some("nope"), &ctx);
        assert_eq!(header(&r, "x-type"), Some("ACCESS_DENIED"));
        assert_eq!(header(&r, "x-msg"), Some("nope"));
        assert_eq!(header(&r, "x-req"), Some("r-9"));
        assert_eq!(header(&r, "x-stage"), Some("prod"));
        assert_eq!(header(&r, "x-path"), Some("7"));
        assert_eq!(header(&r, "x-missing"), None);
        assert_eq!(header(&r, "x-crlf"), None);
        assert_eq!(r.content_type, "text/plain");
        assert_eq!(body(&r), "nope|nope");
        let r = g.render(T::AccessDenied, None, &ctx);
        assert_eq!(header(&r, "x-msg"), None);
        assert_eq!(body(&r), "|");
    }

    #[test]
    fn template_choice_and_static_bodies() {
        let g = GatewayResponses::compile(&[
            (
                T::Throttled,
                spec(
                    None,
                    &[],
                    &[
                        ("text/html", "<b>slow down</b>"),
                        ("Application/JSON", "{\"x\":1}"),
                    ],
                ),
            ),
            (
                T::QuotaExceeded,
                spec(None, &[], &[("text/html", "<b>$context.error.message</b>")]),
            ),
        ])
        .unwrap();
        let ctx = TestContext::default();
        let a = g.render_default(T::Throttled, &ctx);
        assert_eq!(a.content_type, "Application/JSON");
        assert_eq!(body(&a), "{\"x\":1}");
        let b = g.render(T::Throttled, Some("other"), &ctx);
        assert_eq!(
            a.body.as_ptr(),
            b.body.as_ptr(),
            "static body is precomputed"
        );
        let r = g.render_default(T::QuotaExceeded, &ctx);
        assert_eq!(r.content_type, "text/html");
        assert_eq!(body(&r), "<b>Limit Exceeded</b>");
    }

    #[test]
    fn compile_errors_name_type_and_problem() {
        let cases: Vec<(T, GatewayResponseSpec, &str)> = vec![
            (
                T::RequestTooLarge,
                spec(None, &[], &[]),
                "cannot be customized",
            ),
            (
                T::Throttled,
                spec(None, &[("method.response.header.x", "'a'")], &[]),
                "expected gatewayresponse.header.<Name>",
            ),
            (
                T::Throttled,
                spec(None, &[("gatewayresponse.header.", "'a'")], &[]),
                "not a valid header name",
            ),
            (
                T::Throttled,
                spec(None, &[("gatewayresponse.header.a b", "'a'")], &[]),
                "not a valid header name",
            ),
            (
                T::Throttled,
                spec(
                    None,
                    &[("gatewayresponse.header.x", "integration.response.header.y")],
                    &[],
                ),
                "unsupported source",
            ),
            (
                T::Throttled,
                spec(
                    None,
                    &[("gatewayresponse.header.x", "method.request.body.y")],
                    &[],
                ),
                "unsupported source",
            ),
            (
                T::Throttled,
                spec(
                    None,
                    &[("gatewayresponse.header.x", "stageVariables.")],
                    &[],
                ),
                "lacks a name",
            ),
            (
                T::Throttled,
                spec(None, &[("gatewayresponse.header.x", "'a\nb'")], &[]),
                "not allowed in a header",
            ),
            (
                T::Throttled,
                spec(
                    None,
                    &[
                        ("gatewayresponse.header.x", "'a'"),
                        ("gatewayresponse.header.X", "'b'"),
                    ],
                    &[],
                ),
                "more than once",
            ),
            (T::Throttled, spec(Some(99), &[], &[]), "statusCode 99"),
            (
                T::Throttled,
                spec(None, &[], &[("application/json", "{\"m\":${context.x")]),
                "responseTemplates `application/json`: template error at line 1, column 6",
            ),
            (
                T::Throttled,
                spec(None, &[], &[("", "x")]),
                "invalid content type",
            ),
        ];
        for (t, s, needle) in cases {
            let err = match GatewayResponses::compile(&[(t, s)]) {
                Ok(_) => panic!("expected an error containing {needle:?}"),
                Err(e) => e,
            };
            assert!(err.contains(t.as_str()), "{err}");
            assert!(err.contains(needle), "{err} lacks {needle:?}");
        }
        let dup = GatewayResponses::compile(&[
            (T::Throttled, GatewayResponseSpec::default()),
            (T::Throttled, GatewayResponseSpec::default()),
        ]);
        assert!(matches!(dup, Err(e) if e.contains("more than once")));
    }

    #[test]
    fn builtin_is_shared_and_equals_default() {
        assert!(std::ptr::eq(
            GatewayResponses::builtin(),
            GatewayResponses::builtin()
        ));
        let ctx = TestContext::default();
        let d = GatewayResponses::default();
        let c = GatewayResponses::compile(&[]).unwrap();
        for t in T::ALL {
            assert_eq!(d.render_default(t, &ctx), c.render_default(t, &ctx));
        }
    }
}
