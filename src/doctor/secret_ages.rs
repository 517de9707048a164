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

/// The row about the schema's secrets and the root module: a *must* row
/// naming each secret whose variable is missing or not `sensitive = true`
/// (`problems`), a pass row when `secrets` were all checked, nothing
/// without any secret.
pub fn sensitive_variable_checks(secrets: usize, problems: &[String]) -> Vec<Check> {
    if secrets == 0 {
        return Vec::new();
    }
    let what = "secret variables are sensitive";
    if problems.is_empty() {
        return vec![Check::pass(
            Level::Must,
            what,
            format!(
                "{} the schema marks `writeOnly` reach{} a `sensitive = true` variable",
                crate::util::text::count(secrets, "secret", "secrets"),
                if secrets == 1 { "es" } else { "" }
            ),
        )];
    }
    vec![Check::not_met(
        Level::Must,
        what,
        problems.join("; "),
        "declare each secret in the root module as `variable \"NAME\" { sensitive = true }` (plans refuse a secret bound for any other variable)",
    )]
}

/// Which secrets Terraform keeps in sealed plan files and states, where
/// every reader of a bundle's key or the state's bucket reads them: a
/// *should* row naming each, passing when every secret is ephemeral.
pub fn stored_secret_checks(secrets: usize, stored: &[String]) -> Vec<Check> {
    if secrets == 0 {
        return Vec::new();
    }
    let what = "secrets stay out of plan files and states";
    if stored.is_empty() {
        return vec![Check::pass(
            Level::Should,
            what,
            format!(
                "every secret reaches an `ephemeral = true` variable ({}): applies decrypt them again",
                crate::util::text::count(secrets, "secret", "secrets")
            ),
        )];
    }
    let names: Vec<String> = stored.iter().map(|n| format!("`{n}`")).collect();
    vec![Check::not_met(
        Level::Should,
        what,
        format!(
            "kept in every sealed plan file and state, as for any `sensitive` variable: {}",
            names.join(", ")
        ),
        "declare each as `variable \"NAME\" { sensitive = true, ephemeral = true }` and pass it only to write-only arguments (`*_wo`) of the provider's resources, where they have one; the apply then decrypts it again (README, \"Customer secrets\")",
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Verdict;

    #[test]
    fn a_secret_bound_for_a_plain_variable_is_a_must_row() {
        assert!(sensitive_variable_checks(0, &[]).is_empty());
        let ok = sensitive_variable_checks(2, &[]);
        assert_eq!(ok[0].result, Verdict::Pass);
        let bad = sensitive_variable_checks(1, &["`db`: not sensitive".into()]);
        assert_eq!(bad[0].level, Level::Must);
        assert_ne!(bad[0].result, Verdict::Pass);
        assert!(bad[0].found.contains("`db`"), "{:?}", bad[0]);
    }

    #[test]
    fn a_secret_kept_in_plan_files_is_a_should_row_naming_it() {
        assert!(stored_secret_checks(0, &[]).is_empty());
        assert_eq!(stored_secret_checks(2, &[])[0].result, Verdict::Pass);
        let rows = stored_secret_checks(2, &["db_password".into()]);
        assert_eq!(rows[0].level, Level::Should);
        assert_ne!(rows[0].result, Verdict::Pass);
        assert!(rows[0].found.contains("`db_password`"), "{:?}", rows[0]);
    }

    #[test]
    fn a_stale_secret_warns_naming_its_source_only() {
        let a = SecretAge {
            name: "db_password".into(),
            source: "infra/secrets.staging.yml#db_password".into(),
            age_days: Some(91),
            stale: true,
            max_age_days: Some(90),
            stored: false,
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
