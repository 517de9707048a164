//! Issue #50: the schema's `$ref`s as JSON Schema resolves them (against
//! the nearest enclosing `$id`), a used `$ref` that leads nowhere and a
//! `$ref` cycle (in one file or across two) refused where they are, and
//! the lint of keywords the declared draft does not have.

use std::path::Path;

use crate::common::{self, stderr, stdout};
use crate::schema::authoring::{validate, write};

/// `file:line:col` of the `n`th (from 0) `"$ref"` key in `text`.
fn at_ref(file: &str, text: &str, n: usize) -> String {
    at_key(file, text, "$ref", n)
}

/// `file:line:col` of the `n`th (from 0) key `key` in `text`, counted in
/// the text itself (independently of fleetform's positions).
fn at_key(file: &str, text: &str, key: &str, n: usize) -> String {
    let quoted = format!("\"{key}\":");
    let offset = text.match_indices(&quoted).nth(n).expect("the key").0;
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("{file}:{line}:{col}")
}

/// The run is refused as a schema error (exit 2) naming `at`, and under
/// `--json` prints one JSON error object saying the same.
fn refused_at(dir: &Path, at: &str, what: &str) {
    let out = validate(dir, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(at) && err.contains(what), "{at} {what}\n{err}");
    let out = validate(dir, &["--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", stdout(&out)));
    assert_eq!(doc["error"]["kind"], "schema", "{doc}");
    assert_eq!(doc["error"]["exit_code"], 2, "{doc}");
    let message = doc["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(at) && message.contains(what), "{doc}");
}

/// A subschema with its own `$id` (absolute, relative, with an anchor)
/// resolves its `#…` refs against that `$id`: no lint warning, `--strict`
/// passes, and the refs hold. A pointer that exists only at the root is
/// not found from inside it.
#[test]
fn refs_inside_a_subschema_with_its_own_id_resolve_against_it() {
    let dir = tempfile::tempdir().unwrap();
    let schema = r##"{"type": "object",
  "properties": {
    "abs": {"$ref": "https://x.example/s.json"},
    "rel": {"$ref": "sub/item.json"},
    "anchored": {"$ref": "sub/item.json#word"}},
  "$defs": {
    "s": {"$id": "https://x.example/s.json",
      "$defs": {"y": {"type": "string"}},
      "properties": {"a": {"$ref": "#/$defs/y"}}},
    "item": {"$id": "sub/item.json",
      "$defs": {"n": {"type": "integer"}, "w": {"$anchor": "word", "minLength": 3}},
      "properties": {"n": {"$ref": "#/$defs/n"}, "w": {"$ref": "#word"}}}}}"##;
    write(
        dir.path(),
        schema,
        "abs: {a: x}\nrel: {n: 1, w: long}\nanchored: abc\n",
    );
    let out = validate(dir.path(), &["--strict"]);
    common::assert_ok(&out);
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    for (bad, at) in [
        ("abs: {a: 1}\n", "/abs/a"),
        ("rel: {n: x}\n", "/rel/n"),
        ("rel: {w: ab}\n", "/rel/w"),
        ("anchored: ab\n", "/anchored"),
    ] {
        write(dir.path(), schema, bad);
        let out = validate(dir.path(), &[]);
        assert_eq!(out.status.code(), Some(1), "{bad}: {}", stderr(&out));
        assert!(stderr(&out).contains(at), "{bad}: {}", stderr(&out));
    }
    // `#/$defs/top` is the root's, not the `$id`'s: used, it is refused.
    let hostile = schema.replace(
        r##""properties": {"a": {"$ref": "#/$defs/y"}}"##,
        r##""properties": {"a": {"$ref": "#/$defs/top"}}"##,
    );
    let hostile = hostile.replacen(r#""$defs": {"#, r#""$defs": {"top": {},"#, 1);
    write(dir.path(), &hostile, "abs: {a: x}\n");
    refused_at(
        dir.path(),
        &at_ref("schema.json", &hostile, 3),
        "`$ref: #/$defs/top`",
    );
}

/// A keyword the declared draft lacks is a warning where it is (with what
/// to write instead), an error with `--strict`; the drafts that have it
/// are quiet.
#[test]
fn keywords_the_declared_draft_lacks_are_found_where_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let body = r##"
  "type": "object",
  "unevaluatedProperties": false,
  "dependentRequired": {"a": ["b"]},
  "dependentSchemas": {"a": {"required": ["c"]}},
  "properties": {"a": {}, "b": {}, "l": {"prefixItems": [{"type": "string"}]},
    "d": {"$ref": "#/$defs/d"}, "e": {"$ref": "#/definitions/e"}},
  "$defs": {"d": {"type": "string"}},
  "definitions": {"e": {"type": "string"}}}"##;
    let draft7 = format!("{{\"$schema\": \"http://json-schema.org/draft-07/schema#\",{body}");
    write(dir.path(), &draft7, "a: 1\nb: 2\nd: x\n");
    let out = validate(dir.path(), &[]);
    common::assert_ok_for(format_args!("warnings only"), &out);
    let err = stderr(&out);
    for (key, rest) in [
        ("unevaluatedProperties", "so it is ignored: declare a draft that has it (draft 2019-09, draft 2020-12) in `$schema`"),
        ("dependentRequired", "write `dependencies` with a list of names"),
        ("dependentSchemas", "write `dependencies` with a schema"),
        ("prefixItems", "write `items` with a list of schemas"),
        ("$defs", "write `definitions`"),
    ] {
        let at = at_key("schema.json", &draft7, key, 0);
        let expected = format!("warning: {at}: draft-07 does not have `{key}`, so it is ignored: ");
        assert!(err.contains(&expected), "{expected}\n{err}");
        assert!(err.contains(rest), "{rest}\n{err}");
    }
    assert!(!err.contains("`definitions`, so"), "{err}");
    let out = validate(dir.path(), &["--strict"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("5 findings in the schema (--strict)"),
        "{}",
        stderr(&out)
    );

    // The same keywords in 2020-12 are its own: no warning, and they hold.
    let draft2020 = format!("{{{body}");
    write(dir.path(), &draft2020, "a: 1\nb: 2\nc: 3\nd: x\n");
    let out = validate(dir.path(), &["--strict"]);
    assert!(!stderr(&out).contains("does not have"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Unevaluated properties"),
        "{}",
        stderr(&out)
    );

    // Older and newer drafts alike: `$id` and `const` in draft-04,
    // `$recursiveRef` in 2020-12.
    for (schema, what) in [
        (
            r#"{"$schema": "http://json-schema.org/draft-04/schema#", "$id": "x.json", "const": 1}"#,
            "draft-04 does not have `$id`, so it is ignored: write `id`, or",
        ),
        (
            r#"{"$schema": "http://json-schema.org/draft-04/schema#", "const": 1}"#,
            "draft-04 does not have `const`",
        ),
        (
            r##"{"properties": {"a": {"$recursiveRef": "#"}}}"##,
            "draft 2020-12 does not have `$recursiveRef`, so it is ignored: write `$dynamicRef`",
        ),
    ] {
        write(dir.path(), schema, "a: 1\n");
        let out = validate(dir.path(), &[]);
        assert!(stderr(&out).contains(what), "{what}\n{}", stderr(&out));
    }
}

/// A used `$ref` that leads nowhere, in any form (pointer, anchor, another
/// file's pointer, an `$id` URI no document has), is a schema error at the
/// `$ref` (exit 2, a JSON error object with `--json`); unused, a warning.
#[test]
fn a_used_ref_that_leads_nowhere_is_refused_where_it_is() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("b.json"),
        r#"{"$defs": {"x": {"type": "string"}}}"#,
    )
    .unwrap();
    for (target, what) in [
        (
            "#/$defs/x",
            "Pointer '/$defs/x' does not exist; point it at a schema that exists",
        ),
        (
            "#/properties/a/0",
            "Pointer '/properties/a/0' does not exist",
        ),
        ("#nope", "Anchor 'nope' does not exist"),
        ("b.json#/$defs/nope", "Pointer '/$defs/nope' does not exist"),
        (
            "https://x.example/nope.json",
            "fleetform never fetches schemas from the network",
        ),
        ("missing.json", "missing.json`: "),
    ] {
        let schema = format!(
            "{{\"type\": \"object\",\n  \"properties\": {{\n    \"a\": {{\"$ref\": \"{target}\"}}}}}}"
        );
        write(dir.path(), &schema, "a: 1\n");
        refused_at(dir.path(), &at_ref("schema.json", &schema, 0), what);
        assert!(
            stderr(&validate(dir.path(), &[]))
                .contains(&format!("`$ref: {target}` (at /properties/a/$ref)")),
            "{target}"
        );
    }
    // Reached through another file, it is located in that file.
    std::fs::write(
        dir.path().join("b.json"),
        "{\"$defs\": {\n  \"x\": {\"$ref\": \"#/$defs/gone\"}}}",
    )
    .unwrap();
    write(
        dir.path(),
        r#"{"properties": {"a": {"$ref": "b.json#/$defs/x"}}}"#,
        "a: 1\n",
    );
    let b = std::fs::read_to_string(dir.path().join("b.json")).unwrap();
    refused_at(dir.path(), &at_ref("b.json", &b, 0), "`$ref: #/$defs/gone`");
}

