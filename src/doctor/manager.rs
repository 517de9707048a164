//! The manager repo's settings against "What you must configure" in
//! SECURITY.md: its environments (the deploy and drift workflows'; the
//! other templates' are `templates`'), who reviews applies, which
//! branches may deploy, where the credentials live, the rulesets and the
//! default permissions of `GITHUB_TOKEN`.

use crate::config::Manager;

use super::facts::{BranchPolicy, EnvironmentFacts, ManagerFacts, Ruleset, WorkflowPermissions};
use super::{Check, Level};

/// The environment every dispatch is authorised in (`manager-deploy.yml`).
pub const AUTHORISE: &str = "fleetform-authorise";
/// The drift workflow's environment; checked only when it exists.
pub const DRIFT: &str = "drift";

/// What every plan and apply environment holds: the customer App's key
/// (each job mints a token for the dispatching customer's repository
/// alone), the dispatch secret and the artifact key.
pub const PLAN_AND_APPLY: [&str; 3] = [
    "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
    "FLEETFORM_DISPATCH_SECRET",
    "FLEETFORM_ARTIFACT_KEY",
];

/// What a GitHub environment of the manager is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Authorise,
    Plan,
    /// Apply, with whether fleetform.yml says `auto_apply: true`.
    Apply {
        auto_apply: bool,
    },
    Drift,
}

/// A GitHub environment the workflow templates run jobs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub name: String,
    /// The fleetform environment (`production`) of a plan or apply one.
    pub environment: Option<String>,
    pub role: Role,
}

/// `fleetform-authorise`, every `<env>-plan` and `<env>-apply` (as named
/// in fleetform.yml), and `drift`.
pub fn expected_environments(manager: &Manager) -> Vec<Expected> {
    let mut out = vec![Expected {
        name: AUTHORISE.into(),
        environment: None,
        role: Role::Authorise,
    }];
    for e in &manager.config.environments {
        out.push(Expected {
            name: e.plan_environment(),
            environment: Some(e.name.clone()),
            role: Role::Plan,
        });
        out.push(Expected {
            name: e.apply_environment(),
            environment: Some(e.name.clone()),
            role: Role::Apply {
                auto_apply: e.auto_apply,
            },
        });
    }
    out.push(Expected {
        name: DRIFT.into(),
        environment: None,
        role: Role::Drift,
    });
    out
}

/// The secrets a job in an environment of this role reads
/// (`workflows/manager-deploy.yml`, `manager-drift.yml`).
pub fn secrets_needed(role: Role) -> &'static [&'static str] {
    match role {
        Role::Authorise => &[
            "FLEETFORM_DISPATCH_SECRET",
            "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
        ],
        Role::Plan | Role::Apply { .. } => &PLAN_AND_APPLY,
        // The artifact secret seals the drift shards' ETag cache.
        Role::Drift => &[
            "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
            "FLEETFORM_ARTIFACT_KEY",
        ],
    }
}

/// Every check of the manager repo, in checklist order.
pub fn manager_checks(manager: &Manager, facts: &ManagerFacts) -> Vec<Check> {
    let what = format!("manager repo {}", facts.repo);
    let mut out = vec![match &facts.default_branch {
        Ok(b) => Check::pass(Level::Must, what, format!("default branch `{b}`")),
        Err(e) => Check::unknown(
            Level::Must,
            what,
            e,
            "check --repo (or GITHUB_REPOSITORY) and that the token can read the repo",
        ),
    }];
    match &facts.environments {
        Err(e) => out.push(Check::unknown(
            Level::Must,
            "environments",
            e,
            "give the doctor's token read access to the manager repo's environments",
        )),
        Ok(envs) => {
            for x in expected_environments(manager) {
                let found = envs.iter().find(|e| e.name == x.name);
                environment_checks(manager, facts, &x, found, &mut out);
            }
        }
    }
    out.push(repo_secrets_check(&facts.repo_secrets));
    out.extend(ruleset_checks(&facts.rulesets));
    out.extend(workflow_checks(&facts.workflow_permissions));
    out.push(super::manager_scanning_check(
        &facts.secret_scanning,
        &facts.private,
    ));
    out
}

