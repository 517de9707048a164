//! `customers pin` and `customers unpin`: a customer's (or a rollout
//! wave's) `pins:` in the registry, set through the comment-keeping
//! editor under the registry lock ([`super::edit::edit_registry`]), each
//! change audited. What a pin may hold is the registry's rule
//! (`crate::config::pins`); here it is worded by flag.

use std::collections::BTreeSet;

use crate::config::pins::Pin;
use crate::config::Activity;
use crate::config::{
    days_past, edit, is_one_line, is_real_date, is_reason, Manager, ProductProblem, Registry,
};
use crate::context::Context;
use crate::error::{Error, Result, Say};

use super::edit::{edit_registry, refuse_secretish};

/// Whom a pin or unpin holds: one customer, or every active customer a
/// wave of fleetform.yml's `rollout:` selects today.
pub enum Who {
    Slug(String),
    Wave(String),
}

/// `customers pin` as given.
pub struct PinSettings {
    pub who: Who,
    pub product: Option<String>,
    pub git_ref: String,
    pub until: String,
    pub reason: String,
}

/// `customers unpin` as given.
pub struct UnpinSettings {
    pub who: Who,
    /// Only this product's pin (`None`: every pin).
    pub product: Option<String>,
    pub reason: Option<String>,
}

/// `customers pin`: the pin set on each customer (replacing its pin of
/// the product), audited.
pub fn pin(manager: &Manager, args: &PinSettings, cx: &Context) -> Result<()> {
    let reason = args.reason.trim();
    if !is_reason(reason) {
        return Err(Error::usage("--reason must say why, on one line"));
    }
    refuse_secretish("--reason", reason)?;
    check_product(manager, args.product.as_deref())?;
    check_until(&args.until)?;
    check_ref(manager, &args.git_ref)?;
    let new = Pin {
        product: args.product.clone(),
        git_ref: args.git_ref.clone(),
        until: args.until.clone(),
        reason: reason.to_string(),
    };
    let slugs = who(manager, &args.who)?;
    let held = |pins: &[Pin]| pins.contains(&new);
    edit_pins(
        manager,
        &slugs,
        |pins| {
            pins.retain(|p| p.product != new.product);
            pins.push(new.clone());
        },
        |c| held(&c.pins),
    )?;
    for slug in &slugs {
        cx.record(
            crate::audit::Entry::now("registry", "pinned")
                .customer(slug)
                .reason(reason)
                .detail(new.describe()),
        );
        cx.out
            .result(&format!("pinned `{slug}`: {}", new.describe()));
    }
    Ok(())
}

/// `customers unpin`: the product's pin (or every pin) taken off each
/// customer, audited.
pub fn unpin(manager: &Manager, args: &UnpinSettings, cx: &Context) -> Result<()> {
    let reason = args.reason.as_deref().map(str::trim).unwrap_or("");
    if !is_one_line(reason) {
        return Err(Error::usage("--reason must be one line"));
    }
    refuse_secretish("--reason", reason)?;
    if let Some(p) = &args.product {
        check_product(manager, Some(p))?;
    }
    let slugs = who(manager, &args.who)?;
    let product = args.product.as_deref();
    let released = |p: &Pin| product.is_none_or(|want| p.product.as_deref() == Some(want));
    let before = Registry::load(manager)?;
    edit_pins(
        manager,
        &slugs,
        |pins| pins.retain(|p| !released(p)),
        |c| !c.pins.iter().any(released),
    )?;
    for slug in &slugs {
        let gone: Vec<&Pin> = before
            .get(slug)
            .map(|c| c.pins.iter().filter(|p| released(p)).collect())
            .unwrap_or_default();
        if gone.is_empty() {
            cx.out
                .result(&format!("`{slug}` had no such pin; nothing changed"));
            continue;
        }
        for p in gone {
            let mut entry = crate::audit::Entry::now("registry", "unpinned")
                .customer(slug)
                .detail(p.describe());
            if !reason.is_empty() {
                entry = entry.reason(reason);
            }
            cx.record(entry);
            cx.out
                .result(&format!("unpinned `{slug}`: was {}", p.describe()));
        }
    }
    Ok(())
}

