//! `fleetform init`: a new manager repo (or, with `--customer`, a customer
//! repo) in a folder. Every file is checked first: if any of them exists,
//! nothing is written.

use clap::Args;
use std::path::{Path, PathBuf};

use crate::config::{display_path, Manager};
use crate::error::{Error, Result, Say};
use crate::output::Output;
use crate::report::scaffold::{self, Scaffold};
use crate::values::schema::Schema;
use crate::values::starter;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to create the repo (created if missing).
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// The environments, in promotion order (default: staging,production;
    /// with --customer --manager: the manager's).
    #[arg(long, value_delimiter = ',')]
    pub environments: Option<Vec<String>>,
    /// A customer repo instead: infra/variables.yml (valid against the
    /// starter schema, or --manager's schema) and the trigger workflow.
    #[arg(long)]
    pub customer: bool,
    /// With --customer: the provider's manager repo (a folder holding
    /// fleetform.yml), whose environments and schema infra/variables.yml
    /// is written for.
    #[arg(long, value_name = "DIR", requires = "customer")]
    pub manager: Option<PathBuf>,
    /// Ref the workflows pin the fleetform actions to (default: this
    /// release's tag).
    #[arg(long, env = "FLEETFORM_ACTION_REF")]
    pub action_ref: Option<String>,
    /// The operators team (`org/team-slug`): written as
    /// `rollout.operators`, with the workflows only operators run
    /// (manager-ops.yml, manager-offboard.yml).
    #[arg(long, value_name = "ORG/TEAM", conflicts_with = "customer")]
    pub operators: Option<String>,
    /// The provider's GitHub account (user or organisation) that registers
    /// the Apps: written into the App manifests (apps/*.json) in place of
    /// PROVIDER, their names shortened to GitHub's 34 characters.
    #[arg(long, value_name = "ACCOUNT", conflicts_with = "customer")]
    pub provider: Option<String>,
}

struct Settings {
    dir: PathBuf,
    environments: Vec<String>,
    customer: bool,
    /// `--environments` was given (not the default, not the manager's).
    given: bool,
    /// With --customer: the manager repo read for environments and schema.
    manager: Option<Manager>,
    action_ref: String,
    /// `--operators`: the team written as `rollout.operators`.
    operators: Option<String>,
    /// `--provider`: the account that registers the Apps.
    provider: Option<String>,
}

fn resolve(args: &InitArgs) -> Result<Settings> {
    let given = args.environments.clone();
    if let Some(envs) = &given {
        check_environments(envs)?;
    }
    let manager = match &args.manager {
        Some(dir) => Some(Manager::load(dir)?),
        None => None,
    };
    let environments = match (&given, &manager) {
        (Some(envs), Some(m)) => {
            let declared = m.environment_names();
            if let Some(e) = envs.iter().find(|e| !declared.contains(&e.as_str())) {
                return Err(Error::usage(format!(
                    "--environments: `{e}` is not an environment of the manager in {} (it declares: {})",
                    args.manager.as_deref().unwrap_or(Path::new(".")).display(),
                    declared.join(", ")
                )));
            }
            envs.clone()
        }
        (Some(envs), None) => envs.clone(),
        (None, Some(m)) => m
            .environment_names()
            .iter()
            .map(|e| e.to_string())
            .collect(),
        (None, None) => vec!["staging".to_string(), "production".to_string()],
    };
    let action_ref = super::action_ref(args.action_ref.as_deref())?;
    if let Some(t) = args
        .operators
        .as_deref()
        .filter(|t| !crate::config::is_team(t))
    {
        return Err(Error::Usage(
            Say::new(format!("--operators: `{t}` is not a team"))
                .help("name it `org/team-slug` (e.g. my-org/platform)"),
        ));
    }
    if let Some(p) = args
        .provider
        .as_deref()
        .filter(|p| !crate::config::is_login(p))
    {
        return Err(Error::Usage(
            Say::new(format!("--provider: `{p}` is not a GitHub account name"))
                .help("give the user or organisation that registers the Apps: letters, digits and inner single `-`, at most 39 characters"),
        ));
    }
    Ok(Settings {
        provider: args.provider.clone(),
        operators: args.operators.clone(),
        dir: args.dir.clone(),
        environments,
        customer: args.customer,
        given: given.is_some(),
        manager,
        action_ref,
    })
}

