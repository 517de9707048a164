//! `fleetform poll`: the relay's job done from a schedule, for providers who
//! run no service. Through the customer App it reads, per active customer,
//! the default branch's head and the open pull requests with conditional
//! requests (ETags kept in a sealed state file between runs, [`state`]),
//! and dispatches what changed in a file fleetform reads, as the manager
//! App:
//!
//! - a new default-branch head whose read files differ (by blob sha) from
//!   the last head seen: a plan that leads to an apply;
//! - an open pull request from the customer's repo with a new head that
//!   changes a read file: a plan.
//!
//! A repo poll holds no state of (a new customer, or the state was
//! missing, did not open or was changed: lost) is recovered, never
//! skipped: its default-branch head (when it holds a read file) and each
//! open pull request's head that changes a read file are dispatched unless
//! the commit already carries a fleetform commit status (the manager's
//! `status_context` or `<status_context>/<env>`), which the trigger and
//! the manager's jobs set on every commit dispatched to them. So after a
//! lost state every head that was never dispatched is dispatched once, and
//! a head dispatched and statused is not dispatched again.
//!
//! A dispatch GitHub did not take leaves that head unrecorded (the next
//! run tries it again); one the relay's event claims answer as dispatched
//! already counts as done. One customer's failure is reported and does
//! not stop the others; what was recorded of its repo before the failure
//! is kept.

pub mod state;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Relay, Subject};
use crate::config::Activity;
use crate::config::{Customer, Registry};
use crate::github::{GitHub, GitHubError, OpenPull, Permissions};

/// What poll asks of the customer App on a customer's repo: read its files
/// and pull requests, and its commits' statuses (a repo without state is
/// checked against them). Never a write.
const POLL_ACCESS: Permissions = &[
    ("contents", "read"),
    ("pull_requests", "read"),
    ("statuses", "read"),
];

/// What was seen of one repo, kept between runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RepoSeen {
    pub head_etag: Option<String>,
    pub head: Option<String>,
    /// Blob shas of the read files at `head`.
    pub files: BTreeMap<String, String>,
    pub pulls_etag: Option<String>,
    /// Pull request number → head sha.
    pub pulls: BTreeMap<u64, String>,
    /// Whether the open pull requests were read and handled in full once;
    /// until then their heads are checked against their commit statuses.
    #[serde(default)]
    pub pulls_known: bool,
}

/// The state file: what was seen, by repository id.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PollState {
    pub version: u32,
    pub repos: BTreeMap<u64, RepoSeen>,
}

/// One dispatch made (or, in a dry run, that would be made).
#[derive(Debug, Clone, Serialize)]
pub struct Polled {
    pub customer: String,
    pub event_type: &'static str,
    pub sha: String,
    pub pr: Option<u64>,
    /// The relay's answer status (0 in a dry run): 202 sent, 200 sent
    /// before (the event claims knew it), anything else not sent.
    pub status: u16,
}

impl Polled {
    /// Whether the manager has it (sent now or before, or a dry run).
    pub fn accepted(&self) -> bool {
        matches!(self.status, 0 | 200 | 202)
    }
}

