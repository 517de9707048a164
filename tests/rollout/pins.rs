//! Per-customer pins (#37 point 3), on the rollout tests' world (three
//! customers in staging, the staging defaults' `tier` changed in the head
//! commit; `v1` tags the commit before): a customer pinned at `v1` is left
//! out of a rollout (said in `--json` and in words), is planned, applied
//! and checked for drift with the manager at `v1` (its old `tier`), and the hold shows in its plan
//! comment, `customers show` and, once expired, the dashboard; a pin added
//! during a rollout is skipped by the tick; a pin git could read as an
//! option is refused.

use crate::common::{stderr, stdout};
use crate::support::rollout_world::World;

use serde_json::Value;

/// 2027-01-01T00:00:00Z, before the pins' `until`.
const BEFORE: &str = "1798761600";
/// 2027-02-05T00:00:00Z, five days after it.
const AFTER: &str = "1801785600";

const PIN: &str =
    "    pins:\n      - ref: v1\n        until: 2027-01-31\n        reason: change freeze\n";

/// Pins `slug` at `v1` in the registry (the working tree: the live
/// registry).
fn pin(w: &World, slug: &str) {
    let registry = w.fx.read("manager/customers.yml");
    let entry = format!("  - slug: {slug}\n");
    assert!(registry.contains(&entry), "{registry}");
    w.fx.write(
        "manager/customers.yml",
        &registry.replacen(&entry, &format!("{entry}{PIN}"), 1),
    );
}

fn world() -> World {
    let w = World::with(3, "staging");
    w.fx.git(&["tag", "v1", "HEAD~1"]);
    w
}

