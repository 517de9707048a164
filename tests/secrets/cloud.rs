//! Customer secrets on the test cloud, with files written by another
//! implementation than fleetform's: identities from `age-keygen`, values
//! encrypted by the `age` command-line tool. A customer's secret reaches
//! Terraform (the cloud holds it) and nothing fleetform writes or prints
//! (searched byte by byte); a file encrypted to another customer's
//! recipient is refused; a secret written in plain in a values file is a
//! located error that does not repeat it; a secret bound for a variable
//! that is not `sensitive = true`, or that fails its schema property, is
//! refused before anything is planned.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{self, stderr, stdout};
use crate::support::rollout_world::World;

pub(crate) const VALUE: &str = "s3cr3t-Pa55word-7f1c";

/// Fails (never skips) without the `age` tools.
fn tool(name: &str) -> Command {
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|d| d.join(name).is_file());
    assert!(
        found,
        "`{name}` is not on PATH; these tests encrypt with the age command-line tools: install them (Debian/Ubuntu: apt-get install age)"
    );
    Command::new(name)
}

/// (recipient, identity) from `age-keygen`.
/// fleetform.yml's `secrets:` with a handoff recipient per environment
/// of `environments`, as `doctor --fix` makes them, and each
/// environment's handoff identity (FLEETFORM_HANDOFF_KEY of its plan and
/// apply environments).
pub(crate) fn secrets_with_handoff(environments: &[&str]) -> (String, Vec<(String, String)>) {
    let mut block = String::from("\nsecrets:\n  handoff_recipients:\n");
    let mut identities = Vec::new();
    for env in environments {
        let (recipient, identity) = keygen();
        block.push_str(&format!("    {env}: {recipient}\n"));
        identities.push((env.to_string(), identity));
    }
    (block, identities)
}

/// Each handoff identity of [`secrets_with_handoff`] in its environment's
/// plan and apply environments.
pub(crate) fn store_handoff(
    runner: &mut crate::support::actions_runner::Runner,
    gh: &crate::support::fake_github::FakeGitHub,
    identities: &[(String, String)],
) {
    for (env, identity) in identities {
        for of in ["plan", "apply"] {
            runner.secret(
                gh,
                Some(&format!("{env}-{of}")),
                "FLEETFORM_HANDOFF_KEY",
                identity,
            );
        }
    }
}

pub(crate) fn keygen() -> (String, String) {
    let out = tool("age-keygen").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let identity = text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .unwrap()
        .to_string();
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_string();
    (recipient, identity)
}

