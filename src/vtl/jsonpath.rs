//! JSONPath with the semantics of Jayway JsonPath 2.0.0, which backs `$input.path` and
//! `$input.json` in API Gateway.
//!
//! Supported: `$`, `.name`, `['name']`, `['a','b']` (picks those keys into a new map),
//! `[n]`, `[n,m]`, `[a:b]`/`[a:]`/`[:b]`, `[*]`, `.*`, `..` deep scan, and filters
//! `[?(…)]` with `== != < <= > >= =~ /re/i`, `&&`, `||`, existence `@.x` and `!@.x`.
//! Lax forms are accepted: names with `-` in dot notation and a missing leading `$`.
//!
//! Jayway 2.0.0 behaviours reproduced on purpose:
//! - a *definite* path (no `..`, `*`, filter, slice or index list) yields the value
//!   itself; any other path yields a list of matches;
//! - a missing key, an index out of range and any negative index are errors
//!   ([`PathError::NotFound`]); only `[*]` over a list (and deep scan) skips elements
//!   where the rest of the path is missing;
//! - filters ignore parentheses, `&&` binds tighter than `||`; a right-hand operand that is
//!   not a path, a `'quoted'` string or a `/regex/` stays as its raw text (so `"x"` keeps its
//!   double quotes and `10` is the text "10"), and comparison is Jayway's: numbers as
//!   decimals, text as Java `compareTo`, text against a number parsed as a decimal (an
//!   error if it is not one), `null` and `'null'` alike; `=~` must match the whole text.

use super::value::Value;
use regex::Regex;
use std::cmp::Ordering;
use std::rc::Rc;
use std::sync::Arc;

/// Why a path gave no value. Jayway throws in both cases; callers map both to "missing".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// The path does not parse, or applies an array operation to a non-array.
    Invalid(String),
    /// A definite step found nothing.
    NotFound(String),
}

/// A compiled path.
#[derive(Debug, Clone)]
pub struct JsonPath {
    steps: Vec<Step>,
    definite: bool,
}

#[derive(Debug, Clone)]
enum Step {
    /// One key, or several (which build a map).
    Keys(Vec<String>),
    Wildcard,
    Indexes(Vec<i64>),
    Slice(Option<i64>, Option<i64>),
    Filter(Arc<Filter>),
    /// `..`: the next step applies at every depth.
    Scan,
}

/// `a || b || …` of `x && y && …` groups.
#[derive(Debug)]
struct Filter {
    any: Vec<Vec<Criterion>>,
}

#[derive(Debug)]
enum Operand {
    Path { root: bool, path: JsonPath },
    Text(String),
    Pattern(Regex),
}

#[derive(Debug)]
enum Criterion {
    Exists {
        path: Operand,
        negate: bool,
    },
    Compare {
        left: Operand,
        op: Op,
        right: Operand,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Regex,
}

/// Compiles and evaluates in one go.
pub fn read(path: &str, root: &Value) -> Result<Value, PathError> {
    JsonPath::compile(path)?.read(root)
}

impl JsonPath {
    /// Parses a Jayway path expression.
    pub fn compile(path: &str) -> Result<JsonPath, PathError> {
        let p = path.trim();
        if p.is_empty() {
            return Err(invalid("path must not be empty"));
        }
        let body = if let Some(rest) = p.strip_prefix('$').or_else(|| p.strip_prefix('@')) {
            rest.to_string()
        } else if p.starts_with('[') {
            p.to_string()
        } else {
            format!(".{p}")
        };
        let steps = parse_steps(&body)?;
        let definite = steps.iter().all(|s| match s {
            Step::Keys(_) => true,
            Step::Indexes(ix) => ix.len() == 1,
            _ => false,
        });
        Ok(JsonPath { steps, definite })
    }

    /// True if the path selects at most one value (and so returns it unwrapped).
    pub fn is_definite(&self) -> bool {
        self.definite
    }

