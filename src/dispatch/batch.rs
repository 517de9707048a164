//! A `fleetform-batch` dispatch: several customers' events in one
//! `repository_dispatch`, so that the relay stays within GitHub's limits on
//! content-creating requests per App installation (about 80 a minute, 500
//! an hour). The manager's `manager-batch.yml` runs the deploy workflow
//! once per entry; each job picks its entry by index
//! (`FLEETFORM_BATCH_ENTRY`, `flows::github_loop::event::read_event`).
//!
//! The `client_payload`, version 1, two top-level keys:
//!
//! ```json
//! {"v": 1, "batch": [{"event_type": "fleetform-plan", "payload": {...}}, ...]}
//! ```
//!
//! 1 to [`MAX_BATCH`] entries; each `payload` is checked exactly as
//! [`Payload::parse`] checks a single dispatch's, and must be the relay's
//! (a `repo_id`, no `sig`): only the relay, as the manager App, batches.
//!
//! An entry may also carry `asked_at` (Unix seconds, beside `event_type`
//! and `payload`): the `iat` of the customer job's GitHub OIDC token, which
//! the relay verified, that is GitHub's signed time of when the job the
//! customer's event started asked the relay. A plan is measured against
//! `sla:` from it (`flows::github_loop::sla`). It lives in the entry, not
//! in the payload: a single dispatch's payload has no room for it (GitHub's
//! 10 top-level keys; the relay's uses all 10), and a signed dispatch from
//! the customer's own workflow cannot carry it. Checked: not later than
//! [`ASKED_AT_SKEW`] past the checking clock, not older than
//! [`ASKED_AT_MAX_AGE`].

use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use super::{bad, Payload, PayloadError, EVENT_APPLY, EVENT_PLAN, MAX_BATCH, MAX_BYTES};

/// A checked batch; serialises to exactly the `client_payload` above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub entries: Vec<BatchEntry>,
}

/// One customer's event of a [`Batch`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchEntry {
    /// [`EVENT_PLAN`] or [`EVENT_APPLY`].
    pub event_type: String,
    /// The payload a single dispatch of this event would carry.
    pub payload: Payload,
    /// When the customer's job asked the relay (its OIDC token's `iat`,
    /// Unix seconds), set by the relay from a verified token only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asked_at: Option<u64>,
}

/// How far past the checking runner's clock `asked_at` may be: GitHub's
/// clocks and the runner's, and the relay's own skew on `iat` (60 s).
pub const ASKED_AT_SKEW: u64 = 5 * 60;
/// The oldest `asked_at` accepted: a re-run keeps its event for 30 days,
/// and with it the time its customer asked.
pub const ASKED_AT_MAX_AGE: u64 = 31 * 24 * 3600;

/// The batch format's version.
const VERSION: u32 = 1;

/// The wire shape, before the entries are checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    v: u32,
    batch: Vec<WireEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireEntry {
    event_type: String,
    payload: Value,
    #[serde(default)]
    asked_at: Option<u64>,
}

#[derive(Serialize)]
struct WireOut<'a> {
    v: u32,
    batch: &'a [BatchEntry],
}

impl Serialize for Batch {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        WireOut {
            v: VERSION,
            batch: &self.entries,
        }
        .serialize(s)
    }
}

impl Batch {
    /// Parses and checks a `fleetform-batch` dispatch's `client_payload`,
    /// its entries' `asked_at` against this machine's clock.
    pub fn parse(v: &Value) -> Result<Batch, PayloadError> {
        Batch::parse_at(v, crate::audit::now_unix())
    }

