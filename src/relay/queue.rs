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
//! - **Fair order.** A batch takes one event from each customer in turn,
//!   each customer's oldest first, so one customer's burst never fills a
//!   batch while others wait.
//! - **No leader task.** The request that finds nobody sending becomes the
//!   sender: it waits [`LINGER`] for others to join, takes a batch, and
//!   hands the send to a task of its own, so a caller that goes away never
//!   cancels a dispatch half-sent; every caller of the batch learns the
//!   result.
//! - **Bounded waits.** A caller whose event is still queued after
//!   [`WAIT`] takes it back out and gets 503 with `Retry-After` (nothing
//!   was sent; the trigger asks again); an event already in a batch being
//!   sent is waited for.
//! - A batch of one event is sent as a plain `fleetform-plan` or
//!   `fleetform-apply` dispatch, as are all events when the batch size is
//!   1 (a manager without the batch workflow).

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::Answer;

pub use crate::dispatch::{EVENT_BATCH, MAX_BATCH};
/// The most bytes of payloads one batch carries (GitHub takes a
/// `client_payload` under 64 KB; the rest is the batch's own JSON).
const MAX_BATCH_BYTES: usize = crate::dispatch::MAX_BYTES - 4 * 1024;
/// How long the sender waits for other events to join a batch.
pub const LINGER: Duration = Duration::from_millis(100);
/// How long a caller's event may stay queued before it is taken back.
pub const WAIT: Duration = Duration::from_secs(45);

/// One event to dispatch.
pub struct Event {
    /// Whose: the fair order's unit.
    pub customer: String,
    pub event_type: &'static str,
    pub payload: Value,
}

struct Waiting {
    id: u64,
    event: Event,
    done: oneshot::Sender<Result<(), Answer>>,
}

#[derive(Default)]
struct Pending {
    /// Customers with queued events, in the order they were served last.
    order: VecDeque<String>,
    by_customer: HashMap<String, VecDeque<Waiting>>,
    next_id: u64,
}

impl Pending {
    fn push(&mut self, event: Event, done: oneshot::Sender<Result<(), Answer>>) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        let q = self.by_customer.entry(event.customer.clone()).or_default();
        if q.is_empty() {
            self.order.push_back(event.customer.clone());
        }
        q.push_back(Waiting { id, event, done });
        id
    }

    fn len(&self) -> usize {
        self.by_customer.values().map(VecDeque::len).sum()
    }

    /// Up to `n` events (and [`MAX_BATCH_BYTES`] of payloads), one per
    /// customer in turn, oldest first.
    fn take_fair(&mut self, n: usize) -> Vec<Waiting> {
        let mut out = Vec::new();
        let mut bytes = 0;
        while out.len() < n {
            let Some(customer) = self.order.pop_front() else {
                break;
            };
            let Some(q) = self.by_customer.get_mut(&customer) else {
                continue;
            };
            let size = q
                .front()
                .map_or(0, |w| w.event.payload.to_string().len() + 64);
            if !out.is_empty() && bytes + size > MAX_BATCH_BYTES {
                self.order.push_front(customer);
                break;
            }
            bytes += size;
            if let Some(w) = q.pop_front() {
                out.push(w);
            }
            if q.is_empty() {
                self.by_customer.remove(&customer);
            } else {
                self.order.push_back(customer);
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
            self.order.retain(|c| c != customer);
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
    pending: Mutex<Pending>,
    sending: tokio::sync::Mutex<()>,
}

impl Queue {
    /// A queue sending batches of at most `batch` events (1: one dispatch
    /// per event).
    pub fn new(batch: usize) -> Queue {
        Queue {
            batch: batch.clamp(1, MAX_BATCH),
            pending: Mutex::new(Pending::default()),
            sending: tokio::sync::Mutex::new(()),
        }
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
    /// (or until it was taken back after [`WAIT`]). `sender` makes the
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
            if let Ok(guard) = self.sending.try_lock() {
                self.send_one_batch(&sender).await;
                drop(guard);
            }
            tokio::select! {
                r = &mut rx => return r.unwrap_or_else(|_| Err(lost())),
                // Keep what was waited for: handing the lock on and trying
                // for it again would pass it from waiter to waiter forever.
                guard = self.sending.lock() => {
                    self.send_one_batch(&sender).await;
                    drop(guard);
                }
                () = tokio::time::sleep_until(deadline) => {
                    if self.pending().withdraw(&customer, id) {
                        return Err(Answer::busy(
                            503,
                            "queued_too_long",
                            "the relay's dispatches are at GitHub's write limit; nothing was sent, try again",
                            30,
                        ));
                    }
                    // In a batch being sent: its answer comes.
                    return rx.await.unwrap_or_else(|_| Err(lost()));
                }
            }
        }
    }

    /// Waits [`LINGER`] unless a batch is full, takes one, and sends it in a
    /// task of its own (awaited: one dispatch at a time).
    async fn send_one_batch<'a>(&self, sender: &impl Fn() -> SenderFuture<'a>) {
        let queued = self.pending().len();
        if queued == 0 {
            return;
        }
        if queued < self.batch {
            tokio::time::sleep(LINGER).await;
        }
        let taken = self.pending().take_fair(self.batch);
        if taken.is_empty() {
            return;
        }
        let send = match sender().await {
            Ok(s) => s,
            Err(a) => {
                for w in taken {
                    let _ = w.done.send(Err(a.clone()));
                }
                return;
            }
        };
        let (event_type, payload) = body(&taken);
        let task = tokio::spawn(async move {
            let result = send(event_type, payload).await;
            for w in taken {
                let _ = w.done.send(result.clone());
            }
        });
        let _ = task.await;
    }
}

