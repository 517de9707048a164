//! Tenant isolation: no customer reaches the manager repo. Customers reach
//! the manager only through the relay (`fleetform relay serve`) or
//! `fleetform poll` and hold no access to it, so no customer's account is a
//! collaborator, outside collaborators are the exception, the owner's
//! organisation gives its members no access by default, and a Pages site
//! of a private manager repo is not public.

use crate::config::Activity;
use crate::config::Customer;

use super::facts::{AccessFacts, Collaborator, ManagerFacts, Owner, Pages};
use super::{Check, Level};

/// Every isolation check of the manager repo, in checklist order.
pub fn isolation_checks(customers: &[Customer], facts: &ManagerFacts) -> Vec<Check> {
    let a: &AccessFacts = &facts.access;
    let owner = facts.repo.split_once('/').map_or("", |(o, _)| o);
    vec![
        customer_accounts_check(customers, owner, &a.collaborators),
        outside_collaborators_check(&facts.repo, &a.outside_collaborators),
        base_permission_check(owner, &a.owner),
        pages_check(&facts.private, &a.pages),
    ]
}

/// `` `login` (role) `` for each collaborator.
fn listed(people: &[&Collaborator]) -> String {
    people
        .iter()
        .map(|c| format!("`{}` ({})", c.login, c.role))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The registered customers (revoked ones too) whose repo's owner is a
/// collaborator of the manager repo: (customer, collaborator). A customer
/// repo the manager's own owner holds is the provider's, not a
/// customer's account.
fn customer_accounts<'a>(
    customers: &'a [Customer],
    manager_owner: &str,
    collaborators: &'a [Collaborator],
) -> Vec<(&'a str, bool, &'a Collaborator)> {
    let mut out = Vec::new();
    for c in customers {
        let Some((owner, _)) = c.repo.as_deref().and_then(|r| r.split_once('/')) else {
            continue;
        };
        if owner.eq_ignore_ascii_case(manager_owner) {
            continue;
        }
        if let Some(who) = collaborators
            .iter()
            .find(|x| x.login.eq_ignore_ascii_case(owner))
        {
            out.push((c.slug.as_str(), c.takes_part(Activity::Dispatch), who));
        }
    }
    out
}

fn customer_accounts_check(
    customers: &[Customer],
    manager_owner: &str,
    collaborators: &Result<Vec<Collaborator>, String>,
) -> Check {
    let what = "customer accounts on the manager repo";
    let fix = "remove them: Settings → Collaborators and teams (and from any team of the provider's organisation that reaches the manager repo); customers reach the manager only through the relay or `fleetform poll`";
    let all = match collaborators {
        Ok(all) => all,
        Err(e) => {
            return Check::unknown(
                Level::Must,
                what,
                e,
                "run doctor with a token of an account with write access to the manager repo (GitHub lists collaborators only to them)",
            )
        }
    };
    let found = customer_accounts(customers, manager_owner, all);
    if all.is_empty() {
        return Check::pass(Level::Must, what, "the repo has no collaborators");
    }
    if found.is_empty() {
        return Check::pass(
            Level::Must,
            what,
            format!(
                "none of the {} is a customer's account",
                crate::util::text::count(all.len(), "collaborator", "collaborators")
            ),
        );
    }
    let named: Vec<String> = found
        .iter()
        .map(|(slug, active, who)| {
            let revoked = if *active { "" } else { ", revoked" };
            format!(
                "`{}` (customer {slug}{revoked}) is a collaborator ({})",
                who.login, who.role
            )
        })
        .collect();
    Check::not_met(Level::Must, what, named.join("; "), fix)
}

fn outside_collaborators_check(repo: &str, outside: &Result<Vec<Collaborator>, String>) -> Check {
    let what = "outside collaborators";
    match outside {
        Err(e) => Check::unknown(
            Level::Should,
            what,
            e,
            "run doctor with a token of an account with write access to the manager repo",
        ),
        Ok(list) if list.is_empty() => Check::pass(Level::Should, what, "none"),
        Ok(list) => {
            let people: Vec<&Collaborator> = list.iter().collect();
            Check::not_met(
                Level::Should,
                what,
                format!("{repo}: {}", listed(&people)),
                "customers must not be collaborators of the manager repo: remove each one who is not the provider's (Settings → Collaborators and teams), or make the provider's people members of its organisation",
            )
        }
    }
}

fn base_permission_check(owner: &str, account: &Result<Owner, String>) -> Check {
    let what = "organisation base permission";
    let fix = format!("Organisation `{owner}` → Settings → Member privileges → Base permissions: \"No permission\"; give the provider's people the manager repo through a team");
    match account {
        Err(e) => Check::unknown(Level::Must, what, e, &fix),
        Ok(Owner::User) => Check::pass(
            Level::Must,
            what,
            format!("`{owner}` is a user account: no organisation, no base permission"),
        ),
        Ok(Owner::Organisation {
            base_permission: None,
            ..
        }) => Check::unknown(
            Level::Must,
            what,
            "GitHub did not show `default_repository_permission` (only to an organisation owner's token; a classic token also needs `admin:org`)",
            &format!("run doctor with an organisation owner's token, or check it yourself: {fix}"),
        ),
        Ok(Owner::Organisation {
            base_permission: Some(p),
            ..
        }) if p == "none" => Check::pass(
            Level::Must,
            what,
            format!("`none`: members of `{owner}` reach only the repos they are given"),
        ),
        Ok(Owner::Organisation {
            base_permission: Some(p),
            ..
        }) => Check::not_met(
            Level::Must,
            what,
            format!("`{p}`: every member of `{owner}` has `{p}` on the manager repo"),
            fix,
        ),
    }
}

