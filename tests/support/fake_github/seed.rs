//! Seeding the fake GitHub: repositories, commits and branches, pull
//! requests and issues, labels, reviews, Apps, comments and statuses, as a
//! test sets the scene before running fleetform.

use super::*;

impl FakeGitHub {
    /// Add a repository (`owner/name`) with a `main` branch holding an empty
    /// initial commit. Repositories that were never added answer 404.
    pub fn add_repo(&self, full_name: &str) {
        self.state().add_repo(full_name, None);
    }

    /// Add `full_name` as a fork of `upstream` (which must exist), starting
    /// with the same branches.
    pub fn add_fork(&self, full_name: &str, upstream: &str) {
        let mut st = self.state();
        st.seeded(upstream);
        st.add_repo(full_name, Some(upstream.to_string()));
    }

    /// Remove a repository: requests for it answer 404 from now on.
    pub fn remove_repo(&self, full_name: &str) {
        self.state().repos.remove(&state::repo_key(full_name));
    }

    pub fn set_archived(&self, repo: &str, archived: bool) {
        self.state().seeded(repo).archived = archived;
    }

    pub fn set_private(&self, repo: &str, private: bool) {
        self.state().seeded(repo).private = private;
    }

    /// Make an existing branch the default branch.
    pub fn set_default_branch(&self, repo: &str, branch: &str) {
        let mut st = self.state();
        let r = st.seeded(repo);
        assert!(
            r.branch(branch).is_some(),
            "fake GitHub: {repo} has no branch {branch}"
        );
        r.default_branch = branch.to_string();
    }

    /// Commit `files` (path, content) on `branch`, creating the branch from
    /// the default branch if needed. The new snapshot is the parent's files
    /// plus these. Returns the new commit SHA.
    pub fn commit(&self, repo: &str, branch: &str, files: &[(&str, &str)]) -> String {
        let changes: Vec<(String, Option<Vec<u8>>)> = files
            .iter()
            .map(|(p, c)| (p.to_string(), Some(c.as_bytes().to_vec())))
            .collect();
        let paths: Vec<&str> = files.iter().map(|(p, _)| *p).collect();
        self.commit_changes(
            repo,
            branch,
            &changes,
            &format!("Update {}", paths.join(", ")),
        )
    }

    /// Commit the removal of `paths` on `branch`. Returns the new commit SHA.
    pub fn remove_files(&self, repo: &str, branch: &str, paths: &[&str]) -> String {
        let changes: Vec<(String, Option<Vec<u8>>)> =
            paths.iter().map(|p| (p.to_string(), None)).collect();
        self.commit_changes(
            repo,
            branch,
            &changes,
            &format!("Remove {}", paths.join(", ")),
        )
    }

    fn commit_changes(
        &self,
        repo: &str,
        branch: &str,
        changes: &[(String, Option<Vec<u8>>)],
        message: &str,
    ) -> String {
        let mut st = self.state();
        let r = st.seeded(repo);
        let parent = match r.branch(branch) {
            Some(sha) => sha.clone(),
            None => r
                .branch(&r.default_branch.clone())
                .cloned()
                .expect("default branch exists"),
        };
        let sha = st.create_commit(Some(&parent), changes, message);
        let r = st.seeded(repo);
        r.refs.insert(format!("refs/heads/{branch}"), sha.clone());
        let now = util::now_rfc3339();
        r.pushed_at = now.clone();
        // A push to an open pull request's head branch updates the pull
        // request (GitHub sends `pull_request` `synchronize` and its
        // `updated_at` moves: "Webhook events and payloads",
        // pull_request; the REST pull request's `updated_at`).
        for rec in st.repos.values_mut().flat_map(|r| r.issues.values_mut()) {
            let heads_here = rec
                .pull
                .as_ref()
                .is_some_and(|p| p.head_repo == repo && p.head_ref == branch);
            if heads_here && rec.state == "open" {
                rec.updated_at = now.clone();
            }
        }
        sha
    }

    /// Create `branch` at `from` (a branch, tag or SHA). Returns its SHA.
    pub fn create_branch(&self, repo: &str, branch: &str, from: &str) -> String {
        self.set_ref(repo, &format!("refs/heads/{branch}"), from)
    }

    /// Point the ref `full` (`refs/…`) at `from` (a branch, tag or SHA).
    fn set_ref(&self, repo: &str, full: &str, from: &str) -> String {
        let mut st = self.state();
        let r = st.seeded(repo).clone();
        let sha = st
            .resolve(&r, from)
            .unwrap_or_else(|| panic!("fake GitHub: {repo} has no ref {from}"));
        st.seeded(repo).refs.insert(full.to_string(), sha.clone());
        sha
    }

