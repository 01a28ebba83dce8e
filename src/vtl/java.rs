//! Java semantics of the values templates see: `toString()`, `equals()`, number
//! formatting and arithmetic (Velocity's `MathUtils`), and the methods and properties of
//! `String`, `List`, `Map`, `Integer`/`Long`, `Double` and `Boolean` that templates call.
//!
//! Integers are `Integer` when they fit 32 bits and `Long` otherwise.

use super::jregex;
use super::value::{HostObject, Value};
use std::cell::RefCell;
use std::cmp::Ordering;
use std::fmt::Write;
use std::rc::Rc;

/// A Java exception thrown by a method (the render fails).
pub(crate) type Thrown = String;

/// `None`: no such method/property (Velocity then yields null); `Some(Err)`: it threw.
pub(crate) type CallResult = Option<Result<Value, Thrown>>;

fn is_int32(i: i64) -> bool {
    i32::try_from(i).is_ok()
}

/// Powers of ten that are exact doubles.
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// Appends Java `Double.toString`.
fn write_double(x: f64, out: &mut String) {
    if (1e-3..1e7).contains(&x.abs()) {
        if !write_short_decimal(x, out) {
            // Shortest round-trip digits without exponent, as Java prints this range.
            let start = out.len();
            let _ = write!(out, "{x}");
            if !out[start..].contains('.') {
                out.push_str(".0");
            }
        }
    } else if x.is_nan() {
        out.push_str("NaN");
    } else if x.is_infinite() {
        out.push_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
    } else if x == 0.0 {
        out.push_str(if x.is_sign_negative() { "-0.0" } else { "0.0" });
    } else {
        // Shortest round-trip digits in Java's scientific layout.
        let sci = format!("{:e}", x.abs());
        let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
        let digits: String = mant.chars().filter(|c| *c != '.').collect();
        let frac = if digits.len() > 1 { &digits[1..] } else { "0" };
        let sign = if x < 0.0 { "-" } else { "" };
        let _ = write!(out, "{sign}{}.{frac}E{exp}", &digits[..1]);
    }
}

/// Appends `x` as the decimal `m / 10^k` with the smallest `k` that parses back to `x`,
/// when `m` stays below 2^50: the rounding interval of `x` is then narrower than a
/// quarter of `10^-k`, so `m` is the unique shortest round-trip digit string. `false`
/// (nothing written) for other values.
fn write_short_decimal(x: f64, out: &mut String) -> bool {
    let a = x.abs();
    for (k, &p) in POW10.iter().enumerate() {
        let scaled = a * p;
        if scaled >= (1i64 << 50) as f64 {
            return false;
        }
        let m = (scaled + 0.5) as i64;
        if m as f64 / p == a {
            if x < 0.0 {
                out.push('-');
            }
            push_digits(m.unsigned_abs(), k, out);
            if k == 0 {
                out.push_str(".0");
            }
            return true;
        }
    }
    false
}

/// Appends the decimal digits of `n` with a point before the last `frac` of them.
fn push_digits(mut n: u64, frac: usize, out: &mut String) {
    let mut buf = [0u8; 24];
    let mut at = buf.len();
    let mut i = 0;
    loop {
        if i == frac && frac > 0 {
            at -= 1;
            buf[at] = b'.';
        }
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        i += 1;
        if n == 0 && i > frac {
            break;
        }
    }
    out.extend(buf[at..].iter().map(|&b| char::from(b)));
}

/// Appends the decimal digits of `i`.
fn write_int(i: i64, out: &mut String) {
    if i < 0 {
        out.push('-');
    }
    push_digits(i.unsigned_abs(), 0, out);
}

