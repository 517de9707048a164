//! The template's propagation (`fleetform sync`): propagate the customer template to every active
//! customer repo as one pull request per customer on a fixed branch.
//!
//! The template is `sync.template_dir` in the manager repo (default
//! `templates/customer/`): files ending in `.j2` are rendered per customer
//! with minijinja (the suffix is dropped), others are copied. Only these
//! files are ever written; a customer's other files are never touched.
//! Reading and rendering the template is [`crate::fleet::sync`]'s; the
//! table, pull request body and dry-run diff are [`crate::report::sync`]'s.
//!
//! API budget per customer (F = template files, W = files that differ):
//! in sync: 1 + F reads, no writes. Out of sync, first time: 1 + F + 1
//! (sync branch lookup) + 1 (default branch head) + 1 (create branch) + W
//! (one commit per file) + 1 (open PRs) + 1 (create PR). Out of sync with
//! the branch already there: 1 + F + 1 + W (branch contents) + W' (files
//! that differ from the branch) + 1 (+1 if the PR was closed). A second
//! sync with no template change sends no writes.
//!
//! Carrying writes over (`--write-log`, `--deadline`, `--etag-cache`, as
//! `drift`): every customer is read first, then the writes are made in
//! order: repos with no sync branch yet (new work) first, then updates of
//! existing branches and pull requests. A request that does not fit
//! (GitHub's budget, the deadline) is not sent; its customer is listed as
//! deferred (`"deferred": true` in `--json`, a line after the table) and
//! no later customer writes in this run (their reads still say which need
//! none). The next run reads where each repo is and writes only what is
//! missing, so nothing is written twice. A deferred customer is not a
//! failure.

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::Activity;
use crate::config::Customer;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::fleet::sync::{render_for, template_files, Files};
use crate::github::{AppKey, CustomerRepos, GitHub, GitHubError, Token};
use crate::report::sync::{file_diff, pr_body, results_table, Row, PR_TITLE};

/// Checked flags.
pub struct Settings {
    pub manager_repo: String,
    pub customers: Option<Vec<String>>,
    pub action_ref: String,
    pub dry_run: bool,
    pub json: bool,
    /// How many customers go first; a failure among them stops the rest.
    pub canary: usize,
    pub credential: Credential,
    pub write_log: Option<std::path::PathBuf>,
    pub deadline: Option<std::time::SystemTime>,
    pub etags: Option<std::sync::Arc<crate::github::EtagCache>>,
}

/// What sync writes to the customer repos with.
pub enum Credential {
    /// The public sync App (`FLEETFORM_SYNC_APP_ID`,
    /// `FLEETFORM_SYNC_APP_PRIVATE_KEY`): a token per customer repository,
    /// for it alone, with the sync App's permissions.
    App(std::sync::Arc<AppKey>),
    /// One token for every customer repo (`FLEETFORM_TOKEN`).
    Token(Token),
}

impl Credential {
    /// The sync App's key from the environment first (a token per
    /// repository, minted as needed), else `FLEETFORM_TOKEN` (or
    /// `GITHUB_TOKEN`) for every customer repo; `Err` says what to set.
    pub fn from_env() -> std::result::Result<Credential, String> {
        match crate::github::AppKey::from_env(crate::github::AppRole::Sync)
            .map_err(|e| e.to_string())?
        {
            Some(app) => Ok(Credential::App(std::sync::Arc::new(app))),
            None => Token::from_env().map(Credential::Token).ok_or_else(|| {
                "no credential: set the sync App's FLEETFORM_SYNC_APP_ID and FLEETFORM_SYNC_APP_PRIVATE_KEY (README, \"The Apps\"), or FLEETFORM_TOKEN (or GITHUB_TOKEN) to a token that writes to every customer repo".to_string()
            }),
        }
    }
}

/// A file's content and blob sha on a branch, per path (`None`: absent).
type Blobs<'f> = BTreeMap<&'f str, Option<(Vec<u8>, String)>>;

/// Why a customer was not synced.
enum Failure {
    /// A request did not fit (budget, deadline): the next run goes on.
    Deferred(String),
    Failed(String),
}

impl From<GitHubError> for Failure {
    fn from(e: GitHubError) -> Self {
        match e {
            GitHubError::Deferred { .. } => Failure::Deferred(e.to_string()),
            e => Failure::Failed(e.to_string()),
        }
    }
}

impl From<String> for Failure {
    fn from(e: String) -> Self {
        Failure::Failed(e)
    }
}

type Outcome<T> = std::result::Result<T, Failure>;

