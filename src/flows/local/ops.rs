//! Day-2 operations on one customer × product × environment
//! (`fleetform state import|mv|rm|force-unlock`): the customer and
//! environment checked, the operation run by the engine with the pair's
//! backend, state key and scrubbed environment, then recorded (an audit
//! event with actor and reason, which the records store keeps too,
//! create-only) and, with `--github`, reported on the customer's
//! repo: a deployment, and a comment on its newest open pull request.
//! Under GitHub Actions the run's actor must be an active member of the
//! operators team (`rollout.operators`), as for rollout control.

use std::path::{Path, PathBuf};

use crate::audit::Entry;
use crate::config::{Customer, Unit};
use crate::context::Context;
use crate::engine::ops::StateOp;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::report::customer::{comment, Comment, Done, StateOp as Said};

/// Where and why an operation runs.
#[derive(Debug, Clone)]
pub struct OpTarget {
    pub customer: String,
    pub environment: String,
    pub product: Option<String>,
    /// Required, never empty.
    pub reason: String,
    /// Results folder; the operation's log lands in its pair's folder.
    pub out: PathBuf,
    pub terraform: Option<PathBuf>,
    /// The customer's checkout, instead of the registry's `path`.
    pub customer_dir: Option<PathBuf>,
    /// Report on the customer's repo (a deployment, a PR comment).
    pub github: bool,
    pub phase: Phase,
    /// `--confirms RUN`: the preview's run another operator started.
    pub confirms: Option<u64>,
    /// `--unreviewed`: on a workstation, with no second person.
    pub unreviewed: bool,
}

/// Which half of a state operation runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Seal a preview for a second person (`--preview`).
    Preview,
    /// Run the sealed preview with this digest (`state apply --sha256`).
    Sealed { sha256: String },
    /// Run it now: only `--unreviewed`, on a workstation.
    Direct,
}

/// `reason`, when given and not blank.
pub fn require_reason(reason: Option<&str>) -> Result<String> {
    match reason.map(str::trim) {
        Some(r) if !r.is_empty() => Ok(r.to_string()),
        _ => Err(Error::usage(
            "say why with --reason \"...\": it is kept in the audit log and the records",
        )),
    }
}

/// Previews, or runs and records, a state operation (`asked`: the one on
/// the command line; a sealed preview holds its own). Returns the result
/// text.
pub fn state_op(
    t: &OpTarget,
    asked: Option<&StateOp>,
    manager_dir: &Path,
    cx: &Context,
) -> Result<String> {
    let (manager, registry) = crate::config::load(manager_dir)?;
    let (view, customer) = pair_of(
        &manager,
        &registry,
        &t.customer,
        t.product.as_deref(),
        &t.environment,
    )?;
    let unit = view.unit(&customer.slug, &t.environment);
    // On GitHub Actions only active members of `rollout.operators` (the
    // run's actor and whoever re-ran it) operate on a state; fail closed.
    check_operator(&manager, cx)?;
    let engine = Engine::with_terraform(&view, t.terraform.as_deref())?;
    let dir = t.out.join(unit.rel_dir());
    let apply_environment = view
        .environment(&t.environment)
        .map(|e| e.apply_environment())
        .unwrap_or_default();
    let (op, sealed) = match (&t.phase, asked) {
        (Phase::Preview, Some(op)) => {
            let p = Preview {
                unit: &unit,
                op,
                reason: &t.reason,
                releases: None,
                dir: &dir,
                apply_environment: &apply_environment,
            };
            return preview(&engine, customer, &p, &cx.out);
        }
        (Phase::Sealed { sha256 }, None) => {
            let sealed = open_state_op(&dir, sha256, &unit)?;
            (sealed.op()?, Some((sealed, sha256.clone())))
        }
        (Phase::Direct, Some(op)) if !crate::ci::in_actions() => (op.clone(), None),
        (Phase::Direct, Some(_)) => return Err(Error::refused(
            "on GitHub Actions a state operation is previewed first (--preview), then run from its sealed preview (`state apply --sha256 DIGEST`) once a second person approved; nothing was changed")),
        _ => return Err(Error::usage(
            "`state apply` runs a sealed preview and takes no operation; the others take their operands")),
    };
    let verdict = crate::flows::github_loop::second_person::check(
        &crate::flows::github_loop::second_person::Ask {
            environment: &apply_environment,
            confirms: t.confirms,
            unreviewed: t.unreviewed,
            done: "changed",
        },
        cx,
    )?;
    if let Some((s, _)) = &sealed {
        still_as_previewed(&engine, customer, &t.environment, &dir, s)?;
    }
    let run = Run {
        t,
        op: &op,
        reason: sealed
            .as_ref()
            .map_or(t.reason.as_str(), |(s, _)| s.reason.as_str()),
        digest: sealed.as_ref().map(|(_, d)| d.as_str()),
        verdict: &verdict,
    };
    run_and_record(&engine, &registry, customer, &unit, &dir, &run, cx)
}

