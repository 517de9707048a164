//! How fleetform says an error: what went wrong, where in a file when there
//! is a place, and what to do, shown once by the output layer, on a
//! terminal, as an Actions annotation and in a JSON error object.

use crate::common;

use common::stderr;

/// `fleetform` in a fresh folder with a scrubbed environment.
fn fleetform_in(dir: &std::path::Path) -> common::Run {
    common::run_bin(&[]).current_dir(dir)
}

#[test]
fn an_error_says_what_where_and_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // A usage error with what to do.
    let bad_env = ["init", "--dir", "m", "--environments", "Staging"];
    let plain = fleetform_in(dir).args(bad_env).code(2);
    let actions = fleetform_in(dir)
        .env("GITHUB_ACTIONS", "true")
        .args(bad_env)
        .code(2);
    let json = fleetform_in(dir)
        .env("FLEETFORM_JSON", "1")
        .args(bad_env)
        .code(2);
    // A located error in fleetform.yml.
    std::fs::write(dir.join("fleetform.yml"), "version: 1\nmodules: x\n").unwrap();
    let located = fleetform_in(dir).args(["validate"]).code(2);
    let located_actions = fleetform_in(dir)
        .env("GITHUB_ACTIONS", "true")
        .args(["validate"])
        .code(2);
    // No fleetform.yml at all: the typed error's help.
    let empty = tempfile::tempdir().unwrap();
    let missing = fleetform_in(empty.path()).args(["validate"]).code(2);
    let shown = [
        ("a usage error", stderr(&plain)),
        ("under Actions", stderr(&actions)),
        ("as JSON (stdout)", common::stdout(&json)),
        ("in a file", stderr(&located)),
        ("in a file, under Actions", stderr(&located_actions)),
        ("a typed error", stderr(&missing)),
    ]
    .map(|(what, text)| format!("## {what}\n{text}"))
    .join("\n");
    let root = empty.path().display().to_string();
    insta::with_settings!({filters => vec![(root.as_str(), "[DIR]")]}, {
        insta::assert_snapshot!("error_what_where_help", shown);
    });
}
