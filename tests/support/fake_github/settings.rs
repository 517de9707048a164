//! The repository settings `fleetform doctor` reads: environments (with
//! required reviewers, a deployment branch policy and secrets), rulesets,
//! the default workflow permissions, renamed repositories (answered 301)
//! and the `github-authentication-token-expiration` header. Secrets are
//! names only: GitHub's list endpoints return no values, and neither does
//! the fake.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use super::handlers::{actions, paginate, Answer, Ctx};
use super::render;
use super::state::{repo_key, Repo, State};
use super::util::{node_id, now_rfc3339};
use super::FakeGitHub;

/// Who may deploy to an environment (`deployment_branch_policy`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum BranchPolicy {
    /// `null`: any branch or tag.
    #[default]
    Any,
    ProtectedBranches,
    /// Custom policies: (name pattern, `branch` or `tag`).
    Custom(Vec<(String, String)>),
}

/// One environment of a repository.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// Logins of the required reviewers (none: no such rule).
    pub reviewers: Vec<String>,
    pub prevent_self_review: bool,
    pub branch_policy: BranchPolicy,
    /// Names of its secrets.
    pub secrets: BTreeSet<String>,
    /// The sealed values stored through the API (`PUT
    /// .../secrets/{name}`), by name: (key id, base64 sealed box). A
    /// secret a test adds by name has none.
    pub sealed: BTreeMap<String, (String, String)>,
    /// Names of its Actions variables (a value only with
    /// [`FakeGitHub::set_variable`]).
    pub variables: BTreeSet<String>,
}

/// One ruleset of a repository.
#[derive(Debug, Clone)]
pub struct Ruleset {
    pub name: String,
    /// `branch`, `tag`, `push`.
    pub target: String,
    /// `active`, `evaluate`, `disabled`.
    pub enforcement: String,
    /// `conditions.ref_name.include`, e.g. `~ALL`.
    pub include: Vec<String>,
    /// Rule types, e.g. `creation`, `update`, `deletion`.
    pub rules: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct RepoSettings {
    pub environments: BTreeMap<String, (u64, Environment)>,
    pub rulesets: Vec<(u64, Ruleset)>,
    /// (`read` or `write`, can approve pull request reviews).
    pub workflow_permissions: (String, bool),
    /// Secret scanning and push protection (`security_and_analysis`).
    pub secret_scanning: super::settings_write::SecretScanning,
    /// Collaborators and the Pages site (see `access`).
    pub access: super::access::RepoAccess,
    /// Names of the repository's Actions variables.
    pub variables: BTreeSet<String>,
    /// The values set with [`FakeGitHub::set_variable`], by (environment,
    /// `""` for the repository's, name); others answer `""`.
    pub variable_values: BTreeMap<(String, String), String>,
    pub created_at: String,
}

impl Default for RepoSettings {
    fn default() -> Self {
        RepoSettings {
            environments: BTreeMap::new(),
            rulesets: Vec::new(),
            workflow_permissions: ("read".into(), false),
            secret_scanning: Default::default(),
            access: Default::default(),
            variables: BTreeSet::new(),
            variable_values: BTreeMap::new(),
            created_at: now_rfc3339(),
        }
    }
}

impl FakeGitHub {
    /// Add or replace an environment of `repo`.
    pub fn set_environment(&self, repo: &str, name: &str, env: Environment) {
        let mut st = self.state();
        for login in &env.reviewers {
            st.user_id(login);
        }
        let id = st.next_id();
        st.seeded(repo)
            .settings
            .environments
            .insert(name.to_string(), (id, env));
    }

    /// Whether the tests' token may administer `repo` (its answer's
    /// `permissions.admin`, and its settings' writes); it may by default.
    pub fn set_token_admin(&self, repo: &str, admin: bool) {
        let key = repo_key(repo);
        let mut st = self.state();
        match admin {
            true => st.not_admin.remove(&key),
            false => st.not_admin.insert(key),
        };
    }

