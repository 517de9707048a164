//! A small evaluator for the part of GitHub's expression language the
//! workflow templates use (`&&`, `||`, `!`, `==`, `!=`, parentheses,
//! `contains`, `fromJSON`, `format`, the status functions, with the
//! implicit `success()` of an `if:` that names none), and a run of a
//! template's job graph for given job outcomes (moved here from
//! `tests/templates/jobs.rs` so other workflow tests share it).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use yaml_serde::Value as Y;

fn load(rel: &str) -> Y {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
    yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn s<'a>(v: &'a Y, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what}: not a string: {v:?}"))
}

#[derive(Debug, Clone, PartialEq)]
pub enum V {
    Null,
    Bool(bool),
    Str(String),
    List(Vec<V>),
}

impl V {
    pub fn truthy(&self) -> bool {
        match self {
            V::Null => false,
            V::Bool(b) => *b,
            V::Str(s) => !s.is_empty(),
            V::List(_) => true,
        }
    }
    pub fn text(&self) -> String {
        match self {
            V::Null => String::new(),
            V::Bool(b) => b.to_string(),
            V::Str(s) => s.clone(),
            V::List(_) => "Array".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Op(&'static str),
}

fn tokens(src: &str) -> Vec<Tok> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' {
            let mut text = String::new();
            i += 1;
            loop {
                assert!(i < b.len(), "unterminated string in {src}");
                if b[i] == b'\'' {
                    if b.get(i + 1) == Some(&b'\'') {
                        text.push('\'');
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                text.push(b[i] as char);
                i += 1;
            }
            out.push(Tok::Str(text));
        } else if let Some(op) = ["&&", "||", "==", "!=", "!", "(", ")", ","]
            .into_iter()
            .find(|op| src[i..].starts_with(op))
        {
            out.push(Tok::Op(op));
            i += op.len();
        } else if c.is_ascii_alphanumeric() || c == '_' {
            let start = i;
            while i < b.len()
                && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'-' | b'.' | b'*'))
            {
                i += 1;
            }
            out.push(Tok::Ident(src[start..i].to_string()));
        } else {
            panic!("unexpected `{c}` in {src}");
        }
    }
    out
}

pub struct Ctx<'a> {
    /// `needs.<job>.result` / `.outputs.<name>`, `github.*`, ...
    pub values: &'a BTreeMap<String, String>,
    /// Results of the job's `needs`.
    pub needs: Vec<String>,
    pub cancelled: bool,
}

