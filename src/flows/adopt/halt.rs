//! An adoption wave's halt, kept in the records store so that it outlives
//! the run (as a rollout's halt is an event of the rollout): the wave run
//! that stops at a pair writes `halted` (the pair, why); every later wave
//! run of that environment (and product) is held there until the pair is
//! ready (its kept adoption plan is zero-diff, or it was adopted on its
//! own: the run that sees it writes `resumed`), or an operator resumes
//! the wave (`adopt wave --resume`: the pair is planned again, and the
//! wave halts again if it still is not ready). Each is an audit line too.

use serde::{Deserialize, Serialize};

use super::AdoptError;
use crate::audit::Entry;
use crate::config::Unit;
use crate::context::Context;
use crate::records::Store;
use crate::report::adopt::WaveHalt;

/// What happened to the wave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HaltEvent {
    Halted,
    Resumed,
}

impl HaltEvent {
    fn word(self) -> &'static str {
        match self {
            HaltEvent::Halted => "halted",
            HaltEvent::Resumed => "resumed",
        }
    }
}

/// One halt or resume of an environment's adoption wave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HaltRecord {
    pub event: HaltEvent,
    pub time: String,
    /// The pair the wave halted at.
    pub unit: Unit,
    /// Halted: why (the pair's verdict or error); resumed: how.
    pub reason: String,
    pub actor: String,
}

impl HaltRecord {
    pub fn new(event: HaltEvent, unit: &Unit, reason: &str, actor: &str) -> HaltRecord {
        HaltRecord {
            event,
            time: jiff::Timestamp::now().to_string(),
            unit: unit.clone(),
            reason: reason.to_string(),
            actor: actor.to_string(),
        }
    }
}

/// The halt the wave of `environment` (and `product`) is held by, if its
/// newest record is a halt.
pub fn current(
    store: &Store,
    environment: &str,
    product: Option<&str>,
) -> Result<Option<HaltRecord>, AdoptError> {
    let keys = store.list(&crate::records::adoption_waves_prefix(environment, product))?;
    let Some(key) = keys.last() else {
        return Ok(None);
    };
    let bytes = store.read(key)?;
    let r: HaltRecord = serde_json::from_slice(&bytes).map_err(|e| {
        AdoptError::Records(crate::records::RecordsError::Io {
            what: "reading",
            key: key.clone(),
            reason: format!("not an adoption wave record: {e}"),
        })
    })?;
    Ok((r.event == HaltEvent::Halted).then_some(r))
}

/// Every adoption wave held by its halt: per product (or the manager),
/// per environment of fleetform.yml. `records`: the records to read them
/// from (a report's read-only view); None: the store fleetform.yml names.
pub fn halts(
    manager_dir: &std::path::Path,
    net: &crate::net::Settings,
    records: Option<&Store>,
) -> crate::error::Result<Vec<WaveHalt>> {
    let (manager, _) = crate::config::load(manager_dir)?;
    // Every product view has the manager's `records:`: one store serves all.
    let store = records
        .cloned()
        .unwrap_or_else(|| Store::for_manager(&manager, net));
    let mut out = Vec::new();
    for view in manager.products() {
        for env in view.environment_names() {
            if let Some(h) = current(&store, env, view.product.as_deref())? {
                out.push(WaveHalt {
                    why: h.reason.lines().next().unwrap_or_default().to_string(),
                    unit: h.unit,
                    since: h.time,
                    by: h.actor,
                });
            }
        }
    }
    Ok(out)
}

/// Keeps `r` (create-only) and writes its audit line.
pub fn keep(store: &Store, r: &HaltRecord, cx: &Context) -> Result<(), AdoptError> {
    let key = crate::records::adoption_wave_key(
        &r.unit.environment,
        r.unit.product.as_deref(),
        r.event.word(),
    );
    let bytes = serde_json::to_vec_pretty(r).expect("a record serialises");
    store.create(&key, &bytes)?;
    let first_line = r.reason.lines().next().unwrap_or_default();
    cx.record(
        Entry::now("adopt-wave", r.event.word())
            .unit(&r.unit)
            .detail(format!("{} at {}: {first_line}", r.event.word(), r.unit)),
    );
    Ok(())
}
