//! AWS_IAM methods and resource policies end to end: requests signed by botocore
//! (`SigV4Auth` and presigned `SigV4QueryAuth`, through `tests/iam/sign.py`) against a real
//! `tollgate`. Needs `python3` with `botocore` (scripts/deps.sh installs it).

mod common;
use common::*;

use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};

const SIGN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/iam/sign.py");
const ACCOUNT: &str = "123456789012";

const API: &str = r#"
    iam:
      users:
        - name: alice
          accessKeyId: AKIDALICE
          secretAccessKey: alice-secret
          policies:
            - Version: "2012-10-17"
              Statement:
                - {Effect: Allow, Action: "execute-api:*", Resource: "arn:aws:execute-api:*:*:iamapi/*"}
                - {Effect: Deny, Action: "execute-api:Invoke", Resource: "arn:aws:execute-api:*:*:iamapi/*/GET/secret"}
                - {Effect: Deny, Action: "execute-api:Invoke", Resource: "arn:aws:execute-api:*:*:iamapi/*/GET/"}
        - name: bob
          accessKeyId: AKIDBOB
          secretAccessKey: bob-secret
          sessionToken: bob-session-token
          policies:
            - Statement:
                - {Effect: Allow, Action: "execute-api:Invoke", Resource: "arn:aws:execute-api:us-east-1:*:iamapi/test/GET/*"}
        - {name: carol, accessKeyId: AKIDCAROL, secretAccessKey: carol-secret}
    restApis:
      - id: iamapi
        policy:
          Version: "2012-10-17"
          Statement:
            - {Effect: Allow, Principal: {AWS: "arn:aws:iam::123456789012:user/carol"}, Action: "execute-api:Invoke", Resource: "execute-api:/test/GET/pets"}
            - {Effect: Allow, Principal: "*", Action: "execute-api:Invoke", Resource: ["execute-api:/test/GET/open", "execute-api:/test/GET/blocked"]}
            - Effect: Deny
              Principal: "*"
              Action: "execute-api:Invoke"
              Resource: "execute-api:/test/GET/blocked"
              Condition: {IpAddress: {aws:SourceIp: ["127.0.0.0/8", "::1/128"]}}
            - Effect: Allow
              Principal: "*"
              Action: "execute-api:Invoke"
              Resource: "execute-api:/test/GET/remote"
              Condition: {NotIpAddress: {aws:SourceIp: "127.0.0.0/8"}}
        resources:
          /:
            GET:
              authorizationType: AWS_IAM
              integration: {type: HTTP_PROXY, httpMethod: ANY, uri: "{B}/echo"}
          /pets:
            GET:
              authorizationType: AWS_IAM
              integration: {type: HTTP_PROXY, httpMethod: ANY, uri: "{B}/echo"}
            POST:
              authorizationType: AWS_IAM
              integration: {type: HTTP_PROXY, httpMethod: ANY, uri: "{B}/echo"}
          /secret:
            GET:
              authorizationType: AWS_IAM
              integration: {type: HTTP_PROXY, httpMethod: ANY, uri: "{B}/echo"}
          /whoami:
            GET:
              authorizationType: AWS_IAM
              methodResponses: [{statusCode: "200"}]
              integration:
                type: MOCK
                requestTemplates: {application/json: '{"statusCode": 200}'}
                integrationResponses:
                  - statusCode: "200"
                    responseTemplates:
                      application/json: '{"accessKey":"$context.identity.accessKey","accountId":"$context.identity.accountId","caller":"$context.identity.caller","user":"$context.identity.user","userArn":"$context.identity.userArn"}'
          /open:
            GET: {integration: {type: HTTP_PROXY, httpMethod: ANY, uri: "{B}/echo"}}
          /blocked:
            GET: {integration: {type: HTTP_PROXY, httpMethod: ANY, uri: "{B}/echo"}}
          /remote:
            GET: {integration: {type: HTTP_PROXY, httpMethod: ANY, uri: "{B}/echo"}}
          /closed:
            GET: {integration: {type: HTTP_PROXY, httpMethod: ANY, uri: "{B}/echo"}}
        stages:
          - stageName: test
"#;

struct Fixture {
    gw: Gateway,
    backend: Backend,
}

fn fixture() -> Fixture {
    let backend = Backend::start();
    let gw = Gateway::start(&API.replace("{B}", &backend.url()));
    Fixture { gw, backend }
}

/// What botocore produced for one request.
struct Signed {
    /// Path and query to send.
    target: String,
    headers: Vec<(String, String)>,
    canonical_request: String,
    string_to_sign: String,
}