/// A head read without state that carries a fleetform commit status: it
/// was dispatched before and is not dispatched again.
#[derive(Debug, Clone, Serialize)]
pub struct Statused {
    pub customer: String,
    pub sha: String,
    pub pr: Option<u64>,
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PollReport {
    pub dispatched: Vec<Polled>,
    /// Customers whose repo poll held no state of (a new customer, or the
    /// state was lost): their heads were checked against their statuses.
    pub first_seen: Vec<String>,
    /// Heads read without state found dispatched already (statused).
    pub already_dispatched: Vec<Statused>,
    /// Conditional reads answered 304.
    pub not_modified: usize,
    pub failed: Vec<(String, String)>,
    /// Why the state file was not trusted (`missing`, `not_sealed`,
    /// `forged`, `no_key`, `unreadable`), if it was not.
    pub state_lost: Option<&'static str>,
    /// Whether the state is kept sealed.
    pub state_sealed: bool,
}

impl Relay {
    /// Polls every active customer with a repository id.
    pub async fn poll(
        &self,
        registry: &Registry,
        state: &mut PollState,
        dry_run: bool,
    ) -> PollReport {
        let mut report = PollReport::default();
        for c in registry
            .customers
            .iter()
            .filter(|c| c.takes_part(Activity::Dispatch))
        {
            let (Some(repo), Some(id)) = (c.repo.clone(), c.repo_id) else {
                continue;
            };
            let before = state.repos.get(&id).cloned();
            if before.is_none() {
                report.first_seen.push(c.slug.clone());
            }
            let mut seen = before.unwrap_or_default();
            // Each part records only what it finished: kept on a failure.
            let polled = self
                .poll_one(c, &repo, &mut seen, dry_run, &mut report)
                .await;
            state.repos.insert(id, seen);
            if let Err(why) = polled {
                report.failed.push((c.slug.clone(), why));
            }
        }
        state.version = 1;
        report
    }

    async fn poll_one(
        &self,
        c: &Customer,
        repo: &str,
        seen: &mut RepoSeen,
        dry_run: bool,
        report: &mut PollReport,
    ) -> Result<(), String> {
        let gh = self.poll_client(repo, c.repo_id).await?;
        let at = RepoPoll {
            relay: self,
            gh: &gh,
            c,
            repo,
            dry_run,
        };
        at.head(seen, report).await?;
        at.pulls(seen, report).await
    }

    /// The customer App's client for `repo`, reads only ([`POLL_ACCESS`]).
    async fn poll_client(&self, repo: &str, id: Option<u64>) -> Result<Arc<GitHub>, String> {
        self.customer_app_client(repo, id, POLL_ACCESS)
            .await
            .map_err(|a| answer_message(&a.body))
    }
}

/// One customer's repo in a run: the relay, the customer App's client
/// for the repo, and whether a dispatch is only reported (a dry run).
struct RepoPoll<'a> {
    relay: &'a Relay,
    gh: &'a GitHub,
    c: &'a Customer,
    repo: &'a str,
    dry_run: bool,
}

