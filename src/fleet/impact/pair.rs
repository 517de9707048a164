//! One pair from its checked documents: rendered at both sides, compared.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{Layers, Outcome, PairImpact, ValueChange};
use crate::config::{Customer, Unit};
use crate::values::customer;
use crate::values::layers::{changed_leaves, changed_leaves_at, Layered};
use crate::values::template::{TemplateMemo, ValueTemplates};

/// The top-level entries where the manager's values for an environment
/// differ between the sides (see [`customer::changed_keys`]), and what
/// rendering those alone takes from each side's manager: made once per
/// environment, for every pair.
pub(super) struct AtKeys {
    keys: BTreeSet<String>,
    head: customer::Only,
    base: customer::Only,
}

impl AtKeys {
    pub(super) fn of(head: &Layers, base: &Layers, env: &str) -> Option<AtKeys> {
        let keys = customer::changed_keys(&head.layers, &base.layers, env)?;
        Some(AtKeys {
            head: customer::Only::head(&head.layers, env, &keys),
            base: customer::Only::base(&base.layers, env, &keys),
            keys,
        })
    }
}

/// The pair rendered at the head, then at the base, compared key by key.
/// `keys`: see [`AtKeys`]; both sides render those alone when they can
/// ([`at_keys`]), else the head renders whole and the base those alone
/// when it can.
#[allow(clippy::too_many_arguments)]
pub(super) fn one(
    unit: &Unit,
    c: &Customer,
    docs: &customer::CustomerDocs,
    head: &Layers,
    base: Option<&Layers>,
    keys: Option<&AtKeys>,
    templates: &ValueTemplates,
    files_from: &str,
) -> Outcome {
    let env = &unit.environment;
    // The base's templates render with the same context as the head's
    // (unless `project_name` differs): each is rendered once.
    let memo = &mut TemplateMemo::new(templates);
    // The base renders the same documents: what they were checked against
    // then does not matter, only what the manager made of them.
    let base = base.filter(|b| b.view.environment(env).is_some());
    let sides = (head, base, keys);
    if let Some(outcome) = at_keys(unit, c, docs, sides, memo, files_from) {
        return outcome;
    }
    let Ok(new) = customer::render_memo(&head.layers, docs, c, env, memo) else {
        return Outcome::Same; // a render error is the plan's to report
    };
    let (old, at) = match part(&new, docs, c, env, base, keys, memo) {
        Some(Some(old)) => (Some(old), keys.map(|k| &k.keys)),
        // The whole base fails where its part does.
        Some(None) => (None, None),
        None => (
            base.and_then(|b| customer::render_memo(&b.layers, docs, c, env, memo).ok()),
            None,
        ),
    };
    let changes = match (&old, at) {
        (Some(o), Some(keys)) => changed_leaves_at(&o.value, &new.value, keys),
        _ => changed_leaves(old.as_ref().map(|o| &o.value), &new.value),
    };
    outcome(unit, changes, old.as_ref(), &new, (head, base), files_from)
}

/// The pair told from both sides rendered at `keys` alone, when that
/// tells what the wholes tell; `None`: render the head whole.
///
/// The head's part is the whole at `keys`, and fails where the whole
/// does, unless the rest could fail (then it is `None`: see
/// [`customer::render_only_if_the_rest_renders`]); the base's part is
/// [`part`]'s. An empty side is compared whole, and so is a base that
/// fails (every leaf of the head is then new).
fn at_keys(
    unit: &Unit,
    c: &Customer,
    docs: &customer::CustomerDocs,
    (head, base, keys): (&Layers, Option<&Layers>, Option<&AtKeys>),
    memo: &mut TemplateMemo<'_, customer::TemplateContext>,
    files_from: &str,
) -> Option<Outcome> {
    let (b, at) = (base?, keys?);
    let env = &unit.environment;
    let only =
        customer::render_only_if_the_rest_renders(&head.layers, &at.head, docs, c, env, memo);
    let Ok(new) = only? else {
        return Some(Outcome::Same); // as the whole's render error
    };
    let Ok(old) = customer::render_only(&b.layers, &at.base, docs, c, env, memo)? else {
        return None;
    };
    let empty = |l: &Layered| l.value.as_object().is_none_or(|m| m.is_empty());
    if empty(&new) || empty(&old) {
        return None;
    }
    let changes = changed_leaves_at(&old.value, &new.value, &at.keys);
    Some(outcome(
        unit,
        changes,
        Some(&old),
        &new,
        (head, base),
        files_from,
    ))
}

/// The pair's outcome from its changed leaves.
fn outcome(
    unit: &Unit,
    changes: Vec<(String, Option<&Value>, Option<&Value>)>,
    old: Option<&Layered>,
    new: &Layered,
    (head, base): (&Layers, Option<&Layers>),
    files_from: &str,
) -> Outcome {
    let values = diff(changes, old, new, head, base);
    if values.is_empty() && old.is_some() {
        return Outcome::Same;
    }
    Outcome::Changed(PairImpact {
        unit: unit.clone(),
        new: old.is_none(),
        values,
        module: false,
        files_from: files_from.to_string(),
    })
}

/// The base rendered at `keys` alone (`Some(None)`: it fails there, so it
/// fails whole); `None` when the whole base must be rendered instead.
/// Outside `keys` both sides layer the same values with the same context,
/// so they render (or fail) alike, and the head rendered.
fn part(
    new: &Layered,
    docs: &customer::CustomerDocs,
    c: &Customer,
    env: &str,
    base: Option<&Layers>,
    keys: Option<&AtKeys>,
    memo: &mut TemplateMemo<'_, customer::TemplateContext>,
) -> Option<Option<Layered>> {
    let (b, at) = (base?, keys?);
    let keys = &at.keys;
    let Value::Object(head_map) = &new.value else {
        return None;
    };
    let Ok(old) = customer::render_only(&b.layers, &at.base, docs, c, env, memo)? else {
        return Some(None);
    };
    let Value::Object(old_map) = &old.value else {
        return None;
    };
    // An empty side is a leaf of its own: compare the wholes.
    let old_empty = old_map.is_empty() && head_map.keys().all(|k| keys.contains(k));
    if old_empty || head_map.is_empty() {
        return None;
    }
    Some(Some(old))
}

/// Every changed leaf with the file that sets it.
fn diff(
    changes: Vec<(String, Option<&Value>, Option<&Value>)>,
    old: Option<&Layered>,
    new: &Layered,
    head: &Layers,
    base: Option<&Layers>,
) -> Vec<ValueChange> {
    changes
        .into_iter()
        .map(|(key, before, after)| ValueChange {
            file: new
                .origin(&key)
                .filter(|_| after.is_some())
                .map(|o| shown_at(&o.location, head))
                .or_else(|| {
                    let o = old.and_then(|o| o.origin(&key))?;
                    Some(shown_at(&o.location, base?))
                }),
            old: before.cloned(),
            new: after.cloned(),
            key,
        })
        .collect()
}

/// A position in a side's file as a reader finds it: the path relative to
/// the manager (a customer's file, outside it, as it is), then the commit
/// (`values/base.yml:12:15 at 1a2b3c4d5e6f`).
fn shown_at(location: &fleetform_yaml::Location, side: &Layers) -> String {
    let file = location
        .file
        .strip_prefix(&side.root)
        .unwrap_or(&location.file);
    let file = file.strip_prefix(".").unwrap_or(file);
    let mut out = format!("{}:{}", file.display(), location.pos);
    if let Some(at) = &side.at {
        out.push_str(&format!(" at {at}"));
    }
    out
}
