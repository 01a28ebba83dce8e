//! Verification of incoming SigV4-signed requests (AWS_IAM methods), in both forms: the
//! `Authorization` header and the presigned query string. The canonical strings are the
//! signer's own ([`super::sigv4`]); this module parses what the client sent, checks the
//! credential scope and the time, and compares signatures in constant time.
//!
//! Pure code: the caller passes the clock and the key lookup. Every refusal is a
//! [`SigV4Error`] whose [`SigV4Error::response`] names the gateway response, the
//! `x-amzn-ErrorType` and the message AWS sends for it.

use super::authorizer_cache::TtlCache;
use super::policy::Decision;
use super::sigv4::{self, SigningKey};
use crate::responses::GatewayResponseType;
use arc_swap::ArcSwapOption;
use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

/// Header-signed requests are accepted this far either side of the server's clock.
pub const MAX_SKEW: Duration = Duration::from_secs(300);
/// The longest `X-Amz-Expires` SigV4 allows (7 days).
pub const MAX_EXPIRES: u64 = 604_800;

/// The request as received: raw path and query, headers in arrival order.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The path exactly as sent (still percent-encoded), without the query.
    pub path: &'a str,
    /// The raw query string without `?` ("" for none).
    pub query: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

impl<'a> SignedRequest<'a> {
    fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(k, _)| trim(k).eq_ignore_ascii_case(name))
            .map(|(_, v)| trim(v))
    }
}

/// Where the signature must be scoped: the API's region and the service's signing name.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub region: &'a str,
    pub service: &'a str,
}

/// A caller's secret with its derived signing keys cached for the last two (date, region,
/// service) it signed with, so that clients either side of UTC midnight do not take turns
/// re-deriving: lock-free loads per request, a derivation once a day.
pub struct SecretKey {
    secret: String,
    /// The session token the caller must present (temporary credentials).
    pub session_token: Option<String>,
    /// When the session token expires.
    pub expiration: Option<SystemTime>,
    cached: [ArcSwapOption<CachedKey>; 2],
}

struct CachedKey {
    date: String,
    region: String,
    service: String,
    key: SigningKey,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl SecretKey {
    pub fn new(secret: &str, session_token: Option<&str>) -> SecretKey {
        SecretKey {
            secret: secret.to_string(),
            session_token: session_token.map(str::to_string),
            expiration: None,
            cached: [ArcSwapOption::empty(), ArcSwapOption::empty()],
        }
    }

    /// Temporary credentials valid until `t`.
    pub fn expiring(mut self, t: SystemTime) -> SecretKey {
        self.expiration = Some(t);
        self
    }

    fn signing_key(&self, date: &str, region: &str, service: &str) -> Arc<CachedKey> {
        for slot in &self.cached {
            if let Some(c) = slot.load_full() {
                if c.date == date && c.region == region && c.service == service {
                    return c;
                }
            }
        }
        let fresh = Arc::new(CachedKey {
            date: date.to_string(),
            region: region.to_string(),
            service: service.to_string(),
            key: sigv4::signing_key(&self.secret, date, region, service),
        });
        // The empty slot, else the one with the older date.
        let [a, b] = &self.cached;
        let older = match (a.load().as_deref(), b.load().as_deref()) {
            (None, _) => a,
            (_, None) => b,
            (Some(x), Some(y)) if x.date <= y.date => a,
            _ => b,
        };
        older.store(Some(fresh.clone()));
        fresh
    }
}

/// Which form the request was signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Header,
    Query,
}

/// A request whose signature checked out.
#[derive(Debug)]
pub struct Verified<'k, U> {
    /// What the lookup returned for the access key.
    pub caller: &'k U,
    #[cfg(test)]
    pub access_key_id: String,
    /// The signature's entry in the cache of verified signatures, when it has one.
    pub kept: Option<Arc<SignedInputs>>,
    #[cfg(test)]
    pub form: Form,
}

/// Why a signed request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigV4Error {
    /// Neither an `Authorization` header nor presigned query parameters.
    Missing,
    /// The signature could not be read (`IncompleteSignatureException`).
    Incomplete(String),
    /// The scope, time or form is wrong (`InvalidSignatureException`).
    Invalid(String),
    /// The signature does not match: AWS echoes what it computed.
    Mismatch {
        canonical_request: String,
        string_to_sign: String,
    },
    /// Unknown access key, or a session token that is not the key's.
    UnrecognizedClient,
    /// Temporary credentials past their expiration.
    ExpiredToken,
}

impl SigV4Error {
    /// The gateway response, `x-amzn-ErrorType` and message AWS answers with (§1.5).
    pub fn response(&self) -> (GatewayResponseType, &'static str, Cow<'_, str>) {
        use GatewayResponseType as G;
        match self {
            SigV4Error::Missing => (
                G::MissingAuthenticationToken,
                "MissingAuthenticationTokenException",
                Cow::Borrowed("Missing Authentication Token"),
            ),
            SigV4Error::Incomplete(m) => (
                G::InvalidSignature,
                "IncompleteSignatureException",
                Cow::Borrowed(m),
            ),
            SigV4Error::Invalid(m) => (
                G::InvalidSignature,
                "InvalidSignatureException",
                Cow::Borrowed(m),
            ),
            SigV4Error::Mismatch {
                canonical_request,
                string_to_sign,
            } => (
                G::InvalidSignature,
                "InvalidSignatureException",
                Cow::Owned(format!(
                    "{}\n\nThe Canonical String for this request should have been\n'{canonical_request}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n",
                    G::InvalidSignature.default_message()
                )),
            ),
            SigV4Error::ExpiredToken => (
                G::ExpiredToken,
                "ExpiredTokenException",
                Cow::Borrowed("The security token included in the request is expired"),
            ),
            SigV4Error::UnrecognizedClient => (
                G::InvalidSignature,
                "UnrecognizedClientException",
                Cow::Borrowed("The security token included in the request is invalid."),
            ),
        }
    }
}

/// What the client claims: parsed from the header or the query.
struct Claim<'a> {
    form: Form,
    access_key_id: Cow<'a, str>,
    scope_date: Cow<'a, str>,
    scope_region: Cow<'a, str>,
    scope_service: Cow<'a, str>,
    signed_headers: Cow<'a, str>,
    signature: Cow<'a, str>,
    amz_date: Cow<'a, str>,
    time: SystemTime,
    /// Presigned: seconds the signature is valid for.
    expires: Option<u64>,
    session_token: Option<Cow<'a, str>>,
}

impl Claim<'_> {
    /// A copy that owns its text (kept with a verified signature).
    fn owned(&self) -> Claim<'static> {
        let own = |c: &Cow<str>| Cow::Owned(c.to_string());
        Claim {
            form: self.form,
            access_key_id: own(&self.access_key_id),
            scope_date: own(&self.scope_date),
            scope_region: own(&self.scope_region),
            scope_service: own(&self.scope_service),
            signed_headers: own(&self.signed_headers),
            signature: own(&self.signature),
            amz_date: own(&self.amz_date),
            time: self.time,
            expires: self.expires,
            session_token: self.session_token.as_ref().map(own),
        }
    }

    /// How long after its signing time the request is accepted.
    fn window(&self) -> Duration {
        self.expires.map_or(MAX_SKEW, Duration::from_secs)
    }
}

/// Verifies `req` at time `now`. `lookup` resolves an access key id to the caller and its
/// secret.
pub fn verify<'k, U>(
    req: &SignedRequest,
    expected: &Expected,
    now: SystemTime,
    lookup: impl Fn(&str) -> Option<(&'k U, &'k SecretKey)>,
) -> Result<Verified<'k, U>, SigV4Error> {
    check(req, expected, now, lookup)?.signature(req, &payload_hash(req.body), now, None)
}

/// [`verify`], answering a replay of a request verified earlier from `verified`: every check
/// but the signature arithmetic still runs (scope, time window or presigned expiry, access
/// key and session token), and the replay must carry the same signed inputs byte for byte.
pub fn verify_cached<'k, U>(
    req: &SignedRequest,
    expected: &Expected,
    now: SystemTime,
    lookup: impl Fn(&str) -> Option<(&'k U, &'k SecretKey)>,
    verified: &VerifiedSignatures,
) -> Result<Verified<'k, U>, SigV4Error> {
    let claims = ClaimHeaders::of(req);
    verify_cached_with(req, claims, expected, now, lookup, verified)
}

