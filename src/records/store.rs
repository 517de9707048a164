//! Where records go ([`Store`]): a folder or a bucket behind one set of
//! create-only operations, and a report's read-only view of either that
//! lists each kind of record once ([`Store::listing_once`]).

use std::path::PathBuf;
use std::sync::Arc;

use super::{check_key, delete, local, s3, RecordsError};
use crate::config::{Manager, Records};

/// Where records go.
#[derive(Debug, Clone)]
pub struct Store {
    at: At,
    /// A read-only view's listings ([`Store::listing_once`]).
    listed: Option<Arc<Vec<Kind>>>,
}

/// One kind of record listed once: its folder key (`deployments/`) and
/// every key under it, sorted.
#[derive(Debug)]
struct Kind {
    prefix: String,
    keys: Vec<String>,
}

#[derive(Debug, Clone)]
enum At {
    Local(local::Folder),
    S3(s3::Bucket),
}

impl Store {
    fn at(at: At) -> Store {
        Store { at, listed: None }
    }

    /// The store of the records folder `dir`.
    pub fn in_folder(dir: PathBuf) -> Store {
        Store::at(At::Local(local::Folder::new(dir)))
    }

    /// The folder of a local store.
    pub fn local_root(&self) -> Option<PathBuf> {
        match &self.at {
            At::Local(f) => Some(f.root().to_path_buf()),
            At::S3(_) => None,
        }
    }

    /// A read-only view of the store for one report: each of `kinds` (a
    /// folder key such as `deployments/`) listed now, once, and every
    /// later listing under one of them answered from that listing. A
    /// report reading a fleet (the dashboard) then sends one listing per
    /// kind of record, however many customers, pairs or rollouts it
    /// reads, where it sent one per customer or pair. A record written
    /// after the view was made is not in it, so the view writes nothing:
    /// its writes fail.
    pub fn listing_once(&self, kinds: &[&str]) -> Result<Store, RecordsError> {
        let mut listed = Vec::new();
        for kind in kinds {
            if !kind.ends_with('/') {
                return Err(RecordsError::Io {
                    what: "listing",
                    key: kind.to_string(),
                    reason: "a kind of record is a folder key, ending in `/`".into(),
                });
            }
            listed.push(Kind {
                prefix: kind.to_string(),
                keys: self.list(kind)?,
            });
        }
        Ok(Store {
            at: self.at.clone(),
            listed: Some(Arc::new(listed)),
        })
    }

    /// The keys under `prefix` from a read-only view's listing of a kind
    /// that holds it (None when no kind does, or this is no view).
    fn listed_under(&self, prefix: &str) -> Option<Vec<String>> {
        let Kind { keys, .. } = self
            .listed
            .as_ref()?
            .iter()
            .find(|kind| prefix.starts_with(kind.prefix.as_str()))?;
        let from = keys.partition_point(|k| k.as_str() < prefix);
        Some(
            keys[from..]
                .iter()
                .take_while(|k| k.starts_with(prefix))
                .cloned()
                .collect(),
        )
    }

    /// Refuses a write through a read-only view.
    fn writable(&self, key: &str) -> Result<(), RecordsError> {
        match self.listed {
            None => Ok(()),
            Some(_) => Err(RecordsError::Io {
                what: "writing",
                key: key.to_string(),
                reason: "a report's read-only view of the records writes nothing".into(),
            }),
        }
    }

    /// The store `fleetform.yml` names (a folder by default).
    pub fn for_manager(manager: &Manager, net: &crate::net::Settings) -> Store {
        Store::for_job(manager, false, net)
    }

    /// The store for a job that holds a customer's cloud role (a
    /// dispatched plan or apply, drift): with `identity:` in fleetform.yml
    /// a bucket is written only with the records' own credential
    /// ([`s3::OWN_CREDENTIAL`]), never with the customer's role.
    pub fn for_customer_role(manager: &Manager, net: &crate::net::Settings) -> Store {
        Store::for_job(manager, manager.has_identity(), net)
    }

