use super::*;
use crate::config::Acceptance;
use crate::data::drift_change::AttributeChange;
use serde_json::json;

/// A drift plan's summary from `show -json`-shaped drift entries: each
/// (type, name, actions, before, after); the plan puts every one back.
fn summary(
    customer: &str,
    env: &str,
    drift: &[(&str, &str, &str, serde_json::Value, serde_json::Value)],
) -> PlanSummary {
    let entry = |(ty, name, action, before, after): &(
        &str,
        &str,
        &str,
        serde_json::Value,
        serde_json::Value,
    )| {
        json!({"address": format!("{ty}.{name}"), "type": ty,
               "change": {"actions": [action], "before": before, "after": after}})
    };
    let back =
        |(ty, name, action, ..): &(&str, &str, &str, serde_json::Value, serde_json::Value)| {
            let a = if *action == "delete" {
                "create"
            } else {
                "update"
            };
            json!({"address": format!("{ty}.{name}"), "type": ty,
               "change": {"actions": [a], "before": {}, "after": {}}})
        };
    let plan = json!({
        "prior_state": {"values": {"root_module": {"resources": [{"mode": "managed"}]}}},
        "resource_drift": drift.iter().map(entry).collect::<Vec<_>>(),
        "resource_changes": drift.iter().map(back).collect::<Vec<_>>(),
    });
    PlanSummary::from_show_json(&plan, customer, env, "k", "sha", true)
}

fn row(s: PlanSummary) -> Row {
    Row {
        customer: s.customer.clone(),
        product: None,
        environment: s.environment.clone(),
        outcome: Outcome::Planned {
            summary: Box::new(s),
            dir: Default::default(),
        },
    }
}

fn versioning_off(c: &str, env: &str) -> Row {
    row(summary(
        c,
        env,
        &[(
            "fakecloud_bucket",
            "logs",
            "update",
            json!({"versioning": true, "name": format!("{c}-logs")}),
            json!({"versioning": false, "name": format!("{c}-logs")}),
        )],
    ))
}

fn zones(c: &str, n: u64) -> Row {
    row(summary(
        c,
        "staging",
        &[(
            "fakecloud_network",
            "main",
            "update",
            json!({"zones": 3, "name": format!("{c}-net")}),
            json!({"zones": n, "name": format!("{c}-net")}),
        )],
    ))
}

fn ctx<'a>(
    config: &'a DriftConfig,
    halted: &'a BTreeSet<String>,
    previous: Option<&'a CausesRecord>,
) -> Context<'a> {
    Context {
        config,
        halted,
        today: "2027-02-01".parse().unwrap(),
        now: "2027-02-01T00:00:00Z",
        previous,
    }
}

fn report(rows: &[Row]) -> Report {
    Report::tally(rows)
}

#[test]
fn one_cause_per_change_across_customers_most_customers_first_values_never_split_it() {
    let rows = vec![
        versioning_off("a", "staging"),
        versioning_off("b", "staging"),
        versioning_off("b", "production"),
        zones("a", 4),
        zones("c", 5),
        zones("d", 6),
        row(summary(
            "e",
            "staging",
            &[(
                "fakecloud_bucket",
                "logs",
                "delete",
                json!({"versioning": true}),
                serde_json::Value::Null,
            )],
        )),
    ];
    let mut r = report(&rows);
    let config = DriftConfig::default();
    let halted = BTreeSet::new();
    analyse(&mut r, &ctx(&config, &halted, None));
    let got: Vec<(&str, usize, usize, &str)> = r
        .causes
        .iter()
        .map(|c| (c.id.as_str(), c.customers, c.pairs.len(), c.change.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "fakecloud_network.zones:changed",
                3,
                3,
                "changed (value not shown)"
            ),
            (
                "fakecloud_bucket.versioning:set-false",
                2,
                3,
                "set to false"
            ),
            (
                "fakecloud_bucket:deleted",
                1,
                1,
                "deleted outside Terraform"
            ),
        ]
    );
    assert_eq!(r.causes[1].environments, ["production", "staging"]);
    assert_eq!(r.causes[0].since, "2027-02-01T00:00:00Z");
    // No customer's value anywhere in what is written.
    let text = serde_json::to_string(&r.causes).unwrap();
    for v in ["a-net", "a-logs", "\"4\"", "\"5\""] {
        assert!(!text.contains(v), "{v}: {text}");
    }
    // The names customers chose are not part of the attribute changes.
    let kinds: &Vec<AttributeChange> = match &r.drifted[0].outcome {
        Outcome::Planned { summary, .. } => &summary.cloud_drift[0].kinds,
        _ => unreachable!(),
    };
    assert_eq!(kinds.len(), 1, "only the attribute that changed: {kinds:?}");
}

