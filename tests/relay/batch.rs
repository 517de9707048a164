//! A `fleetform-batch` dispatch at the manager, as `manager-batch.yml`
//! runs it against the fake GitHub: `batch-entries` lists the entries, and
//! each matrix job's `plan --dispatch` (with `FLEETFORM_BATCH_ENTRY`)
//! plans its own customer and comments on its own pull request. A batch
//! from anyone but the relay's manager App, and an entry index out of
//! range, are refused.

use serde_json::{json, Value};

use crate::common::{self, stderr, stdout};
use crate::relay::serve::{RelayWorld, GLOBEX, SLUG};
use crate::world::{customer_files, ok, ACME, MANAGER};

/// Entry of a batch: a pull request's plan of `repo` at `sha`, as the relay
/// builds it (the repository id, no signature).
pub(crate) fn plan_entry(rw: &RelayWorld, repo: &str, dir: &str, pr: u64, sha: &str) -> Value {
    let files: Vec<String> = customer_files(&rw.w.fx, dir)
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    json!({
        "event_type": "fleetform-plan",
        "payload": {
            "v": 1, "customer_repo": repo, "sha": sha, "ref": "refs/heads/feature",
            "pr": pr, "event": "pull_request", "dispatch_id": format!("batch-{dir}"),
            "files": files, "repo_id": rw.w.gh.repo_id(repo)
        }
    })
}