    /// [`Batch::parse`] with the clock at `now` (Unix seconds).
    pub fn parse_at(v: &Value, now: u64) -> Result<Batch, PayloadError> {
        if !v.is_object() {
            return Err(bad("a batch's client_payload must be an object"));
        }
        let size = serde_json::to_vec(v).map(|b| b.len()).unwrap_or(usize::MAX);
        if size >= MAX_BYTES {
            return Err(bad(format!(
                "the batch is {size} bytes, GitHub allows under {MAX_BYTES}; send fewer entries per dispatch"
            )));
        }
        let wire: Wire = serde_json::from_value(v.clone()).map_err(|e| {
            bad(format!(
                "a batch is {{\"v\": 1, \"batch\": [{{\"event_type\", \"payload\"}}, ...]}}: {e}"
            ))
        })?;
        if wire.v != VERSION {
            return Err(bad(format!(
                "batch version {} is not supported (expected {VERSION}); update fleetform on the manager",
                wire.v
            )));
        }
        if wire.batch.is_empty() || wire.batch.len() > MAX_BATCH {
            return Err(bad(format!(
                "a batch holds 1 to {MAX_BATCH} entries, this one {}",
                wire.batch.len()
            )));
        }
        let entries = wire
            .batch
            .into_iter()
            .enumerate()
            .map(|(i, e)| entry(i, e, now))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Batch { entries })
    }

    /// The `client_payload` to send, checked as the manager will check it.
    pub fn client_payload(&self) -> Result<Value, PayloadError> {
        let v = serde_json::to_value(self).map_err(|e| bad(e.to_string()))?;
        Batch::parse(&v)?;
        Ok(v)
    }
}

