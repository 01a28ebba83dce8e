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
    stage_method_arn(
        &stage_arn_prefix(region, account, api_id, stage),
        method,
        path,
    )
}

/// `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/`: what every method ARN of a
/// stage begins with, written once per stage ([`stage_method_arn`]).
pub fn stage_arn_prefix(region: &str, account: &str, api_id: &str, stage: &str) -> Box<str> {
    format!("arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/").into()
}

/// [`method_arn`] from its stage's [`stage_arn_prefix`].
pub fn stage_method_arn(prefix: &str, method: &str, path: &str) -> String {
    let path = path.strip_prefix('/').unwrap_or(path);
    let mut s = String::with_capacity(stage_method_arn_len(prefix, method, path));
    s.push_str(prefix);
    s.push_str(method);
    s.push('/');
    s.push_str(path);
    s
}

/// The length of [`stage_method_arn`]'s ARN, without writing it.
pub fn stage_method_arn_len(prefix: &str, method: &str, path: &str) -> usize {
    let path = path.strip_prefix('/').unwrap_or(path);
    prefix.len() + method.len() + 1 + path.len()
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
    /// A pattern without `?`: the byte ranges of `text` between its `*`s, in order (one
    /// range for a literal). None: [`Pattern::matches`] runs the general matcher.
    runs: Option<Box<[(usize, usize)]>>,
}

impl Pattern {
    fn new(text: Box<[u8]>, ignore_case: bool) -> Pattern {
        let runs = (!text.contains(&b'?')).then(|| {
            let mut runs = Vec::new();
            let mut start = 0;
            for (i, &c) in text.iter().enumerate() {
                if c == b'*' {
                    runs.push((start, i));
                    start = i + 1;
                }
            }
            runs.push((start, text.len()));
            runs.into_boxed_slice()
        });
        Pattern {
            text,
            ignore_case,
            runs,
        }
    }

    /// A resource (or principal) pattern: case-sensitive.
    pub fn exact(p: &str) -> Pattern {
        Pattern::new(p.as_bytes().into(), false)
    }

    /// An action pattern (`execute-api:Invoke`, `execute-api:*`): case-insensitive.
    pub fn action(p: &str) -> Pattern {
        Pattern::new(p.to_ascii_lowercase().into_bytes().into(), true)
    }

    /// Whether `s` matches.
    pub fn matches(&self, s: &str) -> bool {
        match &self.runs {
            Some(runs) => self.matches_runs(runs, s.as_bytes()),
            None => self.matches_general(s),
        }
    }

    /// `pattern` (a run of this pattern's text) equals `s`, bytes of the same length.
    fn same(&self, pattern: &[u8], s: &[u8]) -> bool {
        if self.ignore_case {
            pattern.len() == s.len()
                && pattern
                    .iter()
                    .zip(s)
                    .all(|(&p, &c)| p == c.to_ascii_lowercase())
        } else {
            pattern == s
        }
    }

    /// Where `run` first occurs in `s`.
    fn find(&self, run: &[u8], s: &[u8]) -> Option<usize> {
        let Some((&first, rest)) = run.split_first() else {
            return Some(0);
        };
        let last_start = s.len().checked_sub(run.len())?;
        (0..=last_start).find(|&i| {
            let c = s[i];
            (if self.ignore_case {
                first == c.to_ascii_lowercase()
            } else {
                first == c
            }) && self.same(rest, &s[i + 1..i + run.len()])
        })
    }

    /// A pattern of literal runs joined by `*`: the first run begins `s`, the last ends it,
    /// the others occur in order between them (the leftmost occurrence of each leaves the
    /// most room to the next). Matching bytes is matching characters: a run is whole UTF-8
    /// characters, so it occurs only at character boundaries.
    fn matches_runs(&self, runs: &[(usize, usize)], s: &[u8]) -> bool {
        let run = |(a, b): (usize, usize)| &self.text[a..b];
        let (first, middle, last) = match runs {
            [only] => return self.same(run(*only), s),
            [first, middle @ .., last] => (run(*first), middle, run(*last)),
            [] => return s.is_empty(),
        };
        if s.len() < first.len() + last.len()
            || !self.same(first, &s[..first.len()])
            || !self.same(last, &s[s.len() - last.len()..])
        {
            return false;
        }
        let mut rest = &s[first.len()..s.len() - last.len()];
        for &m in middle {
            let m = run(m);
            match self.find(m, rest) {
                Some(at) => rest = &rest[at + m.len()..],
                None => return false,
            }
        }
        true
    }

    /// Any pattern: the classic greedy matcher that backtracks only to the last `*`.
    fn matches_general(&self, s: &str) -> bool {
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
    fn stage_prefixes_make_the_same_arns() {
        let prefix = stage_arn_prefix("eu-west-1", "123456789012", "abc", "prod");
        assert_eq!(
            &*prefix,
            "arn:aws:execute-api:eu-west-1:123456789012:abc/prod/"
        );
        for path in ["/pets/a1b2", "/", "", "pets", "//x"] {
            let whole = method_arn("eu-west-1", "123456789012", "abc", "prod", "GET", path);
            assert_eq!(stage_method_arn(&prefix, "GET", path), whole, "{path}");
            assert_eq!(stage_method_arn_len(&prefix, "GET", path), whole.len());
        }
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

    /// Every string over `alphabet` up to `max` characters.
    fn words(alphabet: &[char], max: usize) -> Vec<String> {
        let mut out = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..max {
            last = last
                .iter()
                .flat_map(|w| alphabet.iter().map(move |c| format!("{w}{c}")))
                .collect();
            out.extend(last.iter().cloned());
        }
        out
    }

    /// Patterns without `?` match by their runs exactly as the general matcher does.
    #[test]
    fn runs_agree_with_the_general_matcher() {
        let cases = [
            (
                words(&['a', 'b', '*', 'ü'], 4),
                words(&['a', 'b', 'ü'], 5),
                false,
            ),
            (
                words(&['a', 'B', '*'], 4),
                words(&['a', 'A', 'b', 'B'], 4),
                true,
            ),
        ];
        for (patterns, strings, actions) in cases {
            for p in &patterns {
                let pattern = if actions {
                    Pattern::action(p)
                } else {
                    Pattern::exact(p)
                };
                assert!(pattern.runs.is_some(), "{p}");
                for s in &strings {
                    assert_eq!(
                        pattern.matches(s),
                        pattern.matches_general(s),
                        "{p:?} on {s:?}"
                    );
                }
            }
        }
        assert!(Pattern::exact("a?*").runs.is_none());
    }
}
