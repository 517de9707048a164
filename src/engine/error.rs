//! Why one customer × environment did not plan or apply ([`RunError`]),
//! and its one-line form for tables.

use crate::data::Diagnostic;
use crate::terraform::TerraformError;

/// Why one customer × environment did not plan or apply.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("invalid values")]
    Values(Vec<Diagnostic>),
    #[error(transparent)]
    Terraform(#[from] TerraformError),
    #[error("refused: {0}")]
    Refused(String),
    /// A product cannot plan yet: a product it needs has not been applied
    /// here (its outputs do not exist). Not a failure of this product.
    #[error("{0}")]
    Waiting(String),
    /// A preview of an unreviewed change (impact) of a pair with secrets:
    /// not planned, so nothing decrypts them. Not a failure of the pair.
    #[error("{0}")]
    Withheld(String),
    /// Shown with its whole chain of causes, so an OS error ("No space
    /// left on device") is never hidden behind "writing comment.md".
    #[error("{0:#}")]
    Io(#[from] anyhow::Error),
}

impl From<crate::terraform::needs::NeedsError> for RunError {
    fn from(e: crate::terraform::needs::NeedsError) -> Self {
        use crate::terraform::needs::NeedsError;
        match e {
            NeedsError::Waiting(m) => RunError::Waiting(m),
            NeedsError::Refused(m) => RunError::Refused(m),
            NeedsError::Terraform(t) => RunError::Terraform(t),
        }
    }
}

impl From<crate::util::fs::FsError> for RunError {
    fn from(e: crate::util::fs::FsError) -> Self {
        RunError::Io(e.into())
    }
}

impl RunError {
    /// A one-line description for tables, free of customer values:
    /// the values' problems are counted, Terraform's output is left out.
    pub fn short(&self) -> String {
        match self {
            // The problems quote the customer's keys and values; this
            // line reaches tables, rollout and drift summaries and the
            // audit log on the manager, so it only counts them.
            RunError::Values(d) => format!(
                "invalid values ({})",
                crate::util::text::count(d.len(), "problem", "problems")
            ),
            RunError::Terraform(t) => terraform_short(t),
            other => other.to_string(),
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
        TerraformError::Locked { .. } => {
            "the state is locked by another run; wait for it to finish (or release a stuck lock with `force-unlock`)".into()
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Diagnostic;

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
        let values = RunError::Values(vec![d.clone(), d]).short();
        assert_eq!(values, "invalid values (2 problems)");
        let failed = RunError::Terraform(TerraformError::Failed {
            binary: "terraform".into(),
            step: "plan",
            code: 1,
            output: "Error: bucket \"secret-value\" exists".into(),
        })
        .short();
        assert_eq!(failed, "`terraform plan` failed (exit 1)");
        let locked = RunError::Terraform(TerraformError::Locked {
            output: "ID: secret-value".into(),
        })
        .short();
        assert!(locked.starts_with("the state is locked"), "{locked}");
        assert!(!locked.contains("secret-value"), "{locked}");
    }
}
