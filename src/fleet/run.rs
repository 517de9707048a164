//! One fleet run: decide each pair up front ([`prepare`]: revoked customers
//! skipped, invalid ones failed alone), then plan the rest `jobs` at a
//! time ([`execute`]), one audit record per pair as it finishes, and
//! return every row in the selection's order.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::audit::Entry;
use crate::config::Activity;
use crate::config::{Customer, Manager, Registry};
use crate::context::Context;
use crate::data::Diagnostic;
use crate::engine::{Engine, PlanRequest};
use crate::error::Error;
use crate::output::{Output, Progress};
use crate::values::customer::{self, CustomerDocs, CustomerSource};

pub use crate::report::table::{Outcome, Row};

struct Task<'a> {
    slot: usize,
    customer: &'a Customer,
    environment: String,
    docs: Arc<CustomerDocs>,
    /// Needed products whose plans here change outputs.
    awaiting: Vec<String>,
}

/// The work of a fleet run: rows decided up front (skipped, invalid) and
/// plans still to run, each with its slot in the final order.
pub struct Fleet<'a> {
    rows: Vec<Option<Row>>,
    tasks: Vec<Task<'a>>,
    /// The product the run is of (`None` without products).
    product: Option<String>,
}

/// Where a customer's files come from.
pub type SourceFn<'s> =
    dyn Fn(&Customer, &[String]) -> std::result::Result<CustomerSource, Vec<Diagnostic>> + 's;

/// Local checkouts (the registry's `path`).
pub fn local_source<'a>(
    manager: &'a Manager,
    registry: &'a Registry,
) -> impl Fn(&Customer, &[String]) -> std::result::Result<CustomerSource, Vec<Diagnostic>> + 'a {
    move |c, envs| read_local(manager, registry, c, envs)
}

/// Local checkouts, for each product view of a run over products.
pub fn local_sources<'r>(registry: &'r Registry) -> impl Fn(&Manager) -> Box<SourceFn<'r>> + 'r {
    move |view: &Manager| -> Box<SourceFn<'r>> {
        let view = view.clone();
        Box::new(move |c: &Customer, envs: &[String]| read_local(&view, registry, c, envs))
    }
}

/// A customer's files of `manager`'s product, from its local checkout.
fn read_local(
    manager: &Manager,
    registry: &Registry,
    c: &Customer,
    envs: &[String],
) -> std::result::Result<CustomerSource, Vec<Diagnostic>> {
    let dir = local_dir(registry, c).map_err(|d| vec![d])?;
    CustomerSource::from_dir(manager, &dir, envs).map_err(|d| vec![d])
}

/// A customer's local checkout, or the problem at its own entry in the
/// registry: the one check `validate` and local `plan`, `render` and
/// `drift` share.
pub fn local_dir(
    registry: &Registry,
    c: &Customer,
) -> std::result::Result<std::path::PathBuf, Diagnostic> {
    registry.customer_dir(c).ok_or_else(|| Diagnostic {
        location: registry.locate(c),
        pointer: None,
        message: format!(
            "customer `{}` has no local `path`: local mode reads its files from a checkout; add `path:` (relative to {}) or check a file with `fleetform validate FILE`",
            c.slug,
            crate::config::display_path(&registry.file).display()
        ),
    })
}

/// A customer's `infra/products.yml` from its local checkout.
pub fn local_products_file(
    registry: &Registry,
) -> impl Fn(&Customer) -> std::result::Result<Option<(std::path::PathBuf, Vec<u8>)>, Diagnostic> + '_
{
    move |c| match registry.customer_dir(c) {
        None => Ok(None),
        Some(dir) => crate::values::products::read_local(&dir),
    }
}

/// Decides what to plan: revoked customers are skipped, invalid ones fail
/// alone (every problem reported), the rest become tasks.
pub fn prepare<'a>(
    engine: &Engine<'_>,
    selected: &[(&'a Customer, Vec<String>)],
    source: &SourceFn<'_>,
    out: &Output,
) -> Fleet<'a> {
    let mut fleet = Fleet {
        rows: Vec::new(),
        tasks: Vec::new(),
        product: engine.manager.product.clone(),
    };
    for (c, envs) in selected {
        let c: &'a Customer = c;
        if !c.takes_part(Activity::Plan) {
            let reason = c
                .revoked
                .as_ref()
                .map(|r| format!("revoked {}", r.date))
                .unwrap_or_else(|| "revoked".into());
            fleet.decided(c, envs, |_| Outcome::Skipped {
                reason: reason.clone(),
            });
            continue;
        }
        match source(c, envs).and_then(|src| customer::check(&src, &engine.schema)) {
            Err(problems) => {
                out.diagnostics(&problems);
                let error = Error::Values(problems.clone()).short();
                fleet.decided(c, envs, |_| Outcome::Failed {
                    error: error.clone(),
                    problems: problems.clone(),
                });
            }
            Ok(docs) => fleet.queue(c, envs, Arc::new(docs)),
        }
    }
    fleet
}

