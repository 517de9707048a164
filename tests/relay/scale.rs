//! The relay at fleet scale under GitHub's own limits: many customers'
//! triggers at once, the relay's client at GitHub's default budget (80
//! writes a minute, 500 an hour, 900 points a minute) and the fake GitHub
//! enforcing the same; events leave in batches (`fleetform-batch`), each
//! customer's served in fair order, none lost or doubled.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use fleetform::relay::tokens::TOKEN_TTL;

use crate::relay::serve::{http_from, RelayProc, RelayWorld, CUSTOMER_APP_ID};
use crate::support::fake_github::Limits;
use crate::world::MANAGER;

fn repo(i: usize) -> String {
    format!("fleet/c{i:04}")
}

/// The relay world with `n` more customers, each with a push on `main`,
/// the customer App installed on each, and the manager's batch workflow
/// in its checkout: (world, each customer's repo and commit).
pub fn fleet(n: usize) -> (RelayWorld, Vec<(String, String)>) {
    let rw = RelayWorld::new();
    let mut registry = rw.w.fx.read("manager/customers.yml");
    let mut pushes = Vec::new();
    for i in 1..=n {
        let r = repo(i);
        rw.w.gh.add_repo(&r);
        let sha = rw.w.gh.commit(
            &r,
            "main",
            &[("infra/variables.yml", "project_name: fleet\n")],
        );
        registry.push_str(&format!(
            "\n  - slug: c{i:04}\n    repo: {r}\n    repo_id: {}\n    contact: ops@c{i:04}.test\n    environments: [staging]\n    status: active\n    added: 2026-01-01\n",
            rw.w.gh.repo_id(&r)
        ));
        pushes.push((r, sha));
    }
    // Each customer installs the App on its own account.
    for (i, (r, _)) in pushes.iter().enumerate() {
        rw.w.gh
            .install_app(CUSTOMER_APP_ID, &format!("owner{i}"), &[r.as_str()]);
    }
    rw.w.fx.write("manager/customers.yml", &registry);
    rw.w.gh
        .commit(MANAGER, "main", &[("customers.yml", &registry)]);
    rw.w.fx.write(
        "manager/.github/workflows/manager-batch.yml",
        "# the manager's batch workflow (its presence turns batches on)\n",
    );
    (rw, pushes)
}

/// The relay at GitHub's default budget, with the fake enforcing GitHub's
/// default primary and secondary limits from now on.
pub fn relay_at_githubs_limits(rw: &RelayWorld) -> RelayProc {
    rw.w.gh.enforce_limits(Limits {
        writes_per_minute: 80,
        writes_per_hour: 500,
        points_per_minute: 900,
    });
    // GitHub's primary limit, each installation token its own 5,000 an
    // hour (without it the fake's rate-limit headers count every token's
    // requests together).
    rw.w.gh
        .enforce_primary_limit(5000, Duration::from_secs(3600));
    rw.start_env(64, 10, &[], &[])
}

/// [`relay_at_githubs_limits`] with the relay's variables `env`.
fn relay_at_githubs_limits_with(rw: &RelayWorld, env: &[(&str, &str)]) -> RelayProc {
    rw.w.gh.enforce_limits(Limits {
        writes_per_minute: 80,
        writes_per_hour: 500,
        points_per_minute: 900,
    });
    rw.w.gh
        .enforce_primary_limit(5000, Duration::from_secs(3600));
    rw.start_env(64, 10, &[], env)
}

/// The customer App's installation lookups (`GET
/// /repos/{owner}/{repo}/installation`) and token mints the fake received,
/// customers' repos only.
fn lookups_and_mints(rw: &RelayWorld) -> (usize, usize) {
    let requests = rw.w.gh.requests();
    let lookups = requests
        .iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/repos/fleet/"))
        .filter(|r| r.path.ends_with("/installation"))
        .count();
    let mints = requests
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/access_tokens"))
        .filter(|r| r.body.contains("\"c0"))
        .count();
    (lookups, mints)
}

