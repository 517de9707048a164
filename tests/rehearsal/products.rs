//! A customer on products (`examples/products`: `network`, and `app`
//! which needs the network's outputs) through the relay and the deploy
//! workflow: acme's pull request enabling both products is planned (one
//! comment per product × environment), and its merge applied, the network
//! before the app, production after a second person.

use super::relay_loop::{customer_runner, merged_and_applied, opened};
use crate::relay::products::{acme_products_files, products_relay_world};
use crate::support::actions_runner::Event;
use crate::templates::deploy_run::deploy_runner;
use crate::world::ACME;

#[test]
fn a_customer_on_products_is_planned_and_applied_through_the_templates() {
    let rw = products_relay_world();
    let w = &rw.w;
    let relay = rw.start(4);
    let mut customer = customer_runner(&rw, &relay.url);
    let mut manager = deploy_runner(w);
    // The products' modules are on the test cloud.
    let cloud = crate::fakecloud::install(&w.fx.path("fakecloud"));
    manager
        .machine_env(
            "TF_CLI_CONFIG_FILE",
            &cloud.cli_config.display().to_string(),
        )
        .machine_env(
            "FAKECLOUD_FILE",
            &w.fx.path("cloud.json").display().to_string(),
        );
    let deploy = "workflows/manager-deploy.yml";

    let files = acme_products_files(&rw);
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let head = w.gh.commit(ACME, "products", &refs);
    let pr = w.gh.open_pr(ACME, "products", "main", "Network and app");
    let d = opened(&rw, &mut customer, pr, "products", &head);
    let planned = manager.run(&w.gh, deploy, &Event::dispatch(&d));
    planned.assert_succeeded(&["authorise", "plan-staging", "plan-production", "conclude"]);
    let comments = w.gh.comments(ACME, pr);
    for product in ["network", "app"] {
        assert!(
            comments
                .iter()
                .any(|c| c.body.contains(&format!("product={product}"))),
            "{product}: {comments:?}"
        );
    }

    merged_and_applied(
        &rw,
        (&mut customer, &mut manager),
        (
            super::relay_loop::TRIGGER,
            &super::relay_loop::dispatch_workflows(),
        ),
        (ACME, pr, "products"),
    );
    w.gh.assert_clean();
}
