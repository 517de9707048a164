//! What the tokens reach: every active customer's repo, as
//! `GET /repos/{owner}/{repo}` answers it (and whether its id is the
//! registry's `repo_id`), and how long the token lives (GitHub's
//! `GitHub-Authentication-Token-Expiration` header).

use super::facts::{CustomerFacts, RepoReach, TokenFacts};
use super::{Check, Level};

/// Warn this long before a token expires.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// A customer repo: found, not archived, under the name the registry
/// has, and readable by the token.
pub fn customer_check(c: &CustomerFacts) -> Check {
    let what = format!("customer {}", c.slug);
    let registry = format!("update `repo:` of `{}` in customers.yml", c.slug);
    match &c.reach {
        RepoReach::Missing => Check::not_met(
            Level::Must,
            what,
            format!("{}: not found (deleted, or the token cannot see it)", c.repo),
            format!("give the token access to {} (the GitHub App installation or the fine-grained token's repositories), or revoke the customer", c.repo),
        ),
        RepoReach::Moved => Check::not_met(
            Level::Must,
            what,
            format!("{}: GitHub answers 301, the repository was renamed or transferred", c.repo),
            registry,
        ),
        RepoReach::Failed(e) => Check::unknown(Level::Must, what, e, "run again; check the token"),
        RepoReach::Found { full_name, .. } if !full_name.eq_ignore_ascii_case(&c.repo) => {
            Check::not_met(
                Level::Must,
                what,
                format!("{} is now {full_name}", c.repo),
                registry,
            )
        }
        RepoReach::Found { archived: true, .. } => Check::not_met(
            Level::Must,
            what,
            format!("{} is archived (read-only: no statuses, comments or pull requests)", c.repo),
            format!("unarchive {}, or `fleetform customers revoke {}`", c.repo, c.slug),
        ),
        RepoReach::Found {
            permissions: Some(p),
            ..
        } if !p.pull => Check::not_met(
            Level::Must,
            what,
            format!("{}: the token may not read it", c.repo),
            format!("give the token Contents: read on {}", c.repo),
        ),
        RepoReach::Found {
            permissions: Some(p),
            ..
        } if !p.push => Check::warn(
            Level::Must,
            what,
            format!("{}: reachable, read-only (commit statuses and pull request comments need write access)", c.repo),
            format!("give the token Commit statuses and Pull requests: write on {}", c.repo),
        ),
        RepoReach::Found { .. } => Check::pass(Level::Must, what, format!("{}: reachable", c.repo)),
    }
}

/// The registry's `repo_id` of a customer is GitHub's id of its repo. The
/// relay finds customers by it: behind the relay (`relay:` in
/// fleetform.yml) a missing one is a *must*, else a *should*; a mismatch
/// is always a *must*.
pub fn repo_id_check(c: &CustomerFacts, relay: bool) -> Check {
    let what = format!("repo_id {}", c.slug);
    let github_id = match &c.reach {
        RepoReach::Found { id, .. } => Some(*id),
        _ => None,
    };
    let set = |id: &str| {
        format!(
            "set `repo_id: {id}` for `{}` in customers.yml (`fleetform customers add --repo-id` records it for a new customer)",
            c.slug
        )
    };
    match (c.repo_id, github_id) {
        (Some(ours), Some(theirs)) if ours == theirs => Check::pass(
            Level::Must,
            what,
            format!("{}: {ours}, as GitHub reports", c.repo),
        ),
        (Some(ours), Some(theirs)) => Check::not_met(
            Level::Must,
            what,
            format!(
                "the registry has {ours}, GitHub reports {theirs} for {}: the repository was deleted and created again, or the registry is wrong",
                c.repo
            ),
            format!("make sure {} is the customer's repository, then {}", c.repo, set(&theirs.to_string())),
        ),
        (Some(ours), None) => Check::warn(
            Level::Must,
            what,
            format!("{ours} not compared: GitHub did not answer with {}", c.repo),
            format!("fix `customer {}` first", c.slug),
        ),
        (None, theirs) => {
            let (level, why) = if relay {
                (Level::Must, "the relay cannot find this customer")
            } else {
                (Level::Should, "the relay would not find this customer")
            };
            let id = match theirs {
                Some(t) => t.to_string(),
                None => format!("<the `id` of `gh api repos/{}`>", c.repo),
            };
            Check::not_met(
                level,
                what,
                format!("no `repo_id` in customers.yml: {why}"),
                set(&id),
            )
        }
    }
}

