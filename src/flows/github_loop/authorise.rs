//! Who may make the manager plan or apply: the registered, active customer
//! that signed the dispatch ([`authorise`]); and for an apply that waited
//! for its approval, that the customer is still active on the manager's
//! default branch and that someone other than the dispatcher approved.

use std::path::Path;

use crate::ci::RunContext;
use crate::config::Activity;
use crate::config::{Customer, Manager, Registry};
use crate::context::Context;
use crate::dispatch::{auth, rotation, Payload};
use crate::error::{Error, Result, Say};
use crate::github::GitHub;
use crate::output::Output;
use crate::report::customer::{status, Status};

use super::event::{read_event, Dispatched, Stage};
use super::fetch::enabled_in_order;
use super::session::{client_if_token, gh_err, runtime, Session};
use super::status::set_one;

/// The manager's client for [`not_a_stale_rerun`], when it has anything
/// to check: a relayed dispatch (no signature, so no signing time) planned
/// again by a re-run (`GITHUB_RUN_ATTEMPT` above 1). Made before the
/// async part; without a manager token such a re-run is refused there.
pub(super) fn rerun_client(
    rt: &tokio::runtime::Runtime,
    manager: &Manager,
    dispatched: &Dispatched,
    ctx: &RunContext,
    stage: Stage,
    cx: &crate::context::Context,
) -> Result<Option<(GitHub, String)>> {
    let relayed = manager
        .config
        .relay
        .as_ref()
        .is_some_and(|r| dispatched.sender.as_deref() == Some(r.sender_login().as_str()));
    let attempt: u64 = ctx
        .run_attempt
        .as_deref()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1);
    if stage != Stage::Plan || !relayed || attempt <= 1 {
        return Ok(None);
    }
    super::session::manager_client(rt, ctx, cx).map(Some)
}

/// A re-run plans the dispatch its run was started for, with the manager
/// code of that run's commit: "Re-run all jobs" of a weeks-old run would
/// plan (and then apply) a customer with old code. A signed dispatch is
/// refused by its signing time after an hour; a relayed one carries none,
/// so its run's age decides: a plan in a run created more than
/// [`auth::PLAN_MAX_AGE_SECS`] ago is refused (1 request, `contents:
/// read` or `actions: read`, on re-runs only).
pub(super) async fn not_a_stale_rerun(
    client: Option<&(GitHub, String)>,
    ctx: &RunContext,
) -> Result<()> {
    let Some((gh, repo)) = client else {
        return Ok(());
    };
    let run_id: u64 = ctx
        .run_id
        .as_deref()
        .and_then(|r| r.parse().ok())
        .ok_or_else(|| Error::usage("GITHUB_RUN_ID is not set: run inside GitHub Actions"))?;
    let run = gh.workflow_run(repo, run_id).await.map_err(gh_err)?;
    let created: Option<jiff::Timestamp> = run.created_at.as_deref().and_then(|t| t.parse().ok());
    let Some(created) = created else {
        return Err(Error::refused(format!(
            "run {run_id} has no creation time GitHub shows, so the age of this re-run cannot be told; nothing was planned"
        )));
    };
    let age = jiff::Timestamp::now().as_second() - created.as_second();
    if age > auth::PLAN_MAX_AGE_SECS as i64 {
        return Err(Error::refused(
            Say::new(format!(
                "this is a re-run of run {run_id}, created at {created} ({} min ago): a relayed dispatch is planned within an hour of its run, or a re-run would plan it with the manager code of that old commit; nothing was planned",
                age / 60
            ))
            .help("push to the customer's repository again (or re-run its trigger) for a new dispatch"),
        ));
    }
    Ok(())
}