/// A cycle of `$ref`s back to the same schema for the same value, in any
/// shape, is refused at its first `$ref`, naming every `$ref` on it;
/// recursion through a property is not a cycle.
#[test]
fn a_ref_cycle_is_refused_where_it_is_whatever_its_shape() {
    let dir = tempfile::tempdir().unwrap();
    let b = "{\"$defs\": {\n  \"x\": {\"$ref\": \"schema.json#/properties/a\"}}}";
    for (schema, b_text, n) in [
        // Across two files: the whole schemas, then a pointer into each.
        (r#"{"$ref": "b.json"}"#, r#"{"$ref": "schema.json"}"#, 0),
        (
            r#"{"properties": {"a": {"$ref": "b.json#/$defs/x"}}}"#,
            b,
            0,
        ),
        // In one file: a pair, a self-reference, through `allOf`, `not`,
        // `if`, an anchor and an `$id`.
        (
            r##"{"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}}"##,
            "{}",
            1,
        ),
        (
            r##"{"properties": {"p": {"$ref": "#/$defs/a"}},
  "$defs": {"a": {"$ref": "#/$defs/a"}}}"##,
            "{}",
            1,
        ),
        (r##"{"type": "string", "allOf": [{"$ref": "#"}]}"##, "{}", 0),
        (r##"{"not": {"not": {"$ref": "#"}}}"##, "{}", 0),
        (
            r##"{"if": {"$ref": "#/$defs/a"}, "$defs": {"a": {"$anchor": "top", "anyOf": [{"$ref": "#top"}]}}}"##,
            "{}",
            1,
        ),
        (
            r##"{"$ref": "https://x.example/a.json", "$defs": {"a": {"$id": "https://x.example/a.json", "oneOf": [{"$ref": "a.json"}]}}}"##,
            "{}",
            1,
        ),
    ] {
        write(dir.path(), schema, "a: 1\n");
        std::fs::write(dir.path().join("b.json"), b_text).unwrap();
        refused_at(
            dir.path(),
            &at_ref("schema.json", schema, n),
            "`$ref` cycle",
        );
        let err = stderr(&validate(dir.path(), &[]));
        assert!(
            err.contains("comes back to the same schema for the same value"),
            "{err}"
        );
        if b_text.contains("$ref") {
            assert!(err.contains(" → ") && err.contains("b.json:"), "{err}");
        }
    }
    write(
        dir.path(),
        r##"{"type": "object", "properties": {"c": {"$ref": "#"}, "n": {"type": "integer"}}}"##,
        "c: {c: {n: 1}}\n",
    );
    common::assert_ok(&validate(dir.path(), &["--strict"]));
    write(
        dir.path(),
        r##"{"type": "object", "properties": {"c": {"$ref": "#"}, "n": {"type": "integer"}}}"##,
        "c: {c: {n: x}}\n",
    );
    assert_eq!(validate(dir.path(), &[]).status.code(), Some(1));
}
