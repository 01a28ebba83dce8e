//! Tokenizer for Velocity 1.7 templates.
//!
//! Velocity's lexer is a state machine: `$` enters reference states, `#` the directive
//! states, `(`/`)` are counted per state, and every state has its own token rules, matched
//! longest first (ties go to the rule declared first, i.e. the lower [`Kind`]). Some rules
//! only accumulate ("more") text into the next token, some are skipped (comment bodies),
//! and reference/directive terminators become "special" tokens whose `$`/`#` characters
//! plain text keeps. Whitespace and newline handling of directives falls out of these
//! rules, so they are reproduced exactly.

/// Token kinds, numbered as in Velocity's grammar: on equal match length the lower wins.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) enum Kind {
    Eof = 0,
    IndexLBracket = 1,
    IndexRBracket = 2,
    LBracket = 3,
    RBracket = 4,
    Comma = 5,
    DoubleDot = 6,
    Colon = 7,
    LeftCurley = 8,
    RightCurley = 9,
    LParen = 10,
    RParen = 11,
    RefMod2RParen = 12,
    EscapeDirective = 13,
    SetDirective = 14,
    Dollar = 15,
    DollarBang = 16,
    TextblockStart = 17,
    FormalCommentStart = 18,
    MultiCommentStart = 19,
    Hash = 20,
    SingleLineCommentStart = 21,
    DoubleEscape = 22,
    Escape = 23,
    Text = 24,
    SingleLineComment = 25,
    FormalComment = 26,
    MultiLineComment = 27,
    Textblock = 28,
    CommentChar = 29,
    TextblockChar = 30,
    Whitespace = 31,
    StringLiteral = 32,
    True = 33,
    False = 34,
    Minus = 36,
    Plus = 37,
    Multiply = 38,
    Divide = 39,
    Modulus = 40,
    And = 41,
    Or = 42,
    Lt = 43,
    Le = 44,
    Gt = 45,
    Ge = 46,
    Eq = 47,
    Ne = 48,
    Not = 49,
    Equals = 50,
    End = 51,
    If = 52,
    ElseIf = 53,
    Else = 54,
    IntegerLiteral = 56,
    FloatLiteral = 57,
    Word = 61,
    BracketedWord = 62,
    Identifier = 66,
    Dot = 67,
    LCurly = 68,
    RCurly = 69,
    RefTerminator = 70,
    DirTerminator = 71,
    EmptyIndex = 72,
}

use Kind::*;

/// Lexical states.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum State {
    Reference,
    RefModifier,
    RefIndex,
    Directive,
    RefMod2,
    Default,
    InTextblock,
    InMultiLineComment,
    InFormalComment,
    InSingleLineComment,
    PreDirective,
}

/// Rules that accumulate into the following token.
const MORE: [Kind; 6] = [
    Dollar,
    DollarBang,
    TextblockStart,
    FormalCommentStart,
    MultiCommentStart,
    Hash,
];