/// [`verify_cached`], with the request's [`ClaimHeaders`] found already.
pub fn verify_cached_with<'k, U>(
    req: &SignedRequest,
    claims: ClaimHeaders,
    expected: &Expected,
    now: SystemTime,
    lookup: impl Fn(&str) -> Option<(&'k U, &'k SecretKey)>,
    verified: &VerifiedSignatures,
) -> Result<Verified<'k, U>, SigV4Error> {
    let payload_hash = payload_hash(req.body);
    let claim_headers = claims.0;
    if let Some(inputs) = raw_signature(req, claim_headers[0]).and_then(|s| verified.0.get(s, now))
    {
        if inputs.matches(req, &claim_headers, &payload_hash) {
            // The same bytes make the same claim: only its checks run again.
            let claim = &inputs.claim;
            let (caller, _) = admit(claim, expected, now, lookup)?;
            return Ok(Verified {
                caller,
                #[cfg(test)]
                access_key_id: claim.access_key_id.to_string(),
                #[cfg(test)]
                form: claim.form,
                kept: Some(inputs),
            });
        }
    }
    check(req, expected, now, lookup)?.signature(req, &payload_hash, now, Some(verified))
}

/// The first value of each header a claim is read from ([`CLAIM_HEADERS`]), trimmed: found
/// while the request's headers are listed ([`ClaimHeaders::note`]), or from the list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClaimHeaders<'a>([Option<&'a str>; 4]);

impl<'a> ClaimHeaders<'a> {
    /// Read from `req.headers`.
    pub fn of(req: &SignedRequest<'a>) -> ClaimHeaders<'a> {
        ClaimHeaders(claim_headers(req))
    }

    /// Takes note of one of the request's headers, in arrival order: the first value of a
    /// claim header is kept. `name` is in lower case without whitespace, as a `HeaderName`
    /// spells it.
    pub fn note(&mut self, name: &str, value: &'a str) {
        let Some(i) = claim_slot(name) else {
            return;
        };
        // The first byte first: other names of these lengths (`host`, `user-agent`) differ
        // there, and are told apart without a call to compare them.
        let want = CLAIM_HEADERS[i];
        if name.as_bytes()[0] == want.as_bytes()[0] && name == want {
            self.0[i].get_or_insert(trim(value));
        }
    }
}

/// The signature as sent, found without parsing the rest: the `Signature=` of the
/// `Authorization` header, else the query's `X-Amz-Signature` (signers put it last).
fn raw_signature<'a>(req: &SignedRequest<'a>, authorization: Option<&'a str>) -> Option<&'a str> {
    match authorization {
        Some(auth) => auth
            .rsplit(',')
            .find_map(|p| p.trim().strip_prefix("Signature="))
            .map(str::trim),
        None => last_signature_parameter(req.query).or_else(|| {
            req.query
                .rsplit('&')
                .find_map(|p| p.strip_prefix("X-Amz-Signature="))
        }),
    }
}

/// The query's last parameter when it is `X-Amz-Signature=` and a SigV4 signature (64
/// bytes), read without scanning the query.
fn last_signature_parameter(query: &str) -> Option<&str> {
    const NAME: &str = "X-Amz-Signature=";
    const LEN: usize = 64;
    let start = query.len().checked_sub(NAME.len() + LEN)?;
    let (before, param) = query.split_at_checked(start)?;
    let value = param.strip_prefix(NAME)?;
    ((before.is_empty() || before.ends_with('&')) && !value.contains('&')).then_some(value)
}

/// `s` without leading and trailing whitespace, as [`str::trim`]: a string that begins and
/// ends with ASCII other than whitespace is returned whole without decoding characters.
#[inline]
fn trim(s: &str) -> &str {
    let plain = |b: &u8| b.is_ascii() && !matches!(b, b' ' | b'\t'..=b'\r');
    let b = s.as_bytes();
    if b.first().is_some_and(plain) && b.last().is_some_and(plain) {
        s
    } else {
        s.trim()
    }
}

/// The [`CLAIM_HEADERS`] slot a header of this name could fill: the names differ in length,
/// so one comparison at most tells.
fn claim_slot(name: &str) -> Option<usize> {
    match name.len() {
        13 => Some(0),
        10 => Some(1),
        4 => Some(2),
        20 => Some(3),
        _ => None,
    }
}

/// The first value of each of [`CLAIM_HEADERS`], trimmed, in one pass over the headers.
fn claim_headers<'a>(req: &SignedRequest<'a>) -> [Option<&'a str>; 4] {
    let mut out = [None; 4];
    for (k, v) in req.headers {
        let k = trim(k);
        let Some(i) = claim_slot(k) else {
            continue;
        };
        if k.eq_ignore_ascii_case(CLAIM_HEADERS[i]) {
            out[i].get_or_insert(trim(v));
        }
    }
    out
}

fn payload_hash(body: &[u8]) -> Cow<'static, str> {
    if body.is_empty() {
        Cow::Borrowed(sigv4::EMPTY_SHA256)
    } else {
        Cow::Owned(sigv4::sha256_hex(body))
    }
}

/// Signatures verified recently, keyed by the signature, each with the exact inputs it
/// signed: a replay of the same signed request within its validity skips SHA-256 and HMAC.
/// Built with the IAM users, so a reload (new secrets) starts it empty.
pub struct VerifiedSignatures(TtlCache<SignedInputs, SystemTime>);

/// Entries held at most.
const VERIFIED_CAPACITY: usize = 4096;
/// Requests whose signed inputs are longer are verified every time (bounds the memory).
const MAX_CACHED_INPUT_BYTES: usize = 8192;

impl Default for VerifiedSignatures {
    fn default() -> Self {
        VerifiedSignatures(TtlCache::new(VERIFIED_CAPACITY))
    }
}

impl fmt::Debug for VerifiedSignatures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifiedSignatures({} entries)", self.0.len())
    }
}

/// Headers the claim is read from (besides the query): `Authorization`, the signing time
/// and the session token.
const CLAIM_HEADERS: [&str; 4] = [
    "authorization",
    "x-amz-date",
    "date",
    "x-amz-security-token",
];

/// What a verified signature covered, as received: method, raw path and query (presigned:
/// the signature parameter included, which is the cache key), the headers the claim was
/// read from, each signed header's values by its position in the signed list, and the
/// payload hash; with the claim those bytes made.
pub struct SignedInputs {
    method: Box<str>,
    path: Box<str>,
    query: Box<str>,
    claim_headers: [Option<Box<str>>; 4],
    headers: Box<[(usize, Box<str>)]>,
    payload_hash: Box<str>,
    claim: Claim<'static>,
    /// The identity-policy decision on `execute-api:Invoke` of the method ARN these inputs
    /// were first authorized on (see [`SignedInputs::remember`]).
    decision: OnceLock<(Box<str>, Decision)>,
}

impl fmt::Debug for SignedInputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignedInputs({} {})", self.method, self.path)
    }
}

impl SignedInputs {
    fn of(req: &SignedRequest, claim: &Claim, payload_hash: &str) -> Option<SignedInputs> {
        let headers: Box<[(usize, Box<str>)]> = signed_values(req, &claim.signed_headers)
            .map(|(i, v)| (i, v.into()))
            .collect();
        let claim_headers: [Option<Box<str>>; 4] = claim_headers(req).map(|v| v.map(Box::from));
        let size = req.method.len()
            + req.path.len()
            + 2 * req.query.len()
            + claim_headers
                .iter()
                .flatten()
                .map(|v| 2 * v.len())
                .sum::<usize>()
            + headers.iter().map(|(_, v)| v.len() + 8).sum::<usize>();
        (size <= MAX_CACHED_INPUT_BYTES).then(|| SignedInputs {
            method: req.method.into(),
            path: req.path.into(),
            query: req.query.into(),
            claim_headers,
            headers,
            payload_hash: payload_hash.into(),
            claim: claim.owned(),
            decision: OnceLock::new(),
        })
    }

    /// The decision remembered for `method_arn`, if one is.
    pub fn remembered(&self, method_arn: &str) -> Option<Decision> {
        self.decision
            .get()
            .filter(|(arn, _)| **arn == *method_arn)
            .map(|&(_, d)| d)
    }

    /// Remembers the caller's identity-policy decision on `method_arn`, for replays of the
    /// same signed request: only for a decision that depends on nothing but the caller,
    /// the action and the ARN (policies without conditions). The first one stays. The
    /// entry belongs to the IAM users compiled with the configuration, so a reload
    /// forgets it.
    pub fn remember(&self, method_arn: &str, decision: Decision) {
        let _ = self.decision.set((method_arn.into(), decision));
    }

    /// `req` carries exactly these inputs.
    fn matches(
        &self,
        req: &SignedRequest,
        claim_headers: &[Option<&str>; 4],
        payload_hash: &str,
    ) -> bool {
        if *self.method != *req.method
            || *self.path != *req.path
            || *self.query != *req.query
            || *self.payload_hash != *payload_hash
        {
            return false;
        }
        let kept = &self.claim_headers;
        // Compared one by one: the four are checked on every replay.
        if claim_headers[0] != kept[0].as_deref()
            || claim_headers[1] != kept[1].as_deref()
            || claim_headers[2] != kept[2].as_deref()
            || claim_headers[3] != kept[3].as_deref()
        {
            return false;
        }
        // `signed_values` written out: a replay is checked on every request.
        let mut stored = self.headers.iter();
        for (i, name) in signed_names(&self.claim.signed_headers).enumerate() {
            for (k, v) in req.headers {
                if trim(k).as_bytes().eq_ignore_ascii_case(name) {
                    match stored.next() {
                        Some((j, w)) if *j == i && **w == **v => {}
                        _ => return false,
                    }
                }
            }
        }
        stored.next().is_none()
    }
}