    fn for_job(manager: &Manager, own_credential: bool, net: &crate::net::Settings) -> Store {
        match &manager.config.records {
            Records::Local { dir, .. } => Store::in_folder(manager.path(dir)),
            Records::S3 {
                bucket,
                region,
                prefix,
                endpoint,
                use_path_style,
                ca_file,
                ..
            } => Store::at(At::S3(s3::Bucket::new(s3::Settings {
                bucket: bucket.clone(),
                region: region.clone(),
                prefix: prefix.trim_end_matches('/').to_string(),
                endpoint: endpoint.clone(),
                path_style: *use_path_style,
                ca_file: ca_file.as_ref().map(|p| manager.path(p)),
                net: net.clone(),
                own_credential,
            }))),
        }
    }

    /// Where it is, for messages.
    pub fn describe(&self) -> String {
        match &self.at {
            At::Local(f) => crate::config::display_path(f.root()).display().to_string(),
            At::S3(b) => b.describe(),
        }
    }

    /// Writes a new record; [`RecordsError::Exists`] if the key is taken.
    pub fn create(&self, key: &str, bytes: &[u8]) -> Result<(), RecordsError> {
        check_key(key)?;
        self.writable(key)?;
        match &self.at {
            At::Local(f) => f.create(key, bytes),
            At::S3(b) => b.create(key, bytes),
        }
    }

    /// The keys under `prefix` (`audit/`, `deployments/acme/`), sorted.
    pub fn list(&self, prefix: &str) -> Result<Vec<String>, RecordsError> {
        check_key(prefix)?;
        if let Some(keys) = self.listed_under(prefix) {
            return Ok(keys);
        }
        let mut keys = match &self.at {
            At::Local(f) => f.list(prefix)?,
            At::S3(b) => b.list(prefix)?,
        };
        keys.sort();
        Ok(keys)
    }

    /// The keys under `prefix` that sort after `after`, sorted: a bucket
    /// lists only those (S3's `start-after`).
    pub fn list_after(&self, prefix: &str, after: &str) -> Result<Vec<String>, RecordsError> {
        check_key(prefix)?;
        check_key(after)?;
        if let Some(mut keys) = self.listed_under(prefix) {
            keys.retain(|k| k.as_str() > after);
            return Ok(keys);
        }
        let mut keys = match &self.at {
            At::Local(f) => f.list(prefix)?,
            At::S3(b) => b.list_after(prefix, after)?,
        };
        keys.retain(|k| k.as_str() > after);
        keys.sort();
        Ok(keys)
    }

    /// One record's bytes.
    pub fn read(&self, key: &str) -> Result<Vec<u8>, RecordsError> {
        check_key(key)?;
        match &self.at {
            At::Local(f) => f.read(key),
            At::S3(b) => b.read(key),
        }
    }

    /// What Object Lock holds `key` by (a folder holds nothing), and its
    /// current version.
    pub fn held(&self, key: &str) -> Result<delete::Held, RecordsError> {
        check_key(key)?;
        match &self.at {
            At::Local(_) => Ok(delete::Held::default()),
            At::S3(b) => b.held(key),
        }
    }

    /// Deletes a raw audit event or deployment record (never anything
    /// else: segments, manifests and the deletions' own records stay);
    /// only [`delete::delete_covered`] calls it, once a segment it has
    /// read back holds the record.
    pub(super) fn delete_raw(&self, key: &str, version: Option<&str>) -> Result<(), RecordsError> {
        check_key(key)?;
        self.writable(key)?;
        if !(key.starts_with("audit/") || key.starts_with("deployments/")) {
            return Err(RecordsError::Io {
                what: "refusing to delete",
                key: key.to_string(),
                reason: "only audit events and deployment records are ever deleted".into(),
            });
        }
        match &self.at {
            At::Local(f) => f.delete(key),
            At::S3(b) => b.delete(key, version),
        }
    }

