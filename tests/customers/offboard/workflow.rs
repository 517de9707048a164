//! `workflows/manager-offboard.yml` (issues #37 and #48): read with
//! `github-actions-models`, it runs by hand only; the preview job, in
//! `fleetform-offboard-plan`, seals the destroy and hands the destroy job
//! its digest as a job output and its plans as an artifact of sealed
//! bundles only; the destroy job, in `fleetform-offboard`, downloads that
//! artifact (this run's, or the confirmed run's) and approves exactly that
//! digest; both jobs assume the records role with `id-token: write`, its
//! credential reaching the fleetform step alone; inputs reach the shell
//! through env: alone. The destroy script, run with a fake `fleetform`,
//! approves the preview job's digest (or, confirming, the typed one with
//! `--confirms`), never re-plans, never evaluates an input and stops when
//! no digest was given. `init` writes it (tests/cli/init.rs lints what init
//! writes with zizmor and actionlint).

use github_actions_models::common::expr::LoE;
use github_actions_models::common::{Permission, Permissions};
use github_actions_models::workflow::job::DeploymentEnvironment;
use github_actions_models::workflow::Workflow;

const PATH: &str = "workflows/manager-offboard.yml";

use crate::common::workflow::{job, run_step as step};

fn text() -> String {
    crate::common::workflow::text(PATH)
}

fn workflow() -> Workflow {
    crate::common::workflow::read(PATH)
}

/// The raw steps of job `name` (for `uses:` and `with:`).
fn raw_steps(name: &str) -> Vec<yaml_serde::Value> {
    let doc: yaml_serde::Value = yaml_serde::from_str(&text()).unwrap();
    doc["jobs"][name]["steps"].as_sequence().unwrap().clone()
}

fn uses_step(name: &str, action: &str) -> yaml_serde::Value {
    raw_steps(name)
        .into_iter()
        .find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with(action)))
        .unwrap_or_else(|| panic!("{name}: no step uses {action}"))
}

fn with<'v>(s: &'v yaml_serde::Value, key: &str) -> &'v str {
    s["with"][key]
        .as_str()
        .unwrap_or_else(|| panic!("with.{key}: {s:?}"))
}

#[test]
fn it_runs_by_hand_previews_then_destroys_the_previewed_digest() {
    let w = workflow();
    assert!(w.on.events.workflow_dispatch.is_present());
    assert_eq!(w.on.events.count(), 1, "workflow_dispatch only");
    assert!(matches!(&w.permissions, Permissions::Explicit(p) if p.is_empty()));
    for (name, env) in [
        ("preview", "fleetform-offboard-plan"),
        ("destroy", "fleetform-offboard"),
    ] {
        let j = job(&w, name);
        assert!(
            matches!(&j.environment, Some(DeploymentEnvironment::Name(n)) if n == env),
            "{name}: {:?}",
            j.environment
        );
        crate::common::workflow::assert_no_expression_in_run(j);
        let (env, _) = step(j, name);
        for (k, v) in [
            ("CUSTOMER", "${{ inputs.customer }}"),
            ("FLEETFORM_OUT_DIR", "fleetform-offboard"),
            (
                "FLEETFORM_ARTIFACT_KEY",
                "${{ secrets.FLEETFORM_ARTIFACT_KEY }}",
            ),
            ("FLEETFORM_MANAGER_TOKEN", "${{ github.token }}"),
            (
                "FLEETFORM_TEAMS_TOKEN",
                "${{ secrets.FLEETFORM_TEAMS_TOKEN }}",
            ),
        ] {
            assert_eq!(env.get(k).map(String::as_str), Some(v), "{name}: {k}");
        }
    }
    let preview = job(&w, "preview");
    let (env, _) = step(preview, "preview");
    assert_eq!(env["REASON"], "${{ inputs.reason }}");
    assert_eq!(env["FLEETFORM_CUSTOMER_DIR"], ".fleetform/customer");
    // The preview's digest is the job's output, from the preview step.
    assert_eq!(
        preview
            .outputs
            .get("digest")
            .map(|v| v.to_string())
            .as_deref(),
        Some("${{ steps.preview.outputs.digest }}")
    );
    let destroy = job(&w, "destroy");
    assert_eq!(destroy.needs, ["preview"]);
    let (env, _) = step(destroy, "destroy");
    assert_eq!(env["PREVIEW_DIGEST"], "${{ needs.preview.outputs.digest }}");
    assert_eq!(env["TYPED_DIGEST"], "${{ inputs.digest }}");
    assert_eq!(env["CONFIRMS"], "${{ inputs.confirms }}");
    // The destroy plans nothing: no reason to give, no customer values.
    assert!(!env.contains_key("REASON") && !env.contains_key("FLEETFORM_CUSTOMER_DIR"));
    assert!(
        !format!("{:?}", raw_steps("destroy")).contains("FLEETFORM_CUSTOMER_APP_PRIVATE_KEY"),
        "the destroy job reads no customer repo"
    );
}

