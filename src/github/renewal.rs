//! An installation token renewed before it expires. GitHub's installation
//! tokens expire an hour after they are minted ("Generating an
//! installation access token for a GitHub App": `expires_at`), and a job
//! may outlast one: a dispatched apply mints its token when it starts and
//! writes the commit status, the deployment's status and the comment when
//! `terraform apply` is done, which may be more than an hour later.
//!
//! A client made for an installation (`app`'s
//! [`super::GitHub::installation_client`]) holds a [`Renewal`]: before each
//! request it checks the time, and once the token is within its margin of
//! the expiry it mints a new one the same way (a new JWT, the same
//! installation, repository and permissions) and every request after
//! carries it. The margin is [`MARGIN_SECS`], or longer when one request
//! of the client may take longer (its attempts and waits: the token a
//! request starts with is the one its retries send), at most half the
//! token's life (a token made to last minutes). The token's life is
//! measured from its mint by the runner's clock, at most GitHub's hour,
//! so a runner whose clock is off from GitHub's still renews in time.
//! Requests that come while a token is minted wait for it: one token per
//! renewal, whatever the concurrency. A mint that fails while the current
//! token still works fails no request; it is tried again half a minute
//! later.
//!
//! This is octocrab's installation authentication's renewal (it mints
//! again when the cached token is about to expire), for tokens octocrab's
//! cannot ask for: restricted to one repository and the command's
//! permissions (see `transport`).
//!
//! Imports `error` only (and `util`'s clock).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::error::{GitHubError, Token};

/// How long before its expiry a token is renewed: longer than any one
/// request may take with its retries, and than the clock skew between the
/// runner and GitHub one would expect.
pub const MARGIN_SECS: u64 = 300;

/// How long GitHub documents an installation token to last, for an answer
/// without a readable `expires_at`.
pub const DOCUMENTED_LIFE_SECS: u64 = 3600;

/// A new token and its expiry (Unix seconds), as GitHub answered it.
pub struct Minted {
    pub token: Token,
    pub expires_at: Option<u64>,
}

type MintFuture = Pin<Box<dyn Future<Output = Result<Minted, GitHubError>> + Send>>;

/// Mints a new token (the App's JWT, then the installation's token).
pub type Mint = Arc<dyn Fn() -> MintFuture + Send + Sync>;

/// Called with every credential made (each JWT, each token), before it is
/// used: the output layer masks it.
pub type OnCredential = Arc<dyn Fn(&Token) + Send + Sync>;

/// The renewal of one client's installation token.
pub struct Renewal {
    mint: Mint,
    on_credential: OnCredential,
    /// The current token's mint and expiry; its schedule is derived from
    /// them with the margin at each check.
    current: tokio::sync::Mutex<Current>,
    /// How long before the expiry a token is renewed at least: more than
    /// one request of the client may take with its retries and waits (a
    /// token checked before a request's first attempt is the one its
    /// retries send).
    margin: u64,
    /// The clock (Unix seconds); a test's own in unit tests.
    now: fn() -> u64,
}

/// When the current token is renewed and when it expires (Unix seconds,
/// the runner's clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub due: u64,
    pub expires: u64,
}

/// The current token: when it was minted (the runner's clock), when
/// GitHub says it expires, and, after a failed renewal, when to try again.
#[derive(Debug, Clone, Copy)]
struct Current {
    minted_at: u64,
    expires_at: Option<u64>,
    retry_at: Option<u64>,
}

impl Current {
    fn schedule(&self, margin: u64) -> Schedule {
        let s = schedule(self.minted_at, self.expires_at, margin);
        Schedule {
            due: self.retry_at.unwrap_or(s.due),
            ..s
        }
    }
}

impl std::fmt::Debug for Renewal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Renewal(..)")
    }
}

/// How long a failed renewal waits before the next try while the current
/// token still works.
const RETRY_SECS: u64 = 30;

impl Renewal {
    /// The renewal of `first` (minted at `minted_at`, by the runner's
    /// clock) and of every token after it, each minted with `mint`.
    pub fn after(first: &Minted, minted_at: u64, mint: Mint, on_credential: OnCredential) -> Self {
        Renewal::with_clock(first, minted_at, mint, on_credential, crate::util::now_unix)
    }

    fn with_clock(
        first: &Minted,
        minted_at: u64,
        mint: Mint,
        on_credential: OnCredential,
        now: fn() -> u64,
    ) -> Self {
        Renewal {
            mint,
            on_credential,
            current: tokio::sync::Mutex::new(Current {
                minted_at,
                expires_at: first.expires_at,
                retry_at: None,
            }),
            margin: MARGIN_SECS,
            now,
        }
    }

    /// Renews at least `secs` before the expiry (never less than
    /// [`MARGIN_SECS`]): the longest one request of the client may take.
    pub fn with_margin(mut self, secs: u64) -> Self {
        self.margin = secs.max(MARGIN_SECS);
        self
    }

    /// When the current token is due and expires.
    #[cfg(test)]
    async fn schedule(&self) -> Schedule {
        self.current.lock().await.schedule(self.margin)
    }

