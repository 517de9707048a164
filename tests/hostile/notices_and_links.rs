//! Hostile input, third round (SECURITY.md, "Attack classes" 14–16):
//!
//! - **Notifications that never end**: a webhook that never answers gets
//!   three attempts per command however many notices it is sent (two
//!   `notify:` entries with one URL share them), the other targets get
//!   theirs in parallel, one deadline ends all of a command's
//!   notifications, and the command's output and exit code stay its own.
//! - **Containment on the real path**: the `links/` corpus cases lay out
//!   symlinks in a copy of an example manager (every path fleetform.yml
//!   names, a link chain, a climbing link, a broken link, a loop) and
//!   `plan --all` must refuse at the key's `fleetform.yml:line:col`,
//!   naming where the path leads; a link inside the repo that points
//!   inside it is followed.
//! - **`validate` and `plan` agree**: every customer file of the corpus
//!   (`vars/`, and the `products/` cases that set what another product
//!   passes) gets the same verdict from `validate` as from `plan` (or, for
//!   products, from `render` of every environment, where the one check
//!   lives).

use crate::common;
use crate::corpus;
use crate::notify::Receiver;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use common::{require_terraform, stderr, stdout, Fixture};
use corpus::{cases, corpus, judge_in, report, run_bounded};

// ---------------------------------------------------------------------
// Notifications

/// A receiver on 127.0.0.1 that reads every request and never answers
/// (the connection is held open); counts the requests it read.
struct Silent {
    url: String,
    addr: std::net::SocketAddr,
    hits: Arc<Mutex<usize>>,
    settled: Mutex<mpsc::Receiver<()>>,
}

impl Silent {
    fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(Mutex::new(0));
        let (h, (tx, rx)) = (hits.clone(), mpsc::channel());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let (mut first, mut line, mut length) = (String::new(), String::new(), 0);
                let _ = reader.read_line(&mut first);
                if first.starts_with("SETTLE") {
                    let _ = tx.send(());
                    continue;
                }
                while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    line.clear();
                }
                let mut body = vec![0; length];
                if first.starts_with("POST") && reader.read_exact(&mut body).is_ok() {
                    *h.lock().unwrap() += 1;
                }
                held.push(stream);
            }
        });
        Silent {
            url: format!("http://{addr}/hooks/T0SECRET/never-answers"),
            addr,
            hits,
            settled: Mutex::new(rx),
        }
    }

    /// The requests read, once every connection made before this call
    /// was read (connections are taken in order; a last one of our own
    /// marks the end), so no count is missed on a slow machine.
    fn hits(&self) -> usize {
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.write_all(b"SETTLE\r\n").unwrap();
        self.settled
            .lock()
            .unwrap()
            .recv_timeout(Duration::from_secs(120))
            .expect("the receiver reads every connection");
        *self.hits.lock().unwrap()
    }
}

/// Four active customers whose tokens expire within 30 days of
/// `FLEETFORM_NOW` (2026-11-22), and `notify:` with the given entries
/// (name, kind, variable), all for `token_expiring`.
fn four_expiring_tokens(fx: &Fixture, entries: &[(&str, &str, &str)]) {
    let mut reg = String::from("customers:\n");
    for c in ["c01", "c02", "c03", "c04"] {
        reg.push_str(&format!(
            "  - slug: {c}\n    repo: owner/{c}\n    contact: ops@{c}.example\n    environments: [staging]\n    added: 2026-01-01\n    token: {{name: {c}-manager-pat, expires: 2026-12-01}}\n"
        ));
    }
    fx.write("manager/customers.yml", &reg);
    let mut notify = String::from("\nnotify:\n");
    for (name, kind, var) in entries {
        notify.push_str(&format!(
            "  - name: {name}\n    kind: {kind}\n    url_env: {var}\n    events: [token_expiring]\n"
        ));
    }
    fx.append("manager/fleetform.yml", &notify);
}

fn customers_list(fx: &Fixture, notify: bool, env: &[(&str, &str)]) -> common::Ran {
    common::Run::from(fx.fleetform())
        .env("FLEETFORM_NOW", "1795305600")
        .args(["customers", "list"])
        .arg_if(notify, "--notify")
        .envs(env.iter().copied())
        .output()
}

