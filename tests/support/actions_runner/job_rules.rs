//! What GitHub decides of a job before its steps run: the combinations
//! of its matrix, its `GITHUB_TOKEN`'s permissions, which secrets its
//! runner receives and whether a deployment branch policy lets its ref
//! deploy. Each rule cites its page.

use std::collections::{BTreeMap, BTreeSet};

use github_actions_models::common::expr::LoE;
use github_actions_models::common::{BasePermission, Permission, Permissions};
use github_actions_models::workflow::job::Strategy;
use github_actions_models::workflow::Workflow;
use serde_json::{json, Map, Value};

use super::expr::{self, Scope, Status};
use crate::support::fake_github::FakeGitHub;

/// The names of the secrets a job's runner receives, from the job as
/// written (`jobs.<id>` of the workflow): those its expressions name, or
/// `None` (every secret of its repository and environment) when one reads
/// the context whole or by a computed index. GitHub provisions only the
/// secrets a job references, and all of them for a dynamic reference
/// (FACTS; zizmor's overprovisioned-secrets audit, zizmor issue #401).
pub(super) fn secrets_received(job: &yaml_serde::Value) -> Option<BTreeSet<String>> {
    fn strings<'a>(v: &'a yaml_serde::Value, key: Option<&str>, out: &mut Vec<(bool, &'a str)>) {
        match v {
            yaml_serde::Value::String(s) => out.push((key == Some("if"), s)),
            yaml_serde::Value::Sequence(items) => items.iter().for_each(|i| strings(i, None, out)),
            yaml_serde::Value::Mapping(m) => {
                for (k, v) in m {
                    strings(v, k.as_str(), out);
                }
            }
            _ => {}
        }
    }
    let mut texts = Vec::new();
    strings(job, None, &mut texts);
    let mut names = BTreeSet::new();
    for (is_if, text) in texts {
        let mut exprs = expr::expressions_in(text);
        if is_if && exprs.is_empty() {
            exprs.push(text);
        }
        for e in exprs {
            match expr::secrets_read(e).unwrap_or_else(|err| panic!("{err}")) {
                Some(found) => names.extend(found),
                None => return None,
            }
        }
    }
    Some(names)
}

/// The `GITHUB_TOKEN`'s permissions (App permission names) and whether
/// the job may ask for an OIDC token (`id-token: write`): the job's
/// `permissions:`, else the workflow's, else the repository's default
/// ("Controlling permissions for GITHUB_TOKEN": restricted = `contents`
/// and `packages` read; permissive = write to all but `id-token`).
pub(super) fn token_permissions(
    own: &Permissions,
    wf: &Workflow,
    gh: &FakeGitHub,
    repo: &str,
) -> (BTreeMap<String, String>, bool) {
    const SCOPES: [&str; 13] = [
        "actions",
        "attestations",
        "checks",
        "contents",
        "deployments",
        "discussions",
        "issues",
        "packages",
        "pages",
        "pull-requests",
        "repository-projects",
        "security-events",
        "statuses",
    ];
    let all = |access: &str| -> Vec<(String, String)> {
        SCOPES
            .iter()
            .map(|s| (s.to_string(), access.to_string()))
            .collect()
    };
    let chosen = match (own, &wf.permissions) {
        (Permissions::Base(BasePermission::Default), other) => other,
        (own, _) => own,
    };
    let (pairs, oidc): (Vec<(String, String)>, bool) = match chosen {
        Permissions::Explicit(map) => {
            let oidc = matches!(map.get("id-token"), Some(Permission::Write));
            let pairs = map
                .iter()
                .filter(|(k, _)| *k != "id-token")
                .filter_map(|(k, p)| match p {
                    Permission::Read => Some((k.clone(), "read".to_string())),
                    Permission::Write => Some((k.clone(), "write".to_string())),
                    Permission::None => None,
                })
                .collect();
            (pairs, oidc)
        }
        Permissions::Base(BasePermission::ReadAll) => (all("read"), false),
        Permissions::Base(BasePermission::WriteAll) => (all("write"), true),
        Permissions::Base(BasePermission::Default) => {
            match gh.default_workflow_permissions(repo).as_str() {
                "write" => (all("write"), false),
                _ => (
                    vec![
                        ("contents".into(), "read".into()),
                        ("packages".into(), "read".into()),
                    ],
                    false,
                ),
            }
        }
    };
    let pairs = pairs
        .into_iter()
        .map(|(k, v)| (k.replace('-', "_"), v))
        .collect();
    (pairs, oidc)
}

