//! IAM policy documents, compiled at load and evaluated per request: identity policies of
//! IAM users and the API's resource policy. Explicit Deny wins over Allow; no matching
//! statement is an implicit deny.

use super::arn::{expand_short_form, Pattern};
use serde_json::Value;
use std::net::IpAddr;

/// The result of evaluating a policy (or several) for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// No statement applied.
    ImplicitDeny,
    ExplicitDeny,
}

impl Decision {
    /// Combines decisions of policies evaluated together: Deny wins, then Allow.
    pub fn and(self, other: Decision) -> Decision {
        use Decision::*;
        match (self, other) {
            (ExplicitDeny, _) | (_, ExplicitDeny) => ExplicitDeny,
            (Allow, _) | (_, Allow) => Allow,
            _ => ImplicitDeny,
        }
    }
}

/// Who is calling.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// No AWS credentials (NONE, Lambda or Cognito authorization).
    Anonymous,
    Iam {
        arn: &'a str,
        account: &'a str,
        username: &'a str,
        userid: &'a str,
    },
}

/// What a policy is asked about.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// e.g. `execute-api:Invoke`.
    pub action: &'a str,
    /// The method ARN.
    pub resource: &'a str,
    pub caller: Caller<'a>,
    pub source_ip: Option<IpAddr>,
    pub user_agent: Option<&'a str>,
    pub referer: Option<&'a str>,
    pub secure_transport: bool,
}

/// The condition keys a policy may test, as AWS spells them: the ones [`Request`] knows. A
/// policy naming another key is refused at load, since its condition could never be
/// evaluated (a Deny on it would never apply).
pub const CONDITION_KEYS: [&str; 9] = [
    "aws:SourceIp",
    "aws:UserAgent",
    "aws:Referer",
    "aws:SecureTransport",
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "aws:username",
    "aws:userid",
    "aws:PrincipalType",
];

/// A condition key's value for one request, borrowed or typed: nothing is formatted to be
/// compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx<'a> {
    Str(&'a str),
    Ip(IpAddr),
    Bool(bool),
}

impl Ctx<'_> {
    /// The value as the string operators see it.
    fn text(&self) -> std::borrow::Cow<'_, str> {
        use std::borrow::Cow;
        match *self {
            Ctx::Str(s) => Cow::Borrowed(s),
            Ctx::Bool(true) => Cow::Borrowed("true"),
            Ctx::Bool(false) => Cow::Borrowed("false"),
            Ctx::Ip(ip) => Cow::Owned(ip.to_string()),
        }
    }
}

impl<'a> Request<'a> {
    /// The value of a global condition key (lower-cased name) for this request.
    fn key(&self, key: &str) -> Option<Ctx<'a>> {
        let iam = match self.caller {
            Caller::Iam {
                arn,
                account,
                username,
                userid,
            } => Some((arn, account, username, userid)),
            Caller::Anonymous => None,
        };
        match key {
            "aws:sourceip" => self.source_ip.map(|ip| Ctx::Ip(ip.to_canonical())),
            "aws:useragent" => self.user_agent.map(Ctx::Str),
            "aws:referer" => self.referer.map(Ctx::Str),
            "aws:securetransport" => Some(Ctx::Bool(self.secure_transport)),
            "aws:principalaccount" => iam.map(|i| Ctx::Str(i.1)),
            "aws:principalarn" => iam.map(|i| Ctx::Str(i.0)),
            "aws:username" => iam.map(|i| Ctx::Str(i.2)),
            "aws:userid" => iam.map(|i| Ctx::Str(i.3)),
            "aws:principaltype" => iam.map(|_| Ctx::Str("User")),
            _ => None,
        }
    }
}

/// A compiled policy document.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    statements: Vec<Statement>,
    /// Some statement has a `Condition` (known at compile time: read per request).
    conditional: bool,
}

/// Where a policy is attached: identity policies name no principal; a resource policy must,
/// and its `execute-api:/...` short forms expand to the API's ARNs.
#[derive(Debug, Clone, Copy)]
pub enum Attached<'a> {
    Identity,
    Resource {
        region: &'a str,
        account: &'a str,
        api_id: &'a str,
    },
}

#[derive(Debug, Clone)]
struct Statement {
    deny: bool,
    /// None for identity policies.
    principal: Option<Principals>,
    action: Matcher,
    resource: Matcher,
    conditions: Vec<Condition>,
}

