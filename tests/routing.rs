//! Routing end to end (AWS digest §1.2, §1.3; DESIGN A3): which resource and method a request
//! reaches, what the path and query values are, and the 403s when nothing matches.
//!
//! Methods are MOCK integrations whose response template echoes what matched (a tag naming
//! the configured method, `$context.resourcePath`, `$context.path`, path parameters, query
//! values), so every assertion reads the gateway's own routing decision.

mod common;
use common::*;

use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// Config builders
// ---------------------------------------------------------------------------------------------

/// The echo every MOCK method answers with. `TAG` is replaced by `"<METHOD KEY> <resource>"`.
const ECHO_TEMPLATE: &str = r#"{"tag": "TAG", "method": "$context.httpMethod", "resource": "$context.resourcePath", "path": "$context.path", "stage": "$context.stage", "api": "$context.apiId", "basePath": "$context.customDomain.basePathMatched", "proxy": "$input.params('proxy')", "param": "$input.params().path.param", "id": "$input.params().path.id"}"#;

/// `s` as a single-quoted YAML scalar.
fn sq(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A MOCK method (YAML flow mapping) answering 200 with `template`.
fn mock_method(template: &str) -> String {
    format!(
        "{{methodResponses: [{{statusCode: \"200\"}}], integration: {{type: MOCK, \
         requestTemplates: {{application/json: '{{\"statusCode\": 200}}'}}, \
         integrationResponses: [{{statusCode: \"200\", responseTemplates: {{application/json: {}}}}}]}}}}",
        sq(template)
    )
}

/// A MOCK method echoing what matched, tagged `"<key> <resource>"`.
fn echo_method(key: &str, resource: &str) -> String {
    mock_method(&ECHO_TEMPLATE.replace("TAG", &format!("{key} {resource}")))
}

/// An HTTP_PROXY `ANY` method on a greedy resource named `proxy`, to `backend/{proxy}`.
fn proxy_method(backend: &Backend) -> String {
    format!(
        "{{requestParameters: {{method.request.path.proxy: true}}, integration: {{type: HTTP_PROXY, \
         httpMethod: ANY, uri: \"{}/{{proxy}}\", \
         requestParameters: {{integration.request.path.proxy: method.request.path.proxy}}}}}}",
        backend.url()
    )
}

/// One `restApis` list item: `resources` maps a path to `(method key, method YAML)` pairs.
fn rest_api(id: &str, stages: &[&str], resources: &[(&str, Vec<(&str, String)>)]) -> String {
    let mut y = format!("  - id: {id}\n    resources:\n");
    for (path, methods) in resources {
        y += &format!("      \"{path}\":\n");
        for (key, method) in methods {
            y += &format!("        {key}: {method}\n");
        }
    }
    y += "    stages:\n";
    for s in stages {
        y += &format!("      - stageName: {s}\n");
    }
    y
}

/// `restApis` with one API (`id: r`, stage `stage`) whose resources all have echo methods.
fn echo_api(resources: &[(&str, &[&str])]) -> String {
    let resources: Vec<(&str, Vec<(&str, String)>)> = resources
        .iter()
        .map(|(path, keys)| {
            (
                *path,
                keys.iter().map(|k| (*k, echo_method(k, path))).collect(),
            )
        })
        .collect();
    format!("restApis:\n{}", rest_api("r", &["stage"], &resources))
}

fn start_echo(resources: &[(&str, &[&str])]) -> Gateway {
    Gateway::start(&echo_api(resources))
}

// ---------------------------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------------------------

/// `x-amzn-RequestId` is a lower-case UUID and `x-amz-apigw-id` is present (DESIGN A6).
fn assert_ids(r: &Response) {
    let id = r
        .header("x-amzn-RequestId")
        .unwrap_or_else(|| panic!("no x-amzn-RequestId: {r:?}"));
    let groups: Vec<&str> = id.split('-').collect();
    assert!(
        groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
            && id
                .bytes()
                .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "x-amzn-RequestId {id:?} is not a UUID"
    );
    let apigw = r
        .header("x-amz-apigw-id")
        .unwrap_or_else(|| panic!("no x-amz-apigw-id: {r:?}"));
    assert!(!apigw.is_empty());
}

/// A 200 echo; returns its JSON.
fn echo(r: &Response) -> Value {
    assert_eq!(
        r.status,
        200,
        "expected an echo, got {} {}",
        r.status,
        r.body_str()
    );
    assert_ids(r);
    r.json()
}

/// The resource tag of a 200 echo for `method path`.
fn tag(gw: &Gateway, method: &str, path: &str) -> String {
    let v = echo(&gw.request(method, path, &[], b""));
    v["tag"].as_str().expect("tag").to_string()
}

/// AWS's routing miss: 403 `{"message":"Missing Authentication Token"}` (§1.2, TV-1).
fn assert_missing_token(r: &Response) {
    assert_eq!(r.status, 403, "{}", r.body_str());
    assert_eq!(
        r.header("x-amzn-ErrorType"),
        Some("MissingAuthenticationTokenException")
    );
    assert_ids(r);
    if !r.body.is_empty() {
        assert_eq!(
            r.body_str(),
            r#"{"message":"Missing Authentication Token"}"#
        );
        assert_eq!(r.header("Content-Type"), Some("application/json"));
    }
}

/// Unknown API or stage: 403 `{"message":"Forbidden"}` (A3).
fn assert_forbidden(r: &Response) {
    assert_eq!(r.status, 403, "{}", r.body_str());
    assert_eq!(r.body_str(), r#"{"message":"Forbidden"}"#);
    assert_eq!(r.header("x-amzn-ErrorType"), Some("ForbiddenException"));
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_ids(r);
}

// ---------------------------------------------------------------------------------------------
// §1.2 precedence
// ---------------------------------------------------------------------------------------------

#[test]
fn literal_beats_param_beats_greedy() {
    let gw = start_echo(&[
        ("/pets", &["GET"]),
        ("/pets/mine", &["GET"]),
        ("/pets/{id}", &["GET"]),
        ("/{proxy+}", &["GET"]),
    ]);
    assert_eq!(tag(&gw, "GET", "/stage/pets"), "GET /pets");
    assert_eq!(tag(&gw, "GET", "/stage/pets/mine"), "GET /pets/mine");

    let v = echo(&gw.get("/stage/pets/42"));
    assert_eq!(v["tag"], "GET /pets/{id}");
    assert_eq!(v["resource"], "/pets/{id}");
    assert_eq!(v["id"], "42");
    assert_eq!(v["proxy"], "");

    // Deeper than /pets/{id}: only the greedy sibling at the root covers it.
    let v = echo(&gw.get("/stage/pets/42/toys"));
    assert_eq!(v["tag"], "GET /{proxy+}");
    assert_eq!(v["proxy"], "pets/42/toys");
    assert_eq!(v["id"], "");

    let v = echo(&gw.get("/stage/other"));
    assert_eq!(
        (v["tag"].as_str(), v["proxy"].as_str()),
        (Some("GET /{proxy+}"), Some("other"))
    );
}

#[test]
fn backtracking_from_a_literal_dead_end_to_the_greedy_sibling() {
    // TV-2 B: /part1 (GET), /part1/hardcoded-value (GET), /{param+} (GET).
    let gw = start_echo(&[
        ("/part1", &["GET"]),
        ("/part1/hardcoded-value", &["GET"]),
        ("/{param+}", &["GET"]),
    ]);
    assert_eq!(tag(&gw, "GET", "/stage/part1"), "GET /part1");
    assert_eq!(
        tag(&gw, "GET", "/stage/part1/hardcoded-value"),
        "GET /part1/hardcoded-value"
    );
    let v = echo(&gw.get("/stage/part1/random-value"));
    assert_eq!(v["tag"], "GET /{param+}");
    assert_eq!(v["resource"], "/{param+}");
    assert_eq!(v["param"], "part1/random-value");
}

#[test]
fn method_aware_fallback_to_the_greedy_sibling() {
    // TV-2 A: /test POST, /test/any ANY, /{proxy+} OPTIONS.
    let gw = start_echo(&[
        ("/test", &["POST"]),
        ("/test/any", &["ANY"]),
        ("/{proxy+}", &["OPTIONS"]),
    ]);
    let v = echo(&gw.request("OPTIONS", "/stage/test", &[], b""));
    assert_eq!(v["tag"], "OPTIONS /{proxy+}");
    assert_eq!(v["proxy"], "test");
    assert_eq!(tag(&gw, "POST", "/stage/test"), "POST /test");
    assert_eq!(tag(&gw, "OPTIONS", "/stage/test/any"), "ANY /test/any");
    assert_eq!(tag(&gw, "GET", "/stage/test/any"), "ANY /test/any");
    // Nothing serves GET /test: not /test (POST only), not /{proxy+} (OPTIONS only).
    assert_missing_token(&gw.get("/stage/test"));
}

#[test]
fn explicit_method_beats_any() {
    let gw = start_echo(&[("/foo", &["GET", "ANY"])]);
    let v = echo(&gw.get("/stage/foo"));
    assert_eq!(
        (v["tag"].as_str(), v["method"].as_str()),
        (Some("GET /foo"), Some("GET"))
    );
    for m in ["DELETE", "PATCH", "POST", "PUT", "OPTIONS"] {
        let v = echo(&gw.request(m, "/stage/foo", &[], b""));
        assert_eq!(v["tag"], "ANY /foo", "{m}");
        assert_eq!(v["method"], m, "$context.httpMethod is the client's method");
    }
    let r = gw.request("HEAD", "/stage/foo", &[], b"");
    assert_eq!(r.status, 200, "ANY serves HEAD");
    assert!(r.body.is_empty());
    assert_ids(&r);
}

#[test]
fn head_is_not_implied_by_get() {
    let gw = start_echo(&[("/get-only", &["GET"]), ("/with-head", &["GET", "HEAD"])]);
    assert_eq!(tag(&gw, "GET", "/stage/get-only"), "GET /get-only");
    assert_missing_token(&gw.request("HEAD", "/stage/get-only", &[], b""));
    let r = gw.request("HEAD", "/stage/with-head", &[], b"");
    assert_eq!(r.status, 200);
    assert_ids(&r);

    // The 403 to HEAD has no body: the next request on the connection is read cleanly.
    let mut conn = Conn::open(gw.addr);
    assert_missing_token(&conn.request("HEAD", "/stage/get-only", &[], b""));
    assert_eq!(
        echo(&conn.request("GET", "/stage/get-only", &[], b""))["tag"],
        "GET /get-only"
    );
}

#[test]
fn options_is_not_answered_automatically() {
    let gw = start_echo(&[("/cors", &["GET", "POST"])]);
    assert_missing_token(&gw.request(
        "OPTIONS",
        "/stage/cors",
        &[
            ("Origin", "https://example.com"),
            ("Access-Control-Request-Method", "GET"),
        ],
        b"",
    ));
}

#[test]
fn greedy_does_not_match_the_root() {
    let gw = start_echo(&[("/{proxy+}", &["ANY"])]);
    assert_missing_token(&gw.get("/stage"));
    assert_missing_token(&gw.get("/stage/"));
    let v = echo(&gw.get("/stage/a"));
    assert_eq!(
        (v["tag"].as_str(), v["proxy"].as_str()),
        (Some("ANY /{proxy+}"), Some("a"))
    );

    // The root needs its own method.
    let gw = start_echo(&[("/", &["ANY"]), ("/{proxy+}", &["ANY"])]);
    for path in ["/stage", "/stage/"] {
        let v = echo(&gw.get(path));
        assert_eq!(v["tag"], "ANY /", "{path}");
        assert_eq!(v["resource"], "/", "{path}");
    }
    assert_eq!(tag(&gw, "GET", "/stage/a/b"), "ANY /{proxy+}");
}

#[test]
fn nested_greedy_and_param() {
    let gw = start_echo(&[
        ("/proxy/bar/{param}", &["GET"]),
        ("/proxy/{proxy+}", &["GET"]),
    ]);
    let v = echo(&gw.get("/stage/proxy/bar/foobar"));
    assert_eq!(v["tag"], "GET /proxy/bar/{param}");
    assert_eq!(v["param"], "foobar");
    let v = echo(&gw.get("/stage/proxy/test2/a/b"));
    assert_eq!(v["tag"], "GET /proxy/{proxy+}");
    assert_eq!(v["proxy"], "test2/a/b");
    // One segment too deep for {param}: back to the greedy resource.
    let v = echo(&gw.get("/stage/proxy/bar/foobar/more"));
    assert_eq!(v["tag"], "GET /proxy/{proxy+}");
    assert_eq!(v["proxy"], "bar/foobar/more");
    // /proxy itself has no method and the greedy child needs a segment.
    assert_missing_token(&gw.get("/stage/proxy"));
}

#[test]
fn paths_are_case_sensitive() {
    let gw = start_echo(&[("/Pets", &["GET"])]);
    assert_eq!(tag(&gw, "GET", "/stage/Pets"), "GET /Pets");
    assert_missing_token(&gw.get("/stage/pets"));
}

// ---------------------------------------------------------------------------------------------
// §1.3 slashes and encoding
// ---------------------------------------------------------------------------------------------

/// TV-3 resources: `/{proxy+}` ANY and `/hardcoded` ANY.
fn start_slash_api() -> Gateway {
    start_echo(&[("/{proxy+}", &["ANY"]), ("/hardcoded", &["ANY"])])
}

#[test]
fn slashes_follow_the_recorded_aws_table() {
    let gw = start_slash_api();
    // (request path, resource, proxy value, $context.path) — §1.3, recorded on AWS.
    let table = [
        (
            "/stage/proxy-value",
            "/{proxy+}",
            "proxy-value",
            "/stage/proxy-value",
        ),
        (
            "/stage/proxy-value/",
            "/{proxy+}",
            "proxy-value",
            "/stage/proxy-value/",
        ),
        (
            "/stage/proxy-value//double-slash",
            "/{proxy+}",
            "proxy-value//double-slash",
            "/stage/proxy-value//double-slash",
        ),
        (
            "/stage//proxy-value",
            "/{proxy+}",
            "proxy-value",
            "/stage//proxy-value",
        ),
        ("/stage//hardcoded", "/hardcoded", "", "/stage//hardcoded"),
    ];
    for (path, resource, proxy, context_path) in table {
        let v = echo(&gw.get(path));
        assert_eq!(v["resource"], resource, "{path}");
        assert_eq!(v["proxy"], proxy, "{path}");
        assert_eq!(v["path"], context_path, "{path}");
        assert_eq!(v["stage"], "stage", "{path}");
    }
}

#[test]
fn leading_double_slash_before_the_stage_is_collapsed() {
    // §1.3: `//stage/proxy-value` → requestContext.path (= $context.path) `/stage/proxy-value`.
    let gw = start_slash_api();
    let v = echo(&gw.get("//stage/proxy-value"));
    assert_eq!(v["resource"], "/{proxy+}");
    assert_eq!(v["proxy"], "proxy-value");
    assert_eq!(v["path"], "/stage/proxy-value");
}

#[test]
fn path_values_keep_their_percent_encoding() {
    let gw = start_slash_api();
    let raw = "proxy-value/api/user/test%2Balias@gmail.com/plus/test+alias@gmail.com";
    let v = echo(&gw.get(&format!("/stage/{raw}")));
    assert_eq!(v["resource"], "/{proxy+}");
    assert_eq!(v["proxy"], raw);
    assert_eq!(v["path"], format!("/stage/{raw}"));

    let gw = start_echo(&[("/users/{id}", &["GET"])]);
    let v = echo(&gw.get("/stage/users/a%20b%2Fc"));
    assert_eq!(
        v["id"], "a%20b%2Fc",
        "an encoded slash stays inside one segment"
    );
}

#[test]
fn query_strings_are_decoded_and_the_last_value_wins() {
    let template = r#"{"offset": "$input.params('dateTimeOffset')", "email": "$input.params('email')", "plus": "$input.params('plus')", "url": "$input.params('url')", "space": "$input.params('whitespace')", "k": "$input.params('k')", "qk": "$input.params().querystring.k", "none": "$input.params('absent')"}"#;
    let api = rest_api(
        "r",
        &["stage"],
        &[("/q", vec![("GET", mock_method(template))])],
    );
    let gw = Gateway::start(&format!("restApis:\n{api}"));
    let r = gw.get(
        "/stage/q?dateTimeOffset=2023-06-12T18:05:10.123456+00:00&email=test%2Balias@gmail.com\
         &plus=test+alias@gmail.com&url=https://www.google.com/&whitespace=foo%20bar&k=1&k=2&k=3",
    );
    assert_eq!(
        echo(&r),
        json!({
            "offset": "2023-06-12T18:05:10.123456 00:00",
            "email": "test+alias@gmail.com",
            "plus": "test alias@gmail.com",
            "url": "https://www.google.com/",
            "space": "foo bar",
            "k": "3",
            "qk": "3",
            "none": "",
        })
    );
}

#[test]
fn input_params_looks_in_path_then_query_then_header() {
    let template =
        r#"{"id": "$input.params('id')", "q": "$input.params('q')", "h": "$input.params('h')"}"#;
    let api = rest_api(
        "r",
        &["stage"],
        &[("/users/{id}", vec![("GET", mock_method(template))])],
    );
    let gw = Gateway::start(&format!("restApis:\n{api}"));
    let r = gw.request(
        "GET",
        "/stage/users/p?id=q&q=q&h=q",
        &[("id", "h"), ("q", "h"), ("h", "h")],
        b"",
    );
    assert_eq!(echo(&r), json!({"id": "p", "q": "q", "h": "q"}));
    let r = gw.request("GET", "/stage/users/p", &[("q", "h"), ("h", "h")], b"");
    assert_eq!(echo(&r), json!({"id": "p", "q": "h", "h": "h"}));
}

// ---------------------------------------------------------------------------------------------
// HTTP_PROXY: what the backend receives
// ---------------------------------------------------------------------------------------------

fn start_proxy_api(backend: &Backend) -> Gateway {
    let api = rest_api(
        "r",
        &["stage"],
        &[
            ("/{proxy+}", vec![("ANY", proxy_method(backend))]),
            (
                "/hardcoded",
                vec![("GET", echo_method("GET", "/hardcoded"))],
            ),
        ],
    );
    Gateway::start(&format!("restApis:\n{api}"))
}

/// Sends `path` through the proxy and returns the request the backend saw.
fn forwarded(gw: &Gateway, backend: &Backend, method: &str, path: &str) -> RecordedRequest {
    let before = backend.hits();
    let r = gw.request(method, path, &[], b"");
    assert_eq!(r.status, 200, "{method} {path}: {}", r.body_str());
    assert_ids(&r);
    assert_eq!(
        backend.hits(),
        before + 1,
        "{method} {path} reached the backend once"
    );
    backend.last_request().expect("a recorded request")
}

#[test]
fn http_proxy_forwards_the_greedy_path_without_decoding() {
    let backend = Backend::start();
    let gw = start_proxy_api(&backend);
    let raw = "proxy-value/api/user/test%2Balias@gmail.com/plus/test+alias@gmail.com";
    let seen = forwarded(&gw, &backend, "GET", &format!("/stage/{raw}"));
    assert_eq!(seen.path(), format!("/{raw}"));
    assert_eq!(seen.method, "GET");

    let seen = forwarded(&gw, &backend, "DELETE", "/stage/a//b");
    assert_eq!((seen.method.as_str(), seen.path()), ("DELETE", "/a//b"));
    // The trailing slash is not part of the proxy value (§1.3).
    let seen = forwarded(&gw, &backend, "GET", "/stage/a/b/");
    assert_eq!(seen.path(), "/a/b");

    // The literal sibling is not proxied.
    assert_eq!(tag(&gw, "GET", "/stage/hardcoded"), "GET /hardcoded");
    assert_eq!(backend.hits(), 3);
}

#[test]
fn http_proxy_forwards_the_raw_query_string_unchanged() {
    let backend = Backend::start();
    let gw = start_proxy_api(&backend);
    for query in [
        "dateTimeOffset=2023-06-12T18:05:10.123456+00:00&email=test%2Balias@gmail.com&plus=test+alias@gmail.com",
        "category=electronics&category=books&price=10&price=20&price=30",
        "empty=&flag&x=%20y",
    ] {
        let seen = forwarded(&gw, &backend, "GET", &format!("/stage/items?{query}"));
        assert_eq!(seen.path(), "/items");
        assert_eq!(seen.query(), query);
    }
    let seen = forwarded(&gw, &backend, "GET", "/stage/items");
    assert_eq!(seen.target, "/items", "no query: no '?'");
}

// ---------------------------------------------------------------------------------------------
// Misses
// ---------------------------------------------------------------------------------------------

#[test]
fn route_and_method_misses_are_missing_authentication_token() {
    // TV-1.
    let template = r#"{"statusCode": 200, "message": "exists"}"#;
    let api = rest_api(
        "r",
        &["dev"],
        &[("/existing", vec![("GET", mock_method(template))])],
    );
    let gw = Gateway::start(&format!("restApis:\n{api}"));
    assert_eq!(
        echo(&gw.get("/dev/existing")),
        json!({"message": "exists", "statusCode": 200})
    );
    assert_missing_token(&gw.get("/dev/random-non-existing"));
    assert_missing_token(&gw.request("POST", "/dev/existing", &[], b"{}"));
    assert_missing_token(&gw.get("/dev"));
    assert_missing_token(&gw.get("/dev/existing/deeper"));
    // Not one of API Gateway's seven methods.
    assert_missing_token(&gw.request("TRACE", "/dev/existing", &[], b""));
}

#[test]
fn unknown_stage_is_forbidden() {
    let gw = start_echo(&[("/x", &["GET"]), ("/{proxy+}", &["ANY"])]);
    assert_eq!(tag(&gw, "GET", "/stage/x"), "GET /x");
    assert_forbidden(&gw.get("/nostage/x"));
    assert_forbidden(&gw.get("/Stage/x"));
    assert_forbidden(&gw.get("/"));
    assert_forbidden(&gw.request("POST", "/other", &[], b"{}"));
}

// ---------------------------------------------------------------------------------------------
// A3: how a request finds its API and stage
// ---------------------------------------------------------------------------------------------

/// Two APIs, `alpha` (stages prod, dev) and `beta` (stage prod), each with echo methods on
/// `/who` and `/orders/{id}`; `extra` is appended (e.g. `domainNames`).
fn start_two_apis(extra: &str) -> Gateway {
    let api = |id: &str, stages: &[&str]| {
        rest_api(
            id,
            stages,
            &[
                (
                    "/who",
                    vec![("GET", echo_method("GET", &format!("{id} /who")))],
                ),
                (
                    "/orders/{id}",
                    vec![("GET", echo_method("GET", &format!("{id} /orders/{{id}}")))],
                ),
            ],
        )
    };
    Gateway::start(&format!(
        "restApis:\n{}{}{extra}",
        api("alpha", &["prod", "dev"]),
        api("beta", &["prod"])
    ))
}

fn with_host(gw: &Gateway, host: &str, path: &str) -> Response {
    gw.request("GET", path, &[("Host", host)], b"")
}

#[test]
fn execute_api_host_names_the_api() {
    let gw = start_two_apis("");
    for (host, api) in [
        ("alpha.execute-api.us-east-1.amazonaws.com", "alpha"),
        ("beta.execute-api.us-east-1.amazonaws.com", "beta"),
        ("beta.execute-api.localhost:8080", "beta"),
    ] {
        let v = echo(&with_host(&gw, host, "/prod/who"));
        assert_eq!(v["tag"], format!("GET {api} /who"), "{host}");
        assert_eq!(
            (v["api"].as_str(), v["stage"].as_str()),
            (Some(api), Some("prod"))
        );
        assert_eq!(v["path"], "/prod/who");
    }
    let v = echo(&with_host(
        &gw,
        "alpha.execute-api.us-east-1.amazonaws.com",
        "/dev/orders/7",
    ));
    assert_eq!(
        (v["stage"].as_str(), v["id"].as_str()),
        (Some("dev"), Some("7"))
    );

    // beta has no dev stage; gamma is no API; a bare host cannot choose between two APIs.
    assert_forbidden(&with_host(
        &gw,
        "beta.execute-api.us-east-1.amazonaws.com",
        "/dev/who",
    ));
    assert_forbidden(&with_host(
        &gw,
        "gamma.execute-api.us-east-1.amazonaws.com",
        "/prod/who",
    ));
    assert_forbidden(&gw.get("/prod/who"));
    assert_missing_token(&with_host(
        &gw,
        "beta.execute-api.us-east-1.amazonaws.com",
        "/prod/nope",
    ));
}

#[test]
fn restapis_user_request_path_names_api_and_stage() {
    let gw = start_two_apis("");
    let v = echo(&gw.get("/restapis/beta/prod/_user_request_/who"));
    assert_eq!(v["tag"], "GET beta /who");
    assert_eq!(
        (v["api"].as_str(), v["stage"].as_str()),
        (Some("beta"), Some("prod"))
    );
    let v = echo(&gw.get("/restapis/alpha/dev/_user_request_/orders/9"));
    assert_eq!(
        (v["tag"].as_str(), v["id"].as_str()),
        (Some("GET alpha /orders/{id}"), Some("9"))
    );

    assert_forbidden(&gw.get("/restapis/beta/dev/_user_request_/who"));
    assert_forbidden(&gw.get("/restapis/gamma/prod/_user_request_/who"));
    assert_missing_token(&gw.get("/restapis/beta/prod/_user_request_/nope"));
}

const DOMAINS: &str = r#"
domainNames:
  - domainName: api.example.com
    basePathMappings:
      - {basePath: "orders", restApiId: beta, stage: prod}
      - {basePath: "orders/v1", restApiId: alpha, stage: dev}
      - {basePath: "(none)", restApiId: alpha, stage: prod}
  - domainName: beta.example.com
    basePathMappings:
      - {basePath: "", restApiId: beta, stage: prod}
  - domainName: strict.example.com
    basePathMappings:
      - {basePath: "v2", restApiId: alpha, stage: prod}
"#;

#[test]
fn custom_domain_longest_base_path_wins() {
    let gw = start_two_apis(DOMAINS);
    let host = "api.example.com";
    // (path, tag, api, stage, base path matched)
    let table = [
        (
            "/orders/v1/who",
            "GET alpha /who",
            "alpha",
            "dev",
            "orders/v1",
        ),
        (
            "/orders/v1/orders/5",
            "GET alpha /orders/{id}",
            "alpha",
            "dev",
            "orders/v1",
        ),
        ("/orders/who", "GET beta /who", "beta", "prod", "orders"),
        (
            "/orders/orders/5",
            "GET beta /orders/{id}",
            "beta",
            "prod",
            "orders",
        ),
        ("/who", "GET alpha /who", "alpha", "prod", ""),
    ];
    for (path, tag, api, stage, base) in table {
        let v = echo(&with_host(&gw, host, path));
        assert_eq!(v["tag"], tag, "{path}");
        assert_eq!(
            (v["api"].as_str(), v["stage"].as_str()),
            (Some(api), Some(stage)),
            "{path}"
        );
        assert_eq!(v["basePath"], base, "{path}");
    }
    // Host names are case-insensitive and may carry a port.
    let v = echo(&with_host(&gw, "API.Example.com:8443", "/orders/who"));
    assert_eq!(v["tag"], "GET beta /who");
    // A base path matches whole segments only: `ordersX` falls to the (none) mapping.
    assert_missing_token(&with_host(&gw, host, "/ordersX/who"));
}

#[test]
fn custom_domain_stage_is_not_in_the_url() {
    let gw = start_two_apis(DOMAINS);
    let v = echo(&with_host(&gw, "beta.example.com", "/who"));
    assert_eq!(
        (v["api"].as_str(), v["stage"].as_str()),
        (Some("beta"), Some("prod"))
    );
    // `prod` is read as a resource path segment, not a stage.
    assert_missing_token(&with_host(&gw, "beta.example.com", "/prod/who"));
    // No mapping matches and there is no (none) mapping.
    assert_forbidden(&with_host(&gw, "strict.example.com", "/who"));
    let v = echo(&with_host(&gw, "strict.example.com", "/v2/who"));
    assert_eq!(
        (v["api"].as_str(), v["basePath"].as_str()),
        (Some("alpha"), Some("v2"))
    );
}