/// Entry `i`, checked: its type, its payload as a single one, that it
/// is the relay's, and its `asked_at` against the clock at `now`.
fn entry(i: usize, e: WireEntry, now: u64) -> Result<BatchEntry, PayloadError> {
    if e.event_type != EVENT_PLAN && e.event_type != EVENT_APPLY {
        return Err(bad(format!(
            "batch entry {i}: `event_type` must be `{EVENT_PLAN}` or `{EVENT_APPLY}`"
        )));
    }
    let payload =
        Payload::parse(&e.payload).map_err(|err| bad(format!("batch entry {i}: {}", err.0)))?;
    if payload.sig.is_some() || payload.repo_id.is_none() {
        return Err(bad(format!(
            "batch entry {i}: a batch's entries are the relay's (a `repo_id`, no `sig`)"
        )));
    }
    if let Some(at) = e.asked_at {
        if at > now.saturating_add(ASKED_AT_SKEW) || at < now.saturating_sub(ASKED_AT_MAX_AGE) {
            return Err(bad(format!(
                "batch entry {i}: `asked_at` {at} is not a time of the last 31 days (this clock: {now}); the relay sets it from the customer's token"
            )));
        }
    }
    Ok(BatchEntry {
        event_type: e.event_type,
        payload,
        asked_at: e.asked_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload(repo: &str) -> Value {
        json!({
            "v": 1, "customer_repo": repo, "sha": "a".repeat(40), "ref": "refs/heads/main",
            "pr": null, "event": "push", "dispatch_id": "d-1",
            "files": ["infra/variables.yml"], "repo_id": 42
        })
    }

    fn good() -> Value {
        json!({"v": 1, "batch": [
            {"event_type": EVENT_PLAN, "payload": payload("acme/infra")},
            {"event_type": EVENT_APPLY, "payload": payload("globex/app")},
        ]})
    }

    #[test]
    fn a_good_batch_parses_and_round_trips() {
        let b = Batch::parse(&good()).unwrap();
        assert_eq!(b.entries.len(), 2);
        assert_eq!(b.entries[0].event_type, EVENT_PLAN);
        assert_eq!(b.entries[1].event_type, EVENT_APPLY);
        assert_eq!(b.entries[1].payload.customer_repo, "globex/app");
        assert_eq!(serde_json::to_value(&b).unwrap(), good());
        assert_eq!(b.client_payload().unwrap(), good());
        let full = json!({"v": 1, "batch": vec![json!({"event_type": EVENT_PLAN, "payload": payload("acme/infra")}); MAX_BATCH]});
        assert_eq!(Batch::parse(&full).unwrap().entries.len(), MAX_BATCH);
    }

    #[test]
    fn an_entry_carries_when_its_customer_asked_within_bounds() {
        let now = 1_800_000_000;
        let with = |at: Value| {
            json!({"v": 1, "batch": [
                {"event_type": EVENT_PLAN, "payload": payload("acme/infra"), "asked_at": at},
            ]})
        };
        let b = Batch::parse_at(&with(json!(now - 3600)), now).unwrap();
        assert_eq!(b.entries[0].asked_at, Some(now - 3600));
        assert_eq!(serde_json::to_value(&b).unwrap(), with(json!(now - 3600)));
        assert_eq!(
            Batch::parse_at(&good(), now).unwrap().entries[0].asked_at,
            None
        );
        for ok in [now + ASKED_AT_SKEW, now - ASKED_AT_MAX_AGE] {
            assert!(Batch::parse_at(&with(json!(ok)), now).is_ok(), "{ok}");
        }
        for (bad, want) in [
            (
                json!(now + ASKED_AT_SKEW + 1),
                "is not a time of the last 31 days",
            ),
            (
                json!(now - ASKED_AT_MAX_AGE - 1),
                "is not a time of the last 31 days",
            ),
            (json!("2026-11-02T10:00:00Z"), "invalid type"),
            (json!(-1), "invalid value"),
        ] {
            let e = Batch::parse_at(&with(bad.clone()), now).expect_err(want);
            assert!(e.to_string().contains(want), "{bad}: {e}");
        }
        // Never in a single dispatch's payload: its fields are closed.
        let mut single = payload("acme/infra");
        single["asked_at"] = json!(now);
        let e = Payload::parse(&single).unwrap_err();
        assert!(e.to_string().contains("unknown field `asked_at`"), "{e}");
    }

    #[test]
    fn malformed_batches_are_refused_with_a_reason() {
        let entry = json!({"event_type": EVENT_PLAN, "payload": payload("acme/infra")});
        let mut signed = payload("acme/infra");
        signed["sig"] = json!(format!("v1.1800000000.1.{}", "ab".repeat(32)));
        signed.as_object_mut().unwrap().remove("repo_id");
        let mut unsigned_no_id = payload("acme/infra");
        unsigned_no_id.as_object_mut().unwrap().remove("repo_id");
        let mut bad_sha = payload("acme/infra");
        bad_sha["sha"] = json!("ABC");
        let cases: Vec<(Value, &str)> = vec![
            (json!([entry]), "must be an object"),
            (json!({"v": 2, "batch": [entry]}), "batch version 2"),
            (json!({"batch": [entry]}), "missing field `v`"),
            (json!({"v": 1}), "missing field `batch`"),
            (
                json!({"v": 1, "batch": [entry], "x": 1}),
                "unknown field `x`",
            ),
            (json!({"v": 1, "batch": {}}), "a batch is"),
            (json!({"v": 1, "batch": []}), "1 to 32 entries, this one 0"),
            (
                json!({"v": 1, "batch": vec![entry.clone(); MAX_BATCH + 1]}),
                "this one 33",
            ),
            (
                json!({"v": 1, "batch": [entry, {"event_type": "fleetform-batch", "payload": payload("a/b")}]}),
                "batch entry 1: `event_type` must be",
            ),
            (
                json!({"v": 1, "batch": [{"event_type": EVENT_PLAN, "payload": payload("a/b"), "extra": 1}]}),
                "unknown field `extra`",
            ),
            (
                json!({"v": 1, "batch": [{"event_type": EVENT_PLAN}]}),
                "missing field `payload`",
            ),
            (
                json!({"v": 1, "batch": [{"event_type": EVENT_PLAN, "payload": bad_sha}]}),
                "batch entry 0: `sha` must be",
            ),
            (
                json!({"v": 1, "batch": [entry, {"event_type": EVENT_PLAN, "payload": signed}]}),
                "batch entry 1: a batch's entries are the relay's",
            ),
            (
                json!({"v": 1, "batch": [{"event_type": EVENT_PLAN, "payload": unsigned_no_id}]}),
                "batch entry 0: a batch's entries are the relay's",
            ),
            (
                json!({"v": 1, "batch": [{"event_type": EVENT_PLAN, "payload": {"v": 1, "files": ["x".repeat(70_000)]}}]}),
                "GitHub allows under",
            ),
        ];
        for (v, want) in cases {
            let e = Batch::parse(&v).expect_err(want);
            assert!(e.to_string().contains(want), "{want}: {e}");
        }
    }
}
