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
//! It reads nothing from GitHub. The one write it may make is the `failure`
//! status on a revoked customer's commit, after the dispatch's signature
//! verified, and only with a token (`FLEETFORM_TOKEN`, the template passes
//! SOURCE_REPOS_PAT); without one every write is withheld. A refusal is
//! exit 3 with one audit line, like `plan --dispatch`.

use std::path::Path;

use crate::ci::RunContext;
use crate::deploy::{authorise, read_event, Stage};
use crate::error::{Error, Result};
use crate::github::GitHub;
use crate::output::Output;

pub fn run(manager_dir: &Path, out: &Output) -> Result<()> {
    let ctx = RunContext::from_env();
    let r = run_inner(&ctx, manager_dir, out);
    if let Err(Error::Refused(m)) = &r {
        let mut e =
            crate::audit::Entry::now("refusal", "refused").detail(format!("authorise: {m}"));
        if let Ok(d) = read_event(&ctx) {
            e = e
                .customer(&d.payload.customer_repo)
                .sha(Some(&d.payload.sha))
                .dispatch(Some(&d.payload.dispatch_id));
        }
        crate::audit::record(out, e);
    }
    r
}

fn run_inner(ctx: &RunContext, manager_dir: &Path, out: &Output) -> Result<()> {
    let dispatched = read_event(ctx)?;
    let (manager, registry) = crate::config::load(manager_dir)?;
    let rt = crate::github::runtime().map_err(Error::from)?;
    // Without a token every write is withheld: nothing reaches GitHub.
    let token = crate::github::Token::from_env();
    if let Some(t) = &token {
        out.mask(t.expose());
    }
    let gh = GitHub::new(
        &rt,
        &GitHub::api_url_from_env(),
        token.as_ref(),
        token.is_none(),
    )
    .map_err(Error::from)?;
    let customer = rt.block_on(authorise(
        &registry,
        &manager,
        &gh,
        &dispatched,
        Stage::Plan,
        ctx.run_url(),
        out,
    ))?;
    let environments: Vec<&str> = manager
        .environment_names()
        .into_iter()
        .filter(|e| customer.environments.iter().any(|x| x == e))
        .collect();
    let environments_json = serde_json::to_string(&environments).expect("serialisable");
    ctx.set_outputs(&[
        ("customer", customer.slug.clone()),
        ("customer_repo", dispatched.payload.customer_repo.clone()),
        ("event_type", dispatched.event_type.clone()),
        ("environments", environments_json.clone()),
    ])
    .map_err(|e| Error::Failed(format!("writing GITHUB_OUTPUT: {e}")))?;
    out.result(&format!(
        "authorised {} dispatch from `{}` ({}); environments {environments_json}",
        dispatched.event_type, customer.slug, dispatched.payload.customer_repo
    ));
    Ok(())
}
