//! Products on GitHub: the example manager in `examples/products`
//! (network → app on the test cloud) behind the fake GitHub. The customer's
//! trigger lists its products' files; the manager plans each product in
//! dependency order, with one sticky comment and one commit status per
//! product × environment; the apply job applies the products of one
//! environment in order, refusing a set of plans that is not the one
//! planned; a product that waits for another's apply says so.

use crate::common;
use crate::fakecloud;
use crate::support;
use crate::world;

use std::path::PathBuf;

use common::{stderr, Fixture};
use serde_json::json;
use support::fake_github::FakeGitHub;
use world::{ok, StepFiles, World, ACME, MANAGER};

struct ProductsWorld {
    w: World,
    cli_config: PathBuf,
    cloud_file: PathBuf,
}

/// Every file of a customer of `examples/products`, relative to its repo.
fn product_customer_files(fx: &Fixture, dir: &str) -> Vec<(String, String)> {
    let root = fx.path(&format!("products/customers/{dir}"));
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(&root).unwrap().to_string_lossy().to_string();
                out.push((rel, std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

impl ProductsWorld {
    fn new() -> ProductsWorld {
        common::require_terraform();
        let fx = Fixture::new();
        let installed = fakecloud::install(&fx.path("fakecloud"));
        let gh = FakeGitHub::start();
        gh.add_repo(MANAGER);
        gh.commit(
            MANAGER,
            "main",
            &[("customers.yml", &fx.read("products/manager/customers.yml"))],
        );
        gh.add_repo(ACME);
        let files = product_customer_files(&fx, "acme");
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, c)| (p.as_str(), c.as_str()))
            .collect();
        gh.commit(ACME, "main", &refs);
        ProductsWorld {
            cli_config: installed.cli_config,
            cloud_file: fx.path("cloud.json"),
            w: World {
                fx,
                gh,
                scratch: tempfile::tempdir().unwrap(),
                run_id: 1000,
            },
        }
    }

    fn manager(&self) -> PathBuf {
        self.w.fx.path("products/manager")
    }

    /// A customer checkout of every file at `sha`.
    fn checkout(&self, sha: &str) -> PathBuf {
        let dir = self
            .w
            .scratch
            .path()
            .join(format!("checkout-{}", &sha[..12]));
        for (p, _) in product_customer_files(&self.w.fx, "acme") {
            if let Some(c) = self.w.gh.file_at(ACME, sha, &p) {
                let f = dir.join(&p);
                std::fs::create_dir_all(f.parent().unwrap()).unwrap();
                std::fs::write(f, c).unwrap();
            }
        }
        dir
    }

    fn trigger_pr(&mut self, pr: u64, branch: &str, sha: &str) -> crate::common::Ran {
        let checkout = self.checkout(sha);
        let event = crate::world::pr_event(pr, branch, sha);
        let (cmd, _) = self
            .w
            .trigger_step(ACME, "pull_request", &event, &"f".repeat(40), checkout);
        common::Run::from(cmd).output()
    }

    fn trigger_push(&mut self, sha: &str) -> crate::common::Ran {
        let checkout = self.checkout(sha);
        let event = crate::world::push_event(sha, "Merge pull request #1 from acme-corp/feature");
        let (cmd, _) = self.w.trigger_step(ACME, "push", &event, sha, checkout);
        common::Run::from(cmd).output()
    }

    /// A manager step for the latest dispatch, in the products manager.
    fn manager_step(&mut self, args: &[&str]) -> (crate::common::Ran, StepFiles) {
        let d = self.w.gh.dispatches(MANAGER).last().cloned().unwrap();
        let event = json!({ "action": d["event_type"], "client_payload": d["client_payload"] });
        let (cmd, files) = self
            .w
            .step(MANAGER, "repository_dispatch", &event, &"e".repeat(40));
        let out = common::Run::from(cmd)
            .current_dir(self.manager())
            .env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("FAKECLOUD_FILE", &self.cloud_file)
            .args(args)
            .output();
        (out, files)
    }

    fn plan(&mut self, env: &str) -> (crate::common::Ran, StepFiles) {
        self.manager_step(&["plan", "--dispatch", "--env", env, "--json"])
    }

    fn apply(&mut self, env: &str, plan_dir: &str, digest: &str) -> crate::common::Ran {
        self.manager_step(&[
            "apply",
            "--dispatch",
            "--env",
            env,
            "--plan-dir",
            plan_dir,
            "--plan-sha256",
            digest,
        ])
        .0
    }

    fn status(&self, sha: &str, context: &str) -> (String, String) {
        let s =
            self.w.gh.status_of(ACME, sha, context).unwrap_or_else(|| {
                panic!("no status {context}: {:?}", self.w.gh.statuses(ACME, sha))
            });
        (s.state, s.description.unwrap_or_default())
    }

    fn kinds(&self) -> Vec<String> {
        // Objects are keyed `<type>/<id>`.
        let mut kinds: Vec<String> = fakecloud::objects(&self.cloud_file)
            .keys()
            .filter_map(|k| k.split_once('/').map(|(t, _)| t.to_string()))
            .collect();
        kinds.sort();
        kinds.dedup();
        kinds
    }
}

/// A pull request plans each product with its own comment and status;
/// the app waits for the network's first apply. The merge applies the
/// network; the next push plans and applies the app with the network's
/// outputs. A changed set of plans is refused.
#[test]
fn each_product_has_its_comment_status_and_apply_in_dependency_order() {
    let mut p = ProductsWorld::new();
    let network_vars =
        p.w.fx
            .read("products/customers/acme/infra/network/variables.yml");
    let sha = p.w.gh.commit(
        ACME,
        "feature",
        &[(
            "infra/network/variables.yml",
            &network_vars.replace("10.1.0.0/16", "10.9.0.0/16"),
        )],
    );
    let pr = p.w.gh.open_pr(ACME, "feature", "main", "Network");
    let out = p.trigger_pr(pr, "feature", &sha);
    ok(&out);
    let d = p.w.gh.dispatches(MANAGER).last().cloned().unwrap();
    let listed: Vec<&str> = d["client_payload"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f.as_str())
        .collect();
    assert_eq!(
        listed,
        [
            "infra/products.yml",
            "infra/app/variables.yml",
            "infra/network/variables.yml"
        ]
    );

    p.w.gh.reset_counters();
    let (out, files) = p.plan("staging");
    ok(&out);
    let requests = p.w.gh.request_count();
    // The README's budget: the pull request's head (1, the fork check), the
    // products file (1), then per product × environment
    // its files (1 here: the variables file), the sticky comment (2: list,
    // create) and the statuses (4: own, combined read, combined write,
    // combined read again).
    assert_eq!(requests, 1 + 1 + 2 * 7, "plan budget");
    // stdout is the JSON report alone (workflow commands go to stderr).
    let text = common::stdout(&out);
    let report: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{report:#}");
    assert_eq!(results[0]["product"], "network");
    assert!(results[0]["summary"]["plan_sha256"].is_string());
    assert_eq!(results[1]["product"], "app");
    assert!(
        results[1]["waiting"].as_str().unwrap().contains("network"),
        "{report:#}"
    );
    // One sticky comment per product × environment.
    let comments = p.w.gh.comments(ACME, pr);
    assert_eq!(comments.len(), 2);
    assert!(comments.iter().any(|c| c.body.contains("product=network")));
    let app = comments
        .iter()
        .find(|c| c.body.contains("product=app"))
        .unwrap();
    assert!(app.body.contains("Not planned yet"), "{}", app.body);
    // One status per product × environment, and the combined one.
    let (state, desc) = p.status(&sha, "infra/terraform-deploy/network/staging");
    assert_eq!(state, "success", "{desc}");
    let (state, desc) = p.status(&sha, "infra/terraform-deploy/app/staging");
    assert_eq!(state, "success");
    assert!(desc.contains("not planned yet"), "{desc}");
    // Production is enabled but not planned yet: the combined status waits.
    assert_eq!(p.status(&sha, "infra/terraform-deploy").0, "pending");
    assert_eq!(files.outputs()["environment"], "staging");

    // The merge: the network is planned and applied; the app waits.
    let merged = p.w.gh.merge_pr(ACME, pr);
    ok(&p.trigger_push(&merged));
    let (out, files) = p.plan("staging");
    ok(&out);
    let outputs = files.outputs();
    let digest = outputs["plan_sha256"].clone();
    let plan_dir = outputs["plan_dir"].clone();
    assert!(plan_dir.ends_with("acme"), "{plan_dir}");
    assert_eq!(outputs["has_changes"], "true");
    // A digest that is not the plans' combined one is refused.
    let out = p.apply("staging", &plan_dir, &"0".repeat(64));
    common::assert_code(&out, 3);
    assert!(
        stderr(&out).contains("not the ones planned"),
        "{}",
        stderr(&out)
    );
    assert!(p.kinds().is_empty());
    p.w.gh.reset_counters();
    let out = p.apply("staging", &plan_dir, &digest);
    ok(&out);
    // The README's budget: the products file and the registry once, then
    // per applied product the repo, its head, its deployment (3), its
    // status (4: own, combined read, combined write, combined read again)
    // and comment.
    assert_eq!(p.w.gh.request_count(), 2 + 10, "apply budget");
    assert_eq!(p.kinds(), ["fakecloud_network"]);
    let (state, desc) = p.status(&merged, "infra/terraform-deploy/network/staging");
    assert_eq!(state, "success");
    assert!(desc.contains("applied"), "{desc}");

    // The next push: the network has nothing to do; the app plans with
    // the network's outputs and applies.
    let app_vars =
        p.w.fx
            .read("products/customers/acme/infra/app/variables.yml");
    let next = p.w.gh.commit(
        ACME,
        "main",
        &[("infra/app/variables.yml", &format!("{app_vars}\n"))],
    );
    ok(&p.trigger_push(&next));
    let (out, files) = p.plan("staging");
    ok(&out);
    let outputs = files.outputs();
    p.w.gh.reset_counters();
    let out = p.apply("staging", &outputs["plan_dir"], &outputs["plan_sha256"]);
    ok(&out);
    // The network's plan changes nothing: only the app is applied.
    assert!(common::stderr(&out).contains("acme/network/staging: the plan changes nothing"));
    assert_eq!(p.w.gh.request_count(), 2 + 10, "apply budget");
    let kinds = p.kinds();
    assert!(
        kinds.contains(&"fakecloud_instance".to_string()),
        "{kinds:?}"
    );
    let (state, desc) = p.status(&next, "infra/terraform-deploy/app/staging");
    assert_eq!(state, "success");
    assert!(desc.contains("applied"), "{desc}");
    // Each product keeps its own state.
    for product in ["network", "app"] {
        assert!(p
            .manager()
            .join(format!(
                ".fleetform/state/acme/{product}/staging/terraform.tfstate"
            ))
            .is_file());
    }
}

/// A wrong products file fails the plan with the problem on the pull
/// request at its line, and plans nothing.
#[test]
fn a_wrong_products_file_is_reported_on_the_pull_request() {
    let mut p = ProductsWorld::new();
    let sha = p.w.gh.commit(
        ACME,
        "bad",
        &[("infra/products.yml", "products: [network, database]\n")],
    );
    let pr = p.w.gh.open_pr(ACME, "bad", "main", "Database");
    ok(&p.trigger_pr(pr, "bad", &sha));
    let (out, _) = p.plan("staging");
    common::assert_code(&out, 1);
    let comments = p.w.gh.comments(ACME, pr);
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0].body.contains("infra/products.yml:1:") && comments[0].body.contains("database"),
        "{}",
        comments[0].body
    );
    assert_eq!(
        p.status(&sha, "infra/terraform-deploy/staging").0,
        "failure"
    );
    assert!(p.kinds().is_empty());
    assert!(!p.manager().join(".fleetform/out/acme").exists());
}

