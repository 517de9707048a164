//! Adoption (issue #57) on GitHub Actions, as the ops workflow's `adopt`
//! operation runs it: the preview job seals the adoption plan, and the
//! apply job applies exactly that digest, only after someone other than
//! who asked approved (a review of the run, or on Team/Pro a confirming
//! run by another operator); with `--github` the adoption and its
//! release are a deployment on the customer's repo and a comment on its
//! open pull request.

use serde_json::Value;

use crate::adopt::cloud::{
    adopt_audit, fleet_made_outside, statuses, wave_records, write_mapping, ENV,
};
use crate::common;
use crate::fakecloud;
use crate::local::four_eyes::{
    in_run, refused_in_run, the_requester_cannot_confirm, MANAGER, OPS_WORKFLOW,
};
use crate::support::fake_github::FakeGitHub;
use crate::support::rollout_world::World;

pub(crate) const REPO: &str = "cust/c01-infra";

/// c01's objects made outside fleetform and mapped; the operators team
/// prov/ops (ops-dana, ops-erin) on a fake GitHub that also holds c01's
/// repo with an open pull request (its number).
pub(crate) fn mapped_on_github() -> (World, FakeGitHub, u64) {
    let w = fleet_made_outside(1);
    write_mapping(&w, "c01", &[]);
    let gh = w.operators_on_github();
    let (repo, _, pr) = w.c01_on_github(&gh);
    assert_eq!(repo, REPO);
    (w, gh, pr)
}

/// The preview job of run `run`: `adopt plan --seal`; the digest. The
/// apply job then finds only the sealed bundle.
fn preview(w: &World, gh: &FakeGitHub, run: u64, actor: &str) -> String {
    let out = in_run(
        w,
        gh,
        run,
        actor,
        &["adopt", "plan", "--customer", "c01", "--env", ENV, "--seal"],
    );
    common::assert_code(&out, 0);
    let dir = "manager/.fleetform/out/c01/staging";
    let summary: Value = serde_json::from_str(&w.fx.read(&format!("{dir}/summary.json"))).unwrap();
    assert!(w.fx.path(&format!("{dir}/bundle.sealed")).is_file());
    for f in ["tfplan", "summary.json", "plan.txt", "adoption.json"] {
        let _ = std::fs::remove_file(w.fx.path(&format!("{dir}/{f}")));
    }
    summary["plan_sha256"].as_str().unwrap().to_string()
}

fn apply(digest: &str) -> Vec<&str> {
    vec![
        "adopt",
        "apply",
        "--customer",
        "c01",
        "--env",
        ENV,
        "--plan-sha256",
        digest,
        "--reason",
        "bring c01 under fleetform (MIG-7)",
        "--github",
    ]
}

