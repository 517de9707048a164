//! Who approves a wave: the same checks as `apply --dispatch`, asked by
//! every tick before it applies anything of a stage (see
//! [`ApprovalGate`]). The commands layer answers through the GitHub API;
//! a tick run by hand, outside GitHub Actions, has the [`Workstation`]
//! gate: the person who runs it is the actor, and a stage that needs
//! approval goes through only with `--unreviewed`, recorded as such.

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

    /// Whether the stage's applies go through with no second person (a
    /// workstation's `--unreviewed`): recorded so in the audit log.
    fn unreviewed(&self, _stage: &Stage) -> bool {
        false
    }
}

/// The gate of a tick run by hand, outside GitHub Actions, where no
/// second person can be shown: a stage whose environment needs approval
/// (`auto_apply: false`) is applied only when the operator said
/// `--unreviewed`, and each such apply is recorded as unreviewed.
pub struct Workstation<'a> {
    pub manager: &'a crate::config::Manager,
    /// `rollout tick --unreviewed`.
    pub unreviewed: bool,
}

impl Workstation<'_> {
    /// Whether the environment's applies need a second person.
    pub fn needs_review(&self, environment: &str) -> bool {
        self.manager
            .environment(environment)
            .is_none_or(|e| !e.auto_apply)
    }
}

impl ApprovalGate for Workstation<'_> {
    fn approve(&self, _s: &State, stage: &Stage) -> Result<Option<String>, Refusal> {
        let env = &stage.environment;
        if !self.needs_review(env) || self.unreviewed {
            return Ok(None);
        }
        Err(Refusal {
            reason: format!(
                "`{env}` needs approval (`auto_apply: false`), which only a GitHub Actions run can show; run the tick from the manager's rollout workflow, or, on a workstation where no one else can review, add --unreviewed (the audit log records each apply as unreviewed); nothing of stage `{}` in `{env}` was applied",
                stage.wave
            ),
            wanted: None,
        })
    }

    fn unreviewed(&self, stage: &Stage) -> bool {
        self.unreviewed && self.needs_review(&stage.environment)
    }
}
