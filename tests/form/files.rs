//! `fleetform form` and `fleetform docs` on the example managers: the
//! issue form validates against SchemaStore's issue-form schema
//! (`check-jsonschema --builtin-schema vendor.github-issue-forms`) and
//! keeps the rules GitHub's "Common validation errors when creating issue
//! forms" page states and a schema cannot (unique ids and labels, ids of
//! letters, digits, `-` and `_`, no empty string, dropdown options unique
//! and never `None`, at least one field that is not markdown); the
//! reference page is what a customer reads.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::common::{Fixture, Run};

/// `fleetform form --out` for the manager at `manager` (and `product`):
/// the folder the files were written into.
fn form_files(manager: &Path, product: Option<&str>) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let mut run = Run::from(crate::common::fleetform_bin())
        .arg("-C")
        .arg(manager)
        .args(["form", "--out"])
        .arg(out.path());
    if let Some(p) = product {
        run = run.args(["--product", p]);
    }
    run.ok();
    out
}

/// `check-jsonschema` with a schema it ships, over `files`.
fn check_jsonschema(builtin: &str, files: &[&Path]) -> std::process::Output {
    let bin = crate::cli::init::linter("check-jsonschema");
    std::process::Command::new(bin)
        .args(["--builtin-schema", builtin])
        .args(files)
        .output()
        .unwrap()
}

/// What GitHub's page says of a form that a schema cannot: every problem.
fn github_rules(form: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut ids = BTreeSet::new();
    let mut labels = BTreeSet::new();
    let body = form["body"].as_array().cloned().unwrap_or_default();
    let mut fields = 0;
    for (i, el) in body.iter().enumerate() {
        let kind = el["type"].as_str().unwrap_or_default();
        if kind != "markdown" {
            fields += 1;
            let label = el["attributes"]["label"].as_str().unwrap_or_default();
            if !labels.insert(label.to_string()) {
                problems.push(format!("body[{i}]: label must be unique: {label}"));
            }
        }
        if let Some(id) = el["id"].as_str() {
            if !ids.insert(id.to_string()) {
                problems.push(format!("body[{i}]: id must be unique: {id}"));
            }
            if !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                problems.push(format!(
                    "body[{i}]: id can only contain numbers, letters, -, _: {id}"
                ));
            }
        }
        if kind == "dropdown" {
            let options: Vec<&str> = el["attributes"]["options"]
                .as_array()
                .map(|o| o.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let unique: BTreeSet<&str> = options.iter().copied().collect();
            if unique.len() != options.len() {
                problems.push(format!("body[{i}]: options must be unique"));
            }
            if options
                .iter()
                .any(|o| o.trim().eq_ignore_ascii_case("none"))
            {
                problems.push(format!(
                    "body[{i}]: options must not include the reserved word, none"
                ));
            }
        }
    }
    if fields == 0 {
        problems.push("body must contain at least one non-markdown field".into());
    }
    empty_strings(form, "", &mut problems);
    problems
}

/// "Empty strings, or strings consisting of only whitespaces, are also not
/// permissible when the field expects a string."
fn empty_strings(v: &Value, at: &str, problems: &mut Vec<String>) {
    match v {
        Value::String(s) if s.trim().is_empty() => problems.push(format!("{at}: an empty string")),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| empty_strings(x, &format!("{at}/{i}"), problems)),
        Value::Object(o) => o
            .iter()
            .for_each(|(k, x)| empty_strings(x, &format!("{at}/{k}"), problems)),
        _ => {}
    }
}

fn read_form(dir: &Path, label: &str) -> (std::path::PathBuf, Value) {
    let path = dir.join(format!(".github/ISSUE_TEMPLATE/{label}.yml"));
    let text = std::fs::read_to_string(&path).unwrap();
    (path, yaml_serde::from_str(&text).unwrap())
}

