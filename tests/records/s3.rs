//! The records store in a bucket whose endpoint fails or lies
//! (`tests/support/fake_s3.rs`): S3's transient errors are retried, a put
//! S3 carried out but whose answer was lost is told apart from another
//! writer's object by reading it back, retries end, every answer read
//! into memory is bounded, listings end, and many records are read at
//! once but handed over in order.

use crate::common;
use crate::fake_s3::{list_xml, ok, FakeS3, Reply, Req, Seen};
use crate::moto;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use common::{stderr, stdout, Fixture};
use moto::Moto;
use serde_json::Value;

/// The records store in `bucket` at `endpoint`, under `fleet/records`.
fn records_in(endpoint: &str, bucket: &str) -> Fixture {
    let fx = Fixture::new();
    fx.records_in_s3(bucket, endpoint, "  prefix: fleet/records\n");
    fx
}

/// `fleetform <args>` with moto's test credentials and a fixed records
/// stamp.
pub(crate) fn run(fx: &Fixture, args: &[&str]) -> crate::common::Ran {
    common::Run::from(fx.fleetform())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("FLEETFORM_RECORDS_STAMP", "20261122T120000.000Z")
        .args(args)
        .output()
}

/// `customers revoke` of globex, moved on 2026-11-20.
pub(crate) const REVOKE_GLOBEX: [&str; 7] = [
    "customers",
    "revoke",
    "globex",
    "--reason",
    "moved",
    "--date",
    "2026-11-20",
];

/// `customers revoke`: edits the registry and keeps one audit record.
fn revoke(fx: &Fixture) -> crate::common::Ran {
    run(fx, &REVOKE_GLOBEX)
}

const KEY: &str = "audit/2026/11/22/20261122T120000.000Z-000000000000.json";

/// (method, status) of every request to an object (no listings).
fn object_calls(seen: &[Seen]) -> Vec<(String, u16)> {
    seen.iter()
        .filter(|s| !s.query.contains("list-type"))
        .map(|s| (s.method.clone(), s.status))
        .collect()
}

fn calls(list: &[(&str, u16)]) -> Vec<(String, u16)> {
    list.iter().map(|(m, s)| (m.to_string(), *s)).collect()
}

fn moto_bucket(moto: &Moto, bucket: &str) {
    assert!(moto::curl_signed_put(&moto.url(&format!("/{bucket}"))));
}

/// The answer to the n-th object PUT (from 0).
type Fault = fn(usize) -> Reply;

/// A put's bytes and write id.
type FirstPut = (Vec<u8>, String);

/// A proxy in front of moto whose n-th object PUT (from 0) gets `fault(n)`.
fn proxy_faulting_puts(moto: &Moto, fault: Fault) -> FakeS3 {
    let puts = AtomicUsize::new(0);
    FakeS3::start(Some(moto.port()), move |req, _| {
        if req.is_object("PUT") {
            fault(puts.fetch_add(1, Ordering::SeqCst))
        } else {
            Reply::Forward
        }
    })
}

/// A 503 `SlowDown` and a 500 `InternalError` on the first two attempts:
/// the third keeps the record, and nothing is reported.
#[test]
fn s3s_transient_errors_on_a_write_are_retried() {
    let moto = Moto::start();
    moto_bucket(&moto, "transient");
    let proxy = proxy_faulting_puts(&moto, |n| match n {
        0 => Reply::Error(503, "SlowDown"),
        1 => Reply::Error(500, "InternalError"),
        _ => Reply::Forward,
    });
    let fx = records_in(&proxy.url(), "transient");
    let out = revoke(&fx);
    common::assert_ok(&out);
    assert!(!stderr(&out).contains("cannot keep"), "{}", stderr(&out));
    assert_eq!(
        object_calls(&proxy.seen()),
        calls(&[("PUT", 503), ("PUT", 500), ("PUT", 200)])
    );
    let keys = moto.keys_in("transient");
    assert_eq!(keys, [format!("fleet/records/{KEY}")]);
    let record = moto::curl(&moto.url(&format!("/transient/{}", keys[0])), "GET").unwrap();
    assert!(record.contains("\"result\":\"revoked\""), "{record}");
}

