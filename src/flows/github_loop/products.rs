//! A dispatched run over products: which products of the customer it runs
//! (the manager itself without `products:`), the status slot of each
//! customer × product × environment, and what the needed products' plans
//! in this run mean for a dependent one.
//!
//! With products, the customer's `infra/products.yml` is read at the
//! dispatched sha (always, one request), checked as in local mode, and the
//! enabled products run in dependency order; each product × environment
//! has its own sticky comment, commit status (`<context>/<product>/<env>`),
//! sealed bundle and apply.

use crate::config::{Customer, Manager, Unit};
use crate::data::Diagnostic;
use crate::error::Result;
use crate::github::GitHub;

use super::event::Dispatched;
use super::fetch::{enabled_in_order, fetch_products_file};

/// The product views this dispatch runs, in run order: the manager itself
/// without products; else the customer's enabled products, or the
/// problems of its products file.
pub(super) async fn subscribed(
    gh: &GitHub,
    manager: &Manager,
    dispatched: &Dispatched,
    customer: &Customer,
) -> Result<std::result::Result<Vec<Manager>, Vec<Diagnostic>>> {
    if !manager.has_products() {
        return Ok(Ok(vec![manager.clone()]));
    }
    let file = fetch_products_file(gh, dispatched).await?;
    let names = crate::values::products::enabled(
        manager,
        customer,
        file.as_ref().map(|(p, b)| (p.as_path(), b.as_slice())),
    );
    Ok(names.map(|names| names.iter().filter_map(|n| manager.product(n)).collect()))
}

/// The views a plan or an apply runs: each one the customer is pinned for
/// is the manager at the pin's ref, exported under `scratch`
/// ([`crate::config::pins::pinned_view`]); a pin whose ref cannot be read
/// ends the step (nothing of that customer runs at the wrong version).
pub(super) fn at_pins(
    manager: &Manager,
    customer: &Customer,
    views: Vec<Manager>,
    scratch: &std::path::Path,
) -> Result<Vec<Manager>> {
    let mut out = Vec::with_capacity(views.len());
    for (i, view) in views.into_iter().enumerate() {
        let dir = scratch.join(i.to_string());
        match crate::config::pins::pinned_view(manager, &view, customer, &dir) {
            Ok(Some(pinned)) => out.push(pinned),
            Ok(None) => out.push(view),
            Err(e) => return Err(crate::error::Error::failed(e)),
        }
    }
    Ok(out)
}

/// The name of a unit's commit status under the manager's context, and
/// what its sealed bundle is bound to: `<env>`, or `<product>/<env>`
/// ([`Unit::place`]).
pub(super) fn slot(product: Option<&str>, env: &str) -> String {
    Unit::new("", product, env).place()
}

/// Every slot of the customer, for the combined status: each enabled
/// environment in fleetform.yml's order, each view that exists in it.
pub(super) fn slots(manager: &Manager, customer: &Customer, views: &[Manager]) -> Vec<String> {
    enabled_in_order(manager, customer)
        .iter()
        .flat_map(|env| {
            views
                .iter()
                .filter(|v| v.environment(env).is_some())
                .map(move |v| slot(v.product.as_deref(), env))
        })
        .collect()
}

/// How one unit's plan in this run ended, for the products that need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Planned {
    /// Planned; `true` when the plan changes outputs.
    Outputs(bool),
    /// Waits for a product it needs to be applied first.
    Waiting,
    Failed,
}

/// Why a dependent unit does not plan now.
pub(super) enum Blocked {
    Waiting(String),
    Failed(String),
}

/// What this run's plans of the products `view` needs say for `env`: the
/// needed products whose plans change outputs (the dependent's plan then
/// waits for their apply), or why it cannot plan.
pub(super) fn settle(
    planned: &[(Unit, Planned)],
    view: &Manager,
    customer: &str,
    env: &str,
) -> std::result::Result<Vec<String>, Blocked> {
    let mut awaiting = Vec::new();
    for dep in view.needs().keys() {
        let unit = Unit::new(customer, Some(dep), env);
        match planned.iter().find(|(u, _)| *u == unit).map(|(_, o)| *o) {
            Some(Planned::Outputs(true)) => awaiting.push(dep.clone()),
            Some(Planned::Outputs(false)) => {}
            Some(Planned::Waiting) => {
                return Err(Blocked::Waiting(format!(
                    "waits for `{dep}`, which waits for a product it needs"
                )))
            }
            Some(Planned::Failed) => {
                return Err(Blocked::Failed(format!(
                    "needs `{dep}`, whose plan failed here"
                )))
            }
            None => {
                return Err(Blocked::Failed(format!(
                    "needs `{dep}`, which is not enabled or not planned here"
                )))
            }
        }
    }
    Ok(awaiting)
}

/// The digest of one environment's plans of every product, in run order:
/// what the plan job hands the apply job (and the approver sees), so the
/// apply refuses a set of plans that is not the one planned.
pub(super) fn combined_digest(plans: impl Iterator<Item = (String, String)>) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for (product, digest) in plans {
        h.update(format!("{product} {digest}\n").as_bytes());
    }
    crate::util::fs::hex(&h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_name_the_environment_then_the_product() {
        assert_eq!(slot(None, "staging"), "staging");
        assert_eq!(slot(Some("network"), "staging"), "network/staging");
    }
}
