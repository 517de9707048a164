//! The environments fleetform's other workflow templates run jobs in,
//! beside the deploy workflow's (`fleetform-authorise`, `<env>-plan`,
//! `<env>-apply`) and drift's (`drift`), which `manager` checks: what
//! each holds, the secrets and variables its jobs read, its deployment
//! branch policy and, where its jobs change infrastructure, its reviewers.
//!
//! An environment is expected when a file of the manager's
//! `.github/workflows/` runs a job in it (the template was installed), and
//! checked whenever it exists. `impact-plan` has its own row
//! (`impact_plan`: its reviewers; a branch policy cannot hold a pull
//! request's branch), and `fleetform-inbox` lives in each customer's inbox
//! repo, which the manager does not name: `inbox` checks the ones named
//! with `doctor --inbox`.

use crate::config::{Manager, Records};

use super::facts::{EnvironmentFacts, Fetched, ManagerFacts};
use super::manager::{branch_policy_check, secrets_check};
use super::{Check, Level};

/// An environment a template runs jobs in, and what they need there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateEnvironment {
    pub name: &'static str,
    /// The template (in fleetform's `workflows/`).
    pub template: &'static str,
    /// What a job there holds, for the branch policy's row.
    pub holds: &'static str,
    /// Environment secrets its jobs read.
    pub secrets: &'static [&'static str],
    /// Variables its jobs read (repository or environment variables).
    pub variables: &'static [&'static str],
    /// The records role its jobs assume when the records store is a
    /// bucket (with `FLEETFORM_RECORDS_REGION`).
    pub records_role: Option<&'static str>,
    /// Its jobs change infrastructure: required reviewers.
    pub reviewers: bool,
    /// How much its branch policy and secrets matter.
    pub level: Level,
}

const WRITE_ROLE: &str = "FLEETFORM_RECORDS_WRITE_ROLE";
const READ_ROLE: &str = "FLEETFORM_RECORDS_READ_ROLE";
const REGION: &str = "FLEETFORM_RECORDS_REGION";

/// Every environment of the templates that `manager` does not check.
pub const TEMPLATE_ENVIRONMENTS: [TemplateEnvironment; 7] = [
    TemplateEnvironment {
        name: "poll",
        template: "manager-poll.yml",
        holds: "both GitHub Apps' private keys",
        secrets: &[
            "FLEETFORM_MANAGER_APP_PRIVATE_KEY",
            "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
            "FLEETFORM_ARTIFACT_KEY",
        ],
        variables: &["FLEETFORM_MANAGER_APP_ID", "FLEETFORM_CUSTOMER_APP_ID"],
        records_role: None,
        reviewers: false,
        level: Level::Must,
    },
    TemplateEnvironment {
        name: "fleetform-rollout",
        template: "manager-rollout.yml",
        holds: "the teams token and the customer App's key (deployments on the customer repos)",
        secrets: &[
            "FLEETFORM_TEAMS_TOKEN",
            "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
        ],
        variables: &["FLEETFORM_CUSTOMER_APP_ID"],
        records_role: Some(WRITE_ROLE),
        reviewers: false,
        level: Level::Must,
    },
    TemplateEnvironment {
        name: "fleetform-offboard-plan",
        template: "manager-offboard.yml",
        holds: "the customer App's key, to read the customer's repo for an offboarding's plan",
        secrets: &[
            "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
            "FLEETFORM_ARTIFACT_KEY",
            "FLEETFORM_TEAMS_TOKEN",
        ],
        variables: &["FLEETFORM_CUSTOMER_APP_ID"],
        records_role: Some(WRITE_ROLE),
        reviewers: false,
        level: Level::Must,
    },
    TemplateEnvironment {
        name: "fleetform-offboard",
        template: "manager-offboard.yml",
        holds: "what destroys a revoked customer's estate",
        secrets: &["FLEETFORM_ARTIFACT_KEY", "FLEETFORM_TEAMS_TOKEN"],
        variables: &[],
        records_role: Some(WRITE_ROLE),
        reviewers: true,
        level: Level::Must,
    },
    TemplateEnvironment {
        name: DRILL,
        template: "manager-drill.yml",
        holds: "the customer App's key and a role that writes the drill's scratch copies in the state bucket",
        secrets: &[
            "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
            "FLEETFORM_ARTIFACT_KEY",
        ],
        variables: &[
            "FLEETFORM_CUSTOMER_APP_ID",
            "FLEETFORM_DRILL_ROLE",
            "FLEETFORM_DRILL_REGION",
        ],
        records_role: Some(WRITE_ROLE),
        reviewers: false,
        level: Level::Must,
    },
    TemplateEnvironment {
        name: "dashboard",
        template: "manager-dashboard.yml",
        holds: "the records store's read role",
        secrets: &[],
        variables: &[],
        records_role: Some(READ_ROLE),
        reviewers: false,
        level: Level::Should,
    },
    TemplateEnvironment {
        name: "doctor",
        template: "manager-doctor.yml",
        holds: "a token that reads the manager repo's settings, and the customer App's key",
        secrets: &[
            "FLEETFORM_DOCTOR_TOKEN",
            "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
        ],
        variables: &["FLEETFORM_CUSTOMER_APP_ID"],
        records_role: None,
        reviewers: false,
        level: Level::Should,
    },
];

