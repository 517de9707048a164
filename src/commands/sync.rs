//! `fleetform sync`: propagate the customer template to every active
//! customer repo as one pull request per customer on a fixed branch.
//!
//! The template is `sync.template_dir` in the manager repo (default
//! `templates/customer/`): files ending in `.j2` are rendered per customer
//! with minijinja (the suffix is dropped), others are copied. Only these
//! files are ever written; a customer's other files are never touched.
//!
//! API budget per customer (F = template files, W = files that differ):
//! in sync: 1 + F reads, no writes. Out of sync, first time: 1 + F + 1
//! (sync branch lookup) + 1 (default branch head) + 1 (create branch) + W
//! (one commit per file) + 1 (open PRs) + 1 (create PR). Out of sync with
//! the branch already there: 1 + F + 1 + W (branch contents) + W' (files
//! that differ from the branch) + 1 (+1 if the PR was closed). A second
//! sync with no template change sends no writes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::SyncArgs;
use crate::config::{is_relative_inside, is_repo, Customer, Manager};
use crate::error::{Error, Result};
use crate::github::{GitHub, Token};
use crate::output::{table, Output};

/// The rendered template for one customer: path → content.
type Files = BTreeMap<String, Vec<u8>>;

/// Template files: (path in the customer repo, source, render?).
fn template_files(manager: &Manager) -> Result<Vec<(String, String, bool)>> {
    let root = manager.path(&manager.config.sync.template_dir);
    if !root.is_dir() {
        return Err(Error::Usage(format!(
            "no customer template at {}; create it (sync.template_dir in fleetform.yml)",
            crate::config::display_path(&root).display()
        )));
    }
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(root.join(&rel))
            .map_err(|e| Error::Usage(format!("{}: {e}", root.join(&rel).display())))?
            .flatten()
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = rel.join(e.file_name());
            let ty = e.file_type().map_err(|err| Error::Usage(err.to_string()))?;
            if ty.is_dir() {
                stack.push(name);
            } else if ty.is_file() {
                let text = std::fs::read_to_string(e.path()).map_err(|err| {
                    Error::Usage(format!(
                        "{}: {err} (template files must be UTF-8 text)",
                        e.path().display()
                    ))
                })?;
                let s = name.to_string_lossy().replace('\\', "/");
                let (path, render) = match s.strip_suffix(".j2") {
                    Some(p) => (p.to_string(), true),
                    None => (s, false),
                };
                if !is_relative_inside(Path::new(&path)) {
                    return Err(Error::Usage(format!(
                        "template file `{path}` is not a safe relative path"
                    )));
                }
                out.push((path, text, render));
            }
        }
    }
    out.sort();
    if out.is_empty() {
        return Err(Error::Usage("the customer template folder is empty".into()));
    }
    Ok(out)
}

fn render_for(
    manager: &Manager,
    templates: &[(String, String, bool)],
    c: &Customer,
    manager_repo: &str,
    action_ref: &str,
) -> Result<Files> {
    // Plain whitespace handling: templates here are YAML and Markdown files
    // whose lines must stay as written.
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()
            .expect("default delimiters are valid"),
    );
    let ctx = minijinja::context! {
        customer => minijinja::Value::from(minijinja::value::Serde(c)),
        manager_repo => manager_repo,
        manager_owner => manager_repo.split_once('/').map(|(o, _)| o).unwrap_or(""),
        manager_name => manager_repo.split_once('/').map(|(_, n)| n).unwrap_or(""),
        version => env!("CARGO_PKG_VERSION"),
        action_ref => action_ref,
        schema_path => manager.config.schema.display().to_string(),
        variables => manager.config.customer.variables.clone(),
        overrides => manager.config.customer.overrides.clone(),
        status_context => manager.config.status_context.clone(),
        environments => manager.environment_names().iter().map(|s| s.to_string()).collect::<Vec<_>>(),
    };
    let mut files = Files::new();
    for (path, src, render) in templates {
        let text = if *render {
            env.render_str(src, ctx.clone()).map_err(|e| {
                Error::Usage(format!("template `{path}.j2` failed for `{}`: {e}", c.slug))
            })?
        } else {
            src.clone()
        };
        files.insert(path.clone(), text.into_bytes());
    }
    Ok(files)
}

