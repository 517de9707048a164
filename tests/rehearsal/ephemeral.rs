//! #82's acceptance, on the fleet on the test cloud (`on_cloud`: state and
//! records in the bucket on moto): acme keeps three secrets for staging,
//! each bound for an `ephemeral = true` variable that reaches a write-only
//! argument of the test cloud. Its push runs the deploy workflow as GitHub
//! runs it: the key job hands acme's identity to the plan and apply jobs
//! sealed for them; the plan decrypts, plans, seals and uploads; the apply
//! downloads, opens and applies after a reviewer, decrypting the three
//! again; then a drift run plans the pair once more. The cloud holds each
//! value's digest (the apply sent them), and no byte of any value is in
//! anything fleetform or Terraform wrote: the runner's disk (workspaces,
//! artifacts, and each sealed bundle opened with its key), the manager
//! checkout (the drift run's out folder), every object in the bucket
//! (states, records), every job's log and outputs, every comment and
//! status, and every request the fake GitHub received. The jobs that
//! receive a customer identity are acme's key jobs alone, and they receive
//! acme's; globex's identity and the fleet identity, kept in the plan and
//! apply environments, reach no job.

use std::path::Path;

use super::on_cloud::{OnCloud, BUCKET};
use crate::secrets::cloud::{encrypt, keygen};
use crate::secrets::ephemeral::{searchable, sha256_hex};
use crate::support::actions_runner::Event;
use crate::support::fake_github::{BranchPolicy, Environment};
use crate::world::{ok, ACME, MANAGER};

const DEPLOY: &str = "workflows/manager-deploy.yml";

const SECRETS: [(&str, &str); 3] = [
    ("db_password", "eph3meral-Db-Pa55-7c1e"),
    ("api_token", "eph3meral-Api-T0ken-4b2d"),
    ("signing_key", "eph3meral-S1gning-9a8f"),
];

/// The provider's side: `secrets:` with acme's staging recipient, the
/// three secrets in the schema, and the root module declaring each one
/// sensitive and ephemeral, sent to the cloud by a write-only argument;
/// committed to the manager repo.
fn provide(c: &OnCloud, recipient: &str) -> Vec<(String, String)> {
    let fx = &c.w.fx;
    let (secrets, handoff) =
        crate::secrets::cloud::secrets_with_handoff(&["staging", "production"]);
    fx.append("manager/fleetform.yml", &secrets);
    let registry = fx.read("manager/customers.yml").replacen(
        "    repo: acme-corp/acme-infra\n",
        &format!("    repo: acme-corp/acme-infra\n    secrets: {{staging: {recipient}}}\n"),
        1,
    );
    assert!(registry.contains(recipient), "{registry}");
    fx.write("manager/customers.yml", &registry);
    let schema_path = "manager/schema/variables.schema.json";
    let mut schema: serde_json::Value = serde_json::from_str(&fx.read(schema_path)).unwrap();
    let mut module = String::new();
    for (name, _) in SECRETS {
        schema["properties"][name] = serde_json::json!({"type": "string", "writeOnly": true});
        module.push_str(&format!(
            "\nvariable \"{name}\" {{\n  type      = string\n  default   = null\n  sensitive = true\n  ephemeral = true\n}}\n\nresource \"fakecloud_secret\" \"{name}\" {{\n  name             = \"${{var.customer}}-${{var.environment}}-{name}\"\n  value_wo         = var.{name}\n  value_wo_version = 1\n}}\n"
        ));
    }
    fx.write(schema_path, &serde_json::to_string_pretty(&schema).unwrap());
    fx.append("manager/terraform/main.tf", &module);
    let files: Vec<(String, String)> = [
        "fleetform.yml",
        "customers.yml",
        "schema/variables.schema.json",
        "terraform/main.tf",
    ]
    .iter()
    .map(|p| (p.to_string(), fx.read(&format!("manager/{p}"))))
    .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    c.w.gh.commit(MANAGER, "main", &refs);
    handoff
}

