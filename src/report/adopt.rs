//! What people read of an adoption: the adoption diff of a pair's plan
//! (imports, in-place updates attribute by attribute, what is refused
//! and what to do about it), the status of each pair, and a wave's
//! progress. Values are shown as the plan has them; sensitive ones are
//! `(sensitive)` already.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::Unit;
use crate::data::adoption::{AdoptionDiff, Refused, Verdict};

/// Where a pair stands in its adoption.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    NotStarted,
    /// A mapping file exists; no adoption plan yet.
    Mapped,
    /// The adoption plan imports only.
    ZeroDiff,
    /// The adoption plan also updates in place.
    ToReview,
    /// The adoption plan creates, replaces or destroys.
    Refused,
    Adopted,
    Released,
}

impl Stage {
    pub fn word(self) -> &'static str {
        match self {
            Stage::NotStarted => "not started",
            Stage::Mapped => "mapped",
            Stage::ZeroDiff => "zero-diff",
            Stage::ToReview => "to review",
            Stage::Refused => "refused",
            Stage::Adopted => "adopted",
            Stage::Released => "released",
        }
    }
}

/// One pair's adoption status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairStatus {
    pub unit: Unit,
    pub stage: Stage,
    pub detail: String,
    /// Where its adoption (or release) is read on GitHub: the pull
    /// request it was reported on or run for, else its run (`https://`
    /// only). Records older than these addresses have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// A wave's pairs as it left them, and why it halted or waits.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WaveReport {
    /// Each wave's name and its pairs reached.
    pub waves: Vec<(String, Vec<PairStatus>)>,
    /// It halted now, at a pair that is not ready: its diff or error.
    pub halted: Option<String>,
    /// An earlier halt holds it: nothing was planned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
    /// An earlier halt was lifted by this run: how.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed: Option<String>,
    /// The next wave may not start yet: why, and when it may.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
}

/// An adoption wave held by its kept halt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaveHalt {
    /// The pair it halted at.
    pub unit: Unit,
    /// When (RFC 3339).
    pub since: String,
    /// Who ran the wave that halted.
    pub by: String,
    /// Why, in a line.
    pub why: String,
}

/// A held wave in a line, with the command that says what lifts it.
pub fn halt_line(h: &WaveHalt) -> String {
    let product = h
        .unit
        .product
        .as_deref()
        .map(|p| format!(" --product {p}"))
        .unwrap_or_default();
    format!(
        "The adoption wave of {env}{of} is halted at {unit} since {since} (run by {by}): {why}. `fleetform adopt wave --env {env}{product}` says what lifts it.",
        env = h.unit.environment,
        of = h.unit.product.as_deref().map(|p| format!(" ({p})")).unwrap_or_default(),
        unit = h.unit,
        since = h.since,
        by = h.by,
        why = h.why.trim_end_matches('.'),
    )
}

/// The verb of a refused action.
pub fn refused_word(a: Refused) -> &'static str {
    match a {
        Refused::Create => "create",
        Refused::Replace => "replace",
        Refused::Destroy => "destroy",
    }
}

/// The adoption diff of `unit`'s plan, as the operator reads it.
pub fn diff_text(unit: &Unit, mapping: &Path, digest: &str, diff: &AdoptionDiff) -> String {
    let verdict = match diff.verdict() {
        _ if diff.imported().is_empty() && diff.refused.is_empty() => "nothing to import",
        Verdict::Ready => "ready: imports only, nothing changes in the cloud",
        Verdict::Review => "to review: imports and updates in place",
        Verdict::Refused => "refused: it would create, replace or destroy",
    };
    let mut t = format!(
        "Adoption plan of {unit} (mapping {}): {verdict}\n",
        mapping.display()
    );
    for a in &diff.imports {
        t.push_str(&format!("  {:<15}  {a}\n", "import"));
    }
    for u in &diff.updates {
        let how = if u.importing {
            "import + update"
        } else {
            "update"
        };
        t.push_str(&format!("  {how:<15}  {}\n", u.address));
        for a in &u.attributes {
            t.push_str(&format!(
                "  {:<15}    {}: {} -> {}\n",
                "", a.name, a.before, a.after
            ));
        }
    }
    for r in &diff.refused {
        t.push_str(&format!(
            "  {:<15}  {}\n",
            refused_word(r.action),
            r.address
        ));
        t.push_str(&format!("  {:<15}    {}\n", "", refused_hint(r, mapping)));
    }
    t.push_str(&next_step(unit, digest, diff));
    t
}

