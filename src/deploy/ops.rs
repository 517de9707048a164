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
use crate::engine::ops::StateOp;
use crate::engine::{Engine, RunError};
use crate::error::{Error, Result};
use crate::output::Output;
use crate::report::customer::{comment, deployment, Comment, Deployment, Done, StateOp as Said};

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
}

/// `reason`, when given and not blank.
pub fn require_reason(reason: Option<&str>) -> Result<String> {
    match reason.map(str::trim) {
        Some(r) if !r.is_empty() => Ok(r.to_string()),
        _ => Err(Error::Usage(
            "say why with --reason \"...\": it is kept in the audit log and the records".into(),
        )),
    }
}

/// Runs `op` on the target's state and records it.
/// Returns the result line.
pub fn state_op(t: &OpTarget, op: &StateOp, manager_dir: &Path, out: &Output) -> Result<String> {
    let (manager, registry) = crate::config::load(manager_dir)?;
    let customer = registry
        .require(&t.customer)
        .map_err(|m| Error::Usage(format!("{m}; nothing was changed")))?;
    let view = manager
        .select_product(t.product.as_deref())
        .map_err(Error::Usage)?;
    if view.environment(&t.environment).is_none() {
        return Err(Error::Usage(format!(
            "unknown environment `{}`; nothing was changed",
            t.environment
        )));
    }
    let unit = view.unit(&customer.slug, &t.environment);
    // On GitHub Actions only active members of `rollout.operators` (the
    // run's actor and whoever re-ran it) operate on a state; fail closed.
    check_operator(&manager, out)?;
    let engine = Engine::with_terraform(&view, t.terraform.as_deref())?;
    let docs = match op {
        StateOp::Import { .. } => Some(read_docs(&engine, &registry, customer, t)?),
        _ => None,
    };
    let dir = t.out.join(unit.rel_dir());
    let result = engine.state_op(customer, &t.environment, docs.as_ref(), &dir, op);
    let failure = result.as_ref().err().map(RunError::short);
    let operands: Vec<String> = op.operands().iter().map(|s| s.to_string()).collect();
    // The audit event is the operation's record: it is kept in the
    // records store too (create-only), with the failure when it failed.
    let detail = format!("{} {}", op.name(), operands.join(" "));
    let entry = Entry::now("state", if failure.is_some() { "failed" } else { "ok" })
        .unit(&unit)
        .reason(&t.reason)
        .detail(match &failure {
            Some(f) => format!("{detail}: {f}"),
            None => detail.clone(),
        });
    let actor = entry.actor.clone();
    crate::audit::record(out, entry);
    if t.github {
        let report = Report {
            done: Done::StateOp {
                name: op.name(),
                operands: &operands,
            },
            operation: op.name(),
            actor: &actor,
            reason: &t.reason,
            ok: failure.is_none(),
        };
        report_on_github(customer, &unit, &report, out)?;
    }
    result.map_err(run_error)?;
    Ok(format!("{detail}: done for {unit} by {actor}"))
}

/// Under GitHub Actions, the run's actor (and whoever re-ran it) is an
/// active member of `rollout.operators`; else the refusal. Nothing to
/// check outside Actions (a command run by hand: its user is the actor).
pub fn check_operator(manager: &crate::config::Manager, out: &Output) -> Result<()> {
    if let Some(gh) = super::RolloutGitHub::from_env(out)? {
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
pub(super) fn run_error(e: RunError) -> Error {
    match e {
        RunError::Refused(m) | RunError::Waiting(m) => Error::Refused(m),
        RunError::Terraform(t) => Error::Terraform(t),
        RunError::Values(d) => Error::Values(d),
        RunError::Io(e) => Error::Other(e),
    }
}

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
/// open pull request into that branch, if any. A customer without a repo
/// gets a note.
pub fn report_on_github(
    customer: &Customer,
    unit: &Unit,
    r: &Report<'_>,
    out: &Output,
) -> Result<()> {
    let Some(repo) = customer.repo.as_deref() else {
        out.note(&format!(
            "`{}` has no repo in the registry: nothing reported on GitHub",
            customer.slug
        ));
        return Ok(());
    };
    let rt = super::session::runtime()?;
    let token = super::session::repo_token(&rt, repo, super::session::access::APPLY, out)?
        .ok_or_else(|| {
            Error::Usage("--github needs a token: set FLEETFORM_TOKEN or GITHUB_TOKEN".into())
        })?;
    let gh = crate::github::GitHub::new(
        &rt,
        &crate::github::GitHub::api_url_from_env(),
        Some(&token),
        false,
    )
    .map_err(super::session::gh_err)?;
    let run_url = crate::ci::RunContext::from_env().run_url();
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
        let d = crate::github::NewDeployment {
            sha: branch.clone(),
            environment: unit.environment.clone(),
            description: deployment(&Deployment::StateOp {
                operation: r.operation,
                actor: r.actor,
                reason: r.reason,
            }),
            production: unit.environment == "production",
            marker: None,
        };
        if let Some(id) = gh.create_deployment(repo, &d).await? {
            let state = if ok { "success" } else { "failure" };
            let desc = deployment(&Deployment::StateOpEnded {
                operation: r.operation,
                ok,
            });
            gh.set_deployment_status(repo, id, state, &desc, run_url.as_deref())
                .await?;
        }
        if let Some((number, _)) = gh.newest_open_pull(repo, &branch).await? {
            super::comment::reply(&gh, repo, number, &body).await?;
        }
        Ok::<_, crate::github::GitHubError>(())
    })
    .map_err(super::session::gh_err)
}
