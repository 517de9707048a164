//! Writing a state object in the state bucket directly, under the
//! backend's lock, the one thing Terraform cannot do for fleetform: a
//! restore over a current version Terraform cannot read (bytes that are not
//! a state), where `terraform state push` stops before it takes the lock.
//!
//! The lock is taken as Terraform's s3 backend takes it with
//! `use_lockfile: true`: an object `<key>.tflock` written only if none is
//! there (`If-None-Match: *`), holding Terraform's lock information (ID,
//! operation, who, when, the state's path), so a Terraform run waits for it
//! or reports who holds it, and fleetform never writes while a Terraform
//! run holds it. The state itself is a new version of its object (PUT,
//! nothing deleted); the lock goes once the write is done.

use bytes::Bytes;

use super::s3::{content_md5, failed, io};
use super::s3_http::{self, MAX_ERROR_BODY};
use super::state_bucket::StateBucket;
use super::RecordsError;

/// The largest lock information read back.
const MAX_LOCK: usize = 64 * 1024;

/// Terraform's lock information, as its s3 backend writes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LockInfo {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Operation", default)]
    pub operation: String,
    #[serde(rename = "Info", default)]
    pub info: String,
    #[serde(rename = "Who", default)]
    pub who: String,
    #[serde(rename = "Version", default)]
    pub version: String,
    #[serde(rename = "Created", default)]
    pub created: String,
    #[serde(rename = "Path", default)]
    pub path: String,
}

/// A lock fleetform holds: released by [`StateBucket::unlock`].
#[derive(Debug)]
pub struct HeldLock {
    key: String,
    id: String,
}

/// The key of the lockfile of the state at `key`.
pub fn lock_key(key: &str) -> String {
    format!("{key}.tflock")
}

impl StateBucket {
    /// Takes the lock of the state at `key` (`<key>.tflock`, written only
    /// if absent); refused, naming who holds it, when another does.
    pub fn lock(&self, key: &str, who: &str, info: &str) -> Result<HeldLock, RecordsError> {
        let lock = LockInfo {
            id: uuid_v4().map_err(|e| io("locking", key, e))?,
            operation: "fleetform state restore".into(),
            info: info.into(),
            who: who.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            created: jiff::Timestamp::now().to_string(),
            path: format!("{}/{key}", self.name()),
        };
        let body = serde_json::to_vec(&lock).expect("serialisable");
        let (owned, id) = (lock_key(key), lock.id.clone());
        self.run("locking", key, move |http, s| async move {
            let mut req = s.request(http::Method::PUT, &owned, &[]);
            req.headers.push(("if-none-match", "*".into()));
            req.headers.push(("content-md5", content_md5(&body)));
            req.headers
                .push(("content-type", "application/json".into()));
            req.body = Bytes::from(body);
            let sent = s3_http::send(&http, &req, MAX_ERROR_BODY).await;
            let held = match &sent.answer {
                Ok(a) if a.status.is_success() => None,
                Ok(a) if a.status == 412 || a.status == 409 => {
                    // Held: by us when an earlier attempt of this very
                    // write got through before its answer was lost.
                    let get = s.request(http::Method::GET, &owned, &[]);
                    let now = s3_http::send(&http, &get, MAX_LOCK).await;
                    let holder = match &now.answer {
                        Ok(a) if a.status.is_success() => {
                            serde_json::from_slice::<LockInfo>(&a.body).ok()
                        }
                        _ => None,
                    };
                    match holder {
                        Some(h) if h.id == id => None,
                        Some(h) => Some(format!(
                            "the state is locked by {} ({}, since {}, lock ID {})",
                            h.who, h.operation, h.created, h.id
                        )),
                        None => Some("the state is locked".to_string()),
                    }
                }
                _ => return Err(failed("locking", &owned, &sent)),
            };
            match held {
                None => Ok(HeldLock { key: owned, id }),
                Some(why) => Err(io("locking", &owned, why)),
            }
        })
    }

    /// Releases `lock`, if the lockfile is still ours (as Terraform's
    /// unlock checks the ID); a lockfile of another's is left.
    pub fn unlock(&self, lock: HeldLock) -> Result<(), RecordsError> {
        let key = lock.key.clone();
        self.run("unlocking", &key, move |http, s| async move {
            let get = s.request(http::Method::GET, &lock.key, &[]);
            let now = s3_http::send(&http, &get, MAX_LOCK).await;
            match &now.answer {
                Ok(a) if a.status.is_success() => {
                    let holder = serde_json::from_slice::<LockInfo>(&a.body).ok();
                    if holder.is_none_or(|h| h.id != lock.id) {
                        return Err(io(
                            "unlocking",
                            &lock.key,
                            "the lockfile is no longer fleetform's: left as it is",
                        ));
                    }
                }
                Ok(a) if a.status == 404 => return Ok(()),
                _ => return Err(failed("unlocking", &lock.key, &now)),
            }
            let del = s.request(http::Method::DELETE, &lock.key, &[]);
            let sent = s3_http::send(&http, &del, MAX_ERROR_BODY).await;
            match &sent.answer {
                Ok(a) if a.status.is_success() || a.status == 404 => Ok(()),
                _ => Err(failed("unlocking", &lock.key, &sent)),
            }
        })
    }

    /// Writes `bytes` as a new current version of the state at `key`
    /// while `_lock` is held (none where the backend takes no lock, as
    /// Terraform takes none); every earlier version stays. Returns the new
    /// version's id.
    pub fn write_state(
        &self,
        _lock: Option<&HeldLock>,
        key: &str,
        bytes: Vec<u8>,
    ) -> Result<String, RecordsError> {
        self.put_version(
            key,
            bytes,
            vec![("content-type", "application/json".into())],
        )
    }
}

/// A random (version 4) UUID, as Terraform's lock IDs are.
fn uuid_v4() -> Result<String, String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| format!("no randomness: {e}"))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = crate::util::fs::hex(&b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_id_is_a_version_4_uuid_and_the_info_reads_as_terraforms() {
        let id = uuid_v4().unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        // Terraform's own lock information (statemgr.LockInfo).
        let theirs = r#"{"ID":"5d9c1c2e-0f6b-4f4e-9c1b-2a2d7f1e0a11","Operation":"OperationTypeApply","Info":"","Who":"runner@host","Version":"1.14.0","Created":"2026-01-01T00:00:00.123456Z","Path":"fleetform-state/acme/staging/terraform.tfstate"}"#;
        let read: LockInfo = serde_json::from_str(theirs).unwrap();
        assert_eq!(read.who, "runner@host");
        assert_eq!(lock_key("a/b.tfstate"), "a/b.tfstate.tflock");
    }
}
