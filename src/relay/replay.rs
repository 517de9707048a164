//! What the relay has handled, so that a replay is not handled again: the
//! OIDC tokens used at `/dispatch` (by a digest of the issuer and the
//! token's `jti`) and the webhook deliveries (by a digest of the signed
//! body, and by the `X-GitHub-Delivery` id, which the signature does not
//! cover: a body sent again under a new id is still the same delivery).
//!
//! Each mark lasts as long as it can matter: a token's until its own `exp`
//! (a token past it is refused as expired before it is looked up), a
//! delivery's [`DELIVERY_KEPT`] (GitHub redelivers deliveries of the last
//! few days). In memory the marks past their time are dropped first when
//! the memory is full. With an S3 records store (where the event claims
//! live, `events`), every mark is also a create-only record there, so a
//! restart or another instance sharing the bucket still refuses the replay:
//! `relay/seen/<kind>/<digest>/use-<n>`, and `free-<n>` when the request it
//! marked was not carried out (it may then be sent again).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;

use super::events::{names_under, newest};
use super::Answer;
use crate::records::{RecordsError, Store};

/// How many marks are kept in memory.
pub const REMEMBERED: usize = 100_000;
/// How long a webhook delivery is remembered: GitHub redelivers the
/// deliveries of the last 3 days (7 on GitHub Enterprise Server).
pub const DELIVERY_KEPT: Duration = Duration::from_secs(8 * 24 * 3600);

/// What a mark is of (a folder of its own in the store).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An OIDC token used at `/dispatch`.
    Token,
    /// A webhook delivery's signed body.
    Body,
    /// A webhook delivery's `X-GitHub-Delivery` id.
    Delivery,
}

impl Kind {
    fn folder(self) -> &'static str {
        match self {
            Kind::Token => "token",
            Kind::Body => "body",
            Kind::Delivery => "delivery",
        }
    }
}

/// A first use, to be released when the request was not carried out.
#[derive(Debug)]
pub struct Mark {
    key: String,
    /// The store's use number (None: in memory only).
    n: Option<u32>,
}

/// The marks in memory: until when each holds (Unix seconds), oldest
/// first.
struct Memory {
    until: HashMap<String, u64>,
    order: VecDeque<String>,
}

impl Memory {
    /// False when `key` is marked and its time has not passed.
    fn insert(&mut self, key: &str, until: u64, now: u64) -> bool {
        if self.until.get(key).is_some_and(|&u| u > now) {
            return false;
        }
        if self.until.len() >= REMEMBERED {
            let Memory { until: map, order } = self;
            map.retain(|_, u| *u > now);
            order.retain(|k| map.contains_key(k));
            while map.len() >= REMEMBERED {
                match order.pop_front() {
                    Some(old) => map.remove(&old),
                    None => break,
                };
            }
        }
        if self.until.insert(key.to_string(), until).is_none() {
            self.order.push_back(key.to_string());
        }
        true
    }

    fn forget(&mut self, key: &str) {
        if self.until.remove(key).is_some() {
            self.order.retain(|k| k != key);
        }
    }
}

/// The marks (module docs).
pub struct Replays {
    store: Option<Store>,
    memory: Mutex<Memory>,
}

/// The digest a mark is kept under: SHA-256 of `parts`, each
/// length-prefixed (no two lists of parts share one).
pub fn digest(parts: &[&[u8]]) -> String {
    let mut all = Vec::new();
    for p in parts {
        all.extend_from_slice(&(p.len() as u64).to_be_bytes());
        all.extend_from_slice(p);
    }
    crate::util::fs::sha256_bytes(&all)
}

