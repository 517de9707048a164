//! An installation token renewed before it expires. GitHub's installation
//! tokens expire an hour after they are minted ("Generating an
//! installation access token for a GitHub App": `expires_at`), and a job
//! may outlast one: a dispatched apply mints its token when it starts and
//! writes the commit status, the deployment's status and the comment when
//! `terraform apply` is done, which may be more than an hour later.
//!
//! A client made for an installation (`app`'s
//! [`super::GitHub::installation_client`]) holds a [`Renewal`]: before each
//! request it checks the time, and once the token is within
//! [`MARGIN_SECS`] of its expiry (or a quarter of its life, for a shorter
//! one) it mints a new one the same way (a new JWT, the same installation,
//! repository and permissions) and every request after carries it.
//! Requests that come while a token is minted wait for it: one token per
//! renewal, whatever the concurrency.
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
    /// When the current token is renewed (Unix seconds).
    due: tokio::sync::Mutex<u64>,
    /// The clock (Unix seconds); a test's own in unit tests.
    now: fn() -> u64,
}

impl std::fmt::Debug for Renewal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Renewal(..)")
    }
}

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
            due: tokio::sync::Mutex::new(due_at(minted_at, first.expires_at)),
            now,
        }
    }

    /// A new token when the current one is due for renewal, else `None`.
    /// Requests that ask while one is minted wait for it, then find it
    /// fresh.
    pub async fn fresh(&self) -> Result<Option<Token>, GitHubError> {
        let mut due = self.due.lock().await;
        let minted_at = (self.now)();
        if minted_at < *due {
            return Ok(None);
        }
        let minted = (self.mint)().await?;
        (self.on_credential)(&minted.token);
        *due = due_at(minted_at, minted.expires_at);
        Ok(Some(minted.token))
    }
}

/// When a token minted at `minted_at` that expires at `expires_at` is
/// renewed: [`MARGIN_SECS`] before it expires, or with a quarter of its
/// life left when that is shorter (a token GitHub made to last minutes).
pub fn due_at(minted_at: u64, expires_at: Option<u64>) -> u64 {
    let expires_at = expires_at.unwrap_or(minted_at + DOCUMENTED_LIFE_SECS);
    let life = expires_at.saturating_sub(minted_at);
    expires_at.saturating_sub(MARGIN_SECS.min(life / 4))
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
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    static CLOCK: AtomicU64 = AtomicU64::new(0);
    fn clock() -> u64 {
        CLOCK.load(Ordering::SeqCst)
    }

    #[test]
    fn an_hour_token_is_renewed_five_minutes_before_a_short_one_at_three_quarters() {
        assert_eq!(due_at(1_000, Some(4_600)), 4_300);
        assert_eq!(due_at(1_000, None), 4_300);
        assert_eq!(due_at(1_000, Some(1_008)), 1_006);
        // Already expired by the runner's clock: due at once.
        assert_eq!(due_at(1_000, Some(900)), 900);
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

    /// No mint while the token is fresh, one when it is due however many
    /// requests ask at once, and the new token goes to the output layer
    /// before it is used.
    #[test]
    fn a_token_is_minted_again_once_when_due_and_handed_to_the_mask() {
        static MINTS: AtomicUsize = AtomicUsize::new(0);
        let masked = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let seen = masked.clone();
        let mint: Mint = Arc::new(|| {
            Box::pin(async {
                let n = MINTS.fetch_add(1, Ordering::SeqCst) + 1;
                tokio::task::yield_now().await;
                Ok(Minted {
                    token: Token::new(format!("ghs_{n}")).unwrap(),
                    expires_at: Some(clock() + 3600),
                })
            })
        });
        let on: OnCredential = Arc::new(move |t: &Token| {
            seen.lock().unwrap().push(t.expose().to_string());
        });
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        CLOCK.store(10_000, Ordering::SeqCst);
        let first = Minted {
            token: Token::new("ghs_1".into()).unwrap(),
            expires_at: Some(10_000 + 3600),
        };
        MINTS.store(1, Ordering::SeqCst);
        let renewal = Renewal::with_clock(&first, 10_000, mint, on, clock);
        CLOCK.store(10_000 + 3600 - 301, Ordering::SeqCst);
        assert!(rt.block_on(renewal.fresh()).unwrap().is_none());
        CLOCK.store(10_000 + 3600 - 300, Ordering::SeqCst);
        let renewal = Arc::new(renewal);
        let asked: Vec<Option<String>> = rt.block_on(async {
            let tasks: Vec<_> = (0..4)
                .map(|_| {
                    let r = renewal.clone();
                    tokio::spawn(async move { r.fresh().await.unwrap() })
                })
                .collect();
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await.unwrap().map(|t| t.expose().to_string()));
            }
            out
        });
        assert_eq!(MINTS.load(Ordering::SeqCst), 2, "{asked:?}");
        assert_eq!(asked.iter().flatten().collect::<Vec<_>>(), ["ghs_2"]);
        assert_eq!(*masked.lock().unwrap(), ["ghs_2"]);
    }
}