/// The registered, active customer that signed the dispatch — or a
/// refusal. In this order, so that nothing unauthenticated causes a request
/// or a write: the payload's repo must be registered (with its registered
/// spelling), the signature must be that customer's, and only then does a
/// revoked customer's commit get its failure status, and a pull request's
/// head is read (1 request) to refuse one from a fork.
pub async fn authorise<'r>(
    registry: &'r Registry,
    manager: &Manager,
    gh: &GitHub,
    dispatched: &Dispatched,
    stage: Stage,
    run_url: Option<String>,
    out: &Output,
) -> Result<&'r Customer> {
    let payload = &dispatched.payload;
    let customer = registered(registry, payload)?;
    authenticate(manager, customer, dispatched, stage, out)?;
    if !customer.takes_part(Activity::Dispatch) {
        return Err(refuse_revoked(manager, gh, customer, payload, stage, run_url, out).await);
    }
    // The manager's own fork check, whatever path the dispatch came by
    // (token, relay, poll): a pull request's head is a branch of the
    // customer's repo as GitHub has it now. A comment command's is checked
    // where it is admitted, which answers on the pull request.
    // A push names the pull request it merged: its commit is already on
    // the default branch, whatever the head was.
    let from_head = payload.event == "pull_request";
    if let (Some(pr), None, true) = (payload.pr, payload.comment, from_head) {
        // What the payload alone refuses goes first: no request for it.
        super::fetch::check_payload_files(manager, payload)?;
        let repo = &payload.customer_repo;
        if let Err(why) = super::comment_command::own_branch(gh, repo, pr).await? {
            return Err(Error::refused(format!("{why}; {}", stage.nothing_done())));
        }
    }
    Ok(customer)
}

/// [`authorise`] for a dispatched plan or apply: its session's client,
/// event and run.
pub(super) async fn authorise_session<'r>(
    session: &Session,
    registry: &'r Registry,
    manager: &Manager,
    stage: Stage,
    out: &Output,
) -> Result<&'r Customer> {
    let (gh, dispatched) = (&session.gh, &session.dispatched);
    let run_url = session.run_url.clone();
    authorise(registry, manager, gh, dispatched, stage, run_url, out).await
}

/// Marks a revoked customer's commit `failure` (a failed write is only
/// noted) and returns the refusal.
async fn refuse_revoked(
    manager: &Manager,
    gh: &GitHub,
    customer: &Customer,
    payload: &Payload,
    stage: Stage,
    run_url: Option<String>,
    out: &Output,
) -> Error {
    let why = customer
        .revoked
        .as_ref()
        .map(|r| r.date.clone())
        .unwrap_or_default();
    let revoked = status(&Status::Revoked { date: &why });
    let set = set_one(
        gh,
        &payload.customer_repo,
        &payload.sha,
        &manager.config.status_context,
        "failure",
        &revoked,
        run_url,
    );
    if let Err(e) = set.await {
        out.note(&format!("could not set the failure status: {e}"));
    }
    Error::refused(format!(
        "customer `{}` ({}) was revoked on {why}; {}",
        customer.slug,
        payload.customer_repo,
        stage.nothing_done()
    ))
}

/// The registry entry of the payload's repo. An unknown repo gets nothing
/// written to it.
pub(super) fn registered<'r>(registry: &'r Registry, payload: &Payload) -> Result<&'r Customer> {
    // The relay found the customer by its repository id (only the relay's
    // dispatches carry one: `authenticate` checks the sender); the name
    // is the repo's current one, which a rename changed.
    // A name registered to another customer is not a rename: planning the
    // id's customer with that name's files is refused.
    if let Some(id) = payload.repo_id {
        let customer = registry.by_repo_id(id).ok_or_else(|| {
            Error::refused(format!(
                "no customer is registered with repository id {id} (`{}`); nothing was planned",
                payload.customer_repo
            ))
        })?;
        return match registry.by_repo(&payload.customer_repo) {
            Some(named) if named.slug != customer.slug => Err(Error::refused(format!(
                "`{}` is registered to customer `{}`, but the dispatch's repository id is customer `{}`'s; nothing was planned",
                payload.customer_repo, named.slug, customer.slug
            ))),
            _ => Ok(customer),
        };
    }
    match registry.by_repo(&payload.customer_repo) {
        None => Err(Error::refused(format!(
            "`{}` is not a registered customer; nothing was planned (register it with the provider first)",
            payload.customer_repo
        ))),
        // GitHub names are case-insensitive, but the spelling is what the
        // workflows' concurrency groups key on: only the registered one counts.
        Some(c) if c.repo.as_deref() != Some(payload.customer_repo.as_str()) => Err(Error::refused(format!(
            "`{}` is registered as `{}`; dispatches must use the registered spelling",
            payload.customer_repo,
            c.repo.as_deref().unwrap_or_default()
        ))),
        Some(c) => Ok(c),
    }
}

