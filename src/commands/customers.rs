//! `fleetform customers add | list | show | revoke | pin | unpin |
//! dispatch-key | rotate-key | instructions`: the registry, edited in place (order and
//! comments kept, atomic writes). Tokens are never accepted on the command
//! line nor written to any file; dispatch keys are derived from the
//! manager's secret (`FLEETFORM_DISPATCH_SECRET`) and printed only by the
//! commands that issue them.

use std::path::PathBuf;

use crate::cli::{CustomersArgs, CustomersCommand};
use crate::config::edit;
use crate::config::{display_path, is_date, Customer, Manager, Registry, Status, TokenInfo};
use crate::error::{Error, Result};
use crate::output::Output;

mod keys;
mod pins;
mod secret_keys;

use crate::deploy::customers::instructions::instructions;
use crate::deploy::customers::view::{list, show};
use keys::{dispatch_key, manager_secret, print_key, rotate_key};

pub fn run(args: &CustomersArgs, manager_dir: &std::path::Path, out: &Output) -> Result<()> {
    let manager = Manager::load(manager_dir)?;
    match &args.command {
        CustomersCommand::List { json, notify } => list(&manager, *json, *notify, out),
        CustomersCommand::Show { slug, json } => show(&manager, slug, *json, out),
        CustomersCommand::Add { .. } => {
            let mut c = new_customer(&manager, &args.command)
                .ok_or_else(|| Error::Failed("`customers add` without its arguments".into()))?;
            resolve_repo_id(&manager, &mut c, out)?;
            // The secret is needed before the registry is written; the key
            // is shown once the customer is in. Behind the relay customers
            // hold no key.
            let secret = match &c.repo {
                Some(_) if manager.config.relay.is_none() => Some(manager_secret("add")?),
                _ => None,
            };
            let (slug, repo) = (c.slug.clone(), c.repo.clone());
            let made = secret_keys::make(&manager, &mut c)?;
            add(&manager, c, out)?;
            secret_keys::seal(&manager, &slug, &made, out)?;
            secret_keys::tell(&manager, &slug, &made, out);
            if let (Some(secret), Some(repo)) = (secret, repo) {
                print_key(&secret.customer_key(&slug, 1), &repo, out);
            }
            Ok(())
        }
        CustomersCommand::Pin(a) => pins::pin(&manager, a, out),
        CustomersCommand::Unpin(a) => pins::unpin(&manager, a, out),
        CustomersCommand::DispatchKey { slug } => dispatch_key(&manager, slug, out),
        CustomersCommand::RotateKey { slug } => rotate_key(&manager, slug, out),
        CustomersCommand::RotateSecretsKey(a) => secret_keys::rotate(
            &manager,
            a,
            |r| write_recipient(&manager, &a.slug, &a.env, r),
            out,
        ),
        CustomersCommand::Revoke { slug, reason, date } => {
            revoke(&manager, slug, reason, date.clone(), out)
        }
        CustomersCommand::Offboard(a) => offboard(&manager, a, out),
        CustomersCommand::Instructions {
            slug,
            manager_repo,
            template,
            action_ref,
            relay_url,
        } => instructions(
            &manager,
            slug,
            manager_repo.as_deref(),
            (
                template.as_ref(),
                action_ref.as_deref(),
                relay_url.as_deref(),
            ),
            out,
        ),
    }
}

