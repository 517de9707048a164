//! The layering's tests: origins, merged manager layers, changed leaves
//! (kept apart from `layers.rs`, which stays a readable size).

use super::*;
use fleetform_yaml::{load_str, Limits};
use std::path::Path;

fn doc(name: &str, text: &str) -> Arc<Document> {
    Arc::new(load_str(text, Path::new(name), &Limits::default()).unwrap())
}

/// The leaf maps of both sides compared key by key: what
/// [`changed_leaves`] must answer.
fn naive(old: Option<&Value>, new: &Value) -> Vec<(String, Option<Value>, Option<Value>)> {
    let leaves = |v: &Value| {
        let mut out = Vec::new();
        collect_leaves(v, &mut String::new(), &mut out);
        out.into_iter()
            .map(|(k, v)| (k, v.clone()))
            .collect::<BTreeMap<String, Value>>()
    };
    let before = old.map(leaves).unwrap_or_default();
    let after = leaves(new);
    let keys: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| (k.clone(), before.get(k).cloned(), after.get(k).cloned()))
        .collect()
}

/// Every pointer of a value's nodes, the root's (empty) included.
fn node_pointers(v: &Value, ptr: &mut String, out: &mut Vec<String>) {
    out.push(ptr.clone());
    super::each_child(v, ptr, &mut |c, ptr| node_pointers(c, ptr, out));
}

/// Layers that replace subtrees with scalars, scalars with subtrees and
/// delete keys leave an origin for exactly the nodes of the result: none
/// for what was replaced or deleted.
#[test]
fn origins_are_exactly_the_nodes_of_the_result() {
    let docs = [
        doc(
            "a.yml",
            "a: {b: [1, {c: 2}], d: x}\ne: [3, 4]\nf: {g: {h: 1}}\n",
        ),
        doc("b.yml", "a: {b: 5, d: {n: [1]}}\ne: null\nf: {g: [x, y]}\n"),
        doc("c.yml", "a: {d: null, b: {p: [q]}}\nf: 1\ne: {z: 0}\n"),
    ];
    for order in [[0, 1, 2], [2, 1, 0], [1, 0, 2], [0, 2, 1]] {
        let mut l = Layered::new();
        for i in order {
            let source = Source {
                layer: Layer::Customer,
                doc: docs[i].clone(),
                root: String::new(),
            };
            l.apply(source, &docs[i].value);
        }
        let mut want = Vec::new();
        node_pointers(&l.value, &mut String::new(), &mut want);
        want.sort();
        let mut have: Vec<String> = l.origins.iter().map(|(p, _)| p.to_string()).collect();
        have.sort();
        assert_eq!(have, want, "{order:?}");
    }
}

/// Applying a mapping without one key gives what applying a copy without
/// it gave: the same value, the same origin for every node, over any
/// result (the key present or not, nulls, a scalar where a mapping was).
#[test]
fn applying_without_a_key_is_applying_a_copy_without_it() {
    let under = [
        "a: {b: 1}\nenvironments: {x: 1}\n",
        "a: 1\nc: [1, 2]\n",
        "7\n",
        "{}\n",
    ];
    let over = [
        "a: {b: 2, d: null}\nenvironments: {staging: {a: 3}}\nc: null\n",
        "environments: 1\n",
        "a: [x]\n",
        "- 1\n",
        "x\n",
        "{}\n",
    ];
    for (u, o) in under.iter().flat_map(|u| over.iter().map(move |o| (u, o))) {
        let (u, o) = (doc("u.yml", u), doc("o.yml", o));
        let source = |d: &Arc<Document>| Source {
            layer: Layer::Customer,
            doc: d.clone(),
            root: String::new(),
        };
        let mut base = Layered::new();
        base.apply(source(&u), &u.value);
        let mut copied = base.clone();
        let mut copy = o.value.as_object().cloned().unwrap_or_default();
        copy.remove("environments");
        copied.apply(source(&o), &Value::Object(copy));
        let mut without = base;
        without.apply_without(source(&o), &o.value, "environments");
        assert_eq!(without.value, copied.value, "{:?} {:?}", u.value, o.value);
        let mut nodes = Vec::new();
        node_pointers(&copied.value, &mut String::new(), &mut nodes);
        for p in nodes {
            assert_eq!(without.origin(&p), copied.origin(&p), "{p}");
        }
        assert_eq!(without.origins, copied.origins);
    }
}

