//! `fleetform completions SHELL`: clap's own completion script for the
//! command line as it is, on stdout, with customer slugs and environments
//! completed from the manager repo the shell is in: each script asks
//! `fleetform completions --list customers|environments` (hidden) at
//! completion time, for `--customer`, `--env` and the slug of the
//! `customers` subcommands that take one.

use clap::Args;
use std::path::Path;

use super::Cli;
use crate::config::Activity;
use crate::error::{Error, Result};
use crate::output::Output;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum, required_unless_present = "list")]
    pub shell: Option<Shell>,
    /// What the scripts call while completing: the active customers' slugs
    /// or the environments of the manager repo here, one a line.
    #[arg(long, value_enum, hide = true)]
    pub list: Option<Listed>,
}

/// What `completions --list` prints.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Listed {
    Customers,
    Environments,
}

/// The shells `fleetform completions` writes for.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// What the scripts run to list values (errors are not shown while
/// completing).
const CUSTOMERS: &str = "fleetform completions --list customers 2>/dev/null";
const ENVIRONMENTS: &str = "fleetform completions --list environments 2>/dev/null";
/// The `customers` subcommands whose argument is a slug.
const SLUG_COMMANDS: &[&str] = &[
    "show",
    "revoke",
    "dispatch-key",
    "rotate-key",
    "instructions",
];

pub fn run(args: &CompletionsArgs, manager_dir: &Path, out: &Output) -> Result<()> {
    if let Some(what) = args.list {
        return list(what, manager_dir, out);
    }
    let shell = match args.shell {
        Some(Shell::Bash) => clap_complete::Shell::Bash,
        Some(Shell::Zsh) => clap_complete::Shell::Zsh,
        Some(Shell::Fish) => clap_complete::Shell::Fish,
        None => return Err(Error::usage("name the shell: bash, zsh or fish")),
    };
    let mut cmd = <Cli as clap::CommandFactory>::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "fleetform", &mut script);
    let script = String::from_utf8(script)
        .map_err(|e| Error::failed(format!("the completion script is not UTF-8: {e}")))?;
    let script = match shell {
        clap_complete::Shell::Bash => bash(&script),
        clap_complete::Shell::Zsh => zsh(&script),
        _ => fish(&script),
    };
    out.result(script.trim_end());
    Ok(())
}

/// The values themselves, one a line.
fn list(what: Listed, manager_dir: &Path, out: &Output) -> Result<()> {
    let (manager, registry) = crate::config::load(manager_dir)?;
    let values: Vec<&str> = match what {
        Listed::Customers => registry
            .customers
            .iter()
            .filter(|c| c.takes_part(Activity::Shown))
            .map(|c| c.slug.as_str())
            .collect(),
        Listed::Environments => manager.environment_names(),
    };
    if !values.is_empty() {
        out.result(&values.join("\n"));
    }
    Ok(())
}

/// bash: the `--customer` and `--env` cases complete from the lists
/// instead of file names, and the slug subcommands offer the slugs.
fn bash(script: &str) -> String {
    let files = r#"COMPREPLY=($(compgen -f "${cur}"))"#;
    let slug_case = |t: &str| {
        SLUG_COMMANDS.iter().any(|c| {
            t == format!(
                "fleetform__subcmd__customers__subcmd__{})",
                c.replace('-', "__subcmd__")
            )
        })
    };
    let lines: Vec<&str> = script.lines().collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len() + 16);
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        let indent = &line[..line.len() - line.trim_start().len()];
        let before = i
            .checked_sub(1)
            .map(|j| lines[j].trim())
            .unwrap_or_default();
        let list = match before {
            "--customer)" => Some(CUSTOMERS),
            "--env)" => Some(ENVIRONMENTS),
            _ => None,
        };
        if let Some(cmd) = list.filter(|_| t == files) {
            out.push(format!(
                r#"{indent}COMPREPLY=($(compgen -W "$({cmd})" -- "${{cur}}"))"#
            ));
        } else if let Some(flags) = t.strip_prefix("opts=\"").filter(|_| slug_case(before)) {
            out.push(format!("{indent}opts=\"$({CUSTOMERS})\""));
            out.push(format!("{indent}opts=\"${{opts}} {flags}"));
        } else {
            out.push(line.to_string());
        }
    }
    out.join("\n") + "\n"
}

/// zsh: the values of `--customer`, `--env` and the slug argument come
/// from the lists.
fn zsh(script: &str) -> String {
    let helpers = format!(
        "\n_fleetform_customers() {{\n    local -a values\n    values=(${{(f)\"$({CUSTOMERS})\"}})\n    compadd -a values\n}}\n\
         _fleetform_environments() {{\n    local -a values\n    values=(${{(f)\"$({ENVIRONMENTS})\"}})\n    compadd -a values\n}}\n"
    );
    let mut s = script.to_string();
    for (from, to) in [
        (":CUSTOMERS:_default'", ":CUSTOMERS:_fleetform_customers'"),
        (":CUSTOMER:_default'", ":CUSTOMER:_fleetform_customers'"),
        (
            ":ENVIRONMENTS:_default'",
            ":ENVIRONMENTS:_fleetform_environments'",
        ),
        (
            ":ENVIRONMENT:_default'",
            ":ENVIRONMENT:_fleetform_environments'",
        ),
        ("slug:_default'", "slug:_fleetform_customers'"),
    ] {
        s = s.replace(from, to);
    }
    // After `#compdef`, before the script calls `_fleetform`.
    match s.split_once('\n') {
        Some((first, rest)) => format!("{first}\n{helpers}{rest}"),
        None => s,
    }
}

/// fish: more candidates for `--customer`, `--env` and the slug argument.
fn fish(script: &str) -> String {
    let mut s = script.trim_end().to_string();
    s.push_str(&format!(
        "\ncomplete -c fleetform -l customer -f -a \"({CUSTOMERS})\"\n\
         complete -c fleetform -l env -f -a \"({ENVIRONMENTS})\"\n\
         complete -c fleetform -n \"__fish_seen_subcommand_from customers; and __fish_seen_subcommand_from {}\" -f -a \"({CUSTOMERS})\"\n",
        SLUG_COMMANDS.join(" ")
    ));
    s
}
