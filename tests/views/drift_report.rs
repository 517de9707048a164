//! Issue #84 point 12: the drift report of a large fleet reads from its
//! causes. At 600 drifted pairs (one cause) the report, rendered as GitHub
//! renders it (cmark-gfm, headless Chromium at 390 × 844 and 1012 × 900),
//! shows the tally and "Drift by cause" on the first screen; the pairs'
//! table is folded under its count.

use fleetform::data::summary::PlanSummary;
use fleetform::report::drift::{markdown, Report};
use fleetform::report::drift_causes::{Cause, CausePair};
use fleetform::report::table::{Outcome, Row};

use crate::views::counts::github_page;
use crate::views::dashboard::Driver;

/// `n` pairs whose buckets lost their versioning outside Terraform.
fn fleet_drifted(n: usize) -> Report {
    let summary: PlanSummary = serde_json::from_value(serde_json::json!({
        "customer": "x", "environment": "production",
        "create": 0, "update": 1, "delete": 0, "replace": 0,
        "resources": [{"address": "aws_s3_bucket.logs", "action": "update", "resource_type": "aws_s3_bucket", "changed": ["/versioning"]}],
        "cloud_drift": [{"address": "aws_s3_bucket.logs", "action": "update", "resource_type": "aws_s3_bucket", "changed": ["/versioning"]}],
        "outputs": [], "has_changes": true, "plan_sha256": "ab".repeat(32),
        "state_key": "x/production.tfstate",
    }))
    .unwrap();
    let rows: Vec<Row> = (0..n)
        .map(|i| Row {
            customer: format!("customer-{i:04}"),
            product: None,
            environment: "production".into(),
            outcome: Outcome::Planned {
                summary: Box::new(summary.clone()),
                dir: "x".into(),
            },
        })
        .collect();
    let mut report = Report::tally(&rows);
    report.causes = vec![Cause {
        id: "aws_s3_bucket.versioning:set-false".into(),
        resource_type: "aws_s3_bucket".into(),
        attribute: Some("/versioning".into()),
        change: "set to false".into(),
        customers: n,
        environments: vec!["production".into()],
        since: "2026-11-20T10:00:00Z".into(),
        pairs: (0..n)
            .map(|i| CausePair {
                customer: format!("customer-{i:04}"),
                product: None,
                environment: "production".into(),
                resources: 1,
                accepted: None,
                expired: false,
            })
            .collect(),
        issue: Some("https://github.com/p/m/issues/9".into()),
    }];
    report
}

#[test]
fn at_600_pairs_the_causes_are_on_the_first_screen() {
    let md = markdown(&fleet_drifted(600));
    let causes = md.find("### Drift by cause").expect("a causes section");
    let details = md
        .find("<details><summary>Pairs (600)")
        .expect("the pairs folded");
    assert!(causes < details, "{}", &md[..2000]);
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("drift.html");
    std::fs::write(&page, github_page(&md)).unwrap();
    let d = Driver::start();
    for (width, height) in [(390, 844), (1012, 900)] {
        d.open(&format!("file://{}", page.display()), width, height);
        let m = d.eval(
            "const h = [...document.querySelectorAll('h3')].find(e => e.textContent.includes('Drift by cause'));
             return {top: Math.round(h.getBoundingClientRect().top), page: document.documentElement.scrollHeight};",
        );
        let top = m["top"].as_i64().unwrap();
        assert!(
            top < height as i64 / 2,
            "at {width} px 'Drift by cause' is {top} px down: {m}"
        );
    }
}
