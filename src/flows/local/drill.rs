//! Recovery drills (`fleetform state drill`, a scheduled job): for each
//! selected customer × environment (or a sample a run, the next ones each
//! day, so every pair is proven over a window), and with `products:` each
//! product the customer has there, the newest version of its state is
//! copied to a scratch key under `fleetform-drill/<run>/` (in the state
//! bucket, or the local backend's state folder), and planned against that
//! copy with its current inputs, products in dependency order. A plan that
//! changes nothing proves the version restores; a plan that changes
//! something, or a version that cannot be read, is a failure, with the
//! pair in the report, the audit log and the records (the dashboard's
//! "last proven restorable") and a `drill_failed` notification. One bad
//! pair never stops the others. The scratch copies are removed after; the
//! states themselves are only read.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::drill_scratch::Scratch;
use crate::config::{Customer, Manager};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::fleet::{Outcome, Row};
use crate::flows::github_loop::customer_files::DefaultBranch;

/// What `state drill` was asked.
#[derive(Debug, Clone)]
pub struct Drill {
    pub customer: Option<String>,
    pub environment: Option<String>,
    /// Pairs a run (all when `None`).
    pub sample: Option<usize>,
    pub out: PathBuf,
    pub terraform: Option<PathBuf>,
    pub json: bool,
}

/// One pair's drill (a product's, with `products:`).
#[derive(Debug, Clone, Serialize)]
pub struct Proof {
    pub customer: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    pub environment: String,
    /// The version drilled, when one was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<u64>,
    pub proven: bool,
    /// What the drill found.
    pub result: String,
}

impl Proof {
    fn unit(&self) -> crate::config::Unit {
        crate::config::Unit::new(&self.customer, self.product.as_deref(), &self.environment)
    }
}

/// Drills the selected pairs, reports them, and fails when any failed.
pub fn drill(d: &Drill, manager_dir: &Path, cx: &Context) -> Result<()> {
    let (manager, registry) = crate::config::load(manager_dir)?;
    let pairs = selected(d, &manager, &registry)?;
    let run = run_id()?;
    let rt = crate::github::runtime().map_err(|e| Error::failed(e.to_string()))?;
    let inputs = Inputs::new(&rt, &registry, cx)?;
    let (enabled, mut rows) = products_of(&manager, &pairs, &inputs, cx);
    let mut scratch = Scratch::new(&manager, &cx.net, &run);
    // A customer whose products cannot be read: each of its pairs failed.
    let mut proofs: Vec<Proof> = rows.iter().map(unread_products).collect();
    let copied = copy_all(&manager, &pairs, &enabled, &mut scratch, &mut proofs);
    plan_copies(d, &copied, &inputs, &mut rows, cx);
    let where_ = scratch.describe();
    let removed = scratch.remove();
    judge(&mut proofs, &rows);
    keep(&manager, &proofs, cx);
    show(d, &proofs, cx);
    if let Err(e) = removed {
        return Err(Error::failed(format!(
            "the drill's scratch copies under {where_} were not all removed: {e}; remove them by hand"
        )));
    }
    let failed = proofs.iter().filter(|p| !p.proven).count();
    match failed {
        0 => Ok(()),
        n => Err(Error::failed(format!(
            "{n} of {} not proven restorable",
            crate::util::text::count(proofs.len(), "pair", "pairs")
        ))),
    }
}

/// Per view (the manager, or each product in dependency order): the
/// pairs whose newest version was copied, against their scratch view.
type Copied<'r> = Vec<(Manager, Vec<(&'r Customer, Vec<String>)>)>;

/// Copies the newest version of each selected pair's state (with
/// `products:`, of each product the customer has there); a proof each.
fn copy_all<'r>(
    manager: &Manager,
    pairs: &[(&'r Customer, String)],
    enabled: &std::collections::BTreeMap<String, Vec<String>>,
    scratch: &mut Scratch,
    proofs: &mut Vec<Proof>,
) -> Copied<'r> {
    let mut copied: Copied<'r> = Vec::new();
    for view in manager.products() {
        let mut here: Vec<(&Customer, Vec<String>)> = Vec::new();
        for (c, env) in pairs {
            let has = view.environment(env).is_some()
                && view
                    .product
                    .as_ref()
                    .is_none_or(|p| enabled.get(&c.slug).is_some_and(|l| l.contains(p)));
            if !has {
                continue;
            }
            let to = scratch.view_of(&view).state_key(&c.slug, env);
            let mut proof = Proof {
                customer: c.slug.clone(),
                product: view.product.clone(),
                environment: env.clone(),
                version: None,
                serial: None,
                proven: false,
                result: String::new(),
            };
            match scratch.copy_newest(&view.state_key(&c.slug, env), &to) {
                Ok((version, serial)) => {
                    (proof.version, proof.serial) = (Some(version), Some(serial));
                    proof.proven = true;
                    here.push((c, vec![env.clone()]));
                }
                Err(why) => proof.result = why,
            }
            proofs.push(proof);
        }
        copied.push((scratch.view_of(&view), here));
    }
    copied
}

