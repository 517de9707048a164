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
        comment.contains("**+$1,361.31/month** ($1,361.31/month in all, Infracost's estimate against the state the plan starts from)"),
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
    // `infracost diff`'s output has no past total at the top: its
    // projects' own past and diff totals are read.
    let fx = Fixture::new();
    stand_in(&fx, "output_diff_format_json.json");
    with_tools(&fx, &infracost(None));
    let gates = plan_gates(&fx);
    assert_eq!(
        gate(&gates, "cost")["detail"],
        "+$1,361.31/month ($1,361.31/month in all)"
    );
}

/// `infracost diff` against the last applied plan (#86 point 2): each
/// apply keeps its plan's Infracost JSON in its deployment record, and
/// the pair's next plan is diffed against it (`--compare-to`); a pair
/// with no kept JSON is broken down. The comment says which.
#[test]
fn the_next_plan_is_diffed_against_the_last_applied_plans_estimate() {
    common::require_terraform();
    let fx = Fixture::new();
    let golden = |name: &str| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/cost")
            .join(name)
            .display()
            .to_string()
    };
    let seen = fx.path("baseline-seen.json");
    fake_tool(
        &fx,
        "infracost",
        &format!(
            "case \"$1\" in\n\
             breakdown) [ \"$2\" = --path ] && [ -f \"$3\" ] && [ \"$4\" = --format ] && [ \"$5\" = json ] || exit 3; cat '{}' ;;\n\
             diff) [ \"$2\" = --path ] && [ -f \"$3\" ] && [ \"$4\" = --compare-to ] && [ -f \"$5\" ] && [ \"$6\" = --format ] && [ \"$7\" = json ] || exit 3; cp \"$5\" '{}'; cat '{}' ;;\n\
             *) echo \"unexpected arguments: $*\" >&2; exit 3 ;;\n\
             esac",
            golden("breakdown_format_json.json"),
            seen.display(),
            golden("output_diff_format_json.json"),
        ),
    );
    with_tools(&fx, &infracost(None));
    // Never applied: broken down.
    assert_eq!(summary(&fx)["cost"]["basis"], "prior_state");
    common::apply_locally(&fx, "acme", "staging");
    let record =
        std::fs::read_dir(fx.path("manager/.fleetform/records/deployments/acme/_/staging"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .next()
            .unwrap();
    let kept: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
    assert_eq!(kept["infracost"]["totalMonthlyCost"], "1361.3075", "{kept}");

    // A change planned: diffed against what the apply kept, and said so.
    let v = fx.read("customers/acme/infra/variables.yml").replacen(
        "instance_type: t3.micro",
        "instance_type: t3.small",
        1,
    );
    fx.write("customers/acme/infra/variables.yml", &v);
    let s = summary(&fx);
    assert_eq!(s["cost"]["basis"], "last_applied", "{s}");
    assert_eq!(s["cost"]["diff_monthly"], "1361.31", "{s}");
    let baseline: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&seen).unwrap()).unwrap();
    assert_eq!(baseline, kept["infracost"]);
    let comment = fx.read("manager/.fleetform/out/acme/staging/comment.md");
    assert!(
        comment.contains("Infracost's estimate against the last applied plan)"),
        "{comment}"
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
        "kind,customer,environment,product,time,monthly,change,currency,commit,pull_request,run"
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

/// The acceptance of #86's estimates: a fleet rolled out with the
/// stand-in `infracost` printing Infracost's own golden for every plan
/// (+$1,361.31 a month each). The pull request comment, the gate, the
/// rollout wave's summary and the dashboard show the same figure: each
/// pair's change, the wave's two pairs summed, and what the dashboard
/// reads back from the deployment records the tick wrote.
#[test]
fn the_comment_the_gate_the_wave_total_and_the_dashboard_agree() {
    let w = crate::support::rollout_world::World::with(4, "staging");
    stand_in(&w.fx, "breakdown_format_json.json");
    with_tools(&w.fx, &infracost(Some("2000")));
    // Part of the change being rolled out.
    w.fx.git(&["add", "-A"]);
    w.fx.git(&["commit", "-q", "-a", "--amend", "--no-edit"]);
    let pair = "+$1,361.31/month";
    let wave = "+$2,722.62/month";

    // The comment and the gate of one pair's plan.
    let out = w.expect(
        0,
        &["plan", "--customer", "c01", "--env", "staging", "--json"],
    );
    let rows: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let gates = rows[0]["summary"]["gates"]["results"].as_array().unwrap();
    let cost = gate(gates, "cost");
    assert_eq!(cost["passed"], true, "{cost}");
    assert!(cost["detail"].as_str().unwrap().starts_with(pair), "{cost}");
    let comment = w.fx.read("manager/.fleetform/out/c01/staging/comment.md");
    assert!(comment.contains(&format!("**{pair}**")), "{comment}");

    // The wave planned (its summary is checked last).
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

    // Applied: the dashboard reads each apply's estimate back. Checked
    // before the wave's summary: each figure stands on its own, so each
    // of their guards broken alone fails here (the dashboard's months,
    // fleet::cost_history) or below (the wave's sum).
    w.expect(
        0,
        &[
            "rollout",
            "tick",
            "--one-stage",
            "--plans-from",
            ".fleetform/rollout-plans",
        ],
    );
    w.expect(0, &["report", "--html", "dash.html"]);
    let html = w.fx.read("manager/dash.html");
    let month = jiff::Timestamp::now().strftime("%Y-%m").to_string();
    for c in ["c01", "c02"] {
        let view = html
            .split(&format!(r#"id="customer-{c}""#))
            .nth(1)
            .unwrap()
            .split("</section>")
            .next()
            .unwrap();
        assert!(
            view.contains(&format!(
                "<th scope=\"row\">{month}</th><td>$1,361.31</td><td>{}</td>",
                pair.replace('/', "&#x2f;")
            )),
            "{c}: {view}"
        );
    }
    // A pair the wave did not reach has no estimate kept.
    let c04 = html.split(r#"id="customer-c04""#).nth(1).unwrap();
    let c04 = c04.split("</section>").next().unwrap();
    assert!(!c04.contains("Cost per month"), "{c04}");

    // The wave's summary: its two pairs' changes summed, per group and in all.
    assert!(
        text.contains(&format!("The wave's cost: **{wave}** in all")),
        "{text}"
    );
    assert!(
        text.contains(&format!("cost: {wave}): `c01/staging`")),
        "{text}"
    );
}
