//! What people read: the provider's counts, the dashboard (on a phone
//! too), the first screen, long lists folded, one vocabulary, customer
//! text, progress and the response times against `sla:`.

pub(crate) mod counts;
pub(crate) mod customer_text;
pub(crate) mod dashboard;
pub(crate) mod drift_report;
pub(crate) mod first_screen;
pub(crate) mod folds;
pub(crate) mod phone;
pub(crate) mod progress;
pub(crate) mod sla;
pub(crate) mod vocabulary;
pub(crate) mod widths;
