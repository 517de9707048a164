//! Gates that run policy tools (`policies: … tools:`) on the plan JSON,
//! against real terraform and real checkov (tests/install-checkov.sh), and
//! fake tools for the timeout, a missing tool and the environment a tool
//! gets.

use crate::common;
use crate::world;

use std::path::{Path, PathBuf};

use common::{require_terraform, stderr, stdout, Fixture};
use serde_json::Value;

/// checkov from the repo's .venv or PATH; fails (never skips) without it.
fn checkov() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/checkov");
    if venv.is_file() {
        return venv;
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("checkov"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "checkov is not installed ({} is missing and it is not on PATH); these tests run \
                 it on real plans. Install it with `bash tests/install-checkov.sh` and run again",
                venv.display()
            )
        })
}

/// Copies the custom checks of tests/fixtures/checkov into the manager
/// repo as `checks/` (CKV_FF_1 fails on the example fleet, CKV_FF_2
/// passes), where checkov's byte code stays out of the source tree.
fn install_checks(fx: &Fixture) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/checkov");
    for f in ["__init__.py", "owner_tag.py"] {
        fx.write(
            &format!("manager/checks/{f}"),
            &std::fs::read_to_string(from.join(f)).unwrap(),
        );
    }
}

/// A checkov tool entry running one check; `checks` is relative to
/// fleetform.yml, as `args` paths are.
fn checkov_tool(name: &str, check: &str, required: bool) -> String {
    format!(
        "      - name: {name}\n        kind: checkov\n        run: {}\n        args: [\"--external-checks-dir\", \"checks\", \"--check\", \"{check}\", \"--skip-download\"]\n        timeout: 5m\n        required: {required}\n",
        checkov().display(),
    )
}

pub(crate) fn with_tools(fx: &Fixture, tools: &str) {
    fx.append(
        "manager/fleetform.yml",
        &format!("\npolicies:\n  default:\n    tools:\n{tools}"),
    );
}

/// `plan --json` for acme/staging: the gates' results.
pub(crate) fn plan_gates(fx: &Fixture) -> Vec<Value> {
    let out = common::run(
        fx,
        &["plan", "--customer", "acme", "--env", "staging", "--json"],
    )
    .code(0);
    let rows: Value = serde_json::from_str(&out.stdout).unwrap();
    rows[0]["summary"]["gates"]["results"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("no gates: {rows}"))
}

pub(crate) fn gate<'a>(gates: &'a [Value], name: &str) -> &'a Value {
    gates
        .iter()
        .find(|g| g["gate"] == name)
        .unwrap_or_else(|| panic!("no gate {name}: {gates:?}"))
}

fn apply(fx: &Fixture) -> crate::common::Ran {
    common::Run::from(fx.fleetform())
        .args(["apply", "--customer", "acme", "--env", "staging"])
        .output()
}

#[test]
fn an_advisory_checkov_finding_is_shown_and_lets_the_apply_through() {
    require_terraform();
    let fx = Fixture::new();
    install_checks(&fx);
    with_tools(
        &fx,
        &(checkov_tool("cidr", "CKV_FF_2", true) + &checkov_tool("owners", "CKV_FF_1", false)),
    );
    let gates = plan_gates(&fx);
    let cidr = gate(&gates, "cidr");
    assert_eq!(cidr["passed"], true, "{cidr}");
    assert_eq!(cidr["detail"], "1 check passed, no findings");
    let owners = gate(&gates, "owners");
    assert_eq!(owners["passed"], false, "{owners}");
    assert_eq!(owners["advisory"], true, "{owners}");
    let comment = fx.read("manager/.fleetform/out/acme/staging/comment.md");
    assert!(
        comment.contains("**Gates: 1 pass, 1 advisory failed (does not block)**"),
        "{comment}"
    );
    assert!(
        comment.contains("- ⚠️ `owners`: 3 findings, 0 checks passed (advisory: does not block)"),
        "{comment}"
    );
    assert!(
        comment.contains(
            "- `CKV_FF_1` on `terraform_data.network`: Ensure the resource's tags name an owner"
        ),
        "{comment}"
    );
    let out = apply(&fx);
    common::assert_code(&out, 0);
}