    /// The required reviewers of an existing environment, the rest of it
    /// (its secrets, variables and policies) kept, as GitHub's "Create or
    /// update an environment" keeps what it is not sent.
    pub fn set_reviewers(&self, repo: &str, name: &str, reviewers: &[&str]) {
        let mut st = self.state();
        for login in reviewers {
            st.user_id(login);
        }
        let (_, env) = st
            .seeded(repo)
            .settings
            .environments
            .get_mut(name)
            .unwrap_or_else(|| panic!("fake GitHub: {repo} has no environment {name}"));
        env.reviewers = reviewers.iter().map(|r| r.to_string()).collect();
    }

    /// Add an Actions secret to the repository itself (the value is not
    /// kept: the doctor lists names).
    pub fn add_repo_secret(&self, repo: &str, name: &str) {
        let mut st = self.state();
        let r = st.seeded(repo);
        let key_id = r.public_key.0.clone();
        let now = now_rfc3339();
        r.secrets.insert(
            name.to_string(),
            super::state::SecretRec {
                encrypted_value: String::new(),
                key_id,
                created_at: now.clone(),
                updated_at: now,
            },
        );
    }

    /// Add an Actions variable to the repository itself.
    pub fn add_repo_variable(&self, repo: &str, name: &str) {
        self.state()
            .seeded(repo)
            .settings
            .variables
            .insert(name.to_string());
    }

    /// Set an Actions variable with its value: the repository's (`env`
    /// `None`) or an existing environment's.
    pub fn set_variable(&self, repo: &str, env: Option<&str>, name: &str, value: &str) {
        let mut st = self.state();
        let s = &mut st.seeded(repo).settings;
        match env {
            None => s.variables.insert(name.to_string()),
            Some(e) => {
                let (_, env) = s
                    .environments
                    .get_mut(e)
                    .unwrap_or_else(|| panic!("fake GitHub: no environment {e} in {repo}"));
                env.variables.insert(name.to_string())
            }
        };
        let key = (env.unwrap_or("").to_string(), name.to_string());
        s.variable_values.insert(key, value.to_string());
    }

    pub fn add_ruleset(&self, repo: &str, ruleset: Ruleset) {
        let mut st = self.state();
        let id = st.next_id();
        st.seeded(repo).settings.rulesets.push((id, ruleset));
    }

    /// The default `GITHUB_TOKEN` permissions (`read` or `write`) and
    /// whether Actions may approve pull requests (default `read`, false).
    pub fn set_workflow_permissions(&self, repo: &str, default: &str, can_approve: bool) {
        self.state().seeded(repo).settings.workflow_permissions =
            (default.to_string(), can_approve);
    }

    /// Send `github-authentication-token-expiration: <value>` on every
    /// answer, as GitHub does for a token with an expiry.
    pub fn set_token_expiration(&self, value: Option<&str>) {
        self.state().token_expiration = value.map(str::to_string);
    }

