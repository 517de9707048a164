//! Cost estimates from Infracost (#86 point 2): a policy tool of kind
//! `infracost` runs `infracost breakdown --path <plan JSON> --format json`
//! on each plan. The tests' `infracost` is a stand-in that checks it was
//! called so and prints one of Infracost's own CLI goldens
//! (tests/fixtures/cost, PROVENANCE.md): the estimate reaches the plan's
//! summary and its comment, and `max_monthly_increase` blocks like any
//! gate. Without Infracost the gate fails closed, saying how to install it.

use crate::common;
use crate::gates::tools::{fake_tool, gate, plan_gates, with_tools};

use common::Fixture;

/// A stand-in `infracost` printing the golden `name`, after checking its
/// arguments name an existing plan JSON file.
fn stand_in(fx: &Fixture, golden: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cost")
        .join(golden);
    fake_tool(
        fx,
        "infracost",
        &format!(
            "[ \"$1\" = breakdown ] && [ \"$2\" = --path ] && [ -f \"$3\" ] && [ \"$4\" = --format ] && [ \"$5\" = json ] || {{ echo \"unexpected arguments: $*\" >&2; exit 3; }}\ncat '{}'",
            path.display()
        ),
    );
}

fn infracost(max: Option<&str>) -> String {
    let max = max.map_or(String::new(), |m| {
        format!(", max_monthly_increase: \"{m}\"")
    });
    format!("      - {{ name: cost, kind: infracost, run: tools/infracost{max} }}\n")
}

/// `plan --json` for acme/staging: the summary.
fn summary(fx: &Fixture) -> serde_json::Value {
    let out = common::run(
        fx,
        &["plan", "--customer", "acme", "--env", "staging", "--json"],
    )
    .code(0);
    let rows: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    rows[0]["summary"].clone()
}

#[test]
fn the_estimate_reaches_the_summary_and_the_comment_and_its_gate_blocks_above_the_limit() {
    common::require_terraform();
    let fx = Fixture::new();
    stand_in(&fx, "breakdown_format_json.json");
    with_tools(&fx, &infracost(Some("2000")));
    let s = summary(&fx);
    assert_eq!(s["cost"]["currency"], "USD", "{s}");
    assert_eq!(s["cost"]["monthly"], "1361.3075");
    assert_eq!(s["cost"]["diff_monthly"], "1361.3075");
    let g = &s["gates"]["results"];
    let cost = g
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["gate"] == "cost")
        .unwrap();
    assert_eq!(cost["passed"], true, "{cost}");
    assert_eq!(
        cost["detail"],
        "+$1,361.31/month ($1,361.31/month in all), at most +$2,000.00"
    );
    let comment = fx.read("manager/.fleetform/out/acme/staging/comment.md");
    assert!(
        comment.contains("**+$1,361.31/month** ($1,361.31/month in all, Infracost's estimate)"),
        "{comment}"
    );

    // Above the limit, as an amount or as a share of nothing before.
    for max in ["1000", "10%"] {
        let fx = Fixture::new();
        stand_in(&fx, "breakdown_format_json.json");
        with_tools(&fx, &infracost(Some(max)));
        let gates = plan_gates(&fx);
        let cost = gate(&gates, "cost");
        assert_eq!(cost["passed"], false, "{max}: {cost}");
    }
}

#[test]
fn a_plan_that_keeps_the_cost_passes_a_share_and_new_keys_never_fail_the_read() {
    common::require_terraform();
    let fx = Fixture::new();
    stand_in(&fx, "breakdown_format_json_with_tags.json");
    with_tools(&fx, &infracost(Some("5%")));
    let s = summary(&fx);
    assert_eq!(s["cost"]["diff_monthly"], "0", "{s}");
    let cost = s["gates"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["gate"] == "cost")
        .unwrap()
        .clone();
    assert_eq!(cost["passed"], true, "{cost}");
    assert!(
        cost["detail"]
            .as_str()
            .unwrap()
            .starts_with("±$0.00/month ($1,696.30/month in all), at most 5.00% of $1,696.30"),
        "{cost}"
    );
    // `infracost diff`'s output has no past total: shown, change unknown.
    let fx = Fixture::new();
    stand_in(&fx, "output_diff_format_json.json");
    with_tools(&fx, &infracost(None));
    let gates = plan_gates(&fx);
    assert_eq!(
        gate(&gates, "cost")["detail"],
        "Infracost gave no change for this plan"
    );
}

