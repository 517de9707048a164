//! `notify:` in fleetform.yml: where fleetform tells people that something
//! needs them (an apply failed, drift, a halted rollout, an apply waiting
//! for approvals, tokens expiring), and its check. The URLs are secrets:
//! the file names only the environment variable each one is read from.

use super::*;

/// One notification target.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NotifyTarget {
    /// A slug, unique among the targets (shown in warnings).
    pub name: String,
    pub kind: NotifyKind,
    /// The environment variable holding the webhook URL (a secret).
    pub url_env: String,
    /// The events sent to this target.
    pub events: Vec<NotifyEvent>,
}

/// The shape of the message.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum NotifyKind {
    /// A Slack-compatible incoming webhook: `{"text": …}`.
    Slack,
    /// Generic JSON: event, customer, environment, product, summary,
    /// run_url, time.
    Webhook,
}

/// What a target can be told about.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum NotifyEvent {
    ApplyFailed,
    DriftFound,
    RolloutHalted,
    ApprovalWaiting,
    TokenExpiring,
    DrillFailed,
    /// A plan or apply took longer than `sla:` promises.
    SlaBreach,
}

impl NotifyEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyEvent::ApplyFailed => "apply_failed",
            NotifyEvent::DriftFound => "drift_found",
            NotifyEvent::RolloutHalted => "rollout_halted",
            NotifyEvent::ApprovalWaiting => "approval_waiting",
            NotifyEvent::TokenExpiring => "token_expiring",
            NotifyEvent::DrillFailed => "drill_failed",
            NotifyEvent::SlaBreach => "sla_breach",
        }
    }
}

/// True for a variable fleetform or the runner keeps a secret in
/// (`util::credentials`): a webhook URL read from one would send that
/// secret to the webhook.
pub fn is_own_secret(name: &str) -> bool {
    crate::util::credentials::credential(name).is_some()
        || crate::util::credentials::is_runner_secret(name)
}

/// An environment variable name: letters, digits and `_`, not starting
/// with a digit.
pub fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with(|ch: char| ch.is_ascii_digit())
        && name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

impl Manager {
    /// Unique slug names, a usable variable for each URL, at least one
    /// event each and none twice.
    pub(super) fn check_notify(&self) -> Result<(), ConfigError> {
        let mut names = BTreeSet::new();
        for (i, t) in self.config.notify.iter().enumerate() {
            let at = |key: &str| format!("/notify/{i}/{key}");
            if !is_slug(&t.name) {
                return Err(self.invalid(
                    &at("name"),
                    "a target name: lowercase letters, digits and `-`",
                ));
            }
            if !names.insert(t.name.as_str()) {
                return Err(self.invalid(
                    &at("name"),
                    format!(
                        "target `{}` is declared twice; give each a name of its own",
                        t.name
                    ),
                ));
            }
            if !is_env_name(&t.url_env) {
                return Err(self.invalid(
                    &at("url_env"),
                    "the name of the environment variable holding the webhook URL: letters, digits and `_`, not starting with a digit",
                ));
            }
            if is_own_secret(&t.url_env) {
                return Err(self.invalid(
                    &at("url_env"),
                    format!("`{}` holds one of fleetform's or the runner's own secrets, which would be sent to the webhook; keep the webhook URL in a variable of its own (e.g. FLEETFORM_SLACK_WEBHOOK)", t.url_env),
                ));
            }
            if t.events.is_empty() {
                return Err(self.invalid(&at("events"), "list at least one event"));
            }
            let mut seen = BTreeSet::new();
            for (j, e) in t.events.iter().enumerate() {
                if !seen.insert(*e) {
                    return Err(self.invalid(
                        &format!("/notify/{i}/events/{j}"),
                        format!("`{}` is listed twice", e.as_str()),
                    ));
                }
            }
        }
        Ok(())
    }
}