    /// Evaluates against `root`: the value for a definite path, else a list of matches.
    pub fn read(&self, root: &Value) -> Result<Value, PathError> {
        let mut out = Vec::new();
        eval(root, root, &self.steps, &mut out)?;
        if self.definite {
            Ok(out.into_iter().next().unwrap_or(Value::Null))
        } else {
            Ok(super::json::array(out))
        }
    }
}

fn invalid(m: impl Into<String>) -> PathError {
    PathError::Invalid(m.into())
}

fn parse_steps(s: &str) -> Result<Vec<Step>, PathError> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut steps = Vec::new();
    while i < b.len() {
        match b[i] {
            b'.' => {
                if b.get(i + 1) == Some(&b'.') {
                    steps.push(Step::Scan);
                    i += 2;
                    if i >= b.len() {
                        return Err(invalid("A path can not end with a scan."));
                    }
                    if b[i] == b'[' {
                        continue;
                    }
                } else {
                    i += 1;
                }
                if i >= b.len() {
                    return Err(invalid("path must not end with a '.'"));
                }
                if b[i] == b'*' {
                    steps.push(Step::Wildcard);
                    i += 1;
                    continue;
                }
                let start = i;
                while i < b.len() && b[i] != b'.' && b[i] != b'[' {
                    i += 1;
                }
                let name = s[start..i].trim();
                if name.is_empty() {
                    return Err(invalid("empty property name"));
                }
                if name.contains(' ') {
                    return Err(invalid("Space not allowed in path"));
                }
                steps.push(Step::Keys(vec![name.to_string()]));
            }
            b'[' => {
                let (step, next) = parse_bracket(s, i)?;
                steps.push(step);
                i = next;
            }
            _ => return Err(invalid(format!("unexpected character at {i} in path"))),
        }
    }
    Ok(steps)
}

/// Parses `[...]` starting at `open`; returns the step and the index after `]`.
fn parse_bracket(s: &str, open: usize) -> Result<(Step, usize), PathError> {
    let rest = &s[open + 1..];
    if rest.trim_start().starts_with('?') {
        let close = rest
            .find(")]")
            .ok_or_else(|| invalid("unterminated filter"))?;
        let inner = rest.trim_start()[1..].trim_start();
        let inner = inner
            .strip_prefix('(')
            .ok_or_else(|| invalid("filter must start with '?('"))?;
        let inner_end = inner
            .find(")]")
            .ok_or_else(|| invalid("unterminated filter"))?;
        let filter = parse_filter(&inner[..inner_end])?;
        return Ok((Step::Filter(Arc::new(filter)), open + 1 + close + 2));
    }
    // Quoted names may contain ']'.
    let mut end = None;
    let mut quote = false;
    for (n, c) in rest.char_indices() {
        match c {
            '\'' => quote = !quote,
            ']' if !quote => {
                end = Some(n);
                break;
            }
            _ => {}
        }
    }
    let end = end.ok_or_else(|| invalid("unterminated '['"))?;
    let inner = rest[..end].trim();
    let next = open + 1 + end + 1;
    if inner == "*" {
        return Ok((Step::Wildcard, next));
    }
    if inner.starts_with('\'') {
        let mut keys = Vec::new();
        for part in split_quoted_list(inner)? {
            keys.push(part);
        }
        return Ok((Step::Keys(keys), next));
    }
    if inner.contains(':') {
        let (a, b) = inner.split_once(':').unwrap_or((inner, ""));
        let num = |t: &str| -> Result<Option<i64>, PathError> {
            let t = t.trim();
            if t.is_empty() {
                Ok(None)
            } else {
                t.parse()
                    .map(Some)
                    .map_err(|_| invalid(format!("bad slice bound '{t}'")))
            }
        };
        let (a, b) = (num(a)?, num(b)?);
        if a.is_none() && b.is_none() {
            return Err(invalid("empty slice"));
        }
        return Ok((Step::Slice(a, b), next));
    }
    let mut ix = Vec::new();
    for part in inner.split(',') {
        let t = part.trim();
        ix.push(
            t.parse::<i64>()
                .map_err(|_| invalid(format!("Could not analyze path component: [{inner}]")))?,
        );
    }
    Ok((Step::Indexes(ix), next))
}

fn split_quoted_list(inner: &str) -> Result<Vec<String>, PathError> {
    let mut out = Vec::new();
    let mut chars = inner.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('\'') {
            return Err(invalid(format!(
                "Could not analyze path component: [{inner}]"
            )));
        }
        let mut name = String::new();
        loop {
            match chars.next() {
                Some('\\') if chars.peek() == Some(&'\'') => {
                    chars.next();
                    name.push('\'');
                }
                Some('\'') => break,
                Some(c) => name.push(c),
                None => return Err(invalid("unterminated quoted name")),
            }
        }
        out.push(name);
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            None => return Ok(out),
            Some(',') => continue,
            Some(_) => {
                return Err(invalid(format!(
                    "Could not analyze path component: [{inner}]"
                )))
            }
        }
    }
}

