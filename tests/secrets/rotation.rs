//! Rotation of customer secrets: each secret's `updated:` against the
//! environment's `secrets.max_age_days`, at the boundary (exactly the limit
//! is fine, one day more warns) in the plan comment, its summary and
//! `customers list`; revoking a customer retires its recipients; a
//! recipient rotated by `customers rotate-secrets-key`; the recipients
//! handed over by `customers instructions`.

use crate::common::{stderr, stdout};
use crate::secrets::cloud::{encrypt, run, secrets_file, world, VALUE};
use crate::support::rollout_world::World;

/// `updated: 2026-11-01` in the files `secrets_file` writes; midday UTC.
fn day(date: &str) -> String {
    let d: jiff::civil::Date = date.parse().unwrap();
    let t = d
        .at(12, 0, 0, 0)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp();
    t.as_second().to_string()
}

/// The `staging` environment rotates secrets every 30 days.
fn with_policy(w: &World) {
    let cfg = w.fx.read("manager/fleetform.yml");
    let edited = cfg.replacen(
        "    auto_apply: true\n",
        "    auto_apply: true\n    secrets: {max_age_days: 30}\n",
        1,
    );
    assert_ne!(cfg, edited);
    w.fx.write("manager/fleetform.yml", &edited);
}

fn plan_on(w: &World, key: &str, date: &str) -> (String, serde_json::Value) {
    let out = w
        .fleetform()
        .env("FLEETFORM_NOW", day(date))
        .env("FLEETFORM_SECRETS_KEY_C01", key)
        .args(["plan", "--customer", "c01", "--env", "staging"])
        .output();
    crate::common::assert_code(&out, 0);
    assert!(!stdout(&out).contains(VALUE) && !stderr(&out).contains(VALUE));
    let comment = w.fx.read("manager/.fleetform/out/c01/staging/comment.md");
    let summary = w.fx.read("manager/.fleetform/out/c01/staging/summary.json");
    (comment, serde_json::from_str(&summary).unwrap())
}

