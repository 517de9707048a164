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
    /// The reviewer's comment (GitHub's review dialog has one).
    pub comment: String,
}

/// Who must not approve their own apply: the run's actor (for a
/// `repository_dispatch`, whoever's token sent it) and the triggering actor
/// of a re-run; for a rollout's wave also the authors of the change
/// rolled out (the merged pull request's author and who pushed it).
/// Logins compare case-insensitively, as GitHub's do.
#[derive(Debug, Clone, Default)]
pub struct Dispatchers {
    run: Vec<String>,
    authors: Vec<String>,
}

fn logins<I: IntoIterator<Item = Option<String>>>(logins: I) -> Vec<String> {
    logins
        .into_iter()
        .flatten()
        .filter(|l| !l.trim().is_empty())
        .collect()
}

fn listed(logins: &[String]) -> String {
    logins
        .iter()
        .map(|d| format!("`{d}`"))
        .collect::<Vec<_>>()
        .join(" and ")
}

impl Dispatchers {
    pub fn new<I: IntoIterator<Item = Option<String>>>(run: I) -> Dispatchers {
        Dispatchers {
            run: logins(run),
            authors: Vec::new(),
        }
    }

    /// Also the authors of the change being applied: their approval is
    /// self-review too.
    pub fn with_authors<I: IntoIterator<Item = Option<String>>>(self, authors: I) -> Dispatchers {
        Dispatchers {
            authors: logins(authors),
            ..self
        }
    }

    pub fn contains(&self, login: &str) -> bool {
        self.run
            .iter()
            .chain(&self.authors)
            .any(|d| d.eq_ignore_ascii_case(login))
    }

    fn shown(&self) -> String {
        let run = match self.run.is_empty() {
            true => "unknown (GITHUB_ACTOR is not set)".to_string(),
            false => listed(&self.run),
        };
        match self.authors.is_empty() {
            true => format!("{run}, who started the run"),
            false => format!(
                "{run}, who started the run, or {}, who wrote or pushed the change",
                listed(&self.authors)
            ),
        }
    }
}

