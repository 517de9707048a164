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
    let mut checks = vec![
        permissions_check(a.role, grant),
        events_check(a.role, grant, relay_slug.is_some()),
    ];
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

/// The App's webhook events against fleetform's list (`util::apps`): an
/// event it lacks is one the relay never hears (without `issue_comment`
/// no comment command is ever dispatched), a *must* where fleetform.yml
/// has a `relay:` (a *should* without one: `poll` reads no webhook); one
/// beyond the list is deliveries nobody acts on, a *should*.
fn events_check(role: AppRole, g: &AppGrant, relay: bool) -> Check {
    let spec = role.spec();
    let what = format!("webhook events of the {} {}", spec.label, g.slug);
    let has = |e: &str| g.events.iter().any(|x| x == e);
    let lacking: Vec<&str> = spec.events.iter().copied().filter(|e| !has(e)).collect();
    let beyond: Vec<&str> = g
        .events
        .iter()
        .map(String::as_str)
        .filter(|e| !spec.events.contains(e))
        .collect();
    let fix = match spec.events {
        [] => format!("subscribe the {} to no event (its settings, Permissions & events)", spec.label),
        list => format!(
            "subscribe the {} to exactly: {} (its settings, Permissions & events); as in `apps/{}-app.json` from `fleetform init`",
            spec.label,
            list.join(", "),
            spec.name
        ),
    };
    match (lacking.is_empty(), beyond.is_empty()) {
        (true, true) if g.events.is_empty() => Check::pass(Level::Should, what, "none".to_string()),
        (true, true) => Check::pass(Level::Must, what, g.events.join(", ")),
        (false, _) => Check::not_met(
            if relay { Level::Must } else { Level::Should },
            what,
            format!("lacks {}: the relay never hears these", lacking.join(", ")),
            fix,
        ),
        (true, false) => Check::not_met(
            Level::Should,
            what,
            format!("beyond what fleetform reads: {}", beyond.join(", ")),
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
        (AppRole::Customer | AppRole::Sync, true) => Check::pass(Level::Must, what, "public: customers can install it"),
        (AppRole::Customer | AppRole::Sync, false) => Check::not_met(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Verdict;

    fn grant(events: &[&str]) -> AppGrant {
        AppGrant {
            slug: "acme-customer".into(),
            permissions: Default::default(),
            events: events.iter().map(|e| e.to_string()).collect(),
        }
    }

    /// With a relay, a customer App that does not send `issue_comment`
    /// fails as a *must*: no comment command would ever be dispatched.
    #[test]
    fn a_missing_event_is_a_must_where_a_relay_listens() {
        let dropped = grant(&["push", "pull_request"]);
        let with_relay = events_check(AppRole::Customer, &dropped, true);
        assert_eq!(
            (with_relay.level, with_relay.result),
            (Level::Must, Verdict::Fail)
        );
        assert!(
            with_relay.found.contains("lacks issue_comment"),
            "{}",
            with_relay.found
        );
        let without = events_check(AppRole::Customer, &dropped, false);
        assert_eq!(
            (without.level, without.result),
            (Level::Should, Verdict::Warn)
        );
        let all = events_check(
            AppRole::Customer,
            &grant(&["push", "pull_request", "issue_comment"]),
            true,
        );
        assert_eq!(all.result, Verdict::Pass);
        let manager = events_check(AppRole::Manager, &grant(&["push"]), true);
        assert_eq!(
            (manager.level, manager.result),
            (Level::Should, Verdict::Warn)
        );
        assert_eq!(
            events_check(AppRole::Manager, &grant(&[]), true).result,
            Verdict::Pass
        );
    }
}
