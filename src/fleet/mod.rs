//! The fleet run, below the commands: which customer × environment pairs
//! to cover (`select`), preparing and planning them with bounded
//! concurrency, one failing pair never stopping the others, and collecting
//! every result in order (`run`), the same over products in dependency
//! order (`products`), the impact of a manager change on every pair
//! (`impact`), the customer template `sync` propagates
//! (`sync`), an order-preserving parallel map for the batch modes
//! (`parallel`), and a drift run's causes across the fleet and what each
//! environment's repair policy does with its pairs (`drift_causes`), and
//! the dashboard's view of every customer from the records (`dashboard`),
//! response times against `sla:` from the audit events (`sla`),
//! `render` (one pair's or every pair's variables, explained by origin)
//! and `validate` (customer files against the schema).
//!
//! May import: `engine` (each pair's plan or render), `data`, `config`,
//! `values`, `terraform`, `report` (the row types a
//! run returns live there, next to their table), `util`, `error`, `audit`
//! (one record per pair as it finishes, written through the command's
//! `context`), `records` (what was deployed, for the impact preview, and
//! `net`, the settings its store connects with) and `output` (notes,
//! diagnostics, progress). Never
//! the commands, `deploy` or `github`.

pub mod cost_history;
pub mod dashboard;
pub mod drift_causes;
pub mod impact;
pub mod impact_plan;
pub mod matrix;
pub mod parallel;
pub mod products;
pub mod render;
pub mod run;
pub mod select;
pub mod sla;
pub mod sync;
pub mod validate;

pub use run::{
    execute, local_dir, local_products_file, local_source, local_sources, prepare,
    remove_leftovers, Fleet, Outcome, Row, SourceFn,
};
pub use select::{check_environments, environments_for, pairs, parse_shard, select, shard_pairs};

/// How many plans a fleet run makes at once by default: four per core.
/// A Terraform run spends most of its time waiting (starting its
/// providers, their gRPC round trips, the cloud's API, the backend): with
/// two per core a 100-pair fleet kept 2 cores 57 % busy, with four 87 %
/// (bench/ case 7). The runs share the cores (see `Engine::share_cores`).
/// `--jobs` overrides it, e.g. on a runner short of memory.
pub fn terraform_jobs() -> usize {
    4 * std::thread::available_parallelism().map_or(1, |n| n.get())
}
