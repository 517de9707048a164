//! The states an offboarding destroys, kept first: each pair's state as
//! it is before its destroy (every resource in it), written create-only
//! in the records store and read back, its SHA-256 compared. Only once
//! every pair's state is kept does anything get destroyed; then one
//! record says what was approved, by whom, and where each state is.

use serde::Serialize;

use crate::config::{Customer, Manager};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::flows::github_loop::second_person::Verdict;
use crate::records::Store;

use super::sealed::{Sealed, SealedUnit};
use super::Settings;

/// One pair's state, kept.
#[derive(Debug, Clone, Serialize)]
pub struct Archived {
    pub unit: String,
    /// Its key in the records store.
    pub key: String,
    /// SHA-256 of the state as pulled, and as read back.
    pub sha256: String,
    /// The addresses in it (`terraform state list`).
    pub resources: usize,
}

/// Archives the state of every unit of `sealed`, in order; the first that
/// cannot be kept stops it all: nothing is destroyed.
pub fn all(
    manager: &Manager,
    store: &Store,
    c: &Customer,
    sealed: &Sealed,
    s: &Settings<'_>,
) -> Result<Vec<Archived>> {
    let mut kept = Vec::new();
    for u in &sealed.units {
        let (view, unit) = super::unit_of(manager, &c.slug, u)?;
        let engine = Engine::with_terraform(&view, s.terraform)?;
        let dir = s.out_dir.join(unit.rel_dir());
        match one(&engine, store, c, u, &dir) {
            Ok(a) => kept.push(a),
            Err(e) => return Err(nothing_destroyed(e, &kept)),
        }
    }
    Ok(kept)
}

/// The refusal or failure of an archive, saying nothing was destroyed
/// and which states were kept before it.
fn nothing_destroyed(e: Error, kept: &[Archived]) -> Error {
    let before = match kept {
        [] => String::new(),
        k => format!(
            " (kept before it: {})",
            k.iter()
                .map(|a| format!("{} at {}", a.unit, a.key))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    match e {
        Error::Refused(m) => Error::refused(format!("{m}; nothing was destroyed{before}")),
        other => Error::failed(format!("{other}; nothing was destroyed{before}")),
    }
}

/// One unit's state: as previewed, holding what the plan destroys, kept
/// and read back.
fn one(
    engine: &Engine<'_>,
    store: &Store,
    c: &Customer,
    u: &SealedUnit,
    dir: &std::path::Path,
) -> Result<Archived> {
    let scratch = dir.join(".state-read");
    let (pulled, listed) = engine
        .state_pulled_and_listed(c, &u.environment, &scratch)
        .map_err(|e| Error::failed(format!("reading the state of {}: {}", u.unit, e.short())))?;
    // The preview's digest of the state is over `state pull` without its
    // final newline (as a state operation's preview).
    let now = crate::util::fs::sha256_bytes(pulled.trim_end().as_bytes());
    if now != u.state.sha256 {
        return Err(Error::refused(format!(
            "the state of {} changed since the preview (serial {} then); preview the offboarding again",
            u.unit,
            u.state
                .serial
                .map_or("unknown".into(), |s| s.to_string()),
        )));
    }
    if let Some(missing) = u.destroys.iter().find(|a| !listed.contains(a)) {
        return Err(Error::refused(format!(
            "the state of {} does not hold `{missing}`, which the preview destroys; preview the offboarding again",
            u.unit
        )));
    }
    let unit = crate::config::Unit::new(&c.slug, u.product.as_deref(), &u.environment);
    let (bytes, key) = kept_as(
        &engine.manager.config.records,
        pulled.as_bytes(),
        crate::records::state_before_destroy_key(&unit),
        &u.unit,
    )?;
    let bytes = bytes.as_slice();
    store.create(&key, bytes).map_err(|e| {
        Error::failed(format!(
            "the state of {} was not archived in {}: {e}",
            u.unit,
            store.describe()
        ))
    })?;
    let sha256 = crate::util::fs::sha256_bytes(bytes);
    read_back(store, &key, &sha256, &u.unit)?;
    Ok(Archived {
        unit: u.unit.clone(),
        key,
        sha256,
        resources: listed.len(),
    })
}

/// The record at `key` reads back with digest `sha256`.
/// What is kept of a state and under which key: encrypted to the
/// provider's records recipient (`<key>.age`, opened with its identity:
/// `age -d -i KEY`) when fleetform.yml names one; a state holds every
/// sensitive value of the pair, so a bucket, which every role that reads
/// the records can list, never gets one in the clear. A folder (a
/// workstation's) keeps it as it is without a recipient.
fn kept_as(
    records: &crate::config::Records,
    state: &[u8],
    key: String,
    unit: &str,
) -> Result<(Vec<u8>, String)> {
    match (records.recipient(), records) {
        (Some(r), _) => {
            let to: age::x25519::Recipient = r
                .parse()
                .map_err(|e| Error::failed(format!("records.recipient: {e}")))?;
            let sealed = age::encrypt(&to, state)
                .map_err(|e| Error::failed(format!("encrypting the state of {unit}: {e}")))?;
            Ok((sealed, format!("{key}.age")))
        }
        (None, crate::config::Records::S3 { .. }) => Err(Error::refused(format!(
            "the state of {unit} holds every sensitive value of the pair, and fleetform.yml names no `records.recipient` to encrypt it to before it is kept in the bucket; set `records: {{recipient: age1...}}` (`age-keygen`; keep the identity offline, it opens the kept states with `age -d -i KEY`)"
        ))),
        (None, _) => Ok((state.to_vec(), key)),
    }
}

fn read_back(store: &Store, key: &str, sha256: &str, unit: &str) -> Result<()> {
    let back = store.read(key).map_err(|e| {
        Error::failed(format!(
            "the state of {unit} was written to {} at {key} but could not be read back: {e}",
            store.describe()
        ))
    })?;
    let got = crate::util::fs::sha256_bytes(&back);
    if got != sha256 {
        return Err(Error::failed(format!(
            "the state of {unit} read back from {} at {key} has SHA-256 {got}, not the {sha256} written",
            store.describe()
        )));
    }
    Ok(())
}

/// The offboarding's own record, next to the states: the preview, its
/// digest, who asked and who let it through, and each state's key.
#[derive(Serialize)]
struct Record<'a> {
    digest: &'a str,
    preview: &'a Sealed,
    requested_by: &'a str,
    approved_by: Option<&'a str>,
    approval: &'static str,
    archived: &'a [Archived],
}

/// Writes the offboarding's record (create-only), before the destroy.
pub fn record(
    store: &Store,
    sealed: &Sealed,
    digest: &str,
    verdict: &Verdict,
    archived: &[Archived],
) -> Result<()> {
    let record = Record {
        digest,
        preview: sealed,
        requested_by: &verdict.requester,
        approved_by: verdict.approver.as_deref(),
        approval: verdict.approval.as_str(),
        archived,
    };
    let key = crate::records::offboarding_key(&sealed.customer);
    let bytes = serde_json::to_vec_pretty(&record).expect("serialisable");
    store.create(&key, &bytes).map_err(|e| {
        Error::failed(format!(
            "the offboarding's record was not kept in {}: {e}; nothing was destroyed (the states are archived)",
            store.describe()
        ))
    })
}