#[test]
fn without_infracost_the_gate_fails_closed_and_says_how_to_install_it() {
    common::require_terraform();
    let fx = Fixture::new();
    with_tools(
        &fx,
        "      - { name: cost, kind: infracost, run: tools/no-such-infracost, max_monthly_increase: \"100\" }\n",
    );
    let gates = plan_gates(&fx);
    let cost = gate(&gates, "cost");
    assert_eq!(cost["passed"], false, "{cost}");
    assert!(
        cost["detail"]
            .as_str()
            .unwrap()
            .contains("install it from https://www.infracost.io/docs/#quick-start"),
        "{cost}"
    );
}

#[test]
fn a_limit_that_does_not_read_is_refused_at_its_line() {
    let fx = Fixture::new();
    with_tools(&fx, &infracost(Some("lots")));
    let line = fx.read("manager/fleetform.yml").lines().count();
    let out = common::Run::from(fx.fleetform()).arg("validate").output();
    common::assert_fails(&out);
    assert!(
        common::stderr(&out).contains(&format!("fleetform.yml:{line}:"))
            && common::stderr(&out).contains("`lots` is neither an amount"),
        "{}",
        common::stderr(&out)
    );
    let fx = Fixture::new();
    with_tools(
        &fx,
        "      - { name: c, kind: checkov, max_monthly_increase: \"5\" }\n",
    );
    let out = common::Run::from(fx.fleetform()).arg("validate").output();
    common::assert_fails(&out);
    assert!(
        common::stderr(&out).contains("is infracost's gate"),
        "{}",
        common::stderr(&out)
    );
}

/// Each apply keeps its plan's estimate in its deployment record, and
/// `report cost` reads the month back from the records: what is deployed
/// and what changed it (#86 point 3).
#[test]
fn the_cost_report_reads_what_each_apply_kept() {
    common::require_terraform();
    let fx = Fixture::new();
    stand_in(&fx, "breakdown_format_json.json");
    with_tools(&fx, &infracost(None));
    common::apply_locally(&fx, "acme", "staging");
    let month = jiff::Timestamp::now().strftime("%Y-%m").to_string();
    let out = common::run(
        &fx,
        &["report", "cost", "--customer", "acme", "--month", &month],
    )
    .code(0);
    for want in [
        format!("# Cost report: `acme`, {month}"),
        "| `staging` | – | $1,361.31 |".to_string(),
        "| **total** | | **$1,361.31** | |".to_string(),
        "| `staging` | – | +$1,361.31 | $1,361.31 |".to_string(),
    ] {
        assert!(out.stdout.contains(&want), "{want}:\n{}", out.stdout);
    }
    let csv = common::run(
        &fx,
        &[
            "report",
            "cost",
            "--customer",
            "acme",
            "--month",
            &month,
            "--csv",
        ],
    )
    .code(0);
    let rows: Vec<&str> = csv.stdout.lines().collect();
    assert_eq!(
        rows[0],
        "kind,customer,environment,product,time,monthly,change,currency,commit,run"
    );
    assert!(
        rows[1].starts_with("deployed,acme,staging,,")
            && rows[1].contains(",1361.3075,1361.3075,USD,"),
        "{}",
        csv.stdout
    );
    // A month before: nothing applied yet.
    let out = common::run(
        &fx,
        &["report", "cost", "--customer", "acme", "--month", "2001-01"],
    )
    .code(0);
    assert!(
        out.stdout.contains("Nothing was applied by then."),
        "{}",
        out.stdout
    );
    let bad = common::Run::from(fx.fleetform())
        .args(["report", "cost", "--customer", "acme", "--month", "2026-13"])
        .output();
    common::assert_fails(&bad);
    assert!(
        common::stderr(&bad).contains("not a month like 2026-11"),
        "{}",
        common::stderr(&bad)
    );
}
