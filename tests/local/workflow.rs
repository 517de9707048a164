//! `workflows/manager-ops.yml` (issue #37 point 1, issue #48 point 1):
//! read with `github-actions-models`, it runs by hand only, previews in
//! `<env>-plan` and applies in `<env>-apply` from that preview (or, for
//! `confirm`, another run's), both jobs assume the records role with
//! `id-token: write`, the inputs reach the shell through env: alone, and
//! its scripts, run with a recording `fleetform`, pass the operands as
//! separate arguments and never evaluate them.

use github_actions_models::common::Permissions;
use github_actions_models::workflow::Workflow;
use std::path::PathBuf;

const PATH: &str = "workflows/manager-ops.yml";

use crate::common::workflow::{environment, job, permission, run_step as step};

fn workflow() -> Workflow {
    crate::common::workflow::read(PATH)
}

#[test]
fn it_previews_in_the_plan_environment_and_applies_in_the_apply_environment() {
    let w = workflow();
    let events = &w.on.events;
    assert!(events.workflow_dispatch.is_present());
    assert_eq!(events.count(), 1, "workflow_dispatch only");
    assert!(matches!(&w.permissions, Permissions::Explicit(p) if p.is_empty()));
    let (preview, apply) = (job(&w, "preview"), job(&w, "apply"));
    assert_eq!(environment(preview), "${{ inputs.environment }}-plan");
    assert_eq!(environment(apply), "${{ inputs.environment }}-apply");
    assert!(
        format!("{:?}", apply.needs).contains("preview"),
        "{:?}",
        apply.needs
    );
    for j in [preview, apply] {
        assert_eq!(
            permission(j, "id-token").as_deref(),
            Some("Write"),
            "the records role over OIDC"
        );
        assert_eq!(permission(j, "contents").as_deref(), Some("Read"));
        assert!(
            crate::common::workflow::uses(j, "configure-aws-credentials"),
            "the records role is assumed"
        );
        crate::common::workflow::assert_no_expression_in_run(j);
    }
    assert_eq!(
        permission(preview, "actions"),
        None,
        "the preview reads no reviews"
    );
    assert_eq!(
        permission(apply, "actions").as_deref(),
        Some("Read"),
        "the run's reviews"
    );
    let (env, _) = step(preview, "${{ inputs.operation }}");
    for (k, v) in [
        ("OPERATION", "${{ inputs.operation }}"),
        ("CUSTOMER", "${{ inputs.customer }}"),
        ("ENVIRONMENT", "${{ inputs.environment }}"),
        ("PRODUCT", "${{ inputs.product }}"),
        ("OPERANDS", "${{ inputs.operands }}"),
        ("REASON", "${{ inputs.reason }}"),
        (
            "FLEETFORM_TEAMS_TOKEN",
            "${{ secrets.FLEETFORM_TEAMS_TOKEN }}",
        ),
        (
            "FLEETFORM_ARTIFACT_KEY",
            "${{ secrets.FLEETFORM_ARTIFACT_KEY }}",
        ),
    ] {
        assert_eq!(env.get(k).map(String::as_str), Some(v), "{k}");
    }
    let (env, _) = step(apply, "apply");
    for (k, v) in [
        ("CONFIRMS", "${{ inputs.confirms }}"),
        ("PRODUCT", "${{ inputs.product }}"),
        (
            "DIGEST",
            "${{ inputs.operation == 'confirm' && inputs.digest || needs.preview.outputs.digest }}",
        ),
        ("FLEETFORM_MANAGER_TOKEN", "${{ github.token }}"),
    ] {
        assert_eq!(env.get(k).map(String::as_str), Some(v), "{k}");
    }
}

/// Runs the preview step's script with `fleetform` recording its
/// arguments, one per line, a blank line after each call.
fn preview_script(operation: &str, operands: &str) -> (i32, String) {
    let w = workflow();
    let (_, script) = step(job(&w, "preview"), "${{ inputs.operation }}");
    let dir = tempfile::tempdir().unwrap();
    // What `plan --seal` leaves for the summary.
    let out = dir.path().join(".fleetform/out/acme/staging");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("comment.md"), "the targeted plan\n").unwrap();
    let env = [
        ("OPERATION", operation),
        ("CUSTOMER", "acme"),
        ("ENVIRONMENT", "staging"),
        ("OPERANDS", operands),
    ];
    crate::common::run_step_script_in(dir.path(), &script, &env, None)
}

