//! ETags kept between runs (`--etag-cache FILE`, src/github/etags.rs) for
//! the scheduled commands: the next run sends each read's ETag, the fake
//! GitHub answers 304 when nothing changed (as GitHub does, without
//! counting it against the primary rate limit), and the run comes to the
//! same result from the cached bodies. The cache file holds no token;
//! with the manager's artifact secret (`FLEETFORM_ARTIFACT_KEY`, set in
//! every manager step of these tests) it is sealed, and a file that does
//! not open is read as empty.

use crate::common;
use crate::world;

use serde_json::{json, Value};
use world::{World, MANAGER};

/// acme's and globex's staging applied from their checkouts, then the
/// registry without `path:`: drift reads each customer's files from its
/// repo's default branch.
fn github_mode() -> World {
    let w = World::new();
    for customer in ["acme", "globex"] {
        common::apply_locally(&w.fx, customer, "staging");
    }
    let registry = w.fx.read("manager/customers.yml");
    let without: String = registry
        .lines()
        .filter(|l| !l.trim_start().starts_with("path:"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(registry, without);
    w.fx.write("manager/customers.yml", &without);
    w
}

/// What one run cost: requests sent, reads answered 200, 304 answers,
/// requests counted against the primary limit; and the run's JSON report.
struct Cost {
    requests: usize,
    read: usize,
    not_modified: usize,
    counted: u64,
    /// Requests sent with `If-None-Match`.
    conditional: usize,
    report: Value,
    stderr: String,
}

fn drift(w: &mut World, extra: &[&str]) -> Cost {
    w.gh.reset_counters();
    let used = w.gh.rate_limit_used();
    let (cmd, _) = w.step(MANAGER, "schedule", &json!({}), &"e".repeat(40));
    let out = common::Run::from(cmd)
        .args(["drift", "--customer", "acme,globex", "--env", "staging"])
        .args(["--json", "--manager-repo", MANAGER])
        .args(extra)
        .output();
    // 0: no drift, 4: drift (the changed file below).
    let code = out.status.code();
    assert!(matches!(code, Some(0 | 4)), "{}", common::stderr(&out));
    let requests = w.gh.requests();
    Cost {
        requests: requests.len(),
        read: requests
            .iter()
            .filter(|r| r.method == "GET" && r.status == 200)
            .count(),
        not_modified: requests.iter().filter(|r| r.status == 304).count(),
        counted: w.gh.rate_limit_used() - used,
        conditional: requests
            .iter()
            .filter(|r| r.headers.iter().any(|(h, _)| h == "if-none-match"))
            .count(),
        report: serde_json::from_str(&out.stdout).unwrap(),
        stderr: common::stderr(&out),
    }
}

#[test]
fn a_scheduled_drift_reads_unchanged_files_as_304s_from_its_etag_cache() {
    let mut w = github_mode();
    let cache = w.scratch.path().join("cache/etags.json");
    let flag = ["--etag-cache", cache.to_str().unwrap()];

    let first = drift(&mut w, &flag);
    // Each customer's variables file (200) and staging override file
    // (probed: 200, or 404 where there is none; a 404 has no ETag).
    assert!(first.read >= 2, "{}", first.read);
    assert_eq!(first.not_modified, 0);
    assert_eq!(first.counted, first.requests as u64);
    let kept = std::fs::read(&cache).unwrap();
    assert!(!kept.is_empty());
    assert!(!contains(&kept, w.gh.token()), "the cache holds no token");

    let second = drift(&mut w, &flag);
    assert_eq!(second.requests, first.requests);
    assert_eq!(second.read, 0);
    assert_eq!(
        second.not_modified, first.read,
        "every file read is unchanged"
    );
    let misses = (first.requests - first.read) as u64;
    assert_eq!(second.counted, misses, "a 304 is not counted");
    assert_eq!(second.report["not_modified"], json!(first.read));
    for key in ["checked", "clean", "drifted", "unapplied", "errors"] {
        assert_eq!(second.report[key], first.report[key], "{key}");
    }

    // A changed file is read again (200), the others still 304.
    let vars = w.fx.read("customers/acme/infra/variables.yml");
    let changed = vars.replace("max_instances: 2", "max_instances: 9");
    assert_ne!(vars, changed);
    w.gh.commit(
        world::ACME,
        "main",
        &[("infra/variables.yml", changed.as_str())],
    );
    let third = drift(&mut w, &flag);
    assert_eq!(third.requests, first.requests);
    assert_eq!(third.read, 1);
    assert_eq!(third.not_modified, first.read - 1);
    assert_eq!(third.counted, misses + 1);
    assert_eq!(third.report["unapplied"].as_array().map(Vec::len), Some(1));

    // Without the flag nothing is conditional.
    let plain = drift(&mut w, &[]);
    assert_eq!(plain.not_modified, 0);
    assert_eq!(plain.counted, plain.requests as u64);
    w.gh.assert_clean();
}

#[test]
fn a_scheduled_doctor_reads_unchanged_settings_as_304s() {
    let gh = crate::doctor::manager::configured();
    let fx = common::Fixture::new();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("etags.json");
    let flag = ["--etag-cache", cache.to_str().unwrap()];
    let first = crate::doctor::manager::doctor(&gh, &fx, &[], &flag);
    assert_eq!(first.code, 0, "{}", first.stdout);
    let sent = gh.request_count();
    let read = gh
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.status == 200)
        .count();
    assert!(read > 10, "{read}");
    assert!(gh.requests().iter().all(|r| r.status != 304));
    gh.reset_counters();
    let used = gh.rate_limit_used();
    let second = crate::doctor::manager::doctor(&gh, &fx, &[], &flag);
    assert_eq!(second.stdout, first.stdout);
    assert_eq!(gh.request_count(), sent);
    let not_modified = gh.requests().iter().filter(|r| r.status == 304).count();
    assert_eq!(
        not_modified, read,
        "every read answered 200 before is a 304"
    );
    assert_eq!(gh.rate_limit_used() - used, (sent - read) as u64);
    gh.assert_clean();
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// With the artifact secret the cache on disk is ciphertext: no URL, path,
/// ETag or file content of a customer in clear; the second run still reads
/// every unchanged file as a 304. A tampered file is not trusted: the run
/// says so, sends every read unconditionally and comes to the same result,
/// and seals a good cache again. Without the secret the file is kept in
/// clear, as before, and the run says how to seal it.
#[test]
fn a_sealed_etag_cache_holds_no_customer_value_and_a_tampered_one_is_read_again() {
    let mut w = github_mode();
    let cache = w.scratch.path().join("cache/etags.json");
    let flag = ["--etag-cache", cache.to_str().unwrap()];

    let first = drift(&mut w, &flag);
    assert!(first.read >= 2, "{}", first.read);
    assert_eq!(first.conditional, 0);
    assert!(!first.stderr.contains("unsealed"), "{}", first.stderr);
    let sealed = std::fs::read(&cache).unwrap();
    let content =
        w.gh.file_at(world::ACME, "main", "infra/variables.yml")
            .unwrap();
    let encoded = base64_of(&content);
    for clear in [
        "acme-corp",
        "acme-infra",
        "globex",
        "variables.yml",
        "entries",
        "etag",
        &encoded[..24],
        "acme-shop",
    ] {
        assert!(!contains(&sealed, clear), "{clear} in clear on disk");
    }

    let second = drift(&mut w, &flag);
    assert_eq!(second.read, 0);
    assert_eq!(second.not_modified, first.read, "{}", second.stderr);
    assert_eq!(second.conditional, first.read);
    assert!(
        !second.stderr.contains("read as empty"),
        "{}",
        second.stderr
    );

    // One byte of the ciphertext changed: read as empty, with a note.
    let mut tampered = std::fs::read(&cache).unwrap();
    let mid = tampered.len() / 2;
    tampered[mid] ^= 0x20;
    std::fs::write(&cache, &tampered).unwrap();
    let third = drift(&mut w, &flag);
    assert!(third.stderr.contains("read as empty"), "{}", third.stderr);
    assert_eq!(third.conditional, 0, "nothing of the tampered file is sent");
    assert_eq!(third.not_modified, 0);
    assert_eq!(third.read, first.read);
    for key in ["checked", "clean", "drifted", "unapplied", "errors"] {
        assert_eq!(third.report[key], first.report[key], "{key}");
    }
    // That run sealed a good cache again.
    assert_eq!(drift(&mut w, &flag).not_modified, first.read);

    // Without the secret: a sealed file is not read, and the one kept
    // instead is in clear, with a note on how to seal it.
    let (cmd, _) = w.step(MANAGER, "schedule", &json!({}), &"e".repeat(40));
    let out = common::Run::from(cmd)
        .env_remove("FLEETFORM_ARTIFACT_KEY")
        .args(["drift", "--customer", "acme,globex", "--env", "staging"])
        .args(["--manager-repo", MANAGER])
        .args(flag)
        .output();
    assert!(matches!(out.status.code(), Some(0 | 4)));
    let stderr = common::stderr(&out);
    assert!(stderr.contains("kept unsealed"), "{stderr}");
    assert!(stderr.contains("FLEETFORM_ARTIFACT_KEY"), "{stderr}");
    assert!(!stderr.contains(common::ARTIFACT_KEY), "{stderr}");
    let clear = std::fs::read(&cache).unwrap();
    assert!(contains(&clear, "acme-corp/acme-infra"));

    // A key too short to seal with stops the run before any read: it is
    // never taken for no key (the cache kept in clear).
    let (cmd, _) = w.step(MANAGER, "schedule", &json!({}), &"e".repeat(40));
    w.gh.reset_counters();
    let out = common::Run::from(cmd)
        .env("FLEETFORM_ARTIFACT_KEY", "short")
        .args(["drift", "--customer", "acme", "--env", "staging"])
        .args(flag)
        .output();
    assert_eq!(out.status.code(), Some(2));
    let stderr = common::stderr(&out);
    assert!(
        stderr.contains("FLEETFORM_ARTIFACT_KEY is shorter"),
        "{stderr}"
    );
    assert_eq!(w.gh.request_count(), 0);
    assert_eq!(std::fs::read(&cache).unwrap(), clear, "left as it was");
    w.gh.assert_clean();
}

/// The base64 GitHub's contents API gives `bytes` in (no line breaks).
fn base64_of(bytes: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
