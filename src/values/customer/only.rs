//! A side's render of a few top-level entries: what `impact` renders at
//! both sides when the manager's values of an environment differ between
//! them at those entries alone.
//!
//! Layering is entry by entry (a top-level entry of the result comes from
//! the same entry of each layer) and templates render string by string
//! with one context, so the entries whose manager values are equal at both
//! sides render alike at both: only the others need rendering. The head
//! renders them alone only when the rest could not fail
//! ([`render_only_if_the_rest_renders`]), since a pair whose head fails is
//! told apart from one whose values changed.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;

use super::{context, finish, project_name, CustomerDocs, ManagerLayers, TemplateContext};
use crate::config::Customer;
use crate::data::Diagnostic;
use crate::values::layers::{Layer, Layered, Source};
use crate::values::secrets;
use crate::values::template::{is_template, TemplateMemo};
use fleetform_yaml::{escape_token, Document};

/// The top-level entries whose merged manager values for `env` differ
/// between `head` and `base`; `None` when rendering those alone at a side
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

/// What a render of a few top-level entries takes from the manager's
/// side of one environment: made once, for every customer.
pub struct Only {
    /// The entries rendered.
    rendered: BTreeSet<String>,
    /// Those and `project_name`, which is layered too: templates see it.
    layered: BTreeSet<String>,
    /// The manager's merged values at `layered`; `None` when they are no
    /// mapping.
    manager: Option<Layered>,
}

impl Only {
    /// At the base of a comparison at `keys`: those entries.
    pub fn base(layers: &ManagerLayers, env: &str, keys: &BTreeSet<String>) -> Only {
        Only::of(layers, env, keys.clone())
    }

    /// At the head: `keys` and the variables other products pass, whose
    /// refusal is the render's (see [`render_only_if_the_rest_renders`]).
    pub fn head(layers: &ManagerLayers, env: &str, keys: &BTreeSet<String>) -> Only {
        let mut rendered = keys.clone();
        rendered.extend(layers.passed.keys().cloned());
        Only::of(layers, env, rendered)
    }

    fn of(layers: &ManagerLayers, env: &str, rendered: BTreeSet<String>) -> Only {
        let mut layered = rendered.clone();
        layered.insert("project_name".into());
        let merged = layers.merged.envs.get(env).unwrap_or(&layers.merged.base);
        Only {
            manager: merged.only(&layered),
            rendered,
            layered,
        }
    }
}

/// [`super::render_memo`] of the top-level entries `only` renders alone
/// (the result holds those and their origins); `None` when a layer is
/// not a mapping (it replaces the whole result: render it whole).
pub fn render_only(
    layers: &ManagerLayers,
    only: &Only,
    docs: &CustomerDocs,
    customer: &Customer,
    env: &str,
    memo: &mut TemplateMemo<'_, TemplateContext>,
) -> Option<Result<Layered, Vec<Diagnostic>>> {
    let l = layer_only(only, docs, env)?;
    let name = project_name(&l);
    Some(finish_only(layers, only, l, customer, env, name, memo))
}

/// [`render_only`] at the head of a comparison at `keys`
/// ([`Only::head`]): `None` when the whole render could fail, or find a
/// credential, outside what the part renders (`keys` and the passed
/// variables), or a layer is no mapping: the whole must be rendered then.
///
/// The whole fails where its part does, and a part that renders is the
/// whole at `keys` (see [`render_only`]). Outside `keys` the whole can fail
/// in three ways: a template that does not render, a rendered credential,
/// a variable another product passes. The passed variables are rendered
/// with the part (their refusal is `finish`'s). For the other two, every
/// template string outside `keys` in a layer the whole reads is rendered
/// with the same context, and judged under its nearest key as `finish`
/// judges it: the whole's strings are some of these, at the same keys.
/// A failure among them may be in a string a later layer replaced, so it
/// does not fail the pair: it sends it to the whole render.
pub fn render_only_if_the_rest_renders(
    layers: &ManagerLayers,
    only: &Only,
    docs: &CustomerDocs,
    customer: &Customer,
    env: &str,
    memo: &mut TemplateMemo<'_, TemplateContext>,
) -> Option<Result<Layered, Vec<Diagnostic>>> {
    let l = layer_only(only, docs, env)?;
    let name = project_name(&l);
    let ctx = context(customer, env, name.clone());
    let manager = layers.merged.envs.get(env).unwrap_or(&layers.merged.base);
    let vars = &docs.variables.value;
    let block = vars.get("environments").and_then(|e| e.get(env));
    let outside = |v| entries_outside(v, &only.rendered);
    let mut rest = outside(&manager.value)?;
    rest.extend(
        outside(vars)?
            .into_iter()
            .filter(|(k, _)| *k != "environments"),
    );
    rest.extend(outside(block.unwrap_or(&Value::Null))?);
    if let Some(d) = docs.overrides.get(env) {
        rest.extend(outside(&d.value)?);
    }
    if !rest
        .iter()
        .all(|(k, v)| renders_clean(v, Some(k), &ctx, memo))
    {
        return None;
    }
    Some(finish_only(layers, only, l, customer, env, name, memo))
}

