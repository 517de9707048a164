//! The form workflow (`customer-form.yml`, as `init --customer --manager`
//! writes it) run as GitHub runs it on issues from the form, with the
//! job's own `GITHUB_TOKEN` only: hostile answers are refused on the issue
//! and nothing is pushed; an edit updates the same pull request; a
//! repository where Actions may not open pull requests is said.

use std::path::PathBuf;

use super::{issue_body, issue_event, written};
use crate::support::actions_runner::{Runner, WorkflowRun};
use crate::support::fake_github::FakeGitHub;
use crate::support::readme_budgets::Budgets;

pub(super) const REPO: &str = "acme/acme-infra";

pub(super) struct Repo {
    pub(super) gh: FakeGitHub,
    runner: Runner,
    dir: tempfile::TempDir,
    _fx: crate::common::Fixture,
}

impl Repo {
    /// acme's repository as `init --customer --manager` writes it for the
    /// example manager, with Actions allowed to open pull requests or not.
    pub(super) fn new(actions_may_open_pulls: bool) -> Repo {
        let fx = crate::common::Fixture::new();
        let dir = tempfile::tempdir().unwrap();
        crate::common::Run::from(crate::common::fleetform_bin())
            .args(["init", "--customer", "--dir"])
            .arg(dir.path().join("acme"))
            .arg("--manager")
            .arg(fx.manager())
            .ok();
        let gh = FakeGitHub::start();
        gh.add_repo(REPO);
        let files = written(&dir.path().join("acme"));
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, c)| (p.as_str(), c.as_str()))
            .collect();
        gh.commit(REPO, "main", &refs);
        gh.set_workflow_permissions(REPO, "read", actions_may_open_pulls);
        Repo {
            gh,
            runner: Runner::new(REPO),
            dir,
            _fx: fx,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join("acme").join(rel)
    }

    pub(super) fn form(&self) -> String {
        std::fs::read_to_string(self.path(".github/ISSUE_TEMPLATE/infra-change.yml")).unwrap()
    }

    /// An issue from the form with `body`, labelled as the form labels it,
    /// and the form workflow's run for `action`.
    pub(super) fn ask(&mut self, body: &str) -> (u64, WorkflowRun) {
        let n = self.gh.open_issue(REPO, "infra: a change", body);
        self.gh.add_label(REPO, n, "infra-change");
        let run = self.run(n, "opened");
        (n, run)
    }

    fn run(&mut self, n: u64, action: &str) -> WorkflowRun {
        let workflow = self.path(".github/workflows/customer-form.yml");
        self.runner.run(
            &self.gh,
            &workflow.display().to_string(),
            &issue_event(&self.gh, REPO, n, action),
        )
    }

    fn branch(&self, n: u64) -> Option<String> {
        self.gh
            .git_refs(REPO)
            .get(&format!("refs/heads/fleetform/issue-{n}"))
            .cloned()
    }

    fn answer(&self, n: u64) -> String {
        let comments = self.gh.comments(REPO, n);
        assert_eq!(
            comments.len(),
            1,
            "one answer, kept up to date: {comments:?}"
        );
        comments[0].body.clone()
    }
}

#[test]
fn hostile_answers_are_refused_on_the_issue_and_nothing_is_pushed() {
    let mut repo = Repo::new(true);
    let form = repo.form();
    let cases: Vec<(String, &str)> = vec![
        (
            format!("{}### not_a_field\n\nx\n", issue_body(&form, &[])),
            "not a field of this form",
        ),
        (
            issue_body(
                &form,
                &[("project_name", "acme\n\n### project_name\n\nother")],
            ),
            "answered twice",
        ),
        (
            issue_body(&form, &[("cloud_provider", "oracle")]),
            "not one of the form's options",
        ),
        (
            issue_body(
                &form,
                &[("tags", "```yaml\na: &a [*a, *a, *a]\nb: *a\n```")],
            ),
            "not YAML",
        ),
        (
            issue_body(&form, &[("networking.availability_zones", "3; rm -rf /")]),
            "not a whole number",
        ),
        // Valid as an answer, refused by the schema at its place in the file.
        (
            issue_body(&form, &[("project_name", "::error::Not-A-Project")]),
            "infra/variables.yml:",
        ),
        (
            issue_body(&form, &[("networking.availability_zones", "99")]),
            "infra/variables.yml:",
        ),
    ];
    for (body, why) in cases {
        let (n, run) = repo.ask(&body);
        let job = run.job("request");
        assert_eq!(job.result, "failure", "{body:?}: {}", job.log);
        let answer = repo.answer(n);
        assert!(
            answer.contains("was not made into a pull request"),
            "{answer}"
        );
        assert!(answer.contains(why), "{why}: {answer}");
        assert!(repo.branch(n).is_none(), "{body:?}: a branch was pushed");
        // The answer's text never reaches the log as a workflow command.
        assert!(
            !job.log
                .lines()
                .any(|l| l.starts_with("::error::Not-A-Project")),
            "{}",
            job.log
        );
    }
    assert!(repo.gh.pulls(REPO).is_empty());
    assert!(repo.gh.workflow_dispatches(REPO).is_empty());
    repo.gh.assert_clean();
}

