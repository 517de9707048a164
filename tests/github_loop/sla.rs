//! Response times against `sla:` (#86 point 4), measured from the records
//! the GitHub loop's runs leave: each plan from when GitHub made its run
//! to when GitHub wrote its comment, each apply from when GitHub made its
//! run (the customer's go-ahead) to its final deployment status. One plan
//! is made late on purpose: its run was created three hours before the
//! plan comment, against a promise of one hour.

use crate::common;
use crate::support::readme_budgets::Budgets;
use crate::world::{ok, World, ACME, MANAGER};

const DEPLOY: &str = ".github/workflows/manager-deploy.yml";

/// `at` seconds before now, as GitHub writes times.
fn ago(secs: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    fleetform::audit::rfc3339(now - secs)
}

/// The manager's next run, as GitHub lists it: created `created_at`.
fn next_run_created(w: &World, created_at: &str) -> u64 {
    let run_id = w.run_id + 1;
    w.gh.record_run(
        MANAGER,
        run_id,
        DEPLOY,
        ("repository_dispatch", "main"),
        "fleetform-relay[bot]",
        &"e".repeat(40),
        created_at,
        1,
    );
    run_id
}

#[test]
fn the_sla_report_measures_the_loops_records_and_shows_a_forced_breach() {
    let mut w = World::new();
    w.fx.append(
        "manager/fleetform.yml",
        "\nsla:\n  staging:\n    plan_within: 1h\n    apply_within: 4h\nnotify:\n  - name: pager\n    kind: webhook\n    url_env: FLEETFORM_PAGER_WEBHOOK\n    events: [sla_breach]\n",
    );
    // A pull request's plan whose run GitHub made three hours ago: late,
    // and the pager is told by the plan job itself.
    let sha = w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "More instances");
    ok(&w.trigger_pr(ACME, pr, "feature", &sha).0);
    let late_at = ago(3 * 3600);
    let late = next_run_created(&w, &late_at);
    let pager = crate::notify::Receiver::start(vec![], 200);
    let d = w.last_dispatch();
    let (cmd, _) = w.dispatch_step(&d);
    w.gh.reset_counters();
    ok(&common::Run::from(cmd)
        .args(["plan", "--dispatch", "--env", "staging"])
        .env("FLEETFORM_PAGER_WEBHOOK", &pager.url)
        .output());
    // A direct dispatch carries no time of the customer's: the run read
    // for its start is the budget's one more request.
    let book = Budgets::from_book();
    let plan = "`plan --dispatch`, per environment";
    assert_eq!(
        w.gh.request_count(),
        book.lead(plan)
            + book.n(plan, " for a pull request's plan")
            + book.n(plan, " per job when `sla:` promises a plan time"),
        "{}",
        w.gh.request_lines()
    );
    let told = pager.bodies();
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(
        (
            &told[0]["event"],
            &told[0]["customer"],
            &told[0]["environment"]
        ),
        (&"sla_breach".into(), &"acme".into(), &"staging".into())
    );
    let summary = told[0]["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("plan (event → plan comment) took 3h 0")
            && summary.ends_with(", 1h 00m promised"),
        "{summary}"
    );
    assert!(told[0]["run_url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/actions/runs/{late}")));

    // Merged: planned and applied in runs GitHub made just now.
    let merged = w.gh.merge_pr(ACME, pr);
    ok(&w
        .trigger_push(
            ACME,
            &merged,
            "Merge pull request #1 from acme-corp/feature",
        )
        .0);
    next_run_created(&w, &ago(0));
    let (out, files) = w.plan_latest("staging");
    ok(&out);
    let digest = files.outputs()["plan_sha256"].clone();
    next_run_created(&w, &ago(0));
    w.gh.reset_counters();
    let (out, files) = w.apply_latest("staging", &digest);
    ok(&out);
    assert_eq!(files.outputs()["applied"], "true");
    // The run read for its time is the budget's one more request.
    let apply = "`apply --dispatch`";
    assert_eq!(
        w.gh.request_count(),
        book.lead(apply) + book.n(apply, " when `sla:` promises the environment an apply time")
    );

    // The records keep GitHub's times: the late run's creation, the
    // comment's and the final deployment status's.
    let lines = w.audit_lines();
    let plans: Vec<_> = lines.iter().filter(|l| l["action"] == "plan").collect();
    assert_eq!(plans.len(), 2, "{lines:?}");
    assert_eq!(plans[0]["times"]["event"], late_at.as_str());
    assert!(
        plans.iter().all(|p| p["times"]["event_from"] == "run"),
        "{plans:?}"
    );
    assert!(
        plans.iter().all(|p| p["times"]["comment"].is_string()),
        "{plans:?}"
    );
    let apply = lines.iter().find(|l| l["action"] == "apply").unwrap();
    assert!(apply["times"]["approval"].is_string(), "{apply}");
    assert!(apply["times"]["apply"].is_string(), "{apply}");

    let report = common::Run::from(w.fx.fleetform())
        .args(["report", "sla", "--json"])
        .output();
    ok(&report);
    let r = report.json();
    let rows = r["rows"].as_array().unwrap();
    let row = |m: &str| {
        rows.iter()
            .find(|x| x["measure"] == m && x["customer"] == "acme" && x["environment"] == "staging")
            .unwrap_or_else(|| panic!("no {m} row: {r}\n{lines:?}"))
    };
    assert_eq!(
        (
            row("plan")["count"].as_u64(),
            row("plan")["breaches"].as_u64()
        ),
        (Some(2), Some(1))
    );
    assert_eq!(row("plan")["target_secs"], 3600);
    assert!(row("plan")["max_secs"].as_u64().unwrap() >= 3 * 3600, "{r}");
    assert_eq!(
        (
            row("apply")["count"].as_u64(),
            row("apply")["target_secs"].as_u64()
        ),
        (Some(1), Some(4 * 3600))
    );
    // The one breach, with its run.
    let breaches = r["breaches"].as_array().unwrap();
    assert_eq!(breaches.len(), 1, "{r}");
    assert_eq!(breaches[0]["measure"], "plan");
    assert!(
        breaches[0]["run_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/actions/runs/{late}")),
        "{r}"
    );
    assert_eq!(r["unmeasured"], 0);
    // The records store keeps the same events, and the same report.
    let stored = common::Run::from(w.fx.fleetform())
        .args(["report", "sla", "--records", "--json"])
        .output();
    ok(&stored);
    assert_eq!(stored.json()["rows"], r["rows"]);
    assert_eq!(stored.json()["breaches"], r["breaches"]);

    // The dashboard shows the same, its breach linked to its run.
    let html = w.fx.manager().join("dashboard.html");
    ok(&common::Run::from(w.fx.fleetform())
        .args(["report", "--html"])
        .arg(&html)
        .output());
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<section id=\"sla\">"), "{page}");
    assert!(
        page.contains(&format!(
            "<a href=\"https:&#x2f;&#x2f;github.com&#x2f;provider&#x2f;manager&#x2f;actions&#x2f;runs&#x2f;{late}\">run</a></li>"
        )),
        "{page}"
    );

    // The Markdown names the breach and links its run; the CSV has a row
    // per measured plan or apply.
    let md = common::Run::from(w.fx.fleetform())
        .args(["report", "sla"])
        .output();
    ok(&md);
    assert!(md.stdout.contains("## 1 breach"), "{}", md.stdout);
    assert!(
        md.stdout.contains(&format!(
            "[run](https://github.com/{MANAGER}/actions/runs/{late})"
        )),
        "{}",
        md.stdout
    );
    let csv = common::Run::from(w.fx.fleetform())
        .args(["report", "sla", "--format", "csv"])
        .output();
    ok(&csv);
    assert_eq!(csv.stdout.lines().count(), 4, "{}", csv.stdout);
    assert_eq!(
        csv.stdout.lines().filter(|l| l.contains(",true,")).count(),
        1,
        "{}",
        csv.stdout
    );

    // The apply came from the merged pull request: its deployment record
    // keeps the number, and the cost report names it (#86 point 3).
    let month = jiff::Timestamp::now().strftime("%Y-%m").to_string();
    let cost = |csv: bool| {
        let mut run = common::Run::from(w.fx.fleetform());
        run = run.args(["report", "cost", "--customer", "acme", "--month", &month]);
        if csv {
            run = run.arg("--csv");
        }
        let out = run.output();
        ok(&out);
        out.stdout
    };
    let pull = format!("{ACME}#{pr}");
    let md = cost(false);
    assert!(md.contains(&format!("| `{pull}` | [run](")), "{md}");
    let csv = cost(true);
    assert!(
        csv.lines()
            .any(|l| l.starts_with("change,acme,staging,") && l.contains(&format!(",{pull},"))),
        "{csv}"
    );
    w.gh.assert_clean();
}

