//! Rendering: walks the syntax tree the way Velocity 1.7's nodes render, evaluate and
//! compute values, with null references rendering as empty text (the gateway's
//! configuration).

use super::ast::*;
use super::java::{self, MathOp};
use super::parser;
use super::value::{HostObject, Value};
use super::{Globals, RenderError};
use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

/// Bounds that keep a runaway template from holding a worker.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Bytes of output (and of any string built while rendering).
    pub output: usize,
    /// Items a `#foreach` may iterate over (AWS: 1000).
    pub foreach_items: usize,
    /// Elements of an `[a..b]` range.
    pub range: usize,
    /// Statements and expressions evaluated in one render.
    pub steps: u64,
    /// Nested macro calls (Velocity's `velocimacro.max.depth`), and nested `#evaluate`s.
    pub macro_depth: usize,
}

pub(crate) const LIMITS: Limits = Limits {
    output: 10 << 20,
    foreach_items: 1000,
    range: 100_000,
    steps: 5_000_000,
    macro_depth: 20,
};

/// Why rendering left the normal flow: `#break`/`#stop`, or an error.
enum Flow {
    /// `#break` without argument: the innermost loop, macro, block or evaluation.
    BreakNearest,
    /// `#break($foreach)`: the loop of that scope.
    BreakScope(u64),
    /// `#stop`: the whole template (or `#evaluate`).
    Stop,
    Err(RenderError),
}

type R<T> = Result<T, Flow>;

fn fail(msg: impl Into<String>) -> Flow {
    Flow::Err(RenderError::Failed(msg.into()))
}

/// A Java method that threw.
fn threw(method: &str, e: java::Thrown) -> Flow {
    fail(format!("method {method} threw {e}"))
}

/// `$foreach`: the loop's index and position, and the enclosing loop's scope.
#[derive(Default)]
struct ForeachScope {
    id: Cell<u64>,
    index: Cell<i64>,
    has_next: Cell<bool>,
    parent: RefCell<Option<Value>>,
}

impl ForeachScope {
    fn get(&self, name: &str) -> Option<Value> {
        let i = self.index.get();
        Some(match name {
            "index" => Value::Int(i),
            "count" => Value::Int(i + 1),
            "hasNext" => Value::Bool(self.has_next.get()),
            "first" => Value::Bool(i < 1),
            "last" => Value::Bool(!self.has_next.get()),
            "parent" => self.parent.borrow().clone().unwrap_or_default(),
            _ => return None,
        })
    }
}

impl HostObject for ForeachScope {
    fn property(&self, name: &str) -> Option<Value> {
        self.get(name).or(Some(Value::Null))
    }

    fn call(&self, method: &str, args: &[Value]) -> Option<Value> {
        if !args.is_empty() {
            return None;
        }
        let name = match method {
            "getIndex" => "index",
            "getCount" => "count",
            "hasNext" | "getHasNext" => "hasNext",
            "isFirst" | "getFirst" => "first",
            "isLast" | "getLast" => "last",
            "getParent" => "parent",
            _ => return None,
        };
        self.get(name)
    }

    fn display(&self) -> String {
        "{}".into()
    }
}

/// Passes `v.p1.p2…` (`props` are property parts) to `f`, borrowing the values on the
/// way; a null value ends the chain.
fn walk<T>(v: &Value, props: &[Part], f: impl FnOnce(&Value) -> T) -> T {
    /// Map borrows held at once; longer chains copy the values before.
    const MAX_BORROWS: usize = 8;
    if props.len() > MAX_BORROWS {
        let (head, tail) = props.split_at(props.len() - MAX_BORROWS);
        let mut owned = v.clone();
        for p in head {
            if let (Part::Prop(name), false) = (p, owned.is_null()) {
                owned = java::property(&owned, name).unwrap_or_default();
            }
        }
        return walk(&owned, tail, f);
    }
    let Some((Part::Prop(name), rest)) = props.split_first() else {
        return f(v);
    };
    match v {
        Value::Null => f(v),
        Value::Map(m) => match java::map_entry(&m.borrow(), name) {
            Some(x) => walk(x, rest, f),
            None => f(&Value::Null),
        },
        _ => walk(&java::property(v, name).unwrap_or_default(), rest, f),
    }
}

/// A `#define` block (or a block macro's body) stored in a variable.
struct DefinedBlock;

impl HostObject for DefinedBlock {
    fn property(&self, _: &str) -> Option<Value> {
        None
    }

    fn call(&self, _: &str, _: &[Value]) -> Option<Value> {
        None
    }

    fn display(&self) -> String {
        String::new()
    }
}

struct Defined {
    handle: Rc<dyn HostObject>,
    body: Arc<Block>,
    /// Nested renders of this block in progress (Velocity stops at 2).
    active: Cell<usize>,
}

/// A macro argument bound by name: re-evaluated in the caller's context on each use.
struct Proxy {
    args: Arc<[Expr]>,
    index: usize,
    caller: usize,
}

/// A variable of the template's own context.
#[derive(Default)]
struct Slot {
    /// The value the template set (null for a null `#foreach` item).
    var: Option<Value>,
    /// The root variable of that name, once looked up (null if there is none).
    root: Option<Value>,
}

/// The variables of one macro call, over the context it was called from.
struct Frame {
    parent: usize,
    local: Vec<(Sym, Value)>,
    proxies: Vec<(Sym, Proxy)>,
}

