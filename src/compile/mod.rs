//! Configuration → [`Snapshot`]: an immutable, fully pre-parsed form of the file (route trees,
//! templates, patterns, resolved upstream peers, metric handles). The server holds one in an
//! `ArcSwap`; a request pins the snapshot it started with for its whole life.

mod upstream;

use crate::auth::access::AuthorizationType;
use crate::auth::authorizers::{Authorizer, StageAuthorizer};
use crate::auth::iam::IamUsers;
use crate::auth::policy::{Attached, Policy};
use crate::auth::sigv4::Credentials;
use crate::config::model::{self, Config};
use crate::config::spans::Seg;
use crate::config::{validate, Problem};
use crate::functions::invoke::{FunctionTarget, InvokeEndpoint};
use crate::ids::stable_id;
use crate::integrations::aws::{self, AwsIntegration, AwsService};
use crate::integrations::binary::BinaryMediaTypes;
use crate::integrations::custom::NonProxy;
use crate::integrations::http::{Endpoint, HttpProxy};
use crate::integrations::http_custom::HttpIntegration;
use crate::integrations::lambda::{self, LambdaCall, LambdaCustom};
use crate::integrations::mock::Mock;
use crate::integrations::Integration;
use crate::mapping::Location;
use crate::metrics::{MethodMetrics, Metrics};
use crate::path;
use crate::responses::{GatewayResponseSpec, GatewayResponseType, GatewayResponses};
use crate::router::{MethodKey, Router, RouterError};
use crate::throttle;
use crate::vtl::substitute::Substitution;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
pub use upstream::Upstream;

/// A lookup by a name taken from the request (host, stage): a keyed fast hasher, seeded at
/// random.
type Index<V> = HashMap<String, V, foldhash::fast::RandomState>;

/// The access log format when `server.accessLog` names no format: API Gateway's CLF example.
pub const DEFAULT_ACCESS_LOG_FORMAT: &str = "$context.identity.sourceIp - - [$context.requestTime] \"$context.httpMethod $context.path $context.protocol\" $context.status $context.responseLength $context.requestId";

/// Turns a host and port into an address. At load time this is a blocking lookup (never on a
/// request worker); tests pass a fake.
pub type Resolver<'a> = &'a dyn Fn(&str, u16) -> Result<SocketAddr, String>;

/// Everything a request needs, compiled once per configuration load.
pub struct Snapshot {
    pub apis: Vec<RestApi>,
    api_index: Index<usize>,
    /// Lower-cased host → base path mappings, longest base path first.
    domains: Index<Vec<BasePath>>,
    pub server: ServerSettings,
    /// For requests that reach no API.
    pub builtin_responses: GatewayResponses,
    /// Every integration host name and the address it resolved to (for DNS refresh).
    pub resolved_hosts: Vec<(String, u16, SocketAddr)>,
    /// `iam.users`: the callers of AWS_IAM methods.
    pub iam: IamUsers,
    /// The account throttle and usage plans.
    pub limits: throttle::Limits,
}

/// Server settings the request path reads.
pub struct ServerSettings {
    pub region: String,
    pub account_id: String,
    pub keepalive_timeout_seconds: u64,
    /// The server-wide access log format; a stage's `accessLogSettings.format` wins.
    pub access_log: Option<Arc<Substitution>>,
}

struct BasePath {
    /// Without leading or trailing '/'; "" is the `(none)` mapping.
    path: String,
    api: usize,
    stage: usize,
}

pub struct RestApi {
    pub id: String,
    pub router: Router,
    /// Indexed by the router's method id.
    pub methods: Vec<Method>,
    pub stages: Vec<Stage>,
    stage_index: Index<usize>,
    pub responses: GatewayResponses,
    pub disable_execute_api_endpoint: bool,
    pub binary_media_types: BinaryMediaTypes,
    /// The resource policy (`policy`), its short forms expanded.
    pub resource_policy: Option<Policy>,
    /// `authorizers`, in file order; methods and stages refer to them by index.
    pub authorizers: Vec<Authorizer>,
    /// `apiKeySource: AUTHORIZER`: the API key is a Lambda authorizer's `usageIdentifierKey`.
    pub api_key_from_authorizer: bool,
}

