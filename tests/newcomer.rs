//! A newcomer's first hour (issue #38): each test follows the README as a
//! new user does, with the command they ran, and checks what they should
//! have been told (the message and the exit code) where two parts of
//! fleetform used to disagree or say less than they knew.

use crate::common;

use std::path::{Path, PathBuf};

use common::{fleetform_bin, require_terraform, stderr, stdout};

/// A folder with the newcomer's repos side by side, as the quick start
/// makes them.
struct Desk {
    tmp: tempfile::TempDir,
}

impl Desk {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("terraformrc"), "").unwrap();
        Desk { tmp }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    /// `fleetform ARGS` run in `dir` (relative to the desk).
    fn run(&self, dir: &str, args: &[&str]) -> std::process::Output {
        fleetform_bin()
            .current_dir(self.path(dir))
            .env("TF_CLI_CONFIG_FILE", self.path("terraformrc"))
            .args(args)
            .output()
            .unwrap()
    }

    /// Like [`Desk::run`], which must succeed; its stdout.
    fn ok(&self, dir: &str, args: &[&str]) -> String {
        let out = self.run(dir, args);
        assert!(
            out.status.success(),
            "fleetform {args:?}: {}\n{}",
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    }

    fn git(&self, dir: &str, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .current_dir(self.path(dir))
            .args(["-c", "user.email=ci@example.test", "-c", "user.name=ci"])
            .args(["-c", "commit.gpgsign=false"])
            .args(args)
            .output()
            .expect("git is installed");
        assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
        stdout(&out)
    }
}

/// The first fenced block of `lang` after `heading` in Markdown text.
fn block_after(text: &str, heading: &str, lang: &str) -> String {
    let from = text
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading:?}:\n{text}"));
    let open = format!("```{lang}\n");
    let start = text[from..]
        .find(&open)
        .unwrap_or_else(|| panic!("no {lang} block after {heading:?}:\n{text}"))
        + from
        + open.len();
    let end = text[start..].find("\n```").unwrap() + start;
    text[start..=end].to_string()
}

/// Point 1: `git add -A` in a fresh manager, after a plan and a registry edit,
/// commits none of fleetform's local files; an existing `.gitignore` is
/// kept and completed.
#[test]
fn a_fresh_manager_keeps_fleetforms_files_out_of_git() {
    require_terraform();
    let d = Desk::new();
    d.ok(".", &["init", "--dir", "infra-manager"]);
    d.ok(".", &["init", "--customer", "--dir", "acme-infra"]);
    d.git("infra-manager", &["init", "-q"]);
    d.ok(
        "infra-manager",
        &[
            "customers",
            "add",
            "acme",
            "--path",
            "../acme-infra",
            "--contact",
            "ops@acme.example",
        ],
    );
    d.ok(
        "infra-manager",
        &["plan", "--customer", "acme", "--env", "staging"],
    );
    assert!(d.path("infra-manager/.fleetform").is_dir());
    assert!(d.path("infra-manager/customers.yml.lock").exists());
    d.git("infra-manager", &["add", "-A"]);
    let staged = d.git("infra-manager", &["ls-files"]);
    assert!(staged.lines().any(|l| l == ".gitignore"), "{staged}");
    assert!(staged.lines().any(|l| l == "customers.yml"), "{staged}");
    for never in [".fleetform/", "customers.yml.lock"] {
        assert!(
            !staged.lines().any(|l| l.starts_with(never)),
            "{never} was staged:\n{staged}"
        );
    }

    // A repo that already has a .gitignore keeps it, completed.
    std::fs::create_dir(d.path("other")).unwrap();
    std::fs::write(d.path("other/.gitignore"), "node_modules/").unwrap();
    let out = d.run(".", &["init", "--dir", "other"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let ignore = d.read("other/.gitignore");
    assert!(ignore.starts_with("node_modules/\n"), "{ignore}");
    assert!(ignore.lines().any(|l| l == ".fleetform/"), "{ignore}");
    assert!(
        stderr(&out).contains("appended .fleetform/"),
        "{}",
        stderr(&out)
    );
}

/// Point 2: The onboarding text of an `init` manager hands out a variables file
/// the manager's own `validate` accepts, names the workflow file `init
/// --customer` writes, and asks for no scope the trigger does not use.
#[test]
fn the_onboarding_text_passes_the_managers_own_checks() {
    let d = Desk::new();
    d.ok(".", &["init", "--dir", "infra-manager"]);
    std::fs::create_dir_all(d.path("acme-infra/infra")).unwrap();
    d.ok(
        "infra-manager",
        &[
            "customers",
            "add",
            "acme",
            "--path",
            "../acme-infra",
            "--contact",
            "ops@acme.example",
        ],
    );
    let text = d.ok(
        "infra-manager",
        &[
            "customers",
            "instructions",
            "acme",
            "--manager-repo",
            "provider/manager",
        ],
    );
    let starter = block_after(&text, "## 1.", "yaml");
    std::fs::write(d.path("acme-infra/infra/variables.yml"), &starter).unwrap();
    let out = d.run("infra-manager", &["validate", "--customer", "acme"]);
    assert!(
        out.status.success(),
        "the starter from the instructions:\n{starter}\nvalidate: {}",
        stderr(&out)
    );

    // The workflow goes where `init --customer` puts it.
    let init = d.ok(".", &["init", "--customer", "--dir", "c"]);
    let written = init
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(".github/workflows/"))
        .unwrap()
        .to_string();
    assert!(
        text.contains(&format!("Save this as `{written}`")),
        "{written}:\n{text}"
    );

    // The token path asks for what customer-trigger-token.yml uses: write
    // on the manager's contents, and the commit status through the job's
    // GITHUB_TOKEN (no scope on the customer's own repo).
    let template = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows/customer-trigger-token.yml"),
    )
    .unwrap();
    assert!(template.contains("status-token: ${{ github.token }}"));
    assert!(template.contains("statuses: write"));
    let pat_row = text
        .lines()
        .find(|l| l.contains("`MANAGER_REPO_PAT`"))
        .unwrap();
    assert!(pat_row.contains("*Contents: read and write*"), "{pat_row}");
    assert!(!pat_row.contains("Commit statuses"), "{pat_row}");
    assert!(pat_row.contains("`GITHUB_TOKEN`"), "{pat_row}");
}

