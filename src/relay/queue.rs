//! Dispatches within GitHub's write limits: events wait in a queue and
//! leave it as batches, several customers' events in one
//! `repository_dispatch` (`fleetform-batch`), which the manager's batch
//! workflow fans out (one deploy per entry).
//!
//! GitHub allows about 80 content-creating requests a minute and 500 an
//! hour; one dispatch per event would cap a relay at 80 events a minute.
//! With batches of up to [`MAX_BATCH`], 1,000 events need about 32
//! dispatches.
//!
//! - **Fair order, in arrival order.** A batch takes one event from each
//!   customer in turn, each customer's oldest first, so one customer's
//!   burst never fills a batch while others wait; the customers take
//!   their turns in the order their events were first asked for
//!   ([`Event::since`]), so a caller told to come back keeps its place
//!   and is never overtaken by one that asked later.
//! - **No leader task.** The request that finds nobody sending becomes the
//!   sender: it waits [`LINGER`] for others to join ([`BUSY_LINGER`] while
//!   a burst goes on, so batches fill), takes a batch, and
//!   hands the send to a task of its own, so a caller that goes away never
//!   cancels a dispatch half-sent; every caller of the batch learns the
//!   result.
//! - **Bounded waits.** A caller whose event is still queued after
//!   [`WAIT`] takes it back out and gets 503 with `Retry-After` (nothing
//!   was sent; the trigger asks again); an event already in a batch being
//!   sent is waited for.
//! - **Within GitHub's limits.** A send GitHub's limits would make wait
//!   (the relay's clients wait at most a few seconds) sends nothing: the
//!   batch goes back to the front and the queue holds for the wait; a
//!   caller whose wait would end past [`WAIT`] is answered at once with
//!   the wait as `Retry-After`.
//! - A batch of one event is sent as a plain `fleetform-plan` or
//!   `fleetform-apply` dispatch, as are all events when the batch size is
//!   1 (a manager without the batch workflow); but a lone event that
//!   carries when its customer asked (`asked_at`: a `/dispatch` token's
//!   `iat`, a webhook delivery's or a polled pull request's own time) goes
//!   as a batch of one, the only dispatch with room for that time.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::Answer;
use crate::config::BATCH_WORKFLOW;

pub use crate::dispatch::{EVENT_BATCH, MAX_BATCH};
/// The most bytes of payloads one batch carries (GitHub takes a
/// `client_payload` under 64 KB; the rest is the batch's own JSON).
const MAX_BATCH_BYTES: usize = crate::dispatch::MAX_BYTES - 4 * 1024;
/// How long the sender waits for other events to join a batch.
pub const LINGER: Duration = Duration::from_millis(100);
/// How long it waits instead while events keep coming (a batch left less
/// than [`BUSY_WINDOW`] ago): under a burst each dispatch carries many
/// events, so a burst spends few of GitHub's writes; a lone event still
/// leaves after [`LINGER`].
pub const BUSY_LINGER: Duration = Duration::from_millis(1000);
/// A batch this recent makes the queue busy.
pub const BUSY_WINDOW: Duration = Duration::from_secs(5);
/// How long a caller's event may stay queued before it is taken back.
pub const WAIT: Duration = Duration::from_secs(45);

/// One event to dispatch.
pub struct Event {
    /// Whose: the fair order's unit.
    pub customer: String,
    pub event_type: &'static str,
    pub payload: Value,
    /// When it was first asked for (an earlier attempt of the same event
    /// included): its place in the queue.
    pub since: tokio::time::Instant,
    /// When the customer's job first asked, by GitHub's clock (its OIDC
    /// token's `iat`, Unix seconds): its batch entry's `asked_at`.
    pub asked_at: Option<u64>,
}

struct Waiting {
    id: u64,
    event: Event,
    done: oneshot::Sender<Result<(), Answer>>,
}

#[derive(Default)]
struct Pending {
    /// Each customer's queued events, in the order they were first asked
    /// for.
    by_customer: HashMap<String, VecDeque<Waiting>>,
    next_id: u64,
}

