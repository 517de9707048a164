//! Changed pairs held at a manager version (`customers pin`): the change
//! under review reaches them only when the pin goes (a rollout leaves
//! them out), so impact names them.

use std::collections::HashMap;

use crate::config::{Customer, Registry};
use crate::report::impact::{PairImpact, Pinned};

/// The changed pairs whose customer holds their product at a version.
/// The customers with a pin are indexed once: a lookup in the registry
/// per changed pair made this quadratic in the fleet (10,000 customers).
pub(super) fn among(changed: &[PairImpact], registry: &Registry) -> Vec<Pinned> {
    if registry.customers.iter().all(|c| c.pins.is_empty()) {
        return Vec::new(); // the usual fleet: no index to build
    }
    // The first customer of a slug, as `Registry::get` finds it.
    let mut pinning: HashMap<&str, &Customer> = HashMap::new();
    for c in &registry.customers {
        pinning.entry(c.slug.as_str()).or_insert(c);
    }
    pinning.retain(|_, c| !c.pins.is_empty());
    if pinning.is_empty() {
        return Vec::new();
    }
    changed
        .iter()
        .filter_map(|p| {
            let pin = pinning
                .get(p.unit.customer.as_str())?
                .pin_for(p.unit.product.as_deref())?;
            Some(Pinned {
                unit: p.unit.clone(),
                held_at: pin.git_ref.clone(),
                until: pin.until.clone(),
            })
        })
        .collect()
}
