//! A newcomer's first hour (issue #38): each test follows the README as a
//! new user does, with the command they ran, and checks what they should
//! have been told (the message and the exit code) where two parts of
//! fleetform used to disagree or say less than they knew.

use crate::common;

use std::path::{Path, PathBuf};

use common::{require_terraform, stderr, stdout};

/// A folder with the newcomer's repos side by side, as the quick start
/// makes them.
pub(crate) struct Desk {
    tmp: tempfile::TempDir,
}

impl Desk {
    pub(crate) fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("terraformrc"), "").unwrap();
        Desk { tmp }
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    pub(crate) fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    /// `fleetform ARGS` run in `dir` (relative to the desk).
    pub(crate) fn run(&self, dir: &str, args: &[&str]) -> crate::common::Ran {
        common::Run::from(common::fleetform_bin())
            .current_dir(self.path(dir))
            .env("TF_CLI_CONFIG_FILE", self.path("terraformrc"))
            .args(args)
            .output()
    }

    /// Like [`Desk::run`], which must succeed; its stdout.
    pub(crate) fn ok(&self, dir: &str, args: &[&str]) -> String {
        let out = self.run(dir, args);
        common::assert_ok_for(format_args!("fleetform {args:?}"), &out);
        stdout(&out)
    }

    pub(crate) fn git(&self, dir: &str, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .current_dir(self.path(dir))
            .args(["-c", "user.email=ci@example.test", "-c", "user.name=ci"])
            .args(["-c", "commit.gpgsign=false"])
            .args(args)
            .output()
            .expect("git is installed");
        common::assert_ok_for(format_args!("git {args:?}"), &out);
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
    common::assert_ok(&out);
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
    common::assert_ok_for(
        format_args!("the starter from the instructions:\n{starter}\nvalidate"),
        &out,
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
        &common::Run::from(fx.fleetform())
            .args([
                "customers",
                "instructions",
                "globex",
                "--manager-repo",
                "p/m",
            ])
            .output(),
    );
    let starter = block_after(&text, "## 1.", "yaml");
    assert!(starter.contains("cloud_provider:"), "{starter}");
    fx.write("customers/globex/infra/variables.yml", &starter);
    std::fs::remove_file(fx.path("customers/globex/infra/variables.production.yml")).ok();
    let out = common::Run::from(fx.fleetform())
        .args(["validate", "--customer", "globex"])
        .output();
    common::assert_ok_for(format_args!("{starter}"), &out);
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
    common::assert_ok_for(format_args!("{vars}"), &out);

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
    common::assert_code(&out, 2);
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

/// Point 4: `init --environments dev,qa,prod` writes a deploy workflow
/// for dev, qa and prod (not staging and production): a plan and an apply
/// job per environment, each apply after those before it, every
/// environment on the printed checklist, and the workflows pass actionlint
/// and zizmor as the default ones do.
#[test]
fn init_writes_deploy_jobs_for_the_environments_it_configures() {
    let d = Desk::new();
    let printed = d.ok(
        ".",
        &["init", "--dir", "m", "--environments", "dev,qa,prod"],
    );
    let path = d.path("m/.github/workflows/manager-deploy.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    let doc: serde_json::Value = yaml_serde::from_str(&text).unwrap();
    let jobs = doc["jobs"].as_object().unwrap();
    // A key job's environment is each customer's own, named at run time.
    let mut environments: Vec<&str> = jobs
        .values()
        .filter_map(|j| j["environment"].as_str())
        .filter(|e| !e.contains("key_environments"))
        .collect();
    environments.sort();
    assert_eq!(
        environments,
        [
            "dev-apply",
            "dev-plan",
            "fleetform-authorise",
            "fleetform-authorise",
            "prod-apply",
            "prod-plan",
            "qa-apply",
            "qa-plan"
        ],
        "{text}"
    );
    let after = |job: &str| -> Vec<String> {
        jobs[job]["needs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        after("apply-qa"),
        ["authorise", "plan-dev", "apply-dev", "key-qa", "plan-qa"]
    );
    assert_eq!(
        after("apply-prod"),
        [
            "authorise",
            "plan-dev",
            "apply-dev",
            "plan-qa",
            "apply-qa",
            "key-prod",
            "plan-prod"
        ]
    );
    // authorise, and a key, plan and apply job per environment.
    assert_eq!(after("conclude").len(), 10);
    for env in environments {
        assert!(
            printed.contains(env),
            "{env} is not on the checklist:\n{printed}"
        );
    }
    assert!(
        !printed.contains("make one plan-<env>/apply-<env> pair"),
        "{printed}"
    );

    let out = std::process::Command::new(crate::cli::init::linter("actionlint"))
        .arg(&path)
        .output()
        .unwrap();
    common::assert_ok(&out);
    let out = crate::cli::init::zizmor(&d.path("m"));
    common::assert_ok(&out);
}

/// Point 5: A question with nothing to answer says so, with the reason, instead
/// of an empty table or report and exit 0.
#[test]
fn nothing_to_do_is_said_with_the_reason() {
    let fx = common::Fixture::new();
    let out = common::run(
        &fx,
        &["plan", "--customer", "initech", "--env", "production"],
    )
    .code(2);
    let said = "environment `production` is not enabled for `initech` (enabled: staging)";
    assert!(
        stderr(&out).contains(&format!("nothing to plan: {said}")),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    // `render` says it in the same words.
    let out = common::run(
        &fx,
        &["render", "--customer", "initech", "--env", "production"],
    )
    .code(2);
    assert!(stderr(&out).contains(said), "{}", stderr(&out));

    // A missing audit log named with --log is an error; the default one
    // missing is said, and the report is still made.
    let out = common::run(&fx, &["audit", "report", "--log", "nope.jsonl"]).code(2);
    assert!(
        stderr(&out).contains("--log nope.jsonl: no such file"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());
    let out = common::run(&fx, &["audit", "report"]).code(0);
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
        let out = common::Run::from(fx.fleetform()).args(args).code(2);
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
    let out = common::Run::from(fx.fleetform()).arg("validate").code(1);
    assert!(
        stdout(&out).contains("invalid globex (1 problem)"),
        "{}",
        stdout(&out)
    );
    assert_eq!(no_path_at(&stderr(&out)), at, "{}", stderr(&out));
    require_terraform();
    let out = common::run(&fx, &["plan", "--customer", "globex", "--env", "staging"]).code(1);
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
        let out = common::Run::from(fx.fleetform()).args(args).code(2);
        assert!(stderr(&out).contains(said), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn the_book_exit_codes_are_the_codes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("docs/src/reference/exit-codes.md")).unwrap();
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
    let from_readme = table(&readme[readme.find("# Exit codes").unwrap()..]);
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
    let out = common::run(&fx, &["plan", "--customer", "acme", "--env", "staging"])
        .args(["--terraform", "/nope/terraform"])
        .code(2);
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

/// Point 7: no message is worded "N thing(s)": every count in `src/` is
/// said in the right number (`util::text::count`). A string literal with
/// `(s)` or `(es)` after a word is one such message (`http(s)` aside).
#[test]
fn no_message_counts_in_thing_s() {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, found);
            } else if p.extension().is_some_and(|x| x == "rs") {
                found.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(files.len() > 50, "{files:?}");
    let mut found = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (i, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            // The parts of the line inside double quotes.
            let quoted = line.split('"').skip(1).step_by(2);
            let bad = quoted.into_iter().any(|q| {
                let q = q.replace("http(s)", "");
                ["(s)", "(es)"].iter().any(|suffix| {
                    q.match_indices(suffix)
                        .any(|(at, _)| q[..at].ends_with(|c: char| c.is_ascii_alphabetic()))
                })
            });
            if bad {
                found.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
            }
        }
    }
    assert_eq!(found, Vec::<String>::new());
}
