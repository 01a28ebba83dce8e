//! COGNITO_USER_POOLS (and OIDC) authorizers end to end, with tokens minted by PyJWT
//! (tests/jwt/mint.py): valid ID and access tokens pass with their claims in
//! `$context.authorizer.claims`; every forged, expired or misdirected token gets AWS's 401.

mod common;
use common::*;

use serde_json::{json, Value};
use std::process::Command;

const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc";
const POOL_ARN: &str = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_abc";
const CLIENT: &str = "client-1";
const FUNCTIONS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/functions");
const MINT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/jwt/mint.py");

/// Mints the tokens into `dir` (which gets `jwks.json`): case → token.
fn mint(dir: &TempDir) -> serde_json::Map<String, Value> {
    let out = Command::new("python3")
        .arg(MINT)
        .arg(dir.path())
        .arg(ISSUER)
        .arg(CLIENT)
        .output()
        .expect("python3 tests/jwt/mint.py (PyJWT: scripts/deps.sh installs it)");
    assert!(
        out.status.success(),
        "mint.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    match serde_json::from_slice(&out.stdout).expect("mint.py output") {
        Value::Object(m) => m,
        other => panic!("mint.py printed {other}"),
    }
}

fn api(jwks: &str) -> String {
    r#"
    functions:
      echo: {command: ["python3", "-m", "awslambdaric", "echo.handler"], workingDirectory: "{FUNCS}", timeout: 3}
    restApis:
      - id: jwtapi
        authorizers:
          - {name: users, type: COGNITO_USER_POOLS, providerARNs: ["{POOL}"], jwks: "{JWKS}", audience: ["{CLIENT}"]}
        resources:
          /profile:
            GET:
              authorizationType: COGNITO_USER_POOLS
              authorizer: users
              methodResponses: [{statusCode: "200"}]
              integration:
                type: MOCK
                requestTemplates: {application/json: '{"statusCode": 200}'}
                integrationResponses:
                  - statusCode: "200"
                    responseTemplates:
                      application/json: '{"sub":"$context.authorizer.claims.sub","email":"$context.authorizer.claims.email","role":"$context.authorizer.claims[''custom:role'']"}'
          /pets:
            GET:
              authorizationType: COGNITO_USER_POOLS
              authorizer: users
              authorizationScopes: [pets/write, pets/read]
              methodResponses: [{statusCode: "200"}]
              integration:
                type: MOCK
                requestTemplates: {application/json: '{"statusCode": 200}'}
                integrationResponses:
                  - statusCode: "200"
                    responseTemplates:
                      application/json: '{"sub":"$context.authorizer.claims.sub","scope":"$context.authorizer.claims.scope"}'
          /echo:
            GET:
              authorizationType: COGNITO_USER_POOLS
              authorizer: users
              integration: {type: AWS_PROXY, httpMethod: POST, uri: "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:echo/invocations"}
        stages:
          - stageName: prod
    "#
    .replace("{FUNCS}", FUNCTIONS_DIR)
    .replace("{POOL}", POOL_ARN)
    .replace("{CLIENT}", CLIENT)
    .replace("{JWKS}", jwks)
}

fn call(gw: &Gateway, path: &str, token: &str) -> Response {
    gw.request("GET", path, &[("Authorization", token)], b"")
}