/// Sets `sym` in a small variable list.
fn assign<T>(list: &mut Vec<(Sym, T)>, sym: Sym, v: T) {
    match list.iter_mut().find(|(s, _)| *s == sym) {
        Some(slot) => slot.1 = v,
        None => list.push((sym, v)),
    }
}

pub(crate) struct Eval<'g> {
    globals: &'g dyn Globals,
    symbols: Cow<'g, Symbols>,
    /// The template's own variables, indexed by symbol.
    slots: Vec<Slot>,
    frames: Vec<Frame>,
    /// The frame the current node renders in (0 = the template's own variables).
    depth: usize,
    macros: &'g [Arc<MacroDef>],
    /// Macros defined by `#evaluate`d text.
    evaluated_macros: Vec<Arc<MacroDef>>,
    defines: Vec<Defined>,
    /// Every `$foreach` scope that is in use or that a variable may still hold.
    scopes: Vec<Rc<ForeachScope>>,
    /// Scopes of finished loops that nothing refers to, for reuse.
    spare_scopes: Vec<Rc<ForeachScope>>,
    /// Emptied item buffers of finished loops, for reuse.
    spare_items: Vec<Vec<Value>>,
    next_id: u64,
    steps: u64,
    /// `#evaluate`s in progress.
    evaluating: usize,
    limits: Limits,
}

fn same_object(a: &Rc<dyn HostObject>, b: *const u8) -> bool {
    Rc::as_ptr(a) as *const u8 == b
}

impl<'g> Eval<'g> {
    pub fn new(
        globals: &'g dyn Globals,
        macros: &'g [Arc<MacroDef>],
        symbols: &'g Symbols,
        limits: Limits,
    ) -> Self {
        let mut slots = Vec::new();
        slots.resize_with(symbols.len(), Slot::default);
        Eval {
            globals,
            symbols: Cow::Borrowed(symbols),
            slots,
            frames: Vec::new(),
            depth: 0,
            macros,
            evaluated_macros: Vec::new(),
            defines: Vec::new(),
            scopes: Vec::new(),
            spare_scopes: Vec::new(),
            spare_items: Vec::new(),
            next_id: 0,
            steps: 0,
            evaluating: 0,
            limits,
        }
    }

    /// Renders the template; `#stop` and a stray `#break` end it normally.
    pub fn render_template(&mut self, block: &Block, out: &mut String) -> Result<(), RenderError> {
        match self.block(block, out) {
            Ok(()) | Err(Flow::BreakNearest | Flow::BreakScope(_) | Flow::Stop) => Ok(()),
            Err(Flow::Err(e)) => Err(e),
        }
    }

    fn step(&mut self) -> R<()> {
        self.steps += 1;
        if self.steps > self.limits.steps {
            return Err(Flow::Err(RenderError::LimitExceeded("evaluation steps")));
        }
        Ok(())
    }

    fn write(&self, out: &mut String, s: &str) -> R<()> {
        if out.len() + s.len() > self.limits.output {
            return Err(Flow::Err(RenderError::LimitExceeded("output size")));
        }
        out.push_str(s);
        Ok(())
    }

    // ---- variables -------------------------------------------------------------------

    fn get(&mut self, sym: Sym) -> R<Value> {
        if self.depth == 0 {
            let slot = &self.slots[sym];
            if let Some(v) = slot.var.as_ref().or(slot.root.as_ref()) {
                return Ok(v.clone());
            }
        }
        self.get_at(sym, self.depth)
    }

    fn get_at(&mut self, sym: Sym, depth: usize) -> R<Value> {
        if depth == 0 {
            let slot = &self.slots[sym];
            if let Some(v) = slot.var.as_ref().or(slot.root.as_ref()) {
                return Ok(v.clone());
            }
            let v = self
                .globals
                .root(self.symbols.name(sym))
                .unwrap_or_default();
            self.slots[sym].root = Some(v.clone());
            return Ok(v);
        }
        let frame = &self.frames[depth - 1];
        if let Some((_, v)) = frame.local.iter().find(|(s, _)| *s == sym) {
            if !v.is_null() {
                return Ok(v.clone());
            }
        }
        let parent = frame.parent;
        if let Some((_, p)) = frame.proxies.iter().find(|(s, _)| *s == sym) {
            let (args, index, caller) = (p.args.clone(), p.index, p.caller);
            let saved = std::mem::replace(&mut self.depth, caller);
            let r = match &args[index] {
                Expr::Ref(r) if r.parts.is_empty() => self.get_at(r.sym, caller),
                e => self.value(e),
            };
            self.depth = saved;
            return r;
        }
        self.get_at(sym, parent)
    }

    #[inline]
    fn put(&mut self, sym: Sym, v: Value) {
        if self.depth > 0 {
            self.put_in_frames(sym, &v);
        }
        self.slots[sym].var = Some(v);
    }

    /// Sets a variable in the current macro call and the calls it is nested in.
    #[cold]
    fn put_in_frames(&mut self, sym: Sym, v: &Value) {
        let mut d = self.depth;
        while d > 0 {
            let frame = &mut self.frames[d - 1];
            assign(&mut frame.local, sym, v.clone());
            d = frame.parent;
        }
    }

    fn remove(&mut self, sym: Sym) {
        let mut d = self.depth;
        while d > 0 {
            let frame = &mut self.frames[d - 1];
            frame.local.retain(|(s, _)| *s != sym);
            frame.proxies.retain(|(s, _)| *s != sym);
            d = frame.parent;
        }
        self.slots[sym].var = None;
    }

