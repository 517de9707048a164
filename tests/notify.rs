//! Notifications (`notify:` in fleetform.yml), received by a small HTTP
//! server on 127.0.0.1 in the test: the Slack `{"text"}` and the generic
//! JSON shapes for `drift_found` (`fleetform drift`), `apply_failed` (an
//! `apply --dispatch` on the fake GitHub whose Terraform apply fails, and a
//! rollout tick on the test cloud whose apply fails) with `rollout_halted`,
//! `approval_waiting` (`apply --dispatch` refused for want of approvals)
//! and `token_expiring` (`customers list --notify`); a 500 is retried and
//! then delivered; a receiver that always fails, or a missing variable, is
//! a warning that leaves the exit code alone; nothing secret (the webhook
//! URL, the dispatch secret) appears in the output or the messages; a bad
//! `notify:` is refused at fleetform.yml:line:col.

use crate::common;
use crate::fakecloud;
use crate::world;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use common::{require_terraform, stderr, stdout, Fixture, ARTIFACT_KEY, DISPATCH_SECRET};
use serde_json::Value;

/// A receiver on 127.0.0.1: answers each request with the next status of
/// `statuses` (then `then`), keeps every body it got.
pub(crate) struct Receiver {
    pub(crate) url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
    hits: Arc<Mutex<usize>>,
}

impl Receiver {
    pub(crate) fn start(statuses: Vec<u16>, then: u16) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let hits = Arc::new(Mutex::new(0));
        let (b, h) = (bodies.clone(), hits.clone());
        std::thread::spawn(move || {
            let mut statuses = statuses.into_iter();
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; length];
                if reader.read_exact(&mut body).is_err() {
                    continue;
                }
                *h.lock().unwrap() += 1;
                let status = statuses.next().unwrap_or(then);
                if status < 300 {
                    b.lock()
                        .unwrap()
                        .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                }
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nretry-after: 0\r\nconnection: close\r\n\r\n"
                );
            }
        });
        Receiver {
            url: format!("http://127.0.0.1:{port}/hooks/T0SECRET/B0SECRET/xyzzy-webhook-token"),
            bodies,
            hits,
        }
    }

    pub(crate) fn bodies(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }

    pub(crate) fn hits(&self) -> usize {
        *self.hits.lock().unwrap()
    }
}

/// `notify:` with a Slack target and a generic one.
fn notify_yaml(events_slack: &str, events_hook: &str) -> String {
    format!(
        "\nnotify:\n  - name: ops-slack\n    kind: slack\n    url_env: FLEETFORM_SLACK_WEBHOOK\n    events: [{events_slack}]\n  - name: pager\n    kind: webhook\n    url_env: FLEETFORM_PAGER_WEBHOOK\n    events: [{events_hook}]\n"
    )
}

/// Nothing secret in the output or in what was sent (but in the line that
/// asks the Actions runner to mask it).
fn assert_no_secrets(out: &impl common::Streams, sent: &[Value], urls: &[&str]) {
    let shown: Vec<String> = format!("{}\n{}", stdout(out), stderr(out))
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .map(str::to_string)
        .collect();
    let all = format!(
        "{}\n{}",
        shown.join("\n"),
        serde_json::to_string(sent).unwrap()
    );
    for secret in urls.iter().copied().chain([
        DISPATCH_SECRET,
        ARTIFACT_KEY,
        "xyzzy-webhook-token",
        "T0SECRET",
    ]) {
        assert!(!all.contains(secret), "`{secret}` leaked:\n{all}");
    }
}

/// The generic shape: exactly these keys.
fn assert_generic(v: &Value) {
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "event",
            "customer",
            "environment",
            "product",
            "summary",
            "run_url",
            "time"
        ],
        "{v}"
    );
}

/// acme applied in `envs` on the test cloud, then its buckets' versioning
/// switched off outside Terraform: drift there (a pair never applied is
/// not drift, and an edit of the customer's files not applied yet is not
/// either: issue #52).
fn drifted_acme(fx: &Fixture, envs: &[&str]) {
    let cloud = crate::fakecloud::onto_fixture(fx);
    for env in envs {
        common::apply_locally(fx, "acme", env);
    }
    crate::fakecloud::versioning_off(&cloud, "acme-");
}

