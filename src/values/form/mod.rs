//! The customer's change form, made from the provider's schema: its
//! fields (`fields`), the answers of an issue written from it (`answers`)
//! and those answers written into the customer's variables file keeping
//! its comments (`change`). The form's files (a GitHub issue form, an
//! HTML page) and the schema's reference page are rendered by `report`.
//!
//! May import what `values` may; it uses `util` (shown text).

pub mod answers;
pub mod change;
pub mod fields;
