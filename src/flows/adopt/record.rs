//! Adoption records in the records store (create-only, never
//! overwritten): one when a pair is adopted, one when it is released.

use serde::{Deserialize, Serialize};

use super::AdoptError;
use crate::config::Unit;
use crate::records::Store;

/// What happened to a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Event {
    Adopted,
    Released,
}

impl Event {
    fn word(self) -> &'static str {
        match self {
            Event::Adopted => "adopted",
            Event::Released => "released",
        }
    }
}

/// One adoption record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub event: Event,
    pub time: String,
    pub customer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    pub environment: String,
    /// The adoption plan's digest (the one applied, or released).
    pub plan_sha256: String,
    /// The addresses imported (or, released, taken out of the state).
    pub addresses: Vec<String>,
    /// The adoption applied in-place updates the operator accepted.
    #[serde(default)]
    pub accepted_updates: bool,
    pub actor: String,
    pub reason: String,
    /// How it was let through (`approved by b (asked by a)`, ...).
    pub approval: String,
    /// A release run from its sealed preview (`adopt release --sha256`):
    /// that preview's digest, the one the second person approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_sha256: Option<String>,
    /// The pull request the step was reported on (the customer's, with
    /// `--github`) or run for (the manager's): its address. Older records
    /// have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<String>,
    /// The run that made the step, on GitHub Actions. Older records have
    /// none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
}

/// Keeps `record` in the store; returns its key.
pub fn keep(store: &Store, unit: &Unit, record: &Record) -> Result<String, AdoptError> {
    let key = crate::records::adoption_key(unit, record.event.word());
    let bytes = serde_json::to_vec_pretty(record).expect("a record serialises");
    store.create(&key, &bytes)?;
    Ok(key)
}

/// The newest adoption record of `unit`, if any.
pub fn newest(store: &Store, unit: &Unit) -> Result<Option<Record>, AdoptError> {
    let keys = store.list(&crate::records::adoptions_prefix(unit))?;
    let Some(key) = keys.last() else {
        return Ok(None);
    };
    let bytes = store.read(key)?;
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        AdoptError::Records(crate::records::RecordsError::Io {
            what: "reading",
            key: key.clone(),
            reason: format!("not an adoption record: {e}"),
        })
    })
}