/// Fills the new customer's `repo_id` from GitHub when it was not given.
/// Behind the relay it is required (customers are found by it); without
/// the relay a lookup that cannot be made is only a note.
fn resolve_repo_id(manager: &Manager, c: &mut Customer, out: &Output) -> Result<()> {
    let (Some(repo), None) = (c.repo.clone(), c.repo_id) else {
        return Ok(());
    };
    let relay = manager.config.relay.is_some();
    match crate::github::Token::from_env() {
        Some(token) => {
            out.mask(token.expose());
            let rt = crate::github::runtime()?;
            let gh = crate::github::GitHub::new(
                &rt,
                &crate::github::GitHub::api_url_from_env(),
                Some(&token),
                false,
            )?;
            let found = rt
                .block_on(gh.repo_facts(&repo))
                .map_err(|e| Error::Failed(format!("looking up the id of {repo}: {e}")))?;
            match found {
                Some(facts) => c.repo_id = Some(facts.id),
                None => {
                    return Err(Error::Usage(format!(
                        "{repo} does not exist or the token cannot see it; check the name (pass --repo-id to register it anyway)"
                    )))
                }
            }
        }
        None if relay => {
            return Err(Error::Usage(format!(
                "the relay finds customers by repository id: pass --repo-id (the `id` of `gh api repos/{repo}`) or set FLEETFORM_TOKEN so it is looked up"
            )))
        }
        None => out.note(&format!(
            "{repo}: no token to look up its repository id (set FLEETFORM_TOKEN or pass --repo-id); the relay needs it"
        )),
    }
    Ok(())
}

/// The registry's recipient of `slug` × `env` set to `recipient`.
fn write_recipient(manager: &Manager, slug: &str, env: &str, recipient: &str) -> Result<()> {
    edit_registry(
        manager,
        |registry, text, file| {
            let index = registry.index_of(slug).map_err(Error::Usage)?;
            let mut secrets = registry.customers[index].secrets.clone();
            secrets.insert(env.to_string(), recipient.to_string());
            crate::config::edit::set_secrets(text, &registry.doc, file, index, &secrets)
                .map(Some)
                .map_err(|e| Error::Failed(e.to_string()))
        },
        |after| match after.get(slug).and_then(|c| c.secrets.get(env)) {
            Some(r) if r == recipient => Ok(()),
            _ => Err(Error::Failed(
                "the edit did not set the recipient, so nothing was written".into(),
            )),
        },
    )
    .map(drop)
}

/// The customer `customers add` registers (none for another command).
fn new_customer(manager: &Manager, command: &CustomersCommand) -> Option<Customer> {
    let CustomersCommand::Add {
        slug,
        repo,
        repo_id,
        path,
        contact,
        environments,
        date,
        token_name,
        token_expires,
    } = command
    else {
        return None;
    };
    Some(Customer {
        slug: slug.clone(),
        repo: repo.clone(),
        repo_id: *repo_id,
        path: path.clone(),
        contact: contact.clone(),
        environments: if environments.is_empty() {
            manager
                .environment_names()
                .iter()
                .map(|s| s.to_string())
                .collect()
        } else {
            environments.clone()
        },
        status: Status::Active,
        added: date.clone().unwrap_or_else(crate::audit::today),
        revoked: None,
        offboarded: None,
        products: None,
        labels: Default::default(),
        secrets: Default::default(),
        identity: None,
        key_generation: None,
        token: match (token_name, token_expires) {
            (Some(name), Some(expires)) => Some(TokenInfo {
                name: name.clone(),
                expires: expires.clone(),
            }),
            _ => None,
        },
        pins: Vec::new(),
    })
}

fn refuse_secretish(field: &str, value: &str) -> Result<()> {
    if crate::values::secrets::looks_like_credential(value) {
        return Err(Error::Usage(format!(
            "{field} looks like a token; fleetform never stores tokens (they belong in GitHub secrets)"
        )));
    }
    Ok(())
}

/// The registry's path and how messages show it.
fn registry_file(manager: &Manager) -> (PathBuf, String) {
    let path = manager.path(&manager.config.registry);
    let shown = display_path(&path).display().to_string();
    (path, shown)
}