/// Appends Java `toString()` of `v` (collections as `[a, b]` / `{k=v}`).
pub(crate) fn write_string(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => write_int(*i, out),
        Value::Float(f) => write_double(*f, out),
        Value::Str(s) => out.push_str(s),
        Value::List(l) if l.json => super::json::write(v, out),
        Value::List(l) => {
            let Ok(items) = l.try_borrow() else {
                out.push_str("(this Collection)");
                return;
            };
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                match x {
                    Value::List(inner) if Rc::ptr_eq(inner, l) => out.push_str("(this Collection)"),
                    _ => write_string(x, out),
                }
            }
            out.push(']');
        }
        Value::Map(m) => {
            let Ok(entries) = m.try_borrow() else {
                out.push_str("(this Map)");
                return;
            };
            out.push('{');
            for (i, (k, x)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                match x {
                    Value::Map(inner) if Rc::ptr_eq(inner, m) => out.push_str("(this Map)"),
                    _ => write_string(x, out),
                }
            }
            out.push('}');
        }
        Value::Object(o) => out.push_str(&o.display()),
    }
}

pub(crate) fn to_string(v: &Value) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        _ => {
            let mut s = String::new();
            write_string(v, &mut s);
            s
        }
    }
}

/// Java `a.equals(b)` for the modelled classes.
pub(crate) fn equals(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y && is_int32(*x) == is_int32(*y),
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits() || (x == y && *x != 0.0),
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            Rc::ptr_eq(x, y) || {
                let (x, y) = (x.borrow(), y.borrow());
                x.len() == y.len() && x.iter().zip(y.iter()).all(|(a, b)| equals(a, b))
            }
        }
        (Value::Map(x), Value::Map(y)) => {
            Rc::ptr_eq(x, y) || {
                let (x, y) = (x.borrow(), y.borrow());
                x.len() == y.len()
                    && x.iter().all(|(k, v)| {
                        y.iter()
                            .find(|(k2, _)| k2 == k)
                            .is_some_and(|(_, v2)| equals(v, v2))
                    })
            }
        }
        (Value::Object(x), Value::Object(y)) => Rc::ptr_eq(x, y),
        _ => false,
    }
}

fn same_class(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// Velocity's `==`: numbers numerically, same classes by `equals`, others by `toString()`.
pub(crate) fn vel_equals(a: &Value, b: &Value) -> bool {
    if let Some(o) = compare_numbers(a, b) {
        return o == Ordering::Equal;
    }
    match (a, b) {
        (Value::Null, Value::Null) => true,
        // API Gateway (recorded) finds null equal to "", where stock Velocity 1.7 does not.
        (Value::Null, Value::Str(s)) | (Value::Str(s), Value::Null) => s.is_empty(),
        (Value::Null, _) | (_, Value::Null) => false,
        _ if same_class(a, b) => equals(a, b),
        _ => to_string(a) == to_string(b),
    }
}

/// `MathUtils.compare`, or `None` unless both are numbers.
pub(crate) fn compare_numbers(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
            let (x, y) = (as_f64(a)?, as_f64(b)?);
            Some(if x < y {
                Ordering::Less
            } else if x > y {
                Ordering::Greater
            } else {
                Ordering::Equal
            })
        }
        _ => None,
    }
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

#[derive(Clone, Copy)]
pub(crate) enum MathOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

/// `MathUtils` arithmetic; `None` for division by zero or non-numbers. Integer results
/// that overflow 64 bits become doubles (Velocity would use `BigInteger`).
pub(crate) fn math(op: MathOp, a: &Value, b: &Value) -> Option<Value> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => {
            let (x, y) = (*x, *y);
            let r = match op {
                MathOp::Add => x.checked_add(y),
                MathOp::Sub => x.checked_sub(y),
                MathOp::Mul => x.checked_mul(y),
                MathOp::Div | MathOp::Mod if y == 0 => return None,
                MathOp::Div => Some(x.wrapping_div(y)),
                MathOp::Mod => Some(x.wrapping_rem(y)),
            };
            Some(match r {
                Some(r) => Value::Int(r),
                None => math(op, &Value::Float(x as f64), &Value::Float(y as f64))?,
            })
        }
        _ => {
            let (x, y) = (as_f64(a)?, as_f64(b)?);
            Some(Value::Float(match op {
                MathOp::Add => x + y,
                MathOp::Sub => x - y,
                MathOp::Mul => x * y,
                MathOp::Div | MathOp::Mod if y == 0.0 => return None,
                MathOp::Div => x / y,
                MathOp::Mod => x % y,
            }))
        }
    }
}

