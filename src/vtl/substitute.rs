//! Simple-substitution renderer: the subset of VTL that AWS gateway response templates
//! support, and the first stand-in for mapping templates.
//!
//! Recognised references, in the Velocity forms `$a.b`, `${a.b}`, `$!a.b`, `$!{a.b}`:
//! - `$context.<p1>.<p2>…` → [`TemplateContext::context_var`] with path `"p1.p2…"`
//! - `$stageVariables.<name>` → [`TemplateContext::stage_var`]
//! - `$input.params('<name>')` / `$input.params("<name>")` → [`TemplateContext::input_param`]
//! - `$input.params().<path|querystring|header>.<name>` → [`TemplateContext::input_param_in`]
//! - `$input.body` → [`TemplateContext::input_body`]
//!
//! Everything else — directives, `$util`, other roots, other shapes on the roots above,
//! method calls — is copied to the output as literal text.
//!
//! Reference boundaries follow Velocity 1.7: an identifier starts with `[A-Za-z_]` and
//! continues with `[A-Za-z0-9_-]`; a `.` continues the reference only when an identifier
//! starts right after it, so a trailing `.` is text; `$` not followed by an identifier is
//! text. A member followed by `(` is a method call; when its arguments are not a single
//! string literal (or empty), the reference ends before the `(` and is text.
//!
//! A recognised reference whose value is `None` renders as empty text in both the normal
//! and the quiet (`$!`) form. (Velocity would print the normal form's source text; AWS
//! renders null references as empty, and it populates these variables anyway.)
//!
//! Escaping follows Velocity for defined references: a run of `n` backslashes before a
//! recognised reference prints `n / 2` backslashes, then the reference's source text if
//! `n` is odd (so `\$x` prints `$x`), or its value if `n` is even. Backslashes before
//! anything else, including unrecognised references, are text.

use super::{TemplateContext, TemplateError};
use std::ops::Range;

/// Where `$input.params().<kind>.<name>` looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    Path,
    QueryString,
    Header,
}

impl ParamKind {
    /// Parses the AWS spelling: "path", "querystring", "header".
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "path" => Some(ParamKind::Path),
            "querystring" => Some(ParamKind::QueryString),
            "header" => Some(ParamKind::Header),
            _ => None,
        }
    }

    /// The AWS spelling, as passed to [`TemplateContext::input_param_in`].
    pub fn as_str(self) -> &'static str {
        match self {
            ParamKind::Path => "path",
            ParamKind::QueryString => "querystring",
            ParamKind::Header => "header",
        }
    }
}

#[derive(Debug, Clone)]
enum Segment {
    /// Byte range into `Substitution::literals`.
    Literal(Range<usize>),
    /// Dotted path after `$context.`.
    Context(Box<str>),
    StageVar(Box<str>),
    Body,
    Param(Box<str>),
    ParamIn(ParamKind, Box<str>),
}

/// A parsed simple-substitution template: literal text and references, in order.
#[derive(Debug, Clone, Default)]
pub struct Substitution {
    /// All literal text, concatenated in template order (escapes already applied).
    literals: String,
    segments: Vec<Segment>,
}

