//! Whether the set-up can be made at all: the GitHub plan of the manager
//! repo (SECURITY.md's minimum-plan table), where the dashboard may be
//! published and, for the deploy workflow, records that outlive the
//! runner, written with their own credential.

use super::facts::{DeployWorkflow, ManagerFacts, Owner, PagesWorkflow};
use super::{Check, Level};
use crate::config::{Manager, Records};

/// What a private repository on GitHub Free lacks (SECURITY.md, the
/// minimum-plan table).
const FREE_LACKS: &str =
    "environments, environment secrets, deployment branch policies, branch protection and rulesets";

const PLAN_FIX: &str = "move the manager repo to an account on GitHub Pro (a user), Team or Enterprise (an organisation), or make it public; SECURITY.md, \"What you must configure\", lists the minimum plan per feature";

/// The manager repo's GitHub plan: a public repository has every feature
/// on every plan; a private one on GitHub Free cannot hold SECURITY.md's
/// set-up, which fails the run. The plan is read from the organisation's
/// answer (`plan.name`, shown to owners) and from GitHub refusing the
/// rulesets read for the plan (403 "Upgrade to GitHub Pro…").
pub fn plan_check(facts: &ManagerFacts) -> Check {
    let what = "GitHub plan";
    let private = match &facts.private {
        Err(e) => return Check::unknown(Level::Must, what, e, PLAN_FIX),
        Ok(p) => *p,
    };
    if !private {
        return Check::pass(
            Level::Must,
            what,
            "public repository: environments, their secrets and branch policies, required reviewers and rulesets exist on every plan",
        );
    }
    let plan = match &facts.access.owner {
        Ok(Owner::Organisation { plan, .. }) => plan.clone(),
        _ => None,
    };
    if plan.as_deref() == Some("free") {
        return Check::not_met(
            Level::Must,
            what,
            format!("private repository of an organisation on GitHub Free: no {FREE_LACKS}, so the set-up cannot be secured (its secrets would be repository secrets every branch's workflows read)"),
            PLAN_FIX,
        );
    }
    if let Some(refusal) = &facts.plan_refusal {
        return Check::not_met(
            Level::Must,
            what,
            format!("private repository, and GitHub refused its rulesets for the plan (\"{refusal}\"): on GitHub Free there are no {FREE_LACKS}"),
            PLAN_FIX,
        );
    }
    match plan {
        Some(p) => Check::pass(
            Level::Must,
            what,
            format!("private repository on GitHub plan `{p}`: environments, their secrets and branch policies and rulesets exist (required reviewers only on Enterprise: else `approvals:`)"),
        ),
        None => match &facts.environments {
            Ok(envs) if !envs.is_empty() => Check::pass(
                Level::Must,
                what,
                "private repository with environments, which GitHub Free does not have (the plan itself was not shown to this token)",
            ),
            _ => Check::unknown(
                Level::Must,
                what,
                "a private repository without environments, and GitHub did not show the plan (only to an organisation owner's token)",
                &format!("run doctor with an organisation owner's token, or check the plan yourself: {PLAN_FIX}"),
            ),
        },
    }
}

/// Whether GitHub Pages may publish the dashboard here, and why: a public
/// repo's site is as public as the repo; a private repo's is public on
/// Pro and Team, does not exist on Free, and can be private only on
/// Enterprise. `None`: the plan was not shown.
fn pages_fit(facts: &ManagerFacts, private: bool) -> (Option<bool>, String) {
    if !private {
        return (
            Some(true),
            "public repository: a Pages site is as public as the repo".into(),
        );
    }
    let plan = match &facts.access.owner {
        Ok(Owner::Organisation { plan, .. }) => plan.as_deref().map(str::to_ascii_lowercase),
        _ => None,
    };
    match plan.as_deref() {
        Some("enterprise") => (
            Some(true),
            "private repository on GitHub Enterprise: a Pages site can be private (Settings → Pages → Visibility: Private)".into(),
        ),
        Some("free") => (
            Some(false),
            "private repository on GitHub Free: Pages is not available for a private repository".into(),
        ),
        None if facts.plan_refusal.is_some() => (
            Some(false),
            "private repository on GitHub Free (GitHub refused its rulesets for the plan): Pages is not available for a private repository".into(),
        ),
        Some(p) => (
            Some(false),
            format!("private repository on GitHub plan `{p}`: a private repository's Pages site is public (only Enterprise keeps it private)"),
        ),
        None => (
            None,
            "private repository, and GitHub did not show the plan (only to an organisation owner): only on Enterprise can a Pages site be private".into(),
        ),
    }
}