impl Signed {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} header"))
    }
}

/// Signs every spec with botocore. Specs are `sign.py`'s, with `path` (and the user's keys)
/// instead of a URL.
fn botocore(gw: &Gateway, specs: &[Value]) -> Vec<Signed> {
    let specs: Vec<Value> = specs
        .iter()
        .map(|s| {
            let mut s = s.clone();
            let path = s["path"].as_str().expect("path").to_string();
            s["url"] = json!(format!("http://{}{path}", gw.addr));
            s
        })
        .collect();
    let mut child = Command::new("python3")
        .arg(SIGN)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 tests/iam/sign.py (install botocore with scripts/deps.sh)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(json!(specs).to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "sign.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).expect("sign.py JSON");
    list.into_iter()
        .map(|v| {
            let url = v["url"].as_str().unwrap();
            let target = url.splitn(4, '/').nth(3).map(|t| format!("/{t}")).unwrap();
            Signed {
                target,
                headers: v["headers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| {
                        (
                            h[0].as_str().unwrap().to_string(),
                            h[1].as_str().unwrap().to_string(),
                        )
                    })
                    .collect(),
                canonical_request: v["canonical_request"].as_str().unwrap().into(),
                string_to_sign: v["string_to_sign"].as_str().unwrap().into(),
            }
        })
        .collect()
}

fn user(name: &str) -> (&'static str, String, Option<&'static str>) {
    match name {
        "alice" => ("AKIDALICE", "alice-secret".into(), None),
        "bob" => ("AKIDBOB", "bob-secret".into(), Some("bob-session-token")),
        "carol" => ("AKIDCAROL", "carol-secret".into(), None),
        other => panic!("{other}"),
    }
}

/// A `sign.py` spec for `who` (header form unless `mode` says otherwise).
fn spec(who: &str, method: &str, path: &str) -> Value {
    let (key, secret, token) = user(who);
    let mut s =
        json!({"mode": "header", "method": method, "path": path, "key": key, "secret": secret});
    if let Some(t) = token {
        s["token"] = json!(t);
    }
    s
}

fn with(mut s: Value, k: &str, v: Value) -> Value {
    s[k] = v;
    s
}

fn send(gw: &Gateway, method: &str, s: &Signed, extra: &[(&str, &str)], body: &[u8]) -> Response {
    let mut headers: Vec<(&str, &str)> = s
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    headers.extend_from_slice(extra);
    request(gw.addr, method, &s.target, &headers, body)
}

/// Asserts the status, `x-amzn-ErrorType` and the whole JSON body.
fn refused(r: &Response, status: u16, error_type: &str, body: Value) {
    assert_eq!(r.status, status, "body: {}", r.body_str());
    assert_eq!(
        r.header("x-amzn-ErrorType"),
        Some(error_type),
        "{}",
        r.body_str()
    );
    assert_eq!(r.json(), body);
}

fn mismatch_body(canonical_request: &str, string_to_sign: &str) -> Value {
    json!({"message": format!(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String for this request should have been\n'{canonical_request}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n"
    )})
}

fn access_denied(who: &str, arn: &str, explicit: bool) -> Value {
    let tail = if explicit {
        " with an explicit deny"
    } else {
        ""
    };
    json!({"Message": format!("User: {who} is not authorized to perform: execute-api:Invoke on resource: {arn}{tail}")})
}

fn arn(method: &str, path: &str) -> String {
    format!("arn:aws:execute-api:us-east-1:{ACCOUNT}:iamapi/test/{method}/{path}")
}

/// Seconds since the epoch of an `X-Amz-Date`.
fn epoch(amz: &str) -> i64 {
    let n = |r: std::ops::Range<usize>| amz[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(4..6), n(6..8));
    let (y2, m2) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + n(9..11) * 3600 + n(11..13) * 60 + n(13..15)
}

/// Checks `Signature expired: {date} is now earlier than {now - span} ({now} - {span})` with
/// `now` the gateway's clock (within a minute of the test's).
fn assert_expired(r: &Response, date: &str, span_secs: i64, span: &str) {
    assert_eq!(r.status, 403, "{}", r.body_str());
    assert_eq!(
        r.header("x-amzn-ErrorType"),
        Some("InvalidSignatureException")
    );
    let message = r.json()["message"].as_str().unwrap().to_string();
    let prefix = format!("Signature expired: {date} is now earlier than ");
    let rest = message
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{message}"));
    let (earliest, rest) = rest.split_once(" (").unwrap();
    let (now, rest) = rest.split_once(" - ").unwrap();
    assert_eq!(rest, format!("{span})"), "{message}");
    assert_eq!(epoch(now) - epoch(earliest), span_secs, "{message}");
    let test_now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((epoch(now) - test_now).abs() < 60, "{message}");
    assert!(epoch(date) < epoch(earliest), "{message}");
}