/// The failed proof of a pair whose customer's products cannot be read.
fn unread_products(r: &Row) -> Proof {
    Proof {
        customer: r.customer.clone(),
        product: r.product.clone(),
        environment: r.environment.clone(),
        version: None,
        serial: None,
        proven: false,
        result: match &r.outcome {
            Outcome::Failed { error, .. } => format!("its products could not be read: {error}"),
            _ => "its products could not be read".into(),
        },
    }
}

/// Where the pairs' current inputs come from: their checkouts (the
/// registry's `path`), or, for a customer with a repo and no path, its
/// default branch on GitHub read with the customer App, as drift.
struct Inputs<'a> {
    rt: &'a tokio::runtime::Runtime,
    registry: &'a crate::config::Registry,
    repos: Option<crate::github::CustomerRepos>,
}

impl<'a> Inputs<'a> {
    fn new(
        rt: &'a tokio::runtime::Runtime,
        registry: &'a crate::config::Registry,
        cx: &Context,
    ) -> Result<Self> {
        use crate::flows::github_loop::session::{access, customer_repos_or};
        let repos = customer_repos_or(rt, access::FILES, None, cx)?;
        Ok(Inputs {
            rt,
            registry,
            repos,
        })
    }

    fn remote(&self) -> Option<DefaultBranch<'_>> {
        self.repos
            .as_ref()
            .map(|repos| DefaultBranch { rt: self.rt, repos })
    }
}

/// With `products:`, each selected customer's enabled products (its
/// `infra/products.yml`, from its checkout or default branch); a customer
/// whose list is wrong gets failed rows. Without, none.
fn products_of(
    manager: &Manager,
    pairs: &[(&Customer, String)],
    inputs: &Inputs<'_>,
    cx: &Context,
) -> (std::collections::BTreeMap<String, Vec<String>>, Vec<Row>) {
    if !manager.has_products() {
        return Default::default();
    }
    let mut grouped: Vec<(&Customer, Vec<String>)> = Vec::new();
    for (c, env) in pairs {
        match grouped.iter_mut().find(|(x, _)| x.slug == c.slug) {
            Some((_, envs)) => envs.push(env.clone()),
            None => grouped.push((c, vec![env.clone()])),
        }
    }
    let remote = inputs.remote();
    let local_file = crate::fleet::local_products_file(inputs.registry);
    let products_file = |c: &Customer| match (remote.as_ref(), DefaultBranch::repo_of(c)) {
        (Some(r), Some(repo)) => r.products_file(repo),
        _ => local_file(c),
    };
    crate::fleet::products::subscriptions(manager, &grouped, &products_file, &cx.out)
}

/// The selected pairs, in order; with `--sample N`, N of them starting
/// where today's share starts, so consecutive days cover them all.
fn selected<'r>(
    d: &Drill,
    manager: &crate::config::Manager,
    registry: &'r crate::config::Registry,
) -> Result<Vec<(&'r Customer, String)>> {
    let wanted = d.customer.as_ref().map(|c| vec![c.clone()]);
    let envs = d.environment.as_ref().map(|e| vec![e.clone()]);
    crate::fleet::check_environments(manager, envs.as_deref())?;
    let customers = crate::fleet::select(registry, wanted.as_deref())?
        .into_iter()
        .filter(|c| c.takes_part(crate::config::Activity::Drift))
        .collect();
    let all: Vec<(&Customer, String)> = crate::fleet::pairs(manager, customers, envs.as_deref())
        .into_iter()
        .flat_map(|(c, envs)| envs.into_iter().map(move |e| (c, e)))
        .collect();
    let day = jiff::Timestamp::now().as_second().div_euclid(86_400) as usize;
    Ok(sample(all, d.sample, day))
}

/// `n` of `all` (all when `None` or more), the `day`th share of them.
fn sample<T>(all: Vec<T>, n: Option<usize>, day: usize) -> Vec<T> {
    let len = all.len();
    match n {
        Some(n) if n > 0 && n < len => {
            let start = (day % len.div_ceil(n)) * n;
            let mut all = all;
            all.rotate_left(start);
            all.truncate(n);
            all
        }
        _ => all,
    }
}

fn run_id() -> Result<String> {
    let mut id = [0u8; 6];
    getrandom::fill(&mut id).map_err(|e| Error::failed(format!("no randomness: {e}")))?;
    Ok(crate::util::fs::hex(&id))
}

