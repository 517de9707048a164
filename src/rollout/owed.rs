//! A rollout's GitHub deployments that did not fit GitHub's write budget
//! when their pair was applied ("owed"). Each is an event of the rollout
//! (`deployment-owed`, written after the pair's own), and a later run sends
//! them, oldest first: the deployment (unless it was made) and its final
//! status, saying when the apply happened and linked to the run that
//! applied. Sent ones are recorded (`deployments-sent`); one GitHub will
//! never take (its repo or commit gone) is dropped, with why.
//!
//! Nothing is sent twice: every deployment a tick makes carries a marker in
//! its payload (`<rollout>/<pair>/<apply time>`), kept with what it owes.
//! Before making an owed one, the sender looks for that marker among the
//! repo's deployments of the commit and environment (a create GitHub
//! carried out without answering, or a run that died before recording),
//! and before a final status it reads the deployment's statuses. Nothing
//! shows an old apply as current: a pair applied again since (a newer
//! deployment record, or a newer deployment in the environment on GitHub)
//! gets `inactive`, and late statuses leave the others as they are
//! (`auto_inactive: false`).

use serde::Serialize;

use crate::config::Unit;
use crate::context::Context;
use crate::error::{Error, Result, Say};
use crate::records::{RecordsError, Store};

use super::settings::{ApplyObserver, Late, LateDeployment};
use super::state::{append, load, Event, OwedDeployment, State};
use super::{now, records_err};

/// Sent ones are recorded at least this often, so a run that dies reads
/// back little.
const RECORD_EVERY: usize = 50;

/// What a run did with the owed deployments.
#[derive(Debug, Default, Serialize)]
pub struct OwedReport {
    pub sent: usize,
    /// (rollout, pair, why), dropped by this run.
    pub dropped: Vec<(String, String, String)>,
    /// Still owed after this run, by every rollout read.
    pub owed: usize,
    /// Whether this run stopped for GitHub's write budget.
    pub deferred: bool,
    /// Not sent for another reason a later run may not have (GitHub's
    /// trouble, a credential): the first few are noted, with why.
    pub not_sent: usize,
}

/// How long an owed deployment that GitHub does not take is tried: GitHub
/// answers 404 both for a repo that is gone and for one the token was not
/// granted, which an operator fixes.
const GIVE_UP_SECS: u64 = 30 * 86_400;

/// How many "still owed" notes a run prints (a token without the
/// permission would otherwise note every owed deployment).
const NOTES: usize = 10;

/// The marker of the owed deployment of event `n` of `rollout`, when the
/// tick gave it none.
pub fn marker(rollout: &str, n: usize) -> String {
    format!("{rollout}/{n}")
}

/// Sends the deployments owed by every rollout (or the rollout `only`),
/// oldest first, until GitHub's write budget says stop.
pub fn send_owed(
    store: &Store,
    observer: &dyn ApplyObserver,
    only: Option<&str>,
    cx: &Context,
) -> Result<OwedReport> {
    let mut report = OwedReport::default();
    let rollouts = match only {
        Some(id) => vec![load(store, id).map_err(records_err)?],
        None => super::start::every_rollout(store)?,
    };
    for mut s in rollouts.into_iter().filter(|s| !s.owed.is_empty()) {
        if !report.deferred {
            send_of(store, &mut s, observer, &mut report, cx)?;
        }
        report.owed += s.owed.len();
    }
    Ok(report)
}

/// The owed deployments of one rollout, recorded as sent as they go.
fn send_of(
    store: &Store,
    s: &mut State,
    observer: &dyn ApplyObserver,
    report: &mut OwedReport,
    cx: &Context,
) -> Result<()> {
    let owed: Vec<(usize, Unit, OwedDeployment)> = s
        .owed
        .iter()
        .map(|(n, (u, d))| (*n, u.clone(), d.clone()))
        .collect();
    let (mut sent, mut dropped) = (Vec::new(), Vec::new());
    for (n, unit, d) in owed {
        let marker = match d.marker.is_empty() {
            true => marker(&s.id, n),
            false => d.marker.clone(),
        };
        let late = LateDeployment {
            rollout: &s.id,
            manager_sha: &s.manager_sha,
            marker,
            superseded: applied_since(store, &unit, d.applied_at),
            owed: &d,
        };
        match given_up(observer.send_late(&late), d.applied_at) {
            Late::Sent => sent.push(n),
            Late::Dropped(why) => {
                cx.out
                    .note(&format!("{unit}: owed deployment dropped: {why}"));
                report
                    .dropped
                    .push((s.id.clone(), unit.to_string(), why.clone()));
                dropped.push((n, why));
            }
            Late::Later(why) => {
                report.not_sent += 1;
                if report.not_sent <= NOTES {
                    cx.out
                        .note(&format!("{unit}: deployment still owed: {why}"));
                }
            }
            Late::Deferred(why) => {
                cx.out
                    .note(&format!("{unit}: deployment still owed: {why}"));
                report.deferred = true;
                break;
            }
        }
        if sent.len() + dropped.len() >= RECORD_EVERY {
            report.sent += sent.len();
            record_sent(
                store,
                s,
                std::mem::take(&mut sent),
                std::mem::take(&mut dropped),
                cx,
            )?;
        }
    }
    report.sent += sent.len();
    record_sent(store, s, sent, dropped, cx)
}

/// A deployment not sent for [`GIVE_UP_SECS`] since its apply is dropped:
/// its repo is gone, or the token was never granted it.
fn given_up(late: Late, applied_at: u64) -> Late {
    match late {
        Late::Later(why) if now().saturating_sub(applied_at) > GIVE_UP_SECS => {
            Late::Dropped(format!("still not sent 30 days after the apply: {why}"))
        }
        other => other,
    }
}

/// Whether `unit` was applied after `at` (its newest deployment record is
/// newer): a dispatched apply or a later rollout's. A record that cannot
/// be read counts as not newer.
fn applied_since(store: &Store, unit: &Unit, at: u64) -> bool {
    let newest = crate::records::last_deployment(store, unit).ok().flatten();
    newest
        .and_then(|d| d.time.parse::<jiff::Timestamp>().ok())
        .is_some_and(|t| t.as_second() > at as i64)
}

/// Records owed deployments sent (or dropped): the next event of the
/// rollout, create-only (read again when another job wrote it first).
fn record_sent(
    store: &Store,
    s: &mut State,
    sent: Vec<usize>,
    dropped: Vec<(usize, String)>,
    cx: &Context,
) -> Result<()> {
    if sent.is_empty() && dropped.is_empty() {
        return Ok(());
    }
    let event = Event::DeploymentsSent {
        sent,
        dropped,
        at: now(),
    };
    for _ in 0..50 {
        match append(store, s, event.clone()) {
            Ok(()) => {
                super::record::audit(cx, s, &event);
                return Ok(());
            }
            Err(RecordsError::Exists { .. }) => *s = load(store, &s.id).map_err(records_err)?,
            Err(e) => return Err(records_err(e)),
        }
    }
    Err(Error::failed(
        Say::new("rollout records: too many jobs writing at once").help("run again"),
    ))
}
