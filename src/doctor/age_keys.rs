//! The age identities the manager's own jobs hold (README, "Customer
//! secrets"): the **fleet key** (`FLEETFORM_FLEET_SECRETS_KEY`), which
//! opens the fleet keyring's entry of each customer a fleet job plans, and
//! the **provider key** (`FLEETFORM_PROVIDER_SECRETS_KEY`), which opens
//! the provider-wide secrets, and the **handoff key**
//! (`FLEETFORM_HANDOFF_KEY`), which opens a customer's identity its key
//! job handed to the plan and apply jobs of a run. Each is one identity per environment of
//! fleetform.yml; a job that plans one environment holds that
//! environment's alone, a job that plans every environment (`drift`,
//! `fleetform-offboard-plan`) holds each, one per line.
//!
//! Which environment holds what is the workflow templates' headers:
//! the fleet key in `<env>-plan` (rollout, day-2 and drift's plan shards
//! run there), `drift` and `fleetform-offboard-plan`; the provider key in
//! `<env>-plan` and `<env>-apply` too (an apply decrypts again what an
//! `ephemeral` variable needs); the handoff key in `<env>-plan` and
//! `<env>-apply` alone.

use crate::config::{FleetRecipient, Manager, SecretsConfig};

use super::facts::ManagerFacts;
use super::{Check, Level};

/// The fleet key's secret.
pub const FLEET_KEY: &str = "FLEETFORM_FLEET_SECRETS_KEY";
/// The provider key's secret.
pub const PROVIDER_KEY: &str = "FLEETFORM_PROVIDER_SECRETS_KEY";
/// The handoff key's secret.
pub const HANDOFF_KEY: &str = "FLEETFORM_HANDOFF_KEY";

/// The environments of the templates that hold every environment's
/// identity (when a workflow runs jobs in them).
const EVERY: [&str; 2] = [super::manager::DRIFT, "fleetform-offboard-plan"];

/// One of the two keys, and the GitHub environments that hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgeKey {
    /// The environment secret.
    pub secret: &'static str,
    /// Its doctor row (`fleet key`, `provider key`).
    pub row: &'static str,
    /// Per fleetform environment, the GitHub environments holding its
    /// identity alone.
    pub each: Vec<(String, Vec<String>)>,
    /// The GitHub environments holding every environment's identity.
    pub every: Vec<String>,
}

impl AgeKey {
    /// Every GitHub environment that holds it, in order.
    pub fn holders(&self) -> Vec<&str> {
        self.each
            .iter()
            .flat_map(|(_, envs)| envs.iter())
            .chain(self.every.iter())
            .map(String::as_str)
            .collect()
    }
}

/// The fleet key and the provider key of a manager with `secrets:`
/// (`installed`: the template environments a workflow runs jobs in).
pub fn age_keys(manager: &Manager, installed: &[(String, String)]) -> Vec<AgeKey> {
    let Some(secrets) = &manager.config.secrets else {
        return Vec::new();
    };
    let every: Vec<String> = EVERY
        .iter()
        .filter(|e| installed.iter().any(|(i, _)| i == *e))
        .map(|e| e.to_string())
        .collect();
    // Once fleetform.yml names recipients, only the environments it
    // names them for; before, every environment (what `--fix` makes).
    let fleet_named = |env: &str| match &secrets.fleet_recipient {
        Some(FleetRecipient::PerEnvironment(m)) => m.contains_key(env),
        _ => true,
    };
    let provider_named =
        |env: &str| secrets.recipients.is_empty() || secrets.recipients.contains_key(env);
    let handoff_named = |env: &str| {
        secrets.handoff_recipients.is_empty() || secrets.handoff_recipients.contains_key(env)
    };
    let envs = &manager.config.environments;
    vec![
        AgeKey {
            secret: FLEET_KEY,
            row: "fleet key",
            each: envs
                .iter()
                .filter(|e| fleet_named(&e.name))
                .map(|e| (e.name.clone(), vec![e.plan_environment()]))
                .collect(),
            every: every.clone(),
        },
        AgeKey {
            secret: PROVIDER_KEY,
            row: "provider key",
            each: envs
                .iter()
                .filter(|e| provider_named(&e.name))
                .map(|e| {
                    let plan_apply = vec![e.plan_environment(), e.apply_environment()];
                    (e.name.clone(), plan_apply)
                })
                .collect(),
            every,
        },
        AgeKey {
            secret: HANDOFF_KEY,
            row: "handoff key",
            each: envs
                .iter()
                .filter(|e| handoff_named(&e.name))
                .map(|e| {
                    let plan_apply = vec![e.plan_environment(), e.apply_environment()];
                    (e.name.clone(), plan_apply)
                })
                .collect(),
            every: Vec::new(),
        },
    ]
}

