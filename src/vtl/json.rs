//! JSON as API Gateway's template engine sees it: Jayway JsonPath over json-smart.
//!
//! [`parse`] follows json-smart's permissive mode, which AWS bodies go through before
//! `$input.path`/`$input.json`: objects keep key order (a later duplicate key replaces the
//! value in place), trailing and doubled commas are skipped, strings may use single quotes,
//! keys and values may be unquoted words, text after the first value is ignored, and a body
//! that is not JSON at all is read as one unquoted string. Integral numbers become
//! [`Value::Int`] (Java `Integer`/`Long`; integers beyond 64 bits fall back to `Float`),
//! other numbers [`Value::Float`] (Java `Double`).
//!
//! [`write`] serialises as json-smart's `JSONValue.toJSONString` does, which is also how a
//! JSON array prints itself in a template: compact, `/` escaped as `\/`, control characters,
//! U+007F–U+009F and U+2000–U+20FF as `\uXXXX`, doubles in Java `Double.toString` form.

use super::value::Value;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;

/// The body is not even permissive JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    pub offset: usize,
    pub message: &'static str,
}

/// How deeply arrays and objects may nest. A deeper body is not JSON to the gateway (it would
/// otherwise exhaust the worker's stack: request bodies are untrusted).
pub const MAX_DEPTH: usize = 512;

/// Objects with more keys than this find duplicates through a hash index instead of a scan.
const INDEXED_OBJECT: usize = 16;

/// Parses `text` the way json-smart's permissive parser does (see the module docs).
pub fn parse(text: &str) -> Result<Value, JsonError> {
    let mut p = Parser {
        s: text.as_bytes(),
        src: text,
        i: 0,
        depth: 0,
    };
    p.ws();
    if p.i >= p.s.len() {
        return Ok(Value::str(""));
    }
    p.value(Stop::Top)
}