#[test]
fn botocore_signed_requests_reach_the_integration() {
    let f = fixture();
    let signed = botocore(
        &f.gw,
        &[
            spec("alice", "GET", "/test/pets?type=dog&page=2"),
            with(
                spec("alice", "POST", "/test/pets"),
                "body",
                json!("{\"name\": \"rex\"}"),
            ),
            with(spec("alice", "GET", "/test/whoami"), "mode", json!("query")),
            spec("bob", "GET", "/test/pets"),
            spec("carol", "GET", "/test/pets"),
            with(spec("bob", "GET", "/test/pets"), "mode", json!("query")),
        ],
    );
    let r = send(&f.gw, "GET", &signed[0], &[], b"");
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.json()["query"], "type=dog&page=2");
    // The signed body reaches the backend intact.
    let r = send(&f.gw, "POST", &signed[1], &[], b"{\"name\": \"rex\"}");
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(
        f.backend.last_request().unwrap().body_str(),
        "{\"name\": \"rex\"}"
    );
    // Presigned URL; $context.identity is the caller's.
    assert!(signed[2].target.contains("X-Amz-Signature="));
    let r = send(&f.gw, "GET", &signed[2], &[], b"");
    assert_eq!(r.status, 200, "{}", r.body_str());
    let id = r.json();
    assert_eq!(id["accessKey"], "AKIDALICE");
    assert_eq!(id["accountId"], ACCOUNT);
    assert_eq!(id["userArn"], format!("arn:aws:iam::{ACCOUNT}:user/alice"));
    let caller = id["caller"].as_str().unwrap();
    assert!(caller.starts_with("AIDA") && caller.len() == 21, "{caller}");
    assert_eq!(id["user"], caller);
    // Temporary credentials with their session token.
    let r = send(&f.gw, "GET", &signed[3], &[], b"");
    assert_eq!(r.status, 200, "{}", r.body_str());
    // Carol has no identity policy: the resource policy names her.
    let r = send(&f.gw, "GET", &signed[4], &[], b"");
    assert_eq!(r.status, 200, "{}", r.body_str());
    // Presigned with a session token, which botocore puts in the query.
    assert!(signed[5]
        .target
        .contains("X-Amz-Security-Token=bob-session-token"));
    let r = send(&f.gw, "GET", &signed[5], &[], b"");
    assert_eq!(r.status, 200, "{}", r.body_str());
}

