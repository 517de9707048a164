//! The customer side of a change asked for through the provider's form
//! (`fleetform request`, run by the customer's `customer-form.yml` on an
//! issue opened or edited from the form, with the job's own
//! `GITHUB_TOKEN`): the issue's answers written into the variables file
//! (its comments and order kept), checked against the provider's schema
//! as the trigger checks it, then the branch `fleetform/issue-<n>`, its
//! pull request (closing the issue) and a run of the trigger workflow for
//! it (a pull request a `GITHUB_TOKEN` opens starts no run by itself).
//! Every problem is answered on the issue, which stays open.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::ci::RunContext;
use crate::context::Context;
use crate::error::{Error, Result, Say};
use crate::github::{GitHub, Token};
use crate::report::customer::{comment, Comment};
use crate::report::form as words;
use crate::values::form::{answers, change, fields};
use crate::values::schema::Schema;

/// What `fleetform request` was told, checked.
pub struct Settings {
    /// The job's `GITHUB_TOKEN`.
    pub token: Token,
    /// The trigger workflow's file name, started for the pull request.
    pub trigger_workflow: Option<String>,
    pub dry_run: bool,
}

/// The issue the run is for, read from the event.
struct Issue {
    repo: String,
    number: u64,
    title: String,
    body: String,
    labels: Vec<String>,
}

/// A form's description, as `fleetform form` writes it.
struct Form {
    label: String,
    /// The customer's variables file, relative to the repository.
    variables: String,
    schema: Schema,
}

/// What the run came to, before anything is written to GitHub.
enum Outcome {
    Refused(Vec<String>),
    Unchanged,
    Changed { text: String, changed: Vec<String> },
}

pub fn request(settings: &Settings, cx: &Context) -> Result<()> {
    let ctx = RunContext::from_env();
    let Some(issue) = issue(&ctx)? else {
        cx.out.note(
            "not an open issue: fleetform request answers issues opened or edited from the form",
        );
        return Ok(());
    };
    let workspace = std::env::var_os("GITHUB_WORKSPACE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let Some(form) = form_of(&issue, &workspace)? else {
        cx.out
            .note("this issue carries no label of a form of this repository; nothing to do");
        return Ok(());
    };
    let outcome = outcome(&issue, &form, &workspace)?;
    let rt = crate::github::runtime().map_err(|e| Error::failed(e.to_string()))?;
    let gh = GitHub::new(
        &rt,
        &cx.net,
        &GitHub::api_url_from_env(),
        Some(&settings.token),
        settings.dry_run,
    )
    .map_err(Error::from)?;
    let pull = rt.block_on(answer(&gh, settings, &issue, &form, outcome, cx))?;
    if let Some(number) = pull {
        ctx.set_outputs(&[("pull_request", number.to_string())])
            .map_err(|e| Error::failed(e.to_string()))?;
    }
    Ok(())
}

/// The issue of an `issues` event, open and not a pull request.
fn issue(ctx: &RunContext) -> Result<Option<Issue>> {
    let repo = ctx.repository.clone().ok_or_else(|| {
        Error::Usage(Say::new("GITHUB_REPOSITORY is not set").help("run inside GitHub Actions"))
    })?;
    if ctx.event_name.as_deref() != Some("issues") {
        return Err(Error::usage(format!(
            "fleetform request runs on the `issues` event, not {:?}",
            ctx.event_name.as_deref().unwrap_or_default()
        )));
    }
    let event = ctx.event().map_err(Error::usage)?;
    let i = &event["issue"];
    if i.get("pull_request").is_some() || i["state"].as_str() != Some("open") {
        return Ok(None);
    }
    let number = i["number"]
        .as_u64()
        .ok_or_else(|| Error::usage("the event's issue has no number"))?;
    let labels = i["labels"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|l| l["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Ok(Some(Issue {
        repo,
        number,
        title: i["title"].as_str().unwrap_or_default().to_string(),
        body: i["body"].as_str().unwrap_or_default().to_string(),
        labels,
    }))
}

