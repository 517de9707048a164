//! `fleetform apply`: apply a saved plan, only if its SHA-256 matches the
//! recorded (or given) digest and the customer is still active.

use crate::cli::ApplyArgs;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::terraform::engine::RunError;

pub fn run(args: &ApplyArgs, manager_dir: &std::path::Path, out: &Output) -> Result<()> {
    if let Some(d) = &args.plan_sha256 {
        if d.len() != 64 || !d.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::Usage(
                "--plan-sha256 must be 64 hex characters".into(),
            ));
        }
    }
    if args.dispatch {
        if args.customer.is_some() {
            return Err(Error::Usage(
                "--dispatch takes the customer from the event; drop --customer".into(),
            ));
        }
        let Some(plan_dir) = args.plan_dir.clone() else {
            return Err(Error::Usage(
                "--dispatch needs --plan-dir (where the plan artifact was downloaded)".into(),
            ));
        };
        return crate::deploy::apply(
            crate::deploy::ApplySettings {
                environment: args.environment.clone(),
                plan_dir,
                plan_sha256: args.plan_sha256.clone().expect("clap requires it"),
                dry_run: args.dry_run,
                json: args.json,
                terraform: args.terraform.clone(),
            },
            manager_dir,
            out,
        );
    }
    let slug = args
        .customer
        .clone()
        .expect("clap requires it without --dispatch");
    let (manager, registry) = crate::config::load(manager_dir)?;
    let customer = registry.get(&slug).ok_or_else(|| {
        Error::Refused(format!(
            "customer `{slug}` is not registered; nothing was applied"
        ))
    })?;
    if manager.environment(&args.environment).is_none() {
        return Err(Error::Usage(format!(
            "unknown environment `{}`",
            args.environment
        )));
    }
    let dir = args
        .plan_dir
        .clone()
        .unwrap_or_else(|| args.out.join(&customer.slug).join(&args.environment));
    let engine = crate::terraform::engine::build(&manager, true, args.terraform.as_deref())?;
    let result = engine.apply(
        customer,
        &args.environment,
        &dir,
        args.plan_sha256.as_deref(),
        None,
    );
    let entry = match &result {
        Ok(done) => crate::audit::Entry::now("apply", "ok").plan(Some(&done.plan_sha256)),
        Err(RunError::Refused(m)) => {
            crate::audit::Entry::now("refusal", "refused").detail(format!("apply: {m}"))
        }
        Err(RunError::Terraform(crate::terraform::TerraformError::StalePlan { .. })) => {
            crate::audit::Entry::now("refusal", "refused").detail("apply: stale plan")
        }
        Err(e) => crate::audit::Entry::now("apply", "failed").detail(e.short()),
    };
    crate::audit::record(
        out,
        entry
            .customer(&customer.slug)
            .environment(&args.environment),
    );
    match result {
        Ok(done) => {
            if args.json {
                out.result(&serde_json::to_string_pretty(&done).expect("serialisable"));
            } else {
                out.result(&format!(
                    "applied {}/{} (plan sha256:{})",
                    done.customer, done.environment, done.plan_sha256
                ));
            }
            Ok(())
        }
        Err(RunError::Refused(m)) => Err(Error::Refused(m)),
        Err(RunError::Terraform(crate::terraform::TerraformError::StalePlan { .. })) => Err(Error::Refused(
            "the saved plan is stale: the state changed after it was made; nothing was applied, plan again".into(),
        )),
        Err(RunError::Terraform(t)) => Err(Error::Terraform(t)),
        Err(RunError::Values(d)) => Err(Error::Values(d)),
        Err(RunError::Io(e)) => Err(Error::Other(e)),
    }
}