/// The manager's layers merged once, then a customer's on top of a
/// copy, give what merging every layer afresh gives: the same value
/// and the same origin for every node (nulls deleting manager keys,
/// replaced subtrees and an environment without a file included).
#[test]
fn merged_manager_layers_are_the_layers_merged_afresh() {
    let base = doc(
        "base.yml",
        "a: 1\nb: {c: 2, d: [1, 2]}\ntags: {tier: x, keep: y}\n",
    );
    let staging = doc("staging.yml", "b: {c: 3}\ntags: {tier: null}\n");
    let customer = doc("customer.yml", "b: 5\ntags: {own: z}\na: null\n");
    let envs = BTreeMap::from([("staging".to_string(), staging.clone())]);
    let merged = MergedManager::of(Some(&base), &envs);
    let whole = |layer, doc: &Arc<Document>| Source {
        layer,
        doc: doc.clone(),
        root: String::new(),
    };
    for env in ["staging", "production"] {
        let mut fresh = Layered::new();
        fresh.apply(whole(Layer::ManagerBase, &base), &base.value);
        if env == "staging" {
            fresh.apply(whole(Layer::ManagerEnv, &staging), &staging.value);
        }
        let mut copy = merged.envs.get(env).unwrap_or(&merged.base).clone();
        for l in [&mut fresh, &mut copy] {
            l.apply(whole(Layer::Customer, &customer), &customer.value);
        }
        assert_eq!(copy.value, fresh.value, "{env}");
        assert_eq!(copy.origins, fresh.origins, "{env}");
        let origins = |l: &Layered| {
            let mut keys: Vec<&str> = l.origins.iter().map(|(p, _)| p).collect();
            keys.sort();
            keys.into_iter().map(|k| l.origin(k)).collect::<Vec<_>>()
        };
        assert_eq!(origins(&copy), origins(&fresh), "{env}");
    }
    assert_ne!(merged.envs["staging"].value, merged.base.value);
}

#[test]
fn changed_leaves_are_the_leaf_maps_compared() {
    let values = [
        serde_json::json!({}),
        serde_json::json!({"a": 1, "b": {"c": [1, 2, {"d": "x"}], "e": {}}, "f": []}),
        serde_json::json!({"a": 2, "b": {"c": [1, {"d": "y"}], "e": {"g": null}}, "f": [3]}),
        serde_json::json!({"a": {"n": 1}, "b": "flat", "x/y": {"~": true}}),
        serde_json::json!({"a": [], "b": {"c": []}, "x/y": 1}),
        serde_json::json!("scalar"),
        serde_json::json!([{"a": 1}, [], 2]),
    ];
    for old in &values {
        for new in &values {
            let got: Vec<(String, Option<Value>, Option<Value>)> = changed_leaves(Some(old), new)
                .into_iter()
                .map(|(k, a, b)| (k, a.cloned(), b.cloned()))
                .collect();
            assert_eq!(got, naive(Some(old), new), "{old} -> {new}");
        }
        let from_nothing: Vec<_> = changed_leaves(None, old)
            .into_iter()
            .map(|(k, a, b)| (k, a.cloned(), b.cloned()))
            .collect();
        assert_eq!(from_nothing, naive(None, old), "nothing -> {old}");
    }
}

