//! Issue #48 points 1, 2 and 8 for day-2 operations and targeted applies:
//! a sealed preview, a second person read from GitHub (a review of the
//! run, or a confirming run on Team/Pro), `--unreviewed` on a workstation,
//! the registered environments, what the approver reads; and issue #50's
//! one way to run Terraform for every state operation.

use serde_json::Value;

use crate::common::{self, Ran};
use crate::fakecloud;
use crate::local::ops::{applied, audit_of, counts, plan, C01_R, ENV, MODULE};
use crate::support::fake_github::FakeGitHub;
use crate::support::four_eyes::{confirmed_by_erin, InRuns};
use crate::support::rollout_world::World;

/// A world whose operators team is prov/ops (ops-dana, ops-erin), and
/// a fake GitHub answering for the manager repo.
fn operators() -> (World, FakeGitHub) {
    let w = applied();
    let gh = w.operators_on_github();
    (w, gh)
}

pub(crate) const MANAGER: &str = "provider/manager";
pub(crate) const OPS_WORKFLOW: &str = ".github/workflows/manager-ops.yml";

/// Runs of the ops workflow.
pub(crate) fn ops<'a>(w: &'a World, gh: &'a FakeGitHub) -> InRuns<'a> {
    InRuns {
        w,
        gh,
        workflow: OPS_WORKFLOW,
        env: &[],
    }
}

/// fleetform in run `run` of the ops workflow, started by `actor`.
pub(crate) fn in_run(w: &World, gh: &FakeGitHub, run: u64, actor: &str, args: &[&str]) -> Ran {
    ops(w, gh).run(run, actor, args)
}

/// Team/Pro's four eyes on an ops run (`confirm` confirms `preview`):
/// see [`InRuns::requester_cannot_confirm`].
pub(crate) fn the_requester_cannot_confirm(
    w: &World,
    gh: &FakeGitHub,
    preview: u64,
    confirm: &[&str],
) {
    ops(w, gh).requester_cannot_confirm(preview, confirm);
}

/// `args` run by `actor` in ops run `run`: refused (exit 3), saying `says`.
pub(crate) fn refused_in_run(
    w: &World,
    gh: &FakeGitHub,
    run: u64,
    actor: &str,
    args: &[&str],
    says: &str,
) {
    ops(w, gh).refused(run, actor, args, says);
}

const RM: [&str; 8] = [
    "state",
    "rm",
    "fakecloud_bucket.logs",
    "--customer",
    "c01",
    "--env",
    ENV,
    "--reason",
];

/// `state rm fakecloud_bucket.logs --preview` in run `run`: its digest.
fn preview_rm(w: &World, gh: &FakeGitHub, run: u64, actor: &str) -> String {
    let out = in_run(
        w,
        gh,
        run,
        actor,
        &[&RM[..], &["handover", "--preview"]].concat(),
    );
    common::assert_code(&out, 0);
    let text = out.stdout.clone();
    assert!(
        text.contains("State only: nothing in the cloud changes"),
        "{text}"
    );
    assert!(
        text.contains("`fakecloud_bucket.logs`: in the state"),
        "{text}"
    );
    common::digest_of(&text)
}

fn state_apply(digest: &str) -> Vec<&str> {
    vec![
        "state",
        "apply",
        "--customer",
        "c01",
        "--env",
        ENV,
        "--sha256",
        digest,
    ]
}

#[test]
fn on_github_actions_only_operators_operate() {
    let (w, gh) = operators();
    refused_in_run(
        &w,
        &gh,
        70,
        "mallory",
        &[&RM[..], &["handover", "--preview"]].concat(),
        "not an active member of `prov/ops`",
    );
    // A targeted plan is refused the same way.
    let plan = [
        "plan",
        "--customer",
        "c01",
        "--env",
        ENV,
        "--replace",
        "fakecloud_bucket.logs",
        "--reason",
        "r",
    ];
    common::assert_code(&in_run(&w, &gh, 70, "mallory", &plan), 3);
    // An operator runs nothing in one step on Actions: preview first.
    refused_in_run(
        &w,
        &gh,
        71,
        "ops-dana",
        &[&RM[..], &["handover"]].concat(),
        "previewed first",
    );
    // Nor with --unreviewed, which is for a workstation.
    let digest = preview_rm(&w, &gh, 72, "ops-dana");
    let out = in_run(
        &w,
        &gh,
        72,
        "ops-dana",
        &[&state_apply(&digest)[..], &["--unreviewed"]].concat(),
    );
    common::assert_code(&out, 3);
    assert!(common::stderr(&out).contains("--unreviewed is for a workstation"));
    assert!(audit_of(&w, "state").is_empty(), "refused before running");
}

