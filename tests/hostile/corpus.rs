//! Hostile input: the adversarial corpus in `tests/fixtures/hostile/` (one
//! file per attack, each listed with its expected message in the corpus
//! README), customer values that try to reach Terraform's environment or
//! backend, and customer text that tries to break out of PR comments.
//!
//! Every corpus case runs the built binary within 20 s of CPU time (120 s
//! of wall-clock time counts as hung) and 1 GiB of address space, and must end with a non-zero exit (not a panic) and a
//! message naming the problem, having written no state and no plan (the
//! harness is `support/corpus.rs`; `hostile/notices_and_links.rs` runs the `links/` and
//! `products/` cases).

use crate::common;
use crate::corpus;
use crate::support;
use crate::world;

use std::path::PathBuf;

use common::{require_terraform, Fixture, DISPATCH_SECRET};
use corpus::{cases, corpus, judge, report, run_bounded};
use serde_json::{json, Value};
use support::fake_github::FakeGitHub;
use world::{World, ACME};

#[test]
fn every_corpus_file_is_listed_and_there_are_enough() {
    let mut listed = 0;
    for kind in [
        "vars", "payloads", "registry", "config", "links", "products",
    ] {
        let named: Vec<String> = cases(kind).into_iter().map(|(f, _)| f).collect();
        listed += named.len();
        for e in std::fs::read_dir(corpus().join(kind)).unwrap() {
            let f = format!("{kind}/{}", e.unwrap().file_name().to_string_lossy());
            assert!(named.contains(&f), "{f} is not listed in the corpus README");
        }
    }
    assert!(listed >= 40, "only {listed} cases");
}

#[test]
fn hostile_variables_files() {
    let cases = cases("vars");
    assert!(cases.len() >= 30);
    let mut failures = Vec::new();
    for (file, expect) in &cases {
        let fx = Fixture::new();
        let bytes = std::fs::read(corpus().join(file)).unwrap();
        std::fs::write(fx.path("customers/acme/infra/variables.yml"), bytes).unwrap();
        let run = run_bounded(
            &fx.manager(),
            &fx.path("terraformrc"),
            &["plan", "--customer", "acme", "--env", "staging"],
            &[],
        );
        failures.extend(judge(file, expect, &run, &fx));
    }
    report(failures, cases.len());
}

#[test]
fn hostile_registries() {
    let cases = cases("registry");
    let mut failures = Vec::new();
    for (file, expect) in &cases {
        let fx = Fixture::new();
        std::fs::copy(corpus().join(file), fx.path("manager/customers.yml")).unwrap();
        let run = run_bounded(
            &fx.manager(),
            &fx.path("terraformrc"),
            &["plan", "--all"],
            &[],
        );
        if run.code != Some(2) {
            failures.push(format!("{file}: expected exit 2, got {:?}", run.code));
        }
        failures.extend(judge(file, expect, &run, &fx));
    }
    report(failures, cases.len());
}

#[test]
fn hostile_manager_configs() {
    let cases = cases("config");
    let mut failures = Vec::new();
    for (file, expect) in &cases {
        let fx = Fixture::new();
        std::fs::copy(corpus().join(file), fx.path("manager/fleetform.yml")).unwrap();
        let run = run_bounded(
            &fx.manager(),
            &fx.path("terraformrc"),
            &["plan", "--all"],
            &[],
        );
        failures.extend(judge(file, expect, &run, &fx));
    }
    report(failures, cases.len());
}

