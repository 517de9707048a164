//! The logic of `fleetform conclude`, the deploy workflow's last job: a
//! plan or an apply that was due but did not run to its end marks the
//! customer's commit `error`, with the reason.
//!
//! On every dispatch, each of the customer's environments whose plan job
//! was cancelled (GitHub replaced it in its concurrency group, or the run
//! was cancelled) or skipped is an `error`; one whose plan job failed is an
//! `error` unless the plan already reported `failure` or `error`. On a
//! `fleetform-apply` dispatch, each environment whose plan succeeded with
//! changes and passing gates and whose apply job was cancelled or skipped
//! is an `error`; one whose apply failed is an `error` unless its own step
//! already reported ([`unfinished`]). The dispatch is checked as the apply
//! checks it (registered, signed, active) before anything is written.

use std::path::Path;

use serde_json::Value;

use crate::ci::RunContext;
use crate::config::Customer;
use crate::context::Context;
use crate::dispatch::{Payload, EVENT_APPLY};
use crate::error::{Error, Result};
use crate::github::GitHub;
use crate::report::customer::{says_applied, status, Status};

use super::authorise::authorise;
use super::event::{read_event, Stage};
use super::fetch::enabled_in_order;
use super::products::{slot, slots, subscribed};
use super::record::entry;
use super::session::{runtime, status_writer};
use super::status::{status_of, Reporter};

/// What `conclude` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Concluded {
    /// The environments marked `error` on the customer's repo (none when
    /// every plan and apply that was due reported its own result).
    Marked {
        customer_repo: String,
        environments: Vec<String>,
    },
}

/// Marks each apply that was due but did not finish, from the workflow's
/// `needs` (already parsed): see the module docs for which apply counts.
pub fn conclude(needs: &Value, manager_dir: &Path, cx: &Context) -> Result<Concluded> {
    let ctx = RunContext::from_env();
    let dispatched = read_event(&ctx)?;
    // What the authorise job made of the dispatch (a push the relay sent
    // applies only on the default branch: `relayed_push`), else the
    // dispatch's own type.
    let authorised = job(needs, "authorise").and_then(|(_, o)| o.get("event_type")?.as_str());
    let applies = authorised.unwrap_or(&dispatched.event_type) == EVENT_APPLY;
    let (manager, registry) = crate::config::load(manager_dir)?;
    let rt = runtime()?;
    let permissions = super::session::access::conclude(&dispatched.payload, manager.has_products());
    let gh = status_writer(&rt, &dispatched.payload.customer_repo, permissions, cx)?;
    let payload = &dispatched.payload;
    rt.block_on(async {
        let customer = authorise(
            &registry,
            &manager,
            &gh,
            &dispatched,
            Stage::Apply,
            ctx.run_url(),
            &cx.out,
        )
        .await?;
        let reporter = Reporter::new(&gh, &manager, customer, payload, ctx.run_url());
        // With products each product × environment has its own status; a
        // products file that no longer reads leaves the environments'.
        let views = match subscribed(&gh, &manager, &dispatched, customer).await? {
            Ok(views) => views,
            Err(_) => vec![manager.clone()],
        };
        let reporter = reporter.with_slots(slots(&manager, customer, &views));
        let context = &manager.config.status_context;
        let envs = enabled_in_order(&manager, customer);
        let mut marked = Vec::new();
        for env in &envs {
            let reason = unplanned(needs, env);
            let reason =
                reason.or_else(|| applies.then(|| unfinished(needs, env, &envs)).flatten());
            let Some(reason) = reason else {
                continue;
            };
            let places = views
                .iter()
                .filter(|v| v.environment(env).is_some())
                .map(|v| slot(v.product.as_deref(), env));
            for place in places {
                if reason.needs_check && already_reported(&gh, context, payload, &place).await? {
                    continue;
                }
                mark(&reporter, customer, payload, &place, &reason, cx).await?;
                marked.push(place);
            }
        }
        Ok(Concluded::Marked {
            customer_repo: payload.customer_repo.clone(),
            environments: marked,
        })
    })
}

/// `error` on `env`'s status, an audit line and a note.
async fn mark(
    reporter: &Reporter<'_>,
    customer: &Customer,
    payload: &Payload,
    env: &str,
    reason: &Unfinished,
    cx: &Context,
) -> Result<()> {
    let (step, what) = match reason.stage {
        Stage::Plan => ("plan", "not planned"),
        Stage::Apply => ("apply", "not applied"),
    };
    let description = status(&Status::NotFinished {
        place: env,
        applying: matches!(reason.stage, Stage::Apply),
        reason: &reason.text,
    });
    reporter
        .report(env, "error", description)
        .await
        .map_err(Error::from)?;
    let result = what.replace(' ', "-");
    cx.record(entry(step, &result, &customer.slug, env, payload).detail(reason.text.clone()));
    cx.out
        .note(&format!("{}/{env}: {what}: {}", customer.slug, reason.text));
    Ok(())
}

/// Why a plan or an apply that was due did not finish.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Unfinished {
    /// The plan or the apply.
    pub stage: Stage,
    pub text: String,
    /// The job failed: its own step may have reported already.
    pub needs_check: bool,
}

