//! A newcomer's first hour (issue #38), continued: docs and help (point
//! 11). The CLI reference and `--help` cover every command and flag, what
//! `init` writes points at sections that exist, fleetform.yml is found from
//! a subfolder, `customers add --path` checks its folder, and completions
//! offer the fleet's slugs and environments.

use crate::cli::init::walk;
use crate::common;
use crate::newcomer::first_hour::Desk;

use std::path::Path;

use common::{stderr, stdout};

/// The book's CLI reference (docs/src/reference/cli.md): the fenced block
/// and the text after it.
fn cli_reference() -> String {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/src/reference/cli.md"),
    )
    .unwrap();
    assert!(text.starts_with("# CLI reference\n"), "{text}");
    text
}

/// Every argument of every (sub)command, with its command path.
fn arguments() -> Vec<(String, clap::Arg)> {
    fn walk(c: &clap::Command, path: &str, out: &mut Vec<(String, clap::Arg)>) {
        for a in c.get_arguments() {
            if !matches!(a.get_id().as_str(), "help" | "version") {
                out.push((path.to_string(), a.clone()));
            }
        }
        for s in c.get_subcommands() {
            walk(s, &format!("{path} {}", s.get_name()), out);
        }
    }
    let mut out = Vec::new();
    walk(
        &<fleetform::commands::Cli as clap::CommandFactory>::command(),
        "fleetform",
        &mut out,
    );
    out
}

/// Point 11: every command is in the README's CLI reference (`authorise`
/// and `conclude` were not), every flag and argument has help text, and
/// the README says which flags have no `FLEETFORM_*` variable instead of
/// claiming all do.
#[test]
fn the_cli_reference_and_help_cover_every_command_and_flag() {
    let reference = cli_reference();
    let cli = <fleetform::commands::Cli as clap::CommandFactory>::command();
    for sub in cli.get_subcommands().map(|s| s.get_name().to_string()) {
        if sub == "help" {
            continue;
        }
        assert!(
            reference.contains(&format!("\n  {sub} "))
                || reference.contains(&format!("\n  {sub}\n")),
            "the CLI reference misses `{sub}`"
        );
    }
    let args = arguments();
    let silent: Vec<String> = args
        .iter()
        .filter(|(_, a)| a.get_help().is_none())
        .map(|(p, a)| format!("{p} {}", a.get_id()))
        .collect();
    assert!(silent.is_empty(), "no help text: {silent:?}");

    assert!(!reference.contains("Every flag can also be given"));
    let env_paragraph = &reference[reference.find("The flags a workflow passes").unwrap()..];
    let env_paragraph = &env_paragraph[..env_paragraph.find("\n\n").unwrap()];
    for (path, a) in args
        .iter()
        .filter(|(_, a)| !a.is_positional() && !a.is_hide_set())
    {
        let Some(long) = a.get_long() else { continue };
        match a.get_env() {
            None => assert!(
                env_paragraph.contains(&format!("--{long}`")),
                "`{path} --{long}` has no FLEETFORM_* variable and the book's CLI reference does not say so"
            ),
            Some(var) => assert!(var.to_string_lossy().starts_with("FLEETFORM_")),
        }
    }
    // Each variable the paragraph names exists.
    let vars: Vec<String> = args
        .iter()
        .filter_map(|(_, a)| a.get_env().map(|v| v.to_string_lossy().into_owned()))
        .collect();
    for word in env_paragraph
        .split('`')
        .filter(|w| w.starts_with("FLEETFORM_") && *w != "FLEETFORM_*")
    {
        assert!(
            word == "FLEETFORM_LOG" || vars.iter().any(|v| v == word),
            "{word} is no flag's variable"
        );
    }
}

