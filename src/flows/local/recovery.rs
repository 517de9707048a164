//! Recovering one pair's state from its bucket's versions (`fleetform
//! state versions|restore`): the versions of the state object, newest
//! first, with the apply that wrote each; and a restore on the four-eyes
//! path of the other state operations: a preview of what changes between
//! the current state and the version, sealed with its digest, run by
//! `state apply --sha256` once a second person let it through. The restore
//! writes the version as a new current version through `terraform state
//! push` (the backend's lock held, the lineage the same, the serial one
//! above the current one), so nothing is deleted and the replaced version
//! stays; it is recorded (who, why, which versions), then a plan of the
//! pair shows what the cloud would do to match the restored state. Over a
//! current version that is not a state (Terraform will not lock over it),
//! the preview says so and compares with the newest version that is one,
//! and the restore writes the version through the S3 API while holding the
//! backend's lock as Terraform takes it (`crate::records::state_lock`).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::ops::{OpTarget, Phase};
use super::state_versions::{pair, s3_err, Pair, READ_VERSIONS};
use crate::audit::Entry;
use crate::config::Unit;
use crate::context::Context;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::records::state_bucket::ObjectVersion;
use crate::terraform::state_file::{with_serial, StateChanges, StateFile};

/// The file a restore's preview is kept in, in the unit's results folder.
pub const FILE: &str = "state-restore.json";
const FORMAT: &str = "fleetform-state-restore/1";

/// A version of the state, as sealed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VersionFacts {
    pub version_id: String,
    pub last_modified: String,
    /// SHA-256 of the version's bytes.
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<u64>,
}

/// A previewed restore.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SealedRestore {
    pub format: String,
    pub customer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    pub environment: String,
    /// The state object's key in the bucket.
    pub key: String,
    /// The version restored.
    pub version: VersionFacts,
    /// The version it replaces (the current one at the preview).
    pub current: VersionFacts,
    pub lineage: String,
    /// The serial the restored state is written with.
    pub new_serial: u64,
    pub allow_older_serial: bool,
    pub changes: StateChanges,
    pub reason: String,
    pub requested_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
    /// The current version is no state Terraform reads (bytes that are not
    /// JSON, or not a state): the restore writes version V as a new
    /// version through the S3 API under the backend's lock, since
    /// Terraform will not take a new state over it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<Unreadable>,
}

/// A current version that is not a state, and the version it was
/// compared with instead.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Unreadable {
    /// `N bytes, not JSON`.
    pub what: String,
    /// The newest earlier version that is a state: the lineage checked,
    /// the serial counted and the changes shown against it.
    pub compared_with: String,
    pub compared_serial: u64,
}

/// What `state restore` was asked.
#[derive(Debug, Clone)]
pub struct Restore {
    /// `--version V` (none for `state apply --sha256`).
    pub version: Option<String>,
    pub allow_older_serial: bool,
}

/// Previews or runs a restore; returns the result text.
pub fn restore(t: &OpTarget, asked: &Restore, manager_dir: &Path, cx: &Context) -> Result<String> {
    let (manager, registry) = crate::config::load(manager_dir)?;
    let p = pair(&manager, &registry, t, cx)?;
    super::ops::check_operator(&manager, cx)?;
    let dir = t.out.join(p.unit.rel_dir());
    let apply_environment = p
        .view
        .environment(&t.environment)
        .map(|e| e.apply_environment())
        .unwrap_or_default();
    let sealed = match (&t.phase, &asked.version) {
        (Phase::Preview, Some(v)) => {
            let s = make_preview(&p, t, v, asked.allow_older_serial)?;
            return show_preview(&p, &s, &dir, &apply_environment, cx);
        }
        (Phase::Direct, Some(_)) if crate::ci::in_actions() => return Err(Error::refused(
            "on GitHub Actions a restore is previewed first (--preview), then run from its sealed preview (`state apply --sha256 DIGEST`) once a second person approved; nothing was changed")),
        (Phase::Direct, Some(v)) => (make_preview(&p, t, v, asked.allow_older_serial)?, None),
        (Phase::Sealed { sha256 }, _) => (open(&dir, sha256, &p.unit)?, Some(sha256.clone())),
        _ => return Err(Error::usage(
            "`state restore` needs --version V (the id `fleetform state versions` lists)")),
    };
    let verdict = crate::flows::github_loop::second_person::check(
        &crate::flows::github_loop::second_person::Ask {
            environment: &apply_environment,
            confirms: t.confirms,
            unreviewed: t.unreviewed,
            done: "restored",
        },
        cx,
    )?;
    let (sealed, digest) = sealed;
    let engine = Engine::with_terraform(&p.view, t.terraform.as_deref())?;
    let written = run_restore(&engine, &p, &sealed, &dir);
    record(&p, &sealed, digest.as_deref(), &verdict, &written, cx);
    let new_version = written?;
    let said = format!(
        "restored {} to version {} (serial {}) over version {} for {}, {}: written as {new_version}; {}",
        p.source.describe(&p.key),
        sealed.version.version_id,
        sealed.version.serial.unwrap_or_default(),
        sealed.current.version_id,
        p.unit,
        verdict.describe(),
        match p.source.is_bucket() {
            true => "every earlier version stays",
            false => "the state it replaced is the backup now",
        },
    );
    cx.out.result(&said);
    cx.out
        .result("The plan below shows what the cloud would do to match the restored state:");
    plan_after(t, &sealed, manager_dir, cx)?;
    Ok(said)
}