/// A promise that cannot be kept as written is refused where it is written
/// (`fleetform.yml:line:col`): an environment fleetform.yml does not
/// declare, a duration that does not read or is zero, an environment
/// promised nothing.
#[test]
fn a_bad_sla_is_refused_at_its_line() {
    let fx = common::Fixture::new();
    let base = fx.read("manager/fleetform.yml");
    // `sla:` is on the line after the blank one that follows the file; a
    // problem is shown where its value starts.
    let sla_line = base.lines().count() + 2;
    for (sla, offset, what) in [
        (
            "  qa:\n    plan_within: 15m\n",
            2,
            "unknown environment `qa`",
        ),
        (
            "  staging:\n    plan_within: soon\n",
            2,
            "`soon` is not a duration",
        ),
        (
            "  staging:\n    apply_within: 0m\n",
            2,
            "`0m` is not a duration",
        ),
        (
            "  staging: {}\n",
            1,
            "promise `plan_within:`, `apply_within:` or both",
        ),
    ] {
        fx.write("manager/fleetform.yml", &format!("{base}\nsla:\n{sla}"));
        let out = common::run(&fx, &["validate"]).code(2);
        assert!(out.stderr.contains(what), "{}", out.stderr);
        assert!(
            out.stderr
                .contains(&format!("fleetform.yml:{}:", sla_line + offset)),
            "{}",
            out.stderr
        );
    }
}

