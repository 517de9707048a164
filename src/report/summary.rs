//! The manager job's step summary of a plan: one section per environment,
//! with that environment's own gates, written so that anyone who can read
//! the manager repo learns nothing of the customer's values: Terraform's
//! counts, the commit, the digest and the gates by name and verdict. The
//! plan itself (addresses and values) is on the customer's pull request.

use super::markdown::md_code;
use crate::data::summary::PlanSummary;

/// The customer's pull request a plan is for: its repo and number, and
/// the GitHub it is on (`GITHUB_SERVER_URL`).
#[derive(Debug, Clone, Copy)]
pub struct PullRef<'a> {
    pub server_url: &'a str,
    pub repo: &'a str,
    pub number: u64,
}

impl PullRef<'_> {
    /// `[owner/repo#12](https://github.com/owner/repo/pull/12)`.
    pub fn link(&self) -> String {
        super::markdown::link(
            &format!("{}#{}", self.repo, self.number),
            &format!(
                "{}/{}/pull/{}",
                self.server_url.trim_end_matches('/'),
                self.repo,
                self.number
            ),
        )
    }
}

/// The step summary of a refused run (a dispatch, an apply, a comment
/// command): what was refused and why, that nothing ran, and where to
/// look next. Never empty: a refused run's summary says it was refused.
pub fn refused(what: &str, why: &str, customer: Option<&str>) -> String {
    let whose = customer
        .map(|c| format!(" for {}", md_code(c)))
        .unwrap_or_default();
    format!(
        "> [!WARNING]\n> **fleetform {what}{whose}: refused.** {}\n\nNothing was planned or applied, and nothing was written to the customer's repository. **Next step:** fix what the reason names, then trigger the run again (a new push, pull request update or comment command); the audit log keeps this refusal.\n",
        // fleetform's own quoting as code, never a literal backtick.
        super::doctor::md_text(why)
    )
}

/// One environment's section: the counts at the commit, the digest, the
/// gates (one verdict, each gate once) and where the plan itself is.
pub fn manager_plan(
    customer: &str,
    env: &str,
    sha: &str,
    s: &PlanSummary,
    pull: Option<PullRef<'_>>,
) -> String {
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
        let marks: Vec<String> = v
            .results
            .iter()
            .map(|r| {
                let na = if r.skipped && !r.passed && !r.waived {
                    " (not applicable)"
                } else {
                    ""
                };
                format!("{} {}{na}", super::comment::mark(r), md_code(&r.gate))
            })
            .collect();
        out.push_str(&format!(
            "**Gates: {}** · {}\n\n",
            super::comment::verdict_word(v),
            marks.join(" · ")
        ));
    }
    match pull {
        Some(p) => out.push_str(&format!(
            "The plan itself (addresses and values) is on the customer's pull request {}; its files travel in the sealed artifact.\n\n",
            p.link()
        )),
        None => out.push_str("The plan itself (addresses and values) is in the sealed artifact; no pull request was named in the dispatch.\n\n"),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::verdict::{GateResult, Verdict};

    fn summary(env: &str, gates: Option<Verdict>) -> PlanSummary {
        PlanSummary {
            create: 1,
            delete: 1,
            replace: 1,
            has_changes: true,
            plan_sha256: "ab".repeat(32),
            state_key: "k".into(),
            gates,
            ..PlanSummary::of("acme", env)
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
        let pull = PullRef {
            server_url: "https://github.com",
            repo: "acme-corp/acme-infra",
            number: 12,
        };
        let staging = manager_plan("acme", "staging", sha, &summary("staging", None), None);
        let production = manager_plan(
            "acme",
            "production",
            sha,
            &summary("production", Some(blocked)),
            Some(pull),
        );
        assert!(!staging.contains("Gates"), "{staging}");
        assert!(staging.contains("no pull request was named"), "{staging}");
        // Each gate named once: the verdict, then every gate's mark.
        assert!(
            production.contains("**Gates: blocked** · ❌ `forbidden_resource_types`\n"),
            "{production}"
        );
        assert_eq!(production.matches("forbidden_resource_types").count(), 1);
        // The approver of the run finds the plan on the named pull request.
        assert!(
            production.contains(
                "pull request [acme-corp/acme-infra\\#12](https://github.com/acme-corp/acme-infra/pull/12)"
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
        assert_eq!(
            production.matches("](http").count(),
            1,
            "only the pull request is linked: {production}"
        );
    }

    /// A gate that was not applicable is said so, never "all pass".
    #[test]
    fn a_gate_not_applicable_is_not_all_pass() {
        let gate = |name: &str, passed: bool, skipped: bool| GateResult {
            gate: name.into(),
            passed,
            skipped,
            ..GateResult::default()
        };
        let v = Verdict {
            results: vec![
                gate("max_destroy", true, false),
                gate("pr_author", false, true),
            ],
            waiver: None,
        };
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let text = manager_plan("acme", "staging", sha, &summary("staging", Some(v)), None);
        assert!(
            text.contains(
                "**Gates: 1 pass, 1 not applicable** · ✅ `max_destroy` · ➖ `pr_author` (not applicable)"
            ),
            "{text}"
        );
    }
}
