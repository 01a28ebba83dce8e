//! Mapping-template conformance: every case of `tests/vtl/corpus/*.vtlcases` is rendered by
//! the reference (Apache Velocity 1.7 with API Gateway's variables, `tests/vtl/Oracle.java`)
//! and by `tollgate::vtl`, and the outputs and overrides must be identical. A case with an
//! `expect` section records what real API Gateway returned; there our output must equal that
//! text instead (the reference's divergence is reported, not failed).
//!
//! Case format (one file holds many cases; `#` lines before the first case are comments):
//!
//! ```text
//! === case-name
//! path.id: 42                 (also querystring.X, header.X, context.a.b, stage.X)
//! # a comment line
//! --- body                    (optional; lines up to the next marker)
//! {"a": 1}
//! --- expect                  (optional; AWS-recorded output)
//! ...
//! --- template
//! $input.json('$.a')
//! ```
//!
//! A section's lines are joined with `\n`, trailing blank lines dropped.
//!
//! Needs `java`, `javac` and the Debian packages `velocity` and `libjsonpath-java`
//! (`scripts/deps.sh` installs them).

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::process::Command;
use tollgate::vtl::{Overrides, Template, TemplateContext};

const JARS: &[&str] = &[
    "velocity.jar",
    "commons-lang.jar",
    "commons-collections3.jar",
    "json-path.jar",
    "json-smart.jar",
    "accessors-smart.jar",
    "asm.jar",
    "slf4j-api.jar",
    "slf4j-nop.jar",
];

#[derive(Default, Debug)]
struct Case {
    name: String,
    template: String,
    body: String,
    expect: Option<String>,
    path: Vec<(String, String)>,
    querystring: Vec<(String, String)>,
    header: Vec<(String, String)>,
    context: Vec<(String, String)>,
    stage: Vec<(String, String)>,
}

fn finish(case: &mut Case, section: Option<&str>, lines: &mut Vec<&str>) {
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    let text = lines.join("\n");
    lines.clear();
    match section {
        None => {}
        Some("template") => case.template = text,
        Some("body") => case.body = text,
        Some("expect") => case.expect = Some(text),
        Some(other) => panic!("{}: unknown section {other}", case.name),
    }
}

fn parse_cases(file: &str, text: &str) -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    let mut section: Option<String> = None;
    let mut lines: Vec<&str> = Vec::new();
    for line in text.split('\n') {
        if let Some(name) = line.strip_prefix("=== ") {
            if let Some(c) = cases.last_mut() {
                finish(c, section.as_deref(), &mut lines);
            }
            cases.push(Case {
                name: format!("{file}:{}", name.trim()),
                ..Default::default()
            });
            section = None;
            continue;
        }
        let Some(case) = cases.last_mut() else {
            continue;
        };
        if let Some(s) = line.strip_prefix("--- ") {
            finish(case, section.as_deref(), &mut lines);
            section = Some(s.trim().to_string());
        } else if section.is_some() {
            lines.push(line);
        } else if !line.trim().is_empty() && !line.starts_with('#') {
            let (key, value) = line.split_once(": ").unwrap_or((line.trim(), ""));
            let (kind, name) = key.split_once('.').unwrap_or((key, ""));
            let kv = (name.to_string(), value.to_string());
            match kind {
                "path" => case.path.push(kv),
                "querystring" => case.querystring.push(kv),
                "header" => case.header.push(kv),
                "context" => case.context.push(kv),
                "stage" => case.stage.push(kv),
                "body" => case.body = value.to_string(),
                _ => panic!("{}: bad line {line:?}", case.name),
            }
        }
    }
    if let Some(c) = cases.last_mut() {
        finish(c, section.as_deref(), &mut lines);
    }
    cases
}

fn find<'a>(list: &'a [(String, String)], name: &str, fold: bool) -> Option<&'a str> {
    list.iter()
        .find(|(k, _)| {
            if fold {
                k.eq_ignore_ascii_case(name)
            } else {
                k == name
            }
        })
        .map(|(_, v)| v.as_str())
}

