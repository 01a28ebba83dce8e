//! The variables API Gateway gives a mapping template (AWS §6): `$input`, `$util`,
//! `$context` and `$stageVariables`.
//!
//! [`AwsGlobals`] answers the engine's root lookups. Each root is built on first use and
//! kept for the rest of the render. Values copy what they need out of the
//! [`TemplateContext`], since template values may outlive the borrow. [`Uses`], found once
//! per template, limits that copying to what the template can observe: `$context` holds
//! only the variables the template reads (all of them when it may look at the whole map),
//! and `$input` copies the request parameters only for `$input.params`.
//!
//! - `$input`: `body` (an empty body reads as `{}`), `path(p)` (JSONPath result as a
//!   template value; null when the path finds nothing), `json(p)` (the result as JSON text;
//!   `""` when the path finds nothing), `params()` (a map `path`/`querystring`/`header` of
//!   maps), `params(name)` (path, then query string, then header; `""` when absent).
//! - `$util`: `escapeJavaScript`, `parseJson`, `urlEncode`, `urlDecode`, `base64Encode`,
//!   `base64Decode` (the Java behaviour AWS documents; invalid input gives null).
//! - `$context`: a map of the request's context variables (absent ones are missing keys),
//!   nested at the dots (`identity.sourceIp`, `authorizer.claims.sub`), plus
//!   `requestOverride.{header,path,querystring}` and `responseOverride.{header,status}`,
//!   which templates change with `#set`/`.put` and which are read back afterwards.
//! - `$stageVariables`: a map of the stage variables.

use super::ast::{Block, DirKind, Expr, MacroDef, Node, Part, RefKind, Reference};
use super::java::key_of as get;
use super::json;
use super::jsonpath::JsonPath;
use super::value::{HostObject, Value};
use super::{Globals, Overrides, TemplateContext};
use std::cell::{OnceCell, RefCell};
use std::rc::Rc;

/// The `$context` variables read through [`TemplateContext::context_var`], in the order
/// `$context` lists them.
pub const CONTEXT_VARIABLES: &[&str] = &[
    "accountId",
    "apiId",
    "authorizer.principalId",
    "awsEndpointRequestId",
    "deploymentId",
    "domainName",
    "domainPrefix",
    "error.message",
    "error.messageString",
    "error.responseType",
    "error.validationErrorString",
    "extendedRequestId",
    "httpMethod",
    "identity.accessKey",
    "identity.accountId",
    "identity.apiKey",
    "identity.apiKeyId",
    "identity.caller",
    "identity.cognitoAuthenticationProvider",
    "identity.cognitoAuthenticationType",
    "identity.cognitoIdentityId",
    "identity.cognitoIdentityPoolId",
    "identity.principalOrgId",
    "identity.sourceIp",
    "identity.clientCert.clientCertPem",
    "identity.clientCert.subjectDN",
    "identity.clientCert.issuerDN",
    "identity.clientCert.serialNumber",
    "identity.clientCert.validity.notBefore",
    "identity.clientCert.validity.notAfter",
    "identity.user",
    "identity.userAgent",
    "identity.userArn",
    "isCanaryRequest",
    "path",
    "protocol",
    "requestId",
    "requestTime",
    "requestTimeEpoch",
    "resourceId",
    "resourcePath",
    "stage",
    "wafResponseCode",
    "webaclArn",
    "customDomain.basePathMatched",
];

/// What of `$context` and `$input` a template can observe, found from its syntax tree.
#[derive(Debug)]
pub(crate) struct Uses {
    /// Whether a template may look at `$context` as a whole (every variable is copied).
    full: bool,
    /// The `$context` paths read, dot separated (a group path reads the whole group).
    paths: Vec<Box<str>>,
    /// The [`CONTEXT_VARIABLES`] on or under `paths`.
    vars: Vec<&'static str>,
    /// Whether a path reaches `$context.authorizer`.
    authorizer: bool,
    /// Whether a path reaches `requestOverride`/`responseOverride`.
    overrides: bool,
    /// Whether `$input.params` (or `$input` as a whole) may be used.
    input_params: bool,
}

