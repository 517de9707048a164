//! The relay's claims in a shared records bucket (moto's S3): made from
//! the relay's own runtime (no thread or runtime per claim), and a durable
//! queue: an event claimed but not dispatched when its instance is killed
//! is taken over by exactly one other instance and dispatched once.

use std::time::Duration;

use serde_json::json;

use fleetform::relay::events::STALE_ENV;

use crate::moto::{curl_signed_put, Moto};
use crate::relay::redeliver::wait_until;
use crate::relay::serve::{dispatch, http_from, RelayProc, RelayWorld};
use crate::relay::TestClock;
use crate::support::fake_github::Fault;
use crate::world::{ACME, MANAGER};

/// The variables a relay needs to reach moto's bucket.
pub const AWS: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
];

/// The relay world with `records: {kind: s3}` in moto's bucket
/// `relay-records`.
pub fn with_bucket() -> (Moto, RelayWorld) {
    let moto = Moto::start();
    assert!(curl_signed_put(&moto.url("/relay-records")));
    let rw = RelayWorld::new();
    let cfg = rw.w.fx.read("manager/fleetform.yml");
    let local = "records:\n  kind: local\n  dir: .fleetform/records\n";
    assert!(cfg.contains(local), "{cfg}");
    rw.w.fx.write(
        "manager/fleetform.yml",
        &cfg.replace(
            local,
            &format!(
                "records:\n  kind: s3\n  bucket: relay-records\n  region: us-east-1\n  endpoint: {}\n  use_path_style: true\n",
                moto.url("")
            ),
        ),
    );
    (moto, rw)
}

/// A trigger's `POST /dispatch` with `token` to the relay at `url`, on a
/// thread of its own: what it read before the connection ended (nothing,
/// when the relay dies first).
pub fn dispatch_on_a_thread(url: String, token: String) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        let body = json!({ "token": token }).to_string();
        let mut s = std::net::TcpStream::connect(url.trim_start_matches("http://")).unwrap();
        let head = format!(
            "POST /dispatch HTTP/1.1\r\nhost: relay\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(body.as_bytes()).unwrap();
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        answer
    })
}

/// The recovery sweeps `relay` has finished (its `/healthz`).
fn sweeps_done(relay: &RelayProc) -> u64 {
    let (status, v) = crate::relay::serve::http(&relay.url, "GET", "/healthz", &[], b"");
    assert_eq!(status, 200, "{v}");
    v["sweeps"].as_u64().expect("healthz says its sweeps")
}

/// The relays' clock moved past the stale time (`stale_secs`), then two
/// more sweeps of each of `relays`: at least one of them began after every
/// claim could be taken over, and ran to its end. What "nothing doubled" is
/// checked after, instead of sleeping for the relays' own wall-clock time.
fn sweeps_after_stale(relays: &[&RelayProc], clock: &TestClock, stale_secs: u64) {
    clock.forward(stale_secs);
    let now: Vec<u64> = relays.iter().map(|r| sweeps_done(r)).collect();
    for (r, n) in relays.iter().zip(now) {
        wait_until("two more sweeps", 120, || sweeps_done(r) >= n + 2);
    }
}

/// The threads of the relay process now (Linux's /proc).
fn threads(relay: &RelayProc) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{}/status", relay.child.id())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap()
}

/// 40 events claimed at once in the bucket: every claim's requests run on
/// the relay's runtime, so its threads stay those of the runtime (one
/// worker per core, and a few of its own) instead of growing by a thread
/// (and a runtime) per claim; every event dispatched once.
#[test]
fn claims_run_on_the_relays_runtime_without_a_thread_per_claim() {
    let (moto, rw) = with_bucket();
    let relay = rw.start_env(64, 10, &[], &AWS);
    let shas: Vec<String> = (0..40).map(|i| rw.w.change_acme("main", 500 + i)).collect();
    let before = threads(&relay);
    let handles: Vec<_> = shas
        .iter()
        .enumerate()
        .map(|(i, sha)| {
            let (url, t) = (relay.url.clone(), rw.push_token(ACME, "main", sha));
            let source = std::net::Ipv4Addr::new(127, 0, 4, 1 + i as u8);
            std::thread::spawn(move || {
                let body = json!({ "token": t }).to_string();
                http_from(source, &url, "POST", "/dispatch", &[], body.as_bytes())
            })
        })
        .collect();
    let mut most = before;
    while !handles.iter().all(|h| h.is_finished()) {
        most = most.max(threads(&relay));
        std::thread::sleep(Duration::from_millis(5));
    }
    let answers: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    // Idle blocking threads would linger 10 s after the burst.
    most = most.max(threads(&relay));
    assert!(answers.iter().all(|(s, _)| *s == 202), "{answers:?}");
    assert_eq!(rw.w.gh.dispatches(MANAGER).len(), 40);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert!(
        most <= before + 2 && most <= cores + 8,
        "{before} threads before, {most} at most during 40 claims ({cores} cores)"
    );
    let claims = moto
        .keys_in("relay-records")
        .iter()
        .filter(|k| k.contains("/relay/events/") && k.ends_with("/claim-0"))
        .count();
    assert_eq!(claims, 40);
}

