//! The repository settings `doctor --fix` sets (#83 point 1): rulesets
//! that lock every branch and every tag (the rows `rulesets (branches)`
//! and `rulesets (tags)`), `GITHUB_TOKEN`'s default permissions (`workflow
//! permissions`, `workflow approvals`), secret scanning with push
//! protection (`secret scanning`) and the repository variables
//! fleetform.yml gives the values of (`engine version`, `records
//! variables`), and "prevent self-review" where reviewers are set
//! (`self-review <env>`, a template's `reviewers <env>`). Each only where doctor's row fails,
//! and each as doctor's fix column says.

use crate::config::{Manager, Records};
use crate::doctor::facts::{
    BranchPolicy, Collaborator, EnvironmentFacts, Fetched, Ruleset, SecretScanning,
    WorkflowPermissions,
};
use crate::doctor::{
    Role, DOCTOR_REGION_VARIABLE, DOCTOR_ROLE_VARIABLE, ENGINE_VARIABLE, READ_ROLE_VARIABLE,
    REGION_VARIABLE, WRITE_ROLE_VARIABLE,
};

/// One setting to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    /// A new ruleset locking every ref of `target` (`branch` or `tag`).
    Ruleset { target: &'static str },
    /// `GITHUB_TOKEN` reads by default, Actions approve no pull request.
    WorkflowPermissions,
    /// Secret scanning and push protection on.
    SecretScanning,
    /// "Prevent self-review" on an environment with required reviewers,
    /// its reviewers kept.
    PreventSelfReview {
        environment: String,
        reviewers: Vec<(String, u64)>,
        /// Its branch policy, sent back as it is.
        policy: BranchPolicy,
        /// The doctor row: `self-review <env>` of an apply environment,
        /// `reviewers <env>` of a template's.
        row: String,
    },
    /// Required reviewers, with "prevent self-review", where doctor wants
    /// them and has none.
    Reviewers {
        environment: String,
        reviewers: Vec<(String, u64)>,
        /// Its branch policy, sent back as it is.
        policy: BranchPolicy,
        logins: Vec<String>,
        row: String,
    },
    /// A repository variable fleetform.yml gives the value of.
    Variable {
        name: &'static str,
        value: String,
        /// Its value now, when it exists.
        now: Option<String>,
        /// Where fleetform.yml says it (`terraform.version`).
        from: &'static str,
        /// The doctor row.
        row: &'static str,
    },
}

/// The name fleetform gives the ruleset locking `target`s.
pub fn ruleset_name(target: &str) -> String {
    format!("fleetform: lock every {target}")
}

impl Setting {
    /// The plan's line, naming the doctor rows it answers.
    pub fn line(&self) -> String {
        match self {
            Setting::Ruleset { target } => format!(
                "create ruleset `{}`: active on every {target}, restricting creation, update and deletion; the repository's admins may bypass it  [doctor: rulesets ({})]",
                ruleset_name(target),
                if *target == "branch" { "branches" } else { "tags" }
            ),
            Setting::WorkflowPermissions => "set the workflow permissions: GITHUB_TOKEN reads by default, and GitHub Actions may not approve pull requests  [doctor: workflow permissions, workflow approvals]".into(),
            Setting::SecretScanning => "turn on secret scanning and push protection  [doctor: secret scanning]".into(),
            Setting::PreventSelfReview { environment, row, .. } => format!(
                "tick \"Prevent self-review\" on environment {environment}, its required reviewers kept  [doctor: {row}]"
            ),
            Setting::Reviewers { environment, logins, row, .. } => format!(
                "set required reviewers {} (who `approvals:` names in fleetform.yml) with \"Prevent self-review\" on environment {environment}  [doctor: {row}]",
                logins.join(", ")
            ),
            Setting::Variable { name, value, now, from, row } => {
                let now = match now {
                    Some(v) => format!("it holds `{v}` now"),
                    None => "it is not set now".into(),
                };
                format!("set the repository variable {name} to `{value}` (fleetform.yml's {from}; {now})  [doctor: {row}]")
            }
        }
    }
}