/// Everything may be used.
static ALL_USES: Uses = Uses {
    full: true,
    paths: Vec::new(),
    vars: Vec::new(),
    authorizer: true,
    overrides: true,
    input_params: true,
};

/// Whether one of the dotted paths `a` and `b` lies on or under the other.
fn on_path(a: &str, b: &str) -> bool {
    let (long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    long.starts_with(short) && (long.len() == short.len() || long.as_bytes()[short.len()] == b'.')
}

impl Uses {
    /// What `block` and `macros` use.
    pub(crate) fn of(block: &Block, macros: &[std::sync::Arc<MacroDef>]) -> Uses {
        let mut u = Uses {
            full: false,
            paths: Vec::new(),
            vars: Vec::new(),
            authorizer: false,
            overrides: false,
            input_params: false,
        };
        u.block(block);
        for m in macros {
            u.block(&m.body);
        }
        if u.full {
            u.authorizer = true;
            u.overrides = true;
        } else {
            let wants = |name: &str| u.paths.iter().any(|p| on_path(p, name));
            u.vars = CONTEXT_VARIABLES
                .iter()
                .copied()
                .filter(|v| wants(v))
                .collect();
            u.authorizer = wants("authorizer");
            u.overrides = wants("requestOverride") || wants("responseOverride");
        }
        u
    }

    fn block(&mut self, b: &Block) {
        for n in &b.0 {
            match n {
                Node::Text(_) => {}
                Node::Ref(r) => self.reference(r, false),
                Node::Set(r, e) => {
                    self.reference(r, true);
                    self.expr(e);
                }
                Node::If(branches, otherwise) => {
                    for (e, b) in branches {
                        self.expr(e);
                        self.block(b);
                    }
                    if let Some(b) = otherwise {
                        self.block(b);
                    }
                }
                Node::Directive(d) => {
                    if d.kind == DirKind::Evaluate {
                        // Evaluated text may name anything.
                        self.full = true;
                        self.input_params = true;
                    }
                    d.args.iter().for_each(|e| self.expr(e));
                    if let Some(b) = &d.body {
                        self.block(b);
                    }
                }
            }
        }
    }

    fn expr(&mut self, e: &Expr) {
        match e {
            Expr::Ref(r) => self.reference(r, false),
            Expr::Str(_, Some(i)) => self.block(&i.block),
            Expr::Range(a, b) => {
                self.expr(a);
                self.expr(b);
            }
            Expr::List(items) => items.iter().for_each(|e| self.expr(e)),
            Expr::Map(entries) => entries.iter().for_each(|(k, v)| {
                self.expr(k);
                self.expr(v);
            }),
            Expr::Bin(_, operands, _) => {
                self.expr(&operands.0);
                self.expr(&operands.1);
            }
            Expr::Not(e) | Expr::Group(e) => self.expr(e),
            Expr::Str(_, None) | Expr::Int(_) | Expr::Float(_) | Expr::Bool(_) | Expr::Word(_) => {}
        }
    }

    /// Records what `r` reads; for a `#set` target, the map it writes into is read whole.
    fn reference(&mut self, r: &Reference, set_target: bool) {
        for p in &r.parts {
            match p {
                Part::Prop(_) => {}
                Part::Method(_, args) => args.iter().for_each(|e| self.expr(e)),
                Part::Index(e) => self.expr(e),
            }
        }
        if r.kind == RefKind::Runt {
            return;
        }
        let parts = if set_target {
            &r.parts[..r.parts.len().saturating_sub(1)]
        } else {
            &r.parts[..]
        };
        match &*r.root {
            "context" => {
                let mut path = String::new();
                for p in parts {
                    let key = match p {
                        Part::Prop(k) => k,
                        Part::Index(Expr::Str(k, None)) => k,
                        Part::Method(m, args) if &**m == "get" => match &args[..] {
                            [Expr::Str(k, None)] => k,
                            _ => break,
                        },
                        _ => break,
                    };
                    if key.contains('.') {
                        path.clear();
                        break;
                    }
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                }
                if path.is_empty() {
                    self.full = true;
                } else if !self.paths.iter().any(|p| **p == path) {
                    self.paths.push(path.into());
                }
            }
            "input" => {
                let only_body = match parts.first() {
                    Some(Part::Method(m, _)) => matches!(&**m, "path" | "json" | "getBody"),
                    Some(Part::Prop(p)) => &**p == "body",
                    _ => false,
                };
                if !only_body {
                    self.input_params = true;
                }
            }
            _ => {}
        }
    }
}

/// The root variables of one render.
pub struct AwsGlobals<'a> {
    ctx: &'a dyn TemplateContext,
    seed: &'a Overrides,
    uses: &'a Uses,
    input: OnceCell<Value>,
    util: OnceCell<Value>,
    context: OnceCell<Value>,
    stage: OnceCell<Value>,
}

