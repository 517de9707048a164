//! What fleetform does with GitHub itself: App authentication, the two
//! Apps, request budgets and the scheduler, ETags, faults and answers.

pub(crate) mod answers;
pub(crate) mod app_auth;
pub(crate) mod apps;
pub(crate) mod budgets;
pub(crate) mod etags;
pub(crate) mod faults;
pub(crate) mod scheduler;