/// `customers list --notify` with four expiring tokens and a webhook that
/// never answers, named by two `notify:` entries: three attempts in all
/// (not three per notice, nor per entry), every other notice to it not
/// sent and said so; the other target gets all four; the list and the
/// exit code are those of `customers list`.
#[test]
fn a_silent_webhook_gets_three_attempts_per_command() {
    let fx = Fixture::new();
    four_expiring_tokens(
        &fx,
        &[
            ("pager", "webhook", "FLEETFORM_PAGER_WEBHOOK"),
            ("pager-copy", "webhook", "FLEETFORM_PAGER_COPY_WEBHOOK"),
            ("ops-hook", "webhook", "FLEETFORM_OPS_WEBHOOK"),
        ],
    );
    let silent = Silent::start();
    let ops = Receiver::start(vec![], 200);
    let plain = customers_list(&fx, false, &[]);
    common::assert_code(&plain, 0);
    let out = customers_list(
        &fx,
        true,
        &[
            ("FLEETFORM_PAGER_WEBHOOK", &silent.url),
            ("FLEETFORM_PAGER_COPY_WEBHOOK", &silent.url),
            ("FLEETFORM_OPS_WEBHOOK", &ops.url),
            ("FLEETFORM_NOTIFY_TIMEOUT_MS", "300"),
        ],
    );
    let err = stderr(&out);
    common::assert_ok(&out);
    assert_eq!(
        stdout(&out),
        stdout(&plain),
        "the list is the command's own"
    );
    assert_eq!(silent.hits(), 3, "{err}");
    let mut customers: Vec<String> = ops
        .bodies()
        .iter()
        .map(|b| b["customer"].as_str().unwrap_or_default().to_string())
        .collect();
    customers.sort();
    assert_eq!(customers, ["c01", "c02", "c03", "c04"], "{err}");
    for want in [
        "warning: notify target `pager` (URL from FLEETFORM_PAGER_WEBHOOK): token_expiring not delivered: no answer after 3 attempts",
        "warning: notify target `pager` (URL from FLEETFORM_PAGER_WEBHOOK): 3 more notices not sent (token_expiring, token_expiring, token_expiring): the target failed all 3 attempts it has in one command",
        "warning: notify target `pager-copy` (URL from FLEETFORM_PAGER_COPY_WEBHOOK): 4 more notices not sent",
    ] {
        assert_eq!(err.matches(want).count(), 1, "want once: {want}\n{err}");
    }
    assert!(
        !err.contains("never-answers") && !err.contains("T0SECRET"),
        "{err}"
    );
}

/// With the per-attempt timeout at its default (10 s) and the deadline
/// at 5 s, a webhook that never answers is cut off by the deadline after
/// at most one attempt, while the Slack target, posted to in parallel
/// and listed after it, gets all four notices; the exit code stays 0.
#[test]
fn one_deadline_ends_every_notification_of_a_command() {
    let fx = Fixture::new();
    four_expiring_tokens(
        &fx,
        &[
            ("pager", "webhook", "FLEETFORM_PAGER_WEBHOOK"),
            ("ops-slack", "slack", "FLEETFORM_SLACK_WEBHOOK"),
        ],
    );
    let silent = Silent::start();
    let slack = Receiver::start(vec![], 200);
    let out = customers_list(
        &fx,
        true,
        &[
            ("FLEETFORM_PAGER_WEBHOOK", &silent.url),
            ("FLEETFORM_SLACK_WEBHOOK", &slack.url),
            ("FLEETFORM_NOTIFY_DEADLINE_SECS", "5"),
        ],
    );
    let err = stderr(&out);
    common::assert_ok(&out);
    assert!(silent.hits() <= 1, "{err}");
    assert_eq!(slack.bodies().len(), 4, "{err}");
    assert!(
        err.contains("warning: notify target `pager` (URL from FLEETFORM_PAGER_WEBHOOK): ")
            && err.contains(" not delivered (token_expiring")
            && err.contains("a command waits at most 5 s for its notifications"),
        "{err}"
    );

    // A setting that does not read is a warning, never the exit code.
    let out = customers_list(
        &fx,
        true,
        &[
            ("FLEETFORM_SLACK_WEBHOOK", &slack.url),
            ("FLEETFORM_NOTIFY_DEADLINE_SECS", "forever"),
        ],
    );
    common::assert_code(&out, 0);
    assert!(
        stderr(&out).contains(
            "warning: FLEETFORM_NOTIFY_DEADLINE_SECS=`forever` is not a whole number from 0 to 600; using 40"
        ),
        "{}",
        stderr(&out)
    );
}

