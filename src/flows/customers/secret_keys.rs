//! The age identities `customers add` makes for a customer's secrets
//! (fleetform.yml `secrets:`): one per environment, its recipient in the
//! registry, the identity either stored straight into the customer's own
//! environment of the manager repo through GitHub's API, sealed, never
//! on disk (`--store-keys-in`, [`store`]), or in a new owner-only file
//! under `secrets.keys_dir` for the operator to store as the
//! environment's secret and delete.

use std::io::Write as _;
use std::path::PathBuf;

use super::edit::{edit_entry, edited};
use crate::config::Activity;
use crate::config::{display_path, Customer, Manager};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::values::secret_files::KEY_VAR;

/// One identity made for a customer × environment: written to `path`,
/// and held (wiped on drop) until it is sealed into the fleet keyring.
pub(super) struct Made {
    pub env: String,
    /// Its file; `None` when it is held in memory only, to be stored.
    pub path: Option<PathBuf>,
    identity: zeroize::Zeroizing<String>,
}

/// Makes the customer's identities (none without `secrets:`): the
/// recipients go into `c`, the identities into new files (`to_disk`) or
/// memory.
pub(super) fn make(manager: &Manager, c: &mut Customer, to_disk: bool) -> Result<Vec<Made>> {
    let Some(config) = &manager.config.secrets else {
        return Ok(Vec::new());
    };
    let mut made = Vec::new();
    for env in c.environments.clone() {
        let (recipient, one) = make_one(manager, config, &c.slug, &env, to_disk)?;
        c.secrets.insert(env.clone(), recipient);
        made.push(one);
    }
    Ok(made)
}

/// One new identity for `slug` × `env`, in its own file (`to_disk`) or
/// memory: its recipient and what was made.
fn make_one(
    manager: &Manager,
    config: &crate::config::SecretsConfig,
    slug: &str,
    env: &str,
    to_disk: bool,
) -> Result<(String, Made)> {
    let (recipient, identity) = crate::values::secret_files::generate();
    let path = match to_disk {
        true => {
            let dir = manager.path(&config.keys_dir);
            std::fs::create_dir_all(&dir)
                .map_err(|e| Error::failed(format!("{}: {e}", display_path(&dir).display())))?;
            let path = dir.join(format!("{slug}.{env}.agekey"));
            write_new_private(&path, &identity)?;
            Some(path)
        }
        false => None,
    };
    let made = Made {
        env: env.to_string(),
        path,
        identity,
    };
    Ok((recipient, made))
}

/// With `secrets.fleet_recipient`, `made` sealed into the fleet keyring
/// of its environment, to that environment's fleet recipient (replacing
/// the pair's old entries), so fleet jobs can plan the customer; an
/// environment without a fleet recipient, and a manager without any,
/// get nothing.
pub(super) fn seal(manager: &Manager, slug: &str, made: &[Made], out: &Output) -> Result<()> {
    use crate::values::keyring;
    let Some(config) = manager.config.secrets.as_ref() else {
        return Ok(());
    };
    let today = jiff::Zoned::now().date();
    // One keyring file at a time: its recipient, its new entries.
    let mut files: std::collections::BTreeMap<String, (&str, Vec<keyring::Sealed>)> =
        std::collections::BTreeMap::new();
    for m in made {
        let Some(fleet) = config.fleet_recipient_for(&m.env) else {
            continue;
        };
        let sealed = keyring::Sealed {
            name: keyring::entry_name(slug, &m.env),
            updated: today,
            armored: keyring::seal(fleet, &m.identity).map_err(Error::usage)?,
        };
        files
            .entry(config.keyring_for(&m.env))
            .or_insert((fleet, Vec::new()))
            .1
            .push(sealed);
    }
    for (rel, (fleet, add)) in files {
        let n = add.len();
        edit_keyring(manager, &rel, fleet, add, |_| false)?;
        out.note(&format!(
            "{slug}: {n} identit{} sealed into the fleet keyring {rel} (fleet jobs open it with FLEETFORM_FLEET_SECRETS_KEY); commit it",
            if n == 1 { "y" } else { "ies" },
        ));
    }
    Ok(())
}