/// Where the dashboard goes: an artifact always, GitHub Pages only where
/// the site would not be public beyond the repo. A Pages workflow in the
/// checkout that publishes on every run (an older copy of the template)
/// where Pages does not fit fails.
pub fn dashboard_check(facts: &ManagerFacts, pages: Option<&PagesWorkflow>) -> Check {
    let what = "dashboard publishing";
    let fix_copy = "copy fleetform's workflows/manager-dashboard.yml (it keeps the dashboard an artifact; Pages only with the repository variable FLEETFORM_DASHBOARD_PAGES=true) and unpublish any site (Settings → Pages)";
    let private = match &facts.private {
        Err(e) => return Check::unknown(Level::Should, what, e, "run again; check the token"),
        Ok(p) => *p,
    };
    let (fits, why) = pages_fit(facts, private);
    let advice = match fits {
        Some(true) => "the dashboard may go to Pages (the repository variable FLEETFORM_DASHBOARD_PAGES=true), or stay an artifact",
        Some(false) => "keep the dashboard an artifact (leave FLEETFORM_DASHBOARD_PAGES unset)",
        None => "keep the dashboard an artifact unless the plan is Enterprise",
    };
    let every_run = pages.filter(|w| !w.opt_in);
    match (fits, every_run) {
        (Some(false), Some(w)) => Check::not_met(
            Level::Must,
            what,
            format!("{why}, and {} publishes to Pages on every run", w.path),
            fix_copy,
        ),
        (None, Some(w)) => Check::unknown(
            Level::Must,
            what,
            &format!("{why}, and {} publishes to Pages on every run", w.path),
            &format!("check the plan with an organisation owner's token, or {fix_copy}"),
        ),
        (None, None) => Check::warn(
            Level::Should,
            what,
            format!("{why}; {advice}"),
            "run doctor with an organisation owner's token to learn the plan",
        ),
        (Some(_), _) => Check::pass(Level::Should, what, format!("{why}; {advice}")),
    }
}

/// The deploy workflow needs records in a bucket (a folder in the
/// checkout vanishes with the runner), and with `identity:` hands
/// fleetform the records' own credential (the jobs hold the customer's
/// role, which never writes the provider's records). No row without a
/// deploy workflow in the checkout.
pub fn records_check(manager: &Manager, deploy: Option<&DeployWorkflow>) -> Option<Check> {
    let deploy = deploy?;
    let what = "records";
    let fix_store = format!("set `records: {{kind: s3, bucket: …, region: …, prefix: …}}` in fleetform.yml and the repository variables FLEETFORM_RECORDS_WRITE_ROLE and FLEETFORM_RECORDS_REGION (the header of {})", deploy.path);
    Some(match &manager.config.records {
        Records::Local { dir, .. } => Check::not_met(
            Level::Must,
            what,
            format!(
                "a folder (`{}`) while {} deploys: deployment records and the audit log vanish with the runner, and `impact` and `rollout` then see every pair as unknown",
                dir.display(),
                deploy.path
            ),
            fix_store,
        ),
        Records::S3 { .. } if manager.has_identity() && !deploy.records_credential => {
            Check::not_met(
                Level::Must,
                what,
                format!(
                    "{} gives fleetform no credential of the records' own (FLEETFORM_RECORDS_AWS_*): its jobs hold the customer's role (`identity:`), which never writes the records",
                    deploy.path
                ),
                "assume FLEETFORM_RECORDS_WRITE_ROLE in a step of its own with output-credentials and pass them to fleetform, as fleetform's workflows/manager-deploy.yml does",
            )
        }
        Records::S3 {
            bucket, prefix, ..
        } => Check::pass(
            Level::Must,
            what,
            format!("s3://{bucket}/{prefix}, for {}", deploy.path),
        ),
    })
}

