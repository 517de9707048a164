//! A rotation of the manager's dispatch secret without a gap: while
//! `FLEETFORM_DISPATCH_SECRET_PREVIOUS` holds the secret being replaced,
//! the manager's plan accepts a dispatch signed with the customer's key of
//! either secret (and says which); without it, or with a third secret's
//! key, the dispatch is refused before anything is planned.

use serde_json::{json, Value};

use crate::common::{self, sign_dispatch_with, stderr, unix_now, DISPATCH_SECRET};
use crate::world::{ok, World, ACME, MANAGER};

const NEW: &str = "fleetform-test-dispatch-secret-rotated-fedcba9876543210";
const THIRD: &str = "fleetform-test-dispatch-secret-someone-else-00000000000";

fn key_of(secret: &str) -> String {
    fleetform::dispatch::auth::ManagerSecret::new(secret)
        .unwrap()
        .customer_key("acme", 1)
        .expose()
}

/// The staging plan of `d` with the manager's secrets `env`.
fn plan(w: &mut World, d: &Value, env: &[(&str, &str)]) -> crate::common::Ran {
    let event = json!({ "action": d["event_type"], "client_payload": d["client_payload"] });
    let (cmd, _) = w.step(MANAGER, "repository_dispatch", &event, &"e".repeat(40));
    common::Run::from(cmd)
        .env_remove("FLEETFORM_DISPATCH_SECRET_PREVIOUS")
        .envs(env.iter().copied())
        .args(["plan", "--dispatch", "--env", "staging"])
        .output()
}

#[test]
fn keys_of_both_dispatch_secrets_are_accepted_while_the_previous_one_is_set() {
    let mut w = World::new();
    let sha = w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "More instances");
    let (out, _) = w.trigger_pr(ACME, pr, "feature", &sha);
    ok(&out);
    // Signed by acme's trigger with its key of the old secret.
    let old_signed = w.gh.dispatches(MANAGER).last().cloned().unwrap();
    let rotating = [
        ("FLEETFORM_DISPATCH_SECRET", NEW),
        ("FLEETFORM_DISPATCH_SECRET_PREVIOUS", DISPATCH_SECRET),
    ];
    let out = plan(&mut w, &old_signed, &rotating);
    ok(&out);
    assert!(
        stderr(&out).contains("signed with its key of the previous dispatch secret"),
        "{}",
        stderr(&out)
    );
    let mut new_signed = old_signed.clone();
    sign_dispatch_with(&mut new_signed, &key_of(NEW), unix_now());
    let out = plan(&mut w, &new_signed, &rotating);
    ok(&out);
    assert!(!stderr(&out).contains("previous dispatch secret"));
    // The rotation over: the old key is refused.
    let out = plan(&mut w, &old_signed, &rotating[..1]);
    common::assert_code(&out, 3);
    assert!(
        stderr(&out).contains("the signature does not match `acme`'s dispatch key"),
        "{}",
        stderr(&out)
    );
    // A key of neither secret, during the rotation: refused.
    let mut third = old_signed.clone();
    sign_dispatch_with(&mut third, &key_of(THIRD), unix_now());
    let out = plan(&mut w, &third, &rotating);
    common::assert_code(&out, 3);
    assert!(stderr(&out).contains("does not match"), "{}", stderr(&out));
    // Both secrets are masked for the runner and never shown otherwise.
    for out in [
        plan(&mut w, &old_signed, &rotating),
        plan(&mut w, &third, &rotating),
    ] {
        let all = format!("{}{}", stderr(&out), common::stdout(&out));
        for secret in [NEW, DISPATCH_SECRET] {
            assert!(all.contains(&format!("::add-mask::{secret}\n")), "{all}");
        }
        let shown: Vec<&str> = all
            .lines()
            .filter(|l| !l.starts_with("::add-mask::"))
            .collect();
        assert!(
            !shown
                .iter()
                .any(|l| l.contains(NEW) || l.contains(DISPATCH_SECRET)),
            "{all}"
        );
    }
}

/// `doctor` warns while a rotation is open: the previous dispatch secret
/// still in a manager environment, a previous secret set where it runs;
/// neither once the rotation is over.
#[test]
fn doctor_warns_while_a_previous_secret_is_set() {
    use crate::doctor::manager::{configured, doctor, env, row, MANAGER as DOCTOR_MANAGER};
    let gh = configured();
    let secrets = [
        "FLEETFORM_DISPATCH_SECRET",
        "FLEETFORM_DISPATCH_SECRET_PREVIOUS",
        "FLEETFORM_ARTIFACT_KEY",
        "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
    ];
    gh.set_environment(DOCTOR_MANAGER, "staging-plan", env(&[], &secrets));
    let fx = common::Fixture::new();
    let previous = [(
        "FLEETFORM_WEBHOOK_SECRET_PREVIOUS",
        "relay-webhook-secret-0123456789".to_string(),
    )];
    let r = doctor(&gh, &fx, &previous, &[]);
    let (level, result, found) = row(&r.stdout, "rotation staging-plan");
    assert_eq!((level, result), ("should", "WARN"), "{}", r.stdout);
    assert!(
        found.contains("FLEETFORM_DISPATCH_SECRET_PREVIOUS is still set"),
        "{found}"
    );
    let (_, result, _) = row(&r.stdout, "rotation FLEETFORM_WEBHOOK_SECRET_PREVIOUS");
    assert_eq!(result, "WARN");
    assert!(!r.stdout.contains("relay-webhook-secret-0123456789"));
    // The rotation over: no row at all.
    gh.set_environment(DOCTOR_MANAGER, "staging-plan", env(&[], &secrets[..1]));
    let r = doctor(&gh, &fx, &[], &[]);
    assert!(!r.stdout.contains("rotation "), "{}", r.stdout);
}
