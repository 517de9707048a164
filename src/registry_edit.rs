//! Text-level edits of `customers.yml` that keep the file's order, comments
//! and formatting. Each edit is re-parsed and checked before it is written
//! (atomically); when the layout is one these edits do not understand, the
//! caller is told why instead of the file being rewritten.

use crate::config::Customer;
use crate::yaml::Document;

#[derive(Debug, thiserror::Error)]
#[error("cannot edit {file} in place: {reason}")]
pub struct EditError {
    pub file: String,
    pub reason: String,
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
    lines
}

/// Appends a customer at the end of the `customers:` list.
pub fn add(text: &str, doc: &Document, file: &str, c: &Customer) -> Result<String, EditError> {
    let err = |reason: &str| EditError {
        file: file.to_string(),
        reason: reason.to_string(),
    };
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
                let rest = lines[i]["customers:".len()..].trim();
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
        if !dash_line[..dash_col].chars().all(|c| c == ' ') {
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
    let mut s = out.join("\n");
    s.push('\n');
    Ok(s)
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
    let err = |reason: String| EditError {
        file: file.to_string(),
        reason,
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let base = format!("/customers/{index}");
    let key_line = doc.key_pos(&format!("{base}/slug"));
    let first = lines.get(key_line.line - 1).copied().unwrap_or_default();
    // Key column of the entry's fields.
    let key_col = key_line.col - 1;
    if first.trim_start().starts_with('{') || first[key_col..].starts_with('{') {
        return Err(err(
            "the entry is written in flow style (`{...}`); write it as a block to revoke it".into(),
        ));
    }
    let indent = " ".repeat(key_col);
    let entry = doc.value.pointer(&base).cloned().unwrap_or_default();
    // The entry's last line: before the next line indented left of its keys.
    let mut end = lines.len();
    for (i, l) in lines.iter().enumerate().skip(key_line.line) {
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
    while end > key_line.line
        && (lines[end - 1].trim().is_empty() || lines[end - 1].trim_start().starts_with('#'))
    {
        end -= 1;
    }
    if entry.get("revoked").is_some() {
        return Err(err("the entry already has a `revoked:` block".into()));
    }
    let block = vec![
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
            let l = &out[p.line - 1];
            let start = p.col - 1;
            let old_len = "active".len();
            if l.get(start..start + old_len) != Some("active") {
                return Err(err("`status:` is not a plain `active` value".into()));
            }
            out[p.line - 1] = format!("{}revoked{}", &l[..start], &l[start + old_len..]);
        }
        None => out.insert(end, format!("{indent}status: revoked")),
    }
    let mut s = out.join("\n");
    s.push('\n');
    Ok(s)
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
    let err = |reason: &str| EditError {
        file: file.to_string(),
        reason: reason.to_string(),
    };
    let mut out: Vec<String> = text.lines().map(str::to_string).collect();
    let base = format!("/customers/{index}");
    let entry = doc.value.pointer(&base).cloned().unwrap_or_default();
    let slug_key = doc.key_pos(&format!("{base}/slug"));
    let first = out
        .get(slug_key.line.saturating_sub(1))
        .map(String::as_str)
        .unwrap_or_default();
    let before_key = first.get(..slug_key.col.saturating_sub(1)).unwrap_or(first);
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
        let start = p.col.saturating_sub(1);
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
    let mut s = out.join("\n");
    s.push('\n');
    Ok(s)
}
