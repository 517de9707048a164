//! `plan --replace/--target` and the state operations on a manager with
//! `products:` (#37 point 2), on the products example (network → app on
//! the test cloud): without `--product` they are refused naming the flag
//! and the products; with it the one product's state is planned (and
//! applied) targeted, and a targeted plan of the dependent app reads the
//! network's outputs from its state; a product the customer does not have
//! is refused.

use crate::common::{require_terraform, stderr, stdout, Fixture};
use crate::fakecloud;

use serde_json::Value;

pub(crate) struct World {
    pub(crate) fx: Fixture,
    cli_config: std::path::PathBuf,
    pub(crate) cloud: std::path::PathBuf,
}

impl World {
    /// acme (network and app) and globex (network only), in staging.
    pub(crate) fn new() -> World {
        require_terraform();
        let fx = Fixture::new();
        let installed = fakecloud::install(&fx.path("fakecloud"));
        let reg = fx.read("products/manager/customers.yml");
        fx.write(
            "products/manager/customers.yml",
            &reg.replacen(
                "environments: [staging, production]",
                "environments: [staging]",
                1,
            ),
        );
        World {
            cli_config: installed.cli_config,
            cloud: fx.path("cloud.json"),
            fx,
        }
    }

    pub(crate) fn run(&self, args: &[&str]) -> crate::common::Ran {
        crate::common::Run::from(crate::common::fleetform_bin())
            .current_dir(self.fx.path("products/manager"))
            .env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("FAKECLOUD_FILE", &self.cloud)
            .args(args)
            .output()
    }

    pub(crate) fn expect(&self, code: i32, args: &[&str]) -> crate::common::Ran {
        let out = self.run(args);
        crate::common::assert_code_for(format_args!("{args:?}"), &out, code);
        out
    }
}

const REPLACE: &[&str] = &[
    "plan",
    "--customer",
    "acme",
    "--env",
    "staging",
    "--replace",
    "fakecloud_network.main",
    "--reason",
    "rotate the network",
    "--json",
];

#[test]
fn a_targeted_plan_names_its_product_and_replaces_only_it() {
    let w = World::new();
    for product in ["network", "app"] {
        w.expect(0, &["plan", "--customer", "acme", "--env", "staging"]);
        w.expect(
            0,
            &[
                "apply",
                "--customer",
                "acme",
                "--product",
                product,
                "--env",
                "staging",
            ],
        );
    }
    assert!(
        fakecloud::objects(&w.cloud).contains_key("fakecloud_network/net-acme-staging"),
        "{:?}",
        fakecloud::objects(&w.cloud)
    );

    // Without --product: refused, naming the flag and the products.
    let out = w.expect(2, REPLACE);
    assert!(
        stderr(&out).contains(
            "--replace and --target act on one product's state: say which product: --product (network, app)"
        ),
        "{}",
        stderr(&out)
    );
    let out = w.expect(
        2,
        &[
            "state",
            "rm",
            "fakecloud_network.main",
            "--customer",
            "acme",
            "--env",
            "staging",
            "--reason",
            "x",
        ],
    );
    assert!(
        stderr(&out).contains("say which product: --product (network, app)"),
        "{}",
        stderr(&out)
    );
    // A product the customer does not have.
    let mut globex: Vec<&str> = REPLACE.to_vec();
    globex[2] = "globex";
    globex.extend(["--product", "app"]);
    let out = w.expect(2, &globex);
    assert!(
        stderr(&out).contains("customer `globex` does not have product `app` (it has: network)"),
        "{}",
        stderr(&out)
    );

    // With it: the network alone, planned as a replacement, then applied.
    let mut args: Vec<&str> = REPLACE.to_vec();
    args.extend(["--product", "network"]);
    let out = w.expect(0, &args);
    let rows: Vec<Value> = serde_json::from_slice(out.stdout.as_bytes())
        .unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)));
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["product"], "network", "{rows:#?}");
    let summary = &rows[0]["summary"];
    assert_eq!(summary["replace"], 1, "{summary:#}");
    assert_eq!(summary["create"], 0, "{summary:#}");
    assert_eq!(
        summary["targeting"]["replace"],
        serde_json::json!(["fakecloud_network.main"]),
        "{summary:#}"
    );
    w.expect(
        0,
        &[
            "apply",
            "--customer",
            "acme",
            "--product",
            "network",
            "--env",
            "staging",
            "--unreviewed",
        ],
    );
    let log = w.fx.read("products/manager/.fleetform/audit.jsonl");
    let last: Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(
        (
            &last["action"],
            &last["product"],
            &last["result"],
            &last["reason"]
        ),
        (
            &"apply".into(),
            &"network".into(),
            &"ok".into(),
            &"rotate the network".into()
        ),
        "{last}"
    );
    // The app still reads the network's outputs: its plan is clean.
    let out = w.expect(
        0,
        &["plan", "--customer", "acme", "--env", "staging", "--json"],
    );
    let rows: Vec<Value> = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    let app = rows.iter().find(|r| r["product"] == "app").unwrap();
    assert_eq!(app["summary"]["has_changes"], false, "{app:#}");
    // A targeted plan of the app reads the network's outputs from its
    // state (the network is not planned with it).
    let out = w.expect(
        0,
        &[
            "plan",
            "--customer",
            "acme",
            "--env",
            "staging",
            "--product",
            "app",
            "--target",
            "fakecloud_instance.web",
            "--reason",
            "check the app",
            "--json",
        ],
    );
    let rows: Vec<Value> = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["product"], "app", "{rows:#?}");
    assert_eq!(rows[0]["result"], "planned", "{rows:#?}");
    assert_eq!(rows[0]["summary"]["has_changes"], false, "{rows:#?}");
}
