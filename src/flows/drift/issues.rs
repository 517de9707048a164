//! The drift issues in the manager repo: one per drifted customer, opened
//! or updated, closed with a note once its drift is gone, within the
//! hour's write budget (new drift first, then closes, then updates; what
//! does not fit is deferred to the next run).

use std::collections::BTreeMap;

use crate::ci::RunContext;
use crate::config::Activity;
use crate::config::Registry;
use crate::error::{Error, Result};
use crate::fleet::Row;
use crate::github::{GitHub, GitHubError, Issue};
use crate::output::Output;
use crate::report::drift::{gone_note, issue_body, issue_title, marker, retired_note, Report};

use super::{Clients, Settings, LABEL};

/// The sticky drift issues in the manager repo: one per drifted customer,
/// opened or updated; closed with a note for customers this run checked
/// clean.
struct Issues<'a> {
    gh: &'a GitHub,
    repo: &'a str,
    open: Vec<Issue>,
    run_url: Option<String>,
}

/// One issue write, in the order they are made: new drift first, then
/// closes of drift that is gone, then updates of issues already open (the
/// order GitHub's write budget is spent in; what does not fit is deferred).
enum Write<'r> {
    Open(&'r str, Vec<&'r Row>),
    Close(&'r str, u64),
    /// The issue of a customer the registry no longer has active.
    Retire(String, u64),
    Update(&'r str, u64, Vec<&'r Row>),
}

impl Write<'_> {
    fn rank(&self) -> u8 {
        match self {
            Write::Open(..) => 0,
            Write::Close(..) | Write::Retire(..) => 1,
            Write::Update(..) => 2,
        }
    }

    fn customer(&self) -> &str {
        match self {
            Write::Open(c, _) | Write::Close(c, _) | Write::Update(c, ..) => c,
            Write::Retire(c, _) => c,
        }
    }

    fn describe(&self) -> String {
        let c = self.customer();
        match self {
            Write::Open(..) => format!("{c}: open"),
            Write::Close(..) | Write::Retire(..) => format!("{c}: close"),
            Write::Update(..) => format!("{c}: update"),
        }
    }
}

impl Issues<'_> {
    fn find(&self, customer: &str) -> Option<&Issue> {
        self.open
            .iter()
            .find(|i| i.body.contains(&marker(customer)))
    }

    /// Makes one write; returns the issue's number when known.
    async fn write(&self, w: &Write<'_>) -> std::result::Result<Option<u64>, GitHubError> {
        match w {
            Write::Open(customer, rows) => {
                let body = issue_body(customer, rows, self.run_url.as_deref());
                let title = issue_title(customer, rows);
                self.gh
                    .create_issue(self.repo, &title, &body, &[LABEL])
                    .await
            }
            Write::Update(customer, n, rows) => {
                let body = issue_body(customer, rows, self.run_url.as_deref());
                let title = issue_title(customer, rows);
                let r = self
                    .gh
                    .update_issue(self.repo, *n, (Some(&title), Some(&body)), None);
                r.await.map(|()| Some(*n))
            }
            Write::Close(customer, n) => {
                let note = gone_note(customer, self.run_url.as_deref());
                self.close(*n, &note, &|c| {
                    crate::report::drift::is_gone_note(c, customer)
                })
                .await
            }
            Write::Retire(customer, n) => {
                let note = retired_note(customer);
                self.close(*n, &note, &|c| c == note).await
            }
        }
    }

    /// Closes issue `n` with `note`, unless its last comment is that note
    /// already (a run whose close was deferred after its note): the note
    /// is not written twice.
    async fn close(
        &self,
        n: u64,
        note: &str,
        noted: &(dyn Fn(&str) -> bool + Sync),
    ) -> std::result::Result<Option<u64>, GitHubError> {
        let comments = self.gh.list_comments(self.repo, n).await?;
        if !comments.last().is_some_and(|c| noted(&c.body)) {
            self.gh.create_comment(self.repo, n, note).await?;
        }
        let r = self
            .gh
            .update_issue(self.repo, n, (None, None), Some("closed"));
        r.await.map(|()| None)
    }
}