impl Pending {
    fn push(&mut self, event: Event, done: oneshot::Sender<Result<(), Answer>>) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        let q = self.by_customer.entry(event.customer.clone()).or_default();
        let at = q.partition_point(|w| w.event.since <= event.since);
        q.insert(at, Waiting { id, event, done });
        id
    }

    /// Where event `id` of `customer` stands: 1 for the next to leave.
    /// Counted as [`Pending::take_fair`] takes them: every customer's
    /// earlier events first.
    fn place(&self, customer: &str, id: u64) -> usize {
        let Some(q) = self.by_customer.get(customer) else {
            return 0;
        };
        let Some(rank) = q.iter().position(|w| w.id == id) else {
            return 0;
        };
        let since = q[rank].event.since;
        let before: usize = self
            .by_customer
            .iter()
            .filter(|(c, _)| c.as_str() != customer)
            .map(|(_, other)| {
                // Turns before this one's: up to `rank` events each, plus
                // one more when its turn comes first.
                let first_in_turn = other.get(rank).is_some_and(|w| w.event.since < since);
                other.len().min(rank) + usize::from(first_in_turn)
            })
            .sum();
        before + rank + 1
    }

    /// Puts events taken for a batch that was never sent back at the
    /// front, each customer's in its order and first in turn.
    fn put_back(&mut self, taken: Vec<Waiting>) {
        for w in taken.into_iter().rev() {
            let c = w.event.customer.clone();
            self.by_customer.entry(c).or_default().push_front(w);
        }
    }

    fn len(&self) -> usize {
        self.by_customer.values().map(VecDeque::len).sum()
    }

    /// Up to `n` events (and [`MAX_BATCH_BYTES`] of payloads): turn by
    /// turn, one per customer, the customers in the order their oldest
    /// event was first asked for.
    fn take_fair(&mut self, n: usize) -> Vec<Waiting> {
        let mut out = Vec::new();
        let mut bytes = 0;
        while out.len() < n && !self.by_customer.is_empty() {
            let mut turn: Vec<(tokio::time::Instant, u64, String)> = self
                .by_customer
                .iter()
                .filter_map(|(c, q)| q.front().map(|w| (w.event.since, w.id, c.clone())))
                .collect();
            turn.sort();
            for (_, _, customer) in turn {
                let Some(q) = self.by_customer.get_mut(&customer) else {
                    continue;
                };
                let size = q
                    .front()
                    .map_or(0, |w| w.event.payload.to_string().len() + 96);
                if out.len() >= n || (!out.is_empty() && bytes + size > MAX_BATCH_BYTES) {
                    return out;
                }
                bytes += size;
                if let Some(w) = q.pop_front() {
                    out.push(w);
                }
                if q.is_empty() {
                    self.by_customer.remove(&customer);
                }
            }
        }
        out
    }

    /// Takes event `id` back out, if it is still queued.
    fn withdraw(&mut self, customer: &str, id: u64) -> bool {
        let Some(q) = self.by_customer.get_mut(customer) else {
            return false;
        };
        let before = q.len();
        q.retain(|w| w.id != id);
        let taken = q.len() < before;
        if q.is_empty() {
            self.by_customer.remove(customer);
        }
        taken
    }
}

/// What sends one dispatch: `(event_type, client_payload)`; owns what it
/// needs, as it runs in a task of its own.
pub type Sender = Box<
    dyn FnOnce(String, Value) -> Pin<Box<dyn Future<Output = Result<(), Answer>> + Send>> + Send,
>;

/// The queue (module docs).
pub struct Queue {
    batch: usize,
    pending: Arc<Mutex<Pending>>,
    sending: tokio::sync::Mutex<()>,
    /// No batch is taken before this: GitHub's write budget is spent
    /// until then (a send that would have waited for it).
    hold: Arc<Mutex<Option<tokio::time::Instant>>>,
    /// When the last batch was taken: the queue is busy shortly after.
    last_taken: Mutex<Option<tokio::time::Instant>>,
    /// How long until `n` more dispatches fit GitHub's limits, from the
    /// sending client's own count ([`Queue::set_pace`]); none before the
    /// first send.
    pace: Mutex<Option<Pace>>,
}

/// How long until `n` more dispatches could leave within GitHub's limits.
pub type Pace = Arc<dyn Fn(usize) -> Duration + Send + Sync>;

impl Queue {
    /// A queue sending batches of at most `batch` events (1: one dispatch
    /// per event).
    pub fn new(batch: usize) -> Queue {
        Queue {
            batch: batch.clamp(1, MAX_BATCH),
            pending: Arc::new(Mutex::new(Pending::default())),
            sending: tokio::sync::Mutex::new(()),
            hold: Arc::new(Mutex::new(None)),
            last_taken: Mutex::new(None),
            pace: Mutex::new(None),
        }
    }

    /// What tells a caller sent away how long its event's dispatch is
    /// from leaving: the sending client's count of GitHub's limits.
    pub fn set_pace(&self, pace: Pace) {
        *self.pace.lock().unwrap_or_else(|p| p.into_inner()) = Some(pace);
    }

