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
    let views = views(manager);
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

/// The secrets Terraform keeps in sealed plan files and states (bound for
/// a variable that is not `ephemeral = true`), by name, in every view;
/// nothing without a secret in any schema.
pub(super) fn stored_secret_checks(manager: &Manager) -> Vec<doctor::Check> {
    let mut secrets = 0;
    let mut stored = Vec::new();
    for view in &views(manager) {
        let Ok(schema) = crate::values::schema::Schema::of_manager(view, view.schema_path()) else {
            continue; // the schema lint row says why
        };
        let names = crate::values::secret_files::secret_names(&schema.document);
        secrets += names.len();
        let dir = view.path(view.working_dir());
        // A module that does not read is the sensitivity row's to report.
        if let Ok(s) = crate::terraform::variables::stored(&dir, names.keys().map(String::as_str)) {
            stored.extend(s);
        }
    }
    stored.sort();
    stored.dedup();
    doctor::stored_secret_checks(secrets, &stored)
}

/// The manager itself, or each product's view of it.
fn views(manager: &Manager) -> Vec<Manager> {
    match manager.has_products() {
        true => manager
            .config
            .products
            .iter()
            .filter_map(|p| manager.select_product(Some(&p.name)).ok())
            .collect(),
        false => vec![manager.clone()],
    }
}

/// The engine version fleetform.yml pins meets every root module's
/// `required_version` (Terraform refuses it at `init` otherwise, in every
/// job). Nothing without a pin.
pub(super) fn required_version_check(manager: &Manager) -> Option<doctor::Check> {
    let pin = manager.config.terraform.version.as_ref()?;
    let mut found = Vec::new();
    for view in views(manager) {
        let dir = view.path(view.working_dir());
        match crate::terraform::constraint::required_versions(&dir) {
            Ok(r) => found.extend(r.into_iter().map(|r| {
                let met = crate::terraform::constraint::satisfies(&pin.0, &r.constraint);
                (
                    crate::config::display_path(&r.file).display().to_string(),
                    r.constraint,
                    met,
                )
            })),
            Err(e) => return Some(doctor::required_version_check(&pin.0, Err(e))),
        }
    }
    Some(doctor::required_version_check(&pin.0, Ok(&found)))
}
