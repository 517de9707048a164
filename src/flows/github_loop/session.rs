//! What the dispatched jobs start from: the run, its checked event, the
//! tokens and GitHub clients. Nothing here sends a request.

use crate::ci::RunContext;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::github::{
    ApiRoot, AppKey, AppRole, CustomerRepos, GitHub, GitHubError, OnCredential, Permissions, Token,
};

use super::event::{read_event, Dispatched};

pub(crate) fn gh_err(e: GitHubError) -> Error {
    e.into()
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    crate::github::runtime().map_err(gh_err)
}

/// What each dispatched command may do on the customer's repo, asked of
/// a GitHub App's installation token (a PAT has what it was given).
pub(crate) mod access {
    use super::Permissions;
    /// Read `infra/`, write the commit status and the PR comment.
    pub const PLAN: Permissions = &[
        ("contents", "read"),
        ("statuses", "write"),
        ("pull_requests", "write"),
    ];
    /// The plan's, plus the deployment on the customer's repo.
    pub const APPLY: Permissions = &[
        ("contents", "read"),
        ("statuses", "write"),
        ("pull_requests", "write"),
        ("deployments", "write"),
    ];
    /// A fleet job's reads of the customer's files on its default branch
    /// (drift, a repair's plans, doctor's reach).
    pub const FILES: Permissions = &[("contents", "read")];
    /// A rollout's GitHub deployments (and the ones it owes).
    pub const DEPLOYMENTS: Permissions = &[("deployments", "write")];
    /// A commit status only (authorise of a push, conclude).
    pub const STATUS: Permissions = &[("statuses", "write")];
    /// Authorise of a pull request's dispatch: the commit status, and the
    /// pull request read (its head must still be the dispatched branch:
    /// `GET /repos/{owner}/{repo}/pulls/{pull_number}` needs Pull requests:
    /// read, and GitHub answers 403 without it).
    pub const AUTHORISE_PULL: Permissions = &[("statuses", "write"), ("pull_requests", "read")];
    /// Authorise of a push the relay dispatched: the commit status, and
    /// the commit read for the pull request it merged (`GET
    /// /repos/{owner}/{repo}/commits/{ref}` needs Contents: read; the
    /// repository itself, Metadata: read, every token has).
    pub const AUTHORISE_RELAYED_PUSH: Permissions = &[("contents", "read"), ("statuses", "write")];

    /// What authorising `payload` reads and writes, for `authorise` and
    /// for `conclude`, which authorises the dispatch again: a comment
    /// command's comment is read, answered and reacted to (the plan's
    /// permissions); a pull request's head is read; a push needs the
    /// commit status only, and one the relay sent its commit read
    /// (`relayed_push`).
    pub fn authorise(payload: &crate::dispatch::Payload) -> Permissions {
        match (&payload.comment, payload.pr) {
            (Some(_), _) => PLAN,
            (None, Some(_)) => AUTHORISE_PULL,
            // Only the relay's dispatches carry a repository id.
            (None, None) if payload.repo_id.is_some() => AUTHORISE_RELAYED_PUSH,
            (None, None) => STATUS,
        }
    }

    /// [`AUTHORISE_PULL`] and the customer's `infra/products.yml` read
    /// (`GET /repos/{owner}/{repo}/contents/{path}` needs Contents: read).
    pub const CONCLUDE_PRODUCTS_PULL: Permissions = &[
        ("contents", "read"),
        ("statuses", "write"),
        ("pull_requests", "read"),
    ];
    /// [`STATUS`] and the customer's `infra/products.yml` read.
    pub const CONCLUDE_PRODUCTS_PUSH: Permissions = &[("contents", "read"), ("statuses", "write")];

    /// What `conclude` reads and writes: authorising `payload` again and,
    /// with `products:`, the customer's products file at the dispatched
    /// sha (each enabled product × environment has its own status).
    pub fn conclude(payload: &crate::dispatch::Payload, products: bool) -> Permissions {
        if !products {
            return authorise(payload);
        }
        match (&payload.comment, payload.pr) {
            (Some(_), _) => PLAN,
            (None, Some(_)) => CONCLUDE_PRODUCTS_PULL,
            (None, None) => CONCLUDE_PRODUCTS_PUSH,
        }
    }
}

