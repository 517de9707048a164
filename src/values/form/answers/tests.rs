use super::*;
use crate::values::form::fields::fields;
use serde_json::json;

fn form() -> Vec<Field> {
    fields(&json!({
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "cloud": {"enum": ["aws", "gcp"]},
            "public": {"type": "boolean"},
            "size": {"type": "integer"},
            "ratio": {"type": "number"},
            "tags": {"type": "object", "additionalProperties": {"type": "string"}}
        }
    }))
    .unwrap()
}

/// An issue body as GitHub writes it for the form.
const BODY: &str = "### name\n\nhooli\n\n### cloud\n\ngcp\n\n### public\n\n- [ ] Set to true\n- [X] Set to false\n\n### size\n\n3\n\n### ratio\n\n_No response_\n\n### tags\n\n```yaml\nteam: web\n```\n";

#[test]
fn a_form_issue_gives_each_answer_by_kind() {
    let got = read(BODY, &form()).unwrap();
    let shown: Vec<(String, Value)> = got
        .into_iter()
        .map(|a| (a.path.join("."), a.value))
        .collect();
    assert_eq!(
        shown,
        vec![
            ("name".into(), json!("hooli")),
            ("cloud".into(), json!("gcp")),
            ("public".into(), json!(false)),
            ("size".into(), json!(3)),
            ("tags".into(), json!({"team": "web"})),
        ]
    );
}

#[test]
fn an_edited_body_with_windows_line_ends_reads_the_same() {
    let crlf = BODY.replace('\n', "\r\n");
    assert_eq!(read(&crlf, &form()).unwrap(), read(BODY, &form()).unwrap());
}

#[test]
fn hostile_bodies_are_refused_by_field_and_line_and_never_echoed() {
    let cases: &[(&str, &str)] = &[
        ("### name\n\na\n\n### name\n\nb\n", "answered twice"),
        ("### secret_field\n\nx\n", "not a field of this form"),
        ("### size\n\n1e999\n", "not a whole number"),
        ("### ratio\n\nNaN\n", "not a number"),
        ("### cloud\n\nazure\n", "not one of the form's options"),
        (
            "### public\n\n- [X] Set to true\n- [X] Set to false\n",
            "both boxes",
        ),
        (
            "### public\n\n- [X] rm -rf\n",
            "not one of the form's boxes",
        ),
        ("### name\n\nline one\nline two\n", "one line was expected"),
        ("### name\n\na\u{7}b\n", "control character"),
        (
            "### tags\n\n```yaml\na: &x [*x, *x]\nb: !!binary x\n```\n",
            "not YAML",
        ),
        ("### tags\n\n```yaml\na: 1\na: 2\n```\n", "not YAML"),
    ];
    for (body, want) in cases {
        let errs = read(body, &form()).unwrap_err();
        let text = errs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(text.contains(want), "{body:?}: {text}");
        assert!(text.contains("line "), "{text}");
        assert!(
            !text.contains("rm -rf") && !text.contains("line two"),
            "{text}"
        );
    }
}

#[test]
fn a_heading_inside_a_yaml_answer_is_not_a_field() {
    let body = "### tags\n\n```yaml\nnote: |\n  ### name\n  evil\n```\n";
    let got = read(body, &form()).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].value, json!({"note": "### name\nevil\n"}));
}

#[test]
fn a_body_longer_than_github_allows_is_refused() {
    let body = format!("### name\n\n{}\n", "a".repeat(MAX_BODY_CHARS));
    let errs = read(&body, &form()).unwrap_err();
    assert!(errs[0].problem.contains("65536"), "{errs:?}");
}
