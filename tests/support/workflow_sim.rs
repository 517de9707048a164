//! A template's job graph run for given job outcomes (no step runs: each
//! job's result and outputs are given), for the tests of which jobs run
//! after which; its expressions are evaluated by the workflow runner's
//! evaluator (`support::actions_runner::expr`, zizmor's parser), the one
//! evaluator of the tests. Whole runs, with steps, are
//! `support::actions_runner`'s.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use yaml_serde::Value as Y;

use crate::support::actions_runner::expr;

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
    Object,
}

impl V {
    pub fn truthy(&self) -> bool {
        match self {
            V::Null => false,
            V::Bool(b) => *b,
            V::Str(s) => !s.is_empty(),
            V::List(_) | V::Object => true,
        }
    }
    pub fn text(&self) -> String {
        match self {
            V::Null => String::new(),
            V::Bool(b) => b.to_string(),
            V::Str(s) => s.clone(),
            V::List(_) => "Array".into(),
            V::Object => "Object".into(),
        }
    }
}

/// What a job's `if:` reads: the flat values given (`needs.<job>.result`,
/// `needs.<job>.outputs.<name>`, `github.*`, `inputs.*`, ...) and the
/// results of its needs.
pub struct Ctx<'a> {
    pub values: &'a BTreeMap<String, String>,
    /// Results of the job's `needs`.
    pub needs: Vec<String>,
    pub cancelled: bool,
}

/// The flat `a.b.c` values as the nested contexts the runner's evaluator
/// reads (`support::actions_runner::expr`, the one evaluator).
fn contexts(values: &BTreeMap<String, String>) -> serde_json::Value {
    let mut root = serde_json::Map::new();
    for (key, value) in values {
        let mut parts: Vec<&str> = key.split('.').collect();
        let last = parts.pop().expect("a key");
        let mut at = &mut root;
        for p in parts {
            at = at
                .entry(p.to_string())
                .or_insert_with(|| serde_json::Value::Object(Default::default()))
                .as_object_mut()
                .unwrap_or_else(|| panic!("{key}: a value and an object at once"));
        }
        at.insert(last.to_string(), serde_json::Value::String(value.clone()));
    }
    serde_json::Value::Object(root)
}

fn v_of(e: &github_actions_expressions::Evaluation) -> V {
    use github_actions_expressions::Evaluation as E;
    match e {
        E::Null => V::Null,
        E::Boolean(b) => V::Bool(*b),
        E::Array(items) => V::List(items.iter().map(v_of).collect()),
        E::Object(_) => V::Object,
        other => V::Str(expr::text_of(other)),
    }
}

/// An expression's value over the flat `values` (the text inside `${{ }}`,
/// or with them).
pub fn eval(src: &str, values: &BTreeMap<String, String>) -> V {
    let inner = src
        .trim()
        .strip_prefix("${{")
        .and_then(|s| s.strip_suffix("}}"))
        .unwrap_or(src)
        .trim();
    let contexts = contexts(values);
    let scope = expr::Scope {
        contexts: &contexts,
        status: expr::Status::OK,
    };
    v_of(&expr::eval(inner, &scope).unwrap_or_else(|e| panic!("{e}")))
}

/// Whether a job with `if: cond` runs (`None`: no `if:`).
pub fn runs(cond: Option<&str>, ctx: &Ctx) -> bool {
    let status = expr::Status {
        all_succeeded: ctx.needs.iter().all(|r| r == "success"),
        cancelled: ctx.cancelled,
    };
    let Some(cond) = cond else {
        return status.all_succeeded && !status.cancelled;
    };
    let contexts = contexts(ctx.values);
    expr::condition(
        cond,
        &expr::Scope {
            contexts: &contexts,
            status,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"))
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
