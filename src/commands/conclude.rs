//! `fleetform conclude` (manager side, the deploy workflow's last job, on
//! `repository_dispatch`): a plan or an apply that was due but did not run
//! to its end marks the customer's commit `error`, with the reason.
//!
//! An apply job that runs reports its own result on the customer's commit.
//! One that never gets that far cannot: GitHub cancels a job waiting in a
//! concurrency group when a newer one queues, someone may cancel the run, a
//! reviewer may reject the deployment or let it wait past 30 days, and a
//! later environment's apply is skipped when an earlier one did not apply.
//! Without this job the commit would keep the plan's state, and a skipped
//! production apply would look like success.
//!
//! The same holds for plans: a newer push to the same pull request replaces
//! a pending plan job in its concurrency group, and the commit would stay
//! `pending` forever.
//!
//! It reads the workflow's `needs` (`FLEETFORM_NEEDS`, `toJSON(needs)`):
//! on every dispatch, a plan job that was cancelled or skipped is an
//! `error` (one that failed, unless it reported); and
//! for each of the customer's environments whose plan job succeeded with
//! changes and passing gates on a `fleetform-apply` dispatch, an apply job
//! that was cancelled or skipped is an `error`; one that failed is an
//! `error` unless its own step already reported `failure` or `error`. The
//! dispatch is checked as the apply checks it (registered, signed, active)
//! before anything is written.
//!
//! The command parses `--needs`; the decision and the writes are
//! [`crate::flows::github_loop::conclude`]'s.

use clap::Args;
use std::path::Path;

use serde_json::Value;

use crate::context::Context;
use crate::error::{Error, Result};
use crate::flows::github_loop::conclude::{conclude, Concluded};

#[derive(Debug, Args)]
pub struct ConcludeArgs {
    /// The workflow's `needs` as JSON (`${{ toJSON(needs) }}`): every
    /// plan-<env> and apply-<env> job's result and outputs.
    #[arg(long, env = "FLEETFORM_NEEDS", value_name = "JSON")]
    pub needs: String,
}

/// Longest `FLEETFORM_NEEDS` read: the outputs of a few jobs.
const MAX_NEEDS: usize = 256 * 1024;

pub fn run(args: &ConcludeArgs, manager_dir: &Path, cx: &Context) -> Result<()> {
    let needs = parse_needs(&args.needs)?;
    let concluded = conclude(&needs, manager_dir, cx)?;
    cx.out.result(&describe(&concluded));
    Ok(())
}

/// The result line.
fn describe(concluded: &Concluded) -> String {
    match concluded {
        Concluded::Marked { environments, .. } if environments.is_empty() => {
            "every plan and apply that was due reported its own result".to_string()
        }
        Concluded::Marked {
            customer_repo,
            environments,
        } => format!(
            "marked `error` on {customer_repo}: {}",
            environments.join(", ")
        ),
    }
}

/// `--needs` (`FLEETFORM_NEEDS`), checked before any I/O.
fn parse_needs(raw: &str) -> Result<Value> {
    if raw.len() > MAX_NEEDS {
        return Err(Error::usage(format!(
            "--needs (FLEETFORM_NEEDS) is longer than {MAX_NEEDS} bytes"
        )));
    }
    let v: Value = serde_json::from_str(raw).map_err(|e| {
        Error::usage(format!(
            "--needs (FLEETFORM_NEEDS) is not the JSON of `needs`: {e}"
        ))
    })?;
    if !v.is_object() {
        return Err(Error::usage(
            "--needs (FLEETFORM_NEEDS) is not the JSON of `needs` (an object of jobs)",
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_must_be_a_bounded_object_of_jobs() {
        assert!(parse_needs(r#"{"plan-staging": {"result": "success"}}"#).is_ok());
        for bad in ["[]", "\"null\"", "not json"] {
            assert!(matches!(parse_needs(bad), Err(Error::Usage(_))), "{bad}");
        }
        let long = format!("{{\"x\": \"{}\"}}", "a".repeat(MAX_NEEDS));
        assert!(matches!(parse_needs(&long), Err(Error::Usage(m)) if m.contains("longer")));
    }

    #[test]
    fn the_result_line_names_what_was_marked() {
        let none = Concluded::Marked {
            customer_repo: "acme/infra".into(),
            environments: vec![],
        };
        assert_eq!(
            describe(&none),
            "every plan and apply that was due reported its own result"
        );
        let two = Concluded::Marked {
            customer_repo: "acme/infra".into(),
            environments: vec!["staging".into(), "production".into()],
        };
        assert_eq!(
            describe(&two),
            "marked `error` on acme/infra: staging, production"
        );
    }
}