/// With records in a bucket, the states an offboarding keeps there (every
/// sensitive value of its pairs) are encrypted to `records.recipient`;
/// without one the offboarding is refused. No row for a folder.
pub fn records_recipient_check(manager: &Manager) -> Option<Check> {
    let Records::S3 { bucket, .. } = &manager.config.records else {
        return None;
    };
    let what = "records recipient";
    Some(match manager.config.records.recipient() {
        Some(r) => Check::pass(
            Level::Should,
            what,
            format!("the states an offboarding keeps in s3://{bucket} are encrypted to {r}"),
        ),
        None => Check::not_met(
            Level::Should,
            what,
            format!("none: an offboarding would keep each state, with every sensitive value of its pairs, in s3://{bucket}, so it is refused"),
            "set `records: {recipient: age1...}` in fleetform.yml (`age-keygen`; keep the identity offline: `age -d -i KEY` opens a kept state)",
        ),
    })
}

/// The repository variables fleetform.yml fixes the values of: doctor
/// reads them with the names (no extra request) and compares them.
pub const PINNED_VARIABLES: [&str; 6] = [
    ENGINE_VARIABLE,
    REGION_VARIABLE,
    WRITE_ROLE_VARIABLE,
    READ_ROLE_VARIABLE,
    DOCTOR_ROLE_VARIABLE,
    DOCTOR_REGION_VARIABLE,
];

pub const ENGINE_VARIABLE: &str = "FLEETFORM_TERRAFORM_VERSION";
pub const REGION_VARIABLE: &str = "FLEETFORM_RECORDS_REGION";
pub const WRITE_ROLE_VARIABLE: &str = "FLEETFORM_RECORDS_WRITE_ROLE";
pub const READ_ROLE_VARIABLE: &str = "FLEETFORM_RECORDS_READ_ROLE";
/// The doctor workflow's role for the state bucket's settings, and its
/// region (`state.doctor_role`, the backend's region).
pub const DOCTOR_ROLE_VARIABLE: &str = "FLEETFORM_DOCTOR_ROLE";
pub const DOCTOR_REGION_VARIABLE: &str = "FLEETFORM_DOCTOR_REGION";

fn pinned<'a>(values: &'a [(String, String)], name: &str) -> Option<&'a str> {
    values
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// With the deploy workflow in the checkout and the records in a bucket,
/// its jobs (and every template's that writes records) assume the role
/// in the repository variable FLEETFORM_RECORDS_WRITE_ROLE in
/// FLEETFORM_RECORDS_REGION: both must be set, or every job fails before
/// fleetform runs, and the region one holds is the records bucket's
/// (fleetform.yml's `records.region`). No row otherwise.
pub fn records_variables_check(
    manager: &Manager,
    deploy: Option<&DeployWorkflow>,
    repo_variables: &super::facts::Fetched<Vec<String>>,
    values: &[(String, String)],
) -> Option<Check> {
    let deploy = deploy?;
    let Records::S3 { region, .. } = &manager.config.records else {
        return None;
    };
    let what = "records variables";
    let needed = ["FLEETFORM_RECORDS_WRITE_ROLE", REGION_VARIABLE];
    let fix = |names: &[&str]| {
        format!(
            "Settings → Secrets and variables → Actions → Variables → New repository variable: {} (the header of {}), or `fleetform doctor --fix` for {REGION_VARIABLE}",
            names.join(", "),
            deploy.path
        )
    };
    let names = match repo_variables {
        Err(e) => return Some(Check::unknown(Level::Must, what, e, &fix(&needed))),
        Ok(names) => names,
    };
    let missing: Vec<&str> = needed
        .iter()
        .copied()
        .filter(|n| !names.iter().any(|have| have == n))
        .collect();
    if !missing.is_empty() {
        return Some(Check::not_met(
            Level::Must,
            what,
            format!(
                "missing {}: {}'s jobs cannot assume the records role",
                missing.join(", "),
                deploy.path
            ),
            fix(&missing),
        ));
    }
    let [(_, write_role), _] = manager.config.records.roles();
    let wanted = [
        (REGION_VARIABLE, Some(region.as_str()), "records.region"),
        (WRITE_ROLE_VARIABLE, write_role, "records.write_role"),
    ];
    for (name, want, from) in wanted {
        match (pinned(values, name), want) {
            (Some(v), Some(want)) if v != want => {
                return Some(Check::not_met(
                    Level::Must,
                    what,
                    format!("{name} holds `{v}`, but fleetform.yml's {from} is `{want}`"),
                    format!("set {name} to `{want}` (Settings → Secrets and variables → Actions → Variables), or `fleetform doctor --fix`"),
                ))
            }
            _ => {}
        }
    }
    Some(Check::pass(Level::Must, what, needed.join(", ")))
}

