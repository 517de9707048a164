//! The dispatch relay (`fleetform relay serve`) and `fleetform poll`:
//! claims, webhooks, replays, rotation, scale, a hostile caller.

pub(crate) mod batch;
pub(crate) mod claims;
pub(crate) mod comments;
pub(crate) mod durable;
pub(crate) mod fleet;
pub(crate) mod hostile;
pub(crate) mod issuer;
pub(crate) mod once;
pub(crate) mod poll_state;
pub(crate) mod products;
pub(crate) mod pushes;
pub(crate) mod redeliver;
pub(crate) mod replays;
pub(crate) mod rotation;
pub(crate) mod scale;
pub(crate) mod serve;
pub(crate) mod sla;
pub(crate) mod webhooks;

/// The relays' clock for what they let expire (claims going stale, kept
/// tokens), driven by a test: [`fleetform::relay::clock`]'s file, which
/// every relay started with [`TestClock::env`] reads.
pub struct TestClock {
    _dir: tempfile::TempDir,
    path: String,
    ahead: std::cell::Cell<u64>,
}

impl TestClock {
    pub fn new() -> TestClock {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clock");
        std::fs::write(&path, "0").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        TestClock {
            path: path.display().to_string(),
            _dir: dir,
            ahead: std::cell::Cell::new(0),
        }
    }

    /// The variable that gives a relay this clock.
    pub fn env(&self) -> (&'static str, &str) {
        (fleetform::relay::clock::CLOCK_FILE_ENV, &self.path)
    }

    /// Moves the relays' time on by `secs` seconds.
    pub fn forward(&self, secs: u64) {
        self.ahead.set(self.ahead.get() + secs);
        std::fs::write(&self.path, self.ahead.get().to_string()).unwrap();
    }
}
