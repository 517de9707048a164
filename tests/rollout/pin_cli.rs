//! `customers pin` and `customers unpin` (#37 point 1), on the rollout
//! tests' world (three customers in staging, waves `internal` = c01 and
//! c02 by label, `half` = c03, `rest`; `v1` tags the commit before the
//! head): a pin is written into the registry with its comments kept, is
//! shown and audited, replaces the customer's earlier pin and is removed
//! again leaving the file as it was; a wave pins each of its customers;
//! bad refs, dates, products, slugs and waves are refused with the flag
//! named and nothing written.

use crate::common::{stderr, stdout};
use crate::support::rollout_world::World;

/// 2027-01-01T00:00:00Z.
const NOW: &str = "1798761600";

fn world() -> World {
    let w = World::with(3, "staging");
    w.fx.git(&["tag", "v1", "HEAD~1"]);
    // A comment the edits must keep.
    let registry = w.fx.read("manager/customers.yml");
    w.fx.write(
        "manager/customers.yml",
        &registry.replacen(
            "  - slug: c02\n",
            "  # c02 is our friend\n  - slug: c02\n",
            1,
        ),
    );
    w
}

fn run(w: &World, args: &[&str]) -> crate::common::Ran {
    w.fleetform().env("FLEETFORM_NOW", NOW).args(args).output()
}

fn ok(w: &World, args: &[&str]) -> String {
    let out = run(w, args);
    crate::common::assert_code_for(format_args!("{args:?}"), &out, 0);
    stdout(&out)
}

/// `args` fail with a usage error saying `says`, and the registry is unchanged.
fn refused(w: &World, args: &[&str], says: &str) {
    let before = w.fx.read("manager/customers.yml");
    let out = run(w, args);
    crate::common::assert_code_for(format_args!("{args:?}"), &out, 2);
    assert!(stderr(&out).contains(says), "{args:?}\n{}", stderr(&out));
    assert_eq!(w.fx.read("manager/customers.yml"), before, "{args:?}");
}

const PIN_C02: &[&str] = &[
    "customers",
    "pin",
    "c02",
    "--ref",
    "v1",
    "--until",
    "2027-01-31",
    "--reason",
    "change freeze",
];

#[test]
fn a_pin_is_written_shown_audited_replaced_and_removed() {
    let w = world();
    let original = w.fx.read("manager/customers.yml");
    let said = ok(&w, PIN_C02);
    assert!(
        said.contains("pinned `c02`: held at `v1` until 2027-01-31: change freeze"),
        "{said}"
    );
    let registry = w.fx.read("manager/customers.yml");
    assert!(
        registry.contains("  # c02 is our friend\n  - slug: c02\n    path: ../customers/c02\n    contact: ops@c02.test\n    environments: [staging]\n    added: 2026-01-01\n    labels: {tier: internal}\n    pins:\n      - ref: \"v1\"\n        until: 2027-01-31\n        reason: \"change freeze\"\n  - slug: c03\n"),
        "{registry}"
    );
    let show = ok(&w, &["customers", "show", "c02"]);
    assert!(
        show.contains("held at `v1` until 2027-01-31: change freeze"),
        "{show}"
    );
    let audit = w.audit();
    let pinned = audit.iter().find(|e| e["result"] == "pinned").unwrap();
    assert_eq!(pinned["customer"], "c02", "{pinned}");
    assert_eq!(pinned["reason"], "change freeze", "{pinned}");
    assert_eq!(pinned["actor"], "ops-dana", "{pinned}");

    // Pinned again: the pin is replaced, not added.
    let head = w.head();
    ok(
        &w,
        &[
            "customers",
            "pin",
            "c02",
            "--ref",
            &head,
            "--until",
            "2027-03-01",
            "--reason",
            "later",
        ],
    );
    let registry = w.fx.read("manager/customers.yml");
    assert_eq!(registry.matches("ref:").count(), 1, "{registry}");
    assert!(
        registry.contains(&format!(
            "      - ref: \"{head}\"\n        until: 2027-03-01\n"
        )),
        "{registry}"
    );

    // Unpinned: the file is as it was, and the release is audited.
    let said = ok(
        &w,
        &["customers", "unpin", "c02", "--reason", "freeze over"],
    );
    assert!(said.contains("unpinned `c02`"), "{said}");
    assert_eq!(w.fx.read("manager/customers.yml"), original);
    let unpinned = w.audit().into_iter().find(|e| e["result"] == "unpinned");
    assert_eq!(
        unpinned.as_ref().map(|e| e["reason"].clone()),
        Some("freeze over".into()),
        "{unpinned:?}"
    );
    let said = ok(&w, &["customers", "unpin", "c02"]);
    assert!(
        said.contains("`c02` had no such pin; nothing changed"),
        "{said}"
    );
}

