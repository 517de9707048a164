//! `fleetform conclude` (manager side, the deploy workflow's last job, on
//! `repository_dispatch`): an apply that was due but did not run to its end
//! marks the customer's commit `error`, with the reason.
//!
//! An apply job that runs reports its own result on the customer's commit.
//! One that never gets that far cannot: GitHub cancels a job waiting in a
//! concurrency group when a newer one queues, someone may cancel the run, a
//! reviewer may reject the deployment or let it wait past 30 days, and a
//! later environment's apply is skipped when an earlier one did not apply.
//! Without this job the commit would keep the plan's state, and a skipped
//! production apply would look like success.
//!
//! It reads the workflow's `needs` (`FLEETFORM_NEEDS`, `toJSON(needs)`):
//! for each of the customer's environments whose plan job succeeded with
//! changes and passing gates on a `fleetform-apply` dispatch, an apply job
//! that was cancelled or skipped is an `error`; one that failed is an
//! `error` unless its own step already reported `failure` or `error`. The
//! dispatch is checked as the apply checks it (registered, signed, active)
//! before anything is written.

use std::path::Path;

use serde_json::Value;

use crate::ci::RunContext;
use crate::cli::ConcludeArgs;
use crate::deploy::{authorise, enabled_in_order, read_event, report_status, Stage};
use crate::dispatch::EVENT_APPLY;
use crate::error::{Error, Result};
use crate::github::{CommitStatus, GitHub, Token};
use crate::output::Output;

/// Longest `FLEETFORM_NEEDS` read: the outputs of a few jobs.
const MAX_NEEDS: usize = 256 * 1024;

pub fn run(args: &ConcludeArgs, manager_dir: &Path, out: &Output) -> Result<()> {
    let ctx = RunContext::from_env();
    let needs = parse_needs(&args.needs)?;
    let dispatched = read_event(&ctx)?;
    if dispatched.event_type != EVENT_APPLY {
        out.result("a plan dispatch: no apply was due");
        return Ok(());
    }
    let (manager, registry) = crate::config::load(manager_dir)?;
    let rt = crate::github::runtime().map_err(Error::from)?;
    let token = Token::from_env()
        .ok_or_else(|| Error::Usage("FLEETFORM_TOKEN (or GITHUB_TOKEN) is not set: conclude writes the customer's commit statuses".into()))?;
    out.mask(token.expose());
    let gh =
        GitHub::new(&rt, &GitHub::api_url_from_env(), Some(&token), false).map_err(Error::from)?;
    let payload = &dispatched.payload;
    rt.block_on(async {
        let customer = authorise(
            &registry,
            &manager,
            &gh,
            &dispatched,
            Stage::Apply,
            ctx.run_url(),
            out,
        )
        .await?;
        let envs = enabled_in_order(&manager, customer);
        let mut marked = Vec::new();
        for env in &envs {
            let Some(reason) = unfinished(&needs, env, &envs) else {
                continue;
            };
            if reason.needs_check && already_reported(&gh, &manager, payload, env).await? {
                continue;
            }
            let st = CommitStatus {
                state: "error",
                context: manager.config.status_context.clone(),
                description: format!("{env}: not applied: {}", reason.text),
                target_url: ctx.run_url(),
            };
            report_status(&gh, &envs, &payload.customer_repo, &payload.sha, env, st)
                .await
                .map_err(Error::from)?;
            crate::audit::record(
                out,
                crate::audit::Entry::now("apply", "not-applied")
                    .customer(&customer.slug)
                    .environment(env)
                    .sha(Some(&payload.sha))
                    .dispatch(Some(&payload.dispatch_id))
                    .detail(reason.text.clone()),
            );
            out.note(&format!(
                "{}/{env}: not applied: {}",
                customer.slug, reason.text
            ));
            marked.push(env.clone());
        }
        out.result(&if marked.is_empty() {
            "every apply that was due reported its own result".to_string()
        } else {
            format!(
                "marked `error` on {}: {}",
                payload.customer_repo,
                marked.join(", ")
            )
        });
        Ok(())
    })
}

/// `--needs` (`FLEETFORM_NEEDS`), checked before any I/O.
fn parse_needs(raw: &str) -> Result<Value> {
    if raw.len() > MAX_NEEDS {
        return Err(Error::Usage(format!(
            "--needs (FLEETFORM_NEEDS) is longer than {MAX_NEEDS} bytes"
        )));
    }
    let v: Value = serde_json::from_str(raw).map_err(|e| {
        Error::Usage(format!(
            "--needs (FLEETFORM_NEEDS) is not the JSON of `needs`: {e}"
        ))
    })?;
    if !v.is_object() {
        return Err(Error::Usage(
            "--needs (FLEETFORM_NEEDS) is not the JSON of `needs` (an object of jobs)".into(),
        ));
    }
    Ok(v)
}

