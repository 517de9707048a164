//! Products: the example manager in `examples/products` (network → app on
//! the test cloud). Customers subscribe to different products, plans and
//! applies run products in dependency order with the network's outputs
//! passed to the app through Terraform, each product keeps its own state,
//! and a dependency whose plan changes outputs makes the dependent's plan
//! wait for it. Subscription and configuration errors point at their file,
//! line and column, and one bad customer never blocks the others.

use crate::common;
use crate::fakecloud;

use std::path::PathBuf;

use common::{require_terraform, stderr, stdout, Fixture};
use serde_json::Value;

pub(crate) struct Products {
    pub(crate) fx: Fixture,
    cli_config: PathBuf,
    pub(crate) cloud_file: PathBuf,
}

impl Products {
    pub(crate) fn new() -> Products {
        require_terraform();
        let fx = Fixture::new();
        let installed = fakecloud::install(&fx.path("fakecloud"));
        Products {
            cli_config: installed.cli_config,
            cloud_file: fx.path("cloud.json"),
            fx,
        }
    }

    /// A copy of the products world `make` makes, made once per test
    /// process under `key` ([`Fixture::copied`]), with the test cloud
    /// installed again.
    #[track_caller]
    fn copied(key: &str, make: impl FnOnce() -> Products) -> Products {
        let fx = Fixture::copied(key, || make().fx);
        let installed = fakecloud::install(&fx.path("fakecloud"));
        Products {
            cli_config: installed.cli_config,
            cloud_file: fx.path("cloud.json"),
            fx,
        }
    }

    /// The fleet planned, then acme's network applied in staging (a copy:
    /// the other pairs' plans are the kept world's, so plan again before
    /// applying one of them).
    pub(crate) fn network_applied() -> Products {
        Products::copied("products: acme's network applied", || {
            let p = Products::new();
            p.plan_all();
            let out = p.apply("acme", "network", "staging");
            common::assert_ok(&out);
            assert!(
                stdout(&out).contains("applied acme/network/staging"),
                "{}",
                stdout(&out)
            );
            p
        })
    }

    /// After [`Products::network_applied`], the fleet planned again and
    /// acme's app applied in staging (a copy).
    pub(crate) fn app_applied() -> Products {
        Products::copied("products: acme's network and app applied", || {
            let p = Products::network_applied();
            p.plan_all();
            common::assert_ok(&p.apply("acme", "app", "staging"));
            p
        })
    }

    pub(crate) fn manager(&self) -> PathBuf {
        self.fx.path("products/manager")
    }

    pub(crate) fn fleetform(&self) -> crate::common::Run {
        crate::common::Run::from(self.fx.fleetform())
            .current_dir(self.manager())
            .env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("FAKECLOUD_FILE", &self.cloud_file)
    }

    pub(crate) fn run(&self, args: &[&str]) -> crate::common::Ran {
        self.fleetform().args(args).output()
    }

    pub(crate) fn plan_all(&self) -> Vec<Value> {
        let out = self.run(&["plan", "--all", "--json"]);
        assert!(
            matches!(out.status.code(), Some(0) | Some(1)),
            "{}",
            stderr(&out)
        );
        serde_json::from_slice(out.stdout.as_bytes())
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&out), stderr(&out)))
    }

    pub(crate) fn apply(&self, customer: &str, product: &str, env: &str) -> crate::common::Ran {
        self.run(&[
            "apply",
            "--customer",
            customer,
            "--product",
            product,
            "--env",
            env,
        ])
    }

    pub(crate) fn objects(&self) -> serde_json::Map<String, Value> {
        fakecloud::objects(&self.cloud_file)
    }
}

fn row<'a>(rows: &'a [Value], customer: &str, product: &str, env: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["customer"] == customer && r["product"] == product && r["environment"] == env)
        .unwrap_or_else(|| panic!("no row {customer}/{product}/{env}: {rows:#?}"))
}

fn units(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| {
            format!(
                "{}/{}/{}",
                r["customer"].as_str().unwrap(),
                r["product"].as_str().unwrap(),
                r["environment"].as_str().unwrap()
            )
        })
        .collect()
}