/// What a burst of triggers came to.
pub struct Burst {
    /// Per caller: status, answer, time to answer.
    pub answers: Vec<(u16, Value, Duration)>,
    /// Per caller: when it first asked, from the burst's start.
    pub asked: Vec<Duration>,
    pub wall: Duration,
}

impl Burst {
    /// The callers answered after one that first asked more than `by`
    /// later: served out of arrival order.
    pub fn overtaken(&self, by: Duration) -> usize {
        let done: Vec<(Duration, Duration)> = self
            .asked
            .iter()
            .zip(&self.answers)
            .map(|(asked, a)| (*asked, *asked + a.2))
            .collect();
        done.iter()
            .filter(|(asked, answered)| {
                done.iter()
                    .any(|(later, theirs)| *later > *asked + by && theirs < answered)
            })
            .count()
    }
}

/// Every push of `pushes` triggered at once, each from its own address.
pub fn burst(rw: &RelayWorld, relay: &RelayProc, pushes: &[(String, String)]) -> Burst {
    let events: Vec<(String, String, Option<u64>)> = pushes
        .iter()
        .map(|(r, sha)| (r.clone(), sha.clone(), None))
        .collect();
    burst_of(rw, relay, &events)
}

/// Each customer's pull request `tag` (a commit on branch `tag`, opened
/// against `main`): (repo, head, Some(number)), for [`burst_of`].
fn pull_requests(
    rw: &RelayWorld,
    pushes: &[(String, String)],
    tag: &str,
) -> Vec<(String, String, Option<u64>)> {
    pushes
        .iter()
        .map(|(r, _)| {
            let file = format!("project_name: fleet-{tag}\n");
            let head = rw.w.gh.commit(r, tag, &[("infra/variables.yml", &file)]);
            let pr = rw.w.gh.open_pr(r, tag, "main", tag);
            (r.clone(), head, Some(pr))
        })
        .collect()
}

