//! Which environments a run covers and what it reads from the customer's
//! repo: the planned environments, the customer's files at the dispatched
//! sha, the pull request facts the gates need, and for an apply whether a
//! file fleetform reads changed since the plan.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::config::{Customer, Manager};
use crate::dispatch::{Payload, EVENT_APPLY};
use crate::error::{Error, Result};
use crate::github::GitHub;
use crate::policy::PullFacts;
use crate::values::customer::{override_path, CustomerSource};

use super::event::Dispatched;
use super::session::gh_err;

/// The customer's enabled environments, in fleetform.yml's order.
pub fn enabled_in_order(manager: &Manager, customer: &Customer) -> Vec<String> {
    manager
        .environment_names()
        .into_iter()
        .filter(|e| customer.environments.iter().any(|x| x == e))
        .map(str::to_string)
        .collect()
}

/// The environments to plan: those asked for (each must be enabled for the
/// customer), else every enabled one in fleetform.yml's order.
pub(super) fn planned_environments(
    manager: &Manager,
    customer: &Customer,
    wanted: Option<&[String]>,
) -> Result<Vec<String>> {
    let Some(wanted) = wanted else {
        return Ok(enabled_in_order(manager, customer));
    };
    if let Some(e) = wanted.iter().find(|e| !customer.environments.contains(e)) {
        return Err(Error::refused(format!(
            "environment `{e}` is not enabled for `{}`",
            customer.slug
        )));
    }
    Ok(wanted.to_vec())
}

/// Fetches the customer's files of one product view (the manager itself
/// without products) at the dispatched sha, from the registered repo, with
/// the manager's token: only the view's variables file and override names,
/// and for plans that lead to an apply the override of every planned
/// environment whatever the payload lists. Every listed file must be one
/// the manager reads ([`check_foreign`]).
pub(super) async fn fetch_source(
    gh: &GitHub,
    manager: &Manager,
    view: &Manager,
    dispatched: &Dispatched,
    envs: &[String],
) -> Result<CustomerSource> {
    let payload = &dispatched.payload;
    let vars_name = view.config.customer.variables.clone();
    check_foreign(&payload.files, &listable_files(manager))?;
    check_listed(&payload.files, &vars_name)?;
    let allowed = allowed_files(view);
    let wanted: Vec<String> = files_to_fetch(view, dispatched, envs)
        .into_iter()
        .filter(|f| allowed.contains_key(f))
        .collect();
    let (variables, overrides) = fetch_files(gh, payload, &allowed, &wanted, envs).await?;
    let variables =
        variables.ok_or_else(|| Error::failed(format!("`{vars_name}` was not fetched")))?;
    let secrets = fetch_secrets(gh, manager, view, payload, envs).await?;
    Ok(CustomerSource {
        variables: (PathBuf::from(&vars_name), variables),
        overrides,
        secrets,
    })
}

/// The customer's `infra/products.yml` at the dispatched sha (shown path
/// and bytes), `None` when absent: always looked up, whatever the payload
/// lists, so a dispatch cannot hide a subscription change.
pub(super) async fn fetch_products_file(
    gh: &GitHub,
    dispatched: &Dispatched,
) -> Result<Option<(PathBuf, Vec<u8>)>> {
    let payload = &dispatched.payload;
    let file = crate::config::PRODUCTS_FILE;
    let bytes = gh
        .get_file(&payload.customer_repo, file, Some(&payload.sha))
        .await
        .map_err(gh_err)?;
    Ok(bytes.map(|b| (PathBuf::from(file), b)))
}

/// The payload lists no file the manager does not read: checked before any
/// request is made for the dispatch.
pub(super) fn check_payload_files(
    manager: &Manager,
    payload: &crate::dispatch::Payload,
) -> Result<()> {
    check_foreign(&payload.files, &listable_files(manager))?;
    // Without products there is one variables file, which must be listed
    // (each product's is checked when its view is planned).
    if !manager.has_products() {
        check_listed(&payload.files, &manager.config.customer.variables)?;
    }
    Ok(())
}

