//! How old each customer secret is (its `updated:` date) against the
//! environment's rotation policy (`secrets.max_age_days` in fleetform.yml):
//! a secret exactly `max_age_days` old is fine, one day older is stale, and
//! one without `updated:` under a policy is stale too (its age is unknown).
//! Nothing here decrypts: the ages come from the file's readable part, so
//! `customers list` and `doctor` can say it without any key.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::config::{Customer, Manager, Registry};
use crate::data::summary::SecretAge;
use crate::values::customer::CustomerSource;
use crate::values::secret_files::{self, SecretsFile};

/// Today, UTC (`FLEETFORM_NOW`, Unix seconds, in tests).
pub fn today() -> jiff::civil::Date {
    let secs = std::env::var("FLEETFORM_NOW")
        .ok()
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or_else(|| jiff::Timestamp::now().as_second());
    jiff::Timestamp::from_second(secs)
        .unwrap_or_else(|_| jiff::Timestamp::now())
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
}

/// The environment's `secrets.max_age_days`, if it has one.
pub fn max_age(manager: &Manager, env: &str) -> Option<u32> {
    manager
        .environment(env)
        .and_then(|e| e.secrets.as_ref())
        .and_then(|s| s.max_age_days)
}

/// Whether a secret `age` days old (none: unknown) breaks `max` (none: no
/// policy). The boundary is kept: `max` days old is fine.
pub fn is_stale(age: Option<i64>, max: Option<u32>) -> bool {
    match (max, age) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(m), Some(a)) => a > i64::from(m),
    }
}

/// The age of each secret of `file` on `today` under `max`.
pub fn ages(file: &SecretsFile, max: Option<u32>, today: jiff::civil::Date) -> Vec<SecretAge> {
    file.entries
        .iter()
        .map(|e| {
            let age_days = e.updated.and_then(|d| {
                d.until((jiff::Unit::Day, today))
                    .ok()
                    .map(|span| i64::from(span.get_days()))
            });
            SecretAge {
                name: e.name.clone(),
                source: format!("{}#{}", file.file.display(), e.name),
                age_days,
                stale: is_stale(age_days, max),
                max_age_days: max,
                stored: false,
            }
        })
        .collect()
}

/// Why a stale secret warns, in one line (`None` when it is not stale).
pub fn warning(a: &SecretAge) -> Option<String> {
    if !a.stale {
        return None;
    }
    let limit = a
        .max_age_days
        .map(|m| format!("{m} days"))
        .unwrap_or_else(|| "the limit".into());
    Some(match a.age_days {
        Some(d) => format!(
            "`{}` ({}) was last updated {d} days ago, over the {limit} of `secrets.max_age_days`: rotate it (a new value, encrypted again, with a new `updated:`)",
            a.name, a.source
        ),
        None => format!(
            "`{}` ({}): age unknown (no `updated:`), and the environment rotates secrets every {limit} (`secrets.max_age_days`): give it `updated: YYYY-MM-DD` when the value is next set",
            a.name, a.source
        ),
    })
}

/// The stale secrets of each environment of a customer's secrets files
/// as read; a file that does not parse is reported as its error.
pub fn stale_in(
    manager: &Manager,
    secrets: &BTreeMap<String, (PathBuf, Vec<u8>)>,
    today: jiff::civil::Date,
) -> Vec<Result<SecretAge, String>> {
    let mut out = Vec::new();
    for (env, (shown, bytes)) in secrets {
        match secret_files::parse(shown, bytes) {
            Ok(file) => out.extend(
                ages(&file, max_age(manager, env), today)
                    .into_iter()
                    .filter(|a| a.stale)
                    .map(Ok),
            ),
            Err(e) => out.push(Err(e.to_string())),
        }
    }
    out
}

/// The stale secrets of `env` in the files a deployment record holds
/// (`(path, content)`; the secrets file of the environment, if the apply
/// had one), for the dashboard: nothing decrypted.
pub fn stale_of_record<'f>(
    manager: &Manager,
    env: &str,
    files: impl IntoIterator<Item = (&'f str, &'f str)>,
    today: jiff::civil::Date,
) -> Vec<SecretAge> {
    let wanted = crate::values::customer::secrets_path(manager, env);
    let Some((path, content)) = files
        .into_iter()
        .find(|(p, _)| std::path::Path::new(p).ends_with(&wanted))
    else {
        return Vec::new();
    };
    match secret_files::parse(std::path::Path::new(path), content.as_bytes()) {
        Ok(file) => ages(&file, max_age(manager, env), today)
            .into_iter()
            .filter(|a| a.stale)
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The stale secrets of a customer whose checkout is local (`path:` in
/// the registry); none without a checkout, or when no environment has a
/// rotation policy.
pub fn stale_of_checkout(
    manager: &Manager,
    registry: &Registry,
    c: &Customer,
    today: jiff::civil::Date,
) -> Vec<Result<SecretAge, String>> {
    let any_policy = c.environments.iter().any(|e| max_age(manager, e).is_some());
    let Some(dir) = registry.customer_dir(c).filter(|_| any_policy) else {
        return Vec::new();
    };
    match CustomerSource::from_dir(manager, &dir, &c.environments) {
        Ok(source) => stale_in(manager, &source.secrets, today),
        // An unreadable checkout is `validate`'s to report.
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_boundary_day_is_fine_and_the_next_warns() {
        assert!(!is_stale(Some(90), Some(90)));
        assert!(is_stale(Some(91), Some(90)));
        assert!(!is_stale(Some(400), None));
        assert!(is_stale(None, Some(90)));
        assert!(!is_stale(None, None));
    }

    #[test]
    fn ages_count_days_from_updated() {
        let (recipient, _) = secret_files::generate();
        let r: age::x25519::Recipient = recipient.parse().unwrap();
        let ct = age::encrypt_and_armor(&r, b"x").unwrap();
        let value: String = ct.lines().map(|l| format!("      {l}\n")).collect();
        let text = format!(
            "recipient: {recipient}\nsecrets:\n  a:\n    updated: 2026-01-01\n    value: |\n{value}  b:\n    value: |\n{value}"
        );
        let file = secret_files::parse(Path::new("s.yml"), text.as_bytes()).unwrap();
        let today: jiff::civil::Date = "2026-04-01".parse().unwrap();
        let got = ages(&file, Some(90), today);
        assert_eq!(got[0].age_days, Some(90));
        assert!(!got[0].stale);
        assert_eq!(got[0].source, "s.yml#a");
        assert_eq!(got[1].age_days, None);
        assert!(got[1].stale);
        assert!(warning(&got[1]).unwrap().contains("age unknown"));
        let next = ages(&file, Some(90), "2026-04-02".parse().unwrap());
        assert!(next[0].stale);
        assert!(warning(&next[0]).unwrap().contains("91 days ago"));
    }
}
