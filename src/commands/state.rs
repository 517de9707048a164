//! `fleetform state import|mv|rm|force-unlock`: one state operation on
//! one customer × product × environment, with a reason
//! ([`crate::deploy::ops`] runs and records it).

use std::path::Path;

use crate::cli::{StateArgs, StateCommand};
use crate::deploy::ops::{require_reason, OpTarget};
use crate::engine::ops::{check_operand, StateOp};
use crate::error::{Error, Result};
use crate::output::Output;

pub fn run(args: &StateArgs, manager_dir: &Path, out: &Output) -> Result<()> {
    let target = resolve(args)?;
    let op = operation(args.op, &args.operands)?;
    for o in op.operands() {
        check_operand(op.name(), o).map_err(Error::Usage)?;
    }
    out.result(&crate::deploy::ops::state_op(
        &target,
        &op,
        manager_dir,
        out,
    )?);
    Ok(())
}

/// The operation from its name and operands, each with its own count.
fn operation(op: StateCommand, operands: &[String]) -> Result<StateOp> {
    let o = |i: usize| operands[i].clone();
    Ok(match (op, operands.len()) {
        (StateCommand::Import, 2) => StateOp::Import {
            address: o(0),
            id: o(1),
        },
        (StateCommand::Mv, 2) => StateOp::Move {
            from: o(0),
            to: o(1),
        },
        (StateCommand::Rm, _) => StateOp::Remove {
            addresses: operands.to_vec(),
        },
        (StateCommand::ForceUnlock, 1) => StateOp::ForceUnlock { lock_id: o(0) },
        _ => {
            return Err(Error::Usage(
                "state takes: import ADDR ID | mv FROM TO | rm ADDR... | force-unlock LOCK_ID"
                    .into(),
            ))
        }
    })
}

fn resolve(args: &StateArgs) -> Result<OpTarget> {
    let reason = require_reason(args.reason.as_deref())?;
    Ok(OpTarget {
        customer: args.customer.clone(),
        environment: args.environment.clone(),
        product: args.product.clone(),
        reason,
        out: args.out.clone(),
        terraform: std::env::var_os("FLEETFORM_TERRAFORM").map(std::path::PathBuf::from),
        customer_dir: args.customer_dir.clone(),
        github: args.github,
    })
}
