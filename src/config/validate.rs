//! Semantic checks that need no compilation: references between objects (authorizers, models,
//! validators, keys, stages), enumerated values, URIs and stage variables. Structural checks that
//! fall out of compiling (the resource tree, templates, patterns) live in `compile`.

use super::model::*;
use super::spans::Seg;
use super::Problem;
use crate::integrations::aws;
use crate::path;
use crate::router::MethodKey;
use std::collections::{BTreeSet, HashSet};

/// Every problem in `c`, in file order as far as practical.
pub fn validate(c: &Config) -> Vec<Problem> {
    let mut v = Checker::default();
    v.server(&c.server);
    for (name, f) in &c.functions {
        v.function(name, f);
    }
    for (service, url) in &c.aws_endpoints {
        if let Err(e) = aws::parse_endpoint_url(url) {
            v.err(path!["awsEndpoints", service], e);
        }
    }
    let key_names = v.unique(
        c.api_keys.iter().map(|k| k.name.as_str()),
        |i| path!["apiKeys", i, "name"],
        "API key",
    );
    for (i, k) in c.api_keys.iter().enumerate() {
        if k.value.len() < 20 {
            v.err(
                path!["apiKeys", i, "value"],
                "API key value must be at least 20 characters long",
            );
        }
    }
    v.unique(
        c.rest_apis.iter().map(|a| a.id.as_str()),
        |i| path!["restApis", i, "id"],
        "REST API id",
    );
    for (i, api) in c.rest_apis.iter().enumerate() {
        // The id goes into host names, ARNs and the `X-Amzn-Apigateway-Api-Id` header.
        let id_ok = !api.id.is_empty()
            && api
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !id_ok {
            v.err(
                path!["restApis", i, "id"],
                "REST API id must be letters, digits, '-' and '_' only",
            );
        }
        v.rest_api(i, api);
    }
    for (i, p) in c.usage_plans.iter().enumerate() {
        v.usage_plan(i, p, &key_names, c);
    }
    for (i, d) in c.domain_names.iter().enumerate() {
        v.domain(i, d, c);
    }
    for (section, apis) in [
        ("httpApis", &c.http_apis),
        ("websocketApis", &c.websocket_apis),
    ] {
        v.unique(
            apis.iter().map(|a| a.id.as_str()),
            |i| path![section, i, "id"],
            "API id",
        );
    }
    v.problems
}

#[derive(Default)]
struct Checker {
    problems: Vec<Problem>,
}

const AUTHORIZATION_TYPES: &[&str] = &["NONE", "AWS_IAM", "CUSTOM", "COGNITO_USER_POOLS"];
const AWS_PROXY_SERVICES: &str = "Integrations of type 'AWS_PROXY' currently only supports Lambda function and Firehose stream invocations.";
const INTEGRATION_TYPES: &[&str] = &["HTTP", "HTTP_PROXY", "MOCK", "AWS", "AWS_PROXY"];
const PARAM_LOCATIONS: &[&str] = &[
    "path",
    "querystring",
    "header",
    "multivaluequerystring",
    "multivalueheader",
];

impl Checker {
    fn err(&mut self, path: Vec<Seg>, msg: impl Into<String>) {
        self.problems.push(Problem::new(path, msg));
    }

    fn one_of(&mut self, path: Vec<Seg>, what: &str, value: &str, allowed: &[&str]) {
        if !allowed.contains(&value) {
            self.err(
                path,
                format!(
                    "invalid {what} `{value}`: expected one of {}",
                    allowed.join(", ")
                ),
            );
        }
    }

