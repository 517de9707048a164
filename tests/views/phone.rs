//! Issue #52, point 5: the dashboard on a phone (390 × 844, headless
//! Chromium driven by chromedriver): the page is never wider than the
//! screen, the weekly chart scales so every week's bars are in view, a
//! customer's history table scrolls in its own box and says so, and a
//! view opened by its link starts at its heading, not on a blank band.

use crate::common;
use crate::views::dashboard::Driver;
use common::{assert_ok as ok, Fixture};

/// A dashboard of the views' mixed audit log, at `manager/dash.html`.
fn dashboard() -> (Fixture, std::path::PathBuf) {
    let fx = Fixture::new();
    fx.write(
        "manager/.fleetform/audit.jsonl",
        &crate::views::counts::mixed_log(fleetform::audit::now_unix()),
    );
    let out = common::Run::from(fx.fleetform())
        .args(["report", "--html", "dash.html"])
        .output();
    ok(&out);
    let page = fx.path("manager/dash.html");
    (fx, page)
}

#[test]
fn the_dashboard_reads_on_a_phone() {
    let (_fx, page) = dashboard();
    let d = Driver::start();
    let url = |fragment: &str| format!("file://{}{fragment}", page.display());

    // The chart: as wide as the screen at most, and the bars of the weeks
    // with applies inside it.
    d.open(&url("#activity"), 390, 844);
    let m = d.eval(
        "const svg = document.querySelector('#activity svg');
         const bars = [...svg.querySelectorAll('rect[fill=\"#1f4e99\"]')]
           .filter(r => parseFloat(r.getAttribute('height')) > 0)
           .map(r => { const b = r.getBoundingClientRect(); return {right: Math.round(b.right), h: Math.round(b.height)}; });
         return {inner: window.innerWidth, page: document.documentElement.scrollWidth,
                 svg: Math.round(svg.getBoundingClientRect().right), bars};",
    );
    let inner = m["inner"].as_i64().unwrap();
    assert!(inner <= 400, "a phone's width: {m}");
    assert!(
        m["page"].as_i64().unwrap() <= inner,
        "no sideways page: {m}"
    );
    assert!(m["svg"].as_i64().unwrap() <= inner, "the chart fits: {m}");
    let bars = m["bars"].as_array().unwrap();
    assert!(!bars.is_empty(), "a week with applies has a bar: {m}");
    for b in bars {
        assert!(b["right"].as_i64().unwrap() <= inner, "in view: {m}");
        assert!(b["h"].as_i64().unwrap() >= 1, "drawn: {m}");
    }

    // A customer's history: its table scrolls in its own box, with a hint
    // the reader sees; the view starts at its heading.
    d.open(&url("#customer-acme"), 390, 844);
    let m = d.eval(
        "const s = document.querySelector('#customer-acme');
         const box = s.querySelector('.table-scroll');
         const hint = s.querySelector('.scroll-hint');
         const h2 = s.querySelector('h2').getBoundingClientRect();
         return {inner: window.innerWidth, page: document.documentElement.scrollWidth,
                 scrolls: box.scrollWidth > box.clientWidth,
                 hint: getComputedStyle(hint).display !== 'none' && hint.getBoundingClientRect().height > 0,
                 top: Math.round(h2.top), bottom: Math.round(h2.bottom)};",
    );
    let inner = m["inner"].as_i64().unwrap();
    assert!(
        m["page"].as_i64().unwrap() <= inner,
        "no sideways page: {m}"
    );
    assert_eq!(m["scrolls"], true, "the history scrolls in its box: {m}");
    assert_eq!(m["hint"], true, "and says so: {m}");
    let (top, bottom) = (m["top"].as_i64().unwrap(), m["bottom"].as_i64().unwrap());
    assert!(
        (0..200).contains(&top) && bottom > 0,
        "the view opens at its heading: {m}"
    );

    // At a desk the hint is not needed and not shown.
    d.open(&url("#customer-acme"), 1280, 900);
    let m = d.eval(
        "const hint = document.querySelector('#customer-acme .scroll-hint');
         return {hint: getComputedStyle(hint).display};",
    );
    assert_eq!(m["hint"], "none", "{m}");
}
