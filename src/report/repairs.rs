//! What the approver of a drift run's repairs reads in the run's summary:
//! each pair, whether it is repaired or only proposed, the resources its
//! sealed plan changes, the plan's digest, the pair's drift issue, and the
//! list's digest (what a confirming operator names). A line per pair that
//! wraps on a phone, not a code block of short digests nor a table wider
//! than the screen.

use super::markdown::{link, md_code_cell, md_escape};

/// One pair of the list.
pub struct RepairRow<'a> {
    /// `customer/environment` or `customer/product/environment`.
    pub pair: &'a str,
    /// `repair`, `propose`, or step 2's outcome.
    pub state: &'a str,
    /// `action address` for each resource the plan changes.
    pub changes: &'a [String],
    pub plan_sha256: Option<&'a str>,
    /// The pair's drift issue, when the drift run keeps issues.
    pub issue: Option<&'a str>,
    /// Why it is proposed, or why its plan failed.
    pub why: Option<&'a str>,
}

/// Changes listed in a cell before the rest is counted.
const LISTED: usize = 5;

/// The summary: a heading, a line per pair, the list's digest and how it is
/// let through (`apply_environment`: where the repairs job runs).
pub fn summary(
    environment: Option<&str>,
    rows: &[RepairRow<'_>],
    list_sha256: &str,
    apply_environment: Option<&str>,
) -> String {
    let mut md = match environment {
        Some(env) => format!("### Repair plans: {}\n\n", md_escape(env)),
        None => "### Repair plans\n\n".to_string(),
    };
    if rows.is_empty() {
        md.push_str("Nothing to repair.\n");
        return md;
    }
    // A line per pair: a table of six columns, a full digest in one,
    // scrolls sideways on a phone; a line wraps (its digest too).
    let mut lines = String::new();
    for r in rows {
        let mut parts = vec![md_escape(r.state), changes_cell(r.changes)];
        if let Some(d) = r.plan_sha256 {
            parts.push(format!("plan {}", md_code_cell(&format!("sha256:{d}"))));
        }
        if let Some(u) = r.issue {
            parts.push(link("drift issue", u));
        }
        if let Some(why) = r.why {
            parts.push(format!("why: {}", md_escape(why)));
        }
        lines.push_str(&format!(
            "- {}: {}\n",
            md_code_cell(r.pair),
            parts.join("; ")
        ));
    }
    // Hundreds of pairs fold under their count: the digest the approver
    // names stays on the first screen.
    let summary = format!(
        "{} with the changes of each, its plan and its drift issue",
        crate::util::text::count(rows.len(), "pair", "pairs")
    );
    md.push_str(&super::markdown::folded(rows.len(), &summary, &lines));
    md.push_str(&format!("\n**List digest** `sha256:{list_sha256}`"));
    match apply_environment {
        Some(apply) => md.push_str(&format!(
            ": the repairs job applies exactly the pairs marked `repair` in this list once a reviewer of `{}` approves it; where that environment can have no reviewers, another operator confirms this run with this digest. Proposed pairs are not applied.\n",
            md_escape(apply)
        )),
        None => md.push_str(": what a confirming operator names. Proposed pairs are not applied.\n"),
    }
    md
}

/// Up to [`LISTED`] changes, then how many more.
fn changes_cell(changes: &[String]) -> String {
    if changes.is_empty() {
        return "no change listed".into();
    }
    let mut shown: Vec<String> = changes
        .iter()
        .take(LISTED)
        .map(|c| match c.split_once(' ') {
            Some((action, address)) => format!("{} {}", md_escape(action), md_code_cell(address)),
            None => md_code_cell(c),
        })
        .collect();
    if changes.len() > LISTED {
        shown.push(format!("and {} more", changes.len() - LISTED));
    }
    shown.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_per_pair_with_its_changes_issue_and_full_digest() {
        let changes: Vec<String> = (0..7)
            .map(|i| format!("update fakecloud_network.n{i}"))
            .collect();
        let digest = "ab".repeat(32);
        let rows = [
            RepairRow {
                pair: "acme/staging",
                state: "repair",
                changes: &changes,
                plan_sha256: Some(&digest),
                issue: Some("https://github.com/p/m/issues/7"),
                why: None,
            },
            RepairRow {
                pair: "globex/staging",
                state: "propose",
                changes: &[],
                plan_sha256: None,
                issue: None,
                why: Some("a resource would be destroyed: <b>@team</b>"),
            },
        ];
        let md = summary(Some("staging"), &rows, "cd12", Some("staging-apply"));
        assert!(
            md.starts_with("### Repair plans: staging\n\n- `acme/staging`: repair; "),
            "{md}"
        );
        assert!(
            md.contains("- `acme/staging`: repair; update `fakecloud_network.n0`, update "),
            "{md}"
        );
        assert!(md.contains(", and 2 more; plan `sha256:"), "{md}");
        assert!(md.contains(&format!("`sha256:{digest}`")), "{md}");
        assert!(
            md.contains("[drift issue](https://github.com/p/m/issues/7)"),
            "{md}"
        );
        assert!(md.contains("&lt;b&gt;@\u{200b}team&lt;/b&gt;"), "{md}");
        assert!(
            md.contains("**List digest** `sha256:cd12`: the repairs job"),
            "{md}"
        );
        assert!(md.contains("`staging-apply`"), "{md}");
    }

    /// Six hundred pairs: the list folds under its count and the list
    /// digest the approver names follows it, not six hundred rows down.
    #[test]
    fn hundreds_of_pairs_fold_and_the_digest_follows() {
        let pairs: Vec<String> = (0..600).map(|i| format!("c{i}/staging")).collect();
        let rows: Vec<RepairRow<'_>> = pairs
            .iter()
            .map(|p| RepairRow {
                pair: p,
                state: "repair",
                changes: &[],
                plan_sha256: None,
                issue: None,
                why: None,
            })
            .collect();
        let md = summary(Some("staging"), &rows, "cd12", None);
        assert!(
            md.starts_with("### Repair plans: staging\n\n<details><summary>600 pairs with the changes of each, its plan and its drift issue</summary>\n\n- `c0/staging`: repair"),
            "{md}"
        );
        assert!(
            md.contains("\n</details>\n\n**List digest** `sha256:cd12`"),
            "{md}"
        );
        let md = summary(Some("staging"), &rows[..20], "cd12", None);
        assert!(!md.contains("<details>"), "{md}");
    }
}
