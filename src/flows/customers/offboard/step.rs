//! `customers offboard`: the preview of a revoked customer's destroy,
//! shown as the approver reads it, or with `--approve` the destroy
//! (`crate::flows::customers::offboard`) and the entry marked `offboarded` when
//! nothing is left.

use crate::config::Activity;
use crate::config::{edit, Manager, Registry};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::flows::customers::edit::{edit_entry, edited};
use crate::flows::customers::offboard::{self, Approve, Settings};

/// Which half of the offboarding is asked for.
pub enum Step<'a> {
    /// No `--approve`: the destroy previewed and sealed, for `reason`.
    Preview { reason: Option<&'a str> },
    /// `--approve DIGEST`: the sealed preview destroyed.
    Destroy(Approve<'a>),
}

/// `customers offboard`: the preview, or with `--approve` the destroy.
pub fn offboard(
    manager: &Manager,
    slug: &str,
    step: &Step<'_>,
    s: &Settings<'_>,
    cx: &Context,
) -> Result<()> {
    match step {
        Step::Preview { reason } => preview(manager, slug, *reason, s, cx),
        Step::Destroy(approve) => destroy(manager, slug, approve, s, cx),
    }
}

/// `customers offboard` without `--approve`: the destroy previewed and
/// sealed, shown as the approver reads it.
fn preview(
    manager: &Manager,
    slug: &str,
    reason: Option<&str>,
    s: &Settings<'_>,
    cx: &Context,
) -> Result<()> {
    let reason = crate::flows::local::ops::require_reason(reason)?;
    // On GitHub Actions only active members of `rollout.operators`.
    crate::flows::local::ops::check_operator(manager, cx)?;
    let registry = Registry::load(manager)?;
    let c = registry.require(slug).map_err(Error::usage)?;
    let p = offboard::preview(manager, &registry, c, s, &reason, &cx.out)?;
    let ctx = crate::ci::RunContext::from_env();
    let view = crate::report::offboard::OffboardPreview {
        customer: &p.sealed.customer,
        digest: &p.digest,
        reason: &p.sealed.reason,
        requested_by: &p.sealed.requested_by,
        units: p
            .sealed
            .units
            .iter()
            .map(|u| crate::report::offboard::OffboardUnit {
                unit: &u.unit,
                destroys: &u.destroys,
                in_state: u.state.resources,
            })
            .collect(),
        without_state: &p.sealed.without_state,
        environment: offboard::ENVIRONMENT,
        run_id: ctx.run_id.as_deref(),
    };
    let text = crate::report::offboard::preview(&view)
        .map_err(|e| Error::failed(format!("rendering the offboarding preview: {e}")))?;
    cx.out.result(&text);
    Ok(())
}

/// `customers offboard --approve DIGEST`: the sealed preview destroyed
/// after the second person, and the entry marked `offboarded` when
/// nothing is left.
fn destroy(
    manager: &Manager,
    slug: &str,
    a: &Approve<'_>,
    s: &Settings<'_>,
    cx: &Context,
) -> Result<()> {
    // On GitHub Actions only active members of `rollout.operators`.
    crate::flows::local::ops::check_operator(manager, cx)?;
    let registry = Registry::load(manager)?;
    let c = registry.require(slug).map_err(Error::usage)?;
    let done = offboard::destroy(manager, c, s, a, cx)?;
    if !done.failed.is_empty() {
        return Err(Error::failed(offboard::what_is_left(slug, &done)));
    }
    let date = crate::audit::today();
    mark_offboarded(manager, slug, &date)?;
    let approvers: Vec<String> = done.verdict.approver.iter().cloned().collect();
    cx.record(
        crate::audit::Entry::now("registry", "offboarded")
            .customer(slug)
            .reason(&done.sealed.reason)
            .plan(Some(&done.digest))
            .approval(done.verdict.approval)
            .approvers(&approvers)
            .detail(done.verdict.describe()),
    );
    cx.out.result(&format!(
        "offboarded `{slug}` ({date}): {} destroyed in {}, {}; the state of each from before its destroy is archived in {}",
        crate::util::text::count(done.sealed.total(), "resource", "resources"),
        crate::util::text::count(done.destroyed.len(), "pair", "pairs"),
        done.verdict.describe(),
        crate::records::Store::for_customer_role(manager, &cx.net).describe()
    ));
    Ok(())
}

/// The registry entry marked `offboarded: <date>`.
fn mark_offboarded(manager: &Manager, slug: &str, date: &str) -> Result<()> {
    edit_entry(
        manager,
        slug,
        "mark the customer offboarded",
        |registry, text, file, index| {
            edited(edit::offboard(text, &registry.doc, file, index, date))
        },
        |c| c.offboarded.is_some() && c.takes_part(Activity::Offboard),
    )
    .map(drop)
}
