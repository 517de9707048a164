//! Hostile input III, the classes about what fleetform prints (SECURITY.md,
//! "Output"):
//!
//! - workflow commands mid-line and behind invisible characters, in text
//!   fleetform passes on from S3's error messages, GitHub's answers
//!   (doctor's table) and customer values (corpus cases in
//!   `tests/fixtures/hostile/vars/`);
//! - `--json` output that is JSON for any input value, and obeys nothing;
//! - policy tools that exit 0 without a report: a failed gate, never a pass;
//! - credentials never echoed, and never named by a `*_env` key (corpus
//!   cases in `tests/fixtures/hostile/config/`);
//! - one rule for invisible and bidirectional characters in every HTML and
//!   Markdown output.

use crate::common;
use crate::gates::tools as gate_tools;
use crate::support;

use std::io::{Read, Write};
use std::net::TcpListener;

use common::{require_terraform, stderr, stdout, Fixture};
use serde_json::{json, Value};
use support::fake_github::{BranchPolicy, Environment, FakeGitHub};

/// Panics when the runner would obey a command in `out` that fleetform did
/// not write itself (the model in `common::command_lines`).
fn assert_obeys_nothing(out: &impl common::Streams) {
    let all = format!("{}\n{}", stdout(out), stderr(out));
    if let Some(problem) = common::foreign_commands(&all) {
        panic!("{problem}\n{all}");
    }
}

// ---------------------------------------------------------------------------
// Workflow commands mid-line and behind invisible characters.

/// What a hostile (or compromised) S3 endpoint says in its error message.
const S3_MESSAGE: &str =
    "Access Denied \u{200b}##[warning]pwned-by-s3 #\u{2060}#[error]split\n\u{200b}::error::next-line";

