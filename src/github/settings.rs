//! A repository's settings, read for `fleetform doctor` (and the writes
//! of `doctor --fix`: an environment deployable from custom branch
//! policies, a policy, a ruleset, the workflow permissions, secret
//! scanning): its environments
//! (protection rules, deployment branch policies), the names of its
//! Actions secrets and variables and of each environment's (never values:
//! GitHub's secret endpoints return none, and variables' are dropped but
//! for the one variable asked for), its rulesets, the default permissions
//! of `GITHUB_TOKEN`, and how `GET /repos/{owner}/{repo}` answers for it.
//! Answers land in the plain facts of `doctor::facts`.

use serde_json::Value;

use super::answers::required_str;
use super::client::{GitHub, Method};
use super::error::{bad_value, GitHubError};
use super::paths::{repo_path, seg};
use crate::doctor::facts::{
    BranchPolicy, EnvironmentFacts, RepoPermissions, RepoReach, Ruleset, SecretScanning,
    WorkflowPermissions,
};

/// A deployment branch policy as "Create or update an environment"
/// takes it: `null` for every branch.
fn policy_json(policy: &BranchPolicy) -> Value {
    match policy {
        BranchPolicy::Any => Value::Null,
        BranchPolicy::ProtectedBranches => {
            serde_json::json!({"protected_branches": true, "custom_branch_policies": false})
        }
        BranchPolicy::Custom(_) => {
            serde_json::json!({"protected_branches": false, "custom_branch_policies": true})
        }
    }
}

/// Reviewers as that endpoint takes them: `{type, id}`.
fn reviewers_json(reviewers: &[(String, u64)]) -> Value {
    reviewers
        .iter()
        .map(|(kind, id)| serde_json::json!({ "type": kind, "id": id }))
        .collect()
}

fn names(items: &[Value], path: &str) -> Result<Vec<String>, GitHubError> {
    items
        .iter()
        .map(|i| required_str(i, "/name", path, "name").map(str::to_string))
        .collect()
}

