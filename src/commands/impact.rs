//! `fleetform impact --base REF [--head REF]`: what a change to the manager
//! repo does to every active customer × product × environment, without
//! planning: variables key by key, customers whose files stop validating,
//! products whose module changed. Both revisions are read through git
//! (`git archive`) into a scratch folder; the customers, their files and
//! the records store are the working tree's. Exit 1 when a customer would
//! break.

use clap::Args;
use std::path::Path;

use crate::config::{Manager, Registry};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::fleet::impact::Impact;
use crate::output::Output;
use crate::util::git;

#[derive(Debug, Args)]
pub struct ImpactArgs {
    /// The manager as it was: a branch, tag or commit (e.g. origin/main).
    #[arg(long, env = "FLEETFORM_IMPACT_BASE")]
    pub base: String,
    /// The manager as it will be (default: the working tree, uncommitted
    /// changes included).
    #[arg(long, env = "FLEETFORM_IMPACT_HEAD")]
    pub head: Option<String>,
    /// Pairs rendered (or, with --plan, planned) at once.
    #[arg(short, long, env = "FLEETFORM_JOBS")]
    pub jobs: Option<usize>,
    /// Also plan the affected pairs at the head against their real state
    /// and group the plans (the head must be the working tree).
    #[arg(long, conflicts_with = "head")]
    pub plan: bool,
    /// With --plan: plan only this matrix shard's pairs (JSON list of
    /// `customer/environment`, as `fleetform matrix` writes them).
    #[arg(long, env = "FLEETFORM_SHARD", requires = "plan")]
    pub shard: Option<String>,
    /// The plans of the shards (`impact --plan --shard .. --json` outputs),
    /// merged into this answer instead of planning here.
    #[arg(long = "plans-from", num_args = 1.., conflicts_with = "plan")]
    pub plans_from: Vec<std::path::PathBuf>,
    /// With --plan: where the plans go.
    #[arg(long, env = "FLEETFORM_OUT_DIR", default_value = ".fleetform/impact")]
    pub out: std::path::PathBuf,
    /// Terraform (or OpenTofu) binary, with --plan.
    #[arg(long, env = "FLEETFORM_TERRAFORM")]
    pub terraform: Option<std::path::PathBuf>,
    /// Post the answer as one sticky comment on the manager's pull request
    /// and set the `fleetform/impact` status on its head (3 requests; token
    /// from FLEETFORM_TOKEN or GITHUB_TOKEN).
    #[arg(long, requires_all = ["manager_repo", "pr", "sha"])]
    pub comment: bool,
    /// With --comment: the manager repo, owner/name.
    #[arg(long, env = "FLEETFORM_MANAGER_REPO")]
    pub manager_repo: Option<String>,
    /// Show old → new values in the text output (never in the comment or
    /// the step summary, which every reader of the manager repo sees).
    #[arg(long)]
    pub show_values: bool,
    /// With --comment: the pull request number.
    #[arg(long, env = "FLEETFORM_PR")]
    pub pr: Option<u64>,
    /// With --comment: the pull request's head commit (the status goes there).
    #[arg(long, env = "FLEETFORM_SHA")]
    pub sha: Option<String>,
    /// The result as JSON on stdout.
    #[arg(long, env = "FLEETFORM_JSON")]
    pub json: bool,
}

struct Settings {
    base: String,
    head: Option<String>,
    jobs: usize,
    plan: Option<PlanWith>,
    /// Shard outputs whose plans are merged into this answer.
    plans_from: Vec<std::path::PathBuf>,
    comment: Option<CommentOn>,
    show_values: bool,
    json: bool,
    /// The pull request's head commit (`--sha`), shown for the working tree.
    sha: Option<String>,
}

/// `--comment`: the manager pull request to answer on.
struct CommentOn {
    repo: String,
    pr: u64,
    sha: String,
    token: crate::github::Token,
}