/// What a customer's repo needs, from its reads.
struct Pending<'f> {
    default_branch: String,
    current: Blobs<'f>,
    differing: Vec<&'f str>,
    /// The sync branch is there already (an update, not new work).
    has_branch: bool,
}

struct Ctx<'a> {
    repos: &'a CustomerRepos,
    branch: &'a str,
    dry_run: bool,
    cx: &'a Context,
    /// A write was deferred: no later write is sent in this run.
    writes_stopped: std::cell::Cell<bool>,
}

impl Ctx<'_> {
    /// The template files as they are on `branch` (the default branch when
    /// `None`).
    async fn read<'f>(
        &self,
        repo: &str,
        paths: impl IntoIterator<Item = &'f str>,
        branch: Option<&str>,
    ) -> Outcome<Blobs<'f>> {
        let mut blobs = Blobs::new();
        for path in paths {
            let gh = self.repos.client(repo).await?;
            blobs.insert(path, gh.get_file_with_sha(repo, path, branch).await?);
        }
        Ok(blobs)
    }

    /// The sync branch's copies of the differing files: created from the
    /// default branch (its copies, `true`) or read from the branch.
    async fn prepare_branch<'f>(
        &self,
        repo: &str,
        default_branch: &str,
        current: &Blobs<'f>,
        differing: &[&'f str],
        has_branch: bool,
    ) -> Outcome<(bool, Blobs<'f>)> {
        let gh = self.repos.client(repo).await?;
        if has_branch {
            let blobs = self
                .read(repo, differing.iter().copied(), Some(self.branch))
                .await?;
            return Ok((false, blobs));
        }
        let head = gh
            .branch_sha(repo, default_branch)
            .await?
            .ok_or_else(|| format!("default branch `{default_branch}` not found"))?;
        self.may_write()?;
        gh.create_branch(repo, self.branch, &head).await?;
        let blobs = differing.iter().map(|p| (*p, current[p].clone())).collect();
        Ok((true, blobs))
    }

    /// Commits each differing file the branch does not have yet; returns
    /// how many were written.
    async fn write_files(
        &self,
        repo: &str,
        files: &Files,
        differing: &[&str],
        on_branch: &Blobs<'_>,
    ) -> Outcome<usize> {
        let mut written = 0;
        for p in differing {
            let on_branch = &on_branch[p];
            if on_branch.as_ref().map(|(b, _)| b) == Some(&files[*p]) {
                continue;
            }
            self.may_write()?;
            self.repos
                .client(repo)
                .await?
                .put_file(
                    repo,
                    p,
                    self.branch,
                    &files[*p],
                    &format!("fleetform sync: update {p}"),
                    on_branch.as_ref().map(|(_, sha)| sha.as_str()),
                )
                .await?;
            written += 1;
        }
        Ok(written)
    }

    /// Finds the open pull request from the sync branch, or opens one.
    async fn pull_request(
        &self,
        repo: &str,
        default_branch: &str,
        differing: &[&str],
        created: bool,
        written: usize,
    ) -> Outcome<(String, Option<String>)> {
        let gh = self.repos.client(repo).await?;
        let open = gh.open_pulls_from(repo, self.branch).await?;
        match open.first() {
            Some((_, url)) if written > 0 => Ok((
                format!(
                    "PR updated ({})",
                    crate::util::text::count(written, "file", "files")
                ),
                Some(url.clone()),
            )),
            Some((_, url)) => Ok(("PR open, unchanged".into(), Some(url.clone()))),
            None => {
                self.may_write()?;
                let (_, url) = gh
                    .create_pull(
                        repo,
                        PR_TITLE,
                        self.branch,
                        default_branch,
                        &pr_body(differing),
                    )
                    .await?;
                Ok((
                    if created {
                        "PR opened".into()
                    } else {
                        "PR opened on the existing sync branch".into()
                    },
                    Some(url),
                ))
            }
        }
    }

    /// Deferred when an earlier write of this run was (the writes keep
    /// their order: new work first).
    fn may_write(&self) -> Outcome<()> {
        if self.writes_stopped.get() {
            return Err(Failure::Deferred(
                "not sent: an earlier write of this run did not fit".into(),
            ));
        }
        Ok(())
    }

    /// `--dry-run`: shows what would change, as a diff.
    fn show_diff(&self, repo: &str, files: &Files, current: &Blobs<'_>, differing: &[&str]) {
        let mut diff = String::new();
        for p in differing {
            let old = current[p]
                .as_ref()
                .map(|(b, _)| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            let new = String::from_utf8_lossy(&files[*p]).into_owned();
            diff.push_str(&file_diff(p, &old, &new));
        }
        self.cx.out.note(&format!("--- {repo}\n{diff}"));
    }
}