/// The template environments (and `drift`) a file of the manager's
/// `.github/workflows/` runs jobs in: (environment, the first such file).
pub fn installed_templates(manager_dir: &std::path::Path) -> Vec<(String, String)> {
    TEMPLATE_ENVIRONMENTS
        .iter()
        .map(|x| x.name)
        .chain([super::manager::DRIFT])
        .filter_map(|name| {
            super::impact_plan::workflow_running_in(manager_dir, name)
                .map(|path| (name.to_string(), path))
        })
        .collect()
}

/// [`installed_templates`] of `manager`, those its configuration uses:
/// the drill's environment only with state in an s3 backend (its
/// workflow, which `init` writes always, proves a bucket's versions; a
/// local backend's states are not on a GitHub runner).
pub fn installed_for(manager: &Manager) -> Vec<(String, String)> {
    let bucket = matches!(
        manager.config.terraform.backend,
        crate::config::Backend::S3 { .. }
    );
    let mut found = installed_templates(&manager.root);
    found.retain(|(env, _)| bucket || env != DRILL);
    found
}

/// The drill's environment.
pub const DRILL: &str = "drill";

/// The manager's environments whose jobs read the secret `name`: the
/// deploy workflow's (drift's where a workflow runs jobs there) and each
/// installed template's, in checklist order.
pub fn environments_reading(manager: &Manager, name: &str) -> Vec<String> {
    let installed = installed_for(manager);
    let is_installed = |env: &str| installed.iter().any(|(e, _)| e == env);
    let deploy = super::manager::expected_environments(manager)
        .into_iter()
        .filter(|x| x.role != super::Role::Drift || is_installed(&x.name))
        .filter(|x| super::secrets_needed(x.role).contains(&name))
        .map(|x| x.name);
    let templates = TEMPLATE_ENVIRONMENTS
        .iter()
        .filter(|x| is_installed(x.name) && x.secrets.contains(&name))
        .map(|x| x.name.to_string());
    let mut out: Vec<String> = deploy.chain(templates).collect();
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|e| seen.insert(e.clone()));
    out
}

impl TemplateEnvironment {
    /// The variables its jobs read with this manager's records store.
    pub fn variables_needed(&self, manager: &Manager) -> Vec<&'static str> {
        let mut out = self.variables.to_vec();
        if let (Some(role), Records::S3 { .. }) = (self.records_role, &manager.config.records) {
            out.extend([role, REGION]);
        }
        out
    }
}

