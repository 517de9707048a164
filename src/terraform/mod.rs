//! Terraform: the process runner (`cli`: a scrubbed environment,
//! `init`/`plan`/`show`/`apply`), a pair's isolated working copy and its
//! backend (`workspace`), an adoption plan's import blocks (`imports`), why either failed (`error`), a data dir
//! prepared once per fleet run (`datadir`), the lock file a working copy
//! keeps after `init` (`lockfile`), the outputs a product takes from the
//! products it needs (`needs`), a root module's `required_version`
//! checked against the pinned engine version (`constraint`), a state file's
//! serial, lineage and addresses and what changes between two (`state_file`). What a plan does is plain data in
//! `crate::data::summary`. The engine that drives it per customer × environment is
//! `crate::engine`, a layer above.
//!
//! May import: `config` and `util`. Never the engine, the values, the reports, the commands,
//! the GitHub client or the runner's I/O (`ci`).

mod cli;
pub mod constraint;
mod datadir;
mod error;
pub mod imports;
mod lockfile;
pub mod needs;
pub mod state_file;
pub mod variables;
mod workspace;

pub use cli::*;
pub use error::TerraformError;
pub use imports::Import;
pub use workspace::{remove_stale_workspaces, Sweep, Workspace, WORK_PREFIX};
