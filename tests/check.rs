//! `tollgate check` and `tollgate routes` (DESIGN A1): exit codes and the exact
//! `FILE:LINE:COL: message` lines, located at the offending key.

mod common;
use common::*;

use std::process::Command;

/// `yaml` without its leading newline, trailing blank lines and common indentation, so line 1
/// is the literal's first line of text.
fn text(yaml: &str) -> String {
    dedent(yaml.trim_start_matches('\n').trim_end())
}

/// Runs `tollgate check` on `yaml` (see [`text`]), expects exit 1 and nothing on stderr, and
/// returns the problem lines as `LINE:COL: message` after checking that each names the file.
fn problems(yaml: &str) -> Vec<String> {
    let (code, stdout, stderr) = check(&text(yaml));
    assert_eq!(
        code, 1,
        "check should fail\nstdout: {stdout}\nstderr: {stderr}"
    );
    assert_eq!(stderr, "", "problems go to stdout");
    stdout
        .lines()
        .map(|line| {
            let (file, rest) = line
                .split_once(".yaml:")
                .unwrap_or_else(|| panic!("not FILE:LINE:COL: message: {line:?}"));
            assert!(
                file.starts_with('/') && file.ends_with("/tollgate"),
                "the file is named by the path given: {line:?}"
            );
            rest.to_string()
        })
        .collect()
}

/// Runs `tollgate <args> -c FILE` on `yaml` in a temp dir; (exit code, stdout, stderr).
fn run_on(args: &[&str], yaml: &str) -> (i32, String, String, String) {
    let dir = TempDir::new("tollgate-cli");
    let file = dir.write("api.yaml", yaml);
    let out = Command::new(tollgate_bin())
        .args(args)
        .arg("-c")
        .arg(&file)
        .current_dir(dir.path())
        .output()
        .expect("run tollgate");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        file.display().to_string(),
    )
}

const VALID: &str = r#"
server:
  listen: ["127.0.0.1:8080"]
restApis:
  - id: shop
    requestValidators: {params: {validateRequestParameters: true}}
    models: {Item: {type: object, required: [name]}}
    authorizers:
      - {name: tokenAuth, type: TOKEN, authorizerUri: "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:auth/invocations", identitySource: method.request.header.Authorization}
    resources:
      /:
        GET: {integration: {type: MOCK}}
      /items:
        GET:
          integration: {type: HTTP_PROXY, httpMethod: GET, uri: "http://${stageVariables.backend}/items"}
        POST:
          authorizationType: AWS_IAM
          requestValidator: params
          requestModels: {application/json: Item}
          requestParameters: {method.request.header.X-Id: true}
          integration: {type: MOCK}
      /items/{id}:
        ANY:
          authorizationType: CUSTOM
          authorizer: tokenAuth
          integration: {type: MOCK}
      /{proxy+}:
        OPTIONS: {integration: {type: MOCK}}
    stages:
      - stageName: prod
        variables: {backend: "127.0.0.1:9000"}
      - stageName: dev
        variables: {backend: "127.0.0.1:9001"}
"#;

#[test]
fn a_valid_file_passes() {
    let (code, stdout, stderr) = check(&text(VALID));
    assert_eq!((code, stderr.as_str()), (0, ""), "{stdout}");
    assert!(
        stdout.trim_end().ends_with("tollgate.yaml: ok"),
        "{stdout:?}"
    );
}

#[test]
fn the_demo_config_passes() {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/conf/tollgate.yaml");
    let (code, stdout, stderr) = check(&std::fs::read_to_string(demo).expect("read the demo"));
    assert_eq!(code, 0, "conf/tollgate.yaml:\n{stdout}{stderr}");
}

#[test]
fn yaml_syntax_error() {
    let p = problems(
        r#"
        server:
          listen: ["127.0.0.1:8080"]
         restApis: []
        "#,
    );
    assert_eq!(
        p,
        ["3:2: did not find expected key, while parsing a block mapping"]
    );
}

