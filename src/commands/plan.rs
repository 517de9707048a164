//! `fleetform plan`: local fleet mode. Plans every selected active customer ×
//! enabled environment with bounded concurrency; one failing customer never
//! stops the others.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::Serialize;

use crate::cli::PlanArgs;
use crate::config::{display_path, Customer, Manager, Registry};
use crate::error::{Error, Result};
use crate::output::{table, Output};
use crate::terraform::engine::{Engine, PlanRequest, RunError};
use crate::terraform::summary::PlanSummary;
use crate::values::customer::{self, CustomerDocs, CustomerSource, Diagnostic};

struct Settings {
    customers: Option<Vec<String>>,
    environments: Option<Vec<String>>,
    jobs: usize,
    out: PathBuf,
    json: bool,
    terraform: Option<PathBuf>,
}

fn resolve(args: &PlanArgs) -> Result<Settings> {
    if !args.all && args.customers.is_empty() {
        return Err(Error::Usage(
            "say what to plan: --all, or --customer SLUG".into(),
        ));
    }
    let jobs = match args.jobs {
        Some(0) => return Err(Error::Usage("--jobs must be at least 1".into())),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(2, |n| n.get()),
    };
    Ok(Settings {
        customers: (!args.customers.is_empty()).then(|| args.customers.clone()),
        environments: (!args.environments.is_empty()).then(|| args.environments.clone()),
        jobs,
        out: args.out.clone(),
        json: args.json,
        terraform: args.terraform.clone(),
    })
}

/// What happened to one customer × environment.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "result", rename_all = "lowercase")]
pub enum Outcome {
    Planned {
        summary: Box<PlanSummary>,
        dir: PathBuf,
    },
    Failed {
        error: String,
        problems: Vec<Diagnostic>,
    },
    Skipped {
        reason: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub customer: String,
    pub environment: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl Row {
    fn cells(&self) -> Vec<String> {
        let (counts, result) = match &self.outcome {
            Outcome::Planned { summary, .. } => (
                summary.counts(),
                if summary.has_changes {
                    "changes".to_string()
                } else {
                    "no changes".to_string()
                },
            ),
            Outcome::Failed { error, .. } => ("-".into(), format!("FAILED: {error}")),
            Outcome::Skipped { reason } => ("-".into(), format!("skipped ({reason})")),
        };
        vec![
            self.customer.clone(),
            self.environment.clone(),
            counts,
            result,
        ]
    }
}

/// Renders the end-of-run table.
pub fn summary_table(rows: &[Row]) -> String {
    let cells: Vec<Vec<String>> = rows.iter().map(Row::cells).collect();
    table(&["CUSTOMER", "ENVIRONMENT", "+/~/-", "RESULT"], &cells)
}

struct Task<'a> {
    slot: usize,
    customer: &'a Customer,
    environment: String,
    docs: std::sync::Arc<CustomerDocs>,
}

/// The work of a fleet run: rows decided up front (skipped, invalid) and
/// plans still to run, each with its slot in the final order.
pub struct Fleet<'a> {
    rows: Vec<Option<Row>>,
    tasks: Vec<Task<'a>>,
}

/// Where a customer's files come from.
pub type SourceFn<'s> =
    dyn Fn(&Customer, &[String]) -> std::result::Result<CustomerSource, Vec<Diagnostic>> + 's;