#[test]
fn the_plans_travel_sealed_from_the_preview_to_the_destroy() {
    let up = uses_step("preview", "actions/upload-artifact@");
    assert_eq!(with(&up, "name"), "fleetform-offboard");
    let paths: Vec<&str> = with(&up, "path").lines().collect();
    assert_eq!(
        paths,
        [
            "fleetform-offboard/offboard-*.json",
            "fleetform-offboard/offboard-*.json.sealed",
            "fleetform-offboard/**/bundle.sealed"
        ],
        "the sealed preview and sealed bundles only, never a plan in the clear"
    );
    assert_eq!(with(&up, "if-no-files-found"), "error");
    let down = uses_step("destroy", "actions/download-artifact@");
    assert_eq!(with(&down, "name"), "fleetform-offboard");
    assert_eq!(with(&down, "path"), "fleetform-offboard");
    // A confirming run destroys the confirmed run's preview.
    assert_eq!(
        with(&down, "run-id"),
        "${{ inputs.confirms || github.run_id }}"
    );
    let w = workflow();
    let Permissions::Explicit(p) = &job(&w, "destroy").permissions else {
        panic!("explicit permissions")
    };
    assert_eq!(p.get("actions"), Some(&Permission::Read));
    // The preview is skipped in a confirming run, and the destroy runs
    // then without it.
    let doc: yaml_serde::Value = yaml_serde::from_str(&text()).unwrap();
    assert_eq!(
        doc["jobs"]["preview"]["if"].as_str(),
        Some("inputs.confirms == ''")
    );
    let cond = doc["jobs"]["destroy"]["if"].as_str().unwrap();
    for part in [
        "(inputs.confirms == '' && needs.preview.result == 'success')",
        "(inputs.confirms != '' && needs.preview.result == 'skipped')",
    ] {
        assert!(cond.contains(part), "{cond}");
    }
}

/// Both jobs assume the records role over OIDC (`id-token: write`), and
/// its credential reaches the fleetform step alone, never the job's
/// environment nor another step.
#[test]
fn both_jobs_assume_the_records_role_for_fleetform_alone() {
    let w = workflow();
    for (name, fleetform_step) in [("preview", "preview"), ("destroy", "destroy")] {
        let j = job(&w, name);
        let Permissions::Explicit(p) = &j.permissions else {
            panic!("{name}: explicit permissions")
        };
        assert_eq!(p.get("id-token"), Some(&Permission::Write), "{name}");
        assert_eq!(p.get("contents"), Some(&Permission::Read), "{name}");
        let records = raw_steps(name)
            .into_iter()
            .find(|s| s["id"].as_str() == Some("records"))
            .unwrap_or_else(|| panic!("{name}: no records step"));
        assert!(records["uses"]
            .as_str()
            .unwrap()
            .starts_with("aws-actions/configure-aws-credentials@"));
        assert_eq!(
            with(&records, "role-to-assume"),
            "${{ vars.FLEETFORM_RECORDS_WRITE_ROLE }}"
        );
        assert_eq!(records["with"]["output-credentials"].as_bool(), Some(true));
        assert_eq!(
            records["with"]["output-env-credentials"].as_bool(),
            Some(false)
        );
        assert!(
            matches!(&j.env, LoE::Literal(e) if e.is_empty()),
            "{name}: job env"
        );
        for s in raw_steps(name) {
            let says = format!("{s:?}");
            let is_fleetform = s["name"].as_str() == Some(fleetform_step);
            assert_eq!(
                says.contains("steps.records.outputs"),
                is_fleetform,
                "{name}: the records credential in {says}"
            );
        }
        let (env, _) = step(j, fleetform_step);
        for (k, out) in [
            ("FLEETFORM_RECORDS_AWS_ACCESS_KEY_ID", "aws-access-key-id"),
            (
                "FLEETFORM_RECORDS_AWS_SECRET_ACCESS_KEY",
                "aws-secret-access-key",
            ),
            ("FLEETFORM_RECORDS_AWS_SESSION_TOKEN", "aws-session-token"),
        ] {
            assert_eq!(
                env.get(k).map(String::as_str),
                Some(format!("${{{{ steps.records.outputs.{out} }}}}").as_str()),
                "{name}: {k}"
            );
        }
    }
}

/// Runs the destroy script with a `fleetform` that records its calls.
fn run_destroy(env: &[(&str, &str)]) -> (i32, String) {
    let w = workflow();
    let (_, script) = step(job(&w, "destroy"), "destroy");
    let mut all = vec![("CUSTOMER", "acme")];
    all.extend(env);
    crate::common::run_step_script(&script, &all, None)
}

