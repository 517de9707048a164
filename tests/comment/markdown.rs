//! Snapshots of the Markdown plan comment as a reviewer reads it: a
//! replacement, destroys, blocked gates, a truncated plan, a link to a repo
//! with `_`, an address with backticks; and the comment rendered by a GFM
//! renderer (`cmark-gfm`), checked for the alert, the grouping and the link.

use fleetform::data::summary::{Action, OutputChange, PlanSummary, ResourceChange};
use fleetform::data::verdict::{GateResult, Verdict};
use fleetform::report::comment::{render_comment, CommentContext, COMMENT_LIMIT};

fn summary(has_changes: bool) -> PlanSummary {
    let resources = if has_changes {
        vec![
            ResourceChange {
                address: "terraform_data.network".into(),
                action: Action::Update,
                resource_type: None,
                changed: Vec::new(),
                kinds: Vec::new(),
                tags: None,
            },
            ResourceChange {
                address: "terraform_data.instance[2]".into(),
                action: Action::Create,
                resource_type: None,
                changed: Vec::new(),
                kinds: Vec::new(),
                tags: None,
            },
            ResourceChange {
                address: "terraform_data.instance[3]".into(),
                action: Action::Create,
                resource_type: None,
                changed: Vec::new(),
                kinds: Vec::new(),
                tags: None,
            },
            ResourceChange {
                address: "terraform_data.legacy".into(),
                action: Action::Replace,
                resource_type: None,
                changed: Vec::new(),
                kinds: Vec::new(),
                tags: None,
            },
        ]
    } else {
        Vec::new()
    };
    let outputs = if has_changes {
        vec![OutputChange {
            name: "instance_count".into(),
            action: Action::Update,
        }]
    } else {
        Vec::new()
    };
    acme_summary(
        "production",
        (resources, outputs, has_changes),
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
        "0123456789abcdef0123456789abcdef01234567".into(),
    )
}

/// acme's plan summary in `environment` with `changes` (resources,
/// counted; outputs; whether it has changes), digest `plan_sha256`, of
/// commit `sha`, and nothing else: no gates, product, identity, secrets,
/// cloud drift, targeting or pin.
pub(crate) fn acme_summary(
    environment: &str,
    changes: (Vec<ResourceChange>, Vec<OutputChange>, bool),
    plan_sha256: String,
    sha: String,
) -> PlanSummary {
    let (resources, outputs, has_changes) = changes;
    counted(PlanSummary {
        cost: None,
        customer: "acme".into(),
        environment: environment.into(),
        create: 0,
        update: 0,
        delete: 0,
        replace: 0,
        resources,
        outputs,
        has_changes,
        plan_sha256,
        state_key: format!("acme/{environment}/terraform.tfstate"),
        sha: Some(sha),
        gates: None,
        product: None,
        identity: None,
        lock_checksums_dropped: false,
        never_applied: false,
        secrets: Vec::new(),
        engine_version: None,
        cloud_drift: Vec::new(),
        targeting: None,
        pin: None,
    })
}

/// Terraform's plan text for `s`'s resources, in Terraform's words, its
/// `Plan:` line counted from them: a comment's summary and its plan output
/// come from one list and cannot disagree.
fn plan_text(s: &PlanSummary) -> String {
    plan_text_sized(s, 1)
}

