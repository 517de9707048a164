//! A newcomer's first hour (issue #38): the README followed, the docs
//! and help, running the fleet, and the frictions of a fresh clone.

pub(crate) mod docs;
pub(crate) mod first_hour;
pub(crate) mod frictions;
pub(crate) mod ops;