/// `finish` of a part: `project_name`, layered for the templates, is
/// taken out first unless it is rendered.
fn finish_only(
    layers: &ManagerLayers,
    only: &Only,
    mut l: Layered,
    customer: &Customer,
    env: &str,
    name: Option<String>,
    memo: &mut TemplateMemo<'_, TemplateContext>,
) -> Result<Layered, Vec<Diagnostic>> {
    if !only.rendered.contains("project_name") {
        if let Value::Object(m) = &mut l.value {
            m.remove("project_name");
        }
    }
    finish(layers, l, customer, env, name, memo)
}

/// A layer's top-level entries outside `rendered`; `None` when the layer
/// is no mapping (then [`layer_only`] cannot render a part either).
fn entries_outside<'v>(
    v: &'v Value,
    rendered: &BTreeSet<String>,
) -> Option<Vec<(&'v String, &'v Value)>> {
    match v {
        Value::Null => Some(Vec::new()),
        Value::Object(m) => Some(m.iter().filter(|(k, _)| !rendered.contains(*k)).collect()),
        _ => None,
    }
}

/// Whether every template string in `v` renders with `ctx` to something
/// that is no credential under its nearest key (`key` above `v`), as
/// `finish` renders and judges them.
fn renders_clean(
    v: &Value,
    key: Option<&str>,
    ctx: &TemplateContext,
    memo: &mut TemplateMemo<'_, TemplateContext>,
) -> bool {
    match v {
        Value::String(s) if is_template(s) => memo
            .render(s, ctx)
            .is_ok_and(|out| secrets::judge_rendered(&out, key).is_none()),
        Value::Object(m) => m.iter().all(|(k, c)| renders_clean(c, Some(k), ctx, memo)),
        Value::Array(a) => a.iter().all(|c| renders_clean(c, key, ctx, memo)),
        _ => true,
    }
}

