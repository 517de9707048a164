//! Plain data that several layers read and none of them owns: what a plan
//! does (`summary`), what an adoption plan imports, updates or refuses (`adoption`) and how the cloud changed a resource (`drift_change`), what its gates said (`verdict`) and a problem with the
//! YAML location it points into (`diagnostic`). The engine and the policy
//! fill them in; the output, the reports, GitHub and the records read them.
//!
//! May import: `config` (the cloud identities a summary names) and the
//! YAML crate (`fleetform_yaml`). Never anything that produces or shows
//! these: not the engine, `terraform`, `policy`, `values`, `report` or
//! `output`.

pub mod adoption;
pub mod cost;
mod diagnostic;
pub mod drift_change;
pub mod summary;
pub mod verdict;

pub use diagnostic::Diagnostic;