    /// [`Store::create`] from async code: a bucket's request runs on the
    /// caller's runtime with a client kept for the store (no thread or
    /// runtime per call); a folder's is a local file operation.
    pub async fn create_async(&self, key: &str, bytes: &[u8]) -> Result<(), RecordsError> {
        check_key(key)?;
        self.writable(key)?;
        match &self.at {
            At::Local(f) => f.create(key, bytes),
            At::S3(b) => b.create_async(key, bytes).await,
        }
    }

    /// [`Store::list`] from async code ([`Store::create_async`]).
    pub async fn list_async(&self, prefix: &str) -> Result<Vec<String>, RecordsError> {
        check_key(prefix)?;
        if let Some(keys) = self.listed_under(prefix) {
            return Ok(keys);
        }
        let mut keys = match &self.at {
            At::Local(f) => f.list(prefix)?,
            At::S3(b) => b.list_async(prefix).await?,
        };
        keys.sort();
        Ok(keys)
    }

    /// [`Store::read`] from async code ([`Store::create_async`]).
    pub async fn read_async(&self, key: &str) -> Result<Vec<u8>, RecordsError> {
        check_key(key)?;
        match &self.at {
            At::Local(f) => f.read(key),
            At::S3(b) => b.read_async(key).await,
        }
    }

    /// Every record of `keys`, handed to `each` in the order of `keys`
    /// (from a bucket, several are read at once); stops at the first
    /// error, a read's or `each`'s.
    pub fn read_each(
        &self,
        keys: &[String],
        mut each: impl FnMut(&str, Vec<u8>) -> Result<(), RecordsError>,
    ) -> Result<(), RecordsError> {
        for key in keys {
            check_key(key)?;
        }
        match &self.at {
            At::Local(f) => keys.iter().try_for_each(|k| each(k, f.read(k)?)),
            At::S3(b) => b.read_each(keys, each),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A read-only view answers every listing under a kind it listed
    /// exactly as the store would, sees nothing written after it, and
    /// writes nothing.
    #[test]
    fn a_view_lists_as_the_store_does_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::in_folder(dir.path().to_path_buf());
        let keys = [
            "deployments/acme/_/production/20261001T000000.000Z-a.json",
            "deployments/acme/_/staging/20261001T000000.000Z-a.json",
            "deployments/acme/_/staging/20261002T000000.000Z-b.json",
            "deployments/acme-eu/_/staging/20261001T000000.000Z-c.json",
            "deployments/globex/web/staging/20261001T000000.000Z-d.json",
            "adoptions/acme/_/staging/20261001T000000.000Z-e-adopted.json",
            "rollouts/000000000001-abc-12/state-000001.json",
        ];
        for k in keys {
            store.create(k, b"{}").unwrap();
        }
        let view = store.listing_once(&["deployments/", "rollouts/"]).unwrap();
        let prefixes = [
            "deployments/",
            "deployments/acme/",
            "deployments/acme",
            "deployments/acme/_/staging/",
            "deployments/acme-eu/",
            "deployments/globex/web/staging/",
            "deployments/nobody/",
            "rollouts/000000000001-abc-12/",
            "adoptions/acme/_/staging/",
        ];
        for p in prefixes {
            assert_eq!(view.list(p).unwrap(), store.list(p).unwrap(), "{p}");
            let after = "deployments/acme/_/staging/20261001T000000.000Z-a.json";
            assert_eq!(
                view.list_after(p, after).unwrap(),
                store.list_after(p, after).unwrap(),
                "{p} after {after}"
            );
        }
        assert_eq!(view.list("deployments/acme/_/staging/").unwrap().len(), 2);
        store
            .create(
                "deployments/acme/_/staging/20261003T000000.000Z-f.json",
                b"{}",
            )
            .unwrap();
        assert_eq!(view.list("deployments/acme/_/staging/").unwrap().len(), 2);
        let e = view
            .create(
                "deployments/acme/_/staging/20261004T000000.000Z-g.json",
                b"{}",
            )
            .unwrap_err();
        assert!(e.to_string().contains("read-only"), "{e}");
        assert!(store.listing_once(&["deployments"]).is_err());
    }
}
