//! IAM users from the configuration (`iam.users`): their access keys, identities and
//! identity policies, compiled at load and looked up by access key id per request.

use super::access::IamIdentity;
use super::policy::{self, Attached, Caller, Decision, Policy};
use super::verify::{SecretKey, VerifiedSignatures};
use crate::config::model;
use std::collections::HashMap;
use std::sync::Arc;

/// Access key ids to users: looked up per request with the client's key, so keyed.
type ByKey = HashMap<String, usize, foldhash::fast::RandomState>;

/// One IAM user.
#[derive(Debug)]
pub struct IamUser {
    pub name: String,
    pub account_id: String,
    /// `arn:aws:iam::{account}:user/{name}`.
    pub arn: String,
    /// The unique id AWS gives a user (`AIDA...`), stable for a name and account.
    pub user_id: String,
    /// `$context.identity.*` of this user's requests, made once.
    pub identity: IamIdentity,
    key: SecretKey,
    policies: Vec<Policy>,
    /// No policy has a condition: a decision depends only on the action and the resource.
    unconditional: bool,
}

impl IamUser {
    /// The caller as policies see it.
    pub fn caller(&self) -> Caller<'_> {
        Caller::Iam {
            arn: &self.arn,
            account: &self.account_id,
            username: &self.name,
            userid: &self.user_id,
        }
    }

    /// The user's identity policies evaluated together.
    pub fn evaluate(&self, req: &policy::Request) -> Decision {
        policy::evaluate_all(&self.policies, req)
    }

    /// Whether the user's decisions depend only on the action and the resource (no policy
    /// has a condition), so that one may be remembered for them.
    pub fn unconditional(&self) -> bool {
        self.unconditional
    }
}

/// Every configured user, by access key id.
#[derive(Debug, Default)]
pub struct IamUsers {
    users: Vec<IamUser>,
    by_key: ByKey,
    /// Some user's policy has a condition: a decision may read more of the request than the
    /// action and the resource.
    conditional: bool,
    /// Signatures of these users' requests verified recently.
    pub verified: VerifiedSignatures,
}

/// A problem in `iam.users[index]`; `policy` is the index of the policy at fault, if one is.
#[derive(Debug, PartialEq, Eq)]
pub struct UserProblem {
    pub index: usize,
    pub policy: Option<usize>,
    pub message: String,
}

impl IamUsers {
    /// Compiles `iam.users`; a user without an `accountId` is in `default_account`.
    pub fn compile(iam: &model::Iam, default_account: &str) -> Result<IamUsers, Vec<UserProblem>> {
        let mut problems = Vec::new();
        let mut out = IamUsers::default();
        for (i, u) in iam.users.iter().enumerate() {
            let mut problem = |policy, message: String| {
                problems.push(UserProblem {
                    index: i,
                    policy,
                    message,
                })
            };
            if u.name.is_empty() || u.access_key_id.is_empty() || u.secret_access_key.is_empty() {
                problem(
                    None,
                    "an IAM user needs `name`, `accessKeyId` and `secretAccessKey`".into(),
                );
                continue;
            }
            if out.by_key.contains_key(&u.access_key_id) {
                problem(
                    None,
                    format!("access key `{}` belongs to two users", u.access_key_id),
                );
                continue;
            }
            let mut policies = Vec::new();
            for (j, p) in u.policies.iter().enumerate() {
                match Policy::compile(p, Attached::Identity) {
                    Ok(p) => policies.push(p),
                    Err(e) => problem(Some(j), e),
                }
            }
            let expiration = match (&u.expiration, &u.session_token) {
                (None, _) => None,
                (Some(_), None) => {
                    problem(
                        None,
                        "`expiration` applies to temporary credentials: add their `sessionToken`"
                            .into(),
                    );
                    continue;
                }
                (Some(e), Some(_)) => match parse_expiration(e) {
                    Some(t) => Some(t),
                    None => {
                        problem(
                            None,
                            format!("`expiration` `{e}` is not an ISO 8601 UTC time like 2026-01-01T00:00:00Z"),
                        );
                        continue;
                    }
                },
            };
            let account_id = u
                .account_id
                .clone()
                .unwrap_or_else(|| default_account.to_string());
            let id = [
                crate::ids::stable_id(&[&account_id, &u.name]),
                crate::ids::stable_id(&[&u.name, &account_id, "user"]),
                crate::ids::stable_id(&["user", &account_id, &u.name]),
            ]
            .concat()
            .to_ascii_uppercase();
            out.by_key.insert(u.access_key_id.clone(), out.users.len());
            let arn = format!("arn:aws:iam::{account_id}:user/{}", u.name);
            let user_id = format!("AIDA{}", &id[..17]);
            let caller: Arc<str> = user_id.as_str().into();
            out.users.push(IamUser {
                identity: IamIdentity {
                    // A request's access key is this one: users are looked up by it.
                    access_key: u.access_key_id.as_str().into(),
                    account_id: account_id.as_str().into(),
                    user: caller.clone(),
                    caller,
                    user_arn: arn.as_str().into(),
                },
                arn,
                user_id,
                name: u.name.clone(),
                account_id,
                key: {
                    let key = SecretKey::new(&u.secret_access_key, u.session_token.as_deref());
                    match expiration {
                        Some(t) => key.expiring(t),
                        None => key,
                    }
                },
                unconditional: !policies.iter().any(Policy::has_conditions),
                policies,
            });
        }
        out.conditional = out.users.iter().any(|u| !u.unconditional);
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(problems)
        }
    }

    /// Whether some user's decisions depend on more than the action and the resource.
    pub fn conditional(&self) -> bool {
        self.conditional
    }

    /// The user owning `access_key_id`, with its secret.
    pub fn lookup(&self, access_key_id: &str) -> Option<(&IamUser, &SecretKey)> {
        let u = &self.users[*self.by_key.get(access_key_id)?];
        Some((u, &u.key))
    }
}

