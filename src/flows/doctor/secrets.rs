//! doctor's rows about customer secrets: those due for rotation, read
//! from the customers' local checkouts (no key needed).

use crate::config::Activity;
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
        .filter(|c| c.takes_part(Activity::Doctor))
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

/// Every secret the schema declares (`writeOnly: true`) reaches a root
/// module variable declared `sensitive = true` (a plan refuses it
/// otherwise; doctor says where before any customer meets it). Nothing
/// without a secret in any schema.
pub(super) fn sensitive_variable_checks(manager: &Manager) -> Vec<doctor::Check> {
    let views: Vec<Manager> = match manager.has_products() {
        true => manager
            .config
            .products
            .iter()
            .filter_map(|p| manager.select_product(Some(&p.name)).ok())
            .collect(),
        false => vec![manager.clone()],
    };
    let mut problems = Vec::new();
    let mut secrets = 0;
    for view in &views {
        let Ok(schema) = crate::values::schema::Schema::of_manager(view, view.schema_path()) else {
            continue; // the schema lint row says why
        };
        let names = crate::values::secret_files::secret_names(&schema.document);
        if names.is_empty() {
            continue;
        }
        secrets += names.len();
        let dir = view.path(view.working_dir());
        let module = crate::config::display_path(&dir);
        match crate::terraform::variables::declared(&dir) {
            Err(e) => problems.push(format!("reading {}: {e}", module.display())),
            Ok(declared) => problems.extend(names.keys().filter_map(|n| match declared.get(n) {
                None => Some(format!(
                    "`{n}`: no `variable \"{n}\"` in {}",
                    module.display()
                )),
                Some(d) if !d.sensitive => Some(format!(
                    "`{n}`: `variable \"{n}\"` in {} is not `sensitive = true`",
                    module.display()
                )),
                Some(_) => None,
            })),
        }
    }
    doctor::sensitive_variable_checks(secrets, &problems)
}