/// The dispatch must be signed with `customer`'s current dispatch key
/// (derived from the manager's secret), for this event type, and every
/// payload field (repo, sha, ref, pr, event, files, ...) as received.
///
/// How old the signature may be depends on the job:
/// - **plan**: at most [`auth::PLAN_MAX_AGE_SECS`] (1 h), so a captured
///   dispatch cannot be replayed later. A re-run keeps the original event,
///   so a plan job re-run after that hour is refused; the customer's
///   trigger runs again instead.
/// - **apply**: at most [`auth::APPLY_MAX_AGE_SECS`] (30 days, GitHub's
///   longest wait for an environment's reviewers). The apply job runs in
///   the same workflow run as the plan job it `needs`, after an approval
///   that may take days, with the same event: demanding an hour would refuse
///   every approved production apply. Freshness was enforced by that plan
///   job; the apply still checks the MAC against the *current* key (so a
///   rotation or revocation after planning voids a pending apply), that it
///   is a `fleetform-apply` dispatch, and then that its sha is still the
///   head of the default branch (a replay can only re-apply what the
///   customer's default branch already holds).
///
/// A dispatch the relay sent (`relay:` in fleetform.yml) is authenticated
/// by GitHub: its `sender` is the manager App's bot account
/// (`relay.app_slug`), which only that App's installation tokens act as; the relay found the customer by the
/// verified OIDC token's repository id. It carries no signature.
fn authenticate(
    manager: &Manager,
    customer: &Customer,
    dispatched: &Dispatched,
    stage: Stage,
    out: &Output,
) -> Result<()> {
    if let Some(relay) = &manager.config.relay {
        if dispatched.sender.as_deref() == Some(relay.sender_login().as_str()) {
            if dispatched.payload.sig.is_some() {
                return Err(Error::refused(format!(
                    "a relayed dispatch carries no signature; {}",
                    stage.nothing_done()
                )));
            }
            out.verbose(&format!(
                "dispatch sent by the relay (the manager App `{}`) for `{}`",
                relay.sender_login(),
                customer.slug
            ));
            return Ok(());
        }
    }
    if dispatched.payload.repo_id.is_some() {
        return Err(Error::refused(format!(
            "the dispatch names a repository id, which only the relay (as the manager App) sends, but it was sent by `{}`; {}",
            dispatched.sender.as_deref().unwrap_or("(unknown)"),
            stage.nothing_done()
        )));
    }
    let refuse = |e: auth::AuthError| {
        Error::refused(format!(
            "dispatch not authenticated: {e}; {}",
            stage.nothing_done()
        ))
    };
    let secret = auth::ManagerSecret::from_env().map_err(refuse)?;
    out.mask(secret.expose());
    // During a rotation of the manager's secret, a key of the previous
    // one is accepted too (`dispatch::rotation`).
    let previous = rotation::previous_from_env(&secret).map_err(|e| {
        Error::refused(format!(
            "dispatch not authenticated: {e}; {}",
            stage.nothing_done()
        ))
    })?;
    let mut keys = vec![secret.customer_key(&customer.slug, customer.key_generation())];
    if let Some(p) = &previous {
        out.mask(p.expose());
        keys.push(p.customer_key(&customer.slug, customer.key_generation()));
    }
    let max_age = match stage {
        Stage::Plan => auth::PLAN_MAX_AGE_SECS,
        Stage::Apply => auth::APPLY_MAX_AGE_SECS,
    };
    let (_, which) = rotation::verify_any(
        &keys,
        &dispatched.event_type,
        &dispatched.payload,
        auth::Freshness::now(max_age),
    )
    .map_err(refuse)?;
    out.verbose(&format!(
        "dispatch signed by `{}` (key generation {})",
        customer.slug,
        customer.key_generation()
    ));
    if which > 0 {
        out.note(&format!(
            "`{}` signed with its key of the previous dispatch secret ({}): accepted during the rotation; give it its new key (`fleetform customers dispatch-key {}`) before unsetting {}",
            customer.slug,
            rotation::PREVIOUS_SECRET_ENV,
            customer.slug,
            rotation::PREVIOUS_SECRET_ENV
        ));
    }
    Ok(())
}