/// An event claimed by instance A and waiting in its queue (GitHub answered
/// its dispatch with a secondary limit: nothing sent, the batch held for the
/// 20 s wait) when A is killed with SIGKILL: once the claim is stale (6 s
/// here, 2 minutes in service) the other running instance B and A started
/// again both sweep, exactly one takes the claim over (create-only
/// `claim-1`) and dispatches it, once; nothing is lost or doubled, and the
/// trigger asking again is told it was dispatched.
#[test]
fn a_queued_event_survives_a_kill_9_and_is_dispatched_once() {
    let (moto, rw) = with_bucket();
    let clock = TestClock::new();
    let env = [AWS[0], AWS[1], AWS[2], (STALE_ENV, "6"), clock.env()];
    let b = rw.start_env(8, 10, &[], &env);
    let mut a = rw.start_env(8, 10, &[], &env);
    let sha = rw.w.change_acme("main", 600);
    rw.w.gh
        .inject_matching("POST", "/dispatches", Fault::secondary_rate_limit(20));
    let (url, token) = (a.url.clone(), rw.push_token(ACME, "main", &sha));
    // The trigger's request to A: its connection ends with A.
    let caller = dispatch_on_a_thread(url, token);
    let id = rw.w.gh.repo_id(ACME);
    let event = format!("fleetform/records/relay/events/{id}/{sha}/apply");
    wait_until("A's claim and GitHub's limit answer", 15, || {
        let deferred =
            rw.w.gh
                .requests()
                .iter()
                .any(|r| r.method == "POST" && r.path.ends_with("/dispatches") && r.status == 403);
        deferred
            && moto
                .keys_in("relay-records")
                .contains(&format!("{event}/claim-0"))
    });
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    assert!(
        caller.join().unwrap().is_empty(),
        "A answered before it died"
    );
    assert!(rw.w.gh.dispatches(MANAGER).is_empty());
    // A's claim goes stale.
    clock.forward(6);
    let a2 = rw.start_env(8, 10, &[], &env);
    wait_until("the event dispatched", 30, || {
        !rw.w.gh.dispatches(MANAGER).is_empty()
    });
    // Further sweeps of both find it done.
    sweeps_after_stale(&[&b, &a2], &clock, 6);
    let sent = rw.w.gh.dispatches(MANAGER);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["client_payload"]["sha"], sha.as_str());
    let steps: Vec<String> = moto
        .keys_in("relay-records")
        .into_iter()
        .filter_map(|k| k.strip_prefix(&format!("{event}/")).map(str::to_string))
        // A renewed its claim while it lived (`alive-0-<time>`).
        .filter(|k| !k.starts_with("alive-"))
        .collect();
    assert_eq!(steps, ["claim-0", "claim-1", "done"], "{steps:?}");
    let logs: String = [&b, &a2]
        .iter()
        .map(|r| std::fs::read_to_string(&r.stderr_log).unwrap())
        .collect();
    assert_eq!(
        logs.matches("recover: 202 dispatched fleetform-apply acme")
            .count(),
        1,
        "{logs}"
    );
    // The trigger asks again: dispatched already.
    let (status, again) = dispatch(&b, &json!({ "token": rw.push_token(ACME, "main", &sha) }));
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["dispatched"]["sha"], sha.as_str());
    assert_eq!(rw.w.gh.dispatches(MANAGER).len(), 1);
}

/// A live instance whose dispatch waits longer than the stale time (here
/// GitHub's secondary limit holds it 20 s, three times the 6 s stale time)
/// keeps its claim alive (`alive-0-<time>` every half stale time): the
/// other instance's sweeps never take it over, and the event is
/// dispatched once, by the instance that claimed it.
#[test]
fn a_slow_live_instance_keeps_its_claim_and_nothing_is_doubled() {
    let (moto, rw) = with_bucket();
    let clock = TestClock::new();
    let env = [AWS[0], AWS[1], AWS[2], (STALE_ENV, "6"), clock.env()];
    let b = rw.start_env(8, 10, &[], &env);
    let a = rw.start_env(8, 10, &[], &env);
    let sha = rw.w.change_acme("main", 700);
    rw.w.gh
        .inject_matching("POST", "/dispatches", Fault::secondary_rate_limit(20));
    let (status, answer) = dispatch(&a, &json!({ "token": rw.push_token(ACME, "main", &sha) }));
    let id = rw.w.gh.repo_id(ACME);
    let event = format!("fleetform/records/relay/events/{id}/{sha}/apply");
    wait_until("the event dispatched", 60, || {
        !rw.w.gh.dispatches(MANAGER).is_empty()
    });
    // B swept every 3 s all along; sweeps after one more stale time.
    sweeps_after_stale(&[&a, &b], &clock, 6);
    let sent = rw.w.gh.dispatches(MANAGER);
    assert_eq!(sent.len(), 1, "{sent:?} (A answered {status} {answer})");
    let steps: Vec<String> = moto
        .keys_in("relay-records")
        .into_iter()
        .filter_map(|k| k.strip_prefix(&format!("{event}/")).map(str::to_string))
        .collect();
    assert!(steps.iter().any(|s| s.starts_with("alive-0-")), "{steps:?}");
    assert!(
        !steps.iter().any(|s| s == "claim-1"),
        "B took a live claim over: {steps:?}"
    );
    assert!(steps.iter().any(|s| s == "done"), "{steps:?}");
    let logs = std::fs::read_to_string(&b.stderr_log).unwrap();
    assert!(!logs.contains("recover: 202"), "{logs}");
}

