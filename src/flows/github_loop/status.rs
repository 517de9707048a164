//! Commit statuses on the customer's commit: each environment's own
//! context (`<context>/<env>`) and the combined `<context>`, the worst of
//! them.

use serde_json::Value;

use crate::config::{Customer, Manager};
use crate::dispatch::Payload;
use crate::error::{Error, Say};
use crate::github::{CommitStatus, GitHub, GitHubError};
use crate::output::Output;
use crate::report::customer::{status, CustomerText, Status};

use super::fetch::enabled_in_order;
use super::session::Session;

/// How often one job writes the combined status before it leaves it to
/// the jobs still changing their environments: each rewrite follows a
/// change another job made, and that job checks the combined status again
/// after its own write.
const COMBINED_WRITES: usize = 4;

/// Sets the environment's own status (`<context>/<env>`), then the combined
/// `<context>` (the seed's `infra/terraform-deploy`): the worst state over
/// the customer's environments, an environment without a status yet
/// counting as pending. Parallel environment jobs each own their context,
/// so one can never overwrite another's failure; each recomputes the
/// combined one from what GitHub holds after its own write, and reads
/// again after writing it: when another job's environment changed the
/// worst state in between (its combined write may have landed before this
/// one's, with a view that lacked this environment), it writes again. So
/// whichever job writes the combined status last wrote the worst state of
/// every environment as GitHub holds them after all the jobs' own writes.
pub(super) async fn report_status(
    gh: &GitHub,
    envs: &[String],
    repo: &str,
    sha: &str,
    env: &str,
    st: CommitStatus,
) -> Result<(), GitHubError> {
    let own = CommitStatus {
        context: format!("{}/{env}", st.context),
        ..st.clone()
    };
    gh.set_status(repo, sha, &own).await?;
    let mut held = gh.combined_status(repo, sha).await?;
    for _ in 0..COMBINED_WRITES {
        let (state, description) = worst_of(&held, &st.context, envs, &own);
        let combined = CommitStatus {
            state,
            context: st.context.clone(),
            description,
            target_url: st.target_url.clone(),
        };
        gh.set_status(repo, sha, &combined).await?;
        held = gh.combined_status(repo, sha).await?;
        if worst_of(&held, &st.context, envs, &own).0 == state {
            break;
        }
    }
    Ok(())
}

/// The worst state over `envs` (failure or error, then pending, then
/// success) and the description that goes with it; on a tie the first
/// environment in `envs` order. `written` counts as held for its context.
pub(super) fn worst_of(
    held: &Value,
    base: &str,
    envs: &[String],
    written: &CommitStatus,
) -> (&'static str, String) {
    let rank = |s: &str| match s {
        "error" | "failure" => 3,
        "pending" => 2,
        _ => 1,
    };
    let mut worst: Option<(&'static str, String)> = None;
    for env in envs {
        let context = format!("{base}/{env}");
        let (state, description) = if context == written.context {
            (written.state, written.description.clone())
        } else {
            held_state(held, env, &context)
        };
        if worst.as_ref().is_none_or(|(w, _)| rank(state) > rank(w)) {
            worst = Some((state, description));
        }
    }
    worst.unwrap_or((written.state, written.description.clone()))
}

/// The state and description GitHub holds for `env`'s context; an unknown
/// state counts as pending, a missing status as pending with no result.
fn held_state(held: &Value, env: &str, context: &str) -> (&'static str, String) {
    let found = status_of(held, context);
    match found.and_then(|s| s.get("state")).and_then(Value::as_str) {
        Some("error") => ("error", description_of(found)),
        Some("failure") => ("failure", description_of(found)),
        Some("success") => ("success", description_of(found)),
        Some(_) => ("pending", description_of(found)),
        None => (
            "pending",
            status(&Status::NoResultYet { place: env }).to_string(),
        ),
    }
}

/// The latest status of `context` in a combined-status answer.
pub(super) fn status_of<'a>(held: &'a Value, context: &str) -> Option<&'a Value> {
    held.get("statuses")
        .and_then(Value::as_array)
        .and_then(|all| {
            all.iter()
                .find(|s| s.get("context").and_then(Value::as_str) == Some(context))
        })
}

