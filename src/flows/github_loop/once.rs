//! Exactly once at the manager: a dispatch can reach the manager twice
//! (the relay sends at least once: an instance killed after GitHub
//! accepted a batch, but before it marked the batch sent, leaves claims
//! that another instance sends again; a signed dispatch can be replayed
//! within its hour). So `authorise` claims each event in the records
//! store, create-only, under a key made of the customer and the event's
//! digest (its type and every payload field as received), holding the run
//! that claimed it. The run that wins plans; any other run of the same
//! event ends as a duplicate that plans, comments and concludes nothing; a
//! re-run of the winning run ("Re-run all jobs") is that run and goes on.
//!
//! The records store must outlive a runner for this to hold (the book:
//! records in a bucket on GitHub Actions); a local folder on a runner is
//! new in each run.

use serde::{Deserialize, Serialize};

use crate::ci::RunContext;
use crate::error::{Error, Result};
use crate::records::{RecordsError, Store};

use super::event::Dispatched;

/// Where the claims are kept.
pub const PREFIX: &str = "dispatches/";

/// What claiming an event found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This run claimed it now.
    First,
    /// This run claimed it before (a re-run of it).
    ThisRun,
    /// Another run has it: this one is a duplicate.
    Duplicate {
        run_id: String,
        run_url: Option<String>,
    },
}

/// A claim as kept.
#[derive(Debug, Serialize, Deserialize)]
struct Kept {
    run_id: String,
    #[serde(default)]
    run_url: Option<String>,
    event_type: String,
    dispatch_id: String,
    sha: String,
    at: String,
}

/// The key of `dispatched`'s claim for `customer`.
pub fn key(customer: &str, dispatched: &Dispatched) -> Result<String> {
    let payload = serde_json::to_vec(&dispatched.payload).expect("serialisable");
    let mut event = dispatched.event_type.as_bytes().to_vec();
    event.push(b'\n');
    event.extend_from_slice(&payload);
    let digest = crate::util::fs::sha256_bytes(&event);
    let folder = crate::records::folder_key(&[customer]).map_err(records_err)?;
    Ok(format!("{PREFIX}{folder}{}.json", &digest[..32]))
}

/// Claims `dispatched` for this run (`ctx`'s run id). Without a run id
/// (not on GitHub Actions) nothing is claimed: it is [`Claim::First`].
pub fn claim(
    store: &Store,
    customer: &str,
    dispatched: &Dispatched,
    ctx: &RunContext,
) -> Result<Claim> {
    let Some(run_id) = ctx.run_id.clone() else {
        return Ok(Claim::First);
    };
    let key = key(customer, dispatched)?;
    let kept = Kept {
        run_id: run_id.clone(),
        run_url: ctx.run_url(),
        event_type: dispatched.event_type.clone(),
        dispatch_id: dispatched.payload.dispatch_id.clone(),
        sha: dispatched.payload.sha.clone(),
        at: jiff::Timestamp::now().to_string(),
    };
    let bytes = serde_json::to_vec_pretty(&kept).expect("serialisable");
    match store.create(&key, &bytes) {
        Ok(()) => Ok(Claim::First),
        Err(RecordsError::Exists { .. }) => {
            let before = store.read(&key).map_err(records_err)?;
            let before: Kept = serde_json::from_slice(&before).map_err(|e| {
                Error::failed(format!(
                    "the claim {key} in {} is not one fleetform wrote ({e}); nothing was planned",
                    store.describe()
                ))
            })?;
            Ok(match before.run_id == run_id {
                true => Claim::ThisRun,
                false => Claim::Duplicate {
                    run_id: before.run_id,
                    run_url: before.run_url,
                },
            })
        }
        Err(e) => Err(records_err(e)),
    }
}

fn records_err(e: RecordsError) -> Error {
    Error::failed(format!(
        "claiming the dispatch in the records store: {e}; nothing was planned (re-run this job: a re-run is the same run)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::Payload;

    fn dispatched(dispatch_id: &str) -> Dispatched {
        let payload = serde_json::json!({
            "v": 1, "customer_repo": "acme/infra", "sha": "a".repeat(40),
            "ref": "refs/heads/main", "event": "push", "dispatch_id": dispatch_id,
            "files": ["infra/variables.yml"]
        });
        Dispatched {
            event_type: "fleetform-apply".into(),
            payload: Payload::parse(&payload).unwrap(),
            sender: None,
            asked_at: None,
            batch_of: 1,
        }
    }

    fn run(id: &str) -> RunContext {
        RunContext {
            run_id: Some(id.into()),
            ..RunContext::default()
        }
    }

    #[test]
    fn the_first_run_wins_its_reruns_go_on_and_others_are_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::in_folder(dir.path().into());
        let d = dispatched("r1-1-x");
        assert_eq!(claim(&store, "acme", &d, &run("7")).unwrap(), Claim::First);
        assert_eq!(
            claim(&store, "acme", &d, &run("7")).unwrap(),
            Claim::ThisRun
        );
        assert_eq!(
            claim(&store, "acme", &d, &run("8")).unwrap(),
            Claim::Duplicate {
                run_id: "7".into(),
                run_url: None
            }
        );
        // Another event, or the same for another customer, is its own.
        let other = dispatched("r1-2-x");
        assert_eq!(
            claim(&store, "acme", &other, &run("8")).unwrap(),
            Claim::First
        );
        assert_eq!(
            claim(&store, "globex", &d, &run("8")).unwrap(),
            Claim::First
        );
        // Off Actions nothing is claimed.
        let none = RunContext::default();
        assert_eq!(claim(&store, "acme", &d, &none).unwrap(), Claim::First);
    }
}
