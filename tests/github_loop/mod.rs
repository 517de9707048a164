//! The GitHub loop end to end: trigger, dispatch, plan, comment, status
//! and gated apply, with approvals, drift issues and retries.

pub(crate) mod approvals;
pub(crate) mod drift;
pub(crate) mod end_to_end;
pub(crate) mod older_code;
pub(crate) mod pr_approvals;
pub(crate) mod requests;
pub(crate) mod sla;
pub(crate) mod statuses;
pub(crate) mod trigger;