/// S3 carries out the put but its answer is a 500, or is lost with the
/// connection: the retry answers 412 (the key exists), the object is read
/// back and is this put's own (same bytes, same write id), so the write
/// succeeded, once.
#[test]
fn a_put_carried_out_whose_answer_was_lost_is_read_back_as_its_own() {
    let moto = Moto::start();
    let faults: [(&str, Fault, u16); 2] = [
        (
            "answered-500",
            |n| match n {
                0 => Reply::ForwardThenError(500, "InternalError"),
                _ => Reply::Forward,
            },
            500,
        ),
        (
            "answer-lost",
            |n| match n {
                0 => Reply::ForwardThenHangUp,
                _ => Reply::Forward,
            },
            0,
        ),
    ];
    for (bucket, fault, first) in faults {
        moto_bucket(&moto, bucket);
        let proxy = proxy_faulting_puts(&moto, fault);
        let fx = records_in(&proxy.url(), bucket);
        let out = revoke(&fx);
        common::assert_ok_for(format_args!("{bucket}"), &out);
        assert!(
            !stderr(&out).contains("cannot keep"),
            "{bucket}: {}",
            stderr(&out)
        );
        let seen = proxy.seen();
        assert!(seen[0].forwarded, "{bucket}: the first put reached moto");
        assert_eq!(
            object_calls(&seen),
            calls(&[("PUT", first), ("PUT", 412), ("GET", 200)]),
            "{bucket}"
        );
        assert_eq!(moto.keys_in(bucket), [format!("fleet/records/{KEY}")]);
    }
}

/// The same ambiguous put, but the object under the key is another
/// writer's: with the same bytes (two rollout ticks in one second write
/// the same event) but not this put's write id it is a conflict; with
/// this put's write id it is this put's.
#[test]
fn the_same_bytes_from_another_writer_are_a_conflict() {
    for own in [false, true] {
        // What the first (failed) put sent: its bytes and write id.
        let sent: Arc<Mutex<Option<FirstPut>>> = Arc::default();
        let kept = sent.clone();
        let fake = FakeS3::start(None, move |req: &Req, _| {
            if req.is_object("PUT") {
                let mut first = kept.lock().unwrap();
                if first.is_none() {
                    let id = req.header("x-amz-meta-fleetform-write").unwrap_or("");
                    *first = Some((req.body.clone(), id.to_string()));
                    return Reply::Error(500, "InternalError");
                }
                return Reply::Error(412, "PreconditionFailed");
            }
            let (body, id) = kept.lock().unwrap().clone().expect("a put came first");
            let mut headers = vec![("content-type".to_string(), "application/json".into())];
            if own {
                headers.push(("x-amz-meta-fleetform-write".into(), id));
            }
            Reply::Body {
                status: 200,
                headers,
                body,
            }
        });
        let fx = records_in(&fake.url(), "b");
        let out = revoke(&fx);
        common::assert_ok(&out);
        assert_eq!(
            object_calls(&fake.seen()),
            calls(&[("PUT", 500), ("PUT", 412), ("GET", 200)])
        );
        let (body, id) = sent.lock().unwrap().clone().unwrap();
        assert!(String::from_utf8_lossy(&body).contains("revoked"));
        assert_eq!(id.len(), 32, "a 128-bit write id: {id}");
        if own {
            assert!(!stderr(&out).contains("cannot keep"), "{}", stderr(&out));
        } else {
            assert!(
                stderr(&out).contains(&format!(
                    "cannot keep the audit record in s3://b/fleet/records: record {KEY} exists already"
                )),
                "{}",
                stderr(&out)
            );
        }
    }
}

