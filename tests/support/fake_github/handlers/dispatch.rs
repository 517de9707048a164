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
