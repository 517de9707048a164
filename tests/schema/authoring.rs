//! The manager's schema as its authors write it (issue #35): `format`
//! asserted (with `cidr`), `$schema` drafts, lint of typos, `$ref`s to
//! files inside the manager repo, leading-zero numbers and template-looking
//! values; the trigger behind the relay honours `schema_formats` too.

use std::path::Path;

use crate::common::{self, stderr, stdout, Fixture};
use crate::support::oidc::REQUEST_TOKEN;
use crate::world::{ok, ACME, MANAGER};

/// `fleetform validate --schema schema.json FILE` in `dir`.
pub(crate) fn validate(dir: &Path, extra: &[&str]) -> common::Ran {
    common::run_bin(&["validate", "--schema", "schema.json"])
        .current_dir(dir)
        .args(extra)
        .arg("v.yml")
        .output()
}

pub(crate) fn write(dir: &Path, schema: &str, values: &str) {
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
    common::assert_fails(&out);
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
    common::assert_ok(&out);
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
        common::Run::from(fx.fleetform())
            .args(["validate", "../customers/acme/infra/variables.yml"])
            .output()
    };
    let out = run();
    common::assert_fails(&out);
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
    common::assert_ok(&out);
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
    common::assert_ok_for(format_args!("warnings only"), &out);
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
    common::assert_fails(&out);
    assert!(
        err.contains("error: schema.json:1:20: unknown keyword"),
        "{err}"
    );
    assert!(err.contains("3 findings in the schema (--strict)"), "{err}");

    // A clean schema passes --strict.
    write(dir.path(), FORMATS, "ip: 10.0.0.1\n");
    let out = validate(dir.path(), &["--strict"]);
    common::assert_ok(&out);
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
}

/// Issue #50: a misspelt format is found where it is (a warning, an
/// error with --strict), and the idn formats are asserted.
#[test]
fn misspelt_formats_are_found_and_idn_formats_asserted() {
    let dir = tempfile::tempdir().unwrap();
    let schema = r#"{"type": "object",
  "properties": {"at": {"type": "string", "format": "date_time"},
    "host": {"type": "string", "format": "idn-hostname"},
    "mail": {"type": "string", "format": "idn-email"}}}"#;
    write(
        dir.path(),
        schema,
        "at: x\nhost: b\u{fc}cher.example\nmail: ops@b\u{fc}cher.example\n",
    );
    let out = validate(dir.path(), &[]);
    common::assert_ok_for(format_args!("warnings only"), &out);
    let expected = "warning: schema.json:2:43: unknown format `date_time` is not checked: did you mean `date-time`? (at /properties/at/format)";
    assert!(stderr(&out).contains(expected), "{}", stderr(&out));
    common::assert_fails(&validate(dir.path(), &["--strict"]));
    for (bad, what) in [
        ("host: a..b\n", "idn-hostname"),
        ("mail: not-an-email\n", "idn-email"),
    ] {
        write(dir.path(), schema, bad);
        let out = validate(dir.path(), &[]);
        common::assert_fails(&out);
        assert!(stderr(&out).contains(what), "{what}: {}", stderr(&out));
    }
}

#[test]
fn schema_drafts_are_honoured_or_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let draft7 = r#"{"$schema": "http://json-schema.org/draft-07/schema#",
      "type": "object", "properties": {"pair": {"items": [{"type": "string"}, {"type": "integer"}]}}}"#;
    write(dir.path(), draft7, "pair: [a, 1]\n");
    let out = validate(dir.path(), &[]);
    common::assert_ok(&out);
    write(dir.path(), draft7, "pair: [a, b]\n");
    let out = validate(dir.path(), &[]);
    assert!(
        stderr(&out).contains("v.yml:1:11: /pair/1: \"b\" is not of type \"integer\""),
        "{}",
        stderr(&out)
    );

    let draft3 = r#"{"$schema": "http://json-schema.org/draft-03/schema#", "type": "object"}"#;
    write(dir.path(), draft3, "a: 1\n");
    let out = validate(dir.path(), &[]);
    let err = stderr(&out);
    common::assert_fails(&out);
    assert!(
        err.contains("schema.json: `$schema: http://json-schema.org/draft-03/schema#` is not a draft fleetform validates\nhelp: use `https://json-schema.org/draft/2020-12/schema` (draft 2020-12), `https://json-schema.org/draft/2019-09/schema` (draft 2019-09), `http://json-schema.org/draft-07/schema` (draft-07)"),
        "{err}"
    );
}

