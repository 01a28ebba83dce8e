//! COGNITO_USER_POOLS authorizers and other OIDC issuers (reference §4.1): the bearer JWT is
//! verified against the issuer's JWKS (RS256 only), then checked for the method: an ID token
//! for methods without `authorizationScopes`, an access token carrying one of them otherwise.
//! Verified tokens are cached until they expire, so steady traffic pays one RSA verification
//! per token, not per request.

use super::authorizer_cache::TtlCache;
use super::authorizers::Calls;
use super::lambda_authorizer::{IdentitySource, Refusal};
use crate::compile::{Resolver, Upstream};
use crate::config::model;
use crate::integrations::http::Endpoint;
use crate::pipeline::{header_text, UNSEEN_REQUEST_HEADERS};
use arc_swap::ArcSwap;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::header::{HeaderMap, HeaderName};
use regex::Regex;
use ring::signature::{RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// An unknown `kid` refetches the JWKS at most this often.
pub const JWKS_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// Verified tokens kept per authorizer, at most.
const TOKEN_CACHE_CAPACITY: usize = 10_000;
/// A verified token is cached this long at most, whatever its `exp`.
const TOKEN_CACHE_MAX: Duration = Duration::from_secs(3600);
/// Largest JWKS document accepted (API Gateway's limit).
const MAX_JWKS_BYTES: usize = 150_000;

/// An RSA public key from the JWKS: big-endian modulus and exponent.
type RsaKey = RsaPublicKeyComponents<Vec<u8>>;
type KeySet = HashMap<String, Arc<RsaKey>>;

/// Where the JWKS comes from.
pub enum JwksSource {
    File(PathBuf),
    Url {
        upstream: Box<Upstream>,
        /// The request target (path) on `upstream`.
        target: String,
        url: String,
    },
}

/// The issuer's signing keys by `kid`, refreshed on an unknown `kid` at a bounded rate.
pub struct Jwks {
    source: JwksSource,
    keys: ArcSwap<KeySet>,
    /// When the last refresh was attempted; held while fetching so that one request fetches
    /// and the others wait for its result.
    refresh: tokio::sync::Mutex<Option<Instant>>,
}

impl Jwks {
    fn new(source: JwksSource, keys: KeySet, loaded: Option<Instant>) -> Jwks {
        Jwks {
            source,
            keys: ArcSwap::from_pointee(keys),
            refresh: tokio::sync::Mutex::new(loaded),
        }
    }

    async fn key(&self, kid: &str, calls: &dyn Calls) -> Option<Arc<RsaKey>> {
        if let Some(k) = self.keys.load().get(kid) {
            return Some(k.clone());
        }
        let mut last = self.refresh.lock().await;
        if let Some(k) = self.keys.load().get(kid) {
            return Some(k.clone());
        }
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < JWKS_REFRESH_INTERVAL) {
            return None;
        }
        *last = Some(now);
        let fetched = match &self.source {
            JwksSource::File(path) => std::fs::read(path).map_err(|e| e.to_string()),
            JwksSource::Url {
                upstream, target, ..
            } => calls.fetch(upstream, target).await.map(|b| b.to_vec()),
        };
        match fetched.and_then(|body| parse_jwks(&body)) {
            Ok(keys) => self.keys.store(Arc::new(keys)),
            Err(e) => {
                let from = match &self.source {
                    JwksSource::File(p) => p.display().to_string(),
                    JwksSource::Url { url, .. } => url.clone(),
                };
                log::warn!("JWKS {from}: {e}");
            }
        }
        self.keys.load().get(kid).cloned()
    }
}