impl<'a> Fleet<'a> {
    /// Rows for a customer's environments, decided without planning.
    fn decided(&mut self, c: &Customer, envs: &[String], outcome: impl Fn(&str) -> Outcome) {
        for e in envs {
            self.rows.push(Some(Row {
                customer: c.slug.clone(),
                product: self.product.clone(),
                environment: e.to_string(),
                outcome: outcome(e),
            }));
        }
    }

    /// Tasks for a customer's environments, each with a slot to fill.
    fn queue(&mut self, c: &'a Customer, envs: &[String], docs: Arc<CustomerDocs>) {
        for e in envs {
            self.tasks.push(Task {
                slot: self.rows.len(),
                customer: c,
                environment: e.clone(),
                docs: docs.clone(),
                awaiting: Vec::new(),
            });
            self.rows.push(None);
        }
    }
}

impl Fleet<'_> {
    /// Settles each queued plan against the products it needs, from the
    /// rows of those products' plans: `Err` decides it without a plan
    /// (failed or skipped, with the reason), `Ok` lists the needed
    /// products whose plans change outputs (the plan is made, and marked
    /// as awaiting them).
    pub fn settle_needs(
        &mut self,
        check: impl Fn(&Customer, &str) -> Result<Vec<String>, Outcome>,
    ) {
        let tasks = std::mem::take(&mut self.tasks);
        for mut task in tasks {
            match check(task.customer, &task.environment) {
                Ok(awaiting) => {
                    task.awaiting = awaiting;
                    self.tasks.push(task);
                }
                Err(outcome) => {
                    self.rows[task.slot] = Some(Row {
                        customer: task.customer.slug.clone(),
                        product: self.product.clone(),
                        environment: task.environment.clone(),
                        outcome,
                    });
                }
            }
        }
    }
}

/// Removes the working copies that killed runs left under a results
/// folder, and says which (see [`crate::terraform::remove_stale_workspaces`]).
pub fn remove_leftovers(out: &Output, dir: &Path) {
    let sweep = crate::terraform::remove_stale_workspaces(dir);
    for p in &sweep.removed {
        out.note(&format!(
            "removed {}, a working copy left by a run that was killed",
            crate::config::display_path(p).display()
        ));
    }
    for (p, e) in &sweep.failed {
        out.note(&format!(
            "cannot remove {}, a working copy left by a run that was killed: {e}; remove it by hand",
            crate::config::display_path(p).display()
        ));
    }
}

/// How each plan of a fleet run is made and recorded.
struct Run<'p, 'e> {
    engine: &'p Engine<'e>,
    out_dir: &'p Path,
    refresh_only: bool,
    /// The audit action (`plan`, `drift`).
    action: &'p str,
    cx: &'p Context,
    progress: &'p Progress,
}

/// Runs the fleet's plans, `jobs` at a time (their Terraforms sharing the
/// cores, see [`Engine::share_cores`]), and returns every row in order.
pub fn execute(
    engine: &mut Engine<'_>,
    fleet: Fleet<'_>,
    jobs: usize,
    out_dir: &Path,
    refresh_only: bool,
    action: &str,
    cx: &Context,
) -> Vec<Row> {
    let Fleet {
        mut rows, tasks, ..
    } = fleet;
    remove_leftovers(&cx.out, out_dir);
    let progress = cx.out.progress(tasks.len());
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Row)>> = Mutex::new(Vec::new());
    let workers = jobs.min(tasks.len()).max(1);
    engine.share_cores(workers);
    install_providers(engine, &tasks, out_dir, &cx.out);
    let run = Run {
        engine: &*engine,
        out_dir,
        refresh_only,
        action,
        cx,
        progress: &progress,
    };
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(task) = tasks.get(i) else { break };
                let row = run.one(task);
                results
                    .lock()
                    .expect("no worker panics while holding the lock")
                    .push((task.slot, row));
            });
        }
    });
    progress.done();
    for (slot, row) in results.into_inner().expect("workers finished") {
        rows[slot] = Some(row);
    }
    rows.into_iter()
        .map(|r| r.expect("every slot filled"))
        .collect()
}

