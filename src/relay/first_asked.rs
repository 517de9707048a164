//! When this relay instance was first asked to send each event: a caller
//! told to come back (`queued_too_long`) brings its first ask back with
//! it, so the queue serves it before every event asked for later
//! (`queue::Event::since`). Remembered for [`FOR`], at most [`MOST`]
//! events; per instance (instances behind a load balancer keep their own).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::events::EventKey;

/// How long a first ask is remembered.
const FOR: Duration = Duration::from_secs(30 * 60);
/// The most first asks remembered.
const MOST: usize = 100_000;

#[derive(Default)]
pub struct FirstAsked {
    seen: Mutex<HashMap<String, Instant>>,
}

impl FirstAsked {
    /// When `key` was first asked for: now, the first time.
    pub fn of(&self, key: &EventKey) -> Instant {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= MOST {
            seen.retain(|_, at| now.duration_since(*at) < FOR);
        }
        if seen.len() >= MOST {
            seen.clear();
        }
        *seen.entry(key.as_str().to_string()).or_insert(now)
    }
}
