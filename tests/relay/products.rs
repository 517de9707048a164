//! A customer on products behind the relay (#81 point 4): the manager of
//! `examples/products` has one schema per product, so the relay serves no
//! one schema (`GET /schema` answers 404); the customer's trigger, on a
//! checkout with `infra/products.yml`, asks for none and dispatches its
//! products' files, which the relay accepts as the manager's customer
//! files. Before, every such trigger failed at `GET /schema`.

use crate::common::stdout;
use crate::world::{ok, ACME, MANAGER};

use crate::relay::serve::RelayWorld;

/// The relay world with its manager replaced by `examples/products`'s
/// (the relay settings and the registry's repository ids kept).
pub(crate) fn products_relay_world() -> RelayWorld {
    let rw = RelayWorld::new();
    let fx = &rw.w.fx;
    let config = fx.read("manager/fleetform.yml");
    let relay = &config[config.find("\nrelay:").expect("the relay block")..];
    let manager = fx.path("manager");
    std::fs::remove_dir_all(&manager).unwrap();
    crate::common::copy_tree(&fx.path("products/manager"), &manager);
    fx.append("manager/fleetform.yml", relay);
    let mut registry = fx.read("manager/customers.yml");
    for repo in [ACME, "globex/globex-app"] {
        let line = format!("    repo: {repo}\n");
        registry = registry.replace(
            &line,
            &format!("{line}    repo_id: {}\n", rw.w.gh.repo_id(repo)),
        );
    }
    // GitHub mode: the customers' files come from their repos.
    registry = registry
        .lines()
        .filter(|l| !l.trim_start().starts_with("path:"))
        .map(|l| format!("{l}\n"))
        .collect();
    fx.write("manager/customers.yml", &registry);
    rw.w.gh
        .commit(MANAGER, "main", &[("customers.yml", &registry)]);
    rw
}

/// acme's files on products (infra/products.yml, one folder each), by
/// path in its repository.
pub(crate) fn acme_products_files(rw: &RelayWorld) -> Vec<(String, String)> {
    let root = rw.w.fx.path("products/customers/acme");
    let mut files = Vec::new();
    for e in walkdir::WalkDir::new(&root)
        .into_iter()
        .filter_map(Result::ok)
    {
        if e.file_type().is_file() {
            let rel = e
                .path()
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .to_string();
            files.push((rel, std::fs::read_to_string(e.path()).unwrap()));
        }
    }
    files
}

#[test]
fn a_customer_on_products_is_dispatched_through_the_relay() {
    let mut rw = products_relay_world();
    let relay = rw.start(4);
    // acme's repo holds its products (infra/products.yml, one folder each).
    let root = rw.w.fx.path("products/customers/acme");
    let files = acme_products_files(&rw);
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let sha = rw.w.gh.commit(ACME, "feature", &refs);
    let pr = rw.w.gh.open_pr(ACME, "feature", "main", "products");
    let id = rw.w.gh.repo_id(ACME);
    rw.issuer.set_runner_claims(rw.issuer.claims(
        ACME,
        id,
        "pull_request",
        "refs/heads/feature",
        &sha,
    ));
    let checkout = rw.w.scratch.path().join("acme-products");
    crate::common::copy_tree(&root, &checkout);
    let event = crate::world::pr_event(pr, "feature", &sha);
    let (mut cmd, _files) =
        rw.w.trigger_step(ACME, "pull_request", &event, &"f".repeat(40), checkout);
    let out = rw.through_relay(&mut cmd, &relay.url).output().unwrap();
    ok(&out);
    assert!(
        stdout(&out).contains("dispatched fleetform-plan for acme"),
        "{}",
        stdout(&out)
    );
    // One token: the dispatch (no schema asked).
    assert_eq!(rw.issuer.token_requests(), 1);
    let d = rw.w.gh.dispatches(MANAGER).last().cloned().unwrap();
    let listed = d["client_payload"]["files"].to_string();
    assert!(listed.contains("infra/products.yml"), "{listed}");
    assert!(listed.contains("infra/network/variables.yml"), "{listed}");
    rw.w.gh.assert_clean();
}