impl Replays {
    pub fn new(store: Option<Store>) -> Replays {
        Replays {
            store,
            memory: Mutex::new(Memory {
                until: HashMap::new(),
                order: VecDeque::new(),
            }),
        }
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Marks `digest` of `kind` as used until `until` (Unix seconds):
    /// `Some` on its first use, `None` when it was used before (here, or
    /// by any instance sharing the store); 503 when the store cannot
    /// tell.
    pub async fn first(
        &self,
        kind: Kind,
        digest: &str,
        until: u64,
    ) -> Result<Option<Mark>, Answer> {
        let key = format!("{}/{digest}", kind.folder());
        let now = crate::util::now_unix();
        if !self.memory().insert(&key, until, now) {
            return Ok(None);
        }
        let Some(store) = self.store.as_ref() else {
            return Ok(Some(Mark { key, n: None }));
        };
        match first_in_store(store, &key, until).await {
            Ok(Some(n)) => Ok(Some(Mark { key, n: Some(n) })),
            // Used elsewhere: remembered here as used.
            Ok(None) => Ok(None),
            Err(e) => {
                self.memory().forget(&key);
                Err(Answer::busy(
                    503,
                    "records_unavailable",
                    format!("the relay could not check the records store for a replay ({e}); nothing was done"),
                    5,
                ))
            }
        }
    }

    /// Frees a mark whose request was not carried out: it may be sent
    /// again. A free that cannot be written leaves it used (refused as a
    /// replay), never the other way round.
    pub async fn release(&self, mark: Mark) {
        self.memory().forget(&mark.key);
        if let (Some(store), Some(n)) = (self.store.as_ref(), mark.n) {
            let at = json!({ "at": crate::util::now_unix() }).to_string();
            let _ = store
                .create_async(&format!("{}/free-{n}", prefix(&mark.key)), at.as_bytes())
                .await;
        }
    }
}

fn prefix(key: &str) -> String {
    format!("relay/seen/{key}")
}

/// The store's protocol: the newest `use-<n>` without `free-<n>` → used;
/// otherwise a new `use-<n+1>`, create-only (losing the race to another
/// instance → used).
async fn first_in_store(store: &Store, key: &str, until: u64) -> Result<Option<u32>, RecordsError> {
    let prefix = prefix(key);
    let names = names_under(store, &prefix).await?;
    let next = match newest(&names, "use-") {
        None => 0,
        Some(n) if names.iter().any(|x| *x == format!("free-{n}")) => n + 1,
        Some(_) => return Ok(None),
    };
    let body = json!({ "at": crate::util::now_unix(), "until": until }).to_string();
    match store
        .create_async(&format!("{prefix}/use-{next}"), body.as_bytes())
        .await
    {
        Ok(()) => Ok(Some(next)),
        Err(RecordsError::Exists { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_mark_holds_until_its_time_or_its_release() {
        let r = Replays::new(None);
        let now = crate::util::now_unix();
        let m = r.first(Kind::Token, "a", now + 60).await.unwrap();
        assert!(m.is_some());
        assert!(r.first(Kind::Token, "a", now + 60).await.unwrap().is_none());
        // Another kind is another mark.
        assert!(r.first(Kind::Body, "a", now + 60).await.unwrap().is_some());
        r.release(m.unwrap()).await;
        assert!(r.first(Kind::Token, "a", now + 60).await.unwrap().is_some());
        // A mark past its time is no longer one.
        assert!(r.first(Kind::Token, "b", now - 1).await.unwrap().is_some());
        assert!(r.first(Kind::Token, "b", now + 60).await.unwrap().is_some());
    }

    #[test]
    fn a_full_memory_drops_the_marks_past_their_time_first() {
        let mut m = Memory {
            until: HashMap::new(),
            order: VecDeque::new(),
        };
        for i in 0..REMEMBERED {
            // The first one holds long, every other one is past.
            let until = if i == 0 { 1_000 } else { 50 };
            assert!(m.insert(&i.to_string(), until, 10));
        }
        assert!(m.insert("new", 1_000, 100));
        assert!(!m.insert("0", 1_000, 100), "the oldest live mark was kept");
        assert_eq!(m.until.len(), 2);
    }

    #[test]
    fn digests_do_not_run_parts_together() {
        assert_ne!(digest(&[b"ab", b"c"]), digest(&[b"a", b"bc"]));
    }
}