/// Local checkouts (the registry's `path`).
pub fn local_source<'a>(
    manager: &'a Manager,
    registry: &'a Registry,
) -> impl Fn(&Customer, &[String]) -> std::result::Result<CustomerSource, Vec<Diagnostic>> + 'a {
    move |c, envs| match registry.customer_dir(c) {
        None => Err(vec![Diagnostic {
            location: registry.doc.locate("/customers"),
            pointer: None,
            message: format!(
                "customer `{}` has no local `path`; local mode reads customer files from disk",
                c.slug
            ),
        }]),
        Some(dir) => CustomerSource::from_dir(manager, &dir, envs).map_err(|d| vec![d]),
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
    let mut rows: Vec<Option<Row>> = Vec::new();
    let mut tasks = Vec::new();
    for (c, envs) in selected {
        let c: &'a Customer = c;
        let push = |rows: &mut Vec<Option<Row>>, env: &str, outcome: Outcome| {
            rows.push(Some(Row {
                customer: c.slug.clone(),
                environment: env.to_string(),
                outcome,
            }));
        };
        if !c.is_active() {
            let reason = c
                .revoked
                .as_ref()
                .map(|r| format!("revoked {}", r.date))
                .unwrap_or_else(|| "revoked".into());
            for e in envs {
                push(
                    &mut rows,
                    e,
                    Outcome::Skipped {
                        reason: reason.clone(),
                    },
                );
            }
            continue;
        }
        match source(c, envs).and_then(|src| customer::check(&src, &engine.schema)) {
            Err(problems) => {
                out.diagnostics(&problems);
                let error = RunError::Values(problems.clone()).short();
                for e in envs {
                    push(
                        &mut rows,
                        e,
                        Outcome::Failed {
                            error: error.clone(),
                            problems: problems.clone(),
                        },
                    );
                }
            }
            Ok(docs) => {
                let docs = std::sync::Arc::new(docs);
                for e in envs {
                    tasks.push(Task {
                        slot: rows.len(),
                        customer: c,
                        environment: e.clone(),
                        docs: docs.clone(),
                    });
                    rows.push(None);
                }
            }
        }
    }
    Fleet { rows, tasks }
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

/// Runs the fleet's plans, `jobs` at a time (their Terraforms sharing the
/// cores, see [`Engine::share_cores`]), and returns every row in order.
pub fn execute(
    engine: &mut Engine<'_>,
    fleet: Fleet<'_>,
    jobs: usize,
    out_dir: &Path,
    refresh_only: bool,
    action: &str,
    out: &Output,
) -> Vec<Row> {
    let Fleet { mut rows, tasks } = fleet;
    crate::fleet::remove_leftovers(out, out_dir);
    let progress = out.progress(tasks.len());
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Row)>> = Mutex::new(Vec::new());
    let workers = jobs.min(tasks.len()).max(1);
    engine.share_cores(workers);
    let engine = &*engine;
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(task) = tasks.get(i) else { break };
                let label = format!("{}/{}", task.customer.slug, task.environment);
                progress.started(&label);
                let req = PlanRequest {
                    customer: task.customer,
                    environment: &task.environment,
                    docs: &task.docs,
                    out_dir: out_dir.join(&task.customer.slug).join(&task.environment),
                    sha: None,
                    run_url: None,
                    refresh_only,
                    pull: None,
                };
                let outcome = match engine.plan(&req) {
                    Ok(p) => {
                        progress.finished(&format!("planned {label}: {}", p.summary.counts()));
                        Outcome::Planned {
                            summary: Box::new(p.summary),
                            dir: p.dir,
                        }
                    }
                    Err(e) => {
                        let detail = match &e {
                            RunError::Terraform(t) => t.to_string(),
                            RunError::Values(d) => d
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join("\n"),
                            other => other.to_string(),
                        };
                        progress.finished(&format!("FAILED {label}: {detail}"));
                        let problems = match e {
                            RunError::Values(ref d) => d.clone(),
                            _ => Vec::new(),
                        };
                        Outcome::Failed {
                            error: e.short(),
                            problems,
                        }
                    }
                };
                let entry = match &outcome {
                    Outcome::Planned { summary, .. } => crate::audit::Entry::now(
                        action,
                        if summary.has_changes {
                            "changes"
                        } else {
                            "no-changes"
                        },
                    )
                    .plan(Some(&summary.plan_sha256))
                    .detail(summary.headline()),
                    Outcome::Failed { error, .. } => {
                        crate::audit::Entry::now(action, "failed").detail(error.clone())
                    }
                    Outcome::Skipped { reason } => {
                        crate::audit::Entry::now(action, "skipped").detail(reason.clone())
                    }
                };
                crate::audit::record(
                    out,
                    entry
                        .customer(&task.customer.slug)
                        .environment(&task.environment),
                );
                let row = Row {
                    customer: task.customer.slug.clone(),
                    environment: task.environment.clone(),
                    outcome,
                };
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

/// Resolves `--customer` names against the registry (all when empty).
pub fn select<'r>(registry: &'r Registry, wanted: Option<&[String]>) -> Result<Vec<&'r Customer>> {
    match wanted {
        None => Ok(registry.customers.iter().collect()),
        Some(wanted) => wanted
            .iter()
            .map(|w| {
                registry.get(w).ok_or_else(|| {
                    Error::Usage(format!(
                        "customer `{w}` is not in {}",
                        display_path(&registry.file).display()
                    ))
                })
            })
            .collect(),
    }
}

/// Checks `--env` names against the manager.
pub fn check_environments(manager: &Manager, envs: Option<&[String]>) -> Result<()> {
    for e in envs.unwrap_or_default() {
        if manager.environment(e).is_none() {
            return Err(Error::Usage(format!(
                "unknown environment `{e}`; fleetform.yml declares: {}",
                manager.environment_names().join(", ")
            )));
        }
    }
    Ok(())
}

pub fn run(args: &PlanArgs, manager_dir: &Path, out: &Output) -> Result<()> {
    if args.dispatch {
        return crate::deploy::plan(
            crate::deploy::PlanSettings {
                environments: (!args.environments.is_empty()).then(|| args.environments.clone()),
                out: args.out.clone(),
                dry_run: args.dry_run,
                json: args.json,
                terraform: args.terraform.clone(),
            },
            manager_dir,
            out,
        );
    }
    let settings = resolve(args)?;
    let (manager, registry) = crate::config::load(manager_dir)?;
    let mut engine =
        crate::terraform::engine::build(&manager, true, settings.terraform.as_deref())?;
    let selected = select(&registry, settings.customers.as_deref())?;
    check_environments(&manager, settings.environments.as_deref())?;
    let selected: Vec<(&Customer, Vec<String>)> = selected
        .into_iter()
        .map(|c| {
            (
                c,
                environments_for(&manager, c, settings.environments.as_deref()),
            )
        })
        .collect();
    let source = local_source(&manager, &registry);
    let fleet = prepare(&engine, &selected, &source, out);
    let rows = execute(
        &mut engine,
        fleet,
        settings.jobs,
        &settings.out,
        false,
        "plan",
        out,
    );
    let failed = rows
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Failed { .. }))
        .count();
    if settings.json {
        out.result(&serde_json::to_string_pretty(&rows).expect("serialisable"));
    } else {
        out.result(summary_table(&rows).trim_end());
    }
    if failed > 0 {
        return Err(Error::Failed(format!(
            "{failed} of {} plans failed",
            rows.len()
        )));
    }
    Ok(())
}
