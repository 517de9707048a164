//! Issue #84: every table a person reads on GitHub fits a phone. Each view
//! is rendered as GitHub renders it (cmark-gfm, its raw `<details>` kept)
//! with GitHub's own rules for what is too wide (github-markdown-css: a
//! table scrolls in its own box, `display: block; width: max-content;
//! max-width: 100%; overflow: auto`; a code block scrolls, `pre { overflow:
//! auto }`; prose breaks a long word, `word-wrap: break-word`), opened in
//! headless Chromium at 390 px with every fold open: no table is wider
//! than its box (it would scroll sideways) and nothing but a code block
//! runs past the screen. A code block may scroll: it is where a full
//! digest is kept for whoever copies it.
//!
//! The class: every snapshot of what people read on GitHub as Markdown
//! (any not yet made to fit would be named in [`NOT_YET`]), and the
//! views whose rows are long at scale (the audit report
//! with its evidence, a rollout's wave plan, the approver's repair plans,
//! a rollout tick).

use fleetform::data::summary::PlanSummary;
use fleetform::report::repairs::{summary as repairs_summary, RepairRow};

use crate::views::dashboard::Driver;

/// GitHub's rules for width in rendered Markdown (github-markdown-css,
/// the stylesheet of `.markdown-body`), with its paddings and font.
pub(crate) const GITHUB_CSS: &str = "body{font-family:-apple-system,'Segoe UI',sans-serif;font-size:16px;line-height:1.5;margin:16px;word-wrap:break-word;color:#1f2328;background:#fff}
code{font-family:monospace;font-size:85%;white-space:break-spaces;background:#e3e6e8;padding:.2em .4em;border-radius:6px}
pre{overflow:auto;padding:16px;background:#f6f8fa}pre code{white-space:pre;padding:0}
table{border-spacing:0;border-collapse:collapse;display:block;width:max-content;max-width:100%;overflow:auto}
th,td{border:1px solid #d1d9e0;padding:6px 13px}ul,ol{padding-left:2em}";

/// `markdown` as a GitHub page: cmark-gfm with GitHub's extensions, its
/// raw HTML kept (GitHub's sanitizer keeps `<details>` and `<summary>`).
fn page(views: &[(String, String)]) -> String {
    let mut body = String::new();
    for (i, (_, md)) in views.iter().enumerate() {
        let html = crate::common::github_html_unsafe(md);
        body.push_str(&format!("<section id=\"v{i}\">{html}</section>\n"));
    }
    format!("<!doctype html><meta charset=utf-8><style>{GITHUB_CSS}</style>{body}")
}

/// What runs past a 390 px screen in `views` (name, Markdown), every fold
/// open: a table wider than its box, or anything outside a code block
/// reaching past the screen's right edge. Each as `view: what`.
pub(crate) fn too_wide_at_390(d: &Driver, views: &[(String, String)]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("views.html");
    std::fs::write(&file, page(views)).unwrap();
    d.open(&format!("file://{}", file.display()), 390, 844);
    let found = d.eval(
        "document.querySelectorAll('details').forEach(e => e.open = true);
         const inner = document.documentElement.clientWidth;
         const out = [];
         for (const s of document.querySelectorAll('section')) {
           for (const t of s.querySelectorAll('table')) {
             if (t.scrollWidth > t.clientWidth + 1) {
               out.push([s.id, 'a table ' + t.scrollWidth + ' px wide in ' + t.clientWidth + ': ' + t.rows[0].textContent.trim().replace(/\\s+/g, ' | ')]);
             }
           }
           for (const e of s.querySelectorAll('*')) {
             if (e.closest('pre') || e.closest('table')) continue;
             const r = e.getBoundingClientRect();
             if (r.width > 0 && r.right > inner + 1) {
               out.push([s.id, e.tagName.toLowerCase() + ' reaches ' + Math.round(r.right) + ' px: ' + e.textContent.slice(0, 80)]);
             }
           }
         }
         out.push(['page', document.documentElement.scrollWidth > inner ? 'the page is ' + document.documentElement.scrollWidth + ' px wide' : '']);
         return out;",
    );
    found
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p[1].as_str().is_some_and(|s| !s.is_empty()))
        .map(|p| {
            let id = p[0].as_str().unwrap();
            let name = id
                .strip_prefix('v')
                .and_then(|i| i.parse::<usize>().ok())
                .map_or(id, |i| views[i].0.as_str());
            format!("{name}: {}", p[1].as_str().unwrap())
        })
        .collect()
}

/// Every insta snapshot under `tests/` that is Markdown read on GitHub
/// (it holds a table, a heading, a fold or fleetform's hidden marker;
/// a view made to fit by turning its table into lines stays in), its
/// header cut off: (file name, Markdown).
fn markdown_snapshots() -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut folders = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|x| x == "snap") {
                let text = std::fs::read_to_string(&path).unwrap();
                // insta's header: `---`, its fields, `---`.
                let md = text.splitn(3, "---\n").nth(2).unwrap_or("").to_string();
                if md.lines().any(|l| {
                    l.starts_with("|---")
                        || l.starts_with("| ---")
                        || l.starts_with("# ")
                        || l.starts_with("## ")
                        || l.starts_with("### ")
                        || l.starts_with("<details>")
                        || l.starts_with("<!-- fleetform")
                }) {
                    let name = path.file_name().unwrap().to_string_lossy().to_string();
                    found.push((name, md));
                }
            }
        }
    }
    found.sort();
    found
}

