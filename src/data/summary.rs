//! Plan summaries: what a saved plan does, read from `terraform show -json`.
//! Plain data; how it reads for people is `crate::report`'s job.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What one resource or output does in a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Delete,
    Replace,
    Read,
}

impl Action {
    fn from_actions(actions: &[Value]) -> Option<Action> {
        let a: Vec<&str> = actions.iter().filter_map(Value::as_str).collect();
        match a.as_slice() {
            ["create"] => Some(Action::Create),
            ["update"] => Some(Action::Update),
            ["delete"] => Some(Action::Delete),
            ["delete", "create"] | ["create", "delete"] => Some(Action::Replace),
            ["read"] => Some(Action::Read),
            _ => None, // no-op
        }
    }

    /// The action as Terraform's plan names it: `create`, `update`,
    /// `destroy`, `replace`, `read` (never a Rust name).
    pub fn word(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "destroy",
            Action::Replace => "replace",
            Action::Read => "read",
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Delete => "-",
            Action::Replace => "-/+",
            Action::Read => "<=",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceChange {
    pub address: String,
    pub action: Action,
    /// The resource type (`aws_s3_bucket`), for policy gates.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// The attribute paths that change (`/tags/team`, `/instance_type`),
    /// values left out: what makes two plans "the same change".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
    /// For a change the cloud made (a drift plan's `resource_drift`): how
    /// each top-level attribute changed, values left out but booleans
    /// (see [`super::drift_change`]). Empty for planned changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<super::drift_change::AttributeChange>,
    /// The tag keys the resource has after the change (`tags_all`, the
    /// provider's default tags included, else `tags`); none for a
    /// resource that takes no tags, or whose tags are not known yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

impl ResourceChange {
    /// The type, or the one read off the address (`module.m.type.name[0]`).
    pub fn resource_type(&self) -> &str {
        if let Some(t) = &self.resource_type {
            return t;
        }
        let mut parts: Vec<&str> = self.address.split('.').collect();
        while parts.len() > 2 && (parts[0] == "module" || parts[0] == "data") {
            parts.drain(..if parts[0] == "module" { 2 } else { 1 });
        }
        parts.first().copied().unwrap_or("")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputChange {
    pub name: String,
    pub action: Action,
}

/// Counts and addresses of a plan. `plan_sha256` binds it to the plan file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSummary {
    /// The plan's cost estimate (Infracost, a policy tool), when one ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<super::cost::CostEstimate>,
    pub customer: String,
    pub environment: String,
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    pub replace: usize,
    pub resources: Vec<ResourceChange>,
    pub outputs: Vec<OutputChange>,
    pub has_changes: bool,
    pub plan_sha256: String,
    pub state_key: String,
    /// The customer commit planned, when known.
    #[serde(default)]
    pub sha: Option<String>,
    /// Policy gates evaluated after the plan.
    #[serde(default)]
    pub gates: Option<super::verdict::Verdict>,
    /// The product, for a manager with `products:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<ProductFacts>,
    /// The cloud identities this customer × environment is planned and
    /// applied with (fleetform.yml's `identity:` and the registry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<crate::config::cloud::StageIdentities>,
    /// The plan was made with a lock file whose checksums were dropped
    /// after `init` checked them (see `terraform::lockfile`): the apply's
    /// working copy drops them the same way, so Terraform finds the two
    /// lock files equal. Absent in plans made before, which keep them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lock_checksums_dropped: bool,
    /// The plan starts from a state without managed resources: the pair
    /// was never applied (or everything was destroyed), so its changes
    /// are a first apply, not drift. Set only for plans with changes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub never_applied: bool,
    /// What changed outside Terraform since the last apply, as the plan's
    /// refresh found it (`resource_drift`): each resource and the paths of
    /// its changed attributes, values left out. A change in `resources`
    /// of an address not listed here comes from the configuration (edits
    /// not applied yet), not from the cloud.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cloud_drift: Vec<ResourceChange>,
    /// A targeted plan's `-replace`/`-target` addresses, who asked and
    /// why; its apply records them. `-destroy` for an offboarding's plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targeting: Option<Targeting>,
    /// The customer's pin this plan was made at (the manager's code and
    /// defaults at its ref, not the head's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<crate::config::pins::Pin>,
    /// The customer's secrets this plan handed to Terraform: each one's
    /// source and age, never its value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretAge>,
    /// The engine's version that made the plan (`terraform_version` of
    /// `show -json`, which OpenTofu writes too): a saved plan applies only
    /// with that exact version (`internal/plans/planfile/tfplan.go`), so
    /// the apply refuses another before the engine does, naming this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_version: Option<String>,
}

/// One customer secret as everything but Terraform sees it: its name,
/// where it comes from (`file#key`) and how old it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretAge {
    pub name: String,
    /// `infra/secrets.<environment>.yml#<name>`.
    pub source: String,
    /// Days since its `updated:` date (none when the file gives none).
    pub age_days: Option<i64>,
    /// Older than the environment's `secrets.max_age_days`, or of unknown
    /// age under such a policy.
    pub stale: bool,
    /// The environment's `secrets.max_age_days`, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_days: Option<u32>,
    /// Kept in the plan file and the state, as Terraform keeps every
    /// sensitive variable's value: its variable is not `ephemeral`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stored: bool,
}

/// What made a plan other than a plain one (`plan --replace/--target`,
/// an offboarding's destroy, a drift repair), with the actor and the
/// reason given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Targeting {
    /// A drift repair (`fleetform repair`): a whole plan of the pair, made
    /// to put the cloud back to what was last applied; no flags.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub repair: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replace: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub destroy: bool,
    /// The plan after a restore (`fleetform state restore`): the version
    /// of the state restored; a whole plan of the pair, no flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored: Option<String>,
    pub reason: String,
    pub actor: String,
}

impl Targeting {
    /// Terraform's flags for it, each one argument.
    pub fn flags(&self) -> Vec<String> {
        let mut f: Vec<String> = self
            .replace
            .iter()
            .map(|a| format!("-replace={a}"))
            .collect();
        f.extend(self.target.iter().map(|a| format!("-target={a}")));
        if self.destroy {
            f.push("-destroy".into());
        }
        f
    }
}

/// What a product's plan took from the products it needs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductFacts {
    pub name: String,
    /// Variable → `<product>.<output>` it was passed from.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inputs: BTreeMap<String, String>,
    /// SHA-256 of the passed values (canonical JSON): an apply refuses
    /// the plan when the outputs changed since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs_sha256: Option<String>,
    /// Needed products whose plans for this customer × environment change
    /// outputs: this plan uses their current outputs and must be made
    /// again once they are applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub awaiting: Vec<String>,
}

/// One entry of `resource_changes` or `resource_drift`: its address, action,
/// type and changed attribute paths (`None` for an action fleetform does
/// not count, a no-op).
fn resource_change(rc: &Value) -> Option<ResourceChange> {
    let actions = rc.pointer("/change/actions").and_then(Value::as_array)?;
    Some(ResourceChange {
        action: Action::from_actions(actions)?,
        address: rc
            .get("address")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string(),
        resource_type: rc.get("type").and_then(Value::as_str).map(str::to_string),
        changed: changed_paths(rc.get("change").unwrap_or(&Value::Null)),
        kinds: Vec::new(),
        tags: tag_keys(rc.get("change").unwrap_or(&Value::Null)),
    })
}

/// The tag keys of a change's `after`: `tags_all` when known (it holds
/// the provider's `default_tags`), else `tags` (`null`: none); none when
/// the resource has neither attribute.
fn tag_keys(change: &Value) -> Option<Vec<String>> {
    let after = change.get("after")?.as_object()?;
    let keys = |v: &Value| -> Option<Vec<String>> {
        match v {
            Value::Object(m) => Some(m.keys().cloned().collect()),
            Value::Null => Some(Vec::new()),
            _ => None,
        }
    };
    let unknown =
        |k: &str| change.pointer(&format!("/after_unknown/{k}")) == Some(&Value::Bool(true));
    if let Some(all) = after.get("tags_all").filter(|_| !unknown("tags_all")) {
        if let Some(k) = keys(all).filter(|k| !k.is_empty()) {
            return Some(k);
        }
    }
    after
        .get("tags")
        .filter(|_| !unknown("tags"))
        .and_then(keys)
}

/// Whether a state in `show -json`'s shape (`values.root_module`, its
/// `child_modules`) holds a managed resource; data sources do not count.
fn has_managed_resources(state: Option<&Value>) -> bool {
    fn module(m: &Value) -> bool {
        let managed = m
            .get("resources")
            .and_then(Value::as_array)
            .is_some_and(|rs| {
                rs.iter()
                    .any(|r| r.get("mode").and_then(Value::as_str) != Some("data"))
            });
        managed
            || m.get("child_modules")
                .and_then(Value::as_array)
                .is_some_and(|cs| cs.iter().any(module))
    }
    state
        .and_then(|s| s.pointer("/values/root_module"))
        .is_some_and(module)
}

impl PlanSummary {
    /// A plan of `customer` × `environment` that changes nothing: no
    /// counts, resources, outputs, digest or state key yet; whoever makes a
    /// plan sets what it found (`..PlanSummary::of(customer, environment)`).
    pub fn of(customer: &str, environment: &str) -> Self {
        PlanSummary {
            cost: None,
            customer: customer.into(),
            environment: environment.into(),
            create: 0,
            update: 0,
            delete: 0,
            replace: 0,
            resources: Vec::new(),
            outputs: Vec::new(),
            has_changes: false,
            plan_sha256: String::new(),
            state_key: String::new(),
            sha: None,
            gates: None,
            product: None,
            identity: None,
            lock_checksums_dropped: false,
            pin: None,
            never_applied: false,
            cloud_drift: Vec::new(),
            targeting: None,
            secrets: Vec::new(),
            engine_version: None,
        }
    }