#[test]
fn unclosed_flow_mapping_names_where_it_started() {
    let p = problems(
        r#"
        server:
          listen: ["127.0.0.1:8080"]
        restApis:
          - id: a
            resources:
              /x:
                GET:
                  integration: {type: MOCK
        "#,
    );
    assert_eq!(
        p,
        ["9:1: did not find expected ',' or '}', while parsing a flow mapping at line 8 column 24"]
    );
}

#[test]
fn type_error() {
    let p = problems(
        r#"
        server:
          listen: ["127.0.0.1:8080"]
          threads: lots
        "#,
    );
    assert_eq!(
        p,
        [r#"3:12: server.threads: invalid type: string "lots", expected usize"#]
    );
}

#[test]
fn every_unknown_key_is_reported_at_its_line() {
    let p = problems(
        r#"
        server:
          listen: ["127.0.0.1:8080"]
          bogus: 1
        restApis:
          - id: a
            nmae: x
            resources:
              /x:
                GET:
                  integration: {type: MOCK, requestTemplate: {}}
                  authorisationType: NONE
            stages:
              - stageName: s
                varaibles: {}
        "#,
    );
    assert_eq!(
        p,
        [
            "3:3: unknown key `bogus`",
            "6:5: unknown key `nmae`",
            "10:37: unknown key `requestTemplate`",
            "11:11: unknown key `authorisationType`",
            "14:9: unknown key `varaibles`",
        ]
    );
}

#[test]
fn undefined_authorizer_validator_and_model() {
    let p = problems(
        r#"
        server:
          listen: ["127.0.0.1:8080"]
        restApis:
          - id: a
            requestValidators: {all: {validateRequestBody: true}}
            models: {Pet: {type: object}}
            resources:
              /pets:
                POST:
                  authorizationType: CUSTOM
                  authorizer: nope
                  requestValidator: missing
                  requestModels: {application/json: Ghost, text/plain: Pet}
                  integration: {type: MOCK}
            stages: [{stageName: prod}]
        "#,
    );
    assert_eq!(
        p,
        [
            "11:11: unknown authorizer `nope`",
            "12:11: unknown request validator `missing`",
            "13:27: unknown model `Ghost`",
        ]
    );
}

#[test]
fn greedy_resource_must_be_last() {
    let p = problems(
        r#"
        server:
          listen: ["127.0.0.1:8080"]
        restApis:
          - id: a
            resources:
              /items:
                GET: {integration: {type: MOCK}}
              /{proxy+}/x:
                GET: {integration: {type: MOCK}}
            stages: [{stageName: prod}]
        "#,
    );
    assert_eq!(
        p,
        ["8:7: Invalid resource path '/{proxy+}/x': Cannot create a child of a resource with a greedy path variable: {proxy+}"]
    );
}

#[test]
fn only_one_variable_child_per_parent() {
    let p = problems(
        r#"
        server:
          listen: ["127.0.0.1:8080"]
        restApis:
          - id: a
            resources:
              /{a}:
                GET: {integration: {type: MOCK}}
              /{b}:
                GET: {integration: {type: MOCK}}
            stages: [{stageName: prod}]
        "#,
    );
    assert_eq!(
        p,
        ["8:7: Invalid resource path '/{b}': A sibling ({a}) of this resource already has a variable path part -- only one is allowed"]
    );
}

#[test]
fn stage_variable_no_stage_defines() {
    let p = problems(
        r#"
        server:
          listen: ["127.0.0.1:8080"]
        restApis:
          - id: a
            resources:
              /x:
                GET:
                  integration:
                    type: HTTP_PROXY
                    httpMethod: GET
                    uri: "http://${stageVariables.host}/x"
                    requestParameters: {integration.request.header.X-Env: stageVariables.env}
            stages:
              - {stageName: prod, variables: {env: prod}}
              - {stageName: dev, variables: {other: x}}
        "#,
    );
    // `env` is defined by one stage, which is enough; `host` by none.
    assert_eq!(
        p,
        ["11:13: stage variable `host` is used here but no stage defines it"]
    );
}

#[test]
fn invalid_integration_type() {
    let p = problems(
        r#"
        server:
          listen: ["127.0.0.1:8080"]
        restApis:
          - id: a
            resources:
              /x:
                GET:
                  integration: {type: LAMBDA}
            stages: [{stageName: prod}]
        "#,
    );
    assert_eq!(
        p,
        ["8:25: invalid integration type `LAMBDA`: expected one of HTTP, HTTP_PROXY, MOCK, AWS, AWS_PROXY"]
    );
}

#[test]
fn aws_integration_credentials_must_name_a_known_user() {
    let p = problems(
        r#"
        restApis:
          - id: a
            resources:
              /x:
                GET:
                  integration:
                    type: AWS
                    httpMethod: POST
                    uri: "arn:aws:apigateway:us-east-1:sqs:path/123456789012/q"
                    credentials: "arn:aws:iam::123456789012:user/nobody"
            stages: [{stageName: prod}]
        "#,
    );
    assert_eq!(
        p,
        ["10:13: `arn:aws:iam::123456789012:user/nobody`: no user `nobody` in `iam.users`"]
    );
}

#[test]
fn routes_prints_the_route_table() {
    let (code, stdout, stderr, _) = run_on(&["routes"], &text(VALID));
    assert_eq!((code, stderr.as_str()), (0, ""), "{stdout}");
    let rows: Vec<Vec<&str>> = stdout.lines().map(|l| l.split('\t').collect()).collect();
    let mut expected = vec![vec![
        "API",
        "STAGE",
        "METHOD",
        "PATH",
        "INTEGRATION",
        "AUTHORIZATION",
    ]];
    for stage in ["prod", "dev"] {
        expected.extend([
            vec!["shop", stage, "GET", "/", "MOCK", "NONE"],
            vec!["shop", stage, "GET", "/items", "HTTP_PROXY", "NONE"],
            vec!["shop", stage, "POST", "/items", "MOCK", "AWS_IAM"],
            vec!["shop", stage, "ANY", "/items/{id}", "MOCK", "CUSTOM"],
            vec!["shop", stage, "OPTIONS", "/{proxy+}", "MOCK", "NONE"],
        ]);
    }
    assert_eq!(rows, expected);
}

#[test]
fn routes_of_the_demo() {
    let demo = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/conf/tollgate.yaml"))
        .expect("read the demo");
    let (code, stdout, stderr, _) = run_on(&["routes"], &demo);
    assert_eq!(code, 0, "{stderr}");
    for row in [
        "petstore\tprod\tGET\t/pets\tMOCK\tNONE",
        "petstore\tprod\tGET\t/pets/{petId}\tMOCK\tNONE",
        "petstore\tdev\tGET\t/health\tHTTP_PROXY\tNONE",
    ] {
        assert!(
            stdout.lines().any(|l| l == row),
            "no row {row:?} in\n{stdout}"
        );
    }
}

#[test]
fn routes_of_an_invalid_file_fails_with_the_problems() {
    let bad = text(
        r#"
        server:
          listen: ["127.0.0.1:8080"]
        restApis:
          - id: a
            resources:
              /x:
                GET: {integration: {type: LAMBDA}}
            stages: [{stageName: prod}]
        "#,
    );
    let (code, stdout, stderr, file) = run_on(&["routes"], &bad);
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert_eq!(
        stderr.trim_end(),
        format!("{file}:7:29: invalid integration type `LAMBDA`: expected one of HTTP, HTTP_PROXY, MOCK, AWS, AWS_PROXY")
    );
}

#[test]
fn template_errors_point_at_their_line_in_the_file() {
    let p = problems(
        r#"
        server:
          listen: ["127.0.0.1:8080"]
        restApis:
          - id: a
            resources:
              /x:
                POST:
                  integration:
                    type: MOCK
                    requestTemplates:
                      application/json: |

                        #set($x = 1)
                        #if($x == 1)
                        {"statusCode": 200}
              /y:
                POST:
                  integration:
                    type: MOCK
                    integrationResponses:
                      - statusCode: "200"
                        responseTemplates:
                          application/json: '{"a": ${x'
            stages: [{stageName: prod}]
        "#,
    );
    assert_eq!(p.len(), 2, "{p:?}");
    // The unclosed #if (line 3 of the value, after a blank line AWS trims) is file line 14.
    assert!(p[0].starts_with("14:17: template error at 3:1: "), "{p:?}");
    // `${x` is at column 7 of a single-quoted value whose text starts at column 38.
    assert!(p[1].starts_with("23:44: template error at 1:7: "), "{p:?}");
}

#[test]
fn mapping_templates_over_300_kb_are_refused() {
    let big = "x".repeat(300 * 1024 + 1);
    let yaml = format!(
        r#"
        restApis:
          - id: a
            resources:
              /x:
                POST:
                  integration:
                    type: MOCK
                    requestTemplates:
                      application/json: '{big}'
            stages: [{{stageName: prod}}]
        "#
    );
    let p = problems(&yaml);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].contains(
            "mapping template is 307201 bytes; API Gateway's limit is 300 KB (307200 bytes)"
        ),
        "{p:?}"
    );
}
