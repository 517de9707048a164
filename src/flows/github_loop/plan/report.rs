//! What a dispatched plan reports when it ends: the audit and summary of
//! every environment, the printed report and the step outputs.

use super::*;
use crate::flows::github_loop::artifact::BUNDLE_FILE;
use crate::flows::github_loop::products::combined_digest;

/// The request count, the step outputs and the result lines; an error
/// when any environment failed to plan.
pub(super) fn finish(
    session: &Session,
    settings: &PlanSettings,
    mut report: PlanReport,
    out: &Output,
) -> Result<()> {
    report.requests = session.gh.request_count();
    report.dry_run_requests = session.gh.withheld();
    crate::flows::github_loop::record::note_requests(
        out,
        report.requests,
        &report.dry_run_requests,
    );
    let outputs = plan_outputs(&report, &session.dispatched.event_type, &settings.out);
    session
        .ctx
        .set_outputs(&outputs)
        .map_err(|e| Error::failed(format!("writing GITHUB_OUTPUT: {e}")))?;
    print_report(&report, settings.json, out);
    let failed = report.results.iter().filter(|r| r.error.is_some()).count();
    if failed > 0 {
        return Err(Error::failed(format!(
            "{failed} of {} failed",
            crate::util::text::count(report.results.len(), "plan", "plans")
        )));
    }
    Ok(())
}

pub(super) fn print_report(report: &PlanReport, json: bool, out: &Output) {
    if json {
        out.json(report).expect("serialisable");
        return;
    }
    for r in &report.results {
        let unit = r.unit(&report.customer);
        out.result(&match (&r.summary, &r.waiting) {
            (Some(s), _) => format!("planned {unit}: {} (sha256:{})", s.counts(), s.plan_sha256),
            (None, Some(w)) => format!("waiting {unit}: {w}"),
            (None, None) => format!("FAILED {unit}: {}", r.error.as_deref().unwrap_or("")),
        });
    }
}

/// The plan step's outputs; the per-plan ones only when exactly one
/// environment was planned and nothing failed. With products they cover
/// every product planned there: `plan_sha256` is their combined digest
/// ([`combined_digest`]), `plan_dir` the customer's folder above them.
pub(super) fn plan_outputs(
    report: &PlanReport,
    event_type: &str,
    out_dir: &Path,
) -> Vec<(&'static str, String)> {
    let mut outputs = vec![
        ("customer", report.customer.clone()),
        ("customer_repo", report.customer_repo.clone()),
        ("sha", report.sha.clone()),
        ("event_type", event_type.to_string()),
        ("requests", report.requests.to_string()),
    ];
    let Some(first) = report.results.first() else {
        return outputs;
    };
    let env = &first.environment;
    if report.results.iter().any(|r| &r.environment != env) {
        return outputs;
    }
    outputs.push(("environment", env.clone()));
    let identity = report
        .results
        .iter()
        .find_map(|r| r.summary.as_ref().and_then(|s| s.identity.as_ref()));
    outputs.push((
        "identity",
        identity
            .map(|i| i.plan.role_arn.clone())
            .unwrap_or_default(),
    ));
    if report.results.iter().any(|r| r.error.is_some()) {
        return outputs;
    }
    let planned: Vec<(&EnvResult, &PlanSummary)> = report
        .results
        .iter()
        .filter_map(|r| r.summary.as_ref().map(|s| (r, s)))
        .collect();
    let sum = |f: fn(&PlanSummary) -> usize| planned.iter().map(|(_, s)| f(s)).sum::<usize>();
    let per_product = first.product.is_some();
    let (digest, dir) = match planned.as_slice() {
        [(_, s)] if !per_product => (
            s.plan_sha256.clone(),
            out_dir.join(&report.customer).join(env),
        ),
        _ => (
            combined_digest(
                planned
                    .iter()
                    .map(|(r, s)| (r.product.clone().unwrap_or_default(), s.plan_sha256.clone())),
            ),
            out_dir.join(&report.customer),
        ),
    };
    if planned.is_empty() {
        return outputs;
    }
    outputs.extend([
        (
            "has_changes",
            planned.iter().any(|(_, s)| s.has_changes).to_string(),
        ),
        ("plan_sha256", digest),
        ("create", sum(|s| s.create).to_string()),
        ("update", sum(|s| s.update).to_string()),
        ("delete", sum(|s| s.delete).to_string()),
        ("replace", sum(|s| s.replace).to_string()),
        ("plan_dir", dir.display().to_string()),
        (
            "terraform_version",
            planned
                .iter()
                .find_map(|(_, s)| s.engine_version.clone())
                .unwrap_or_default(),
        ),
        (
            "gates_pass",
            planned
                .iter()
                .all(|(_, s)| s.gates.as_ref().is_none_or(|v| v.allows()))
                .to_string(),
        ),
    ]);
    if !per_product {
        outputs.push(("bundle", dir.join(BUNDLE_FILE).display().to_string()));
    }
    outputs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(env: &str, planned: bool) -> EnvResult {
        EnvResult {
            product: None,
            waiting: None,
            environment: env.into(),
            summary: planned.then(|| PlanSummary {
                create: 3,
                update: 1,
                replace: 2,
                has_changes: true,
                plan_sha256: "f".repeat(64),
                state_key: format!("acme/{env}"),
                ..PlanSummary::of("acme", env)
            }),
            error: (!planned).then(|| "terraform failed".to_string()),
            comment_id: None,
        }
    }

    fn report(results: Vec<EnvResult>) -> PlanReport {
        PlanReport {
            customer: "acme".into(),
            customer_repo: "acme/infra".into(),
            sha: "a".repeat(40),
            dispatch_id: "d-1".into(),
            results,
            problems: Vec::new(),
            requests: 5,
            dry_run_requests: Vec::new(),
        }
    }

    fn names(outputs: &[(&'static str, String)]) -> Vec<&'static str> {
        outputs.iter().map(|(k, _)| *k).collect()
    }

    #[test]
    fn per_plan_outputs_only_for_a_single_planned_environment() {
        let common = ["customer", "customer_repo", "sha", "event_type", "requests"];
        let out = Path::new("plans");
        let two = plan_outputs(
            &report(vec![result("staging", true), result("production", true)]),
            "fleetform-plan",
            out,
        );
        assert_eq!(names(&two), common);
        let failed = plan_outputs(
            &report(vec![result("staging", false)]),
            "fleetform-plan",
            out,
        );
        assert_eq!(
            names(&failed),
            [&common[..], &["environment", "identity"]].concat()
        );
        let one = plan_outputs(
            &report(vec![result("staging", true)]),
            "fleetform-apply",
            out,
        );
        let get = |k: &str| one.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("event_type"), Some("fleetform-apply"));
        assert_eq!(get("requests"), Some("5"));
        assert_eq!(get("environment"), Some("staging"));
        assert_eq!(get("has_changes"), Some("true"));
        assert_eq!(get("create"), Some("3"));
        assert_eq!(get("replace"), Some("2"));
        assert_eq!(get("gates_pass"), Some("true"));
        let bundle = Path::new("plans")
            .join("acme")
            .join("staging")
            .join(BUNDLE_FILE);
        assert_eq!(get("bundle"), Some(bundle.display().to_string().as_str()));
    }
}