impl<'a> AwsGlobals<'a> {
    /// Globals over `ctx`; `$context.requestOverride`/`responseOverride` start from `seed`.
    pub fn new(ctx: &'a dyn TemplateContext, seed: &'a Overrides) -> Self {
        Self::with_uses(ctx, seed, &ALL_USES)
    }

    /// Globals that copy only what `uses` says a template can observe.
    pub(crate) fn with_uses(
        ctx: &'a dyn TemplateContext,
        seed: &'a Overrides,
        uses: &'a Uses,
    ) -> Self {
        AwsGlobals {
            ctx,
            seed,
            uses,
            input: OnceCell::new(),
            util: OnceCell::new(),
            context: OnceCell::new(),
            stage: OnceCell::new(),
        }
    }

    /// `$input`, `$util`, `$context`, `$stageVariables`; None for any other name.
    pub fn root(&self, name: &str) -> Option<Value> {
        let cell = match name {
            "input" => &self.input,
            "util" => &self.util,
            "context" => &self.context,
            "stageVariables" => &self.stage,
            _ => return None,
        };
        Some(cell.get_or_init(|| self.build(name)).clone())
    }

    fn build(&self, name: &str) -> Value {
        match name {
            "input" => Value::Object(Rc::new(Input::new(self.ctx, self.uses.input_params))),
            "util" => Value::Object(Rc::new(Util)),
            "context" => context_map(self.ctx, self.seed, self.uses),
            _ => Value::map(
                self.ctx
                    .stage_vars()
                    .into_iter()
                    .map(|(k, v)| (k, Value::str(&v)))
                    .collect(),
            ),
        }
    }

    /// The overrides as the template left them, or None if it could not reach them.
    pub fn into_overrides(self) -> Option<Overrides> {
        if !self.uses.overrides {
            return None;
        }
        self.context.get().map(read_overrides)
    }
}

impl Globals for AwsGlobals<'_> {
    fn root(&self, name: &str) -> Option<Value> {
        AwsGlobals::root(self, name)
    }
}

/// Sets `path` (dot separated) in `map`, creating the maps on the way.
fn insert_path(map: &Value, path: &str, value: Value) {
    let Value::Map(m) = map else { return };
    match path.split_once('.') {
        None => {
            let mut m = m.borrow_mut();
            match m.iter_mut().find(|(k, _)| k == path) {
                Some(slot) => slot.1 = value,
                None => m.push((path.to_string(), value)),
            }
        }
        Some((head, rest)) => {
            let child = match get(map, head) {
                Some(c @ Value::Map(_)) => c,
                _ => {
                    let c = Value::map(Vec::new());
                    insert_path(map, head, c.clone());
                    c
                }
            };
            insert_path(&child, rest, value);
        }
    }
}