    /// Tag `from` (a branch, tag or SHA) as `tag`. Returns its SHA.
    pub fn add_tag(&self, repo: &str, tag: &str, from: &str) -> String {
        self.set_ref(repo, &format!("refs/tags/{tag}"), from)
    }

    /// Delete a branch.
    pub fn delete_branch(&self, repo: &str, branch: &str) {
        self.state()
            .seeded(repo)
            .refs
            .remove(&format!("refs/heads/{branch}"));
    }

    /// Current head SHA of a branch.
    pub fn branch_head(&self, repo: &str, branch: &str) -> Option<String> {
        self.state().repo(repo)?.branch(branch).cloned()
    }

    /// Open a pull request from `head` to `base` (branches of `repo`, which
    /// must exist), authored by `octocat`. Returns its number.
    pub fn open_pr(&self, repo: &str, head: &str, base: &str, title: &str) -> u64 {
        self.open_pr_from(repo, repo, head, base, title)
    }

    /// A pull request into `repo` from branch `head` of `head_repo` (a
    /// fork of it, or `repo` itself).
    pub fn open_pr_from(
        &self,
        repo: &str,
        head_repo: &str,
        head: &str,
        base: &str,
        title: &str,
    ) -> u64 {
        let mut st = self.state();
        let r = st.seeded(repo).clone();
        let h = st.seeded(head_repo).clone();
        let head_sha = h
            .branch(head)
            .cloned()
            .unwrap_or_else(|| panic!("fake GitHub: {head_repo} has no branch {head}"));
        assert!(
            r.branch(base).is_some(),
            "fake GitHub: {repo} has no branch {base}"
        );
        let pull = state::PullRec {
            id: st.next_id(),
            head_repo: h.full_name(),
            head_ref: head.to_string(),
            head_sha,
            base_ref: base.to_string(),
            draft: false,
            merged_at: None,
            merge_commit_sha: None,
            maintainer_can_modify: true,
            reviews: Vec::new(),
        };
        st.new_issue(repo, title, None, "octocat", Some(pull))
    }

    /// Open an issue authored by `octocat`. Returns its number.
    pub fn open_issue(&self, repo: &str, title: &str, body: &str) -> u64 {
        self.state()
            .new_issue(repo, title, Some(body.to_string()), "octocat", None)
    }

    /// Close an issue or pull request (without merging).
    pub fn close(&self, repo: &str, number: u64) {
        let mut st = self.state();
        let rec = issue_mut(&mut st, repo, number);
        rec.state = "closed".into();
        rec.closed_at = Some(util::now_rfc3339());
    }

    /// Merge a pull request with a merge commit on its base branch. Returns
    /// the merge commit SHA. Panics on conflicts.
    pub fn merge_pr(&self, repo: &str, number: u64) -> String {
        let mut st = self.state();
        let r = st.seeded(repo).clone();
        let rec = r
            .issues
            .get(&number)
            .filter(|i| i.pull.is_some())
            .unwrap_or_else(|| panic!("fake GitHub: {repo}#{number} is not a pull request"));
        let pull = rec.pull.clone().expect("a pull request");
        let head = render::pull_head_sha(&st, rec);
        let base = r
            .branch(&pull.base_ref)
            .cloned()
            .expect("base branch exists");
        let files = st
            .merge_files(&base, &head)
            .unwrap_or_else(|c| panic!("fake GitHub: merge conflicts in {c:?}"));
        let message = format!("Merge pull request #{number} from {}", pull.head_ref);
        let sha = st.insert_commit(vec![base, head.clone()], files, &message);
        let now = util::now_rfc3339();
        let r = st.seeded(repo);
        r.refs
            .insert(format!("refs/heads/{}", pull.base_ref), sha.clone());
        let rec = r.issues.get_mut(&number).expect("checked above");
        rec.state = "closed".into();
        rec.closed_at = Some(now.clone());
        let p = rec.pull.as_mut().expect("checked above");
        p.head_sha = head;
        p.merged_at = Some(now);
        p.merge_commit_sha = Some(sha.clone());
        sha
    }

    /// Marks a pull request merged as `sha`, a commit made outside the fake
    /// (e.g. the manager's local repository in a test): GitHub then lists
    /// it among the pull requests of that commit.
    pub fn merged_as(&self, repo: &str, number: u64, sha: &str) {
        let mut st = self.state();
        let rec = st
            .seeded(repo)
            .issues
            .get_mut(&number)
            .filter(|i| i.pull.is_some())
            .unwrap_or_else(|| panic!("fake GitHub: {repo}#{number} is not a pull request"));
        rec.state = "closed".into();
        rec.closed_at = Some(util::now_rfc3339());
        let p = rec.pull.as_mut().expect("checked above");
        p.merged_at = Some(util::now_rfc3339());
        p.merge_commit_sha = Some(sha.to_string());
    }

