//! Bringing existing objects under fleetform (`fleetform adopt`): per
//! customer × product × environment, a mapping file in the manager repo
//! (`adopt/<customer>/[<product>/]<environment>.yml`: resource address →
//! the id of the object that exists) becomes Terraform `import` blocks in
//! the pair's working copy, and the plan is read as an adoption diff
//! (`crate::data::adoption`): imports only (ready), imports and in-place
//! updates (to review), or a create, replace or destroy (refused).
//!
//! # Files
//!
//! - `mapping`: the mapping file, read with `file:line:col` for each error.
//! - `discover`: the mapping file written from a command of the
//!   provider's that lists the objects (`ADDRESS ID` lines).
//! - `plan`: one pair's adoption plan, and the diff kept beside it
//!   (`adoption.json` in its plan folder).
//! - `apply`: the reviewed apply of a sealed digest, refused unless the
//!   plan file itself imports only (or, with `--accept-updates`, imports
//!   and updates in place); recorded (audit line, deployment record,
//!   adoption record).
//! - `release`: until the first apply after the adoption, `state rm` of
//!   the adopted addresses, as a day-2 state operation: a sealed preview
//!   (`--preview`), run by its digest (`--sha256`) after a second person;
//!   nothing in the cloud is touched.
//! - `status`: where each pair stands (not started, mapped, zero-diff,
//!   to review, refused, adopted, released).
//! - `wave`: pairs in order (the rollout's waves, pilot first), each
//!   wave after the one before is adopted and baked, halting at the
//!   first pair that is not ready; `halt`: that halt, kept until the
//!   pair is ready or an operator resumes.
//!
//! # Imports
//!
//! May import what `flows` may (the engine, `records`, `report`,
//! `audit`, `rollout`'s waves) and `deploy`'s own `ops`,
//! `state_preview`, `second_person` and `rollout_flow`'s operator check.

mod apply;
mod discover;
mod halt;
mod mapping;
mod plan;
mod record;
mod release;
mod status;
mod wave;

use std::path::PathBuf;

pub use crate::report::adopt::{PairStatus, Stage, WaveHalt, WaveReport};
pub use apply::{apply, ApplyTarget};
pub use discover::discover;
pub use halt::halts;
pub use mapping::{mapping_path, Mapping};
pub use plan::{plan, Planned};
pub use release::{release, Release};
pub use status::{status, Filter as StatusFilter};
pub use wave::{wave, WaveSettings};

use crate::config::Activity;
use crate::context::Context;
use crate::error::Error;

/// The file in a pair's plan folder with its adoption diff.
pub const ADOPTION_FILE: &str = "adoption.json";

/// Why an adoption step stopped.
#[derive(Debug, thiserror::Error)]
pub enum AdoptError {
    /// The mapping file is missing or wrong; `at` is `file:line:col`.
    #[error("{at}: {message}")]
    Mapping { at: String, message: String },
    /// Not allowed now; nothing was changed.
    #[error("{0}")]
    Refused(String),
    /// A record could not be read or written.
    #[error("the adoption records: {0}")]
    Records(#[from] crate::records::RecordsError),
}

impl From<AdoptError> for Error {
    fn from(e: AdoptError) -> Self {
        match e {
            AdoptError::Mapping { .. } => Error::usage(e.to_string()),
            AdoptError::Refused(m) => Error::refused(m),
            AdoptError::Records(_) => Error::failed(e.to_string()),
        }
    }
}

/// One pair an adoption step acts on.
#[derive(Debug, Clone)]
pub struct Target {
    pub customer: String,
    pub environment: String,
    pub product: Option<String>,
    /// Results folder; the plan goes to its pair's folder.
    pub out: PathBuf,
    pub terraform: Option<PathBuf>,
    /// The customer's checkout, instead of the registry's `path`.
    pub customer_dir: Option<PathBuf>,
}

/// The manager at `customer`'s pin for `view`'s product, when it is
/// pinned (checked out under `scratch`): its plan and apply run there, as
/// its plans and applies do. The mapping, the records and the checks stay
/// the live manager's.
fn at_pin(
    live: &crate::config::Manager,
    view: &crate::config::Manager,
    customer: &crate::config::Customer,
    scratch: &std::path::Path,
) -> crate::error::Result<Option<crate::config::Manager>> {
    crate::config::pins::pinned_view(live, view, customer, scratch)
        .map_err(|e| Error::refused(format!("{e}; nothing was changed")))
}

/// A scratch folder for a pinned view.
fn scratch() -> crate::error::Result<tempfile::TempDir> {
    tempfile::tempdir()
        .map_err(|e| Error::failed(format!("a scratch folder for a pinned view: {e}")))
}

/// The manager's view of `t`'s product, the customer, and the pair's
/// unit, checked as a plan checks them.
fn resolve<'r>(
    manager: &crate::config::Manager,
    registry: &'r crate::config::Registry,
    t: &Target,
) -> crate::error::Result<(crate::config::Manager, &'r crate::config::Customer)> {
    let (view, customer) = crate::flows::local::ops::pair_of(
        manager,
        registry,
        &t.customer,
        t.product.as_deref(),
        &t.environment,
    )?;
    if !customer.takes_part(Activity::Adopt) {
        return Err(Error::refused(format!(
            "customer `{}` was revoked: nothing to adopt",
            customer.slug
        )));
    }
    Ok((view, customer))
}

/// Reported on the customer's repo (`--github`): what was done, as a
/// deployment in the environment and a comment on its open pull request.
struct OnGitHub<'a> {
    customer: &'a crate::config::Customer,
    unit: &'a crate::config::Unit,
    /// `adopt`, `release`.
    operation: &'a str,
    done: crate::report::customer::Done<'a>,
}

/// Writes an adoption step's audit line, its detail with the error when
/// it failed, reports it on the customer's repo when asked, and returns
/// the actor, the step's result as the command's, and where the step is
/// read on GitHub ([`Link`]).
fn record_step<T>(
    entry: crate::audit::Entry,
    detail: String,
    result: std::result::Result<T, crate::error::Error>,
    github: Option<OnGitHub<'_>>,
    cx: &Context,
) -> crate::error::Result<(String, T, Link)> {
    let actor = entry.actor.clone();
    let reason = entry.reason.clone().unwrap_or_default();
    let entry = match &result {
        Ok(_) => entry.detail(detail),
        Err(e) => entry.detail(format!("{detail}: {}", e.short())),
    };
    cx.record(entry);
    let run = crate::ci::RunContext::from_env();
    let mut link = Link {
        pull_request: run.pull_request_url(),
        run_url: run.run_url(),
    };
    if let Some(g) = github {
        let report = crate::flows::local::ops::Report {
            done: g.done,
            operation: g.operation,
            actor: &actor,
            reason: &reason,
            ok: result.is_ok(),
        };
        if let Some(pr) =
            crate::flows::local::ops::report_on_github(g.customer, g.unit, &report, cx)?
        {
            link.pull_request = Some(pr);
        }
    }
    let done = result.map_err(crate::flows::local::state_preview::run_error)?;
    Ok((actor, done, link))
}

/// Where an adoption step is read on GitHub: the pull request it was
/// reported on (the customer's, with `--github`) or run for (the
/// manager's), and the run.
#[derive(Debug, Clone, Default)]
pub(super) struct Link {
    pub pull_request: Option<String>,
    pub run_url: Option<String>,
}
