//! `rollout:` in fleetform.yml: how a manager change reaches the fleet, in
//! waves, and its check.
//!
//! ```yaml
//! rollout:
//!   bake: 30m            # after each wave (default 0s); a wave may say its own
//!   max_parallel: 4      # applies at once within a wave (default 4)
//!   operators: acme/ops  # org/team: only its active members halt, resume,
//!                        # roll back or supersede on GitHub (checked through the API)
//!   halt:
//!     max_failures: 0    # more failed pairs than this halts (default 0)
//!     gate_failed: true  # a policy gate that blocks halts (default true)
//!     drift: true        # drift in a pair already rolled halts (default true)
//!   waves:
//!     - name: canary
//!       customers: [acme]
//!     - name: internal
//!       labels: {tier: internal}
//!     - name: early
//!       percent: 25      # of the customers not selected by an earlier wave
//!     - name: rest       # the last wave may select nothing: it takes the rest
//! ```
//!
//! Without `waves:` a rollout is one wave of every customer, `all`
//! (`rollout: {operators: acme/ops}` is enough to name the operators).
//!
//! Waves run per environment in promotion order: every wave in the first
//! environment, then every wave in the next.

use std::collections::BTreeMap;

use super::*;

/// `rollout:` in fleetform.yml.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutConfig {
    /// Without `waves:`, one wave of every customer (`all`): a manager that
    /// names only its operators (for repairs and day-2 operations) needs no
    /// wave of its own.
    #[serde(default = "one_wave")]
    pub waves: Vec<WaveConfig>,
    /// Bake time after each wave (`30m`, `2h`, `1d`, `0s`).
    #[serde(default)]
    pub bake: Option<String>,
    #[serde(default = "default_max_parallel")]
    pub max_parallel: usize,
    #[serde(default)]
    pub halt: HaltConfig,
    /// `org/team-slug` whose active members may halt, resume, roll back
    /// and supersede rollouts from the workflow.
    #[serde(default)]
    pub operators: Option<String>,
}

fn one_wave() -> Vec<WaveConfig> {
    vec![WaveConfig {
        name: "all".into(),
        customers: None,
        labels: None,
        percent: None,
        bake: None,
    }]
}

fn default_max_parallel() -> usize {
    4
}

/// One wave: customers by name, by registry labels, or a percentage of
/// those not selected yet; the last wave may select nothing (the rest).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WaveConfig {
    pub name: String,
    #[serde(default)]
    pub customers: Option<Vec<String>>,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub percent: Option<u32>,
    /// This wave's bake time, instead of `rollout.bake`.
    #[serde(default)]
    pub bake: Option<String>,
}

/// When a rollout stops by itself.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HaltConfig {
    /// More failed pairs than this halts the rollout.
    #[serde(default)]
    pub max_failures: usize,
    #[serde(default = "yes")]
    pub gate_failed: bool,
    #[serde(default = "yes")]
    pub drift: bool,
}

fn yes() -> bool {
    true
}

impl Default for HaltConfig {
    fn default() -> Self {
        HaltConfig {
            max_failures: 0,
            gate_failed: true,
            drift: true,
        }
    }
}

/// Seconds in a duration written `<n><unit>` (`s`, `m`, `h`, `d`).
pub fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let n: u64 = text[..text.len() - unit.len_utf8()].parse().ok()?;
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    n.checked_mul(scale)
}

impl RolloutConfig {
    /// The bake time after wave `i`, in seconds.
    pub fn bake_after(&self, i: usize) -> u64 {
        self.waves
            .get(i)
            .and_then(|w| w.bake.as_deref())
            .or(self.bake.as_deref())
            .and_then(parse_duration)
            .unwrap_or(0)
    }
}