    /// Mints a new token when the current one is due and hands it to
    /// `install` (which makes it the client's) before anyone else may
    /// send a request: requests that ask meanwhile wait, then find it
    /// fresh. A mint that fails while the current token still works is
    /// logged and tried again after [`RETRY_SECS`]; once the token has
    /// expired, the failure is the request's.
    pub async fn renew_if_due(
        &self,
        install: impl FnOnce(&Token) -> Result<(), GitHubError>,
    ) -> Result<(), GitHubError> {
        let mut current = self.current.lock().await;
        let now = (self.now)();
        let schedule = current.schedule(self.margin);
        if now < schedule.due {
            return Ok(());
        }
        match (self.mint)().await {
            Ok(minted) => {
                (self.on_credential)(&minted.token);
                install(&minted.token)?;
                *current = Current {
                    minted_at: now,
                    expires_at: minted.expires_at,
                    retry_at: None,
                };
                Ok(())
            }
            Err(e) if now + RETRY_SECS < schedule.expires => {
                tracing::warn!(
                    "renewing the installation token failed ({e}); the current one lasts another {} s",
                    schedule.expires - now
                );
                current.retry_at = Some(now + RETRY_SECS);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

/// The schedule of a token minted at `minted_at` (the runner's clock)
/// that GitHub says expires at `expires_at` (GitHub's clock). Its life is
/// what the two say, at most GitHub's documented hour: a runner whose
/// clock is behind GitHub's would otherwise see a longer life and renew
/// after the expiry. It is renewed `margin` before it expires, or halfway
/// through its life when that is sooner (a token made to last minutes); a
/// token whose life the clocks make nothing is renewed after
/// a minute, not at every request.
pub fn schedule(minted_at: u64, expires_at: Option<u64>, margin: u64) -> Schedule {
    let life = expires_at
        .map_or(DOCUMENTED_LIFE_SECS, |e| e.saturating_sub(minted_at))
        .min(DOCUMENTED_LIFE_SECS);
    if life == 0 {
        return Schedule {
            due: minted_at + 60,
            expires: minted_at,
        };
    }
    Schedule {
        due: minted_at + life - margin.min(life / 2),
        expires: minted_at + life,
    }
}

/// `expires_at` as GitHub writes it (RFC 3339, `2026-11-25T19:00:00Z`), in
/// Unix seconds; `None` when it is missing or unreadable.
pub fn expiry(expires_at: Option<&str>) -> Option<u64> {
    let t: jiff::Timestamp = expires_at?.trim().parse().ok()?;
    u64::try_from(t.as_second()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
    use std::sync::Mutex;

    #[test]
    fn an_hour_token_is_renewed_before_its_margin_a_short_one_halfway() {
        let at = |due, expires| Schedule { due, expires };
        assert_eq!(schedule(1_000, Some(4_600), 300), at(4_300, 4_600));
        assert_eq!(schedule(1_000, None, 300), at(4_300, 4_600));
        assert_eq!(schedule(1_000, Some(1_008), 300), at(1_004, 1_008));
        // A client whose one request may take 20 minutes renews earlier.
        assert_eq!(schedule(1_000, Some(4_600), 1_200), at(3_400, 4_600));
        // The runner's clock 10 minutes behind GitHub's: the token still
        // lasts an hour from its mint, not 70 minutes.
        assert_eq!(schedule(1_000, Some(5_200), 300), at(4_300, 4_600));
        // Already expired by the runner's clock: renewed after a minute,
        // not at every request.
        assert_eq!(schedule(1_000, Some(900), 300), at(1_060, 1_000));
    }

    #[test]
    fn github_expiry_times_are_read_and_bad_ones_are_none() {
        assert_eq!(expiry(Some("2026-11-25T19:00:00Z")), Some(1_795_633_200));
        assert_eq!(
            expiry(Some("2026-11-25T20:00:00+01:00")),
            Some(1_795_633_200)
        );
        assert_eq!(expiry(Some("tomorrow")), None);
        assert_eq!(expiry(None), None);
    }

    struct Harness {
        rt: tokio::runtime::Runtime,
        renewal: Arc<Renewal>,
        mints: Arc<AtomicUsize>,
        masked: Arc<Mutex<Vec<String>>>,
        installed: Arc<Mutex<Vec<String>>>,
    }

    /// A renewal of `ghs_1` (an hour, minted at `start` by `clock`) whose
    /// mints count up, or fail while `failing` is set.
    fn harness(clock: fn() -> u64, start: u64, failing: &'static AtomicBool) -> Harness {
        let mints = Arc::new(AtomicUsize::new(1));
        let masked = Arc::new(Mutex::new(Vec::<String>::new()));
        let n = mints.clone();
        let mint: Mint = Arc::new(move || {
            let n = n.clone();
            Box::pin(async move {
                tokio::task::yield_now().await;
                if failing.load(Ordering::SeqCst) {
                    return Err(GitHubError::Setup("GitHub is down".into()));
                }
                let k = n.fetch_add(1, Ordering::SeqCst) + 1;
                Ok(Minted {
                    token: Token::new(format!("ghs_{k}")).unwrap(),
                    expires_at: Some(clock() + 3600),
                })
            })
        });
        let seen = masked.clone();
        let on: OnCredential = Arc::new(move |t: &Token| {
            seen.lock().unwrap().push(t.expose().to_string());
        });
        let first = Minted {
            token: Token::new("ghs_1".into()).unwrap(),
            expires_at: Some(start + 3600),
        };
        Harness {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            renewal: Arc::new(Renewal::with_clock(&first, start, mint, on, clock)),
            mints,
            masked,
            installed: Arc::default(),
        }
    }

    impl Harness {
        /// `n` requests at once; what each installed.
        fn requests(&self, n: usize) -> Vec<Result<(), String>> {
            self.rt.block_on(async {
                let tasks: Vec<_> = (0..n)
                    .map(|_| {
                        let r = self.renewal.clone();
                        let installed = self.installed.clone();
                        tokio::spawn(async move {
                            r.renew_if_due(|t| {
                                installed.lock().unwrap().push(t.expose().to_string());
                                Ok(())
                            })
                            .await
                            .map_err(|e| e.to_string())
                        })
                    })
                    .collect();
                let mut out = Vec::new();
                for t in tasks {
                    out.push(t.await.unwrap());
                }
                out
            })
        }
    }

    /// No mint while the token is fresh, one when it is due however many
    /// requests ask at once, and the new token is masked and installed
    /// before any of them goes on.
    #[test]
    fn a_token_is_minted_again_once_when_due_masked_and_installed() {
        static CLOCK: AtomicU64 = AtomicU64::new(10_000);
        static FAILING: AtomicBool = AtomicBool::new(false);
        let h = harness(|| CLOCK.load(Ordering::SeqCst), 10_000, &FAILING);
        CLOCK.store(10_000 + 3600 - 301, Ordering::SeqCst);
        assert!(h.requests(1).iter().all(Result::is_ok));
        assert_eq!(h.mints.load(Ordering::SeqCst), 1);
        CLOCK.store(10_000 + 3600 - 300, Ordering::SeqCst);
        assert!(h.requests(4).iter().all(Result::is_ok));
        assert_eq!(h.mints.load(Ordering::SeqCst), 2);
        assert_eq!(*h.installed.lock().unwrap(), ["ghs_2"]);
        assert_eq!(*h.masked.lock().unwrap(), ["ghs_2"]);
    }

    /// A mint that fails while the token still works fails no request: it
    /// is tried again 30 s later; once the token has expired, the failure
    /// is the request's.
    #[test]
    fn a_failed_renewal_keeps_the_working_token_until_it_expires() {
        static CLOCK: AtomicU64 = AtomicU64::new(20_000);
        static FAILING: AtomicBool = AtomicBool::new(true);
        let h = harness(|| CLOCK.load(Ordering::SeqCst), 20_000, &FAILING);
        CLOCK.store(20_000 + 3600 - 300, Ordering::SeqCst);
        assert!(h.requests(1).iter().all(Result::is_ok));
        let after = h.rt.block_on(h.renewal.schedule());
        assert_eq!(after.due, 20_000 + 3600 - 300 + RETRY_SECS);
        CLOCK.store(20_000 + 3600 - 20, Ordering::SeqCst);
        let failed = h.requests(1);
        assert!(
            failed[0]
                .as_ref()
                .is_err_and(|e| e.contains("GitHub is down")),
            "{failed:?}"
        );
        FAILING.store(false, Ordering::SeqCst);
        assert!(h.requests(1).iter().all(Result::is_ok));
        assert_eq!(*h.installed.lock().unwrap(), ["ghs_2"]);
    }

    /// The client's margin counts for the first token too: one whose
    /// requests may take 20 minutes renews it 20 minutes before it expires.
    #[test]
    fn the_first_token_is_renewed_with_the_clients_margin() {
        static CLOCK: AtomicU64 = AtomicU64::new(30_000);
        let first = Minted {
            token: Token::new("ghs_1".into()).unwrap(),
            expires_at: Some(30_000 + 3600),
        };
        let mint: Mint = Arc::new(|| {
            Box::pin(async {
                Ok(Minted {
                    token: Token::new("ghs_2".into()).unwrap(),
                    expires_at: Some(CLOCK.load(Ordering::SeqCst) + 3600),
                })
            })
        });
        let renewal = Renewal::with_clock(&first, 30_000, mint, Arc::new(|_: &Token| {}), || {
            CLOCK.load(Ordering::SeqCst)
        })
        .with_margin(1_200);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(renewal.schedule()).due, 30_000 + 3600 - 1_200);
        CLOCK.store(30_000 + 3600 - 1_200, Ordering::SeqCst);
        let mut installed = Vec::new();
        rt.block_on(renewal.renew_if_due(|t| {
            installed.push(t.expose().to_string());
            Ok(())
        }))
        .unwrap();
        assert_eq!(installed, ["ghs_2"]);
    }
}
