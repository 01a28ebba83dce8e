//! The configuration file's data model (DESIGN A2). Field names are AWS's own (camelCase);
//! where AWS refers to another object by id, the file refers to it by name. Defaults are AWS's.
//! Unknown keys are not rejected by serde here: `config::load` collects every ignored key and
//! reports each one with its line, so one run of `tollgate check` lists them all.

use serde::Deserialize;
use std::collections::BTreeMap;

/// A JSON document embedded in the file (IAM policies, JSON Schema models).
pub type Json = serde_json::Value;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Config {
    pub server: Server,
    pub functions: BTreeMap<String, Function>,
    pub aws_endpoints: BTreeMap<String, String>,
    pub iam: Iam,
    pub api_keys: Vec<ApiKey>,
    pub usage_plans: Vec<UsagePlan>,
    pub rest_apis: Vec<RestApi>,
    pub http_apis: Vec<Apiv2>,
    pub websocket_apis: Vec<Apiv2>,
    pub domain_names: Vec<DomainName>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Server {
    /// Data-plane listeners.
    pub listen: Vec<String>,
    /// Admin listener: /metrics, /healthz, cache flush.
    pub admin: Option<String>,
    pub threads: usize,
    pub region: String,
    pub account_id: String,
    pub state_dir: Option<String>,
    pub redis: Option<String>,
    pub access_log: Option<AccessLog>,
    /// Seconds a draining process waits for requests in flight (SIGTERM, upgrade).
    pub grace_period_seconds: u64,
    /// Downstream keep-alive idle timeout.
    pub keepalive_timeout_seconds: u64,
    /// Unix socket used to hand listeners to a new process (`run --upgrade`).
    pub upgrade_sock: Option<String>,
    pub pid_file: Option<String>,
    /// Account-level throttle (AWS: 10000 rps, burst 5000).
    pub throttle: ThrottleSettings,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            listen: vec!["127.0.0.1:8080".into()],
            admin: None,
            threads: 2,
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            state_dir: None,
            redis: None,
            access_log: None,
            grace_period_seconds: 35,
            keepalive_timeout_seconds: 60,
            upgrade_sock: None,
            pid_file: None,
            throttle: ThrottleSettings {
                rate_limit: Some(10000.0),
                burst_limit: Some(5000),
            },
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AccessLog {
    /// A file path, or "-" for standard output.
    pub path: String,
    /// `$context` variables, as a stage's `accessLogSettings.format`.
    pub format: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Function {
    /// Base URL of a server speaking the Lambda Invoke API.
    pub endpoint: Option<String>,
    /// A local process served the Lambda Runtime API.
    pub command: Option<Vec<String>>,
    pub concurrency: Option<u32>,
    /// Seconds (Lambda's `Timeout`).
    pub timeout: Option<u64>,
    pub environment: BTreeMap<String, String>,
    pub working_directory: Option<String>,
    pub memory_size: Option<u32>,
    pub handler: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Iam {
    pub users: Vec<IamUser>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IamUser {
    pub name: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    /// Temporary credentials: when the session token stops being accepted (ISO 8601 UTC, as
    /// STS's `Expiration`: `2026-01-01T00:00:00Z`).
    pub expiration: Option<String>,
    pub account_id: Option<String>,
    pub policies: Vec<Json>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ApiKey {
    pub name: String,
    pub value: String,
    pub enabled: bool,
    pub description: Option<String>,
    pub customer_id: Option<String>,
    pub tags: BTreeMap<String, String>,
}

impl Default for ApiKey {
    fn default() -> Self {
        ApiKey {
            name: String::new(),
            value: String::new(),
            enabled: true,
            description: None,
            customer_id: None,
            tags: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UsagePlan {
    pub name: String,
    pub description: Option<String>,
    pub api_keys: Vec<String>,
    pub api_stages: Vec<ApiStage>,
    pub throttle: Option<ThrottleSettings>,
    pub quota: Option<QuotaSettings>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ApiStage {
    pub api_id: String,
    pub stage: String,
    /// Keyed by `/{resourcePath}/{METHOD}`.
    pub throttle: BTreeMap<String, ThrottleSettings>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ThrottleSettings {
    pub rate_limit: Option<f64>,
    pub burst_limit: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QuotaSettings {
    pub limit: u64,
    pub offset: u64,
    /// DAY, WEEK or MONTH.
    pub period: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RestApi {
    pub id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub version: Option<String>,
    /// HEADER (default) or AUTHORIZER.
    pub api_key_source: Option<String>,
    pub binary_media_types: Vec<String>,
    pub minimum_compression_size: Option<u64>,
    pub policy: Option<Json>,
    pub endpoint_configuration: Option<EndpointConfiguration>,
    pub disable_execute_api_endpoint: bool,
    pub models: BTreeMap<String, Json>,
    pub request_validators: BTreeMap<String, RequestValidator>,
    pub authorizers: Vec<Authorizer>,
    pub gateway_responses: BTreeMap<String, GatewayResponse>,
    /// Resource path → HTTP method (or ANY) → Method.
    pub resources: BTreeMap<String, BTreeMap<String, Method>>,
    pub stages: Vec<Stage>,
    /// An OpenAPI export with `x-amazon-apigateway-*` extensions, merged into this API.
    pub openapi: Option<String>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EndpointConfiguration {
    pub types: Vec<String>,
    pub vpc_endpoint_ids: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RequestValidator {
    pub validate_request_body: bool,
    pub validate_request_parameters: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Authorizer {
    pub name: String,
    /// TOKEN, REQUEST or COGNITO_USER_POOLS.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(rename = "providerARNs")]
    pub provider_arns: Vec<String>,
    pub auth_type: Option<String>,
    pub authorizer_uri: Option<String>,
    pub authorizer_credentials: Option<String>,
    pub identity_source: Option<String>,
    pub identity_validation_expression: Option<String>,
    pub authorizer_result_ttl_in_seconds: Option<u64>,
    /// JWKS file or URL (COGNITO_USER_POOLS / OIDC); Cognito's well-known URL by default.
    pub jwks: Option<String>,
    pub issuer: Option<String>,
    pub audience: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GatewayResponse {
    pub status_code: Option<StatusCode>,
    pub response_parameters: BTreeMap<String, String>,
    pub response_templates: BTreeMap<String, String>,
}

/// A status code written as a number or a string ("200"), as AWS stores them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCode(pub String);

impl<'de> Deserialize<'de> for StatusCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        Ok(match Raw::deserialize(d)? {
            Raw::N(n) => StatusCode(n.to_string()),
            Raw::S(s) => StatusCode(s),
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Method {
    /// NONE (default), AWS_IAM, CUSTOM or COGNITO_USER_POOLS.
    pub authorization_type: Option<String>,
    /// Authorizer name (AWS: authorizerId).
    pub authorizer: Option<String>,
    pub authorization_scopes: Vec<String>,
    pub api_key_required: bool,
    /// Validator name (AWS: requestValidatorId).
    pub request_validator: Option<String>,
    pub operation_name: Option<String>,
    /// `method.request.{path|querystring|header|multivaluequerystring|multivalueheader}.NAME` → required.
    pub request_parameters: BTreeMap<String, bool>,
    /// Content type → model name.
    pub request_models: BTreeMap<String, String>,
    pub method_responses: Vec<MethodResponse>,
    pub integration: Option<Integration>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MethodResponse {
    pub status_code: Option<StatusCode>,
    pub response_parameters: BTreeMap<String, bool>,
    pub response_models: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Integration {
    /// HTTP, HTTP_PROXY, MOCK, AWS or AWS_PROXY.
    #[serde(rename = "type")]
    pub kind: String,
    pub http_method: Option<String>,
    pub uri: Option<String>,
    pub connection_type: Option<String>,
    pub connection_id: Option<String>,
    pub credentials: Option<String>,
    pub request_parameters: BTreeMap<String, String>,
    pub request_templates: BTreeMap<String, String>,
    pub passthrough_behavior: Option<String>,
    pub content_handling: Option<String>,
    pub timeout_in_millis: Option<u64>,
    pub cache_namespace: Option<String>,
    pub cache_key_parameters: Vec<String>,
    pub integration_responses: Vec<IntegrationResponse>,
    pub tls_config: Option<TlsConfig>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TlsConfig {
    pub insecure_skip_verification: bool,
    pub server_name_to_verify: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IntegrationResponse {
    pub status_code: Option<StatusCode>,
    pub selection_pattern: Option<String>,
    pub response_parameters: BTreeMap<String, String>,
    pub response_templates: BTreeMap<String, String>,
    pub content_handling: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Stage {
    pub stage_name: String,
    pub deployment_id: Option<String>,
    pub description: Option<String>,
    pub variables: BTreeMap<String, String>,
    pub cache_cluster_enabled: bool,
    pub cache_cluster_size: Option<String>,
    /// `"{resourcePath without leading /}/{METHOD}"` or `"*/*"` → settings.
    pub method_settings: BTreeMap<String, MethodSetting>,
    pub access_log_settings: Option<AccessLogSettings>,
    pub tracing_enabled: bool,
    pub canary_settings: Option<CanarySettings>,
    pub client_certificate_id: Option<String>,
    pub web_acl_arn: Option<String>,
    pub documentation_version: Option<String>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AccessLogSettings {
    pub destination_arn: Option<String>,
    pub format: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CanarySettings {
    pub percent_traffic: f64,
    pub deployment_id: Option<String>,
    pub stage_variable_overrides: BTreeMap<String, String>,
    pub use_stage_cache: bool,
}

/// AWS MethodSetting; unset fields take AWS's defaults when the stage is compiled.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MethodSetting {
    pub metrics_enabled: Option<bool>,
    pub logging_level: Option<String>,
    pub data_trace_enabled: Option<bool>,
    pub throttling_burst_limit: Option<u64>,
    pub throttling_rate_limit: Option<f64>,
    pub caching_enabled: Option<bool>,
    pub cache_ttl_in_seconds: Option<u64>,
    pub cache_data_encrypted: Option<bool>,
    pub require_authorization_for_cache_control: Option<bool>,
    pub unauthorized_cache_control_header_strategy: Option<String>,
}

/// An API Gateway v2 API (HTTP or WebSocket), in apigatewayv2's field names.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Apiv2 {
    pub id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub version: Option<String>,
    pub route_selection_expression: Option<String>,
    pub api_key_selection_expression: Option<String>,
    pub cors_configuration: Option<Cors>,
    pub disable_execute_api_endpoint: bool,
    /// Route key (`GET /pets/{id}`, `$default`, `$connect`, ...) → route.
    pub routes: BTreeMap<String, Route>,
    pub authorizers: Vec<Authorizerv2>,
    pub stages: Vec<Stagev2>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Cors {
    pub allow_credentials: Option<bool>,
    pub allow_headers: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_origins: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Route {
    pub authorization_type: Option<String>,
    pub authorizer: Option<String>,
    pub authorization_scopes: Vec<String>,
    pub api_key_required: bool,
    pub operation_name: Option<String>,
    pub request_parameters: BTreeMap<String, bool>,
    pub route_response_selection_expression: Option<String>,
    pub model_selection_expression: Option<String>,
    pub request_models: BTreeMap<String, String>,
    pub integration: Option<Integrationv2>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Integrationv2 {
    pub integration_type: String,
    pub integration_uri: Option<String>,
    pub integration_method: Option<String>,
    pub payload_format_version: Option<String>,
    pub timeout_in_millis: Option<u64>,
    pub connection_type: Option<String>,
    pub connection_id: Option<String>,
    pub credentials_arn: Option<String>,
    pub request_parameters: BTreeMap<String, String>,
    pub response_parameters: BTreeMap<String, BTreeMap<String, String>>,
    pub request_templates: BTreeMap<String, String>,
    pub template_selection_expression: Option<String>,
    pub passthrough_behavior: Option<String>,
    pub content_handling_strategy: Option<String>,
    pub tls_config: Option<TlsConfig>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Authorizerv2 {
    pub name: String,
    /// JWT or REQUEST.
    pub authorizer_type: String,
    pub identity_source: Vec<String>,
    pub jwt_configuration: Option<JwtConfiguration>,
    pub authorizer_uri: Option<String>,
    pub authorizer_payload_format_version: Option<String>,
    pub enable_simple_responses: bool,
    pub authorizer_result_ttl_in_seconds: Option<u64>,
    pub authorizer_credentials_arn: Option<String>,
    pub identity_validation_expression: Option<String>,
    pub jwks: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct JwtConfiguration {
    pub audience: Vec<String>,
    pub issuer: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Stagev2 {
    pub stage_name: String,
    pub auto_deploy: bool,
    pub description: Option<String>,
    pub stage_variables: BTreeMap<String, String>,
    pub default_route_settings: Option<RouteSettings>,
    pub route_settings: BTreeMap<String, RouteSettings>,
    pub access_log_settings: Option<AccessLogSettings>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RouteSettings {
    pub throttling_burst_limit: Option<u64>,
    pub throttling_rate_limit: Option<f64>,
    pub detailed_metrics_enabled: Option<bool>,
    pub logging_level: Option<String>,
    pub data_trace_enabled: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DomainName {
    pub domain_name: String,
    pub certificate: Option<Certificate>,
    pub security_policy: Option<String>,
    pub endpoint_configuration: Option<EndpointConfiguration>,
    pub base_path_mappings: Vec<BasePathMapping>,
    pub api_mappings: Vec<ApiMapping>,
    pub mutual_tls_authentication: Option<MutualTls>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Certificate {
    pub cert: String,
    pub key: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BasePathMapping {
    pub base_path: String,
    pub rest_api_id: String,
    pub stage: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ApiMapping {
    pub api_id: String,
    pub stage: String,
    pub api_mapping_key: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MutualTls {
    pub truststore_uri: Option<String>,
}
