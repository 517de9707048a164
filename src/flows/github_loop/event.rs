//! The `repository_dispatch` event: which action, and the checked payload.

use serde_json::Value;

use crate::ci::{RunContext, BATCH_ENTRY_VAR};
use crate::dispatch::{Batch, BatchEntry, Payload, EVENT_APPLY, EVENT_BATCH, EVENT_PLAN};
use crate::error::{Error, Result, Say};

/// The parsed event: which action and the checked payload.
pub struct Dispatched {
    pub event_type: String,
    pub payload: Payload,
    /// The account that sent the dispatch (the event's `sender.login`, set
    /// by GitHub from the token used: `<app>[bot]` for an App).
    pub sender: Option<String>,
    /// When the customer's job asked the relay (its OIDC token's `iat`,
    /// Unix seconds): a batch entry's `asked_at`, which only the relay
    /// sets; `None` for a single dispatch.
    pub asked_at: Option<u64>,
    /// How many customers' events the dispatch holds: 1 for a plan or
    /// apply dispatch, the batch's entries for a `fleetform-batch` one.
    pub batch_of: usize,
}

impl Dispatched {
    /// Whether this run works on one entry of a batch of several
    /// customers' events (a batch of one runs as a single dispatch would:
    /// one customer's jobs wait on each environment).
    pub fn in_batch_of_several(&self) -> bool {
        self.batch_of > 1
    }
}

/// Reads and checks the `repository_dispatch` event. A `fleetform-batch`
/// dispatch holds several customers' events: the job works on the entry
/// `FLEETFORM_BATCH_ENTRY` names (`manager-batch.yml` sets it), which is
/// then read as a single dispatch would be. For a plan or apply dispatch
/// the variable is ignored.
pub fn read_event(ctx: &RunContext) -> Result<Dispatched> {
    let event = dispatch_event(ctx)?;
    let action = event
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let client_payload = event.get("client_payload").unwrap_or(&Value::Null);
    let (event_type, payload, asked_at, batch_of) = match action {
        EVENT_PLAN | EVENT_APPLY => (
            action.to_string(),
            Payload::parse(client_payload).map_err(|e| Error::refused(e.to_string()))?,
            None,
            1,
        ),
        EVENT_BATCH => {
            let (
                BatchEntry {
                    event_type,
                    payload,
                    asked_at,
                },
                n,
            ) = batch_entry(ctx, client_payload)?;
            (event_type, payload, asked_at, n)
        }
        _ => {
            return Err(Error::refused(format!(
                "dispatch type must be `{EVENT_PLAN}`, `{EVENT_APPLY}` or `{EVENT_BATCH}`"
            )))
        }
    };
    Ok(Dispatched {
        event_type,
        payload,
        sender: sender(&event),
        asked_at,
        batch_of,
    })
}

/// The `repository_dispatch` event of the run.
fn dispatch_event(ctx: &RunContext) -> Result<Value> {
    if ctx.event_name.as_deref() != Some("repository_dispatch") {
        return Err(Error::usage(format!(
            "--dispatch runs on repository_dispatch events, not `{}`",
            ctx.event_name
                .as_deref()
                .unwrap_or("(GITHUB_EVENT_NAME unset)")
        )));
    }
    ctx.event().map_err(Error::usage)
}

/// The account that sent the dispatch (`sender.login`).
fn sender(event: &Value) -> Option<String> {
    event
        .pointer("/sender/login")
        .and_then(Value::as_str)
        .filter(|s| s.len() <= 100)
        .map(str::to_string)
}

/// A whole `fleetform-batch` event, checked, and its sender: what
/// `fleetform batch-entries` fans out.
pub fn read_batch_event(ctx: &RunContext) -> Result<(Batch, Option<String>)> {
    let event = dispatch_event(ctx)?;
    let action = event.get("action").and_then(Value::as_str);
    if action != Some(EVENT_BATCH) {
        return Err(Error::usage(format!(
            "this runs on `{EVENT_BATCH}` dispatches (manager-batch.yml), not `{}`",
            action.unwrap_or("(no action)").escape_debug()
        )));
    }
    let batch = read_batch(event.get("client_payload").unwrap_or(&Value::Null))?;
    Ok((batch, sender(&event)))
}

/// The checked batch of a `fleetform-batch` dispatch.
fn read_batch(client_payload: &Value) -> Result<Batch> {
    Batch::parse(client_payload).map_err(|e| Error::refused(e.to_string()))
}