/// Through the deploy workflow as GitHub runs it, with `sla:`: each plan
/// job reads its own run with the job's GITHUB_TOKEN (`contents: read` is
/// enough for "Get a workflow run") and the strict fake answers it; the
/// plans are measured, nothing is refused.
#[test]
fn the_deploy_workflows_plan_jobs_read_their_run_with_their_own_token() {
    use crate::support::actions_runner::Event;
    let mut w = World::new();
    w.fx.append(
        "manager/fleetform.yml",
        "\nsla:\n  staging:\n    plan_within: 15m\n  production:\n    plan_within: 15m\n",
    );
    let mut runner = crate::templates::deploy_run::deploy_runner(&w);
    let sha = w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "More instances");
    ok(&w.trigger_pr(ACME, pr, "feature", &sha).0);
    let d = w.last_dispatch();
    w.gh.reset_counters();
    let run = runner.run(&w.gh, "workflows/manager-deploy.yml", &Event::dispatch(&d));
    run.assert_succeeded(&["authorise", "plan-staging", "plan-production", "conclude"]);
    for job in ["plan-staging", "plan-production"] {
        assert!(
            !run.job(job).log.contains("is not measured against `sla:`"),
            "{}",
            run.job(job).log
        );
    }
    let reads: Vec<_> =
        w.gh.requests()
            .into_iter()
            .filter(|r| {
                r.method == "GET"
                    && r.path
                        .starts_with(&format!("/repos/{MANAGER}/actions/runs/"))
            })
            .collect();
    assert_eq!(reads.len(), 2, "{}", w.gh.request_lines());
    assert!(
        reads.iter().all(|r| r.status == 200),
        "{}",
        w.gh.request_lines()
    );
    w.gh.assert_clean();
}