/// Java `String.hashCode()`.
fn string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// UTF-16 view of a string, for Java's index-based methods.
fn utf16(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

fn index_of(hay: &[u16], needle: &[u16], from: i64) -> i64 {
    let from = from.max(0) as usize;
    if needle.is_empty() {
        return from.min(hay.len()) as i64;
    }
    if needle.len() > hay.len() {
        return -1;
    }
    (from..=hay.len() - needle.len())
        .find(|&i| hay[i..i + needle.len()] == *needle)
        .map_or(-1, |i| i as i64)
}

fn last_index_of(hay: &[u16], needle: &[u16], from: i64) -> i64 {
    if from < 0 || needle.len() > hay.len() {
        return -1;
    }
    let max = (hay.len() - needle.len()).min(from as usize);
    (0..=max)
        .rev()
        .find(|&i| hay[i..i + needle.len()] == *needle)
        .map_or(-1, |i| i as i64)
}

/// Argument kinds of the Java methods modelled here.
fn int_arg(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) if is_int32(*i) => Some(*i),
        _ => None,
    }
}

fn str_arg(v: &Value) -> Option<Option<&str>> {
    match v {
        Value::Str(s) => Some(Some(s)),
        Value::Null => Some(None),
        _ => None,
    }
}

fn npe() -> Thrown {
    "java.lang.NullPointerException".into()
}

fn oob(what: &str) -> Thrown {
    format!("java.lang.{what}IndexOutOfBoundsException")
}

fn ok(v: Value) -> CallResult {
    Some(Ok(v))
}

/// Calls `name(args)` on `target`.
pub(crate) fn call(target: &Value, name: &str, args: &[Value]) -> CallResult {
    let r = match target {
        Value::Str(s) => string_method(s, name, args),
        Value::List(l) => list_method(l, name, args),
        Value::Map(m) => map_method(m, name, args),
        Value::Int(i) => int_method(*i, name, args),
        Value::Float(f) => float_method(*f, name, args),
        Value::Bool(b) => match (name, args) {
            ("booleanValue", []) => ok(Value::Bool(*b)),
            ("hashCode", []) => ok(Value::Int(if *b { 1231 } else { 1237 })),
            _ => None,
        },
        Value::Object(o) => o.call(name, args).map(Ok),
        Value::Null => None,
    };
    r.or_else(|| object_method(target, name, args))
}

/// Methods every Java object has.
fn object_method(target: &Value, name: &str, args: &[Value]) -> CallResult {
    match (name, args) {
        ("toString", []) => ok(Value::str(&to_string(target))),
        ("equals", [x]) => ok(Value::Bool(equals(target, x))),
        _ => None,
    }
}

