//! Java regular expressions for `String.matches/replaceAll/replaceFirst/split`, run on the
//! `regex` crate. Java-only syntax that the crate lacks (look-around, back-references)
//! fails as a thrown exception; the POSIX `\p{…}` names of Java are translated.

use regex::Regex;

use super::java::Thrown;

/// Java's predefined classes are ASCII-only (the `regex` crate's are Unicode-aware).
const PREDEFINED: [(&str, &str); 6] = [
    ("\\d", "[0-9]"),
    ("\\D", "[^0-9]"),
    ("\\w", "[a-zA-Z0-9_]"),
    ("\\W", "[^a-zA-Z0-9_]"),
    ("\\s", "[ \\t\\n\\x0B\\f\\r]"),
    ("\\S", "[^ \\t\\n\\x0B\\f\\r]"),
];

/// Java's POSIX character class names and their equivalents.
const POSIX: [(&str, &str); 12] = [
    ("Lower", "[a-z]"),
    ("Upper", "[A-Z]"),
    ("ASCII", "[\\x00-\\x7F]"),
    ("Alpha", "[a-zA-Z]"),
    ("Digit", "[0-9]"),
    ("Alnum", "[a-zA-Z0-9]"),
    ("Punct", "[!-/:-@\\[-`{-~]"),
    ("Graph", "[!-~]"),
    ("Print", "[ -~]"),
    ("Blank", "[ \\t]"),
    ("XDigit", "[0-9a-fA-F]"),
    ("Space", "[ \\t\\n\\x0B\\f\\r]"),
];