/// Who gets what: acme both products in both environments, globex only
/// the network (the manager allows no more), initech both in staging.
/// Before the network exists, the app waits for it (not a failure).
#[test]
fn customers_subscribe_to_different_products_and_the_app_waits_for_its_network() {
    let p = Products::new();
    let rows = p.plan_all();
    assert_eq!(
        units(&rows),
        [
            "acme/network/staging",
            "acme/app/staging",
            "acme/network/production",
            "acme/app/production",
            "globex/network/staging",
            "initech/network/staging",
            "initech/app/staging",
        ]
    );
    for (c, e) in [
        ("acme", "staging"),
        ("acme", "production"),
        ("globex", "staging"),
        ("initech", "staging"),
    ] {
        let r = row(&rows, c, "network", e);
        assert_eq!(r["result"], "planned", "{r}");
        assert_eq!(r["summary"]["create"], 1, "{r}");
        assert_eq!(r["summary"]["product"]["name"], "network", "{r}");
    }
    let app = row(&rows, "acme", "app", "staging");
    assert_eq!(app["result"], "skipped", "{app}");
    assert!(
        app["reason"]
            .as_str()
            .unwrap()
            .contains("waits for `network` to be applied for acme/staging"),
        "{app}"
    );
    // Results and comments per product.
    let comment = std::fs::read_to_string(
        p.manager()
            .join(".fleetform/out/acme/network/staging/comment.md"),
    )
    .unwrap();
    assert!(
        comment.contains("### fleetform plan: `acme` / `network` / `staging`"),
        "{comment}"
    );
    assert!(comment.contains("product=network"), "{comment}");
    assert!(
        comment.contains("acme/network/staging/terraform.tfstate"),
        "{comment}"
    );
}

