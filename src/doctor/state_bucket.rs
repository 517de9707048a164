//! The state bucket of an s3 backend, as its S3 API answers: versioning
//! on (a *must*: without it a damaged state has nothing to be recovered
//! from), no lifecycle rule expiring non-current versions sooner than the
//! provider's recovery window (`state: recovery_days`), and Object Lock
//! and default encryption as facts.

use super::{Check, Level};

/// What was read of the bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateBucketFacts {
    /// `s3://bucket`.
    pub bucket: String,
    /// `Enabled`, `Suspended`, or `None` when never on.
    pub versioning: Option<String>,
    /// Enabled rules expiring non-current versions: (rule id, days).
    pub noncurrent_expiry: Vec<(String, u32)>,
    pub object_lock: Option<String>,
    pub encryption: Option<String>,
}

/// The rows for the bucket (`read`: the facts, or why they could not be
/// read), with the recovery window `recovery_days` when one is stated.
pub fn state_bucket_checks(
    read: Result<StateBucketFacts, String>,
    recovery_days: Option<u32>,
) -> Vec<Check> {
    let f = match read {
        Ok(f) => f,
        Err(why) => {
            let mut c = Check::not_met(
                Level::Must,
                "state bucket versioning",
                format!("could not be read: {why}"),
                "give doctor's job the AWS credential a plan uses (s3:GetBucketVersioning, s3:GetLifecycleConfiguration, s3:GetBucketObjectLockConfiguration, s3:GetEncryptionConfiguration on the state bucket)",
            );
            c.result = super::Verdict::Unknown;
            return vec![c];
        }
    };
    let mut checks = vec![versioning(&f)];
    checks.push(lifecycle(&f, recovery_days));
    checks.push(Check::pass(
        Level::Should,
        "state bucket Object Lock",
        f.object_lock
            .clone()
            .unwrap_or_else(|| format!("{}: none (a fact, not required)", f.bucket)),
    ));
    checks.push(Check::pass(
        Level::Should,
        "state bucket encryption",
        f.encryption.clone().map_or_else(
            || format!("{}: no default encryption configured", f.bucket),
            |a| format!("{}: {a} by default", f.bucket),
        ),
    ));
    checks
}

fn versioning(f: &StateBucketFacts) -> Check {
    let what = "state bucket versioning";
    match f.versioning.as_deref() {
        Some("Enabled") => Check::pass(Level::Must, what, format!("{}: on", f.bucket)),
        other => Check::not_met(
            Level::Must,
            what,
            format!(
                "{}: {} — a damaged state has no earlier version to be restored from",
                f.bucket,
                match other {
                    Some(s) => s.to_lowercase(),
                    None => "never turned on".into(),
                }
            ),
            "turn versioning on (aws s3api put-bucket-versioning --versioning-configuration Status=Enabled), then `fleetform state drill` proves the states restore",
        ),
    }
}

fn lifecycle(f: &StateBucketFacts, recovery_days: Option<u32>) -> Check {
    let what = "state bucket non-current versions";
    let shortest = f.noncurrent_expiry.iter().min_by_key(|(_, d)| *d);
    match (shortest, recovery_days) {
        (None, _) => Check::pass(
            Level::Should,
            what,
            format!("{}: kept (no lifecycle rule expires them)", f.bucket),
        ),
        (Some((rule, days)), Some(window)) if *days < window => Check::not_met(
            Level::Should,
            what,
            format!(
                "lifecycle rule `{rule}` expires them after {days} days, sooner than the recovery window of {window} days (`state: recovery_days`)"
            ),
            format!("keep non-current versions at least {window} days, or state the window you can keep"),
        ),
        (Some((rule, days)), _) => Check::pass(
            Level::Should,
            what,
            format!("kept {days} days (lifecycle rule `{rule}`){}", match recovery_days {
                Some(w) => format!(", within the recovery window of {w} days"),
                None => String::new(),
            }),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Verdict;

    fn facts(versioning: Option<&str>, expiry: &[(&str, u32)]) -> StateBucketFacts {
        StateBucketFacts {
            bucket: "s3://state".into(),
            versioning: versioning.map(str::to_string),
            noncurrent_expiry: expiry.iter().map(|(r, d)| (r.to_string(), *d)).collect(),
            object_lock: None,
            encryption: Some("AES256".into()),
        }
    }

    #[test]
    fn versioning_off_fails_and_a_short_lifecycle_warns() {
        let on = state_bucket_checks(Ok(facts(Some("Enabled"), &[])), Some(30));
        assert!(on.iter().all(|c| c.result == Verdict::Pass), "{on:?}");
        for off in [None, Some("Suspended")] {
            let c = &state_bucket_checks(Ok(facts(off, &[])), None)[0];
            assert_eq!((c.level, c.result), (Level::Must, Verdict::Fail), "{c:?}");
        }
        let short = state_bucket_checks(
            Ok(facts(Some("Enabled"), &[("old", 7), ("x", 90)])),
            Some(30),
        );
        assert_eq!(short[1].result, Verdict::Warn);
        assert!(
            short[1].found.contains("`old` expires them after 7 days"),
            "{:?}",
            short[1]
        );
        let long = state_bucket_checks(Ok(facts(Some("Enabled"), &[("old", 45)])), Some(30));
        assert_eq!(long[1].result, Verdict::Pass);
        let unread = state_bucket_checks(Err("403".into()), None);
        assert_eq!(unread[0].result, Verdict::Unknown);
    }
}
