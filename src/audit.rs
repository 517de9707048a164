//! The audit log: one JSON line per trigger, plan, apply, refusal, waiver or
//! registry change, appended to a file (the workflows upload it as an
//! artifact). Lines are written with one `write` on a file opened for
//! append, so concurrent writers never interleave within a line.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Default log path, relative to the manager repo.
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
}

impl Entry {
    /// A record stamped with the time, actor and run from the environment.
    pub fn now(action: &str, result: &str) -> Entry {
        let ctx = crate::runner::RunContext::from_env();
        Entry {
            time: rfc3339_now(),
            action: action.into(),
            actor: ctx
                .actor
                .clone()
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "unknown".into()),
            triggering_actor: std::env::var("GITHUB_TRIGGERING_ACTOR")
                .ok()
                .filter(|t| Some(t) != ctx.actor.as_ref() && !t.is_empty()),
            run_url: ctx.run_url(),
            result: result.into(),
            ..Entry::default()
        }
    }

    pub fn customer(mut self, c: &str) -> Self {
        self.customer = Some(c.into());
        self
    }
    pub fn environment(mut self, e: &str) -> Self {
        self.environment = Some(e.into());
        self
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
    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = Some(d.into());
        self
    }
}

/// Where the log goes: `FLEETFORM_AUDIT_LOG`, else [`DEFAULT_LOG`].
pub fn log_path() -> PathBuf {
    std::env::var_os("FLEETFORM_AUDIT_LOG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_LOG))
}

/// Appends one record. Failing to audit is reported, never ignored
/// silently, but does not undo the action it records.
pub fn append(path: &Path, entry: &Entry) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut line = serde_json::to_vec(entry).expect("serialisable");
    line.push(b'\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(&line)
}

/// Reads every record; a damaged line is reported with its number.
pub fn read(path: &Path) -> Result<Vec<Entry>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| format!("{}:{}: not an audit record: {e}", path.display(), i + 1))
        })
        .collect()
}

/// The current time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

/// Formats Unix seconds as RFC 3339 UTC.
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Today as `YYYY-MM-DD` (UTC).
pub fn today() -> String {
    rfc3339_now()[..10].to_string()
}

/// Days since 1970-01-01 → (year, month, day). Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
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
}
