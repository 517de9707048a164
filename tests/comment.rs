//! Snapshots of the Markdown plan comment: normal, no changes, truncated.

use fleetform::report::comment::{render_comment, CommentContext, COMMENT_LIMIT};
use fleetform::terraform::summary::{Action, OutputChange, PlanSummary, ResourceChange};

fn summary(has_changes: bool) -> PlanSummary {
    let resources = if has_changes {
        vec![
            ResourceChange {
                address: "terraform_data.network".into(),
                action: Action::Update,
                resource_type: None,
            },
            ResourceChange {
                address: "terraform_data.instance[2]".into(),
                action: Action::Create,
                resource_type: None,
            },
            ResourceChange {
                address: "terraform_data.instance[3]".into(),
                action: Action::Create,
                resource_type: None,
            },
            ResourceChange {
                address: "terraform_data.legacy".into(),
                action: Action::Replace,
                resource_type: None,
            },
        ]
    } else {
        Vec::new()
    };
    PlanSummary {
        customer: "acme".into(),
        environment: "production".into(),
        create: if has_changes { 2 } else { 0 },
        update: if has_changes { 1 } else { 0 },
        delete: 0,
        replace: if has_changes { 1 } else { 0 },
        resources,
        outputs: if has_changes {
            vec![OutputChange {
                name: "instance_count".into(),
                action: Action::Update,
            }]
        } else {
            Vec::new()
        },
        has_changes,
        plan_sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
        state_key: "acme/production/terraform.tfstate".into(),
        sha: Some("0123456789abcdef0123456789abcdef01234567".into()),
        gates: None,
    }
}

const PLAN: &str = "\nTerraform will perform the following actions:\n\n  # terraform_data.network will be updated in-place\n  ~ resource \"terraform_data\" \"network\" {\n      ~ input = { zones = 2 -> 3 }\n    }\n\nPlan: 3 to add, 1 to change, 1 to destroy.\n";

#[test]
fn comment_with_changes() {
    let s = summary(true);
    let c = render_comment(
        &CommentContext {
            summary: &s,
            full_plan_at: "the run summary",
            run_url: Some("https://github.com/acme/manager/actions/runs/42"),
        },
        PLAN,
    )
    .unwrap();
    insta::assert_snapshot!("comment_changes", c);
}

#[test]
fn comment_without_changes() {
    let s = summary(false);
    let c = render_comment(
        &CommentContext {
            summary: &s,
            full_plan_at: "out/plan.txt",
            run_url: None,
        },
        "\nNo changes. Your infrastructure matches the configuration.\n",
    )
    .unwrap();
    insta::assert_snapshot!("comment_no_changes", c);
}

#[test]
fn long_plan_keeps_head_and_tail_under_the_limit() {
    let s = summary(true);
    let plan: String = (0..20_000)
        .map(|i| format!("  + line {i:05} of a very long plan output\n"))
        .collect();
    let c = render_comment(
        &CommentContext {
            summary: &s,
            full_plan_at: "https://github.com/acme/manager/actions/runs/42",
            run_url: Some("https://github.com/acme/manager/actions/runs/42"),
        },
        &plan,
    )
    .unwrap();
    assert!(c.len() <= COMMENT_LIMIT, "{} > {COMMENT_LIMIT}", c.len());
    assert!(c.contains("line 00000"), "head kept");
    assert!(c.contains("line 19999"), "tail kept");
    assert!(c.contains("lines omitted"));
    // Snapshot the shape: everything but the bulk of kept plan lines.
    let lines: Vec<&str> = c.lines().collect();
    let shape: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| {
            !l.starts_with("  + line ") || l.contains("line 00000") || l.contains("line 19999")
        })
        .collect();
    insta::assert_snapshot!("comment_truncated_shape", shape.join("\n"));
}

#[test]
fn backticks_in_plan_output_cannot_close_the_fence() {
    let s = summary(true);
    let c = render_comment(
        &CommentContext {
            summary: &s,
            full_plan_at: "x",
            run_url: None,
        },
        "value = \"```</details>@org/team\"\n",
    )
    .unwrap();
    assert!(c.contains("````text"), "{c}");
}
