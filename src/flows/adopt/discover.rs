//! A pair's mapping written from a command of the provider's that lists
//! the objects that exist (`adopt discover --customer C --env E -- CMD
//! ARGS...`): it runs in the manager repo with the environment Terraform
//! gets (fleetform's credentials withheld, `terraform.pass_env` passed)
//! plus `FLEETFORM_CUSTOMER`, `FLEETFORM_ENVIRONMENT` and
//! `FLEETFORM_PRODUCT`, and prints one `ADDRESS ID` per line (blank lines
//! and `#` comments skipped). The mapping file is written whole, never
//! over one that exists; it is reviewed like any file of the manager repo.

use std::path::Path;

use super::{AdoptError, Target};
use crate::error::{Error, Result};
use crate::output::Output;

/// Runs `command` for `t`'s pair and writes its mapping file; returns
/// what was written, for the result line.
pub fn discover(
    t: &Target,
    (command, timeout): (&[String], std::time::Duration),
    manager_dir: &Path,
    out: &Output,
) -> Result<String> {
    let (manager, registry) = crate::config::load(manager_dir)?;
    let (view, customer) = super::resolve(&manager, &registry, t)?;
    let unit = view.unit(&customer.slug, &t.environment);
    let shown = super::mapping_path(&unit);
    let path = view.path(&shown);
    if path.exists() {
        return Err(AdoptError::Refused(format!(
            "{} exists: edit it, or remove it to discover again; nothing was written",
            shown.display()
        ))
        .into());
    }
    let (program, args) = command
        .split_first()
        .ok_or_else(|| Error::usage("give the command after `--`"))?;
    let mut cmd = std::process::Command::new(program);
    cmd.args(args).current_dir(&view.root);
    crate::util::process::scrub_env(&mut cmd, &view.config.terraform.pass_env, |_| false);
    cmd.env("FLEETFORM_CUSTOMER", &customer.slug)
        .env("FLEETFORM_ENVIRONMENT", &t.environment)
        .env("FLEETFORM_PRODUCT", view.product.as_deref().unwrap_or(""));
    out.note(&format!(
        "{unit}: running `{}` to list the objects",
        command.join(" ")
    ));
    let stdout = listed(cmd, (command, timeout))?;
    let pairs = parse(&stdout, program)?;
    let mut text = format!(
        "# Written by `fleetform adopt discover` from `{}`; review it before planning.\nimports:\n",
        command.join(" ").replace('\n', " ")
    );
    for (address, id) in &pairs {
        let q = |s: &str| serde_json::to_string(s).expect("a string serialises");
        text.push_str(&format!("  {}: {}\n", q(address), q(id)));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::failed(format!("{}: {e}", dir.display())))?;
    }
    crate::util::fs::write_atomic(&path, text.as_bytes())
        .map_err(|e| Error::failed(e.to_string()))?;
    Ok(format!(
        "wrote {}: {} for {unit}; review it, then `fleetform adopt plan`",
        shown.display(),
        crate::util::text::count(pairs.len(), "object", "objects")
    ))
}

/// `ADDRESS ID` lines; an error names the line.
fn parse(stdout: &str, program: &str) -> Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    for (n, line) in stdout.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |m: String| Error::usage(format!("`{program}` output line {}: {m}", n + 1));
        let Some((address, id)) = line.split_once(char::is_whitespace) else {
            return Err(bad("expected `ADDRESS ID`".into()));
        };
        crate::terraform::imports::check_address(address).map_err(bad)?;
        pairs.push((address.to_string(), id.trim().to_string()));
    }
    if pairs.is_empty() {
        return Err(Error::usage(format!(
            "`{program}` listed no object (`ADDRESS ID` lines); nothing was written"
        )));
    }
    Ok(pairs)
}

/// The listing command's output, once it ended well within `timeout`;
/// killed at the timeout (nothing is written), as a policy tool is.
fn listed(
    mut cmd: std::process::Command,
    (command, timeout): (&[String], std::time::Duration),
) -> Result<String> {
    let shown = command.join(" ");
    let files = (tempfile::tempfile(), tempfile::tempfile());
    let (Ok(out), Ok(err)) = files else {
        return Err(Error::failed(
            "could not make files for the command's output",
        ));
    };
    let share = |f: &std::fs::File| f.try_clone().map_err(|e| Error::failed(e.to_string()));
    cmd.stdin(std::process::Stdio::null())
        .stdout(share(&out)?)
        .stderr(share(&err)?);
    let child = cmd
        .spawn()
        .map_err(|e| Error::failed(format!("`{shown}` did not start: {e}")))?;
    let code = crate::engine::tools::wait(child, timeout)
        .map_err(|e| Error::failed(format!("waiting for `{shown}`: {e}")))?;
    let text = |f| crate::engine::tools::read_capped(f).unwrap_or_default();
    match code {
        None => Err(Error::failed(format!(
            "`{shown}` was killed after its timeout of {}s; nothing was written: give it more with --timeout, or make the listing faster",
            timeout.as_secs()
        ))),
        Some(0) => Ok(text(out)),
        Some(c) => Err(Error::failed(format!(
            "`{shown}` failed (exit {c}): {}",
            crate::terraform::tail(&text(err), 20)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_address_and_id() {
        let p = parse("# listed\n\na_b.c  id-1\n\"x\" y\n", "list").unwrap_err();
        assert!(p.to_string().starts_with("`list` output line 4:"), "{p}");
        let p = parse("a_b.c  id 1\na_b.d[0] i-2\n", "list").unwrap();
        assert_eq!(p[0], ("a_b.c".to_string(), "id 1".to_string()));
        assert_eq!(p[1].0, "a_b.d[0]");
        assert!(parse("# none\n", "list").is_err());
    }
}
