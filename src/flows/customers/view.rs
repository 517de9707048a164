//! `customers list` and `customers show`: the registry as a table or
//! JSON, tokens about to expire (warned, notified), one customer's entry.

use serde::Serialize;

use crate::config::Activity;
use crate::config::{Manager, Registry, Status, TokenInfo, TokenState, TOKEN_WARN_DAYS};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::output::{table, Output};

/// A customer as `customers list` shows it.
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
    /// Secrets of its local checkout due for rotation.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    stale_secrets: Vec<crate::data::summary::SecretAge>,
    /// The customer's pins (`customers pin`), an expired one marked.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pins: Vec<PinItem>,
}

pub fn list(manager: &Manager, json: bool, notify: bool, cx: &Context) -> Result<()> {
    let registry = Registry::load(manager)?;
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
            stale_secrets: stale_of(manager, &registry, c, today),
            pins: pins_of(c, today),
        })
        .collect();
    if notify {
        notify_tokens(manager, &registry, today, cx);
    }
    if json {
        cx.out.json(&items).expect("serialisable");
        return Ok(());
    }
    let with_tokens = items.iter().any(|i| i.token.is_some());
    let with_stale = items.iter().any(|i| !i.stale_secrets.is_empty());
    let with_pins = items.iter().any(|i| !i.pins.is_empty());
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
            if with_stale {
                row.push(stale_cell(&i.stale_secrets));
            }
            if with_pins {
                row.push(pins_cell(&i.pins));
            }
            row
        })
        .collect();
    let mut header = vec!["CUSTOMER", "STATUS", "REPO", "ENVIRONMENTS", "ADDED"];
    for (on, column) in [
        (with_tokens, "TOKEN"),
        (with_stale, "SECRETS"),
        (with_pins, "PINS"),
    ] {
        if on {
            header.push(column);
        }
    }
    cx.out.result(table(&header, &rows).trim_end());
    token_warning(&registry, today, &cx.out);
    let due: Vec<&str> = items
        .iter()
        .filter(|i| !i.stale_secrets.is_empty())
        .map(|i| i.slug)
        .collect();
    stale_note(&due, &cx.out);
    Ok(())
}

