//! `sla:` in fleetform.yml: the response times a provider promises its
//! customers, per environment.
//!
//! ```yaml
//! sla:
//!   staging:
//!     plan_within: 15m     # from the customer's event to the plan comment
//!   production:
//!     plan_within: 15m
//!     apply_within: 4h     # from the approval to the apply's end
//! ```
//!
//! Durations are written as `rollout:`'s are (`30s`, `15m`, `4h`, `1d`).
//! What is measured, and from which of GitHub's timestamps, is
//! `fleet::sla`'s.

use std::collections::BTreeMap;

use super::*;

/// `sla:` in fleetform.yml: targets by environment name.
pub type SlaConfig = BTreeMap<String, SlaTargets>;

/// The targets of one environment; an absent one is not promised.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SlaTargets {
    /// From the customer's event to the plan comment on its pull request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_within: Option<String>,
    /// From the approval to the apply's end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_within: Option<String>,
}

impl SlaTargets {
    /// The plan target in seconds.
    pub fn plan_secs(&self) -> Option<u64> {
        self.plan_within
            .as_deref()
            .and_then(rollout::parse_duration)
    }
    /// The apply target in seconds.
    pub fn apply_secs(&self) -> Option<u64> {
        self.apply_within
            .as_deref()
            .and_then(rollout::parse_duration)
    }
}

impl Manager {
    /// Environments fleetform.yml declares, durations that read, at least
    /// one target each.
    pub(super) fn check_sla(&self) -> Result<(), ConfigError> {
        for (env, t) in &self.config.sla {
            let at = |k: &str| format!("/sla/{env}{k}");
            if !self.config.environments.iter().any(|x| x.name == *env) {
                return Err(self.invalid(
                    &at(""),
                    format!(
                        "unknown environment `{env}`; fleetform.yml declares: {}",
                        self.environment_names().join(", ")
                    ),
                ));
            }
            if t.plan_within.is_none() && t.apply_within.is_none() {
                return Err(self.invalid(
                    &at(""),
                    "promise `plan_within:`, `apply_within:` or both (`plan_within: 15m`)",
                ));
            }
            for (key, value) in [
                ("plan_within", &t.plan_within),
                ("apply_within", &t.apply_within),
            ] {
                if let Some(v) = value {
                    if rollout::parse_duration(v).is_none_or(|s| s == 0) {
                        return Err(self.invalid(
                            &at(&format!("/{key}")),
                            format!("`{v}` is not {} above zero", rollout::DURATION),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_read_as_rollout_durations() {
        let t = SlaTargets {
            plan_within: Some("15m".into()),
            apply_within: Some("4h".into()),
        };
        assert_eq!(t.plan_secs(), Some(900));
        assert_eq!(t.apply_secs(), Some(14_400));
        assert_eq!(SlaTargets::default().plan_secs(), None);
    }
}
