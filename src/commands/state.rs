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
    let op = match &args.op {
        StateCommand::Import { address, id } => StateOp::Import {
            address: address.clone(),
            id: id.clone(),
        },
        StateCommand::Mv { from, to } => StateOp::Move {
            from: from.clone(),
            to: to.clone(),
        },
        StateCommand::Rm { addresses } => StateOp::Remove {
            addresses: addresses.clone(),
        },
        StateCommand::ForceUnlock { lock_id } => StateOp::ForceUnlock {
            lock_id: lock_id.clone(),
        },
    };
    for o in op.operands() {
        check_operand(op.name(), o).map_err(Error::Usage)?;
    }
    let done = crate::deploy::ops::state_op(&target, &op, manager_dir, out)?;
    out.result(&format!(
        "{} {}: done for {}/{} by {}",
        done.operation,
        done.operands.join(" "),
        done.customer,
        done.environment,
        done.actor
    ));
    Ok(())
}

fn resolve(args: &StateArgs) -> Result<OpTarget> {
    let reason = require_reason(args.reason.as_deref())?;
    let (Some(customer), Some(environment)) = (&args.customer, &args.environment) else {
        return Err(Error::Usage(
            "say where: --customer SLUG --env ENVIRONMENT (and --product for a manager with products)"
                .into(),
        ));
    };
    Ok(OpTarget {
        customer: customer.clone(),
        environment: environment.clone(),
        product: args.product.clone(),
        reason,
        out: args.out.clone(),
        terraform: args.terraform.clone(),
        customer_dir: args.customer_dir.clone(),
        github: args.github,
    })
}
