//! The secrets `doctor --fix` makes itself (#83 point 1): the dispatch
//! secret, one artifact key per environment (its plan and apply
//! environments share it) and drift's. Each is one random value per group of environments that must
//! share it, generated in memory, sealed to each environment's public key
//! and stored there; it is never printed, logged or written to disk.
//!
//! GitHub never gives a secret back. So a group where no environment
//! holds the secret is generated; a group where some hold it and some do
//! not is left to the provider (copy it, or replace it everywhere at once
//! with what replacing costs), said on a line of its own. Secrets that
//! are not random values (the Apps' keys, a customer's secrets identity,
//! which the registry's recipient names) are never generated here.

use std::collections::BTreeMap;

use crate::config::Manager;
use crate::doctor::{Role, DRIFT};

const DISPATCH: &str = "FLEETFORM_DISPATCH_SECRET";
const ARTIFACT: &str = "FLEETFORM_ARTIFACT_KEY";

/// A secret and the environments that share one value of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The secret's name.
    pub secret: &'static str,
    /// What the value is for: `the dispatch secret`, `staging`'s ...
    pub of: String,
    /// (environment, the doctor row that reports it missing there).
    pub environments: Vec<(String, String)>,
    /// The fleetform environment an artifact key is of.
    pub environment: Option<String>,
    /// Replaced where it is held (`--rotate-artifact-key`).
    pub rotate: bool,
}

impl Group {
    fn names(&self) -> Vec<&str> {
        self.environments.iter().map(|(e, _)| e.as_str()).collect()
    }

    fn rows(&self) -> String {
        let mut rows: Vec<&str> = self.environments.iter().map(|(_, r)| r.as_str()).collect();
        rows.dedup();
        rows.join(", ")
    }

    /// The plan's line for generating it.
    pub fn line(&self) -> String {
        if self.rotate {
            return format!(
                "replace {} ({}) with a new random value never shown, stored sealed in {}; plans waiting for approval there then need planning again  [doctor: {}]",
                self.secret,
                self.of,
                self.names().join(", "),
                self.rows()
            );
        }
        format!(
            "generate {} ({}), a new random value never shown, and store it sealed in {}  [doctor: {}]",
            self.secret,
            self.of,
            self.names().join(", "),
            self.rows()
        )
    }
}

/// A group some of whose environments hold the secret: not fixed here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partial {
    pub group: Group,
    pub missing: Vec<String>,
}

impl Partial {
    /// The line that says what is left and why.
    pub fn line(&self) -> String {
        let cost = match self.group.secret {
            DISPATCH => "every customer's dispatch key then changes",
            _ => "plans waiting for approval there then need planning again",
        };
        format!(
            "left for you: {} ({}) is missing from {} but held elsewhere, and GitHub never gives a secret back: copy it there from where you keep it, or replace it in all of {} at once ({cost})  [doctor: {}]",
            self.group.secret,
            self.group.of,
            self.missing.join(", "),
            self.group.names().join(", "),
            self.group.rows()
        )
    }
}

/// The groups of the manager's environments: the dispatch secret's
/// (authorise, every plan and apply environment), each environment's
/// artifact key (its plan and apply environments; a customer's key
/// environment holds none: it hands its identity over to the handoff
/// recipient, `fix_keys`), and drift's when `drift` is expected.
pub fn groups(manager: &Manager, drift: bool) -> Vec<Group> {
    let secrets_row = |name: &str| (name.to_string(), format!("secrets {name}"));
    let expected = crate::doctor::expected_environments(manager);
    let dispatch = Group {
        secret: DISPATCH,
        of: "the dispatch secret".into(),
        environment: None,
        rotate: false,
        environments: expected
            .iter()
            .filter(|x| x.role != Role::Drift)
            .map(|x| secrets_row(&x.name))
            .collect(),
    };
    let mut out = vec![dispatch];
    for env in &manager.config.environments {
        let environments = vec![
            secrets_row(&env.plan_environment()),
            secrets_row(&env.apply_environment()),
        ];
        out.push(Group {
            secret: ARTIFACT,
            of: format!("the artifact key of {}", env.name),
            environments,
            environment: Some(env.name.clone()),
            rotate: false,
        });
    }
    if drift {
        out.push(Group {
            secret: ARTIFACT,
            of: "drift's artifact key".into(),
            environments: vec![secrets_row(DRIFT)],
            environment: None,
            rotate: false,
        });
    }
    out
}

/// What `held` (environment → the names of its secrets; an environment
/// not there has none yet) calls for: the groups to generate, and those
/// held in part; the artifact keys of the environments in `rotate` are
/// replaced wherever they are held.
pub fn plan(
    groups: &[Group],
    held: &BTreeMap<String, Vec<String>>,
    rotate: &[String],
) -> (Vec<Group>, Vec<Partial>) {
    let mut generate = Vec::new();
    let mut partial = Vec::new();
    for g in groups {
        if g.environment.as_ref().is_some_and(|e| rotate.contains(e)) {
            generate.push(Group {
                rotate: true,
                ..g.clone()
            });
            continue;
        }
        let holds = |env: &str| {
            held.get(env)
                .is_some_and(|s| s.iter().any(|n| n == g.secret))
        };
        let missing: Vec<String> = g
            .names()
            .into_iter()
            .filter(|e| !holds(e))
            .map(str::to_string)
            .collect();
        if missing.is_empty() {
            continue;
        }
        if missing.len() == g.environments.len() {
            generate.push(g.clone());
        } else {
            partial.push(Partial {
                group: g.clone(),
                missing,
            });
        }
    }
    (generate, partial)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(secret: &'static str, envs: &[&str]) -> Group {
        Group {
            secret,
            of: "x".into(),
            environment: None,
            rotate: false,
            environments: envs
                .iter()
                .map(|e| (e.to_string(), format!("secrets {e}")))
                .collect(),
        }
    }

    #[test]
    fn a_group_nobody_holds_is_generated_one_held_in_part_is_left_one_held_is_kept() {
        let groups = [
            group(DISPATCH, &["fleetform-authorise", "staging-plan"]),
            group(
                ARTIFACT,
                &["staging-plan", "staging-apply", "staging-secrets-acme"],
            ),
            group(ARTIFACT, &["production-plan", "production-apply"]),
        ];
        let held: BTreeMap<String, Vec<String>> = [
            ("fleetform-authorise", vec![]),
            ("staging-plan", vec![ARTIFACT]),
            ("staging-apply", vec![ARTIFACT, DISPATCH]),
            ("production-plan", vec![ARTIFACT]),
            ("production-apply", vec![ARTIFACT]),
        ]
        .into_iter()
        .map(|(e, s)| (e.to_string(), s.into_iter().map(str::to_string).collect()))
        .collect();
        let (generate, partial) = plan(&groups, &held, &[]);
        assert_eq!(generate, [groups[0].clone()]);
        assert_eq!(
            partial,
            [Partial {
                group: groups[1].clone(),
                missing: vec!["staging-secrets-acme".into()]
            }]
        );
        assert!(generate[0]
            .line()
            .ends_with("in fleetform-authorise, staging-plan  [doctor: secrets fleetform-authorise, secrets staging-plan]"));
        assert!(partial[0].line().starts_with(
            "left for you: FLEETFORM_ARTIFACT_KEY (x) is missing from staging-secrets-acme"
        ));
    }
}
