//! What an AWS_IAM request costs before its integration: SigV4 verification (header and
//! presigned forms, the signing key cached) and policy evaluation on the method ARN.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use tollgate::auth::policy::{Attached, Caller, Policy, Request};
use tollgate::auth::sigv4::{self, Credentials, Payload, Settings};
use tollgate::auth::verify::{verify, Expected, SecretKey, SignedRequest};

const KEY: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn bench(c: &mut Criterion) {
    let now = sigv4::parse_amz_date("20260101T000000Z").unwrap();
    let creds = Credentials {
        access_key_id: KEY.into(),
        secret_access_key: SECRET.into(),
        session_token: None,
    };
    let base = [
        ("Host", "abc123.execute-api.us-east-1.amazonaws.com"),
        ("User-Agent", "aws-sdk-rust/1.0"),
        ("Content-Type", "application/json"),
    ];
    let body = br#"{"name":"rex","type":"dog","price":25}"#;
    let signed = sigv4::sign(
        &sigv4::Request {
            method: "POST",
            path: "/prod/pets/42",
            query: "type=dog&page=2",
            headers: &base,
            payload: Payload::Bytes(body),
        },
        &creds,
        "us-east-1",
        "execute-api",
        now,
        &Settings::DEFAULT,
    );
    let mut headers: Vec<(&str, &str)> = base.to_vec();
    headers.extend(signed.headers.iter().map(|(k, v)| (*k, v.as_str())));
    let req = SignedRequest {
        method: "POST",
        path: "/prod/pets/42",
        query: "type=dog&page=2",
        headers: &headers,
        body,
    };
    let secret = SecretKey::new(SECRET, None);
    let expected = Expected {
        region: "us-east-1",
        service: "execute-api",
    };
    let lookup = |k: &str| (k == KEY).then_some((&(), &secret));
    assert!(verify(&req, &expected, now, lookup).is_ok());
    c.bench_function("sigv4 verify (header, 40-byte body)", |b| {
        b.iter(|| verify(black_box(&req), &expected, now, lookup).is_ok())
    });

    let policy = Policy::compile(
        &serde_json::json!({"Statement":[
            {"Effect":"Allow","Principal":"*","Action":"execute-api:Invoke","Resource":"execute-api:/*"},
            {"Effect":"Deny","Principal":"*","Action":"execute-api:Invoke","Resource":"execute-api:/*/DELETE/*",
             "Condition":{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}}},
            {"Effect":"Deny","Principal":"*","Action":"execute-api:Invoke","Resource":"execute-api:/*",
             "Condition":{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}}]}),
        Attached::Resource {
            region: "us-east-1",
            account: "123456789012",
            api_id: "abc123",
        },
    )
    .unwrap();
    let preq = Request {
        action: "execute-api:Invoke",
        resource: "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/POST/pets/42",
        caller: Caller::Anonymous,
        source_ip: Some("198.51.100.7".parse().unwrap()),
        user_agent: None,
        referer: None,
        secure_transport: false,
    };
    c.bench_function("resource policy (3 statements, IP conditions)", |b| {
        b.iter(|| policy.evaluate(black_box(&preq)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
