//! Where the dashboard may be published, as `fleetform doctor` tells it
//! against the fake GitHub: the manager repo's visibility (`GET /repos`)
//! and its organisation's plan (`GET /orgs`, shown to owners) decide
//! whether a Pages site would stay within who may read the repo (public
//! repo; Enterprise) or not (Pro and Team: public; Free: no Pages for a
//! private repo). fleetform's template publishes to Pages only when asked;
//! an older copy that publishes on every run fails where Pages does not
//! fit.

use crate::common;
use crate::doctor::manager::{configured, doctor, row};

const MANAGER: &str = "provider/manager";
const TEMPLATE: &str = "workflows/manager-dashboard.yml";
const OPT_IN: &str = "if: vars.FLEETFORM_DASHBOARD_PAGES == 'true'";

fn template() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(TEMPLATE);
    std::fs::read_to_string(path).unwrap()
}

/// Doctor's `dashboard publishing` row for a manager repo of the given
/// visibility and plan (`None`: GitHub does not show it), with `workflow`
/// as the checkout's dashboard workflow.
fn publishing(private: bool, plan: Option<&str>, workflow: &str) -> (String, String, String) {
    let gh = configured();
    gh.set_private(MANAGER, private);
    match plan {
        Some(p) => gh.set_account_plan("provider", p, true),
        None => gh.set_account_plan("provider", "team", false),
    }
    let fx = common::Fixture::new();
    fx.write("manager/.github/workflows/dashboard.yml", workflow);
    let r = doctor(&gh, &fx, &[], &[]);
    let (level, result, found) = row(&r.stdout, "dashboard publishing");
    (level.to_string(), result.to_string(), found.to_string())
}

#[test]
fn doctor_says_where_the_dashboard_may_be_published() {
    let opt_in = template();
    assert_eq!(
        opt_in.matches(OPT_IN).count(),
        2,
        "the upload and the publish job"
    );
    let (_, result, found) = publishing(false, Some("team"), &opt_in);
    assert_eq!(result, "pass");
    assert!(found.starts_with("public repository"), "{found}");
    assert!(found.contains("may go to Pages"), "{found}");

    for plan in ["team", "pro"] {
        let (level, result, found) = publishing(true, Some(plan), &opt_in);
        assert_eq!(
            (level.as_str(), result.as_str()),
            ("should", "pass"),
            "{plan}"
        );
        assert!(
            found.contains(&format!("private repository on GitHub plan `{plan}`: a private repository's Pages site is public")),
            "{found}"
        );
        assert!(found.contains("keep the dashboard an artifact"), "{found}");
    }
    let (_, result, found) = publishing(true, Some("enterprise"), &opt_in);
    assert_eq!(result, "pass");
    assert!(
        found.contains("GitHub Enterprise: a Pages site can be private"),
        "{found}"
    );
    let (_, _, found) = publishing(true, Some("free"), &opt_in);
    assert!(
        found.contains("Pages is not available for a private repository"),
        "{found}"
    );
    let (level, result, found) = publishing(true, None, &opt_in);
    assert_eq!(
        (level.as_str(), result.as_str()),
        ("should", "WARN"),
        "{found}"
    );
    assert!(found.contains("did not show the plan"), "{found}");
}

/// A copy of the template from before (Pages on every run) fails on Team
/// and Pro, naming the file; on Enterprise or a public repo it passes.
#[test]
fn a_dashboard_workflow_that_always_publishes_fails_where_its_site_is_public() {
    let always = template()
        .replace(&format!("      - {OPT_IN}\n        uses:"), "      - uses:")
        .replace(&format!("    {OPT_IN}\n"), "");
    assert!(!always.contains(OPT_IN), "{always}");
    let (level, result, found) = publishing(true, Some("team"), &always);
    assert_eq!(
        (level.as_str(), result.as_str()),
        ("must", "FAIL"),
        "{found}"
    );
    assert!(
        found.contains(".github/workflows/dashboard.yml publishes to Pages on every run"),
        "{found}"
    );
    assert_eq!(publishing(true, Some("enterprise"), &always).1, "pass");
    assert_eq!(publishing(false, Some("pro"), &always).1, "pass");
}
