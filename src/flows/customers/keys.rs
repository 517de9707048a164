//! `customers dispatch-key` and `customers rotate-key`: a customer's
//! dispatch key, derived from the manager's secret and printed only here.

use super::edit::{edit_registry, edited, registry_file};
use crate::config::edit;
use crate::config::Activity;
use crate::config::{Customer, Manager, Registry};
use crate::context::Context;
use crate::dispatch::auth::{self, DispatchKey, ManagerSecret};
use crate::error::{Error, Result, Say};
use crate::output::Output;

/// The manager's dispatch secret, for the `customers` commands that issue
/// keys.
pub(super) fn manager_secret(command: &str) -> Result<ManagerSecret> {
    ManagerSecret::from_env().map_err(|e| match e {
        auth::AuthError::SecretMissing => Error::Usage(Say::new(format!("{} is not set: `customers {command}` derives the customer's dispatch key from the manager's dispatch secret", auth::SECRET_ENV)).help(format!("set it in the environment to the value of the secret {} of the manager's plan and apply environments and run again", auth::SECRET_ENV))),
        other => Error::usage(other.to_string()),
    })
}

/// Prints a key the user asked for: on stdout alone (masked under Actions),
/// with where it goes on stderr. Never audited, never in an error.
pub(super) fn print_key(key: &DispatchKey, repo: &str, out: &Output) {
    out.secret_result(&key.expose(), &key.mask_strings());
    out.note(&format!(
        "the dispatch key of `{}` (generation {}): send it over a private channel; the customer stores it in {repo} as the Actions repository secret {} (see `fleetform customers instructions {}`)",
        key.slug(),
        key.generation(),
        auth::KEY_ENV,
        key.slug()
    ));
}

/// The registered, active customer with a repo that a key is issued for.
fn keyed_customer<'r>(registry: &'r Registry, slug: &str) -> Result<(usize, &'r Customer, String)> {
    let index = registry.index_of(slug).map_err(Error::usage)?;
    let c = &registry.customers[index];
    if !c.takes_part(Activity::Onboard) {
        return Err(Error::usage(format!(
            "customer `{slug}` is revoked: its dispatches are refused whatever they are signed with, so it has no dispatch key"
        )));
    }
    let repo = c.repo.clone().ok_or_else(|| {
        Error::usage(format!(
            "customer `{slug}` has no repo (local mode): it sends no dispatches and needs no key"
        ))
    })?;
    Ok((index, c, repo))
}

/// `customers dispatch-key`: the customer's current key, printed.
pub fn dispatch_key(manager: &Manager, slug: &str, out: &Output) -> Result<()> {
    let secret = manager_secret("dispatch-key")?;
    let registry = Registry::load(manager)?;
    let (_, c, repo) = keyed_customer(&registry, slug)?;
    print_key(&secret.customer_key(slug, c.key_generation()), &repo, out);
    Ok(())
}

/// Bumps the customer's `key_generation`: the manager then checks
/// dispatches against the new key only, so the old one is void at once.
pub fn rotate_key(manager: &Manager, slug: &str, cx: &Context) -> Result<()> {
    let secret = manager_secret("rotate-key")?;
    // Read, edit and write under the registry's lock, so a concurrent edit
    // is never lost and the generation bumped is the current one.
    let mut bumped = None;
    let after = edit_registry(
        manager,
        |registry, text, shown| {
            let (index, c, repo) = keyed_customer(registry, slug)?;
            let old = c.key_generation();
            let new = old + 1;
            if new > auth::MAX_GENERATION {
                return Err(Error::usage(format!(
                    "customer `{slug}` is at key generation {old}, the last one"
                )));
            }
            bumped = Some((old, new, repo));
            edited(edit::set_key_generation(
                text,
                &registry.doc,
                shown,
                index,
                new,
            ))
        },
        |_| Ok(()),
    )?;
    let (old, new, repo) = bumped.ok_or_else(|| Error::failed("nothing was edited"))?;
    let shown = registry_file(manager).1;
    if after
        .as_ref()
        .and_then(|r| r.get(slug))
        .map(Customer::key_generation)
        != Some(new)
    {
        return Err(Error::Failed(
            Say::new(format!(
                "the edit of {shown} did not set `key_generation: {new}` for `{slug}`"
            ))
            .help("check the file"),
        ));
    }
    cx.record(
        crate::audit::Entry::now("registry", "key-rotated")
            .customer(slug)
            .detail(format!(
                "dispatch key generation {new} issued; generation {old} is void"
            )),
    );
    cx.out.note(&format!(
        "`{slug}`'s dispatch key is now generation {new}; dispatches signed with generation {old} are refused from now on"
    ));
    print_key(&secret.customer_key(slug, new), &repo, &cx.out);
    Ok(())
}