/// Appends the result of `s.name(args)` for the `String` methods that return a new
/// string; `None` (nothing appended) for other methods.
pub(crate) fn append_string_method(
    s: &str,
    name: &str,
    args: &[Value],
    out: &mut String,
) -> Option<Result<(), Thrown>> {
    let utf16_range = |a: i64, b: i64, out: &mut String| {
        if s.is_ascii() {
            out.push_str(&s[a as usize..b as usize]);
        } else {
            let u = utf16(s);
            out.push_str(&String::from_utf16_lossy(&u[a as usize..b as usize]));
        }
    };
    let len16 = || {
        if s.is_ascii() {
            s.len()
        } else {
            s.encode_utf16().count()
        }
    };
    match (name, args) {
        ("toLowerCase", []) if s.is_ascii() => {
            let start = out.len();
            out.push_str(s);
            out[start..].make_ascii_lowercase();
        }
        ("toUpperCase", []) if s.is_ascii() => {
            let start = out.len();
            out.push_str(s);
            out[start..].make_ascii_uppercase();
        }
        ("toLowerCase", []) => out.push_str(&s.to_lowercase()),
        ("toUpperCase", []) => out.push_str(&s.to_uppercase()),
        ("trim", []) => out.push_str(s.trim_matches(|c: char| c <= ' ')),
        ("charAt", [i]) => {
            let i = int_arg(i)?;
            let u = utf16(s);
            match usize::try_from(i).ok().and_then(|i| u.get(i)) {
                Some(&c) => out.push_str(&String::from_utf16_lossy(&[c])),
                None => return Some(Err(oob("StringIndexOutOf"))),
            }
        }
        ("substring", [a]) => {
            let a = int_arg(a)?;
            let n = len16() as i64;
            if a < 0 || a > n {
                return Some(Err(oob("StringIndexOutOf")));
            }
            utf16_range(a, n, out);
        }
        ("substring" | "subSequence", [a, b]) => {
            let (a, b) = (int_arg(a)?, int_arg(b)?);
            if a < 0 || b < a || b > len16() as i64 {
                return Some(Err(oob("StringIndexOutOf")));
            }
            utf16_range(a, b, out);
        }
        ("concat", [x]) => match str_arg(x)? {
            Some(x) => {
                out.push_str(s);
                out.push_str(x);
            }
            None => return Some(Err(npe())),
        },
        ("replace", [a, b]) => match (str_arg(a)?, str_arg(b)?) {
            (Some(a), Some(b)) => out.push_str(&java_replace(s, a, b)),
            _ => return Some(Err(npe())),
        },
        ("replaceAll" | "replaceFirst", [a, b]) => match (str_arg(a)?, str_arg(b)?) {
            (Some(a), Some(b)) => match jregex::replace(s, a, b, name == "replaceAll") {
                Ok(r) => out.push_str(&r),
                Err(e) => return Some(Err(e)),
            },
            _ => return Some(Err(npe())),
        },
        _ => return None,
    }
    Some(Ok(()))
}

fn string_method(s: &Rc<str>, name: &str, args: &[Value]) -> CallResult {
    let mut text = String::new();
    if let Some(r) = append_string_method(s, name, args, &mut text) {
        return Some(r.map(|()| Value::str(&text)));
    }
    let sv = || Value::Str(s.clone());
    match (name, args) {
        ("length", []) => ok(Value::Int(s.encode_utf16().count() as i64)),
        ("isEmpty", []) => ok(Value::Bool(s.is_empty())),
        ("toString" | "intern", []) => ok(sv()),
        ("hashCode", []) => ok(Value::Int(i64::from(string_hash(s)))),
        ("indexOf" | "lastIndexOf", [x]) | ("indexOf" | "lastIndexOf", [x, _]) => {
            let needle: Vec<u16> = match x {
                Value::Str(n) => utf16(n),
                Value::Int(c) if is_int32(*c) => match char::from_u32(*c as u32) {
                    Some(ch) => ch.encode_utf16(&mut [0; 2]).to_vec(),
                    None => return ok(Value::Int(-1)),
                },
                Value::Null => return Some(Err(npe())),
                _ => return None,
            };
            let u = utf16(s);
            let from = match args.get(1) {
                Some(f) => int_arg(f)?,
                None if name == "indexOf" => 0,
                None => u.len() as i64,
            };
            ok(Value::Int(if name == "indexOf" {
                index_of(&u, &needle, from)
            } else {
                last_index_of(&u, &needle, from)
            }))
        }
        ("contains", [x]) => {
            let x = str_arg(x)?.ok_or_else(npe);
            Some(x.map(|x| Value::Bool(s.contains(x))))
        }
        ("startsWith", [x]) => {
            let x = str_arg(x)?.ok_or_else(npe);
            Some(x.map(|x| Value::Bool(s.starts_with(x))))
        }
        ("startsWith", [x, off]) => {
            let off = int_arg(off)?;
            let x = match str_arg(x)? {
                Some(x) => x,
                None => return Some(Err(npe())),
            };
            let u = utf16(s);
            let n = utf16(x);
            let r = off >= 0
                && (off as usize) + n.len() <= u.len()
                && u[off as usize..off as usize + n.len()] == *n;
            ok(Value::Bool(r))
        }
        ("endsWith", [x]) => {
            let x = str_arg(x)?.ok_or_else(npe);
            Some(x.map(|x| Value::Bool(s.ends_with(x))))
        }
        ("equals", [x]) => ok(Value::Bool(matches!(x, Value::Str(y) if y == s))),
        ("equalsIgnoreCase", [x]) => ok(Value::Bool(match x {
            Value::Str(y) => {
                let (a, b) = (utf16(s), utf16(y));
                a.len() == b.len()
                    && a.iter().zip(b.iter()).all(|(&p, &q)| {
                        let lower = |c: u16| {
                            char::from_u32(u32::from(c)).map_or(c as u32, |ch| {
                                ch.to_lowercase().next().unwrap_or(ch) as u32
                            })
                        };
                        p == q || lower(p) == lower(q)
                    })
            }
            _ => false,
        })),
        ("compareTo", [x]) => {
            let x = match str_arg(x)? {
                Some(x) => x,
                None => return Some(Err(npe())),
            };
            let (a, b) = (utf16(s), utf16(x));
            let r = a
                .iter()
                .zip(b.iter())
                .find(|(p, q)| p != q)
                .map_or(a.len() as i64 - b.len() as i64, |(p, q)| {
                    i64::from(*p) - i64::from(*q)
                });
            ok(Value::Int(r))
        }
        ("matches", [a]) => match str_arg(a)? {
            Some(a) => Some(jregex::matches(s, a).map(Value::Bool)),
            None => Some(Err(npe())),
        },
        ("split", [a]) | ("split", [a, _]) => {
            let limit = match args.get(1) {
                Some(l) => int_arg(l)?,
                None => 0,
            };
            match str_arg(a)? {
                Some(a) => {
                    Some(jregex::split(s, a, limit).map(|parts| {
                        Value::list(parts.into_iter().map(|p| Value::str(&p)).collect())
                    }))
                }
                None => Some(Err(npe())),
            }
        }
        _ => None,
    }
}