impl RestApi {
    pub fn stage(&self, name: &str) -> Option<usize> {
        self.stage_index.get(name).copied()
    }
}

pub struct Method {
    pub key: MethodKey,
    pub resource_path: String,
    /// `$context.resourceId`: a short id derived from the API id and resource path, stable
    /// across loads (AWS assigns random ones).
    pub resource_id: String,
    pub authorization_type: AuthorizationType,
    /// CUSTOM and COGNITO_USER_POOLS: the index of the method's authorizer in
    /// `RestApi::authorizers`.
    pub authorizer: Option<usize>,
    pub authorization_scopes: Vec<String>,
    pub api_key_required: bool,
    pub params: Vec<ParamDecl>,
    /// The method's request validator checks parameters.
    pub validate_params: bool,
    /// The model the body is validated against, when the method's validator checks bodies.
    pub body_model: Option<crate::validation::Model>,
    pub integration: Integration,
    /// The cache key: `cacheNamespace` (default: the resource path, unique in the API) and
    /// `cacheKeyParameters`.
    pub cache_key: crate::cache::key::KeySpec,
}

/// A declared method request parameter.
pub struct ParamDecl {
    pub location: Location,
    pub name: String,
    pub required: bool,
    /// The full key, `method.request.header.x`: AWS lists missing parameters in key order.
    pub key: String,
}

pub struct Stage {
    pub name: String,
    /// `deploymentId` as configured, else a stable id derived from the API and stage.
    pub deployment_id: String,
    pub variables: BTreeMap<String, String>,
    /// Indexed like `RestApi::methods`.
    pub methods: Vec<StageMethod>,
    pub access_log: Option<Arc<Substitution>>,
    /// `cacheClusterEnabled`: what the stage cache holds responses of; taken by
    /// [`crate::cache::Caches::attach`].
    pub cache_fingerprint: Option<crate::cache::Fingerprint>,
    /// The stage cache, handed in by [`crate::cache::Caches::attach`] after compiling.
    pub cache: Option<Arc<crate::cache::StageCache>>,
    /// Indexed like `RestApi::authorizers`.
    pub authorizers: Vec<StageAuthorizer>,
    /// What the method ARNs of this stage begin with (`arn:aws:execute-api:...:{stage}/`).
    pub arn_prefix: Box<str>,
    /// API keys valid on this stage and its throttles.
    pub limits: throttle::StageLimits,
}

impl Stage {
    /// Empties the authorizer result caches (`FlushStageAuthorizersCache`).
    pub fn flush_authorizers(&self) {
        for a in &self.authorizers {
            a.cache.clear();
        }
    }
}

/// What a method needs that depends on the stage.
pub struct StageMethod {
    pub upstream: Option<Upstream>,
    /// Lambda integrations: how this stage reaches the function (None: unreachable, logged
    /// at load; requests get a 500).
    pub function: Option<FunctionTarget>,
    pub metrics: MethodMetrics,
    /// Response caching of this method in this stage; None when it is not cached.
    pub cache: Option<crate::cache::settings::MethodCache>,
}

/// The API and stage a request addresses, and the resource path left to route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'p> {
    pub api: usize,
    pub stage: usize,
    /// The path after the stage (or base path) segment.
    pub resource_path: &'p str,
    /// `$context.customDomain.basePathMatched` when a domain name mapping was used.
    pub base_path: Option<&'p str>,
}

impl Snapshot {
    pub fn api(&self, id: &str) -> Option<usize> {
        self.api_index.get(id).copied()
    }