/// The combinations of a job's matrix ("Using a matrix for your jobs"):
/// the product of its dimensions, less `exclude`, then each `include`
/// extending the combinations it matches or added as its own; one empty
/// combination without a matrix.
pub(super) fn matrix(strategy: Option<&Strategy>, contexts: &Value) -> Vec<Value> {
    let Some(m) = strategy.and_then(|s| s.matrix.as_ref()) else {
        return vec![json!({})];
    };
    let eval_json = |raw: &str| -> Value {
        let v = expr::eval(
            raw,
            &Scope {
                contexts,
                status: Status::OK,
            },
        )
        .unwrap_or_else(|e| panic!("matrix: {e}"));
        v.try_into().unwrap_or(Value::Null)
    };
    let to_json = |v: &yaml_serde::Value| serde_json::to_value(v).unwrap();
    let m: Value = match m {
        LoE::Expr(e) => eval_json(e.as_bare()),
        LoE::Literal(lit) => {
            let mut obj = Map::new();
            if let LoE::Literal(dims) = &lit.dimensions {
                for (k, v) in dims {
                    let vals = match v {
                        LoE::Literal(vs) => Value::Array(vs.iter().map(to_json).collect()),
                        LoE::Expr(e) => eval_json(e.as_bare()),
                    };
                    obj.insert(k.clone(), vals);
                }
            }
            for (key, part) in [("include", &lit.include), ("exclude", &lit.exclude)] {
                let v = match part {
                    LoE::Literal(items) => Value::Array(
                        items
                            .iter()
                            .map(|i| {
                                Value::Object(
                                    i.iter().map(|(k, v)| (k.clone(), to_json(v))).collect(),
                                )
                            })
                            .collect(),
                    ),
                    LoE::Expr(e) => eval_json(e.as_bare()),
                };
                obj.insert(key.into(), v);
            }
            Value::Object(obj)
        }
    };
    let obj = m.as_object().cloned().unwrap_or_default();
    let mut combos: Vec<Map<String, Value>> = vec![Map::new()];
    let mut dims: Vec<String> = Vec::new();
    for (k, v) in &obj {
        if k == "include" || k == "exclude" {
            continue;
        }
        dims.push(k.clone());
        let vals = v.as_array().cloned().unwrap_or_default();
        combos = combos
            .iter()
            .flat_map(|c| {
                vals.iter().map(move |x| {
                    let mut c = c.clone();
                    c.insert(k.clone(), x.clone());
                    c
                })
            })
            .collect();
    }
    let matches = |c: &Map<String, Value>, e: &Map<String, Value>, only_dims: bool| {
        e.iter()
            .filter(|(k, _)| !only_dims || dims.contains(k))
            .all(|(k, v)| c.get(k) == Some(v))
    };
    if let Some(ex) = obj.get("exclude").and_then(Value::as_array) {
        combos.retain(|c| {
            !ex.iter()
                .filter_map(Value::as_object)
                .any(|e| matches(c, e, false))
        });
    }
    if dims.is_empty() {
        combos.clear();
    }
    // Only the matrix's own combinations are extended: one an include
    // added is never extended by a later include (the page's example:
    // `{fruit: banana}` and `{fruit: banana, animal: cat}` stay two jobs),
    // so an include-only matrix makes one job per entry.
    let original = combos.len();
    if let Some(inc) = obj.get("include").and_then(Value::as_array) {
        for e in inc.iter().filter_map(Value::as_object) {
            let mut hit = false;
            for c in combos.iter_mut().take(original) {
                if matches(c, e, true) {
                    c.extend(e.clone());
                    hit = true;
                }
            }
            if !hit {
                combos.push(e.clone());
            }
        }
    }
    assert!(
        !combos.is_empty() && combos.len() <= 256,
        "a matrix makes 1 to 256 jobs (\"Usage limits\"), not {}",
        combos.len()
    );
    combos.into_iter().map(Value::Object).collect()
}

/// A deployment branch policy's name pattern ("Deployment branches and
/// tags": Ruby's `File.fnmatch`, where `*` does not match `/` and `**`
/// does).
pub(super) fn glob_match(pattern: &str, name: &str) -> bool {
    globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .is_ok_and(|g| g.compile_matcher().is_match(name))
}

/// The contexts a job's `concurrency` may read ("Contexts",
/// "Context availability": `jobs.<job_id>.concurrency`).
pub(super) const JOB_CONCURRENCY: &[&str] =
    &["github", "needs", "strategy", "matrix", "inputs", "vars"];
/// The contexts the workflow's `concurrency` may read (the same table).
pub(super) const WORKFLOW_CONCURRENCY: &[&str] = &["github", "inputs", "vars"];

