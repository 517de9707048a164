//! The engine end to end with real terraform on `examples/`: fleet plan,
//! apply, refusals, validation positions, layering provenance.

use crate::common;

use common::{require_terraform, sha256_hex, stderr, stdout, Fixture};
use serde_json::Value;

#[test]
fn fleet_plan_of_the_examples() {
    require_terraform();
    let fx = Fixture::new();
    let out = common::run(&fx, &["plan", "--all", "--jobs", "2"]).code(0);
    insta::assert_snapshot!("fleet_plan_table", stdout(&out));

    for (c, e) in [
        ("acme", "staging"),
        ("acme", "production"),
        ("globex", "staging"),
        ("globex", "production"),
    ] {
        let dir = fx.manager().join(".fleetform/out").join(c).join(e);
        let summary: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap())
                .unwrap();
        assert_eq!(
            summary["plan_sha256"],
            sha256_hex(&dir.join("tfplan")),
            "{c}/{e}"
        );
        assert_eq!(summary["state_key"], format!("{c}/{e}/terraform.tfstate"));
        let comment = std::fs::read_to_string(dir.join("comment.md")).unwrap();
        assert!(comment.starts_with(&format!(
            "<!-- fleetform:plan customer={c} environment={e} -->"
        )));
        let vars: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("variables.tfvars.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(vars["environment"], e);
        // No working copy is left behind.
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".work-"))
            .collect();
        assert!(leftovers.is_empty());
    }
    assert!(
        !fx.manager().join(".fleetform/out/initech").exists(),
        "revoked customers are never planned"
    );
}

#[test]
fn json_results_are_machine_readable() {
    require_terraform();
    let fx = Fixture::new();
    let out = common::run(
        &fx,
        &["plan", "--customer", "globex", "--env", "staging", "--json"],
    )
    .code(0);
    let rows: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["result"], "planned");
    assert_eq!(rows[0]["summary"]["create"], 3);
}

#[test]
fn apply_then_replan_has_no_changes() {
    require_terraform();
    let fx = Fixture::new();
    let (tf, calls) = common::recording_terraform(&fx, "echo \"$1\"");
    let plan = |fx: &Fixture| {
        let out = common::Run::from(fx.fleetform())
            .env("FLEETFORM_TERRAFORM", &tf)
            .args(["plan", "--customer", "acme", "--env", "staging", "--json"])
            .code(0);
        let rows: Value = serde_json::from_str(&out.stdout).unwrap();
        rows[0]["summary"].clone()
    };
    let steps = || -> Vec<String> {
        let log = std::fs::read_to_string(&calls).unwrap();
        let all: Vec<String> = log.lines().map(str::to_string).collect();
        std::fs::write(&calls, "").unwrap();
        all
    };
    let first = plan(&fx);
    assert_eq!(first["has_changes"], true);
    assert_eq!(
        steps(),
        ["init", "plan", "show"],
        "a plan with changes is read back as JSON"
    );
    let out = common::Run::from(fx.fleetform())
        .env("FLEETFORM_TERRAFORM", &tf)
        .args(["apply", "--customer", "acme", "--env", "staging"])
        .code(0);
    assert!(stdout(&out).contains("applied acme/staging"));
    assert!(fx
        .manager()
        .join(".fleetform/state/acme/staging/terraform.tfstate")
        .is_file());
    steps();
    let second = plan(&fx);
    assert_eq!(second["has_changes"], false, "{second}");
    assert_eq!(second["resources"], serde_json::json!([]));
    assert_eq!(second["outputs"], serde_json::json!([]));
    assert_eq!(
        steps(),
        ["init", "plan"],
        "no changes (exit 0 of -detailed-exitcode): nothing to read back"
    );
}

