//! `fleetform drift`: plan every customer × environment in the shard with
//! `-detailed-exitcode` and report what would change. Bounded concurrency;
//! one failure never stops the others. JSON and Markdown reports (the
//! Markdown also goes to the step summary).
//!
//! Exit codes: 0 no drift, 4 drift found (the cloud changed outside
//! Terraform; edits not applied yet are reported apart and exit 0), 1 some
//! plans failed (errors win over drift, so a broken check is never
//! mistaken for a clean one).
//!
//! With `--issues`, one sticky issue per drifted customer in the manager
//! repo (label `fleetform-drift`, found by a hidden marker): opened or
//! updated while drift lasts, commented and closed when it is gone.
//! API budget per run: 1 request per 100 open drift issues (listing), plus
//! per customer at most 1 (open or update; 0 when unchanged) or 2 (close:
//! comment + state), plus, for customers without a local path, 1 request
//! per variables file fetched from the default branch.
//!
//! What lives here: this file (the run, its settings and GitHub clients,
//! the reports), `merge` (the shards' reports read back), `causes` (drift
//! by cause and repairs by policy, wired to the records), `issues` (the
//! customers' issues), `cause_issues` (one issue per cause) and `repair`
//! (`fleetform repair`: sealed plans that put drifted pairs back, judged
//! again, and the ones a drift job may apply by itself applied through
//! `flows::local::apply`).
//!
//! May import `audit`, `ci`, `config`, `engine` (a repair's plan and apply),
//! `context` (the command's audit log,
//! notifications and network settings), `data`, `error`, `fleet`, `github`,
//! `notify`, `output`, `records`, `report`, `rollout`, `util` and `values`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::ci::RunContext;
use crate::config::{Customer, Manager};
use crate::context::Context;
use crate::data::Diagnostic;
use crate::error::{Error, Result};
use crate::fleet::{Outcome, Row};
use crate::github::{CustomerRepos, GitHub, Token};
use crate::output::Output;
use crate::report::drift::{markdown, Report};
use crate::report::drift_causes::RepairAction;
use crate::report::table::drift_table;
use crate::values::customer::CustomerSource;

use crate::flows::github_loop::customer_files::DefaultBranch;
use crate::flows::github_loop::session::{access, customer_repos_or};

mod cause_issues;
mod causes;
mod issues;
mod merge;
pub mod repair;

pub const LABEL: &str = "fleetform-drift";

/// Checked flags.
pub struct Settings {
    pub jobs: usize,
    /// `--shard`: customer → its listed environments (all when `None`).
    pub shard: Option<BTreeMap<String, Option<Vec<String>>>>,
    pub customers: Option<Vec<String>>,
    pub environments: Option<Vec<String>>,
    /// For customer files on GitHub.
    pub token: Option<Token>,
    /// For the manager repo's drift issues.
    pub issues_token: Option<Token>,
    pub issues: bool,
    pub manager_repo: Option<String>,
    pub out: PathBuf,
    pub json: bool,
    pub terraform: Option<PathBuf>,
    /// `--write-log`: the last hour's issue writes, kept between runs.
    pub write_log: Option<PathBuf>,
    /// `--deadline`: no issue write waits past this.
    pub deadline: Option<std::time::SystemTime>,
    /// `--etag-cache`: the reads' ETags, kept between runs.
    pub etags: Option<std::sync::Arc<crate::github::EtagCache>>,
    /// `--from-reports`: merge the shards' reports instead of planning.
    pub from_reports: Option<PathBuf>,
}

/// The pairs a merge of the shards' reports expects: every active
/// customer's environments (as the matrix has them), `--env` applied.
fn expected_pairs(
    settings: &Settings,
    manager: &Manager,
    registry: &crate::config::Registry,
) -> Result<Vec<(String, String)>> {
    let env_filter = settings.environments.as_deref();
    let customers = crate::fleet::select(registry, settings.customers.as_deref())?;
    let pairs = crate::fleet::pairs(manager, customers, env_filter);
    Ok(pairs
        .into_iter()
        .flat_map(|(c, envs)| envs.into_iter().map(|e| (c.slug.clone(), e)))
        .collect())
}

/// The pairs to check: the shard's, or `--customer` × `--env`.
fn select<'r>(
    settings: &Settings,
    manager: &Manager,
    registry: &'r crate::config::Registry,
    out: &Output,
) -> Result<Vec<(&'r Customer, Vec<String>)>> {
    let env_filter = settings.environments.as_deref();
    crate::fleet::check_environments(manager, env_filter)?;
    match &settings.shard {
        Some(map) => crate::fleet::shard_pairs(manager, registry, map),
        None => {
            let customers = crate::fleet::select(registry, settings.customers.as_deref())?;
            let selected = crate::fleet::pairs(manager, customers, env_filter);
            if settings.customers.is_some() {
                for gap in crate::fleet::select::check_named("check", &selected, env_filter)? {
                    out.note(&format!("{gap}: not checked"));
                }
            }
            Ok(selected)
        }
    }
}