/// With the deploy workflow in the checkout, the engine's version is
/// pinned: fleetform.yml's `terraform.version` and the repository variable
/// FLEETFORM_TERRAFORM_VERSION every template installs, holding the same
/// version (its value is read with the names). Without the pin each job
/// installs the latest release; with another version in the variable the
/// jobs install that one, and fleetform refuses their plans; the apply
/// installs the plan's version from the plan job and refuses another, but
/// a plan made after a release differs from the last one applied. No row
/// without the deploy workflow.
pub fn engine_version_check(
    manager: &Manager,
    deploy: Option<&DeployWorkflow>,
    repo_variables: &super::facts::Fetched<Vec<String>>,
    values: &[(String, String)],
) -> Option<Check> {
    let deploy = deploy?;
    let what = "engine version";
    let engine = manager.config.terraform.engine.binary();
    let Some(pin) = &manager.config.terraform.version else {
        return Some(Check::not_met(
            Level::Should,
            what,
            format!("fleetform.yml pins no {engine} version: {}'s jobs install the latest release", deploy.path),
            format!("set `terraform.version: \"X.Y.Z\"` in fleetform.yml (the version you plan with) and the repository variable {ENGINE_VARIABLE} to the same"),
        ));
    };
    let fix = format!(
        "Settings → Secrets and variables → Actions → Variables → New repository variable: {ENGINE_VARIABLE} = {} (the header of {}), or `fleetform doctor --fix`",
        pin.0, deploy.path
    );
    Some(match repo_variables {
        Err(e) => Check::unknown(Level::Should, what, e, &fix),
        Ok(names) if names.iter().any(|n| n == ENGINE_VARIABLE) => {
            match pinned(values, ENGINE_VARIABLE) {
                Some(v) if v != pin.0 => Check::not_met(
                    Level::Should,
                    what,
                    format!("fleetform.yml pins {engine} {} but {ENGINE_VARIABLE} holds `{v}`: the jobs install `{v}`, and fleetform refuses their plans", pin.0),
                    fix,
                ),
                _ => Check::pass(
                    Level::Should,
                    what,
                    format!("{engine} {} (terraform.version and {ENGINE_VARIABLE})", pin.0),
                ),
            }
        }
        Ok(_) => Check::not_met(
            Level::Should,
            what,
            format!("fleetform.yml pins {engine} {} but the repository has no variable {ENGINE_VARIABLE}: the jobs install the latest release, and fleetform refuses their plans", pin.0),
            fix,
        ),
    })
}

/// A root module's `required_version`: its file, the constraint, and
/// whether the pin meets it (`Err`: not Terraform's syntax).
pub type RequiredVersion = (String, String, Result<bool, String>);

/// The pinned engine version against each root module's
/// `required_version` (`found`: file, constraint, and whether the pin
/// meets it, `Err` when the constraint is not Terraform's syntax): one
/// that does not meet it is refused by Terraform at `init` in every job.
pub fn required_version_check(pin: &str, found: Result<&[RequiredVersion], String>) -> Check {
    let what = "engine version meets required_version";
    let found = match found {
        Ok(f) => f,
        Err(e) => return Check::unknown(Level::Must, what, &e, "fix the root module's .tf files"),
    };
    let unmet: Vec<String> = found
        .iter()
        .filter_map(|(file, c, met)| match met {
            Ok(true) => None,
            Ok(false) => Some(format!("{file}: `{c}`")),
            Err(e) => Some(format!("{file}: {e}")),
        })
        .collect();
    match (unmet.is_empty(), found.is_empty()) {
        (true, true) => Check::pass(Level::Must, what, format!("{pin}; no root module names a required_version")),
        (true, false) => Check::pass(Level::Must, what, format!("{pin} meets {}", found.iter().map(|(_, c, _)| format!("`{c}`")).collect::<Vec<_>>().join(", "))),
        (false, _) => Check::not_met(
            Level::Must,
            what,
            format!("terraform.version {pin} does not meet {}: Terraform refuses it at init in every job", unmet.join("; ")),
            "pin a version the root modules accept (terraform.version and the repository variable FLEETFORM_TERRAFORM_VERSION), or change required_version in a reviewed pull request",
        ),
    }
}

