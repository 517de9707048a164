//! Issue #56: a fleet drift run groups what the cloud changed by cause
//! (one resource type, attribute and kind of change across customers),
//! with since when, accepted drift and what each environment's repair
//! policy does; cause issues in the manager repo within the write budget,
//! closed once the cause is gone everywhere; the dashboard's view. Three
//! customers on the test cloud (fakecloud, real Terraform), drift made by
//! editing the cloud file.

use serde_json::Value;

use crate::common;
use crate::fakecloud;
use crate::support::fake_github::FakeGitHub;
use crate::support::rollout_world::{World, MANAGER_REPO};

const DRIFT: &str = "
drift:
  cause_issues: 2
  repair:
    staging: repair
  accepted:
    - cause: fakecloud_network.zones:changed
      customers: [c03]
      until: 2099-12-31
      reason: c03 runs more zones during its migration
    - cause: fakecloud_bucket.versioning:set-false
      customers: [c02]
      until: 2020-01-31
      reason: an old exception
";

/// 2026-11-24T12:00:00Z
const NOW: u64 = 1_795_521_600;

/// c01..c03 applied in staging, then, outside Terraform: every bucket's
/// versioning switched off, c01's and c03's networks given 9 zones.
/// Returns the world, its fake GitHub and the cloud file as applied.
fn drifted() -> (World, FakeGitHub, String) {
    let w = World::applied(3, "staging");
    let gh = w.operators_on_github();
    w.fx.append("manager/fleetform.yml", DRIFT);
    let applied = std::fs::read_to_string(&w.cloud_file).unwrap();
    fakecloud::versioning_off(&w.cloud_file, "c0");
    fakecloud::edit_objects(&w.cloud_file, |o| {
        for v in o.values_mut() {
            if ["c01-staging", "c03-staging"].contains(&v["name"].as_str().unwrap_or("")) {
                v["zones"] = Value::from(9);
            }
        }
    });
    (w, gh, applied)
}

/// `drift --issues --json` over the whole fleet at `now`, with
/// `writes_per_hour`: its exit code and report.
fn drift(w: &World, gh: &FakeGitHub, now: u64, writes_per_hour: &str) -> (Option<i32>, Value) {
    let out = w
        .fleetform()
        .env("FLEETFORM_ISSUES_TOKEN", gh.token())
        .env("GITHUB_API_URL", gh.api_url())
        .env("FLEETFORM_NOW", now.to_string())
        .env("FLEETFORM_GITHUB_WRITES_PER_HOUR", writes_per_hour)
        .args([
            "drift",
            "--issues",
            "--json",
            "--manager-repo",
            MANAGER_REPO,
        ])
        .output();
    let report = serde_json::from_slice(out.stdout.as_bytes())
        .unwrap_or_else(|_| panic!("{}", common::stderr(&out)));
    (out.status.code(), report)
}