/// [`plan_text`] with `lines` attribute lines in each resource's block.
fn plan_text_sized(s: &PlanSummary, lines: usize) -> String {
    let mut t = String::from("\nTerraform will perform the following actions:\n");
    let (mut add, mut change, mut destroy) = (0, 0, 0);
    for r in &s.resources {
        let (what, sign, body) = match r.action {
            Action::Create => ("will be created", "  +", "+ input = \"new\""),
            Action::Update => (
                "will be updated in-place",
                "  ~",
                "~ input = { zones = 2 -> 3 }",
            ),
            Action::Delete => ("will be destroyed", "  -", "- input = \"old\" -> null"),
            Action::Replace => (
                "must be replaced",
                "-/+",
                "~ input = \"a\" -> \"b\" # forces replacement",
            ),
            Action::Read => (
                "will be read during apply",
                " <=",
                "+ id = (known after apply)",
            ),
        };
        add += usize::from(matches!(r.action, Action::Create | Action::Replace));
        change += usize::from(r.action == Action::Update);
        destroy += usize::from(matches!(r.action, Action::Delete | Action::Replace));
        // `module.db.terraform_data.backup[2]`: type and name are the last two.
        let plain = r.address.split('[').next().unwrap_or_default();
        let mut parts = plain.rsplit('.');
        let name = parts.next().unwrap_or_default();
        let kind = parts.next().unwrap_or_default();
        let body: String = (0..lines)
            .map(|i| match i {
                0 => format!("      {body}\n"),
                i => format!(
                    "      {}\n",
                    body.replacen("input", &format!("input_{i}"), 1)
                ),
            })
            .collect();
        t.push_str(&format!(
            "\n  # {} {what}\n{sign} resource \"{kind}\" \"{name}\" {{\n{body}    }}\n",
            r.address
        ));
    }
    t.push_str(&format!(
        "\nPlan: {add} to add, {change} to change, {destroy} to destroy.\n"
    ));
    t
}

/// `s` with its counts taken from its resources.
fn counted(mut s: PlanSummary) -> PlanSummary {
    let n = |a: Action| s.resources.iter().filter(|r| r.action == a).count();
    (s.create, s.update, s.delete, s.replace) = (
        n(Action::Create),
        n(Action::Update),
        n(Action::Delete),
        n(Action::Replace),
    );
    s
}

#[test]
fn comment_with_changes() {
    let s = summary(true);
    let c = render_comment(
        &CommentContext {
            summary: &s,
            full_plan_at: "the run summary",
            run_url: Some("https://github.com/acme/manager/actions/runs/42"),
            approve: None,
            applies: None,
            changed: &[],
        },
        &plan_text(&s),
    )
    .unwrap();
    insta::assert_snapshot!("comment_changes", c);
}

/// What an approver reads when fleetform.yml has `approvals:` and
/// `identity:` for the environment: who approves, what to write, and the
/// roles the plan and its apply run as.
#[test]
fn comment_with_approvals_and_identity() {
    let mut s = summary(true);
    let role = |stage: &str| fleetform::config::CloudIdentity {
        cloud: "aws".into(),
        role_arn: format!("arn:aws:iam::111111111111:role/acme-{stage}"),
        external_id: None,
        session_name: "fleetform-acme-staging".into(),
        region: "eu-west-1".into(),
    };
    s.identity = Some(fleetform::config::StageIdentities {
        plan: role("plan"),
        apply: role("apply"),
    });
    let c = render_comment(
        &CommentContext {
            summary: &s,
            full_plan_at: "the run summary",
            run_url: Some("https://github.com/acme/manager/actions/runs/42"),
            approve: Some("2 approvals by `alice`, a member of `provider/platform`, not the author: comment `/fleetform approve 0123456789ab` on this pull request after this plan (an edited comment does not count).".into()),
            applies: None,
            changed: &[],
        },
        &plan_text(&s),
    )
    .unwrap();
    insta::assert_snapshot!("comment_approvals_identity", c);
}

#[test]
fn comment_without_changes() {
    let s = summary(false);
    let c = render_comment(
        &CommentContext {
            summary: &s,
            full_plan_at: "out/plan.txt",
            run_url: None,
            approve: None,
            applies: None,
            changed: &[],
        },
        "\nNo changes. Your infrastructure matches the configuration.\n",
    )
    .unwrap();
    insta::assert_snapshot!("comment_no_changes", c);
}

