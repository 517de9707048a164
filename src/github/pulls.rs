//! Pull requests: what policy gates need from one, open ones from a
//! branch, and creating one; numbers and URLs in answers are checked.

use serde_json::Value;

use super::answers;
use super::client::{truncate_chars, GitHub, Method};
use super::error::{bad_value, GitHubError};
use super::paths::{repo_path, seg};

impl GitHub {
    /// The pull request that brought commit `sha` in (1 request): the one
    /// whose merge commit it is, else the first associated with it; `None`
    /// for a commit pushed without one.
    pub async fn pull_of_commit(&self, repo: &str, sha: &str) -> Result<Option<u64>, GitHubError> {
        Ok(self.authored_pull_of_commit(repo, sha).await?.map(|p| p.0))
    }

    /// [`GitHub::pull_of_commit`] with the pull request's author (`user.login`
    /// of the same answer; `None` when GitHub gave none), 1 request.
    pub async fn authored_pull_of_commit(
        &self,
        repo: &str,
        sha: &str,
    ) -> Result<Option<(u64, Option<String>)>, GitHubError> {
        let p = format!(
            "{}/commits/{}/pulls?per_page=100",
            repo_path(repo),
            seg(sha)
        );
        let r = self.send(Method::Get, &p, None).await?;
        let pulls = r.body.as_array().cloned().unwrap_or_default();
        let authored = |v: &Value| {
            let n = v.get("number").and_then(Value::as_u64).filter(|n| *n > 0)?;
            let author = v.pointer("/user/login").and_then(Value::as_str);
            Some((n, author.map(str::to_string)))
        };
        let merged = pulls
            .iter()
            .find(|v| v.get("merge_commit_sha").and_then(Value::as_str) == Some(sha))
            .and_then(authored);
        Ok(merged.or_else(|| pulls.iter().find_map(authored)))
    }

    /// What policy gates need from a pull request: labels and description
    /// (1 request) and, when `reviews`, approving reviewers (1 more).
    pub async fn pull_facts(
        &self,
        repo: &str,
        number: u64,
        reviews: bool,
    ) -> Result<crate::policy::PullFacts, GitHubError> {
        let (pull, author) = self.pull_and_author(repo, number).await?;
        let labels = pull
            .get("labels")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|l| l.get("name").and_then(Value::as_str).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let body = pull.get("body").and_then(Value::as_str).unwrap_or_default();
        let waiver_reason = body.lines().find_map(|l| {
            l.trim()
                .strip_prefix("fleetform-waiver:")
                .map(|r| truncate_chars(r.trim(), 300))
                .filter(|r| !r.is_empty())
        });
        let mut approvals = Vec::new();
        if reviews {
            // The latest review of each reviewer counts: every page is
            // read, so a later "changes requested" is never missed.
            let mut latest: std::collections::BTreeMap<String, String> =
                std::collections::BTreeMap::new();
            self.each_review(repo, number, |rv| {
                if let (Some(user), Some(state)) = (
                    rv.pointer("/user/login").and_then(Value::as_str),
                    rv.get("state").and_then(Value::as_str),
                ) {
                    if state != "COMMENTED" {
                        latest.insert(user.to_string(), state.to_string());
                    }
                }
            })
            .await?;
            approvals = latest
                .into_iter()
                .filter(|(u, s)| s == "APPROVED" && Some(u) != author.as_ref())
                .map(|(u, _)| u)
                .collect();
        }
        Ok(crate::policy::PullFacts {
            number,
            labels,
            approvals,
            author,
            waiver_reason,
        })
    }

