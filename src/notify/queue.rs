//! The notifications of one command, delivered in the background: one
//! worker thread per target (one webhook URL, whichever `notify:` entries
//! name it), so targets are posted to in parallel and a target that never
//! answers delays no other. Each target has one budget of failed attempts
//! for the whole command ([`Attempts`]): every notice sent to it shares it,
//! and once it is spent the target gets no more attempts.
//!
//! The command's own work never waits for a post. When it is done,
//! [`Notifier::finish`] waits for what is still in flight, up to one
//! deadline for all of the command's notifications together, then reports
//! every notice that was not delivered (as warnings: a notification never
//! changes the command's output or exit code) and leaves the rest behind.
//!
//! `FLEETFORM_NOTIFY_TIMEOUT_MS` (1–10,000, default 10,000) shortens each
//! attempt and `FLEETFORM_NOTIFY_DEADLINE_SECS` (0–600, default 40) sets the
//! deadline; a bad value is a warning and the default holds.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::deliver::{Attempts, DeliveryError, Target, MAX_TIMEOUT_MS};
use crate::output::Output;

/// How long [`Notifier::finish`] waits for notices in flight.
pub const DEADLINE_SECS: u64 = 40;
const MAX_DEADLINE_SECS: u64 = 600;

/// One notice for one target: who asked for it (shown in warnings), the
/// event and the body.
pub struct Job {
    pub target: String,
    pub url_env: String,
    pub event: &'static str,
    pub body: Vec<u8>,
}

/// What became of a job.
struct Outcome {
    target: String,
    url_env: String,
    event: &'static str,
    result: Result<(), DeliveryError>,
}

/// Jobs queued but not finished, and a signal when that changes.
#[derive(Default)]
struct Pending {
    count: Mutex<usize>,
    changed: Condvar,
}

impl Pending {
    fn add(&self) {
        *lock(&self.count) += 1;
    }

    fn done(&self) {
        let mut n = lock(&self.count);
        *n = n.saturating_sub(1);
        self.changed.notify_all();
    }