/// `value` encrypted by `age -r recipient -a`.
pub(crate) fn encrypt(recipient: &str, value: &str) -> String {
    use std::io::Write as _;
    let mut child = tool("age")
        .args(["-r", recipient, "-a"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(value.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

pub(crate) fn secrets_file(recipient: &str, ciphertext: &str) -> String {
    let value: String = ciphertext.lines().map(|l| format!("      {l}\n")).collect();
    format!("# Secrets of this customer for staging.\nrecipient: {recipient}\nsecrets:\n  db_password:\n    updated: 2026-11-01\n    value: |\n{value}")
}

/// Two customers in staging, each with its own recipient in the registry;
/// the schema marks `db_password` a secret, the module takes it into a
/// network tag through a sensitive variable. Returns the identities.
pub(crate) fn world() -> (World, [(String, String); 2]) {
    let w = World::with(2, "staging");
    let keys = [keygen(), keygen()];
    let registry = w.fx.read("manager/customers.yml");
    let mut edited = String::new();
    for block in registry.split_inclusive("    added: 2026-01-01\n") {
        edited.push_str(block);
        for (i, c) in ["c01", "c02"].iter().enumerate() {
            if block.contains(&format!("slug: {c}\n")) {
                edited.push_str(&format!("    secrets: {{staging: {}}}\n", keys[i].0));
            }
        }
    }
    w.fx.write("manager/customers.yml", &edited);
    w.fx.append(
        "manager/fleetform.yml",
        "\nsecrets:\n  keys_dir: .fleetform/secret-keys\n",
    );
    let schema_path = "manager/schema/variables.schema.json";
    let mut schema: serde_json::Value = serde_json::from_str(&w.fx.read(schema_path)).unwrap();
    schema["properties"]["db_password"] =
        serde_json::json!({"type": "string", "writeOnly": true, "minLength": 12});
    w.fx.write(schema_path, &serde_json::to_string_pretty(&schema).unwrap());
    let module = w.fx.read("manager/terraform/main.tf").replace(
        "  tags  = var.tags\n}",
        "  tags  = merge(var.tags, var.db_password == null ? {} : { db = var.db_password })\n}",
    );
    w.fx.write(
        "manager/terraform/main.tf",
        &format!("{module}\nvariable \"db_password\" {{\n  type      = string\n  default   = null\n  sensitive = true\n}}\n"),
    );
    (w, keys)
}

pub(crate) fn run(w: &World, key: &str, args: &[&str]) -> crate::common::Ran {
    w.fleetform()
        .env("FLEETFORM_SECRETS_KEY_C01", key)
        .args(args)
        .output()
}

/// Every file under `dir` that holds `needle`, except Terraform's own
/// plan files and state (which hold a sensitive variable's value, as for
/// every Terraform user; fleetform seals the plan file in its bundles).
fn files_holding(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if p.is_dir() {
            if name != "state" && name != ".terraform" {
                found.extend(files_holding(&p, needle));
            }
        } else if name != "tfplan" && !name.ends_with(".tfstate") && name != "cloud.json" {
            let bytes = std::fs::read(&p).unwrap_or_default();
            if bytes.windows(needle.len()).any(|w| w == needle) {
                found.push(p.display().to_string());
            }
        }
    }
    found
}

#[test]
fn a_secret_reaches_terraform_and_nothing_fleetform_writes() {
    let (w, keys) = world();
    let file = secrets_file(&keys[0].0, &encrypt(&keys[0].0, VALUE));
    w.fx.write("customers/c01/infra/secrets.staging.yml", &file);

    let plan = run(
        &w,
        &keys[0].1,
        &["plan", "--customer", "c01", "--env", "staging"],
    );
    common::assert_code(&plan, 0);
    let apply = run(
        &w,
        &keys[0].1,
        &["apply", "--customer", "c01", "--env", "staging"],
    );
    common::assert_code(&apply, 0);
    // Terraform had it: the cloud's network carries it.
    let networks = crate::fakecloud::objects(&w.cloud_file);
    let tagged = networks
        .values()
        .any(|v| v["tags"]["db"].as_str() == Some(VALUE));
    assert!(tagged, "the secret never reached Terraform: {networks:?}");
    // Nothing fleetform printed or wrote holds it.
    for out in [&plan, &apply] {
        assert!(!stdout(out).contains(VALUE) && !stderr(out).contains(VALUE));
    }
    let leaked = files_holding(&w.fx.path("manager"), VALUE.as_bytes());
    assert!(leaked.is_empty(), "the secret is in {leaked:?}");
    // The comment names where the secret comes from, never its value,
    // and says it is kept in the plan file and the state (not ephemeral),
    // as `customers show` does.
    let comment = w.fx.read("manager/.fleetform/out/c01/staging/comment.md");
    assert!(!comment.contains(VALUE));
    assert!(
        comment.contains("Kept in the sealed plan file and the state, as Terraform keeps every `sensitive` variable: `db_password`"),
        "{comment}"
    );
    let show = run(&w, &keys[0].1, &["customers", "show", "c01"]);
    assert!(
        stdout(&show).contains("`db_password` kept in the sealed plan file and the state"),
        "{}",
        stdout(&show)
    );
}

/// A revoked customer's secrets are never decrypted, even with its key at
/// hand: its offboarding plans the destroy without them (the secret's
/// variable takes its default), and no byte of its value reaches the
/// destroy plan file or anything else.
#[test]
fn a_revoked_customers_secrets_are_never_decrypted_and_its_offboarding_goes_on() {
    let (w, keys) = world();
    let file = secrets_file(&keys[0].0, &encrypt(&keys[0].0, VALUE));
    w.fx.write("customers/c01/infra/secrets.staging.yml", &file);
    for verb in ["plan", "apply"] {
        let out = run(
            &w,
            &keys[0].1,
            &[verb, "--customer", "c01", "--env", "staging"],
        );
        common::assert_code(&out, 0);
    }
    std::fs::remove_dir_all(w.fx.path("manager/.fleetform/out")).unwrap();
    w.expect(
        0,
        &["customers", "revoke", "c01", "--reason", "contract ended"],
    );
    let preview = run(
        &w,
        &keys[0].1,
        &["customers", "offboard", "c01", "--reason", "contract ended"],
    );
    common::assert_code(&preview, 0);
    let text = stdout(&preview);
    assert!(
        text.contains("This will destroy 3 resources in 1 pair"),
        "{text}"
    );
    let tfplan = std::fs::read(w.fx.path("manager/.fleetform/out/c01/staging/tfplan")).unwrap();
    assert!(!tfplan.is_empty());
    let mut leaked = files_holding(&w.fx.path("manager/.fleetform"), VALUE.as_bytes());
    if tfplan.windows(VALUE.len()).any(|b| b == VALUE.as_bytes()) {
        leaked.push("the destroy plan's tfplan".into());
    }
    assert!(
        leaked.is_empty(),
        "a revoked customer's secret was decrypted: {leaked:?}"
    );
    let digest = crate::common::digest_of(&text);
    let out = run(
        &w,
        &keys[0].1,
        &[
            "customers",
            "offboard",
            "c01",
            "--approve",
            &digest,
            "--unreviewed",
        ],
    );
    common::assert_code(&out, 0);
    assert!(crate::customers::offboard::cloud::count(&w, "c01-") == 0);
}

#[test]
fn another_customers_file_and_plain_secrets_are_refused() {
    let (w, keys) = world();
    // c02's file is c01's (encrypted to c01's recipient): refused, even
    // with c01's key at hand.
    let file = secrets_file(&keys[0].0, &encrypt(&keys[0].0, VALUE));
    w.fx.write("customers/c02/infra/secrets.staging.yml", &file);
    let out = w
        .fleetform()
        .env("FLEETFORM_SECRETS_KEY", &keys[0].1)
        .env("FLEETFORM_SECRETS_KEY_C02", &keys[1].1)
        .args(["plan", "--customer", "c02", "--env", "staging"])
        .output();
    assert_ne!(out.status.code(), Some(0));
    let err = format!("{}{}", stdout(&out), stderr(&out));
    assert!(err.contains("not c02/staging's recipient"), "{err}");
    assert!(err.contains("secrets.staging.yml:1:1"), "{err}");
    assert!(crate::fakecloud::objects(&w.cloud_file).is_empty());

    // A file claiming c02's recipient whose value is c01's: located at the key.
    let file = secrets_file(&keys[1].0, &encrypt(&keys[0].0, VALUE));
    w.fx.write("customers/c02/infra/secrets.staging.yml", &file);
    let out = w
        .fleetform()
        .env("FLEETFORM_SECRETS_KEY_C02", &keys[1].1)
        .args(["plan", "--customer", "c02", "--env", "staging"])
        .output();
    let err = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        err.contains("secrets.staging.yml:4:3") && err.contains("does not decrypt"),
        "{err}"
    );

    // In plain in the values file: a located error that does not repeat it.
    std::fs::remove_file(w.fx.path("customers/c02/infra/secrets.staging.yml")).unwrap();
    w.fx.append(
        "customers/c02/infra/variables.yml",
        &format!("db_password: {VALUE}\n"),
    );
    let out = w
        .fleetform()
        .args(["validate", "--customer", "c02"])
        .output();
    assert_ne!(out.status.code(), Some(0));
    let err = format!("{}{}", stdout(&out), stderr(&out));
    assert!(err.contains("`db_password` is a secret"), "{err}");
    assert!(!err.contains(VALUE), "{err}");
}

/// A secret set in the manager's value layers would replace the
/// customer's encrypted one (a var file beats `TF_VAR_`): secrets come
/// only from secrets files, on the manager's side too. Refused where it
/// is written, in the base and in an environment's file, without
/// repeating the value, and nothing is planned.
#[test]
fn a_secret_in_the_managers_values_is_refused() {
    let (w, keys) = world();
    let file = secrets_file(&keys[0].0, &encrypt(&keys[0].0, VALUE));
    w.fx.write("customers/c01/infra/secrets.staging.yml", &file);
    for layer in ["values/base.yml", "values/staging.yml"] {
        let path = format!("manager/{layer}");
        let before = w.fx.read(&path);
        let line = before.lines().count() + 1;
        w.fx.append(&path, "db_password: an OVERRIDE for all\n");
        for args in [
            &["validate", "--customer", "c01"][..],
            &["plan", "--customer", "c01", "--env", "staging"],
        ] {
            let out = run(&w, &keys[0].1, args);
            common::assert_code(&out, 1);
            let err = format!("{}{}", stdout(&out), stderr(&out));
            assert!(
                err.contains(&format!("{layer}:{line}:1"))
                    && err.contains("`db_password` is a secret")
                    && err.contains("the manager's values"),
                "{layer} {args:?}: {err}"
            );
            assert!(!err.contains("OVERRIDE"), "{err}");
        }
        assert!(crate::fakecloud::objects(&w.cloud_file).is_empty());
        w.fx.write(&path, &before);
    }
}

#[test]
fn a_secret_for_a_plain_variable_or_of_the_wrong_shape_is_refused() {
    let (w, keys) = world();
    let file = secrets_file(&keys[0].0, &encrypt(&keys[0].0, "short"));
    w.fx.write("customers/c01/infra/secrets.staging.yml", &file);
    let out = run(
        &w,
        &keys[0].1,
        &["plan", "--customer", "c01", "--env", "staging"],
    );
    let err = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        err.contains("`minLength`") && !err.contains("short"),
        "{err}"
    );

    let file = secrets_file(&keys[0].0, &encrypt(&keys[0].0, VALUE));
    w.fx.write("customers/c01/infra/secrets.staging.yml", &file);
    // Made plain by an override file, as Terraform merges it ("Override
    // Files"), or in main.tf itself: refused before Terraform runs.
    w.fx.write(
        "manager/terraform/secrets_override.tf",
        "variable \"db_password\" {\n  sensitive = false\n}\n",
    );
    let refused = |why: &str| {
        let out = run(
            &w,
            &keys[0].1,
            &["plan", "--customer", "c01", "--env", "staging"],
        );
        assert_ne!(out.status.code(), Some(0));
        let err = format!("{}{}", stdout(&out), stderr(&out));
        assert!(err.contains(why), "{err}");
        assert!(!err.contains(VALUE), "{err}");
        assert!(crate::fakecloud::objects(&w.cloud_file).is_empty());
    };
    refused("is not `sensitive = true`");
    std::fs::remove_file(w.fx.path("manager/terraform/secrets_override.tf")).unwrap();
    let module = w.fx.read("manager/terraform/main.tf");
    w.fx.write(
        "manager/terraform/main.tf",
        &module.replace("  sensitive = true\n", "  sensitive = false\n"),
    );
    refused("is not `sensitive = true`");
}

/// Terraform receives the secrets only for the command that evaluates the
/// configuration with them, the plan: `init`, which fetches modules and
/// providers (git among them), `show`, `version` and the apply of the
/// saved plan (which holds its variables) run without them.
#[test]
fn only_the_commands_that_need_them_receive_the_secrets() {
    let (w, keys) = world();
    let file = secrets_file(&keys[0].0, &encrypt(&keys[0].0, VALUE));
    w.fx.write("customers/c01/infra/secrets.staging.yml", &file);
    let (terraform, log) = crate::common::recording_terraform(
        &w.fx,
        r#"echo "$1 ${TF_VAR_db_password:+with-the-secret}""#,
    );
    for verb in ["plan", "apply"] {
        let out = w
            .fleetform()
            .env("FLEETFORM_SECRETS_KEY_C01", &keys[0].1)
            .env("FLEETFORM_TERRAFORM", &terraform)
            .args([verb, "--customer", "c01", "--env", "staging"])
            .output();
        crate::common::assert_code(&out, 0);
    }
    let calls = std::fs::read_to_string(log).unwrap();
    let with: Vec<&str> = calls
        .lines()
        .filter(|l| l.ends_with("with-the-secret"))
        .collect();
    assert!(!with.is_empty(), "{calls}");
    for line in calls.lines() {
        let verb = line.split_whitespace().next().unwrap_or_default();
        assert_eq!(line.ends_with("with-the-secret"), verb == "plan", "{calls}");
    }
    assert!(calls.lines().any(|l| l.trim() == "init"), "{calls}");
}

#[test]
fn provider_wide_secrets_reach_every_customer_and_never_clash() {
    let (w, keys) = world();
    let (provider, provider_key) = keygen();
    let config = w.fx.read("manager/fleetform.yml").replace(
        "  keys_dir: .fleetform/secret-keys\n",
        &format!("  keys_dir: .fleetform/secret-keys\n  recipients: {{staging: {provider}}}\n"),
    );
    w.fx.write("manager/fleetform.yml", &config);
    let shared = "shared-Pa55word-0a9d";
    w.fx.write(
        "manager/secrets/staging.yml",
        &secrets_file(&provider, &encrypt(&provider, shared)),
    );

    // Without the provider's key: refused, nothing planned.
    let out = w
        .fleetform()
        .args(["plan", "--customer", "c02", "--env", "staging"])
        .output();
    let err = format!("{}{}", stdout(&out), stderr(&out));
    assert!(err.contains("no key for the provider's `staging`"), "{err}");

    // With it: c02 (no file of its own) gets the provider's value.
    for args in [
        ["plan", "--customer", "c02", "--env", "staging"],
        ["apply", "--customer", "c02", "--env", "staging"],
    ] {
        let out = w
            .fleetform()
            .env("FLEETFORM_PROVIDER_SECRETS_KEY", &provider_key)
            .args(args)
            .output();
        common::assert_code(&out, 0);
        assert!(!stdout(&out).contains(shared) && !stderr(&out).contains(shared));
    }
    let tagged = crate::fakecloud::objects(&w.cloud_file)
        .values()
        .any(|v| v["tags"]["db"].as_str() == Some(shared));
    assert!(tagged, "the provider's secret never reached Terraform");
    assert!(files_holding(&w.fx.path("manager"), shared.as_bytes()).is_empty());

    // c01 sets the same name in its own file: one source per variable.
    let file = secrets_file(&keys[0].0, &encrypt(&keys[0].0, VALUE));
    w.fx.write("customers/c01/infra/secrets.staging.yml", &file);
    let out = w
        .fleetform()
        .env("FLEETFORM_PROVIDER_SECRETS_KEY", &provider_key)
        .env("FLEETFORM_SECRETS_KEY_C01", &keys[0].1)
        .args(["plan", "--customer", "c01", "--env", "staging"])
        .output();
    let err = format!("{}{}", stdout(&out), stderr(&out));
    assert!(err.contains("is also a provider-wide secret"), "{err}");
}

/// `render` and `render --explain` show a secret as its source file and
/// key (a row of its own in the explanation), never its value, and need
/// no key.
#[test]
fn render_shows_a_secret_by_source_never_by_value() {
    let (w, keys) = world();
    let file = secrets_file(&keys[0].0, &encrypt(&keys[0].0, VALUE));
    w.fx.write("customers/c01/infra/secrets.staging.yml", &file);
    let render = w.expect(0, &["render", "--customer", "c01", "--env", "staging"]);
    let rendered: serde_json::Value = serde_json::from_str(&stdout(&render)).unwrap();
    assert!(rendered.get("db_password").is_none(), "{rendered}");
    assert!(
        stderr(&render).contains("`db_password` is a secret from ")
            && stderr(&render).contains("secrets.staging.yml:4:3"),
        "{}",
        stderr(&render)
    );
    let explain = w.expect(
        0,
        &[
            "render",
            "--customer",
            "c01",
            "--env",
            "staging",
            "--explain",
            "--json",
        ],
    );
    let rows: serde_json::Value = serde_json::from_str(&stdout(&explain)).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["pointer"] == "/db_password")
        .unwrap_or_else(|| panic!("no row for the secret: {rows}"));
    assert_eq!(row["layer"], "secret", "{row}");
    assert!(
        row["location"]
            .as_str()
            .unwrap()
            .ends_with("infra/secrets.staging.yml:4:3"),
        "{row}"
    );
    for out in [&render, &explain] {
        assert!(!stdout(out).contains(VALUE) && !stderr(out).contains(VALUE));
    }
}

