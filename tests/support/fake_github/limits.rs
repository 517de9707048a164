//! GitHub's secondary rate limits, enforced from the start at GitHub's
//! figures ([`Limits::GITHUB`]; a test changes them with
//! [`super::FakeGitHub::enforce_limits`] or lifts them with
//! [`super::FakeGitHub::lift_limits`], saying why): content-creating writes per
//! minute and per hour (an installation token is not one), points per
//! minute per endpoint (a read 1, a write 5), each per token (an App's
//! JWTs count as one), and
//! concurrent requests per token ([`Concurrency`]). A request over a
//! limit is answered as GitHub does: 403, `retry-after` and the
//! secondary-limit message; every such answer is counted.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// The limits enforced (GitHub's: 80, 500, 900).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub writes_per_minute: usize,
    pub writes_per_hour: usize,
    pub points_per_minute: u64,
}

impl Limits {
    /// GitHub's documented secondary limits ("Rate limits for the REST
    /// API"): 80 content-creating requests a minute, 500 an hour, 900
    /// points a minute per endpoint. Every fake GitHub starts with them.
    pub const GITHUB: Limits = Limits {
        writes_per_minute: 80,
        writes_per_hour: 500,
        points_per_minute: 900,
    };
}

/// What was sent, and the limit answers given. GitHub counts its
/// secondary limits per user or App installation, as it does the primary
/// one: here per token, and every App JWT as one account (the App).
#[derive(Debug)]
pub struct Enforcer {
    limits: Limits,
    accounts: HashMap<String, Account>,
    pub answers: usize,
    /// When every admitted write arrived, all accounts together (for
    /// [`Enforcer::busiest_minute`]).
    admitted: Vec<Instant>,
}

/// One account's content writes, and its points per endpoint (GitHub:
/// "no more than 900 points per minute are allowed for REST API
/// endpoints", to a single endpoint).
#[derive(Debug, Default)]
struct Account {
    writes: VecDeque<Instant>,
    points: HashMap<String, VecDeque<(Instant, u64)>>,
}

/// Operations that are not content-creating requests although they are
/// not reads: an installation token (GitHub limits those apart, 2,000 an
/// hour per App; "Rate limits for the REST API").
const NOT_CONTENT: &[&str] = &["apps/create-installation-access-token"];

impl Enforcer {
    pub fn new(limits: Limits) -> Enforcer {
        Enforcer {
            limits,
            accounts: HashMap::new(),
            answers: 0,
            admitted: Vec::new(),
        }
    }

    /// The most writes admitted within any 60 s.
    pub fn busiest_minute(&self) -> usize {
        let minute = Duration::from_secs(60);
        let mut start = 0;
        let mut most = 0;
        for (i, t) in self.admitted.iter().enumerate() {
            while *t - self.admitted[start] >= minute {
                start += 1;
            }
            most = most.max(i + 1 - start);
        }
        most
    }

    /// `Some(retry-after seconds)` when this request (of operation
    /// `operation`, sent with `token`) is over a limit.
    pub fn check(&mut self, method: &str, operation: &str, token: &str) -> Option<u64> {
        let now = Instant::now();
        let minute = Duration::from_secs(60);
        let hour = Duration::from_secs(3600);
        let who = if token.starts_with("eyJ") {
            "app-jwt"
        } else {
            token
        };
        let account = self.accounts.entry(who.to_string()).or_default();
        let points = account.points.entry(operation.to_string()).or_default();
        while points.front().is_some_and(|(t, _)| now - *t >= minute) {
            points.pop_front();
        }
        while account.writes.front().is_some_and(|t| now - *t >= hour) {
            account.writes.pop_front();
        }
        let cost = if method == "GET" { 1 } else { 5 };
        let write = method != "GET" && !NOT_CONTENT.contains(&operation);
        let used: u64 = points.iter().map(|(_, p)| p).sum();
        let in_minute = account.writes.iter().filter(|t| now - **t < minute).count();
        let minute_full = used + cost > self.limits.points_per_minute
            || (write && in_minute >= self.limits.writes_per_minute);
        let over = if minute_full {
            Some(60)
        } else if write && account.writes.len() >= self.limits.writes_per_hour {
            Some(3600)
        } else {
            None
        };
        if over.is_some() {
            self.answers += 1;
            return over;
        }
        points.push_back((now, cost));
        if write {
            account.writes.push_back(now);
            self.admitted.push(now);
        }
        None
    }
}

/// GitHub's primary limit, per token, when a test asks
/// ([`super::FakeGitHub::enforce_primary_limit`]): `limit` requests per
/// `window` (an hour at GitHub, scaled down here), each token its own
/// bucket. Answers carry the token's `x-ratelimit-remaining` counting down
/// and `x-ratelimit-reset`; at 0 a request is answered 403 with both
/// (remaining 0) and GitHub's message, and counted. A 304 is given back.
#[derive(Debug)]
pub struct Primary {
    limit: u64,
    window: Duration,
    /// Token → (when its window started, requests counted).
    buckets: std::collections::HashMap<String, (Instant, u64)>,
    pub answers: usize,
}

