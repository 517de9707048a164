//! `fleetform doctor --fix`: what doctor finds that fleetform can set
//! through GitHub's API, shown first as a plan, each line naming the
//! doctor row it answers, and applied only with `--yes`. A second run
//! plans nothing (#83 point 1, first part).
//!
//! Set so far:
//! - an environment a workflow runs jobs in that does not exist (the rows
//!   `environment <name>` and, for a customer's key environment,
//!   `customer secrets keys for <env>`): created, deployable from the
//!   default branch only;
//! - an environment every branch may deploy to (the row `branch policy
//!   <name>`): restricted to the default branch;
//! - the secrets fleetform makes itself (the rows `secrets <name>` and
//!   `customer secrets keys for <env>`): generated, sealed and stored
//!   (`fix_secrets`);
//! - the fleet and provider keys (the rows `fleet key`, `provider key`):
//!   age identities made, sealed and stored, their recipients written into
//!   fleetform.yml (`fix_keys`);
//! - rulesets locking every branch and every tag, `GITHUB_TOKEN`'s
//!   default permissions, secret scanning with push protection on a
//!   public repository, the repository variables fleetform.yml pins,
//!   "prevent self-review" where reviewers are set (`fix_settings`).
//!
//! Everything else doctor reports keeps its fix column: who reviews, the
//! other secrets, the Apps.
//!
//! The token: a repository admin's (Administration write on the manager
//! repo), for this run only. It is checked before anything is written:
//! GitHub's answer for the repository says whether the token may
//! administer it. API budget: 2 reads of the repository (its
//! permissions, its default branch) and 1 per 100 environments, +1 per
//! environment with custom branch policies, +1 per expected environment
//! that exists (its secrets' names), 1 per 100 rulesets +1 per ruleset,
//! +1 for the workflow permissions; with `--yes`, 2 writes per
//! environment created or restricted, 2 requests per secret stored in an
//! environment (its public key, the sealed secret) and 1 write per
//! repository setting.

use std::collections::BTreeMap;

use crate::config::{Manager, Registry};
use crate::context::Context;
use crate::doctor::facts::{BranchPolicy, EnvironmentFacts};
use crate::error::{Error, Result};
use crate::github::GitHub;

use super::fix_keys;
use super::fix_secrets::{self, Group, Partial};
use super::fix_settings::{self, Setting};
use super::Settings;

/// One change, and the doctor row it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    /// The doctor row (its CHECK column).
    pub row: String,
    /// The environment to create or restrict.
    pub environment: String,
    /// Whether it exists (restricted) or not (created).
    pub exists: bool,
    /// What it is now, when it exists (its reviewers go back with it).
    pub current: Option<EnvironmentFacts>,
}

impl Fix {
    fn line(&self, branch: &str) -> String {
        match self.exists {
            true => format!(
                "restrict environment {} to the default branch `{branch}` (every branch may deploy to it now)  [doctor: {}]",
                self.environment, self.row
            ),
            false => format!(
                "create environment {}, deployable from the default branch `{branch}` only  [doctor: {}]",
                self.environment, self.row
            ),
        }
    }
}

/// The environments doctor expects, each with its row: the deploy
/// workflow's and the drift's, the installed templates', and each
/// customer's key environment (`key_envs`).
fn expected(manager: &Manager, key_envs: &[(String, String)]) -> Vec<(String, String)> {
    let installed = crate::doctor::installed_for(manager);
    // Drift's is expected only where a workflow runs jobs in it, as
    // doctor's row says (an installed template's, below).
    let mut out: Vec<(String, String)> = crate::doctor::expected_environments(manager)
        .into_iter()
        .filter(|x| x.role != crate::doctor::Role::Drift)
        .map(|x| (x.name.clone(), format!("environment {}", x.name)))
        .collect();
    for (env, _) in installed {
        out.push((env.clone(), format!("environment {env}")));
    }
    for (env, name) in key_envs {
        out.push((name.clone(), format!("customer secrets keys for {env}")));
    }
    // A workflow that plans pull requests in impact-plan (its reviewers'
    // row says it is missing).
    if crate::doctor::impact_plan_workflow(&manager.root).is_some() {
        let name = crate::doctor::IMPACT_PLAN;
        out.push((name.to_string(), format!("reviewers {name}")));
    }
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|(name, _)| seen.insert(name.clone()));
    out
}

