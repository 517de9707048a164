//! `fleetform poll`: the relay's job done from a schedule, for providers who
//! run no service. Through the App it reads, per active customer, the
//! default branch's head and the open pull requests with conditional
//! requests (ETags kept in a state file between runs), and dispatches what
//! changed in a file fleetform reads:
//!
//! - a new default-branch head whose read files differ (by blob sha) from
//!   the last head seen: a plan that leads to an apply;
//! - an open pull request from the customer's repo with a new head that
//!   changes a read file: a plan.
//!
//! The first run for a repo records what it finds and dispatches nothing.
//! One customer's failure is reported and does not stop the others; the
//! state of a repo that failed is left as it was, so the next run tries it
//! again.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Relay, Subject};
use crate::config::{Customer, Registry};

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
    /// The relay's answer status (0 in a dry run).
    pub status: u16,
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PollReport {
    pub dispatched: Vec<Polled>,
    /// Customers whose repo was read for the first time (recorded only).
    pub first_seen: Vec<String>,
    /// Conditional reads answered 304.
    pub not_modified: usize,
    pub failed: Vec<(String, String)>,
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
        for c in registry.customers.iter().filter(|c| c.is_active()) {
            let (Some(repo), Some(id)) = (c.repo.clone(), c.repo_id) else {
                continue;
            };
            let before = state.repos.get(&id).cloned();
            let mut seen = before.clone().unwrap_or_default();
            match self
                .poll_one(c, &repo, &mut seen, before.is_none(), dry_run, &mut report)
                .await
            {
                Ok(()) => {
                    if before.is_none() {
                        report.first_seen.push(c.slug.clone());
                    }
                    state.repos.insert(id, seen);
                }
                Err(why) => report.failed.push((c.slug.clone(), why)),
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
        first: bool,
        dry_run: bool,
        report: &mut PollReport,
    ) -> Result<(), String> {
        let gh = self
            .customer_client(repo)
            .await
            .map_err(|a| a.body["message"].to_string())?;
        let head = gh
            .default_head_if_changed(repo, seen.head_etag.as_deref())
            .await
            .map_err(|e| e.to_string())?;
        match head {
            None => report.not_modified += 1,
            Some((sha, title, etag)) => {
                seen.head_etag = etag;
                if let Some(subject) = self.new_head(c, repo, seen, first, sha, &title).await? {
                    self.poll_dispatch(c, subject, dry_run, report).await;
                }
            }
        }
        let pulls = gh
            .open_pulls_if_changed(repo, seen.pulls_etag.as_deref())
            .await
            .map_err(|e| e.to_string())?;
        match pulls {
            None => report.not_modified += 1,
            Some((pulls, etag)) => {
                seen.pulls_etag = etag;
                let mut now = BTreeMap::new();
                for pr in pulls {
                    let new_head = seen.pulls.get(&pr.number) != Some(&pr.head_sha);
                    now.insert(pr.number, pr.head_sha.clone());
                    let own = pr.head_repo_id.is_none_or(|id| Some(id) == c.repo_id);
                    if first || !new_head || !own {
                        continue;
                    }
                    if let Some(subject) = self.new_pull(c, repo, pr).await? {
                        self.poll_dispatch(c, subject, dry_run, report).await;
                    }
                }
                seen.pulls = now;
            }
        }
        Ok(())
    }

    /// A default-branch head not seen before: an apply when a read file
    /// changed since the last head (by blob sha), nothing on the first run.
    async fn new_head(
        &self,
        c: &Customer,
        repo: &str,
        seen: &mut RepoSeen,
        first: bool,
        sha: String,
        title: &str,
    ) -> Result<Option<Subject>, String> {
        if seen.head.as_deref() == Some(sha.as_str()) {
            return Ok(None);
        }
        let files = self.blob_shas(repo, &sha).await?;
        let changed = !first && files != seen.files;
        seen.head = Some(sha.clone());
        seen.files = files.clone();
        if !changed || files.is_empty() {
            return Ok(None);
        }
        Ok(Some(Subject {
            repo: repo.to_string(),
            git_ref: format!("refs/heads/{}", self.default_branch(repo).await?),
            pr: crate::dispatch::pr_from_commit_message(title),
            event: "push".into(),
            apply: true,
            run_url: None,
            comment: None,
            dispatch_id: poll_dispatch_id(c, &sha),
            files: files.keys().cloned().collect(),
            sha,
        }))
    }

    /// An open pull request with a new head: a plan when it changes a read
    /// file.
    async fn new_pull(
        &self,
        c: &Customer,
        repo: &str,
        pr: crate::github::OpenPull,
    ) -> Result<Option<Subject>, String> {
        let gh = self
            .customer_client(repo)
            .await
            .map_err(|a| a.body["message"].to_string())?;
        let changed = gh
            .pull_files(repo, pr.number)
            .await
            .map_err(|e| e.to_string())?;
        if !changed.iter().any(|f| self.read_files().contains(f)) {
            return Ok(None);
        }
        let files = self.blob_shas(repo, &pr.head_sha).await?;
        Ok(Some(Subject {
            repo: repo.to_string(),
            git_ref: format!("refs/heads/{}", pr.head_ref),
            pr: Some(pr.number),
            event: "pull_request".into(),
            apply: false,
            run_url: None,
            comment: None,
            dispatch_id: poll_dispatch_id(c, &pr.head_sha),
            files: files.keys().cloned().collect(),
            sha: pr.head_sha,
        }))
    }

    async fn poll_dispatch(
        &self,
        c: &Customer,
        subject: Subject,
        dry_run: bool,
        report: &mut PollReport,
    ) {
        let status = if dry_run {
            0
        } else {
            self.dispatch(c, &subject).await.status
        };
        report.dispatched.push(Polled {
            customer: c.slug.clone(),
            event_type: if subject.apply {
                crate::dispatch::EVENT_APPLY
            } else {
                crate::dispatch::EVENT_PLAN
            },
            sha: subject.sha,
            pr: subject.pr,
            status,
        });
    }

    async fn default_branch(&self, repo: &str) -> Result<String, String> {
        let gh = self
            .customer_client(repo)
            .await
            .map_err(|a| a.body["message"].to_string())?;
        match gh.repo_facts(repo).await {
            Ok(Some(f)) => Ok(f.default_branch),
            Ok(None) => Err(format!("{repo} cannot be read")),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The blob sha of each read file present at `sha`.
    async fn blob_shas(&self, repo: &str, sha: &str) -> Result<BTreeMap<String, String>, String> {
        let gh = self
            .customer_client(repo)
            .await
            .map_err(|a| a.body["message"].to_string())?;
        let mut out = BTreeMap::new();
        for f in self.read_files() {
            match gh.get_file_with_sha(repo, &f, Some(sha)).await {
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

/// A dispatch id for a polled commit: the repository and the commit.
fn poll_dispatch_id(c: &Customer, sha: &str) -> String {
    format!(
        "p{}-{}",
        c.repo_id.unwrap_or(0),
        crate::dispatch::short_sha(sha)
    )
}
