//! The Apps' installation tokens, within the Apps' own budgets.
//!
//! A token is minted in two requests made with the App's JWT: the
//! installation's lookup (`GET /repos/{owner}/{repo}/installation`, 1
//! point) and the token's `POST /app/installations/{id}/access_tokens` (5
//! points). GitHub counts both against the App, 900 points a minute for
//! REST, so both are booked in the App's ledger before they are sent
//! ([`Ledger::reserve_points`]); a request that does not fit answers the
//! caller 503 with the wait as `Retry-After` instead of meeting GitHub's
//! limit.
//!
//! - Tokens are kept for [`TOKEN_TTL`] (of their hour), per App, repository and
//!   permission set.
//! - Installation ids are kept per App and repository id (a renamed repo
//!   keeps its installation), so a warm relay never looks one up twice; a
//!   kept id GitHub no longer knows (the App was installed again) is
//!   forgotten and looked up once more.
//! - One mint per token at a time: callers wanting the same token while it
//!   is being minted wait for it (a cold burst of one customer's events
//!   mints one token, not one per caller).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::github::{
    now_ms, ApiRoot, AppKey, AppRole, GitHub, GitHubError, Ledger, Limits, Permissions, Slot,
};

use super::Answer;

/// Installation tokens last an hour; they are used for at most this long.
pub const TOKEN_TTL: Duration = Duration::from_secs(50 * 60);
/// The points of the installation's lookup (a GET) and of the token's POST.
pub const LOOKUP_POINTS: u64 = 1;
pub const MINT_POINTS: u64 = 5;
/// Tokens kept before expired ones are swept out.
const KEPT: usize = 10_000;

/// Which repository a token is for: its name (what the token is scoped
/// to) and, when known, GitHub's id of it (what installations are kept
/// by).
#[derive(Debug, Clone, Copy)]
pub struct Repo<'a> {
    pub name: &'a str,
    pub id: Option<u64>,
}

/// The Apps' tokens (module docs).
pub struct Tokens {
    api_root: ApiRoot,
    /// The proxies and roots the clients connect with.
    net: crate::net::Settings,
    /// How long a request may wait on GitHub's limits.
    patience: Duration,
    ttl: Duration,
    limits: Limits,
    kept: tokio::sync::Mutex<HashMap<String, (Arc<GitHub>, Instant)>>,
    installations: Mutex<HashMap<String, u64>>,
    /// Each App's ledger: its tokens' points and its redelivery sweeps'
    /// requests, one budget as GitHub counts them ([`Tokens::app_ledger`]).
    ledgers: Mutex<HashMap<String, Arc<Mutex<Ledger>>>>,
    minting: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Tokens {
    pub fn new(api_root: ApiRoot, net: crate::net::Settings, patience: Duration) -> Tokens {
        Tokens {
            api_root,
            net,
            patience,
            ttl: TOKEN_TTL,
            limits: Limits::from_env().unwrap_or_default(),
            kept: tokio::sync::Mutex::new(HashMap::new()),
            installations: Mutex::new(HashMap::new()),
            ledgers: Mutex::new(HashMap::new()),
            minting: Mutex::new(HashMap::new()),
        }
    }

    /// A client holding a token of `app` (`role`) for `repo` only, with
    /// `access`: kept, or minted now (one mint per token at a time).
    pub async fn client(
        &self,
        (role, app): (AppRole, &AppKey),
        repo: Repo<'_>,
        access: Permissions,
    ) -> Result<Arc<GitHub>, Answer> {
        let key = token_key(role, repo.name, access);
        if let Some(gh) = self.kept(&key).await {
            return Ok(gh);
        }
        let gate = self.gate(&key);
        let _minting = gate.lock().await;
        // Minted by the caller that held the gate before.
        if let Some(gh) = self.kept(&key).await {
            return Ok(gh);
        }
        let made = self.make(&key, (role, app), repo, access).await;
        // Kept before the gate goes: a caller after it finds the token.
        self.minting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key);
        made
    }