fn first_wins(list: &[(String, String)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in list {
        if !out.iter().any(|(n, _)| n == k) {
            out.push((k.clone(), v.clone()));
        }
    }
    out
}

impl TemplateContext for Case {
    fn context_var(&self, path: &str) -> Option<Cow<'_, str>> {
        find(&self.context, path, false).map(Cow::Borrowed)
    }
    fn stage_var(&self, name: &str) -> Option<&str> {
        find(&self.stage, name, false)
    }
    fn input_param(&self, name: &str) -> Option<Cow<'_, str>> {
        find(&self.path, name, false)
            .or_else(|| find(&self.querystring, name, false))
            .or_else(|| find(&self.header, name, true))
            .map(Cow::Borrowed)
    }
    fn input_param_in(&self, kind: &str, name: &str) -> Option<Cow<'_, str>> {
        match kind {
            "path" => find(&self.path, name, false),
            "querystring" => find(&self.querystring, name, false),
            "header" => find(&self.header, name, true),
            _ => None,
        }
        .map(Cow::Borrowed)
    }
    fn input_body(&self) -> &str {
        &self.body
    }
    fn input_params_all(&self, kind: &str) -> Vec<(String, String)> {
        match kind {
            "path" => first_wins(&self.path),
            "querystring" => first_wins(&self.querystring),
            "header" => first_wins(&self.header),
            _ => Vec::new(),
        }
    }
    fn stage_vars(&self) -> Vec<(String, String)> {
        first_wins(&self.stage)
    }
    fn authorizer_vars(&self) -> Vec<(String, String)> {
        self.context
            .iter()
            .filter_map(|(k, v)| {
                let key = k.strip_prefix("authorizer.")?;
                (key != "principalId").then(|| (key.to_string(), v.clone()))
            })
            .collect()
    }
}

/// The overrides in the text form `Oracle.java` prints.
fn overrides_text(o: &Overrides) -> String {
    let mut out = String::new();
    let mut group = |prefix: &str, entries: &[(String, Vec<String>)]| {
        for (k, vs) in entries {
            out.push_str(&format!("{prefix}.{k}="));
            for v in vs {
                out.push_str(&format!("[{v}]"));
            }
            out.push('\n');
        }
    };
    group("request.header", &o.request_header);
    let path: Vec<(String, Vec<String>)> = o
        .request_path
        .iter()
        .map(|(k, v)| (k.clone(), vec![v.clone()]))
        .collect();
    group("request.path", &path);
    group("request.querystring", &o.request_querystring);
    group("response.header", &o.response_header);
    if let Some(s) = o.response_status {
        out.push_str(&format!("response.status={s}\n"));
    }
    out
}

/// What a renderer produced for one case.
#[derive(Debug, PartialEq)]
enum Outcome {
    Rendered { output: String, overrides: String },
    Failed(String),
}

fn render(case: &Case) -> Outcome {
    let template = match Template::parse(&case.template) {
        Ok(t) => t,
        Err(e) => return Outcome::Failed(e.to_string()),
    };
    let mut overrides = Overrides::default();
    let mut output = String::new();
    match template.render(case, &mut overrides, &mut output) {
        Ok(()) => Outcome::Rendered {
            output,
            overrides: overrides_text(&overrides),
        },
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

fn tool(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "`{name}` is not installed; the mapping-template conformance test needs a JDK and \
             the Debian packages velocity and libjsonpath-java: run scripts/deps.sh"
        )
    })
}

/// Compiles and runs the oracle once over the corpus; one JSON object per case.
fn run_oracle(corpus: &Path) -> Vec<serde_json::Value> {
    let java = tool("java");
    let javac = tool("javac");
    let jar_dir = Path::new("/usr/share/java");
    let missing: Vec<&str> = JARS
        .iter()
        .copied()
        .filter(|j| !jar_dir.join(j).is_file())
        .collect();
    assert!(
        missing.is_empty(),
        "missing {missing:?} in /usr/share/java; the mapping-template conformance test needs \
         the Debian packages velocity and libjsonpath-java: run scripts/deps.sh"
    );
    let classpath = std::env::join_paths(JARS.iter().map(|j| jar_dir.join(j)))
        .expect("class path")
        .into_string()
        .expect("utf-8 class path");
    let classes = Path::new(env!("CARGO_TARGET_TMPDIR")).join("vtl-oracle");
    std::fs::create_dir_all(&classes).expect("create oracle class dir");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vtl/Oracle.java");
    let status = Command::new(javac)
        .arg("-d")
        .arg(&classes)
        .args(["-cp", &classpath])
        .arg(&source)
        .status()
        .expect("run javac");
    assert!(status.success(), "javac failed on {}", source.display());
    let run_cp = format!("{classpath}:{}", classes.display());
    let out = Command::new(java)
        .args(["-cp", &run_cp, "Oracle"])
        .arg(corpus)
        .output()
        .expect("run java");
    assert!(
        out.status.success(),
        "the oracle failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("oracle prints UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("oracle prints JSON lines"))
        .collect()
}

