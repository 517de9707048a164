//! The relay's claims in a shared records bucket (moto's S3) from the
//! relay's own runtime: no thread or runtime per claim.

use std::time::Duration;

use serde_json::json;

use crate::moto::{curl_signed_put, Moto};
use crate::relay::{http_from, RelayProc, RelayWorld};
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
        .filter(|k| k.ends_with("/claim-0"))
        .count();
    assert_eq!(claims, 40);
}
