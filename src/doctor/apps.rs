//! The provider's GitHub Apps (README, "The Apps"): each holds what its
//! side needs and no more (`util::apps`), the customer App is public so
//! that customers can install it, the manager App is private, installed on
//! the manager repo, and is the App `relay.app_slug` names.

use super::facts::{AppFacts, AppGrant};
use super::{Check, Level};
use crate::util::apps::AppRole;

/// Every check of one App.
pub fn app_checks(a: &AppFacts, relay_slug: Option<&str>) -> Vec<Check> {
    let label = a.role.label();
    let grant = match &a.grant {
        Ok(g) => g,
        Err(e) => {
            return vec![Check::unknown(
                Level::Must,
                format!("permissions of the {label}"),
                e,
                &format!(
                    "check {} and {} (GET /app with the App's JWT)",
                    a.role.id_var(),
                    a.role.key_var()
                ),
            )]
        }
    };
    let mut checks = vec![permissions_check(a.role, grant)];
    checks.extend(visibility_check(a));
    if a.role == AppRole::Manager {
        checks.extend(a.on_manager.as_ref().map(manager_install_check));
        checks.extend(relay_slug.map(|s| relay_slug_check(grant, s)));
    }
    checks
}

/// What the App holds beyond its list (the customer App's Contents write:
/// a key that could push to every customer's repo, a *must*), and what it
/// lacks of it (requests refused).
fn permissions_check(role: AppRole, g: &AppGrant) -> Check {
    let spec = role.spec();
    let what = format!("permissions of the {} {}", spec.label, g.slug);
    let beyond: Vec<String> = g
        .permissions
        .iter()
        .filter_map(|(k, v)| {
            let may = spec.beyond(k, v)?;
            Some(format!("{k}: {v} (may hold: {may})"))
        })
        .collect();
    let lacking = spec.lacking(&|k| g.permissions.get(k).cloned());
    let fix = format!(
        "set the {}'s permissions (its settings, Permissions & events) to exactly: {}; as in `apps/{}-app.json` from `fleetform init`",
        spec.label,
        listed(spec.permissions),
        spec.name
    );
    let writes_contents =
        role == AppRole::Customer && g.permissions.get("contents").is_some_and(|v| v != "read");
    match (beyond.is_empty(), lacking.is_empty()) {
        (true, true) => Check::pass(Level::Must, what, listed_grant(g)),
        (false, _) => Check::not_met(
            if writes_contents {
                Level::Must
            } else {
                Level::Should
            },
            what,
            format!(
                "beyond what it needs: {}{}",
                beyond.join(", "),
                if writes_contents {
                    "; whoever holds its key can push to every customer's repo"
                } else {
                    ""
                }
            ),
            fix,
        ),
        (true, false) => Check::not_met(
            Level::Must,
            what,
            format!(
                "lacks {}: its installation tokens for these are refused",
                lacking.join(", ")
            ),
            fix,
        ),
    }
}

fn listed(p: crate::util::apps::Permissions) -> String {
    p.iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn listed_grant(g: &AppGrant) -> String {
    let p: Vec<String> = g
        .permissions
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    format!("holds {}", p.join(", "))
}

/// The customer App is public (customers cannot install a private one);
/// the manager App is private.
fn visibility_check(a: &AppFacts) -> Option<Check> {
    let label = a.role.label();
    let what = format!("visibility of the {label}");
    let public = match a.public.as_ref()? {
        Ok(p) => *p,
        Err(e) => {
            return Some(Check::unknown(
                Level::Should,
                what,
                e,
                "run doctor again once GitHub answers",
            ))
        }
    };
    Some(match (a.role, public) {
        (AppRole::Customer, true) => Check::pass(Level::Must, what, "public: customers can install it"),
        (AppRole::Customer, false) => Check::not_met(
            if a.enterprise { Level::Should } else { Level::Must },
            what,
            "private (GitHub does not show it to others): no other account can install it",
            "make it public (the App's settings, Advanced, Make public); on GitHub Enterprise an internal App also does for customers inside the enterprise",
        ),
        (AppRole::Manager, false) => Check::pass(Level::Should, what, "private"),
        (AppRole::Manager, true) => Check::not_met(
            Level::Should,
            what,
            "public: any account can install it and hand its key holder Contents write there",
            "make it private (the App's settings, Advanced, Make private); only the manager repo needs it",
        ),
    })
}

fn manager_install_check(on: &super::facts::Fetched<bool>) -> Check {
    let what = "manager App on the manager repo";
    match on {
        Ok(true) => Check::pass(Level::Must, what, "installed"),
        Ok(false) => Check::not_met(
            Level::Must,
            what,
            "not installed: the relay cannot dispatch",
            "install the manager App on the manager repo (only that repo)",
        ),
        Err(e) => Check::unknown(Level::Must, what, e, "run doctor again once GitHub answers"),
    }
}

/// The manager's `authorise` trusts dispatches from `<app_slug>[bot]`: the
/// manager App's bot.
fn relay_slug_check(g: &AppGrant, slug: &str) -> Check {
    let what = "relay.app_slug";
    if g.slug.eq_ignore_ascii_case(slug) {
        return Check::pass(Level::Must, what, format!("the manager App {slug}"));
    }
    Check::not_met(
        Level::Must,
        what,
        format!(
            "`{slug}`, but the manager App is {}: its dispatches would be refused",
            g.slug
        ),
        format!("set `relay.app_slug: {}` in fleetform.yml", g.slug),
    )
}