    /// Finds the API and stage for a request (DESIGN A3). None means 403 Forbidden.
    pub fn target<'p>(&self, host: Option<&str>, path: &'p str) -> Option<Target<'p>> {
        let host = host.map(|h| {
            h.rsplit_once(':').map_or(h, |(a, p)| {
                if p.bytes().all(|b| b.is_ascii_digit()) {
                    a
                } else {
                    h
                }
            })
        });
        if let Some(h) = host {
            let mapped = if self.domains.is_empty() {
                None
            } else {
                self.domains.get(&h.to_ascii_lowercase())
            };
            if let Some(mappings) = mapped {
                let trimmed = path.trim_start_matches('/');
                for m in mappings {
                    let rest = if m.path.is_empty() {
                        Some(trimmed)
                    } else {
                        trimmed
                            .strip_prefix(m.path.as_str())
                            .filter(|r| r.is_empty() || r.starts_with('/'))
                    };
                    if let Some(rest) = rest {
                        let base = (!m.path.is_empty()).then(|| &trimmed[..m.path.len()]);
                        return Some(Target {
                            api: m.api,
                            stage: m.stage,
                            resource_path: rest,
                            base_path: base,
                        });
                    }
                }
                return None;
            }
            // `{api}.execute-api.{region}...`: the first `.execute-api.`, found by a byte scan
            // (host names are short; a substring searcher costs more to set up).
            let bytes = h.as_bytes();
            let execute_api = (0..bytes.len())
                .find(|&i| bytes[i] == b'.' && bytes[i..].starts_with(b".execute-api."));
            if let Some(i) = execute_api {
                let api = self.api(&h[..i])?;
                return self.stage_target(api, path);
            }
        }
        if let Some(rest) = path.strip_prefix("/restapis/") {
            let (api_id, rest) = rest.split_once('/')?;
            let (stage, rest) = rest.split_once('/')?;
            let rest = rest.strip_prefix("_user_request_")?;
            if !(rest.is_empty() || rest.starts_with('/')) {
                return None;
            }
            let api = self.api(api_id)?;
            let stage = self.apis[api].stage(stage)?;
            return Some(Target {
                api,
                stage,
                resource_path: rest,
                base_path: None,
            });
        }
        if self.apis.len() == 1 {
            return self.stage_target(0, path);
        }
        None
    }

    /// The first path segment names the stage (leading slashes collapsed, as AWS does).
    fn stage_target<'p>(&self, api: usize, path: &'p str) -> Option<Target<'p>> {
        if self.apis[api].disable_execute_api_endpoint {
            return None;
        }
        let p = path.trim_start_matches('/');
        let (stage, rest) = match p.find('/') {
            Some(i) => (&p[..i], &p[i..]),
            None => (p, ""),
        };
        let stage = self.apis[api].stage(stage)?;
        Some(Target {
            api,
            stage,
            resource_path: rest,
            base_path: None,
        })
    }

    /// The route table: api, stage, method, path, integration type, authorization.
    pub fn routes(&self) -> String {
        let mut out = String::from("API\tSTAGE\tMETHOD\tPATH\tINTEGRATION\tAUTHORIZATION\n");
        for api in &self.apis {
            for stage in &api.stages {
                for (path, key, id) in api.router.resources() {
                    let m = &api.methods[id];
                    out.push_str(&format!(
                        "{}\t{}\t{}\t{}\t{}\t{}\n",
                        api.id,
                        stage.name,
                        key.as_str(),
                        path,
                        m.integration.kind(),
                        m.authorization_type.as_str()
                    ));
                }
            }
        }
        out
    }
}

/// Validates and compiles `config` with usage counts kept in memory only.
pub fn compile(
    config: &Config,
    metrics: &Metrics,
    resolve: Resolver,
) -> Result<Snapshot, Vec<Problem>> {
    compile_with_usage(config, metrics, resolve, &throttle::Usage::ephemeral())
}

