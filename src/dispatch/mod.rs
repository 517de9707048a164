//! The `repository_dispatch` contract between the customer's trigger and
//! the manager. The manager treats the payload as hostile: every field is
//! checked for shape and size, unknown fields are refused, and nothing in it
//! is ever used as a value — only to decide what to fetch, from where.
//! Who sent it is proved by its signature ([`auth`]).
//!
//! Several customers' events may come in one dispatch ([`Batch`],
//! `fleetform-batch`); each entry is checked as a single payload is.
//!
//! Here too: the signature (`auth`), the sealed plan artifacts handed
//! from a plan job to its apply job (`seal`), and a customer's secrets
//! identity handed from the job of its own environment to the plan and
//! apply jobs of the run (`handoff`).
//!
//! May import: `config` (names and registry bounds), `audit`, `util`.

pub mod auth;
mod batch;
pub mod command;
pub mod handoff;
pub mod rotation;
pub mod seal;

pub use batch::{Batch, BatchEntry};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::{is_relative_inside, is_repo};

/// `event_type` for a plan (pull requests, non-default branches).
pub const EVENT_PLAN: &str = "fleetform-plan";
/// `event_type` for a plan that leads to an apply (default branch push).
pub const EVENT_APPLY: &str = "fleetform-apply";
/// `event_type` for several customers' events in one dispatch ([`Batch`]):
/// the relay's way around GitHub's write limits per App installation.
pub const EVENT_BATCH: &str = "fleetform-batch";
/// The most entries one [`Batch`] holds.
pub const MAX_BATCH: usize = crate::config::MAX_RELAY_BATCH;

/// GitHub's limits: at most 10 top-level keys, under 64 KB in all.
pub const MAX_KEYS: usize = 10;
pub const MAX_BYTES: usize = 64 * 1024;

/// The client payload, version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payload {
    /// Payload format version (1).
    pub v: u32,
    /// The customer repo, `owner/name`.
    pub customer_repo: String,
    /// The commit to plan, 40 hex.
    pub sha: String,
    /// The git ref pushed (`refs/heads/...`).
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// The pull request, if any.
    pub pr: Option<u64>,
    /// `pull_request`, `push`, `workflow_dispatch` or `issue_comment` (a
    /// comment command on the pull request `pr`, see `comment`).
    pub event: String,
    /// Link to the customer's trigger run. Left out (not `null`) when
    /// absent, so that a comment command's payload, which has none, fits
    /// GitHub's 10 keys with `comment`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_run_url: Option<String>,
    /// Correlates the trigger, the manager's runs and the audit log.
    pub dispatch_id: String,
    /// The customer's variables files present at `sha` (names only).
    pub files: Vec<String>,
    /// The sender's signature over everything above ([`auth`]):
    /// `v1.<unix-seconds>.<key generation>.<64 hex>`. The manager refuses a
    /// payload without one; parsing only checks its shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<String>,
    /// GitHub's id of the customer repo: set by the relay (which found the
    /// customer by it), never by a signed trigger. The manager then finds
    /// the customer by it, so a renamed repo keeps working.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_id: Option<u64>,
    /// The id of the pull request comment that asked for this run
    /// (`/fleetform plan|apply`), with `event: issue_comment` only. The
    /// manager reads the comment itself from GitHub (who wrote it, what it
    /// says, on which pull request) and checks its author's permission:
    /// nothing of it is taken from the payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
#[error("dispatch payload rejected: {0}")]
pub struct PayloadError(pub String);

fn bad(m: impl Into<String>) -> PayloadError {
    PayloadError(m.into())
}

