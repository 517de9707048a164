//! Deliveries GitHub marks failed are redelivered by the relay itself:
//! GitHub gives up on a webhook delivery that gets no answer within 10 s
//! or a non-2xx answer, and never sends it again on its own.
//!
//! At start and then every `--redeliver-every` seconds (0: never), as the
//! customer App (its JWT), a sweep lists the App's webhook deliveries
//! newest first back to the last sweep less [`MARGIN`] (the first sweep:
//! the [`KEPT`] days GitHub keeps them), at most [`MAX_ITEMS`], groups
//! the attempts by `guid` (a redelivery keeps it) and asks GitHub for one
//! redelivery (`POST /app/hook/deliveries/{id}/attempts`) of each guid
//! ([`verdict`]):
//!
//! - of an event the relay acts on ([`ACTED_ON`]);
//! - none of whose attempts was answered 2xx;
//! - none of whose attempts the relay refused (any other answer than
//!   none at all, 408, 429 or 5xx: a bad signature, a bad request, an
//!   unknown or revoked customer is refused the same way every time);
//! - redelivered fewer than [`MAX_REDELIVERIES`] times (the attempts
//!   GitHub lists and the requests this process made, whichever is more);
//! - whose last redelivery request has shown up as an attempt (or was
//!   made more than [`PENDING`] ago).
//!
//! One request per guid per sweep, at most [`MAX_PER_SWEEP`] per sweep,
//! all through one client per App JWT whose scheduler carries on from
//! sweep to sweep ([`crate::github::GitHub::with_budget_of`]): a sweep
//! never goes past GitHub's limits, and a slot it would wait for too long
//! ends the sweep (the next one goes on). What was redelivered, and what
//! went wrong, is returned for the command's log. What the relay remembers
//! is in memory; after a restart the first sweep reads the whole window
//! again, so GitHub's own list still caps each guid.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::github::{ApiRoot, AppKey, GitHub, GitHubError, HookDelivery};

/// The events the relay acts on: only their deliveries are redelivered.
pub const ACTED_ON: &[&str] = &["push", "pull_request", "issue_comment"];
/// Redeliveries asked for one guid at most.
pub const MAX_REDELIVERIES: u32 = 3;
/// How long GitHub keeps deliveries (seconds): the longest window.
pub const KEPT: u64 = 3 * 24 * 3600;
/// How far before the last sweep the next one reads (seconds): clock skew
/// between GitHub and the relay, and attempts GitHub made late.
pub const MARGIN: u64 = 10 * 60;
/// Deliveries read per sweep at most (10 pages of 100).
pub const MAX_ITEMS: usize = 1000;
/// Redelivery requests per sweep at most.
pub const MAX_PER_SWEEP: usize = 50;
/// A redelivery asked for that has not shown up as an attempt after this
/// long (seconds) may be asked for again.
pub const PENDING: u64 = 15 * 60;
/// How long one App JWT's client is used (seconds; the JWT lasts nine
/// minutes).
const JWT_USE: u64 = 8 * 60;
/// Guids remembered at most.
const REMEMBERED: usize = 100_000;

/// Why a sweep stopped early; every message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum RedeliverError {
    #[error("the customer App's JWT could not be made ({0}); check FLEETFORM_CUSTOMER_APP_ID and FLEETFORM_CUSTOMER_APP_PRIVATE_KEY")]
    Jwt(GitHubError),
    #[error("the customer App's webhook deliveries could not be listed (GET /app/hook/deliveries with its JWT): {0}; the next sweep tries again")]
    List(GitHubError),
    #[error("the redelivery of {event} delivery {guid} was not asked for (POST /app/hook/deliveries/{id}/attempts): {source}; the rest waits for the next sweep")]
    Redeliver {
        event: String,
        guid: String,
        id: u64,
        source: Box<GitHubError>,
    },
}

/// What to do with one guid's attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Ask GitHub to redeliver the attempt with this id.
    Redeliver { id: u64, last_status: u16 },
    /// An attempt was answered 2xx.
    Answered,
    /// The relay refused an attempt with this status.
    Refused(u16),
    /// Redelivered [`MAX_REDELIVERIES`] times already.
    Capped,
    /// The last redelivery asked for has not shown up yet.
    Pending,
    /// An event the relay does not act on.
    NotActedOn,
}

