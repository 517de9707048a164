//! `fleetform completions SHELL`: clap's own completion script for the
//! command line as it is, on stdout.

use crate::cli::{Cli, CompletionsArgs, Shell};
use crate::error::{Error, Result};
use crate::output::Output;

pub fn run(args: &CompletionsArgs, out: &Output) -> Result<()> {
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut cmd = <Cli as clap::CommandFactory>::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "fleetform", &mut script);
    let script = String::from_utf8(script)
        .map_err(|e| Error::Failed(format!("the completion script is not UTF-8: {e}")))?;
    out.result(script.trim_end());
    Ok(())
}