fn oracle_outcome(v: &serde_json::Value) -> Outcome {
    let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    match text("error") {
        Some(e) => Outcome::Failed(e),
        None => Outcome::Rendered {
            output: text("output").unwrap_or_default(),
            overrides: text("overrides").unwrap_or_default(),
        },
    }
}

/// A readable comparison of two texts: both in full, then the first differing line.
fn diff(expected: &str, actual: &str) -> String {
    let mut s = format!(
        "  expected:\n{}\n  actual:\n{}\n",
        indent(expected),
        indent(actual)
    );
    let (e, a): (Vec<&str>, Vec<&str>) =
        (expected.split('\n').collect(), actual.split('\n').collect());
    for i in 0..e.len().max(a.len()) {
        let (x, y) = (e.get(i), a.get(i));
        if x != y {
            s.push_str(&format!(
                "  first difference at line {}:\n    - {:?}\n    + {:?}\n",
                i + 1,
                x.copied().unwrap_or("<none>"),
                y.copied().unwrap_or("<none>")
            ));
            break;
        }
    }
    s
}

fn indent(t: &str) -> String {
    t.split('\n')
        .map(|l| format!("    |{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn describe(name: &str, expected: &Outcome, actual: &Outcome) -> String {
    let mut s = format!("--- {name}\n");
    match (expected, actual) {
        (
            Outcome::Rendered {
                output: eo,
                overrides: ev,
            },
            Outcome::Rendered {
                output: ao,
                overrides: av,
            },
        ) => {
            if eo != ao {
                s.push_str("output differs\n");
                s.push_str(&diff(eo, ao));
            }
            if ev != av {
                s.push_str("overrides differ\n");
                s.push_str(&diff(ev, av));
            }
        }
        (Outcome::Failed(e), Outcome::Rendered { output, .. }) => {
            s.push_str(&format!(
                "expected an error ({e}), rendered:\n{}\n",
                indent(output)
            ));
        }
        (Outcome::Rendered { output, .. }, Outcome::Failed(e)) => {
            s.push_str(&format!("failed ({e}), expected:\n{}\n", indent(output)));
        }
        (Outcome::Failed(_), Outcome::Failed(_)) => {}
    }
    s
}

#[test]
fn templates_render_like_api_gateway() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vtl/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .expect("read corpus dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "vtlcases"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for f in &files {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let text = std::fs::read_to_string(f).expect("read corpus file");
        cases.extend(parse_cases(name, &text));
    }
    let oracle = run_oracle(&corpus);
    assert_eq!(
        oracle.len(),
        cases.len(),
        "the oracle and this test read the corpus differently"
    );

    let mut failures = Vec::new();
    let mut notes = Vec::new();
    for (case, reference) in cases.iter().zip(&oracle) {
        assert_eq!(reference["name"].as_str(), Some(case.name.as_str()));
        let reference = oracle_outcome(reference);
        let ours = render(case);
        let expected = match &case.expect {
            Some(aws) => {
                let aws = Outcome::Rendered {
                    output: aws.clone(),
                    overrides: match &reference {
                        Outcome::Rendered { overrides, .. } => overrides.clone(),
                        Outcome::Failed(_) => String::new(),
                    },
                };
                if aws != reference {
                    notes.push(format!(
                        "note: Velocity 1.7 differs from AWS here\n{}",
                        describe(&case.name, &aws, &reference)
                    ));
                }
                aws
            }
            None => reference,
        };
        let same = match (&expected, &ours) {
            (Outcome::Failed(_), Outcome::Failed(_)) => true,
            (a, b) => a == b,
        };
        if !same {
            failures.push(describe(&case.name, &expected, &ours));
        }
    }
    for n in &notes {
        eprintln!("{n}");
    }
    for f in &failures {
        eprintln!("{f}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} mapping-template cases differ from the reference (details above)",
        failures.len(),
        cases.len()
    );
}
