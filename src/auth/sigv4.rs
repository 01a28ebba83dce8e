//! AWS Signature Version 4 (header form): the canonical request, the string to sign, the
//! signing key and the signature, and [`sign`] for outgoing calls to AWS services.
//!
//! Pure code: no I/O, no clock (the caller passes the time). The building blocks are public
//! so that verifying an incoming request can re-derive the same strings from what the client
//! sent.

use crate::utc::{days_from_civil, DateTime};
use percent_encoding::{percent_decode_str, percent_encode, AsciiSet, NON_ALPHANUMERIC};
use ring::{digest, hmac};
use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The algorithm name in the string to sign and in `Authorization`.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The payload hash of a request that does not sign its body.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// SHA-256 of the empty string.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// RFC 3986 unreserved characters stay as they are; every other byte is `%XX`.
pub const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// A path encoded once: `/` separates segments.
pub const PATH: &AsciiSet = &UNRESERVED.remove(b'/');
/// A path that is already encoded: existing `%XX` escapes are kept.
const ENCODED_PATH: &AsciiSet = &PATH.remove(b'%');

/// An access key, its secret and, for temporary credentials, the session token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// How a service wants its requests canonicalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Encode the (already encoded) path once more: every service but S3.
    pub double_encode_path: bool,
    /// Remove `.`/`..` segments and empty segments from the path: every service but S3.
    pub normalize_path: bool,
    /// Send and sign `X-Amz-Content-Sha256` (S3).
    pub content_sha256_header: bool,
    /// Sign `X-Amz-Security-Token`; false adds it after signing, as a few services want.
    pub sign_session_token: bool,
}

impl Settings {
    /// Every service but S3.
    pub const DEFAULT: Settings = Settings {
        double_encode_path: true,
        normalize_path: true,
        content_sha256_header: false,
        sign_session_token: true,
    };
    /// S3: the path is signed as sent, and the payload hash travels in a header.
    pub const S3: Settings = Settings {
        double_encode_path: false,
        normalize_path: false,
        content_sha256_header: true,
        sign_session_token: true,
    };

    /// The settings for a signing name (`s3`, `sqs`, ...).
    pub fn for_service(signing_name: &str) -> Settings {
        match signing_name {
            "s3" | "s3-object-lambda" | "s3-outposts" | "s3express" => Settings::S3,
            _ => Settings::DEFAULT,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings::DEFAULT
    }
}

/// The body as the signature covers it.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    Bytes(&'a [u8]),
    /// `UNSIGNED-PAYLOAD`.
    Unsigned,
    /// A hex SHA-256 computed elsewhere.
    Hash(&'a str),
}

impl Payload<'_> {
    pub fn hash(&self) -> String {
        match self {
            Payload::Bytes(b) => sha256_hex(b),
            Payload::Unsigned => UNSIGNED_PAYLOAD.to_string(),
            Payload::Hash(h) => h.to_string(),
        }
    }
}

/// The parts of a request that the signature covers.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The path as sent on the wire (percent-encoded), without the query.
    pub path: &'a str,
    /// The query string as sent, without `?` ("" for none).
    pub query: &'a str,
    /// Every header to sign, `Host` included. `Authorization` and the headers [`sign`] adds
    /// are ignored here.
    pub headers: &'a [(&'a str, &'a str)],
    pub payload: Payload<'a>,
}

/// What [`sign`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// Headers to add to the request: `X-Amz-Date`, then `X-Amz-Security-Token` and
    /// `X-Amz-Content-Sha256` when they apply, then `Authorization`.
    pub headers: Vec<(&'static str, String)>,
    pub canonical_request: String,
    pub string_to_sign: String,
    pub signature: String,
}

/// Headers the signer owns: whatever the caller passes under these names is not signed.
const SIGNER_HEADERS: &[&str] = &[
    "authorization",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
];