/// Validates and compiles `config`; usage plans count into `usage`, which outlives the
/// snapshot. Every problem found is returned, located by path.
pub fn compile_with_usage(
    config: &Config,
    metrics: &Metrics,
    resolve: Resolver,
    usage: &throttle::Usage,
) -> Result<Snapshot, Vec<Problem>> {
    let problems = validate::validate(config);
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut c = Compiler {
        problems: Vec::new(),
        metrics,
        resolve,
        resolved: Vec::new(),
        aws_endpoints: &config.aws_endpoints,
        functions: &config.functions,
        credentials: aws::credentials_from_env().map(Arc::new),
        iam_users: &config.iam.users,
    };
    let server = c.server(&config.server);
    let iam = c.iam(&config.iam, &server);
    let apis: Vec<RestApi> = config
        .rest_apis
        .iter()
        .enumerate()
        .filter_map(|(i, api)| c.rest_api(i, api, &server))
        .collect();
    if !c.problems.is_empty() {
        return Err(c.problems);
    }
    let mut apis = apis;
    let names: Vec<Vec<(&str, &str)>> = apis
        .iter()
        .map(|a| {
            a.methods
                .iter()
                .map(|m| (m.resource_path.as_str(), m.key.as_str()))
                .collect()
        })
        .collect();
    let named: Vec<(String, throttle::plans::MethodNames)> = apis
        .iter()
        .zip(&names)
        .map(|(a, n)| (a.id.clone(), n.as_slice()))
        .collect();
    let (limits, stage_limits) =
        throttle::plans::compile(config, &named, metrics, usage, std::time::SystemTime::now())?;
    drop(named);
    drop(names);
    for (api, stages) in apis.iter_mut().zip(stage_limits) {
        for (stage, l) in api.stages.iter_mut().zip(stages) {
            stage.limits = l;
        }
    }
    let api_index: Index<usize> = apis
        .iter()
        .enumerate()
        .map(|(i, a)| (a.id.clone(), i))
        .collect();
    let mut domains: Index<Vec<BasePath>> = Index::default();
    for d in &config.domain_names {
        let list = domains
            .entry(d.domain_name.to_ascii_lowercase())
            .or_default();
        for m in &d.base_path_mappings {
            let (Some(&api), path) = (api_index.get(&m.rest_api_id), m.base_path.trim_matches('/'))
            else {
                continue;
            };
            let Some(stage) = apis[api].stage(&m.stage) else {
                continue;
            };
            let path = if path == "(none)" { "" } else { path };
            list.push(BasePath {
                path: path.to_string(),
                api,
                stage,
            });
        }
        list.sort_by_key(|b| std::cmp::Reverse(b.path.len()));
    }
    Ok(Snapshot {
        apis,
        api_index,
        domains,
        server,
        builtin_responses: GatewayResponses::builtin().clone(),
        resolved_hosts: c.resolved,
        iam,
        limits,
    })
}

struct Compiler<'a> {
    problems: Vec<Problem>,
    metrics: &'a Metrics,
    resolve: Resolver<'a>,
    resolved: Vec<(String, u16, SocketAddr)>,
    aws_endpoints: &'a BTreeMap<String, String>,
    functions: &'a BTreeMap<String, model::Function>,
    /// AWS credentials from the environment, read once per load.
    credentials: Option<Arc<Credentials>>,
    /// `iam.users`: an AWS integration's `credentials` may name one.
    iam_users: &'a [model::IamUser],
}

fn at(base: &[Seg], rest: Vec<Seg>) -> Vec<Seg> {
    let mut p = base.to_vec();
    p.extend(rest);
    p
}