/// The sealed preview in `dir` with digest `sha256`, for `unit`: a
/// state operation's, not an adoption's release (which `adopt release`
/// runs and records).
fn open_state_op(dir: &Path, sha256: &str, unit: &Unit) -> Result<super::state_preview::Sealed> {
    let key = (
        unit.customer.as_str(),
        unit.product.as_deref(),
        unit.environment.as_str(),
    );
    let sealed = super::state_preview::Sealed::open(dir, sha256, key)?;
    if let Some(adoption) = &sealed.releases {
        return Err(Error::refused(format!(
            "the sealed preview is the release of {unit}'s adoption (plan sha256:{adoption}): run it with `fleetform adopt release --sha256 {sha256}`, which records the release; nothing was changed"
        )));
    }
    Ok(sealed)
}

/// The manager's view of `product` and the customer, registered for `env`
/// (see [`registered_for`]); an error changes nothing.
pub(crate) fn pair_of<'r>(
    manager: &crate::config::Manager,
    registry: &'r crate::config::Registry,
    customer: &str,
    product: Option<&str>,
    env: &str,
) -> Result<(crate::config::Manager, &'r Customer)> {
    let customer = registry
        .require(customer)
        .map_err(|m| Error::usage(format!("{m}; nothing was changed")))?;
    let view = manager.select_product(product).map_err(Error::usage)?;
    registered_for(manager, registry, customer, &view, env)?;
    Ok((view, customer))
}

/// The customer is registered for `env` (and, with products, has the
/// view's product), as a plan demands.
fn registered_for(
    manager: &crate::config::Manager,
    registry: &crate::config::Registry,
    customer: &Customer,
    view: &crate::config::Manager,
    env: &str,
) -> Result<()> {
    if view.environment(env).is_none() {
        return Err(Error::usage(format!(
            "unknown environment `{env}`; nothing was changed"
        )));
    }
    if !customer.environments.iter().any(|e| e == env) {
        return Err(Error::usage(format!(
            "{}; nothing was changed",
            crate::fleet::select::not_enabled(customer, env)
        )));
    }
    let Some(product) = view.product.as_deref() else {
        return Ok(());
    };
    if let Some(enabled) =
        crate::fleet::products::missing_product(manager, registry, customer, product)?
    {
        return Err(Error::usage(format!(
            "customer `{}` does not have product `{product}` (it has: {}); nothing was changed",
            customer.slug,
            enabled.join(", ")
        )));
    }
    Ok(())
}

/// What a preview seals, and where.
pub(crate) struct Preview<'a> {
    pub unit: &'a Unit,
    pub op: &'a StateOp,
    pub reason: &'a str,
    /// An adoption's release: the adoption plan's digest.
    pub releases: Option<&'a str>,
    /// The unit's results folder (the preview is written there).
    pub dir: &'a Path,
    /// The GitHub environment the applying job runs in.
    pub apply_environment: &'a str,
}