/// The entry of the batch `FLEETFORM_BATCH_ENTRY` names, and how many the
/// batch holds. The batch is checked whole first, so every job of a batch
/// run refuses a bad one.
fn batch_entry(ctx: &RunContext, client_payload: &Value) -> Result<(BatchEntry, usize)> {
    let mut batch = read_batch(client_payload)?;
    let n = batch.entries.len();
    let usage = |what: String| {
        Error::Usage(Say::new(format!("{what}: a `{EVENT_BATCH}` dispatch holds {n} customers' events")).help(format!("set {BATCH_ENTRY_VAR} to the index (0 to {}) of the one this job works on, as manager-batch.yml does", n - 1)))
    };
    let Some(text) = ctx.batch_entry.as_deref() else {
        return Err(usage(format!("{BATCH_ENTRY_VAR} is not set")));
    };
    let i: usize = text.trim().parse().map_err(|_| {
        usage(format!(
            "{BATCH_ENTRY_VAR} is `{}`, not a number",
            text.escape_debug()
        ))
    })?;
    if i >= n {
        return Err(usage(format!(
            "{BATCH_ENTRY_VAR} is {i}, past the batch's last entry"
        )));
    }
    Ok((batch.entries.swap_remove(i), n))
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
        run_entry(dir, name, event, None)
    }

    fn run_entry(
        dir: &std::path::Path,
        name: Option<&str>,
        event: Value,
        entry: Option<&str>,
    ) -> Result<Dispatched> {
        let path = dir.join("event.json");
        std::fs::write(&path, event.to_string()).unwrap();
        let ctx = RunContext {
            event_name: name.map(str::to_string),
            event_path: Some(path),
            batch_entry: entry.map(str::to_string),
            ..RunContext::default()
        };
        read_event(&ctx)
    }

    fn relayed(repo: &str, sha: char) -> Value {
        json!({
            "v": 1, "customer_repo": repo, "sha": sha.to_string().repeat(40), "ref": "refs/heads/main",
            "pr": null, "event": "push", "dispatch_id": "d-1",
            "files": ["infra/variables.yml"], "repo_id": 7
        })
    }

    fn batch_event() -> Value {
        json!({
            "action": EVENT_BATCH,
            "client_payload": {"v": 1, "batch": [
                {"event_type": EVENT_PLAN, "payload": relayed("acme/infra", 'a')},
                {"event_type": EVENT_APPLY, "payload": relayed("globex/app", 'b')},
            ]},
            "sender": {"login": "fleetform-manager[bot]"}
        })
    }

    /// Each job of a batch run reads its own entry, with the event's sender.
    #[test]
    fn a_batch_entry_is_read_as_its_own_dispatch() {
        let d = tempfile::tempdir().unwrap();
        let rd = Some("repository_dispatch");
        let first = run_entry(d.path(), rd, batch_event(), Some("0")).unwrap();
        assert_eq!(first.event_type, EVENT_PLAN);
        assert_eq!(first.payload.customer_repo, "acme/infra");
        assert_eq!(first.payload.sha, "a".repeat(40));
        assert_eq!(first.sender.as_deref(), Some("fleetform-manager[bot]"));
        let second = run_entry(d.path(), rd, batch_event(), Some("1")).unwrap();
        assert_eq!(second.event_type, EVENT_APPLY);
        assert_eq!(second.payload.customer_repo, "globex/app");
        assert_eq!(second.sender.as_deref(), Some("fleetform-manager[bot]"));
    }

    #[test]
    fn a_batch_entry_needs_a_valid_index() {
        let d = tempfile::tempdir().unwrap();
        let rd = Some("repository_dispatch");
        for (entry, want) in [
            (None, "FLEETFORM_BATCH_ENTRY is not set"),
            (Some("one"), "FLEETFORM_BATCH_ENTRY is `one`, not a number"),
            (Some("-1"), "FLEETFORM_BATCH_ENTRY is `-1`, not a number"),
            (
                Some("2"),
                "FLEETFORM_BATCH_ENTRY is 2, past the batch's last entry",
            ),
            (Some("99999999999999999999999"), "not a number"),
        ] {
            let r = run_entry(d.path(), rd, batch_event(), entry);
            assert!(
                matches!(&r, Err(Error::Usage(m)) if m.contains(want) && m.one_line().contains("0 to 1")),
                "{entry:?}: {:?}",
                r.err()
            );
        }
        // A bad batch is refused whatever the index.
        let mut bad = batch_event();
        bad["client_payload"]["batch"][1]["payload"]["sha"] = json!("nope");
        let r = run_entry(d.path(), rd, bad, Some("0"));
        assert!(
            matches!(&r, Err(Error::Refused(m)) if m.contains("batch entry 1: `sha`")),
            "{:?}",
            r.err()
        );
    }

    /// The variable means nothing to a single dispatch.
    #[test]
    fn a_single_dispatch_ignores_the_entry_variable() {
        let d = tempfile::tempdir().unwrap();
        let event = json!({"action": EVENT_PLAN, "client_payload": relayed("acme/infra", 'c')});
        for entry in [None, Some("5"), Some("x")] {
            let one =
                run_entry(d.path(), Some("repository_dispatch"), event.clone(), entry).unwrap();
            assert_eq!(one.payload.sha, "c".repeat(40));
        }
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