/// Whether fleetform.yml names the key's recipients yet.
pub fn named(secrets: &SecretsConfig, key: &AgeKey) -> bool {
    match key.secret {
        FLEET_KEY => secrets.fleet_recipient.is_some(),
        HANDOFF_KEY => !secrets.handoff_recipients.is_empty(),
        _ => !secrets.recipients.is_empty(),
    }
}

/// The rows of the two keys: the fleet key is a *should* (without it a
/// fleet job stops at a customer with secrets), the provider key is
/// checked once fleetform.yml names its recipients.
pub fn age_key_checks(manager: &Manager, facts: &ManagerFacts) -> Vec<Check> {
    let Some(secrets) = &manager.config.secrets else {
        return Vec::new();
    };
    let Ok(envs) = &facts.environments else {
        return Vec::new(); // `manager_checks` says the environments were not read
    };
    let mut out = Vec::new();
    for key in age_keys(manager, &facts.installed) {
        if !named(secrets, &key) {
            if key.secret == HANDOFF_KEY {
                out.push(Check::not_met(
                    Level::Must,
                    key.row,
                    "fleetform.yml names no secrets.handoff_recipients: a customer's key job has nothing to hand its identity over with, so its plans with secrets fail",
                    "`fleetform doctor --fix --yes` makes one identity per environment, stores it in the plan and apply environments and writes the recipients into fleetform.yml (commit it)",
                ));
            } else if key.secret == FLEET_KEY {
                out.push(Check::not_met(
                    Level::Should,
                    key.row,
                    "fleetform.yml names no secrets.fleet_recipient: drift, rollouts, day-2 operations and offboarding stop at a customer with secrets",
                    "`fleetform doctor --fix --yes` makes one identity per environment, stores it in the environments that need it and writes the recipients into fleetform.yml (commit it)",
                ));
            }
            continue;
        }
        let existing: Vec<&str> = key
            .holders()
            .into_iter()
            .filter(|h| envs.iter().any(|e| e.name == *h))
            .collect();
        let held = |env: &str| {
            facts
                .environment_secrets
                .iter()
                .find(|(n, _)| n == env)
                .and_then(|(_, s)| s.as_ref().ok())
                .map(|names| names.iter().any(|n| n == key.secret))
        };
        let missing: Vec<&str> = existing
            .iter()
            .copied()
            .filter(|e| held(e) == Some(false))
            .collect();
        let unread: Vec<&str> = existing
            .iter()
            .copied()
            .filter(|e| held(e).is_none())
            .collect();
        let what = key.row;
        out.push(if !missing.is_empty() {
            Check::not_met(
                Level::Should,
                what,
                format!("{} is missing from {}", key.secret, missing.join(", ")),
                format!(
                    "store the identity of each environment's recipient there (Settings → Environments → … → Environment secrets: add {}; one line per environment where a job plans them all)",
                    key.secret
                ),
            )
        } else if !unread.is_empty() {
            Check::unknown(
                Level::Should,
                what,
                &format!("the secrets of {} were not read", unread.join(", ")),
                "give the doctor's token read access to the environments' secrets",
            )
        } else {
            Check::pass(
                Level::Should,
                what,
                format!("{} in {}", key.secret, existing.join(", ")),
            )
        });
    }
    out
}
