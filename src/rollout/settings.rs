//! What a tick, a rollout plan and a start work with: the manager, its
//! registry and records store ([`Fleet`]), how a tick runs
//! ([`TickSettings`]) and who is told about its applies
//! ([`ApplyObserver`]).

use std::path::Path;

use crate::config::{Manager, Registry, Unit};
use crate::records::Store;

use super::gate::ApprovalGate;

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

/// Told when a rollout applies a pair and how it ended: the commands layer
/// records it as a deployment on the customer's repo.
pub trait ApplyObserver {
    /// The apply of `unit` starts; `deployed` is the pair's last deployment
    /// record (the customer's repo and commit); `wave` names the stage.
    /// Returns a handle for [`ApplyObserver::ended`].
    fn started(
        &self,
        unit: &Unit,
        deployed: &crate::records::Deployment,
        rollout: &str,
        wave: &str,
    ) -> Option<u64>;
    fn ended(&self, handle: u64, deployed: &crate::records::Deployment, ok: bool, detail: &str);
}