#[test]
fn a_wave_pins_each_of_its_customers() {
    let w = world();
    let said = ok(
        &w,
        &[
            "customers",
            "pin",
            "--wave",
            "internal",
            "--ref",
            "v1",
            "--until",
            "2027-01-31",
            "--reason",
            "freeze",
        ],
    );
    assert!(
        said.contains("pinned `c01`") && said.contains("pinned `c02`"),
        "{said}"
    );
    let pins = |slug: &str| -> serde_json::Value {
        let shown = ok(&w, &["customers", "show", slug, "--json"]);
        serde_json::from_str::<serde_json::Value>(&shown).unwrap()["pins"].clone()
    };
    let held = serde_json::json!([{"ref": "v1", "until": "2027-01-31", "reason": "freeze", "expired_days": null}]);
    assert_eq!(pins("c01"), held);
    assert_eq!(pins("c02"), held);
    assert_eq!(pins("c03"), serde_json::Value::Null);
    // The rollout skips the wave's customers.
    w.fx.git(&["commit", "-q", "-a", "--amend", "--no-edit"]);
    let out = ok(&w, &["rollout", "start", "--base", "HEAD~1", "--json"]);
    let started: serde_json::Value = serde_json::from_str(&out).unwrap();
    let skipped: Vec<&str> = started["pinned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["unit"]["customer"].as_str().unwrap())
        .collect();
    assert_eq!(skipped, ["c01", "c02"], "{started:#}");

    ok(&w, &["customers", "unpin", "--wave", "internal"]);
    assert!(!w.fx.read("manager/customers.yml").contains("pins:"));
    refused(
        &w,
        &["customers", "unpin", "--wave", "nightly"],
        "--wave `nightly` is not a wave of fleetform.yml's `rollout:`; its waves: internal, half, rest",
    );
}

#[test]
fn bad_refs_dates_products_and_slugs_are_refused_by_flag() {
    let w = world();
    let with = |flag: &str, value: &str| {
        let mut args: Vec<String> = PIN_C02.iter().map(|s| s.to_string()).collect();
        let at = args.iter().position(|a| a == flag).unwrap();
        args[at + 1] = value.to_string();
        args
    };
    let refuse = |args: Vec<String>, says: &str| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(&w, &args, says);
    };
    refuse(
        with("--ref", "nosuch"),
        "--ref `nosuch` is not a commit of the manager repo",
    );
    let mut dash = with("--ref", "v1");
    let at = dash.iter().position(|a| a == "--ref").unwrap();
    dash.splice(at..at + 2, ["--ref=--output=/tmp/x".to_string()]);
    refuse(dash, "starts with `-`");
    refuse(
        with("--until", "2027-02-30"),
        "--until `2027-02-30` is not a date\nhelp: give the last day of the hold as YYYY-MM-DD",
    );
    refuse(
        with("--until", "2026-12-31"),
        "--until 2026-12-31 is already past (today is 2027-01-01)",
    );
    refuse(with("--reason", " "), "--reason must say why");
    refuse(with("c02", "nobody"), "nobody");
    let mut product = with("--ref", "v1");
    product.extend(["--product".into(), "network".into()]);
    refuse(product, "--product: fleetform.yml declares no `products:`");
    assert!(w.audit().is_empty(), "{:?}", w.audit());
}