/// Every file a dispatch may list: the manager's customer files (each
/// product view's variables, overrides and secrets, the products file).
fn listable_files(manager: &Manager) -> BTreeMap<String, Option<String>> {
    manager
        .customer_files()
        .into_iter()
        .map(|f| (f.path, f.environment))
        .collect()
}

/// With `secrets:` in fleetform.yml, the secrets file of every planned
/// environment at the sha (one request each, even when absent); still
/// encrypted: only the plan of that customer × environment decrypts it.
async fn fetch_secrets(
    gh: &GitHub,
    manager: &Manager,
    view: &Manager,
    payload: &Payload,
    envs: &[String],
) -> Result<Overrides> {
    let mut secrets = BTreeMap::new();
    if manager.config.secrets.is_none() {
        return Ok(secrets);
    }
    for env in envs {
        let path = crate::values::customer::secrets_path(view, env);
        let bytes = gh
            .get_file(&payload.customer_repo, &path, Some(&payload.sha))
            .await
            .map_err(gh_err)?;
        if let Some(b) = bytes {
            secrets.insert(env.clone(), (PathBuf::from(path), b));
        }
    }
    Ok(secrets)
}

/// The files of one view: its variables file (`None`) and its override
/// name of each environment.
fn allowed_files(manager: &Manager) -> BTreeMap<String, Option<String>> {
    let vars_name = manager.config.customer.variables.clone();
    std::iter::once((vars_name, None))
        .chain(
            manager
                .config
                .environments
                .iter()
                .map(|e| (override_path(manager, &e.name), Some(e.name.clone()))),
        )
        .collect()
}

/// The payload must list the view's variables file.
fn check_listed(listed: &[String], vars_name: &str) -> Result<()> {
    if !listed.iter().any(|f| f == vars_name) {
        return Err(Error::refused(format!(
            "the dispatch does not list `{vars_name}`"
        )));
    }
    Ok(())
}

/// The payload lists nothing but files the manager reads.
fn check_foreign(listed: &[String], allowed: &BTreeMap<String, Option<String>>) -> Result<()> {
    for f in listed {
        if !allowed.contains_key(f) {
            return Err(Error::refused(format!(
                "the dispatch lists `{}`, which is not a variables file of this manager",
                f.escape_debug()
            )));
        }
    }
    Ok(())
}

/// The payload's files; plans that lead to an apply never trust the
/// payload's file list for overrides: the override of every planned
/// environment is looked up (one request each, even when absent).
fn files_to_fetch(manager: &Manager, dispatched: &Dispatched, envs: &[String]) -> Vec<String> {
    let mut wanted: Vec<String> = dispatched.payload.files.clone();
    if dispatched.event_type == EVENT_APPLY {
        for env in envs {
            let p = override_path(manager, env);
            if !wanted.contains(&p) {
                wanted.push(p);
            }
        }
    }
    wanted
}

type Overrides = BTreeMap<String, (PathBuf, Vec<u8>)>;

/// Fetches `wanted` at the sha, from the customer's repo, with our token:
/// the variables file and the overrides of the planned environments.
async fn fetch_files(
    gh: &GitHub,
    payload: &Payload,
    allowed: &BTreeMap<String, Option<String>>,
    wanted: &[String],
    envs: &[String],
) -> Result<(Option<Vec<u8>>, Overrides)> {
    let mut variables = None;
    let mut overrides = BTreeMap::new();
    for f in wanted {
        let env = allowed[f].clone();
        if env.as_ref().is_some_and(|e| !envs.contains(e)) {
            continue; // another environment's file: not needed here
        }
        let bytes = gh
            .get_file(&payload.customer_repo, f, Some(&payload.sha))
            .await
            .map_err(gh_err)?;
        match (bytes, env) {
            (Some(b), None) => variables = Some(b),
            (Some(b), Some(e)) => {
                overrides.insert(e, (PathBuf::from(f), b));
            }
            (None, Some(_)) if !payload.files.contains(f) => {} // probed, absent
            (None, _) => {
                return Err(Error::failed(format!(
                    "`{f}` does not exist in {} at {}",
                    payload.customer_repo, payload.sha
                )))
            }
        }
    }
    Ok((variables, overrides))
}