#[test]
fn a_required_checkov_finding_blocks_the_apply() {
    require_terraform();
    let fx = Fixture::new();
    install_checks(&fx);
    with_tools(&fx, &checkov_tool("owners", "CKV_FF_1", true));
    let gates = plan_gates(&fx);
    let owners = gate(&gates, "owners");
    assert_eq!(owners["passed"], false, "{owners}");
    assert!(owners.get("advisory").is_none(), "{owners}");
    let findings = owners["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 3, "{owners}");
    assert!(findings
        .iter()
        .all(|f| f["check"] == "CKV_FF_1"
            && f["title"] == "Ensure the resource's tags name an owner"));
    let comment = fx.read("manager/.fleetform/out/acme/staging/comment.md");
    assert!(
        comment.contains("**Gates: blocked by `owners`**"),
        "{comment}"
    );
    let out = apply(&fx);
    common::assert_fails(&out);
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        text.contains("policy gates block the apply: owners (3 findings"),
        "{text}"
    );
}

/// A fake tool: a shell script in the manager repo.
pub(crate) fn fake_tool(fx: &Fixture, name: &str, body: &str) {
    fx.write(
        &format!("manager/tools/{name}"),
        &format!("#!/bin/sh\n{body}\n"),
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let p = fx.path(&format!("manager/tools/{name}"));
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// The slow tool of the test below was killed, not waited for nor left
/// running: it never reached its end, and its process is gone once the
/// plan returned (no wall-clock bound, so a loaded machine cannot fail it).
fn assert_tool_was_killed(fx: &Fixture) {
    let pid: i32 = std::fs::read_to_string(fx.path("slow.pid"))
        .expect("the slow tool ran")
        .trim()
        .parse()
        .unwrap();
    assert!(
        !fx.path("slow.finished").exists(),
        "the tool ran to its end: not killed at its timeout"
    );
    // Signal 0 only checks that the process exists.
    assert_eq!(
        unsafe { libc::kill(pid, 0) },
        -1,
        "the tool (pid {pid}) still runs after the plan returned"
    );
}

#[test]
fn a_tool_past_its_timeout_or_failing_without_findings_fails_its_gate() {
    require_terraform();
    let fx = Fixture::new();
    // The slow tool notes its process id, and that it slept to the end:
    // killed at its timeout, it never gets there.
    let (pid, finished) = (fx.path("slow.pid"), fx.path("slow.finished"));
    fake_tool(
        &fx,
        "slow",
        &format!(
            "echo $$ > '{}'\nsleep 60\ntouch '{}'\necho '[]'",
            pid.display(),
            finished.display()
        ),
    );
    fake_tool(
        &fx,
        "broken",
        "echo '[{\"filename\":\"plan.json\",\"namespace\":\"main\",\"successes\":0}]'\necho 'policy: rego_parse_error' >&2\nexit 2",
    );
    with_tools(
        &fx,
        "      - { name: slow, kind: conftest, run: tools/slow, timeout: 1s }\n      - { name: broken, kind: conftest, run: tools/broken }\n",
    );
    let gates = plan_gates(&fx);
    assert_tool_was_killed(&fx);
    let slow = gate(&gates, "slow");
    assert_eq!(slow["passed"], false, "{slow}");
    assert_eq!(
        slow["detail"],
        "killed after its timeout of 1s; raise `timeout` or make the check faster"
    );
    // A failing exit without findings is no pass.
    let broken = gate(&gates, "broken");
    assert_eq!(broken["passed"], false, "{broken}");
    assert_eq!(
        broken["detail"],
        "exited with 2 but reported no findings; stderr: policy: rego_parse_error"
    );
}

#[test]
fn a_missing_tool_fails_when_required_and_warns_when_advisory() {
    require_terraform();
    let fx = Fixture::new();
    with_tools(
        &fx,
        "      - { name: scan, kind: checkov, run: no-such-checkov-here }\n      - { name: opa, kind: conftest, run: tools/absent, required: false }\n",
    );
    let gates = plan_gates(&fx);
    let scan = gate(&gates, "scan");
    assert_eq!(scan["passed"], false, "{scan}");
    assert!(scan.get("advisory").is_none(), "{scan}");
    let detail = scan["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("`checkov` is not installed (not found: no-such-checkov-here); install it with `pip install checkov`"),
        "{detail}"
    );
    let opa = gate(&gates, "opa");
    assert_eq!(opa["advisory"], true, "{opa}");
    assert!(
        opa["detail"]
            .as_str()
            .unwrap()
            .contains("https://www.conftest.dev/install/"),
        "{opa}"
    );
    let comment = fx.read("manager/.fleetform/out/acme/staging/comment.md");
    assert!(
        comment.contains("**Gates: blocked by `scan`**"),
        "{comment}"
    );
}

#[test]
fn a_tool_gets_the_plan_json_and_no_credentials() {
    require_terraform();
    let fx = Fixture::new();
    let seen = fx.path("seen");
    fake_tool(
        &fx,
        "conftest",
        &format!(
            "env > '{0}/env'\nfor a in \"$@\"; do echo \"$a\"; done > '{0}/args'\ncp \"$5\" '{0}/plan.json'\n\
             printf '%s' '[{{\"namespace\":\"main\",\"successes\":1,\"failures\":[{{\"msg\":\"::error::no owner\\n@team\",\"metadata\":{{\"details\":{{\"resource\":\"terraform_data.network\"}}}}}}]}}]'\nexit 1",
            seen.display()
        ),
    );
    std::fs::create_dir_all(&seen).unwrap();
    fx.write("manager/policy/main.rego", "package main\n");
    with_tools(
        &fx,
        "      - { name: opa, kind: conftest, run: tools/conftest, policy: policy }\n",
    );
    common::Run::from(fx.fleetform())
        .env("AWS_SECRET_ACCESS_KEY", "aws-secret-value")
        .env("GITHUB_TOKEN", "ghs_secret")
        .args(["plan", "--customer", "acme", "--env", "staging", "--json"])
        .code(0);
    let env = std::fs::read_to_string(seen.join("env")).unwrap();
    for secret in [
        "aws-secret-value",
        "ghs_secret",
        common::DISPATCH_SECRET,
        common::ARTIFACT_KEY,
    ] {
        assert!(!env.contains(secret), "{env}");
    }
    assert!(env.contains("PATH="), "{env}");
    let args: Vec<String> = std::fs::read_to_string(seen.join("args"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(args[..4], ["test", "--no-color", "--output", "json"]);
    assert_eq!(args[5], "-p");
    assert!(args[6].ends_with("/manager/policy"), "{args:?}");
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(seen.join("plan.json")).unwrap()).unwrap();
    assert!(plan["resource_changes"].is_array(), "{plan}");
    // The plan JSON went with the working copy.
    let out_dir = fx.path("manager/.fleetform/out/acme/staging");
    let leftovers: Vec<_> = walk(&out_dir)
        .into_iter()
        .filter(|p| p.ends_with("plan.json"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // The tool's text is one line and inert in the comment.
    let comment = fx.read("manager/.fleetform/out/acme/staging/comment.md");
    assert!(
        comment.contains("- `main` on `terraform_data.network`: ::error::no owner @\u{200b}team\n"),
        "{comment}"
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn tool_settings_are_checked_at_their_line() {
    let fx = Fixture::new();
    with_tools(
        &fx,
        "      - name: scan\n        kind: checkov\n        timeout: soon\n",
    );
    let line = fx.read("manager/fleetform.yml").lines().count();
    let out = common::Run::from(fx.fleetform()).arg("validate").output();
    common::assert_fails(&out);
    assert!(
        stderr(&out).contains(&format!(
            "fleetform.yml:{line}:18: `soon` is not a duration like 90s, 5m or 1h"
        )),
        "{}",
        stderr(&out)
    );
    let fx = Fixture::new();
    with_tools(&fx, "      - { name: scan, kind: trivy }\n");
    let out = common::Run::from(fx.fleetform()).arg("validate").output();
    common::assert_fails(&out);
    assert!(stderr(&out).contains("trivy"), "{}", stderr(&out));
}

/// On the GitHub path: a required tool's findings block the commit status
/// and are listed in the PR comment; the waiver label waives them like any
/// gate, and the apply (from the sealed plan) goes through with the
/// findings recorded at plan time.
#[test]
fn a_blocking_tool_on_a_pull_request_is_waived_by_the_label() {
    let mut w = world::World::new();
    fake_tool(
        &w.fx,
        "conftest",
        "printf '%s' '[{\"namespace\":\"main\",\"successes\":2,\"failures\":[{\"msg\":\"network needs an owner tag\",\"metadata\":{\"details\":{\"resource\":\"terraform_data.network\"}}}]}]'\nexit 1",
    );
    w.fx.append(
        "manager/fleetform.yml",
        "\npolicies:\n  environments:\n    staging:\n      waiver_label: fleetform-override\n      tools:\n        - { name: opa, kind: conftest, run: tools/conftest }\n",
    );
    let sha = w.change_acme("feature", 3);
    let pr = w.gh.open_pr(world::ACME, "feature", "main", "x");
    world::ok(&w.trigger_pr(world::ACME, pr, "feature", &sha).0);
    let (out, _) = w.plan_latest("staging");
    world::ok(&out);
    let status = |w: &world::World| {
        let s =
            w.gh.status_of(world::ACME, &sha, "infra/terraform-deploy/staging")
                .unwrap();
        (s.state, s.description.unwrap_or_default())
    };
    assert_eq!(
        status(&w),
        (
            "failure".into(),
            "staging: +3 ~0 -0 · blocked by opa".into()
        )
    );
    let c = w.gh.comments(world::ACME, pr).pop().unwrap();
    assert!(
        c.body.contains("- ❌ `opa`: 1 finding, 2 checks passed"),
        "{}",
        c.body
    );
    assert!(
        c.body
            .contains("- `main` on `terraform_data.network`: network needs an owner tag"),
        "{}",
        c.body
    );
    w.gh.add_label(world::ACME, pr, "fleetform-override");
    let (out, _) = w.plan_latest("staging");
    world::ok(&out);
    assert_eq!(
        status(&w),
        (
            "success".into(),
            "staging: +3 ~0 -0 · gates waived (fleetform-override)".into()
        )
    );
    // Merged with the label: the push's plan is waived and applies.
    let merged = w.gh.merge_pr(world::ACME, pr);
    world::ok(
        &w.trigger_push(
            world::ACME,
            &merged,
            &format!("Merge pull request #{pr} from acme-corp/feature"),
        )
        .0,
    );
    let (out, files) = w.plan_latest("staging");
    world::ok(&out);
    let digest = files.outputs()["plan_sha256"].clone();
    // Without the label the recorded finding refuses the apply.
    w.gh.remove_label(world::ACME, pr, "fleetform-override");
    let (out, _) = w.apply_latest("staging", &digest);
    common::assert_code(&out, 3);
    assert!(
        stderr(&out).contains("policy gates block the apply: opa (1 finding"),
        "{}",
        stderr(&out)
    );
    w.gh.add_label(world::ACME, pr, "fleetform-override");
    let (out, _) = w.apply_latest("staging", &digest);
    world::ok(&out);
    assert!(w
        .fx
        .manager()
        .join(".fleetform/state/acme/staging/terraform.tfstate")
        .exists());
    w.gh.assert_clean();
}

/// A drift check judges no plan: it runs no policy tools; a plan does.
#[test]
fn drift_checks_run_no_tools() {
    require_terraform();
    let fx = Fixture::new();
    let marker = fx.path("ran");
    fake_tool(
        &fx,
        "conftest",
        &format!(
            "touch '{}'\necho '[{{\"filename\":\"plan.json\",\"namespace\":\"main\",\"successes\":0}}]'",
            marker.display()
        ),
    );
    with_tools(
        &fx,
        "      - { name: opa, kind: conftest, run: tools/conftest }\n",
    );
    let out = common::Run::from(fx.fleetform())
        .args(["drift", "--customer", "acme", "--env", "staging"])
        .output();
    assert!(matches!(out.status.code(), Some(0 | 4)), "{}", stderr(&out));
    assert!(!marker.exists(), "drift ran a policy tool");
    let gates = plan_gates(&fx);
    assert_eq!(gate(&gates, "opa")["passed"], true);
    assert!(marker.exists(), "the plan ran no policy tool");
}