/// Dispatch payloads, against a fake GitHub: every one is refused with exit
/// 3 before anything is fetched; only a revoked customer's commit gets a
/// failure status, and an unregistered repo gets nothing at all.
#[test]
fn hostile_dispatch_payloads() {
    let cases = cases("payloads");
    assert!(cases.len() >= 30);
    let gh = FakeGitHub::start();
    for repo in [ACME, "initech/tps-reports", "evil-org/evil-infra"] {
        gh.add_repo(repo);
    }
    let mut failures = Vec::new();
    for (file, expect) in &cases {
        let fx = Fixture::new();
        gh.reset_counters();
        let event = signed_case(&fx, file);
        let run = run_bounded(
            &fx.manager(),
            &fx.path("terraformrc"),
            &["plan", "--dispatch", "--env", "staging"],
            &[
                ("GITHUB_EVENT_NAME", "repository_dispatch".into()),
                ("GITHUB_EVENT_PATH", event.display().to_string()),
                ("FLEETFORM_DISPATCH_SECRET", DISPATCH_SECRET.into()),
                ("FLEETFORM_ARTIFACT_KEY", common::ARTIFACT_KEY.into()),
                ("GITHUB_API_URL", gh.api_url()),
                ("FLEETFORM_TOKEN", gh.token().to_string()),
                ("FLEETFORM_RETRY_BASE_MS", "10".into()),
            ],
        );
        if run.code != Some(3) {
            failures.push(format!(
                "{file}: expected exit 3 (refused), got {:?}",
                run.code
            ));
        }
        let requests = gh.requests();
        let allowed = if file.contains("revoked") {
            // The failure status on the revoked customer's commit, nothing else.
            requests.len() == 1
                && requests[0].method == "POST"
                && requests[0]
                    .path
                    .starts_with("/repos/initech/tps-reports/statuses/")
        } else {
            requests.is_empty()
        };
        if !allowed {
            let seen: Vec<String> = requests
                .iter()
                .map(|r| format!("{} {}", r.method, r.path))
                .collect();
            failures.push(format!("{file}: unexpected GitHub requests {seen:?}"));
        }
        failures.extend(judge(file, expect, &run, &fx));
    }
    report(failures, cases.len());
    assert!(
        gh.statuses(
            "evil-org/evil-infra",
            "0123456789abcdef0123456789abcdef01234567"
        )
        .is_empty(),
        "an unregistered repo gets nothing written"
    );
    gh.assert_clean();
}

/// The event file a payload case runs with. A case whose `sig` is the
/// placeholder `"SIGN"` attacks a check behind the signature: it is signed
/// now with the key of the customer it names (a signature cannot be stored,
/// it would age), into a copy. Every other case runs as stored, signature
/// cases with their own static `sig` (made with [`DISPATCH_SECRET`]).
fn signed_case(fx: &Fixture, file: &str) -> PathBuf {
    let path = corpus().join(file);
    let Ok(mut event) = serde_json::from_slice::<Value>(&std::fs::read(&path).unwrap()) else {
        return path;
    };
    if event.pointer("/client_payload/sig") != Some(&json!("SIGN")) {
        return path;
    }
    common::sign_dispatch(&mut event);
    let copy = fx.path("signed-event.json");
    std::fs::write(&copy, serde_json::to_vec(&event).unwrap()).unwrap();
    copy
}

/// A schema that lets customers set any top-level key.
fn allow_any_top_level_key(fx: &Fixture) {
    let p = "manager/schema/variables.schema.json";
    let mut schema: Value = serde_json::from_str(&fx.read(p)).unwrap();
    schema["additionalProperties"] = json!(true);
    fx.write(p, &serde_json::to_string_pretty(&schema).unwrap());
}

/// A `terraform` that records its arguments and environment, then runs the
/// real one.
fn recording_terraform(fx: &Fixture) -> (PathBuf, PathBuf) {
    common::recording_terraform(fx, "echo \"--- $*\"; env")
}