fn check_environments(envs: &[String]) -> Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for e in envs {
        if !crate::config::is_slug(e) {
            return Err(Error::Usage(
                Say::new(format!(
                    "--environments: `{e}` is not a valid environment name"
                ))
                .help("use lowercase letters, digits and inner `-` (e.g. staging,production)"),
            ));
        }
        if !seen.insert(e) {
            return Err(Error::Usage(
                Say::new(format!("--environments: `{e}` is named twice"))
                    .help("name each environment once, in promotion order"),
            ));
        }
    }
    if envs.is_empty() {
        return Err(Error::usage(
            "--environments: name at least one environment (e.g. staging,production)",
        ));
    }
    Ok(())
}

pub fn run(args: &InitArgs, out: &Output) -> Result<()> {
    let s = resolve(args)?;
    let shown = s.dir.display().to_string();
    // The version every job will install; `None` when no terraform is on
    // PATH (the file then says to set one).
    let terraform_version =
        crate::terraform::Terraform::locate(crate::config::Engine::Terraform, None)
            .ok()
            .and_then(|tf| tf.version());
    let what = scaffold::Settings {
        dir: &shown,
        environments: &s.environments,
        action_ref: &s.action_ref,
        version: crate::version::SHORT,
        operators: s.operators.as_deref(),
        terraform_version: terraform_version.as_deref(),
        provider: s.provider.as_deref(),
    };
    let rendering =
        |e: minijinja::Error| Error::failed(format!("rendering the embedded templates: {e:#}"));
    let made = if s.customer {
        let variables = customer_variables(&s)?;
        let manager_shown = args.manager.as_ref().map(|m| m.display().to_string());
        let origin = scaffold::CustomerOrigin {
            variables: &variables,
            manager: manager_shown.as_deref(),
            given: s.given,
            relay_audience: s
                .manager
                .as_ref()
                .and_then(|m| m.config.relay.as_ref())
                .map(|r| r.audience()),
        };
        let mut made = scaffold::customer(&what, &origin).map_err(rendering)?;
        // With the provider's manager, the change form made from its
        // schema (issue form, its description, reference, workflow).
        if let Some(m) = s.manager.as_ref().filter(|m| !m.has_products()) {
            let form = crate::flows::form::customer_files(m, &s.action_ref)?;
            made.files.extend(form.files);
        }
        made
    } else {
        scaffold::manager(&what).map_err(rendering)?
    };
    let appended = refuse_existing(&s.dir, &made)?;
    write_all(&s.dir, &made, appended.as_ref())?;
    out.result(made.settings.trim_end());
    if let Some(lines) = appended.filter(|l| !l.is_empty()) {
        out.note(&format!(
            "{} existed: appended {}",
            s.dir.join(".gitignore").display(),
            lines.join(", ")
        ));
    }
    Ok(())
}

/// A customer repo's `infra/variables.yml`: made from the manager's schema
/// (with --manager) or the starter schema for the environments, and
/// checked against it as `validate` would.
fn customer_variables(s: &Settings) -> Result<String> {
    let shown = Path::new("infra/variables.yml");
    let (schema, from) = match &s.manager {
        Some(m) if m.has_products() => {
            return Err(Error::usage(
                "--manager: fleetform.yml declares products, each with its own schema; init --customer writes one variables file: run it without --manager and write infra/<product>/variables.yml by hand"))
        }
        Some(m) => {
            let p = m.path(m.schema_path());
            (Schema::load(&p, &display_path(&p))?, display_path(&p))
        }
        None => {
            let text = scaffold::starter_schema(&s.environments)
                .map_err(|e| Error::failed(format!("rendering the starter schema: {e:#}")))?;
            let shown = PathBuf::from("schema/variables.schema.json");
            (Schema::from_bytes(text.as_bytes(), &shown)?, shown)
        }
    };
    let hints = starter::Hints {
        slug: "my-project",
        environments: &s.environments,
    };
    let body = starter::checked(&schema, &hints, shown).map_err(|required| {
        Error::failed(format!(
            "could not make an infra/variables.yml that validates against {} (it requires: {}); nothing was written. Run init --customer without --manager and write the file by hand",
            from.display(),
            required.join(", ")
        ))
    })?;
    Ok(format!(
        "# Your infrastructure settings, checked against the provider's schema\n\
         # ({} in the manager repo) on every change. Written by\n\
         # `fleetform init --customer`; the comments are the schema's descriptions.\n\n{body}",
        s.manager
            .as_ref()
            .map_or("schema/variables.schema.json".into(), |m| m
                .schema_path()
                .display()
                .to_string())
    ))
}

