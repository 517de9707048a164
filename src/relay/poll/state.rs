//! `fleetform poll`'s state file (`--state`): what was seen of each
//! customer repo (ETags, heads, the read files' blob shas, the open pull
//! requests' heads), kept between runs in the manager repo's Actions cache.
//!
//! With the manager's artifact secret (`FLEETFORM_ARTIFACT_KEY`) it is
//! sealed the way the ETag cache is (`src/github/etags.rs`):
//! `FFPOLL1\n`, a 12-byte random nonce, then the JSON encrypted with
//! ChaCha20-Poly1305 under a key derived from the secret with HKDF-SHA256
//! (salt `fleetform-poll-state-v1`, info the manager repo: never a plan
//! bundle's or an ETag cache's key) and the manager repo as associated
//! data, so another manager's state does not open as this one's. Whoever
//! can read or write the Actions cache without the key (a pull request's
//! run) can neither read the heads and ETags nor plant a state poll
//! trusts.
//!
//! A state that is missing, does not open (another key or manager,
//! changed, truncated, a clear file from before), is not a state, is a
//! symlink or over [`MAX_BYTES`] is *lost*: poll reads every repo again
//! and checks each head against the commit statuses fleetform sets
//! (`crate::relay::poll`), so nothing is skipped. Without the secret the
//! file is kept in clear and every run warns that it is.

use std::path::{Path, PathBuf};

use ring::aead::LessSafeKey;

use super::PollState;
use crate::dispatch::seal::{self, ArtifactKey, SealError, Unopened};
use crate::util::fs::FsError;

/// The first bytes of a sealed state file.
const MAGIC: &[u8] = b"FFPOLL1\n";

/// The largest state file read.
pub const MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Why a state file was not trusted (the run then reads everything again
/// and checks heads against their commit statuses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lost {
    /// No file: the first run, or the cache was lost.
    Missing,
    /// A key is set and the file is not sealed (a clear file from before,
    /// or planted).
    NotSealed,
    /// Sealed with another key or for another manager, or changed.
    Forged,
    /// A sealed file, and no key to open it.
    NoKey,
    /// Not a state file (or a symlink, or too large, or unreadable).
    Unreadable(String),
}

impl Lost {
    /// The warning to show (`None` for a missing file: a note is enough).
    pub fn warning(&self, shown: &str) -> Option<String> {
        let what = match self {
            Lost::Missing => return None,
            Lost::NotSealed => "is not sealed (kept in clear by an earlier release, or not written by poll) while FLEETFORM_ARTIFACT_KEY is set".to_string(),
            Lost::Forged => "does not open with FLEETFORM_ARTIFACT_KEY (sealed with another key or for another manager repo, or changed or truncated)".to_string(),
            Lost::NoKey => "is sealed and FLEETFORM_ARTIFACT_KEY is not set: pass the manager's artifact secret to the poll step".to_string(),
            Lost::Unreadable(why) => format!("cannot be used ({why})"),
        };
        Some(format!(
            "the poll state {shown} {what}: it is not trusted and is treated as lost, so every customer repo is read again and each head without a fleetform commit status is dispatched"
        ))
    }
}

/// The state file of one manager, sealed when there is a key.
pub struct StateFile {
    path: PathBuf,
    /// The key and associated data it is sealed with; `None`: kept in clear.
    seal: Option<(LessSafeKey, Vec<u8>)>,
}

impl std::fmt::Debug for StateFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateFile")
            .field("path", &self.path)
            .field("sealed", &self.seal.is_some())
            .finish_non_exhaustive()
    }
}

/// Why the state was not written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("the poll state was not written: {0}")]
    Fs(#[from] FsError),
    #[error("the poll state was not sealed: {0}")]
    Seal(#[from] SealError),
    #[error("the poll state was not written: {0} bytes, over the {MAX_BYTES}-byte limit a run reads back")]
    TooLarge(usize),
}

impl StateFile {
    /// The state at `path` of the manager `manager_repo`, sealed with
    /// `FLEETFORM_ARTIFACT_KEY` when it is set. A key shorter than 32
    /// characters is an error (a state meant to be sealed is never kept in
    /// clear).
    pub fn from_env(path: &Path, manager_repo: &str) -> Result<StateFile, SealError> {
        let key = match ArtifactKey::from_env() {
            Ok(key) => Some(key),
            Err(SealError::NoKey) => None,
            Err(e) => return Err(e),
        };
        Ok(StateFile::new(path, manager_repo, key.as_ref()))
    }

    /// The state at `path`, sealed with `key` if given.
    pub fn new(path: &Path, manager_repo: &str, key: Option<&ArtifactKey>) -> StateFile {
        let manager = manager_repo.to_ascii_lowercase();
        let seal = key.map(|k| {
            let key = k.derive(b"fleetform-poll-state-v1", &[manager.as_bytes()]);
            let aad = format!("fleetform-poll-state-v1\n{manager}").into_bytes();
            (key, aad)
        });
        StateFile {
            path: path.to_path_buf(),
            seal,
        }
    }

    pub fn sealed(&self) -> bool {
        self.seal.is_some()
    }

    /// The path as shown in messages.
    pub fn shown(&self) -> String {
        crate::config::display_path(&self.path)
            .display()
            .to_string()
    }

    /// The state kept by the last run, or an empty one and why it was not
    /// trusted.
    pub fn read(&self) -> Result<PollState, Lost> {
        let bytes = match crate::util::fs::read_bounded(&self.path, MAX_BYTES) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Lost::Missing),
            Err(e) => return Err(Lost::Unreadable(e.to_string())),
        };
        let plain = match &self.seal {
            None if bytes.starts_with(MAGIC) => return Err(Lost::NoKey),
            None => bytes,
            Some((key, aad)) => seal::open_bytes(key, MAGIC, aad, &bytes).map_err(|e| match e {
                Unopened::NotSealed => Lost::NotSealed,
                Unopened::Forged => Lost::Forged,
            })?,
        };
        serde_json::from_slice::<PollState>(&plain)
            .map_err(|e| Lost::Unreadable(format!("not a poll state: {e}")))
    }

    /// Writes `state` (sealed when there is a key) atomically, never
    /// through a symlink, creating its folder. When it cannot, the state
    /// from before is removed (as far as it can be), so the next run does
    /// not trust heads this run dispatched as unseen: it checks them
    /// against their commit statuses instead.
    pub fn write(&self, state: &PollState) -> Result<(), StateError> {
        let written = self.write_new(state);
        if written.is_err() {
            let _ = std::fs::remove_file(&self.path);
        }
        written
    }

    fn write_new(&self, state: &PollState) -> Result<(), StateError> {
        let bytes = serde_json::to_vec(state).unwrap_or_default();
        let bytes = match &self.seal {
            Some((key, aad)) => seal::seal_bytes(key, MAGIC, aad, bytes)?,
            None => bytes,
        };
        if bytes.len() as u64 > MAX_BYTES {
            return Err(StateError::TooLarge(bytes.len()));
        }
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| FsError::new("create the folder", dir, e))?;
        }
        Ok(crate::util::fs::write_atomic(&self.path, &bytes)?)
    }
}

