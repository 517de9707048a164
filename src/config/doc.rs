//! From a YAML document to a typed section: serde's error path mapped to
//! the file position it points at.

use serde::de::DeserializeOwned;

use super::*;

/// Deserialises a document, mapping serde's error path to a file position.
pub fn from_doc<T: DeserializeOwned>(doc: &Document) -> Result<T, ConfigError> {
    // Most documents are valid: read without tracking the path first (the
    // tracking keeps a copy of every key on the way, 10,000 customers'
    // worth for a large registry), and again with it only to say where a
    // document fails. Deserialising the same value gives the same result.
    if let Ok(value) = T::deserialize(&doc.value) {
        return Ok(value);
    }
    serde_path_to_error::deserialize(&doc.value).map_err(|e| {
        let mut pointer = String::new();
        for seg in e.path().iter() {
            use serde_path_to_error::Segment;
            match seg {
                Segment::Seq { index } => pointer.push_str(&format!("/{index}")),
                Segment::Map { key } => {
                    pointer.push('/');
                    pointer.push_str(&yaml::escape_token(key));
                }
                Segment::Enum { .. } | Segment::Unknown => {}
            }
        }
        let inner = e.inner().to_string();
        let (pos, message) = if inner.starts_with(RepoPath::REFUSED) {
            pointer = refused_path_entry(doc, pointer);
            (doc.key_pos(&pointer), inner)
        } else if let Some(field) = unknown_field(&inner) {
            // The path ends at the unknown key itself or at its mapping.
            let key_ptr = if pointer.ends_with(&format!("/{}", yaml::escape_token(&field))) {
                pointer.clone()
            } else {
                format!("{pointer}/{}", yaml::escape_token(&field))
            };
            (
                doc.key_pos(&key_ptr),
                format!("{inner}; remove it or fix its spelling"),
            )
        } else {
            (doc.pos(&pointer), inner)
        };
        let shown = if pointer.is_empty() {
            String::new()
        } else {
            format!("{pointer}: ")
        };
        ConfigError::Invalid {
            location: Location {
                file: doc.file.clone(),
                pos: if pos == Pos::default() {
                    Pos { line: 1, col: 1 }
                } else {
                    pos
                },
            },
            message: format!("{shown}{message}"),
        }
    })
}

fn unknown_field(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("unknown field `")?;
    Some(rest.get(..rest.find('`')?)?.to_string())
}

/// The entry a [`RepoPath`] error is about. serde loses the path inside an
/// internally tagged enum (`terraform.backend`) and stops at the enum's
/// mapping; the entry is then the one below it whose string is refused.
fn refused_path_entry(doc: &Document, pointer: String) -> String {
    let Some(serde_json::Value::Object(map)) = doc.value.pointer(&pointer) else {
        return pointer;
    };
    let refused = map.iter().find(|(_, v)| {
        v.as_str()
            .is_some_and(|s| !is_relative_inside(Path::new(s)))
    });
    match refused {
        Some((k, _)) => format!("{pointer}/{}", yaml::escape_token(k)),
        None => pointer,
    }
}
