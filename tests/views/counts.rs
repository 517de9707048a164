//! The provider's views (issue #34): every count reads one definition of
//! an apply (a customer's dispatch, a rollout's tick, a rollback, by hand;
//! older rollout records too); approved, automatic and local applies
//! apart; the dashboard's grid one state per cell with a legend, worst
//! first, scrolling in its own box on a phone with the customer column in
//! view; the audit HTML inside 1280 px; doctor's summary tally first and
//! failures first; the drift issue's cloud drift apart from edits not
//! applied, with attributes. What people see is rendered by cmark-gfm
//! and headless Chromium, as GitHub and a browser show it.

use crate::common;
use crate::views::dashboard::{has, Driver};

use common::{assert_ok as ok, stdout, Fixture};
use serde_json::Value;

/// One of each kind of apply, as the audit log has them, `secs` seconds
/// ago each (all within the last minutes):
/// - acme staging: a dispatch applied with approvals on the PR; a
///   rollout's tick applied; a rollout's apply failed (older record); a
///   rollout's pair whose plan failed (not an apply).
/// - acme production: a rollback applied (older record), then a rollback
///   of a rollout applied.
/// - globex staging: an automatic dispatch (auto_apply) applied, a
///   dispatch failed; a rollout's tick applied (older record).
/// - globex production: `fleetform apply` by hand.
pub(crate) fn mixed_log(now: u64) -> String {
    let t = |ago: u64| fleetform::audit::rfc3339(now - ago);
    let run = "https://github.com/provider/manager/actions/runs/7";
    [
        format!(r#"{{"time":"{}","action":"apply","actor":"ops-carol","triggering_actor":"ops-bot","customer":"acme","environment":"staging","result":"ok","run_url":"{run}","dispatch_id":"d1","approvers":["alice"]}}"#, t(600)),
        format!(r#"{{"time":"{}","action":"apply","actor":"ops-dan","customer":"acme","environment":"staging","result":"ok","run_url":"{run}","detail":"rollout r1","approval":"automatic"}}"#, t(500)),
        format!(r#"{{"time":"{}","action":"rollout","actor":"ops-bot","customer":"acme","environment":"staging","result":"failed","run_url":"{run}","detail":"r0: apply: terraform apply failed"}}"#, t(400)),
        format!(r#"{{"time":"{}","action":"rollout","actor":"ops-bot","customer":"acme","environment":"staging","result":"failed","run_url":"{run}","detail":"r0: plan: terraform plan failed"}}"#, t(390)),
        format!(r#"{{"time":"{}","action":"rollout","actor":"ops-bot","customer":"acme","environment":"production","result":"rolled-back","run_url":"{run}","detail":"r0"}}"#, t(380)),
        format!(r#"{{"time":"{}","action":"apply","actor":"ops-erin","triggering_actor":"ops-bot","customer":"acme","environment":"production","result":"ok","run_url":"{run}","detail":"rollback r2 of r1","approval":"approved"}}"#, t(370)),
        format!(r#"{{"time":"{}","action":"apply","actor":"ops-bot","customer":"globex","environment":"staging","result":"ok","run_url":"{run}","dispatch_id":"d2","approval":"automatic"}}"#, t(300)),
        format!(r#"{{"time":"{}","action":"apply","actor":"ops-bot","customer":"globex","environment":"staging","result":"failed","run_url":"{run}","dispatch_id":"d3","approval":"automatic","detail":"terraform apply failed"}}"#, t(200)),
        format!(r#"{{"time":"{}","action":"rollout","actor":"ops-bot","customer":"globex","environment":"staging","result":"applied","run_url":"{run}","detail":"r0: applied"}}"#, t(150)),
        format!(r#"{{"time":"{}","action":"rollout","actor":"ops-bot","customer":"globex","environment":"staging","result":"applied","run_url":"{run}","detail":"r0: no changes"}}"#, t(140)),
        format!(r#"{{"time":"{}","action":"apply","actor":"frank","customer":"globex","environment":"production","result":"ok"}}"#, t(100)),
    ]
    .join("\n")
        + "\n"
}

/// Point 1 and 2: one dispatch, rollout tick and rollback each (old and
/// new records), by hand, applied and failed: the audit report, the
/// compliance evidence and the dashboard (weekly chart and grid) count the
/// same 7 applies and 2 failed ones, and the report lists approved,
/// automatic and local applies apart.
#[test]
fn every_view_counts_every_apply_the_same() {
    let fx = Fixture::new();
    fx.write(
        "manager/.fleetform/audit.jsonl",
        &mixed_log(fleetform::audit::now_unix()),
    );
    // The audit report, as JSON: applied and failed per customer.
    let out = common::run(&fx, &["audit", "report", "--format", "json"]).ok();
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["applies_per_customer"]["acme"], 4, "{v:#}");
    assert_eq!(v["applies_per_customer"]["globex"], 3, "{v:#}");
    assert_eq!(v["failed_applies_per_customer"]["acme"], 1, "{v:#}");
    assert_eq!(v["failed_applies_per_customer"]["globex"], 1, "{v:#}");
    assert_eq!(v["applies_by_approval"]["approved"], 2, "{v:#}");
    assert_eq!(v["applies_by_approval"]["automatic"], 4, "{v:#}");
    assert_eq!(v["applies_by_approval"]["local"], 1, "{v:#}");
    // The evidence's per-unit rows count the same.
    let units = v["evidence"]["units"].as_array().unwrap();
    let unit = |c: &str, e: &str| {
        units
            .iter()
            .find(|u| u["customer"] == c && u["environment"] == e)
            .unwrap_or_else(|| panic!("no {c}/{e}: {v:#}"))
            .clone()
    };
    let counts = |u: Value| {
        (
            u["applies"].as_u64().unwrap(),
            u["failed_applies"].as_u64().unwrap(),
        )
    };
    assert_eq!(counts(unit("acme", "staging")), (2, 1));
    assert_eq!(counts(unit("acme", "production")), (2, 0));
    assert_eq!(counts(unit("globex", "staging")), (2, 1));
    assert_eq!(counts(unit("globex", "production")), (1, 0));
    assert_eq!(unit("globex", "production")["local_applies"], 1);

    // The Markdown: approved, automatic and local applies apart; the
    // failed applies apart from what failed before anything was applied.
    let out = common::run(&fx, &["audit", "report"]).ok();
    let md = stdout(&out);
    let section = |title: &str| {
        md.split(&format!("\n## {title}"))
            .nth(1)
            .unwrap_or_else(|| panic!("no section {title}: {md}"))
            .split("\n## ")
            .next()
            .unwrap()
            .to_string()
    };
    let approved = section("Approved applies");
    assert!(
        approved.contains(": ops-carol (run by ops-bot); started by dispatch; approved by alice"),
        "{approved}"
    );
    assert!(
        approved.contains(": ops-erin (run by ops-bot); started by rollback"),
        "{approved}"
    );
    assert!(!approved.contains("frank"), "not approved: {approved}");
    let local = section("Local applies");
    assert!(local.contains(": frank; started by local"), "{local}");
    let automatic = section("Automatic applies");
    assert_eq!(automatic.matches("\n- 20").count(), 4, "{automatic}");
    let failed = section("Failed applies");
    assert_eq!(failed.matches("\n- 20").count(), 2, "{failed}");
    let other = section("Other failures");
    assert!(other.contains("plan: terraform plan failed"), "{other}");
    assert!(md.contains("| `acme` | 4 | 1 |"), "{md}");

    // The dashboard: the chart's weeks add up to the same, and acme's
    // staging shows its last apply failed.
    common::run(&fx, &["report", "--html", "dash.html"]).ok();
    let html = fx.read("manager/dash.html");
    let activity = html.split(r#"id="activity""#).nth(1).unwrap();
    let table = activity.split("<tbody>").nth(1).unwrap();
    let (mut applies, mut failures) = (0, 0);
    for row in table.split("<tr><td>").skip(1) {
        let cells: Vec<u64> = row
            .split("</td><td>")
            .skip(1)
            .take(2)
            .map(|c| c.split('<').next().unwrap().parse().unwrap())
            .collect();
        applies += cells[0];
        failures += cells[1];
    }
    assert_eq!((applies, failures), (7, 2), "{activity}");
    let grid = html.split(r#"id="grid""#).nth(1).unwrap();
    let acme = grid
        .split(r##"<a href="#customer-acme">acme</a>"##)
        .nth(1)
        .unwrap()
        .split("</tr>")
        .next()
        .unwrap();
    assert!(
        acme.contains(r#"<td class="failed"><strong>failed</strong>"#),
        "{acme}"
    );
    assert!(acme.contains("1 failed apply in 30 days"), "{acme}");
}

/// A grid with one pair in each state (fleetform's own renderer, from
/// plain data): the worst first.
pub(crate) fn every_state() -> fleetform::report::dashboard::Dashboard {
    use fleetform::report::dashboard::{worst_first, Cell, CustomerView, Dashboard, State};
    let cell = |place: &str, applied: bool, f: &dyn Fn(&mut Cell)| {
        let mut c = Cell {
            place: place.into(),
            applied_at: applied.then(|| "2026-11-20T10:00:00Z".into()),
            age_days: applied.then_some(3),
            applied_ago: applied.then(|| fleetform::report::dashboard::days_ago(3)),
            manager_sha: applied.then(|| "0123456789ab".into()),
            customer_sha: applied.then(|| "ba9876543210".into()),
            plan: None,
            drift: None,
            restorable: None,
            failures: 0,
            waiting: false,
            wave: None,
            halted: false,
            last_apply_failed: false,
            stale_secrets: Vec::new(),
            state: State::Applied,
            state_word: "",
        };
        f(&mut c);
        c.state = State::of(&c);
        c.state_word = c.state.word();
        c
    };
    let places = ["staging", "production", "eu/staging", "eu/production"];
    let customer = |slug: &str, cells: Vec<Cell>| CustomerView {
        slug: slug.into(),
        repo: None,
        reference_url: None,
        cells,
        history: Vec::new(),
        pins: Vec::new(),
        cost: Vec::new(),
    };
    let mut customers = vec![
        customer(
            "calm-co",
            places.iter().map(|p| cell(p, true, &|_| {})).collect(),
        ),
        customer(
            "new-co",
            places.iter().map(|p| cell(p, false, &|_| {})).collect(),
        ),
        customer(
            "busy-co",
            vec![
                cell("staging", true, &|c| c.drift = Some("drift".into())),
                cell("production", true, &|c| {
                    c.wave = Some("half (r7)".into());
                    c.halted = true;
                }),
                cell("eu/staging", true, &|c| c.waiting = true),
                cell("eu/production", true, &|c| c.drift = Some("clean".into())),
            ],
        ),
        customer(
            "broken-co",
            vec![
                cell("staging", true, &|c| {
                    c.failures = 2;
                    c.last_apply_failed = true;
                    c.stale_secrets = vec![
                        "database_admin_password (120 days old)".into(),
                        "payment_gateway_api_key (age unknown)".into(),
                    ];
                }),
                cell("production", true, &|c| {
                    c.wave = Some("canary-customers-first (r12)".into())
                }),
                cell("eu/staging", false, &|_| {}),
                cell("eu/production", true, &|_| {}),
            ],
        ),
    ];
    // The worst customer is pinned, its pin shown under its name.
    customers[3].pins = vec![fleetform::report::dashboard::PinView {
        text: "pinned at v1.4.2 until 2026-12-31".into(),
        short: "pinned at v1.4.2-hotfix-1".into(),
        expired: false,
    }];
    worst_first(&mut customers);
    Dashboard {
        generated_at: "2026-11-23T10:00:00Z".into(),
        source: "local log .fleetform/audit.jsonl".into(),
        places: places.iter().map(|p| p.to_string()).collect(),
        customers,
        rollouts: Vec::new(),
        weeks: Vec::new(),
        drift_causes: None,
        adoptions: Vec::new(),
        adoption_halts: Vec::new(),
        sla: None,
    }
}

const FAILED: [u8; 3] = [0xf9, 0xd2, 0xd0];
const DRIFTED: [u8; 3] = [0xff, 0xe0, 0xc2];
const HALTED: [u8; 3] = [0xea, 0xdc, 0xf5];
const WAITING: [u8; 3] = [0xdc, 0xe8, 0xfb];
const NEVER: [u8; 3] = [0xff, 0xf4, 0xd6];
const APPLIED: [u8; 3] = [0xe6, 0xf4, 0xea];

/// Point 3: one state per cell, a word and a colour each, a legend, the
/// worst first; at 1280 px every colour shows, at 390 px the grid scrolls
/// inside its own box (the page does not), the customer column stays in
/// view when it does, and the first cells' colours still show.
#[test]
fn the_grid_reads_at_a_glance_on_a_desk_and_on_a_phone() {
    let html = fleetform::report::dashboard::html(&every_state()).unwrap();
    // Words, not codes; no "drift: drift", no "0 d ago".
    for word in [
        "<strong>failed</strong>",
        "<strong>drifted</strong>",
        "<strong>in a halted wave</strong>",
        "<strong>waiting for approval</strong>",
        "<strong>never applied</strong>",
        "<strong>applied</strong>",
    ] {
        assert!(html.contains(word), "{word}");
    }
    assert!(!html.contains("drift: drift") && !html.contains(" d ago"));
    assert!(html.contains("applied 3 days ago"), "{html}");
    let legend = html.split(r#"<ul class="legend""#).nth(1).unwrap();
    let legend = legend.split("</ul>").next().unwrap();
    for (state, word) in [
        ("failed", "failed"),
        ("drifted", "drifted"),
        ("halted", "in a halted wave"),
        ("waiting", "waiting for approval"),
        ("never-applied", "never applied"),
        ("applied", "applied"),
    ] {
        assert!(
            legend.contains(&format!(r#"<span class="state {state}">{word}</span>"#)),
            "{legend}"
        );
    }
    // Worst first: the failed pair's customer, then the drifted one's.
    let rows: Vec<&str> = html
        .split(r##"<th scope="row"><a href="#customer-"##)
        .skip(1)
        .map(|r| r.split('"').next().unwrap())
        .collect();
    assert_eq!(rows, ["broken-co", "busy-co", "new-co", "calm-co"]);

    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("grid.html");
    std::fs::write(&page, &html).unwrap();
    let shots = Driver::for_screenshots();
    let (_, _, desk) = shots.screenshot(&page, "#grid", (1280, 900));
    for (name, rgb) in [
        ("failed", FAILED),
        ("drifted", DRIFTED),
        ("halted", HALTED),
        ("waiting", WAITING),
        ("never applied", NEVER),
        ("applied", APPLIED),
    ] {
        assert!(has(&desk, rgb) > 1000, "{name}'s colour shows at 1280 px");
    }
    let (w, _, phone) = shots.screenshot(&page, "#grid", (390, 844));
    drop(shots);
    assert_eq!(w, 390);
    assert!(has(&phone, FAILED) > 500, "the worst cell shows on a phone");

    // On a phone: the page is as wide as the screen, the grid scrolls in
    // its box, and scrolled to its end the customer column is still at
    // the box's left edge.
    let d = Driver::start();
    d.open(&format!("file://{}", page.display()), 390, 844);
    let m = d.eval(
        "const box = document.querySelector('.grid-scroll');
         const before = box.scrollWidth > box.clientWidth;
         const edge = box.getBoundingClientRect().right;
         const cells = [...document.querySelectorAll('.grid tbody tr:first-child td')];
         const visible = cells.filter(td => td.getBoundingClientRect().right <= edge + 1).length;
         box.scrollLeft = box.scrollWidth;
         const th = document.querySelector('.grid tbody th');
         return {inner: window.innerWidth, page: document.documentElement.scrollWidth,
                 scrolls: before, moved: box.scrollLeft, visible: visible, cells: cells.length,
                 th: Math.round(th.getBoundingClientRect().left - box.getBoundingClientRect().left)};",
    );
    let inner = m["inner"].as_i64().unwrap();
    assert!(inner <= 400, "a phone's width: {m}");
    assert!(
        m["page"].as_i64().unwrap() <= inner,
        "the page does not scroll sideways: {m}"
    );
    assert_eq!(m["scrolls"], true, "the grid scrolls in its own box: {m}");
    assert!(m["moved"].as_i64().unwrap() > 100, "{m}");
    assert_eq!(m["th"], 0, "the customer column stays in view: {m}");
    // Before any scrolling, a phone shows the customer and two of its
    // environments whole, not the customer column alone.
    assert!(m["cells"].as_i64().unwrap() >= 2, "{m}");
    assert!(
        m["visible"].as_i64().unwrap() >= 2,
        "two environments in view: {m}"
    );
}

/// Point 3: the audit HTML at 1280 px: the page is not wider than the
/// window (the events table scrolls in its own box), and a plan digest
/// takes two lines, not eleven.
#[test]
fn the_audit_html_fits_a_1280_px_window() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/audit/compliance.jsonl");
    std::fs::copy(fixture, dir.path().join("audit.jsonl")).unwrap();
    let out = common::Run::from(common::fleetform_bin())
        .current_dir(dir.path())
        .args([
            "audit",
            "report",
            "--log",
            "audit.jsonl",
            "--format",
            "html",
        ])
        .output();
    ok(&out);
    let page = dir.path().join("audit.html");
    std::fs::write(&page, &out.stdout).unwrap();
    let d = Driver::start();
    d.open(&format!("file://{}", page.display()), 1280, 900);
    let m = d.eval(
        "const code = document.querySelector('.events code.digest');
         const line = parseFloat(getComputedStyle(code).lineHeight) || code.getBoundingClientRect().height;
         const url = [...document.querySelectorAll('.events td.url')].find(td => td.textContent.startsWith('https://'));
         const range = document.createRange(); range.selectNodeContents(url);
         const urlLine = parseFloat(getComputedStyle(url).lineHeight) || 18;
         return {inner: window.innerWidth, page: document.documentElement.scrollWidth,
                 lines: Math.round(code.getBoundingClientRect().height / line),
                 url_lines: Math.round(range.getBoundingClientRect().height / urlLine)};",
    );
    assert!(
        m["url_lines"].as_i64().unwrap() <= 2,
        "a run's URL in at most two lines: {m}"
    );
    assert!(
        m["page"].as_i64().unwrap() <= m["inner"].as_i64().unwrap(),
        "nothing runs off the right edge: {m}"
    );
    assert!(
        m["lines"].as_i64().unwrap() <= 2,
        "a digest in at most two lines: {m}"
    );
}

/// Markdown as GitHub renders it (cmark-gfm with GitHub's extensions), in
/// a page with GitHub's code and table colours.
pub(crate) fn github_page(markdown: &str) -> String {
    let body = crate::common::github_html(markdown);
    format!(
        "<!doctype html><meta charset=utf-8><style>body{{font-family:sans-serif;margin:16px;color:#1f2328;background:#fff}}
code{{background:#e3e6e8;padding:.1em .3em;border-radius:4px}}table{{border-collapse:collapse}}th,td{{border:1px solid #d1d9e0;padding:6px 13px}}</style>{body}"
    )
}

/// The text of rendered HTML outside code elements.
fn prose(html: &str) -> String {
    let mut out = String::new();
    let mut in_code = false;
    for part in html.split('<') {
        let (tag, text) = part.split_once('>').unwrap_or(("", part));
        if tag.starts_with("code") {
            in_code = true;
        } else if tag.starts_with("/code") {
            in_code = false;
        }
        if !in_code {
            out.push_str(text);
        }
    }
    out
}

const CODE: [u8; 3] = [0xe3, 0xe6, 0xe8];

/// Point 4: doctor's step summary with failures: the tally first, what
/// must be fixed, then what should be, each with what to change; the
/// passes folded; fleetform's backticks are code, never literal.
#[test]
fn doctor_summary_puts_the_tally_and_the_failures_first() {
    let gh = crate::doctor::manager::configured();
    gh.add_repo_secret(crate::doctor::manager::MANAGER, "SOURCE_REPOS_PAT");
    gh.set_workflow_permissions(crate::doctor::manager::MANAGER, "write", false);
    let fx = Fixture::new();
    let summary = fx.path("summary.md");
    let r = crate::doctor::manager::doctor(
        &gh,
        &fx,
        &[
            ("GITHUB_STEP_SUMMARY", summary.display().to_string()),
            ("GITHUB_ACTIONS", "true".into()),
        ],
        &[],
    );
    assert_eq!(r.code, 5, "{}", r.stdout);
    assert!(
        r.stdout.starts_with("provider/manager: ") && r.stdout.contains("2 must"),
        "the text starts with the tally: {}",
        r.stdout
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    // The trusted CAs are this machine's (the system bundle's count).
    insta::with_settings!({filters => vec![(r"; trusting [^|]*", "; trusting [this machine's CAs] ")]}, {
        insta::assert_snapshot!("doctor_summary_failures_first", md);
    });
    let at = |s: &str| md.find(s).unwrap_or_else(|| panic!("{s}: {md}"));
    assert!(at("2 must") < at("### Must fix"), "{md}");
    assert!(at("### Must fix") < at("❌ fail"), "{md}");
    assert!(at("❌ fail") < at("passed</summary>"), "{md}");
    let html = github_page(&md);
    assert!(!prose(&html).contains('`'), "no literal backtick: {html}");
    assert!(html.contains("<code>write</code>"), "{html}");
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("doctor.html");
    std::fs::write(&page, &html).unwrap();
    let (_, _, shot) = Driver::for_screenshots().screenshot(&page, "", (1280, 700));
    assert!(
        has(&shot, CODE) > 200,
        "the failures' code spans are on the first screen"
    );
}

/// Point 6: a drift issue says what drifted in the cloud (attributes,
/// no values) apart from what is only not applied yet.
#[test]
fn a_drift_issue_says_what_drifted_apart_from_edits_not_applied() {
    use fleetform::data::summary::PlanSummary;
    use fleetform::report::drift::issue_body;
    use fleetform::report::table::{Outcome, Row};
    let plan = serde_json::json!({
        "resource_drift": [{
            "address": "aws_s3_bucket.logs", "type": "aws_s3_bucket",
            "change": {"actions": ["update"],
                "before": {"tags": {"team": "a"}, "versioning": true, "secret": "s3cr3t"},
                "after": {"tags": {"team": "b"}, "versioning": false, "secret": "s3cr3t"}}
        }],
        "resource_changes": [
            {"address": "aws_s3_bucket.logs", "type": "aws_s3_bucket",
             "change": {"actions": ["update"],
                "before": {"tags": {"team": "b"}, "versioning": false},
                "after": {"tags": {"team": "a"}, "versioning": true}}},
            {"address": "aws_sqs_queue.jobs", "type": "aws_sqs_queue",
             "change": {"actions": ["update"],
                "before": {"visibility_timeout_seconds": 30, "password": "hunter2"},
                "after": {"visibility_timeout_seconds": 60, "password": "hunter2"}}}
        ],
        "prior_state": {"values": {"root_module": {"resources": [{"mode": "managed"}]}}}
    });
    let summary =
        PlanSummary::from_show_json(&plan, "acme", "staging", "k", &"ab".repeat(32), true);
    let row = Row {
        customer: "acme".into(),
        product: None,
        environment: "staging".into(),
        outcome: Outcome::Planned {
            summary: Box::new(summary),
            dir: std::path::PathBuf::from("x"),
        },
    };
    let body = issue_body(
        "acme",
        &[&row],
        Some("https://github.com/provider/manager/actions/runs/9"),
    );
    insta::assert_snapshot!("drift_issue_cloud_and_edits", body);
    assert!(!body.contains("s3cr3t") && !body.contains("hunter2") && !body.contains("\"b\""));
    let html = github_page(&body);
    let cloud = html.split("Changed outside Terraform").nth(1).unwrap();
    let (cloud, edits) = cloud.split_once("Not applied yet").unwrap();
    assert!(cloud.contains("<code>aws_s3_bucket.logs</code>"), "{html}");
    assert!(
        // Top-level names only: `tags.team` would show a map key, which
        // can be a customer value (report::opaque).
        cloud.contains("<code>tags</code>, <code>versioning</code>") && !cloud.contains("team"),
        "{html}"
    );
    assert!(!cloud.contains("aws_sqs_queue"), "{html}");
    assert!(edits.contains("<code>aws_sqs_queue.jobs</code>"), "{html}");
    assert!(
        edits.contains("<code>visibility_timeout_seconds</code>"),
        "{html}"
    );
    assert!(!edits.contains("aws_s3_bucket.logs"), "{html}");
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("drift.html");
    std::fs::write(&page, &html).unwrap();
    let (_, _, shot) = Driver::for_screenshots().screenshot(&page, "", (1280, 700));
    assert!(has(&shot, CODE) > 200, "the attributes show as code");
}

/// Point 5: the plan comment says when the plan applies (staging, with
/// `auto_apply: true`, on merge; production after its reviewer), and its
/// footer links the run once.
#[test]
fn the_comment_says_when_it_applies_and_links_the_run_once() {
    common::require_terraform();
    let fx = Fixture::new();
    let run = "https://github.com/provider/manager/actions/runs/77";
    for env in ["staging", "production"] {
        common::run(&fx, &["plan", "--customer", "acme", "--env", env]).ok();
    }
    let staging = fx.read("manager/.fleetform/out/acme/staging/comment.md");
    assert!(
        staging.contains("**When it applies**: on merge. `staging` has `auto_apply: true`: merging this pull request applies this plan, with no approval."),
        "{staging}"
    );
    let production = fx.read("manager/.fleetform/out/acme/production/comment.md");
    assert!(
        production.contains("**When it applies**: after merge, once a reviewer of the provider's `production-apply` environment approves the apply run."),
        "{production}"
    );
    // Under a dispatch the full plan is in the run: the footer links it
    // once.
    let s: fleetform::data::summary::PlanSummary =
        serde_json::from_str(&fx.read("manager/.fleetform/out/acme/staging/summary.json")).unwrap();
    let c = fleetform::report::comment::render_comment(
        &fleetform::report::comment::CommentContext {
            summary: &s,
            full_plan_at: run,
            run_url: Some(run),
            approve: None,
            applies: None,
            changed: &[],
        },
        "No changes.",
    )
    .unwrap();
    let footer = c.lines().last().unwrap();
    assert_eq!(
        footer.matches(run).count(),
        1,
        "one link to the run: {footer}"
    );
    assert!(
        footer.contains(&format!("[full plan in the run]({run})")),
        "{footer}"
    );
}
