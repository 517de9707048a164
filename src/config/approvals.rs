//! `approvals:` in fleetform.yml: who must approve an apply, per
//! environment, on the customer's pull request. This holds on every GitHub
//! plan (required reviewers on environments of private repositories need
//! GitHub Enterprise) and alongside environment reviewers where they exist.
//!
//! ```yaml
//! approvals:
//!   production:
//!     required: 2              # approvers needed (default 1)
//!     users: [alice, bob]      # GitHub logins
//!     teams: [acme/platform]   # org/team-slug, membership checked through the API
//!     allow_author: false      # may the PR author approve? (default false)
//! ```
//!
//! An approval is a comment `/fleetform approve <digest prefix>` on the
//! pull request (or an approving review whose body says it), newer than
//! the plan, whose prefix (at least 12 hex digits) matches the digest of
//! the plan being applied.

use std::collections::BTreeMap;

use super::*;

/// `approvals:` in fleetform.yml, by environment name.
pub type ApprovalsConfig = BTreeMap<String, ApprovalRule>;

/// Who may approve an environment's applies, and how many must.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRule {
    #[serde(default = "one")]
    pub required: usize,
    #[serde(default)]
    pub users: Vec<String>,
    /// `org/team-slug`
    #[serde(default)]
    pub teams: Vec<String>,
    #[serde(default)]
    pub allow_author: bool,
}

impl ApprovalRule {
    /// Who may approve, for people: `` `alice`, a member of `org/team` ``.
    pub fn approvers_shown(&self) -> String {
        let mut who: Vec<String> = self.users.iter().map(|u| format!("`{u}`")).collect();
        who.extend(self.teams.iter().map(|t| format!("a member of `{t}`")));
        who.join(", ")
    }
}

fn one() -> usize {
    1
}

/// A GitHub login: 1-39 letters, digits or single inner hyphens.
pub fn is_login(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 39
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
        && s.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
}

/// `org/team-slug`.
pub fn is_team(s: &str) -> bool {
    s.split_once('/').is_some_and(|(org, team)| {
        is_login(org)
            && !team.is_empty()
            && team.len() <= 100
            && team
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "-_".contains(ch))
    })
}

impl Manager {
    /// The environments exist, the approvers are well-formed, and enough
    /// of them are named to reach `required`.
    pub(super) fn check_approvals(&self) -> Result<(), ConfigError> {
        let envs = self.environment_names();
        for (env, rule) in &self.config.approvals {
            let at = format!("/approvals/{}", fleetform_yaml::escape_token(env));
            if !envs.contains(&env.as_str()) {
                return Err(self.invalid(
                    &at,
                    format!("`{env}` is not an environment of `environments:`"),
                ));
            }
            if rule.required == 0 {
                return Err(self.invalid(
                    &format!("{at}/required"),
                    "at least 1 (remove the entry to need no approval)",
                ));
            }
            if rule.users.is_empty() && rule.teams.is_empty() {
                return Err(self.invalid(&at, "name the approvers: `users:` and/or `teams:`"));
            }
            if let Some((j, u)) = rule.users.iter().enumerate().find(|(_, u)| !is_login(u)) {
                return Err(self.invalid(
                    &format!("{at}/users/{j}"),
                    format!("`{u}` is not a GitHub login"),
                ));
            }
            if let Some((j, t)) = rule.teams.iter().enumerate().find(|(_, t)| !is_team(t)) {
                return Err(self.invalid(
                    &format!("{at}/teams/{j}"),
                    format!("`{t}` is not `org/team-slug`"),
                ));
            }
            if rule.teams.is_empty() && rule.users.len() < rule.required {
                return Err(self.invalid(
                    &format!("{at}/required"),
                    format!(
                        "{} required but only {} named",
                        crate::util::text::count(rule.required, "approval", "approvals"),
                        crate::util::text::count(rule.users.len(), "user", "users")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The approval rule of `env`, if fleetform.yml has one.
    pub fn approval_rule(&self, env: &str) -> Option<&ApprovalRule> {
        self.config.approvals.get(env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_and_teams() {
        assert!(is_login("alice"));
        assert!(is_login("a-b"));
        assert!(!is_login("-a"));
        assert!(!is_login("a--b"));
        assert!(!is_login("a_b"));
        assert!(is_team("acme/platform-team"));
        assert!(!is_team("acme"));
        assert!(!is_team("acme/"));
        assert!(!is_team("acme/a b"));
    }
}