/// The GitHub clients: for customer files (each repo's own with the
/// customer App, else the token's, when there is one) and for the drift
/// issues (with `--issues`).
struct Clients {
    rt: tokio::runtime::Runtime,
    files: Option<CustomerRepos>,
    issues: Option<GitHub>,
}

impl Clients {
    fn new(settings: &Settings, cx: &Context) -> Result<Clients> {
        let rt = crate::github::runtime().map_err(|e| Error::failed(e.to_string()))?;
        let client = |t: &Token| {
            let gh = GitHub::new(&rt, &cx.net, &GitHub::api_url_from_env(), Some(t), false)?;
            Ok::<_, Error>(match &settings.etags {
                Some(cache) => gh.with_etag_cache(cache.clone()),
                None => gh,
            })
        };
        let files =
            customer_repos_or(&rt, access::FILES, settings.token.as_ref(), cx)?.map(|repos| {
                match &settings.etags {
                    Some(cache) => repos.with_etag_cache(cache.clone()),
                    None => repos,
                }
            });
        let issues = match (&settings.issues_token, settings.issues) {
            (Some(t), true) => {
                let gh = match settings.deadline {
                    Some(d) => client(t)?.with_deadline(d),
                    None => client(t)?,
                };
                Some(match &settings.write_log {
                    Some(log) => gh.keep_writes_in(log),
                    None => gh,
                })
            }
            _ => None,
        };
        Ok(Clients { rt, files, issues })
    }

    fn not_modified(&self) -> usize {
        self.files
            .as_ref()
            .map_or(0, CustomerRepos::not_modified_count)
            + self.issues.as_ref().map_or(0, GitHub::not_modified_count)
    }

    fn requests(&self) -> usize {
        self.files.as_ref().map_or(0, CustomerRepos::request_count)
            + self.issues.as_ref().map_or(0, GitHub::request_count)
    }
}

/// The environments (a JSON list, for a job matrix) with a pair whose
/// policy calls for one of `actions`: the drift workflow's repair-plan
/// and repair-apply jobs run once for each.
fn repair_environments(report: &Report, actions: &[RepairAction]) -> String {
    let envs: std::collections::BTreeSet<&str> = report
        .repairs
        .iter()
        .filter(|r| actions.contains(&r.action))
        .map(|r| r.environment.as_str())
        .collect();
    serde_json::to_string(&envs).expect("serialisable")
}

/// Writes `drift-report.json` and `drift-report.md`, the step summary and
/// the job's outputs; returns the JSON.
fn write_reports(out_dir: &Path, report: &Report, ctx: &RunContext) -> Result<String> {
    let md = markdown(report);
    let json = serde_json::to_string_pretty(report).expect("serialisable");
    crate::util::fs::write_atomic(&out_dir.join("drift-report.json"), json.as_bytes())
        .map_err(|e| Error::failed(format!("writing the report: {e}")))?;
    crate::util::fs::write_atomic(&out_dir.join("drift-report.md"), md.as_bytes())
        .map_err(|e| Error::failed(format!("writing the report: {e}")))?;
    let _ = ctx.append_summary(&md);
    ctx.set_outputs(&[
        ("drifted", report.drifted.len().to_string()),
        ("unapplied", report.unapplied.len().to_string()),
        ("errors", report.errors.len().to_string()),
        (
            "repair_plan_environments",
            repair_environments(report, &[RepairAction::Repair, RepairAction::Propose]),
        ),
        (
            "repair_apply_environments",
            repair_environments(report, &[RepairAction::Repair]),
        ),
        (
            "report",
            out_dir.join("drift-report.json").display().to_string(),
        ),
    ])
    .map_err(|e| Error::failed(format!("writing GITHUB_OUTPUT: {e}")))?;
    Ok(json)
}

/// One `drift_found` notice per pair drifted in the cloud: its counts,
/// nothing else.
fn notify_drift(manager: &Manager, report: &Report, cx: &Context) {
    for r in &report.drifted {
        let counts = match &r.outcome {
            Outcome::Planned { summary, .. } => summary.counts(),
            _ => continue,
        };
        let notice = crate::notify::Notice::new(
            crate::config::NotifyEvent::DriftFound,
            format!("drift: {counts} (refresh-only plan of the default branch)"),
        )
        .unit(&r.customer, &r.environment, r.product.as_deref());
        cx.notify(manager, &notice);
    }
}

/// Errors win over drift, so a broken check is never mistaken for a
/// clean one.
fn verdict(report: &Report) -> Result<()> {
    if !report.errors.is_empty() {
        return Err(Error::failed(format!(
            "{} of {} drift checks failed",
            report.errors.len(),
            report.checked
        )));
    }
    if !report.drifted.is_empty() {
        return Err(Error::Drift(format!(
            "drift in {} of {} customer × environment pairs",
            report.drifted.len(),
            report.checked
        )));
    }
    Ok(())
}

