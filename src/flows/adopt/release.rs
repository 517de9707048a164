//! Releasing an adopted pair: until the first apply after its adoption,
//! `state rm` of the addresses the adoption imported, so fleetform lets
//! go of them; nothing in the cloud is touched.
//!
//! Four eyes as for a day-2 state operation, with its machinery
//! (`flows::local::ops`, `flows::local::state_preview`): `--preview` seals the
//! removal against the state now (the addresses, the state's digest, the
//! adoption it undoes) and prints the digest a second person approves;
//! `--sha256 DIGEST` runs exactly that preview, only if the state is
//! still the one previewed and only after a second person (a review of
//! the run, a confirming run, or `--unreviewed` on a workstation). A
//! release run directly (no preview) is for a workstation, with
//! `--unreviewed`. Recorded (audit line, adoption record `released`).

use std::path::Path;

use super::record::{Event, Record};
use super::{AdoptError, Target};
use crate::audit::Entry;
use crate::config::{Customer, Unit};
use crate::context::Context;
use crate::engine::ops::StateOp;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::flows::github_loop::second_person::{self, Verdict};
use crate::flows::local::ops::{self, Phase};
use crate::flows::local::state_preview::Sealed;

/// What to release, which half, and who lets it through.
#[derive(Debug, Clone)]
pub struct Release {
    pub pair: Target,
    /// Why; a sealed preview (`Phase::Sealed`) carries its own.
    pub reason: String,
    /// Seal a preview, run a sealed one, or (a workstation) run now.
    pub phase: Phase,
    pub confirms: Option<u64>,
    pub unreviewed: bool,
    /// Report it on the customer's repo (a deployment, a comment).
    pub github: bool,
}

/// Previews, or releases, `r.pair`, adopted and not applied since.
pub fn release(r: &Release, manager_dir: &Path, cx: &Context) -> Result<String> {
    let (manager, registry) = crate::config::load(manager_dir)?;
    let (view, customer) = super::resolve(&manager, &registry, &r.pair)?;
    ops::check_operator(&manager, cx)?;
    let unit = view.unit(&customer.slug, &r.pair.environment);
    let store = crate::records::Store::for_manager(&view, &cx.net);
    let adopted = releasable(&store, &unit)?;
    let engine = Engine::with_terraform(&view, r.pair.terraform.as_deref())?;
    let dir = r.pair.out.join(unit.rel_dir());
    let apply_environment = view
        .environment(&r.pair.environment)
        .map(|e| e.apply_environment())
        .unwrap_or_default();
    let op = StateOp::Remove {
        addresses: adopted.addresses.clone(),
    };
    let sealed = match &r.phase {
        Phase::Preview => {
            let p = ops::Preview {
                unit: &unit,
                op: &op,
                reason: &r.reason,
                releases: Some(adopted.plan_sha256.as_str()),
                dir: &dir,
                apply_environment: &apply_environment,
            };
            return ops::preview(&engine, customer, &p, &cx.out);
        }
        Phase::Sealed { sha256 } => Some((open(&dir, sha256, &unit, &adopted, &op)?, sha256)),
        Phase::Direct if crate::ci::in_actions() => return Err(Error::refused(
            "on GitHub Actions a release is previewed first (`adopt release --preview`), then run from its sealed preview (`adopt release --sha256 DIGEST`) once a second person approved; nothing was changed")),
        Phase::Direct => None,
    };
    let verdict = second_person::check(
        &second_person::Ask {
            environment: &apply_environment,
            confirms: r.confirms,
            unreviewed: r.unreviewed,
            done: "released",
        },
        cx,
    )?;
    if let Some((s, _)) = &sealed {
        ops::still_as_previewed(&engine, customer, &r.pair.environment, &dir, s)?;
    }
    let run = Run {
        reason: sealed.as_ref().map_or(&r.reason, |(s, _)| &s.reason),
        preview: sealed.as_ref().map(|(_, d)| d.to_lowercase()),
        verdict,
        github: r.github,
    };
    let done = engine.state_op(customer, &r.pair.environment, None, &dir, &op);
    record(&store, customer, &unit, adopted, &run, done, cx)
}

