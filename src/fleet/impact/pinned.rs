//! Changed pairs held at a manager version (`customers pin`): the change
//! under review reaches them only when the pin goes (a rollout leaves
//! them out), so impact names them.

use crate::config::Registry;
use crate::report::impact::{PairImpact, Pinned};

/// The changed pairs whose customer holds their product at a version.
pub(super) fn among(changed: &[PairImpact], registry: &Registry) -> Vec<Pinned> {
    changed
        .iter()
        .filter_map(|p| {
            let pin = registry
                .get(&p.unit.customer)?
                .pin_for(p.unit.product.as_deref())?;
            Some(Pinned {
                unit: p.unit.clone(),
                held_at: pin.git_ref.clone(),
                until: pin.until.clone(),
            })
        })
        .collect()
}
