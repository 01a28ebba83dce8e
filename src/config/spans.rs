//! Where each key of the YAML file stands, so that semantic errors found after deserialization
//! can still be reported as `FILE:LINE:COL`. The file is walked once with a marked event parser
//! and every mapping key and sequence item is recorded under its path.

use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Seg {
    Key(String),
    Index(usize),
}

impl From<&str> for Seg {
    fn from(s: &str) -> Seg {
        Seg::Key(s.to_string())
    }
}
impl From<String> for Seg {
    fn from(s: String) -> Seg {
        Seg::Key(s)
    }
}
impl From<&String> for Seg {
    fn from(s: &String) -> Seg {
        Seg::Key(s.clone())
    }
}
impl From<usize> for Seg {
    fn from(i: usize) -> Seg {
        Seg::Index(i)
    }
}

/// Builds a path: `path!["restApis", 0, "resources", res]`.
#[macro_export]
macro_rules! path {
    ($($s:expr),* $(,)?) => { vec![$($crate::config::spans::Seg::from($s)),*] };
}

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// Path → position of the key (or sequence item) that starts it.
#[derive(Debug, Default)]
pub struct Spans {
    map: HashMap<Vec<Seg>, Pos>,
    /// Path → where a scalar value's text starts, for scalars whose lines map one to one
    /// onto the file's (plain, quoted and literal block scalars).
    values: HashMap<Vec<Seg>, ValueStart>,
}

/// The file position of a scalar's first character of text.
#[derive(Debug, Clone, Copy)]
struct ValueStart {
    pos: Pos,
    /// Literal block: every line starts at this column. Otherwise only the first line is
    /// placed (later lines of a flow scalar are re-indented by YAML).
    block: bool,
}

impl Spans {
    /// Indexes `text`; a syntax error leaves the index partial (the error itself is reported
    /// by the deserializer).
    pub fn index(text: &str) -> Spans {
        let mut walker = Walker::default();
        let mut parser = Parser::new_from_str(text);
        let _ = parser.load(&mut walker, false);
        Spans {
            map: walker.map,
            values: walker.values,
        }
    }

    /// The file position of `(line, column)` (1-based) inside the scalar value at `path`,
    /// or None when that text cannot be placed exactly (folded scalars, escapes aside).
    pub fn find_within(&self, path: &[Seg], line: usize, column: usize) -> Option<Pos> {
        let v = self.values.get(path)?;
        if v.block {
            return Some(Pos {
                line: v.pos.line + line - 1,
                column: v.pos.column + column - 1,
            });
        }
        (line == 1).then_some(Pos {
            line: v.pos.line,
            column: v.pos.column + column - 1,
        })
    }

    /// The position of `path`, or of its longest indexed prefix.
    pub fn find(&self, path: &[Seg]) -> Pos {
        for n in (0..=path.len()).rev() {
            if let Some(p) = self.map.get(&path[..n]) {
                return *p;
            }
        }
        Pos { line: 1, column: 1 }
    }
}

enum Frame {
    /// Inside a mapping: the key just read (None while waiting for a key).
    Map(Option<Seg>),
    Seq(usize),
}

/// A collection being read, and whether it added a step to the path.
struct Open {
    frame: Frame,
    pushed: bool,
}

#[derive(Default)]
struct Walker {
    stack: Vec<Open>,
    path: Vec<Seg>,
    map: HashMap<Vec<Seg>, Pos>,
    values: HashMap<Vec<Seg>, ValueStart>,
}