    /// Waits until nothing is pending or `until`; true when nothing is.
    fn wait(&self, until: Instant) -> bool {
        let mut n = lock(&self.count);
        while *n > 0 {
            let Some(left) = until.checked_duration_since(Instant::now()) else {
                return false;
            };
            n = match self.changed.wait_timeout(n, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        true
    }
}

/// A lock that a panicked holder does not make unusable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One target's worker: its queue, what was queued, what became of it.
struct Worker {
    url: String,
    tx: Option<mpsc::Sender<Job>>,
    queued: Vec<(String, String, &'static str)>,
    log: Arc<Mutex<Vec<Outcome>>>,
}

/// The notifications of one command.
pub struct Notifier {
    attempts: Attempts,
    net: crate::net::Settings,
    deadline: Duration,
    workers: Mutex<Vec<Worker>>,
    pending: Arc<Pending>,
    stop: Arc<AtomicBool>,
}

impl Notifier {
    pub fn new(attempts: Attempts, deadline: Duration, net: crate::net::Settings) -> Notifier {
        Notifier {
            attempts,
            net,
            deadline,
            workers: Mutex::new(Vec::new()),
            pending: Arc::new(Pending::default()),
            stop: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The defaults, changed by `FLEETFORM_NOTIFY_TIMEOUT_MS` and
    /// `FLEETFORM_NOTIFY_DEADLINE_SECS`; warnings for values that do not
    /// read.
    pub fn from_env(net: crate::net::Settings) -> (Notifier, Vec<String>) {
        let mut warnings = Vec::new();
        let mut attempts = Attempts::default();
        let timeout = setting(
            "FLEETFORM_NOTIFY_TIMEOUT_MS",
            1,
            MAX_TIMEOUT_MS,
            MAX_TIMEOUT_MS,
        );
        attempts.timeout = Duration::from_millis(timeout.unwrap_or_else(|w| {
            warnings.push(w);
            MAX_TIMEOUT_MS
        }));
        let deadline = setting(
            "FLEETFORM_NOTIFY_DEADLINE_SECS",
            0,
            MAX_DEADLINE_SECS,
            DEADLINE_SECS,
        )
        .unwrap_or_else(|w| {
            warnings.push(w);
            DEADLINE_SECS
        });
        (
            Notifier::new(attempts, Duration::from_secs(deadline), net),
            warnings,
        )
    }

    /// Queues `job` for the target at `url`, starting its worker on the
    /// first notice.
    pub fn send(&self, url: &str, job: Job) {
        let mut workers = lock(&self.workers);
        let i = match workers.iter().position(|w| w.url == url) {
            Some(i) => i,
            None => {
                workers.push(self.start(url));
                workers.len() - 1
            }
        };
        let w = &mut workers[i];
        w.queued
            .push((job.target.clone(), job.url_env.clone(), job.event));
        self.pending.add();
        let refused = match &w.tx {
            Some(tx) => tx.send(job).err().map(|e| e.0),
            None => Some(job),
        };
        if let Some(job) = refused {
            lock(&w.log).push(Outcome {
                target: job.target,
                url_env: job.url_env,
                event: job.event,
                result: Err(DeliveryError::Client),
            });
            self.pending.done();
        }
    }

    fn start(&self, url: &str) -> Worker {
        let (tx, rx) = mpsc::channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (u, a, n, l, p, s) = (
            url.to_string(),
            self.attempts.clone(),
            self.net.clone(),
            log.clone(),
            self.pending.clone(),
            self.stop.clone(),
        );
        let spawned = std::thread::Builder::new()
            .name("notify".into())
            .spawn(move || work(&u, &a, &n, rx, &l, &p, &s));
        Worker {
            url: url.to_string(),
            tx: spawned.is_ok().then_some(tx),
            queued: Vec::new(),
            log,
        }
    }

    /// Waits for the notices in flight, up to the deadline, and reports
    /// each one not delivered. Notices sent after this are not waited for.
    pub fn finish(&self, out: &Output) {
        let mut workers: Vec<Worker> = std::mem::take(&mut *lock(&self.workers));
        if workers.is_empty() {
            return;
        }
        for w in &mut workers {
            // Closing the queue lets the worker end after its last job.
            w.tx = None;
        }
        let all_done = self.pending.wait(Instant::now() + self.deadline);
        if !all_done {
            self.stop.store(true, Ordering::SeqCst);
        }
        for w in &workers {
            self.report(w, out);
        }
    }

    /// One target's notices: delivered ones with `--verbose`, failures
    /// one by one, notices its spent budget kept back and notices the
    /// deadline cut off each in one line per `notify:` entry.
    fn report(&self, w: &Worker, out: &Output) {
        let log = lock(&w.log);
        let mut spent: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
        for o in log.iter() {
            let who = format!("notify target `{}` (URL from {})", o.target, o.url_env);
            match &o.result {
                Ok(()) => out.verbose(&format!("notified `{}` of {}", o.target, o.event)),
                Err(DeliveryError::Spent(_)) => spent
                    .entry((o.target.as_str(), o.url_env.as_str()))
                    .or_default()
                    .push(o.event),
                Err(e) => out.note(&format!("warning: {who}: {} not delivered: {e}", o.event)),
            }
        }
        for ((target, url_env), events) in spent {
            out.note(&format!(
                "warning: notify target `{target}` (URL from {url_env}): {} not sent ({}): the target failed all {} attempts it has in one command",
                crate::util::text::count(events.len(), "more notice", "more notices"),
                events.join(", "),
                self.attempts.tries
            ));
        }
        let mut late: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
        for (target, url_env, event) in w.queued.iter().skip(log.len()) {
            late.entry((target, url_env)).or_default().push(event);
        }
        for ((target, url_env), events) in late {
            out.note(&format!(
                "warning: notify target `{target}` (URL from {url_env}): {} not delivered ({}): a command waits at most {} s for its notifications",
                crate::util::text::count(events.len(), "notice", "notices"),
                events.join(", "),
                self.deadline.as_secs()
            ));
        }
    }
}

/// A worker: posts its target's jobs in order on a runtime of its own
/// until the queue closes.
fn work(
    url: &str,
    attempts: &Attempts,
    net: &crate::net::Settings,
    rx: mpsc::Receiver<Job>,
    log: &Mutex<Vec<Outcome>>,
    pending: &Pending,
    stop: &AtomicBool,
) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|_| DeliveryError::Client);
    let mut target = rt.as_ref().map_err(Clone::clone).and_then(|rt| {
        let _inside = rt.enter();
        Target::new(url, attempts, net)
    });
    for job in rx {
        let result = match (&rt, &mut target) {
            (_, Err(e)) => Err(e.clone()),
            (Ok(_), Ok(t)) if t.spent() => Err(DeliveryError::Spent(attempts.tries)),
            (Ok(_), Ok(_)) if stop.load(Ordering::SeqCst) => Err(DeliveryError::Stopped),
            (Ok(rt), Ok(t)) => rt.block_on(t.post(Bytes::from(job.body), stop)),
            (Err(e), Ok(_)) => Err(e.clone()),
        };
        lock(log).push(Outcome {
            target: job.target,
            url_env: job.url_env,
            event: job.event,
            result,
        });
        pending.done();
    }
}

/// A whole number from `min` to `max` in variable `name`, `default` when
/// unset; `Err` is the warning for a value that does not read.
fn setting(name: &str, min: u64, max: u64, default: u64) -> Result<u64, String> {
    let raw = std::env::var_os(name);
    parse_setting(
        name,
        raw.as_deref().map(|v| v.to_string_lossy()).as_deref(),
        min,
        max,
        default,
    )
}

fn parse_setting(
    name: &str,
    value: Option<&str>,
    min: u64,
    max: u64,
    default: u64,
) -> Result<u64, String> {
    let Some(text) = value else {
        return Ok(default);
    };
    match text.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "warning: {name}=`{}` is not a whole number from {min} to {max}; using {default}",
            crate::util::text::shown(text)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead as _, BufReader, Read as _};
    use std::net::TcpListener;

    /// A receiver on 127.0.0.1 that reads every request and never
    /// answers; counts the requests.
    fn silent_receiver() -> (String, Arc<Mutex<usize>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let hits = Arc::new(Mutex::new(0));
        let h = hits.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0;
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    line.clear();
                }
                let mut body = vec![0; length];
                if reader.read_exact(&mut body).is_ok() {
                    *h.lock().unwrap() += 1;
                }
                held.push(stream);
            }
        });
        (url, hits)
    }

    fn job(event: &'static str) -> Job {
        Job {
            target: "pager".into(),
            url_env: "FLEETFORM_PAGER_WEBHOOK".into(),
            event,
            body: b"{}".to_vec(),
        }
    }

    /// Four notices to a target that never answers: three attempts in
    /// all (the first notice's), the other three not sent.
    #[test]
    fn a_target_has_one_budget_for_the_whole_command() {
        let (url, hits) = silent_receiver();
        let attempts = Attempts {
            timeout: Duration::from_millis(100),
            backoff: Duration::from_millis(1),
            ..Attempts::default()
        };
        let n = Notifier::new(
            attempts,
            Duration::from_secs(600),
            crate::net::Settings::from_lookup(|_| None),
        );
        for _ in 0..4 {
            n.send(&url, job("token_expiring"));
        }
        let workers = std::mem::take(&mut *lock(&n.workers));
        assert_eq!(workers.len(), 1);
        let log = workers[0].log.clone();
        drop(workers);
        assert!(n.pending.wait(Instant::now() + Duration::from_secs(600)));
        let results: Vec<_> = lock(&log).iter().map(|o| o.result.clone()).collect();
        assert_eq!(
            results,
            [
                Err(DeliveryError::Unreachable { tries: 3 }),
                Err(DeliveryError::Spent(3)),
                Err(DeliveryError::Spent(3)),
                Err(DeliveryError::Spent(3)),
            ]
        );
        assert_eq!(*hits.lock().unwrap(), 3);
    }

    /// Two commands' notifiers side by side, to the same target: each has
    /// its own network settings, workers and budget (one whose proxy
    /// setting is bad fails there; the other tries the target, once).
    #[test]
    fn two_notifiers_side_by_side_share_nothing() {
        let (url, hits) = silent_receiver();
        let quick = |tries| Attempts {
            tries,
            timeout: Duration::from_millis(100),
            backoff: Duration::from_millis(1),
            ..Attempts::default()
        };
        let bad_proxy = crate::net::Settings::from_lookup(|k| {
            (k == "HTTP_PROXY").then(|| "not a proxy".to_string())
        });
        let no_proxy = crate::net::Settings::from_lookup(|_| None);
        let a = Notifier::new(quick(3), Duration::from_secs(600), bad_proxy);
        let b = Notifier::new(quick(1), Duration::from_secs(600), no_proxy);
        a.send(&url, job("drift_found"));
        b.send(&url, job("drift_found"));
        let outcomes = |n: &Notifier| {
            assert!(n.pending.wait(Instant::now() + Duration::from_secs(600)));
            let workers = lock(&n.workers);
            assert_eq!(workers.len(), 1);
            let results: Vec<_> = lock(&workers[0].log)
                .iter()
                .map(|o| o.result.clone())
                .collect();
            results
        };
        assert!(
            matches!(outcomes(&a)[..], [Err(DeliveryError::Network(_))]),
            "{:?}",
            outcomes(&a)
        );
        assert_eq!(outcomes(&b), [Err(DeliveryError::Unreachable { tries: 1 })]);
        assert_eq!(*hits.lock().unwrap(), 1);
    }

    #[test]
    fn settings_are_range_checked() {
        let p = |v| parse_setting("X", v, 1, 9, 5);
        assert_eq!(p(None), Ok(5));
        assert_eq!(p(Some(" 9 ")), Ok(9));
        for bad in ["0", "10", "-1", "2.5", "", "ten", "99999999999999999999999"] {
            assert_eq!(
                p(Some(bad)),
                Err(format!(
                    "warning: X=`{bad}` is not a whole number from 1 to 9; using 5"
                )),
                "{bad}"
            );
        }
    }
}
