//! Issue #84, point 15: long lists fold. What a reader scrolls past to
//! reach the rest — an audit report's hundreds of applies, a rollout
//! tick's hundreds of pairs, the approver's table of hundreds of repairs
//! — is folded under its count (cmark-gfm as GitHub renders it, headless
//! Chromium at a phone's 390 px and a laptop's 1012 px), so what follows
//! is on the first screen or the next, not thousands of pixels down.

use fleetform::audit::Entry;
use fleetform::report::repairs::{summary as repairs_summary, RepairRow};

use crate::views::dashboard::Driver;

/// `markdown` as a page the way GitHub shows it: cmark-gfm with GitHub's
/// extensions and its raw HTML kept (GitHub's sanitizer keeps `<details>`
/// and `<summary>`; the tag filter drops what it drops).
fn github_page(markdown: &str) -> String {
    let body = crate::common::github_html_unsafe(markdown);
    format!(
        "<!doctype html><meta charset=utf-8><style>body{{font-family:sans-serif;margin:16px;color:#1f2328;background:#fff}}
code{{background:#e3e6e8;padding:.1em .3em;border-radius:4px}}table{{border-collapse:collapse}}th,td{{border:1px solid #d1d9e0;padding:6px 13px}}</style>{body}"
    )
}

/// An audit report of `n` applies by hand, one customer each, and a
/// refusal.
fn audit_report(n: usize) -> String {
    let mut entries: Vec<Entry> = (0..n)
        .map(|i| {
            serde_json::from_value(serde_json::json!({
                "time": format!("2026-11-{:02}T10:00:00Z", 1 + i % 28),
                "action": "apply", "actor": "octocat", "result": "ok",
                "customer": format!("customer-{i:04}"), "environment": "production",
            }))
            .unwrap()
        })
        .collect();
    entries.push(
        serde_json::from_value(serde_json::json!({
            "time": "2026-11-28T10:00:00Z", "action": "refusal", "actor": "octocat",
            "result": "refused", "customer": "acme", "detail": "plan digest differs",
        }))
        .unwrap(),
    );
    fleetform::report::audit::markdown(&fleetform::report::audit::summarise(entries, None))
}

/// `md` rendered as GitHub renders it and opened at each width: the top
/// of the first element matching `selector` whose text holds `text`.
fn tops(d: &Driver, md: &str, selector: &str, text: &str) -> Vec<(u32, u32, i64)> {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("page.html");
    std::fs::write(&page, github_page(md)).unwrap();
    let script = format!(
        "const e = [...document.querySelectorAll({selector:?})].find(e => e.textContent.includes({text:?}));
         return e ? Math.round(e.getBoundingClientRect().top) : -1;"
    );
    [(390, 844), (1012, 900)]
        .into_iter()
        .map(|(w, h)| {
            d.open(&format!("file://{}", page.display()), w, h);
            (w, h, d.eval(&script).as_i64().unwrap())
        })
        .collect()
}

#[test]
fn hundreds_of_rows_fold_and_what_follows_is_near_the_first_screen() {
    let d = Driver::start();

    // The audit report: 300 applies, then the refusals.
    let md = audit_report(300);
    assert!(
        md.contains("<details><summary>300 applies</summary>"),
        "{}",
        &md[..md.len().min(3000)]
    );
    for (w, h, top) in tops(&d, &md, "h2", "Refusals") {
        assert!(
            (0..2 * h as i64).contains(&top),
            "at {w} px the refusals are {top} px down"
        );
    }

    // A rollout tick of 300 pairs: the table is one line, folded.
    let pairs: Vec<(String, String)> = (0..300)
        .map(|i| (format!("customer-{i:04}/production"), "applied".into()))
        .collect();
    let mut md = fleetform::report::rollout::tick_summary(
        "r1",
        None,
        &["stage 2 applied 300 pairs".into()],
        &pairs,
    );
    md.push_str("\nNext: stage 3.\n");
    for (w, h, top) in tops(&d, &md, "p", "Next: stage 3.") {
        assert!(
            (0..h as i64).contains(&top),
            "at {w} px the line after the tick's pairs is {top} px down"
        );
    }

    // The approver's repair plans: 600 pairs, then the digest they name.
    let names: Vec<String> = (0..600)
        .map(|i| format!("customer-{i:04}/staging"))
        .collect();
    let rows: Vec<RepairRow<'_>> = names
        .iter()
        .map(|p| RepairRow {
            pair: p,
            state: "repair",
            changes: &[],
            plan_sha256: None,
            issue: None,
            why: None,
        })
        .collect();
    let md = repairs_summary(Some("staging"), &rows, &"cd".repeat(32), None);
    for (w, h, top) in tops(&d, &md, "p", "List digest") {
        assert!(
            (0..h as i64).contains(&top),
            "at {w} px the list digest is {top} px down"
        );
    }
}

/// The dashboard's Adoptions at 300 pairs: the table is folded under its
/// count, so the section is less than a phone's screen and the views
/// after it are not thousands of pixels down.
#[test]
fn the_dashboards_adoptions_fold_at_hundreds_of_pairs() {
    use fleetform::report::adopt::{PairStatus, Stage};
    let mut d = crate::views::counts::every_state();
    d.adoptions = (0..300)
        .map(|i| PairStatus {
            unit: fleetform::config::Unit::new(&format!("customer-{i:04}"), None, "production"),
            stage: Stage::ZeroDiff,
            detail: "imports only".into(),
            link: None,
        })
        .collect();
    let html = fleetform::report::dashboard::html(&d).unwrap();
    assert!(
        html.contains("<details><summary>300 pairs and the status of each</summary>"),
        "the adoptions folded"
    );
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("dash.html");
    std::fs::write(&page, &html).unwrap();
    let driver = Driver::start();
    for (w, h) in [(390, 844), (1012, 900)] {
        driver.open(&format!("file://{}#adoptions", page.display()), w, h);
        let tall = driver
            .eval("return Math.round(document.getElementById('adoptions').getBoundingClientRect().height);")
            .as_i64()
            .unwrap();
        assert!(
            (1..h as i64).contains(&tall),
            "at {w} px the Adoptions section is {tall} px tall"
        );
    }
}