/// With a GitHub App: it is installed on the customer's repo, or no
/// installation token can be made for the customer's jobs; installed on
/// every repository of the customer's account is a *should* (GitHub's
/// `repository_selection: all`: the provider's App reaches repositories it
/// has no business in, each new one too).
pub fn app_check(c: &CustomerFacts) -> Option<Check> {
    let what = format!("customer App on customer {}", c.slug);
    let owner = c.repo.split('/').next().unwrap_or(&c.repo);
    Some(match c.app_installed.as_ref()? {
        Ok(Some(i)) if i.all_repositories => Check::not_met(
            Level::Should,
            what,
            format!("installed on every repository of {owner}: the provider's App can read them all, not {} alone", c.repo),
            format!("the customer narrows the installation to {}: {owner}'s Settings → Applications → the App → Configure → Only select repositories", c.repo),
        ),
        Ok(Some(_)) => Check::pass(Level::Must, what, format!("installed on {}", c.repo)),
        Ok(None) => Check::not_met(
            Level::Must,
            what,
            format!("the customer App is not installed on {}", c.repo),
            format!("the customer installs the provider's customer App on {} (or adds the repo to its installation)", c.repo),
        ),
        Err(e) => Check::unknown(Level::Must, what, e, "check FLEETFORM_CUSTOMER_APP_ID and FLEETFORM_CUSTOMER_APP_PRIVATE_KEY"),
    })
}

/// `2026-12-01 10:00:00 UTC` (or with an offset such as `-0800`, as
/// GitHub sometimes sends) in Unix seconds.
pub fn parse_expiration(text: &str) -> Option<i64> {
    let t = text.trim();
    let (date_time, zone) = t.rsplit_once(' ')?;
    let zone = match zone {
        "UTC" | "GMT" | "Z" => "+00:00".to_string(),
        z if z.len() == 5 && (z.starts_with('+') || z.starts_with('-')) => {
            format!("{}:{}", &z[..3], &z[3..])
        }
        z if z.len() == 6 && z.as_bytes()[3] == b':' => z.to_string(),
        _ => return None,
    };
    let (date, time) = date_time.split_once(' ')?;
    let stamp: jiff::Timestamp = format!("{date}T{time}{zone}").parse().ok()?;
    Some(stamp.as_second())
}

/// The token's expiry: fail when past, warn within
/// [`EXPIRY_WARNING_DAYS`], pass otherwise or when GitHub states none.
pub fn token_check(t: &TokenFacts, now: i64) -> Check {
    let what = format!("expiry of the {}", t.label);
    let fix = "make a new token (or move to a GitHub App) and replace the secret that holds it";
    let Some(text) = &t.expiration else {
        if !t.used {
            return Check::unknown(
                Level::Must,
                what,
                "GitHub answered no request sent with it, so its expiry is unknown",
                "run doctor again once GitHub answers",
            );
        }
        return Check::pass(
            Level::Must,
            what,
            "GitHub states no expiry (a token without one, a GitHub App or GITHUB_TOKEN)",
        );
    };
    let Some(at) = parse_expiration(text) else {
        return Check::warn(
            Level::Must,
            what,
            format!("GitHub states an expiry fleetform cannot read: {text:?}"),
            "check the token's expiry in GitHub's settings",
        );
    };
    let days = (at - now).div_euclid(86_400);
    if at <= now {
        Check::not_met(Level::Must, what, format!("expired {text}"), fix)
    } else if days < EXPIRY_WARNING_DAYS {
        Check::warn(
            Level::Must,
            what,
            format!(
                "expires {text}, in {}",
                crate::util::text::count(days, "day", "days")
            ),
            fix,
        )
    } else {
        Check::pass(
            Level::Must,
            what,
            format!(
                "expires {text}, in {}",
                crate::util::text::count(days, "day", "days")
            ),
        )
    }
}

