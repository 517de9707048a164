//! `customers revoke`: the entry marked revoked (never deleted; its state
//! is kept), its secrets recipients retired and its fleet keyring entries
//! dropped, and what to delete where on GitHub.

use super::edit::{edit_entry, refuse_secretish};
use super::secret_keys;
use crate::config::edit;
use crate::config::Activity;
use crate::config::{is_date, Customer, Manager, Registry};
use crate::context::Context;
use crate::error::{Error, Result};

/// `customers revoke`: `slug` revoked on `date` (default: today) for
/// `reason`, and the steps that end its access.
pub fn revoke(
    manager: &Manager,
    slug: &str,
    reason: &str,
    date: Option<String>,
    cx: &Context,
) -> Result<()> {
    if reason.trim().is_empty() {
        return Err(Error::usage("--reason must say why"));
    }
    refuse_secretish("--reason", reason)?;
    let date = date.unwrap_or_else(crate::audit::today);
    if !is_date(&date) {
        return Err(Error::usage("--date must be YYYY-MM-DD"));
    }
    let before = Registry::load(manager)?
        .get(slug)
        .map(|c| (c.slug.clone(), c.secrets.clone()));
    let written = edit_entry(
        manager,
        slug,
        "revoke the customer",
        |registry, text, file, index| {
            if !registry.customers[index].takes_part(Activity::Revoke) {
                return Ok(None);
            }
            let revoked = edit::revoke(text, &registry.doc, file, index, &date, reason)
                .map_err(|e| Error::failed(e.to_string()))?;
            secret_keys::retire(&revoked, file, index).map(Some)
        },
        |c| !c.takes_part(Activity::Revoke) && c.secrets.is_empty(),
    )?;
    let Some(after) = written else {
        cx.out.result(&format!("`{slug}` is already revoked"));
        let registry = Registry::load(manager)?;
        if let Some(c) = registry.get(slug) {
            cx.out.result(&revoke_steps(manager, &registry, c));
        }
        return Ok(());
    };
    cx.record(
        crate::audit::Entry::now("registry", "revoked")
            .customer(slug)
            .detail(reason.to_string()),
    );
    cx.out.result(&format!(
        "revoked `{slug}` ({date}): its dispatches are refused from now on. Its state is kept."
    ));
    // Its recipients are out of the registry, so nothing decrypts for it
    // even if its keyring entries stayed.
    if let Err(e) = secret_keys::unseal(manager, slug) {
        cx.out
            .warn(&format!("the fleet keyring keeps `{slug}`'s entries: {e}"));
    }
    secret_keys::tell_retired(manager, &before, &cx.out);
    if let Some(c) = after.get(slug) {
        cx.out.result(&revoke_steps(manager, &after, c));
    }
    Ok(())
}

/// What to delete where once a customer is revoked: the secrets and
/// variables of `workflows/customer-trigger.yml` in its repo, the token
/// it created (by its recorded name), and the manager's access to its
/// repos (`SOURCE_REPOS_PAT` in the manager's environments).
fn revoke_steps(manager: &Manager, registry: &Registry, c: &Customer) -> String {
    let Some(repo) = c.repo.as_deref() else {
        return format!(
            "Nothing to delete on GitHub: `{}` has no repo (local mode).",
            c.slug
        );
    };
    let owner = repo.split('/').next().unwrap_or(repo);
    let token = match &c.token {
        Some(t) => format!("The fine-grained token `{}` (expires {})", t.name, t.expires),
        None => "The fine-grained token stored as MANAGER_REPO_PAT (its name is not recorded in customers.yml)".to_string(),
    };
    let mut s = format!(
        "Delete, to end the customer's access:\n\
         1. In {repo}: Settings → Secrets and variables → Actions: the secrets MANAGER_REPO_PAT and {key}, and the variables MANAGER_REPO_OWNER and MANAGER_REPO_NAME; and the workflow file that runs the fleetform trigger action (.github/workflows/customer-trigger.yml if it was installed as instructed).\n\
         2. {token}: whoever created it deletes it under their GitHub Settings → Developer settings → Personal access tokens → Fine-grained tokens (ask the customer); an owner of the organization that owns the manager repo can also revoke it: the organization's Settings → Personal access tokens → Active tokens.\n",
        key = crate::dispatch::auth::KEY_ENV,
    );
    s.push_str(&manager_access_step(manager, registry, c, owner));
    s.push_str(
        "Nothing else: the dispatch key is derived from FLEETFORM_DISPATCH_SECRET and is refused for a revoked customer; its state and records are kept.",
    );
    s
}

/// Step 3: the manager's token for the customer's repos.
fn manager_access_step(
    manager: &Manager,
    registry: &Registry,
    c: &Customer,
    owner: &str,
) -> String {
    let others = registry
        .customers
        .iter()
        .filter(|o| o.slug != c.slug && o.takes_part(Activity::Dispatch))
        .filter(|o| {
            o.repo
                .as_deref()
                .and_then(|r| r.split('/').next())
                .is_some_and(|r| r.eq_ignore_ascii_case(owner))
        })
        .count();
    let mut envs = vec!["fleetform-authorise".to_string()];
    for e in &manager.config.environments {
        envs.push(e.plan_environment());
        envs.push(e.apply_environment());
    }
    envs.push("drift".into());
    let what = if others == 0 {
        format!("no other active customer is under `{owner}`: if SOURCE_REPOS_PAT is a fine-grained token for `{owner}`, delete it from these environments and delete the token itself; if it is a GitHub App, uninstall it from `{owner}`")
    } else {
        format!("{} under `{owner}`: keep the token, and take {} out of its repository access (or out of the GitHub App's installation)", match others {
            1 => "1 other active customer is".to_string(),
            n => format!("{n} other active customers are"),
        }, c.repo.as_deref().unwrap_or(owner))
    };
    format!(
        "3. In the manager repo: Settings → Environments ({}): SOURCE_REPOS_PAT reads the customer's repo; {what}.\n",
        envs.join(", ")
    )
}
