//! When this relay instance was first asked to send each event: a caller
//! told to come back (`queued_too_long`) brings its first ask back with
//! it, so the queue serves it before every event asked for later
//! (`queue::Event::since`), and the event keeps the GitHub time of that
//! first ask (its token's `iat`, `queue::Event::asked_at`), which the
//! manager measures the plan from: asking again never shortens the
//! measure. Remembered for [`FOR`], at most [`MOST`] events; per instance
//! (instances behind a load balancer keep their own).

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
    seen: Mutex<HashMap<String, (Instant, Option<u64>)>>,
}

impl FirstAsked {
    /// When `key` was first asked for (now, the first time), and the
    /// earliest GitHub time it was asked at (`asked_at` of this ask or an
    /// earlier one).
    pub fn of(&self, key: &EventKey, asked_at: Option<u64>) -> (Instant, Option<u64>) {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= MOST {
            seen.retain(|_, at| now.duration_since(at.0) < FOR);
        }
        if seen.len() >= MOST {
            seen.clear();
        }
        let first = seen
            .entry(key.as_str().to_string())
            .or_insert((now, asked_at));
        first.1 = match (first.1, asked_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        *first
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::Subject;

    #[test]
    fn asking_again_keeps_the_first_place_and_the_earliest_time() {
        let subject = Subject {
            repo: "acme/infra".into(),
            sha: "a".repeat(40),
            git_ref: "refs/heads/main".into(),
            pr: None,
            event: "push".into(),
            apply: true,
            run_url: None,
            dispatch_id: "r1-1-x".into(),
            files: Vec::new(),
            comment: None,
        };
        let key = EventKey::of(7, &subject);
        let asked = FirstAsked::default();
        let (since, at) = asked.of(&key, Some(1000));
        assert_eq!(at, Some(1000));
        assert_eq!(asked.of(&key, Some(1300)), (since, Some(1000)));
        assert_eq!(asked.of(&key, None), (since, Some(1000)));
        let other = EventKey::of(8, &subject);
        assert_eq!(asked.of(&other, None).1, None);
        assert_eq!(asked.of(&other, Some(900)).1, Some(900));
    }
}