#[test]
fn the_destroy_approves_the_previews_digest_and_nothing_else() {
    let digest = "ab".repeat(32);
    let typed = "cd".repeat(32);
    // This run's preview: its job output.
    let (code, calls) = run_destroy(&[("PREVIEW_DIGEST", &digest), ("TYPED_DIGEST", &typed)]);
    assert_eq!(code, 0, "{calls}");
    assert_eq!(
        calls,
        format!("customers\noffboard\nacme\n--approve\n{digest}\n\n"),
        "one call, no plan of its own"
    );
    // A confirming run: the typed digest and the confirmed run.
    let (code, calls) = run_destroy(&[
        ("CONFIRMS", "4242"),
        ("TYPED_DIGEST", &typed),
        ("PREVIEW_DIGEST", ""),
    ]);
    assert_eq!(code, 0, "{calls}");
    assert_eq!(
        calls,
        format!("customers\noffboard\nacme\n--approve\n{typed}\n--confirms\n4242\n\n")
    );
    // No digest (or something that only looks like one): nothing called.
    for env in [
        vec![("PREVIEW_DIGEST", "")],
        vec![("PREVIEW_DIGEST", "abc; rm -rf /")],
        vec![("CONFIRMS", "4242"), ("TYPED_DIGEST", "$(touch pwned)")],
        vec![("CONFIRMS", "4242"), ("PREVIEW_DIGEST", digest.as_str())],
    ] {
        let (code, calls) = run_destroy(&env);
        assert_eq!(code, 2, "{env:?}");
        assert!(calls.is_empty(), "{env:?}: {calls}");
    }
}

/// As `init --operators` writes it (pinned to this release), the
/// template passes zizmor (pedantic, with the settings init wrote) and
/// actionlint, as tests/cli/init.rs checks the templates init writes without
/// operators.
#[test]
fn as_init_writes_it_it_passes_zizmor_and_actionlint() {
    let zizmor = crate::cli::init::linter("zizmor");
    let actionlint = crate::cli::init::linter("actionlint");
    let tmp = tempfile::tempdir().unwrap();
    let out = crate::common::Run::from(crate::common::fleetform_bin())
        .current_dir(tmp.path())
        .args(["init", "--dir", "m", "--operators", "my-org/platform"])
        .output();
    crate::common::assert_ok(&out);
    let repo = tmp.path().join("m");
    let written = repo.join(".github/workflows/manager-offboard.yml");
    assert!(written.is_file());
    let out = std::process::Command::new(&zizmor)
        .args(["--offline", "--strict-collection", "--no-progress"])
        .args(["--persona", "pedantic", "--config"])
        .arg(repo.join(".github/zizmor.yml"))
        .arg(&written)
        .output()
        .unwrap();
    crate::common::assert_ok_for(format_args!("zizmor"), &out);
    assert!(
        crate::common::stderr(&out).contains("manager-offboard.yml"),
        "zizmor audited it: {}",
        crate::common::stderr(&out)
    );
    let out = std::process::Command::new(&actionlint)
        .arg(&written)
        .current_dir(&repo)
        .output()
        .unwrap();
    crate::common::assert_ok_for(format_args!("actionlint"), &out);
}

/// Under GitHub Actions `customers offboard` (what the workflow runs) is
/// refused to anyone but an active member of the operators team, before
/// anything is planned.
#[test]
fn on_github_actions_only_operators_offboard() {
    use crate::support::fake_github::FakeGitHub;
    let w = crate::support::rollout_world::World::with(1, "staging");
    let gh = FakeGitHub::start();
    gh.add_team_member("prov", "ops", "ops-dana", "active");
    let cfg = w.fx.read("manager/fleetform.yml");
    w.fx.write(
        "manager/fleetform.yml",
        &cfg.replace("rollout:\n", "rollout:\n  operators: prov/ops\n"),
    );
    let run = |actor: &str, args: &[&str]| {
        w.fleetform()
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_ACTOR", actor)
            .env("GITHUB_REPOSITORY", "provider/manager")
            .env("GITHUB_API_URL", gh.api_url())
            .env("FLEETFORM_TOKEN", gh.token())
            .env("FLEETFORM_TEAMS_TOKEN", gh.token())
            .args(["customers", "offboard", "c01"])
            .args(args)
            .output()
    };
    for args in [
        &["--reason", "contract ended"][..],
        &["--approve", &"ab".repeat(32)][..],
    ] {
        let out = run("mallory", args);
        let said = crate::common::stderr(&out);
        crate::common::assert_code(&out, 3);
        assert!(
            said.contains("not an active member of `prov/ops`"),
            "{args:?}: {said}"
        );
    }
    // An operator gets past the check to the customer's own refusal (c01
    // is active, not revoked).
    let out = run("ops-dana", &["--reason", "contract ended"]);
    let said = crate::common::stderr(&out);
    crate::common::assert_code(&out, 2);
    assert!(!said.contains("not an active member"), "{said}");
}
