//! A local apply (`fleetform apply` without `--dispatch`, and the drift
//! repairs of `fleetform repair --apply`): a saved plan folder applied only
//! if its SHA-256 matches the recorded (or given) digest and the customer
//! is still active; a sealed plan (the ops workflow's, a repair's) opened
//! with the artifact key; a targeted or repair plan only after a second
//! person (or `--unreviewed` on a workstation); then the audit line, the
//! deployment record and, with `github`, the customer's repo told.

use std::path::{Path, PathBuf};

use crate::audit::Entry;
use crate::config::Unit;
use crate::context::Context;
use crate::engine::ApplyOutcome;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::terraform::TerraformError;

/// What a local apply applies, and who let it through.
#[derive(Debug, Clone)]
pub struct LocalApply {
    pub customer: String,
    pub environment: String,
    pub product: Option<String>,
    /// Results folder the plan was written to.
    pub out: PathBuf,
    /// The plan's folder (default: OUT/CUSTOMER[/PRODUCT]/ENV).
    pub plan_dir: Option<PathBuf>,
    /// Digest the plan must have.
    pub plan_sha256: Option<String>,
    pub json: bool,
    pub terraform: Option<PathBuf>,
    /// Report a targeted (or repair) plan's apply on the customer's repo.
    pub github: bool,
    /// `--confirms RUN`: the plan's run another operator started.
    pub confirms: Option<u64>,
    /// `--unreviewed`: on a workstation, with no second person.
    pub unreviewed: bool,
    /// Print the result (or its JSON) on stdout; a batch of repairs
    /// prints its own list instead.
    pub show: bool,
}

/// Applies a local plan folder: registered customer → known environment →
/// apply → audit line → result.
pub fn apply_local(args: &LocalApply, manager_dir: &Path, cx: &Context) -> Result<()> {
    let slug = args.customer.clone();
    let (manager, registry) = crate::config::load(manager_dir)?;
    let customer = registry
        .require(&slug)
        .map_err(|m| Error::usage(format!("{m}; nothing was applied")))?;
    let view = manager
        .select_product(args.product.as_deref())
        .map_err(Error::usage)?;
    if view.environment(&args.environment).is_none() {
        return Err(Error::usage(format!(
            "unknown environment `{}`{}",
            args.environment,
            view.product
                .as_deref()
                .map(|p| format!(" for product `{p}`"))
                .unwrap_or_default()
        )));
    }
    let unit = view.unit(&customer.slug, &args.environment);
    let dir = args
        .plan_dir
        .clone()
        .unwrap_or_else(|| args.out.join(unit.rel_dir()));
    // A pinned customer applies with the manager at its pin, as it planned.
    let scratch = tempfile::tempdir()
        .map_err(|e| Error::failed(format!("a scratch folder for a pinned view: {e}")))?;
    let view = crate::config::pins::pinned_view(&manager, &view, customer, scratch.path())
        .map_err(|e| Error::refused(format!("{e}; nothing was applied")))?
        .unwrap_or(view);
    let engine = crate::engine::Engine::with_terraform(&view, args.terraform.as_deref())?;
    // An ops workflow's plan arrives sealed (`plan --seal`).
    crate::flows::github_loop::artifact::open_local(&unit, &dir)?;
    let targeting = crate::engine::read_summary(&dir)
        .ok()
        .and_then(|s| s.targeting);
    let verdict = second_person(args, &manager, &view, targeting.is_some(), cx)?;
    let result = engine.apply(
        customer,
        &args.environment,
        &dir,
        args.plan_sha256.as_deref(),
        None,
    );
    let mut entry = audit_entry(&result).unit(&unit);
    if let (Some(v), Ok(_)) = (&verdict, &result) {
        let approvers: Vec<String> = v.approver.iter().cloned().collect();
        entry = entry.approval(v.approval).approvers(&approvers);
    }
    if let Some(t) = &targeting {
        // A targeted plan's apply names what it targeted, who asked, why.
        let detail = entry.detail.take();
        let who = verdict
            .as_ref()
            .map(|v| format!(", {}", v.describe()))
            .unwrap_or_default();
        entry = entry
            .detail(match detail {
                Some(d) => format!("{}{who}; {d}", planned_as(t)),
                None => format!("{} (planned by {}{who})", planned_as(t), t.actor),
            })
            .reason(&t.reason);
    }
    let kept = match &result {
        Ok(done) => Some(keep_deployment(
            &view,
            &unit,
            &dir,
            customer,
            done,
            &entry.actor,
            &cx.net,
        )),
        Err(_) => None,
    };
    let ok = result.is_ok();
    cx.record(entry);
    if let (true, Some(t)) = (args.github, &targeting) {
        report_targeted(customer, &unit, t, ok, cx)?;
    }
    finish(result, &unit, args, &cx.out)?;
    match kept {
        Some(Err(e)) => Err(Error::failed(format!(
            "applied, but the deployment record was not kept: {e}; the audit log has the apply"
        ))),
        _ => Ok(()),
    }
}

/// A targeted plan by its flags; a drift repair's plan (no flags) as such.
fn planned_as(t: &crate::data::summary::Targeting) -> String {
    match t.flags() {
        f if f.is_empty() => "drift repair".to_string(),
        f => f.join(" "),
    }
}