    /// Rename `old` to `new` (same owner or another): requests for the old
    /// name are answered 301 from now on.
    pub fn rename_repo(&self, old: &str, new: &str) {
        let mut st = self.state();
        let mut repo = st
            .repos
            .remove(&repo_key(old))
            .unwrap_or_else(|| panic!("fake GitHub: repository {old} was not added"));
        let (owner, name) = new.split_once('/').expect("owner/name");
        repo.owner = owner.to_string();
        repo.name = name.to_string();
        st.repos.insert(repo_key(new), repo);
        st.renamed.insert(repo_key(old), new.to_string());
        // Installations hold repositories by id: they follow the rename.
        for inst in &mut st.installations {
            for r in &mut inst.repos {
                if repo_key(r) == repo_key(old) {
                    *r = new.to_string();
                }
            }
        }
    }
}

/// 301 for a renamed repository's old name.
pub(crate) fn moved(state: &State, repo_name: &str) -> Option<Answer> {
    let new = state.renamed.get(&repo_key(repo_name))?;
    let id = state.repo(new).map_or(0, |r| r.id);
    let url = format!("{}/repositories/{id}", state.api_url);
    Some(
        Answer::json(
            301,
            json!({
                "message": "Moved Permanently",
                "url": url,
                "documentation_url": "https://docs.github.com/rest/guides/best-practices-for-using-the-rest-api#follow-redirects",
            }),
        )
        .header("location", url),
    )
}

/// The writes served here (an environment and its branch policies, as
/// "Create or update an environment" and "Create a deployment branch
/// policy" describe them); `None` for every other operation.
pub(crate) fn write(state: &mut State, repo_name: &str, ctx: &Ctx) -> Option<Answer> {
    if !matches!(
        ctx.op,
        "repos/create-or-update-environment"
            | "repos/create-deployment-branch-policy"
            | "actions/create-or-update-environment-secret"
    ) {
        return None;
    }
    state.repo(repo_name)?;
    if ctx.op == "actions/create-or-update-environment-secret" {
        return Some(put_environment_secret(state, repo_name, ctx));
    }
    // "Create or update an environment" and its branch policies need an
    // admin ("You must authenticate using an access token with the repo
    // scope... Administration repository permissions (write)").
    if state.not_admin.contains(&repo_key(repo_name)) {
        return Some(Answer::error(403, "Must have admin rights to Repository."));
    }
    let name = ctx.param("environment_name").to_string();
    Some(match ctx.op {
        "repos/create-or-update-environment" => put_environment(state, repo_name, &name, ctx),
        _ => add_branch_policy(state, repo_name, &name, ctx),
    })
}

/// "Create or update an environment secret": the environment must exist
/// (404), the name follow "Naming your secrets" (422), the key id be the
/// environment's public key's (here the repository's: GitHub's
/// environment keys are their own, fleetform reads each one), and the
/// value a sealed box (at least libsodium's 48 bytes of overhead). 201 for
/// a new secret, 204 for a replaced one.
fn put_environment_secret(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
    let name = ctx.param("secret_name").to_string();
    if let Some(refused) = actions::refused_secret_name(&name) {
        return refused;
    }
    let key_id = ctx.str_field("key_id").unwrap_or_default().to_string();
    let value = ctx
        .str_field("encrypted_value")
        .unwrap_or_default()
        .to_string();
    let repo = state.seeded(repo_name);
    if key_id != repo.public_key.0 {
        return Answer::invalid(
            "Secret",
            "key_id",
            "invalid",
            Some("key_id does not match the environment public key"),
        );
    }
    if !actions::is_sealed_box(&value) {
        return Answer::invalid(
            "Secret",
            "encrypted_value",
            "invalid",
            Some("encrypted_value is not a sealed box"),
        );
    }
    let Some((_, env)) = repo
        .settings
        .environments
        .get_mut(ctx.param("environment_name"))
    else {
        return Answer::not_found();
    };
    let new = env.secrets.insert(name.clone());
    env.sealed.insert(name, (key_id, value));
    if new {
        Answer::json(201, json!({}))
    } else {
        Answer::no_content()
    }
}

/// "Create or update an environment": what the body sets replaces what
/// the environment had (a `deployment_branch_policy` of `null`: every
/// branch; both kinds at once: 422); what it leaves out is kept; a new
/// environment has none of it. Reviewers are users' or teams' ids.
fn put_environment(state: &mut State, repo_name: &str, name: &str, ctx: &Ctx) -> Answer {
    let body = ctx.body.cloned().unwrap_or(Value::Null);
    // Required reviewers on a private repository exist on GitHub
    // Enterprise only ("Deployments and environments": availability);
    // GitHub refuses them on another plan with this 422
    // (pulumi/pulumi-github#251, a Team organisation).
    let reviewers_asked = body
        .get("reviewers")
        .and_then(Value::as_array)
        .is_some_and(|r| !r.is_empty());
    let (private, owner) = state
        .repo(repo_name)
        .map(|r| (r.private, r.owner.clone()))
        .unwrap_or_default();
    let plan = state
        .accounts
        .plans
        .get(&owner.to_ascii_lowercase())
        .map(|(p, _)| p.clone());
    if reviewers_asked && private && plan.as_deref().is_some_and(|p| p != "enterprise") {
        return Answer::error(
            422,
            "Fail to create protected rule, please ensure billing plan include protected branch gate.",
        );
    }
    let mut reviewers = None;
    if let Some(list) = body.get("reviewers").and_then(Value::as_array) {
        let mut logins = Vec::new();
        for r in list {
            let id = r["id"].as_u64().unwrap_or(0);
            let team = state
                .team_ids
                .iter()
                .find(|(_, v)| **v == id)
                .map(|(k, _)| k.clone())
                .filter(|k| {
                    state
                        .team_repos
                        .get(k)
                        .is_some_and(|r| r.iter().any(|x| x.eq_ignore_ascii_case(repo_name)))
                });
            match state.users.iter().find(|(_, v)| **v == id) {
                Some((login, _)) if r["type"] == "User" => logins.push(login.clone()),
                _ if r["type"] == "Team" && team.is_some() => {
                    logins.push(format!("team:{}", team.unwrap_or_default()))
                }
                _ => {
                    return Answer::invalid(
                        "Environment",
                        "reviewers",
                        "invalid",
                        Some("reviewers must be users or teams with access to the repository"),
                    )
                }
            }
        }
        reviewers = Some(logins);
    }
    let policy =
        match body.get("deployment_branch_policy") {
            None => None,
            Some(Value::Null) => Some(BranchPolicy::Any),
            Some(p) => match (
                p["protected_branches"].as_bool(),
                p["custom_branch_policies"].as_bool(),
            ) {
                (Some(true), Some(false)) => Some(BranchPolicy::ProtectedBranches),
                (Some(false), Some(true)) => Some(BranchPolicy::Custom(Vec::new())),
                _ => return Answer::invalid(
                    "Environment",
                    "deployment_branch_policy",
                    "invalid",
                    Some(
                        "exactly one of protected_branches and custom_branch_policies must be true",
                    ),
                ),
            },
        };
    let id = state.next_id();
    let envs = &mut state.seeded(repo_name).settings.environments;
    let (_, env) = envs
        .entry(name.to_string())
        .or_insert_with(|| (id, Environment::default()));
    if let Some(r) = reviewers {
        env.reviewers = r;
    }
    if let Some(b) = body.get("prevent_self_review").and_then(Value::as_bool) {
        env.prevent_self_review = b;
    }
    if let Some(p) = policy {
        // Custom policies already there stay when custom stays on.
        if !(matches!(p, BranchPolicy::Custom(_))
            && matches!(env.branch_policy, BranchPolicy::Custom(_)))
        {
            env.branch_policy = p;
        }
    }
    let repo = state.repo(repo_name).expect("checked above");
    let (id, env) = &repo.settings.environments[name];
    Answer::json(200, environment(state, repo, name, *id, env))
}

/// "Create a deployment branch policy": only in an environment whose
/// policy is custom (404 otherwise); a pattern it has already answers 303.
fn add_branch_policy(state: &mut State, repo_name: &str, name: &str, ctx: &Ctx) -> Answer {
    let pattern = ctx.str_field("name").unwrap_or_default().to_string();
    let kind = ctx.str_field("type").unwrap_or("branch").to_string();
    let envs = &mut state.seeded(repo_name).settings.environments;
    let Some((_, env)) = envs.get_mut(name) else {
        return Answer::not_found();
    };
    let BranchPolicy::Custom(policies) = &mut env.branch_policy else {
        return Answer::not_found();
    };
    if policies.iter().any(|(n, k)| *n == pattern && *k == kind) {
        return Answer::error(303, "See Other");
    }
    policies.push((pattern.clone(), kind.clone()));
    let id = 5000 + policies.len() as u64 - 1;
    Answer::json(
        200,
        json!({ "id": id, "node_id": node_id("DeploymentBranchPolicy", id), "name": pattern, "type": kind }),
    )
}

/// The operations served here; `None` for every other.
pub(crate) fn handle(state: &State, repo: &Repo, ctx: &Ctx) -> Option<Answer> {
    let s = &repo.settings;
    let env = || s.environments.get(ctx.param("environment_name"));
    let answer = match ctx.op {
        "repos/get-all-environments" => {
            let items = s
                .environments
                .iter()
                .map(|(name, (id, e))| environment(state, repo, name, *id, e))
                .collect();
            wrapped(state, ctx, "environments", items)
        }
        "repos/list-deployment-branch-policies" => match env() {
            Some((_, e)) => {
                let items = match &e.branch_policy {
                    BranchPolicy::Custom(p) => p
                        .iter()
                        .enumerate()
                        .map(|(i, (name, kind))| {
                            let id = 5000 + i as u64;
                            json!({ "id": id, "node_id": node_id("DeploymentBranchPolicy", id), "name": name, "type": kind })
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                wrapped(state, ctx, "branch_policies", items)
            }
            None => Answer::not_found(),
        },
        "actions/list-repo-secrets" => {
            let items = repo
                .secrets
                .iter()
                .map(|(name, rec)| secret(name, &rec.created_at))
                .collect();
            wrapped(state, ctx, "secrets", items)
        }
        "actions/get-environment-public-key" => match env() {
            Some(_) => actions::public_key(repo),
            None => Answer::not_found(),
        },
        "actions/list-environment-secrets" => match env() {
            Some((_, e)) => {
                let items = e.secrets.iter().map(|n| secret(n, &s.created_at)).collect();
                wrapped(state, ctx, "secrets", items)
            }
            None => Answer::not_found(),
        },
        // GitHub pages variables by 10, at most 30 (`variables-per-page`).
        "actions/list-repo-variables" => {
            let items = s.variables.iter().map(|n| variable(s, "", n)).collect();
            wrapped_by(state, ctx, "variables", items, (10, 30))
        }
        "actions/list-environment-variables" => match env() {
            Some((_, e)) => {
                let items = e
                    .variables
                    .iter()
                    .map(|n| variable(s, ctx.param("environment_name"), n))
                    .collect();
                wrapped_by(state, ctx, "variables", items, (10, 30))
            }
            None => Answer::not_found(),
        },
        "repos/get-repo-rulesets" if repo.private && state.on_free_plan(&repo.owner) => {
            Answer::error(
                403,
                "Upgrade to GitHub Pro or make this repository public to enable this feature.",
            )
        }
        "repos/get-repo-rulesets" => {
            let items = s
                .rulesets
                .iter()
                .map(|(id, r)| ruleset_json(state, repo, *id, r, false))
                .collect();
            paginate(state, ctx, items, state.page_size)
        }
        "repos/get-repo-ruleset" => {
            let id: u64 = ctx.param("ruleset_id").parse().unwrap_or(0);
            match s.rulesets.iter().find(|(i, _)| *i == id) {
                Some((id, r)) => Answer::json(200, ruleset_json(state, repo, *id, r, true)),
                None => Answer::not_found(),
            }
        }
        "actions/get-github-actions-default-workflow-permissions-repository" => Answer::json(
            200,
            json!({
                "default_workflow_permissions": s.workflow_permissions.0,
                "can_approve_pull_request_reviews": s.workflow_permissions.1,
            }),
        ),
        _ => return None,
    };
    Some(answer)
}

/// A page of a list GitHub wraps in `{"total_count", key: [...]}`.
fn wrapped(state: &State, ctx: &Ctx, key: &str, items: Vec<Value>) -> Answer {
    wrapped_by(
        state,
        ctx,
        key,
        items,
        (state.page_size, state.max_page_size),
    )
}

/// [`wrapped`] with pages of `(default, at most)` items.
fn wrapped_by(
    state: &State,
    ctx: &Ctx,
    key: &str,
    items: Vec<Value>,
    (default, max): (usize, usize),
) -> Answer {
    let total = items.len();
    let mut answer = super::handlers::paginate_within(state, ctx, items, default, max);
    let page = answer.body.take().unwrap_or(Value::Array(Vec::new()));
    answer.body = Some(json!({ "total_count": total, key: page }));
    answer
}

fn secret(name: &str, at: &str) -> Value {
    json!({ "name": name, "created_at": at, "updated_at": at })
}

/// A variable as GitHub lists it, with the value set for it (else `""`).
fn variable(s: &RepoSettings, env: &str, name: &str) -> Value {
    let value = s
        .variable_values
        .get(&(env.to_string(), name.to_string()))
        .map_or("", String::as_str);
    let at = &s.created_at;
    json!({ "name": name, "value": value, "created_at": at, "updated_at": at })
}

fn environment(state: &State, repo: &Repo, name: &str, id: u64, e: &Environment) -> Value {
    let api = render::repo_api(state, repo);
    let mut rules = Vec::new();
    if !e.reviewers.is_empty() {
        rules.push(json!({
            "id": id + 1,
            "node_id": node_id("ProtectionRule", id + 1),
            "type": "required_reviewers",
            "prevent_self_review": e.prevent_self_review,
            "reviewers": e.reviewers.iter().map(|l| match l.strip_prefix("team:") {
                Some(team) => json!({ "type": "Team", "reviewer": super::handlers::team_json(state, team) }),
                None => json!({ "type": "User", "reviewer": render::user(state, l) }),
            }).collect::<Vec<_>>(),
        }));
    }
    let policy = match &e.branch_policy {
        BranchPolicy::Any => Value::Null,
        BranchPolicy::ProtectedBranches => {
            json!({ "protected_branches": true, "custom_branch_policies": false })
        }
        BranchPolicy::Custom(_) => {
            json!({ "protected_branches": false, "custom_branch_policies": true })
        }
    };
    json!({
        "id": id,
        "node_id": node_id("Environment", id),
        "name": name,
        "url": format!("{api}/environments/{name}"),
        "html_url": format!("{}/{}/deployments/activity_log?environments_filter={name}", state.web_url, repo.full_name()),
        "created_at": repo.settings.created_at,
        "updated_at": repo.settings.created_at,
        "protection_rules": rules,
        "deployment_branch_policy": policy,
    })
}

pub(crate) fn ruleset_json(state: &State, repo: &Repo, id: u64, r: &Ruleset, whole: bool) -> Value {
    let api = render::repo_api(state, repo);
    let mut v = json!({
        "id": id,
        "name": r.name,
        "target": r.target,
        "source_type": "Repository",
        "source": repo.full_name(),
        "enforcement": r.enforcement,
        "node_id": node_id("RepositoryRuleset", id),
        "_links": {
            "self": { "href": format!("{api}/rulesets/{id}") },
            "html": { "href": format!("{}/{}/rules/{id}", state.web_url, repo.full_name()) },
        },
        "created_at": repo.settings.created_at,
        "updated_at": repo.settings.created_at,
    });
    if whole {
        v["bypass_actors"] = json!([]);
        v["current_user_can_bypass"] = json!("never");
        v["conditions"] = json!({ "ref_name": { "include": r.include, "exclude": [] } });
        v["rules"] = r.rules.iter().map(|t| json!({ "type": t })).collect();
    }
    v
}
