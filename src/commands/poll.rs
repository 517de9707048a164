//! `fleetform poll`: see [`crate::relay::poll`].

use crate::cli::PollArgs;
use crate::error::Result;
use crate::output::Output;

pub fn run(_args: &PollArgs, _manager_dir: &std::path::Path, _out: &Output) -> Result<()> {
    Err(crate::error::Error::Usage("poll: not yet".into()))
}
