//! The audit log: one JSON line per trigger, plan, apply, refusal, waiver or
//! registry change, appended to a file (the workflows upload it as an
//! artifact). Lines are written with one `write` on a file opened for
//! append, so concurrent writers never interleave within a line.

use std::io::{BufRead as _, Read as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Default log path, relative to the manager repo.
mod log;
pub use log::{append, log_path, KeepError, Log};

pub const DEFAULT_LOG: &str = ".fleetform/audit.jsonl";

/// One audit record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// RFC 3339 UTC.
    pub time: String,
    /// trigger, plan, apply, refusal, registry, waiver, drift, sync.
    pub action: String,
    /// Who: `GITHUB_ACTOR` under Actions, else the local user.
    pub actor: String,
    /// Who started the run when it differs (`GITHUB_TRIGGERING_ACTOR`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triggering_actor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// The product, for a manager with `products:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_sha256: Option<String>,
    /// ok, changes, no-changes, failed, refused, ...
    pub result: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatch_id: Option<String>,
    /// A short human note (never values or secrets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The cloud identity the job ran as (a role ARN; not a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// Who approved this plan on the pull request (fleetform.yml's
    /// `approvals:`), oldest approval first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvers: Vec<String>,
    /// How an apply was let through: `approved`, `automatic` or `local`
    /// (see [`Approval`]); absent on other events and on older records,
    /// whose approval [`apply_of`] infers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
    /// Why, as the operator gave it (`--reason` of a day-2 operation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// GitHub's own times this event is measured by against `sla:`
    /// (absent on other events and on older records).
    #[serde(default, skip_serializing_if = "Times::is_empty")]
    pub times: Times,
}

/// The times of a plan or an apply as GitHub stamped them (RFC 3339), never
/// the runner's clock: what `fleetform report sla` measures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Times {
    /// When the customer's event asked: for a plan the relay carried, the
    /// customer job's OIDC token time (see `event_from`); else when GitHub
    /// made the run for it, the workflow run's `created_at` (a plan's
    /// dispatch arriving; an apply's go-ahead, a merge or `/fleetform
    /// apply`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// Which time `event` is, for a plan: `token` when the relay carried
    /// the customer job's OIDC token time (its `iat`, GitHub's signed time
    /// of when the job the customer's event started asked the relay), else
    /// `event` when the relay carried GitHub's own time of the event (a
    /// signed webhook delivery's: a push's `pushed_at`, a pull request's
    /// `updated_at`, a comment's `created_at`; or a pull request's
    /// `updated_at` that `poll` listed), else `run` (the manager run's
    /// `created_at`). Absent on older records and applies: `run`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_from: Option<String>,
    /// When the plan comment on the customer's pull request was written:
    /// its `updated_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// When the apply was approved, which `apply_within` counts from: the
    /// approval that completed `approvals:` (a review's `submitted_at`, a
    /// comment's `created_at`; the go-ahead if later), else, with reviewers
    /// on the environment, when GitHub wrote the apply deployment's
    /// `in_progress` status (the job runs only once approved), else (no
    /// approval) the go-ahead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
    /// When the apply ended: its final deployment status's `created_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply: Option<String>,
}

impl Times {
    pub fn is_empty(&self) -> bool {
        *self == Times::default()
    }
}

impl Entry {
    /// A record stamped with the time, actor and run from the environment.
    pub fn now(action: &str, result: &str) -> Entry {
        let ctx = crate::ci::RunContext::from_env();
        Entry {
            time: rfc3339_now(),
            action: action.into(),
            actor: crate::ci::actor(),
            triggering_actor: std::env::var("GITHUB_TRIGGERING_ACTOR")
                .ok()
                .filter(|t| Some(t) != ctx.actor.as_ref() && !t.is_empty()),
            run_url: ctx.run_url(),
            result: result.into(),
            ..Entry::default()
        }
    }