/// Reads one customer repo: in sync (or, in a dry run, what would
/// change: `Err`), or what its pull request needs.
async fn survey<'f>(
    ctx: &Ctx<'_>,
    repo: &str,
    files: &'f Files,
) -> Outcome<std::result::Result<Pending<'f>, String>> {
    let info = ctx.repos.client(repo).await?.repo_info(repo).await?;
    if info.archived {
        return Err("the repository is archived (read-only)".to_string().into());
    }
    // Compare with the default branch.
    let current = ctx
        .read(repo, files.keys().map(String::as_str), None)
        .await?;
    let differing: Vec<&str> = files
        .iter()
        .filter(|(p, want)| current[p.as_str()].as_ref().map(|(b, _)| b) != Some(*want))
        .map(|(p, _)| p.as_str())
        .collect();
    if differing.is_empty() {
        return Ok(Err("in sync".into()));
    }
    if ctx.dry_run {
        ctx.show_diff(repo, files, &current, &differing);
        return Ok(Err(format!(
            "would update {}",
            crate::util::text::count(differing.len(), "file", "files")
        )));
    }
    let has_branch = ctx
        .repos
        .client(repo)
        .await?
        .branch_sha(repo, ctx.branch)
        .await?
        .is_some();
    Ok(Ok(Pending {
        default_branch: info.default_branch,
        current,
        differing,
        has_branch,
    }))
}

/// Brings one customer repo's template files up to date through a pull
/// request on the sync branch; returns the result and the PR's address.
async fn write_pending(
    ctx: &Ctx<'_>,
    repo: &str,
    files: &Files,
    p: &Pending<'_>,
) -> Outcome<(String, Option<String>)> {
    let (created, on_branch) = ctx
        .prepare_branch(
            repo,
            &p.default_branch,
            &p.current,
            &p.differing,
            p.has_branch,
        )
        .await?;
    let written = ctx
        .write_files(repo, files, &p.differing, &on_branch)
        .await?;
    ctx.pull_request(repo, &p.default_branch, &p.differing, created, written)
        .await
}

/// One customer's row from its outcome, recorded in the audit log.
fn row_of(
    ctx: &Ctx<'_>,
    c: &Customer,
    result: Outcome<(String, Option<String>)>,
    requests: usize,
) -> Row {
    let (result, pr, status) = match result {
        Ok((result, pr)) => (result, pr, "ok"),
        Err(Failure::Deferred(e)) => {
            ctx.writes_stopped.set(true);
            (format!("deferred: {e}"), None, "deferred")
        }
        Err(Failure::Failed(e)) => (format!("failed: {e}"), None, "failed"),
    };
    let row = Row {
        customer: c.slug.clone(),
        result,
        pr,
        ok: status == "ok",
        deferred: status == "deferred",
        requests,
    };
    ctx.cx.record(
        crate::audit::Entry::now("sync", status)
            .customer(&c.slug)
            .detail(format!(
                "{}{}",
                row.result,
                row.pr.as_ref().map(|u| format!(" {u}")).unwrap_or_default()
            )),
    );
    row
}

/// Syncs one customer at once (reads, then writes): the canaries.
fn sync_customer(rt: &tokio::runtime::Runtime, ctx: &Ctx<'_>, c: &Customer, files: &Files) -> Row {
    let repo = c.repo.as_deref().expect("filtered");
    let before = ctx.repos.request_count();
    let result = rt.block_on(async {
        match survey(ctx, repo, files).await? {
            Err(done) => Ok((done, None)),
            Ok(p) => write_pending(ctx, repo, files, &p).await,
        }
    });
    row_of(ctx, c, result, ctx.repos.request_count() - before)
}

/// A customer not attempted, with why.
fn skipped(c: &Customer, why: &str, deferred: bool) -> Row {
    Row {
        customer: c.slug.clone(),
        result: why.into(),
        pr: None,
        ok: false,
        deferred,
        requests: 0,
    }
}