#[test]
fn drift_found_reaches_slack_and_the_webhook() {
    require_terraform();
    let fx = Fixture::new();
    drifted_acme(&fx, &["staging", "production"]);
    fx.append(
        "manager/fleetform.yml",
        &notify_yaml("drift_found, apply_failed", "drift_found"),
    );
    let slack = Receiver::start(vec![], 200);
    let pager = Receiver::start(vec![], 200);
    let out = common::Run::from(fx.fleetform())
        .env("FLEETFORM_SLACK_WEBHOOK", &slack.url)
        .env("FLEETFORM_PAGER_WEBHOOK", &pager.url)
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_REPOSITORY", "provider/manager")
        .env("GITHUB_RUN_ID", "4242")
        .args(["drift", "--customer", "acme", "--json"])
        .code(4);
    let (s, p) = (slack.bodies(), pager.bodies());
    assert_eq!((s.len(), p.len()), (2, 2), "{s:?} {p:?}");
    let text = s[0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("fleetform drift found — acme/") && text.contains("drift: +"),
        "{text}"
    );
    assert_eq!(s[0].as_object().unwrap().len(), 1, "{}", s[0]);
    for v in &p {
        assert_generic(v);
        assert_eq!(v["event"], "drift_found");
        assert_eq!(v["customer"], "acme");
        assert!(
            v["summary"].as_str().unwrap().starts_with("drift: +"),
            "{v}"
        );
    }
    let mut envs: Vec<&str> = p
        .iter()
        .map(|v| v["environment"].as_str().unwrap())
        .collect();
    envs.sort();
    assert_eq!(envs, ["production", "staging"]);
    assert_eq!(
        p[0]["run_url"],
        "https://github.com/provider/manager/actions/runs/4242"
    );
    assert_no_secrets(&out, &[s, p].concat(), &[&slack.url, &pager.url]);
}

/// A 500 then a 200: delivered on the second attempt. A receiver that
/// always answers 500 gets three attempts and the exit code stays; a
/// missing variable is a warning naming it.
#[test]
fn retries_and_failures_never_change_the_exit_code() {
    require_terraform();
    let fx = Fixture::new();
    drifted_acme(&fx, &["staging"]);
    fx.append(
        "manager/fleetform.yml",
        &notify_yaml("drift_found", "drift_found"),
    );
    let flaky = Receiver::start(vec![500, 500], 200);
    let down = Receiver::start(vec![], 500);
    let out = common::Run::from(fx.fleetform())
        .env("FLEETFORM_SLACK_WEBHOOK", &flaky.url)
        .env("FLEETFORM_PAGER_WEBHOOK", &down.url)
        .args(["drift", "--customer", "acme", "--env", "staging", "--json"])
        .code(4);
    assert_eq!(flaky.bodies().len(), 1, "delivered once");
    assert_eq!(flaky.hits(), 3, "two 500s, then the 200");
    assert_eq!(down.hits(), 3, "three attempts");
    assert!(down.bodies().is_empty());
    let err = stderr(&out);
    assert!(
        err.contains("notify target `pager` (URL from FLEETFORM_PAGER_WEBHOOK): drift_found not delivered: the receiver answered 500 after 3 attempts"),
        "{err}"
    );
    assert_no_secrets(&out, &flaky.bodies(), &[&flaky.url, &down.url]);

    // No variable: a warning naming it, the same exit code.
    let out = common::Run::from(fx.fleetform())
        .env("FLEETFORM_PAGER_WEBHOOK", &down.url)
        .args(["drift", "--customer", "acme", "--env", "staging", "--json"])
        .code(4);
    assert!(
        stderr(&out).contains("notify target `ops-slack`: FLEETFORM_SLACK_WEBHOOK is not set"),
        "{}",
        stderr(&out)
    );

    // Plain http to anything but a loopback address is not sent.
    let out = common::Run::from(fx.fleetform())
        .env(
            "FLEETFORM_SLACK_WEBHOOK",
            "http://hooks.example.com/T0SECRET/xyzzy-webhook-token",
        )
        .args(["drift", "--customer", "acme", "--env", "staging", "--json"])
        .code(4);
    assert!(stderr(&out).contains("is not https"), "{}", stderr(&out));
    assert_no_secrets(&out, &[], &["hooks.example.com"]);
}

const ROLLOUT: &str = "
rollout:
  bake: 0s
  max_parallel: 2
  halt:
    max_failures: 0
  waves:
    - name: all
";