#[test]
fn on_actions_an_adoption_is_applied_only_after_someone_else_approved_the_run() {
    let (w, gh, pr) = mapped_on_github();
    let cloud = fakecloud::objects(&w.cloud_file);
    let digest = preview(&w, &gh, 80, "ops-dana");
    let refused = |actor: &str, args: &[&str], why: &str| {
        let out = in_run(&w, &gh, 80, actor, args);
        common::assert_code(&out, 3);
        assert!(
            common::stderr(&out).contains(why),
            "{why}: {}",
            common::stderr(&out)
        );
        assert!(adopt_audit(&w).is_empty(), "nothing ran");
    };
    // Only operators; --unreviewed is for a workstation.
    refused(
        "mallory",
        &apply(&digest),
        "not an active member of `prov/ops`",
    );
    refused(
        "ops-dana",
        &[&apply(&digest)[..], &["--unreviewed"]].concat(),
        "--unreviewed",
    );
    // No one approved; the requester approved it themself.
    refused(
        "ops-dana",
        &apply(&digest),
        "no one approved the deployment to `staging-apply` in run 80",
    );
    gh.review_run(MANAGER, 80, "staging-apply", "ops-dana", "approved");
    refused("ops-dana", &apply(&digest), "self-review");
    // Someone else approved: adopted, nothing in the cloud changed, and
    // the customer's repo is told.
    gh.review_run(MANAGER, 80, "staging-apply", "ops-erin", "approved");
    let out = in_run(&w, &gh, 80, "ops-dana", &apply(&digest));
    common::assert_code(&out, 0);
    assert_eq!(fakecloud::objects(&w.cloud_file), cloud);
    let audit = adopt_audit(&w);
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["approval"], "approved");
    assert_eq!(audit[0]["approvers"], serde_json::json!(["ops-erin"]));
    assert_eq!(audit[0]["plan_sha256"], digest.as_str());
    assert_eq!(statuses(&w), [("c01".into(), "adopted".into())]);
    let deployments = gh.deployments(REPO);
    assert_eq!(deployments.len(), 1, "{deployments:?}");
    assert_eq!(deployments[0].environment, ENV);
    let comments = gh.comments(REPO, pr);
    assert_eq!(comments.len(), 1, "{comments:?}");
    let body = &comments[0].body;
    assert!(body.contains("the adoption of `fakecloud_"), "{body}");
    assert!(
        body.contains("**state only, nothing in your cloud changed**"),
        "{body}"
    );
    // The adoption record keeps the pull request it was reported on (and
    // the run); status and the dashboard's row link it.
    let url = format!("https://github.com/{REPO}/pull/{pr}");
    let out = w.expect(0, &["adopt", "status", "--json"]);
    let v: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    assert_eq!(v[0]["link"], url.as_str(), "{v:#}");
    // And the console text, on a line of its own under the pair.
    let out = w.expect(0, &["adopt", "status"]);
    let text = String::from_utf8_lossy(out.stdout.as_bytes()).to_string();
    assert!(text.contains(&format!("on GitHub: {url}\n")), "{text}");
    insta::with_settings!({filters => vec![(r"sha256:[0-9a-f]{12}\)", "sha256:[short])"), (r"at \d{4}-\d\d-\d\dT[0-9:.]+Z", "at [time]")]}, {
        insta::assert_snapshot!("adopt_status_linked", text);
    });
    let html = dashboard_adoptions(&w);
    // The page escapes `/` as `&#x2f;` in attributes, which a browser reads
    // back.
    let href = url.replace('/', "&#x2f;");
    assert!(
        html.contains(&format!(" <a href=\"{href}\">pull request</a></td>")),
        "{html}"
    );
    // A record written before these addresses reads, with no link.
    let dir =
        w.fx.path("manager/.fleetform/records/adoptions/c01/_/staging");
    let kept: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let mut old: Value = serde_json::from_str(&std::fs::read_to_string(&kept[0]).unwrap()).unwrap();
    assert_eq!(old["pull_request"], url.as_str());
    assert!(
        old["run_url"]
            .as_str()
            .unwrap()
            .ends_with("/actions/runs/80"),
        "{old}"
    );
    let o = old.as_object_mut().unwrap();
    o.remove("pull_request");
    o.remove("run_url");
    std::fs::write(&kept[0], serde_json::to_vec(&old).unwrap()).unwrap();
    let out = w.expect(0, &["adopt", "status", "--json"]);
    let v: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    assert_eq!(v[0]["stage"], "adopted", "{v:#}");
    assert!(v[0].get("link").is_none(), "{v:#}");
    let out = w.expect(0, &["adopt", "status"]);
    let text = String::from_utf8_lossy(out.stdout.as_bytes()).to_string();
    assert!(
        !text.contains("on GitHub") && text.contains("adopted by"),
        "{text}"
    );
    assert!(
        !dashboard_adoptions(&w).contains("<a href"),
        "no link to nothing"
    );
}

/// The Adoptions section of the dashboard (`report --html`).
fn dashboard_adoptions(w: &World) -> String {
    w.expect(0, &["report", "--html", "dash.html"]);
    let html = w.fx.read("manager/dash.html");
    let at = html
        .find("<section id=\"adoptions\">")
        .expect("the adoptions section");
    let section = &html[at..];
    section[..section.find("</section>").unwrap()].to_string()
}

