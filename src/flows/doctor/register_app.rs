//! `fleetform doctor --register-app <customer|manager|sync>` (#83 point
//! 2): one of the provider's Apps through GitHub's manifest flow, in two
//! clicks (open the page, create the App), its credentials stored
//! straight where the manager's jobs read them and nowhere else:
//!
//! 1. what the App asks (permissions, events, public or private) and
//!    where its credentials go are said before anything else, and every
//!    environment that takes its key must exist (`doctor --fix` makes
//!    them): nothing is registered that could not be stored;
//! 2. a one-shot page on 127.0.0.1 posts the manifest to GitHub, whose
//!    redirect brings the `code` back there (`callback`);
//! 3. the code becomes the App (`POST /app-manifests/{code}/conversions`);
//! 4. its id goes into the repository variable the templates read, its
//!    private key into each environment whose jobs read it, sealed to
//!    that environment's public key; with `--relay-secrets FILE` the
//!    relay's share (id, key, webhook secret) goes into a new file only
//!    its owner may read, for the relay's own secret store;
//! 5. an audit record says which App was registered and where it went.
//!
//! The key and webhook secret are never printed or logged.

use std::path::PathBuf;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::config::Manager;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::github::{GitHub, RegisteredApp};
use crate::util::apps::AppRole;

use super::callback::{self, Page};
use super::Settings;

/// What `--register-app` was asked, checked.
#[derive(Debug)]
pub struct Register {
    pub app: AppRole,
    /// The organisation that owns the App (default: the manager repo's
    /// owner, as a personal account).
    pub org: Option<String>,
    /// GitHub's web address (`https://github.com`, a GHES host).
    pub server_url: String,
    /// Where GitHub posts the App's events: the relay's `/webhook`.
    pub hook_url: Option<String>,
    /// A new file for the relay's share of the credentials.
    pub relay_secrets: Option<PathBuf>,
    /// How long to wait for the browser to come back.
    pub wait: Duration,
}

/// `--register-app`.
pub fn run(
    settings: &Settings,
    register: &Register,
    manager_dir: &std::path::Path,
    cx: &Context,
) -> Result<()> {
    cx.out.mask(settings.manager_token.expose());
    let (manager, _) = crate::config::load(manager_dir)?;
    let spec = register.app.spec();
    if !spec.events.is_empty() && register.hook_url.is_none() {
        return Err(Error::usage(format!(
            "the {} subscribes to events GitHub posts to the relay: give the relay's webhook address with --hook-url https://<relay>/webhook",
            spec.label
        )));
    }
    let rt = crate::github::runtime()?;
    let api = GitHub::api_url_from_env();
    let (gh, _) = super::token_clients(settings, &rt, &api, cx)?;
    let repo = settings.repo.as_str();
    rt.block_on(async {
        super::fix::admin_repo(&gh, repo).await?;
        let targets = key_environments(&gh, repo, &manager, register.app).await?;
        if targets.is_empty() && register.relay_secrets.is_none() {
            return Err(Error::usage(format!(
                "no environment of {repo} reads the {}'s key (its jobs run in the relay or poll): give --relay-secrets FILE for the relay's secret store, or nothing would keep the key",
                spec.label
            )));
        }
        say_what_it_asks(register, &targets, cx);
        super::fix::keep_intent(
            cx,
            "doctor-register-app",
            format!("{repo}: the {}", spec.label),
        )?;
        let app = registered(&gh, repo, register, cx).await?;
        store(&gh, repo, register, &app, &targets, cx).await?;
        say_next(register, &app, cx);
        Ok(())
    })
}

/// The environments whose jobs read the App's key; refused when one does
/// not exist yet (nothing is registered that could not be stored).
async fn key_environments(
    gh: &GitHub,
    repo: &str,
    manager: &Manager,
    app: AppRole,
) -> Result<Vec<String>> {
    let wanted = crate::doctor::environments_reading(manager, app.key_var());
    let envs = gh
        .environments(repo)
        .await
        .map_err(|e| Error::failed(format!("reading {repo}'s environments: {e}")))?;
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|w| !envs.iter().any(|e| e.name == **w))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(Error::refused(format!(
            "the environments that take the {}'s key do not all exist yet ({}): create them first with `fleetform doctor --fix --yes`, then register the App",
            app.label(),
            missing.join(", ")
        )));
    }
    Ok(wanted)
}

fn say_what_it_asks(register: &Register, targets: &[String], cx: &Context) {
    let spec = register.app.spec();
    let permissions: Vec<String> = spec
        .permissions
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    let events = match spec.events {
        [] => "no webhook events".to_string(),
        e => format!(
            "the events {} (to {})",
            e.join(", "),
            register.hook_url.as_deref().unwrap_or("")
        ),
    };
    cx.out.result(&format!(
        "The {} asks {}, and {events}; it is {}.",
        spec.label,
        permissions.join(", "),
        if spec.public {
            "public (other accounts install it)"
        } else {
            "private (this account alone installs it)"
        }
    ));
    let mut to = vec![format!(
        "its id in the repository variable {}",
        register.app.id_var()
    )];
    if !targets.is_empty() {
        to.push(format!(
            "its private key, sealed, in {}",
            targets.join(", ")
        ));
    }
    if let Some(f) = &register.relay_secrets {
        to.push(format!(
            "the relay's share in a new file {} (owner-only)",
            f.display()
        ));
    }
    cx.out
        .result(&format!("fleetform stores {}.", to.join("; ")));
}