/// The preview of restoring version `v` over the current one, checked:
/// the same lineage, and an older serial only when allowed.
fn make_preview(p: &Pair<'_>, t: &OpTarget, v: &str, allow_older: bool) -> Result<SealedRestore> {
    let listed = p.source.versions(&p.key).map_err(s3_err)?;
    let current = current_of(&listed, p)?;
    let wanted = listed
        .iter()
        .find(|x| x.version_id == v && !x.deleted)
        .ok_or_else(|| Error::usage(format!(
            "{} has no version `{v}`: `fleetform state versions --customer {} --env {}` lists them; nothing was changed",
            p.source.describe(&p.key), p.unit.customer, p.unit.environment
        )))?;
    let (now_bytes, then_bytes) = (read(p, current)?, read(p, wanted)?);
    let then = StateFile::parse(&then_bytes).map_err(|e| {
        Error::refused(format!(
            "version {v} of {}: {e}; nothing was changed",
            p.source.describe(&p.key)
        ))
    })?;
    // A current version that is not a state is compared with the newest
    // one that is: its lineage is the state's.
    let (now, unreadable) = match StateFile::parse(&now_bytes) {
        Ok(now) => (now, None),
        Err(e) => {
            let (good, now) = newest_readable(p, &listed, current, &now_bytes, &e)?;
            let what = unreadable_bytes(&now_bytes);
            let facts = Unreadable {
                what,
                compared_with: good.version_id.clone(),
                compared_serial: now.serial,
            };
            (now, Some(facts))
        }
    };
    if then.lineage != now.lineage {
        return Err(Error::refused(format!(
            "version {v} is of lineage `{}`, the current state of `{}`: it is another state, never this one's; nothing was changed",
            then.lineage, now.lineage
        )));
    }
    if then.serial < now.serial && !allow_older {
        return Err(Error::refused(crate::error::Say::new(format!(
            "version {v} has serial {}, older than the current serial {}: restoring it goes back past every change since; nothing was changed",
            then.serial, now.serial
        )).help("read the preview's list of what appears, disappears and changes, then add --allow-older-serial")));
    }
    let facts = |x: &ObjectVersion, bytes: &[u8], serial| VersionFacts {
        version_id: x.version_id.clone(),
        last_modified: x.last_modified.clone(),
        sha256: crate::util::fs::sha256_bytes(bytes),
        serial,
    };
    let ctx = crate::ci::RunContext::from_env();
    Ok(SealedRestore {
        format: FORMAT.into(),
        customer: p.unit.customer.clone(),
        product: p.unit.product.clone(),
        environment: p.unit.environment.clone(),
        key: p.key.clone(),
        version: facts(wanted, &then_bytes, Some(then.serial)),
        current: facts(
            current,
            &now_bytes,
            unreadable.is_none().then_some(now.serial),
        ),
        lineage: now.lineage.clone(),
        new_serial: now.serial.max(then.serial) + 1,
        allow_older_serial: allow_older,
        changes: now.changes_to(&then),
        reason: t.reason.clone(),
        requested_by: Entry::now("state", "").actor,
        run_url: ctx.run_url(),
        unreadable,
    })
}