/// `--plan`: where, with what.
struct PlanWith {
    out: std::path::PathBuf,
    terraform: Option<std::path::PathBuf>,
    jobs: usize,
    shard: Option<std::collections::BTreeMap<String, Option<Vec<String>>>>,
}

fn resolve(args: &ImpactArgs) -> Result<Settings> {
    git::check_revision("--base", &args.base).map_err(Error::usage)?;
    if let Some(h) = &args.head {
        git::check_revision("--head", h).map_err(Error::usage)?;
    }
    if args.jobs == Some(0) {
        return Err(Error::usage("--jobs must be at least 1"));
    }
    let comment = match (args.comment, &args.manager_repo, args.pr, &args.sha) {
        (true, Some(repo), Some(pr), Some(sha)) => {
            if !crate::config::is_repo(repo) {
                return Err(Error::usage(format!(
                    "--manager-repo `{repo}` is not owner/name"
                )));
            }
            if sha.len() != 40 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Error::usage("--sha must be a 40-hex commit"));
            }
            let token = crate::github::Token::from_env().ok_or_else(|| {
                Error::usage("--comment needs a token: set FLEETFORM_TOKEN or GITHUB_TOKEN")
            })?;
            Some(CommentOn {
                repo: repo.clone(),
                pr,
                sha: sha.to_ascii_lowercase(),
                token,
            })
        }
        _ => None,
    };
    Ok(Settings {
        base: args.base.clone(),
        head: args.head.clone(),
        jobs: crate::fleet::parallel::jobs(args.jobs),
        comment,
        show_values: args.show_values,
        plan: match args.plan {
            false => None,
            true => Some(PlanWith {
                out: args.out.clone(),
                terraform: args.terraform.clone(),
                jobs: args.jobs.unwrap_or_else(crate::fleet::terraform_jobs),
                shard: args
                    .shard
                    .as_deref()
                    .map(crate::fleet::parse_shard)
                    .transpose()?,
            }),
        },
        plans_from: args.plans_from.clone(),
        json: args.json,
        sha: args
            .sha
            .as_ref()
            .filter(|s| s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(|s| s.to_ascii_lowercase()),
    })
}

pub fn run(args: &ImpactArgs, manager_dir: &Path, cx: &Context) -> Result<()> {
    let settings = resolve(args)?;
    let live = Manager::load(manager_dir)?;
    // The registry is read while git exports the revisions (and the
    // credential automata every pair's check needs are built).
    let (registry, revisions) = std::thread::scope(|s| {
        s.spawn(crate::values::secrets::prepare);
        let exported = s.spawn(|| {
            let head = settings.head.as_deref();
            crate::fleet::impact::Revisions::export(manager_dir, &live, &settings.base, head)
        });
        let registry = Registry::load(&live);
        let revisions = exported
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        (registry, revisions)
    });
    let registry = registry?;
    let mut impact = revisions?.compare(&live, &registry, settings.jobs, &cx.net)?;
    // The working tree of a pull request's job is the pull request's
    // head: shown as its commit, as GitHub names it.
    if let (None, Some(sha)) = (&settings.head, &settings.sha) {
        impact.head = sha.chars().take(12).collect();
    }
    if let Some(p) = &settings.plan {
        let with = crate::fleet::impact_plan::PlanSettings {
            jobs: p.jobs,
            out_dir: &p.out,
            terraform: p.terraform.as_deref(),
            shard: p.shard.as_ref(),
            manager_dir,
            base: &settings.base,
        };
        impact.plans = Some(crate::fleet::impact_plan::plan_affected(
            &live, &registry, &impact, &with, cx,
        )?);
    }
    if !settings.plans_from.is_empty() {
        let mut plans = merged(&settings.plans_from)?;
        // A shard that failed before it answered (or whose answer is
        // missing) leaves its pairs unplanned: they are failed pairs,
        // listed with the others' plans, never silently dropped.
        crate::report::impact::unanswered(&mut plans, &impact.changed);
        impact.plans = Some(plans);
    }
    // A shard's answer, and whatever a job that comments writes, end up
    // where every reader of the manager repo reads them (an artifact, the
    // log): without values.
    let shared =
        settings.comment.is_some() || settings.plan.as_ref().is_some_and(|p| p.shard.is_some());
    if shared && !settings.show_values {
        impact = impact.without_values();
    }
    show(&impact, settings.json, settings.show_values, &cx.out)?;
    let ctx = crate::ci::RunContext::from_env();
    // Rendered only for a job that has a step summary.
    if ctx.summary.is_some() {
        let _ = ctx.append_summary(&crate::report::impact_comment::summary(
            &impact,
            ctx.summary_room(),
        ));
    }
    if let Some(on) = &settings.comment {
        cx.out.mask(on.token.expose());
        post(on, &impact, ctx.run_url(), cx)?;
    }
    if !impact.broken.is_empty() {
        return Err(Error::failed(format!(
            "{} would stop validating",
            crate::util::text::count(impact.broken.len(), "customer", "customers")
        )));
    }
    if let Some(n) = impact
        .plans
        .as_ref()
        .map(|p| p.failed.len())
        .filter(|n| *n > 0)
    {
        return Err(Error::failed(format!(
            "{} failed to plan",
            crate::util::text::count(n, "affected pair", "affected pairs")
        )));
    }
    Ok(())
}