    /// Mints the token `key` ([`token_key`]) and keeps its client.
    async fn make(
        &self,
        key: &str,
        (role, app): (AppRole, &AppKey),
        repo: Repo<'_>,
        access: Permissions,
    ) -> Result<Arc<GitHub>, Answer> {
        let token = self.mint((role, app), repo, access).await?;
        // Its requests never keep a caller waiting on GitHub's limits
        // longer than the patience: a longer wait is answered 503 with the
        // wait (a queued dispatch is put back and held, `queue`).
        let gh = Arc::new(
            GitHub::in_runtime(&self.net, self.api_root.clone(), Some(&token), false)
                .map_err(|e| Answer::github(&e))?
                .with_max_wait(self.patience),
        );
        let mut kept = self.kept.lock().await;
        if kept.len() > KEPT {
            kept.retain(|_, (_, at)| super::clock::elapsed(*at) < self.ttl);
        }
        kept.insert(key.to_string(), (gh.clone(), super::clock::now()));
        Ok(gh)
    }

    async fn kept(&self, key: &str) -> Option<Arc<GitHub>> {
        let kept = self.kept.lock().await;
        kept.get(key)
            .filter(|(_, at)| super::clock::elapsed(*at) < self.ttl)
            .map(|(gh, _)| gh.clone())
    }

    /// The lock of the mint of the token `key`.
    fn gate(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut minting = self.minting.lock().unwrap_or_else(|p| p.into_inner());
        minting.entry(key.to_string()).or_default().clone()
    }

    /// The installation's id (kept or looked up) and a token of it; a kept
    /// id GitHub no longer knows is looked up once more.
    async fn mint(
        &self,
        (role, app): (AppRole, &AppKey),
        repo: Repo<'_>,
        access: Permissions,
    ) -> Result<crate::github::Token, Answer> {
        let jwt_client = self.jwt_client(app)?;
        let install_key = match repo.id {
            Some(id) => format!("{role:?}\nid:{id}"),
            None => format!("{role:?}\nname:{}", repo.name.to_ascii_lowercase()),
        };
        let not_installed = |e: GitHubError| match e.status() {
            Some(404) => Answer::refuse(
                403,
                "not_installed",
                format!(
                    "the provider's {} is not installed on {}",
                    role.label(),
                    repo.name
                ),
            ),
            _ => Answer::github(&e),
        };
        let kept = self.installation(&install_key);
        let id = match kept {
            Some(id) => {
                self.pace(role, MINT_POINTS)?;
                id
            }
            None => {
                self.look_up(role, &jwt_client, repo.name, &install_key)
                    .await?
            }
        };
        match jwt_client
            .installation_access_token(id, repo.name, access)
            .await
        {
            Err(e) if kept.is_some() && e.status() == Some(404) => {
                self.forget_installation(&install_key);
                let id = self
                    .look_up(role, &jwt_client, repo.name, &install_key)
                    .await?;
                jwt_client
                    .installation_access_token(id, repo.name, access)
                    .await
                    .map_err(not_installed)
            }
            other => other.map_err(not_installed),
        }
    }

    /// A client holding the App's JWT (made now: a JWT lasts minutes), its
    /// waits on GitHub's limits bounded as every relay request's.
    fn jwt_client(&self, app: &AppKey) -> Result<GitHub, Answer> {
        let jwt = app
            .jwt(crate::util::now_unix())
            .map_err(|e| Answer::github(&e))?;
        Ok(
            GitHub::in_runtime(&self.net, self.api_root.clone(), Some(&jwt), false)
                .map_err(|e| Answer::github(&e))?
                .with_max_wait(self.patience),
        )
    }

    /// Looks the App's installation on `repo` up and keeps its id; the
    /// lookup's points and the token's that follows are booked together,
    /// so no lookup is sent for a token that would not fit the minute.
    async fn look_up(
        &self,
        role: AppRole,
        jwt_client: &GitHub,
        repo: &str,
        install_key: &str,
    ) -> Result<u64, Answer> {
        self.pace(role, LOOKUP_POINTS + MINT_POINTS)?;
        let id = jwt_client
            .installation_id(repo)
            .await
            .map_err(|e| match e.status() {
                Some(404) => Answer::refuse(
                    403,
                    "not_installed",
                    format!("the provider's {} is not installed on {repo}", role.label()),
                ),
                _ => Answer::github(&e),
            })?;
        let mut installations = self.installations.lock().unwrap_or_else(|p| p.into_inner());
        if installations.len() > 100 * KEPT {
            installations.clear();
        }
        installations.insert(install_key.to_string(), id);
        Ok(id)
    }

    fn installation(&self, install_key: &str) -> Option<u64> {
        let installations = self.installations.lock().unwrap_or_else(|p| p.into_inner());
        installations.get(install_key).copied()
    }

