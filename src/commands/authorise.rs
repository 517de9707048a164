//! `fleetform authorise` (manager side, on `repository_dispatch`): the
//! first job of the deploy workflow. It runs the same checks as
//! `plan --dispatch` (the payload parses, its repo is a registered customer
//! with the registered spelling, the dispatch is signed with that
//! customer's current key less than an hour ago, the customer is active)
//! and sets step outputs the later jobs key on: their concurrency groups
//! and which environments they run. Those keys therefore come from the
//! registry, never from the payload, and a dispatch that merely names a
//! customer joins none of its groups.
//!
//! It reads nothing from GitHub but, for a comment command
//! (`flows::github_loop::comment_command`), the comment and its author's permission;
//! its environments are then the one the comment names, if any. The writes
//! it may make are the `failure` status on a revoked customer's commit,
//! after the dispatch's signature verified, and a comment command's
//! reaction or refusal reply, and only with a token (`FLEETFORM_TOKEN`, the
//! template passes SOURCE_REPOS_PAT); without one every write is withheld.
//! A refusal is exit 3 with one audit line, like `plan --dispatch`.

use std::path::Path;

use crate::ci::RunContext;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::flows::github_loop::authorise::{authorise_dispatch, Authorised};
use crate::flows::github_loop::once::Claim;
use crate::flows::github_loop::record::audit_refusal;
use crate::output::Output;

pub fn run(manager_dir: &Path, cx: &Context) -> Result<()> {
    let ctx = RunContext::from_env();
    let r = authorise_dispatch(&ctx, manager_dir, cx).and_then(|a| hand_on(&ctx, &a, &cx.out));
    audit_refusal(&r, "authorise", manager_dir, cx);
    r
}

/// The step outputs the later jobs key on, and the result line.
fn hand_on(ctx: &RunContext, a: &Authorised, out: &Output) -> Result<()> {
    // A duplicate's `Authorised` has no environments, identity or key:
    // the same outputs make every later job skip.
    let environments_json = serde_json::to_string(&a.environments).expect("serialisable");
    let duplicate = matches!(a.duplicate_of, Some(Claim::Duplicate { .. }));
    ctx.set_outputs(&[
        ("customer", a.customer.clone()),
        ("customer_repo", a.customer_repo.clone()),
        ("event_type", a.event_type.clone()),
        ("environments", environments_json.clone()),
        ("identity", identity_json(a)),
        ("plan_key", a.plan_key.clone()),
        (
            "key_environments",
            serde_json::to_string(&a.key_environments).expect("serialisable"),
        ),
        ("duplicate", duplicate.to_string()),
    ])
    .map_err(|e| Error::failed(format!("writing GITHUB_OUTPUT: {e}")))?;
    if let Some(Claim::Duplicate { run_id, run_url }) = &a.duplicate_of {
        out.result(&format!(
            "duplicate: this {} dispatch from `{}` was claimed by run {run_id}{}, which plans it; nothing is planned here",
            a.event_type,
            a.customer,
            run_url.as_deref().map(|u| format!(" ({u})")).unwrap_or_default()
        ));
        return Ok(());
    }
    out.result(&format!(
        "authorised {} dispatch from `{}` ({}); environments {environments_json}",
        a.event_type, a.customer, a.customer_repo
    ));
    for (env, ids) in &a.identities {
        out.result(&format!(
            "{env}: plans as `{}`, applies as `{}` ({})",
            ids.plan.role_arn, ids.apply.role_arn, ids.apply.region
        ));
    }
    Ok(())
}

/// `{"<env>": {"plan": {role_arn, session_name, region, …}, "apply": …}}`
/// for the templates' `aws-actions/configure-aws-credentials` steps.
fn identity_json(a: &Authorised) -> String {
    serde_json::to_string(&a.identities).expect("serialisable")
}