// ---------------------------------------------------------------------
// Containment on the real path

/// One `links/` case: the example manager it runs in, text appended to
/// its fleetform.yml, and the links laid out in it, in order.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkCase {
    #[serde(default = "default_manager")]
    manager: String,
    #[serde(default)]
    append: String,
    links: Vec<Link>,
}

/// A link at `at` (in the manager repo) whose text is `to` (`{outside}`
/// is a folder next to the example, outside every manager repo). What was
/// at `at` moves to where the link leads, unless that exists already (then
/// it is removed) or the case wants the target `missing`; a target that
/// does not exist and has nothing to move becomes an empty folder.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Link {
    at: String,
    to: String,
    #[serde(default)]
    missing: bool,
}

fn default_manager() -> String {
    "manager".into()
}

/// Lays out `case` in `fx`; returns the manager repo.
fn lay_out(fx: &Fixture, case: &LinkCase) -> PathBuf {
    let manager = fx.path(&case.manager);
    let outside = fx.path("outside");
    std::fs::create_dir_all(&outside).unwrap();
    if !case.append.is_empty() {
        let cfg = manager.join("fleetform.yml");
        let text = std::fs::read_to_string(&cfg).unwrap();
        std::fs::write(&cfg, format!("{text}\n{}", case.append)).unwrap();
    }
    for link in &case.links {
        let at = manager.join(&link.at);
        let text = link.to.replace("{outside}", &outside.display().to_string());
        let target = at.parent().unwrap().join(&text);
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        let exists = |p: &Path| std::fs::symlink_metadata(p).is_ok();
        if link.missing || exists(&target) {
            if at.is_dir() && !at.is_symlink() {
                std::fs::remove_dir_all(&at).unwrap();
            } else if exists(&at) {
                std::fs::remove_file(&at).unwrap();
            }
        } else {
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            if exists(&at) {
                std::fs::rename(&at, &target).unwrap();
            } else {
                std::fs::create_dir_all(&target).unwrap();
            }
        }
        std::os::unix::fs::symlink(&text, &at).unwrap();
    }
    manager
}

/// Every `links/` case under `plan --all`: refused at its key, naming
/// where the path leads, nothing planned or written.
#[test]
fn hostile_links() {
    let cases = cases("links");
    assert!(cases.len() >= 12, "{}", cases.len());
    let mut failures = Vec::new();
    for (file, expect) in &cases {
        let fx = Fixture::new();
        let text = std::fs::read_to_string(corpus().join(file)).unwrap();
        let case: LinkCase = yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        let manager = lay_out(&fx, &case);
        let run = run_bounded(&manager, &fx.path("terraformrc"), &["plan", "--all"], &[]);
        let mut problems: Vec<String> =
            judge_in(file, expect, &run, &manager).into_iter().collect();
        let outside = std::fs::canonicalize(fx.path("outside")).unwrap();
        let leads_out = case.links.last().is_some_and(|l| {
            l.to.starts_with("{outside}") && !l.missing || l.to.starts_with("../")
        });
        if leads_out && !run.text().contains(&outside.display().to_string()) {
            problems.push(format!("{file}: does not say where the path leads"));
        }
        if run.code != Some(2) {
            problems.push(format!("{file}: expected exit 2, got {:?}", run.code));
        }
        if !problems.is_empty() {
            failures.push(problems.join("\n"));
        }
    }
    report(failures, cases.len());
}

/// Links inside the manager repo that point inside it are followed: the
/// root module and the schema folder moved under `shared/` and linked
/// from where fleetform.yml names them still plan and validate.
#[test]
fn links_that_stay_inside_the_repo_are_followed() {
    require_terraform();
    let fx = Fixture::new();
    let case = LinkCase {
        manager: default_manager(),
        append: String::new(),
        links: vec![
            Link {
                at: "terraform".into(),
                to: "shared/module".into(),
                missing: false,
            },
            Link {
                at: "schema".into(),
                to: "../manager/shared/schema".into(),
                missing: false,
            },
        ],
    };
    lay_out(&fx, &case);
    common::run(&fx, &["validate"]).code(0);
    let out = common::run(
        &fx,
        &["plan", "--customer", "acme", "--env", "staging", "--json"],
    )
    .code(0);
    let rows: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(rows[0]["result"], "planned", "{rows}");
    assert_eq!(rows[0]["summary"]["create"], 3, "{rows}");
}