#[test]
fn the_preview_passes_operands_as_arguments_and_never_evaluates_them() {
    let (code, calls) = preview_script("mv", "module.a.x $(touch pwned)");
    assert_eq!(code, 0);
    assert_eq!(
        calls,
        "state\nmv\nmodule.a.x\n$(touch\npwned)\n--customer\nacme\n--env\nstaging\n--reason\nwhy; $(touch pwned)\n--preview\n\n"
    );
    let (code, calls) = preview_script("replace", "a.b c.d");
    assert_eq!(code, 0);
    assert_eq!(
        calls,
        "plan\n--customer\nacme\n--env\nstaging\n--replace\na.b\n--replace\nc.d\n--reason\nwhy; $(touch pwned)\n--seal\n\n"
    );
    let (code, calls) = preview_script("destroy", "x");
    assert_eq!((code, calls.as_str()), (2, ""));
}

/// Runs the apply step's script; `state_op` says whether the downloaded
/// preview is a state operation's.
fn apply_script(operation: &str, state_op: bool) -> (i32, String) {
    let w = workflow();
    let (_, script) = step(job(&w, "apply"), "apply");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(".fleetform/out/acme/staging");
    std::fs::create_dir_all(&out).unwrap();
    let file = if state_op {
        "state-op.json"
    } else {
        "bundle.sealed"
    };
    std::fs::write(out.join(file), "{}").unwrap();
    let env = [
        ("OPERATION", operation),
        ("CUSTOMER", "acme"),
        ("ENVIRONMENT", "staging"),
        ("CONFIRMS", "4242"),
        ("DIGEST", "$(touch pwned)"),
    ];
    crate::common::run_step_script_in(dir.path(), &script, &env, None)
}

#[test]
fn the_apply_runs_the_sealed_digest_and_names_the_confirmed_run() {
    let (code, calls) = apply_script("rm", true);
    assert_eq!(code, 0);
    assert_eq!(
        calls,
        "state\napply\n--customer\nacme\n--env\nstaging\n--sha256\n$(touch pwned)\n--github\n\n"
    );
    let (code, calls) = apply_script("confirm", true);
    assert_eq!(code, 0);
    assert_eq!(
        calls,
        "state\napply\n--customer\nacme\n--env\nstaging\n--sha256\n$(touch pwned)\n--confirms\n4242\n--github\n\n"
    );
    let (code, calls) = apply_script("confirm", false);
    assert_eq!(code, 0);
    assert_eq!(
        calls,
        "apply\n--customer\nacme\n--env\nstaging\n--plan-sha256\n$(touch pwned)\n--confirms\n4242\n--github\n\n"
    );
}

