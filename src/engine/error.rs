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
    /// A one-line description for tables.
    pub fn short(&self) -> String {
        match self {
            RunError::Values(d) => match d.first() {
                Some(first) if d.len() == 1 => first.to_string(),
                Some(first) => format!("{first} (and {} more)", d.len() - 1),
                None => "invalid values".into(),
            },
            RunError::Terraform(TerraformError::Failed {
                binary, step, code, ..
            }) => {
                format!("`{binary} {step}` failed (exit {code})")
            }
            other => other.to_string(),
        }
    }
}
