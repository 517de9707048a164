//! The manager's schema as its authors write it (issue #35): `format`
//! asserted (with `cidr`), `$schema` drafts, lint of typos, `$ref`s to
//! files inside the manager repo, leading-zero numbers and template-looking
//! values.

use std::path::Path;

use crate::common::{fleetform_bin, stderr, stdout, Fixture};

/// `fleetform validate --schema schema.json FILE` in `dir`.
fn validate(dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut cmd = fleetform_bin();
    cmd.current_dir(dir)
        .args(["validate", "--schema", "schema.json"])
        .args(extra)
        .arg("v.yml");
    cmd.output().expect("runs")
}

fn write(dir: &Path, schema: &str, values: &str) {
    std::fs::write(dir.join("schema.json"), schema).unwrap();
    std::fs::write(dir.join("v.yml"), values).unwrap();
}

const FORMATS: &str = r#"{"type": "object", "properties": {
  "ip": {"type": "string", "format": "ipv4"},
  "day": {"type": "string", "format": "date"},
  "net": {"type": "string", "format": "cidr"}
}}"#;

#[test]
fn formats_are_asserted_by_default_with_cidr() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        FORMATS,
        "ip: 999.1.1.1\nday: 2026-02-30\nnet: 10.0.0.0/33\n",
    );
    let out = validate(dir.path(), &[]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("v.yml:1:5: /ip: \"999.1.1.1\" is not a \"ipv4\""),
        "{err}"
    );
    assert!(err.contains("v.yml:2:6: /day:"), "{err}");
    assert!(
        err.contains("v.yml:3:6: /net: \"10.0.0.0/33\" is not a \"cidr\""),
        "{err}"
    );

    write(
        dir.path(),
        FORMATS,
        "ip: 10.1.1.1\nday: 2026-02-28\nnet: 2001:db8::/32\n",
    );
    let out = validate(dir.path(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn schema_formats_annotate_in_fleetform_yml_lets_any_string_through() {
    let fx = Fixture::new();
    let schema = fx.read("manager/schema/variables.schema.json").replace(
        r#""project_name": {"#,
        r#""admin_ip": {"type": "string", "format": "ipv4"},
    "project_name": {"#,
    );
    fx.write("manager/schema/variables.schema.json", &schema);
    fx.append(
        "customers/acme/infra/variables.yml",
        "admin_ip: 999.1.1.1\n",
    );
    let run = || {
        fx.fleetform()
            .args(["validate", "../customers/acme/infra/variables.yml"])
            .output()
            .unwrap()
    };
    let out = run();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("is not a \"ipv4\""),
        "{}",
        stderr(&out)
    );

    let config = fx.read("manager/fleetform.yml").replace(
        "schema: schema/variables.schema.json",
        "schema: schema/variables.schema.json\nschema_formats: annotate",
    );
    fx.write("manager/fleetform.yml", &config);
    let out = run();
    assert!(out.status.success(), "{}", stderr(&out));
}

const TYPO: &str = r##"{"type": "object", "additionalproperties": false,
  "required": ["name", "nmae"],
  "properties": {"name": {"type": "string"}},
  "$defs": {"unused": {"$ref": "#/$defs/nowhere"}}}"##;

#[test]
fn schema_lint_warns_and_fails_with_strict() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), TYPO, "name: x\nnmae: y\n");
    let out = validate(dir.path(), &[]);
    let err = stderr(&out);
    assert!(out.status.success(), "warnings only: {err}");
    for expected in [
        "warning: schema.json:1:20: unknown keyword `additionalproperties` is ignored: did you mean `additionalProperties`? (at /additionalproperties)",
        "warning: schema.json:2:24: `nmae` is required but `properties` does not declare it",
        "warning: schema.json:4:24: `$ref: #/$defs/nowhere` resolves nowhere in this schema (at /$defs/unused/$ref)",
    ] {
        assert!(err.contains(expected), "{expected}\n{err}");
    }
    assert!(stdout(&out).contains("ok      v.yml"), "{}", stdout(&out));

    let out = validate(dir.path(), &["--strict"]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("error: schema.json:1:20: unknown keyword"),
        "{err}"
    );
    assert!(
        err.contains("3 finding(s) in the schema (--strict)"),
        "{err}"
    );

    // A clean schema passes --strict.
    write(dir.path(), FORMATS, "ip: 10.0.0.1\n");
    let out = validate(dir.path(), &["--strict"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
}