    // ---- statements ------------------------------------------------------------------

    fn block(&mut self, b: &Block, out: &mut String) -> R<()> {
        for n in &b.0 {
            self.node(n, out)?;
        }
        Ok(())
    }

    fn node(&mut self, n: &Node, out: &mut String) -> R<()> {
        self.step()?;
        match n {
            Node::Text(t) => self.write(out, t),
            Node::Ref(r) => self.render_ref(r, out),
            Node::Set(left, right) => self.set(left, right),
            Node::If(branches, otherwise) => {
                for (cond, body) in branches {
                    if self.truth(cond)? {
                        return self.block(body, out);
                    }
                }
                match otherwise {
                    Some(b) => self.block(b, out),
                    None => Ok(()),
                }
            }
            Node::Directive(d) => self.directive(d, out),
        }
    }

    fn render_ref(&mut self, r: &Reference, out: &mut String) -> R<()> {
        if r.kind == RefKind::Runt {
            return self.write(out, &r.root);
        }
        let v = match r.parts.split_last() {
            _ if r.props == r.parts.len() && !r.escaped => {
                let limit = self.limits.output;
                let object = self.with_props(r.sym, &r.parts, |v| {
                    if let Value::Object(_) = v {
                        return Some(v.clone());
                    }
                    out.push_str(&r.esc_prefix);
                    out.push_str(&r.more_prefix);
                    match v {
                        Value::Null => {}
                        Value::Str(s) => out.push_str(s),
                        _ => java::write_string(v, out),
                    }
                    None
                })?;
                match object {
                    None if out.len() > limit => {
                        return Err(Flow::Err(RenderError::LimitExceeded("output size")))
                    }
                    None => return Ok(()),
                    Some(v) => v,
                }
            }
            Some((Part::Method(name, args), init)) if !r.escaped => {
                match self.execute_parts(r.sym, init, r.props)? {
                    Value::Str(s) => {
                        let vals = self.args(args)?;
                        // A method that returns a string appends it to the output.
                        let start = out.len();
                        self.write(out, &r.esc_prefix)?;
                        self.write(out, &r.more_prefix)?;
                        match java::append_string_method(&s, name, &vals, out) {
                            Some(Ok(())) => return self.check_output(out),
                            Some(Err(e)) => return Err(threw(name, e)),
                            None => {
                                out.truncate(start);
                                self.call(&Value::Str(s), name, &vals)?
                            }
                        }
                    }
                    Value::Null => Value::Null,
                    target => {
                        let vals = self.args(args)?;
                        self.call(&target, name, &vals)?
                    }
                }
            }
            _ => self.execute(r)?,
        };
        if r.escaped {
            self.write(out, &r.esc_prefix)?;
            if v.is_null() {
                self.write(out, "\\")?;
            }
            return self.write(out, &r.null_string);
        }
        if let Value::Object(o) = &v {
            if let Some(i) = self.defined_index(o) {
                return self.render_defined(i, out).map(drop);
            }
        }
        self.write(out, &r.esc_prefix)?;
        self.write(out, &r.more_prefix)?;
        match &v {
            Value::Null => Ok(()),
            Value::Str(s) => self.write(out, s),
            _ => {
                java::write_string(&v, out);
                self.check_output(out)
            }
        }
    }

    fn check_output(&self, out: &str) -> R<()> {
        if out.len() > self.limits.output {
            return Err(Flow::Err(RenderError::LimitExceeded("output size")));
        }
        Ok(())
    }

    fn set(&mut self, left: &Reference, right: &Expr) -> R<()> {
        let v = self.value(right)?;
        if v.is_null() {
            // Velocity leaves the variable unchanged (`directive.set.null.allowed=false`).
            return Ok(());
        }
        let Some((last, init)) = left.parts.split_last() else {
            self.put(left.sym, v);
            return Ok(());
        };
        let mut target = self.get(left.sym)?;
        for p in init {
            if target.is_null() {
                return Ok(());
            }
            target = self.part(&target, p)?;
        }
        if target.is_null() {
            return Ok(());
        }
        match last {
            Part::Index(e) => {
                let key = self.value(e)?;
                if let Some(Err(e)) = java::set_index(&target, &key, v) {
                    return Err(fail(format!("exception in set: {e}")));
                }
            }
            Part::Prop(name) | Part::Method(name, _) => {
                java::set_property(&target, name, v);
            }
        }
        Ok(())
    }