impl Compiler<'_> {
    fn err(&mut self, path: Vec<Seg>, msg: impl Into<String>) {
        self.problems.push(Problem::new(path, msg));
    }

    /// How stage `s` reaches the function `call` names: a local `command`, an Invoke API
    /// `endpoint`, else AWS Lambda in the function's (or the server's) region. None, with a
    /// warning, when it cannot be reached: AWS without credentials or an unresolvable host.
    fn function_target(
        &mut self,
        call: &LambdaCall,
        s: &model::Stage,
        server: &ServerSettings,
    ) -> Option<FunctionTarget> {
        let f = match call.function.resolve(&s.variables) {
            Ok(f) => f,
            Err(e) => {
                log::warn!("stage {}: {e}", s.stage_name);
                return None;
            }
        };
        let (url, signing) = match self.functions.get(&f.name) {
            Some(spec) if spec.command.is_some() => return Some(FunctionTarget::Local(f.name)),
            Some(spec) => (spec.endpoint.clone().unwrap_or_default(), None),
            None => {
                let region = f.region.clone().unwrap_or_else(|| server.region.clone());
                let Some(creds) = self.credentials.clone() else {
                    log::warn!(
                        "function {}: not in `functions:` and no AWS credentials in the \
                         environment to invoke it on AWS Lambda",
                        f.name
                    );
                    return None;
                };
                // `awsEndpoints.lambda` stands in for AWS Lambda (still signed).
                let url = self
                    .aws_endpoints
                    .get("lambda")
                    .cloned()
                    .unwrap_or_else(|| format!("https://lambda.{region}.amazonaws.com"));
                (url, Some((region, creds)))
            }
        };
        let reached = aws::parse_endpoint_url(&url).and_then(|ep| {
            let endpoint = Endpoint {
                tls: ep.tls,
                host: ep.host,
                port: ep.port,
                authority: ep.authority,
                target: Vec::new(),
            };
            Upstream::to(endpoint, call.timeout, false, self.resolve).map(|u| (u, ep.base_path))
        });
        match reached {
            Ok(((upstream, lookup), base_path)) => {
                self.resolved.extend(lookup);
                Some(FunctionTarget::Remote {
                    endpoint: Box::new(InvokeEndpoint {
                        upstream,
                        base_path,
                        signing,
                    }),
                    name: f.name,
                    qualifier: f.qualifier,
                })
            }
            Err(e) => {
                log::warn!("function {}: cannot reach {url}: {e}", f.name);
                None
            }
        }
    }

    /// Templates and integration responses of a non-proxy integration at `ipath`.
    fn non_proxy(&mut self, ipath: &[Seg], spec: &model::Integration) -> Option<NonProxy> {
        match NonProxy::compile(spec) {
            Ok(n) => Some(n),
            Err(e) => {
                let mut path = ipath.to_vec();
                path.extend(e.path);
                self.problems.push(Problem {
                    path,
                    within: e.within,
                    message: e.message,
                });
                None
            }
        }
    }

    /// Access log formats are `$context` substitutions, not Velocity (as on AWS).
    fn access_log_format(&mut self, path: Vec<Seg>, src: &str) -> Option<Arc<Substitution>> {
        match Substitution::parse(src) {
            Ok(t) => Some(Arc::new(t)),
            Err(e) => {
                self.err(
                    path,
                    format!("format error at {}:{}: {}", e.line, e.column, e.message),
                );
                None
            }
        }
    }

    fn server(&mut self, s: &model::Server) -> ServerSettings {
        let access_log = s.access_log.as_ref().and_then(|a| {
            let format = a.format.as_deref().unwrap_or(DEFAULT_ACCESS_LOG_FORMAT);
            self.access_log_format(path!["server", "accessLog", "format"], format)
        });
        ServerSettings {
            region: s.region.clone(),
            account_id: s.account_id.clone(),
            keepalive_timeout_seconds: s.keepalive_timeout_seconds,
            access_log,
        }
    }

    fn iam(&mut self, iam: &model::Iam, server: &ServerSettings) -> IamUsers {
        IamUsers::compile(iam, &server.account_id).unwrap_or_else(|problems| {
            for p in problems {
                let mut path = path!["iam", "users", p.index];
                if let Some(j) = p.policy {
                    path.extend(path!["policies", j]);
                }
                self.err(path, p.message);
            }
            IamUsers::default()
        })
    }

    fn rest_api(
        &mut self,
        i: usize,
        api: &model::RestApi,
        server: &ServerSettings,
    ) -> Option<RestApi> {
        let base = path!["restApis", i];
        let before = self.problems.len();
        let mut authorizers = Vec::with_capacity(api.authorizers.len());
        for (j, a) in api.authorizers.iter().enumerate() {
            match Authorizer::compile(a, &server.region, self.resolve) {
                Ok(c) => {
                    if let Authorizer::Jwt(j) = &c {
                        self.resolved.extend(j.jwks_lookup.clone());
                    }
                    authorizers.push(c)
                }
                Err((field, e)) => self.err(at(&base, path!["authorizers", j, field]), e),
            }
        }
        let models = match crate::validation::compile_models(&api.id, &api.models) {
            Ok(m) => m,
            Err(errors) => {
                for (name, e) in errors {
                    self.err(at(&base, path!["models", &name]), e);
                }
                HashMap::new()
            }
        };
        // Methods in file order: resource path, then method key.
        let mut table: Vec<(String, Vec<(MethodKey, usize)>)> = Vec::new();
        let mut methods = Vec::new();
        // Each compiled method's configuration, indexed like `methods`.
        let mut specs = Vec::new();
        for (res, ms) in &api.resources {
            let mut list = Vec::new();
            for (m, spec) in ms {
                let Some(key) = MethodKey::parse(m) else {
                    continue;
                };
                let mpath = at(&base, path!["resources", res, m]);
                if let Some(method) = self.method(&mpath, res, key, spec, api, &models) {
                    list.push((key, methods.len()));
                    methods.push(method);
                    specs.push(spec);
                }
            }
            table.push((res.clone(), list));
        }
        let router = match Router::build(&table) {
            Ok(r) => Some(r),
            Err(e) => {
                let res = match &e {
                    RouterError::InvalidPath { path, .. }
                    | RouterError::DuplicateResource { path }
                    | RouterError::DuplicateMethod { path, .. }
                    | RouterError::VariableSibling { path, .. }
                    | RouterError::GreedyNotLast { path, .. } => path.clone(),
                };
                self.err(at(&base, path!["resources", res]), e.to_string());
                None
            }
        };
        let mut custom = Vec::new();
        for (name, gr) in &api.gateway_responses {
            let gpath = at(&base, path!["gatewayResponses", name]);
            let Some(kind) = GatewayResponseType::parse(name) else {
                self.err(gpath, format!("unknown gateway response type `{name}`"));
                continue;
            };
            let status_code = match &gr.status_code {
                None => None,
                Some(s) => match s.0.parse::<u16>() {
                    Ok(c) if (100..=599).contains(&c) => Some(c),
                    _ => {
                        self.err(
                            at(&gpath, path!["statusCode"]),
                            "statusCode must be an HTTP status code",
                        );
                        None
                    }
                },
            };
            custom.push((
                kind,
                GatewayResponseSpec {
                    status_code,
                    response_parameters: gr.response_parameters.clone().into_iter().collect(),
                    response_templates: gr.response_templates.clone().into_iter().collect(),
                },
            ));
        }
        let responses = match GatewayResponses::compile(&custom) {
            Ok(r) => Some(r),
            Err(e) => {
                self.err(at(&base, path!["gatewayResponses"]), e);
                None
            }
        };
        let resource_policy = api.policy.as_ref().and_then(|doc| {
            let attached = Attached::Resource {
                region: &server.region,
                account: &server.account_id,
                api_id: &api.id,
            };
            Policy::compile(doc, attached)
                .map_err(|e| self.err(at(&base, path!["policy"]), e))
                .ok()
        });
        let mut stages = Vec::new();
        for (j, s) in api.stages.iter().enumerate() {
            let spath = at(&base, path!["stages", j]);
            let access_log = match s
                .access_log_settings
                .as_ref()
                .and_then(|a| a.format.as_deref())
            {
                Some(f) => {
                    self.access_log_format(at(&spath, path!["accessLogSettings", "format"]), f)
                }
                None => server.access_log.clone(),
            };
            let mut stage_methods = Vec::with_capacity(methods.len());
            let mut cached_methods = Vec::new();
            for (m, spec) in methods.iter().zip(&specs) {
                let upstream = match &m.integration {
                    Integration::HttpProxy(p) => Some(Upstream::new(p, &s.variables, self.resolve)),
                    Integration::Http(h) => {
                        Some(Upstream::new(&h.endpoint, &s.variables, self.resolve))
                    }
                    Integration::Aws(a) => {
                        let ep = &a.service.endpoint;
                        let endpoint = Endpoint {
                            tls: ep.tls,
                            host: ep.host.clone(),
                            port: ep.port,
                            authority: ep.authority.clone(),
                            target: Vec::new(),
                        };
                        Some(Upstream::to(
                            endpoint,
                            a.service.timeout,
                            false,
                            self.resolve,
                        ))
                    }
                    _ => None,
                };
                let upstream = match upstream {
                    Some(Ok((u, host))) => {
                        self.resolved.extend(host);
                        Some(u)
                    }
                    Some(Err(e)) => {
                        let ipath = at(
                            &base,
                            path![
                                "resources",
                                &m.resource_path,
                                m.key.as_str(),
                                "integration",
                                "uri"
                            ],
                        );
                        self.err(ipath, format!("stage {}: {e}", s.stage_name));
                        None
                    }
                    None => None,
                };
                let call = match &m.integration {
                    Integration::LambdaProxy(call) => Some(call),
                    Integration::Lambda(l) => Some(&l.call),
                    _ => None,
                };
                let function = call.and_then(|call| self.function_target(call, s, server));
                let cache = crate::cache::settings::method_cache(
                    s,
                    &m.resource_path,
                    m.key.as_str(),
                    m.cache_key.clone(),
                );
                if let Some(settings) = &cache {
                    let function = call
                        .and_then(|c| c.function.resolve(&s.variables).ok())
                        .and_then(|f| self.functions.get(&f.name).cloned());
                    cached_methods.push(crate::cache::CachedMethod {
                        resource_path: m.resource_path.clone(),
                        http_method: m.key.as_str().to_string(),
                        settings: settings.clone(),
                        spec: (*spec).clone(),
                        function,
                    });
                }
                stage_methods.push(StageMethod {
                    upstream,
                    function,
                    cache,
                    metrics: self.metrics.method(
                        &api.id,
                        &s.stage_name,
                        m.key.as_str(),
                        &m.resource_path,
                    ),
                });
            }
            let stage_authorizers = authorizers
                .iter()
                .map(|a| {
                    let function = a.function().and_then(|f| {
                        let call = LambdaCall {
                            function: f.clone(),
                            timeout: crate::auth::lambda_authorizer::AUTHORIZER_TIMEOUT,
                            wrong_method: false,
                        };
                        self.function_target(&call, s, server)
                    });
                    StageAuthorizer::new(function)
                })
                .collect();
            stages.push(Stage {
                authorizers: stage_authorizers,
                arn_prefix: crate::auth::arn::stage_arn_prefix(
                    &server.region,
                    &server.account_id,
                    &api.id,
                    &s.stage_name,
                ),
                name: s.stage_name.clone(),
                deployment_id: s
                    .deployment_id
                    .clone()
                    .unwrap_or_else(|| stable_id(&[&api.id, &s.stage_name])),
                variables: s.variables.clone(),
                methods: stage_methods,
                access_log,
                cache_fingerprint: crate::cache::settings::capacity_bytes(s).map(|capacity| {
                    crate::cache::Fingerprint {
                        capacity,
                        variables: s.variables.clone(),
                        binary_media_types: api.binary_media_types.clone(),
                        methods: cached_methods,
                    }
                }),
                cache: None,
                limits: throttle::StageLimits::default(),
            });
        }
        if self.problems.len() > before {
            return None;
        }
        let stage_index = stages
            .iter()
            .enumerate()
            .map(|(j, s)| (s.name.clone(), j))
            .collect();
        Some(RestApi {
            id: api.id.clone(),
            router: router?,
            methods,
            stages,
            stage_index,
            responses: responses?,
            disable_execute_api_endpoint: api.disable_execute_api_endpoint,
            binary_media_types: BinaryMediaTypes::new(&api.binary_media_types),
            resource_policy,
            authorizers,
            api_key_from_authorizer: api.api_key_source.as_deref() == Some("AUTHORIZER"),
        })
    }

    fn method(
        &mut self,
        mpath: &[Seg],
        resource: &str,
        key: MethodKey,
        spec: &model::Method,
        api: &model::RestApi,
        models: &HashMap<String, crate::validation::Model>,
    ) -> Option<Method> {
        let mut params: Vec<ParamDecl> = spec
            .request_parameters
            .iter()
            .filter_map(|(k, required)| {
                let (loc, name) = validate::parse_param_key(
                    k,
                    "method.request.",
                    &[
                        "path",
                        "querystring",
                        "header",
                        "multivaluequerystring",
                        "multivalueheader",
                    ],
                )?;
                Some(ParamDecl {
                    location: Location::parse(loc)?,
                    name: name.to_string(),
                    required: *required,
                    key: k.clone(),
                })
            })
            .collect();
        params.sort_by(|a, b| a.key.cmp(&b.key));
        let validator = spec
            .request_validator
            .as_ref()
            .and_then(|v| api.request_validators.get(v));
        let validate_params = validator.is_some_and(|v| v.validate_request_parameters);
        let body_model = validator.filter(|v| v.validate_request_body).and_then(|_| {
            models
                .get(crate::validation::body_model_name(&spec.request_models))
                .cloned()
        });
        let int = spec.integration.as_ref()?;
        let ipath = at(mpath, path!["integration"]);
        let integration = match int.kind.as_str() {
            "HTTP_PROXY" => match HttpProxy::compile(int) {
                Ok(p) => Integration::HttpProxy(p),
                Err(e) => {
                    self.err(at(&ipath, path!["uri"]), e);
                    return None;
                }
            },
            "MOCK" => Integration::Mock(Mock {
                custom: self.non_proxy(&ipath, int)?,
            }),
            "HTTP" => {
                let endpoint = match HttpProxy::compile(int) {
                    Ok(p) => p,
                    Err(e) => {
                        self.err(at(&ipath, path!["uri"]), e);
                        return None;
                    }
                };
                Integration::Http(HttpIntegration {
                    endpoint,
                    custom: self.non_proxy(&ipath, int)?,
                })
            }
            "AWS" | "AWS_PROXY" if int.uri.as_deref().and_then(lambda::function_name).is_some() => {
                let call = LambdaCall {
                    function: int.uri.as_deref().and_then(lambda::function_name)?,
                    timeout: Duration::from_millis(int.timeout_in_millis.unwrap_or(29_000)),
                    wrong_method: !int
                        .http_method
                        .as_deref()
                        .is_some_and(|m| m.eq_ignore_ascii_case("POST")),
                };
                if int.kind == "AWS_PROXY" {
                    Integration::LambdaProxy(call)
                } else {
                    let invocation_type =
                        match LambdaCustom::invocation_type(&int.request_parameters) {
                            Ok(t) => t,
                            Err(e) => {
                                self.err(at(&ipath, path!["requestParameters"]), e);
                                return None;
                            }
                        };
                    Integration::Lambda(Box::new(LambdaCustom {
                        call,
                        custom: self.non_proxy(&ipath, int)?,
                        invocation_type,
                    }))
                }
            }
            "AWS" => {
                let credentials = match aws::integration_credentials(
                    int.credentials.as_deref(),
                    self.iam_users,
                    self.credentials.clone(),
                ) {
                    Ok(c) => c,
                    Err(e) => {
                        self.err(at(&ipath, path!["credentials"]), e);
                        return None;
                    }
                };
                let service = match AwsIntegration::compile(int, self.aws_endpoints, credentials) {
                    Ok(a) => a,
                    Err(e) => {
                        self.err(at(&ipath, path!["uri"]), e);
                        return None;
                    }
                };
                if service.credentials.is_none() {
                    log::warn!(
                        "{} {resource}: AWS integration without credentials (`credentials` naming \
                         an `iam.users` user, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in \
                         the environment): its requests will fail",
                        key.as_str()
                    );
                }
                Integration::Aws(Box::new(AwsService {
                    service,
                    custom: self.non_proxy(&ipath, int)?,
                }))
            }
            "AWS_PROXY" => Integration::Unavailable("AWS_PROXY"),
            _ => return None,
        };
        Some(Method {
            key,
            resource_path: resource.to_string(),
            resource_id: stable_id(&[&api.id, resource]),
            // Validation names the unknown ones; a method without a known type is left out.
            authorization_type: AuthorizationType::parse(
                spec.authorization_type.as_deref().unwrap_or("NONE"),
            )?,
            authorizer: match spec.authorization_type.as_deref() {
                Some("CUSTOM" | "COGNITO_USER_POOLS") => spec
                    .authorizer
                    .as_deref()
                    .and_then(|n| api.authorizers.iter().position(|a| a.name == n)),
                _ => None,
            },
            authorization_scopes: spec.authorization_scopes.clone(),
            api_key_required: spec.api_key_required,
            params,
            validate_params,
            body_model,
            integration,
            cache_key: crate::cache::key::KeySpec::new(
                int.cache_namespace.as_deref().unwrap_or(resource),
                &int.cache_key_parameters,
            ),
        })
    }
}