#[cfg(test)]
mod tests {
    use super::super::RepoSeen;
    use super::*;

    fn key(s: &str) -> ArtifactKey {
        ArtifactKey::new(format!("{s}-test-key-0123456789abcdefghijklmnop").as_bytes()).unwrap()
    }

    fn state() -> PollState {
        let mut s = PollState {
            version: 1,
            ..PollState::default()
        };
        s.repos.insert(
            4242,
            RepoSeen {
                head_etag: Some("\"etag-of-head\"".into()),
                head: Some("ab".repeat(20)),
                files: [("infra/variables.yml".to_string(), "cd".repeat(20))].into(),
                pulls_etag: Some("\"etag-of-pulls\"".into()),
                pulls: [(7, "ef".repeat(20))].into(),
                pulls_known: true,
            },
        );
        s
    }

    fn contains(hay: &[u8], needle: &str) -> bool {
        hay.windows(needle.len()).any(|w| w == needle.as_bytes())
    }

    #[test]
    fn a_sealed_state_round_trips_and_holds_nothing_in_clear() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/poll-state.json");
        let k = key("k");
        let f = StateFile::new(&path, "Provider/Manager", Some(&k));
        assert_eq!(f.read(), Err(Lost::Missing));
        f.write(&state()).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.starts_with(MAGIC));
        for clear in ["etag-of", "abab", "cdcd", "variables", "4242", "repos"] {
            assert!(!contains(&bytes, clear), "{clear} in clear");
        }
        // The manager repo's spelling does not matter; its name does.
        let again = StateFile::new(&path, "provider/manager", Some(&k));
        assert_eq!(again.read().unwrap(), state());
        let other = StateFile::new(&path, "provider/other", Some(&k));
        assert_eq!(other.read(), Err(Lost::Forged));
        assert_eq!(
            StateFile::new(&path, "provider/manager", Some(&key("x"))).read(),
            Err(Lost::Forged)
        );
        assert_eq!(
            StateFile::new(&path, "provider/manager", None).read(),
            Err(Lost::NoKey)
        );
    }

    #[test]
    fn a_changed_or_clear_state_is_lost_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("poll-state.json");
        let k = key("k");
        let f = StateFile::new(&path, "p/m", Some(&k));
        f.write(&state()).unwrap();
        let good = std::fs::read(&path).unwrap();
        for i in [MAGIC.len() + 3, good.len() / 2, good.len() - 1] {
            let mut flipped = good.clone();
            flipped[i] ^= 1;
            std::fs::write(&path, &flipped).unwrap();
            assert_eq!(f.read(), Err(Lost::Forged), "byte {i}");
        }
        std::fs::write(&path, &good[..good.len() - 1]).unwrap();
        assert_eq!(f.read(), Err(Lost::Forged));
        let clear = serde_json::to_vec(&state()).unwrap();
        std::fs::write(&path, &clear).unwrap();
        assert_eq!(f.read(), Err(Lost::NotSealed));
        let w = Lost::NotSealed.warning("x").unwrap();
        assert!(w.contains("treated as lost"), "{w}");
        assert!(!w.contains(&"k".repeat(32)));
        // Without a key the clear file is read, and written in clear.
        let unsealed = StateFile::new(&path, "p/m", None);
        assert_eq!(unsealed.read().unwrap(), state());
        std::fs::write(&path, "not json").unwrap();
        assert!(matches!(unsealed.read(), Err(Lost::Unreadable(_))));
        assert!(Lost::Missing.warning("x").is_none());
    }

    #[test]
    fn a_symlink_is_lost_and_replaced_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, serde_json::to_vec(&state()).unwrap()).unwrap();
        let path = dir.path().join("poll-state.json");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let f = StateFile::new(&path, "p/m", None);
        assert!(matches!(f.read(), Err(Lost::Unreadable(_))));
        f.write(&PollState::default()).unwrap();
        assert!(std::fs::read_to_string(&target).unwrap().contains("4242"));
        assert!(std::fs::symlink_metadata(&path).unwrap().is_file());
    }
}