/// Every file that would be written and already exists (or is a link or
/// a folder), named; nothing is written then. A manager's `.gitignore`
/// that exists as a regular file is kept and gets the lines it lacks
/// (returned).
fn refuse_existing(dir: &Path, made: &Scaffold) -> Result<Option<Vec<String>>> {
    let mut appended = None;
    let existing: Vec<String> = made
        .files
        .iter()
        .filter(|(rel, _)| {
            let path = dir.join(rel);
            let meta = std::fs::symlink_metadata(&path);
            if rel == ".gitignore" && meta.as_ref().is_ok_and(|m| m.is_file()) {
                let text = crate::util::fs::read_input_text(&path).unwrap_or_default();
                let have: Vec<&str> = text.lines().map(str::trim).collect();
                let missing: Vec<String> = scaffold::GITIGNORE
                    .iter()
                    .filter(|l| !have.contains(l) && !have.contains(&l.trim_end_matches('/')))
                    .map(|l| l.to_string())
                    .collect();
                appended = Some(missing);
                return false;
            }
            meta.is_ok()
        })
        .map(|(rel, _)| dir.join(rel).display().to_string())
        .collect();
    if existing.is_empty() {
        return Ok(appended);
    }
    let n = existing.len();
    Err(Error::usage(format!(
        "{} already {}: {}; fleetform init overwrites nothing and wrote nothing. Move {} away or choose another --dir",
        crate::util::text::count(n, "file", "files"),
        if n == 1 { "exists" } else { "exist" },
        existing.join(", "),
        if n == 1 { "it" } else { "them" }
    )))
}

/// Writes each file create-only (a temporary file, then a rename that
/// never replaces); on a failure the files written so far are removed
/// again.
fn write_all(dir: &Path, made: &Scaffold, appended: Option<&Vec<String>>) -> Result<()> {
    let mut written: Vec<PathBuf> = Vec::new();
    for (rel, text) in &made.files {
        if rel == ".gitignore" && appended.is_some() {
            continue;
        }
        let rel = Path::new(rel);
        let result = crate::util::fs::ensure_dir(dir, rel.parent().unwrap_or(Path::new("")))
            .and_then(|parent| {
                let path = parent.join(rel.file_name().unwrap_or_default());
                crate::util::fs::write_new(&path, text.as_bytes()).map(|()| path)
            });
        match result {
            Ok(path) => written.push(path),
            Err(e) => {
                for p in &written {
                    let _ = std::fs::remove_file(p);
                }
                return Err(Error::failed(format!(
                    "{e}; nothing was kept (the files written before it were removed again)"
                )));
            }
        }
    }
    if let Some(lines) = appended.filter(|l| !l.is_empty()) {
        append_lines(&dir.join(".gitignore"), lines)
            .map_err(|e| Error::failed(format!("{}: {e}", dir.join(".gitignore").display())))?;
    }
    Ok(())
}

/// Adds lines at the end of an existing file (after a newline if it
/// lacks one), never rewriting what is there.
fn append_lines(path: &Path, lines: &[String]) -> std::io::Result<()> {
    use std::io::Write;
    let text = crate::util::fs::read_input(path)?;
    let mut f = std::fs::OpenOptions::new().append(true).open(path)?;
    let mut add = String::new();
    if !text.is_empty() && !text.ends_with(b"\n") {
        add.push('\n');
    }
    add.push_str("# Added by `fleetform init`: fleetform's local files, never for git.\n");
    for l in lines {
        add.push_str(l);
        add.push('\n');
    }
    f.write_all(add.as_bytes())
}
