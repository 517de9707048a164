//! Text-level edits of `customers.yml` that keep the file's order, comments
//! and formatting. Each edit is re-parsed and checked before it is written
//! (atomically); when the layout is one these edits do not understand, the
//! caller is told why instead of the file being rewritten.
//!
//! Edits are serialised by [`RegistryLock`]: an exclusive lock on a file
//! beside the registry (`customers.yml.lock`), held while the registry is
//! read, checked, edited and written, so two edits at once never both
//! start from the same text and lose one of them.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::config::Customer;
use fleetform_yaml::{Document, Pos};

mod pins;
pub use pins::set_pins;

/// How long an edit waits for another one by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a held lock is tried again.
const LOCK_POLL: Duration = Duration::from_millis(25);

/// Why the registry lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{file} is locked by another fleetform for more than {secs} s; wait for it to finish and run again (the lock on {lock} ends with that process; do not delete the file)")]
    TimedOut {
        file: String,
        lock: String,
        secs: u64,
    },
    #[error("{lock}: {source}")]
    Io {
        lock: String,
        source: std::io::Error,
    },
    #[error("{lock} is a symbolic link; remove it (fleetform creates the lock file itself)")]
    Symlink { lock: String },
    #[error("FLEETFORM_REGISTRY_LOCK_TIMEOUT_SECS=`{value}` is not a whole number of seconds from 0 to 3600; unset it or give one")]
    BadTimeout { value: String },
}

/// An exclusive lock on a registry, released when dropped (or when the
/// process ends, however it ends: the lock file itself stays and is never
/// a stale lock).
#[derive(Debug)]
pub struct RegistryLock {
    _file: File,
}

/// The lock file of `registry`: its name with `.lock` added.
pub fn lock_path(registry: &Path) -> PathBuf {
    let mut name = registry
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "registry".into());
    name.push(".lock");
    registry.with_file_name(name)
}

/// `FLEETFORM_REGISTRY_LOCK_TIMEOUT_SECS` (0–3600; 0 tries once), else
/// [`DEFAULT_LOCK_TIMEOUT`].
pub fn lock_timeout_from_env() -> Result<Duration, LockError> {
    let Some(raw) = std::env::var_os("FLEETFORM_REGISTRY_LOCK_TIMEOUT_SECS") else {
        return Ok(DEFAULT_LOCK_TIMEOUT);
    };
    let text = raw.to_string_lossy();
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|s| *s <= 3600)
        .map(Duration::from_secs)
        .ok_or_else(|| LockError::BadTimeout {
            value: crate::util::text::shown(&text),
        })
}