    /// Builds the summary from `terraform show -json` output.
    pub fn from_show_json(
        json: &Value,
        customer: &str,
        environment: &str,
        state_key: &str,
        plan_sha256: &str,
        has_changes: bool,
    ) -> Self {
        let mut s = PlanSummary {
            has_changes,
            plan_sha256: plan_sha256.into(),
            state_key: state_key.into(),
            never_applied: has_changes && !has_managed_resources(json.get("prior_state")),
            engine_version: json
                .get("terraform_version")
                .and_then(Value::as_str)
                .map(str::to_string),
            ..PlanSummary::of(customer, environment)
        };
        let empty = Vec::new();
        s.resources = json
            .get("resource_changes")
            .and_then(Value::as_array)
            .unwrap_or(&empty)
            .iter()
            .filter_map(resource_change)
            .collect();
        for r in &s.resources {
            match r.action {
                Action::Create => s.create += 1,
                Action::Update => s.update += 1,
                Action::Delete => s.delete += 1,
                Action::Replace => s.replace += 1,
                Action::Read => {}
            }
        }
        s.cloud_drift = json
            .get("resource_drift")
            .and_then(Value::as_array)
            .unwrap_or(&empty)
            .iter()
            .filter_map(|rc| {
                let mut r = resource_change(rc)?;
                if r.action == Action::Update {
                    r.kinds = super::drift_change::attribute_changes(
                        rc.get("change").unwrap_or(&Value::Null),
                    );
                }
                Some(r)
            })
            .collect();
        if let Some(outs) = json.get("output_changes").and_then(Value::as_object) {
            for (name, oc) in outs {
                let actions = oc
                    .get("actions")
                    .and_then(Value::as_array)
                    .unwrap_or(&empty);
                if let Some(action) = Action::from_actions(actions) {
                    s.outputs.push(OutputChange {
                        name: name.clone(),
                        action,
                    });
                }
            }
        }
        s
    }