/// `String.replace(CharSequence, CharSequence)`: an empty target inserts the
/// replacement around every character.
fn java_replace(s: &str, from: &str, to: &str) -> String {
    if !from.is_empty() {
        return s.replace(from, to);
    }
    let mut out = String::from(to);
    for c in s.chars() {
        out.push(c);
        out.push_str(to);
    }
    out
}

fn list_index(len: usize, i: &Value, inclusive_end: bool) -> Option<Result<usize, Thrown>> {
    let i = int_arg(i)?;
    let max = if inclusive_end {
        len
    } else {
        len.wrapping_sub(1)
    };
    Some(
        if i < 0 || (len == 0 && !inclusive_end) || i as usize > max {
            Err(oob(""))
        } else {
            Ok(i as usize)
        },
    )
}

fn list_method(l: &super::value::List, name: &str, args: &[Value]) -> CallResult {
    match (name, args) {
        ("size", []) => ok(Value::Int(l.borrow().len() as i64)),
        ("isEmpty", []) => ok(Value::Bool(l.borrow().is_empty())),
        ("get", [i]) => {
            let len = l.borrow().len();
            Some(list_index(len, i, false)?.map(|i| l.borrow()[i].clone()))
        }
        ("contains", [x]) => ok(Value::Bool(l.borrow().iter().any(|y| equals(x, y)))),
        ("indexOf", [x]) => ok(Value::Int(
            l.borrow()
                .iter()
                .position(|y| equals(x, y))
                .map_or(-1, |i| i as i64),
        )),
        ("lastIndexOf", [x]) => ok(Value::Int(
            l.borrow()
                .iter()
                .rposition(|y| equals(x, y))
                .map_or(-1, |i| i as i64),
        )),
        ("add", [x]) => {
            l.borrow_mut().push(x.clone());
            ok(Value::Bool(true))
        }
        ("add", [i, x]) => {
            let len = l.borrow().len();
            Some(list_index(len, i, true)?.map(|i| {
                l.borrow_mut().insert(i, x.clone());
                Value::str("")
            }))
        }
        ("set", [i, x]) => {
            let len = l.borrow().len();
            Some(
                list_index(len, i, false)?
                    .map(|i| std::mem::replace(&mut l.borrow_mut()[i], x.clone())),
            )
        }
        ("remove", [i @ Value::Int(_)]) => {
            let len = l.borrow().len();
            Some(list_index(len, i, false)?.map(|i| l.borrow_mut().remove(i)))
        }
        ("remove", [x]) => {
            let pos = l.borrow().iter().position(|y| equals(x, y));
            ok(Value::Bool(pos.is_some_and(|p| {
                l.borrow_mut().remove(p);
                true
            })))
        }
        ("addAll", [Value::List(other)]) => {
            let items = other.borrow().clone();
            let changed = !items.is_empty();
            l.borrow_mut().extend(items);
            ok(Value::Bool(changed))
        }
        ("containsAll", [Value::List(other)]) => {
            let other = other.borrow().clone();
            let me = l.borrow();
            ok(Value::Bool(
                other.iter().all(|x| me.iter().any(|y| equals(x, y))),
            ))
        }
        ("clear", []) => {
            l.borrow_mut().clear();
            ok(Value::str(""))
        }
        ("subList", [a, b]) => {
            let len = l.borrow().len();
            let (a, b) = (int_arg(a)?, int_arg(b)?);
            Some(if a < 0 || b < a || b as usize > len {
                Err(oob(""))
            } else {
                Ok(Value::list(l.borrow()[a as usize..b as usize].to_vec()))
            })
        }
        _ => None,
    }
}