/// The checks that need no body: the signature is readable, scoped to the API, in time, by
/// a known key with its session token, and signs the host. A request that fails them is
/// refused before its body is read; `req.body` is not looked at.
pub fn precheck<'k, U: 'k>(
    req: &SignedRequest,
    expected: &Expected,
    now: SystemTime,
    lookup: impl Fn(&str) -> Option<(&'k U, &'k SecretKey)>,
) -> Result<(), SigV4Error> {
    check(req, expected, now, lookup).map(drop)
}

/// A claim that passed [`check`]: only the signature itself is left to compare.
struct Checked<'a, 'k, U: 'k> {
    claim: Claim<'a>,
    caller: &'k U,
    secret: &'k SecretKey,
}

fn check<'a, 'k, U: 'k>(
    req: &SignedRequest<'a>,
    expected: &Expected,
    now: SystemTime,
    lookup: impl Fn(&str) -> Option<(&'k U, &'k SecretKey)>,
) -> Result<Checked<'a, 'k, U>, SigV4Error> {
    let claim = match req.header("authorization") {
        Some(auth) => parse_header_form(req, auth)?,
        None if is_presigned(req.query) => parse_query_form(req)?,
        None => return Err(SigV4Error::Missing),
    };
    validate(claim, expected, now, lookup)
}

/// The checks of a parsed claim: scope, time, access key and session token, host signed.
fn validate<'a, 'k, U: 'k>(
    claim: Claim<'a>,
    expected: &Expected,
    now: SystemTime,
    lookup: impl Fn(&str) -> Option<(&'k U, &'k SecretKey)>,
) -> Result<Checked<'a, 'k, U>, SigV4Error> {
    let (caller, secret) = admit(&claim, expected, now, lookup)?;
    Ok(Checked {
        claim,
        caller,
        secret,
    })
}

/// [`validate`]'s checks, reading the claim where it is: the caller and its secret.
fn admit<'k, U: 'k>(
    claim: &Claim,
    expected: &Expected,
    now: SystemTime,
    lookup: impl Fn(&str) -> Option<(&'k U, &'k SecretKey)>,
) -> Result<(&'k U, &'k SecretKey), SigV4Error> {
    check_scope(claim, expected)?;
    check_time(claim, now)?;
    let (caller, secret) = lookup(&claim.access_key_id).ok_or(SigV4Error::UnrecognizedClient)?;
    let token_ok = match (&secret.session_token, &claim.session_token) {
        (Some(want), Some(got)) => constant_time_eq(want.as_bytes(), got.as_bytes()),
        (None, None) => true,
        _ => false,
    };
    if !token_ok {
        return Err(SigV4Error::UnrecognizedClient);
    }
    if secret.expiration.is_some_and(|e| now >= e) {
        return Err(SigV4Error::ExpiredToken);
    }
    if !signed_names(&claim.signed_headers).any(|h| h == b"host" || h == b":authority") {
        return Err(SigV4Error::Incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".into(),
        ));
    }
    Ok((caller, secret))
}

impl<'k, U> Checked<'_, 'k, U> {
    /// The request, its signature compared; `kept` its entry in the cache.
    fn passed(self, kept: Option<Arc<SignedInputs>>) -> Verified<'k, U> {
        Verified {
            caller: self.caller,
            #[cfg(test)]
            access_key_id: self.claim.access_key_id.into_owned(),
            kept,
            #[cfg(test)]
            form: self.claim.form,
        }
    }

    /// Compares the signature over `req`, body included, for each canonical variant; one
    /// that matches is kept in `verified`.
    fn signature(
        self,
        req: &SignedRequest,
        payload_hash: &str,
        now: SystemTime,
        verified: Option<&VerifiedSignatures>,
    ) -> Result<Verified<'k, U>, SigV4Error> {
        let Checked {
            claim,
            caller,
            secret,
        } = self;
        let key = secret.signing_key(&claim.scope_date, &claim.scope_region, &claim.scope_service);
        let scope = sigv4::scope(&claim.scope_date, &claim.scope_region, &claim.scope_service);
        let headers = canonical_headers(req, &claim.signed_headers);
        // Each canonical piece once; the variants combine them.
        let as_is = sigv4::Settings {
            normalize_path: false,
            ..sigv4::Settings::DEFAULT
        };
        let normalized = sigv4::normalize_path(req.path);
        let raw_uri = (normalized != req.path).then(|| sigv4::canonical_uri(req.path, &as_is));
        let normalized_uri = sigv4::canonical_uri(&normalized, &as_is);
        let (query, query_without_token) = match claim.form {
            Form::Header => (sigv4::canonical_query(req.query), None),
            Form::Query => (
                sigv4::canonical_query_without(req.query, |k| k == "X-Amz-Signature"),
                claim.session_token.is_some().then(|| {
                    sigv4::canonical_query_without(req.query, |k| {
                        k == "X-Amz-Signature" || k == "X-Amz-Security-Token"
                    })
                }),
            ),
        };
        let mut first: Option<(String, String)> = None;
        for v in Variant::ALL {
            let uri = match (v.normalize_path, &raw_uri) {
                (true, _) => &normalized_uri,
                (false, Some(raw)) => raw,
                (false, None) => continue,
            };
            let query = match (v.token_in_query, &query_without_token) {
                (true, _) => &query,
                (false, Some(q)) => q,
                (false, None) => continue,
            };
            let creq = format!(
                "{}\n{uri}\n{query}\n{headers}\n{}\n{payload_hash}",
                req.method, claim.signed_headers
            );
            let sts = sigv4::string_to_sign(&claim.amz_date, &scope, &creq);
            let sig = sigv4::signature(&key.key, &sts);
            if constant_time_eq(sig.as_bytes(), claim.signature.as_bytes()) {
                let mut kept = None;
                if let Some(v) = verified {
                    if let Some(inputs) = SignedInputs::of(req, &claim, payload_hash) {
                        // Accepted up to and including the window's last second.
                        let until = claim.time + claim.window() + Duration::from_secs(1);
                        let inputs = Arc::new(inputs);
                        if until > now {
                            kept = Some(inputs.clone());
                        }
                        v.0.insert(claim.signature.to_string(), inputs, until, now);
                    }
                }
                return Ok(Checked {
                    claim,
                    caller,
                    secret,
                }
                .passed(kept));
            }
            first.get_or_insert((creq, sts));
        }
        let (canonical_request, string_to_sign) = first.unwrap_or_default();
        Err(SigV4Error::Mismatch {
            canonical_request,
            string_to_sign,
        })
    }
}

/// AWS reads an `Authorization` header even when no method matched: one that is not
/// readable as SigV4 is answered with its IncompleteSignature message instead of "Missing
/// Authentication Token".
pub fn unreadable_authorization(req: &SignedRequest) -> Option<SigV4Error> {
    let auth = req.header("authorization")?;
    match parse_header_form(req, auth) {
        Err(e @ SigV4Error::Incomplete(_)) => Some(e),
        _ => None,
    }
}

/// The request carries presigned parameters.
pub fn is_presigned(query: &str) -> bool {
    query.split('&').any(|p| {
        let name = p.split_once('=').map_or(p, |(k, _)| k);
        matches!(
            name,
            "X-Amz-Algorithm" | "X-Amz-Credential" | "X-Amz-Signature"
        )
    })
}

