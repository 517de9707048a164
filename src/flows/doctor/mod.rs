//! `fleetform doctor`: checks through the GitHub API what SECURITY.md
//! ("What you must configure") asks of the manager repo and the tokens,
//! and prints a checklist (must/should, pass/warn/fail, what was found,
//! how to fix it), as JSON with `--json`, and into the step summary under
//! Actions. Exit 5 when any *must* fails or could not be checked; warnings
//! alone exit 0.
//!
//! Tokens: the manager repo's settings are read with
//! `FLEETFORM_MANAGER_TOKEN` (read access to its administration,
//! environments, secrets and Pages; collaborators are listed only to an
//! account with write access, the organisation's base permission shown
//! only to an owner), else with `FLEETFORM_TOKEN`/`GITHUB_TOKEN`;
//! the customer repos with `FLEETFORM_TOKEN`/`GITHUB_TOKEN` (the
//! `SOURCE_REPOS_PAT`). Only names of secrets are read; GitHub's secret
//! endpoints return no values.
//!
//! API budget: on the manager 1 (repo) + 1 (environments) + 1 per
//! environment with custom branch policies + 1 (repository secrets) + 1
//! per fleetform environment that exists (its secrets; each customer's
//! key environment too) + 1 per template
//! environment that exists (its secrets) + 1 per one needing variables
//! (its variables) + 1 (the repository's variables, when any does or the
//! deploy workflow is in the checkout with records in a bucket) + 1 + 1 per
//! ruleset + 1 (workflow permissions) + 1 per 100 collaborators + 1 per
//! 100 outside collaborators + 1 (the owner's organisation) + 1 (Pages);
//! 1 per active customer with a repo (its reach and id in one answer).
//! With the customer App's key, +1 per such customer (its installation)
//! and +2 (`GET /app`, `GET /apps/{slug}` without a token); with the
//! manager App's, +3 (the same and its installation on the manager repo).
//! The GitHub plan is judged from these answers (the organisation's
//! `plan.name`, a 403 on the rulesets read); the deploy workflow's records
//! from the checkout's `.github/workflows/` and fleetform.yml, no request.
//! Each inbox repo named with `--inbox` is read with the manager's token
//! (`inbox`, its budget).
//!
//! May import `audit`, `ci`, `config`, `doctor` (the checks these facts
//! feed), `context` (the command's network settings), `error`, `github`,
//! `net`, `output`, `records` (the state bucket's settings), `report`, `rollout`,
//! `terraform`, `util` and `values`.

mod callback;
pub mod fix;
mod fix_keys;
mod fix_secrets;
mod fix_settings;
mod inbox;
mod reads;
pub mod register_app;
mod secrets;
use secrets::{secret_age_checks, sensitive_variable_checks, stored_secret_checks};

use std::path::Path;

use crate::config::Activity;
use crate::config::{Manager, Registry};
use crate::context::Context;
use crate::doctor::facts::{
    AccessFacts, AppFacts, CustomerFacts, DeployWorkflow, ManagerFacts, TokenFacts,
};
use crate::doctor::{self, Report};
use crate::error::{Error, Result};
use crate::github::{AppRole, CustomerRepos, GitHub, Token};
use crate::output::Output;

/// Checked flags and tokens.
pub struct Settings {
    pub repo: String,
    pub json: bool,
    /// Schema lint findings fail a *must* instead of warning.
    pub strict: bool,
    pub manager_token: Token,
    /// For the customer repos; `None`: the manager token.
    pub customer_token: Option<Token>,
    /// `--etag-cache`: the reads' ETags, kept between runs.
    pub etags: Option<std::sync::Arc<crate::github::EtagCache>>,
    /// `--inbox`: the customers' inbox repos, each once.
    pub inbox: Vec<String>,
}

/// Every fact unread for one reason (GitHub could not be reached).
fn unread_manager(repo: &str, reason: &str) -> ManagerFacts {
    ManagerFacts {
        repo: repo.to_string(),
        default_branch: Err(reason.to_string()),
        environments: Err(reason.to_string()),
        repo_secrets: Err(reason.to_string()),
        environment_secrets: Vec::new(),
        repo_variables: Err(reason.to_string()),
        pinned_variables: Vec::new(),
        environment_variables: Vec::new(),
        installed: Vec::new(),
        rulesets: Err(reason.to_string()),
        workflow_permissions: Err(reason.to_string()),
        private: Err(reason.to_string()),
        secret_scanning: Err(reason.to_string()),
        access: crate::doctor::facts::AccessFacts {
            collaborators: Err(reason.to_string()),
            outside_collaborators: Err(reason.to_string()),
            owner: Err(reason.to_string()),
            pages: Err(reason.to_string()),
        },
        plan_refusal: None,
    }
}