/// The rows of every template environment: expected where `facts.installed`
/// names a workflow running jobs in it, checked where it exists.
pub fn template_checks(manager: &Manager, facts: &ManagerFacts) -> Vec<Check> {
    let Ok(envs) = &facts.environments else {
        return Vec::new(); // `manager_checks` says the environments were not read
    };
    let mut out = Vec::new();
    for x in &TEMPLATE_ENVIRONMENTS {
        let installed = facts
            .installed
            .iter()
            .find(|(env, _)| env == x.name)
            .map(|(_, path)| path.as_str());
        let what = format!("environment {}", x.name);
        let Some(env) = envs.iter().find(|e| e.name == x.name) else {
            if let Some(path) = installed {
                out.push(Check::not_met(
                    x.level,
                    what,
                    format!("missing ({path} runs jobs in it)"),
                    format!(
                        "create it: Settings → Environments → New environment `{}`, with a deployment branch policy of the default branch only (the header of {} lists its secrets)",
                        x.name, x.template
                    ),
                ));
            }
            continue;
        };
        let from = installed.map_or(String::new(), |p| format!(" ({p} runs jobs in it)"));
        out.push(Check::pass(x.level, what, format!("exists{from}")));
        out.extend(environment_rows(manager, facts, x, env));
    }
    out
}

/// An existing template environment's rows: branch policy, reviewers,
/// secrets and variables.
fn environment_rows(
    manager: &Manager,
    facts: &ManagerFacts,
    x: &TemplateEnvironment,
    env: &EnvironmentFacts,
) -> Vec<Check> {
    let mut out = Vec::new();
    let mut policy = branch_policy_check(x.level, env, &facts.default_branch);
    if !policy.fix.is_empty() {
        policy.found = format!("{} (it holds {})", policy.found, x.holds);
    }
    out.push(policy);
    if x.reviewers {
        out.push(reviewers_check(x, env));
    }
    if !x.secrets.is_empty() {
        let secrets = facts
            .environment_secrets
            .iter()
            .find(|(n, _)| n == x.name)
            .map(|(_, s)| s);
        out.push(secrets_check(x.name, x.secrets, x.level, secrets));
    }
    let needed = x.variables_needed(manager);
    if !needed.is_empty() {
        let own = facts
            .environment_variables
            .iter()
            .find(|(n, _)| n == x.name)
            .map(|(_, v)| v);
        out.push(variables_check(x, &needed, own, &facts.repo_variables));
    }
    out
}

/// Required reviewers on an environment whose jobs change infrastructure.
fn reviewers_check(x: &TemplateEnvironment, env: &EnvironmentFacts) -> Check {
    let what = format!("reviewers {}", x.name);
    match (env.required_reviewers, env.prevent_self_review) {
        (true, true) => Check::pass(x.level, what, "required reviewers, no self-review"),
        (true, false) => Check::not_met(
            Level::Should,
            what,
            "required reviewers, but a reviewer may approve their own run",
            format!("Settings → Environments → {} → tick \"Prevent self-review\"", x.name),
        ),
        (false, _) => Check::not_met(
            Level::Should,
            what,
            format!("no required reviewers: its jobs hold {}; only fleetform's own approval check holds them", x.holds),
            format!("Settings → Environments → {} → Required reviewers, with \"Prevent self-review\" (GitHub Enterprise, or a public repo)", x.name),
        ),
    }
}

