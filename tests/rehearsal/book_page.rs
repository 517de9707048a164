//! The book's "Set up on github.com" (docs/src/provider/setup-on-github.md),
//! followed as written (#83 point 5): every `$ ` command of the page, in
//! its order, from its folder, against the tests' GitHub. `fleetform`
//! commands run as the built binary (the App registrations with the test
//! as the browser); the other commands are done by the world here, each
//! one it knows, and one it does not know fails the test. What a step
//! says it prints (`Check: … prints \`…\``) must be in that step's output,
//! a YAML block of a step goes into fleetform.yml, and the last step's
//! rows that "fail only" are exactly the rows doctor fails. So the page
//! cannot drift from what works.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::doctor::register_app::click_through;
use crate::support::fake_github::FakeGitHub;
use crate::world::MANAGER;

const PAGE: &str = "docs/src/provider/setup-on-github.md";
const CUSTOMER_REPO: &str = "acme-corp/acme-infra";

/// One `## N.` section of the page.
#[derive(Debug, Default)]
struct Step {
    title: String,
    commands: Vec<String>,
    yaml: Option<String>,
    /// The YAML block comes before the step's commands.
    yaml_first: bool,
    /// What it says it prints.
    prints: Vec<String>,
    /// The rows it says doctor fails, when it says so.
    fails_only: Option<Vec<String>>,
}

fn spans(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn steps(page: &str) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::new();
    let mut block: Option<String> = None;
    let mut yaml = String::new();
    let mut check = String::new();
    let flush = |check: &mut String, step: Option<&mut Step>| {
        if let Some(step) = step {
            for sentence in check.split(['.', ';']) {
                if sentence.contains("fails only the rows") {
                    step.fails_only = Some(spans(sentence));
                } else if sentence.contains("prints") {
                    step.prints.extend(spans(sentence));
                }
            }
        }
        check.clear();
    };
    for line in page.lines() {
        if let Some(kind) = line.strip_prefix("```") {
            match block.take() {
                Some(k) if k == "yaml" => {
                    let step = out.last_mut().expect("a step");
                    step.yaml_first = step.commands.is_empty();
                    step.yaml = Some(std::mem::take(&mut yaml));
                }
                Some(_) => {}
                None => block = Some(kind.to_string()),
            }
            continue;
        }
        match block.as_deref() {
            Some("console") => {
                if let Some(cmd) = line.strip_prefix("$ ") {
                    out.last_mut()
                        .expect("a step")
                        .commands
                        .push(cmd.to_string());
                }
                continue;
            }
            Some("yaml") => {
                yaml.push_str(line);
                yaml.push('\n');
                continue;
            }
            Some(_) => continue,
            None => {}
        }
        if let Some(title) = line.strip_prefix("## ") {
            flush(&mut check, out.last_mut());
            out.push(Step {
                title: title.to_string(),
                ..Step::default()
            });
        } else if line.starts_with("Check:") || (!check.is_empty() && !line.is_empty()) {
            check.push_str(line);
            check.push(' ');
        } else if line.is_empty() {
            flush(&mut check, out.last_mut());
        }
    }
    flush(&mut check, out.last_mut());
    out
}

/// The world: the tests' GitHub, the folder the commands run in.
struct World {
    gh: FakeGitHub,
    root: tempfile::TempDir,
    cwd: PathBuf,
    /// The Apps registered, by their label's first word.
    apps: Vec<(String, u64)>,
}

impl World {
    fn fleetform(&mut self, args: &[&str]) -> (i32, String) {
        let run = crate::common::Run::from(crate::common::fleetform_bin())
            .current_dir(&self.cwd)
            .env("GITHUB_API_URL", self.gh.api_url())
            .env("FLEETFORM_MANAGER_TOKEN", self.gh.token())
            .env("FLEETFORM_RETRY_ATTEMPTS", "1")
            .args(args);
        if !args.contains(&"--register-app") {
            let out = run.output();
            return (
                out.code.unwrap_or(-1),
                format!("{}\n{}", out.stdout, out.stderr),
            );
        }
        let mut child = run.spawn();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut said = String::new();
        loop {
            let mut line = String::new();
            if stdout.read_line(&mut line).unwrap() == 0 {
                break;
            }
            said.push_str(&line);
            if let Some(rest) = line.strip_prefix("Open ") {
                let url = rest.split_whitespace().next().unwrap();
                assert_eq!(click_through(url).0, 200);
            }
        }
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let code = child.wait().unwrap().code().unwrap_or(-1);
        if let Some(id) = said
            .split("(id ")
            .nth(1)
            .and_then(|r| r.split(')').next())
            .and_then(|n| n.parse().ok())
        {
            let app = args[args.iter().position(|a| *a == "--register-app").unwrap() + 1];
            self.apps.push((app.to_string(), id));
        }
        (code, format!("{said}\n{err}"))
    }