/// A JSON array as a template value (Java: json-smart's `JSONArray`).
pub fn array(items: Vec<Value>) -> Value {
    Value::json_list(items)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stop {
    Top,
    Object,
    Array,
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
    /// Arrays and objects open around the current position.
    depth: usize,
}

impl<'a> Parser<'a> {
    fn err(&self, message: &'static str) -> JsonError {
        JsonError {
            offset: self.i,
            message,
        }
    }

    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn value(&mut self, stop: Stop) -> Result<Value, JsonError> {
        self.ws();
        match self.peek() {
            Some(b'{' | b'[') if self.depth >= MAX_DEPTH => Err(self.err("JSON nested too deeply")),
            Some(b'{') => {
                self.depth += 1;
                let v = self.object();
                self.depth -= 1;
                v
            }
            Some(b'[') => {
                self.depth += 1;
                let v = self.array();
                self.depth -= 1;
                v
            }
            Some(q @ (b'"' | b'\'')) => Ok(Value::str(&self.quoted(q)?)),
            Some(_) => Ok(self.word(stop)),
            None => Err(self.err("unexpected end of JSON")),
        }
    }

    fn object(&mut self) -> Result<Value, JsonError> {
        self.i += 1;
        let mut entries: Vec<(String, Value)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        loop {
            self.ws();
            match self.peek() {
                None => return Err(self.err("unterminated object")),
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Value::map(entries));
                }
                Some(b',') => {
                    self.i += 1;
                    continue;
                }
                _ => {}
            }
            let key = match self.peek() {
                Some(q @ (b'"' | b'\'')) => self.quoted(q)?.into_owned(),
                _ => {
                    let start = self.i;
                    while self.i < self.s.len() && !matches!(self.s[self.i], b':' | b'}' | b',') {
                        self.i += 1;
                    }
                    self.src[start..self.i].trim().to_string()
                }
            };
            self.ws();
            if self.peek() != Some(b':') {
                return Err(self.err("expected ':'"));
            }
            self.i += 1;
            let v = self.value(Stop::Object)?;
            let existing = if entries.len() < INDEXED_OBJECT {
                entries.iter().position(|(k, _)| *k == key)
            } else {
                if index.is_empty() {
                    index.extend(entries.iter().enumerate().map(|(i, (k, _))| (k.clone(), i)));
                }
                index.get(&key).copied()
            };
            match existing {
                Some(i) => entries[i].1 = v,
                None => {
                    if !index.is_empty() {
                        index.insert(key.clone(), entries.len());
                    }
                    entries.push((key, v));
                }
            }
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {}
                None => return Err(self.err("unterminated object")),
                _ => return Err(self.err("unexpected token in object")),
            }
        }
    }

    fn array(&mut self) -> Result<Value, JsonError> {
        self.i += 1;
        let mut items = Vec::new();
        loop {
            self.ws();
            match self.peek() {
                None => return Err(self.err("unterminated array")),
                Some(b']') => {
                    self.i += 1;
                    return Ok(array(items));
                }
                Some(b',') => {
                    self.i += 1;
                    continue;
                }
                _ => {}
            }
            items.push(self.value(Stop::Array)?);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {}
                None => return Err(self.err("unterminated array")),
                _ => return Err(self.err("unexpected token in array")),
            }
        }
    }

    fn quoted(&mut self, q: u8) -> Result<Cow<'a, str>, JsonError> {
        self.i += 1;
        let start = self.i;
        while self.i < self.s.len() && self.s[self.i] != q && self.s[self.i] != b'\\' {
            self.i += 1;
        }
        if self.s.get(self.i) == Some(&q) {
            self.i += 1;
            return Ok(Cow::Borrowed(&self.src[start..self.i - 1]));
        }
        let mut out = String::new();
        let mut run = start;
        while self.i < self.s.len() {
            let c = self.s[self.i];
            if c == q {
                out.push_str(&self.src[run..self.i]);
                self.i += 1;
                return Ok(Cow::Owned(out));
            }
            if c != b'\\' {
                self.i += 1;
                continue;
            }
            out.push_str(&self.src[run..self.i]);
            let e = *self
                .s
                .get(self.i + 1)
                .ok_or_else(|| self.err("bad escape"))?;
            self.i += 2;
            match e {
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'u' => {
                    let hi = self.hex4()?;
                    let ch = if (0xD800..0xDC00).contains(&hi)
                        && self.s.get(self.i) == Some(&b'\\')
                        && self.s.get(self.i + 1) == Some(&b'u')
                    {
                        self.i += 2;
                        let lo = self.hex4()?;
                        char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00)))
                    } else {
                        char::from_u32(hi)
                    };
                    out.push(ch.unwrap_or('\u{FFFD}'));
                }
                _ => {
                    // `\"`, `\\`, `\/`, `\'` and anything else: the character itself.
                    let ch = self.src[self.i - 1..].chars().next().unwrap_or('\u{FFFD}');
                    out.push(ch);
                    self.i += ch.len_utf8() - 1;
                }
            }
            run = self.i;
        }
        Err(self.err("unterminated string"))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let h = self
            .src
            .get(self.i..self.i + 4)
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| self.err("bad \\u escape"))?;
        self.i += 4;
        Ok(h)
    }

    /// An unquoted token: a number, `true`/`false`/`null`/`NaN`, or else a string.
    fn word(&mut self, stop: Stop) -> Value {
        let start = self.i;
        while self.i < self.s.len() {
            let c = self.s[self.i];
            let end = match stop {
                Stop::Top => false,
                Stop::Object => c == b',' || c == b'}',
                Stop::Array => c == b',' || c == b']',
            };
            if end {
                break;
            }
            self.i += 1;
        }
        let raw = &self.src[start..self.i];
        let word = raw.trim_end();
        if stop == Stop::Top {
            // At top level json-smart stops a number or literal at the first blank.
            let first = word.split([' ', '\t', '\n', '\r']).next().unwrap_or("");
            if let Some(v) = scalar(first) {
                return v;
            }
        }
        scalar(word).unwrap_or_else(|| Value::str(word))
    }
}