#[test]
fn attacks_are_refused_as_aws_refuses_them() {
    let f = fixture();
    let gw = &f.gw;
    let base = botocore(
        gw,
        &[
            spec("alice", "GET", "/test/pets?page=1"),
            with(
                spec("alice", "POST", "/test/pets"),
                "body",
                json!("original"),
            ),
            with(
                spec("alice", "GET", "/test/pets"),
                "headers",
                json!({"X-Tenant": "blue"}),
            ),
        ],
    );
    let time = base[0].header("X-Amz-Date").to_string();
    let at = |s: Value| with(s, "time", json!(time.clone()));
    // What the gateway must have computed for each altered request: botocore's canonical
    // strings for that request at the same time.
    let expect = botocore(
        gw,
        &[
            at(with(
                spec("alice", "GET", "/test/pets?page=1"),
                "secret",
                json!("wrong-secret"),
            )),
            at(spec("alice", "GET", "/test/pets?page=2")),
            at(spec("alice", "GET", "/test/secret?page=1")),
            at(with(
                spec("alice", "POST", "/test/pets"),
                "body",
                json!("tampered"),
            )),
        ],
    );
    let good = &base[0];

    // Unsigned.
    refused(
        &request(gw.addr, "GET", "/test/pets", &[], b""),
        403,
        "MissingAuthenticationTokenException",
        json!({"message": "Missing Authentication Token"}),
    );
    // Wrong secret.
    refused(
        &send(gw, "GET", &expect[0], &[], b""),
        403,
        "InvalidSignatureException",
        mismatch_body(&good.canonical_request, &good.string_to_sign),
    );
    // Altered query, path and body: the signature covers them.
    let altered_query = Signed {
        target: "/test/pets?page=2".into(),
        headers: good.headers.clone(),
        canonical_request: String::new(),
        string_to_sign: String::new(),
    };
    refused(
        &send(gw, "GET", &altered_query, &[], b""),
        403,
        "InvalidSignatureException",
        mismatch_body(&expect[1].canonical_request, &expect[1].string_to_sign),
    );
    let altered_path = Signed {
        target: "/test/secret?page=1".into(),
        ..altered_query
    };
    refused(
        &send(gw, "GET", &altered_path, &[], b""),
        403,
        "InvalidSignatureException",
        mismatch_body(&expect[2].canonical_request, &expect[2].string_to_sign),
    );
    refused(
        &send(gw, "POST", &base[1], &[], b"tampered"),
        403,
        "InvalidSignatureException",
        mismatch_body(&expect[3].canonical_request, &expect[3].string_to_sign),
    );
    assert_eq!(
        f.backend.hits(),
        0,
        "no refused request reached the backend"
    );
    // A signed header left out: its canonical line is empty.
    let mut stripped = Signed {
        target: base[2].target.clone(),
        headers: base[2].headers.clone(),
        canonical_request: String::new(),
        string_to_sign: String::new(),
    };
    assert_eq!(send(gw, "GET", &stripped, &[], b"").status, 200);
    stripped.headers.retain(|(k, _)| k != "X-Tenant");
    let r = send(gw, "GET", &stripped, &[], b"");
    assert_eq!(r.status, 403);
    assert_eq!(
        r.header("x-amzn-ErrorType"),
        Some("InvalidSignatureException")
    );
    let m = r.json()["message"].as_str().unwrap().to_string();
    assert!(m.contains("\nx-tenant:\n"), "{m}");
    // Unknown access key.
    let stranger = botocore(
        gw,
        &[
            json!({"mode": "header", "method": "GET", "path": "/test/pets", "key": "AKIDNOBODY", "secret": "x"}),
        ],
    );
    refused(
        &send(gw, "GET", &stranger[0], &[], b""),
        403,
        "UnrecognizedClientException",
        json!({"message": "The security token included in the request is invalid."}),
    );
    // Temporary credentials without their session token.
    let bare_bob = botocore(
        gw,
        &[with(spec("bob", "GET", "/test/pets"), "token", Value::Null)],
    );
    refused(
        &send(gw, "GET", &bare_bob[0], &[], b""),
        403,
        "UnrecognizedClientException",
        json!({"message": "The security token included in the request is invalid."}),
    );
    // Not SigV4 at all.
    refused(
        &request(
            gw.addr,
            "GET",
            "/test/pets",
            &[("Authorization", "Bearer sometoken")],
            b"",
        ),
        403,
        "IncompleteSignatureException",
        json!({"message": "'sometoken' not a valid key=value pair (missing equal-sign) in Authorization header: 'Bearer sometoken'."}),
    );
    refused(
        &request(
            gw.addr,
            "GET",
            "/test/pets",
            &[("Authorization", "eyJhbGciOiJIUzI1NiJ9.e30.x")],
            b"",
        ),
        403,
        "IncompleteSignatureException",
        json!({"message": "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=eyJhbGciOiJIUzI1NiJ9.e30.x"}),
    );
    // On a path that matches no method too (E1-E3 of the reference).
    refused(
        &request(
            gw.addr,
            "POST",
            "/test/nowhere",
            &[("Authorization", "Bearer sometoken")],
            b"",
        ),
        403,
        "IncompleteSignatureException",
        json!({"message": "'sometoken' not a valid key=value pair (missing equal-sign) in Authorization header: 'Bearer sometoken'."}),
    );
    refused(
        &request(gw.addr, "GET", "/test/nowhere", &[], b""),
        403,
        "MissingAuthenticationTokenException",
        json!({"message": "Missing Authentication Token"}),
    );
    // Replayed outside the ±5 minute window.
    let old = botocore(
        gw,
        &[with(spec("alice", "GET", "/test/pets"), "age", json!(600))],
    );
    let old_date = old[0].header("X-Amz-Date").to_string();
    assert_expired(
        &send(gw, "GET", &old[0], &[], b""),
        &old_date,
        300,
        "5 min.",
    );
    // A presigned URL past its expiry; the same URL within it works.
    let presigned = botocore(
        gw,
        &[
            with(
                with(
                    with(spec("alice", "GET", "/test/pets"), "mode", json!("query")),
                    "expires",
                    json!(60),
                ),
                "age",
                json!(120),
            ),
            with(
                with(
                    with(spec("alice", "GET", "/test/pets"), "mode", json!("query")),
                    "expires",
                    json!(600),
                ),
                "age",
                json!(120),
            ),
        ],
    );
    let date = presigned[0].target.split("X-Amz-Date=").nth(1).unwrap()[..16].to_string();
    assert_expired(
        &send(gw, "GET", &presigned[0], &[], b""),
        &date,
        60,
        "60 sec.",
    );
    assert_eq!(send(gw, "GET", &presigned[1], &[], b"").status, 200);
}