/// What the unreadable current version's bytes are, for the preview:
/// `N bytes, not JSON`, or why the JSON is no state.
fn unreadable_bytes(bytes: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Err(_) => format!("{} bytes, not JSON", bytes.len()),
        Ok(_) => format!(
            "{} bytes, {}",
            bytes.len(),
            StateFile::parse(bytes)
                .err()
                .map_or(String::new(), |e| e.to_string())
        ),
    }
}

/// Under a current version that is not a state: the newest earlier
/// version that is one (of the newest [`READ_VERSIONS`]). Only a bucket's
/// versions are written past Terraform; the local backend's file is
/// refused.
fn newest_readable<'a>(
    p: &Pair<'_>,
    listed: &'a [ObjectVersion],
    current: &ObjectVersion,
    now_bytes: &[u8],
    e: &crate::terraform::state_file::NotAState,
) -> Result<(&'a ObjectVersion, StateFile)> {
    let where_ = p.source.describe(&p.key);
    if !p.source.is_bucket() {
        return Err(Error::refused(format!(
            "the current state {where_}: {e}; Terraform cannot read it and the local backend keeps no versions fleetform writes past it: copy a backup over it by hand (the book's \"Recovering a state\"); nothing was changed"
        )));
    }
    let found = listed
        .iter()
        .skip(1)
        .take(READ_VERSIONS)
        .filter(|x| !x.deleted)
        .find_map(|x| {
            let bytes = read(p, x).ok()?;
            StateFile::parse(&bytes).ok().map(|s| (x, s))
        });
    found.ok_or_else(|| {
        Error::refused(format!(
            "the current version {} of {where_} is unreadable ({}), and none of the {READ_VERSIONS} versions before it is a state to check the lineage by; nothing was changed",
            current.version_id,
            unreadable_bytes(now_bytes)
        ))
    })
}

/// The current version: the newest, unless it is a delete marker.
fn current_of<'a>(listed: &'a [ObjectVersion], p: &Pair<'_>) -> Result<&'a ObjectVersion> {
    match listed.first() {
        Some(v) if !v.deleted => Ok(v),
        Some(_) => Err(Error::refused(format!(
            "{} was deleted (its newest version is a delete marker): there is no current state to restore over; nothing was changed",
            p.source.describe(&p.key)
        ))),
        None => Err(Error::usage(format!(
            "{} has no versions; nothing was changed",
            p.source.describe(&p.key)
        ))),
    }
}

fn read(p: &Pair<'_>, v: &ObjectVersion) -> Result<Vec<u8>> {
    p.source.read_version(&p.key, &v.version_id).map_err(s3_err)
}

/// Seals the preview and renders what the approver reads.
fn show_preview(
    p: &Pair<'_>,
    s: &SealedRestore,
    dir: &Path,
    apply_environment: &str,
    cx: &Context,
) -> Result<String> {
    std::fs::create_dir_all(dir).map_err(|e| Error::failed(format!("the results folder: {e}")))?;
    let bytes = serde_json::to_vec_pretty(s).expect("serialisable");
    crate::util::fs::write_atomic(&dir.join(FILE), &bytes)
        .map_err(|e| Error::failed(format!("writing the sealed preview: {e}")))?;
    crate::flows::github_loop::artifact::seal_preview(&s.customer, &s.environment, dir, FILE)?;
    let digest = crate::util::fs::sha256_bytes(&bytes);
    let ctx = crate::ci::RunContext::from_env();
    if let Err(e) = ctx.set_outputs(&[("digest", digest.clone())]) {
        cx.out
            .note(&format!("could not set the job output `digest`: {e}"));
    }
    let unit = p.unit.to_string();
    crate::report::ops::restore_preview(&crate::report::ops::RestorePreview {
        unit: &unit,
        key: &s.key,
        version: (
            &s.version.version_id,
            &s.version.last_modified,
            s.version.serial.unwrap_or_default(),
        ),
        current: (
            &s.current.version_id,
            &s.current.last_modified,
            s.current.serial,
        ),
        lineage: &s.lineage,
        new_serial: s.new_serial,
        changes: [&s.changes.appear, &s.changes.disappear, &s.changes.change],
        reason: &s.reason,
        requested_by: &s.requested_by,
        digest: &digest,
        apply_environment,
        run_id: ctx.run_id.as_deref(),
        unreadable: s
            .unreadable
            .as_ref()
            .map(|u| (u.what.as_str(), u.compared_with.as_str(), u.compared_serial)),
    })
    .map_err(|e| Error::failed(format!("rendering the preview: {e}")))
}

