//! The top-level error and the exit codes.
//!
//! | code | meaning |
//! |-----:|---------|
//! | 0 | success |
//! | 1 | something failed: invalid values, a template or Terraform error, some customers of a fleet run failed, or a `rollout tick` left its rollout halted |
//! | 2 | usage or configuration error: bad flags, invalid `fleetform.yml`, registry or schema, a path it names that does not exist, an unknown customer or environment named on the command line (the message lists the known ones), nothing to do for what was asked (e.g. `plan --customer X --env E` where X does not have E), a `--terraform` that names no program |
//! | 3 | refused by a safety check: plan digest mismatch, an offboarding `--approve` that is not its plans' digest, a day-2 operation by someone outside `rollout.operators` on GitHub, stale plan, an apply for a revoked customer, a dispatch from an unknown or revoked customer, hostile, unsigned or wrongly signed dispatch, a rollout start of a commit already rolled out, a rollback of a running rollout, a tick whose wave is not approved, a control action by someone outside `rollout.operators` |
//! | 4 | drift found (`fleetform drift`, when no check failed): the cloud changed outside Terraform in a pair whose drift is not all accepted (`drift.accepted`); edits not applied yet alone are no drift and exit 0 |
//! | 5 | `fleetform doctor`: a *must* check failed or could not be made (warnings alone exit 0) |
//!
//! The README's table (*Exit codes*) is this one; `tests/newcomer/first_hour.rs` checks
//! that they agree.

use crate::config::ConfigError;
use crate::data::Diagnostic;
use crate::terraform::TerraformError;
use crate::values::schema::SchemaError;
use fleetform_yaml::Location;

pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_REFUSED: u8 = 3;
pub const EXIT_DRIFT: u8 = 4;
pub const EXIT_DOCTOR: u8 = 5;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Schema(#[from] SchemaError),
    #[error("{0}")]
    #[diagnostic(transparent)]
    Usage(Say),
    /// Problems in values; each is reported on its own.
    #[error("{} in the values", crate::util::text::count(.0.len(), "problem", "problems"))]
    #[diagnostic(help("fix {} and run again", if .0.len() == 1 { "it" } else { "them" }))]
    Values(Vec<Diagnostic>),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Terraform(#[from] TerraformError),
    #[error("refused: {0}")]
    #[diagnostic(transparent)]
    Refused(Say),
    /// A product cannot plan yet: a product it needs has not been applied
    /// here (its outputs do not exist). Not a failure of this product.
    #[error("{0}")]
    #[diagnostic(transparent)]
    Waiting(Say),
    /// A preview of an unreviewed change (impact) of a pair with secrets:
    /// not planned, so nothing decrypts them. Not a failure of the pair.
    #[error("{0}")]
    #[diagnostic(transparent)]
    Withheld(Say),
    /// A failure already reported in detail (e.g. some customers of a fleet
    /// run failed); carries the one-line summary.
    #[error("{0}")]
    #[diagnostic(transparent)]
    Failed(Say),
    /// Drift was found (not an error of fleetform's).
    #[error("{0}")]
    Drift(String),
    /// `doctor` found a *must* that fails (the checklist is already shown).
    #[error("{0}")]
    Doctor(String),
    /// Shown with its whole chain of causes, so an OS error ("No space
    /// left on device") is never hidden behind "writing comment.md".
    #[error("{0:#}")]
    Other(#[from] anyhow::Error),
}

impl From<crate::terraform::needs::NeedsError> for Error {
    fn from(e: crate::terraform::needs::NeedsError) -> Self {
        use crate::terraform::needs::NeedsError;
        match e {
            NeedsError::Waiting(m) => Error::Waiting(m.into()),
            NeedsError::Refused(m) => Error::refused(m),
            NeedsError::Terraform(t) => Error::Terraform(t),
        }
    }
}

impl From<crate::util::fs::FsError> for Error {
    fn from(e: crate::util::fs::FsError) -> Self {
        Error::Other(e.into())
    }
}

impl Error {
    pub fn usage(say: impl Into<Say>) -> Error {
        Error::Usage(say.into())
    }

    pub fn refused(say: impl Into<Say>) -> Error {
        Error::Refused(say.into())
    }

    pub fn failed(say: impl Into<Say>) -> Error {
        Error::Failed(say.into())
    }

    /// What the reader does about it, when the error knows.
    pub fn help(&self) -> Option<String> {
        miette::Diagnostic::help(self).map(|h| h.to_string())
    }

    /// The place in a file the error is about, when there is one.
    pub fn at(&self) -> Option<&Location> {
        match self {
            Error::Config(c) => c.location(),
            Error::Usage(s)
            | Error::Refused(s)
            | Error::Failed(s)
            | Error::Waiting(s)
            | Error::Withheld(s) => s.at.as_ref(),
            _ => None,
        }
    }

    /// The error's kind, in a JSON error object.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Config(_) => "config",
            Error::Schema(_) => "schema",
            Error::Usage(_) => "usage",
            Error::Refused(_) => "refused",
            Error::Waiting(_) => "waiting",
            Error::Withheld(_) => "withheld",
            Error::Drift(_) => "drift",
            Error::Doctor(_) => "doctor",
            Error::Values(_) => "values",
            Error::Terraform(_) => "terraform",
            Error::Failed(_) => "failed",
            Error::Other(_) => "other",
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_)
            | Error::Schema(_)
            | Error::Usage(_)
            | Error::Terraform(TerraformError::NotABinary { .. }) => EXIT_USAGE,
            // A saved plan the state moved past is refused, not failed,
            // whichever command applied it (README: exit 3, plan again).
            Error::Refused(_)
            | Error::Waiting(_)
            | Error::Withheld(_)
            | Error::Terraform(TerraformError::StalePlan { .. })
            | Error::Terraform(TerraformError::OtherVersion { .. }) => EXIT_REFUSED,
            Error::Drift(_) => EXIT_DRIFT,
            Error::Doctor(_) => EXIT_DOCTOR,
            Error::Values(_) | Error::Terraform(_) | Error::Failed(_) | Error::Other(_) => {
                EXIT_FAILED
            }
        }
    }
}

