//! A form's answers written into the customer's variables file, keeping
//! the file's comments, order and quoting (yaml-edit's lossless tree):
//! each answer replaces the value at its path or adds it at the end of
//! its mapping. The result is loaded again as every variables file is
//! loaded and must hold exactly the file's values with the answers set;
//! anything else is refused rather than written.

use std::path::Path;
use std::str::FromStr;

use serde_json::{Map, Value};
use yaml_edit::{Document, Mapping, MappingBuilder, SequenceBuilder};

use super::answers::Answer;

/// Why the change could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("{0}")]
    Yaml(#[from] fleetform_yaml::YamlError),
    #[error("{file}: the file's top level is not a mapping of keys to values; fix the file first")]
    NotAMapping { file: String },
    #[error("{file}: `{at}` is not a mapping in the file, so `{label}` cannot be set inside it; change the file by hand")]
    NotAMappingAt {
        file: String,
        at: String,
        label: String,
    },
    #[error("{file}: the change could not be written keeping the file as it is (the edited file reads back differently); change the file by hand")]
    Unfaithful { file: String },
}

/// `text` (the variables file shown as `shown`) with `answers` set, and
/// whether anything changed.
pub fn apply(text: &str, shown: &Path, answers: &[Answer]) -> Result<(String, bool), ChangeError> {
    let limits = fleetform_yaml::Limits::default();
    let file = shown.display().to_string();
    let before = if text.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        fleetform_yaml::load_str(text, shown, &limits)?.value
    };
    let mut expected = before.clone();
    for a in answers {
        set_value(&mut expected, &a.path).map_err(|at| ChangeError::NotAMappingAt {
            file: file.clone(),
            at,
            label: a.path.join("."),
        })?;
        *pointer_mut(&mut expected, &a.path) = a.value.clone();
    }
    if expected == before {
        return Ok((text.to_string(), false));
    }
    let source = if text.trim().is_empty() { "{}\n" } else { text };
    let doc =
        Document::from_str(source).map_err(|_| ChangeError::Unfaithful { file: file.clone() })?;
    let root = doc
        .as_mapping()
        .ok_or(ChangeError::NotAMapping { file: file.clone() })?;
    for a in answers {
        set_in(&root, &a.path, &a.value);
    }
    let out = doc.to_string();
    let reread = fleetform_yaml::load_str(&out, shown, &limits)
        .map_err(|_| ChangeError::Unfaithful { file: file.clone() })?;
    if reread.value != expected {
        return Err(ChangeError::Unfaithful { file });
    }
    Ok((out, true))
}

/// Makes every parent of `path` an object in `v`; `Err` names the first
/// one that is something else.
fn set_value(v: &mut Value, path: &[String]) -> Result<(), String> {
    let mut at = v;
    for (i, key) in path[..path.len().saturating_sub(1)].iter().enumerate() {
        let Value::Object(m) = at else {
            return Err(path[..i].join("."));
        };
        at = m
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if at.is_object() {
        Ok(())
    } else {
        Err(path[..path.len().saturating_sub(1)].join("."))
    }
}

fn pointer_mut<'a>(v: &'a mut Value, path: &[String]) -> &'a mut Value {
    let mut at = v;
    for key in path {
        at = at
            .as_object_mut()
            .expect("set_value made every parent an object")
            .entry(key.clone())
            .or_insert(Value::Null);
    }
    at
}

/// Sets `value` at `path` under `m`, making the missing mappings.
fn set_in(m: &Mapping, path: &[String], value: &Value) {
    let (key, rest) = match path {
        [] => return,
        [key] => return set_one(m, key, value),
        [key, rest @ ..] => (key, rest),
    };
    match m.get_mapping(key.as_str()) {
        Some(child) => set_in(&child, rest, value),
        None => {
            let mut nested = value.clone();
            for k in rest.iter().rev() {
                let mut o = Map::new();
                o.insert(k.clone(), nested);
                nested = Value::Object(o);
            }
            set_one(m, key, &nested);
        }
    }
}

fn set_one(m: &Mapping, key: &str, value: &Value) {
    match value {
        Value::Object(o) => {
            if let Some(map) = mapping(o).build_document().as_mapping() {
                m.set(key, map);
            }
        }
        Value::Array(items) => {
            if let Some(seq) = sequence(items).build_document().as_sequence() {
                m.set(key, seq);
            }
        }
        Value::String(s) => {
            m.set(key, s.as_str());
        }
        Value::Bool(b) => {
            m.set(key, *b);
        }
        Value::Number(n) => match n.as_i64() {
            Some(i) => {
                m.set(key, i);
            }
            None => {
                m.set(key, n.as_f64().unwrap_or_default());
            }
        },
        Value::Null => {
            m.set(key, None::<i64>);
        }
    }
}