    fn app(&self, name: &str) -> u64 {
        self.apps.iter().find(|(n, _)| n == name).expect(name).1
    }

    /// `yaml` appended to fleetform.yml, pushed.
    fn add_yaml(&mut self, yaml: &str) {
        let path = self.cwd.join("fleetform.yml");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{text}\n{yaml}")).unwrap();
        push(&self.gh, &self.cwd);
    }

    /// A command of the page that is not fleetform's.
    fn other(&mut self, cmd: &str) {
        match cmd {
            "gh repo create provider/manager --private --source manager --push" => {
                self.gh.add_repo(MANAGER);
                self.gh.set_private(MANAGER, true);
                // The page's precondition: alice, who approves, has access.
                self.gh.add_collaborator(MANAGER, "alice", "direct");
                let dir = self.root.path().join("manager");
                push(&self.gh, &dir);
            }
            "cd manager" => self.cwd = self.root.path().join("manager"),
            other => panic!("{PAGE}: a command the rehearsal does not know: `{other}`"),
        }
    }
}

/// The checkout's files at the head of `main`.
fn push(gh: &FakeGitHub, dir: &Path) {
    let files = crate::rehearsal::setup::files_of(dir);
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    gh.commit(MANAGER, "main", &refs);
}

#[test]
fn the_set_up_page_works_as_written() {
    let page = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(PAGE)).unwrap();
    let steps = steps(&page);
    assert!(steps.len() >= 7, "{steps:#?}");
    let root = tempfile::tempdir().unwrap();
    let cwd = root.path().to_path_buf();
    let mut w = World {
        gh: FakeGitHub::start(),
        root,
        cwd,
        apps: Vec::new(),
    };
    // The page's preconditions: the release exists; alice, who approves,
    // has access to the manager repo.
    w.gh.add_repo("fleetform/fleetform");
    w.gh.add_tag(
        "fleetform/fleetform",
        &format!("v{}-action", env!("CARGO_PKG_VERSION")),
        "main",
    );
    let mut ran = 0;
    for step in &steps {
        if step.title.starts_with("6.") {
            // The customer installs the customer App on its repository.
            w.gh.add_repo(CUSTOMER_REPO);
            w.gh.install_app(w.app("customer"), "acme-corp", &[CUSTOMER_REPO]);
        }
        // A step's YAML goes into fleetform.yml (committed and pushed)
        // before its commands where it comes first on the page, after
        // them otherwise.
        let yaml_first = step.yaml_first;
        if let (Some(yaml), true) = (&step.yaml, yaml_first) {
            w.add_yaml(yaml);
        }
        let mut output = String::new();
        for cmd in &step.commands {
            ran += 1;
            match cmd.strip_prefix("fleetform ") {
                Some(rest) => {
                    let args: Vec<&str> = rest.split_whitespace().collect();
                    let (code, out) = w.fleetform(&args);
                    let doctor_check = args == ["doctor", "--repo", MANAGER];
                    assert!(
                        code == 0 || (doctor_check && code == 5),
                        "{}: `{cmd}` exited {code}:\n{out}",
                        step.title
                    );
                    output.push_str(&out);
                }
                None => w.other(cmd),
            }
        }
        for want in &step.prints {
            assert!(
                output.contains(want.as_str()),
                "{}: the page says it prints `{want}`:\n{output}",
                step.title
            );
        }
        if step.title.starts_with("5.") {
            // Installed on the manager repo alone.
            w.gh.install_app(w.app("manager"), "provider", &[MANAGER]);
        }
        if let (Some(yaml), false) = (&step.yaml, yaml_first) {
            w.add_yaml(yaml);
        }
        if step.title.starts_with("6.") {
            push(&w.gh, &w.cwd.clone());
        }
        if let Some(rows) = &step.fails_only {
            let failed: Vec<String> = output
                .lines()
                .filter(|l| l.starts_with("must    FAIL"))
                .map(|l| l[16..].split("  ").next().unwrap().trim().to_string())
                .collect();
            assert_eq!(
                &failed, rows,
                "{}: the rows doctor fails:\n{output}",
                step.title
            );
        }
    }
    assert!(ran >= 9, "{ran} commands");
    w.gh.assert_clean();
}
