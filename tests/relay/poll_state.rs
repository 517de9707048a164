//! `fleetform poll`'s state (issue #47): sealed with the manager's artifact
//! secret, so a run that can read or write the Actions cache neither reads
//! it nor plants one poll trusts; a state that is missing, changed, planted
//! or another key's is lost, with a warning, and recovered from the
//! commit statuses fleetform sets: a head never dispatched is dispatched
//! once, a head dispatched and statused is not dispatched again (the relay
//! world of `relay`).

use std::path::Path;

use serde_json::{json, Value};

use crate::common::{stderr, stdout, ARTIFACT_KEY};
use crate::relay::serve::RelayWorld;
use crate::world::{ACME, MANAGER};

/// The manager's status context in the test world (fleetform.yml's
/// default).
const CONTEXT: &str = "infra/terraform-deploy";

/// `fleetform poll` with the artifact secret `key` (none: unset); its
/// report and its stderr.
/// Why these tests keep ETags across tokens.
pub(crate) const POLL_ETAGS: &str = "poll mints a new installation token every run and keeps its ETags across runs: on GitHub they would not match (its ETags differ per token), which these tests do not cover (issue #51)";

fn poll_with(rw: &RelayWorld, state: &Path, key: Option<&str>) -> (Value, String) {
    let mut cmd = rw.w.fx.fleetform();
    cmd.env("GITHUB_API_URL", rw.w.gh.api_url())
        .envs(crate::relay::serve::app_env())
        .env_remove("FLEETFORM_ARTIFACT_KEY")
        .args(["poll", "--json", "--state"])
        .arg(state);
    if let Some(k) = key {
        cmd.env("FLEETFORM_ARTIFACT_KEY", k);
    }
    let out = cmd.output().unwrap();
    crate::world::ok(&out);
    (serde_json::from_str(&stdout(&out)).unwrap(), stderr(&out))
}

fn poll(rw: &RelayWorld, state: &Path) -> (Value, String) {
    poll_with(rw, state, Some(ARTIFACT_KEY))
}

/// What the manager would do for every dispatch it received: a status of
/// the environment's context on the dispatched commit (the plan's).
fn manager_reports(rw: &RelayWorld) {
    for d in rw.w.gh.dispatches(MANAGER) {
        let p = &d["client_payload"];
        let (repo, sha) = (p["customer_repo"].as_str(), p["sha"].as_str());
        let (Some(repo), Some(sha)) = (repo, sha) else {
            panic!("a dispatch without a repo or sha: {d}");
        };
        if rw.w.gh.statuses(repo, sha).is_empty() {
            rw.w.gh
                .add_status(repo, sha, "success", &format!("{CONTEXT}/staging"));
        }
    }
}

