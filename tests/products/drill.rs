//! `state drill` on a manager with `products:` and the local backend
//! (#87): every customer × product × environment the customers have is
//! drilled, products in dependency order (the app reads the network's
//! outputs), each from a scratch copy of the state file the local backend
//! keeps, under `state_dir/fleetform-drill/`, removed after; a product
//! whose state was tampered with fails alone, named with its product.

use serde_json::Value;

use super::targeted::World;

const STATE: &str = "products/manager/.fleetform/state";

fn drill(w: &World, code: i32) -> Vec<Value> {
    let out = w.expect(code, &["state", "drill", "--json"]);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

fn by_unit(proofs: &[Value]) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = proofs
        .iter()
        .map(|p| {
            (
                format!(
                    "{}/{}/{}",
                    p["customer"].as_str().unwrap(),
                    p["product"].as_str().unwrap(),
                    p["environment"].as_str().unwrap()
                ),
                p["proven"].as_bool().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_drill_proves_each_product_of_each_pair_from_the_local_backends_state() {
    let w = World::new();
    // The network everywhere, then the app where a customer has it.
    for c in ["acme", "globex", "initech"] {
        w.expect(0, &["plan", "--customer", c, "--env", "staging"]);
        let network = [
            "apply",
            "--customer",
            c,
            "--product",
            "network",
            "--env",
            "staging",
        ];
        w.expect(0, &network);
    }
    for c in ["acme", "initech"] {
        w.expect(0, &["plan", "--customer", c, "--env", "staging"]);
        w.expect(
            0,
            &[
                "apply",
                "--customer",
                c,
                "--product",
                "app",
                "--env",
                "staging",
            ],
        );
    }
    let proven = drill(&w, 0);
    assert_eq!(
        by_unit(&proven),
        [
            ("acme/app/staging".to_string(), true),
            ("acme/network/staging".to_string(), true),
            ("globex/network/staging".to_string(), true),
            ("initech/app/staging".to_string(), true),
            ("initech/network/staging".to_string(), true),
        ],
        "{proven:#?}"
    );
    assert!(
        proven.iter().all(|p| p["version"] == "current"),
        "{proven:#?}"
    );
    let scratch = w.fx.path(&format!("{STATE}/fleetform-drill"));
    let left: Vec<_> = std::fs::read_dir(&scratch)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "scratch copies left: {left:?}");

    // acme's app state loses its resources (a hand edit): only that
    // product fails, named, and its state is left as it was.
    let key = format!("{STATE}/acme/app/staging/terraform.tfstate");
    let mut state: Value = serde_json::from_str(&w.fx.read(&key)).unwrap();
    state["resources"] = Value::Array(Vec::new());
    let tampered = state.to_string();
    w.fx.write(&key, &tampered);
    let failed = w.run(&["state", "drill"]);
    crate::common::assert_code(&failed, 1);
    failed.stderr_has("1 of 5 pairs not proven restorable");
    let line = |unit: &str| {
        failed
            .stdout
            .lines()
            .find(|l| l.contains(unit))
            .unwrap_or_else(|| panic!("{unit}: {}", failed.stdout))
            .to_string()
    };
    let app = line("acme/app/staging");
    assert!(
        app.contains("FAILED") && app.contains("would change the cloud"),
        "{app}"
    );
    assert!(
        line("acme/network/staging").contains("proven"),
        "{}",
        failed.stdout
    );
    assert!(
        line("initech/app/staging").contains("proven"),
        "{}",
        failed.stdout
    );
    assert_eq!(w.fx.read(&key), tampered);
}