/// The form the issue's label names, read from the checkout:
/// `.github/fleetform/<label>.json`. A label that is not a plain name is
/// never a path.
fn form_of(issue: &Issue, workspace: &Path) -> Result<Option<Form>> {
    let plain = |l: &&String| {
        l.starts_with(words::LABEL)
            && l.len() <= 64
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    for label in issue.labels.iter().filter(plain) {
        let rel = format!("{}/{label}.json", crate::flows::form::FORMS_DIR);
        let path = workspace.join(&rel);
        if !path.is_file() {
            continue;
        }
        let text = crate::util::fs::read_input_text(&path)
            .map_err(|e| Error::usage(format!("{rel}: {e}")))?;
        let described: Value = serde_json::from_str(&text).map_err(|e| {
            Error::usage(format!(
                "{rel}: not the form's description ({e}); run `fleetform form` again"
            ))
        })?;
        let variables = described["variables"]
            .as_str()
            .filter(|v| crate::util::path::is_relative_inside(Path::new(v)))
            .ok_or_else(|| {
                Error::usage(format!(
                    "{rel}: `variables` is not a path inside the repository; run `fleetform form` again"
                ))
            })?
            .to_string();
        let bytes = serde_json::to_vec(&described["schema"]).unwrap_or_default();
        let schema = Schema::from_bytes(&bytes, Path::new(&rel))?;
        return Ok(Some(Form {
            label: label.clone(),
            variables,
            schema,
        }));
    }
    Ok(None)
}

/// The answers read, written into the variables file and checked.
fn outcome(issue: &Issue, form: &Form, workspace: &Path) -> Result<Outcome> {
    let fields = fields::fields(&form.schema.document)
        .map_err(|n| Error::usage(format!("the form's schema has {n} settings, more than a form holds; run `fleetform form` again")))?;
    let answers = match answers::read(&issue.body, &fields) {
        Ok(a) => a,
        Err(errors) => {
            return Ok(Outcome::Refused(
                errors.iter().map(ToString::to_string).collect(),
            ))
        }
    };
    if answers.is_empty() {
        return Ok(Outcome::Unchanged);
    }
    let shown = Path::new(&form.variables);
    let path = workspace.join(shown);
    if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(Error::usage(format!(
            "{}: a symbolic link; fleetform changes the file itself only",
            shown.display()
        )));
    }
    let before = match crate::util::fs::read_input_text(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::usage(format!("{}: {e}", shown.display()))),
    };
    let (text, changed) = match change::apply(&before, shown, &answers) {
        Ok(done) => done,
        Err(e) => return Ok(Outcome::Refused(vec![e.to_string()])),
    };
    if !changed {
        return Ok(Outcome::Unchanged);
    }
    let source = crate::values::customer::CustomerSource {
        variables: (shown.to_path_buf(), text.clone().into_bytes()),
        overrides: Default::default(),
        secrets: Default::default(),
    };
    if let Err(problems) = crate::values::customer::check(&source, &form.schema) {
        return Ok(Outcome::Refused(
            problems.iter().map(ToString::to_string).collect(),
        ));
    }
    Ok(Outcome::Changed {
        text,
        changed: answers.iter().map(|a| a.path.join(".")).collect(),
    })
}

/// The outcome said on the issue; a change made into the pull request
/// (its number).
async fn answer(
    gh: &GitHub,
    settings: &Settings,
    issue: &Issue,
    form: &Form,
    outcome: Outcome,
    cx: &Context,
) -> Result<Option<u64>> {
    let say = |what: Comment<'_>| {
        let body = comment(&what);
        async move { super::comment::request_answer(gh, &issue.repo, issue.number, &body).await }
    };
    match outcome {
        Outcome::Refused(problems) => {
            say(Comment::RequestRefused {
                problems: &problems,
            })
            .await?;
            for p in &problems {
                cx.out.error(p);
            }
            Err(Error::failed(format!(
                "issue #{}: the request was not made ({}); the problems are answered on the issue",
                issue.number,
                crate::util::text::count(problems.len(), "problem", "problems")
            )))
        }
        Outcome::Unchanged => {
            say(Comment::RequestUnchanged {
                variables: &form.variables,
            })
            .await?;
            cx.out
                .result(&format!("issue #{}: nothing to change", issue.number));
            Ok(None)
        }
        Outcome::Changed { text, changed } => {
            let (number, new) = pull_request(gh, issue, form, &text).await?;
            if let Some(workflow) = &settings.trigger_workflow {
                let branch = branch_of(issue);
                let inputs = serde_json::json!({ "pull-request": number.to_string() });
                gh.dispatch_workflow(&issue.repo, workflow, &branch, &inputs)
                    .await
                    .map_err(Error::from)?;
            }
            say(Comment::RequestMade {
                number,
                changed: &changed,
                new,
            })
            .await?;
            cx.out.result(&format!(
                "issue #{}: pull request #{number} {}",
                issue.number,
                if new { "opened" } else { "updated" }
            ));
            Ok(Some(number))
        }
    }
}

fn branch_of(issue: &Issue) -> String {
    format!("fleetform/issue-{}", issue.number)
}

/// The branch with the changed file, and its open pull request (opened
/// when there is none): `(number, opened now)`.
async fn pull_request(gh: &GitHub, issue: &Issue, form: &Form, text: &str) -> Result<(u64, bool)> {
    let branch = branch_of(issue);
    let message = |path: &str| format!("infra: {path} (issue #{})", issue.number);
    let body = format!(
        "Closes #{}: the change asked for there, written into `{}` by fleetform from the form's answers. The provider plans it here.",
        issue.number, form.variables
    );
    let proposed = gh
        .propose(
            &issue.repo,
            &crate::github::Proposal {
                branch: &branch,
                files: vec![(form.variables.as_str(), text.as_bytes())],
                message: &message,
                title: &pull_title(&issue.title, &form.label),
                body: &body,
            },
        )
        .await?;
    Ok((proposed.number, proposed.opened))
}

/// The pull request's title: the issue's, on one line, at most 120
/// characters; the form's title prefix when it is empty.
fn pull_title(title: &str, label: &str) -> String {
    let one_line: String = title
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(120)
        .collect();
    let t = one_line.trim();
    if t.is_empty() || t == words::TITLE.trim() {
        format!("{label}: a change from the form")
    } else {
        t.to_string()
    }
}