/// The rules of each state, in ascending kind order.
fn rules(state: State) -> &'static [Kind] {
    match state {
        State::Reference => &[
            IndexLBracket,
            SetDirective,
            Dollar,
            DollarBang,
            TextblockStart,
            FormalCommentStart,
            MultiCommentStart,
            Hash,
            SingleLineCommentStart,
            True,
            False,
            Identifier,
            Dot,
            LCurly,
            RCurly,
            RefTerminator,
            EmptyIndex,
        ],
        State::RefModifier => &[
            IndexLBracket,
            LParen,
            SetDirective,
            Dollar,
            DollarBang,
            TextblockStart,
            FormalCommentStart,
            MultiCommentStart,
            Hash,
            True,
            False,
            Identifier,
            Dot,
            LCurly,
            RCurly,
            RefTerminator,
        ],
        State::RefIndex => &[
            IndexRBracket,
            Dollar,
            DollarBang,
            TextblockStart,
            FormalCommentStart,
            MultiCommentStart,
            Hash,
            Whitespace,
            StringLiteral,
            True,
            False,
            IntegerLiteral,
            FloatLiteral,
        ],
        State::Directive => &[
            LBracket,
            RBracket,
            Comma,
            DoubleDot,
            Colon,
            LeftCurley,
            RightCurley,
            LParen,
            RParen,
            Dollar,
            DollarBang,
            TextblockStart,
            FormalCommentStart,
            MultiCommentStart,
            Hash,
            SingleLineCommentStart,
            Whitespace,
            StringLiteral,
            True,
            False,
            Minus,
            Plus,
            Multiply,
            Divide,
            Modulus,
            And,
            Or,
            Lt,
            Le,
            Gt,
            Ge,
            Eq,
            Ne,
            Not,
            Equals,
            IntegerLiteral,
            FloatLiteral,
            Word,
            BracketedWord,
        ],
        State::RefMod2 => &[
            LBracket,
            RBracket,
            Comma,
            DoubleDot,
            Colon,
            LeftCurley,
            RightCurley,
            RefMod2RParen,
            SetDirective,
            Dollar,
            DollarBang,
            TextblockStart,
            FormalCommentStart,
            MultiCommentStart,
            Hash,
            Whitespace,
            StringLiteral,
            True,
            False,
            IntegerLiteral,
            FloatLiteral,
            Identifier,
            Dot,
        ],
        State::Default => &[
            EscapeDirective,
            SetDirective,
            Dollar,
            DollarBang,
            TextblockStart,
            FormalCommentStart,
            MultiCommentStart,
            Hash,
            SingleLineCommentStart,
            DoubleEscape,
            Escape,
            Text,
            EmptyIndex,
        ],
        State::InTextblock => &[
            Dollar,
            DollarBang,
            TextblockStart,
            FormalCommentStart,
            MultiCommentStart,
            Hash,
            Textblock,
            TextblockChar,
        ],
        State::InMultiLineComment => &[
            Dollar,
            DollarBang,
            TextblockStart,
            FormalCommentStart,
            MultiCommentStart,
            Hash,
            MultiLineComment,
            CommentChar,
        ],
        State::InFormalComment => &[
            Dollar,
            DollarBang,
            TextblockStart,
            FormalCommentStart,
            MultiCommentStart,
            Hash,
            FormalComment,
            CommentChar,
        ],
        State::InSingleLineComment => &[
            Dollar,
            DollarBang,
            TextblockStart,
            FormalCommentStart,
            MultiCommentStart,
            Hash,
            SingleLineComment,
            CommentChar,
        ],
        State::PreDirective => &[
            Dollar,
            DollarBang,
            TextblockStart,
            FormalCommentStart,
            MultiCommentStart,
            Hash,
            SingleLineCommentStart,
            End,
            If,
            ElseIf,
            Else,
            IntegerLiteral,
            FloatLiteral,
            Word,
            BracketedWord,
            DirTerminator,
        ],
    }
}

/// A token: its kind, its source span (including any accumulated prefix such as `$` or
/// `\\$`), and the text kept from special tokens right before it.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
    /// `$`/`#` characters (and escaped `$`) of preceding terminators; see [`Token::literal`].
    pub special: Option<Box<str>>,
}

impl Token {
    pub fn image<'s>(&self, src: &'s str) -> &'s str {
        &src[self.start..self.end]
    }

    /// The text a plain-text token renders: special text, then the image.
    pub fn literal(&self, src: &str) -> String {
        let mut s = String::new();
        if let Some(sp) = &self.special {
            s.push_str(sp);
        }
        s.push_str(self.image(src));
        s
    }
}

/// A lexical error: no rule matches at `at`, or the input ends inside a construct.
#[derive(Debug)]
pub(crate) struct LexError {
    pub at: usize,
}

#[derive(Clone, Copy)]
struct Saved {
    lparen: u32,
    rparen: u32,
    state: State,
}

pub(crate) struct Lexer<'s> {
    src: &'s str,
    b: &'s [u8],
    pos: usize,
    state: State,
    stack: Vec<Saved>,
    lparen: u32,
    rparen: u32,
    in_comment: bool,
    pub in_set: bool,
}

fn is_letter(c: u8) -> bool {
    c.is_ascii_alphabetic()
}

fn is_directive_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'@'
}

impl<'s> Lexer<'s> {
    pub fn new(src: &'s str) -> Self {
        Lexer {
            src,
            b: src.as_bytes(),
            pos: 0,
            state: State::Default,
            stack: Vec::new(),
            lparen: 0,
            rparen: 0,
            in_comment: false,
            in_set: false,
        }
    }

    pub fn switch_to(&mut self, s: State) {
        self.state = s;
    }