/// An unquoted JSON scalar as json-smart reads it, or None if it is a plain word.
fn scalar(word: &str) -> Option<Value> {
    match word {
        "true" => return Some(Value::Bool(true)),
        "false" => return Some(Value::Bool(false)),
        "null" => return Some(Value::Null),
        "NaN" => return Some(Value::Float(f64::NAN)),
        _ => {}
    }
    let b = word.as_bytes();
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    if digits.is_empty() || !digits[0].is_ascii_digit() {
        return None;
    }
    if digits.iter().all(u8::is_ascii_digit) {
        return Some(match word.parse::<i64>() {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Float(word.parse().ok()?),
        });
    }
    let ok = digits
        .iter()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'));
    if !ok {
        return None;
    }
    word.parse::<f64>()
        .ok()
        .or_else(|| {
            // Java accepts "1." and exponents Rust rejects only in odd spellings.
            word.strip_suffix('.').and_then(|w| w.parse().ok())
        })
        .map(Value::Float)
}

/// Appends `v` as JSON, as json-smart's `JSONValue.toJSONString` writes it.
pub fn write(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => {
            if f.is_infinite() {
                out.push_str("null");
            } else {
                java_double(*f, out);
            }
        }
        Value::Str(s) => write_string(s, out),
        Value::List(l) => {
            out.push('[');
            for (n, item) in l.borrow().iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            for (n, (k, item)) in m.borrow().iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write(item, out);
            }
            out.push('}');
        }
        Value::Object(o) => write_string(&o.display(), out),
    }
}

/// `v` as JSON text.
pub fn to_string(v: &Value) -> String {
    let mut s = String::new();
    write(v, &mut s);
    s
}

/// A JSON string literal with json-smart's escaping.
pub fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{2000}'..='\u{20ff}' => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            _ => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `f` as Java's `Double.toString` prints it: `1.0`, `0.001`, `1.0E7`, `1.0E-4`,
/// `NaN`, `Infinity`; the shortest digits that read back as `f`.
pub fn java_double(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str("NaN");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    if f == 0.0 {
        out.push_str(if f.is_sign_negative() { "-0.0" } else { "0.0" });
        return;
    }
    // `{:e}` gives the shortest round-trip digits: "d.ddde±x".
    let sci = format!("{:e}", f.abs());
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    if f < 0.0 {
        out.push('-');
    }
    let abs = f.abs();
    if (1e-3..1e7).contains(&abs) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', int_len - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
            out.push_str(&digits);
        }
    } else {
        out.push_str(&digits[..1]);
        out.push('.');
        if digits.len() > 1 {
            out.push_str(&digits[1..]);
        } else {
            out.push('0');
        }
        let _ = write!(out, "E{exp}");
    }
}

/// `f` formatted by [`java_double`].
pub fn java_double_string(f: f64) -> String {
    let mut s = String::new();
    java_double(f, &mut s);
    s
}

/// Java `toString()`: a map prints as `{k=v, k2=v2}` (Java `LinkedHashMap`), a JSON array
/// as JSON (json-smart `JSONArray`), another list as `[a, b]`, a double as
/// [`java_double`], null as `null`.
pub fn java_string(v: &Value) -> String {
    let mut s = String::new();
    write_java(v, &mut s);
    s
}