fn map_get_value(m: &Rc<RefCell<Vec<(String, Value)>>>, k: &Value) -> Option<Value> {
    let Value::Str(k) = k else { return None };
    map_get(m, k)
}

/// `map.get(key)` for a string key.
fn map_get(m: &Rc<RefCell<Vec<(String, Value)>>>, k: &str) -> Option<Value> {
    map_entry(&m.borrow(), k).cloned()
}

/// `value.get(key)` when `value` is a map; None for anything else.
pub(crate) fn key_of(value: &Value, key: &str) -> Option<Value> {
    match value {
        Value::Map(m) => map_get(m, key),
        _ => None,
    }
}

/// The value of `key` among a map's entries.
pub(crate) fn map_entry<'a>(entries: &'a [(String, Value)], key: &str) -> Option<&'a Value> {
    let key = key.as_bytes();
    entries
        .iter()
        .find(|(k, _)| {
            // Keys are short: comparing bytes in place beats a call to `memcmp`.
            let k = k.as_bytes();
            k.len() == key.len() && k.iter().zip(key).all(|(a, b)| a == b)
        })
        .map(|(_, v)| v)
}

/// Java `Map.put`: returns the previous value.
pub(crate) fn map_put(m: &Rc<RefCell<Vec<(String, Value)>>>, k: &Value, v: Value) -> Value {
    let key = to_string(k);
    let mut entries = m.borrow_mut();
    match entries.iter_mut().find(|(k2, _)| *k2 == key) {
        Some((_, old)) => std::mem::replace(old, v),
        None => {
            entries.push((key, v));
            Value::Null
        }
    }
}

/// A `Map.Entry` of `entrySet()`.
struct Entry {
    key: String,
    value: Value,
}

impl HostObject for Entry {
    fn property(&self, name: &str) -> Option<Value> {
        match name {
            "key" | "Key" => Some(Value::str(&self.key)),
            "value" | "Value" => Some(self.value.clone()),
            _ => None,
        }
    }

    fn call(&self, method: &str, args: &[Value]) -> Option<Value> {
        match (method, args) {
            ("getKey", []) => Some(Value::str(&self.key)),
            ("getValue", []) => Some(self.value.clone()),
            _ => None,
        }
    }

    fn display(&self) -> String {
        format!("{}={}", self.key, to_string(&self.value))
    }
}

