//! What `fleetform init` writes: a manager repo (fleetform.yml with every
//! key, a starter schema, values, an empty registry, a root module without
//! providers, the workflow templates pinned to this release) or a customer
//! repo (variables valid against the starter schema, the trigger
//! workflow), and the settings to make on GitHub afterwards. Everything is
//! embedded; nothing is read from disk.

use minijinja::{context, AutoEscape, Environment, UndefinedBehavior};

/// The files to write (relative path, content) and the text to print.
#[derive(Debug)]
pub struct Scaffold {
    pub files: Vec<(String, String)>,
    pub settings: String,
}

/// What the scaffold is made for.
pub struct Settings<'a> {
    /// The folder as the user named it (only shown).
    pub dir: &'a str,
    /// Environment names in promotion order (checked slugs).
    pub environments: &'a [String],
    /// The ref fleetform's actions are pinned to.
    pub action_ref: &'a str,
    pub version: &'a str,
    /// The operators team (`org/team-slug`, checked): `rollout.operators`
    /// and the workflows only operators run.
    pub operators: Option<&'a str>,
    /// The Terraform version found on PATH, written as
    /// `terraform.version` (none found: a commented line to fill in).
    pub terraform_version: Option<&'a str>,
    /// The account that registers the Apps (`PROVIDER` in the manifests
    /// when not given).
    pub provider: Option<&'a str>,
}

const TEMPLATES: &[(&str, &str)] = &[
    (
        "fleetform.yml",
        include_str!("templates/init/fleetform.yml.j2"),
    ),
    (
        "variables.schema.json",
        include_str!("templates/init/variables.schema.json.j2"),
    ),
    (
        "environment.yml",
        include_str!("templates/init/environment.yml.j2"),
    ),
    (
        "customers.yml",
        include_str!("templates/init/customers.yml.j2"),
    ),
    ("zizmor.yml", include_str!("templates/init/zizmor.yml.j2")),
    (
        "settings.txt",
        include_str!("templates/init/settings.txt.j2"),
    ),
    (
        "customer_settings.txt",
        include_str!("templates/init/customer_settings.txt.j2"),
    ),
];

/// Copied as they are.
const BASE_VALUES: &str = include_str!("templates/init/base.yml");
const MAIN_TF: &str = include_str!("templates/init/main.tf");

/// The manager workflow templates shipped in `workflows/`, by file name:
/// those the configuration `init` writes uses. `manager-rollout.yml`
/// (needs `rollout:` waves and records in a bucket) and `manager-poll.yml`
/// (needs `relay:`) are not among them; the printed settings say when to
/// copy them. `manager-batch.yml` is written always: it runs only on the
/// relay's `fleetform-batch` dispatches (refusing any other sender's),
/// needs nothing set up beyond the deploy workflow's, and is in place the
/// day `relay:` is. `manager-drill.yml` (the nightly recovery drill) is
/// written always, as the doctor's and the dashboard's are. With
/// operators, [`OPERATOR_WORKFLOWS`] too.
const MANAGER_WORKFLOWS: &[(&str, &str)] = &[
    (
        "manager-deploy.yml",
        include_str!("../../workflows/manager-deploy.yml"),
    ),
    (
        "manager-batch.yml",
        include_str!("../../workflows/manager-batch.yml"),
    ),
    (
        "manager-pr.yml",
        include_str!("../../workflows/manager-pr.yml"),
    ),
    (
        "manager-drift.yml",
        include_str!("../../workflows/manager-drift.yml"),
    ),
    (
        "manager-doctor.yml",
        include_str!("../../workflows/manager-doctor.yml"),
    ),
    (
        "manager-dashboard.yml",
        include_str!("../../workflows/manager-dashboard.yml"),
    ),
    (
        "manager-drill.yml",
        include_str!("../../workflows/manager-drill.yml"),
    ),
];

/// The workflows only members of `rollout.operators` run (day-2
/// operations, offboarding): written when `init` knows the team, since
/// fleetform refuses every run of them without one.
const OPERATOR_WORKFLOWS: &[(&str, &str)] = &[
    (
        "manager-ops.yml",
        include_str!("../../workflows/manager-ops.yml"),
    ),
    (
        "manager-offboard.yml",
        include_str!("../../workflows/manager-offboard.yml"),
    ),
];