impl Substitution {
    /// Parses `source`. Fails on an unterminated `${…}`, an unterminated string literal in
    /// a method call, or `$input.params(…)` with anything but no argument or one literal
    /// string.
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        let bytes = source.as_bytes();
        let mut out = Substitution::default();
        let mut lit_start = 0;
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'$' => match scan_reference(source, i)? {
                    Some(r) => {
                        if let Some(seg) = r.segment {
                            out.push_literal(&source[lit_start..i]);
                            out.segments.push(seg);
                            lit_start = r.end;
                        }
                        i = r.end;
                    }
                    None => i += 1,
                },
                b'\\' => {
                    let run_start = i;
                    while i < bytes.len() && bytes[i] == b'\\' {
                        i += 1;
                    }
                    if i < bytes.len() && bytes[i] == b'$' {
                        if let Some(r) = scan_reference(source, i)? {
                            if let Some(seg) = r.segment {
                                let run = i - run_start;
                                out.push_literal(&source[lit_start..run_start]);
                                out.push_literal(&source[run_start..run_start + run / 2]);
                                if run % 2 == 1 {
                                    out.push_literal(&source[i..r.end]);
                                } else {
                                    out.segments.push(seg);
                                }
                                lit_start = r.end;
                            }
                            i = r.end;
                        }
                    }
                }
                _ => i += 1,
            }
        }
        out.push_literal(&source[lit_start..]);
        Ok(out)
    }

    /// Appends the rendered template to `out`.
    pub fn render(&self, ctx: &dyn TemplateContext, out: &mut String) {
        out.reserve(self.literals.len());
        for seg in &self.segments {
            match seg {
                Segment::Literal(r) => out.push_str(&self.literals[r.clone()]),
                Segment::Context(path) => {
                    if let Some(v) = ctx.context_var(path) {
                        out.push_str(&v);
                    }
                }
                Segment::StageVar(name) => {
                    if let Some(v) = ctx.stage_var(name) {
                        out.push_str(v);
                    }
                }
                Segment::Body => out.push_str(ctx.input_body()),
                Segment::Param(name) => {
                    if let Some(v) = ctx.input_param(name) {
                        out.push_str(&v);
                    }
                }
                Segment::ParamIn(kind, name) => {
                    if let Some(v) = ctx.input_param_in(kind.as_str(), name) {
                        out.push_str(&v);
                    }
                }
            }
        }
    }

    /// True if the template renders nothing whatever the context.
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// The output, if the template has no references.
    pub fn static_text(&self) -> Option<&str> {
        if self
            .segments
            .iter()
            .all(|s| matches!(s, Segment::Literal(_)))
        {
            Some(&self.literals)
        } else {
            None
        }
    }

    fn push_literal(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        let start = self.literals.len();
        self.literals.push_str(text);
        let end = self.literals.len();
        if let Some(Segment::Literal(r)) = self.segments.last_mut() {
            if r.end == start {
                r.end = end;
                return;
            }
        }
        self.segments.push(Segment::Literal(start..end));
    }
}

/// A syntactically complete reference starting at a `$`.
struct Scanned {
    /// Byte offset just past the reference.
    end: usize,
    /// `None` when the reference is not one this renderer understands (it is then text).
    segment: Option<Segment>,
}

