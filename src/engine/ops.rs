//! State operations on one customer × environment (`fleetform state`):
//! `import`, `state mv`, `state rm` and `force-unlock`, run in a working
//! copy with the same backend, state key and scrubbed environment as a
//! plan (and, for `import`, the same variables). None changes the
//! infrastructure, so no gate judges them; the command records each.

use std::path::Path;

use anyhow::Context as _;

use super::{ensure_out_dir, Engine};
use crate::config::Customer;
use crate::error::Error;
use crate::terraform::Workspace;
use crate::util::fs::write_atomic;
use crate::values::customer::CustomerDocs;

/// One state operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateOp {
    /// `import ADDRESS ID`: adopt an object created outside Terraform.
    Import { address: String, id: String },
    /// `state mv FROM TO`: follow a refactor of the module.
    Move { from: String, to: String },
    /// `state rm ADDRESS...`: forget objects without destroying them.
    Remove { addresses: Vec<String> },
    /// `force-unlock LOCK_ID`: release a lock a killed run left.
    ForceUnlock { lock_id: String },
}

impl StateOp {
    /// The operation named `name` (`import`, `mv`, `rm`, `force-unlock`)
    /// with its operands, each with its own count.
    pub fn parse(name: &str, operands: &[String]) -> Result<StateOp, String> {
        let o = |i: usize| operands[i].clone();
        Ok(match (name, operands.len()) {
            ("import", 2) => StateOp::Import {
                address: o(0),
                id: o(1),
            },
            ("mv", 2) => StateOp::Move {
                from: o(0),
                to: o(1),
            },
            ("rm", n) if n > 0 => StateOp::Remove {
                addresses: operands.to_vec(),
            },
            ("force-unlock", 1) => StateOp::ForceUnlock { lock_id: o(0) },
            _ => {
                return Err(
                    "state takes: import ADDR ID | mv FROM TO | rm ADDR... | force-unlock LOCK_ID"
                        .into(),
                )
            }
        })
    }

    /// Its name in the audit log and the records (`import`, `mv`, `rm`,
    /// `force-unlock`).
    pub fn name(&self) -> &'static str {
        match self {
            StateOp::Import { .. } => "import",
            StateOp::Move { .. } => "mv",
            StateOp::Remove { .. } => "rm",
            StateOp::ForceUnlock { .. } => "force-unlock",
        }
    }

    /// The operation's own arguments, as given.
    pub fn operands(&self) -> Vec<&str> {
        match self {
            StateOp::Import { address, id } => vec![address, id],
            StateOp::Move { from, to } => vec![from, to],
            StateOp::Remove { addresses } => addresses.iter().map(String::as_str).collect(),
            StateOp::ForceUnlock { lock_id } => vec![lock_id],
        }
    }

    /// An operand Terraform would read as a flag (`-lock=false`,
    /// `-state=...`) or an empty one, if any: refused before anything runs.
    pub fn bad_operand(&self) -> Option<&str> {
        self.operands()
            .into_iter()
            .find(|a| a.is_empty() || a.starts_with('-'))
    }
}

/// An address or id given to `-replace`/`-target` or a state operation
/// reads as a flag (or is empty): the message to refuse it with.
pub fn check_operand(what: &str, value: &str) -> Result<(), String> {
    let why = if value.trim().is_empty() {
        "it is empty or blank"
    } else if value.starts_with('-') {
        "it starts with `-`"
    } else if value != value.trim() {
        "it starts or ends with whitespace"
    } else if value.chars().any(char::is_control) {
        "it holds a control character"
    } else {
        return Ok(());
    };
    Err(format!(
        "{what} `{}` is not a resource address ({why})",
        value.escape_debug()
    ))
}

impl Engine<'_> {
    /// Runs `op` on the state of `customer` × `env`; its log goes to
    /// `<out_dir>/<op>.log`. Returns Terraform's output.
    pub fn state_op(
        &self,
        customer: &Customer,
        env: &str,
        docs: Option<&CustomerDocs>,
        out_dir: &Path,
        op: &StateOp,
    ) -> Result<String, Error> {
        if let Some(bad) = op.bad_operand() {
            return Err(Error::refused(check_operand("operand", bad).unwrap_err()));
        }
        let tf = self.terraform()?;
        let slug = &customer.slug;
        ensure_out_dir(out_dir, &self.manager.unit(slug, env))?;
        let mut ws = Workspace::prepare(self.manager, out_dir, slug, env)?;
        let var_arg = match (op, docs) {
            (StateOp::Import { .. }, Some(docs)) => {
                let mut values = self.render(customer, env, docs)?;
                self.inputs(tf, slug, env, out_dir, &mut values)?;
                let var_file = ws.path().join("fleetform.tfvars.json");
                let vars =
                    serde_json::to_vec_pretty(&values.value).context("serialising variables")?;
                write_atomic(&var_file, &vars)?;
                Some(format!("-var-file={}", var_file.display()))
            }
            (StateOp::Import { .. }, None) => {
                return Err(Error::refused(format!(
                    "`import` needs the values of `{slug}` and none were read"
                )))
            }
            _ => None,
        };
        let result = (|| {
            tf.init(&mut ws, false)?;
            let mut args: Vec<&str> = match op {
                StateOp::Import { .. } => vec!["import", "-input=false", "-no-color"],
                StateOp::Move { .. } => vec!["state", "mv"],
                StateOp::Remove { .. } => vec!["state", "rm"],
                StateOp::ForceUnlock { .. } => vec!["force-unlock", "-force"],
            };
            if !matches!(op, StateOp::ForceUnlock { .. }) {
                args.push("-lock-timeout=120s");
            }
            if let Some(v) = &var_arg {
                args.push(v);
            }
            // Operands after `--`-free positions: none starts with `-`
            // (checked above), so Terraform reads none as a flag.
            args.extend(op.operands());
            tf.state_op(&mut ws, step(op), &args)
        })();
        let log_path = out_dir.join(format!("{}.log", op.name()));
        write_atomic(&log_path, ws.log.as_bytes())?;
        Ok(result?)
    }
}