/// What happened to one customer.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub customer: String,
    pub result: String,
    pub pr: Option<String>,
    pub ok: bool,
    pub requests: usize,
}

struct Ctx<'a> {
    gh: &'a GitHub,
    branch: &'a str,
    dry_run: bool,
    out: &'a Output,
}

async fn sync_one(
    ctx: &Ctx<'_>,
    repo: &str,
    files: &Files,
) -> std::result::Result<(String, Option<String>), String> {
    let gh = ctx.gh;
    let (default_branch, archived) = gh.repo_info(repo).await.map_err(|e| e.to_string())?;
    if archived {
        return Err("the repository is archived (read-only)".into());
    }
    // Compare with the default branch.
    let mut current: BTreeMap<&str, Option<(Vec<u8>, String)>> = BTreeMap::new();
    for path in files.keys() {
        current.insert(
            path,
            gh.get_file_with_sha(repo, path, None)
                .await
                .map_err(|e| e.to_string())?,
        );
    }
    let differing: Vec<&str> = files
        .iter()
        .filter(|(p, want)| current[p.as_str()].as_ref().map(|(b, _)| b) != Some(*want))
        .map(|(p, _)| p.as_str())
        .collect();
    if differing.is_empty() {
        return Ok(("in sync".into(), None));
    }
    if ctx.dry_run {
        let mut diff = String::new();
        for p in &differing {
            let old = current[p]
                .as_ref()
                .map(|(b, _)| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            let new = String::from_utf8_lossy(&files[*p]).into_owned();
            let d = similar::TextDiff::from_lines(&old, &new);
            diff.push_str(
                &d.unified_diff()
                    .context_radius(3)
                    .header(&format!("a/{p}"), &format!("b/{p}"))
                    .to_string(),
            );
        }
        ctx.out.note(&format!("--- {repo}\n{diff}"));
        return Ok((format!("would update {} file(s)", differing.len()), None));
    }
    // The sync branch: create it from the default branch, or compare with it.
    let branch = ctx.branch;
    let existing = gh
        .branch_sha(repo, branch)
        .await
        .map_err(|e| e.to_string())?;
    let mut branch_blobs: BTreeMap<&str, Option<(Vec<u8>, String)>> = BTreeMap::new();
    let created = existing.is_none();
    if created {
        let head = gh
            .branch_sha(repo, &default_branch)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("default branch `{default_branch}` not found"))?;
        gh.create_branch(repo, branch, &head)
            .await
            .map_err(|e| e.to_string())?;
        for p in &differing {
            branch_blobs.insert(p, current[p].clone());
        }
    } else {
        for p in &differing {
            branch_blobs.insert(
                p,
                gh.get_file_with_sha(repo, p, Some(branch))
                    .await
                    .map_err(|e| e.to_string())?,
            );
        }
    }
    let mut written = 0;
    for p in &differing {
        let on_branch = &branch_blobs[p];
        if on_branch.as_ref().map(|(b, _)| b) == Some(&files[*p]) {
            continue;
        }
        gh.put_file(
            repo,
            p,
            branch,
            &files[*p],
            &format!("fleetform sync: update {p}"),
            on_branch.as_ref().map(|(_, sha)| sha.as_str()),
        )
        .await
        .map_err(|e| e.to_string())?;
        written += 1;
    }
    let open = gh
        .open_pulls_from(repo, branch)
        .await
        .map_err(|e| e.to_string())?;
    match open.first() {
        Some((_, url)) if written > 0 => {
            Ok((format!("PR updated ({written} file(s))"), Some(url.clone())))
        }
        Some((_, url)) => Ok(("PR open, unchanged".into(), Some(url.clone()))),
        None => {
            let body = format!(
                "This pull request brings the provider's customer template up to date:\n\n{}\n\nOnly these files are changed. Review and merge when ready.\n\n<!-- fleetform:sync -->",
                differing.iter().map(|p| format!("- `{p}`")).collect::<Vec<_>>().join("\n")
            );
            let (_, url) = gh
                .create_pull(
                    repo,
                    "fleetform: update the customer template",
                    branch,
                    &default_branch,
                    &body,
                )
                .await
                .map_err(|e| e.to_string())?;
            Ok((
                if created {
                    "PR opened".into()
                } else {
                    "PR reopened".into()
                },
                Some(url),
            ))
        }
    }
}