/// The fixes `envs` (the repository's environments) call for.
pub fn plan(expected: &[(String, String)], envs: &[EnvironmentFacts]) -> Vec<Fix> {
    expected
        .iter()
        .filter_map(|(name, row)| match envs.iter().find(|e| e.name == *name) {
            None => Some(Fix {
                row: row.clone(),
                environment: name.clone(),
                exists: false,
                current: None,
            }),
            Some(e) if e.branch_policy == BranchPolicy::Any => Some(Fix {
                row: format!("branch policy {name}"),
                environment: name.clone(),
                exists: true,
                current: Some(e.clone()),
            }),
            Some(_) => None,
        })
        .collect()
}

/// The state bucket's versioning, off (`doctor`'s row `state bucket
/// versioning`): turned on by `--fix`.
struct BucketFix {
    bucket: crate::records::state_bucket::StateBucket,
    /// `Suspended`, or `None` when it was never on.
    now: Option<String>,
}

impl BucketFix {
    fn line(&self) -> String {
        let now = match self.now.as_deref() {
            Some(s) => format!("it is {s} now"),
            None => "it was never on".into(),
        };
        format!(
            "turn on versioning of the state bucket {} ({now}): every write of a state then keeps the version it replaces; nothing is deleted  [doctor: state bucket versioning]",
            self.bucket.describe("").trim_end_matches('/')
        )
    }
}

/// The state bucket of an s3 backend, read: its versioning to turn on,
/// or what is left when it could not be read. Nothing for the local
/// backend or a bucket already versioned.
fn plan_bucket(
    manager: &Manager,
    net: &crate::net::Settings,
) -> (Option<BucketFix>, Option<String>) {
    let Some(bucket) = crate::records::state_bucket::StateBucket::for_manager(manager, net) else {
        return (None, None);
    };
    match bucket.facts() {
        Ok(f) if f.versioning.as_deref() == Some("Enabled") => (None, None),
        Ok(f) => (
            Some(BucketFix {
                bucket,
                now: f.versioning,
            }),
            None,
        ),
        Err(e) => (
            None,
            Some(format!(
                "left for you: the state bucket's versioning could not be read ({e}): give this run AWS credentials that read and set the bucket's versioning  [doctor: state bucket versioning]"
            )),
        ),
    }
}

/// Everything one run would change.
struct Changes {
    branch: String,
    environments: Vec<Fix>,
    secrets: Vec<Group>,
    /// The age identities to make (`fix_keys`).
    keys: Vec<crate::doctor::AgeKey>,
    /// The state bucket's versioning to turn on.
    bucket: Option<BucketFix>,
    settings: Vec<Setting>,
    /// What is left to the provider, said on lines of their own.
    left: Vec<String>,
}

impl Changes {
    fn count(&self) -> usize {
        self.environments.len()
            + self.secrets.len()
            + self.keys.len()
            + self.settings.len()
            + usize::from(self.bucket.is_some())
    }
}

