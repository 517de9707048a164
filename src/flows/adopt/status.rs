//! Where each pair stands in its adoption, from the manager repo (its
//! mapping file), the results folder (its adoption plan) and the records
//! store (adopted, released).

use std::path::{Path, PathBuf};

use super::record::Event;
use super::Mapping;
use crate::config::Activity;
use crate::config::{Manager, Unit};
use crate::data::adoption::Verdict;
use crate::error::{Error, Result};
use crate::report::adopt::{PairStatus, Stage};

/// Which pairs `status` shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub customers: Vec<String>,
    pub environment: Option<String>,
    pub product: Option<String>,
    pub out: PathBuf,
}

/// The status of every active customer × environment `f` selects; with
/// `products:` and no product named, every product the registry lets the
/// customer have (fleetform.yml's order). `records`: the records to read
/// them from (a report's read-only view); None: the store fleetform.yml
/// names.
pub fn status(
    f: &Filter,
    manager_dir: &Path,
    net: &crate::net::Settings,
    records: Option<&crate::records::Store>,
) -> Result<Vec<PairStatus>> {
    let (manager, registry) = crate::config::load(manager_dir)?;
    let views = match (&f.product, manager.has_products()) {
        (None, true) => manager.products(),
        (p, _) => vec![manager.select_product(p.as_deref()).map_err(Error::usage)?],
    };
    for c in &f.customers {
        registry
            .require(c)
            .map_err(|m| Error::usage(m.to_string()))?;
    }
    // Every product view has the manager's `records:`: one store serves all.
    let store = records
        .cloned()
        .unwrap_or_else(|| crate::records::Store::for_manager(&manager, net));
    let mut rows = Vec::new();
    for customer in registry
        .customers
        .iter()
        .filter(|c| c.takes_part(Activity::Adopt))
    {
        if !f.customers.is_empty() && !f.customers.contains(&customer.slug) {
            continue;
        }
        for view in &views {
            if !allowed(customer, view) {
                continue;
            }
            for env in &customer.environments {
                if f.environment.as_ref().is_some_and(|e| e != env)
                    || view.environment(env).is_none()
                {
                    continue;
                }
                let unit = view.unit(&customer.slug, env);
                rows.push(pair_status(view, &store, &unit, &f.out)?);
            }
        }
    }
    Ok(rows)
}

/// Whether the registry lets `customer` have `view`'s product (always,
/// without products).
fn allowed(customer: &crate::config::Customer, view: &Manager) -> bool {
    match (&view.product, &customer.products) {
        (Some(p), Some(list)) => list.contains(p),
        _ => true,
    }
}

/// One pair's status.
pub(super) fn pair_status(
    view: &Manager,
    store: &crate::records::Store,
    unit: &Unit,
    out_dir: &Path,
) -> Result<PairStatus> {
    let row = |stage: Stage, detail: String| PairStatus {
        unit: unit.clone(),
        stage,
        detail,
        link: None,
    };
    if let Some(r) = super::record::newest(store, unit)? {
        let (stage, word) = match r.event {
            Event::Adopted => (Stage::Adopted, "adopted"),
            Event::Released => (Stage::Released, "released"),
        };
        let link = [&r.pull_request, &r.run_url]
            .into_iter()
            .flatten()
            .find(|u| u.starts_with("https://"))
            .cloned();
        return Ok(PairStatus {
            link,
            ..row(
                stage,
                format!(
                    "{word} by {} at {}, {} (plan sha256:{})",
                    r.actor,
                    r.time,
                    crate::util::text::count(r.addresses.len(), "address", "addresses"),
                    short(&r.plan_sha256)
                ),
            )
        });
    }
    if let Some(p) = super::plan::kept(&out_dir.join(unit.rel_dir())) {
        let d = &p.diff;
        let stage = match d.verdict() {
            Verdict::Ready => Stage::ZeroDiff,
            Verdict::Review => Stage::ToReview,
            Verdict::Refused => Stage::Refused,
        };
        return Ok(row(
            stage,
            format!(
                "{} to import, {} to update, {} refused (plan sha256:{})",
                d.imported().len(),
                d.updates.len(),
                d.refused.len(),
                short(&p.plan_sha256)
            ),
        ));
    }
    Ok(match Mapping::read(view, unit) {
        Ok(Some(m)) => row(
            Stage::Mapped,
            format!(
                "{} in {}",
                crate::util::text::count(m.imports.len(), "object", "objects"),
                m.shown.display()
            ),
        ),
        Ok(None) => row(Stage::NotStarted, String::new()),
        Err(e) => row(Stage::Mapped, format!("the mapping does not read: {e}")),
    })
}

fn short(digest: &str) -> &str {
    &digest[..digest.len().min(12)]
}