fn values_map(entries: &[(String, Vec<String>)]) -> Value {
    Value::map(
        entries
            .iter()
            .map(|(k, vs)| {
                let v = match vs.as_slice() {
                    [one] => Value::str(one),
                    many => Value::list(many.iter().map(|s| Value::str(s)).collect()),
                };
                (k.clone(), v)
            })
            .collect(),
    )
}

/// `$context` with the variables `uses` names (every one when it is full), in the order
/// and nesting of the complete map.
fn context_map(ctx: &dyn TemplateContext, seed: &Overrides, uses: &Uses) -> Value {
    let root = Value::map(Vec::new());
    let vars = if uses.full {
        CONTEXT_VARIABLES
    } else {
        &uses.vars[..]
    };
    for name in vars {
        if let Some(v) = ctx.context_var(name) {
            insert_path(&root, name, Value::str(&v));
        }
    }
    if uses.authorizer {
        for (k, v) in ctx.authorizer_vars() {
            let name = format!("authorizer.{k}");
            if uses.full || uses.paths.iter().any(|p| on_path(p, &name)) {
                insert_path(&root, &name, Value::str(&v));
            }
        }
    }
    if !uses.overrides {
        return root;
    }
    let path = Value::map(
        seed.request_path
            .iter()
            .map(|(k, v)| (k.clone(), Value::str(v)))
            .collect(),
    );
    let request = Value::map(vec![
        ("header".into(), values_map(&seed.request_header)),
        ("path".into(), path),
        ("querystring".into(), values_map(&seed.request_querystring)),
    ]);
    let mut response = vec![("header".to_string(), values_map(&seed.response_header))];
    if let Some(s) = seed.response_status {
        response.push(("status".into(), Value::Int(i64::from(s))));
    }
    insert_path(&root, "requestOverride", request);
    insert_path(&root, "responseOverride", Value::map(response));
    root
}

/// The values a template assigned to one override parameter: a list gives several.
fn override_values(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Null => None,
        Value::List(l) => Some(l.borrow().iter().map(json::java_string).collect()),
        other => Some(vec![json::java_string(other)]),
    }
}

fn override_entries(group: Option<Value>) -> Vec<(String, Vec<String>)> {
    match group {
        Some(Value::Map(m)) => m
            .borrow()
            .iter()
            .filter_map(|(k, v)| override_values(v).map(|vs| (k.clone(), vs)))
            .collect(),
        _ => Vec::new(),
    }
}

fn read_overrides(context: &Value) -> Overrides {
    let request = get(context, "requestOverride").unwrap_or_default();
    let response = get(context, "responseOverride").unwrap_or_default();
    Overrides {
        request_header: override_entries(get(&request, "header")),
        request_path: override_entries(get(&request, "path"))
            .into_iter()
            .map(|(k, vs)| (k, vs.join(",")))
            .collect(),
        request_querystring: override_entries(get(&request, "querystring")),
        response_header: override_entries(get(&response, "header")),
        response_status: match get(&response, "status") {
            Some(Value::Int(s)) if (100..=599).contains(&s) => u16::try_from(s).ok(),
            _ => None,
        },
    }
}

/// The request parameters, copied once for `$input.params`.
struct Params {
    path: Vec<(String, String)>,
    querystring: Vec<(String, String)>,
    header: Vec<(String, String)>,
}

impl Params {
    fn find<'a>(list: &'a [(String, String)], name: &str, fold: bool) -> Option<&'a str> {
        list.iter()
            .find(|(k, _)| {
                if fold {
                    k.eq_ignore_ascii_case(name)
                } else {
                    k == name
                }
            })
            .map(|(_, v)| v.as_str())
    }

    fn lookup(&self, name: &str) -> Option<&str> {
        Self::find(&self.path, name, false)
            .or_else(|| Self::find(&self.querystring, name, false))
            .or_else(|| Self::find(&self.header, name, true))
    }

    fn as_value(&self) -> Value {
        let m = |list: &[(String, String)]| {
            Value::map(
                list.iter()
                    .map(|(k, v)| (k.clone(), Value::str(v)))
                    .collect(),
            )
        };
        Value::map(vec![
            ("path".into(), m(&self.path)),
            ("querystring".into(), m(&self.querystring)),
            ("header".into(), m(&self.header)),
        ])
    }
}