    pub fn push(&mut self) {
        self.stack.push(Saved {
            lparen: self.lparen,
            rparen: self.rparen,
            state: self.state,
        });
        self.lparen = 0;
    }

    pub fn pop(&mut self) -> bool {
        match self.stack.pop() {
            Some(s) => {
                self.lparen = s.lparen;
                self.rparen = s.rparen;
                self.state = s.state;
                true
            }
            None => {
                self.lparen = 0;
                self.state = State::Default;
                false
            }
        }
    }

    fn rparen_handler(&mut self) {
        if self.in_comment {
            return;
        }
        loop {
            if self.lparen > 0 {
                if self.lparen == self.rparen + 1 {
                    self.pop();
                } else {
                    self.rparen += 1;
                }
                return;
            }
            if !self.pop() {
                return;
            }
        }
    }

    /// Whether `(` follows, after optional whitespace, at the current position.
    pub fn left_paren_follows(&self) -> bool {
        for &c in &self.b[self.pos..] {
            match c {
                b'(' => return true,
                b' ' | b'\n' | b'\r' | b'\t' => {}
                _ => return false,
            }
        }
        false
    }

    fn char_len(&self, at: usize) -> usize {
        self.src[at..].chars().next().map_or(0, char::len_utf8)
    }

    fn newline_len(&self, at: usize) -> usize {
        match self.b.get(at) {
            Some(b'\r') if self.b.get(at + 1) == Some(&b'\n') => 2,
            Some(b'\n' | b'\r') => 1,
            _ => 0,
        }
    }

    fn lit(&self, at: usize, s: &str) -> usize {
        if self.b[at..].starts_with(s.as_bytes()) {
            s.len()
        } else {
            0
        }
    }

    /// A keyword that also swallows trailing blanks and one newline (`#end`, `#else`).
    fn keyword_nl(&self, at: usize, plain: &str, braced: &str) -> usize {
        let n = self.lit(at, plain).max(self.lit(at, braced));
        if n == 0 {
            return 0;
        }
        let mut j = at + n;
        while matches!(self.b.get(j), Some(b' ' | b'\t')) {
            j += 1;
        }
        match self.newline_len(j) {
            0 => n,
            nl => j + nl - at,
        }
    }

    fn digits(&self, mut j: usize) -> usize {
        while self.b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        j
    }

    fn exponent(&self, j: usize) -> usize {
        if !matches!(self.b.get(j), Some(b'e' | b'E')) {
            return j;
        }
        let mut k = j + 1;
        if matches!(self.b.get(k), Some(b'+' | b'-')) {
            k += 1;
        }
        let e = self.digits(k);
        if e > k {
            e
        } else {
            j
        }
    }

    fn float_len(&self, at: usize) -> usize {
        let s = if self.b.get(at) == Some(&b'-') {
            at + 1
        } else {
            at
        };
        let d = self.digits(s);
        let mut best = 0;
        if d > s {
            if self.b.get(d) == Some(&b'.') {
                let f = self.digits(d + 1);
                best = best.max(self.exponent(f) - at);
            }
            let e = self.exponent(d);
            if e > d {
                best = best.max(e - at);
            }
        } else if self.b.get(s) == Some(&b'.') {
            let f = self.digits(s + 1);
            if f > s + 1 {
                best = best.max(self.exponent(f) - at);
            }
        }
        best
    }

    fn string_len(&self, at: usize) -> usize {
        let q = match self.b.get(at) {
            Some(&c @ (b'"' | b'\'')) => c,
            _ => return 0,
        };
        let mut j = at + 1;
        let mut accept = 0;
        while j < self.b.len() {
            if self.b[j] == q {
                accept = j + 1 - at;
                if self.b.get(j + 1) == Some(&q) {
                    j += 2;
                    continue;
                }
                break;
            }
            j += 1;
        }
        accept
    }

    fn word_len(&self, at: usize) -> usize {
        match self.b.get(at) {
            Some(&c) if is_letter(c) || c == b'_' || c == b'@' => {
                let mut j = at + 1;
                while self.b.get(j).is_some_and(|&c| is_directive_char(c)) {
                    j += 1;
                }
                j - at
            }
            _ => 0,
        }
    }