/// Whether `env`'s plan job (one the workflow has) did not succeed: the
/// reason, or `None`. The plan of every enabled environment is due on
/// every dispatch, so a cancelled or skipped one never leaves the commit
/// `pending`.
pub(super) fn unplanned(needs: &Value, env: &str) -> Option<Unfinished> {
    let (plan, _) = job(needs, &format!("plan-{env}"))?;
    let (text, needs_check) = match plan {
        "success" => return None,
        "cancelled" => (
            "the plan job was cancelled: a newer plan of the same pull request or branch replaced it, or the run was cancelled",
            false,
        ),
        "skipped" => ("the plan job was skipped", false),
        _ => ("the plan job failed before reporting", true),
    };
    Some(Unfinished {
        stage: Stage::Plan,
        text: text.to_string(),
        needs_check,
    })
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
pub(super) fn unfinished(needs: &Value, env: &str, envs: &[String]) -> Option<Unfinished> {
    let (plan, outputs) = job(needs, &format!("plan-{env}"))?;
    let due = plan == "success"
        && outputs.get("has_changes").and_then(Value::as_str) == Some("true")
        && outputs.get("gates_pass").and_then(Value::as_str) == Some("true");
    if !due {
        return None;
    }
    let (apply, _) = job(needs, &format!("apply-{env}")).unwrap_or(("skipped", &Value::Null));
    let (text, needs_check) = match apply {
        "success" => return None,
        "cancelled" => (
            "the apply job was cancelled: a newer push replaced it, or the run was cancelled"
                .to_string(),
            false,
        ),
        "skipped" => (
            match blocker(needs, env, envs) {
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
    Some(Unfinished {
        stage: Stage::Apply,
        text,
        needs_check,
    })
}

/// The nearest earlier environment whose apply failed or did not finish:
/// why a later one was skipped.
fn blocker<'e>(needs: &Value, env: &str, envs: &'e [String]) -> Option<&'e String> {
    let earlier = envs.iter().take_while(|e| *e != env).collect::<Vec<_>>();
    earlier.into_iter().rev().find(|e| {
        matches!(job(needs, &format!("apply-{e}")), Some((r, _)) if r != "success" && r != "skipped")
            || unfinished(needs, e, envs).is_some()
    })
}

/// Whether the apply step already reported on `env`'s context (a slot:
/// `<env>` or `<product>/<env>`): `failure`, `error`, or with products a
/// product it applied (1 request).
async fn already_reported(
    gh: &GitHub,
    status_context: &str,
    payload: &Payload,
    env: &str,
) -> Result<bool> {
    let context = format!("{status_context}/{env}");
    let held = gh
        .combined_status(&payload.customer_repo, &payload.sha)
        .await
        .map_err(Error::from)?;
    let status = status_of(&held, &context);
    let state = status.and_then(|s| s.get("state")).and_then(Value::as_str);
    let applied = env.contains('/')
        && status
            .and_then(|s| s.get("description"))
            .and_then(Value::as_str)
            .is_some_and(|d| says_applied(d, env));
    Ok(applied || matches!(state, Some("failure" | "error")))
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

    #[test]
    fn a_skipped_apply_names_the_earlier_environment_that_did_not_apply() {
        let envs: Vec<String> = vec!["dev".into(), "staging".into(), "production".into()];
        // dev applied, staging was due and failed: production names staging.
        let needs = json!({
            "plan-dev": due(),
            "apply-dev": {"result": "success"},
            "plan-staging": due(),
            "apply-staging": {"result": "failure"},
            "plan-production": due(),
            "apply-production": {"result": "skipped"},
        });
        let p = unfinished(&needs, "production", &envs).unwrap();
        assert_eq!(p.text, "skipped because `staging` did not apply");
        // Two earlier ones did not apply: the nearest is named.
        let mut both = needs.clone();
        both["apply-dev"] = json!({"result": "cancelled"});
        let p = unfinished(&both, "production", &envs).unwrap();
        assert_eq!(p.text, "skipped because `staging` did not apply");
        let s = unfinished(&both, "staging", &envs).unwrap();
        assert!(s.needs_check, "staging's own job failed: {s:?}");
        // Nothing earlier failed: a plain skip. An apply job missing from
        // `needs` counts as skipped.
        let alone =
            json!({"plan-dev": {"result": "success", "outputs": {}}, "plan-production": due()});
        let p = unfinished(&alone, "production", &envs).unwrap();
        assert_eq!(
            (p.text.as_str(), p.needs_check),
            ("the apply job was skipped", false)
        );
        // No plan job for the environment: nothing was due.
        assert_eq!(unfinished(&json!({}), "production", &envs), None);
    }

    #[test]
    fn a_plan_that_did_not_succeed_is_concluded_on_every_dispatch() {
        let needs = json!({
            "plan-staging": {"result": "cancelled"},
            "plan-production": {"result": "skipped"},
            "plan-dev": {"result": "failure"},
            "plan-qa": due(),
        });
        let s = unplanned(&needs, "staging").unwrap();
        assert_eq!((s.stage, s.needs_check), (Stage::Plan, false));
        assert!(s.text.contains("cancelled"), "{s:?}");
        let p = unplanned(&needs, "production").unwrap();
        assert_eq!(p.text, "the plan job was skipped");
        let d = unplanned(&needs, "dev").unwrap();
        assert!(d.needs_check, "its own step may have reported: {d:?}");
        assert_eq!(unplanned(&needs, "qa"), None);
        assert_eq!(unplanned(&needs, "eu"), None, "no such job: nothing due");
    }
}