/// Revoking drops the customer's entries from every fleet keyring.
pub(super) fn unseal(manager: &Manager, slug: &str) -> Result<()> {
    let Some(config) = manager.config.secrets.as_ref() else {
        return Ok(());
    };
    let prefix = format!("{slug}/");
    let mut done = std::collections::BTreeSet::new();
    for env in manager.environment_names() {
        let Some(fleet) = config.fleet_recipient_for(env) else {
            continue;
        };
        let rel = config.keyring_for(env);
        if done.insert(rel.clone()) && manager.path(std::path::Path::new(&rel)).exists() {
            edit_keyring(manager, &rel, fleet, Vec::new(), |n| n.starts_with(&prefix))?;
        }
    }
    Ok(())
}

/// The keyring `rel` rewritten (temp file, then rename): `add` put in,
/// the entries `remove` names dropped.
fn edit_keyring(
    manager: &Manager,
    rel: &str,
    fleet: &str,
    add: Vec<crate::values::keyring::Sealed>,
    remove: impl Fn(&str) -> bool,
) -> Result<()> {
    use crate::values::keyring;
    let rel = std::path::Path::new(rel);
    let path = manager.path(rel);
    let shown = display_path(&path);
    let limit = fleetform_yaml::Limits::default().max_bytes as u64;
    let current = match crate::util::fs::read_under(&manager.root, rel, limit) {
        Ok(b) => Some(keyring::parse(&shown, &b).map_err(|e| Error::failed(e.to_string()))?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::failed(format!("{}: {}", shown.display(), e.reason))),
    };
    let text = keyring::edited(current.as_ref(), fleet, add, remove).map_err(Error::usage)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::failed(format!("{}: {e}", display_path(dir).display())))?;
    }
    crate::util::fs::write_atomic(&path, text.as_bytes()).map_err(|e| Error::failed(e.to_string()))
}

/// A new file only its owner can read (never over an existing one, never
/// through a symlink).
fn write_new_private(path: &std::path::Path, text: &str) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let shown = display_path(path);
    let mut f = opts.open(path).map_err(|e| {
        Error::failed(format!(
            "{}: {e}; an identity is never overwritten (move the old one away first)",
            shown.display()
        ))
    })?;
    f.write_all(format!("{text}\n").as_bytes())
        .map_err(|e| Error::failed(format!("{}: {e}", shown.display())))
}

/// What to do with the identities made: each goes into the customer's own
/// GitHub environment for the environment's secrets key
/// (`<env>-secrets-<slug>`, with the artifact key beside it), as
/// `FLEETFORM_SECRETS_KEY`: the deploy workflow's key job reads it there by
/// name and hands it to the plan and apply jobs sealed for them.
pub(super) fn tell(manager: &Manager, slug: &str, made: &[Made], out: &Output) {
    for Made { env, path, .. } in made {
        let (Some(e), Some(path)) = (manager.environment(env), path) else {
            continue;
        };
        let file = display_path(path);
        let own = e.secrets_environment(slug);
        out.note(&format!(
            "{slug}/{env}: secrets identity written to {} (owner-only). Store it in {slug}'s own environment `{own}` (create it with deployment branches: the default branch only; it holds nothing else), then delete the file: gh secret set {KEY_VAR} --env {own} < {}",
            file.display(),
            file.display(),
        ));
    }
}