/// Views still wider than a phone (snapshot names start so), each with
/// its widest table: not yet made to fit. Each must still be too wide
/// (one made to fit leaves this list), and no other view may be.
const NOT_YET: &[&str] = &[];

#[test]
fn every_snapshot_table_fits_a_phone() {
    let views = markdown_snapshots();
    assert!(views.len() >= 20, "only {} snapshots read", views.len());
    let d = Driver::start();
    let wide = too_wide_at_390(&d, &views);
    let (known, new): (Vec<&String>, Vec<&String>) = wide
        .iter()
        .partition(|w| NOT_YET.iter().any(|n| w.starts_with(n)));
    assert!(
        new.is_empty(),
        "too wide at 390 px:\n{}",
        new.iter()
            .map(|w| w.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    for n in NOT_YET {
        assert!(
            known.iter().any(|w| w.starts_with(n)),
            "{n} fits a phone now: take it off NOT_YET"
        );
    }
}

/// A pair's plan as `rollout plan` reads it.
fn plan(i: usize) -> PlanSummary {
    serde_json::from_value(serde_json::json!({
        "customer": format!("customer-{i:04}"), "environment": "production",
        "create": 2, "update": 11, "delete": 0, "replace": 1,
        "resources": [], "outputs": [], "has_changes": true,
        "plan_sha256": format!("{i:02}").repeat(32),
        "state_key": "x/production.tfstate",
    }))
    .unwrap()
}

/// The audit report (with its evidence) as `audit report` writes it: long
/// values where records have them (a role's ARN, a run's address, two
/// approvers, a refusal's reason).
fn audit_report() -> String {
    let run = "https://github.com/provider-org/fleet-manager/actions/runs/12345678901";
    let lines: Vec<String> = (0..3)
        .flat_map(|i| {
            [
                serde_json::json!({"time": format!("2026-11-0{}T10:00:00Z", i + 1), "action": "apply", "actor": "ops-carol",
                    "triggering_actor": "ops-bot", "approvers": ["alice-the-approver", "bob"], "result": "ok",
                    "customer": format!("customer-{i:04}"), "environment": "production", "sha": "2".repeat(40),
                    "plan_sha256": "a".repeat(64), "identity": "arn:aws:iam::111111111111:role/customer-0000-deploy",
                    "run_url": run}),
                serde_json::json!({"time": format!("2026-11-0{}T11:00:00Z", i + 1), "action": "refusal", "actor": "ops-bot",
                    "result": "refused", "customer": format!("customer-{i:04}"), "environment": "production",
                    "detail": "waiting for approval: 0 of 1 from @provider-org/platform-leads"}),
            ]
        })
        .map(|v| v.to_string())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("audit.jsonl"), lines.join("\n") + "\n").unwrap();
    let out = crate::common::Run::from(crate::common::fleetform_bin())
        .current_dir(dir.path())
        .args(["audit", "report", "--log", "audit.jsonl"])
        .args(["--since", "2026-11-01", "--until", "2026-11-30"])
        .output();
    crate::common::assert_ok(&out);
    crate::common::stdout(&out)
}

/// The views whose rows grow long at scale, at 390 px: the audit report
/// and its evidence, a rollout's wave plan (each pair's full digest kept
/// in a code block), the approver's repair plans and a tick's pairs.
#[test]
fn the_long_row_views_fit_a_phone() {
    let mut views = vec![("the audit report".to_string(), audit_report())];

    let plans: Vec<PlanSummary> = (0..3).map(plan).collect();
    let rows: Vec<fleetform::report::rollout::PlannedRow<'_>> = plans
        .iter()
        .map(|p| fleetform::report::rollout::PlannedRow {
            pair: format!("{}/production", p.customer),
            summary: p,
        })
        .collect();
    let wave =
        fleetform::report::rollout::plan_summary("r1", "canary", "production", &[], &rows, false);
    for p in &plans {
        assert!(
            wave.contains(&format!("{}/production  {}", p.customer, p.plan_sha256)),
            "the full digest of each plan, in a code block: {wave}"
        );
    }
    views.push(("a wave plan".into(), wave));

    let (digest, why) = (
        "ab".repeat(32),
        "the bucket's versioning was turned off outside Terraform",
    );
    let names: Vec<String> = (0..3)
        .map(|i| format!("customer-{i:04}/production"))
        .collect();
    let repairs: Vec<RepairRow<'_>> = names
        .iter()
        .map(|p| RepairRow {
            pair: p,
            state: "repair",
            changes: &[],
            plan_sha256: Some(digest.as_str()),
            issue: Some("https://github.com/provider-org/fleet-manager/issues/1234"),
            why: Some(why),
        })
        .collect();
    views.push((
        "the approver's repair plans".into(),
        repairs_summary(Some("production"), &repairs, &"cd".repeat(32), None),
    ));

    let pairs: Vec<(String, String)> = names
        .iter()
        .map(|p| {
            (
                p.clone(),
                format!("applied plan sha256:{}", "ef".repeat(32)),
            )
        })
        .collect();
    views.push((
        "a rollout tick".into(),
        fleetform::report::rollout::tick_summary(
            "r1",
            None,
            &["stage 2 applied 3 pairs".into()],
            &pairs,
        ),
    ));

    let d = Driver::start();
    let wide = too_wide_at_390(&d, &views);
    assert!(wide.is_empty(), "too wide at 390 px:\n{}", wide.join("\n"));
}