/// A rollout tick on the test cloud whose apply of c02 fails:
/// `apply_failed` for c02 and `rollout_halted`, in both shapes.
#[test]
fn a_failed_rollout_apply_and_the_halt_are_sent() {
    require_terraform();
    let fx = Fixture::new();
    let installed = fakecloud::install(&fx.path("fakecloud"));
    fx.write(
        "manager/terraform/main.tf",
        include_str!("../examples/fakecloud/main.tf"),
    );
    let vars = fx.read("customers/acme/infra/variables.yml");
    let mut registry = String::from("customers:\n");
    for c in ["c01", "c02", "c03"] {
        fx.write(
            &format!("customers/{c}/infra/variables.yml"),
            &vars.replace("acme", c),
        );
        registry.push_str(&format!(
            "  - slug: {c}\n    path: ../customers/{c}\n    contact: ops@{c}.test\n    environments: [staging]\n    added: 2026-01-01\n"
        ));
    }
    fx.write("manager/customers.yml", &registry);
    fx.append("manager/fleetform.yml", ROLLOUT);
    fx.append(
        "manager/fleetform.yml",
        &notify_yaml("apply_failed, rollout_halted", "apply_failed"),
    );
    fx.git(&["init", "-q"]);
    fx.git(&["add", "-A"]);
    fx.git(&["commit", "-q", "-m", "base"]);
    let staging = fx.read("manager/values/staging.yml");
    fx.write(
        "manager/values/staging.yml",
        &staging.replace("tier: staging", "tier: staging-2"),
    );
    fx.git(&["commit", "-q", "-am", "staging tier"]);
    let slack = Receiver::start(vec![], 200);
    let pager = Receiver::start(vec![], 200);
    let run = |args: &[&str], fail: Option<&str>| {
        common::Run::from(fx.fleetform())
            .env("TF_CLI_CONFIG_FILE", &installed.cli_config)
            .env("FAKECLOUD_FILE", fx.path("cloud.json"))
            .env("USER", "ops-dana")
            .env("FLEETFORM_SLACK_WEBHOOK", &slack.url)
            .env("FLEETFORM_PAGER_WEBHOOK", &pager.url)
            .envs(fail.map(|f| ("FAKECLOUD_FAIL_ON", f)))
            .args(args)
            .output()
    };
    let out = run(&["rollout", "start", "--base", "HEAD~1"], None);
    common::assert_code(&out, 0);
    let out = run(&["rollout", "tick"], Some("c02-staging"));
    common::assert_code(&out, 1);
    let (s, p) = (slack.bodies(), pager.bodies());
    let texts: Vec<&str> = s.iter().map(|v| v["text"].as_str().unwrap()).collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("fleetform apply failed — c02/staging: rollout ")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("fleetform rollout halted: rollout ")),
        "{texts:?}"
    );
    assert_eq!(p.len(), 1, "{p:?}");
    assert_generic(&p[0]);
    assert_eq!(
        (&p[0]["event"], &p[0]["customer"], &p[0]["environment"]),
        (
            &Value::from("apply_failed"),
            &Value::from("c02"),
            &Value::from("staging")
        )
    );
    // The failure's text (Terraform's) stays in the run.
    assert!(
        !serde_json::to_string(&p).unwrap().contains("FAKECLOUD"),
        "{p:?}"
    );
    assert_no_secrets(&out, &[s, p].concat(), &[&slack.url, &pager.url]);
}

/// `customers list --notify`: one `token_expiring` per active customer
/// whose token expires within 30 days.
#[test]
fn expiring_tokens_are_sent_by_customers_list_notify() {
    let fx = Fixture::new();
    let reg = fx.read("manager/customers.yml").replacen(
        "  - slug: acme\n",
        "  - slug: acme\n    token: {name: acme-manager-pat, expires: 2026-12-01}\n",
        1,
    );
    assert!(reg.contains("acme-manager-pat"), "{reg}");
    fx.write("manager/customers.yml", &reg);
    fx.append(
        "manager/fleetform.yml",
        &notify_yaml("token_expiring", "token_expiring"),
    );
    let slack = Receiver::start(vec![], 200);
    let pager = Receiver::start(vec![], 200);
    let list = |notify: bool| {
        common::Run::from(fx.fleetform())
            .env("FLEETFORM_SLACK_WEBHOOK", &slack.url)
            .env("FLEETFORM_PAGER_WEBHOOK", &pager.url)
            // 2026-11-22: nine days before the expiry.
            .env("FLEETFORM_NOW", "1795305600")
            .args(["customers", "list"])
            .arg_if(notify, "--notify")
            .output()
    };
    let out = list(false);
    common::assert_code(&out, 0);
    assert!(slack.bodies().is_empty(), "only with --notify");
    let out = list(true);
    common::assert_code(&out, 0);
    let p = pager.bodies();
    assert_eq!(p.len(), 1, "{p:?}");
    assert_generic(&p[0]);
    assert_eq!(p[0]["event"], "token_expiring");
    assert_eq!(p[0]["customer"], "acme");
    assert!(
        p[0]["summary"]
            .as_str()
            .unwrap()
            .contains("expires in 9 days"),
        "{p:?}"
    );
    assert!(!p[0].to_string().contains("acme-manager-pat"), "{p:?}");
    assert_eq!(slack.bodies().len(), 1);
    assert_no_secrets(
        &out,
        &[slack.bodies(), p].concat(),
        &[&slack.url, &pager.url],
    );
}

