//! Products (`examples/products`): locally, on GitHub, and targeted
//! plans and state operations, and recovery drills of each product.

pub(crate) mod drill;
pub(crate) mod example;
pub(crate) mod github;
pub(crate) mod targeted;