/// An S3 endpoint on 127.0.0.1 that answers every request with 403 and
/// [`S3_MESSAGE`] in S3's error document.
fn hostile_s3() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).is_ok_and(|n| n == 1) {
                head.push(byte[0]);
            }
            let body = format!(
                "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>{S3_MESSAGE}</Message></Error>"
            );
            let _ = write!(
                s,
                "HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[test]
fn s3_error_messages_never_become_commands() {
    let fx = Fixture::new();
    fx.records_in_s3("records", &hostile_s3(), "");
    let out = common::Run::from(fx.fleetform())
        .env("GITHUB_ACTIONS", "true")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .args(["audit", "report", "--records"])
        .output();
    common::assert_fails(&out);
    let err = stderr(&out);
    assert!(
        err.contains("pwned-by-s3") && err.contains("AccessDenied"),
        "{err}"
    );
    assert_obeys_nothing(&out);
}

/// A deployment branch policy named by whoever can administer the manager
/// repo's environments, shown in doctor's table (and its `--json`).
#[test]
fn github_answers_in_doctors_table_never_become_commands() {
    const MANAGER: &str = "provider/manager";
    let gh = FakeGitHub::start();
    gh.add_repo(MANAGER);
    gh.set_environment(
        MANAGER,
        "production-apply",
        Environment {
            reviewers: vec!["alice".into()],
            prevent_self_review: true,
            branch_policy: BranchPolicy::Custom(vec![(
                "release \u{200b}##[warning]pwned-by-api\u{202e}".into(),
                "branch".into(),
            )]),
            secrets: Default::default(),
            variables: Default::default(),
            sealed: Default::default(),
        },
    );
    let fx = Fixture::new();
    for json in [false, true] {
        let out = common::Run::from(fx.fleetform())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_API_URL", gh.api_url())
            .env("GITHUB_TOKEN", gh.token())
            .env("FLEETFORM_RETRY_ATTEMPTS", "1")
            .args(["doctor", "--repo", MANAGER])
            .arg_if(json, "--json")
            .output();
        common::assert_code(&out, 5);
        assert_obeys_nothing(&out);
        let text = stdout(&out);
        if json {
            let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
            let found: Vec<&str> = v["checks"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|c| c["found"].as_str())
                .collect();
            assert!(
                found
                    .iter()
                    .any(|f| f.contains("##[warning]pwned-by-api\u{202e}")),
                "the value as GitHub gave it, escaped in JSON: {found:?}"
            );
        } else {
            assert!(
                text.contains("##\\[warning]pwned-by-api\\u{202e}"),
                "{text}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// `--json` is JSON, for any input value.

/// A fixed-seed generator (xorshift64*): the same strings on every run.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A string of what attacks output (command syntax, line breaks,
    /// controls, bidi and invisible characters) and anything else, without
    /// braces (a `{{` would make it a value template).
    fn string(&mut self) -> String {
        const TRICKY: &[char] = &[
            '#',
            '#',
            '[',
            ']',
            ':',
            ':',
            ' ',
            '"',
            '\\',
            '\'',
            '@',
            '<',
            '&',
            '`',
            '\n',
            '\r',
            '\t',
            '\u{1b}',
            '\u{7}',
            '\u{7f}',
            '\u{85}',
            '\u{9b}',
            '\u{ad}',
            '\u{200b}',
            '\u{200e}',
            '\u{2028}',
            '\u{2029}',
            '\u{202e}',
            '\u{2060}',
            '\u{2066}',
            '\u{3000}',
            '\u{fe0f}',
            '\u{feff}',
            '\u{e0041}',
            '\u{1f600}',
            'é',
            '漢',
        ];
        let n = 4 + self.below(28);
        let mut s = String::from("v");
        for _ in 0..n {
            let c = match self.below(3) {
                0 | 1 => TRICKY[self.below(TRICKY.len() as u64) as usize],
                _ => char::from(b'a' + self.below(26) as u8),
            };
            s.push(c);
        }
        s
    }
}

/// `s` as a YAML double-quoted scalar: anything but visible ASCII escaped.
fn yaml_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c == ' ' || c.is_ascii_graphic() => out.push(c),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// A schema that lets customers set any top-level key.
fn allow_any_top_level_key(fx: &Fixture) {
    let p = "manager/schema/variables.schema.json";
    let mut schema: Value = serde_json::from_str(&fx.read(p)).unwrap();
    schema["additionalProperties"] = json!(true);
    fx.write(p, &serde_json::to_string_pretty(&schema).unwrap());
}

/// Runs `args` as under Actions; stdout must be JSON the runner obeys
/// nothing of. Returns it.
fn json_of(fx: &Fixture, args: &[&str]) -> (Option<i32>, Value) {
    let out = common::Run::from(fx.fleetform())
        .env("GITHUB_ACTIONS", "true")
        .args(args)
        .output();
    assert_obeys_nothing(&out);
    let text = stdout(&out);
    let v = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}):\n{text}\n{}", stderr(&out)));
    (out.status.code(), v)
}

/// For arbitrary values (fixed seeds), every `--json` output that quotes
/// them parses, holds them exactly, and carries no command: values in
/// `render` (the var file), keys and values in `validate --json`'s
/// problems, manager layer changes in `impact --json`, and audit records
/// in `audit report --json`.
#[test]
fn every_json_output_parses_for_arbitrary_values() {
    for seed in [1u64, 0x5eed, 0xfeed_beef] {
        let mut g = Gen(seed);
        let pairs: Vec<(String, String)> = (0..6).map(|_| (g.string(), g.string())).collect();
        let layer: Vec<(String, String)> = (0..4).map(|_| (g.string(), g.string())).collect();
        let fx = Fixture::new();
        fx.git(&["init", "-q"]);
        allow_any_top_level_key(&fx);
        fx.git(&["add", "-A"]);
        fx.git(&["commit", "-q", "-m", "base"]);
        render_holds_every_value(&fx, seed, &pairs);
        validate_quotes_a_value(&fx, seed, &pairs[0].1);
        impact_shows_layer_values(&fx, seed, &layer);
        audit_report_holds_every_actor(&fx, seed, &pairs);
    }
}

fn yaml_mapping(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}: {}\n", yaml_quoted(k), yaml_quoted(v)))
        .collect()
}

/// `render` prints the var file: every customer value exactly.
fn render_holds_every_value(fx: &Fixture, seed: u64, pairs: &[(String, String)]) {
    let yaml = yaml_mapping(pairs);
    fx.append("customers/acme/infra/variables.yml", &format!("\n{yaml}"));
    let (code, v) = json_of(fx, &["render", "--customer", "acme", "--env", "staging"]);
    assert_eq!(code, Some(0), "seed {seed}: {v}");
    for (k, val) in pairs {
        assert_eq!(v[k], json!(val), "seed {seed}, key {k:?}");
    }
    let explain = [
        "render",
        "--customer",
        "acme",
        "--env",
        "staging",
        "--explain",
        "--json",
    ];
    json_of(fx, &explain);
}

/// `validate --json` quotes a value that breaks the schema.
fn validate_quotes_a_value(fx: &Fixture, seed: u64, value: &str) {
    let globex = fx.read("customers/globex/infra/variables.yml");
    let hostile: String = globex
        .lines()
        .map(|l| match l.starts_with("project_name:") {
            true => format!("project_name: {}\n", yaml_quoted(value)),
            false => format!("{l}\n"),
        })
        .collect();
    assert_ne!(hostile, globex);
    fx.write("customers/globex/infra/variables.yml", &hostile);
    let (code, v) = json_of(fx, &["validate", "--json"]);
    assert_eq!(code, Some(1), "seed {seed}: {v}");
}

/// `impact --json` shows manager layer values as they change (keys no
/// customer sets, so every staging pair sees them).
fn impact_shows_layer_values(fx: &Fixture, seed: u64, layer: &[(String, String)]) {
    fx.append(
        "manager/values/staging.yml",
        &format!("\n{}", yaml_mapping(layer)),
    );
    fx.git(&["add", "-A"]);
    fx.git(&["commit", "-q", "-m", "head"]);
    let (_, v) = json_of(
        fx,
        &["impact", "--json", "--base", "HEAD~1", "--head", "HEAD"],
    );
    let acme = v["changed"]
        .as_array()
        .and_then(|c| c.iter().find(|p| p["customer"] == "acme"))
        .unwrap_or_else(|| panic!("seed {seed}: acme unchanged: {v:#}"));
    for (k, val) in layer {
        let change = acme["values"]
            .as_array()
            .and_then(|vs| {
                vs.iter()
                    .find(|c| c["key"].as_str().is_some_and(|ck| ck.contains(k.as_str())))
            })
            .unwrap_or_else(|| panic!("seed {seed}: {k:?} in {acme:#}"));
        assert_eq!(change["new"], json!(val), "seed {seed}");
    }
}

/// `audit report --json` holds records with hostile actors and details.
fn audit_report_holds_every_actor(fx: &Fixture, seed: u64, pairs: &[(String, String)]) {
    let log: String = pairs
        .iter()
        .map(|(k, val)| {
            let line = json!({"time": "2026-11-01T00:00:00Z", "action": "apply", "actor": k,
                "customer": "acme", "environment": "staging", "result": "ok", "detail": val});
            format!("{line}\n")
        })
        .collect();
    fx.write("manager/.fleetform/audit.jsonl", &log);
    let (code, v) = json_of(fx, &["audit", "report", "--json"]);
    assert_eq!(code, Some(0), "seed {seed}: {v}");
    let actors: Vec<&str> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["actor"].as_str().unwrap())
        .collect();
    let want: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(actors, want, "seed {seed}");
}

