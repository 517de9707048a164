//! `fleetform customers add | list | show | revoke | dispatch-key |
//! rotate-key | instructions`: the registry, edited in place (order and
//! comments kept, atomic writes). Tokens are never accepted on the command
//! line nor written to any file; dispatch keys are derived from the
//! manager's secret (`FLEETFORM_DISPATCH_SECRET`) and printed only by the
//! commands that issue them.

use std::path::PathBuf;

use serde::Serialize;

use crate::cli::{CustomersArgs, CustomersCommand};
use crate::config::edit;
use crate::config::{
    display_path, is_date, is_repo, Customer, Manager, Registry, Status, TokenInfo, TokenState,
    TOKEN_WARN_DAYS,
};
use crate::dispatch::auth::{self, DispatchKey, ManagerSecret};
use crate::error::{Error, Result};
use crate::output::{table, Output};

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
            add(&manager, c, out)?;
            if let (Some(secret), Some(repo)) = (secret, repo) {
                print_key(&secret.customer_key(&slug, 1), &repo, out);
            }
            Ok(())
        }
        CustomersCommand::DispatchKey { slug } => dispatch_key(&manager, slug, out),
        CustomersCommand::RotateKey { slug } => rotate_key(&manager, slug, out),
        CustomersCommand::Revoke { slug, reason, date } => {
            revoke(&manager, slug, reason, date.clone(), out)
        }
        CustomersCommand::Offboard {
            slug,
            reason,
            approve,
            out: out_dir,
        } => {
            let terraform = std::env::var_os("FLEETFORM_TERRAFORM").map(std::path::PathBuf::from);
            let s = crate::fleet::offboard::Settings {
                out_dir,
                terraform: terraform.as_deref(),
                reason,
            };
            offboard(&manager, slug, approve.as_deref(), &s, out)
        }
        CustomersCommand::Instructions {
            slug,
            manager_repo,
            template,
            action_ref,
            relay_url,
        } => instructions(
            &manager,
            slug,
            manager_repo,
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

fn list(manager: &Manager, json: bool, notify: bool, out: &Output) -> Result<()> {
    let registry = Registry::load(manager)?;
    #[derive(Serialize)]
    struct Item<'a> {
        slug: &'a str,
        status: Status,
        repo: Option<&'a str>,
        environments: &'a [String],
        added: &'a str,
        revoked: Option<&'a crate::config::Revocation>,
        #[serde(skip_serializing_if = "Option::is_none")]
        token: Option<&'a TokenInfo>,
        /// Where the token stands today.
        #[serde(skip_serializing_if = "Option::is_none")]
        token_state: Option<TokenState>,
    }
    let today = today();
    let items: Vec<Item> = registry
        .customers
        .iter()
        .map(|c| Item {
            slug: &c.slug,
            status: c.status,
            repo: c.repo.as_deref(),
            environments: &c.environments,
            added: &c.added,
            revoked: c.revoked.as_ref(),
            token: c.token.as_ref(),
            token_state: c.token.as_ref().and_then(|t| t.state(today)),
        })
        .collect();
    if notify {
        notify_tokens(manager, &registry, today, out);
    }
    if json {
        out.json(&items).expect("serialisable");
        return Ok(());
    }
    let with_tokens = items.iter().any(|i| i.token.is_some());
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            let mut row = vec![
                i.slug.to_string(),
                match i.revoked {
                    Some(r) => format!("revoked {}", r.date),
                    None => "active".into(),
                },
                i.repo.unwrap_or("-").to_string(),
                i.environments.join(","),
                i.added.to_string(),
            ];
            if with_tokens {
                row.push(token_cell(i.token, i.token_state, i.revoked.is_none()));
            }
            row
        })
        .collect();
    let mut header = vec!["CUSTOMER", "STATUS", "REPO", "ENVIRONMENTS", "ADDED"];
    if with_tokens {
        header.push("TOKEN");
    }
    out.result(table(&header, &rows).trim_end());
    token_warning(&registry, today, out);
    Ok(())
}

