//! What an adoption plan does, read from its `terraform show -json`:
//! which objects it imports with no change, which it imports and then
//! updates in place (attribute by attribute), and what it would create,
//! replace or destroy (refused). The verdict follows: ready, to review,
//! or refused.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The verdict of an adoption plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Imports only: applying it changes nothing in the cloud.
    Ready,
    /// Imports and in-place updates: fix the values or accept them.
    Review,
    /// Something would be created, replaced or destroyed.
    Refused,
}

/// One attribute an update changes. Values are compact JSON;
/// `(sensitive)` and `(known after apply)` stand for what is not shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeChange {
    pub name: String,
    pub before: String,
    pub after: String,
}

/// A resource updated in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    pub address: String,
    /// Imported by this plan (else already in the state).
    pub importing: bool,
    pub attributes: Vec<AttributeChange>,
}

/// What would happen to a resource that adoption refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Refused {
    Create,
    Replace,
    Destroy,
}

/// A resource adoption refuses, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub address: String,
    pub action: Refused,
    /// For a replacement: the attributes that force it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forced_by: Vec<String>,
}

/// An adoption plan read as a diff.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdoptionDiff {
    /// Imported with no change.
    pub imports: Vec<String>,
    pub updates: Vec<Update>,
    pub refused: Vec<Refusal>,
}

impl AdoptionDiff {
    /// Reads `terraform show -json` of an adoption plan.
    pub fn from_show_json(json: &Value) -> AdoptionDiff {
        let mut diff = AdoptionDiff::default();
        let changes = json
            .get("resource_changes")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for rc in changes {
            if rc.get("mode").and_then(Value::as_str) == Some("data") {
                continue;
            }
            let address = rc
                .get("address")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let change = rc.get("change").unwrap_or(&Value::Null);
            let importing = change.get("importing").is_some_and(|i| !i.is_null());
            let actions: Vec<&str> = change
                .get("actions")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let refused = |action| Refusal {
                address: address.clone(),
                action,
                forced_by: Vec::new(),
            };
            match actions.as_slice() {
                ["no-op"] | [] if importing => diff.imports.push(address),
                ["no-op"] | ["read"] | [] => {}
                ["update"] => diff.updates.push(Update {
                    attributes: attribute_changes(change),
                    address,
                    importing,
                }),
                ["create"] => diff.refused.push(refused(Refused::Create)),
                ["delete"] => diff.refused.push(refused(Refused::Destroy)),
                _ => diff.refused.push(Refusal {
                    forced_by: replace_paths(rc),
                    ..refused(Refused::Replace)
                }),
            }
        }
        diff
    }

    pub fn verdict(&self) -> Verdict {
        if !self.refused.is_empty() {
            Verdict::Refused
        } else if !self.updates.is_empty() {
            Verdict::Review
        } else {
            Verdict::Ready
        }
    }

    /// Every address this plan imports, updated or not.
    pub fn imported(&self) -> Vec<String> {
        let mut all: Vec<String> = self.imports.clone();
        all.extend(
            self.updates
                .iter()
                .filter(|u| u.importing)
                .map(|u| u.address.clone()),
        );
        all.sort();
        all
    }
}

/// The top-level attributes whose value changes, sorted by name.
fn attribute_changes(change: &Value) -> Vec<AttributeChange> {
    let empty = serde_json::Map::new();
    let obj = |k: &str| change.get(k).and_then(Value::as_object).unwrap_or(&empty);
    let (before, after, unknown) = (obj("before"), obj("after"), obj("after_unknown"));
    let hidden = |k: &str, name: &str| {
        change
            .get(k)
            .and_then(|s| s.get(name))
            .is_some_and(shows_secret)
    };
    let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter_map(|name| {
            let (b, a) = (before.get(name), after.get(name));
            let is_unknown = unknown.get(name).is_some_and(|u| u == &Value::Bool(true));
            if b == a && !is_unknown {
                return None;
            }
            let shown = |v: Option<&Value>, secret: bool| match (v, secret) {
                (_, true) => "(sensitive)".to_string(),
                (None | Some(Value::Null), _) => "null".to_string(),
                (Some(v), _) => v.to_string(),
            };
            Some(AttributeChange {
                name: name.clone(),
                before: shown(b, hidden("before_sensitive", name)),
                after: match is_unknown {
                    true => "(known after apply)".to_string(),
                    false => shown(a, hidden("after_sensitive", name)),
                },
            })
        })
        .collect()
}

/// A `*_sensitive` entry marks something sensitive: `true`, or a
/// structure holding a `true`.
fn shows_secret(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Array(a) => a.iter().any(shows_secret),
        Value::Object(o) => o.values().any(shows_secret),
        _ => false,
    }
}

/// The attributes that force a replacement (`replace_paths`' first steps).
fn replace_paths(rc: &Value) -> Vec<String> {
    let mut out: Vec<String> = rc
        .get("change")
        .and_then(|c| c.get("replace_paths"))
        .and_then(Value::as_array)
        .map(|paths| {
            paths
                .iter()
                .filter_map(|p| p.get(0).and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rc(address: &str, actions: &[&str], importing: bool, before: Value, after: Value) -> Value {
        let mut change = json!({"actions": actions, "before": before, "after": after,
            "after_unknown": {}, "before_sensitive": {"password": true}, "after_sensitive": {"password": true}});
        if importing {
            change["importing"] = json!({"id": "x"});
        }
        json!({"address": address, "mode": "managed", "change": change})
    }

    #[test]
    fn imports_updates_and_refusals() {
        let plan = json!({"resource_changes": [
            rc("a.one", &["no-op"], true, json!({"n": 1}), json!({"n": 1})),
            rc("a.two", &["update"], true,
               json!({"n": 1, "t": "small", "password": "p"}),
               json!({"n": 1, "t": "large", "password": "q"})),
            rc("a.kept", &["no-op"], false, json!({}), json!({})),
            rc("a.new", &["create"], false, Value::Null, json!({"n": 2})),
            {"address": "a.net", "mode": "managed", "change": {"actions": ["delete", "create"],
             "importing": {"id": "n"}, "replace_paths": [["cidr"]]}},
        ]});
        let d = AdoptionDiff::from_show_json(&plan);
        assert_eq!(d.imports, ["a.one"]);
        assert_eq!(d.updates.len(), 1);
        let attrs: Vec<(&str, &str, &str)> = d.updates[0]
            .attributes
            .iter()
            .map(|a| (a.name.as_str(), a.before.as_str(), a.after.as_str()))
            .collect();
        assert_eq!(
            attrs,
            [
                ("password", "(sensitive)", "(sensitive)"),
                ("t", "\"small\"", "\"large\"")
            ]
        );
        assert_eq!(d.refused.len(), 2);
        assert_eq!(d.refused[0].action, Refused::Create);
        assert_eq!(d.refused[1].action, Refused::Replace);
        assert_eq!(d.refused[1].forced_by, ["cidr"]);
        assert_eq!(d.verdict(), Verdict::Refused);
        assert_eq!(d.imported(), ["a.one", "a.two"]);
    }

    #[test]
    fn imports_alone_are_ready() {
        let plan =
            json!({"resource_changes": [rc("a.one", &["no-op"], true, json!({}), json!({}))]});
        assert_eq!(
            AdoptionDiff::from_show_json(&plan).verdict(),
            Verdict::Ready
        );
        assert_eq!(
            AdoptionDiff::from_show_json(&Value::Null).verdict(),
            Verdict::Ready
        );
    }
}