#[test]
fn identity_and_resource_policies_decide() {
    let f = fixture();
    let gw = &f.gw;
    let s = botocore(
        gw,
        &[
            spec("alice", "GET", "/test/secret"),
            spec("bob", "POST", "/test/pets"),
            spec("carol", "GET", "/test/secret"),
            spec("alice", "GET", "/test/blocked"),
        ],
    );
    // Explicit deny in alice's own policy wins over her allow.
    refused(
        &send(gw, "GET", &s[0], &[], b""),
        403,
        "AccessDeniedException",
        access_denied(
            &format!("arn:aws:iam::{ACCOUNT}:user/alice"),
            &arn("GET", "secret"),
            true,
        ),
    );
    // Bob's policy covers GET only: implicit deny.
    refused(
        &send(gw, "POST", &s[1], &[], b""),
        403,
        "AccessDeniedException",
        access_denied(
            &format!("arn:aws:iam::{ACCOUNT}:user/bob"),
            &arn("POST", "pets"),
            false,
        ),
    );
    // Carol is allowed /pets by the resource policy, nothing else.
    refused(
        &send(gw, "GET", &s[2], &[], b""),
        403,
        "AccessDeniedException",
        access_denied(
            &format!("arn:aws:iam::{ACCOUNT}:user/carol"),
            &arn("GET", "secret"),
            false,
        ),
    );
    // NONE methods: the resource policy alone decides for anonymous callers.
    let masked = |p: &str| arn("GET", p).replace(ACCOUNT, "********");
    let r = request(gw.addr, "GET", "/test/open", &[], b"");
    assert_eq!(r.status, 200, "{}", r.body_str());
    // Source IP condition: loopback callers are explicitly denied.
    refused(
        &request(gw.addr, "GET", "/test/blocked", &[], b""),
        403,
        "AccessDeniedException",
        access_denied("anonymous", &masked("blocked"), true),
    );
    // ... while NotIpAddress allows only non-loopback callers: implicit deny here.
    refused(
        &request(gw.addr, "GET", "/test/remote", &[], b""),
        403,
        "AccessDeniedException",
        access_denied("anonymous", &masked("remote"), false),
    );
    refused(
        &request(gw.addr, "GET", "/test/closed", &[], b""),
        403,
        "AccessDeniedException",
        access_denied("anonymous", &masked("closed"), false),
    );
    // The resource policy's explicit deny applies to a NONE method whatever the caller sends.
    let r = send(gw, "GET", &s[3], &[], b"");
    refused(
        &r,
        403,
        "AccessDeniedException",
        access_denied("anonymous", &masked("blocked"), true),
    );
    assert_eq!(f.backend.hits(), 1);
}

/// The method ARN names the path as routed (leading slashes and one trailing slash
/// dropped): extra slashes do not step around an explicit Deny.
#[test]
fn extra_slashes_do_not_escape_a_deny() {
    let f = fixture();
    let gw = &f.gw;
    let paths = [
        ("/test/secret/", "secret"),
        ("/test//secret", "secret"),
        ("/test///secret/", "secret"),
        ("/test//", ""),
        ("/test/", ""),
    ];
    let specs: Vec<Value> = paths.iter().map(|(p, _)| spec("alice", "GET", p)).collect();
    let s = botocore(gw, &specs);
    for ((path, resource), signed) in paths.iter().zip(&s) {
        assert_eq!(&signed.target, path, "botocore kept the path");
        refused(
            &send(gw, "GET", signed, &[], b""),
            403,
            "AccessDeniedException",
            access_denied(
                &format!("arn:aws:iam::{ACCOUNT}:user/alice"),
                &arn("GET", resource),
                true,
            ),
        );
    }
    assert_eq!(f.backend.hits(), 0);
}

/// The raw request head for `s` to `gw` with extra header lines (`Name: value\r\n` each).
fn head(gw: &Gateway, method: &str, s: &Signed, extra: &str) -> String {
    let mut h = format!("{method} {} HTTP/1.1\r\nHost: {}\r\n", s.target, gw.addr);
    for (k, v) in &s.headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str(extra);
    h.push_str("\r\n");
    h
}