/// Issue #57: the `adopt` operation. The preview makes the pair's
/// adoption plan sealed (its digest is the job's output), shows it in the
/// summary and marks the artifact as an adoption's; the apply job (and a
/// confirming run) applies it with `adopt apply` from the digest, with
/// `--accept-updates` only when the operands say `accept-updates`.
#[test]
fn the_adopt_operation_previews_a_sealed_adoption_plan_and_applies_its_digest() {
    let w = workflow();
    let raw = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(PATH))
        .unwrap();
    assert!(
        raw.contains(
            "options: [import, mv, rm, force-unlock, replace, target, adopt, release, confirm]"
        ),
        "adopt is an operation"
    );
    assert!(raw.contains(".fleetform/out/**/adopt-op"), "uploaded");
    let (_, script) = step(job(&w, "preview"), "${{ inputs.operation }}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".fleetform/out/acme/staging")).unwrap();
    // Anything but nothing or accept-updates is refused, never run.
    let env = [
        ("OPERATION", "adopt"),
        ("CUSTOMER", "acme"),
        ("ENVIRONMENT", "staging"),
        ("OPERANDS", "accept-updates $(touch pwned)"),
    ];
    let (code, calls) = crate::common::run_step_script_in(dir.path(), &script, &env, None);
    assert_eq!(code, 2);
    assert_eq!(calls, "");
    assert!(!dir.path().join("pwned").exists());
    // The operator's choice goes to the plan, which seals it (#81 point 9).
    let env = [
        ("OPERATION", "adopt"),
        ("CUSTOMER", "acme"),
        ("ENVIRONMENT", "staging"),
        ("OPERANDS", "accept-updates"),
    ];
    let (code, calls) = crate::common::run_step_script_in(dir.path(), &script, &env, None);
    assert_eq!(code, 0);
    assert_eq!(
        calls,
        "adopt\nplan\n--customer\nacme\n--env\nstaging\n--accept-updates\n--seal\n\n"
    );
    assert!(dir
        .path()
        .join(".fleetform/out/acme/staging/adopt-op")
        .is_file());
    let summary = std::fs::read_to_string(dir.path().join("summary")).unwrap();
    assert!(summary.starts_with("```\n"), "{summary}");

    let (env, _) = step(job(&w, "apply"), "apply");
    for (k, v) in [
        ("OPERANDS", "${{ inputs.operands }}"),
        ("REASON", "${{ inputs.reason }}"),
    ] {
        assert_eq!(env.get(k).map(String::as_str), Some(v), "{k}");
    }
    let adopt = "adopt\napply\n--customer\nacme\n--env\nstaging\n--plan-sha256\n$(touch pwned)\n--reason\nwhy; $(touch pwned)\n";
    let (code, calls) = apply_script_of("adopt", "adopt-op", "");
    assert_eq!(code, 0);
    assert_eq!(calls, format!("{adopt}--github\n\n"));
    // The apply job's inputs never accept updates: the sealed preview's
    // choice does, a confirming run's operands included.
    for (operation, operands) in [("adopt", "accept-updates"), ("confirm", "accept-updates")] {
        let (code, calls) = apply_script_of(operation, "adopt-op", operands);
        assert_eq!(code, 0);
        assert!(!calls.contains("--accept-updates"), "{calls}");
    }
    let (code, calls) = apply_script_of("confirm", "adopt-op", "");
    assert_eq!(code, 0);
    assert_eq!(calls, format!("{adopt}--confirms\n4242\n--github\n\n"));
}

/// The apply step's script with `file` downloaded beside the sealed
/// plan and `operands` typed.
fn apply_script_of(operation: &str, file: &str, operands: &str) -> (i32, String) {
    let w = workflow();
    let (_, script) = step(job(&w, "apply"), "apply");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(".fleetform/out/acme/staging");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("bundle.sealed"), "{}").unwrap();
    std::fs::write(out.join(file), "adopt\n").unwrap();
    let env = [
        ("OPERATION", operation),
        ("CUSTOMER", "acme"),
        ("ENVIRONMENT", "staging"),
        ("CONFIRMS", "4242"),
        ("OPERANDS", operands),
        ("DIGEST", "$(touch pwned)"),
    ];
    crate::common::run_step_script_in(dir.path(), &script, &env, None)
}

/// The preview step's script for `operation` with `product` typed (empty:
/// none), the pair's folder made as fleetform would.
fn preview_script_with(
    operation: &str,
    product: &str,
    operands: &str,
) -> (i32, String, tempfile::TempDir) {
    let w = workflow();
    let (_, script) = step(job(&w, "preview"), "${{ inputs.operation }}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(pair_dir(dir.path(), product)).unwrap();
    let env = [
        ("OPERATION", operation),
        ("CUSTOMER", "acme"),
        ("ENVIRONMENT", "staging"),
        ("PRODUCT", product),
        ("OPERANDS", operands),
    ];
    let (code, calls) = crate::common::run_step_script_in(dir.path(), &script, &env, None);
    (code, calls, dir)
}

/// OUT/CUSTOMER/[PRODUCT/]ENV under `root`.
fn pair_dir(root: &std::path::Path, product: &str) -> PathBuf {
    let mut p = root.join(".fleetform/out/acme");
    if !product.is_empty() {
        p.push(product);
    }
    p.join("staging")
}

/// The apply step's script with the preview's files (`adopt-op` saying
/// `marker`, and `state-op.json`) downloaded into the pair's folder.
fn apply_script_with(operation: &str, product: &str, marker: &str) -> (i32, String) {
    let w = workflow();
    let (_, script) = step(job(&w, "apply"), "apply");
    let dir = tempfile::tempdir().unwrap();
    let out = pair_dir(dir.path(), product);
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("state-op.json"), "{}").unwrap();
    std::fs::write(out.join("adopt-op"), format!("{marker}\n")).unwrap();
    let env = [
        ("OPERATION", operation),
        ("CUSTOMER", "acme"),
        ("ENVIRONMENT", "staging"),
        ("PRODUCT", product),
        ("CONFIRMS", "4242"),
        ("OPERANDS", ""),
        ("DIGEST", "$(touch pwned)"),
    ];
    crate::common::run_step_script_in(dir.path(), &script, &env, None)
}

