//! The book's examples cannot drift (issue #54, point 2): every `console`
//! block of the book (and of the README) is run here, each command through
//! the test builder (`common::Run`, with the scrubbed environment of
//! `common::fleetform_std`), and its stdout compared with the lines under
//! it.
//!
//! The format, trycmd's: `$ COMMAND` then what it prints on stdout; a line
//! `...` stands for any number of lines, `[..]` for any text within a line;
//! a last line `[exit: N]` says the command exits N (else 0). `fleetform`
//! is the built binary (`cargo run --` too); `cd DIR` and `export K=V` act
//! on the rest of the page; any other command runs in bash.
//!
//! Where a page's examples run is said by a comment before its first block:
//! `<!-- example: examples -->` (a copy of the repo's `examples/` in an
//! empty folder, as in a fresh clone), `<!-- example: empty -->` (an empty
//! folder) or `<!-- example: test-cloud -->` (the examples with the example
//! manager's root module on the test cloud, `examples/fakecloud/main.tf`,
//! and its provider installed), or `<!-- example: rehearsal -->` (a page
//! `tests/rehearsal/book_page.rs` reads and runs against the tests'
//! GitHub, in its place). Blocks of one page share their folder, in
//! order. A `console` block with no such comment on its page fails, and so
//! does a plain block that reads as a runnable command (`fleetform …` with
//! no placeholder): it must be a `console` block.

use std::path::{Path, PathBuf};

use crate::common;
use crate::fakecloud;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The book's pages and the README.
fn documents() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "md") {
                out.push(p);
            }
        }
    }
    let mut out = vec![root().join("README.md")];
    walk(&root().join("docs/src"), &mut out);
    out.sort();
    out
}

#[derive(Debug)]
struct Block {
    /// The line the block starts on (1-based).
    line: usize,
    /// `console`, or the fence's info string.
    info: String,
    /// The context a comment before it names, if any.
    context: Option<String>,
    lines: Vec<String>,
}

fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut context = None;
    let mut open: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        if let Some(b) = open.as_mut() {
            if line.trim_start() == "```" {
                out.push(open.take().unwrap());
            } else {
                b.lines.push(line.to_string());
            }
            continue;
        }
        if let Some(c) = line
            .trim()
            .strip_prefix("<!-- example: ")
            .and_then(|r| r.strip_suffix(" -->"))
        {
            context = Some(c.to_string());
        } else if let Some(info) = line.trim_start().strip_prefix("```") {
            open = Some(Block {
                line: i + 1,
                info: info.trim().to_string(),
                context: context.take(),
                lines: Vec::new(),
            });
        }
    }
    out
}

/// A `console` block's commands, each with its expected output and exit
/// code.
fn commands(b: &Block) -> Vec<(String, Vec<String>, i32)> {
    let mut out: Vec<(String, Vec<String>, i32)> = Vec::new();
    for line in &b.lines {
        if let Some(cmd) = line.strip_prefix("$ ") {
            out.push((cmd.to_string(), Vec::new(), 0));
        } else {
            let last = out
                .last_mut()
                .unwrap_or_else(|| panic!("line {}: output before any `$ ` command", b.line));
            match line
                .strip_prefix("[exit: ")
                .and_then(|r| r.strip_suffix(']'))
            {
                Some(code) => last.2 = code.parse().unwrap(),
                None => last.1.push(line.clone()),
            }
        }
    }
    out
}

/// Whether `actual` matches `expected`, with `...` lines and `[..]`.
fn matches(expected: &[String], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((e, rest)) if e == "..." => {
            (0..=actual.len()).any(|skip| matches(rest, &actual[skip..]))
        }
        Some((e, rest)) => actual
            .split_first()
            .is_some_and(|(a, more)| line_matches(e, a) && matches(rest, more)),
    }
}

fn line_matches(expected: &str, actual: &str) -> bool {
    let parts: Vec<&str> = expected.split("[..]").collect();
    if parts.len() == 1 {
        return expected == actual;
    }
    let mut rest = actual;
    for (i, p) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(p) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(p);
        } else {
            let Some(at) = rest.find(p) else {
                return false;
            };
            rest = &rest[at + p.len()..];
        }
    }
    true
}

/// Where a page's examples run.
struct Sandbox {
    _tmp: tempfile::TempDir,
    cwd: PathBuf,
    bin: PathBuf,
    env: Vec<(String, String)>,
}

