//! `schema_formats:` in fleetform.yml (see `values::schema::formats`).

use serde::{Deserialize, Serialize};

/// Whether `format` constrains values (`assert`, the default) or only
/// annotates them (`annotate`, JSON Schema 2020-12's own default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FormatMode {
    /// A provider writing `format: ipv4` means it: `999.1.1.1` is refused.
    #[default]
    Assert,
    /// `format` is an annotation: any string passes.
    Annotate,
}
