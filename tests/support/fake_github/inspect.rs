//! Inspecting the fake GitHub after a run: statuses, deployments,
//! comments, dispatches, check runs, secrets, issues and pull requests,
//! files, the requests and their limits, violations and faults.

use super::*;

impl FakeGitHub {
    /// Statuses posted for a commit (SHA or ref), oldest first.
    /// The latest status of `context` on a commit.
    pub fn status_of(&self, repo: &str, sha: &str, context: &str) -> Option<Status> {
        self.statuses(repo, sha)
            .into_iter()
            .rev()
            .find(|s| s.context == context)
    }

    /// The deployments of `repo`, oldest first.
    pub fn deployments(&self, repo: &str) -> Vec<Deployment> {
        let st = self.state();
        st.repo(repo)
            .map(|r| r.deployments.clone())
            .unwrap_or_default()
    }

    pub fn statuses(&self, repo: &str, sha: &str) -> Vec<Status> {
        let st = self.state();
        let Some(r) = st.repo(repo) else {
            return Vec::new();
        };
        let sha = st.resolve(r, sha).unwrap_or_else(|| sha.to_string());
        r.statuses
            .iter()
            .filter(|s| s.sha == sha)
            .cloned()
            .collect()
    }

    /// The combined state GitHub would report: `failure`, `pending` or
    /// `success` (pending when there are no statuses).
    pub fn combined_state(&self, repo: &str, sha: &str) -> String {
        let latest = {
            let st = self.state();
            let Some(r) = st.repo(repo) else {
                return "pending".into();
            };
            let sha = st.resolve(r, sha).unwrap_or_else(|| sha.to_string());
            render::latest_statuses(r, &sha)
                .iter()
                .map(|s| s.state.clone())
                .collect::<Vec<_>>()
        };
        let states: Vec<&str> = latest.iter().map(String::as_str).collect();
        render::combine(&states).to_string()
    }

