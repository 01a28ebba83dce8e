//! The syntax tree of a parsed template. Nodes own their text, so a parsed template is
//! `Send + Sync` and independent of the source string. Parts that a render keeps
//! referring to (macro bodies and arguments, `#define` bodies) are shared through `Arc`.

use std::collections::HashMap;
use std::sync::Arc;

/// A variable name, numbered by [`Symbols`].
pub(crate) type Sym = usize;

/// `$foreach`, `$velocityCount`, `$velocityHasNext` and `$bodyContent`: the variables
/// the engine itself sets, numbered the same in every template.
pub(crate) const FOREACH: Sym = 0;
pub(crate) const VELOCITY_COUNT: Sym = 1;
pub(crate) const VELOCITY_HAS_NEXT: Sym = 2;
pub(crate) const BODY_CONTENT: Sym = 3;

/// The variable names of a template, numbered so that a render keeps variables in a
/// vector rather than a map.
#[derive(Debug, Clone)]
pub(crate) struct Symbols {
    names: Vec<Box<str>>,
    /// Whether the template names the variable (or may, through `#evaluate`).
    named: Vec<bool>,
    index: HashMap<Box<str>, Sym>,
}

impl Default for Symbols {
    fn default() -> Self {
        let mut s = Symbols {
            names: Vec::new(),
            named: Vec::new(),
            index: HashMap::new(),
        };
        for name in ["foreach", "velocityCount", "velocityHasNext", "bodyContent"] {
            s.add(name);
        }
        s
    }
}

impl Symbols {
    fn add(&mut self, name: &str) -> Sym {
        if let Some(&s) = self.index.get(name) {
            return s;
        }
        let s = self.names.len();
        self.names.push(name.into());
        self.named.push(false);
        self.index.insert(name.into(), s);
        s
    }

    /// The number of a variable the template names.
    pub fn intern(&mut self, name: &str) -> Sym {
        let s = self.add(name);
        self.named[s] = true;
        s
    }

    /// Marks every variable as named: text evaluated at render time may name any.
    pub fn name_all(&mut self) {
        self.named.fill(true);
    }

    pub fn is_named(&self, s: Sym) -> bool {
        self.named[s]
    }

    pub fn name(&self, s: Sym) -> &str {
        &self.names[s]
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }
}

/// A sequence of statements.
#[derive(Debug, Default)]
pub(crate) struct Block(pub Vec<Node>);

#[derive(Debug)]
pub(crate) enum Node {
    /// Text rendered as is (plain text, escapes, comments that keep a prefix, text blocks).
    Text(Box<str>),
    Ref(Box<Reference>),
    Set(Box<Reference>, Expr),
    If(Vec<(Expr, Block)>, Option<Block>),
    Directive(Box<Directive>),
}

/// `#name(args) [block #end]`: a built-in directive or a macro call.
#[derive(Debug)]
pub(crate) struct Directive {
    pub name: Box<str>,
    pub kind: DirKind,
    pub args: Arc<[Expr]>,
    /// The variable `#foreach` and `#define` set.
    pub var: Sym,
    pub body: Option<Arc<Block>>,
    /// The call as written, rendered when a macro of that name does not exist (for
    /// `#literal`, its body as written).
    pub literal: Box<str>,
    /// Whether an argument is a bare word (invalid in a macro call).
    pub has_word_arg: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DirKind {
    Foreach,
    Define,
    Evaluate,
    Break,
    Stop,
    Literal,
    /// `#include` / `#parse`: no resources exist, so rendering them fails.
    Resource,
    /// `#macro` definitions render nothing; they are collected at parse time.
    MacroDef,
    /// `#name(...)`: a macro call (or literal text when no such macro exists).
    MacroCall,
    /// `#@name(...)...#end`: a macro call with a body.
    BlockMacroCall,
    /// `#@name` without arguments: renders `#@name`.
    Unknown,
}

/// A macro definition: its parameters and the body.
#[derive(Debug)]
pub(crate) struct MacroDef {
    pub name: Box<str>,
    pub params: Vec<Sym>,
    pub body: Block,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefKind {
    Normal,
    Formal,
    Quiet,
    /// An identifier without `$` (a bare word in a method argument): renders its name,
    /// evaluates to null.
    Runt,
}

/// `$a.b.c(…)[…]` and its variants.
#[derive(Debug)]
pub(crate) struct Reference {
    pub kind: RefKind,
    pub root: Box<str>,
    /// The variable `root` names.
    pub sym: Sym,
    pub parts: Vec<Part>,
    /// How many of the parts, from the first, are properties.
    pub props: usize,
    /// An odd number of leading backslashes: renders the reference text itself.
    pub escaped: bool,
    /// Half of the leading backslashes, rendered before the value.
    pub esc_prefix: Box<str>,
    /// Text before the last `$` of the first token (e.g. `#` of `#$a`).
    pub more_prefix: Box<str>,
    /// What an escaped reference renders (its text without escapes).
    pub null_string: Box<str>,
    /// The reference as written, without escapes.
    pub literal: Box<str>,
}

#[derive(Debug)]
pub(crate) enum Part {
    Prop(Box<str>),
    Method(Box<str>, Vec<Expr>),
    Index(Expr),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

#[derive(Debug)]
pub(crate) enum Expr {
    Ref(Box<Reference>),
    /// A string literal; `interp` is set for double-quoted text with `$` or `#`.
    Str(Box<str>, Option<Box<Interp>>),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A bare word (directive arguments only): evaluates to null.
    Word(Box<str>),
    Range(Box<Expr>, Box<Expr>),
    List(Vec<Expr>),
    Map(Vec<(Expr, Expr)>),
    /// A binary operation; the strings are the operands as written (used when `+`
    /// concatenates a null operand).
    Bin(BinOp, Box<(Expr, Expr)>, Box<(Box<str>, Box<str>)>),
    Not(Box<Expr>),
    /// A parenthesized expression.
    Group(Box<Expr>),
}

/// An interpolated string: its text parsed as a template (with a trailing space, which is
/// removed again after rendering unless the text contains `##`).
#[derive(Debug)]
pub(crate) struct Interp {
    pub block: Block,
    pub strip_last: bool,
}
