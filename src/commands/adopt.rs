//! `fleetform adopt plan|apply|release|wave|status`: bringing objects
//! that exist already under fleetform, per customer × product ×
//! environment ([`crate::flows::adopt`] runs each step).

use clap::{Args, Subcommand};
use std::path::Path;
use std::path::PathBuf;

use super::PairArgs;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::flows::adopt::{self, ApplyTarget, Release, StatusFilter, Target, WaveSettings};
use crate::flows::local::ops::Phase;
use crate::output::Output;
use crate::report::adopt::{diff_text, status_text, wave_text};

#[derive(Debug, Args)]
pub struct AdoptArgs {
    #[command(subcommand)]
    pub command: AdoptCommand,
}

/// One customer × product × environment, and where its plan goes.
#[derive(Debug, Args)]
pub struct AdoptPair {
    #[command(flatten)]
    pub pair: PairArgs,
    /// Results folder (the plan goes to OUT/CUSTOMER/[PRODUCT/]ENV).
    #[arg(long, env = "FLEETFORM_OUT_DIR", default_value = ".fleetform/out")]
    pub out: PathBuf,
    /// Terraform (or OpenTofu) binary.
    #[arg(long, env = "FLEETFORM_TERRAFORM")]
    pub terraform: Option<PathBuf>,
    /// The customer's checkout instead of the registry's `path` (the ops
    /// workflow checks the customer's repo out there).
    #[arg(long, env = "FLEETFORM_CUSTOMER_DIR")]
    pub customer_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum AdoptCommand {
    /// Plan a pair's adoption from its mapping file
    /// (adopt/CUSTOMER/[PRODUCT/]ENV.yml): import blocks in the working
    /// copy, the plan read as an adoption diff (ready, to review, or
    /// refused).
    Plan {
        #[command(flatten)]
        pair: AdoptPair,
        /// The diff as JSON on stdout.
        #[arg(long, env = "FLEETFORM_JSON")]
        json: bool,
        /// Seal the plan's folder for the ops workflow's artifact (with
        /// FLEETFORM_ARTIFACT_KEY) and set the job outputs `plan_sha256`
        /// and `plan_dir`.
        #[arg(long)]
        seal: bool,
        /// Accept in-place updates (never a create, replace or destroy):
        /// the choice is kept, and sealed, with the plan, and the apply
        /// takes it from there.
        #[arg(long)]
        accept_updates: bool,
    },
    /// Write a pair's mapping file from a command that lists the objects
    /// that exist, one `ADDRESS ID` per line (it runs in the manager repo
    /// with Terraform's environment and FLEETFORM_CUSTOMER,
    /// FLEETFORM_ENVIRONMENT, FLEETFORM_PRODUCT); never over a file that
    /// exists.
    Discover {
        #[command(flatten)]
        pair: AdoptPair,
        /// How long the command may run before it is killed and nothing
        /// is written (`90s`, `10m`, at most `6h`).
        #[arg(long, default_value = "10m", value_parser = super::parse_duration)]
        timeout: std::time::Duration,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// Apply a reviewed adoption plan: imports into the state, nothing
    /// changed in the cloud; refused unless the plan only imports.
    Apply {
        #[command(flatten)]
        pair: AdoptPair,
        /// The digest of the adoption plan the second person reviewed.
        #[arg(long, env = "FLEETFORM_PLAN_SHA256")]
        plan_sha256: String,
        /// Why (kept in the audit log and the records).
        #[arg(long, env = "FLEETFORM_REASON")]
        reason: String,
        /// Also apply the in-place updates the adoption plan shows (never a
        /// create, replace or destroy).
        #[arg(long)]
        accept_updates: bool,
        /// Run in a run another operator started to confirm the plan's
        /// run RUN (where environments cannot have required reviewers).
        #[arg(long, value_name = "RUN")]
        confirms: Option<u64>,
        /// On a workstation, adopt with no second person; the audit log
        /// records it as unreviewed. Refused on GitHub Actions.
        #[arg(long)]
        unreviewed: bool,
        /// Report the adoption on the customer's repo: a deployment in
        /// the environment and a comment on its open pull request
        /// (FLEETFORM_TOKEN or GITHUB_TOKEN).
        #[arg(long)]
        github: bool,
    },
    /// Release an adopted pair before its first apply after the
    /// adoption: `state rm` of the adopted addresses; nothing in the
    /// cloud is touched. As a state operation: --preview seals it,
    /// --sha256 runs the sealed preview once a second person approved
    /// (on a workstation, --unreviewed releases at once).
    Release {
        #[command(flatten)]
        pair: AdoptPair,
        /// Why (kept in the audit log and the records; with --sha256 the
        /// sealed preview's reason is used).
        #[arg(long, env = "FLEETFORM_REASON", required_unless_present = "sha256")]
        reason: Option<String>,
        /// Seal a preview of the release for a second person: it prints
        /// the addresses that leave the state, the state they leave, and
        /// the digest to approve (the job output `digest`); nothing
        /// changes.
        #[arg(long, conflicts_with_all = ["sha256", "unreviewed", "confirms"])]
        preview: bool,
        /// Run the sealed preview with this digest (the one --preview
        /// printed), only if the state is still the one previewed.
        #[arg(long, value_name = "DIGEST")]
        sha256: Option<String>,
        /// With --sha256: run in a run another operator started to
        /// confirm the preview's run RUN.
        #[arg(long, value_name = "RUN")]
        confirms: Option<u64>,
        /// On a workstation, release with no second person (recorded as
        /// unreviewed). Refused on GitHub Actions.
        #[arg(long)]
        unreviewed: bool,
        /// Report the release on the customer's repo: a deployment in the
        /// environment and a comment on its open pull request
        /// (FLEETFORM_TOKEN or GITHUB_TOKEN).
        #[arg(long)]
        github: bool,
    },
    /// Adopt the customers of one environment in waves (the named ones
    /// in order, else the rollout's waves, pilot first): each pair
    /// planned, and adopted with --apply; a wave starts once the one
    /// before is adopted and baked; halts at the first pair that is not
    /// ready, and stays halted until that pair is ready or --resume.
    Wave {
        /// The environment.
        #[arg(long = "env", env = "FLEETFORM_ENVIRONMENT")]
        environment: String,
        /// The customers, in this order (default: the rollout's waves).
        #[arg(long = "customer", value_delimiter = ',')]
        customers: Vec<String>,
        /// The product (a manager with `products:`).
        #[arg(long, env = "FLEETFORM_PRODUCT")]
        product: Option<String>,
        /// Adopt each ready pair right after its plan (a workstation
        /// only, with --unreviewed and --reason).
        #[arg(long, requires_all = ["unreviewed", "reason"])]
        apply: bool,
        /// With --apply: no second person reviews each pair's digest.
        #[arg(long, requires = "apply")]
        unreviewed: bool,
        /// With --apply: why (kept in the audit log and the records).
        #[arg(long, requires = "apply")]
        reason: Option<String>,
        /// Lift the wave's halt (an operator; on GitHub a member of
        /// `rollout.operators`): the pair it halted at is planned again.
        #[arg(long)]
        resume: bool,
        /// Results folder.
        #[arg(long, env = "FLEETFORM_OUT_DIR", default_value = ".fleetform/out")]
        out: PathBuf,
        /// Terraform (or OpenTofu) binary.
        #[arg(long, env = "FLEETFORM_TERRAFORM")]
        terraform: Option<PathBuf>,
        /// The report as JSON on stdout.
        #[arg(long, env = "FLEETFORM_JSON")]
        json: bool,
    },
    /// Each pair's adoption: not started, mapped, zero-diff, to review,
    /// refused, adopted, released.
    Status {
        /// Only these customers.
        #[arg(long = "customer", value_delimiter = ',')]
        customers: Vec<String>,
        /// Only this environment.
        #[arg(long = "env")]
        environment: Option<String>,
        /// Only this product (a manager with `products:`; default: every
        /// product the registry lets each customer have).
        #[arg(long, env = "FLEETFORM_PRODUCT")]
        product: Option<String>,
        /// Results folder the adoption plans were written to.
        #[arg(long, env = "FLEETFORM_OUT_DIR", default_value = ".fleetform/out")]
        out: PathBuf,
        /// The statuses as JSON on stdout.
        #[arg(long, env = "FLEETFORM_JSON")]
        json: bool,
        /// Every pair, however many (default: past 20 pairs, the counts by
        /// stage and the pairs to act on first).
        #[arg(long)]
        all: bool,
    },
}

pub fn run(args: &AdoptArgs, manager_dir: &Path, cx: &Context) -> Result<()> {
    match &args.command {
        AdoptCommand::Plan {
            pair,
            json,
            seal,
            accept_updates,
        } => plan(pair, *json, (*seal, *accept_updates), manager_dir, &cx.out),
        AdoptCommand::Apply {
            pair,
            plan_sha256,
            reason,
            accept_updates,
            confirms,
            unreviewed,
            github,
        } => {
            crate::util::fs::check_sha256_hex("--plan-sha256", plan_sha256)
                .map_err(Error::usage)?;
            let a = ApplyTarget {
                pair: target(pair),
                plan_sha256: plan_sha256.clone(),
                reason: crate::flows::local::ops::require_reason(Some(reason))?,
                accept_updates: *accept_updates,
                confirms: *confirms,
                unreviewed: *unreviewed,
                github: *github,
            };
            cx.out.result(&adopt::apply(&a, manager_dir, cx)?);
            Ok(())
        }
        AdoptCommand::Release { .. } => release(&args.command, manager_dir, cx),
        AdoptCommand::Discover {
            pair,
            timeout,
            command,
        } => {
            cx.out.result(&adopt::discover(
                &target(pair),
                (command, *timeout),
                manager_dir,
                &cx.out,
            )?);
            Ok(())
        }
        AdoptCommand::Wave { .. } => wave(&args.command, manager_dir, cx),
        AdoptCommand::Status { .. } => status(&args.command, manager_dir, cx),
    }
}

fn release(command: &AdoptCommand, manager_dir: &Path, cx: &Context) -> Result<()> {
    let AdoptCommand::Release {
        pair,
        reason,
        preview,
        sha256,
        confirms,
        unreviewed,
        github,
    } = command
    else {
        unreachable!("called for `adopt release` only")
    };
    let phase = match (sha256, preview) {
        (Some(d), _) => {
            crate::util::fs::check_sha256_hex("--sha256", d).map_err(Error::usage)?;
            Phase::Sealed { sha256: d.clone() }
        }
        (None, true) => Phase::Preview,
        (None, false) => Phase::Direct,
    };
    // A sealed preview carries its reason; the others need one.
    let reason = match phase {
        Phase::Sealed { .. } => reason.clone().unwrap_or_default(),
        _ => crate::flows::local::ops::require_reason(reason.as_deref())?,
    };
    let r = Release {
        pair: target(pair),
        reason,
        phase,
        confirms: *confirms,
        unreviewed: *unreviewed,
        github: *github,
    };
    cx.out.result(&adopt::release(&r, manager_dir, cx)?);
    Ok(())
}

fn wave(command: &AdoptCommand, manager_dir: &Path, cx: &Context) -> Result<()> {
    let AdoptCommand::Wave {
        environment,
        customers,
        product,
        apply,
        unreviewed: _,
        reason,
        resume,
        out: out_dir,
        terraform,
        json,
    } = command
    else {
        unreachable!("called for `adopt wave` only")
    };
    let settings = WaveSettings {
        environment: environment.clone(),
        product: product.clone(),
        customers: customers.clone(),
        out: out_dir.clone(),
        terraform: terraform.clone(),
        apply: match apply {
            true => Some(crate::flows::local::ops::require_reason(reason.as_deref())?),
            false => None,
        },
        resume: *resume,
    };
    let report = adopt::wave(&settings, manager_dir, cx)?;
    match json {
        true => cx.out.json(&report).expect("serialisable"),
        false => cx.out.result(wave_text(&report).trim_end()),
    }
    match (&report.halted, &report.held) {
        (Some(_), _) => Err(Error::refused(
            "the adoption wave halted at a pair that is not ready (above)",
        )),
        (None, Some(_)) => Err(Error::refused(
            "the adoption wave is halted (above); nothing was planned",
        )),
        (None, None) => Ok(()),
    }
}

fn plan(
    pair: &AdoptPair,
    json: bool,
    choices: (bool, bool),
    manager_dir: &Path,
    out: &Output,
) -> Result<()> {
    let planned = adopt::plan(&target(pair), choices, manager_dir, out)?;
    match json {
        true => out.json(&planned).expect("serialisable"),
        false => out.result(
            diff_text(
                &planned.unit,
                &planned.mapping,
                &planned.plan_sha256,
                &planned.diff,
            )
            .trim_end(),
        ),
    }
    match planned.diff.verdict() {
        crate::data::adoption::Verdict::Refused => Err(Error::refused(format!(
            "the adoption plan of {} would create, replace or destroy (above): nothing of it can be applied",
            planned.unit
        ))),
        _ => Ok(()),
    }
}

fn status(command: &AdoptCommand, manager_dir: &Path, cx: &Context) -> Result<()> {
    let AdoptCommand::Status {
        customers,
        environment,
        product,
        out: out_dir,
        json,
        all,
    } = command
    else {
        unreachable!("called for `adopt status` only")
    };
    let rows = adopt::status(
        &StatusFilter {
            customers: customers.clone(),
            environment: environment.clone(),
            product: product.clone(),
            out: out_dir.clone(),
        },
        manager_dir,
        &cx.net,
        None,
    )?;
    if *json {
        cx.out.json(&rows).expect("serialisable");
        return Ok(());
    }
    cx.out.result(status_text(&rows, *all).trim_end());
    for h in adopt::halts(manager_dir, &cx.net, None)?
        .iter()
        .filter(|h| {
            environment
                .as_ref()
                .is_none_or(|e| *e == h.unit.environment)
                && product
                    .as_ref()
                    .is_none_or(|p| h.unit.product.as_ref() == Some(p))
        })
    {
        cx.out.result(&crate::report::adopt::halt_line(h));
    }
    Ok(())
}

fn target(p: &AdoptPair) -> Target {
    Target {
        customer: p.pair.customer.clone(),
        environment: p.pair.environment.clone(),
        product: p.pair.product.clone(),
        out: p.out.clone(),
        terraform: p.terraform.clone(),
        customer_dir: p.customer_dir.clone(),
    }
}
