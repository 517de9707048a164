//! `fleetform doctor`'s judgement: pure checks over what was read from
//! GitHub ([`facts`]), each a row of the checklist: *must* or *should*,
//! pass, warn or fail, what was found and how to fix it. Reading is
//! `github`'s, printing `report::doctor`'s, the command only wires them.
//!
//! Here: the plain facts (`facts`), the manager repo's settings
//! (`manager`: environments, reviewers or fleetform approvals, deployment
//! branch policies, where the secrets live, rulesets, default workflow
//! permissions), tenant isolation (`isolation`: no customer account among
//! the manager's collaborators, outside collaborators, the organisation's
//! base permission, a public Pages site of a private manager) and the
//! reach of the tokens (`reach`: each customer repo and its `repo_id`, the
//! token's expiry), the customers' pins (`pins`: expired ones warn), whether the set-up can be made at all (`setup`:
//! the GitHub plan of a private manager repo, the deploy workflow's
//! records), the environments of the other workflow templates
//! (`templates`: poll, rollout, offboarding, drill, dashboard, doctor), the
//! age identities the manager's jobs hold (`age_keys`: the fleet and
//! provider keys), and each
//! customer's inbox repo named with `--inbox` (`inbox`: `fleetform-inbox`,
//! its branch policy and relay token, `MANAGER_REPO`, its ruleset), and
//! the state bucket of an s3 backend (`state_bucket`: versioning, the
//! lifecycle of non-current versions against `state: recovery_days`,
//! Object Lock and encryption).
//!
//! May import: `config` (the manager and its environments), `data` (the
//! diagnostics of a file it checks), `values` (the variable a customer's
//! secrets key is read from) and `util`.
//! Never the commands, `github`, `report`, `deploy`, `fleet` or `terraform`.

mod action_refs;
mod age_keys;
mod apps;
pub mod facts;
mod impact_plan;
mod inbox;
mod isolation;
mod manager;
mod pins;
mod reach;
mod rotation;
mod scanning;
mod secret_ages;
mod secret_keys;
mod setup;
mod state_bucket;
mod templates;

use serde::Serialize;

pub use action_refs::{action_refs_check, pinned_refs, PinnedRef};
pub use age_keys::{age_key_checks, age_keys, named, AgeKey, FLEET_KEY, HANDOFF_KEY, PROVIDER_KEY};
pub use apps::app_checks;
pub use impact_plan::{
    first_workflow, impact_plan_check, impact_plan_workflow, workflows, IMPACT_PLAN,
};
pub use inbox::{inbox_checks, INBOX_ENVIRONMENT, MANAGER_REPO, RELAY_TOKEN};
pub use isolation::isolation_checks;
pub use manager::{
    expected_environments, manager_checks, secrets_needed, unlocked_ref_kinds, Role, DRIFT,
};
pub use pins::pin_checks;
pub use reach::{
    app_check, customer_check, network_check, parse_expiration, repo_id_check, token_check,
};
pub use rotation::rotation_checks;
pub use scanning::{customer_scanning_check, manager_scanning_check};
pub use secret_ages::{secret_age_checks, sensitive_variable_checks, stored_secret_checks};
pub use secret_keys::{customer_key_checks, key_environments};
pub use setup::{
    batch_check, dashboard_check, engine_version_check, plan_check, records_check,
    records_recipient_check, records_variables_check, required_version_check,
    DOCTOR_REGION_VARIABLE, DOCTOR_ROLE_VARIABLE, ENGINE_VARIABLE, PINNED_VARIABLES,
    READ_ROLE_VARIABLE, REGION_VARIABLE, WRITE_ROLE_VARIABLE,
};
pub use state_bucket::{state_bucket_checks, StateBucketFacts};
pub use templates::{
    environments_reading, installed_for, installed_templates, template_checks, TemplateEnvironment,
    TEMPLATE_ENVIRONMENTS,
};

/// How much a check matters: a failed *must* fails the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Must,
    Should,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
    /// The check could not be made (GitHub did not answer, or refused the
    /// read); a *must* that could not be made fails the run like a failed
    /// one, and is never shown as a pass.
    Unknown,
}

/// One row of the checklist.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub level: Level,
    pub result: Verdict,
    /// What is checked, e.g. `environment production-apply`.
    pub what: String,
    /// What was found.
    pub found: String,
    /// How to fix it (empty on a pass).
    pub fix: String,
}

impl Check {
    pub fn pass(level: Level, what: impl Into<String>, found: impl Into<String>) -> Check {
        Check {
            level,
            result: Verdict::Pass,
            what: what.into(),
            found: found.into(),
            fix: String::new(),
        }
    }

    /// Fails a *must*, warns on a *should*.
    pub fn not_met(
        level: Level,
        what: impl Into<String>,
        found: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            level,
            result: match level {
                Level::Must => Verdict::Fail,
                Level::Should => Verdict::Warn,
            },
            what: what.into(),
            found: found.into(),
            fix: fix.into(),
        }
    }

    /// A warning whatever the level.
    pub fn warn(
        level: Level,
        what: impl Into<String>,
        found: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            result: Verdict::Warn,
            ..Check::not_met(level, what, found, fix)
        }
    }

    /// A check that could not be made, with the reason (a *must* that
    /// could not be made fails the run).
    pub fn unknown(level: Level, what: impl Into<String>, error: &str, fix: &str) -> Check {
        Check {
            level,
            result: Verdict::Unknown,
            what: what.into(),
            found: format!("could not check: {error}"),
            fix: fix.to_string(),
        }
    }
}

/// The checklist and its tally.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub repo: String,
    pub checks: Vec<Check>,
    pub passed: usize,
    pub warnings: usize,
    pub failed: usize,
    /// Checks that could not be made.
    pub unknown: usize,
    /// *Must* checks that failed or could not be made: any fails the run.
    pub must_failed: usize,
    pub requests: usize,
}

impl Report {
    pub fn new(repo: &str, checks: Vec<Check>, requests: usize) -> Report {
        let count = |v: Verdict| checks.iter().filter(|c| c.result == v).count();
        Report {
            repo: repo.to_string(),
            passed: count(Verdict::Pass),
            warnings: count(Verdict::Warn),
            failed: count(Verdict::Fail),
            unknown: count(Verdict::Unknown),
            must_failed: checks
                .iter()
                .filter(|c| {
                    c.level == Level::Must && matches!(c.result, Verdict::Fail | Verdict::Unknown)
                })
                .count(),
            checks,
            requests,
        }
    }
}