/// The network doctor's requests went through (the proxy or none, the
/// trusted CAs: `route`, never a credential), and whether GitHub answered
/// through it.
pub fn network_check(route: &str, answered: bool) -> Check {
    let what = "network to GitHub";
    if answered {
        Check::pass(
            Level::Must,
            what,
            format!("GitHub answered, connecting {route}"),
        )
    } else {
        Check::unknown(
            Level::Must,
            what,
            &format!("GitHub did not answer, connecting {route}"),
            "check the proxy (HTTPS_PROXY, NO_PROXY) and the trusted CAs (SSL_CERT_FILE, SSL_CERT_DIR, FLEETFORM_GITHUB_CA_FILE) shown here; the error above says what failed",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_formats() {
        let utc = parse_expiration("2026-12-01 10:00:00 UTC").unwrap();
        assert_eq!(utc, 1_796_119_200);
        assert_eq!(parse_expiration("2026-12-01 02:00:00 -0800"), Some(utc));
        assert_eq!(parse_expiration("2026-12-01 11:00:00 +01:00"), Some(utc));
        for bad in [
            "",
            "2026-12-01",
            "2026-12-01 10:00:00 CEST",
            "tomorrow 10:00 UTC",
        ] {
            assert_eq!(parse_expiration(bad), None, "{bad}");
        }
    }

    #[test]
    fn customer_repos() {
        use crate::doctor::facts::RepoPermissions;
        use crate::doctor::Verdict::*;
        let c = |reach| CustomerFacts {
            slug: "acme".into(),
            repo: "acme-corp/acme-infra".into(),
            repo_id: None,
            reach,
            app_installed: None,
        };
        let found = |name: &str, archived, permissions| RepoReach::Found {
            id: 7,
            full_name: name.into(),
            archived,
            permissions,
            secret_scanning: None,
        };
        let rw = Some(RepoPermissions {
            pull: true,
            push: true,
            admin: false,
        });
        let ro = Some(RepoPermissions {
            pull: true,
            push: false,
            admin: false,
        });
        let none = Some(RepoPermissions {
            pull: false,
            push: false,
            admin: false,
        });
        assert_eq!(
            customer_check(&c(found("acme-corp/acme-infra", false, rw))).result,
            Pass
        );
        // GitHub names are case-insensitive.
        assert_eq!(
            customer_check(&c(found("Acme-Corp/Acme-Infra", false, None))).result,
            Pass
        );
        let renamed = customer_check(&c(found("acme-corp/infra", false, rw)));
        assert_eq!(renamed.result, Fail);
        assert!(renamed.fix.contains("customers.yml"));
        assert_eq!(
            customer_check(&c(found("acme-corp/acme-infra", true, rw))).result,
            Fail
        );
        assert_eq!(
            customer_check(&c(found("acme-corp/acme-infra", false, ro))).result,
            Warn
        );
        assert_eq!(
            customer_check(&c(found("acme-corp/acme-infra", false, none))).result,
            Fail
        );
        assert_eq!(customer_check(&c(RepoReach::Missing)).result, Fail);
        assert_eq!(customer_check(&c(RepoReach::Moved)).result, Fail);
        assert_eq!(
            customer_check(&c(RepoReach::Failed("x".into()))).result,
            Unknown
        );
    }

    #[test]
    fn repo_ids() {
        use crate::doctor::Verdict::*;
        let c = |repo_id, reach| CustomerFacts {
            slug: "acme".into(),
            repo: "acme-corp/acme-infra".into(),
            repo_id,
            reach,
            app_installed: None,
        };
        let found = |id| RepoReach::Found {
            id,
            full_name: "acme-corp/acme-infra".into(),
            archived: false,
            permissions: None,
            secret_scanning: None,
        };
        let same = repo_id_check(&c(Some(41), found(41)), false);
        assert_eq!((same.level, same.result), (Level::Must, Pass));
        // A mismatch fails with or without the relay.
        for relay in [false, true] {
            let other = repo_id_check(&c(Some(41), found(42)), relay);
            assert_eq!((other.level, other.result), (Level::Must, Fail));
            assert!(other.found.contains("deleted and created again"));
            assert!(other.fix.contains("`repo_id: 42`"), "{}", other.fix);
        }
        // A missing one fails only behind the relay.
        let warn = repo_id_check(&c(None, found(42)), false);
        assert_eq!((warn.level, warn.result), (Level::Should, Warn));
        assert!(warn.fix.contains("`repo_id: 42`") && warn.fix.contains("--repo-id"));
        let fail = repo_id_check(&c(None, found(42)), true);
        assert_eq!((fail.level, fail.result), (Level::Must, Fail));
        assert!(fail.found.contains("the relay cannot find this customer"));
        let unread = repo_id_check(&c(None, RepoReach::Missing), true);
        assert_eq!(unread.result, Fail);
        assert!(unread.fix.contains("gh api repos/acme-corp/acme-infra"));
        // Not comparable: the customer's own row fails already.
        let gone = repo_id_check(&c(Some(41), RepoReach::Missing), true);
        assert_eq!(gone.result, Warn);
    }

    #[test]
    fn expiry_verdicts() {
        let t = |e: Option<&str>| TokenFacts {
            label: "token".into(),
            expiration: e.map(str::to_string),
            used: true,
        };
        let at = parse_expiration("2026-12-01 10:00:00 UTC").unwrap();
        let day = 86_400;
        use crate::doctor::Verdict::*;
        assert_eq!(
            token_check(&t(Some("2026-12-01 10:00:00 UTC")), at - 40 * day).result,
            Pass
        );
        assert_eq!(
            token_check(&t(Some("2026-12-01 10:00:00 UTC")), at - 10 * day).result,
            Warn
        );
        assert_eq!(
            token_check(&t(Some("2026-12-01 10:00:00 UTC")), at + 1).result,
            Fail
        );
        assert_eq!(token_check(&t(None), at).result, Pass);
        assert_eq!(token_check(&t(Some("soon")), at).result, Warn);
        // A token GitHub never answered for: its expiry is unknown, not fine.
        let unanswered = TokenFacts {
            used: false,
            ..t(None)
        };
        let c = token_check(&unanswered, at);
        assert_eq!(c.result, Unknown);
        assert!(c.found.starts_with("could not check"), "{}", c.found);
    }

    #[test]
    fn the_network_row_passes_only_when_github_answered() {
        let route = "through the proxy http://proxy:3128 (HTTPS_PROXY); trusting bundled Mozilla roots (146)";
        let c = network_check(route, true);
        assert_eq!(
            (c.level, c.result),
            (Level::Must, crate::doctor::Verdict::Pass)
        );
        assert!(c.found.contains(route), "{}", c.found);
        let c = network_check(route, false);
        assert_eq!(c.result, crate::doctor::Verdict::Unknown);
        assert!(
            c.found
                .starts_with("could not check: GitHub did not answer"),
            "{}",
            c.found
        );
        assert!(c.fix.contains("HTTPS_PROXY"), "{}", c.fix);
    }
}