/// `doctor --fix`: the plan, and with `apply` the changes.
pub fn run(
    settings: &Settings,
    manager_dir: &std::path::Path,
    apply: bool,
    rotate: &[String],
    cx: &Context,
) -> Result<()> {
    cx.out.mask(settings.manager_token.expose());
    let (manager, registry) = crate::config::load(manager_dir)?;
    if let Some(unknown) = rotate.iter().find(|e| manager.environment(e).is_none()) {
        return Err(Error::usage(format!(
            "--rotate-artifact-key {unknown}: fleetform.yml has no environment `{unknown}` (it has {})",
            manager.environment_names().join(", ")
        )));
    }
    let rt = crate::github::runtime()?;
    let api = GitHub::api_url_from_env();
    let (gh, _) = super::token_clients(settings, &rt, &api, cx)?;
    let repo = settings.repo.as_str();
    let (bucket, bucket_left) = plan_bucket(&manager, &cx.net);
    rt.block_on(async {
        let mut changes = changes(&gh, repo, &manager, &registry, rotate).await?;
        changes.bucket = bucket;
        changes.left.extend(bucket_left);
        for f in &changes.environments {
            cx.out.result(&f.line(&changes.branch));
        }
        for g in &changes.secrets {
            cx.out.result(&g.line());
        }
        for k in &changes.keys {
            cx.out.result(&fix_keys::line(k));
        }
        for x in &changes.settings {
            cx.out.result(&x.line());
        }
        if let Some(b) = &changes.bucket {
            cx.out.result(&b.line());
        }
        for line in &changes.left {
            cx.out.result(line);
        }
        if changes.count() == 0 {
            cx.out.result(
                "nothing to fix that fleetform can set: run `fleetform doctor` for the rest",
            );
            return Ok(());
        }
        if !apply {
            cx.out.result(&format!(
                "{} planned, nothing changed: run again with --yes to apply",
                crate::util::text::count(changes.count(), "change", "changes")
            ));
            return Ok(());
        }
        let planned = crate::util::text::count(changes.count(), "change", "changes");
        keep_intent(cx, "doctor-fix", format!("{repo}: {planned} to apply"))?;
        apply_changes(&gh, repo, &changes, &manager.root, cx).await?;
        if let Some(b) = &changes.bucket {
            b.bucket.enable_versioning().map_err(|e| {
                Error::failed(format!(
                    "{e}; every other change was applied (give this run AWS credentials that may set the bucket's versioning, and run --fix again)"
                ))
            })?;
            cx.record(
                crate::audit::Entry::now("doctor-fix", "applied")
                    .detail(format!("{repo}: {}", b.line())),
            );
            cx.out.result(&format!("done: {}", b.line()));
        }
        if !changes.keys.is_empty() {
            cx.out.result(
                "fleetform.yml now names the new keys' recipients: commit it (the keys open nothing sealed to other recipients)",
            );
        }
        Ok(())
    })
}

/// Reads what the repository has and plans the changes: nothing is
/// written.
async fn changes(
    gh: &GitHub,
    repo: &str,
    manager: &Manager,
    registry: &Registry,
    rotate: &[String],
) -> Result<Changes> {
    let info = admin_repo(gh, repo).await?;
    let envs = gh
        .environments(repo)
        .await
        .map_err(|e| Error::failed(format!("reading {repo}'s environments: {e}")))?;
    let key_envs = crate::doctor::key_environments(manager, &registry.customers);
    let expected = expected(manager, &key_envs);
    let environments = plan(&expected, &envs);
    let mut held = BTreeMap::new();
    for (name, _) in &expected {
        if envs.iter().any(|e| e.name == *name) {
            let names = gh.environment_secret_names(repo, name).await.map_err(|e| {
                Error::failed(format!("reading the secrets of {repo}'s {name}: {e}"))
            })?;
            held.insert(name.clone(), names);
        }
    }
    let drift = expected.iter().any(|(n, _)| n == crate::doctor::DRIFT);
    let installed = crate::doctor::installed_for(manager);
    let (keys, keys_left) = fix_keys::plan(manager, &installed, &held, key_envs.len());
    let (secrets, partial) = fix_secrets::plan(&fix_secrets::groups(manager, drift), &held, rotate);
    let text = |e: crate::github::GitHubError| e.to_string();
    let (mut settings, mut left) = fix_settings::plan(
        &gh.rulesets(repo).await.map_err(text),
        &gh.workflow_permissions(repo).await.map_err(text),
        info.secret_scanning,
        info.private.unwrap_or(true),
    );
    let deploy = super::deploy_workflow(&manager.root).is_some();
    let doctor = installed.iter().any(|(e, _)| e == "doctor");
    let variables = match deploy || doctor {
        true => gh
            .repo_variables(repo, &crate::doctor::PINNED_VARIABLES)
            .await
            .map_err(text),
        false => Ok(Default::default()),
    };
    let (more, more_left) = fix_settings::plan_variables(manager, (deploy, doctor), &variables);
    settings.extend(more);
    left.extend(more_left);
    // The environments as this run leaves them: what is made or
    // restricted deploys from the default branch only (what a later write
    // sends back), a new one has no reviewers yet.
    let main_only = BranchPolicy::Custom(Ok(vec![(info.default_branch.clone(), "branch".into())]));
    let mut after = envs.clone();
    for f in &environments {
        match after.iter_mut().find(|e| e.name == f.environment) {
            Some(e) => e.branch_policy = main_only.clone(),
            None => after.push(crate::doctor::facts::EnvironmentFacts {
                name: f.environment.clone(),
                required_reviewers: false,
                prevent_self_review: false,
                reviewers: Vec::new(),
                branch_policy: main_only.clone(),
            }),
        }
    }
    let approvers = match manager
        .config
        .approvals
        .values()
        .any(|r| !r.users.is_empty())
    {
        true => gh.collaborators(repo, "all").await.map_err(text),
        false => Ok(Vec::new()),
    };
    let teams = team_reviewers(gh, repo, manager).await.map_err(text);
    let (reviews, reviews_left) =
        fix_settings::plan_reviews(manager, &expected, &after, (&approvers, &teams));
    settings.extend(reviews);
    left.extend(reviews_left);
    left.splice(0..0, partial.iter().map(Partial::line).chain(keys_left));
    Ok(Changes {
        environments,
        branch: info.default_branch,
        secrets,
        keys,
        bucket: None,
        settings,
        left,
    })
}