/// The pins column: `ref until date` per pin (`product: ` first with
/// products), an expired one marked EXPIRED.
fn pins_cell(pins: &[PinItem]) -> String {
    if pins.is_empty() {
        return "-".into();
    }
    pins.iter()
        .map(|p| {
            let product = p
                .product
                .as_deref()
                .map(|x| format!("{x}: "))
                .unwrap_or_default();
            let (r, until) = (&p.git_ref, &p.until);
            match p.expired_days {
                Some(d) => format!("{product}{r} until {until} (EXPIRED {d} d ago)"),
                None => format!("{product}{r} until {until}"),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A customer's pins as `customers list` shows them.
fn pins_of(c: &crate::config::Customer, today: jiff::civil::Date) -> Vec<PinItem> {
    c.pins
        .iter()
        .map(|p| PinItem {
            product: p.product.clone(),
            git_ref: p.git_ref.clone(),
            until: p.until.clone(),
            expired_days: p.expired_days(today),
        })
        .collect()
}

/// A pin as `customers list` shows it.
#[derive(Serialize)]
struct PinItem {
    #[serde(skip_serializing_if = "Option::is_none")]
    product: Option<String>,
    #[serde(rename = "ref")]
    git_ref: String,
    until: String,
    /// Days since `until` passed (absent: not expired).
    #[serde(skip_serializing_if = "Option::is_none")]
    expired_days: Option<i64>,
}

/// An active customer's secrets due for rotation, from its local checkout.
fn stale_of(
    manager: &Manager,
    registry: &Registry,
    c: &crate::config::Customer,
    today: jiff::civil::Date,
) -> Vec<crate::data::summary::SecretAge> {
    if !c.takes_part(Activity::Shown) {
        return Vec::new();
    }
    crate::values::secret_ages::stale_of_checkout(manager, registry, c, today)
        .into_iter()
        .flatten()
        .collect()
}

/// One note naming the customers with secrets due for rotation.
fn stale_note(due: &[&str], out: &Output) {
    if !due.is_empty() {
        out.note(&format!(
            "secrets due for rotation (older than their environment's `secrets.max_age_days`, or without `updated:`) in the checkouts of {}: ask each customer to set new values, encrypted again, with a new `updated:`",
            due.join(", ")
        ));
    }
}

/// The secrets column: how many are due, and the oldest (`customers
/// show` names each): a cell, not every file path.
fn stale_cell(stale: &[crate::data::summary::SecretAge]) -> String {
    if stale.is_empty() {
        return "-".into();
    }
    let oldest = stale.iter().filter_map(|a| a.age_days).max();
    match oldest {
        Some(d) => format!("{} DUE (oldest {d} d)", stale.len()),
        None => format!("{} DUE (age unknown)", stale.len()),
    }
}

/// `customers show`'s rows about secrets: per environment its recipient,
/// the secret holding its key in the plan environment, its file and the
/// rotation age; then each secret due for rotation in the checkout.
fn secrets_rows(
    manager: &Manager,
    registry: &Registry,
    c: &crate::config::Customer,
) -> Vec<Vec<String>> {
    if manager.config.secrets.is_none() {
        return Vec::new();
    }
    let mut rows: Vec<Vec<String>> = c
        .secrets
        .iter()
        .map(|(env, recipient)| {
            let age = crate::values::secret_ages::max_age(manager, env)
                .map(|d| format!("; rotated within {d} days"))
                .unwrap_or_default();
            let own = manager
                .environment(env)
                .map(|e| e.secrets_environment(&c.slug))
                .unwrap_or_else(|| format!("{env}-secrets-{}", c.slug));
            vec![
                format!("secrets {env}"),
                format!(
                    "{} (recipient {}; key in {} of the environment {own}{age})",
                    crate::values::customer::secrets_path(manager, env),
                    short_recipient(recipient),
                    crate::values::secret_files::KEY_VAR,
                ),
            ]
        })
        .collect();
    if rows.is_empty() {
        rows.push(vec![
            "secrets".into(),
            "no recipient: `fleetform customers add` (or `rotate-secrets-key`) makes one per environment".into(),
        ]);
    }
    if let Some(row) = stored_row(manager) {
        rows.push(row);
    }
    for a in stale_of(manager, registry, c, today()) {
        let age = a
            .age_days
            .map_or("age unknown".into(), |d| format!("{d} d old"));
        rows.push(vec!["secret due".into(), format!("{} ({age})", a.source)]);
    }
    rows
}

/// `age1abcd…wxyz`: enough to tell recipients apart in a table.
/// Which of the schema's secrets Terraform keeps in the sealed plan file
/// and the state (bound for a variable that is not `ephemeral`); none
/// when every one is ephemeral, or the schema or module does not read
/// (`validate` and doctor say why).
fn stored_row(manager: &Manager) -> Option<Vec<String>> {
    let schema = crate::values::schema::Schema::of_manager(manager, manager.schema_path()).ok()?;
    let names = crate::values::secret_files::secret_names(&schema.document);
    let dir = manager.path(manager.working_dir());
    let stored =
        crate::terraform::variables::stored(&dir, names.keys().map(String::as_str)).ok()?;
    if stored.is_empty() {
        return None;
    }
    let names: Vec<String> = stored.iter().map(|n| format!("`{n}`")).collect();
    Some(vec![
        "secrets in plans".into(),
        format!(
            "{} kept in the sealed plan file and the state (not `ephemeral`)",
            names.join(", ")
        ),
    ])
}

fn short_recipient(r: &str) -> String {
    match (r.get(..9), r.len() > 17) {
        (Some(head), true) => format!("{head}…{}", &r[r.len() - 6..]),
        _ => r.to_string(),
    }
}

/// Today, UTC (`FLEETFORM_NOW`, Unix seconds, in tests).
pub fn today() -> jiff::civil::Date {
    let secs = i64::try_from(crate::rollout::now()).unwrap_or(i64::MAX);
    jiff::Timestamp::from_second(secs)
        .unwrap_or_else(|_| jiff::Timestamp::now())
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
}

/// The token column: its name and expiry, flagged when an active
/// customer's token expires within 30 days or has expired.
pub fn token_cell(token: Option<&TokenInfo>, state: Option<TokenState>, active: bool) -> String {
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
pub fn notify_tokens(
    manager: &Manager,
    registry: &Registry,
    today: jiff::civil::Date,
    cx: &Context,
) {
    for c in registry
        .customers
        .iter()
        .filter(|c| c.takes_part(Activity::Shown))
    {
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
        cx.notify(manager, &notice);
    }
}

/// One note naming the active customers whose tokens need renewing.
pub fn token_warning(registry: &Registry, today: jiff::civil::Date, out: &Output) {
    let due: Vec<&str> = registry
        .customers
        .iter()
        .filter(|c| c.takes_part(Activity::Shown))
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

pub fn show(manager: &Manager, slug: &str, json: bool, out: &Output) -> Result<()> {
    let registry = Registry::load(manager)?;
    let c = registry.require(slug).map_err(Error::usage)?;
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
            token_cell(Some(t), state, c.takes_part(Activity::Shown))
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
    rows.extend(secrets_rows(manager, &registry, c));
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