/// The example manager's schema (published under an https `$id`) with
/// `region` taken from `target`.
fn manager_with_ref(target: &str) -> Fixture {
    let fx = Fixture::new();
    let schema = fx.read("manager/schema/variables.schema.json").replace(
        r#""project_name": {"#,
        &format!(
            r#""home": {{"$ref": "{target}"}},
    "project_name": {{"#
        ),
    );
    fx.write("manager/schema/variables.schema.json", &schema);
    fx.write(
        "manager/schema/common.json",
        r#"{"$defs": {"region": {"type": "string", "pattern": "^[a-z]+-[a-z]+-[0-9]$"}}}"#,
    );
    fx.write("outside.json", r#"{"type": "string"}"#);
    fx
}

fn validate_acme(fx: &Fixture, extra: &str) -> crate::common::Ran {
    fx.append("customers/acme/infra/variables.yml", extra);
    common::Run::from(fx.fleetform())
        .args(["validate", "../customers/acme/infra/variables.yml"])
        .output()
}

#[test]
fn refs_resolve_to_files_inside_the_manager_repo_only() {
    let fx = manager_with_ref("common.json#/$defs/region");
    let out = validate_acme(&fx, "home: eu-west-1\n");
    common::assert_ok(&out);
    let fx = manager_with_ref("common.json#/$defs/region");
    let out = validate_acme(&fx, "home: Europe\n");
    assert!(
        stderr(&out).contains("/home: \"Europe\" does not match"),
        "{}",
        stderr(&out)
    );

    // `../../outside.json` stops at the `$id`'s host root (the manager
    // repo's root); a `file:` URI can name any path.
    let fx = manager_with_ref("../../outside.json");
    let out = validate_acme(&fx, "home: x\n");
    assert!(
        stderr(&out).contains("`outside.json`: No such file or directory"),
        "{}",
        stderr(&out)
    );
    let outside = format!("file://{}", fx.path("outside.json").display());
    let fx = manager_with_ref(&outside);
    let out = validate_acme(&fx, "home: x\n");
    let err = stderr(&out);
    common::assert_fails(&out);
    assert!(
        err.contains("variables.schema.json:")
            && err.contains("a `$ref` cannot be resolved: `$ref: file://"),
        "{err}"
    );
    assert!(
        err.contains("outside.json` is outside the manager repo"),
        "{err}"
    );

    // A link inside the repo that leads out is refused like every manager path.
    let fx = manager_with_ref("linked.json");
    std::os::unix::fs::symlink(
        fx.path("outside.json"),
        fx.path("manager/schema/linked.json"),
    )
    .unwrap();
    let out = validate_acme(&fx, "home: x\n");
    assert!(
        stderr(&out).contains("linked.json` is outside the manager repo"),
        "{}",
        stderr(&out)
    );

    let fx = manager_with_ref("https://schemas.example.com/region.json");
    let out = validate_acme(&fx, "home: x\n");
    let err = stderr(&out);
    common::assert_fails(&out);
    assert!(
        err.contains("a `$ref` cannot be resolved: `$ref: https://schemas.example.com/region.json` (at /properties/home/$ref): fleetform never fetches schemas from the network"),
        "{err}"
    );
    assert!(
        err.contains("copy `https://schemas.example.com/region.json` into the manager repo"),
        "{err}"
    );
    assert!(!err.contains("resolve-http"), "{err}");
}

#[test]
fn a_ref_beside_a_schema_given_on_its_own_resolves() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("port.json"),
        r#"{"type": "integer", "maximum": 65535}"#,
    )
    .unwrap();
    write(
        dir.path(),
        r#"{"properties": {"port": {"$ref": "port.json"}}}"#,
        "port: 70000\n",
    );
    let out = validate(dir.path(), &[]);
    assert!(
        stderr(&out).contains("v.yml:1:7: /port: 70000 is greater than the maximum of 65535"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_number_written_with_a_leading_zero_says_how_to_quote_it() {
    let dir = tempfile::tempdir().unwrap();
    let schema = r#"{"properties": {"zip": {"type": "string"}, "modes": {"items": {"type": "string"}}, "n": {"type": "string"}}}"#;
    write(
        dir.path(),
        schema,
        "zip: 01234\nmodes: [\"0644\", 0755]\nn: 12\n",
    );
    let out = validate(dir.path(), &[]);
    let err = stderr(&out);
    assert!(
        err.contains("v.yml:1:6: /zip: 1234 is not of type \"string\": `01234` in the file is read as a number (unquoted digits are a number in YAML 1.2 and the leading zero is dropped); to keep it as text, quote it: `zip: \"01234\"`"),
        "{err}"
    );
    assert!(err.contains("v.yml:2:17: /modes/1: 755 is not of type \"string\": `0755` in the file is read as a number"), "{err}");
    assert!(err.contains("quote it: `\"0755\"`"), "{err}");
    // A number written as it reads gets the plain message.
    assert!(
        err.contains("v.yml:3:4: /n: 12 is not of type \"string\"\n"),
        "{err}"
    );
}

#[test]
fn another_tools_template_says_how_to_write_it_literally_and_then_renders_as_written() {
    let fx = Fixture::new();
    fx.append(
        "customers/acme/infra/variables.yml",
        "  alert: \"{{ $labels.instance }} is down\"\n",
    );
    let out = common::Run::from(fx.fleetform())
        .args(["validate", "--customer", "acme"])
        .output();
    let err = stderr(&out);
    common::assert_fails(&out);
    assert!(err.contains("template syntax error"), "{err}");
    assert!(
        err.contains("if this one is meant literally (e.g. a Prometheus or Go template), write it as a template that outputs it: {{ '{{ $labels.instance }} is down' }}"),
        "{err}"
    );

    let vars = fx.read("customers/acme/infra/variables.yml").replace(
        "\"{{ $labels.instance }} is down\"",
        "\"{{ '{{ $labels.instance }} is down' }}\"",
    );
    fx.write("customers/acme/infra/variables.yml", &vars);
    let out = common::Run::from(fx.fleetform())
        .args(["validate", "--customer", "acme"])
        .output();
    common::assert_ok(&out);
    let out = common::Run::from(fx.fleetform())
        .args(["render", "--customer", "acme", "--env", "staging"])
        .output();
    assert!(
        stdout(&out).contains("{{ $labels.instance }} is down"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
}

/// The trigger behind the relay checks `format` as `validate` does: with
/// `schema_formats: annotate` in fleetform.yml, `GET /schema` says so and
/// a value no `format: ipv4` allows is dispatched (the schema's `format`
/// is an annotation there), not refused by the customer's trigger.
#[test]
fn the_trigger_behind_the_relay_honours_schema_formats() {
    let mut rw = crate::relay::serve::RelayWorld::new();
    let schema = rw.w.fx.read("manager/schema/variables.schema.json");
    let schema = schema.replacen(
        "\"properties\": {\n",
        "\"properties\": {\n    \"admin_ip\": { \"type\": \"string\", \"format\": \"ipv4\" },\n",
        1,
    );
    assert!(schema.contains("admin_ip"), "{schema}");
    rw.w.fx
        .write("manager/schema/variables.schema.json", &schema);
    rw.w.gh.commit(
        MANAGER,
        "main",
        &[("schema/variables.schema.json", &schema)],
    );
    rw.w.fx
        .append("manager/fleetform.yml", "\nschema_formats: annotate\n");
    let relay = rw.start(4);

    let vars = format!(
        "{}\nadmin_ip: 999.1.1.1\n",
        rw.w.fx.read("customers/acme/infra/variables.yml")
    );
    let sha =
        rw.w.gh
            .commit(ACME, "feature", &[("infra/variables.yml", &vars)]);
    let pr = rw.w.gh.open_pr(ACME, "feature", "main", "an address");
    let token = rw.push_token(ACME, "feature", &sha);
    let auth = format!("Bearer {token}");
    let (status, answer) = crate::relay::serve::http(
        &relay.url,
        "GET",
        "/schema",
        &[("authorization", &auth)],
        b"",
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["schema_formats"], "annotate", "{answer}");

    let id = rw.w.gh.repo_id(ACME);
    rw.issuer.set_runner_claims(rw.issuer.claims(
        ACME,
        id,
        "pull_request",
        "refs/heads/feature",
        &sha,
    ));
    let (cmd, _files) = rw.w.trigger_pr_command(ACME, pr, "feature", &sha);
    let out = common::Run::from(cmd)
        .env_remove("FLEETFORM_TOKEN")
        .env_remove("FLEETFORM_DISPATCH_KEY")
        .env_remove("FLEETFORM_MANAGER_REPO")
        .env("FLEETFORM_RELAY_URL", &relay.url)
        .env(
            "FLEETFORM_RELAY_AUDIENCE",
            crate::relay::serve::RelayWorld::audience(),
        )
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", rw.issuer.request_url())
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN)
        .output();
    ok(&out);
    assert!(
        stdout(&out).contains("dispatched fleetform-plan for acme"),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    // `validate` on the manager's side agrees: the same file is valid.
    let file = rw.w.fx.path("acme-vars.yml");
    std::fs::write(&file, &vars).unwrap();
    let out = common::Run::from(rw.w.fx.fleetform())
        .args(["validate"])
        .arg(&file)
        .output();
    common::assert_ok(&out);
}

/// Issue #50: when validation cannot run (exit 2), `--json` still prints
/// one JSON document: an error object with its kind, exit code and words.
#[test]
fn json_is_json_whatever_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "{\"type\": \"object\", \"$ref\": \"#/$defs/nowhere\"",
        "a: 1\n",
    );
    for extra in [&["--json"][..], &["--json", "--strict"][..]] {
        let out = validate(dir.path(), extra);
        let code = out.status.code().unwrap();
        assert_ne!(code, 0, "{}", stderr(&out));
        let doc: serde_json::Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", stdout(&out)));
        assert_eq!(doc["error"]["exit_code"], code, "{doc}");
        assert!(
            doc["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{doc}"
        );
    }
    // A run that wrote its own JSON is not followed by another document.
    write(
        dir.path(),
        "{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"string\"}}}",
        "a: 1\n",
    );
    let out = validate(dir.path(), &["--json"]);
    common::assert_fails(&out);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(doc.get("error").is_none(), "{doc}");
}

/// Issue #50: raw control characters in a values file (ESC, DEL, C1, NUL)
/// are refused where they are, saying what and how to write it.
#[test]
fn raw_control_characters_are_refused_where_they_are() {
    let dir = tempfile::tempdir().unwrap();
    for (values, at, name) in [
        ("name: red\u{1b}[0m\n", "v.yml:1:10", "ESC"),
        ("name: x\u{0}\n", "v.yml:1:8", "NUL"),
        ("a: 1\nname: \u{9b}x\n", "v.yml:2:7", "C1"),
    ] {
        write(dir.path(), FORMATS, values);
        let out = validate(dir.path(), &[]);
        common::assert_fails(&out);
        let err = stderr(&out);
        assert!(err.contains(at) && err.contains(name), "{values:?}: {err}");
        assert!(!err.contains("unexpected end of stream"), "{err}");
    }
}