/// Reads `Authorization: AWS4-HMAC-SHA256 Credential=.., SignedHeaders=.., Signature=..` the
/// way AWS does: the scheme, then comma-separated `key=value` pairs.
fn parse_header_form<'a>(req: &SignedRequest<'a>, auth: &'a str) -> Result<Claim<'a>, SigV4Error> {
    let (algorithm, rest) = match auth.split_once(|c: char| c.is_ascii_whitespace()) {
        Some((a, r)) => (a, r),
        None => (auth, ""),
    };
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, v)) = part.split_once('=') else {
            return Err(SigV4Error::Incomplete(format!(
                "'{part}' not a valid key=value pair (missing equal-sign) in Authorization header: '{auth}'."
            )));
        };
        match k.trim() {
            "Credential" => credential = Some(v.trim()),
            "SignedHeaders" => signed_headers = Some(v.trim()),
            "Signature" => signature = Some(v.trim()),
            _ => {}
        }
    }
    let date = request_date(req)?;
    let mut missing = String::new();
    for (what, absent) in [
        ("'Credential' parameter", credential.is_none()),
        ("'Signature' parameter", signature.is_none()),
        ("'SignedHeaders' parameter", signed_headers.is_none()),
        (
            "existence of either a 'X-Amz-Date' or a 'Date' header",
            date.is_none(),
        ),
    ] {
        if absent {
            missing.push_str("Authorization header requires ");
            missing.push_str(what);
            missing.push_str(". ");
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature), Some((amz_date, time))) =
        (credential, signed_headers, signature, date)
    else {
        return Err(SigV4Error::Incomplete(format!(
            "{missing}Authorization={auth}"
        )));
    };
    if algorithm != sigv4::ALGORITHM {
        return Err(SigV4Error::Incomplete(format!(
            "Unsupported AWS 'algorithm': '{algorithm}'."
        )));
    }
    let (access_key_id, scope_date, scope_region, scope_service) =
        split_credential(Cow::Borrowed(credential))?;
    Ok(Claim {
        form: Form::Header,
        access_key_id,
        scope_date,
        scope_region,
        scope_service,
        signed_headers: Cow::Borrowed(signed_headers),
        signature: Cow::Borrowed(signature),
        amz_date: Cow::Owned(amz_date),
        time,
        expires: None,
        session_token: req.header("x-amz-security-token").map(Cow::Borrowed),
    })
}

/// The signing time: `X-Amz-Date`, else `Date` (HTTP date). None when neither is present.
fn request_date(req: &SignedRequest) -> Result<Option<(String, SystemTime)>, SigV4Error> {
    if let Some(v) = req.header("x-amz-date") {
        return parse_iso_date(v).map(Some);
    }
    Ok(req
        .header("date")
        .and_then(|v| httpdate::parse_http_date(v).ok())
        .map(|t| (sigv4::amz_date(t), t)))
}

fn parse_iso_date(v: &str) -> Result<(String, SystemTime), SigV4Error> {
    match sigv4::parse_amz_date(v) {
        Some(t) => Ok((v.to_string(), t)),
        None => Err(SigV4Error::Incomplete(format!(
            "Date must be in ISO-8601 'basic format'. Got '{v}'. See http://en.wikipedia.org/wiki/ISO_8601"
        ))),
    }
}

type CredentialParts<'a> = (Cow<'a, str>, Cow<'a, str>, Cow<'a, str>, Cow<'a, str>);

/// `AKID/yyyymmdd/region/service/aws4_request`.
fn split_credential(credential: Cow<'_, str>) -> Result<CredentialParts<'_>, SigV4Error> {
    let parts: Vec<&str> = credential.split('/').collect();
    if parts.len() != 5 {
        return Err(SigV4Error::Incomplete(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
        )));
    }
    if parts[4] != "aws4_request" {
        return Err(SigV4Error::Invalid(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'. ",
            parts[4]
        )));
    }
    let own = |s: &str| Cow::Owned(s.to_string());
    match credential {
        Cow::Borrowed(c) => {
            let mut it = c.split('/');
            let mut next = || Cow::Borrowed(it.next().unwrap_or_default());
            Ok((next(), next(), next(), next()))
        }
        Cow::Owned(_) => Ok((own(parts[0]), own(parts[1]), own(parts[2]), own(parts[3]))),
    }
}

/// Reads the presigned parameters (`X-Amz-Algorithm`, `-Credential`, `-Date`, `-Expires`,
/// `-SignedHeaders`, `-Signature`, optional `-Security-Token`).
fn parse_query_form<'a>(req: &SignedRequest<'a>) -> Result<Claim<'a>, SigV4Error> {
    const NAMES: [&str; 6] = [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Signature",
        "X-Amz-Date",
        "X-Amz-SignedHeaders",
        "X-Amz-Expires",
    ];
    // One pass; the first occurrence of a name counts.
    let mut raw: [Option<&'a str>; 6] = [None; 6];
    let mut token = None;
    for p in req.query.split('&') {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        if !k.starts_with("X-Amz-") {
            continue;
        }
        let slot = match NAMES.iter().position(|n| *n == k) {
            Some(i) => &mut raw[i],
            None if k == "X-Amz-Security-Token" => &mut token,
            None => continue,
        };
        slot.get_or_insert(v);
    }
    let decode = |v: &'a str| percent_encoding::percent_decode_str(v).decode_utf8_lossy();
    let values: [Option<Cow<'a, str>>; 6] = raw.map(|v| v.map(decode));
    if values.iter().any(Option::is_none) {
        let mut m = String::new();
        for (n, v) in NAMES.iter().zip(&values) {
            if v.is_none() {
                m.push_str(&format!("AWS query-string parameters must include '{n}'. "));
            }
        }
        m.push_str("Re-examine the query-string parameters.");
        return Err(SigV4Error::Incomplete(m));
    }
    let mut it = values.into_iter().flatten();
    let mut next = || it.next().unwrap_or_default();
    let (algorithm, credential, signature, date, signed_headers, expires) =
        (next(), next(), next(), next(), next(), next());
    if algorithm != sigv4::ALGORITHM {
        return Err(SigV4Error::Incomplete(format!(
            "Unsupported AWS 'algorithm': '{algorithm}'."
        )));
    }
    let (amz_date, time) = parse_iso_date(&date)?;
    let expires: u64 = expires.parse().map_err(|_| {
        SigV4Error::Incomplete(format!(
            "X-Amz-Expires should be a number, not '{expires}'."
        ))
    })?;
    if expires > MAX_EXPIRES {
        return Err(SigV4Error::Invalid(format!(
            "X-Amz-Expires must be less than a week (in seconds) that is {MAX_EXPIRES}"
        )));
    }
    let (access_key_id, scope_date, scope_region, scope_service) =
        split_credential(Cow::Owned(credential.into_owned()))?;
    Ok(Claim {
        form: Form::Query,
        access_key_id,
        scope_date,
        scope_region,
        scope_service,
        signed_headers,
        signature,
        amz_date: Cow::Owned(amz_date),
        time,
        expires: Some(expires),
        session_token: token.map(decode),
    })
}

fn check_scope(claim: &Claim, expected: &Expected) -> Result<(), SigV4Error> {
    if claim.scope_date != claim.amz_date.get(..8).unwrap_or_default() {
        return Err(SigV4Error::Invalid(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{}'.",
            claim.scope_date,
            claim.amz_date.get(..8).unwrap_or_default(),
            claim.amz_date
        )));
    }
    if claim.scope_region != expected.region {
        return Err(SigV4Error::Invalid(format!(
            "Credential should be scoped to a valid region, not '{}'. ",
            claim.scope_region
        )));
    }
    if claim.scope_service != expected.service {
        return Err(SigV4Error::Invalid(format!(
            "Credential should be scoped to correct service: '{}'. ",
            expected.service
        )));
    }
    Ok(())
}

/// Header form: within [`MAX_SKEW`] of `now`. Presigned: from `X-Amz-Date` (less the skew)
/// until `X-Amz-Date + X-Amz-Expires`.
fn check_time(claim: &Claim, now: SystemTime) -> Result<(), SigV4Error> {
    let fmt = sigv4::amz_date;
    let window = claim.window();
    let earliest = now.checked_sub(window).unwrap_or(SystemTime::UNIX_EPOCH);
    if claim.time < earliest {
        let span = match claim.expires {
            None => "5 min.".to_string(),
            Some(s) => format!("{s} sec."),
        };
        return Err(SigV4Error::Invalid(format!(
            "Signature expired: {} is now earlier than {} ({} - {span})",
            claim.amz_date,
            fmt(earliest),
            fmt(now)
        )));
    }
    let latest = now + MAX_SKEW;
    if claim.time > latest {
        return Err(SigV4Error::Invalid(format!(
            "Signature not yet current: {} is still later than {} ({} + 5 min.)",
            claim.amz_date,
            fmt(latest),
            fmt(now)
        )));
    }
    Ok(())
}

/// `name:value\n` for each signed header, values of repeated headers joined with `,` in
/// arrival order; a signed header the request lacks is written empty (and so mismatches).
fn canonical_headers(req: &SignedRequest, signed: &str) -> String {
    let mut out = String::with_capacity(256);
    let mut values = signed_values(req, signed).peekable();
    for (i, name) in signed.split(';').enumerate() {
        out.push_str(name);
        out.push(':');
        let mut first = true;
        while let Some((_, v)) = values.next_if(|(j, _)| *j == i) {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(&sigv4::fold_whitespace(v));
        }
        out.push('\n');
    }
    out
}

/// The names of a `SignedHeaders` list, as bytes: split without a search for `;` (the list
/// is short).
fn signed_names(signed: &str) -> impl Iterator<Item = &[u8]> {
    signed.as_bytes().split(|&b| b == b';')
}

