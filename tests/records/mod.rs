//! Durable records and the audit report: the records store, in a bucket
//! that fails or lies, and `fleetform audit report`.

pub(crate) mod audit_report;
pub(crate) mod compact;
pub(crate) mod delete_covered;
pub(crate) mod listings;
pub(crate) mod s3;
pub(crate) mod store;