impl Manager {
    /// Waves with names, one selector each (the last may have none),
    /// percentages 1-100, durations that read, `max_parallel` ≥ 1.
    pub(super) fn check_rollout(&self) -> Result<(), ConfigError> {
        let Some(r) = &self.config.rollout else {
            return Ok(());
        };
        if r.waves.is_empty() {
            return Err(self.invalid("/rollout/waves", "declare at least one wave"));
        }
        if r.max_parallel == 0 {
            return Err(self.invalid("/rollout/max_parallel", "at least 1"));
        }
        if let Some(b) = &r.bake {
            if parse_duration(b).is_none() {
                return Err(self.invalid("/rollout/bake", DURATION));
            }
        }
        if let Some(t) = r
            .operators
            .as_deref()
            .filter(|t| !super::approvals::is_team(t))
        {
            return Err(self.invalid(
                "/rollout/operators",
                format!("`{t}` is not `org/team-slug`"),
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, w) in r.waves.iter().enumerate() {
            self.check_wave(i, w, i + 1 == r.waves.len())?;
            if !seen.insert(w.name.as_str()) {
                return Err(self.invalid(
                    &format!("/rollout/waves/{i}/name"),
                    format!("wave `{}` is declared twice", w.name),
                ));
            }
        }
        Ok(())
    }

    fn check_wave(&self, i: usize, w: &WaveConfig, last: bool) -> Result<(), ConfigError> {
        let at = |k: &str| format!("/rollout/waves/{i}{k}");
        if !is_slug(&w.name) {
            return Err(self.invalid(&at("/name"), "a wave name is lowercase `[a-z0-9-]`"));
        }
        let selectors = [
            w.customers.is_some(),
            w.labels.is_some(),
            w.percent.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        match (selectors, last) {
            (0, false) => {
                return Err(self.invalid(
                    &at(""),
                    "say which customers: `customers:`, `labels:` or `percent:` (only the last wave may take the rest)",
                ))
            }
            (n, _) if n > 1 => {
                return Err(self.invalid(
                    &at(""),
                    "one of `customers:`, `labels:` or `percent:` per wave",
                ))
            }
            _ => {}
        }
        if let Some(p) = w.percent {
            if !(1..=100).contains(&p) {
                return Err(self.invalid(&at("/percent"), "a percentage from 1 to 100"));
            }
        }
        if let Some(list) = &w.customers {
            if let Some((j, bad)) = list.iter().enumerate().find(|(_, c)| !is_slug(c)) {
                return Err(self.invalid(
                    &at(&format!("/customers/{j}")),
                    format!("`{bad}` is not a customer slug"),
                ));
            }
        }
        if let Some(b) = &w.bake {
            if parse_duration(b).is_none() {
                return Err(self.invalid(&at("/bake"), DURATION));
            }
        }
        Ok(())
    }
}

pub(super) const DURATION: &str = "a duration: a number and `s`, `m`, `h` or `d` (`30m`)";

#[cfg(test)]
mod tests {
    use super::*;

    /// What the operators' refusal advises (`rollout: {operators:
    /// org/team}`) is a whole rollout: one wave of every customer.
    #[test]
    fn a_rollout_naming_only_its_operators_is_one_wave_of_everyone() {
        let r: RolloutConfig =
            serde_json::from_value(serde_json::json!({"operators": "acme/ops"})).unwrap();
        assert_eq!(r.operators.as_deref(), Some("acme/ops"));
        assert_eq!(r.waves.len(), 1);
        assert_eq!(r.waves[0].name, "all");
        assert!(r.waves[0].customers.is_none() && r.waves[0].labels.is_none());
        assert!(r.waves[0].percent.is_none());
    }

    #[test]
    fn durations_are_a_number_and_a_unit() {
        assert_eq!(parse_duration("0s"), Some(0));
        assert_eq!(parse_duration("30m"), Some(1800));
        assert_eq!(parse_duration("2h"), Some(7200));
        assert_eq!(parse_duration("1d"), Some(86_400));
        for bad in ["", "m", "5", "5w", "-1m", "1.5h", "99999999999999999999d"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