    /// How long before the dispatch of the event at `place` can leave:
    /// the batches ahead of it (its own included) at GitHub's pace, and
    /// at least the queue's hold.
    fn wait_at(&self, place: usize, held: Duration) -> Duration {
        let batches = place.max(1).div_ceil(self.batch);
        let pace = self.pace.lock().unwrap_or_else(|p| p.into_inner()).clone();
        pace.map_or(held, |p| p(batches).max(held))
    }

    /// How long until GitHub's write budget has room again (zero: now).
    fn held_for(&self) -> Duration {
        let hold = self.hold.lock().unwrap_or_else(|p| p.into_inner());
        hold.map_or(Duration::ZERO, |h| {
            h.saturating_duration_since(tokio::time::Instant::now())
        })
    }

    pub fn batch_size(&self) -> usize {
        self.batch
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Events waiting, for `/healthz`.
    pub fn queued(&self) -> usize {
        self.pending().len()
    }

    /// Queues `event` and waits until a dispatch carrying it was answered
    /// (or until it was taken back after [`WAIT`], or at once when GitHub's
    /// write budget has no room before then). `sender` makes the
    /// dispatch's sender when this caller becomes the one that sends.
    pub async fn submit<'a>(
        &self,
        event: Event,
        sender: impl Fn() -> SenderFuture<'a>,
    ) -> Result<(), Answer> {
        let customer = event.customer.clone();
        let (tx, mut rx) = oneshot::channel();
        let id = self.pending().push(event, tx);
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let held = self.held_for();
            if tokio::time::Instant::now() + held > deadline {
                if let Some(answer) = self.give_back(&customer, id, held) {
                    return answer;
                }
            }
            if held.is_zero() {
                if let Ok(guard) = self.sending.try_lock() {
                    self.send_one_batch(&sender).await;
                    drop(guard);
                }
            }
            tokio::select! {
                r = &mut rx => return r.unwrap_or_else(|_| Err(lost())),
                // Keep what was waited for: handing the lock on and trying
                // for it again would pass it from waiter to waiter forever.
                guard = self.sending.lock(), if held.is_zero() => {
                    self.send_one_batch(&sender).await;
                    drop(guard);
                }
                // The budget has room again: try.
                () = tokio::time::sleep(held), if !held.is_zero() => {}
                () = tokio::time::sleep_until(deadline) => {
                    if let Some(answer) = self.give_back(&customer, id, held) {
                        return answer;
                    }
                    // In a batch being sent: its answer comes.
                    return rx.await.unwrap_or_else(|_| Err(lost()));
                }
            }
        }
    }

    /// Takes event `id` back out when it is still queued: the caller's
    /// answer (nothing was sent; try again after the budget's wait, at
    /// least a second).
    fn give_back(&self, customer: &str, id: u64, held: Duration) -> Option<Result<(), Answer>> {
        let mut pending = self.pending();
        let place = pending.place(customer, id);
        if !pending.withdraw(customer, id) {
            return None;
        }
        drop(pending);
        let wait = self.wait_at(place, held).as_secs().max(1);
        let mut answer = Answer::busy(
            503,
            "queued_too_long",
            format!("the relay's dispatches are at GitHub's write limit; nothing was sent, try again in {wait} s: your event keeps its place ({place} in the queue), and its dispatch can leave in about that time"),
            wait,
        );
        answer.body["place"] = place.into();
        Some(Err(answer))
    }

    /// Waits [`LINGER`] unless a batch is full, takes one, and sends it in a
    /// task of its own (awaited: one dispatch at a time). A send GitHub's
    /// limits defer (nothing sent) puts the batch back and holds the queue
    /// for the wait.
    async fn send_one_batch<'a>(&self, sender: &impl Fn() -> SenderFuture<'a>) {
        let queued = self.pending().len();
        if queued == 0 || !self.held_for().is_zero() {
            return;
        }
        if queued < self.batch {
            tokio::time::sleep(self.linger()).await;
        }
        let taken = self.pending().take_fair(self.batch);
        if taken.is_empty() {
            return;
        }
        *self.last_taken.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(tokio::time::Instant::now());
        let send = match sender().await {
            Ok(s) => s,
            Err(a) => return self.answer(taken, Err(a)),
        };
        let (event_type, payload) = body(&taken, self.batch);
        // A task of its own that answers every caller of the batch (or puts
        // it back): a caller going away never cancels a dispatch half-sent.
        let (pending, hold) = (self.pending.clone(), self.hold.clone());
        let task = tokio::spawn(async move {
            let result = send(event_type, payload).await;
            answer_batch(&pending, &hold, taken, result);
        });
        let _ = task.await;
    }

    /// [`BUSY_LINGER`] within [`BUSY_WINDOW`] of the last batch, else
    /// [`LINGER`].
    fn linger(&self) -> Duration {
        let last = *self.last_taken.lock().unwrap_or_else(|p| p.into_inner());
        match last {
            Some(t) if t.elapsed() < BUSY_WINDOW => BUSY_LINGER,
            _ => LINGER,
        }
    }

    fn answer(&self, taken: Vec<Waiting>, result: Result<(), Answer>) {
        answer_batch(&self.pending, &self.hold, taken, result);
    }
}