/// Seals the preview of `p.op` against the state now; the text is what
/// the approver reads, and the digest goes to the job's outputs.
pub(crate) fn preview(
    engine: &Engine<'_>,
    customer: &Customer,
    p: &Preview<'_>,
    out: &Output,
) -> Result<String> {
    use super::state_preview::{read_state, Request, Sealed};
    let unit = p.unit;
    let (facts, listed) = read_state(engine, customer, &unit.environment, p.dir)?;
    let ctx = crate::ci::RunContext::from_env();
    let requested_by = Entry::now("state", "").actor;
    let run_url = ctx.run_url();
    let req = Request {
        customer: &customer.slug,
        product: unit.product.as_deref(),
        environment: &unit.environment,
        op: p.op,
        reason: p.reason,
        requested_by: &requested_by,
        run_url: run_url.as_deref(),
        releases: p.releases,
    };
    let sealed = Sealed::make(&req, facts, &listed);
    let digest = sealed.write(p.dir)?;
    if let Err(e) = ctx.set_outputs(&[("digest", digest.clone())]) {
        out.note(&format!("could not set the job output `digest`: {e}"));
    }
    let unit_name = unit.to_string();
    crate::report::ops::state_preview(&crate::report::ops::StatePreview {
        unit: &unit_name,
        operation: &sealed.operation,
        operands: &sealed.operands,
        present: sealed
            .present
            .iter()
            .map(|(a, p)| (a.as_str(), *p))
            .collect(),
        reason: &sealed.reason,
        requested_by: &sealed.requested_by,
        serial: sealed.state.serial,
        resources: sealed.state.resources,
        digest: &digest,
        apply_environment: p.apply_environment,
        run_id: ctx.run_id.as_deref(),
        releases: sealed.releases.as_deref(),
    })
    .map_err(|e| Error::failed(format!("rendering the preview: {e}")))
}

/// The state is the one the preview was made against; else the refusal.
pub(crate) fn still_as_previewed(
    engine: &Engine<'_>,
    customer: &Customer,
    env: &str,
    dir: &Path,
    sealed: &super::state_preview::Sealed,
) -> Result<()> {
    let (now, _) = super::state_preview::read_state(engine, customer, env, dir)?;
    if now.sha256 != sealed.state.sha256 {
        return Err(Error::refused(format!(
            "the state changed since the preview (serial {} then, {} now): nothing was changed; preview again",
            sealed.state.serial.map_or("unknown".into(), |s| s.to_string()),
            now.serial.map_or("unknown".into(), |s| s.to_string()),
        )));
    }
    Ok(())
}

/// An operation about to run, and who let it through.
struct Run<'a> {
    t: &'a OpTarget,
    op: &'a StateOp,
    reason: &'a str,
    /// The sealed preview's digest.
    digest: Option<&'a str>,
    verdict: &'a crate::flows::github_loop::second_person::Verdict,
}

/// Runs the operation, records it (audit, records store) and reports it.
fn run_and_record(
    engine: &Engine<'_>,
    registry: &crate::config::Registry,
    customer: &Customer,
    unit: &Unit,
    dir: &Path,
    run: &Run<'_>,
    cx: &Context,
) -> Result<String> {
    let (t, op) = (run.t, run.op);
    let docs = match op {
        StateOp::Import { .. } => Some(read_docs(engine, registry, customer, t)?),
        _ => None,
    };
    let result = engine.state_op(customer, &t.environment, docs.as_ref(), dir, op);
    let failure = result.as_ref().err().map(Error::short);
    let operands: Vec<String> = op.operands().iter().map(|s| s.to_string()).collect();
    // The audit event is the operation's record: it is kept in the
    // records store too (create-only), with the failure when it failed.
    let detail = format!("{} {}", op.name(), operands.join(" "));
    let approvers: Vec<String> = run.verdict.approver.iter().cloned().collect();
    let entry = Entry::now("state", if failure.is_some() { "failed" } else { "ok" })
        .unit(unit)
        .reason(run.reason)
        .plan(run.digest)
        .approval(run.verdict.approval)
        .approvers(&approvers)
        .detail(match &failure {
            Some(f) => format!("{detail} ({}): {f}", run.verdict.describe()),
            None => format!("{detail} ({})", run.verdict.describe()),
        });
    let actor = entry.actor.clone();
    cx.record(entry);
    if t.github {
        let report = Report {
            done: Done::StateOp {
                name: op.name(),
                operands: &operands,
            },
            operation: op.name(),
            actor: &actor,
            reason: run.reason,
            ok: failure.is_none(),
        };
        report_on_github(customer, unit, &report, cx)?;
    }
    result.map_err(run_error)?;
    Ok(format!(
        "{detail}: done for {unit} by {actor}, {} (state only; nothing in the cloud changed)",
        run.verdict.describe()
    ))
}