fn parse_filter(text: &str) -> Result<Filter, PathError> {
    let mut any = Vec::new();
    for or_part in text.split("||") {
        let mut all = Vec::new();
        for and_part in or_part.split("&&") {
            all.push(parse_criterion(and_part)?);
        }
        any.push(all);
    }
    Ok(Filter { any })
}

fn strip_parens(t: &str) -> &str {
    t.trim()
        .trim_start_matches(|c: char| c == '(' || c.is_whitespace())
        .trim_end_matches(|c: char| c == ')' || c.is_whitespace())
}

fn parse_criterion(text: &str) -> Result<Criterion, PathError> {
    let t = strip_parens(text);
    const OPS: [(&str, Op); 7] = [
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("=~", Op::Regex),
        ("<", Op::Lt),
        (">", Op::Gt),
    ];
    for (sym, op) in OPS {
        if let Some(at) = t.find(sym) {
            let left = t[..at].trim();
            let right = t[at + sym.len()..].trim();
            if right.is_empty() {
                return Err(invalid(format!("CriteriaType {sym} needs a right operand")));
            }
            return Ok(Criterion::Compare {
                left: operand(left)?,
                op,
                right: operand(right)?,
            });
        }
    }
    let (negate, path) = match t.strip_prefix('!') {
        Some(p) => (true, p.trim()),
        None => (false, t),
    };
    if !(path.starts_with('@') || path.starts_with('$')) {
        return Err(invalid("CriteriaType  can not be parsed"));
    }
    Ok(Criterion::Exists {
        path: operand(path)?,
        negate,
    })
}

fn operand(t: &str) -> Result<Operand, PathError> {
    if t.starts_with('@') || t.starts_with('$') {
        return Ok(Operand::Path {
            root: t.starts_with('$'),
            path: JsonPath::compile(t)?,
        });
    }
    if t.len() >= 2 && t.starts_with('\'') && t.ends_with('\'') {
        return Ok(Operand::Text(t[1..t.len() - 1].to_string()));
    }
    if t.len() >= 2 && t.starts_with('/') && (t.ends_with('/') || t.ends_with("/i")) {
        let ci = t.ends_with("/i");
        let end = t.rfind('/').unwrap_or(t.len());
        let body = &t[1..end];
        let re = Regex::new(&format!("{}^(?:{body})$", if ci { "(?i)" } else { "" }))
            .map_err(|e| invalid(format!("bad regex: {e}")))?;
        return Ok(Operand::Pattern(re));
    }
    Ok(Operand::Text(t.to_string()))
}

fn not_found(what: &str) -> PathError {
    PathError::NotFound(what.to_string())
}

