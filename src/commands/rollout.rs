//! `fleetform rollout start|status|plan|tick|halt|resume|rollback|deployments`:
//! the flags checked, then the rollout's flows ([`crate::flows::rollout`]:
//! what runs on GitHub Actions, who may control a rollout).

use clap::{Args, Subcommand};
use std::path::Path;
use std::path::PathBuf;

use crate::config::{Manager, Registry};
use crate::context::Context;
use crate::error::Result;
use crate::flows::rollout::{
    actor, control, operator, owed, plan, start, steps, tick, Control, StartFlags, TickFlags,
};
use crate::records::Store;

#[derive(Debug, Args)]
pub struct RolloutArgs {
    #[command(subcommand)]
    pub command: RolloutCommand,
}

#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Start a rollout of the manager's working tree: the pairs whose
    /// values or module changed since where the last rollout left off (or
    /// --base), in waves. Queued while another rollout runs; a halted one
    /// is superseded.
    Start {
        /// The manager as the fleet has it now (e.g. the commit before the
        /// merge); needed for the first rollout only.
        #[arg(long, env = "FLEETFORM_ROLLOUT_BASE")]
        base: Option<String>,
        /// Supersede every open rollout, running or not: the new one covers
        /// everything since the oldest one's base.
        #[arg(long)]
        supersede: bool,
        /// Start even when the manager's folder has uncommitted changes:
        /// they roll out under HEAD's commit, which lacks them; the audit
        /// log records that it was started so (`started-dirty`).
        #[arg(long)]
        allow_dirty: bool,
        /// The rollout started (its stages and pairs) as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Where a rollout stands: wave, pairs, applied, failed, baking until.
    Status {
        /// The rollout (default: the open one).
        #[arg(long)]
        id: Option<String>,
        /// The result as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// Under Actions: the next stage (wave, environment, customers) to
        /// the step summary, and `ready`, `environment`, `wave`, `id` as
        /// step outputs.
        #[arg(long)]
        summary: bool,
        /// Ready even when the stage's reviewed plans wait for an approval
        /// (planning again voids them).
        #[arg(long)]
        replan: bool,
    },
    /// Advance whatever may advance now (safe to run twice, or from two jobs).
    Tick {
        /// The rollout (default: the open one).
        #[arg(long)]
        id: Option<String>,
        /// Plans at once within a wave (default: the rollout's max_parallel).
        #[arg(short, long, env = "FLEETFORM_JOBS")]
        jobs: Option<usize>,
        /// Results folder (plan files, summaries, comments).
        #[arg(long, env = "FLEETFORM_OUT_DIR", default_value = ".fleetform/rollout")]
        out: PathBuf,
        /// Terraform (or OpenTofu) binary to use instead of the engine in fleetform.yml.
        #[arg(long, env = "FLEETFORM_TERRAFORM")]
        terraform: Option<PathBuf>,
        /// At most one stage (environment × wave) per tick: on GitHub each
        /// tick job waits for its environment's approval, wave by wave.
        #[arg(long)]
        one_stage: bool,
        /// Only these pairs of the current stage, a JSON list of
        /// `customer[/product]/environment` (a matrix job of `rollout status
        /// --summary`'s `matrix`); the last shard to finish settles the stage.
        #[arg(long, env = "FLEETFORM_SHARD")]
        shard: Option<String>,
        /// On a workstation, apply stages whose environment needs approval
        /// (`auto_apply: false`) with no second person; each apply is
        /// recorded as unreviewed. Refused on GitHub Actions.
        #[arg(long)]
        unreviewed: bool,
        /// Apply the plans `rollout plan` made for review (their sealed
        /// bundles under DIR, opened with FLEETFORM_ARTIFACT_KEY); a pair
        /// without one there is a failed pair (nothing is planned here).
        #[arg(long)]
        plans_from: Option<PathBuf>,
    },
    /// Plan the current stage's pairs for review before the wave is
    /// approved: grouped plans and digests in the job summary, each plan
    /// sealed (FLEETFORM_ARTIFACT_KEY) in its folder under --out for
    /// `tick --plans-from`.
    Plan {
        /// The rollout (default: the open one).
        #[arg(long)]
        id: Option<String>,
        /// Only these pairs of the current stage, a JSON list of
        /// `customer[/product]/environment` (a matrix job of `rollout status
        /// --summary`'s `matrix`).
        #[arg(long, env = "FLEETFORM_SHARD")]
        shard: Option<String>,
        /// Plans to run at once (default: four per core).
        #[arg(short, long, env = "FLEETFORM_JOBS")]
        jobs: Option<usize>,
        /// Results folder (plan files, summaries, comments).
        #[arg(
            long,
            env = "FLEETFORM_OUT_DIR",
            default_value = ".fleetform/rollout-plans"
        )]
        out: PathBuf,
        /// Terraform (or OpenTofu) binary to use instead of the engine in fleetform.yml.
        #[arg(long, env = "FLEETFORM_TERRAFORM")]
        terraform: Option<PathBuf>,
    },
    /// Stop the rollout: nothing more is applied until `resume`.
    Halt {
        /// The rollout (default: the open one).
        #[arg(long)]
        id: Option<String>,
        /// Why, for the audit log and whoever reads the status.
        #[arg(long)]
        reason: String,
    },
    /// Go on after a halt; failed pairs are tried again.
    Resume {
        /// The rollout (default: the open one).
        #[arg(long)]
        id: Option<String>,
    },
    /// Send the GitHub deployments rollouts owe: the customers' deployments
    /// whose writes did not fit GitHub's write budget when their pairs were
    /// applied, oldest first, each with its final status and when it was
    /// applied. Needs FLEETFORM_TOKEN (deployments: write on the customer
    /// repos). What still does not fit stays owed for the next run.
    Deployments(DeploymentsArgs),
    /// Roll a halted or finished rollout back: a rollout of its base's
    /// configuration over every pair it changed, newest stage first, that
    /// ticks plan, approve and apply like any other.
    Rollback {
        /// The rollout (default: the open one).
        #[arg(long)]
        id: Option<String>,
    },
}

/// `rollout deployments`' flags.
#[derive(Debug, Args)]
pub struct DeploymentsArgs {
    /// Only this rollout's (default: every rollout's).
    #[arg(long)]
    pub id: Option<String>,
    #[command(flatten)]
    pub budget: super::WriteBudgetArgs,
    /// What was sent and what is still owed, as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

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
fn deployments(store: &Store, flags: &DeploymentsArgs, cx: &Context) -> Result<()> {
    let how = owed::Settings::resolve(
        store,
        flags.id.as_deref(),
        flags.budget.deadline,
        flags.budget.write_log.as_deref(),
        flags.json,
    )?;
    owed::run(store, &how, cx)
}
