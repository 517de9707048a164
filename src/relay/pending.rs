//! The durable queue: with a records store, an event claimed but not yet
//! dispatched survives the relay's crash or restart.
//!
//! Every claim (`relay/events/<repo id>/<sha>/<kind>/claim-<n>`) holds
//! what it takes to dispatch the event (the customer, the event type, the
//! payload, what the caller is told), and is listed in a pending index by
//! the minute it was made: `relay/pending/<minute>/<repo id>/<sha>/<kind>/claim-<n>`
//! (`<minute>`: minutes since 1970, 10 digits), create-only like every
//! record, so a sweep lists a few minutes' claims instead of every event
//! ever claimed.
//!
//! At start the relay also sweeps what is older than that, up to
//! [`OLDEST`], by blocks of a thousand minutes ([`Events::take_over_old`]):
//! a block whose claims are all finished is marked `relay/swept/<block>`
//! and never listed again, so a relay down for days still dispatches what
//! it had queued.
//!
//! A sweep ([`Events::take_over`]) looks at the claims of a window of
//! minutes; one with neither `done` nor a `failed-<m>` (m ≥ n) nor a later
//! claim, with no sign of life for [`super::events::STALE`] (a live
//! instance renews each claim it works on, [`Events::renew`], every
//! [`every`]), was left by an instance that stopped: the
//! sweep writes `claim-<n+1>` with the same event, create-only, and only
//! the instance whose write succeeds dispatches it. The relay sweeps at
//! start (the last [`START_WINDOW`]) and every [`EVERY`] (the last few
//! minutes past the stale time).

use std::time::Duration;

use serde_json::Value;

use super::events::{
    create_claim, last_sign_of_life, minute_prefix, names_under, prefix, stale, EventKey, Events,
    Ticket,
};
use crate::records::{RecordsError, Store};

/// How far back the sweep at start looks.
pub const START_WINDOW: Duration = Duration::from_secs(2 * 3600);
/// How often the relay sweeps after its start (at most; half the stale
/// time when that is shorter).
pub const EVERY: Duration = Duration::from_secs(30);
/// How far back the sweep at start looks past [`START_WINDOW`] (a relay
/// down for days): by blocks of [`BLOCK`] minutes, each marked swept
/// (`relay/swept/<block>`) once everything in it is finished, so a later
/// start skips it.
pub const OLDEST: Duration = Duration::from_secs(30 * 24 * 3600);
/// Minutes per block of the older sweep: a 7-digit prefix of the 10-digit
/// minute.
const BLOCK: u64 = 1000;
/// Claims looked at in one sweep, at most.
const MOST: usize = 10_000;
/// Finished entries remembered.
const REMEMBERED: usize = 100_000;

/// An event taken over from a stopped instance: the won claim and what
/// it holds.
#[derive(Debug)]
pub struct TakenOver {
    pub ticket: Ticket,
    pub event: Value,
}

/// How long between sweeps after the one at start.
pub fn every() -> Duration {
    EVERY.min(stale() / 2).max(Duration::from_secs(1))
}

/// The window of the sweeps after the one at start: claims become stale
/// after [`stale`]; a few minutes more cover a sweep that was late.
pub fn window() -> Duration {
    stale() + Duration::from_secs(180)
}

impl Events {
    /// Takes over the stale, unfinished claims of the last `window` (module
    /// docs). Without a store there is nothing to take over.
    pub async fn take_over(&self, window: Duration) -> Result<Vec<TakenOver>, RecordsError> {
        let Some(store) = self.store.clone() else {
            return Ok(Vec::new());
        };
        let now = super::clock::now_unix();
        let first = now.saturating_sub(window.as_secs()) / 60;
        let mut taken = Vec::new();
        let mut looked = 0;
        for minute in first..=now / 60 {
            let base = format!("{}/", minute_prefix(minute));
            for entry in store.list_async(&base).await? {
                let Some((key, n)) = parse_entry(entry.strip_prefix(&base).unwrap_or("")) else {
                    continue;
                };
                if self.swept().contains(&entry) {
                    continue;
                }
                looked += 1;
                if looked > MOST {
                    return Ok(taken);
                }
                match self.take_over_one(&store, key, n, now).await? {
                    Step::Finished => self.remember_swept(entry),
                    Step::Taken(t) => {
                        self.remember_swept(entry);
                        taken.push(t);
                    }
                    Step::NotYet => {}
                }
            }
        }
        Ok(taken)
    }