/// A `concurrency:` group evaluated over `contexts`; one that reads a
/// context GitHub does not give there fails the test, as GitHub refuses
/// the workflow ("Unrecognized named-value").
pub(super) fn concurrency_group(
    c: Option<&github_actions_models::workflow::Concurrency>,
    contexts: &Value,
    allowed: &[&str],
) -> Option<String> {
    use github_actions_models::workflow::Concurrency;
    let group = match c? {
        Concurrency::Bare(g) => g,
        Concurrency::Rich { group, .. } => group,
    };
    let read = expr::contexts_read(group).unwrap_or_else(|e| panic!("concurrency group: {e}"));
    if let Some(bad) = read.iter().find(|c| !allowed.contains(&c.as_str())) {
        panic!("concurrency group `{group}` reads `{bad}`, which GitHub does not give a concurrency group (only {allowed:?}): GitHub refuses the workflow");
    }
    Some(super::jobs::interpolate(group, contexts))
}

/// `asked`, each permission no more than `most` grants ("write" >
/// "read"; absent: none).
pub(super) fn capped(
    asked: BTreeMap<String, String>,
    most: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let rank = |a: &str| match a {
        "write" => 2,
        "read" => 1,
        _ => 0,
    };
    asked
        .into_iter()
        .filter_map(|(k, v)| {
            let allowed = most.get(&k).map_or(0, |m| rank(m));
            match rank(&v).min(allowed) {
                0 => None,
                1 => Some((k, "read".to_string())),
                _ => Some((k, v)),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(yaml: &str) -> Option<Vec<String>> {
        let v: yaml_serde::Value = yaml_serde::from_str(yaml).unwrap();
        secrets_received(&v).map(|s| s.into_iter().collect())
    }

    #[test]
    fn a_job_receives_the_secrets_it_names_or_all_on_a_dynamic_read() {
        assert_eq!(
            received("steps:\n  - with: {a: '${{ secrets.A }}', b: \"${{ secrets['B'] }}\"}\n    if: secrets.C != ''\n"),
            Some(vec!["A".into(), "B".into(), "C".into()])
        );
        assert_eq!(
            received("steps:\n  - with: {k: '${{ secrets[needs.a.outputs.k] }}'}\n"),
            None
        );
        assert_eq!(
            received("steps:\n  - env: {ALL: '${{ toJSON(secrets) }}'}\n"),
            None
        );
        assert_eq!(received("steps:\n  - run: echo hi\n"), Some(Vec::new()));
    }

    /// The combinations of `strategy` (YAML).
    fn combinations(strategy: &str) -> Vec<Value> {
        let s: Strategy = yaml_serde::from_str(strategy).unwrap();
        matrix(Some(&s), &json!({}))
    }

    /// "Running variations of jobs in a workflow": the page's examples
    /// "Expanding or adding matrix configurations" and an include-only
    /// matrix ("Adding configurations": one job per entry).
    #[test]
    fn matrices_expand_as_githubs_page_examples_say() {
        assert_eq!(
            combinations(
                "matrix:\n  fruit: [apple, pear]\n  animal: [cat, dog]\n  include:\n    - color: green\n    - color: pink\n      animal: cat\n    - fruit: apple\n      shape: circle\n    - fruit: banana\n    - fruit: banana\n      animal: cat\n"
            ),
            [
                json!({"animal": "cat", "color": "pink", "fruit": "apple", "shape": "circle"}),
                json!({"animal": "dog", "color": "green", "fruit": "apple", "shape": "circle"}),
                json!({"animal": "cat", "color": "pink", "fruit": "pear"}),
                json!({"animal": "dog", "color": "green", "fruit": "pear"}),
                json!({"fruit": "banana"}),
                json!({"animal": "cat", "fruit": "banana"}),
            ]
        );
        assert_eq!(
            combinations("matrix:\n  include:\n    - site: production\n      datacenter: site-a\n    - site: staging\n      datacenter: site-b\n"),
            [
                json!({"datacenter": "site-a", "site": "production"}),
                json!({"datacenter": "site-b", "site": "staging"}),
            ]
        );
    }

    #[test]
    fn branch_policy_patterns_match_as_fnmatch_does() {
        assert!(glob_match("main", "main"));
        assert!(!glob_match("main", "main2"));
        assert!(glob_match("release/*", "release/1.2"));
        assert!(!glob_match("release/*", "release/1/hotfix"));
        assert!(glob_match("release/**", "release/1/hotfix"));
    }
}
