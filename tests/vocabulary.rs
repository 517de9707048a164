//! Issue #52, point 1: one vocabulary for drift. What changed in the
//! cloud ("changed outside Terraform") is apart from edits not applied
//! yet, and a drift check says nothing once a later apply put the pair
//! back: the dashboard's grid reads the audit log so.

use crate::common;
use common::{require_terraform, Fixture};

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