/// Plans every selected pair refresh-only; customer files come from the
/// local checkout, or the default branch on GitHub. With products, each
/// product in dependency order.
fn check(
    settings: &Settings,
    manager: &Manager,
    registry: &crate::config::Registry,
    selected: &[(&Customer, Vec<String>)],
    clients: &Clients,
    cx: &Context,
) -> Result<Vec<crate::fleet::Row>> {
    let remote = clients.files.as_ref().map(|repos| DefaultBranch {
        rt: &clients.rt,
        repos,
    });
    let local = crate::fleet::local_sources(registry);
    let source_for: &crate::fleet::products::SourceFor<'_> = &|view: &Manager| {
        let local = local(view);
        let view = view.clone();
        let remote = remote.as_ref();
        Box::new(
            move |c: &Customer,
                  envs: &[String]|
                  -> std::result::Result<CustomerSource, Vec<Diagnostic>> {
                match (remote, DefaultBranch::repo_of(c)) {
                    (Some(r), Some(repo)) => r.files(&view, repo, envs),
                    _ => local(c, envs),
                }
            },
        ) as Box<crate::fleet::SourceFn<'_>>
    };
    let run = crate::fleet::products::RunSettings {
        jobs: settings.jobs,
        out_dir: &settings.out,
        refresh_only: false,
        action: "drift",
        terraform: settings.terraform.as_deref(),
        withhold_secrets: false,
    };
    let local_file = crate::fleet::local_products_file(registry);
    let products_file = |c: &Customer| match (remote.as_ref(), DefaultBranch::repo_of(c)) {
        (Some(r), Some(repo)) => r.products_file(repo),
        _ => local_file(c),
    };
    crate::fleet::products::run_views(manager, selected, &products_file, source_for, &run, cx)
}

/// The run's rows and their tally: planned here, or merged from the
/// shards' reports (`--from-reports`).
fn rows_and_report(
    settings: &Settings,
    manager: &Manager,
    registry: &crate::config::Registry,
    clients: &Clients,
    cx: &Context,
) -> Result<(Vec<Row>, Report)> {
    if let Some(dir) = &settings.from_reports {
        return merge::read(dir, registry, &expected_pairs(settings, manager, registry)?);
    }
    let selected = select(settings, manager, registry, &cx.out)?;
    let rows = check(settings, manager, registry, &selected, clients, cx)?;
    let report = Report::tally(&rows);
    Ok((rows, report))
}

pub fn run(settings: &Settings, manager_dir: &Path, cx: &Context) -> Result<()> {
    for t in settings.token.iter().chain(settings.issues_token.iter()) {
        cx.out.mask(t.expose());
    }
    let (manager, registry) = crate::config::load(manager_dir)?;
    let clients = Clients::new(settings, cx)?;
    let (rows, mut report) = rows_and_report(settings, &manager, &registry, &clients, cx)?;
    causes::judge(&manager, &mut report, cx);

    let ctx = RunContext::from_env();
    report.run_url = ctx.run_url();
    // The reports and the cache are written whatever the issues' writes
    // did; their failure is the run's exit code.
    let issues = match settings.issues {
        true => {
            let threshold = manager.config.drift.cause_issues;
            let on = (settings, &registry, threshold);
            issues::keep(on, &clients, &mut report, &ctx, &cx.out)
        }
        false => Ok(()),
    };
    causes::keep(&manager, settings, &report, cx);
    report.requests = clients.requests();
    report.not_modified = clients.not_modified();
    if let Some(cache) = &settings.etags {
        for note in cache.save_or_note() {
            cx.out.note(&note);
        }
    }

    let json = write_reports(&settings.out, &report, &ctx)?;
    cx.out.verbose(&crate::util::text::count(
        report.requests,
        "GitHub API request",
        "GitHub API requests",
    ));
    if settings.from_reports.is_none() {
        // A merge's pairs were notified by the shards that planned them.
        notify_drift(&manager, &report, cx);
    }
    if settings.json {
        cx.out.json_text(&json);
    } else {
        cx.out.result(drift_table(&rows).trim_end());
    }
    if !report.never_applied.is_empty() {
        cx.out.note(&format!(
            "{} never applied: nothing to drift from; their plans are a first apply",
            crate::util::text::count(report.never_applied.len(), "pair", "pairs")
        ));
    }
    issues?;
    if !report.issue_errors.is_empty() {
        return Err(Error::failed(format!(
            "{} failed (the others were made; the next run tries again): {}",
            crate::util::text::count(report.issue_errors.len(), "issue write", "issue writes"),
            report.issue_errors.join("; ")
        )));
    }
    verdict(&report)
}
