//! Customer secrets due for rotation (`secrets.max_age_days` of an
//! environment): one *should* row per active customer whose local
//! checkout holds a secret older than the limit or of unknown age, or a
//! secrets file that does not parse. Only names and sources are shown.

use crate::data::summary::SecretAge;

use super::{Check, Level};

/// The rows for each customer's stale secrets (`(slug, stale)`, as
/// `values::secret_ages::stale_of_checkout` found them); `policies`: some
/// environment has `secrets.max_age_days` (a pass row when nothing is
/// stale, nothing without any policy).
pub fn secret_age_checks(
    stale: &[(String, Vec<Result<SecretAge, String>>)],
    policies: bool,
) -> Vec<Check> {
    let mut checks: Vec<Check> = stale
        .iter()
        .filter(|(_, found)| !found.is_empty())
        .map(|(slug, found)| {
            let listed: Vec<String> = found
                .iter()
                .map(|f| match f {
                    Ok(a) => match a.age_days {
                        Some(d) => format!("{} ({d} days old)", a.source),
                        None => format!("{} (age unknown: no `updated:`)", a.source),
                    },
                    Err(e) => format!("unreadable: {e}"),
                })
                .collect();
            Check::not_met(
                Level::Should,
                format!("secrets of customer {slug}"),
                format!("due for rotation (`secrets.max_age_days`): {}", listed.join("; ")),
                format!(
                    "ask `{slug}` to set a new value of each, encrypted again to its recipient (`fleetform customers instructions {slug}`), with a new `updated:` date"
                ),
            )
        })
        .collect();
    if checks.is_empty() && policies {
        checks.push(Check::pass(
            Level::Should,
            "customer secrets' age",
            "no secret in the local checkouts is older than its environment's `secrets.max_age_days`",
        ));
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Verdict;

    #[test]
    fn a_stale_secret_warns_naming_its_source_only() {
        let a = SecretAge {
            name: "db_password".into(),
            source: "infra/secrets.staging.yml#db_password".into(),
            age_days: Some(91),
            stale: true,
            max_age_days: Some(90),
        };
        let rows = secret_age_checks(&[("acme".into(), vec![Ok(a)])], true);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].result, Verdict::Warn);
        assert!(rows[0]
            .found
            .contains("secrets.staging.yml#db_password (91 days old)"));
        let rows = secret_age_checks(&[("acme".into(), Vec::new())], true);
        assert_eq!(rows[0].result, Verdict::Pass);
        assert!(secret_age_checks(&[], false).is_empty());
    }
}