/// Syncs the customers: the first `canary` one by one (a failure among
/// them stops the rest), then the others read first and written in
/// order, repos without a sync branch first.
fn propagate(
    rt: &tokio::runtime::Runtime,
    ctx: &Ctx<'_>,
    customers: &[&Customer],
    rendered: &[Files],
    canary: usize,
    progress: &crate::output::Progress,
) -> Vec<Row> {
    let mut rows: Vec<Option<Row>> = vec![None; customers.len()];
    let pairs: Vec<_> = customers.iter().zip(rendered).enumerate().collect();
    let (canaries, rest) = pairs.split_at(canary.min(pairs.len()));
    for (i, (c, files)) in canaries {
        progress.started(&c.slug);
        let row = sync_customer(rt, ctx, c, files);
        progress.counted();
        let (failed, deferred) = (!row.ok && !row.deferred, row.deferred);
        rows[*i] = Some(row);
        if failed || deferred {
            let why = if failed {
                ctx.cx.out.error(&format!(
                    "canary `{}` failed; stopping before the other customers",
                    c.slug
                ));
                "not attempted (a canary failed)"
            } else {
                "deferred: not attempted (a canary was deferred)"
            };
            for (j, (c, _)) in pairs.iter().skip(i + 1) {
                rows[*j] = Some(skipped(c, why, deferred));
            }
            return rows.into_iter().flatten().collect();
        }
    }
    let mut pending = Vec::new();
    for (i, (c, files)) in rest {
        let before = ctx.repos.request_count();
        let repo = c.repo.as_deref().expect("filtered");
        progress.started(&c.slug);
        match rt.block_on(survey(ctx, repo, files)) {
            Ok(Ok(p)) => pending.push((*i, p, ctx.repos.request_count() - before)),
            Ok(Err(done)) => {
                progress.counted();
                rows[*i] = Some(row_of(
                    ctx,
                    c,
                    Ok((done, None)),
                    ctx.repos.request_count() - before,
                ))
            }
            Err(e) => {
                progress.counted();
                rows[*i] = Some(row_of(ctx, c, Err(e), ctx.repos.request_count() - before))
            }
        }
    }
    // New work first; the sort is stable, so registry order within each.
    pending.sort_by_key(|(_, p, _)| p.has_branch);
    for (i, p, read) in pending {
        let (c, files) = pairs[i].1;
        let repo = c.repo.as_deref().expect("filtered");
        let before = ctx.repos.request_count();
        progress.started(&c.slug);
        let result = rt.block_on(write_pending(ctx, repo, files, &p));
        progress.counted();
        rows[i] = Some(row_of(
            ctx,
            c,
            result,
            read + ctx.repos.request_count() - before,
        ));
    }
    rows.into_iter().flatten().collect()
}

/// The customer repos' clients (the sync App's token per repository, or
/// the one token), with the ETag cache, the deadline and the write log
/// (the earlier runs' writes counted, this run's kept as they are made).
/// The customer repos' clients for `credential`: the sync App's token per
/// repository (with its permissions only), or the one token.
pub fn customer_repos(
    rt: &tokio::runtime::Runtime,
    credential: &Credential,
    dry_run: bool,
    cx: &Context,
) -> Result<CustomerRepos> {
    Ok(match credential {
        Credential::Token(t) => CustomerRepos::one_token(
            crate::flows::github_loop::session::client(rt, Some(t), dry_run, cx)
                .map_err(Error::from)?,
        ),
        Credential::App(app) => {
            let root = crate::github::ApiRoot::parse(&GitHub::api_url_from_env())
                .map_err(GitHubError::from)?;
            let output = cx.out.clone();
            let mask: crate::github::OnCredential =
                std::sync::Arc::new(move |t: &Token| output.mask(t.expose()));
            CustomerRepos::app(
                rt,
                app.clone(),
                &cx.net,
                root,
                crate::util::apps::SYNC_APP,
                dry_run,
                mask,
            )?
        }
    })
}

fn clients(
    rt: &tokio::runtime::Runtime,
    settings: &Settings,
    cx: &Context,
) -> Result<CustomerRepos> {
    let repos = customer_repos(rt, &settings.credential, settings.dry_run, cx)?;
    let repos = match &settings.etags {
        Some(cache) => repos.with_etag_cache(cache.clone()),
        None => repos,
    };
    let repos = match settings.deadline {
        Some(d) => repos.with_deadline(d),
        None => repos,
    };
    let repos = match (&settings.write_log, settings.dry_run) {
        (Some(log), false) => repos.keep_writes_in(log),
        _ => repos,
    };
    if let Some(log) = &settings.write_log {
        if let Err(note) =
            crate::github::write_log::read(log).map(|t| repos.count_earlier_writes(t))
        {
            cx.out.note(&note);
        }
    }
    Ok(repos)
}