/// Every event of `events` (repo, commit, and for a pull request its
/// number) triggered at once, each from its own address.
pub fn burst_of(
    rw: &RelayWorld,
    relay: &RelayProc,
    events: &[(String, String, Option<u64>)],
) -> Burst {
    // As the trigger does: a new OIDC token for every attempt (GitHub's
    // live about five minutes; a caller of a busy relay may wait nine).
    let mint = |r: &str, sha: &str, pr: Option<u64>| {
        let (event, git_ref) = match pr {
            Some(n) => ("pull_request", format!("refs/pull/{n}/merge")),
            None => ("push", "refs/heads/main".to_string()),
        };
        let claims = rw
            .issuer
            .claims(r, rw.w.gh.repo_id(r), event, &git_ref, sha);
        rw.issuer.mint(&claims)
    };
    let barrier = std::sync::Barrier::new(events.len());
    let started = Instant::now();
    let answers = std::thread::scope(|scope| {
        let handles: Vec<_> = events
            .iter()
            .enumerate()
            .map(|(i, (r, sha, pr))| {
                let (url, barrier, mint) = (relay.url.clone(), &barrier, &mint);
                let source = std::net::Ipv4Addr::new(127, 1 + (i / 250) as u8, (i % 250) as u8, 1);
                let first = mint(r, sha, *pr);
                scope.spawn(move || {
                    barrier.wait();
                    let t0 = Instant::now();
                    let asked = t0.duration_since(started);
                    let mut token = first;
                    // A busy answer is asked again after its Retry-After,
                    // within 9 minutes.
                    loop {
                        let body = json!({ "token": token, "pr": pr }).to_string();
                        let (status, answer) =
                            http_from(source, &url, "POST", "/dispatch", &[], body.as_bytes());
                        let wait = answer["retry_after"].as_u64().map(Duration::from_secs);
                        match wait {
                            Some(w)
                                if matches!(status, 429 | 503)
                                    && t0.elapsed() + w < Duration::from_secs(540) =>
                            {
                                std::thread::sleep(w);
                                token = mint(r, sha, *pr);
                            }
                            _ => return ((status, answer, t0.elapsed()), asked),
                        }
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    let (answers, asked) = answers.into_iter().unzip();
    Burst {
        answers,
        asked,
        wall: started.elapsed(),
    }
}

/// The events one dispatch the manager received carries: a batch's
/// entries' payloads, or a plain dispatch's own.
pub fn payloads(d: &Value) -> Vec<Value> {
    match d["event_type"].as_str() {
        Some("fleetform-batch") => d["client_payload"]["batch"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["payload"].clone())
            .collect(),
        _ => vec![d["client_payload"].clone()],
    }
}

/// The one event a dispatch carries, as (event type, payload): a plain
/// dispatch's, or the entry of a batch of one (a lone event the relay
/// timed goes so). Fails the test for a batch of several.
pub fn lone_event(d: &Value) -> (String, Value) {
    match d["event_type"].as_str() {
        Some("fleetform-batch") => {
            let batch = d["client_payload"]["batch"].as_array().unwrap();
            assert_eq!(batch.len(), 1, "one event: {d}");
            let e = &batch[0];
            (
                e["event_type"].as_str().unwrap().to_string(),
                e["payload"].clone(),
            )
        }
        other => (
            other.unwrap_or_default().to_string(),
            d["client_payload"].clone(),
        ),
    }
}

/// Each event the manager received, by commit: the dispatches unpacked
/// (a batch's entries, or a plain dispatch).
pub fn received(rw: &RelayWorld) -> (usize, BTreeMap<String, usize>) {
    let sent = rw.w.gh.dispatches(MANAGER);
    let mut events = BTreeMap::new();
    for d in &sent {
        for p in payloads(d) {
            *events
                .entry(p["sha"].as_str().unwrap().to_string())
                .or_insert(0) += 1;
        }
    }
    (sent.len(), events)
}

/// 150 customers' pushes at once, at GitHub's default limits, on a cold
/// relay: every one answered 202 and dispatched once, in batches of at
/// most 32 (a handful of dispatches, far inside 80 a minute), with no limit
/// answer from GitHub; and a burst of pushes costs the relay no customer
/// token and no read on a customer's repo (#84 point 10: the manager reads
/// a push's branch and pull request), where each new customer's lookup and
/// token were 150 × (1 + 5) = the App's 900 points a minute.
#[test]
fn a_hundred_and_fifty_customers_at_once_are_dispatched_once_within_githubs_limits() {
    let (rw, pushes) = fleet(150);
    let relay = relay_at_githubs_limits(&rw);
    let b = burst(&rw, &relay, &pushes);
    let not_202: Vec<_> = b.answers.iter().filter(|a| a.0 != 202).take(5).collect();
    let log = std::fs::read_to_string(&relay.stderr_log).unwrap_or_default();
    let mut counts = BTreeMap::new();
    for a in &b.answers {
        *counts.entry(a.0).or_insert(0) += 1;
    }
    assert!(
        not_202.is_empty(),
        "{counts:?}, limit answers {}; {not_202:?}; the relay's log:\n{}",
        rw.w.gh.limit_answers(),
        log.lines()
            .filter(|l| !l.contains(" busy "))
            .take(60)
            .collect::<Vec<_>>()
            .join("\n")
    );
    crate::relay::redeliver::wait_idle(&relay);
    let (dispatches, events) = received(&rw);
    assert_eq!(events.len(), 150, "an event lost");
    assert!(events.values().all(|n| *n == 1), "an event doubled");
    assert!(
        dispatches <= 300usize.div_ceil(32) + 3,
        "{dispatches} dispatches"
    );
    assert_eq!(rw.w.gh.limit_answers(), 0, "GitHub answered a limit");
    assert_eq!(lookups_and_mints(&rw), (0, 0), "a customer token minted");
    let customer_requests: Vec<String> =
        rw.w.gh
            .requests()
            .iter()
            .filter(|r| r.path.starts_with("/repos/fleet/"))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
    assert!(customer_requests.is_empty(), "{customer_requests:?}");
    rw.w.gh.assert_clean();
}

/// A cold relay books each new customer's installation lookup (1 point)
/// and token (5) in the customer App's minute of 900 points, the budget
/// its redelivery sweeps book in too (#84 point 10): of 160 new customers'
/// pull requests at once (a pull request's head is read with the
/// customer's token; a push needs none), as many as fit beside the start's
/// sweep (149) are served and the rest are answered 503 with the wait as
/// Retry-After before anything is sent for them, so GitHub never answers a
/// limit and no lookup is sent past the budget (with two budgets, 150 were
/// served and the sweep's point went uncounted).
#[test]
fn a_cold_start_paces_installation_lookups_with_the_mints() {
    let (rw, pushes) = fleet(160);
    let prs = pull_requests(&rw, &pushes, "feature");
    let relay = relay_at_githubs_limits(&rw);
    let tokens: Vec<(usize, u64, String)> = prs
        .iter()
        .enumerate()
        .map(|(i, (r, head, pr))| {
            let pr = pr.unwrap();
            let git_ref = format!("refs/pull/{pr}/merge");
            let claims = rw
                .issuer
                .claims(r, rw.w.gh.repo_id(r), "pull_request", &git_ref, head);
            (i, pr, rw.issuer.mint(&claims))
        })
        .collect();
    let handles: Vec<_> = tokens
        .into_iter()
        .map(|(i, pr, t)| {
            let url = relay.url.clone();
            let source = std::net::Ipv4Addr::new(127, 3, (i / 250) as u8, 1 + (i % 250) as u8);
            std::thread::spawn(move || {
                let body = json!({ "token": t, "pr": pr }).to_string();
                http_from(source, &url, "POST", "/dispatch", &[], body.as_bytes())
            })
        })
        .collect();
    let answers: Vec<(u16, Value)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let served = answers.iter().filter(|(s, _)| *s == 202).count();
    let paced: Vec<&Value> = answers
        .iter()
        .filter(|(s, a)| *s == 503 && a["error"] == "github_limit")
        .map(|(_, a)| a)
        .collect();
    // The minute's 900 points are the App's, shared with its redelivery
    // sweeps (the one at start lists the deliveries: 1 point each page).
    let swept =
        rw.w.gh
            .requests()
            .iter()
            .filter(|r| r.operation.as_deref() == Some("apps/list-webhook-deliveries"))
            .count();
    assert!(swept >= 1, "the sweep at start");
    let fit = (900 - swept) / 6;
    assert_eq!(
        (served, paced.len()),
        (fit, 160 - fit),
        "{:?}",
        answers.iter().map(|a| a.0).collect::<Vec<_>>()
    );
    for a in paced {
        let wait = a["retry_after"].as_u64().unwrap_or(0);
        assert!((1..=62).contains(&wait), "{a}");
        assert!(
            a["message"]
                .as_str()
                .unwrap_or("")
                .contains("installation tokens are at GitHub's points per minute"),
            "{a}"
        );
    }
    assert_eq!(lookups_and_mints(&rw), (fit, fit));
    assert_eq!(rw.w.gh.limit_answers(), 0, "GitHub answered a limit");
}

/// Installation ids are kept per repository: each customer's burst of
/// pull requests mints one token, and when it has expired a new one is
/// minted with the installation id the relay kept, never looked up again;
/// a re-run of the first pull requests' triggers dispatches nothing again.
#[test]
fn a_warm_relay_never_looks_an_installation_up_twice() {
    let (rw, pushes) = fleet(20);
    let clock = crate::relay::TestClock::new();
    let relay = relay_at_githubs_limits_with(&rw, &[clock.env()]);
    // Three pull requests of each customer at once: one lookup, one token
    // each.
    let three: Vec<_> = ["a", "b", "c"]
        .iter()
        .flat_map(|t| pull_requests(&rw, &pushes, t))
        .collect();
    let first = burst_of(&rw, &relay, &three);
    assert!(
        first.answers.iter().all(|(s, _, _)| *s == 202),
        "{} answers not 202",
        first.answers.iter().filter(|a| a.0 != 202).count()
    );
    assert_eq!(lookups_and_mints(&rw), (20, 20));
    // The tokens expire; each customer opens another.
    clock.forward(TOKEN_TTL.as_secs());
    let second = burst_of(&rw, &relay, &pull_requests(&rw, &pushes, "d"));
    assert!(
        second.answers.iter().all(|(s, _, _)| *s == 202),
        "{} answers not 202",
        second.answers.iter().filter(|a| a.0 != 202).count()
    );
    assert_eq!(lookups_and_mints(&rw), (20, 40), "looked up again");
    crate::relay::redeliver::wait_idle(&relay);
    // Each customer's trigger re-runs its first three pull requests' runs
    // (new tokens): answered with what was dispatched, nothing sent again.
    let again = burst_of(&rw, &relay, &three);
    let not_duplicate = again
        .answers
        .iter()
        .filter(|(s, a, _)| *s != 200 || !a["duplicate"].is_string())
        .count();
    assert_eq!(not_duplicate, 0, "answers not 200 duplicate");
    assert_eq!(lookups_and_mints(&rw), (20, 40), "looked up again");
    crate::relay::redeliver::wait_idle(&relay);
    let (_, events) = received(&rw);
    assert_eq!(events.len(), 80, "an event lost");
    assert!(events.values().all(|n| *n == 1), "an event doubled");
    assert_eq!(rw.w.gh.limit_answers(), 0, "GitHub answered a limit");
}

/// The bench's fleet case (bench/run.sh, case 10): `FLEETFORM_BENCH_N`
/// (default 1,000) customers' pushes at once at GitHub's default limits,
/// each caller honouring Retry-After as the trigger does: first on a cold
/// relay (every customer's installation token minted now), then a second
/// push of each on the warm relay. Prints one JSON line per burst:
/// answers, dispatches and events at the fake, GitHub requests and limit
/// answers, latency per caller, the time until the last caller's answer,
/// the relay's peak memory.
#[test]
#[ignore = "a measurement for bench/run.sh, not a test"]
fn bench_relay_fleet() {
    let n: usize = std::env::var("FLEETFORM_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let (rw, pushes) = fleet(n);
    let relay = relay_at_githubs_limits(&rw);
    let mut seen = (0, 0, 0);
    for round in ["cold", "warm"] {
        let pushes: Vec<(String, String)> = match round {
            "cold" => pushes.clone(),
            _ => pushes
                .iter()
                .map(|(r, _)| {
                    let sha = rw.w.gh.commit(
                        r,
                        "main",
                        &[("infra/variables.yml", "project_name: again\n")],
                    );
                    (r.clone(), sha)
                })
                .collect(),
        };
        let (requests, limits) = (rw.w.gh.request_count(), rw.w.gh.limit_answers());
        let b = burst(&rw, &relay, &pushes);
        let mut times: Vec<Duration> = b.answers.iter().map(|a| a.2).collect();
        times.sort();
        let pct = |p: f64| {
            times[((times.len() as f64 * p).ceil() as usize).saturating_sub(1)].as_secs_f64()
                * 1000.0
        };
        let (dispatches, events) = received(&rw);
        let mut other: BTreeMap<String, usize> = BTreeMap::new();
        for (status, answer, _) in b.answers.iter().filter(|a| a.0 != 202) {
            let code = format!(
                "{} {}",
                answer["error"].as_str().unwrap_or("?"),
                answer["message"]
                    .as_str()
                    .unwrap_or("")
                    .chars()
                    .take(120)
                    .collect::<String>()
            );
            *other.entry(format!("{status} {code}")).or_insert(0) += 1;
        }
        println!(
            "{}",
            json!({
                "round": round, "n": n, "other_answers": other,
                "answered_202": b.answers.iter().filter(|a| a.0 == 202).count(),
                "dispatches_at_fake": dispatches - seen.0,
                "events_at_fake": events.len() - seen.1,
                "events_doubled": events.values().filter(|c| **c > 1).count(),
                "overtaken_by_10s_later": b.overtaken(Duration::from_secs(10)),
                "github_requests": rw.w.gh.request_count() - requests,
                "limit_answers": rw.w.gh.limit_answers() - limits,
                "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": pct(1.0),
                "wall_ms": b.wall.as_secs_f64() * 1000.0,
                "peak_rss_kb": crate::relay::hostile::peak_rss_kib(&relay),
            })
        );
        seen = (dispatches, events.len(), 0);
    }
}
