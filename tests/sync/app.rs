//! `fleetform sync` with the public sync App (#81 point 3): customers
//! under three owners each install it on their repo, and sync mints a
//! token per customer repository, for it alone, with the sync App's
//! permissions; a customer who has not installed it fails alone. One
//! token could not do this: a fine-grained token covers one owner.

use serde_json::{json, Value};

use crate::common;
use crate::world::{World, ACME, MANAGER};

const APP: u64 = 6301;
const GLOBEX: &str = "globex/globex-app";

fn sync_as_the_app(w: &World, pem: &str) -> (Option<i32>, Value) {
    let out = common::Run::from(w.fx.fleetform())
        .env("GITHUB_API_URL", w.gh.api_url())
        .env("FLEETFORM_SYNC_APP_ID", APP.to_string())
        .env("FLEETFORM_SYNC_APP_PRIVATE_KEY", pem)
        .env("FLEETFORM_RETRY_MAX_WAIT_SECS", "5")
        .args(["sync", "--manager-repo", MANAGER, "--action-ref", "v9.9.9"])
        .args(["--json"])
        .output();
    let rows: Value = serde_json::from_slice(out.stdout.as_bytes())
        .unwrap_or_else(|_| panic!("{}", common::stderr(&out)));
    (out.status.code(), rows)
}

fn row<'a>(rows: &'a Value, slug: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["customer"] == slug)
        .unwrap_or_else(|| panic!("no row for {slug}: {rows:#}"))
}

#[test]
fn sync_opens_each_pull_request_with_a_token_for_its_repository_alone() {
    let w = World::new();
    let pem = crate::relay::serve::pem();
    let manifest =
        fleetform::report::app_manifests::manifest(&fleetform::util::apps::SYNC, Some("provider"));
    assert_eq!(
        manifest["public"],
        json!(true),
        "customers must be able to install it"
    );
    w.gh.register_app_from_manifest(APP, &pem, &manifest)
        .unwrap();
    w.gh.install_app(APP, "acme-corp", &[ACME]);

    // globex has not installed it: it fails, acme is synced all the same.
    let (code, rows) = sync_as_the_app(&w, &pem);
    assert_ne!(code, Some(0), "{rows:#}");
    assert_eq!(row(&rows, "acme")["ok"], json!(true), "{rows:#}");
    assert_eq!(row(&rows, "globex")["ok"], json!(false), "{rows:#}");

    w.gh.install_app(APP, "globex", &[GLOBEX]);
    let (code, rows) = sync_as_the_app(&w, &pem);
    assert_eq!(code, Some(0), "{rows:#}");
    assert!(row(&rows, "globex")["pr"].is_string(), "{rows:#}");
    let granted: Value = fleetform::util::apps::SYNC_APP
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect::<serde_json::Map<_, _>>()
        .into();
    let minted = w.gh.minted_tokens();
    assert!(!minted.is_empty());
    for m in &minted {
        assert_eq!(m.repos.len(), 1, "{m:?}");
        assert_eq!(m.permissions, granted, "{m:?}");
    }
    let repos: std::collections::BTreeSet<&str> =
        minted.iter().map(|m| m.repos[0].as_str()).collect();
    assert_eq!(
        repos,
        [ACME.to_lowercase(), GLOBEX.to_string()]
            .iter()
            .map(String::as_str)
            .collect()
    );
    w.gh.assert_clean();
}