enum Accessor<'a> {
    Member(&'a str),
    Call(&'a str, Vec<String>),
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Byte offset just past the identifier starting at `start` (which must be an identifier
/// start).
fn ident_end(bytes: &[u8], start: usize) -> usize {
    let mut p = start + 1;
    while p < bytes.len() && is_ident_char(bytes[p]) {
        p += 1;
    }
    p
}

/// Scans the reference whose `$` is at `dollar`. `Ok(None)`: the `$` starts no reference.
fn scan_reference(src: &str, dollar: usize) -> Result<Option<Scanned>, TemplateError> {
    let bytes = src.as_bytes();
    let at = |p: usize| bytes.get(p).copied();
    let mut p = dollar + 1;
    if at(p) == Some(b'!') {
        p += 1;
    }
    let braced = at(p) == Some(b'{');
    if braced {
        p += 1;
    }
    if !at(p).is_some_and(is_ident_start) {
        return Ok(None);
    }
    let root_end = ident_end(bytes, p);
    let root = &src[p..root_end];
    p = root_end;
    let mut accessors = Vec::new();
    while at(p) == Some(b'.') && at(p + 1).is_some_and(is_ident_start) {
        let name_start = p + 1;
        let name_end = ident_end(bytes, name_start);
        let name = &src[name_start..name_end];
        if at(name_end) != Some(b'(') {
            accessors.push(Accessor::Member(name));
            p = name_end;
            continue;
        }
        match parse_call_args(src, name_end)? {
            Some((args, after)) => {
                accessors.push(Accessor::Call(name, args));
                p = after;
            }
            None => {
                if root == "input" && accessors.is_empty() && name == "params" {
                    return Err(TemplateError::at(
                        src,
                        name_end + 1,
                        "$input.params(...) takes no argument or one quoted parameter name without references",
                    ));
                }
                // A call we cannot model: the reference up to the `(` is text, and
                // scanning resumes at the `(` (its arguments may hold references).
                return Ok(Some(Scanned {
                    end: name_end,
                    segment: None,
                }));
            }
        }
    }
    if braced {
        if at(p) != Some(b'}') {
            return Err(TemplateError::at(
                src,
                dollar,
                "unterminated `${`: expected `}` after the reference",
            ));
        }
        p += 1;
    }
    Ok(Some(Scanned {
        end: p,
        segment: classify(root, &accessors),
    }))
}

/// Parses `( )` or `( 'literal' )` / `( "literal" )` at `open` (a `(`). `Ok(None)` for
/// any other argument list; `Err` for a string literal that never ends.
fn parse_call_args(src: &str, open: usize) -> Result<Option<(Vec<String>, usize)>, TemplateError> {
    let bytes = src.as_bytes();
    let skip_ws = |mut p: usize| {
        while p < bytes.len() && bytes[p].is_ascii_whitespace() {
            p += 1;
        }
        p
    };
    let mut p = skip_ws(open + 1);
    match bytes.get(p) {
        Some(b')') => Ok(Some((Vec::new(), p + 1))),
        Some(&q) if q == b'\'' || q == b'"' => {
            let quote_at = p;
            let mut value = String::new();
            p += 1;
            let mut chunk_start = p;
            loop {
                match bytes.get(p) {
                    None => {
                        return Err(TemplateError::at(
                            src,
                            quote_at,
                            "unterminated string literal",
                        ))
                    }
                    // Velocity 1.7: a doubled quote inside a literal is one quote.
                    Some(&b) if b == q && bytes.get(p + 1) == Some(&q) => {
                        value.push_str(&src[chunk_start..=p]);
                        p += 2;
                        chunk_start = p;
                    }
                    Some(&b) if b == q => {
                        value.push_str(&src[chunk_start..p]);
                        p += 1;
                        break;
                    }
                    Some(_) => p += 1,
                }
            }
            // Double-quoted literals interpolate in Velocity; not modelled here.
            if q == b'"' && (value.contains('$') || value.contains('#')) {
                return Ok(None);
            }
            p = skip_ws(p);
            if bytes.get(p) == Some(&b')') {
                return Ok(Some((vec![value], p + 1)));
            }
            Ok(None)
        }
        _ => Ok(None),
    }
}

fn classify(root: &str, acc: &[Accessor<'_>]) -> Option<Segment> {
    use Accessor::{Call, Member};
    match (root, acc) {
        ("context", [_, ..]) => {
            let mut path = String::new();
            for a in acc {
                let Member(name) = a else { return None };
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(name);
            }
            Some(Segment::Context(path.into()))
        }
        ("stageVariables", [Member(name)]) => Some(Segment::StageVar((*name).into())),
        ("input", [Member("body")]) => Some(Segment::Body),
        ("input", [Call("params", args)]) => match args.as_slice() {
            [name] => Some(Segment::Param(name.as_str().into())),
            _ => None,
        },
        ("input", [Call("params", args), Member(kind), Member(name)]) if args.is_empty() => {
            ParamKind::parse(kind).map(|k| Segment::ParamIn(k, (*name).into()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vtl::TestContext;

    fn ctx() -> TestContext {
        TestContext {
            context: vec![
                ("requestId", "req-1"),
                ("identity.sourceIp", "10.1.2.3"),
                ("authorizer.claims.sub", "user-9"),
                ("stage", "dev"),
                ("request-id", "hyphenated"),
            ],
            stage: vec![("a", "1"), ("backend", "b.example")],
            path: vec![("id", "42")],
            query: vec![("q", "x"), ("id", "from-query")],
            header: vec![("Accept", "application/json")],
            body: r#"{"k":"v"}"#,
        }
    }

    fn render(src: &str) -> String {
        let t = Substitution::parse(src).unwrap();
        let mut out = String::new();
        t.render(&ctx(), &mut out);
        out
    }

    fn err(src: &str) -> TemplateError {
        Substitution::parse(src).unwrap_err()
    }

    #[test]
    fn all_reference_forms() {
        assert_eq!(render("$context.requestId"), "req-1");
        assert_eq!(render("${context.requestId}"), "req-1");
        assert_eq!(render("$!context.requestId"), "req-1");
        assert_eq!(render("$!{context.requestId}"), "req-1");
        assert_eq!(render("a${context.stage}b"), "adevb");
    }

    #[test]
    fn context_paths_are_joined() {
        assert_eq!(render("$context.identity.sourceIp"), "10.1.2.3");
        assert_eq!(render("$context.authorizer.claims.sub"), "user-9");
    }

    #[test]
    fn stage_vars_body_and_params() {
        assert_eq!(
            render("http://$stageVariables.backend/x"),
            "http://b.example/x"
        );
        assert_eq!(render("$input.body"), r#"{"k":"v"}"#);
        assert_eq!(render("$input.params('id')"), "42");
        assert_eq!(render(r#"$input.params("q")"#), "x");
        assert_eq!(render("$input.params( 'Accept' )"), "application/json");
        assert_eq!(render("$input.params().path.id"), "42");
        assert_eq!(render("$input.params().querystring.id"), "from-query");
        assert_eq!(render("$input.params().header.accept"), "application/json");
        assert_eq!(render("${input.params('id')}"), "42");
        assert_eq!(render("$!{input.params().path.id}"), "42");
        assert_eq!(
            render(r#"{"statusCode": 200, "id": $input.params().path.id}"#),
            r#"{"statusCode": 200, "id": 42}"#
        );
    }

    #[test]
    fn missing_values_render_empty_in_both_forms() {
        assert_eq!(render("[$context.nope]"), "[]");
        assert_eq!(render("[$!context.nope]"), "[]");
        assert_eq!(render("[${stageVariables.nope}]"), "[]");
        assert_eq!(render("[$input.params('nope')]"), "[]");
        assert_eq!(render("[$input.params().path.nope]"), "[]");
    }

    #[test]
    fn reference_boundaries() {
        // Trailing dot is text; `..` ends the reference.
        assert_eq!(render("$context.stage."), "dev.");
        assert_eq!(render("$context.stage..x"), "dev..x");
        // A dot followed by a non-identifier start ends the reference.
        assert_eq!(render("$context.stage.1"), "dev.1");
        // Hyphens belong to identifiers (Velocity 1.7).
        assert_eq!(render("$context.request-id"), "hyphenated");
        assert_eq!(render("$stageVariables.a-x"), "");
        // Non-identifier characters end it.
        assert_eq!(render("\"$context.stage\","), "\"dev\",");
        assert_eq!(render("$context.stage/$stageVariables.a"), "dev/1");
        assert_eq!(render("$context.stageé"), "devé");
    }

    #[test]
    fn lone_dollars_are_text() {
        assert_eq!(render("$"), "$");
        assert_eq!(render("$ 5"), "$ 5");
        assert_eq!(render("$$context.stage"), "$dev");
        assert_eq!(render("$1.00"), "$1.00");
        assert_eq!(render("$!"), "$!");
        assert_eq!(render("$!{ x}"), "$!{ x}");
        assert_eq!(render("${"), "${");
        assert_eq!(render("$.json"), "$.json");
    }

    #[test]
    fn unsupported_references_are_text() {
        assert_eq!(render("$foo.bar"), "$foo.bar");
        assert_eq!(render("${foo}"), "${foo}");
        assert_eq!(render("$context"), "$context");
        assert_eq!(render("$stageVariables.a.b"), "$stageVariables.a.b");
        assert_eq!(render("$input.body.x"), "$input.body.x");
        assert_eq!(render("$input.params()"), "$input.params()");
        assert_eq!(
            render("$input.params().cookie.x"),
            "$input.params().cookie.x"
        );
        assert_eq!(render("$input.params('a').b"), "$input.params('a').b");
        assert_eq!(render("$input.json('$.a')"), "$input.json('$.a')");
        assert_eq!(
            render("$context.stage.toUpperCase()"),
            "$context.stage.toUpperCase()"
        );
        // Arguments that are not a single literal: text up to `(`, then scanning resumes.
        assert_eq!(
            render("$util.escapeJavaScript($input.body)"),
            r#"$util.escapeJavaScript({"k":"v"})"#
        );
        assert_eq!(render("#set($x = 1)$x"), "#set($x = 1)$x");
    }

    #[test]
    fn escapes() {
        assert_eq!(render(r"\$context.stage"), "$context.stage");
        assert_eq!(render(r"\\$context.stage"), r"\dev");
        assert_eq!(render(r"\\\$context.stage"), r"\$context.stage");
        assert_eq!(render(r"\$!{context.stage}"), "$!{context.stage}");
        // Not before a recognised reference: backslashes are text.
        assert_eq!(render(r"\$foo \n \\"), r"\$foo \n \\");
        assert_eq!(render(r"a\"), r"a\");
    }

    #[test]
    fn string_literals() {
        let t = TestContext {
            query: vec![("it's", "yes"), ("a\"b", "dq")],
            ..Default::default()
        };
        let mut out = String::new();
        Substitution::parse("$input.params('it''s')|$input.params(\"a\"\"b\")")
            .unwrap()
            .render(&t, &mut out);
        assert_eq!(out, "yes|dq");
    }

    #[test]
    fn errors() {
        let e = err("{\n  \"a\": \"${context.stage\"\n}");
        assert_eq!((e.line, e.column), (2, 9));
        assert!(e.message.contains("unterminated"), "{e}");
        let e = err("${context.stage");
        assert_eq!((e.line, e.column), (1, 1));
        assert!(err("${stageVariables.a b}").message.contains('}'));
        let e = err("x $input.params(id)");
        assert_eq!((e.line, e.column), (1, 17));
        assert!(e.message.contains("$input.params"));
        err("$input.params('a', 'b')");
        err("$input.params('a'");
        err(r#"$input.params("$x")"#);
        let e = err("$input.params('abc");
        assert!(e.message.contains("unterminated string"));
        assert_eq!((e.line, e.column), (1, 15));
        // An unterminated literal in any call is a parse error.
        err("$input.json('$.a");
    }

    #[test]
    fn static_text_and_literal_merging() {
        let t = Substitution::parse(r"a\$context.stage b").unwrap();
        assert_eq!(t.static_text(), Some("a$context.stage b"));
        assert_eq!(t.segments.len(), 1);
        let t = Substitution::parse("#if(x) $foo.bar $ ${nope} #end").unwrap();
        assert_eq!(t.static_text(), Some("#if(x) $foo.bar $ ${nope} #end"));
        assert!(Substitution::parse("").unwrap().is_empty());
        assert_eq!(Substitution::parse("").unwrap().static_text(), Some(""));
        let t = Substitution::parse("$context.stage").unwrap();
        assert_eq!(t.static_text(), None);
        assert!(!t.is_empty());
    }

    #[test]
    fn render_appends() {
        let t = Substitution::parse("-$context.stage").unwrap();
        let mut out = String::from("pre");
        t.render(&ctx(), &mut out);
        assert_eq!(out, "pre-dev");
    }

    #[test]
    fn multibyte_text_is_preserved() {
        assert_eq!(
            render("héllo ${context.stage} wörld $ ü"),
            "héllo dev wörld $ ü"
        );
    }
}