fn translate(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let predefined = PREDEFINED
            .iter()
            .find_map(|(escape, class)| tail.starts_with(escape).then_some((2, *class)));
        let posix = predefined.or_else(|| {
            POSIX.iter().find_map(|(name, class)| {
                let long = format!("\\p{{{name}}}");
                tail.starts_with(&long).then_some((long.len(), *class))
            })
        });
        match posix {
            Some((n, class)) => {
                out.push_str(class);
                rest = &tail[n..];
            }
            None => {
                let n = tail[1..].chars().next().map_or(1, |c| 1 + c.len_utf8());
                out.push_str(&tail[..n]);
                rest = &tail[n..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn compile(pattern: &str) -> Result<Regex, Thrown> {
    Regex::new(&translate(pattern)).map_err(|e| {
        // The crate's message spans lines (pattern, caret, reason): keep it on one.
        let reason = e
            .to_string()
            .lines()
            .last()
            .unwrap_or_default()
            .trim()
            .to_string();
        format!("java.util.regex.PatternSyntaxException: {reason}")
    })
}

/// A pattern that `String.matches` would apply: it must match the whole string.
pub(crate) fn whole_match(pattern: &str) -> Result<Regex, Thrown> {
    compile(&format!("^(?:{pattern})$"))
}

/// `String.matches`: the whole string must match.
pub(crate) fn matches(s: &str, pattern: &str) -> Result<bool, Thrown> {
    Ok(whole_match(pattern)?.is_match(s))
}

/// Appends a Java replacement string (`$n`, `${name}`, `\x`) for one match.
fn expand(caps: &regex::Captures<'_>, repl: &str, out: &mut String) -> Result<(), Thrown> {
    let groups = caps.len() - 1;
    let b = repl.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                let c = repl[i + 1..].chars().next().ok_or(
                    "java.lang.IllegalArgumentException: character to be escaped is missing",
                )?;
                out.push(c);
                i += 1 + c.len_utf8();
            }
            b'$' => {
                i += 1;
                if b.get(i) == Some(&b'{') {
                    let end = repl[i..]
                        .find('}')
                        .ok_or("java.lang.IllegalArgumentException: named capturing group is missing trailing '}'")?;
                    let name = &repl[i + 1..i + end];
                    let m = caps.name(name).ok_or_else(|| {
                        format!("java.lang.IllegalArgumentException: No group with name {{{name}}}")
                    })?;
                    out.push_str(m.as_str());
                    i += end + 1;
                    continue;
                }
                let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) else {
                    return Err(
                        "java.lang.IllegalArgumentException: Illegal group reference".into(),
                    );
                };
                let mut n = usize::from(d - b'0');
                if n > groups {
                    return Err(format!("java.lang.IndexOutOfBoundsException: No group {n}"));
                }
                i += 1;
                while let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
                    let next = n * 10 + usize::from(d - b'0');
                    if next > groups {
                        break;
                    }
                    n = next;
                    i += 1;
                }
                if let Some(m) = caps.get(n) {
                    out.push_str(m.as_str());
                }
            }
            _ => {
                let c = repl[i..].chars().next().unwrap_or('\0');
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    Ok(())
}

/// `String.replaceAll` / `replaceFirst`.
pub(crate) fn replace(s: &str, pattern: &str, repl: &str, all: bool) -> Result<String, Thrown> {
    let re = compile(pattern)?;
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for caps in re.captures_iter(s) {
        let m = caps.get(0).map_or(0..0, |m| m.range());
        out.push_str(&s[last..m.start]);
        expand(&caps, repl, &mut out)?;
        last = m.end;
        if !all {
            break;
        }
    }
    out.push_str(&s[last..]);
    Ok(out)
}

/// `String.split(regex, limit)`: no leading empty piece for a zero-width match at the
/// start, and (limit 0) trailing empty pieces removed.
pub(crate) fn split(s: &str, pattern: &str, limit: i64) -> Result<Vec<String>, Thrown> {
    let re = compile(pattern)?;
    let mut parts: Vec<String> = Vec::new();
    let mut index = 0;
    let limited = limit > 0;
    for m in re.find_iter(s) {
        if !limited || (parts.len() as i64) < limit - 1 {
            if index == 0 && m.start() == 0 && m.end() == 0 {
                continue;
            }
            parts.push(s[index..m.start()].to_string());
            index = m.end();
        } else {
            break;
        }
    }
    if index == 0 {
        return Ok(vec![s.to_string()]);
    }
    parts.push(s[index..].to_string());
    if limit == 0 {
        while parts.last().is_some_and(String::is_empty) {
            parts.pop();
        }
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_drops_trailing_empties() {
        assert_eq!(split("a,b,,", ",", 0).unwrap(), ["a", "b"]);
        assert_eq!(split("a,b,,", ",", -1).unwrap(), ["a", "b", "", ""]);
        assert_eq!(split(",a", ",", 0).unwrap(), ["", "a"]);
        assert_eq!(split("a,b,c", ",", 2).unwrap(), ["a", "b,c"]);
        assert_eq!(split("abc", "", 0).unwrap(), ["a", "b", "c"]);
        assert_eq!(split("", ",", 0).unwrap(), [""]);
    }

    #[test]
    fn replacement_groups_and_escapes() {
        assert_eq!(
            replace("a1b22", "(\\d+)", "<$1>", true).unwrap(),
            "a<1>b<22>"
        );
        assert_eq!(replace("a.b", "\\.", "\\$", true).unwrap(), "a$b");
        assert_eq!(replace("aaa", "a", "b", false).unwrap(), "baa");
        assert!(replace("a", "a", "$2", true).is_err());
        assert!(matches("abc", "[a-c]+").unwrap());
        assert!(!matches("abcd", "[a-c]+").unwrap());
        assert!(matches("x", "\\p{Alpha}").unwrap());
    }

    #[test]
    fn java_semantics_of_whole_matches() {
        // `.` stops at a line end, as in a selectionPattern against a Lambda errorMessage.
        let re = whole_match("first line.+").unwrap();
        assert!(re.is_match("first line and more"));
        assert!(!re.is_match("first line\nsecond line"));
        // Predefined classes are ASCII, also inside brackets.
        assert!(matches("42", "\\d+").unwrap());
        assert!(!matches("\u{663}", "\\d").unwrap());
        assert!(matches("a-1", "[\\w-]+").unwrap());
        assert!(!matches("é", "\\w").unwrap());
        assert!(matches("\\d", "\\\\d").unwrap());
        // Java-only syntax is an error on one line.
        let e = whole_match("(?<=a)b").unwrap_err();
        assert!(
            e.starts_with("java.util.regex.PatternSyntaxException: "),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
    }
}
