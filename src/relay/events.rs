//! Exactly once per event: one key per customer event (the repository, the
//! commit, the kind of event), claimed before the dispatch, so the App's
//! webhook and the customer's trigger for the same push, a re-run of a
//! trigger, and two relay instances never dispatch one event twice.
//!
//! The kinds: `apply` (a push to the default branch), `pr-<n>` (a pull
//! request's head, planned), `ref-<hash>` (another branch's push),
//! `comment-<id>` (a comment command: every comment is an event of its
//! own) and `manual-<dispatch id>` (a `workflow_dispatch` run: a person
//! asked again).
//!
//! Where the claims live: with an S3 records store (`records: {kind:
//! s3}`), in the bucket under `relay/events/<repo id>/<sha>/<kind>/`,
//! each step a create-only object (`claim-<n>`, then `done` or
//! `failed-<n>`), so instances sharing the bucket see each other's claims
//! and a restart forgets nothing; otherwise in memory (bounded, per
//! process). A claim in the store keeps what it takes to dispatch the
//! event and is listed in a pending index, so a sweep takes over and
//! dispatches the events of a stopped instance (the durable queue, `pending`). A
//! claim whose dispatch never finished (the process died) is taken over
//! after [`STALE`]: that window is the one way an event can be dispatched
//! twice, when a process dies between GitHub's answer and writing `done`.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{Answer, Subject};
use crate::records::{RecordsError, Store};

/// How long an unfinished claim holds before another request (or another
/// instance's sweep: the durable queue, `pending`) may take the event over: longer
/// than a live instance keeps an event unfinished (queued at most 45 s,
/// then sent).
pub const STALE: Duration = Duration::from_secs(120);
/// Sets a shorter [`STALE`], in seconds (tests: a crashed instance's claim
/// taken over without waiting two minutes).
pub const STALE_ENV: &str = "FLEETFORM_TEST_CLAIM_STALE_SECS";