/// Issue #57: the `release` operation. The preview seals the release
/// (`adopt release --preview`, no operands) and marks the artifact as a
/// release's; the apply job (and a confirming run) runs the sealed
/// preview with `adopt release --sha256`, never `state apply`.
#[test]
fn the_release_operation_previews_a_sealed_release_and_runs_its_digest() {
    let (code, calls, dir) = preview_script_with("release", "", "");
    assert_eq!(code, 0);
    assert_eq!(
        calls,
        "adopt\nrelease\n--customer\nacme\n--env\nstaging\n--reason\nwhy; $(touch pwned)\n--preview\n\n"
    );
    let marker = std::fs::read_to_string(pair_dir(dir.path(), "").join("adopt-op")).unwrap();
    assert_eq!(marker, "release\n");
    assert!(std::fs::read_to_string(dir.path().join("summary")).is_ok());
    // A release removes what the adoption imported: no operands.
    let (code, calls, _dir) = preview_script_with("release", "", "fakecloud_bucket.logs");
    assert_eq!((code, calls.as_str()), (2, ""));

    let release = "adopt\nrelease\n--customer\nacme\n--env\nstaging\n--sha256\n$(touch pwned)\n";
    let (code, calls) = apply_script_with("release", "", "release");
    assert_eq!(code, 0);
    assert_eq!(calls, format!("{release}--github\n\n"));
    let (code, calls) = apply_script_with("confirm", "", "release");
    assert_eq!(code, 0);
    assert_eq!(calls, format!("{release}--confirms\n4242\n--github\n\n"));
    // A marker that names no adoption step runs nothing.
    let (code, calls) = apply_script_with("confirm", "", "destroy");
    assert_eq!((code, calls.as_str()), (2, ""));
}

/// Issue #57: `product` (optional) names the pair's product: passed as
/// `--product` to every fleetform call of both jobs, and the pair's
/// folder is OUT/CUSTOMER/PRODUCT/ENV.
#[test]
fn the_product_input_names_the_pair_of_adopt_and_release() {
    let raw = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(PATH))
        .unwrap();
    assert!(raw.contains("      product:\n"), "an input");
    let (code, calls, dir) = preview_script_with("adopt", "web $(touch pwned)", "");
    assert_eq!(code, 0);
    assert_eq!(
        calls,
        "adopt\nplan\n--customer\nacme\n--env\nstaging\n--product\nweb $(touch pwned)\n--seal\n\n"
    );
    assert!(pair_dir(dir.path(), "web $(touch pwned)")
        .join("adopt-op")
        .is_file());
    let (code, calls, dir) = preview_script_with("release", "web", "");
    assert_eq!(code, 0);
    assert_eq!(
        calls,
        "adopt\nrelease\n--customer\nacme\n--env\nstaging\n--product\nweb\n--reason\nwhy; $(touch pwned)\n--preview\n\n"
    );
    assert_eq!(
        std::fs::read_to_string(pair_dir(dir.path(), "web").join("adopt-op")).unwrap(),
        "release\n"
    );

    let (code, calls) = apply_script_with("confirm", "web", "release");
    assert_eq!(code, 0);
    assert_eq!(
        calls,
        "adopt\nrelease\n--customer\nacme\n--env\nstaging\n--product\nweb\n--sha256\n$(touch pwned)\n--confirms\n4242\n--github\n\n"
    );
    let (code, calls) = apply_script_with("adopt", "web", "adopt");
    assert_eq!(code, 0);
    assert_eq!(
        calls,
        "adopt\napply\n--customer\nacme\n--env\nstaging\n--product\nweb\n--plan-sha256\n$(touch pwned)\n--reason\nwhy; $(touch pwned)\n--github\n\n"
    );
    // Without a product the folder is OUT/CUSTOMER/ENV and no --product
    // is passed (the other operations' calls are unchanged).
    let (_, calls) = apply_script_with("adopt", "", "adopt");
    assert!(!calls.contains("--product"), "{calls}");
}
