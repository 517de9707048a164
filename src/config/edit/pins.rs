//! The `pins:` block of one registry entry, rewritten in place
//! (`customers pin` and `customers unpin`): the rest of the file, its
//! order and comments are kept; the block itself is written anew, one
//! pin per item.

use super::{joined, locate, quote, EditError};
use crate::config::pins::Pin;
use fleetform_yaml::Document;

/// Sets entry `index`'s `pins:` to `pins`: the existing block (a block
/// or flow list) is replaced, or a new one is added at the end of the
/// entry; no pins removes the block.
pub fn set_pins(
    text: &str,
    doc: &Document,
    file: &str,
    index: usize,
    pins: &[Pin],
) -> Result<String, EditError> {
    let lines: Vec<&str> = text.lines().collect();
    let entry = locate(&lines, doc, file, index)?;
    let (end, key_col) = (entry.end, entry.key_col);
    let (from, to) = match entry.value.get("pins") {
        Some(_) => {
            let at = doc
                .key_pos(&format!("{}/pins", entry.base))
                .line
                .saturating_sub(1);
            if at >= end
                || lines
                    .get(at)
                    .is_none_or(|l| !l.trim_start().starts_with("pins:"))
            {
                return Err(EditError::new(
                    file,
                    "`pins:` is not a plain key on its own line in the entry; write it as `pins:` followed by its items",
                ));
            }
            (at, block_end(&lines, at, end, key_col))
        }
        None => (end, end),
    };
    let indent = " ".repeat(key_col);
    let mut out: Vec<String> = lines[..from].iter().map(|l| l.to_string()).collect();
    out.extend(block(&indent, pins));
    out.extend(lines[to..].iter().map(|l| l.to_string()));
    Ok(joined(&out))
}

/// The line after the `pins:` block starting at `at`: the first later
/// line of the entry indented at or left of its keys (trailing blank and
/// comment lines stay after it).
fn block_end(lines: &[&str], at: usize, end: usize, key_col: usize) -> usize {
    let mut to = end;
    for (i, l) in lines.iter().enumerate().take(end).skip(at + 1) {
        let t = l.trim_start();
        if !t.is_empty() && !t.starts_with('#') && l.len() - t.len() <= key_col {
            to = i;
            break;
        }
    }
    while to > at + 1 && {
        let t = lines[to - 1].trim();
        t.is_empty() || t.starts_with('#')
    } {
        to -= 1;
    }
    to
}

/// The lines of a `pins:` block (none for no pins).
fn block(indent: &str, pins: &[Pin]) -> Vec<String> {
    if pins.is_empty() {
        return Vec::new();
    }
    let mut lines = vec![format!("{indent}pins:")];
    for p in pins {
        let item = format!("{indent}  - ");
        let inner = format!("{indent}    ");
        let mut first = true;
        let mut push = |key: &str, value: String| {
            let lead = if first { &item } else { &inner };
            first = false;
            lines.push(format!("{lead}{key}: {value}"));
        };
        if let Some(product) = &p.product {
            push("product", quote(product));
        }
        push("ref", quote(&p.git_ref));
        push("until", p.until.clone());
        push("reason", quote(&p.reason));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Document {
        fleetform_yaml::load_bytes(
            text.as_bytes(),
            std::path::Path::new("customers.yml"),
            &crate::config::REGISTRY_LIMITS,
        )
        .unwrap()
    }

    fn pin(product: Option<&str>, git_ref: &str) -> Pin {
        Pin {
            product: product.map(str::to_string),
            git_ref: git_ref.into(),
            until: "2027-01-31".into(),
            reason: "freeze".into(),
        }
    }

    const TWO: &str = "customers:\n  # the first\n  - slug: a\n    status: active\n    pins:\n      - product: net  # old\n        ref: v0\n        until: 2026-01-01\n        reason: x\n    # kept\n\n  - slug: b\n    status: active\n";

    #[test]
    fn a_block_is_replaced_added_and_removed_with_the_rest_kept() {
        let replaced = set_pins(TWO, &doc(TWO), "c", 0, &[pin(Some("net"), "v1")]).unwrap();
        assert_eq!(
            replaced,
            "customers:\n  # the first\n  - slug: a\n    status: active\n    pins:\n      - product: \"net\"\n        ref: \"v1\"\n        until: 2027-01-31\n        reason: \"freeze\"\n    # kept\n\n  - slug: b\n    status: active\n"
        );
        let added = set_pins(TWO, &doc(TWO), "c", 1, &[pin(None, "abc")]).unwrap();
        assert!(
            added.ends_with("  - slug: b\n    status: active\n    pins:\n      - ref: \"abc\"\n        until: 2027-01-31\n        reason: \"freeze\"\n"),
            "{added}"
        );
        let removed = set_pins(TWO, &doc(TWO), "c", 0, &[]).unwrap();
        assert_eq!(
            removed,
            "customers:\n  # the first\n  - slug: a\n    status: active\n    # kept\n\n  - slug: b\n    status: active\n"
        );
        let flow = "customers:\n  - slug: a\n    pins: [{ref: v0, until: 2026-01-01, reason: x}]\n    status: active\n";
        let replaced = set_pins(flow, &doc(flow), "c", 0, &[pin(None, "v1")]).unwrap();
        assert_eq!(
            replaced,
            "customers:\n  - slug: a\n    pins:\n      - ref: \"v1\"\n        until: 2027-01-31\n        reason: \"freeze\"\n    status: active\n"
        );
    }
}
