//! Day-2 operations on one customer × product × environment
//! (`fleetform state import|mv|rm|force-unlock`): the customer and
//! environment checked, the operation run by the engine with the pair's
//! backend, state key and scrubbed environment, then recorded (an audit
//! event with actor and reason, and an operation record in the records
//! store, create-only) and, with `--github`, reported on the customer's
//! repo: a deployment, and a comment on its newest open pull request.

use std::path::{Path, PathBuf};

use crate::audit::Entry;
use crate::config::{Customer, Unit};
use crate::engine::ops::StateOp;
use crate::engine::{Engine, RunError};
use crate::error::{Error, Result};
use crate::output::Output;
use crate::report::markdown::{md_code, md_escape};

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
    /// Report on the customer's repo (a deployment, a PR comment).
    pub github: bool,
}

/// What an operation did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OpDone {
    pub customer: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    pub environment: String,
    pub operation: String,
    pub operands: Vec<String>,
    pub actor: String,
    pub reason: String,
    /// The operation's record in the records store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    #[serde(skip)]
    pub output: String,
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
pub fn state_op(t: &OpTarget, op: &StateOp, manager_dir: &Path, out: &Output) -> Result<OpDone> {
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
    let engine = Engine::with_terraform(&view, t.terraform.as_deref())?;
    let docs = match op {
        StateOp::Import { .. } => Some(read_docs(&engine, &registry, customer, &t.environment)?),
        _ => None,
    };
    let dir = t.out.join(unit.rel_dir());
    let result = engine.state_op(customer, &t.environment, docs.as_ref(), &dir, op);
    let entry = Entry::now("state", if result.is_ok() { "ok" } else { "failed" })
        .unit(&unit)
        .detail(format!("{} {}", op.name(), op.operands().join(" ")))
        .reason(&t.reason);
    let mut done = OpDone {
        customer: customer.slug.clone(),
        product: unit.product.clone(),
        environment: t.environment.clone(),
        operation: op.name().to_string(),
        operands: op.operands().iter().map(|s| s.to_string()).collect(),
        actor: entry.actor.clone(),
        reason: t.reason.clone(),
        record: None,
        output: String::new(),
    };
    let failure = result.as_ref().err().map(RunError::short);
    done.record = keep_record(&view, &unit, &done, failure.as_deref(), out);
    crate::audit::record(out, entry);
    if t.github {
        let what = format!("`{}` {}", op.name(), md_operands(&done.operands));
        report_on_github(customer, &unit, &what, &done, failure.is_none(), out)?;
    }
    done.output = result.map_err(run_error)?;
    Ok(done)
}

/// The customer's values for `env` from its local checkout, checked.
fn read_docs(
    engine: &Engine<'_>,
    registry: &crate::config::Registry,
    customer: &Customer,
    env: &str,
) -> Result<crate::values::customer::CustomerDocs> {
    let source = crate::fleet::local_source(engine.manager, registry);
    source(customer, &[env.to_string()])
        .and_then(|src| crate::values::customer::check(&src, &engine.schema))
        .map_err(Error::Values)
}

/// The operation's record in the store audit events go to (the
/// manager's otherwise); a failure to write it is reported, not fatal.
fn keep_record(
    manager: &crate::config::Manager,
    unit: &Unit,
    done: &OpDone,
    failure: Option<&str>,
    out: &Output,
) -> Option<String> {
    let record = crate::records::Operation {
        time: jiff::Timestamp::now().to_string(),
        customer: unit.customer.clone(),
        product: unit.product.clone(),
        environment: unit.environment.clone(),
        operation: done.operation.clone(),
        operands: done.operands.clone(),
        actor: done.actor.clone(),
        reason: done.reason.clone(),
        result: if failure.is_some() { "failed" } else { "ok" }.into(),
        detail: failure.map(str::to_string),
        run_url: crate::ci::RunContext::from_env().run_url(),
    };
    let own;
    let store = match crate::audit::store() {
        Some(s) => s,
        None => {
            own = crate::records::Store::for_manager(manager);
            &own
        }
    };
    match crate::records::record_operation(store, unit, &record) {
        Ok(key) => Some(key),
        Err(e) => {
            out.error(&format!(
                "the record of `{}` was not kept in {}: {e}; the audit log has it",
                done.operation,
                store.describe()
            ));
            None
        }
    }
}

fn md_operands(ops: &[String]) -> String {
    ops.iter().map(|o| md_code(o)).collect::<Vec<_>>().join(" ")
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

/// On the customer's repo: a deployment of its default branch's head in
/// the environment, `success` or `failure`, and a comment on its newest
/// open pull request into that branch, if any. A customer without a repo
/// gets a note. `what` is Markdown.
pub(super) fn report_on_github(
    customer: &Customer,
    unit: &Unit,
    what: &str,
    done: &OpDone,
    ok: bool,
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
    let plain = format!(
        "fleetform {} by {}: {}",
        done.operation, done.actor, done.reason
    );
    let body = format!(
        "**fleetform** on {}: {what} {} by {} (`{}`).\n\nReason: {}{}\n",
        md_code(&unit.to_string()),
        if ok { "done" } else { "**failed**" },
        md_escape(&done.actor),
        unit.environment,
        md_escape(&done.reason),
        run_url
            .as_deref()
            .map(|u| format!("\n\n[The run]({u})"))
            .unwrap_or_default(),
    );
    rt.block_on(async {
        let (branch, sha) = gh.default_branch_head(repo).await?;
        let d = crate::github::NewDeployment {
            sha,
            environment: unit.environment.clone(),
            description: plain,
            production: unit.environment == "production",
        };
        if let Some(id) = gh.create_deployment(repo, &d).await? {
            let state = if ok { "success" } else { "failure" };
            let desc = format!("{} {}", done.operation, state);
            gh.set_deployment_status(repo, id, state, &desc, run_url.as_deref())
                .await?;
        }
        if let Some((number, _)) = gh.newest_open_pull(repo, &branch).await? {
            gh.create_comment(repo, number, &body).await?;
        }
        Ok::<_, crate::github::GitHubError>(())
    })
    .map_err(super::session::gh_err)
}