#[derive(Debug, Clone)]
enum Principals {
    Anyone,
    /// ARNs (`arn:aws:iam::123456789012:root` for a whole account).
    Arns(Vec<String>),
}

#[derive(Debug, Clone)]
struct Matcher {
    /// `NotAction` / `NotResource`.
    negated: bool,
    patterns: Vec<Pattern>,
}

impl Matcher {
    fn matches(&self, s: &str) -> bool {
        self.patterns.iter().any(|p| p.matches(s)) != self.negated
    }
}

#[derive(Debug, Clone)]
struct Condition {
    op: Op,
    negated: bool,
    if_exists: bool,
    key: String,
    values: Values,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    IpAddress,
    Bool,
}

#[derive(Debug, Clone)]
enum Values {
    Strings(Vec<String>),
    Patterns(Vec<Pattern>),
    Networks(Vec<(IpAddr, u8)>),
}

impl Policy {
    /// Compiles a policy document. Errors name the offending element.
    pub fn compile(doc: &Value, attached: Attached) -> Result<Policy, String> {
        let doc = match doc {
            // AWS stores policies as strings; the file may hold either form.
            Value::String(s) => serde_json::from_str(s)
                .map_err(|e| format!("policy is not a JSON document: {e}"))?,
            other => other.clone(),
        };
        let Some(obj) = doc.as_object() else {
            return Err("policy must be a JSON object".into());
        };
        for k in obj.keys() {
            if !matches!(k.as_str(), "Version" | "Id" | "Statement") {
                return Err(format!("policy: unknown element `{k}`"));
            }
        }
        let statements = match obj.get("Statement") {
            Some(Value::Array(list)) => list.iter().collect(),
            Some(s @ Value::Object(_)) => vec![s],
            _ => return Err("policy: `Statement` must be an object or a list".into()),
        };
        let statements = statements
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                Statement::compile(s, attached).map_err(|e| format!("Statement[{i}]: {e}"))
            })
            .collect::<Result<Vec<Statement>, _>>()?;
        let conditional = statements.iter().any(|s| !s.conditions.is_empty());
        Ok(Policy {
            statements,
            conditional,
        })
    }

    /// Evaluates the policy for `req`.
    pub fn evaluate(&self, req: &Request) -> Decision {
        let mut decision = Decision::ImplicitDeny;
        for s in &self.statements {
            if s.applies(req) {
                if s.deny {
                    return Decision::ExplicitDeny;
                }
                decision = Decision::Allow;
            }
        }
        decision
    }

    /// Whether some statement has a `Condition`: its decision may then depend on more than
    /// the caller, the action and the resource.
    pub fn has_conditions(&self) -> bool {
        self.conditional
    }

    /// Whether some statement names `caller` (not `*`) as its principal: such a resource
    /// policy turns away callers without IAM credentials.
    #[cfg(test)]
    pub fn names_principals(&self) -> bool {
        self.statements
            .iter()
            .any(|s| matches!(s.principal, Some(Principals::Arns(_))))
    }
}

/// Evaluates several policies together (a user's identity policies).
pub fn evaluate_all(policies: &[Policy], req: &Request) -> Decision {
    policies
        .iter()
        .fold(Decision::ImplicitDeny, |d, p| d.and(p.evaluate(req)))
}

