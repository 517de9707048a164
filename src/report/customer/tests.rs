//! Every message fits GitHub's limits, carries no workflow command and
//! escapes the customer's values.

use super::*;

use crate::data::verdict::{GateResult, Verdict};
use crate::data::Diagnostic;
use fleetform_yaml::{Location, Pos};

/// A hostile value: long, several lines, workflow commands, Markdown,
/// HTML, a mention and a hidden marker.
fn hostile() -> String {
    let bad = "::error::x\n##[group]y\n  ::set-output name=a::b <b>@team</b> [l](http://x) <!-- m -->\r\n";
    bad.repeat(2_000)
}

fn statuses(h: &str) -> Vec<CustomerText> {
    let all = [
        Status::PlanFailed { place: h },
        Status::NotPlannedYet {
            place: h,
            reason: h,
        },
        Status::Invalid {
            place: h,
            problems: usize::MAX,
        },
        Status::Applied {
            place: h,
            counts: h,
        },
        Status::ApplyFailed { place: h },
        Status::ApplyRefused {
            place: h,
            reason: h,
        },
        Status::NotFinished {
            place: h,
            applying: true,
            reason: h,
        },
        Status::Revoked { date: h },
        Status::TriggerInvalid {
            problems: usize::MAX,
        },
        Status::Queued,
        Status::ManagerSilent { secs: u64::MAX },
        Status::NoResultYet { place: h },
        Status::Held { description: h },
    ];
    all.iter().map(status).collect()
}

fn deployments(h: &str) -> Vec<CustomerText> {
    let all = [
        Deployment::Dispatched {
            place: h,
            manager_sha: h,
        },
        Deployment::Rollout {
            rollout: h,
            wave: h,
            manager_sha: h,
        },
        Deployment::Applying,
        Deployment::Applied { plan_sha256: h },
        Deployment::Refused,
        Deployment::Failed,
        Deployment::RolloutEnded { detail: h },
        Deployment::RolloutLate {
            rollout: h,
            wave: h,
            manager_sha: h,
            applied_at: h,
        },
        Deployment::RolloutEndedLate {
            detail: h,
            applied_at: h,
            superseded: true,
        },
        Deployment::StateOp {
            operation: h,
            actor: h,
            reason: h,
        },
        Deployment::StateOpEnded {
            operation: h,
            ok: false,
        },
    ];
    all.iter().map(deployment).collect()
}

fn problems(h: &str) -> Vec<Diagnostic> {
    let location = Location {
        file: h.into(),
        pos: Pos { line: 1, col: 1 },
    };
    let one = Diagnostic {
        location,
        pointer: Some(h.to_string()),
        message: h.to_string(),
    };
    vec![one; 50]
}

fn comments(h: &str) -> Vec<CustomerText> {
    let problems = problems(h);
    let ops = vec![h.to_string(); 20];
    let state_op = StateOp {
        unit: h,
        environment: h,
        done: Done::StateOp {
            name: h,
            operands: &ops,
        },
        operation: h,
        actor: h,
        reason: h,
        ok: false,
        run_url: Some(h),
    };
    let all = [
        Comment::Plan { rendered: h },
        Comment::Applied {
            plan_comment: h,
            place: h,
            run_url: Some(h),
        },
        Comment::Invalid {
            marker: "<!-- m -->",
            place: h,
            slug: h,
            sha: h,
            problems: &problems,
        },
        Comment::Waiting {
            marker: "<!-- m -->",
            label: h,
            sha: h,
            reason: h,
        },
        Comment::Refused {
            comment_id: u64::MAX,
            why: h,
        },
        Comment::StateOp(&state_op),
    ];
    all.iter().map(comment).collect()
}

/// What a runner would take for a workflow command.
fn commands_in(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.trim_start().starts_with("::") || l.contains("##["))
        .collect()
}

#[test]
fn every_message_fits_githubs_limits_and_holds_no_workflow_command() {
    let h = hostile();
    let lines = statuses(&h).into_iter().chain(deployments(&h));
    for t in lines {
        let t = t.as_str();
        assert!(t.chars().count() <= STATUS_LIMIT, "{t}");
        assert!(!t.contains(['\n', '\r']), "{t:?}");
        assert!(commands_in(t).is_empty(), "{t}");
    }
    for t in comments(&h) {
        let t = t.as_str();
        assert!(t.chars().count() <= COMMENT_LIMIT, "{}", t.len());
        assert!(commands_in(t).is_empty(), "{:?}", commands_in(t));
    }
    // Short values are kept whole: the cap cuts only what is too long.
    assert_eq!(
        status(&Status::ApplyRefused {
            place: "staging",
            reason: "no approval"
        })
        .as_str(),
        "staging: apply refused: no approval"
    );
    let cut = status(&Status::Held { description: &h });
    assert!(cut.as_str().ends_with('…'), "{cut}");
}

#[test]
fn workflow_commands_are_neutralised_where_they_start_a_line() {
    assert_eq!(neutralise("::error::x"), "\\::error::x");
    assert_eq!(neutralise("a\n  ::warning::y"), "a\n  \\::warning::y");
    assert_eq!(neutralise("x ##[group] ###[z"), "x #\\#[group] ##\\#[z");
    // Mid-line `::` is plain text (a Terraform address, a time).
    assert_eq!(neutralise("aws_s3::x at 10:00"), "aws_s3::x at 10:00");
    // Already neutral text stays as it is.
    let once = neutralise("::a\n##[b");
    assert_eq!(neutralise(&once), once);
}

