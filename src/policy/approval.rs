//! Whether an apply was reviewed: `auto_apply: false` enforced through the
//! API rather than trusted to the repository's settings.
//!
//! Required reviewers on an environment do not exist on private
//! repositories without GitHub Enterprise, and an environment may allow
//! self-review; either way the apply job would run unreviewed. So the apply
//! reads the run's deployment reviews (`GET …/actions/runs/{run_id}/approvals`)
//! and needs an approval of the apply environment by someone other than
//! the dispatcher (the run's actor) and whoever re-ran it (the triggering
//! actor). That approver is the apply's actor in the audit log.

/// One reviewer's answer to a run's deployment to environments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReview {
    /// approved, rejected or pending
    pub state: String,
    pub login: String,
    /// Names of the environments the answer was for.
    pub environments: Vec<String>,
}

/// Who must not approve their own apply: the run's actor (for a
/// `repository_dispatch`, whoever's token sent it) and the triggering actor
/// of a re-run. Logins compare case-insensitively, as GitHub's do.
#[derive(Debug, Clone, Default)]
pub struct Dispatchers(Vec<String>);

impl Dispatchers {
    pub fn new<I: IntoIterator<Item = Option<String>>>(logins: I) -> Dispatchers {
        Dispatchers(
            logins
                .into_iter()
                .flatten()
                .filter(|l| !l.trim().is_empty())
                .collect(),
        )
    }

    fn contains(&self, login: &str) -> bool {
        self.0.iter().any(|d| d.eq_ignore_ascii_case(login))
    }

    fn shown(&self) -> String {
        if self.0.is_empty() {
            return "unknown (GITHUB_ACTOR is not set)".into();
        }
        self.0
            .iter()
            .map(|d| format!("`{d}`"))
            .collect::<Vec<_>>()
            .join(" and ")
    }
}

/// The approver of this run's deployment to `apply_environment`, or why
/// there is none. The latest answer of each reviewer counts, so an approval
/// followed by a rejection from the same reviewer is no approval.
pub fn approver(
    reviews: &[RunReview],
    apply_environment: &str,
    dispatchers: &Dispatchers,
    run_id: u64,
) -> Result<String, String> {
    let mut latest: Vec<(&str, &str)> = Vec::new();
    for r in reviews.iter().filter(|r| {
        r.environments
            .iter()
            .any(|e| e.eq_ignore_ascii_case(apply_environment))
    }) {
        latest.retain(|(login, _)| !login.eq_ignore_ascii_case(&r.login));
        latest.push((&r.login, &r.state));
    }
    if let Some((login, _)) = latest.iter().find(|(_, s)| *s == "rejected") {
        return Err(format!(
            "`{login}` rejected the deployment to `{apply_environment}` in run {run_id}"
        ));
    }
    let approved: Vec<&str> = latest
        .iter()
        .filter(|(_, s)| *s == "approved")
        .map(|(l, _)| *l)
        .collect();
    if let Some(login) = approved.iter().rev().find(|l| !dispatchers.contains(l)) {
        return Ok((*login).to_string());
    }
    let fix = format!(
        "add required reviewers to the GitHub environment `{apply_environment}` and tick \"Prevent self-review\" \
         (on a private repository this needs GitHub Enterprise; otherwise set `auto_apply: true` only if unreviewed applies are acceptable), \
         then re-run the job so a reviewer approves it"
    );
    if approved.is_empty() {
        Err(format!(
            "the environment has `auto_apply: false`, but no one approved the deployment to `{apply_environment}` in run {run_id}: \
             the environment has no required reviewers; {fix}"
        ))
    } else {
        Err(format!(
            "the environment has `auto_apply: false`, but the deployment to `{apply_environment}` in run {run_id} was approved only by \
             {}, who started the run (self-review); {fix}",
            dispatchers.shown()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn review(env: &str, login: &str, state: &str) -> RunReview {
        RunReview {
            state: state.into(),
            login: login.into(),
            environments: vec![env.into()],
        }
    }

    fn by(logins: &[&str]) -> Dispatchers {
        Dispatchers::new(logins.iter().map(|l| Some(l.to_string())))
    }

    #[test]
    fn another_reviewer_approves() {
        let reviews = [review("production-apply", "ops-carol", "approved")];
        assert_eq!(
            approver(&reviews, "production-apply", &by(&["relay-bot"]), 7),
            Ok("ops-carol".into())
        );
    }

    #[test]
    fn no_review_names_the_missing_protection() {
        let e = approver(&[], "production-apply", &by(&["relay-bot"]), 7).unwrap_err();
        assert!(e.contains("no one approved"), "{e}");
        assert!(e.contains("required reviewers"), "{e}");
        assert!(e.contains("Enterprise"), "{e}");
    }

    #[test]
    fn self_review_and_other_environments_do_not_count() {
        let reviews = [
            review("production-apply", "Relay-Bot", "approved"),
            review("staging-apply", "ops-carol", "approved"),
            review("production-apply", "ops-dan", "approved"),
        ];
        // ops-dan re-ran the run: his approval is self-review too.
        let e = approver(
            &reviews,
            "production-apply",
            &by(&["relay-bot", "ops-dan"]),
            7,
        )
        .unwrap_err();
        assert!(e.contains("self-review"), "{e}");
        assert!(e.contains("`relay-bot` and `ops-dan`"), "{e}");
    }

    #[test]
    fn a_later_rejection_wins() {
        let reviews = [
            review("Production-Apply", "ops-carol", "approved"),
            review("production-apply", "ops-carol", "rejected"),
        ];
        let e = approver(&reviews, "production-apply", &by(&["relay-bot"]), 7).unwrap_err();
        assert!(e.contains("rejected"), "{e}");
    }
}
