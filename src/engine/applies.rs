//! When a plan applies, in the words its comment uses: on merge, after
//! an approval, or (an operation, a drift repair) after the workflow's
//! reviewer that lets it through.

use super::Engine;

impl Engine<'_> {
    /// When a plan of `env` is applied, for the comment: on merge for an
    /// `auto_apply: true` environment, else after an approval.
    pub(super) fn applies_hint(&self, env: &str) -> Option<String> {
        let e = self.manager.environment(env)?;
        if self.targeting.as_ref().is_some_and(|t| t.repair) {
            return Some(format!(
                "once a reviewer of the provider's `{}` environment approves the *fleetform drift* run's repairs job for `{env}`, or, where that environment can have no reviewers (a private repository on GitHub Team or Pro), another operator runs *fleetform drift* with `confirm-repairs` set to this run's id, `environment` {env} and the repair list's digest.",
                e.apply_environment()
            ));
        }
        if let Some(t) = self.targeting.as_ref().filter(|t| !t.destroy) {
            return Some(format!(
                "once someone other than {} lets it through: a reviewer of the provider's `{}` environment approves the ops run, or, where that environment can have no reviewers (a private repository on GitHub Team or Pro), another operator runs *fleetform ops* with operation `confirm`, this run's id and this digest.",
                crate::report::markdown::md_escape(&t.actor),
                e.apply_environment()
            ));
        }
        Some(if e.auto_apply {
            format!(
                "on merge. `{env}` has `auto_apply: true`: merging this pull request applies this plan, with no approval."
            )
        } else if self.manager.approval_rule(env).is_some() {
            "after merge, once approved on this pull request (below).".to_string()
        } else {
            format!(
                "after merge, once a reviewer of the provider's `{}` environment approves the apply run.",
                e.apply_environment()
            )
        })
    }
}