pub(crate) fn rc(address: &str, action: Action) -> ResourceChange {
    ResourceChange {
        address: address.into(),
        action,
        resource_type: None,
        changed: Vec::new(),
        kinds: Vec::new(),
        tags: None,
    }
}

/// A plan that destroys two resources and replaces one.
pub(crate) fn destructive() -> PlanSummary {
    let mut s = summary(true);
    s.resources = vec![
        rc("terraform_data.network", Action::Update),
        rc("terraform_data.old_logs", Action::Delete),
        rc("terraform_data.instance[2]", Action::Create),
        rc("terraform_data.legacy", Action::Replace),
        rc("module.db.terraform_data.backup", Action::Delete),
    ];
    counted(s)
}

fn render(s: &PlanSummary, full_plan_at: &str) -> String {
    render_plan(s, full_plan_at, &plan_text(s))
}

/// The run every rendered comment here is of.
const RUN_URL: &str = "https://github.com/acme/manager/actions/runs/42";

fn render_plan(s: &PlanSummary, full_plan_at: &str, plan: &str) -> String {
    render_comment(
        &CommentContext {
            summary: s,
            full_plan_at,
            run_url: Some(RUN_URL),
            approve: None,
            applies: None,
            changed: &[],
        },
        plan,
    )
    .unwrap()
}

#[test]
fn one_set_of_counts_with_replacements_named() {
    let c = render(&summary(true), "x");
    // Terraform: a replacement is one add and one destroy.
    assert!(c.contains("**Plan: 3 to add, 1 to change, 1 to destroy (1 replacement: destroyed, then created again)**"), "{c}");
    assert!(!c.contains("to create,"), "{c}");
}