fn map_method(m: &Rc<RefCell<Vec<(String, Value)>>>, name: &str, args: &[Value]) -> CallResult {
    match (name, args) {
        ("get", [k]) => ok(map_get_value(m, k).unwrap_or_default()),
        ("getOrDefault", [k, d]) => ok(
            match m
                .borrow()
                .iter()
                .find(|(k2, _)| matches!(k, Value::Str(s) if **s == **k2))
            {
                Some((_, v)) => v.clone(),
                None => d.clone(),
            },
        ),
        ("containsKey", [k]) => ok(Value::Bool(
            matches!(k, Value::Str(k) if m.borrow().iter().any(|(k2, _)| **k2 == **k)),
        )),
        ("containsValue", [v]) => ok(Value::Bool(m.borrow().iter().any(|(_, x)| equals(v, x)))),
        ("put", [k, v]) => ok(map_put(m, k, v.clone())),
        ("putIfAbsent", [k, v]) => ok(match map_get_value(m, k) {
            Some(old) if !old.is_null() => old,
            _ => map_put(m, k, v.clone()),
        }),
        ("putAll", [Value::Map(other)]) => {
            let items = other.borrow().clone();
            for (k, v) in items {
                map_put(m, &Value::str(&k), v);
            }
            ok(Value::str(""))
        }
        ("remove", [k]) => {
            let Value::Str(k) = k else {
                return ok(Value::Null);
            };
            let mut entries = m.borrow_mut();
            let pos = entries.iter().position(|(k2, _)| **k2 == **k);
            ok(pos.map_or(Value::Null, |p| entries.remove(p).1))
        }
        ("size", []) => ok(Value::Int(m.borrow().len() as i64)),
        ("isEmpty", []) => ok(Value::Bool(m.borrow().is_empty())),
        ("clear", []) => {
            m.borrow_mut().clear();
            ok(Value::str(""))
        }
        ("keySet", []) => ok(Value::list(
            m.borrow().iter().map(|(k, _)| Value::str(k)).collect(),
        )),
        ("values", []) => ok(Value::list(
            m.borrow().iter().map(|(_, v)| v.clone()).collect(),
        )),
        ("entrySet", []) => ok(Value::list(
            m.borrow()
                .iter()
                .map(|(k, v)| {
                    Value::Object(Rc::new(Entry {
                        key: k.clone(),
                        value: v.clone(),
                    }))
                })
                .collect(),
        )),
        _ => None,
    }
}

fn int_method(i: i64, name: &str, args: &[Value]) -> CallResult {
    match (name, args) {
        ("intValue", []) => ok(Value::Int(i64::from(i as i32))),
        ("longValue", []) => ok(Value::Int(i)),
        ("doubleValue" | "floatValue", []) => ok(Value::Float(i as f64)),
        ("hashCode", []) => ok(Value::Int(if is_int32(i) {
            i
        } else {
            i64::from((i ^ (i >> 32)) as i32)
        })),
        ("compareTo", [Value::Int(j)]) => ok(Value::Int(match i.cmp(j) {
            Ordering::Less => -1,
            Ordering::Equal => 0,
            Ordering::Greater => 1,
        })),
        _ => None,
    }
}

fn float_method(f: f64, name: &str, args: &[Value]) -> CallResult {
    match (name, args) {
        ("intValue", []) => ok(Value::Int(i64::from(f as i32))),
        ("longValue", []) => ok(Value::Int(f as i64)),
        ("doubleValue", []) => ok(Value::Float(f)),
        ("isNaN", []) => ok(Value::Bool(f.is_nan())),
        ("isInfinite", []) => ok(Value::Bool(f.is_infinite())),
        _ => None,
    }
}

/// `$target.name`: Java getter lookup (`getName`, map `get("name")`, `isName`).
pub(crate) fn property(target: &Value, name: &str) -> Option<Value> {
    match target {
        Value::Map(m) => Some(map_get(m, name).unwrap_or_default()),
        Value::Object(o) => o.property(name).or_else(|| {
            // Java bean getters match `$obj.name` and `$obj.Name` alike.
            let mut cs = name.chars();
            let first = cs.next()?;
            let flipped: String = if first.is_uppercase() {
                first.to_lowercase().chain(cs).collect()
            } else {
                first.to_uppercase().chain(cs).collect()
            };
            o.property(&flipped)
        }),
        Value::Str(s) if name == "empty" => Some(Value::Bool(s.is_empty())),
        Value::List(l) if name == "empty" => Some(Value::Bool(l.borrow().is_empty())),
        _ => None,
    }
}