#[test]
fn on_team_and_pro_another_operator_confirms_the_adoption_then_a_release_is_reported() {
    let (w, gh, pr) = mapped_on_github();
    let cloud = fakecloud::objects(&w.cloud_file);
    let digest = preview(&w, &gh, 90, "ops-dana");
    let confirm = [&apply(&digest)[..], &["--confirms", "90"]].concat();
    the_requester_cannot_confirm(&w, &gh, 90, &confirm);
    // Nor does the confirming run widen what the preview chose: it was
    // previewed without accepting updates in place, a choice sealed with
    // its plan (#81 point 9).
    let widened = [&confirm[..], &["--accept-updates"]].concat();
    let out = in_run(&w, &gh, 96, "ops-erin", &widened);
    common::assert_code(&out, 3);
    out.stderr_has("was previewed without accepting updates in place");
    assert!(adopt_audit(&w).is_empty());
    // Another operator confirms: adopted, recorded with who let it through.
    let out = in_run(&w, &gh, 92, "ops-erin", &confirm);
    common::assert_code(&out, 0);
    let audit = adopt_audit(&w);
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["actor"], "ops-erin");
    assert!(audit[0]["detail"]
        .as_str()
        .unwrap()
        .contains("approved by ops-erin (asked by ops-dana)"));
    // Released on Actions (its sealed preview, confirmed by another
    // operator, as a state operation is), with --github: a second
    // deployment, and a comment that says the objects keep running.
    let release = ["adopt", "release", "--customer", "c01", "--env", ENV];
    let out = in_run(
        &w,
        &gh,
        93,
        "ops-dana",
        &[
            &release[..],
            &["--reason", "handed back to the customer", "--preview"],
        ]
        .concat(),
    );
    common::assert_code(&out, 0);
    let digest = common::digest_of(&out.stdout);
    gh.workflow_run(MANAGER, 93, OPS_WORKFLOW, "ops-dana", "ops-dana");
    let out = in_run(
        &w,
        &gh,
        94,
        "ops-erin",
        &[
            &release[..],
            &["--sha256", &digest, "--confirms", "93", "--github"],
        ]
        .concat(),
    );
    common::assert_code(&out, 0);
    assert_eq!(fakecloud::objects(&w.cloud_file), cloud);
    assert_eq!(statuses(&w), [("c01".into(), "released".into())]);
    let deployments = gh.deployments(REPO);
    assert_eq!(deployments.len(), 2, "{deployments:?}");
    let states: Vec<&str> = deployments[1]
        .statuses
        .iter()
        .map(|s| s.0.as_str())
        .collect();
    assert_eq!(states, ["success"]);
    let comments = gh.comments(REPO, pr);
    assert_eq!(comments.len(), 2, "{comments:?}");
    let body = &comments[1].body;
    assert!(body.contains("the release of `fakecloud_"), "{body}");
    assert!(
        body.contains("they keep running, no longer managed here"),
        "{body}"
    );
    assert!(body.contains("handed back to the customer"), "{body}");
    assert!(gh.take_violations().is_empty());
}

/// On Actions a wave only plans, and only an active member of
/// `rollout.operators` resumes its halt (as `rollout resume`).
#[test]
fn on_actions_only_an_operator_resumes_a_halted_adoption_wave() {
    let w = fleet_made_outside(1);
    write_mapping(&w, "c01", &["fakecloud_bucket.logs"]);
    let gh = w.operators_on_github();
    let wave = ["adopt", "wave", "--env", ENV];
    common::assert_code(&in_run(&w, &gh, 60, "ops-dana", &wave), 3);
    assert_eq!(wave_records(&w), ["halted"]);
    refused_in_run(
        &w,
        &gh,
        61,
        "ops-dana",
        &[&wave[..], &["--apply", "--unreviewed", "--reason", "r"]].concat(),
        "runs on a workstation only",
    );
    refused_in_run(
        &w,
        &gh,
        62,
        "mallory",
        &[&wave[..], &["--resume"]].concat(),
        "`mallory` is not an active member of `prov/ops`",
    );
    assert_eq!(wave_records(&w), ["halted"], "still halted");
    // An operator resumes: the pair is planned again, and, still not
    // ready, halts the wave again.
    let out = in_run(
        &w,
        &gh,
        63,
        "ops-erin",
        &[&wave[..], &["--resume"]].concat(),
    );
    common::assert_code(&out, 3);
    assert!(
        out.stdout.contains("went on: resumed by ops-erin"),
        "{}",
        out.stdout
    );
    assert_eq!(wave_records(&w), ["halted", "resumed", "halted"]);
    assert!(adopt_audit(&w).is_empty(), "nothing adopted");
}