impl Primary {
    pub fn new(limit: u64, window: Duration) -> Primary {
        Primary {
            limit,
            window,
            buckets: Default::default(),
            answers: 0,
        }
    }

    fn bucket(&mut self, token: &str) -> &mut (Instant, u64) {
        let now = Instant::now();
        let window = self.window;
        let b = self.buckets.entry(token.to_string()).or_insert((now, 0));
        if now.duration_since(b.0) >= window {
            *b = (now, 0);
        }
        b
    }

    /// Counts a request of `token`; `Err(reset)` when none is left.
    pub fn take(&mut self, token: &str) -> Result<(), u64> {
        let limit = self.limit;
        let b = self.bucket(token);
        if b.1 >= limit {
            let reset = self.reset(token);
            self.answers += 1;
            return Err(reset);
        }
        b.1 += 1;
        Ok(())
    }

    /// A 304: not counted.
    pub fn give_back(&mut self, token: &str) {
        let b = self.bucket(token);
        b.1 = b.1.saturating_sub(1);
    }

    /// `x-ratelimit-limit`, `-remaining`, `-reset` (epoch seconds) for
    /// `token`.
    pub fn headers(&mut self, token: &str) -> [(String, String); 3] {
        let limit = self.limit;
        let used = self.bucket(token).1;
        [
            ("x-ratelimit-limit".into(), limit.to_string()),
            (
                "x-ratelimit-remaining".into(),
                limit.saturating_sub(used).to_string(),
            ),
            ("x-ratelimit-reset".into(), self.reset(token).to_string()),
        ]
    }

    /// The end of `token`'s window, in epoch seconds, rounded up.
    fn reset(&mut self, token: &str) -> u64 {
        let window = self.window;
        let start = self.bucket(token).0;
        let left = (start + window).saturating_duration_since(Instant::now());
        let epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        (epoch + left).as_secs() + 1
    }
}

/// GitHub's concurrency limit (at most 100 requests in flight), per token,
/// when a test asks ([`super::FakeGitHub::enforce_concurrency`]). Each
/// admitted request is held `hold` before it is served (GitHub's latency,
/// so that requests sent together overlap) or until the test releases the
/// held ones; one arriving while `limit` of its token's are in flight is
/// answered as a secondary limit (403, `retry-after`) and counted.
#[derive(Debug)]
pub struct Concurrency {
    limit: usize,
    pub hold: Duration,
    pub retry_after: u64,
    in_flight: std::collections::HashMap<String, usize>,
    /// The most requests of one token seen in flight together.
    pub most: usize,
    pub answers: usize,
    pub released: bool,
}

impl Concurrency {
    pub fn new(limit: usize, hold: Duration, retry_after: u64) -> Concurrency {
        Concurrency {
            limit,
            hold,
            retry_after,
            in_flight: Default::default(),
            most: 0,
            answers: 0,
            released: false,
        }
    }

    /// A request of `token` arrives: `false` (counted) when `limit` of its
    /// requests are already in flight.
    pub fn enter(&mut self, token: &str) -> bool {
        let n = self.in_flight.entry(token.to_string()).or_insert(0);
        if *n >= self.limit {
            self.answers += 1;
            return false;
        }
        *n += 1;
        self.most = self.most.max(*n);
        true
    }

    /// An admitted request of `token` was answered.
    pub fn leave(&mut self, token: &str) {
        if let Some(n) = self.in_flight.get_mut(token) {
            *n = n.saturating_sub(1);
        }
    }

    /// Requests in flight, all tokens together.
    pub fn in_flight(&self) -> usize {
        self.in_flight.values().sum()
    }
}

/// The fake's handler: counts `req` in flight for its token while it is
/// held and served ([`Concurrency`]), or has it answered as over the limit.
pub(super) fn serve_in_flight(inner: &super::Inner, req: super::HttpRequest) -> super::Reply {
    let token = req
        .header("authorization")
        .and_then(super::header_token)
        .unwrap_or_default()
        .to_string();
    let admitted = super::lock(&inner.concurrency)
        .as_mut()
        .map(|c| (c.enter(&token), c.hold, c.retry_after));
    match admitted {
        None => super::serve(inner, req, None),
        Some((false, _, retry_after)) => super::serve(inner, req, Some(retry_after)),
        Some((true, hold, _)) => {
            let end = Instant::now() + hold;
            while Instant::now() < end && !held_released(inner) {
                std::thread::sleep(Duration::from_millis(10));
            }
            let reply = super::serve(inner, req, None);
            if let Some(c) = super::lock(&inner.concurrency).as_mut() {
                c.leave(&token);
            }
            reply
        }
    }
}

fn held_released(inner: &super::Inner) -> bool {
    inner.shutdown.load(std::sync::atomic::Ordering::SeqCst)
        || super::lock(&inner.concurrency)
            .as_ref()
            .is_none_or(|c| c.released)
}

impl super::FakeGitHub {
    /// The most writes [`super::FakeGitHub::enforce_limits`] admitted
    /// within any 60 s since it was last called (0 when not enforcing).
    pub fn busiest_write_minute(&self) -> usize {
        self.state()
            .limits
            .as_ref()
            .map_or(0, Enforcer::busiest_minute)
    }
}
