//! Response times against `sla:` (`fleetform report sla`, the dashboard):
//! each plan measured from the customer's event to its plan comment, each
//! apply from its approval to its end, by the times GitHub stamped that
//! the audit events keep (`audit::Times`), never the runner's clock. Per
//! customer × environment the median, the 95th percentile (nearest rank)
//! and the longest, and every breach with its run. The text is
//! [`crate::report::sla`]'s.

use std::collections::BTreeMap;

use crate::audit::Entry;
use crate::config::sla::SlaConfig;
use crate::report::sla::{Measure, Sample, SlaReport, SlaRow};

/// The window a report covers, in Unix seconds: `since` inclusive,
/// `until` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub since: i64,
    pub until: i64,
}

/// Every plan and apply of `events` measured in `window` (oldest first),
/// and how many there were without GitHub's times.
pub fn samples(events: &[Entry], sla: &SlaConfig, window: Window) -> (Vec<Sample>, usize) {
    let mut out = Vec::new();
    let mut unmeasured = 0;
    for e in events {
        let (measure, from, to, target) = match e.action.as_str() {
            "plan" if e.result == "changes" || e.result == "no-changes" => (
                Measure::Plan,
                &e.times.event,
                &e.times.comment,
                target(sla, e, Measure::Plan),
            ),
            "apply" if e.result == "ok" => (
                Measure::Apply,
                &e.times.approval,
                &e.times.apply,
                target(sla, e, Measure::Apply),
            ),
            _ => continue,
        };
        let in_window = |t: i64| (window.since..window.until).contains(&t);
        let (Some(from), Some(to)) = (from, to) else {
            if seconds(&e.time).is_some_and(in_window) {
                unmeasured += 1;
            }
            continue;
        };
        let (Some(start), Some(end)) = (seconds(from), seconds(to)) else {
            unmeasured += 1;
            continue;
        };
        if !in_window(start) {
            continue;
        }
        out.push(Sample {
            customer: e.customer.clone().unwrap_or_default(),
            product: e.product.clone(),
            environment: e.environment.clone().unwrap_or_default(),
            measure,
            from: from.clone(),
            start: start_of(e, measure),
            to: to.clone(),
            secs: (end - start).max(0) as u64,
            target_secs: target,
            run_url: e.run_url.clone(),
        });
    }
    out.sort_by(|a, b| a.from.cmp(&b.from));
    (out, unmeasured)
}

/// Which time a sample starts at ([`Sample::start`]): a plan's
/// `times.event_from` (`run` on records from before it was kept), an
/// apply's approval.
fn start_of(e: &Entry, measure: Measure) -> String {
    match measure {
        Measure::Plan => e.times.event_from.as_deref().unwrap_or("run").to_string(),
        Measure::Apply => "approval".into(),
    }
}

/// The report over `samples`: a row per customer × product × environment
/// × measure, and every breach, oldest first.
pub fn report(samples: &[Sample], unmeasured: usize, window: Window) -> SlaReport {
    type Key = (String, Option<String>, String, Measure);
    let mut groups: BTreeMap<Key, Vec<&Sample>> = BTreeMap::new();
    for s in samples {
        let key = (
            s.customer.clone(),
            s.product.clone(),
            s.environment.clone(),
            s.measure,
        );
        groups.entry(key).or_default().push(s);
    }
    let rows = groups
        .into_iter()
        .map(|((customer, product, environment, measure), group)| {
            let mut secs: Vec<u64> = group.iter().map(|s| s.secs).collect();
            secs.sort_unstable();
            SlaRow {
                customer,
                product,
                environment,
                measure,
                count: secs.len(),
                p50_secs: nearest_rank(&secs, 50),
                p95_secs: nearest_rank(&secs, 95),
                max_secs: secs.last().copied().unwrap_or_default(),
                // The newest target promised: `sla:` may have changed.
                target_secs: group.last().and_then(|s| s.target_secs),
                breaches: group.iter().filter(|s| s.breached()).count(),
            }
        })
        .collect();
    SlaReport {
        since: crate::audit::rfc3339(window.since.max(0) as u64),
        until: crate::audit::rfc3339(window.until.max(0) as u64),
        rows,
        breaches: samples.iter().filter(|s| s.breached()).cloned().collect(),
        unmeasured,
    }
}

