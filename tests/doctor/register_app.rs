//! `doctor --register-app` (#83 point 2): GitHub's App manifest flow from
//! a one-shot page on 127.0.0.1, against the fake's web pages of the flow
//! (the manifest checked as GitHub checks it, a redirect with `code` and
//! `state`) and `POST /app-manifests/{code}/conversions`. The test is the
//! browser: it opens fleetform's page, posts its form to GitHub and
//! follows the redirect back. The App's key lands sealed in exactly the
//! environments whose jobs read it (PyNaCl opens it), its id in the
//! repository variable, the relay's share in an owner-only file; the key
//! is never printed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::common;
use crate::doctor::fix_secrets::{files_holding, key_pair, open, pynacl};
use crate::doctor::manager::{configured, register_repo_ids};
use crate::support::readme_budgets::Budgets;
use crate::world::MANAGER;

/// One HTTP/1.1 request: (status, the `location` header, body).
pub(crate) fn http(url: &str, method: &str, body: &str) -> (u16, Option<String>, String) {
    let rest = url.strip_prefix("http://").expect("http");
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let location = head.lines().find_map(|l| {
        l.to_ascii_lowercase()
            .starts_with("location:")
            .then(|| l[9..].trim().to_string())
    });
    (status, location, body.to_string())
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// `attr="…"` in `html`, unescaped.
pub(crate) fn attr(html: &str, before: &str, name: &str) -> String {
    let from = &html[html
        .find(before)
        .unwrap_or_else(|| panic!("{before} in {html}"))..];
    let at = from.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
    let end = from[at..].find('"').unwrap();
    unescape(&from[at..at + end])
}

#[test]
fn the_customer_app_is_registered_in_two_clicks_and_its_key_stored_sealed() {
    let python = pynacl();
    let gh = configured();
    let fx = common::Fixture::new();
    register_repo_ids(&fx, &gh, &[]);
    let (secret_key, public_key) = key_pair(&python);
    gh.set_public_key(MANAGER, "568250167242549743", &public_key);
    let relay_file = fx.root().join("relay.json");
    let mut child = common::Run::from(fx.fleetform())
        .env("GITHUB_API_URL", gh.api_url())
        .env("FLEETFORM_MANAGER_TOKEN", gh.token())
        .env("FLEETFORM_RETRY_ATTEMPTS", "1")
        .args([
            "doctor",
            "--repo",
            MANAGER,
            "--register-app",
            "customer",
            "--org",
            "provider",
        ])
        .args([
            "--hook-url",
            "https://relay.example/webhook",
            "--wait-minutes",
            "1",
        ])
        .arg("--relay-secrets")
        .arg(&relay_file)
        .spawn();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut said = String::new();
    let page_url = loop {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "ended before the page:\n{said}"
        );
        said.push_str(&line);
        if let Some(rest) = line.strip_prefix("Open ") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    // What the App asks and where its credentials go, said before.
    assert!(
        said.contains("The customer App asks contents: read, issues: read, metadata: read, pull_requests: write, statuses: write, deployments: write, and the events push, pull_request, issue_comment (to https://relay.example/webhook); it is public"),
        "{said}"
    );
    assert!(said.contains("its private key, sealed, in fleetform-authorise, staging-plan, staging-apply, production-plan, production-apply"), "{said}");

    // Click 1: fleetform's page, whose form posts the manifest to GitHub.
    let (status, _, page) = http(&page_url, "GET", "");
    assert_eq!(status, 200, "{page}");
    let action = attr(&page, "<form", "action");
    let manifest = attr(&page, "name=\"manifest\"", "value");
    assert!(
        action.starts_with(&format!(
            "{}/organizations/provider/settings/apps/new?state=",
            gh.api_url()
        )),
        "{action}"
    );
    let m: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(m["redirect_url"], format!("{}callback", page_url));
    assert_eq!(m["hook_attributes"]["url"], "https://relay.example/webhook");
    // Click 2: GitHub creates the App and sends the browser back.
    let form: String = url_form(&[("manifest", &manifest)]);
    let (status, location, _) = http(&action, "POST", &form);
    assert_eq!(status, 302);
    let back = location.unwrap();
    assert!(
        back.starts_with(&format!("{page_url}callback?code=")),
        "{back}"
    );
    // A callback of another registration is refused; the wait goes on.
    let forged = back.replace("state=", "state=x");
    assert_eq!(http(&forged, "GET", "").0, 400);
    let (status, _, body) = http(&back, "GET", "");
    assert_eq!(status, 200, "{body}");

    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(0), "{said}{rest}\n{err}");
    said.push_str(&rest);
    assert!(said.contains("done: the customer App `provider-fleetform-customer` (id 7000) is registered and stored."), "{said}");

    // Its id where the templates read it; its key sealed in exactly the
    // environments whose jobs read it, opened by PyNaCl.
    assert_eq!(
        gh.repo_variable(MANAGER, "FLEETFORM_CUSTOMER_APP_ID")
            .as_deref(),
        Some("7000")
    );
    let pem = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/app/test-app.pem"),
    )
    .unwrap();
    for env in [
        "fleetform-authorise",
        "staging-plan",
        "staging-apply",
        "production-plan",
        "production-apply",
    ] {
        let sealed = gh.sealed_environment_secrets(MANAGER, env);
        let (_, value) = sealed
            .get("FLEETFORM_CUSTOMER_APP_PRIVATE_KEY")
            .unwrap_or_else(|| panic!("{env}"));
        assert_eq!(
            open(&python, &secret_key, value).trim(),
            pem.trim(),
            "{env}"
        );
    }
    // The relay's share: a new file only its owner reads.
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(&relay_file).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let share: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&relay_file).unwrap()).unwrap();
    assert_eq!(share["FLEETFORM_CUSTOMER_APP_ID"], "7000");
    assert_eq!(
        share["FLEETFORM_WEBHOOK_SECRET"],
        "fake-webhook-secret-7000"
    );
    assert_eq!(
        share["FLEETFORM_CUSTOMER_APP_PRIVATE_KEY"]
            .as_str()
            .map(str::trim),
        Some(pem.trim())
    );
    // Never printed; kept on disk only in that file.
    let key_line = pem.lines().nth(1).unwrap();
    assert!(!said.contains(key_line) && !err.contains(key_line));
    let holding = files_holding(fx.root(), key_line);
    assert_eq!(holding, [relay_file.display().to_string()]);
    let audit = fx.read("manager/.fleetform/audit.jsonl");
    assert!(audit.contains("\"doctor-register-app\""), "{audit}");
    // The book's budget: the repository twice, one page of environments
    // and each one's custom policies (all five), the App, one page of
    // variables, the id's write, two requests per environment keyed.
    let book = Budgets::from_book();
    let api: Vec<String> = gh
        .requests()
        .iter()
        .filter(|r| !r.path.ends_with("/settings/apps/new"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        api.len(),
        book.lead(ROW)
            + book.n(ROW, " per 100 environments")
            + 5 * book.n(ROW, " per environment with custom branch policies")
            + book.n(ROW, " request for the App")
            + book.n(ROW, " per 30 repository variables")
            + book.n(ROW, " write for the id's variable")
            + 5 * book.n(ROW, " requests per environment its key is stored in"),
        "{api:#?}"
    );
    gh.assert_clean();
}

