//! The manager's JSON Schema for customer variables (draft 2020-12).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::values::secrets;

/// Why the schema itself is unusable (a manager-side problem).
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("{file}: cannot read the schema: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}:{line}:{col}: the schema is not valid JSON: {message}")]
    Json {
        file: PathBuf,
        line: usize,
        col: usize,
        message: String,
    },
    #[error("{file}: the schema is not a valid JSON Schema (draft 2020-12): {message}")]
    Compile { file: PathBuf, message: String },
}

/// One schema violation, located by JSON pointer in the validated value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub pointer: String,
    pub message: String,
}

/// A compiled schema. Compile once, validate many.
pub struct Schema {
    pub file: PathBuf,
    /// The schema as written (for what is made from it, e.g. a starter
    /// variables file).
    pub document: Value,
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schema")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

impl Schema {
    pub fn load(path: &Path, shown: &Path) -> Result<Schema, SchemaError> {
        let bytes = std::fs::read(path).map_err(|source| SchemaError::Read {
            file: shown.to_path_buf(),
            source,
        })?;
        Schema::from_bytes(&bytes, shown)
    }

    pub fn from_bytes(bytes: &[u8], shown: &Path) -> Result<Schema, SchemaError> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| SchemaError::Json {
            file: shown.to_path_buf(),
            line: e.line(),
            col: e.column(),
            message: e.to_string(),
        })?;
        let validator = jsonschema::draft202012::new(&value).map_err(|e| SchemaError::Compile {
            file: shown.to_path_buf(),
            message: e.to_string(),
        })?;
        Ok(Schema {
            file: shown.to_path_buf(),
            document: value,
            validator,
        })
    }

    /// Every violation of `value`, in document order.
    pub fn validate(&self, value: &Value) -> Vec<Violation> {
        let mut out: Vec<Violation> = self
            .validator
            .iter_errors(value)
            .map(|e| {
                let mut pointer = e.instance_path().as_str().to_string();
                // Point an unexpected key at the key itself.
                if let jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected }
                | jsonschema::error::ValidationErrorKind::UnevaluatedProperties {
                    unexpected,
                } = e.kind()
                {
                    if let [key] = unexpected.as_slice() {
                        pointer = format!("{pointer}/{}", crate::yaml::escape_token(key));
                    }
                }
                // Never echo a value that looks like a credential.
                let leaks = value
                    .pointer(&pointer)
                    .and_then(Value::as_str)
                    .is_some_and(secrets::looks_like_credential);
                let message = if leaks {
                    e.masked().to_string()
                } else {
                    e.to_string()
                };
                Violation { pointer, message }
            })
            .collect();
        out.dedup();
        out
    }
}
