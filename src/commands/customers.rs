//! `fleetform customers add | list | show | revoke | offboard | pin |
//! unpin | dispatch-key | rotate-key | rotate-secrets-key | instructions`:
//! each subcommand's flags as the settings of one flow of
//! `crate::flows::customers` (the registry read, or edited in place
//! under its lock).

use crate::config::{Manager, TokenInfo};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::flows::customers::add::{add, NewCustomer};
use crate::flows::customers::instructions::instructions;
use crate::flows::customers::keys::{dispatch_key, rotate_key};
use crate::flows::customers::offboard::step::{offboard, Step};
use crate::flows::customers::pins::{pin, unpin, PinSettings, UnpinSettings, Who};
use crate::flows::customers::revoke::revoke;
use crate::flows::customers::secret_keys;
use crate::flows::customers::view::{list, show};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct CustomersArgs {
    #[command(subcommand)]
    pub command: CustomersCommand,
}

#[derive(Debug, Subcommand)]
pub enum CustomersCommand {
    /// Register a customer and print its dispatch key (tokens are never
    /// taken here: they live in GitHub secrets).
    ///
    /// A customer with --repo needs FLEETFORM_DISPATCH_SECRET (the manager's
    /// dispatch secret) in the environment to issue its key.
    Add {
        /// The customer's slug.
        slug: String,
        /// The customer's GitHub repo, owner/name.
        #[arg(long)]
        repo: Option<String>,
        /// GitHub's numeric id of --repo (default: looked up through the
        /// API with the customer App installed on it, or FLEETFORM_TOKEN /
        /// GITHUB_TOKEN). The relay finds customers by it, so with
        /// `relay:` in fleetform.yml it is required.
        #[arg(long, requires = "repo")]
        repo_id: Option<u64>,
        /// The customer App's credentials as `doctor --register-app
        /// customer --relay-secrets FILE` wrote them: --repo's id is
        /// looked up with a token of the App for that repository alone.
        #[arg(
            long,
            value_name = "FILE",
            requires = "repo",
            conflicts_with = "repo_id"
        )]
        app_credentials: Option<PathBuf>,
        /// With `secrets:` in fleetform.yml: store each secrets identity
        /// made straight into the customer's own environment of this
        /// manager repo (OWNER/NAME), sealed through GitHub's API, instead
        /// of a file; needs FLEETFORM_MANAGER_TOKEN (an admin's).
        #[arg(long, value_name = "OWNER/NAME")]
        store_keys_in: Option<String>,
        /// Local checkout of the customer repo (local mode), relative to the registry.
        #[arg(long)]
        path: Option<PathBuf>,
        /// Contact e-mail.
        #[arg(long)]
        contact: String,
        /// Enabled environments (default: all of the manager's).
        #[arg(long = "env", value_delimiter = ',')]
        environments: Vec<String>,
        /// Date added (default: today, UTC).
        #[arg(long)]
        date: Option<String>,
        /// The name of the token the customer created for the manager
        /// (`MANAGER_REPO_PAT`), as GitHub shows it; never its value.
        #[arg(long, requires = "token_expires")]
        token_name: Option<String>,
        /// That token's expiry date, YYYY-MM-DD (`customers list` flags it
        /// 30 days ahead).
        #[arg(long, requires = "token_name")]
        token_expires: Option<String>,
        /// Then open the onboarding pull request on --repo (the trigger
        /// workflow with the relay written in, a starter variables file,
        /// the change form): through the sync App installed there
        /// (FLEETFORM_SYNC_APP_ID, FLEETFORM_SYNC_APP_PRIVATE_KEY), else
        /// FLEETFORM_TOKEN. Where the App is not installed it says so and
        /// writes nothing.
        #[arg(long, requires = "repo")]
        open_pr: bool,
        /// With --open-pr: the relay's https:// address.
        #[arg(long, requires = "open_pr")]
        relay_url: Option<String>,
        /// With --open-pr: the fleetform release the workflows pin
        /// (default: this version's).
        #[arg(long, requires = "open_pr")]
        action_ref: Option<String>,
    },
    /// List customers (tokens expiring within 30 days or expired are flagged).
    List {
        /// The result as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// Also send `token_expiring` to the `notify:` targets that ask for
        /// it, one per active customer whose token expires within 30 days
        /// or has expired (e.g. from a daily scheduled workflow).
        #[arg(long)]
        notify: bool,
    },
    /// Show one customer.
    Show {
        /// The customer's slug.
        slug: String,
        /// The result as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Mark a customer revoked (never deleted; its state is kept; its secrets
    /// recipients retired) and print what to delete where: the secrets in
    /// the customer's repo, its token, and what the manager holds for it.
    Revoke {
        /// The customer's slug.
        slug: String,
        /// Why, for the audit log and whoever reads the status.
        #[arg(long)]
        reason: String,
        /// Date of revocation (default: today, UTC).
        #[arg(long)]
        date: Option<String>,
    },
    /// Hold a customer (or every customer of a rollout wave) at a manager
    /// version for a product until a date, while the rest of the fleet
    /// moves on (replaces the customer's pin of that product).
    Pin(PinArgs),
    /// End a customer's (or a wave's) hold: one product's pin, or all.
    Unpin(UnpinArgs),
    /// Print a customer's current dispatch key (needs FLEETFORM_DISPATCH_SECRET), its
    /// repository secret FLEETFORM_DISPATCH_KEY (masked under GitHub Actions).
    DispatchKey {
        /// The customer's slug.
        slug: String,
    },
    /// Issue a new dispatch key for a customer; the old one is void at once
    /// (needs FLEETFORM_DISPATCH_SECRET).
    RotateKey {
        /// The customer's slug.
        slug: String,
    },
    /// A new age recipient for one environment's secrets (new identity file, old one void).
    RotateSecretsKey(RotateSecretsKeyArgs),
    /// Ready-to-send onboarding text for a customer.
    Instructions {
        /// The customer's slug.
        slug: String,
        /// The manager repo, owner/name (default: `relay.manager_repo` of
        /// fleetform.yml).
        #[arg(long, env = "FLEETFORM_MANAGER_REPO")]
        manager_repo: Option<String>,
        /// A minijinja template to use instead of the built-in one
        /// (default: templates/instructions.md.j2 in the manager repo, if present).
        #[arg(long)]
        template: Option<PathBuf>,
        /// Ref to pin the trigger action to (default: this fleetform's release tag).
        #[arg(long)]
        action_ref: Option<String>,
        /// The relay's public address, for a manager with `relay:` (the
        /// customer's FLEETFORM_RELAY_URL variable).
        #[arg(long, env = "FLEETFORM_RELAY_URL")]
        relay_url: Option<String>,
    },
    /// Preview (plan and seal) the destroy of everything a revoked
    /// customer has; with --approve DIGEST, once someone other than who
    /// asked let it through, archive each state and destroy exactly that
    /// preview, and mark the entry `offboarded`.
    Offboard(OffboardArgs),
}