impl Walker {
    /// Called when a node (scalar, mapping or sequence) starts: decides whether it is a key
    /// or a value, and records the position of values' paths.
    fn node_start(&mut self, mark: Marker, scalar: Option<&str>) -> bool {
        let pos = Pos {
            line: mark.line(),
            column: mark.col() + 1,
        };
        match self.stack.last_mut().map(|o| &mut o.frame) {
            Some(Frame::Map(key @ None)) => {
                // This node is a key.
                let k = Seg::Key(scalar.unwrap_or_default().to_string());
                let mut p = self.path.clone();
                p.push(k.clone());
                self.map.insert(p, pos);
                *key = Some(k);
                false
            }
            Some(Frame::Map(Some(k))) => {
                let k = k.clone();
                self.path.push(k);
                true
            }
            Some(Frame::Seq(i)) => {
                let idx = *i;
                *i += 1;
                self.path.push(Seg::Index(idx));
                self.map.entry(self.path.clone()).or_insert(pos);
                true
            }
            None => false,
        }
    }

    /// Called when a value node ends.
    fn node_end(&mut self, pushed: bool) {
        if pushed {
            self.path.pop();
            if let Some(Open {
                frame: Frame::Map(key),
                ..
            }) = self.stack.last_mut()
            {
                *key = None;
            }
        }
    }
}

impl MarkedEventReceiver for Walker {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(ref s, style, ..) => {
                let pushed = self.node_start(mark, Some(s));
                if pushed {
                    let quoted = matches!(
                        style,
                        TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted
                    );
                    // A literal block's leading blank lines come before its marker.
                    let blank = if style == TScalarStyle::Literal {
                        s.len() - s.trim_start_matches('\n').len()
                    } else {
                        0
                    };
                    let start = ValueStart {
                        pos: Pos {
                            line: mark.line() - blank,
                            column: mark.col() + 1 + usize::from(quoted),
                        },
                        block: style == TScalarStyle::Literal,
                    };
                    if style != TScalarStyle::Folded {
                        self.values.insert(self.path.clone(), start);
                    }
                }
                self.node_end(pushed);
            }
            Event::Alias(_) => {
                let pushed = self.node_start(mark, None);
                self.node_end(pushed);
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let pushed = self.node_start(mark, None);
                let frame = match ev {
                    Event::MappingStart(..) => Frame::Map(None),
                    _ => Frame::Seq(0),
                };
                self.stack.push(Open { frame, pushed });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                if let Some(open) = self.stack.pop() {
                    self.node_end(open.pushed);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_and_items() {
        let text = "server:\n  listen: [\"a\"]\nrestApis:\n  - id: x\n    resources:\n      /pets:\n        GET: {authorizer: nope}\n";
        let s = Spans::index(text);
        assert_eq!(
            s.find(crate::path!["server"].as_slice()),
            Pos { line: 1, column: 1 }
        );
        assert_eq!(
            s.find(crate::path!["server", "listen"].as_slice()),
            Pos { line: 2, column: 3 }
        );
        assert_eq!(
            s.find(crate::path!["restApis", 0usize, "id"].as_slice()),
            Pos { line: 4, column: 5 }
        );
        let p = crate::path![
            "restApis",
            0usize,
            "resources",
            "/pets",
            "GET",
            "authorizer"
        ];
        assert_eq!(
            s.find(&p),
            Pos {
                line: 7,
                column: 15
            }
        );
        // Unknown deeper paths fall back to the nearest known one.
        let q = crate::path!["restApis", 0usize, "resources", "/pets", "POST"];
        assert_eq!(s.find(&q), Pos { line: 6, column: 7 });
    }

    #[test]
    fn places_text_inside_scalar_values() {
        let text = "a:\n  t: |\n\n    line1\n    #set($x\n  u: 'abc $x'\n  w: >-\n    folded\n";
        let s = Spans::index(text);
        let at = |p: Vec<Seg>, l, c| s.find_within(&p, l, c);
        assert_eq!(
            at(crate::path!["a", "t"], 3, 6),
            Some(Pos {
                line: 5,
                column: 10
            })
        );
        assert_eq!(
            at(crate::path!["a", "u"], 1, 5),
            Some(Pos {
                line: 6,
                column: 11
            })
        );
        assert_eq!(at(crate::path!["a", "u"], 2, 1), None);
        assert_eq!(at(crate::path!["a", "w"], 1, 1), None);
    }
}