/// A client for `repo`: with the provider's customer App
/// (`FLEETFORM_CUSTOMER_APP_ID`, `FLEETFORM_CUSTOMER_APP_PRIVATE_KEY`), one
/// holding an installation token for that one repository with
/// `permissions`, renewed before it expires (a job may outlast a token);
/// else `None`, and the caller uses `FLEETFORM_TOKEN`/`GITHUB_TOKEN`. The
/// manager App's key is never read here: it has no business in a plan or
/// apply job. Every credential is masked in the log.
pub(super) fn repo_client(
    rt: &tokio::runtime::Runtime,
    repo: &str,
    permissions: Permissions,
    dry_run: bool,
    cx: &Context,
) -> Result<Option<GitHub>> {
    let Some(app) = AppKey::from_env(AppRole::Customer).map_err(|e| Error::usage(e.to_string()))?
    else {
        return Ok(None);
    };
    let root = ApiRoot::parse(&GitHub::api_url_from_env()).map_err(GitHubError::from)?;
    let output = cx.out.clone();
    let mask: OnCredential = std::sync::Arc::new(move |t: &Token| output.mask(t.expose()));
    let gh = rt
        .block_on(GitHub::installation_client(
            &cx.net,
            root,
            std::sync::Arc::new(app),
            repo,
            permissions,
            dry_run,
            mask,
        ))
        .map_err(gh_err)?;
    Ok(Some(gh))
}

/// The customer repos of a fleet job ([`CustomerRepos`]): with the
/// customer App (`FLEETFORM_CUSTOMER_APP_ID`,
/// `FLEETFORM_CUSTOMER_APP_PRIVATE_KEY`), a token per repository with
/// `permissions`; else `FLEETFORM_TOKEN` (or `GITHUB_TOKEN`) for every
/// repository; `None` with neither. Every credential is masked in the log.
pub(crate) fn customer_repos(
    rt: &tokio::runtime::Runtime,
    permissions: Permissions,
    cx: &Context,
) -> Result<Option<CustomerRepos>> {
    let token = env_token(cx);
    customer_repos_or(rt, permissions, token.as_ref(), cx)
}

/// [`customer_repos`], with `token` (already masked) as the older path's.
pub(crate) fn customer_repos_or(
    rt: &tokio::runtime::Runtime,
    permissions: Permissions,
    token: Option<&Token>,
    cx: &Context,
) -> Result<Option<CustomerRepos>> {
    if let Some(app) =
        AppKey::from_env(AppRole::Customer).map_err(|e| Error::usage(e.to_string()))?
    {
        return app_repos(rt, app, permissions, cx).map(Some);
    }
    token
        .map(|t| {
            client(rt, Some(t), false, cx)
                .map(CustomerRepos::one_token)
                .map_err(Error::from)
        })
        .transpose()
}

/// The customer repos through `app`'s tokens, one per repository with
/// `permissions`, each masked in the log.
pub(crate) fn app_repos(
    rt: &tokio::runtime::Runtime,
    app: AppKey,
    permissions: Permissions,
    cx: &Context,
) -> Result<CustomerRepos> {
    let root = ApiRoot::parse(&GitHub::api_url_from_env()).map_err(GitHubError::from)?;
    let output = cx.out.clone();
    let mask: OnCredential = std::sync::Arc::new(move |t: &Token| output.mask(t.expose()));
    CustomerRepos::app(
        rt,
        std::sync::Arc::new(app),
        &cx.net,
        root,
        permissions,
        false,
        mask,
    )
    .map_err(gh_err)
}

/// [`repo_client`], else a client holding `FLEETFORM_TOKEN` (or
/// `GITHUB_TOKEN`); `None` when there is neither.
pub(crate) fn repo_or_env_client(
    rt: &tokio::runtime::Runtime,
    repo: &str,
    permissions: Permissions,
    cx: &Context,
) -> Result<Option<GitHub>> {
    if let Some(gh) = repo_client(rt, repo, permissions, false, cx)? {
        return Ok(Some(gh));
    }
    env_token(cx)
        .map(|t| client(rt, Some(&t), false, cx).map_err(Error::from))
        .transpose()
}