    /// Make `login` the author (`user`) of an issue or pull request.
    pub fn set_author(&self, repo: &str, number: u64, login: &str) {
        let mut st = self.state();
        st.user_id(login);
        issue_mut(&mut st, repo, number).user = login.to_string();
    }

    /// Its author edits an issue's body (the `issues` event `edited`).
    pub fn edit_issue_body(&self, repo: &str, number: u64, body: &str) {
        let mut st = self.state();
        issue_mut(&mut st, repo, number).body = Some(body.to_string());
    }

    /// Add a label to an issue or pull request.
    pub fn add_label(&self, repo: &str, number: u64, label: &str) {
        let mut st = self.state();
        st.label_id(repo, label);
        let rec = issue_mut(&mut st, repo, number);
        if !rec.labels.iter().any(|l| l == label) {
            rec.labels.push(label.to_string());
        }
    }

    pub fn remove_label(&self, repo: &str, number: u64, label: &str) {
        let mut st = self.state();
        issue_mut(&mut st, repo, number)
            .labels
            .retain(|l| l != label);
    }

    /// Record a review (`APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, ...)
    /// on the pull request's current head. Returns the review id.
    pub fn add_review(&self, repo: &str, pr: u64, user: &str, state: &str) -> u64 {
        handlers::add_review(&mut self.state(), repo, pr, user, state, "")
    }

    /// Register a GitHub App with the public half of `pem` (a PKCS#1 RSA
    /// private key).
    pub fn register_app(&self, app_id: u64, pem: &str) {
        self.state().apps.push(apps::App {
            id: app_id,
            public_key: apps::public_key_of(pem),
            settings: None,
        });
    }

    /// Whether App `app_id` is registered.
    pub fn has_app(&self, app_id: u64) -> bool {
        self.state().apps.iter().any(|a| a.id == app_id)
    }

    /// Registers App `app_id` (with the public half of `pem`) from
    /// `manifest` as GitHub's manifest flow does: a manifest GitHub refuses
    /// is refused here whole, with GitHub's reason, and no App is made
    /// (`manifest.rs`). Its settings are the manifest's permissions,
    /// events and visibility.
    pub fn register_app_from_manifest(
        &self,
        app_id: u64,
        pem: &str,
        manifest: &Value,
    ) -> Result<(), String> {
        let settings = super::manifest::check(manifest)?;
        self.register_app(app_id, pem);
        self.set_app_settings(
            app_id,
            settings.permissions,
            &settings
                .events
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            settings.public,
        );
        Ok(())
    }

    /// What App `app_id`'s settings grant (`{"contents": "read", ...}`),
    /// its webhook events and whether it is public. Installation tokens
    /// asking more are then refused (422) as GitHub does.
    pub fn set_app_settings(&self, app_id: u64, permissions: Value, events: &[&str], public: bool) {
        let mut st = self.state();
        let app = st
            .apps
            .iter_mut()
            .find(|a| a.id == app_id)
            .expect("fake GitHub: register the App first");
        app.settings = Some(apps::AppSettings {
            permissions,
            events: events.iter().map(|e| e.to_string()).collect(),
            public,
        });
    }

    /// Install App `app_id` on `account` for `repos`; the installation id.
    /// GitHub's numeric id of `repo` (kept by a rename; a repo removed and
    /// added again gets a new one).
    pub fn repo_id(&self, repo: &str) -> u64 {
        self.state()
            .repo(repo)
            .unwrap_or_else(|| panic!("fake GitHub: repository {repo} was not added"))
            .id
    }

    /// The test merge commit GitHub reports for an open pull request (what
    /// a `pull_request` run's `GITHUB_SHA` is).
    pub fn set_merge_commit(&self, repo: &str, number: u64, sha: &str) {
        let mut st = self.state();
        let rec = issue_mut(&mut st, repo, number);
        rec.pull.as_mut().expect("a pull request").merge_commit_sha = Some(sha.to_string());
    }

    /// Takes `repo` out of every App installation (the customer
    /// uninstalled the App, or removed the repo from its installation).
    pub fn uninstall_from(&self, repo: &str) {
        let key = state::repo_key(repo);
        for inst in &mut self.state().installations {
            inst.repos.retain(|r| state::repo_key(r) != key);
        }
    }

