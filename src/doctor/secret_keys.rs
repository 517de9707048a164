//! Each customer's secrets identity where its plans run: with `secrets:`
//! in fleetform.yml, every active customer with a recipient for an
//! environment needs `FLEETFORM_SECRETS_KEY_<SLUG>` in that environment's
//! plan environment (the deploy workflow's plan job reads it there by
//! name); one *must* row per plan environment, naming the missing ones,
//! so a fleet of hundreds gets a row per environment, not per customer.

use crate::config::{Activity, Customer, Manager};

use super::facts::Fetched;
use super::{Check, Level};

/// The rows: per environment some active customer has a recipient for,
/// whether its plan environment holds every such customer's key secret
/// (`key_name`: the secret's name for a slug; `environment_secrets`: each
/// existing environment's secret names).
pub fn customer_key_checks(
    manager: &Manager,
    customers: &[Customer],
    key_name: impl Fn(&str) -> String,
    environment_secrets: &[(String, Fetched<Vec<String>>)],
) -> Vec<Check> {
    let Some(config) = &manager.config.secrets else {
        return Vec::new();
    };
    let mut checks = Vec::new();
    for env in &manager.config.environments {
        let wanted: Vec<(String, &str)> = customers
            .iter()
            .filter(|c| c.takes_part(Activity::Plan) && c.secrets.contains_key(&env.name))
            .map(|c| (key_name(&c.slug), c.slug.as_str()))
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let plan_env = env.plan_environment();
        let what = format!("customer secrets keys in {plan_env}");
        let dir = config.keys_dir.display();
        let fix = |missing: &[&(String, &str)]| {
            let named: Vec<String> = missing
                .iter()
                .map(|(name, slug)| {
                    format!("{name} (the identity in {dir}/{slug}.{}.agekey)", env.name)
                })
                .collect();
            format!(
                "Settings → Environments → {plan_env} → Environment secrets: add {}; then delete the key files",
                named.join(", ")
            )
        };
        let every: Vec<&(String, &str)> = wanted.iter().collect();
        let names = environment_secrets
            .iter()
            .find(|(n, _)| *n == plan_env)
            .map(|(_, s)| s);
        checks.push(match names {
            None => Check::unknown(
                Level::Must,
                what,
                &format!("{plan_env} was not read (missing, or not listed)"),
                &fix(&every),
            ),
            Some(Err(e)) => Check::unknown(Level::Must, what, e, &fix(&every)),
            Some(Ok(have)) => {
                let missing: Vec<&(String, &str)> = wanted
                    .iter()
                    .filter(|(name, _)| !have.iter().any(|h| h == name))
                    .collect();
                match missing.is_empty() {
                    true => Check::pass(
                        Level::Must,
                        what,
                        crate::util::text::count(wanted.len(), "customer's key", "customers' keys"),
                    ),
                    false => Check::not_met(
                        Level::Must,
                        what,
                        format!(
                            "missing {}",
                            missing
                                .iter()
                                .map(|(n, _)| n.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        fix(&missing),
                    ),
                }
            }
        });
    }
    checks
}
