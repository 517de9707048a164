//! `customers add`: a new entry in the registry (checked by the
//! registry's own rules, named by flag), its repository id looked up, its
//! secrets identities made and sealed, and its dispatch key printed once
//! it is in.

use std::path::{Path, PathBuf};

use super::edit::{edit_registry, edited, entry_done, refuse_secretish, registry_file};
use super::keys::{manager_secret, print_key};
use super::secret_keys;
use crate::config::edit;
use crate::config::{Customer, Manager, Status, TokenInfo};
use crate::context::Context;
use crate::error::{Error, Result, Say};
use crate::flows::github_loop::session;
use crate::github::AppKey;
use crate::util::apps::AppRole;

/// The new customer as `customers add` was given it.
pub struct NewCustomer {
    pub slug: String,
    pub repo: Option<String>,
    pub repo_id: Option<u64>,
    /// The customer App's credentials (`--app-credentials`), to look the
    /// repository's id up with.
    pub app_credentials: Option<PathBuf>,
    /// The manager repo to store the secrets identities in
    /// (`--store-keys-in`), instead of files.
    pub store_keys_in: Option<String>,
    /// The customer's checkout (local mode), relative to the registry.
    pub path: Option<PathBuf>,
    pub contact: String,
    /// Enabled environments (empty: all of the manager's).
    pub environments: Vec<String>,
    /// Date added (default: today, UTC).
    pub date: Option<String>,
    /// The token's name and expiry, when both are given.
    pub token: Option<TokenInfo>,
}

/// `customers add`: the customer registered, its secrets identities made
/// and sealed, and its dispatch key printed.
pub fn add(manager: &Manager, new: NewCustomer, cx: &Context) -> Result<()> {
    let app = new.app_credentials.as_deref().map(app_key).transpose()?;
    let store_in = new.store_keys_in.clone();
    if let Some(r) = &store_in {
        if !crate::config::is_repo(r) {
            return Err(Error::usage(format!(
                "--store-keys-in `{r}` is not owner/name"
            )));
        }
        if manager.config.secrets.is_none() {
            return Err(Error::usage(
                "--store-keys-in: fleetform.yml has no `secrets:`, so no secrets identity is made",
            ));
        }
    }
    let mut c = new_customer(manager, new);
    resolve_repo_id(manager, &mut c, app, cx)?;
    // The secret is needed before the registry is written; the key
    // is shown once the customer is in. Behind the relay customers
    // hold no key.
    let secret = match &c.repo {
        Some(_) if manager.config.relay.is_none() => Some(manager_secret("add")?),
        _ => None,
    };
    let (slug, repo) = (c.slug.clone(), c.repo.clone());
    let made = secret_keys::make(manager, &mut c, store_in.is_none())?;
    if let Some(manager_repo) = &store_in {
        // Never over an existing customer's key: checked before storing,
        // and again under the registry's lock.
        if crate::config::Registry::load(manager)?.get(&slug).is_some() {
            return Err(Error::Usage(
                Say::new(format!("customer `{slug}` already exists")).help("pick another slug"),
            ));
        }
        secret_keys::store(manager, manager_repo, &slug, &made, cx)?;
    }
    add_entry(manager, c, cx)?;
    secret_keys::seal(manager, &slug, &made, &cx.out)?;
    secret_keys::tell(manager, &slug, &made, &cx.out);
    if let (Some(secret), Some(repo)) = (secret, repo) {
        print_key(&secret.customer_key(&slug, 1), &repo, &cx.out);
    }
    Ok(())
}

/// The registry entry of the new customer.
fn new_customer(manager: &Manager, new: NewCustomer) -> Customer {
    Customer {
        slug: new.slug,
        repo: new.repo,
        repo_id: new.repo_id,
        path: new.path,
        contact: new.contact,
        environments: if new.environments.is_empty() {
            manager
                .environment_names()
                .iter()
                .map(|s| s.to_string())
                .collect()
        } else {
            new.environments
        },
        status: Status::Active,
        added: new.date.unwrap_or_else(crate::audit::today),
        revoked: None,
        offboarded: None,
        products: None,
        labels: Default::default(),
        secrets: Default::default(),
        identity: None,
        key_generation: None,
        token: new.token,
        pins: Vec::new(),
    }
}

/// Fills the new customer's `repo_id` from GitHub when it was not given.
/// Behind the relay it is required (customers are found by it); without
/// the relay a lookup that cannot be made is only a note.
/// The customer App's key from the file `doctor --register-app customer
/// --relay-secrets` wrote (a JSON object of its variables).
fn app_key(path: &Path) -> Result<AppKey> {
    let shares = crate::util::shares::Shares::read(&[path.to_path_buf()])
        .map_err(|e| Error::usage(format!("--app-credentials {e}")))?;
    let role = AppRole::Customer;
    if !shares.holds(role.id_var()) || !shares.holds(role.key_var()) {
        return Err(Error::usage(format!(
            "--app-credentials {}: no {} and {} (the file `doctor --register-app customer --relay-secrets` writes)",
            path.display(),
            role.id_var(),
            role.key_var()
        )));
    }
    AppKey::from_lookup(role, |v| shares.get(v))
        .map_err(|e| Error::usage(format!("--app-credentials {}: {e}", path.display())))?
        .ok_or_else(|| Error::usage(format!("--app-credentials {}: no App", path.display())))
}