/// The RS256 signing keys of a JWKS document (`{"keys":[…]}`); other keys are skipped.
pub fn parse_jwks(body: &[u8]) -> Result<KeySet, String> {
    if body.len() > MAX_JWKS_BYTES {
        return Err(format!("larger than {MAX_JWKS_BYTES} bytes"));
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let keys = v
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("no `keys` array")?;
    let mut out = HashMap::new();
    for k in keys {
        let s = |name: &str| k.get(name).and_then(Value::as_str);
        let usable = s("kty") == Some("RSA")
            && s("alg").is_none_or(|a| a == "RS256")
            && s("use").is_none_or(|u| u == "sig");
        let (Some(kid), Some(n), Some(e)) = (s("kid"), s("n"), s("e")) else {
            continue;
        };
        if !usable {
            continue;
        }
        let (Some(n), Some(e)) = (b64(n), b64(e)) else {
            continue;
        };
        out.insert(kid.to_string(), Arc::new(RsaPublicKeyComponents { n, e }));
    }
    Ok(out)
}

/// base64url, with or without padding.
fn b64(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

/// A token whose signature, issuer and lifetime were verified, with what the per-method
/// checks read taken out once.
#[derive(Debug)]
pub struct Verified {
    /// `claims.<name>` → value, as `$context.authorizer` gets them.
    values: crate::pipeline::AuthorizerValues,
    token_use: Option<String>,
    audiences: Vec<String>,
    /// `client_id`, then `aud`.
    clients: Vec<String>,
    /// `scope` and `scp`, split at spaces.
    scopes: Vec<String>,
}

impl Verified {
    fn new(claims: &Map<String, Value>) -> Verified {
        let audiences = strings(claims.get("aud"));
        let mut clients = strings(claims.get("client_id"));
        clients.extend(audiences.iter().cloned());
        let mut scopes = strings(claims.get("scope"));
        scopes.extend(strings(claims.get("scp")));
        let scopes = scopes
            .iter()
            .flat_map(|s| s.split(' '))
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        Verified {
            values: claim_values(claims).into(),
            token_use: claims
                .get("token_use")
                .and_then(Value::as_str)
                .map(str::to_string),
            audiences,
            clients,
            scopes,
        }
    }
}

/// A compiled COGNITO_USER_POOLS authorizer.
pub struct JwtAuthorizer {
    /// The JWKS URL's host as resolved at load (watched for DNS changes like integration
    /// hosts).
    pub jwks_lookup: Option<(String, u16, std::net::SocketAddr)>,
    /// The header that carries the token; None when requests cannot show it to an
    /// authorizer (a header API Gateway does not pass, or no valid header name).
    header: Option<HeaderName>,
    pub issuer: String,
    /// App client ids a token must be issued to (`aud` or `client_id`); empty: any.
    audience: Vec<String>,
    /// `identityValidationExpression`, matched against `aud` (whole match).
    validation: Option<Regex>,
    jwks: Jwks,
    /// Verified tokens by their bytes, so that a cached token is found without reading it as
    /// text first (a key is text: a token that matches one is too).
    verified: TtlCache<Verified, Instant, Box<[u8]>>,
}

impl JwtAuthorizer {
    pub fn compile(
        a: &model::Authorizer,
        _region: &str,
        resolve: Resolver,
    ) -> Result<JwtAuthorizer, (&'static str, String)> {
        let source = a
            .identity_source
            .as_deref()
            .unwrap_or("method.request.header.Authorization");
        let header = match IdentitySource::parse(source.trim()) {
            Ok(IdentitySource::Header(h)) => h,
            Ok(_) => {
                return Err((
                    "identitySource",
                    "a COGNITO_USER_POOLS authorizer's identitySource is one method.request.header.NAME"
                        .into(),
                ))
            }
            Err(e) => return Err(("identitySource", e)),
        };
        let issuer = match (&a.issuer, a.provider_arns.first()) {
            (Some(i), _) => i.trim_end_matches('/').to_string(),
            (None, Some(arn)) => cognito_issuer(arn).ok_or_else(|| {
                (
                    "providerARNs",
                    format!("`{arn}` is not arn:aws:cognito-idp:{{region}}:{{account}}:userpool/{{poolId}}"),
                )
            })?,
            (None, None) => return Err(("issuer", "needs providerARNs or issuer".into())),
        };
        let location = a
            .jwks
            .clone()
            .unwrap_or_else(|| format!("{issuer}/.well-known/jwks.json"));
        let mut jwks_lookup = None;
        let jwks = if location.starts_with("http://") || location.starts_with("https://") {
            let ep =
                crate::integrations::aws::parse_endpoint_url(&location).map_err(|e| ("jwks", e))?;
            let endpoint = Endpoint {
                tls: ep.tls,
                host: ep.host,
                port: ep.port,
                authority: ep.authority,
                target: Vec::new(),
            };
            let (upstream, lookup) =
                Upstream::to(endpoint, Duration::from_millis(1500), false, resolve)
                    .map_err(|e| ("jwks", e))?;
            jwks_lookup = lookup;
            let target = if ep.base_path.is_empty() {
                "/".to_string()
            } else {
                ep.base_path
            };
            let source = JwksSource::Url {
                upstream: Box::new(upstream),
                target,
                url: location,
            };
            Jwks::new(source, HashMap::new(), None)
        } else {
            let path = PathBuf::from(&location);
            let keys = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| parse_jwks(&b))
                .map_err(|e| ("jwks", format!("{location}: {e}")))?;
            Jwks::new(JwksSource::File(path), keys, Some(Instant::now()))
        };
        let validation = match &a.identity_validation_expression {
            Some(e) => Some(
                crate::vtl::jregex::whole_match(e)
                    .map_err(|t| ("identityValidationExpression", t.to_string()))?,
            ),
            None => None,
        };
        let header = (!UNSEEN_REQUEST_HEADERS.contains(&header.as_str()))
            .then(|| HeaderName::from_bytes(header.as_bytes()).ok())
            .flatten();
        Ok(JwtAuthorizer {
            jwks_lookup,
            header,
            issuer,
            audience: a.audience.clone(),
            validation,
            jwks,
            verified: TtlCache::with_capacity(TOKEN_CACHE_CAPACITY),
        })
    }

    /// Verifies the request's token for a method with `scopes`; the claims as
    /// `$context.authorizer.claims.*`.
    /// The token is the last value of the identity header (`method.request.header.NAME`),
    /// `Bearer ` and surrounding whitespace taken off.
    pub async fn authorize(
        &self,
        headers: &HeaderMap,
        scopes: &[String],
        calls: &dyn Calls,
    ) -> Result<crate::pipeline::AuthorizerValues, Refusal> {
        let value = self
            .header
            .as_ref()
            .and_then(|h| headers.get_all(h).iter().next_back())
            .ok_or(Refusal::Unauthorized)?;
        let verified = match self
            .verified
            .get(bearer_token(value.as_bytes()), Instant::now())
        {
            Some(v) => v,
            None => {
                let value = header_text(value).ok_or(Refusal::Unauthorized)?;
                let token = value.strip_prefix("Bearer ").unwrap_or(value).trim();
                self.verified(token, calls).await?
            }
        };
        self.admit(&verified, scopes)?;
        Ok(verified.values.clone())
    }

    /// The verified token: from the cache while it lasts, else verified now (and cached until
    /// it expires).
    async fn verified(&self, token: &str, calls: &dyn Calls) -> Result<Arc<Verified>, Refusal> {
        let now = Instant::now();
        if let Some(v) = self.verified.get(token.as_bytes(), now) {
            return Ok(v);
        }
        let (v, lifetime) = self.verify(token, unix_now(), calls).await?;
        let v = Arc::new(v);
        let until = now + lifetime.min(TOKEN_CACHE_MAX);
        self.verified
            .insert(token.as_bytes().into(), v.clone(), until, now);
        Ok(v)
    }

    /// Signature (RS256 with a JWKS key), issuer, `exp` and `nbf`; also how long the token
    /// stays valid.
    async fn verify(
        &self,
        token: &str,
        now: f64,
        calls: &dyn Calls,
    ) -> Result<(Verified, Duration), Refusal> {
        let no = Refusal::Unauthorized;
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(no);
        };
        let header: Value = b64(h)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(Refusal::Unauthorized)?;
        if header.get("alg").and_then(Value::as_str) != Some("RS256") {
            return Err(no);
        }
        let kid = header
            .get("kid")
            .and_then(Value::as_str)
            .ok_or(Refusal::Unauthorized)?;
        let signature = b64(s).ok_or(Refusal::Unauthorized)?;
        let key = self
            .jwks
            .key(kid, calls)
            .await
            .ok_or(Refusal::Unauthorized)?;
        let signed = &token[..h.len() + 1 + p.len()];
        key.verify(&RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature)
            .map_err(|_| Refusal::Unauthorized)?;
        let claims = match b64(p).and_then(|b| serde_json::from_slice(&b).ok()) {
            Some(Value::Object(m)) => m,
            _ => return Err(no),
        };
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(no);
        }
        let exp = claims
            .get("exp")
            .and_then(Value::as_f64)
            .ok_or(Refusal::Unauthorized)?;
        if exp <= now {
            return Err(no);
        }
        if let Some(nbf) = claims.get("nbf") {
            if nbf.as_f64().is_none_or(|nbf| nbf > now) {
                return Err(no);
            }
        }
        let lifetime = Duration::from_secs_f64((exp - now).min(TOKEN_CACHE_MAX.as_secs_f64()));
        Ok((Verified::new(&claims), lifetime))
    }

    /// What the method asks of a verified token: an ID token issued to one of `audience`
    /// when it has no scopes, else an access token with one of them.
    fn admit(&self, v: &Verified, scopes: &[String]) -> Result<(), Refusal> {
        let no = Err(Refusal::Unauthorized);
        let token_use = v.token_use.as_deref();
        let issued_to = |ids: &[String]| {
            self.audience.is_empty() || ids.iter().any(|a| self.audience.contains(a))
        };
        if scopes.is_empty() {
            if token_use.is_some_and(|u| u != "id") || v.audiences.is_empty() {
                return no;
            }
            if !issued_to(&v.audiences) {
                return no;
            }
            if let Some(re) = &self.validation {
                if !v.audiences.iter().any(|a| re.is_match(a)) {
                    return no;
                }
            }
        } else {
            if token_use.is_some_and(|u| u != "access") || !issued_to(&v.clients) {
                return no;
            }
            if !scopes.iter().any(|s| v.scopes.contains(s)) {
                return no;
            }
        }
        Ok(())
    }
}

