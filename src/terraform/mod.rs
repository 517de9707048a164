//! Terraform: the process runner (`cli`: a scrubbed environment,
//! `init`/`plan`/`show`/`apply`), a pair's isolated working copy and its
//! backend (`workspace`), why either failed (`error`), the
//! per customer × environment engine (`engine`: values → plan folder →
//! gates → apply), a data dir prepared once per fleet run (`datadir`),
//! the lock file a working copy keeps after `init` (`lockfile`),
//! the outputs a product takes from the products it needs (`needs`) and
//! plan summaries (`summary`: what a plan does) and the policy tools run
//! on a plan's JSON (`tools`).
//!
//! May import: `config`, `values`, `policy`, `report`, `records` (the
//! name of the customer-files file a plan keeps) and `util`. Never the
//! commands, the GitHub client or the runner's I/O (`ci`).

mod cli;
mod datadir;
pub mod engine;
mod error;
mod lockfile;
pub mod needs;
pub mod summary;
pub mod tools;
mod workspace;

pub use cli::*;
pub use error::TerraformError;
pub use workspace::{remove_stale_workspaces, Sweep, Workspace, WORK_PREFIX};
