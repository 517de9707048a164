//! The dashboard over a bucket (#88): each kind of record (deployments,
//! their segments, adoptions, adoption waves, rollouts) listed once for
//! the whole fleet, never once per customer or pair, so its requests do
//! not grow with the fleet, and no object read twice; and the cells
//! still show each pair's last apply.

use crate::common;
use crate::records::compact::{deployment_body, deployment_keys, in_a_bucket, put_all, run};

/// The prefixes of the listings `seen` holds, in order.
fn listed(seen: &[crate::fake_s3::Seen]) -> Vec<String> {
    seen.iter()
        .filter(|s| s.method == "GET" && s.query.contains("list-type"))
        .filter_map(|s| {
            s.query
                .replace("%2F", "/")
                .split('&')
                .find_map(|q| q.strip_prefix("prefix=").map(str::to_string))
        })
        .collect()
}

#[test]
fn the_dashboard_lists_each_kind_of_record_once_for_the_fleet() {
    let (moto, proxy, fx) = in_a_bucket();
    let keys = deployment_keys(6);
    put_all(&moto, "ledger", &keys, deployment_body);
    let html = fx.dir.path().join("dashboard.html");
    let out = run(
        &fx,
        &["report", "--records", "--html", html.to_str().unwrap()],
    );
    common::assert_ok(&out);
    let seen = proxy.seen();
    let read: Vec<&str> = seen
        .iter()
        .filter(|s| s.method == "GET" && !s.query.contains("list-type"))
        .map(|s| s.path.as_str())
        .collect();
    let mut each = read.clone();
    each.sort();
    each.dedup();
    assert_eq!(each.len(), read.len(), "an object read twice: {read:#?}");
    let listed = listed(&seen);
    let mut once = listed.clone();
    once.sort();
    once.dedup();
    assert_eq!(
        once.len(),
        listed.len(),
        "a prefix listed twice: {listed:#?}"
    );
    for slug in ["acme", "globex"] {
        assert!(
            listed.iter().all(|p| !p.contains(slug)),
            "a listing per customer ({slug}): {listed:#?}"
        );
    }
    // NOW is 2026-11-23T12:00Z; acme's newest records of deployment_keys(6)
    // are 2026-11-04T16:00Z (staging) and 2026-11-13T08:00Z (production).
    let page = std::fs::read_to_string(&html).unwrap();
    for shown in ["applied 18 days ago", "applied 10 days ago"] {
        assert!(page.contains(shown), "acme's cells: `{shown}` not shown");
    }
}
