//! Registry edits (`fleetform customers add | revoke`) take an exclusive
//! lock beside `customers.yml`, read and check the registry inside it and
//! write atomically: edits at once all land, none is lost, the file keeps
//! its mode, and a lock held too long ends in a clear message.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{stderr, stdout, Fixture};

/// The examples with `extra` generated customers appended to the registry.
fn large_registry(extra: usize) -> Fixture {
    let fx = Fixture::new();
    let mut text = fx.read("manager/customers.yml");
    for i in 0..extra {
        text.push_str(&format!(
            "\n  - slug: c{i}\n    repo: org{i}/infra\n    contact: ops@c{i}.example\n    environments: [staging]\n    status: active\n    added: 2026-01-01\n"
        ));
    }
    fx.write("manager/customers.yml", &text);
    fx
}

/// The registry's lock, taken (as another edit would hold it) until the
/// file is dropped.
fn hold_lock(fx: &Fixture) -> std::fs::File {
    let holder = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(fx.path("manager/customers.yml.lock"))
        .unwrap();
    holder.lock().unwrap();
    holder
}

fn add(fx: &Fixture, slug: &str) -> common::Run {
    common::Run::from(fx.fleetform()).args(add_args(slug))
}

fn add_args(slug: &str) -> [String; 11] {
    [
        "customers",
        "add",
        slug,
        "--repo",
        &format!("new/{slug}"),
        "--contact",
        "ops@new.example",
        "--env",
        "staging",
        "--date",
        "2026-02-01",
    ]
    .map(str::to_string)
}