/// The writes the report calls for, in order, and the issues of drifted
/// customers whose body is unchanged (no write).
fn plan_writes<'r>(
    issues: &Issues<'_>,
    by_customer: &BTreeMap<&'r str, Vec<&'r Row>>,
    clean: impl Iterator<Item = &'r str>,
    gone: Option<&dyn Fn(&str) -> bool>,
) -> (Vec<Write<'r>>, BTreeMap<String, u64>) {
    let mut writes = Vec::new();
    let mut unchanged = BTreeMap::new();
    for (customer, rows) in by_customer {
        match issues.find(customer) {
            None => writes.push(Write::Open(customer, rows.clone())),
            Some(i) if crate::report::drift::same_drift(&i.body, customer, rows) => {
                unchanged.insert(customer.to_string(), i.number);
            }
            Some(i) => writes.push(Write::Update(customer, i.number, rows.clone())),
        }
    }
    for customer in clean {
        if let Some(i) = issues.find(customer) {
            writes.push(Write::Close(customer, i.number));
        }
    }
    // A run over the whole fleet closes the issues of customers the
    // registry no longer has active (revoked, offboarded, removed).
    for i in gone.map(|_| &issues.open).into_iter().flatten() {
        let customer = crate::report::drift::marked_customer(&i.body);
        let retired = customer.filter(|c| gone.is_some_and(|g| g(c)));
        if let Some(c) = retired.filter(|c| !by_customer.contains_key(c)) {
            writes.push(Write::Retire(c.to_string(), i.number));
        }
    }
    writes.sort_by_key(Write::rank);
    (writes, unchanged)
}

/// Keeps the drift issues in step with the report: fills in each drifted
/// customer's issue URL and the writes deferred to the next run.
fn sticky_issues(
    clients: &Clients,
    repo: &str,
    report: &mut Report,
    ctx: &RunContext,
    gone: Option<&dyn Fn(&str) -> bool>,
) -> Result<()> {
    let gh = clients
        .issues
        .as_ref()
        .ok_or_else(|| Error::usage("--issues needs a token"))?;
    let failed = |e: GitHubError| Error::failed(e.to_string());
    let (links, deferred, errors) = clients.rt.block_on(async {
        let open = gh.list_open_issues(repo, LABEL).await.map_err(failed)?;
        let issues = Issues {
            gh,
            repo,
            open,
            run_url: ctx.run_url(),
        };
        let mut by_customer: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
        for r in report.changed() {
            by_customer.entry(r.customer.as_str()).or_default().push(r);
        }
        // Close the issues of customers checked clean in this run.
        let clean = report.clean_customers();
        let (writes, mut numbers) = plan_writes(&issues, &by_customer, clean.into_iter(), gone);
        let (mut deferred, mut errors) = (Vec::new(), Vec::new());
        for w in &writes {
            if !deferred.is_empty() {
                deferred.push(w.describe());
                continue;
            }
            match issues.write(w).await {
                Ok(Some(n)) => {
                    numbers.insert(w.customer().to_string(), n);
                }
                Ok(_) => {}
                Err(GitHubError::Deferred { .. }) => deferred.push(w.describe()),
                // One customer's failed write does not stop the others'.
                Err(e) => errors.push(format!("{}: {e}", w.describe())),
            }
        }
        let server = ctx.server_url.trim_end_matches('/').to_string();
        let links: BTreeMap<String, String> = numbers
            .into_iter()
            .map(|(c, n)| (c, format!("{server}/{repo}/issues/{n}")))
            .collect();
        Ok::<_, Error>((links, deferred, errors))
    })?;
    report.issues = links;
    report.deferred = deferred;
    report.issue_errors = errors;
    Ok(())
}

/// The drift issues and the cause issues, within the hour's write budget
/// (kept in the write log between runs).
pub(super) fn keep(
    (settings, registry, cause_threshold): (&Settings, &Registry, usize),
    clients: &Clients,
    report: &mut Report,
    ctx: &RunContext,
    out: &Output,
) -> Result<()> {
    let repo = settings.manager_repo.as_deref().expect("clap requires it");
    let gh = clients.issues.as_ref();
    if let (Some(gh), Some(log)) = (gh, &settings.write_log) {
        if let Err(note) = crate::github::write_log::read(log).map(|t| gh.count_earlier_writes(t)) {
            out.note(&note);
        }
    }
    // Only a run over every customer knows which issues are of customers
    // no longer checked.
    let inactive = |c: &str| {
        !registry
            .get(c)
            .is_some_and(|r| r.takes_part(Activity::Drift))
    };
    let whole_fleet = settings.customers.is_none();
    let gone = whole_fleet.then_some(&inactive as &dyn Fn(&str) -> bool);
    // Then the cause issues, which link the customers' issues; the same
    // client, so the same write budget and write log.
    let made = sticky_issues(clients, repo, report, ctx, gone).and_then(|()| {
        let whole = super::causes::whole_fleet(settings);
        super::cause_issues::keep(clients, repo, report, ctx, (cause_threshold, whole))
    });
    if let (Some(gh), Some(log)) = (gh, &settings.write_log) {
        crate::github::write_log::write(log, &gh.writes_of_the_hour())
            .map_err(|e| Error::failed(format!("writing the write log {}: {e}", log.display())))?;
    }
    made
}
