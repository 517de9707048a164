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
            cx.out.result(&revoke_steps(&registry, c));
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
        cx.out.result(&revoke_steps(&after, c));
    }
    Ok(())
}

/// What to delete where once a customer is revoked: the secrets and
/// variables of `workflows/customer-trigger.yml` in its repo, the token
/// it created (by its recorded name), and the manager's access to its
/// repos (the customer App's installation).
fn revoke_steps(registry: &Registry, c: &Customer) -> String {
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
    s.push_str(&manager_access_step(registry, c, owner));
    s.push_str(
        "Nothing else: the dispatch key is derived from FLEETFORM_DISPATCH_SECRET and is refused for a revoked customer; its state and records are kept.",
    );
    s
}

/// Step 3: the customer App's installation, the manager's way into the
/// customer's repos (README, "The Apps"): no secret of the manager names
/// one customer.
fn manager_access_step(registry: &Registry, c: &Customer, owner: &str) -> String {
    let repo = c.repo.as_deref().unwrap_or(owner);
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
    let what = match others {
        0 => format!("no other active customer is under `{owner}`: uninstall the App from `{owner}`"),
        1 => format!("1 other active customer is under `{owner}`: take {repo} out of the installation's repositories"),
        n => format!("{n} other active customers are under `{owner}`: take {repo} out of the installation's repositories"),
    };
    format!(
        "3. The customer App's installation reaches {repo} (`{owner}`'s Settings → Applications → Installed GitHub Apps; the customer or an owner of `{owner}` changes it): {what}. fleetform refuses a revoked customer's dispatch either way.\n"
    )
}
