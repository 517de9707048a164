//! Offboarding on GitHub Actions (issue #48 points 1, 3 and 8): the
//! preview job seals the destroy (the job output `digest`, each plan
//! folder as `bundle.sealed`); the destroy job, given only the sealed
//! bundles and the preview file (what the workflow's artifact carries),
//! destroys exactly that digest and only after someone other than who
//! asked let it through, read from the fake GitHub as GitHub answers:
//! no review, a review by the requester, an API error, a review by
//! someone else (Enterprise: the run's deployment review), or a
//! confirming run another operator started (Team/Pro). The preview is a
//! view of its own, snapshotted as GitHub renders it. An archive kept in
//! S3 that is refused or reads back otherwise destroys nothing.

use serde_json::Value;

use crate::common::{self, stderr, stdout, Ran};
use crate::customers::offboard::cloud::{
    addresses, archived, count, digest_of, offboarding_records, revoked,
};
use crate::fake_s3::{ok, FakeS3, Reply};
use crate::moto::Moto;
use crate::support::fake_github::{FakeGitHub, Fault};
use crate::support::four_eyes::{confirmed_by_erin, InRuns};
use crate::support::readme_budgets::Budgets;
use crate::support::rollout_world::World;

const MANAGER: &str = "provider/manager";
const WORKFLOW: &str = ".github/workflows/manager-offboard.yml";
/// The book's "Request budgets" row for offboarding.
const OFFBOARD: &str = "`customers offboard` under GitHub Actions";
const ARTIFACT_KEY: &str = "an artifact key for the offboarding tests, 32+ bytes";

/// c01 revoked (staging and production applied); operators team prov/ops
/// (ops-dana, ops-erin) on a fake GitHub answering for the manager repo.
fn operators() -> (World, FakeGitHub) {
    let w = revoked();
    let gh = w.operators_on_github();
    (w, gh)
}

/// Runs of the offboarding workflow, with its artifact key.
fn offboarding<'a>(w: &'a World, gh: &'a FakeGitHub) -> InRuns<'a> {
    InRuns {
        w,
        gh,
        workflow: WORKFLOW,
        env: &[("FLEETFORM_ARTIFACT_KEY", ARTIFACT_KEY)],
    }
}

/// fleetform in run `run` of the offboarding workflow, started by
/// `actor`; the job's outputs go to `outputs-<run>`.
fn in_run(w: &World, gh: &FakeGitHub, run: u64, actor: &str, args: &[&str]) -> Ran {
    offboarding(w, gh).run(run, actor, args)
}

/// The preview job of run `run`, by `actor`, into `preview-<run>`: its
/// text and the digest it set as the job output.
fn preview(w: &World, gh: &FakeGitHub, run: u64, actor: &str) -> (String, String) {
    gh.reset_counters();
    let out = in_run(
        w,
        gh,
        run,
        actor,
        &[
            "customers",
            "offboard",
            "c01",
            "--reason",
            "contract ended",
            "--out",
            &format!("preview-{run}"),
        ],
    );
    common::assert_code(&out, 0);
    assert_eq!(
        gh.request_count(),
        Budgets::from_book().lead(OFFBOARD),
        "the book's \"Request budgets\": the operator check"
    );
    let text = stdout(&out);
    let outputs = w.fx.read(&format!("outputs-{run}"));
    let digest = outputs
        .lines()
        .find_map(|l| l.strip_prefix("digest="))
        .unwrap_or_else(|| panic!("no job output digest: {outputs:?}"))
        .to_string();
    assert_eq!(digest, digest_of(&text), "the output is the digest shown");
    (text, digest)
}

