//! Loading the configuration file: YAML (or JSON) into the A2 model, with every problem
//! reported as `FILE:LINE:COL: message`.

pub mod model;
pub mod spans;
pub mod validate;

pub use model::Config;
use spans::{Pos, Seg, Spans};
use std::fmt;
use std::path::{Path, PathBuf};

/// A problem found in the configuration, located in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub pos: Pos,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.pos.line,
            self.pos.column,
            self.message
        )
    }
}

/// A problem found after parsing, located by its path in the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: Vec<Seg>,
    /// A (line, column) inside the scalar value at `path` (e.g. a template's own error
    /// position), to point at the exact file line.
    pub within: Option<(usize, usize)>,
    pub message: String,
}

impl Problem {
    pub fn new(path: Vec<Seg>, message: impl Into<String>) -> Problem {
        Problem {
            path,
            within: None,
            message: message.into(),
        }
    }
}

/// A parsed file: the model plus what is needed to locate later problems.
pub struct Loaded {
    pub config: Config,
    pub file: PathBuf,
    spans: Spans,
}

impl Loaded {
    /// Turns path-located problems into file-located diagnostics.
    pub fn locate(&self, problems: Vec<Problem>) -> Vec<Diagnostic> {
        problems
            .into_iter()
            .map(|p| Diagnostic {
                file: self.file.clone(),
                pos: p
                    .within
                    .and_then(|(l, c)| self.spans.find_within(&p.path, l, c))
                    .unwrap_or_else(|| self.spans.find(&p.path)),
                message: p.message,
            })
            .collect()
    }
}

/// Reads and parses `file`. Syntax errors, type errors and every unknown key are reported.
pub fn load(file: &Path) -> Result<Loaded, Vec<Diagnostic>> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        vec![Diagnostic {
            file: file.to_path_buf(),
            pos: Pos { line: 1, column: 1 },
            message: format!("cannot read the file: {e}"),
        }]
    })?;
    parse(file, &text)
}

/// Parses configuration text; `file` names it in diagnostics.
pub fn parse(file: &Path, text: &str) -> Result<Loaded, Vec<Diagnostic>> {
    let spans = Spans::index(text);
    let mut unknown: Vec<Vec<Seg>> = Vec::new();
    let de = serde_yaml::Deserializer::from_str(text);
    let parsed: Result<Config, serde_yaml::Error> = serde_ignored::deserialize(de, |p| {
        unknown.push(ignored_path(&p));
    });
    let diag = |pos: Pos, message: String| Diagnostic {
        file: file.to_path_buf(),
        pos,
        message,
    };
    let config = match parsed {
        Ok(c) => c,
        Err(e) => {
            let pos = e
                .location()
                .map(|l| Pos {
                    line: l.line(),
                    column: l.column(),
                })
                .unwrap_or(Pos { line: 1, column: 1 });
            return Err(vec![diag(pos, strip_location(&e.to_string(), pos))]);
        }
    };
    if !unknown.is_empty() {
        return Err(unknown
            .into_iter()
            .map(|p| {
                let key = match p.last() {
                    Some(Seg::Key(k)) => k.clone(),
                    _ => String::new(),
                };
                diag(spans.find(&p), format!("unknown key `{key}`"))
            })
            .collect());
    }
    Ok(Loaded {
        config,
        file: file.to_path_buf(),
        spans,
    })
}

fn ignored_path(p: &serde_ignored::Path<'_>) -> Vec<Seg> {
    use serde_ignored::Path as P;
    let mut out = match p {
        P::Root => return Vec::new(),
        P::Seq { parent, .. }
        | P::Map { parent, .. }
        | P::Some { parent }
        | P::NewtypeStruct { parent }
        | P::NewtypeVariant { parent } => ignored_path(parent),
    };
    match p {
        P::Seq { index, .. } => out.push(Seg::Index(*index)),
        P::Map { key, .. } => out.push(Seg::Key(key.clone())),
        _ => {}
    }
    out
}

/// serde_yaml puts " at line L column C" of `pos` in its messages; the diagnostic carries it
/// already. Other positions (where the unclosed construct started) are kept.
fn strip_location(msg: &str, pos: Pos) -> String {
    msg.replace(&format!(" at line {} column {}", pos.line, pos.column), "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errs(text: &str) -> Vec<String> {
        match parse(Path::new("t.yaml"), text) {
            Ok(_) => Vec::new(),
            Err(d) => d.iter().map(|d| d.to_string()).collect(),
        }
    }

    #[test]
    fn every_unknown_key_is_reported_with_its_line() {
        let e = errs("server:\n  listen: []\n  bogus: 1\nrestApis:\n  - id: a\n    nope: 2\n");
        assert_eq!(
            e,
            vec![
                "t.yaml:3:3: unknown key `bogus`",
                "t.yaml:6:5: unknown key `nope`"
            ]
        );
    }

    #[test]
    fn syntax_and_type_errors_have_positions() {
        let e = errs("server:\n  threads: lots\n");
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with("t.yaml:2:12: server.threads: invalid type"),
            "{e:?}"
        );
        let e = errs("server: [\n");
        assert!(e[0].starts_with("t.yaml:"), "{e:?}");
    }

    #[test]
    fn status_codes_accept_numbers_and_strings() {
        let text = "restApis:\n  - id: a\n    gatewayResponses:\n      DEFAULT_4XX: {statusCode: 404}\n      THROTTLED: {statusCode: \"429\"}\n";
        let l = parse(Path::new("t"), text)
            .map_err(|d| d[0].to_string())
            .unwrap();
        let g = &l.config.rest_apis[0].gateway_responses;
        assert_eq!(g["DEFAULT_4XX"].status_code.as_ref().unwrap().0, "404");
        assert_eq!(g["THROTTLED"].status_code.as_ref().unwrap().0, "429");
    }
}