/// The `p`th percentile of sorted `secs` by nearest rank.
fn nearest_rank(secs: &[u64], p: usize) -> u64 {
    if secs.is_empty() {
        return 0;
    }
    let rank = (p * secs.len()).div_ceil(100).max(1);
    secs[rank - 1]
}

/// The target `sla:` promises for the event's environment.
fn target(sla: &SlaConfig, e: &Entry, m: Measure) -> Option<u64> {
    let t = sla.get(e.environment.as_deref()?)?;
    match m {
        Measure::Plan => t.plan_secs(),
        Measure::Apply => t.apply_secs(),
    }
}

/// Unix seconds of an RFC 3339 time.
pub fn seconds(t: &str) -> Option<i64> {
    t.parse::<jiff::Timestamp>().ok().map(|t| t.as_second())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Times;
    use crate::config::sla::SlaTargets;

    fn plan(customer: &str, event: &str, comment: &str) -> Entry {
        Entry {
            time: comment.into(),
            action: "plan".into(),
            result: "changes".into(),
            customer: Some(customer.into()),
            environment: Some("staging".into()),
            run_url: Some(format!("https://github.com/o/m/actions/runs/{customer}")),
            times: Times {
                event: Some(event.into()),
                comment: Some(comment.into()),
                ..Times::default()
            },
            ..Entry::default()
        }
    }

    fn sla() -> SlaConfig {
        [(
            "staging".to_string(),
            SlaTargets {
                plan_within: Some("15m".into()),
                apply_within: None,
            },
        )]
        .into()
    }

    const ALL: Window = Window {
        since: 0,
        until: i64::MAX / 2,
    };

    #[test]
    fn a_plan_over_its_target_is_a_breach_with_its_run() {
        let events = [
            plan("acme", "2026-01-01T10:00:00Z", "2026-01-01T10:05:00Z"),
            plan("acme", "2026-01-02T10:00:00Z", "2026-01-02T10:20:00Z"),
            plan("globex", "2026-01-02T10:00:00Z", "2026-01-02T10:01:00Z"),
        ];
        let (samples, unmeasured) = samples(&events, &sla(), ALL);
        let r = report(&samples, unmeasured, ALL);
        assert_eq!(r.rows.len(), 2);
        let acme = &r.rows[0];
        assert_eq!((acme.count, acme.p50_secs, acme.max_secs), (2, 300, 1200));
        assert_eq!(acme.breaches, 1);
        assert_eq!(r.breaches.len(), 1);
        assert_eq!(r.breaches[0].secs, 1200);
        assert!(r.breaches[0].run_url.as_deref().unwrap().ends_with("/acme"));
    }

    #[test]
    fn events_without_githubs_times_are_counted_not_measured() {
        let mut old = plan("acme", "x", "2026-01-01T10:00:00Z");
        old.times = Times::default();
        let (samples, unmeasured) = samples(&[old], &sla(), ALL);
        assert!(samples.is_empty());
        assert_eq!(unmeasured, 1);
    }

    #[test]
    fn the_window_holds_what_started_in_it() {
        let events = [plan("acme", "2026-01-01T10:00:00Z", "2026-01-01T10:05:00Z")];
        let since = seconds("2026-01-01T10:01:00Z").unwrap();
        let w = Window {
            since,
            until: since + 86_400,
        };
        assert!(samples(&events, &sla(), w).0.is_empty());
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let secs: Vec<u64> = (1..=20).collect();
        assert_eq!(nearest_rank(&secs, 50), 10);
        assert_eq!(nearest_rank(&secs, 95), 19);
        assert_eq!(nearest_rank(&[7], 95), 7);
    }
}