/// What the destroy job downloads: the preview file, its sealed copy and
/// each plan folder's `bundle.sealed` (nothing else of the preview's
/// folder), into
/// `destroy-<run>`; returns that folder's name.
fn download(w: &World, from_run: u64, to_run: u64) -> String {
    let from = w.fx.path(&format!("manager/preview-{from_run}"));
    let to = format!("destroy-{to_run}");
    let mut copied = Vec::new();
    for rel in [
        "offboard-c01.json",
        "offboard-c01.json.sealed",
        "c01/staging/bundle.sealed",
        "c01/production/bundle.sealed",
    ] {
        let dest = w.fx.path(&format!("manager/{to}/{rel}"));
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(from.join(rel), &dest).unwrap_or_else(|e| panic!("{rel}: {e}"));
        copied.push(rel);
    }
    // The bundle is sealed: the plan's values are not readable in it.
    let bundle = std::fs::read(from.join("c01/staging/bundle.sealed")).unwrap();
    assert!(
        !String::from_utf8_lossy(&bundle).contains("fakecloud_bucket"),
        "a bundle in the clear"
    );
    to
}

fn destroy<'a>(digest: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "customers",
        "offboard",
        "c01",
        "--approve",
        digest,
        "--out",
        out,
    ];
    args.extend(extra);
    args
}

fn offboard_audit(w: &World) -> Vec<Value> {
    w.audit()
        .into_iter()
        .filter(|e| e["action"] == "offboard")
        .collect()
}

/// Nothing destroyed, nothing archived, nothing recorded as destroyed.
fn nothing_happened(w: &World) {
    assert_eq!(count(w, "c01-staging"), 3);
    assert!(count(w, "c01-production") > 0);
    assert!(archived(w, "staging").is_empty());
    assert!(offboard_audit(w).is_empty(), "{:?}", offboard_audit(w));
}

#[test]
fn the_destroy_runs_only_after_someone_else_approved_the_run() {
    let (w, gh) = operators();
    let (_, digest) = preview(&w, &gh, 80, "ops-dana");
    let out_dir = download(&w, 80, 80);
    let refused = |extra: &[&str], why: &str| {
        let out = in_run(&w, &gh, 80, "ops-dana", &destroy(&digest, &out_dir, extra));
        common::assert_code(&out, 3);
        assert!(stderr(&out).contains(why), "{why}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("nothing was destroyed"),
            "{}",
            stderr(&out)
        );
        nothing_happened(&w);
    };
    // No one approved (an environment without required reviewers).
    refused(
        &[],
        "no one approved the deployment to `fleetform-offboard` in run 80",
    );
    // GitHub does not answer: closed.
    gh.inject_matching("GET", "/approvals", Fault::status(403));
    refused(&[], "cannot read who approved run 80");
    // The requester approved it themself.
    gh.review_run(MANAGER, 80, "fleetform-offboard", "ops-dana", "approved");
    refused(&[], "self-review");
    // --unreviewed is for a workstation.
    refused(&["--unreviewed"], "--unreviewed is for a workstation");
    // A digest other than the preview's.
    let other = "ab".repeat(32);
    let out = in_run(&w, &gh, 80, "ops-dana", &destroy(&other, &out_dir, &[]));
    common::assert_code(&out, 3);
    assert!(
        stderr(&out).contains("is not the digest"),
        "{}",
        stderr(&out)
    );
    // Someone else approved another run: not this preview's approval.
    gh.review_run(MANAGER, 81, "fleetform-offboard", "ops-erin", "approved");
    let out = in_run(&w, &gh, 81, "ops-dana", &destroy(&digest, &out_dir, &[]));
    common::assert_code(&out, 3);
    assert!(
        stderr(&out).contains("the offboarding preview was made in run 80, not in run 81"),
        "{}",
        stderr(&out)
    );
    nothing_happened(&w);
    // Someone else approved; but the plans were not downloaded.
    gh.review_run(MANAGER, 80, "fleetform-offboard", "ops-erin", "approved");
    let bare = "destroy-bare";
    for f in ["offboard-c01.json", "offboard-c01.json.sealed"] {
        let bytes = std::fs::read(w.fx.path(&format!("manager/{out_dir}/{f}"))).unwrap();
        std::fs::create_dir_all(w.fx.path(&format!("manager/{bare}"))).unwrap();
        std::fs::write(w.fx.path(&format!("manager/{bare}/{f}")), bytes).unwrap();
    }
    let out = in_run(&w, &gh, 80, "ops-dana", &destroy(&digest, bare, &[]));
    common::assert_code(&out, 3);
    assert!(
        stderr(&out).contains("download the preview job's artifact"),
        "{}",
        stderr(&out)
    );
    nothing_happened(&w);
    // With the sealed plans: everything kept first, then destroyed.
    gh.reset_counters();
    let out = in_run(&w, &gh, 80, "ops-dana", &destroy(&digest, &out_dir, &[]));
    common::assert_code(&out, 0);
    // The book's "Request budgets": who runs it (an operator), and who
    // approved the run.
    let b = Budgets::from_book();
    assert_eq!(
        gh.request_count(),
        b.n(OFFBOARD, " per actor checked") + b.n(OFFBOARD, " (the run's approvals")
    );
    assert!(
        stdout(&out).contains("approved by ops-erin (asked by ops-dana)"),
        "{}",
        stdout(&out)
    );
    assert!(nothing_left(&w), "everything destroyed");
    assert_eq!(addresses(&archived(&w, "staging")[0]).len(), 3);
    let audit = offboard_audit(&w);
    assert_eq!(audit.len(), 2, "{audit:?}");
    for e in &audit {
        assert_eq!(e["result"], "ok", "{e}");
        assert_eq!(e["approval"], "approved", "{e}");
        assert_eq!(e["approvers"], serde_json::json!(["ops-erin"]), "{e}");
        assert_eq!(e["actor"], "ops-dana", "{e}");
        assert!(
            e["detail"].as_str().unwrap().contains(&format!(
                "offboarding {digest}; approved by ops-erin (asked by ops-dana)"
            )),
            "{e}"
        );
    }
    let records = offboarding_records(&w);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["approved_by"], "ops-erin");
    assert_eq!(records[0]["requested_by"], "ops-dana");
    assert_eq!(records[0]["approval"], "approved");
    assert_eq!(records[0]["digest"], digest.as_str());
    assert_eq!(records[0]["preview"]["requested_by"], "ops-dana");
}