/// `$input`.
struct Input {
    body: Rc<str>,
    params: Params,
    /// The body parsed once as JSON (None if it is not even permissive JSON).
    doc: OnceCell<Option<Value>>,
    /// Compiled paths, as templates often evaluate the same one in a loop.
    paths: RefCell<Vec<(String, Option<Rc<JsonPath>>)>>,
}

impl Input {
    /// `$input` over `ctx`; the parameters are copied only `with_params`.
    fn new(ctx: &dyn TemplateContext, with_params: bool) -> Self {
        let raw = ctx.input_body();
        let all = |kind| {
            if with_params {
                ctx.input_params_all(kind)
            } else {
                Vec::new()
            }
        };
        Input {
            body: Rc::from(if raw.is_empty() { "{}" } else { raw }),
            params: Params {
                path: all("path"),
                querystring: all("querystring"),
                header: all("header"),
            },
            doc: OnceCell::new(),
            paths: RefCell::new(Vec::new()),
        }
    }

    fn compiled(&self, path: &str) -> Option<Rc<JsonPath>> {
        if let Some((_, p)) = self.paths.borrow().iter().find(|(k, _)| k == path) {
            return p.clone();
        }
        let p = JsonPath::compile(path).ok().map(Rc::new);
        let mut cache = self.paths.borrow_mut();
        if cache.len() < 64 {
            cache.push((path.to_string(), p.clone()));
        }
        p
    }

    /// The JSONPath result, or None when the path finds nothing (or cannot be read).
    fn select(&self, path: &str) -> Option<Value> {
        let doc = self
            .doc
            .get_or_init(|| json::parse(&self.body).ok())
            .as_ref()?;
        self.compiled(path)?.read(doc).ok()
    }
}

/// The text of a method argument (Java `String.valueOf`, null stays None).
fn arg_text(args: &[Value], i: usize) -> Option<String> {
    match args.get(i)? {
        Value::Null => None,
        Value::Str(s) => Some(s.to_string()),
        v => Some(json::java_string(v)),
    }
}

impl HostObject for Input {
    fn property(&self, name: &str) -> Option<Value> {
        match name {
            "body" => Some(Value::Str(self.body.clone())),
            _ => None,
        }
    }

    fn call(&self, method: &str, args: &[Value]) -> Option<Value> {
        match (method, args.len()) {
            ("getBody", 0) => Some(Value::Str(self.body.clone())),
            ("path", 1) => Some(
                arg_text(args, 0)
                    .and_then(|p| self.select(&p))
                    .unwrap_or(Value::Null),
            ),
            ("json", 1) => Some(Value::str(
                &arg_text(args, 0)
                    .and_then(|p| self.select(&p))
                    .map_or_else(|| "\"\"".to_string(), |v| json::to_string(&v)),
            )),
            ("params", 0) => Some(self.params.as_value()),
            ("params", 1) => Some(Value::str(
                arg_text(args, 0)
                    .as_deref()
                    .and_then(|n| self.params.lookup(n))
                    .unwrap_or(""),
            )),
            _ => None,
        }
    }

    fn display(&self) -> String {
        String::new()
    }
}

/// `$util`.
struct Util;

impl HostObject for Util {
    fn property(&self, _name: &str) -> Option<Value> {
        None
    }