/// One edit of the registry under its lock ([`edit::RegistryLock`]):
/// the registry is read and checked inside the lock, `edit` turns it and
/// its text into the new text (`None`: nothing to write), the new text must
/// parse, validate and pass `check`, and is written atomically before the
/// lock is released. Returns the registry as written, if anything was.
fn edit_registry(
    manager: &Manager,
    edit: impl FnOnce(&Registry, &str, &str) -> Result<Option<String>>,
    check: impl FnOnce(&Registry) -> Result<()>,
) -> Result<Option<Registry>> {
    use edit::LockError;
    let (path, shown) = registry_file(manager);
    let timeout = edit::lock_timeout_from_env().map_err(|e| Error::Usage(e.to_string()))?;
    let _lock = edit::RegistryLock::acquire(&path, &shown, timeout).map_err(|e| match e {
        LockError::BadTimeout { .. } | LockError::Symlink { .. } => Error::Usage(e.to_string()),
        LockError::TimedOut { .. } | LockError::Io { .. } => Error::Failed(e.to_string()),
    })?;
    let registry = Registry::load(manager)?;
    let text = std::fs::read_to_string(&registry.file)
        .map_err(|e| Error::Failed(format!("{shown}: {e}")))?;
    match edit(&registry, &text, &shown)? {
        Some(edited) => commit_edit(manager, &registry.file, &edited, check).map(Some),
        None => Ok(None),
    }
}

/// Writes new registry text after checking it parses, validates and
/// passes `check`.
fn commit_edit(
    manager: &Manager,
    path: &std::path::Path,
    text: &str,
    check: impl FnOnce(&Registry) -> Result<()>,
) -> Result<Registry> {
    let registry = Registry::parse(manager, path, text.as_bytes()).map_err(|e| {
        Error::Failed(format!(
            "the edited registry would not be valid, so nothing was written: {e}"
        ))
    })?;
    check(&registry)?;
    crate::util::fs::write_atomic(path, text.as_bytes()).map_err(|e| {
        Error::Failed(format!(
            "cannot write {}: {e}",
            display_path(path).display()
        ))
    })?;
    Ok(registry)
}