#[test]
fn a_secret_warns_one_day_past_max_age_days_in_the_comment_and_the_list() {
    let (w, keys) = world();
    with_policy(&w);
    let file = secrets_file(&keys[0].0, &encrypt(&keys[0].0, VALUE));
    w.fx.write("customers/c01/infra/secrets.staging.yml", &file);

    // Exactly 30 days old: listed with its source and age, no warning.
    let (comment, summary) = plan_on(&w, &keys[0].1, "2026-12-01");
    assert!(!comment.contains(VALUE));
    assert!(
        comment.contains("**Secrets**")
            && comment.contains("`db_password` from `")
            && comment.contains("secrets.staging.yml#db_password` (30 days old)"),
        "{comment}"
    );
    assert!(!comment.contains("due for rotation"), "{comment}");
    let s = &summary["secrets"][0];
    assert_eq!(s["name"], "db_password");
    assert_eq!(s["age_days"], 30);
    assert_eq!(s["stale"], false);
    assert!(s["source"]
        .as_str()
        .unwrap()
        .ends_with("infra/secrets.staging.yml#db_password"));
    let list = w
        .fleetform()
        .env("FLEETFORM_NOW", day("2026-12-01"))
        .args(["customers", "list"])
        .output();
    assert!(!stdout(&list).contains("STALE"), "{}", stdout(&list));

    // One day more: a warning in the comment, `stale` in the summary.
    let (comment, summary) = plan_on(&w, &keys[0].1, "2026-12-02");
    assert!(comment.contains("due for rotation"), "{comment}");
    assert!(
        comment.contains("last updated 31 days ago, over 30 days"),
        "{comment}"
    );
    assert_eq!(summary["secrets"][0]["stale"], true);
    assert!(!comment.contains(VALUE));

    // `customers list` reads the checkout (no key needed): a column and a note.
    let list = w
        .fleetform()
        .env("FLEETFORM_NOW", day("2026-12-02"))
        .args(["customers", "list"])
        .output();
    let text = format!("{}{}", stdout(&list), stderr(&list));
    assert!(
        text.contains("SECRETS") && text.contains("1 DUE (oldest 31 d)"),
        "{text}"
    );
    assert!(text.contains("due for rotation"), "{text}");
    // A row stays short (a phone's terminal): no file paths in the table.
    let widest = stdout(&list)
        .lines()
        .map(|l| l.chars().count())
        .max()
        .unwrap();
    assert!(widest <= 120, "{widest} columns:\n{text}");
    // `customers show` names each: its file, recipient, key secret, age.
    let show = w
        .fleetform()
        .env("FLEETFORM_NOW", day("2026-12-02"))
        .args(["customers", "show", "c01"])
        .output();
    let text = stdout(&show);
    for want in [
        "secrets staging",
        "infra/secrets.staging.yml (recipient age1",
        "key in FLEETFORM_SECRETS_KEY of the environment staging-secrets-c01; rotated within 30 days)",
        "secret due",
        "infra/secrets.staging.yml#db_password (31 d old)",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
    let json = w
        .fleetform()
        .env("FLEETFORM_NOW", day("2026-12-02"))
        .args(["customers", "list", "--json"])
        .output();
    let v: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(v[0]["stale_secrets"][0]["age_days"], 31);
    assert!(v[1].get("stale_secrets").is_none(), "{v}");
}

/// With `refuse_stale_secrets: true` (a policy gate), the same secret
/// passes the gate at the limit and blocks it one day later: the verdict
/// names the file and key, never the value.
#[test]
fn a_stale_secret_blocks_the_plan_where_the_gate_asks_for_it() {
    let (w, keys) = world();
    with_policy(&w);
    w.fx.append(
        "manager/fleetform.yml",
        "\npolicies:\n  environments:\n    staging:\n      refuse_stale_secrets: true\n",
    );
    let file = secrets_file(&keys[0].0, &encrypt(&keys[0].0, VALUE));
    w.fx.write("customers/c01/infra/secrets.staging.yml", &file);

    let (_, summary) = plan_on(&w, &keys[0].1, "2026-12-01");
    let gate = |s: &serde_json::Value| {
        s["gates"]["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["gate"] == "refuse_stale_secrets")
            .cloned()
            .unwrap_or_else(|| panic!("no refuse_stale_secrets gate: {s}"))
    };
    assert_eq!(gate(&summary)["passed"], true, "{summary}");

    let (comment, summary) = plan_on(&w, &keys[0].1, "2026-12-02");
    let g = gate(&summary);
    assert_eq!(g["passed"], false, "{summary}");
    assert!(
        g["detail"]
            .as_str()
            .unwrap()
            .contains("secrets.staging.yml#db_password"),
        "{g}"
    );
    assert!(
        comment.contains("blocked by `refuse_stale_secrets`"),
        "{comment}"
    );
    // The gate's cell keeps fleetform's code as code, never `\``.
    assert!(
        comment.contains(
            "- ❌ `refuse_stale_secrets`: due for rotation \\(`secrets.max_age_days`\\): "
        ),
        "{comment}"
    );
    assert!(!comment.contains("\\`"), "{comment}");
    assert!(!comment.contains(VALUE) && !summary.to_string().contains(VALUE));
}

/// The dashboard reads the ages from the last apply's record (which
/// holds the secrets file as applied, still encrypted): a pair whose
/// secret is past the limit says so in its cell, by name, never by value.
#[test]
fn the_dashboard_shows_secrets_due_for_rotation_from_the_last_apply() {
    let (w, keys) = world();
    with_policy(&w);
    let file = secrets_file(&keys[0].0, &encrypt(&keys[0].0, VALUE));
    w.fx.write("customers/c01/infra/secrets.staging.yml", &file);
    for step in ["plan", "apply"] {
        let out = w
            .fleetform()
            .env("FLEETFORM_NOW", day("2026-11-02"))
            .env("FLEETFORM_SECRETS_KEY_C01", &keys[0].1)
            .args([step, "--customer", "c01", "--env", "staging"])
            .output();
        crate::common::assert_code(&out, 0);
    }
    let dashboard = |date: &str| {
        let out = w
            .fleetform()
            .env("FLEETFORM_NOW", day(date))
            .args(["report", "--html", "dash.html"])
            .output();
        crate::common::assert_code(&out, 0);
        w.fx.read("manager/dash.html")
    };
    let html = dashboard("2026-12-01");
    assert!(!html.contains("secrets due for rotation"), "at the limit");
    let html = dashboard("2026-12-02");
    assert!(
        html.contains("secrets due for rotation: db_password (31 days old)"),
        "{html}"
    );
    assert!(!html.contains(VALUE));
}

#[test]
fn a_secret_without_updated_under_a_policy_warns_age_unknown() {
    let (w, keys) = world();
    with_policy(&w);
    let file = secrets_file(&keys[0].0, &encrypt(&keys[0].0, VALUE))
        .replace("    updated: 2026-11-01\n", "");
    w.fx.write("customers/c01/infra/secrets.staging.yml", &file);
    let (comment, summary) = plan_on(&w, &keys[0].1, "2026-11-02");
    assert!(comment.contains("age unknown"), "{comment}");
    assert_eq!(summary["secrets"][0]["age_days"], serde_json::Value::Null);
    assert_eq!(summary["secrets"][0]["stale"], true);
    // Without a policy the same file is only listed.
    let (w, keys) = world();
    let file = secrets_file(&keys[0].0, &encrypt(&keys[0].0, VALUE))
        .replace("    updated: 2026-11-01\n", "");
    w.fx.write("customers/c01/infra/secrets.staging.yml", &file);
    let out = run(
        &w,
        &keys[0].1,
        &["plan", "--customer", "c01", "--env", "staging"],
    );
    crate::common::assert_code(&out, 0);
    let comment = w.fx.read("manager/.fleetform/out/c01/staging/comment.md");
    assert!(
        comment.contains("**Secrets**") && !comment.contains("due for rotation"),
        "{comment}"
    );
}

/// The registry's recipient of `slug` × staging, if any.
fn recipient_of(w: &World, slug: &str) -> Option<String> {
    let out = w.expect(0, &["customers", "show", slug, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    v["secrets"]["staging"].as_str().map(str::to_string)
}

#[test]
fn rotating_a_recipient_retires_the_old_one_and_says_how_to_encrypt_again() {
    let (w, keys) = world();
    let file = secrets_file(&keys[0].0, &encrypt(&keys[0].0, VALUE));
    w.fx.write("customers/c01/infra/secrets.staging.yml", &file);
    let out = w.expect(
        0,
        &["customers", "rotate-secrets-key", "c01", "--env", "staging"],
    );
    let text = format!("{}{}", stdout(&out), stderr(&out));
    let new = recipient_of(&w, "c01").unwrap();
    assert_ne!(new, keys[0].0);
    assert_eq!(recipient_of(&w, "c02").as_deref(), Some(keys[1].0.as_str()));
    assert!(text.contains(&format!("replaces {}", keys[0].0)), "{text}");
    assert!(
        text.contains("gh secret set FLEETFORM_SECRETS_KEY --env staging-secrets-c01"),
        "{text}"
    );
    assert!(
        text.contains(&format!("printf %s VALUE | age -r {new} -a")),
        "{text}"
    );
    let key_file =
        w.fx.path("manager/.fleetform/secret-keys/c01.staging.agekey");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let identity = std::fs::read_to_string(&key_file).unwrap();
    assert!(!text.contains(identity.trim()), "the identity is printed");

    // The file still encrypted to the old recipient: refused, even with the old key.
    let old = run(
        &w,
        &keys[0].1,
        &["plan", "--customer", "c01", "--env", "staging"],
    );
    let err = format!("{}{}", stdout(&old), stderr(&old));
    assert!(err.contains("not c01/staging's recipient"), "{err}");
    // Encrypted again by the customer: planned with the new identity.
    let file = secrets_file(&new, &encrypt(&new, VALUE));
    w.fx.write("customers/c01/infra/secrets.staging.yml", &file);
    let ok = run(
        &w,
        identity.trim(),
        &["plan", "--customer", "c01", "--env", "staging"],
    );
    crate::common::assert_code(&ok, 0);

    // A second rotation never overwrites the identity file left behind.
    let again = w.run(&["customers", "rotate-secrets-key", "c01", "--env", "staging"]);
    assert_ne!(again.status.code(), Some(0));
    assert_eq!(recipient_of(&w, "c01"), Some(new));
    // Unknown environment: a usage error.
    let bad = w.run(&[
        "customers",
        "rotate-secrets-key",
        "c01",
        "--env",
        "production",
    ]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
}

#[test]
fn revoking_a_customer_retires_its_recipients() {
    let (w, keys) = world();
    let file = secrets_file(&keys[0].0, &encrypt(&keys[0].0, VALUE));
    w.fx.write("customers/c01/infra/secrets.staging.yml", &file);
    let out = w.expect(
        0,
        &["customers", "revoke", "c01", "--reason", "contract ended"],
    );
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        text.contains("retired the secrets recipients of `c01` (staging)"),
        "{text}"
    );
    assert!(
        text.contains("Delete the environments holding its identities: staging-secrets-c01"),
        "{text}"
    );
    assert_eq!(recipient_of(&w, "c01"), None);
    assert!(!w.fx.read("manager/customers.yml").contains(&keys[0].0));
    assert_eq!(recipient_of(&w, "c02").as_deref(), Some(keys[1].0.as_str()));
    // No plan decrypts for it, with its key at hand: it is skipped.
    let plan = run(
        &w,
        &keys[0].1,
        &["plan", "--customer", "c01", "--env", "staging"],
    );
    assert!(stdout(&plan).contains("revoked"), "{}", stdout(&plan));
    assert!(!w
        .fx
        .path("manager/.fleetform/out/c01/staging/summary.json")
        .exists());
    assert!(crate::fakecloud::objects(&w.cloud_file).is_empty());
    // Nor is a recipient made again.
    let again = w.run(&["customers", "rotate-secrets-key", "c01", "--env", "staging"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("is revoked"), "{}", stderr(&again));
}

#[test]
fn instructions_hand_over_the_recipients_and_how_to_encrypt() {
    let fx = crate::common::Fixture::new();
    let registry = fx.read("manager/customers.yml").replacen(
        "    added: 2026-01-15\n",
        "    added: 2026-01-15\n    secrets:\n      staging: age1waqp3az0rj3k07ymad4jrpcarl97c0570nsgk0tcr325zper6ggsxxfk45\n      production: age1zx09khxwl79hvznc0lh5lwm7ect5hee5dkwpfch3lzk6yhyu8gjqrkvwa7\n",
        1,
    );
    fx.write("manager/customers.yml", &registry);
    // Staging warns past 90 days; production (60 days) refuses a plan
    // with a stale secret: the customer is told which is which.
    let cfg = fx
        .read("manager/fleetform.yml")
        .replacen(
            "    auto_apply: true\n",
            "    auto_apply: true\n    secrets: {max_age_days: 90}\n",
            1,
        )
        .replacen(
            "    auto_apply: false\n",
            "    auto_apply: false\n    secrets: {max_age_days: 60}\n",
            1,
        );
    fx.write(
        "manager/fleetform.yml",
        &format!("{cfg}\nsecrets:\n  keys_dir: .fleetform/secret-keys\npolicies:\n  environments:\n    production:\n      refuse_stale_secrets: true\n"),
    );
    let out = crate::common::run(
        &fx,
        &[
            "customers",
            "instructions",
            "acme",
            "--manager-repo",
            "provider/manager",
            "--action-ref",
            "v1.4.2",
        ],
    )
    .ok();
    let text = stdout(&out);
    let section = &text[text.find("## 5. Secrets").expect("a secrets section")..];
    insta::assert_snapshot!("instructions_secrets", section);
    // A customer without recipients gets no such section.
    let out = crate::common::run(
        &fx,
        &[
            "customers",
            "instructions",
            "globex",
            "--manager-repo",
            "provider/manager",
        ],
    )
    .ok();
    assert!(!stdout(&out).contains("## 5. Secrets"));
}