/// Reads the manager repo's settings; a read that fails is kept as its
/// message for the check to report. The repo itself is read first: when
/// GitHub does not answer it at all, nothing more is sent and `Err` says
/// why (once, instead of every read waiting out its retries).
async fn read_manager(
    gh: &GitHub,
    repo: &str,
    manager: &Manager,
    key_environments: &[String],
) -> std::result::Result<ManagerFacts, String> {
    let text = |e: crate::github::GitHubError| e.to_string();
    // The manager repo first: when GitHub answers nothing, nothing more is
    // sent.
    let info = gh.repo_info(repo).await.map_err(text);
    if gh.answered_count() == 0 {
        if let Err(e) = info {
            return Err(e);
        }
    }
    let environments = gh.environments(repo).await.map_err(text);
    let rulesets = gh.rulesets(repo).await;
    let mut environment_secrets = Vec::new();
    if let Ok(envs) = &environments {
        for x in doctor::expected_environments(manager) {
            if envs.iter().any(|e| e.name == x.name) {
                let names = gh.environment_secret_names(repo, &x.name).await;
                environment_secrets.push((x.name, names.map_err(text)));
            }
        }
        // Each customer's own environment for its secrets key.
        for name in key_environments {
            if envs.iter().any(|e| e.name == *name) {
                let names = gh.environment_secret_names(repo, name).await;
                environment_secrets.push((name.clone(), names.map_err(text)));
            }
        }
    }
    // The deploy workflow's records role and engine version are in
    // repository variables.
    let repo_variables = deploy_workflow(&manager.root).is_some()
        && (matches!(manager.config.records, crate::config::Records::S3 { .. })
            || manager.config.terraform.version.is_some());
    let templates =
        reads::read_template_environments(gh, repo, manager, &environments, repo_variables).await;
    environment_secrets.extend(templates.secrets);
    Ok(ManagerFacts {
        repo: repo.to_string(),
        default_branch: info
            .as_ref()
            .map(|i| i.default_branch.clone())
            .map_err(Clone::clone),
        secret_scanning: info.as_ref().map_err(Clone::clone).and_then(|i| {
            i.secret_scanning.ok_or_else(|| {
                "GitHub shows it to the repository's admins only, and this token is none"
                    .to_string()
            })
        }),
        private: info.and_then(|i| {
            i.private
                .ok_or_else(|| format!("GitHub's answer for {repo} has no `private` flag"))
        }),
        environments,
        repo_secrets: gh.repo_secret_names(repo).await.map_err(text),
        environment_secrets,
        repo_variables: templates.repo_variables,
        pinned_variables: templates.pinned,
        environment_variables: templates.variables,
        installed: doctor::installed_for(manager),
        plan_refusal: rulesets.as_ref().err().and_then(plan_refusal),
        rulesets: rulesets.map_err(text),
        workflow_permissions: gh.workflow_permissions(repo).await.map_err(text),
        access: read_access(gh, repo).await,
    })
}

/// GitHub's message when it refused a read for the repository's plan (403
/// "Upgrade to GitHub Pro or make this repository public…").
fn plan_refusal(e: &crate::github::GitHubError) -> Option<String> {
    const UPGRADE: &str = "Upgrade to GitHub Pro or make this repository public";
    let text = e.to_string();
    (e.status() == Some(403) && text.contains(UPGRADE)).then(|| {
        let at = text.find(UPGRADE).unwrap_or(0);
        text.get(at..).unwrap_or("").chars().take(200).collect()
    })
}

/// The manager checkout's deploy workflow: the first file of
/// `.github/workflows/` (in name order, at most 1 MiB each) that uses
/// fleetform's plan or apply action.
fn deploy_workflow(manager_dir: &Path) -> Option<DeployWorkflow> {
    let deploys = |text: &str| {
        ["/actions/plan@", "/actions/apply@"]
            .iter()
            .any(|a| text.contains(&format!("fleetform/fleetform{a}")))
    };
    let (path, text) = doctor::first_workflow(manager_dir, deploys)?;
    Some(DeployWorkflow {
        path,
        records_credential: text.contains("FLEETFORM_RECORDS_AWS_ACCESS_KEY_ID"),
    })
}

