//! A rotation left open: the previous dispatch secret still set in a
//! manager environment, or a previous secret in the environment `doctor`
//! runs in (the relay's, on a workstation). Each keeps an old secret
//! working; a warning, since a rotation under way is meant to.

use super::facts::Fetched;
use super::{Check, Level};
use crate::util::credentials::{
    DISPATCH_SECRET_PREVIOUS as PREVIOUS_SECRET_ENV,
    WEBHOOK_SECRET_PREVIOUS as WEBHOOK_SECRET_PREVIOUS_ENV,
};

/// The warnings (and nothing when no rotation is open), from the names of
/// each environment's secrets; `set` tells whether a variable is set here.
pub fn rotation_checks(
    environment_secrets: &[(String, Fetched<Vec<String>>)],
    set: impl Fn(&str) -> bool,
) -> Vec<Check> {
    let mut out = Vec::new();
    for (env, secrets) in environment_secrets {
        if secrets
            .as_ref()
            .is_ok_and(|s| s.iter().any(|n| n == PREVIOUS_SECRET_ENV))
        {
            out.push(Check::warn(
                Level::Should,
                format!("rotation {env}"),
                format!("{PREVIOUS_SECRET_ENV} is still set: keys of the previous dispatch secret are accepted"),
                format!("once every customer has its new key (`fleetform customers dispatch-key`), delete the secret {PREVIOUS_SECRET_ENV} of {env}"),
            ));
        }
    }
    for var in [PREVIOUS_SECRET_ENV, WEBHOOK_SECRET_PREVIOUS_ENV] {
        if set(var) {
            out.push(Check::warn(
                Level::Should,
                format!("rotation {var}"),
                format!("{var} is set here: the previous secret is still accepted"),
                format!("unset {var} once the rotation is over (README, \"Rotating secrets\")"),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_rotation_is_a_warning_naming_where() {
        let secrets = vec![
            ("staging-plan".into(), Ok(vec![PREVIOUS_SECRET_ENV.into()])),
            (
                "staging-apply".into(),
                Ok(vec!["FLEETFORM_DISPATCH_SECRET".into()]),
            ),
        ];
        let checks = rotation_checks(&secrets, |v| v == WEBHOOK_SECRET_PREVIOUS_ENV);
        let whats: Vec<&str> = checks.iter().map(|c| c.what.as_str()).collect();
        assert_eq!(
            whats,
            [
                "rotation staging-plan",
                "rotation FLEETFORM_WEBHOOK_SECRET_PREVIOUS"
            ]
        );
        assert!(checks
            .iter()
            .all(|c| c.result == super::super::Verdict::Warn));
        assert!(rotation_checks(&[], |_| false).is_empty());
    }
}