/// The plans of the shards' answers, merged.
fn merged(files: &[std::path::PathBuf]) -> Result<crate::fleet::impact::Plans> {
    let mut shards = Vec::new();
    for f in files {
        let bytes = crate::util::fs::read_bounded(f, 256 * 1024 * 1024)
            .map_err(|e| Error::failed(e.to_string()))?;
        // A shard that failed before answering leaves an empty file: its
        // pairs are listed as unanswered below.
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        #[derive(serde::Deserialize)]
        struct Shard {
            plans: Option<crate::fleet::impact::Plans>,
        }
        let shard: Shard = serde_json::from_slice(&bytes).map_err(|e| {
            Error::usage(format!(
                "{}: not the output of `fleetform impact --plan --json`: {e}",
                f.display()
            ))
        })?;
        let plans = shard.plans.ok_or_else(|| {
            Error::usage(format!(
                "{}: holds no plans (made without --plan)",
                f.display()
            ))
        })?;
        shards.push(plans);
    }
    Ok(crate::report::impact::merge_plans(shards))
}

/// The sticky comment on the manager pull request and the status on its
/// head: `failure` when a customer would break or a plan failed or a gate
/// blocks, else `success`.
fn post(on: &CommentOn, impact: &Impact, run_url: Option<String>, cx: &Context) -> Result<()> {
    let rt = crate::github::runtime().map_err(|e| Error::failed(e.to_string()))?;
    let gh = crate::github::GitHub::new(
        &rt,
        &cx.net,
        &crate::github::GitHub::api_url_from_env(),
        Some(&on.token),
        false,
    )?;
    let body = crate::report::impact_comment::comment(impact, run_url.as_deref());
    let (state, description) = crate::report::impact::verdict(impact);
    rt.block_on(async {
        gh.upsert_sticky_comment(
            &on.repo,
            on.pr,
            crate::report::impact_comment::MARKER,
            &body,
        )
        .await?;
        gh.set_status(
            &on.repo,
            &on.sha,
            &crate::github::CommitStatus {
                state,
                context: "fleetform/impact".into(),
                description,
                target_url: run_url.clone(),
            },
        )
        .await
    })
    .map_err(|e| Error::failed(format!("answering on {}#{}: {e}", on.repo, on.pr)))?;
    cx.out.verbose(&crate::util::text::count(
        gh.request_count(),
        "GitHub API request",
        "GitHub API requests",
    ));
    Ok(())
}

fn show(impact: &Impact, json: bool, values: bool, out: &Output) -> Result<()> {
    if json {
        out.json(impact)
            .map_err(|e| Error::failed(format!("serialising the impact: {e}")))?;
    } else {
        out.document(crate::report::impact_comment::markdown(impact, values).trim_end());
    }
    Ok(())
}
