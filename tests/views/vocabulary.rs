//! Issue #52, point 1: one vocabulary for drift. What changed in the
//! cloud ("changed outside Terraform") is apart from edits not applied
//! yet, and a drift check says nothing once a later apply put the pair
//! back: the dashboard's grid reads the audit log so; the drift issue
//! names the cloud's events apart from the plan's actions.

use crate::comment::markdown::{destructive, gfm, rc};
use crate::common;
use common::{require_terraform, Fixture};
use fleetform::data::summary::Action;

/// acme/staging's grid cell in the dashboard.
fn staging_cell(fx: &Fixture) -> String {
    common::run(fx, &["report", "--html", "dash.html"]).ok();
    let html = fx.read("manager/dash.html");
    let grid = html.split(r#"id="grid""#).nth(1).unwrap().to_string();
    let row = grid
        .split(r##"<a href="#customer-acme">acme</a>"##)
        .nth(1)
        .unwrap_or_else(|| panic!("{grid}"))
        .split("</tr>")
        .next()
        .unwrap()
        .to_string();
    // The first cell is staging (fleetform.yml's order).
    row.split("<td").nth(1).unwrap().to_string()
}

fn drift_entry(fx: &Fixture, secs_from_now: i64, result: &str) {
    let now = fleetform::audit::now_unix() as i64;
    let at = fleetform::audit::rfc3339((now + secs_from_now) as u64);
    let log = "manager/.fleetform/audit.jsonl";
    if !fx.path(log).exists() {
        fx.write(log, "");
    }
    fx.append(
        log,
        &format!(
            "{{\"time\":\"{at}\",\"action\":\"drift\",\"actor\":\"ci\",\"customer\":\"acme\",\"environment\":\"staging\",\"result\":\"{result}\"}}\n"
        ),
    );
}

#[test]
fn the_grid_keeps_drift_apart_from_edits_and_forgets_it_after_an_apply() {
    require_terraform();
    let fx = Fixture::new();
    // Drift found a day before the pair's apply: the apply undid it.
    drift_entry(&fx, -86_400, "changes");
    common::run(&fx, &["plan", "--customer", "acme", "--env", "staging"]).ok();
    common::run(&fx, &["apply", "--customer", "acme", "--env", "staging"]).ok();
    let cell = staging_cell(&fx);
    assert!(
        cell.starts_with(r#" class="applied"><strong>applied</strong>"#),
        "{cell}"
    );

    // Edits not applied yet, found after the apply: not drift.
    drift_entry(&fx, 60, "unapplied");
    let cell = staging_cell(&fx);
    assert!(
        cell.starts_with(r#" class="applied"><strong>applied</strong>"#),
        "{cell}"
    );
    assert!(
        cell.contains("drift check: no drift; edits not applied yet"),
        "{cell}"
    );

    // The cloud changed after the apply: drifted.
    drift_entry(&fx, 120, "changes");
    let cell = staging_cell(&fx);
    assert!(
        cell.starts_with(r#" class="drifted"><strong>drifted</strong>"#),
        "{cell}"
    );
}

/// A drift issue: an address's `for_each` key (a customer value) is not
/// shown in the manager repo, only `[…]`; rows beyond the cap are counted
/// ("and 62 more"), resources are grouped destroy-first under
/// Terraform's counts, and the link is not escaped.
#[test]
fn drift_issue_escapes_cells_counts_omitted_rows_and_groups() {
    use fleetform::report::drift::{issue_body, ISSUE_ROWS};
    use fleetform::report::table::{Outcome, Row};
    let mut s = destructive();
    s.environment = "staging".into();
    s.resources[1].address = "terraform_data.x[\"a|b`c\"]".into();
    for i in 0..110 {
        s.resources
            .push(rc(&format!("terraform_data.extra[{i}]"), Action::Create));
    }
    // And 20 resources no index run joins.
    for i in 0..20 {
        s.resources
            .push(rc(&format!("terraform_data.other_{i}"), Action::Create));
    }
    s.create += 130;
    let row = Row {
        customer: "acme".into(),
        product: None,
        environment: "staging".into(),
        outcome: Outcome::Planned {
            summary: Box::new(s),
            dir: "out".into(),
        },
    };
    let body = issue_body(
        "acme",
        &[&row],
        Some("https://github.com/p/m_x/actions/runs/7"),
    );
    let html = gfm(&body);
    // The hostile address's key is hidden, pipe and backtick included.
    assert!(!body.contains("a|b"), "{body}");
    assert!(
        html.contains("<li>destroy: <code>terraform_data.x[…]</code> (1 resource)</li>"),
        "{html}"
    );
    assert_eq!(body.matches("\n- destroy: ").count(), 2, "{body}");
    // The 110 created `extra[…]` are one row.
    assert!(
        body.contains("\n- create: `terraform_data.extra[0..109]` (110 resources)\n"),
        "{body}"
    );
    assert!(body.find("\n- destroy: ").unwrap() < body.find("\n- replace: ").unwrap());
    // Rows beyond the cap are counted: 26 rows, the first nine shown.
    assert_eq!(ISSUE_ROWS, 10);
    assert_eq!(body.matches("\n- create: ").count(), 5, "{body}");
    assert!(
        body.contains("… and 17 more: 135 resources in all."),
        "{body}"
    );
    assert!(
        body.contains("Plan: 132 to add, 1 to change, 3 to destroy"),
        "{body}"
    );
    assert!(
        html.contains("<a href=\"https://github.com/p/m_x/actions/runs/7\">this run</a>"),
        "{html}"
    );
    insta::assert_snapshot!("drift_issue", body);
}

/// A resource deleted in the cloud is the cloud's event in the issue
/// ("deleted outside Terraform — applying creates it again"), never the
/// plan's `destroy` under "1 to add"; the opening says drift was found.
#[test]
fn a_deletion_in_the_cloud_reads_as_the_clouds_event() {
    use fleetform::report::drift::issue_body;
    use fleetform::report::table::{Outcome, Row};
    let mut s = destructive();
    s.environment = "production".into();
    s.resources = vec![
        rc("terraform_data.gone", Action::Create),
        rc("terraform_data.tags", Action::Update),
    ];
    (s.create, s.update, s.delete, s.replace) = (1, 1, 0, 0);
    s.cloud_drift = vec![
        rc("terraform_data.gone", Action::Delete),
        rc("terraform_data.tags", Action::Update),
    ];
    let row = Row {
        customer: "acme".into(),
        product: None,
        environment: "production".into(),
        outcome: Outcome::Planned {
            summary: Box::new(s),
            dir: "out".into(),
        },
    };
    let body = issue_body("acme", &[&row], None);
    assert!(body.contains("fleetform found drift for `acme`"), "{body}");
    assert!(
        body.contains(
            "\n- deleted outside Terraform — applying creates it again: `terraform_data.gone` (1 resource)"
        ),
        "{body}"
    );
    assert!(
        body.contains("\n- changed outside Terraform: `terraform_data.tags` (1 resource)"),
        "{body}"
    );
    assert!(!body.contains("- destroy:"), "{body}");
}
