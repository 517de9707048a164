//! `fleetform drift`: plan every customer × environment in the shard with
//! `-detailed-exitcode` and report what would change. Bounded concurrency;
//! one failure never stops the others. JSON and Markdown reports (the
//! Markdown also goes to the step summary).
//!
//! Exit codes: 0 no drift, 4 drift found, 1 some plans failed (errors win
//! over drift, so a broken check is never mistaken for a clean one).
//!
//! With `--issues`, one sticky issue per drifted customer in the manager
//! repo (label `fleetform-drift`, found by a hidden marker): opened or
//! updated while drift lasts, commented and closed when it is gone.
//! API budget per run: 1 request per 100 open drift issues (listing), plus
//! per customer at most 1 (open or update; 0 when unchanged) or 2 (close:
//! comment + state), plus, for customers without a local path, 1 request
//! per variables file fetched from the default branch.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::ci::RunContext;
use crate::cli::DriftArgs;
use crate::commands::plan::{environments_for, execute, prepare, Outcome, Row};
use crate::config::{is_repo, Customer};
use crate::error::{Error, Result};
use crate::github::{GitHub, Token};
use crate::output::Output;
use crate::values::customer::{override_path, CustomerSource, Diagnostic};
use crate::yaml::{Location, Pos};

pub const LABEL: &str = "fleetform-drift";

fn marker(customer: &str) -> String {
    format!("<!-- fleetform:drift customer={customer} -->")
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub checked: usize,
    pub drifted: Vec<Row>,
    pub errors: Vec<Row>,
    pub clean: usize,
    pub skipped: usize,
    pub requests: usize,
}

/// Parses a shard: JSON list of `customer:environment` or `customer`.
fn parse_shard(s: &str) -> Result<BTreeMap<String, Option<Vec<String>>>> {
    let items: Vec<String> = serde_json::from_str(s).map_err(|e| {
        Error::Usage(format!(
            "--shard must be a JSON list of \"customer:environment\" strings: {e}"
        ))
    })?;
    if items.len() > 10_000 {
        return Err(Error::Usage(
            "--shard lists more than 10,000 entries".into(),
        ));
    }
    let mut out: BTreeMap<String, Option<Vec<String>>> = BTreeMap::new();
    for i in items {
        match i.split_once(':') {
            Some((c, e)) => {
                if let Some(list) = out.entry(c.to_string()).or_insert_with(|| Some(Vec::new())) {
                    list.push(e.to_string());
                }
            }
            None => {
                out.insert(i, None);
            }
        }
    }
    Ok(out)
}

fn markdown(report: &Report) -> String {
    let mut s = String::from("## fleetform drift\n\n");
    s.push_str(&format!(
        "{} checked · **{} drifted** · {} failed · {} clean · {} skipped\n\n",
        report.checked,
        report.drifted.len(),
        report.errors.len(),
        report.clean,
        report.skipped
    ));
    if !report.drifted.is_empty() || !report.errors.is_empty() {
        s.push_str("| customer | environment | +/~/- | result |\n|---|---|---|---|\n");
        for r in report.drifted.iter().chain(&report.errors) {
            let (counts, what) = match &r.outcome {
                Outcome::Planned { summary, .. } => (summary.counts(), "drift".to_string()),
                Outcome::Failed { error, .. } => (
                    "-".into(),
                    format!("error: {}", crate::report::markdown::md_escape(error)),
                ),
                Outcome::Skipped { reason } => {
                    ("-".into(), crate::report::markdown::md_escape(reason))
                }
            };
            s.push_str(&format!(
                "| `{}` | `{}` | {counts} | {what} |\n",
                r.customer, r.environment
            ));
        }
    }
    s
}

fn customer_issue_body(customer: &str, rows: &[&Row], run_url: Option<&str>) -> String {
    let mut s = format!("{}\nfleetform found drift for `{customer}`: applying the default branch would change infrastructure.\n\n", marker(customer));
    s.push_str("| environment | +/~/- | resources |\n|---|---|---|\n");
    for r in rows {
        if let Outcome::Planned { summary, .. } = &r.outcome {
            let res: Vec<String> = summary
                .resources
                .iter()
                .take(20)
                .map(|x| format!("`{}` {}", x.address.replace('`', "'"), x.action.symbol()))
                .collect();
            s.push_str(&format!(
                "| `{}` | {} | {} |\n",
                r.environment,
                summary.counts(),
                res.join("<br>")
            ));
        }
    }
    if let Some(u) = run_url {
        s.push_str(&format!("\nDetected by [this run]({u}).\n"));
    }
    s
}

