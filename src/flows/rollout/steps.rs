//! What the rollout workflow's steps print and hand on: `status` (the
//! table, JSON, or under Actions the next stage's outputs and summary),
//! `plan`'s summary for the reviewers, and the tick's summary.

use crate::config::{Manager, Unit};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::records::Store;
use crate::report::rollout::Idle;
use crate::rollout::{self, Fleet, TickSettings};

/// `rollout plan`: the stage's plans for review, grouped in the job
/// summary, and a line per pair.
pub(super) fn plan(
    f: &Fleet<'_>,
    id: &str,
    key: &crate::dispatch::seal::ArtifactKey,
    settings: &TickSettings<'_>,
    cx: &Context,
) -> Result<()> {
    let (s, planned) = rollout::plan::plan_stage(f, id, key, settings, cx)?;
    let stage = &s.stages[s.current.min(s.stages.len().saturating_sub(1))];
    for (u, summary, _) in &planned {
        cx.out
            .result(&format!("planned {u} (sha256:{})", summary.plan_sha256));
    }
    let rows: Vec<crate::report::rollout::PlannedRow<'_>> = planned
        .iter()
        .map(|(u, summary, _)| crate::report::rollout::PlannedRow {
            pair: u.to_string(),
            summary,
        })
        .collect();
    let groups = crate::report::impact::group_plans(planned.clone());
    let auto_apply = f
        .manager
        .environment(&stage.environment)
        .is_some_and(|e| e.auto_apply);
    let md = crate::report::rollout::plan_summary(
        id,
        &stage.wave,
        &stage.environment,
        &groups,
        &rows,
        auto_apply,
    );
    let _ = crate::ci::RunContext::from_env().append_summary(&md);
    let failed = stage
        .units
        .iter()
        .filter(|u| s.failed.contains_key(u))
        .count();
    if failed > 0 {
        return Err(Error::failed(format!(
            "{} of the wave failed to plan; the plans that were made are sealed for the tick",
            crate::util::text::count(failed, "pair", "pairs")
        )));
    }
    Ok(())
}

/// The folder of a shard's work under the tick's results folder: named
/// from a digest of its pairs.
pub(super) fn shard_folder(units: &[Unit]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for u in units {
        h.update(u.to_string().as_bytes());
        h.update(b"\n");
    }
    let digest = crate::util::fs::hex(&h.finalize());
    format!("shard-{}", &digest[..12])
}

/// A shard: a JSON list of units ([`Unit::parse`], the one shard syntax).
pub(super) fn parse_units(text: &str) -> Result<Vec<Unit>> {
    let bad = |why: String| Error::usage(format!("--shard: {why}"));
    let list: Vec<String> = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    list.iter().map(|u| Unit::parse(u).map_err(bad)).collect()
}

/// The next stage's pending pairs as a job matrix of at most
/// `max_parallel` jobs ([`crate::fleet::matrix::build`]: a customer's
/// products stay in one job, so they apply in their order).
fn stage_matrix(units: &[Unit], max_parallel: usize) -> serde_json::Value {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for u in units {
        match groups.iter_mut().find(|(c, _)| *c == u.customer) {
            Some((_, list)) => list.push(u.to_string()),
            None => groups.push((u.customer.clone(), vec![u.to_string()])),
        }
    }
    let matrix = crate::fleet::matrix::build(&groups, max_parallel.clamp(1, 256));
    serde_json::to_value(&matrix).unwrap_or_else(|_| serde_json::json!({"include": []}))
}

/// The tick's step summary: a halt first, what it said (or why it was
/// refused), and each pair it applied (plan digest), failed or skipped,
/// from the events it wrote.
pub(super) fn summarise_tick(
    store: &Store,
    before: &rollout::state::State,
    lines: &[String],
    refused: Option<&Error>,
) {
    use rollout::state::Event;
    let events = rollout::state::events(store, &before.id).unwrap_or_default();
    let pairs: Vec<(String, String)> = events
        .iter()
        .skip(before.events)
        .filter_map(|e| match e {
            Event::Applied {
                unit,
                plan_sha256,
                changed,
                actor,
                unreviewed,
                ..
            } => Some((
                unit.to_string(),
                match (changed, actor.is_empty(), unreviewed) {
                    (false, _, _) => "no changes".into(),
                    (true, _, true) => {
                        format!("applied sha256:{plan_sha256} (unreviewed, by {actor})")
                    }
                    (true, true, false) => format!("applied sha256:{plan_sha256}"),
                    (true, false, false) => format!("applied sha256:{plan_sha256} (by {actor})"),
                },
            )),
            Event::Failed { unit, reason, .. } => Some((unit.to_string(), reason.clone())),
            Event::Skipped { unit, reason, .. } => {
                Some((unit.to_string(), format!("skipped: {reason}")))
            }
            _ => None,
        })
        .collect();
    let now = rollout::state::load(store, &before.id).ok();
    let halted = now.as_ref().and_then(|s| s.halted.as_deref());
    let mut lines = lines.to_vec();
    if let Some(e) = refused {
        lines.push(e.to_string());
    }
    let md = crate::report::rollout::tick_summary(&before.id, halted, &lines, &pairs);
    let _ = crate::ci::RunContext::from_env().append_summary(&md);
}