    /// Reports duplicates and returns the set of names.
    fn unique<'a>(
        &mut self,
        names: impl Iterator<Item = &'a str>,
        at: impl Fn(usize) -> Vec<Seg>,
        what: &str,
    ) -> HashSet<&'a str> {
        let mut seen = HashSet::new();
        for (i, n) in names.enumerate() {
            if n.is_empty() {
                self.err(at(i), format!("{what} must not be empty"));
            } else if !seen.insert(n) {
                self.err(at(i), format!("duplicate {what} `{n}`"));
            }
        }
        seen
    }

    fn server(&mut self, s: &Server) {
        if s.listen.is_empty() {
            self.err(
                path!["server", "listen"],
                "at least one listen address is needed",
            );
        }
        for (i, l) in s.listen.iter().enumerate() {
            if l.parse::<std::net::SocketAddr>().is_err() {
                self.err(
                    path!["server", "listen", i],
                    format!("`{l}` is not an IP:port socket address"),
                );
            }
        }
        if let Some(a) = &s.admin {
            if a.parse::<std::net::SocketAddr>().is_err() {
                self.err(
                    path!["server", "admin"],
                    format!("`{a}` is not an IP:port socket address"),
                );
            }
        }
        if s.threads == 0 {
            self.err(path!["server", "threads"], "threads must be at least 1");
        }
        if let Some(r) = &s.redis {
            if !(r.starts_with("redis://") || r.starts_with("rediss://")) {
                self.err(
                    path!["server", "redis"],
                    "redis must be a redis:// or rediss:// URL",
                );
            }
        }
    }

    fn function(&mut self, name: &str, f: &Function) {
        let at = path!["functions", name];
        match (&f.endpoint, &f.command) {
            (Some(_), Some(_)) => self.err(
                at,
                "a function has either `endpoint` or `command`, not both",
            ),
            (None, None) => self.err(at, "a function needs `endpoint` or `command`"),
            (Some(e), None) if !is_http_url(e) => self.err(
                path!["functions", name, "endpoint"],
                format!("`{e}` is not an http:// or https:// URL"),
            ),
            (None, Some(c)) if c.is_empty() => self.err(
                path!["functions", name, "command"],
                "command must not be empty",
            ),
            _ => {}
        }
        // Lambda's own limits.
        if f.timeout.is_some_and(|t| !(1..=900).contains(&t)) {
            self.err(
                path!["functions", name, "timeout"],
                "timeout must be between 1 and 900 seconds",
            );
        }
        if f.memory_size.is_some_and(|m| !(128..=10240).contains(&m)) {
            self.err(
                path!["functions", name, "memorySize"],
                "memorySize must be between 128 and 10240 MB",
            );
        }
        if f.concurrency == Some(0) {
            self.err(
                path!["functions", name, "concurrency"],
                "concurrency must be at least 1",
            );
        }
    }

    fn rest_api(&mut self, i: usize, api: &RestApi) {
        let at = |rest: Vec<Seg>| {
            let mut p = path!["restApis", i];
            p.extend(rest);
            p
        };
        if let Some(s) = &api.api_key_source {
            self.one_of(
                at(path!["apiKeySource"]),
                "apiKeySource",
                s,
                &["HEADER", "AUTHORIZER"],
            );
        }
        let authorizers = self.unique(
            api.authorizers.iter().map(|a| a.name.as_str()),
            |j| at(path!["authorizers", j, "name"]),
            "authorizer name",
        );
        for (j, a) in api.authorizers.iter().enumerate() {
            self.one_of(
                at(path!["authorizers", j, "type"]),
                "authorizer type",
                &a.kind,
                &["TOKEN", "REQUEST", "COGNITO_USER_POOLS"],
            );
            if matches!(a.kind.as_str(), "TOKEN" | "REQUEST") && a.authorizer_uri.is_none() {
                self.err(
                    at(path!["authorizers", j]),
                    format!(
                        "authorizer `{}` of type {} needs authorizerUri",
                        a.name, a.kind
                    ),
                );
            }
            if a.kind == "COGNITO_USER_POOLS" && a.provider_arns.is_empty() && a.issuer.is_none() {
                self.err(
                    at(path!["authorizers", j]),
                    format!("authorizer `{}` needs providerARNs or issuer", a.name),
                );
            }
            if let Some(t) = a.authorizer_result_ttl_in_seconds {
                if t > 3600 {
                    self.err(
                        at(path!["authorizers", j, "authorizerResultTtlInSeconds"]),
                        "authorizerResultTtlInSeconds must be between 0 and 3600",
                    );
                }
            }
        }
        let mut stage_vars: BTreeSet<&str> = BTreeSet::new();
        let stage_names = self.unique(
            api.stages.iter().map(|s| s.stage_name.as_str()),
            |j| at(path!["stages", j, "stageName"]),
            "stage name",
        );
        for (j, s) in api.stages.iter().enumerate() {
            stage_vars.extend(s.variables.keys().map(String::as_str));
            self.stage(at(path!["stages", j]), s, api);
        }
        let _ = stage_names;
        for (res, methods) in &api.resources {
            for (m, method) in methods {
                let mp = at(path!["resources", res, m]);
                if MethodKey::parse(m).is_none() {
                    self.err(
                        mp.clone(),
                        format!("invalid method `{m}`: expected one of DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT, ANY"),
                    );
                }
                self.method(mp, method, api, &authorizers, &stage_vars);
            }
        }
    }

    fn method(
        &mut self,
        at: Vec<Seg>,
        m: &Method,
        api: &RestApi,
        authorizers: &HashSet<&str>,
        stage_vars: &BTreeSet<&str>,
    ) {
        let sub = |rest: Vec<Seg>| {
            let mut p = at.clone();
            p.extend(rest);
            p
        };
        let auth = m.authorization_type.as_deref().unwrap_or("NONE");
        self.one_of(
            sub(path!["authorizationType"]),
            "authorizationType",
            auth,
            AUTHORIZATION_TYPES,
        );
        match (&m.authorizer, auth) {
            (Some(name), _) if !authorizers.contains(name.as_str()) => self.err(
                sub(path!["authorizer"]),
                format!("unknown authorizer `{name}`"),
            ),
            (Some(name), "CUSTOM" | "COGNITO_USER_POOLS") => {
                let kind = api
                    .authorizers
                    .iter()
                    .find(|a| &a.name == name)
                    .map(|a| a.kind.as_str())
                    .unwrap_or_default();
                let fits = (auth == "CUSTOM") == (kind == "TOKEN" || kind == "REQUEST");
                if !fits {
                    self.err(
                        sub(path!["authorizer"]),
                        format!("authorizer `{name}` of type {kind} cannot serve authorizationType {auth}"),
                    );
                }
            }
            (None, "CUSTOM" | "COGNITO_USER_POOLS") => self.err(
                sub(path!["authorizationType"]),
                format!("authorizationType {auth} needs an `authorizer`"),
            ),
            _ => {}
        }
        if let Some(v) = &m.request_validator {
            if !api.request_validators.contains_key(v) {
                self.err(
                    sub(path!["requestValidator"]),
                    format!("unknown request validator `{v}`"),
                );
            }
        }
        for (ct, model) in &m.request_models {
            if !api.models.contains_key(model) && model != "Empty" && model != "Error" {
                self.err(
                    sub(path!["requestModels", ct]),
                    format!("unknown model `{model}`"),
                );
            }
        }
        let mut param_names: HashSet<&str> = HashSet::new();
        for key in m.request_parameters.keys() {
            match parse_param_key(key, "method.request.", PARAM_LOCATIONS) {
                Some((_, name)) => {
                    if !param_names.insert(name) {
                        self.err(
                            sub(path!["requestParameters", key]),
                            "Parameter names must be unique across querystring, header and path",
                        );
                    }
                }
                None => self.err(
                    sub(path!["requestParameters", key]),
                    format!("invalid method request parameter `{key}`: expected method.request.{{path|querystring|header|multivaluequerystring|multivalueheader}}.NAME"),
                ),
            }
        }
        for (k, r) in m.method_responses.iter().enumerate() {
            if r.status_code.is_none() {
                self.err(
                    sub(path!["methodResponses", k]),
                    "a method response needs statusCode",
                );
            }
            for key in r.response_parameters.keys() {
                if parse_param_key(key, "method.response.", &["header"]).is_none() {
                    self.err(
                        sub(path!["methodResponses", k, "responseParameters", key]),
                        format!("invalid method response parameter `{key}`: expected method.response.header.NAME"),
                    );
                }
            }
        }
        match &m.integration {
            None => self.err(at.clone(), "No integration defined for method"),
            Some(int) => self.integration(sub(path!["integration"]), int, m, stage_vars),
        }
    }

    fn integration(
        &mut self,
        at: Vec<Seg>,
        int: &Integration,
        m: &Method,
        stage_vars: &BTreeSet<&str>,
    ) {
        let sub = |rest: Vec<Seg>| {
            let mut p = at.clone();
            p.extend(rest);
            p
        };
        self.one_of(
            sub(path!["type"]),
            "integration type",
            &int.kind,
            INTEGRATION_TYPES,
        );
        let needs_method = matches!(
            int.kind.as_str(),
            "HTTP" | "HTTP_PROXY" | "AWS" | "AWS_PROXY"
        );
        match (&int.http_method, needs_method) {
            (None, true) => self.err(
                at.clone(),
                "Enumeration value for HttpMethod must be non-empty",
            ),
            (Some(hm), _) if MethodKey::parse(hm).is_none() => self.err(
                sub(path!["httpMethod"]),
                format!("invalid httpMethod `{hm}`"),
            ),
            _ => {}
        }
        match int.kind.as_str() {
            "HTTP" | "HTTP_PROXY" => match &int.uri {
                Some(u) if is_http_url(u) => {}
                Some(_) => self.err(sub(path!["uri"]), "Invalid HTTP endpoint specified for URI"),
                None => self.err(at.clone(), "Invalid HTTP endpoint specified for URI"),
            },
            "AWS" | "AWS_PROXY" => match int.uri.as_deref().map(aws::parse_arn) {
                Some(Err(e)) => self.err(sub(path!["uri"]), e),
                None => self.err(at.clone(), aws::INVALID_ARN),
                Some(Ok(arn)) => {
                    let proxied = matches!(arn.service.as_str(), "lambda" | "firehose");
                    if int.kind == "AWS_PROXY" && !proxied {
                        self.err(sub(path!["uri"]), AWS_PROXY_SERVICES);
                    }
                }
            },
            _ => {}
        }
        for (field, value) in [("uri", &int.uri), ("credentials", &int.credentials)] {
            if let Some(v) = value {
                for var in stage_variable_refs(v) {
                    if !stage_vars.contains(var) {
                        self.err(
                            sub(path![field]),
                            format!("stage variable `{var}` is used here but no stage defines it"),
                        );
                    }
                }
            }
        }
        if let Some(p) = &int.passthrough_behavior {
            let upper = p.to_ascii_uppercase();
            self.one_of(
                sub(path!["passthroughBehavior"]),
                "passthroughBehavior",
                &upper,
                &["WHEN_NO_MATCH", "WHEN_NO_TEMPLATES", "NEVER"],
            );
        }
        if let Some(c) = &int.content_handling {
            self.one_of(
                sub(path!["contentHandling"]),
                "contentHandling",
                c,
                &["CONVERT_TO_BINARY", "CONVERT_TO_TEXT"],
            );
        }
        if let Some(t) = int.timeout_in_millis {
            if !(50..=300_000).contains(&t) {
                self.err(
                    sub(path!["timeoutInMillis"]),
                    "timeoutInMillis must be between 50 and 300000",
                );
            }
        }
        for (i, key) in int.cache_key_parameters.iter().enumerate() {
            if !m.request_parameters.contains_key(key) {
                self.err(
                    sub(path!["cacheKeyParameters", i]),
                    format!("cache key parameter `{key}` must be a method.request.{{path|querystring|header}}.NAME declared in the method's requestParameters"),
                );
            }
        }
        for (target, source) in &int.request_parameters {
            let at_p = sub(path!["requestParameters", target]);
            if parse_param_key(
                target,
                "integration.request.",
                &["path", "querystring", "header"],
            )
            .is_none()
            {
                self.err(
                    at_p.clone(),
                    format!("invalid integration request parameter `{target}`: expected integration.request.{{path|querystring|header}}.NAME"),
                );
            }
            self.mapping_source(at_p, source, m, stage_vars, false);
        }
        let declared: Vec<(&str, &MethodResponse)> = m
            .method_responses
            .iter()
            .filter_map(|r| r.status_code.as_ref().map(|s| (s.0.as_str(), r)))
            .collect();
        for (k, r) in int.integration_responses.iter().enumerate() {
            let at_r = sub(path!["integrationResponses", k]);
            let Some(status) = &r.status_code else {
                self.err(at_r, "an integration response needs statusCode");
                continue;
            };
            for (target, source) in &r.response_parameters {
                let at_p = sub(path![
                    "integrationResponses",
                    k,
                    "responseParameters",
                    target
                ]);
                match parse_param_key(target, "method.response.", &["header"]) {
                    None => self.err(
                        at_p.clone(),
                        format!("invalid response parameter `{target}`: expected method.response.header.NAME"),
                    ),
                    Some(_) => {
                        let ok = declared.iter().any(|(s, mr)| {
                            *s == status.0 && mr.response_parameters.contains_key(target)
                        });
                        if !ok {
                            self.err(
                                at_p.clone(),
                                format!("Invalid mapping expression specified: {target} is not declared in the method response for status {}", status.0),
                            );
                        }
                    }
                }
                self.mapping_source(at_p, source, m, stage_vars, true);
            }
        }
    }

    /// A mapping source: `'static'`, `method.request.*`, `stageVariables.*`, `context.*`, and
    /// (responses only) `integration.response.*`.
    fn mapping_source(
        &mut self,
        at: Vec<Seg>,
        source: &str,
        m: &Method,
        stage_vars: &BTreeSet<&str>,
        response: bool,
    ) {
        if source.len() >= 2 && source.starts_with('\'') && source.ends_with('\'') {
            return;
        }
        if let Some(rest) = source.strip_prefix("method.request.") {
            if rest == "body" || rest.starts_with("body.") {
                return;
            }
            if !m.request_parameters.contains_key(source) {
                self.err(
                    at,
                    format!("Invalid mapping expression specified: {source} is not declared in the method's requestParameters"),
                );
            }
            return;
        }
        if let Some(var) = source.strip_prefix("stageVariables.") {
            if !stage_vars.contains(var) {
                self.err(
                    at,
                    format!("stage variable `{var}` is used here but no stage defines it"),
                );
            }
            return;
        }
        if source.starts_with("context.") {
            return;
        }
        if response
            && (source.starts_with("integration.response.header.")
                || source.starts_with("integration.response.multivalueheader.")
                || source == "integration.response.body"
                || source.starts_with("integration.response.body."))
        {
            return;
        }
        self.err(
            at,
            format!("Invalid mapping expression specified: {source}"),
        );
    }

    fn stage(&mut self, at: Vec<Seg>, s: &Stage, api: &RestApi) {
        let sub = |rest: Vec<Seg>| {
            let mut p = at.clone();
            p.extend(rest);
            p
        };
        if !s
            .stage_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            || s.stage_name.len() > 128
        {
            self.err(
                sub(path!["stageName"]),
                "Stage name only allows a-zA-Z0-9_- and at most 128 characters",
            );
        }
        if let Some(size) = &s.cache_cluster_size {
            const SIZES: &[&str] = &["0.5", "1.6", "6.1", "13.5", "28.4", "58.2", "118", "237"];
            self.one_of(
                sub(path!["cacheClusterSize"]),
                "cacheClusterSize",
                size,
                SIZES,
            );
        }
        for (key, ms) in &s.method_settings {
            let kp = sub(path!["methodSettings", key]);
            if key != "*/*" {
                let ok = key.rsplit_once('/').is_some_and(|(res, meth)| {
                    let res_path = format!("/{res}");
                    (meth == "*" || MethodKey::parse(meth).is_some())
                        && (res == "*"
                            || api.resources.get(&res_path).is_some_and(|ms| {
                                meth == "*" || ms.contains_key(meth) || ms.contains_key("ANY")
                            }))
                });
                if !ok {
                    self.err(
                        kp.clone(),
                        format!("method setting `{key}` names no method: expected \"*/*\" or \"resource/path/METHOD\" for a defined method"),
                    );
                }
            }
            if let Some(t) = ms.cache_ttl_in_seconds {
                if t > 3600 {
                    let mut p = kp.clone();
                    p.push(Seg::Key("cacheTtlInSeconds".into()));
                    self.err(p, "cacheTtlInSeconds must be between 0 and 3600");
                }
            }
            if let Some(st) = &ms.unauthorized_cache_control_header_strategy {
                let mut p = kp.clone();
                p.push(Seg::Key("unauthorizedCacheControlHeaderStrategy".into()));
                self.one_of(
                    p,
                    "unauthorizedCacheControlHeaderStrategy",
                    st,
                    &[
                        "FAIL_WITH_403",
                        "SUCCEED_WITH_RESPONSE_HEADER",
                        "SUCCEED_WITHOUT_RESPONSE_HEADER",
                    ],
                );
            }
            if let Some(l) = &ms.logging_level {
                let mut p = kp.clone();
                p.push(Seg::Key("loggingLevel".into()));
                self.one_of(p, "loggingLevel", l, &["OFF", "ERROR", "INFO"]);
            }
        }
    }

    fn usage_plan(&mut self, i: usize, p: &UsagePlan, keys: &HashSet<&str>, c: &Config) {
        for (j, k) in p.api_keys.iter().enumerate() {
            if !keys.contains(k.as_str()) {
                self.err(
                    path!["usagePlans", i, "apiKeys", j],
                    format!("unknown API key `{k}`"),
                );
            }
        }
        for (j, s) in p.api_stages.iter().enumerate() {
            match c.rest_apis.iter().find(|a| a.id == s.api_id) {
                None => self.err(
                    path!["usagePlans", i, "apiStages", j, "apiId"],
                    format!("unknown REST API `{}`", s.api_id),
                ),
                Some(api) if !api.stages.iter().any(|st| st.stage_name == s.stage) => self.err(
                    path!["usagePlans", i, "apiStages", j, "stage"],
                    format!("REST API `{}` has no stage `{}`", s.api_id, s.stage),
                ),
                _ => {}
            }
        }
        if let Some(q) = &p.quota {
            self.one_of(
                path!["usagePlans", i, "quota", "period"],
                "quota period",
                &q.period,
                &["DAY", "WEEK", "MONTH"],
            );
        }
    }

    fn domain(&mut self, i: usize, d: &DomainName, c: &Config) {
        if d.domain_name.is_empty() {
            self.err(
                path!["domainNames", i, "domainName"],
                "domainName must not be empty",
            );
        }
        if let Some(cert) = &d.certificate {
            for (field, file) in [("cert", &cert.cert), ("key", &cert.key)] {
                if std::fs::metadata(file).is_err() {
                    self.err(
                        path!["domainNames", i, "certificate", field],
                        format!("cannot read `{file}`"),
                    );
                }
            }
        }
        for (j, m) in d.base_path_mappings.iter().enumerate() {
            match c.rest_apis.iter().find(|a| a.id == m.rest_api_id) {
                None => self.err(
                    path!["domainNames", i, "basePathMappings", j, "restApiId"],
                    format!("unknown REST API `{}`", m.rest_api_id),
                ),
                Some(api) if !api.stages.iter().any(|s| s.stage_name == m.stage) => self.err(
                    path!["domainNames", i, "basePathMappings", j, "stage"],
                    format!("REST API `{}` has no stage `{}`", m.rest_api_id, m.stage),
                ),
                _ => {}
            }
        }
    }
}

