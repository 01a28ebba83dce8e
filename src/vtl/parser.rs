//! Parser for Velocity 1.7 templates: the productions of Velocity's grammar with the same
//! lookahead, driving the [`Lexer`] lazily so that the parser's few changes to the lexer
//! state happen at the same points as in Velocity.

use super::ast::*;
use super::lexer::{Kind, Lexer, State, Token};
use super::TemplateError;
use std::collections::HashSet;
use std::sync::Arc;

/// Built-in directives and whether they take a block.
fn directive_kind(name: &str) -> Option<(DirKind, bool)> {
    Some(match name {
        "foreach" => (DirKind::Foreach, true),
        "define" => (DirKind::Define, true),
        "macro" => (DirKind::MacroDef, true),
        "literal" => (DirKind::Literal, true),
        "evaluate" => (DirKind::Evaluate, false),
        "break" => (DirKind::Break, false),
        "stop" => (DirKind::Stop, false),
        "include" | "parse" => (DirKind::Resource, false),
        _ => return None,
    })
}

/// Deepest nesting of blocks/expressions accepted (keeps recursion bounded).
const MAX_DEPTH: usize = 200;

/// Nesting levels an expression (a parenthesized one, say) counts for.
const EXPR_COST: usize = 4;

/// The result of parsing: the top-level block, every macro defined in it and the names
/// of its variables.
pub(crate) struct Parsed {
    pub block: Block,
    pub macros: Vec<Arc<MacroDef>>,
    pub symbols: Symbols,
}

pub(crate) fn parse(src: &str) -> Result<Parsed, TemplateError> {
    let mut symbols = Symbols::default();
    let (block, macros) = parse_in(src, &mut symbols)?;
    Ok(Parsed {
        block,
        macros,
        symbols,
    })
}

/// Parses `src`, numbering its variables in `symbols`.
pub(crate) fn parse_in(
    src: &str,
    symbols: &mut Symbols,
) -> Result<(Block, Vec<Arc<MacroDef>>), TemplateError> {
    let mut p = Parser {
        src,
        lx: Lexer::new(src),
        toks: Vec::new(),
        cur: 0,
        macro_names: HashSet::new(),
        macros: Vec::new(),
        symbols,
        depth: 0,
        open: Vec::new(),
    };
    let block = p.statements()?;
    let t = p.peek(0)?;
    if t.kind != Kind::Eof {
        return Err(p.unexpected(0));
    }
    Ok((block, p.macros))
}

struct Parser<'s, 'y> {
    src: &'s str,
    lx: Lexer<'s>,
    toks: Vec<Token>,
    cur: usize,
    /// Macros defined so far (an escaped `\#name` of one drops its backslash).
    macro_names: HashSet<String>,
    macros: Vec<Arc<MacroDef>>,
    symbols: &'y mut Symbols,
    depth: usize,
    /// Where the constructs being parsed start (an unexpected end points at the innermost).
    open: Vec<usize>,
}

type PResult<T> = Result<T, TemplateError>;

fn is_text(k: Kind) -> bool {
    use Kind::*;
    matches!(
        k,
        Text | Dot
            | RParen
            | LParen
            | IntegerLiteral
            | FloatLiteral
            | StringLiteral
            | Escape
            | LCurly
            | RCurly
            | EmptyIndex
    )
}

fn is_statement_start(k: Kind) -> bool {
    use Kind::*;
    is_text(k)
        || matches!(
            k,
            If | Identifier
                | SingleLineCommentStart
                | MultiLineComment
                | FormalComment
                | Textblock
                | SetDirective
                | EscapeDirective
                | DoubleEscape
                | Word
                | BracketedWord
        )
}

