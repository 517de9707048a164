//! GitHub's secondary rate limits, enforced when a test asks
//! ([`super::FakeGitHub::enforce_limits`]): content-creating writes per
//! minute and per hour, and points per minute (a read 1, a write 5). A
//! request over a limit is answered as GitHub does: 403, `retry-after`
//! and the secondary-limit message; every such answer is counted.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The limits enforced (GitHub's: 80, 500, 900).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub writes_per_minute: usize,
    pub writes_per_hour: usize,
    pub points_per_minute: u64,
}

/// What was sent, and the limit answers given.
#[derive(Debug)]
pub struct Enforcer {
    limits: Limits,
    writes: VecDeque<Instant>,
    points: VecDeque<(Instant, u64)>,
    pub answers: usize,
}

impl Enforcer {
    pub fn new(limits: Limits) -> Enforcer {
        Enforcer {
            limits,
            writes: VecDeque::new(),
            points: VecDeque::new(),
            answers: 0,
        }
    }

    /// `Some(retry-after seconds)` when this request is over a limit.
    pub fn check(&mut self, method: &str) -> Option<u64> {
        let now = Instant::now();
        let minute = Duration::from_secs(60);
        let hour = Duration::from_secs(3600);
        while self.points.front().is_some_and(|(t, _)| now - *t >= minute) {
            self.points.pop_front();
        }
        while self.writes.front().is_some_and(|t| now - *t >= hour) {
            self.writes.pop_front();
        }
        let write = method != "GET";
        let cost = if write { 5 } else { 1 };
        let used: u64 = self.points.iter().map(|(_, p)| p).sum();
        let in_minute = self.writes.iter().filter(|t| now - **t < minute).count();
        let minute_full = used + cost > self.limits.points_per_minute
            || (write && in_minute >= self.limits.writes_per_minute);
        let over = if minute_full {
            Some(60)
        } else if write && self.writes.len() >= self.limits.writes_per_hour {
            Some(3600)
        } else {
            None
        };
        if over.is_some() {
            self.answers += 1;
            return over;
        }
        self.points.push_back((now, cost));
        if write {
            self.writes.push_back(now);
        }
        None
    }
}