/// The variables a template environment's jobs read: each an environment
/// variable of it or a repository variable.
fn variables_check(
    x: &TemplateEnvironment,
    needed: &[&str],
    own: Option<&Fetched<Vec<String>>>,
    repo: &Fetched<Vec<String>>,
) -> Check {
    let what = format!("variables {}", x.name);
    let fix = |names: &[&str]| {
        format!(
            "Settings → Secrets and variables → Actions → Variables (of the repository, or of the environment {}): add {}",
            x.name,
            names.join(", ")
        )
    };
    let (own, repo) = match (own, repo) {
        (Some(Ok(own)), Ok(repo)) => (own, repo),
        (None, _) => return Check::unknown(x.level, what, "not read", &fix(needed)),
        (Some(Err(e)), _) | (_, Err(e)) => return Check::unknown(x.level, what, e, &fix(needed)),
    };
    let missing: Vec<&str> = needed
        .iter()
        .copied()
        .filter(|n| !own.iter().chain(repo).any(|have| have == n))
        .collect();
    match missing.is_empty() {
        true => Check::pass(x.level, what, needed.join(", ")),
        false => Check::not_met(
            x.level,
            what,
            format!("missing {}", missing.join(", ")),
            fix(&missing),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::facts::BranchPolicy;
    use crate::doctor::Verdict::{Fail, Pass, Unknown, Warn};

    /// A manager checkout holding fleetform's own templates.
    fn with_templates() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let to = dir.path().join(".github/workflows");
        std::fs::create_dir_all(&to).unwrap();
        let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows");
        for e in std::fs::read_dir(from).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
        }
        dir
    }

    #[test]
    fn each_environment_is_found_in_its_template() {
        let dir = with_templates();
        let found = installed_templates(dir.path());
        let names: Vec<(&str, String)> = TEMPLATE_ENVIRONMENTS
            .iter()
            .map(|x| (x.name, x.template))
            .chain([("drift", "manager-drift.yml")])
            .map(|(name, file)| (name, format!(".github/workflows/{file}")))
            .collect();
        let found: Vec<(&str, String)> =
            found.iter().map(|(e, p)| (e.as_str(), p.clone())).collect();
        assert_eq!(found, names);
        assert!(installed_templates(&dir.path().join("nothing")).is_empty());
    }

    fn env(name: &str, reviewers: bool, policy: BranchPolicy) -> EnvironmentFacts {
        EnvironmentFacts {
            name: name.into(),
            required_reviewers: reviewers,
            prevent_self_review: reviewers,
            reviewers: Vec::new(),
            branch_policy: policy,
        }
    }

    fn main_only() -> BranchPolicy {
        BranchPolicy::Custom(Ok(vec![("main".into(), "branch".into())]))
    }

    fn x(name: &str) -> &'static TemplateEnvironment {
        TEMPLATE_ENVIRONMENTS
            .iter()
            .find(|x| x.name == name)
            .unwrap()
    }

    #[test]
    fn variables_are_the_environments_or_the_repositorys() {
        let names = |n: &[&str]| Ok(n.iter().map(|s| s.to_string()).collect());
        let poll = x("poll");
        let needed = poll.variables;
        let c = variables_check(
            poll,
            needed,
            Some(&names(&["FLEETFORM_MANAGER_APP_ID"])),
            &names(&["FLEETFORM_CUSTOMER_APP_ID"]),
        );
        assert_eq!(c.result, Pass, "{c:?}");
        let c = variables_check(poll, needed, Some(&names(&[])), &names(&["OTHER"]));
        assert_eq!((c.level, c.result), (Level::Must, Fail));
        assert_eq!(
            c.found,
            "missing FLEETFORM_MANAGER_APP_ID, FLEETFORM_CUSTOMER_APP_ID"
        );
        let c = variables_check(poll, needed, Some(&Err("403".into())), &names(&[]));
        assert_eq!(c.result, Unknown);
    }

    #[test]
    fn an_offboarding_environment_wants_reviewers_and_a_branch_policy() {
        let off = x("fleetform-offboard");
        let c = reviewers_check(off, &env(off.name, false, main_only()));
        assert_eq!((c.level, c.result), (Level::Should, Warn));
        assert!(
            c.found.contains("destroys a revoked customer's estate"),
            "{}",
            c.found
        );
        assert_eq!(
            reviewers_check(off, &env(off.name, true, main_only())).result,
            Pass
        );
        let any = branch_policy_check(
            off.level,
            &env(off.name, true, BranchPolicy::Any),
            &Ok("main".into()),
        );
        assert_eq!(any.result, Fail);
    }
}