fn environment_checks(
    manager: &Manager,
    facts: &ManagerFacts,
    x: &Expected,
    found: Option<&EnvironmentFacts>,
    out: &mut Vec<Check>,
) {
    let what = format!("environment {}", x.name);
    let Some(env) = found else {
        let fix = format!(
            "create it: Settings → Environments → New environment `{}`",
            x.name
        );
        let installed = facts.installed.iter().find(|(e, _)| *e == x.name);
        match (x.role, installed) {
            // Drift's: expected where a workflow runs jobs in it.
            (Role::Drift, None) => {}
            (Role::Drift, Some((_, path))) => out.push(Check::not_met(
                Level::Should,
                what,
                format!("missing ({path} runs jobs in it)"),
                fix,
            )),
            _ => out.push(Check::not_met(Level::Must, what, "missing", fix)),
        }
        return;
    };
    out.push(Check::pass(Level::Must, what, "exists"));
    if let Role::Apply { auto_apply } = x.role {
        let env_name = x.environment.as_deref().unwrap_or_default();
        out.extend(reviewer_checks(manager, env_name, auto_apply, env));
    }
    // Every one of these holds what lets a workflow of any branch act as
    // the manager: the dispatch secret and the artifact key (authorise,
    // plan, apply), the customer repos' token or App key, the secrets
    // identities (plan, drift). Environment secrets with a branch policy
    // are GitHub's only restriction of who reads them (FACTS: "anyone
    // with write access can read every repository secret"), so the policy
    // is a must wherever the environment is, not only for applies.
    out.push(branch_policy_check(Level::Must, env, &facts.default_branch));
    let secrets = facts
        .environment_secrets
        .iter()
        .find(|(n, _)| *n == env.name)
        .map(|(_, s)| s);
    out.push(environment_secrets_check(&env.name, x.role, secrets));
}

/// Required reviewers on `<env>-apply`, or fleetform approvals for `env`:
/// which of them holds.
fn reviewer_checks(
    manager: &Manager,
    env: &str,
    auto_apply: bool,
    facts: &EnvironmentFacts,
) -> Vec<Check> {
    let what = format!("reviewers {}", facts.name);
    let approvals = manager.approval_rule(env).map(|r| {
        format!(
            "fleetform approvals (`approvals.{env}`: {} of {}, {})",
            r.required,
            crate::util::text::count(r.users.len(), "user", "users"),
            crate::util::text::count(r.teams.len(), "team", "teams")
        )
    });
    let mut out = Vec::new();
    let found = match (facts.required_reviewers, approvals) {
        (true, Some(a)) => format!("required reviewers and {a}"),
        (true, None) => "required reviewers".to_string(),
        (false, Some(a)) => a,
        (false, None) if auto_apply => {
            out.push(Check::warn(
                Level::Should,
                what,
                format!("no required reviewers and no `approvals.{env}`; `auto_apply: true` applies unreviewed"),
                "add required reviewers, or `approvals:` for it in fleetform.yml, unless unreviewed applies are meant",
            ));
            return out;
        }
        (false, None) => {
            out.push(Check::not_met(
                Level::Must,
                what,
                format!("no required reviewers and no `approvals.{env}` in fleetform.yml"),
                format!("Settings → Environments → {} → Required reviewers (with \"Prevent self-review\"), or `approvals: {env}:` in fleetform.yml", facts.name),
            ));
            return out;
        }
    };
    out.push(Check::pass(Level::Must, what, found));
    if facts.required_reviewers && !facts.prevent_self_review {
        out.push(Check::not_met(
            Level::Should,
            format!("self-review {}", facts.name),
            "a reviewer may approve their own run",
            format!(
                "Settings → Environments → {} → tick \"Prevent self-review\"",
                facts.name
            ),
        ));
    }
    out
}