fn mapping(o: &Map<String, Value>) -> MappingBuilder {
    o.iter().fold(MappingBuilder::new(), |b, (k, v)| match v {
        Value::Object(inner) => b.insert_mapping(k.clone(), mapping(inner)),
        Value::Array(items) => b.insert_sequence(k.clone(), sequence(items)),
        Value::String(s) => b.pair(k.clone(), s.as_str()),
        Value::Bool(x) => b.pair(k.clone(), *x),
        Value::Number(n) => match n.as_i64() {
            Some(i) => b.pair(k.clone(), i),
            None => b.pair(k.clone(), n.as_f64().unwrap_or_default()),
        },
        Value::Null => b.pair(k.clone(), None::<i64>),
    })
}

fn sequence(items: &[Value]) -> SequenceBuilder {
    items.iter().fold(SequenceBuilder::new(), |b, v| match v {
        Value::Object(inner) => b.insert_mapping(mapping(inner)),
        Value::Array(inner) => b.insert_sequence(sequence(inner)),
        Value::String(s) => b.item(s.as_str()),
        Value::Bool(x) => b.item(*x),
        Value::Number(n) => match n.as_i64() {
            Some(i) => b.item(i),
            None => b.item(n.as_f64().unwrap_or_default()),
        },
        Value::Null => b.item(None::<i64>),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn a(path: &str, value: Value) -> Answer {
        Answer {
            path: path.split('.').map(str::to_string).collect(),
            value,
        }
    }

    const FILE: &str = "# Hooli's settings\nproject_name: hooli # ours\ncloud_provider: aws\n\n# per environment\nenvironments:\n  staging:\n    region: us-east-1 # cheap\n";

    #[test]
    fn answers_change_values_and_keep_comments_and_order() {
        let (out, changed) = apply(
            FILE,
            Path::new("infra/variables.yml"),
            &[
                a("project_name", json!("hooli-two")),
                a("environments.staging.region", json!("eu-west-1")),
                a("environments.production.min_instances", json!(2)),
                a("tags", json!({"team": "web", "cost": "123"})),
            ],
        )
        .unwrap();
        assert!(changed);
        assert_eq!(
            out,
            "# Hooli's settings\nproject_name: hooli-two # ours\ncloud_provider: aws\n\n# per environment\nenvironments:\n  staging:\n    region: eu-west-1 # cheap\n  production:\n    min_instances: 2\ntags:\n  team: web\n  cost: '123'\n"
        );
    }

    #[test]
    fn text_that_reads_as_yaml_stays_text() {
        for hostile in [
            "x: y # not a comment",
            "&a [*a]",
            "!!python/object:os.system",
            "yes",
            "123",
            "null",
            "{a: 1}",
            "- item",
            "'quoted'",
            "::error::not a command",
            "line\\nbreak",
            "### heading",
        ] {
            let (out, _) = apply(
                FILE,
                Path::new("v.yml"),
                &[a("project_name", json!(hostile))],
            )
            .unwrap_or_else(|e| panic!("{hostile}: {e}"));
            let back = fleetform_yaml::load_str(&out, Path::new("v.yml"), &Default::default())
                .unwrap()
                .value;
            assert_eq!(back["project_name"], json!(hostile), "{out}");
        }
    }

    #[test]
    fn nothing_to_change_is_said() {
        let (out, changed) = apply(
            FILE,
            Path::new("v.yml"),
            &[a("cloud_provider", json!("aws"))],
        )
        .unwrap();
        assert!(!changed);
        assert_eq!(out, FILE);
    }

    #[test]
    fn a_value_where_a_mapping_is_needed_is_refused() {
        let e = apply(
            FILE,
            Path::new("v.yml"),
            &[a("project_name.inner", json!("x"))],
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("`project_name` is not a mapping"),
            "{e}"
        );
    }

    #[test]
    fn an_empty_file_gets_the_answers() {
        let (out, _) = apply("", Path::new("v.yml"), &[a("project_name", json!("p"))]).unwrap();
        let back = fleetform_yaml::load_str(&out, Path::new("v.yml"), &Default::default()).unwrap();
        assert_eq!(back.value, json!({"project_name": "p"}));
    }
}
