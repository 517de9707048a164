//! A customer's inbox repo (`workflows/inbox-relay.yml`, named with
//! `doctor --inbox`): what its template's header asks. The environment
//! `fleetform-inbox` exists with a deployment branch policy of the default
//! branch only and holds `MANAGER_RELAY_TOKEN`, which is no repository
//! secret (anyone with write access reads those from a workflow on any
//! branch); the variable `MANAGER_REPO` names this manager; and an active
//! ruleset keeps the default branch from being created, updated or
//! deleted. Each row's `what` ends with the inbox repo, `(owner/name)`.

use super::facts::{InboxFacts, Ruleset};
use super::manager::{
    branch_policy_check, no_repository_secrets, restricted, restricting, secrets_check,
};
use super::{Check, Level};

/// The environment the relay job runs in.
pub const INBOX_ENVIRONMENT: &str = "fleetform-inbox";
/// The provider's token the relay sends the dispatch on with.
pub const RELAY_TOKEN: &str = "MANAGER_RELAY_TOKEN";
/// The variable naming the manager repo.
pub const MANAGER_REPO: &str = "MANAGER_REPO";

/// Every row of one inbox repo, `manager` the manager repo (owner/name).
pub fn inbox_checks(manager: &str, facts: &InboxFacts) -> Vec<Check> {
    let repo = facts.repo.as_str();
    let mut out = vec![match &facts.default_branch {
        Ok(b) => Check::pass(
            Level::Must,
            format!("inbox repo {repo}"),
            format!("default branch `{b}`"),
        ),
        Err(e) => Check::unknown(
            Level::Must,
            format!("inbox repo {repo}"),
            e,
            "check --inbox and that doctor's manager token can read the inbox repo's settings",
        ),
    }];
    out.extend(environment_rows(facts));
    out.push(no_repository_secrets(
        &format!("repository secrets ({repo})"),
        &[RELAY_TOKEN],
        &facts.repo_secrets,
    ));
    out.push(manager_repo_check(manager, facts));
    out.push(ruleset_check(facts));
    out
}

/// `fleetform-inbox`: it exists, its branch policy, its secret.
fn environment_rows(facts: &InboxFacts) -> Vec<Check> {
    let repo = &facts.repo;
    let what = format!("environment {INBOX_ENVIRONMENT} ({repo})");
    let envs = match &facts.environments {
        Ok(envs) => envs,
        Err(e) => {
            let fix = "give doctor's manager token read access to the inbox repo's environments";
            return vec![Check::unknown(Level::Must, what, e, fix)];
        }
    };
    let Some(env) = envs.iter().find(|e| e.name == INBOX_ENVIRONMENT) else {
        return vec![Check::not_met(
            Level::Must,
            what,
            "missing (the relay's job runs in it)",
            format!("in {repo}: Settings → Environments → New environment `{INBOX_ENVIRONMENT}`, with a deployment branch policy of the default branch only and the environment secret {RELAY_TOKEN} (the header of inbox-relay.yml)"),
        )];
    };
    let mut policy = branch_policy_check(Level::Must, env, &facts.default_branch);
    policy.what = format!("{} ({repo})", policy.what);
    if !policy.fix.is_empty() {
        policy.found = format!("{} (it holds {RELAY_TOKEN})", policy.found);
    }
    let mut secrets = secrets_check(
        INBOX_ENVIRONMENT,
        &[RELAY_TOKEN],
        Level::Must,
        facts.environment_secrets.as_ref(),
    );
    secrets.what = format!("{} ({repo})", secrets.what);
    vec![Check::pass(Level::Must, what, "exists"), policy, secrets]
}

/// `vars.MANAGER_REPO` in `fleetform-inbox` names the manager repo.
fn manager_repo_check(manager: &str, facts: &InboxFacts) -> Check {
    let what = format!("variable {MANAGER_REPO} ({})", facts.repo);
    let fix = format!(
        "in {}: Settings → Secrets and variables → Actions → Variables (of the repository, or of the environment {INBOX_ENVIRONMENT}): {MANAGER_REPO} = {manager}",
        facts.repo
    );
    match &facts.manager_repo {
        Err(e) => Check::unknown(Level::Must, what, e, &fix),
        Ok(None) => Check::not_met(Level::Must, what, "not set", fix),
        Ok(Some(v)) if v.eq_ignore_ascii_case(manager) => Check::pass(Level::Must, what, v.clone()),
        Ok(Some(v)) => Check::not_met(
            Level::Must,
            what,
            format!("`{v}`, not this manager ({manager})"),
            fix,
        ),
    }
}