/// Under GitHub Actions, the run's actor (and whoever re-ran it) is an
/// active member of `rollout.operators`; else the refusal. Nothing to
/// check outside Actions (a command run by hand: its user is the actor).
pub fn check_operator(manager: &crate::config::Manager, cx: &Context) -> Result<()> {
    if let Some(gh) = crate::flows::rollout::github::RolloutGitHub::from_env(cx)? {
        gh.operator(manager, "changed")?;
    }
    Ok(())
}

/// The customer's values for the target's environment from its
/// checkout (`--customer-dir`, else the registry's `path`), checked.
fn read_docs(
    engine: &Engine<'_>,
    registry: &crate::config::Registry,
    customer: &Customer,
    t: &OpTarget,
) -> Result<crate::values::customer::CustomerDocs> {
    use crate::values::customer::CustomerSource;
    let envs = [t.environment.clone()];
    let read = match &t.customer_dir {
        Some(dir) => CustomerSource::from_dir(engine.manager, dir, &envs).map_err(|d| vec![d]),
        None => crate::fleet::local_source(engine.manager, registry)(customer, &envs),
    };
    read.and_then(|src| crate::values::customer::check(&src, &engine.schema))
        .map_err(Error::Values)
}

/// The error a failed operation exits with.
use super::state_preview::run_error;

/// What [`report_on_github`] says was done.
pub struct Report<'a> {
    /// The operation and its operands.
    pub done: Done<'a>,
    /// Plain: `rm`, `replace`, ...
    pub operation: &'a str,
    pub actor: &'a str,
    pub reason: &'a str,
    pub ok: bool,
}

/// On the customer's repo: a deployment of its default branch's head in
/// the environment, `success` or `failure`, and a comment on its newest
/// open pull request into that branch, if any: that pull request's
/// address. A customer without a repo gets a note.
pub fn report_on_github(
    customer: &Customer,
    unit: &Unit,
    r: &Report<'_>,
    cx: &Context,
) -> Result<Option<String>> {
    let Some(repo) = customer.repo.as_deref() else {
        cx.out.note(&format!(
            "`{}` has no repo in the registry: nothing reported on GitHub",
            customer.slug
        ));
        return Ok(None);
    };
    let rt = crate::flows::github_loop::session::runtime()?;
    let gh = crate::flows::github_loop::session::repo_or_env_client(
        &rt,
        repo,
        crate::flows::github_loop::session::access::APPLY,
        cx,
    )?
    .ok_or_else(|| Error::usage("--github needs the customer App (FLEETFORM_CUSTOMER_APP_ID and FLEETFORM_CUSTOMER_APP_PRIVATE_KEY) or a token (FLEETFORM_TOKEN or GITHUB_TOKEN)"))?;
    let run = crate::ci::RunContext::from_env();
    let run_url = run.run_url();
    let ok = r.ok;
    let unit_name = unit.to_string();
    let body = comment(&Comment::StateOp(&Said {
        unit: &unit_name,
        environment: &unit.environment,
        done: r.done.clone(),
        operation: r.operation,
        actor: r.actor,
        reason: r.reason,
        ok,
        run_url: run_url.as_deref(),
    }));
    rt.block_on(async {
        // The deployment's ref is the default branch (GitHub resolves it).
        let branch = gh.repo_info(repo).await?.default_branch;
        let at = (repo, branch.as_str(), unit.environment.as_str());
        let said = crate::flows::github_loop::deployments::StateOperation {
            operation: r.operation,
            actor: r.actor,
            reason: r.reason,
            ok: r.ok,
        };
        crate::flows::github_loop::deployments::state_operation(&gh, at, &said, run_url.as_deref())
            .await?;
        let Some((number, _)) = gh.newest_open_pull(repo, &branch).await? else {
            return Ok(None);
        };
        crate::flows::github_loop::comment::reply(&gh, repo, number, &body).await?;
        Ok::<_, crate::github::GitHubError>(Some(format!(
            "{}/{repo}/pull/{number}",
            run.server_url.trim_end_matches('/')
        )))
    })
    .map_err(crate::flows::github_loop::session::gh_err)
}
