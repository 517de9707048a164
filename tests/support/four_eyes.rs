//! The second person on GitHub Actions, as the operator workflows ask for
//! one (day-2 state operations, adoption releases, offboarding, drift
//! repairs): fleetform in a run of one workflow of the manager repo, and
//! the refusals every Team/Pro confirmation shares.

use serde_json::Value;

use crate::common::{self, Ran};
use crate::support::fake_github::FakeGitHub;
use crate::support::rollout_world::{World, MANAGER_REPO};

/// Runs of `workflow` in the manager repo, answered by `gh`, with `env`
/// added to each.
pub struct InRuns<'a> {
    pub w: &'a World,
    pub gh: &'a FakeGitHub,
    pub workflow: &'a str,
    pub env: &'a [(&'a str, &'a str)],
}

impl InRuns<'_> {
    /// fleetform `args` in run `run`, started by `actor`; the job's
    /// outputs go to `outputs-<run>`.
    pub fn run(&self, run: u64, actor: &str, args: &[&str]) -> Ran {
        self.w
            .in_run(self.gh, self.workflow, run, actor)
            .envs(self.env.iter().copied())
            .args(args)
            .output()
    }

    /// `args` by `actor` in run `run`: refused (exit 3), saying `says`.
    pub fn refused(&self, run: u64, actor: &str, args: &[&str], says: &str) {
        let out = self.run(run, actor, args);
        common::assert_code(&out, 3);
        out.stderr_has(says);
    }

    /// `ops-dana`'s preview run `preview` registered as this workflow's,
    /// then `confirm` (the command that confirms it) run by her from her
    /// next run: refused, whoever asked cannot confirm their own preview.
    /// Nor can anyone confirm a preview run of another branch, or one no
    /// operator started (#81 point 9: only the default branch's code makes
    /// a preview a second person confirms).
    pub fn requester_cannot_confirm(&self, preview: u64, confirm: &[&str]) {
        for (branch, event, says) in [
            (
                "feature",
                "workflow_dispatch",
                "not on the default branch `main`",
            ),
            ("main", "push", "not by an operator (workflow_dispatch)"),
        ] {
            self.gh.workflow_run_on(
                MANAGER_REPO,
                preview,
                self.workflow,
                "ops-dana",
                (branch, event),
            );
            self.refused(preview + 1000, "ops-erin", confirm, says);
        }
        self.gh
            .workflow_run(MANAGER_REPO, preview, self.workflow, "ops-dana", "ops-dana");
        self.refused(
            preview + 1,
            "ops-dana",
            confirm,
            &format!("`ops-dana` started the preview (run {preview})"),
        );
    }

    /// Run `other` of another workflow confirmed (`confirm`) by `ops-erin`
    /// in run `run`: refused, it is not a run of this workflow.
    pub fn another_workflow_cannot_confirm(&self, other: u64, run: u64, confirm: &[&str]) {
        self.gh.workflow_run(
            MANAGER_REPO,
            other,
            ".github/workflows/other.yml",
            "ops-dana",
            "ops-dana",
        );
        let says = format!("not of `{}`", self.workflow);
        self.refused(run, "ops-erin", confirm, &says);
    }
}

/// An audit line of what `ops-erin` confirmed for `ops-dana`: she is the
/// one approver, and the detail names both.
pub fn confirmed_by_erin(e: &Value) {
    assert_eq!(e["approvers"], serde_json::json!(["ops-erin"]), "{e}");
    assert!(
        e["detail"]
            .as_str()
            .unwrap()
            .contains("approved by ops-erin (asked by ops-dana)"),
        "{e}"
    );
}
