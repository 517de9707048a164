//! `fleetform state import|mv|rm|force-unlock`: one state operation on
//! one customer × product × environment, with a reason
//! ([`crate::flows::local::ops`] runs and records it).

use clap::Args;
use std::path::Path;
use std::path::PathBuf;

use super::PairArgs;
use crate::context::Context;
use crate::engine::ops::{check_operand, StateOp};
use crate::error::{Error, Result};
use crate::flows::local::ops::{require_reason, OpTarget, Phase};

#[derive(Debug, Args)]
pub struct StateArgs {
    /// import ADDR ID | mv FROM TO | rm ADDR... | force-unlock LOCK_ID |
    /// apply (a sealed preview, with --sha256)
    #[arg(value_enum)]
    pub op: StateCommand,
    /// Its addresses or id (none for `apply`).
    pub operands: Vec<String>,
    /// Seal a preview of the operation for a second person: it prints
    /// what will change and the digest they approve (`state apply`
    /// runs it).
    #[arg(long, conflicts_with_all = ["sha256", "unreviewed", "confirms"])]
    pub preview: bool,
    /// `state apply`: the digest of the sealed preview to run.
    #[arg(long, value_name = "DIGEST")]
    pub sha256: Option<String>,
    /// `state apply` in a run another operator started to confirm the
    /// preview of run RUN (where environments cannot have required
    /// reviewers).
    #[arg(long, value_name = "RUN")]
    pub confirms: Option<u64>,
    /// On a workstation, run it with no second person; the audit log
    /// records it as unreviewed. Refused on GitHub Actions.
    #[arg(long)]
    pub unreviewed: bool,
    #[command(flatten)]
    pub pair: PairArgs,
    /// Why (required).
    #[arg(long, env = "FLEETFORM_REASON")]
    pub reason: Option<String>,
    /// Results folder.
    #[arg(long, env = "FLEETFORM_OUT_DIR", default_value = ".fleetform/out")]
    pub out: PathBuf,
    /// The customer's checkout instead of the registry's `path`.
    #[arg(long, env = "FLEETFORM_CUSTOMER_DIR")]
    pub customer_dir: Option<PathBuf>,
    /// Report on the customer's repo (deployment, PR comment).
    #[arg(long, env = "FLEETFORM_REPORT_GITHUB")]
    pub github: bool,
}

/// A state operation.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum StateCommand {
    /// `import ADDR ID`
    Import,
    /// `mv FROM TO`
    Mv,
    /// `rm ADDR...`
    Rm,
    /// `force-unlock LOCK_ID`
    ForceUnlock,
    /// Run a sealed preview (`--sha256 DIGEST`).
    Apply,
}

pub fn run(args: &StateArgs, manager_dir: &Path, cx: &Context) -> Result<()> {
    let target = resolve(args)?;
    let op = operation(args.op, &args.operands)?;
    if let Some(op) = &op {
        for o in op.operands() {
            check_operand(op.name(), o).map_err(Error::usage)?;
        }
    }
    cx.out.result(&crate::flows::local::ops::state_op(
        &target,
        op.as_ref(),
        manager_dir,
        cx,
    )?);
    Ok(())
}

/// The operation from its name and operands (`None` for `apply`, whose
/// operation is in the sealed preview).
fn operation(op: StateCommand, operands: &[String]) -> Result<Option<StateOp>> {
    let name = match op {
        StateCommand::Import => "import",
        StateCommand::Mv => "mv",
        StateCommand::Rm => "rm",
        StateCommand::ForceUnlock => "force-unlock",
        StateCommand::Apply if operands.is_empty() => return Ok(None),
        StateCommand::Apply => {
            return Err(Error::usage(
                "`state apply` takes no operands: it runs the sealed preview named by --sha256",
            ))
        }
    };
    StateOp::parse(name, operands)
        .map(Some)
        .map_err(Error::usage)
}

fn resolve(args: &StateArgs) -> Result<OpTarget> {
    let phase = match (args.op, args.preview, &args.sha256) {
        (StateCommand::Apply, _, Some(d)) => {
            crate::util::fs::check_sha256_hex("--sha256", d).map_err(Error::usage)?;
            Phase::Sealed { sha256: d.clone() }
        }
        (StateCommand::Apply, _, None) => {
            return Err(Error::usage(
                "`state apply` needs --sha256 DIGEST (the digest the preview printed)",
            ))
        }
        (_, _, Some(_)) => {
            return Err(Error::usage(
                "--sha256 goes with `state apply` (the operation is in the sealed preview)",
            ))
        }
        (_, true, None) => Phase::Preview,
        (_, false, None) => Phase::Direct,
    };
    // A sealed preview carries its reason; the others need one.
    let reason = match phase {
        Phase::Sealed { .. } => args.reason.clone().unwrap_or_default(),
        _ => require_reason(args.reason.as_deref())?,
    };
    Ok(OpTarget {
        customer: args.pair.customer.clone(),
        environment: args.pair.environment.clone(),
        product: args.pair.product.clone(),
        reason,
        out: args.out.clone(),
        terraform: std::env::var_os("FLEETFORM_TERRAFORM").map(std::path::PathBuf::from),
        customer_dir: args.customer_dir.clone(),
        github: args.github,
        phase,
        confirms: args.confirms,
        unreviewed: args.unreviewed,
    })
}