/// A bad `notify:` is refused where it is: unknown kind or event, a name
/// twice, a variable that is not a name or holds fleetform's own secret.
#[test]
fn bad_notify_config_is_refused_at_its_line() {
    let cases: &[(&str, &str, &str)] = &[
        ("  - name: a\n    kind: teams\n    url_env: X\n    events: [drift_found]\n", ":3:11", "teams"),
        ("  - name: a\n    kind: slack\n    url_env: X\n    events: [drift_fond]\n", ":5:14", "drift_fond"),
        (
            "  - name: a\n    kind: slack\n    url_env: X\n    events: [drift_found]\n  - name: a\n    kind: slack\n    url_env: Y\n    events: [drift_found]\n",
            ":6:11",
            "declared twice",
        ),
        ("  - name: a\n    kind: slack\n    url_env: 1X\n    events: [drift_found]\n", ":4:14", "environment variable"),
        (
            "  - name: a\n    kind: slack\n    url_env: FLEETFORM_DISPATCH_SECRET\n    events: [drift_found]\n",
            ":4:14",
            "own secrets",
        ),
        ("  - name: a\n    kind: slack\n    url_env: X\n    events: []\n", ":5:13", "at least one event"),
    ];
    for (yaml, at, want) in cases {
        let fx = Fixture::new();
        let cfg = fx.read("manager/fleetform.yml");
        let text = format!("{cfg}\nnotify:\n{yaml}");
        fx.write("manager/fleetform.yml", &text);
        // `at` counts from the `notify:` line (line 1 there).
        let notify_line = 1 + text.lines().position(|l| l == "notify:").unwrap();
        let out = common::Run::from(fx.fleetform())
            .args(["validate"])
            .output();
        let err = stderr(&out);
        common::assert_code_for(format_args!("{yaml}"), &out, 2);
        let (line, col) = at[1..].split_once(':').unwrap();
        let line: usize = line.parse::<usize>().unwrap() + notify_line - 1;
        let located = format!("fleetform.yml:{line}:{col}");
        assert!(err.contains(&located), "{yaml}: want {located}: {err}");
        assert!(err.contains(want), "{yaml}: want {want}: {err}");
    }
}