/// [`approver`], where the approving review must also name `digest`: its
/// comment holds `/fleetform approve <prefix>` with a prefix of it (at
/// least [`MIN_DIGEST_PREFIX`] hex digits). In a run that applies several
/// customers' plans (a relay's batch), GitHub's one approval of an
/// environment releases every job waiting on it: naming each plan's
/// digest is what approves that plan, and no other.
pub fn approver_naming(
    reviews: &[RunReview],
    apply_environment: &str,
    dispatchers: &Dispatchers,
    run_id: u64,
    (digest, customer): (&str, &str),
) -> Result<String, String> {
    let login = approver(reviews, apply_environment, dispatchers, run_id)?;
    let named = reviews.iter().rev().find(|r| {
        r.login.eq_ignore_ascii_case(&login)
            && r.environments
                .iter()
                .any(|e| e.eq_ignore_ascii_case(apply_environment))
    });
    let digest = digest.to_ascii_lowercase();
    match named {
        Some(r) if approved_prefixes(&r.comment).iter().any(|p| digest.starts_with(p.as_str())) => {
            Ok(login)
        }
        _ => Err(format!(
            "`{login}` approved the deployment to `{apply_environment}` in run {run_id}, which applies several customers' plans (a batch), without naming {customer}'s plan: one approval releases every job of the environment, so each plan is approved by its digest: the review's comment holds `{APPROVE_COMMAND} {}` (its plan job's summary shows it); re-run this job and approve it so",
            &digest[..digest.len().min(MIN_DIGEST_PREFIX)]
        )),
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
             {} (self-review); {fix}",
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
            comment: String::new(),
        }
    }

    #[test]
    fn in_a_batch_the_approval_names_each_plan() {
        let digest = "ab".repeat(32);
        let mut r = review("production-apply", "ops-carol", "approved");
        let refused = approver_naming(
            &[r.clone()],
            "production-apply",
            &by(&["bot"]),
            7,
            (&digest, "acme"),
        );
        assert!(refused.unwrap_err().contains("without naming acme's plan"));
        r.comment = format!(
            "/fleetform approve {}\n/fleetform approve 0123456789ab",
            &digest[..12]
        );
        assert_eq!(
            approver_naming(
                &[r.clone()],
                "production-apply",
                &by(&["bot"]),
                7,
                (&digest, "acme")
            ),
            Ok("ops-carol".into())
        );
        let other = "cd".repeat(32);
        assert!(approver_naming(
            &[r],
            "production-apply",
            &by(&["bot"]),
            7,
            (&other, "globex")
        )
        .is_err());
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
        assert!(
            e.contains("`relay-bot` and `ops-dan`, who started the run"),
            "{e}"
        );
    }

    #[test]
    fn the_authors_of_the_change_do_not_approve_it() {
        let reviews = [
            review("production-apply", "Octo-Author", "approved"),
            review("production-apply", "ops-pusher", "approved"),
        ];
        let authors = by(&["tick-bot"]).with_authors([
            Some("octo-author".to_string()),
            Some("OPS-PUSHER".to_string()),
        ]);
        let e = approver(&reviews, "production-apply", &authors, 7).unwrap_err();
        assert!(
            e.contains("`tick-bot`, who started the run, or `octo-author` and `OPS-PUSHER`, who wrote or pushed the change (self-review)"),
            "{e}"
        );
        let more = [
            reviews.to_vec(),
            vec![review("production-apply", "ops-carol", "approved")],
        ]
        .concat();
        assert_eq!(
            approver(&more, "production-apply", &authors, 7),
            Ok("ops-carol".into())
        );
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

/// The command an approver writes on the pull request.
pub const APPROVE_COMMAND: &str = "/fleetform approve";
/// The fewest hex digits of the plan digest an approval must quote.
pub const MIN_DIGEST_PREFIX: usize = 12;

/// One comment or review on the customer's pull request, as far as an
/// approval goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrNote {
    pub login: String,
    pub body: String,
    /// When it was written (RFC 3339).
    pub at: String,
    /// Edited after it was written (comments only): an approval must be
    /// the approver's own unchanged words, not text someone with write
    /// access changed later.
    pub edited: bool,
    /// Written by a bot or an app.
    pub bot: bool,
    /// `APPROVED`, … for reviews; `None` for comments.
    pub review_state: Option<String>,
}

/// The digest prefixes a text approves: lines `/fleetform approve <hex>`,
/// lowercase hex of at least [`MIN_DIGEST_PREFIX`] digits.
pub fn approved_prefixes(body: &str) -> Vec<String> {
    body.lines()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix(APPROVE_COMMAND)?;
            let word = rest.split_whitespace().next()?;
            let hex = word.strip_prefix("sha256:").unwrap_or(word);
            (hex.len() >= MIN_DIGEST_PREFIX
                && hex.len() <= 64
                && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| hex.to_ascii_lowercase())
        })
        .collect()
}

/// Who approved `digest` on the pull request, in the order they did:
/// a comment (not edited) or an approving review quoting the command with
/// a prefix of `digest`, written after `planned_at`, not by a bot, and not
/// by the author unless `allow_author`. Each login once.
pub fn approvers_of(
    notes: &[PrNote],
    digest: &str,
    planned_at: Option<jiff::Timestamp>,
    author: Option<&str>,
    allow_author: bool,
) -> Vec<String> {
    counted(notes, digest, planned_at, author, allow_author)
        .into_iter()
        .map(|n| n.login.clone())
        .collect()
}

/// Each approver's first note that counts, in the notes' order.
fn counted<'n>(
    notes: &'n [PrNote],
    digest: &str,
    planned_at: Option<jiff::Timestamp>,
    author: Option<&str>,
    allow_author: bool,
) -> Vec<&'n PrNote> {
    let mut out: Vec<&PrNote> = Vec::new();
    for n in notes {
        let counts = !n.bot
            && !n.edited
            && n.review_state.as_deref().is_none_or(|s| s == "APPROVED")
            && (allow_author || !author.is_some_and(|a| a.eq_ignore_ascii_case(&n.login)))
            && newer(&n.at, planned_at)
            && approved_prefixes(&n.body)
                .iter()
                .any(|p| digest.to_ascii_lowercase().starts_with(p.as_str()));
        if counts && !out.iter().any(|o| o.login.eq_ignore_ascii_case(&n.login)) {
            out.push(n);
        }
    }
    out
}