fn refused_hint(r: &crate::data::adoption::Refusal, mapping: &Path) -> String {
    match r.action {
        Refused::Create => format!(
            "not mapped to an object that exists: add `{}: <id>` under `imports:` in {}, or take it out of the module",
            r.address,
            mapping.display()
        ),
        Refused::Replace if !r.forced_by.is_empty() => format!(
            "the values differ from the object where it cannot change in place ({}): make them match the object",
            r.forced_by.join(", ")
        ),
        Refused::Replace => "the values differ from the object where it cannot change in place: make them match the object".into(),
        Refused::Destroy => "in the state but not in the module: put it back in the module, or take it out of the state".into(),
    }
}

/// What to do next, with the digest.
fn next_step(unit: &Unit, digest: &str, diff: &AdoptionDiff) -> String {
    let product = unit
        .product
        .as_deref()
        .map(|p| format!(" --product {p}"))
        .unwrap_or_default();
    let apply = format!(
        "fleetform adopt apply --customer {}{product} --env {} --plan-sha256 {digest} --reason TEXT",
        unit.customer, unit.environment
    );
    match diff.verdict() {
        _ if diff.imported().is_empty() && diff.refused.is_empty() => {
            "Nothing to adopt: the mapping names nothing the state lacks.\n".into()
        }
        Verdict::Ready => format!(
            "{} to import. A second person reviews this digest, then:\n  {apply}\n",
            diff.imported().len()
        ),
        Verdict::Review => format!(
            "{} to import, {} updated in place. Make the values match the objects and plan again, or accept the updates:\n  {apply} --accept-updates\n",
            diff.imported().len(),
            diff.updates.len()
        ),
        Verdict::Refused => format!(
            "Nothing can be applied: an adoption changes nothing in the cloud. Fix what is refused above and plan again (plan sha256:{digest}).\n"
        ),
    }
}

/// Pairs `adopt status` lists before it counts the rest by stage.
pub const STATUS_LISTED: usize = 20;

/// `adopt status` as people read it: every pair when there are few (or
/// `all`); else the pairs by stage, counted, then those an operator acts
/// on (refused, to review) listed first, the listing cut at
/// [`STATUS_LISTED`] with what was left out said.
pub fn status_text(rows: &[PairStatus], all: bool) -> String {
    if all || rows.len() <= STATUS_LISTED {
        return status_table(rows);
    }
    let order = [
        Stage::Refused,
        Stage::ToReview,
        Stage::Mapped,
        Stage::ZeroDiff,
        Stage::NotStarted,
        Stage::Adopted,
        Stage::Released,
    ];
    let mut t = format!("{} pairs: ", rows.len());
    let counts: Vec<String> = order
        .iter()
        .map(|s| (s, rows.iter().filter(|r| r.stage == *s).count()))
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{n} {}", s.word()))
        .collect();
    t.push_str(&counts.join(", "));
    t.push_str("\n\n");
    let mut listed: Vec<PairStatus> = Vec::new();
    for s in order {
        listed.extend(rows.iter().filter(|r| r.stage == s).cloned());
    }
    let left = listed.len().saturating_sub(STATUS_LISTED);
    listed.truncate(STATUS_LISTED);
    t.push_str(&status_table(&listed));
    if left > 0 {
        t.push_str(&format!(
            "… and {left} more pairs, counted above (`--all` lists every pair, `--json` for scripts; `--customer` or `--env` narrows)\n"
        ));
    }
    t
}

/// One line per pair: unit, stage, detail; under a pair whose adoption
/// has a link, the link on a line of its own (`https://` only, shown as
/// foreign text: one line, hidden characters escaped, cut when long).
pub fn status_table(rows: &[PairStatus]) -> String {
    let names: Vec<String> = rows.iter().map(|r| r.unit.to_string()).collect();
    let w = names.iter().map(String::len).max().unwrap_or(0).max(4);
    let mut t = format!("{:<w$}  {:<11}  detail\n", "pair", "status");
    for (r, name) in rows.iter().zip(&names) {
        let line = format!("{name:<w$}  {:<11}  {}", r.stage.word(), r.detail);
        t.push_str(line.trim_end());
        t.push('\n');
        if let Some(link) = r.link.as_deref().filter(|l| l.starts_with("https://")) {
            let link = crate::util::text::shown(link);
            t.push_str(&format!("{:<w$}  {:<11}  on GitHub: {link}\n", "", ""));
        }
    }
    t
}

