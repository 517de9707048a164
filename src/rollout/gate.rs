//! Who approves a wave: the same checks as `apply --dispatch`, asked by
//! every tick before it applies anything of a stage (see
//! [`ApprovalGate`]). The commands layer answers through the GitHub API;
//! without a gate (a tick run by hand, outside GitHub Actions) the person
//! who runs it is the actor.

use super::state::{Stage, State};

/// Why a stage's plans may not be applied (yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// What is missing and what to do, for the job's log and summary.
    pub reason: String,
    /// The stage digest an approval is wanted of, when approving it (and
    /// re-running the tick) is the way on; the stage is then not planned
    /// again by a scheduled run.
    pub wanted: Option<String>,
}

/// The approval an apply of a stage needs, checked before the first
/// apply of every tick (fail closed: an answer that cannot be had is a
/// refusal).
pub trait ApprovalGate {
    /// `Ok(Some(login))`: approved by `login`, the applies' actor;
    /// `Ok(None)`: the stage's environment needs no approval
    /// (`auto_apply: true`); `Err`: nothing may be applied.
    fn approve(&self, s: &State, stage: &Stage) -> Result<Option<String>, Refusal>;
}