/// `validate` in the manager, with the customer's key at hand, decrypts
/// its secrets and checks each value against its schema property (the
/// keyword named, the value never shown); without a key it checks what
/// needs none and passes.
#[test]
fn validate_with_a_key_checks_the_decrypted_shape() {
    let (w, keys) = world();
    let short = "tiny-pw";
    let file = secrets_file(&keys[0].0, &encrypt(&keys[0].0, short));
    w.fx.write("customers/c01/infra/secrets.staging.yml", &file);
    w.expect(0, &["validate", "--customer", "c01"]);
    let out = run(&w, &keys[0].1, &["validate", "--customer", "c01"]);
    assert_ne!(out.status.code(), Some(0));
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        said.contains("secrets.staging.yml:4:3") && said.contains("`minLength`"),
        "{said}"
    );
    assert!(!said.contains(short), "{said}");
    // A value that fits passes with the key too.
    let file = secrets_file(&keys[0].0, &encrypt(&keys[0].0, VALUE));
    w.fx.write("customers/c01/infra/secrets.staging.yml", &file);
    let out = run(&w, &keys[0].1, &["validate", "--customer", "c01"]);
    common::assert_code(&out, 0);
}

/// Policy tools never see a secret and nothing they say carries one (#82
/// point 4): the plan JSON they get holds a marker where the secret was,
/// and a tool that repeats the value (a finding quoting an attribute) has
/// it replaced before it reaches the summary, the comment or the output.
#[test]
fn policy_tools_see_no_secret_and_say_none() {
    let (w, keys) = world();
    let file = secrets_file(&keys[0].0, &encrypt(&keys[0].0, VALUE));
    w.fx.write("customers/c01/infra/secrets.staging.yml", &file);
    let seen = w.fx.path("seen");
    std::fs::create_dir_all(&seen).unwrap();
    crate::gates::tools::fake_tool(
        &w.fx,
        "conftest",
        &format!(
            "cp \"$5\" '{0}/plan.json'\n\
             printf '%s' '[{{\"namespace\":\"main\",\"successes\":0,\"failures\":[{{\"msg\":\"tags.db is {VALUE}\"}}]}}]'\nexit 1",
            seen.display()
        ),
    );
    w.fx.write("manager/policy/main.rego", "package main\n");
    w.fx.append(
        "manager/fleetform.yml",
        "\npolicies:\n  default:\n    tools:\n      - { name: opa, kind: conftest, run: tools/conftest, policy: policy, required: false }\n",
    );
    let plan = run(
        &w,
        &keys[0].1,
        &["plan", "--customer", "c01", "--env", "staging", "--json"],
    );
    common::assert_code(&plan, 0);
    let given = std::fs::read_to_string(seen.join("plan.json")).unwrap();
    assert!(!given.contains(VALUE), "the tool read the secret");
    assert!(given.contains(fleetform::engine::SECRET_MARKER), "{given}");
    assert!(!stdout(&plan).contains(VALUE) && !stderr(&plan).contains(VALUE));
    assert!(
        stdout(&plan).contains("tags.db is (secret)"),
        "{}",
        stdout(&plan)
    );
    // What fleetform wrote (the tool script itself holds the value).
    let leaked = files_holding(&w.fx.path("manager/.fleetform"), VALUE.as_bytes());
    assert!(leaked.is_empty(), "the secret is in {leaked:?}");
}
