//! The customer's change form (issue "Customers serve themselves"): the
//! files `fleetform form` makes from the provider's schema, checked as
//! GitHub checks them (`files`), and the form workflow run as GitHub runs
//! it on issues from the form, hostile ones included (`request`). The
//! whole road from an issue to a planned pull request is the rehearsal's
//! `form`.

use serde_json::{json, Value};

use crate::support::actions_runner::Event;
use crate::support::fake_github::FakeGitHub;

mod files;
mod html;
mod plan_comment;
mod request;
mod sync;

/// The body GitHub writes for an issue from `form` (an issue form's
/// YAML): each element but markdown as `### <label>`, then its answer
/// from `answers` by label, else `_No response_` (boxes unticked).
pub(crate) fn issue_body(form: &str, answers: &[(&str, &str)]) -> String {
    let form: Value = yaml_serde::from_str(form).expect("the issue form is YAML");
    let mut body = String::new();
    for el in form["body"].as_array().expect("a form body") {
        let kind = el["type"].as_str().unwrap();
        if kind == "markdown" {
            continue;
        }
        let label = el["attributes"]["label"].as_str().unwrap();
        let given = answers.iter().find(|(l, _)| *l == label).map(|(_, a)| *a);
        let answer = match (kind, given) {
            (_, Some(a)) => a.to_string(),
            ("checkboxes", None) => el["attributes"]["options"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| format!("- [ ] {}", o["label"].as_str().unwrap()))
                .collect::<Vec<_>>()
                .join("\n"),
            _ => "_No response_".into(),
        };
        body.push_str(&format!("### {label}\n\n{answer}\n\n"));
    }
    body
}

/// The `issues` event GitHub sends for issue `number` of `repo`, as the
/// fake holds it, with its labels.
pub(crate) fn issue_event(gh: &FakeGitHub, repo: &str, number: u64, action: &str) -> Event {
    let issue = gh.issue(repo, number).expect("the issue");
    Event {
        name: "issues".into(),
        payload: json!({
            "action": action,
            "issue": {
                "number": number,
                "title": issue.title,
                "body": issue.body,
                "state": issue.state,
                "labels": issue.labels.iter().map(|l| json!({"name": l})).collect::<Vec<_>>(),
                "user": {"login": "hooli-dev"},
            },
            "repository": {"full_name": repo, "default_branch": "main"},
        }),
        git_ref: "refs/heads/main".into(),
        actor: "hooli-dev".into(),
        inputs: json!(null),
    }
}

/// Every file `init --customer` wrote under `dir`, relative.
pub(crate) fn written(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.push((rel, std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}