    /// The reviewer who approved an apply is its actor; whoever started
    /// the run (the dispatcher) is kept as the triggering actor.
    pub fn approved_by(mut self, approver: Option<&str>) -> Self {
        if let Some(a) = approver {
            if !a.eq_ignore_ascii_case(&self.actor) {
                if self.triggering_actor.is_none() {
                    self.triggering_actor = Some(std::mem::take(&mut self.actor));
                }
                self.actor = a.to_string();
            }
        }
        self
    }
    pub fn customer(mut self, c: &str) -> Self {
        self.customer = Some(c.into());
        self
    }
    pub fn environment(mut self, e: &str) -> Self {
        self.environment = Some(e.into());
        self
    }
    pub fn product(mut self, p: Option<&str>) -> Self {
        self.product = p.map(str::to_string);
        self
    }
    /// Customer, product and environment of a unit.
    pub fn unit(self, u: &crate::config::Unit) -> Self {
        self.customer(&u.customer)
            .product(u.product.as_deref())
            .environment(&u.environment)
    }
    pub fn sha(mut self, s: Option<&str>) -> Self {
        self.sha = s.map(str::to_string);
        self
    }
    pub fn plan(mut self, digest: Option<&str>) -> Self {
        self.plan_sha256 = digest.map(str::to_string);
        self
    }
    pub fn dispatch(mut self, id: Option<&str>) -> Self {
        self.dispatch_id = id.map(str::to_string);
        self
    }
    pub fn identity(mut self, role: Option<&str>) -> Self {
        self.identity = role.map(str::to_string);
        self
    }
    pub fn approvers(mut self, logins: &[String]) -> Self {
        self.approvers = logins.to_vec();
        self
    }
    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = Some(d.into());
        self
    }
    /// How this apply was let through.
    pub fn approval(mut self, a: Approval) -> Self {
        self.approval = Some(a.as_str().to_string());
        self
    }
    pub fn reason(mut self, r: &str) -> Self {
        self.reason = Some(r.into());
        self
    }
    /// GitHub's times of this plan or apply.
    pub fn times(mut self, t: Times) -> Self {
        self.times = t;
        self
    }
}

/// How an apply was let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Approval {
    /// Someone approved it: approvals on the pull request, or a reviewer
    /// of the run's deployment other than who started it.
    Approved,
    /// On GitHub Actions, where the environment needs no approval
    /// (`auto_apply: true`).
    Automatic,
    /// Run by hand outside GitHub Actions (`fleetform apply`, a tick on a
    /// workstation): nobody approved it in fleetform.
    Local,
    /// Run by hand outside GitHub Actions with `--unreviewed`: a change
    /// that otherwise needs a second person, made by one.
    Unreviewed,
}

impl Approval {
    pub fn as_str(self) -> &'static str {
        match self {
            Approval::Approved => "approved",
            Approval::Automatic => "automatic",
            Approval::Local => "local",
            Approval::Unreviewed => "unreviewed",
        }
    }
    fn parse(s: &str) -> Option<Approval> {
        [
            Approval::Approved,
            Approval::Automatic,
            Approval::Local,
            Approval::Unreviewed,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
}

/// What started an apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// A customer's dispatch (`apply --dispatch`): any apply on GitHub
    /// Actions outside a rollout.
    Dispatch,
    /// A rollout's tick.
    Rollout,
    /// A rollback (a rollout of the base, or an older rollback event).
    Rollback,
    /// `fleetform apply` run by hand, outside GitHub Actions.
    Local,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Dispatch => "dispatch",
            Trigger::Rollout => "rollout",
            Trigger::Rollback => "rollback",
            Trigger::Local => "local",
        }
    }
}

/// One apply, as every count reads it (see [`apply_of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Apply {
    /// Applied (`true`) or failed while applying.
    pub ok: bool,
    pub trigger: Trigger,
    pub approval: Approval,
}

/// Whether a rollout's failed pair's reason is an apply's failure (not a
/// plan, a gate or a missing reviewed plan, where nothing was applied).
pub fn is_apply_failure(reason: &str) -> bool {
    reason.starts_with("apply:") || reason.starts_with("applied, but")
}