/// Providers are installed once for a run of more than one pair: every
/// pair's data dir is then a copy of the one that install made (or, when
/// that copy did not pass its check, its `init` links them from the
/// cache). Failing that, each pair installs its own, as without a cache
/// (and reports its own error).
fn install_providers(engine: &mut Engine<'_>, tasks: &[Task<'_>], out_dir: &Path, out: &Output) {
    if tasks.len() < 2 {
        return;
    }
    match engine.install_providers(&out_dir.join(PROVIDERS_DIR)) {
        Ok(None) => {}
        Ok(Some(note)) => out.note(&note),
        Err(e) => out.note(&format!(
            "could not install the providers once for the run ({}); each customer × environment installs its own",
            e.short()
        )),
    }
}

/// Where a fleet run keeps its provider cache, inside the results folder.
pub const PROVIDERS_DIR: &str = ".providers";

impl Run<'_, '_> {
    /// Plans one pair, shows its progress and records it in the audit log.
    fn one(&self, task: &Task<'_>) -> Row {
        let unit = self
            .engine
            .manager
            .unit(&task.customer.slug, &task.environment);
        let label = unit.to_string();
        self.progress.started(&label);
        let outcome = self.plan(task, &unit, &label);
        let mut entry = audit_entry(self.action, &outcome).unit(&unit);
        if let Some(t) = &self.engine.targeting {
            let detail = entry.detail.take().unwrap_or_default();
            entry = entry
                .detail(format!("{}; {detail}", t.flags().join(" ")))
                .reason(&t.reason);
        }
        self.cx.record(entry);
        Row {
            customer: unit.customer,
            product: unit.product,
            environment: unit.environment,
            outcome,
        }
    }

    fn plan(&self, task: &Task<'_>, unit: &crate::config::Unit, label: &str) -> Outcome {
        let out_dir = self.out_dir.join(unit.rel_dir());
        // A drift check judges no plan: its policy tools would only take
        // time.
        let policy_tools = self.action != "drift";
        let manager = self.engine.manager;
        let cost_baseline = (policy_tools
            && manager.config.policies.has_infracost(&task.environment))
        .then(|| {
            let store = crate::records::Store::for_manager(manager, &self.cx.net);
            crate::records::cost_baseline(&store, unit, &out_dir)
        })
        .flatten();
        let req = PlanRequest {
            customer: task.customer,
            environment: &task.environment,
            docs: &task.docs,
            out_dir,
            sha: None,
            run_url: None,
            refresh_only: self.refresh_only,
            pull: None,
            awaiting: task.awaiting.clone(),
            policy_tools,
            cost_baseline,
        };
        match self.engine.plan(&req) {
            Ok(p) => {
                self.progress
                    .finished_in_table(&format!("planned {label}: {}", p.summary.counts()));
                Outcome::Planned {
                    summary: Box::new(p.summary),
                    dir: p.dir,
                }
            }
            Err(Error::Waiting(reason)) => {
                self.progress
                    .finished(&format!("waiting {label}: {reason}"));
                Outcome::Skipped {
                    reason: reason.into(),
                }
            }
            Err(Error::Withheld(reason)) => {
                self.progress
                    .finished(&format!("withheld {label}: {reason}"));
                Outcome::Skipped {
                    reason: reason.into(),
                }
            }
            Err(e) => {
                self.progress
                    .finished(&format!("FAILED {label}: {}", failure_detail(&e)));
                let problems = match e {
                    Error::Values(ref d) => d.clone(),
                    _ => Vec::new(),
                };
                Outcome::Failed {
                    error: e.short(),
                    problems,
                }
            }
        }
    }
}

/// A failed plan in full, for the progress line.
fn failure_detail(e: &Error) -> String {
    match e {
        Error::Terraform(t) => t.to_string(),
        Error::Values(d) => d
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    }
}

/// The audit record of one pair's outcome.
fn audit_entry(action: &str, outcome: &Outcome) -> Entry {
    match outcome {
        Outcome::Planned { summary, .. } => Entry::now(
            action,
            match (summary.has_changes, summary.never_applied) {
                // A drift check of a pair never applied found nothing to
                // drift from.
                (true, true) if action == "drift" => "never-applied",
                // Nothing changed in the cloud: the configuration (the
                // customer's or the manager's) is not applied yet; not
                // drift.
                (true, false) if action == "drift" && summary.cloud_drift.is_empty() => "unapplied",
                (true, _) => "changes",
                (false, _) => "no-changes",
            },
        )
        .plan(Some(&summary.plan_sha256))
        .detail(summary.headline()),
        Outcome::Failed { error, .. } => Entry::now(action, "failed").detail(error.clone()),
        Outcome::Skipped { reason } => Entry::now(action, "skipped").detail(reason.clone()),
    }
}