/// Why an apply that was due did not finish.
#[derive(Debug, PartialEq, Eq)]
struct Unfinished {
    text: String,
    /// The job failed: its own step may have reported already.
    needs_check: bool,
}

fn job<'a>(needs: &'a Value, name: &str) -> Option<(&'a str, &'a Value)> {
    let j = needs.get(name)?;
    Some((
        j.get("result")?.as_str()?,
        j.get("outputs").unwrap_or(&Value::Null),
    ))
}

/// Whether `env`'s apply was due (its plan succeeded with changes and its
/// gates pass) and did not succeed: the reason, or `None`.
fn unfinished(needs: &Value, env: &str, envs: &[String]) -> Option<Unfinished> {
    let (plan, outputs) = job(needs, &format!("plan-{env}"))?;
    let due = plan == "success"
        && outputs.get("has_changes").and_then(Value::as_str) == Some("true")
        && outputs.get("gates_pass").and_then(Value::as_str) == Some("true");
    if !due {
        return None;
    }
    let (apply, _) = job(needs, &format!("apply-{env}")).unwrap_or(("skipped", &Value::Null));
    let earlier = envs.iter().take_while(|e| *e != env).collect::<Vec<_>>();
    let blocker = earlier.iter().rev().find(|e| {
        matches!(job(needs, &format!("apply-{e}")), Some((r, _)) if r != "success" && r != "skipped")
            || unfinished(needs, e, envs).is_some()
    });
    let (text, needs_check) = match apply {
        "success" => return None,
        "cancelled" => (
            "the apply job was cancelled: a newer push replaced it, or the run was cancelled"
                .to_string(),
            false,
        ),
        "skipped" => (
            match blocker {
                Some(e) => format!("skipped because `{e}` did not apply"),
                None => "the apply job was skipped".to_string(),
            },
            false,
        ),
        _ => (
            "the apply job failed before reporting: approval rejected or expired, or a step failed"
                .to_string(),
            true,
        ),
    };
    Some(Unfinished { text, needs_check })
}

/// Whether the apply step already set `failure` or `error` on `env`'s
/// context (1 request).
async fn already_reported(
    gh: &GitHub,
    manager: &crate::config::Manager,
    payload: &crate::dispatch::Payload,
    env: &str,
) -> Result<bool> {
    let context = format!("{}/{env}", manager.config.status_context);
    let held = gh
        .combined_status(&payload.customer_repo, &payload.sha)
        .await
        .map_err(Error::from)?;
    Ok(held
        .get("statuses")
        .and_then(Value::as_array)
        .and_then(|all| {
            all.iter()
                .find(|s| s.get("context").and_then(Value::as_str) == Some(context.as_str()))
        })
        .and_then(|s| s.get("state"))
        .and_then(Value::as_str)
        .is_some_and(|s| s == "failure" || s == "error"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envs() -> Vec<String> {
        vec!["staging".into(), "production".into()]
    }

    fn due() -> Value {
        json!({"result": "success", "outputs": {"has_changes": "true", "gates_pass": "true"}})
    }

    #[test]
    fn an_apply_that_ran_or_was_not_due_is_left_alone() {
        let needs = json!({
            "plan-staging": due(),
            "apply-staging": {"result": "success", "outputs": {}},
            "plan-production": {"result": "success", "outputs": {"has_changes": "false", "gates_pass": "true"}},
            "apply-production": {"result": "skipped", "outputs": {}},
        });
        assert_eq!(unfinished(&needs, "staging", &envs()), None);
        assert_eq!(unfinished(&needs, "production", &envs()), None);
        let blocked = json!({
            "plan-production": {"result": "success", "outputs": {"has_changes": "true", "gates_pass": "false"}},
            "apply-production": {"result": "skipped", "outputs": {}},
        });
        assert_eq!(unfinished(&blocked, "production", &envs()), None);
    }

    #[test]
    fn cancelled_skipped_and_failed_applies_that_were_due() {
        let needs = json!({
            "plan-staging": due(),
            "apply-staging": {"result": "cancelled", "outputs": {}},
            "plan-production": due(),
            "apply-production": {"result": "skipped", "outputs": {}},
        });
        let s = unfinished(&needs, "staging", &envs()).unwrap();
        assert!(s.text.contains("cancelled") && !s.needs_check, "{s:?}");
        let p = unfinished(&needs, "production", &envs()).unwrap();
        assert_eq!(p.text, "skipped because `staging` did not apply");
        let failed = json!({"plan-production": due(), "apply-production": {"result": "failure"}});
        let f = unfinished(&failed, "production", &envs()).unwrap();
        assert!(f.needs_check, "{f:?}");
    }
}
