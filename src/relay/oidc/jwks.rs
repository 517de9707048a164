//! The issuer's keys (its JWKS), fetched and held so that issuer trouble
//! costs a caller at most [`Timing::answer_within`]:
//!
//! - one fetch at a time, shared by every caller waiting for it: the fetch
//!   runs in a task of its own and callers wait on a `watch` channel, so a
//!   caller that gives up never cancels it;
//! - a failed fetch is remembered for [`Timing::failure_memory`]: callers
//!   that need the issuer in that window get 503 at once, and a fetch that
//!   has run longer than `answer_within` is not waited for at all;
//! - keys past [`Timing::refresh_after`] keep verifying while a refresh runs
//!   in the background (stale while revalidate), also when the refresh
//!   fails: a key the issuer dropped stops verifying once a refresh
//!   succeeds, i.e. within `refresh_after` of the drop plus one fetch;
//! - a `kid` not held fetches the set at most once per
//!   [`Timing::unknown_kid_interval`], so made-up `kid`s cannot make the
//!   relay hammer the issuer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
// Tokio's clock, so the waits are tested with time driven, not read.
use tokio::time::Instant;

use base64::Engine as _;
use serde_json::Value;
use tokio::sync::watch;

use crate::relay::fetch::{get_bounded, FetchError};

/// The variable that shortens [`Timing::refresh_after`] (milliseconds, at
/// least 100). A test knob: the integration tests rotate the fake issuer's
/// keys and must not wait five minutes; a relay in service leaves it unset.
pub const REFRESH_ENV: &str = "FLEETFORM_TEST_JWKS_REFRESH_MS";

/// Attempts per fetch, and the largest JWKS read.
const ATTEMPTS: u32 = 3;
const MAX_BYTES: usize = 256 * 1024;

/// How long things take and are remembered.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// How old held keys may get before a refresh is started (5 minutes).
    pub refresh_after: Duration,
    /// How long a failed fetch is remembered (5 s).
    pub failure_memory: Duration,
    /// The longest a caller waits for a fetch (1.5 s).
    pub answer_within: Duration,
    /// The shortest time between two fetches caused by an unknown `kid`.
    pub unknown_kid_interval: Duration,
    /// One attempt's time limit (5 s).
    pub attempt_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            refresh_after: Duration::from_secs(300),
            failure_memory: Duration::from_secs(5),
            answer_within: Duration::from_millis(1500),
            unknown_kid_interval: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(5),
        }
    }
}

impl Timing {
    /// The defaults, with [`REFRESH_ENV`] applied when it is set.
    pub fn from_env() -> Timing {
        let mut t = Timing::default();
        if let Some(ms) = std::env::var(REFRESH_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            t.refresh_after = Duration::from_millis(ms.max(100));
        }
        t
    }
}

/// Why the issuer's keys could not be had: the caller gets 503.
#[derive(Debug, thiserror::Error)]
#[error(
    "the OIDC issuer's keys could not be fetched from {url}: {why}; try again in a few seconds"
)]
pub struct KeysUnavailable {
    pub url: String,
    pub why: String,
}

/// An RSA public key of the JWKS: modulus and exponent, big-endian.
#[derive(Debug, PartialEq, Eq)]
pub struct RsaKey {
    pub n: Vec<u8>,
    pub e: Vec<u8>,
}

type KeySet = HashMap<String, Arc<RsaKey>>;
/// A fetch's outcome as its waiters see it: `None` while it runs.
type Outcome = Option<Result<(), String>>;

struct Flight {
    started: Instant,
    done: watch::Receiver<Outcome>,
}

#[derive(Default)]
struct State {
    keys: KeySet,
    fetched: Option<Instant>,
    failed: Option<(Instant, String)>,
    unknown_refresh: Option<Instant>,
    flight: Option<Flight>,
}

struct Inner {
    url: String,
    net: crate::net::Settings,
    timing: Timing,
    state: Mutex<State>,
}

/// The issuer's keys, fetched on first use and held.
#[derive(Clone)]
pub struct Jwks {
    inner: Arc<Inner>,
}

/// What a caller does after looking at the held keys.
enum Decision {
    Key(Arc<RsaKey>),
    Unknown,
    Unavailable(String),
    Wait(Instant, watch::Receiver<Outcome>),
}

impl Jwks {
    /// The keys at `url`, fetched with `net`, with [`Timing::from_env`].
    pub fn new(url: String, net: crate::net::Settings) -> Jwks {
        Jwks::with_timing(url, net, Timing::from_env())
    }

    pub fn with_timing(url: String, net: crate::net::Settings, timing: Timing) -> Jwks {
        Jwks {
            inner: Arc::new(Inner {
                url,
                net,
                timing,
                state: Mutex::new(State::default()),
            }),
        }
    }

    fn unavailable(&self, why: String) -> KeysUnavailable {
        KeysUnavailable {
            url: self.inner.url.clone(),
            why,
        }
    }

    /// The key `kid` (`None`: the issuer does not publish it), or why the
    /// keys could not be had, within [`Timing::answer_within`].
    pub async fn key(&self, kid: &str) -> Result<Option<Arc<RsaKey>>, KeysUnavailable> {
        let (started, mut done) = match self.decide(kid) {
            Decision::Key(k) => return Ok(Some(k)),
            Decision::Unknown => return Ok(None),
            Decision::Unavailable(why) => return Err(self.unavailable(why)),
            Decision::Wait(started, done) => (started, done),
        };
        let within = self.inner.timing.answer_within;
        let budget = within.saturating_sub(started.elapsed());
        let outcome = match tokio::time::timeout(budget, done.wait_for(Option::is_some)).await {
            Ok(Ok(seen)) => seen.clone().unwrap_or_else(|| Err("no outcome".into())),
            Ok(Err(_)) => Err("the fetch ended without an outcome".into()),
            Err(_) => Err(format!("no answer within {within:?}")),
        };
        match outcome {
            Ok(()) => Ok(lock(&self.inner.state).keys.get(kid).cloned()),
            Err(why) => Err(self.unavailable(why)),
        }
    }