/// The (event type, sha) of each dispatch of a report.
fn sent(report: &Value) -> Vec<(String, String)> {
    report["dispatched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            assert_eq!(d["status"], 202, "{d}");
            (
                d["event_type"].as_str().unwrap().to_string(),
                d["sha"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn apply(sha: &str) -> (String, String) {
    ("fleetform-apply".into(), sha.to_string())
}

fn plan(sha: &str) -> (String, String) {
    ("fleetform-plan".into(), sha.to_string())
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// A world polled once (every head dispatched and statused by the
/// manager), with acme's pull request open: the state at `state`.
fn polled_world(state: &Path) -> (RelayWorld, String, u64) {
    let rw = RelayWorld::new();
    rw.w.gh.etags_across_tokens(POLL_ETAGS);
    let feature = rw.w.change_acme("feature", 31);
    let pr = rw.w.gh.open_pr(ACME, "feature", "main", "thirty-one");
    let (first, _) = poll(&rw, state);
    assert_eq!(first["first_seen"], json!(["acme", "globex"]), "{first}");
    assert!(sent(&first).contains(&plan(&feature)), "{first}");
    manager_reports(&rw);
    let (quiet, _) = poll(&rw, state);
    assert!(sent(&quiet).is_empty(), "{quiet}");
    assert_eq!(quiet["not_modified"], 4, "{quiet}");
    assert_eq!(quiet["state_lost"], Value::Null, "{quiet}");
    (rw, feature, pr)
}

#[test]
fn poll_state_is_sealed_and_holds_nothing_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("poll-state.json");
    let (rw, feature, _) = polled_world(&state);
    let bytes = std::fs::read(&state).unwrap();
    assert!(bytes.starts_with(b"FFPOLL1\n"));
    assert!(serde_json::from_slice::<Value>(&bytes).is_err());
    let main = rw.w.gh.branch_head(ACME, "main").unwrap();
    let id = rw.w.gh.repo_id(ACME).to_string();
    for clear in [
        main.as_str(),
        &main[..12],
        &feature[..12],
        &id,
        "head_etag",
        "pulls",
        "variables",
    ] {
        assert!(!contains(&bytes, clear), "{clear} in clear");
    }
    rw.w.gh.assert_clean();
}

/// A state whose bit was flipped, one planted in clear that claims the
/// new head was seen already, and one sealed with another manager's key:
/// each is lost with a warning, and the push made meanwhile is dispatched
/// once.
#[test]
fn a_tampered_state_is_lost_with_a_warning_and_skips_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("poll-state.json");
    let (rw, _, _) = polled_world(&state);
    let good = std::fs::read(&state).unwrap();
    // The same fleet kept by another manager's key, and in clear (every
    // head statused: neither run dispatches anything).
    let other = dir.path().join("other.json");
    let (o, _) = poll_with(&rw, &other, Some(&"another-managers-key-".repeat(3)));
    let clear = dir.path().join("clear.json");
    let (c, _) = poll_with(&rw, &clear, None);
    assert!(sent(&o).is_empty() && sent(&c).is_empty(), "{o} {c}");
    let mut flipped = good.clone();
    let mid = good.len() / 2;
    flipped[mid] ^= 1;
    let cases: [(&str, &str); 3] = [
        ("flipped", "forged"),
        ("planted", "not_sealed"),
        ("another key", "forged"),
    ];
    for (i, (what, code)) in cases.into_iter().enumerate() {
        let main = rw.w.change_acme("main", 40 + i as u32);
        let planted = match what {
            "flipped" => flipped.clone(),
            "planted" => forged_head(&rw, &clear, &main),
            _ => std::fs::read(&other).unwrap(),
        };
        std::fs::write(&state, &planted).unwrap();
        let (lost, err) = poll(&rw, &state);
        assert_eq!(lost["state_lost"], code, "{what}: {lost}");
        assert!(err.contains("warning: the poll state"), "{what}: {err}");
        assert!(err.contains("treated as lost"), "{what}: {err}");
        assert!(!err.contains(ARTIFACT_KEY), "{what}");
        assert_eq!(sent(&lost), vec![apply(&main)], "{what}: {lost}");
        assert_eq!(lost["already_dispatched"].as_array().unwrap().len(), 2);
        manager_reports(&rw);
        let (after, err) = poll(&rw, &state);
        assert!(sent(&after).is_empty(), "{what}: {after}");
        assert!(!err.contains("treated as lost"), "{what}: {err}");
    }
    rw.w.gh.assert_clean();
}

/// `clear` (a state kept without the key) claiming `main` is acme's head
/// seen already: what a writer of the Actions cache would plant to make
/// poll skip the push. Kept without the key, it does (checked on a copy).
fn forged_head(rw: &RelayWorld, clear: &Path, main: &str) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&std::fs::read(clear).unwrap()).unwrap();
    let id = rw.w.gh.repo_id(ACME).to_string();
    v["repos"][&id]["head"] = json!(main);
    v["repos"][&id]["head_etag"] = Value::Null;
    let bytes = serde_json::to_vec(&v).unwrap();
    let copy = clear.with_extension("copy");
    std::fs::write(&copy, &bytes).unwrap();
    let (skipped, _) = poll_with(rw, &copy, None);
    assert!(sent(&skipped).is_empty(), "{skipped}");
    bytes
}

/// The Actions cache loses the state between two pushes: the push made
/// while it was gone is dispatched once; the heads dispatched before and
/// statused (main's last push, the pull request) are not.
#[test]
fn a_state_deleted_between_two_pushes_dispatches_the_push_once() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("poll-state.json");
    let (rw, feature, pr) = polled_world(&state);
    let first = rw.w.change_acme("main", 51);
    let (pushed, _) = poll(&rw, &state);
    assert_eq!(sent(&pushed), vec![apply(&first)], "{pushed}");
    manager_reports(&rw);

    std::fs::remove_file(&state).unwrap();
    let second = rw.w.change_acme("main", 52);
    rw.w.gh.reset_counters();
    let (recovered, err) = poll(&rw, &state);
    assert_eq!(recovered["state_lost"], "missing", "{recovered}");
    assert!(err.contains("no poll state at"), "{err}");
    assert_eq!(sent(&recovered), vec![apply(&second)], "{recovered}");
    let statused: Vec<(Value, Value)> = recovered["already_dispatched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["sha"].clone(), s["pr"].clone()))
        .collect();
    let globex =
        rw.w.gh
            .branch_head(crate::relay::serve::GLOBEX, "main")
            .unwrap();
    assert_eq!(
        statused,
        vec![(json!(feature), json!(pr)), (json!(globex), Value::Null)],
        "{recovered}"
    );
    // One status read per head read without state: acme's main and pull
    // request, globex's main.
    let status_reads =
        rw.w.gh
            .requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path.ends_with("/status"))
            .count();
    assert_eq!(status_reads, 3);
    // README's budget row for a repo without state, F = 3 read files (the
    // variables and the two environments' overrides): acme's head 2 + F +
    // 1 + 2 (not statused: the default branch, the dispatch) and its pull
    // request's statuses 1; globex's head 2 + F + 1 (statused).
    let counted =
        rw.w.gh
            .requests()
            .iter()
            .filter(|r| !r.path.ends_with("/installation") && !r.path.starts_with("/app/"))
            .count();
    assert_eq!(counted, (2 + 3 + 1 + 2 + 1) + (2 + 3 + 1));
    manager_reports(&rw);

    let (again, _) = poll(&rw, &state);
    assert!(sent(&again).is_empty(), "{again}");
    // Lost once more with nothing new: nothing dispatched again.
    std::fs::remove_file(&state).unwrap();
    let (nothing, _) = poll(&rw, &state);
    assert!(sent(&nothing).is_empty(), "{nothing}");
    assert_eq!(rw.w.gh.dispatches(MANAGER).len(), 5);
    rw.w.gh.assert_clean();
}