/// What `fleetform authorise` hands to the later jobs of the deploy
/// workflow: keys that come from the registry, never from the payload.
#[derive(Debug)]
pub struct Authorised {
    pub customer: String,
    pub customer_repo: String,
    pub event_type: String,
    /// The customer's enabled environments, in fleetform.yml's order.
    pub environments: Vec<String>,
    /// The cloud identity of each enabled environment's plan and apply
    /// jobs, from fleetform.yml and the registry only (empty without
    /// `identity:`).
    pub identities: std::collections::BTreeMap<String, crate::config::StageIdentities>,
    /// What the plan jobs' concurrency groups key on besides the customer:
    /// `pr-<number>` for a pull request's dispatch, else the signed ref, so
    /// a newer plan replaces only a pending plan of the same pull request
    /// or branch.
    pub plan_key: String,
    /// The GitHub environment holding the customer's secrets identity, by
    /// enabled environment where the registry gives the customer a
    /// recipient (empty without `secrets:` in fleetform.yml): the deploy
    /// workflow's key job runs in it.
    pub key_environments: std::collections::BTreeMap<String, String>,
    /// Another run claimed this event first ([`super::once`]): this run
    /// plans nothing.
    pub duplicate_of: Option<super::once::Claim>,
}

/// The environment of each key job: one per enabled environment where
/// the customer has a secrets recipient, with `secrets:` in fleetform.yml.
fn key_environments(
    manager: &Manager,
    customer: &Customer,
    environments: &[String],
) -> std::collections::BTreeMap<String, String> {
    if manager.config.secrets.is_none() {
        return Default::default();
    }
    environments
        .iter()
        .filter(|e| customer.secrets.contains_key(*e))
        .filter_map(|e| manager.environment(e))
        .map(|e| (e.name.clone(), e.secrets_environment(&customer.slug)))
        .collect()
}

/// `pr-<number>`, or the ref (already checked: `refs/...`, no whitespace).
pub fn plan_key(payload: &crate::dispatch::Payload) -> String {
    match payload.pr {
        Some(pr) => format!("pr-{pr}"),
        None => payload.git_ref.clone(),
    }
}

