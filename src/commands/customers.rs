//! `fleetform customers add | list | show | revoke | offboard | pin |
//! unpin | dispatch-key | rotate-key | rotate-secrets-key | instructions`:
//! each subcommand's flags as the settings of one flow of
//! `crate::flows::customers` (the registry read, or edited in place
//! under its lock).

use crate::cli::{CustomersArgs, CustomersCommand, OffboardArgs, PinArgs, PinWho, UnpinArgs};
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

pub fn run(args: &CustomersArgs, manager_dir: &std::path::Path, cx: &Context) -> Result<()> {
    let manager = Manager::load(manager_dir)?;
    match &args.command {
        CustomersCommand::List { json, notify } => list(&manager, *json, *notify, cx),
        CustomersCommand::Show { slug, json } => show(&manager, slug, *json, &cx.out),
        CustomersCommand::Add { .. } => {
            let new = new_customer(&args.command)
                .ok_or_else(|| Error::Failed("`customers add` without its arguments".into()))?;
            add(&manager, new, cx)
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

/// The customer `customers add` registers (none for another command).
fn new_customer(command: &CustomersCommand) -> Option<NewCustomer> {
    let CustomersCommand::Add {
        slug,
        repo,
        repo_id,
        path,
        contact,
        environments,
        date,
        token_name,
        token_expires,
    } = command
    else {
        return None;
    };
    Some(NewCustomer {
        slug: slug.clone(),
        repo: repo.clone(),
        repo_id: *repo_id,
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
