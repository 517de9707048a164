//! The run's drift by cause and repairs by policy, wired to the records:
//! the last run's causes (for `since`), the halted rollouts (a customer a
//! halted rollout holds is never repaired by itself), and this run's
//! causes kept for the next run and the dashboard. The grouping is
//! `fleet::drift_causes`'.

use std::collections::BTreeSet;

use crate::config::{Manager, RepairPolicy};
use crate::context::Context;
use crate::output::Output;
use crate::records::Store;
use crate::report::drift::Report;
use crate::report::drift_causes::CausesRecord;

use super::Settings;

/// Whether the run covered every pair of the fleet: only then are its
/// causes the fleet's (kept for the dashboard; a cause issue closed).
pub(super) fn whole_fleet(settings: &Settings) -> bool {
    settings.customers.is_none() && settings.shard.is_none() && settings.environments.is_none()
}

/// Customers a halted open rollout holds; every drifted customer when the
/// rollouts cannot be read (then nothing is repaired by itself).
fn halted(store: &Store, report: &Report, out: &Output) -> BTreeSet<String> {
    match crate::rollout::open_rollouts(store) {
        Ok(rollouts) => rollouts
            .iter()
            .filter(|s| s.halted.is_some())
            .flat_map(|s| s.stages.iter().flat_map(|st| st.units.iter()))
            .map(|u| u.customer.clone())
            .collect(),
        Err(e) => {
            out.note(&format!(
                "the rollouts could not be read ({e}): no drift is repaired by itself this run, only proposed"
            ));
            report.drifted.iter().map(|r| r.customer.clone()).collect()
        }
    }
}

/// Groups the report's drift by cause and classifies its pairs.
pub(super) fn judge(manager: &Manager, report: &mut Report, cx: &Context) {
    let config = &manager.config.drift;
    let store = Store::for_customer_role(manager, &cx.net);
    let previous = match crate::fleet::drift_causes::previous(&store) {
        Ok(p) => p,
        Err(e) => {
            cx.out.note(&format!(
                "the last drift run's causes could not be read ({e}): every cause counts as first seen now"
            ));
            None
        }
    };
    let wants_repair = config.repair.values().any(|p| *p == RepairPolicy::Repair);
    let halted = match wants_repair && !report.drifted.is_empty() {
        true => halted(&store, report, &cx.out),
        false => BTreeSet::new(),
    };
    // `FLEETFORM_NOW` (Unix seconds) in tests.
    let secs = crate::rollout::now();
    let now = crate::audit::rfc3339(secs);
    let today = jiff::Timestamp::from_second(i64::try_from(secs).unwrap_or(i64::MAX))
        .unwrap_or_else(|_| jiff::Timestamp::now())
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let ctx = crate::fleet::drift_causes::Context {
        config,
        halted: &halted,
        today,
        now: &now,
        previous: previous.as_ref(),
    };
    crate::fleet::drift_causes::analyse(report, &ctx);
}

/// Keeps the run's causes in the records for the next run and the
/// dashboard (a run over the whole fleet only).
pub(super) fn keep(manager: &Manager, settings: &Settings, report: &Report, cx: &Context) {
    if !whole_fleet(settings) {
        return;
    }
    let record = CausesRecord {
        time: crate::audit::rfc3339(crate::rollout::now()),
        run_url: report.run_url.clone(),
        causes: report.causes.clone(),
        repairs: report.repairs.clone(),
    };
    let store = Store::for_customer_role(manager, &cx.net);
    if let Err(e) = crate::fleet::drift_causes::keep(&store, &record) {
        cx.out.note(&format!(
            "the run's causes were not kept in the records ({e}): the next run counts them as first seen"
        ));
    }
}
