//! What kind of change the cloud made to a resource's attributes, as a
//! drift plan's `resource_drift` shows it (`before`: the state as last
//! applied, `after`: the cloud as refreshed): per top-level attribute
//! (the provider schema's name; deeper segments can be map keys, which can
//! be customer values), set, added, removed, an element added or removed,
//! or changed. The value itself is kept only when it is a boolean (`true`,
//! `false`: never a customer's own value); every other value is left out.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a top-level attribute changed outside Terraform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// A boolean set to the value in [`AttributeChange::to`].
    Set,
    /// Was empty (absent, null), has a value now.
    Added,
    /// Had a value, is empty now.
    Removed,
    /// A list or map that gained elements (and lost none).
    ElementAdded,
    /// A list or map that lost elements (and gained none).
    ElementRemoved,
    /// Any other change: its value differs (never shown).
    Changed,
}

impl ChangeKind {
    /// The kind as one word of a cause id (`set`, `element-added`).
    pub fn word(self) -> &'static str {
        match self {
            ChangeKind::Set => "set",
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::ElementAdded => "element-added",
            ChangeKind::ElementRemoved => "element-removed",
            ChangeKind::Changed => "changed",
        }
    }
}

/// One top-level attribute of a drifted resource and how it changed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AttributeChange {
    /// `/versioning`, `/tags`: the first segment of the changed paths.
    pub attribute: String,
    pub change: ChangeKind,
    /// The boolean it was set to ([`ChangeKind::Set`] only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<bool>,
}

/// The top-level attributes a drift entry's `change` touches, each with
/// how it changed, sorted; at most 100.
pub fn attribute_changes(change: &Value) -> Vec<AttributeChange> {
    let empty = serde_json::Map::new();
    let side = |k: &str| change.get(k).and_then(Value::as_object).unwrap_or(&empty);
    let (before, after) = (side("before"), side("after"));
    let keys: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let b = before.get(k).unwrap_or(&Value::Null);
            let a = after.get(k).unwrap_or(&Value::Null);
            (b != a).then(|| kind_of(k, b, a))
        })
        .take(100)
        .collect()
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

fn kind_of(key: &str, before: &Value, after: &Value) -> AttributeChange {
    let attribute = format!("/{}", key.replace('~', "~0").replace('/', "~1"));
    let (change, to) = match (before, after) {
        (_, Value::Bool(x)) => (ChangeKind::Set, Some(*x)),
        (b, a) if is_empty(b) && !is_empty(a) => (ChangeKind::Added, None),
        (b, a) if !is_empty(b) && is_empty(a) => (ChangeKind::Removed, None),
        (Value::Array(b), Value::Array(a)) => (
            elements(
                b.iter().all(|x| a.contains(x)),
                a.iter().all(|x| b.contains(x)),
            ),
            None,
        ),
        (Value::Object(b), Value::Object(a)) => (
            elements(
                b.iter().all(|(k, v)| a.get(k) == Some(v)),
                a.iter().all(|(k, v)| b.get(k) == Some(v)),
            ),
            None,
        ),
        _ => (ChangeKind::Changed, None),
    };
    AttributeChange {
        attribute,
        change,
        to,
    }
}

/// A collection's change: only gained (`kept_all`: every old element is
/// still there), only lost (`no_new`), or changed.
fn elements(kept_all: bool, no_new: bool) -> ChangeKind {
    match (kept_all, no_new) {
        (true, false) => ChangeKind::ElementAdded,
        (false, true) => ChangeKind::ElementRemoved,
        _ => ChangeKind::Changed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kinds(before: Value, after: Value) -> Vec<(String, ChangeKind, Option<bool>)> {
        attribute_changes(&json!({"before": before, "after": after}))
            .into_iter()
            .map(|c| (c.attribute, c.change, c.to))
            .collect()
    }

    #[test]
    fn each_top_level_attribute_says_how_it_changed_never_a_value() {
        let got = kinds(
            json!({"versioning": true, "zones": 3, "tags": {"team": "a"}, "rules": [1],
                   "acl": [1, 2], "note": null, "name": "acme-logs", "labels": {"x": "1"}}),
            json!({"versioning": false, "zones": 5, "tags": {"team": "a", "owner": "b"},
                   "rules": [1, 2], "acl": [1], "note": "hello", "name": "acme-logs", "labels": {}}),
        );
        assert_eq!(
            got,
            [
                ("/acl".into(), ChangeKind::ElementRemoved, None),
                ("/labels".into(), ChangeKind::Removed, None),
                ("/note".into(), ChangeKind::Added, None),
                ("/rules".into(), ChangeKind::ElementAdded, None),
                ("/tags".into(), ChangeKind::ElementAdded, None),
                ("/versioning".into(), ChangeKind::Set, Some(false)),
                ("/zones".into(), ChangeKind::Changed, None),
            ]
        );
        let text = serde_json::to_string(&attribute_changes(&json!({
            "before": {"name": "acme-secret-name"}, "after": {"name": "acme-other"}
        })))
        .unwrap();
        assert!(!text.contains("acme"), "{text}");
    }
}