/// Plans running side by side share the cores: each Terraform gets
/// `GOMAXPROCS` = cores / runs (at least 1); one run at a time, or a
/// `GOMAXPROCS` the user set, leaves it alone.
#[test]
fn parallel_plans_share_the_cores() {
    require_terraform();
    let fx = Fixture::new();
    let (tf, calls) = common::recording_terraform(&fx, "echo \"$1$2 ${GOMAXPROCS-unset}\"");
    let run = |jobs: &str, gomaxprocs: Option<&str>| -> Vec<String> {
        // The tests' environment sets GOMAXPROCS=1 (common::scrub): here
        // it is the user's, or not set at all.
        let out = common::Run::from(fx.fleetform())
            .env_remove("GOMAXPROCS")
            .env("FLEETFORM_TERRAFORM", &tf)
            .args(["plan", "--all", "--jobs", jobs, "-q"])
            .envs(gomaxprocs.map(|v| ("GOMAXPROCS", v)))
            .output();
        common::assert_code(&out, 0);
        let log = std::fs::read_to_string(&calls).unwrap();
        std::fs::write(&calls, "").unwrap();
        // The providers are installed once, alone, before the pairs run,
        // and the data dir that install made is checked once: no pair
        // runs an `init` of its own.
        let installs = log.lines().filter(|l| l.starts_with("init")).count();
        assert_eq!(installs, 1, "{log}");
        let checks = log
            .lines()
            .filter(|l| l.starts_with("workspacelist "))
            .count();
        assert_eq!(checks, 1, "{log}");
        let mut seen: Vec<String> = log
            .lines()
            .filter(|l| !l.starts_with("init") && !l.starts_with("workspacelist "))
            .map(|l| l.split_once(' ').unwrap().1.to_string())
            .collect();
        assert!(seen.len() >= 8, "{log}");
        seen.dedup();
        seen
    };
    let cores = std::thread::available_parallelism().unwrap().get();
    assert_eq!(run("2", None), [(cores / 2).max(1).to_string()]);
    assert_eq!(run("1", None), ["unset"]);
    assert_eq!(run("2", Some("7")), ["7"]);
}

#[test]
fn apply_refuses_a_tampered_plan() {
    require_terraform();
    let fx = Fixture::new();
    common::run(&fx, &["plan", "--customer", "acme", "--env", "staging"]).code(0);
    let plan = fx.manager().join(".fleetform/out/acme/staging/tfplan");
    let mut bytes = std::fs::read(&plan).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&plan, bytes).unwrap();

    let out = common::run(&fx, &["apply", "--customer", "acme", "--env", "staging"]).code(3);
    assert!(
        stderr(&out).contains("changed after planning"),
        "{}",
        stderr(&out)
    );
    assert!(
        !fx.manager()
            .join(".fleetform/state/acme/staging/terraform.tfstate")
            .exists(),
        "nothing applied"
    );
}

#[test]
fn apply_refuses_a_digest_other_than_the_approved_one() {
    require_terraform();
    let fx = Fixture::new();
    common::run(&fx, &["plan", "--customer", "acme", "--env", "staging"]).code(0);
    let out = common::run(
        &fx,
        &[
            "apply",
            "--customer",
            "acme",
            "--env",
            "staging",
            "--plan-sha256",
            &"0".repeat(64),
        ],
    )
    .code(3);
    assert!(stderr(&out).contains("differs"), "{}", stderr(&out));
    assert!(!fx
        .manager()
        .join(".fleetform/state/acme/staging/terraform.tfstate")
        .exists());
}

#[test]
fn stale_plan_is_refused() {
    require_terraform();
    let fx = Fixture::new();
    // Two plans from the same (empty) state; applying the first makes the
    // second stale.
    let plan_to = |out: &str| {
        common::run(
            &fx,
            &[
                "plan",
                "--customer",
                "acme",
                "--env",
                "staging",
                "--out",
                out,
            ],
        )
        .code(0);
    };
    plan_to("a");
    plan_to("b");
    common::run(
        &fx,
        &[
            "apply",
            "--customer",
            "acme",
            "--env",
            "staging",
            "--out",
            "a",
        ],
    )
    .code(0);
    let o = common::run(
        &fx,
        &[
            "apply",
            "--customer",
            "acme",
            "--env",
            "staging",
            "--out",
            "b",
        ],
    )
    .code(3);
    assert!(stderr(&o).contains("stale"), "{}", stderr(&o));
}