pub fn is_sha(s: &str) -> bool {
    s.len() == 40
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// No whitespace and nothing hidden (`util::text::is_hidden`: controls,
/// bidirectional and zero-width characters, BOM, soft hyphen, …: text that
/// reads differently from what it is), within `max` bytes.
fn clean_text(s: &str, max: usize) -> bool {
    s.len() <= max
        && !s
            .chars()
            .any(|c| c.is_whitespace() || crate::util::text::is_hidden(c))
}

impl Payload {
    /// Parses and checks a `client_payload`.
    pub fn parse(v: &Value) -> Result<Payload, PayloadError> {
        let obj = v
            .as_object()
            .ok_or_else(|| bad("client_payload must be an object"))?;
        if obj.len() > MAX_KEYS {
            return Err(bad(format!(
                "{} top-level keys, more than {MAX_KEYS}",
                obj.len()
            )));
        }
        let size = serde_json::to_vec(v).map(|b| b.len()).unwrap_or(usize::MAX);
        if size >= MAX_BYTES {
            return Err(bad(format!(
                "{size} bytes, GitHub allows under {MAX_BYTES}"
            )));
        }
        let p: Payload = serde_json::from_value(v.clone()).map_err(|e| bad(e.to_string()))?;
        p.check()?;
        Ok(p)
    }

    fn check(&self) -> Result<(), PayloadError> {
        if self.v != 1 {
            return Err(bad(format!(
                "payload version {} is not supported (expected 1); update the trigger action",
                self.v
            )));
        }
        if !is_repo(&self.customer_repo) {
            return Err(bad("`customer_repo` is not an owner/name"));
        }
        if !is_sha(&self.sha) {
            return Err(bad("`sha` must be 40 lowercase hex characters"));
        }
        if !self.git_ref.starts_with("refs/")
            || !clean_text(&self.git_ref, 255)
            || self.git_ref.contains("..")
        {
            return Err(bad("`ref` must be a git ref like refs/heads/main"));
        }
        if let Some(pr) = self.pr {
            if pr == 0 || pr > 1_000_000_000 {
                return Err(bad("`pr` must be a pull request number"));
            }
        }
        if !matches!(
            self.event.as_str(),
            "pull_request" | "push" | "workflow_dispatch" | "issue_comment"
        ) {
            return Err(bad(
                "`event` must be pull_request, push, workflow_dispatch or issue_comment",
            ));
        }
        match (self.event == "issue_comment", self.comment, self.pr) {
            (true, Some(id), Some(_)) if id > 0 => {}
            (true, _, _) => {
                return Err(bad(
                    "an `issue_comment` dispatch names its `comment` (an id) and `pr`",
                ))
            }
            (false, Some(_), _) => {
                return Err(bad("only an `issue_comment` dispatch names a `comment`"))
            }
            (false, None, _) => {}
        }
        if let Some(u) = &self.trigger_run_url {
            if !(u.starts_with("https://") || u.starts_with("http://")) || !clean_text(u, 512) {
                return Err(bad("`trigger_run_url` must be an http(s) URL"));
            }
        }
        if self.dispatch_id.is_empty()
            || self.dispatch_id.len() > 64
            || !self
                .dispatch_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(bad("`dispatch_id` must be 1-64 letters, digits or `-`"));
        }
        if self.files.is_empty() || self.files.len() > 32 {
            return Err(bad("`files` must list 1-32 file names"));
        }
        for f in &self.files {
            if !clean_text(f, 256) || !is_relative_inside(std::path::Path::new(f)) {
                return Err(bad(format!(
                    "`files` holds an unsafe path `{}`",
                    f.escape_debug()
                )));
            }
        }
        if self.repo_id == Some(0) {
            return Err(bad("`repo_id` must be a repository id"));
        }
        if self.sig.is_some() && self.repo_id.is_some() {
            return Err(bad(
                "a signed dispatch carries no `repo_id` (only the relay sets it)",
            ));
        }
        if let Some(sig) = &self.sig {
            if auth::Signature::parse(sig).is_none() {
                return Err(bad(format!("`sig` must be {}", auth::SIG_SHAPE)));
            }
        }
        Ok(())
    }
}

/// The first 12 characters of a commit sha, for messages. Never panics,
/// whatever the text (an API answer may hold anything).
pub fn short_sha(sha: &str) -> String {
    sha.chars().take(12).collect()
}

/// Extracts a PR number from a merge or squash commit's first line
/// (`Merge pull request #12 from ...`, `Title (#12)`).
pub fn pr_from_commit_message(msg: &str) -> Option<u64> {
    let first = msg.lines().next()?.trim();
    if let Some(rest) = first.strip_prefix("Merge pull request #") {
        return rest
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok();
    }
    let inner = first.strip_suffix(')')?;
    let (_, num) = inner.rsplit_once("(#")?;
    num.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Value {
        serde_json::json!({
            "v": 1, "customer_repo": "acme/infra", "sha": "a".repeat(40), "ref": "refs/heads/main",
            "pr": 7, "event": "pull_request", "trigger_run_url": "https://github.com/acme/infra/actions/runs/1",
            "dispatch_id": "abc-123", "files": ["infra/variables.yml"]
        })
    }

    #[test]
    fn accepts_a_good_payload_and_refuses_bad_ones() {
        assert!(Payload::parse(&good()).is_ok());
        let cases: Vec<(&str, Value)> = vec![
            ("sha", serde_json::json!("ABC")),
            ("pr", serde_json::json!("7")),
            ("customer_repo", serde_json::json!("../etc")),
            ("files", serde_json::json!(["../../secrets"])),
            ("event", serde_json::json!("issue_comment")),
            ("trigger_run_url", serde_json::json!("javascript:alert(1)")),
            ("ref", serde_json::json!("refs/heads/main\u{202e}")),
            ("files", serde_json::json!(["infra/variables.yml\u{200b}"])),
            ("extra", serde_json::json!(1)),
            ("sig", serde_json::json!("v1.1.1.abc")),
            ("sig", serde_json::json!(12)),
        ];
        for (k, v) in cases {
            let mut p = good();
            p[k] = v;
            assert!(Payload::parse(&p).is_err(), "{k} should be refused");
        }
    }

    #[test]
    fn a_well_formed_signature_is_accepted_and_round_trips() {
        let mut v = good();
        v["sig"] = serde_json::json!(format!("v1.1800000000.1.{}", "ab".repeat(32)));
        let p = Payload::parse(&v).unwrap();
        assert_eq!(serde_json::to_value(&p).unwrap(), v);
        assert_eq!(v.as_object().unwrap().len(), MAX_KEYS, "at GitHub's limit");
    }

    #[test]
    fn short_shas_never_panic() {
        assert_eq!(short_sha(&"a".repeat(40)), "a".repeat(12));
        assert_eq!(short_sha("abc"), "abc");
        assert_eq!(short_sha("ééééééééééééé"), "é".repeat(12));
        assert_eq!(short_sha(""), "");
    }

    #[test]
    fn pr_numbers_from_merge_messages() {
        assert_eq!(
            pr_from_commit_message("Merge pull request #12 from acme/feature\n\nx"),
            Some(12)
        );
        assert_eq!(
            pr_from_commit_message("Bump instance type (#345)"),
            Some(345)
        );
        assert_eq!(pr_from_commit_message("plain commit"), None);
    }
}