/// An active branch ruleset on the default branch restricts its creation,
/// update and deletion.
fn ruleset_check(facts: &InboxFacts) -> Check {
    let what = format!("ruleset on the default branch ({})", facts.repo);
    let fix = format!(
        "in {}: Settings → Rules → Rulesets → New branch ruleset: enforcement Active, target the default branch, rules \"Restrict creations\", \"Restrict updates\", \"Restrict deletions\"; bypass only the provider's admins or app",
        facts.repo
    );
    let rulesets = match &facts.rulesets {
        Ok(r) => r,
        Err(e) => return Check::unknown(Level::Must, what, e, &fix),
    };
    let default = facts.default_branch.as_ref().ok();
    let covers = |r: &Ruleset| {
        r.target == "branch"
            && r.include.iter().any(|i| {
                matches!(i.as_str(), "~ALL" | "~DEFAULT_BRANCH" | "refs/heads/**")
                    || default.is_some_and(|b| *i == format!("refs/heads/{b}"))
            })
    };
    let (covering, missing) = restricting(rulesets, covers);
    let branch = default.map_or("the default branch".to_string(), |b| format!("`{b}`"));
    if missing.is_empty() {
        return restricted(what, &format!(" of {branch}"), &covering);
    }
    if let Err(e) = &facts.default_branch {
        // A ruleset naming the branch may cover it.
        return Check::unknown(Level::Must, what, e, &fix);
    }
    Check::not_met(
        Level::Must,
        what,
        format!(
            "no active ruleset on {branch} restricts {} (the customer may push to the branch {RELAY_TOKEN} is released to)",
            missing.join(", ")
        ),
        fix,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::facts::{BranchPolicy, EnvironmentFacts};
    use crate::doctor::Verdict::{Fail, Pass, Unknown};

    fn names(n: &[&str]) -> Result<Vec<String>, String> {
        Ok(n.iter().map(|s| s.to_string()).collect())
    }

    fn well_set() -> InboxFacts {
        InboxFacts {
            repo: "provider/inbox-acme".into(),
            default_branch: Ok("main".into()),
            environments: Ok(vec![EnvironmentFacts {
                name: INBOX_ENVIRONMENT.into(),
                required_reviewers: false,
                prevent_self_review: false,
                reviewers: Vec::new(),
                branch_policy: BranchPolicy::Custom(Ok(vec![("main".into(), "branch".into())])),
            }]),
            repo_secrets: names(&["OTHER"]),
            environment_secrets: Some(names(&[RELAY_TOKEN])),
            manager_repo: Ok(Some("provider/manager".into())),
            rulesets: Ok(vec![Ruleset {
                name: "lock main".into(),
                target: "branch".into(),
                enforcement: "active".into(),
                include: vec!["~DEFAULT_BRANCH".into()],
                rules: vec!["creation".into(), "update".into(), "deletion".into()],
            }]),
        }
    }

    fn result(facts: &InboxFacts, what: &str) -> crate::doctor::Verdict {
        let checks = inbox_checks("provider/manager", facts);
        let what = format!("{what} (provider/inbox-acme)");
        checks
            .iter()
            .find(|c| c.what == what)
            .unwrap_or_else(|| panic!("no {what}: {checks:#?}"))
            .result
    }

    #[test]
    fn a_well_set_inbox_passes_every_row() {
        let checks = inbox_checks("provider/manager", &well_set());
        assert_eq!(checks.len(), 7, "{checks:#?}");
        assert!(checks.iter().all(|c| c.result == Pass), "{checks:#?}");
    }

    #[test]
    fn each_setting_the_header_asks_for_is_checked() {
        let mut f = well_set();
        f.repo_secrets = names(&[RELAY_TOKEN]);
        assert_eq!(result(&f, "repository secrets"), Fail);
        let mut f = well_set();
        f.manager_repo = Ok(Some("someone/else".into()));
        assert_eq!(result(&f, "variable MANAGER_REPO"), Fail);
        f.manager_repo = Ok(None);
        assert_eq!(result(&f, "variable MANAGER_REPO"), Fail);
        let mut f = well_set();
        f.rulesets = Ok(vec![Ruleset {
            include: vec!["refs/heads/release".into()],
            ..f.rulesets.unwrap()[0].clone()
        }]);
        assert_eq!(result(&f, "ruleset on the default branch"), Fail);
        let mut f = well_set();
        f.environment_secrets = Some(names(&[]));
        assert_eq!(result(&f, "secrets fleetform-inbox"), Fail);
        let mut f = well_set();
        f.default_branch = Err("500".into());
        f.rulesets = Ok(Vec::new());
        assert_eq!(result(&f, "ruleset on the default branch"), Unknown);
        assert_eq!(result(&f, "branch policy fleetform-inbox"), Unknown);
    }
}