/// Point 11: the places `init` points a reader at exist: every `README,
/// "…"` and `SECURITY.md, "…"` in what it writes and prints (and in the
/// workflow templates) names a heading of that document or a link in it
/// to the book's chapter of that name (issue #54: the README is a front
/// door to the book).
#[test]
fn what_init_writes_points_at_sections_that_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // A document's headings, and the text of its links: the README and
    // SECURITY.md name the book's chapters in links, one click away.
    let link = regex::Regex::new(r"\[([^\]]+)\]\(([^)]+)\)").unwrap();
    let headings = |doc: &str| -> Vec<String> {
        let text = std::fs::read_to_string(root.join(doc)).unwrap();
        let mut names: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with('#'))
            .map(|l| l.trim_start_matches('#').trim().to_string())
            .collect();
        for c in link.captures_iter(&text) {
            let target = c[2].split('#').next().unwrap();
            assert!(
                target.starts_with("http") || root.join(target).exists(),
                "{doc}: the link to {target} leads nowhere"
            );
            names.push(c[1].split_whitespace().collect::<Vec<_>>().join(" "));
        }
        names
    };
    let (readme_h, security_h) = (headings("README.md"), headings("SECURITY.md"));
    let d = Desk::new();
    let mut texts = vec![d.ok(".", &["init", "--dir", "m"])];
    texts.push(d.ok(".", &["init", "--customer", "--dir", "c"]));
    let mut files = Vec::new();
    for dir in ["m", "c"] {
        walk(&d.path(dir), &mut files);
    }
    // And the templates it does not write (yet), which name the same places.
    walk(&root.join("workflows"), &mut files);
    // And every message and comment of the code (issue #54: the chapters
    // moved into the book; the README and SECURITY.md link each by name).
    walk(&root.join("src"), &mut files);
    for f in files {
        texts.push(std::fs::read_to_string(f).unwrap().replace("\\\"", "\""));
    }
    // Comment lines joined, so a reference broken over two lines reads whole.
    let joined: String = texts
        .iter()
        .flat_map(|t| t.lines())
        .map(|l| l.trim().trim_start_matches(['#', '/', '!']).trim())
        .collect::<Vec<_>>()
        .join(" ");
    let re = regex::Regex::new(r#"(README|SECURITY\.md), ["*]([^"*]+)["*]"#).unwrap();
    let mut seen = 0;
    for c in re.captures_iter(&joined) {
        let (doc, name) = (&c[1], c[2].trim());
        let known = if doc == "README" {
            &readme_h
        } else {
            &security_h
        };
        assert!(
            known.iter().any(|h| h.starts_with(name)),
            "{doc}, \"{name}\": no such section"
        );
        seen += 1;
    }
    assert!(seen >= 20, "{seen} references found");
}

/// Point 11: `fleetform.yml` is found from a subfolder, as git finds its
/// repository, and the user is told where it is running.
#[test]
fn fleetform_yml_is_found_from_a_subfolder() {
    let fx = common::Fixture::new();
    let out = common::Run::from(common::fleetform_bin())
        .current_dir(fx.path("manager/values"))
        .args(["customers", "list"])
        .output();
    common::assert_ok(&out);
    assert!(stdout(&out).contains("globex"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("using the manager repo at .. (fleetform.yml is there)"),
        "{}",
        stderr(&out)
    );
    // Never from outside the git repository it is started in.
    fx.git(&["init", "-q"]);
    std::fs::create_dir_all(fx.path("manager/values/sub/.git")).unwrap();
    let out = common::Run::from(common::fleetform_bin())
        .current_dir(fx.path("manager/values/sub"))
        .args(["customers", "list"])
        .output();
    common::assert_code(&out, 2);
    assert!(
        stderr(&out).contains("fleetform.yml: cannot read"),
        "{}",
        stderr(&out)
    );
}

/// Point 11: `customers add --path` names a folder that exists.
#[test]
fn a_local_path_must_exist() {
    let fx = common::Fixture::new();
    let out = common::run(
        &fx,
        &["customers", "add", "newco", "--path", "../customers/newco"],
    )
    .args(["--contact", "ops@newco.example"])
    .code(2);
    assert!(
        stderr(&out).contains("--path `../customers/newco` does not exist"),
        "{}",
        stderr(&out)
    );
    assert!(!fx.read("manager/customers.yml").contains("newco"));
}

/// Point 11: bash completes customer slugs and environments from the
/// manager repo the shell is in (zsh and fish get the same hooks).
#[test]
fn completions_offer_the_fleets_slugs_and_environments() {
    let fx = common::Fixture::new();
    let script = stdout(
        &common::Run::from(fx.fleetform())
            .args(["completions", "bash"])
            .output(),
    );
    fx.write("fleetform.bash", &script);
    // Not spawned here: bash's completion function calls it by name on PATH.
    let bin = assert_cmd::cargo::cargo_bin("fleetform");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let complete = |words: &str, cword: usize, prev: &str, cur: &str| -> String {
        let program = format!(
            "source ../fleetform.bash; COMP_WORDS=({words}); COMP_CWORD={cword}; \
             _fleetform fleetform '{cur}' '{prev}'; echo \"${{COMPREPLY[*]}}\""
        );
        let out = std::process::Command::new("bash")
            .current_dir(fx.manager())
            .env_clear()
            .env("PATH", &path)
            .args(["-c", &program])
            .output()
            .expect("bash is installed");
        common::assert_ok(&out);
        stdout(&out).trim().to_string()
    };
    assert_eq!(
        complete("fleetform plan --customer ''", 3, "--customer", ""),
        "acme globex"
    );
    assert_eq!(
        complete("fleetform drift --env pr", 3, "--env", "pr"),
        "production"
    );
    assert_eq!(
        complete("fleetform customers show gl", 3, "show", "gl"),
        "globex"
    );
    for shell in ["zsh", "fish"] {
        let script = stdout(
            &common::Run::from(fx.fleetform())
                .args(["completions", shell])
                .output(),
        );
        assert!(
            script.contains("fleetform completions --list customers")
                && script.contains("fleetform completions --list environments"),
            "{shell}"
        );
    }
}