/// What this process asked for one guid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asked {
    /// Redeliveries asked for or seen listed, whichever is more.
    pub redeliveries: u32,
    /// The attempt the last request named, and when (epoch seconds).
    pub on: u64,
    pub at: u64,
    /// The log said the guid reached the cap.
    pub told: bool,
}

/// Whether an answer is worth a redelivery: none at all (0), 408, 429 or
/// 5xx.
pub fn retryable(status: u16) -> bool {
    matches!(status, 0 | 408 | 429 | 500..=599)
}

/// The verdict on one guid's `attempts` (newest first, at least one).
pub fn verdict(attempts: &[&HookDelivery], asked: Option<&Asked>, now: u64) -> Verdict {
    let newest = attempts[0];
    if !ACTED_ON.contains(&newest.event.as_str()) {
        return Verdict::NotActedOn;
    }
    if attempts.iter().any(|a| (200..300).contains(&a.status_code)) {
        return Verdict::Answered;
    }
    if let Some(a) = attempts.iter().find(|a| !retryable(a.status_code)) {
        return Verdict::Refused(a.status_code);
    }
    let listed = attempts.iter().filter(|a| a.redelivery).count() as u32;
    if listed.max(asked.map_or(0, |a| a.redeliveries)) >= MAX_REDELIVERIES {
        return Verdict::Capped;
    }
    if asked.is_some_and(|a| a.on == newest.id && now < a.at + PENDING) {
        return Verdict::Pending;
    }
    Verdict::Redeliver {
        id: newest.id,
        last_status: newest.status_code,
    }
}

/// One redelivery asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redelivered {
    pub guid: String,
    pub event: String,
    /// The attempt named in the request.
    pub id: u64,
    pub last_status: u16,
    /// Which redelivery of the guid this is (1 to [`MAX_REDELIVERIES`]).
    pub nth: u32,
}

/// What one sweep did.
#[derive(Debug, Default)]
pub struct Swept {
    /// The window read (epoch seconds) and the attempts in it.
    pub since: u64,
    pub listed: usize,
    pub redelivered: Vec<Redelivered>,
    /// Guids that reached the cap in this sweep (all attempts failed).
    pub gave_up: Vec<String>,
    /// Failed guids left for the next sweep ([`MAX_PER_SWEEP`]).
    pub left: usize,
    /// A redelivery GitHub's write limits would have held (how long, and
    /// which limit): the sweep stopped there, the rest left for a later
    /// sweep rather than holding the sweeps for the wait.
    pub held: Option<(std::time::Duration, &'static str)>,
    pub truncated: bool,
    pub unreadable: usize,
    /// Redeliveries GitHub refused (e.g. a delivery too old), each said.
    pub refused: Vec<RedeliverError>,
    pub stopped: Option<RedeliverError>,
}

impl Swept {
    /// The lines for the relay's log: one per redelivery and per problem;
    /// none for a sweep that found nothing to do.
    pub fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .redelivered
            .iter()
            .map(|r| {
                let last = match r.last_status {
                    0 => "no answer".to_string(),
                    s => format!("answered {s}"),
                };
                format!(
                    "redeliver: asked GitHub to redeliver {} delivery {} (attempt {}, {last}; redelivery {} of at most {MAX_REDELIVERIES})",
                    r.event, r.guid, r.id, r.nth
                )
            })
            .collect();
        out.extend(self.gave_up.iter().map(|g| {
            format!("redeliver: delivery {g} failed after {MAX_REDELIVERIES} redeliveries; not asked again (redeliver it from the App's settings once the cause is fixed)")
        }));
        if let Some((wait, what)) = self.held {
            out.push(format!(
                "redeliver: GitHub's {what} hold the next redelivery for {}: not sent now, left for a later sweep",
                crate::util::text::duration(wait)
            ));
        }
        if self.left > 0 {
            out.push(format!("redeliver: {} failed deliveries left for the next sweep (at most {MAX_PER_SWEEP} a sweep)", self.left));
        }
        if self.truncated {
            out.push(format!("redeliver: more than {MAX_ITEMS} deliveries since the window's start; older ones were not read"));
        }
        if self.unreadable > 0 {
            out.push(format!(
                "redeliver: {} listed deliveries had unusable fields and were skipped",
                self.unreadable
            ));
        }
        out.extend(self.refused.iter().map(|e| format!("redeliver: {e}")));
        out.extend(self.stopped.iter().map(|e| format!("redeliver: {e}")));
        out
    }
}

