//! The secrets `doctor --fix` generates (#83 point 1): one random value
//! per group of environments that share it, sealed to the environment's
//! public key through GitHub's "Create or update an environment secret"
//! (each request checked against the OpenAPI description and the
//! permission map). PyNaCl, an implementation independent of the crate
//! fleetform seals with, opens what the fake GitHub stored; the values
//! never reach the output, the audit log or a file.

use std::path::Path;
use std::process::Command;

use crate::common;
use crate::doctor::manager::{configured, doctor, env, register_repo_ids, row};
use crate::support::readme_budgets::Budgets;
use crate::world::MANAGER;

const FIX: &str = "`doctor --fix`";
const APP_KEY: &str = "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY";
const DISPATCH: &str = "FLEETFORM_DISPATCH_SECRET";
const ARTIFACT: &str = "FLEETFORM_ARTIFACT_KEY";

/// The repo's `.venv` Python with PyNaCl, or a failure saying how to get it.
pub(crate) fn pynacl() -> std::path::PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let ok = Command::new(&python)
        .args(["-c", "import nacl"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "PyNaCl is not installed in .venv: the sealed-secret test opens GitHub's sealed boxes with it. Install it with `bash tests/install-pynacl.sh` and run again"
    );
    python
}

/// PyNaCl's `python -c` with `args`, its standard output.
fn py(python: &Path, code: &str, args: &[&str]) -> String {
    let out = Command::new(python)
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A key pair made by PyNaCl: (secret, public), base64.
pub(crate) fn key_pair(python: &Path) -> (String, String) {
    let out = py(
        python,
        "import base64\nfrom nacl.public import PrivateKey\nk = PrivateKey.generate()\nprint(base64.b64encode(bytes(k)).decode(), base64.b64encode(bytes(k.public_key)).decode())",
        &[],
    );
    let (s, p) = out.split_once(' ').unwrap();
    (s.to_string(), p.to_string())
}

/// Opens a base64 sealed box with PyNaCl's `SealedBox`.
pub(crate) fn open(python: &Path, secret: &str, sealed: &str) -> String {
    py(
        python,
        "import base64, sys\nfrom nacl.public import PrivateKey, SealedBox\nbox = SealedBox(PrivateKey(base64.b64decode(sys.argv[1])))\nprint(box.decrypt(base64.b64decode(sys.argv[2])).decode())",
        &[secret, sealed],
    )
}

/// Every file under `dir` that holds `needle`.
pub(crate) fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).into_iter().flatten() {
        if entry.file_type().is_file() {
            let bytes = std::fs::read(entry.path()).unwrap_or_default();
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                out.push(entry.path().display().to_string());
            }
        }
    }
    out
}

