//! The manager's JSON Schema for customer variables: draft 2020-12 unless
//! its `$schema` names another draft the validator supports (4, 6, 7,
//! 2019-09); `format` asserted unless fleetform.yml says
//! `schema_formats: annotate` (see [`formats`]); `$ref`s to files resolved
//! inside the manager repo and never fetched from the network (see
//! [`refs`]); [`lint`] finds what the validator accepts but the author did
//! not mean.

pub mod drafts;
pub mod formats;
pub mod graph;
pub mod lint;
pub mod refs;
#[cfg(test)]
mod suite;

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::values::secrets;

/// Why the schema itself is unusable (a manager-side problem).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
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
    #[error("{file}: the schema is not a valid JSON Schema ({draft}): {message}")]
    Compile {
        file: PathBuf,
        draft: &'static str,
        message: String,
    },
    #[error("{file}: `$schema: {found}` is not a draft fleetform validates")]
    #[diagnostic(help("use {expected} (or drop `$schema` for 2020-12)"))]
    Draft {
        file: PathBuf,
        found: String,
        expected: String,
    },
    #[error("{file}: a `$ref` cannot be resolved: {message}")]
    Ref { file: PathBuf, message: String },
    #[error(transparent)]
    RefNowhere(Box<graph::Nowhere>),
    #[error(transparent)]
    RefCycle(Box<graph::Cycle>),
}

/// How a schema is compiled: where its `$ref`s may lead and whether
/// `format` asserts.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub formats: formats::FormatMode,
    /// The manager repo; `$ref`s to files resolve inside it only. `None`
    /// for a schema that came from elsewhere (a relay's answer).
    pub root: Option<PathBuf>,
}

/// The `$schema` URIs fleetform honours, and their names.
const DRAFTS: &[(&str, jsonschema::Draft, &str)] = &[
    (
        "https://json-schema.org/draft/2020-12/schema",
        jsonschema::Draft::Draft202012,
        "draft 2020-12",
    ),
    (
        "https://json-schema.org/draft/2019-09/schema",
        jsonschema::Draft::Draft201909,
        "draft 2019-09",
    ),
    (
        "http://json-schema.org/draft-07/schema",
        jsonschema::Draft::Draft7,
        "draft-07",
    ),
    (
        "http://json-schema.org/draft-06/schema",
        jsonschema::Draft::Draft6,
        "draft-06",
    ),
    (
        "http://json-schema.org/draft-04/schema",
        jsonschema::Draft::Draft4,
        "draft-04",
    ),
];