/// The longest a sweep waits for GitHub's write limits before leaving the
/// rest to a later sweep.
const HOLD_AT_MOST: std::time::Duration = std::time::Duration::from_secs(1);

/// The sweeps' memory: the last sweep, what was asked per guid, and the
/// client of the current App JWT.
#[derive(Default)]
pub struct Sweeper {
    last_sweep: Option<u64>,
    asked: HashMap<String, Asked>,
    client: Option<(Arc<GitHub>, u64)>,
}

impl Sweeper {
    /// The window's start for a sweep at `now`.
    pub fn since(&self, now: u64) -> u64 {
        let oldest = now.saturating_sub(KEPT);
        self.last_sweep
            .map_or(oldest, |t| t.saturating_sub(MARGIN).max(oldest))
    }

    /// The client of a JWT made less than [`JWT_USE`] ago, or a new one
    /// that schedules on from the last.
    fn client(
        &mut self,
        app: &AppKey,
        (root, net): (&ApiRoot, &crate::net::Settings),
        ledger: Option<&AppLedger>,
        now: u64,
    ) -> Result<Arc<GitHub>, RedeliverError> {
        if let Some((gh, made)) = &self.client {
            if now < made + JWT_USE {
                return Ok(gh.clone());
            }
        }
        let jwt = app.jwt(now).map_err(RedeliverError::Jwt)?;
        let mut gh = GitHub::in_runtime(net, root.clone(), Some(&jwt), false)
            .map_err(RedeliverError::Jwt)?;
        if let Some(shared) = ledger {
            // The App's one budget, with its tokens' mints.
            gh = gh.scheduled_in(shared.clone());
        } else if let Some((earlier, _)) = &self.client {
            gh = gh.with_budget_of(earlier);
        }
        let gh = Arc::new(gh);
        self.client = Some((gh.clone(), now));
        Ok(gh)
    }

    /// One sweep at `now` (epoch seconds) as the App `app`, booking its
    /// requests in `ledger` when given (the App's, shared with its mints).
    pub async fn sweep(
        &mut self,
        app: &AppKey,
        root: (&ApiRoot, &crate::net::Settings),
        ledger: Option<&AppLedger>,
        now: u64,
    ) -> Swept {
        let since = self.since(now);
        let mut swept = Swept {
            since,
            ..Swept::default()
        };
        let listed = match self.client(app, root, ledger, now) {
            Ok(gh) => gh
                .app_hook_deliveries(since, MAX_ITEMS)
                .await
                .map(|l| (gh, l))
                .map_err(RedeliverError::List),
            Err(e) => Err(e),
        };
        let (gh, list) = match listed {
            Ok(x) => x,
            Err(e) => {
                swept.stopped = Some(e);
                return swept;
            }
        };
        swept.listed = list.items.len();
        swept.truncated = list.truncated;
        swept.unreadable = list.unreadable;
        self.last_sweep = Some(now);
        let chosen = self.choose(&list.items, now, &mut swept);
        self.ask(&gh, chosen, now, &mut swept).await;
        self.forget_old(now);
        swept
    }