/// The first of `files` whose content differs between two commits (by
/// blob sha; a file added or removed counts as changed).
pub(super) async fn first_changed(
    gh: &GitHub,
    repo: &str,
    planned: &str,
    head: &str,
    files: &[String],
) -> Result<Option<String>> {
    for f in files {
        let at_plan = gh
            .get_file_with_sha(repo, f, Some(planned))
            .await
            .map_err(gh_err)?;
        let at_head = gh
            .get_file_with_sha(repo, f, Some(head))
            .await
            .map_err(gh_err)?;
        if at_plan.map(|(_, sha)| sha) != at_head.map(|(_, sha)| sha) {
            return Ok(Some(f.clone()));
        }
    }
    Ok(None)
}

/// The PR facts the environment's gates need (0, 1 or 2 requests).
pub(super) async fn pull_for_gates(
    gh: &GitHub,
    manager: &Manager,
    repo: &str,
    pr: Option<u64>,
    env: &str,
) -> Result<Option<PullFacts>> {
    let policies = &manager.config.policies;
    let (labels, reviews) = (policies.needs_labels(env), policies.needs_reviews(env));
    match pr {
        Some(n) if labels || reviews => gh
            .pull_facts(repo, n, reviews)
            .await
            .map(Some)
            .map_err(gh_err),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{dispatched, manager, payload, registry, strings};
    use super::*;
    use crate::dispatch::EVENT_PLAN;

    #[test]
    fn planned_environments_are_the_asked_ones_or_every_enabled_one_in_config_order() {
        let m = manager();
        let r = registry(&m);
        let (acme, globex) = (r.get("acme").unwrap(), r.get("globex").unwrap());
        // The registry lists production first; fleetform.yml's order wins.
        assert_eq!(
            planned_environments(&m, acme, None).unwrap(),
            strings(&["staging", "production"])
        );
        let asked = strings(&["production", "staging"]);
        assert_eq!(planned_environments(&m, acme, Some(&asked)).unwrap(), asked);
        assert_eq!(
            planned_environments(&m, globex, None).unwrap(),
            strings(&["staging"])
        );
        let err = planned_environments(&m, globex, Some(&strings(&["production"]))).unwrap_err();
        assert!(
            matches!(&err, Error::Refused(m) if m == "environment `production` is not enabled for `globex`"),
            "{err:?}"
        );
    }

    #[test]
    fn the_payload_lists_the_variables_file_and_only_known_names() {
        let m = manager();
        let allowed = listable_files(&m);
        let vars = "infra/variables.yml";
        let listed = strings(&[vars, "infra/variables.production.yml"]);
        assert!(check_listed(&listed, vars).is_ok());
        assert!(check_foreign(&listed, &allowed).is_ok());
        let without = strings(&["infra/variables.staging.yml"]);
        assert!(
            matches!(check_listed(&without, vars), Err(Error::Refused(m)) if m.contains("does not list"))
        );
        let foreign = strings(&[vars, "infra/../secrets.yml"]);
        assert!(
            matches!(check_foreign(&foreign, &allowed), Err(Error::Refused(m)) if m.contains("not a variables file"))
        );
        // Without products, the products file is not one the manager reads.
        let products = strings(&[vars, crate::config::PRODUCTS_FILE]);
        assert!(check_foreign(&products, &allowed).is_err());
    }

    #[test]
    fn applies_look_up_every_planned_override_whatever_the_payload_lists() {
        let m = manager();
        let envs = strings(&["staging", "production"]);
        let files = ["infra/variables.yml", "infra/variables.production.yml"];
        let plan = dispatched(EVENT_PLAN, payload("Acme/infra", &files));
        assert_eq!(files_to_fetch(&m, &plan, &envs), strings(&files));
        let apply = dispatched(EVENT_APPLY, payload("Acme/infra", &files));
        assert_eq!(
            files_to_fetch(&m, &apply, &envs),
            strings(&[
                "infra/variables.yml",
                "infra/variables.production.yml",
                "infra/variables.staging.yml"
            ])
        );
    }
}