/// `conclude` marks each product × environment whose apply was due and
/// did not report: all of them after a cancelled job; after a failed job,
/// only those the job did not report on.
#[test]
fn conclude_marks_each_product_that_was_not_applied() {
    let mut p = ProductsWorld::new();
    let sha = p.w.gh.commit(ACME, "main", &[("README.md", "x\n")]);
    ok(&p.trigger_push(&sha));
    let (out, _) = p.plan("staging");
    ok(&out);
    let network = "infra/terraform-deploy/network/staging";
    let app = "infra/terraform-deploy/app/staging";
    let due =
        json!({"result": "success", "outputs": {"has_changes": "true", "gates_pass": "true"}});
    let d = p.w.gh.dispatches(MANAGER).last().cloned().unwrap();
    let event = json!({ "action": d["event_type"], "client_payload": d["client_payload"] });
    let conclude = |p: &mut ProductsWorld, apply: &str| {
        let needs = json!({
            "authorise": {"result": "success", "outputs": {}},
            "plan-staging": due,
            "apply-staging": {"result": apply, "outputs": {}},
        });
        let (cmd, _) =
            p.w.step(MANAGER, "repository_dispatch", &event, &"e".repeat(40));
        let out = common::Run::from(cmd)
            .current_dir(p.manager())
            .env("FLEETFORM_NEEDS", needs.to_string())
            .arg("conclude")
            .output();
        ok(&out);
    };

    // Cancelled while waiting: every product of staging is marked.
    conclude(&mut p, "cancelled");
    for context in [network, app] {
        let (state, desc) = p.status(&sha, context);
        assert_eq!(state, "error", "{context}: {desc}");
        assert!(desc.contains("not applied"), "{desc}");
    }
    assert_eq!(p.status(&sha, "infra/terraform-deploy").0, "error");

    // Failed: the network's failure is the job's own report and stays; the
    // app, never reached, is marked.
    p.w.gh.add_status(ACME, &sha, "failure", network);
    p.w.gh.add_status(ACME, &sha, "pending", app);
    conclude(&mut p, "failure");
    assert_eq!(p.status(&sha, network).0, "failure");
    assert_eq!(p.status(&sha, app).0, "error");
}

