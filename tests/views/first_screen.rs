//! Issue #52, point 2: what a reviewer reads first. Every list is about
//! ten lines with the rest counted, runs of `count` indexes collapsed,
//! actions in Terraform's words, the most destructive first; the verdict,
//! Terraform's counts and the digest stay on the first screen of the
//! rendered comment (cmark-gfm as GitHub renders it, headless Chromium at
//! 1000 px) however much a plan destroys.

use crate::views::dashboard::Driver;
use fleetform::data::summary::PlanSummary;
use fleetform::report::comment::{render_comment, CommentContext};

/// A plan of `n` destroys (`count`ed instances when `indexed`, else as
/// many distinct resources) and one update, with a pin note above it.
fn destroys(n: usize, indexed: bool) -> PlanSummary {
    let mut resources: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            let address = if indexed {
                format!("aws_instance.web[{i}]")
            } else {
                format!("aws_s3_bucket.bucket_number_{i}")
            };
            serde_json::json!({"address": address, "action": "delete", "resource_type": null, "changed": []})
        })
        .collect();
    resources.push(serde_json::json!({"address": "aws_sqs_queue.jobs", "action": "update", "resource_type": null, "changed": ["/visibility_timeout_seconds"]}));
    serde_json::from_value(serde_json::json!({
        "customer": "acme",
        "environment": "production",
        "create": 0, "update": 1, "delete": n, "replace": 0,
        "resources": resources,
        "outputs": [],
        "has_changes": true,
        "plan_sha256": "ab".repeat(32),
        "state_key": "acme/production.tfstate",
        "pin": {"ref": "v1.4.0", "until": "2026-12-31", "reason": "waiting for the customer's change freeze to end"},
    }))
    .unwrap()
}

fn comment(s: &PlanSummary) -> String {
    let ctx = CommentContext {
        summary: s,
        full_plan_at: "https://github.com/provider/manager/actions/runs/7",
        run_url: Some("https://github.com/provider/manager/actions/runs/7"),
        approve: None,
        applies: Some("after merge, once approved on this pull request (below).".into()),
        changed: &[],
    };
    let plan: String = s
        .resources
        .iter()
        .map(|r| {
            format!(
                "  # {} will be destroyed\n  - resource {{\n      - id = \"x\"\n    }}\n\n",
                r.address
            )
        })
        .collect();
    render_comment(&ctx, &plan).unwrap()
}

/// The caution's bullets.
fn caution(md: &str) -> Vec<&str> {
    md.split("> [!CAUTION]")
        .nth(1)
        .unwrap_or_else(|| panic!("no CAUTION: {md}"))
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with('>'))
        .filter(|l| l.starts_with("> - "))
        .collect()
}

#[test]
fn a_hundred_destroys_of_one_resource_read_as_one_line() {
    let md = comment(&destroys(100, true));
    assert_eq!(
        caution(&md),
        ["> - destroy `aws_instance.web[0..99]` (100)"],
        "{md}"
    );
    // The folded list of resources: one line per run, destroys first.
    let folded = md.split("<details><summary>Resources").nth(1).unwrap();
    let rows: Vec<&str> = folded
        .split("</details>")
        .next()
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("- "))
        .collect();
    assert_eq!(
        rows,
        [
            "- destroy `aws_instance.web[0..99]` (100)",
            "- update `aws_sqs_queue.jobs`"
        ],
        "{md}"
    );
    for debug in ["Delete", "Update", "Create"] {
        assert!(!md.contains(&format!("{debug} `")), "{debug}: {md}");
    }
}

#[test]
fn a_hundred_and_one_destroys_keep_the_verdict_on_the_first_screen() {
    let md = comment(&destroys(101, false));
    let bullets = caution(&md);
    assert_eq!(bullets.len(), 10, "nine named and the rest counted: {md}");
    assert_eq!(bullets[9], "> - and 92 more", "{md}");
    assert!(
        md.contains("**Plan: 0 to add, 1 to change, 101 to destroy**"),
        "{md}"
    );

    let html = crate::views::counts::github_page(&md);
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("comment.html");
    std::fs::write(&page, &html).unwrap();
    let d = Driver::start();
    d.open(&format!("file://{}", page.display()), 1000, 900);
    let m = d.eval(
        "const at = (text) => {
           const el = [...document.querySelectorAll('p')].find(p => p.textContent.includes(text));
           return el ? Math.round(el.getBoundingClientRect().bottom + window.scrollY) : -1;
         };
         return {plan: at('Plan: 0 to add'), digest: at('Plan digest'), width: window.innerWidth};",
    );
    let (plan, digest) = (m["plan"].as_i64().unwrap(), m["digest"].as_i64().unwrap());
    assert!(plan > 0 && digest > 0, "both rendered: {m}");
    assert!(plan < 900, "the Plan: line on the first screen: {m}");
    assert!(digest < 900, "the digest on the first screen: {m}");
}

