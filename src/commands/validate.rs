//! `fleetform validate`: check customer variables against the schema, for
//! registry customers (with their override files) or for given files.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::ValidateArgs;
use crate::config::{display_path, Manager, Registry};
use crate::customer::{self, CustomerSource, Diagnostic};
use crate::error::{Error, Result};
use crate::output::Output;
use crate::schema::Schema;

enum Target {
    Files {
        schema: Option<PathBuf>,
        files: Vec<PathBuf>,
    },
    Customers(Vec<String>),
}

struct Settings {
    target: Target,
    json: bool,
    jobs: usize,
}

fn resolve(args: &ValidateArgs) -> Result<Settings> {
    let target = if args.files.is_empty() {
        if args.schema.is_some() {
            return Err(Error::Usage(
                "--schema applies to FILES; name the files to validate".into(),
            ));
        }
        Target::Customers(args.customers.clone())
    } else {
        if !args.customers.is_empty() {
            return Err(Error::Usage(
                "give either --customer or FILES, not both".into(),
            ));
        }
        Target::Files {
            schema: args.schema.clone(),
            files: args.files.clone(),
        }
    };
    if args.jobs == Some(0) {
        return Err(Error::Usage("--jobs must be at least 1".into()));
    }
    Ok(Settings {
        target,
        json: args.json,
        jobs: crate::parallel::jobs(args.jobs),
    })
}

#[derive(Debug, Serialize)]
struct Checked {
    name: String,
    valid: bool,
    problems: Vec<Diagnostic>,
}

/// Reads and checks one variables file on its own.
fn check_file(f: &Path, schema: &Schema) -> Checked {
    let shown = display_path(f);
    let limit = crate::yaml::Limits::default().max_bytes as u64;
    let problems = match crate::fsutil::read_bounded(f, limit) {
        Ok(bytes) => {
            let src = CustomerSource {
                variables: (shown.clone(), bytes),
                overrides: Default::default(),
            };
            customer::check(&src, schema).err().unwrap_or_default()
        }
        Err(e) => vec![Diagnostic {
            location: crate::yaml::Location {
                file: shown.clone(),
                pos: crate::yaml::Pos { line: 1, col: 1 },
            },
            pointer: None,
            message: format!("cannot read: {}", e.reason),
        }],
    };
    Checked {
        name: shown.display().to_string(),
        valid: problems.is_empty(),
        problems,
    }
}

pub fn run(args: &ValidateArgs, manager_dir: &std::path::Path, out: &Output) -> Result<()> {
    let settings = resolve(args)?;
    let results = match settings.target {
        Target::Files { schema, files } => {
            let schema = match schema {
                Some(p) => Schema::load(&p, &display_path(&p))?,
                None => {
                    let m = Manager::load(manager_dir)?;
                    let p = m.path(&m.config.schema);
                    Schema::load(&p, &display_path(&p))?
                }
            };
            // One compiled schema, shared by every worker; each file is
            // read, parsed and checked on its own.
            crate::parallel::map(&files, settings.jobs, |f| check_file(f, &schema))
        }
        Target::Customers(wanted) => {
            let manager = Manager::load(manager_dir)?;
            let registry = Registry::load(&manager)?;
            let p = manager.path(&manager.config.schema);
            let schema = Schema::load(&p, &display_path(&p))?;
            let selected: Vec<_> = if wanted.is_empty() {
                registry
                    .customers
                    .iter()
                    .filter(|c| c.is_active() && c.path.is_some())
                    .collect()
            } else {
                wanted
                    .iter()
                    .map(|w| {
                        registry.get(w).ok_or_else(|| {
                            Error::Usage(format!(
                                "customer `{w}` is not in {}",
                                display_path(&registry.file).display()
                            ))
                        })
                    })
                    .collect::<Result<_>>()?
            };
            crate::parallel::map(&selected, settings.jobs, |c| {
                let problems = match registry.customer_dir(c) {
                    None => vec![Diagnostic {
                        location: registry.doc.locate("/customers"),
                        pointer: None,
                        message: format!(
                            "customer `{}` has no local `path`; validate its files directly",
                            c.slug
                        ),
                    }],
                    Some(dir) => match CustomerSource::from_dir(&manager, &dir, &c.environments) {
                        Ok(src) => customer::check(&src, &schema).err().unwrap_or_default(),
                        Err(d) => vec![d],
                    },
                };
                Checked {
                    name: c.slug.clone(),
                    valid: problems.is_empty(),
                    problems,
                }
            })
        }
    };
    let invalid = results.iter().filter(|r| !r.valid).count();
    for r in &results {
        out.diagnostics(&r.problems);
    }
    if settings.json {
        out.result(&serde_json::to_string_pretty(&results).expect("serialisable"));
    } else if !results.is_empty() {
        // One write for the whole list: thousands of files print thousands
        // of lines.
        let mut text = String::new();
        for r in &results {
            use std::fmt::Write as _;
            let _ = write!(
                text,
                "{} {}",
                if r.valid { "ok     " } else { "invalid" },
                r.name
            );
            if !r.valid {
                let _ = write!(text, " ({} problem(s))", r.problems.len());
            }
            text.push('\n');
        }
        text.pop();
        out.result(&text);
    }
    if invalid > 0 {
        return Err(Error::Failed(format!(
            "{invalid} of {} invalid",
            results.len()
        )));
    }
    Ok(())
}
