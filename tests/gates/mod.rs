//! Policy gates: at plan and apply, with template propagation, and the
//! policy tools run on the plan JSON, and cost estimates (`cost`).

mod cost;
pub(crate) mod sync;
pub(crate) mod tools;