impl Sandbox {
    fn new(context: &str) -> Sandbox {
        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp.path().join(".bin");
        std::fs::create_dir_all(&bin).unwrap();
        // Not spawned here: linked onto PATH for the book's lines (`common::shell`).
        std::os::unix::fs::symlink(
            assert_cmd::cargo::cargo_bin("fleetform"),
            bin.join("fleetform"),
        )
        .unwrap();
        let work = tmp.path().join("work");
        std::fs::create_dir_all(&work).unwrap();
        let terraformrc = tmp.path().join("terraformrc");
        std::fs::write(&terraformrc, "").unwrap();
        let mut env = vec![(
            "TF_CLI_CONFIG_FILE".to_string(),
            terraformrc.display().to_string(),
        )];
        match context {
            "empty" => {}
            "examples" | "test-cloud" => {
                common::copy_tree(&root().join("examples"), &work.join("examples"));
                if context == "test-cloud" {
                    common::require_terraform();
                    let installed = fakecloud::install(&tmp.path().join("fakecloud"));
                    std::fs::copy(
                        root().join("examples/fakecloud/main.tf"),
                        work.join("examples/manager/terraform/main.tf"),
                    )
                    .unwrap();
                    env = vec![
                        (
                            "TF_CLI_CONFIG_FILE".into(),
                            installed.cli_config.display().to_string(),
                        ),
                        (
                            "FAKECLOUD_FILE".into(),
                            tmp.path().join("cloud.json").display().to_string(),
                        ),
                    ];
                }
            }
            other => panic!("unknown example context `{other}` (examples, empty, test-cloud)"),
        }
        Sandbox {
            _tmp: tmp,
            cwd: work,
            bin,
            env,
        }
    }

    /// Runs one command line; stdout as it came.
    fn run(&mut self, at: &str, cmd: &str, code: i32) -> String {
        if let Some(dir) = cmd.strip_prefix("cd ") {
            self.cwd = self.cwd.join(dir.trim());
            assert!(self.cwd.is_dir(), "{at}: cd {dir}: no such folder");
            return String::new();
        }
        if let Some((k, v)) = cmd.strip_prefix("export ").and_then(|r| r.split_once('=')) {
            self.env
                .push((k.to_string(), v.trim_matches('"').to_string()));
            return String::new();
        }
        let line = cmd.replacen("cargo run -- ", "fleetform ", 1);
        let ran = common::shell(&self.bin, &line)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.cwd)
            .code(code);
        common::stdout(&ran)
    }
}

/// Runs every console block of every page, in order.
#[test]
fn every_console_example_in_the_book_runs_as_shown() {
    let mut ran = Vec::new();
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        let rel = doc.strip_prefix(root()).unwrap().display().to_string();
        let mut sandbox: Option<Sandbox> = None;
        let mut rehearsed = false;
        for b in blocks(&text) {
            if b.info != "console" {
                continue;
            }
            // A page the rehearsal follows against the tests' GitHub runs
            // there (it reads the page: the rehearsal names it).
            if b.context.as_deref() == Some("rehearsal") {
                let rehearsal =
                    std::fs::read_to_string(root().join("tests/rehearsal/book_page.rs")).unwrap();
                assert!(rehearsal.contains(&format!("\"{rel}\"")), "{rel}: `example: rehearsal`, but tests/rehearsal/book_page.rs does not read it");
                rehearsed = true;
            }
            if rehearsed {
                continue;
            }
            if let Some(c) = &b.context {
                sandbox = Some(Sandbox::new(c));
            }
            let s = sandbox.as_mut().unwrap_or_else(|| {
                panic!("{rel}:{}: a console block with no `<!-- example: CONTEXT -->` before it on its page", b.line)
            });
            for (cmd, expected, code) in commands(&b) {
                let at = format!("{rel}:{}", b.line);
                let stdout = s.run(&at, &cmd, code);
                let actual: Vec<&str> = stdout.lines().collect();
                assert!(
                    matches(&expected, &actual),
                    "{at}: `$ {cmd}` printed\n{stdout}\nwhere the book shows\n{}",
                    expected.join("\n")
                );
                ran.push(format!("{rel}: {cmd}"));
            }
        }
    }
    // The pages the issue names have runnable examples.
    for (page, command) in [
        ("README.md", "cargo run -- -C examples/manager plan --all"),
        (
            "docs/src/provider/quick-start.md",
            "fleetform init --dir infra-manager",
        ),
        ("docs/src/provider/onboarding.md", "customers add"),
        (
            "docs/src/operations/daily.md",
            "render --customer acme --env staging",
        ),
        ("docs/src/operations/local.md", "state rm"),
        (
            "docs/src/operations/customers/offboarding.md",
            "customers offboard",
        ),
    ] {
        assert!(
            ran.iter()
                .any(|r| r.starts_with(page) && r.contains(command)),
            "{page}: no example running `{command}` ran: {ran:#?}"
        );
    }
}