/// `apply --dispatch` refused because the plan waits for approvals on the
/// pull request (`approvals:`, on the fake GitHub): `approval_waiting`
/// for acme/production with the plan digest's prefix and the run. The
/// manager's secrets and token never reach the receiver or the log.
#[test]
fn an_apply_waiting_for_approvals_is_sent() {
    use world::{ok, World, ACME};
    let mut w = World::new();
    w.fx.append(
        "manager/fleetform.yml",
        "\napprovals:\n  production:\n    required: 1\n    users: [alice]\n",
    );
    w.fx.append(
        "manager/fleetform.yml",
        &notify_yaml("approval_waiting", "approval_waiting, apply_failed"),
    );
    w.change_acme("feature", 9);
    let pr = w.gh.open_pr(ACME, "feature", "main", "more instances");
    let sha = w.change_acme("main", 9);
    let d = common::signed(&serde_json::json!({
        "event_type": "fleetform-apply",
        "client_payload": {
            "v": 1, "customer_repo": ACME, "sha": sha, "ref": "refs/heads/main",
            "pr": pr, "event": "push", "trigger_run_url": null,
            "dispatch_id": "d-notify", "files": ["infra/variables.yml"]
        }
    }));
    let (plan, files) = w.plan_event(&d, "production");
    ok(&plan);
    let digest = files.outputs()["plan_sha256"].clone();
    let slack = Receiver::start(vec![], 200);
    let pager = Receiver::start(vec![], 200);
    let (cmd, _) = w.apply_step(&d, "production", &digest);
    let apply = common::Run::from(cmd)
        .env("FLEETFORM_SLACK_WEBHOOK", &slack.url)
        .env("FLEETFORM_PAGER_WEBHOOK", &pager.url)
        .output();
    common::assert_code(&apply, 3);
    assert!(
        stderr(&apply).contains("waiting for approval: 0 of 1"),
        "{}",
        stderr(&apply)
    );
    let (s, p) = (slack.bodies(), pager.bodies());
    assert_eq!((s.len(), p.len()), (1, 1), "{s:?} {p:?}");
    assert_generic(&p[0]);
    assert_eq!(p[0]["event"], "approval_waiting");
    assert_eq!(p[0]["customer"], "acme");
    assert_eq!(p[0]["environment"], "production");
    let summary = p[0]["summary"].as_str().unwrap();
    assert!(
        summary.ends_with(&format!("(plan sha256:{})", &digest[..12])),
        "{summary}"
    );
    assert!(!summary.contains(&digest), "only a prefix: {summary}");
    assert!(
        p[0]["run_url"]
            .as_str()
            .unwrap()
            .starts_with("https://github.com/provider/manager/actions/runs/"),
        "{p:?}"
    );
    let text = s[0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("fleetform approval waiting — acme/production: "),
        "{text}"
    );
    // Under Actions the URL is handed to the runner to mask, and nowhere else.
    assert!(stderr(&apply).contains(&format!("::add-mask::{}", slack.url)));
    assert_no_secrets(
        &apply,
        &[s, p].concat(),
        &[&slack.url, &pager.url, w.gh.token()],
    );
}

/// `apply --dispatch` whose Terraform apply fails (its state file cannot be
/// written: a folder stands where it goes): `apply_failed` for
/// acme/staging, without Terraform's words; the exit code is the failure's.
#[test]
fn a_failed_dispatched_apply_is_sent() {
    use world::{ok, World, ACME};
    let mut w = World::new();
    w.fx.append(
        "manager/fleetform.yml",
        &notify_yaml("apply_failed", "apply_failed"),
    );
    let sha = w.change_acme("main", 9);
    let d = common::signed(&serde_json::json!({
        "event_type": "fleetform-apply",
        "client_payload": {
            "v": 1, "customer_repo": ACME, "sha": sha, "ref": "refs/heads/main",
            "pr": null, "event": "push", "trigger_run_url": null,
            "dispatch_id": "d-notify-fail", "files": ["infra/variables.yml"]
        }
    }));
    let (plan, files) = w.plan_event(&d, "staging");
    ok(&plan);
    let digest = files.outputs()["plan_sha256"].clone();
    let state =
        w.fx.path("manager/.fleetform/state/acme/staging/terraform.tfstate");
    std::fs::create_dir_all(state.join("in-the-way")).unwrap();
    let slack = Receiver::start(vec![], 200);
    let pager = Receiver::start(vec![], 200);
    let (cmd, _) = w.apply_step(&d, "staging", &digest);
    let apply = common::Run::from(cmd)
        .env("FLEETFORM_SLACK_WEBHOOK", &slack.url)
        .env("FLEETFORM_PAGER_WEBHOOK", &pager.url)
        .output();
    common::assert_code(&apply, 1);
    let (s, p) = (slack.bodies(), pager.bodies());
    assert_eq!(
        (s.len(), p.len()),
        (1, 1),
        "{s:?} {p:?}\n{}",
        stderr(&apply)
    );
    assert_generic(&p[0]);
    assert_eq!(
        (&p[0]["event"], &p[0]["customer"], &p[0]["environment"]),
        (
            &Value::from("apply_failed"),
            &Value::from("acme"),
            &Value::from("staging")
        )
    );
    assert_eq!(
        p[0]["summary"],
        format!(
            "the apply failed; see the run (plan sha256:{})",
            &digest[..12]
        )
    );
    let text = s[0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("fleetform apply failed — acme/staging: "),
        "{text}"
    );
    assert!(
        !text.contains("tfstate") && !text.contains("in-the-way"),
        "{text}"
    );
    assert_no_secrets(
        &apply,
        &[s, p].concat(),
        &[&slack.url, &pager.url, w.gh.token()],
    );
}