impl<'s> Parser<'s, '_> {
    fn err(&self, at: usize, msg: impl Into<String>) -> TemplateError {
        TemplateError::at(self.src, at, msg)
    }

    fn unexpected(&self, n: usize) -> TemplateError {
        match self.toks.get(self.cur + n) {
            Some(t) if t.kind == Kind::Eof => {
                let at = self.open.last().copied().unwrap_or(t.start);
                self.err(at, "unexpected end of template")
            }
            Some(t) => self.err(
                t.start,
                format!("unexpected \"{}\"", t.image(self.src).escape_debug()),
            ),
            None => self.err(self.src.len(), "unexpected input"),
        }
    }

    /// The token `n` ahead, lexing as far as needed.
    fn peek(&mut self, n: usize) -> PResult<&Token> {
        while self.toks.len() <= self.cur + n {
            let last_eof = self.toks.last().is_some_and(|t| t.kind == Kind::Eof);
            if last_eof {
                break;
            }
            let t = self
                .lx
                .next_token()
                .map_err(|e| self.err(e.at, "lexical error"))?;
            self.toks.push(t);
        }
        let i = (self.cur + n).min(self.toks.len() - 1);
        Ok(&self.toks[i])
    }

    fn kind(&mut self, n: usize) -> PResult<Kind> {
        Ok(self.peek(n)?.kind)
    }

    fn next(&mut self) -> PResult<Token> {
        let t = self.peek(0)?.clone();
        if t.kind != Kind::Eof {
            self.cur += 1;
        }
        Ok(t)
    }

    fn expect(&mut self, k: Kind) -> PResult<Token> {
        if self.kind(0)? == k {
            self.next()
        } else {
            Err(self.unexpected(0))
        }
    }

    fn opt(&mut self, k: Kind) -> PResult<bool> {
        if self.kind(0)? == k {
            self.next()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn enter(&mut self) -> PResult<()> {
        self.enter_by(1)
    }

    /// Accounts for `cost` levels of nesting (an expression recurses through many
    /// functions per level, so it costs more).
    fn enter_by(&mut self, cost: usize) -> PResult<()> {
        self.depth += cost;
        if self.depth > MAX_DEPTH {
            let at = self.toks.get(self.cur).map_or(self.src.len(), |t| t.start);
            return Err(self.err(at, "template nested too deeply"));
        }
        Ok(())
    }

    fn image(&self, t: &Token) -> &'s str {
        t.image(self.src)
    }

    /// `( Statement() )*`
    fn statements(&mut self) -> PResult<Block> {
        self.enter()?;
        let mut nodes: Vec<Node> = Vec::new();
        while is_statement_start(self.kind(0)?) {
            match self.statement()? {
                Some(Node::Text(t)) => match nodes.last_mut() {
                    Some(Node::Text(prev)) => {
                        let mut s = std::mem::take(prev).into_string();
                        s.push_str(&t);
                        *prev = s.into_boxed_str();
                    }
                    _ => nodes.push(Node::Text(t)),
                },
                Some(n) => nodes.push(n),
                None => {}
            }
        }
        self.depth -= 1;
        Ok(Block(nodes))
    }

    fn statement(&mut self) -> PResult<Option<Node>> {
        use Kind::*;
        let k = self.kind(0)?;
        if k == If {
            return self.if_statement().map(Some);
        }
        if self.reference_ahead()? {
            return Ok(Some(Node::Ref(Box::new(self.reference()?))));
        }
        let node = match k {
            SingleLineCommentStart => {
                let t = self.next()?;
                self.opt(SingleLineComment)?;
                comment_text(self.image(&t))
            }
            MultiLineComment | FormalComment => {
                let t = self.next()?;
                comment_text(self.image(&t))
            }
            Textblock => {
                let t = self.next()?;
                let img = self.image(&t);
                img.get(3..img.len().saturating_sub(3))
                    .unwrap_or("")
                    .to_string()
            }
            SetDirective => return self.set_directive().map(Some),
            EscapeDirective => {
                let t = self.next()?;
                self.escaped_directive(self.image(&t))
            }
            DoubleEscape => self.escape()?,
            Word | BracketedWord => return self.directive().map(Some),
            _ if is_text(k) => {
                let t = self.next()?;
                t.literal(self.src)
            }
            _ => return Err(self.unexpected(0)),
        };
        Ok((!node.is_empty()).then(|| Node::Text(node.into_boxed_str())))
    }

    fn is_known_name(&self, name: &str) -> bool {
        directive_kind(name).is_some() || self.macro_names.contains(name)
    }

    /// `\#name`: the backslashes before a known directive are halved and the last one
    /// consumed; anything else stays as written.
    fn escaped_directive(&self, img: &str) -> String {
        let last = img.rfind('\\').unwrap_or(0);
        let directive = &img[last + 1..];
        let mut tag = &directive[1..];
        if tag.starts_with('{') {
            tag = &tag[1..tag.len() - 1];
        }
        let known =
            self.is_known_name(tag) || matches!(tag, "if" | "end" | "set" | "else" | "elseif");
        if known {
            format!("{}{}", &img[..last / 2], directive)
        } else {
            img.to_string()
        }
    }

    /// A run of `\\` pairs: each renders one backslash before a directive, two otherwise.
    fn escape(&mut self) -> PResult<String> {
        let mut count = 0;
        while self.kind(0)? == Kind::DoubleEscape {
            self.next()?;
            count += 1;
        }
        let next = self.peek(0)?.clone();
        let tag = self.image(&next).get(1..).unwrap_or("");
        let control = matches!(next.kind, Kind::If | Kind::Else | Kind::ElseIf | Kind::End)
            || self.is_known_name(tag);
        Ok((if control { "\\" } else { "\\\\" }).repeat(count))
    }

    /// `LOOKAHEAD(2) Reference()`
    fn reference_ahead(&mut self) -> PResult<bool> {
        Ok(match self.kind(0)? {
            Kind::Identifier => {
                self.peek(1)?;
                true
            }
            Kind::LCurly => self.kind(1)? == Kind::Identifier,
            _ => false,
        })
    }

    fn reference(&mut self) -> PResult<Reference> {
        self.enter()?;
        let first_idx = self.cur;
        let first = self.next()?;
        self.open.push(first.start);
        let formal = first.kind == Kind::LCurly;
        let id_tok = if formal {
            self.expect(Kind::Identifier)?
        } else if first.kind == Kind::Identifier {
            first.clone()
        } else {
            return Err(self.err(first.start, "reference expected"));
        };
        let mut parts = Vec::new();
        while self.kind(0)? == Kind::IndexLBracket {
            parts.push(Part::Index(self.index()?));
        }
        while self.kind(0)? == Kind::Dot && self.kind(1)? == Kind::Identifier {
            self.next()?;
            if self.method_ahead()? {
                parts.push(self.method()?);
            } else {
                let t = self.next()?;
                parts.push(Part::Prop(self.image(&t).into()));
            }
            while self.kind(0)? == Kind::IndexLBracket {
                parts.push(Part::Index(self.index()?));
            }
        }
        if formal {
            self.expect(Kind::RCurly)?;
        }
        self.open.pop();
        self.depth -= 1;
        let rest: String = self.toks[first_idx + 1..self.cur]
            .iter()
            .map(|t| t.literal(self.src))
            .collect();
        Ok(self.build_reference(&first, &id_tok, &rest, parts))
    }

    /// Velocity's `ASTReference.getRoot()`: escapes, prefixes and the reference type, all
    /// taken from the first token's image.
    fn build_reference(
        &mut self,
        first: &Token,
        id_tok: &Token,
        rest: &str,
        parts: Vec<Part>,
    ) -> Reference {
        let img = self.image(first);
        let special = first.special.as_deref().unwrap_or("");
        let mut r = Reference {
            kind: RefKind::Normal,
            root: "".into(),
            sym: 0,
            props: parts
                .iter()
                .take_while(|p| matches!(p, Part::Prop(_)))
                .count(),
            parts,
            escaped: false,
            esc_prefix: "".into(),
            more_prefix: "".into(),
            null_string: "".into(),
            literal: "".into(),
        };
        if img.contains("\\!") {
            // `$\!name`: one backslash is removed and the result is a non-computable name.
            let dollar = img.find('$').unwrap_or(0);
            let start = img[dollar..].find('\\').map_or(img.len(), |i| i + dollar);
            let count = img[start..].bytes().take_while(|&c| c == b'\\').count();
            let mut ns = img[..start].to_string();
            ns.push_str(&img[start..start + count.saturating_sub(1)]);
            ns.push_str(&img[start + count..]);
            let lit = format!("{special}{img}{rest}");
            r.sym = self.symbols.intern(&ns);
            r.root = ns.clone().into();
            r.null_string = ns.into();
            r.literal = lit.into();
            return r;
        }
        let slashes = img.bytes().take_while(|&c| c == b'\\').count();
        r.escaped = slashes % 2 == 1;
        r.esc_prefix = img[..slashes / 2].into();
        let mut image = &img[slashes..];
        if let Some(loc) = image.rfind('$').filter(|&l| l > 0) {
            r.more_prefix = image[..loc].into();
            image = &image[loc..];
        }
        let literal: Box<str> = format!("{special}{image}{rest}").into();
        r.null_string = literal.clone();
        r.literal = literal;
        let id = self.image(id_tok);
        if image.starts_with("$!") {
            // `$!{` is the whole first token of a quiet formal reference.
            r.kind = RefKind::Quiet;
            if !r.escaped {
                r.null_string = "".into();
            }
            r.root = match image.strip_prefix("$!") {
                Some("{") => id.into(),
                Some(name) => name.into(),
                None => "".into(),
            };
        } else if image == "${" {
            r.kind = RefKind::Formal;
            r.root = id.into();
        } else if let Some(name) = image.strip_prefix('$') {
            r.root = name.into();
        } else {
            r.kind = RefKind::Runt;
            r.root = image.into();
        }
        r.sym = self.symbols.intern(&r.root);
        r
    }

    /// `LOOKAHEAD(3) Method()`: identifier, `(`, and a token that can follow.
    fn method_ahead(&mut self) -> PResult<bool> {
        use Kind::*;
        if self.kind(0)? != Identifier || self.kind(1)? != LParen {
            return Ok(false);
        }
        Ok(matches!(
            self.kind(2)?,
            RefMod2RParen
                | Whitespace
                | StringLiteral
                | IntegerLiteral
                | FloatLiteral
                | LBracket
                | LeftCurley
                | True
                | False
                | Identifier
                | LCurly
        ))
    }

    fn method(&mut self) -> PResult<Part> {
        let name = self.next()?;
        self.expect(Kind::LParen)?;
        let mut args = Vec::new();
        if self.kind(0)? != Kind::RefMod2RParen {
            args.push(self.parameter()?);
            while self.opt(Kind::Comma)? {
                args.push(self.parameter()?);
            }
        }
        self.expect(Kind::RefMod2RParen)?;
        Ok(Part::Method(self.image(&name).into(), args))
    }

    fn index(&mut self) -> PResult<Expr> {
        use Kind::*;
        self.expect(IndexLBracket)?;
        self.opt(Whitespace)?;
        let e = match self.kind(0)? {
            StringLiteral => self.string_literal()?,
            IntegerLiteral => self.integer()?,
            True | False => Expr::Bool(self.next()?.kind == True),
            Identifier | LCurly => Expr::Ref(Box::new(self.reference()?)),
            _ => return Err(self.unexpected(0)),
        };
        self.opt(Whitespace)?;
        self.expect(IndexRBracket)?;
        Ok(e)
    }

    /// `Parameter()`: an argument of a method call or an element of a list/map literal.
    fn parameter(&mut self) -> PResult<Expr> {
        use Kind::*;
        self.opt(Whitespace)?;
        let e = match self.kind(0)? {
            StringLiteral => self.string_literal()?,
            IntegerLiteral => self.integer()?,
            LBracket if self.range_ahead()? => self.range()?,
            LeftCurley => self.map()?,
            LBracket => self.list()?,
            True | False => Expr::Bool(self.next()?.kind == True),
            Identifier | LCurly => Expr::Ref(Box::new(self.reference()?)),
            FloatLiteral => self.float()?,
            _ => return Err(self.unexpected(0)),
        };
        self.opt(Whitespace)?;
        Ok(e)
    }

    /// `LOOKAHEAD(2) Parameter()`
    fn parameter_ahead(&mut self) -> PResult<bool> {
        use Kind::*;
        let start = |k: Kind| {
            matches!(
                k,
                StringLiteral
                    | IntegerLiteral
                    | LBracket
                    | LeftCurley
                    | True
                    | False
                    | Identifier
                    | LCurly
                    | FloatLiteral
            )
        };
        Ok(match self.kind(0)? {
            Whitespace => start(self.kind(1)?),
            LCurly => self.kind(1)? == Identifier,
            k => start(k),
        })
    }

    /// `LOOKAHEAD([ [ws] (Reference() | IntegerLiteral()) [ws] ..)`: tried by parsing.
    fn range_ahead(&mut self) -> PResult<bool> {
        let save = self.cur;
        let ok = self.range_prefix().unwrap_or(false);
        self.cur = save;
        Ok(ok)
    }

    fn range_prefix(&mut self) -> PResult<bool> {
        self.expect(Kind::LBracket)?;
        self.opt(Kind::Whitespace)?;
        self.range_end()?;
        self.opt(Kind::Whitespace)?;
        Ok(self.kind(0)? == Kind::DoubleDot)
    }

    fn range_end(&mut self) -> PResult<Expr> {
        match self.kind(0)? {
            Kind::IntegerLiteral => self.integer(),
            Kind::Identifier | Kind::LCurly => Ok(Expr::Ref(Box::new(self.reference()?))),
            _ => Err(self.unexpected(0)),
        }
    }

    fn range(&mut self) -> PResult<Expr> {
        self.expect(Kind::LBracket)?;
        self.opt(Kind::Whitespace)?;
        let a = self.range_end()?;
        self.opt(Kind::Whitespace)?;
        self.expect(Kind::DoubleDot)?;
        self.opt(Kind::Whitespace)?;
        let b = self.range_end()?;
        self.opt(Kind::Whitespace)?;
        self.expect(Kind::RBracket)?;
        Ok(Expr::Range(Box::new(a), Box::new(b)))
    }

    fn list(&mut self) -> PResult<Expr> {
        self.enter()?;
        self.expect(Kind::LBracket)?;
        let mut items = Vec::new();
        if self.kind(0)? != Kind::RBracket {
            items.push(self.parameter()?);
            while self.opt(Kind::Comma)? {
                items.push(self.parameter()?);
            }
        }
        self.expect(Kind::RBracket)?;
        self.depth -= 1;
        Ok(Expr::List(items))
    }

    fn map(&mut self) -> PResult<Expr> {
        self.enter()?;
        self.expect(Kind::LeftCurley)?;
        let mut entries = Vec::new();
        if self.parameter_ahead()? {
            loop {
                let k = self.parameter()?;
                self.expect(Kind::Colon)?;
                let v = self.parameter()?;
                entries.push((k, v));
                if !self.opt(Kind::Comma)? {
                    break;
                }
            }
        } else {
            self.opt(Kind::Whitespace)?;
        }
        if !self.opt(Kind::RightCurley)? {
            self.expect(Kind::RCurly)?;
        }
        self.depth -= 1;
        Ok(Expr::Map(entries))
    }

    fn integer(&mut self) -> PResult<Expr> {
        let t = self.next()?;
        let img = self.image(&t);
        Ok(match img.parse::<i64>() {
            Ok(v) => Expr::Int(v),
            Err(_) => Expr::Float(img.parse().unwrap_or(f64::NAN)),
        })
    }

    fn float(&mut self) -> PResult<Expr> {
        let t = self.next()?;
        Ok(Expr::Float(self.image(&t).parse().unwrap_or(f64::NAN)))
    }

    fn string_literal(&mut self) -> PResult<Expr> {
        let t = self.next()?;
        let img = self.image(&t);
        let q = img.as_bytes()[0];
        let body = &img[1..img.len() - 1];
        let mut text = if q == b'"' {
            unescape_unicode(body)
        } else {
            body.to_string()
        };
        let qs = if q == b'"' { "\"\"" } else { "''" };
        if text.contains(qs) {
            text = text.replace(qs, &qs[..1]);
        }
        let interp = if q == b'"' && (img.contains('$') || img.contains('#')) {
            let has_comment = text.contains("##");
            let mut source = text.clone();
            if !has_comment {
                source.push(' ');
            }
            let (block, macros) = parse_in(&source, self.symbols)
                .map_err(|e| self.err(t.start, format!("in string literal: {}", e.message)))?;
            self.macros.extend(macros);
            Some(Box::new(Interp {
                block,
                strip_last: !has_comment,
            }))
        } else {
            None
        };
        Ok(Expr::Str(text.into(), interp))
    }

    fn set_directive(&mut self) -> PResult<Node> {
        let t = self.expect(Kind::SetDirective)?;
        self.open.push(t.start);
        self.opt(Kind::Whitespace)?;
        if !matches!(self.kind(0)?, Kind::Identifier | Kind::LCurly) {
            return Err(self.unexpected(0));
        }
        let left = self.reference()?;
        self.opt(Kind::Whitespace)?;
        self.expect(Kind::Equals)?;
        let (right, _) = self.expression()?;
        self.expect(Kind::RParen)?;
        self.open.pop();
        self.lx.in_set = false;
        Ok(Node::Set(Box::new(left), right))
    }

    fn if_statement(&mut self) -> PResult<Node> {
        let t = self.expect(Kind::If)?;
        self.open.push(t.start);
        let mut branches = Vec::new();
        self.opt(Kind::Whitespace)?;
        self.expect(Kind::LParen)?;
        let (cond, _) = self.expression()?;
        self.expect(Kind::RParen)?;
        branches.push((cond, self.statements()?));
        while self.kind(0)? == Kind::ElseIf {
            self.next()?;
            self.opt(Kind::Whitespace)?;
            self.expect(Kind::LParen)?;
            let (cond, _) = self.expression()?;
            self.expect(Kind::RParen)?;
            branches.push((cond, self.statements()?));
        }
        let otherwise = if self.opt(Kind::Else)? {
            Some(self.statements()?)
        } else {
            None
        };
        self.expect(Kind::End)?;
        self.open.pop();
        Ok(Node::If(branches, otherwise))
    }

    /// The images of the tokens from index `from` to the last one consumed.
    fn images_from(&self, from: usize) -> String {
        self.toks[from..self.cur]
            .iter()
            .map(|t| self.image(t))
            .collect()
    }

    fn directive(&mut self) -> PResult<Node> {
        use Kind::*;
        let first_idx = self.cur;
        let t = self.next()?;
        self.open.push(t.start);
        let img = self.image(&t);
        let name: &str = if t.kind == BracketedWord {
            img.get(2..img.len() - 1).unwrap_or("")
        } else {
            &img[1..]
        };
        let builtin = directive_kind(name);
        let is_macro_def = name == "macro";
        let block = match builtin {
            Some((_, b)) => b,
            None => name.starts_with('@'),
        };
        self.lx.switch_to(State::Directive);
        let mut args = Vec::new();
        let mut has_word_arg = false;
        let mut arg_tokens: Vec<Token> = Vec::new();
        let end;
        if self.lx.left_paren_follows() {
            self.opt(Whitespace)?;
            self.expect(LParen)?;
            while self.directive_arg_ahead()? {
                self.opt(Whitespace)?;
                if self.opt(Comma)? {
                    self.opt(Whitespace)?;
                }
                let pos = args.len();
                arg_tokens.push(self.peek(0)?.clone());
                let arg = self.directive_arg()?;
                if matches!(arg, Expr::Word(_)) {
                    if is_macro_def && pos == 0 {
                    } else if builtin.is_some() && (name != "foreach" || pos != 1) {
                        return Err(
                            self.err(t.start, format!("invalid arg #{pos} in directive {img}"))
                        );
                    } else {
                        has_word_arg = true;
                    }
                } else if is_macro_def && pos == 0 {
                    return Err(self.err(
                        t.start,
                        "the first argument of #macro() must be the macro name",
                    ));
                }
                args.push(arg);
            }
            self.opt(Whitespace)?;
            end = self.expect(RParen)?.end;
        } else {
            if is_macro_def {
                return Err(self.err(t.start, "a macro declaration requires a name"));
            }
            self.lx.pop();
            self.open.pop();
            let literal = img.to_string();
            return self.finish_directive(&t, name, builtin, args, None, has_word_arg, literal);
        }
        if !block {
            self.open.pop();
            let literal = self.images_from(first_idx);
            return self.finish_directive(&t, name, builtin, args, None, has_word_arg, literal);
        }
        let body_start = end;
        let body = self.statements()?;
        let end_tok = self.expect(End)?;
        self.open.pop();
        if is_macro_def {
            let Some(first) = arg_tokens.first() else {
                return Err(self.err(
                    t.start,
                    "the first argument of #macro() must be the macro name",
                ));
            };
            let macro_name = self.image(first).to_string();
            let params = arg_tokens[1..]
                .iter()
                .map(|a| {
                    let i = self.image(a);
                    self.symbols.intern(i.strip_prefix('$').unwrap_or(i))
                })
                .collect();
            self.macro_names.insert(macro_name.clone());
            self.macros.push(Arc::new(MacroDef {
                name: macro_name.into(),
                params,
                body,
            }));
            return self.finish_directive(
                &t,
                name,
                builtin,
                Vec::new(),
                None,
                false,
                String::new(),
            );
        }
        let literal = if builtin.is_some_and(|(k, _)| k == DirKind::Literal) {
            self.src[body_start..end_tok.start].to_string()
        } else {
            self.images_from(first_idx)
        };
        self.finish_directive(&t, name, builtin, args, Some(body), has_word_arg, literal)
    }

    #[allow(clippy::too_many_arguments)]
    fn finish_directive(
        &mut self,
        t: &Token,
        name: &str,
        builtin: Option<(DirKind, bool)>,
        args: Vec<Expr>,
        body: Option<Block>,
        has_word_arg: bool,
        literal: String,
    ) -> PResult<Node> {
        let kind = match builtin {
            Some((k, _)) => k,
            None if name.starts_with('@') => {
                if body.is_some() {
                    DirKind::BlockMacroCall
                } else {
                    DirKind::Unknown
                }
            }
            None => DirKind::MacroCall,
        };
        let nargs = args.len();
        let bad = match kind {
            DirKind::Define => nargs != 1 || body.is_none(),
            DirKind::Evaluate => nargs != 1 || !matches!(args[0], Expr::Str(..) | Expr::Ref(_)),
            DirKind::Break | DirKind::Stop => nargs > 1,
            DirKind::Literal | DirKind::Foreach => body.is_none(),
            _ => false,
        };
        if bad {
            return Err(self.err(t.start, format!("invalid arguments to #{name}")));
        }
        if kind == DirKind::Evaluate {
            self.symbols.name_all();
        }
        let name = if kind == DirKind::BlockMacroCall {
            &name[1..]
        } else {
            name
        };
        let var = match args.first() {
            Some(Expr::Ref(r)) => r.sym,
            Some(Expr::Word(w)) if kind == DirKind::Foreach => {
                self.symbols.intern(w.get(1..).unwrap_or(""))
            }
            _ => 0,
        };
        Ok(Node::Directive(Box::new(Directive {
            name: name.into(),
            kind,
            args: args.into(),
            var,
            body: body.map(Arc::new),
            literal: literal.into(),
            has_word_arg,
        })))
    }

    /// `LOOKAHEAD(2) [ws] [, [ws]] DirectiveArg()`
    fn directive_arg_ahead(&mut self) -> PResult<bool> {
        use Kind::*;
        let start = |k: Kind| {
            matches!(
                k,
                Identifier
                    | LCurly
                    | Word
                    | StringLiteral
                    | IntegerLiteral
                    | LBracket
                    | FloatLiteral
                    | LeftCurley
                    | True
                    | False
            )
        };
        Ok(match self.kind(0)? {
            Whitespace | Comma => {
                let k1 = self.kind(1)?;
                k1 == Comma || k1 == Whitespace || start(k1)
            }
            LCurly => self.kind(1)? == Identifier,
            k => start(k),
        })
    }

    fn directive_arg(&mut self) -> PResult<Expr> {
        use Kind::*;
        match self.kind(0)? {
            Identifier | LCurly => Ok(Expr::Ref(Box::new(self.reference()?))),
            Word => {
                let t = self.next()?;
                Ok(Expr::Word(self.image(&t).into()))
            }
            StringLiteral => self.string_literal(),
            IntegerLiteral => self.integer(),
            LBracket if self.range_ahead()? => self.range(),
            FloatLiteral => self.float(),
            LeftCurley => self.map(),
            LBracket => self.list(),
            True | False => Ok(Expr::Bool(self.next()?.kind == True)),
            _ => Err(self.unexpected(0)),
        }
    }

    /// An expression and its text as written (from its first token after any leading
    /// whitespace is included, as Velocity records it).
    fn expression(&mut self) -> PResult<(Expr, Box<str>)> {
        self.enter_by(EXPR_COST)?;
        let r = self.binary(0);
        self.depth -= EXPR_COST;
        r
    }

    /// Precedence climbing over Velocity's levels: `||`, `&&`, `== !=`, `< > <= >=`,
    /// `+ -`, `* / %`.
    fn binary(&mut self, level: usize) -> PResult<(Expr, Box<str>)> {
        use Kind::*;
        if level == 6 {
            return self.unary();
        }
        let (mut left, mut left_lit) = self.binary(level + 1)?;
        loop {
            let op = match (level, self.kind(0)?) {
                (0, Or) => BinOp::Or,
                (1, And) => BinOp::And,
                (2, Eq) => BinOp::Eq,
                (2, Ne) => BinOp::Ne,
                (3, Lt) => BinOp::Lt,
                (3, Gt) => BinOp::Gt,
                (3, Le) => BinOp::Le,
                (3, Ge) => BinOp::Ge,
                (4, Plus) => BinOp::Add,
                (4, Minus) => BinOp::Sub,
                (5, Multiply) => BinOp::Mul,
                (5, Divide) => BinOp::Div,
                (5, Modulus) => BinOp::Mod,
                _ => return Ok((left, left_lit)),
            };
            self.next()?;
            let (right, right_lit) = self.binary(level + 1)?;
            let lit = right_lit.clone();
            left = Expr::Bin(op, Box::new((left, right)), Box::new((left_lit, right_lit)));
            left_lit = lit;
        }
    }

    fn unary(&mut self) -> PResult<(Expr, Box<str>)> {
        use Kind::*;
        let not = match self.kind(0)? {
            Not => true,
            Whitespace => self.kind(1)? == Not,
            _ => false,
        };
        if not {
            self.enter()?;
            let start = self.peek(0)?.start;
            self.opt(Whitespace)?;
            self.expect(Not)?;
            let (e, _) = self.unary()?;
            self.depth -= 1;
            let end = self.toks[self.cur - 1].end;
            return Ok((Expr::Not(Box::new(e)), self.src[start..end].into()));
        }
        self.primary()
    }

    fn primary(&mut self) -> PResult<(Expr, Box<str>)> {
        use Kind::*;
        let ws_start = self.peek(0)?.start;
        self.opt(Whitespace)?;
        let start = self.peek(0)?.start;
        let (e, lit) = match self.kind(0)? {
            StringLiteral => (self.string_literal()?, None),
            Identifier | LCurly => {
                let r = self.reference()?;
                let lit = r.literal.clone();
                (Expr::Ref(Box::new(r)), Some(lit))
            }
            IntegerLiteral => (self.integer()?, None),
            LBracket if self.range_ahead()? => (self.range()?, None),
            FloatLiteral => (self.float()?, None),
            LeftCurley => (self.map()?, None),
            LBracket => (self.list()?, None),
            True | False => (Expr::Bool(self.next()?.kind == True), None),
            LParen => {
                self.next()?;
                let (e, lit) = self.expression()?;
                self.expect(RParen)?;
                (Expr::Group(Box::new(e)), Some(lit))
            }
            _ => return Err(self.unexpected(0)),
        };
        let end = self.toks[self.cur - 1].end;
        self.opt(Whitespace)?;
        let lit = lit.unwrap_or_else(|| self.src[start.max(ws_start)..end].into());
        Ok((e, lit))
    }
}

/// What a comment token renders: the text before `##` (or `#*`), which is a prefix such as
/// `$` that the lexer accumulated into the comment.
fn comment_text(img: &str) -> String {
    let loc = img.find("##").or_else(|| img.find("#*"));
    match loc {
        Some(i) => img[..i].to_string(),
        None => String::new(),
    }
}

/// `\uXXXX` escapes of double-quoted strings (the only escapes Velocity 1.7 decodes).
fn unescape_unicode(s: &str) -> String {
    if !s.contains("\\u") {
        return s.to_string();
    }
    let mut units: Vec<u16> = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("\\u") {
        units.extend(rest[..i].encode_utf16());
        let hex = rest
            .get(i + 2..i + 6)
            .and_then(|h| u16::from_str_radix(h, 16).ok());
        match hex {
            Some(u) => {
                units.push(u);
                rest = &rest[i + 6..];
            }
            None => {
                units.extend("\\u".encode_utf16());
                rest = &rest[i + 2..];
            }
        }
    }
    units.extend(rest.encode_utf16());
    String::from_utf16_lossy(&units)
}