/// What the repository's settings call for, and lines for what is left
/// to the provider (a read that failed, a name taken, a private repo).
pub fn plan(
    rulesets: &Fetched<Vec<Ruleset>>,
    workflow: &Fetched<WorkflowPermissions>,
    scanning: Option<SecretScanning>,
    private: bool,
) -> (Vec<Setting>, Vec<String>) {
    let mut out = Vec::new();
    let mut left = Vec::new();
    match rulesets {
        Err(e) => left.push(format!(
            "left for you: the rulesets could not be read ({e})  [doctor: rulesets (branches), rulesets (tags)]"
        )),
        Ok(rulesets) => {
            for target in crate::doctor::unlocked_ref_kinds(rulesets) {
                let name = ruleset_name(target);
                if rulesets.iter().any(|r| r.name == name) {
                    left.push(format!(
                        "left for you: a ruleset named `{name}` exists but does not lock every {target} (inactive, or other rules): make it active with \"Restrict creations\", \"Restrict updates\" and \"Restrict deletions\" on every {target}, or delete it and run --fix again"
                    ));
                } else {
                    out.push(Setting::Ruleset { target });
                }
            }
        }
    }
    match workflow {
        Err(e) => left.push(format!(
            "left for you: the workflow permissions could not be read ({e})  [doctor: workflow permissions]"
        )),
        Ok(w) if w.default != "read" || w.can_approve_pull_request_reviews => {
            out.push(Setting::WorkflowPermissions)
        }
        Ok(_) => {}
    }
    match scanning {
        Some(s) if s.on() => {}
        _ if private => left.push(
            "left for you: secret scanning on a private repository needs GitHub Secret Protection (GitHub's \"About secret scanning\"); where the plan has it, turn on secret scanning and push protection in Settings → Advanced Security  [doctor: secret scanning]".into(),
        ),
        Some(_) => out.push(Setting::SecretScanning),
        None => left.push(
            "left for you: GitHub's answer for the repository shows no secret scanning settings  [doctor: secret scanning]".into(),
        ),
    }
    (out, left)
}

/// The environments `expected` ((name, row)) that exist (or are being
/// made) with required reviewers who may approve their own runs; those
/// whose reviewers' row fails (an apply environment nobody is named to
/// approve, `impact-plan`, a template's that changes infrastructure),
/// given the users of fleetform.yml's `approvals:` as required reviewers
/// (those among `approvers`, the repository's collaborators: GitHub
/// takes reviewers with access only, at most six); and, left to the
/// provider, each such environment fleetform cannot name anyone for.
pub fn plan_reviews(
    manager: &Manager,
    expected: &[(String, String)],
    envs: &[EnvironmentFacts],
    (approvers, teams): (&Fetched<Vec<Collaborator>>, &Fetched<Vec<TeamId>>),
) -> (Vec<Setting>, Vec<String>) {
    let applies: Vec<(String, String, bool)> = crate::doctor::expected_environments(manager)
        .into_iter()
        .filter_map(|x| match (x.role, x.environment) {
            (Role::Apply { auto_apply }, Some(env)) => Some((x.name, env, auto_apply)),
            _ => None,
        })
        .collect();
    let named = reviewers_named(manager, approvers, teams);
    let mut out = Vec::new();
    let mut left = Vec::new();
    for (name, _) in expected {
        let Some(e) = envs.iter().find(|e| e.name == *name) else {
            continue;
        };
        let apply = applies.iter().find(|(n, _, _)| n == name);
        if e.required_reviewers && !e.prevent_self_review {
            let row = match apply {
                Some(_) => format!("self-review {name}"),
                None => format!("reviewers {name}"),
            };
            out.push(Setting::PreventSelfReview {
                environment: name.clone(),
                reviewers: e.reviewers.clone(),
                policy: e.branch_policy.clone(),
                row,
            });
        }
        let needs = match apply {
            Some((_, env, auto)) => {
                !auto && !e.required_reviewers && manager.approval_rule(env).is_none()
            }
            None => !e.required_reviewers && needs_reviewers(name),
        };
        if !needs {
            continue;
        }
        match &named {
            Ok(list) if !list.is_empty() => out.push(Setting::Reviewers {
                environment: name.clone(),
                policy: e.branch_policy.clone(),
                reviewers: list.iter().map(|(kind, _, id)| (kind.to_string(), *id)).collect(),
                logins: list.iter().map(|(_, l, _)| l.clone()).collect(),
                row: format!("reviewers {name}"),
            }),
            Ok(_) => left.push(format!("left for you: nobody is named to review {name}: add `approvals:` (users or teams with access to the repository) to fleetform.yml and run --fix again, or set required reviewers with \"Prevent self-review\" on the environment (on a private repository GitHub has them with Enterprise only)  [doctor: reviewers {name}]")),
            Err(e) => left.push(format!("left for you: required reviewers on {name}: {e}  [doctor: reviewers {name}]")),
        }
    }
    (out, left)
}

