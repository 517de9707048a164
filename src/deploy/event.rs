//! The `repository_dispatch` event: which action, and the checked payload.

use serde_json::Value;

use crate::ci::RunContext;
use crate::dispatch::{Payload, EVENT_APPLY, EVENT_PLAN};
use crate::error::{Error, Result};

/// The parsed event: which action and the checked payload.
pub struct Dispatched {
    pub event_type: String,
    pub payload: Payload,
    /// The account that sent the dispatch (the event's `sender.login`, set
    /// by GitHub from the token used: `<app>[bot]` for an App).
    pub sender: Option<String>,
}

/// Reads and checks the `repository_dispatch` event.
pub fn read_event(ctx: &RunContext) -> Result<Dispatched> {
    if ctx.event_name.as_deref() != Some("repository_dispatch") {
        return Err(Error::Usage(format!(
            "--dispatch runs on repository_dispatch events, not `{}`",
            ctx.event_name
                .as_deref()
                .unwrap_or("(GITHUB_EVENT_NAME unset)")
        )));
    }
    let event = ctx.event().map_err(Error::Usage)?;
    let event_type = event
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if event_type != EVENT_PLAN && event_type != EVENT_APPLY {
        return Err(Error::Refused(format!(
            "dispatch type must be `{EVENT_PLAN}` or `{EVENT_APPLY}`"
        )));
    }
    let payload = Payload::parse(event.get("client_payload").unwrap_or(&Value::Null))
        .map_err(|e| Error::Refused(e.to_string()))?;
    let sender = event
        .pointer("/sender/login")
        .and_then(Value::as_str)
        .filter(|s| s.len() <= 100)
        .map(str::to_string);
    Ok(Dispatched {
        event_type,
        payload,
        sender,
    })
}

/// Which job checks the dispatch; it decides how old a signature may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Plan,
    Apply,
}

impl Stage {
    /// The end of a refusal message.
    pub(super) fn nothing_done(self) -> &'static str {
        match self {
            Stage::Plan => "nothing was planned",
            Stage::Apply => "nothing was applied",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(dir: &std::path::Path, name: Option<&str>, event: Value) -> Result<Dispatched> {
        let path = dir.join("event.json");
        std::fs::write(&path, event.to_string()).unwrap();
        let ctx = RunContext {
            event_name: name.map(str::to_string),
            event_path: Some(path),
            ..RunContext::default()
        };
        read_event(&ctx)
    }

    #[test]
    fn only_plan_and_apply_dispatches_are_read() {
        let d = tempfile::tempdir().unwrap();
        let payload = json!({
            "v": 1, "customer_repo": "acme/infra", "sha": "a".repeat(40), "ref": "refs/heads/main",
            "pr": null, "event": "push", "trigger_run_url": null, "dispatch_id": "d-1",
            "files": ["infra/variables.yml"]
        });
        let event = |action: &str| json!({"action": action, "client_payload": payload});
        let ok = run(d.path(), Some("repository_dispatch"), event(EVENT_APPLY)).unwrap();
        assert_eq!(ok.event_type, EVENT_APPLY);
        assert_eq!(ok.payload.customer_repo, "acme/infra");
        let push = run(d.path(), Some("push"), event(EVENT_PLAN));
        assert!(matches!(push, Err(Error::Usage(m)) if m.contains("not `push`")));
        let other = run(d.path(), Some("repository_dispatch"), event("deploy"));
        assert!(matches!(other, Err(Error::Refused(m)) if m.contains("dispatch type")));
        let bad = json!({"action": EVENT_PLAN, "client_payload": {"v": 2}});
        let bad = run(d.path(), Some("repository_dispatch"), bad);
        assert!(matches!(bad, Err(Error::Refused(_))));
    }
}
