//! Everything fleetform renders for people, each from plain data: every
//! text written where a customer reads it, in the customer's repo (commit
//! statuses, pull request comments, deployments: `customer`), the PR
//! comment (`comment`), Markdown and HTML escaping in one place (one rule
//! for hidden characters) and the embedded templates (`markdown`), the plan text as a coloured diff cut at
//! resource boundaries (`plan_text`), the end-of-run table of a fleet run and the
//! per-pair rows it reads (`table`), the drift report and issue texts
//! (`drift`), drift by cause and repairs by policy (`drift_causes`), resource addresses without their keys for the manager's
//! readers (`opaque`), the impact of a manager change (`impact`, and as
//! people read it `impact_comment`), the audit report
//! (`audit`) and its compliance evidence (`evidence`), `doctor`'s checklist, sync's table, pull request body
//! and dry-run diff (`sync`), the manager's values-free step summary of a
//! plan (`summary`), the workflows it hands out, pinned to what their
//! comments say (`workflow`), and the repos `fleetform init` writes with
//! the settings it prints (`scaffold`), and the fleet dashboard
//! (`dashboard`), and an offboarding's preview (`offboard`), and an
//! adoption's diff, status and waves (`adopt`), and response times
//! against `sla:` (`sla`).
//!
//! May import: plain data types (`data`: plan summaries, verdicts and
//! diagnostics; `audit::Entry`, `config::Unit`,
//! `doctor`'s checklist, and the data structs
//! kept here next to their rendering), `output::table` for text tables
//! and `util` (counts and shown text).
//! Never the commands, `deploy`, the engine (`engine`), `fleet`
//! or `github`.

pub mod adopt;
pub mod app_manifests;
pub mod audit;
pub mod comment;
pub mod cost;
pub mod customer;
pub mod dashboard;
pub mod deploy_jobs;
pub mod doctor;
pub mod drift;
pub mod drift_causes;
pub mod evidence;
pub mod form;
pub mod impact;
pub mod impact_comment;
pub mod lists;
pub mod markdown;
pub mod offboard;
pub mod opaque;
pub mod ops;
pub mod plan_text;
pub mod repairs;
pub mod rollout;
pub mod scaffold;
pub mod sla;
pub mod summary;
pub mod sync;
pub mod table;
pub mod workflow;

/// The customer trigger workflow template shipped in `workflows/`: the
/// relay path (the run's OIDC token, no provider credential).
pub const CUSTOMER_WORKFLOW: &str = include_str!("../../workflows/customer-trigger.yml");
/// Where the customer's trigger workflow goes in its repo: what `init
/// --customer` writes, `customers instructions` names and the example
/// sync template keeps in line; the workflow the relay accepts tokens of
/// by default (`relay.workflows`).
pub const CUSTOMER_WORKFLOW_PATH: &str = crate::config::DEFAULT_TRIGGER_WORKFLOW;
/// The legacy token path's trigger (a provider token and a dispatch key in
/// the customer's repo), for managers without `relay:`.
pub const CUSTOMER_WORKFLOW_TOKEN: &str =
    include_str!("../../workflows/customer-trigger-token.yml");