    fn forget_installation(&self, install_key: &str) {
        let mut installations = self.installations.lock().unwrap_or_else(|p| p.into_inner());
        installations.remove(install_key);
    }

    /// The App's ledger, shared by its tokens' mints and every other
    /// client of the App's JWT that books in it (the redelivery sweeps).
    pub fn app_ledger(&self, role: AppRole) -> Arc<Mutex<Ledger>> {
        let mut ledgers = self.ledgers.lock().unwrap_or_else(|p| p.into_inner());
        ledgers
            .entry(format!("{role:?}"))
            .or_insert_with(|| Arc::new(Mutex::new(Ledger::new(self.limits))))
            .clone()
    }

    /// Books `points` of the App's minute (GitHub counts its JWT requests
    /// per App), or answers 503 with the wait.
    fn pace(&self, role: AppRole, points: u64) -> Result<(), Answer> {
        let ledger = self.app_ledger(role);
        let mut ledger = ledger.lock().unwrap_or_else(|p| p.into_inner());
        match ledger.reserve_points(points, now_ms()) {
            Slot::Go => Ok(()),
            Slot::Wait { ms, what } => Err(Answer::busy(
                503,
                "github_limit",
                format!(
                    "the {}'s requests for installation tokens are at GitHub's {what} for now; try again",
                    role.label()
                ),
                ms.div_ceil(1000).max(1),
            )),
        }
    }
}

/// What a kept token is kept under: the App, the repository and the exact
/// set of permissions it was minted with (each name with its access, in
/// one order whatever order they were asked in), so a token is reused
/// only for the very permissions it holds.
fn token_key(role: AppRole, repo: &str, access: Permissions) -> String {
    let set: std::collections::BTreeSet<String> =
        access.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let set: Vec<String> = set.into_iter().collect();
    format!("{role:?}\n{}\n{}", repo.to_ascii_lowercase(), set.join(","))
}

#[cfg(test)]
mod key_tests {
    use super::*;

    #[test]
    fn a_token_is_kept_under_its_exact_permission_set() {
        let key = |access| token_key(AppRole::Customer, "Acme/Infra", access);
        let read: Permissions = &[("contents", "read"), ("pull_requests", "read")];
        // As many permissions, another set: another token.
        assert_ne!(
            key(read),
            key(&[("contents", "read"), ("statuses", "read")])
        );
        assert_ne!(
            key(read),
            key(&[("contents", "write"), ("pull_requests", "read")])
        );
        // The same set in another order, or named twice: the same token.
        assert_eq!(
            key(read),
            key(&[("pull_requests", "read"), ("contents", "read")])
        );
        assert_eq!(
            key(read),
            key(&[
                ("contents", "read"),
                ("pull_requests", "read"),
                ("contents", "read")
            ])
        );
        assert_ne!(key(read), token_key(AppRole::Manager, "acme/infra", read));
        assert_ne!(key(read), token_key(AppRole::Customer, "acme/other", read));
    }

    /// An App's minute of points is one budget: what another client of the
    /// App's JWT booked in its ledger (the redelivery sweeps) leaves that
    /// much less for its token mints; the other App's is its own.
    #[test]
    fn an_apps_mints_and_sweeps_share_one_minute_of_points() {
        let root = crate::github::ApiRoot::parse("https://api.github.com").unwrap();
        let net = crate::net::Settings::from_lookup(|_| None);
        let tokens = Tokens::new(root, net, Duration::from_secs(5));
        let shared = tokens.app_ledger(AppRole::Customer);
        assert!(Arc::ptr_eq(&shared, &tokens.app_ledger(AppRole::Customer)));
        let points = tokens.limits.points_per_minute;
        // A sweep's requests: all but 5 of the minute's points.
        {
            let mut l = shared.lock().unwrap();
            assert!(matches!(l.reserve_points(points - 5, now_ms()), Slot::Go));
        }
        let refused = tokens.pace(AppRole::Customer, LOOKUP_POINTS + MINT_POINTS);
        assert_eq!(refused.unwrap_err().status, 503);
        assert!(tokens.pace(AppRole::Customer, MINT_POINTS).is_ok());
        assert!(tokens
            .pace(AppRole::Manager, LOOKUP_POINTS + MINT_POINTS)
            .is_ok());
    }
}