    /// `+2 ~1 -0` (replacements count as one add and one destroy, as
    /// Terraform counts them).
    pub fn counts(&self) -> String {
        format!(
            "+{} ~{} -{}",
            self.create + self.replace,
            self.update,
            self.delete + self.replace
        )
    }

    /// One line, as in a commit status: `staging: +2 ~1 -0`.
    pub fn headline(&self) -> String {
        if self.has_changes && self.resources.is_empty() {
            format!("{}: {} (outputs only)", self.environment, self.counts())
        } else {
            format!("{}: {}", self.environment, self.counts())
        }
    }
}

/// The attribute paths a change touches: where `before` and `after`
/// differ, and what is known only after apply, as JSON pointers (list
/// indexes kept; at most 200 paths).
fn changed_paths(change: &Value) -> Vec<String> {
    fn walk(
        before: &Value,
        after: &Value,
        unknown: &Value,
        at: &mut String,
        out: &mut Vec<String>,
    ) {
        if out.len() >= 200 {
            return;
        }
        if unknown == &Value::Bool(true) {
            out.push(at.clone());
            return;
        }
        let empty = serde_json::Map::new();
        // A created (or destroyed) object is compared with an empty one.
        fn as_map<'a>(
            v: &'a Value,
            other: &Value,
            empty: &'a serde_json::Map<String, Value>,
        ) -> Option<&'a serde_json::Map<String, Value>> {
            match (v, other) {
                (Value::Object(m), _) => Some(m),
                (Value::Null, Value::Object(_)) => Some(empty),
                _ => None,
            }
        }
        if let (Some(b), Some(a)) = (as_map(before, after, &empty), as_map(after, before, &empty)) {
            let u = unknown.as_object().unwrap_or(&empty);
            let keys: std::collections::BTreeSet<&String> =
                b.keys().chain(a.keys()).chain(u.keys()).collect();
            for k in keys {
                let len = at.len();
                at.push('/');
                at.push_str(&k.replace('~', "~0").replace('/', "~1"));
                walk(
                    b.get(k).unwrap_or(&Value::Null),
                    a.get(k).unwrap_or(&Value::Null),
                    u.get(k).unwrap_or(&Value::Null),
                    at,
                    out,
                );
                at.truncate(len);
            }
            return;
        }
        match (before, after) {
            (Value::Array(b), Value::Array(a)) if b.len() == a.len() => {
                for i in 0..a.len() {
                    let len = at.len();
                    at.push_str(&format!("/{i}"));
                    walk(
                        &b[i],
                        &a[i],
                        unknown.get(i).unwrap_or(&Value::Null),
                        at,
                        out,
                    );
                    at.truncate(len);
                }
            }
            (b, a) if b != a => out.push(at.clone()),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(
        change.get("before").unwrap_or(&Value::Null),
        change.get("after").unwrap_or(&Value::Null),
        change.get("after_unknown").unwrap_or(&Value::Null),
        &mut String::new(),
        &mut out,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with_prior(prior: Value) -> PlanSummary {
        let plan = json!({
            "prior_state": prior,
            "resource_changes": [{"address": "a.b", "type": "a", "change": {"actions": ["create"]}}],
        });
        PlanSummary::from_show_json(&plan, "c", "e", "k", "d", true)
    }

    /// A plan from a state without managed resources is a first apply;
    /// data sources read into the state do not make it applied.
    #[test]
    fn never_applied_is_a_state_without_managed_resources() {
        assert!(with_prior(json!({"values": {"root_module": {}}})).never_applied);
        assert!(with_prior(Value::Null).never_applied);
        let data = json!({"values": {"root_module": {"resources": [{"mode": "data"}]}}});
        assert!(with_prior(data).never_applied);
        let managed = json!({"values": {"root_module": {"child_modules": [
            {"resources": [{"mode": "managed"}]}
        ]}}});
        assert!(!with_prior(managed).never_applied);
        let no_changes = PlanSummary::from_show_json(&json!({}), "c", "e", "k", "d", false);
        assert!(!no_changes.never_applied);
    }
}