/// Customer keys named like Terraform's environment variables or like a
/// backend become plain entries of the JSON var file, which Terraform
/// ignores when the module does not declare them; nothing reaches
/// Terraform's environment, flags or backend. `TF_VAR_*`, `TF_CLI_ARGS*`,
/// `TF_WORKSPACE` and the GitHub token from the outer environment are
/// removed too.
#[test]
fn customer_values_never_reach_terraforms_environment_or_backend() {
    require_terraform();
    let fx = Fixture::new();
    allow_any_top_level_key(&fx);
    fx.append(
        "customers/acme/infra/variables.yml",
        "\nTF_LOG: TRACE\nTF_CLI_ARGS_plan: -destroy\nTF_DATA_DIR: /tmp/stolen\nbackend:\n  kind: s3\n  bucket: attacker-bucket\nterraform:\n  backend: {s3: {bucket: attacker-bucket}}\n",
    );
    let (tf, log) = recording_terraform(&fx);
    let token = "ghp_SeCrEtToKeN0123456789abcdefABCDEF0123";
    common::Run::from(fx.fleetform())
        .env("FLEETFORM_TERRAFORM", &tf)
        .env("FLEETFORM_TOKEN", token)
        .env("TF_VAR_region", "evil-region-1")
        .env("TF_CLI_ARGS", "-destroy")
        .env("TF_CLI_ARGS_plan", "-destroy")
        .env("TF_WORKSPACE", "attacker")
        .args(["plan", "--customer", "acme", "--env", "staging", "--json"])
        .code(0);
    let dir = fx.manager().join(".fleetform/out/acme/staging");
    let vars: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("variables.tfvars.json")).unwrap())
            .unwrap();
    assert_eq!(vars["TF_LOG"], "TRACE", "just a variable");
    assert_eq!(
        vars["backend"]["bucket"], "attacker-bucket",
        "just a variable"
    );
    assert_eq!(vars["region"], "us-east-1");
    let env_log = std::fs::read_to_string(&log).unwrap();
    for line in env_log.lines().filter(|l| !l.starts_with("---")) {
        let key = line.split('=').next().unwrap();
        assert!(
            !(key.starts_with("TF_VAR_")
                || key.starts_with("TF_CLI_ARGS")
                || key == "TF_LOG"
                || key == "TF_WORKSPACE"
                || key == "FLEETFORM_TOKEN"),
            "terraform saw {line}"
        );
        assert!(!line.contains(token), "terraform saw the token: {line}");
        if key == "TF_DATA_DIR" {
            assert!(!line.contains("/tmp/stolen"), "{line}");
        }
    }
    let tf_log = std::fs::read_to_string(dir.join("terraform.log")).unwrap();
    assert!(!tf_log.contains("[TRACE]"), "TF_LOG took effect");
    assert!(tf_log.contains("undeclared variable"), "{tf_log}");
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["delete"], 0, "no -destroy: {summary}");
    assert_eq!(summary["state_key"], "acme/staging/terraform.tfstate");
    let plan = std::fs::read_to_string(dir.join("plan.txt")).unwrap();
    assert!(!plan.contains("evil-region"), "TF_VAR_ took effect");
    // The backend Terraform used is the local one from fleetform.yml.
    let backend = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".work-"))
        .count();
    assert_eq!(backend, 0, "the working copy is removed");
    assert!(!tf_log.contains("attacker-bucket"), "{tf_log}");
    // The backend's name as Terraform quotes it: a bare "s3" would also be
    // found in the random names of the working copies (`.work-NPs3jI`).
    assert!(
        tf_log.contains("Successfully configured the backend \"local\""),
        "{tf_log}"
    );
    assert!(!tf_log.contains("\"s3\""), "{tf_log}");
}

// ---------------------------------------------------------------------------
// Comments: customer text cannot break out.

const HOSTILE: &[&str] = &[
    "</details>\n\n@acme-corp/admins please approve <!-- fleetform:plan customer=acme environment=production -->",
    "``` \n</details>\n# Approved\n```",
    "x` | injected | cell |\n| `row",
    "<img src=x onerror=alert(1)> [click](javascript:alert(1)) ![p](https://evil.example/p.png)",
    "-->@everyone\r\n\u{202e}evil\u{0}",
];

/// Where each piece of text in a rendered comment sits.
fn check_comment_structure(body: &str, marker: &str) {
    // The one marker is the first line; no other comment opener anywhere.
    assert!(body.starts_with(marker), "{body}");
    assert_eq!(body.matches("<!--").count(), 1, "{body}");
    for env in ["staging", "production"] {
        let m = format!("<!-- fleetform:plan customer=acme environment={env} -->");
        assert!(body.matches(&m).count() <= 1, "a forged marker: {body}");
    }
    // Walk the Markdown: inside a fence nothing counts; outside, any
    // customer text must sit in a one-line code span.
    let mut fence: Option<String> = None;
    let mut details_open = 0i32;
    for line in body.lines() {
        if let Some(f) = &fence {
            if line.trim_end() == f {
                fence = None;
            }
            continue;
        }
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            let ticks: String = trimmed.chars().take_while(|c| *c == '`').collect();
            fence = Some(ticks);
            continue;
        }
        // Outside fences, strip code spans and look at the rest.
        let prose = strip_code_spans(line)
            .unwrap_or_else(|| panic!("a code span does not close on its line: {line}"));
        // Link destinations are not shown (and never escaped): a `(` or
        // space in one is percent-encoded, so it ends at the first `)`.
        let prose = strip_link_targets(&prose);
        details_open += prose.matches("<details>").count() as i32;
        details_open -= prose.matches("</details>").count() as i32;
        assert!(details_open >= 0, "customer text closed <details>: {line}");
        assert!(!prose.contains("@acme"), "a mention outside code: {line}");
        assert!(
            !prose.contains("@everyone"),
            "a mention outside code: {line}"
        );
        assert!(!prose.contains("<img"), "HTML outside code: {line}");
        assert!(
            !prose.contains("javascript:"),
            "a link outside code: {line}"
        );
        assert!(
            !prose.contains('\u{202e}'),
            "a bidi override outside code: {line}"
        );
        if line.starts_with("| `") {
            // A table row: exactly two cells.
            let cells = line.replace("\\|", "").matches('|').count();
            assert_eq!(cells, 3, "a table row grew cells: {line}");
        }
    }
    assert!(fence.is_none(), "a code fence is left open");
    assert_eq!(details_open, 0, "unbalanced <details>");
}