pub(super) fn branch_policy_check(
    level: Level,
    env: &EnvironmentFacts,
    default_branch: &Result<String, String>,
) -> Check {
    let what = format!("branch policy {}", env.name);
    let fix = |b: &str| {
        format!(
            "Settings → Environments → {} → Deployment branches and tags → Selected branches: only `{b}`",
            env.name
        )
    };
    let branch = default_branch.as_deref().unwrap_or("the default branch");
    match &env.branch_policy {
        BranchPolicy::Any => Check::not_met(level, what, "every branch may deploy", fix(branch)),
        BranchPolicy::ProtectedBranches => Check::pass(
            level,
            what,
            "protected branches only (keep the default branch the only protected one)",
        ),
        BranchPolicy::Custom(Err(e)) => Check::unknown(level, what, e, &fix(branch)),
        BranchPolicy::Custom(Ok(policies)) => {
            let Ok(default) = default_branch else {
                let e = default_branch.as_ref().err().cloned().unwrap_or_default();
                return Check::unknown(level, what, &e, &fix(branch));
            };
            let others: Vec<String> = policies
                .iter()
                .filter(|(name, kind)| !(kind == "branch" && name == default))
                .map(|(name, kind)| format!("{kind} `{name}`"))
                .collect();
            if policies.is_empty() {
                Check::not_met(level, what, "no branch may deploy", fix(default))
            } else if others.is_empty() {
                Check::pass(level, what, format!("only `{default}`"))
            } else {
                let found = format!("also {}", others.join(", "));
                Check::not_met(level, what, found, fix(default))
            }
        }
    }
}

fn environment_secrets_check(
    env: &str,
    role: Role,
    secrets: Option<&Result<Vec<String>, String>>,
) -> Check {
    let level = match role {
        Role::Drift => Level::Should,
        _ => Level::Must,
    };
    secrets_check(env, secrets_needed(role), level, secrets)
}

/// The environment secrets `needed` in `env` (as `GET …/secrets` named
/// them).
pub(super) fn secrets_check(
    env: &str,
    needed: &[&str],
    level: Level,
    secrets: Option<&Result<Vec<String>, String>>,
) -> Check {
    let what = format!("secrets {env}");
    let fix = |names: &[&str]| {
        format!(
            "Settings → Environments → {env} → Environment secrets: add {}",
            names.join(", ")
        )
    };
    match secrets {
        None => Check::unknown(level, what, "not read", &fix(needed)),
        Some(Err(e)) => Check::unknown(level, what, e, &fix(needed)),
        Some(Ok(names)) => {
            let missing: Vec<&str> = needed
                .iter()
                .copied()
                .filter(|n| !names.iter().any(|have| have == n))
                .collect();
            if missing.is_empty() {
                Check::pass(level, what, needed.join(", "))
            } else {
                Check::not_met(
                    level,
                    what,
                    format!("missing {}", missing.join(", ")),
                    fix(&missing),
                )
            }
        }
    }
}