#[test]
fn the_issue_form_is_one_github_accepts() {
    let fx = Fixture::new();
    let out = form_files(&fx.manager(), None);
    let (path, form) = read_form(out.path(), "infra-change");
    let checked = check_jsonschema("vendor.github-issue-forms", &[&path]);
    assert!(
        checked.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    assert_eq!(github_rules(&form), Vec::<String>::new());
    let workflow = out.path().join(".github/workflows/customer-form.yml");
    let checked = check_jsonschema("vendor.github-workflows", &[&workflow]);
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stdout)
    );
    // Every kind of control the example's schema calls for.
    let kinds: BTreeSet<&str> = form["body"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["markdown", "input", "dropdown", "textarea"]),
        "{form}"
    );
}

/// The rules' own check is real: each rule finds its break.
#[test]
fn the_github_rules_check_finds_each_break() {
    let broken: Value = serde_json::json!({
        "name": "x", "description": " ",
        "body": [
            {"type": "input", "id": "a.b", "attributes": {"label": "L"}},
            {"type": "input", "id": "a.b", "attributes": {"label": "L"}},
            {"type": "dropdown", "id": "d", "attributes": {"label": "D", "options": ["None", "x", "x"]}}
        ]
    });
    let found = github_rules(&broken).join("\n");
    for rule in [
        "label must be unique",
        "id must be unique",
        "id can only contain",
        "options must be unique",
        "reserved word, none",
        "an empty string",
    ] {
        assert!(found.contains(rule), "{rule} not found in:\n{found}");
    }
}

#[test]
fn every_control_and_every_hostile_name_keeps_to_githubs_rules() {
    let fx = Fixture::new();
    // A schema with every kind of control, names that clash once cleaned,
    // descriptions that look like YAML and Markdown, and a secret.
    fx.write(
        "manager/schema/variables.schema.json",
        r#"{
  "type": "object",
  "required": ["project_name"],
  "properties": {
    "project_name": {"type": "string", "description": "key: value # not YAML\n- nor a list"},
    "a.b": {"type": "string"}, "a_b": {"type": "string"},
    "a": {"type": "object", "additionalProperties": false, "properties": {"b": {"type": "integer"}}},
    "public": {"type": "boolean", "description": "::error::not a command"},
    "mode": {"enum": ["None", "fast"]},
    "size": {"enum": ["small", "large"], "description": ""},
    "ratio": {"type": "number", "exclusiveMinimum": 0},
    "list": {"type": "array", "items": {"type": "string"}},
    "db_password": {"type": "string", "writeOnly": true}
  }
}"#,
    );
    let out = form_files(&fx.manager(), None);
    let (path, form) = read_form(out.path(), "infra-change");
    let checked = check_jsonschema("vendor.github-issue-forms", &[&path]);
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stdout)
    );
    assert_eq!(github_rules(&form), Vec::<String>::new(), "{form}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains("db_password"),
        "a secret is never a field:\n{text}"
    );
    let kinds: BTreeSet<&str> = form["body"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert!(kinds.contains("checkboxes"), "{form}");
    let reference = std::fs::read_to_string(out.path().join("infra/README.md")).unwrap();
    assert!(
        reference.contains("`db_password`"),
        "the secret is named in the reference:\n{reference}"
    );
}

#[test]
fn the_reference_page_says_each_setting_and_the_providers_defaults() {
    let fx = Fixture::new();
    let page = Run::from(crate::common::fleetform_bin())
        .arg("-C")
        .arg(fx.manager())
        .arg("docs")
        .ok()
        .stdout;
    insta::assert_snapshot!(page);
}

#[test]
fn each_product_has_its_own_form_and_a_missing_product_is_said() {
    let fx = Fixture::new();
    let manager = fx.path("products/manager");
    let refused = Run::from(crate::common::fleetform_bin())
        .arg("-C")
        .arg(&manager)
        .args(["form", "--out", "x"])
        .code(2);
    assert!(refused.stderr.contains("--product"), "{}", refused.stderr);
    let out = form_files(&manager, Some("app"));
    let (path, form) = read_form(out.path(), "infra-change-app");
    let checked = check_jsonschema("vendor.github-issue-forms", &[&path]);
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stdout)
    );
    assert_eq!(form["labels"][0], "infra-change-app");
    let described: Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join(".github/fleetform/infra-change-app.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(described["variables"], "infra/app/variables.yml");
    assert!(out.path().join("infra/app/README.md").is_file());
}