/// Point 2: The same for the example manager's richer schema (required
/// `cloud_provider`, `environments`), from a fresh copy of the examples.
#[test]
fn the_example_managers_onboarding_starter_validates() {
    let fx = common::Fixture::new();
    let text = stdout(
        &fx.fleetform()
            .args([
                "customers",
                "instructions",
                "globex",
                "--manager-repo",
                "p/m",
            ])
            .output()
            .unwrap(),
    );
    let starter = block_after(&text, "## 1.", "yaml");
    assert!(starter.contains("cloud_provider:"), "{starter}");
    fx.write("customers/globex/infra/variables.yml", &starter);
    std::fs::remove_file(fx.path("customers/globex/infra/variables.production.yml")).ok();
    let out = fx
        .fleetform()
        .args(["validate", "--customer", "globex"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{starter}\n{}", stderr(&out));
}

/// Point 3: After `init --environments dev,qa,prod`, the README's next commands
/// give a customer repo that validates: `init --customer --manager` reads
/// the manager's environments and schema.
#[test]
fn a_customer_repo_gets_the_managers_environments() {
    let d = Desk::new();
    d.ok(
        ".",
        &[
            "init",
            "--dir",
            "infra-manager",
            "--environments",
            "dev,qa,prod",
        ],
    );
    let printed = d.ok(
        ".",
        &[
            "init",
            "--customer",
            "--dir",
            "acme-infra",
            "--manager",
            "infra-manager",
        ],
    );
    assert!(printed.contains("dev, qa, prod"), "{printed}");
    let vars = d.read("acme-infra/infra/variables.yml");
    assert!(
        vars.contains("  dev:") && vars.contains("  prod:") && !vars.contains("staging"),
        "{vars}"
    );
    d.ok(
        "infra-manager",
        &[
            "customers",
            "add",
            "acme",
            "--path",
            "../acme-infra",
            "--contact",
            "ops@acme.example",
        ],
    );
    let out = d.run("infra-manager", &["validate"]);
    assert!(out.status.success(), "{vars}\n{}", stderr(&out));

    // Without a manager it says which environments it assumed and how to
    // match the provider's.
    let printed = d.ok(".", &["init", "--customer", "--dir", "other"]);
    assert!(
        printed.contains("staging, production") && printed.contains("--manager DIR"),
        "{printed}"
    );
    // An environment the manager does not declare is a usage error.
    let out = d.run(
        ".",
        &[
            "init",
            "--customer",
            "--dir",
            "x",
            "--manager",
            "infra-manager",
            "--environments",
            "staging",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("declares: dev, qa, prod"),
        "{}",
        stderr(&out)
    );
    assert!(!d.path("x").exists());
}

/// Point 4: `init` writes only the workflows its configuration uses, and the
/// printed checklist names every environment they run in.
#[test]
fn init_writes_workflows_that_its_checklist_covers() {
    let d = Desk::new();
    let printed = d.ok(".", &["init", "--dir", "m"]);
    let dir = d.path("m/.github/workflows");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    // fleetform.yml has no `rollout:` and no `relay:`.
    assert!(
        !names.contains(&"manager-rollout.yml".to_string()),
        "{names:?}"
    );
    assert!(
        !names.contains(&"manager-poll.yml".to_string()),
        "{names:?}"
    );
    let mut environments = Vec::new();
    for name in &names {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        let doc: serde_json::Value = yaml_serde::from_str(&text).unwrap();
        for (_, job) in doc["jobs"].as_object().unwrap() {
            let env = match &job["environment"] {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Object(o) => o["name"].as_str().unwrap().to_string(),
                _ => continue,
            };
            if !env.contains("${{") {
                environments.push((name.clone(), env));
            }
        }
    }
    assert!(environments.len() > 5, "{environments:?}");
    for (workflow, env) in environments {
        assert!(
            printed.contains(&env),
            "{workflow} runs in the environment {env}, which the checklist does not name:\n{printed}"
        );
    }
}

/// Point 5: A question with nothing to answer says so, with the reason, instead
/// of an empty table or report and exit 0.
#[test]
fn nothing_to_do_is_said_with_the_reason() {
    let fx = common::Fixture::new();
    let out = fx
        .fleetform()
        .args(["plan", "--customer", "initech", "--env", "production"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let said = "environment `production` is not enabled for `initech` (enabled: staging)";
    assert!(
        stderr(&out).contains(&format!("nothing to plan: {said}")),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    // `render` says it in the same words.
    let out = fx
        .fleetform()
        .args(["render", "--customer", "initech", "--env", "production"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(said), "{}", stderr(&out));

    // A missing audit log named with --log is an error; the default one
    // missing is said, and the report is still made.
    let out = fx
        .fleetform()
        .args(["audit", "report", "--log", "nope.jsonl"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("--log nope.jsonl: no such file"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());
    let out = fx.fleetform().args(["audit", "report"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no audit log at .fleetform/audit.jsonl"),
        "{}",
        stderr(&out)
    );
}

/// The `line:col` of `needle`'s first line in `text`, 1-based.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in:\n{text}"))
        + 1
}

/// Where the message about globex's missing path points (`file:line:`).
fn no_path_at(err: &str) -> String {
    let line = err
        .lines()
        .find(|l| l.contains("customer `globex` has no local `path`"))
        .unwrap_or_else(|| panic!("{err}"));
    let place = line.trim_start_matches("error: ");
    let mut parts = place.splitn(3, ':');
    format!("{}:{}:", parts.next().unwrap(), parts.next().unwrap())
}

/// Point 6: `validate` finds what `plan` finds, at the same place: a misspelled
/// `working_dir`, and a customer without a local `path` (at its own entry).
#[test]
fn validate_finds_what_plan_finds_at_the_same_place() {
    let fx = common::Fixture::new();
    let yml = fx
        .read("manager/fleetform.yml")
        .replace("  working_dir: terraform\n", "  working_dir: terrafrom\n");
    fx.write("manager/fleetform.yml", &yml);
    let at = format!("fleetform.yml:{}:", line_of(&yml, "working_dir: terrafrom"));
    for args in [
        &["validate"][..],
        &["plan", "--customer", "acme", "--env", "staging"][..],
    ] {
        let out = fx.fleetform().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&at) && stderr(&out).contains("`terrafrom` does not exist"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    fx.write(
        "manager/fleetform.yml",
        &yml.replace("working_dir: terrafrom", "working_dir: terraform"),
    );

    // globex without a path: both name globex's own entry.
    let reg = fx
        .read("manager/customers.yml")
        .replace("    path: ../customers/globex\n", "");
    fx.write("manager/customers.yml", &reg);
    let at = format!("customers.yml:{}:", line_of(&reg, "- slug: globex"));
    let out = fx.fleetform().arg("validate").output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("invalid globex (1 problem)"),
        "{}",
        stdout(&out)
    );
    assert_eq!(no_path_at(&stderr(&out)), at, "{}", stderr(&out));
    require_terraform();
    let out = fx
        .fleetform()
        .args(["plan", "--customer", "globex", "--env", "staging"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(no_path_at(&stderr(&out)), at, "{}", stderr(&out));
}

/// Point 7: An unknown slug gets the same words, the known slugs and exit 2
/// from every command; the README's exit-code table is error.rs's.
#[test]
fn an_unknown_slug_is_said_the_same_everywhere() {
    let fx = common::Fixture::new();
    let said = "customer `acmee` is not registered; customers.yml lists: acme, globex, initech";
    for args in [
        &["plan", "--customer", "acmee", "--env", "staging"][..],
        &["render", "--customer", "acmee", "--env", "staging"][..],
        &["validate", "--customer", "acmee"][..],
        &["apply", "--customer", "acmee", "--env", "staging"][..],
        &["drift", "--customer", "acmee"][..],
        &["customers", "show", "acmee"][..],
        &["customers", "revoke", "acmee", "--reason", "x"][..],
    ] {
        let out = fx.fleetform().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(said), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn the_readme_exit_codes_are_the_codes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let code = std::fs::read_to_string(root.join("src/error.rs")).unwrap();
    let table = |text: &str| -> Vec<String> {
        text.lines()
            .map(|l| l.trim_start_matches("//!").trim())
            .filter(|l| {
                l.strip_prefix("| ")
                    .and_then(|r| r.split(' ').next())
                    .is_some_and(|c| c.len() == 1 && c.as_bytes()[0].is_ascii_digit())
            })
            .map(str::to_string)
            .collect()
    };
    let from_readme = table(&readme[readme.find("### Exit codes").unwrap()..]);
    assert_eq!(from_readme.len(), 6, "{from_readme:?}");
    assert_eq!(from_readme, table(&code));
    let unknown = from_readme.iter().find(|l| l.starts_with("| 2 ")).unwrap();
    assert!(unknown.contains("unknown customer"), "{unknown}");
}

/// Point 7: Messages say what they know: a `--terraform` path that is not
/// there is not "not found on PATH", counts are in the right number.
#[test]
fn messages_say_what_they_know() {
    let fx = common::Fixture::new();
    let out = fx
        .fleetform()
        .args(["plan", "--customer", "acme", "--env", "staging"])
        .args(["--terraform", "/nope/terraform"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("--terraform `/nope/terraform`") && err.contains("no such file"),
        "{err}"
    );
    assert!(!err.contains("PATH;"), "{err}");

    let d = Desk::new();
    std::fs::create_dir_all(d.path("m/terraform")).unwrap();
    std::fs::write(d.path("m/terraform/main.tf"), "").unwrap();
    let out = d.run(".", &["init", "--dir", "m"]);
    assert!(
        stderr(&out).contains("1 file already exists:"),
        "{}",
        stderr(&out)
    );
    std::fs::write(d.path("m/customers.yml"), "").unwrap();
    let out = d.run(".", &["init", "--dir", "m"]);
    assert!(
        stderr(&out).contains("2 files already exist:"),
        "{}",
        stderr(&out)
    );
}

/// Point 8: `doctor` with GitHub out of reach says so once, first, with the
/// address it tried, stops there, and passes nothing it could not check.
#[test]
fn doctor_without_github_says_so_once_and_passes_nothing() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let api = format!("http://127.0.0.1:{port}");
    let fx = common::Fixture::new();
    let out = fx
        .fleetform()
        .env("GITHUB_API_URL", &api)
        .env("GITHUB_TOKEN", "ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
        .env("FLEETFORM_RETRY_BASE_MS", "0")
        .args(["-v", "doctor", "--repo", "provider/manager"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stdout(&out));
    let err = stderr(&out);
    let said: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("cannot reach GitHub"))
        .collect();
    assert_eq!(said.len(), 1, "{err}");
    assert!(
        said[0].starts_with(&format!("error: cannot reach GitHub at {api}")),
        "{err}"
    );
    let first_error = err.lines().find(|l| l.starts_with("error:")).unwrap();
    assert_eq!(first_error, said[0]);
    // One request's attempts, then nothing more was sent.
    assert!(err.contains("\n5 GitHub API request(s)"), "{err}");
    let table = stdout(&out);
    // The tally first, then the table.
    let rows: Vec<&str> = table
        .lines()
        .skip_while(|l| !l.starts_with("LEVEL"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    assert!(rows.len() >= 6, "{table}");
    for row in rows {
        assert!(!row.contains(" pass "), "{row}");
        // The registry's own facts (a customer without `repo_id`) are
        // known without GitHub; everything GitHub holds could not be checked.
        if row.contains("no `repo_id` in customers.yml") {
            continue;
        }
        assert!(row.contains("could not check"), "{row}");
    }
    assert!(table.contains("expiry of the token"), "{table}");
}

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

/// The README's CLI reference: the fenced block and the text after it.
fn cli_reference() -> String {
    let text = readme();
    let from = text.find("## CLI reference").unwrap();
    let to = text[from..].find("### Exit codes").unwrap() + from;
    text[from..to].to_string()
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
        &<fleetform::cli::Cli as clap::CommandFactory>::command(),
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
    let cli = <fleetform::cli::Cli as clap::CommandFactory>::command();
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

    assert!(!readme().contains("Every flag can also be given"));
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
                "`{path} --{long}` has no FLEETFORM_* variable and the README does not say so"
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
/// workflow templates) names a heading of that document.
#[test]
fn what_init_writes_points_at_sections_that_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let headings = |doc: &str| -> Vec<String> {
        std::fs::read_to_string(root.join(doc))
            .unwrap()
            .lines()
            .filter(|l| l.starts_with('#'))
            .map(|l| l.trim_start_matches('#').trim().to_string())
            .collect()
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
    for f in files {
        texts.push(std::fs::read_to_string(f).unwrap());
    }
    // Comment lines joined, so a reference broken over two lines reads whole.
    let joined: String = texts
        .iter()
        .flat_map(|t| t.lines())
        .map(|l| l.trim().trim_start_matches('#').trim())
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
    assert!(seen >= 5, "{seen} references found");
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, found);
        } else {
            found.push(p);
        }
    }
}

/// Point 11: `fleetform.yml` is found from a subfolder, as git finds its
/// repository, and the user is told where it is running.
#[test]
fn fleetform_yml_is_found_from_a_subfolder() {
    let fx = common::Fixture::new();
    let out = fleetform_bin()
        .current_dir(fx.path("manager/values"))
        .args(["customers", "list"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("globex"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("using the manager repo at .. (fleetform.yml is there)"),
        "{}",
        stderr(&out)
    );
    // Never from outside the git repository it is started in.
    fx.git(&["init", "-q"]);
    std::fs::create_dir_all(fx.path("manager/values/sub/.git")).unwrap();
    let out = fleetform_bin()
        .current_dir(fx.path("manager/values/sub"))
        .args(["customers", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
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
    let out = fx
        .fleetform()
        .args(["customers", "add", "newco", "--path", "../customers/newco"])
        .args(["--contact", "ops@newco.example"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
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
        &fx.fleetform()
            .args(["completions", "bash"])
            .output()
            .unwrap(),
    );
    fx.write("fleetform.bash", &script);
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
        assert!(out.status.success(), "{}", stderr(&out));
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
            &fx.fleetform()
                .args(["completions", shell])
                .output()
                .unwrap(),
        );
        assert!(
            script.contains("fleetform completions --list customers")
                && script.contains("fleetform completions --list environments"),
            "{shell}"
        );
    }
}

/// Point 10: a pair never applied is its own state, not drift: exit 0,
/// "never applied" in the table, the reports, the audit log and the
/// dashboard, and no drift issue or notification.
#[test]
fn never_applied_is_not_drift() {
    require_terraform();
    let fx = common::Fixture::new();
    let out = fx
        .fleetform()
        .args(["drift", "--customer", "acme"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(
        table.contains("acme      staging      +3 ~0 -0  never applied"),
        "{table}"
    );
    assert!(
        stderr(&out).contains("2 pairs never applied"),
        "{}",
        stderr(&out)
    );
    let report: serde_json::Value =
        serde_json::from_str(&fx.read("manager/.fleetform/drift/drift-report.json")).unwrap();
    assert_eq!(report["drifted"].as_array().unwrap().len(), 0);
    assert_eq!(report["never_applied"].as_array().unwrap().len(), 2);
    let md = fx.read("manager/.fleetform/drift/drift-report.md");
    assert!(
        md.contains("**0 drifted**") && md.contains("2 never applied"),
        "{md}"
    );
    let log = fx.read("manager/.fleetform/audit.jsonl");
    assert!(
        log.contains(r#""action":"drift""#) && log.contains(r#""result":"never-applied""#),
        "{log}"
    );

    let out = fx
        .fleetform()
        .args(["report", "--html", "dash.html"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("(2 customers, 0 rollouts)"),
        "{}",
        stdout(&out)
    );
    let html = fx.read("manager/dash.html");
    assert!(html.contains("never applied"), "{html}");
    assert!(
        !html.contains("drift: drift") && !html.contains("drift: found"),
        "{html}"
    );
}