fn eval(node: &Value, root: &Value, steps: &[Step], out: &mut Vec<Value>) -> Result<(), PathError> {
    let Some((step, rest)) = steps.split_first() else {
        out.push(node.clone());
        return Ok(());
    };
    match step {
        Step::Keys(keys) if keys.len() == 1 => match super::java::key_of(node, &keys[0]) {
            Some(v) => eval(&v, root, rest, out),
            None => Err(not_found(&format!("No results for path: ['{}']", keys[0]))),
        },
        Step::Keys(keys) => {
            let Value::Map(m) = node else {
                return Err(not_found("Property not found: not an object"));
            };
            let picked: Vec<(String, Value)> = {
                let m = m.borrow();
                keys.iter()
                    .filter_map(|k| m.iter().find(|(mk, _)| mk == k).cloned())
                    .collect()
            };
            eval(&Value::map(picked), root, rest, out)
        }
        Step::Wildcard => match node {
            Value::Map(m) => {
                let vals: Vec<Value> = m.borrow().iter().map(|(_, v)| v.clone()).collect();
                for v in &vals {
                    eval(v, root, rest, out)?;
                }
                Ok(())
            }
            Value::List(l) => {
                let vals: Vec<Value> = l.borrow().clone();
                for v in &vals {
                    match eval(v, root, rest, out) {
                        Err(PathError::NotFound(_)) => {}
                        r => r?,
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        },
        Step::Indexes(ix) => {
            let Value::List(l) = node else {
                return Err(invalid("Filter: [n] can only be applied to arrays"));
            };
            for &i in ix {
                let item = usize::try_from(i)
                    .ok()
                    .and_then(|i| l.borrow().get(i).cloned())
                    .ok_or_else(|| not_found("Index out of bounds"))?;
                eval(&item, root, rest, out)?;
            }
            Ok(())
        }
        Step::Slice(from, to) => {
            let Value::List(l) = node else {
                return Err(invalid("Filter: [a:b] can only be applied to arrays"));
            };
            let items: Vec<Value> = l.borrow().clone();
            let len = items.len() as i64;
            let fix = |x: i64| if x < 0 { (len + x).max(0) } else { x.min(len) };
            let a = from.map_or(0, fix);
            let b = to.map_or(len, fix);
            for item in items.iter().take(b.max(0) as usize).skip(a as usize) {
                eval(item, root, rest, out)?;
            }
            Ok(())
        }
        Step::Filter(f) => match node {
            Value::List(l) => {
                let items: Vec<Value> = l.borrow().clone();
                for item in &items {
                    if f.accepts(item, root)? {
                        eval(item, root, rest, out)?;
                    }
                }
                Ok(())
            }
            Value::Map(_) => {
                if f.accepts(node, root)? {
                    eval(node, root, rest, out)?;
                }
                Ok(())
            }
            _ => Ok(()),
        },
        Step::Scan => scan(node, root, rest, out),
    }
}

/// `..`: applies `steps` (whose first step is what followed the dots) wherever it fits,
/// depth first, each node before its children.
fn scan(node: &Value, root: &Value, steps: &[Step], out: &mut Vec<Value>) -> Result<(), PathError> {
    let Some(first) = steps.first() else {
        return Ok(());
    };
    let fits = match (first, node) {
        (Step::Keys(keys), Value::Map(m)) => {
            let m = m.borrow();
            keys.iter().all(|k| m.iter().any(|(mk, _)| mk == k))
        }
        (Step::Wildcard, Value::Map(_) | Value::List(_)) => true,
        (Step::Indexes(_) | Step::Slice(..), Value::List(_)) => true,
        (Step::Filter(f), Value::Map(_)) => f.accepts(node, root)?,
        _ => false,
    };
    if fits {
        match eval(node, root, steps, out) {
            Err(PathError::NotFound(_)) => {}
            r => r?,
        }
    }
    let children: Vec<Value> = match node {
        Value::Map(m) => m.borrow().iter().map(|(_, v)| v.clone()).collect(),
        Value::List(l) => l.borrow().clone(),
        _ => Vec::new(),
    };
    for c in &children {
        if matches!(c, Value::Map(_) | Value::List(_)) {
            scan(c, root, steps, out)?;
        }
    }
    Ok(())
}

impl Filter {
    fn accepts(&self, item: &Value, root: &Value) -> Result<bool, PathError> {
        for all in &self.any {
            let mut ok = true;
            for c in all {
                if !c.accepts(item, root)? {
                    ok = false;
                    break;
                }
            }
            if ok {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// An operand's value: Ok(None) when its path finds nothing.
enum Resolved {
    Value(Value),
    Pattern(Regex),
}

fn resolve(o: &Operand, item: &Value, root: &Value) -> Result<Option<Resolved>, PathError> {
    match o {
        Operand::Path {
            root: is_root,
            path,
        } => match path.read(if *is_root { root } else { item }) {
            Ok(v) => Ok(Some(Resolved::Value(v))),
            Err(PathError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        },
        Operand::Text(t) => Ok(Some(Resolved::Value(Value::str(t)))),
        Operand::Pattern(re) => Ok(Some(Resolved::Pattern(re.clone()))),
    }
}

impl Criterion {
    fn accepts(&self, item: &Value, root: &Value) -> Result<bool, PathError> {
        match self {
            Criterion::Exists { path, negate } => {
                let found = resolve(path, item, root)?.is_some();
                Ok(found != *negate)
            }
            Criterion::Compare { left, op, right } => {
                let (Some(model), Some(expected)) =
                    (resolve(left, item, root)?, resolve(right, item, root)?)
                else {
                    return Ok(false);
                };
                let model = match model {
                    Resolved::Value(v) => v,
                    Resolved::Pattern(_) => return Ok(false),
                };
                match (op, expected) {
                    (Op::Regex, Resolved::Pattern(re)) => Ok(match &model {
                        Value::Null => false,
                        v => re.is_match(&super::json::java_string(v)),
                    }),
                    (Op::Regex, Resolved::Value(_)) => Ok(false),
                    (_, Resolved::Pattern(_)) => Ok(false),
                    (op, Resolved::Value(expected)) => {
                        if matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge)
                            && (expected.is_null() != model.is_null())
                        {
                            return Ok(false);
                        }
                        // Jayway compares (expected, model).
                        let Some(ord) = safe_compare(&expected, &model)? else {
                            return Ok(false);
                        };
                        Ok(match op {
                            Op::Eq => ord == Ordering::Equal,
                            Op::Ne => ord != Ordering::Equal,
                            Op::Lt => ord == Ordering::Greater,
                            Op::Le => ord != Ordering::Less,
                            Op::Gt => ord == Ordering::Less,
                            Op::Ge => ord != Ordering::Greater,
                            Op::Regex => false,
                        })
                    }
                }
            }
        }
    }
}

fn nullish(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Str(s) => &**s == "null",
        _ => false,
    }
}

/// Jayway 2.0.0's `safeCompare(expected, model)`. `Ok(None)`: not comparable (the criterion
/// is false); `Err`: Java threw `NumberFormatException`, which fails the whole read.
fn safe_compare(left: &Value, right: &Value) -> Result<Option<Ordering>, PathError> {
    let same = match (left, right) {
        (Value::List(a), Value::List(b)) => Rc::ptr_eq(a, b),
        (Value::Map(a), Value::Map(b)) => Rc::ptr_eq(a, b),
        _ => false,
    };
    if same {
        return Ok(Some(Ordering::Equal));
    }
    match (nullish(left), nullish(right)) {
        (true, true) => return Ok(Some(Ordering::Equal)),
        (true, false) => return Ok(Some(Ordering::Less)),
        (false, true) => return Ok(Some(Ordering::Greater)),
        _ => {}
    }
    Ok(match (left, right) {
        (Value::Str(a), Value::Str(b)) => {
            let a = a.replace("\\'", "'");
            Some(a.encode_utf16().cmp(b.encode_utf16()))
        }
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
            number_cmp(left, right)
        }
        (Value::Str(a), Value::Int(_) | Value::Float(_)) => {
            let parsed = java_big_decimal(a).ok_or_else(|| {
                invalid(format!(
                    "NumberFormatException: {a} is not a decimal number"
                ))
            })?;
            number_cmp(&parsed, right)
        }
        (Value::Str(a), Value::Bool(b)) => Some(a.eq_ignore_ascii_case("true").cmp(b)),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        _ => None,
    })
}

fn number_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Int(x), Value::Float(y)) => (*x as f64).partial_cmp(y),
        (Value::Float(x), Value::Int(y)) => x.partial_cmp(&(*y as f64)),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y),
        _ => None,
    }
}

/// What `new BigDecimal(text)` accepts, as a number.
fn java_big_decimal(text: &str) -> Option<Value> {
    let t = text.strip_prefix('+').unwrap_or(text);
    let digits = t.strip_prefix('-').unwrap_or(t);
    let ok = !digits.is_empty()
        && digits
            .bytes()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == b'.')
        && digits
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'));
    if !ok {
        return None;
    }
    if let Ok(i) = t.parse::<i64>() {
        return Some(Value::Int(i));
    }
    t.parse::<f64>().ok().map(Value::Float)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vtl::json;

    const STORE: &str = r#"{"store":{"book":[
        {"category":"reference","author":"Nigel Rees","title":"Sayings of the Century","price":8.95},
        {"category":"fiction","author":"Evelyn Waugh","title":"Sword of Honour","price":12.99},
        {"category":"fiction","author":"Herman Melville","title":"Moby Dick","isbn":"0-553-21311-3","price":8.99},
        {"category":"fiction","author":"J. R. R. Tolkien","title":"The Lord of the Rings","isbn":"0-395-19395-8","price":22.99}],
        "bicycle":{"color":"red","price":19.95}},"expensive":10,"a-b":1,"a b":2,"n":[0,1,2,3,4,5],"x":{"y":null}}"#;

    fn q(path: &str) -> String {
        let doc = json::parse(STORE).unwrap();
        match read(path, &doc) {
            Ok(v) => json::to_string(&v),
            Err(PathError::NotFound(_)) => "NOTFOUND".into(),
            Err(PathError::Invalid(_)) => "INVALID".into(),
        }
    }

    #[test]
    fn definite_paths_return_the_value() {
        assert_eq!(q("$.store.bicycle.color"), r#""red""#);
        assert_eq!(q("store.bicycle.color"), r#""red""#);
        assert_eq!(
            q("$['store']['bicycle']"),
            r#"{"color":"red","price":19.95}"#
        );
        assert_eq!(q("$.a-b"), "1");
        assert_eq!(q("$.n[ 1 ]"), "1");
        assert_eq!(q("$.x.y"), "null");
        assert_eq!(q("$"), json::to_string(&json::parse(STORE).unwrap()));
        assert_eq!(
            q("$.store.book[0]['title','price']"),
            r#"{"title":"Sayings of the Century","price":8.95}"#
        );
        assert_eq!(q("$['a-b','a b']"), r#"{"a-b":1,"a b":2}"#);
    }

    #[test]
    fn missing_and_out_of_range_are_errors() {
        for p in [
            "$.nope",
            "$.n[9]",
            "$.n[-1]",
            "$.x.y.z",
            "$.store.book.title",
            "$.n[0,9]",
        ] {
            assert_eq!(q(p), "NOTFOUND", "{p}");
        }
        for p in [
            "$.",
            "$..",
            "$[\"store\"]",
            "$.store.book[0][title,price]",
            "$.n[::2]",
        ] {
            assert_eq!(q(p), "INVALID", "{p}");
        }
    }

    #[test]
    fn indefinite_paths_return_lists() {
        assert_eq!(q("$.n[-2:]"), "[4,5]");
        assert_eq!(q("$.n[:2]"), "[0,1]");
        assert_eq!(q("$.n[1:3]"), "[1,2]");
        assert_eq!(q("$.n[-7:]"), "[0,1,2,3,4,5]");
        assert_eq!(q("$.n[4:10]"), "[4,5]");
        assert_eq!(q("$.n[0,2]"), "[0,2]");
        assert_eq!(q("$..price"), "[8.95,12.99,8.99,22.99,19.95]");
        assert_eq!(q("$.store..price"), "[8.95,12.99,8.99,22.99,19.95]");
        assert_eq!(
            q("$.store.book[*].isbn"),
            r#"["0-553-21311-3","0-395-19395-8"]"#
        );
        assert_eq!(q("$..book[0].title"), r#"["Sayings of the Century"]"#);
        assert_eq!(q("$.x[*]"), "[null]");
    }

    #[test]
    fn filters_follow_jayway_2_0() {
        assert_eq!(
            q("$.store.book[?(@.price < 10)].title"),
            r#"["Sayings of the Century","Moby Dick"]"#
        );
        assert_eq!(
            q("$.store.book[?(@.isbn)].title"),
            r#"["Moby Dick","The Lord of the Rings"]"#
        );
        assert_eq!(
            q("$.store.book[?(!@.isbn)].title"),
            r#"["Sayings of the Century","Sword of Honour"]"#
        );
        assert_eq!(
            q("$.store.book[?(@.author =~ /.*rees/i)].title"),
            r#"["Sayings of the Century"]"#
        );
        assert_eq!(
            q("$.store.book[?(@.price > 10 && @.category == 'fiction')].title"),
            r#"["Sword of Honour","The Lord of the Rings"]"#
        );
        assert_eq!(q(r#"$.store.book[?(@.category == "fiction")].title"#), "[]");
        assert_eq!(
            q("$.store.book[?(@.price >= $.expensive)].title"),
            r#"["Sword of Honour","The Lord of the Rings"]"#
        );
        assert_eq!(q("$.store.bicycle[?(@.color)].price"), "[19.95]");
        assert_eq!(q("$..[?(@.color)].price"), "[19.95]");
        assert_eq!(q(r#"$.store.book[?(@.price > "5")].title"#), "INVALID");
        assert_eq!(
            q("$.store.book[?(@.category > 1)].price"),
            "[8.95,12.99,8.99,22.99]"
        );
    }
}
