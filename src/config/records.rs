//! `records:` in fleetform.yml: where records that must outlive a runner
//! are kept, and its check.

use super::*;

/// `records:` in fleetform.yml: a folder, or an S3-compatible bucket.
/// Every record is its own object, written create-only.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Records {
    /// A folder in the manager repo (the default: `.fleetform/records`).
    Local {
        #[serde(default = "default_records_dir")]
        dir: RepoPath,
        /// The provider's age recipient the states an offboarding keeps
        /// are encrypted to (its identity kept offline).
        #[serde(default)]
        recipient: Option<String>,
    },
    /// An S3 bucket (usually the state bucket) under `prefix`; a bucket
    /// with Object Lock and a default retention keeps records immutable.
    S3 {
        bucket: String,
        region: String,
        #[serde(default = "default_records_prefix")]
        prefix: String,
        /// Custom endpoint (S3-compatible stores, tests).
        endpoint: Option<String>,
        #[serde(default)]
        use_path_style: bool,
        /// A PEM bundle of CA certificates trusted for the endpoint (in
        /// the manager repo), in addition to the system's and the bundled
        /// roots: an S3-compatible store with an internal CA.
        ca_file: Option<RepoPath>,
        /// The provider's age recipient the states an offboarding keeps
        /// are encrypted to; required for an offboarding into a bucket.
        #[serde(default)]
        recipient: Option<String>,
        /// The role the manager's jobs assume to write the records (its
        /// ARN): `doctor --fix` sets the repository variable
        /// FLEETFORM_RECORDS_WRITE_ROLE to it.
        #[serde(default)]
        write_role: Option<String>,
        /// The role the dashboard's job assumes to read them:
        /// FLEETFORM_RECORDS_READ_ROLE.
        #[serde(default)]
        read_role: Option<String>,
    },
}

impl Records {
    /// `write_role` and `read_role` of a bucket, by key.
    pub fn roles(&self) -> [(&'static str, Option<&str>); 2] {
        match self {
            Records::S3 {
                write_role,
                read_role,
                ..
            } => [
                ("write_role", write_role.as_deref()),
                ("read_role", read_role.as_deref()),
            ],
            Records::Local { .. } => [("write_role", None), ("read_role", None)],
        }
    }

    /// The age recipient archived states are encrypted to, if set.
    pub fn recipient(&self) -> Option<&str> {
        match self {
            Records::Local { recipient, .. } | Records::S3 { recipient, .. } => {
                recipient.as_deref()
            }
        }
    }
}

impl Default for Records {
    fn default() -> Self {
        Records::Local {
            dir: default_records_dir(),
            recipient: None,
        }
    }
}

fn default_records_dir() -> RepoPath {
    RepoPath::default_for(".fleetform/records")
}
fn default_records_prefix() -> String {
    "fleetform/records".into()
}

impl Manager {
    /// An S3 prefix is a relative key path without `..`.
    pub(super) fn check_records(&self) -> Result<(), ConfigError> {
        if let Some(r) = self.config.records.recipient() {
            if r.parse::<age::x25519::Recipient>().is_err() {
                return Err(self.invalid(
                    "/records/recipient",
                    "an age recipient (`age1...`, from `age-keygen`): the states an offboarding keeps are encrypted to it",
                ));
            }
        }
        if let Records::S3 { prefix, bucket, .. } = &self.config.records {
            let ok = !prefix.starts_with('/')
                && !prefix.split('/').any(|seg| seg == ".." || seg == ".")
                && prefix
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
            if !ok {
                return Err(self.invalid(
                    "/records/prefix",
                    "a key prefix of letters, digits, `-`, `_`, `.` and `/`, not starting with `/`, without `..`",
                ));
            }
            if bucket.is_empty() || bucket.contains('/') {
                return Err(self.invalid("/records/bucket", "a bucket name"));
            }
            for (key, role) in self.config.records.roles() {
                let Some(role) = role else { continue };
                if !is_arn(role) {
                    return Err(self.invalid(
                        &format!("/records/{key}"),
                        "a role's ARN (`arn:aws:iam::<account>:role/<name>`)",
                    ));
                }
            }
        }
        if let Some(role) = &self.config.state.doctor_role {
            if !is_arn(role) {
                return Err(self.invalid(
                    "/state/doctor_role",
                    "a role's ARN (`arn:aws:iam::<account>:role/<name>`)",
                ));
            }
        }
        Ok(())
    }
}

/// A role's ARN as the workflows pass it to configure-aws-credentials.
fn is_arn(role: &str) -> bool {
    role.starts_with("arn:")
        && role.split(':').count() >= 6
        && !role.chars().any(|c| c.is_whitespace() || c.is_control())
}