/// `customers rotate-secrets-key SLUG --env ENV`: a new identity file, the
/// new recipient in the registry (the old one retired at once: no plan
/// decrypts a value encrypted to it), and what the customer must do.
pub fn rotate(manager: &Manager, slug: &str, env: &str, cx: &Context) -> Result<()> {
    let Some(config) = &manager.config.secrets else {
        return Err(Error::usage(
            "fleetform.yml has no `secrets:`, so customers have no secrets recipients",
        ));
    };
    let registry = crate::config::Registry::load(manager)?;
    let c = registry.require(slug).map_err(Error::usage)?;
    if !c.takes_part(Activity::Onboard) {
        return Err(Error::usage(format!(
            "`{slug}` is revoked: its recipients are retired, none is made again"
        )));
    }
    if !c.environments.iter().any(|e| e == env) {
        return Err(Error::usage(format!(
            "`{slug}` has no environment `{env}` (it has {})",
            c.environments.join(", ")
        )));
    }
    let old = c.secrets.get(env).cloned();
    let (recipient, made) = make_one(manager, config, slug, env, true)?;
    if let Err(e) = write_recipient(manager, slug, env, &recipient) {
        // No recipient without its identity, nor an identity without use.
        if let Some(path) = &made.path {
            let _ = std::fs::remove_file(path);
        }
        return Err(e);
    }
    let made = [made];
    seal(manager, slug, &made, &cx.out)?;
    cx.record(
        crate::audit::Entry::now("registry", "secrets key rotated")
            .customer(slug)
            .detail(format!("{env}: new recipient {recipient}")),
    );
    cx.out.result(&format!(
        "{slug}/{env}: new secrets recipient {recipient}{}",
        match &old {
            Some(o) =>
                format!(" (replaces {o}, retired now: no plan decrypts a value encrypted to it)"),
            None => String::new(),
        }
    ));
    tell(manager, slug, &made, &cx.out);
    cx.out.result(&reencrypt_steps(manager, c, env, &recipient));
    Ok(())
}

/// The registry's recipient of `slug` × `env` set to `recipient`.
fn write_recipient(manager: &Manager, slug: &str, env: &str, recipient: &str) -> Result<()> {
    edit_entry(
        manager,
        slug,
        "set the recipient",
        |registry, text, file, index| {
            let mut secrets = registry.customers[index].secrets.clone();
            secrets.insert(env.to_string(), recipient.to_string());
            edited(crate::config::edit::set_secrets(
                text,
                &registry.doc,
                file,
                index,
                &secrets,
            ))
        },
        |c| c.secrets.get(env).is_some_and(|r| r == recipient),
    )
    .map(drop)
}

/// What must happen in the customer's repo: every value of the
/// environment's secrets file encrypted again to the new recipient, by a
/// pull request (never pushed); through `fleetform sync` where the
/// customer template carries the recipients (`customer.secrets`).
fn reencrypt_steps(manager: &Manager, c: &Customer, env: &str, recipient: &str) -> String {
    let file = crate::values::customer::secrets_path(manager, env);
    let repo = c.repo.as_deref().unwrap_or("the customer's repo");
    let synced = crate::fleet::sync::template_files(manager)
        .map(|files| {
            files
                .iter()
                .any(|(_, src, _)| src.contains("customer.secrets"))
        })
        .unwrap_or(false);
    let pr = if synced {
        "The customer template (`sync.template_dir`) carries the recipients: `fleetform sync` opens the pull request with the new one in the customer's repo (it never pushes)."
    } else {
        "Send the customer the new recipient (`fleetform customers instructions` prints it), or carry it through the customer template (`customer.secrets` in `sync.template_dir`) and `fleetform sync`, which opens a pull request (never a push)."
    };
    format!(
        "Until {file} in {repo} is encrypted again, plans of {slug}/{env} refuse it (encrypted to the old recipient). The customer sets `recipient: {recipient}` and encrypts each value again (`printf %s VALUE | age -r {recipient} -a`) in a pull request. {pr}",
        slug = c.slug
    )
}

/// Revoking retires the customer's recipients: the `secrets:` of entry
/// `index` removed from `text` (already edited), so no plan decrypts for it.
pub(super) fn retire(text: &str, file: &str, index: usize) -> Result<String> {
    let doc = fleetform_yaml::load_bytes(
        text.as_bytes(),
        std::path::Path::new(file),
        &crate::config::REGISTRY_LIMITS,
    )
    .map_err(|e| Error::failed(format!("{file}: {}", e.message)))?;
    let none = std::collections::BTreeMap::new();
    crate::config::edit::set_secrets(text, &doc, file, index, &none)
        .map_err(|e| Error::failed(e.to_string()))
}

