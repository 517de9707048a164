//! `fleetform batch-entries`, the first job of `manager-batch.yml`: the
//! indices of a `fleetform-batch` dispatch's entries, for a matrix that
//! runs the deploy workflow once per entry. The batch is checked whole
//! first, and its sender must be the relay's manager App: a batch from
//! anyone else starts no job (each entry's `authorise` would refuse it
//! too, `authorise::authenticate`).

use std::path::Path;

use crate::ci::RunContext;
use crate::config::Manager;
use crate::dispatch::EVENT_BATCH;
use crate::error::{Error, Result};

use super::event::read_batch_event;

/// The entries' indices, `0..n`, of the run's batch dispatch.
pub fn batch_entries(ctx: &RunContext, manager_dir: &Path) -> Result<Vec<usize>> {
    let (batch, sender) = read_batch_event(ctx)?;
    let (manager, _registry) = crate::config::load(manager_dir)?;
    relay_sent(&manager, sender.as_deref())?;
    Ok((0..batch.entries.len()).collect())
}

/// Only the relay, as the manager App (`relay.app_slug`), sends batches.
fn relay_sent(manager: &Manager, sender: Option<&str>) -> Result<()> {
    let Some(relay) = &manager.config.relay else {
        return Err(Error::refused(format!(
            "a `{EVENT_BATCH}` dispatch comes from the relay, and fleetform.yml has no `relay:`; nothing was planned"
        )));
    };
    let app = relay.sender_login();
    if sender == Some(app.as_str()) {
        return Ok(());
    }
    Err(Error::refused(format!(
        "a `{EVENT_BATCH}` dispatch is sent only by the relay (the manager App `{app}`), but this one by `{}`; nothing was planned",
        sender.unwrap_or("(unknown)").escape_debug()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manager(relay: bool) -> Manager {
        let mut m = super::super::testing::manager();
        if relay {
            m.config.relay = Some(
                serde_json::from_value(serde_json::json!({
                    "app_slug": "fleetform-relay", "manager_repo": "p/m"
                }))
                .unwrap(),
            );
        }
        m
    }

    #[test]
    fn only_the_relays_app_sends_a_batch() {
        assert!(relay_sent(&manager(true), Some("fleetform-relay[bot]")).is_ok());
        for sender in [Some("someone"), Some("fleetform-relay"), None] {
            let e = relay_sent(&manager(true), sender).unwrap_err();
            assert!(
                matches!(&e, Error::Refused(m) if m.contains("sent only by the relay (the manager App `fleetform-relay[bot]`)")),
                "{sender:?}: {e}"
            );
        }
        let e = relay_sent(&manager(false), Some("fleetform-relay[bot]")).unwrap_err();
        assert!(
            matches!(&e, Error::Refused(m) if m.contains("has no `relay:`")),
            "{e}"
        );
    }
}