/// The newest adoption of `unit`, when it is not released and the pair
/// was not applied since; else the refusal.
fn releasable(store: &crate::records::Store, unit: &Unit) -> Result<Record> {
    let adopted = match super::record::newest(store, unit)? {
        Some(a) if a.event == Event::Adopted => a,
        _ => {
            return Err(AdoptError::Refused(format!(
                "{unit} has no adoption to release (none recorded, or released already); nothing was changed"
            ))
            .into())
        }
    };
    let last = crate::records::last_deployment(store, unit).map_err(AdoptError::from)?;
    if let Some(d) = last.filter(|d| d.plan_sha256 != adopted.plan_sha256) {
        return Err(AdoptError::Refused(format!(
            "{unit} was applied after its adoption (plan sha256:{} by {} at {}): what that apply made is fleetform's now, and releasing would leave it unmanaged; take addresses out deliberately with `fleetform state rm`; nothing was changed",
            d.plan_sha256, d.actor, d.time
        ))
        .into());
    }
    Ok(adopted)
}

/// The sealed preview in `dir` with digest `sha256`: the release of this
/// adoption of `unit`, removing what it imported; else the refusal.
fn open(dir: &Path, sha256: &str, unit: &Unit, adopted: &Record, op: &StateOp) -> Result<Sealed> {
    let key = (
        unit.customer.as_str(),
        unit.product.as_deref(),
        unit.environment.as_str(),
    );
    let sealed = Sealed::open(dir, sha256, key)?;
    let refused = |why: String| Err(Error::refused(format!("{why}; nothing was changed")));
    match sealed.releases.as_deref() {
        None => {
            return refused(format!(
                "the sealed preview is a `state {}`, not the release of {unit}'s adoption: run it with `fleetform state apply --sha256 {sha256}`",
                sealed.operation
            ))
        }
        Some(a) if a != adopted.plan_sha256 => {
            return refused(format!(
                "the sealed preview releases the adoption of plan sha256:{a}, and {unit}'s adoption now is plan sha256:{}: preview the release again",
                adopted.plan_sha256
            ))
        }
        Some(_) => {}
    }
    if sealed.op()? != *op {
        return refused(format!(
            "the sealed preview removes {}, not the addresses {unit}'s adoption imported ({}): preview the release again",
            sealed.operands.join(" "),
            adopted.addresses.join(" ")
        ));
    }
    Ok(sealed)
}

/// A release about to be recorded: why, the sealed preview's digest (run
/// from one), and who let it through.
struct Run<'a> {
    reason: &'a str,
    preview: Option<String>,
    verdict: Verdict,
    github: bool,
}

/// Records the release (audit line, the customer's repo when asked, the
/// adoption record `released` when it ran) and returns the result text.
fn record(
    store: &crate::records::Store,
    customer: &Customer,
    unit: &Unit,
    adopted: Record,
    run: &Run<'_>,
    done: std::result::Result<String, crate::error::Error>,
    cx: &Context,
) -> Result<String> {
    let approvers: Vec<String> = run.verdict.approver.iter().cloned().collect();
    let preview = run
        .preview
        .as_ref()
        .map(|d| format!("; sealed preview sha256:{d}"))
        .unwrap_or_default();
    let detail = format!(
        "released {} (state rm of the adoption of plan sha256:{}{preview}; nothing in the cloud changed; {})",
        adopted.addresses.join(" "),
        adopted.plan_sha256,
        run.verdict.describe()
    );
    let result = if done.is_ok() {
        "released"
    } else {
        "release-failed"
    };
    // The digest the second person approved: the sealed preview's (a
    // direct, unreviewed release has only the adoption's).
    let approved = run.preview.as_deref().unwrap_or(&adopted.plan_sha256);
    let entry = Entry::now("adopt", result)
        .unit(unit)
        .reason(run.reason)
        .plan(Some(approved))
        .approval(run.verdict.approval)
        .approvers(&approvers);
    let github = run.github.then(|| super::OnGitHub {
        customer,
        unit,
        operation: "release",
        done: crate::report::customer::Done::Released {
            addresses: &adopted.addresses,
        },
    });
    let (actor, _, link) = super::record_step(entry, detail, done, github, cx)?;
    let record = Record {
        event: Event::Released,
        time: jiff::Timestamp::now().to_string(),
        actor,
        reason: run.reason.to_string(),
        approval: run.verdict.describe(),
        accepted_updates: false,
        preview_sha256: run.preview.clone(),
        pull_request: link.pull_request,
        run_url: link.run_url,
        ..adopted
    };
    super::record::keep(store, unit, &record)?;
    Ok(format!(
        "released {unit}: {} out of the state; nothing in the cloud changed ({})",
        crate::util::text::count(record.addresses.len(), "address", "addresses"),
        run.verdict.describe()
    ))
}