/// What revoking did to the customer's secrets recipients, and the
/// environments holding its identities, to delete.
pub(super) fn tell_retired(
    manager: &Manager,
    before: &Option<(String, std::collections::BTreeMap<String, String>)>,
    out: &Output,
) {
    let Some((slug, secrets)) = before.as_ref().filter(|(_, s)| !s.is_empty()) else {
        return;
    };
    let envs: Vec<String> = secrets
        .keys()
        .filter_map(|e| manager.environment(e))
        .map(|e| e.secrets_environment(slug))
        .collect();
    out.result(&format!(
        "retired the secrets recipients of `{slug}` ({}): they are out of the registry, so no plan decrypts its secrets. Delete the environments holding its identities: {}",
        secrets.keys().cloned().collect::<Vec<_>>().join(", "),
        envs.join(", ")
    ));
}

/// `customers add --store-keys-in OWNER/NAME`: each identity `made`
/// stored, sealed, as `FLEETFORM_SECRETS_KEY` of the customer's own
/// environment `<env>-secrets-<slug>` of the manager repo `repo` (made,
/// deployable from the default branch only, where missing), with the
/// admin's token in `FLEETFORM_MANAGER_TOKEN`. Nothing is written to
/// disk; a failure leaves the registry untouched (the caller writes it
/// after). API budget: 2 reads of the repository, 1 per 100
/// environments, and per identity 2 requests (its environment's public
/// key, the sealed secret) plus 2 writes where its environment is made.
pub(super) fn store(
    manager: &Manager,
    repo: &str,
    slug: &str,
    made: &[Made],
    cx: &Context,
) -> Result<()> {
    let Some(token) = crate::github::Token::from_var("FLEETFORM_MANAGER_TOKEN") else {
        return Err(Error::usage(
            "--store-keys-in: set FLEETFORM_MANAGER_TOKEN to a token of the manager repo's admin (for this run only)",
        ));
    };
    cx.out.mask(token.expose());
    let rt = crate::github::runtime()?;
    let gh = crate::flows::github_loop::session::client(&rt, Some(&token), false, cx)?;
    let failed = |what: String, e: crate::github::GitHubError| {
        Error::failed(format!("{what}: {e}; nothing was registered (run again)"))
    };
    rt.block_on(async {
        let branch = match gh.administered(repo).await {
            Ok(info) => info.default_branch,
            Err(crate::github::NotAdmin::Failed { why, .. }) => {
                return Err(Error::failed(format!(
                    "reading {repo}: {why}; nothing was registered (run again)"
                )))
            }
            Err(e) => {
                return Err(Error::refused(format!(
                    "--store-keys-in {repo}: {e}; environments and their secrets need Administration write: use a repository admin's token"
                )))
            }
        };
        let envs = gh
            .environments(repo)
            .await
            .map_err(|e| failed(format!("reading {repo}'s environments"), e))?;
        for m in made {
            let Some(e) = manager.environment(&m.env) else {
                continue;
            };
            let own = e.secrets_environment(slug);
            if !envs.iter().any(|x| x.name == own) {
                gh.custom_branch_environment(repo, &own, None)
                    .await
                    .map_err(|e| failed(format!("creating {own}"), e))?;
                gh.add_branch_policy(repo, &own, &branch)
                    .await
                    .map_err(|e| failed(format!("restricting {own} to `{branch}`"), e))?;
            }
            gh.store_environment_secret(repo, &own, KEY_VAR, &m.identity)
                .await
                .map_err(|e| failed(format!("storing {KEY_VAR} in {own}"), e))?;
            cx.out.note(&format!(
                "{slug}/{}: secrets identity stored, sealed, in `{own}` of {repo} as {KEY_VAR} (never written to disk); the environment needs nothing else",
                m.env,
            ));
        }
        Ok(())
    })
}