/// A signed request whose client waits for `100 Continue` before sending its body gets it
/// once, before the body is read and verified, and no second one.
#[test]
fn signed_bodies_behind_expect_continue() {
    let f = fixture();
    let s = botocore(
        &f.gw,
        &[with(
            spec("alice", "POST", "/test/pets"),
            "body",
            json!("hello"),
        )],
    );
    let mut conn = Conn::open(f.gw.addr);
    let h = head(
        &f.gw,
        "POST",
        &s[0],
        "Content-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n",
    );
    conn.write(h.as_bytes()).unwrap();
    assert_eq!(
        read_interim(&conn, std::time::Duration::from_millis(1500)).as_deref(),
        Some("HTTP/1.1 100 Continue\r\n\r\n"),
        "no 100 Continue before the body"
    );
    conn.write(b"hello").unwrap();
    // The final answer next: no second 100.
    let answer = read_interim(&conn, std::time::Duration::from_secs(5)).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert_eq!(f.backend.last_request().unwrap().body_str(), "hello");
}

/// Credentials are checked before the body is read: a caller with an unknown key, a scope
/// for another region or a stale date is answered at once, its body never awaited.
#[test]
fn bad_credentials_are_refused_before_the_body() {
    let f = fixture();
    let gw = &f.gw;
    let stranger = json!({"mode": "header", "method": "POST", "path": "/test/pets",
        "key": "AKIDNOBODY", "secret": "x", "body": "hello"});
    let s = botocore(
        gw,
        &[
            stranger,
            with(
                with(spec("alice", "POST", "/test/pets"), "body", json!("hello")),
                "region",
                json!("eu-west-1"),
            ),
            with(
                with(spec("alice", "POST", "/test/pets"), "body", json!("hello")),
                "age",
                json!(900),
            ),
        ],
    );
    let wanted = [
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "InvalidSignatureException",
    ];
    for (signed, error_type) in s.iter().zip(wanted) {
        // A large body announced and never sent; and one behind `Expect`.
        for extra in [
            "Content-Length: 10000000\r\n",
            "Content-Length: 5\r\nExpect: 100-continue\r\n",
        ] {
            let mut conn = Conn::open(gw.addr);
            conn.write(head(gw, "POST", signed, extra).as_bytes())
                .unwrap();
            let answer = read_interim(&conn, std::time::Duration::from_secs(3))
                .unwrap_or_else(|| panic!("no answer without the body ({extra:?})"));
            assert!(answer.starts_with("HTTP/1.1 403 "), "{answer}");
            assert!(
                answer.to_ascii_lowercase().contains(&format!(
                    "x-amzn-errortype: {}",
                    error_type.to_ascii_lowercase()
                )),
                "{answer}"
            );
        }
    }
    assert_eq!(f.backend.hits(), 0);
}

