//! `fleetform sync`: propagate the customer template to every active
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

use std::collections::BTreeMap;
use std::path::Path;

use crate::cli::SyncArgs;
use crate::config::{is_repo, Customer};
use crate::error::{Error, Result};
use crate::fleet::sync::{render_for, template_files, Files};
use crate::github::{GitHub, Token};
use crate::output::Output;
use crate::report::sync::{file_diff, pr_body, results_table, Row, PR_TITLE};

/// Checked flags.
struct Settings {
    manager_repo: String,
    customers: Option<Vec<String>>,
    action_ref: String,
    dry_run: bool,
    json: bool,
    /// How many customers go first; a failure among them stops the rest.
    canary: usize,
    token: Token,
}

fn resolve(args: &SyncArgs) -> Result<Settings> {
    if !is_repo(&args.manager_repo) {
        return Err(Error::Usage(format!(
            "--manager-repo `{}` is not owner/name",
            args.manager_repo
        )));
    }
    let token = Token::from_env().ok_or_else(|| {
        Error::Usage("no token: set FLEETFORM_TOKEN (SOURCE_REPOS_PAT) or GITHUB_TOKEN".into())
    })?;
    Ok(Settings {
        manager_repo: args.manager_repo.clone(),
        customers: (!args.customers.is_empty()).then(|| args.customers.clone()),
        action_ref: args
            .action_ref
            .clone()
            .unwrap_or_else(crate::version::action_ref),
        dry_run: args.dry_run,
        json: args.json,
        canary: args.canary.unwrap_or(0),
        token,
    })
}

/// A file's content and blob sha on a branch, per path (`None`: absent).
type Blobs<'f> = BTreeMap<&'f str, Option<(Vec<u8>, String)>>;

struct Ctx<'a> {
    gh: &'a GitHub,
    branch: &'a str,
    dry_run: bool,
    out: &'a Output,
}

impl Ctx<'_> {
    /// The template files as they are on `branch` (the default branch when
    /// `None`).
    async fn read<'f>(
        &self,
        repo: &str,
        paths: impl IntoIterator<Item = &'f str>,
        branch: Option<&str>,
    ) -> std::result::Result<Blobs<'f>, String> {
        let mut blobs = Blobs::new();
        for path in paths {
            blobs.insert(
                path,
                self.gh
                    .get_file_with_sha(repo, path, branch)
                    .await
                    .map_err(|e| e.to_string())?,
            );
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
    ) -> std::result::Result<(bool, Blobs<'f>), String> {
        let gh = self.gh;
        let existing = gh
            .branch_sha(repo, self.branch)
            .await
            .map_err(|e| e.to_string())?;
        if existing.is_some() {
            let blobs = self
                .read(repo, differing.iter().copied(), Some(self.branch))
                .await?;
            return Ok((false, blobs));
        }
        let head = gh
            .branch_sha(repo, default_branch)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("default branch `{default_branch}` not found"))?;
        gh.create_branch(repo, self.branch, &head)
            .await
            .map_err(|e| e.to_string())?;
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
    ) -> std::result::Result<usize, String> {
        let mut written = 0;
        for p in differing {
            let on_branch = &on_branch[p];
            if on_branch.as_ref().map(|(b, _)| b) == Some(&files[*p]) {
                continue;
            }
            self.gh
                .put_file(
                    repo,
                    p,
                    self.branch,
                    &files[*p],
                    &format!("fleetform sync: update {p}"),
                    on_branch.as_ref().map(|(_, sha)| sha.as_str()),
                )
                .await
                .map_err(|e| e.to_string())?;
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
    ) -> std::result::Result<(String, Option<String>), String> {
        let gh = self.gh;
        let open = gh
            .open_pulls_from(repo, self.branch)
            .await
            .map_err(|e| e.to_string())?;
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
                let (_, url) = gh
                    .create_pull(
                        repo,
                        PR_TITLE,
                        self.branch,
                        default_branch,
                        &pr_body(differing),
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                Ok((
                    if created {
                        "PR opened".into()
                    } else {
                        "PR reopened".into()
                    },
                    Some(url),
                ))
            }
        }
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
        self.out.note(&format!("--- {repo}\n{diff}"));
    }
}

