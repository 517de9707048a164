//! The customer's values: the JSON Schema, credential detection, the value
//! layers, value templates, and the customer files (check and render).
//! YAML itself (positions, limits) lives in `crates/fleetform-yaml`.
//!
//! May import: `config`, `data` (diagnostics), `util` and the YAML crates
//! (`fleetform-yaml`; `yaml-edit` for edits that keep a file's comments).
//! Nothing that runs
//! Terraform, talks to GitHub or renders reports.

pub mod customer;
pub mod form;
pub mod keyring;
pub mod layers;
pub mod products;
pub mod quoting;
pub mod schema;
pub mod secret_ages;
pub mod secret_files;
pub mod secrets;
pub mod starter;
pub mod template;