/// The manager checkout's workflow that deploys GitHub Pages (the first
/// file of `.github/workflows/` using `actions/deploy-pages`), and whether
/// it publishes only with `FLEETFORM_DASHBOARD_PAGES=true`.
fn pages_workflow(manager_dir: &Path) -> Option<crate::doctor::facts::PagesWorkflow> {
    let (path, text) =
        doctor::first_workflow(manager_dir, |t| t.contains("actions/deploy-pages@"))?;
    Some(crate::doctor::facts::PagesWorkflow {
        path,
        opt_in: text.contains("vars.FLEETFORM_DASHBOARD_PAGES == 'true'"),
    })
}

/// Who reaches the manager repo: its collaborators (all, then the outside
/// ones), its owner's organisation and its Pages site.
async fn read_access(gh: &GitHub, repo: &str) -> AccessFacts {
    let text = |e: crate::github::GitHubError| e.to_string();
    let owner = repo.split_once('/').map_or(repo, |(o, _)| o);
    AccessFacts {
        collaborators: gh.collaborators(repo, "all").await.map_err(text),
        outside_collaborators: gh.collaborators(repo, "outside").await.map_err(text),
        owner: gh.owner_account(owner).await.map_err(text),
        pages: gh.pages(repo).await.map_err(text),
    }
}

/// Every active customer with a repo, unread for one reason.
fn unread_customers(registry: &Registry, app: bool, reason: &str) -> Vec<CustomerFacts> {
    registry
        .customers
        .iter()
        .filter(|c| c.takes_part(Activity::Doctor))
        .filter_map(|c| {
            Some(CustomerFacts {
                slug: c.slug.clone(),
                repo: c.repo.clone()?,
                repo_id: c.repo_id,
                reach: crate::doctor::facts::RepoReach::Failed(reason.to_string()),
                app_installed: app.then(|| Err(reason.to_string())),
            })
        })
        .collect()
}

/// How GitHub answers for every active customer's repo: read through
/// `repos` (the customer token's, or a token of the customer App per
/// repository), else the manager's client.
async fn read_customers(
    repos: Option<&CustomerRepos>,
    manager_gh: &GitHub,
    app: Option<&GitHub>,
    registry: &Registry,
) -> Vec<CustomerFacts> {
    let mut out = Vec::new();
    for c in registry
        .customers
        .iter()
        .filter(|c| c.takes_part(Activity::Doctor))
    {
        let Some(repo) = &c.repo else { continue };
        let app_installed = match app {
            Some(app) => Some(app.app_installation(repo).await.map_err(|e| e.to_string())),
            None => None,
        };
        let reach = match repos.map(|r| r.client(repo)) {
            None => manager_gh.repo_reach(repo).await,
            Some(made) => match made.await {
                Ok(gh) => gh.repo_reach(repo).await,
                Err(e) => crate::doctor::facts::RepoReach::Failed(e.to_string()),
            },
        };
        out.push(CustomerFacts {
            slug: c.slug.clone(),
            repo: repo.clone(),
            repo_id: c.repo_id,
            reach,
            app_installed,
        });
    }
    out
}

/// A client holding the `role` App's JWT, when that App is configured.
fn app_client(
    role: AppRole,
    rt: &tokio::runtime::Runtime,
    api: &str,
    cx: &Context,
) -> Result<Option<GitHub>> {
    let Some(app) =
        crate::github::AppKey::from_env(role).map_err(|e| Error::usage(e.to_string()))?
    else {
        return Ok(None);
    };
    let jwt = app.jwt(crate::audit::now_unix())?;
    cx.out.mask(jwt.expose());
    Ok(Some(GitHub::new(rt, &cx.net, api, Some(&jwt), false)?))
}

fn token_facts(label: &str, gh: &GitHub) -> TokenFacts {
    TokenFacts {
        label: label.to_string(),
        expiration: gh.token_expiration(),
        used: gh.answered_count() > 0,
    }
}

/// The API is GitHub Enterprise's (Server: `/api/v3`; Cloud with data
/// residency: `*.ghe.com`), where an internal App also reaches customers.
fn is_enterprise(api: &str) -> bool {
    let host = api.split("://").nth(1).unwrap_or(api);
    let host = host.split(['/', ':']).next().unwrap_or("");
    api.trim_end_matches('/').ends_with("/api/v3") || host.ends_with(".ghe.com")
}

