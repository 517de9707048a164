//! The fleet-wide impact of a manager change: its data (filled by
//! `fleet::impact`), the grouping of the affected pairs' plans and the
//! status on the pull request. What people read of it is rendered by
//! `impact_comment`.

use serde::Serialize;
use serde_json::Value;

use crate::config::Unit;
use crate::data::Diagnostic;

/// One variable that changes.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ValueChange {
    /// JSON pointer of the variable (`/instance_type`, `/tags/team`).
    pub key: String,
    pub old: Option<Value>,
    pub new: Option<Value>,
    /// The file (and position) that sets the new value, or set the old one.
    pub file: Option<String>,
}

/// What changes for one pair.
#[derive(Debug, Clone, Serialize)]
pub struct PairImpact {
    #[serde(flatten)]
    pub unit: Unit,
    /// The pair does not exist at the base (new product, environment).
    pub new: bool,
    pub values: Vec<ValueChange>,
    /// The product's root module, lock file or backend changed.
    pub module: bool,
    /// Where the customer's files came from: `deployment record` or `local`.
    pub files_from: String,
}

/// A customer whose files would stop validating at the head.
#[derive(Debug, Clone, Serialize)]
pub struct Broken {
    pub customer: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// The environments of the customer's product that break (none
    /// known: a file that cannot be read breaks them all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<String>,
    pub problems: Vec<Diagnostic>,
}

/// A pair held at a manager version while the fleet moves on.
#[derive(Debug, Clone, Serialize)]
pub struct Pinned {
    #[serde(flatten)]
    pub unit: Unit,
    /// The manager revision it is held at.
    pub held_at: String,
    pub until: String,
}

/// The whole answer.
#[derive(Debug, Clone, Serialize)]
pub struct Impact {
    pub base: String,
    pub head: String,
    /// Pairs looked at (active customers × their products × environments).
    pub pairs: usize,
    /// Pairs that change, in registry order.
    pub changed: Vec<PairImpact>,
    pub broken: Vec<Broken>,
    /// Products whose root module, lock file or backend changed.
    pub modules: Vec<String>,
    /// Customers whose files could not be read (not planned either way).
    pub unreadable: Vec<Broken>,
    /// Changed pairs held at a manager version (`customers pin`): they
    /// keep that version until the pin goes (a rollout leaves them out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pinned: Vec<Pinned>,
    /// With `--plan`: the affected pairs planned at the head, grouped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plans: Option<Plans>,
}

/// The affected pairs' plans, grouped by what they do.
#[derive(Debug, Clone, Serialize, serde::Deserialize, Default)]
pub struct Plans {
    pub planned: usize,
    pub groups: Vec<PlanGroup>,
    /// Pairs whose plan failed, with why.
    pub failed: Vec<(Unit, String)>,
    /// Pairs not planned because they have secrets, which a preview of an
    /// unreviewed change never decrypts (not a failure), with why.
    #[serde(default)]
    pub withheld: Vec<(Unit, String)>,
    /// What else differs for a planned pair, apart from the manager's
    /// change (drift, the customer's own pending edit): never in `groups`.
    #[serde(default)]
    pub apart: Vec<Apart>,
}

/// What differs for one pair besides the manager's change, labelled as
/// such: the plans compare the same customer files (as last applied)
/// under the manager's base and head, so neither shows as the change's.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Apart {
    #[serde(flatten)]
    pub unit: Unit,
    /// What the base's plan already changes because the cloud changed
    /// outside Terraform since the last apply (its refresh found it):
    /// drift, and only that.
    #[serde(default)]
    pub drift: Vec<crate::data::summary::ResourceChange>,
    /// What the base's plan already changes without any drift in the
    /// cloud: the manager's base (or a customer file as planned) is ahead
    /// of the pair's last apply, not applied yet. Not drift.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub behind: Vec<crate::data::summary::ResourceChange>,
    /// Customer files whose checkout differs from what was applied: the
    /// customer's own change, not yet applied, not planned here.
    #[serde(default)]
    pub pending: Vec<String>,
}

/// Pairs whose plans do the same: the same actions on the same resource
/// addresses touching the same attribute paths.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct PlanGroup {
    pub members: Vec<Unit>,
    /// What each member's plan does.
    pub resources: Vec<crate::data::summary::ResourceChange>,
    /// The largest counts among the members.
    pub most_destroyed: usize,
    pub most_replaced: usize,
    /// The gates' verdicts among the members (`gates 3/3`, `blocked by max_destroy`).
    pub gates: Vec<String>,
    /// The members the gates block, each with its verdict.
    #[serde(default)]
    pub blocked: Vec<(Unit, String)>,
    /// The representative member's plan folder.
    pub plan_dir: String,
    /// The members' estimated change per month summed (Infracost, when a
    /// gate ran it): the group's total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<crate::data::cost::CostSum>,
}