    /// Comments on an issue or pull request, oldest first.
    pub fn comments(&self, repo: &str, number: u64) -> Vec<Comment> {
        let st = self.state();
        st.repo(repo)
            .map(|r| {
                r.comments
                    .iter()
                    .filter(|c| c.issue_number == number)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every comment in every repository: (repository, comment), oldest
    /// first within each repository.
    pub fn all_comments(&self) -> Vec<(String, Comment)> {
        let st = self.state();
        st.repos
            .iter()
            .flat_map(|(name, r)| r.comments.iter().map(move |c| (name.clone(), c.clone())))
            .collect()
    }

    /// Bodies of the repository dispatch requests (`event_type`,
    /// `client_payload`), in order.
    pub fn dispatches(&self, repo: &str) -> Vec<Value> {
        let st = self.state();
        st.repo(repo)
            .map(|r| r.dispatches.clone())
            .unwrap_or_default()
    }

    /// The workflow dispatch events sent to `repo`, in order (workflow
    /// path, ref, sha, inputs, sender).
    pub fn workflow_dispatches(&self, repo: &str) -> Vec<Value> {
        let st = self.state();
        st.repo(repo)
            .map(|r| r.workflow_dispatches.clone())
            .unwrap_or_default()
    }

    /// Bodies of the `checks/create` requests, in order.
    pub fn check_runs(&self, repo: &str) -> Vec<Value> {
        let st = self.state();
        st.repo(repo)
            .map(|r| r.check_runs.clone())
            .unwrap_or_default()
    }

    /// Actions secrets, by name.
    pub fn secrets(&self, repo: &str) -> Vec<Secret> {
        let st = self.state();
        st.repo(repo)
            .map(|r| {
                r.secrets
                    .iter()
                    .map(|(name, s)| Secret {
                        name: name.clone(),
                        encrypted_value: s.encrypted_value.clone(),
                        key_id: s.key_id.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Issues (not pull requests), by number.
    pub fn issues(&self, repo: &str) -> Vec<Issue> {
        let st = self.state();
        let Some(r) = st.repo(repo) else {
            return Vec::new();
        };
        r.issues
            .values()
            .filter(|i| i.pull.is_none())
            .map(to_issue)
            .collect()
    }

    /// An issue or pull request (as an issue) by number.
    pub fn issue(&self, repo: &str, number: u64) -> Option<Issue> {
        let st = self.state();
        st.repo(repo)?.issues.get(&number).map(to_issue)
    }

    /// Pull requests, by number.
    pub fn pulls(&self, repo: &str) -> Vec<Pull> {
        let st = self.state();
        let Some(r) = st.repo(repo) else {
            return Vec::new();
        };
        r.issues
            .values()
            .filter(|i| i.pull.is_some())
            .map(|i| to_pull(&st, i))
            .collect()
    }

    pub fn pull(&self, repo: &str, number: u64) -> Option<Pull> {
        let st = self.state();
        let rec = st.repo(repo)?.issues.get(&number)?;
        rec.pull.as_ref().map(|_| to_pull(&st, rec))
    }

    /// Content of `path` at a branch, tag or commit SHA, if it exists.
    pub fn file_at(&self, repo: &str, reference: &str, path: &str) -> Option<String> {
        let st = self.state();
        let r = st.repo(repo)?;
        let sha = st.resolve(r, reference)?;
        let bytes = st.commits.get(&sha)?.files.get(path.trim_matches('/'))?;
        Some(String::from_utf8_lossy(bytes).into_owned())
    }

    /// What `git fetch` of `reference` gets: the commit's id and the Git
    /// objects of it and its ancestors, `depth` commits deep on every
    /// path (all of them without one; GitHub's `fetch-depth: 0`), and the
    /// commits whose parents were left out (`.git/shallow`).
    pub fn git_history(
        &self,
        repo: &str,
        reference: &str,
        depth: Option<usize>,
    ) -> Option<(String, Vec<git_objects::GitObject>, Vec<String>)> {
        let st = self.state();
        let head = st.resolve(st.repo(repo)?, reference)?;
        let mut objects = Vec::new();
        let mut shallow = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut todo = vec![(head.clone(), 1usize)];
        while let Some((sha, level)) = todo.pop() {
            if !seen.insert(sha.clone()) {
                continue;
            }
            let c = st.commits.get(&sha)?;
            let trees = git_objects::tree_objects(&c.files);
            let tree = trees.last()?.id.clone();
            objects.extend(trees);
            objects.push(git_objects::commit_object(
                &tree, &c.parents, c.secs, &c.message,
            ));
            if depth.is_some_and(|d| level >= d) {
                if !c.parents.is_empty() {
                    shallow.push(sha.clone());
                }
                continue;
            }
            todo.extend(c.parents.iter().map(|p| (p.clone(), level + 1)));
        }
        Some((head, objects, shallow))
    }

    /// Every ref of `repo` (`refs/heads/…`, `refs/tags/…`) and its commit.
    pub fn git_refs(&self, repo: &str) -> BTreeMap<String, String> {
        let st = self.state();
        st.repo(repo)
            .map(|r| {
                r.refs
                    .iter()
                    .filter(|(k, _)| k.starts_with("refs/heads/") || k.starts_with("refs/tags/"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// All files at a branch, tag or commit SHA.
    pub fn files_at(&self, repo: &str, reference: &str) -> BTreeMap<String, String> {
        let st = self.state();
        let Some(r) = st.repo(repo) else {
            return BTreeMap::new();
        };
        st.resolve(r, reference)
            .and_then(|sha| st.commits.get(&sha))
            .map(|c| {
                c.files
                    .iter()
                    .map(|(p, b)| (p.clone(), String::from_utf8_lossy(b).into_owned()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every request received since the start or the last
    /// [`reset_counters`](Self::reset_counters), in order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state().requests.clone()
    }

    /// How many requests were answered 304 Not Modified.
    pub fn not_modified_count(&self) -> usize {
        self.state().not_modified
    }

    pub fn request_count(&self) -> usize {
        self.state().requests.len()
    }

    /// How many requests were received apart from those whose path starts
    /// with `prefix` (e.g. the relay's redelivery sweep, which runs on its
    /// own clock beside the route a test counts).
    pub fn request_count_but(&self, prefix: &str) -> usize {
        self.state()
            .requests
            .iter()
            .filter(|r| !r.path.starts_with(prefix))
            .count()
    }

    /// The requests received, one `METHOD path?query -> status` line
    /// each, for a failed count's message.
    pub fn request_lines(&self) -> String {
        self.state()
            .requests
            .iter()
            .map(|r| {
                let q = if r.query.is_empty() { "" } else { "?" };
                format!("{} {}{q}{} -> {}", r.method, r.path, r.query, r.status)
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Requests counted against the primary rate limit so far (what
    /// `x-ratelimit-used` says; a 304 is not counted).
    pub fn rate_limit_used(&self) -> u64 {
        self.state().rate_limit_used
    }

    /// Requests other than `GET` (faulted ones included).
    pub fn write_count(&self) -> usize {
        self.state()
            .requests
            .iter()
            .filter(|r| r.method != "GET")
            .count()
    }

    /// Enforce these secondary limits (GitHub's are enforced from the
    /// start; scaled down or up as a test needs, with a comment saying
    /// why when up) from now on, counting afresh: a request over one is
    /// answered 403 with `retry-after` (or without,
    /// [`FakeGitHub::limit_answers_without_retry_after`]).
    pub fn enforce_limits(&self, limits: Limits) {
        self.state().limits = Some(limits::Enforcer::new(limits));
    }

    /// No secondary limits from now on; `why` the test needs more than
    /// GitHub allows (a load the scheduler is not part of).
    pub fn lift_limits(&self, why: &str) {
        assert!(!why.trim().is_empty(), "say why the limits are lifted");
        self.state().limits = None;
    }

    /// ETags that stay the same when the token changes, kinder than
    /// GitHub (whose ETags differ per token); `why` a test needs that.
    pub fn etags_across_tokens(&self, why: &str) {
        assert!(!why.trim().is_empty(), "say why ETags outlive the token");
        self.state().etags_per_token = false;
    }

    /// Limit answers without `retry-after` from now on (GitHub documents
    /// both: without it, a client waits at least a minute, doubling).
    pub fn limit_answers_without_retry_after(&self) {
        self.state().limits_without_retry_after = true;
    }

    /// Enforce the primary limit per token: `limit` requests per `window`
    /// ([`limits::Primary`]).
    pub fn enforce_primary_limit(&self, limit: u64, window: std::time::Duration) {
        self.state().primary = Some(limits::Primary::new(limit, window));
    }

    /// Enforce GitHub's concurrency limit per token: at most `limit`
    /// requests in flight, each held `hold` (or until
    /// [`FakeGitHub::release_held`]); one over it is answered 403 with
    /// `retry-after: retry_after` ([`limits::Concurrency`]).
    pub fn enforce_concurrency(&self, limit: usize, hold: Duration, retry_after: u64) {
        *lock(&self.inner.concurrency) = Some(limits::Concurrency::new(limit, hold, retry_after));
    }

    /// Concurrency-limit answers given, the most requests of one token
    /// seen in flight together, and the requests in flight now.
    pub fn concurrency(&self) -> (usize, usize, usize) {
        lock(&self.inner.concurrency)
            .as_ref()
            .map_or((0, 0, 0), |c| (c.answers, c.most, c.in_flight()))
    }

    /// Answer the requests held by [`FakeGitHub::enforce_concurrency`] now,
    /// and hold none from now on.
    pub fn release_held(&self) {
        if let Some(c) = lock(&self.inner.concurrency).as_mut() {
            c.released = true;
        }
    }

    /// Primary-limit answers given (403, remaining 0).
    pub fn primary_limit_answers(&self) -> usize {
        self.state().primary.as_ref().map_or(0, |p| p.answers)
    }

    /// Requests answered with a secondary-limit 403 by
    /// [`FakeGitHub::enforce_limits`].
    pub fn limit_answers(&self) -> usize {
        self.state().limits.as_ref().map_or(0, |l| l.answers)
    }

    /// Forget the request log (violations are kept).
    pub fn reset_counters(&self) {
        self.state().requests.clear();
    }

    pub fn violations(&self) -> Vec<Violation> {
        self.state().violations.clone()
    }

    /// Return and forget the violations (for tests that provoke them).
    pub fn take_violations(&self) -> Vec<Violation> {
        std::mem::take(&mut self.state().violations)
    }

    /// Panic, listing them, if there were violations.
    pub fn assert_clean(&self) {
        let violations = self.violations();
        if !violations.is_empty() {
            panic!("{}", describe(&violations));
        }
    }

    // ----- faults -----

    /// Queue a fault: `gh.inject(Fault::status(502).times(2))` makes the
    /// next two requests fail with 502. Faults are consumed in order, one
    /// per matching request (see [`Fault::on`]). Requests the fake rejects
    /// as violations consume none; faulted requests are still logged, with
    /// [`RequestRecord::fault`] set.
    pub fn inject(&self, injection: impl Into<Injection>) {
        let injection = injection.into();
        let mut st = self.state();
        for _ in 0..injection.times {
            st.faults.push_back(QueuedFault {
                method: injection.method.clone(),
                path_contains: injection.path_contains.clone(),
                fault: injection.fault.clone(),
            });
        }
    }

    /// Same as `inject(fault.on(method, path_contains))`.
    pub fn inject_matching(&self, method: &str, path_contains: &str, fault: Fault) {
        self.inject(fault.on(method, path_contains));
    }

    /// Faults not consumed yet.
    pub fn pending_faults(&self) -> usize {
        self.state().faults.len()
    }

    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }
}