fn pages_check(private: &Result<bool, String>, pages: &Result<Pages, String>) -> Check {
    let what = "Pages site";
    let fix = "on GitHub Team and Pro a Pages site of a private repo is public: publish the dashboard as an artifact (workflows/manager-dashboard.yml) instead: leave the repository variable FLEETFORM_DASHBOARD_PAGES unset (it keeps the artifact `fleetform-dashboard` only) and unpublish the site (Settings → Pages)";
    match pages {
        Err(e) => Check::unknown(
            Level::Must,
            what,
            e,
            "run doctor with a token that may read the manager repo's Pages settings",
        ),
        Ok(Pages::None) => Check::pass(Level::Must, what, "none"),
        Ok(Pages::Site { public: false }) => Check::pass(
            Level::Must,
            what,
            "visible only to those who may read the repo",
        ),
        Ok(Pages::Site { public: true }) => match private {
            Err(e) => Check::unknown(Level::Must, what, e, "run again; check the token"),
            Ok(false) => Check::pass(Level::Must, what, "public, as the repo itself is"),
            Ok(true) => Check::not_met(
                Level::Must,
                what,
                "the manager repo is private but its Pages site is public: anyone on the internet can read it",
                fix,
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Verdict::*;

    fn customers() -> Vec<Customer> {
        let c = |slug: &str, repo: &str, revoked: bool| {
            let mut v = serde_json::json!({
                "slug": slug, "repo": repo, "contact": "ops@example.com",
                "environments": ["staging"], "added": "2026-01-01",
            });
            if revoked {
                v["status"] = "revoked".into();
                v["revoked"] = serde_json::json!({ "date": "2026-02-01", "reason": "ended" });
            }
            serde_json::from_value::<Customer>(v).unwrap()
        };
        vec![
            c("acme", "Acme-Corp/acme-infra", false),
            c("own", "provider/own-infra", false),
            c("gone", "initech/tps", true),
        ]
    }

    fn who(login: &str, role: &str) -> Collaborator {
        Collaborator {
            login: login.into(),
            role: role.into(),
            id: 0,
        }
    }

    #[test]
    fn a_customer_account_among_the_collaborators_fails() {
        let r = customers();
        let pass = customer_accounts_check(&r, "provider", &Ok(vec![who("alice", "admin")]));
        assert_eq!(pass.result, Pass);
        // Logins compare case-insensitively; revoked customers count too;
        // the manager's own owner is no customer's account.
        let all = vec![
            who("acme-corp", "write"),
            who("provider", "admin"),
            who("INITECH", "read"),
        ];
        let c = customer_accounts_check(&r, "provider", &Ok(all));
        assert_eq!((c.level, c.result), (Level::Must, Fail));
        assert_eq!(
            c.found,
            "`acme-corp` (customer acme) is a collaborator (write); `INITECH` (customer gone, revoked) is a collaborator (read)"
        );
        // A list that could not be read is "could not check", never a pass.
        let c = customer_accounts_check(&r, "provider", &Err("403".into()));
        assert_eq!(c.result, Unknown);
    }

    #[test]
    fn outside_collaborators_warn() {
        let c = outside_collaborators_check("p/m", &Ok(vec![who("bob", "read")]));
        assert_eq!((c.level, c.result), (Level::Should, Warn));
        assert_eq!(c.found, "p/m: `bob` (read)");
        assert_eq!(outside_collaborators_check("p/m", &Ok(vec![])).result, Pass);
    }

    #[test]
    fn the_base_permission_must_be_none() {
        let org = |p: Option<&str>| {
            Ok(Owner::Organisation {
                base_permission: p.map(str::to_string),
                plan: None,
            })
        };
        assert_eq!(base_permission_check("p", &org(Some("none"))).result, Pass);
        assert_eq!(base_permission_check("p", &org(Some("read"))).result, Fail);
        let hidden = base_permission_check("p", &org(None));
        assert_eq!(hidden.result, Unknown);
        assert!(hidden.found.contains("did not show"), "{}", hidden.found);
        let user = base_permission_check("p", &Ok(Owner::User));
        assert_eq!(user.result, Pass);
        assert!(user.found.contains("user account"));
    }

    #[test]
    fn a_public_site_of_a_private_repo_fails() {
        let site = |public| Ok(Pages::Site { public });
        assert_eq!(pages_check(&Ok(true), &Ok(Pages::None)).result, Pass);
        assert_eq!(pages_check(&Ok(true), &site(false)).result, Pass);
        assert_eq!(pages_check(&Ok(false), &site(true)).result, Pass);
        let c = pages_check(&Ok(true), &site(true));
        assert_eq!(c.result, Fail);
        assert!(c.fix.contains("manager-dashboard.yml"));
        assert_eq!(pages_check(&Err("x".into()), &site(true)).result, Unknown);
        assert_eq!(pages_check(&Ok(true), &Err("403".into())).result, Unknown);
    }
}
