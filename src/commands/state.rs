//! `fleetform state import|mv|rm|force-unlock`: one state operation on
//! one customer × product × environment, with a reason
//! ([`crate::flows::local::ops`] runs and records it); `state versions`
//! and `state restore` of its state's versions
//! ([`crate::flows::local::recovery`]); `state drill`, the proof that
//! every pair's newest version restores ([`crate::flows::local::drill`]).

use clap::Args;
use std::path::Path;
use std::path::PathBuf;

use crate::context::Context;
use crate::engine::ops::{check_operand, StateOp};
use crate::error::{Error, Result};
use crate::flows::local::ops::{require_reason, OpTarget, Phase};
use crate::flows::local::recovery::{self, Restore};
use clap::ValueEnum as _;

#[derive(Debug, Args)]
pub struct StateArgs {
    /// import ADDR ID | mv FROM TO | rm ADDR... | force-unlock LOCK_ID |
    /// apply (a sealed preview, with --sha256) | versions | restore
    /// (--version V) | drill
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
    /// The customer (every one for `drill`).
    #[arg(long, env = "FLEETFORM_CUSTOMER")]
    pub customer: Option<String>,
    /// The environment (every one for `drill`).
    #[arg(long = "env", env = "FLEETFORM_ENVIRONMENT")]
    pub environment: Option<String>,
    /// The product (a manager with `products:`).
    #[arg(long, env = "FLEETFORM_PRODUCT")]
    pub product: Option<String>,
    /// `restore`: the version to restore (an id `state versions` lists).
    #[arg(long, value_name = "V")]
    pub version: Option<String>,
    /// `restore`: allow a version whose serial is older than the current
    /// state's (every change since is undone in the state).
    #[arg(long)]
    pub allow_older_serial: bool,
    /// `drill`: prove this many pairs a run, the next ones each day, so
    /// that every pair is proven over a window (default: all).
    #[arg(long, value_name = "N")]
    pub sample: Option<usize>,
    /// `versions`, `drill`: one JSON document on stdout.
    #[arg(long, env = "FLEETFORM_JSON")]
    pub json: bool,
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
    /// The versions of the state object, newest first.
    Versions,
    /// Restore a version (`--version V`) as the new current state.
    Restore,
    /// Prove each pair's newest version restores: a plan against a
    /// scratch copy that changes nothing.
    Drill,
}

