//! doctor's rows about customer secrets: those due for rotation, read
//! from the customers' local checkouts (no key needed).

use crate::config::{Manager, Registry};
use crate::doctor;

/// Customers' secrets due for rotation, from their local checkouts.
pub(super) fn secret_age_checks(
    manager: &Manager,
    registry: &Registry,
    today: jiff::civil::Date,
) -> Vec<doctor::Check> {
    use crate::values::secret_ages;
    let stale: Vec<_> = registry
        .customers
        .iter()
        .filter(|c| c.is_active())
        .map(|c| {
            let found = secret_ages::stale_of_checkout(manager, registry, c, today);
            (c.slug.clone(), found)
        })
        .collect();
    let policies = manager
        .config
        .environments
        .iter()
        .any(|e| secret_ages::max_age(manager, &e.name).is_some());
    doctor::secret_age_checks(&stale, policies)
}
