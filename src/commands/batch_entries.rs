//! `fleetform batch-entries` (manager side, on a `fleetform-batch`
//! `repository_dispatch`): the first job of `manager-batch.yml`. Checks
//! the batch (its shape, every entry as a single dispatch, its sender the
//! relay's manager App) and prints the indices of its entries as a JSON
//! list, also set as the step output `entries`, for the matrix that runs
//! the deploy workflow once per entry. Sends nothing to GitHub.

use std::path::Path;

use crate::ci::RunContext;
use crate::error::{Error, Result};
use crate::flows::github_loop::batch::batch_entries;
use crate::output::Output;

pub fn run(manager_dir: &Path, out: &Output) -> Result<()> {
    let ctx = RunContext::from_env();
    let entries = batch_entries(&ctx, manager_dir)?;
    let json = serde_json::to_string(&entries).expect("serialisable");
    ctx.set_outputs(&[("entries", json.clone())])
        .map_err(|e| Error::failed(format!("writing GITHUB_OUTPUT: {e}")))?;
    out.json_text(&json);
    Ok(())
}