    fn bracketed_word_len(&self, at: usize) -> usize {
        if self.b.get(at) != Some(&b'{') {
            return 0;
        }
        match self.b.get(at + 1) {
            Some(&c) if is_letter(c) || c == b'_' => {
                let mut j = at + 2;
                while self.b.get(j).is_some_and(|&c| is_directive_char(c)) {
                    j += 1;
                }
                if self.b.get(j) == Some(&b'}') {
                    j + 1 - at
                } else {
                    0
                }
            }
            _ => 0,
        }
    }

    /// Length of the match of rule `k` at `at` (0 = no match).
    fn match_len(&self, k: Kind, at: usize) -> usize {
        let b = self.b;
        let c = b[at];
        match k {
            Eof => 0,
            IndexLBracket | LBracket => usize::from(c == b'['),
            IndexRBracket | RBracket => usize::from(c == b']'),
            Comma => usize::from(c == b','),
            DoubleDot => self.lit(at, ".."),
            Colon => usize::from(c == b':'),
            LeftCurley | LCurly => usize::from(c == b'{'),
            RightCurley | RCurly => usize::from(c == b'}'),
            LParen => usize::from(c == b'('),
            RefMod2RParen => usize::from(c == b')'),
            RParen => {
                if c != b')' {
                    return 0;
                }
                let mut j = at + 1;
                while matches!(b.get(j), Some(b' ' | b'\t')) {
                    j += 1;
                }
                match self.newline_len(j) {
                    0 => 1,
                    nl => j + nl - at,
                }
            }
            EscapeDirective => {
                let mut j = at;
                while b.get(j) == Some(&b'\\') {
                    j += 1;
                }
                let n = j - at;
                if n.is_multiple_of(2) || b.get(j) != Some(&b'#') {
                    return 0;
                }
                let w = self.word_len(j + 1).max(self.bracketed_word_len(j + 1));
                if w == 0 {
                    0
                } else {
                    j + 1 + w - at
                }
            }
            SetDirective => {
                let mut j = at;
                while matches!(b.get(j), Some(b' ' | b'\t')) {
                    j += 1;
                }
                let kw = self.lit(j, "#set").max(self.lit(j, "#{set}"));
                if kw == 0 {
                    return 0;
                }
                j += kw;
                while b.get(j) == Some(&b' ') {
                    j += 1;
                }
                if b.get(j) == Some(&b'(') {
                    j + 1 - at
                } else {
                    0
                }
            }
            Dollar | DollarBang => {
                let mut j = at;
                while b.get(j) == Some(&b'\\') {
                    j += 1;
                }
                if b.get(j) != Some(&b'$') {
                    return 0;
                }
                j += 1;
                if k == Dollar {
                    return j - at;
                }
                while b.get(j) == Some(&b'\\') {
                    j += 1;
                }
                if b.get(j) == Some(&b'!') {
                    j + 1 - at
                } else {
                    0
                }
            }
            TextblockStart => self.lit(at, "#[["),
            FormalCommentStart => {
                if self.lit(at, "#**") == 3 && b.len() > at + 3 && b[at + 3] != b'#' {
                    3 + self.char_len(at + 3)
                } else {
                    0
                }
            }
            MultiCommentStart => self.lit(at, "#*"),
            Hash => usize::from(c == b'#'),
            SingleLineCommentStart => self.lit(at, "##"),
            DoubleEscape => self.lit(at, "\\\\"),
            Escape => usize::from(c == b'\\'),
            Text => b[at..]
                .iter()
                .position(|c| matches!(c, b'$' | b'#' | b'\\'))
                .unwrap_or(b.len() - at),
            SingleLineComment => self.newline_len(at),
            FormalComment | MultiLineComment => self.lit(at, "*#"),
            Textblock => self.lit(at, "]]#"),
            CommentChar | TextblockChar | RefTerminator | DirTerminator => self.char_len(at),
            Whitespace => b[at..]
                .iter()
                .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(b.len() - at),
            StringLiteral => self.string_len(at),
            True => self.lit(at, "true"),
            False => self.lit(at, "false"),
            Minus => usize::from(c == b'-'),
            Plus => usize::from(c == b'+'),
            Multiply => usize::from(c == b'*'),
            Divide => usize::from(c == b'/'),
            Modulus => usize::from(c == b'%'),
            And => self.lit(at, "&&").max(self.lit(at, "and")),
            Or => self.lit(at, "||").max(self.lit(at, "or")),
            Lt => self.lit(at, "<").max(self.lit(at, "lt")),
            Le => self.lit(at, "<=").max(self.lit(at, "le")),
            Gt => self.lit(at, ">").max(self.lit(at, "gt")),
            Ge => self.lit(at, ">=").max(self.lit(at, "ge")),
            Eq => self.lit(at, "==").max(self.lit(at, "eq")),
            Ne => self.lit(at, "!=").max(self.lit(at, "ne")),
            Not => self.lit(at, "!").max(self.lit(at, "not")),
            Equals => usize::from(c == b'='),
            End => self.keyword_nl(at, "end", "{end}"),
            If => self.lit(at, "if").max(self.lit(at, "{if}")),
            ElseIf => self.lit(at, "elseif").max(self.lit(at, "{elseif}")),
            Else => self.keyword_nl(at, "else", "{else}"),
            IntegerLiteral => {
                let s = if c == b'-' { at + 1 } else { at };
                let d = self.digits(s);
                if d == s {
                    0
                } else {
                    d + self.lit(d, "..") - at
                }
            }
            FloatLiteral => self.float_len(at),
            Word => self.word_len(at),
            BracketedWord => self.bracketed_word_len(at),
            Identifier => {
                if !(is_letter(c) || c == b'_') {
                    return 0;
                }
                let mut j = at + 1;
                while b
                    .get(j)
                    .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
                {
                    j += 1;
                }
                j - at
            }
            Dot => {
                if c == b'.' && b.get(at + 1).is_some_and(|&c| is_letter(c)) {
                    2
                } else {
                    0
                }
            }
            EmptyIndex => self
                .lit(at, "$[")
                .max(self.lit(at, "$!["))
                .max(self.lit(at, "$\\!["))
                .max(self.lit(at, "$.")),
        }
    }