/// Signs `req` for `service` in `region` at `time`.
pub fn sign(
    req: &Request,
    creds: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
    settings: &Settings,
) -> Signed {
    let amz_date = amz_date(time);
    let payload_hash = req.payload.hash();
    let token = creds.session_token.as_deref();
    let mut headers: Vec<(&str, &str)> = req
        .headers
        .iter()
        .filter(|(k, _)| {
            !SIGNER_HEADERS
                .iter()
                .any(|s| k.trim().eq_ignore_ascii_case(s))
        })
        .copied()
        .collect();
    headers.push(("x-amz-date", &amz_date));
    if let (Some(t), true) = (token, settings.sign_session_token) {
        headers.push(("x-amz-security-token", t));
    }
    if settings.content_sha256_header {
        headers.push(("x-amz-content-sha256", &payload_hash));
    }
    let ch = canonical_headers(headers);
    let canonical_request = canonical_request(
        req.method,
        &canonical_uri(req.path, settings),
        &canonical_query(req.query),
        &ch,
        &payload_hash,
    );
    let date = &amz_date[..8];
    let scope = scope(date, region, service);
    let string_to_sign = string_to_sign(&amz_date, &scope, &canonical_request);
    let key = signing_key(&creds.secret_access_key, date, region, service);
    let signature = signature(&key, &string_to_sign);
    let mut out = vec![("X-Amz-Date", amz_date.clone())];
    if let Some(t) = token {
        out.push(("X-Amz-Security-Token", t.to_string()));
    }
    if settings.content_sha256_header {
        out.push(("X-Amz-Content-Sha256", payload_hash));
    }
    out.push((
        "Authorization",
        authorization(&creds.access_key_id, &scope, &ch.signed_headers, &signature),
    ));
    Signed {
        headers: out,
        canonical_request,
        string_to_sign,
        signature,
    }
}

/// The canonical URI: the path normalised and encoded as `settings` say; "/" when empty.
pub fn canonical_uri(path: &str, settings: &Settings) -> String {
    let normalized;
    let path = if settings.normalize_path {
        normalized = normalize_path(path);
        normalized.as_str()
    } else {
        path
    };
    let set = if settings.double_encode_path {
        PATH
    } else {
        ENCODED_PATH
    };
    let out: String = percent_encode(path.as_bytes(), set).collect();
    if out.is_empty() {
        "/".to_string()
    } else {
        out
    }
}

/// Removes empty, `.` and `..` segments (RFC 3986 §5.2.4, plus `//` → `/`); a path that ended
/// in a slash or a dot segment keeps its trailing slash.
pub fn normalize_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for s in path.split('/') {
        match s {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(path.len() + 1);
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    let trailing = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
    if segments.is_empty() || trailing {
        out.push('/');
    }
    out
}

/// The canonical query string: each name and value decoded, then encoded (unreserved
/// characters kept, `%XX` in upper case), sorted by name and then value, joined with `&`.
pub fn canonical_query(query: &str) -> String {
    canonical_query_without(query, |_| false)
}

/// [`canonical_query`] without the parameters whose raw name `skip` accepts (a presigned
/// request leaves out its `X-Amz-Signature`).
pub fn canonical_query_without(query: &str, skip: impl Fn(&str) -> bool) -> String {
    let mut pairs: Vec<(Cow<str>, Cow<str>)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| !skip(p.split_once('=').map_or(*p, |(k, _)| k)))
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (reencode(k), reencode(v))
        })
        .collect();
    pairs.sort_unstable();
    let mut out = String::with_capacity(query.len() + 8);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Decoded, then encoded as [`UNRESERVED`] says; a name or value of unreserved characters
/// only is already that.
fn reencode(s: &str) -> Cow<'_, str> {
    if s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
    {
        return Cow::Borrowed(s);
    }
    let bytes: Vec<u8> = percent_decode_str(s).collect();
    Cow::Owned(percent_encode(&bytes, UNRESERVED).collect())
}