/// What GitHub says of one App: `GET /app` with its JWT, `GET
/// /apps/{slug}` without a credential, and the manager App's installation
/// on the manager repo. 2 or 3 requests.
async fn read_app(
    role: AppRole,
    app: &GitHub,
    anonymous: &GitHub,
    manager_repo: &str,
    enterprise: bool,
) -> AppFacts {
    let text = |e: crate::github::GitHubError| e.to_string();
    let grant = app.app_grant().await.map_err(text);
    let public = match &grant {
        Ok(g) => Some(anonymous.app_is_public(&g.slug).await.map_err(text)),
        Err(_) => None,
    };
    let on_manager = match role {
        AppRole::Manager => Some(app.app_installed(manager_repo).await.map_err(text)),
        AppRole::Customer | AppRole::Sync => None,
    };
    AppFacts {
        role,
        grant,
        public,
        on_manager,
        enterprise,
    }
}

/// The checks of each App doctor has the key of, and the requests sent.
fn apps_checks(
    manager: &Manager,
    repo: &str,
    rt: &tokio::runtime::Runtime,
    api: &str,
    cx: &Context,
) -> Result<(Vec<doctor::Check>, usize)> {
    let anonymous = GitHub::new(rt, &cx.net, api, None, false)?;
    let relay_slug = manager.config.relay.as_ref().map(|r| r.app_slug.as_str());
    let (mut checks, mut requests) = (Vec::new(), 0);
    for role in [AppRole::Customer, AppRole::Manager] {
        let Some(app) = app_client(role, rt, api, cx)? else {
            continue;
        };
        let facts = rt.block_on(read_app(role, &app, &anonymous, repo, is_enterprise(api)));
        checks.extend(doctor::app_checks(&facts, relay_slug));
        requests += app.request_count();
    }
    Ok((checks, requests + anonymous.request_count()))
}

/// The proxy and the trusted CAs requests to `api` use (never a
/// credential).
fn network_route(net: &crate::net::Settings, api: &str) -> Result<String> {
    let net = net.get().map_err(|e| Error::usage(e.to_string()))?;
    let extra = std::env::var_os(crate::github::CA_FILE_VAR)
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from);
    Ok(crate::net::describe_route(net, api, extra.as_deref()))
}

/// The manager's client and the customers' (their token, when it is
/// another; else the customer App's, a token per repository), with
/// `--etag-cache`'s cache. Whether GitHub can be reached at all is the
/// manager client's first answer: a connection that cannot be made is said
/// at once, not retried.
fn token_clients(
    settings: &Settings,
    rt: &tokio::runtime::Runtime,
    api: &str,
    cx: &Context,
) -> Result<(GitHub, Option<CustomerRepos>)> {
    let cached = |gh: GitHub| match &settings.etags {
        Some(cache) => gh.with_etag_cache(cache.clone()),
        None => gh,
    };
    let manager_gh = cached(
        GitHub::new(rt, &cx.net, api, Some(&settings.manager_token), false)?
            .without_connect_retries(),
    );
    let customers = crate::flows::github_loop::session::customer_repos_or(
        rt,
        crate::flows::github_loop::session::access::FILES,
        settings.customer_token.as_ref(),
        cx,
    )?;
    let customers = customers.map(|repos| match &settings.etags {
        Some(cache) => repos.with_etag_cache(cache.clone()),
        None => repos,
    });
    Ok((manager_gh, customers))
}