impl GitHub {
    /// Every environment (`GET .../environments`, 1 request per 100), each
    /// with its custom branch policies when it has them (1 request per
    /// such environment).
    pub async fn environments(&self, repo: &str) -> Result<Vec<EnvironmentFacts>, GitHubError> {
        let p = format!("{}/environments?per_page=100", repo_path(repo));
        let mut items = Vec::new();
        self.paginate_in(p.clone(), Some("environments"), |v| items.push(v))
            .await?;
        let mut out = Vec::new();
        for item in &items {
            let name = required_str(item, "/name", &p, "name")?.to_string();
            let rules = item
                .get("protection_rules")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let reviewers = rules
                .iter()
                .find(|r| r.get("type").and_then(Value::as_str) == Some("required_reviewers"));
            let policy = item.get("deployment_branch_policy").unwrap_or(&Value::Null);
            let branch_policy = if policy.is_null() {
                BranchPolicy::Any
            } else if policy.get("protected_branches").and_then(Value::as_bool) == Some(true) {
                BranchPolicy::ProtectedBranches
            } else {
                BranchPolicy::Custom(
                    self.branch_policies(repo, &name)
                        .await
                        .map_err(|e| e.to_string()),
                )
            };
            let ids = reviewers
                .and_then(|r| r.get("reviewers"))
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .filter_map(|r| {
                            let kind = r.get("type").and_then(Value::as_str)?;
                            let id = r.pointer("/reviewer/id").and_then(Value::as_u64)?;
                            Some((kind.to_string(), id))
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.push(EnvironmentFacts {
                name,
                required_reviewers: reviewers.is_some(),
                reviewers: ids,
                prevent_self_review: reviewers
                    .and_then(|r| r.get("prevent_self_review"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                branch_policy,
            });
        }
        Ok(out)
    }

    /// An environment's custom deployment branch policies: (name, type).
    async fn branch_policies(
        &self,
        repo: &str,
        env: &str,
    ) -> Result<Vec<(String, String)>, GitHubError> {
        let p = format!(
            "{}/environments/{}/deployment-branch-policies?per_page=100",
            repo_path(repo),
            seg(env)
        );
        let mut items = Vec::new();
        self.paginate_in(p.clone(), Some("branch_policies"), |v| items.push(v))
            .await?;
        items
            .iter()
            .map(|i| {
                let name = required_str(i, "/name", &p, "name")?.to_string();
                let kind = i.get("type").and_then(Value::as_str).unwrap_or("branch");
                Ok((name, kind.to_string()))
            })
            .collect()
    }

    /// Creates `env` (or keeps it) deployable only from custom branch
    /// policies (`PUT .../environments/{name}`, GitHub's "Create or update
    /// an environment"; Administration write). GitHub's page does not say
    /// what a field left out becomes, so an existing environment's
    /// (`current`) reviewers and "prevent self-review" are sent back as
    /// they are; its secrets and variables are not part of it.
    pub async fn custom_branch_environment(
        &self,
        repo: &str,
        env: &str,
        current: Option<&EnvironmentFacts>,
    ) -> Result<(), GitHubError> {
        let path = format!("{}/environments/{}", repo_path(repo), seg(env));
        let mut body = serde_json::json!({
            "deployment_branch_policy": policy_json(&BranchPolicy::Custom(Ok(Vec::new())))
        });
        if let Some(c) = current.filter(|c| c.required_reviewers) {
            body["reviewers"] = reviewers_json(&c.reviewers);
            body["prevent_self_review"] = c.prevent_self_review.into();
        }
        self.send(Method::Put, &path, Some(&body)).await.map(drop)
    }

    /// Lets branch `branch` deploy to `env` (`POST
    /// .../deployment-branch-policies`; Administration write).
    pub async fn add_branch_policy(
        &self,
        repo: &str,
        env: &str,
        branch: &str,
    ) -> Result<(), GitHubError> {
        let path = format!(
            "{}/environments/{}/deployment-branch-policies",
            repo_path(repo),
            seg(env)
        );
        let body = serde_json::json!({ "name": branch, "type": "branch" });
        self.send(Method::Post, &path, Some(&body)).await.map(drop)
    }

    /// Creates an active ruleset `name` on every ref of `target` (`branch`
    /// or `tag`) restricting their creation, update and deletion, which
    /// the repository's admins may bypass (`POST .../rulesets`, GitHub's
    /// "Create a repository ruleset"; Administration write).
    pub async fn create_lock_ruleset(
        &self,
        repo: &str,
        name: &str,
        target: &str,
    ) -> Result<(), GitHubError> {
        let path = format!("{}/rulesets", repo_path(repo));
        // The repository role `admin` has the id 5 ("Create a repository
        // ruleset": `bypass_actors[].actor_id`).
        let body = serde_json::json!({
            "name": name,
            "target": target,
            "enforcement": "active",
            "conditions": {"ref_name": {"include": ["~ALL"], "exclude": []}},
            "rules": [{"type": "creation"}, {"type": "update"}, {"type": "deletion"}],
            "bypass_actors": [{"actor_id": 5, "actor_type": "RepositoryRole", "bypass_mode": "always"}],
        });
        self.send(Method::Post, &path, Some(&body)).await.map(drop)
    }

    /// `GITHUB_TOKEN` reads by default and may not approve pull requests
    /// (`PUT .../actions/permissions/workflow`; Administration write).
    pub async fn restrict_workflow_permissions(&self, repo: &str) -> Result<(), GitHubError> {
        let path = format!("{}/actions/permissions/workflow", repo_path(repo));
        let body = serde_json::json!({
            "default_workflow_permissions": "read",
            "can_approve_pull_request_reviews": false,
        });
        self.send(Method::Put, &path, Some(&body)).await.map(drop)
    }

    /// Turns on secret scanning and its push protection (`PATCH
    /// /repos/{owner}/{repo}` with `security_and_analysis`, GitHub's
    /// "Update a repository"; Administration write).
    pub async fn enable_secret_scanning(&self, repo: &str) -> Result<(), GitHubError> {
        let body = serde_json::json!({"security_and_analysis": {
            "secret_scanning": {"status": "enabled"},
            "secret_scanning_push_protection": {"status": "enabled"},
        }});
        self.send(Method::Patch, &repo_path(repo), Some(&body))
            .await
            .map(drop)
    }

    /// Sets `env`'s required `reviewers` with "prevent self-review" on
    /// (`PUT .../environments/{name}`; Administration write), sending its
    /// deployment branch policy (`policy`) back as it is: GitHub's page
    /// does not say what a field left out becomes.
    pub async fn prevent_self_review(
        &self,
        repo: &str,
        env: &str,
        reviewers: &[(String, u64)],
        policy: &BranchPolicy,
    ) -> Result<(), GitHubError> {
        let path = format!("{}/environments/{}", repo_path(repo), seg(env));
        let body = serde_json::json!({
            "prevent_self_review": true,
            "reviewers": reviewers_json(reviewers),
            "deployment_branch_policy": policy_json(policy),
        });
        self.send(Method::Put, &path, Some(&body)).await.map(drop)
    }

    /// The names of the repository's Actions secrets.
    pub async fn repo_secret_names(&self, repo: &str) -> Result<Vec<String>, GitHubError> {
        let p = format!("{}/actions/secrets?per_page=100", repo_path(repo));
        let mut items = Vec::new();
        self.paginate_in(p.clone(), Some("secrets"), |v| items.push(v))
            .await?;
        names(&items, &p)
    }

    /// The names of an environment's secrets.
    pub async fn environment_secret_names(
        &self,
        repo: &str,
        env: &str,
    ) -> Result<Vec<String>, GitHubError> {
        let p = format!(
            "{}/environments/{}/secrets?per_page=100",
            repo_path(repo),
            seg(env)
        );
        let mut items = Vec::new();
        self.paginate_in(p.clone(), Some("secrets"), |v| items.push(v))
            .await?;
        names(&items, &p)
    }

    /// The names of the repository's Actions variables, and the values of
    /// those named in `keep` that it has (the others' values are not
    /// kept; GitHub pages them by at most 30).
    pub async fn repo_variables(
        &self,
        repo: &str,
        keep: &[&str],
    ) -> Result<(Vec<String>, Vec<(String, String)>), GitHubError> {
        let p = format!("{}/actions/variables?per_page=30", repo_path(repo));
        let mut items = Vec::new();
        self.paginate_in(p.clone(), Some("variables"), |v| items.push(v))
            .await?;
        let names = names(&items, &p)?;
        let kept = items
            .iter()
            .zip(&names)
            .filter(|(_, n)| keep.contains(&n.as_str()))
            .map(|(v, n)| {
                let value = v.get("value").and_then(Value::as_str).unwrap_or_default();
                (n.clone(), value.to_string())
            })
            .collect();
        Ok((names, kept))
    }

    /// Creates the repository variable `name` (`POST .../actions/variables`)
    /// or, with `exists`, sets its value (`PATCH
    /// .../actions/variables/{name}`); Variables write.
    pub async fn set_repo_variable(
        &self,
        repo: &str,
        name: &str,
        value: &str,
        exists: bool,
    ) -> Result<(), GitHubError> {
        let base = format!("{}/actions/variables", repo_path(repo));
        let body = serde_json::json!({ "name": name, "value": value });
        let (method, path) = match exists {
            true => (Method::Patch, format!("{base}/{}", seg(name))),
            false => (Method::Post, base),
        };
        self.send(method, &path, Some(&body)).await.map(drop)
    }

    /// The names of an environment's Actions variables.
    pub async fn environment_variable_names(
        &self,
        repo: &str,
        env: &str,
    ) -> Result<Vec<String>, GitHubError> {
        let p = format!(
            "{}/environments/{}/variables?per_page=30",
            repo_path(repo),
            seg(env)
        );
        let mut items = Vec::new();
        self.paginate_in(p.clone(), Some("variables"), |v| items.push(v))
            .await?;
        names(&items, &p)
    }

    /// The value of the Actions variable `name` of the repository (`env`
    /// `None`) or of its environment `env`; `None` when it is not set. The
    /// other variables' values are not kept.
    pub async fn variable_value(
        &self,
        repo: &str,
        env: Option<&str>,
        name: &str,
    ) -> Result<Option<String>, GitHubError> {
        let p = match env {
            None => format!("{}/actions/variables?per_page=30", repo_path(repo)),
            Some(env) => format!(
                "{}/environments/{}/variables?per_page=30",
                repo_path(repo),
                seg(env)
            ),
        };
        let mut found = None;
        self.paginate_in(p, Some("variables"), |v| {
            if v.get("name").and_then(Value::as_str) == Some(name) {
                found = Some(v.get("value").and_then(Value::as_str).map(str::to_string));
            }
        })
        .await?;
        Ok(found.map(Option::unwrap_or_default))
    }

    /// The repository's rulesets, each read whole (the list leaves out
    /// rules and conditions): 1 request per 100, plus 1 per ruleset.
    pub async fn rulesets(&self, repo: &str) -> Result<Vec<Ruleset>, GitHubError> {
        let p = format!("{}/rulesets?per_page=100", repo_path(repo));
        let mut items = Vec::new();
        self.paginate(p.clone(), |v| items.push(v)).await?;
        let mut out = Vec::new();
        for item in &items {
            let id = item
                .get("id")
                .and_then(Value::as_u64)
                .ok_or_else(|| bad_value("GET", &p, "id", "is not a number"))?;
            let one = format!("{}/rulesets/{id}", repo_path(repo));
            let r = self.send(Method::Get, &one, None).await?;
            out.push(ruleset(&r.body, &one)?);
        }
        Ok(out)
    }

    /// The default permissions of `GITHUB_TOKEN` in the repository.
    pub async fn workflow_permissions(
        &self,
        repo: &str,
    ) -> Result<WorkflowPermissions, GitHubError> {
        let p = format!("{}/actions/permissions/workflow", repo_path(repo));
        let r = self.send(Method::Get, &p, None).await?;
        Ok(WorkflowPermissions {
            default: required_str(
                &r.body,
                "/default_workflow_permissions",
                &p,
                "default_workflow_permissions",
            )?
            .to_string(),
            can_approve_pull_request_reviews: r
                .body
                .get("can_approve_pull_request_reviews")
                .and_then(Value::as_bool)
                .ok_or_else(|| {
                    bad_value(
                        "GET",
                        &p,
                        "can_approve_pull_request_reviews",
                        "is not true or false",
                    )
                })?,
        })
    }

    /// The repository's facts for writes that need a repository admin
    /// (environments, their secrets, rulesets, settings): `Err` when this
    /// token is none there, or the repository cannot be read. One read of
    /// the repository for the permission, one for its default branch.
    pub async fn administered(&self, repo: &str) -> Result<super::RepoInfo, NotAdmin> {
        let who = || repo.to_string();
        match self.repo_reach(repo).await {
            RepoReach::Found { permissions, .. } if permissions.is_some_and(|p| p.admin) => {}
            RepoReach::Found { .. } => return Err(NotAdmin::NoAdmin { repo: who() }),
            RepoReach::Missing => return Err(NotAdmin::Missing { repo: who() }),
            RepoReach::Moved => return Err(NotAdmin::Moved { repo: who() }),
            RepoReach::Failed(why) => return Err(NotAdmin::Failed { repo: who(), why }),
        }
        self.repo_info(repo).await.map_err(|e| NotAdmin::Failed {
            repo: who(),
            why: e.to_string(),
        })
    }

    /// How `GET /repos/{owner}/{repo}` answers: found (its id and name,
    /// whether archived, the token's permissions), 404, 301, or another
    /// failure.
    pub async fn repo_reach(&self, repo: &str) -> RepoReach {
        let p = repo_path(repo);
        let r = match self.send(Method::Get, &p, None).await {
            Ok(r) => r,
            Err(e) => {
                return match e.status() {
                    Some(404) => RepoReach::Missing,
                    Some(301) => RepoReach::Moved,
                    _ => RepoReach::Failed(e.to_string()),
                }
            }
        };
        let full_name = match required_str(&r.body, "/full_name", &p, "full_name") {
            Ok(n) => n.to_string(),
            Err(e) => return RepoReach::Failed(e.to_string()),
        };
        let Some(id) = r
            .body
            .get("id")
            .and_then(Value::as_u64)
            .filter(|id| *id > 0)
        else {
            return RepoReach::Failed(
                bad_value("GET", &p, "id", "is not a positive number").to_string(),
            );
        };
        let flag = |v: &Value, k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
        RepoReach::Found {
            id,
            full_name,
            archived: flag(&r.body, "archived"),
            permissions: r
                .body
                .get("permissions")
                .filter(|v| v.is_object())
                .map(|v| RepoPermissions {
                    pull: flag(v, "pull"),
                    push: flag(v, "push"),
                    admin: flag(v, "admin"),
                }),
            secret_scanning: SecretScanning::from_repo(&r.body),
        }
    }
}

fn ruleset(v: &Value, path: &str) -> Result<Ruleset, GitHubError> {
    let strings = |ptr: &str| -> Vec<String> {
        v.pointer(ptr)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok(Ruleset {
        name: required_str(v, "/name", path, "name")?.to_string(),
        target: v
            .get("target")
            .and_then(Value::as_str)
            .unwrap_or("branch")
            .to_string(),
        enforcement: required_str(v, "/enforcement", path, "enforcement")?.to_string(),
        include: strings("/conditions/ref_name/include"),
        rules: v
            .get("rules")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|r| r.get("type").and_then(Value::as_str))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// Why writes that need a repository admin cannot be made with a token.
#[derive(Debug, thiserror::Error)]
pub enum NotAdmin {
    #[error("{repo} cannot be read with this token")]
    Missing { repo: String },
    #[error("{repo} was renamed: name it as it is now")]
    Moved { repo: String },
    #[error("reading {repo}: {why}")]
    Failed { repo: String, why: String },
    #[error("this token cannot administer {repo} (GitHub's answer gives it no admin permission)")]
    NoAdmin { repo: String },
}
