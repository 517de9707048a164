//! Issue #57: an adoption's release has the four eyes of a day-2 state
//! operation. `adopt release --preview` seals what leaves the state (the
//! adopted addresses, the state's digest, the adoption it undoes) and
//! prints the digest; `adopt release --sha256 DIGEST` runs exactly that
//! preview, only if the state is still the one previewed, only after a
//! second person (a review of the run, or on Team/Pro a confirming run by
//! another operator; `--unreviewed` on a workstation), recorded; and the
//! cloud is never touched.

use serde_json::Value;

use crate::adopt::cloud::{adopt_audit, apply_args, plan_digest, statuses, ENV};
use crate::adopt::github::{mapped_on_github, REPO};
use crate::common;
use crate::fakecloud;
use crate::local::four_eyes::{
    in_run, refused_in_run, the_requester_cannot_confirm, MANAGER, OPS_WORKFLOW,
};
use crate::local::ops::C01_R;
use crate::support::fake_github::FakeGitHub;
use crate::support::rollout_world::World;

/// c01 adopted (on a workstation, unreviewed), on a fake GitHub with the
/// operators team prov/ops (ops-dana, ops-erin) and c01's repo with an
/// open pull request (its number).
fn adopted() -> (World, FakeGitHub, u64) {
    let (w, gh, pr) = mapped_on_github();
    let digest = plan_digest(&w, "c01");
    w.expect(
        0,
        &[&apply_args("c01", &digest)[..], &["--unreviewed"]].concat(),
    );
    assert_eq!(statuses(&w), [("c01".into(), "adopted".into())]);
    (w, gh, pr)
}

const RELEASE: [&str; 6] = ["adopt", "release", "--customer", "c01", "--env", ENV];

/// The adoption's audit lines of its release (not of the adoption).
fn releases(w: &World) -> Vec<Value> {
    adopt_audit(w)
        .into_iter()
        .filter(|e| e["result"] != "ok")
        .collect()
}

/// `adopt release --preview` in run `run` by `actor`: what the approver
/// reads, and the digest (also the job output `digest`).
fn preview(w: &World, gh: &FakeGitHub, run: u64, actor: &str) -> (String, String) {
    let args = [&RELEASE[..], &["--reason", "handed back", "--preview"]].concat();
    let out = in_run(w, gh, run, actor, &args);
    common::assert_code(&out, 0);
    let text = out.stdout.clone();
    let digest = common::digest_of(&text);
    let outputs = w.fx.read(&format!("outputs-{run}"));
    assert!(outputs.contains(&digest), "the job output: {outputs}");
    (text, digest)
}

fn release(digest: &str) -> Vec<&str> {
    [&RELEASE[..], &["--sha256", digest, "--github"]].concat()
}

