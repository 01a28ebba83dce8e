//! `execute-api` ARNs and the IAM wildcard patterns policies match them with.

/// `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/{path}`: the resource an
/// invocation is authorized on. `path` is the request's resource path with its actual values
/// (`/pets/a1b2`), written without its leading slash; the root gives a trailing `/`.
pub fn method_arn(
    region: &str,
    account: &str,
    api_id: &str,
    stage: &str,
    method: &str,
    path: &str,
) -> String {
    let path = path.strip_prefix('/').unwrap_or(path);
    let mut s = String::with_capacity(
        40 + region.len() + account.len() + api_id.len() + stage.len() + path.len(),
    );
    for part in [
        "arn:aws:execute-api:",
        region,
        ":",
        account,
        ":",
        api_id,
        "/",
        stage,
        "/",
        method,
        "/",
        path,
    ] {
        s.push_str(part);
    }
    s
}

/// Expands a resource policy's short form `execute-api:/stage/GET/pets` (or `execute-api:/*`)
/// to the API's full ARN, as API Gateway does when a policy is saved; other values unchanged.
pub fn expand_short_form(resource: &str, region: &str, account: &str, api_id: &str) -> String {
    match resource.strip_prefix("execute-api:/") {
        Some(rest) => format!("arn:aws:execute-api:{region}:{account}:{api_id}/{rest}"),
        None => resource.to_string(),
    }
}

/// An IAM pattern: `*` matches any run of characters (`/` and `:` included), `?` any one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: Box<[u8]>,
    /// Actions compare case-insensitively; resources exactly.
    ignore_case: bool,
}

impl Pattern {
    /// A resource (or principal) pattern: case-sensitive.
    pub fn exact(p: &str) -> Pattern {
        Pattern {
            text: p.as_bytes().into(),
            ignore_case: false,
        }
    }

    /// An action pattern (`execute-api:Invoke`, `execute-api:*`): case-insensitive.
    pub fn action(p: &str) -> Pattern {
        Pattern {
            text: p.to_ascii_lowercase().into_bytes().into(),
            ignore_case: true,
        }
    }

    /// Whether `s` matches. Linear in practice: the classic greedy matcher that backtracks
    /// only to the last `*`.
    pub fn matches(&self, s: &str) -> bool {
        let p = &self.text;
        let s = s.as_bytes();
        let eq = |a: u8, b: u8| {
            if self.ignore_case {
                a == b.to_ascii_lowercase()
            } else {
                a == b
            }
        };
        // `si` stays on character boundaries: `?` and a `*` retry step over whole characters.
        let (mut pi, mut si) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while si < s.len() {
            if pi < p.len() && p[pi] == b'?' {
                pi += 1;
                si += utf8_len(s[si]);
            } else if pi < p.len() && p[pi] != b'*' && eq(p[pi], s[si]) {
                pi += 1;
                si += 1;
            } else if pi < p.len() && p[pi] == b'*' {
                star = Some((pi, si));
                pi += 1;
            } else if let Some((sp, ss)) = star {
                let next = ss + utf8_len(s[ss]);
                pi = sp + 1;
                si = next;
                star = Some((sp, next));
            } else {
                return false;
            }
        }
        p[pi..].iter().all(|&c| c == b'*')
    }
}

/// The length of the UTF-8 character that starts with `b`.
fn utf8_len(b: u8) -> usize {
    match b {
        0xF0.. => 4,
        0xE0.. => 3,
        0xC0.. => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_arns() {
        assert_eq!(
            method_arn(
                "us-east-1",
                "123456789012",
                "abc",
                "prod",
                "GET",
                "/pets/a1b2"
            ),
            "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/pets/a1b2"
        );
        assert_eq!(
            method_arn("us-east-1", "123456789012", "abc", "prod", "GET", "/"),
            "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/"
        );
        assert_eq!(
            expand_short_form("execute-api:/prod/GET/pets", "eu-west-1", "1", "api"),
            "arn:aws:execute-api:eu-west-1:1:api/prod/GET/pets"
        );
        assert_eq!(
            expand_short_form("execute-api:/*", "r", "1", "api"),
            "arn:aws:execute-api:r:1:api/*"
        );
        assert_eq!(expand_short_form("arn:aws:x", "r", "1", "a"), "arn:aws:x");
    }

    #[test]
    fn wildcards() {
        let arn = "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/pets/a1b2";
        for (p, want) in [
            ("arn:aws:execute-api:*:*:*", true),
            ("arn:aws:execute-api:us-east-1:*:abc/*", true),
            ("arn:aws:execute-api:us-east-1:*:abc/prod/*", true),
            ("arn:aws:execute-api:us-east-1:*:abc/test/*", false),
            ("arn:aws:execute-api:us-east-1:*:abc/*/GET/pets/*", true),
            ("arn:aws:execute-api:us-east-1:*:abc/*/POST/pets/*", false),
            (
                "arn:aws:execute-api:us-east-1:*:abc/prod/GET/pets/a1b?",
                true,
            ),
            (
                "arn:aws:execute-api:us-east-1:*:abc/prod/GET/pets/a1b??",
                false,
            ),
            (
                "arn:aws:execute-api:us-east-1:*:abc/prod/get/pets/a1b2",
                false,
            ),
            ("*", true),
            (
                "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/pets/a1b2",
                true,
            ),
            (
                "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/pets",
                false,
            ),
            (
                "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/pets/a1b2*",
                true,
            ),
            ("arn:*/pets/*2", true),
            ("arn:*/pets/*3", false),
        ] {
            assert_eq!(Pattern::exact(p).matches(arn), want, "{p}");
        }
        assert!(Pattern::action("execute-api:invoke").matches("execute-api:Invoke"));
        assert!(Pattern::action("Execute-API:*").matches("execute-api:InvalidateCache"));
        assert!(!Pattern::action("execute-api:Invoke").matches("execute-api:InvalidateCache"));
        assert!(Pattern::exact("").matches(""));
        assert!(!Pattern::exact("").matches("a"));
        assert!(Pattern::exact("a*b*c").matches("aXbYbZc"));
        // `?` is one character, however many bytes it takes.
        assert!(Pattern::exact("pets/?").matches("pets/ü"));
        assert!(Pattern::exact("pets/?/x").matches("pets/€/x"));
        assert!(!Pattern::exact("pets/??").matches("pets/ü"));
        assert!(Pattern::exact("*?").matches("𝄞"));
        assert!(Pattern::exact("*ü?").matches("aüü"));
        assert!(!Pattern::exact("*?x").matches("ü"));
        assert!(!Pattern::exact("a*b*c").matches("aXbYbZ"));
    }
}
