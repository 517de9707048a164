//! GitHub Actions runner I/O: the run's context from the environment, step
//! outputs (`$GITHUB_OUTPUT`, multi-line safe) and the step summary
//! (`$GITHUB_STEP_SUMMARY`, kept under 1 MiB). Printing workflow commands
//! (annotations, masks, groups) is the output layer's job.
//!
//! May import: `util`. Nothing above it.

use std::io::Write;
use std::path::PathBuf;

use serde_json::Value;

use crate::util::fs::FsError;

/// GitHub's limit for one step summary.
pub const SUMMARY_LIMIT: usize = 1024 * 1024;

/// The variable naming the entry of a batch dispatch a job works on.
pub const BATCH_ENTRY_VAR: &str = "FLEETFORM_BATCH_ENTRY";

/// What the runner tells us about the run.
#[derive(Debug, Clone, Default)]
pub struct RunContext {
    pub event_name: Option<String>,
    pub event_path: Option<PathBuf>,
    pub repository: Option<String>,
    pub sha: Option<String>,
    pub git_ref: Option<String>,
    pub server_url: String,
    pub run_id: Option<String>,
    pub run_attempt: Option<String>,
    pub actor: Option<String>,
    pub output: Option<PathBuf>,
    pub summary: Option<PathBuf>,
    /// `FLEETFORM_BATCH_ENTRY`: which entry of a `fleetform-batch`
    /// dispatch this job works on (set by `manager-batch.yml`, empty
    /// otherwise).
    pub batch_entry: Option<String>,
}

/// Who runs this command, for audit events: the run's actor on GitHub
/// Actions (`GITHUB_ACTOR`), else the account (`USER`, `LOGNAME`), else
/// the system's name for the process's user (`root`, not `uid 0`) or its
/// user id (`uid 1000`; Windows' `USERNAME`) with the machine it runs on
/// (`root on build-7`: in a container no one named, a bare `root` says
/// nothing of who or where), so a record never names no one.
pub fn actor() -> String {
    let named = |k: &str| var(k).filter(|v| !v.trim().is_empty());
    named("GITHUB_ACTOR")
        .or_else(|| named("USER"))
        .or_else(|| named("LOGNAME"))
        .unwrap_or_else(|| {
            let who = whoami::username()
                .ok()
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(uid);
            match host() {
                Some(h) => format!("{who} on {h}"),
                None => who,
            }
        })
}

/// The machine's name (Linux: `/proc/sys/kernel/hostname`; else
/// `HOSTNAME`, `COMPUTERNAME`), when it has one.
fn host() -> Option<String> {
    crate::util::fs::read_input_text("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| var("HOSTNAME"))
        .or_else(|| var("COMPUTERNAME"))
        .map(|h| h.trim().to_string())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
        })
}

/// The process's user id (`uid 1000`), read from `/proc/self`.
#[cfg(unix)]
fn uid() -> String {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self")
        .map(|m| format!("uid {}", m.uid()))
        .unwrap_or_else(|_| "unknown (set USER)".into())
}

/// Windows has no numeric user id: its account is `USERNAME`.
#[cfg(not(unix))]
fn uid() -> String {
    var("USERNAME").unwrap_or_else(|| "unknown (set USER)".into())
}

/// Whether this runs in a GitHub Actions job (`GITHUB_ACTIONS=true`).
pub fn in_actions() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