/// The token in an identity header's value, as bytes: what `str::strip_prefix("Bearer ")`
/// then `str::trim` leave of an ASCII value. A value with other bytes gives bytes that match
/// no cached token, since only ASCII is taken off.
fn bearer_token(value: &[u8]) -> &[u8] {
    let token = value.strip_prefix(b"Bearer ").unwrap_or(value);
    let space = |b: &u8| matches!(b, b' ' | b'\t'..=b'\r');
    let start = token.iter().position(|b| !space(b)).unwrap_or(token.len());
    let end = token
        .iter()
        .rposition(|b| !space(b))
        .map_or(start, |i| i + 1);
    &token[start..end]
}

/// A string claim, or the strings of an array claim.
fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// `claims.<name>` for each claim, every value as a string (non-scalar ones as JSON).
fn claim_values(claims: &Map<String, Value>) -> Vec<(String, String)> {
    claims
        .iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (format!("claims.{k}"), text)
        })
        .collect()
}

/// `arn:aws:cognito-idp:{region}:{account}:userpool/{poolId}` →
/// `https://cognito-idp.{region}.amazonaws.com/{poolId}`.
pub fn cognito_issuer(arn: &str) -> Option<String> {
    let rest = arn.strip_prefix("arn:")?;
    let mut f = rest.splitn(5, ':');
    let (_partition, service, region, _account, resource) =
        (f.next()?, f.next()?, f.next()?, f.next()?, f.next()?);
    let pool = resource.strip_prefix("userpool/")?;
    (service == "cognito-idp" && !region.is_empty() && !pool.is_empty() && !pool.contains('/'))
        .then(|| format!("https://cognito-idp.{region}.amazonaws.com/{pool}"))
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::invoke::{FunctionTarget, InvokeFailure};
    use crate::functions::Invocation;
    use async_trait::async_trait;
    use bytes::Bytes;
    use ring::rand::SystemRandom;
    use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const ISS: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc";

    fn key_pair() -> RsaKeyPair {
        let der = base64::engine::general_purpose::STANDARD
            .decode(include_str!("testdata/rsa2048.pk1.b64").trim())
            .unwrap();
        RsaKeyPair::from_der(&der).unwrap()
    }

    fn jwks_json(kp: &RsaKeyPair, kid: &str) -> String {
        let pk: RsaPublicKeyComponents<Vec<u8>> = kp.public().into();
        json!({"keys": [
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"},
            {"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
             "n": URL_SAFE_NO_PAD.encode(&pk.n),
             "e": URL_SAFE_NO_PAD.encode(&pk.e)}
        ]})
        .to_string()
    }

    fn sign(kp: &RsaKeyPair, header: &Value, claims: &Value) -> String {
        let msg = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0; kp.public().modulus_len()];
        kp.sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            msg.as_bytes(),
            &mut sig,
        )
        .unwrap();
        format!("{msg}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    /// Serves a JWKS from memory, counting fetches.
    struct Fetcher {
        body: String,
        fetches: AtomicUsize,
    }

    impl Fetcher {
        /// Answers every fetch with `body`, counting them.
        fn serving(body: String) -> Fetcher {
            Fetcher {
                body,
                fetches: AtomicUsize::new(0),
            }
        }
    }

    #[async_trait]
    impl Calls for Fetcher {
        async fn invoke(
            &self,
            _: &FunctionTarget,
            _: Bytes,
            _: Duration,
            _: &str,
        ) -> Result<Invocation, InvokeFailure> {
            Err(InvokeFailure::Failed("no functions".into()))
        }
        async fn fetch(&self, _: &Upstream, _: &str) -> Result<Bytes, String> {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            Ok(Bytes::from(self.body.clone()))
        }
    }

    fn authorizer(dir: &std::path::Path, jwks: &str, audience: &[&str]) -> JwtAuthorizer {
        let file = dir.join("jwks.json");
        std::fs::write(&file, jwks).unwrap();
        let spec = model::Authorizer {
            name: "users".into(),
            kind: "COGNITO_USER_POOLS".into(),
            provider_arns: vec![
                "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_abc".into(),
            ],
            jwks: Some(file.display().to_string()),
            audience: audience.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let resolve =
            |_: &str, _: u16| -> Result<std::net::SocketAddr, String> { Err("no DNS".into()) };
        JwtAuthorizer::compile(&spec, "us-east-1", &resolve).unwrap()
    }

    fn tmp() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "tollgate-jwt-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn bearer_tokens_as_bytes_match_text() {
        for v in [
            "Bearer abc.def.ghi",
            "abc.def.ghi",
            "  Bearer abc ",
            "Bearer \tabc\t",
            "bearer abc",
            "Bearer ",
            "",
            " \t ",
            "Bearer  a b ",
        ] {
            let text = v.strip_prefix("Bearer ").unwrap_or(v).trim();
            assert_eq!(bearer_token(v.as_bytes()), text.as_bytes(), "{v:?}");
        }
    }

    /// The token is read from the last value of the identity header, as text, from the cache
    /// as when verified; a header API Gateway does not pass shows no token.
    #[tokio::test]
    async fn tokens_from_headers() {
        let kp = key_pair();
        let dir = tmp();
        let a = authorizer(&dir, &jwks_json(&kp, "k1"), &[]);
        let calls = Fetcher::serving(String::new());
        let h = json!({"alg": "RS256", "kid": "k1"});
        let claims = json!({"sub": "a", "iss": ISS, "aud": "c", "token_use": "id", "exp": unix_now() + 600.0});
        let token = sign(&kp, &h, &claims);
        let headers = |values: &[&[u8]]| {
            let mut m = HeaderMap::new();
            for v in values {
                m.append("authorization", http::HeaderValue::from_bytes(v).unwrap());
            }
            m
        };
        let bearer = format!("Bearer {token} ");
        let run = |m: HeaderMap| {
            let (a, calls) = (&a, &calls);
            async move { a.authorize(&m, &[], calls).await }
        };
        for cached in [false, true] {
            let ok = run(headers(&[bearer.as_bytes()])).await.unwrap();
            assert!(ok.contains(&("claims.sub".into(), "a".into())), "{cached}");
            assert!(run(headers(&[b"x", token.as_bytes()])).await.is_ok());
            assert_eq!(
                run(headers(&[token.as_bytes(), b"x"])).await,
                Err(Refusal::Unauthorized),
                "the last value is the token"
            );
            let mut other = token.clone().into_bytes();
            other.push(0xe9);
            assert_eq!(
                run(headers(&[&other])).await,
                Err(Refusal::Unauthorized),
                "not text"
            );
            assert_eq!(run(HeaderMap::new()).await, Err(Refusal::Unauthorized));
        }
        let mut hidden = authorizer(&dir, &jwks_json(&kp, "k1"), &[]);
        hidden.header = None;
        let mut m = HeaderMap::new();
        m.insert("connection", token.parse().unwrap());
        assert_eq!(
            hidden.authorize(&m, &[], &calls).await,
            Err(Refusal::Unauthorized)
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn unseen_headers_carry_no_token() {
        let dir = tmp();
        let file = dir.join("unseen-jwks.json");
        std::fs::write(&file, r#"{"keys":[]}"#).unwrap();
        let compile = |source: &str| {
            let spec = model::Authorizer {
                name: "users".into(),
                kind: "COGNITO_USER_POOLS".into(),
                issuer: Some(ISS.into()),
                identity_source: Some(source.into()),
                jwks: Some(file.display().to_string()),
                ..Default::default()
            };
            let resolve =
                |_: &str, _: u16| -> Result<std::net::SocketAddr, String> { Err("no DNS".into()) };
            JwtAuthorizer::compile(&spec, "us-east-1", &resolve).unwrap()
        };
        assert_eq!(
            compile("method.request.header.X-Token").header,
            Some(HeaderName::from_static("x-token"))
        );
        assert_eq!(compile("method.request.header.Connection").header, None);
        let _ = std::fs::remove_file(file);
    }

    #[test]
    fn issuers_from_user_pool_arns() {
        assert_eq!(
            cognito_issuer("arn:aws:cognito-idp:eu-west-1:123:userpool/eu-west-1_X").as_deref(),
            Some("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_X")
        );
        assert_eq!(cognito_issuer("arn:aws:s3:::bucket"), None);
        assert_eq!(cognito_issuer("arn:aws:cognito-idp:r:1:userpool/"), None);
    }

    #[tokio::test]
    async fn verification_and_method_checks() {
        let kp = key_pair();
        let dir = tmp();
        let a = authorizer(&dir, &jwks_json(&kp, "k1"), &["client-1"]);
        let calls = Fetcher::serving(String::new());
        let now = unix_now();
        let h = json!({"alg": "RS256", "kid": "k1", "typ": "JWT"});
        let id = json!({"sub": "u-1", "iss": ISS, "aud": "client-1", "token_use": "id",
            "exp": now + 600.0, "custom:role": "admin", "email_verified": true});
        let good = sign(&kp, &h, &id);
        let (v, life) = a.verify(&good, now, &calls).await.unwrap();
        assert!(life > Duration::from_secs(590));
        assert_eq!(a.admit(&v, &[]), Ok(()));
        let values = &v.values;
        assert!(values.contains(&("claims.custom:role".into(), "admin".into())));
        assert!(values.contains(&("claims.email_verified".into(), "true".into())));
        // An ID token on a scoped method; an access token with and without the scope.
        assert!(a.admit(&v, &["pets/read".to_string()]).is_err());
        let access = json!({"sub": "u-1", "iss": ISS, "client_id": "client-1",
            "token_use": "access", "scope": "openid pets/read", "exp": now + 600.0});
        let (v, _) = a
            .verify(&sign(&kp, &h, &access), now, &calls)
            .await
            .unwrap();
        assert_eq!(
            a.admit(&v, &["pets/write".into(), "pets/read".into()]),
            Ok(())
        );
        assert!(a.admit(&v, &["pets/write".into()]).is_err());
        assert!(
            a.admit(&v, &[]).is_err(),
            "access token on an ID-token method"
        );

        let with = |claims: Value| {
            let mut c = id.clone();
            for (k, v) in claims.as_object().unwrap() {
                c[k] = v.clone();
            }
            sign(&kp, &h, &c)
        };
        let refused = [
            ("expired", with(json!({"exp": now - 1.0}))),
            ("no exp", {
                let mut c = id.clone();
                c.as_object_mut().unwrap().remove("exp");
                sign(&kp, &h, &c)
            }),
            ("future nbf", with(json!({"nbf": now + 60.0}))),
            ("wrong iss", with(json!({"iss": "https://evil.example"}))),
            ("alg none", {
                let t = sign(&kp, &json!({"alg": "none", "kid": "k1"}), &id);
                let (head_payload, _) = t.rsplit_once('.').unwrap();
                format!("{head_payload}.")
            }),
            (
                "HS256 header",
                sign(&kp, &json!({"alg": "HS256", "kid": "k1"}), &id),
            ),
            (
                "unknown kid",
                sign(&kp, &json!({"alg": "RS256", "kid": "k2"}), &id),
            ),
            ("tampered", {
                let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
                let mut c = id.clone();
                c["sub"] = json!("someone-else");
                parts[1] = URL_SAFE_NO_PAD.encode(c.to_string());
                parts.join(".")
            }),
            ("two parts", good.rsplit_once('.').unwrap().0.to_string()),
            ("garbage", "a.b.c".to_string()),
        ];
        for (what, token) in refused {
            assert!(
                a.verify(&token, now, &calls).await.is_err(),
                "{what} must be refused"
            );
        }
        let (v, _) = a
            .verify(&with(json!({"aud": "other-client"})), now, &calls)
            .await
            .unwrap();
        assert!(a.admit(&v, &[]).is_err(), "wrong aud");

        // No audience list, but identityValidationExpression on `aud` (whole match).
        let file = dir.join("jwks.json");
        let spec = model::Authorizer {
            kind: "COGNITO_USER_POOLS".into(),
            issuer: Some(ISS.into()),
            jwks: Some(file.display().to_string()),
            identity_validation_expression: Some("client-[0-9]".into()),
            ..Default::default()
        };
        let resolve =
            |_: &str, _: u16| -> Result<std::net::SocketAddr, String> { Err("no DNS".into()) };
        let b = JwtAuthorizer::compile(&spec, "us-east-1", &resolve).unwrap();
        let (ok, _) = b.verify(&good, now, &calls).await.unwrap();
        assert_eq!(b.admit(&ok, &[]), Ok(()));
        assert!(b.admit(&v, &[]).is_err(), "aud other-client does not match");
        let (v, _) = b
            .verify(&with(json!({"aud": "client-12"})), now, &calls)
            .await
            .unwrap();
        assert!(b.admit(&v, &[]).is_err(), "a partial match is no match");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn verified_tokens_are_cached_until_they_expire() {
        let kp = key_pair();
        let dir = tmp();
        let a = authorizer(&dir, &jwks_json(&kp, "k1"), &[]);
        let calls = Fetcher::serving(String::new());
        let now = unix_now();
        let h = json!({"alg": "RS256", "kid": "k1"});
        let claims = |exp: f64, sub: &str| json!({"sub": sub, "iss": ISS, "aud": "c", "token_use": "id", "exp": exp});
        let long = sign(&kp, &h, &claims(now + 600.0, "a"));
        let short = sign(&kp, &h, &claims(now + 1.0, "b"));
        assert!(a.verified(&long, &calls).await.is_ok());
        assert!(a.verified(&short, &calls).await.is_ok());
        // Without its keys the authorizer can verify nothing new: cached tokens still pass.
        a.jwks.keys.store(Arc::new(HashMap::new()));
        assert!(
            a.verified(&long, &calls).await.is_ok(),
            "served from the cache"
        );
        let fresh = sign(&kp, &h, &claims(now + 600.0, "c"));
        assert!(
            a.verified(&fresh, &calls).await.is_err(),
            "not cached: verified"
        );
        // Past its `exp` a cached token is verified again (and now refused).
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert!(
            a.verified(&short, &calls).await.is_err(),
            "expired from the cache"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn unknown_kids_refetch_at_a_bounded_rate() {
        let kp = key_pair();
        let calls = Fetcher::serving(jwks_json(&kp, "rotated"));
        let jwks = Jwks::new(
            JwksSource::File(PathBuf::from("/nonexistent")),
            HashMap::new(),
            None,
        );
        // A file source reads the file (missing here): the attempt still counts.
        assert!(jwks.key("rotated", &calls).await.is_none());
        assert!(jwks.key("rotated", &calls).await.is_none());
        assert_eq!(calls.fetches.load(Ordering::SeqCst), 0);

        let resolve = |_: &str, _: u16| -> Result<std::net::SocketAddr, String> {
            Ok(std::net::SocketAddr::from(([127, 0, 0, 1], 9)))
        };
        let endpoint = Endpoint {
            tls: false,
            host: "127.0.0.1".into(),
            port: 9,
            authority: "127.0.0.1:9".into(),
            target: Vec::new(),
        };
        let (upstream, _) =
            Upstream::to(endpoint, Duration::from_secs(1), false, &resolve).unwrap();
        let jwks = Jwks::new(
            JwksSource::Url {
                upstream: Box::new(upstream),
                target: "/jwks.json".into(),
                url: "http://127.0.0.1:9/jwks.json".into(),
            },
            HashMap::new(),
            None,
        );
        assert!(jwks.key("rotated", &calls).await.is_some());
        assert!(jwks.key("rotated", &calls).await.is_some());
        assert_eq!(
            calls.fetches.load(Ordering::SeqCst),
            1,
            "known kid: no fetch"
        );
        for _ in 0..5 {
            assert!(jwks.key("attacker-kid", &calls).await.is_none());
        }
        assert_eq!(
            calls.fetches.load(Ordering::SeqCst),
            1,
            "the first fetch was just now: unknown kids wait for the interval"
        );
    }
}