/// The teams `approvals:` names (`org/team-slug`) that have access to
/// `repo`, each with GitHub's id, in their order; a team the token cannot
/// see or without access is left out (its reviewers' row says so).
async fn team_reviewers(
    gh: &GitHub,
    repo: &str,
    manager: &Manager,
) -> std::result::Result<Vec<(String, u64)>, crate::github::GitHubError> {
    let mut teams: Vec<&String> = manager
        .config
        .approvals
        .values()
        .flat_map(|r| r.teams.iter())
        .collect();
    teams.sort();
    teams.dedup();
    let mut out = Vec::new();
    for t in teams {
        let Some((org, slug)) = t.split_once('/') else {
            continue;
        };
        if let Some(id) = gh.team_reviewer(org, slug, repo).await? {
            out.push((t.clone(), id));
        }
    }
    Ok(out)
}

/// Applies `changes`, environments first (a secret needs its
/// environment), each one recorded; stops at the first that fails,
/// saying how many were applied before it.
async fn apply_changes(
    gh: &GitHub,
    repo: &str,
    changes: &Changes,
    root: &std::path::Path,
    cx: &Context,
) -> Result<()> {
    let total = changes.count();
    let failed = |what: &str, i: usize, e: String| {
        Error::failed(format!(
            "{what}: {e}; {i} of the {total} changes before it were applied (run --fix again for the rest)"
        ))
    };
    let done = |line: String| {
        // Which setting changed, by whom, is kept as every other change
        // fleetform makes.
        cx.record(
            crate::audit::Entry::now("doctor-fix", "applied").detail(format!("{repo}: {line}")),
        );
        cx.out.result(&format!("done: {line}"));
    };
    let branch = &changes.branch;
    for (i, f) in changes.environments.iter().enumerate() {
        let made = async {
            gh.custom_branch_environment(repo, &f.environment, f.current.as_ref())
                .await?;
            match gh.add_branch_policy(repo, &f.environment, branch).await {
                // Already there: the environment had it.
                Err(e) if e.status() == Some(303) => Ok(()),
                other => other,
            }
        };
        made.await
            .map_err(|e| failed(&f.environment, i, e.to_string()))?;
        done(f.line(branch));
    }
    let before = changes.environments.len();
    for (i, g) in changes.secrets.iter().enumerate() {
        let value = crate::github::random_secret().map_err(|e| failed(g.secret, before + i, e))?;
        for (env, _) in &g.environments {
            gh.store_environment_secret(repo, env, g.secret, &value)
                .await
                .map_err(|e| {
                    failed(&format!("{} in {env}", g.secret), before + i, e.to_string())
                })?;
        }
        done(g.line());
    }
    let before = before + changes.secrets.len();
    let mut recipients = Vec::new();
    for (i, k) in changes.keys.iter().enumerate() {
        fix_keys::store(gh, repo, k, &mut recipients)
            .await
            .map_err(|e| failed(k.secret, before + i, e))?;
        done(fix_keys::line(k));
    }
    if !recipients.is_empty() {
        fix_keys::write_recipients(root, &recipients)?;
    }
    let before = before + changes.keys.len();
    for (i, x) in changes.settings.iter().enumerate() {
        let set = apply_setting(gh, repo, x).await;
        if let (Setting::Reviewers { .. }, Err(e)) = (x, &set) {
            if e.status() == Some(422) {
                cx.out.warn(&format!(
                    "not set: {}: GitHub refused it ({e}); on a private repository required reviewers need GitHub Enterprise",
                    x.line()
                ));
                continue;
            }
        }
        set.map_err(|e| failed(&x.line(), before + i, e.to_string()))?;
        done(x.line());
    }
    Ok(())
}