#[test]
fn on_actions_a_release_runs_its_sealed_preview_only_after_someone_else_approved() {
    let (w, gh, pr) = adopted();
    let cloud = fakecloud::objects(&w.cloud_file);
    let refused = |run: u64, actor: &str, args: &[&str], why: &str| {
        let out = in_run(&w, &gh, run, actor, args);
        common::assert_code(&out, 3);
        assert!(
            common::stderr(&out).contains(why),
            "{why}: {}",
            common::stderr(&out)
        );
        assert!(releases(&w).is_empty(), "nothing released");
        assert_eq!(statuses(&w), [("c01".into(), "adopted".into())]);
    };
    // On Actions a release is not run in one step.
    let direct = [
        &RELEASE[..],
        &["--reason", "handed back", "--confirms", "7"],
    ]
    .concat();
    refused(70, "ops-dana", &direct, "previewed first");
    // The preview: state only, the adopted addresses, the adoption undone.
    let (text, digest) = preview(&w, &gh, 80, "ops-dana");
    for said in [
        "### fleetform `adopt release` on `c01/staging`: preview",
        "**State only: nothing in the cloud changes.** It undoes the adoption applied from plan `sha256:",
        "| Operation | `terraform state rm` `fakecloud_bucket.logs` `fakecloud_instance.web[0]` `fakecloud_network.main` |",
        "- `fakecloud_bucket.logs`: in the state",
        "| Why | handed back |",
        "`confirms` `80` and this digest",
    ] {
        assert!(text.contains(said), "{said}: {text}");
    }
    assert!(releases(&w).is_empty(), "a preview changes nothing");
    let apply = release(&digest);
    refused(80, "mallory", &apply, "not an active member of `prov/ops`");
    refused(
        80,
        "ops-dana",
        &[&apply[..], &["--unreviewed"]].concat(),
        "--unreviewed is for a workstation",
    );
    refused(
        80,
        "ops-dana",
        &apply,
        "no one approved the deployment to `staging-apply` in run 80",
    );
    gh.review_run(MANAGER, 80, "staging-apply", "ops-dana", "approved");
    refused(80, "ops-dana", &apply, "self-review");
    refused(
        80,
        "ops-dana",
        &release(&"a".repeat(64)),
        "not the approved",
    );
    // Not through `state apply`, which would not record the release.
    let state_apply = [
        "state",
        "apply",
        "--customer",
        "c01",
        "--env",
        ENV,
        "--sha256",
        &digest,
    ];
    refused(
        80,
        "ops-dana",
        &state_apply,
        "`fleetform adopt release --sha256",
    );
    // Someone else approved: released, recorded with both, the cloud as
    // it was, and the customer's repo told.
    gh.review_run(MANAGER, 80, "staging-apply", "ops-erin", "approved");
    let out = in_run(&w, &gh, 80, "ops-dana", &apply);
    common::assert_code(&out, 0);
    assert_eq!(
        fakecloud::objects(&w.cloud_file),
        cloud,
        "the cloud untouched"
    );
    assert_eq!(statuses(&w), [("c01".into(), "released".into())]);
    let audit = releases(&w);
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["result"], "released");
    assert_eq!(audit[0]["approval"], "approved");
    assert_eq!(audit[0]["approvers"], serde_json::json!(["ops-erin"]));
    assert_eq!(audit[0]["plan_sha256"], digest.as_str());
    assert_eq!(audit[0]["reason"], "handed back");
    let detail = audit[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("approved by ops-erin (asked by ops-dana)")
            && detail.contains(&format!("sealed preview sha256:{digest}")),
        "{detail}"
    );
    let record = released_record(&w);
    assert_eq!(record["preview_sha256"], digest.as_str(), "{record}");
    assert_eq!(
        record["approval"],
        "approved by ops-erin (asked by ops-dana)"
    );
    let plan = crate::local::ops::plan(&w, &[]);
    assert_eq!(
        crate::local::ops::counts(&plan),
        (3, 0, 0),
        "forgotten: {plan:#}"
    );
    let comments = gh.comments(REPO, pr);
    assert!(
        comments
            .last()
            .unwrap()
            .body
            .contains("the release of `fakecloud_"),
        "{comments:?}"
    );
    // Nothing left to release: the preview is not run twice.
    refused_again(&w, &gh, &apply);
}

fn refused_again(w: &World, gh: &FakeGitHub, apply: &[&str]) {
    refused_in_run(w, gh, 80, "ops-dana", apply, "no adoption to release");
    assert_eq!(releases(w).len(), 1);
}

/// The adoption record `released` of c01/staging.
fn released_record(w: &World) -> Value {
    let dir =
        w.fx.path(&format!("manager/.fleetform/records/adoptions/c01/_/{ENV}"));
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().ends_with("-released.json"))
        .unwrap_or_else(|| panic!("no released record in {}", dir.display()));
    serde_json::from_slice(&std::fs::read(file.path()).unwrap()).unwrap()
}