// ---------------------------------------------------------------------------
// Policy tools that exit 0 without a report.

/// A required checkov or conftest that exits 0 after printing something
/// that is not a report of the documented shape fails its gate, saying
/// so; it never passes as "no check applied".
#[test]
fn a_tool_without_a_report_fails_its_gate() {
    require_terraform();
    let fx = Fixture::new();
    let cases = [
        ("checkov", "zero-list", "[0]"),
        ("checkov", "null-list", "[null]"),
        ("checkov", "word-list", "[\"ok\"]"),
        ("checkov", "number-results", "{\"results\": 5}"),
        (
            "checkov",
            "many-failed",
            "{\"results\":{\"failed_checks\":\"many\"}}",
        ),
        ("checkov", "empty-object", "{}"),
        ("conftest", "an-object", "{\"results\": 5}"),
        ("conftest", "empty-list", "[]"),
        ("conftest", "no-count", "[{\"namespace\":\"main\"}]"),
    ];
    let mut tools = String::new();
    for (kind, name, text) in cases {
        gate_tools::fake_tool(&fx, name, &format!("printf '%s' '{text}'\nexit 0"));
        tools.push_str(&format!(
            "      - {{ name: {name}, kind: {kind}, run: tools/{name} }}\n"
        ));
    }
    gate_tools::with_tools(&fx, &tools);
    let gates = gate_tools::plan_gates(&fx);
    for (kind, name, _) in cases {
        let g = gate_tools::gate(&gates, name);
        assert_eq!(g["passed"], false, "{g}");
        let detail = g["detail"].as_str().unwrap();
        assert!(
            detail.starts_with(&format!(
                "exited with 0 and no report that reads: {kind}'s output is not"
            )),
            "{detail}"
        );
    }
}

// ---------------------------------------------------------------------------
// Credentials are never echoed.