/// Encodes a query name or value the way the canonical query string wants it, so that what
/// is sent and what is signed are the same bytes.
pub fn encode_query_component(s: &str) -> String {
    percent_encode(s.as_bytes(), UNRESERVED).collect()
}

/// Canonical headers (`name:value\n` lines) and the signed header list (`a;b;c`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalHeaders {
    pub canonical: String,
    pub signed_headers: String,
}

/// Names lower-cased and trimmed; values trimmed with inner runs of whitespace folded to one
/// space; repeated names joined with `,` in the order given; sorted by name.
pub fn canonical_headers<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> CanonicalHeaders {
    let mut list: Vec<(String, String)> = headers
        .into_iter()
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), fold_whitespace(v)))
        .collect();
    list.sort_by(|a, b| a.0.cmp(&b.0)); // stable: repeated names keep their order
    let mut canonical = String::new();
    let mut signed_headers = String::new();
    let mut i = 0;
    while i < list.len() {
        let name = &list[i].0;
        if !signed_headers.is_empty() {
            signed_headers.push(';');
        }
        signed_headers.push_str(name);
        canonical.push_str(name);
        canonical.push(':');
        let mut j = i;
        while j < list.len() && list[j].0 == *name {
            if j > i {
                canonical.push(',');
            }
            canonical.push_str(&list[j].1);
            j += 1;
        }
        canonical.push('\n');
        i = j;
    }
    CanonicalHeaders {
        canonical,
        signed_headers,
    }
}

/// A header value as the canonical headers hold it: trimmed, inner runs of whitespace
/// (line folds included) replaced by one space.
pub fn fold_whitespace(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for word in v.split_ascii_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The canonical request from its canonical parts.
pub fn canonical_request(
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    headers: &CanonicalHeaders,
    payload_hash: &str,
) -> String {
    format!(
        "{method}\n{canonical_uri}\n{canonical_query}\n{}\n{}\n{payload_hash}",
        headers.canonical, headers.signed_headers
    )
}

/// The credential scope: `{yyyymmdd}/{region}/{service}/aws4_request`.
pub fn scope(date: &str, region: &str, service: &str) -> String {
    format!("{date}/{region}/{service}/aws4_request")
}

/// The string to sign for a canonical request.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// A derived signing key; valid for one date, region and service, so it can be cached.
#[derive(Clone)]
pub struct SigningKey(hmac::Key);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

/// `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> SigningKey {
    let raw = derive_key(secret, date, region, service);
    SigningKey(hmac::Key::new(hmac::HMAC_SHA256, raw.as_ref()))
}

fn derive_key(secret: &str, date: &str, region: &str, service: &str) -> hmac::Tag {
    let step = |key: &[u8], data: &str| {
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes())
    };
    let k_date = step(format!("AWS4{secret}").as_bytes(), date);
    let k_region = step(k_date.as_ref(), region);
    let k_service = step(k_region.as_ref(), service);
    step(k_service.as_ref(), "aws4_request")
}

/// The hex signature of a string to sign.
pub fn signature(key: &SigningKey, string_to_sign: &str) -> String {
    hex(hmac::sign(&key.0, string_to_sign.as_bytes()).as_ref())
}