/// Reads everything and judges it.
fn examine(
    settings: &Settings,
    manager: &Manager,
    registry: &Registry,
    deploy: Option<DeployWorkflow>,
    cx: &Context,
) -> Result<Report> {
    let rt = crate::github::runtime()?;
    let api = GitHub::api_url_from_env();
    let app_gh = app_client(AppRole::Customer, &rt, &api, cx)?;
    let (manager_gh, customer_gh) = token_clients(settings, &rt, &api, cx)?;
    let mut unreachable = false;
    let (manager_facts, customers, inboxes, action_refs) = rt.block_on(async {
        let key_environments: Vec<String> = doctor::key_environments(manager, &registry.customers)
            .into_iter()
            .map(|(_, name)| name)
            .collect();
        match read_manager(&manager_gh, &settings.repo, manager, &key_environments).await {
            Ok(m) => {
                let c =
                    read_customers(customer_gh.as_ref(), &manager_gh, app_gh.as_ref(), registry)
                        .await;
                let inboxes = inbox::read_inboxes(&manager_gh, &settings.inbox).await;
                (m, c, inboxes, reads::read_action_refs(&manager_gh, manager).await)
            }
            Err(e) => {
                cx.out.error(&format!(
                    "cannot reach GitHub at {api}: {e}; no check below could be made: check the network (a proxy, a firewall) or GITHUB_API_URL and run doctor again"
                ));
                unreachable = true;
                let reason = format!("GitHub at {api} did not answer (said above)");
                (
                    unread_manager(&settings.repo, &reason),
                    unread_customers(registry, app_gh.is_some(), &reason),
                    inbox::unread_inboxes(&settings.inbox, &reason),
                    (Vec::new(), Default::default()),
                )
            }
        }
    });
    let mut checks = found_checks(
        manager,
        registry,
        deploy.as_ref(),
        &manager_facts,
        &customers,
    );
    checks.extend(inbox::checks(&settings.repo, &inboxes));
    checks.extend(doctor::action_refs_check(&action_refs.0, &action_refs.1));
    let (app_checks, app_requests) = apps_checks(manager, &settings.repo, &rt, &api, cx)?;
    checks.extend(app_checks);
    let now = crate::rollout::now() as i64;
    checks.extend(token_checks(&manager_gh, customer_gh.as_ref(), now));
    if unreachable {
        // Their fix is the one said first: reach GitHub.
        for c in checks.iter_mut() {
            c.fix.clear();
        }
    }
    checks.insert(
        0,
        doctor::network_check(&network_route(&cx.net, &api)?, !unreachable),
    );
    // Known without GitHub: the manager's own schema, the pins' expiry.
    checks.push(schema_check(manager, settings.strict, &cx.out));
    let today = jiff::Timestamp::from_second(now)
        .unwrap_or_else(|_| jiff::Timestamp::now())
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    checks.extend(doctor::pin_checks(&registry.customers, today));
    checks.extend(secret_age_checks(manager, registry, today));
    checks.extend(sensitive_variable_checks(manager));
    checks.extend(stored_secret_checks(manager));
    checks.extend(secrets::required_version_check(manager));
    checks.extend(state_bucket_checks(manager, &cx.net));
    let requests = manager_gh.request_count()
        + customer_gh.as_ref().map_or(0, CustomerRepos::request_count)
        + app_gh.as_ref().map_or(0, GitHub::request_count)
        + app_requests;
    for note in settings.etags.iter().flat_map(|c| c.save_or_note()) {
        cx.out.note(&note);
    }
    Ok(Report::new(&settings.repo, checks, requests))
}

/// The state bucket's rows, read through the records' S3 client; none
/// with a local backend.
fn state_bucket_checks(manager: &Manager, net: &crate::net::Settings) -> Vec<doctor::Check> {
    let Some(bucket) = crate::records::state_bucket::StateBucket::for_manager(manager, net) else {
        return Vec::new();
    };
    let read = bucket
        .facts()
        .map_err(|e| e.to_string())
        .map(|f| doctor::StateBucketFacts {
            bucket: bucket.describe("").trim_end_matches('/').to_string(),
            versioning: f.versioning,
            noncurrent_expiry: f.noncurrent_expiry,
            object_lock: f.object_lock,
            encryption: f.encryption,
        });
    doctor::state_bucket_checks(read, manager.config.state.recovery_days)
}

/// What the manager repo and the customers read from GitHub say: the
/// manager's settings and workflows, the records, batches, isolation, and
/// each customer's reach, id and App.
fn found_checks(
    manager: &Manager,
    registry: &Registry,
    deploy: Option<&DeployWorkflow>,
    manager_facts: &crate::doctor::facts::ManagerFacts,
    customers: &[crate::doctor::facts::CustomerFacts],
) -> Vec<doctor::Check> {
    let relay = manager.config.relay.is_some();
    let mut checks = doctor::manager_checks(manager, manager_facts);
    checks.extend(doctor::rotation_checks(
        &manager_facts.environment_secrets,
        |v| std::env::var_os(v).is_some_and(|x| !x.is_empty()),
    ));
    checks.extend(doctor::template_checks(manager, manager_facts));
    checks.extend(doctor::age_key_checks(manager, manager_facts));
    checks.push(doctor::plan_check(manager_facts));
    checks.push(doctor::dashboard_check(
        manager_facts,
        pages_workflow(&manager.root).as_ref(),
    ));
    checks.extend(doctor::impact_plan_check(
        doctor::impact_plan_workflow(&manager.root).as_deref(),
        &manager_facts.environments,
    ));
    checks.extend(doctor::records_check(manager, deploy));
    checks.extend(doctor::records_recipient_check(manager));
    checks.extend(doctor::engine_version_check(
        manager,
        deploy,
        &manager_facts.repo_variables,
        &manager_facts.pinned_variables,
    ));
    checks.extend(doctor::records_variables_check(
        manager,
        deploy,
        &manager_facts.repo_variables,
        &manager_facts.pinned_variables,
    ));
    let batch = doctor::first_workflow(&manager.root, |t| t.contains("fleetform batch-entries"));
    checks.extend(doctor::batch_check(
        manager,
        batch.as_ref().map(|(path, _)| path.as_str()),
    ));
    checks.extend(doctor::isolation_checks(&registry.customers, manager_facts));
    checks.extend(doctor::customer_key_checks(
        manager,
        &registry.customers,
        manager_facts,
    ));
    checks.extend(customers.iter().map(doctor::customer_check));
    checks.extend(doctor::customer_scanning_check(customers));
    checks.extend(customers.iter().map(|c| doctor::repo_id_check(c, relay)));
    checks.extend(customers.iter().filter_map(doctor::app_check));
    checks
}