/// `$target[key]`: `get(key)`, with negative integer indexes counted from the end.
pub(crate) fn index(target: &Value, key: &Value) -> CallResult {
    let key = match (key, size_of(target)) {
        (Value::Int(i), Some(n)) if *i < 0 && is_int32(*i) => Value::Int(n + i),
        _ => key.clone(),
    };
    match target {
        Value::Object(o) => o.call("get", std::slice::from_ref(&key)).map(Ok),
        _ => call(target, "get", std::slice::from_ref(&key)),
    }
}

fn size_of(v: &Value) -> Option<i64> {
    match v {
        Value::List(l) => Some(l.borrow().len() as i64),
        Value::Map(m) => Some(m.borrow().len() as i64),
        _ => None,
    }
}

/// `#set($target[key] = value)`: `set(key, value)` or `put(key, value)`. `false` if the
/// target has neither.
pub(crate) fn set_index(target: &Value, key: &Value, value: Value) -> Option<Result<(), Thrown>> {
    let key = match (key, size_of(target)) {
        (Value::Int(i), Some(n)) if *i < 0 && is_int32(*i) => Value::Int(n + i),
        _ => key.clone(),
    };
    match target {
        Value::List(_) => call(target, "set", &[key, value]).map(|r| r.map(drop)),
        Value::Map(m) => {
            map_put(m, &key, value);
            Some(Ok(()))
        }
        Value::Object(o) => o.call("put", &[key, value]).map(|_| Ok(())),
        _ => None,
    }
}

/// `#set($target.name = value)`: a map `put`; other targets are left alone.
pub(crate) fn set_property(target: &Value, name: &str, value: Value) -> bool {
    match target {
        Value::Map(m) => {
            map_put(m, &Value::str(name), value);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_format_like_java() {
        for (x, s) in [
            (f64::NAN, "NaN"),
            (249.99, "249.99"),
            (0.005, "0.005"),
            (-0.5, "-0.5"),
            (0.1 + 0.2, "0.30000000000000004"),
            (9999999.999999998, "9999999.999999998"),
            (f64::NEG_INFINITY, "-Infinity"),
            (1.0e-3, "0.001"),
            (-1.2345e21, "-1.2345E21"),
            (1.0, "1.0"),
            (1.0e10, "1.0E10"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (1e7, "1.0E7"),
            (123456.789, "123456.789"),
            (-0.0, "-0.0"),
            (100.0 / 3.0, "33.333333333333336"),
            (1.5e-5, "1.5E-5"),
            (-2.5, "-2.5"),
            (9999999.0, "9999999.0"),
        ] {
            assert_eq!(to_string(&Value::Float(x)), s);
        }
    }

    #[test]
    fn collections_print_like_java() {
        let m = Value::map(vec![
            ("a".into(), Value::Int(1)),
            (
                "b".into(),
                Value::list(vec![Value::Int(1), Value::str("x")]),
            ),
            ("c".into(), Value::map(vec![("d".into(), Value::Null)])),
        ]);
        assert_eq!(to_string(&m), "{a=1, b=[1, x], c={d=null}}");
    }

    #[test]
    fn velocity_equality() {
        assert!(vel_equals(&Value::str("1"), &Value::Int(1)));
        assert!(vel_equals(&Value::Int(1), &Value::Float(1.0)));
        assert!(vel_equals(&Value::Bool(true), &Value::str("true")));
        // API Gateway, unlike stock Velocity 1.7, finds null equal to "" (recorded on AWS).
        assert!(vel_equals(&Value::Null, &Value::str("")));
        assert!(!vel_equals(&Value::Null, &Value::str("x")));
        assert!(vel_equals(&Value::Null, &Value::Null));
    }
}