pub fn run(args: &SyncArgs, manager_dir: &Path, out: &Output) -> Result<()> {
    if !is_repo(&args.manager_repo) {
        return Err(Error::Usage(format!(
            "--manager-repo `{}` is not owner/name",
            args.manager_repo
        )));
    }
    let token = Token::from_env().ok_or_else(|| {
        Error::Usage("no token: set FLEETFORM_TOKEN (SOURCE_REPOS_PAT) or GITHUB_TOKEN".into())
    })?;
    out.mask(token.expose());
    let (manager, registry) = crate::config::load(manager_dir)?;
    let templates = template_files(&manager)?;
    let action_ref = args
        .action_ref
        .clone()
        .unwrap_or_else(crate::version::action_ref);
    let selected = crate::commands::plan::select(
        &registry,
        (!args.customers.is_empty()).then_some(args.customers.as_slice()),
    )?;
    let customers: Vec<&Customer> = selected
        .into_iter()
        .filter(|c| c.is_active() && c.repo.is_some())
        .collect();
    // Render everything first: a template error stops before any write.
    let rendered: Vec<Files> = customers
        .iter()
        .map(|c| render_for(&manager, &templates, c, &args.manager_repo, &action_ref))
        .collect::<Result<_>>()?;
    let rt = crate::github::runtime().map_err(|e| Error::Failed(e.to_string()))?;
    let gh = GitHub::new(&rt, &GitHub::api_url_from_env(), Some(&token), args.dry_run)
        .map_err(Error::from)?;
    let ctx = Ctx {
        gh: &gh,
        branch: &manager.config.sync.branch,
        dry_run: args.dry_run,
        out,
    };
    let mut rows = Vec::new();
    let canary = args.canary.unwrap_or(0);
    let mut stopped = false;
    for (i, (c, files)) in customers.iter().zip(&rendered).enumerate() {
        let repo = c.repo.as_deref().expect("filtered");
        if stopped {
            rows.push(Row {
                customer: c.slug.clone(),
                result: "not attempted (a canary failed)".into(),
                pr: None,
                ok: false,
                requests: 0,
            });
            continue;
        }
        let before = gh.request_count();
        let result = rt.block_on(sync_one(&ctx, repo, files));
        let requests = gh.request_count() - before;
        let row = match result {
            Ok((result, pr)) => Row {
                customer: c.slug.clone(),
                result,
                pr,
                ok: true,
                requests,
            },
            Err(e) => Row {
                customer: c.slug.clone(),
                result: format!("failed: {e}"),
                pr: None,
                ok: false,
                requests,
            },
        };
        crate::audit::record(
            out,
            crate::audit::Entry::now("sync", if row.ok { "ok" } else { "failed" })
                .customer(&c.slug)
                .detail(format!(
                    "{}{}",
                    row.result,
                    row.pr.as_ref().map(|u| format!(" {u}")).unwrap_or_default()
                )),
        );
        let failed = !row.ok;
        rows.push(row);
        if failed && i < canary {
            out.error(&format!(
                "canary `{}` failed; stopping before the other customers",
                c.slug
            ));
            stopped = true;
        }
    }
    if args.json {
        out.result(&serde_json::to_string_pretty(&rows).expect("serialisable"));
    } else {
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.customer.clone(),
                    r.result.clone(),
                    r.pr.clone().unwrap_or_else(|| "-".into()),
                ]
            })
            .collect();
        out.result(table(&["CUSTOMER", "RESULT", "PR"], &cells).trim_end());
    }
    out.verbose(&format!("{} GitHub API request(s)", gh.request_count()));
    let failed = rows.iter().filter(|r| !r.ok).count();
    if failed > 0 {
        return Err(Error::Failed(format!(
            "{failed} of {} customers did not sync",
            rows.len()
        )));
    }
    Ok(())
}
