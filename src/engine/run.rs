//! One `terraform plan` of a pair: `init`, `plan -out` and its JSON.

use std::path::Path;

use crate::terraform::{Terraform, TerraformError, Workspace};

/// What [`run_plan`] made.
pub(super) struct Made {
    /// The plan has changes.
    pub changes: bool,
    /// `show -json` (null without changes).
    pub json: serde_json::Value,
    /// The plan text.
    pub text: String,
    /// The working copy's lock file lost its checksums after `init`.
    pub checksums_dropped: bool,
}

/// `init`, `plan -out` (targeted, or with import blocks, as `engine`
/// says) and, when there are changes, `show -json`.
pub(super) fn run_plan(
    engine: &super::Engine<'_>,
    tf: &Terraform,
    ws: &mut Workspace,
    (var_file, plan_path): (&Path, &Path),
    refresh_only: bool,
) -> Result<Made, TerraformError> {
    let flags = engine
        .targeting
        .as_ref()
        .map(|t| t.flags())
        .unwrap_or_default();
    ws.write_imports(&engine.imports)?;
    let imports = !engine.imports.is_empty();
    let checksums_dropped = tf.init(ws, true)?;
    let (changes, text) = tf.plan_with(ws, var_file, plan_path, refresh_only, &flags)?;
    // `-detailed-exitcode` 0 means no resource, output or move changes:
    // the JSON plan would only list no-ops, so the summary is empty and
    // `show -json` is not run.
    // An adoption plan's JSON is read even without changes: it names
    // what was imported.
    let json = if changes || imports {
        tf.show_json(ws, plan_path)?
    } else {
        serde_json::Value::Null
    };
    Ok(Made {
        changes,
        json,
        text,
        checksums_dropped,
    })
}

impl super::Engine<'_> {
    /// `show -json` of the saved plan in `dir` (after [`super::Engine::check_apply`]
    /// vouched for it), read in a fresh working copy: what an adoption
    /// apply is about to apply, judged from the plan file itself.
    pub fn show_plan(
        &self,
        customer: &crate::config::Customer,
        env: &str,
        dir: &Path,
    ) -> Result<serde_json::Value, crate::error::Error> {
        let summary = super::read_summary(dir)?;
        let tf = self.terraform()?;
        let mut ws = Workspace::prepare(self.manager, dir, &customer.slug, env)?;
        let plan = dir.join(super::PLAN_FILE);
        let abs = std::path::absolute(&plan).map_err(super::io_err(&plan))?;
        tf.init(&mut ws, summary.lock_checksums_dropped)?;
        Ok(tf.show_json(&mut ws, &abs)?)
    }
}