#[test]
fn hostile_addresses_and_plan_text_stay_inside_code() {
    use fleetform::data::summary::{Action, ResourceChange};
    use fleetform::report::comment::{comment_marker, render_comment, CommentContext};
    let resources = HOSTILE
        .iter()
        .map(|h| ResourceChange {
            address: format!("terraform_data.tag[\"{h}\"]"),
            action: Action::Create,
            resource_type: None,
            changed: Vec::new(),
            kinds: Vec::new(),
            tags: None,
        })
        .collect::<Vec<_>>();
    let summary = crate::comment::markdown::acme_summary(
        "staging",
        (resources, Vec::new(), true),
        "0".repeat(64),
        "a".repeat(40),
    );
    let plan_text = HOSTILE.join("\n````````\n");
    let ctx = CommentContext {
        summary: &summary,
        full_plan_at: "https://github.com/p/m/actions/runs/1 @acme/admins </details>",
        run_url: Some("https://github.com/p/m/actions/runs/1"),
        approve: None,
        applies: None,
        changed: &[],
    };
    let marker = comment_marker("acme", "staging");
    let body = render_comment(&ctx, &plan_text).unwrap();
    check_comment_structure(&body, &marker);
    // Truncated comments too.
    let long = format!("{}\n{plan_text}", "~ line\n".repeat(20_000));
    let body = render_comment(&ctx, &long).unwrap();
    assert!(body.len() <= fleetform::report::comment::COMMENT_LIMIT);
    check_comment_structure(&body, &marker);
}

#[test]
fn escaping_helpers() {
    use fleetform::report::comment::comment_marker;
    use fleetform::report::markdown::{md_code, md_code_cell, md_escape};
    for h in HOSTILE {
        let e = md_escape(h);
        assert!(!e.contains('<') && !e.contains('>'), "{e}");
        assert!(!e.contains('\n') && !e.contains('\r'), "{e}");
        assert!(!e.contains("@a") && !e.contains("@e"), "{e}");
        for c in [md_code(h), md_code_cell(h)] {
            assert!(c.starts_with('`') && c.ends_with('`'));
            // One code span, the whole of it.
            assert_eq!(strip_code_spans(&c).as_deref(), Some(""), "{c}");
            assert!(
                !c.contains('\n') && !c.contains('\r') && !c.contains("<!--"),
                "{c}"
            );
        }
        let c = md_code_cell(h);
        assert!(!c.replace("\\|", "").contains('|'), "{c}");
        // Backticks are shown as they are, not replaced.
        if h.contains('`') {
            assert!(md_code(h).trim_matches('`').contains('`'), "{h:?}");
        }
    }
    // Markers hold only safe characters, whatever they are given.
    let m = comment_marker("acme --> @x", "prod\n<b>");
    assert!(
        m.starts_with("<!-- fleetform:plan customer=") && m.ends_with(" -->"),
        "{m}"
    );
    assert_eq!(m.matches("-->").count(), 1, "{m}");
    let inner = &m[4..m.len() - 3];
    assert!(
        inner
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " -_.:=".contains(c)),
        "{m}"
    );
}

