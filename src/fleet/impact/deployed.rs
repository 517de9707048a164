//! The deployment records impact reads, listed once per run: one listing
//! of `deployments/` (one paginated request series for a bucket) instead
//! of one listing per pair, then the last record of each pair read.

use std::sync::OnceLock;

use crate::config::Unit;
use crate::records::{self, Deployment, Store};

/// Every deployment record's key, listed on first use and sorted; `None`
/// when the listing failed (then each pair lists its own, as before).
pub(super) struct Deployed<'a> {
    store: &'a Store,
    keys: OnceLock<Option<Vec<String>>>,
}

impl<'a> Deployed<'a> {
    pub(super) fn new(store: &'a Store) -> Self {
        Deployed {
            store,
            keys: OnceLock::new(),
        }
    }

    /// The pair's last deployment record; `None` when it has none or it
    /// cannot be read (the pair's files are then the local checkout).
    pub(super) fn last(&self, unit: &Unit) -> Option<Deployment> {
        let keys = self
            .keys
            .get_or_init(|| self.store.list("deployments/").ok());
        let Some(keys) = keys else {
            return records::last_deployment(self.store, unit).ok().flatten();
        };
        let key = last_under(keys, &records::deployments_prefix(unit))?;
        let bytes = self.store.read(key).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// The last of the sorted `keys` that starts with `prefix` (those keys are
/// consecutive in sorted order, right after every key below `prefix`).
fn last_under<'k>(keys: &'k [String], prefix: &str) -> Option<&'k String> {
    let end = keys.partition_point(|k| k.as_str() < prefix || k.starts_with(prefix));
    keys[..end].last().filter(|k| k.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_key_under_a_prefix_is_found_among_neighbours() {
        let keys: Vec<String> = [
            "deployments/acme/_/production/1.json",
            "deployments/acme/_/staging/1.json",
            "deployments/acme/_/staging/2.json",
            "deployments/acme/_/staging2/9.json",
            "deployments/acme2/_/staging/7.json",
        ]
        .map(String::from)
        .to_vec();
        let last = |p: &str| last_under(&keys, p).map(String::as_str);
        assert_eq!(
            last("deployments/acme/_/staging/"),
            Some("deployments/acme/_/staging/2.json")
        );
        assert_eq!(
            last("deployments/acme/_/production/"),
            Some("deployments/acme/_/production/1.json")
        );
        assert_eq!(
            last("deployments/acme2/_/staging/"),
            Some("deployments/acme2/_/staging/7.json")
        );
        assert_eq!(last("deployments/acme/_/dev/"), None);
        assert_eq!(last("deployments/zeta/_/staging/"), None);
        assert_eq!(last_under(&[], "deployments/acme/_/staging/"), None);
    }
}