#[test]
fn a_state_operation_runs_only_after_someone_else_approved_the_run() {
    let (w, gh) = operators();
    let digest = preview_rm(&w, &gh, 80, "ops-dana");
    let apply = state_apply(&digest);
    let refused = |why: &str| {
        let out = in_run(&w, &gh, 80, "ops-dana", &apply);
        common::assert_code(&out, 3);
        assert!(
            common::stderr(&out).contains(why),
            "{why}: {}",
            common::stderr(&out)
        );
        assert!(audit_of(&w, "state").is_empty(), "nothing ran");
    };
    // No one approved (an environment without required reviewers).
    refused("no one approved the deployment to `staging-apply` in run 80");
    // GitHub does not answer: closed.
    gh.inject_matching(
        "GET",
        "/approvals",
        crate::support::fake_github::Fault::status(403),
    );
    refused("cannot read who approved run 80");
    // The requester approved it themself.
    gh.review_run(MANAGER, 80, "staging-apply", "ops-dana", "approved");
    refused("self-review");
    // A digest other than the preview's.
    let other = in_run(&w, &gh, 80, "ops-dana", &state_apply(&"a".repeat(64)));
    common::assert_code(&other, 3);
    assert!(
        common::stderr(&other).contains("not the approved"),
        "{}",
        common::stderr(&other)
    );
    // Someone else approved: a preview that arrived without its sealed
    // copy (made by no job holding the artifact key) still runs nothing
    // (#81 point 9), nor one sealed with another key.
    gh.review_run(MANAGER, 80, "staging-apply", "ops-erin", "approved");
    let sealed =
        w.fx.path("manager/.fleetform/out/c01/staging/state-op.json.sealed");
    let kept = std::fs::read(&sealed).unwrap();
    std::fs::remove_file(&sealed).unwrap();
    refused("arrived without its sealed copy");
    let mut forged = kept.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    std::fs::write(&sealed, &forged).unwrap();
    let out = in_run(&w, &gh, 80, "ops-dana", &apply);
    common::assert_code(&out, 3);
    assert!(audit_of(&w, "state").is_empty(), "nothing ran");
    std::fs::write(&sealed, &kept).unwrap();
    // Sealed as made: it runs, and the record names both.
    let out = in_run(&w, &gh, 80, "ops-dana", &apply);
    common::assert_code(&out, 0);
    let audit = audit_of(&w, "state");
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["approval"], "approved");
    assert_eq!(audit[0]["approvers"], serde_json::json!(["ops-erin"]));
    assert_eq!(audit[0]["plan_sha256"], digest.as_str());
    assert_eq!(audit[0]["reason"], "handover");
    assert!(
        audit[0]["detail"]
            .as_str()
            .unwrap()
            .contains("approved by ops-erin (asked by ops-dana)"),
        "{}",
        audit[0]
    );
    // Forgotten, not destroyed.
    assert!(
        fakecloud::objects(&w.cloud_file).contains_key("fakecloud_bucket/bucket-c01-staging-logs")
    );
}

#[test]
fn on_team_and_pro_another_operator_confirms_the_preview_run() {
    let (w, gh) = operators();
    let digest = preview_rm(&w, &gh, 90, "ops-dana");
    let confirm = [&state_apply(&digest)[..], &["--confirms", "90"]].concat();
    let runs = ops(&w, &gh);
    runs.requester_cannot_confirm(90, &confirm);
    // Nor a run that is not the preview's workflow.
    runs.another_workflow_cannot_confirm(
        92,
        93,
        &[&state_apply(&digest)[..], &["--confirms", "92"]].concat(),
    );
    // A run GitHub does not know.
    let out = in_run(
        &w,
        &gh,
        93,
        "ops-erin",
        &[&state_apply(&digest)[..], &["--confirms", "12345"]].concat(),
    );
    common::assert_code(&out, 3);
    assert!(audit_of(&w, "state").is_empty());
    // The state moved since the preview: preview again.
    w.expect(0, &["plan", "--customer", "c01", "--env", ENV]);
    let module = w.fx.read(MODULE);
    w.fx.write(MODULE, &format!("{module}\nresource \"fakecloud_bucket\" \"more\" {{\n  name = \"${{var.customer}}-more\"\n}}\n"));
    w.expect(0, &["plan", "--customer", "c01", "--env", ENV]);
    w.expect(0, &["apply", "--customer", "c01", "--env", ENV]);
    refused_in_run(
        &w,
        &gh,
        94,
        "ops-erin",
        &confirm,
        "the state changed since the preview",
    );
    // Previewed again, confirmed by another operator: it runs.
    let digest = preview_rm(&w, &gh, 95, "ops-dana");
    gh.workflow_run(MANAGER, 95, OPS_WORKFLOW, "ops-dana", "ops-dana");
    let out = in_run(
        &w,
        &gh,
        96,
        "ops-erin",
        &[&state_apply(&digest)[..], &["--confirms", "95"]].concat(),
    );
    common::assert_code(&out, 0);
    let audit = audit_of(&w, "state");
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["actor"], "ops-erin");
    confirmed_by_erin(&audit[0]);
}