/// Whether doctor wants required reviewers on `name` (not an apply
/// environment): `impact-plan`, or a template's whose jobs change
/// infrastructure.
fn needs_reviewers(name: &str) -> bool {
    name == crate::doctor::IMPACT_PLAN
        || crate::doctor::TEMPLATE_ENVIRONMENTS
            .iter()
            .any(|x| x.name == name && x.reviewers)
}

/// A team of `approvals:` (`org/team-slug`) and GitHub's id of it.
pub type TeamId = (String, u64);

/// Who `approvals:` names, as GitHub's reviewers: each user with its id
/// from `approvers` (the repository's collaborators), then each team
/// with its id from `teams` (those with access to the repository), at
/// most six in all (GitHub's limit); `Err` when either could not be read.
fn reviewers_named(
    manager: &Manager,
    approvers: &Fetched<Vec<Collaborator>>,
    teams: &Fetched<Vec<TeamId>>,
) -> Result<Vec<(&'static str, String, u64)>, String> {
    let rules = || manager.config.approvals.values();
    let mut users: Vec<&String> = rules().flat_map(|r| r.users.iter()).collect();
    users.sort();
    users.dedup();
    let mut out = Vec::new();
    if !users.is_empty() {
        let approvers = approvers
            .as_ref()
            .map_err(|e| format!("the repository's collaborators could not be read ({e})"))?;
        out.extend(users.into_iter().filter_map(|u| {
            approvers
                .iter()
                .find(|c| c.login.eq_ignore_ascii_case(u) && c.id > 0)
                .map(|c| ("User", c.login.clone(), c.id))
        }));
    }
    if rules().any(|r| !r.teams.is_empty()) {
        let teams = teams
            .as_ref()
            .map_err(|e| format!("the teams of `approvals:` could not be read ({e})"))?;
        out.extend(teams.iter().map(|(t, id)| ("Team", t.clone(), *id)));
    }
    out.truncate(6);
    Ok(out)
}

/// The repository's variables' names, and the values of those asked for.
pub type Variables = (Vec<String>, Vec<(String, String)>);