/// What makes a [`Sender`] (a client for the manager repo, which may need
/// a token first).
pub type SenderFuture<'a> = Pin<Box<dyn Future<Output = Result<Sender, Answer>> + Send + 'a>>;

/// One event as a plain dispatch; several as a batch.
fn body(taken: &[Waiting]) -> (String, Value) {
    if let [one] = taken {
        return (one.event.event_type.to_string(), one.event.payload.clone());
    }
    let entries: Vec<Value> = taken
        .iter()
        .map(|w| json!({ "event_type": w.event.event_type, "payload": w.event.payload }))
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
        assert!(p.order.is_empty() && p.by_customer.is_empty());
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
        let (t, v) = body(&p.take_fair(5));
        assert_eq!((t.as_str(), v["n"].as_u64()), ("fleetform-plan", Some(1)));
        p.push(event("a", 1), oneshot::channel().0);
        p.push(event("b", 2), oneshot::channel().0);
        let (t, v) = body(&p.take_fair(5));
        assert_eq!(t, EVENT_BATCH);
        assert_eq!(
            v["batch"][1],
            json!({ "event_type": "fleetform-plan", "payload": { "n": 2 } })
        );
        assert_eq!(v.as_object().unwrap().len(), 2);
    }
}

#[cfg(test)]
mod flow {
    use super::*;
    use std::sync::{Arc, Mutex as StdMutex};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_event_leaves_in_a_batch_and_each_caller_learns_it() {
        let queue = Arc::new(Queue::new(8));
        let sent: Arc<StdMutex<Vec<usize>>> = Arc::default();
        let mut tasks = Vec::new();
        for i in 0..100 {
            let (queue, sent) = (queue.clone(), sent.clone());
            tasks.push(tokio::spawn(async move {
                let event = Event {
                    customer: format!("c{}", i % 30),
                    event_type: "fleetform-plan",
                    payload: json!({ "n": i }),
                };
                let sender = || -> SenderFuture<'static> {
                    let sent = sent.clone();
                    Box::pin(async move {
                        let s: Sender = Box::new(move |_t, v: Value| {
                            Box::pin(async move {
                                let n = v["batch"].as_array().map_or(1, Vec::len);
                                sent.lock().unwrap().push(n);
                                tokio::time::sleep(Duration::from_millis(20)).await;
                                Ok(())
                            })
                        });
                        Ok(s)
                    })
                };
                queue.submit(event, sender).await
            }));
        }
        for t in tasks {
            assert!(t.await.unwrap().is_ok());
        }
        let sent = sent.lock().unwrap();
        assert_eq!(sent.iter().sum::<usize>(), 100, "{sent:?}");
        assert!(sent.iter().all(|n| *n <= 8), "{sent:?}");
    }
}