impl Error {
    /// A one-line description of why one customer × environment did not
    /// plan or apply, for tables, free of customer values:
    /// the values' problems are counted, Terraform's output is left out.
    pub fn short(&self) -> String {
        match self {
            // The problems quote the customer's keys and values; this
            // line reaches tables, rollout and drift summaries and the
            // audit log on the manager, so it only counts them.
            Error::Values(d) => format!(
                "invalid values ({})",
                crate::util::text::count(d.len(), "problem", "problems")
            ),
            Error::Terraform(t) => terraform_short(t),
            // One line: the words, then what to do.
            other => match other.help() {
                Some(help) => format!("{other}; {help}"),
                None => other.to_string(),
            },
        }
    }
}

/// Terraform's error without Terraform's output (which can quote values).
fn terraform_short(t: &TerraformError) -> String {
    match t {
        TerraformError::Failed {
            binary, step, code, ..
        } => format!("`{binary} {step}` failed (exit {code})"),
        TerraformError::StalePlan { .. } => {
            "the saved plan is stale: the state changed after it was made; plan again".into()
        }
        TerraformError::OtherVersion { .. } => match miette::Diagnostic::help(t) {
            Some(help) => format!("{t}; {help}"),
            None => t.to_string(),
        },
        TerraformError::Locked { .. } => {
            "the state is locked by another run; wait for it to finish (or release a stuck lock with `force-unlock`)".into()
        }
        other => other.to_string(),
    }
}

/// A user error in words: what went wrong, where in a file when there is
/// a place, and what to do about it. The output layer shows the three
/// (`error:`, `  --> file:line:col`, `help:`), and under Actions as one
/// `::error file=…,line=…,col=…::` annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Say {
    pub what: String,
    pub at: Option<Location>,
    pub help: Option<String>,
}

impl Say {
    pub fn new(what: impl Into<String>) -> Say {
        Say {
            what: what.into(),
            at: None,
            help: None,
        }
    }

    /// What the reader does about it: one sentence, no trailing period.
    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Say {
        self.help = Some(help.into());
        self
    }

    /// The place in a file the error is about.
    #[must_use]
    pub fn at(mut self, at: Location) -> Say {
        self.at = Some(at);
        self
    }
}

impl miette::Diagnostic for Say {
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }
}

impl std::error::Error for Say {}

impl std::fmt::Display for Say {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.what)
    }
}

impl std::ops::Deref for Say {
    type Target = str;
    fn deref(&self) -> &str {
        &self.what
    }
}

impl PartialEq<str> for Say {
    fn eq(&self, other: &str) -> bool {
        self.what == other
    }
}

impl From<String> for Say {
    fn from(what: String) -> Say {
        Say::new(what)
    }
}

impl From<&str> for Say {
    fn from(what: &str) -> Say {
        Say::new(what)
    }
}

impl Say {
    /// One line, for a status, a table or a record: what, then what to do.
    pub fn one_line(&self) -> String {
        match &self.help {
            Some(help) => format!("{}; {help}", self.what),
            None => self.what.clone(),
        }
    }
}

impl From<Say> for String {
    fn from(say: Say) -> String {
        say.one_line()
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_plan_is_refused_whichever_command_applied_it() {
        let stale = Error::Terraform(TerraformError::StalePlan {
            output: "Saved plan is stale".into(),
        });
        assert_eq!(stale.exit_code(), EXIT_REFUSED);
        assert_eq!(Error::refused("x").exit_code(), EXIT_REFUSED);
        assert_eq!(Error::failed("x").exit_code(), EXIT_FAILED);
    }

    #[test]
    fn the_short_form_carries_no_value_and_no_terraform_output() {
        let d = Diagnostic {
            location: fleetform_yaml::Location {
                file: "infra/variables.yml".into(),
                pos: fleetform_yaml::Pos { line: 3, col: 5 },
            },
            pointer: Some("/name".into()),
            message: "\"secret-value\" is not allowed".into(),
        };
        let values = Error::Values(vec![d.clone(), d]).short();
        assert_eq!(values, "invalid values (2 problems)");
        let failed = Error::Terraform(TerraformError::Failed {
            binary: "terraform".into(),
            step: "plan",
            code: 1,
            output: "Error: bucket \"secret-value\" exists".into(),
        })
        .short();
        assert_eq!(failed, "`terraform plan` failed (exit 1)");
        let locked = Error::Terraform(TerraformError::Locked {
            output: "ID: secret-value".into(),
        })
        .short();
        assert!(locked.starts_with("the state is locked"), "{locked}");
        assert!(!locked.contains("secret-value"), "{locked}");
    }
}