/// The draft `$schema` names (2020-12 without one), or the refusal.
fn draft_of(value: &Value, file: &Path) -> Result<(jsonschema::Draft, &'static str), SchemaError> {
    let Some(found) = value.get("$schema") else {
        return Ok((jsonschema::Draft::Draft202012, "draft 2020-12"));
    };
    let uri = found.as_str().unwrap_or_default();
    let bare = uri.trim_end_matches('#');
    DRAFTS
        .iter()
        .find(|(u, _, _)| {
            bare == *u || bare.replace("http://", "https://") == u.replace("http://", "https://")
        })
        .map(|(_, d, name)| (*d, *name))
        .ok_or_else(|| SchemaError::Draft {
            file: file.to_path_buf(),
            found: found.to_string().trim_matches('"').to_string(),
            expected: DRAFTS
                .iter()
                .map(|(u, _, n)| format!("`{u}` ({n})"))
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// One schema violation, located by JSON pointer in the validated value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub pointer: String,
    pub message: String,
    /// A number where the schema wants a string (see
    /// [`crate::values::quoting`]).
    pub number_for_string: bool,
    /// The pointer names a key the schema refuses (an unexpected key, a
    /// name `propertyNames` refuses): it is placed at the key, not at its
    /// value.
    pub at_key: bool,
}

/// A compiled schema. Compile once, validate many.
pub struct Schema {
    pub file: PathBuf,
    /// The schema as written (for what is made from it, e.g. a starter
    /// variables file, and for [`Schema::lint`]).
    pub document: Value,
    validator: jsonschema::Validator,
    settings: Settings,
    draft: jsonschema::Draft,
    /// The schema file's URI and where its `$ref`s lead (for the lint).
    base: Option<String>,
    files: refs::ManagerFiles,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schema")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

impl Schema {
    /// A schema given on its own: `$ref`s resolve beside it, `format` asserts.
    pub fn load(path: &Path, shown: &Path) -> Result<Schema, SchemaError> {
        let root = std::path::absolute(path)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf));
        Schema::load_with(
            path,
            shown,
            Settings {
                root,
                ..Settings::default()
            },
        )
    }

    /// The manager's schema at `path`, compiled as its fleetform.yml says.
    pub fn of_manager(m: &crate::config::Manager, path: &Path) -> Result<Schema, SchemaError> {
        let full = m.path(path);
        let settings = Settings {
            formats: m.config.schema_formats,
            root: std::path::absolute(&m.root).ok(),
        };
        Schema::load_with(&full, &crate::config::display_path(&full), settings)
    }

    pub fn load_with(path: &Path, shown: &Path, settings: Settings) -> Result<Schema, SchemaError> {
        let bytes = crate::util::fs::read_input(path).map_err(|source| SchemaError::Read {
            file: shown.to_path_buf(),
            source,
        })?;
        let base = std::path::absolute(path).ok().map(|p| refs::file_uri(&p));
        Schema::compile(&bytes, shown, settings, base)
    }

    /// A schema that came from elsewhere: no files beside it.
    pub fn from_bytes(bytes: &[u8], shown: &Path) -> Result<Schema, SchemaError> {
        Schema::compile(bytes, shown, Settings::default(), None)
    }

    /// The same, with `format`s checked as the manager's `schema_formats:`
    /// says (a schema a relay served).
    pub fn from_bytes_with(
        bytes: &[u8],
        shown: &Path,
        formats: formats::FormatMode,
    ) -> Result<Schema, SchemaError> {
        let settings = Settings {
            formats,
            ..Settings::default()
        };
        Schema::compile(bytes, shown, settings, None)
    }

    fn compile(
        bytes: &[u8],
        shown: &Path,
        settings: Settings,
        base: Option<String>,
    ) -> Result<Schema, SchemaError> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| SchemaError::Json {
            file: shown.to_path_buf(),
            line: e.line(),
            col: e.column(),
            message: e.to_string(),
        })?;
        let (draft, draft_name) = draft_of(&value, shown)?;
        let files = refs::ManagerFiles {
            root: settings.root.clone(),
            published: published(&value, base.as_deref()),
        };
        let mut options = jsonschema::options()
            .with_draft(draft)
            .should_validate_formats(settings.formats == formats::FormatMode::Assert)
            .with_retriever(files.clone());
        for (name, check) in formats::CUSTOM {
            options = options.with_format(*name, *check);
        }
        if let Some(base) = &base {
            options = options.with_base_uri(base.clone());
        }
        let built = options.build(&value);
        // A `$ref` that leads nowhere, or round in a cycle, is said where
        // it is (the validator says neither where nor, for a cycle, at all).
        let docs = root_docs(&value, bytes, shown, base.as_deref(), &files, draft);
        let problem = graph::Graph::new(&docs, draft).and_then(|g| g.problem());
        let validator = match (built, problem) {
            (_, Some(problem)) => return Err(problem),
            (Err(e), None) => return Err(compile_error(e, shown, draft_name)),
            (Ok(v), None) => v,
        };
        Ok(Schema {
            file: shown.to_path_buf(),
            document: value,
            validator,
            settings,
            draft,
            base,
            files,
        })
    }

    /// [`Schema::lint`]'s findings as diagnostics, located in the schema's
    /// file at `path` (`validate` and `doctor` both report them).
    pub fn lint_file(&self, path: &std::path::Path) -> Vec<crate::data::Diagnostic> {
        let bytes = crate::util::fs::read_input(path).ok();
        self.lint(bytes.as_deref())
            .into_iter()
            .map(|(location, message)| crate::data::Diagnostic {
                location,
                pointer: None,
                message,
            })
            .collect()
    }

    /// What the validator accepts but the schema's author likely did not
    /// mean (see [`lint`]), each with the schema's `file:line:col`.
    pub fn lint(&self, bytes: Option<&[u8]>) -> Vec<(fleetform_yaml::Location, String)> {
        let doc = bytes.and_then(|b| {
            fleetform_yaml::load_bytes(b, &self.file, &fleetform_yaml::Limits::default()).ok()
        });
        let docs = root_docs(
            &self.document,
            bytes.unwrap_or_default(),
            &self.file,
            self.base.as_deref(),
            &self.files,
            self.draft,
        );
        let graph = graph::Graph::new(&docs, self.draft);
        let resolves = |at: &str, r: &str| graph.as_ref().is_none_or(|g| g.resolves(at, r));
        lint::lint(&self.document, self.draft, &resolves)
            .into_iter()
            .map(|f| {
                let location = match &doc {
                    Some(d) => fleetform_yaml::Location {
                        file: self.file.clone(),
                        pos: d.key_pos(&f.pointer),
                    },
                    None => fleetform_yaml::Location {
                        file: self.file.clone(),
                        pos: fleetform_yaml::Pos { line: 1, col: 1 },
                    },
                };
                (location, format!("{} (at {})", f.message, f.pointer))
            })
            .collect()
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Every violation of `value`, in document order.
    pub fn validate(&self, value: &Value) -> Vec<Violation> {
        // Most values are valid: `is_valid` stops at nothing to report,
        // without collecting where each keyword held.
        if self.validator.is_valid(value) {
            return Vec::new();
        }
        let mut out: Vec<Violation> = self
            .validator
            .iter_errors(value)
            .map(|e| {
                use jsonschema::error::ValidationErrorKind as Kind;
                let mut pointer = e.instance_path().as_str().to_string();
                let mut hint = None;
                let mut at_key = false;
                match e.kind() {
                    // Point an unexpected key at the key itself, with the
                    // declared key it is nearest to.
                    Kind::AdditionalProperties { unexpected }
                    | Kind::UnevaluatedProperties { unexpected } => {
                        if let [key] = unexpected.as_slice() {
                            pointer = format!("{pointer}/{}", fleetform_yaml::escape_token(key));
                            hint = self.did_you_mean(e.schema_path().as_str(), key);
                            at_key = true;
                        }
                    }
                    // A key its name's schema refuses: the key, not the
                    // mapping (whose first key the mapping's position is).
                    Kind::PropertyNames { error } => {
                        if let Value::String(key) = error.instance().as_ref() {
                            pointer = format!("{pointer}/{}", fleetform_yaml::escape_token(key));
                            at_key = true;
                        }
                    }
                    _ => {}
                }
                // Never echo a value that looks like a credential.
                let leaks = value
                    .pointer(&pointer)
                    .and_then(Value::as_str)
                    .is_some_and(secrets::looks_like_credential);
                let mut message = if leaks {
                    e.masked().to_string()
                } else {
                    e.to_string()
                };
                if let Some(hint) = hint {
                    message = format!("{message}: {hint}");
                }
                let number_for_string =
                    value.pointer(&pointer).is_some_and(Value::is_number) && wants_string(e.kind());
                Violation {
                    pointer,
                    message,
                    number_for_string,
                    at_key,
                }
            })
            .collect();
        out.dedup();
        out
    }
}

