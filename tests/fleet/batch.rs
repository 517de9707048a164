//! Batch modes: `render --all --out DIR` (every active customer ×
//! environment, in parallel) and `validate FILE...` over many files.

use crate::common;

use common::{stderr, stdout, Fixture};

fn run(fx: &Fixture, args: &[&str]) -> crate::common::Ran {
    common::Run::from(fx.fleetform()).args(args).output()
}

#[test]
fn render_all_writes_what_render_prints_for_each_customer() {
    let fx = Fixture::new();
    let out = run(&fx, &["render", "--all", "--out", "vars", "--jobs", "3"]);
    common::assert_code(&out, 0);
    assert!(
        stderr(&out).contains("rendered 4 of 4 customer × environment pairs to vars"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("1 revoked customer skipped"),
        "{}",
        stderr(&out)
    );
    for customer in ["acme", "globex"] {
        for env in ["staging", "production"] {
            let single = run(&fx, &["render", "--customer", customer, "--env", env]);
            common::assert_code(&single, 0);
            let file = fx.read(&format!("manager/vars/{customer}/{env}.tfvars.json"));
            assert_eq!(file, stdout(&single), "{customer}/{env}");
        }
    }
    // Templates were rendered, layers applied.
    let globex: serde_json::Value =
        serde_json::from_str(&fx.read("manager/vars/globex/production.tfvars.json")).unwrap();
    assert_eq!(globex["tags"]["name"], "globex-api-production");
    assert_eq!(globex["tags"]["tier"], "production");
    // The revoked customer gets nothing.
    assert!(!fx.path("manager/vars/initech").exists());
}

#[test]
fn render_all_with_env_renders_only_that_environment() {
    let fx = Fixture::new();
    let out = run(
        &fx,
        &["render", "--all", "--env", "production", "--out", "vars"],
    );
    common::assert_code(&out, 0);
    assert!(fx
        .path("manager/vars/acme/production.tfvars.json")
        .is_file());
    assert!(!fx.path("manager/vars/acme/staging.tfvars.json").exists());
    let out = run(
        &fx,
        &[
            "render", "--all", "--env", "qa", "--out", "vars", "--jobs", "1",
        ],
    );
    common::assert_code(&out, 2);
    assert!(stderr(&out).contains("unknown environment `qa`"));
}

#[test]
fn render_all_reports_an_invalid_customer_and_renders_the_others() {
    let fx = Fixture::new();
    fx.register_invalid_customer();
    let out = run(&fx, &["render", "--all", "--out", "vars"]);
    common::assert_code(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains(
            "../invalid/broken-co/infra/variables.yml:8:20: /environments/staging/min_instances"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "../invalid/broken-co/infra/variables.yml:13:23: /networking/availability_zones"
        ),
        "{err}"
    );
    assert!(
        err.contains("1 of 5 customer × environment pairs failed"),
        "{err}"
    );
    assert!(fx.path("manager/vars/acme/staging.tfvars.json").is_file());
    assert!(fx
        .path("manager/vars/globex/production.tfvars.json")
        .is_file());
    assert!(!fx.path("manager/vars/broken-co").exists());
}

#[test]
fn render_flags_are_checked() {
    let fx = Fixture::new();
    // Neither one customer nor --all.
    let out = run(&fx, &["render"]);
    common::assert_code(&out, 2);
    // --all needs --out, and does not go with --customer or --explain.
    for args in [
        &["render", "--all"][..],
        &["render", "--all", "--out", "v", "--customer", "acme"],
        &["render", "--all", "--out", "v", "--explain"],
        &[
            "render",
            "--customer",
            "acme",
            "--env",
            "staging",
            "--out",
            "v",
        ],
    ] {
        let out = run(&fx, args);
        common::assert_code_for(format_args!("{args:?}"), &out, 2);
    }
    let out = run(&fx, &["render", "--all", "--out", "v", "--jobs", "0"]);
    common::assert_code(&out, 2);
    assert!(stderr(&out).contains("--jobs must be at least 1"));
    // The single-customer form is unchanged.
    let out = run(&fx, &["render", "--customer", "acme", "--env", "staging"]);
    common::assert_code(&out, 0);
    let v: serde_json::Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    assert_eq!(v["customer"], "acme");
}

/// Many files checked in parallel: every invalid one reported with its
/// positions, results in the order given, one compiled schema.
#[test]
fn validate_many_files_reports_each_invalid_file_in_order() {
    let fx = Fixture::new();
    let good = fx.read("customers/acme/infra/variables.yml");
    let bad = fx.read("invalid/broken-co/infra/variables.yml");
    let mut names = Vec::new();
    for i in 0..120 {
        let name = format!("many/c{i:03}.yml");
        fx.write(
            &format!("manager/{name}"),
            if i % 40 == 7 { &bad } else { &good },
        );
        names.push(name);
    }
    // A YAML syntax error and a missing file are reported in place too.
    fx.write("manager/many/syntax.yml", "project_name: [unclosed\n");
    names.push("many/syntax.yml".into());
    names.push("many/missing.yml".into());
    let mut args = vec!["validate", "--schema", "schema/variables.schema.json"];
    args.extend(names.iter().map(String::as_str));
    let out = run(&fx, &args);
    common::assert_code(&out, 1);
    let err = stderr(&out);
    for i in [7, 47, 87] {
        let f = format!("many/c{i:03}.yml");
        for at in [
            "2:15: /project_name",
            "8:20: /environments/staging/min_instances",
            "13:23: /networking/availability_zones",
        ] {
            assert!(err.contains(&format!("error: {f}:{at}")), "{f}:{at}\n{err}");
        }
    }
    assert!(err.contains("error: many/syntax.yml:"), "{err}");
    assert!(
        err.contains("error: many/missing.yml:1:1: cannot read"),
        "{err}"
    );
    assert!(err.contains("5 of 122 invalid"), "{err}");
    // Problems come out in the order of the files.
    let pos = |s: &str| err.find(s).unwrap_or_else(|| panic!("{s}"));
    assert!(pos("many/c007.yml:2:15") < pos("many/c047.yml:2:15"));
    assert!(pos("many/c047.yml:2:15") < pos("many/c087.yml:2:15"));
    assert!(pos("many/c087.yml:2:15") < pos("many/syntax.yml"));
    let lines: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 122);
    assert_eq!(lines[0], "ok      many/c000.yml");
    assert_eq!(lines[7], "invalid many/c007.yml (4 problems)");
    assert!(lines[121].starts_with("invalid many/missing.yml"));

    // --json: one entry per file, in order; --jobs 1 gives the same.
    args.push("--json");
    let parallel = run(&fx, &args);
    args.extend(["--jobs", "1"]);
    let serial = run(&fx, &args);
    assert_eq!(stdout(&parallel), stdout(&serial));
    let v: serde_json::Value = serde_json::from_slice(parallel.stdout.as_bytes()).unwrap();
    let entries = v.as_array().unwrap();
    assert_eq!(entries.len(), 122);
    assert_eq!(entries[47]["name"], "many/c047.yml");
    assert_eq!(entries[47]["valid"], false);
    assert_eq!(entries[47]["problems"].as_array().unwrap().len(), 4);
    assert_eq!(entries[48]["valid"], true);
}

#[test]
fn validate_registry_customers_in_parallel() {
    let fx = Fixture::new();
    fx.register_invalid_customer();
    let out = run(&fx, &["validate", "--jobs", "4"]);
    common::assert_code(&out, 1);
    assert_eq!(
        stdout(&out),
        "ok      acme\nok      globex\ninvalid broken-co (4 problems)\n"
    );
    let out = run(&fx, &["validate", "--jobs", "0"]);
    common::assert_code(&out, 2);
}
