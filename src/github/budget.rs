//! The request scheduler: every request of a client (one client per
//! credential: a token, or one App installation's token) waits here for a
//! slot that keeps it inside GitHub's documented limits, instead of being
//! sent and throttled ("Rate limits for the REST API"):
//!
//! - the primary limit, from the `x-ratelimit-remaining` / `-reset` headers
//!   of the answers: at 0 left, requests wait for the reset;
//! - points per minute (900; a read costs 1, a write 5);
//! - content-creating writes per minute (80) and per hour (500);
//! - concurrent requests (100);
//! - a secondary-limit answer (`retry-after`, or 60 s when GitHub gives
//!   none) holds every request of the client until it has passed.
//!
//! A wait longer than the client's longest wait (`FLEETFORM_RETRY_MAX_WAIT_SECS`,
//! 90 s by default) or past the command's deadline is not waited: the
//! request fails with [`GitHubError::Deferred`], so a command can stop
//! cleanly or carry the write over to its next run. The numbers can be
//! changed, 1 to 1,000,000 (tests, a token shared with other tools, a
//! GitHub Enterprise Server with its own limits):
//! `FLEETFORM_GITHUB_POINTS_PER_MINUTE`, `FLEETFORM_GITHUB_WRITES_PER_MINUTE`,
//! `FLEETFORM_GITHUB_WRITES_PER_HOUR`, `FLEETFORM_GITHUB_CONCURRENCY`.
//!
//! The bookkeeping ([`Ledger`]) takes the time as an argument, so it is
//! tested with a made-up clock; the client sleeps.
//!
//! # As a layer
//!
//! The scheduler as a layer: each request
//! waits for one of the client's concurrent slots and for a slot within
//! GitHub's primary and secondary limits, and holds the concurrent slot
//! until its answer's body is dropped (read to the end or given up). A
//! wait past the client's patience is not waited: the request fails with
//! [`GitHubError::Deferred`] without being sent. An unscheduled client
//! (`FLEETFORM_GITHUB_SCHEDULER=off`, measurements only) passes requests
//! through.

use super::error::GitHubError;
use super::root::{self, SettingError};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A request is booked when it gets its slot and counted by GitHub when
/// it arrives; time in transit varies (the first request of a run also
/// connects), so two requests a window apart here can arrive less than a
/// window apart there. Windows are taken this much longer: the bench
/// (bench/results.md, case 11) met limit answers at the minute without.
const SLACK_MS: u64 = 2_000;
const MINUTE_MS: u64 = 60_000 + SLACK_MS;
/// The largest value a limit's variable takes.
pub const MAX_SETTING: u64 = 1_000_000;
const HOUR_MS: u64 = 3_600_000 + SLACK_MS;
/// GitHub: "wait for at least one minute before retrying" a secondary
/// limit answer that has no `retry-after`.
pub const SECONDARY_WAIT: Duration = Duration::from_secs(60);

/// The wait before the `attempt`th retry (from 1) of a limit answer with
/// neither `retry-after` nor `x-ratelimit-remaining: 0`: GitHub's "at
/// least one minute", doubling while the limit answers go on ("wait an
/// exponentially increasing amount of time between retries"), at most 64
/// minutes.
pub fn secondary_wait(attempt: u32) -> Duration {
    SECONDARY_WAIT * 2u32.pow(attempt.saturating_sub(1).min(6))
}

/// One request counted while it waits for a slot under the concurrency
/// cap ([`super::GitHub::queued_for_a_slot`]), also when its future is
/// dropped while waiting.
pub(super) struct Queued<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'a> Queued<'a> {
    pub(super) fn enter(n: &'a std::sync::atomic::AtomicUsize) -> Queued<'a> {
        n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Queued(n)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The limits scheduled against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub points_per_minute: u64,
    pub writes_per_minute: u64,
    pub writes_per_hour: u64,
    pub concurrency: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            points_per_minute: 900,
            writes_per_minute: 80,
            writes_per_hour: 500,
            concurrency: 100,
        }
    }
}