#[test]
fn fix_generates_the_missing_secrets_sealed_for_github_and_only_once() {
    let python = pynacl();
    let gh = configured();
    let fx = common::Fixture::new();
    register_repo_ids(&fx, &gh, &[]);
    let (secret_key, public_key) = key_pair(&python);
    gh.set_public_key(MANAGER, "568250167242549743", &public_key);
    // No dispatch secret anywhere; production has no artifact key;
    // staging's is kept.
    gh.set_environment(MANAGER, "fleetform-authorise", env(&[], &[APP_KEY]));
    for e in ["staging-plan", "staging-apply"] {
        gh.set_environment(MANAGER, e, env(&[], &[APP_KEY, ARTIFACT]));
    }
    for e in ["production-plan", "production-apply"] {
        gh.set_environment(MANAGER, e, env(&["alice"], &[APP_KEY]));
    }

    let r = doctor(&gh, &fx, &[], &["--fix"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for want in [
        "generate FLEETFORM_DISPATCH_SECRET (the dispatch secret), a new random value never shown, and store it sealed in fleetform-authorise, staging-plan, staging-apply, production-plan, production-apply  [doctor: secrets fleetform-authorise, secrets staging-plan, secrets staging-apply, secrets production-plan, secrets production-apply]",
        "generate FLEETFORM_ARTIFACT_KEY (the artifact key of production), a new random value never shown, and store it sealed in production-plan, production-apply  [doctor: secrets production-plan, secrets production-apply]",
        "2 changes planned, nothing changed",
    ] {
        assert!(r.stdout.contains(want), "{want}:\n{}", r.stdout);
    }
    assert!(!r.stdout.contains("staging)"), "{}", r.stdout);
    assert!(gh.requests().iter().all(|r| r.method == "GET"));

    let r = doctor(&gh, &fx, &[], &["--fix", "--yes"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        r.stdout.matches("done: generate ").count(),
        2,
        "{}",
        r.stdout
    );
    // The book's budget: 2 requests per secret stored, 7 stored.
    let stored = gh
        .requests()
        .iter()
        .filter(|r| r.path.contains("/secrets/"))
        .count();
    assert_eq!(
        stored,
        7 * Budgets::from_book().n(FIX, " requests per secret stored in an environment")
    );

    let opened = |e: &str, name: &str| {
        let sealed = gh.sealed_environment_secrets(MANAGER, e);
        let (key_id, value) = sealed.get(name).unwrap_or_else(|| panic!("{name} in {e}"));
        assert_eq!(key_id, "568250167242549743");
        open(&python, &secret_key, value)
    };
    let dispatch = opened("fleetform-authorise", DISPATCH);
    for e in [
        "staging-plan",
        "staging-apply",
        "production-plan",
        "production-apply",
    ] {
        assert_eq!(opened(e, DISPATCH), dispatch, "one dispatch secret: {e}");
    }
    let artifact = opened("production-plan", ARTIFACT);
    assert_eq!(opened("production-apply", ARTIFACT), artifact);
    assert_ne!(artifact, dispatch);
    for v in [&dispatch, &artifact] {
        assert_eq!(v.len(), 64);
        assert!(v.bytes().all(|c| c.is_ascii_hexdigit()), "{v}");
        assert!(!r.stdout.contains(v.as_str()) && !r.stderr.contains(v.as_str()));
        assert_eq!(files_holding(fx.root(), v), Vec::<String>::new());
    }
    // Staging's artifact key was there: kept, not replaced.
    assert!(!gh
        .sealed_environment_secrets(MANAGER, "staging-plan")
        .contains_key(ARTIFACT));
    let audit = fx.read("manager/.fleetform/audit.jsonl");
    assert_eq!(audit.matches("generate FLEETFORM_").count(), 2, "{audit}");

    let r = doctor(&gh, &fx, &[], &[]);
    for e in ["fleetform-authorise", "production-plan", "production-apply"] {
        assert_eq!(
            row(&r.stdout, &format!("secrets {e}")).1,
            "pass",
            "{}",
            r.stdout
        );
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

/// An artifact key is replaced in all its environment's places at once
/// with `--rotate-artifact-key ENV`, the same new value in each; a
/// customer's key environment is none of them (it holds its identity
/// alone, handed over to the handoff recipient), so a customer added
/// later never needs one.
#[test]
fn rotating_an_artifact_key_gives_every_place_of_its_environment_one_new_value() {
    let python = pynacl();
    let gh = configured();
    let fx = common::Fixture::new();
    register_repo_ids(&fx, &gh, &[]);
    let (secret_key, public_key) = key_pair(&python);
    gh.set_public_key(MANAGER, "568250167242549743", &public_key);
    let registry = fx.read("manager/customers.yml").replacen(
        "    added: 2026-01-15\n",
        "    added: 2026-01-15\n    secrets:\n      staging: age1waqp3az0rj3k07ymad4jrpcarl97c0570nsgk0tcr325zper6ggsxxfk45\n",
        1,
    );
    fx.write("manager/customers.yml", &registry);
    fx.append("manager/fleetform.yml", "\nsecrets: {}\n");
    let r = doctor(&gh, &fx, &[], &["--fix", "--yes"]);
    assert!(
        !r.stdout.contains("left for you: FLEETFORM_ARTIFACT_KEY"),
        "{}",
        r.stdout
    );

    let r = doctor(
        &gh,
        &fx,
        &[],
        &["--fix", "--rotate-artifact-key", "nowhere"],
    );
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("fleetform.yml has no environment `nowhere`"),
        "{}",
        r.stderr
    );

    let r = doctor(
        &gh,
        &fx,
        &[],
        &["--fix", "--rotate-artifact-key", "staging", "--yes"],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("done: replace FLEETFORM_ARTIFACT_KEY (the artifact key of staging) with a new random value never shown, stored sealed in staging-plan, staging-apply; plans waiting for approval there then need planning again"),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.contains("left for you: FLEETFORM_ARTIFACT_KEY"),
        "{}",
        r.stdout
    );
    let value = |env: &str| {
        let sealed = gh.sealed_environment_secrets(MANAGER, env);
        open(&python, &secret_key, &sealed[ARTIFACT].1)
    };
    let key = value("staging-plan");
    assert_eq!(key.len(), 64);
    assert_eq!(value("staging-apply"), key);
    assert!(!gh
        .sealed_environment_secrets(MANAGER, "staging-secrets-acme")
        .contains_key(ARTIFACT));
    // Production's is not touched.
    assert!(!gh
        .sealed_environment_secrets(MANAGER, "production-plan")
        .contains_key(ARTIFACT));
    let r = doctor(&gh, &fx, &[], &["--fix", "--yes"]);
    assert!(r.stdout.contains("nothing to fix"), "{}", r.stdout);
    gh.assert_clean();
}