/// The raw values of the signed headers, each with the position of its name in the signed
/// list: names in signed order, values of one name in arrival order.
fn signed_values<'r>(
    req: &'r SignedRequest,
    signed: &'r str,
) -> impl Iterator<Item = (usize, &'r str)> + 'r {
    signed.split(';').enumerate().flat_map(move |(i, name)| {
        req.headers
            .iter()
            .filter(move |(k, _)| trim(k).eq_ignore_ascii_case(name))
            .map(move |(_, v)| (i, *v))
    })
}

/// The canonical forms a client may have signed, most common first: SDKs normalise the path
/// (`-unnormalized` suite cases do not) and some add the session token after presigning.
#[derive(Clone, Copy)]
struct Variant {
    normalize_path: bool,
    token_in_query: bool,
}

impl Variant {
    const ALL: [Variant; 4] = [
        Variant {
            normalize_path: true,
            token_in_query: true,
        },
        Variant {
            normalize_path: false,
            token_in_query: true,
        },
        Variant {
            normalize_path: true,
            token_in_query: false,
        },
        Variant {
            normalize_path: false,
            token_in_query: false,
        },
    ];
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::sigv4::{parse_amz_date, Credentials, Payload, Request, Settings};

    const AKID: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const EXEC: Expected = Expected {
        region: "us-east-1",
        service: "execute-api",
    };

    fn t(s: &str) -> SystemTime {
        parse_amz_date(s).unwrap()
    }

    struct Keys(Vec<(String, SecretKey)>);

    impl Keys {
        fn one(token: Option<&str>) -> Keys {
            Keys(vec![(AKID.to_string(), SecretKey::new(SECRET, token))])
        }
        fn run(&self, req: &SignedRequest, now: SystemTime) -> Result<Form, SigV4Error> {
            self.run_in(req, now, &EXEC)
        }
        fn run_in(
            &self,
            req: &SignedRequest,
            now: SystemTime,
            exp: &Expected,
        ) -> Result<Form, SigV4Error> {
            verify(req, exp, now, |k| {
                self.0.iter().find(|(id, _)| id == k).map(|(id, s)| (id, s))
            })
            .map(|v| {
                assert_eq!(v.caller, &v.access_key_id);
                v.form
            })
        }
    }

    /// §14.2 vector 1: botocore's signature for an execute-api GET.
    fn vector1_headers(auth: &str) -> Vec<(&str, &str)> {
        vec![
            ("Host", "abc123defg.execute-api.us-east-1.amazonaws.com"),
            ("X-Amz-Date", "20150830T123600Z"),
            ("Authorization", auth),
        ]
    }
    const VECTOR1_AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=bffad899b569e14b4e119b5969734d99c94ef98c060fa7561ab15cb2ce927055";

    fn get<'a>(
        path: &'a str,
        query: &'a str,
        headers: &'a [(&'a str, &'a str)],
    ) -> SignedRequest<'a> {
        SignedRequest {
            method: "GET",
            path,
            query,
            headers,
            body: b"",
        }
    }

    /// The shortcuts read what the general forms read.
    /// Claim headers noted while a header map is listed are those read from the list.
    #[test]
    fn claim_headers_noted_from_a_header_map() {
        let mut map = http::HeaderMap::new();
        for (k, v) in [
            ("host", "h"),
            ("x-amz-date", " 20260101T000000Z"),
            ("date", "d"),
            ("x-amz-date", "second"),
            ("authorization", "AWS4-HMAC-SHA256 a "),
            ("x-amz-security-token", "t"),
            ("x-amz-datex", "no"),
            ("dates", "no"),
        ] {
            map.append(k, v.parse().unwrap());
        }
        let mut noted = ClaimHeaders::default();
        let mut list = Vec::new();
        for (k, v) in &map {
            let v = v.to_str().unwrap();
            list.push((k.as_str(), v));
            noted.note(k.as_str(), v);
        }
        let req = SignedRequest {
            method: "GET",
            path: "/",
            query: "",
            headers: &list,
            body: b"",
        };
        assert_eq!(noted, ClaimHeaders::of(&req));
        assert_eq!(
            noted.0,
            [
                Some("AWS4-HMAC-SHA256 a"),
                Some("20260101T000000Z"),
                Some("d"),
                Some("t")
            ]
        );
    }

    /// Each claim header is found by its length, then its name.
    #[test]
    fn claim_headers_by_length() {
        let lengths: Vec<usize> = CLAIM_HEADERS.iter().map(|h| h.len()).collect();
        assert_eq!(lengths, [13, 10, 4, 20]);
        let headers = [
            ("Host", "h"),
            ("X-Amz-Date", " 20260101T000000Z "),
            ("DATE", "d"),
            ("Date", "second"),
            ("dat", "x"),
            (" authorization ", "a"),
            ("X-Amz-Security-Token", "t"),
            ("x-amz-security-tokeN", "u"),
            ("x-amz-datx", "no"),
        ];
        let req = SignedRequest {
            method: "GET",
            path: "/",
            query: "",
            headers: &headers,
            body: b"",
        };
        assert_eq!(
            claim_headers(&req),
            [Some("a"), Some("20260101T000000Z"), Some("d"), Some("t")]
        );
    }

    #[test]
    fn trim_and_signature_shortcuts() {
        for v in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\u{b}a",
            "a\u{b}",
            "\u{85}a",
            "a\u{3000}",
            "\u{e9}",
            "x-amz-date",
            "\tHost\r",
            "a b",
        ] {
            assert_eq!(trim(v), v.trim(), "{v:?}");
        }
        let sig = "a".repeat(64);
        fn general(q: &str) -> Option<&str> {
            q.rsplit('&')
                .find_map(|p| p.strip_prefix("X-Amz-Signature="))
        }
        for q in [
            format!("X-Amz-Signature={sig}"),
            format!("a=1&X-Amz-Signature={sig}"),
            format!("a=1X-Amz-Signature={sig}"),
            format!("X-Amz-Signature={sig}&b=2"),
            format!("X-Amz-Signature={}", "a&".repeat(32)),
            format!("X-Amz-Signature={}&X-Amz-Signature=x", "b".repeat(62)),
            format!("\u{e9}X-Amz-Signature={}", "\u{e9}".repeat(32)),
            format!("X-Amz-Signature={sig}0"),
            "X-Amz-Signature=short".to_string(),
            String::new(),
        ] {
            let req = SignedRequest {
                method: "GET",
                path: "/",
                query: &q,
                headers: &[],
                body: b"",
            };
            assert_eq!(raw_signature(&req, None), general(&q), "{q}");
        }
    }

    #[test]
    fn botocore_execute_api_vectors() {
        let keys = Keys::one(None);
        let h = vector1_headers(VECTOR1_AUTH);
        let now = t("20150830T123600Z");
        assert_eq!(
            keys.run(&get("/prod/pets/42", "type=dog&page=2", &h), now),
            Ok(Form::Header)
        );
        // Vector 2: @connections path, double-encoded, with a body.
        let auth2 = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=24dabff2635f84a03fc47725ab60d64e5a956cda679f96776daa50cadaa23dd8";
        let h2 = vector1_headers(auth2);
        let post = SignedRequest {
            method: "POST",
            path: "/prod/@connections/JBDvjfGEIAMCERw%3D",
            query: "",
            headers: &h2,
            body: b"hello world",
        };
        assert_eq!(keys.run(&post, now), Ok(Form::Header));
        let altered = SignedRequest {
            body: b"hello world!",
            ..post
        };
        assert!(matches!(
            keys.run(&altered, now),
            Err(SigV4Error::Mismatch { .. })
        ));
        // Vector 3: presigned, valid for 300 s.
        let q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fexecute-api%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=b4d00be7ce83c27e718a1f5e9914ff23beef363dd737cf3b335e3921b0ea9631";
        let hq = [("Host", "abc123defg.execute-api.us-east-1.amazonaws.com")];
        assert_eq!(keys.run(&get("/prod/pets", q, &hq), now), Ok(Form::Query));
        assert_eq!(
            keys.run(&get("/prod/pets", q, &hq), t("20150830T124100Z")),
            Ok(Form::Query)
        );
        assert_eq!(
            keys.run(&get("/prod/pets", q, &hq), t("20150830T124101Z")),
            Err(SigV4Error::Invalid(
                "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z (20150830T124101Z - 300 sec.)".into()
            ))
        );
    }

    /// The checks before the body: everything but the signature, the body not looked at.
    #[test]
    fn precheck_needs_no_body() {
        let keys = Keys::one(None);
        let lookup = |k: &str| keys.0.iter().find(|(id, _)| id == k).map(|(id, s)| (id, s));
        let now = t("20150830T123600Z");
        let h = vector1_headers(VECTOR1_AUTH);
        let post = SignedRequest {
            method: "POST",
            path: "/prod/pets/42",
            query: "type=dog&page=2",
            headers: &h,
            body: b"not what was signed",
        };
        assert_eq!(precheck(&post, &EXEC, now, lookup), Ok(()));
        assert!(matches!(
            verify(&post, &EXEC, now, lookup),
            Err(SigV4Error::Mismatch { .. })
        ));
        let other = VECTOR1_AUTH.replace("AKIDEXAMPLE", "AKIDOTHER");
        let h = vector1_headers(&other);
        let stranger = SignedRequest {
            headers: &h,
            ..post
        };
        assert_eq!(
            precheck(&stranger, &EXEC, now, lookup),
            Err(SigV4Error::UnrecognizedClient)
        );
        assert!(matches!(
            precheck(&post, &EXEC, t("20150830T124200Z"), lookup),
            Err(SigV4Error::Invalid(_))
        ));
        assert_eq!(
            precheck(&get("/prod/x", "", &[]), &EXEC, now, lookup),
            Err(SigV4Error::Missing)
        );
    }

    #[test]
    fn mismatch_echoes_the_canonical_strings() {
        let keys = Keys::one(None);
        let bad = VECTOR1_AUTH.replace("bffad8", "bffad9");
        let h = vector1_headers(&bad);
        let err = keys
            .run(
                &get("/prod/pets/42", "type=dog&page=2", &h),
                t("20150830T123600Z"),
            )
            .unwrap_err();
        let (kind, error_type, message) = err.response();
        assert_eq!(kind, GatewayResponseType::InvalidSignature);
        assert_eq!(error_type, "InvalidSignatureException");
        assert_eq!(
            message,
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\n\
             The Canonical String for this request should have been\n\
             'GET\n/prod/pets/42\npage=2&type=dog\nhost:abc123defg.execute-api.us-east-1.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'\n\n\
             The String-to-Sign should have been\n\
             'AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/execute-api/aws4_request\nd8c65082779bde033224b4021260b0e1203144bc846cb89407c9b918a30acf66'\n"
        );
        // Wrong secret: same outcome.
        let other = Keys(vec![(AKID.into(), SecretKey::new("not-the-secret", None))]);
        let h = vector1_headers(VECTOR1_AUTH);
        assert!(matches!(
            other.run(
                &get("/prod/pets/42", "type=dog&page=2", &h),
                t("20150830T123600Z")
            ),
            Err(SigV4Error::Mismatch { .. })
        ));
        // Altered query or path.
        for (p, q) in [
            ("/prod/pets/42", "type=cat&page=2"),
            ("/prod/pets/43", "type=dog&page=2"),
        ] {
            assert!(matches!(
                keys.run(&get(p, q, &h), t("20150830T123600Z")),
                Err(SigV4Error::Mismatch { .. })
            ));
        }
    }

    #[test]
    fn clock_skew_window() {
        let keys = Keys::one(None);
        let h = vector1_headers(VECTOR1_AUTH);
        let req = get("/prod/pets/42", "type=dog&page=2", &h);
        assert!(keys.run(&req, t("20150830T124100Z")).is_ok());
        assert!(keys.run(&req, t("20150830T123100Z")).is_ok());
        assert_eq!(
            keys.run(&req, t("20150830T124200Z")),
            Err(SigV4Error::Invalid(
                "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z (20150830T124200Z - 5 min.)".into()
            ))
        );
        assert_eq!(
            keys.run(&req, t("20150830T123000Z")),
            Err(SigV4Error::Invalid(
                "Signature not yet current: 20150830T123600Z is still later than 20150830T123500Z (20150830T123000Z + 5 min.)".into()
            ))
        );
    }

    #[test]
    fn unreadable_authorization_headers() {
        let keys = Keys::one(None);
        let now = t("20150830T123600Z");
        let incomplete =
            |headers: &[(&str, &str)]| match keys.run(&get("/prod/x", "", headers), now) {
                Err(SigV4Error::Incomplete(m)) => m,
                other => panic!("{other:?}"),
            };
        assert_eq!(
            incomplete(&[("Authorization", "eyJraWQiOiJ4In0.e30.sig")]),
            "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=eyJraWQiOiJ4In0.e30.sig"
        );
        assert_eq!(
            incomplete(&[("Authorization", "Bearer sometoken")]),
            "'sometoken' not a valid key=value pair (missing equal-sign) in Authorization header: 'Bearer sometoken'."
        );
        assert_eq!(
            incomplete(&[
                ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/execute-api/aws4_request"),
                ("X-Amz-Date", "20150830T123600Z")
            ]),
            "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/execute-api/aws4_request"
        );
        assert_eq!(
            incomplete(&[
                ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/execute-api/aws4_request, SignedHeaders=x-amz-date, Signature=00"),
                ("X-Amz-Date", "20150830T123600Z")
            ]),
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
        );
        assert_eq!(
            incomplete(&[
                ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/execute-api, SignedHeaders=host, Signature=00"),
                ("X-Amz-Date", "20150830T123600Z")
            ]),
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'AKIDEXAMPLE/20150830/us-east-1/execute-api'"
        );
        assert_eq!(
            incomplete(&[
                ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=00"),
                ("X-Amz-Date", "2015-08-30T12:36:00Z")
            ]),
            "Date must be in ISO-8601 'basic format'. Got '2015-08-30T12:36:00Z'. See http://en.wikipedia.org/wiki/ISO_8601"
        );
    }

    #[test]
    fn missing_and_unknown_credentials() {
        let keys = Keys::one(None);
        let now = t("20150830T123600Z");
        assert_eq!(
            keys.run(&get("/prod/x", "a=b", &[]), now),
            Err(SigV4Error::Missing)
        );
        let other = VECTOR1_AUTH.replace("AKIDEXAMPLE", "AKIDOTHER");
        let h = vector1_headers(&other);
        let err = keys
            .run(&get("/prod/pets/42", "type=dog&page=2", &h), now)
            .unwrap_err();
        assert_eq!(err, SigV4Error::UnrecognizedClient);
        let (kind, ty, msg) = err.response();
        assert_eq!(
            (kind, ty, msg.as_ref()),
            (
                GatewayResponseType::InvalidSignature,
                "UnrecognizedClientException",
                "The security token included in the request is invalid."
            )
        );
        // A key with a session token needs that token, and a key without one refuses one.
        let with_token = Keys::one(Some("TOKEN"));
        let h = vector1_headers(VECTOR1_AUTH);
        assert_eq!(
            with_token.run(&get("/prod/pets/42", "type=dog&page=2", &h), now),
            Err(SigV4Error::UnrecognizedClient)
        );
        let mut h2 = h.clone();
        h2.push(("X-Amz-Security-Token", "TOKEN"));
        assert_eq!(
            keys.run(&get("/prod/pets/42", "type=dog&page=2", &h2), now),
            Err(SigV4Error::UnrecognizedClient)
        );
        // Missing presign parameters.
        assert_eq!(
            keys.run(&get("/prod/x", "X-Amz-Signature=00&X-Amz-Date=20150830T123600Z", &[]), now),
            Err(SigV4Error::Incomplete("AWS query-string parameters must include 'X-Amz-Algorithm'. AWS query-string parameters must include 'X-Amz-Credential'. AWS query-string parameters must include 'X-Amz-SignedHeaders'. AWS query-string parameters must include 'X-Amz-Expires'. Re-examine the query-string parameters.".into()))
        );
    }

    #[test]
    fn scope_must_be_the_apis() {
        let keys = Keys::one(None);
        let h = vector1_headers(VECTOR1_AUTH);
        let req = get("/prod/pets/42", "type=dog&page=2", &h);
        let now = t("20150830T123600Z");
        let west = Expected {
            region: "us-west-2",
            service: "execute-api",
        };
        assert_eq!(
            keys.run_in(&req, now, &west),
            Err(SigV4Error::Invalid(
                "Credential should be scoped to a valid region, not 'us-east-1'. ".into()
            ))
        );
        let h = vector1_headers("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150831/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=00");
        assert_eq!(
            keys.run(&get("/prod/x", "", &h), now),
            Err(SigV4Error::Invalid("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20150831' != '20150830', from '20150830T123600Z'.".into()))
        );
        let h = vector1_headers("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=00");
        assert_eq!(
            keys.run(&get("/prod/x", "", &h), now),
            Err(SigV4Error::Invalid(
                "Credential should be scoped to correct service: 'execute-api'. ".into()
            ))
        );
    }

    /// A client may date its request with `Date` (an HTTP date) instead of `X-Amz-Date`.
    #[test]
    fn date_header_instead_of_x_amz_date() {
        let keys = Keys::one(None);
        let date = "Sun, 30 Aug 2015 12:36:00 GMT";
        let creq = format!(
            "GET\n/prod/pets\n\ndate:{date}\nhost:api.local\n\ndate;host\n{}",
            sigv4::EMPTY_SHA256
        );
        let scope = sigv4::scope("20150830", "us-east-1", "execute-api");
        let sts = sigv4::string_to_sign("20150830T123600Z", &scope, &creq);
        let sig = sigv4::signature(
            &sigv4::signing_key(SECRET, "20150830", "us-east-1", "execute-api"),
            &sts,
        );
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential={AKID}/{scope}, SignedHeaders=date;host, Signature={sig}"
        );
        let h = [
            ("Host", "api.local"),
            ("Date", date),
            ("Authorization", auth.as_str()),
        ];
        let now = t("20150830T123900Z");
        assert_eq!(keys.run(&get("/prod/pets", "", &h), now), Ok(Form::Header));
        assert_eq!(
            keys.run(&get("/prod/pets", "", &h), t("20150830T124200Z")),
            Err(SigV4Error::Invalid(
                "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z (20150830T124200Z - 5 min.)".into()
            ))
        );
    }

    #[test]
    fn signing_keys_are_cached_per_date() {
        let s = SecretKey::new(SECRET, None);
        let a = s.signing_key("20150830", "us-east-1", "execute-api");
        let b = s.signing_key("20150830", "us-east-1", "execute-api");
        assert!(Arc::ptr_eq(&a, &b));
        let c = s.signing_key("20150831", "us-east-1", "execute-api");
        assert!(!Arc::ptr_eq(&a, &c));
        // Callers either side of midnight alternate: both days stay cached.
        assert!(Arc::ptr_eq(
            &a,
            &s.signing_key("20150830", "us-east-1", "execute-api")
        ));
        assert!(Arc::ptr_eq(
            &c,
            &s.signing_key("20150831", "us-east-1", "execute-api")
        ));
        // A third day replaces the oldest.
        let d = s.signing_key("20150901", "us-east-1", "execute-api");
        assert!(Arc::ptr_eq(
            &c,
            &s.signing_key("20150831", "us-east-1", "execute-api")
        ));
        assert!(Arc::ptr_eq(
            &d,
            &s.signing_key("20150901", "us-east-1", "execute-api")
        ));
        assert!(!Arc::ptr_eq(
            &a,
            &s.signing_key("20150830", "us-east-1", "execute-api")
        ));
        assert_eq!(
            sigv4::signature(&c.key, "x"),
            sigv4::signature(
                &sigv4::signing_key(SECRET, "20150831", "us-east-1", "execute-api"),
                "x"
            )
        );
    }

    /// Verifies against `secret` through `cache`.
    fn cached(
        cache: &VerifiedSignatures,
        secret: &SecretKey,
        req: &SignedRequest,
        now: SystemTime,
    ) -> Result<Form, SigV4Error> {
        verify_cached(
            req,
            &EXEC,
            now,
            |k| (k == AKID).then_some((&(), secret)),
            cache,
        )
        .map(|v| v.form)
    }

    /// A replay is answered from the cache only when every signed input is the same. The
    /// replays are verified against a wrong secret, which no recomputed signature matches:
    /// only a cache hit can pass.
    #[test]
    fn cached_signatures_need_every_input_identical() {
        let cache = VerifiedSignatures::default();
        let right = SecretKey::new(SECRET, None);
        let wrong = SecretKey::new("not-the-secret", None);
        let now = t("20150830T123600Z");
        let h = vector1_headers(VECTOR1_AUTH);
        let req = get("/prod/pets/42", "type=dog&page=2", &h);
        assert!(matches!(
            cached(&cache, &wrong, &req, now),
            Err(SigV4Error::Mismatch { .. })
        ));
        assert_eq!(cached(&cache, &right, &req, now), Ok(Form::Header));
        assert_eq!(cached(&cache, &wrong, &req, now), Ok(Form::Header), "hit");
        // Headers the signature does not cover do not matter.
        let mut extra = h.clone();
        extra.push(("User-Agent", "curl"));
        assert_eq!(
            cached(
                &cache,
                &wrong,
                &get("/prod/pets/42", "type=dog&page=2", &extra),
                now
            ),
            Ok(Form::Header)
        );

        let host = "abc123defg.execute-api.us-east-1.amazonaws.com";
        type Headers = Vec<(&'static str, String)>;
        let with_headers = |f: &dyn Fn(&mut Headers)| {
            let mut v: Headers = vec![
                ("Host", host.into()),
                ("X-Amz-Date", "20150830T123600Z".into()),
            ];
            v.push(("Authorization", VECTOR1_AUTH.into()));
            f(&mut v);
            v
        };
        let header_variants: Vec<(&str, Headers)> = vec![
            (
                "host changed",
                with_headers(&|v| v[0].1 = "evil.example".into()),
            ),
            (
                "host spaced",
                with_headers(&|v| v[0].1 = format!(" {host}")),
            ),
            (
                "host repeated",
                with_headers(&|v| v.push(("Host", host.into()))),
            ),
            (
                "date changed",
                with_headers(&|v| v[1].1 = "20150830T123601Z".into()),
            ),
            (
                "date removed, Date header",
                with_headers(&|v| {
                    v.remove(1);
                    v.push(("Date", "Sun, 30 Aug 2015 12:36:00 GMT".into()));
                }),
            ),
            (
                "signed list changed",
                with_headers(&|v| v[2].1 = VECTOR1_AUTH.replace("host;x-amz-date", "host")),
            ),
            (
                "authorization spaced",
                with_headers(&|v| v[2].1 = VECTOR1_AUTH.replace(", ", ",  ")),
            ),
        ];
        for (what, headers) in &header_variants {
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = get("/prod/pets/42", "type=dog&page=2", &h);
            assert!(cached(&cache, &wrong, &r, now).is_err(), "{what}");
        }
        let request_variants = [
            (
                "method",
                SignedRequest {
                    method: "POST",
                    ..req
                },
            ),
            ("path", get("/prod/pets/43", "type=dog&page=2", &h)),
            (
                "path, same once normalised",
                get("/prod//pets/42", "type=dog&page=2", &h),
            ),
            ("query", get("/prod/pets/42", "type=dog&page=3", &h)),
            (
                "query, same once canonical",
                get("/prod/pets/42", "page=2&type=dog", &h),
            ),
            ("query removed", get("/prod/pets/42", "", &h)),
            ("body", SignedRequest { body: b"x", ..req }),
        ];
        for (what, r) in &request_variants {
            assert!(cached(&cache, &wrong, r, now).is_err(), "{what}");
        }
        // The same request, still cached, past its window: the time is checked on hits.
        assert_eq!(
            cached(&cache, &wrong, &req, t("20150830T124100Z")),
            Ok(Form::Header)
        );
        assert!(matches!(
            cached(&cache, &right, &req, t("20150830T124101Z")),
            Err(SigV4Error::Invalid(m)) if m.starts_with("Signature expired")
        ));
        // A session token the key does not have is refused on hits too.
        let mut token = h.clone();
        token.push(("X-Amz-Security-Token", "TOK"));
        assert_eq!(
            cached(
                &cache,
                &wrong,
                &get("/prod/pets/42", "type=dog&page=2", &token),
                now
            ),
            Err(SigV4Error::UnrecognizedClient)
        );
    }

    /// Temporary credentials past their expiration are refused with AWS's ExpiredToken, on a
    /// cached replay too.
    #[test]
    fn expired_session_tokens() {
        let cache = VerifiedSignatures::default();
        let until = t("20150830T123700Z");
        let key = SecretKey::new(SECRET, Some("TOK")).expiring(until);
        let mut h = vector1_headers(VECTOR1_AUTH);
        h.push(("X-Amz-Security-Token", "TOK"));
        let req = get("/prod/pets/42", "type=dog&page=2", &h);
        // The token is not signed here, so the botocore signature still matches.
        let now = t("20150830T123600Z");
        assert_eq!(cached(&cache, &key, &req, now), Ok(Form::Header));
        assert_eq!(cached(&cache, &key, &req, now), Ok(Form::Header));
        let later = t("20150830T123700Z");
        assert_eq!(
            cached(&cache, &key, &req, later),
            Err(SigV4Error::ExpiredToken)
        );
        assert_eq!(
            SigV4Error::ExpiredToken.response(),
            (
                GatewayResponseType::ExpiredToken,
                "ExpiredTokenException",
                Cow::Borrowed("The security token included in the request is expired")
            )
        );
        // A wrong token is still an unrecognized client.
        let mut wrong = vector1_headers(VECTOR1_AUTH);
        wrong.push(("X-Amz-Security-Token", "OTHER"));
        assert_eq!(
            cached(
                &cache,
                &key,
                &get("/prod/pets/42", "type=dog&page=2", &wrong),
                later
            ),
            Err(SigV4Error::UnrecognizedClient)
        );
    }

    /// Presigned: the query is the signed input; a hit still expires with `X-Amz-Expires`.
    #[test]
    fn cached_presigned_signatures_expire() {
        let cache = VerifiedSignatures::default();
        let right = SecretKey::new(SECRET, None);
        let wrong = SecretKey::new("not-the-secret", None);
        let q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fexecute-api%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=b4d00be7ce83c27e718a1f5e9914ff23beef363dd737cf3b335e3921b0ea9631";
        let hq = [("Host", "abc123defg.execute-api.us-east-1.amazonaws.com")];
        let now = t("20150830T123600Z");
        assert_eq!(
            cached(&cache, &right, &get("/prod/pets", q, &hq), now),
            Ok(Form::Query)
        );
        assert_eq!(
            cached(&cache, &wrong, &get("/prod/pets", q, &hq), now),
            Ok(Form::Query)
        );
        assert_eq!(
            cached(
                &cache,
                &wrong,
                &get("/prod/pets", q, &hq),
                t("20150830T124100Z")
            ),
            Ok(Form::Query)
        );
        assert!(matches!(
            cached(&cache, &right, &get("/prod/pets", q, &hq), t("20150830T124101Z")),
            Err(SigV4Error::Invalid(m)) if m.starts_with("Signature expired")
        ));
        let longer = q.replace("X-Amz-Expires=300", "X-Amz-Expires=3600");
        let added = format!("{q}&a=1");
        let token = format!("{q}&X-Amz-Security-Token=TOK");
        let moved = format!(
            "X-Amz-Signature=b4d00be7ce83c27e718a1f5e9914ff23beef363dd737cf3b335e3921b0ea9631&{}",
            q.split("&X-Amz-Signature").next().unwrap()
        );
        for (what, query) in [
            ("expires", longer.as_str()),
            ("parameter added", &added),
            ("parameters reordered", &moved),
        ] {
            assert!(
                matches!(
                    cached(&cache, &wrong, &get("/prod/pets", query, &hq), now),
                    Err(SigV4Error::Mismatch { .. })
                ),
                "{what}"
            );
        }
        assert_eq!(
            cached(&cache, &wrong, &get("/prod/pets", &token, &hq), now),
            Err(SigV4Error::UnrecognizedClient)
        );
        // A hit is still checked against the API's scope and the configured keys.
        let elsewhere = Expected {
            region: "eu-west-1",
            service: "execute-api",
        };
        let hit = get("/prod/pets", q, &hq);
        assert!(matches!(
            verify_cached(&hit, &elsewhere, now, |k| (k == AKID).then_some((&(), &wrong)), &cache),
            Err(SigV4Error::Invalid(m)) if m.contains("region")
        ));
        assert!(matches!(
            verify_cached(&hit, &EXEC, now, |_| None::<(&(), &SecretKey)>, &cache),
            Err(SigV4Error::UnrecognizedClient)
        ));
        let other_host = [("Host", "evil.example")];
        assert!(cached(&cache, &wrong, &get("/prod/pets", q, &other_host), now).is_err());
    }

    /// Requests our signer made verify, for a few shapes.
    #[test]
    fn round_trip_with_the_signer() {
        let creds = Credentials {
            access_key_id: AKID.into(),
            secret_access_key: SECRET.into(),
            session_token: Some("TOK".into()),
        };
        let keys = Keys::one(Some("TOK"));
        let now = t("20260101T000000Z");
        for (path, query) in [
            ("/prod/a b/%C3%BC", "x=1&y=%2F"),
            ("/prod/", ""),
            ("/prod/./a/../b", ""),
        ] {
            let base = [("Host", "api.local"), ("X-Custom", "  a   b ")];
            let s = sign(
                &Request {
                    method: "PUT",
                    path,
                    query,
                    headers: &base,
                    payload: Payload::Bytes(b"{}"),
                },
                &creds,
                "us-east-1",
                "execute-api",
                now,
                &Settings::DEFAULT,
            );
            let mut h: Vec<(&str, &str)> = base.to_vec();
            h.extend(s.headers.iter().map(|(k, v)| (*k, v.as_str())));
            let req = SignedRequest {
                method: "PUT",
                path,
                query,
                headers: &h,
                body: b"{}",
            };
            assert_eq!(keys.run(&req, now), Ok(Form::Header), "{path}");
            // A signed header removed.
            let fewer: Vec<_> = h
                .iter()
                .copied()
                .filter(|(k, _)| *k != "X-Custom")
                .collect();
            assert!(matches!(
                keys.run(
                    &SignedRequest {
                        headers: &fewer,
                        ..req
                    },
                    now
                ),
                Err(SigV4Error::Mismatch { .. })
            ));
        }
    }

    use crate::auth::sigv4::sign;

    /// Every v4 case of the AWS signing test suite: the signed requests it ships (header and
    /// presigned forms) verify at the suite's time with its credentials; a request with one
    /// signature character changed does not. Cases without credentials prove their
    /// canonical request through the mismatch report.
    #[test]
    fn aws_signing_test_suite_v4_verifies() {
        use crate::auth::sigv4::suite::{parse_request, read, suite_dir};
        let root = suite_dir();
        let mut cases: Vec<String> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        cases.sort();
        assert!(cases.len() >= 40, "only {} cases", cases.len());
        let mut verified = 0;
        let mut failures = Vec::new();
        for case in &cases {
            let dir = root.join(case);
            let ctx: Option<serde_json::Value> =
                read(&dir, "context.json").map(|c| serde_json::from_str(&c).unwrap());
            let creq = read(&dir, "header-canonical-request.txt").unwrap();
            let amz = match ctx.as_ref().and_then(|c| c["timestamp"].as_str()) {
                Some(ts) => ts.replace(['-', ':'], ""),
                None => creq
                    .lines()
                    .find_map(|l| l.strip_prefix("x-amz-date:"))
                    .unwrap()
                    .to_string(),
            };
            for form in ["header", "query"] {
                let Some(raw) = read(&dir, &format!("{form}-signed-request.txt")) else {
                    continue;
                };
                let p = parse_request(raw.as_bytes());
                // Without a context, the time is the one the request carries.
                let sent = p
                    .headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-date"))
                    .map(|(_, v)| v.trim().to_string());
                let now = t(if ctx.is_some() {
                    &amz
                } else {
                    sent.as_deref().unwrap_or(&amz)
                });
                let headers: Vec<(&str, &str)> = p
                    .headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let req = SignedRequest {
                    method: &p.method,
                    path: &p.path,
                    query: &p.query,
                    headers: &headers,
                    body: &p.body,
                };
                let auth = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                    .map(|(_, v)| v.trim().to_string());
                let scope_of = |s: &str| -> Vec<String> {
                    let cred = s.split("Credential=").nth(1).unwrap_or_default();
                    let cred = percent_encoding::percent_decode_str(cred).decode_utf8_lossy();
                    cred.split(['/', ',', '&']).map(str::to_string).collect()
                };
                let scope = match &auth {
                    Some(a) => scope_of(a),
                    None => scope_of(&p.query),
                };
                let exp = Expected {
                    region: &scope[2],
                    service: &scope[3],
                };
                let c = ctx.as_ref().map(|c| &c["credentials"]);
                let secret = c.and_then(|c| c["secret_access_key"].as_str());
                let token = c.and_then(|c| c["token"].as_str());
                let keys = Keys(vec![(
                    scope[0].clone(),
                    SecretKey::new(secret.unwrap_or("unknown"), token),
                )]);
                let result = keys.run_in(&req, now, &exp);
                let ok = match (secret, &result) {
                    (Some(_), Ok(_)) => true,
                    (
                        None,
                        Err(SigV4Error::Mismatch {
                            canonical_request, ..
                        }),
                    ) => {
                        // double-encode-path's canonical request names another date than
                        // its signed request: compare with the date the request carries.
                        let want: Vec<String> = creq
                            .trim_end()
                            .lines()
                            .map(|l| match (l.strip_prefix("x-amz-date:"), &sent) {
                                (Some(_), Some(d)) => format!("x-amz-date:{d}"),
                                _ => l.to_string(),
                            })
                            .collect();
                        *canonical_request == want.join("\n")
                    }
                    _ => false,
                };
                if !ok {
                    failures.push(format!("{case} ({form}): {result:?}"));
                    continue;
                }
                verified += 1;
                if secret.is_some() {
                    // One signature character changed.
                    let sig_at = raw.rfind("Signature=").unwrap() + "Signature=".len();
                    let mut tampered = raw.clone().into_bytes();
                    tampered[sig_at] = if tampered[sig_at] == b'0' { b'1' } else { b'0' };
                    let p = parse_request(&tampered);
                    let headers: Vec<(&str, &str)> = p
                        .headers
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    let req = SignedRequest {
                        method: &p.method,
                        path: &p.path,
                        query: &p.query,
                        headers: &headers,
                        body: &p.body,
                    };
                    if !matches!(
                        keys.run_in(&req, now, &exp),
                        Err(SigV4Error::Mismatch { .. })
                    ) {
                        failures.push(format!("{case} ({form}): tampered signature accepted"));
                    }
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert!(verified >= 78, "only {verified} signed requests verified");
        eprintln!("{verified} signed requests of the AWS SigV4 suite verified");
    }
}