    fn longest(&self, at: usize) -> Option<(Kind, usize)> {
        let mut best: Option<(Kind, usize)> = None;
        for &k in rules(self.state) {
            let n = self.match_len(k, at);
            if n > 0 && best.is_none_or(|(_, m)| n > m) {
                best = Some((k, n));
            }
        }
        best
    }

    /// Runs the lexical action of `k` (matched up to `self.pos`). Inside comments and
    /// text blocks, the "more" rules only accumulate.
    fn action(&mut self, k: Kind) {
        let s = self.state;
        let live = !self.in_comment;
        match k {
            IndexLBracket => {
                self.push();
                self.state = State::RefIndex;
            }
            IndexRBracket | End | Else | RCurly => {
                self.pop();
            }
            LParen => {
                if live {
                    self.lparen += 1;
                }
                if s == State::RefModifier {
                    self.state = State::RefMod2;
                }
            }
            RParen => self.rparen_handler(),
            RefMod2RParen => self.state = State::Reference,
            SetDirective if live => {
                self.push();
                self.in_set = true;
                self.state = State::Directive;
                self.lparen += 1;
            }
            Dollar | DollarBang if live => {
                if s == State::Reference {
                    self.pop();
                }
                self.push();
                self.state = State::Reference;
            }
            TextblockStart | FormalCommentStart | MultiCommentStart if live => {
                if k == FormalCommentStart {
                    self.pos -= self.char_len_before(self.pos);
                }
                self.in_comment = true;
                self.push();
                self.state = match k {
                    TextblockStart => State::InTextblock,
                    FormalCommentStart => State::InFormalComment,
                    _ => State::InMultiLineComment,
                };
            }
            Hash if live => {
                if matches!(s, State::Reference | State::RefModifier) {
                    self.pop();
                }
                self.push();
                self.state = State::PreDirective;
            }
            SingleLineCommentStart if live => {
                if s == State::Reference {
                    self.pop();
                }
                self.in_comment = true;
                self.push();
                self.state = State::InSingleLineComment;
            }
            SingleLineComment | FormalComment | MultiLineComment | Textblock => {
                self.in_comment = false;
                self.pop();
            }
            StringLiteral if s == State::Directive && !self.in_set && self.lparen == 0 => {
                self.pop();
            }
            If | ElseIf => self.state = State::Directive,
            IntegerLiteral => {
                if self.b[..self.pos].ends_with(b"..") {
                    self.pos -= 2;
                }
                if self.lparen == 0 && !self.in_set && s != State::RefMod2 && s != State::RefIndex {
                    self.pop();
                }
            }
            FloatLiteral if self.lparen == 0 && !self.in_set && s != State::RefMod2 => {
                self.pop();
            }
            Dot => {
                self.pos -= 1;
                self.state = State::RefModifier;
            }
            RefTerminator | DirTerminator => {
                self.pos -= self.char_len_before(self.pos);
                self.pop();
            }
            _ => {}
        }
    }