/// Tells each caller of a batch how its send ended; a send GitHub's
/// limits deferred (nothing was sent) is put back and the queue held
/// for the wait instead.
fn answer_batch(
    pending: &Mutex<Pending>,
    hold: &Mutex<Option<tokio::time::Instant>>,
    taken: Vec<Waiting>,
    result: Result<(), Answer>,
) {
    if let Some(wait) = result.as_ref().err().and_then(deferred) {
        *hold.lock().unwrap_or_else(|p| p.into_inner()) = Some(tokio::time::Instant::now() + wait);
        pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .put_back(taken);
        return;
    }
    for w in taken {
        let _ = w.done.send(result.clone());
    }
}

/// The batch size (`--batch`, else `relay.batch`), 1 without the batch
/// workflow in the manager checkout, and what to say of it at start.
pub fn batch_size(settings: &super::Settings, flag: Option<usize>) -> (usize, String) {
    let wanted = flag
        .unwrap_or(settings.relay.batch)
        .clamp(1, crate::config::MAX_RELAY_BATCH);
    let present = settings
        .manager
        .path(std::path::Path::new(BATCH_WORKFLOW))
        .is_file();
    match (wanted, present) {
        (n, true) if n > 1 => (
            n,
            format!("up to {n} events per dispatch (the manager's {BATCH_WORKFLOW} fans them out)"),
        ),
        (1, _) => (1, "one event per dispatch (`relay.batch: 1`): GitHub's write limits cap the relay near 80 events a minute and 500 an hour".into()),
        _ => (1, format!("warning: one event per dispatch: batches of {wanted} are configured but the manager checkout has no {BATCH_WORKFLOW} (`fleetform doctor` fails on it; copy it from fleetform's workflows/, or set `relay.batch: 1`); GitHub's write limits cap the relay near 80 events a minute and 500 an hour")),
    }
}

/// How long GitHub's limits put a send off, when `a` says nothing was
/// sent for that reason.
fn deferred(a: &Answer) -> Option<Duration> {
    (a.status == 503 && a.body["error"] == "github_limit")
        .then(|| Duration::from_secs(a.body["retry_after"].as_u64().unwrap_or(1).max(1)))
}

/// What makes a [`Sender`] (a client for the manager repo, which may need
/// a token first).
pub type SenderFuture<'a> = Pin<Box<dyn Future<Output = Result<Sender, Answer>> + Send + 'a>>;

/// One event as a plain dispatch; several as a batch. A lone event that
/// carries its customer's time (`asked_at`) goes as a batch of one when
/// the manager has the batch workflow (`batch` > 1): a plain dispatch's
/// payload has no room for it (GitHub's 10 top-level keys, all used).
fn body(taken: &[Waiting], batch: usize) -> (String, Value) {
    if let [one] = taken {
        if one.event.asked_at.is_none() || batch == 1 {
            return (one.event.event_type.to_string(), one.event.payload.clone());
        }
    }
    let entries: Vec<Value> = taken
        .iter()
        .map(|w| {
            let mut entry = json!({ "event_type": w.event.event_type, "payload": w.event.payload });
            if let Some(at) = w.event.asked_at {
                entry["asked_at"] = json!(at);
            }
            entry
        })
        .collect();
    (EVENT_BATCH.to_string(), json!({ "v": 1, "batch": entries }))
}