#[test]
fn since_carries_over_from_the_last_run_while_the_cause_lasts() {
    let mut r = report(&[zones("a", 4)]);
    let config = DriftConfig::default();
    let halted = BTreeSet::new();
    let mut first = report(&[zones("a", 4)]);
    analyse(&mut first, &ctx(&config, &halted, None));
    let mut earlier = first.causes.clone();
    earlier[0].since = "2026-12-24T10:00:00Z".into();
    let previous = CausesRecord {
        time: "2026-12-25T00:00:00Z".into(),
        run_url: None,
        causes: earlier,
        repairs: Vec::new(),
    };
    analyse(&mut r, &ctx(&config, &halted, Some(&previous)));
    assert_eq!(r.causes[0].since, "2026-12-24T10:00:00Z");
}

fn accept(cause: &str, customers: &[&str], until: &str) -> Acceptance {
    Acceptance {
        cause: cause.into(),
        customers: customers.iter().map(|c| c.to_string()).collect(),
        environments: None,
        until: until.into(),
        reason: "the customer's migration".into(),
    }
}

#[test]
fn accepted_pairs_are_reported_as_such_never_repaired_and_an_expired_one_is_drift_again() {
    let rows = vec![
        versioning_off("a", "staging"),
        versioning_off("b", "staging"),
        versioning_off("c", "staging"),
    ];
    let mut config = DriftConfig::default();
    config.repair.insert("staging".into(), RepairPolicy::Repair);
    config.accepted = vec![
        accept(
            "fakecloud_bucket.versioning:set-false",
            &["a"],
            "2027-03-01",
        ),
        accept(
            "fakecloud_bucket.versioning:set-false",
            &["b"],
            "2027-01-31",
        ),
    ];
    let halted = BTreeSet::new();
    let mut r = report(&rows);
    analyse(&mut r, &ctx(&config, &halted, None));
    let pairs = &r.causes[0].pairs;
    assert_eq!(
        pairs[0].accepted.as_deref(),
        Some("until 2027-03-01: the customer's migration")
    );
    assert!(!pairs[0].expired);
    assert!(pairs[1].expired, "until 2027-01-31 is over on 2027-02-01");
    assert_eq!(r.accepted.len(), 1);
    assert_eq!(r.accepted[0].customer, "a");
    let drifted: Vec<&str> = r.drifted.iter().map(|r| r.customer.as_str()).collect();
    assert_eq!(drifted, ["b", "c"]);
    let actions: Vec<(&str, RepairAction)> = r
        .repairs
        .iter()
        .map(|x| (x.customer.as_str(), x.action))
        .collect();
    assert_eq!(
        actions,
        [
            ("a", RepairAction::Accepted),
            ("b", RepairAction::Repair),
            ("c", RepairAction::Repair)
        ]
    );
}

/// In-place drift of a, b, c, h (a halted rollout holds h), x (staging
/// and production); d's bucket deleted; p pinned; e with edits too.
fn pairs_to_repair() -> Vec<Row> {
    let mut pinned = summary(
        "p",
        "staging",
        &[(
            "fakecloud_network",
            "main",
            "update",
            json!({"zones": 3}),
            json!({"zones": 4}),
        )],
    );
    pinned.pin = Some(crate::config::pins::Pin {
        product: None,
        git_ref: "v1".into(),
        until: "2027-12-31".into(),
        reason: "freeze".into(),
    });
    let mut edited = summary(
        "e",
        "staging",
        &[(
            "fakecloud_network",
            "main",
            "update",
            json!({"zones": 3}),
            json!({"zones": 4}),
        )],
    );
    edited.resources.push(edited.resources[0].clone());
    edited.resources[1].address = "fakecloud_instance.web[0]".into();
    vec![
        zones("a", 4),
        zones("b", 4),
        zones("c", 4),
        row(summary(
            "d",
            "staging",
            &[(
                "fakecloud_bucket",
                "logs",
                "delete",
                json!({"versioning": true}),
                serde_json::Value::Null,
            )],
        )),
        row(pinned),
        row(edited),
        zones("h", 4),
        zones("x", 4),
        versioning_off("x", "production"),
    ]
}