/// The repository variables fleetform.yml gives the values of, where
/// the deploy workflow (`deploy`) or the doctor workflow (`doctor`)
/// reads them: the engine version
/// (`terraform.version`) and the records' region (`records.region`).
/// `vars`: the repository's variables' names and the values of those.
/// The records roles' ARNs (`records.write_role`, `read_role`) too; an
/// unnamed write role is left. With state in an s3 backend, the doctor
/// workflow's role (`state.doctor_role`) and the backend's region.
pub fn plan_variables(
    manager: &Manager,
    (deploy, doctor): (bool, bool),
    vars: &Fetched<Variables>,
) -> (Vec<Setting>, Vec<String>) {
    let mut out = Vec::new();
    let mut left = Vec::new();
    if !deploy && !doctor {
        return (out, left);
    }
    let (names, values) = match vars {
        Ok(v) => v,
        Err(e) => {
            left.push(format!("left for you: the repository variables could not be read ({e})  [doctor: engine version, records variables]"));
            return (out, left);
        }
    };
    let mut want = Vec::new();
    if let Some(pin) = manager.config.terraform.version.as_ref().filter(|_| deploy) {
        want.push((
            ENGINE_VARIABLE,
            pin.0.clone(),
            "terraform.version",
            "engine version",
        ));
    }
    if let (Records::S3 { region, .. }, true) = (&manager.config.records, deploy) {
        want.push((
            REGION_VARIABLE,
            region.clone(),
            "records.region",
            "records variables",
        ));
        let [(_, write_role), (_, read_role)] = manager.config.records.roles();
        for (name, role, from) in [
            (WRITE_ROLE_VARIABLE, write_role, "records.write_role"),
            (READ_ROLE_VARIABLE, read_role, "records.read_role"),
        ] {
            match role {
                Some(arn) => want.push((name, arn.to_string(), from, "records variables")),
                None if name == WRITE_ROLE_VARIABLE && !names.iter().any(|n| n == name) => {
                    left.push(format!("left for you: the repository variable {name}, the ARN of the role the deploy jobs write records with: name it in fleetform.yml as {from} and run --fix again, or set it yourself  [doctor: records variables]"));
                }
                None => {}
            }
        }
    }
    if doctor {
        want.extend(doctor_role(manager));
    }
    for (name, value, from, row) in want {
        let now = values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone());
        let exists = names.iter().any(|n| n == name);
        if now.as_deref() != Some(value.as_str()) {
            out.push(Setting::Variable {
                name,
                value,
                // A variable listed without its value is one to update.
                now: now.or_else(|| exists.then(String::new)),
                from,
                row,
            });
        }
    }
    (out, left)
}

/// The doctor workflow's role for the state bucket's settings
/// (`state.doctor_role`) and the backend's region, with an s3 backend:
/// (variable, value, from, doctor row).
fn doctor_role(manager: &Manager) -> Vec<(&'static str, String, &'static str, &'static str)> {
    let (Some(arn), crate::config::Backend::S3 { region, .. }) = (
        &manager.config.state.doctor_role,
        &manager.config.terraform.backend,
    ) else {
        return Vec::new();
    };
    let row = "state bucket versioning";
    vec![
        (DOCTOR_ROLE_VARIABLE, arn.clone(), "state.doctor_role", row),
        (
            DOCTOR_REGION_VARIABLE,
            region.clone(),
            "terraform.backend.region",
            row,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(target: &str, enforcement: &str) -> Ruleset {
        Ruleset {
            name: ruleset_name(target),
            target: target.into(),
            enforcement: enforcement.into(),
            include: vec!["~ALL".into()],
            rules: vec!["creation".into(), "update".into(), "deletion".into()],
        }
    }

    const READ: WorkflowPermissions = WorkflowPermissions {
        default: String::new(),
        can_approve_pull_request_reviews: false,
    };

    #[test]
    fn only_what_doctor_fails_is_planned_and_a_taken_name_or_private_repo_is_left() {
        let write = WorkflowPermissions {
            default: "write".into(),
            can_approve_pull_request_reviews: false,
        };
        let off = SecretScanning {
            scanning: false,
            push_protection: false,
        };
        let (set, left) = plan(
            &Ok(vec![lock("branch", "active")]),
            &Ok(write),
            Some(off),
            false,
        );
        assert_eq!(
            set,
            [
                Setting::Ruleset { target: "tag" },
                Setting::WorkflowPermissions,
                Setting::SecretScanning
            ]
        );
        assert!(left.is_empty());
        assert!(
            set[0].line().ends_with("[doctor: rulesets (tags)]"),
            "{}",
            set[0].line()
        );
        assert_eq!(
            Setting::Ruleset { target: "branch" }
                .line()
                .rsplit("[doctor: ")
                .next(),
            Some("rulesets (branches)]")
        );

        let read = WorkflowPermissions {
            default: "read".into(),
            ..READ
        };
        let (set, left) = plan(
            &Ok(vec![lock("branch", "disabled"), lock("tag", "active")]),
            &Ok(read),
            Some(off),
            true,
        );
        assert!(set.is_empty(), "{set:?}");
        assert_eq!(left.len(), 2, "{left:?}");
        assert!(left[0].contains("`fleetform: lock every branch` exists"));
        assert!(left[1].contains("GitHub Secret Protection"));
    }
}