#[test]
fn on_team_and_pro_another_operator_confirms_the_preview_run() {
    let (w, gh) = operators();
    let (_, digest) = preview(&w, &gh, 90, "ops-dana");
    gh.workflow_run(MANAGER, 90, WORKFLOW, "ops-dana", "ops-dana");
    let out_dir = download(&w, 90, 91);
    let runs = offboarding(&w, &gh);
    let confirm = |run: u64, actor: &str, confirms: &str| {
        runs.run(
            run,
            actor,
            &destroy(&digest, &out_dir, &["--confirms", confirms]),
        )
    };
    // The requester cannot confirm their own preview.
    runs.requester_cannot_confirm(90, &destroy(&digest, &out_dir, &["--confirms", "90"]));
    // Nor a run of another workflow, nor one GitHub does not know.
    let other = destroy(&digest, &out_dir, &["--confirms", "92"]);
    runs.another_workflow_cannot_confirm(92, 93, &other);
    let out = confirm(93, "ops-erin", "12345");
    common::assert_code(&out, 3);
    assert!(
        stderr(&out).contains("cannot read run 12345"),
        "{}",
        stderr(&out)
    );
    // Another preview run of this workflow, by someone else, confirmed
    // with this preview's plans: not the preview that run made.
    gh.workflow_run(MANAGER, 95, WORKFLOW, "ops-dana", "ops-dana");
    let out = confirm(96, "ops-erin", "95");
    common::assert_code(&out, 3);
    assert!(
        stderr(&out).contains("the offboarding preview was made in run 90, not in run 95"),
        "{}",
        stderr(&out)
    );
    nothing_happened(&w);
    // Another operator confirms: destroyed, both named.
    let out = confirm(94, "ops-erin", "90");
    common::assert_code(&out, 0);
    assert!(nothing_left(&w));
    let audit = offboard_audit(&w);
    assert_eq!(audit.len(), 2, "{audit:?}");
    for e in &audit {
        assert_eq!(e["actor"], "ops-erin", "{e}");
        confirmed_by_erin(e);
    }
    let records = offboarding_records(&w);
    assert_eq!(records[0]["approved_by"], "ops-erin");
    assert_eq!(records[0]["requested_by"], "ops-dana");
}