/// The one definition of "an apply", used by the audit report, the
/// compliance evidence and the dashboard: a customer's dispatch, a
/// rollout's tick, a rollback or an adoption (`adopt`, which imports)
/// that ran `terraform apply`, whether it applied or failed. A plan, a gate or a missing review that stopped a
/// pair before anything was applied is not an apply, nor is a rollout's
/// pair with no changes.
///
/// Records written before rollouts wrote `apply` lines count too: a
/// rollout's `applied` (with changes), `rolled-back` and
/// `rollback-failed`, and a rollout's `failed` whose reason is the
/// apply's.
pub fn apply_of(e: &Entry) -> Option<Apply> {
    let detail = e.detail.as_deref().unwrap_or_default();
    let ok = match (e.action.as_str(), e.result.as_str()) {
        ("apply", "ok") => true,
        ("apply", "failed") => false,
        ("adopt", "ok") => true,
        ("adopt", "failed") => false,
        ("rollout", "applied") if detail.ends_with(": applied") => true,
        ("rollout", "rolled-back") => true,
        ("rollout", "rollback-failed") => false,
        ("rollout", "failed") => {
            let reason = detail.split_once(": ").map(|(_, r)| r).unwrap_or_default();
            if is_apply_failure(reason) {
                false
            } else {
                return None;
            }
        }
        _ => return None,
    };
    let trigger = if e.action == "rollout" && e.result.starts_with("roll")
        || detail.starts_with("rollback")
    {
        Trigger::Rollback
    } else if e.action == "rollout" || detail.starts_with("rollout ") {
        Trigger::Rollout
    } else if e.dispatch_id.is_some() || e.run_url.is_some() {
        // On GitHub Actions an apply outside a rollout is a dispatch's.
        Trigger::Dispatch
    } else {
        Trigger::Local
    };
    let approval =
        e.approval
            .as_deref()
            .and_then(Approval::parse)
            .unwrap_or(if e.run_url.is_none() {
                Approval::Local
            } else if !e.approvers.is_empty() || e.triggering_actor.is_some() {
                Approval::Approved
            } else {
                Approval::Automatic
            });
    Some(Apply {
        ok,
        trigger,
        approval,
    })
}

/// Longest audit line read, in bytes. fleetform writes lines of a few
/// hundred bytes; a longer one is damage, and reading stops at this bound
/// instead of holding the rest of the file.
pub const MAX_LINE: usize = 64 * 1024;