#[test]
fn state_operations_act_only_where_the_customer_is_registered() {
    let w = applied();
    let out = w.expect(
        2,
        &[
            "state",
            "rm",
            "fakecloud_bucket.logs",
            "--customer",
            "c01",
            "--env",
            "production",
            "--reason",
            "r",
            "--unreviewed",
        ],
    );
    assert!(
        common::stderr(&out).contains("environment `production` is not enabled for `c01`"),
        "{}",
        common::stderr(&out)
    );
    assert!(audit_of(&w, "state").is_empty());
}

/// Markdown as GitHub renders it, and its text outside code spans.
fn rendered(md: &str) -> (String, String) {
    let html = common::cmark_gfm(md, &["-e", "table", "-e", "autolink", "-e", "tagfilter"]);
    let mut prose = String::new();
    let mut in_code = false;
    for part in html.split('<') {
        let (tag, text) = part.split_once('>').unwrap_or(("", part));
        in_code = (in_code || tag.starts_with("code")) && !tag.starts_with("/code");
        if !in_code {
            prose.push_str(text);
        }
    }
    (html, prose)
}

/// Point 8: what the approver of a state operation reads: state only
/// first, the operation in Terraform's words, the state it was previewed
/// against, the digest and how to let it through; no pull request words.
#[test]
fn the_state_operation_preview_reads_as_state_only() {
    let (w, gh) = operators();
    let out = in_run(
        &w,
        &gh,
        60,
        "ops-dana",
        &[
            &RM[..],
            &["handed over to the <b>data</b> team", "--preview"],
        ]
        .concat(),
    );
    common::assert_code(&out, 0);
    let md = out.stdout.clone();
    insta::with_settings!({filters => vec![(r"[0-9a-f]{64}", "[digest]"), (r"serial \d+", "serial [n]")]}, {
        insta::assert_snapshot!("state_operation_preview", md);
    });
    let (html, prose) = rendered(&md);
    assert!(!prose.contains('`'), "no literal backtick: {html}");
    assert!(
        !prose.contains("<b>") && !html.contains("<b>data"),
        "the reason is text: {html}"
    );
    assert!(html.contains("<table>"), "{html}");
    let at = |s: &str| md.find(s).unwrap_or_else(|| panic!("{s}: {md}"));
    assert!(at("State only") < at("| Operation"), "{md}");
    assert!(at("Digest `") < at("To let it through"), "{md}");
    for word in ["pull request", "merge", "gate"] {
        assert!(!md.to_lowercase().contains(word), "{word}: {md}");
    }
}

/// Point 8: a targeted plan says first that it is targeted, by whom and
/// why, what it changes outside the targets, and asks for no approval on
/// a pull request that does not exist; a pinned customer's plan runs at
/// its pin and says so.
#[test]
fn a_targeted_plan_says_it_is_targeted_by_whom_and_why() {
    let w = applied();
    let s = plan(
        &w,
        &[
            "--replace",
            "fakecloud_bucket.logs",
            "--reason",
            "corrupt <i>bucket</i>",
        ],
    );
    assert_eq!(counts(&s), (0, 0, 1), "{s:#}");
    let md = w.fx.read("manager/.fleetform/out/c01/staging/comment.md");
    insta::with_settings!({filters => vec![(r"[0-9a-f]{64}", "[digest]")]}, {
        insta::assert_snapshot!("targeted_plan_comment", md);
    });
    let (html, prose) = rendered(&md);
    assert!(!prose.contains('`'), "no literal backtick: {html}");
    let at = |s: &str| md.find(s).unwrap_or_else(|| panic!("{s}: {md}"));
    assert!(at("**Targeted plan**") < at("**Plan digest**"), "{md}");
    assert!(md.contains("asked by ops-dana"), "{md}");
    for word in ["pull request", "merge"] {
        assert!(!md.to_lowercase().contains(word), "{word}: {md}");
    }
}

