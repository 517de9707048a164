//! `policies:` in fleetform.yml: the gate settings per environment, as
//! written and checked (window syntax, days, time zones, resource type
//! patterns, the policy tools' settings in `policy_tools`). Evaluating
//! them on a plan is `crate::policy`'s job.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::policy_tools::{self, Tool};

/// Gate settings; unset fields inherit from `default`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Gates {
    pub max_destroy: Option<usize>,
    pub max_replace: Option<usize>,
    pub forbidden_resource_types: Option<Vec<String>>,
    /// Tag keys every created or updated resource that takes tags must
    /// have (`tags_all`, the provider's `default_tags` included, else
    /// `tags`): cost allocation per customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_tags: Option<Vec<String>>,
    pub required_labels: Option<Vec<String>>,
    pub required_approvals: Option<usize>,
    pub apply_windows: Option<Vec<Window>>,
    /// A PR label that waives failing gates (none when unset).
    pub waiver_label: Option<String>,
    /// Policy tools run on the plan JSON (see [`policy_tools`]).
    pub tools: Option<Vec<Tool>>,
    /// Blocks a plan that uses a secret due for rotation (older than the
    /// environment's `secrets.max_age_days`, or of unknown age under it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refuse_stale_secrets: Option<bool>,
}

/// When applies may run.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// `mon`..`sun`; all days when empty.
    #[serde(default)]
    pub days: Vec<String>,
    /// `HH:MM-HH:MM`, start inclusive, end exclusive.
    pub hours: String,
    /// IANA time zone, e.g. `Europe/Berlin`.
    pub time_zone: String,
}

/// `policies:` in fleetform.yml.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Policies {
    #[serde(default)]
    pub default: Gates,
    #[serde(default)]
    pub environments: BTreeMap<String, Gates>,
}

impl Policies {
    /// The effective gates of an environment.
    pub fn for_environment(&self, env: &str) -> Gates {
        let e = self.environments.get(env).cloned().unwrap_or_default();
        let d = &self.default;
        Gates {
            max_destroy: e
                .max_destroy
                .or(d.max_destroy)
                .or((env == "production").then_some(0)),
            max_replace: e.max_replace.or(d.max_replace),
            forbidden_resource_types: e
                .forbidden_resource_types
                .or(d.forbidden_resource_types.clone()),
            require_tags: e.require_tags.or(d.require_tags.clone()),
            required_labels: e.required_labels.or(d.required_labels.clone()),
            required_approvals: e.required_approvals.or(d.required_approvals),
            apply_windows: e.apply_windows.or(d.apply_windows.clone()),
            waiver_label: e.waiver_label.or(d.waiver_label.clone()),
            tools: e.tools.or(d.tools.clone()),
            refuse_stale_secrets: e.refuse_stale_secrets.or(d.refuse_stale_secrets),
        }
    }

    /// Checks window syntax, days and time zones up front.
    pub fn check(&self) -> Result<(), String> {
        for (name, g) in std::iter::once(("default", &self.default))
            .chain(self.environments.iter().map(|(k, v)| (k.as_str(), v)))
        {
            for w in g.apply_windows.iter().flatten() {
                parse_hours(&w.hours).map_err(|e| format!("policies.{name}: {e}"))?;
                for d in &w.days {
                    weekday(d)
                        .ok_or_else(|| format!("policies.{name}: `{d}` is not a day (mon..sun)"))?;
                }
                jiff::tz::TimeZone::get(&w.time_zone).map_err(|_| {
                    format!(
                        "policies.{name}: unknown time zone `{}`; fleetform reads time zones from the system's tz database (/usr/share/zoneinfo, or TZDIR): check the name, or install tzdata",
                        w.time_zone
                    )
                })?;
            }
            for pat in g.forbidden_resource_types.iter().flatten() {
                if pat.is_empty() {
                    return Err(format!("policies.{name}: empty resource type pattern"));
                }
            }
        }
        Ok(())
    }

