//! A side's render of a few top-level entries: what `impact` renders at
//! the base when the manager's values of an environment differ from the
//! head's at those entries alone.
//!
//! Layering is entry by entry (a top-level entry of the result comes from
//! the same entry of each layer) and templates render string by string
//! with one context, so the entries whose manager values are equal at both
//! sides render alike at both: only the others need rendering again.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;

use super::{finish, project_name, CustomerDocs, ManagerLayers, TemplateContext};
use crate::config::Customer;
use crate::data::Diagnostic;
use crate::values::layers::{Layer, Layered, Source};
use crate::values::template::TemplateMemo;
use fleetform_yaml::{escape_token, Document};

/// The top-level entries whose merged manager values for `env` differ
/// between `head` and `base`; `None` when rendering those alone at the base
/// would not give what the whole render gives: `project_name` (every
/// template sees it) differs, or the variables passed from other products
/// do.
pub fn changed_keys(
    head: &ManagerLayers,
    base: &ManagerLayers,
    env: &str,
) -> Option<BTreeSet<String>> {
    fn merged<'l>(l: &'l ManagerLayers, env: &str) -> &'l Value {
        &l.merged.envs.get(env).unwrap_or(&l.merged.base).value
    }
    let (Value::Object(h), Value::Object(b)) = (merged(head, env), merged(base, env)) else {
        return None;
    };
    let keys: BTreeSet<String> = h
        .keys()
        .chain(b.keys())
        .filter(|k| h.get(*k) != b.get(*k))
        .cloned()
        .collect();
    let passed = |l: &ManagerLayers| {
        l.passed
            .iter()
            .map(|(k, p)| (k.clone(), p.product.clone()))
            .collect::<Vec<_>>()
    };
    (!keys.contains("project_name") && passed(head) == passed(base)).then_some(keys)
}

/// [`super::render_memo`] of the top-level entries `keys` alone (the
/// result holds those and their origins); `None` when a customer layer is
/// not a mapping (it replaces the whole result: render it whole).
pub fn render_only(
    layers: &ManagerLayers,
    docs: &CustomerDocs,
    customer: &Customer,
    env: &str,
    keys: &BTreeSet<String>,
    memo: &mut TemplateMemo<'_, TemplateContext>,
) -> Option<Result<Layered, Vec<Diagnostic>>> {
    // `project_name` is layered too: templates see it.
    let mut with_name = keys.clone();
    with_name.insert("project_name".into());
    let mut l = layer_only(layers, docs, env, &with_name)?;
    let name = project_name(&l);
    if !keys.contains("project_name") {
        if let Value::Object(m) = &mut l.value {
            m.remove("project_name");
        }
    }
    Some(finish(layers, l, customer, env, name, memo))
}

