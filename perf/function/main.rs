//! One handler served two ways, for `perf/lambda.sh`: as a Lambda function on the Runtime API
//! (`lambda_runtime`, what Tollgate's local `command` functions run) and as a plain HTTP/1.1
//! server (what an HTTP_PROXY integration reaches). Comparing the two measures what the Lambda
//! path (event, Runtime API round trip, result parsing) costs over proxying to the same code.
//!
//! `perf_function` runs on the Runtime API named by `AWS_LAMBDA_RUNTIME_API`;
//! `perf_function --http 127.0.0.1:PORT` serves HTTP (keep-alive, GET/HEAD without bodies).

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderValue, Method};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The handler both servers run: a small JSON greeting naming the path.
fn handler(req: &ApiGatewayProxyRequest) -> ApiGatewayProxyResponse {
    let path = req.path.as_deref().unwrap_or("/");
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    let mut resp = ApiGatewayProxyResponse::default();
    resp.status_code = 200;
    resp.headers = headers;
    resp.body = Some(Body::Text(format!(
        "{{\"message\":\"hello from {}\"}}",
        path.rsplit('/').next().unwrap_or("")
    )));
    resp
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("--http") => {
            let addr = args.get(2).ok_or("--http needs an address")?;
            serve_http(TcpListener::bind(addr).await?).await
        }
        _ => {
            lambda_runtime::run(service_fn(
                |e: LambdaEvent<ApiGatewayProxyRequest>| async move {
                    Ok::<_, Error>(handler(&e.payload))
                },
            ))
            .await
        }
    }
}

async fn serve_http(listener: TcpListener) -> Result<(), Error> {
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let _ = connection(stream).await;
        });
    }
}

/// Answers requests on one keep-alive connection until the client closes it.
async fn connection(mut stream: TcpStream) -> Result<(), Error> {
    let mut buf = Vec::with_capacity(4096);
    loop {
        let (head_len, method, path) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut req = httparse::Request::new(&mut headers);
            if let httparse::Status::Complete(n) = req.parse(&buf)? {
                let method = Method::from_bytes(req.method.unwrap_or("GET").as_bytes())?;
                break (n, method, req.path.unwrap_or("/").to_string());
            }
            let mut chunk = [0u8; 4096];
            let read = stream.read(&mut chunk).await?;
            if read == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..read]);
        };
        buf.drain(..head_len);
        let mut req = ApiGatewayProxyRequest::default();
        req.http_method = method;
        req.path = Some(path);
        let resp = handler(&req);
        let body = match &resp.body {
            Some(Body::Text(t)) => t.as_bytes(),
            _ => b"",
        };
        let mut out = format!("HTTP/1.1 {} OK\r\n", resp.status_code);
        for (k, v) in &resp.headers {
            out.push_str(&format!("{k}: {}\r\n", v.to_str().unwrap_or("")));
        }
        out.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(body);
        stream.write_all(&bytes).await?;
    }
}
