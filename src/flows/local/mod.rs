//! Local runs and day-2 operations: a local fleet plan, or a targeted plan
//! of one pair sealed for the ops workflow (`plan`, `fleetform plan`
//! without `--dispatch`); an apply of a local plan folder (`apply`,
//! `fleetform apply` without `--dispatch`, a drift repair) with its second
//! person and record; day-2 operations on one customer × environment
//! (`ops`, `fleetform state`), recorded and reported on the customer's
//! repo; the sealed previews of state operations (`state_preview`); and
//! recovering a state from its bucket's versions or the local backend's
//! backup (`recovery`, `state_versions`: `state versions`, `state
//! restore`) and proving it can be (`drill`).
//!
//! May import what `flows` may, and the GitHub loop's steps by their path.

pub mod apply;
pub mod drill;
mod drill_scratch;
pub mod ops;
pub mod plan;
pub mod recovery;
pub mod state_preview;
pub mod state_versions;
pub mod version_list;
