//! MOCK integrations in full (AWS digest §3.5, §6.6): the request template's output decides
//! the status, and `$context.requestOverride` / `responseOverride` carry between templates.

mod common;
use common::*;

const API: &str = r#"
    restApis:
      - id: mockapi
        resources:
          /status/{code}:
            GET:
              requestParameters: {method.request.path.code: true}
              methodResponses: [{statusCode: "200"}, {statusCode: "404"}]
              integration:
                type: MOCK
                requestTemplates:
                  application/json: |
                    #if($input.params('code') == "404")
                    {"statusCode": 404}
                    #else
                    {"statusCode": 200}
                    #end
                integrationResponses:
                  - statusCode: "404"
                    selectionPattern: "404"
                    responseTemplates: {application/json: '{"found": false}'}
                  - statusCode: "200"
                    responseTemplates: {application/json: '{"found": true}'}
          /response-override:
            GET:
              methodResponses: [{statusCode: "200"}]
              integration:
                type: MOCK
                requestTemplates:
                  application/json: |
                    #set($context.responseOverride.status = 444)
                    #set($context.responseOverride.header.foo = "bar")
                    {"statusCode": 200}
                integrationResponses:
                  - statusCode: "200"
          /request-override:
            GET:
              methodResponses: [{statusCode: "200"}]
              integration:
                type: MOCK
                requestTemplates:
                  application/json: |
                    #set($context.requestOverride.header.myHeader = "foo")
                    #set($context.requestOverride.path.myPath = "bar")
                    #set($paramName = "qs")
                    #set($context.requestOverride.querystring[$paramName] = "baz")
                    $context.requestOverride.querystring.put("putKey", "putValue")
                    #set($context["requestOverride"].querystring["nested"] = "nestedValue")
                    {"statusCode": 200}
                integrationResponses:
                  - statusCode: "200"
                    responseTemplates:
                      application/json: |
                        #set($qs = $context.requestOverride.querystring)
                        {"header": "$context.requestOverride.header.myHeader",
                         "path": "$context.requestOverride.path.myPath",
                         "qs": "$qs.qs", "put": "$qs.putKey", "nested": "$qs.nested"}
          /ids:
            GET:
              methodResponses: [{statusCode: "200"}]
              integration:
                type: MOCK
                requestTemplates: {application/json: '{"statusCode": 200}'}
                integrationResponses:
                  - statusCode: "200"
                    responseTemplates:
                      application/json: '{"resourceId": "$context.resourceId", "deploymentId": "$context.deploymentId", "resourcePath": "$context.resourcePath", "path": "$context.path"}'
          /pets:
            POST:
              methodResponses: [{statusCode: "200"}]
              integration:
                type: MOCK
                requestTemplates:
                  application/json: '{"statusCode": 200}'
                integrationResponses:
                  - statusCode: "200"
                    responseTemplates:
                      application/json: |
                        #set($pets = [{"id": 1, "type": "dog", "price": 249.99}, {"id": 2, "type": "cat", "price": 124.99}])
                        [
                        #foreach($pet in $pets)
                          {"id": $pet.id, "type": "$pet.type", "price": $pet.price, "stage": "$stageVariables.tier"}#if($foreach.hasNext),#end

                        #end
                        ]
          /headers:
            POST:
              methodResponses: [{statusCode: "200"}]
              integration:
                type: MOCK
                requestTemplates:
                  application/json: |
                    #set($a = $input.path('$.a'))
                    {"statusCode": #if($a == "b")200#{else}400#end}
                integrationResponses:
                  - statusCode: "400"
                    selectionPattern: "400"
                  - statusCode: "200"
                    responseTemplates:
                      application/json: |
                        #set($h = $input.params().header)
                        {"ua": "$h.get('User-Agent')", "lower": "$!h.get('user-agent')",
                         "custom": "$h.get('X-Mixed-Case')", "len": "$input.params('Content-Length')",
                         "conn": "$input.params('Connection')", "lenInMap": $h.containsKey('Content-Length')}
        stages:
          - stageName: test
            variables: {tier: gold}
"#;

#[test]
fn header_params_keep_the_client_s_names_and_hide_what_aws_drops() {
    let gw = Gateway::start(API);
    let r = gw.request(
        "POST",
        "/test/headers",
        &[
            ("Content-Type", "application/json"),
            ("User-Agent", "agent/1"),
            ("X-Mixed-Case", "v"),
            ("Connection", "keep-alive"),
        ],
        br#"{"a": "b"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(
        r.json(),
        serde_json::json!({"ua": "agent/1", "lower": "", "custom": "v", "len": "", "conn": "",
                           "lenInMap": false})
    );
}

#[test]
fn a_body_nested_past_any_stack_is_not_json_and_the_gateway_survives() {
    let gw = Gateway::start(API);
    let deep = "[".repeat(200_000);
    let r = gw.request(
        "POST",
        "/test/headers",
        &[("Content-Type", "application/json")],
        deep.as_bytes(),
    );
    assert_eq!(
        r.status,
        400,
        "not JSON, so `$.a` is not \"b\": {}",
        r.body_str()
    );
    let r = gw.get("/test/status/200");
    assert_eq!(r.status, 200, "the gateway answers after the deep body");
}

#[test]
fn the_request_template_output_decides_the_status() {
    let gw = Gateway::start(API);
    let r = gw.get("/test/status/404");
    assert_eq!(r.status, 404, "{}", r.body_str());
    assert_eq!(r.json(), serde_json::json!({"found": false}));
    let r = gw.get("/test/status/200");
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), serde_json::json!({"found": true}));
}

#[test]
fn response_override_in_the_request_template_reaches_the_client() {
    let gw = Gateway::start(API);
    let r = gw.get("/test/response-override");
    assert_eq!(r.status, 444, "{}", r.body_str());
    assert_eq!(r.header("foo"), Some("bar"));
    assert_eq!(r.body_str(), "", "a MOCK integration response has no body");
}

#[test]
fn request_overrides_are_readable_in_the_response_template() {
    let gw = Gateway::start(API);
    let r = gw.get("/test/request-override");
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(
        r.json(),
        serde_json::json!({"header": "foo", "path": "bar", "qs": "baz", "put": "putValue", "nested": "nestedValue"})
    );
}

#[test]
fn foreach_template_renders_like_velocity() {
    // Output checked against Apache Velocity 1.7: `#end` eats its line's newline, the blank
    // line after it stays.
    let gw = Gateway::start(API);
    let r = gw.request(
        "POST",
        "/test/pets",
        &[("Content-Type", "application/json")],
        b"{}",
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(
        r.body_str(),
        "[\n  {\"id\": 1, \"type\": \"dog\", \"price\": 249.99, \"stage\": \"gold\"},\n  {\"id\": 2, \"type\": \"cat\", \"price\": 124.99, \"stage\": \"gold\"}\n]"
    );
}

#[test]
fn context_ids_are_stable() {
    let gw = Gateway::start(API);
    let a = gw.get("/test/ids").json();
    let b = gw.get("/test/ids").json();
    assert_eq!(a, b);
    assert_eq!(a["resourcePath"], "/ids");
    assert_eq!(a["path"], "/test/ids");
    let c = gw.get("/restapis/mockapi/test/_user_request_/ids").json();
    assert_eq!(c, a, "the same request through the /restapis URL form");
    for id in ["resourceId", "deploymentId"] {
        let v = a[id].as_str().unwrap_or_default();
        assert!(
            !v.is_empty()
                && v.bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
            "{id}: {v:?}"
        );
    }
}
