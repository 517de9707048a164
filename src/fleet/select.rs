//! Which customer × environment pairs a fleet run covers: `--customer`
//! names resolved against the registry, `--env` names checked against the
//! manager, each customer's environments in the manager's order.

use std::collections::BTreeMap;

use crate::config::{Customer, Manager, Registry};
use crate::error::{Error, Result};

/// Resolves `--customer` names against the registry (all when empty).
pub fn select<'r>(registry: &'r Registry, wanted: Option<&[String]>) -> Result<Vec<&'r Customer>> {
    match wanted {
        None => Ok(registry.customers.iter().collect()),
        Some(wanted) => wanted
            .iter()
            .map(|w| registry.require(w).map_err(Error::usage))
            .collect(),
    }
}

/// Checks `--env` names against the manager.
pub fn check_environments(manager: &Manager, envs: Option<&[String]>) -> Result<()> {
    for e in envs.unwrap_or_default() {
        if manager.environment(e).is_none() {
            return Err(Error::usage(format!(
                "unknown environment `{e}`; fleetform.yml declares: {}",
                manager.environment_names().join(", ")
            )));
        }
    }
    Ok(())
}

/// The words for an environment the manager declares that a customer does
/// not have (the same in `render`, `plan` and `drift`).
pub fn not_enabled(c: &Customer, env: &str) -> String {
    format!(
        "environment `{env}` is not enabled for `{}` (enabled: {})",
        c.slug,
        c.environments.join(", ")
    )
}

/// For customers named on the command line with `--env`: every asked
/// environment a customer does not have. `Err` when that leaves nothing to
/// run at all (a usage error saying what was asked and why), else the
/// gaps to report while the rest runs.
pub fn check_named(
    action: &str,
    selected: &[(&Customer, Vec<String>)],
    filter: Option<&[String]>,
) -> Result<Vec<String>> {
    let Some(filter) = filter else {
        return Ok(Vec::new());
    };
    let gaps: Vec<String> = selected
        .iter()
        .flat_map(|(c, _)| {
            filter
                .iter()
                .filter(|e| !c.environments.contains(e))
                .map(|e| not_enabled(c, e))
        })
        .collect();
    if !selected.is_empty() && selected.iter().all(|(_, envs)| envs.is_empty()) {
        return Err(Error::usage(format!(
            "nothing to {action}: {}",
            gaps.join("; ")
        )));
    }
    Ok(gaps)
}

/// The environments to run for a customer, in the manager's order,
/// restricted to the customer's and to `filter`.
pub fn environments_for(manager: &Manager, c: &Customer, filter: Option<&[String]>) -> Vec<String> {
    manager
        .environment_names()
        .into_iter()
        .filter(|e| c.environments.iter().any(|x| x == e))
        .filter(|e| filter.is_none_or(|f| f.iter().any(|x| x == e)))
        .map(str::to_string)
        .collect()
}

/// Every customer with its environments (see [`environments_for`]).
pub fn pairs<'r>(
    manager: &Manager,
    customers: Vec<&'r Customer>,
    filter: Option<&[String]>,
) -> Vec<(&'r Customer, Vec<String>)> {
    customers
        .into_iter()
        .map(|c| (c, environments_for(manager, c, filter)))
        .collect()
}

/// The pairs of a shard (customer → its listed environments, or all of
/// them when `None`), in the shard's order.
pub fn shard_pairs<'r>(
    manager: &Manager,
    registry: &'r Registry,
    shard: &BTreeMap<String, Option<Vec<String>>>,
) -> Result<Vec<(&'r Customer, Vec<String>)>> {
    shard
        .iter()
        .map(|(slug, envs)| {
            let c = registry
                .require(slug)
                .map_err(|m| Error::usage(format!("--shard: {m}")))?;
            Ok((c, environments_for(manager, c, envs.as_deref())))
        })
        .collect()
}

/// Parses a shard (what `fleetform matrix` writes): a JSON list of
/// `customer/environment` ([`crate::config::Unit::parse`], the syntax of
/// every shard) or of whole customers (`customer`).
pub fn parse_shard(s: &str) -> Result<BTreeMap<String, Option<Vec<String>>>> {
    let bad = |why: String| Error::usage(format!("--shard: {why}"));
    let items: Vec<String> = serde_json::from_str(s).map_err(|e| {
        bad(format!(
            "a JSON list of \"customer/environment\" strings, as `fleetform matrix` writes: {e}"
        ))
    })?;
    if items.len() > 10_000 {
        return Err(bad("more than 10,000 entries".into()));
    }
    let mut out: BTreeMap<String, Option<Vec<String>>> = BTreeMap::new();
    for i in items {
        if !i.contains('/') {
            out.insert(i, None);
            continue;
        }
        let unit = crate::config::Unit::parse(&i).map_err(bad)?;
        if unit.product.is_some() {
            return Err(bad(format!(
                "`{i}` names a product; this command runs every product of a pair"
            )));
        }
        if let Some(list) = out.entry(unit.customer).or_insert_with(|| Some(Vec::new())) {
            list.push(unit.environment);
        }
    }
    Ok(out)
}