#[test]
fn tokens_are_verified_and_claims_flow_to_the_integration() {
    let dir = TempDir::new("tollgate-jwt");
    let tokens = mint(&dir);
    let jwks = dir.path().join("jwks.json").display().to_string();
    let gw = Gateway::start(&api(&jwks));
    let token = |case: &str| tokens[case].as_str().expect(case).to_string();

    // An ID token on a method without scopes; with or without `Bearer `.
    for value in [token("valid_id"), format!("Bearer {}", token("valid_id"))] {
        let r = call(&gw, "/prod/profile", &value);
        assert_eq!(r.status, 200, "{}", r.body_str());
        assert_eq!(
            r.json(),
            json!({"sub": "user-1", "email": "user1@example.com", "role": "admin"})
        );
    }
    // An access token carrying one of the method's scopes.
    let r = call(&gw, "/prod/pets", &token("valid_access"));
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(
        r.json(),
        json!({"sub": "user-1", "scope": "openid pets/read"})
    );
    // Lambda proxy: requestContext.authorizer.claims, every value a string.
    let r = call(&gw, "/prod/echo", &token("valid_id"));
    assert_eq!(r.status, 200, "{}", r.body_str());
    let claims = &r.json()["raw"]["requestContext"]["authorizer"]["claims"];
    assert_eq!(claims["sub"], "user-1");
    assert_eq!(claims["custom:role"], "admin");
    assert_eq!(claims["token_use"], "id");
    assert!(claims["exp"].is_string(), "{claims}");
}

#[test]
fn forged_expired_and_misdirected_tokens_get_401() {
    let dir = TempDir::new("tollgate-jwt");
    let tokens = mint(&dir);
    let jwks = dir.path().join("jwks.json").display().to_string();
    let gw = Gateway::start(&api(&jwks));
    let table: &[(&str, &str)] = &[
        ("expired", "/prod/profile"),
        ("future_nbf", "/prod/profile"),
        ("wrong_iss", "/prod/profile"),
        ("wrong_aud", "/prod/profile"),
        ("no_exp", "/prod/profile"),
        ("alg_confusion_hs256", "/prod/profile"),
        ("alg_none", "/prod/profile"),
        ("kid_injection", "/prod/profile"),
        ("wrong_key_known_kid", "/prod/profile"),
        ("tampered_payload", "/prod/profile"),
        ("access_token_as_id_token", "/prod/profile"),
        ("id_token_as_access_token", "/prod/pets"),
        ("access_without_scope", "/prod/pets"),
    ];
    for (case, path) in table {
        let r = call(&gw, path, tokens[*case].as_str().expect(case));
        assert_eq!(r.status, 401, "{case}: {}", r.body_str());
        assert_eq!(r.body_str(), r#"{"message":"Unauthorized"}"#, "{case}");
        assert_eq!(
            r.header("x-amzn-errortype"),
            Some("UnauthorizedException"),
            "{case}"
        );
    }
    for (what, r) in [
        ("no header", gw.get("/prod/profile")),
        ("empty", call(&gw, "/prod/profile", "")),
        ("not a JWT", call(&gw, "/prod/profile", "Bearer abc")),
    ] {
        assert_eq!(r.status, 401, "{what}");
        assert_eq!(r.body_str(), r#"{"message":"Unauthorized"}"#, "{what}");
    }
    // The valid token still works after all that.
    let valid = tokens["valid_id"].as_str().expect("valid_id");
    assert_eq!(call(&gw, "/prod/profile", valid).status, 200);
}

#[test]
fn jwks_from_a_url_is_fetched_once_and_unknown_kids_do_not_hammer_it() {
    let dir = TempDir::new("tollgate-jwt");
    let tokens = mint(&dir);
    let body = std::fs::read_to_string(dir.path().join("jwks.json")).expect("jwks.json");
    let issuer = Backend::with_handler(move |_| Reply::json(200, body.clone()));
    let gw = Gateway::start(&api(&format!("{}/.well-known/jwks.json", issuer.url())));
    let valid = tokens["valid_id"].as_str().expect("valid_id");
    for _ in 0..3 {
        assert_eq!(call(&gw, "/prod/profile", valid).status, 200);
    }
    assert_eq!(issuer.hits(), 1);
    assert_eq!(
        issuer.last_request().expect("a fetch").path(),
        "/.well-known/jwks.json"
    );
    let unknown = tokens["kid_injection"].as_str().expect("kid_injection");
    for _ in 0..5 {
        assert_eq!(call(&gw, "/prod/profile", unknown).status, 401);
    }
    assert_eq!(
        issuer.hits(),
        1,
        "an unknown kid refetches at most once per interval, counted from the last fetch"
    );
}