/// The book's row for `doctor --register-app` ("Request budgets").
const ROW: &str = "`doctor --register-app`";

pub(crate) fn url_form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// An environment that takes the App's key does not exist yet: refused
/// before any page is served or App made (its key could not be stored),
/// saying how to make them.
#[test]
fn an_app_whose_key_could_not_be_stored_is_not_registered() {
    let gh = configured();
    let fx = common::Fixture::new();
    register_repo_ids(&fx, &gh, &[]);
    gh.delete_environment(MANAGER, "production-plan");
    let r = common::Run::from(fx.fleetform())
        .env("GITHUB_API_URL", gh.api_url())
        .env("FLEETFORM_MANAGER_TOKEN", gh.token())
        .args(["doctor", "--repo", MANAGER, "--register-app", "customer"])
        .args(["--hook-url", "https://relay.example/webhook"])
        .output();
    assert_eq!(r.code, Some(3), "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("the environments that take the customer App's key do not all exist yet (production-plan): create them first with `fleetform doctor --fix --yes`"),
        "{}",
        r.stderr
    );
    assert!(!r.stdout.contains("Open http"), "{}", r.stdout);
    assert!(gh.requests().iter().all(|r| r.method == "GET"));

    // The manager App's key is read by no environment here (no poll
    // workflow): without a file for the relay it would be kept nowhere.
    let r = common::Run::from(fx.fleetform())
        .env("GITHUB_API_URL", gh.api_url())
        .env("FLEETFORM_MANAGER_TOKEN", gh.token())
        .args(["doctor", "--repo", MANAGER, "--register-app", "manager"])
        .output();
    assert_eq!(r.code, Some(2), "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("--relay-secrets FILE"), "{}", r.stderr);
    assert!(gh.requests().iter().all(|r| r.method == "GET"));
}

/// The browser through the whole flow: fleetform's page at `page_url`,
/// its form posted to GitHub, GitHub's redirect followed back; the
/// callback's answer.
pub(crate) fn click_through(page_url: &str) -> (u16, String) {
    let (status, _, page) = http(page_url, "GET", "");
    assert_eq!(status, 200, "{page}");
    let action = attr(&page, "<form", "action");
    let manifest = attr(&page, "name=\"manifest\"", "value");
    let (status, location, body) = http(&action, "POST", &url_form(&[("manifest", &manifest)]));
    assert_eq!(status, 302, "{body}");
    let (status, _, body) = http(&location.unwrap(), "GET", "");
    (status, body)
}