#[test]
fn check_reports_bad_policies_with_their_line() {
    let dir = TempDir::new("tollgate-iam-check");
    let path = dir.write(
        "bad.yaml",
        dedent(
            r#"
            iam:
              users:
                - name: alice
                  accessKeyId: AKIDALICE
                  secretAccessKey: s
                  policies:
                    - Statement: [{Effect: Allow, Principal: "*", Action: "*", Resource: "*"}]
            restApis:
              - id: a
                policy:
                  Statement: [{Effect: Allow, Action: "execute-api:Invoke", Resource: "execute-api:/*"}]
                resources:
                  /x: {GET: {integration: {type: MOCK, requestTemplates: {application/json: '{"statusCode": 200}'}}}}
                stages: [{stageName: s}]
              - id: b
                policy:
                  Statement:
                    - {Effect: Allow, Principal: "*", Action: "execute-api:Invoke", Resource: "execute-api:/*"}
                    - {Effect: Deny, Principal: "*", Action: "execute-api:Invoke", Resource: "execute-api:/*", Condition: {StringNotEquals: {aws:SourceVpc: vpc-1}}}
                resources:
                  /x: {GET: {integration: {type: MOCK, requestTemplates: {application/json: '{"statusCode": 200}'}}}}
                stages: [{stageName: s}]
            "#,
        ),
    );
    let out = Command::new(tollgate_bin())
        .args(["check", "-c"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let file = path.display().to_string();
    assert!(
        text.contains(&format!("{file}:8:"))
            && text.contains("Statement[0]: an identity policy statement has no `Principal`"),
        "{text}"
    );
    assert!(
        text.contains(&format!("{file}:11:"))
            && text.contains("Statement[0]: a resource policy statement needs a `Principal`"),
        "{text}"
    );
    // A condition on a key the gateway cannot evaluate would never deny: refused.
    assert!(
        text.contains(&format!("{file}:17:"))
            && text.contains("Statement[1]: unsupported condition key `aws:SourceVpc`"),
        "{text}"
    );
}

/// An HTTPS server answering POSTs with the body it received.
const TLS_ECHO: &str = r#"
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
"#;

#[test]
fn signed_bodies_reach_a_tls_backend() {
    let server = HttpsServer::start(TLS_ECHO);
    let port = server.port;
    let gw = Gateway::start(&format!(
        r#"
        iam:
          users:
            - name: alice
              accessKeyId: AKIDALICE
              secretAccessKey: alice-secret
              policies: [{{Statement: [{{Effect: Allow, Action: "execute-api:Invoke", Resource: "*"}}]}}]
        restApis:
          - id: tlsapi
            resources:
              /up:
                POST:
                  authorizationType: AWS_IAM
                  integration:
                    type: HTTP_PROXY
                    httpMethod: POST
                    uri: "https://localhost:{port}/up"
                    tlsConfig: {{insecureSkipVerification: true}}
            stages: [{{stageName: test}}]
        "#
    ));
    let small = "x".repeat(1000);
    let big = "y".repeat(70 * 1024);
    let s = botocore(
        &gw,
        &[
            with(spec("alice", "POST", "/test/up"), "body", json!(small)),
            with(spec("alice", "POST", "/test/up"), "body", json!(big)),
        ],
    );
    let r = send(&gw, "POST", &s[0], &[], small.as_bytes());
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.body_str(), small);
    // A body read early to check its signature is sent whole, whatever its size.
    let r = send(&gw, "POST", &s[1], &[], big.as_bytes());
    assert_eq!(r.status, 200);
    assert!(
        r.body_str() == big,
        "the backend got {} bytes",
        r.body.len()
    );
}

/// A Lambda proxy integration behind AWS_IAM sees the caller in `requestContext.identity`.
#[test]
fn lambda_proxy_events_carry_the_iam_caller() {
    let funcs = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/functions");
    let uri = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:python/invocations";
    let gw = Gateway::start(&format!(
        r#"
        functions:
          python: {{command: ["python3", "-m", "awslambdaric", "echo.handler"], workingDirectory: "{funcs}", timeout: 10}}
        iam:
          users:
            - name: alice
              accessKeyId: AKIDALICE
              secretAccessKey: alice-secret
              policies: [{{Statement: [{{Effect: Allow, Action: "execute-api:Invoke", Resource: "*"}}]}}]
        restApis:
          - id: lambdaiam
            resources:
              /fn:
                POST:
                  authorizationType: AWS_IAM
                  integration: {{type: AWS_PROXY, httpMethod: POST, uri: "{uri}"}}
            stages: [{{stageName: test}}]
        "#
    ));
    let s = botocore(
        &gw,
        &[with(
            spec("alice", "POST", "/test/fn"),
            "body",
            json!("{\"a\":1}"),
        )],
    );
    let r = send(&gw, "POST", &s[0], &[], b"{\"a\":1}");
    assert_eq!(r.status, 200, "{}", r.body_str());
    let event = &r.json()["raw"];
    assert_eq!(event["body"], "{\"a\":1}");
    let id = &event["requestContext"]["identity"];
    assert_eq!(id["accessKey"], "AKIDALICE");
    assert_eq!(id["accountId"], ACCOUNT);
    assert_eq!(id["userArn"], format!("arn:aws:iam::{ACCOUNT}:user/alice"));
    assert!(id["caller"].as_str().unwrap().starts_with("AIDA"));
    assert_eq!(id["user"], id["caller"]);
}

/// A method ARN over 1600 bytes (long path parameter values) is answered 414 when the method
/// is authorized or the API has a resource policy, before any authorization; a request signed
/// by botocore included. Methods without either take any length.
#[test]
fn method_arns_over_1600_bytes_are_refused_with_414() {
    let backend = Backend::start();
    let iam = r#"
    iam:
      users:
        - name: alice
          accessKeyId: AKIDALICE
          secretAccessKey: alice-secret
          policies: [{Statement: [{Effect: Allow, Action: "execute-api:Invoke", Resource: "*"}]}]
    restApis:
      - id: arnapi
        resources:
          /items/{id}:
            GET:
              authorizationType: AWS_IAM
              integration: {type: HTTP_PROXY, httpMethod: ANY, uri: "{B}/echo"}
          /open/{id}:
            GET: {integration: {type: HTTP_PROXY, httpMethod: ANY, uri: "{B}/echo"}}
        stages: [{stageName: test}]
"#;
    let with_policy = r#"
    restApis:
      - id: polapi
        policy:
          Statement:
            - {Effect: Allow, Principal: "*", Action: "execute-api:Invoke", Resource: "execute-api:/*"}
        resources:
          /open/{id}:
            GET: {integration: {type: HTTP_PROXY, httpMethod: ANY, uri: "{B}/echo"}}
        stages: [{stageName: test}]
"#;
    let gw = Gateway::start(&iam.replace("{B}", &backend.url()));
    // A path to `res` whose method ARN is exactly `len` bytes long.
    let path = |api: &str, res: &str, len: usize| {
        let prefix = format!("arn:aws:execute-api:us-east-1:{ACCOUNT}:{api}/test/GET/{res}/");
        format!("/test/{res}/{}", "x".repeat(len - prefix.len()))
    };
    let too_long = |r: &Response| {
        assert_eq!(r.status, 414, "{}", r.body_str());
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.json(), json!({"message": "Request URI too long"}));
    };

    let at_limit = path("arnapi", "items", 1600);
    let over = path("arnapi", "items", 1601);
    // At the limit the request goes on to authorization; one byte more is refused first.
    let r = request(gw.addr, "GET", &at_limit, &[], b"");
    refused(
        &r,
        403,
        "MissingAuthenticationTokenException",
        json!({"message": "Missing Authentication Token"}),
    );
    too_long(&request(gw.addr, "GET", &over, &[], b""));
    let signed = botocore(
        &gw,
        &[spec("alice", "GET", &at_limit), spec("alice", "GET", &over)],
    );
    let r = send(&gw, "GET", &signed[0], &[], b"");
    assert_eq!(r.status, 200, "{}", r.body_str());
    too_long(&send(&gw, "GET", &signed[1], &[], b""));
    assert_eq!(
        backend.requests().len(),
        1,
        "only the request at the limit got through"
    );
    // No authorization and no resource policy: no limit.
    let r = request(gw.addr, "GET", &path("arnapi", "open", 3000), &[], b"");
    assert_eq!(r.status, 200, "{}", r.body_str());

    // A resource policy limits a method without authorization.
    let gw = Gateway::start(&with_policy.replace("{B}", &backend.url()));
    let r = request(gw.addr, "GET", &path("polapi", "open", 1600), &[], b"");
    assert_eq!(r.status, 200, "{}", r.body_str());
    too_long(&request(
        gw.addr,
        "GET",
        &path("polapi", "open", 1601),
        &[],
        b"",
    ));
}