    /// Takes over the stale, unfinished claims older than [`START_WINDOW`]
    /// and at most [`OLDEST`] old, block by block, skipping the blocks
    /// a sweep marked finished (module docs): what a relay that was down
    /// for longer than the start window left queued.
    pub async fn take_over_old(&self) -> Result<Vec<TakenOver>, RecordsError> {
        let Some(store) = self.store.clone() else {
            return Ok(Vec::new());
        };
        let now = super::clock::now_unix();
        let first = now.saturating_sub(OLDEST.as_secs()) / 60 / BLOCK;
        // Up to the block of the start window's first minute; only blocks
        // wholly before it are marked (no claim is indexed there again).
        let end = now.saturating_sub(START_WINDOW.as_secs()) / 60 / BLOCK;
        let marked: std::collections::HashSet<String> = store
            .list_async("relay/swept/")
            .await?
            .into_iter()
            .filter_map(|k| k.rsplit('/').next().map(str::to_string))
            .collect();
        let mut taken = Vec::new();
        for block in first..=end {
            let name = format!("{block:07}");
            if marked.contains(&name) {
                continue;
            }
            let mut open = false;
            for entry in store.list_async(&format!("relay/pending/{name}")).await? {
                let rest = entry.strip_prefix("relay/pending/").unwrap_or("");
                let Some((key, n)) = rest.split_once('/').and_then(|(_, r)| parse_entry(r)) else {
                    continue;
                };
                match self.take_over_one(&store, key, n, now).await? {
                    Step::Finished => {}
                    Step::Taken(t) => taken.push(t),
                    Step::NotYet => open = true,
                }
            }
            if !open && block < end {
                let _ = store
                    .create_async(&format!("relay/swept/{name}"), b"{}")
                    .await;
            }
        }
        Ok(taken)
    }

    fn swept(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        self.swept.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn remember_swept(&self, entry: String) {
        let mut swept = self.swept();
        if swept.len() >= REMEMBERED {
            swept.clear();
        }
        swept.insert(entry);
    }

    /// `claim-<n>` of `key`, taken over when it is the event's last step
    /// and stale.
    async fn take_over_one(
        &self,
        store: &Store,
        key: EventKey,
        n: u32,
        now: u64,
    ) -> Result<Step, RecordsError> {
        let prefix = prefix(&key);
        let names = names_under(store, &prefix).await?;
        let number = |p: &str, name: &str| name.strip_prefix(p).and_then(|x| x.parse::<u32>().ok());
        let finished = names.iter().any(|x| {
            x == "done"
                || number("failed-", x).is_some_and(|m| m >= n)
                || number("claim-", x).is_some_and(|m| m > n)
        });
        if finished {
            return Ok(Step::Finished);
        }
        let claim: Value =
            serde_json::from_slice(&store.read_async(&format!("{prefix}/claim-{n}")).await?)
                .unwrap_or(Value::Null);
        let at = last_sign_of_life(&names, n, claim["at"].as_u64().unwrap_or(0));
        let event = claim["event"].clone();
        if !event.is_object() {
            // A claim of an older relay, which kept no event: nothing to send.
            return Ok(Step::Finished);
        }
        if now.saturating_sub(at) < stale().as_secs() {
            return Ok(Step::NotYet);
        }
        match create_claim(store, &key, n + 1, &event).await {
            Ok(()) => {
                self.mark_claimed(&key);
                let ticket = Ticket {
                    key,
                    attempt: n + 1,
                };
                self.hold(&ticket);
                Ok(Step::Taken(TakenOver { ticket, event }))
            }
            // Another instance took it over first.
            Err(RecordsError::Exists { .. }) => Ok(Step::Finished),
            Err(e) => Err(e),
        }
    }
}

/// What a sweep found of one pending entry.
enum Step {
    /// Done, failed, or taken over (by a later claim, here or elsewhere):
    /// never looked at again.
    Finished,
    /// Unfinished but not stale yet: looked at again next sweep.
    NotYet,
    Taken(TakenOver),
}

/// `<repo id>/<sha>/<kind>/claim-<n>` → the event's key and `n`.
fn parse_entry(rest: &str) -> Option<(EventKey, u32)> {
    let (key, claim) = rest.rsplit_once('/')?;
    let n = claim.strip_prefix("claim-")?.parse().ok()?;
    (key.split('/').count() == 3).then(|| (EventKey::from_stored(key), n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::events::index_key;

    #[test]
    fn index_entries_name_the_minute_the_event_and_the_claim() {
        let key = EventKey::from_stored("7/abc/apply");
        let entry = index_key(120 * 60 + 59, &key, 3);
        assert_eq!(entry, "relay/pending/0000000120/7/abc/apply/claim-3");
        let rest = entry.strip_prefix("relay/pending/0000000120/").unwrap();
        let (k, n) = parse_entry(rest).unwrap();
        assert_eq!((k.as_str(), n), ("7/abc/apply", 3));
        assert!(parse_entry("7/abc/claim-1").is_none());
        assert!(parse_entry("7/abc/apply/done").is_none());
    }
}