#[test]
fn destroys_and_replacements_lead_the_comment() {
    let c = render(&destructive(), "x");
    let caution = c.find("> [!CAUTION]").expect("an alert");
    assert!(
        caution < c.find("**Plan:").unwrap(),
        "the alert comes first: {c}"
    );
    for line in [
        "> This plan **destroys 2** and **replaces 1** resources:",
        "> - destroy `terraform_data.old_logs`",
        "> - destroy `module.db.terraform_data.backup`",
        "> - replace `terraform_data.legacy`",
    ] {
        assert!(c.contains(line), "{line}\n{c}");
    }
    // Grouped by action, destroys first, with counts.
    assert!(
        c.contains("Resources (5): 2 destroy, 1 replace, 1 update, 1 create"),
        "{c}"
    );
    let order: Vec<usize> = ["\n- destroy ", "\n- replace ", "\n- update ", "\n- create "]
        .iter()
        .map(|k| c.find(k).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{c}");
    // The plan is a diff block: removals at column 0.
    assert!(c.contains("```diff\n"), "{c}");
    assert!(
        c.contains("\n!   resource \"terraform_data\" \"network\" {"),
        "{c}"
    );
    // The summary and the plan text agree (one list made both).
    assert!(
        c.contains("**Plan: 2 to add, 1 to change, 3 to destroy (1 replacement"),
        "{c}"
    );
    assert!(
        c.contains("\nPlan: 2 to add, 1 to change, 3 to destroy.\n"),
        "{c}"
    );
    insta::assert_snapshot!("comment_destructive", c);
}

#[test]
fn no_alert_without_destroys() {
    let mut s = summary(true);
    s.resources.retain(|r| r.action != Action::Replace);
    let s = counted(s);
    let c = render(&s, "x");
    assert!(!c.contains("[!CAUTION]"), "{c}");
    // Not an empty render: the heading, the counts and the plan table are
    // there, with the resources that are left.
    for part in [
        "### fleetform plan: `acme` / `production`",
        "**Plan: 2 to add, 1 to change, 0 to destroy**",
        "\n- update `terraform_data.network`\n",
        "\n- create `terraform_data.instance[2..3]` (2)\n",
    ] {
        assert!(c.contains(part), "{part:?} missing from:\n{c}");
    }
}

#[test]
fn one_verdict_for_the_gates() {
    let mut s = destructive();
    let g = |gate: &str, passed: bool, skipped: bool, detail: &str| GateResult {
        gate: gate.into(),
        passed,
        waived: false,
        skipped,
        detail: detail.into(),
        ..GateResult::default()
    };
    s.gates = Some(Verdict {
        results: vec![
            g(
                "max_destroy",
                false,
                false,
                "3 destroyed (replacements included), at most 0",
            ),
            g("max_replace", true, false, "1 replaced, at most 2"),
            g(
                "required_labels",
                false,
                true,
                "needs labels infra-approved on the pull request",
            ),
            g(
                "forbidden_resource_types",
                false,
                false,
                "changes forbidden types: aws_iam_role.x | y",
            ),
        ],
        waiver: None,
    });
    let c = render(&s, "x");
    assert!(
        c.contains("**Gates: blocked by `max_destroy`, `forbidden_resource_types`**"),
        "{c}"
    );
    assert!(
        c.contains("- ❌ `max_destroy`: 3 destroyed \\(replacements included\\), at most 0"),
        "{c}"
    );
    assert!(c.contains("- ✅ `max_replace`: "), "{c}");
    assert!(c.contains("- ➖ `required_labels`: needs labels infra-approved on the pull request (not applicable)"), "{c}");
    // No checkbox anyone could tick.
    assert!(!c.contains("- [ ]") && !c.contains("- [x]"), "{c}");
    // A pipe in a reason stays escaped on its line.
    assert!(c.contains("aws\\_iam\\_role.x \\| y\n"), "{c}");
    insta::assert_snapshot!("comment_blocked_gates", c);
}

#[test]
fn tool_findings_are_listed_escaped_and_capped() {
    use fleetform::data::verdict::Finding;
    let mut s = destructive();
    let findings: Vec<Finding> = (0..25)
        .map(|i| Finding {
            check: format!("CKV_X_{i}"),
            resource: Some(format!("aws_s3_bucket.b{i}")),
            title: "<b>@team</b> [link](http://x) | `tick`".into(),
        })
        .collect();
    s.gates = Some(Verdict {
        results: vec![
            GateResult {
                gate: "checkov".into(),
                detail: "25 finding(s), 3 check(s) passed".into(),
                findings: findings.clone(),
                tool: true,
                ..GateResult::default()
            },
            GateResult {
                gate: "opa".into(),
                detail: "1 finding(s), 0 check(s) passed".into(),
                findings: findings[..1].to_vec(),
                advisory: true,
                tool: true,
                ..GateResult::default()
            },
        ],
        waiver: None,
    });
    let c = render(&s, "x");
    assert!(c.contains("**Gates: blocked by `checkov`**"), "{c}");
    assert!(
        c.contains(
            "- ⚠️ `opa`: 1 finding\\(s\\), 0 check\\(s\\) passed (advisory: does not block)"
        ),
        "{c}"
    );
    assert!(c.contains("**`checkov` findings**"), "{c}");
    assert!(c.contains("- `CKV_X_19` on `aws_s3_bucket.b19`: &lt;b&gt;@\u{200b}team&lt;/b&gt; \\[link\\]\\(http://x\\) \\| \\`tick\\`\n"), "{c}");
    assert!(!c.contains("CKV_X_20"), "{c}");
    assert!(
        c.contains("- … 5 more listed in the plan's `summary.json`"),
        "{c}"
    );
}

#[test]
fn the_digest_has_its_own_line_near_the_top() {
    let c = render(&summary(true), "x");
    let line = c
        .lines()
        .position(|l| {
            l.starts_with("**Plan digest**")
                && l.ends_with(
                    "`sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08`",
                )
        })
        .expect("a digest line");
    assert!(line < 12, "{c}");
}

#[test]
fn a_cut_plan_says_so_at_resource_boundaries() {
    // The summary and the plan text are of the same plan (its five
    // resources, each with a long block), and the full plan is in the run
    // the comment links.
    let s = destructive();
    let text = plan_text_sized(&s, 700);
    let plan = format!("terraform_data.x: Refreshing state... [id=x]\n{text}");
    // Counted without the refresh chatter, which is dropped.
    let total = text.trim_start().lines().count();
    let url = RUN_URL;
    let c = render_plan(&s, url, &plan);
    assert!(c.len() <= COMMENT_LIMIT, "{} > {COMMENT_LIMIT}", c.len());
    assert!(!c.contains("Refreshing state"), "chatter dropped");
    let notice = c
        .lines()
        .find(|l| l.starts_with("**Plan output truncated:**"))
        .expect("a notice");
    assert!(
        notice.contains("lines shown, cut between resources"),
        "{notice}"
    );
    let thousands = format!("{},{:03}", total / 1000, total % 1000);
    assert!(
        notice.contains(&format!("of {thousands} lines")),
        "{notice}"
    );
    assert!(
        notice.contains(&format!("[full plan in the run]({url})")),
        "{notice}"
    );
    // Every resource is either shown whole or named as left out.
    let fence_start = c.find("```diff\n").unwrap();
    let body = &c[fence_start..];
    let (left, shown): (Vec<_>, Vec<_>) = s
        .resources
        .iter()
        .map(|r| r.address.as_str())
        .partition(|a| notice.contains(&format!("`{a}`")));
    assert!(!left.is_empty() && !shown.is_empty(), "{notice}");
    for a in &shown {
        assert!(
            body.contains(&format!("# {a} ")),
            "{a} neither shown nor left out"
        );
    }
    for a in &left {
        assert!(!body.contains(&format!("# {a} ")), "{a} shown and left out");
    }
    // The notice is visible: outside the collapsed plan output.
    assert!(
        c.find("**Plan output truncated:**").unwrap()
            < c.find("<summary>Plan output</summary>").unwrap()
    );
    // The plan's own summary line stays, and agrees with the comment's.
    assert!(
        body.contains("Plan: 2 to add, 1 to change, 3 to destroy."),
        "the Plan: line is kept"
    );
    assert!(
        c.contains("**Plan: 2 to add, 1 to change, 3 to destroy"),
        "{c}"
    );
    assert!(
        body.contains("\n-/+ resource \"terraform_data\" \"legacy\" {")
            || left.contains(&"terraform_data.legacy"),
        "markers at column 0"
    );
    let shape: Vec<&str> = c
        .lines()
        .filter(|l| !l.contains(" input_") && !l.trim().is_empty())
        .collect();
    insta::assert_snapshot!("comment_truncated_shape", shape.join("\n"));
}

#[test]
fn links_are_never_escaped() {
    let url = "https://github.com/acme_corp/infra_repo/actions/runs/42";
    let c = render(&summary(true), url);
    assert!(c.contains(&format!("[full plan in the run]({url})")), "{c}");
    assert!(!c.contains("acme\\_corp"), "{c}");
}

#[test]
fn backticks_in_addresses_are_shown_as_they_are() {
    let mut s = destructive();
    s.resources[1].address = "terraform_data.x[\"a`b\"]".into();
    let c = render(&s, "x");
    assert!(
        c.contains("> - destroy ``terraform_data.x[\"a`b\"]``"),
        "{c}"
    );
    assert!(
        c.contains("\n- destroy ``terraform_data.x[\"a`b\"]``\n"),
        "{c}"
    );
    insta::assert_snapshot!("comment_backtick_address", c);
}

#[test]
fn backticks_in_plan_output_cannot_close_the_fence() {
    let s = summary(true);
    let c = render_plan(&s, "x", "value = \"```</details>@org/team\"\n");
    assert!(c.contains("````diff"), "{c}");
}

/// The comment through a GFM renderer (`cmark-gfm`, Debian package
/// `cmark-gfm`): the alert is a blockquote that opens with `[!CAUTION]`
/// (GitHub turns that into the alert), resources are one table in the
/// destroy-first order, the link is a real link with the `_` intact, and no
/// customer text became HTML.
#[test]
fn rendered_by_a_gfm_renderer() {
    let url = "https://github.com/acme_corp/infra_repo/actions/runs/42";
    let mut s = destructive();
    s.resources[1].address = "terraform_data.x[\"<img src=x>`|\"]".into();
    let c = render(&s, url);
    let html = gfm(&c);
    let alert = html.find("<blockquote>\n<p>[!CAUTION]").expect(&html);
    assert!(alert < html.find("<strong>Plan:").unwrap(), "{html}");
    assert!(
        html.contains(&format!("<a href=\"{url}\">full plan in the run</a>")),
        "{html}"
    );
    assert!(!html.contains("<img"), "{html}");
    // The resources, a line each, destroys first (after the alert's).
    let resources = &html[html.find("<strong>Plan:").unwrap()..];
    let rows: Vec<&str> = resources
        .lines()
        .filter_map(|l| l.strip_prefix("<li>"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        rows,
        ["destroy", "destroy", "replace", "update", "create"],
        "{html}"
    );
    // The hostile address stays on its line, backtick and pipe included.
    assert!(
        html.contains(
            "<li>destroy <code>terraform_data.x[&quot;&lt;img src=x&gt;`|&quot;]</code></li>"
        ),
        "{html}"
    );
    assert!(
        html.contains("<pre><code class=\"language-diff\">"),
        "{html}"
    );
}

pub(crate) fn gfm(markdown: &str) -> String {
    crate::common::github_html(markdown)
}

/// The drift report (`drift-report.json`, uploaded in the manager repo)
/// keeps no `for_each` key of a drifted pair's addresses or changed maps.
#[test]
fn the_drift_report_hides_resource_keys() {
    use fleetform::report::drift::Report;
    use fleetform::report::table::{Outcome, Row};
    let mut s = destructive();
    s.resources[1].address = "module.m[\"vip-key\"].terraform_data.x[\"secret-key\"]".into();
    s.resources[1].changed = vec!["/tags/tag-key".into()];
    let row = Row {
        customer: "acme".into(),
        product: None,
        environment: "staging".into(),
        outcome: Outcome::Planned {
            summary: Box::new(s),
            dir: "out".into(),
        },
    };
    let report = Report::tally(&[row]);
    let json = serde_json::to_string(&report).unwrap();
    for key in ["vip-key", "secret-key", "tag-key"] {
        assert!(!json.contains(key), "{key} in {json}");
    }
    assert!(
        json.contains(r#""address":"module.m[…].terraform_data.x[…]""#),
        "{json}"
    );
    assert!(json.contains(r#""changed":["/tags"]"#), "{json}");
}

/// A product's comment names the product, says which variables came from
/// which product's outputs and, when a needed product's plan changes
/// them, warns first that this plan must be made again after its apply.
#[test]
fn a_products_comment_names_it_and_says_what_it_waits_for() {
    use fleetform::data::summary::ProductFacts;
    let mut s = summary(true);
    s.state_key = "acme/app/production/terraform.tfstate".into();
    s.product = Some(ProductFacts {
        name: "app".into(),
        inputs: [
            ("network_id".to_string(), "network.id".to_string()),
            ("network_cidr".to_string(), "network.cidr".to_string()),
        ]
        .into_iter()
        .collect(),
        inputs_sha256: Some("ab".repeat(32)),
        awaiting: vec!["network".into()],
    });
    let c = render(&s, ".fleetform/out/acme/app/production/plan.txt");
    assert!(
        c.starts_with("<!-- fleetform:plan customer=acme product=app environment=production -->"),
        "{c}"
    );
    insta::assert_snapshot!("comment_product_awaiting", c);
}
