//! `fleetform completions SHELL`: clap's generator for bash, zsh and fish.

use crate::common;

use common::run_bin;

#[test]
fn each_shell_gets_a_script_naming_the_subcommands() {
    for shell in ["bash", "zsh", "fish"] {
        let script = run_bin(&["completions", shell]).ok().stdout;
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
    run_bin(&["completions", "bash"])
        .ok()
        .stdout_has("rotate-key");
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    for (args, why) in [
        (
            &["completions", "powershell"][..],
            "invalid value 'powershell'",
        ),
        (&["completions"][..], "required arguments were not provided"),
    ] {
        let out = run_bin(args).code(2);
        out.stderr_has(why).stderr_has("try '--help'");
        assert!(out.stdout.is_empty(), "{out}");
    }
}