/// After the network is applied, the app plans with its outputs (read
/// through Terraform from the network's state), applies onto that network,
/// and each product keeps its own state.
#[test]
fn the_app_plans_and_applies_with_the_networks_outputs_in_its_own_state() {
    let p = Products::network_applied();
    let rows = p.plan_all();
    let app = row(&rows, "acme", "app", "staging");
    assert_eq!(app["result"], "planned", "{app}");
    assert_eq!(app["summary"]["create"], 2, "{app}");
    let facts = &app["summary"]["product"];
    assert_eq!(facts["inputs"]["network_id"], "network.id", "{app}");
    assert_eq!(facts["inputs"]["network_cidr"], "network.cidr", "{app}");
    assert!(facts["awaiting"].is_null(), "{app}");
    let vars: Value = serde_json::from_str(
        &std::fs::read_to_string(
            p.manager()
                .join(".fleetform/out/acme/app/staging/variables.tfvars.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(vars["network_id"], "net-acme-staging", "{vars}");
    assert_eq!(vars["network_cidr"], "10.1.0.0/16", "{vars}");
    let comment = std::fs::read_to_string(
        p.manager()
            .join(".fleetform/out/acme/app/staging/comment.md"),
    )
    .unwrap();
    assert!(comment.contains("Passed from other products: `network_cidr` ← `network.cidr`, `network_id` ← `network.id`\n\nState key"), "{comment}");
    // Production's network is not applied: its app still waits.
    assert_eq!(row(&rows, "acme", "app", "production")["result"], "skipped");

    let out = p.apply("acme", "app", "staging");
    common::assert_ok(&out);
    let objects = p.objects();
    let web: Vec<&Value> = objects
        .iter()
        .filter(|(k, _)| k.starts_with("fakecloud_instance/"))
        .map(|(_, v)| v)
        .collect();
    assert_eq!(web.len(), 2, "{objects:?}");
    assert!(
        web.iter().all(|v| v["network_id"] == "net-acme-staging"),
        "{web:?}"
    );
    let state = |product: &str| {
        p.manager().join(format!(
            ".fleetform/state/acme/{product}/staging/terraform.tfstate"
        ))
    };
    let net: Value =
        serde_json::from_str(&std::fs::read_to_string(state("network")).unwrap()).unwrap();
    let app: Value = serde_json::from_str(&std::fs::read_to_string(state("app")).unwrap()).unwrap();
    assert_ne!(net["lineage"], app["lineage"], "one state per product");
    let types = |s: &Value| -> Vec<String> {
        s["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["type"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(types(&net), ["fakecloud_network"]);
    assert_eq!(types(&app), ["fakecloud_instance"]);
    // The audit log names the product.
    let audit = std::fs::read_to_string(p.manager().join(".fleetform/audit.jsonl")).unwrap();
    assert!(
        audit
            .lines()
            .any(|l| l.contains("\"action\":\"apply\"") && l.contains("\"product\":\"app\"")),
        "{audit}"
    );
}

/// A network change that changes its outputs marks the app's plan as
/// waiting for the network's apply (table and comment say so), and once
/// the network is applied the app's old plan is refused.
#[test]
fn a_dependency_that_changes_outputs_makes_the_dependent_plan_again() {
    let p = Products::app_applied();

    // A new CIDR replaces the network: new id, new cidr.
    p.fx.write(
        "products/customers/acme/infra/network/variables.yml",
        "cidr: \"10.9.0.0/16\"\n",
    );
    let out = p.run(&["plan", "--customer", "acme", "--env", "staging"]);
    common::assert_ok(&out);
    let table = stdout(&out);
    assert!(table.contains("PRODUCT"), "{table}");
    assert!(
        table.contains("plan again after network is applied"),
        "{table}"
    );
    let comment = std::fs::read_to_string(
        p.manager()
            .join(".fleetform/out/acme/app/staging/comment.md"),
    )
    .unwrap();
    assert!(
        comment.contains("This plan uses the current outputs of `network`"),
        "{comment}"
    );

    common::assert_ok(&p.apply("acme", "network", "staging"));
    let out = p.apply("acme", "app", "staging");
    common::assert_code(&out, 3);
    assert!(
        stderr(&out).contains("the outputs of network changed since this plan was made"),
        "{}",
        stderr(&out)
    );
    // Planned again, the app moves onto the new network.
    let rows = p.plan_all();
    let app = row(&rows, "acme", "app", "staging");
    assert_eq!(
        app["summary"]["replace"].as_u64().unwrap() + app["summary"]["update"].as_u64().unwrap(),
        2,
        "{app}"
    );
    common::assert_ok(&p.apply("acme", "app", "staging"));
}

/// Subscription errors are the customer's alone, at file:line:col; the
/// other customers still plan.
#[test]
fn a_wrong_products_file_fails_its_customer_alone_where_it_is_written() {
    let p = Products::new();
    p.fx.write(
        "products/customers/initech/infra/products.yml",
        "products:\n  - network\n  - dns\n",
    );
    p.fx.write(
        "products/customers/globex/infra/products.yml",
        "products: [network, app]\n",
    );
    let out = p.run(&["plan", "--all", "--json"]);
    common::assert_code(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains("customers/initech/infra/products.yml:3:5")
            && err.contains("unknown product `dns`; the manager offers: network, app"),
        "{err}"
    );
    assert!(
        err.contains("customers/globex/infra/products.yml:1:21")
            && err.contains("product `app` is not enabled for customer `globex` by the manager"),
        "{err}"
    );
    let rows: Vec<Value> = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    assert_eq!(
        row(&rows, "acme", "network", "staging")["result"],
        "planned"
    );
    assert_eq!(
        row(&rows, "initech", "network", "staging")["result"],
        "failed"
    );
    assert_eq!(
        row(&rows, "globex", "network", "staging")["result"],
        "failed"
    );

    // Enabling the app without the network it needs.
    p.fx.write(
        "products/customers/initech/infra/products.yml",
        "products: [app]\n",
    );
    let out = p.run(&["validate"]);
    common::assert_code(&out, 1);
    assert!(
        stderr(&out).contains("initech/infra/products.yml:1:12")
            && stderr(&out).contains(
                "product `app` needs `network` (it consumes its outputs); enable `network` too"
            ),
        "{}",
        stderr(&out)
    );
}

/// Variables passed from another product's outputs never come from
/// customer files; validate checks each product against its own schema.
#[test]
fn customers_cannot_set_what_a_needed_product_passes() {
    let p = Products::new();
    let out = p.run(&["validate", "--json"]);
    common::assert_ok(&out);
    let checked: Vec<Value> = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    let names: Vec<&str> = checked
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "acme/network",
            "globex/network",
            "initech/network",
            "acme/app",
            "initech/app"
        ]
    );

    // A schema that lets anything through: validate and plan still refuse,
    // at the same place with the same words.
    p.fx.write(
        "products/manager/products/app/schema.json",
        "{\"type\": \"object\"}\n",
    );
    p.fx.append(
        "products/customers/acme/infra/app/variables.yml",
        "network_id: net-of-my-choice\n",
    );
    let out = p.run(&["validate"]);
    common::assert_code(&out, 1);
    assert!(
        stderr(&out).contains("customers/acme/infra/app/variables.yml:5:13: /network_id: `network_id` is passed from the outputs of product `network`; remove it here"),
        "{}",
        stderr(&out)
    );
    assert!(p.apply_network_first());
    let rows = p.plan_all();
    let app = row(&rows, "acme", "app", "staging");
    assert_eq!(app["result"], "failed", "{app}");
    let problem = app["problems"][0].to_string();
    assert!(
        problem.contains("customers/acme/infra/app/variables.yml:5:13")
            && problem.contains(
                "`network_id` is passed from the outputs of product `network`; remove it here"
            ),
        "{problem}"
    );
}

impl Products {
    fn apply_network_first(&self) -> bool {
        self.plan_all();
        self.apply("acme", "network", "staging").status.success()
    }
}

/// `render --explain --product` names the product in every origin, and the
/// variables the product takes from others with the `needs:` entry.
#[test]
fn render_explains_a_products_layers() {
    let p = Products::new();
    let out = p.run(&[
        "render",
        "--customer",
        "acme",
        "--product",
        "app",
        "--env",
        "production",
        "--explain",
    ]);
    common::assert_ok(&out);
    let text = stdout(&out);
    assert!(text.contains("app: customer environment"), "{text}");
    assert!(text.contains("products/app/values/base.yml"), "{text}");
    assert!(text.contains("app: product output"), "{text}");
    assert!(
        text.contains("(output `id` of product `network`, read at plan time)"),
        "{text}"
    );
    let out = p.run(&["render", "--customer", "acme", "--env", "staging"]);
    common::assert_code(&out, 2);
    assert!(
        stderr(&out).contains("say which product: --product (network, app)"),
        "{}",
        stderr(&out)
    );
    let out = p.run(&[
        "render",
        "--customer",
        "globex",
        "--product",
        "app",
        "--env",
        "staging",
    ]);
    common::assert_code(&out, 2);
    assert!(
        stderr(&out).contains("does not enable product `app`"),
        "{}",
        stderr(&out)
    );
}

/// Configuration errors in `products:` point at fleetform.yml.
#[test]
fn a_circle_of_needs_is_a_configuration_error() {
    let p = Products::new();
    let cfg = p.fx.read("products/manager/fleetform.yml");
    p.fx.write(
        "products/manager/fleetform.yml",
        &cfg.replace(
            "      environments:\n        production: products/network/values/production.yml\n",
            "      environments:\n        production: products/network/values/production.yml\n    needs:\n      app: {app_url: url}\n",
        ),
    );
    let out = p.run(&["plan", "--all"]);
    common::assert_code(&out, 2);
    assert!(
        stderr(&out).contains("fleetform.yml:")
            && stderr(&out)
                .contains("products need each other in a circle: network → app → network"),
        "{}",
        stderr(&out)
    );
}

/// A module change that replaces resources for some customers only: the
/// impact preview groups the plans (here: initech's network is replaced,
/// acme's is untouched) and names the replacement count.
#[test]
fn an_impact_preview_groups_a_module_change_that_replaces_some_customers_networks() {
    let p = Products::new();
    p.plan_all();
    for c in ["acme", "initech"] {
        common::assert_ok(&p.apply(c, "network", "staging"));
    }
    p.fx.git(&["init", "-q"]);
    p.fx.git(&["add", "-A"]);
    p.fx.git(&["commit", "-q", "-m", "base"]);
    // Single-zone networks move to a new range: a replacement (cidr forces
    // a new network), for initech only (acme has two zones).
    let module =
        p.fx.read("products/manager/products/network/terraform/main.tf");
    p.fx.write(
        "products/manager/products/network/terraform/main.tf",
        &module.replace(
            "  cidr  = var.cidr\n",
            "  cidr  = var.zones > 1 ? var.cidr : \"10.250.0.0/16\"\n",
        ),
    );
    let out = p.run(&["impact", "--base", "HEAD", "--plan", "--json"]);
    let i: Value = serde_json::from_slice(out.stdout.as_bytes())
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&out), stderr(&out)));
    assert_eq!(i["modules"], serde_json::json!(["network"]), "{i:#}");
    let groups = i["plans"]["groups"].as_array().unwrap();
    let replaced: Vec<&Value> = groups.iter().filter(|g| g["most_replaced"] == 1).collect();
    assert_eq!(replaced.len(), 1, "{groups:#?}");
    assert_eq!(
        replaced[0]["members"],
        serde_json::json!([{"customer": "initech", "product": "network", "environment": "staging"}]),
        "{groups:#?}"
    );
    let acme = groups
        .iter()
        .find(|g| {
            g["members"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["customer"] == "acme" && m["environment"] == "staging")
        })
        .unwrap_or_else(|| panic!("{groups:#?}"));
    assert_eq!(acme["most_replaced"], 0, "{acme:#}");
}