/// Credential variables whose value can be malformed (the App's id and
/// key, the tokens, the dispatch key and secret) set to something that
/// holds a token: the error names the variable, never the value.
#[test]
fn credential_errors_name_the_variable_never_the_value() {
    let token = "ghp_EchoMe0123456789abcdefABCDEF012345";
    let gh = FakeGitHub::start();
    gh.add_repo("provider/manager");
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "FLEETFORM_CUSTOMER_APP_ID",
            token.into(),
            vec!["doctor", "--repo", "provider/manager"],
        ),
        (
            "FLEETFORM_MANAGER_APP_ID",
            token.into(),
            vec!["doctor", "--repo", "provider/manager"],
        ),
        (
            "FLEETFORM_APP_ID",
            token.into(),
            vec!["doctor", "--repo", "provider/manager"],
        ),
        (
            "FLEETFORM_MANAGER_APP_PRIVATE_KEY",
            format!("-----BEGIN RSA PRIVATE KEY-----\n{token}\n-----END RSA PRIVATE KEY-----"),
            vec!["doctor", "--repo", "provider/manager"],
        ),
        (
            "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
            format!("-----BEGIN RSA PRIVATE KEY-----\n{token}\n-----END RSA PRIVATE KEY-----"),
            vec!["doctor", "--repo", "provider/manager"],
        ),
        (
            "FLEETFORM_TOKEN",
            format!("{token} x"),
            vec!["doctor", "--repo", "provider/manager"],
        ),
        (
            "FLEETFORM_MANAGER_TOKEN",
            format!("{token}\u{1}"),
            vec!["doctor", "--repo", "provider/manager"],
        ),
        (
            "FLEETFORM_DISPATCH_KEY",
            token.into(),
            vec!["trigger", "--manager-repo", "provider/manager"],
        ),
        (
            "FLEETFORM_DISPATCH_SECRET",
            format!("{token}\n"),
            vec!["customers", "dispatch-key", "acme"],
        ),
    ];
    for (var, value, args) in cases {
        let fx = Fixture::new();
        let mut cmd = common::Run::from(fx.fleetform())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_API_URL", gh.api_url())
            .env("FLEETFORM_RETRY_ATTEMPTS", "1");
        if var.contains("APP_") {
            let (id, key) = match var {
                v if v.starts_with("FLEETFORM_MANAGER_") => (
                    "FLEETFORM_MANAGER_APP_ID",
                    "FLEETFORM_MANAGER_APP_PRIVATE_KEY",
                ),
                v if v.starts_with("FLEETFORM_CUSTOMER_") => (
                    "FLEETFORM_CUSTOMER_APP_ID",
                    "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
                ),
                _ => ("FLEETFORM_APP_ID", "FLEETFORM_APP_PRIVATE_KEY"),
            };
            cmd = cmd
                .env(id, "12345")
                .env(key, "not a key")
                .env("GITHUB_TOKEN", gh.token());
        }
        if var != "FLEETFORM_TOKEN" && args[0] != "doctor" {
            cmd = cmd.env("FLEETFORM_TOKEN", gh.token());
        }

        let out = cmd.env(var, &value).args(&args).output();
        // Masks registered with the runner (which hides the value) aside.
        let all: String = format!("{}\n{}", stdout(&out), stderr(&out))
            .lines()
            .filter(|l| !l.starts_with("::add-mask::"))
            .collect::<Vec<_>>()
            .join("\n");
        common::assert_fails_for(format_args!("{var}: {all}"), &out);
        assert!(all.contains(var), "{var} is named: {all}");
        assert!(!all.contains("EchoMe"), "{var}'s value is printed: {all}");
    }
}

// ---------------------------------------------------------------------------
// One rule for invisible and bidi characters in HTML and Markdown.

/// The same hostile actor and detail (a right-to-left override, an isolate,
/// a zero-width space) read the same in the dashboard and in `audit
/// report` as HTML and Markdown: shown as `\u{..}`, never raw.
#[test]
fn hidden_characters_read_the_same_in_every_report() {
    let fx = Fixture::new();
    let now = std::process::Command::new("date")
        .args(["-u", "-d", "1 minute ago", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    let now = String::from_utf8(now.stdout).unwrap();
    let line = json!({"time": now.trim(), "action": "apply", "actor": "mallory\u{202e}nimda",
        "customer": "acme", "environment": "staging", "result": "failed",
        "detail": "ok\u{2066}evil\u{2069}\u{200b}"});
    fx.write("manager/.fleetform/audit.jsonl", &format!("{line}\n"));
    let out = common::Run::from(fx.fleetform())
        .args(["report", "--html", "dash.html"])
        .output();
    common::assert_ok(&out);
    let mut pages = vec![std::fs::read_to_string(fx.path("manager/dash.html")).unwrap()];
    for format in ["html", "md"] {
        let out = common::Run::from(fx.fleetform())
            .args(["audit", "report", "--format", format])
            .output();
        common::assert_ok(&out);
        pages.push(stdout(&out));
    }
    for page in &pages {
        for raw in ['\u{202e}', '\u{2066}', '\u{2069}', '\u{200b}'] {
            // Markdown's own zero-width space after `@` aside, none is raw.
            assert!(
                !page.replace("@\u{200b}", "@").contains(raw),
                "{raw:?} raw in:\n{page}"
            );
        }
        for shown in ["mallory\\u{202e}nimda", "\\u{2066}evil\\u{2069}\\u{200b}"] {
            let md = shown.replace('\\', "\\\\");
            assert!(
                page.contains(shown) || page.contains(&md),
                "{shown} in:\n{page}"
            );
        }
    }
}
