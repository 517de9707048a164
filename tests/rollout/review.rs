//! What a rollout shows: the reviewer sees the plans that are applied,
//! and the dashboard shows the rollout and each pair's wave.

use crate::common;
use crate::support::rollout_world::World;

use common::stdout;
use serde_json::Value;

use crate::rollout::by_hand::customers;

/// Plans for review: `rollout plan` makes the wave's plans before the
/// approval (grouped, each pair's creates, updates, replacements and
/// destroys and its digest in the job summary; sealed); `tick
/// --plans-from` applies exactly those. A pair whose bundle is missing, or
/// was changed, is a failed pair that halts the rollout: never planned
/// and applied by the tick.
#[test]
fn the_reviewer_sees_the_plans_that_are_applied() {
    let w = World::with(4, "staging");
    w.expect(0, &["rollout", "start", "--base", "HEAD~1"]);
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary");
    std::fs::write(&summary, "").unwrap();
    let out = w
        .fleetform()
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["rollout", "plan"])
        .output();
    common::assert_ok(&out);
    let text = std::fs::read_to_string(&summary).unwrap();
    let state = w.status()["stages"][0]["state"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(w.rolled().is_empty(), "nothing applied before the approval");
    let planned: Vec<(String, String)> = w.digests("planned");
    assert_eq!(planned.len(), 2);

    // c02's plan did not reach the tick (its plan job uploaded nothing).
    let bundle = |c: &str| {
        w.fx.path(&format!(
            "manager/.fleetform/rollout-plans/{c}/staging/bundle.sealed"
        ))
    };
    std::fs::remove_file(bundle("c02")).unwrap();
    let tick = [
        "rollout",
        "tick",
        "--one-stage",
        "--plans-from",
        ".fleetform/rollout-plans",
    ];
    w.expect(1, &tick);
    assert_eq!(
        w.rolled(),
        ["c01"],
        "c02 is not planned and applied by the tick"
    );
    let failed = w.status()["failed"].as_array().unwrap().clone();
    assert!(
        failed.iter().any(|f| f["unit"]["customer"] == "c02"
            && f["reason"].as_str().unwrap().contains("no reviewed plan")),
        "{failed:?}"
    );
    // Resumed and planned again: applied from its new reviewed plan.
    w.expect(0, &["rollout", "resume"]);
    w.expect(0, &["rollout", "plan"]);
    w.expect(0, &tick);
    assert_eq!(w.rolled(), ["c01", "c02"]);
    // Each pair's newest plan, in the order they were made.
    let newest = |kind: &str| -> std::collections::BTreeMap<String, String> {
        w.events()
            .iter()
            .filter(|e| e["event"] == kind)
            .map(|e| {
                let c = e["unit"]["customer"].as_str().unwrap().to_string();
                (c, e["plan_sha256"].as_str().unwrap().to_string())
            })
            .collect()
    };
    let (latest, applied) = (newest("planned"), newest("applied"));
    assert_eq!(applied, latest, "the reviewed plans are the applied ones");

    // The next wave: planned, then its bundle changed before the tick.
    w.expect(0, &["rollout", "plan"]);
    let victim = w
        .events()
        .iter()
        .rev()
        .find(|e| e["event"] == "planned")
        .map(|e| e["unit"]["customer"].as_str().unwrap().to_string())
        .unwrap();
    let mut bytes = std::fs::read(bundle(&victim)).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(bundle(&victim), bytes).unwrap();
    let out = w.expect(1, &tick);
    let failed = w.status()["failed"].as_array().unwrap().clone();
    assert!(
        failed
            .iter()
            .any(|f| f["unit"]["customer"] == victim.as_str()
                && f["reason"].as_str().unwrap().contains("cannot be opened")),
        "{failed:?}\n{}",
        stdout(&out)
    );
    assert!(!w.rolled().contains(&victim));

    // What the reviewer read: the group, each pair's counts and digest,
    // and the stage's digest in `status`.
    assert!(text.contains("2 pairs in 1 group"), "{text}");
    assert!(
        text.contains(
            "- `c01/staging`: 3 to create, 0 to update, 0 to replace, 0 to destroy; plan `"
        ),
        "{text}"
    );
    for (c, digest) in &planned {
        assert!(
            text.contains(&format!("{c}/staging  {digest}\n")),
            "{c}: {text}"
        );
    }
    assert!(
        state.starts_with("planned, waiting for approval (sha256:"),
        "{state}"
    );
}

/// The dashboard (`report --html`) shows the open rollout's stages and,
/// in the fleet grid, the wave still holding each pair not yet rolled; a
/// rollout's applies count in the grid's pairs and the weekly chart.
#[test]
fn the_dashboard_shows_the_rollout_and_each_pairs_wave() {
    let w = World::with(4, "staging");
    let out = w.expect(0, &["rollout", "start", "--base", "HEAD~1", "--json"]);
    let started: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    let id = started["id"].as_str().unwrap().to_string();
    let second = customers(&started["stages"][1]);
    w.expect(0, &["rollout", "tick", "--one-stage"]);
    w.expect(0, &["report", "--html", "dash.html"]);
    let html = w.fx.read("manager/dash.html");

    let rollouts = html.split(r#"id="rollouts""#).nth(1).unwrap();
    let rollouts = rollouts.split("</section>").next().unwrap();
    assert!(rollouts.contains(&format!("Rollout {id}")), "{rollouts}");
    for wave in ["internal", "half", "rest"] {
        assert!(
            rollouts.contains(&format!("<td>{wave}</td>")),
            "{wave}: {rollouts}"
        );
    }
    // The internal wave is applied: 2 of 2.
    assert!(
        rollouts.contains("<td>internal</td><td>2</td><td>2</td><td>0</td>"),
        "{rollouts}"
    );

    let grid = html.split(r#"id="grid""#).nth(1).unwrap();
    let grid = grid.split("</section>").next().unwrap();
    let row = |c: &str| {
        grid.split(&format!(r##"<a href="#customer-{c}">{c}</a>"##))
            .nth(1)
            .unwrap_or_else(|| panic!("no row {c}"))
            .split("</tr>")
            .next()
            .unwrap()
            .to_string()
    };
    assert!(row("c01").contains("applied today"), "{}", row("c01"));
    assert!(!row("c01").contains("rollout wave"), "{}", row("c01"));
    let next = &second[0];
    assert!(
        row(next).contains(&format!("rollout wave half ({id})")),
        "{}",
        row(next)
    );
    // This week's row of the chart's table: the two applies.
    let activity = html.split(r#"id="activity""#).nth(1).unwrap();
    let activity = activity.split("</section>").next().unwrap();
    let rows: Vec<&str> = activity.split("<tr><td>").skip(1).collect();
    let this_week = rows.last().unwrap();
    assert!(
        this_week.contains("</td><td>2</td><td>0</td>"),
        "{activity}"
    );
}
