//! Why running Terraform failed: shared by the runner and the working
//! copies.

use std::path::Path;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum TerraformError {
    #[error("`{binary}` was not found on PATH")]
    #[diagnostic(help(
        "install it (https://developer.hashicorp.com/terraform/install or https://opentofu.org/docs/intro/install/) or set FLEETFORM_TERRAFORM to its path"
    ))]
    NotFound { binary: String },
    /// `--terraform` (or FLEETFORM_TERRAFORM) names no program.
    #[error("--terraform `{path}` (or FLEETFORM_TERRAFORM): {reason}")]
    #[diagnostic(help(
        "give the path of the terraform or tofu binary, or leave it out to use the engine of fleetform.yml from PATH"
    ))]
    NotABinary { path: String, reason: String },
    #[error("cannot prepare the working copy: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot prepare the working copy: {0}")]
    Fs(#[from] crate::util::fs::FsError),
    #[error("`{binary} {step}` failed (exit {code}):\n{output}")]
    Failed {
        binary: String,
        step: &'static str,
        code: i32,
        output: String,
    },
    #[error("the saved plan is stale: the state changed after it was made")]
    #[diagnostic(help("plan again"))]
    StalePlan { output: String },
    #[error("the saved plan was made with {binary} {planned}; this job runs {binary} {running}, and a saved plan applies only with the version that made it")]
    #[diagnostic(help("install {binary} {planned} in this job (hashicorp/setup-terraform's terraform_version: the plan job's output terraform_version), or plan again with {running}"))]
    OtherVersion {
        binary: String,
        planned: String,
        running: String,
    },
    #[error("the state is locked by another run:\n{output}")]
    #[diagnostic(help("wait for it to finish (or release a stuck lock with `force-unlock`)"))]
    Locked { output: String },
}

pub(super) fn fs_err(what: &'static str, path: &Path, e: std::io::Error) -> TerraformError {
    TerraformError::Fs(crate::util::fs::FsError::new(what, path, e))
}