/// `super::layer` of the entries `only` layers alone.
fn layer_only(only: &Only, docs: &CustomerDocs, env: &str) -> Option<Layered> {
    let keys = &only.layered;
    let mut l = only.manager.clone()?;
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

    /// The customer every case renders for.
    fn acme() -> Customer {
        serde_json::from_value(serde_json::json!({
            "slug": "acme", "repo": "acme/infra", "contact": "ops@acme.example",
            "environments": ["staging"], "status": "active", "added": "2026-01-01"
        }))
        .unwrap()
    }

    /// A customer's checked files: its variables and, when given, its
    /// staging override file.
    fn customer_docs(vars: &str, over: Option<&str>) -> CustomerDocs {
        CustomerDocs {
            variables: doc("variables.yml", vars),
            overrides: over
                .map(|o| BTreeMap::from([("staging".into(), doc("variables.staging.yml", o))]))
                .unwrap_or_default(),
            _checked: crate::values::customer::Checked,
            files: Vec::new(),
            secrets: BTreeMap::new(),
        }
    }

    /// A variable another product (`network`) passes.
    fn passed_from_network() -> crate::values::customer::Passed {
        crate::values::customer::Passed {
            product: "network".into(),
            at: fleetform_yaml::Location {
                file: "fleetform.yml".into(),
                pos: fleetform_yaml::Pos { line: 1, col: 1 },
            },
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
        let customer = acme();
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
                    let docs = customer_docs(vars, over);
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
                    let Some(part) = render_only(
                        &base,
                        &Only::base(&base, "staging", &keys),
                        &docs,
                        &customer,
                        "staging",
                        memo,
                    ) else {
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

    /// Every pointer under `v` (itself included), with `at` its pointer.
    fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, c) in m {
                    pointers(c, format!("{at}/{}", escape_token(k)), out);
                }
            }
            Value::Array(a) => {
                for (i, c) in a.iter().enumerate() {
                    pointers(c, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
        out.push(at);
    }

    /// The head rendered at the changed entries alone, when the rest
    /// renders, is the whole head there: the same values from the same
    /// origins, and it fails where the whole fails. Layers whose rest
    /// fails (a template that does not render, a rendered credential,
    /// replaced by a later layer or not) and passed variables among them.
    #[test]
    fn the_head_at_the_changed_entries_is_the_whole_there() {
        let customer = acme();
        let token = format!("ghp_{}", "a1B2".repeat(9));
        let leak = format!("leak: \"{{{{ '{}' }}}}{}\"\n", &token[..20], &token[20..]);
        let bases = [
            "a: 1\ntags: {tier: x, keep: '{{ customer }}'}\nlist: [1, 2]\n".to_string(),
            "a: 2\ntags: {tier: y}\nonly_base: {deep: 1}\npassed: 3\n".to_string(),
            "a: 1\ntags: scalar\nproject_name: p\n".to_string(),
            "a: 1\nx/y: {'~': '{{ environment }}-{{ project_name }}'}\n".to_string(),
            "a: 1\nbad: '{{ nope( }}'\n".to_string(),
            format!("a: 1\n{leak}"),
        ];
        let stagings = [
            "".to_string(),
            "tags: {tier: null}\n".to_string(),
            "a: null\nnew: {n: '{{ customer }}'}\n".to_string(),
            "list: null\nbad: null\n".to_string(),
            format!("tags: {{tier: z}}\n{leak}"),
            "tags: {tier: '{{ undefined_name }}'}\n".to_string(),
        ];
        let customers = [
            ("project_name: own\n", None),
            (
                "tags: {own: z}\na: null\nenvironments: {staging: {tags: {tier: c}}}\n",
                None,
            ),
            (
                "tags: null\nenvironments: {staging: null}\n",
                Some("a: 5\nonly_base: 3\nbad: fine\n"),
            ),
            (
                "environments: {staging: {x/y: 1, leak: plain}}\n",
                Some("tags: {keep: null}\n"),
            ),
            ("dns: '{{ project_name }}.example'\n", None),
            ("other: '{{ undefined_name }}'\n", Some("other: fixed\n")),
            ("project_name: '{{ nope( }}'\n", None),
            ("project_name: '{{ customer }}-p'\npassed: 1\n", None),
            // Judged by the key above: under a credential's name, a
            // random-looking rendered value is one.
            (
                "db_password: '{{ customer }}-Zq8vR2mK9pL4wX7tY6'\nzone: ['{{ customer }}-Zq8vR2mK9pL4wX7tY6']\n",
                None,
            ),
            (
                "nested: {api_token: ['{{ customer }}-Zq8vR2mK9pL4wX7tY6']}\n",
                None,
            ),
            (
                "nested: {api_token: ['{{ customer }}-Zq8vR2mK9pL4wX7tY6']}\n",
                Some("nested: {api_token: [plain]}\n"),
            ),
        ];
        let templates = ValueTemplates::default();
        let (mut parts, mut failed, mut whole_only) = (0, 0, 0);
        for (hb, bb) in bases.iter().flat_map(|h| bases.iter().map(move |b| (h, b))) {
            for (hs, bs) in stagings
                .iter()
                .flat_map(|h| stagings.iter().map(move |b| (h, b)))
            {
                for passes in [false, true] {
                    let (mut head, mut base) = (manager("head", hb, hs), manager("base", bb, bs));
                    if passes {
                        // The same variable passed at both sides (else
                        // `changed_keys` renders whole).
                        for side in [&mut head, &mut base] {
                            side.passed.insert("passed".into(), passed_from_network());
                        }
                    }
                    for (vars, over) in customers {
                        let docs = customer_docs(vars, over);
                        let Some(keys) = changed_keys(&head, &base, "staging") else {
                            continue;
                        };
                        let memo = &mut TemplateMemo::new(&templates);
                        let Some(part) = render_only_if_the_rest_renders(
                            &head,
                            &Only::head(&head, "staging", &keys),
                            &docs,
                            &customer,
                            "staging",
                            memo,
                        ) else {
                            whole_only += 1;
                            continue;
                        };
                        let memo = &mut TemplateMemo::new(&templates);
                        let whole =
                            super::super::render_memo(&head, &docs, &customer, "staging", memo);
                        let case =
                            format!("{hb:?} {hs:?} / {bb:?} {bs:?} / {vars:?} {over:?} {passes}");
                        let (part, whole) = match (part, whole) {
                            (Err(_), Err(_)) => {
                                failed += 1;
                                continue;
                            }
                            (Ok(p), Ok(w)) => (p, w),
                            (p, w) => panic!(
                                "{case}: the part {:?}, the whole {:?}",
                                p.is_ok(),
                                w.is_ok()
                            ),
                        };
                        for k in &keys {
                            let at = format!("/{}", escape_token(k));
                            assert_eq!(part.value.get(k), whole.value.get(k), "{case}: {k}");
                            let mut under = Vec::new();
                            if let Some(v) = whole.value.get(k) {
                                pointers(v, at, &mut under);
                            }
                            for p in under {
                                let origin =
                                    |l: &Layered| l.origin(&p).map(|o| o.location.to_string());
                                assert_eq!(origin(&part), origin(&whole), "{case}: {p}");
                            }
                        }
                        parts += 1;
                    }
                }
            }
        }
        assert!(
            parts > 1000 && failed > 50 && whole_only > 50,
            "{parts} parts, {failed} failed, {whole_only} rendered whole"
        );
    }
}