#[test]
fn customer_values_in_comments_are_escaped() {
    // Values shown as escaped text; a code span (`md_code`) keeps
    // them inert as they are, so the places here are plain.
    let h = "<b>@team</b> [l](http://x) `code`";
    let problems = vec![Diagnostic {
        location: Location {
            file: "values/staging.yml".into(),
            pos: Pos { line: 3, col: 1 },
        },
        pointer: Some("/size".into()),
        message: h.to_string(),
    }];
    let invalid = comment(&Comment::Invalid {
        marker: "<!-- m -->",
        place: "staging",
        slug: "acme",
        sha: "0123456789abcdef",
        problems: &problems,
    });
    let waiting = comment(&Comment::Waiting {
        marker: "<!-- m -->",
        label: "net / staging",
        sha: "0123456789abcdef",
        reason: h,
    });
    let ops = vec!["aws_s3_bucket.logs".to_string()];
    let op = StateOp {
        unit: "acme/staging",
        environment: "staging",
        done: Done::StateOp {
            name: "rm",
            operands: &ops,
        },
        operation: "rm",
        actor: h,
        reason: h,
        ok: true,
        run_url: None,
    };
    let state_op = comment(&Comment::StateOp(&op));
    for body in [&invalid, &waiting, &state_op] {
        let body = body.as_str();
        assert!(!body.contains("<b>"), "{body}");
        assert!(!body.contains("@team"), "{body}");
        assert!(!body.contains("[l](http"), "{body}");
        assert!(body.contains("&lt;b&gt;"), "{body}");
    }
    assert!(invalid.as_str().contains("at `0123456789ab`"), "{invalid}");
    assert!(state_op
        .as_str()
        .starts_with("**fleetform** on `acme/staging`: `state rm` "));
    assert!(state_op.as_str().contains("nothing in your cloud changed"));
}

fn summary(gates: Option<Verdict>) -> PlanSummary {
    PlanSummary {
        create: 1,
        has_changes: true,
        plan_sha256: "0".repeat(64),
        state_key: "acme/staging".into(),
        gates,
        ..PlanSummary::of("acme", "staging")
    }
}

fn gate(passed: bool, waived: bool) -> Verdict {
    Verdict {
        results: vec![GateResult {
            gate: "max_deletes".into(),
            passed,
            waived,
            skipped: false,
            detail: String::new(),
            ..GateResult::default()
        }],
        waiver: waived.then(|| "fleetform-waive".to_string()),
    }
}

#[test]
fn a_plan_whose_gates_block_is_a_failure() {
    let plain = summary(None);
    let (state, description) = plan_status(&plain, false);
    assert_eq!(
        (state, description.as_str()),
        ("success", &*plain.headline())
    );
    let (state, description) = plan_status(&summary(Some(gate(false, false))), false);
    assert_eq!(state, "failure");
    assert!(
        description.as_str().ends_with(" · blocked by max_deletes"),
        "{description}"
    );
    let (state, description) = plan_status(&summary(Some(gate(false, true))), false);
    assert_eq!(state, "success");
    assert!(description.as_str().contains("waived"), "{description}");
}

#[test]
fn an_apply_dispatchs_plan_with_changes_is_pending_until_the_apply() {
    let mut changed = summary(None);
    changed.has_changes = true;
    let (state, description) = plan_status(&changed, true);
    assert_eq!(state, "pending");
    assert!(
        description
            .as_str()
            .ends_with(" · planned, waiting for apply"),
        "{description}"
    );
    // A pull request's plan, or nothing to apply: the plan is the result.
    assert_eq!(plan_status(&changed, false).0, "success");
    let mut same = summary(None);
    same.has_changes = false;
    assert_eq!(plan_status(&same, true).0, "success");
    // Blocked gates stay a failure: no apply follows.
    let mut blocked = summary(Some(gate(false, false)));
    blocked.has_changes = true;
    assert_eq!(plan_status(&blocked, true).0, "failure");
}

#[test]
fn conclude_reads_the_applied_status_it_is_given() {
    let applied = status(&Status::Applied {
        place: "net/staging",
        counts: "+1 ~0 -0",
    });
    assert!(says_applied(applied.as_str(), "net/staging"));
    assert!(!says_applied(applied.as_str(), "db/staging"));
    let failed = status(&Status::ApplyFailed {
        place: "net/staging",
    });
    assert!(!says_applied(failed.as_str(), "net/staging"));
}

#[test]
fn the_trigger_says_where_its_values_went_and_what_the_manager_answered() {
    let sent = |dry_run| {
        trigger_line(&Trigger::Sent {
            dry_run,
            event_type: "fleetform-plan",
            manager_repo: "prov/manager",
            customer_repo: "acme/infra",
            sha: "0123456789abcdef0123",
            dispatch_id: "d1",
        })
    };
    assert_eq!(
        sent(false),
        "fleetform-plan sent to prov/manager for acme/infra@0123456789ab (dispatch d1)"
    );
    assert!(sent(true).starts_with("would have fleetform-plan sent"));
    // The manager's description is the customer commit's: one line, no
    // workflow command, capped, whoever wrote it.
    let h = hostile();
    for state in ["success", "failure"] {
        let line = trigger_line(&Trigger::Answered {
            state,
            description: &h,
            link: "https://x/run",
        });
        assert!(commands_in(&line).is_empty(), "{line}");
        assert!(!line.contains('\n'), "{line:?}");
        assert!(line.chars().count() < STATUS_LIMIT + 80, "{line}");
    }
    let fine = trigger_line(&Trigger::Answered {
        state: "success",
        description: "staging: +1 ~0 -0",
        link: "",
    });
    assert_eq!(fine, "the manager answered: staging: +1 ~0 -0");
}
