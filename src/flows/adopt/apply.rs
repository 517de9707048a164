//! The adoption apply: the (sealed) digest a second person reviewed (or,
//! on a workstation, `--unreviewed`), refused unless the plan file itself
//! only imports (with `--accept-updates`: imports and updates in place),
//! then applied and recorded: the audit line, the deployment record, and
//! the adoption record that `release` and `status` read.

use std::path::Path;

use super::record::{Event, Record};
use super::{AdoptError, Target};
use crate::audit::Entry;
use crate::config::{Customer, Unit};
use crate::context::Context;
use crate::data::adoption::{AdoptionDiff, Verdict};
use crate::engine::Engine;
use crate::error::{Error, Result};

/// An adoption apply: the pair, the digest and who lets it through.
#[derive(Debug, Clone)]
pub struct ApplyTarget {
    pub pair: Target,
    pub plan_sha256: String,
    pub reason: String,
    /// Apply imports with in-place updates too (never a create, replace
    /// or destroy).
    pub accept_updates: bool,
    pub confirms: Option<u64>,
    pub unreviewed: bool,
    /// Report it on the customer's repo (a deployment, a comment).
    pub github: bool,
}

/// Applies the adoption plan of `a.pair` with digest `a.plan_sha256`.
pub fn apply(a: &ApplyTarget, manager_dir: &Path, cx: &Context) -> Result<String> {
    let (manager, registry) = crate::config::load(manager_dir)?;
    let (view, customer) = super::resolve(&manager, &registry, &a.pair)?;
    crate::flows::local::ops::check_operator(&manager, cx)?;
    let scratch = super::scratch()?;
    let pinned = super::at_pin(&manager, &view, customer, scratch.path())?;
    apply_pair((&view, pinned.as_ref().unwrap_or(&view)), customer, a, cx)
}

/// Applies one pair of `view` (its customer checked already) with
/// `module` (`view`, or at the customer's pin, as it was planned).
pub(super) fn apply_pair(
    (view, module): (&crate::config::Manager, &crate::config::Manager),
    customer: &Customer,
    a: &ApplyTarget,
    cx: &Context,
) -> Result<String> {
    let t = &a.pair;
    let unit = view.unit(&customer.slug, &t.environment);
    let dir = t.out.join(unit.rel_dir());
    let engine = Engine::with_terraform(module, t.terraform.as_deref())?;
    let diff = judged(&engine, customer, a, (&unit, &dir))?;
    let apply_environment = view
        .environment(&t.environment)
        .map(|e| e.apply_environment())
        .unwrap_or_default();
    let verdict = crate::flows::github_loop::second_person::check(
        &crate::flows::github_loop::second_person::Ask {
            environment: &apply_environment,
            confirms: a.confirms,
            unreviewed: a.unreviewed,
            done: "adopted",
        },
        cx,
    )?;
    let result = engine.apply(customer, &t.environment, &dir, Some(&a.plan_sha256), None);
    let addresses = diff.imported();
    let detail = format!(
        "imported {}{} ({})",
        addresses.join(" "),
        if diff.updates.is_empty() {
            String::new()
        } else {
            format!("; updated in place, accepted: {}", updates(&diff))
        },
        verdict.describe()
    );
    let approvers: Vec<String> = verdict.approver.iter().cloned().collect();
    let entry = Entry::now("adopt", if result.is_ok() { "ok" } else { "failed" })
        .unit(&unit)
        .reason(&a.reason)
        .plan(Some(&a.plan_sha256))
        .approval(verdict.approval)
        .approvers(&approvers);
    let github = a.github.then(|| super::OnGitHub {
        customer,
        unit: &unit,
        operation: "adopt",
        done: crate::report::customer::Done::Adopted {
            addresses: &addresses,
            updated: !diff.updates.is_empty(),
        },
    });
    let (actor, _, link) = super::record_step(entry, detail, result, github, cx)?;
    let record = Record {
        event: Event::Adopted,
        time: jiff::Timestamp::now().to_string(),
        customer: unit.customer.clone(),
        product: unit.product.clone(),
        environment: unit.environment.clone(),
        plan_sha256: a.plan_sha256.to_lowercase(),
        addresses: addresses.clone(),
        accepted_updates: !diff.updates.is_empty(),
        actor: actor.clone(),
        reason: a.reason.clone(),
        approval: verdict.describe(),
        preview_sha256: None,
        pull_request: link.pull_request,
        run_url: link.run_url,
    };
    keep_records(view, &unit, &dir, customer, &record, &cx.net)?;
    Ok(format!(
        "adopted {unit}: {} imported into the state, nothing created, replaced or destroyed (plan sha256:{}, {})",
        crate::util::text::count(addresses.len(), "object", "objects"),
        a.plan_sha256,
        verdict.describe()
    ))
}

