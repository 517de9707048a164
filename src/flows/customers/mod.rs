//! The registry's flows, as `fleetform customers` runs them: the registry
//! as people read it and the customer's onboarding text, `customers list`
//! and `show` (`view`: statuses, token expiry, the notifications of tokens
//! about to expire) and `customers instructions` (`instructions`: what a
//! new customer does, from the template); and its edits, each under the
//! registry's lock (`edit`) and audited: `customers add` (`add`), `revoke`
//! (`revoke`), `offboard` (`offboard`: the revoked customer's destroy,
//! previewed and sealed, then run after a second person, each state
//! archived before it; `offboard::step` marks the entry), `pin` and `unpin`
//! (`pins`, by the pin rules of `crate::config::pins`), `dispatch-key` and
//! `rotate-key` (`keys`), and a customer's secrets identities made, sealed,
//! rotated and retired (`secret_keys`, `rotate-secrets-key`). Tokens are
//! never accepted on the command line nor written to any file; dispatch
//! keys are derived from the manager's secret (`FLEETFORM_DISPATCH_SECRET`)
//! and printed only by the commands that issue them.
//!
//! May import `config`, `data`, `dispatch`, `notify`, `report`, `rollout`,
//! `engine` and `policy` (offboarding's destroy plans and their second
//! person), `fleet` (the customer template's files), `github` (a new
//! customer's repository id, whether the token may administer the manager
//! repo, its secrets identities stored), `records`, `ci`, `audit`, `context` (the
//! command's audit log, notifications and network settings), `values`,
//! `terraform` (which secrets the root module keeps in plans), `version`,
//! `error`, `util` and `output`.

pub mod add;
mod edit;
pub mod instructions;
pub mod keys;
pub mod offboard;
pub mod onboard;
pub mod pins;
pub mod revoke;
pub mod secret_keys;
pub mod view;
