//! `fleetform adopt plan|apply|release|wave|status`: bringing objects
//! that exist already under fleetform, per customer × product ×
//! environment ([`crate::flows::adopt`] runs each step).

use std::path::Path;

use crate::cli::{AdoptArgs, AdoptCommand, AdoptPair};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::flows::adopt::{self, ApplyTarget, Release, StatusFilter, Target, WaveSettings};
use crate::flows::local::ops::Phase;
use crate::output::Output;
use crate::report::adopt::{diff_text, status_table, wave_text};

pub fn run(args: &AdoptArgs, manager_dir: &Path, cx: &Context) -> Result<()> {
    match &args.command {
        AdoptCommand::Plan { pair, json, seal } => plan(pair, *json, *seal, manager_dir, &cx.out),
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
                .map_err(Error::Usage)?;
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
        AdoptCommand::Discover { pair, command } => {
            cx.out.result(&adopt::discover(
                &target(pair),
                command,
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
            crate::util::fs::check_sha256_hex("--sha256", d).map_err(Error::Usage)?;
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
        (Some(_), _) => Err(Error::Refused(
            "the adoption wave halted at a pair that is not ready (above)".into(),
        )),
        (None, Some(_)) => Err(Error::Refused(
            "the adoption wave is halted (above); nothing was planned".into(),
        )),
        (None, None) => Ok(()),
    }
}

fn plan(pair: &AdoptPair, json: bool, seal: bool, manager_dir: &Path, out: &Output) -> Result<()> {
    let planned = adopt::plan(&target(pair), seal, manager_dir, out)?;
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
        crate::data::adoption::Verdict::Refused => Err(Error::Refused(format!(
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
    )?;
    if *json {
        cx.out.json(&rows).expect("serialisable");
        return Ok(());
    }
    cx.out.result(status_table(&rows).trim_end());
    for h in adopt::halts(manager_dir, &cx.net)?.iter().filter(|h| {
        environment
            .as_ref()
            .is_none_or(|e| *e == h.unit.environment)
            && product
                .as_ref()
                .is_none_or(|p| h.unit.product.as_ref() == Some(p))
    }) {
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
    }
}