    /// A pull request's author and its reviews as approval notes (every
    /// page; a review without a submission time is pending and skipped).
    pub async fn review_notes(
        &self,
        repo: &str,
        number: u64,
    ) -> Result<(Option<String>, Vec<crate::policy::approval::PrNote>), GitHubError> {
        let (_, author) = self.pull_and_author(repo, number).await?;
        let mut notes = Vec::new();
        self.each_review(repo, number, |rv| {
            let (Some(login), Some(at), Some(state)) = (
                rv.pointer("/user/login").and_then(Value::as_str),
                rv.get("submitted_at").and_then(Value::as_str),
                rv.get("state").and_then(Value::as_str),
            ) else {
                return;
            };
            notes.push(crate::policy::approval::PrNote {
                login: login.to_string(),
                body: rv
                    .get("body")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                at: at.to_string(),
                edited: false,
                bot: rv.pointer("/user/type").and_then(Value::as_str) != Some("User"),
                review_state: Some(state.to_string()),
            });
        })
        .await?;
        Ok((author, notes))
    }

    /// A pull request (1 request) and its author (`user.login`; `None`
    /// when GitHub gave none).
    async fn pull_and_author(
        &self,
        repo: &str,
        number: u64,
    ) -> Result<(Value, Option<String>), GitHubError> {
        let p = format!("{}/pulls/{number}", repo_path(repo));
        let pull = self.send(Method::Get, &p, None).await?.body;
        let author = pull
            .pointer("/user/login")
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok((pull, author))
    }

    /// Each review of a pull request, every page.
    async fn each_review(
        &self,
        repo: &str,
        number: u64,
        each: impl FnMut(Value),
    ) -> Result<(), GitHubError> {
        let first = format!("{}/pulls/{number}/reviews?per_page=100", repo_path(repo));
        self.paginate(first, each).await
    }

    /// The pull requests a list query at `p` answers (one page).
    async fn pulls_at(&self, p: &str) -> Result<Vec<Value>, GitHubError> {
        match self.send(Method::Get, p, None).await?.body {
            Value::Array(pulls) => Ok(pulls),
            _ => Err(GitHubError::BadJson {
                method: "GET",
                path: p.to_string(),
                message: "the answer is not a list".into(),
            }),
        }
    }

    /// Open PRs from `owner:branch`: (number, html_url).
    pub async fn open_pulls_from(
        &self,
        repo: &str,
        branch: &str,
    ) -> Result<Vec<(u64, String)>, GitHubError> {
        let owner = repo.split_once('/').map_or(repo, |(o, _)| o);
        let p = format!(
            "{}/pulls?state=open&head={}&per_page=100",
            repo_path(repo),
            seg(&format!("{owner}:{branch}"))
        );
        let pulls = self.pulls_at(&p).await?;
        pulls.iter().map(|pr| pull_ref(pr, "GET", &p)).collect()
    }

    /// The most recently updated open PR into `base`: (number, html_url).
    pub async fn newest_open_pull(
        &self,
        repo: &str,
        base: &str,
    ) -> Result<Option<(u64, String)>, GitHubError> {
        let p = format!(
            "{}/pulls?state=open&base={}&sort=updated&direction=desc&per_page=1",
            repo_path(repo),
            seg(base)
        );
        let pulls = self.pulls_at(&p).await?;
        pulls.first().map(|pr| pull_ref(pr, "GET", &p)).transpose()
    }

    pub async fn create_pull(
        &self,
        repo: &str,
        title: &str,
        head: &str,
        base: &str,
        body: &str,
    ) -> Result<(u64, String), GitHubError> {
        let p = format!("{}/pulls", repo_path(repo));
        let r = self
            .send(
                Method::Post,
                &p,
                Some(&serde_json::json!({ "title": title, "head": head, "base": base, "body": body })),
            )
            .await?;
        if self.dry_run {
            return Ok((0, String::new()));
        }
        pull_ref(&r.body, "POST", &p)
    }
}