    fn char_len_before(&self, at: usize) -> usize {
        self.src[..at].chars().next_back().map_or(0, char::len_utf8)
    }

    /// The next token (Velocity's `getNextToken`).
    pub fn next_token(&mut self) -> Result<Token, LexError> {
        let mut specials: Vec<(usize, usize)> = Vec::new();
        'token: loop {
            let start = self.pos;
            if start >= self.b.len() {
                return Ok(self.finish(Eof, start, start, &specials));
            }
            loop {
                let Some((k, n)) = self.longest(self.pos) else {
                    return Err(LexError { at: self.pos });
                };
                self.pos += n;
                match k {
                    CommentChar => continue 'token,
                    RefTerminator | DirTerminator => {
                        specials.push((start, self.pos));
                        self.action(k);
                        continue 'token;
                    }
                    k if MORE.contains(&k) || k == TextblockChar => {
                        self.action(k);
                        if self.pos >= self.b.len() {
                            return Err(LexError { at: self.pos });
                        }
                    }
                    _ => {
                        self.action(k);
                        // A dot's image is just "." (a `$!` before it is dropped).
                        let start = if k == Dot { self.pos - 1 } else { start };
                        return Ok(self.finish(k, start, self.pos, &specials));
                    }
                }
            }
        }
    }

    fn finish(&self, kind: Kind, start: usize, end: usize, specials: &[(usize, usize)]) -> Token {
        let special = match specials.last() {
            Some(&(s, e)) if !self.src[s..e].starts_with("##") => {
                let mut text = String::new();
                for &(s, e) in specials {
                    special_text(&self.src[s..e], &mut text);
                }
                (!text.is_empty()).then(|| text.into_boxed_str())
            }
            _ => None,
        };
        Token {
            kind,
            start,
            end,
            special,
        }
    }
}

/// What text keeps of a special token: its `#` and `$` characters and backslash runs that
/// end in `$` (the character after such a run is dropped, as Velocity does).
fn special_text(image: &str, out: &mut String) {
    let b = image.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'#' || c == b'$' {
            out.push(c as char);
        }
        if c == b'\\' {
            let mut j = i;
            while j < b.len() && b[j] == b'\\' {
                j += 1;
            }
            if j < b.len() && b[j] == b'$' {
                out.push_str(&image[i..=j]);
                i = j + 1;
            }
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(Kind, String)> {
        let mut lx = Lexer::new(src);
        let mut v = Vec::new();
        loop {
            let t = lx.next_token().expect("lexes");
            if t.kind == Eof {
                return v;
            }
            v.push((t.kind, t.literal(src)));
        }
    }

    #[test]
    fn references_carry_their_prefix() {
        assert_eq!(
            kinds("a $b.c(1)"),
            vec![
                (Text, "a ".into()),
                (Identifier, "$b".into()),
                (Dot, ".".into()),
                (Identifier, "c".into()),
                (LParen, "(".into()),
                (IntegerLiteral, "1".into()),
                (RefMod2RParen, ")".into()),
            ]
        );
        assert_eq!(kinds("\\\\$x")[0], (Identifier, "\\\\$x".into()));
    }

    #[test]
    fn terminators_leave_dollar_in_text() {
        assert_eq!(
            kinds("$1.50"),
            vec![(Text, "$1.50".into())],
            "the `$` survives as special text"
        );
    }

    #[test]
    fn directive_tokens_swallow_the_newline() {
        let k = kinds("#end  \nx");
        assert_eq!(k[0], (End, "#end  \n".into()));
        let k = kinds("  #set($a = 1)\n");
        assert_eq!(k[0].0, SetDirective);
        assert_eq!(k.last().cloned(), Some((RParen, ")\n".into())));
    }

    #[test]
    fn eof_inside_a_prefix_is_an_error() {
        assert!(Lexer::new("a$").next_token().is_ok());
        let mut lx = Lexer::new("a$");
        lx.next_token().ok();
        assert!(lx.next_token().is_err());
    }
}
