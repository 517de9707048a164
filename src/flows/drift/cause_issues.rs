//! The manager repo's cause issues: one per cause of drift that reached
//! `drift.cause_issues` customers (label `fleetform-drift-cause`, found by
//! a hidden marker), linking the customers' own drift issues; updated when
//! what it says changes, closed with a note once no pair of the fleet has
//! the cause (only a run over the whole fleet knows). Through the same
//! client as the customers' issues: its request scheduler and the hour's
//! write budget; what does not fit is deferred to the next run.
//! Requests per run: 1 per 100 open cause issues (listing; none when the
//! run found no cause and covers part of the fleet), plus per cause at
//! most 1 (open or update; 0 when unchanged) or 3 (close: its comments,
//! the note, the state).

use crate::ci::RunContext;
use crate::error::{Error, Result};
use crate::github::{GitHub, GitHubError, Issue};
use crate::report::drift::Report;
use crate::report::drift_causes::{
    gone_note, is_gone_note, issue_body, issue_title, marked_cause, Cause,
};

use super::Clients;

pub const CAUSE_LABEL: &str = "fleetform-drift-cause";

/// One write, in the order they are made: new causes, then closes, then
/// updates.
enum Write {
    Open(usize),
    Close(String, u64),
    Update(usize, u64),
}

impl Write {
    fn describe(&self, causes: &[Cause]) -> String {
        match self {
            Write::Open(i) => format!("cause {}: open", causes[*i].id),
            Write::Close(id, _) => format!("cause {id}: close"),
            Write::Update(i, _) => format!("cause {}: update", causes[*i].id),
        }
    }
}

/// The writes the causes call for: an issue for each cause at or over
/// `threshold` customers that has none (or says something else), and, on
/// a run over the whole fleet, a close for each open issue of a cause no
/// pair has any more.
fn plan_writes(
    open: &[Issue],
    causes: &mut [Cause],
    threshold: usize,
    whole_fleet: bool,
    url: &dyn Fn(u64) -> String,
    issues: &std::collections::BTreeMap<String, String>,
) -> Vec<Write> {
    // By the id its marker holds, decoded: an issue whose marker an older
    // release wrote without encoding is still found.
    let find = |id: &str| {
        open.iter()
            .find(|i| marked_cause(&i.body).as_deref() == Some(id))
    };
    let (mut opens, mut updates) = (Vec::new(), Vec::new());
    for (i, c) in causes.iter_mut().enumerate() {
        let existing = find(&c.id);
        if let Some(issue) = existing {
            // An issue stays while the cause lasts, under the threshold too.
            c.issue = Some(url(issue.number));
            if issue.body != issue_body(c, issues) {
                updates.push(Write::Update(i, issue.number));
            }
        } else if threshold > 0 && c.customers >= threshold {
            opens.push(Write::Open(i));
        }
    }
    let mut closes = Vec::new();
    for issue in open.iter().filter(|_| whole_fleet) {
        if let Some(id) = marked_cause(&issue.body) {
            if !causes.iter().any(|c| c.id == id) {
                closes.push(Write::Close(id, issue.number));
            }
        }
    }
    opens.into_iter().chain(closes).chain(updates).collect()
}

/// Makes one write; returns the number of an issue it opened.
async fn write(
    gh: &GitHub,
    repo: &str,
    w: &Write,
    causes: &[Cause],
    issues: &std::collections::BTreeMap<String, String>,
    run_url: Option<&str>,
) -> std::result::Result<Option<u64>, GitHubError> {
    match w {
        Write::Open(i) => {
            let c = &causes[*i];
            gh.create_issue(
                repo,
                &issue_title(c),
                &issue_body(c, issues),
                &[CAUSE_LABEL],
            )
            .await
        }
        Write::Update(i, n) => {
            let body = issue_body(&causes[*i], issues);
            gh.update_issue(repo, *n, (None, Some(&body)), None)
                .await
                .map(|()| None)
        }
        Write::Close(_, n) => {
            // The note is not written twice (a run whose close was deferred
            // after its note).
            let comments = gh.list_comments(repo, *n).await?;
            if !comments.last().is_some_and(|c| is_gone_note(&c.body)) {
                gh.create_comment(repo, *n, &gone_note(run_url)).await?;
            }
            gh.update_issue(repo, *n, (None, None), Some("closed"))
                .await
                .map(|()| None)
        }
    }
}

/// Keeps the cause issues in step with the report's causes; fills in each
/// cause's issue, the writes deferred and those that failed.
pub(super) fn keep(
    clients: &Clients,
    repo: &str,
    report: &mut Report,
    ctx: &RunContext,
    (threshold, whole_fleet): (usize, bool),
) -> Result<()> {
    let gh = clients
        .issues
        .as_ref()
        .ok_or_else(|| Error::usage("--issues needs a token"))?;
    let server = ctx.server_url.trim_end_matches('/').to_string();
    let url = |n: u64| format!("{server}/{repo}/issues/{n}");
    let run_url = ctx.run_url();
    // Nothing to open, update or close: no request.
    if report.causes.is_empty() && !whole_fleet {
        return Ok(());
    }
    clients.rt.block_on(async {
        let open = match gh.list_open_issues(repo, CAUSE_LABEL).await {
            Ok(open) => open,
            // Past a limit answer the listing waits for a later run too.
            Err(GitHubError::Deferred { .. }) => {
                report.deferred.push("cause issues: list".into());
                return Ok(());
            }
            Err(e) => return Err(Error::failed(e.to_string())),
        };
        let issues = report.issues.clone();
        let writes = plan_writes(
            &open,
            &mut report.causes,
            threshold,
            whole_fleet,
            &url,
            &issues,
        );
        let mut deferred = false;
        for w in &writes {
            if deferred {
                report.deferred.push(w.describe(&report.causes));
                continue;
            }
            match write(gh, repo, w, &report.causes, &issues, run_url.as_deref()).await {
                Ok(Some(n)) => {
                    if let Write::Open(i) = w {
                        report.causes[*i].issue = Some(url(n));
                    }
                }
                Ok(None) => {}
                Err(GitHubError::Deferred { .. }) => {
                    deferred = true;
                    report.deferred.push(w.describe(&report.causes));
                }
                Err(e) => report
                    .issue_errors
                    .push(format!("{}: {e}", w.describe(&report.causes))),
            }
        }
        Ok::<(), Error>(())
    })
}
