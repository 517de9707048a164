//! The manager job's step summary of a plan: one section per environment,
//! with that environment's own gates, written so that anyone who can read
//! the manager repo learns nothing of the customer's values: Terraform's
//! counts, the commit, the digest and the gates by name and verdict. The
//! plan itself (addresses and values) is on the customer's pull request.

use super::markdown::md_code;
use crate::data::summary::PlanSummary;

/// One environment's section.
pub fn manager_plan(customer: &str, env: &str, sha: &str, s: &PlanSummary) -> String {
    let mut out = format!(
        "### fleetform plan: {} / {}\n\n",
        md_code(customer),
        md_code(env)
    );
    if s.has_changes {
        out.push_str(&format!("**{}**", super::comment::totals(s)));
    } else {
        out.push_str("**No changes.**");
    }
    out.push_str(&format!(
        " at commit `{}`\n\n",
        sha.get(..12).unwrap_or(sha)
    ));
    out.push_str(&format!("**Plan digest:** `sha256:{}`\n\n", s.plan_sha256));
    if let Some(v) = s.gates.as_ref().filter(|v| !v.results.is_empty()) {
        let verdict = super::comment::verdict(v);
        let marks: Vec<String> = v
            .results
            .iter()
            .map(|r| format!("{} {}", super::comment::mark(r), md_code(&r.gate)))
            .collect();
        out.push_str(&format!("**Gates: {verdict}** · {}\n\n", marks.join(" · ")));
    }
    out.push_str("The plan itself is on the customer's pull request; its files travel in the sealed artifact.\n\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::verdict::{GateResult, Verdict};

    fn summary(env: &str, gates: Option<Verdict>) -> PlanSummary {
        PlanSummary {
            customer: "acme".into(),
            environment: env.into(),
            create: 1,
            update: 0,
            delete: 1,
            replace: 1,
            resources: Vec::new(),
            outputs: Vec::new(),
            has_changes: true,
            plan_sha256: "ab".repeat(32),
            state_key: "k".into(),
            sha: None,
            gates,
            product: None,
            identity: None,
            lock_checksums_dropped: false,
            pin: None,
            never_applied: false,
        }
    }

    #[test]
    fn each_environment_has_its_own_gates_and_no_details() {
        let blocked = Verdict {
            results: vec![GateResult {
                gate: "forbidden_resource_types".into(),
                passed: false,
                waived: false,
                skipped: false,
                detail: "changes forbidden types: aws_iam_role.secret_value".into(),
                ..GateResult::default()
            }],
            waiver: None,
        };
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let staging = manager_plan("acme", "staging", sha, &summary("staging", None));
        let production = manager_plan(
            "acme",
            "production",
            sha,
            &summary("production", Some(blocked)),
        );
        assert!(!staging.contains("Gates"), "{staging}");
        assert!(
            production.contains(
                "**Gates: blocked by `forbidden_resource_types`** · ❌ `forbidden_resource_types`"
            ),
            "{production}"
        );
        assert!(
            !production.contains("secret_value"),
            "gate details can hold values: {production}"
        );
        assert!(
            production.contains("**Plan: 2 to add, 0 to change, 2 to destroy (1 replacement"),
            "{production}"
        );
        assert!(
            production.contains(&format!("**Plan digest:** `sha256:{}`", "ab".repeat(32))),
            "{production}"
        );
        assert!(
            !production.contains("](http"),
            "no link to itself: {production}"
        );
    }
}