/// Every relay was down for longer than the start window (3 hours here):
/// an event claimed and queued before, by an instance killed then, is
/// still taken over by the next start (the older sweep, block by block)
/// and dispatched once; the older blocks are then marked swept.
#[test]
fn an_event_queued_before_a_long_outage_is_dispatched_at_the_next_start() {
    let (moto, rw) = with_bucket();
    let clock = TestClock::new();
    let env = [AWS[0], AWS[1], AWS[2], (STALE_ENV, "6"), clock.env()];
    let mut a = rw.start_env(8, 10, &[], &env);
    let sha = rw.w.change_acme("main", 800);
    rw.w.gh
        .inject_matching("POST", "/dispatches", Fault::secondary_rate_limit(20));
    let (url, token) = (a.url.clone(), rw.push_token(ACME, "main", &sha));
    // The trigger's request to A: its connection ends with A.
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        let body = json!({ "token": token }).to_string();
        let mut s = std::net::TcpStream::connect(url.trim_start_matches("http://")).unwrap();
        let head = format!(
            "POST /dispatch HTTP/1.1\r\nhost: relay\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        let _ = s.write_all(head.as_bytes());
        let _ = s.write_all(body.as_bytes());
        let _ = s.read_to_end(&mut Vec::new());
    });
    let id = rw.w.gh.repo_id(ACME);
    let event = format!("relay/events/{id}/{sha}/apply");
    let bucket = "relay-records";
    let keys = || moto.keys_in(bucket);
    wait_until("A's claim", 15, || {
        keys().contains(&format!("fleetform/records/{event}/claim-0"))
    });
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    rw.w.gh.clear_faults();
    assert!(
        !keys()
            .iter()
            .any(|k| k.contains(&format!("{event}/failed-"))),
        "A gave the event up before it died: {:?}",
        keys()
    );
    // Three hours ago: the claim's time and its pending entry's minute.
    let then = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 3 * 3600;
    let claim_url = moto.url(&format!("/{bucket}/fleetform/records/{event}/claim-0"));
    let mut claim: serde_json::Value =
        serde_json::from_str(&crate::moto::curl(&claim_url, "GET").unwrap()).unwrap();
    claim["at"] = json!(then);
    assert!(crate::moto::curl_put_body(&claim_url, &claim.to_string()));
    assert!(crate::moto::curl(&claim_url, "GET").is_some_and(|b| b.contains("\"event\"")));
    // What A left is three hours old too: its index entry and renewals go.
    for k in keys()
        .iter()
        .filter(|k| k.contains("/relay/pending/") || k.contains("/alive-"))
    {
        assert!(crate::moto::curl(&moto.url(&format!("/{bucket}/{k}")), "DELETE").is_some());
    }
    let old = format!(
        "/{bucket}/fleetform/records/relay/pending/{:010}/{id}/{sha}/apply/claim-0",
        then / 60
    );
    assert!(crate::moto::curl_put_body(&moto.url(&old), "{}"));

    let b = rw.start_env(8, 10, &[], &env);
    wait_until("the event dispatched", 30, || {
        !rw.w.gh.dispatches(MANAGER).is_empty()
    });
    sweeps_after_stale(&[&b], &clock, 6);
    assert_eq!(rw.w.gh.dispatches(MANAGER).len(), 1);
    // The blocks wholly before the start window are marked swept (the
    // one holding its first minute is not: claims may still land there).
    let block = format!("fleetform/records/relay/swept/{:07}", then / 60 / 1000 - 1);
    assert!(keys().contains(&block), "{:?}", keys());
    let logs = std::fs::read_to_string(&b.stderr_log).unwrap();
    assert_eq!(
        logs.matches("recover: 202 dispatched fleetform-apply acme")
            .count(),
        1,
        "{logs}"
    );
}
