//! Which keywords each JSON Schema draft has (issue #50): a keyword the
//! declared draft lacks is ignored by the validator, so the constraint an
//! author wrote silently does not hold.
//!
//! The validator's own list (`Draft::is_known_keyword`, from the
//! `referencing` crate) covers the keywords that validate or refer; the
//! annotations it leaves out, and what 2020-12 dropped but still lists for
//! compatibility, are below, from the drafts' meta-schemas:
//! <http://json-schema.org/draft-04/schema>, `draft-06/schema`,
//! `draft-07/schema` (`properties`), and 2019-09's and 2020-12's
//! `meta/core`, `meta/meta-data` and `meta/applicator`.

use jsonschema::Draft;

/// Annotation keywords and the first draft whose meta-schema has them.
const ANNOTATIONS: &[(&str, Draft)] = &[
    ("title", Draft::Draft4),
    ("description", Draft::Draft4),
    ("default", Draft::Draft4),
    ("examples", Draft::Draft6),
    ("$comment", Draft::Draft7),
    ("readOnly", Draft::Draft7),
    ("writeOnly", Draft::Draft7),
    ("deprecated", Draft::Draft201909),
    ("$vocabulary", Draft::Draft201909),
];

/// Keywords 2020-12 replaced: its meta-schema lists `$recursiveRef` and
/// `$recursiveAnchor` only as deprecated (the validator compiles them for
/// 2019-09 alone), and its `meta/applicator` has no `additionalItems`.
const DROPPED_IN_2020: &[&str] = &["$recursiveRef", "$recursiveAnchor", "additionalItems"];

/// What to write instead of a keyword in a draft that lacks it, when that
/// draft has the replacement.
const INSTEAD: &[(&str, &str, &str)] = &[
    ("$defs", "definitions", "`definitions`"),
    (
        "dependentRequired",
        "dependencies",
        "`dependencies` with a list of names",
    ),
    (
        "dependentSchemas",
        "dependencies",
        "`dependencies` with a schema",
    ),
    (
        "prefixItems",
        "additionalItems",
        "`items` with a list of schemas",
    ),
    (
        "additionalItems",
        "prefixItems",
        "`items` after `prefixItems`",
    ),
    ("$anchor", "$id", "`$id: \"#name\"`"),
    ("$anchor", "id", "`id: \"#name\"`"),
    ("$id", "id", "`id`"),
    ("id", "$id", "`$id`"),
    ("$recursiveRef", "$dynamicRef", "`$dynamicRef`"),
    ("$recursiveAnchor", "$dynamicAnchor", "`$dynamicAnchor`"),
    ("$dynamicRef", "$recursiveRef", "`$recursiveRef`"),
    ("$dynamicAnchor", "$recursiveAnchor", "`$recursiveAnchor`"),
];

/// Every draft fleetform validates, oldest first, with its name.
const ALL: &[(Draft, &str)] = &[
    (Draft::Draft4, "draft-04"),
    (Draft::Draft6, "draft-06"),
    (Draft::Draft7, "draft-07"),
    (Draft::Draft201909, "draft 2019-09"),
    (Draft::Draft202012, "draft 2020-12"),
];

pub fn name(draft: Draft) -> &'static str {
    ALL.iter()
        .find(|(d, _)| *d == draft)
        .map_or("draft 2020-12", |(_, n)| n)
}

/// Whether `draft` has `keyword`.
pub fn has(draft: Draft, keyword: &str) -> bool {
    let draft = if draft == Draft::Unknown {
        Draft::Draft202012
    } else {
        draft
    };
    if let Some((_, since)) = ANNOTATIONS.iter().find(|(k, _)| *k == keyword) {
        return draft >= *since;
    }
    if draft == Draft::Draft202012 && DROPPED_IN_2020.contains(&keyword) {
        return false;
    }
    draft.is_known_keyword(keyword)
}

/// Why `keyword` does nothing in `draft` and what to do, when some other
/// draft has it; `None` when no draft does (not a keyword at all).
pub fn lacks(draft: Draft, keyword: &str) -> Option<String> {
    if has(draft, keyword) {
        return None;
    }
    let others: Vec<&str> = ALL
        .iter()
        .filter(|(d, _)| has(*d, keyword))
        .map(|(_, n)| *n)
        .collect();
    if others.is_empty() {
        return None;
    }
    let instead = INSTEAD
        .iter()
        .find(|(k, alt, _)| *k == keyword && has(draft, alt))
        .map(|(_, _, how)| format!("write {how}, or "))
        .unwrap_or_default();
    Some(format!(
        "{} does not have `{keyword}`, so it is ignored: {instead}declare a draft that has it ({}) in `$schema`",
        name(draft),
        others.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_keyword_a_draft_lacks_is_said_with_what_to_do() {
        let d7 = |k| lacks(Draft::Draft7, k);
        assert_eq!(
            d7("unevaluatedProperties").unwrap(),
            "draft-07 does not have `unevaluatedProperties`, so it is ignored: declare a draft that has it (draft 2019-09, draft 2020-12) in `$schema`"
        );
        assert!(d7("dependentRequired")
            .unwrap()
            .contains("write `dependencies` with a list of names, or declare"));
        assert!(d7("$defs").unwrap().contains("write `definitions`"));
        assert!(d7("prefixItems").unwrap().contains("(draft 2020-12)"));
        for ok in [
            "definitions",
            "dependencies",
            "$comment",
            "if",
            "contentMediaType",
            "$id",
            "title",
        ] {
            assert_eq!(d7(ok), None, "{ok}");
        }
        assert!(lacks(Draft::Draft4, "$id").unwrap().contains("write `id`"));
        assert!(lacks(Draft::Draft4, "const").is_some());
        assert!(lacks(Draft::Draft6, "$comment").is_some());
        assert!(lacks(Draft::Draft201909, "$dynamicRef")
            .unwrap()
            .contains("write `$recursiveRef`"));
        assert!(lacks(Draft::Draft202012, "$recursiveRef")
            .unwrap()
            .contains("write `$dynamicRef`"));
        assert!(lacks(Draft::Draft202012, "additionalItems").is_some());
        assert_eq!(lacks(Draft::Draft202012, "x-vendor"), None);
        for k in [
            "unevaluatedItems",
            "dependentSchemas",
            "prefixItems",
            "$anchor",
            "minContains",
        ] {
            assert_eq!(lacks(Draft::Draft202012, k), None, "{k}");
        }
    }
}