    /// The App's slug: its installation tokens act as `<slug>[bot]`.
    pub fn set_app_slug(&self, app_id: u64, slug: &str) {
        self.state().app_slugs.insert(app_id, slug.to_string());
    }

    pub fn install_app(&self, app_id: u64, account: &str, repos: &[&str]) -> u64 {
        self.install(app_id, account, repos, false)
    }

    /// [`FakeGitHub::install_app`] with "All repositories" chosen: GitHub
    /// answers the installation's `repository_selection` `all` ("Get a
    /// repository installation for the authenticated app").
    pub fn install_app_on_every_repository(
        &self,
        app_id: u64,
        account: &str,
        repos: &[&str],
    ) -> u64 {
        self.install(app_id, account, repos, true)
    }

    fn install(&self, app_id: u64, account: &str, repos: &[&str], all: bool) -> u64 {
        let mut st = self.state();
        let id = st.next_id();
        st.installations.push(apps::Installation {
            id,
            app_id,
            account: account.to_string(),
            repos: repos.iter().map(|r| r.to_string()).collect(),
            all,
        });
        id
    }

    /// Installation tokens minted from now on last `secs` (GitHub's last
    /// an hour), and are refused after (401 "Bad credentials").
    pub fn set_installation_token_life(&self, secs: u64) {
        self.state().installation_token_life = secs;
    }

    /// An installation token of App `app_id`'s installation `installation`
    /// for `repos` with exactly `permissions`, as GitHub mints one when
    /// the App asks for it (`POST /app/installations/{id}/access_tokens`),
    /// for tests of what such a token may call.
    pub fn mint_token(
        &self,
        app_id: u64,
        installation: u64,
        repos: &[&str],
        permissions: Value,
    ) -> String {
        let repos = repos.iter().map(|r| state::repo_key(r)).collect();
        apps::mint(&mut self.state(), app_id, installation, repos, permissions).0
    }

    /// The installation tokens minted so far.
    pub fn minted_tokens(&self) -> Vec<apps::MintedToken> {
        self.state().minted.clone()
    }

    /// A review with a body (e.g. one that quotes an approval command).
    pub fn add_review_with_body(
        &self,
        repo: &str,
        pr: u64,
        user: &str,
        state: &str,
        body: &str,
    ) -> u64 {
        handlers::add_review(&mut self.state(), repo, pr, user, state, body)
    }

    /// `login` is a member of `org/team` (`active`, or `pending` for an
    /// invitation not yet accepted).
    pub fn add_team_member(&self, org: &str, team: &str, login: &str, member_state: &str) {
        self.state()
            .teams
            .entry(format!("{org}/{team}").to_ascii_lowercase())
            .or_default()
            .push((login.to_string(), member_state.to_string()));
    }

    /// The team `org/team` with id `id`, with access to `repos`.
    pub fn add_team(&self, org: &str, team: &str, id: u64, repos: &[&str]) {
        let mut st = self.state();
        let key = format!("{org}/{team}").to_ascii_lowercase();
        st.team_ids.insert(key.clone(), id);
        st.team_repos
            .entry(key)
            .or_default()
            .extend(repos.iter().map(|r| r.to_string()));
    }

    /// Someone with write access edits comment `id` later (its
    /// `updated_at` moves a second past its `created_at`).
    pub fn edit_comment(&self, repo: &str, id: u64, body: &str) {
        let mut st = self.state();
        let c = st
            .seeded(repo)
            .comments
            .iter_mut()
            .find(|c| c.id == id)
            .expect("fake GitHub: no such comment");
        c.body = body.to_string();
        let t = util::parse_rfc3339(&c.created_at).expect("created_at") + 1;
        c.updated_at = util::rfc3339(t);
    }

    /// Add a comment by `user` (e.g. an earlier comment the tool should
    /// update). Returns the comment id.
    pub fn add_comment(&self, repo: &str, number: u64, user: &str, body: &str) -> u64 {
        let mut st = self.state();
        issue_mut(&mut st, repo, number);
        handlers::add_comment(&mut st, repo, number, user, body)
    }

    /// Seed a commit status (posted by `octocat`) on a commit SHA or ref.
    pub fn add_status(&self, repo: &str, sha: &str, state: &str, context: &str) {
        let mut st = self.state();
        let r = st.seeded(repo).clone();
        let sha = st.resolve(&r, sha).unwrap_or_else(|| sha.to_string());
        let id = st.next_id();
        let creator = "octocat".to_string();
        st.user_id(&creator);
        st.seeded(repo).statuses.push(Status {
            id,
            sha,
            state: state.to_string(),
            context: context.to_string(),
            description: None,
            target_url: None,
            creator,
            created_at: util::now_rfc3339(),
        });
    }

