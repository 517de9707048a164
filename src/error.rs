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

pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_REFUSED: u8 = 3;
pub const EXIT_DRIFT: u8 = 4;
pub const EXIT_DOCTOR: u8 = 5;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error("{0}")]
    Usage(String),
    /// Problems in values; each is reported on its own.
    #[error("{} in the values", crate::util::text::count(.0.len(), "problem", "problems"))]
    Values(Vec<Diagnostic>),
    #[error(transparent)]
    Terraform(#[from] TerraformError),
    #[error("refused: {0}")]
    Refused(String),
    /// A failure already reported in detail (e.g. some customers of a fleet
    /// run failed); carries the one-line summary.
    #[error("{0}")]
    Failed(String),
    /// Drift was found (not an error of fleetform's).
    #[error("{0}")]
    Drift(String),
    /// `doctor` found a *must* that fails (the checklist is already shown).
    #[error("{0}")]
    Doctor(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl Error {
    /// The error's kind, in a JSON error object.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Config(_) => "config",
            Error::Schema(_) => "schema",
            Error::Usage(_) => "usage",
            Error::Refused(_) => "refused",
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
            Error::Refused(_) | Error::Terraform(TerraformError::StalePlan { .. }) => EXIT_REFUSED,
            Error::Drift(_) => EXIT_DRIFT,
            Error::Doctor(_) => EXIT_DOCTOR,
            Error::Values(_) | Error::Terraform(_) | Error::Failed(_) | Error::Other(_) => {
                EXIT_FAILED
            }
        }
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
        assert_eq!(Error::Refused("x".into()).exit_code(), EXIT_REFUSED);
        assert_eq!(Error::Failed("x".into()).exit_code(), EXIT_FAILED);
    }
}