/// Who let an operator's apply through: on GitHub Actions every apply
/// outside the dispatch loop (a targeted or replace plan from the ops
/// workflow) needs the sealed plan's digest and a second person; on a
/// workstation a targeted plan needs `--unreviewed`. `None`: a plain
/// workstation apply, recorded as `local`.
fn second_person(
    args: &LocalApply,
    live: &crate::config::Manager,
    view: &crate::config::Manager,
    targeted: bool,
    cx: &Context,
) -> Result<Option<crate::flows::github_loop::second_person::Verdict>> {
    let in_actions = crate::ci::in_actions();
    if !in_actions && !targeted && !args.unreviewed && args.confirms.is_none() {
        return Ok(None);
    }
    if in_actions {
        crate::flows::local::ops::check_operator(live, cx)?;
    }
    if in_actions && args.plan_sha256.is_none() {
        return Err(Error::refused(
            "on GitHub Actions an operator's apply names the digest of the plan the second person approved (--plan-sha256, the plan job's output); nothing was applied"));
    }
    let environment = view
        .environment(&args.environment)
        .map(|e| e.apply_environment())
        .unwrap_or_default();
    crate::flows::github_loop::second_person::check(
        &crate::flows::github_loop::second_person::Ask {
            environment: &environment,
            confirms: args.confirms,
            unreviewed: args.unreviewed,
            done: "applied",
        },
        cx,
    )
    .map(Some)
}

/// A targeted plan's apply on the customer's repo (a deployment, a PR
/// comment), as the state operations report theirs.
fn report_targeted(
    customer: &crate::config::Customer,
    unit: &Unit,
    t: &crate::data::summary::Targeting,
    ok: bool,
    cx: &Context,
) -> Result<()> {
    use crate::flows::local::ops::{report_on_github, Report};
    let flags = t.flags();
    let (operation, done) = match (t.replace.is_empty(), t.target.is_empty()) {
        (true, true) => ("repair", crate::report::customer::Done::Repair),
        (true, false) => (
            "target",
            crate::report::customer::Done::TargetedApply { flags: &flags },
        ),
        _ => (
            "replace",
            crate::report::customer::Done::TargetedApply { flags: &flags },
        ),
    };
    let actor = crate::audit::Entry::now("apply", "").actor;
    let report = Report {
        done,
        operation,
        actor: &actor,
        reason: &t.reason,
        ok,
    };
    report_on_github(customer, unit, &report, cx).map(|_| ())
}

/// The deployment record of a local apply, in the manager's records store.
fn keep_deployment(
    manager: &crate::config::Manager,
    unit: &Unit,
    dir: &Path,
    customer: &crate::config::Customer,
    done: &ApplyOutcome,
    actor: &str,
    net: &crate::net::Settings,
) -> std::result::Result<String, crate::records::RecordsError> {
    let summary = crate::engine::read_summary(dir).ok();
    let ctx = crate::ci::RunContext::from_env();
    crate::records::record_deployment(
        &crate::records::Store::for_manager(manager, net),
        unit,
        dir,
        crate::records::DeploymentFacts {
            customer_repo: customer.repo.clone(),
            customer_sha: summary.and_then(|s| s.sha),
            manager_sha: ctx.sha.clone(),
            plan_sha256: done.plan_sha256.clone(),
            actor: actor.to_string(),
            run_url: ctx.run_url(),
            pr: None,
        },
    )
}

fn is_stale(e: &Error) -> bool {
    matches!(e, Error::Terraform(TerraformError::StalePlan { .. }))
}

/// The audit line of a local apply: applied, refused (a stale plan too),
/// or failed.
fn audit_entry(result: &std::result::Result<ApplyOutcome, Error>) -> Entry {
    // Nobody approved it in fleetform: by hand, or a workflow's own step.
    let how = |e: Entry| {
        let a = if e.run_url.is_none() {
            crate::audit::Approval::Local
        } else {
            crate::audit::Approval::Automatic
        };
        e.approval(a)
    };
    match result {
        Ok(done) => how(Entry::now("apply", "ok").plan(Some(&done.plan_sha256))),
        Err(Error::Refused(m) | Error::Waiting(m)) => {
            Entry::now("refusal", "refused").detail(format!("apply: {m}"))
        }
        Err(e) if is_stale(e) => Entry::now("refusal", "refused").detail("apply: stale plan"),
        Err(e) => how(Entry::now("apply", "failed").detail(e.short())),
    }
}

/// The result line (or JSON), or the error to exit with.
fn finish(
    result: std::result::Result<ApplyOutcome, Error>,
    unit: &Unit,
    args: &LocalApply,
    out: &Output,
) -> Result<()> {
    match result {
        Ok(done) => {
            if !args.show {
                out.verbose(&format!("applied {unit} (plan sha256:{})", done.plan_sha256));
            } else if args.json {
                out.json(&done).expect("serialisable");
            } else {
                out.result(&format!("applied {unit} (plan sha256:{})", done.plan_sha256));
            }
            Ok(())
        }
        Err(Error::Refused(m) | Error::Waiting(m) | Error::Withheld(m)) => {
            Err(Error::Refused(m))
        }
        Err(e) if is_stale(&e) => Err(Error::refused(
            "the saved plan is stale: the state changed after it was made; nothing was applied, plan again")),
        Err(e) => Err(e),
    }
}