    fn decide(&self, kid: &str) -> Decision {
        let t = &self.inner.timing;
        let now = Instant::now();
        let mut s = lock(&self.inner.state);
        let fresh = s
            .fetched
            .is_some_and(|at| now.duration_since(at) < t.refresh_after);
        let failing = s
            .failed
            .as_ref()
            .filter(|(at, _)| now.duration_since(*at) < t.failure_memory)
            .map(|(_, why)| why.clone());
        if let Some(k) = s.keys.get(kid).cloned() {
            if !fresh && failing.is_none() {
                // Refreshed in the background; this caller does not wait.
                self.flight(&mut s, now);
            }
            return Decision::Key(k);
        }
        let asked_lately = s
            .unknown_refresh
            .is_some_and(|at| now.duration_since(at) < t.unknown_kid_interval);
        if !s.keys.is_empty() && asked_lately {
            return Decision::Unknown;
        }
        if let Some(why) = failing {
            return Decision::Unavailable(format!("{why} (a few seconds ago)"));
        }
        if !s.keys.is_empty() {
            s.unknown_refresh = Some(now);
        }
        let (started, done) = self.flight(&mut s, now);
        if now.duration_since(started) >= t.answer_within {
            return Decision::Unavailable(format!(
                "a fetch has had no answer for {:?}",
                now.duration_since(started)
            ));
        }
        Decision::Wait(started, done)
    }

    /// The fetch under way, or a new one started in a task of its own.
    fn flight(&self, s: &mut State, now: Instant) -> (Instant, watch::Receiver<Outcome>) {
        if let Some(f) = &s.flight {
            return (f.started, f.done.clone());
        }
        let (tx, rx) = watch::channel(None);
        s.flight = Some(Flight {
            started: now,
            done: rx.clone(),
        });
        let inner = self.inner.clone();
        tokio::spawn(async move {
            let result = fetch(&inner.net, &inner.url, &inner.timing).await;
            let mut s = lock(&inner.state);
            let outcome = match result {
                Ok(keys) => {
                    s.keys = keys;
                    s.fetched = Some(Instant::now());
                    s.failed = None;
                    Ok(())
                }
                Err(why) => {
                    s.failed = Some((Instant::now(), why.clone()));
                    Err(why)
                }
            };
            let _ = tx.send(Some(outcome));
            s.flight = None;
        });
        (now, rx)
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The JWKS at `url`, with a bounded number of attempts.
async fn fetch(net: &crate::net::Settings, url: &str, t: &Timing) -> Result<KeySet, String> {
    let mut last = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
        }
        match get_bounded(net, url, MAX_BYTES, t.attempt_timeout).await {
            Ok(body) => return parse_jwks(&body),
            Err(FetchError::Status(s)) if s < 500 && s != 429 => {
                return Err(format!("the issuer answered {s}"))
            }
            Err(e) => last = e.to_string(),
        }
    }
    Err(format!("{ATTEMPTS} attempts failed; the last: {last}"))
}

/// The RSA signing keys of a JWKS document, by `kid`.
pub fn parse_jwks(body: &[u8]) -> Result<KeySet, String> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|_| "the JWKS is not JSON".to_string())?;
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("the JWKS has no `keys` list")?;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut out = HashMap::new();
    for k in keys.iter().take(100) {
        let field = |name: &str| k.get(name).and_then(Value::as_str);
        let usable = field("kty") == Some("RSA")
            && field("use").is_none_or(|u| u == "sig")
            && field("alg").is_none_or(|a| a == "RS256");
        let (Some(kid), Some(n), Some(e)) = (field("kid"), field("n"), field("e")) else {
            continue;
        };
        if !usable {
            continue;
        }
        if let (Ok(n), Ok(e)) = (b64.decode(n), b64.decode(e)) {
            out.insert(kid.to_string(), Arc::new(RsaKey { n, e }));
        }
    }
    if out.is_empty() {
        return Err("the JWKS holds no RSA signing key".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An issuer whose connection is accepted and never answered: each
    /// caller is answered within `answer_within` of the fetch's start
    /// (1.5 s of driven time; the fetch's own attempt runs 5 s), and a
    /// caller arriving once that has passed is not kept at all. No clock
    /// is read: tokio's time is paused and moves only when every task
    /// waits.
    #[tokio::test(start_paused = true)]
    async fn a_hanging_issuer_costs_a_caller_at_most_answer_within() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/.well-known/jwks", listener.local_addr().unwrap());
        let held = tokio::spawn(async move {
            let mut kept = Vec::new();
            loop {
                let (conn, _) = listener.accept().await.unwrap();
                kept.push(conn);
            }
        });
        let net = crate::net::Settings::from_lookup(|_| None);
        let jwks = Jwks::with_timing(url, net, Timing::default());
        let start = Instant::now();
        let first = jwks.key("k").await.unwrap_err();
        assert_eq!(start.elapsed(), Duration::from_millis(1500), "{first}");
        assert!(first.why.contains("no answer within"), "{first}");
        // The fetch still runs: the next caller is told at once.
        let again = Instant::now();
        let second = jwks.key("k").await.unwrap_err();
        assert_eq!(again.elapsed(), Duration::ZERO, "{second}");
        assert!(second.why.contains("a fetch has had no answer"), "{second}");
        held.abort();
    }
}