/// The `Authorization` header value.
pub fn authorization(
    access_key_id: &str,
    scope: &str,
    signed_headers: &str,
    signature: &str,
) -> String {
    format!("{ALGORITHM} Credential={access_key_id}/{scope}, SignedHeaders={signed_headers}, Signature={signature}")
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, data).as_ref())
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// `YYYYMMDDTHHMMSSZ` (UTC); times before 1970 are taken as 1970.
pub fn amz_date(time: SystemTime) -> String {
    let t = DateTime::of(time);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// Parses `YYYYMMDDTHHMMSSZ` (the `X-Amz-Date` form).
pub fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, se) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let days = days_from_civil(y as i64, mo as u32, d as u32);
    let secs = u64::try_from(days).ok()? * 86_400 + h * 3600 + mi * 60 + se;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        }
    }

    #[test]
    fn dates_round_trip() {
        let t = parse_amz_date("20150830T123600Z").unwrap();
        assert_eq!(
            t.duration_since(UNIX_EPOCH).unwrap().as_secs(),
            1_440_938_160
        );
        assert_eq!(amz_date(t), "20150830T123600Z");
        for s in ["20000229T000000Z", "19700101T000000Z", "21001231T235959Z"] {
            assert_eq!(amz_date(parse_amz_date(s).unwrap()), s);
        }
        for bad in [
            "2015-08-30T12:36:00Z",
            "20151330T123600Z",
            "20150830T123600",
            "2015083xT123600Z",
        ] {
            assert!(parse_amz_date(bad).is_none(), "{bad}");
        }
    }

    /// The key-derivation example of AWS's SigV4 documentation.
    #[test]
    fn signing_key_matches_the_documented_example() {
        let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        assert_eq!(
            hex(derive_key(secret, "20120215", "us-east-1", "iam").as_ref()),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
        let key = signing_key(secret, "20120215", "us-east-1", "iam");
        let direct = hmac::Key::new(
            hmac::HMAC_SHA256,
            derive_key(secret, "20120215", "us-east-1", "iam").as_ref(),
        );
        assert_eq!(
            signature(&key, "x"),
            hex(hmac::sign(&direct, b"x").as_ref())
        );
    }

    #[test]
    fn paths() {
        let d = Settings::DEFAULT;
        assert_eq!(canonical_uri("", &d), "/");
        assert_eq!(canonical_uri("/a/b/../c/./d//", &d), "/a/c/d/");
        assert_eq!(canonical_uri("/a%3Ab c", &d), "/a%253Ab%20c");
        let s3 = Settings::S3;
        assert_eq!(
            canonical_uri("/bucket/a%3Ab c//..", &s3),
            "/bucket/a%3Ab%20c//.."
        );
        assert_eq!(normalize_path("/.."), "/");
        assert_eq!(normalize_path("/a/b/.."), "/a/");
    }

    #[test]
    fn queries() {
        assert_eq!(canonical_query(""), "");
        assert_eq!(
            canonical_query("b=2&a=%7e&a=1&c&&d=x+y%2fz"),
            "a=1&a=~&b=2&c=&d=x%2By%2Fz"
        );
        assert_eq!(encode_query_component("a b/ü~"), "a%20b%2F%C3%BC~");
    }

    #[test]
    fn headers_fold_and_join() {
        let h = canonical_headers([
            ("Host", " example.com "),
            ("X-B", "a\n   b\tc"),
            ("x-a", "2"),
            ("X-A", "1"),
        ]);
        assert_eq!(h.canonical, "host:example.com\nx-a:2,1\nx-b:a b c\n");
        assert_eq!(h.signed_headers, "host;x-a;x-b");
    }

    #[test]
    fn sign_adds_the_headers_the_service_wants() {
        let time = parse_amz_date("20150830T123600Z").unwrap();
        let headers = [("Host", "example.amazonaws.com"), ("Authorization", "old")];
        let req = Request {
            method: "GET",
            path: "/",
            query: "",
            headers: &headers,
            payload: Payload::Bytes(b""),
        };
        let s = sign(
            &req,
            &creds(),
            "us-east-1",
            "service",
            time,
            &Settings::DEFAULT,
        );
        // AWS suite case get-vanilla.
        assert_eq!(
            s.signature,
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
        let names: Vec<_> = s.headers.iter().map(|(k, _)| *k).collect();
        assert_eq!(names, ["X-Amz-Date", "Authorization"]);
        assert!(s.headers[1].1.contains("SignedHeaders=host;x-amz-date,"));

        let mut temp = creds();
        temp.session_token = Some("TOKEN".into());
        let s = sign(&req, &temp, "us-east-1", "s3", time, &Settings::S3);
        let names: Vec<_> = s.headers.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            [
                "X-Amz-Date",
                "X-Amz-Security-Token",
                "X-Amz-Content-Sha256",
                "Authorization"
            ]
        );
        assert_eq!(s.headers[2].1, EMPTY_SHA256);
        assert!(s.headers[3]
            .1
            .contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"));
    }

    #[test]
    fn credentials_debug_hides_secrets() {
        let mut c = creds();
        c.session_token = Some("tok".into());
        let d = format!("{c:?}");
        assert!(!d.contains("EXAMPLEKEY") && !d.contains("tok\""), "{d}");
    }
}

/// The official AWS signing test suite, as shipped inside the `aws-sigv4` crate package (a
/// dev-dependency used only for these files): every v4 case, header-signed form.
#[cfg(test)]
pub(crate) mod suite {
    use super::*;
    use std::path::{Path, PathBuf};

    /// The suite's `v4` folder inside the `aws-sigv4` package.
    pub(crate) fn suite_dir() -> PathBuf {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = std::process::Command::new(cargo)
            .args(["metadata", "--format-version", "1"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo metadata runs");
        assert!(
            out.status.success(),
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
        let manifest = meta["packages"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == "aws-sigv4"))
            .and_then(|p| p["manifest_path"].as_str())
            .expect("aws-sigv4 is a dev-dependency");
        Path::new(manifest)
            .parent()
            .expect("package dir")
            .join("aws-signing-test-suite/v4")
    }

    pub(crate) struct Parsed {
        pub method: String,
        pub path: String,
        pub query: String,
        pub headers: Vec<(String, String)>,
        pub body: Vec<u8>,
    }

    /// A raw HTTP/1.1 request as the suite writes it: the path may hold spaces and raw UTF-8,
    /// and header lines that start with whitespace continue the previous value.
    pub(crate) fn parse_request(raw: &[u8]) -> Parsed {
        let text = String::from_utf8_lossy(raw);
        let (head, body) = match text.find("\n\n") {
            Some(i) => (&text[..i], text[i + 2..].as_bytes().to_vec()),
            None => (&text[..], Vec::new()),
        };
        let mut lines = head.lines();
        let line = lines.next().expect("request line");
        let (method, rest) = line.split_once(' ').expect("method");
        let target = rest.rfind(" HTTP/").map_or(rest, |i| &rest[..i]);
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut headers: Vec<(String, String)> = Vec::new();
        for l in lines {
            if l.starts_with([' ', '\t']) {
                let last = headers.last_mut().expect("continued header");
                last.1.push('\n');
                last.1.push_str(l);
            } else if let Some((k, v)) = l.split_once(':') {
                headers.push((k.to_string(), v.to_string()));
            }
        }
        Parsed {
            method: method.to_string(),
            path: path.to_string(),
            query: query.to_string(),
            headers,
            body,
        }
    }

    pub(crate) fn read(dir: &Path, name: &str) -> Option<String> {
        std::fs::read_to_string(dir.join(name)).ok()
    }

    /// Runs one case; returns the number of comparisons made, or what differed.
    fn run(dir: &Path, case: &str) -> Result<usize, String> {
        let req = parse_request(&std::fs::read(dir.join("request.txt")).unwrap());
        let expected_creq = read(dir, "header-canonical-request.txt").expect("canonical request");
        let ctx: Option<serde_json::Value> =
            read(dir, "context.json").map(|c| serde_json::from_str(&c).unwrap());
        let ctx_str = |k: &str| ctx.as_ref().and_then(|c| c[k].as_str().map(str::to_string));
        let ctx_bool = |k: &str| ctx.as_ref().and_then(|c| c[k].as_bool());
        // The two migrated old-format cases carry no context: their time is the one their
        // canonical request signs, their scope the one their string to sign names.
        let amz = match ctx_str("timestamp") {
            Some(t) => t.replace(['-', ':'], ""),
            None => expected_creq
                .lines()
                .find_map(|l| l.strip_prefix("x-amz-date:"))
                .expect("x-amz-date")
                .to_string(),
        };
        let time = parse_amz_date(&amz).expect("timestamp");
        let sts = read(dir, "header-string-to-sign.txt");
        let scope_parts: Vec<String> = sts
            .as_deref()
            .and_then(|s| s.lines().nth(2))
            .map(|s| s.split('/').map(str::to_string).collect())
            .unwrap_or_default();
        let region = ctx_str("region")
            .or_else(|| scope_parts.get(1).cloned())
            .unwrap_or_else(|| "us-east-1".into());
        let service = ctx_str("service")
            .or_else(|| scope_parts.get(2).cloned())
            .unwrap_or_else(|| "service".into());
        let c = ctx.as_ref().map(|c| &c["credentials"]);
        let creds = Credentials {
            access_key_id: c
                .and_then(|c| c["access_key_id"].as_str())
                .unwrap_or("AKIDEXAMPLE")
                .into(),
            secret_access_key: c
                .and_then(|c| c["secret_access_key"].as_str())
                .unwrap_or("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
                .into(),
            session_token: c.and_then(|c| c["token"].as_str()).map(str::to_string),
        };
        let settings = Settings {
            // get-space-normalized expects its `%20` signed as is: the CRT runs it with
            // single encoding, a flag its context.json does not carry.
            double_encode_path: case != "get-space-normalized",
            normalize_path: ctx_bool("normalize").unwrap_or(true),
            content_sha256_header: ctx_bool("sign_body").unwrap_or(false),
            sign_session_token: !ctx_bool("omit_session_token").unwrap_or(false),
        };
        let headers: Vec<(&str, &str)> = req
            .headers
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("x-amz-date"))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let signed = sign(
            &Request {
                method: &req.method,
                path: &req.path,
                query: &req.query,
                headers: &headers,
                payload: Payload::Bytes(&req.body),
            },
            &creds,
            &region,
            &service,
            time,
            &settings,
        );
        let mut checks = 0;
        let mut compare = |what: &str, expected: &str, actual: &str| {
            checks += 1;
            if expected.trim_end() == actual {
                Ok(())
            } else {
                Err(format!(
                    "{case}: {what}\n--- expected\n{expected}\n--- actual\n{actual}"
                ))
            }
        };
        compare(
            "canonical request",
            &expected_creq,
            &signed.canonical_request,
        )?;
        if let Some(s) = &sts {
            compare("string to sign", s, &signed.string_to_sign)?;
        }
        if let Some(s) = read(dir, "header-signature.txt") {
            compare("signature", &s, &signed.signature)?;
        }
        if ctx.is_some() {
            if let Some(s) = read(dir, "header-signed-request.txt") {
                let want = s
                    .lines()
                    .find_map(|l| l.strip_prefix("Authorization:"))
                    .expect("Authorization line");
                let got = &signed.headers.last().unwrap().1;
                compare("Authorization", want, got)?;
            }
        }
        Ok(checks)
    }

    #[test]
    fn aws_signing_test_suite_v4() {
        let root = suite_dir();
        let mut cases: Vec<String> = std::fs::read_dir(&root)
            .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        cases.sort();
        assert!(cases.len() >= 40, "only {} cases found", cases.len());
        let mut failures = Vec::new();
        let mut checks = 0;
        for case in &cases {
            match run(&root.join(case), case) {
                Ok(n) => checks += n,
                Err(e) => failures.push(e),
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} cases failed:\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n\n")
        );
        eprintln!(
            "{} AWS SigV4 suite cases passed ({checks} comparisons)",
            cases.len()
        );
    }
}
