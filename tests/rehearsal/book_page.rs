//! The book's "Set up on github.com" (docs/src/provider/setup-on-github.md),
//! followed as written (#83 point 5): every `$ ` command of the page, in
//! its order, from its folder, against the tests' GitHub. `fleetform`
//! commands run as the built binary (the App registrations with the test
//! as the browser); the other commands are done by the world here, each
//! one it knows, and one it does not know fails the test. What a step
//! says it prints (`Check: … prints \`…\``) must be in that step's output,
//! a YAML block of a step goes into fleetform.yml, and the last step's
//! rows that "fail only" are exactly the rows doctor fails ("fails no
//! row": none). The last step's relay serves in the background while the
//! customer does what step 6's instructions say and opens a pull request;
//! the deploy workflow runs for the relay's dispatch as GitHub runs it,
//! with only the secrets `doctor --fix` and `--register-app` stored
//! (opened from their sealed boxes as GitHub opens them for a job), and
//! the plan comment must come back. So the page cannot drift from what
//! works.
//!
//! What the world adds, being the tests' stand-ins for github.com and
//! AWS: the relay's `issuer:` (the tests' OIDC issuer in place of
//! GitHub's), the records' `endpoint:` (moto in place of S3, with the
//! bucket made), the relay's address (a free loopback port in place of
//! `0.0.0.0:8080`).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::doctor::register_app::click_through;
use crate::moto::Moto;
use crate::support::actions_runner::{workflows_in, Event, Runner};
use crate::support::fake_github::FakeGitHub;
use crate::support::oidc::FakeIssuer;
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
                if sentence.contains("fails no row") {
                    step.fails_only = Some(Vec::new());
                } else if sentence.contains("fails only the rows") {
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
    /// GitHub's OIDC issuer, S3.
    issuer: FakeIssuer,
    moto: Moto,
    /// The manager repo's Actions key pair: the fake hands out its public
    /// half; what is sealed to it is opened for the jobs, as GitHub does.
    actions_key: crypto_box::SecretKey,
    /// The relay serving in the background, and its address.
    relay: Option<(std::process::Child, String)>,
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some((child, _)) = &mut self.relay {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

const RECORDS_BUCKET: &str = "provider-fleetform-records";

impl World {
    fn fleetform(&mut self, args: &[&str]) -> (i32, String) {
        if args.starts_with(&["relay", "serve"]) {
            return self.relay_serve(args);
        }
        let run = crate::common::Run::from(crate::common::fleetform_bin())
            .current_dir(&self.cwd)
            .env("GITHUB_API_URL", self.gh.api_url())
            .env("FLEETFORM_MANAGER_TOKEN", self.gh.token())
            .env("FLEETFORM_RETRY_ATTEMPTS", "1")
            // The workstation's AWS credentials (moto takes any): the
            // records bucket of step 7 on.
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
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

    /// `yaml` in fleetform.yml, pushed: a top-level key fleetform.yml has
    /// replaces its block, a new one is appended. The world's stand-ins go
    /// in with it (the issuer into `relay:`, the endpoint into `records:`).
    fn add_yaml(&mut self, yaml: &str) {
        let mut yaml = yaml.to_string();
        if yaml.starts_with("relay:") {
            yaml.push_str(&format!("  issuer: {}\n", self.issuer.url()));
        }
        if yaml.starts_with("records:") {
            assert!(
                crate::moto::curl(&self.moto.url(&format!("/{RECORDS_BUCKET}")), "PUT").is_some()
            );
            let endpoint = self.moto.url("");
            yaml.push_str(&format!(
                "  endpoint: {}\n  use_path_style: true\n",
                endpoint.trim_end_matches('/')
            ));
        }
        let path = self.cwd.join("fleetform.yml");
        let text = std::fs::read_to_string(&path).unwrap();
        let key = yaml.split(':').next().unwrap();
        std::fs::write(&path, replace_block(&text, key, &yaml)).unwrap();
        push(&self.gh, &self.cwd);
    }

    /// `fleetform relay serve …`, in the background on a free loopback
    /// port, with the page's other arguments; its first line.
    fn relay_serve(&mut self, args: &[&str]) -> (i32, String) {
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        if let Some(i) = args.iter().position(|a| a == "--listen") {
            args[i + 1] = "127.0.0.1:0".into();
        }
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("fleetform"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("GITHUB_API_URL", self.gh.api_url())
            .env("FLEETFORM_RETRY_BASE_MS", "20")
            // The records (its event claims) in moto's bucket.
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .current_dir(&self.cwd)
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("relay listening on ")
            .unwrap_or_else(|| panic!("the relay did not start: {line:?}"))
            .to_string();
        self.relay = Some((child, url));
        (0, line)
    }

    /// A command of the page that is not fleetform's.
    fn other(&mut self, cmd: &str) {
        match cmd {
            "gh repo create provider/manager --private --source manager --push" => {
                self.gh.add_repo(MANAGER);
                self.gh.set_private(MANAGER, true);
                use base64::Engine as _;
                let public = self.actions_key.public_key();
                self.gh.set_public_key(
                    MANAGER,
                    "568250167242549743",
                    &base64::engine::general_purpose::STANDARD.encode(public.as_bytes()),
                );
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

/// `text` with the top-level block of `key` (its line and the indented
/// or blank lines after it) replaced by `block`, or `block` appended.
fn replace_block(text: &str, key: &str, block: &str) -> String {
    let head = format!("{key}:");
    let lines: Vec<&str> = text.lines().collect();
    let Some(start) = lines.iter().position(|l| l.starts_with(&head)) else {
        return format!("{text}\n{block}");
    };
    let end = lines[start + 1..]
        .iter()
        .position(|l| !l.is_empty() && !l.starts_with(' '))
        .map_or(lines.len(), |n| start + 1 + n);
    let mut out: Vec<String> = lines[..start].iter().map(|l| l.to_string()).collect();
    out.push(block.trim_end().to_string());
    out.push(String::new());
    out.extend(lines[end..].iter().map(|l| l.to_string()));
    out.join("\n") + "\n"
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

/// The ```yaml blocks of `text` (Markdown), each with the `## ` heading
/// it is under.
fn yaml_blocks(text: &str) -> Vec<(String, String)> {
    let (mut out, mut heading, mut block) = (Vec::new(), String::new(), None::<String>);
    for line in text.lines() {
        match (&mut block, line) {
            (Some(b), "```") => {
                out.push((heading.clone(), std::mem::take(b)));
                block = None;
            }
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            (None, "```yaml") => block = Some(String::new()),
            (None, l) if l.starts_with("## ") => heading = l.to_string(),
            _ => {}
        }
    }
    out
}

/// Step 9: the customer does what step 6's `instructions` say (the two
/// files, the two variables, the relay's address as the provider sends
/// it) and opens a pull request. Its trigger reaches the relay, and the
/// deploy workflow runs for the relay's dispatch with only what GitHub
/// holds. The comments on the pull request.
fn first_plan_comment(w: &World, instructions: &str) -> Vec<String> {
    let gh = &w.gh;
    let (_, relay_url) = w.relay.as_ref().expect("step 9 starts the relay");
    let blocks = yaml_blocks(instructions);
    let under = |n: &str| {
        blocks
            .iter()
            .find(|(h, _)| h.starts_with(&format!("## {n}.")))
            .map(|(_, b)| b.clone())
            .unwrap_or_else(|| {
                panic!("no YAML under `## {n}.` of the instructions:\n{instructions}")
            })
    };
    let (variables, trigger) = (under("1"), under("3"));
    gh.commit(
        CUSTOMER_REPO,
        "main",
        &[
            ("infra/variables.yml", variables.as_str()),
            (".github/workflows/customer-trigger.yml", trigger.as_str()),
        ],
    );
    for line in instructions.lines() {
        let cells: Vec<&str> = line
            .split('|')
            .map(|c| c.trim().trim_matches('`'))
            .collect();
        if let ["", "variable", name, value, ""] = cells.as_slice() {
            // A value in brackets is what the provider sends: the relay's
            // address.
            let value = if value.starts_with('(') {
                relay_url.as_str()
            } else {
                value
            };
            gh.add_repo_variable(CUSTOMER_REPO, name);
            gh.set_variable(CUSTOMER_REPO, None, name, value);
            if *name == "FLEETFORM_RELAY_AUDIENCE" {
                w.issuer.set_audience(value);
            }
        }
    }
    let changed = variables.replacen("instance_count: 1", "instance_count: 2", 1);
    assert_ne!(
        changed, variables,
        "the starter sets instance_count: 1:\n{variables}"
    );
    let head = gh.commit(
        CUSTOMER_REPO,
        "first",
        &[("infra/variables.yml", changed.as_str())],
    );
    let pr = gh.open_pr(CUSTOMER_REPO, "first", "main", "More instances");
    let dir = tempfile::tempdir().unwrap();
    let workflow = dir.path().join("customer-trigger.yml");
    std::fs::write(&workflow, &trigger).unwrap();
    let mut event = Event {
        name: "pull_request".into(),
        payload: crate::world::pr_event(pr, "first", &head),
        git_ref: format!("refs/pull/{pr}/merge"),
        actor: "acme-dev".into(),
        inputs: serde_json::Value::Null,
    };
    event.payload["action"] = "opened".into();
    let mut customer = Runner::new(CUSTOMER_REPO);
    customer.machine_env("FLEETFORM_RETRY_BASE_MS", "50");
    customer
        .run_with_oidc(gh, &w.issuer, &workflow.display().to_string(), &event)
        .assert_succeeded(&["trigger"]);
    let dispatch = gh
        .dispatches(MANAGER)
        .last()
        .cloned()
        .expect("the relay dispatched");
    let mut manager = Runner::new(MANAGER);
    manager.sealed_secrets(gh, &w.actions_key);
    manager.machine_env("FLEETFORM_RETRY_BASE_MS", "50");
    // What GitHub starts for the relay's dispatch: a lone event the
    // relay timed goes as a batch of one (manager-batch.yml).
    let workflows = w.cwd.join(".github/workflows");
    manager
        .run_started(gh, &workflows_in(&workflows), &Event::dispatch(&dispatch))
        .assert_entry_succeeded(
            0,
            &["authorise", "plan-staging", "plan-production", "conclude"],
        );
    gh.comments(CUSTOMER_REPO, pr)
        .into_iter()
        .map(|c| c.body)
        .collect()
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
        issuer: FakeIssuer::start(),
        moto: Moto::start(),
        actions_key: crypto_box::SecretKey::generate(&mut crypto_box::aead::OsRng),
        relay: None,
    };
    let mut instructions = String::new();
    let mut comments = Vec::new();
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
            instructions = output.clone();
        }
        if step.title.starts_with("9.") {
            comments = first_plan_comment(&w, &instructions);
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
    assert!(ran >= 12, "{ran} commands");
    // The first customer's pull request has its plan comment, of each
    // environment.
    for env in ["staging", "production"] {
        assert!(
            comments
                .iter()
                .any(|c| c.contains(&format!("customer=acme environment={env}"))),
            "{comments:#?}"
        );
    }
    w.gh.assert_clean();
}