impl PlanGroup {
    /// The gates' verdicts as one phrase: `gates 2/2`, `blocked by x,
    /// gates 2/2`; pairs whose plan ran no gate said apart (`gates 2/2;
    /// no gates for some pairs`), never "no gates, gates 2/2".
    pub fn gates_phrase(&self) -> String {
        let ran: Vec<&str> = self
            .gates
            .iter()
            .map(String::as_str)
            .filter(|g| *g != NO_GATES)
            .collect();
        let none = ran.len() < self.gates.len();
        match (ran.is_empty(), none) {
            (true, _) => NO_GATES.into(),
            (false, false) => ran.join(", "),
            (false, true) => format!("{}; no gates for some pairs", ran.join(", ")),
        }
    }
}

/// The verdict of a plan that ran no gate.
const NO_GATES: &str = "no gates";

/// Groups planned pairs by what their plans do; the biggest group first.
pub fn group_plans(
    planned: Vec<(Unit, crate::data::summary::PlanSummary, String)>,
) -> Vec<PlanGroup> {
    type Key = Vec<(String, String, Vec<String>)>;
    let mut groups: Vec<(Key, PlanGroup)> = Vec::new();
    for (unit, s, dir) in planned {
        let mut key: Key = s
            .resources
            .iter()
            .map(|r| {
                (
                    r.address.clone(),
                    r.action.word().to_string(),
                    r.changed.clone(),
                )
            })
            .collect();
        key.sort();
        let verdict = s
            .gates
            .as_ref()
            .map(|v| v.short())
            .unwrap_or_else(|| NO_GATES.into());
        let blocked = verdict
            .starts_with("blocked")
            .then(|| (unit.clone(), verdict.clone()));
        let cost = crate::data::cost::CostSum::of([s.cost.as_ref()]);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, g)) => {
                g.cost = match (g.cost.take(), s.cost.as_ref()) {
                    (None, None) => None,
                    // Members before this one had no estimate.
                    (None, Some(_)) => cost.map(|mut c| {
                        c.unpriced += g.members.len();
                        c
                    }),
                    (Some(mut c), e) => {
                        c.add(e);
                        Some(c)
                    }
                };
                g.blocked.extend(blocked);
                g.members.push(unit);
                g.most_destroyed = g.most_destroyed.max(s.delete + s.replace);
                g.most_replaced = g.most_replaced.max(s.replace);
                if !g.gates.contains(&verdict) {
                    g.gates.push(verdict);
                }
            }
            None => groups.push((
                key,
                PlanGroup {
                    members: vec![unit],
                    resources: s.resources.clone(),
                    most_destroyed: s.delete + s.replace,
                    most_replaced: s.replace,
                    gates: vec![verdict],
                    blocked: blocked.into_iter().collect(),
                    plan_dir: dir,
                    cost,
                },
            )),
        }
    }
    let mut out: Vec<PlanGroup> = groups.into_iter().map(|(_, g)| g).collect();
    out.sort_by_key(|g| std::cmp::Reverse(g.members.len()));
    out
}

/// The plans of several shards as one: groups with the same resource
/// changes are merged (members joined, the largest counts, every verdict).
pub fn merge_plans(shards: Vec<Plans>) -> Plans {
    let mut out = Plans::default();
    for p in shards {
        out.planned += p.planned;
        out.failed.extend(p.failed);
        out.withheld.extend(p.withheld);
        out.apart.extend(p.apart);
        for g in p.groups {
            match out.groups.iter_mut().find(|o| o.resources == g.resources) {
                Some(o) => {
                    o.cost =
                        merge_costs((o.cost.take(), o.members.len()), (g.cost, g.members.len()));
                    o.members.extend(g.members);
                    o.blocked.extend(g.blocked);
                    o.most_destroyed = o.most_destroyed.max(g.most_destroyed);
                    o.most_replaced = o.most_replaced.max(g.most_replaced);
                    for v in g.gates {
                        if !o.gates.contains(&v) {
                            o.gates.push(v);
                        }
                    }
                }
                None => out.groups.push(g),
            }
        }
    }
    out.groups
        .sort_by_key(|g| std::cmp::Reverse(g.members.len()));
    out
}

/// Two groups' sums as one; the members of a group without any estimate
/// count as plans without one.
fn merge_costs(
    (a, a_members): (Option<crate::data::cost::CostSum>, usize),
    (b, b_members): (Option<crate::data::cost::CostSum>, usize),
) -> Option<crate::data::cost::CostSum> {
    let none = |n: usize| crate::data::cost::CostSum {
        unpriced: n,
        ..Default::default()
    };
    match (a, b) {
        (None, None) => None,
        (Some(mut a), b) => {
            a.merge(&b.unwrap_or_else(|| none(b_members)));
            Some(a)
        }
        (None, Some(b)) => {
            let mut a = none(a_members);
            a.merge(&b);
            Some(a)
        }
    }
}

/// Why a changed pair that no shard answered for has no plan.
pub const UNANSWERED: &str =
    "no plan: its shard gave no answer (it failed or was cancelled; see the run's plan jobs)";