impl Limits {
    /// GitHub's numbers, each changed by its variable (a value out of
    /// range is an error). Up to [`MAX_SETTING`]: a GitHub Enterprise
    /// Server sets its own limits (or none).
    pub fn from_env() -> Result<Limits, SettingError> {
        let d = Limits::default();
        let get = |var, default: u64| {
            root::env_number(var, 1..=MAX_SETTING).map(|v| v.unwrap_or(default))
        };
        Ok(Limits {
            points_per_minute: get("FLEETFORM_GITHUB_POINTS_PER_MINUTE", d.points_per_minute)?,
            writes_per_minute: get("FLEETFORM_GITHUB_WRITES_PER_MINUTE", d.writes_per_minute)?,
            writes_per_hour: get("FLEETFORM_GITHUB_WRITES_PER_HOUR", d.writes_per_hour)?,
            concurrency: get("FLEETFORM_GITHUB_CONCURRENCY", 100)? as usize,
        })
    }
}

/// What the ledger says to a request asking for a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Send now (the request is booked).
    Go,
    /// Ask again after this long; `what` names the limit.
    Wait { ms: u64, what: &'static str },
}

/// What has been sent, in epoch milliseconds, and what GitHub said.
#[derive(Debug, Default, Clone)]
pub struct Ledger {
    limits: Limits,
    /// (time, points) of the last minute's requests.
    points: VecDeque<(u64, u64)>,
    /// Times of the last hour's writes.
    writes: VecDeque<u64>,
    /// Primary limit: requests left and when it resets (epoch ms), as
    /// last answered, less what was sent since.
    remaining: Option<u64>,
    reset_ms: u64,
    /// No request before this (a secondary-limit answer).
    hold_until: u64,
    /// Writes sent (for reports).
    pub writes_sent: u64,
}

impl Ledger {
    pub fn new(limits: Limits) -> Ledger {
        Ledger {
            limits,
            ..Ledger::default()
        }
    }

    /// A slot for a read or a write at `now` (epoch ms).
    pub fn reserve(&mut self, write: bool, now: u64) -> Slot {
        while self
            .points
            .front()
            .is_some_and(|(t, _)| t + MINUTE_MS <= now)
        {
            self.points.pop_front();
        }
        while self.writes.front().is_some_and(|t| t + HOUR_MS <= now) {
            self.writes.pop_front();
        }
        if now < self.hold_until {
            return wait(
                self.hold_until - now,
                "a secondary rate limit's retry-after",
            );
        }
        if self.remaining == Some(0) && now < self.reset_ms {
            return wait(
                self.reset_ms - now,
                "the primary rate limit (x-ratelimit-reset)",
            );
        }
        // A budget below a write's 5 points (a setting for tests) takes a
        // write as the whole minute's points, never as free.
        let cost = if write { 5 } else { 1 }.min(self.limits.points_per_minute.max(1));
        let used: u64 = self.points.iter().map(|(_, p)| p).sum();
        if used + cost > self.limits.points_per_minute {
            if let Some(ms) = self.free_after(cost, now) {
                return wait(ms, "points per minute");
            }
        }
        if write {
            let l = &self.limits;
            let in_minute = self.writes.iter().rev();
            let in_minute = in_minute.take_while(|t| *t + MINUTE_MS > now).count() as u64;
            if in_minute >= l.writes_per_minute {
                let nth = self.writes.len() - l.writes_per_minute as usize;
                let t = self.writes.get(nth).copied().unwrap_or(now);
                return wait(t + MINUTE_MS - now, "content writes per minute");
            }
            if self.writes.len() as u64 >= l.writes_per_hour {
                let nth = self.writes.len() - l.writes_per_hour as usize;
                let t = self.writes.get(nth).copied().unwrap_or(now);
                return wait(t + HOUR_MS - now, "content writes per hour");
            }
            self.writes.push_back(now);
            self.writes_sent += 1;
        }
        self.points.push_back((now, cost));
        if let Some(r) = self.remaining.as_mut() {
            *r = r.saturating_sub(1);
        }
        Slot::Go
    }