impl ProductsWorld {
    /// A push to main at `sha`: trigger, plan staging, apply staging.
    fn deploy(&mut self, sha: &str) -> crate::common::Ran {
        ok(&self.trigger_push(sha));
        let (out, files) = self.plan("staging");
        ok(&out);
        let o = files.outputs();
        match (o.get("plan_dir"), o.get("plan_sha256")) {
            (Some(dir), Some(digest)) => self.apply("staging", dir, digest),
            _ => out,
        }
    }
}

/// A network change that changes its outputs: the app's plan on the pull
/// request says it waits for the network's apply; after the merge the
/// network applies and the app's plan, made with the old outputs, is
/// refused with what to do; the next push applies the app.
#[test]
fn a_dependency_that_changes_outputs_makes_the_dependent_plan_again() {
    let mut p = ProductsWorld::new();
    let first = p.w.gh.commit(ACME, "main", &[("README.md", "1\n")]);
    ok(&p.deploy(&first));
    let second = p.w.gh.commit(ACME, "main", &[("README.md", "2\n")]);
    ok(&p.deploy(&second));
    assert!(p.kinds().contains(&"fakecloud_instance".to_string()));

    let vars =
        p.w.fx
            .read("products/customers/acme/infra/network/variables.yml");
    let sha = p.w.gh.commit(
        ACME,
        "cidr",
        &[(
            "infra/network/variables.yml",
            &vars.replace("10.1.0.0/16", "10.7.0.0/16"),
        )],
    );
    let pr = p.w.gh.open_pr(ACME, "cidr", "main", "New CIDR");
    ok(&p.trigger_pr(pr, "cidr", &sha));
    let (out, _) = p.plan("staging");
    ok(&out);
    let app =
        p.w.gh
            .comments(ACME, pr)
            .into_iter()
            .find(|c| c.body.contains("product=app"))
            .expect("the app's comment");
    assert!(
        app.body.contains("whose plan here changes them") && app.body.contains("`network`"),
        "{}",
        app.body
    );

    let merged = p.w.gh.merge_pr(ACME, pr);
    let out = p.deploy(&merged);
    common::assert_code(&out, 3);
    let (state, desc) = p.status(&merged, "infra/terraform-deploy/network/staging");
    assert_eq!(state, "success", "{desc}");
    assert!(desc.contains("applied"), "{desc}");
    let (state, desc) = p.status(&merged, "infra/terraform-deploy/app/staging");
    assert_eq!(state, "failure");
    assert!(desc.contains("plan `app` again"), "{desc}");

    let next = p.w.gh.commit(ACME, "main", &[("README.md", "3\n")]);
    ok(&p.deploy(&next));
    let (state, desc) = p.status(&next, "infra/terraform-deploy/app/staging");
    assert_eq!(state, "success");
    assert!(desc.contains("applied"), "{desc}");
}
