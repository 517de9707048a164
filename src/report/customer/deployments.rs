//! The GitHub deployments on the customer's repo: what their
//! descriptions and statuses say.

use super::{short, CustomerText};

/// What happened, for a GitHub deployment (or its status) on the
/// customer's repo.
#[derive(Debug, Clone)]
pub enum Deployment<'a> {
    /// A dispatched apply of `place` from the manager at `manager_sha`.
    Dispatched {
        place: &'a str,
        manager_sha: &'a str,
    },
    /// A rollout's apply.
    Rollout {
        rollout: &'a str,
        wave: &'a str,
        manager_sha: &'a str,
    },
    /// A rollout's apply, shown later than it happened (GitHub's write
    /// budget): when it was applied (`applied_at`, UTC).
    RolloutLate {
        rollout: &'a str,
        wave: &'a str,
        manager_sha: &'a str,
        applied_at: &'a str,
    },
    /// How a rollout's apply shown late ended; `superseded`: the pair was
    /// applied again since.
    RolloutEndedLate {
        detail: &'a str,
        applied_at: &'a str,
        superseded: bool,
    },
    /// The apply is running.
    Applying,
    /// Applied the plan with this digest.
    Applied {
        plan_sha256: &'a str,
    },
    Refused,
    Failed,
    /// How a rollout's apply ended, in the rollout's words.
    RolloutEnded {
        detail: &'a str,
    },
    /// A day-2 state operation.
    StateOp {
        operation: &'a str,
        actor: &'a str,
        reason: &'a str,
    },
    /// How a state operation ended.
    StateOpEnded {
        operation: &'a str,
        ok: bool,
    },
}

/// The description of a deployment or a deployment status.
pub fn deployment(what: &Deployment<'_>) -> CustomerText {
    use Deployment::*;
    let text = match what {
        Dispatched { place, manager_sha } => {
            format!("fleetform: {place} from manager {manager_sha}")
        }
        Rollout {
            rollout,
            wave,
            manager_sha,
        } => format!("fleetform rollout {rollout}, wave {wave}: manager {manager_sha}"),
        RolloutLate {
            rollout,
            wave,
            manager_sha,
            applied_at,
        } => format!(
            "fleetform rollout {rollout}, wave {wave}: manager {manager_sha}, applied {applied_at}"
        ),
        RolloutEndedLate {
            detail,
            applied_at,
            superseded: false,
        } => format!("apply of {applied_at}, shown late (GitHub's write limit): {detail}"),
        RolloutEndedLate {
            detail,
            applied_at,
            superseded: true,
        } => format!(
            "apply of {applied_at}, shown late (GitHub's write limit), applied again since: {detail}"
        ),
        Applying => "applying".to_string(),
        Applied { plan_sha256 } => format!("applied plan sha256:{}", short(plan_sha256)),
        Refused => "refused; nothing was applied".to_string(),
        Failed => "the apply failed; see the run".to_string(),
        RolloutEnded { detail } => detail.to_string(),
        StateOp {
            operation,
            actor,
            reason,
        } => format!("fleetform {operation} by {actor}: {reason}"),
        StateOpEnded { operation, ok } => {
            format!("{operation} {}", if *ok { "success" } else { "failure" })
        }
    };
    CustomerText::line(&text)
}