    /// Books `cost` points of the minute for a request that is not a
    /// content write (an installation token's POST costs 5), or says how
    /// long until they fit.
    pub fn reserve_points(&mut self, cost: u64, now: u64) -> Slot {
        while self
            .points
            .front()
            .is_some_and(|(t, _)| t + MINUTE_MS <= now)
        {
            self.points.pop_front();
        }
        let cost = cost.clamp(1, self.limits.points_per_minute.max(1));
        let used: u64 = self.points.iter().map(|(_, p)| p).sum();
        if used + cost > self.limits.points_per_minute {
            if let Some(ms) = self.free_after(cost, now) {
                return wait(ms, "points per minute");
            }
        }
        self.points.push_back((now, cost));
        Slot::Go
    }

    /// How long until `cost` more points fit in the minute.
    fn free_after(&self, cost: u64, now: u64) -> Option<u64> {
        let mut used: u64 = self.points.iter().map(|(_, p)| p).sum();
        for (t, p) in &self.points {
            used -= p;
            if used + cost <= self.limits.points_per_minute {
                return Some((t + MINUTE_MS).saturating_sub(now).max(1));
            }
        }
        None
    }

    /// What an answer said: `x-ratelimit-remaining` and `-reset` (epoch
    /// seconds).
    pub fn answered(&mut self, remaining: Option<&str>, reset_secs: Option<u64>) {
        if let Some(r) = remaining.and_then(|r| r.trim().parse::<u64>().ok()) {
            self.remaining = Some(r);
        }
        if let Some(s) = reset_secs {
            self.reset_ms = s.saturating_mul(1000);
        }
    }

    /// The times (epoch ms) of the writes of the hour before `now`: what
    /// a later run must count against the same hour's budget.
    pub fn writes_of_the_hour(&self, now: u64) -> Vec<u64> {
        let hour = self.writes.iter().copied();
        hour.filter(|t| t + HOUR_MS > now && *t <= now).collect()
    }

    /// Counts writes an earlier run made (times in epoch ms) against
    /// this hour's budget.
    pub fn add_earlier_writes(&mut self, mut times: Vec<u64>, now: u64) {
        times.retain(|t| t + HOUR_MS > now && *t <= now);
        times.extend(self.writes.drain(..));
        times.sort_unstable();
        self.writes = times.into();
    }

    /// Milliseconds from `now` until `n` more content writes could all
    /// have been sent, one after another as soon as each fits (at most
    /// 10,000 counted: past an hour's writes the hour is the answer's
    /// measure anyway). Nothing is booked.
    pub fn time_for_writes(&self, n: usize, now: u64) -> u64 {
        let mut peek = self.clone();
        let mut t = now;
        for _ in 0..n.min(10_000) {
            while let Slot::Wait { ms, .. } = peek.reserve(true, t) {
                t += ms;
            }
        }
        t - now
    }

    /// A secondary-limit answer: nothing is sent before `now + wait`.
    pub fn hold(&mut self, now: u64, wait: Duration) {
        let until = now.saturating_add(wait.as_millis() as u64);
        self.hold_until = self.hold_until.max(until);
    }
}

fn wait(ms: u64, what: &'static str) -> Slot {
    Slot::Wait {
        ms: ms.max(1),
        what,
    }
}

/// The wall clock in epoch milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// How long a client waits: at most `max_wait` at a time, and never past
/// `deadline` (epoch ms).
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    pub max_wait: Duration,
    pub deadline: Option<u64>,
}

impl Patience {
    pub fn new(max_wait: Duration) -> Patience {
        Patience {
            max_wait,
            deadline: None,
        }
    }