/// The pair's plan in `dir` (opened from its seal when it arrived sealed),
/// checked as any apply checks it and judged from the plan file itself:
/// it imports only, or with the accepted updates.
fn judged(
    engine: &Engine<'_>,
    customer: &Customer,
    a: &ApplyTarget,
    (unit, dir): (&Unit, &Path),
) -> Result<AdoptionDiff> {
    let env = &a.pair.environment;
    // The ops workflow's plan arrives sealed (`adopt plan --seal`), with
    // the preview's choices.
    crate::flows::github_loop::artifact::open_local(unit, dir)?;
    let sealed = dir
        .join(crate::flows::github_loop::artifact::BUNDLE_FILE)
        .is_file();
    if !dir.join(crate::engine::PLAN_FILE).is_file() {
        return Err(AdoptError::Refused(format!(
            "{} holds no plan of {unit}: run `fleetform adopt plan` first; nothing was applied",
            dir.display()
        ))
        .into());
    }
    // The digest, the customer, the gates: as any apply checks them.
    engine
        .check_apply(customer, env, dir, Some(&a.plan_sha256), None)
        .map_err(crate::flows::local::state_preview::run_error)?;
    // What is applied is judged from the plan file itself, not from
    // what was kept beside it.
    let json = engine
        .show_plan(customer, env, dir)
        .map_err(crate::flows::local::state_preview::run_error)?;
    let diff = AdoptionDiff::from_show_json(&json);
    let accept = accepted(unit, dir, a.accept_updates, sealed)?;
    check_diff(unit, &diff, accept, &super::mapping_path(unit))?;
    Ok(diff)
}

/// Whether in-place updates are accepted. A plan that arrived sealed (the
/// ops workflow's) carries the preview's choice, and the apply's own flag
/// never widens it: a confirming run's `--accept-updates` does not turn an
/// import-only adoption into one that updates. On a workstation the
/// plan's choice or `flag` accepts.
fn accepted(unit: &Unit, dir: &Path, flag: bool, sealed: bool) -> Result<bool> {
    let path = dir.join(crate::flows::github_loop::artifact::CHOICES_FILE);
    let chosen = match crate::util::fs::read_input(&path) {
        Err(_) if sealed => {
            return Err(AdoptError::Refused(format!(
                "the sealed plan of {unit} carries no choices (a plan of an older release): preview it again; nothing was applied"
            ))
            .into())
        }
        Err(_) => false,
        Ok(bytes) => serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v["accept_updates"].as_bool())
            .ok_or_else(|| {
                Error::from(AdoptError::Refused(format!(
                    "{}: not the choices of an adoption plan; plan again; nothing was applied",
                    path.display()
                )))
            })?,
    };
    if sealed && flag && !chosen {
        return Err(AdoptError::Refused(format!(
            "the adoption of {unit} was previewed without accepting updates in place: --accept-updates here would change what the preview showed and the second person read; preview it again with accept-updates; nothing was applied"
        ))
        .into());
    }
    Ok(chosen || (flag && !sealed))
}

/// The plan imports only; or, accepted, imports and updates in place.
fn check_diff(unit: &Unit, diff: &AdoptionDiff, accept: bool, mapping: &Path) -> Result<()> {
    let refuse = |m: String| Err(Error::from(AdoptError::Refused(m)));
    match diff.verdict() {
        _ if diff.imported().is_empty() => refuse(format!(
            "the plan of {unit} imports nothing: nothing to adopt; nothing was applied"
        )),
        Verdict::Ready => Ok(()),
        Verdict::Review if accept => Ok(()),
        Verdict::Review => refuse(format!(
            "the adoption plan of {unit} also updates in place ({}): make the values match the objects and plan again, or accept the updates with --accept-updates; nothing was applied",
            updates(diff)
        )),
        Verdict::Refused => {
            let what: Vec<String> = diff
                .refused
                .iter()
                .map(|r| format!("{} {}", crate::report::adopt::refused_word(r.action), r.address))
                .collect();
            refuse(format!(
                "the adoption plan of {unit} would {}: an adoption changes nothing in the cloud; map what exists in {} or change the values, then plan again; nothing was applied",
                what.join(", "),
                mapping.display()
            ))
        }
    }
}

/// `addr (attr, attr)` for each update.
fn updates(diff: &AdoptionDiff) -> String {
    diff.updates
        .iter()
        .map(|u| {
            let names: Vec<&str> = u.attributes.iter().map(|a| a.name.as_str()).collect();
            format!("{} ({})", u.address, names.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The deployment record (an adoption is an apply) and the adoption
/// record.
fn keep_records(
    view: &crate::config::Manager,
    unit: &Unit,
    dir: &Path,
    customer: &Customer,
    record: &Record,
    net: &crate::net::Settings,
) -> Result<()> {
    let store = crate::records::Store::for_manager(view, net);
    let ctx = crate::ci::RunContext::from_env();
    crate::records::record_deployment(
        &store,
        unit,
        dir,
        crate::records::DeploymentFacts {
            customer_repo: customer.repo.clone(),
            customer_sha: None,
            manager_sha: ctx.sha.clone(),
            plan_sha256: record.plan_sha256.clone(),
            actor: record.actor.clone(),
            run_url: ctx.run_url(),
            pr: None,
        },
    )
    .map_err(AdoptError::from)?;
    super::record::keep(&store, unit, record).map_err(|e| {
        Error::failed(format!(
            "adopted, but the adoption record was not kept: {e}; the audit log has the adoption"
        ))
    })?;
    Ok(())
}