fn environment() -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()?,
    );
    for (name, src) in TEMPLATES {
        env.add_template(name, src)?;
    }
    Ok(env)
}

/// A manager repo.
pub fn manager(s: &Settings) -> Result<Scaffold, minijinja::Error> {
    let env = environment()?;
    let ctx = context! {
        environments => s.environments.to_vec(),
        version => s.version.to_string(),
        operators => s.operators,
        terraform_version => s.terraform_version,
    };
    let render = |name: &str| env.get_template(name).and_then(|t| t.render(&ctx));
    let mut files = vec![
        ("fleetform.yml".to_string(), render("fleetform.yml")?),
        (
            "schema/variables.schema.json".to_string(),
            render("variables.schema.json")?,
        ),
        ("values/base.yml".to_string(), BASE_VALUES.to_string()),
    ];
    for e in s.environments {
        let text = env
            .get_template("environment.yml")?
            .render(context! { env => e })?;
        files.push((format!("values/{e}.yml"), text));
    }
    files.push(("customers.yml".to_string(), render("customers.yml")?));
    files.push((".gitignore".to_string(), gitignore()));
    files.push(("terraform/main.tf".to_string(), MAIN_TF.to_string()));
    files.extend(super::app_manifests::files(s.provider));
    let operated = if s.operators.is_some() {
        OPERATOR_WORKFLOWS
    } else {
        &[]
    };
    for (name, template) in MANAGER_WORKFLOWS.iter().chain(operated) {
        let text = match *name {
            // One plan/apply pair per environment the configuration has.
            "manager-deploy.yml" => super::deploy_jobs::deploy_workflow(template, s.environments)
                .ok_or_else(|| {
                minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    "the embedded manager-deploy.yml lacks a job init expects",
                )
            })?,
            _ => template.to_string(),
        };
        files.push((
            format!(".github/workflows/{name}"),
            super::workflow::pin_actions(&text, s.action_ref, s.version),
        ));
    }
    files.push((
        ".github/zizmor.yml".to_string(),
        zizmor_config(&env, s, false)?,
    ));
    let manual: Vec<String> = auto_apply_off(s.environments)
        .iter()
        .map(|e| format!("{e}-apply"))
        .collect();
    let manual = if manual.is_empty() {
        "none".to_string()
    } else {
        manual.join(", ")
    };
    let settings = env.get_template("settings.txt")?.render(context! {
        dir => s.dir.to_string(),
        files => files.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>(),
        environments => s.environments.to_vec(),
        manual => manual,
        operators => s.operators,
        action_ref => s.action_ref.to_string(),
        version => s.version.to_string(),
        terraform_version => s.terraform_version,
    })?;
    Ok(Scaffold { files, settings })
}

/// zizmor's settings for the workflows written: fleetform's actions may
/// be pinned to a release ref until the user pins their SHA.
fn zizmor_config(
    env: &Environment,
    s: &Settings,
    customer: bool,
) -> Result<String, minijinja::Error> {
    env.get_template("zizmor.yml")?.render(context! {
        action_ref => s.action_ref.to_string(),
        customer => customer,
    })
}

/// The environments fleetform.yml starts without `auto_apply` (all but
/// the first of several, as the template writes them).
fn auto_apply_off(environments: &[String]) -> Vec<&String> {
    let skip = usize::from(environments.len() > 1);
    environments.iter().skip(skip).collect()
}

/// The starter schema `init` writes for these environments (the schema a
/// customer repo's `infra/variables.yml` is made for when no manager is
/// named).
pub fn starter_schema(environments: &[String]) -> Result<String, minijinja::Error> {
    environment()?
        .get_template("variables.schema.json")?
        .render(context! { environments => environments.to_vec() })
}

/// The lines of the `.gitignore` a manager repo gets: what fleetform keeps
/// in the checkout and never belongs in git (plans, local state, the audit
/// log and records, which hold customers' values; the registry's edit
/// lock).
pub const GITIGNORE: &[&str] = &[".fleetform/", "customers.yml.lock", ".terraform/"];

