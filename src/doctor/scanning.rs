//! Secret scanning with push protection (the provider's set-up,
//! "Configure secret scanning"): a secret pushed by mistake to the
//! manager repo or a customer's is refused at the push, or found. A
//! *should*: on the manager repo from GitHub's answer for it, and across
//! every customer repo in one row (a fleet of hundreds gets one row).
//! GitHub shows a repository's `security_and_analysis` to its admins
//! only; a repo it is not shown for is said, not guessed. On a private
//! repository GitHub offers it with GitHub Secret Protection only ("About
//! secret scanning").

use super::facts::{CustomerFacts, Fetched, RepoReach, SecretScanning};
use super::{Check, Level};

/// What to change, by hand or with `doctor --fix`.
fn fix(private: bool) -> String {
    let how = "Settings → Advanced Security (Code security) → Secret Protection: enable, and Push protection: enable";
    if private {
        format!(
            "{how} (on a private repository GitHub offers it with GitHub Secret Protection only)"
        )
    } else {
        format!("{how}, or `fleetform doctor --fix`")
    }
}

/// The manager repo's row.
pub fn manager_scanning_check(
    scanning: &Fetched<SecretScanning>,
    private: &Fetched<bool>,
) -> Check {
    let what = "secret scanning";
    let fix = fix(private.as_ref().copied().unwrap_or(true));
    match scanning {
        Err(e) => Check::unknown(Level::Should, what, e, &fix),
        Ok(s) if s.on() => Check::pass(Level::Should, what, "on, with push protection"),
        Ok(s) => Check::not_met(Level::Should, what, state(s), fix),
    }
}

fn state(s: &SecretScanning) -> &'static str {
    if s.scanning {
        "on, without push protection"
    } else {
        "off"
    }
}

/// One row for every customer repo GitHub answered for: which have it
/// off, and on how many it was not shown. `None` when no repo answered.
pub fn customer_scanning_check(customers: &[CustomerFacts]) -> Option<Check> {
    let found: Vec<(&str, Option<SecretScanning>)> = customers
        .iter()
        .filter_map(|c| match &c.reach {
            RepoReach::Found {
                secret_scanning, ..
            } => Some((c.slug.as_str(), *secret_scanning)),
            _ => None,
        })
        .collect();
    if found.is_empty() {
        return None;
    }
    let what = "secret scanning (customer repos)";
    let off: Vec<&str> = found
        .iter()
        .filter(|(_, s)| s.is_some_and(|s| !s.on()))
        .map(|(slug, _)| *slug)
        .collect();
    let hidden = found.iter().filter(|(_, s)| s.is_none()).count();
    let ask = "ask each customer to turn on secret scanning with push protection on its repo (Settings → Advanced Security → Secret Protection; on a private repo it needs GitHub Secret Protection)";
    let not_shown = || {
        format!(
            "not shown on {hidden} of {} (GitHub shows it to a repository's admins only)",
            found.len()
        )
    };
    if !off.is_empty() {
        let mut text = format!("off, or without push protection, on {}", listed(&off));
        if hidden > 0 {
            text.push_str(&format!("; {}", not_shown()));
        }
        return Some(Check::not_met(Level::Should, what, text, ask));
    }
    if hidden > 0 {
        return Some(Check::unknown(Level::Should, what, &not_shown(), ask));
    }
    Some(Check::pass(
        Level::Should,
        what,
        format!("on, with push protection, on all {}", found.len()),
    ))
}

/// The first five, and how many more.
fn listed(slugs: &[&str]) -> String {
    let mut text = slugs.iter().take(5).copied().collect::<Vec<_>>().join(", ");
    if slugs.len() > 5 {
        text.push_str(&format!(" and {} more", slugs.len() - 5));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::super::Verdict;
    use super::*;

    fn customer(slug: &str, s: Option<SecretScanning>) -> CustomerFacts {
        CustomerFacts {
            slug: slug.into(),
            repo: format!("o/{slug}"),
            repo_id: None,
            reach: RepoReach::Found {
                id: 1,
                full_name: format!("o/{slug}"),
                archived: false,
                permissions: None,
                secret_scanning: s,
            },
            app_installed: None,
        }
    }

    const ON: SecretScanning = SecretScanning {
        scanning: true,
        push_protection: true,
    };
    const HALF: SecretScanning = SecretScanning {
        scanning: true,
        push_protection: false,
    };

    #[test]
    fn the_manager_row_passes_only_with_both_on() {
        assert_eq!(
            manager_scanning_check(&Ok(ON), &Ok(false)).result,
            Verdict::Pass
        );
        let half = manager_scanning_check(&Ok(HALF), &Ok(false));
        assert_eq!(half.result, Verdict::Warn);
        assert_eq!(half.found, "on, without push protection");
        assert!(half.fix.ends_with("`fleetform doctor --fix`"));
        let private = manager_scanning_check(&Ok(HALF), &Ok(true));
        assert!(private.fix.contains("GitHub Secret Protection only"));
        assert_eq!(
            manager_scanning_check(&Err("x".into()), &Ok(false)).result,
            Verdict::Unknown
        );
    }

    #[test]
    fn one_row_for_the_customers_names_those_off_and_counts_those_not_shown() {
        assert!(customer_scanning_check(&[]).is_none());
        let all_on = customer_scanning_check(&[customer("a", Some(ON))]).unwrap();
        assert_eq!(all_on.result, Verdict::Pass);
        let mixed = customer_scanning_check(&[
            customer("a", Some(ON)),
            customer("b", Some(HALF)),
            customer("c", None),
        ])
        .unwrap();
        assert_eq!(mixed.result, Verdict::Warn);
        assert_eq!(
            mixed.found,
            "off, or without push protection, on b; not shown on 1 of 3 (GitHub shows it to a repository's admins only)"
        );
        let hidden = customer_scanning_check(&[customer("c", None)]).unwrap();
        assert_eq!(hidden.result, Verdict::Unknown);
    }
}