/// `super::layer` of the entries `keys` alone.
fn layer_only(
    layers: &ManagerLayers,
    docs: &CustomerDocs,
    env: &str,
    keys: &BTreeSet<String>,
) -> Option<Layered> {
    let manager = layers.merged.envs.get(env).unwrap_or(&layers.merged.base);
    let mut l = manager.only(keys)?;
    let pick = |v: &Value, skip: Option<&str>| match v {
        Value::Object(m) => Some(Value::Object(
            m.iter()
                .filter(|(k, _)| keys.contains(*k) && Some(k.as_str()) != skip)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )),
        _ => None,
    };
    let whole = |layer, doc: &Arc<Document>| Source {
        layer,
        doc: doc.clone(),
        root: String::new(),
    };
    let vars = &docs.variables;
    l.apply(
        whole(Layer::Customer, vars),
        &pick(&vars.value, Some("environments"))?,
    );
    match vars.value.get("environments").and_then(|e| e.get(env)) {
        None | Some(Value::Null) => {}
        Some(block) => l.apply(
            Source {
                layer: Layer::CustomerEnv,
                doc: vars.clone(),
                root: format!("/environments/{}", escape_token(env)),
            },
            &pick(block, None)?,
        ),
    }
    if let Some(d) = docs.overrides.get(env) {
        if !d.value.is_null() {
            l.apply(whole(Layer::CustomerEnvFile, d), &pick(&d.value, None)?);
        }
    }
    Some(l)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;
    use crate::values::layers::{changed_leaves, changed_leaves_at, MergedManager};
    use crate::values::template::ValueTemplates;
    use fleetform_yaml::{load_str, Limits};

    fn doc(name: &str, text: &str) -> Arc<Document> {
        let mut d = load_str(text, Path::new(name), &Limits::default()).unwrap();
        if d.value.is_null() {
            d.value = Value::Object(Default::default());
        }
        Arc::new(d)
    }

    fn manager(side: &str, base: &str, staging: &str) -> ManagerLayers {
        let base = doc(&format!("{side}/base.yml"), base);
        let envs = BTreeMap::from([(
            "staging".to_string(),
            doc(&format!("{side}/staging.yml"), staging),
        )]);
        ManagerLayers {
            merged: MergedManager::of(Some(&base), &envs),
            base: Some(base),
            envs,
            passed: BTreeMap::new(),
        }
    }

    type Compared = (
        bool,
        Vec<(String, Option<Value>, Option<Value>, Option<String>)>,
    );

    /// What impact compares: whether the base renders, every changed leaf
    /// and the origin of its old value.
    fn compared(
        old: Option<&Layered>,
        changes: Vec<(String, Option<&Value>, Option<&Value>)>,
    ) -> Compared {
        let changes = changes
            .into_iter()
            .map(|(k, a, b)| {
                let at = old
                    .and_then(|o| o.origin(&k))
                    .map(|o| o.location.to_string());
                (k, a.cloned(), b.cloned(), at)
            })
            .collect();
        (old.is_some(), changes)
    }

    /// The base rendered at the changed entries alone, compared there, is
    /// the whole base rendered and compared: nulls that delete, entries a
    /// customer replaces, environment blocks and files, templates, keys
    /// only one side has, a base whose template fails.
    #[test]
    fn the_changed_entries_alone_compare_as_the_whole() {
        let customer: Customer = serde_json::from_value(serde_json::json!({
            "slug": "acme", "repo": "acme/infra", "contact": "ops@acme.example",
            "environments": ["staging"], "status": "active", "added": "2026-01-01"
        }))
        .unwrap();
        let bases = [
            "a: 1\ntags: {tier: x, keep: '{{ customer }}'}\nlist: [1, 2]\n",
            "a: 2\ntags: {tier: y}\nonly_base: {deep: 1}\n",
            "a: 1\ntags: scalar\nproject_name: p\n",
            "a: 1\nx/y: {'~': '{{ environment }}-{{ project_name }}'}\n",
            "a: 1\nbad: '{{ nope( }}'\n",
        ];
        let stagings = [
            "",
            "tags: {tier: null}\n",
            "a: null\nnew: {n: 1}\n",
            "list: null\n",
        ];
        let customers = [
            ("project_name: own\n", None),
            (
                "tags: {own: z}\na: null\nenvironments: {staging: {tags: {tier: c}}}\n",
                None,
            ),
            (
                "tags: null\nenvironments: {staging: null}\n",
                Some("a: 5\nonly_base: 3\n"),
            ),
            (
                "environments: {staging: {x/y: 1}}\n",
                Some("tags: {keep: null}\n"),
            ),
            ("dns: '{{ project_name }}.example'\n", None),
        ];
        let templates = ValueTemplates::default();
        let mut partial = 0;
        for (hb, bb) in bases.iter().flat_map(|h| bases.iter().map(move |b| (h, b))) {
            for (hs, bs) in stagings
                .iter()
                .flat_map(|h| stagings.iter().map(move |b| (h, b)))
            {
                let (head, base) = (manager("head", hb, hs), manager("base", bb, bs));
                for (vars, over) in customers {
                    let docs = CustomerDocs {
                        variables: doc("variables.yml", vars),
                        overrides: over
                            .map(|o| {
                                BTreeMap::from([(
                                    "staging".into(),
                                    doc("variables.staging.yml", o),
                                )])
                            })
                            .into_iter()
                            .flatten()
                            .collect(),
                        _checked: crate::values::customer::Checked,
                        files: Vec::new(),
                        secrets: BTreeMap::new(),
                    };
                    let render = |l: &ManagerLayers| {
                        let memo = &mut TemplateMemo::new(&templates);
                        super::super::render_memo(l, &docs, &customer, "staging", memo)
                    };
                    let Ok(new) = render(&head) else { continue };
                    let old = render(&base).ok();
                    let whole = compared(
                        old.as_ref(),
                        changed_leaves(old.as_ref().map(|o| &o.value), &new.value),
                    );
                    let Some(keys) = changed_keys(&head, &base, "staging") else {
                        continue;
                    };
                    let memo = &mut TemplateMemo::new(&templates);
                    let Some(part) = render_only(&base, &docs, &customer, "staging", &keys, memo)
                    else {
                        continue;
                    };
                    let got = match part {
                        Err(_) => compared(None, changed_leaves(None, &new.value)),
                        Ok(o) => compared(Some(&o), changed_leaves_at(&o.value, &new.value, &keys)),
                    };
                    let empty = |v: &Value| v.as_object().is_some_and(|m| m.is_empty());
                    if old.as_ref().is_some_and(|o| empty(&o.value)) || empty(&new.value) {
                        continue; // compared whole (see fleet::impact::pair)
                    }
                    assert_eq!(
                        got, whole,
                        "{hb:?} {hs:?} / {bb:?} {bs:?} / {vars:?} {over:?}"
                    );
                    partial += 1;
                }
            }
        }
        assert!(partial > 500, "{partial}");
    }
}