#[derive(Debug, Args)]
pub struct OffboardArgs {
    /// The customer's slug.
    pub slug: String,
    /// Why (required for the preview; the destroy keeps the preview's).
    #[arg(long, required_unless_present = "approve")]
    pub reason: Option<String>,
    /// The digest the preview printed (its job output `digest`).
    #[arg(long)]
    pub approve: Option<String>,
    /// The preview's GitHub Actions run, which someone else started: this
    /// run confirms it (where the environment can have no required
    /// reviewers, a private repo on GitHub Team or Pro).
    #[arg(long, value_name = "RUN", requires = "approve")]
    pub confirms: Option<u64>,
    /// On a workstation, where no second person can review: destroy
    /// anyway, recorded in the audit log as unreviewed.
    #[arg(long, requires = "approve")]
    pub unreviewed: bool,
    /// Results folder for the plans.
    #[arg(long, env = "FLEETFORM_OUT_DIR", default_value = ".fleetform/out")]
    pub out: PathBuf,
    /// The customer's checkout instead of the registry's `path`.
    #[arg(long, env = "FLEETFORM_CUSTOMER_DIR")]
    pub customer_dir: Option<PathBuf>,
}

/// Whom a pin or unpin holds: one customer, or every customer a rollout
/// wave selects today.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct PinWho {
    /// The customer's slug.
    pub slug: Option<String>,
    /// Every active customer that this wave of fleetform.yml's `rollout:`
    /// selects now (a `percent:` wave is taken among the active customers
    /// not selected by an earlier wave).
    #[arg(long)]
    pub wave: Option<String>,
}

