//! The age identities `doctor --fix` makes (#83 point 1): the fleet key
//! and the provider key, one identity per environment, stored sealed where
//! the workflow templates read them (a job that plans every environment
//! gets each, one per line), their recipients written into fleetform.yml
//! with its comments kept. PyNaCl opens what the fake GitHub stored and
//! `age-keygen -y` (age's own implementation) names each identity's
//! recipient, which must be the one fleetform.yml now holds.

use crate::common;
use crate::doctor::fix_secrets::{files_holding, key_pair, open, pynacl};
use crate::doctor::manager::{configured, doctor, register_repo_ids, row};
use crate::world::MANAGER;

const FLEET: &str = "FLEETFORM_FLEET_SECRETS_KEY";
const PROVIDER: &str = "FLEETFORM_PROVIDER_SECRETS_KEY";

/// The recipient of an age identity, as `age-keygen -y` derives it.
pub(crate) fn recipient_of(identity: &str) -> String {
    use std::io::Write as _;
    let mut keygen = std::process::Command::new("age-keygen")
        .arg("-y")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("age-keygen is not installed: `apt-get install age` (Debian) and run again");
    keygen
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{identity}\n").as_bytes())
        .unwrap();
    let out = keygen.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "age-keygen -y refused {identity:.16}…"
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// fleetform.yml's `secrets.<key>.<env>`.
fn named(fx: &common::Fixture, key: &str, env: &str) -> String {
    let v: yaml_serde::Value = yaml_serde::from_str(&fx.read("manager/fleetform.yml")).unwrap();
    v["secrets"][key][env]
        .as_str()
        .unwrap_or_else(|| panic!("secrets.{key}.{env} in fleetform.yml"))
        .to_string()
}

/// A manager with `secrets:` and the drift workflow installed.
fn with_secrets() -> (crate::support::fake_github::FakeGitHub, common::Fixture) {
    let gh = configured();
    let fx = common::Fixture::new();
    register_repo_ids(&fx, &gh, &[]);
    fx.append(
        "manager/fleetform.yml",
        "\n# Customer secrets, and the keys the manager's jobs hold.\nsecrets: {}\n",
    );
    fx.write(
        "manager/.github/workflows/manager-drift.yml",
        include_str!("../../workflows/manager-drift.yml"),
    );
    (gh, fx)
}

#[test]
fn fix_makes_the_fleet_and_provider_keys_and_names_their_recipients_once() {
    let python = pynacl();
    let (gh, fx) = with_secrets();
    let (secret_key, public_key) = key_pair(&python);
    gh.set_public_key(MANAGER, "568250167242549743", &public_key);

    let r = doctor(&gh, &fx, &[], &[]);
    let (_, verdict, found) = row(&r.stdout, "fleet key");
    assert_eq!(verdict, "WARN", "{}", r.stdout);
    assert!(
        found.contains("names no secrets.fleet_recipient"),
        "{found}"
    );

    let r = doctor(&gh, &fx, &[], &["--fix"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for want in [
        "make FLEETFORM_FLEET_SECRETS_KEY (fleet key), a new age identity per environment (staging, production) never shown: staging's in staging-plan; production's in production-plan; every one, a line each, in drift; its recipients are written into fleetform.yml as secrets.fleet_recipient  [doctor: fleet key]",
        "make FLEETFORM_PROVIDER_SECRETS_KEY (provider key), a new age identity per environment (staging, production) never shown: staging's in staging-plan, staging-apply; production's in production-plan, production-apply; every one, a line each, in drift; its recipients are written into fleetform.yml as secrets.recipients  [doctor: provider key]",
    ] {
        assert!(r.stdout.contains(want), "{want}:\n{}", r.stdout);
    }
    assert!(gh.requests().iter().all(|r| r.method == "GET"));
    assert!(!fx.read("manager/fleetform.yml").contains("fleet_recipient"));

    let r = doctor(&gh, &fx, &[], &["--fix", "--yes"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("done: make FLEETFORM_FLEET_SECRETS_KEY"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("commit it"), "{}", r.stdout);
    let config = fx.read("manager/fleetform.yml");
    assert!(
        config.contains("# Customer secrets, and the keys the manager's jobs hold."),
        "comments kept:\n{config}"
    );

    let opened = |env: &str, name: &str| {
        let sealed = gh.sealed_environment_secrets(MANAGER, env);
        let (_, value) = sealed
            .get(name)
            .unwrap_or_else(|| panic!("{name} in {env}"));
        open(&python, &secret_key, value)
    };
    let mut every = Vec::new();
    for (secret, key, holders) in [
        (FLEET, "fleet_recipient", &["plan"][..]),
        (PROVIDER, "recipients", &["plan", "apply"][..]),
    ] {
        let mut lines = Vec::new();
        for env in ["staging", "production"] {
            let identity = opened(&format!("{env}-{}", holders[0]), secret);
            assert!(identity.starts_with("AGE-SECRET-KEY-1"), "an age identity");
            assert_eq!(
                recipient_of(&identity),
                named(&fx, key, env),
                "{secret} {env}"
            );
            for h in holders {
                assert_eq!(opened(&format!("{env}-{h}"), secret), identity);
            }
            lines.push(identity);
        }
        assert_ne!(lines[0], lines[1], "one identity per environment");
        // drift plans every environment: each identity, one per line.
        assert_eq!(opened("drift", secret), lines.join("\n"));
        every.extend(lines);
    }
    for identity in &every {
        assert!(!r.stdout.contains(identity.as_str()) && !r.stderr.contains(identity.as_str()));
        assert_eq!(files_holding(fx.root(), identity), Vec::<String>::new());
    }

    let r = doctor(&gh, &fx, &[], &[]);
    for what in ["fleet key", "provider key"] {
        assert_eq!(row(&r.stdout, what).1, "pass", "{what}:\n{}", r.stdout);
    }
    let writes = gh.requests().iter().filter(|r| r.method != "GET").count();
    let r = doctor(&gh, &fx, &[], &["--fix", "--yes"]);
    assert!(r.stdout.contains("nothing to fix"), "{}", r.stdout);
    assert_eq!(
        gh.requests().iter().filter(|r| r.method != "GET").count(),
        writes
    );
    gh.assert_clean();
}

/// A key something is already sealed to is never replaced: with a fleet
/// keyring in the repo and no recipient in fleetform.yml, the fleet key
/// is left to the provider, and a named key missing from an environment
/// is said, not made.
#[test]
fn fix_never_replaces_a_key_in_use() {
    let python = pynacl();
    let (gh, fx) = with_secrets();
    let (_, public_key) = key_pair(&python);
    gh.set_public_key(MANAGER, "568250167242549743", &public_key);
    fx.write(
        "manager/secrets/keyring.yml",
        "recipient: age1x\nentries: {}\n",
    );
    fx.write(
        "manager/fleetform.yml",
        &fx.read("manager/fleetform.yml").replace(
            "secrets: {}",
            "secrets:\n  recipients:\n    staging: age1waqp3az0rj3k07ymad4jrpcarl97c0570nsgk0tcr325zper6ggsxxfk45\n",
        ),
    );
    let r = doctor(&gh, &fx, &[], &["--fix", "--yes"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for want in [
        "left for you: fleetform.yml names no recipient of FLEETFORM_FLEET_SECRETS_KEY but secrets/keyring.yml is encrypted to one",
        "left for you: FLEETFORM_PROVIDER_SECRETS_KEY is missing from staging-plan, staging-apply, drift;",
    ] {
        assert!(r.stdout.contains(want), "{want}:\n{}", r.stdout);
    }
    for key in [FLEET, PROVIDER] {
        assert!(!r.stdout.contains(&format!("make {key}")), "{}", r.stdout);
    }
    for env in ["staging-plan", "drift"] {
        let sealed = gh.sealed_environment_secrets(MANAGER, env);
        assert!(!sealed.contains_key(FLEET) && !sealed.contains_key(PROVIDER));
    }
}