/// The checks of `plan --dispatch` on their own, for the deploy workflow's
/// first job. It reads nothing from GitHub but a comment command's comment
/// and its author's permission; the writes it may make are a revoked
/// customer's `failure` status and a comment command's reaction or reply,
/// and only with a token.
pub fn authorise_dispatch(
    ctx: &RunContext,
    manager_dir: &Path,
    cx: &Context,
) -> Result<Authorised> {
    let mut dispatched = read_event(ctx)?;
    let (manager, registry) = crate::config::load(manager_dir)?;
    let rt = runtime()?;
    let permissions = super::session::access::authorise(&dispatched.payload);
    let gh = client_if_token(&rt, &dispatched.payload.customer_repo, permissions, cx)?;
    let rerun = rerun_client(&rt, &manager, &dispatched, ctx, Stage::Plan, cx)?;
    let customer = rt.block_on(async {
        let customer = authorise(
            &registry,
            &manager,
            &gh,
            &dispatched,
            Stage::Plan,
            ctx.run_url(),
            &cx.out,
        )
        .await?;
        not_a_stale_rerun(rerun.as_ref(), ctx).await?;
        super::relayed_push::resolve(&manager, &gh, &mut dispatched, Stage::Plan).await?;
        Ok::<_, Error>(customer)
    })?;
    // Claimed once authenticated, before anything is written for it (a
    // comment command's reaction): a duplicate writes nothing.
    let store = crate::records::Store::for_manager(&manager, &cx.net);
    let claim = super::once::claim(&store, &customer.slug, &dispatched, ctx)?;
    if let super::once::Claim::Duplicate { run_id, .. } = &claim {
        cx.record(
            crate::audit::Entry::now("dispatch", "duplicate")
                .customer(&customer.slug)
                .sha(Some(&dispatched.payload.sha))
                .dispatch(Some(&dispatched.payload.dispatch_id))
                .detail(format!(
                    "{} dispatch claimed by run {run_id} first; nothing planned in this run",
                    dispatched.event_type
                )),
        );
        return Ok(Authorised {
            plan_key: plan_key(&dispatched.payload),
            key_environments: Default::default(),
            customer: customer.slug.clone(),
            environments: Vec::new(),
            identities: Default::default(),
            customer_repo: dispatched.payload.customer_repo,
            event_type: dispatched.event_type,
            duplicate_of: Some(claim),
        });
    }
    let command = rt.block_on(super::comment_command::admit(
        &manager,
        customer,
        &gh,
        &dispatched,
        Stage::Plan,
        &cx.out,
    ))?;
    let mut environments = enabled_in_order(&manager, customer);
    if let Some(only) = command.and_then(|c| c.environment) {
        environments.retain(|e| *e == only);
    }
    let identities = manager
        .stage_identities(customer, &environments)
        .map_err(|m| Error::failed(format!("the cloud identity of `{}`: {m}", customer.slug)))?;
    Ok(Authorised {
        plan_key: plan_key(&dispatched.payload),
        key_environments: key_environments(&manager, customer, &environments),
        customer: customer.slug.clone(),
        environments,
        identities,
        customer_repo: dispatched.payload.customer_repo,
        event_type: dispatched.event_type,
        duplicate_of: None,
    })
}

/// Whether the customer is still registered and active in the registry
/// on the manager repo's default branch. An apply may wait up to 30 days
/// for its approval; the checkout it runs on is the one of the dispatch,
/// and a revocation merged since must stop it. `Ok(Err(reason))` is a
/// refusal.
pub(super) async fn still_active_on_default_branch(
    manager: &Manager,
    (gh, repo): &(GitHub, String),
    slug: &str,
) -> Result<std::result::Result<(), String>> {
    let rel = manager.config.registry.to_string_lossy().replace('\\', "/");
    let Some(bytes) = gh.get_file(repo, &rel, None).await.map_err(gh_err)? else {
        return Ok(Err(format!("{repo} has no `{rel}` on its default branch")));
    };
    let current = Registry::parse(manager, &manager.path(&manager.config.registry), &bytes)
        .map_err(|e| Error::failed(format!("the registry on {repo}'s default branch: {e}")))?;
    Ok(match current.get(slug) {
        Some(c) if c.takes_part(Activity::Apply) => Ok(()),
        Some(_) => Err(format!(
            "`{slug}` was revoked on {repo}'s default branch after the plan"
        )),
        None => Err(format!(
            "`{slug}` is no longer in the registry on {repo}'s default branch"
        )),
    })
}