/// The preview as GitHub renders it: the totals and the digest first, in
/// the future tense, who asks and why, how a second person lets it
/// through, then each pair's addresses; never a pull request's words.
#[test]
fn the_preview_is_a_view_of_its_own_as_github_renders_it() {
    let (w, gh) = operators();
    let (text, _) = preview(&w, &gh, 80, "ops-dana");
    let lower = text.to_lowercase();
    for word in [
        "pull request",
        "merg",
        "gate",
        "/fleetform approve",
        "destroyed in",
    ] {
        assert!(!lower.contains(word), "`{word}` in:\n{text}");
    }
    let first_list = text.find("\n#### ").unwrap();
    for first in [
        "will destroy 7 resources in 2 pairs",
        "Digest `",
        "**Total**",
    ] {
        let at = text
            .find(first)
            .unwrap_or_else(|| panic!("{first}: {text}"));
        assert!(at < first_list, "{first} comes before the lists:\n{text}");
    }
    let html = common::github_html(&text);
    insta::with_settings!({filters => vec![(r"[0-9a-f]{64}", "[digest]")]}, {
        insta::assert_snapshot!("offboard_preview_github", html);
    });
}

/// Records in S3 behind a proxy whose answers for the archived states
/// are set by `mode`: 0 refuses the put, 1 reads back other bytes.
#[test]
fn an_archive_refused_or_read_back_otherwise_destroys_nothing() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let moto = Moto::start();
    let mode = Arc::new(AtomicUsize::new(0));
    let m = mode.clone();
    let proxy = FakeS3::start(Some(moto.port()), move |req, _| {
        if !req.path.contains("/offboarded/") || req.is_list() {
            return Reply::Forward;
        }
        match (m.load(Ordering::SeqCst), req.method.as_str()) {
            (0, "PUT") => Reply::Error(403, "AccessDenied"),
            (1, "GET") => ok(b"{\"resources\": []}".to_vec()),
            _ => Reply::Forward,
        }
    });
    let w = revoked().on_s3_at(&moto, &proxy.url());
    let out = w.expect(
        0,
        &["customers", "offboard", "c01", "--reason", "contract ended"],
    );
    let digest = digest_of(&stdout(&out));
    let approve = [
        "customers",
        "offboard",
        "c01",
        "--approve",
        &digest,
        "--unreviewed",
    ];
    // No recipient to encrypt the states to: none is kept in the bucket
    // in the clear, nothing is destroyed.
    let out = w.expect(3, &approve);
    let err = stderr(&out);
    assert!(err.contains("names no `records.recipient`"), "{err}");
    assert!(err.contains("nothing was destroyed"), "{err}");
    assert_eq!(count(&w, "c01-staging"), 3);
    let (recipient, _) = crate::secrets::cloud::keygen();
    let config = w.fx.read("manager/fleetform.yml").replace(
        "  prefix: fleet/records\n",
        &format!("  prefix: fleet/records\n  recipient: {recipient}\n"),
    );
    w.fx.write("manager/fleetform.yml", &config);
    let out = w.expect(1, &approve);
    let err = stderr(&out);
    assert!(
        err.contains("the state of c01/staging was not archived"),
        "{err}"
    );
    assert!(err.contains("nothing was destroyed"), "{err}");
    assert_eq!(count(&w, "c01-staging"), 3);
    mode.store(1, Ordering::SeqCst);
    let out = w.expect(1, &approve);
    let err = stderr(&out);
    assert!(
        err.contains("the state of c01/staging read back from"),
        "{err}"
    );
    assert!(err.contains("not the"), "{err}");
    assert!(err.contains("nothing was destroyed"), "{err}");
    assert_eq!(count(&w, "c01-staging"), 3);
    assert!(count(&w, "c01-production") > 0);
    // What was written is in the bucket; the proxy only lied about it.
    let kept: Vec<String> = moto
        .keys_in("fleetform-rollouts")
        .into_iter()
        .filter(|k| k.contains("/offboarded/"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    mode.store(2, Ordering::SeqCst);
    w.expect(0, &approve);
    assert!(nothing_left(&w));
}

/// The test cloud holds nothing any more.
fn nothing_left(w: &World) -> bool {
    crate::fakecloud::objects(&w.cloud_file).is_empty()
}