    /// Checks the tool settings; an error is (the YAML pointer in
    /// fleetform.yml, the message).
    pub fn check_tools(&self) -> Result<(), (String, String)> {
        let all = std::iter::once(("/policies/default".to_string(), &self.default)).chain(
            self.environments
                .iter()
                .map(|(k, v)| (format!("/policies/environments/{}", escape(k)), v)),
        );
        for (at, g) in all {
            policy_tools::check(g.tools.as_deref().unwrap_or_default())
                .map_err(|(pointer, m)| (format!("{at}{pointer}"), m))?;
        }
        Ok(())
    }

    /// The tools `env` runs on its plans.
    pub fn tools_for(&self, env: &str) -> Vec<Tool> {
        self.for_environment(env).tools.unwrap_or_default()
    }

    /// True when a policy tool of `env` is Infracost (its plans are
    /// diffed against the last applied plan's estimate).
    pub fn has_infracost(&self, env: &str) -> bool {
        self.tools_for(env)
            .iter()
            .any(|t| t.kind == super::policy_tools::ToolKind::Infracost)
    }

    /// True when any gate of `env` needs the pull request's labels.
    pub fn needs_labels(&self, env: &str) -> bool {
        let g = self.for_environment(env);
        g.required_labels.as_ref().is_some_and(|l| !l.is_empty()) || g.waiver_label.is_some()
    }

    /// True when any gate of `env` needs the pull request's reviews.
    pub fn needs_reviews(&self, env: &str) -> bool {
        self.for_environment(env).required_approvals.unwrap_or(0) > 0
    }
}

/// A day of the week as `apply_windows` write it (`mon` or `monday`).
pub fn weekday(d: &str) -> Option<jiff::civil::Weekday> {
    use jiff::civil::Weekday::*;
    Some(match d.to_ascii_lowercase().as_str() {
        "mon" | "monday" => Monday,
        "tue" | "tuesday" => Tuesday,
        "wed" | "wednesday" => Wednesday,
        "thu" | "thursday" => Thursday,
        "fri" | "friday" => Friday,
        "sat" | "saturday" => Saturday,
        "sun" | "sunday" => Sunday,
        _ => return None,
    })
}

/// `HH:MM-HH:MM` → minutes since midnight.
pub fn parse_hours(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("`{s}` is not HH:MM-HH:MM");
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let m = |x: &str| -> Result<u32, String> {
        let (h, mi) = x.trim().split_once(':').ok_or_else(bad)?;
        let (h, mi): (u32, u32) = (
            h.parse().map_err(|_| bad())?,
            mi.parse().map_err(|_| bad())?,
        );
        if h > 24 || mi > 59 || (h == 24 && mi > 0) {
            return Err(bad());
        }
        Ok(h * 60 + mi)
    };
    let (start, end) = (m(a)?, m(b)?);
    if start >= end {
        return Err(format!(
            "`{s}`: the window must end after it starts (split overnight windows in two)"
        ));
    }
    Ok((start, end))
}

/// A JSON pointer token (`~` and `/` escaped).
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::policy_tools::DEFAULT_TIMEOUT_SECS;

    #[test]
    fn tool_settings_are_checked_where_they_are_written() {
        let yaml = r#"{"environments": {"production": {"tools": [{"name": "c", "kind": "checkov", "timeout": "soon"}]}}}"#;
        let p: Policies = serde_json::from_str(yaml).unwrap();
        let (pointer, message) = p.check_tools().unwrap_err();
        assert_eq!(pointer, "/policies/environments/production/tools/0/timeout");
        assert!(message.contains("`soon` is not a duration"), "{message}");
        assert_eq!(
            p.tools_for("production")[0].timeout_secs(),
            DEFAULT_TIMEOUT_SECS
        );
        assert!(p.tools_for("staging").is_empty());
    }
}
