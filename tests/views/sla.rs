//! `fleetform report sla` as people read it: the Markdown table with its
//! breaches and the CSV, from audit events holding GitHub's times (#86
//! point 4). The events are made here; the loop that writes them is
//! `github_loop::sla`'s.

use fleetform::audit::{Entry, Times};
use fleetform::config::sla::{SlaConfig, SlaTargets};
use fleetform::fleet::sla::{report, samples, Window};

fn event(action: &str, customer: &str, env: &str, from: &str, to: &str, run: u64) -> Entry {
    let times = match action {
        "plan" => Times {
            event: Some(from.into()),
            comment: Some(to.into()),
            ..Times::default()
        },
        _ => Times {
            approval: Some(from.into()),
            apply: Some(to.into()),
            ..Times::default()
        },
    };
    Entry {
        time: to.into(),
        action: action.into(),
        result: if action == "plan" { "changes" } else { "ok" }.into(),
        customer: Some(customer.into()),
        environment: Some(env.into()),
        run_url: Some(format!(
            "https://github.com/provider/manager/actions/runs/{run}"
        )),
        times,
        ..Entry::default()
    }
}

#[test]
fn the_sla_report_reads_as_a_table_and_its_breaches() {
    let sla: SlaConfig = [
        (
            "staging".to_string(),
            SlaTargets {
                plan_within: Some("15m".into()),
                apply_within: None,
            },
        ),
        (
            "production".to_string(),
            SlaTargets {
                plan_within: Some("15m".into()),
                apply_within: Some("4h".into()),
            },
        ),
    ]
    .into();
    let mut older = event(
        "plan",
        "acme",
        "staging",
        "2026-10-30T09:00:00Z",
        "2026-10-30T09:01:00Z",
        1,
    );
    older.times = Times::default();
    let events = [
        older,
        event(
            "plan",
            "acme",
            "staging",
            "2026-11-02T09:00:00Z",
            "2026-11-02T09:03:10Z",
            10,
        ),
        event(
            "plan",
            "acme",
            "staging",
            "2026-11-03T09:00:00Z",
            "2026-11-03T09:22:45Z",
            11,
        ),
        event(
            "plan",
            "acme",
            "production",
            "2026-11-03T10:00:00Z",
            "2026-11-03T10:04:00Z",
            12,
        ),
        event(
            "apply",
            "acme",
            "production",
            "2026-11-03T11:00:00Z",
            "2026-11-03T12:30:00Z",
            13,
        ),
        event(
            "plan",
            "globex",
            "staging",
            "2026-11-04T09:00:00Z",
            "2026-11-04T09:00:40Z",
            14,
        ),
        event(
            "apply",
            "globex",
            "production",
            "2026-11-05T08:00:00Z",
            "2026-11-05T13:05:00Z",
            15,
        ),
        // After the window.
        event(
            "plan",
            "globex",
            "staging",
            "2026-12-01T09:00:00Z",
            "2026-12-01T10:00:00Z",
            16,
        ),
    ];
    // A plan the relay carried its customer's token time for (the
    // others, like records from before it, from the manager's run).
    let mut events = events;
    events[2].times.event_from = Some("token".into());
    let window = Window {
        since: fleetform::fleet::sla::seconds("2026-10-01T00:00:00Z").unwrap(),
        until: fleetform::fleet::sla::seconds("2026-11-30T00:00:00Z").unwrap(),
    };
    let (measured, unmeasured) = samples(&events, &sla, window);
    let r = report(&measured, unmeasured, window);
    insta::assert_snapshot!("sla_markdown", fleetform::report::sla::markdown(&r));
    insta::assert_snapshot!("sla_csv", fleetform::report::sla::csv(&measured));
}