pub fn run(args: &StateArgs, manager_dir: &Path, cx: &Context) -> Result<()> {
    match args.op {
        StateCommand::Drill => return drill(args, manager_dir, cx),
        StateCommand::Versions => return versions(args, manager_dir, cx),
        StateCommand::Restore => return restore(args, manager_dir, cx),
        _ => {}
    }
    if args.version.is_some() || args.allow_older_serial || args.sample.is_some() {
        return Err(Error::usage(
            "--version and --allow-older-serial go with `state restore`, --sample with `state drill`",
        ));
    }
    let target = resolve(args)?;
    if let Phase::Sealed { sha256 } = &target.phase {
        // A sealed restore runs as the other sealed operations do.
        let dir = target.out.join(unit_dir(&target));
        if crate::flows::local::recovery::sealed_here(&dir, sha256) {
            let asked = Restore {
                version: None,
                allow_older_serial: false,
            };
            recovery::restore(&target, &asked, manager_dir, cx)?;
            return Ok(());
        }
    }
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
        StateCommand::Versions | StateCommand::Restore | StateCommand::Drill => return Ok(None),
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
    let (customer, environment) = pair_of(args)?;
    Ok(OpTarget {
        customer,
        environment,
        product: args.product.clone(),
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

/// `--customer` and `--env`, which every operation but `drill` needs.
fn pair_of(args: &StateArgs) -> Result<(String, String)> {
    match (&args.customer, &args.environment) {
        (Some(c), Some(e)) => Ok((c.clone(), e.clone())),
        _ => Err(Error::usage(format!(
            "`state {}` acts on one pair: give --customer SLUG and --env ENV",
            args.op
                .to_possible_value()
                .map_or("…".into(), |v| v.get_name().to_string())
        ))),
    }
}

/// The pair's results folder under `--out`, as the flows name it.
fn unit_dir(t: &OpTarget) -> PathBuf {
    crate::config::Unit::new(&t.customer, t.product.as_deref(), &t.environment).rel_dir()
}

/// `state versions`: the table, or JSON.
fn versions(args: &StateArgs, manager_dir: &Path, cx: &Context) -> Result<()> {
    let t = read_only(args)?;
    let rows = crate::flows::local::version_list::versions(&t, manager_dir, cx)?;
    if args.json {
        cx.out.json(&rows).expect("serialisable");
        return Ok(());
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.version.version_id.clone(),
                r.version.last_modified.clone(),
                r.version.size.to_string(),
                r.serial.map_or("-".into(), |s| s.to_string()),
                r.lineage.clone().unwrap_or_else(|| "-".into()),
                match (&r.unreadable, &r.applied_by) {
                    (Some(why), _) => format!("not a state: {why}"),
                    (None, Some(a)) => format!(
                        "apply by {a} (plan sha256:{}){}",
                        r.plan_sha256
                            .as_deref()
                            .map_or(String::new(), |d| d.chars().take(12).collect()),
                        match r.matched_by {
                            Some(crate::flows::local::version_list::MatchedBy::Time) => {
                                ", matched by time: its record keeps no serial"
                            }
                            _ => "",
                        }
                    ),
                    (None, None) => "-".into(),
                },
            ]
        })
        .collect();
    cx.out.result(
        crate::output::table(
            &["version", "time", "size", "serial", "lineage", "written by"],
            &table,
        )
        .trim_end(),
    );
    Ok(())
}

/// `state restore`: `--version V` with `--preview` (or `--unreviewed` on
/// a workstation); the sealed restore runs with `state apply --sha256`.
fn restore(args: &StateArgs, manager_dir: &Path, cx: &Context) -> Result<()> {
    if args.sha256.is_some() {
        return Err(Error::usage(
            "a sealed restore runs with `state apply --sha256 DIGEST`, as the other state operations",
        ));
    }
    if args.version.is_none() {
        return Err(Error::usage(
            "`state restore` needs --version V (an id `fleetform state versions` lists)",
        ));
    }
    let target = resolve(args)?;
    let asked = Restore {
        version: args.version.clone(),
        allow_older_serial: args.allow_older_serial,
    };
    let said = recovery::restore(&target, &asked, manager_dir, cx)?;
    if target.phase == Phase::Preview {
        cx.out.result(&said);
    }
    Ok(())
}

/// The target of a read: the pair, with no reason needed.
fn read_only(args: &StateArgs) -> Result<OpTarget> {
    let (customer, environment) = pair_of(args)?;
    Ok(OpTarget {
        customer,
        environment,
        product: args.product.clone(),
        reason: String::new(),
        out: args.out.clone(),
        terraform: std::env::var_os("FLEETFORM_TERRAFORM").map(PathBuf::from),
        customer_dir: args.customer_dir.clone(),
        github: false,
        phase: Phase::Direct,
        confirms: None,
        unreviewed: false,
    })
}

/// `state drill`: every selected pair's newest version, proven.
fn drill(args: &StateArgs, manager_dir: &Path, cx: &Context) -> Result<()> {
    let settings = crate::flows::local::drill::Drill {
        customer: args.customer.clone(),
        environment: args.environment.clone(),
        sample: args.sample,
        out: args.out.clone(),
        terraform: std::env::var_os("FLEETFORM_TERRAFORM").map(PathBuf::from),
        json: args.json,
    };
    crate::flows::local::drill::drill(&settings, manager_dir, cx)
}