/// Brings one customer repo's template files up to date through a pull
/// request on the sync branch; returns the result and the PR's address.
async fn sync_one(
    ctx: &Ctx<'_>,
    repo: &str,
    files: &Files,
) -> std::result::Result<(String, Option<String>), String> {
    let info = ctx.gh.repo_info(repo).await.map_err(|e| e.to_string())?;
    let default_branch = info.default_branch;
    if info.archived {
        return Err("the repository is archived (read-only)".into());
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
        return Ok(("in sync".into(), None));
    }
    if ctx.dry_run {
        ctx.show_diff(repo, files, &current, &differing);
        return Ok((
            format!(
                "would update {}",
                crate::util::text::count(differing.len(), "file", "files")
            ),
            None,
        ));
    }
    let (created, on_branch) = ctx
        .prepare_branch(repo, &default_branch, &current, &differing)
        .await?;
    let written = ctx.write_files(repo, files, &differing, &on_branch).await?;
    ctx.pull_request(repo, &default_branch, &differing, created, written)
        .await
}

/// Syncs one customer, counting its requests and recording it in the
/// audit log.
fn sync_customer(rt: &tokio::runtime::Runtime, ctx: &Ctx<'_>, c: &Customer, files: &Files) -> Row {
    let repo = c.repo.as_deref().expect("filtered");
    let before = ctx.gh.request_count();
    let result = rt.block_on(sync_one(ctx, repo, files));
    let requests = ctx.gh.request_count() - before;
    let row = match result {
        Ok((result, pr)) => Row {
            customer: c.slug.clone(),
            result,
            pr,
            ok: true,
            requests,
        },
        Err(e) => Row {
            customer: c.slug.clone(),
            result: format!("failed: {e}"),
            pr: None,
            ok: false,
            requests,
        },
    };
    crate::audit::record(
        ctx.out,
        crate::audit::Entry::now("sync", if row.ok { "ok" } else { "failed" })
            .customer(&c.slug)
            .detail(format!(
                "{}{}",
                row.result,
                row.pr.as_ref().map(|u| format!(" {u}")).unwrap_or_default()
            )),
    );
    row
}

/// Syncs the customers in order; when one of the first `canary` fails,
/// the rest are not attempted.
fn propagate(
    rt: &tokio::runtime::Runtime,
    ctx: &Ctx<'_>,
    customers: &[&Customer],
    rendered: &[Files],
    canary: usize,
) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut stopped = false;
    for (i, (c, files)) in customers.iter().zip(rendered).enumerate() {
        if stopped {
            rows.push(Row {
                customer: c.slug.clone(),
                result: "not attempted (a canary failed)".into(),
                pr: None,
                ok: false,
                requests: 0,
            });
            continue;
        }
        let row = sync_customer(rt, ctx, c, files);
        let failed = !row.ok;
        rows.push(row);
        if failed && i < canary {
            ctx.out.error(&format!(
                "canary `{}` failed; stopping before the other customers",
                c.slug
            ));
            stopped = true;
        }
    }
    rows
}

pub fn run(args: &SyncArgs, manager_dir: &Path, out: &Output) -> Result<()> {
    let settings = resolve(args)?;
    out.mask(settings.token.expose());
    let (manager, registry) = crate::config::load(manager_dir)?;
    let templates = template_files(&manager)?;
    let customers: Vec<&Customer> = crate::fleet::select(&registry, settings.customers.as_deref())?
        .into_iter()
        .filter(|c| c.is_active() && c.repo.is_some())
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
    let rt = crate::github::runtime().map_err(|e| Error::Failed(e.to_string()))?;
    let gh = GitHub::new(
        &rt,
        &GitHub::api_url_from_env(),
        Some(&settings.token),
        settings.dry_run,
    )
    .map_err(Error::from)?;
    let ctx = Ctx {
        gh: &gh,
        branch: &manager.config.sync.branch,
        dry_run: settings.dry_run,
        out,
    };
    let rows = propagate(&rt, &ctx, &customers, &rendered, settings.canary);
    if settings.json {
        out.json(&rows).expect("serialisable");
    } else {
        out.result(results_table(&rows).trim_end());
    }
    out.verbose(&crate::util::text::count(
        gh.request_count(),
        "GitHub API request",
        "GitHub API requests",
    ));
    let failed = rows.iter().filter(|r| !r.ok).count();
    if failed > 0 {
        return Err(Error::Failed(format!(
            "{failed} of {} did not sync",
            crate::util::text::count(rows.len(), "customer", "customers")
        )));
    }
    Ok(())
}
