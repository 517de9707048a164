//! What a tick, a rollout plan and a start work with: the manager, its
//! registry and records store ([`Fleet`]), how a tick runs
//! ([`TickSettings`]) and who is told about its applies
//! ([`ApplyObserver`]).

use std::path::Path;

use crate::config::{Manager, Registry, Unit};
use crate::records::Store;

use super::gate::ApprovalGate;
use super::state::OwedDeployment;

/// How a tick runs.
pub struct TickSettings<'a> {
    pub jobs: usize,
    pub out_dir: &'a Path,
    pub terraform: Option<&'a Path>,
    /// Who runs the tick (the actor where no approval is needed).
    pub actor: String,
    /// How long a tick holds its stage (another tick waits that long
    /// when this one dies).
    pub lease_secs: u64,
    /// At most one stage per tick (on GitHub, one approval per wave).
    pub one_stage: bool,
    /// Plans made for review (`rollout plan`), sealed, with the key that
    /// opens them: each pair is applied from its reviewed plan (its digest
    /// the recorded one) and a pair without one is a failed pair; nothing
    /// is planned in the tick.
    pub plans_from: Option<(&'a Path, &'a crate::dispatch::seal::ArtifactKey)>,
    /// Only these pairs of the current stage (a matrix job of the stage):
    /// no claim is taken, the stage's shards run together, and whichever
    /// finishes last settles the stage.
    pub shard: Option<Vec<Unit>>,
    /// Told about each apply (the customer's GitHub deployment), if any.
    pub observer: Option<&'a dyn ApplyObserver>,
    /// Asked before a stage's applies; none: no approval is needed.
    pub gate: Option<&'a dyn ApprovalGate>,
}

/// The manager, its registry and store, as a tick needs them.
pub struct Fleet<'a> {
    pub manager: &'a Manager,
    pub registry: &'a Registry,
    pub store: &'a Store,
}

/// How a pair's deployment stands once its apply started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// Made on the customer's repo (its id).
    Made(u64),
    /// Not made yet (GitHub's write budget, a wait): owed, made later.
    Owed,
}

/// What is left of a deployment once its apply ended: its final status,
/// and the deployment itself unless it was made (its id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owes {
    pub id: Option<u64>,
}

/// Told when a rollout applies a pair and how it ended: the commands layer
/// records it as a deployment on the customer's repo. What does not fit
/// GitHub's write budget then is owed: recorded in the rollout's events
/// and sent later ([`super::owed`]).
pub trait ApplyObserver {
    /// The apply of `unit` starts; `deployed` is the pair's last deployment
    /// record (the customer's repo and commit); `wave` names the stage;
    /// `marker` goes in the deployment's payload, so a later run finds a
    /// deployment GitHub made without answering. `None`: the apply is not
    /// shown (no repo, or one GitHub refuses).
    fn started(
        &self,
        unit: &Unit,
        deployed: &crate::records::Deployment,
        rollout: &str,
        wave: &str,
        marker: &str,
    ) -> Option<Shown>;
    /// The apply ended; `Some` when its deployment's writes are owed.
    fn ended(
        &self,
        shown: Shown,
        deployed: &crate::records::Deployment,
        ok: bool,
        detail: &str,
    ) -> Option<Owes>;
    /// Sends an owed deployment, with its final status.
    fn send_late(&self, late: &LateDeployment<'_>) -> Late;
}

/// One owed deployment to send.
pub struct LateDeployment<'a> {
    pub rollout: &'a str,
    pub manager_sha: &'a str,
    /// Names it among the repo's deployments (its payload).
    pub marker: String,
    /// The pair was applied again since (a newer deployment record): the
    /// late deployment is shown `inactive`, never as the environment's
    /// current one.
    pub superseded: bool,
    pub owed: &'a OwedDeployment,
}

/// How sending an owed deployment went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Late {
    /// Made (or found made) and given its final status.
    Sent,
    /// Not sent: this run cannot wait for GitHub's write budget; nothing
    /// more is tried in this run.
    Deferred(String),
    /// Not sent now; a later run may (GitHub's trouble, a credential).
    Later(String),
    /// GitHub will never take it (its repo or commit is gone).
    Dropped(String),
}