/// A plain block whose every line is a `fleetform` command with no
/// placeholder (`SLUG`, `ENV`, `[--flag]`, `...`) could run: it must be a
/// `console` block, so it does.
#[test]
fn no_runnable_command_hides_in_a_plain_block() {
    let placeholder = regex::Regex::new(r"[A-Z]{2,}|\[|\.\.\.|<|…|\|").unwrap();
    let mut found = Vec::new();
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        for b in blocks(&text) {
            if b.info == "console" || !matches!(b.info.as_str(), "" | "sh" | "bash" | "shell") {
                continue;
            }
            let lines: Vec<&String> = b
                .lines
                .iter()
                .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                .collect();
            let runnable = !lines.is_empty()
                && lines.iter().all(|l| {
                    let l = l.split(" #").next().unwrap();
                    (l.starts_with("fleetform ") || l.starts_with("cargo run -- "))
                        && !placeholder.is_match(l)
                });
            if runnable {
                found.push(format!("{}:{}", doc.display(), b.line));
            }
        }
    }
    assert!(
        found.is_empty(),
        "runnable commands outside a console block: {found:#?}"
    );
}

/// The test cloud tried by hand (docs/src/contributing/fakecloud.md): the
/// page's two shell blocks run as written, one after the other, with a
/// scratch folder for `/tmp/fc` and the provider the test support built
/// (`tests/support/fakecloud.rs`) for what `cargo build -p fakecloud`
/// makes; the cloud file then holds what the blocks applied.
#[test]
fn the_test_cloud_tried_by_hand_runs_as_written() {
    common::require_terraform();
    let page = std::fs::read_to_string(root().join("docs/src/contributing/fakecloud.md")).unwrap();
    let shell: Vec<Block> = blocks(&page)
        .into_iter()
        .filter(|b| b.info.is_empty())
        .collect();
    assert_eq!(shell.len(), 2, "the page's two blocks: {shell:#?}");
    assert_eq!(shell[0].lines[0], "cargo build -p fakecloud");
    let provider = fakecloud::provider_binary();
    let tmp = tempfile::tempdir().unwrap();
    let fc = tmp.path().join("fc");
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    // Not spawned here: linked onto PATH for the page's lines (`common::shell`).
    std::os::unix::fs::symlink(
        assert_cmd::cargo::cargo_bin("fleetform"),
        bin.join("fleetform"),
    )
    .unwrap();
    let run = |b: &Block| {
        let script = b.lines[usize::from(b.line == shell[0].line)..]
            .join("\n")
            .replace(
                "target/debug/terraform-provider-fakecloud",
                &provider.display().to_string(),
            )
            .replace("/tmp/fc", &fc.display().to_string());
        common::shell(&bin, &script)
            .env("TF_IN_AUTOMATION", "1")
            .current_dir(root())
            .code(0)
    };
    let first = common::stdout(&run(&shell[0]));
    assert!(
        first.contains("\"fakecloud_instance/") && first.contains("web-1"),
        "{first}"
    );
    run(&shell[1]);
    let fleet = fakecloud::objects(&fc.join("fleet.json"));
    assert!(
        fleet.keys().any(|k| k.starts_with("fakecloud_")),
        "the example fleet's apply: {fleet:?}"
    );
}

#[test]
fn the_matcher_matches_as_documented() {
    let e = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(matches(&e(&["a", "...", "d"]), &["a", "b", "c", "d"]));
    assert!(matches(&e(&["a", "...", "d"]), &["a", "d"]));
    assert!(!matches(&e(&["a", "d"]), &["a", "b", "d"]));
    assert!(matches(
        &e(&["digest [..] of [..]"]),
        &["digest 3f2a of acme"]
    ));
    assert!(!matches(
        &e(&["digest [..] of x"]),
        &["digest 3f2a of acme"]
    ));
    let b = &blocks("<!-- example: empty -->\n```console\n$ true\nout\n[exit: 3]\n```\n")[0];
    assert_eq!(b.context.as_deref(), Some("empty"));
    assert_eq!(
        commands(b),
        vec![("true".to_string(), vec!["out".to_string()], 3)]
    );
}