#[test]
fn an_edited_issue_updates_its_pull_request() {
    let mut repo = Repo::new(true);
    let form = repo.form();
    let (n, run) = repo.ask(&issue_body(&form, &[("instance_type", "t3.large")]));
    run.assert_succeeded(&["request"]);
    let first = repo.branch(n).expect("the branch");
    assert!(repo.answer(n).contains("Opened pull request #"));

    // The author edits the issue: the same pull request follows.
    repo.gh.edit_issue_body(
        REPO,
        n,
        &issue_body(&form, &[("instance_type", "t3.xlarge")]),
    );
    repo.run(n, "edited").assert_succeeded(&["request"]);
    let pulls = repo.gh.pulls(REPO);
    assert_eq!(pulls.len(), 1, "{pulls:?}");
    assert_ne!(repo.branch(n), Some(first));
    let file = repo
        .gh
        .file_at(REPO, &format!("fleetform/issue-{n}"), "infra/variables.yml")
        .unwrap();
    assert!(
        file.contains("instance_type: t3.xlarge") && !file.contains("t3.large"),
        "{file}"
    );
    assert!(repo.answer(n).contains("Updated pull request #"));
    assert_eq!(repo.gh.workflow_dispatches(REPO).len(), 2);

    // An edit that asks for what the file holds already.
    let main = repo
        .gh
        .file_at(REPO, "main", "infra/variables.yml")
        .unwrap();
    let project = main
        .lines()
        .find_map(|l| l.strip_prefix("project_name: "))
        .expect("the starter's project name")
        .to_string();
    repo.gh
        .edit_issue_body(REPO, n, &issue_body(&form, &[("project_name", &project)]));
    repo.run(n, "edited").assert_succeeded(&["request"]);
    assert!(
        repo.answer(n).contains("Nothing to change"),
        "{}",
        repo.answer(n)
    );
    repo.gh.assert_clean();
}

#[test]
fn a_repository_where_actions_may_not_open_pull_requests_is_said() {
    let mut repo = Repo::new(false);
    let form = repo.form();
    let (_, run) = repo.ask(&issue_body(&form, &[("instance_type", "t3.large")]));
    let job = run.job("request");
    assert_eq!(job.result, "failure", "{}", job.log);
    assert!(
        job.log
            .contains("GitHub Actions is not permitted to create or approve pull requests"),
        "{}",
        job.log
    );
    assert!(repo.gh.pulls(REPO).is_empty());
    let _ = repo.gh.take_violations();
}

/// The book's "Request budgets" row for `request`: what one issue costs,
/// refused, new and edited. The checkout's own read of the commit (the
/// `actions/checkout` stand-in's) is not fleetform's and not counted.
#[test]
fn an_issue_costs_what_the_book_says() {
    const ROW: &str = "`request`, per issue from the form";
    let sent = |gh: &FakeGitHub| gh.request_count_but(&format!("/repos/{REPO}/commits/"));
    let book = Budgets::from_book();
    let mut repo = Repo::new(true);
    let form = repo.form();
    repo.gh.reset_counters();
    let (_, run) = repo.ask(&issue_body(&form, &[("cloud_provider", "oracle")]));
    assert_eq!(run.job("request").result, "failure");
    assert_eq!(
        sent(&repo.gh),
        book.lead(ROW),
        "{}",
        repo.gh.request_lines()
    );

    repo.gh.reset_counters();
    let (n, run) = repo.ask(&issue_body(&form, &[("instance_type", "t3.large")]));
    run.assert_succeeded(&["request"]);
    assert_eq!(
        sent(&repo.gh),
        book.n(ROW, " for a new pull request"),
        "{}",
        repo.gh.request_lines()
    );

    repo.gh.edit_issue_body(
        REPO,
        n,
        &issue_body(&form, &[("instance_type", "t3.xlarge")]),
    );
    repo.gh.reset_counters();
    repo.run(n, "edited").assert_succeeded(&["request"]);
    assert_eq!(
        sent(&repo.gh),
        book.n(ROW, " for an edit that changes its pull request"),
        "{}",
        repo.gh.request_lines()
    );
    repo.gh.assert_clean();
}