/// A dispatch GitHub does not take is not recorded as seen: the next run
/// sends it again (once it is taken, never again).
#[test]
fn a_refused_dispatch_is_tried_again_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("poll-state.json");
    let (rw, _, _) = polled_world(&state);
    let main = rw.w.change_acme("main", 61);
    rw.w.gh.inject_matching(
        "POST",
        "/dispatches",
        crate::support::fake_github::Fault::status(422),
    );
    let out =
        rw.w.fx
            .fleetform()
            .env("GITHUB_API_URL", rw.w.gh.api_url())
            .envs(crate::relay::serve::app_env())
            .args(["poll", "--json", "--state"])
            .arg(&state)
            .output()
            .unwrap();
    crate::common::assert_code(&out, 1);
    assert!(
        stderr(&out).contains("1 dispatch refused"),
        "{}",
        stderr(&out)
    );
    let (retried, _) = poll(&rw, &state);
    assert_eq!(sent(&retried), vec![apply(&main)], "{retried}");
    let (after, _) = poll(&rw, &state);
    assert!(sent(&after).is_empty(), "{after}");
}

/// Without the artifact secret the state is kept in clear, with a warning
/// on every run; a sealed state is then lost (no key to open it).
#[test]
fn without_the_key_the_state_is_kept_in_clear_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("poll-state.json");
    let (rw, _, _) = polled_world(&state);
    let (no_key, err) = poll_with(&rw, &state, None);
    assert_eq!(no_key["state_lost"], "no_key", "{no_key}");
    assert!(sent(&no_key).is_empty(), "{no_key}");
    assert!(err.contains("is kept unsealed"), "{err}");
    assert!(err.contains("FLEETFORM_ARTIFACT_KEY"), "{err}");
    let clear: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert!(clear["repos"].is_object(), "{clear}");
    let (again, err) = poll_with(&rw, &state, None);
    assert_eq!(again["state_lost"], Value::Null, "{again}");
    assert_eq!(again["not_modified"], 4, "{again}");
    assert!(err.contains("is kept unsealed"), "{err}");
    // A short key stops the run rather than keeping the state in clear.
    let out =
        rw.w.fx
            .fleetform()
            .env("GITHUB_API_URL", rw.w.gh.api_url())
            .envs(crate::relay::serve::app_env())
            .env("FLEETFORM_ARTIFACT_KEY", "short")
            .args(["poll", "--state"])
            .arg(&state)
            .output()
            .unwrap();
    crate::common::assert_code(&out, 2);
}

/// `manager-poll.yml` hands the artifact secret from the `poll`
/// environment to the poll step alone, through `env:` (never `${{ }}` in
/// `run:`), so the state it keeps in the Actions cache is sealed.
#[test]
fn the_poll_template_seals_its_state_with_the_environments_secret() {
    let doc = crate::templates::jobs::load("workflows/manager-poll.yml");
    let job = &doc["jobs"]["poll"];
    assert_eq!(job["environment"].as_str(), Some("poll"));
    let steps = job["steps"].as_sequence().unwrap();
    let with_key: Vec<&yaml_serde::Value> = steps
        .iter()
        .filter(|st| {
            yaml_serde::to_string(st)
                .unwrap()
                .contains("FLEETFORM_ARTIFACT_KEY")
        })
        .collect();
    assert_eq!(with_key.len(), 1, "{with_key:?}");
    let step = with_key[0];
    assert_eq!(
        step["env"]["FLEETFORM_ARTIFACT_KEY"].as_str(),
        Some("${{ secrets.FLEETFORM_ARTIFACT_KEY }}")
    );
    let run = step["run"].as_str().unwrap();
    assert!(
        run.contains("fleetform poll") && !run.contains("${{"),
        "{run}"
    );
}
