//! The customer repos one fleet job reads or writes (drift's and a
//! repair's files, a rollout's deployments, doctor's reach), each through
//! a client of its own.
//!
//! - With the provider's customer App (README, "The Apps"): per
//!   repository, an installation token for that one repository with the
//!   command's own permissions, minted at the repository's first use,
//!   renewed before it expires, kept for the job. No token of the job
//!   reaches a repository it was not minted for, nor does more there than
//!   the command needs; a customer who has not installed the App fails
//!   alone (GitHub answers the installation's lookup 404).
//! - Without it (the older path): one token for every repository
//!   (`FLEETFORM_TOKEN`), as given.
//!
//! Every client of one [`CustomerRepos`] schedules within one budget
//! ([`GitHub::sharing_budget_of`]): the write log and the deadline a job
//! keeps hold for all of its customers, as they did for one token.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use super::app::{AppKey, Permissions};
use super::client::GitHub;
use super::error::GitHubError;
use super::etags::EtagCache;
use super::renewal::OnCredential;
use super::root::ApiRoot;

/// The customer repos' clients (module docs).
pub struct CustomerRepos {
    /// The one token's client; with the App, a client holding no
    /// credential whose budget every repository's client shares.
    shared: Arc<GitHub>,
    app: Option<AppMint>,
    dress: Dress,
    made: tokio::sync::Mutex<BTreeMap<String, Arc<GitHub>>>,
}

/// What a repository's installation token is minted with.
struct AppMint {
    app: Arc<AppKey>,
    net: crate::net::Settings,
    root: ApiRoot,
    permissions: Permissions,
    dry_run: bool,
    on_credential: OnCredential,
}

/// What every client is given besides its token.
#[derive(Default, Clone)]
struct Dress {
    deadline: Option<SystemTime>,
    write_log: Option<PathBuf>,
    etags: Option<Arc<EtagCache>>,
}

impl Dress {
    fn on(&self, gh: GitHub) -> GitHub {
        let gh = match self.deadline {
            Some(at) => gh.with_deadline(at),
            None => gh,
        };
        let gh = match &self.write_log {
            Some(log) => gh.keep_writes_in(log),
            None => gh,
        };
        match &self.etags {
            Some(cache) => gh.with_etag_cache(cache.clone()),
            None => gh,
        }
    }
}

impl CustomerRepos {
    /// Every repository through `gh` (one token for them all).
    pub fn one_token(gh: GitHub) -> CustomerRepos {
        CustomerRepos {
            shared: Arc::new(gh),
            app: None,
            dress: Dress::default(),
            made: tokio::sync::Mutex::new(BTreeMap::new()),
        }
    }

    /// Each repository through an installation token of `app` for it
    /// alone, with `permissions`. Each JWT and token is handed to
    /// `on_credential` (the output layer masks it) before it is used.
    pub fn app(
        rt: &tokio::runtime::Runtime,
        app: Arc<AppKey>,
        net: &crate::net::Settings,
        root: ApiRoot,
        permissions: Permissions,
        dry_run: bool,
        on_credential: OnCredential,
    ) -> Result<CustomerRepos, GitHubError> {
        let shared = GitHub::with_root(rt, net, root.clone(), None, dry_run)?;
        Ok(CustomerRepos {
            shared: Arc::new(shared),
            app: Some(AppMint {
                app,
                net: net.clone(),
                root,
                permissions,
                dry_run,
                on_credential,
            }),
            dress: Dress::default(),
            made: tokio::sync::Mutex::new(BTreeMap::new()),
        })
    }

    /// Whether each repository gets a token of the customer App.
    pub fn is_app(&self) -> bool {
        self.app.is_some()
    }

    /// No request waits past `at` ([`GitHub::with_deadline`]). Set before
    /// the first request.
    pub fn with_deadline(self, at: SystemTime) -> CustomerRepos {
        self.dressed(|d| d.deadline = Some(at))
    }

    /// The hour's writes kept at `log` ([`GitHub::keep_writes_in`]).
    pub fn keep_writes_in(self, log: &std::path::Path) -> CustomerRepos {
        self.dressed(|d| d.write_log = Some(log.to_path_buf()))
    }

    /// Reads answered from `cache` when unchanged ([`GitHub::with_etag_cache`]).
    pub fn with_etag_cache(self, cache: Arc<EtagCache>) -> CustomerRepos {
        self.dressed(|d| d.etags = Some(cache))
    }

    fn dressed(mut self, change: impl FnOnce(&mut Dress)) -> CustomerRepos {
        change(&mut self.dress);
        // Unshared until the first client is handed out: the settings come
        // before it.
        self.shared = match Arc::try_unwrap(self.shared) {
            Ok(gh) => Arc::new(self.dress.on(gh)),
            Err(shared) => shared,
        };
        self
    }

    /// The client for `repo`: the one token's, or one minted for it now
    /// (then kept for the job).
    pub async fn client(&self, repo: &str) -> Result<Arc<GitHub>, GitHubError> {
        let Some(mint) = &self.app else {
            return Ok(self.shared.clone());
        };
        let key = repo.to_ascii_lowercase();
        let mut made = self.made.lock().await;
        if let Some(gh) = made.get(&key) {
            return Ok(gh.clone());
        }
        let gh = GitHub::installation_client(
            &mint.net,
            mint.root.clone(),
            mint.app.clone(),
            repo,
            mint.permissions,
            mint.dry_run,
            mint.on_credential.clone(),
        )
        .await?;
        let gh = Arc::new(self.dress.on(gh.sharing_budget_of(&self.shared)));
        made.insert(key, gh.clone());
        Ok(gh)
    }

    /// The clients made so far, the shared one first.
    fn all(&self) -> Vec<Arc<GitHub>> {
        let mut out = vec![self.shared.clone()];
        if let Ok(made) = self.made.try_lock() {
            out.extend(made.values().cloned());
        }
        out
    }

    /// Requests sent through every client.
    pub fn request_count(&self) -> usize {
        self.all().iter().map(|gh| gh.request_count()).sum()
    }

    /// Requests answered 304 from the ETag cache, through every client.
    pub fn not_modified_count(&self) -> usize {
        self.all().iter().map(|gh| gh.not_modified_count()).sum()
    }

    /// Requests GitHub answered, through every client.
    pub fn answered_count(&self) -> usize {
        self.all().iter().map(|gh| gh.answered_count()).sum()
    }

    /// The one token's stated expiry ([`GitHub::token_expiration`]); `None`
    /// with the App (installation tokens are renewed).
    pub fn token_expiration(&self) -> Option<String> {
        self.shared.token_expiration()
    }

    /// The times of the hour's writes (the shared budget's).
    pub fn writes_of_the_hour(&self) -> Vec<u64> {
        self.shared.writes_of_the_hour()
    }

    /// Counts an earlier run's writes against the shared budget.
    pub fn count_earlier_writes(&self, times: Vec<u64>) {
        self.shared.count_earlier_writes(times);
    }
}