/// acme's secrets file for staging: each value encrypted by the `age` tool.
fn secrets_file(recipient: &str) -> String {
    let mut text = format!("recipient: {recipient}\nsecrets:\n");
    for (name, value) in SECRETS {
        let armored: String = encrypt(recipient, value)
            .lines()
            .map(|l| format!("      {l}\n"))
            .collect();
        text.push_str(&format!(
            "  {name}:\n    updated: 2026-11-20\n    value: |\n{armored}"
        ));
    }
    text
}

/// Each secret's value found in `bytes`, named by where.
fn hits(bytes: &[u8], at: &str) -> Vec<String> {
    SECRETS
        .iter()
        .filter(|(_, v)| bytes.windows(v.len()).any(|w| w == v.as_bytes()))
        .map(|(n, _)| format!("{n} in {at}"))
        .collect()
}

/// Every file under `dir`, each sealed bundle also opened with `keys`
/// (artifact key, customer, environment).
fn disk_hits(dir: &Path, keys: &[(&str, &str, &str)], opened: &mut usize) -> Vec<String> {
    let mut found = Vec::new();
    for e in walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
    {
        if !e.file_type().is_file() {
            continue;
        }
        let bytes = std::fs::read(e.path()).unwrap_or_default();
        let at = e.path().display().to_string();
        found.extend(hits(&searchable(&bytes), &at));
        if at.ends_with("bundle.sealed") {
            for (key, customer, env) in keys {
                let key = fleetform::dispatch::seal::ArtifactKey::new(key.as_bytes()).unwrap();
                if let Ok(files) = fleetform::dispatch::seal::open(&key, customer, env, &bytes, &at)
                {
                    *opened += 1;
                    for (name, content) in files {
                        let at = format!("{at} (opened) {name}");
                        found.extend(hits(&searchable(&content), &at));
                    }
                }
            }
        }
    }
    found
}