/// `--path` names the customer's checkout, a folder that exists, relative
/// to the registry's folder (as `path:` in the registry is read).
fn check_local_path(manager: &Manager, p: &std::path::Path) -> Result<()> {
    let (registry, shown) = registry_file(manager);
    let base = registry.parent().unwrap_or(std::path::Path::new("."));
    let problem = match std::fs::metadata(base.join(p)) {
        Ok(m) if m.is_dir() => return Ok(()),
        Ok(_) => "is not a folder".to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "does not exist".to_string(),
        Err(e) => format!("cannot be read: {e}"),
    };
    Err(Error::Usage(format!(
        "--path `{}` {problem} (it is relative to the folder of {shown}); give the customer's checkout, e.g. one made with `fleetform init --customer --dir DIR`",
        p.display()
    )))
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

/// `customers add`: the registry's own rules for one entry
/// ([`crate::config::entry_problem`]) named by flag, the local
/// path, then the edit under the registry's lock.
fn add(manager: &Manager, c: Customer, out: &Output) -> Result<()> {
    if let Some((_, problem)) = crate::config::entry_problem(&c, &flag_name) {
        return Err(Error::Usage(problem));
    }
    if let Some(p) = &c.path {
        check_local_path(manager, p)?;
    }
    refuse_secretish("--contact", &c.contact)?;
    edit_registry(
        manager,
        |registry, text, file| {
            if registry.get(&c.slug).is_some() {
                return Err(Error::Usage(format!(
                    "customer `{}` already exists; pick another slug",
                    c.slug
                )));
            }
            if let Some(r) = &c.repo {
                if let Some(other) = registry.by_repo(r) {
                    return Err(Error::Usage(format!(
                        "repo `{r}` already belongs to `{}`",
                        other.slug
                    )));
                }
            }
            edit::add(text, &registry.doc, file, &c)
                .map(Some)
                .map_err(|e| Error::Failed(e.to_string()))
        },
        |after| match after.get(&c.slug) {
            Some(_) => Ok(()),
            None => Err(Error::Failed(
                "the edit did not add the customer, so nothing was written".into(),
            )),
        },
    )?;
    crate::audit::record(
        out,
        crate::audit::Entry::now("registry", "added")
            .customer(&c.slug)
            .detail(format!("added {}", c.repo.as_deref().unwrap_or("(local)"))),
    );
    out.result(&format!(
        "added `{}` to {}",
        c.slug,
        registry_file(manager).1
    ));
    Ok(())
}

fn revoke(
    manager: &Manager,
    slug: &str,
    reason: &str,
    date: Option<String>,
    out: &Output,
) -> Result<()> {
    if reason.trim().is_empty() {
        return Err(Error::Usage("--reason must say why".into()));
    }
    refuse_secretish("--reason", reason)?;
    let date = date.unwrap_or_else(crate::audit::today);
    if !is_date(&date) {
        return Err(Error::Usage("--date must be YYYY-MM-DD".into()));
    }
    let before = Registry::load(manager)?
        .get(slug)
        .map(|c| (c.slug.clone(), c.secrets.clone()));
    let written = edit_registry(
        manager,
        |registry, text, file| {
            let index = registry.index_of(slug).map_err(Error::Usage)?;
            if !registry.customers[index].is_active() {
                return Ok(None);
            }
            let revoked = edit::revoke(text, &registry.doc, file, index, &date, reason)
                .map_err(|e| Error::Failed(e.to_string()))?;
            secret_keys::retire(&revoked, file, index).map(Some)
        },
        |after| match after.get(slug) {
            Some(c) if !c.is_active() && c.secrets.is_empty() => Ok(()),
            _ => Err(Error::Failed(
                "the edit did not revoke the customer, so nothing was written".into(),
            )),
        },
    )?;
    let Some(after) = written else {
        out.result(&format!("`{slug}` is already revoked"));
        let registry = Registry::load(manager)?;
        if let Some(c) = registry.get(slug) {
            out.result(&revoke_steps(manager, &registry, c));
        }
        return Ok(());
    };
    crate::audit::record(
        out,
        crate::audit::Entry::now("registry", "revoked")
            .customer(slug)
            .detail(reason.to_string()),
    );
    out.result(&format!(
        "revoked `{slug}` ({date}): its dispatches are refused from now on. Its state is kept."
    ));
    // Its recipients are out of the registry, so nothing decrypts for it
    // even if its keyring entries stayed.
    if let Err(e) = secret_keys::unseal(manager, slug) {
        out.warn(&format!("the fleet keyring keeps `{slug}`'s entries: {e}"));
    }
    secret_keys::tell_retired(manager, &before, out);
    if let Some(c) = after.get(slug) {
        out.result(&revoke_steps(manager, &after, c));
    }
    Ok(())
}

/// What to delete where once a customer is revoked: the secrets and
/// variables of `workflows/customer-trigger.yml` in its repo, the token
/// it created (by its recorded name), and the manager's access to its
/// repos (`SOURCE_REPOS_PAT` in the manager's environments).
/// `customers offboard`: the preview, or with `--approve` the destroy.
fn offboard(manager: &Manager, a: &crate::cli::OffboardArgs, out: &Output) -> Result<()> {
    let terraform = std::env::var_os("FLEETFORM_TERRAFORM").map(std::path::PathBuf::from);
    let s = crate::deploy::offboard::Settings {
        out_dir: &a.out,
        terraform: terraform.as_deref(),
        customer_dir: a.customer_dir.as_deref(),
    };
    let Some(digest) = &a.approve else {
        return offboard_preview(manager, &a.slug, a.reason.as_deref(), &s, out);
    };
    let approve = crate::deploy::offboard::Approve {
        digest,
        reason: a.reason.as_deref(),
        confirms: a.confirms,
        unreviewed: a.unreviewed,
    };
    offboard_destroy(manager, &a.slug, &approve, &s, out)
}

/// `customers offboard` without `--approve`: the destroy previewed and
/// sealed, shown as the approver reads it.
fn offboard_preview(
    manager: &Manager,
    slug: &str,
    reason: Option<&str>,
    s: &crate::deploy::offboard::Settings<'_>,
    out: &Output,
) -> Result<()> {
    use crate::deploy::offboard;
    let reason = crate::deploy::ops::require_reason(reason)?;
    // On GitHub Actions only active members of `rollout.operators`.
    crate::deploy::ops::check_operator(manager, out)?;
    let registry = Registry::load(manager)?;
    let c = registry.require(slug).map_err(Error::Usage)?;
    let p = offboard::preview(manager, &registry, c, s, &reason, out)?;
    let ctx = crate::ci::RunContext::from_env();
    let view = crate::report::offboard::OffboardPreview {
        customer: &p.sealed.customer,
        digest: &p.digest,
        reason: &p.sealed.reason,
        requested_by: &p.sealed.requested_by,
        units: p
            .sealed
            .units
            .iter()
            .map(|u| crate::report::offboard::OffboardUnit {
                unit: &u.unit,
                destroys: &u.destroys,
                in_state: u.state.resources,
            })
            .collect(),
        environment: offboard::ENVIRONMENT,
        run_id: ctx.run_id.as_deref(),
    };
    let text = crate::report::offboard::preview(&view)
        .map_err(|e| Error::Failed(format!("rendering the offboarding preview: {e}")))?;
    out.result(&text);
    Ok(())
}

/// `customers offboard --approve DIGEST`: the sealed preview destroyed
/// after the second person, and the entry marked `offboarded` when
/// nothing is left.
fn offboard_destroy(
    manager: &Manager,
    slug: &str,
    a: &crate::deploy::offboard::Approve<'_>,
    s: &crate::deploy::offboard::Settings<'_>,
    out: &Output,
) -> Result<()> {
    use crate::deploy::offboard;
    // On GitHub Actions only active members of `rollout.operators`.
    crate::deploy::ops::check_operator(manager, out)?;
    let registry = Registry::load(manager)?;
    let c = registry.require(slug).map_err(Error::Usage)?;
    let done = offboard::destroy(manager, c, s, a, out)?;
    if !done.failed.is_empty() {
        return Err(Error::Failed(offboard::what_is_left(slug, &done)));
    }
    let date = crate::audit::today();
    mark_offboarded(manager, slug, &date)?;
    let approvers: Vec<String> = done.verdict.approver.iter().cloned().collect();
    crate::audit::record(
        out,
        crate::audit::Entry::now("registry", "offboarded")
            .customer(slug)
            .reason(&done.sealed.reason)
            .plan(Some(&done.digest))
            .approval(done.verdict.approval)
            .approvers(&approvers)
            .detail(done.verdict.describe()),
    );
    out.result(&format!(
        "offboarded `{slug}` ({date}): {} destroyed in {}, {}; the state of each from before its destroy is archived in {}",
        crate::util::text::count(done.sealed.total(), "resource", "resources"),
        crate::util::text::count(done.destroyed.len(), "pair", "pairs"),
        done.verdict.describe(),
        crate::records::Store::for_customer_role(manager).describe()
    ));
    Ok(())
}

/// The registry entry marked `offboarded: <date>`.
fn mark_offboarded(manager: &Manager, slug: &str, date: &str) -> Result<()> {
    edit_registry(
        manager,
        |registry, text, file| {
            let index = registry.index_of(slug).map_err(Error::Usage)?;
            edit::offboard(text, &registry.doc, file, index, date)
                .map(Some)
                .map_err(|e| Error::Failed(e.to_string()))
        },
        |after| match after.get(slug) {
            Some(c) if c.offboarded.is_some() && !c.is_active() => Ok(()),
            _ => Err(Error::Failed(
                "the edit did not mark the customer offboarded, so nothing was written".into(),
            )),
        },
    )
    .map(drop)
}

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
        .filter(|o| o.slug != c.slug && o.is_active())
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