    /// Seed a deployment of `sha` in `environment` with `payload` and no
    /// status (as a run that died after making it leaves it). Its id.
    pub fn add_deployment(&self, repo: &str, sha: &str, environment: &str, payload: Value) -> u64 {
        self.add_deployment_with(repo, sha, environment, payload, &[], None)
    }

    /// [`FakeGitHub::add_deployment`] with these statuses' states, oldest
    /// first, made at `created_at` (RFC 3339; default now).
    pub fn add_deployment_with(
        &self,
        repo: &str,
        sha: &str,
        environment: &str,
        payload: Value,
        states: &[&str],
        created_at: Option<&str>,
    ) -> u64 {
        let mut st = self.state();
        let id = st.next_id();
        let creator = st.bot_login.clone();
        st.seeded(repo).deployments.push(Deployment {
            id,
            sha: sha.to_string(),
            git_ref: sha.to_string(),
            environment: environment.to_string(),
            description: None,
            creator,
            created_at: created_at.map_or_else(util::now_rfc3339, str::to_string),
            payload,
            production: environment == "production",
            statuses: states.iter().map(|s| (s.to_string(), None, None)).collect(),
        });
        id
    }

    /// Replace the Actions secrets public key of a repository (e.g. with one
    /// whose private key the test holds, to decrypt secrets).
    pub fn set_public_key(&self, repo: &str, key_id: &str, key_base64: &str) {
        self.state().seeded(repo).public_key = (key_id.to_string(), key_base64.to_string());
    }

    /// The Actions secrets public key: (key_id, base64 key).
    pub fn public_key(&self, repo: &str) -> (String, String) {
        self.state().seeded(repo).public_key.clone()
    }

    /// A workflow run of `path` (`.github/workflows/x.yml`) on `main`,
    /// started by `actor` and (re-)run by `triggering_actor`, as
    /// `actions/get-workflow-run` then shows it.
    pub fn workflow_run(
        &self,
        repo: &str,
        run_id: u64,
        path: &str,
        actor: &str,
        triggering_actor: &str,
    ) {
        let mut st = self.state();
        st.user_id(actor);
        st.user_id(triggering_actor);
        let head_sha = st
            .seeded(repo)
            .refs
            .get("refs/heads/main")
            .cloned()
            .unwrap_or_else(|| "0".repeat(40));
        st.seeded(repo).workflow_runs.insert(
            run_id,
            state::WorkflowRun {
                path: path.to_string(),
                actor: actor.to_string(),
                triggering_actor: triggering_actor.to_string(),
                head_branch: "main".to_string(),
                head_sha,
                event: "workflow_dispatch".to_string(),
                at: util::now_rfc3339(),
                attempt: 1,
            },
        );
    }

    /// [`FakeGitHub::workflow_run`] on `branch`, started by `event` (a run
    /// of another branch, or of a push or a schedule).
    pub fn workflow_run_on(
        &self,
        repo: &str,
        run_id: u64,
        path: &str,
        actor: &str,
        (branch, event): (&str, &str),
    ) {
        self.workflow_run(repo, run_id, path, actor, actor);
        let mut st = self.state();
        let run = st
            .seeded(repo)
            .workflow_runs
            .get_mut(&run_id)
            .expect("just made");
        run.head_branch = branch.to_string();
        run.event = event.to_string();
    }

    /// A reviewer answers a run's deployment to `environment` (`approved`
    /// or `rejected`), as `actions/get-reviews-for-run` then lists it.
    /// [`FakeGitHub::review_run`] with the reviewer's comment (GitHub's
    /// review dialog has one; `actions/get-reviews-for-run` lists it).
    pub fn review_run_saying(
        &self,
        repo: &str,
        (run_id, environment): (u64, &str),
        login: &str,
        state: &str,
        comment: &str,
    ) {
        self.review_run(repo, run_id, environment, login, state);
        let mut st = self.state();
        if let Some(r) = st
            .seeded(repo)
            .run_reviews
            .get_mut(&run_id)
            .and_then(|rs| rs.last_mut())
        {
            r.comment = comment.to_string();
        }
    }

    pub fn review_run(&self, repo: &str, run_id: u64, environment: &str, login: &str, state: &str) {
        let mut st = self.state();
        st.user_id(login);
        st.seeded(repo)
            .run_reviews
            .entry(run_id)
            .or_default()
            .push(state::RunReview {
                environment: environment.to_string(),
                state: state.to_string(),
                login: login.to_string(),
                comment: String::new(),
                at: util::now_rfc3339(),
            });
    }
}