/// An endpoint that always answers 503 `SlowDown` gets six attempts, not
/// more, and the error says so (the first listing a reader makes is the
/// compacted records' manifests: `records::segments`).
#[test]
fn retries_end() {
    let fake = FakeS3::start(None, |_, _| Reply::Error(503, "SlowDown"));
    let fx = records_in(&fake.url(), "b");
    let out = run(&fx, &["audit", "report", "--records", "--json"]);
    common::assert_code(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains("listing segments/audit/manifests/: S3 answered 503 Service Unavailable: SlowDown: injected by the test (6 attempts in"),
        "{err}"
    );
    assert_eq!(fake.seen().len(), 6);
}

const BIG: u64 = 200 * 1024 * 1024;

/// One audit record listed; its GET answered by `get`.
fn one_record(get: Reply) -> FakeS3 {
    FakeS3::start(None, move |req, _| {
        if req.is_list() {
            ok(list_xml(&[format!("fleet/records/{KEY}")], None))
        } else {
            get.clone()
        }
    })
}

/// A record's body that announces 3 GiB, or announces nothing and does
/// not end: the read stops at 64 MiB (at once for the announced size)
/// with an error naming the key, and the process ends normally.
#[test]
fn a_record_larger_than_64_mib_is_refused_while_it_streams() {
    for announced in [Some(3u64 << 30), None] {
        let fake = one_record(Reply::Stream {
            status: 200,
            announced,
            total: BIG,
        });
        let fx = records_in(&fake.url(), "b");
        let out = run(&fx, &["audit", "report", "--records", "--json"]);
        common::assert_code_for(format_args!("{announced:?}"), &out, 1);
        let err = stderr(&out);
        let said = match announced {
            Some(n) => format!(", S3 announced {n} bytes"),
            None => String::new(),
        };
        assert!(
            err.contains(&format!(
                "s3://b/fleet/records: reading {KEY}: the object is larger than a record may be (64 MiB{said})"
            )),
            "{err}"
        );
        let get = fake
            .seen()
            .into_iter()
            .find(|s| !s.query.contains("list-type"))
            .unwrap();
        assert!(get.cut_off, "the client hung up: {get:?}");
        if announced.is_some() {
            // Refused on its length: what was written sits in the socket
            // buffers (loopback's grow to 32 MiB + 4 MiB on Linux), below
            // the 64 MiB and more that reading up to the limit would take.
            assert!(get.streamed < 48 << 20, "not read at all: {get:?}");
        }
    }
}

/// An error answer whose body never ends is read to 64 KiB, a list page
/// to 8 MiB: the client hangs up long before the end.
#[test]
fn error_bodies_and_list_pages_are_bounded() {
    for status in [403, 200] {
        let fake = FakeS3::start(None, move |_, _| Reply::Stream {
            status,
            announced: None,
            total: BIG,
        });
        let fx = records_in(&fake.url(), "b");
        let out = run(&fx, &["audit", "report", "--records", "--json"]);
        common::assert_code(&out, 1);
        let said = if status == 403 {
            "listing segments/audit/manifests/: S3 answered 403 Forbidden".to_string()
        } else {
            format!(
                "listing segments/audit/manifests/: the answer is larger than {} bytes",
                8 << 20
            )
        };
        assert!(stderr(&out).contains(&said), "{}", stderr(&out));
        let seen = fake.seen();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(seen[0].cut_off, "the client hung up: {:?}", seen[0]);
        assert!(seen[0].streamed < 64 << 20, "{:?}", seen[0]);
    }
}

/// A listing that answers "truncated" with the token it gave before is an
/// error at the second page; one that gives a new token every time ends
/// after 2,000 pages. (The endpoint stops answering after that, so a
/// client without the bounds fails too, differently, instead of hanging.)
#[test]
fn listings_end() {
    for repeat in [true, false] {
        let fake = FakeS3::start(None, move |_, n| {
            if n > 2_010 {
                return Reply::Error(403, "AccessDenied");
            }
            let token = if repeat {
                "again".into()
            } else {
                format!("t{n}")
            };
            ok(list_xml(&[], Some(&token)))
        });
        let fx = records_in(&fake.url(), "b");
        let out = run(&fx, &["audit", "report", "--records", "--json"]);
        common::assert_code(&out, 1);
        let (said, pages) = if repeat {
            (
                "listing segments/audit/manifests/: S3 answered page 2 with a continuation token it gave before",
                2,
            )
        } else {
            (
                "listing segments/audit/manifests/: S3 was still answering \"more\" after 2000 pages",
                2_000,
            )
        };
        assert!(stderr(&out).contains(said), "{}", stderr(&out));
        assert_eq!(fake.seen().len(), pages);
    }
}

