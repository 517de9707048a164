//! The registry as people read it and the customer's onboarding text:
//! `customers list` and `show` (`view`: statuses, token expiry, the
//! notifications of tokens about to expire) and `customers instructions`
//! (`instructions`: what a new customer does, from the template).
//!
//! May import `config`, `data`, `dispatch`, `notify`, `report`, `rollout`,
//! `values`, `version`, `error`, `util` and `output`.

pub mod instructions;
pub mod view;