    fn call(&self, method: &str, args: &[Value]) -> Option<Value> {
        if args.len() != 1 {
            return None;
        }
        let Some(s) = arg_text(args, 0) else {
            return match method {
                "escapeJavaScript" | "parseJson" | "urlEncode" | "urlDecode" | "base64Encode"
                | "base64Decode" => Some(Value::Null),
                _ => None,
            };
        };
        let text = |t: Option<String>| Some(t.map_or(Value::Null, |t| Value::str(&t)));
        match method {
            "escapeJavaScript" => text(Some(escape_javascript(&s))),
            "parseJson" => Some(json::parse(&s).unwrap_or(Value::Null)),
            "urlEncode" => text(Some(url_encode(&s))),
            "urlDecode" => text(url_decode(&s)),
            "base64Encode" => text(Some(base64_encode(s.as_bytes()))),
            "base64Decode" => {
                text(base64_decode(&s).map(|b| String::from_utf8_lossy(&b).into_owned()))
            }
            _ => None,
        }
    }

    fn display(&self) -> String {
        String::new()
    }
}

/// JavaScript string escaping as Apache Commons Lang 2 `StringEscapeUtils.escapeJavaScript`
/// does it: `'` `"` `\` `/` backslash-escaped, `\b \t \n \f \r`, other control characters
/// and everything above U+007F as `\uXXXX` (UTF-16 units, upper-case hex); DEL stays.
pub fn escape_javascript(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for unit in s.encode_utf16() {
        match unit {
            0x08 => out.push_str("\\b"),
            0x09 => out.push_str("\\t"),
            0x0A => out.push_str("\\n"),
            0x0C => out.push_str("\\f"),
            0x0D => out.push_str("\\r"),
            0x27 => out.push_str("\\'"),
            0x22 => out.push_str("\\\""),
            0x5C => out.push_str("\\\\"),
            0x2F => out.push_str("\\/"),
            0x20..=0x7F => out.push(char::from(unit as u8)),
            _ => out.push_str(&format!("\\u{unit:04X}")),
        }
    }
    out
}

