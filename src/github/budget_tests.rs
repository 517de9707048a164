//! The scheduler's tests: its ledger of GitHub's limits, and the waits
//! and refusals of the scheduled client (kept apart from `budget.rs`).

use super::*;

#[test]
fn a_limit_answer_without_retry_after_waits_a_minute_doubling() {
    let mins: Vec<u64> = (1..=8).map(|a| secondary_wait(a).as_secs() / 60).collect();
    assert_eq!(mins, [1, 2, 4, 8, 16, 32, 64, 64]);
    assert_eq!(secondary_wait(0), SECONDARY_WAIT);
}

fn small() -> Limits {
    Limits {
        points_per_minute: 20,
        writes_per_minute: 3,
        writes_per_hour: 5,
        concurrency: 2,
    }
}

/// The time `n` more writes need: within the minute's writes at once,
/// then a minute per minute's worth, then the hour; nothing booked.
#[test]
fn the_time_for_writes_follows_the_minute_and_the_hour() {
    let l = Ledger::new(small());
    assert_eq!(l.time_for_writes(3, 0), 0);
    assert_eq!(l.time_for_writes(4, 0), MINUTE_MS);
    assert_eq!(l.time_for_writes(5, 0), MINUTE_MS);
    assert_eq!(l.time_for_writes(6, 0), HOUR_MS);
    assert_eq!(l.writes_sent, 0);
    let mut sent = Ledger::new(small());
    for _ in 0..3 {
        assert!(matches!(sent.reserve(true, 0), Slot::Go));
    }
    assert_eq!(sent.time_for_writes(1, 1_000), MINUTE_MS - 1_000);
}

#[test]
fn points_booked_apart_from_writes_fill_the_minute_and_free_with_it() {
    let mut l = Ledger::new(small());
    for _ in 0..3 {
        assert!(matches!(l.reserve_points(6, 1_000), Slot::Go));
    }
    // 18 of 20 points: a fourth mint waits until the first leaves.
    let Slot::Wait { ms, what } = l.reserve_points(6, 2_000) else {
        panic!("over the minute's points")
    };
    assert_eq!((ms, what), (MINUTE_MS - 1_000, "points per minute"));
    assert!(matches!(l.reserve_points(6, 1_000 + MINUTE_MS), Slot::Go));
    // Not content writes: none was counted.
    assert_eq!(l.writes_sent, 0);
}

#[test]
fn a_points_budget_below_a_writes_cost_still_limits_writes() {
    let limits = Limits {
        points_per_minute: 3,
        ..small()
    };
    let mut l = Ledger::new(limits);
    let t0 = 1_000_000;
    assert_eq!(l.reserve(true, t0), Slot::Go);
    let Slot::Wait { what, .. } = l.reserve(true, t0 + 1) else {
        panic!("a second write in the minute is not free");
    };
    assert_eq!(what, "points per minute");
}

#[test]
fn writes_per_minute_and_hour_are_spread_not_exceeded() {
    let mut l = Ledger::new(small());
    let t0 = 1_000_000;
    for i in 0..3 {
        assert_eq!(l.reserve(true, t0 + i), Slot::Go);
    }
    // The 4th write in the minute waits until the first leaves it.
    assert_eq!(
        l.reserve(true, t0 + 10),
        Slot::Wait {
            ms: MINUTE_MS - 10,
            what: "content writes per minute"
        }
    );
    // Reads still go (points: 15 of 20 used).
    assert_eq!(l.reserve(false, t0 + 10), Slot::Go);
    assert_eq!(l.reserve(true, t0 + MINUTE_MS), Slot::Go);
    assert_eq!(l.reserve(true, t0 + MINUTE_MS + 1), Slot::Go);
    // 5 writes in the hour: the 6th waits for the hour of the first.
    let Slot::Wait { ms, what } = l.reserve(true, t0 + 2 * MINUTE_MS) else {
        panic!("the hour's budget is spent");
    };
    assert_eq!(what, "content writes per hour");
    assert_eq!(ms, HOUR_MS - 2 * MINUTE_MS);
    assert_eq!(l.reserve(true, t0 + HOUR_MS), Slot::Go);
    assert_eq!(l.writes_sent, 6);
    // A later run counts the writes still in its hour (3 of them):
    // 2 more fit, the 3rd waits.
    let now = t0 + HOUR_MS + 10;
    let earlier = l.writes_of_the_hour(now);
    assert_eq!(earlier.len(), 3);
    let mut next = Ledger::new(Limits {
        writes_per_minute: 80,
        points_per_minute: 900,
        ..small()
    });
    next.add_earlier_writes(earlier, now);
    assert_eq!(next.reserve(true, now), Slot::Go);
    assert_eq!(next.reserve(true, now + 1), Slot::Go);
    let third = next.reserve(true, now + 2);
    assert!(
        matches!(
            third,
            Slot::Wait {
                what: "content writes per hour",
                ..
            }
        ),
        "{third:?}"
    );
}

#[test]
fn a_full_window_frees_only_a_margin_past_its_length() {
    let mut l = Ledger::new(small());
    let t0 = 2_000_000;
    for i in 0..3 {
        assert_eq!(l.reserve(true, t0 + i), Slot::Go);
    }
    // A minute on: a 4th write sent now could arrive within the
    // minute of the 1st at GitHub, had the 1st been slower in transit.
    let Slot::Wait { ms, what } = l.reserve(true, t0 + 60_000) else {
        panic!("a write exactly a minute later goes");
    };
    assert_eq!((ms, what), (SLACK_MS, "content writes per minute"));
    assert_eq!(l.reserve(true, t0 + 60_000 + SLACK_MS), Slot::Go);
}