/// `(number, html_url)` of a pull request in an answer, both checked.
fn pull_ref(pr: &Value, method: &'static str, path: &str) -> Result<(u64, String), GitHubError> {
    let number = pr
        .get("number")
        .and_then(Value::as_u64)
        .filter(|n| *n > 0)
        .ok_or_else(|| bad_value(method, path, "number", "is not a positive number"))?;
    let url = pr
        .get("html_url")
        .and_then(Value::as_str)
        .ok_or_else(|| bad_value(method, path, "html_url", "is missing"))?;
    answers::check_web_url(url).map_err(|p| bad_value(method, path, "html_url", p))?;
    Ok((number, url.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_answers_are_checked() {
        let good = serde_json::json!({"number": 3, "html_url": "https://github.com/a/b/pull/3"});
        assert_eq!(pull_ref(&good, "POST", "/p").unwrap().0, 3);
        for bad in [
            serde_json::json!({"html_url": "https://github.com/a/b/pull/3"}),
            serde_json::json!({"number": 0, "html_url": "https://github.com/a/b/pull/3"}),
            serde_json::json!({"number": 3}),
            serde_json::json!({"number": 3, "html_url": "https://x/\n# hi"}),
        ] {
            assert!(pull_ref(&bad, "POST", "/p").is_err(), "{bad}");
        }
    }
}

/// Where a pull request stands: what the relay checks a caller's commit
/// against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullHead {
    pub number: u64,
    pub open: bool,
    pub head_sha: String,
    pub head_ref: String,
    /// The id of the repo the head branch is in (another one for a fork).
    pub head_repo_id: Option<u64>,
    /// The test merge commit GitHub made, if any (a `pull_request` run's
    /// `GITHUB_SHA`).
    pub merge_commit_sha: Option<String>,
    /// The id of the repo the pull request is into.
    pub base_repo_id: Option<u64>,
}

impl PullHead {
    /// Whether the head is a branch of the pull request's own repo: not a
    /// fork's, and not of a head repository deleted since (GitHub answers
    /// `head.repo: null`, which cannot be told apart from a fork).
    pub fn is_own_branch(&self) -> bool {
        matches!((self.head_repo_id, self.base_repo_id), (Some(h), Some(b)) if h == b)
    }
}

impl GitHub {
    /// The pull request's head (sha and branch checked) and merge commit;
    /// `None` when there is no such pull request.
    pub async fn pull_head(
        &self,
        repo: &str,
        number: u64,
    ) -> Result<Option<PullHead>, GitHubError> {
        let p = format!("{}/pulls/{number}", repo_path(repo));
        let r = match self.send(Method::Get, &p, None).await {
            Ok(r) => r,
            Err(e) if e.status() == Some(404) => return Ok(None),
            Err(e) => return Err(e),
        };
        let head_sha = answers::checked_sha(&r.body, "/head/sha", &p, "head.sha")?;
        let head_ref = answers::checked_branch(&r.body, "/head/ref", &p, "head.ref")?;
        let merge_commit_sha = r
            .body
            .get("merge_commit_sha")
            .and_then(Value::as_str)
            .filter(|s| answers::check_sha(s).is_ok())
            .map(str::to_string);
        Ok(Some(PullHead {
            number,
            open: r.body.get("state").and_then(Value::as_str) == Some("open"),
            head_sha,
            head_ref,
            head_repo_id: r.body.pointer("/head/repo/id").and_then(Value::as_u64),
            merge_commit_sha,
            base_repo_id: r.body.pointer("/base/repo/id").and_then(Value::as_u64),
        }))
    }

    /// The names of the files a pull request changes (every page; renamed
    /// files under both names).
    pub async fn pull_files(&self, repo: &str, number: u64) -> Result<Vec<String>, GitHubError> {
        let first = format!("{}/pulls/{number}/files?per_page=100", repo_path(repo));
        let mut names = Vec::new();
        self.paginate(first, |f| {
            for key in ["filename", "previous_filename"] {
                if let Some(n) = f.get(key).and_then(Value::as_str) {
                    names.push(n.to_string());
                }
            }
        })
        .await?;
        Ok(names)
    }

    /// The first line of a commit's message ("" when it has none).
    pub async fn commit_title(&self, repo: &str, sha: &str) -> Result<String, GitHubError> {
        let p = format!("{}/commits/{}", repo_path(repo), seg(sha));
        let r = self.send(Method::Get, &p, None).await?;
        Ok(r.body
            .pointer("/commit/message")
            .and_then(Value::as_str)
            .and_then(|m| m.lines().next())
            .map(|l| truncate_chars(l, 300))
            .unwrap_or_default())
    }
}