/// When the plan was approved: the time of the `required`-th approval
/// among `approvers` (those of [`approvers_of`] who may approve), each
/// counted at its first note that approves; the last one's when fewer.
/// GitHub's time of the review or comment, as the note keeps it.
pub fn approved_at(
    notes: &[PrNote],
    (digest, planned_at): (&str, Option<jiff::Timestamp>),
    (author, allow_author): (Option<&str>, bool),
    approvers: &[String],
    required: usize,
) -> Option<String> {
    let mut times: Vec<jiff::Timestamp> = counted(notes, digest, planned_at, author, allow_author)
        .into_iter()
        .filter(|n| approvers.iter().any(|a| a.eq_ignore_ascii_case(&n.login)))
        .filter_map(|n| n.at.parse().ok())
        .collect();
    times.sort();
    let i = required.max(1).min(times.len()).checked_sub(1)?;
    Some(times[i].to_string())
}

/// Written after the plan; a time that does not parse never counts.
fn newer(at: &str, planned_at: Option<jiff::Timestamp>) -> bool {
    match (at.parse::<jiff::Timestamp>(), planned_at) {
        (Ok(t), Some(p)) => t >= p,
        (Ok(_), None) => true,
        (Err(_), _) => false,
    }
}

#[cfg(test)]
mod pr_tests {
    use super::*;

    const DIGEST: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn note(login: &str, body: &str, at: &str) -> PrNote {
        PrNote {
            login: login.into(),
            body: body.into(),
            at: at.into(),
            edited: false,
            bot: false,
            review_state: None,
        }
    }

    #[test]
    fn prefixes_are_long_hex_on_their_own_line() {
        assert_eq!(
            approved_prefixes("/fleetform approve 0123456789ab"),
            ["0123456789ab"]
        );
        assert_eq!(
            approved_prefixes("ok\n  /fleetform approve sha256:0123456789AB  lgtm"),
            ["0123456789ab"]
        );
        assert!(approved_prefixes("/fleetform approve 0123456789a").is_empty());
        assert!(approved_prefixes("please /fleetform approve 0123456789ab").is_empty());
        assert!(approved_prefixes("/fleetform approve 0123456789zz").is_empty());
        assert!(approved_prefixes("> /fleetform approve").is_empty());
    }

    #[test]
    fn only_fresh_unedited_approvals_of_this_digest_by_others_count() {
        let planned = "2026-11-01T10:00:00Z".parse().ok();
        let ok = "/fleetform approve 0123456789ab";
        let mut edited = note("erin", ok, "2026-11-01T11:00:00Z");
        edited.edited = true;
        let mut bot = note("ci-bot", ok, "2026-11-01T11:00:00Z");
        bot.bot = true;
        let mut changes = note("frank", ok, "2026-11-01T11:00:00Z");
        changes.review_state = Some("CHANGES_REQUESTED".into());
        let mut review = note("gina", &format!("lgtm\n{ok}"), "2026-11-01T11:00:00Z");
        review.review_state = Some("APPROVED".into());
        let notes = vec![
            note("alice", ok, "2026-11-01T11:00:00Z"),
            note("alice", ok, "2026-11-01T12:00:00Z"),
            note("bob", ok, "2026-11-01T09:00:00Z"),
            note(
                "carol",
                "/fleetform approve ffffffffffff",
                "2026-11-01T11:00:00Z",
            ),
            note("author", ok, "2026-11-01T11:00:00Z"),
            note("dave", ok, "not a time"),
            edited,
            bot,
            changes,
            review,
        ];
        assert_eq!(
            approvers_of(&notes, DIGEST, planned, Some("author"), false),
            ["alice", "gina"]
        );
        assert_eq!(
            approvers_of(&notes, DIGEST, planned, Some("AUTHOR"), true),
            ["alice", "author", "gina"]
        );
    }
}