#[test]
fn points_per_minute_count_writes_as_five() {
    let mut l = Ledger::new(Limits {
        writes_per_minute: 80,
        writes_per_hour: 500,
        ..small()
    });
    let t0 = 5_000_000;
    for i in 0..4 {
        assert_eq!(l.reserve(true, t0 + i), Slot::Go);
    }
    // 20 points used: even a read waits until the first write's
    // points leave the minute.
    assert_eq!(
        l.reserve(false, t0 + 100),
        Slot::Wait {
            ms: MINUTE_MS - 100,
            what: "points per minute"
        }
    );
    assert_eq!(l.reserve(false, t0 + MINUTE_MS), Slot::Go);
}

#[test]
fn primary_limit_and_secondary_answers_hold_every_request() {
    let mut l = Ledger::new(Limits::default());
    let now = 1_700_000_000_000;
    l.answered(Some("1"), Some(1_700_000_100));
    assert_eq!(l.reserve(false, now), Slot::Go);
    // The last request of the hour was sent: wait for the reset.
    assert_eq!(
        l.reserve(false, now + 1),
        Slot::Wait {
            ms: 99_999,
            what: "the primary rate limit (x-ratelimit-reset)"
        }
    );
    assert_eq!(l.reserve(false, 1_700_000_100_000), Slot::Go);
    l.answered(Some("4999"), Some(1_700_003_600));
    l.hold(now + 200_000, Duration::from_secs(30));
    assert!(matches!(
        l.reserve(false, now + 229_999),
        Slot::Wait { ms: 1, .. }
    ));
    assert_eq!(l.reserve(true, now + 230_000), Slot::Go);
}

#[test]
fn waits_past_the_longest_wait_or_the_deadline_are_deferred() {
    let mut p = Patience::new(Duration::from_secs(90));
    assert!(p.check(("POST", "/x"), "w", 60_000).is_ok());
    let e = p.check(("POST", "/x"), "w", 90_001).unwrap_err();
    assert!(matches!(e, GitHubError::Deferred { limit: "w", .. }), "{e}");
    p.deadline = Some(now_ms() + 30_000);
    assert!(p.check(("POST", "/x"), "w", 1_000).is_ok());
    assert!(p.check(("POST", "/x"), "w", 60_000).is_err());
}

use crate::github::Limits;
use http_body_util::Full;
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use tower::{Layer as _, Service as _, ServiceExt as _};

fn layer(limits: Limits, max_wait: Duration) -> ScheduleLayer {
    ScheduleLayer {
        ledger: Arc::new(Mutex::new(Ledger::new(limits))),
        slots: Arc::new(Semaphore::new(limits.concurrency)),
        queued: Arc::default(),
        patience: Patience::new(max_wait),
        unscheduled: false,
    }
}

/// Answers every request at once, with an empty body.
#[derive(Clone)]
struct Answers;

impl tower::Service<http::Request<()>> for Answers {
    type Response = http::Response<Full<bytes::Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<()>) -> Self::Future {
        std::future::ready(Ok(http::Response::new(Full::default())))
    }
}

fn post(path: &str) -> http::Request<()> {
    let mut r = http::Request::post("https://api.github.com/x")
        .body(())
        .unwrap();
    r.extensions_mut().insert(ApiPath(path.into()));
    r
}

#[tokio::test]
async fn a_body_holds_its_slot_and_the_next_request_queues_until_it_is_dropped() {
    let one = Limits {
        concurrency: 1,
        ..Limits::default()
    };
    let state = layer(one, Duration::from_secs(60));
    let mut svc = state.clone().layer(Answers);
    let first = svc.ready().await.unwrap().call(post("/a")).await.unwrap();
    let second = tokio::spawn(svc.clone().oneshot(post("/b")));
    while state.queued.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    assert!(!second.is_finished());
    drop(first);
    second.await.unwrap().unwrap();
    assert_eq!(state.queued.load(Ordering::SeqCst), 0);
    assert_eq!(lock(&state.ledger).writes_sent, 2);
}

#[tokio::test]
async fn a_wait_past_the_patience_is_refused_as_deferred_and_not_sent() {
    let one_write = Limits {
        writes_per_minute: 1,
        ..Limits::default()
    };
    let mut svc = layer(one_write, Duration::ZERO).layer(Answers);
    svc.ready().await.unwrap().call(post("/a")).await.unwrap();
    let e = svc
        .ready()
        .await
        .unwrap()
        .call(post("/b"))
        .await
        .unwrap_err();
    let refused = e.downcast::<Refused>().unwrap();
    assert!(
        matches!(&refused.0, GitHubError::Deferred { method: "POST", path, .. } if path == "/b"),
        "{refused}"
    );
}

/// A request of octocrab's typed API (no [`ApiPath`]) under a GHES
/// root is named by its call's path, as the client's own requests are,
/// not by its URL's `/api/v3/...`.
#[tokio::test]
async fn a_typed_request_is_named_by_its_calls_path() {
    let one_write = Limits {
        writes_per_minute: 1,
        ..Limits::default()
    };
    let mut svc = layer(one_write, Duration::ZERO).layer(Answers);
    svc.ready().await.unwrap().call(post("/a")).await.unwrap();
    let typed = http::Request::post("https://ghe.example/api/v3/app/installations/1/access_tokens")
        .body(())
        .unwrap();
    let call = svc.ready().await.unwrap().call(typed);
    let e = TYPED_PATH
        .scope("/app/installations/1/access_tokens".into(), call)
        .await
        .unwrap_err();
    let refused = e.downcast::<Refused>().unwrap();
    assert!(
        matches!(&refused.0, GitHubError::Deferred { path, .. } if path == "/app/installations/1/access_tokens"),
        "{refused}"
    );
}