/// Makes one repository setting.
async fn apply_setting(
    gh: &GitHub,
    repo: &str,
    x: &Setting,
) -> std::result::Result<(), crate::github::GitHubError> {
    match x {
        Setting::Ruleset { target } => {
            gh.create_lock_ruleset(repo, &fix_settings::ruleset_name(target), target)
                .await
        }
        Setting::WorkflowPermissions => gh.restrict_workflow_permissions(repo).await,
        Setting::SecretScanning => gh.enable_secret_scanning(repo).await,
        Setting::PreventSelfReview {
            environment,
            reviewers,
            policy,
            ..
        }
        | Setting::Reviewers {
            environment,
            reviewers,
            policy,
            ..
        } => {
            gh.prevent_self_review(repo, environment, reviewers, policy)
                .await
        }
        Setting::Variable {
            name, value, now, ..
        } => gh.set_repo_variable(repo, name, value, now.is_some()).await,
    }
}

/// Keeps the intent of a run about to change the manager repo in the
/// audit log first, or refuses before anything is changed: every change
/// it then makes is recorded too, and a log that cannot keep the first
/// would not keep those.
pub(super) fn keep_intent(cx: &Context, action: &str, detail: String) -> Result<()> {
    cx.keep(crate::audit::Entry::now(action, "started").detail(detail))
        .map_err(|e| {
            Error::refused(format!(
                "{e}: nothing was changed; every change doctor makes is recorded (give this run what writes the records, e.g. AWS credentials for the records bucket)"
            ))
        })
}

/// The repository's default branch and flags, once GitHub's answer says
/// the token may administer it; refused before anything is written
/// otherwise.
pub(super) async fn admin_repo(gh: &GitHub, repo: &str) -> Result<crate::github::RepoInfo> {
    use crate::github::NotAdmin;
    gh.administered(repo).await.map_err(|e| match e {
        NotAdmin::Failed { .. } => Error::failed(e.to_string()),
        NotAdmin::NoAdmin { .. } => Error::refused(format!(
            "{e}: doctor --fix sets environments, their secrets, rulesets and repository settings, which needs Administration write; run it with a repository admin's token, for this run only (FLEETFORM_MANAGER_TOKEN)"
        )),
        other => Error::refused(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str, policy: BranchPolicy) -> EnvironmentFacts {
        EnvironmentFacts {
            name: name.into(),
            required_reviewers: false,
            prevent_self_review: false,
            reviewers: Vec::new(),
            branch_policy: policy,
        }
    }

    #[test]
    fn missing_environments_are_created_and_open_ones_restricted_nothing_else() {
        let expected = vec![
            (
                "staging-plan".to_string(),
                "environment staging-plan".to_string(),
            ),
            (
                "staging-apply".to_string(),
                "environment staging-apply".to_string(),
            ),
            ("drift".to_string(), "environment drift".to_string()),
        ];
        let envs = [
            env("staging-plan", BranchPolicy::Any),
            env(
                "drift",
                BranchPolicy::Custom(Ok(vec![("main".into(), "branch".into())])),
            ),
        ];
        let fixes = plan(&expected, &envs);
        assert_eq!(
            fixes,
            [
                Fix {
                    row: "branch policy staging-plan".into(),
                    environment: "staging-plan".into(),
                    exists: true,
                    current: Some(envs[0].clone()),
                },
                Fix {
                    row: "environment staging-apply".into(),
                    environment: "staging-apply".into(),
                    exists: false,
                    current: None,
                },
            ]
        );
        assert!(fixes[1]
            .line("main")
            .ends_with("[doctor: environment staging-apply]"));
    }
}
