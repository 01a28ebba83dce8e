//! AWS service integrations end to end: a real `tollgate` signs SQS calls to a real
//! AWS-compatible server (moto, checking SigV4 signatures), and boto3 reads the result back.
//! Needs `python3` with `moto[server]` and `boto3` (scripts/deps.sh installs them).

mod common;
use common::*;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SQS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/aws/sqs.py");

/// A moto server on a free loopback port; killed on drop.
struct Moto {
    port: u16,
    child: Child,
}

impl Moto {
    fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            // Signatures are checked once the set-up calls (IAM user, key, queue) are done.
            .env("INITIAL_NO_AUTH_ACTION_COUNT", "4")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m moto.server (install with scripts/deps.sh)");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "moto did not start on {addr}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto { port, child }
    }

    /// Runs `tests/aws/sqs.py CMD PORT ARGS…` and parses its JSON output.
    fn boto3(&self, cmd: &str, args: &[&str]) -> serde_json::Value {
        let out = Command::new("python3")
            .arg(SQS)
            .arg(cmd)
            .arg(self.port.to_string())
            .args(args)
            .output()
            .expect("run sqs.py");
        assert!(
            out.status.success(),
            "sqs.py {cmd} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("sqs.py prints JSON")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `{SQS}` is moto's URL.
const API: &str = r#"
    awsEndpoints: {sqs: "{SQS}"}
    restApis:
      - id: queueapi
        resources:
          /messages:
            POST:
              methodResponses: [{statusCode: "200"}, {statusCode: "400"}]
              integration:
                type: AWS
                httpMethod: POST
                uri: "arn:aws:apigateway:us-east-1:sqs:path/123456789012/tollgate-q"
                requestParameters:
                  integration.request.header.Content-Type: "'application/x-www-form-urlencoded'"
                requestTemplates:
                  application/json: "Action=SendMessage&MessageBody=$util.urlEncode($input.body)"
                integrationResponses:
                  - statusCode: "400"
                    selectionPattern: "4\\d{2}"
                    responseTemplates:
                      application/json: '{"refused": true}'
                  - statusCode: "200"
                    responseTemplates:
                      application/json: |
                        #set($id = $input.body.replaceAll("(?s).*<MessageId>(.*)</MessageId>.*", "$1"))
                        {"queued": true, "messageId": "$id"}
        stages:
          - stageName: prod
"#;

#[test]
fn sqs_send_message_through_a_mapping_template() {
    let moto = Moto::start();
    let setup = moto.boto3("setup", &[]);
    let (id, secret, queue) = (
        setup["id"].as_str().unwrap(),
        setup["secret"].as_str().unwrap(),
        setup["queue"].as_str().unwrap(),
    );
    let yaml = API.replace("{SQS}", &format!("http://127.0.0.1:{}", moto.port));
    let gw = Gateway::start_with_env(
        &yaml,
        &[("AWS_ACCESS_KEY_ID", id), ("AWS_SECRET_ACCESS_KEY", secret)],
    );
    let message = r#"{"order": 17, "note": "fish & chips + 100% more"}"#;
    let r = gw.request(
        "POST",
        "/prod/messages",
        &[("Content-Type", "application/json")],
        message.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    let body = r.json();
    assert_eq!(body["queued"], true);
    let message_id = body["messageId"].as_str().unwrap_or_default();
    assert!(
        message_id.len() >= 32 && !message_id.contains('<'),
        "{body}"
    );
    let received = moto.boto3("receive", &[id, secret, queue]);
    assert_eq!(received, serde_json::json!([message]));

    // Wrong credentials: moto refuses the signature (403), which selects the 4xx response.
    let wrong = Gateway::start_with_env(
        &yaml,
        &[
            ("AWS_ACCESS_KEY_ID", id),
            ("AWS_SECRET_ACCESS_KEY", "not-the-secret"),
        ],
    );
    let r = wrong.request(
        "POST",
        "/prod/messages",
        &[("Content-Type", "application/json")],
        b"{}",
    );
    assert_eq!(r.status, 400, "{}", r.body_str());
    assert_eq!(r.json()["refused"], true);
}

/// `credentials` naming a user of `iam.users`: the integration signs with that user's keys,
/// with no credentials in the environment.
#[test]
fn integration_credentials_name_an_iam_user() {
    let moto = Moto::start();
    let setup = moto.boto3("setup", &[]);
    let (id, secret, queue) = (
        setup["id"].as_str().unwrap(),
        setup["secret"].as_str().unwrap(),
        setup["queue"].as_str().unwrap(),
    );
    let users = format!(
        "    iam:\n      users: [{{name: sqs-writer, accessKeyId: \"{id}\", secretAccessKey: \"{secret}\"}}]\n"
    );
    let yaml = format!("{users}{}", API)
        .replace("{SQS}", &format!("http://127.0.0.1:{}", moto.port))
        .replace(
            "                httpMethod: POST\n                uri:",
            "                httpMethod: POST\n                credentials: \"arn:aws:iam::123456789012:user/sqs-writer\"\n                uri:",
        );
    assert!(yaml.contains("credentials:"));
    let gw = Gateway::start_with_env(
        &yaml,
        &[("AWS_ACCESS_KEY_ID", ""), ("AWS_SECRET_ACCESS_KEY", "")],
    );
    let r = gw.request(
        "POST",
        "/prod/messages",
        &[("Content-Type", "application/json")],
        b"\"signed as sqs-writer\"",
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.json()["queued"], true);
    let received = moto.boto3("receive", &[id, secret, queue]);
    assert_eq!(received, serde_json::json!(["\"signed as sqs-writer\""]));
}

#[test]
fn missing_credentials_are_a_server_error() {
    let yaml = API.replace("{SQS}", "http://127.0.0.1:9");
    let gw = Gateway::start_with_env(
        &yaml,
        &[("AWS_ACCESS_KEY_ID", ""), ("AWS_SECRET_ACCESS_KEY", "")],
    );
    let r = gw.request(
        "POST",
        "/prod/messages",
        &[("Content-Type", "application/json")],
        b"{}",
    );
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["message"], "Internal server error");
}