struct Batch {
    rw: RelayWorld,
    event: Value,
    prs: [(&'static str, u64); 2],
}

/// acme's and globex's pull requests, one batch sent by the manager App.
fn batch() -> Batch {
    let rw = RelayWorld::new();
    let acme_sha = rw.w.change_acme("feature", 11);
    let acme_pr = rw.w.gh.open_pr(ACME, "feature", "main", "eleven");
    let globex_vars = rw.w.fx.read("customers/globex/infra/variables.yml");
    let globex_sha =
        rw.w.gh
            .commit(GLOBEX, "feature", &[("infra/variables.yml", &globex_vars)]);
    let globex_pr = rw.w.gh.open_pr(GLOBEX, "feature", "main", "same");
    let entries = vec![
        plan_entry(&rw, ACME, "acme", acme_pr, &acme_sha),
        plan_entry(&rw, GLOBEX, "globex", globex_pr, &globex_sha),
    ];
    let event = json!({
        "action": "fleetform-batch",
        "client_payload": { "v": 1, "batch": entries },
        "sender": { "login": format!("{SLUG}[bot]"), "type": "Bot" }
    });
    Batch {
        rw,
        event,
        prs: [(ACME, acme_pr), (GLOBEX, globex_pr)],
    }
}

/// `fleetform <args>` in a manager job run on the dispatch `event`, as
/// entry `entry` of a batch when given.
pub(crate) fn manager_job(
    rw: &mut RelayWorld,
    event: &Value,
    entry: Option<&str>,
    args: &[&str],
) -> std::process::Output {
    let (mut cmd, _f) =
        rw.w.step(MANAGER, "repository_dispatch", event, &"e".repeat(40));
    cmd.env_remove("FLEETFORM_DISPATCH_SECRET")
        .env_remove("FLEETFORM_BATCH_ENTRY");
    if let Some(e) = entry {
        cmd.env("FLEETFORM_BATCH_ENTRY", e);
    }
    cmd.args(args).output().unwrap()
}

impl Batch {
    /// `fleetform <args>` in a manager job of the batch run.
    fn run(&mut self, event: &Value, entry: Option<&str>, args: &[&str]) -> std::process::Output {
        manager_job(&mut self.rw, event, entry, args)
    }
}

#[test]
fn each_entry_of_a_batch_plans_its_own_customer() {
    let mut b = batch();
    let event = b.event.clone();
    let out = b.run(&event, None, &["batch-entries"]);
    ok(&out);
    assert_eq!(stdout(&out).trim(), "[0,1]");

    for (i, (repo, pr)) in b.prs.into_iter().enumerate() {
        let entry = i.to_string();
        let out = b.run(
            &event,
            Some(&entry),
            &["plan", "--dispatch", "--env", "staging"],
        );
        ok(&out);
        let comments = b.rw.w.gh.comments(repo, pr);
        assert_eq!(comments.len(), 1, "{repo}: {}", stderr(&out));
        // Only this entry's customer got anything.
        let (other, other_pr) = b.prs[1 - i];
        let others = b.rw.w.gh.comments(other, other_pr).len();
        assert_eq!(others, i, "entry {i} commented on {other}");
    }
    let sha = |n: usize| b.event["client_payload"]["batch"][n]["payload"]["sha"].clone();
    for (n, repo) in [ACME, GLOBEX].into_iter().enumerate() {
        let statuses = b.rw.w.gh.statuses(repo, sha(n).as_str().unwrap());
        assert!(
            !statuses.is_empty(),
            "{repo}: its commit has the plan's status"
        );
    }
}

#[test]
fn a_batch_from_anyone_but_the_relay_is_refused() {
    let mut b = batch();
    let mut forged = b.event.clone();
    forged["sender"] = json!({ "login": "someone", "type": "User" });
    let out = b.run(&forged, None, &["batch-entries"]);
    common::assert_code(&out, 3);
    assert!(
        stderr(&out).contains("is sent only by the relay (the manager App `fleetform-relay[bot]`), but this one by `someone`"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty(), "no entries: {}", stdout(&out));
    // Each job of the run refuses it too, whatever entry it is given.
    for entry in ["0", "1"] {
        let out = b.run(
            &forged,
            Some(entry),
            &["plan", "--dispatch", "--env", "staging"],
        );
        common::assert_code(&out, 3);
        assert!(
            stderr(&out).contains("only the relay (as the manager App) sends"),
            "{}",
            stderr(&out)
        );
        let out = b.run(&forged, Some(entry), &["authorise"]);
        common::assert_code(&out, 3);
    }
    for (repo, pr) in b.prs {
        assert!(b.rw.w.gh.comments(repo, pr).is_empty(), "{repo}");
    }
}

/// An entry whose `repo_id` is one customer's and `customer_repo` a name
/// registered to another would plan the first with the second's files:
/// refused, in `authorise` and in the plan, with nothing written to either.
#[test]
fn an_entry_naming_another_customers_repo_is_refused() {
    let mut b = batch();
    let mut event = b.event.clone();
    let globex_id = b.event["client_payload"]["batch"][1]["payload"]["repo_id"].clone();
    event["client_payload"]["batch"][0]["payload"]["repo_id"] = globex_id;
    for args in [
        &["authorise"][..],
        &["plan", "--dispatch", "--env", "staging"],
    ] {
        let out = b.run(&event, Some("0"), args);
        common::assert_code(&out, 3);
        assert!(
            stderr(&out).contains(&format!(
                "`{ACME}` is registered to customer `acme`, but the dispatch's repository id is customer `globex`'s"
            )),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    for (repo, pr) in b.prs {
        assert!(b.rw.w.gh.comments(repo, pr).is_empty(), "{repo}");
        let sha = b.rw.w.gh.branch_head(repo, "feature").unwrap();
        assert!(b.rw.w.gh.statuses(repo, &sha).is_empty(), "{repo}");
    }
}

/// A batch holding a customer revoked since the relay sent it: that
/// entry is refused in its own job (authorise and plan), nothing is
/// planned or commented for it, and the other entry plans as before.
#[test]
fn a_revoked_customers_entry_is_refused_and_the_others_plan() {
    let mut b = batch();
    let event = b.event.clone();
    let out = common::Run::from(b.rw.w.fx.fleetform())
        .args([
            "customers",
            "revoke",
            "globex",
            "--reason",
            "contract ended",
        ])
        .output();
    ok(&out);
    for args in [
        &["authorise"][..],
        &["plan", "--dispatch", "--env", "staging"],
    ] {
        let out = b.run(&event, Some("1"), args);
        common::assert_code(&out, 3);
        assert!(
            stderr(&out).contains("customer `globex` (globex/globex-app) was revoked on"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let (globex, globex_pr) = b.prs[1];
    assert!(b.rw.w.gh.comments(globex, globex_pr).is_empty());
    let out = b.run(
        &event,
        Some("0"),
        &["plan", "--dispatch", "--env", "staging"],
    );
    ok(&out);
    let (acme, acme_pr) = b.prs[0];
    assert_eq!(
        b.rw.w.gh.comments(acme, acme_pr).len(),
        1,
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_entry_index_out_of_range_is_refused() {
    let mut b = batch();
    let event = b.event.clone();
    for (entry, want) in [
        (
            Some("2"),
            "FLEETFORM_BATCH_ENTRY is 2, past the batch's last entry",
        ),
        (None, "FLEETFORM_BATCH_ENTRY is not set"),
        (
            Some("first"),
            "FLEETFORM_BATCH_ENTRY is `first`, not a number",
        ),
    ] {
        let out = b.run(&event, entry, &["plan", "--dispatch", "--env", "staging"]);
        common::assert_code(&out, 2);
        assert!(stderr(&out).contains(want), "{entry:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("0 to 1"), "{}", stderr(&out));
    }
    for (repo, pr) in b.prs {
        assert!(b.rw.w.gh.comments(repo, pr).is_empty(), "{repo}");
    }
}

/// Entry of a batch: a push of `repo`'s default branch at `sha`, applied.
pub(crate) fn apply_entry(rw: &RelayWorld, repo: &str, dir: &str, sha: &str) -> Value {
    let mut e = plan_entry(rw, repo, dir, 0, sha);
    e["event_type"] = json!("fleetform-apply");
    let p = &mut e["payload"];
    p["pr"] = Value::Null;
    p["event"] = json!("push");
    p["ref"] = json!("refs/heads/main");
    p["dispatch_id"] = json!(format!("batch-apply-{dir}"));
    e
}

/// One GitHub approval of `production-apply` releases every job of the
/// batch run waiting on it, so in a batch each plan is approved by its
/// digest in the review's comment: acme's apply runs once the comment
/// names acme's plan, globex's, in the same run, is refused until its own
/// plan is named (#81 point 8). Before, the one approval applied both.
#[test]
fn in_a_batch_each_apply_is_approved_by_its_plans_digest() {
    let rw = RelayWorld::new();
    let acme_sha = rw.w.change_acme("main", 5);
    let globex_vars = rw.w.fx.read("customers/globex/infra/variables.yml");
    let globex_sha =
        rw.w.gh
            .commit(GLOBEX, "main", &[("infra/variables.yml", &globex_vars)]);
    let entries = vec![
        apply_entry(&rw, ACME, "acme", &acme_sha),
        apply_entry(&rw, GLOBEX, "globex", &globex_sha),
    ];
    let event = json!({
        "action": "fleetform-batch",
        "client_payload": { "v": 1, "batch": entries },
        "sender": { "login": format!("{SLUG}[bot]"), "type": "Bot" }
    });
    let mut b = Batch {
        rw,
        event: event.clone(),
        prs: [(ACME, 0), (GLOBEX, 0)],
    };
    // The batch run's id: every entry's jobs are jobs of this one run.
    const RUN: &str = "7700";
    let mut digests = Vec::new();
    for (i, customer) in ["acme", "globex"].into_iter().enumerate() {
        let (mut cmd, files) =
            b.rw.w
                .step(MANAGER, "repository_dispatch", &event, &"e".repeat(40));
        let out = cmd
            .env_remove("FLEETFORM_DISPATCH_SECRET")
            .env("GITHUB_RUN_ID", RUN)
            .env("FLEETFORM_BATCH_ENTRY", i.to_string())
            .args(["plan", "--dispatch", "--env", "production"])
            .args(["--out", &format!(".fleetform/out-{customer}")])
            .output()
            .unwrap();
        ok(&out);
        digests.push(files.outputs()["plan_sha256"].clone());
    }
    let apply = |b: &mut Batch, i: usize, customer: &str| {
        let (mut cmd, _f) =
            b.rw.w
                .step(MANAGER, "repository_dispatch", &event, &"e".repeat(40));
        cmd.env_remove("FLEETFORM_DISPATCH_SECRET")
            .env("GITHUB_RUN_ID", RUN)
            .env("GITHUB_ACTOR", format!("{SLUG}[bot]"))
            .env("FLEETFORM_BATCH_ENTRY", i.to_string())
            .args(["apply", "--dispatch", "--env", "production"])
            .args([
                "--plan-dir",
                &format!(".fleetform/out-{customer}/{customer}/production"),
            ])
            .args(["--plan-sha256", &digests[i]])
            .output()
            .unwrap()
    };
    let run: u64 = RUN.parse().unwrap();
    // An approval that names no plan applies none of them.
    b.rw.w
        .gh
        .review_run(MANAGER, run, "production-apply", "ops-carol", "approved");
    let out = apply(&mut b, 0, "acme");
    common::assert_code(&out, 3);
    assert!(
        stderr(&out).contains("without naming acme's plan"),
        "{}",
        stderr(&out)
    );
    // The reviewer names acme's plan: acme applies, globex does not.
    b.rw.w.gh.review_run_saying(
        MANAGER,
        (run, "production-apply"),
        "ops-carol",
        "approved",
        &format!("/fleetform approve {}", &digests[0][..12]),
    );
    ok(&apply(&mut b, 0, "acme"));
    let out = apply(&mut b, 1, "globex");
    common::assert_code(&out, 3);
    assert!(
        stderr(&out).contains("without naming globex's plan"),
        "{}",
        stderr(&out)
    );
}