/// The sealed restore in `dir` with digest `sha256`, for `unit`, if the
/// folder holds one with that digest (`state apply --sha256` runs it).
pub fn sealed_here(dir: &Path, sha256: &str) -> bool {
    crate::util::fs::read_bounded(&dir.join(FILE), 1 << 20)
        .is_ok_and(|b| crate::util::fs::sha256_bytes(&b).eq_ignore_ascii_case(sha256))
}

fn open(dir: &Path, sha256: &str, unit: &Unit) -> Result<SealedRestore> {
    crate::flows::github_loop::artifact::open_preview(
        &unit.customer,
        &unit.environment,
        dir,
        FILE,
    )?;
    let path = dir.join(FILE);
    let bytes = super::state_preview::approved(&path, sha256, "restore")?;
    let s: SealedRestore = serde_json::from_slice(&bytes)
        .map_err(|e| Error::refused(format!("the sealed restore {}: {e}", path.display())))?;
    if s.format != FORMAT
        || s.customer != unit.customer
        || s.product != unit.product
        || s.environment != unit.environment
    {
        return Err(Error::refused(format!(
            "the sealed restore is of `{}` in `{}`, not of {unit}; nothing was changed",
            s.customer, s.environment
        )));
    }
    Ok(s)
}

/// Writes the sealed version as the new current one, if the state is
/// still the one previewed; returns the new version's id. Through
/// `terraform state push`, or, over a current version Terraform cannot
/// read, through the S3 API under the backend's lock.
fn run_restore(engine: &Engine<'_>, p: &Pair<'_>, s: &SealedRestore, dir: &Path) -> Result<String> {
    if s.key != p.key {
        return Err(Error::refused(format!(
            "the sealed restore is of {}, and the pair's state is now at {}; nothing was changed; preview again",
            s.key, p.key
        )));
    }
    if s.unreadable.is_some() {
        return write_past_terraform(p, s);
    }
    let restored = checked_restore(p, s)?;
    engine
        .state_push(p.customer, &p.unit.environment, dir, &restored)
        .map_err(super::state_preview::run_error)?;
    written(p, s)
}

/// The restored state's bytes (version V with its new serial), if the
/// current version is still the one previewed and V still has the bytes
/// previewed.
fn checked_restore(p: &Pair<'_>, s: &SealedRestore) -> Result<Vec<u8>> {
    let listed = p.source.versions(&p.key).map_err(s3_err)?;
    let current = current_of(&listed, p)?;
    // A bucket's new version has a new id; the local backend's file keeps
    // its name: its bytes tell.
    let same = current.version_id == s.current.version_id
        && crate::util::fs::sha256_bytes(&read(p, current)?) == s.current.sha256;
    if !same {
        return Err(Error::refused(format!(
            "the state changed since the preview (version {} then, {} now): nothing was changed; preview again",
            s.current.version_id, current.version_id
        )));
    }
    let wanted = listed
        .iter()
        .find(|x| x.version_id == s.version.version_id && !x.deleted)
        .ok_or_else(|| {
            Error::refused(format!(
                "version {} is no longer there; nothing was changed",
                s.version.version_id
            ))
        })?;
    let bytes = read(p, wanted)?;
    if crate::util::fs::sha256_bytes(&bytes) != s.version.sha256 {
        return Err(Error::refused(format!(
            "version {} no longer has the bytes previewed; nothing was changed",
            s.version.version_id
        )));
    }
    with_serial(&bytes, s.new_serial)
        .map_err(|e| Error::refused(format!("version {}: {e}", s.version.version_id)))
}

