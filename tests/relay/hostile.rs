//! The relay under a hostile caller: slow bodies, floods from one address,
//! unsigned webhook bodies of GitHub's largest size, and SIGTERM with
//! requests in flight (the relay world of `relay`).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::relay::serve::{connect_from, http, http_from, RelayProc, RelayWorld};
use crate::world::{ACME, MANAGER};

/// A request whose head is sent and whose body (of `len` bytes) is not:
/// the connection, to trickle or finish later.
fn open_body(
    source: Ipv4Addr,
    relay: &RelayProc,
    path: &str,
    len: usize,
    extra: &str,
) -> TcpStream {
    let addr = relay.url.trim_start_matches("http://");
    let mut s = connect_from(source, addr);
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let head =
        format!("POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {len}\r\n{extra}\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s
}

/// The status of the answer on `s` (read to its end).
fn status_of(s: &mut TcpStream) -> Option<u16> {
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf)
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
}

/// The status of an answer already on `s`, without waiting for one.
fn answer_now(s: &mut TcpStream) -> Option<u16> {
    s.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).ok()?;
    String::from_utf8_lossy(&buf[..n])
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
}

fn health(relay: &RelayProc) -> Value {
    let (status, v) = http(&relay.url, "GET", "/healthz", &[], b"");
    assert_eq!(status, 200, "{v}");
    v
}