/// A wave held by an earlier halt at `unit`: when, who, why, where the
/// pair stands now, and what lifts the halt.
pub fn held_text(
    unit: &Unit,
    (time, actor, reason): (&str, &str, &str),
    now: &PairStatus,
) -> String {
    let product = unit
        .product
        .as_deref()
        .map(|p| format!(" --product {p}"))
        .unwrap_or_default();
    format!(
        "The adoption wave of {env} is halted at {unit} since {time} (run by {actor}): {why}\n\
         {unit} is {stage} now{detail}. Nothing was planned.\n\
         Fix the pair (its mapping or values) and plan it: the wave goes on once its plan is zero-diff, or once it is adopted:\n  \
         fleetform adopt plan --customer {customer}{product} --env {env}\n\
         Or resume the wave (an operator), which plans the pair again and halts again if it still is not ready:\n  \
         fleetform adopt wave --env {env}{product} --resume\n",
        env = unit.environment,
        customer = unit.customer,
        why = reason.lines().next().unwrap_or_default(),
        stage = now.stage.word(),
        detail = match now.detail.is_empty() {
            true => String::new(),
            false => format!(" ({})", now.detail),
        },
    )
}

/// A wave's pairs, by wave, and where it halted or waits.
pub fn wave_text(r: &WaveReport) -> String {
    if let Some(held) = &r.held {
        return held.clone();
    }
    let mut t = r
        .resumed
        .as_ref()
        .map(|how| format!("{how}\n"))
        .unwrap_or_default();
    for (name, rows) in &r.waves {
        t.push_str(&format!("Wave {name}:\n"));
        for line in status_table(rows).lines() {
            t.push_str(&format!("  {line}\n"));
        }
    }
    match &r.halted {
        Some(why) => t.push_str(&format!(
            "Halted at the first pair that is not ready; the pairs after it were not planned.\n{why}"
        )),
        None => t.push_str("Every pair reached is ready or adopted.\n"),
    }
    if let Some(wait) = &r.waiting {
        t.push_str(&format!("Not yet: {wait}.\n"));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(i: usize, stage: Stage) -> PairStatus {
        PairStatus {
            unit: Unit::new(&format!("c{i:03}"), None, "staging"),
            stage,
            detail: format!("detail {i}"),
            link: None,
        }
    }

    #[test]
    fn a_link_is_shown_on_one_line_of_its_own_and_only_https() {
        let mut rows = vec![pair(1, Stage::Adopted), pair(2, Stage::Adopted)];
        rows[0].link = Some("https://github.com/o/r/pull/7\n::error::x\u{202e}".into());
        rows[1].link = Some("javascript:alert(1)".into());
        let t = status_table(&rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4, "{t}");
        assert_eq!(
            lines[2],
            "                           on GitHub: https://github.com/o/r/pull/7\\n::error::x\\u{202e}"
        );
        assert!(lines[3].starts_with("c002/staging  adopted"), "{t}");
        assert!(!t.contains("javascript"), "{t}");
    }

    #[test]
    fn a_large_fleet_is_counted_by_stage_and_what_to_act_on_comes_first() {
        let mut rows: Vec<PairStatus> = (0..600).map(|i| pair(i, Stage::Adopted)).collect();
        rows[417].stage = Stage::Refused;
        rows[3].stage = Stage::ToReview;
        let t = status_text(&rows, false);
        assert!(
            t.starts_with("600 pairs: 1 refused, 1 to review, 598 adopted\n"),
            "{t}"
        );
        let listed: Vec<&str> = t.lines().skip(3).take(2).collect();
        assert!(listed[0].starts_with("c417/staging  refused"), "{t}");
        assert!(listed[1].starts_with("c003/staging  to review"), "{t}");
        assert!(t.lines().count() < 30, "{t}");
        assert!(t.contains("… and 580 more pairs"), "{t}");
        // `--all`, or a fleet of 20 pairs or fewer: every pair.
        assert_eq!(status_text(&rows, true).lines().count(), 601);
        assert_eq!(status_text(&rows[..20], false).lines().count(), 21);
    }
}
