//! `customers add --open-pr`: the customer's side of onboarding reduced
//! to merging one pull request. Through the sync App installed on the
//! customer's repo (or `FLEETFORM_TOKEN`), fleetform opens
//! `fleetform/onboarding` with the trigger workflow (the relay's address
//! and audience written in, so no variable is left to set), a starter
//! variables file made from the schema (only where the repo has none) and
//! the change form. Where the sync App is not installed, nothing is
//! written and the instructions' files are named to copy instead.

use crate::config::{Customer, Manager};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::flows::sync::Credential;
use crate::github::GitHub;

/// The branch the onboarding pull request comes from.
pub const BRANCH: &str = "fleetform/onboarding";

/// What `customers add --open-pr` was told.
pub struct OpenPr {
    /// The provider's relay (`https://…`), written into the workflow.
    pub relay_url: Option<String>,
    /// The fleetform release the workflows' actions are pinned to.
    pub action_ref: String,
    pub credential: Credential,
    pub dry_run: bool,
}

/// The files of `c`'s onboarding pull request: (path, text, kept when the
/// repo has the file already).
fn files(manager: &Manager, c: &Customer, s: &OpenPr) -> Result<Vec<(String, String, bool)>> {
    let version = env!("CARGO_PKG_VERSION");
    let workflow = match (&manager.config.relay, &s.relay_url) {
        (Some(relay), Some(url)) => crate::report::workflow::with_relay(
            &crate::report::workflow::customer_workflow(
                crate::report::CUSTOMER_WORKFLOW,
                &s.action_ref,
                version,
            ),
            url,
            &relay.audience(),
        ),
        (Some(_), None) => {
            return Err(Error::usage(
                "--open-pr: give --relay-url, the relay's https:// address the trigger workflow is written with",
            ))
        }
        (None, _) => {
            return Err(Error::usage(
                "--open-pr needs `relay:` in fleetform.yml: on the token path the customer sets its own secrets, so `customers instructions` says what to copy",
            ))
        }
    };
    let mut out = vec![(
        crate::report::CUSTOMER_WORKFLOW_PATH.to_string(),
        workflow,
        false,
    )];
    if !manager.has_products() {
        if let (Some(starter), _) = super::instructions::starter_variables(manager, c)? {
            out.push((manager.config.customer.variables.clone(), starter, true));
        }
    }
    let views: Vec<Manager> = if manager.has_products() {
        manager
            .products()
            .into_iter()
            .filter(|v| {
                let p = v.product.as_deref().unwrap_or_default();
                c.products.as_ref().is_none_or(|l| l.iter().any(|x| x == p))
            })
            .collect()
    } else {
        vec![manager.clone()]
    };
    for view in views {
        for (path, text) in crate::flows::form::customer_files(&view, &s.action_ref)?.files {
            if !out.iter().any(|(p, _, _)| *p == path) {
                out.push((path, text, false));
            }
        }
    }
    Ok(out)
}

/// Opens (or brings up to date) `c`'s onboarding pull request.
pub fn open_pr(manager: &Manager, c: &Customer, s: &OpenPr, cx: &Context) -> Result<()> {
    let Some(repo) = c.repo.as_deref() else {
        return Err(Error::usage(
            "--open-pr: the customer has no --repo to open a pull request on",
        ));
    };
    let files = files(manager, c, s)?;
    let rt = crate::github::runtime().map_err(|e| Error::failed(e.to_string()))?;
    let repos = crate::flows::sync::customer_repos(&rt, &s.credential, s.dry_run, cx)?;
    rt.block_on(async {
        let gh = match repos.client(repo).await {
            Ok(gh) => gh,
            Err(e) if e.status() == Some(404) => {
                cx.out.note(&format!(
                    "{repo}: the sync App is not installed there, so no pull request was opened; `fleetform customers instructions {}` names the files to copy",
                    c.slug
                ));
                return Ok(());
            }
            Err(e) => return Err(Error::from(e)),
        };
        match write(&gh, repo, &files, &c.slug).await? {
            Some((number, url, new)) => {
                let done = if new { "opened" } else { "updated" };
                // A record of what was written to the customer's repo, as
                // `sync` keeps one per customer.
                cx.record(
                    crate::audit::Entry::now("onboarding", "ok")
                        .customer(&c.slug)
                        .detail(format!("pull request #{number} {done} {url}")),
                );
                cx.out.result(&format!(
                    "{repo}: onboarding pull request #{number} {done} ({url}); the customer merges it"
                ))
            }
            None => cx.out.result(&format!(
                "{repo}: has every onboarding file already; no pull request"
            )),
        }
        Ok(())
    })
}

/// The files the repository lacks, on [`BRANCH`], and its pull request:
/// `(number, url, opened now)`, or `None` when nothing is missing.
async fn write(
    gh: &GitHub,
    repo: &str,
    files: &[(String, String, bool)],
    slug: &str,
) -> Result<Option<(u64, String, bool)>> {
    let mut wanted = Vec::new();
    for (path, text, keep) in files {
        match gh.get_file_with_sha(repo, path, None).await? {
            Some(_) if *keep => {}
            Some((b, _)) if b == text.as_bytes() => {}
            _ => wanted.push((path, text)),
        }
    }
    if wanted.is_empty() {
        return Ok(None);
    }
    let list: Vec<String> = wanted.iter().map(|(p, _)| format!("- `{p}`")).collect();
    let body = format!(
        "Connects this repository to the provider's infrastructure service (customer `{slug}`): merge it and every change under `infra/` is planned on its pull request and applied when merged.\n\n{}\n\nThe trigger holds no credential of the provider: it proves its run with the run's OIDC token. Change the settings in the variables file, or through the issue form **Change my infrastructure**.",
        list.join("\n")
    );
    let message = |path: &str| format!("fleetform onboarding: {path}");
    let p = gh
        .propose(
            repo,
            &crate::github::Proposal {
                branch: BRANCH,
                files: wanted
                    .iter()
                    .map(|(path, text)| (path.as_str(), text.as_bytes()))
                    .collect(),
                message: &message,
                title: "Connect this repository to fleetform",
                body: &body,
            },
        )
        .await?;
    Ok(Some((p.number, p.url, p.opened)))
}