/// `rollout status`: the table, `--json`, or with `--summary` the next
/// stage as step outputs (`ready`, `environment`, `wave`, `id`, `matrix`)
/// and in the job summary.
pub fn status(
    manager: &Manager,
    store: &Store,
    id: Option<&str>,
    json: bool,
    summary: bool,
    replan: bool,
    out: &Output,
) -> Result<()> {
    let s = rollout::pick(store, id)?;
    let queued = rollout::queued_behind(store, &s)?;
    let next = rollout::next(&s, queued.as_deref(), replan);
    if summary {
        outputs(manager, &s, next.as_ref())?;
    }
    let rows = rollout::status(&s);
    if json {
        let v = serde_json::json!({
            "id": s.id,
            "manager_sha": s.manager_sha,
            "base": s.base,
            "state": rollout::describe(&s),
            "halted": s.halted,
            "queued_behind": queued,
            "rollback_of": s.rollback_of,
            "rolled_back_by": s.rolled_back_by,
            "superseded_by": s.superseded_by,
            "rolled_back": s.rollback_done,
            "finished": s.finished,
            "stages": rows,
            "next": next,
            "failed": s.failed.iter().map(|(u, r)| serde_json::json!({"unit": u, "reason": r})).collect::<Vec<_>>(),
            "skipped": s.skipped.iter().map(|(u, r)| serde_json::json!({"unit": u, "reason": r})).collect::<Vec<_>>(),
            "deployments_owed": s.owed.len(),
        });
        out.json(&v).expect("serialisable");
        return Ok(());
    }
    let note = match (&queued, &s.rollback_of) {
        (Some(ahead), _) => Some(format!("queued behind rollout {ahead}")),
        (None, Some(of)) if s.finished => Some(format!("rolled back rollout {of}")),
        (None, Some(of)) => Some(format!("rolls back rollout {of}")),
        _ => (!s.is_open()).then(|| rollout::describe(&s)),
    };
    out.result(&crate::report::rollout::table(
        &s.id,
        &rows,
        s.halted.as_deref(),
        note.as_deref(),
    ));
    if !s.owed.is_empty() {
        out.result(&format!(
            "{} on the customers' repos (GitHub's write budget): `fleetform rollout deployments` sends them",
            crate::util::text::count(s.owed.len(), "deployment owed", "deployments owed")
        ));
    }
    Ok(())
}

/// The next stage's step outputs and job summary (what the reviewer of
/// the wave reads first).
fn outputs(
    manager: &Manager,
    s: &rollout::state::State,
    next: Option<&rollout::Next>,
) -> Result<()> {
    let ctx = crate::ci::RunContext::from_env();
    let ready = next.filter(|n| n.waiting.is_none());
    let md = match (ready, next) {
        (Some(n), _) => {
            let units: Vec<String> = n.units.iter().map(|u| u.to_string()).collect();
            let auto_apply = manager
                .environment(&n.environment)
                .is_some_and(|e| e.auto_apply);
            crate::report::rollout::next_summary(
                &s.id,
                n.stage,
                &n.environment,
                &n.wave,
                &units,
                auto_apply,
            )
        }
        _ if s.halted.is_some() => crate::report::rollout::idle_summary(
            &s.id,
            Idle::Halted(s.halted.as_deref().unwrap_or_default()),
        ),
        (None, Some(n)) => crate::report::rollout::idle_summary(
            &s.id,
            Idle::Waiting(n.waiting.as_deref().unwrap_or_default()),
        ),
        (None, None) => crate::report::rollout::idle_summary(
            &s.id,
            Idle::Done(&format!("The rollout is {}", rollout::describe(s))),
        ),
    };
    let _ = ctx.append_summary(&md);
    let max_parallel = manager
        .config
        .rollout
        .as_ref()
        .map_or(1, |r| r.max_parallel);
    let matrix = ready
        .map(|n| stage_matrix(&n.units, max_parallel))
        .unwrap_or_else(|| serde_json::json!({"include": []}));
    let outputs = [
        ("matrix", matrix.to_string()),
        ("id", s.id.clone()),
        ("ready", ready.is_some().to_string()),
        (
            "environment",
            next.map(|n| n.environment.clone()).unwrap_or_default(),
        ),
        ("wave", next.map(|n| n.wave.clone()).unwrap_or_default()),
        (
            "stage",
            next.map(|n| n.stage.to_string()).unwrap_or_default(),
        ),
        (
            "waiting",
            next.and_then(|n| n.waiting.clone()).unwrap_or_default(),
        ),
    ];
    ctx.set_outputs(&outputs)
        .map_err(|e| Error::failed(format!("writing GITHUB_OUTPUT: {e}")))
}