/// The manifest flow: the page, the browser's round trip, the code
/// exchanged for the App.
async fn registered(
    gh: &GitHub,
    repo: &str,
    register: &Register,
    cx: &Context,
) -> Result<RegisteredApp> {
    let owner = repo.split_once('/').map_or(repo, |(o, _)| o);
    let account = register.org.as_deref().unwrap_or(owner);
    let listener = callback::listen().await?;
    let port = listener
        .local_addr()
        .map_err(|e| Error::failed(format!("the page's port: {e}")))?
        .port();
    let mut manifest = crate::report::app_manifests::manifest(register.app.spec(), Some(account));
    manifest["redirect_url"] = format!("http://127.0.0.1:{port}/callback").into();
    if let Some(hook) = &register.hook_url {
        manifest["hook_attributes"] = serde_json::json!({ "url": hook, "active": true });
    }
    let state = crate::github::random_secret().map_err(Error::failed)?;
    let server = register.server_url.trim_end_matches('/');
    let action = match &register.org {
        Some(org) => format!(
            "{server}/organizations/{org}/settings/apps/new?state={}",
            *state
        ),
        None => format!("{server}/settings/apps/new?state={}", *state),
    };
    let page = Page {
        action,
        manifest: manifest.to_string(),
        label: register.app.label().to_string(),
    };
    cx.out.result(&format!(
        "Open http://127.0.0.1:{port}/ in a browser signed in to GitHub as an owner of {account}, press the button, then create the App on GitHub's page; waiting up to {} minutes.",
        register.wait.as_secs().div_ceil(60)
    ));
    let code = callback::code(listener, &page, &state, register.wait).await?;
    gh.convert_manifest_code(&code)
        .await
        .map_err(|e| Error::failed(format!("exchanging GitHub's code for the App: {e}")))
}

/// The id into the repository variable, the key into each environment,
/// the relay's share into its file; one audit record.
async fn store(
    gh: &GitHub,
    repo: &str,
    register: &Register,
    app: &RegisteredApp,
    targets: &[String],
    cx: &Context,
) -> Result<()> {
    cx.out.mask(&app.pem);
    if let Some(s) = &app.webhook_secret {
        cx.out.mask(s);
    }
    let id_var = register.app.id_var();
    let failed = |what: String, e: String| {
        Error::failed(format!(
            "the {} ({}, id {}) is registered, but {what} failed: {e}; store it by hand (Settings → Secrets and variables), or delete the App and run again",
            register.app.label(),
            app.slug,
            app.id
        ))
    };
    let (names, _) = gh
        .repo_variables(repo, &[])
        .await
        .map_err(|e| failed(format!("reading {repo}'s variables"), e.to_string()))?;
    let exists = names.iter().any(|n| n == id_var);
    gh.set_repo_variable(repo, id_var, &app.id.to_string(), exists)
        .await
        .map_err(|e| failed(format!("setting {id_var}"), e.to_string()))?;
    for env in targets {
        gh.store_environment_secret(repo, env, register.app.key_var(), &app.pem)
            .await
            .map_err(|e| failed(format!("storing its key in {env}"), e.to_string()))?;
    }
    if let Some(path) = &register.relay_secrets {
        let share = relay_share(register.app, app);
        crate::util::fs::write_new_private(path, share.as_bytes())
            .map_err(|e| failed(format!("writing {}", path.display()), e.to_string()))?;
    }
    cx.record(
        crate::audit::Entry::now("doctor-register-app", "applied").detail(format!(
            "{repo}: registered the {} `{}` (id {}): id in {id_var}, key in {}{}",
            register.app.label(),
            app.slug,
            app.id,
            if targets.is_empty() {
                "no environment".to_string()
            } else {
                targets.join(", ")
            },
            register
                .relay_secrets
                .as_ref()
                .map_or(String::new(), |p| format!(
                    ", the relay's share in {}",
                    p.display()
                ))
        )),
    );
    Ok(())
}

/// The relay's credentials of this App, as a JSON object of its
/// variables (what a secret store imports).
fn relay_share(role: AppRole, app: &RegisteredApp) -> Zeroizing<String> {
    let mut share = serde_json::Map::new();
    share.insert(role.id_var().into(), app.id.to_string().into());
    share.insert(role.key_var().into(), app.pem.as_str().into());
    if let Some(s) = &app.webhook_secret {
        share.insert("FLEETFORM_WEBHOOK_SECRET".into(), s.as_str().into());
    }
    Zeroizing::new(serde_json::Value::Object(share).to_string() + "\n")
}

fn say_next(register: &Register, app: &RegisteredApp, cx: &Context) {
    let server = register.server_url.trim_end_matches('/');
    cx.out.result(&format!(
        "done: the {} `{}` (id {}) is registered and stored.",
        register.app.label(),
        app.slug,
        app.id
    ));
    let next = match register.app {
        AppRole::Manager => format!(
            "Next: install it on the manager repo alone ({server}/apps/{}/installations/new), and set `relay: {{app_slug: {}}}` in fleetform.yml.",
            app.slug, app.slug
        ),
        _ => format!(
            "Next: each customer installs it on its repo: {server}/apps/{}/installations/new",
            app.slug
        ),
    };
    cx.out.result(&next);
    if app.webhook_secret.is_some() && register.relay_secrets.is_none() {
        cx.out.warn(&format!(
            "the App's webhook secret was not kept (no --relay-secrets FILE): set a new one in the App's settings ({server}/settings/apps/{}) and in the relay's FLEETFORM_WEBHOOK_SECRET",
            app.slug
        ));
    }
}
