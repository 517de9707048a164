//! Where each customer's secrets identity lives (#82 point 2): with
//! `secrets:` in fleetform.yml, every active customer with a recipient for
//! an environment needs a GitHub environment of its own,
//! `<env>-secrets-<slug>`, holding its identity as `FLEETFORM_SECRETS_KEY`
//! and nothing shared, deployable from the default branch only (the
//! deploy workflow's key job reads it there by name and hands it to the
//! plan and apply jobs encrypted to the environment's handoff recipient,
//! whose identity they hold: `age_keys`' `handoff key` row). And no
//! plan environment holds a customer's identity: a job there that read
//! any secret by a computed name would receive them all. One *must* row of
//! each kind per environment, naming what is wrong, so a fleet of hundreds
//! gets rows per environment, not per customer.

use crate::config::{Activity, Customer, Environment, Manager};
use crate::values::secret_files::KEY_VAR;

use super::facts::{EnvironmentFacts, ManagerFacts};
use super::manager::branch_policy_check;
use super::{Check, Level, Verdict};

/// The secrets a key environment holds.
const KEY_ENV_SECRETS: [&str; 1] = [KEY_VAR];

/// The GitHub environments the key jobs of `customers` run in: one per
/// active customer and environment it has a recipient for (doctor reads
/// each one's secrets), each with that environment's name.
pub fn key_environments(manager: &Manager, customers: &[Customer]) -> Vec<(String, String)> {
    if manager.config.secrets.is_none() {
        return Vec::new();
    }
    manager
        .config
        .environments
        .iter()
        .flat_map(|env| {
            wanted(env, customers)
                .into_iter()
                .map(|c| (env.name.clone(), env.secrets_environment(&c.slug)))
        })
        .collect()
}

fn wanted<'c>(env: &Environment, customers: &'c [Customer]) -> Vec<&'c Customer> {
    customers
        .iter()
        .filter(|c| c.takes_part(Activity::Plan) && c.secrets.contains_key(&env.name))
        .collect()
}

/// The rows: per environment some active customer has a recipient for,
/// whether each such customer's key environment is there and right; per
/// plan environment read, that it holds no customer's identity.
pub fn customer_key_checks(
    manager: &Manager,
    customers: &[Customer],
    facts: &ManagerFacts,
) -> Vec<Check> {
    let Some(config) = &manager.config.secrets else {
        return Vec::new();
    };
    let Ok(envs) = &facts.environments else {
        return Vec::new(); // `manager_checks` says the environments were not read
    };
    let mut checks = Vec::new();
    for env in &manager.config.environments {
        let wanted = wanted(env, customers);
        if !wanted.is_empty() {
            let dir = config.keys_dir.display().to_string();
            checks.push(own_environments(env, &wanted, envs, facts, &dir));
        }
        checks.extend(no_key_in_plan_environment(env, facts));
    }
    checks
}

/// The row for the key environments of `env`'s customers.
fn own_environments(
    env: &Environment,
    wanted: &[&Customer],
    envs: &[EnvironmentFacts],
    facts: &ManagerFacts,
    keys_dir: &str,
) -> Check {
    let what = format!("customer secrets keys for {}", env.name);
    let mut problems = Vec::new();
    let mut fixes = Vec::new();
    for c in wanted {
        let name = env.secrets_environment(&c.slug);
        let key_file = format!("{keys_dir}/{}.{}.agekey", c.slug, env.name);
        let Some(found) = envs.iter().find(|e| e.name == name) else {
            problems.push(format!("{name} missing"));
            fixes.push(format!(
                "create {name} (deployment branches: the default branch only) with the secret {KEY_VAR} (the identity in {key_file})"
            ));
            continue;
        };
        let policy = branch_policy_check(Level::Must, found, &facts.default_branch);
        if policy.result != Verdict::Pass {
            problems.push(format!("{name}: {}", policy.found));
            fixes.push(policy.fix);
        }
        let have = facts
            .environment_secrets
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| s);
        match have {
            None => problems.push(format!("{name}: its secrets were not read")),
            Some(Err(e)) => problems.push(format!("{name}: its secrets were not read ({e})")),
            Some(Ok(have)) => {
                let lacks: Vec<&str> = KEY_ENV_SECRETS
                    .iter()
                    .copied()
                    .filter(|s| !have.iter().any(|h| h == s))
                    .collect();
                if !lacks.is_empty() {
                    problems.push(format!("{name} lacks {}", lacks.join(", ")));
                    fixes.push(format!(
                        "Settings → Environments → {name} → Environment secrets: add {} ({KEY_VAR}: the identity in {key_file})",
                        lacks.join(", ")
                    ));
                }
            }
        }
    }
    if problems.is_empty() {
        return Check::pass(
            Level::Must,
            what,
            format!(
                "{}, each in an environment of its own",
                crate::util::text::count(wanted.len(), "customer's key", "customers' keys")
            ),
        );
    }
    if fixes.is_empty() {
        return Check::unknown(Level::Must, what, &problems.join("; "), "run doctor again");
    }
    Check::not_met(
        Level::Must,
        what,
        problems.join("; "),
        format!("{}; then delete the key files", fixes.join("; ")),
    )
}

/// The plan environment of `env` holds no customer's identity (by any
/// name): none when its secrets were not read.
fn no_key_in_plan_environment(env: &Environment, facts: &ManagerFacts) -> Option<Check> {
    let plan_env = env.plan_environment();
    let have = facts
        .environment_secrets
        .iter()
        .find(|(n, _)| *n == plan_env)
        .and_then(|(_, s)| s.as_ref().ok())?;
    let held: Vec<&str> = have
        .iter()
        .map(String::as_str)
        .filter(|s| *s == KEY_VAR || s.starts_with(&format!("{KEY_VAR}_")))
        .collect();
    let what = format!("no customer secrets keys in {plan_env}");
    Some(match held.is_empty() {
        true => Check::pass(Level::Must, what, "none"),
        false => Check::not_met(
            Level::Must,
            what,
            format!(
                "holds {}: any job of {plan_env} reading a secret by a computed name receives every one",
                held.join(", ")
            ),
            format!(
                "move each customer's identity into its own environment `{}-secrets-<slug>` as {KEY_VAR}, then delete {} from {plan_env}",
                env.name,
                held.join(", ")
            ),
        ),
    })
}
