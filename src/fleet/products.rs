//! A fleet run over products: every selected customer × product ×
//! environment, products in dependency order (a product's plans start once
//! the plans of the products it needs are done, for every customer), each
//! product with its own engine (schema, value layers, root module, state).
//!
//! Per customer the enabled products come first (see
//! [`crate::values::products`]); a customer whose list is wrong fails alone.
//! A plan whose needed product failed (or was skipped) for the same
//! customer × environment fails with that reason; one whose needed product
//! plans to change outputs is made with the current outputs and marked as
//! awaiting that product's apply.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::Activity;
use crate::config::{Customer, Manager, Unit};
use crate::context::Context;
use crate::data::Diagnostic;
use crate::error::Result;
use crate::output::Output;

use super::run::{Outcome, Row, SourceFn};

/// How the plans of a run are made.
pub struct RunSettings<'a> {
    pub jobs: usize,
    pub out_dir: &'a Path,
    pub refresh_only: bool,
    /// The audit action (`plan`, `drift`).
    pub action: &'a str,
    pub terraform: Option<&'a Path>,
    /// Refuse pairs with secrets instead of decrypting them (impact).
    pub withhold_secrets: bool,
}

/// Where a customer's `infra/products.yml` comes from (`None`: absent).
pub type ProductsFileFn<'s> =
    dyn Fn(&Customer) -> std::result::Result<Option<(PathBuf, Vec<u8>)>, Diagnostic> + 's;

/// Where a product's customer files come from, per product view.
pub type SourceFor<'s> = dyn Fn(&Manager) -> Box<SourceFn<'s>> + 's;

/// Plans the selection: product by product ([`run`]) with products, else
/// with the manager as the one view, pinned customers at their pin.
pub fn run_views(
    manager: &Manager,
    selected: &[(&Customer, Vec<String>)],
    products_file: &ProductsFileFn<'_>,
    source_for: &SourceFor<'_>,
    settings: &RunSettings<'_>,
    cx: &Context,
) -> Result<Vec<Row>> {
    if manager.has_products() {
        return run(manager, selected, products_file, source_for, settings, cx);
    }
    let mut rows = Vec::new();
    run_at_pins(
        manager,
        manager,
        selected.to_vec(),
        &mut rows,
        source_for,
        settings,
        cx,
    )?;
    Ok(ordered(manager, selected, rows))
}

/// Plans the selection, product by product; rows come back per customer,
/// then environment, then product, in the run's order.
pub fn run(
    manager: &Manager,
    selected: &[(&Customer, Vec<String>)],
    products_file: &ProductsFileFn<'_>,
    source_for: &SourceFor<'_>,
    settings: &RunSettings<'_>,
    cx: &Context,
) -> Result<Vec<Row>> {
    let (enabled, mut rows) = subscriptions(manager, selected, products_file, &cx.out);
    for view in manager.products() {
        let name = view.product.clone().unwrap_or_default();
        let pairs: Vec<(&Customer, Vec<String>)> = selected
            .iter()
            .filter(|(c, _)| {
                enabled
                    .get(&c.slug)
                    .is_some_and(|list| list.contains(&name))
            })
            .map(|(c, envs)| {
                let envs = envs
                    .iter()
                    .filter(|e| view.environment(e).is_some())
                    .cloned()
                    .collect();
                (*c, envs)
            })
            .collect();
        run_at_pins(manager, &view, pairs, &mut rows, source_for, settings, cx)?;
    }
    Ok(in_order(manager, selected, rows))
}

/// Runs `pairs` of `view` (of the manager `live`): a customer pinned for
/// this view runs alone, with the manager at its pin
/// ([`crate::config::pins::pinned_view`]); one whose pin cannot be read
/// fails, named, and runs nothing at the wrong version. Rows land in `rows`
/// (whose plans of needed products settle this view's).
pub fn run_at_pins(
    live: &Manager,
    view: &Manager,
    pairs: Vec<(&Customer, Vec<String>)>,
    rows: &mut Vec<Row>,
    source_for: &SourceFor<'_>,
    settings: &RunSettings<'_>,
    cx: &Context,
) -> Result<()> {
    let product = view.product.as_deref();
    let (pinned, plain): (Vec<_>, Vec<_>) = pairs
        .into_iter()
        .partition(|(c, _)| c.pin_for(product).is_some());
    run_view(view, &plain, rows, source_for, settings, cx)?;
    for (c, envs) in pinned {
        let scratch = tempfile::tempdir().map_err(|e| {
            crate::error::Error::failed(format!("a scratch folder for a pinned view: {e}"))
        })?;
        match crate::config::pins::pinned_view(live, view, c, scratch.path()) {
            Ok(at_pin) => {
                let at_pin = at_pin.unwrap_or_else(|| view.clone());
                run_view(&at_pin, &[(c, envs)], rows, source_for, settings, cx)?;
            }
            Err(error) => {
                cx.out.error(&error);
                rows.extend(envs.into_iter().map(|e| Row {
                    customer: c.slug.clone(),
                    product: view.product.clone(),
                    environment: e,
                    outcome: Outcome::Failed {
                        error: error.clone(),
                        problems: Vec::new(),
                    },
                }));
            }
        }
    }
    Ok(())
}