/// End to end: `for_each` keys from customer values become resource
/// addresses in the PR comment; they cannot close the collapsible block,
/// mention anyone, or forge another environment's hidden marker.
#[test]
fn hostile_for_each_keys_in_a_real_plan_comment() {
    let mut w = World::new();
    w.fx.append(
        "manager/terraform/main.tf",
        "\nresource \"terraform_data\" \"tag\" {\n  for_each = var.tags\n  input    = each.value\n}\n",
    );
    let mut vars = w.fx.read("customers/acme/infra/variables.yml");
    vars.push_str("  \"</details> @acme-corp/admins <!-- fleetform:plan customer=acme environment=production -->\": \"``` </details> @everyone\"\n");
    vars.push_str("  \"x` | cell |\": \"<img src=x onerror=alert(1)>\"\n");
    let (out, pr) = plan_acme_pr(&mut w, &vars);
    common::assert_code(&out, 0);
    let comments = w.gh.comments(ACME, pr);
    assert_eq!(comments.len(), 1);
    let body = &comments[0].body;
    assert!(
        body.contains("@acme-corp/admins"),
        "the key is shown: {body}"
    );
    check_comment_structure(
        body,
        "<!-- fleetform:plan customer=acme environment=staging -->",
    );
    w.gh.assert_clean();
}

/// Validation messages and JSON pointers quote customer keys: the invalid
/// variables comment keeps them inert too.
#[test]
fn hostile_keys_in_the_invalid_variables_comment() {
    let mut w = World::new();
    let mut vars = w.fx.read("customers/acme/infra/variables.yml");
    vars.push_str("  \"a\\n\\n@acme-corp/admins </details> <!-- fleetform:plan customer=acme environment=production -->\": 5\n");
    vars.push_str("evil_key_</details>_@everyone: 1\n");
    let (out, pr) = plan_acme_pr(&mut w, &vars);
    common::assert_code(&out, 1);
    let comments = w.gh.comments(ACME, pr);
    assert_eq!(comments.len(), 1);
    let body = &comments[0].body;
    assert!(body.contains("**Invalid variables**"), "{body}");
    check_comment_structure(
        body,
        "<!-- fleetform:plan customer=acme environment=staging -->",
    );
    w.gh.assert_clean();
}

/// Pushes `vars` as acme's variables file to a `feature` branch, opens a
/// PR for it and runs the staging plan the trigger's dispatch asks for.
fn plan_acme_pr(w: &mut World, vars: &str) -> (common::Ran, u64) {
    let sha =
        w.gh.commit(ACME, "feature", &[("infra/variables.yml", vars)]);
    let pr = w.gh.open_pr(ACME, "feature", "main", "tags");
    let dispatch = common::signed(&json!({"event_type": "fleetform-plan", "client_payload": {
        "v": 1, "customer_repo": ACME, "sha": sha, "ref": "refs/heads/feature", "pr": pr,
        "event": "pull_request", "trigger_run_url": null, "dispatch_id": "d-1",
        "files": ["infra/variables.yml"]
    }}));
    let (out, _) = w.plan_event(&dispatch, "staging");
    (out, pr)
}

/// The line without its code spans (CommonMark: a run of N backticks opens
/// a span that the next run of exactly N closes), or `None` when a span
/// does not close on the line.
fn strip_code_spans(line: &str) -> Option<String> {
    let chars: Vec<char> = line.chars().collect();
    let run_at = |i: usize| chars[i..].iter().take_while(|c| **c == '`').count();
    let mut prose = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '`' {
            prose.push(chars[i]);
            i += 1;
            continue;
        }
        let n = run_at(i);
        let mut j = i + n;
        loop {
            if j >= chars.len() {
                return None;
            }
            if chars[j] == '`' {
                let m = run_at(j);
                if m == n {
                    break;
                }
                j += m;
            } else {
                j += 1;
            }
        }
        i = j + n;
    }
    Some(prose)
}

/// `[text](target)` → `[text]`: the target, which is never shown, goes.
fn strip_link_targets(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find("](") {
        out.push_str(&rest[..=i]);
        match rest[i + 2..].find(')') {
            Some(j) => {
                let target = &rest[i + 2..i + 2 + j];
                assert!(
                    !target.contains(' ') && !target.contains('<'),
                    "a link target that can break out: {line}"
                );
                rest = &rest[i + 2 + j + 1..];
            }
            None => panic!("a link target does not close on its line: {line}"),
        }
    }
    out.push_str(rest);
    out
}