/// Point 1 for targeted applies: on Actions the plan is sealed in the
/// preview job, and the apply job applies exactly its digest, only after
/// someone other than who asked approved (a run review, or a confirming
/// run on Team/Pro).
#[test]
fn a_targeted_apply_on_actions_needs_the_sealed_digest_and_a_second_person() {
    let (w, gh) = operators();
    let before = fakecloud::objects(&w.cloud_file);
    let plan = [
        "plan",
        "--customer",
        "c01",
        "--env",
        ENV,
        "--replace",
        "fakecloud_bucket.logs",
        "--reason",
        "corrupt bucket",
        "--seal",
    ];
    let out = in_run(&w, &gh, 100, "ops-dana", &plan);
    common::assert_code(&out, 0);
    let dir = "manager/.fleetform/out/c01/staging";
    let summary: Value = serde_json::from_str(&w.fx.read(&format!("{dir}/summary.json"))).unwrap();
    let digest = summary["plan_sha256"].as_str().unwrap().to_string();
    assert!(w.fx.path(&format!("{dir}/bundle.sealed")).is_file());
    // The apply job finds only the downloaded bundle: what it applies is
    // what was sealed.
    for f in ["tfplan", "summary.json", "comment.md", "plan.txt"] {
        let _ = std::fs::remove_file(w.fx.path(&format!("{dir}/{f}")));
    }
    let apply = [
        "apply",
        "--customer",
        "c01",
        "--env",
        ENV,
        "--github",
        "--plan-sha256",
        &digest,
    ];
    let apply: Vec<&str> = apply.into_iter().filter(|a| *a != "--github").collect();
    // No digest: refused.
    refused_in_run(
        &w,
        &gh,
        100,
        "ops-dana",
        &["apply", "--customer", "c01", "--env", ENV],
        "--plan-sha256",
    );
    // No review; a self-review: refused, nothing replaced.
    refused_in_run(&w, &gh, 100, "ops-dana", &apply, "no one approved");
    gh.review_run(MANAGER, 100, "staging-apply", "ops-dana", "approved");
    common::assert_code(&in_run(&w, &gh, 100, "ops-dana", &apply), 3);
    assert_eq!(
        fakecloud::objects(&w.cloud_file),
        before,
        "nothing replaced"
    );
    // On Team/Pro another operator confirms run 100.
    gh.workflow_run(MANAGER, 100, OPS_WORKFLOW, "ops-dana", "ops-dana");
    let confirm = [&apply[..], &["--confirms", "100"]].concat();
    common::assert_code(&in_run(&w, &gh, 101, "ops-dana", &confirm), 3);
    let out = in_run(&w, &gh, 101, "ops-erin", &confirm);
    common::assert_code(&out, 0);
    let applies = audit_of(&w, "apply");
    let last = applies.last().unwrap();
    assert_eq!(last["result"], "ok", "{last}");
    assert_eq!(last["approval"], "approved", "{last}");
    assert_eq!(last["reason"], "corrupt bucket", "{last}");
    confirmed_by_erin(last);
}

/// Issue #50, state operations: one way to run Terraform (no colour codes
/// in any log or comment), operands that are blank or padded refused
/// before Terraform, the actor named without `USER`, and each secret
/// masked once.
#[test]
fn state_operations_run_terraform_one_way_and_name_who_ran_them() {
    let (w, gh) = operators();
    for bad in [
        " ",
        "\t",
        " fakecloud_bucket.logs",
        "fakecloud_bucket.logs\u{1b}[31m",
    ] {
        let out = w.expect(
            2,
            &[&["state", "rm", bad][..], &C01_R[..], &["--unreviewed"]].concat(),
        );
        assert!(
            common::stderr(&out).contains("is not a resource address"),
            "{bad:?}: {}",
            common::stderr(&out)
        );
    }
    assert!(audit_of(&w, "state").is_empty(), "nothing ran");
    let out = w
        .fleetform()
        .env_remove("USER")
        .env_remove("LOGNAME")
        .args(
            [
                &["state", "rm", "fakecloud_bucket.logs"][..],
                &C01_R[..],
                &["--unreviewed"],
            ]
            .concat(),
        )
        .output();
    common::assert_code(&out, 0);
    let actor = audit_of(&w, "state")[0]["actor"]
        .as_str()
        .unwrap()
        .to_string();
    // Without USER or LOGNAME: the system's name for this user (what `id
    // -un` says), not a bare user id, and the machine (`root on build-7`).
    let id = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    let name = String::from_utf8(id.stdout).unwrap().trim().to_string();
    assert!(!name.is_empty() && id.status.success());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(actor, format!("{name} on {}", host.trim()));
    let log = w.fx.read("manager/.fleetform/out/c01/staging/rm.log");
    assert!(log.contains("-no-color"), "{log}");
    assert!(!log.contains('\u{1b}'), "no colour codes: {log:?}");
    // One token, however many clients use it: masked once.
    let out = in_run(
        &w,
        &gh,
        61,
        "ops-dana",
        &[&RM[..], &["r", "--preview"]].concat(),
    );
    let masks = common::stderr(&out).matches("::add-mask::").count();
    assert_eq!(masks, 1, "{}", common::stderr(&out));
}
