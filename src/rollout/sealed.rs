//! Plans made for review, sealed: the bundle in each plan folder (what the
//! tick job downloads) and opening it again with its digest checked
//! against the one recorded when it was planned.

use std::path::Path;

use crate::config::Unit;
use crate::dispatch::seal::{self, ArtifactKey};
use crate::fleet::{Outcome, Row};

use super::state::State;

/// The bundle in each plan folder.
pub const BUNDLE: &str = "bundle.sealed";

/// The plan folder's files that travel in the bundle.
pub(super) const BUNDLED: &[&str] = &[
    crate::engine::PLAN_FILE,
    crate::engine::SUMMARY_FILE,
    "variables.tfvars.json",
    "plan.txt",
    crate::engine::FILES_FILE,
];

/// The reviewed plan of `unit` from `plans`: opened from its sealed bundle
/// into its folder there, its digest the one recorded when it was planned.
/// `Ok(None)`: no plan there (the tick plans it itself).
pub fn reviewed(
    s: &State,
    key: &ArtifactKey,
    plans: &Path,
    unit: &Unit,
) -> std::result::Result<Option<Row>, String> {
    let dir = plans.join(unit.rel_dir());
    let bundle = dir.join(BUNDLE);
    if !bundle.is_file() {
        return Ok(None);
    }
    seal::open_into(key, &unit.customer, &unit.place(), &bundle, &dir)
        .map_err(|e| format!("the reviewed plan cannot be opened: {e}"))?;
    let summary = crate::engine::read_summary(&dir)
        .map_err(|e| format!("the reviewed plan has no summary: {e}"))?;
    match s.planned.get(unit) {
        Some(d) if *d == summary.plan_sha256 => Ok(Some(Row {
            customer: unit.customer.clone(),
            product: unit.product.clone(),
            environment: unit.environment.clone(),
            outcome: Outcome::Planned {
                summary: Box::new(summary),
                dir,
            },
        })),
        Some(d) => Err(format!(
            "the plan in {} (sha256:{}) is not the one planned for review (sha256:{d})",
            dir.display(),
            summary.plan_sha256
        )),
        None => Err(format!("{unit} has no plan recorded for review")),
    }
}