/// The `.gitignore` of a new manager repo.
pub fn gitignore() -> String {
    let mut text = String::from(
        "# Written by `fleetform init`. .fleetform/ holds plans, local state, the\n\
         # audit log and records: customers' values, never for git.\n",
    );
    for line in GITIGNORE {
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// Where a customer repo's environments came from, for the text `init
/// --customer` prints.
pub struct CustomerOrigin<'a> {
    /// `infra/variables.yml` as made from the schema.
    pub variables: &'a str,
    /// The manager folder whose fleetform.yml and schema were read, if any.
    pub manager: Option<&'a str>,
    /// Whether the environments were given with --environments.
    pub given: bool,
    /// The audience the manager's relay requires (its `relay:`), when
    /// the manager was read and has one.
    pub relay_audience: Option<String>,
}

/// A customer repo.
pub fn customer(s: &Settings, origin: &CustomerOrigin) -> Result<Scaffold, minijinja::Error> {
    let env = environment()?;
    let files = vec![
        (
            "infra/variables.yml".to_string(),
            origin.variables.to_string(),
        ),
        (
            super::CUSTOMER_WORKFLOW_PATH.to_string(),
            super::workflow::customer_workflow(super::CUSTOMER_WORKFLOW, s.action_ref, s.version),
        ),
        (
            ".github/zizmor.yml".to_string(),
            zizmor_config(&env, s, true)?,
        ),
    ];
    let settings = env
        .get_template("customer_settings.txt")?
        .render(context! {
            dir => s.dir.to_string(),
            files => files.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>(),
            action_ref => s.action_ref.to_string(),
            version => s.version.to_string(),
            environments => s.environments.to_vec(),
            manager => origin.manager,
            given => origin.given,
            relay_audience => origin.relay_audience.clone(),
        })?;
    Ok(Scaffold { files, settings })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(envs: &[String]) -> Settings<'_> {
        Settings {
            dir: ".",
            environments: envs,
            action_ref: "v0.1.0-action",
            version: "0.1.0",
            operators: None,
            terraform_version: Some("1.11.4"),
            provider: None,
        }
    }

    /// fleetform.yml names every top-level key, set or commented out.
    #[test]
    fn every_key_is_in_fleetform_yml() {
        let envs = vec!["staging".to_string(), "production".to_string()];
        let s = manager(&settings(&envs)).unwrap();
        let yml = &s.files[0].1;
        for key in [
            "version",
            "schema",
            "registry",
            "values",
            "customer",
            "environments",
            "terraform",
            "status_context",
            "policies",
            "sync",
            "products",
            "records",
            "rollout",
            "identity",
            "approvals",
            "drift",
        ] {
            let set = yml.lines().any(|l| l.starts_with(&format!("{key}:")));
            let commented = yml.lines().any(|l| l.starts_with(&format!("# {key}:")));
            assert!(set || commented, "{key} missing:\n{yml}");
        }
        for key in [
            "working_dir",
            "engine",
            "backend",
            "state_key",
            "pass_env",
            "tools",
        ] {
            assert!(yml.contains(&format!("{key}:")), "{key} missing:\n{yml}");
        }
    }

    /// Every fleetform action is pinned; no `@v1` is left.
    #[test]
    fn workflows_are_pinned() {
        let envs = vec!["dev".to_string()];
        let s = manager(&settings(&envs)).unwrap();
        let workflows: Vec<_> = s
            .files
            .iter()
            .filter(|(p, _)| p.starts_with(".github/"))
            .collect();
        assert_eq!(workflows.len(), MANAGER_WORKFLOWS.len() + 1);
        for (path, text) in workflows {
            assert!(
                !text.contains("fleetform@v1") && !text.contains("@v1\n"),
                "{path}"
            );
            if path.starts_with(".github/workflows/") {
                assert!(text.contains("@v0.1.0-action # v0.1.0"), "{path}");
            }
            assert!(!text.contains(PIN_HINT_TEXT), "{path}");
        }
    }
    const PIN_HINT_TEXT: &str = "Pin this to the commit SHA";
}