/// Changes the pins of every customer in `slugs` with `change` in one
/// edit of the registry; `done` must hold for each of them afterwards.
fn edit_pins(
    manager: &Manager,
    slugs: &[String],
    change: impl Fn(&mut Vec<Pin>),
    done: impl Fn(&crate::config::Customer) -> bool,
) -> Result<()> {
    edit_registry(
        manager,
        |registry, text, file| {
            let mut indices = slugs
                .iter()
                .map(|s| registry.index_of(s).map_err(Error::usage))
                .collect::<Result<Vec<_>>>()?;
            // From the last entry up: an edit moves only the lines after it.
            indices.sort_unstable_by(|a, b| b.cmp(a));
            let mut text = text.to_string();
            let mut changed = false;
            for i in indices {
                let mut pins = registry.customers[i].pins.clone();
                change(&mut pins);
                if pins != registry.customers[i].pins {
                    text = edit::set_pins(&text, &registry.doc, file, i, &pins)
                        .map_err(|e| Error::failed(e.to_string()))?;
                    changed = true;
                }
            }
            Ok(changed.then_some(text))
        },
        |after| match slugs.iter().find(|s| !after.get(s).is_some_and(&done)) {
            None => Ok(()),
            Some(s) => Err(Error::failed(format!(
                "the edit did not change the pins of `{s}`, so nothing was written"
            ))),
        },
    )?;
    Ok(())
}

/// The slugs a pin or unpin is for: the one named, or every active
/// customer the wave selects today.
fn who(manager: &Manager, who: &Who) -> Result<Vec<String>> {
    let registry = Registry::load(manager)?;
    let wave = match who {
        Who::Wave(wave) => wave,
        Who::Slug(slug) => {
            registry.require(slug).map_err(Error::usage)?;
            return Ok(vec![slug.clone()]);
        }
    };
    let Some(rollout) = &manager.config.rollout else {
        return Err(Error::Usage(
            Say::new(format!(
                "--wave `{wave}`: fleetform.yml has no `rollout:` waves"
            ))
            .help("name the customer instead"),
        ));
    };
    let Some(at) = rollout.waves.iter().position(|w| &w.name == wave) else {
        let names: Vec<&str> = rollout.waves.iter().map(|w| w.name.as_str()).collect();
        return Err(Error::usage(format!(
            "--wave `{wave}` is not a wave of fleetform.yml's `rollout:`; its waves: {}",
            names.join(", ")
        )));
    };
    let active: BTreeSet<String> = registry
        .customers
        .iter()
        .filter(|c| c.takes_part(Activity::Rollout))
        .map(|c| c.slug.clone())
        .collect();
    let (waves, _) = crate::rollout::waves::assign(rollout, &registry.customers, &active);
    let chosen = waves.into_iter().nth(at).unwrap_or_default();
    if chosen.is_empty() {
        return Err(Error::usage(format!(
            "wave `{wave}` selects no active customer today; nothing to do"
        )));
    }
    Ok(chosen)
}

/// `--product` exactly when the manager has products, and a known one
/// ([`Manager::product_problem`], the registry's rule for a pin).
fn check_product(manager: &Manager, product: Option<&str>) -> Result<()> {
    let names = || manager.product_names().join(", ");
    match manager.product_problem(product) {
        Some(ProductProblem::Missing) => Err(Error::Usage(Say::new(format!("--product is required: fleetform.yml declares products ({})", names())).help("name the one to hold"))),
        Some(ProductProblem::NoProducts) => Err(Error::usage(
            "--product: fleetform.yml declares no `products:`; a pin holds the whole manager, leave --product out")),
        Some(ProductProblem::Unknown) => Err(Error::usage(format!(
            "--product `{}` is not a product of fleetform.yml; it declares: {}",
            crate::util::text::shown(product.unwrap_or_default()),
            names()
        ))),
        None => Ok(()),
    }
}

/// `--until` is a real date, today or later (not yet past, as
/// [`Pin::expired_days`] reads it).
fn check_until(until: &str) -> Result<()> {
    if !is_real_date(until) {
        return Err(Error::Usage(
            Say::new(format!(
                "--until `{}` is not a date",
                crate::util::text::shown(until)
            ))
            .help("give the last day of the hold as YYYY-MM-DD"),
        ));
    }
    let today = super::view::today();
    if days_past(until, today).is_some() {
        return Err(Error::Usage(
            Say::new(format!(
                "--until {until} is already past (today is {today})"
            ))
            .help("give the last day of the hold, today or later"),
        ));
    }
    Ok(())
}

/// `--ref` reads as a revision and names a commit of the manager repo.
fn check_ref(manager: &Manager, git_ref: &str) -> Result<()> {
    crate::util::git::check_revision("--ref", git_ref).map_err(Error::usage)?;
    let commit = format!("{git_ref}^{{commit}}");
    let args = [
        "rev-parse",
        "--verify",
        "--quiet",
        "--end-of-options",
        &commit,
    ];
    crate::util::git::run(&manager.root, &args).map_err(|_| {
        Error::Usage(
            Say::new(format!(
                "--ref `{git_ref}` is not a commit of the manager repo at {}",
                crate::config::display_path(&manager.root).display()
            ))
            .help(
                "give a tag, branch or commit it has (fetch it first if it is only on the remote)",
            ),
        )
    })?;
    Ok(())
}