    /// The guids to redeliver, oldest first, at most [`MAX_PER_SWEEP`];
    /// the memory learns what the list says.
    fn choose(&mut self, items: &[HookDelivery], now: u64, swept: &mut Swept) -> Vec<Redelivered> {
        let mut groups: Vec<(&str, Vec<&HookDelivery>)> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for d in items {
            let i = *index.entry(d.guid.as_str()).or_insert_with(|| {
                groups.push((d.guid.as_str(), Vec::new()));
                groups.len() - 1
            });
            groups[i].1.push(d);
        }
        let mut chosen = Vec::new();
        for (guid, attempts) in groups.iter().rev() {
            let asked = self.asked.get(*guid).copied();
            let listed = attempts.iter().filter(|a| a.redelivery).count() as u32;
            let known = listed.max(asked.map_or(0, |a| a.redeliveries));
            let v = verdict(attempts, asked.as_ref(), now);
            let gave_up = v == Verdict::Capped && !asked.is_some_and(|a| a.told);
            match v {
                Verdict::Redeliver { id, last_status } if chosen.len() < MAX_PER_SWEEP => {
                    chosen.push(Redelivered {
                        guid: guid.to_string(),
                        event: attempts[0].event.clone(),
                        id,
                        last_status,
                        nth: known + 1,
                    });
                }
                Verdict::Redeliver { .. } => swept.left += 1,
                _ if gave_up => swept.gave_up.push(guid.to_string()),
                _ => {}
            }
            if let Some(mut a) = asked.or_else(|| {
                (listed > 0).then(|| Asked {
                    redeliveries: listed,
                    on: attempts[0].id,
                    at: attempts[0].delivered_at,
                    told: false,
                })
            }) {
                a.redeliveries = known;
                a.told |= gave_up;
                self.remember(guid, a);
            }
        }
        chosen
    }

    /// Asks GitHub for each redelivery in turn; stops at a request that
    /// could not be made (GitHub unreachable, a limit's wait too long).
    async fn ask(&mut self, gh: &GitHub, chosen: Vec<Redelivered>, now: u64, swept: &mut Swept) {
        let mut chosen = chosen.into_iter().peekable();
        while chosen.peek().is_some() {
            // A write GitHub's limits would hold waits for a later sweep,
            // which asks again: a sweep never sits out the minute.
            if let Some(held) = gh.write_wait().filter(|(w, _)| *w > HOLD_AT_MOST) {
                swept.held = Some(held);
                break;
            }
            let Some(r) = chosen.next() else { break };
            match gh.redeliver_app_hook_delivery(r.id).await {
                Ok(()) => {
                    let asked = Asked {
                        redeliveries: r.nth,
                        on: r.id,
                        at: now,
                        told: false,
                    };
                    self.remember(&r.guid, asked);
                    swept.redelivered.push(r);
                }
                Err(source) => {
                    let refused = matches!(source.status(), Some(s) if s < 500);
                    let e = RedeliverError::Redeliver {
                        event: r.event,
                        guid: r.guid,
                        id: r.id,
                        source: Box::new(source),
                    };
                    if !refused {
                        swept.stopped = Some(e);
                        break;
                    }
                    swept.refused.push(e);
                }
            }
        }
        swept.left += chosen.count();
    }

    fn remember(&mut self, guid: &str, asked: Asked) {
        if self.asked.len() >= REMEMBERED && !self.asked.contains_key(guid) {
            return;
        }
        self.asked.insert(guid.to_string(), asked);
    }

    /// Forgets guids whose deliveries GitHub no longer keeps.
    fn forget_old(&mut self, now: u64) {
        let oldest = now.saturating_sub(KEPT + MARGIN);
        self.asked.retain(|_, a| a.at >= oldest);
    }
}

/// An App's ledger shared by its clients ([`super::tokens::Tokens::app_ledger`]).
pub type AppLedger = Arc<std::sync::Mutex<crate::github::Ledger>>;

/// Where a sweep's lines go (the relay command's log).
pub type SweepLog = Arc<dyn Fn(&str) + Send + Sync>;