#[test]
fn three_ephemeral_secrets_reach_the_cloud_and_nothing_else() {
    let mut c = OnCloud::applied("");
    let (recipient, identity) = keygen();
    let handoff = provide(&c, &recipient);
    crate::secrets::cloud::store_handoff(&mut c.runner, &c.w.gh, &handoff);
    // acme's own environment for its staging key; globex's identity left
    // in the plan and apply environments (an old layout), never sent.
    c.w.gh.set_environment(
        MANAGER,
        "staging-secrets-acme",
        Environment {
            branch_policy: BranchPolicy::Custom(vec![("main".into(), "branch".into())]),
            ..Default::default()
        },
    );
    c.runner.secret(
        &c.w.gh,
        Some("staging-secrets-acme"),
        "FLEETFORM_SECRETS_KEY",
        &identity,
    );
    let (_, globex) = keygen();
    let (_, fleet) = keygen();
    for env in ["staging-plan", "staging-apply"] {
        c.runner
            .secret(&c.w.gh, Some(env), "FLEETFORM_SECRETS_KEY_GLOBEX", &globex);
        // The fleet identity the rollout's and operations' plans read
        // there: no job of a customer's dispatch names it.
        c.runner
            .secret(&c.w.gh, Some(env), "FLEETFORM_FLEET_SECRETS_KEY", &fleet);
    }

    // acme pushes its secrets file to its default branch.
    let sha = c.w.gh.commit(
        ACME,
        "main",
        &[("infra/secrets.staging.yml", &secrets_file(&recipient))],
    );
    ok(&c.w.trigger_push(ACME, &sha, "Set the staging secrets").0);
    let d = c.w.last_dispatch();
    assert_eq!(d["event_type"], "fleetform-apply");
    c.runner.approve("staging-apply", "provider-lead");
    c.runner.approve("production-apply", "provider-lead");
    let run = c.runner.run(&c.w.gh, DEPLOY, &Event::dispatch(&d));
    run.assert_succeeded(&[
        "authorise",
        "key-staging",
        "plan-staging",
        "apply-staging",
        "plan-production",
        "conclude",
    ]);
    assert_eq!(run.job("key-production").result, "skipped");

    // The apply sent each value to the cloud: it keeps their digests.
    for (name, value) in SECRETS {
        let object = c
            .object(&format!("acme-staging-{name}"))
            .unwrap_or_else(|| panic!("acme-staging-{name} is not in the cloud"));
        assert_eq!(object["value_wo_sha256"], sha256_hex(value), "{object}");
    }

    // Which job received a customer identity: acme's key job alone.
    for (id, job) in &run.jobs {
        let received = job
            .log
            .lines()
            .find(|l| l.starts_with(&format!("runner: job {id}: environment")))
            .unwrap_or_default();
        assert!(!received.contains("GLOBEX"), "{id}: {received}");
        assert!(!received.contains("FLEET_SECRETS_KEY"), "{id}: {received}");
        assert!(
            !received.contains("every secret of its environment"),
            "{id}: {received}"
        );
        let holds_key = received.contains("\"FLEETFORM_SECRETS_KEY\"");
        assert_eq!(holds_key, id == "key-staging", "{id}: {received}");
    }

    // Drift plans the pair again from a workstation's checkout (acme's
    // files beside the registry, as local mode reads them), with acme's
    // key: nothing changed.
    let registry = c.w.fx.read("manager/customers.yml");
    c.w.fx.write(
        "manager/customers.yml",
        &registry.replacen(
            "    repo: acme-corp/acme-infra\n",
            "    repo: acme-corp/acme-infra\n    path: ../customers/acme\n",
            1,
        ),
    );
    c.w.fx.write(
        "customers/acme/infra/secrets.staging.yml",
        &secrets_file(&recipient),
    );
    let drift = crate::common::Run::from(c.w.fx.fleetform())
        .envs(c.machine.iter().map(|(k, v)| (*k, v.as_str())))
        .env("FLEETFORM_SECRETS_KEY_ACME", &identity)
        .args(["drift", "--customer", "acme", "--env", "staging"])
        .output();
    assert_eq!(drift.code, Some(0), "{}\n{}", drift.stdout, drift.stderr);

    // No byte of any value anywhere.
    let production = "production-artifact-key-9f3c1a7e5b2d4c6f8a0e1b3d5f7a9c2e";
    let keys = [
        (crate::common::ARTIFACT_KEY, "acme", "staging"),
        (production, "acme", "production"),
    ];
    let mut opened = 0;
    let mut found = disk_hits(c.runner.disk(), &keys, &mut opened);
    assert!(
        opened >= 2,
        "the sealed bundles were opened and searched ({opened})"
    );
    found.extend(disk_hits(&c.w.fx.path("manager"), &keys, &mut opened));
    found.extend(hits(drift.stdout.as_bytes(), "drift's output"));
    found.extend(hits(drift.stderr.as_bytes(), "drift's errors"));
    let objects = c.moto.keys_in(BUCKET);
    assert!(objects.iter().any(|k| k.contains("staging")), "{objects:?}");
    for key in &objects {
        let body =
            crate::moto::curl(&c.moto.url(&format!("/{BUCKET}/{key}")), "GET").unwrap_or_default();
        found.extend(hits(body.as_bytes(), &format!("s3://{BUCKET}/{key}")));
    }
    for (id, job) in &run.jobs {
        found.extend(hits(job.log.as_bytes(), &format!("job {id}'s log")));
        let outputs = serde_json::to_string(&job.outputs).unwrap();
        found.extend(hits(outputs.as_bytes(), &format!("job {id}'s outputs")));
    }
    for (repo, comment) in c.w.gh.all_comments() {
        found.extend(hits(
            comment.body.as_bytes(),
            &format!("a comment on {repo}"),
        ));
    }
    for r in c.w.gh.requests() {
        found.extend(hits(r.body.as_bytes(), &format!("{} {}", r.method, r.path)));
        found.extend(hits(
            r.query.as_bytes(),
            &format!("{} {}?", r.method, r.path),
        ));
    }
    assert!(found.is_empty(), "{found:#?}");
    c.w.gh.assert_clean();
}
