//! Products (`examples/products`): locally, on GitHub, and targeted
//! plans and state operations.

pub(crate) mod example;
pub(crate) mod github;
pub(crate) mod targeted;