/// Sweeps at once and then `every` after each sweep ends, as the
/// relay's customer App, until the task is dropped.
pub async fn schedule(relay: Arc<super::Relay>, every: Duration, log: SweepLog) {
    let mut sweeper = Sweeper::default();
    let settings = &relay.settings;
    // One points budget with the customer App's token mints: GitHub counts
    // both against the App.
    let ledger = relay.tokens.app_ledger(crate::github::AppRole::Customer);
    loop {
        let now = crate::util::now_unix();
        let swept = sweeper
            .sweep(
                &settings.customer_app,
                (&settings.api_root, &settings.net),
                Some(&ledger),
                now,
            )
            .await;
        for line in swept.lines() {
            log(&line);
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(id: u64, guid: &str, status: u16, redelivery: bool) -> HookDelivery {
        HookDelivery {
            id,
            guid: guid.into(),
            delivered_at: 1_000 + id,
            redelivery,
            status_code: status,
            event: "push".into(),
        }
    }

    #[test]
    fn only_failures_worth_another_try_are_redelivered() {
        for status in [0, 408, 429, 500, 502, 503, 504] {
            let a = d(1, "g", status, false);
            assert_eq!(
                verdict(&[&a], None, 2_000),
                Verdict::Redeliver {
                    id: 1,
                    last_status: status
                },
                "{status}"
            );
        }
        for status in [301, 400, 401, 403, 404, 413, 422] {
            let a = d(1, "g", status, false);
            assert_eq!(verdict(&[&a], None, 2_000), Verdict::Refused(status));
        }
        // A later redelivery answered, or an earlier refusal: never again.
        let (old, new) = (d(1, "g", 503, false), d(2, "g", 202, true));
        assert_eq!(verdict(&[&new, &old], None, 2_000), Verdict::Answered);
        let (old, new) = (d(1, "g", 401, false), d(2, "g", 503, true));
        assert_eq!(verdict(&[&new, &old], None, 2_000), Verdict::Refused(401));
        let mut ping = d(1, "g", 0, false);
        ping.event = "ping".into();
        assert_eq!(verdict(&[&ping], None, 2_000), Verdict::NotActedOn);
    }

    #[test]
    fn the_cap_counts_listed_and_asked_redeliveries_and_waits_for_the_last() {
        let a: Vec<HookDelivery> = (1..=4).rev().map(|i| d(i, "g", 0, i > 1)).collect();
        let refs: Vec<&HookDelivery> = a.iter().collect();
        assert_eq!(verdict(&refs, None, 2_000), Verdict::Capped);
        // One listed (the older ones out of the window), three asked.
        let asked = Asked {
            redeliveries: 3,
            on: 4,
            at: 1_900,
            told: false,
        };
        assert_eq!(verdict(&refs[..1], Some(&asked), 2_000), Verdict::Capped);
        // Asked once on attempt 4, which is still the newest: pending,
        // until PENDING has passed.
        let asked = Asked {
            redeliveries: 1,
            on: 4,
            at: 1_900,
            told: false,
        };
        assert_eq!(verdict(&refs[..1], Some(&asked), 2_000), Verdict::Pending);
        assert_eq!(
            verdict(&refs[..1], Some(&asked), 1_900 + PENDING),
            Verdict::Redeliver {
                id: 4,
                last_status: 0
            }
        );
    }

    #[test]
    fn the_window_starts_before_the_last_sweep_and_never_past_what_github_keeps() {
        let mut s = Sweeper::default();
        let now = 10 * KEPT;
        assert_eq!(s.since(now), now - KEPT);
        s.last_sweep = Some(now - 300);
        assert_eq!(s.since(now), now - 300 - MARGIN);
        s.last_sweep = Some(now - 4 * KEPT);
        assert_eq!(s.since(now), now - KEPT);
    }

    #[test]
    fn a_sweep_chooses_each_failed_guid_once_oldest_first_within_the_cap() {
        let mut s = Sweeper::default();
        let mut swept = Swept::default();
        // Newest first: g2 failed twice (once redelivered), g1 once,
        // g3 answered.
        let items = vec![
            d(5, "g3", 200, false),
            d(4, "g2", 502, true),
            d(3, "g2", 0, false),
            d(2, "g1", 0, false),
        ];
        let chosen = s.choose(&items, 2_000, &mut swept);
        let got: Vec<(&str, u64, u32)> = chosen
            .iter()
            .map(|r| (r.guid.as_str(), r.id, r.nth))
            .collect();
        assert_eq!(got, vec![("g1", 2, 1), ("g2", 4, 2)]);
        let many: Vec<HookDelivery> = (0..MAX_PER_SWEEP as u64 + 5)
            .map(|i| d(100 + i, &format!("m{i}"), 0, false))
            .collect();
        let mut swept = Swept::default();
        assert_eq!(s.choose(&many, 2_000, &mut swept).len(), MAX_PER_SWEEP);
        assert_eq!(swept.left, 5);
    }
}