/// `FLEETFORM_TOKEN` (or `GITHUB_TOKEN`), masked in the log, if set.
fn env_token(cx: &Context) -> Option<Token> {
    let token = Token::from_env();
    if let Some(t) = &token {
        cx.out.mask(t.expose());
    }
    token
}

fn token() -> Result<Token> {
    Token::from_env().ok_or_else(|| {
        Error::usage("no token: set FLEETFORM_TOKEN (the SOURCE_REPOS_PAT secret) or GITHUB_TOKEN")
    })
}

/// What both dispatched commands start from: the run, its checked event,
/// and a GitHub client holding the manager's token.
pub(super) struct Session {
    pub ctx: RunContext,
    pub dispatched: Dispatched,
    pub rt: tokio::runtime::Runtime,
    pub gh: GitHub,
    pub run_url: Option<String>,
}

pub(super) fn open_session(
    dry_run: bool,
    permissions: Permissions,
    cx: &Context,
) -> Result<Session> {
    let ctx = RunContext::from_env();
    let dispatched = read_event(&ctx)?;
    let rt = runtime()?;
    // With an App, a token for the payload's repository only: the
    // dispatch's signature is checked before it is used for anything.
    let repo = &dispatched.payload.customer_repo;
    let gh = match repo_client(&rt, repo, permissions, dry_run, cx)? {
        Some(gh) => gh,
        None => {
            let token = env_token(cx).map_or_else(token, Ok)?;
            client(&rt, Some(&token), dry_run, cx).map_err(gh_err)?
        }
    };
    let run_url = ctx.run_url();
    Ok(Session {
        ctx,
        dispatched,
        rt,
        gh,
        run_url,
    })
}

/// A client of the environment's API root (`GITHUB_API_URL`) with `token`,
/// over the command's network settings.
pub(crate) fn client(
    rt: &tokio::runtime::Runtime,
    token: Option<&Token>,
    dry_run: bool,
    cx: &Context,
) -> std::result::Result<GitHub, GitHubError> {
    GitHub::new(rt, &cx.net, &GitHub::api_url_from_env(), token, dry_run)
}

/// A client for `fleetform authorise`, which may run without a token:
/// then every write is withheld and nothing reaches GitHub.
pub(super) fn client_if_token(
    rt: &tokio::runtime::Runtime,
    repo: &str,
    permissions: Permissions,
    cx: &Context,
) -> Result<GitHub> {
    match repo_or_env_client(rt, repo, permissions, cx)? {
        Some(gh) => Ok(gh),
        None => client(rt, None, true, cx).map_err(Error::from),
    }
}

/// A client for `fleetform conclude`, which writes the customer's commit
/// statuses and so needs a token, with `permissions`
/// ([`access::authorise`] of the dispatch it concludes).
pub(super) fn status_writer(
    rt: &tokio::runtime::Runtime,
    repo: &str,
    permissions: Permissions,
    cx: &Context,
) -> Result<GitHub> {
    repo_or_env_client(rt, repo, permissions, cx)?
        .ok_or_else(|| Error::usage("FLEETFORM_TOKEN (or GITHUB_TOKEN, or the customer App's FLEETFORM_CUSTOMER_APP_ID and FLEETFORM_CUSTOMER_APP_PRIVATE_KEY) is not set: conclude writes the customer's commit statuses"))
}

/// The client and repo for reading the manager repo itself: the job's
/// token for it (`FLEETFORM_MANAGER_TOKEN`, else the token).
pub(crate) fn manager_client(
    rt: &tokio::runtime::Runtime,
    ctx: &RunContext,
    cx: &Context,
) -> Result<(GitHub, String)> {
    let repo = ctx.repository.clone().ok_or_else(|| {
        Error::usage("GITHUB_REPOSITORY is not set: a dispatched command runs inside the manager repo's workflow")
    })?;
    let token = match Token::from_var("FLEETFORM_MANAGER_TOKEN") {
        Some(t) => t,
        None => token()?,
    };
    cx.out.mask(token.expose());
    // Reads only: nothing is ever written to the manager repo here.
    let gh = client(rt, Some(&token), false, cx).map_err(gh_err)?;
    Ok((gh, repo))
}