// ---------------------------------------------------------------------
// validate = plan

/// The verdict and the text of a run.
fn verdict(out: &impl common::Streams) -> (bool, String) {
    (
        out.exit_code() == Some(0),
        format!("{}\n{}", stdout(out), stderr(out)),
    )
}

/// Every customer file of the corpus (`vars/`) as acme's variables:
/// `validate --customer acme` and `plan --customer acme` (every enabled
/// environment) both refuse it, both naming the problem. The example's own
/// file is accepted by both.
#[test]
fn validate_and_plan_agree_on_every_hostile_customer_file() {
    require_terraform();
    let mut cases = cases("vars");
    assert!(cases.len() >= 30);
    cases.push(("(the example's own file)".into(), String::new()));
    let mut failures = Vec::new();
    for (file, expect) in &cases {
        let fx = Fixture::new();
        if !expect.is_empty() {
            let bytes = std::fs::read(corpus().join(file)).unwrap();
            std::fs::write(fx.path("customers/acme/infra/variables.yml"), bytes).unwrap();
        }
        let (valid, v_text) = verdict(
            &common::Run::from(fx.fleetform())
                .args(["validate", "--customer", "acme"])
                .output(),
        );
        let (planned, p_text) = verdict(
            &common::Run::from(fx.fleetform())
                .args(["plan", "--customer", "acme"])
                .output(),
        );
        if valid != planned {
            failures.push(format!(
                "{file}: validate {} but plan {}\n  validate: {v_text}\n  plan: {p_text}",
                if valid { "accepts" } else { "refuses" },
                if planned { "accepts" } else { "refuses" },
            ));
        } else if valid == expect.is_empty() {
            // An expectation written for a run under Actions shows
            // workflow commands neutralised (`##\[`, `\::`); these runs
            // are not under Actions and print them as they are.
            let plain = expect.replace("##\\[", "##[").replace("\\::", "::");
            let (seen_by_validate, seen_by_plan) = (
                v_text.contains(expect.as_str()) || v_text.contains(&plain),
                p_text.contains(expect.as_str()) || p_text.contains(&plain),
            );
            if !(seen_by_validate && seen_by_plan) {
                failures.push(format!(
                    "{file}: `{expect}` named by validate: {seen_by_validate}, by plan: {seen_by_plan}\n  validate: {v_text}\n  plan: {p_text}"
                ));
            }
        } else {
            failures.push(format!(
                "{file}: both {}",
                if valid { "accept" } else { "refuse" }
            ));
        }
    }
    report(failures, cases.len());
}

/// Every `products/` case as acme's `app` values in the products example,
/// with an app schema that lets any key through (so the check under test
/// is the only one in the way): `validate` refuses it (the corpus checks),
/// and its verdict is the one `render --product app` gives over acme's
/// environments, the check `plan` makes through the same code.
#[test]
fn hostile_product_values_get_one_verdict() {
    let cases = cases("products");
    assert!(cases.len() >= 5);
    let mut failures = Vec::new();
    for (file, expect) in &cases {
        let fx = Fixture::new();
        fx.write(
            "products/manager/products/app/schema.json",
            "{\"type\": \"object\"}\n",
        );
        let bytes = std::fs::read(corpus().join(file)).unwrap();
        std::fs::write(
            fx.path("products/customers/acme/infra/app/variables.yml"),
            bytes,
        )
        .unwrap();
        let manager = fx.path("products/manager");
        let run = run_bounded(
            &manager,
            &fx.path("terraformrc"),
            &["validate", "--customer", "acme"],
            &[],
        );
        failures.extend(judge_in(file, expect, &run, &manager));
        let mut rendered = true;
        for env in ["staging", "production"] {
            let out = common::Run::from(fx.fleetform())
                .current_dir(&manager)
                .args([
                    "render",
                    "--customer",
                    "acme",
                    "--product",
                    "app",
                    "--env",
                    env,
                ])
                .output();
            rendered &= out.status.success();
        }
        if rendered != (run.code == Some(0)) {
            failures.push(format!(
                "{file}: validate exit {:?}, but render of every environment {}",
                run.code,
                if rendered { "succeeds" } else { "fails" }
            ));
        }
    }
    report(failures, cases.len());
}
