//! A newcomer's first hour (issue #38), continued: running the fleet.
//! `doctor` without GitHub (point 8), a rollout from a dirty tree and its
//! status after a rollback (point 9), and drift of a pair never applied
//! (point 10); each as the newcomer met it.

use crate::common;

use common::{require_terraform, stderr, stdout};

/// Point 8: `doctor` with GitHub out of reach says so once, first, with the
/// address it tried, stops there, and passes nothing it could not check.
#[test]
fn doctor_without_github_says_so_once_and_passes_nothing() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let api = format!("http://127.0.0.1:{port}");
    let fx = common::Fixture::new();
    let out = common::Run::from(fx.fleetform())
        .env("GITHUB_API_URL", &api)
        .env("GITHUB_TOKEN", "ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
        .args(["-v", "doctor", "--repo", "provider/manager"])
        .code(5);
    let err = stderr(&out);
    let said: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("cannot reach GitHub"))
        .collect();
    assert_eq!(said.len(), 1, "{err}");
    assert!(
        said[0].starts_with(&format!("error: cannot reach GitHub at {api}")),
        "{err}"
    );
    let first_error = err.lines().find(|l| l.starts_with("error:")).unwrap();
    assert_eq!(first_error, said[0]);
    // One request, not retried (the connection was refused), then nothing
    // more was sent; the reason is the connection's own.
    assert!(err.contains("\n1 GitHub API request\n"), "{err}");
    assert!(
        said[0].contains("no connection could be made (") && !said[0].contains("gave up after"),
        "{err}"
    );
    let table = stdout(&out);
    // The tally first, then the table.
    let rows: Vec<&str> = table
        .lines()
        .skip_while(|l| !l.starts_with("LEVEL"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    assert!(rows.len() >= 6, "{table}");
    for row in rows {
        // The schema lint reads the checkout only: it is made.
        if row.contains("schema lint") {
            continue;
        }
        assert!(!row.contains(" pass "), "{row}");
        // The registry's own facts (a customer without `repo_id`) are
        // known without GitHub; everything GitHub holds could not be checked.
        if row.contains("no `repo_id` in customers.yml") {
            continue;
        }
        assert!(row.contains("could not check"), "{row}");
    }
    assert!(table.contains("expiry of the token"), "{table}");
}

/// Point 10: a pair never applied is its own state, not drift: exit 0,
/// "never applied" in the table, the reports, the audit log and the
/// dashboard, and no drift issue or notification.
#[test]
fn never_applied_is_not_drift() {
    require_terraform();
    let fx = common::Fixture::new();
    let out = common::run(&fx, &["drift", "--customer", "acme"]).code(0);
    let table = stdout(&out);
    assert!(
        table.contains("acme      staging      +3 ~0 -0  never applied"),
        "{table}"
    );
    assert!(
        stderr(&out).contains("2 pairs never applied"),
        "{}",
        stderr(&out)
    );
    let report: serde_json::Value =
        serde_json::from_str(&fx.read("manager/.fleetform/drift/drift-report.json")).unwrap();
    assert_eq!(report["drifted"].as_array().unwrap().len(), 0);
    assert_eq!(report["never_applied"].as_array().unwrap().len(), 2);
    let md = fx.read("manager/.fleetform/drift/drift-report.md");
    assert!(
        md.contains("**0 drifted**") && md.contains("2 never applied"),
        "{md}"
    );
    let log = fx.read("manager/.fleetform/audit.jsonl");
    assert!(
        log.contains(r#""action":"drift""#) && log.contains(r#""result":"never-applied""#),
        "{log}"
    );

    let out = common::Run::from(fx.fleetform())
        .args(["report", "--html", "dash.html"])
        .output();
    common::assert_ok(&out);
    assert!(
        stdout(&out).contains("(2 customers, 0 rollouts)"),
        "{}",
        stdout(&out)
    );
    let html = fx.read("manager/dash.html");
    assert!(html.contains("never applied"), "{html}");
    assert!(
        !html.contains("drift: drift") && !html.contains("drift: found"),
        "{html}"
    );
}

/// Point 9: `rollout start` refuses a manager folder with uncommitted
/// changes (they would roll out under a commit that lacks them) unless
/// `--allow-dirty`, which the audit log records.
#[test]
fn a_rollout_starts_from_a_commit_or_says_it_did_not() {
    require_terraform();
    let fx = committed_fleet();
    let base = fx.read("manager/values/staging.yml");
    fx.write(
        "manager/values/staging.yml",
        &format!("{base}\ninstance_count: 2\n"),
    );

    let out = common::run(&fx, &["rollout", "start", "--base", "HEAD"]).code(3);
    let err = stderr(&out);
    assert!(
        err.contains("error: refused: the manager's folder has uncommitted changes (manager/values/staging.yml); a rollout records the commit ")
            && err.contains("pass --allow-dirty"),
        "{err}"
    );
    assert!(!fx.path("manager/.fleetform/records/rollouts").exists());

    let out = common::Run::from(fx.fleetform())
        .args(["rollout", "start", "--base", "HEAD", "--allow-dirty"])
        .output();
    common::assert_ok(&out);
    assert!(
        stderr(&out).contains("started with --allow-dirty from a folder with uncommitted changes (manager/values/staging.yml)"),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("1 stage, the change since"),
        "{}",
        stdout(&out)
    );
    let log = fx.read("manager/.fleetform/audit.jsonl");
    let dirty: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(r#""result":"started-dirty""#))
        .collect();
    assert_eq!(dirty.len(), 1, "{log}");
    assert!(dirty[0].contains("manager/values/staging.yml"), "{log}");
}

/// Point 9: after a rollback, `rollout status` says "rolled back", not
/// "done": the rollback's stages and the rollout it rolled back.
#[test]
fn after_a_rollback_the_status_says_rolled_back() {
    require_terraform();
    let fx = committed_fleet();
    let base = fx.read("manager/values/staging.yml");
    fx.write(
        "manager/values/staging.yml",
        &format!("{base}\ninstance_count: 2\n"),
    );
    fx.git(&["commit", "-q", "-am", "two instances"]);
    let run = |args: &[&str]| {
        let out = common::Run::from(fx.fleetform()).args(args).output();
        common::assert_ok_for(format_args!("{args:?}"), &out);
        stdout(&out)
    };
    run(&["rollout", "start", "--base", "HEAD~1"]);
    run(&["rollout", "tick"]);
    let applied = run(&["rollout", "status"]);
    assert!(applied.contains(" done"), "{applied}");
    let id = applied
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("rollout ")
        .to_string();
    run(&["rollout", "rollback"]);
    run(&["rollout", "tick"]);
    let table = run(&["rollout", "status"]);
    assert!(
        table.contains(&format!("rolled back rollout {id}")),
        "{table}"
    );
    assert!(
        table.contains("rolled back") && !table.contains(" done"),
        "{table}"
    );
    let old = run(&["rollout", "status", "--id", &id]);
    assert!(
        old.contains("rolled back") && !old.contains(" done"),
        "{old}"
    );
}

/// The example fleet with a one-wave rollout, committed in git.
fn committed_fleet() -> common::Fixture {
    let fx = common::Fixture::new();
    fx.append(
        "manager/fleetform.yml",
        "\nrollout:\n  bake: 0s\n  waves:\n    - name: all\n",
    );
    fx.git(&["init", "-q"]);
    fx.git(&["add", "-A"]);
    fx.git(&["commit", "-q", "-m", "the fleet"]);
    fx
}