/// Today, UTC (`FLEETFORM_NOW`, Unix seconds, in tests).
fn today() -> jiff::civil::Date {
    let secs = i64::try_from(crate::rollout::now()).unwrap_or(i64::MAX);
    jiff::Timestamp::from_second(secs)
        .unwrap_or_else(|_| jiff::Timestamp::now())
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
}

/// The token column: its name and expiry, flagged when an active
/// customer's token expires within 30 days or has expired.
fn token_cell(token: Option<&TokenInfo>, state: Option<TokenState>, active: bool) -> String {
    let Some(t) = token else {
        return "-".into();
    };
    let flag = match state {
        Some(TokenState::Expiring(0)) if active => " (EXPIRES TODAY)".to_string(),
        Some(TokenState::Expiring(d)) if active => format!(
            " (expires in {})",
            crate::util::text::count(d, "day", "days")
        ),
        Some(TokenState::Expired(d)) if active => format!(
            " (EXPIRED {} ago)",
            crate::util::text::count(d, "day", "days")
        ),
        _ => String::new(),
    };
    format!("{} {}{flag}", t.name, t.expires)
}

/// One `token_expiring` notice per active customer whose token expires
/// within [`TOKEN_WARN_DAYS`] days or has expired: the slug, the days.
fn notify_tokens(manager: &Manager, registry: &Registry, today: jiff::civil::Date, out: &Output) {
    for c in registry.customers.iter().filter(|c| c.is_active()) {
        let when = match c.token.as_ref().and_then(|t| t.state(today)) {
            Some(TokenState::Expiring(d)) => {
                format!("expires in {}", crate::util::text::count(d, "day", "days"))
            }
            Some(TokenState::Expired(d)) => {
                format!("expired {} ago", crate::util::text::count(d, "day", "days"))
            }
            _ => continue,
        };
        let mut notice = crate::notify::Notice::new(
            crate::config::NotifyEvent::TokenExpiring,
            format!("the customer's manager-repo token (MANAGER_REPO_PAT) {when}; ask for a new one and record its expiry in customers.yml"),
        );
        notice.customer = Some(c.slug.clone());
        crate::notify::send(manager, &notice, out);
    }
}

/// One note naming the active customers whose tokens need renewing.
fn token_warning(registry: &Registry, today: jiff::civil::Date, out: &Output) {
    let due: Vec<&str> = registry
        .customers
        .iter()
        .filter(|c| c.is_active())
        .filter(|c| {
            let state = c.token.as_ref().and_then(|t| t.state(today));
            matches!(
                state,
                Some(TokenState::Expiring(_) | TokenState::Expired(_))
            )
        })
        .map(|c| c.slug.as_str())
        .collect();
    if !due.is_empty() {
        out.note(&format!(
            "the tokens of {} expire within {TOKEN_WARN_DAYS} days or have expired: ask each customer for a new MANAGER_REPO_PAT, then record it with its new expiry in customers.yml",
            due.join(", ")
        ));
    }
}

