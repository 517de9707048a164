//! `fleetform impact`: what a change to the manager repo does to every
//! customer × environment, read through git at two revisions. A change to
//! staging defaults touches only staging pairs whose customers do not set
//! the value themselves; a schema change that breaks two customers names
//! them with file:line:col and exits 1; a module change marks every pair;
//! a deployed pair is compared with the files it was applied with.

use crate::common;
use crate::support;

use support::fake_github::FakeGitHub;

use common::{require_terraform, stderr, stdout, Fixture};
use serde_json::Value;

/// The example fleet in a git repository, committed.
fn repo() -> Fixture {
    let fx = Fixture::new();
    fx.git(&["init", "-q"]);
    commit(&fx, "base");
    fx
}

fn commit(fx: &Fixture, message: &str) {
    fx.git(&["add", "-A"]);
    fx.git(&["commit", "-q", "--allow-empty", "-m", message]);
}

fn impact(fx: &Fixture, args: &[&str]) -> (Option<i32>, Value, String) {
    let out = common::Run::from(fx.fleetform())
        .args(["impact", "--json"])
        .args(args)
        .output();
    let json = serde_json::from_slice(out.stdout.as_bytes())
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&out), stderr(&out)));
    (out.status.code(), json, stderr(&out))
}

fn units(i: &Value) -> Vec<String> {
    i["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{}/{}",
                p["customer"].as_str().unwrap(),
                p["environment"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn a_change_to_staging_defaults_touches_only_the_staging_pairs_it_reaches() {
    let fx = repo();
    let staging = fx.read("manager/values/staging.yml");
    fx.write(
        "manager/values/staging.yml",
        &staging.replace("region: us-east-1", "region: us-east-2"),
    );
    fx.append("manager/values/staging.yml", "min_instances: 2\n");
    commit(&fx, "staging defaults");

    let (code, i, err) = impact(&fx, &["--base", "HEAD~1", "--head", "HEAD"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(i["pairs"], 4, "{i:#}");
    let changed = units(&i);
    assert!(
        changed.iter().all(|u| u.ends_with("/staging")),
        "{changed:?}"
    );
    let globex = i["changed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["customer"] == "globex")
        .unwrap();
    let region = globex["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["key"] == "/region")
        .unwrap_or_else(|| panic!("{globex:#}"));
    assert_eq!(region["old"], "us-east-1");
    assert_eq!(region["new"], "us-east-2");
    assert!(
        region["file"]
            .as_str()
            .unwrap()
            .contains("values/staging.yml:2:"),
        "{region}"
    );
    // acme sets its own staging region: only min_instances could reach it,
    // and it sets that too.
    assert!(
        !changed.contains(&"acme/staging".to_string()) || {
            let acme = i["changed"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["customer"] == "acme")
                .unwrap();
            acme["values"]
                .as_array()
                .unwrap()
                .iter()
                .all(|v| v["key"] != "/region")
        }
    );
    assert!(i["broken"].as_array().unwrap().is_empty());
    assert!(i["modules"].as_array().unwrap().is_empty());

    // The working tree is the default head, and the text form says it all.
    let out = common::Run::from(fx.fleetform())
        .args(["impact", "--base", "HEAD~1", "--show-values"])
        .output();
    common::assert_ok(&out);
    let text = stdout(&out);
    assert!(text.contains("of 4 pairs change"), "{text}");
    assert!(text.contains("`\"us-east-1\"` → `\"us-east-2\"`"), "{text}");
}

#[test]
fn a_schema_change_that_breaks_customers_names_them_and_fails() {
    let fx = repo();
    let schema = fx.read("manager/schema/variables.schema.json");
    // project_name must now start with "x": every example customer breaks.
    let tightened = schema.replace(
        "\"pattern\": \"^[a-z][a-z0-9-]{1,40}$\"",
        "\"pattern\": \"^x[a-z0-9-]{1,40}$\"",
    );
    assert_ne!(tightened, schema);
    fx.write("manager/schema/variables.schema.json", &tightened);
    let (code, i, _) = impact(&fx, &["--base", "HEAD"]);
    assert_eq!(code, Some(1), "{i:#}");
    let broken: Vec<&str> = i["broken"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["customer"].as_str().unwrap())
        .collect();
    assert!(broken.len() >= 2, "{i:#}");
    let problem = i["broken"][0]["problems"][0]["location"].as_str().unwrap();
    assert!(problem.contains("infra/variables.yml:"), "{problem}");
}

#[test]
fn a_module_change_marks_every_pair_of_the_module() {
    let fx = repo();
    fx.append(
        "manager/terraform/main.tf",
        "\n# a comment is a change too\n",
    );
    commit(&fx, "module");
    let (code, i, err) = impact(&fx, &["--base", "HEAD~1", "--head", "HEAD"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(units(&i).len(), 4, "{i:#}");
    assert!(
        i["changed"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["module"] == true),
        "{i:#}"
    );
    assert_eq!(i["modules"], serde_json::json!([""]));
}

/// A deployed pair is compared with the files it was applied with, not
/// with what its checkout holds now.
#[test]
fn a_deployed_pair_is_compared_with_what_was_applied() {
    require_terraform();
    let fx = repo();
    let run = |args: &[&str]| common::Run::from(fx.fleetform()).args(args).output();
    assert!(run(&["plan", "--customer", "globex", "--env", "staging"])
        .status
        .success());
    assert!(run(&["apply", "--customer", "globex", "--env", "staging"])
        .status
        .success());
    // The checkout moves on (not applied): its own region now.
    fx.append(
        "customers/globex/infra/variables.yml",
        "region: eu-west-1\n",
    );
    let staging = fx.read("manager/values/staging.yml");
    fx.write(
        "manager/values/staging.yml",
        &staging.replace("region: us-east-1", "region: us-east-2"),
    );
    let (_, i, err) = impact(&fx, &["--base", "HEAD"]);
    let globex = i["changed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["customer"] == "globex" && p["environment"] == "staging")
        .unwrap_or_else(|| panic!("{err}\n{i:#}"));
    assert_eq!(globex["files_from"], "deployment record", "{globex:#}");
    assert!(
        globex["values"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["key"] == "/region" && v["new"] == "us-east-2"),
        "{globex:#}"
    );
}

/// `--plan`: the affected pairs planned against their real state, grouped
/// by what the plans do. A module change that adds one resource everywhere
/// is one group with every pair in it, not one plan per pair.
#[test]
fn plans_of_the_affected_pairs_are_grouped_by_what_they_do() {
    require_terraform();
    let fx = repo();
    let run = |args: &[&str]| common::Run::from(fx.fleetform()).args(args).output();
    let out = run(&["plan", "--all"]);
    common::assert_ok(&out);
    for (c, e) in [
        ("acme", "staging"),
        ("acme", "production"),
        ("globex", "staging"),
        ("globex", "production"),
    ] {
        let out = run(&["apply", "--customer", c, "--env", e]);
        if !out.status.success() {
            assert!(
                stderr(&out).contains("no plan summary"),
                "{c}/{e}: {}",
                stderr(&out)
            );
        }
    }
    fx.append(
        "manager/terraform/main.tf",
        "\nresource \"terraform_data\" \"marker\" {\n  input = \"v2\"\n}\n",
    );
    let (code, i, err) = impact(&fx, &["--base", "HEAD", "--plan"]);
    assert_eq!(code, Some(0), "{err}\n{i:#}");
    let plans = &i["plans"];
    let pairs = i["changed"].as_array().unwrap().len();
    assert_eq!(plans["planned"], pairs, "{plans:#}");
    assert_eq!(plans["groups"].as_array().unwrap().len(), 1, "{plans:#}");
    let group = &plans["groups"][0];
    assert_eq!(group["members"].as_array().unwrap().len(), pairs);
    assert_eq!(
        group["resources"],
        serde_json::json!([{"address": "terraform_data.marker", "action": "create", "type": "terraform_data", "changed": ["/id", "/input", "/output"]}]),
        "{group:#}"
    );
    let out = common::Run::from(fx.fleetform())
        .args(["impact", "--base", "HEAD", "--plan"])
        .output();
    assert!(stdout(&out).contains(", 1 distinct"), "{}", stdout(&out));

    // The same in two matrix shards, merged by a last job: one group still.
    for (name, shard) in [
        ("a.json", r#"["acme/staging","acme/production"]"#),
        ("b.json", r#"["globex"]"#),
    ] {
        let out = common::Run::from(fx.fleetform())
            .args([
                "impact", "--base", "HEAD", "--plan", "--json", "--shard", shard,
            ])
            .output();
        common::assert_ok(&out);
        fx.write(name, &stdout(&out));
    }
    let out = common::Run::from(fx.fleetform())
        .args(["impact", "--base", "HEAD", "--json", "--plans-from"])
        .arg(fx.path("a.json"))
        .arg(fx.path("b.json"))
        .output();
    common::assert_ok(&out);
    let merged: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(merged["plans"]["planned"], pairs, "{merged:#}");
    assert_eq!(
        merged["plans"]["groups"].as_array().unwrap().len(),
        1,
        "{merged:#}"
    );
    assert_eq!(
        merged["plans"]["groups"][0]["members"]
            .as_array()
            .unwrap()
            .len(),
        pairs
    );
    let out = common::Run::from(fx.fleetform())
        .args(["impact", "--base", "HEAD", "--plans-from"])
        .arg(fx.path("manager/fleetform.yml"))
        .output();
    common::assert_code(&out, 2);
    assert!(
        stderr(&out).contains("not the output of `fleetform impact --plan --json`"),
        "{}",
        stderr(&out)
    );
}

/// `--comment`: one sticky comment on the manager's pull request (updated,
/// not duplicated, on the next push) and a status on its head, in three
/// requests; a change that breaks customers fails the status.
#[test]
fn the_answer_is_one_sticky_comment_and_a_status_on_the_manager_pull_request() {
    let fx = repo();
    let gh = FakeGitHub::start();
    let manager = "provider/manager";
    gh.add_repo(manager);
    gh.commit(manager, "main", &[("fleetform.yml", "version: 1\n")]);
    gh.create_branch(manager, "defaults", "main");
    let head = gh.commit(
        manager,
        "defaults",
        &[("values/staging.yml", "region: us-east-2\n")],
    );
    let pr = gh.open_pr(manager, "defaults", "main", "staging defaults");
    let staging = fx.read("manager/values/staging.yml");
    fx.write(
        "manager/values/staging.yml",
        &staging.replace("region: us-east-1", "region: us-east-2"),
    );
    let answer = |expect: i32| {
        let before = gh.requests().len();
        let out = common::Run::from(fx.fleetform())
            .env("GITHUB_API_URL", gh.api_url())
            .env("GITHUB_TOKEN", gh.token())
            .args([
                "impact",
                "--base",
                "HEAD",
                "--comment",
                "--manager-repo",
                manager,
            ])
            .args(["--pr", &pr.to_string(), "--sha", &head])
            .output();
        common::assert_code(&out, expect);
        assert!(!stdout(&out).contains(gh.token()) && !stderr(&out).contains(gh.token()));
        gh.requests().len() - before
    };
    assert_eq!(answer(0), 3, "list comments, create one, set the status");
    // What a commenting job writes (the workflow keeps it as an artifact)
    // has keys and files, never values.
    let out = common::Run::from(fx.fleetform())
        .env("GITHUB_API_URL", gh.api_url())
        .env("GITHUB_TOKEN", gh.token())
        .args([
            "impact",
            "--base",
            "HEAD",
            "--json",
            "--comment",
            "--manager-repo",
            manager,
        ])
        .args(["--pr", &pr.to_string(), "--sha", &head])
        .output();
    common::assert_ok(&out);
    let written = stdout(&out);
    assert!(
        written.contains("\"/region\"") && !written.contains("us-east-"),
        "{written}"
    );
    let comments = gh.comments(manager, pr);
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0].body.starts_with("<!-- fleetform:impact -->"),
        "{}",
        comments[0].body
    );
    assert!(
        comments[0].body.contains("`globex/staging`"),
        "{}",
        comments[0].body
    );
    // Keys and the file that set them; never a customer's values.
    assert!(
        comments[0].body.contains("`/region` (`values/staging.yml:"),
        "{}",
        comments[0].body
    );
    assert!(
        !comments[0].body.contains("us-east-"),
        "{}",
        comments[0].body
    );
    let status = gh
        .status_of(manager, &head, "fleetform/impact")
        .expect("a status");
    assert_eq!(status.state, "success");
    assert_eq!(status.description.as_deref(), Some("1 of 4 pairs change"));

    // A schema change that breaks the customers: the same comment, updated;
    // the status fails.
    let schema = fx.read("manager/schema/variables.schema.json");
    fx.write(
        "manager/schema/variables.schema.json",
        &schema.replace(
            "\"pattern\": \"^[a-z][a-z0-9-]{1,40}$\"",
            "\"pattern\": \"^x[a-z0-9-]{1,40}$\"",
        ),
    );
    assert_eq!(answer(1), 3, "list comments, update it, set the status");
    let comments = gh.comments(manager, pr);
    assert_eq!(comments.len(), 1, "updated, not duplicated");
    assert!(
        comments[0].body.contains("would stop validating"),
        "{}",
        comments[0].body
    );
    let status = gh
        .status_of(manager, &head, "fleetform/impact")
        .expect("a status");
    assert_eq!(status.state, "failure", "{status:?}");
}

/// A customer held at a manager version (`customers pin`) keeps that
/// version: its changed pairs are still compared (what the change will do
/// when the pin goes) and named as pinned, in the JSON and the text.
#[test]
fn pinned_pairs_are_named() {
    let fx = repo();
    fx.git(&["tag", "v1"]);
    let staging = fx.read("manager/values/staging.yml");
    fx.write(
        "manager/values/staging.yml",
        &staging.replace("region: us-east-1", "region: us-east-2"),
    );
    let registry = fx.read("manager/customers.yml");
    let entry = "  - slug: globex\n";
    assert!(registry.contains(entry), "{registry}");
    let pin =
        "    pins:\n      - ref: v1\n        until: 2099-01-31\n        reason: change freeze\n";
    fx.write(
        "manager/customers.yml",
        &registry.replacen(entry, &format!("{entry}{pin}"), 1),
    );
    commit(&fx, "staging defaults, globex held");
    let (code, i, err) = impact(&fx, &["--base", "HEAD~1", "--head", "HEAD"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(units(&i).contains(&"globex/staging".to_string()), "{i:#}");
    let pinned = i["pinned"].as_array().unwrap_or_else(|| panic!("{i:#}"));
    assert_eq!(pinned.len(), 1, "{i:#}");
    assert_eq!(pinned[0]["customer"], "globex", "{i:#}");
    assert_eq!(pinned[0]["environment"], "staging", "{i:#}");
    assert_eq!(pinned[0]["held_at"], "v1", "{i:#}");
    let text = common::run(&fx, &["impact", "--base", "HEAD~1", "--head", "HEAD"])
        .ok()
        .stdout;
    assert!(
        text.contains("Held at an earlier manager version (`customers pin`), so a rollout leaves out 1 changed pair: `globex/staging`."),
        "{text}"
    );
}

/// The pairs are spread over the cores (`--jobs`, default: every core);
/// the answer is the same, byte for byte and in the registry's order,
/// on one thread as on many.
#[test]
fn the_answer_is_the_same_on_one_thread_and_on_many() {
    let fx = Fixture::new();
    let mut registry = String::from("\n");
    for i in 0..48 {
        let from = ["acme", "globex"][i % 2];
        let slug = format!("c{i:02}-{from}");
        common::copy_tree(
            &fx.path(&format!("customers/{from}")),
            &fx.path(&format!("customers/{slug}")),
        );
        registry.push_str(&format!(
            "  - slug: {slug}\n    path: ../customers/{slug}\n    contact: ops@{slug}.example\n    environments: [staging, production]\n    added: 2026-05-05\n"
        ));
    }
    fx.append("manager/customers.yml", &registry);
    fx.register_invalid_customer();
    fx.git(&["init", "-q"]);
    commit(&fx, "base");
    let staging = fx.read("manager/values/staging.yml");
    fx.write(
        "manager/values/staging.yml",
        &staging.replace("region: us-east-1", "region: us-east-2"),
    );
    fx.append("manager/values/staging.yml", "min_instances: 2\n");

    let run = |form: &[&str], jobs: &str| {
        let out = common::Run::from(fx.fleetform())
            .args(["impact", "--base", "HEAD", "--show-values", "--jobs", jobs])
            .args(form)
            .output();
        (out.status.code(), stdout(&out), stderr(&out))
    };
    let forms: [&[&str]; 2] = [&["--json"], &[]];
    for form in forms {
        let one = run(form, "1");
        let many = run(form, "4");
        assert_eq!(one.1, many.1, "{form:?}: stdout differs\n{}", many.2);
        assert_eq!(one, many, "{form:?}");
        // broken-co stops validating: exit 1, and still the whole answer.
        assert_eq!(one.0, Some(1), "{}", one.2);
    }
    let (_, i, _) = impact(&fx, &["--base", "HEAD", "--jobs", "3"]);
    assert_eq!(i["pairs"], 4 + 96 + 1, "{i:#}");
    let changed = units(&i);
    let registry_order: Vec<String> = ["acme", "globex"]
        .into_iter()
        .map(String::from)
        .chain((0..48).map(|i| format!("c{i:02}-{}", ["acme", "globex"][i % 2])))
        .filter_map(|s| {
            changed
                .iter()
                .find(|u| u.starts_with(&format!("{s}/")))
                .cloned()
        })
        .collect();
    assert_eq!(changed, registry_order);
    assert!(changed.len() >= 25, "{changed:?}");
}