/// The truncation notice of a cut plan names about ten addresses and
/// counts the rest.
#[test]
fn a_cut_plan_names_a_few_left_out_addresses_and_counts_the_rest() {
    let s = destroys(3000, false);
    let md = comment(&s);
    assert!(md.len() <= fleetform::report::comment::COMMENT_LIMIT);
    let notice = md
        .split("**Plan output truncated:**")
        .nth(1)
        .unwrap_or_else(|| panic!("not cut: {} bytes", md.len()));
    let notice = notice.lines().next().unwrap();
    let left = notice.split("Left out: ").nth(1).unwrap();
    assert!(left.matches('`').count() <= 20, "{left}");
    assert!(left.contains(" more."), "{left}");
}

/// Issue #52, point 3: a plan without changes never says what merging
/// or approving would apply.
#[test]
fn a_plan_without_changes_says_nothing_is_applied() {
    let mut s = destroys(0, false);
    s.resources.clear();
    (s.update, s.has_changes) = (0, false);
    s.pin = None;
    let ctx = CommentContext {
        summary: &s,
        full_plan_at: "plan.txt",
        run_url: None,
        approve: Some("1 approval by `@acme/leads`".into()),
        applies: Some("on merge. `production` has `auto_apply: true`: merging this pull request applies this plan, with no approval.".into()),
        changed: &[],
    };
    let md = render_comment(&ctx, "No changes.").unwrap();
    assert!(md.contains("**No changes.**"), "{md}");
    for said in [
        "merging this pull request applies",
        "When it applies",
        "Approval before the apply",
    ] {
        assert!(!md.contains(said), "{said}: {md}");
    }
}

/// Issue #52's leftovers: no view a person reads shows fleetform's own
/// quoting as a literal backtick (`` \` `` in a table cell renders as a
/// backslash and a backtick): every snapshot of what people read is free
/// of it.
#[test]
fn no_view_shows_an_escaped_backtick() {
    // insta keeps each test file's snapshots in a `snapshots/` folder beside it.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut read = 0;
    let mut found = Vec::new();
    let mut folders = vec![dir.clone()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|x| x == "snap")
                && path.parent().is_some_and(|p| p.ends_with("snapshots"))
            {
                read += 1;
                let text = std::fs::read_to_string(&path).unwrap();
                if text.contains("\\`") {
                    found.push(path.display().to_string());
                }
            }
        }
    }
    assert!(
        read > 20,
        "only {read} snapshots read under {}",
        dir.display()
    );
    assert!(found.is_empty(), "escaped backticks in: {found:#?}");
}

/// Issue #84 point 13: a plan a gate blocks says so before anything else
/// a reviewer reads (which gate, why), and never "When it applies: …
/// once a reviewer approves" as if it would; on a phone (390 px) the
/// block's reason is on the first screen and not cut off.
#[test]
fn a_blocked_plan_says_so_first_and_never_that_it_applies() {
    let mut s = destroys(3, false);
    s.gates = Some(
        serde_json::from_value(serde_json::json!({
            "results": [
                {"gate": "max_destroy", "passed": false, "waived": false, "skipped": false,
                 "detail": "3 destroyed, at most 0 in production"},
                {"gate": "forbidden_resource_types", "passed": true, "waived": false, "skipped": false,
                 "detail": "none of the forbidden types"}
            ],
            "waiver": null
        }))
        .unwrap(),
    );
    let md = comment(&s);
    let blocked = md
        .find("**Blocked: this plan does not apply**")
        .expect("a block");
    for later in ["> [!CAUTION]", "**Plan:", "**When it applies**", "**Gates:"] {
        assert!(
            blocked < md.find(later).unwrap(),
            "{later} before the block: {md}"
        );
    }
    assert!(
        md.contains("> - `max_destroy`: 3 destroyed, at most 0 in production\n"),
        "{md}"
    );
    assert!(
        md.contains(
            "**When it applies**: not while a gate blocks it (above); once they pass, after merge"
        ),
        "{md}"
    );
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("blocked.html");
    std::fs::write(&page, crate::views::counts::github_page(&md)).unwrap();
    let d = Driver::start();
    d.open(&format!("file://{}", page.display()), 390, 844);
    let m = d.eval(
        "const li = [...document.querySelectorAll('li')].find(e => e.textContent.includes('max_destroy'));
         const r = li.getBoundingClientRect();
         return {top: Math.round(r.top), right: Math.round(r.right), width: window.innerWidth};",
    );
    assert!(
        m["top"].as_i64().unwrap() < 844,
        "the reason below the first screen: {m}"
    );
    assert!(
        m["right"].as_i64().unwrap() <= m["width"].as_i64().unwrap(),
        "the reason runs off the screen: {m}"
    );
}