#[test]
fn maps_merge_lists_replace_null_deletes() {
    let a = doc("a.yml", "x: 1\nm:\n  p: 1\n  q: 2\nl: [1, 2]\ngone: yes\n");
    let b = doc("b.yml", "m:\n  q: 3\nl: [9]\ngone: ~\n");
    let mut l = Layered::new();
    l.apply(
        Source {
            layer: Layer::ManagerBase,
            doc: a.clone(),
            root: String::new(),
        },
        &a.value,
    );
    l.apply(
        Source {
            layer: Layer::Customer,
            doc: b.clone(),
            root: String::new(),
        },
        &b.value,
    );
    assert_eq!(
        l.value,
        serde_json::json!({"x": 1, "m": {"p": 1, "q": 3}, "l": [9]})
    );
    let o = l.origin("/m/q").unwrap();
    assert_eq!(o.layer, Layer::Customer);
    assert_eq!(o.location.to_string(), "b.yml:2:6");
    let o = l.origin("/m/p").unwrap();
    assert_eq!(
        (o.layer, o.location.to_string()),
        (Layer::ManagerBase, "a.yml:3:6".into())
    );
    assert_eq!(l.origin("/l/0").unwrap().location.to_string(), "b.yml:3:5");
    assert!(l.origin("/l/1").is_none() || l.value.pointer("/l/1").is_none());
}

/// Found by the `layers` fuzz target: an empty document (null) as a
/// layer replaced the whole result with null.
#[test]
fn an_empty_document_is_an_empty_layer() {
    let a = doc("a.yml", "x: 1\nm: {p: 1}\n");
    let empty = doc("e.yml", "");
    assert!(empty.value.is_null());
    let mut l = Layered::new();
    let src = |d: &Arc<Document>, layer| Source {
        layer,
        doc: d.clone(),
        root: String::new(),
    };
    l.apply(src(&a, Layer::ManagerBase), &a.value);
    l.apply(src(&empty, Layer::Customer), &empty.value);
    l.apply_at(
        "/environments/staging",
        src(&empty, Layer::CustomerEnvFile),
        &empty.value,
    );
    assert_eq!(l.value, serde_json::json!({"x": 1, "m": {"p": 1}}));
    for (ptr, _) in l.leaves() {
        assert!(l.origin(&ptr).is_some(), "{ptr}");
    }
}

/// `without_nulls` drops every null-valued key at any depth, keeps nulls
/// in lists (a list item is no key), and keeps everything else in order:
/// the same as rebuilding every mapping, over random values with and
/// without nulls.
#[test]
fn without_nulls_is_the_value_rebuilt_without_null_keys() {
    fn rebuilt(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k.clone(), rebuilt(v)))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(rebuilt).collect()),
            other => other.clone(),
        }
    }
    fn random(rng: &mut fastrand::Rng, depth: u32) -> Value {
        match rng.u8(..if depth == 0 { 3 } else { 5 }) {
            0 => Value::Null,
            1 => Value::from(rng.u8(..)),
            2 => Value::from("s"),
            3 => Value::Array(
                (0..rng.usize(..4))
                    .map(|_| random(rng, depth - 1))
                    .collect(),
            ),
            _ => Value::Object(
                (0..rng.usize(..4))
                    .map(|i| (format!("k{i}"), random(rng, depth - 1)))
                    .collect(),
            ),
        }
    }
    let mut rng = fastrand::Rng::with_seed(0x5eed_0005_u64);
    let (mut with_nulls, mut without) = (0, 0);
    for _ in 0..3000 {
        let v = random(&mut rng, 4);
        let want = rebuilt(&v);
        match want == v {
            true => without += 1,
            false => with_nulls += 1,
        }
        let got = without_nulls(&v);
        assert_eq!(got, want, "{v}");
        // In order too (`==` on mappings does not look at it).
        assert_eq!(got.to_string(), want.to_string(), "{v}");
    }
    assert!(
        with_nulls > 200 && without > 200,
        "{with_nulls} / {without}"
    );
}
