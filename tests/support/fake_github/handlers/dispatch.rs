//! The fake GitHub's repository dispatches (`src/github/dispatch.rs`).

use serde_json::{json, Value};

use super::super::state::State;
use super::{Answer, Ctx};

pub(crate) fn dispatch(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
    let body = ctx.body.cloned().unwrap_or(Value::Null);
    let payload_size = body
        .get("client_payload")
        .map_or(0, |p| p.to_string().len());
    if payload_size >= 64 * 1024 {
        let mut answer = Answer::error(422, "client_payload is too large (maximum is 64 KB)");
        answer.violation = Some(format!(
            "dispatch client_payload is {payload_size} bytes; GitHub allows less than 64 KB"
        ));
        return answer;
    }
    // What GitHub puts in the event's `sender`: the account the token acts as.
    let login = state.current_sender.clone();
    let kind = if login.ends_with("[bot]") {
        "Bot"
    } else {
        "User"
    };
    let mut body = body;
    if let Some(o) = body.as_object_mut() {
        o.insert("sender".into(), json!({ "login": login, "type": kind }));
    }
    state.seeded(repo_name).dispatches.push(body);
    Answer::no_content()
}

/// `POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches`
/// ("Create a workflow dispatch event"): the workflow file (its name, as
/// `workflow_id` may be) must exist on `ref` and have a
/// `workflow_dispatch` trigger, and every input must be one it declares
/// (GitHub: 404 for an unknown workflow, 422 "Workflow does not have
/// 'workflow_dispatch' trigger", 422 "Unexpected inputs provided");
/// 204, recorded for the runner with the sender.
pub(crate) fn workflow_dispatch(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
    let workflow = ctx.param("workflow_id").to_string();
    let body = ctx.body.cloned().unwrap_or(Value::Null);
    let git_ref = body["ref"].as_str().unwrap_or_default().to_string();
    let repo = state.seeded(repo_name).clone();
    let Some(sha) = state.resolve(&repo, &git_ref) else {
        return Answer::error(422, &format!("No ref found for: {git_ref}"));
    };
    let path = format!(".github/workflows/{workflow}");
    let Some(text) = state
        .commits
        .get(&sha)
        .and_then(|c| c.files.get(&path))
        .map(|b| String::from_utf8_lossy(b).into_owned())
    else {
        return Answer::error(404, "Not Found");
    };
    let declared = match dispatch_inputs(&text) {
        Some(inputs) => inputs,
        None => return Answer::error(422, "Workflow does not have 'workflow_dispatch' trigger"),
    };
    let given: Vec<String> = body["inputs"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    if let Some(unexpected) = given.iter().find(|k| !declared.contains(k)) {
        return Answer::error(
            422,
            &format!("Unexpected inputs provided: [\"{unexpected}\"]"),
        );
    }
    let login = state.current_sender.clone();
    state.seeded(repo_name).workflow_dispatches.push(json!({
        "workflow": path,
        "ref": git_ref,
        "sha": sha,
        "inputs": body.get("inputs").cloned().unwrap_or_else(|| json!({})),
        "sender": {"login": login},
    }));
    Answer::no_content()
}

/// The inputs a workflow's `on.workflow_dispatch` declares, or `None`
/// without the trigger.
fn dispatch_inputs(text: &str) -> Option<Vec<String>> {
    let doc: Value = yaml_serde::from_str(text).ok()?;
    let on = doc.get("on")?;
    let trigger = match on {
        Value::String(s) => return (s == "workflow_dispatch").then(Vec::new),
        Value::Array(a) => return a.iter().any(|v| v == "workflow_dispatch").then(Vec::new),
        Value::Object(o) => o.get("workflow_dispatch")?,
        _ => return None,
    };
    Some(
        trigger
            .get("inputs")
            .and_then(Value::as_object)
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default(),
    )
}