/// Plans the copied pairs of each view against their scratch copies, in
/// the views' order (a product after those it needs); rows land in `rows`.
fn plan_copies(
    d: &Drill,
    copied: &Copied<'_>,
    inputs: &Inputs<'_>,
    rows: &mut Vec<Row>,
    cx: &Context,
) {
    let remote = inputs.remote();
    let local = crate::fleet::local_sources(inputs.registry);
    let source_for: &crate::fleet::products::SourceFor<'_> = &|view: &Manager| {
        let local = local(view);
        let view = view.clone();
        let remote = remote.as_ref();
        Box::new(
            move |c: &Customer, envs: &[String]| match (remote, DefaultBranch::repo_of(c)) {
                (Some(r), Some(repo)) => r.files(&view, repo, envs),
                _ => local(c, envs),
            },
        ) as Box<crate::fleet::SourceFn<'_>>
    };
    for (view, pairs) in copied.iter().filter(|(_, p)| !p.is_empty()) {
        // A results folder (and provider cache) of each product's own: one
        // product's run never installs into the cache another's filled.
        let out = d
            .out
            .join("drill")
            .join(view.product.as_deref().unwrap_or("_"));
        let settings = crate::fleet::products::RunSettings {
            jobs: crate::fleet::terraform_jobs(),
            out_dir: &out,
            refresh_only: false,
            action: "plan",
            terraform: d.terraform.as_deref(),
            withhold_secrets: false,
        };
        if let Err(e) =
            crate::fleet::products::run_view(view, pairs, rows, source_for, &settings, cx)
        {
            rows.extend(failed_rows(view, pairs, &e.short()));
        }
    }
}

fn failed_rows(view: &Manager, copied: &[(&Customer, Vec<String>)], error: &str) -> Vec<Row> {
    copied
        .iter()
        .flat_map(|(c, envs)| {
            envs.iter().map(|e| Row {
                customer: c.slug.clone(),
                product: view.product.clone(),
                environment: e.to_string(),
                outcome: Outcome::Failed {
                    error: error.to_string(),
                    problems: Vec::new(),
                },
            })
        })
        .collect()
}

/// Each copied pair's verdict from its plan: no change proves it.
fn judge(proofs: &mut [Proof], rows: &[Row]) {
    for p in proofs.iter_mut().filter(|p| p.proven) {
        let unit = p.unit();
        let row = rows.iter().find(|r| r.unit() == unit);
        let (proven, result) = match row.map(|r| &r.outcome) {
            Some(Outcome::Planned { summary, .. }) if !summary.has_changes => {
                (true, "proven restorable: its plan changes nothing".to_string())
            }
            Some(Outcome::Planned { summary, .. }) => (
                false,
                format!(
                    "its plan would change the cloud ({}): the newest version is not what the cloud holds",
                    summary.counts()
                ),
            ),
            Some(Outcome::Failed { error, .. }) => (false, format!("its plan failed: {error}")),
            Some(Outcome::Skipped { reason }) => (false, format!("not planned: {reason}")),
            None => (false, "not planned".to_string()),
        };
        p.proven = proven;
        p.result = result;
    }
}

/// Each pair's audit event (kept in the records too: the dashboard's
/// "last proven restorable"), and a notification of each failure.
fn keep(manager: &crate::config::Manager, proofs: &[Proof], cx: &Context) {
    for p in proofs {
        let unit = p.unit();
        let detail = match (&p.version, p.serial) {
            (Some(v), Some(s)) => format!("drill of version {v} (serial {s}): {}", p.result),
            _ => format!("drill: {}", p.result),
        };
        let result = if p.proven { "ok" } else { "failed" };
        cx.record(
            crate::audit::Entry::now("drill", result)
                .unit(&unit)
                .detail(detail),
        );
        if !p.proven {
            let notice = crate::notify::Notice::new(
                crate::config::NotifyEvent::DrillFailed,
                format!("recovery drill failed: {}", p.result),
            )
            .unit(&p.customer, &p.environment, p.product.as_deref());
            cx.notify(manager, &notice);
        }
    }
}

/// The report: a line per pair, or JSON.
fn show(d: &Drill, proofs: &[Proof], cx: &Context) {
    if d.json {
        cx.out.json(proofs).expect("serialisable");
        return;
    }
    let rows: Vec<Vec<String>> = proofs
        .iter()
        .map(|p| {
            vec![
                p.unit().to_string(),
                p.version.clone().unwrap_or_else(|| "-".into()),
                p.serial.map_or("-".into(), |s| s.to_string()),
                match p.proven {
                    true => "proven".into(),
                    false => "FAILED".into(),
                },
                p.result.clone(),
            ]
        })
        .collect();
    cx.out.result(
        crate::output::table(&["pair", "version", "serial", "drill", "result"], &rows).trim_end(),
    );
}

#[cfg(test)]
mod tests {
    use super::sample;

    #[test]
    fn a_sample_a_day_covers_every_pair() {
        let all: Vec<u32> = (0..7).collect();
        let mut seen: Vec<u32> = (0..3)
            .flat_map(|day| sample(all.clone(), Some(3), day))
            .collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen, all);
        assert_eq!(sample(all.clone(), Some(3), 0), [0, 1, 2]);
        assert_eq!(sample(all.clone(), Some(3), 2), [6, 0, 1]);
        assert_eq!(sample(all.clone(), None, 5), all);
        assert_eq!(sample(all.clone(), Some(9), 5), all);
    }
}