#[test]
fn a_pinned_customer_is_skipped_by_a_rollout_and_planned_at_its_pin() {
    let w = world();
    pin(&w, "c02");
    // The pin is part of the manager's commit being rolled out.
    w.fx.git(&["commit", "-q", "-a", "--amend", "--no-edit"]);

    let out = w.expect(0, &["rollout", "start", "--base", "HEAD~1", "--json"]);
    let started: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    assert_eq!(
        started["pinned"],
        serde_json::json!([{"unit": {"customer": "c02", "environment": "staging"}, "ref": "v1", "until": "2027-01-31"}]),
        "{started:#}"
    );
    let planned: Vec<&str> = started["stages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["units"].as_array().unwrap())
        .map(|u| u["customer"].as_str().unwrap())
        .collect();
    assert!(!planned.contains(&"c02"), "{started:#}");
    let out = w.expect(0, &["rollout", "tick"]);
    assert!(stdout(&out).contains("finished"), "{}", stdout(&out));
    assert_eq!(w.rolled(), ["c01", "c03"]);

    // The words of a start (a fresh world: this one's change is rolled out).
    let words = world();
    pin(&words, "c02");
    words
        .fx
        .git(&["commit", "-q", "-a", "--amend", "--no-edit"]);
    let out = words.expect(0, &["rollout", "start", "--base", "HEAD~1"]);
    assert!(
        stderr(&out)
            .contains("skipped c02/staging (pinned at `v1` until 2027-01-31; not rolled out)")
            || stdout(&out)
                .contains("skipped c02/staging (pinned at `v1` until 2027-01-31; not rolled out)"),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );

    // Planned at the pin: the staging defaults of `v1` (`tier: staging`),
    // not the head's (`staging-2`), and the comment says so.
    let out = w
        .fleetform()
        .env("FLEETFORM_NOW", BEFORE)
        .args(["plan", "--customer", "c02,c03", "--env", "staging"])
        .output();
    crate::common::assert_code(&out, 0);
    let dir = |c: &str| {
        w.fx.manager()
            .join(".fleetform/out")
            .join(c)
            .join("staging")
    };
    let vars = |c: &str| -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(dir(c).join("variables.tfvars.json")).unwrap(),
        )
        .unwrap()
    };
    let tier = |c: &str| vars(c).to_string();
    assert!(
        tier("c02").contains("\"staging\"") && !tier("c02").contains("staging-2"),
        "{}",
        tier("c02")
    );
    assert!(tier("c03").contains("staging-2"), "{}", tier("c03"));
    let comment = std::fs::read_to_string(dir("c02").join("comment.md")).unwrap();
    assert!(
        comment.contains("**Pinned**: held at `v1` until 2027-01-31 (change freeze)"),
        "{comment}"
    );
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(dir("c02").join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["pin"]["ref"], "v1", "{summary:#}");
    let other = std::fs::read_to_string(dir("c03").join("comment.md")).unwrap();
    assert!(!other.contains("Pinned"), "{other}");
    // Applied at the pin too: its network keeps `v1`'s tier.
    let out = w.expect(0, &["apply", "--customer", "c02", "--env", "staging"]);
    assert!(
        w.networks()
            .contains(&("c02-staging".into(), "staging".into())),
        "{:?}\n{}",
        w.networks(),
        stdout(&out)
    );
    // Drift is checked at the pin too: none (at the head `tier` differs).
    w.expect(0, &["drift", "--customer", "c02", "--env", "staging"]);
    w.expect(0, &["drift", "--customer", "c01", "--env", "staging"]);

    // `customers show`, before and after the expiry; the dashboard flags it.
    let show = |now: &str| {
        let out = w
            .fleetform()
            .env("FLEETFORM_NOW", now)
            .args(["customers", "show", "c02"])
            .output();
        crate::common::assert_code(&out, 0);
        stdout(&out)
    };
    let before = show(BEFORE);
    assert!(
        before.contains("held at `v1` until 2027-01-31: change freeze"),
        "{before}"
    );
    assert!(!before.contains("EXPIRED"), "{before}");
    assert!(
        show(AFTER).contains("EXPIRED 5 days ago"),
        "{}",
        show(AFTER)
    );
    let html = w.fx.path("dash.html");
    let out = w
        .fleetform()
        .env("FLEETFORM_NOW", AFTER)
        .args(["report", "--html"])
        .arg(&html)
        .output();
    crate::common::assert_code(&out, 0);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("<p class=\"bad\">Pinned: held at `v1` until 2027-01-31: change freeze (EXPIRED 5 days ago"),
        "{page}"
    );
    // In the grid too, on the customer's row (issue #52).
    let grid = page.split(r#"id="grid""#).nth(1).unwrap();
    assert!(
        grid.contains(
            r##"<a href="#customer-c02">c02</a><br><span class="bad">pin expired (v1)</span></th>"##
        ),
        "{grid}"
    );
    // `customers list`: a PINS column, the expired pin marked, and in JSON.
    let list = |now: &str, json: bool| {
        let mut args = vec!["customers", "list"];
        if json {
            args.push("--json");
        }
        let out = w.fleetform().env("FLEETFORM_NOW", now).args(&args).output();
        crate::common::assert_code(&out, 0);
        stdout(&out)
    };
    let table = list(BEFORE, false);
    assert!(table.lines().next().unwrap().contains("PINS"), "{table}");
    let c02 = table.lines().find(|l| l.starts_with("c02 ")).unwrap();
    assert!(
        c02.contains("v1 until 2027-01-31") && !c02.contains("EXPIRED"),
        "{table}"
    );
    let table = list(AFTER, false);
    let c02 = table.lines().find(|l| l.starts_with("c02 ")).unwrap();
    assert!(
        c02.contains("v1 until 2027-01-31 (EXPIRED 5 d ago)"),
        "{table}"
    );
    let v: Value = serde_json::from_str(&list(AFTER, true)).unwrap();
    let c02 = v
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["slug"] == "c02")
        .unwrap();
    assert_eq!(c02["pins"][0]["expired_days"], 5, "{v:#}");
}

#[test]
fn a_pin_added_during_a_rollout_is_skipped_by_the_tick() {
    let w = world();
    w.expect(0, &["rollout", "start", "--base", "HEAD~1"]);
    pin(&w, "c03");
    let out = w.expect(0, &["rollout", "tick"]);
    let said = stdout(&out);
    assert!(
        said.contains(
            "skipped c03/staging (customer `c03` is pinned in `customers.yml` (held at `v1`))"
        ),
        "{said}"
    );
    assert_eq!(w.rolled(), ["c01", "c02"]);
    assert_eq!(w.status()["finished"], true);
}

#[test]
fn a_pin_git_could_read_as_an_option_is_refused() {
    let w = world();
    pin(&w, "c01");
    let registry = w.fx.read("manager/customers.yml");
    w.fx.write(
        "manager/customers.yml",
        &registry.replacen("ref: v1", "ref: --output=/tmp/x", 1),
    );
    let out = w.run(&["customers", "list"]);
    crate::common::assert_fails(&out);
    assert!(stderr(&out).contains("starts with `-`"), "{}", stderr(&out));
}