/// Waits (a generous deadline, polling) until process `pid` has `file`
/// open: a registry edit opens the lock file, then waits for the lock.
fn wait_until_open(pid: u32, file: &Path) {
    let file = file.canonicalize().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let open = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .into_iter()
            .flatten()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .any(|target| target == file);
        if open {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "process {pid} never opened {}",
            file.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn slugs(fx: &Fixture) -> Vec<String> {
    let out = common::run(fx, &["customers", "list", "--json"]).code(0);
    let list: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    list.iter()
        .map(|c| c["slug"].as_str().unwrap().to_string())
        .collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Several `customers add` at once against a 2,000-entry registry: every
/// one reports success and every entry is in the file. Without the lock,
/// each read the same text and the last write won: with the lock taken out
/// of `RegistryLock::acquire`, entries were lost in every run, with 20,000
/// entries, 2,000 (three of three) and 500 (three of three). 20,000 took
/// 6 s of CPU in the suite.
#[test]
fn concurrent_adds_all_land() {
    const N: usize = 4;
    let fx = large_registry(2_000);
    let before = slugs(&fx).len();
    let outputs: Vec<common::Ran> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..N)
            .map(|k| {
                let cmd = add(&fx, &format!("new-{k}"))
                    .env("FLEETFORM_REGISTRY_LOCK_TIMEOUT_SECS", "600");
                s.spawn(move || cmd.output())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (k, out) in outputs.iter().enumerate() {
        common::assert_ok_for(format_args!("add {k}"), &out);
        assert!(stdout(out).contains(&format!("added `new-{k}`")));
    }
    let after = slugs(&fx);
    assert_eq!(after.len(), before + N);
    for k in 0..N {
        assert!(
            after.contains(&format!("new-{k}")),
            "new-{k} was lost: {:?}",
            &after[after.len() - N..]
        );
    }
    // The lock file stays (it is never a stale lock).
    assert!(fx.path("manager/customers.yml.lock").is_file());
}

/// An edit keeps the registry's file mode. (The atomic write replaces the
/// file with a new one; it must carry the old mode over.)
#[test]
fn an_edit_keeps_the_file_mode() {
    let fx = Fixture::new();
    let registry = fx.path("manager/customers.yml");
    std::fs::set_permissions(&registry, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = add(&fx, "mode-co").output();
    common::assert_code(&out, 0);
    assert!(slugs(&fx).contains(&"mode-co".to_string()));
    assert_eq!(
        format!("{:o}", mode(&registry)),
        "640",
        "customers.yml changed its mode"
    );
}

/// A lock held by someone else: the edit waits up to the timeout, then
/// stops with a message naming the file, and writes nothing. Once the lock
/// is released the same edit goes through. `revoke` takes the same lock.
#[test]
fn a_held_lock_times_out_with_a_clear_message() {
    let fx = Fixture::new();
    let registry = fx.path("manager/customers.yml");
    let original = fx.read("manager/customers.yml");
    let holder = hold_lock(&fx);

    let started = std::time::Instant::now();
    let out = add(&fx, "waiting-co")
        .env("FLEETFORM_REGISTRY_LOCK_TIMEOUT_SECS", "1")
        .output();
    let waited = started.elapsed();
    common::assert_code(&out, 1);
    assert!(
        stderr(&out).contains(
            "customers.yml is locked by another fleetform for more than 1 s; wait for it to finish and run again"
        ),
        "{}",
        stderr(&out)
    );
    assert!(
        waited >= std::time::Duration::from_secs(1),
        "gave up after {waited:?}"
    );
    let out = common::run(
        &fx,
        &["customers", "revoke", "acme", "--reason", "contract ended"],
    )
    .env("FLEETFORM_REGISTRY_LOCK_TIMEOUT_SECS", "0")
    .code(1);
    assert!(stderr(&out).contains("is locked by another fleetform"));
    assert_eq!(std::fs::read_to_string(&registry).unwrap(), original);

    drop(holder);
    let out = add(&fx, "waiting-co")
        .env("FLEETFORM_REGISTRY_LOCK_TIMEOUT_SECS", "1")
        .output();
    common::assert_code(&out, 0);
    assert!(slugs(&fx).contains(&"waiting-co".to_string()));
}

/// The registry is read inside the lock: an entry another edit added while
/// this one waited is seen, so a duplicate slug is refused instead of
/// written twice.
#[test]
fn the_registry_is_checked_again_inside_the_lock() {
    let fx = Fixture::new();
    let holder = hold_lock(&fx);
    let waiting = add(&fx, "twice-co")
        .env("FLEETFORM_REGISTRY_LOCK_TIMEOUT_SECS", "60")
        .spawn();
    // Once it waits for the lock (it opened the lock file), the lock
    // holder adds the same slug: a condition, not a guess at how long the
    // edit takes to start.
    wait_until_open(waiting.id(), &fx.path("manager/customers.yml.lock"));
    fx.append(
        "manager/customers.yml",
        "\n  - slug: twice-co\n    repo: other/twice\n    contact: a@b.example\n    environments: [staging]\n    added: 2026-01-01\n",
    );
    drop(holder);
    let out = waiting.wait_with_output().unwrap();
    common::assert_code(&out, 2);
    assert!(
        stderr(&out).contains("customer `twice-co` already exists"),
        "{}",
        stderr(&out)
    );
    let count = slugs(&fx).iter().filter(|s| *s == "twice-co").count();
    assert_eq!(count, 1);
}

#[test]
fn bad_lock_settings_are_usage_errors() {
    let fx = Fixture::new();
    for bad in ["soon", "-1", "3601", "1.5"] {
        let out = add(&fx, "x-co")
            .env("FLEETFORM_REGISTRY_LOCK_TIMEOUT_SECS", bad)
            .output();
        common::assert_code_for(format_args!("{bad}"), &out, 2);
        assert!(
            stderr(&out).contains(&format!(
                "FLEETFORM_REGISTRY_LOCK_TIMEOUT_SECS=`{bad}` is not a whole number of seconds from 0 to 3600"
            )),
            "{}",
            stderr(&out)
        );
    }
    // A symbolic link where the lock file belongs is refused, not followed.
    let target = fx.path("elsewhere");
    std::os::unix::fs::symlink(&target, fx.path("manager/customers.yml.lock")).unwrap();
    let out = add(&fx, "x-co").output();
    common::assert_code(&out, 2);
    assert!(
        stderr(&out).contains("is a symbolic link"),
        "{}",
        stderr(&out)
    );
    assert!(!target.exists());
    assert!(!slugs(&fx).contains(&"x-co".to_string()));
}
