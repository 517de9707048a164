//! Terraform: the process runner (`cli`: an isolated working copy, the
//! backend, a scrubbed environment, `init`/`plan`/`show`/`apply`), the
//! per customer × environment engine (`engine`: values → plan folder →
//! gates → apply), a data dir prepared once per fleet run (`datadir`),
//! the outputs a product takes from the products it needs (`needs`) and
//! plan summaries (`summary`: what a plan does).
//!
//! May import: `config`, `values`, `policy`, `report`, `records` (the
//! name of the customer-files file a plan keeps) and `util`. Never the
//! commands, the GitHub client or the runner's I/O (`ci`).

mod cli;
mod datadir;
pub mod engine;
pub mod needs;
pub mod summary;

pub use cli::*;