/// Behind a relay that batches (`relay.batch` above 1, the default), a
/// workflow in the manager checkout must run the relay's `fleetform-batch`
/// dispatches (`workflows/manager-batch.yml`: `fleetform batch-entries`,
/// then the deploy workflow per entry), and it must be
/// `.github/workflows/manager-batch.yml`, which the relay looks for:
/// without it the relay sends every event alone, capped near 80 events a
/// minute by GitHub's write limits, which is not what fleetform.yml asks
/// for. `batch_workflow`: the path of the first workflow that runs
/// `fleetform batch-entries`. No row without `relay:`.
pub fn batch_check(manager: &Manager, batch_workflow: Option<&str>) -> Option<Check> {
    let relay = manager.config.relay.as_ref()?;
    let what = "batch dispatches";
    let expected = crate::config::BATCH_WORKFLOW;
    if relay.batch == 1 {
        return Some(Check::pass(
            Level::Must,
            what,
            "`relay.batch: 1`: the relay sends every event alone (GitHub's write limits cap it near 80 events a minute and 500 an hour)",
        ));
    }
    let fix = format!("copy manager-batch.yml from fleetform's workflows/ to {expected} beside manager-deploy.yml (`fleetform init` writes both; README, \"Batches\"), or set `relay.batch: 1` in fleetform.yml to have the relay send every event alone (GitHub's write limits then cap it near 80 events a minute)");
    Some(match batch_workflow {
        Some(path) if path == expected => Check::pass(
            Level::Must,
            what,
            format!("{path} runs the relay's fleetform-batch dispatches (up to {} events each)", relay.batch),
        ),
        Some(path) => Check::not_met(
            Level::Must,
            what,
            format!("`relay.batch: {}` but the manager has no {expected}, which the relay looks for ({path} runs `fleetform batch-entries` under another name): the relay would send every event alone", relay.batch),
            fix,
        ),
        None => Check::not_met(
            Level::Must,
            what,
            format!("`relay.batch: {}` (the default) but no workflow in .github/workflows/ runs `fleetform batch-entries`: the relay would send every event alone, and a fleetform-batch dispatch would start nothing", relay.batch),
            fix,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::facts::AccessFacts;
    use crate::doctor::Verdict::{Fail, Pass, Unknown, Warn};

    fn facts(private: bool, plan: Option<&str>, refusal: Option<&str>) -> ManagerFacts {
        ManagerFacts {
            repo: "p/m".into(),
            default_branch: Ok("main".into()),
            environments: Ok(Vec::new()),
            repo_secrets: Ok(Vec::new()),
            environment_secrets: Vec::new(),
            repo_variables: Ok(Vec::new()),
            pinned_variables: Vec::new(),
            environment_variables: Vec::new(),
            installed: Vec::new(),
            rulesets: Ok(Vec::new()),
            workflow_permissions: Err("x".into()),
            private: Ok(private),
            secret_scanning: Err("x".into()),
            access: AccessFacts {
                collaborators: Ok(Vec::new()),
                outside_collaborators: Ok(Vec::new()),
                owner: Ok(Owner::Organisation {
                    base_permission: None,
                    plan: plan.map(str::to_string),
                }),
                pages: Err("x".into()),
            },
            plan_refusal: refusal.map(str::to_string),
        }
    }

    #[test]
    fn a_private_repo_on_free_cannot_be_secured() {
        assert_eq!(plan_check(&facts(false, Some("free"), None)).result, Pass);
        let c = plan_check(&facts(true, Some("free"), None));
        assert_eq!((c.level, c.result), (Level::Must, Fail));
        assert!(c.found.contains("GitHub Free"), "{}", c.found);
        let upgrade =
            "Upgrade to GitHub Pro or make this repository public to enable this feature.";
        let c = plan_check(&facts(true, None, Some(upgrade)));
        assert_eq!(c.result, Fail);
        assert!(c.found.contains(upgrade), "{}", c.found);
        assert_eq!(plan_check(&facts(true, Some("team"), None)).result, Pass);
        assert_eq!(plan_check(&facts(true, None, None)).result, Unknown);
    }

    #[test]
    fn the_dashboard_goes_to_pages_only_where_the_site_stays_private() {
        let every_run = PagesWorkflow {
            path: ".github/workflows/dash.yml".into(),
            opt_in: false,
        };
        let opt_in = PagesWorkflow {
            opt_in: true,
            ..every_run.clone()
        };
        let check = |private, plan, w: Option<&PagesWorkflow>| {
            dashboard_check(&facts(private, plan, None), w)
        };
        let public = check(false, Some("free"), Some(&every_run));
        assert_eq!(public.result, Pass);
        assert!(
            public.found.starts_with("public repository"),
            "{}",
            public.found
        );
        let enterprise = check(true, Some("enterprise"), None);
        assert_eq!(enterprise.result, Pass);
        assert!(
            enterprise.found.contains("Visibility: Private"),
            "{}",
            enterprise.found
        );
        for plan in ["team", "pro"] {
            let c = check(true, Some(plan), Some(&opt_in));
            assert_eq!(c.result, Pass, "{plan}");
            assert!(c.found.contains("Pages site is public"), "{}", c.found);
            assert!(
                c.found.contains("keep the dashboard an artifact"),
                "{}",
                c.found
            );
            let c = check(true, Some(plan), Some(&every_run));
            assert_eq!((c.level, c.result), (Level::Must, Fail), "{plan}");
            assert!(c.found.contains("dash.yml publishes to Pages on every run"));
        }
        let free = check(true, Some("free"), None);
        assert!(free
            .found
            .contains("Pages is not available for a private repository"));
        let upgrade = dashboard_check(&facts(true, None, Some("Upgrade")), None);
        assert!(upgrade.found.contains("GitHub Free"), "{}", upgrade.found);
        assert_eq!(check(true, None, None).result, Warn);
        assert_eq!(check(true, None, Some(&every_run)).result, Unknown);
    }

    #[test]
    fn behind_the_relay_a_workflow_runs_the_batches() {
        let yaml = "version: 1\nschema: s.json\nregistry: customers.yml\n\
            environments:\n  - name: staging\n\
            terraform:\n  working_dir: tf\n  backend:\n    kind: local\n    state_dir: st\n";
        let manager = |relay: Option<&str>| {
            let text = match relay {
                Some(more) => format!("{yaml}relay:\n  app_slug: r\n  manager_repo: p/m\n{more}"),
                None => yaml.to_string(),
            };
            let doc = fleetform_yaml::load_str(
                &text,
                std::path::Path::new("fleetform.yml"),
                &fleetform_yaml::Limits::default(),
            )
            .unwrap();
            Manager {
                root: "m".into(),
                config: crate::config::from_doc(&doc).unwrap(),
                doc,
                product: None,
                pin: None,
            }
        };
        assert!(batch_check(&manager(None), None).is_none());
        // The relay batches by default: the workflow is required.
        let missing = batch_check(&manager(Some("")), None).unwrap();
        assert_eq!((missing.level, missing.result), (Level::Must, Fail));
        assert!(
            missing.found.contains("`relay.batch: 32` (the default)"),
            "{}",
            missing.found
        );
        assert!(
            missing.fix.contains("manager-batch.yml") && missing.fix.contains("`relay.batch: 1`"),
            "{}",
            missing.fix
        );
        // Under another name the relay does not find it.
        let elsewhere = ".github/workflows/b.yml";
        let other = batch_check(&manager(Some("")), Some(elsewhere)).unwrap();
        assert_eq!(other.result, Fail);
        assert!(other.found.contains(elsewhere), "{}", other.found);
        let found = batch_check(&manager(Some("")), Some(crate::config::BATCH_WORKFLOW)).unwrap();
        assert_eq!(found.result, Pass);
        assert!(found.found.contains("manager-batch.yml"));
        // Batches turned off: nothing required.
        let alone = batch_check(&manager(Some("  batch: 1\n")), None).unwrap();
        assert_eq!(alone.result, Pass);
        assert!(alone.found.contains("every event alone"));
    }
}