/// Temporary credentials carry an `expiration`: past it, their session token gets AWS's
/// ExpiredToken refusal (header and presigned forms); before it, they sign as usual.
#[test]
fn expired_temporary_credentials_are_refused() {
    let yaml = r#"
    iam:
      users:
        - name: old
          accessKeyId: AKIDOLD
          secretAccessKey: old-secret
          sessionToken: old-token
          expiration: "2020-01-01T00:00:00Z"
          policies: [{Statement: [{Effect: Allow, Action: "execute-api:Invoke", Resource: "*"}]}]
        - name: fresh
          accessKeyId: AKIDFRESH
          secretAccessKey: fresh-secret
          sessionToken: fresh-token
          expiration: "2100-01-01T00:00:00Z"
          policies: [{Statement: [{Effect: Allow, Action: "execute-api:Invoke", Resource: "*"}]}]
    restApis:
      - id: tempapi
        resources:
          /whoami:
            GET:
              authorizationType: AWS_IAM
              methodResponses: [{statusCode: "200"}]
              integration:
                type: MOCK
                requestTemplates: {application/json: '{"statusCode": 200}'}
                integrationResponses:
                  - statusCode: "200"
                    responseTemplates: {application/json: '{"user":"$context.identity.userArn"}'}
        stages: [{stageName: test}]
"#;
    let gw = Gateway::start(yaml);
    let temp = |key: &str, secret: &str, token: &str, mode: &str| {
        json!({"mode": mode, "method": "GET", "path": "/test/whoami", "key": key,
               "secret": secret, "token": token})
    };
    let signed = botocore(
        &gw,
        &[
            temp("AKIDOLD", "old-secret", "old-token", "header"),
            temp("AKIDOLD", "old-secret", "old-token", "query"),
            temp("AKIDFRESH", "fresh-secret", "fresh-token", "header"),
        ],
    );
    for s in &signed[..2] {
        let r = send(&gw, "GET", s, &[], b"");
        refused(
            &r,
            403,
            "ExpiredTokenException",
            json!({"message": "The security token included in the request is expired"}),
        );
    }
    let r = send(&gw, "GET", &signed[2], &[], b"");
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(
        r.json()["user"],
        format!("arn:aws:iam::{ACCOUNT}:user/fresh")
    );
}