/// No repository secret holds one of fleetform's own credentials: every
/// variable fleetform reads a credential from (`util::credentials`, the
/// one list: tokens, the Apps' keys, the dispatch and artifact secrets,
/// every secrets identity, `FLEETFORM_SECRETS_KEY_<SLUG>` included), and
/// the secrets the templates hand them from under other names.
fn repo_secrets_check(secrets: &Result<Vec<String>, String>) -> Check {
    let held: Vec<&str> = match secrets {
        Ok(names) => names
            .iter()
            .map(String::as_str)
            .filter(|n| {
                TEMPLATE_SECRET_NAMES.contains(n)
                    || crate::util::credentials::credential(n).is_some_and(|c| !c.for_children)
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    no_repository_secrets("repository secrets", &held, secrets)
}

/// Secrets the templates keep under a name of their own and hand to
/// fleetform as one of its variables (`FLEETFORM_DOCTOR_TOKEN` →
/// `FLEETFORM_MANAGER_TOKEN`).
const TEMPLATE_SECRET_NAMES: [&str; 1] = ["FLEETFORM_DOCTOR_TOKEN"];

/// None of `credentials` is a repository secret (one is readable by a
/// workflow on any branch, so by anyone who can push one).
pub(super) fn no_repository_secrets(
    what: &str,
    credentials: &[&str],
    secrets: &Result<Vec<String>, String>,
) -> Check {
    let fix = "delete them from Settings → Secrets and variables → Actions → Repository secrets; keep them only as environment secrets";
    match secrets {
        Err(e) => Check::unknown(Level::Must, what, e, fix),
        Ok(names) => {
            let wrong: Vec<&str> = credentials
                .iter()
                .copied()
                .filter(|c| names.iter().any(|n| n == c))
                .collect();
            if wrong.is_empty() {
                Check::pass(
                    Level::Must,
                    what,
                    "no fleetform credential is a repository secret",
                )
            } else {
                Check::not_met(
                    Level::Must,
                    what,
                    format!(
                        "{} readable by every workflow on every branch",
                        wrong.join(", ")
                    ),
                    fix,
                )
            }
        }
    }
}

/// The ref patterns a ruleset must include to cover every branch or tag.
fn covers_every_ref(r: &Ruleset) -> bool {
    let all = match r.target.as_str() {
        "branch" => "refs/heads/**",
        "tag" => "refs/tags/**",
        _ => return false,
    };
    r.include.iter().any(|i| i == "~ALL" || i == all)
}

/// The active rulesets `covers` accepts, and which of creation, update
/// and deletion none of them restricts.
pub(super) fn restricting(
    rulesets: &[Ruleset],
    covers: impl Fn(&Ruleset) -> bool,
) -> (Vec<&Ruleset>, Vec<&'static str>) {
    let covering: Vec<&Ruleset> = rulesets
        .iter()
        .filter(|r| r.enforcement == "active" && covers(r))
        .collect();
    let missing = ["creation", "update", "deletion"]
        .into_iter()
        .filter(|rule| !covering.iter().any(|r| r.rules.iter().any(|x| x == rule)))
        .collect();
    (covering, missing)
}

/// The pass of a ruleset check: creation, update and deletion (`of` the
/// refs named, or every one) restricted by the `covering` rulesets.
pub(super) fn restricted(what: impl Into<String>, of: &str, covering: &[&Ruleset]) -> Check {
    let names: Vec<&str> = covering.iter().map(|r| r.name.as_str()).collect();
    Check::pass(
        Level::Must,
        what,
        format!(
            "creation, update and deletion{of} restricted ({})",
            names.join(", ")
        ),
    )
}

/// The kinds of ref (`branch`, `tag`) no active ruleset on every one
/// of them restricts the creation, update and deletion of: what the
/// rows `rulesets (branches)` and `rulesets (tags)` fail for.
pub fn unlocked_ref_kinds(rulesets: &[Ruleset]) -> Vec<&'static str> {
    ["branch", "tag"]
        .into_iter()
        .filter(|target| {
            !restricting(rulesets, |r| r.target == *target && covers_every_ref(r))
                .1
                .is_empty()
        })
        .collect()
}

/// Active rulesets that restrict creating, updating and deleting every
/// branch, and every tag.
fn ruleset_checks(rulesets: &Result<Vec<Ruleset>, String>) -> Vec<Check> {
    let fix = |t: &str| {
        let all = if t == "branch" {
            "All branches"
        } else {
            "All tags"
        };
        format!("Settings → Rules → Rulesets → New {t} ruleset: enforcement Active, target {all}, rules \"Restrict creations\", \"Restrict updates\", \"Restrict deletions\"; bypass only the provider's admins or app")
    };
    let rulesets = match rulesets {
        Ok(r) => r,
        Err(e) => return vec![Check::unknown(Level::Must, "rulesets", e, &fix("branch"))],
    };
    ["branch", "tag"]
        .into_iter()
        .map(|target| {
            let what = if target == "branch" {
                "rulesets (branches)"
            } else {
                "rulesets (tags)"
            };
            let (covering, missing) =
                restricting(rulesets, |r| r.target == target && covers_every_ref(r));
            if missing.is_empty() {
                return restricted(what, "", &covering);
            }
            let inactive = rulesets
                .iter()
                .filter(|r| r.target == target && r.enforcement != "active")
                .count();
            let mut found = format!(
                "no active ruleset on every {target} restricts {}",
                missing.join(", ")
            );
            if inactive > 0 {
                found.push_str(&format!(
                    " ({} not active)",
                    crate::util::text::count(inactive, "ruleset", "rulesets")
                ));
            }
            Check::not_met(Level::Must, what, found, fix(target))
        })
        .collect()
}

fn workflow_checks(p: &Result<WorkflowPermissions, String>) -> Vec<Check> {
    let fix = "Settings → Actions → General → Workflow permissions: \"Read repository contents and packages permissions\", and untick \"Allow GitHub Actions to create and approve pull requests\"";
    let p = match p {
        Ok(p) => p,
        Err(e) => return vec![Check::unknown(Level::Must, "workflow permissions", e, fix)],
    };
    let default = if p.default == "read" {
        Check::pass(
            Level::Must,
            "workflow permissions",
            "GITHUB_TOKEN reads by default",
        )
    } else {
        Check::not_met(
            Level::Must,
            "workflow permissions",
            format!("GITHUB_TOKEN gets `{}` by default", p.default),
            fix,
        )
    };
    let approve = if p.can_approve_pull_request_reviews {
        Check::not_met(
            Level::Should,
            "workflow approvals",
            "GitHub Actions may approve pull requests",
            fix,
        )
    } else {
        Check::pass(
            Level::Should,
            "workflow approvals",
            "GitHub Actions cannot approve pull requests",
        )
    };
    vec![default, approve]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Verdict;

    fn env(policy: BranchPolicy) -> EnvironmentFacts {
        EnvironmentFacts {
            name: "production-apply".into(),
            required_reviewers: true,
            prevent_self_review: true,
            reviewers: Vec::new(),
            branch_policy: policy,
        }
    }

    #[test]
    fn only_the_default_branch_may_deploy() {
        let main = Ok("main".to_string());
        let custom = |p: &[(&str, &str)]| {
            BranchPolicy::Custom(Ok(p
                .iter()
                .map(|(n, t)| (n.to_string(), t.to_string()))
                .collect()))
        };
        let check = |p| branch_policy_check(Level::Must, &env(p), &main);
        assert_eq!(check(custom(&[("main", "branch")])).result, Verdict::Pass);
        assert_eq!(check(BranchPolicy::ProtectedBranches).result, Verdict::Pass);
        let c = check(custom(&[
            ("main", "branch"),
            ("release/*", "branch"),
            ("v*", "tag"),
        ]));
        assert_eq!(c.result, Verdict::Fail);
        assert_eq!(c.found, "also branch `release/*`, tag `v*`");
        assert_eq!(check(custom(&[])).result, Verdict::Fail);
        assert_eq!(check(BranchPolicy::Any).result, Verdict::Fail);
        let c = check(BranchPolicy::Custom(Err("403".into())));
        assert_eq!(c.result, Verdict::Unknown);
        assert!(c.found.starts_with("could not check: 403"));
        let should = branch_policy_check(Level::Should, &env(BranchPolicy::Any), &main);
        assert_eq!(should.result, Verdict::Warn);
    }

    #[test]
    fn rulesets_count_when_active_on_every_ref() {
        let r = |target: &str, include: &str, rules: &[&str]| Ruleset {
            name: "r".into(),
            target: target.into(),
            enforcement: "active".into(),
            include: vec![include.into()],
            rules: rules.iter().map(|s| s.to_string()).collect(),
        };
        let all = ["creation", "update", "deletion"];
        let checks = ruleset_checks(&Ok(vec![
            r("branch", "~ALL", &["creation", "update"]),
            r("branch", "refs/heads/**", &["deletion"]),
            r("tag", "refs/tags/v*", &all),
        ]));
        assert_eq!(checks[0].result, Verdict::Pass, "{:?}", checks[0]);
        assert_eq!(checks[1].result, Verdict::Fail);
        assert!(checks[1].found.contains("creation, update, deletion"));
    }

    #[test]
    fn credentials_are_never_repository_secrets() {
        let c = repo_secrets_check(&Ok(vec!["OTHER".into(), "FLEETFORM_ARTIFACT_KEY".into()]));
        assert_eq!(c.result, Verdict::Fail);
        assert!(c.found.starts_with("FLEETFORM_ARTIFACT_KEY readable"));
        assert_eq!(
            repo_secrets_check(&Ok(vec!["OTHER".into()])).result,
            Verdict::Pass
        );
    }

    #[test]
    fn the_drift_environment_should_hold_the_key_of_its_etag_cache() {
        let names = |n: &[&str]| Ok(n.iter().map(|s| s.to_string()).collect());
        let c = environment_secrets_check(
            "drift",
            Role::Drift,
            Some(&names(&["FLEETFORM_CUSTOMER_APP_PRIVATE_KEY"])),
        );
        assert_eq!(c.result, Verdict::Warn);
        assert_eq!(c.found, "missing FLEETFORM_ARTIFACT_KEY");
        let both = names(&[
            "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
            "FLEETFORM_ARTIFACT_KEY",
        ]);
        let c = environment_secrets_check("drift", Role::Drift, Some(&both));
        assert_eq!(c.result, Verdict::Pass);
    }
}
