//! `drift:` in fleetform.yml: drift by cause across the fleet, what is
//! done about it per environment, and drift a provider accepted.
//!
//! ```yaml
//! drift:
//!   cause_issues: 5          # a cause in at least this many customers gets
//!                            # one issue in the manager repo (default 5; 0: none)
//!   repair:                  # per environment: report (default), propose, repair
//!     staging: repair
//!     production: propose
//!   max_repairs:             # per drift run (defaults 10 and 50)
//!     customers: 10
//!     resources: 50
//!   accepted:
//!     - cause: aws_s3_bucket.versioning:set-false
//!       customers: [acme, globex]
//!       environments: [staging]   # all of theirs when absent
//!       until: 2027-01-31
//!       reason: the customers switch it off until their migration
//! ```
//!
//! A cause is named as the drift report names it: `<type>.<attribute>:<kind>`
//! (`set-true`, `set-false`, `added`, `removed`, `element-added`,
//! `element-removed`, `changed`), `<type>:deleted` for a resource deleted
//! outside Terraform, or `<type>:changed` for any other change of it.

use std::collections::BTreeMap;

use super::*;

/// `drift:` in fleetform.yml.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DriftConfig {
    /// Customers a cause must reach to get its own issue in the manager
    /// repo; `0`: no cause issues.
    #[serde(default = "default_cause_issues")]
    pub cause_issues: usize,
    /// What a drift run does about drift, by environment name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub repair: BTreeMap<String, RepairPolicy>,
    #[serde(default)]
    pub max_repairs: MaxRepairs,
    /// Drift a provider acknowledged, for some customers, until a date.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepted: Vec<Acceptance>,
}

fn default_cause_issues() -> usize {
    5
}

impl Default for DriftConfig {
    fn default() -> Self {
        DriftConfig {
            cause_issues: default_cause_issues(),
            repair: BTreeMap::new(),
            max_repairs: MaxRepairs::default(),
            accepted: Vec::new(),
        }
    }
}

impl DriftConfig {
    /// The policy of `environment` (`report` unless it says otherwise).
    pub fn policy(&self, environment: &str) -> RepairPolicy {
        self.repair.get(environment).copied().unwrap_or_default()
    }
}

/// What a drift run does about a drifted pair of an environment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RepairPolicy {
    /// Report it (issues, the report, the dashboard): nothing else.
    #[default]
    Report,
    /// A plan that puts the pair back, reviewed and approved like any
    /// apply.
    Propose,
    /// Applied by the drift job when the plan only changes attributes in
    /// place; anything else is proposed.
    Repair,
}

impl RepairPolicy {
    pub fn word(self) -> &'static str {
        match self {
            RepairPolicy::Report => "report",
            RepairPolicy::Propose => "propose",
            RepairPolicy::Repair => "repair",
        }
    }
}

/// The most a drift run repairs by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MaxRepairs {
    #[serde(default = "ten")]
    pub customers: usize,
    #[serde(default = "fifty")]
    pub resources: usize,
}

fn ten() -> usize {
    10
}
fn fifty() -> usize {
    50
}

impl Default for MaxRepairs {
    fn default() -> Self {
        MaxRepairs {
            customers: ten(),
            resources: fifty(),
        }
    }
}

/// A cause of drift a provider accepted for some customers until a date.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Acceptance {
    /// The cause's id, as the drift report names it.
    pub cause: String,
    pub customers: Vec<String>,
    /// The environments it holds in (all the customers' when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environments: Option<Vec<String>>,
    /// The last day it holds, `YYYY-MM-DD`.
    pub until: String,
    pub reason: String,
}

impl Acceptance {
    /// Whether it covers this pair's cause (expired or not).
    pub fn covers(&self, cause: &str, customer: &str, environment: &str) -> bool {
        self.cause == cause
            && self.customers.iter().any(|c| c == customer)
            && self
                .environments
                .as_ref()
                .is_none_or(|e| e.iter().any(|x| x == environment))
    }