fn show(manager: &Manager, slug: &str, json: bool, out: &Output) -> Result<()> {
    let registry = Registry::load(manager)?;
    let c = registry.require(slug).map_err(Error::Usage)?;
    let identities = manager.stage_identities(c, &c.environments);
    if json {
        let mut v = serde_json::to_value(c).expect("serialisable");
        match &identities {
            Ok(ids) if ids.is_empty() => {}
            Ok(ids) => v["cloud_identities"] = serde_json::to_value(ids).expect("serialisable"),
            Err(e) => v["cloud_identities_error"] = e.clone().into(),
        }
        for (i, p) in c.pins.iter().enumerate() {
            v["pins"][i]["expired_days"] = p.expired_days(today()).into();
        }
        out.json(&v).expect("serialisable");
        return Ok(());
    }
    let mut rows = vec![
        vec!["slug".into(), c.slug.clone()],
        vec!["status".into(), format!("{:?}", c.status).to_lowercase()],
        vec!["repo".into(), c.repo.clone().unwrap_or_else(|| "-".into())],
        vec![
            "path".into(),
            c.path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "-".into()),
        ],
        vec!["contact".into(), c.contact.clone()],
        vec!["environments".into(), c.environments.join(", ")],
        vec!["added".into(), c.added.clone()],
        vec![
            "dispatch key".into(),
            format!("generation {}", c.key_generation()),
        ],
    ];
    if let Some(t) = &c.token {
        let state = t.state(today());
        rows.push(vec![
            "token".into(),
            token_cell(Some(t), state, c.is_active())
                .trim_end()
                .to_string(),
        ]);
    }
    if let Some(r) = &c.revoked {
        rows.push(vec!["revoked".into(), format!("{} ({})", r.date, r.reason)]);
    }
    for p in &c.pins {
        rows.push(vec!["pin".into(), p.describe_on(today())]);
    }
    rows.push(vec![
        "state keys".into(),
        c.environments
            .iter()
            .map(|e| manager.state_key(&c.slug, e))
            .collect::<Vec<_>>()
            .join(", "),
    ]);
    match identities {
        Ok(ids) => {
            for (env, i) in ids {
                rows.push(vec![
                    format!("identity {env}"),
                    format!(
                        "plan {}, apply {} ({})",
                        i.plan.role_arn, i.apply.role_arn, i.apply.region
                    ),
                ]);
            }
        }
        Err(e) => rows.push(vec!["identity".into(), format!("error: {e}")]),
    }
    out.result(table(&["FIELD", "VALUE"], &rows).trim_end());
    Ok(())
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
    let written = edit_registry(
        manager,
        |registry, text, file| {
            let index = registry.index_of(slug).map_err(Error::Usage)?;
            if !registry.customers[index].is_active() {
                return Ok(None);
            }
            edit::revoke(text, &registry.doc, file, index, &date, reason)
                .map(Some)
                .map_err(|e| Error::Failed(e.to_string()))
        },
        |after| match after.get(slug) {
            Some(c) if !c.is_active() => Ok(()),
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
    if let Some(c) = after.get(slug) {
        out.result(&revoke_steps(manager, &after, c));
    }
    Ok(())
}

/// What to delete where once a customer is revoked: the secrets and
/// variables of `workflows/customer-trigger.yml` in its repo, the token
/// it created (by its recorded name), and the manager's access to its
/// repos (`SOURCE_REPOS_PAT` in the manager's environments).
/// `customers offboard`: the plans and their digest, or, approved, their
/// apply and the entry marked `offboarded` when nothing is left.
fn offboard(
    manager: &Manager,
    slug: &str,
    approve: Option<&str>,
    s: &crate::fleet::offboard::Settings<'_>,
    out: &Output,
) -> Result<()> {
    use crate::fleet::offboard;
    crate::deploy::ops::require_reason(Some(s.reason))?;
    let registry = Registry::load(manager)?;
    let c = registry.require(slug).map_err(Error::Usage)?;
    let Some(approve) = approve else {
        let plan = offboard::plan(manager, &registry, c, s, out)?;
        out.result(&offboard::render(&plan));
        return Ok(());
    };
    let plan = offboard::made(manager, c, s.out_dir)?;
    offboard::check_approval(&plan, approve, s.out_dir)?;
    let applied = offboard::apply(manager, c, &plan, s, out)?;
    if !applied.failed.is_empty() {
        return Err(Error::Failed(offboard::what_is_left(slug, &applied)));
    }
    let date = crate::audit::today();
    edit_registry(
        manager,
        |registry, text, file| {
            let index = registry.index_of(slug).map_err(Error::Usage)?;
            edit::offboard(text, &registry.doc, file, index, &date)
                .map(Some)
                .map_err(|e| Error::Failed(e.to_string()))
        },
        |after| match after.get(slug) {
            Some(c) if c.offboarded.is_some() && !c.is_active() => Ok(()),
            _ => Err(Error::Failed(
                "the edit did not mark the customer offboarded, so nothing was written".into(),
            )),
        },
    )?;
    crate::audit::record(
        out,
        crate::audit::Entry::now("registry", "offboarded")
            .customer(slug)
            .reason(s.reason),
    );
    out.result(&format!(
        "offboarded `{slug}` ({date}): {} destroyed, each final state archived in {}",
        crate::util::text::count(applied.archived.len(), "pair", "pairs"),
        crate::records::Store::for_manager(manager).describe()
    ));
    Ok(())
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

fn instructions(
    manager: &Manager,
    slug: &str,
    manager_repo: &str,
    (template, action_ref, relay_url): (Option<&PathBuf>, Option<&str>, Option<&str>),
    out: &Output,
) -> Result<()> {
    if !is_repo(manager_repo) {
        return Err(Error::Usage(format!(
            "--manager-repo `{manager_repo}` is not owner/name"
        )));
    }
    let registry = Registry::load(manager)?;
    let c = registry.require(slug).map_err(Error::Usage)?;
    if !c.is_active() {
        return Err(Error::Usage(format!("customer `{slug}` is revoked")));
    }
    let version = env!("CARGO_PKG_VERSION");
    let action_ref = action_ref
        .map(str::to_string)
        .unwrap_or_else(crate::version::action_ref);
    // Behind the relay the customer holds nothing of the provider's; the
    // token path is the legacy one, for managers without `relay:`.
    let relay = manager.config.relay.as_ref();
    let trigger = match relay {
        Some(_) => crate::report::CUSTOMER_WORKFLOW,
        None => crate::report::CUSTOMER_WORKFLOW_TOKEN,
    };
    let workflow = crate::report::workflow::customer_workflow(trigger, &action_ref, version);
    let pinned_to = crate::report::workflow::describe_pin(&action_ref, version);
    let source = instructions_template(manager, template)?;
    let (owner, name) = manager_repo.split_once('/').expect("checked");
    let apply_note = apply_note(manager);
    let (starter, required) = starter_variables(manager, c)?;
    let ctx = minijinja::context! {
        customer => minijinja::Value::from(minijinja::value::Serde(c)),
        manager_repo => manager_repo,
        manager_owner => owner,
        manager_name => name,
        schema_path => manager.config.schema.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
        variables => manager.config.customer.variables.clone(),
        overrides => manager.config.customer.overrides.clone(),
        status_context => manager.config.status_context.clone(),
        version => version,
        action_ref => action_ref,
        pinned_to => pinned_to,
        workflow => workflow.trim_end(),
        apply_note => apply_note,
        key_secret => auth::KEY_ENV,
        relay => relay.is_some(),
        relay_url => relay_url.unwrap_or("(the relay address we send you)"),
        starter => starter.as_deref().map(str::trim_end),
        required => required,
        workflow_path => crate::report::CUSTOMER_WORKFLOW_PATH,
    };
    let env = crate::report::markdown::environment();
    let text = match source {
        Some(src) => env.render_str(&src, ctx),
        None => env
            .get_template("instructions.md")
            .expect("embedded")
            .render(ctx),
    }
    .map_err(|e| Error::Usage(format!("the instructions template failed: {e}")))?;
    out.document(text.trim_end());
    Ok(())
}

/// The customer's starter `infra/variables.yml`, made from the manager's
/// schema and checked as `validate --customer` checks the customer's file
/// (schema, credentials, and rendered through the manager's layers for
/// each of its environments); without one that passes, the schema's
/// required keys instead. With products there is no one schema: neither.
fn starter_variables(
    manager: &Manager,
    c: &crate::config::Customer,
) -> Result<(Option<String>, Vec<String>)> {
    let Some(rel) = manager.config.schema.as_deref() else {
        return Ok((None, Vec::new()));
    };
    let path = manager.path(rel);
    let schema = crate::values::schema::Schema::load(&path, &crate::config::display_path(&path))?;
    let layers = crate::values::customer::ManagerLayers::load(manager).map_err(Error::Values)?;
    let hints = crate::values::starter::Hints {
        slug: &c.slug,
        environments: &c.environments,
    };
    let shown = std::path::Path::new(&manager.config.customer.variables);
    match crate::values::starter::checked(&schema, &hints, shown) {
        Ok(text) => {
            let problems =
                crate::values::starter::render_problems(&text, shown, &schema, &layers, c);
            if problems.is_empty() {
                Ok((Some(text), Vec::new()))
            } else {
                Ok((
                    None,
                    crate::values::starter::required_keys(&schema.document),
                ))
            }
        }
        Err(required) => Ok((None, required)),
    }
}

/// The instructions template: `--template`, else the manager's
/// `templates/instructions.md.j2`, else (`None`) the embedded one.
fn instructions_template(manager: &Manager, template: Option<&PathBuf>) -> Result<Option<String>> {
    match template {
        Some(p) => std::fs::read_to_string(p)
            .map(Some)
            .map_err(|e| Error::Usage(format!("{}: {e}", p.display()))),
        None => Ok(std::fs::read_to_string(manager.root.join("templates/instructions.md.j2")).ok()),
    }
}

/// How each environment applies, e.g. `staging: automatic, production:
/// after the provider's approval`.
fn apply_note(manager: &Manager) -> String {
    manager
        .config
        .environments
        .iter()
        .map(|e| {
            let how = if e.auto_apply {
                "automatic"
            } else {
                "after the provider's approval"
            };
            format!("{}: {how}", e.name)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The manager's dispatch secret, for the `customers` commands that issue
/// keys.
fn manager_secret(command: &str) -> Result<ManagerSecret> {
    ManagerSecret::from_env().map_err(|e| match e {
        auth::AuthError::SecretMissing => Error::Usage(format!(
            "{} is not set: `customers {command}` derives the customer's dispatch key from the manager's dispatch secret; set it in the environment to the value of the secret {} of the manager's plan and apply environments and run again",
            auth::SECRET_ENV,
            auth::SECRET_ENV
        )),
        other => Error::Usage(other.to_string()),
    })
}

/// Prints a key the user asked for: on stdout alone (masked under Actions),
/// with where it goes on stderr. Never audited, never in an error.
fn print_key(key: &DispatchKey, repo: &str, out: &Output) {
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
    let index = registry.index_of(slug).map_err(Error::Usage)?;
    let c = &registry.customers[index];
    if !c.is_active() {
        return Err(Error::Usage(format!(
            "customer `{slug}` is revoked: its dispatches are refused whatever they are signed with, so it has no dispatch key"
        )));
    }
    let repo = c.repo.clone().ok_or_else(|| {
        Error::Usage(format!(
            "customer `{slug}` has no repo (local mode): it sends no dispatches and needs no key"
        ))
    })?;
    Ok((index, c, repo))
}

fn dispatch_key(manager: &Manager, slug: &str, out: &Output) -> Result<()> {
    let secret = manager_secret("dispatch-key")?;
    let registry = Registry::load(manager)?;
    let (_, c, repo) = keyed_customer(&registry, slug)?;
    print_key(&secret.customer_key(slug, c.key_generation()), &repo, out);
    Ok(())
}

/// Bumps the customer's `key_generation`: the manager then checks
/// dispatches against the new key only, so the old one is void at once.
fn rotate_key(manager: &Manager, slug: &str, out: &Output) -> Result<()> {
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
                return Err(Error::Usage(format!(
                    "customer `{slug}` is at key generation {old}, the last one"
                )));
            }
            bumped = Some((old, new, repo));
            edit::set_key_generation(text, &registry.doc, shown, index, new)
                .map(Some)
                .map_err(|e| Error::Failed(e.to_string()))
        },
        |_| Ok(()),
    )?;
    let (old, new, repo) = bumped.ok_or_else(|| Error::Failed("nothing was edited".into()))?;
    let shown = registry_file(manager).1;
    if after
        .as_ref()
        .and_then(|r| r.get(slug))
        .map(Customer::key_generation)
        != Some(new)
    {
        return Err(Error::Failed(format!(
            "the edit of {shown} did not set `key_generation: {new}` for `{slug}`; check the file"
        )));
    }
    crate::audit::record(
        out,
        crate::audit::Entry::now("registry", "key-rotated")
            .customer(slug)
            .detail(format!(
                "dispatch key generation {new} issued; generation {old} is void"
            )),
    );
    out.note(&format!(
        "`{slug}`'s dispatch key is now generation {new}; dispatches signed with generation {old} are refused from now on"
    ));
    print_key(&secret.customer_key(slug, new), &repo, out);
    Ok(())
}