struct Parser<'a> {
    toks: Vec<Tok>,
    at: usize,
    ctx: &'a Ctx<'a>,
    /// Inside the right side of a short-circuited `&&` / `||`: parsed, not
    /// evaluated (GitHub does not evaluate it either, so `fromJSON('')`
    /// there does not fail the job).
    skip: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }
    fn eat(&mut self, op: &'static str) -> bool {
        if self.peek() == Some(&Tok::Op(op)) {
            self.at += 1;
            true
        } else {
            false
        }
    }
    // A missing value is Null, as on GitHub.
    fn or(&mut self) -> V {
        let mut l = self.and();
        while self.eat("||") {
            let short = l.truthy();
            self.skip += usize::from(short);
            let r = self.and();
            self.skip -= usize::from(short);
            if !short {
                l = r;
            }
        }
        l
    }
    fn and(&mut self) -> V {
        let mut l = self.eq();
        while self.eat("&&") {
            let short = !l.truthy();
            self.skip += usize::from(short);
            let r = self.eq();
            self.skip -= usize::from(short);
            if !short {
                l = r;
            }
        }
        l
    }
    fn eq(&mut self) -> V {
        let l = self.not();
        for (op, want) in [("==", true), ("!=", false)] {
            if self.eat(op) {
                let r = self.not();
                // GitHub compares strings case-insensitively.
                let same = l.text().eq_ignore_ascii_case(&r.text());
                return V::Bool(same == want);
            }
        }
        l
    }
    fn not(&mut self) -> V {
        if self.eat("!") {
            return V::Bool(!self.not().truthy());
        }
        self.primary()
    }
    fn primary(&mut self) -> V {
        if self.eat("(") {
            let v = self.or();
            assert!(self.eat(")"), "missing )");
            return v;
        }
        let t = self.toks[self.at].clone();
        self.at += 1;
        match t {
            Tok::Str(s) => V::Str(s),
            Tok::Ident(name) if self.eat("(") => {
                let mut args = Vec::new();
                if !self.eat(")") {
                    loop {
                        args.push(self.or());
                        if self.eat(")") {
                            break;
                        }
                        assert!(self.eat(","), "expected , in {name}()");
                    }
                }
                self.call(&name, args)
            }
            Tok::Ident(name) if name == "true" || name == "false" => V::Bool(name == "true"),
            Tok::Ident(path) => self
                .ctx
                .values
                .get(&path)
                .map_or(V::Null, |v| V::Str(v.clone())),
            Tok::Op(op) => panic!("unexpected {op}"),
        }
    }
    fn call(&self, name: &str, args: Vec<V>) -> V {
        if self.skip > 0 {
            return V::Null;
        }
        let ok = |r: &String| r == "success" || r == "skipped";
        match (name.to_ascii_lowercase().as_str(), args.as_slice()) {
            ("success", []) => {
                V::Bool(!self.ctx.cancelled && self.ctx.needs.iter().all(|r| r == "success"))
            }
            ("always", []) => V::Bool(true),
            ("cancelled", []) => V::Bool(self.ctx.cancelled),
            ("failure", []) => V::Bool(self.ctx.needs.iter().any(|r| !ok(r))),
            ("fromjson", [V::Str(text)]) => {
                let parsed: serde_json::Value = serde_json::from_str(text)
                    .unwrap_or_else(|e| panic!("fromJSON({text:?}) fails the job: {e}"));
                match parsed {
                    serde_json::Value::Array(a) => V::List(
                        a.into_iter()
                            .map(|x| V::Str(x.as_str().unwrap_or_default().to_string()))
                            .collect(),
                    ),
                    other => V::Str(other.to_string()),
                }
            }
            ("fromjson", [other]) => panic!("fromJSON({other:?}) fails the job"),
            ("format", [V::Str(template), rest @ ..]) => {
                let mut text = template.clone();
                for (i, v) in rest.iter().enumerate() {
                    text = text.replace(&format!("{{{i}}}"), &v.text());
                }
                V::Str(text)
            }
            // GitHub's startsWith ignores case.
            ("startswith", [hay, needle]) => V::Bool(
                hay.text()
                    .to_ascii_lowercase()
                    .starts_with(&needle.text().to_ascii_lowercase()),
            ),
            ("contains", [V::List(items), needle]) => V::Bool(
                items
                    .iter()
                    .any(|i| i.text().eq_ignore_ascii_case(&needle.text())),
            ),
            ("contains", [hay, needle]) => V::Bool(
                hay.text()
                    .to_ascii_lowercase()
                    .contains(&needle.text().to_ascii_lowercase()),
            ),
            (other, _) => panic!("the evaluator does not know {other}()"),
        }
    }
}

/// The value of an expression (`${{ ... }}` or its inside) with the given
/// `github.*`/`inputs.*`/`needs.*` values, as GitHub computes it (`a && b`
/// is `b` when `a` is truthy, `a || b` the first truthy one).
pub fn eval(expr: &str, values: &BTreeMap<String, String>) -> V {
    let inner = expr
        .trim()
        .strip_prefix("${{")
        .and_then(|c| c.strip_suffix("}}"))
        .unwrap_or(expr);
    let ctx = Ctx {
        values,
        needs: Vec::new(),
        cancelled: false,
    };
    let mut p = Parser {
        toks: tokens(inner),
        at: 0,
        ctx: &ctx,
        skip: 0,
    };
    let v = p.or();
    assert_eq!(p.at, p.toks.len(), "trailing tokens in {expr}");
    v
}