#[derive(Debug, Args)]
pub struct PinArgs {
    #[command(flatten)]
    pub who: PinWho,
    /// The product held (required with `products:` in fleetform.yml, not
    /// allowed without).
    #[arg(long)]
    pub product: Option<String>,
    /// The manager version held: a tag, branch or commit of the manager
    /// repo (it must resolve to a commit there).
    #[arg(long = "ref", value_name = "REF")]
    pub git_ref: String,
    /// The last day of the hold, YYYY-MM-DD (`doctor` and the dashboard
    /// flag it after).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub until: String,
    /// Why (shown with the hold and recorded in the audit).
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct UnpinArgs {
    #[command(flatten)]
    pub who: PinWho,
    /// Only this product's pin (default: every pin of the customer).
    #[arg(long)]
    pub product: Option<String>,
    /// Why (recorded in the audit).
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct RotateSecretsKeyArgs {
    /// The customer's slug.
    pub slug: String,
    /// The environment whose recipient is replaced (one of the customer's).
    #[arg(long)]
    pub env: String,
}

pub fn run(args: &CustomersArgs, manager_dir: &std::path::Path, cx: &Context) -> Result<()> {
    let manager = Manager::load(manager_dir)?;
    match &args.command {
        CustomersCommand::List { json, notify } => list(&manager, *json, *notify, cx),
        CustomersCommand::Show { slug, json } => show(&manager, slug, *json, &cx.out),
        CustomersCommand::Add {
            slug,
            open_pr,
            relay_url,
            action_ref,
            ..
        } => {
            let new = new_customer(&args.command)
                .ok_or_else(|| Error::failed("`customers add` without its arguments"))?;
            let onboard = open_pr
                .then(|| onboard_settings(relay_url.as_deref(), action_ref.as_deref()))
                .transpose()?;
            add(&manager, new, cx)?;
            match onboard {
                Some(s) => {
                    let registry = crate::config::Registry::load(&manager)?;
                    let c = registry.require(slug).map_err(Error::usage)?;
                    crate::flows::customers::onboard::open_pr(&manager, c, &s, cx)
                }
                None => Ok(()),
            }
        }
        CustomersCommand::Pin(a) => pin(&manager, &pin_settings(a), cx),
        CustomersCommand::Unpin(a) => unpin(&manager, &unpin_settings(a), cx),
        CustomersCommand::DispatchKey { slug } => dispatch_key(&manager, slug, &cx.out),
        CustomersCommand::RotateKey { slug } => rotate_key(&manager, slug, cx),
        CustomersCommand::RotateSecretsKey(a) => secret_keys::rotate(&manager, &a.slug, &a.env, cx),
        CustomersCommand::Revoke { slug, reason, date } => {
            revoke(&manager, slug, reason, date.clone(), cx)
        }
        CustomersCommand::Offboard(a) => offboard_step(&manager, a, cx),
        CustomersCommand::Instructions {
            slug,
            manager_repo,
            template,
            action_ref,
            relay_url,
        } => instructions(
            &manager,
            slug,
            manager_repo.as_deref(),
            (
                template.as_ref(),
                action_ref.as_deref(),
                relay_url.as_deref(),
            ),
            &cx.out,
        ),
    }
}

/// `--open-pr`'s settings, checked before anything is written.
fn onboard_settings(
    relay_url: Option<&str>,
    action_ref: Option<&str>,
) -> Result<crate::flows::customers::onboard::OpenPr> {
    if let Some(url) = relay_url.filter(|u| !crate::config::is_web_url(u)) {
        return Err(Error::usage(format!(
            "--relay-url `{}` is not an https:// address",
            crate::util::text::shown(url)
        )));
    }
    let action_ref = super::action_ref(action_ref)?;
    let credential = crate::flows::sync::Credential::from_env()
        .map_err(|e| Error::usage(format!("--open-pr: {e}")))?;
    Ok(crate::flows::customers::onboard::OpenPr {
        relay_url: relay_url.map(str::to_string),
        action_ref,
        credential,
        dry_run: false,
    })
}

/// The customer `customers add` registers (none for another command).
fn new_customer(command: &CustomersCommand) -> Option<NewCustomer> {
    let CustomersCommand::Add {
        slug,
        repo,
        repo_id,
        app_credentials,
        store_keys_in,
        path,
        contact,
        environments,
        date,
        token_name,
        token_expires,
        ..
    } = command
    else {
        return None;
    };
    Some(NewCustomer {
        slug: slug.clone(),
        repo: repo.clone(),
        repo_id: *repo_id,
        app_credentials: app_credentials.clone(),
        store_keys_in: store_keys_in.clone(),
        path: path.clone(),
        contact: contact.clone(),
        environments: environments.clone(),
        date: date.clone(),
        token: match (token_name, token_expires) {
            (Some(name), Some(expires)) => Some(TokenInfo {
                name: name.clone(),
                expires: expires.clone(),
            }),
            _ => None,
        },
    })
}

/// `SLUG` or `--wave WAVE` (clap lets exactly one through).
fn who(who: &PinWho) -> Who {
    match (&who.wave, &who.slug) {
        (Some(wave), None) => Who::Wave(wave.clone()),
        _ => Who::Slug(who.slug.clone().unwrap_or_default()),
    }
}

fn pin_settings(a: &PinArgs) -> PinSettings {
    PinSettings {
        who: who(&a.who),
        product: a.product.clone(),
        git_ref: a.git_ref.clone(),
        until: a.until.clone(),
        reason: a.reason.clone(),
    }
}

fn unpin_settings(a: &UnpinArgs) -> UnpinSettings {
    UnpinSettings {
        who: who(&a.who),
        product: a.product.clone(),
        reason: a.reason.clone(),
    }
}

/// `customers offboard`: the preview, or with `--approve` the destroy,
/// with the Terraform binary `FLEETFORM_TERRAFORM` names.
fn offboard_step(manager: &Manager, a: &OffboardArgs, cx: &Context) -> Result<()> {
    let terraform = std::env::var_os("FLEETFORM_TERRAFORM").map(std::path::PathBuf::from);
    let s = crate::flows::customers::offboard::Settings {
        out_dir: &a.out,
        terraform: terraform.as_deref(),
        customer_dir: a.customer_dir.as_deref(),
    };
    let step = match &a.approve {
        None => Step::Preview {
            reason: a.reason.as_deref(),
        },
        Some(digest) => Step::Destroy(crate::flows::customers::offboard::Approve {
            digest,
            reason: a.reason.as_deref(),
            confirms: a.confirms,
            unreviewed: a.unreviewed,
        }),
    };
    offboard(manager, &a.slug, &step, &s, cx)
}