/// Why the audit log could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: not an audit record: {message}", path.display())]
    Damaged {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Reads the log at `path` one record at a time, handing each to `each`
/// (memory holds one line, whatever the size of the log). A missing log
/// has no records; a damaged line is an error naming its number. Returns
/// how many records were read.
pub fn read_each(path: &Path, mut each: impl FnMut(Entry)) -> Result<usize, ReadError> {
    read_each_line(path, |e, _| each(e))
}

/// Reads records from `reader` (shown as `path` in errors), one line at a
/// time, each at most [`MAX_LINE`] bytes; blank lines are skipped.
pub fn read_records(
    reader: impl std::io::BufRead,
    path: &Path,
    mut each: impl FnMut(Entry),
) -> Result<usize, ReadError> {
    read_lines(reader, path, |e, _| each(e))
}

/// Reads the log at `path` like [`read_each`], handing each record with
/// the bytes of its line (without the newline), which the compliance
/// report digests.
pub fn read_each_line(path: &Path, each: impl FnMut(Entry, &[u8])) -> Result<usize, ReadError> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(source) => {
            return Err(ReadError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    read_lines(std::io::BufReader::new(file), path, each)
}

/// [`read_records`] with each record's line.
pub fn read_lines(
    mut reader: impl std::io::BufRead,
    path: &Path,
    mut each: impl FnMut(Entry, &[u8]),
) -> Result<usize, ReadError> {
    let damaged = |line: usize, message: String| ReadError::Damaged {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut buf = Vec::new();
    let mut count = 0;
    for line in 1.. {
        buf.clear();
        let limit = u64::try_from(MAX_LINE).unwrap_or(u64::MAX) + 1;
        let n = (&mut reader)
            .take(limit)
            .read_until(b'\n', &mut buf)
            .map_err(|source| ReadError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        if n == 0 {
            break;
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
        } else if buf.len() > MAX_LINE {
            return Err(damaged(
                line,
                format!("the line is longer than {MAX_LINE} bytes"),
            ));
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let entry = serde_json::from_slice(&buf).map_err(|e| damaged(line, e.to_string()))?;
        each(entry, &buf);
        count += 1;
    }
    Ok(count)
}

/// Every audit record in the records store with its bytes and key,
/// oldest first, each once: from the compacted segments
/// (`records::segments`, kept in the cache folder `cache`) and the events
/// written since, one object each; days outside `since`..`until` are not
/// read (nor listed, when the period lies in one year or month). The error
/// names the store and the key.
pub fn read_store(
    store: &crate::records::Store,
    since: Option<&str>,
    until: Option<&str>,
    cache: Option<&Path>,
    mut each: impl FnMut(Entry, Vec<u8>, String),
) -> Result<(), String> {
    let failed = |e: crate::records::RecordsError| format!("{}: {e}", store.describe());
    // `audit/YYYY/MM/DD/...`: a day outside the period's days holds nothing in it.
    let day_of = |t: &str| t.get(..10).map(|d| d.replace('-', "/"));
    let (since_day, until_day) = (since.and_then(day_of), until.and_then(day_of));
    let prefix = audit_prefix(since_day.as_deref(), until_day.as_deref());
    let days = (since_day.as_deref(), until_day.as_deref());
    crate::records::segments::read_audit(store, days, &prefix, cache, |key, bytes| {
        let entry: Entry =
            serde_json::from_slice(&bytes).map_err(|e| crate::records::RecordsError::Io {
                what: "reading",
                key: key.to_string(),
                reason: format!("not an audit record: {e}"),
            })?;
        each(entry, bytes, key.to_string());
        Ok(())
    })
    .map_err(failed)
}

/// The folder that holds every audit record of the days `since`..`until`
/// (`YYYY/MM/DD`): the year or month both fall in, else `audit/`.
fn audit_prefix(since: Option<&str>, until: Option<&str>) -> String {
    let (Some(a), Some(b)) = (since, until) else {
        return "audit/".into();
    };
    let common = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    // Whole `YYYY/` or `YYYY/MM/` only: `2026/1` would also hold October.
    let folder = match a.get(..common).and_then(|c| c.rfind('/')) {
        Some(end) if a.len() == 10 && b.len() == 10 => &a[..=end],
        _ => "",
    };
    format!("audit/{folder}")
}

/// Reads every record into memory (tests and small logs; the report
/// streams with [`read_each`]).
pub fn read(path: &Path) -> Result<Vec<Entry>, ReadError> {
    let mut out = Vec::new();
    read_each(path, |e| out.push(e))?;
    Ok(out)
}

/// The current time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339_now() -> String {
    rfc3339(now_secs())
}

pub fn now_unix() -> u64 {
    now_secs()
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Formats Unix seconds as RFC 3339 UTC (whole seconds, `Z`).
pub fn rfc3339(secs: u64) -> String {
    utc(secs).strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Today as `YYYY-MM-DD` (UTC).
pub fn today() -> String {
    utc(now_secs()).strftime("%Y-%m-%d").to_string()
}

/// Unix seconds as a UTC timestamp (past jiff's range: its maximum).
fn utc(secs: u64) -> jiff::Timestamp {
    i64::try_from(secs)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .unwrap_or(jiff::Timestamp::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_000_000), "2026-11-18T11:06:40Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn append_and_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/audit.jsonl");
        let e = Entry {
            time: rfc3339(0),
            action: "plan".into(),
            actor: "me".into(),
            result: "ok".into(),
            ..Entry::default()
        };
        append(&p, &e).unwrap();
        append(&p, &e).unwrap();
        assert_eq!(read(&p).unwrap(), vec![e.clone(), e]);
    }

    /// Lines are read one at a time, blank ones skipped, a damaged or
    /// overlong one reported with its number; the reader never holds more
    /// than one line.
    #[test]
    fn records_stream_and_damage_is_located() {
        let line = r#"{"time":"t","action":"plan","actor":"a","result":"ok"}"#;
        let text = format!("{line}\n\n  \n{line}");
        let mut n = 0;
        let count = read_records(text.as_bytes(), Path::new("a.jsonl"), |_| n += 1).unwrap();
        assert_eq!((count, n), (2, 2));
        let bad = format!("{line}\n{{\"time\": 1}}\n");
        let e = read_records(bad.as_bytes(), Path::new("a.jsonl"), |_| {}).unwrap_err();
        assert!(
            e.to_string().starts_with("a.jsonl:2: not an audit record"),
            "{e}"
        );
        let long = format!("{line}\n{}\n{line}\n", "x".repeat(MAX_LINE + 10));
        let e = read_records(long.as_bytes(), Path::new("a.jsonl"), |_| {}).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("a.jsonl:2: not an audit record: the line is longer than {MAX_LINE} bytes")
        );
        let binary: &[u8] = b"\xff\xfe\x00\n";
        assert!(read_records(binary, Path::new("a.jsonl"), |_| {}).is_err());
        assert_eq!(
            read(Path::new("/nonexistent/audit.jsonl")).unwrap(),
            Vec::<Entry>::new()
        );
    }

    #[test]
    fn a_period_in_one_year_or_month_lists_only_its_folder() {
        let p = |a, b| audit_prefix(Some(a), Some(b));
        assert_eq!(p("2026/11/01", "2026/11/30"), "audit/2026/11/");
        assert_eq!(p("2026/10/01", "2026/12/31"), "audit/2026/");
        assert_eq!(p("2026/01/05", "2026/10/05"), "audit/2026/");
        assert_eq!(p("2025/12/01", "2026/01/31"), "audit/");
        assert_eq!(p("2026/11/03", "2026/11/03"), "audit/2026/11/");
        assert_eq!(audit_prefix(Some("2026/11/03"), None), "audit/");
        assert_eq!(audit_prefix(None, None), "audit/");
    }

    /// One definition of an apply: dispatch, rollout tick and rollback,
    /// applied or failed, older rollout records included; how each was
    /// let through, recorded or read off older records.
    #[test]
    fn an_apply_is_a_dispatch_a_tick_or_a_rollback() {
        let e = |action: &str, result: &str, detail: Option<&str>| Entry {
            action: action.into(),
            result: result.into(),
            detail: detail.map(str::to_string),
            run_url: Some("https://github.com/o/m/actions/runs/1".into()),
            ..Entry::default()
        };
        let kind = |e: &Entry| apply_of(e).map(|a| (a.ok, a.trigger));
        let dispatch = Entry {
            dispatch_id: Some("d".into()),
            ..e("apply", "ok", None)
        };
        assert_eq!(kind(&dispatch), Some((true, Trigger::Dispatch)));
        assert_eq!(
            kind(&e("apply", "failed", Some("rollout r1: apply: x"))),
            Some((false, Trigger::Rollout))
        );
        assert_eq!(
            kind(&e("apply", "ok", Some("rollback r2 of r1"))),
            Some((true, Trigger::Rollback))
        );
        // Older rollout records.
        assert_eq!(
            kind(&e("rollout", "applied", Some("r1: applied"))),
            Some((true, Trigger::Rollout))
        );
        assert_eq!(kind(&e("rollout", "applied", Some("r1: no changes"))), None);
        assert_eq!(
            kind(&e("rollout", "failed", Some("r1: apply: boom"))),
            Some((false, Trigger::Rollout))
        );
        assert_eq!(kind(&e("rollout", "failed", Some("r1: plan: boom"))), None);
        assert_eq!(
            kind(&e("rollout", "rolled-back", Some("r1"))),
            Some((true, Trigger::Rollback))
        );
        assert_eq!(
            kind(&e("rollout", "rollback-failed", Some("r1: x"))),
            Some((false, Trigger::Rollback))
        );
        for other in [e("plan", "failed", None), e("apply", "skipped", None)] {
            assert_eq!(kind(&other), None);
        }
        // Approval: recorded, else read off the record.
        let approval = |e: Entry| apply_of(&e).unwrap().approval;
        let local = Entry {
            run_url: None,
            ..e("apply", "ok", None)
        };
        assert_eq!(approval(local), Approval::Local);
        assert_eq!(approval(e("apply", "ok", None)), Approval::Automatic);
        let reviewed = Entry {
            approvers: vec!["alice".into()],
            ..e("apply", "ok", None)
        };
        assert_eq!(approval(reviewed), Approval::Approved);
        assert_eq!(
            approval(e("apply", "ok", None).approval(Approval::Approved)),
            Approval::Approved
        );
    }

    #[test]
    fn today_is_a_date() {
        assert!(crate::config::is_date(&today()));
        assert_eq!(&rfc3339(86_400 * 365)[..10], "1971-01-01");
    }
}
