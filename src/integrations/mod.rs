//! Integrations: what a method calls once the request is accepted.

pub mod aws;
pub mod binary;
pub mod custom;
pub mod http;
pub mod http_custom;
pub mod lambda;
pub mod mock;
pub mod response;
pub mod templates;
pub mod view;

/// A compiled method integration.
pub enum Integration {
    HttpProxy(http::HttpProxy),
    Http(http_custom::HttpIntegration),
    /// `type: AWS`: a signed call to an AWS (or AWS-compatible) service.
    Aws(Box<aws::AwsService>),
    /// `type: AWS_PROXY` with a Lambda function.
    LambdaProxy(lambda::LambdaCall),
    /// `type: AWS` with a Lambda function (custom Lambda integration).
    Lambda(Box<lambda::LambdaCustom>),
    Mock(mock::Mock),
    /// A type this build accepts in configuration but cannot call (AWS_PROXY to a Firehose
    /// stream);
    /// requests get a 500 `Internal server error` and a log line naming the type.
    Unavailable(&'static str),
}

impl Integration {
    /// The AWS type name, for the route table.
    pub fn kind(&self) -> &'static str {
        match self {
            Integration::HttpProxy(_) => "HTTP_PROXY",
            Integration::Http(_) => "HTTP",
            Integration::Aws(_) | Integration::Lambda(_) => "AWS",
            Integration::LambdaProxy(_) => "AWS_PROXY",
            Integration::Mock(_) => "MOCK",
            Integration::Unavailable(k) => k,
        }
    }
}

/// A failure that becomes a gateway response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: crate::responses::GatewayResponseType,
    pub message: Option<String>,
}

impl Failure {
    pub fn new(kind: crate::responses::GatewayResponseType) -> Failure {
        Failure {
            kind,
            message: Some(kind.default_message().to_string()),
        }
    }
}

/// The MIME type of a Content-Type or Accept value: parameters dropped, lower-cased.
pub fn mime_type(v: &str) -> &str {
    v.split([';', ',']).next().unwrap_or("").trim()
}