    /// Days past `until` on `today` (`None`: it still holds).
    pub fn expired_days(&self, today: jiff::civil::Date) -> Option<i64> {
        days_past(&self.until, today)
    }
}

/// Whether `id` reads as a cause id: `<type>.<attribute>:<kind>`,
/// `<type>:deleted` or `<type>:changed`.
pub fn is_cause_id(id: &str) -> bool {
    let Some((what, kind)) = id.split_once(':') else {
        return false;
    };
    let (ty, attr) = match what.split_once('.') {
        Some((t, a)) => (t, Some(a)),
        None => (what, None),
    };
    let name = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    const KINDS: [&str; 7] = [
        "set-true",
        "set-false",
        "added",
        "removed",
        "element-added",
        "element-removed",
        "changed",
    ];
    name(ty)
        && match attr {
            Some(a) => name(a) && KINDS.contains(&kind),
            None => kind == "deleted" || kind == "changed",
        }
}

impl Manager {
    /// Environments fleetform.yml declares, customers as slugs, causes
    /// that read as causes, real dates, a reason, caps of at least 1.
    pub(super) fn check_drift(&self) -> Result<(), ConfigError> {
        let d = &self.config.drift;
        let known = |e: &str| self.config.environments.iter().any(|x| x.name == e);
        for env in d.repair.keys() {
            if !known(env) {
                return Err(self.invalid(
                    &format!("/drift/repair/{env}"),
                    format!(
                        "unknown environment `{env}`; fleetform.yml declares: {}",
                        self.environment_names().join(", ")
                    ),
                ));
            }
        }
        if d.max_repairs.customers == 0 || d.max_repairs.resources == 0 {
            return Err(self.invalid(
                "/drift/max_repairs",
                "at least 1 each; use `repair: {<env>: propose}` to repair nothing by itself",
            ));
        }
        for (i, a) in d.accepted.iter().enumerate() {
            self.check_acceptance(i, a, &known)?;
        }
        Ok(())
    }

    fn check_acceptance(
        &self,
        i: usize,
        a: &Acceptance,
        known: &dyn Fn(&str) -> bool,
    ) -> Result<(), ConfigError> {
        let at = |k: &str| format!("/drift/accepted/{i}/{k}");
        if !is_cause_id(&a.cause) {
            return Err(self.invalid(
                &at("cause"),
                format!("`{}` is not a cause id: copy it from the drift report (`<type>.<attribute>:<kind>` or `<type>:deleted`)", a.cause),
            ));
        }
        if a.customers.is_empty() {
            return Err(self.invalid(&at("customers"), "name at least one customer"));
        }
        if let Some((j, bad)) = a.customers.iter().enumerate().find(|(_, c)| !is_slug(c)) {
            return Err(self.invalid(
                &at(&format!("customers/{j}")),
                format!("`{bad}` is not a customer slug"),
            ));
        }
        for (j, e) in a.environments.iter().flatten().enumerate() {
            if !known(e) {
                return Err(self.invalid(
                    &at(&format!("environments/{j}")),
                    format!("unknown environment `{e}`"),
                ));
            }
        }
        if !is_real_date(&a.until) {
            return Err(self.invalid(
                &at("until"),
                "`until` must be the last day it holds, YYYY-MM-DD",
            ));
        }
        if !is_reason(&a.reason) {
            return Err(self.invalid(&at("reason"), "give a reason, on one line"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cause_ids_read_as_the_report_writes_them() {
        for ok in [
            "aws_s3_bucket.versioning:set-false",
            "fakecloud_network.tags:element-added",
            "fakecloud_bucket:deleted",
        ] {
            assert!(is_cause_id(ok), "{ok}");
        }
        for bad in [
            "",
            "aws_s3_bucket",
            "aws_s3_bucket.versioning",
            "aws_s3_bucket.versioning:set-maybe",
            "aws_s3_bucket:set-true",
            "a b.c:changed",
            "aws_s3_bucket./x:changed",
        ] {
            assert!(!is_cause_id(bad), "{bad}");
        }
    }
}