/// Who approved this run's deployment to `env`'s apply environment:
/// `None` for `auto_apply: true`; for `auto_apply: false` a reviewer
/// other than the dispatcher, read from the run's deployment reviews (1
/// request), or `Ok(Err(reason))`, a refusal naming the missing
/// protection. `plan`, the `(digest, customer)` the approving review must
/// also name ([`crate::policy::approval::approver_naming`]), is given in a
/// run of a batch of several customers' events (several customers'
/// applies in one run, released by one approval,
/// [`super::event::Dispatched::in_batch_of_several`]); a batch of one runs
/// one customer's applies, as a single dispatch does.
pub(super) async fn reviewed_plan_by(
    manager: &Manager,
    env: &str,
    ctx: &RunContext,
    gh: &(GitHub, String),
    plan: Option<(&str, &str)>,
) -> Result<std::result::Result<Option<String>, String>> {
    reviewed_by_excluding(manager, env, ctx, gh, &[], plan).await
}

/// Who approved this run's deployment (see [`reviewed_plan_by`]), where
/// also `authors` (of the change being applied: a rollout's pull request
/// author and pusher) never count as approvers; `named`: the plan
/// `(digest, customer)` the approval must name.
pub(crate) async fn reviewed_by_excluding(
    manager: &Manager,
    env: &str,
    ctx: &RunContext,
    (gh, repo): &(GitHub, String),
    authors: &[String],
    named: Option<(&str, &str)>,
) -> Result<std::result::Result<Option<String>, String>> {
    let environment = manager
        .environment(env)
        .ok_or_else(|| Error::usage(format!("unknown environment `{env}`")))?;
    // With `approvals:` the approvals on the pull request are what
    // fleetform enforces (checked per plan before its apply); reviewers on
    // the environment, where the plan has them, still hold the job.
    if environment.auto_apply || manager.approval_rule(env).is_some() {
        return Ok(Ok(None));
    }
    let run_id: u64 = ctx
        .run_id
        .as_deref()
        .and_then(|r| r.parse().ok())
        .ok_or_else(|| {
            Error::usage(
                "GITHUB_RUN_ID is not set to a run number: apply --dispatch checks the run's approvals, so it runs inside the manager repo's workflow")
        })?;
    let reviews = gh.run_reviews(repo, run_id).await.map_err(gh_err)?;
    let dispatchers = crate::policy::approval::Dispatchers::new([
        ctx.actor.clone(),
        std::env::var("GITHUB_TRIGGERING_ACTOR").ok(),
    ])
    .with_authors(authors.iter().cloned().map(Some));
    let apply_environment = environment.apply_environment();
    let approved = match named {
        None => {
            crate::policy::approval::approver(&reviews, &apply_environment, &dispatchers, run_id)
        }
        Some(plan) => crate::policy::approval::approver_naming(
            &reviews,
            &apply_environment,
            &dispatchers,
            run_id,
            plan,
        ),
    };
    Ok(approved.map(Some))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{manager, payload, registry};
    use super::*;

    #[test]
    fn only_a_registered_repo_with_its_registered_spelling() {
        let m = manager();
        let r = registry(&m);
        let acme = registered(&r, &payload("Acme/infra", &[])).unwrap();
        assert_eq!(acme.slug, "acme");
        let unknown = registered(&r, &payload("evil/infra", &[])).unwrap_err();
        assert!(
            matches!(&unknown, Error::Refused(m) if m.contains("`evil/infra` is not a registered customer")),
            "{unknown:?}"
        );
        let spelling = registered(&r, &payload("acme/infra", &[])).unwrap_err();
        assert!(
            matches!(&spelling, Error::Refused(m) if m.contains("registered as `Acme/infra`")),
            "{spelling:?}"
        );
        // A revoked customer is still found: authorise refuses it after the
        // signature checked.
        assert_eq!(
            registered(&r, &payload("initech/infra", &[])).unwrap().slug,
            "initech"
        );
    }
}