/// Lists each changed pair that no shard planned nor reported failed as
/// failed ([`UNANSWERED`]), so a lost shard shows in the answer.
pub fn unanswered(plans: &mut Plans, changed: &[PairImpact]) {
    let answered: std::collections::BTreeSet<&Unit> = plans
        .groups
        .iter()
        .flat_map(|g| &g.members)
        .chain(plans.failed.iter().map(|(u, _)| u))
        .chain(plans.withheld.iter().map(|(u, _)| u))
        .collect();
    let missing: Vec<(Unit, String)> = changed
        .iter()
        .filter(|p| !answered.contains(&p.unit))
        .map(|p| (p.unit.clone(), UNANSWERED.to_string()))
        .collect();
    plans.failed.extend(missing);
}

impl Impact {
    /// The answer without the values (old and new) and without schema
    /// messages (which may quote a value): what may be kept where every
    /// reader of the manager repo can read it, like a workflow artifact.
    pub fn without_values(mut self) -> Impact {
        for p in &mut self.changed {
            for v in &mut p.values {
                v.old = None;
                v.new = None;
            }
        }
        for b in self.broken.iter_mut().chain(self.unreadable.iter_mut()) {
            for d in &mut b.problems {
                d.message =
                    "fails the head schema (run impact --show-values locally for the message)"
                        .into();
            }
        }
        // Resource addresses carry `for_each` keys, which can be customer
        // values: the manager's readers see them opaque, as in drift
        // issues and the rollout's summaries.
        if let Some(p) = &mut self.plans {
            // A failure reason can quote a customer value (`Error: invalid
            // value "…"`): its class only.
            for (_, why) in &mut p.failed {
                *why = super::opaque::failure(why, &[UNANSWERED, "not planned"]);
            }
            for g in &mut p.groups {
                g.resources = super::opaque::resources(&g.resources);
            }
            for a in &mut p.apart {
                a.drift = super::opaque::resources(&a.drift);
                a.behind = super::opaque::resources(&a.behind);
            }
        }
        self
    }
}

/// The status on the pull request's head: state and description.
pub fn verdict(i: &Impact) -> (&'static str, String) {
    let failed = i.plans.as_ref().map_or(0, |p| p.failed.len());
    let blocked = i.plans.as_ref().map_or(0, |p| {
        p.groups.iter().map(|g| g.blocked.len()).sum::<usize>()
    });
    if !i.broken.is_empty() || failed > 0 || blocked > 0 {
        return (
            "failure",
            format!(
                "{} would break, {} failed, {} blocked by gates",
                crate::util::text::count(i.broken.len(), "customer", "customers"),
                crate::util::text::count(failed, "plan", "plans"),
                crate::util::text::count(blocked, "pair", "pairs")
            ),
        );
    }
    (
        "success",
        format!("{} of {} pairs change", i.changed.len(), i.pairs),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(gates: &[&str]) -> PlanGroup {
        PlanGroup {
            members: Vec::new(),
            resources: Vec::new(),
            most_destroyed: 0,
            most_replaced: 0,
            gates: gates.iter().map(|g| g.to_string()).collect(),
            blocked: Vec::new(),
            plan_dir: String::new(),
            cost: None,
        }
    }

    /// A group's cost is its members' changes summed; a member without an
    /// estimate is counted apart, and shards merge their sums.
    #[test]
    fn a_groups_cost_is_its_members_changes_summed() {
        use crate::data::cost::CostEstimate;
        let member = |c: &str, diff: Option<&str>| {
            let mut s = crate::data::summary::PlanSummary::of(c, "staging");
            s.cost = diff.map(|d| CostEstimate {
                currency: "USD".into(),
                monthly: Some("100".into()),
                past_monthly: None,
                diff_monthly: Some(d.into()),
                basis: None,
            });
            (Unit::new(c, None, "staging"), s, String::new())
        };
        let groups = group_plans(vec![
            member("a", None),
            member("b", Some("1361.3075")),
            member("c", Some("1361.3075")),
        ]);
        assert_eq!(groups.len(), 1);
        let cost = groups[0].cost.as_ref().unwrap();
        assert_eq!(cost.text(), "+$2,722.62/month; 1 plan without an estimate");
        let shard = |g: Vec<PlanGroup>| Plans {
            planned: g.len(),
            groups: g,
            ..Plans::default()
        };
        let merged = merge_plans(vec![
            shard(groups),
            shard(group_plans(vec![member("d", Some("-1"))])),
        ]);
        assert_eq!(
            merged.groups[0].cost.as_ref().unwrap().text(),
            "+$2,721.62/month; 1 plan without an estimate"
        );
    }

    /// Issue #52: never "no gates, gates 2/2".
    #[test]
    fn pairs_without_gates_are_said_apart() {
        assert_eq!(group(&["gates 2/2"]).gates_phrase(), "gates 2/2");
        assert_eq!(group(&["no gates"]).gates_phrase(), "no gates");
        assert_eq!(
            group(&["no gates", "gates 2/2"]).gates_phrase(),
            "gates 2/2; no gates for some pairs"
        );
        assert_eq!(
            group(&["gates 2/2", "blocked by max_destroy"]).gates_phrase(),
            "gates 2/2, blocked by max_destroy"
        );
    }
}