    fn directive(&mut self, d: &Directive, out: &mut String) -> R<()> {
        match d.kind {
            DirKind::MacroDef => Ok(()),
            DirKind::Foreach => self.foreach(d, out),
            DirKind::Define => {
                let Some(Expr::Ref(_)) = d.args.first() else {
                    return Ok(());
                };
                let handle: Rc<dyn HostObject> = Rc::new(DefinedBlock);
                self.defines.push(Defined {
                    handle: handle.clone(),
                    body: d.body.clone().unwrap_or_default(),
                    active: Cell::new(0),
                });
                self.put(d.var, Value::Object(handle));
                Ok(())
            }
            DirKind::Evaluate => {
                let v = self.value(&d.args[0])?;
                let src = if v.is_null() {
                    String::new()
                } else {
                    self.string_of(&v)?
                };
                if self.evaluating >= self.limits.macro_depth {
                    return Err(Flow::Err(RenderError::LimitExceeded("#evaluate depth")));
                }
                let (block, macros) = parser::parse_in(&src, self.symbols.to_mut())
                    .map_err(|e| fail(format!("#evaluate: {e}")))?;
                self.slots.resize_with(self.symbols.len(), Slot::default);
                self.evaluated_macros.extend(macros);
                self.evaluating += 1;
                let r = self.block(&block, out);
                self.evaluating -= 1;
                match r {
                    Err(Flow::Stop | Flow::BreakNearest) => Ok(()),
                    r => r,
                }
            }
            DirKind::Break => match d.args.first() {
                None => Err(Flow::BreakNearest),
                Some(e) => {
                    let v = self.value(e)?;
                    match v {
                        Value::Object(o) => match self.scope_of(&o) {
                            Some(s) => Err(Flow::BreakScope(s.id.get())),
                            None => Err(fail("#break argument is not a scope")),
                        },
                        _ => Err(fail("#break argument is not a scope")),
                    }
                }
            },
            DirKind::Stop => {
                if let Some(e) = d.args.first() {
                    self.value(e)?;
                }
                Err(Flow::Stop)
            }
            DirKind::Literal => self.write(out, &d.literal),
            DirKind::Resource => Err(fail(format!("#{}: no resource loader", d.name))),
            DirKind::Unknown => {
                self.write(out, "#")?;
                self.write(out, &d.name)
            }
            DirKind::MacroCall | DirKind::BlockMacroCall => self.call_macro(d, out),
        }
    }

    fn scope_of(&self, o: &Rc<dyn HostObject>) -> Option<&Rc<ForeachScope>> {
        self.scopes
            .iter()
            .rev()
            .find(|s| same_object(o, Rc::as_ptr(s) as *const u8))
    }

    fn defined_index(&self, o: &Rc<dyn HostObject>) -> Option<usize> {
        self.defines
            .iter()
            .position(|d| same_object(o, Rc::as_ptr(&d.handle) as *const u8))
    }

    /// Renders a `#define` block; `false` when nested too deeply (Velocity renders nothing).
    fn render_defined(&mut self, i: usize, out: &mut String) -> R<bool> {
        let depth = self.defines[i].active.get();
        if depth >= 2 {
            return Ok(false);
        }
        self.defines[i].active.set(depth + 1);
        let body = self.defines[i].body.clone();
        let r = match self.block(&body, out) {
            Err(Flow::BreakNearest) => Ok(true),
            r => r.map(|()| true),
        };
        self.defines[i].active.set(depth);
        r
    }

    fn foreach(&mut self, d: &Directive, out: &mut String) -> R<()> {
        if !matches!(d.args.first(), Some(Expr::Ref(_) | Expr::Word(_))) {
            return Err(fail("#foreach needs a loop variable"));
        }
        let Some(list_expr) = d.args.get(2) else {
            return Ok(());
        };
        let mut items = self.spare_items.pop().unwrap_or_default();
        match self.value(list_expr)? {
            Value::List(l) => items.extend(l.borrow().iter().cloned()),
            Value::Map(m) => items.extend(m.borrow().iter().map(|(_, v)| v.clone())),
            _ => return Ok(()),
        }
        let r = self.iterate(d, &mut items, out);
        items.clear();
        self.spare_items.push(items);
        r
    }