impl Schema {
    /// "did you mean `x`?" for an unexpected `key`, from the `properties`
    /// beside the keyword at `keyword` (the error's schema path), or the
    /// keys allowed there when none is near. `None` when the keyword's
    /// schema is not in this document (behind a `$ref` to another file).
    /// The subschema at a schema path, following `$ref`s inside this
    /// document (`#/$defs/x`) as the path does.
    fn node_at(&self, path: &str) -> Option<&Value> {
        let mut node = &self.document;
        for seg in path.split('/').skip(1) {
            let seg = seg.replace("~1", "/").replace("~0", "~");
            if seg == "$ref" {
                let r = node.get("$ref")?.as_str()?.strip_prefix('#')?;
                node = self.document.pointer(r)?;
                continue;
            }
            node = match node {
                Value::Object(m) => m.get(&seg)?,
                Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(node)
    }

    fn did_you_mean(&self, keyword: &str, key: &str) -> Option<String> {
        let (parent, _) = keyword.rsplit_once('/')?;
        let declared = self.node_at(parent)?.get("properties")?.as_object()?;
        if declared.is_empty() {
            return None;
        }
        let allowed = if key.chars().count() <= 5 { 1 } else { 2 };
        let near = declared
            .keys()
            .map(|k| (lint::distance(&key.to_lowercase(), &k.to_lowercase()), k))
            .filter(|(d, _)| *d <= allowed)
            .min_by_key(|(d, _)| *d);
        Some(match near {
            Some((_, k)) => format!("did you mean `{k}`?"),
            None => format!(
                "the keys allowed here: {}",
                declared
                    .keys()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    }
}

fn wants_string(kind: &jsonschema::error::ValidationErrorKind) -> bool {
    use jsonschema::error::{TypeKind, ValidationErrorKind};
    match kind {
        ValidationErrorKind::Type {
            kind: TypeKind::Single(t),
        } => *t == jsonschema::JsonType::String,
        ValidationErrorKind::Type {
            kind: TypeKind::Multiple(set),
        } => set.contains(jsonschema::JsonType::String),
        _ => false,
    }
}

/// The folder of the schema's `$id` and of its file, when it has both.
fn published(value: &Value, base: Option<&str>) -> Option<(String, PathBuf)> {
    let id = value.get("$id").or_else(|| value.get("id"))?.as_str()?;
    let (dir, _) = id.split('#').next()?.rsplit_once('/')?;
    let file = refs::file_path(base?)?;
    Some((format!("{dir}/"), file.parent()?.to_path_buf()))
}

/// The schema's own document and every file its `$ref`s reach.
fn root_docs(
    value: &Value,
    bytes: &[u8],
    shown: &Path,
    base: Option<&str>,
    files: &refs::ManagerFiles,
    draft: jsonschema::Draft,
) -> graph::Docs {
    let root = graph::Doc {
        // The validator's own base for a schema with no file.
        uri: base.unwrap_or("json-schema:///").to_string(),
        file: shown.to_path_buf(),
        value: value.clone(),
        bytes: Some(bytes.to_vec()),
        failed: None,
    };
    graph::Docs::load(root, files, draft)
}

/// The crate's compile error, with a `$ref` that could not be read said as
/// fleetform's own (remote refused, outside the repo, unreadable file).
fn compile_error(
    e: jsonschema::ValidationError<'_>,
    shown: &Path,
    draft: &'static str,
) -> SchemaError {
    if let jsonschema::error::ValidationErrorKind::Referencing(
        jsonschema::ReferencingError::Unretrievable { source, .. },
    ) = e.kind()
    {
        if let Some(r) = source.downcast_ref::<refs::RefError>() {
            return SchemaError::Ref {
                file: shown.to_path_buf(),
                message: r.to_string(),
            };
        }
    }
    SchemaError::Compile {
        file: shown.to_path_buf(),
        draft,
        message: e.to_string(),
    }
}