impl Engine<'_> {
    /// Reads of `customer` × `env`'s state (`state pull`, `state list`)
    /// in one working copy under `out_dir`, initialised once: Terraform's
    /// output of each step, in order.
    pub fn state_read(
        &self,
        customer: &Customer,
        env: &str,
        out_dir: &Path,
        steps: &[&'static str],
    ) -> Result<Vec<String>, Error> {
        let tf = self.terraform()?;
        ensure_out_dir(out_dir, &self.manager.unit(&customer.slug, env))?;
        let mut ws = Workspace::prepare(self.manager, out_dir, &customer.slug, env)?;
        tf.init(&mut ws, false)?;
        let mut said = Vec::with_capacity(steps.len());
        let mut pulled: Option<String> = None;
        for step in steps {
            // A pair never applied has no state: `state pull` prints
            // nothing, but `state list` fails on a local backend ("No
            // state file was found!"). Its list is empty.
            if *step == "state list" {
                let state = match &pulled {
                    Some(p) => p.clone(),
                    None => tf.state_op(&mut ws, "state pull", &["state", "pull"])?,
                };
                if state.trim().is_empty() {
                    said.push(String::new());
                    continue;
                }
            }
            let args: Vec<&str> = step.split(' ').collect();
            let out = tf.state_op(&mut ws, step, &args)?;
            if *step == "state pull" {
                pulled = Some(out.clone());
            }
            said.push(out);
        }
        Ok(said)
    }

    /// The state as `state pull` prints it and the addresses `state list`
    /// names (one a line, blank lines left out), read in `out_dir`.
    pub fn state_pulled_and_listed(
        &self,
        customer: &Customer,
        env: &str,
        out_dir: &Path,
    ) -> Result<(String, Vec<String>), Error> {
        let read = self.state_read(customer, env, out_dir, &["state pull", "state list"])?;
        let mut read = read.into_iter();
        let pulled = read.next().unwrap_or_default();
        let listed = read
            .next()
            .unwrap_or_default()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        Ok((pulled, listed))
    }
}

impl Engine<'_> {
    /// Writes `state` (a restored version with a new serial) as the
    /// current state of `customer` × `env` through `terraform state push`:
    /// the backend's lock is taken (waiting up to two minutes), and
    /// Terraform refuses another lineage or an older serial. Its log goes
    /// to `<out_dir>/restore.log`.
    pub fn state_push(
        &self,
        customer: &Customer,
        env: &str,
        out_dir: &Path,
        state: &[u8],
    ) -> Result<(), Error> {
        let tf = self.terraform()?;
        ensure_out_dir(out_dir, &self.manager.unit(&customer.slug, env))?;
        let mut ws = Workspace::prepare(self.manager, out_dir, &customer.slug, env)?;
        let file = ws.path().join("restored.tfstate");
        write_atomic(&file, state)?;
        let result = (|| {
            tf.init(&mut ws, false)?;
            let path = file.display().to_string();
            tf.state_op(
                &mut ws,
                "state push",
                &["state", "push", "-lock-timeout=120s", &path],
            )
        })();
        write_atomic(&out_dir.join("restore.log"), ws.log.as_bytes())?;
        result.map(|_| ()).map_err(Error::from)
    }
}

fn step(op: &StateOp) -> &'static str {
    match op {
        StateOp::Import { .. } => "import",
        StateOp::Move { .. } => "state mv",
        StateOp::Remove { .. } => "state rm",
        StateOp::ForceUnlock { .. } => "force-unlock",
    }
}

#[cfg(test)]
mod operand_tests {
    use super::check_operand;

    #[test]
    fn blank_padded_and_control_operands_are_refused() {
        for bad in [
            "",
            " ",
            "\t",
            "-lock=false",
            " a.b",
            "a.b ",
            "a.b\u{1b}[31m",
            "a\nb",
        ] {
            assert!(check_operand("rm", bad).is_err(), "{bad:?}");
        }
        for good in ["a.b", "module.x.a.b[0]", "a.b[\"my key\"]"] {
            assert!(check_operand("rm", good).is_ok(), "{good:?}");
        }
    }
}