/// With `sync.form`, each customer's files get its change form's (the
/// manager's, or one per product it takes), made once per form; a path
/// the template writes too is refused before any write.
fn with_forms(
    manager: &crate::config::Manager,
    customers: &[&Customer],
    mut rendered: Vec<Files>,
    action_ref: &str,
) -> Result<Vec<Files>> {
    if !manager.config.sync.form {
        return Ok(rendered);
    }
    let mut made: std::collections::BTreeMap<Option<String>, crate::flows::form::FormFiles> =
        Default::default();
    for (c, files) in customers.iter().zip(rendered.iter_mut()) {
        let products: Vec<Option<String>> = if manager.has_products() {
            manager
                .product_names()
                .into_iter()
                .filter(|p| {
                    c.products
                        .as_ref()
                        .is_none_or(|list| list.iter().any(|x| x == p))
                })
                .map(|p| Some(p.to_string()))
                .collect()
        } else {
            vec![None]
        };
        for product in products {
            if !made.contains_key(&product) {
                let view = manager
                    .select_product(product.as_deref())
                    .map_err(Error::usage)?;
                made.insert(
                    product.clone(),
                    crate::flows::form::customer_files(&view, action_ref)?,
                );
            }
            for (path, text) in &made[&product].files {
                let same = files.get(path).map(|b| b.as_slice()) == Some(text.as_bytes());
                if files.contains_key(path) && !same && path != crate::flows::form::WORKFLOW_PATH {
                    return Err(Error::usage(format!(
                        "sync.form: the customer template writes `{path}` too, which the change form writes; remove it from {}",
                        manager.config.sync.template_dir.display()
                    )));
                }
                files.insert(path.clone(), text.clone().into_bytes());
            }
        }
    }
    Ok(rendered)
}

pub fn run(settings: &Settings, manager_dir: &Path, cx: &Context) -> Result<()> {
    if let Credential::Token(t) = &settings.credential {
        cx.out.mask(t.expose());
    }
    let (manager, registry) = crate::config::load(manager_dir)?;
    let templates = template_files(&manager)?;
    let customers: Vec<&Customer> = crate::fleet::select(&registry, settings.customers.as_deref())?
        .into_iter()
        .filter(|c| c.takes_part(Activity::Sync) && c.repo.is_some())
        .collect();
    // Render everything first: a template error stops before any write.
    let rendered: Vec<Files> = customers
        .iter()
        .map(|c| {
            render_for(
                &manager,
                &templates,
                c,
                &settings.manager_repo,
                &settings.action_ref,
            )
        })
        .collect::<Result<_>>()?;
    let rendered = with_forms(&manager, &customers, rendered, &settings.action_ref)?;
    let rt = crate::github::runtime().map_err(|e| Error::failed(e.to_string()))?;
    let repos = clients(&rt, settings, cx)?;
    let ctx = Ctx {
        repos: &repos,
        branch: &manager.config.sync.branch,
        dry_run: settings.dry_run,
        cx,
        writes_stopped: std::cell::Cell::new(false),
    };
    let progress = cx.out.progress(customers.len());
    let rows = propagate(&rt, &ctx, &customers, &rendered, settings.canary, &progress);
    progress.done();
    if let (Some(log), false) = (&settings.write_log, settings.dry_run) {
        crate::github::write_log::write(log, &repos.writes_of_the_hour())
            .map_err(|e| Error::failed(format!("writing the write log {}: {e}", log.display())))?;
    }
    if let Some(cache) = &settings.etags {
        for note in cache.save_or_note() {
            cx.out.note(&note);
        }
    }
    if settings.json {
        cx.out.json(&rows).expect("serialisable");
    } else {
        cx.out.result(results_table(&rows).trim_end());
    }
    let deferred = rows.iter().filter(|r| r.deferred).count();
    if deferred > 0 {
        cx.out.note(&format!(
            "{} deferred: what did not fit GitHub's budget or the deadline; the next run syncs them (keep --write-log between runs)",
            crate::util::text::count(deferred, "customer", "customers")
        ));
    }
    cx.out.verbose(&format!(
        "{} ({} not modified)",
        crate::util::text::count(
            repos.request_count(),
            "GitHub API request",
            "GitHub API requests"
        ),
        repos.not_modified_count()
    ));
    let failed = rows.iter().filter(|r| !r.ok && !r.deferred).count();
    if failed > 0 {
        return Err(Error::failed(format!(
            "{failed} of {} did not sync",
            crate::util::text::count(rows.len(), "customer", "customers")
        )));
    }
    Ok(())
}
