//! Run-time values of the Velocity engine, modelled on the Java objects Velocity 1.7 sees.
//!
//! Lists and maps are shared, mutable references (as in Java: `$list.add(x)` changes every
//! alias). Values live only for one render on one thread, hence `Rc`/`RefCell`.
//! Host objects (`$input`, `$util`, `$context`, …) implement [`HostObject`].

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

/// A Java `List` (Velocity list literals and JSON arrays are `ArrayList`s).
pub type List = Rc<ListCell>;

/// A list's items, and whether it is a json-smart `JSONArray` (from `$input.path` or
/// `$util.parseJson`), whose `toString()` is its JSON text rather than `[a, b]`.
pub struct ListCell {
    items: RefCell<Vec<Value>>,
    pub json: bool,
}

impl std::ops::Deref for ListCell {
    type Target = RefCell<Vec<Value>>;
    fn deref(&self) -> &Self::Target {
        &self.items
    }
}

/// A Java `Map` that iterates in insertion order (`LinkedHashMap`).
pub type Map = Rc<RefCell<Vec<(String, Value)>>>;

/// A Velocity value.
///
/// The wide tag keeps every payload 8-byte aligned, so that values are copied in whole
/// words (same size as with a byte tag).
#[derive(Clone, Default)]
#[repr(u64)]
pub enum Value {
    /// Java `null`; also an undefined reference.
    #[default]
    Null,
    Bool(bool),
    /// Java `Integer`/`Long`.
    Int(i64),
    /// Java `Double`.
    Float(f64),
    Str(Rc<str>),
    List(List),
    Map(Map),
    /// A host object with its own properties and methods.
    Object(Rc<dyn HostObject>),
}

/// An object supplied by the embedding code (`$input`, `$util`, `$context`, …).
///
/// Velocity resolves `$obj.name` and `$obj.method(args)` on it; `None` means "no such
/// property/method", which Velocity treats like a Java reflection miss (the reference
/// renders literally unless quiet).
pub trait HostObject {
    /// `$obj.name`.
    fn property(&self, name: &str) -> Option<Value>;
    /// `$obj.name(args)`.
    fn call(&self, method: &str, args: &[Value]) -> Option<Value>;
    /// Java `toString()`, used when the object itself is rendered.
    fn display(&self) -> String;
}

impl Value {
    pub fn str(s: &str) -> Value {
        Value::Str(Rc::from(s))
    }

    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Rc::new(ListCell {
            items: RefCell::new(items),
            json: false,
        }))
    }

    /// A json-smart `JSONArray`.
    pub fn json_list(items: Vec<Value>) -> Value {
        Value::List(Rc::new(ListCell {
            items: RefCell::new(items),
            json: true,
        }))
    }

    pub fn map(entries: Vec<(String, Value)>) -> Value {
        Value::Map(Rc::new(RefCell::new(entries)))
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("Null"),
            Value::Bool(b) => write!(f, "Bool({b})"),
            Value::Int(i) => write!(f, "Int({i})"),
            Value::Float(x) => write!(f, "Float({x})"),
            Value::Str(s) => write!(f, "Str({s:?})"),
            Value::List(l) => f.debug_tuple("List").field(&l.borrow()).finish(),
            Value::Map(m) => f.debug_tuple("Map").field(&m.borrow()).finish(),
            Value::Object(o) => write!(f, "Object({})", o.display()),
        }
    }
}