impl RegistryLock {
    /// Takes the lock of `registry` (shown as `shown` in messages),
    /// waiting up to `timeout` for another holder to finish.
    pub fn acquire(registry: &Path, shown: &str, timeout: Duration) -> Result<Self, LockError> {
        let path = lock_path(registry);
        let lock = path.display().to_string();
        let io = |source: std::io::Error| LockError::Io {
            lock: lock.clone(),
            source,
        };
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(LockError::Symlink { lock });
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        let deadline = Instant::now().checked_add(timeout);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(RegistryLock { _file: file }),
                Err(TryLockError::Error(e)) => return Err(io(e)),
                Err(TryLockError::WouldBlock) if deadline.is_some_and(|d| Instant::now() >= d) => {
                    return Err(LockError::TimedOut {
                        file: shown.to_string(),
                        lock,
                        secs: timeout.as_secs(),
                    })
                }
                Err(TryLockError::WouldBlock) => std::thread::sleep(LOCK_POLL),
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot edit {file} in place: {reason}")]
pub struct EditError {
    pub file: String,
    pub reason: String,
}

impl EditError {
    fn new(file: &str, reason: impl Into<String>) -> Self {
        EditError {
            file: file.to_string(),
            reason: reason.into(),
        }
    }
}

/// The byte offset of 1-based character column `col` in `line` (the
/// loader counts columns in characters), or `None` past its end.
fn byte_at(line: &str, col: usize) -> Option<usize> {
    let n = col.checked_sub(1)?;
    if n == line.chars().count() {
        return Some(line.len());
    }
    line.char_indices().nth(n).map(|(i, _)| i)
}

fn quote(s: &str) -> String {
    // Double-quoted YAML scalar: safe for any text.
    serde_json::to_string(s).expect("strings serialise")
}

/// The lines of a new registry entry, indented like the existing ones.
fn entry_lines(c: &Customer, indent: &str) -> Vec<String> {
    let inner = format!("{indent}  ");
    let mut lines = vec![format!("{indent}- slug: {}", c.slug)];
    if let Some(r) = &c.repo {
        lines.push(format!("{inner}repo: {r}"));
    }
    if let Some(id) = c.repo_id {
        lines.push(format!("{inner}repo_id: {id}"));
    }
    if let Some(p) = &c.path {
        lines.push(format!("{inner}path: {}", quote(&p.to_string_lossy())));
    }
    lines.push(format!("{inner}contact: {}", c.contact));
    lines.push(format!(
        "{inner}environments: [{}]",
        c.environments.join(", ")
    ));
    lines.push(format!("{inner}status: active"));
    lines.push(format!("{inner}added: {}", c.added));
    if let Some(t) = &c.token {
        lines.push(format!("{inner}token:"));
        lines.push(format!("{inner}  name: {}", quote(&t.name)));
        lines.push(format!("{inner}  expires: {}", t.expires));
    }
    if !c.secrets.is_empty() {
        lines.push(format!("{inner}secrets:"));
        for (env, recipient) in &c.secrets {
            lines.push(format!("{inner}  {env}: {recipient}"));
        }
    }
    lines
}

/// Appends a customer at the end of the `customers:` list.
pub fn add(text: &str, doc: &Document, file: &str, c: &Customer) -> Result<String, EditError> {
    let err = |reason: &str| EditError::new(file, reason);
    let lines: Vec<&str> = text.lines().collect();
    let count = doc
        .value
        .get("customers")
        .and_then(|v| v.as_array())
        .map_or(0, Vec::len);
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    if count == 0 {
        // `customers: []`, `customers:` or no key at all.
        match lines.iter().position(|l| l.starts_with("customers:")) {
            Some(i) => {
                let rest = lines[i]
                    .get("customers:".len()..)
                    .unwrap_or_default()
                    .trim();
                if !(rest.is_empty() || rest == "[]" || rest.starts_with('#')) {
                    return Err(err("`customers:` is not a block list; write it as one entry per `- slug:` block"));
                }
                out[i] = "customers:".to_string();
                for (k, l) in entry_lines(c, "  ").into_iter().enumerate() {
                    out.insert(i + 1 + k, l);
                }
            }
            None => {
                out.push("customers:".into());
                out.extend(entry_lines(c, "  "));
            }
        }
    } else {
        // Indentation and end of the last entry.
        let last_ptr = format!("/customers/{}", count - 1);
        let first_line = doc.pos("/customers/0").line;
        let start = doc.pos(&last_ptr).line; // line of the entry's first key
        let dash_line = lines.get(first_line - 1).copied().unwrap_or_default();
        let Some(dash_col) = dash_line.find('-') else {
            return Err(err("the customer list is written in flow style (`[...]`); use one `- slug:` block per customer"));
        };
        if !dash_line
            .get(..dash_col)
            .is_some_and(|pre| pre.chars().all(|c| c == ' '))
        {
            return Err(err("unexpected layout of the first customer entry"));
        }
        let indent = " ".repeat(dash_col);
        // The last entry ends before the first following line that is
        // indented at or left of the dash (or the end of the file).
        let mut end = lines.len();
        for (i, l) in lines.iter().enumerate().skip(start) {
            let t = l.trim_start();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let col = l.len() - t.len();
            if col <= dash_col {
                end = i;
                break;
            }
        }
        // Keep trailing blank lines and comments after the new entry.
        while end > start && lines[end - 1].trim().is_empty() {
            end -= 1;
        }
        let mut block = vec![String::new()];
        block.extend(entry_lines(c, &indent));
        for (k, l) in block.into_iter().enumerate() {
            out.insert(end + k, l);
        }
    }
    Ok(joined(&out))
}

/// Marks entry `index` revoked: `status: revoked` and a `revoked:` block.
pub fn revoke(
    text: &str,
    doc: &Document,
    file: &str,
    index: usize,
    date: &str,
    reason: &str,
) -> Result<String, EditError> {
    let err = |reason: &str| EditError::new(file, reason);
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let Entry {
        base,
        value: entry,
        key_col,
        end,
        ..
    } = locate(&lines, doc, file, index)?;
    let indent = " ".repeat(key_col);
    if entry.get("revoked").is_some() {
        return Err(err("the entry already has a `revoked:` block"));
    }
    let block = [
        format!("{indent}revoked:"),
        format!("{indent}  date: {date}"),
        format!("{indent}  reason: {}", quote(reason)),
    ];
    for (k, l) in block.into_iter().enumerate() {
        out.insert(end + k, l);
    }
    match entry.get("status") {
        Some(_) => {
            let p = doc.pos(&format!("{base}/status"));
            set_status_revoked(&mut out, p)
                .map_err(|()| err("`status:` is not a plain `active` value"))?;
        }
        None => out.insert(end, format!("{indent}status: revoked")),
    }
    Ok(joined(&out))
}

/// Marks revoked entry `index` offboarded: an `offboarded: <date>` line
/// at the end of the entry (the rest of the file as it was).
pub fn offboard(
    text: &str,
    doc: &Document,
    file: &str,
    index: usize,
    date: &str,
) -> Result<String, EditError> {
    let lines: Vec<&str> = text.lines().collect();
    let Entry {
        value: entry,
        key_col,
        end,
        ..
    } = locate(&lines, doc, file, index)?;
    if entry.get("offboarded").is_some() {
        return Err(EditError::new(
            file,
            "the entry is already marked `offboarded:`",
        ));
    }
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    out.insert(end, format!("{}offboarded: {date}", " ".repeat(key_col)));
    Ok(joined(&out))
}

/// Sets entry `index`'s `secrets:` (its age recipients by environment) to
/// `secrets`, in block style where the old one was (or at the entry's end);
/// an empty map removes the key.
pub fn set_secrets(
    text: &str,
    doc: &Document,
    file: &str,
    index: usize,
    secrets: &std::collections::BTreeMap<String, String>,
) -> Result<String, EditError> {
    let lines: Vec<&str> = text.lines().collect();
    let Entry {
        base,
        value: entry,
        key_col,
        end: after_entry,
    } = locate(&lines, doc, file, index)?;
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let at = match entry.get("secrets") {
        Some(_) => {
            let start = doc
                .key_pos(&format!("{base}/secrets"))
                .line
                .saturating_sub(1);
            // The key's line and every line indented under it.
            let end = (start + 1..lines.len())
                .find(|&i| {
                    let t = lines[i].trim_start();
                    !t.is_empty() && lines[i].len() - t.len() <= key_col
                })
                .unwrap_or(lines.len());
            out.drain(start..end);
            start
        }
        None => after_entry,
    };
    if !secrets.is_empty() {
        let indent = " ".repeat(key_col);
        let mut block = vec![format!("{indent}secrets:")];
        block.extend(secrets.iter().map(|(e, r)| format!("{indent}  {e}: {r}")));
        for (k, l) in block.into_iter().enumerate() {
            out.insert(at + k, l);
        }
    }
    Ok(joined(&out))
}

/// Block-style entry `index` as an edit finds it.
struct Entry {
    /// Its pointer, `/customers/N`.
    base: String,
    /// What it holds.
    value: serde_json::Value,
    /// The column (0-based) of its keys.
    key_col: usize,
    /// The index of the line after its last line ([`entry_end`]).
    end: usize,
}

/// Entry `index` in the registry's `lines`; a flow-style entry is refused
/// ([`block_key_column`]).
fn locate(lines: &[&str], doc: &Document, file: &str, index: usize) -> Result<Entry, EditError> {
    let base = format!("/customers/{index}");
    let key_line = doc.key_pos(&format!("{base}/slug"));
    let key_col = block_key_column(lines, key_line).map_err(|r| EditError::new(file, r))?;
    let value = doc.value.pointer(&base).cloned().unwrap_or_default();
    let end = entry_end(lines, key_line.line, key_col);
    Ok(Entry {
        base,
        value,
        key_col,
        end,
    })
}

/// Edited lines as the file's text, ending in a line break.
fn joined(out: &[String]) -> String {
    let mut s = out.join("\n");
    s.push('\n');
    s
}

/// The column (0-based) of a block-style entry's keys, given the position
/// of its first key; a flow-style entry (`{...}`) cannot be edited here.
fn block_key_column(lines: &[&str], key_line: Pos) -> Result<usize, String> {
    let first = lines
        .get(key_line.line.saturating_sub(1))
        .copied()
        .unwrap_or_default();
    // Block style has only spaces and `- ` before the entry's first key.
    let before_key = byte_at(first, key_line.col)
        .and_then(|b| first.get(..b))
        .unwrap_or(first);
    if !before_key.chars().all(|c| c == ' ' || c == '-') {
        return Err(
            "the entry is written in flow style (`{...}`); write it as a block to revoke it".into(),
        );
    }
    Ok(key_line.col.saturating_sub(1))
}

/// The index of the line after an entry's last line: before the next line
/// indented left of its keys, trailing blank and comment lines excluded.
fn entry_end(lines: &[&str], first_line: usize, key_col: usize) -> usize {
    let mut end = lines.len();
    for (i, l) in lines.iter().enumerate().skip(first_line) {
        let t = l.trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if l.len() - t.len() < key_col
            || (l.len() - t.len() == key_col.saturating_sub(2) && t.starts_with('-'))
        {
            end = i;
            break;
        }
    }
    while end > first_line
        && (lines[end - 1].trim().is_empty() || lines[end - 1].trim_start().starts_with('#'))
    {
        end -= 1;
    }
    end
}

/// Replaces the plain `active` at `p` with `revoked`.
fn set_status_revoked(out: &mut [String], p: Pos) -> Result<(), ()> {
    let line = out.get_mut(p.line.saturating_sub(1)).ok_or(())?;
    let start = byte_at(line, p.col).ok_or(())?;
    let end = start + "active".len();
    let (Some(before), Some("active"), Some(after)) =
        (line.get(..start), line.get(start..end), line.get(end..))
    else {
        return Err(());
    };
    *line = format!("{before}revoked{after}");
    Ok(())
}

/// Sets entry `index`'s `key_generation:` to `generation`: the number is
/// replaced where the key exists, else `key_generation: N` is added on the
/// line after the entry's `added:`.
pub fn set_key_generation(
    text: &str,
    doc: &Document,
    file: &str,
    index: usize,
    generation: u32,
) -> Result<String, EditError> {
    let err = |reason: &str| EditError::new(file, reason);
    let mut out: Vec<String> = text.lines().map(str::to_string).collect();
    let base = format!("/customers/{index}");
    let entry = doc.value.pointer(&base).cloned().unwrap_or_default();
    let slug_key = doc.key_pos(&format!("{base}/slug"));
    let first = out
        .get(slug_key.line.saturating_sub(1))
        .map(String::as_str)
        .unwrap_or_default();
    let before_key = byte_at(first, slug_key.col)
        .and_then(|i| first.get(..i))
        .unwrap_or(first);
    if before_key.contains('{') {
        return Err(err(
            "the entry is written in flow style (`{...}`); write it as a block to rotate its key",
        ));
    }
    if entry.get("key_generation").is_some() {
        let p = doc.pos(&format!("{base}/key_generation"));
        let line = out
            .get_mut(p.line.saturating_sub(1))
            .ok_or_else(|| err("`key_generation:` is not where the parser put it"))?;
        let start = byte_at(line, p.col).unwrap_or(line.len());
        let rest = line.get(start..).unwrap_or_default();
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(err("`key_generation:` is not a plain number"));
        }
        *line = format!("{}{generation}{}", &line[..start], &rest[digits..]);
    } else {
        if entry.get("added").is_none() {
            return Err(err("the entry has no `added:` line"));
        }
        let added = doc.pos(&format!("{base}/added"));
        let indent = " ".repeat(slug_key.col.saturating_sub(1));
        let at = added.line.min(out.len());
        out.insert(at, format!("{indent}key_generation: {generation}"));
    }
    Ok(joined(&out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Document {
        fleetform_yaml::load_bytes(
            text.as_bytes(),
            Path::new("customers.yml"),
            &crate::config::REGISTRY_LIMITS,
        )
        .unwrap()
    }

    /// Columns count characters, not bytes: text before a key with
    /// multi-byte characters used to put a byte slice inside a character
    /// (a panic). Now the edit is refused or done, never a panic.
    #[test]
    fn non_ascii_layouts_never_panic() {
        for flow in [
            "customers:\n  - {éééééé: 1, slug: acme, status: active}\n",
            "customers:\n  - {contact: \"éééééééééé@x.example\", slug: acme, status: active}\n",
        ] {
            let e = revoke(flow, &doc(flow), "customers.yml", 0, "2026-01-01", "gone").unwrap_err();
            assert!(e.reason.contains("flow style"), "{e}");
        }

        let block = "customers:\n  - slug: acme\n    contact: \"ééé@x.example\"  # ünïcode\n    status: active\n    added: 2026-01-01\n";
        let text = revoke(block, &doc(block), "customers.yml", 0, "2026-01-02", "gone").unwrap();
        assert!(text.contains("    status: revoked\n"), "{text}");
        assert!(text.contains("      reason: \"gone\"\n"), "{text}");

        let odd = "customers:\n  - slug: acme\n    status: \"äctive\"\n";
        let e = revoke(odd, &doc(odd), "customers.yml", 0, "2026-01-02", "gone").unwrap_err();
        assert!(e.reason.contains("not a plain `active`"), "{e}");
    }

    #[test]
    fn secrets_are_replaced_in_place_or_removed() {
        let text = "customers:\n  - slug: acme\n    secrets: {staging: age1old}\n    added: 2026-01-01\n  - slug: b\n    added: 2026-01-01\n";
        let mut m = std::collections::BTreeMap::new();
        m.insert("staging".to_string(), "age1new".to_string());
        let got = set_secrets(text, &doc(text), "customers.yml", 0, &m).unwrap();
        assert_eq!(got, "customers:\n  - slug: acme\n    secrets:\n      staging: age1new\n    added: 2026-01-01\n  - slug: b\n    added: 2026-01-01\n");
        let gone = set_secrets(&got, &doc(&got), "customers.yml", 0, &Default::default()).unwrap();
        assert_eq!(gone, "customers:\n  - slug: acme\n    added: 2026-01-01\n  - slug: b\n    added: 2026-01-01\n");
        let added = set_secrets(&gone, &doc(&gone), "customers.yml", 1, &m).unwrap();
        assert!(
            added.ends_with(
                "  - slug: b\n    added: 2026-01-01\n    secrets:\n      staging: age1new\n"
            ),
            "{added}"
        );
    }

    #[test]
    fn columns_map_to_bytes() {
        assert_eq!(byte_at("aé b", 1), Some(0));
        assert_eq!(byte_at("aé b", 3), Some(3));
        assert_eq!(byte_at("aé b", 5), Some(5));
        assert_eq!(byte_at("aé b", 6), None);
        assert_eq!(byte_at("x", 0), None);
    }

    #[test]
    fn the_lock_file_sits_beside_the_registry() {
        assert_eq!(
            lock_path(Path::new("m/customers.yml")),
            Path::new("m/customers.yml.lock")
        );
    }
}