    /// A wait of `ms` for `what` that is too long is
    /// [`GitHubError::Deferred`] for `request` (method, path).
    pub fn check(
        &self,
        request: (&'static str, &str),
        what: &'static str,
        ms: u64,
    ) -> Result<(), GitHubError> {
        let late = self.deadline.is_some_and(|d| now_ms() + ms > d);
        if late || ms > self.max_wait.as_millis() as u64 {
            return Err(GitHubError::Deferred {
                method: request.0,
                path: request.1.to_string(),
                limit: what,
                wait: Duration::from_millis(ms),
            });
        }
        Ok(())
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The API path a request is for (as the client names it in errors),
/// put on the request by the client.
#[derive(Clone, Debug)]
pub(in crate::github) struct ApiPath(pub String);

tokio::task_local! {
    /// The path of a call of octocrab's typed API, whose requests the
    /// client does not build, as the client names it (without a GHES
    /// root's `/api/v3`).
    pub(in crate::github) static TYPED_PATH: String;
}

impl ApiPath {
    /// The path a request is named by: its [`ApiPath`], its typed call's
    /// [`TYPED_PATH`], or else its URL's path.
    pub(in crate::github) fn of(extensions: &http::Extensions, uri: &http::Uri) -> String {
        extensions
            .get::<ApiPath>()
            .map(|p| p.0.clone())
            .or_else(|| TYPED_PATH.try_with(String::clone).ok())
            .unwrap_or_else(|| uri.path().to_string())
    }
}

/// A request the scheduler did not send, and why.
#[derive(Debug)]
pub(in crate::github) struct Refused(pub GitHubError);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Refused {}

/// The scheduler's state, shared with the client (which reads the ledger
/// and the queue).
#[derive(Clone)]
pub(in crate::github) struct ScheduleLayer {
    pub ledger: Arc<Mutex<Ledger>>,
    pub slots: Arc<Semaphore>,
    /// Requests waiting for one of the `slots`.
    pub queued: Arc<AtomicUsize>,
    pub patience: Patience,
    /// Requests pass through without waiting.
    pub unscheduled: bool,
}

impl<S> tower::Layer<S> for ScheduleLayer {
    type Service = Schedule<S>;

    fn layer(&self, inner: S) -> Schedule<S> {
        Schedule {
            inner,
            state: self.clone(),
        }
    }
}

/// The service of [`ScheduleLayer`].
#[derive(Clone)]
pub(in crate::github) struct Schedule<S> {
    inner: S,
    state: ScheduleLayer,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ScheduleLayer {
    /// Waits for a concurrent slot and a slot within the limits; the
    /// permit holds the concurrent one.
    async fn wait(
        &self,
        method: &'static str,
        path: &str,
        write: bool,
    ) -> Result<OwnedSemaphorePermit, GitHubError> {
        let permit = {
            let _queued = Queued::enter(&self.queued);
            self.slots.clone().acquire_owned().await
        }
        .map_err(|_| GitHubError::Setup("the client's request slots are closed".into()))?;
        loop {
            let slot = lock(&self.ledger).reserve(write, now_ms());
            let Slot::Wait { ms, what } = slot else {
                return Ok(permit);
            };
            self.patience.check((method, path), what, ms)?;
            tracing::debug!(method, path, wait_ms = ms, what, "scheduled");
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
    }
}

impl<S, B, R> tower::Service<http::Request<B>> for Schedule<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Send + 'static,
{
    type Response = http::Response<Held<R>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // The ready service goes into the future; a clone stays for the
        // next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let state = self.state.clone();
        Box::pin(async move {
            let permit = if state.unscheduled {
                None
            } else {
                let method = method_name(request.method());
                let path = ApiPath::of(request.extensions(), request.uri());
                let write = request.method() != http::Method::GET;
                Some(
                    state
                        .wait(method, &path, write)
                        .await
                        .map_err(|e| -> BoxError { Box::new(Refused(e)) })?,
                )
            };
            let response = inner.call(request).await.map_err(Into::into)?;
            Ok(response.map(|body| Held {
                body,
                _permit: permit,
            }))
        })
    }
}

fn method_name(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PATCH => "PATCH",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        _ => "request",
    }
}

/// An answer's body that holds its request's concurrent slot until it is
/// dropped.
#[derive(Debug)]
pub(in crate::github) struct Held<B> {
    body: B,
    _permit: Option<OwnedSemaphorePermit>,
}

impl<B: hyper::body::Body + Unpin> hyper::body::Body for Held<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

// The bookkeeping and the layer every request waits in, tested together
// against one made-up clock.
#[cfg(test)]
#[path = "budget_tests.rs"]
mod tests;