/// [`STALE`], or the shorter time [`STALE_ENV`] sets.
pub fn stale() -> Duration {
    static SET: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *SET.get_or_init(|| {
        std::env::var(STALE_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(STALE, |s| Duration::from_secs(s.max(1)).min(STALE))
    })
}
/// Events remembered in memory.
const REMEMBERED: usize = 100_000;

/// The key of an event: `<repo id>/<sha>/<kind>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventKey(String);

impl EventKey {
    pub fn of(repo_id: u64, subject: &Subject) -> EventKey {
        let kind = match (subject.comment, subject.event.as_str(), subject.pr) {
            (Some(id), _, _) => format!("comment-{id}"),
            (None, "workflow_dispatch", _) => format!("manual-{}", safe(&subject.dispatch_id)),
            (None, _, _) if subject.apply => "apply".to_string(),
            (None, _, Some(n)) => format!("pr-{n}"),
            (None, _, None) => format!(
                "ref-{}",
                &crate::util::fs::sha256_bytes(subject.git_ref.as_bytes())[..16]
            ),
        };
        EventKey(format!("{repo_id}/{}/{kind}", safe(&subject.sha)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A key as the store lists it (`<repo id>/<sha>/<kind>`).
    pub(super) fn from_stored(key: &str) -> EventKey {
        EventKey(key.to_string())
    }
}

/// Letters, digits, `-` and `_` only (a key segment of the store).
fn safe(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(80)
        .collect()
}

/// What a claim found.
#[derive(Debug)]
pub enum Claim {
    /// This request dispatches the event.
    Won(Ticket),
    /// It was dispatched already: what was dispatched.
    Done(Value),
    /// Another request is dispatching it now.
    InFlight,
}

/// A won claim, to be finished with [`Events::finish`].
#[derive(Debug)]
pub struct Ticket {
    pub(super) key: EventKey,
    /// The store's attempt number (0 in memory).
    pub(super) attempt: u32,
}

enum Entry {
    Claimed(Instant),
    Done(Value),
}

/// The claims (module docs).
pub struct Events {
    pub(super) store: Option<Store>,
    /// Pending-index entries a sweep found finished (never looked at
    /// again; bounded).
    pub(super) swept: Mutex<std::collections::HashSet<String>>,
    memory: Mutex<(HashMap<EventKey, Entry>, VecDeque<EventKey>)>,
    /// The claims this instance holds in the store and is still working
    /// on (key → attempt): [`Events::renew`] keeps them from going stale.
    live: Mutex<HashMap<EventKey, u32>>,
}

impl Events {
    pub fn new(store: Option<Store>) -> Events {
        Events {
            store,
            swept: Mutex::new(std::collections::HashSet::new()),
            memory: Mutex::new((HashMap::new(), VecDeque::new())),
            live: Mutex::new(HashMap::new()),
        }
    }

    /// Whether claims are kept in a store every instance shares.
    pub fn shared(&self) -> bool {
        self.store.is_some()
    }

    /// Where claims are kept, for the start-up line.
    pub fn describe(&self) -> String {
        match &self.store {
            Some(s) => format!(
                "events are claimed in {} (shared by every instance)",
                s.describe()
            ),
            None => {
                "events are claimed in memory (this process only; a restart forgets them)".into()
            }
        }
    }

    /// Claims `key`: in memory first, then in the store, where the claim
    /// keeps `event` (what it takes to dispatch it: the durable queue, `pending`).
    pub async fn claim(&self, key: &EventKey, event: &Value) -> Result<Claim, Answer> {
        if let Some(c) = self.claim_in_memory(key) {
            return Ok(c);
        }
        let Some(store) = self.store.clone() else {
            return Ok(Claim::Won(Ticket {
                key: key.clone(),
                attempt: 0,
            }));
        };
        let found = claim_in_store(&store, key, event)
            .await
            .map_err(|e| unavailable(&e.to_string()))?;
        if !matches!(found, Claim::Won(_)) {
            self.forget(key);
        }
        if let Claim::Done(v) = &found {
            self.remember(key, Entry::Done(v.clone()));
        }
        if let Claim::Won(t) = &found {
            self.hold(t);
        }
        Ok(found)
    }

    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<EventKey, u32>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Marks a won claim as being worked on here (renewed until finished).
    pub(super) fn hold(&self, t: &Ticket) {
        self.live().insert(t.key.clone(), t.attempt);
    }

    /// Renews every claim this instance is still working on: an
    /// `alive-<n>-<now>` beside `claim-<n>` (create-only), so a sweep never
    /// takes over an event a live but slow instance holds (one waiting for
    /// GitHub's write budget, say). Run at least twice per [`STALE`].
    pub async fn renew(&self) {
        let Some(store) = self.store.clone() else {
            return;
        };
        let held: Vec<(EventKey, u32)> = self.live().iter().map(|(k, n)| (k.clone(), *n)).collect();
        let now = super::clock::now_unix();
        for (key, n) in held {
            let name = format!("{}/alive-{n}-{now}", prefix(&key));
            // A failed renewal only lets the claim go stale, as a crash would.
            let _ = store.create_async(&name, b"{}").await;
        }
    }

    /// Records how the dispatch of a won claim ended: `Some(dispatched)`
    /// when GitHub took it. A failure frees the event for the next
    /// request.
    pub async fn finish(&self, ticket: Ticket, dispatched: Option<&Value>) {
        self.live().remove(&ticket.key);
        match dispatched {
            Some(v) => self.remember(&ticket.key, Entry::Done(v.clone())),
            None => self.forget(&ticket.key),
        }
        let Some(store) = self.store.clone() else {
            return;
        };
        let body = match dispatched {
            Some(v) => json!({ "dispatched": v, "at": super::clock::now_unix() }),
            None => json!({ "failed": true, "at": super::clock::now_unix() }),
        };
        let name = match dispatched {
            Some(_) => "done".to_string(),
            None => format!("failed-{}", ticket.attempt),
        };
        let key = format!("{}/{name}", prefix(&ticket.key));
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        // A failed write leaves the claim to go stale: the event is
        // dispatched again only after STALE, never lost.
        let _ = store.create_async(&key, &bytes).await;
    }

    /// The memory's answer, or `None` when the store decides (the event
    /// is then marked in flight here, so this process asks the store once).
    fn claim_in_memory(&self, key: &EventKey) -> Option<Claim> {
        let mut m = self.memory.lock().unwrap_or_else(|p| p.into_inner());
        let (map, order) = &mut *m;
        match map.get(key) {
            Some(Entry::Done(v)) => return Some(Claim::Done(v.clone())),
            Some(Entry::Claimed(at)) if super::clock::elapsed(*at) < stale() => {
                return Some(Claim::InFlight)
            }
            Some(_) => {}
            None => order.push_back(key.clone()),
        }
        map.insert(key.clone(), Entry::Claimed(super::clock::now()));
        if order.len() > REMEMBERED {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
        drop(m);
        if self.store.is_some() {
            return None;
        }
        Some(Claim::Won(Ticket {
            key: key.clone(),
            attempt: 0,
        }))
    }

    /// Lets a won claim go unfinished: nothing is written, so it goes
    /// stale in the store and a later sweep takes the event over again.
    pub(super) fn release(&self, ticket: Ticket) {
        self.live().remove(&ticket.key);
        self.forget(&ticket.key);
    }

    /// Remembers a claim won elsewhere (a sweep's) as in flight here.
    pub(super) fn mark_claimed(&self, key: &EventKey) {
        self.remember(key, Entry::Claimed(super::clock::now()));
    }

    fn remember(&self, key: &EventKey, entry: Entry) {
        let mut m = self.memory.lock().unwrap_or_else(|p| p.into_inner());
        let (map, order) = &mut *m;
        if map.insert(key.clone(), entry).is_none() {
            order.push_back(key.clone());
            if order.len() > REMEMBERED {
                if let Some(old) = order.pop_front() {
                    map.remove(&old);
                }
            }
        }
    }

    fn forget(&self, key: &EventKey) {
        let mut m = self.memory.lock().unwrap_or_else(|p| p.into_inner());
        if m.0.remove(key).is_some() {
            m.1.retain(|k| k != key);
        }
    }
}

fn unavailable(why: &str) -> Answer {
    Answer::busy(
        503,
        "records_unavailable",
        format!("the relay could not claim the event in the records store ({why}); nothing was dispatched"),
        5,
    )
}

pub(super) fn prefix(key: &EventKey) -> String {
    format!("relay/events/{}", key.as_str())
}

/// The names of the records in the folder `prefix` (each key's last part).
pub(super) async fn names_under(store: &Store, prefix: &str) -> Result<Vec<String>, RecordsError> {
    Ok(store
        .list_async(&format!("{prefix}/"))
        .await?
        .into_iter()
        .filter_map(|k| k.rsplit('/').next().map(str::to_string))
        .collect())
}

/// The highest `n` of the `names` that read `<p><n>`.
pub(super) fn newest(names: &[String], p: &str) -> Option<u32> {
    names
        .iter()
        .filter_map(|n| n.strip_prefix(p)?.parse::<u32>().ok())
        .max()
}

/// The store's protocol: `done` → dispatched already; the newest
/// `claim-<n>` without `failed-<n>`, younger than [`STALE`] → in flight;
/// otherwise a new `claim-<n+1>` holding `event`, create-only (losing the
/// race to another instance → in flight), and its entry in the pending
/// index (the durable queue, `pending`).
async fn claim_in_store(
    store: &Store,
    key: &EventKey,
    event: &Value,
) -> Result<Claim, RecordsError> {
    let prefix = prefix(key);
    let names = names_under(store, &prefix).await?;
    if names.iter().any(|n| n == "done") {
        let bytes = store.read_async(&format!("{prefix}/done")).await?;
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        return Ok(Claim::Done(v["dispatched"].clone()));
    }
    let attempt = |p: &str| newest(&names, p);
    let next = match attempt("claim-") {
        None => 0,
        Some(n) if attempt("failed-").is_some_and(|f| f >= n) => n + 1,
        Some(n) => {
            let bytes = store.read_async(&format!("{prefix}/claim-{n}")).await?;
            let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let at = last_sign_of_life(&names, n, v["at"].as_u64().unwrap_or(0));
            if super::clock::now_unix().saturating_sub(at) < stale().as_secs() {
                return Ok(Claim::InFlight);
            }
            n + 1
        }
    };
    match create_claim(store, key, next, event).await {
        Ok(()) => Ok(Claim::Won(Ticket {
            key: key.clone(),
            attempt: next,
        })),
        Err(RecordsError::Exists { .. }) => Ok(Claim::InFlight),
        Err(e) => Err(e),
    }
}

/// The newest time anyone working on `claim-<n>` was known alive: the
/// claim's own `at` or its newest `alive-<n>-<time>` ([`Events::renew`]).
pub(super) fn last_sign_of_life(names: &[String], n: u32, at: u64) -> u64 {
    let renewed = format!("alive-{n}-");
    names
        .iter()
        .filter_map(|x| x.strip_prefix(&renewed)?.parse::<u64>().ok())
        .fold(at, u64::max)
}

/// Writes `claim-<n>` of `key` holding `event` (create-only), then its
/// entry in the pending index; an index entry that cannot be written
/// leaves the event to a later request's takeover after [`STALE`].
pub(super) async fn create_claim(
    store: &Store,
    key: &EventKey,
    n: u32,
    event: &Value,
) -> Result<(), RecordsError> {
    let now = super::clock::now_unix();
    let body = serde_json::to_vec(&json!({ "at": now, "event": event })).unwrap_or_default();
    store
        .create_async(&format!("{}/claim-{n}", prefix(key)), &body)
        .await?;
    let _ = store.create_async(&index_key(now, key, n), b"{}").await;
    Ok(())
}

/// The pending-index entry of `claim-<n>` of `key`, made at `at` (epoch
/// seconds): `relay/pending/<minute>/<key>/claim-<n>`.
pub(super) fn index_key(at: u64, key: &EventKey, n: u32) -> String {
    format!("{}/{}/claim-{n}", minute_prefix(at / 60), key.as_str())
}

/// The pending index's folder of `minute` (minutes since 1970).
pub(super) fn minute_prefix(minute: u64) -> String {
    format!("relay/pending/{minute:010}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(event: &str, apply: bool, pr: Option<u64>, comment: Option<u64>) -> Subject {
        Subject {
            repo: "acme/infra".into(),
            sha: "a".repeat(40),
            git_ref: "refs/heads/main".into(),
            pr,
            event: event.into(),
            apply,
            run_url: None,
            dispatch_id: "r1-2-x".into(),
            files: Vec::new(),
            comment,
        }
    }

    #[test]
    fn one_key_per_event_whichever_way_it_came() {
        let a = "a".repeat(40);
        let key = |s: &Subject| EventKey::of(7, s).as_str().to_string();
        // The webhook's push and the trigger's push run: one event.
        assert_eq!(
            key(&subject("push", true, Some(12), None)),
            format!("7/{a}/apply")
        );
        assert_eq!(
            key(&subject("push", true, None, None)),
            format!("7/{a}/apply")
        );
        // A pull request's head, by its run or its delivery.
        assert_eq!(
            key(&subject("pull_request", false, Some(3), None)),
            format!("7/{a}/pr-3")
        );
        // Each comment and each manual run is an event of its own.
        assert_eq!(
            key(&subject("issue_comment", false, Some(3), Some(99))),
            format!("7/{a}/comment-99")
        );
        assert_eq!(
            key(&subject("workflow_dispatch", true, None, None)),
            format!("7/{a}/manual-r1-2-x")
        );
        let branch = key(&subject("push", false, None, None));
        assert!(branch.starts_with(&format!("7/{a}/ref-")), "{branch}");
        // Nothing of a hostile sha or id leaves the key's alphabet.
        let mut hostile = subject("workflow_dispatch", false, None, None);
        hostile.sha = "../../x".into();
        hostile.dispatch_id = "a/../b".into();
        assert_eq!(EventKey::of(1, &hostile).as_str(), "1/x/manual-ab");
    }

    #[tokio::test]
    async fn in_memory_a_won_claim_is_done_or_freed() {
        let events = Events::new(None);
        let k = EventKey::of(1, &subject("push", true, None, None));
        let Ok(Claim::Won(t)) = events.claim(&k, &Value::Null).await else {
            panic!("first claim")
        };
        assert!(matches!(
            events.claim(&k, &Value::Null).await,
            Ok(Claim::InFlight)
        ));
        events.finish(t, None).await;
        let Ok(Claim::Won(t)) = events.claim(&k, &Value::Null).await else {
            panic!("freed after a failure")
        };
        events.finish(t, Some(&json!({ "sha": "x" }))).await;
        assert!(
            matches!(events.claim(&k, &Value::Null).await, Ok(Claim::Done(v)) if v["sha"] == "x")
        );
    }
}
