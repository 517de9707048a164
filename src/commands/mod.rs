//! One module per subcommand. Each parses its raw flags into a checked
//! settings struct before any I/O, runs, and returns data or an error.
//!
//! Commands never import one another: what two commands share lives in a
//! layer below (`fleet`, `deploy`, `report`, ...).

pub mod adopt;
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
pub mod repair;
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

/// `--etag-cache FILE` loaded for `command` (its entries are kept apart
/// by command), or none; a file that does not read is a usage error.
fn etag_cache(
    args: &crate::cli::EtagCacheArgs,
    command: &str,
) -> crate::error::Result<Option<std::sync::Arc<crate::github::EtagCache>>> {
    args.etag_cache
        .as_deref()
        .map(|p| crate::github::EtagCache::load(p, command).map(std::sync::Arc::new))
        .transpose()
        .map_err(|e| crate::error::Error::Usage(e.to_string()))
}

/// `--deadline SECONDS` as the time no GitHub request may wait past.
fn deadline(args: &crate::cli::WriteBudgetArgs) -> Option<std::time::SystemTime> {
    args.deadline
        .map(|s| std::time::SystemTime::now() + std::time::Duration::from_secs(s))
}