/// `java.net.URLEncoder.encode(s, "UTF-8")`: `application/x-www-form-urlencoded`.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `java.net.URLDecoder.decode(s, "UTF-8")`; None where Java throws (a bad `%` escape).
pub fn url_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let h = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(B64[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 (padding optional, as `java.util.Base64.getDecoder()`); None if invalid.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let trimmed = s.trim_end_matches('=');
    if s.len() - trimmed.len() > 2 || (s.len() != trimmed.len() && !s.len().is_multiple_of(4)) {
        return None;
    }
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in trimmed.bytes() {
        let v = B64.iter().position(|&x| x == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if trimmed.len() % 4 == 1 {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vtl::TestContext;

    fn call(v: &Value, method: &str, args: &[Value]) -> Value {
        match v {
            Value::Object(o) => o.call(method, args).expect("method exists"),
            _ => panic!("not an object"),
        }
    }

    fn text(v: &Value) -> String {
        json::java_string(v)
    }

    fn s(x: &str) -> Value {
        Value::str(x)
    }

    #[test]
    fn input_body_path_json_params() {
        let ctx = TestContext {
            body: r#"{"things":{"1":{},"2":{}},"list":[{"foo":"bar"}],"n":null}"#,
            path: vec![("id", "abc")],
            query: vec![("name", "q"), ("id", "shadowed")],
            header: vec![("X-Thing", "h")],
            ..Default::default()
        };
        let seed = Overrides::default();
        let g = AwsGlobals::new(&ctx, &seed);
        let input = g.root("input").unwrap();
        assert_eq!(text(&call(&input, "params", &[s("id")])), "abc");
        assert_eq!(text(&call(&input, "params", &[s("x-thing")])), "h");
        assert_eq!(text(&call(&input, "params", &[s("nope")])), "");
        assert_eq!(
            text(&call(&input, "path", &[s("$.things")])),
            "{1={}, 2={}}"
        );
        assert_eq!(
            text(&call(&input, "path", &[s("$.list")])),
            r#"[{"foo":"bar"}]"#
        );
        assert!(call(&input, "path", &[s("$.missing")]).is_null());
        assert!(call(&input, "path", &[s("$.n")]).is_null());
        assert_eq!(
            text(&call(&input, "json", &[s("$.things")])),
            r#"{"1":{},"2":{}}"#
        );
        assert_eq!(text(&call(&input, "json", &[s("$.missing")])), r#""""#);
        assert_eq!(text(&call(&input, "json", &[s("$.n")])), "null");
        assert_eq!(
            text(&call(&input, "params", &[])),
            "{path={id=abc}, querystring={name=q, id=shadowed}, header={X-Thing=h}}"
        );
        let Value::Object(o) = &input else { panic!() };
        assert_eq!(text(&o.property("body").unwrap()), ctx.body);
        assert!(g.root("nope").is_none());
        assert!(g.into_overrides().is_none());
    }

    #[test]
    fn empty_body_reads_as_empty_object() {
        let ctx = TestContext::default();
        let seed = Overrides::default();
        let g = AwsGlobals::new(&ctx, &seed);
        let Value::Object(input) = g.root("input").unwrap() else {
            panic!()
        };
        assert_eq!(text(&input.property("body").unwrap()), "{}");
        assert_eq!(text(&input.call("json", &[s("$")]).unwrap()), "{}");
    }

    #[test]
    fn util_functions() {
        let u = Value::Object(Rc::new(Util));
        let c = |m: &str, a: &str| text(&call(&u, m, &[s(a)]));
        assert_eq!(
            c("escapeJavaScript", "it's \"q\" \\ / \n\té€😀\u{1}\u{7f}"),
            "it\\'s \\\"q\\\" \\\\ \\/ \\n\\t\\u00E9\\u20AC\\uD83D\\uDE00\\u0001\u{7f}"
        );
        assert_eq!(
            c("urlEncode", "x=a+b c&d/é*~"),
            "x%3Da%2Bb+c%26d%2F%C3%A9*%7E"
        );
        assert_eq!(c("urlDecode", "x%3Da+b"), "x=a b");
        assert!(call(&u, "urlDecode", &[s("%zz")]).is_null());
        assert_eq!(c("base64Encode", "hello"), "aGVsbG8=");
        assert_eq!(c("base64Encode", "hi!?"), "aGkhPw==");
        assert_eq!(c("base64Decode", "aGVsbG8="), "hello");
        assert_eq!(c("base64Decode", "aGkhPw"), "hi!?");
        assert!(call(&u, "base64Decode", &[s("a")]).is_null());
        assert!(call(&u, "base64Decode", &[s("a*==")]).is_null());
        let parsed = call(&u, "parseJson", &[s(r#"{"key2":{"arr":[1,2,3]}}"#)]);
        assert_eq!(text(&parsed), "{key2={arr=[1,2,3]}}");
        assert!(call(&u, "escapeJavaScript", &[Value::Null]).is_null());
        let Value::Object(o) = &u else { panic!() };
        assert!(o.call("nope", &[s("x")]).is_none());
    }

    #[test]
    fn context_and_stage_variables() {
        let ctx = TestContext {
            context: vec![
                ("requestId", "r-1"),
                ("identity.sourceIp", "192.0.2.1"),
                ("authorizer.claims.sub", "u-1"),
            ],
            stage: vec![("a", "1")],
            ..Default::default()
        };
        let seed = Overrides::default();
        let g = AwsGlobals::new(&ctx, &seed);
        let c = g.root("context").unwrap();
        assert_eq!(text(&get(&c, "requestId").unwrap()), "r-1");
        let identity = get(&c, "identity").unwrap();
        assert_eq!(text(&get(&identity, "sourceIp").unwrap()), "192.0.2.1");
        let claims = get(&get(&c, "authorizer").unwrap(), "claims").unwrap();
        assert_eq!(text(&get(&claims, "sub").unwrap()), "u-1");
        assert!(get(&c, "apiId").is_none());
        assert_eq!(text(&g.root("stageVariables").unwrap()), "{a=1}");
    }

    fn uses(source: &str) -> Uses {
        let parsed = crate::vtl::parser::parse(source).unwrap();
        Uses::of(&parsed.block, &parsed.macros)
    }

    #[test]
    fn uses_name_what_a_template_reads() {
        let u = uses(
            "$context.stage $context['requestId'] $context.identity.get('sourceIp') \
             #set($context.requestOverride.header.x = 1)$input.path('$')",
        );
        assert!(!u.full && !u.input_params && !u.authorizer && u.overrides);
        assert_eq!(u.vars, ["identity.sourceIp", "requestId", "stage"]);
        let u =
            uses("#macro(m $c)$c.keySet()#end#m($context.identity)$context.authorizer.claims.sub");
        assert!(!u.full && u.authorizer && !u.overrides);
        assert!(u.vars.iter().all(|v| v.starts_with("identity.")) && u.vars.len() == 20);
        for whole in [
            "$context",
            "$context.keySet()",
            "#set($context.x = 1)",
            "#set($c = $context)",
            "$context[$k]",
            "$context['a.b']",
            "#evaluate('')",
        ] {
            let u = uses(whole);
            assert!(u.full && u.authorizer && u.overrides, "{whole}");
        }
        for params in ["$input.params()", "$input", "#set($i = $input)$i.json('$')"] {
            assert!(uses(params).input_params, "{params}");
        }
        assert!(!uses("$input.json('$') $input.body").input_params);
    }

    #[test]
    fn partial_context_reads_only_what_is_used() {
        let ctx = TestContext {
            context: vec![("requestId", "r-1"), ("stage", "prod")],
            ..Default::default()
        };
        let seed = Overrides {
            response_status: Some(404),
            ..Default::default()
        };
        let u = uses("$context.stage");
        let g = AwsGlobals::with_uses(&ctx, &seed, &u);
        assert_eq!(text(&g.root("context").unwrap()), "{stage=prod}");
        assert_eq!(g.into_overrides(), None);
    }

    #[test]
    fn overrides_round_trip() {
        let ctx = TestContext::default();
        let seed = Overrides {
            request_header: vec![("h".into(), vec!["1".into()])],
            response_status: Some(404),
            ..Default::default()
        };
        let g = AwsGlobals::new(&ctx, &seed);
        let c = g.root("context").unwrap();
        let req = get(&c, "requestOverride").unwrap();
        assert_eq!(text(&get(&get(&req, "header").unwrap(), "h").unwrap()), "1");
        insert_path(&req, "header.multi", Value::list(vec![s("foo"), s("bar")]));
        insert_path(
            &req,
            "querystring.q",
            Value::list(vec![s("a"), Value::Int(2)]),
        );
        insert_path(&req, "path.p", s("x"));
        let resp = get(&c, "responseOverride").unwrap();
        assert_eq!(text(&get(&resp, "status").unwrap()), "404");
        insert_path(&resp, "status", Value::Int(444));
        insert_path(&resp, "header.foo", s("bar"));
        insert_path(&resp, "header.gone", Value::Null);
        let o = g.into_overrides().unwrap();
        assert_eq!(
            o.request_header,
            vec![
                ("h".to_string(), vec!["1".to_string()]),
                (
                    "multi".to_string(),
                    vec!["foo".to_string(), "bar".to_string()]
                )
            ]
        );
        assert_eq!(
            o.request_querystring,
            vec![("q".to_string(), vec!["a".to_string(), "2".to_string()])]
        );
        assert_eq!(o.request_path, vec![("p".to_string(), "x".to_string())]);
        assert_eq!(
            o.response_header,
            vec![("foo".to_string(), vec!["bar".to_string()])]
        );
        assert_eq!(o.response_status, Some(444));

        let g = AwsGlobals::new(&ctx, &o);
        let c = g.root("context").unwrap();
        insert_path(&get(&c, "responseOverride").unwrap(), "status", s("404"));
        assert_eq!(g.into_overrides().unwrap().response_status, None);
    }
}
