//! One module per subcommand. Each parses its raw flags into a checked
//! settings struct before any I/O, runs, and returns data or an error.
//!
//! Commands never import one another: what two commands share lives in a
//! layer below (`fleet`, `deploy`, `report`, ...).

pub mod apply;
pub mod audit_report;
pub mod authorise;
pub mod batch_entries;
pub mod completions;
pub mod conclude;
pub mod customers;
pub mod doctor;
pub mod drift;
pub mod impact;
pub mod init;
pub mod matrix;
pub mod plan;
pub mod poll;
pub mod relay;
pub mod render;
pub mod report;
pub mod rollout;
pub mod state;
pub mod sync;
pub mod trigger;
pub mod validate;

/// The impact of two revisions, as the commands report it: a revision git
/// cannot read is a usage error.
impl From<crate::fleet::impact::ImpactError> for crate::error::Error {
    fn from(e: crate::fleet::impact::ImpactError) -> Self {
        use crate::fleet::impact::ImpactError;
        match e {
            ImpactError::Revision(m) => Self::Usage(m),
            ImpactError::Config(c) => Self::Config(c),
            ImpactError::Failed(m) => Self::Failed(m),
        }
    }
}