/// Whether a job with `if: cond` runs (`None`: no `if:`).
pub fn runs(cond: Option<&str>, ctx: &Ctx) -> bool {
    let Some(cond) = cond else {
        return ctx.needs.iter().all(|r| r == "success");
    };
    let cond = cond
        .trim()
        .strip_prefix("${{")
        .and_then(|c| c.strip_suffix("}}"))
        .unwrap_or(cond);
    let lower = cond.to_ascii_lowercase();
    let has_status = ["success(", "failure(", "always(", "cancelled("]
        .iter()
        .any(|f| lower.contains(f));
    let full = if has_status {
        cond.to_string()
    } else {
        format!("success() && ({cond})")
    };
    let mut p = Parser {
        toks: tokens(&full),
        at: 0,
        ctx,
        skip: 0,
    };
    let v = p.or();
    assert_eq!(p.at, p.toks.len(), "trailing tokens in {full}");
    v.truthy()
}

/// What happens to one job when it runs: its result and step outputs.
#[derive(Clone)]
pub struct Outcome {
    pub result: &'static str,
    pub outputs: BTreeMap<&'static str, String>,
}

pub fn done(outputs: &[(&'static str, &str)]) -> Outcome {
    Outcome {
        result: "success",
        outputs: outputs.iter().map(|(k, v)| (*k, v.to_string())).collect(),
    }
}

pub fn failed() -> Outcome {
    Outcome {
        result: "failure",
        outputs: BTreeMap::new(),
    }
}

/// Runs a template's job graph with the given `github.*`/`inputs.*` values.
pub fn simulate_workflow(
    path: &str,
    given: &[(&str, &str)],
    outcome: &dyn Fn(&str) -> Outcome,
) -> BTreeMap<String, &'static str> {
    let doc = load(path);
    let jobs = doc["jobs"].as_mapping().unwrap();
    let mut results: BTreeMap<String, &'static str> = BTreeMap::new();
    let mut values: BTreeMap<String, String> = given
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    while results.len() < jobs.len() {
        let before = results.len();
        for (name, job) in jobs {
            let name = s(name, "job name");
            if results.contains_key(name) {
                continue;
            }
            let needs: Vec<String> = match &job["needs"] {
                Y::Null => Vec::new(),
                Y::String(one) => vec![one.clone()],
                Y::Sequence(many) => many.iter().map(|n| s(n, "needs").to_string()).collect(),
                other => panic!("{name}: needs {other:?}"),
            };
            if !needs.iter().all(|n| results.contains_key(n)) {
                continue;
            }
            let ctx = Ctx {
                values: &values,
                needs: needs.iter().map(|n| results[n].to_string()).collect(),
                cancelled: false,
            };
            let result = if runs(job["if"].as_str(), &ctx) {
                let o = outcome(name);
                // The job's outputs, from its steps' outputs.
                if let Some(outs) = job["outputs"].as_mapping() {
                    for (k, v) in outs {
                        let k = s(k, "output");
                        let expr = s(v, "output value");
                        let text = match expr
                            .trim()
                            .strip_prefix("${{ steps.")
                            .and_then(|r| r.strip_suffix(" }}"))
                        {
                            Some(path) => {
                                let out = path.rsplit('.').next().unwrap();
                                o.outputs.get(out).cloned().unwrap_or_default()
                            }
                            None => expr.to_string(),
                        };
                        if o.result == "success" {
                            values.insert(format!("needs.{name}.outputs.{k}"), text);
                        }
                    }
                }
                o.result
            } else {
                "skipped"
            };
            values.insert(format!("needs.{name}.result"), result.into());
            results.insert(name.to_string(), result);
        }
        assert!(results.len() > before, "needs never resolve: {results:?}");
    }
    results
}