#[test]
fn repair_only_in_place_changes_of_free_pairs_within_the_cap_else_propose() {
    let rows = pairs_to_repair();
    let mut config = DriftConfig::default();
    config.repair.insert("staging".into(), RepairPolicy::Repair);
    config.max_repairs.customers = 2;
    let halted: BTreeSet<String> = ["h".to_string()].into();
    let mut r = report(&rows);
    analyse(&mut r, &ctx(&config, &halted, None));
    let got: Vec<(String, RepairAction, String)> = r
        .repairs
        .iter()
        .map(|x| {
            (
                format!("{}/{}", x.customer, x.environment),
                x.action,
                x.why
                    .clone()
                    .unwrap_or_default()
                    .split(':')
                    .next()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    let want = [
        ("a/staging", RepairAction::Repair, ""),
        ("b/staging", RepairAction::Repair, ""),
        (
            "c/staging",
            RepairAction::Propose,
            "over the run's cap (drift.max_repairs",
        ),
        (
            "d/staging",
            RepairAction::Propose,
            "the plan creates, destroys or replaces resources",
        ),
        ("p/staging", RepairAction::Propose, "the customer is pinned"),
        ("e/staging", RepairAction::Propose, "edits not applied yet"),
        (
            "h/staging",
            RepairAction::Propose,
            "a halted rollout holds the customer",
        ),
        (
            "x/staging",
            RepairAction::Propose,
            "over the run's cap (drift.max_repairs",
        ),
        ("x/production", RepairAction::Report, ""),
    ];
    let want: Vec<(String, RepairAction, String)> = want
        .iter()
        .map(|(a, b, c)| (a.to_string(), *b, c.to_string()))
        .collect();
    assert_eq!(got, want);
}

/// Issue #56 point 4: 2,000 drifted pairs in 5 causes group in well
/// under a second (a debug build; bench/drift_causes.py measures the
/// release binary end to end).
#[test]
fn two_thousand_pairs_in_five_causes_group_in_under_a_second() {
    let kinds = [
        (
            "fakecloud_bucket",
            json!({"versioning": true}),
            json!({"versioning": false}),
        ),
        (
            "fakecloud_network",
            json!({"zones": 3}),
            json!({"zones": 7}),
        ),
        (
            "fakecloud_network",
            json!({"tags": {"a": "1"}}),
            json!({"tags": {"a": "1", "b": "2"}}),
        ),
        (
            "fakecloud_instance",
            json!({"instance_type": "t3"}),
            json!({"instance_type": "t4"}),
        ),
        (
            "fakecloud_instance",
            json!({"monitoring": false}),
            json!({"monitoring": true}),
        ),
    ];
    let rows: Vec<Row> = (0..2000)
        .map(|i| {
            let (ty, b, a) = &kinds[i % 5];
            row(summary(
                &format!("c{i:04}"),
                "production",
                &[(*ty, "r", "update", b.clone(), a.clone())],
            ))
        })
        .collect();
    let config = DriftConfig::default();
    let halted = BTreeSet::new();
    let started = std::time::Instant::now();
    let mut r = report(&rows);
    analyse(&mut r, &ctx(&config, &halted, None));
    let took = started.elapsed();
    assert_eq!(r.causes.len(), 5);
    assert!(
        r.causes.iter().all(|c| c.customers == 400),
        "{:?}",
        r.causes.iter().map(|c| c.customers).collect::<Vec<_>>()
    );
    assert!(took < std::time::Duration::from_secs(1), "{took:?}");
}