/// The description GitHub holds in `held`, as the customer reads it again.
pub(super) fn description_of(held: Option<&Value>) -> String {
    let description = held
        .and_then(|s| s.get("description"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    status(&Status::Held { description }).to_string()
}

/// Sets one status on the customer's commit (not an environment's, no
/// combined one): the trigger's and a refusal before the environments
/// are known.
pub(super) async fn set_one(
    gh: &GitHub,
    repo: &str,
    sha: &str,
    context: &str,
    state: &'static str,
    description: &CustomerText,
    target_url: Option<String>,
) -> Result<(), GitHubError> {
    let st = CommitStatus {
        state,
        context: context.to_string(),
        description: description.to_string(),
        target_url,
    };
    gh.set_status(repo, sha, &st).await
}

/// Where a dispatched run reports: the customer's commit at the dispatched
/// sha, under the manager's status context, with the customer's enabled
/// environments for the combined status.
pub(super) struct Reporter<'a> {
    gh: &'a GitHub,
    context: String,
    envs: Vec<String>,
    repo: &'a str,
    sha: &'a str,
    run_url: Option<String>,
}

impl<'a> Reporter<'a> {
    pub fn new(
        gh: &'a GitHub,
        manager: &Manager,
        customer: &Customer,
        payload: &'a Payload,
        run_url: Option<String>,
    ) -> Self {
        Reporter {
            gh,
            context: manager.config.status_context.clone(),
            envs: enabled_in_order(manager, customer),
            repo: &payload.customer_repo,
            sha: &payload.sha,
            run_url,
        }
    }

    /// The reporter of a dispatched plan's or apply's commit.
    pub fn for_session(session: &'a Session, manager: &Manager, customer: &Customer) -> Self {
        let payload = &session.dispatched.payload;
        Reporter::new(
            &session.gh,
            manager,
            customer,
            payload,
            session.run_url.clone(),
        )
    }

    /// The customer's status slots (see [`super::products::slots`]) in
    /// place of its environments, for a manager with products.
    pub fn with_slots(mut self, slots: Vec<String>) -> Self {
        self.envs = slots;
        self
    }

    /// Sets `env`'s status and the combined one ([`report_status`]).
    pub async fn report(
        &self,
        env: &str,
        state: &'static str,
        description: CustomerText,
    ) -> Result<(), GitHubError> {
        let st = CommitStatus {
            state,
            context: self.context.clone(),
            description: description.to_string(),
            target_url: self.run_url.clone(),
        };
        report_status(self.gh, &self.envs, self.repo, self.sha, env, st).await
    }

    /// A refused apply: `env` is marked `failure` with the reason (a failed
    /// write is only noted), and the refusal to end the step with.
    pub async fn refuse_apply(&self, env: &str, reason: Say, out: &Output) -> Error {
        let description = status(&Status::ApplyRefused {
            place: env,
            reason: &reason.one_line(),
        });
        if let Err(e) = self.report(env, "failure", description).await {
            out.note(&format!("could not set the failure status: {e}"));
        }
        Error::Refused(Say {
            what: format!("{}; nothing was applied", reason.what),
            ..reason
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::strings;
    use super::*;
    use serde_json::json;

    fn written(env: &str, state: &'static str, description: &str) -> CommitStatus {
        CommitStatus {
            state,
            context: format!("ctx/{env}"),
            description: description.into(),
            target_url: None,
        }
    }

    fn held(statuses: &[(&str, &str, &str)]) -> Value {
        let all: Vec<Value> = statuses
            .iter()
            .map(|(c, s, d)| json!({"context": c, "state": s, "description": d}))
            .collect();
        json!({"state": "pending", "statuses": all})
    }

    #[test]
    fn the_combined_status_is_the_worst_environment() {
        let envs = strings(&["staging", "production"]);
        let ok = written("staging", "success", "staging: +1 ~0 -0");
        // Nothing yet for production: pending.
        assert_eq!(
            worst_of(&held(&[]), "ctx", &envs, &ok),
            ("pending", "production: no result yet".to_string())
        );
        // Another job's failure is never hidden by this job's success.
        let failed = held(&[("ctx/production", "failure", "production: plan failed")]);
        assert_eq!(
            worst_of(&failed, "ctx", &envs, &ok),
            ("failure", "production: plan failed".to_string())
        );
        // Every environment succeeded: the first one's description.
        let both = held(&[("ctx/production", "success", "production: no changes")]);
        assert_eq!(
            worst_of(&both, "ctx", &envs, &ok),
            ("success", "staging: +1 ~0 -0".to_string())
        );
        // What this job wrote counts, not GitHub's older answer.
        let stale = held(&[
            ("ctx/staging", "success", "old"),
            ("ctx/production", "success", "production: no changes"),
        ]);
        let bad = written("staging", "error", "staging: not applied");
        assert_eq!(
            worst_of(&stale, "ctx", &envs, &bad),
            ("error", "staging: not applied".to_string())
        );
        // An unknown state counts as pending; error and failure tie, the
        // first environment wins.
        let odd = held(&[("ctx/production", "queued", "waiting")]);
        assert_eq!(
            worst_of(&odd, "ctx", &envs, &ok),
            ("pending", "waiting".to_string())
        );
        let errs = held(&[("ctx/production", "failure", "p")]);
        assert_eq!(worst_of(&errs, "ctx", &envs, &bad).0, "error");
        // Another context's statuses are not the environment's.
        let elsewhere = held(&[("other/production", "failure", "x")]);
        assert_eq!(worst_of(&elsewhere, "ctx", &envs, &ok).0, "pending");
        // No environments: what was written.
        assert_eq!(
            worst_of(&held(&[]), "ctx", &[], &ok),
            ("success", "staging: +1 ~0 -0".to_string())
        );
    }
}