/// One engine of `view` over `pairs`.
pub fn run_view(
    view: &Manager,
    pairs: &[(&Customer, Vec<String>)],
    rows: &mut Vec<Row>,
    source_for: &SourceFor<'_>,
    settings: &RunSettings<'_>,
    cx: &Context,
) -> Result<()> {
    let mut engine = crate::engine::Engine::with_terraform(view, settings.terraform)?;
    engine.withhold_secrets = settings.withhold_secrets;
    let source = source_for(view);
    let mut fleet = super::prepare(&engine, pairs, &*source, &cx.out);
    let needs = view.needs();
    if !needs.is_empty() {
        fleet.settle_needs(|c, env| upstream(rows, &needs, c, env));
    }
    rows.extend(super::execute(
        &mut engine,
        fleet,
        settings.jobs,
        settings.out_dir,
        settings.refresh_only,
        settings.action,
        cx,
    ));
    Ok(())
}

/// The rows of a run over `selected`, in its order: customer, environment,
/// product.
pub fn ordered(
    manager: &Manager,
    selected: &[(&Customer, Vec<String>)],
    rows: Vec<Row>,
) -> Vec<Row> {
    in_order(manager, selected, rows)
}

/// Each selected customer's enabled products; a customer whose products
/// file is wrong gets failed rows (one per allowed product × environment)
/// and no products. Revoked customers keep every allowed product, so their
/// rows say "skipped".
pub fn subscriptions(
    manager: &Manager,
    selected: &[(&Customer, Vec<String>)],
    products_file: &ProductsFileFn<'_>,
    out: &Output,
) -> (BTreeMap<String, Vec<String>>, Vec<Row>) {
    let mut enabled = BTreeMap::new();
    let mut rows = Vec::new();
    for (c, envs) in selected {
        let allowed: Vec<String> = c.products.clone().unwrap_or_else(|| {
            manager
                .product_names()
                .iter()
                .map(|s| s.to_string())
                .collect()
        });
        let result = if c.takes_part(Activity::Plan) {
            products_file(c).map_err(|d| vec![d]).and_then(|file| {
                crate::values::products::enabled(
                    manager,
                    c,
                    file.as_ref().map(|(p, b)| (p.as_path(), b.as_slice())),
                )
            })
        } else {
            Ok(allowed.clone())
        };
        match result {
            Ok(list) => {
                enabled.insert(c.slug.clone(), list);
            }
            Err(problems) => {
                out.diagnostics(&problems);
                let error = crate::error::Error::Values(problems.clone()).short();
                for p in &allowed {
                    for e in envs {
                        rows.push(Row {
                            customer: c.slug.clone(),
                            product: Some(p.clone()),
                            environment: e.clone(),
                            outcome: Outcome::Failed {
                                error: error.clone(),
                                problems: problems.clone(),
                            },
                        });
                    }
                }
            }
        }
    }
    (enabled, rows)
}

/// What the plans of the needed products say for one customer ×
/// environment: a failure, or the products whose plans change outputs.
fn upstream(
    rows: &[Row],
    needs: &BTreeMap<String, BTreeMap<String, String>>,
    c: &Customer,
    env: &str,
) -> std::result::Result<Vec<String>, Outcome> {
    let failed = |error: String| Outcome::Failed {
        error,
        problems: Vec::new(),
    };
    let mut awaiting = Vec::new();
    for dep in needs.keys() {
        let unit = Unit::new(&c.slug, Some(dep), env);
        let row = rows.iter().find(|r| r.unit() == unit);
        match row.map(|r| &r.outcome) {
            Some(Outcome::Planned { summary, .. }) => {
                if !summary.outputs.is_empty() {
                    awaiting.push(dep.clone());
                }
            }
            Some(Outcome::Failed { error, .. }) => {
                return Err(failed(format!(
                    "needs `{dep}`, whose plan failed here ({error})"
                )));
            }
            Some(Outcome::Skipped { reason }) => {
                return Err(Outcome::Skipped {
                    reason: format!("waits for `{dep}` ({reason})"),
                });
            }
            None => return Err(failed(format!("needs `{dep}`, which was not planned here"))),
        }
    }
    Ok(awaiting)
}

/// Rows per selected customer, then the manager's environment order, then
/// the products' run order.
fn in_order(
    manager: &Manager,
    selected: &[(&Customer, Vec<String>)],
    mut rows: Vec<Row>,
) -> Vec<Row> {
    let customer = |slug: &str| selected.iter().position(|(c, _)| c.slug == slug);
    let envs = manager.environment_names();
    let env = |e: &str| envs.iter().position(|x| *x == e);
    let order: Vec<Option<String>> = manager.products().into_iter().map(|v| v.product).collect();
    let product = |p: &Option<String>| order.iter().position(|x| x == p);
    rows.sort_by_key(|r| {
        (
            customer(&r.customer),
            env(&r.environment),
            product(&r.product),
        )
    });
    rows
}

/// The products customer `c` enables (its local `infra/products.yml`,
/// within what the manager allows) when `product` is not among them;
/// `None` when it is. The one rule `plan`, `render` and the day-2
/// operations check a product flag against.
pub fn missing_product(
    manager: &Manager,
    registry: &crate::config::Registry,
    c: &Customer,
    product: &str,
) -> Result<Option<Vec<String>>> {
    use crate::error::Error;
    let file = super::local_products_file(registry)(c).map_err(|d| Error::Values(vec![d]))?;
    let enabled = crate::values::products::enabled(
        manager,
        c,
        file.as_ref().map(|(p, b)| (p.as_path(), b.as_slice())),
    )
    .map_err(Error::Values)?;
    Ok((!enabled.iter().any(|p| p == product)).then_some(enabled))
}