fn var(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

impl RunContext {
    pub fn from_env() -> Self {
        RunContext {
            event_name: var("GITHUB_EVENT_NAME"),
            event_path: var("GITHUB_EVENT_PATH").map(PathBuf::from),
            repository: var("GITHUB_REPOSITORY"),
            sha: var("GITHUB_SHA"),
            git_ref: var("GITHUB_REF"),
            server_url: var("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into()),
            run_id: var("GITHUB_RUN_ID"),
            run_attempt: var("GITHUB_RUN_ATTEMPT"),
            actor: var("GITHUB_ACTOR"),
            output: var("GITHUB_OUTPUT").map(PathBuf::from),
            summary: var("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            batch_entry: var(BATCH_ENTRY_VAR),
        }
    }

    /// `https://github.com/<repo>/actions/runs/<id>` when known.
    pub fn run_url(&self) -> Option<String> {
        Some(format!(
            "{}/{}/actions/runs/{}",
            self.server_url.trim_end_matches('/'),
            self.repository.as_deref()?,
            self.run_id.as_deref()?
        ))
    }

    /// The pull request this run is for (`refs/pull/<n>/merge` or
    /// `/head`): `https://github.com/<repo>/pull/<n>`, when known.
    pub fn pull_request_url(&self) -> Option<String> {
        let rest = self.git_ref.as_deref()?.strip_prefix("refs/pull/")?;
        let (n, _) = rest.split_once('/')?;
        let n: u64 = n.parse().ok()?;
        Some(format!(
            "{}/{}/pull/{n}",
            self.server_url.trim_end_matches('/'),
            self.repository.as_deref()?
        ))
    }

    /// The event payload, parsed.
    pub fn event(&self) -> Result<Value, String> {
        let p = self
            .event_path
            .as_ref()
            .ok_or("GITHUB_EVENT_PATH is not set; run this inside GitHub Actions or set it to an event JSON file")?;
        let meta = std::fs::metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
        if meta.len() > 25 * 1024 * 1024 {
            return Err(format!(
                "{}: event payload is larger than 25 MiB",
                p.display()
            ));
        }
        let text = crate::util::fs::read_input(p).map_err(|e| format!("{}: {e}", p.display()))?;
        serde_json::from_slice(&text).map_err(|e| format!("{}: not JSON: {e}", p.display()))
    }

    /// Sets step outputs; a no-op outside Actions.
    pub fn set_outputs(&self, outputs: &[(&str, String)]) -> Result<(), FsError> {
        let Some(path) = &self.output else {
            return Ok(());
        };
        let mut text = String::new();
        for (name, value) in outputs {
            text.push_str(&format_output(name, value));
        }
        append(path, &text)
    }

    /// What the step summary can still take under [`SUMMARY_LIMIT`]
    /// (all of it outside Actions).
    pub fn summary_room(&self) -> usize {
        let used = self
            .summary
            .as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .map_or(0, |m| m.len() as usize);
        SUMMARY_LIMIT.saturating_sub(used)
    }

    /// Appends Markdown to the step summary, keeping the file under
    /// [`SUMMARY_LIMIT`]; an oversized part is cut with a note.
    pub fn append_summary(&self, markdown: &str) -> Result<(), FsError> {
        let Some(path) = &self.summary else {
            return Ok(());
        };
        let used = std::fs::metadata(path)
            .map(|m| m.len() as usize)
            .unwrap_or(0);
        let room = SUMMARY_LIMIT.saturating_sub(used);
        let text = fit_summary(markdown, room);
        if text.is_empty() {
            return Ok(());
        }
        append(path, &text)
    }
}

/// Appends to one of the runner's files, naming it in any error.
fn append(path: &std::path::Path, text: &str) -> Result<(), FsError> {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| FsError::new("opening", path, e))?;
    f.write_all(text.as_bytes())
        .map_err(|e| FsError::new("appending to", path, e))
}

/// `name<<DELIM\nvalue\nDELIM\n` with a delimiter that does not occur in
/// the value.
pub fn format_output(name: &str, value: &str) -> String {
    if !value.contains('\n') && !value.contains('\r') {
        return format!("{name}={value}\n");
    }
    let mut n = 0u64;
    let delim = loop {
        let d = format!("ghadelimiter_fleetform_{n}");
        if !value.contains(&d) {
            break d;
        }
        n += 1;
    };
    format!("{name}<<{delim}\n{value}\n{delim}\n")
}

/// Cuts `markdown` to fit `room` bytes, on a line boundary, with a note.
pub fn fit_summary(markdown: &str, room: usize) -> String {
    if markdown.len() <= room {
        return markdown.to_string();
    }
    let note = "\n\n> The rest is cut: GitHub keeps step summaries under 1 MiB. The full plan is in the run's artifact.\n";
    if room <= note.len() {
        return String::new();
    }
    let mut cut = room - note.len();
    while !markdown.is_char_boundary(cut) {
        cut -= 1;
    }
    let head = &markdown[..cut];
    let head = head.rfind('\n').map_or(head, |i| &head[..i]);
    // Close an open code fence so the note renders.
    let fence = if head.matches("\n```").count() % 2 == 1 {
        "\n```"
    } else {
        ""
    };
    let mut out = format!("{head}{fence}{note}");
    while out.len() > room {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_multiline_safe() {
        assert_eq!(format_output("a", "1"), "a=1\n");
        let v = "line1\nghadelimiter_fleetform_0\nline3";
        let o = format_output("b", v);
        assert!(o.starts_with("b<<ghadelimiter_fleetform_1\n"), "{o}");
        assert!(o.ends_with("\nghadelimiter_fleetform_1\n"));
    }

    #[test]
    fn summary_is_capped() {
        let big = "x\n".repeat(SUMMARY_LIMIT);
        let s = fit_summary(&big, 1000);
        assert!(s.len() <= 1000);
        assert!(s.contains("cut"));
    }
}