/// `2026-01-01T00:00:00Z` (STS's form) or `20260101T000000Z`.
fn parse_expiration(s: &str) -> Option<std::time::SystemTime> {
    let b = s.as_bytes();
    let extended = b.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':';
    if extended {
        super::sigv4::parse_amz_date(&s.replace(['-', ':'], ""))
    } else {
        super::sigv4::parse_amz_date(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(name: &str, key: &str, policies: Vec<serde_json::Value>) -> model::IamUser {
        model::IamUser {
            name: name.into(),
            access_key_id: key.into(),
            secret_access_key: "secret".into(),
            policies,
            ..Default::default()
        }
    }

    #[test]
    fn users_compile_with_identities() {
        let iam = model::Iam {
            users: vec![
                user(
                    "alice",
                    "AKIDALICE",
                    vec![
                        json!({"Statement":[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"*"}]}),
                    ],
                ),
                model::IamUser {
                    account_id: Some("210987654321".into()),
                    ..user("bob", "AKIDBOB", vec![])
                },
            ],
        };
        let users = IamUsers::compile(&iam, "123456789012").unwrap();
        let (alice, _) = users.lookup("AKIDALICE").unwrap();
        assert_eq!(alice.arn, "arn:aws:iam::123456789012:user/alice");
        assert_eq!(alice.user_id.len(), 21);
        assert!(alice.user_id.starts_with("AIDA"));
        let (bob, _) = users.lookup("AKIDBOB").unwrap();
        assert_eq!(bob.arn, "arn:aws:iam::210987654321:user/bob");
        assert_ne!(alice.user_id, bob.user_id);
        assert!(users.lookup("AKIDNOBODY").is_none());
        let req = policy::Request {
            action: "execute-api:Invoke",
            resource: "arn:aws:execute-api:us-east-1:1:a/s/GET/",
            caller: alice.caller(),
            source_ip: None,
            user_agent: None,
            referer: None,
            secure_transport: false,
        };
        assert_eq!(alice.evaluate(&req), Decision::Allow);
        assert_eq!(
            bob.evaluate(&policy::Request {
                caller: bob.caller(),
                ..req
            }),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn expirations() {
        assert_eq!(
            parse_expiration("2015-08-30T12:36:00Z"),
            crate::auth::sigv4::parse_amz_date("20150830T123600Z")
        );
        assert!(parse_expiration("20150830T123600Z").is_some());
        for bad in [
            "2015-08-30 12:36:00",
            "2015-08-30T12:36:00+01:00",
            "tomorrow",
        ] {
            assert_eq!(parse_expiration(bad), None, "{bad}");
        }
        let temp = |expiration: &str, token: Option<&str>| model::IamUser {
            expiration: Some(expiration.into()),
            session_token: token.map(str::to_string),
            ..user("t", "AKIDT", vec![])
        };
        let iam = model::Iam {
            users: vec![temp("2015-08-30T12:36:00Z", Some("tok"))],
        };
        let users = IamUsers::compile(&iam, "1").unwrap();
        assert_eq!(
            users.lookup("AKIDT").unwrap().1.expiration,
            parse_expiration("2015-08-30T12:36:00Z")
        );
        let iam = model::Iam {
            users: vec![
                temp("soon", Some("tok")),
                temp("2015-08-30T12:36:00Z", None),
            ],
        };
        let problems = IamUsers::compile(&iam, "1").unwrap_err();
        assert_eq!(problems.len(), 2);
        assert!(
            problems[0].message.contains("ISO 8601"),
            "{:?}",
            problems[0]
        );
        assert!(
            problems[1].message.contains("sessionToken"),
            "{:?}",
            problems[1]
        );
    }

    #[test]
    fn problems_are_located() {
        let iam = model::Iam {
            users: vec![
                user(
                    "a",
                    "K",
                    vec![
                        json!({"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}),
                    ],
                ),
                user("b", "K", vec![]),
                user("", "K2", vec![]),
            ],
        };
        let problems = IamUsers::compile(&iam, "1").unwrap_err();
        assert_eq!(
            problems,
            vec![
                UserProblem {
                    index: 0,
                    policy: Some(0),
                    message: "Statement[0]: an identity policy statement has no `Principal`".into()
                },
                UserProblem {
                    index: 1,
                    policy: None,
                    message: "access key `K` belongs to two users".into()
                },
                UserProblem {
                    index: 2,
                    policy: None,
                    message: "an IAM user needs `name`, `accessKeyId` and `secretAccessKey`".into()
                },
            ]
        );
    }
}