fn is_http_url(u: &str) -> bool {
    let rest = u
        .strip_prefix("http://")
        .or_else(|| u.strip_prefix("https://"));
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'))
}

/// `method.request.header.X` → ("header", "X"), for the given prefix and locations.
pub fn parse_param_key<'a>(
    key: &'a str,
    prefix: &str,
    locations: &[&str],
) -> Option<(&'a str, &'a str)> {
    let rest = key.strip_prefix(prefix)?;
    let (loc, name) = rest.split_once('.')?;
    if !locations.contains(&loc) || name.is_empty() {
        return None;
    }
    Some((loc, name))
}

/// The names in every `${stageVariables.NAME}` of `s`.
pub fn stage_variable_refs(s: &str) -> impl Iterator<Item = &str> {
    s.split("${stageVariables.")
        .skip(1)
        .filter_map(|part| part.split_once('}').map(|(name, _)| name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        let l = crate::config::parse(std::path::Path::new("t.yaml"), text)
            .map_err(|d| d[0].to_string())
            .unwrap();
        l.locate(validate(&l.config))
            .into_iter()
            .map(|d| d.to_string())
            .collect()
    }

    #[test]
    fn reports_unknown_references_at_their_lines() {
        let text = r#"restApis:
  - id: a
    requestValidators: {all: {validateRequestBody: true}}
    resources:
      /pets:
        GET:
          authorizationType: CUSTOM
          authorizer: nope
          requestValidator: missing
          requestModels: {application/json: Ghost}
          integration: {type: HTTP_PROXY, httpMethod: GET, uri: "http://${stageVariables.backend}/x"}
    stages: [{stageName: prod}]
"#;
        let p = problems(text);
        assert_eq!(
            p,
            vec![
                "t.yaml:8:11: unknown authorizer `nope`",
                "t.yaml:9:11: unknown request validator `missing`",
                "t.yaml:10:27: unknown model `Ghost`",
                "t.yaml:11:60: stage variable `backend` is used here but no stage defines it",
            ]
        );
    }

    #[test]
    fn rest_api_ids_are_plain_names() {
        let p = problems("restApis:\n  - id: \"a b\"\n  - id: ok-id_1\n");
        assert_eq!(
            p,
            ["t.yaml:2:5: REST API id must be letters, digits, '-' and '_' only"],
            "{p:?}"
        );
    }

    #[test]
    fn integration_checks() {
        let text = r#"restApis:
  - id: a
    resources:
      /x:
        GET: {}
        POST:
          integration: {type: HTTP, uri: "ftp://x"}
        PUT:
          integration: {type: MOCK, requestParameters: {integration.request.header.h: method.request.header.h}}
"#;
        let p = problems(text);
        assert!(
            p.contains(&"t.yaml:5:9: No integration defined for method".to_string()),
            "{p:?}"
        );
        assert!(
            p.iter().any(|e| e.contains("HttpMethod must be non-empty")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|e| e.contains("Invalid HTTP endpoint specified for URI")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|e| e.contains("method.request.header.h is not declared")),
            "{p:?}"
        );
    }

    #[test]
    fn cache_key_parameters_are_declared_method_request_parameters() {
        let text = r#"restApis:
  - id: a
    resources:
      /x:
        GET:
          requestParameters: {method.request.querystring.q: false}
          integration:
            type: MOCK
            cacheKeyParameters: [method.request.querystring.q, method.request.header.h]
"#;
        let p = problems(text);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("t.yaml:9:")
                && p[0].contains("cache key parameter `method.request.header.h` must be"),
            "{p:?}"
        );
    }

    #[test]
    fn function_limits() {
        let text = r#"functions:
  f: {command: [x], timeout: 901, memorySize: 64, concurrency: 0}
  g: {command: [x], timeout: 900, memorySize: 10240, concurrency: 1}
"#;
        assert_eq!(
            problems(text),
            vec![
                "t.yaml:2:21: timeout must be between 1 and 900 seconds",
                "t.yaml:2:35: memorySize must be between 128 and 10240 MB",
                "t.yaml:2:51: concurrency must be at least 1",
            ]
        );
    }

    #[test]
    fn aws_integration_checks() {
        let text = r#"awsEndpoints: {sqs: "http://127.0.0.1:4566", sns: "localhost:4575"}
restApis:
  - id: a
    resources:
      /x:
        GET:
          integration: {type: AWS, httpMethod: POST, uri: "arn:aws:apigateway:us-east-1:sqs:queue/x"}
        POST:
          integration: {type: AWS, httpMethod: POST, uri: "http://example.com"}
        PUT:
          integration: {type: AWS, uri: "arn:aws:apigateway:us-east-1:sqs:action/SendMessage"}
        DELETE:
          integration: {type: AWS_PROXY, httpMethod: POST, uri: "arn:aws:apigateway:us-east-1:sqs:action/SendMessage"}
        PATCH:
          integration: {type: AWS, httpMethod: POST, uri: "arn:aws:apigateway:us-east-1:mybucket.s3:path/key"}
"#;
        let p = problems(text);
        assert_eq!(
            p,
            vec![
                "t.yaml:1:46: `localhost:4575` is not an absolute http:// or https:// URL",
                "t.yaml:13:60: Integrations of type 'AWS_PROXY' currently only supports Lambda function and Firehose stream invocations.",
                "t.yaml:7:54: AWS ARN for integration must contain path or action",
                "t.yaml:9:54: Invalid ARN specified in the request",
                "t.yaml:11:11: Enumeration value for HttpMethod must be non-empty",
            ],
            "{p:?}"
        );
    }

    #[test]
    fn stage_variable_refs_are_found() {
        let v: Vec<_> =
            stage_variable_refs("http://${stageVariables.a}/${stageVariables.b}/c").collect();
        assert_eq!(v, vec!["a", "b"]);
    }
}