/// Over a current version Terraform cannot read: the backend's lock taken
/// as Terraform takes it (`<key>.tflock`, with `use_lockfile`; a backend
/// without it takes none, and neither does Terraform), the state checked
/// again under it, version V written as a new version (nothing deleted),
/// the lock released.
fn write_past_terraform(p: &Pair<'_>, s: &SealedRestore) -> Result<String> {
    let super::state_versions::StateVersions::Bucket(bucket) = &p.source else {
        return Err(Error::refused(
            "the local backend's state is never written past Terraform; nothing was changed",
        ));
    };
    let locks = matches!(
        p.view.config.terraform.backend,
        crate::config::Backend::S3 {
            use_lockfile: true,
            ..
        }
    );
    let failed =
        |e: crate::records::RecordsError| Error::refused(format!("{e}; nothing was changed"));
    let who = Entry::now("state", "").actor;
    let lock = match locks {
        true => Some(bucket.lock(&p.key, &who, &s.reason).map_err(failed)?),
        false => None,
    };
    let done = checked_restore(p, s).and_then(|bytes| {
        bucket
            .write_state(lock.as_ref(), &p.key, bytes)
            .map_err(|e| Error::failed(e.to_string()))
    });
    let released = lock.map(|l| bucket.unlock(l));
    done?;
    let new = written(p, s)?;
    match released {
        Some(Err(e)) => Err(Error::failed(format!(
            "written as {new}, but the lock was not released: {e}; remove {} once no run holds it",
            bucket.describe(&crate::records::state_lock::lock_key(&p.key))
        ))),
        _ => Ok(new),
    }
}

/// The new current version after the push: a new version beside the
/// earlier ones in a bucket; the local backend's file with the new serial
/// (Terraform kept the one it replaced as the backup).
fn written(p: &Pair<'_>, s: &SealedRestore) -> Result<String> {
    let after = p.source.versions(&p.key).map_err(s3_err)?;
    if !p.source.is_bucket() {
        let now = p
            .source
            .read_version(&p.key, super::state_versions::CURRENT)
            .ok()
            .and_then(|b| StateFile::parse(&b).ok());
        return match now {
            // The local backend counts its own write: one above, or more.
            Some(n) if n.serial >= s.new_serial && n.lineage == s.lineage => Ok(format!(
                "{} (serial {})",
                super::state_versions::CURRENT,
                n.serial
            )),
            _ => Err(Error::failed(format!(
                "Terraform pushed the restored state, but {} does not hold its lineage at serial {} or above",
                p.source.describe(&p.key),
                s.new_serial
            ))),
        };
    }
    let kept = |id: &str| after.iter().any(|x| x.version_id == id);
    match after.first() {
        Some(new) if !new.deleted && new.version_id != s.current.version_id
            && kept(&s.current.version_id) && kept(&s.version.version_id) => {
            Ok(format!("version {} (serial {})", new.version_id, s.new_serial))
        }
        _ => Err(Error::failed(format!(
            "Terraform pushed the restored state, but {} does not show it as a new version beside the earlier ones: check the bucket's versioning",
            p.source.describe(&p.key)
        ))),
    }
}

/// The restore's audit event (kept in the records store too): who, why,
/// which versions, and who let it through.
fn record(
    p: &Pair<'_>,
    s: &SealedRestore,
    digest: Option<&str>,
    verdict: &crate::flows::github_loop::second_person::Verdict,
    written: &Result<String>,
    cx: &Context,
) {
    let detail = format!(
        "restore {} version {} (serial {}) over version {} (serial {}), written as serial {}{}",
        s.key,
        s.version.version_id,
        s.version.serial.unwrap_or_default(),
        s.current.version_id,
        s.current.serial.map_or("unknown".into(), |x| x.to_string()),
        s.new_serial,
        match written {
            Ok(v) => format!(", now {v}"),
            Err(e) => format!(": {}", e.short()),
        }
    );
    let approvers: Vec<String> = verdict.approver.iter().cloned().collect();
    let entry = Entry::now("state", if written.is_ok() { "ok" } else { "failed" })
        .unit(&p.unit)
        .reason(&s.reason)
        .plan(digest)
        .approval(verdict.approval)
        .approvers(&approvers)
        .detail(format!("{detail} ({})", verdict.describe()));
    cx.record(entry);
}

/// A plan of the pair after its restore; its comment says it follows one.
fn plan_after(t: &OpTarget, s: &SealedRestore, manager_dir: &Path, cx: &Context) -> Result<()> {
    let settings = super::plan::LocalPlan {
        customers: Some(vec![t.customer.clone()]),
        environments: Some(vec![t.environment.clone()]),
        jobs: 1,
        out: t.out.clone(),
        json: false,
        terraform: t.terraform.clone(),
        customer_dir: t.customer_dir.clone(),
        targeting: Some(crate::data::summary::Targeting {
            restored: Some(s.version.version_id.clone()),
            reason: s.reason.clone(),
            actor: Entry::now("plan", "").actor,
            ..Default::default()
        }),
        product: t.product.clone(),
        seal: false,
    };
    super::plan::plan_local(&settings, manager_dir, cx)
}
