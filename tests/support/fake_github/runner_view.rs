//! What the workflow runner (`tests/support/actions_runner`) reads of a
//! repository's settings to run a job as GitHub does, and the job's
//! `GITHUB_TOKEN` it mints.
//!
//! - A job receives the secrets and variables of its repository and of
//!   its environment, nothing else ("Using secrets in GitHub Actions":
//!   "environment secrets ... are only available to jobs that reference
//!   the environment"; "Store information in variables").
//! - The `GITHUB_TOKEN` is an installation token of the GitHub Actions App
//!   for the workflow's repository only, with the job's `permissions:`
//!   (or the repository's default) and `metadata: read` ("Automatic token
//!   authentication": "The token's permissions are limited to the
//!   repository that contains your workflow"; "Controlling permissions for
//!   GITHUB_TOKEN"). It lasts until the job ends, at most 24 hours.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use super::apps;
use super::settings::Environment;
use super::state::repo_key;
use super::FakeGitHub;

/// The id of the GitHub Actions App (`github-actions[bot]`), whose
/// installation tokens `GITHUB_TOKEN`s are.
pub const ACTIONS_APP_ID: u64 = 15368;

impl FakeGitHub {
    /// The environment `name` of `repo`, as configured (`None`: GitHub
    /// makes it on first use, with no rule and no secret).
    pub fn environment(&self, repo: &str, name: &str) -> Option<Environment> {
        let st = self.state();
        st.repo(repo)?
            .settings
            .environments
            .get(name)
            .map(|(_, e)| e.clone())
    }

    /// Add the secret `name` to the environment `env` of `repo` (names
    /// only; the runner holds the values).
    pub fn add_environment_secret(&self, repo: &str, env: &str, name: &str) {
        let mut st = self.state();
        let (_, e) = st
            .seeded(repo)
            .settings
            .environments
            .get_mut(env)
            .unwrap_or_else(|| panic!("fake GitHub: no environment {env} in {repo}"));
        e.secrets.insert(name.to_string());
    }

    /// The names of `repo`'s environments.
    pub fn environment_names(&self, repo: &str) -> Vec<String> {
        let st = self.state();
        st.repo(repo)
            .map(|r| r.settings.environments.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The sealed values stored through the API in environment `env` of
    /// `repo`, by name: (key id, base64 sealed box).
    pub fn sealed_environment_secrets(
        &self,
        repo: &str,
        env: &str,
    ) -> std::collections::BTreeMap<String, (String, String)> {
        let st = self.state();
        st.repo(repo)
            .and_then(|r| r.settings.environments.get(env))
            .map(|(_, e)| e.sealed.clone())
            .unwrap_or_default()
    }

    /// The names of `repo`'s own Actions secrets.
    pub fn repo_secret_names(&self, repo: &str) -> BTreeSet<String> {
        self.secrets(repo).into_iter().map(|s| s.name).collect()
    }

    /// The Actions variables a job of `repo` in environment `env` reads as
    /// `vars`: the repository's, then the environment's over them
    /// ("Store information in variables": "environment variables ...
    /// take precedence"). A variable seeded without a value is `""`.
    pub fn variables_for(&self, repo: &str, env: Option<&str>) -> BTreeMap<String, String> {
        let st = self.state();
        let Some(r) = st.repo(repo) else {
            return BTreeMap::new();
        };
        let s = &r.settings;
        let value = |scope: &str, name: &str| {
            s.variable_values
                .get(&(scope.to_string(), name.to_string()))
                .cloned()
                .unwrap_or_default()
        };
        let mut out: BTreeMap<String, String> = s
            .variables
            .iter()
            .map(|n| (n.clone(), value("", n)))
            .collect();
        if let Some((_, e)) = env.and_then(|e| s.environments.get(e)) {
            let scope = env.unwrap_or_default();
            for n in &e.variables {
                out.insert(n.clone(), value(scope, n));
            }
        }
        out
    }

    /// Records attempt `attempt` of workflow run `run_id` of `repo` (the
    /// runner's), started by `event` on `head_branch`, created at
    /// `created_at` (RFC 3339; a re-run keeps its run's), as `GET
    /// /repos/{owner}/{repo}/actions/runs/{run_id}` then answers it.
    #[allow(clippy::too_many_arguments)]
    pub fn record_run(
        &self,
        repo: &str,
        run_id: u64,
        path: &str,
        (event, head_branch): (&str, &str),
        actor: &str,
        head_sha: &str,
        created_at: &str,
        attempt: u64,
    ) {
        let mut st = self.state();
        st.user_id(actor);
        st.seeded(repo).workflow_runs.insert(
            run_id,
            super::state::WorkflowRun {
                path: path.to_string(),
                actor: actor.to_string(),
                triggering_actor: actor.to_string(),
                head_branch: head_branch.to_string(),
                head_sha: head_sha.to_string(),
                event: event.to_string(),
                at: created_at.to_string(),
                attempt,
            },
        );
    }

    /// A fine-grained personal access token for `repos` (one owner's:
    /// "A fine-grained personal access token can only access resources
    /// owned by a single user or organization") with exactly
    /// `permissions` (repository permissions, `read`/`write`, and
    /// `metadata: read`, which every such token has): a request outside
    /// its repositories or its permissions is answered 403 "Resource not
    /// accessible by personal access token" and recorded as a violation
    /// ("Managing your personal access tokens"; the permission each
    /// endpoint needs is the same map as an App's).
    pub fn add_fine_grained_token(&self, token: &str, repos: &[&str], permissions: Value) {
        let owners: std::collections::BTreeSet<&str> =
            repos.iter().filter_map(|r| r.split('/').next()).collect();
        assert!(
            owners.len() <= 1,
            "a fine-grained token covers one owner, not {owners:?}"
        );
        self.add_scoped_token(token, repos);
        let mut granted = permissions;
        granted["metadata"] = json!("read");
        self.state().fine_grained.insert(token.to_string(), granted);
    }

    /// The repository's default `GITHUB_TOKEN` access (`read` or `write`).
    pub fn default_workflow_permissions(&self, repo: &str) -> String {
        let st = self.state();
        st.repo(repo)
            .map(|r| r.settings.workflow_permissions.0.clone())
            .unwrap_or_else(|| "read".into())
    }

    /// A job's `GITHUB_TOKEN`: for `repo` alone, with exactly
    /// `permissions` (App permission names, `read`/`write`) and
    /// `metadata: read`.
    pub fn mint_actions_token(&self, repo: &str, permissions: &BTreeMap<String, String>) -> String {
        let mut granted: serde_json::Map<String, Value> = permissions
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        granted.insert("metadata".into(), json!("read"));
        let mut st = self.state();
        st.app_slugs
            .entry(ACTIONS_APP_ID)
            .or_insert_with(|| "github-actions".into());
        let (token, _) = apps::mint(
            &mut st,
            ACTIONS_APP_ID,
            0,
            vec![repo_key(repo)],
            Value::Object(granted),
        );
        token
    }
}
