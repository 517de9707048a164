//! The environment fleetform's children (Terraform, its providers, git,
//! policy tools) start with.
//!
//! fleetform holds credentials its children never need: the GitHub tokens
//! it reads (`FLEETFORM_TOKEN`, `GITHUB_TOKEN`, `GH_TOKEN`, …), every
//! `FLEETFORM_*` setting (the dispatch secret among them) and the runner's
//! own (`ACTIONS_RUNTIME_TOKEN`, `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, …), plus
//! the runner's command files (`GITHUB_ENV`, `GITHUB_OUTPUT`, `GITHUB_PATH`,
//! …), through which a child could set variables or outputs for later
//! steps. All of them are removed from every child's environment unless
//! `terraform.pass_env` in fleetform.yml names them (for example
//! `ACTIONS_ID_TOKEN_REQUEST_URL` and `ACTIONS_ID_TOKEN_REQUEST_TOKEN` for a
//! provider that uses GitHub's OIDC itself).

use std::process::Command;

/// Exact names withheld from children besides fleetform's credentials
/// (`util::credentials`, all but the cloud's): the runner's command files.
const WITHHELD: &[&str] = &[
    "GITHUB_ENV",
    "GITHUB_OUTPUT",
    "GITHUB_PATH",
    "GITHUB_STATE",
    "GITHUB_STEP_SUMMARY",
];

/// Prefixes withheld from children: fleetform's own settings and secrets,
/// the runner's tokens and URLs, and action inputs (which may hold tokens).
const WITHHELD_PREFIXES: &[&str] = &["FLEETFORM_", "ACTIONS_", "INPUT_"];

/// True when `name` is withheld from children by default.
pub fn is_withheld(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    WITHHELD.contains(&upper.as_str())
        || WITHHELD_PREFIXES.iter().any(|p| upper.starts_with(p))
        || super::credentials::credential(name).is_some_and(|c| !c.for_children)
}

/// Removes every withheld variable (and any for which `extra` says so)
/// from `cmd`'s environment, except those named in `pass`.
pub fn scrub_env(cmd: &mut Command, pass: &[String], extra: impl Fn(&str) -> bool) {
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if pass.iter().any(|p| p == k.as_ref()) {
            continue;
        }
        if is_withheld(&k) || extra(&k) {
            cmd.env_remove(k.as_ref());
        }
    }
}

/// Variables a policy tool (checkov, conftest) keeps: where programs are,
/// a home and a temporary folder, the locale. Nothing else.
const TOOL_KEEPS: &[&str] = &[
    "PATH",
    "HOME",
    "TMPDIR",
    "TEMP",
    "TMP",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "SYSTEMROOT",
];

/// Starts `cmd` with an environment of [`TOOL_KEEPS`] only: a policy tool
/// reads the plan JSON and needs no credentials at all, so not even the
/// cloud's (`AWS_*`, `ARM_*`, …) or `terraform.pass_env` reach it.
pub fn tool_env(cmd: &mut Command) {
    cmd.env_clear();
    for k in TOOL_KEEPS {
        if let Some(v) = std::env::var_os(k) {
            cmd.env(k, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_runner_files_are_withheld() {
        for k in [
            "GITHUB_TOKEN",
            "FLEETFORM_TOKEN",
            "FLEETFORM_DISPATCH_SECRET",
            "ACTIONS_RUNTIME_TOKEN",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            "GITHUB_ENV",
            "INPUT_TOKEN",
            "github_token",
        ] {
            assert!(is_withheld(k), "{k}");
        }
        for k in ["PATH", "HOME", "AWS_ACCESS_KEY_ID", "GITHUB_SHA", "TF_LOG"] {
            assert!(!is_withheld(k), "{k}");
        }
    }

    /// SECURITY.md (*Proxies and private CAs*): Terraform and its
    /// providers reach their APIs through the same proxy and trust the
    /// same CAs; fleetform's own CA setting stays with fleetform.
    #[test]
    fn proxy_and_ca_variables_reach_terraform_but_fleetforms_own_do_not() {
        for k in [
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "ALL_PROXY",
            "NO_PROXY",
            "no_proxy",
            "SSL_CERT_FILE",
            "SSL_CERT_DIR",
        ] {
            assert!(!is_withheld(k), "{k}");
        }
        assert!(is_withheld("FLEETFORM_GITHUB_CA_FILE"));
    }
}