impl RepoPoll<'_> {
    /// The default branch's head: recorded once handled, i.e. dispatched
    /// (or found dispatched) when a read file changed since the head last
    /// seen, or, with no head seen, when it carries no fleetform status.
    async fn head(&self, seen: &mut RepoSeen, report: &mut PollReport) -> Result<(), String> {
        let read = self
            .gh
            .default_head_if_changed(self.repo, seen.head_etag.as_deref());
        let Some((sha, title, etag)) = modified(read.await, report)? else {
            return Ok(());
        };
        if seen.head.as_deref() == Some(sha.as_str()) {
            seen.head_etag = etag;
            return Ok(());
        }
        let first = seen.head.is_none();
        let files = self.blob_shas(&sha).await?;
        let handled = if files.is_empty() || (!first && files == seen.files) {
            true
        } else if first && self.carries_status(&sha).await? {
            report.already_dispatched.push(Statused {
                customer: self.c.slug.clone(),
                sha: sha.clone(),
                pr: None,
            });
            true
        } else {
            let subject = self.head_subject(&sha, &title, &files).await?;
            self.dispatch(subject, None, report).await
        };
        if handled {
            seen.head_etag = etag;
            seen.head = Some(sha);
            seen.files = files;
        }
        Ok(())
    }

    /// The open pull requests: each new head handled; the list's ETag kept
    /// only when every head was, so the next run reads it again otherwise.
    async fn pulls(&self, seen: &mut RepoSeen, report: &mut PollReport) -> Result<(), String> {
        let read = self
            .gh
            .open_pulls_if_changed(self.repo, seen.pulls_etag.as_deref());
        let Some((pulls, etag)) = modified(read.await, report)? else {
            return Ok(());
        };
        let mut now = BTreeMap::new();
        let mut complete = true;
        let mut error = None;
        for pr in pulls {
            let (number, head) = (pr.number, pr.head_sha.clone());
            let old = seen.pulls.get(&number).cloned();
            let handled = match error {
                Some(_) => false,
                None => self.pull(seen, pr, report).await.unwrap_or_else(|e| {
                    error = Some(e);
                    false
                }),
            };
            complete &= handled;
            match (handled, old) {
                (true, _) => now.insert(number, head),
                (false, Some(old)) => now.insert(number, old),
                (false, None) => None,
            };
        }
        seen.pulls = now;
        if complete {
            seen.pulls_etag = etag;
            seen.pulls_known = true;
        }
        error.map_or(Ok(()), Err)
    }

    /// One open pull request: `true` when handled (nothing new, not the
    /// customer's own branch, no read file changed, found statused, or
    /// dispatched).
    async fn pull(
        &self,
        seen: &RepoSeen,
        pr: OpenPull,
        report: &mut PollReport,
    ) -> Result<bool, String> {
        let own = pr.head_repo_id.is_none_or(|id| Some(id) == self.c.repo_id);
        if seen.pulls.get(&pr.number) == Some(&pr.head_sha) || !own {
            return Ok(true);
        }
        if !seen.pulls_known && self.carries_status(&pr.head_sha).await? {
            report.already_dispatched.push(Statused {
                customer: self.c.slug.clone(),
                sha: pr.head_sha,
                pr: Some(pr.number),
            });
            return Ok(true);
        }
        let asked_at = pr.updated_at;
        match self.new_pull(pr).await? {
            Some(subject) => Ok(self.dispatch(subject, asked_at, report).await),
            None => Ok(true),
        }
    }

    /// Whether `sha` carries a status of the manager's context (the
    /// combined one or an environment's): something of fleetform (the
    /// trigger, a plan, an apply, a refusal) was dispatched for it.
    async fn carries_status(&self, sha: &str) -> Result<bool, String> {
        let held = self
            .gh
            .combined_status(self.repo, sha)
            .await
            .map_err(|e| e.to_string())?;
        Ok(has_fleetform_status(
            &held,
            &self.relay.settings.manager.config.status_context,
        ))
    }

    /// The apply dispatch of a default-branch head.
    async fn head_subject(
        &self,
        sha: &str,
        title: &str,
        files: &BTreeMap<String, String>,
    ) -> Result<Subject, String> {
        let repo = self.repo;
        let branch = match self.gh.repo_facts(repo).await {
            Ok(Some(f)) => f.default_branch,
            Ok(None) => return Err(format!("{repo} cannot be read")),
            Err(e) => return Err(e.to_string()),
        };
        Ok(Subject {
            repo: repo.to_string(),
            git_ref: format!("refs/heads/{branch}"),
            pr: crate::dispatch::pr_from_commit_message(title),
            event: "push".into(),
            apply: true,
            run_url: None,
            comment: None,
            dispatch_id: poll_dispatch_id(self.c, sha),
            files: files.keys().cloned().collect(),
            sha: sha.to_string(),
        })
    }

    /// An open pull request with a new head: a plan when it changes a read
    /// file.
    async fn new_pull(&self, pr: OpenPull) -> Result<Option<Subject>, String> {
        let changed = self
            .gh
            .pull_files(self.repo, pr.number)
            .await
            .map_err(|e| e.to_string())?;
        if !changed.iter().any(|f| self.relay.read_files().contains(f)) {
            return Ok(None);
        }
        let files = self.blob_shas(&pr.head_sha).await?;
        Ok(Some(Subject {
            repo: self.repo.to_string(),
            git_ref: format!("refs/heads/{}", pr.head_ref),
            pr: Some(pr.number),
            event: "pull_request".into(),
            apply: false,
            run_url: None,
            comment: None,
            dispatch_id: poll_dispatch_id(self.c, &pr.head_sha),
            files: files.keys().cloned().collect(),
            sha: pr.head_sha,
        }))
    }

    /// Dispatches `subject` (not in a dry run); `true` when the manager has
    /// it. `asked_at`: GitHub's time of the event (a pull request's
    /// `updated_at`), which the plan is measured from against `sla:`; a
    /// default branch's head has none GitHub stamps without another
    /// request (a commit's dates are the pusher's), so it is measured from
    /// the manager's run.
    async fn dispatch(
        &self,
        subject: Subject,
        asked_at: Option<u64>,
        report: &mut PollReport,
    ) -> bool {
        let status = if self.dry_run {
            0
        } else {
            self.relay.dispatch(self.c, &subject, asked_at).await.status
        };
        let polled = Polled {
            customer: self.c.slug.clone(),
            event_type: if subject.apply {
                crate::dispatch::EVENT_APPLY
            } else {
                crate::dispatch::EVENT_PLAN
            },
            sha: subject.sha,
            pr: subject.pr,
            status,
        };
        let accepted = polled.accepted();
        report.dispatched.push(polled);
        accepted
    }

    /// The blob sha of each read file present at `sha`.
    async fn blob_shas(&self, sha: &str) -> Result<BTreeMap<String, String>, String> {
        let mut out = BTreeMap::new();
        for f in self.relay.read_files() {
            match self.gh.get_file_with_sha(self.repo, &f, Some(sha)).await {
                Ok(Some((_, blob))) => {
                    out.insert(f, blob);
                }
                Ok(None) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(out)
    }
}

/// A conditional read's answer: `None` when GitHub answered 304 (counted
/// in `report`), the error's text when the read failed.
fn modified<T>(
    read: Result<Option<T>, GitHubError>,
    report: &mut PollReport,
) -> Result<Option<T>, String> {
    let answer = read.map_err(|e| e.to_string())?;
    if answer.is_none() {
        report.not_modified += 1;
    }
    Ok(answer)
}

/// Whether a combined-status answer holds a status of `context` or of
/// `<context>/<env>`.
fn has_fleetform_status(held: &Value, context: &str) -> bool {
    let env_prefix = format!("{context}/");
    held.get("statuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("context").and_then(Value::as_str))
        .any(|c| c == context || c.starts_with(&env_prefix))
}

/// The message of a relay answer, for a customer's failure.
fn answer_message(body: &Value) -> String {
    body.get("message")
        .and_then(Value::as_str)
        .map_or_else(|| body.to_string(), str::to_string)
}

/// A dispatch id for a polled commit: the repository and the commit.
fn poll_dispatch_id(c: &Customer, sha: &str) -> String {
    format!(
        "p{}-{}",
        c.repo_id.unwrap_or(0),
        crate::dispatch::short_sha(sha)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_fleetform_status_is_the_context_or_an_environments() {
        let held = |contexts: &[&str]| json!({ "statuses": contexts.iter().map(|c| json!({ "context": c, "state": "success" })).collect::<Vec<_>>() });
        let ctx = "infra/terraform-deploy";
        assert!(has_fleetform_status(&held(&["ci", ctx]), ctx));
        assert!(has_fleetform_status(
            &held(&["infra/terraform-deploy/prod"]),
            ctx
        ));
        assert!(!has_fleetform_status(&held(&["ci/build"]), ctx));
        assert!(!has_fleetform_status(
            &held(&["infra/terraform-deployx"]),
            ctx
        ));
        assert!(!has_fleetform_status(&json!({ "statuses": [] }), ctx));
        assert!(!has_fleetform_status(&json!({}), ctx));
    }

    #[test]
    fn an_older_state_reads_with_the_pull_requests_unknown() {
        let old = json!({ "version": 1, "repos": { "7": { "head_etag": null, "head": null, "files": {}, "pulls_etag": "\"e\"", "pulls": { "3": "ab" } } } });
        let s: PollState = serde_json::from_value(old).unwrap();
        assert!(!s.repos[&7].pulls_known);
    }
}
