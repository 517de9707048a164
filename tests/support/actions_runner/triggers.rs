//! Whether GitHub starts a workflow for an event at all: its `on:` names
//! the event and, where the event has activity types, the event's
//! `action` is one the workflow lists (or one of the defaults GitHub
//! applies when it lists none). A test that runs a workflow for an event
//! it would never run on proves nothing about github.com, so the runner
//! refuses it.
//!
//! Source: GitHub's "Events that trigger workflows" page:
//! - `repository_dispatch`: "You can use the `types` keyword to limit
//!   your workflow to run only for specific `event_type` values";
//! - `pull_request`: "By default, a workflow only runs when a
//!   `pull_request` event's activity type is `opened`, `synchronize`, or
//!   `reopened`";
//! - `issues`, `issue_comment`, ...: `types` limits the activity types;
//!   without it every type starts the workflow.
//!
//! Branch and path filters (`branches:`, `paths:`) are not modelled; a
//! test that depends on one checks it itself.

use serde_json::Value;

/// The workflow's `on:` as (event name, its settings or null).
fn events(on: &yaml_serde::Value) -> Vec<(String, yaml_serde::Value)> {
    match on {
        yaml_serde::Value::String(s) => vec![(s.clone(), yaml_serde::Value::Null)],
        yaml_serde::Value::Sequence(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(|s| (s.to_string(), yaml_serde::Value::Null)))
            .collect(),
        yaml_serde::Value::Mapping(m) => m
            .iter()
            .filter_map(|(k, v)| k.as_str().map(|k| (k.to_string(), v.clone())))
            .collect(),
        _ => Vec::new(),
    }
}

/// The activity types GitHub runs the workflow for when `types:` is not
/// given: `pull_request` and `pull_request_target` only three ("Events
/// that trigger workflows"), every other event all of them (`None`).
fn default_types(event: &str) -> Option<&'static [&'static str]> {
    match event {
        "pull_request" | "pull_request_target" => Some(&["opened", "synchronize", "reopened"]),
        _ => None,
    }
}

/// `Ok` when GitHub starts the workflow whose document is `workflow` for
/// the event `name` with `payload` (`github.event`); else why not.
pub(super) fn starts(
    workflow: &yaml_serde::Value,
    name: &str,
    payload: &Value,
) -> Result<(), String> {
    // yaml_serde reads the key `on` as a string (YAML 1.2 has no `on`
    // boolean).
    let on = workflow.get("on").cloned().unwrap_or_default();
    let listed = events(&on);
    let Some((_, settings)) = listed.iter().find(|(e, _)| e == name) else {
        let names: Vec<&str> = listed.iter().map(|(e, _)| e.as_str()).collect();
        return Err(format!("its `on:` lists {names:?}, not `{name}`"));
    };
    // Events without activity types (push, schedule, workflow_dispatch)
    // have no `action` to check.
    let action = match name {
        "push" | "schedule" | "workflow_dispatch" | "workflow_call" => return Ok(()),
        _ => payload.get("action").and_then(Value::as_str),
    };
    let Some(action) = action else {
        return Err(format!(
            "a `{name}` event carries an `action`; this one has none"
        ));
    };
    let types: Option<Vec<String>> = settings.get("types").map(|t| match t {
        yaml_serde::Value::Sequence(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        yaml_serde::Value::String(s) => vec![s.clone()],
        _ => Vec::new(),
    });
    let allowed: Option<Vec<String>> =
        types.or_else(|| default_types(name).map(|d| d.iter().map(|s| s.to_string()).collect()));
    match allowed {
        Some(list) if !list.iter().any(|t| t == action) => Err(format!(
            "its `on.{name}` runs for types {list:?}, not `{action}`"
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> yaml_serde::Value {
        yaml_serde::from_str(text).unwrap()
    }

    #[test]
    fn a_dispatch_runs_only_the_workflows_listing_its_type() {
        let deploy =
            doc("on:\n  repository_dispatch:\n    types: [fleetform-plan, fleetform-apply]\n");
        let plan = serde_json::json!({"action": "fleetform-plan"});
        let batch = serde_json::json!({"action": "fleetform-batch"});
        assert!(starts(&deploy, "repository_dispatch", &plan).is_ok());
        let why = starts(&deploy, "repository_dispatch", &batch).unwrap_err();
        assert!(why.contains("not `fleetform-batch`"), "{why}");
        assert!(starts(&deploy, "push", &plan).is_err());
        let any = doc("on: repository_dispatch\n");
        assert!(starts(&any, "repository_dispatch", &batch).is_ok());
    }

    #[test]
    fn a_pull_request_without_types_runs_for_the_three_defaults() {
        let pr = doc("on:\n  pull_request:\n    branches: [main]\n");
        for (action, runs) in [("opened", true), ("synchronize", true), ("closed", false)] {
            let payload = serde_json::json!({"action": action});
            assert_eq!(
                starts(&pr, "pull_request", &payload).is_ok(),
                runs,
                "{action}"
            );
        }
        let list = doc("on: [push, workflow_dispatch]\n");
        assert!(starts(&list, "workflow_dispatch", &Value::Null).is_ok());
    }
}
