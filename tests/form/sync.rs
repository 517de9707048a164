//! `sync.form: true`: `fleetform sync` carries the change form to every
//! customer with the template (the form made once from the schema, the
//! workflow pinned to the sync's ref), a second run writes nothing, and a
//! template that writes a file of the form too is refused before any
//! write.

use serde_json::Value;

use crate::common::{self, stderr};
use crate::world::{World, ACME, MANAGER};

fn sync(w: &World) -> common::Ran {
    common::Run::from(w.fx.fleetform())
        .env("GITHUB_API_URL", w.gh.api_url())
        .env("FLEETFORM_TOKEN", w.gh.token())
        .args([
            "sync",
            "--manager-repo",
            MANAGER,
            "--action-ref",
            "v9.9.9",
            "--json",
        ])
        .output()
}

/// The example manager with `sync.form: true`, its template's own
/// `infra/README.md` removed (the form's reference takes its place).
fn with_form() -> World {
    let w = World::new();
    w.fx.append("manager/fleetform.yml", "\nsync:\n  form: true\n");
    std::fs::remove_file(w.fx.path("manager/templates/customer/infra/README.md.j2")).unwrap();
    w
}

#[test]
fn sync_carries_the_change_form_and_a_second_run_writes_nothing() {
    let w = with_form();
    let out = sync(&w);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let pulls = w.gh.pulls(ACME);
    assert_eq!(pulls.len(), 1, "{pulls:?}");
    let branch = &pulls[0].head;
    for path in [
        ".github/ISSUE_TEMPLATE/infra-change.yml",
        ".github/fleetform/infra-change.json",
        ".github/workflows/customer-form.yml",
        "infra/README.md",
    ] {
        assert!(
            w.gh.file_at(ACME, branch, path).is_some(),
            "sync wrote no {path}"
        );
    }
    let workflow =
        w.gh.file_at(ACME, branch, ".github/workflows/customer-form.yml")
            .unwrap();
    assert!(
        workflow.contains("fleetform/fleetform/actions/request@v9.9.9"),
        "{workflow}"
    );
    let described: Value = serde_json::from_str(
        &w.gh
            .file_at(ACME, branch, ".github/fleetform/infra-change.json")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(described["variables"], "infra/variables.yml");

    let writes = w.gh.write_count();
    let again = sync(&w);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(w.gh.write_count(), writes, "a second run writes nothing");
    w.gh.assert_clean();
}

#[test]
fn a_template_that_writes_a_file_of_the_form_is_refused_before_any_write() {
    let w = World::new();
    w.fx.append("manager/fleetform.yml", "\nsync:\n  form: true\n");
    let out = sync(&w);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("infra/README.md"), "{}", stderr(&out));
    assert_eq!(w.gh.write_count(), 0);
}

/// The dashboard's customer view links the reference `sync.form` carries
/// (on its repository's default branch); without `sync.form`, no link.
#[test]
fn the_dashboard_links_each_customers_reference() {
    let dashboard = |form: bool| {
        let w = World::new();
        if form {
            w.fx.append("manager/fleetform.yml", "\nsync:\n  form: true\n");
        }
        common::Run::from(w.fx.fleetform())
            .env("GITHUB_SERVER_URL", "https://github.com")
            .args(["report", "--html", "dash.html"])
            .ok();
        // The page escapes `/` in attributes as `&#x2f;`; a browser reads
        // the link back as written.
        w.fx.read("manager/dash.html").replace("&#x2f;", "/")
    };
    let with = dashboard(true);
    let link = format!("https://github.com/{ACME}/blob/HEAD/infra/README.md");
    assert!(
        with.contains(&format!("href=\"{link}\"")),
        "no link to {link}"
    );
    assert!(!dashboard(false).contains("infra/README.md"));
}