#[test]
fn invalid_customer_fails_alone_with_positions() {
    require_terraform();
    let fx = Fixture::new();
    fx.register_invalid_customer();
    let out = common::run(&fx, &["plan", "--all"]).code(1);
    let err = stderr(&out);
    for expected in [
        "../invalid/broken-co/infra/variables.yml:8:20: /environments/staging/min_instances: \"one\" is not of type \"integer\"",
        "../invalid/broken-co/infra/variables.yml:13:23: /networking/availability_zones: 9 is greater than the maximum of 6",
        "../invalid/broken-co/infra/variables.yml:15:1: /test_variable: Additional properties are not allowed",
        "../invalid/broken-co/infra/variables.yml:2:15: /project_name:",
    ] {
        assert!(err.contains(expected), "missing `{expected}` in:\n{err}");
    }
    let table = stdout(&out);
    assert!(
        table.contains("broken-co  staging      -         FAILED"),
        "{table}"
    );
    assert_eq!(
        table.matches("changes").count(),
        4,
        "the four valid plans still ran:\n{table}"
    );
    assert!(
        !fx.manager().join(".fleetform/out/broken-co").exists(),
        "nothing written for the invalid customer"
    );
}

#[test]
fn annotations_under_actions() {
    let fx = Fixture::new();
    let out = common::Run::from(fx.fleetform())
        .env("GITHUB_ACTIONS", "true")
        .args(["validate", "../invalid/broken-co/infra/variables.yml"])
        .code(1);
    let o = stderr(&out);
    assert!(
        o.contains("::error file=../invalid/broken-co/infra/variables.yml,line=8,col=20::/environments/staging/min_instances: \"one\" is not of type \"integer\""),
        "{o}"
    );
}

#[test]
fn explain_names_the_layer_that_set_each_value() {
    let fx = Fixture::new();
    let out = common::run(
        &fx,
        &[
            "render",
            "--customer",
            "acme",
            "--env",
            "production",
            "--explain",
            "--json",
        ],
    )
    .code(0);
    let leaves: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    let find = |p: &str| {
        leaves
            .iter()
            .find(|l| l["pointer"] == p)
            .unwrap_or_else(|| panic!("{p}"))
            .clone()
    };
    let it = find("/instance_type");
    assert_eq!(it["value"], "m5.large");
    assert_eq!(it["layer"], "customer-env-file");
    assert_eq!(
        it["location"],
        "../customers/acme/infra/variables.production.yml:2:16"
    );
    let min = find("/min_instances");
    assert_eq!(
        (min["value"].clone(), min["layer"].clone()),
        (2.into(), "customer-env".into())
    );
    assert_eq!(
        min["location"],
        "../customers/acme/infra/variables.yml:15:20"
    );
    let region = find("/region");
    assert_eq!(region["layer"], "customer-env");
    let zones = find("/networking/availability_zones");
    assert_eq!(
        (zones["value"].clone(), zones["layer"].clone()),
        (2.into(), "customer".into())
    );
    let managed = find("/tags/managed_by");
    assert_eq!(managed["layer"], "manager-base");
    assert_eq!(managed["location"], "values/base.yml:12:15");
    let tier = find("/tags/tier");
    assert_eq!(
        (tier["value"].clone(), tier["layer"].clone()),
        ("production".into(), "manager-env".into())
    );

    // The table form, too.
    let out = common::run(
        &fx,
        &[
            "render",
            "--customer",
            "globex",
            "--env",
            "staging",
            "--explain",
        ],
    )
    .code(0);
    insta::assert_snapshot!("explain_globex_staging", stdout(&out));
}

#[test]
fn null_deletes_a_key_from_earlier_layers() {
    let fx = Fixture::new();
    fx.append("customers/globex/infra/variables.yml", "  managed_by: ~\n");
    let out = common::run(&fx, &["render", "--customer", "globex", "--env", "staging"]).code(0);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(v["tags"].get("managed_by").is_none(), "{v}");
    assert_eq!(v["tags"]["name"], "globex-api-staging");
}

#[test]
fn undefined_template_variable_fails_with_its_location() {
    let fx = Fixture::new();
    fx.append(
        "customers/globex/infra/variables.yml",
        "  owner: \"{{ team_owner }}\"\n",
    );
    let out = common::run(&fx, &["render", "--customer", "globex", "--env", "staging"]).code(1);
    let err = stderr(&out);
    assert!(err.contains("../customers/globex/infra/variables.yml:23:10: /tags/owner: template uses an undefined variable"), "{err}");
}

