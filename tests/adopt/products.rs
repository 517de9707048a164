//! Adoption (issue #57) for a manager with products (`examples/products`:
//! network → app): each customer × product × environment is adopted on
//! its own, from `adopt/<customer>/<product>/<env>.yml`; the app's plan
//! reads the adopted network's outputs; `adopt status` (every product
//! when none is named) and the dashboard show each product pair as not
//! started, mapped, zero-diff or adopted.

use serde_json::Value;

use crate::common;
use crate::fakecloud;
use crate::products::example::Products;

/// (pair, stage) of each row of `adopt status --json` with `args`.
fn statuses(p: &Products, args: &[&str]) -> Vec<(String, String)> {
    let out = p.run(&[&["adopt", "status", "--json"][..], args].concat());
    common::assert_ok(&out);
    let v: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let u = &r["unit"];
            (
                format!(
                    "{}/{}/{}",
                    u["customer"].as_str().unwrap(),
                    u["product"].as_str().unwrap_or("-"),
                    u["environment"].as_str().unwrap()
                ),
                r["stage"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn stage_of(rows: &[(String, String)], pair: &str) -> String {
    rows.iter()
        .find(|(p, _)| p == pair)
        .unwrap_or_else(|| panic!("no {pair}: {rows:?}"))
        .1
        .clone()
}

/// acme's staging mapping of `product`, from the objects in the cloud.
fn write_mapping(p: &Products, product: &str) {
    let mut text = String::from("imports:\n");
    for (_, o) in fakecloud::objects(&p.cloud_file) {
        let (name, id) = (o["name"].as_str().unwrap_or_default(), &o["id"]);
        let address = match (product, name) {
            ("network", "acme-staging") => "fakecloud_network.main".to_string(),
            ("app", n) => match n.strip_prefix("acme-staging-web-") {
                Some(i) => format!("\"fakecloud_instance.web[{i}]\""),
                None => continue,
            },
            _ => continue,
        };
        text.push_str(&format!("  {address}: {}\n", id.as_str().unwrap()));
    }
    p.fx.write(
        &format!("products/manager/adopt/acme/{product}/staging.yml"),
        &text,
    );
}

/// `adopt plan` of acme's `product` in staging: its digest.
fn plan(p: &Products, product: &str) -> String {
    let out = p.run(&[
        "adopt",
        "plan",
        "--customer",
        "acme",
        "--product",
        product,
        "--env",
        "staging",
        "--json",
    ]);
    common::assert_ok(&out);
    let v: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    assert!(v["diff"]["updates"].as_array().unwrap().is_empty(), "{v:#}");
    assert!(v["diff"]["refused"].as_array().unwrap().is_empty(), "{v:#}");
    v["plan_sha256"].as_str().unwrap().to_string()
}

fn apply(p: &Products, product: &str, digest: &str) {
    let out = p.run(&[
        "adopt",
        "apply",
        "--customer",
        "acme",
        "--product",
        product,
        "--env",
        "staging",
        "--plan-sha256",
        digest,
        "--reason",
        "bring acme under fleetform",
        "--unreviewed",
    ]);
    common::assert_ok(&out);
}

#[test]
fn each_product_pair_is_adopted_on_its_own_and_status_and_the_dashboard_show_it() {
    let p = Products::app_applied();
    // The objects stay; no state knows them.
    for dir in [".fleetform/state", ".fleetform/out"] {
        std::fs::remove_dir_all(p.manager().join(dir)).unwrap();
    }
    let cloud = p.objects();
    let rows = statuses(&p, &[]);
    assert_eq!(
        rows.iter().map(|(u, _)| u.as_str()).collect::<Vec<_>>(),
        [
            "acme/network/staging",
            "acme/network/production",
            "acme/app/staging",
            "acme/app/production",
            "globex/network/staging",
            "initech/network/staging",
            "initech/app/staging",
        ],
        "every product pair the registry allows"
    );
    assert!(rows.iter().all(|(_, s)| s == "not-started"), "{rows:?}");

    write_mapping(&p, "network");
    assert_eq!(
        stage_of(&statuses(&p, &[]), "acme/network/staging"),
        "mapped"
    );
    let digest = plan(&p, "network");
    assert_eq!(
        stage_of(&statuses(&p, &[]), "acme/network/staging"),
        "zero-diff"
    );
    apply(&p, "network", &digest);
    // The app plans with the adopted network's outputs: imports only.
    write_mapping(&p, "app");
    assert_eq!(stage_of(&statuses(&p, &[]), "acme/app/staging"), "mapped");
    let digest = plan(&p, "app");
    let rows = statuses(&p, &[]);
    assert_eq!(stage_of(&rows, "acme/network/staging"), "adopted");
    assert_eq!(stage_of(&rows, "acme/app/staging"), "zero-diff");
    assert_eq!(stage_of(&rows, "acme/app/production"), "not-started");
    // One product named: its pairs only.
    assert_eq!(
        statuses(&p, &["--product", "app", "--env", "staging"]),
        [
            ("acme/app/staging".to_string(), "zero-diff".to_string()),
            ("initech/app/staging".to_string(), "not-started".to_string()),
        ]
    );
    // The dashboard shows the product pairs under way.
    common::assert_ok(&p.run(&["report", "--html", "dash.html"]));
    let html = std::fs::read_to_string(p.manager().join("dash.html")).unwrap();
    let section = &html[html
        .find("<section id=\"adoptions\">")
        .expect("the adoptions section")..];
    let section = &section[..section.find("</section>").unwrap()];
    for row in [
        "<td>acme/network/staging</td><td>adopted</td>",
        "<td>acme/app/staging</td><td>zero-diff</td>",
    ] {
        assert!(section.contains(row), "{row}: {section}");
    }
    assert!(!section.contains("initech"), "not started: {section}");

    apply(&p, "app", &digest);
    assert_eq!(stage_of(&statuses(&p, &[]), "acme/app/staging"), "adopted");
    assert_eq!(p.objects(), cloud, "nothing in the cloud changed");
    // Drift-clean: both products' next plans change nothing.
    let out = p.run(&["plan", "--customer", "acme", "--env", "staging", "--json"]);
    common::assert_ok(&out);
    let rows: Vec<Value> = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    assert_eq!(rows.len(), 2, "{rows:#?}");
    for r in &rows {
        assert_eq!(r["summary"]["has_changes"], false, "{r:#}");
    }
}
