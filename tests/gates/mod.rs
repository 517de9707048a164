//! Policy gates: at plan and apply, with template propagation, and the
//! policy tools run on the plan JSON.

pub(crate) mod sync;
pub(crate) mod tools;
