//! `fleetform rollout start|status|plan|tick|halt|resume|rollback|deployments`:
//! the flags checked, then the rollout's flows ([`crate::flows::rollout`]:
//! what runs on GitHub Actions, who may control a rollout).

use std::path::Path;

use crate::cli::{RolloutArgs, RolloutCommand};
use crate::config::{Manager, Registry};
use crate::context::Context;
use crate::error::Result;
use crate::flows::rollout::{
    actor, control, operator, owed, plan, start, steps, tick, Control, StartFlags, TickFlags,
};
use crate::records::Store;

pub fn run(args: &RolloutArgs, manager_dir: &Path, cx: &Context) -> Result<()> {
    let manager = Manager::load(manager_dir)?;
    let store = Store::for_manager(&manager, &cx.net);
    let live = crate::flows::rollout::Live {
        dir: manager_dir,
        manager: &manager,
        store: &store,
    };
    match &args.command {
        RolloutCommand::Start {
            base,
            supersede,
            allow_dirty,
            json,
        } => {
            let who = match supersede {
                true => operator(&manager, "superseded", cx)?,
                false => actor(),
            };
            let registry = Registry::load(&manager)?;
            let f = live.fleet(&registry);
            let how = StartFlags {
                base: base.as_deref(),
                supersede: *supersede,
                allow_dirty: *allow_dirty,
                json: *json,
            };
            start(&f, manager_dir, &how, &who, cx)
        }
        RolloutCommand::Status {
            id,
            json,
            summary,
            replan,
        } => steps::status(
            &manager,
            &store,
            id.as_deref(),
            *json,
            *summary,
            *replan,
            &cx.out,
        ),
        RolloutCommand::Tick {
            id,
            jobs,
            out: out_dir,
            terraform,
            one_stage,
            shard,
            plans_from,
            unreviewed,
        } => {
            let how = TickFlags {
                jobs: *jobs,
                out_dir,
                terraform: terraform.as_deref(),
                one_stage: *one_stage,
                shard: shard.as_deref(),
                plans_from: plans_from.as_deref(),
                unreviewed: *unreviewed,
            };
            tick(&live, id.as_deref(), &how, cx)
        }
        RolloutCommand::Plan {
            id,
            shard,
            jobs,
            out: out_dir,
            terraform,
        } => {
            let how = TickFlags {
                jobs: *jobs,
                out_dir,
                terraform: terraform.as_deref(),
                one_stage: false,
                shard: shard.as_deref(),
                plans_from: None,
                unreviewed: false,
            };
            plan(&live, id.as_deref(), &how, cx)
        }
        RolloutCommand::Halt { id, reason } => {
            control(&live, id.as_deref(), Control::Halt(reason), cx)
        }
        RolloutCommand::Resume { id } => control(&live, id.as_deref(), Control::Resume, cx),
        RolloutCommand::Rollback { id } => control(&live, id.as_deref(), Control::Rollback, cx),
        RolloutCommand::Deployments(flags) => deployments(&store, flags, cx),
    }
}

/// `rollout deployments`: the flags checked, then what is owed sent.
fn deployments(store: &Store, flags: &crate::cli::DeploymentsArgs, cx: &Context) -> Result<()> {
    let how = owed::Settings::resolve(
        store,
        flags.id.as_deref(),
        flags.budget.deadline,
        flags.budget.write_log.as_deref(),
        flags.json,
    )?;
    owed::run(store, &how, cx)
}
