//! Case 12's GitHub half (bench/drift_causes.py, `bash bench/run.sh
//! --causes-only`; issue #56 point 4), ignored by default: one shard's
//! drift report of `FLEETFORM_BENCH_PAIRS` (default 2,000) drifted pairs in
//! 5 causes, one pair per customer, merged by `fleetform drift
//! --from-reports --issues` with the request scheduler against the fake
//! GitHub at GitHub's secondary limits on the scaled clock
//! (tests/bench/github.rs), run again until every customer's issue and
//! every cause's issue exists. Prints one `BENCH {...}` line: the runs, the
//! writes (customers' and causes' issues apart), limit answers and
//! duplicates. No Terraform runs.

use serde_json::{json, Value};
use std::time::Instant;

use crate::bench::github::{fleet, report, setting, slug, Scale, Tally, MANAGER_REPO};
use crate::support::fake_github::FakeGitHub;

/// (type, attribute, kind of change): one cause each, as
/// bench/drift_causes.py makes them.
const CAUSES: [(&str, &str, &str, Option<bool>); 5] = [
    ("aws_s3_bucket", "versioning", "set", Some(false)),
    ("aws_security_group", "ingress", "element-added", None),
    ("aws_instance", "instance_type", "changed", None),
    (
        "aws_db_instance",
        "backup_retention_period",
        "changed",
        None,
    ),
    ("aws_lb", "deletion_protection", "set", Some(false)),
];

const CAUSE_LABEL: &str = "fleetform-drift-cause";

/// Pair `i`'s entry of a shard's report: its cause is `i % 5`.
fn drifted(i: usize) -> Value {
    let (c, env) = (slug(i + 1), "staging");
    let (ty, attr, change, to) = CAUSES[i % CAUSES.len()];
    let address = format!("module.site.{ty}.main");
    let mut kind = json!({"attribute": format!("/{attr}"), "change": change});
    if let Some(to) = to {
        kind["to"] = json!(to);
    }
    let resource = json!({"address": address, "action": "update", "type": ty, "changed": [format!("/{attr}")]});
    let mut drift = resource.clone();
    drift["kinds"] = json!([kind]);
    json!({
        "customer": c,
        "environment": env,
        "summary": {
            "customer": c, "environment": env,
            "create": 0, "update": 1, "delete": 0, "replace": 0,
            "resources": [resource], "outputs": [], "has_changes": true,
            "plan_sha256": format!("{i:064x}"), "state_key": format!("{c}/{env}.tfstate"),
            "cloud_drift": [drift],
        },
        "dir": format!("/tmp/{c}-{env}"),
    })
}

/// One shard's report of `n` drifted pairs (one per customer).
fn shard_report(n: usize) -> Value {
    let customers: Vec<String> = (1..=n).map(slug).collect();
    json!({
        "checked": n,
        "drifted": (0..n).map(drifted).collect::<Vec<_>>(),
        "clean": 0,
        "skipped": 0,
        "requests": 0,
        "planned_customers": customers,
        "reported_pairs": customers.iter().map(|c| format!("{c}/staging")).collect::<Vec<_>>(),
    })
}

/// The merge run again, with the scheduler, until every issue exists.
fn causes_until_done(n: usize, scale: &Scale) -> Value {
    let fx = fleet(n, None);
    // A cause of at least 2 customers gets its issue (the smoke's 10 pairs
    // are 2 a cause; at bench size every cause has hundreds).
    fx.append("manager/fleetform.yml", "drift:\n  cause_issues: 2\n");
    fx.write(
        "shards/shard-1/drift-report.json",
        &serde_json::to_string(&shard_report(n)).unwrap(),
    );
    let gh = FakeGitHub::start();
    gh.add_repo(MANAGER_REPO);
    let done = |gh: &FakeGitHub| {
        let issues = gh.issues(MANAGER_REPO);
        let causes = issues.iter().filter(|i| i.labels == [CAUSE_LABEL]).count();
        (issues.len() - causes, causes)
    };
    let most_runs = (n + CAUSES.len()).div_ceil(scale.writes_per_hour.max(1)) + 3;
    let mut tally = Tally::default();
    let mut fleetform_secs = Vec::new();
    let started = Instant::now();
    while tally.runs < most_runs && done(&gh) != (n, CAUSES.len()) {
        let before = tally.begin(&gh, scale);
        let cmd = crate::common::Run::from(fx.fleetform())
            .env("FLEETFORM_TOKEN", gh.token())
            .env("GITHUB_API_URL", gh.api_url())
            .env("GITHUB_REPOSITORY", MANAGER_REPO);
        let cmd = scale
            .configure(cmd, true)
            .args(["drift", "--from-reports", "../shards", "--issues", "--json"])
            .args(["--manager-repo", MANAGER_REPO, "--out"])
            .arg(format!("merged-{}", tally.runs));
        let t = Instant::now();
        let out = cmd.output();
        fleetform_secs.push(t.elapsed().as_secs_f64());
        tally.end(&gh, before, &report(&out));
    }
    let wall = started.elapsed().as_secs_f64();
    let (customer_issues, cause_issues) = done(&gh);
    let issues = gh.issues(MANAGER_REPO);
    let mut titles: Vec<&str> = issues.iter().map(|i| i.title.as_str()).collect();
    titles.sort();
    let all = titles.len();
    titles.dedup();
    let mut row = tally.row(&gh, scale, true, wall);
    row["pairs"] = json!(n);
    row["causes"] = json!(CAUSES.len());
    row["customer_issues"] = json!(customer_issues);
    row["cause_issues"] = json!(cause_issues);
    row["done"] = json!(customer_issues == n && cause_issues == CAUSES.len());
    row["duplicated"] = json!(all - titles.len());
    row["run_secs"] = json!(fleetform_secs);
    row
}

#[test]
#[ignore = "a bench: bash bench/run.sh --causes-only"]
fn drift_cause_issues_across_runs() {
    let n = setting("FLEETFORM_BENCH_PAIRS", 2000);
    let row = causes_until_done(n, &Scale::from_env());
    println!("BENCH {row}");
}

/// The harness at smoke size (seconds): 10 pairs in 5 causes (2
/// customers each, over `drift.cause_issues`' 5 once lowered to 2), a
/// budget of 4 writes a run: every customer's and every cause's issue
/// written once, over several runs, no limit answer.
#[test]
fn bench_smoke_cause_issues_fit_the_budget() {
    let scale = Scale {
        time: 5,
        writes_per_hour: 4,
    };
    let row = causes_until_done(10, &scale);
    assert_eq!(row["done"], true, "{row}");
    assert_eq!(row["customer_issues"], 10, "{row}");
    assert_eq!(row["cause_issues"], 5, "{row}");
    assert_eq!(row["limit_answers"], 0, "{row}");
    assert_eq!(row["duplicated"], 0, "{row}");
    assert!(row["most_writes_in_a_run"].as_u64().unwrap() <= 4, "{row}");
    assert!(row["runs"].as_u64().unwrap() >= 4, "{row}");
}
