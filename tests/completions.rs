//! `fleetform completions SHELL`: clap's generator for bash, zsh and fish.

use crate::common;

use common::{fleetform_bin, stderr, stdout};

#[test]
fn each_shell_gets_a_script_naming_the_subcommands() {
    for shell in ["bash", "zsh", "fish"] {
        let out = fleetform_bin()
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        assert!(script.len() > 1000, "{shell}: {script}");
        for sub in [
            "validate",
            "plan",
            "apply",
            "customers",
            "init",
            "completions",
        ] {
            assert!(script.contains(sub), "{shell} misses {sub}");
        }
    }
    // Nested subcommands too.
    let out = fleetform_bin()
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(stdout(&out).contains("rotate-key"));
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    for args in [&["completions", "powershell"][..], &["completions"][..]] {
        let out = fleetform_bin().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).is_empty());
    }
}