fn ids(report: &Value) -> Vec<(String, u64, usize)> {
    report["causes"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    (
                        c["id"].as_str().unwrap().to_string(),
                        c["customers"].as_u64().unwrap(),
                        c["pairs"].as_array().unwrap().len(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn cause_issues(gh: &FakeGitHub) -> Vec<crate::support::fake_github::Issue> {
    gh.issues(MANAGER_REPO)
        .into_iter()
        .filter(|i| i.labels == ["fleetform-drift-cause"])
        .collect()
}

#[test]
fn causes_across_the_fleet_their_issues_accepted_drift_and_repairs_by_policy() {
    let (w, gh, applied) = drifted();

    // The hour's budget holds 4 writes: the 3 customers' issues and the
    // first cause's; the second cause's issue waits for the next run.
    let (code, r) = drift(&w, &gh, NOW, "4");
    assert_eq!(code, Some(4), "{r:#}");
    assert_eq!(
        ids(&r),
        [
            ("fakecloud_bucket.versioning:set-false".to_string(), 3, 3),
            ("fakecloud_network.zones:changed".to_string(), 2, 2),
        ],
        "most customers first"
    );
    assert_eq!(r["causes"][0]["change"], "set to false");
    assert_eq!(
        r["causes"][0]["environments"],
        serde_json::json!(["staging"])
    );
    assert_eq!(r["causes"][0]["since"], "2026-11-24T12:00:00Z");
    assert_eq!(
        r["deferred"],
        serde_json::json!(["cause fakecloud_network.zones:changed: open"])
    );
    // Accepted drift: c03's zones until 2099, c02's versioning expired.
    let pair = |cause: usize, c: &str| {
        r["causes"][cause]["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["customer"] == c)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        pair(1, "c03")["accepted"],
        "until 2099-12-31: c03 runs more zones during its migration"
    );
    assert_eq!(pair(0, "c02")["expired"], true);
    assert!(pair(0, "c01").get("accepted").is_none());
    // Repairs: in-place changes of free pairs are repaired; c03's drift is
    // partly accepted, so only proposed.
    let repairs: Vec<(String, String)> = r["repairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["customer"].as_str().unwrap().to_string(),
                x["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        repairs,
        [
            ("c01".to_string(), "repair".to_string()),
            ("c02".to_string(), "repair".to_string()),
            ("c03".to_string(), "propose".to_string())
        ]
    );
    assert!(r["repairs"][2]["why"]
        .as_str()
        .unwrap()
        .contains("accepted"));
    // One issue per cause over the threshold, linking the customers' own.
    let issues = cause_issues(&gh);
    assert_eq!(issues.len(), 1);
    let body = issues[0].body.clone().unwrap();
    for customer_issue in gh
        .issues(MANAGER_REPO)
        .iter()
        .filter(|i| i.labels == ["fleetform-drift"])
    {
        assert!(
            body.contains(&format!("/issues/{})", customer_issue.number)),
            "{body}"
        );
    }
    insta::assert_snapshot!("cause_issue", body);
    let md =
        std::fs::read_to_string(w.fx.path("manager/.fleetform/drift/drift-report.md")).unwrap();
    assert!(
        md.contains("### Drift by cause") && md.contains("### Repairs by policy"),
        "{md}"
    );
    // As GitHub renders them: the customers' issues as links, no
    // Markdown left over as text (a stray backtick or escape).
    let issue_html = crate::common::cmark_gfm(&body, &["-e", "table", "-e", "autolink"]);
    assert!(
        issue_html.contains(r#"<a href="https://github.com/provider/manager/issues/1">#1</a>"#),
        "{issue_html}"
    );
    assert!(
        issue_html.contains("<li><code>c01/staging</code>: 1 resource; drift issue <a "),
        "{issue_html}"
    );
    let report_html = crate::common::cmark_gfm(&md, &["-e", "table", "-e", "autolink"]);
    assert!(
        report_html.contains("<h3>Drift by cause</h3>"),
        "{report_html}"
    );
    assert!(
        report_html.contains("<h3>Repairs by policy</h3>"),
        "{report_html}"
    );
    // The cause issue lists its pairs a line each (it fits a phone); the
    // report keeps its table of causes.
    for (what, html, block) in [
        ("the cause issue", &issue_html, "<ul>"),
        ("the drift report", &report_html, "<table>"),
    ] {
        assert!(html.contains(block), "{what}: {html}");
        assert!(
            !html.contains('`') && !html.contains("\\"),
            "{what}: Markdown left as text: {html}"
        );
    }

    // The next run, an hour later: the deferred issue is opened (its one
    // write), `since` carries over, nothing else is written.
    let before = gh.requests().len();
    let (code, r) = drift(&w, &gh, NOW + 3600, "500");
    assert_eq!(code, Some(4));
    assert_eq!(r["causes"][0]["since"], "2026-11-24T12:00:00Z");
    assert!(r.get("deferred").is_none(), "{r:#}");
    assert_eq!(cause_issues(&gh).len(), 2);
    let writes: Vec<String> = gh.requests()[before..]
        .iter()
        .filter(|q| q.method != "GET")
        .map(|q| format!("{} {}", q.method, q.path))
        .collect();
    assert_eq!(writes, [format!("POST /repos/{MANAGER_REPO}/issues")]);

    // The dashboard shows the last run's causes.
    let html = w.fx.path("dash.html");
    w.expect(0, &["report", "--html", html.to_str().unwrap()]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("Drift by cause") && page.contains("fakecloud_bucket.versioning:set-false"),
        "{page}"
    );

    // Put back (as a repair would): the causes are gone everywhere, their
    // issues closed with a note.
    std::fs::write(&w.cloud_file, applied).unwrap();
    let (code, r) = drift(&w, &gh, NOW + 10_800, "500");
    assert_eq!(code, Some(0), "{r:#}");
    assert!(ids(&r).is_empty());
    for issue in cause_issues(&gh) {
        assert_eq!(issue.state, "closed", "{}", issue.title);
        let notes = gh.comments(MANAGER_REPO, issue.number);
        assert!(notes.last().unwrap().body.starts_with("The cause is gone"));
    }

    // Issue #52: an edit of c02's files not applied yet is no drift: no
    // cause, exit 0, under its own key.
    let file = "customers/c02/infra/variables.yml";
    let v = w.fx.read(file);
    w.fx.write(
        file,
        &v.replacen("instance_type: t3.micro", "instance_type: t3.large", 1),
    );
    let (code, r) = drift(&w, &gh, NOW + 14_400, "500");
    assert_eq!(code, Some(0), "{r:#}");
    assert_eq!(r["drifted"], serde_json::json!([]));
    assert_eq!(r["unapplied"][0]["customer"], "c02");
    assert!(ids(&r).is_empty(), "{r:#}");
    gh.assert_clean();
}

/// A cause id in `drift.accepted` that does not read as one, and an
/// unknown environment in `drift.repair`: clear errors at their line.
#[test]
fn bad_drift_settings_are_refused_where_they_are() {
    let fx = common::Fixture::new();
    fx.append(
        "manager/fleetform.yml",
        "drift:\n  accepted:\n    - cause: versioning\n      customers: [acme]\n      until: 2027-01-31\n      reason: r\n",
    );
    let out = common::run(&fx, &["validate"]).code(2);
    assert!(
        out.stderr.contains("fleetform.yml:")
            && out
                .stderr
                .contains("is not a cause id: copy it from the drift report"),
        "{}",
        out.stderr
    );
    let cfg = fx.read("manager/fleetform.yml");
    let at = cfg.find("drift:").unwrap();
    fx.write(
        "manager/fleetform.yml",
        &format!("{}drift:\n  repair:\n    qa: repair\n", &cfg[..at]),
    );
    let out = common::run(&fx, &["validate"]).code(2);
    assert!(
        out.stderr.contains("unknown environment `qa`"),
        "{}",
        out.stderr
    );
}
