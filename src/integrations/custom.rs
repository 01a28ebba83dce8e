//! What every non-proxy integration (MOCK, HTTP, AWS) shares: the request template chosen
//! by Content-Type under `passthroughBehavior`, and the integration responses.

use super::binary::{self, ContentHandling};
use super::response::IntegrationResponses;
use super::templates::{Passthrough, Templates};
use super::Failure;
use crate::config::model::Integration as Spec;
use crate::config::spans::Seg;
use crate::responses::GatewayResponseType;
use crate::vtl::{Overrides, TemplateContext, TemplateError};
use std::borrow::Cow;

pub struct NonProxy {
    pub request_templates: Templates,
    pub passthrough: Passthrough,
    pub responses: IntegrationResponses,
    /// Request-side `contentHandling`.
    pub content_handling: ContentHandling,
}

/// A compile problem below an integration: the config path from there, a position inside
/// the value (templates), and the message.
#[derive(Debug)]
pub struct SpecError {
    pub path: Vec<Seg>,
    pub within: Option<(usize, usize)>,
    pub message: String,
}

impl SpecError {
    pub fn new(path: Vec<Seg>, message: impl Into<String>) -> SpecError {
        SpecError {
            path,
            within: None,
            message: message.into(),
        }
    }

    /// A template error at `path`.
    pub fn template(path: Vec<Seg>, e: &TemplateError) -> SpecError {
        SpecError {
            path,
            within: Some((e.line, e.column)),
            message: format!("template error at {}:{}: {}", e.line, e.column, e.message),
        }
    }
}

impl NonProxy {
    pub fn compile(spec: &Spec) -> Result<NonProxy, SpecError> {
        let request_templates =
            Templates::compile(&spec.request_templates).map_err(|(ct, e)| {
                SpecError::template(vec![Seg::from("requestTemplates"), Seg::from(ct)], &e)
            })?;
        let responses =
            IntegrationResponses::compile(&spec.integration_responses).map_err(|mut e| {
                e.path.insert(0, Seg::from("integrationResponses"));
                e
            })?;
        Ok(NonProxy {
            request_templates,
            passthrough: Passthrough::parse(spec.passthrough_behavior.as_deref()),
            responses,
            content_handling: ContentHandling::parse(spec.content_handling.as_deref()),
        })
    }

    /// The integration request payload: the request template for `content_type` rendered
    /// (its overrides recorded; `ctx` shows a binary body as base64), or the `body` passed
    /// through under `contentHandling`. 415 per `passthroughBehavior`; a template that fails
    /// to render is AWS's 500.
    pub fn request_payload<'a>(
        &self,
        ctx: &dyn TemplateContext,
        body: &'a [u8],
        binary: bool,
        content_type: Option<&str>,
        overrides: &mut Overrides,
    ) -> Result<Cow<'a, [u8]>, Failure> {
        match self
            .request_templates
            .for_request(content_type, self.passthrough)?
        {
            Some(t) => {
                let mut out = String::new();
                t.render(ctx, overrides, &mut out).map_err(|e| {
                    log::warn!("request template failed: {e}");
                    internal_error()
                })?;
                Ok(Cow::Owned(out.into_bytes()))
            }
            None => binary::request_payload(body, binary, self.content_handling),
        }
    }
}

/// AWS's 500 for a configuration that cannot produce a response.
pub fn internal_error() -> Failure {
    Failure {
        kind: GatewayResponseType::ApiConfigurationError,
        message: Some("Internal server error".into()),
    }
}