/// The tokens' checks (their expiry, what they may do).
fn token_checks(
    manager_gh: &GitHub,
    customers: Option<&CustomerRepos>,
    now: i64,
) -> Vec<doctor::Check> {
    // The customer App's tokens are minted per repository and renewed:
    // only a token given is checked.
    let token = customers.filter(|c| !c.is_app());
    let name = if token.is_some() {
        "manager token"
    } else {
        "token"
    };
    let mut tokens = vec![token_facts(name, manager_gh)];
    if let Some(repos) = token {
        tokens.push(TokenFacts {
            label: "customer token".into(),
            expiration: repos.token_expiration(),
            used: repos.answered_count() > 0,
        });
    }
    tokens.iter().map(|t| doctor::token_check(t, now)).collect()
}

/// The manager's schemas (each product's, with products), linted as
/// `validate` lints them: the findings said located (warnings, errors with
/// `--strict`) and summed up in one check, a *should* (a *must* with
/// `--strict`).
fn schema_check(manager: &Manager, strict: bool, out: &Output) -> doctor::Check {
    let level = match strict {
        true => doctor::Level::Must,
        false => doctor::Level::Should,
    };
    let what = "schema lint";
    let paths: Vec<&Path> = match manager.has_products() {
        true => manager.config.products.iter().map(|p| &*p.schema).collect(),
        false => vec![manager.schema_path()],
    };
    let mut findings = Vec::new();
    for rel in paths {
        match crate::values::schema::Schema::of_manager(manager, rel) {
            Ok(schema) => findings.extend(schema.lint_file(&manager.path(rel))),
            Err(e) => {
                return doctor::Check::not_met(
                    doctor::Level::Must,
                    what,
                    format!("{}: {e}", rel.display()),
                    "fix the schema (`fleetform validate` says the same)",
                )
            }
        }
    }
    for d in &findings {
        match strict {
            true => out.diagnostic(d),
            false => out.warning(d),
        }
    }
    if findings.is_empty() {
        return doctor::Check::pass(level, what, "no findings");
    }
    doctor::Check::not_met(
        level,
        what,
        format!(
            "{} (said above, located)",
            crate::util::text::count(findings.len(), "finding", "findings")
        ),
        "fix the schema where the findings point (`fleetform validate --strict` fails on them too)",
    )
}

pub fn run(settings: &Settings, manager_dir: &Path, cx: &Context) -> Result<()> {
    cx.out.mask(settings.manager_token.expose());
    if let Some(t) = &settings.customer_token {
        cx.out.mask(t.expose());
    }
    let (manager, registry) = crate::config::load(manager_dir)?;
    let report = examine(
        settings,
        &manager,
        &registry,
        deploy_workflow(manager_dir),
        cx,
    )?;
    let ctx = crate::ci::RunContext::from_env();
    let _ = ctx.append_summary(&crate::report::doctor::markdown(&report));
    cx.out.verbose(&crate::util::text::count(
        report.requests,
        "GitHub API request",
        "GitHub API requests",
    ));
    if settings.json {
        cx.out.json(&report).expect("serialisable");
    } else {
        cx.out.result(&crate::report::doctor::text(&report));
    }
    if report.must_failed > 0 {
        return Err(Error::Doctor(format!(
            "{} failed or could not be made; fix them and run `fleetform doctor` again",
            crate::util::text::count(report.must_failed, "must check", "must checks")
        )));
    }
    Ok(())
}