/// Polls `/healthz` until `done` holds for its answer (at most 30 s).
fn wait_health(relay: &RelayProc, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let v = health(relay);
        if done(&v) {
            return v;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "never: {v}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// 200 connections sending their bodies a byte at a time hold no handling
/// slot: with 4 slots, a valid dispatch and `/healthz` are answered while
/// they trickle; one address gets at most `--per-client` admissions and
/// 429 with Retry-After beyond.
#[test]
fn slow_bodies_hold_no_slot_and_one_address_is_capped() {
    let rw = RelayWorld::new();
    let relay = rw.start_args(4, 60, &["--per-client", "8"]);
    // 200 slow clients of their own addresses.
    let mut slow: Vec<TcpStream> = (0..200)
        .map(|i| {
            let src = Ipv4Addr::new(127, 0, 2, 1 + i as u8);
            open_body(src, &relay, "/dispatch", 1000, "")
        })
        .collect();
    // 20 more from one address: 8 admitted, 12 refused at once.
    let one = Ipv4Addr::new(127, 0, 3, 1);
    let mut crowd: Vec<TcpStream> = (0..20)
        .map(|_| open_body(one, &relay, "/dispatch", 1000, ""))
        .collect();
    let v = wait_health(&relay, |v| v["in_flight"] == 208);
    assert_eq!(v["handling"], 0, "{v}");
    for s in &mut slow {
        s.write_all(b"{").unwrap();
    }
    // Which 12 are refused depends on the order the relay read the heads:
    // wait until 12 have an answer, then none of the 8 others has one.
    let answered = |crowd: &mut Vec<TcpStream>| -> Vec<Option<u16>> {
        crowd.iter_mut().map(answer_now).collect()
    };
    let start = Instant::now();
    let mut seen = vec![None; crowd.len()];
    while seen.iter().filter(|s| s.is_some()).count() < 12 {
        assert!(start.elapsed() < Duration::from_secs(30), "{seen:?}");
        for (i, a) in answered(&mut crowd).into_iter().enumerate() {
            seen[i] = seen[i].or(a);
        }
    }
    let refused: Vec<u16> = seen.iter().flatten().copied().collect();
    assert_eq!(refused, vec![429; 12]);
    let (status, answer) = http_from(one, &relay.url, "POST", "/dispatch", &[], b"{}");
    assert_eq!(status, 429, "{answer}");
    assert_eq!(answer["retry_after"], 1, "{answer}");

    // A valid caller is served at once: its body arrived, a slot is free.
    let sha = rw.w.change_acme("main", 5);
    let token = rw.push_token(ACME, "main", &sha);
    let (status, answer) = crate::relay::serve::dispatch(&relay, &json!({ "token": token }));
    assert_eq!(status, 202, "{answer}");
    assert_eq!(rw.w.gh.dispatches(MANAGER).len(), 1);
    drop(slow);
    drop(crowd);
}

/// A webhook without a signature header is refused before its body is
/// read; 100 bodies of 24 MB with a wrong signature, all at once, keep
/// the relay's memory near the webhook budget (64 MiB), not 100 × 24 MB.
#[test]
fn unsigned_webhook_floods_stay_within_the_memory_budget() {
    let rw = RelayWorld::new();
    let relay = rw.start(16);
    const SIZE: usize = 24 * 1024 * 1024;
    // No signature: 401 with the body never sent.
    let mut s = open_body(
        Ipv4Addr::new(127, 0, 4, 1),
        &relay,
        "/webhook",
        SIZE,
        "x-github-event: push\r\n",
    );
    assert_eq!(status_of(&mut s), Some(401));

    let bad = format!(
        "x-github-event: push\r\nx-github-delivery: d\r\nx-hub-signature-256: sha256={}\r\n",
        "0".repeat(64)
    );
    let statuses = unsigned_flood(&relay, SIZE, &bad);
    let count = |code| statuses.iter().filter(|s| **s == Some(code)).count();
    assert_eq!(count(401) + count(503), 100, "{statuses:?}");
    assert!(count(401) >= 1 && count(503) >= 1, "{statuses:?}");
    let peak = peak_rss_kib(&relay);
    assert!(
        peak < 200 * 1024,
        "the relay's peak memory was {peak} KiB with 100 unsigned 24 MB bodies"
    );
    assert_eq!(health(&relay)["webhook_kib"], 0);
}

/// 100 webhook bodies of `size` bytes with the headers `bad` (a wrong
/// signature), sent at once from 100 addresses: each one's status.
fn unsigned_flood(relay: &RelayProc, size: usize, bad: &str) -> Vec<Option<u16>> {
    let chunk = vec![b' '; 1024 * 1024];
    let senders: Vec<_> = (0..100)
        .map(|i| {
            let src = Ipv4Addr::new(127, 0, 5, 1 + i as u8);
            let mut s = open_body(src, relay, "/webhook", size, bad);
            let chunk = chunk.clone();
            std::thread::spawn(move || {
                for _ in 0..size.div_ceil(chunk.len()) {
                    if s.write_all(&chunk).is_err() {
                        break;
                    }
                }
                status_of(&mut s)
            })
        })
        .collect();
    senders.into_iter().map(|h| h.join().unwrap()).collect()
}

/// The process's peak resident memory (VmHWM), in KiB.
pub(crate) fn peak_rss_kib(relay: &RelayProc) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", relay.child.id())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// SIGTERM with a request in flight: the relay stops accepting, answers
/// the request when its body arrives, and exits 0.
#[test]
fn sigterm_finishes_the_requests_in_flight() {
    let rw = RelayWorld::new();
    let mut relay = rw.start(4);
    let sha = rw.w.change_acme("main", 6);
    let body = json!({ "token": rw.push_token(ACME, "main", &sha) }).to_string();
    let mut s = open_body(Ipv4Addr::LOCALHOST, &relay, "/dispatch", body.len(), "");
    s.write_all(&body.as_bytes()[..10]).unwrap();
    wait_health(&relay, |v| v["in_flight"] == 1);
    let pid = relay.child.id().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    // New connections are refused once the listener is closed.
    let addr = relay.url.trim_start_matches("http://").to_string();
    let start = Instant::now();
    while TcpStream::connect(&addr).is_ok() {
        assert!(start.elapsed() < Duration::from_secs(10), "still accepting");
        std::thread::sleep(Duration::from_millis(20));
    }
    s.write_all(&body.as_bytes()[10..]).unwrap();
    assert_eq!(status_of(&mut s), Some(202));
    assert_eq!(rw.w.gh.dispatches(MANAGER).len(), 1);
    let exit = wait_exit(&mut relay);
    assert_eq!(exit, Some(0));
}

fn wait_exit(relay: &mut RelayProc) -> Option<i32> {
    let start = Instant::now();
    loop {
        if let Some(st) = relay.child.try_wait().unwrap() {
            return st.code();
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the relay did not exit"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Only a JSON object is a request (serde reads an array as the fields in
/// order), and `files` names only files fleetform reads.
#[test]
fn a_request_is_a_json_object_naming_only_read_files() {
    let rw = RelayWorld::new();
    let relay = rw.start(4);
    let sha = rw.w.change_acme("main", 4);
    let token = rw.push_token(ACME, "main", &sha);
    for body in [
        json!([token]),
        json!([token, null, ["infra/variables.yml"]]),
        json!(token),
    ] {
        let (status, answer) = crate::relay::serve::dispatch(&relay, &body);
        assert_eq!(
            (status, answer["error"].as_str()),
            (400, Some("bad_request")),
            "{answer}"
        );
    }
    for files in [
        json!(["../../etc/passwd"]),
        json!(["infra/variables.yml", "infra/secrets.yml"]),
    ] {
        let (status, answer) =
            crate::relay::serve::dispatch(&relay, &json!({ "token": token, "files": files }));
        assert_eq!(
            (status, answer["error"].as_str()),
            (400, Some("bad_files")),
            "{answer}"
        );
    }
    assert!(rw.w.gh.dispatches(MANAGER).is_empty());
    // Named twice and out of order: each once, in the manager's order.
    let files = json!([
        "infra/variables.staging.yml",
        "infra/variables.yml",
        "infra/variables.yml"
    ]);
    let (status, answer) =
        crate::relay::serve::dispatch(&relay, &json!({ "token": token, "files": files }));
    assert_eq!(status, 202, "{answer}");
    assert_eq!(
        answer["dispatched"]["files"],
        json!(["infra/variables.yml", "infra/variables.staging.yml"])
    );
}

/// The bench's hostile case (bench/run.sh, case 10): the relay's peak
/// memory before and after 100 unsigned 24 MB webhook bodies at once, and
/// a valid caller's latency (20 dispatches, one after another) and
/// `/healthz`'s while 200 connections from 200 addresses trickle their
/// bodies a byte at a time; default limits. Prints one JSON line.
#[test]
#[ignore = "a measurement for bench/run.sh, not a test"]
fn bench_relay_hostile() {
    let rw = RelayWorld::new();
    let relay = rw.start_args(64, 10, &[]);
    let warm = rw.w.change_acme("main", 30);
    let (status, _) = trigger(&rw, &relay, &warm);
    assert_eq!(status, 202);
    let rss_before = peak_rss_kib(&relay);
    const SIZE: usize = 24 * 1024 * 1024;
    let bad = format!(
        "x-github-event: push\r\nx-github-delivery: d\r\nx-hub-signature-256: sha256={}\r\n",
        "0".repeat(64)
    );
    unsigned_flood(&relay, SIZE, &bad);
    let rss_flood = peak_rss_kib(&relay);
    let mut slow: Vec<TcpStream> = (0..200)
        .map(|i| {
            open_body(
                Ipv4Addr::new(127, 0, 2, 1 + i as u8),
                &relay,
                "/dispatch",
                1000,
                "",
            )
        })
        .collect();
    wait_health(&relay, |v| v["in_flight"].as_u64() >= Some(200));
    let mut times = Vec::new();
    let mut health_ms: f64 = 0.0;
    for i in 0..20 {
        for s in &mut slow {
            let _ = s.write_all(b" ");
        }
        let sha = rw.w.change_acme("main", 40 + i);
        let t0 = Instant::now();
        let (status, answer) = trigger(&rw, &relay, &sha);
        times.push(t0.elapsed());
        assert_eq!(status, 202, "{answer}");
        let t0 = Instant::now();
        health(&relay);
        health_ms = health_ms.max(t0.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{}",
        json!({
            "rss_before_kb": rss_before, "rss_after_flood_kb": rss_flood,
            "valid_p50_ms": ms(times[9]), "valid_p99_ms": ms(times[19]),
            "healthz_max_ms": health_ms, "slow_connections": 200,
        })
    );
    drop(slow);
}

fn trigger(rw: &RelayWorld, relay: &RelayProc, sha: &str) -> (u16, Value) {
    crate::relay::serve::dispatch(relay, &json!({ "token": rw.push_token(ACME, "main", sha) }))
}