fn lost() -> Answer {
    Answer::refuse(
        500,
        "internal",
        "the dispatch's sender stopped before it answered",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(customer: &str, n: u64) -> Event {
        Event {
            customer: customer.into(),
            event_type: "fleetform-plan",
            payload: json!({ "n": n }),
            since: tokio::time::Instant::now(),
            asked_at: None,
        }
    }

    #[test]
    fn batches_take_one_event_per_customer_in_turn() {
        let mut p = Pending::default();
        for n in 0..5 {
            p.push(event("burst", n), oneshot::channel().0);
        }
        p.push(event("quiet", 100), oneshot::channel().0);
        p.push(event("late", 200), oneshot::channel().0);
        let first: Vec<(String, u64)> = p
            .take_fair(4)
            .into_iter()
            .map(|w| (w.event.customer, w.event.payload["n"].as_u64().unwrap()))
            .collect();
        assert_eq!(
            first,
            [("burst", 0), ("quiet", 100), ("late", 200), ("burst", 1)]
                .map(|(c, n)| (c.to_string(), n))
        );
        assert_eq!(p.len(), 3);
        let rest: Vec<u64> = p
            .take_fair(10)
            .into_iter()
            .map(|w| w.event.payload["n"].as_u64().unwrap())
            .collect();
        assert_eq!(rest, [2, 3, 4]);
        assert!(p.by_customer.is_empty());
    }

    /// A caller told to come back brings the time it first asked: its
    /// event goes before every customer that asked later, whatever the
    /// order the requests arrive in now, and each knows its place.
    #[test]
    fn a_returning_event_keeps_its_place_and_each_is_told_it() {
        let t0 = tokio::time::Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut p = Pending::default();
        let ev = |c: &str, n: u64, since| Event {
            since,
            ..event(c, n)
        };
        let later = p.push(ev("later", 1, at(20)), oneshot::channel().0);
        p.push(ev("later", 2, at(21)), oneshot::channel().0);
        p.push(ev("next", 3, at(15)), oneshot::channel().0);
        // Back after 369 s and many tries: first asked at 0.
        let early = p.push(ev("early", 4, at(0)), oneshot::channel().0);
        assert_eq!(p.place("early", early), 1);
        assert_eq!(p.place("later", later), 3);
        let order: Vec<u64> = p
            .take_fair(10)
            .into_iter()
            .map(|w| w.event.payload["n"].as_u64().unwrap())
            .collect();
        assert_eq!(order, [4, 3, 1, 2]);
    }

    #[test]
    fn a_withdrawn_event_leaves_no_trace() {
        let mut p = Pending::default();
        let id = p.push(event("a", 1), oneshot::channel().0);
        p.push(event("b", 2), oneshot::channel().0);
        assert!(p.withdraw("a", id));
        assert!(!p.withdraw("a", id));
        let left: Vec<String> = p
            .take_fair(5)
            .into_iter()
            .map(|w| w.event.customer)
            .collect();
        assert_eq!(left, ["b"]);
    }

    #[test]
    fn one_event_is_a_plain_dispatch_several_a_batch() {
        let mut p = Pending::default();
        p.push(event("a", 1), oneshot::channel().0);
        let (t, v) = body(&p.take_fair(5), 5);
        assert_eq!((t.as_str(), v["n"].as_u64()), ("fleetform-plan", Some(1)));
        p.push(event("a", 1), oneshot::channel().0);
        p.push(event("b", 2), oneshot::channel().0);
        let (t, v) = body(&p.take_fair(5), 5);
        assert_eq!(t, EVENT_BATCH);
        assert_eq!(
            v["batch"][1],
            json!({ "event_type": "fleetform-plan", "payload": { "n": 2 } })
        );
        assert_eq!(v.as_object().unwrap().len(), 2);
    }

    /// An event that carries its customer's time travels in a batch entry,
    /// alone too, where the manager has the batch workflow; without it
    /// (`batch: 1`) it goes plain, its time left behind.
    #[test]
    fn a_customers_time_travels_in_a_batch_entry_even_alone() {
        let asked = |c: &str, n: u64| Event {
            asked_at: Some(1_795_000_000 + n),
            ..event(c, n)
        };
        let mut p = Pending::default();
        p.push(asked("a", 1), oneshot::channel().0);
        let (t, v) = body(&p.take_fair(5), 5);
        assert_eq!(t, EVENT_BATCH);
        assert_eq!(
            v,
            json!({"v": 1, "batch": [{ "event_type": "fleetform-plan", "payload": { "n": 1 }, "asked_at": 1_795_000_001u64 }]})
        );
        p.push(asked("a", 1), oneshot::channel().0);
        let (t, v) = body(&p.take_fair(1), 1);
        assert_eq!((t.as_str(), v), ("fleetform-plan", json!({ "n": 1 })));
        p.push(asked("a", 1), oneshot::channel().0);
        p.push(event("b", 2), oneshot::channel().0);
        let (_, v) = body(&p.take_fair(5), 5);
        assert_eq!(v["batch"][0]["asked_at"], 1_795_000_001u64);
        assert_eq!(v["batch"][1].get("asked_at"), None);
    }
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod more_tests;