fn write_java(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => java_double(*f, out),
        Value::Str(s) => out.push_str(s),
        Value::List(l) if l.json => write(v, out),
        Value::List(l) => {
            out.push('[');
            for (n, item) in l.borrow().iter().enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                write_java(item, out);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            for (n, (k, item)) in m.borrow().iter().enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                write_java(item, out);
            }
            out.push('}');
        }
        Value::Object(o) => out.push_str(&o.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(text: &str) -> String {
        to_string(&parse(text).unwrap())
    }

    #[test]
    fn standard_json_round_trips_compactly_in_order() {
        assert_eq!(
            round(r#"{"b": 1, "a": [true, false, null, "x"], "c": {"d": -2}}"#),
            r#"{"b":1,"a":[true,false,null,"x"],"c":{"d":-2}}"#
        );
        assert_eq!(round("[]"), "[]");
        assert_eq!(round("{}"), "{}");
    }

    #[test]
    fn nesting_is_bounded() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(parse(&deep).unwrap_err().message, "JSON nested too deeply");
        // An attacker's body: far deeper than any stack, objects and arrays mixed.
        assert!(parse(&"[{\"a\":".repeat(50_000)).is_err());
    }

    #[test]
    fn duplicate_keys_replace_in_place_in_wide_objects() {
        let mut text = String::from("{");
        for i in 0..100 {
            text.push_str(&format!("\"k{i}\": {i},"));
        }
        text.push_str("\"k3\": \"again\", \"k60\": \"again\", \"last\": 1}");
        let Value::Map(m) = parse(&text).unwrap() else {
            panic!("not an object")
        };
        let m = m.borrow();
        assert_eq!(m.len(), 101);
        assert_eq!(m[3].0, "k3");
        assert_eq!(to_string(&m[3].1), "\"again\"");
        assert_eq!(to_string(&m[60].1), "\"again\"");
        assert_eq!(m[100].0, "last");
    }

    #[test]
    fn numbers_are_ints_or_java_doubles() {
        assert!(matches!(parse("12").unwrap(), Value::Int(12)));
        assert!(matches!(parse("-0").unwrap(), Value::Int(0)));
        assert!(matches!(
            parse("2147483648").unwrap(),
            Value::Int(2147483648)
        ));
        assert_eq!(
            round(r#"[1.0, 1e3, 1.5, 0.1, 1E-7, 1e20, 123456789012.5, 0.001, 1234567.0, 12345678.9, -0.0015]"#),
            "[1.0,1000.0,1.5,0.1,1.0E-7,1.0E20,1.234567890125E11,0.001,1234567.0,1.23456789E7,-0.0015]"
        );
        assert_eq!(java_double_string(1e7), "1.0E7");
        assert_eq!(java_double_string(9999999.0), "9999999.0");
        assert_eq!(java_double_string(0.00099), "9.9E-4");
        assert_eq!(java_double_string(-0.0), "-0.0");
        assert_eq!(java_double_string(f64::NAN), "NaN");
        assert_eq!(java_double_string(f64::INFINITY), "Infinity");
    }

    #[test]
    fn strings_escape_like_json_smart() {
        assert_eq!(
            round(r#"["x/y\"\\\b\f\n\r\t\u0001\u007f\u0080é\u2028€😀<>&'"]"#),
            "[\"x\\/y\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u007F\\u0080é\\u2028\\u20AC😀<>&'\"]"
        );
        assert_eq!(round(r#""\ud83d\ude00""#), "\"😀\"");
    }

    #[test]
    fn permissive_forms() {
        assert_eq!(round(r#"{"a":1,}"#), r#"{"a":1}"#);
        assert_eq!(round("{'a':'b'}"), r#"{"a":"b"}"#);
        assert_eq!(round("{a:b c}"), r#"{"a":"b c"}"#);
        assert_eq!(round("[1,2,]"), "[1,2]");
        assert_eq!(round("[,1]"), "[1]");
        assert_eq!(round(r#"{"a":"b",,"c":1}"#), r#"{"a":"b","c":1}"#);
        assert_eq!(round(r#"{"a":1} trailing"#), r#"{"a":1}"#);
        assert_eq!(round(r#"{"a":1,"a":2,"b":3}"#), r#"{"a":2,"b":3}"#);
        assert_eq!(round("some raw data"), r#""some raw data""#);
        assert_eq!(round(""), r#""""#);
        assert_eq!(round("123"), "123");
        assert_eq!(
            round(r#"{"a":.5,"b":+1,"c":1.,"d":01}"#),
            r#"{"a":".5","b":"+1","c":1.0,"d":1}"#
        );
        assert!(parse(r#"{"k": "v" "x"}"#).is_err());
        assert!(parse("{\"a\":1").is_err());
    }
}