pub fn run(args: &DriftArgs, manager_dir: &Path, out: &Output) -> Result<()> {
    // Settings, checked before any I/O.
    let jobs = match args.jobs {
        Some(0) => return Err(Error::Usage("--jobs must be at least 1".into())),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(2, |n| n.get()),
    };
    if let Some(r) = &args.manager_repo {
        if !is_repo(r) {
            return Err(Error::Usage(format!(
                "--manager-repo `{r}` is not owner/name"
            )));
        }
    }
    let shard = args.shard.as_deref().map(parse_shard).transpose()?;
    let token = Token::from_env();
    // The manager repo's drift issues: the job's own token
    // (`FLEETFORM_ISSUES_TOKEN`, e.g. GITHUB_TOKEN with `issues: write`), as
    // a fine-grained token for the customer repos cannot reach the manager
    // repo of another owner; else the token above.
    let issues_token = std::env::var("FLEETFORM_ISSUES_TOKEN")
        .ok()
        .and_then(Token::new)
        .or_else(|| token.clone());
    if args.issues && issues_token.is_none() {
        return Err(Error::Usage(
            "--issues needs a token: set FLEETFORM_ISSUES_TOKEN, FLEETFORM_TOKEN or GITHUB_TOKEN"
                .into(),
        ));
    }
    for t in token.iter().chain(issues_token.iter()) {
        out.mask(t.expose());
    }

    let (manager, registry) = crate::config::load(manager_dir)?;
    let mut engine = crate::terraform::engine::build(&manager, true, args.terraform.as_deref())?;
    let env_filter = (!args.environments.is_empty()).then(|| args.environments.clone());
    crate::commands::plan::check_environments(&manager, env_filter.as_deref())?;
    let mut selected: Vec<(&Customer, Vec<String>)> = Vec::new();
    match &shard {
        Some(map) => {
            for (slug, envs) in map {
                let c = registry.get(slug).ok_or_else(|| {
                    Error::Usage(format!("shard names unknown customer `{slug}`"))
                })?;
                let envs = environments_for(&manager, c, envs.as_deref());
                selected.push((c, envs));
            }
        }
        None => {
            for c in crate::commands::plan::select(
                &registry,
                (!args.customers.is_empty()).then_some(args.customers.as_slice()),
            )? {
                selected.push((c, environments_for(&manager, c, env_filter.as_deref())));
            }
        }
    }

    let rt = crate::github::runtime().map_err(|e| Error::Failed(e.to_string()))?;
    let gh = match &token {
        Some(t) => Some(
            GitHub::new(&rt, &GitHub::api_url_from_env(), Some(t), false).map_err(Error::from)?,
        ),
        None => None,
    };
    let issues_gh = match (&issues_token, args.issues) {
        (Some(t), true) => Some(
            GitHub::new(&rt, &GitHub::api_url_from_env(), Some(t), false).map_err(Error::from)?,
        ),
        _ => None,
    };

    // Customer files: the local checkout, or the default branch on GitHub.
    let local = crate::commands::plan::local_source(&manager, &registry);
    let source = |c: &Customer,
                  envs: &[String]|
     -> std::result::Result<CustomerSource, Vec<Diagnostic>> {
        if c.path.is_some() {
            return local(c, envs);
        }
        let (Some(gh), Some(repo)) = (&gh, &c.repo) else {
            return local(c, envs);
        };
        let fail = |m: String| {
            vec![Diagnostic {
                location: Location {
                    file: PathBuf::from(format!("{repo}:{}", manager.config.customer.variables)),
                    pos: Pos { line: 1, col: 1 },
                },
                pointer: None,
                message: m,
            }]
        };
        rt.block_on(async {
            let vars = gh
                .get_file(repo, &manager.config.customer.variables, None)
                .await
                .map_err(|e| fail(e.to_string()))?
                .ok_or_else(|| {
                    fail("the variables file does not exist on the default branch".into())
                })?;
            let mut overrides = BTreeMap::new();
            for e in envs {
                let p = override_path(&manager, e);
                if let Some(b) = gh
                    .get_file(repo, &p, None)
                    .await
                    .map_err(|e| fail(e.to_string()))?
                {
                    overrides.insert(e.clone(), (PathBuf::from(&p), b));
                }
            }
            Ok(CustomerSource {
                variables: (PathBuf::from(&manager.config.customer.variables), vars),
                overrides,
            })
        })
    };
    let fleet = prepare(&engine, &selected, &source, out);
    let rows = execute(&mut engine, fleet, jobs, &args.out, false, "drift", out);

    let mut report = Report {
        checked: 0,
        drifted: Vec::new(),
        errors: Vec::new(),
        clean: 0,
        skipped: 0,
        requests: 0,
    };
    for r in &rows {
        match &r.outcome {
            Outcome::Planned { summary, .. } => {
                report.checked += 1;
                if summary.has_changes {
                    report.drifted.push(r.clone());
                } else {
                    report.clean += 1;
                }
            }
            Outcome::Failed { .. } => {
                report.checked += 1;
                report.errors.push(r.clone());
            }
            Outcome::Skipped { .. } => report.skipped += 1,
        }
    }

    // Sticky issues.
    let ctx = RunContext::from_env();
    if args.issues {
        let gh = issues_gh
            .as_ref()
            .ok_or_else(|| Error::Usage("--issues needs a token".into()))?;
        let repo = args.manager_repo.as_deref().expect("clap requires it");
        rt.block_on(async {
            let open = gh.list_open_issues(repo, LABEL).await.map_err(|e| Error::Failed(e.to_string()))?;
            let mut by_customer: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
            for r in &report.drifted {
                by_customer.entry(r.customer.as_str()).or_default().push(r);
            }
            let errored: std::collections::BTreeSet<&str> = report.errors.iter().map(|r| r.customer.as_str()).collect();
            for (customer, rows) in &by_customer {
                let body = customer_issue_body(customer, rows, ctx.run_url().as_deref());
                match open.iter().find(|i| i.body.contains(&marker(customer))) {
                    Some(i) if i.body == body => {}
                    Some(i) => gh.update_issue(repo, i.number, Some(&body), None).await.map_err(|e| Error::Failed(e.to_string()))?,
                    None => {
                        gh.create_issue(repo, &format!("Drift: {customer}"), &body, &[LABEL])
                            .await
                            .map_err(|e| Error::Failed(e.to_string()))?;
                    }
                }
            }
            // Close issues of customers checked clean in this shard.
            let checked: std::collections::BTreeSet<&str> = rows
                .iter()
                .filter(|r| matches!(r.outcome, Outcome::Planned { .. }))
                .map(|r| r.customer.as_str())
                .collect();
            for (customer, _) in selected.iter().map(|(c, e)| (c.slug.as_str(), e)) {
                if by_customer.contains_key(customer) || errored.contains(customer) || !checked.contains(customer) {
                    continue;
                }
                if let Some(i) = open.iter().find(|i| i.body.contains(&marker(customer))) {
                    let note = format!(
                        "The drift is gone: every environment of `{customer}` plans without changes{}.",
                        ctx.run_url().map(|u| format!(" ([run]({u}))")).unwrap_or_default()
                    );
                    gh.create_comment(repo, i.number, &note).await.map_err(|e| Error::Failed(e.to_string()))?;
                    gh.update_issue(repo, i.number, None, Some("closed")).await.map_err(|e| Error::Failed(e.to_string()))?;
                }
            }
            Ok::<(), Error>(())
        })?;
    }
    report.requests = gh.as_ref().map_or(0, GitHub::request_count)
        + issues_gh.as_ref().map_or(0, GitHub::request_count);

    let md = markdown(&report);
    let json = serde_json::to_string_pretty(&report).expect("serialisable");
    crate::util::fs::write_atomic(&args.out.join("drift-report.json"), json.as_bytes())
        .map_err(|e| Error::Failed(format!("writing the report: {e}")))?;
    crate::util::fs::write_atomic(&args.out.join("drift-report.md"), md.as_bytes())
        .map_err(|e| Error::Failed(format!("writing the report: {e}")))?;
    let _ = ctx.append_summary(&md);
    ctx.set_outputs(&[
        ("drifted", report.drifted.len().to_string()),
        ("errors", report.errors.len().to_string()),
        (
            "report",
            args.out.join("drift-report.json").display().to_string(),
        ),
    ])
    .map_err(|e| Error::Failed(format!("writing GITHUB_OUTPUT: {e}")))?;
    out.verbose(&format!("{} GitHub API request(s)", report.requests));
    if args.json {
        out.result(&json);
    } else {
        out.result(crate::commands::plan::summary_table(&rows).trim_end());
    }
    if !report.errors.is_empty() {
        return Err(Error::Failed(format!(
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
