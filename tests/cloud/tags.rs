//! Cost-allocation tags, enforced (#86 point 1), on the test cloud with
//! real Terraform: a root module that declares `variable "fleetform"`
//! gets the pair's identity (customer, product, environment, manager
//! commit) and tags its resources with it, and `require_tags` refuses a
//! plan whose created or updated resources that take tags lack one;
//! resources that take no tags are not counted.

use crate::cloud::real::{Cloud, MODULE};

/// The example module with the pair's identity in its tags, but for the
/// bucket (untagged) unless `bucket_tagged`.
fn module(bucket_tagged: bool) -> String {
    let identity = "merge(var.tags, { customer = var.fleetform.customer, environment = var.fleetform.environment, product = var.fleetform.product })";
    let mut m = MODULE.replace("  tags  = var.tags\n", &format!("  tags  = {identity}\n"));
    m = m.replace(
        "  tags          = var.tags\n",
        &format!("  tags          = {identity}\n"),
    );
    if bucket_tagged {
        m = m.replace(
            "  versioning = true\n",
            &format!("  versioning = true\n  tags       = {identity}\n"),
        );
    }
    m.push_str(
        "\nvariable \"fleetform\" {\n  type = object({ customer = string, product = string, environment = string, manager_commit = string })\n}\n\n# Takes no tags: never counted.\nresource \"terraform_data\" \"marker\" {\n  input = var.fleetform.manager_commit\n}\n",
    );
    m
}

fn plan(cloud: &Cloud) -> serde_json::Value {
    let out = cloud
        .fleetform()
        .args(["plan", "--customer", "acme", "--env", "staging", "--json"])
        .code(0);
    let rows: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    rows[0]["summary"].clone()
}

fn tag_gate(summary: &serde_json::Value) -> serde_json::Value {
    summary["gates"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["gate"] == "require_tags")
        .cloned()
        .unwrap_or_else(|| panic!("no require_tags gate: {summary}"))
}

#[test]
fn resources_that_take_tags_carry_the_pairs_identity_or_the_plan_is_blocked() {
    let cloud = Cloud::new();
    cloud.fx.write("manager/terraform/main.tf", &module(false));
    cloud.fx.append(
        "manager/fleetform.yml",
        "\npolicies:\n  default:\n    require_tags: [customer, environment]\n",
    );
    let s = plan(&cloud);
    let gate = tag_gate(&s);
    assert_eq!(gate["passed"], false, "{gate}");
    let detail = gate["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("1 resource of ")
            && detail.contains("lack tags: fakecloud_bucket.logs (no customer, environment)"),
        "{detail}"
    );
    assert!(!detail.contains("terraform_data"), "{detail}");
    // The identity reached Terraform: the instance is tagged with it.
    let plan_text = cloud
        .fx
        .read("manager/.fleetform/out/acme/staging/plan.txt");
    assert!(
        plan_text.contains("\"customer\"    = \"acme\"")
            || plan_text.contains("customer    = \"acme\""),
        "{plan_text}"
    );

    cloud.fx.write("manager/terraform/main.tf", &module(true));
    let s = plan(&cloud);
    let gate = tag_gate(&s);
    assert_eq!(gate["passed"], true, "{gate}");
    assert!(
        gate["detail"]
            .as_str()
            .unwrap()
            .ends_with("tagged customer, environment"),
        "{gate}"
    );
}
