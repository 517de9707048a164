//! Releasing an adopted pair: until the first apply after its adoption,
//! `state rm` of the addresses the adoption imported, so fleetform lets
//! go of them; nothing in the cloud is touched. Recorded (audit line,
//! adoption record `released`).

use std::path::Path;

use super::record::{Event, Record};
use super::{AdoptError, Target};
use crate::audit::Entry;
use crate::engine::ops::StateOp;
use crate::engine::Engine;
use crate::error::Result;
use crate::output::Output;

/// Who lets a release through, and why.
#[derive(Debug, Clone)]
pub struct Release {
    pub pair: Target,
    pub reason: String,
    pub confirms: Option<u64>,
    pub unreviewed: bool,
    /// Report it on the customer's repo (a deployment, a comment).
    pub github: bool,
}

/// Releases `r.pair`, adopted and not applied since.
pub fn release(r: &Release, manager_dir: &Path, out: &Output) -> Result<String> {
    let (manager, registry) = crate::config::load(manager_dir)?;
    let (view, customer) = super::resolve(&manager, &registry, &r.pair)?;
    super::super::ops::check_operator(&manager, out)?;
    let unit = view.unit(&customer.slug, &r.pair.environment);
    let store = crate::records::Store::for_manager(&view);
    let adopted = match super::record::newest(&store, &unit)? {
        Some(a) if a.event == Event::Adopted => a,
        _ => {
            return Err(AdoptError::Refused(format!(
                "{unit} has no adoption to release (none recorded, or released already); nothing was changed"
            ))
            .into())
        }
    };
    let last = crate::records::last_deployment(&store, &unit).map_err(AdoptError::from)?;
    if let Some(d) = last.filter(|d| d.plan_sha256 != adopted.plan_sha256) {
        return Err(AdoptError::Refused(format!(
            "{unit} was applied after its adoption (plan sha256:{} by {} at {}): what that apply made is fleetform's now, and releasing would leave it unmanaged; take addresses out deliberately with `fleetform state rm`; nothing was changed",
            d.plan_sha256, d.actor, d.time
        ))
        .into());
    }
    let apply_environment = view
        .environment(&r.pair.environment)
        .map(|e| e.apply_environment())
        .unwrap_or_default();
    let verdict = super::super::second_person::check(
        &super::super::second_person::Ask {
            environment: &apply_environment,
            confirms: r.confirms,
            unreviewed: r.unreviewed,
            done: "released",
        },
        out,
    )?;
    let engine = Engine::with_terraform(&view, r.pair.terraform.as_deref())?;
    let dir = r.pair.out.join(unit.rel_dir());
    let op = StateOp::Remove {
        addresses: adopted.addresses.clone(),
    };
    let result = engine.state_op(customer, &r.pair.environment, None, &dir, &op);
    let approvers: Vec<String> = verdict.approver.iter().cloned().collect();
    let detail = format!(
        "released {} (state rm; nothing in the cloud changed; {})",
        adopted.addresses.join(" "),
        verdict.describe()
    );
    let entry = Entry::now(
        "adopt",
        if result.is_ok() {
            "released"
        } else {
            "release-failed"
        },
    )
    .unit(&unit)
    .reason(&r.reason)
    .plan(Some(&adopted.plan_sha256))
    .approval(verdict.approval)
    .approvers(&approvers);
    let github = r.github.then(|| super::OnGitHub {
        customer,
        unit: &unit,
        operation: "release",
        done: crate::report::customer::Done::Released {
            addresses: &adopted.addresses,
        },
    });
    let (actor, _) = super::record_step(entry, detail, result, github, out)?;
    let record = Record {
        event: Event::Released,
        time: jiff::Timestamp::now().to_string(),
        actor,
        reason: r.reason.clone(),
        approval: verdict.describe(),
        accepted_updates: false,
        ..adopted
    };
    super::record::keep(&store, &unit, &record)?;
    Ok(format!(
        "released {unit}: {} out of the state; nothing in the cloud changed ({})",
        crate::util::text::count(record.addresses.len(), "address", "addresses"),
        verdict.describe()
    ))
}
