//! `fleetform rollout deployments`, and a tick run by hand: the GitHub
//! deployments rollouts owe (their writes did not fit GitHub's write budget
//! when the pairs were applied) sent, oldest first.

use std::path::Path;

use serde_json::json;

use crate::context::Context;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::records::Store;
use crate::rollout::owed::{send_owed, OwedReport};
use crate::util::text::count;

use crate::flows::github_loop::deployments::Deployments;

/// `rollout deployments`, checked.
pub struct Settings<'a> {
    /// The one rollout whose deployments to send (checked: it exists).
    pub only: Option<String>,
    pub deadline: Option<u64>,
    pub write_log: Option<&'a Path>,
    pub json: bool,
}

impl<'a> Settings<'a> {
    /// `id`: only this rollout's (it must exist).
    pub fn resolve(
        store: &Store,
        id: Option<&str>,
        deadline: Option<u64>,
        write_log: Option<&'a Path>,
        json: bool,
    ) -> Result<Settings<'a>> {
        let only = match id {
            Some(id) => Some(crate::rollout::pick(store, Some(id))?.id),
            None => None,
        };
        Ok(Settings {
            only,
            deadline,
            write_log,
            json,
        })
    }
}

/// Sends what is owed; says what was sent and what is still owed (exit 0:
/// what did not fit is for the next run). Owed deployments and no token
/// is a usage error.
pub fn run(store: &Store, how: &Settings<'_>, cx: &Context) -> Result<()> {
    let only = how.only.as_deref();
    let client = Deployments::try_from_env("", cx).map_err(Error::from)?;
    let Some(d) = client else {
        return no_token(store, only, how.json, &cx.out);
    };
    let d = d.with_deadline(how.deadline).keep_writes_in(how.write_log);
    if let Some(log) = how.write_log {
        match crate::github::write_log::read(log) {
            Ok(times) => d.count_earlier_writes(times),
            Err(note) => cx.out.note(&note),
        }
    }
    let report = send_owed(store, &d, only, cx)?;
    if let Some(log) = how.write_log {
        crate::github::write_log::write(log, &d.writes_of_the_hour())
            .map_err(|e| Error::failed(format!("writing the write log {}: {e}", log.display())))?;
    }
    say(&report, how.json, &cx.out)
}

/// A tick run by hand sends what earlier ticks owe before its own applies
/// (a shard of a stage leaves them: shards run side by side).
pub(super) fn before_tick(store: &Store, d: &Deployments<'_>, cx: &Context) -> Result<()> {
    let report = send_owed(store, d, None, cx)?;
    if report.sent > 0 || report.owed > 0 {
        cx.out.result(&line(&report));
    }
    Ok(())
}

/// Without a token: nothing owed is fine, else say what is needed.
fn no_token(store: &Store, only: Option<&str>, json: bool, out: &Output) -> Result<()> {
    let owed: usize = match only {
        Some(id) => crate::rollout::pick(store, Some(id))?.owed.len(),
        None => crate::rollout::start::every_rollout(store)?
            .iter()
            .map(|s| s.owed.len())
            .sum(),
    };
    if owed == 0 {
        return say(&OwedReport::default(), json, out);
    }
    Err(Error::usage(format!(
        "{} owed and no credential to send them: set the customer App's FLEETFORM_CUSTOMER_APP_ID and FLEETFORM_CUSTOMER_APP_PRIVATE_KEY (each repository's token asks `deployments: write` alone), or FLEETFORM_TOKEN to a token with `deployments: write` on the customer repos",
        count(owed, "deployment is", "deployments are")
    )))
}

fn line(report: &OwedReport) -> String {
    let mut line = format!(
        "owed deployments: {} sent",
        count(report.sent, "deployment", "deployments")
    );
    if !report.dropped.is_empty() {
        line.push_str(&format!(", {} dropped", report.dropped.len()));
    }
    match (report.owed, report.deferred) {
        (0, _) => line.push_str(", none owed"),
        (n, true) => line.push_str(&format!(
            ", {n} still owed (GitHub's write budget; the next run goes on)"
        )),
        (n, false) => line.push_str(&format!(
            ", {n} still owed ({} not sent: see the notes above)",
            report.not_sent
        )),
    }
    line
}

fn say(report: &OwedReport, json: bool, out: &Output) -> Result<()> {
    let text = line(report);
    let _ = crate::ci::RunContext::from_env().append_summary(&format!(
        "### fleetform rollout deployments\n\n{}\n",
        crate::report::markdown::md_escape(&text)
    ));
    if json {
        let dropped: Vec<_> = report
            .dropped
            .iter()
            .map(|(rollout, pair, why)| json!({"rollout": rollout, "pair": pair, "reason": why}))
            .collect();
        let value = json!({
            "sent": report.sent,
            "owed": report.owed,
            "deferred": report.deferred,
            "not_sent": report.not_sent,
            "dropped": dropped,
        });
        return out.json(&value).map_err(|e| Error::failed(e.to_string()));
    }
    out.result(&text);
    Ok(())
}