#[test]
fn on_team_and_pro_another_operator_confirms_a_release_of_the_state_previewed() {
    let (w, gh, _) = adopted();
    let cloud = fakecloud::objects(&w.cloud_file);
    let (_, digest) = preview(&w, &gh, 90, "ops-dana");
    let confirm = [&release(&digest)[..], &["--confirms", "90"]].concat();
    the_requester_cannot_confirm(&w, &gh, 90, &confirm);
    // A plain `state rm` preview is not a release.
    let rm = [
        &["state", "rm", "fakecloud_bucket.logs"][..],
        &C01_R[..],
        &["--preview"],
    ]
    .concat();
    let out = in_run(&w, &gh, 92, "ops-dana", &rm);
    common::assert_code(&out, 0);
    let rm_digest = common::digest_of(&out.stdout);
    gh.workflow_run(MANAGER, 92, OPS_WORKFLOW, "ops-dana", "ops-dana");
    let out = in_run(
        &w,
        &gh,
        93,
        "ops-erin",
        &[&release(&rm_digest)[..], &["--confirms", "92"]].concat(),
    );
    common::assert_code(&out, 3);
    assert!(
        common::stderr(&out).contains("is a `state rm`, not the release of c01/staging's adoption"),
        "{}",
        common::stderr(&out)
    );
    assert!(releases(&w).is_empty());
    // The state moved since the release's preview (an address taken out
    // and imported again): refused; preview again.
    let (_, digest) = preview(&w, &gh, 94, "ops-dana");
    gh.workflow_run(MANAGER, 94, OPS_WORKFLOW, "ops-dana", "ops-dana");
    let where_ = [&C01_R[..], &["--unreviewed"]].concat();
    w.expect(
        0,
        &[&["state", "rm", "fakecloud_bucket.logs"][..], &where_].concat(),
    );
    w.expect(
        0,
        &[
            &[
                "state",
                "import",
                "fakecloud_bucket.logs",
                "bucket-c01-staging-logs",
            ][..],
            &where_,
        ]
        .concat(),
    );
    let confirm = [&release(&digest)[..], &["--confirms", "94"]].concat();
    refused_in_run(
        &w,
        &gh,
        95,
        "ops-erin",
        &confirm,
        "the state changed since the preview",
    );
    assert!(releases(&w).is_empty());
    // Previewed again, confirmed by another operator: released.
    let (_, digest) = preview(&w, &gh, 96, "ops-dana");
    gh.workflow_run(MANAGER, 96, OPS_WORKFLOW, "ops-dana", "ops-dana");
    let confirm = [&release(&digest)[..], &["--confirms", "96"]].concat();
    let out = in_run(&w, &gh, 97, "ops-erin", &confirm);
    common::assert_code(&out, 0);
    let audit = releases(&w);
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["actor"], "ops-erin");
    assert_eq!(audit[0]["approvers"], serde_json::json!(["ops-erin"]));
    assert!(audit[0]["detail"]
        .as_str()
        .unwrap()
        .contains("approved by ops-erin (asked by ops-dana)"));
    assert_eq!(
        fakecloud::objects(&w.cloud_file),
        cloud,
        "the cloud untouched"
    );
    assert_eq!(statuses(&w), [("c01".into(), "released".into())]);
    assert!(gh.take_violations().is_empty());
}

/// On a workstation the sealed preview runs with `--unreviewed` only,
/// recorded as unreviewed.
#[test]
fn on_a_workstation_a_sealed_release_runs_only_unreviewed() {
    let (w, _, _) = adopted();
    let out = w.expect(
        0,
        &[&RELEASE[..], &["--reason", "handed back", "--preview"]].concat(),
    );
    let text = out.stdout.clone();
    let digest = common::digest_of(&text);
    let apply = [&RELEASE[..], &["--sha256", &digest]].concat();
    let out = w.expect(3, &apply);
    assert!(
        common::stderr(&out).contains("add --unreviewed"),
        "{}",
        common::stderr(&out)
    );
    assert!(releases(&w).is_empty());
    w.expect(0, &[&apply[..], &["--unreviewed"]].concat());
    let audit = releases(&w);
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["approval"], "unreviewed");
    assert_eq!(audit[0]["reason"], "handed back", "the sealed reason");
    assert_eq!(statuses(&w), [("c01".into(), "released".into())]);
}