/// Holds the first reads until 16 are waiting at once (then one second
/// more, in case a 17th comes), or 30 s; counts how many were waiting.
#[derive(Default)]
struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Default)]
struct GateState {
    waiting: usize,
    sixteenth: Option<Instant>,
    /// How many were waiting when the gate opened.
    opened_at: Option<usize>,
}

impl Gate {
    fn pass(&self) {
        let mut s = self.state.lock().unwrap();
        if s.opened_at.is_some() {
            return;
        }
        s.waiting += 1;
        if s.waiting == 16 {
            s.sixteenth = Some(Instant::now());
        }
        self.changed.notify_all();
        let start = Instant::now();
        while s.opened_at.is_none() {
            let full = s.waiting > 16
                || s.sixteenth
                    .is_some_and(|t| t.elapsed() >= Duration::from_secs(1));
            // A generous deadline: on a loaded machine the first 16 reads
            // can take long to arrive; the gate only opens early if they
            // never do.
            if full || start.elapsed() >= Duration::from_secs(120) {
                s.opened_at = Some(s.waiting);
                self.changed.notify_all();
                break;
            }
            s = self
                .changed
                .wait_timeout(s, Duration::from_millis(50))
                .unwrap()
                .0;
        }
    }
}

fn entry(i: usize) -> Vec<u8> {
    format!(
        r#"{{"time":"2026-11-22T12:00:{i:02}Z","action":"plan","actor":"ops","customer":"acme","environment":"staging","result":"ok","detail":"record {i}"}}"#
    )
    .into_bytes()
}

/// 40 audit records: the first 16 reads are all under way at once (and
/// never a 17th), and the report lists the records in key order, as
/// before, whatever order the answers came in; the dashboard reads them
/// the same way.
#[test]
fn records_are_read_sixteen_at_once_and_kept_in_order() {
    let keys: Vec<String> = (0..40)
        .map(|i| format!("audit/2026/11/22/20261122T1200{i:02}.000Z-000000000000.json"))
        .collect();
    let full: Vec<String> = keys.iter().map(|k| format!("fleet/records/{k}")).collect();
    let gate = Arc::new(Gate::default());
    let held = gate.clone();
    let fake = FakeS3::start(None, move |req, _| {
        if req.is_list() {
            let audit = req.query.contains("prefix=fleet%2Frecords%2Faudit%2F");
            return ok(list_xml(if audit { &full } else { &[] }, None));
        }
        held.pass();
        let i = full
            .iter()
            .position(|k| req.path.ends_with(k.as_str()))
            .expect("a listed key");
        // Later keys answer first within a window.
        std::thread::sleep(Duration::from_millis(40 - i as u64));
        ok(entry(i))
    });
    let fx = records_in(&fake.url(), "b");
    let out = run(&fx, &["audit", "report", "--records", "--json"]);
    common::assert_ok(&out);
    assert_eq!(gate.state.lock().unwrap().opened_at, Some(16));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let order: Vec<&str> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["record_key"].as_str().unwrap())
        .collect();
    assert_eq!(order, keys);

    let html = fx.path("dashboard.html");
    let out = run(
        &fx,
        &["report", "--html", html.to_str().unwrap(), "--records"],
    );
    common::assert_ok(&out);
    let gets = fake
        .seen()
        .iter()
        .filter(|s| s.method == "GET" && !s.query.contains("list-type"))
        .count();
    assert_eq!(gets, 80, "40 by the report, 40 by the dashboard");
}