/// The customer's repository id, looked up with a token of the customer
/// App (`app`, else its variables) for that repository alone, or the
/// token of `FLEETFORM_TOKEN`/`GITHUB_TOKEN`.
fn resolve_repo_id(
    manager: &Manager,
    c: &mut Customer,
    app: Option<AppKey>,
    cx: &Context,
) -> Result<()> {
    let (Some(repo), None) = (c.repo.clone(), c.repo_id) else {
        return Ok(());
    };
    let relay = manager.config.relay.is_some();
    let rt = crate::github::runtime()?;
    let repos = match app {
        Some(app) => Some(session::app_repos(&rt, app, session::access::FILES, cx)?),
        None => session::customer_repos(&rt, session::access::FILES, cx)?,
    };
    let Some(repos) = repos else {
        if relay {
            return Err(Error::usage(format!(
                "the relay finds customers by repository id: pass --repo-id (the `id` of `gh api repos/{repo}`), --app-credentials FILE (the customer App, installed on it), or set FLEETFORM_TOKEN so it is looked up")));
        }
        cx.out.note(&format!(
            "{repo}: no token to look up its repository id (set FLEETFORM_TOKEN or pass --repo-id); the relay needs it"
        ));
        return Ok(());
    };
    let found = rt
        .block_on(async { repos.client(&repo).await?.repo_facts(&repo).await })
        .map_err(|e| {
            Error::failed(format!(
                "looking up the id of {repo}: {e} (is the customer App installed on it?)"
            ))
        })?;
    match found {
        Some(facts) => c.repo_id = Some(facts.id),
        None => {
            return Err(Error::Usage(
                Say::new(format!("{repo} does not exist or the token cannot see it"))
                    .help("check the name (pass --repo-id to register it anyway)"),
            ))
        }
    }
    Ok(())
}

/// `--path` names the customer's checkout, a folder that exists, relative
/// to the registry's folder (as `path:` in the registry is read).
fn check_local_path(manager: &Manager, p: &Path) -> Result<()> {
    let (registry, shown) = registry_file(manager);
    let base = registry.parent().unwrap_or(Path::new("."));
    let problem = match std::fs::metadata(base.join(p)) {
        Ok(m) if m.is_dir() => return Ok(()),
        Ok(_) => "is not a folder".to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "does not exist".to_string(),
        Err(e) => format!("cannot be read: {e}"),
    };
    Err(Error::Usage(Say::new(format!("--path `{}` {problem} (it is relative to the folder of {shown})", p.display())).help("give the customer's checkout, e.g. one made with `fleetform init --customer --dir DIR`")))
}

/// How `customers add` names a registry field in a message: its flag.
fn flag_name(field: &'static str) -> String {
    match field {
        "slug" => "the slug".into(),
        "added" => "--date".into(),
        "token/name" => "--token-name".into(),
        "token/expires" => "--token-expires".into(),
        other => format!("--{other}"),
    }
}

/// The registry's own rules for one entry ([`crate::config::entry_problem`])
/// named by flag, the local path, then the edit under the registry's lock.
fn add_entry(manager: &Manager, c: Customer, cx: &Context) -> Result<()> {
    if let Some((_, problem)) = crate::config::entry_problem(&c, &flag_name) {
        return Err(Error::usage(problem));
    }
    if let Some(p) = &c.path {
        check_local_path(manager, p)?;
    }
    refuse_secretish("--contact", &c.contact)?;
    edit_registry(
        manager,
        |registry, text, file| {
            if registry.get(&c.slug).is_some() {
                return Err(Error::Usage(
                    Say::new(format!("customer `{}` already exists", c.slug))
                        .help("pick another slug"),
                ));
            }
            if let Some(r) = &c.repo {
                if let Some(other) = registry.by_repo(r) {
                    return Err(Error::usage(format!(
                        "repo `{r}` already belongs to `{}`",
                        other.slug
                    )));
                }
            }
            edited(edit::add(text, &registry.doc, file, &c))
        },
        |after| entry_done(after, &c.slug, "add the customer", |_| true),
    )?;
    cx.record(
        crate::audit::Entry::now("registry", "added")
            .customer(&c.slug)
            .detail(format!("added {}", c.repo.as_deref().unwrap_or("(local)"))),
    );
    cx.out.result(&format!(
        "added `{}` to {}",
        c.slug,
        registry_file(manager).1
    ));
    Ok(())
}