    /// The loop of a `#foreach` over `items` (a snapshot of the list), which it empties.
    fn iterate(&mut self, d: &Directive, items: &mut [Value], out: &mut String) -> R<()> {
        if items.len() > self.limits.foreach_items {
            return Err(Flow::Err(RenderError::LimitExceeded("#foreach items")));
        }
        let Some(body) = d.body.as_deref() else {
            return Ok(());
        };
        let key = d.var;
        // Variables the template never names need not be kept up to date.
        let count = self.symbols.is_named(VELOCITY_COUNT);
        let has_next_var = self.symbols.is_named(VELOCITY_HAS_NEXT);
        let saved_item = self.get(key)?;
        let saved_count = if count {
            self.get(VELOCITY_COUNT)?
        } else {
            Value::Null
        };
        let saved_next = if has_next_var {
            self.get(VELOCITY_HAS_NEXT)?
        } else {
            Value::Null
        };
        let scope = if self.symbols.is_named(FOREACH) {
            Some(self.open_scope()?)
        } else {
            None
        };
        let id = scope.as_ref().map_or(0, |(s, ..)| s.id.get());
        let n = items.len();
        let mut result = Ok(());
        for (i, item) in items.iter_mut().enumerate() {
            let has_next = i + 1 < n;
            if count {
                self.put(VELOCITY_COUNT, Value::Int(i as i64 + 1));
            }
            if has_next_var {
                self.put(VELOCITY_HAS_NEXT, Value::Bool(has_next));
            }
            self.put(key, std::mem::take(item));
            if let Some((s, ..)) = &scope {
                s.index.set(i as i64);
                s.has_next.set(has_next);
            }
            match self.block(body, out) {
                Ok(()) => {}
                Err(Flow::BreakNearest) => break,
                Err(Flow::BreakScope(b)) if b == id => break,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        self.restore(key, saved_item);
        if count {
            self.restore(VELOCITY_COUNT, saved_count);
        }
        if has_next_var {
            self.restore(VELOCITY_HAS_NEXT, saved_next);
        }
        if let Some((s, previous, parent)) = scope {
            self.close_scope(s, previous, parent)?;
        }
        result
    }

    /// Sets a variable back to a value saved before, or unsets it if that was null.
    fn restore(&mut self, sym: Sym, v: Value) {
        if v.is_null() {
            self.remove(sym);
        } else {
            self.put(sym, v);
        }
    }

    /// Makes a new scope the value of `$foreach`. Returns it with the value it replaces
    /// and, if that is a scope, the enclosing loop's.
    fn open_scope(&mut self) -> R<(Rc<ForeachScope>, Value, Option<Value>)> {
        let previous = self.get(FOREACH)?;
        let parent = match &previous {
            Value::Object(o) if self.scope_of(o).is_some() => Some(previous.clone()),
            _ => None,
        };
        self.next_id += 1;
        let scope = self.spare_scopes.pop().unwrap_or_default();
        scope.id.set(self.next_id);
        scope.index.set(-1);
        scope.has_next.set(false);
        *scope.parent.borrow_mut() = parent.clone();
        self.scopes.push(scope.clone());
        self.put(FOREACH, Value::Object(scope.clone()));
        Ok((scope, previous, parent))
    }

    /// Ends a loop's scope: `$foreach` reverts unless the body replaced it by a value
    /// other than a scope.
    fn close_scope(
        &mut self,
        scope: Rc<ForeachScope>,
        previous: Value,
        parent: Option<Value>,
    ) -> R<()> {
        let current = self.get(FOREACH)?;
        if matches!(&current, Value::Object(o) if self.scope_of(o).is_some()) {
            match parent {
                Some(p) => self.put(FOREACH, p),
                None => self.restore(FOREACH, previous),
            }
        }
        drop(current);
        self.release_scope(scope);
        Ok(())
    }

    /// Keeps a finished loop's scope for reuse unless something still refers to it (a
    /// variable, or the scope of a loop inside it that is still referred to).
    fn release_scope(&mut self, scope: Rc<ForeachScope>) {
        if Rc::strong_count(&scope) != 2 {
            return;
        }
        if let Some(i) = self.scopes.iter().rposition(|s| Rc::ptr_eq(s, &scope)) {
            self.scopes.remove(i);
            scope.parent.borrow_mut().take();
            self.spare_scopes.push(scope);
        }
    }

    fn call_macro(&mut self, d: &Directive, out: &mut String) -> R<()> {
        let found = self
            .macros
            .iter()
            .chain(&self.evaluated_macros)
            .find(|m| *m.name == *d.name)
            .cloned();
        let Some(m) = found else {
            return self.write(out, &d.literal);
        };
        if d.has_word_arg {
            return Err(fail(format!("invalid argument in macro #{}", d.name)));
        }
        if self.frames.len() >= self.limits.macro_depth {
            return Err(Flow::Err(RenderError::LimitExceeded("macro call depth")));
        }
        let mut frame = Frame {
            parent: self.depth,
            local: Vec::new(),
            proxies: Vec::new(),
        };
        for (i, &param) in m.params.iter().enumerate().take(d.args.len()) {
            match &d.args[i] {
                e @ (Expr::Int(_) | Expr::Float(_) | Expr::Bool(_) | Expr::Word(_)) => {
                    let v = self.value(e)?;
                    assign(&mut frame.local, param, v);
                }
                _ => {
                    assign(
                        &mut frame.proxies,
                        param,
                        Proxy {
                            args: d.args.clone(),
                            index: i,
                            caller: self.depth,
                        },
                    );
                }
            }
        }
        if let (DirKind::BlockMacroCall, Some(body)) = (d.kind, &d.body) {
            let handle: Rc<dyn HostObject> = Rc::new(DefinedBlock);
            self.defines.push(Defined {
                handle: handle.clone(),
                body: body.clone(),
                active: Cell::new(0),
            });
            assign(&mut frame.local, BODY_CONTENT, Value::Object(handle));
        }
        let frames_before = self.frames.len();
        let saved_depth = self.depth;
        self.frames.push(frame);
        self.depth = self.frames.len();
        let r = self.block(&m.body, out);
        self.frames.truncate(frames_before);
        self.depth = saved_depth;
        match r {
            Err(Flow::BreakNearest) => Ok(()),
            r => r,
        }
    }

    // ---- expressions -----------------------------------------------------------------

    /// Java `toString()`, rendering `#define` blocks.
    fn string_of(&mut self, v: &Value) -> R<String> {
        if let Value::Object(o) = v {
            if let Some(i) = self.defined_index(o) {
                let mut s = String::new();
                self.render_defined(i, &mut s)?;
                return Ok(s);
            }
        }
        Ok(java::to_string(v))
    }

    /// The reference's value (null if any step yields null).
    fn execute(&mut self, r: &Reference) -> R<Value> {
        if r.kind == RefKind::Runt {
            return Ok(Value::Null);
        }
        self.execute_parts(r.sym, &r.parts, r.props)
    }

    /// The value of variable `sym` followed by `parts`, the first `props` of which are
    /// properties.
    fn execute_parts(&mut self, sym: Sym, parts: &[Part], props: usize) -> R<Value> {
        let (props, rest) = parts.split_at(props.min(parts.len()));
        let mut v = self.with_props(sym, props, Value::clone)?;
        for p in rest {
            if v.is_null() {
                break;
            }
            v = self.part(&v, p)?;
        }
        Ok(v)
    }

    /// Passes the value of variable `sym` followed by the property parts `props` to `f`,
    /// borrowing the values on the way.
    fn with_props<T>(&mut self, sym: Sym, props: &[Part], f: impl FnOnce(&Value) -> T) -> R<T> {
        if self.depth == 0 {
            let slot = &self.slots[sym];
            if let Some(v) = slot.var.as_ref().or(slot.root.as_ref()) {
                return Ok(walk(v, props, f));
            }
        }
        let v = self.get(sym)?;
        Ok(walk(&v, props, f))
    }

    fn args(&mut self, args: &[Expr]) -> R<Vec<Value>> {
        let mut vals = Vec::with_capacity(args.len());
        for a in args {
            vals.push(self.value(a)?);
        }
        Ok(vals)
    }

    fn call(&mut self, target: &Value, name: &str, args: &[Value]) -> R<Value> {
        match java::call(target, name, args) {
            None => Ok(Value::Null),
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(threw(name, e)),
        }
    }

    fn part(&mut self, target: &Value, p: &Part) -> R<Value> {
        match p {
            Part::Prop(name) => Ok(java::property(target, name).unwrap_or_default()),
            Part::Method(name, args) => {
                let vals = self.args(args)?;
                self.call(target, name, &vals)
            }
            Part::Index(e) => {
                let key = self.value(e)?;
                match java::index(target, &key) {
                    None => Ok(Value::Null),
                    Some(Ok(v)) => Ok(v),
                    Some(Err(e)) => Err(fail(format!("index threw {e}"))),
                }
            }
        }
    }

    /// Velocity's `evaluate()`: only references, booleans, comparisons and logic are ever
    /// true (a string or number literal is not).
    fn truth(&mut self, e: &Expr) -> R<bool> {
        self.step()?;
        Ok(match e {
            Expr::Ref(r) if r.kind != RefKind::Runt && r.props == r.parts.len() => self
                .with_props(r.sym, &r.parts, |v| match v {
                    Value::Null => false,
                    Value::Bool(b) => *b,
                    _ => true,
                })?,
            Expr::Ref(r) => match self.execute(r)? {
                Value::Null => false,
                Value::Bool(b) => b,
                _ => true,
            },
            Expr::Bool(b) => *b,
            Expr::Not(x) => !self.truth(x)?,
            Expr::Group(x) => self.truth(x)?,
            Expr::Bin(op, operands, _) => {
                let (l, r) = &**operands;
                match op {
                    BinOp::And => self.truth(l)? && self.truth(r)?,
                    BinOp::Or => self.truth(l)? || self.truth(r)?,
                    BinOp::Eq | BinOp::Ne => {
                        let (a, b) = (self.value(l)?, self.value(r)?);
                        let eq = self.equal(&a, &b)?;
                        eq == (*op == BinOp::Eq)
                    }
                    BinOp::Lt | BinOp::Gt | BinOp::Le | BinOp::Ge => {
                        let (a, b) = (self.value(l)?, self.value(r)?);
                        match java::compare_numbers(&a, &b) {
                            None => false,
                            Some(o) => match op {
                                BinOp::Lt => o.is_lt(),
                                BinOp::Gt => o.is_gt(),
                                BinOp::Le => o.is_le(),
                                _ => o.is_ge(),
                            },
                        }
                    }
                    _ => false,
                }
            }
            _ => false,
        })
    }

    fn equal(&mut self, a: &Value, b: &Value) -> R<bool> {
        let defined =
            |v: &Value, ev: &Self| matches!(v, Value::Object(o) if ev.defined_index(o).is_some());
        if defined(a, self) || defined(b, self) {
            let (sa, sb) = (self.string_of(a)?, self.string_of(b)?);
            return Ok(!a.is_null() && !b.is_null() && sa == sb);
        }
        Ok(java::vel_equals(a, b))
    }

    fn value(&mut self, e: &Expr) -> R<Value> {
        self.step()?;
        Ok(match e {
            Expr::Ref(r) => self.execute(r)?,
            Expr::Str(text, None) => Value::str(text),
            Expr::Str(_, Some(interp)) => {
                let mut s = String::new();
                self.block(&interp.block, &mut s)?;
                if interp.strip_last {
                    s.pop();
                }
                Value::str(&s)
            }
            Expr::Int(i) => Value::Int(*i),
            Expr::Float(f) => Value::Float(*f),
            Expr::Bool(b) => Value::Bool(*b),
            Expr::Word(_) => Value::Null,
            Expr::Range(a, b) => {
                let (a, b) = (self.value(a)?, self.value(b)?);
                let bound = |v: &Value| match v {
                    Value::Int(i) => Some(i64::from(*i as i32)),
                    Value::Float(f) => Some(i64::from(*f as i32)),
                    _ => None,
                };
                let (Some(a), Some(b)) = (bound(&a), bound(&b)) else {
                    return Ok(Value::Null);
                };
                if a.abs_diff(b) >= self.limits.range as u64 {
                    return Err(Flow::Err(RenderError::LimitExceeded("range size")));
                }
                let items: Vec<Value> = if a <= b {
                    (a..=b).map(Value::Int).collect()
                } else {
                    (b..=a).rev().map(Value::Int).collect()
                };
                Value::list(items)
            }
            Expr::List(items) => {
                let mut v = Vec::with_capacity(items.len());
                for x in items {
                    v.push(self.value(x)?);
                }
                Value::list(v)
            }
            Expr::Map(entries) => {
                let m = Value::map(Vec::new());
                if let Value::Map(map) = &m {
                    for (k, v) in entries {
                        let (k, v) = (self.value(k)?, self.value(v)?);
                        java::map_put(map, &k, v);
                    }
                }
                m
            }
            Expr::Not(x) => Value::Bool(!self.truth(x)?),
            Expr::Group(x) => self.value(x)?,
            Expr::Bin(op, operands, lits) => {
                let (l, r) = &**operands;
                let op = match op {
                    BinOp::Add => MathOp::Add,
                    BinOp::Sub => MathOp::Sub,
                    BinOp::Mul => MathOp::Mul,
                    BinOp::Div => MathOp::Div,
                    BinOp::Mod => MathOp::Mod,
                    _ => return Ok(Value::Bool(self.truth(e)?)),
                };
                let (a, b) = (self.value(l)?, self.value(r)?);
                if matches!(op, MathOp::Add)
                    && (matches!(a, Value::Str(_)) || matches!(b, Value::Str(_)))
                {
                    let sa = if a.is_null() {
                        lits.0.to_string()
                    } else {
                        self.string_of(&a)?
                    };
                    let sb = if b.is_null() {
                        lits.1.to_string()
                    } else {
                        self.string_of(&b)?
                    };
                    if sa.len() + sb.len() > self.limits.output {
                        return Err(Flow::Err(RenderError::LimitExceeded("string size")));
                    }
                    return Ok(Value::str(&(sa + &sb)));
                }
                java::math(op, &a, &b).unwrap_or_default()
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Roots like the differential tests': `$str`, `$n`, `$t`, `$list`, `$map`.
    struct Roots;

    impl Globals for Roots {
        fn root(&self, name: &str) -> Option<Value> {
            Some(match name {
                "str" => Value::str("hello"),
                "empty" => Value::str(""),
                "n" => Value::Int(5),
                "t" => Value::Bool(true),
                "list" => Value::list(vec![Value::Int(1), Value::str("two"), Value::Float(3.0)]),
                "elist" => Value::list(vec![]),
                "map" => Value::map(vec![
                    ("a".into(), Value::str("x")),
                    ("b".into(), Value::Int(2)),
                    (
                        "inner".into(),
                        Value::map(vec![("k".into(), Value::str("v"))]),
                    ),
                    ("nil".into(), Value::Null),
                ]),
                _ => return None,
            })
        }
    }

    fn render_limits(src: &str, limits: Limits) -> Result<String, String> {
        let p = parser::parse(src).map_err(|e| e.to_string())?;
        let mut out = String::new();
        Eval::new(&Roots, &p.macros, &p.symbols, limits)
            .render_template(&p.block, &mut out)
            .map_err(|e| e.to_string())?;
        Ok(out)
    }

    fn render(src: &str) -> String {
        render_limits(src, LIMITS).unwrap_or_else(|e| panic!("{src:?}: {e}"))
    }

    /// Expected outputs below were produced by Apache Velocity 1.7 with null references
    /// rendering as empty text.
    #[test]
    fn references_and_escapes() {
        assert_eq!(render("a $str $nope $!nope"), "a hello  ");
        assert_eq!(render("$1.50 #1 a#b $.foo"), "$1.50 #1 a#b $.foo");
        assert_eq!(
            render("\\$str \\$nope \\\\$str \\\\$nope"),
            "$str \\$nope \\hello \\"
        );
        assert_eq!(render("$str.foo ${nope} \\$nope \\$str"), "  \\$nope $str");
        assert_eq!(render("$##x\ny"), "$y");
        assert_eq!(
            render("a\\#if b \\#foo c \\\\#if($t)x#end d"),
            "a#if b \\#foo c \\x d"
        );
        assert_eq!(
            render("#notadirective a#b #1 #{notdir} #@foo #foo($str)"),
            "#notadirective a#b #1 #{notdir} #@foo #foo($str)"
        );
    }

    #[test]
    fn directive_lines_swallow_whitespace() {
        assert_eq!(
            render("#set($a = 1)\n  #set($b = 2)\nx\n  #set($c = 3)\n"),
            "x\n  "
        );
        assert_eq!(render("#if($t)a#end   \nb"), "ab");
        assert_eq!(
            render("#set($x = 5)\n#if($x > 3)\n  big\n#elseif($x > 1)\n  medium\n#else\n  small\n#end\ndone"),
            "  big\ndone"
        );
        assert_eq!(render("#*x*#y#**#z## c\nw #[[ $str ]]#\n"), "yzw  $str \n");
    }

    #[test]
    fn truth_and_comparison() {
        assert_eq!(
            render("#if(\"a\")A#end #if(1)B#end #if($n + 1)C#end #if($empty)D#end #if([])E#end #if($elist)F#end #if(\"\")G#end"),
            "   D  F "
        );
        assert_eq!(
            render("#if($n == \"5\")a#end #if($t == \"true\")b#end #if($n == 5.0)c#end #if($nope == $null)d#end #if($str > 1)e#end"),
            "a b c d "
        );
    }

    #[test]
    fn set_and_arithmetic() {
        assert_eq!(
            render("#set($a = \"x\" + $n)$a #set($a = $nope + \"x\")$a #set($a = 7 / 2)$a #set($a = 7 / 0)$a|#set($a = -5 % 3)$a #set($a = 2147483647 + 1)$a #set($a = $n / 2.0)$a"),
            "x5$nopex33|-221474836482.5",
            "a space before `#set` after a reference is swallowed"
        );
        assert_eq!(render("#set($a = 1)#set($a = $nope)$a"), "1");
        assert_eq!(
            render("#set($s = \"a$str b\")$s #set($s = 'a$str b')$s #set($s = \"q\"\"q\")$s #set($s = \"#if($t)yes#end!\")$s"),
            "ahello ba$str bq\"qyes!"
        );
        assert_eq!(render("#set($l = [1,2,3])$l.remove(0) $l"), "1 [2, 3]");
        assert_eq!(
            render("#set($map.c = 3)$map"),
            "{a=x, b=2, inner={k=v}, nil=null, c=3}"
        );
    }

    #[test]
    fn loops() {
        assert_eq!(
            render("#foreach($x in [1..3])$foreach.index:$foreach.count:$foreach.hasNext:$foreach.first:$foreach.last:$velocityCount #end"),
            "0:1:true:true:false:1 1:2:true:false:false:2 2:3:false:false:true:3 "
        );
        assert_eq!(
            render("#foreach($x in [1..3])#foreach($y in [1..3])#if($y == 2)#break($foreach.parent)#end$x$y #end#end|#foreach($i in [1..5])#if($i == 3)#break#end$i#end"),
            "11 |12"
        );
        assert_eq!(
            render("#foreach($x in $map)$x;#end #foreach($x in $str)never#end"),
            "x;2;{k=v};; "
        );
        assert_eq!(render("a#stop b"), "a");
    }

    #[test]
    fn macros_and_defines() {
        assert_eq!(render("#macro(m)A#end#macro(m)B#end#m()"), "A");
        assert_eq!(render("#foo() #macro(foo)x#end"), "x ");
        // Arguments are passed by name: each use re-evaluates the caller's expression.
        assert_eq!(
            render("#macro(m $x)$x $x#end#m($list.add(9)) $list"),
            "true true [1, two, 3.0, 9, 9]"
        );
        assert_eq!(
            render("#define($d)hello $str#end$d \"$d\""),
            "hello hello \"hello hello\""
        );
    }

    #[test]
    fn limits_are_errors() {
        assert!(render_limits("#foreach($i in [1..1001])#end", LIMITS).is_err());
        assert!(render_limits("#foreach($i in [1..1000])#end", LIMITS).is_ok());
        assert!(render_limits("#macro(r)#r()#end#r()", LIMITS).is_err());
        assert!(render_limits("#set($s = '#evaluate($s)')#evaluate($s)", LIMITS).is_err());
        let small = Limits {
            output: 10,
            ..LIMITS
        };
        assert!(render_limits("#foreach($i in [1..20])$i#end", small).is_err());
        let few = Limits {
            steps: 100,
            ..LIMITS
        };
        assert!(render_limits(
            "#foreach($i in [1..100])#foreach($j in [1..100])#end#end",
            few
        )
        .is_err());
        assert!(render_limits("#set($r = [1..1000000000])", LIMITS).is_err());
        assert!(render_limits("$str.substring(10)", LIMITS).is_err());
    }

    #[test]
    fn deep_nesting_fits_a_small_stack() {
        let run = || {
            for n in [150, 250] {
                let parens = format!("#set($a = {}1{})$a", "(".repeat(n), ")".repeat(n));
                let ifs = format!("{}x{}", "#if($t)".repeat(n), "#end".repeat(n));
                let nots = format!("#if({}$t)x#end", "!".repeat(n));
                let list = format!("#set($a = {}{})", "[".repeat(n), "]".repeat(n));
                for src in [parens, ifs, nots, list] {
                    let _ = render_limits(&src, LIMITS);
                }
            }
        };
        let t = std::thread::Builder::new().stack_size(2 << 20).spawn(run);
        assert!(t.map(|h| h.join().is_ok()).unwrap_or(false));
    }

    #[test]
    fn random_input_never_panics() {
        const FRAGMENTS: [&str; 48] = [
            "$",
            "$str",
            "$!x",
            "${",
            "}",
            ".a",
            "(",
            ")",
            "[",
            "]",
            "#",
            "#set(",
            "$x",
            " = ",
            "1",
            "-2.5",
            "\"s$x\"",
            "'q'",
            "#if(",
            "#elseif(",
            "#else",
            "#end",
            "#foreach(",
            " in ",
            "#break",
            "\\",
            "\\\\",
            "##",
            "#*",
            "*#",
            "#[[",
            "]]#",
            "\n",
            " ",
            "x",
            "{",
            ",",
            "..",
            ":",
            "+",
            "==",
            "!",
            "#macro(",
            "m",
            "#m(",
            "#define(",
            "é",
            "\r\n",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rand = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..3000 {
            let len = 1 + rand(16);
            let src: String = (0..len).map(|_| FRAGMENTS[rand(FRAGMENTS.len())]).collect();
            let _ = render_limits(&src, LIMITS);
        }
        let sample = "#set($a = {\"k\": [1..3]})#foreach($i in $a.k)${i}é#if($foreach.hasNext),#end#end \\$x #macro(m $p)$p#end#m('z')";
        for (i, _) in sample.char_indices() {
            let _ = render_limits(&sample[..i], LIMITS);
        }
    }
}