#[test]
fn credential_looking_values_are_rejected_without_echo() {
    let fx = Fixture::new();
    let token = format!("ghp_{}", "Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0Lz9Xc8");
    fx.append(
        "customers/acme/infra/variables.yml",
        &format!("deploy_token: {token}\n"),
    );
    let line = fx
        .read("customers/acme/infra/variables.yml")
        .lines()
        .count();
    let out = common::run(&fx, &["validate", "--customer", "acme"]).code(1);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("../customers/acme/infra/variables.yml:{line}:15: /deploy_token: value looks like a GitHub token")),
        "{err}"
    );
    assert!(
        !err.contains(&token) && !stdout(&out).contains(&token),
        "the value is never echoed"
    );

    let fx = Fixture::new();
    fx.append(
        "customers/acme/infra/variables.yml",
        "db_password: \"Zq8#vR2!mK9@pL4$wX7\"\n",
    );
    let out = common::run(&fx, &["validate", "--customer", "acme"]).code(1);
    assert!(
        stderr(&out).contains("/db_password: value looks like a secret"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unknown_config_keys_are_rejected_with_their_line() {
    let fx = Fixture::new();
    let cfg = fx.read("manager/fleetform.yml").replace(
        "  engine: terraform\n",
        "  engine: terraform\n  wokring_dir: oops\n",
    );
    fx.write("manager/fleetform.yml", &cfg);
    let line = cfg.lines().position(|l| l.contains("wokring_dir")).unwrap() + 1;
    let out = common::run(&fx, &["plan", "--all"]).code(2);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "fleetform.yml:{line}:3: /terraform/wokring_dir: unknown field `wokring_dir`"
        )),
        "{err}"
    );

    let fx = Fixture::new();
    fx.append("manager/customers.yml", "    colour: blue\n");
    let line = fx.read("manager/customers.yml").lines().count();
    let out = common::run(&fx, &["validate"]).code(2);
    assert!(
        stderr(&out).contains(&format!(
            "customers.yml:{line}:5: /customers/2/colour: unknown field `colour`"
        )),
        "{}",
        stderr(&out)
    );
}

#[test]
fn registry_rules_are_enforced() {
    let fx = Fixture::new();
    fx.append(
        "manager/customers.yml",
        "\n  - slug: Bad_Slug\n    path: x\n    contact: a@b.example\n    environments: [staging]\n    added: 2026-01-01\n",
    );
    let line = fx
        .read("manager/customers.yml")
        .lines()
        .position(|l| l.contains("Bad_Slug"))
        .unwrap()
        + 1;
    let out = common::run(&fx, &["validate"]).code(2);
    assert!(
        stderr(&out).contains(&format!("customers.yml:{line}:11: `slug` must be")),
        "{}",
        stderr(&out)
    );

    let fx = Fixture::new();
    fx.append(
        "manager/customers.yml",
        "\n  - slug: acme\n    path: x\n    contact: a@b.example\n    environments: [staging]\n    added: 2026-01-01\n",
    );
    let out = common::run(&fx, &["validate"]).code(2);
    assert!(
        stderr(&out).contains("customer `acme` is registered twice"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn missing_terraform_fails_with_an_install_hint() {
    let fx = Fixture::new();
    let out = common::Run::from(fx.fleetform())
        .env("PATH", "/nonexistent")
        .args(["plan", "--all"])
        .code(1);
    assert!(
        stderr(&out).contains(
            "error: `terraform` was not found on PATH\nhelp: install it (https://developer.hashicorp.com/terraform/install"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn yaml_syntax_errors_have_positions() {
    let fx = Fixture::new();
    fx.write(
        "customers/acme/infra/variables.yml",
        "project_name: acme\nenvironments:\n  staging: [unclosed\n",
    );
    let out = common::run(&fx, &["validate", "--customer", "acme"]).code(1);
    let err = stderr(&out);
    assert!(
        err.contains("../customers/acme/infra/variables.yml:4:1: YAML syntax error"),
        "{err}"
    );
}