fn strings(v: &Value, what: &str) -> Result<Vec<String>, String> {
    let one = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(format!("`{what}` values must be strings")),
    };
    match v {
        Value::Array(list) => list.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

impl Statement {
    fn compile(v: &Value, attached: Attached) -> Result<Statement, String> {
        let Some(obj) = v.as_object() else {
            return Err("a statement must be an object".into());
        };
        for k in obj.keys() {
            if !matches!(
                k.as_str(),
                "Sid"
                    | "Effect"
                    | "Principal"
                    | "Action"
                    | "NotAction"
                    | "Resource"
                    | "NotResource"
                    | "Condition"
            ) {
                return Err(format!("unsupported element `{k}`"));
            }
        }
        let deny = match obj.get("Effect").and_then(Value::as_str) {
            Some("Allow") => false,
            Some("Deny") => true,
            _ => return Err("`Effect` must be \"Allow\" or \"Deny\"".into()),
        };
        let principal = match (attached, obj.get("Principal")) {
            (Attached::Identity, None) => None,
            (Attached::Identity, Some(_)) => {
                return Err("an identity policy statement has no `Principal`".into())
            }
            (Attached::Resource { .. }, None) => {
                return Err("a resource policy statement needs a `Principal`".into())
            }
            (Attached::Resource { .. }, Some(p)) => Some(principals(p)?),
        };
        let matcher = |pos: &str, neg: &str, make: &dyn Fn(&str) -> Pattern| match (
            obj.get(pos),
            obj.get(neg),
        ) {
            (Some(v), None) => Ok(Matcher {
                negated: false,
                patterns: strings(v, pos)?.iter().map(|s| make(s)).collect(),
            }),
            (None, Some(v)) => Ok(Matcher {
                negated: true,
                patterns: strings(v, neg)?.iter().map(|s| make(s)).collect(),
            }),
            _ => Err(format!(
                "a statement needs exactly one of `{pos}` and `{neg}`"
            )),
        };
        let action = matcher("Action", "NotAction", &|s| Pattern::action(s))?;
        let resource = matcher("Resource", "NotResource", &|s| match attached {
            Attached::Resource {
                region,
                account,
                api_id,
            } => Pattern::exact(&expand_short_form(s, region, account, api_id)),
            Attached::Identity => Pattern::exact(s),
        })?;
        let conditions = match obj.get("Condition") {
            None => Vec::new(),
            Some(c) => conditions(c)?,
        };
        Ok(Statement {
            deny,
            principal,
            action,
            resource,
            conditions,
        })
    }

    fn applies(&self, req: &Request) -> bool {
        let principal_ok = match (&self.principal, req.caller) {
            (None | Some(Principals::Anyone), _) => true,
            (Some(Principals::Arns(_)), Caller::Anonymous) => false,
            (Some(Principals::Arns(arns)), Caller::Iam { arn, account, .. }) => {
                arns.iter().any(|a| {
                    a == arn
                        || a.strip_prefix("arn:aws:iam::")
                            .and_then(|r| r.strip_suffix(":root"))
                            == Some(account)
                })
            }
        };
        principal_ok
            && self.action.matches(req.action)
            && self.resource.matches(req.resource)
            && self.conditions.iter().all(|c| c.holds(req))
    }
}

fn principals(v: &Value) -> Result<Principals, String> {
    match v {
        Value::String(s) if s == "*" => Ok(Principals::Anyone),
        Value::Object(map) => {
            let mut arns = Vec::new();
            for (k, v) in map {
                let list = strings(v, "Principal")?;
                if k == "AWS" {
                    for p in list {
                        if p == "*" {
                            return Ok(Principals::Anyone);
                        }
                        if p.contains(['*', '?']) {
                            return Err(format!(
                                "invalid principal `{p}`: a principal ARN takes no wildcards \
                                 (`*` alone, or a StringLike condition on aws:PrincipalArn)"
                            ));
                        }
                        if p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit()) {
                            arns.push(format!("arn:aws:iam::{p}:root"));
                        } else {
                            arns.push(p);
                        }
                    }
                } else if !matches!(k.as_str(), "Service" | "Federated" | "CanonicalUser") {
                    return Err(format!("unknown principal type `{k}`"));
                }
            }
            Ok(Principals::Arns(arns))
        }
        _ => Err("`Principal` must be \"*\" or an object such as {\"AWS\": [...]}".into()),
    }
}

fn conditions(v: &Value) -> Result<Vec<Condition>, String> {
    let Some(ops) = v.as_object() else {
        return Err("`Condition` must be an object".into());
    };
    let mut out = Vec::new();
    for (name, keys) in ops {
        let (base, if_exists) = match name.strip_suffix("IfExists") {
            Some(b) => (b, true),
            None => (name.as_str(), false),
        };
        let (op, negated) = match base {
            "StringEquals" => (Op::StringEquals, false),
            "StringNotEquals" => (Op::StringEquals, true),
            "StringEqualsIgnoreCase" => (Op::StringEqualsIgnoreCase, false),
            "StringNotEqualsIgnoreCase" => (Op::StringEqualsIgnoreCase, true),
            "StringLike" => (Op::StringLike, false),
            "StringNotLike" => (Op::StringLike, true),
            "IpAddress" => (Op::IpAddress, false),
            "NotIpAddress" => (Op::IpAddress, true),
            "Bool" => (Op::Bool, false),
            _ => return Err(format!("unsupported condition operator `{name}`")),
        };
        let Some(keys) = keys.as_object() else {
            return Err(format!("`{name}` must map condition keys to values"));
        };
        for (key, vals) in keys {
            if !CONDITION_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)) {
                return Err(format!(
                    "unsupported condition key `{key}` (supported: {})",
                    CONDITION_KEYS.join(", ")
                ));
            }
            let list = strings(vals, key)?;
            let values = match op {
                Op::IpAddress => Values::Networks(
                    list.iter()
                        .map(|s| {
                            parse_cidr(s)
                                .ok_or_else(|| format!("`{s}` is not an IP address or CIDR block"))
                        })
                        .collect::<Result<_, _>>()?,
                ),
                Op::StringLike => {
                    Values::Patterns(list.iter().map(|s| Pattern::exact(s)).collect())
                }
                _ => Values::Strings(list),
            };
            out.push(Condition {
                op,
                negated,
                if_exists,
                key: key.to_ascii_lowercase(),
                values,
            });
        }
    }
    Ok(out)
}

fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (ip, bits) = match s.split_once('/') {
        Some((ip, bits)) => (ip.parse::<IpAddr>().ok()?, Some(bits.parse::<u8>().ok()?)),
        None => (s.parse::<IpAddr>().ok()?, None),
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(max);
    (bits <= max).then_some((ip, bits))
}

fn in_network(ip: IpAddr, (net, bits): (IpAddr, u8)) -> bool {
    match (ip.to_canonical(), net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

impl Condition {
    fn holds(&self, req: &Request) -> bool {
        let Some(actual) = req.key(&self.key) else {
            // An absent key: `...IfExists` and the negated operators hold, the rest do not.
            return self.if_exists || self.negated;
        };
        let any = match (&self.values, self.op) {
            (Values::Strings(v), Op::StringEquals | Op::Bool) => {
                let actual = actual.text();
                v.iter().any(|x| *x == actual)
            }
            (Values::Strings(v), _) => {
                let actual = actual.text();
                v.iter().any(|x| x.eq_ignore_ascii_case(&actual))
            }
            (Values::Patterns(p), _) => {
                let actual = actual.text();
                p.iter().any(|x| x.matches(&actual))
            }
            (Values::Networks(n), _) => {
                let ip = match actual {
                    Ctx::Ip(ip) => Some(ip),
                    Ctx::Str(s) => s.parse::<IpAddr>().ok(),
                    Ctx::Bool(_) => None,
                };
                ip.is_some_and(|ip| n.iter().any(|&net| in_network(ip, net)))
            }
        };
        any != self.negated
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:api/prod/GET/pets/1";
    const RES: Attached = Attached::Resource {
        region: "us-east-1",
        account: "123456789012",
        api_id: "api",
    };

    fn anon(ip: &str) -> Request<'static> {
        Request {
            action: "execute-api:Invoke",
            resource: ARN,
            caller: Caller::Anonymous,
            source_ip: Some(ip.parse().unwrap()),
            user_agent: None,
            referer: None,
            secure_transport: false,
        }
    }

    fn alice(account: &'static str) -> Caller<'static> {
        Caller::Iam {
            arn: if account == "123456789012" {
                "arn:aws:iam::123456789012:user/alice"
            } else {
                "arn:aws:iam::210987654321:user/alice"
            },
            account,
            username: "alice",
            userid: "AIDAALICE",
        }
    }

    #[test]
    fn ip_deny_pattern_of_the_developer_guide() {
        let p = Policy::compile(
            &json!({"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Principal":"*","Action":"execute-api:Invoke","Resource":["execute-api:/*"]},
                {"Effect":"Deny","Principal":"*","Action":"execute-api:Invoke","Resource":["execute-api:/*"],
                 "Condition":{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}}]}),
            RES,
        )
        .unwrap();
        assert_eq!(p.evaluate(&anon("198.51.100.1")), Decision::Allow);
        assert_eq!(p.evaluate(&anon("192.0.2.5")), Decision::ExplicitDeny);
        assert_eq!(
            p.evaluate(&anon("::ffff:192.0.2.5")),
            Decision::ExplicitDeny
        );
        // Another API's ARN is not covered.
        let other = Request {
            resource: "arn:aws:execute-api:us-east-1:123456789012:other/prod/GET/pets/1",
            ..anon("198.51.100.1")
        };
        assert_eq!(p.evaluate(&other), Decision::ImplicitDeny);
        assert!(!p.names_principals());
    }

    #[test]
    fn not_ip_address_and_stage_scoping() {
        let p = Policy::compile(
            &json!({"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"execute-api:*",
                "Resource":"execute-api:/prod/GET/pets/*",
                "Condition":{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}}}),
            RES,
        )
        .unwrap();
        assert_eq!(p.evaluate(&anon("127.0.0.1")), Decision::Allow);
        assert_eq!(p.evaluate(&anon("10.1.2.3")), Decision::ImplicitDeny);
        assert_eq!(p.evaluate(&anon("2001:db8::1")), Decision::ImplicitDeny);
        assert_eq!(p.evaluate(&anon("2001:db9::1")), Decision::Allow);
    }

    #[test]
    fn principals_and_accounts() {
        let p = Policy::compile(
            &json!({"Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:user/alice","210987654321"]},
                "Action":"execute-api:Invoke","Resource":"execute-api:/*"}]}),
            RES,
        )
        .unwrap();
        assert!(p.names_principals());
        assert_eq!(p.evaluate(&anon("127.0.0.1")), Decision::ImplicitDeny);
        let same = Request {
            caller: alice("123456789012"),
            ..anon("127.0.0.1")
        };
        assert_eq!(p.evaluate(&same), Decision::Allow);
        let cross = Request {
            caller: alice("210987654321"),
            ..anon("127.0.0.1")
        };
        assert_eq!(p.evaluate(&cross), Decision::Allow);
        let bob = Request {
            caller: Caller::Iam {
                arn: "arn:aws:iam::123456789012:user/bob",
                account: "123456789012",
                username: "bob",
                userid: "AIDABOB",
            },
            ..anon("127.0.0.1")
        };
        assert_eq!(p.evaluate(&bob), Decision::ImplicitDeny);
    }

    #[test]
    fn identity_policy_actions_resources_and_string_conditions() {
        let p = Policy::compile(
            &json!({"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":"execute-api:invoke","Resource":"arn:aws:execute-api:*:*:api/*/GET/*"},
                {"Effect":"Deny","NotAction":"execute-api:Invoke","Resource":"*"},
                {"Effect":"Deny","Action":"*","NotResource":"arn:aws:execute-api:*:*:api/*",
                 "Condition":{"StringEquals":{"aws:username":"alice"}}},
                {"Effect":"Allow","Action":"execute-api:InvalidateCache","Resource":"*",
                 "Condition":{"StringLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/a*"},
                              "StringNotEquals":{"aws:PrincipalAccount":"999999999999"}}}]}),
            Attached::Identity,
        )
        .unwrap();
        let req = Request {
            caller: alice("123456789012"),
            ..anon("127.0.0.1")
        };
        assert_eq!(p.evaluate(&req), Decision::Allow);
        let post = Request {
            resource: "arn:aws:execute-api:us-east-1:123456789012:api/prod/POST/pets",
            ..req
        };
        assert_eq!(p.evaluate(&post), Decision::ImplicitDeny);
        let elsewhere = Request {
            resource: "arn:aws:execute-api:us-east-1:123456789012:zzz/prod/GET/pets",
            ..req
        };
        assert_eq!(p.evaluate(&elsewhere), Decision::ExplicitDeny);
        let inval = Request {
            action: "execute-api:InvalidateCache",
            ..req
        };
        // NotAction Deny covers InvalidateCache.
        assert_eq!(p.evaluate(&inval), Decision::ExplicitDeny);
        assert_eq!(
            evaluate_all(&[p.clone(), Policy::default()], &req),
            Decision::Allow
        );
        assert_eq!(evaluate_all(&[], &req), Decision::ImplicitDeny);
    }

    /// Every supported key has a value for some request (names compare case-insensitively).
    #[test]
    fn supported_keys_are_read() {
        let req = Request {
            user_agent: Some("ua"),
            referer: Some("r"),
            caller: alice("123456789012"),
            ..anon("127.0.0.1")
        };
        for key in CONDITION_KEYS {
            assert!(req.key(&key.to_ascii_lowercase()).is_some(), "{key}");
        }
    }

    /// Typed values: `Bool` on a flag, strings and IP ranges on an address.
    #[test]
    fn typed_condition_values() {
        let p = Policy::compile(
            &json!({"Statement":[{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*",
                "Condition":{"Bool":{"aws:SecureTransport":"false"}}},
                {"Effect":"Allow","Principal":"*","Action":"*","Resource":"*",
                "Condition":{"StringLike":{"aws:SourceIp":"10.1.*"}}}]}),
            RES,
        )
        .unwrap();
        let tls = |ip: &str| Request {
            secure_transport: true,
            ..anon(ip)
        };
        assert_eq!(p.evaluate(&anon("10.1.2.3")), Decision::ExplicitDeny);
        assert_eq!(p.evaluate(&tls("10.1.2.3")), Decision::Allow);
        assert_eq!(p.evaluate(&tls("::ffff:10.1.2.3")), Decision::Allow);
        assert_eq!(p.evaluate(&tls("10.2.0.1")), Decision::ImplicitDeny);
    }

    #[test]
    fn condition_keys_absent_and_if_exists() {
        let p = Policy::compile(
            &json!({"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*",
                "Condition":{"StringEqualsIfExists":{"aws:username":"alice"},
                             "StringNotLike":{"aws:UserAgent":"curl/*"}}}]}),
            RES,
        )
        .unwrap();
        assert_eq!(p.evaluate(&anon("127.0.0.1")), Decision::Allow);
        let curl = Request {
            user_agent: Some("curl/8.0"),
            ..anon("127.0.0.1")
        };
        assert_eq!(p.evaluate(&curl), Decision::ImplicitDeny);
        let bob = Request {
            caller: Caller::Iam {
                arn: "a",
                account: "1",
                username: "bob",
                userid: "x",
            },
            ..anon("127.0.0.1")
        };
        assert_eq!(p.evaluate(&bob), Decision::ImplicitDeny);
    }

    #[test]
    fn bad_documents_are_refused() {
        for (doc, attached, msg) in [
            (json!([]), RES, "policy must be a JSON object"),
            (
                json!({"Statement":[{"Effect":"Maybe","Principal":"*","Action":"*","Resource":"*"}]}),
                RES,
                "Statement[0]: `Effect` must be \"Allow\" or \"Deny\"",
            ),
            (
                json!({"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}),
                RES,
                "Statement[0]: a resource policy statement needs a `Principal`",
            ),
            (
                json!({"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}),
                Attached::Identity,
                "Statement[0]: an identity policy statement has no `Principal`",
            ),
            (
                json!({"Statement":[{"Effect":"Allow","Action":"*"}]}),
                Attached::Identity,
                "Statement[0]: a statement needs exactly one of `Resource` and `NotResource`",
            ),
            (
                json!({"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"x"}}}]}),
                Attached::Identity,
                "Statement[0]: unsupported condition operator `DateLessThan`",
            ),
            (
                json!({"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"300.0.0.1"}}}]}),
                Attached::Identity,
                "Statement[0]: `300.0.0.1` is not an IP address or CIDR block",
            ),
            (
                json!({"Statement":[{"Effect":"Deny","Principal":{"AWS":["arn:aws:iam::123456789012:user/*"]},"Action":"*","Resource":"*"}]}),
                RES,
                "Statement[0]: invalid principal `arn:aws:iam::123456789012:user/*`: a principal ARN takes no wildcards (`*` alone, or a StringLike condition on aws:PrincipalArn)",
            ),
            (
                json!({"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::12345678901?:root"},"Action":"*","Resource":"*"}]}),
                RES,
                "Statement[0]: invalid principal `arn:aws:iam::12345678901?:root`: a principal ARN takes no wildcards (`*` alone, or a StringLike condition on aws:PrincipalArn)",
            ),
        ] {
            assert_eq!(Policy::compile(&doc, attached).unwrap_err(), msg);
        }
        // Keys the evaluator cannot read, typos included, in any operator.
        for (op, key) in [
            ("StringEquals", "aws:SourceVpc"),
            ("StringNotEquals", "aws:PrincipalOrgID"),
            ("StringLike", "aws:PrincipalTag/team"),
            ("NotIpAddress", "aws:SourceIps"),
            ("Bool", "aws:MultiFactorAuthPresent"),
        ] {
            let doc = json!({"Statement":[{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*",
                "Condition":{op:{key:"10.0.0.0/8"}}}]});
            let e = Policy::compile(&doc, RES).unwrap_err();
            assert!(
                e.starts_with(&format!(
                    "Statement[0]: unsupported condition key `{key}` (supported: aws:SourceIp, "
                )),
                "{e}"
            );
        }
        // The stringified form AWS stores.
        let s = json!("{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"*\",\"Resource\":\"*\"}]}");
        assert_eq!(
            Policy::compile(&s, RES).unwrap().evaluate(&anon("1.1.1.1")),
            Decision::Allow
        );
    }
}
