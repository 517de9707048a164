//! The form in a browser (`fleetform form --html`), driven in headless
//! Chromium: the page's own script (allowed by its hash, nothing loaded)
//! shows the YAML the answers make, and its link opens the same answers in
//! the customer's issue form; an issue written from that link, run through
//! the form workflow, changes the file to the same values. It reads on a
//! phone.

use serde_json::{json, Value};

use super::issue_body;
use super::request::{Repo, REPO};
use crate::common::{Fixture, Run};
use crate::views::dashboard::Driver;

/// The example manager's form as one page, linked to acme's repository.
fn page() -> (Fixture, std::path::PathBuf) {
    let fx = Fixture::new();
    let page = fx.path("form.html");
    Run::from(crate::common::fleetform_bin())
        .arg("-C")
        .arg(fx.manager())
        .args(["form", "--repo", REPO, "--html"])
        .arg(&page)
        .env("GITHUB_SERVER_URL", "https://github.com")
        .ok();
    (fx, page)
}

/// Fills the field `id` with `value` (a select: the option with that
/// text) as a person would, then reads the page's YAML and link.
const FILL: &str = "
  const fill = (id, value) => {
    const el = document.getElementById(id);
    if (el.tagName === 'SELECT') {
      el.selectedIndex = [...el.options].findIndex(o => o.text === value);
    } else {
      el.value = value;
    }
    el.dispatchEvent(new Event('input', {bubbles: true}));
  };";

fn filled(d: &Driver, answers: &[(&str, &str)]) -> Value {
    let calls: String = answers
        .iter()
        .map(|(id, v)| format!("fill({}, {});", json!(id), json!(v)))
        .collect();
    d.eval(&format!(
        "{FILL} {calls}
         const a = document.getElementById('open');
         return {{yaml: document.getElementById('yaml').textContent,
                  href: a.href, hidden: a.hidden,
                  page: document.documentElement.scrollWidth, inner: window.innerWidth}};"
    ))
}

#[test]
fn the_html_form_makes_the_yaml_the_issue_form_makes() {
    let (_fx, page) = page();
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        !html.contains(" src=") && !html.contains("<link"),
        "nothing is loaded from elsewhere"
    );
    let d = Driver::start();
    d.open(&format!("file://{}", page.display()), 1280, 900);
    let empty = filled(&d, &[]);
    assert_eq!(empty["hidden"], true, "no link before an answer: {empty}");

    let hostile = "acme-web";
    let got = filled(
        &d,
        &[
            ("project_name", hostile),
            ("cloud_provider", "gcp"),
            ("environments--production--min_instances", "3"),
            ("tags", "team: web\ncost: \"12\""),
        ],
    );
    assert_eq!(got["hidden"], false, "{got}");
    let shown: Value = yaml_serde::from_str(got["yaml"].as_str().unwrap())
        .unwrap_or_else(|e| panic!("the page's YAML: {e}\n{got}"));
    let want = json!({
        "project_name": "acme-web",
        "cloud_provider": "gcp",
        "environments": {"production": {"min_instances": 3}},
        "tags": {"team": "web", "cost": "12"},
    });
    assert_eq!(shown, want, "{got}");

    // The link: the repository's issue form with the same answers.
    let href = url::Url::parse(got["href"].as_str().unwrap()).unwrap();
    assert_eq!(href.host_str(), Some("github.com"));
    assert_eq!(href.path(), format!("/{REPO}/issues/new"));
    let params: Vec<(String, String)> = href.query_pairs().into_owned().collect();
    assert_eq!(params[0], ("template".into(), "infra-change.yml".into()));

    // An issue written from that link becomes a pull request whose file
    // holds the same values.
    let mut repo = Repo::new(true);
    let form = repo.form();
    let by_label: Vec<(String, String)> = params[1..]
        .iter()
        .map(|(id, v)| {
            let label = id.replace("--", ".");
            let answer = if id == "tags" {
                format!("```yaml\n{v}\n```")
            } else {
                v.clone()
            };
            (label, answer)
        })
        .collect();
    let answers: Vec<(&str, &str)> = by_label
        .iter()
        .map(|(l, a)| (l.as_str(), a.as_str()))
        .collect();
    let (n, run) = repo.ask(&issue_body(&form, &answers));
    run.assert_succeeded(&["request"]);
    let file = repo
        .gh
        .file_at(REPO, &format!("fleetform/issue-{n}"), "infra/variables.yml")
        .unwrap();
    let file: Value = yaml_serde::from_str(&file).unwrap();
    for (key, value) in want.as_object().unwrap() {
        match key.as_str() {
            "environments" => assert_eq!(
                file["environments"]["production"]["min_instances"], 3,
                "{file}"
            ),
            _ => assert_eq!(&file[key], value, "{key}: {file}"),
        }
    }
}

#[test]
fn text_that_reads_as_yaml_or_html_stays_text_and_the_form_reads_on_a_phone() {
    let (_fx, page) = page();
    let d = Driver::start();
    d.open(&format!("file://{}", page.display()), 390, 844);
    for hostile in [
        "x: y # not a comment",
        "</script><script>alert(1)</script>",
        "\"quoted\" and 'single'",
        "- item",
        "yes",
        "::error::not a command",
    ] {
        let got = filled(&d, &[("project_name", hostile)]);
        let shown: Value = yaml_serde::from_str(got["yaml"].as_str().unwrap()).unwrap();
        assert_eq!(shown["project_name"], hostile, "{got}");
        assert!(
            got["page"].as_i64().unwrap() <= got["inner"].as_i64().unwrap(),
            "no sideways page on a phone: {got}"
        );
    }
}
