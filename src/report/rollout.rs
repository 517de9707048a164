//! The `rollout status` table, the job summaries of the rollout workflow's
//! steps, and how a rollout's times read (RFC 3339 and how far off).

use serde::Serialize;

use crate::data::summary::{Action, PlanSummary};

/// One row of `status`: a stage and how far it got.
#[derive(Debug, Serialize)]
pub struct StageRow {
    pub stage: usize,
    pub environment: String,
    pub wave: String,
    pub pairs: usize,
    pub applied: usize,
    pub failed: usize,
    pub skipped: usize,
    pub state: String,
}

/// A Unix time as people read it: RFC 3339 in UTC (to the minute when
/// it has no seconds) and how far from `now` (`2026-11-23T05:00Z, in 42
/// min`).
pub fn when(at: u64, now: u64) -> String {
    let stamp = i64::try_from(at)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map(|t| match at % 60 {
            0 => t.strftime("%Y-%m-%dT%H:%MZ").to_string(),
            _ => t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        })
        .unwrap_or_else(|| format!("{at} (Unix seconds)"));
    let span = |d: u64| -> String {
        let (days, hours, mins) = (d / 86_400, d % 86_400 / 3600, d % 3600 / 60);
        match (days, hours, mins) {
            (0, 0, 0) => format!("{d} s"),
            (0, 0, m) => format!("{m} min"),
            (0, h, 0) => format!("{h} h"),
            (0, h, m) => format!("{h} h {m} min"),
            (d, 0, _) => format!("{d} d"),
            (d, h, _) => format!("{d} d {h} h"),
        }
    };
    match at.cmp(&now) {
        std::cmp::Ordering::Greater => format!("{stamp}, in {}", span(at - now)),
        std::cmp::Ordering::Less => format!("{stamp}, {} ago", span(now - at)),
        std::cmp::Ordering::Equal => format!("{stamp}, now"),
    }
}

/// The table, with the rollout's id and, when halted, why: first, so it
/// is what one reads.
pub fn table(id: &str, rows: &[StageRow], halted: Option<&str>, note: Option<&str>) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.stage.to_string(),
                r.environment.clone(),
                r.wave.clone(),
                r.pairs.to_string(),
                r.applied.to_string(),
                r.failed.to_string(),
                r.skipped.to_string(),
                r.state.clone(),
            ]
        })
        .collect();
    let t = crate::output::table(
        &[
            "STAGE",
            "ENVIRONMENT",
            "WAVE",
            "PAIRS",
            "APPLIED",
            "FAILED",
            "SKIPPED",
            "STATE",
        ],
        &cells,
    );
    let mut s = String::new();
    if let Some(reason) = halted {
        s.push_str(&format!("HALTED: {reason}\n"));
    }
    s.push_str(&format!("rollout {id}\n"));
    if let Some(n) = note {
        s.push_str(&format!("{n}\n"));
    }
    s.push_str(&t);
    s
}

/// The step summary of the stage a tick job is about to run (shown to the
/// reviewer who approves the wave): the wave, its environment, whether
/// its applies wait for an approval (`auto_apply`) and its customers
/// (about ten lines, the rest counted).
pub fn next_summary(
    id: &str,
    stage: usize,
    environment: &str,
    wave: &str,
    units: &[String],
    auto_apply: bool,
) -> String {
    use super::markdown::md_code;
    let when = if auto_apply {
        "to plan and apply (`auto_apply: true`: no approval)"
    } else {
        "to plan, then apply once approved"
    };
    let mut s = format!(
        "### fleetform rollout {}: stage {stage}, wave {} in {}\n\n{} {when}:\n\n",
        md_code(id),
        md_code(wave),
        md_code(environment),
        crate::util::text::count(units.len(), "pair", "pairs")
    );
    let shown = if units.len() > super::lists::LIST_LINES {
        super::lists::LIST_LINES - 1
    } else {
        units.len()
    };
    for u in &units[..shown] {
        s.push_str(&format!("- {}\n", md_code(u)));
    }
    if units.len() > shown {
        s.push_str(&format!("- and {} more\n", units.len() - shown));
    }
    s
}

/// Where a rollout stands when no stage runs now, for the step summary
/// of `rollout status --summary`.
pub enum Idle<'a> {
    /// Halted, and why.
    Halted(&'a str),
    /// A stage is next but waits (why, with what to do).
    Waiting(&'a str),
    /// No stage is left (how the rollout ended).
    Done(&'a str),
}

/// The step summary when no stage runs: a halt first with the next step
/// (resume or roll back), what a waiting stage waits for, or that there
/// is nothing to do. Never empty.
pub fn idle_summary(id: &str, idle: Idle<'_>) -> String {
    use super::markdown::{md_code, md_escape};
    match idle {
        Idle::Halted(reason) => format!(
            "> [!CAUTION]\n> **Rollout {} is halted:** {}\n\n### fleetform rollout {}: nothing runs until it resumes\n\n**Next step:** fix what halted it, then run {} (failed pairs are tried again), or roll it back with {}.\n",
            md_code(id),
            super::doctor::md_text(reason),
            md_code(id),
            md_code(&format!("fleetform rollout resume --id {id}")),
            md_code(&format!("fleetform rollout rollback --id {id}"))
        ),
        Idle::Waiting(why) => format!(
            "### fleetform rollout {}: nothing runs now\n\nThe next stage waits: {}\n",
            md_code(id),
            super::doctor::md_text(why)
        ),
        Idle::Done(how) => format!(
            "### fleetform rollout {}: nothing to do\n\n{}; no stage is left to run.\n",
            md_code(id),
            md_escape(how)
        ),
    }
}

/// The step summary of a tick: a halt first (not one line among others),
/// then what it said, then every pair it applied, failed or skipped, with
/// the plan digest applied.
pub fn tick_summary(
    id: &str,
    halted: Option<&str>,
    lines: &[String],
    pairs: &[(String, String)],
) -> String {
    use super::markdown::md_code;
    let mut s = String::new();
    if let Some(reason) = halted {
        s.push_str(&format!(
            "> [!CAUTION]\n> **Rollout {} is halted:** {}\n\n",
            md_code(id),
            super::doctor::md_text(reason)
        ));
    }
    s.push_str(&format!("### fleetform rollout {}\n\n", md_code(id)));
    // fleetform's own quoting as code, never a literal backtick.
    let text = super::doctor::md_text;
    for l in lines.iter().filter(|l| !l.starts_with("halted: ")) {
        s.push_str(&format!("- {}\n", text(l)));
    }
    if !pairs.is_empty() {
        // A line per pair: a result holds a full digest, which a table
        // cell keeps on one line, wider than a phone.
        let mut table = String::new();
        for (unit, result) in pairs {
            table.push_str(&format!("- {}: {}\n", md_code(unit), text(result)));
        }
        let summary = format!(
            "{} and the result of each",
            crate::util::text::count(pairs.len(), "pair", "pairs")
        );
        s.push('\n');
        s.push_str(&super::markdown::folded(pairs.len(), &summary, &table));
    }
    s
}

/// One pair planned for the wave's review.
pub struct PlannedRow<'a> {
    pub pair: String,
    pub summary: &'a PlanSummary,
}

/// The step summary of `rollout plan`: the wave's plans grouped by what
/// they do (what the reviewer approves), each group's destroys and
/// replacements in the same CAUTION as the pull request comment, then
/// every pair's creates, updates, replacements, destroys and digest.
/// The summary is read in the manager repo, so addresses are opaque
/// (`super::opaque`: no `for_each` key, changed attributes cut to their
/// top level); the customers' plans keep the full ones.
pub fn plan_summary(
    id: &str,
    wave: &str,
    environment: &str,
    groups: &[super::impact::PlanGroup],
    pairs: &[PlannedRow<'_>],
    auto_apply: bool,
) -> String {
    use super::markdown::{md_code, md_escape};
    let changes = pairs.iter().filter(|p| p.summary.has_changes).count();
    let then = match (changes, auto_apply) {
        (0, _) => "no plan changes anything: the tick applies nothing.",
        (_, true) => "the tick applies exactly these plans (`auto_apply: true`: no approval).",
        (_, false) => "approving applies exactly these plans.",
    };
    let mut s = format!(
        "### fleetform rollout {}: the plans of wave {} in {}\n\n{} in {} of the same changes; {then}\n\n",
        md_code(id),
        md_code(wave),
        md_code(environment),
        crate::util::text::count(pairs.len(), "pair", "pairs"),
        crate::util::text::count(groups.len(), "group", "groups")
    );
    // The wave's total change per month: every pair's estimate summed.
    if let Some(total) =
        crate::data::cost::CostSum::of(pairs.iter().map(|p| p.summary.cost.as_ref()))
    {
        s.push_str(&format!(
            "The wave's cost: **{}** in all (Infracost's estimates summed over its pairs).\n\n",
            md_escape(&total.text())
        ));
    }
    for (i, g) in groups.iter().enumerate() {
        // A group of hundreds names its first few; every pair is in the
        // list below.
        let shown = g.members.len().min(super::lists::LIST_LINES);
        let mut members: Vec<String> = g.members[..shown]
            .iter()
            .map(|u| md_code(&u.to_string()))
            .collect();
        if shown < g.members.len() {
            members.push(format!(
                "and {} more (in the list below)",
                g.members.len() - shown
            ));
        }
        let cost = g.cost.as_ref().map_or(String::new(), |c| {
            format!(", cost: {}", md_escape(&c.text()))
        });
        s.push_str(&format!(
            "**Group {}** ({}, gates: {}{cost}): {}\n\n",
            i + 1,
            crate::util::text::count(g.members.len(), "pair", "pairs"),
            md_escape(&g.gates_phrase()),
            members.join(", ")
        ));
        s.push_str(&opaque_resources(&g.resources));
        s.push('\n');
    }
    // A line per pair (a table of six columns scrolls sideways on a
    // phone), its plan's digest short; the full digests follow in a code
    // block, to copy.
    let mut list = String::new();
    let mut full = String::new();
    for p in pairs {
        let x = p.summary;
        list.push_str(&format!(
            "- {}: {} to create, {} to update, {} to replace, {} to destroy; plan {}\n",
            md_code(&p.pair),
            x.create,
            x.update,
            x.replace,
            x.delete,
            md_code(&x.plan_sha256.chars().take(12).collect::<String>())
        ));
        full.push_str(&format!("{}  {}\n", p.pair, x.plan_sha256));
    }
    let summary = format!(
        "{} with the changes of each and the digest of its plan",
        crate::util::text::count(pairs.len(), "pair", "pairs")
    );
    s.push_str(&super::markdown::folded(pairs.len(), &summary, &list));
    if !pairs.is_empty() {
        let fence = super::markdown::fence_for(&full);
        s.push_str(&format!(
            "\n<details><summary>The full digest of each plan (SHA-256)</summary>\n\n{fence}\n{full}{fence}\n\n</details>\n"
        ));
    }
    s
}

/// A group's resources as opaque lines: the CAUTION for what is
/// destroyed or replaced, then every line with its count and the
/// top-level attributes it changes.
fn opaque_resources(resources: &[crate::data::summary::ResourceChange]) -> String {
    use super::markdown::md_code;
    let lines = super::opaque::lines(resources);
    let times = |n: usize| {
        if n > 1 {
            format!(" ({n})")
        } else {
            String::new()
        }
    };
    let count = |a: Action| resources.iter().filter(|r| r.action == a).count();
    let (delete, replace) = (count(Action::Delete), count(Action::Replace));
    let mut s = String::new();
    // Runs of `count` indexes are one line; lines that read the same
    // once opaque are already one with their count.
    let items = super::lists::collapse(
        lines
            .iter()
            .map(|l| (l.action, l.address.as_str(), l.count)),
    );
    let lost: Vec<super::lists::Item> = items
        .iter()
        .filter(|i| matches!(i.action, Action::Delete | Action::Replace))
        .cloned()
        .collect();
    if !lost.is_empty() {
        s.push_str(&super::comment::caution_lines(&lost, delete, replace));
        s.push('\n');
    }
    // The changed attributes of the lines an item stands for.
    let changed = |i: &super::lists::Item| -> Vec<String> {
        let mut c: Vec<String> = i
            .sources
            .iter()
            .flat_map(|at| lines[*at].changed.iter().cloned())
            .collect();
        c.sort();
        c.dedup();
        c
    };
    let (shown, rest) = super::lists::capped(&items);
    for i in shown {
        let attrs: String = changed(i)
            .iter()
            .map(|c| format!(" {}", md_code(c)))
            .collect();
        s.push_str(&format!(
            "- {} {}{}{attrs}\n",
            i.action.word(),
            md_code(&i.address),
            times(i.count),
        ));
    }
    if rest > 0 {
        s.push_str(&format!(
            "- and {} more (each pair's counts are in the table below)\n",
            crate::util::text::count(rest, "resource", "resources")
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_rfc3339_and_how_far_off() {
        // 2026-11-23T05:00:00Z
        let at = 1_795_410_000;
        assert_eq!(when(at, at - 42 * 60), "2026-11-23T05:00Z, in 42 min");
        assert_eq!(when(at + 30, at - 3 * 3600), "2026-11-23T05:00:30Z, in 3 h");
        assert_eq!(when(at, at + 90_000), "2026-11-23T05:00Z, 1 d 1 h ago");
        assert_eq!(when(at, at), "2026-11-23T05:00Z, now");
    }

    fn summary(customer: &str, actions: &[(&str, Action)]) -> PlanSummary {
        let count = |a: Action| actions.iter().filter(|(_, x)| *x == a).count();
        PlanSummary {
            create: count(Action::Create),
            update: count(Action::Update),
            delete: count(Action::Delete),
            replace: count(Action::Replace),
            resources: actions
                .iter()
                .map(|(address, action)| crate::data::summary::ResourceChange {
                    address: address.to_string(),
                    action: *action,
                    resource_type: None,
                    changed: Vec::new(),
                    kinds: Vec::new(),
                    tags: None,
                })
                .collect(),
            has_changes: true,
            plan_sha256: format!("{customer:0>64}"),
            ..PlanSummary::of(customer, "production")
        }
    }

    /// What an approver of a wave signs off: each pair's counts and the
    /// pull request comment's CAUTION for what is destroyed or replaced.
    #[test]
    fn the_wave_plan_shows_counts_and_the_caution() {
        let lost = summary(
            "acme",
            &[
                ("fakecloud_bucket.logs", Action::Delete),
                ("fakecloud_network.main", Action::Replace),
                ("fakecloud_instance.web[0]", Action::Update),
            ],
        );
        let kept = summary("globex", &[("fakecloud_instance.web[0]", Action::Create)]);
        let unit = |c: &str| crate::config::Unit::new(c, None, "production");
        let planned = vec![
            (unit("acme"), lost.clone(), "a".to_string()),
            (unit("globex"), kept.clone(), "g".to_string()),
        ];
        let groups = super::super::impact::group_plans(planned);
        let rows = [
            PlannedRow {
                pair: "acme/production".into(),
                summary: &lost,
            },
            PlannedRow {
                pair: "globex/production".into(),
                summary: &kept,
            },
        ];
        let md = plan_summary("r1", "rest", "production", &groups, &rows, false);
        assert!(
            md.contains("> [!CAUTION]\n> This plan **destroys 1** and **replaces 1** resources:\n> - destroy `fakecloud_bucket.logs`\n> - replace `fakecloud_network.main`\n"),
            "{md}"
        );
        assert_eq!(
            md.matches("[!CAUTION]").count(),
            1,
            "only the group that loses something: {md}"
        );
        assert!(
            md.contains(
                "- `acme/production`: 0 to create, 1 to update, 1 to replace, 1 to destroy; plan `"
            ),
            "{md}"
        );
        assert!(
            md.contains("- `globex/production`: 1 to create, 0 to update, 0 to replace, 0 to destroy; plan `"),
            "{md}"
        );
    }

    /// The summary is read in the manager repo: no `for_each` key (a
    /// customer value) of any address or changed map, in the CAUTION or
    /// the list; resources that read the same once opaque are counted.
    #[test]
    fn the_wave_plan_hides_resource_keys() {
        let mut s = summary(
            "acme",
            &[
                (
                    r#"module.site["acme-secret.example"].fakecloud_bucket.b["k1"]"#,
                    Action::Delete,
                ),
                (r#"fakecloud_dns.r["vip-customer"]"#, Action::Update),
                (r#"fakecloud_dns.r["other-customer"]"#, Action::Update),
            ],
        );
        s.resources[1].changed = vec!["/tags/customer-tag-key".into()];
        let unit = crate::config::Unit::new("acme", None, "production");
        let groups = super::super::impact::group_plans(vec![(unit, s.clone(), "a".into())]);
        let rows = [PlannedRow {
            pair: "acme/production".into(),
            summary: &s,
        }];
        let md = plan_summary("r1", "rest", "production", &groups, &rows, false);
        for secret in [
            "acme-secret",
            "k1",
            "vip-customer",
            "other-customer",
            "customer-tag-key",
        ] {
            assert!(!md.contains(secret), "{secret} in {md}");
        }
        assert!(
            md.contains("> - destroy `module.site[…].fakecloud_bucket.b[…]`\n"),
            "{md}"
        );
        assert!(
            md.contains("- update `fakecloud_dns.r[…]` (2) `/tags`\n"),
            "{md}"
        );
    }

    #[test]
    fn a_halt_is_the_first_line() {
        let t = table("r1", &[], Some("2 pairs failed"), None);
        assert!(t.starts_with("HALTED: 2 pairs failed\n"), "{t}");
        let md = tick_summary("r1", Some("2 failed"), &["halted: 2 failed".into()], &[]);
        assert!(
            md.starts_with("> [!CAUTION]\n> **Rollout `r1` is halted:** 2 failed"),
            "{md}"
        );
        assert!(!md.contains("- halted"), "{md}");
    }

    /// Issue #52: a wave of 100 destroyed instances and a few updates
    /// reads as one line per run of indexes, in Terraform's words, the
    /// destroys first; an `auto_apply` wave never says "approving".
    #[test]
    fn a_wave_plan_collapses_indexes_and_names_actions_as_terraform_does() {
        let mut actions: Vec<(String, Action)> = vec![("fakecloud_dns.a".into(), Action::Update)];
        actions.extend((0..100).map(|i| (format!("fakecloud_vm.web[{i}]"), Action::Delete)));
        actions.push(("fakecloud_bucket.new".into(), Action::Create));
        let refs: Vec<(&str, Action)> = actions.iter().map(|(a, x)| (a.as_str(), *x)).collect();
        let s = summary("acme", &refs);
        let unit = crate::config::Unit::new("acme", None, "production");
        let groups = super::super::impact::group_plans(vec![(unit, s.clone(), "a".into())]);
        let rows = [PlannedRow {
            pair: "acme/production".into(),
            summary: &s,
        }];
        let md = plan_summary("r1", "rest", "production", &groups, &rows, true);
        assert!(
            md.contains("> - destroy `fakecloud_vm.web[0..99]` (100)\n"),
            "{md}"
        );
        // The group's lines (each pair's own line starts with its name).
        let list: Vec<&str> = md
            .lines()
            .filter(|l| l.starts_with("- ") && !l.starts_with("- `"))
            .collect();
        assert_eq!(
            list,
            [
                "- destroy `fakecloud_vm.web[0..99]` (100)",
                "- update `fakecloud_dns.a`",
                "- create `fakecloud_bucket.new`",
            ],
            "{md}"
        );
        for debug in ["Delete", "Update", "Create"] {
            assert!(!md.contains(debug), "{debug}: {md}");
        }
        assert!(
            md.contains("the tick applies exactly these plans (`auto_apply: true`: no approval)"),
            "{md}"
        );
        assert!(!md.contains("approving"), "{md}");
        let reviewed = plan_summary("r1", "rest", "production", &groups, &rows, false);
        assert!(
            reviewed.contains("approving applies exactly these plans"),
            "{reviewed}"
        );
        let next = next_summary(
            "r1",
            2,
            "production",
            "rest",
            &["acme/production".into()],
            true,
        );
        assert!(
            !next.contains("approval:") && next.contains("no approval"),
            "{next}"
        );
        let units: Vec<String> = (0..30).map(|i| format!("c{i}/production")).collect();
        let next = next_summary("r1", 2, "production", "rest", &units, false);
        assert!(next.contains("then apply once approved"), "{next}");
        assert_eq!(
            next.lines().filter(|l| l.starts_with("- ")).count(),
            10,
            "{next}"
        );
        assert!(next.contains("- and 21 more\n"), "{next}");
    }

    /// Issue #52: when no stage runs, the summary still says why and what
    /// to do next.
    #[test]
    fn a_halted_or_idle_rollout_still_writes_a_summary() {
        let md = idle_summary("r1", Idle::Halted("stage 2: 3 of 10 pairs failed"));
        assert!(
            md.starts_with(
                "> [!CAUTION]\n> **Rollout `r1` is halted:** stage 2: 3 of 10 pairs failed"
            ),
            "{md}"
        );
        assert!(md.contains("`fleetform rollout resume --id r1`"), "{md}");
        assert!(md.contains("`fleetform rollout rollback --id r1`"), "{md}");
        let md = idle_summary("r1", Idle::Waiting("baking until noon"));
        assert!(
            md.contains("nothing runs now") && md.contains("baking until noon"),
            "{md}"
        );
        // fleetform's own quoting is code in the tick's table, never a
        // literal backtick (`\``).
        let md = tick_summary(
            "r1",
            Some("stage `2` failed"),
            &["planned `acme/staging`".into()],
            &[("acme/staging".into(), "skipped: `acme` is pinned".into())],
        );
        assert!(
            md.contains("- `acme/staging`: skipped: `acme` is pinned\n"),
            "{md}"
        );
        assert!(md.contains("- planned `acme/staging`\n"), "{md}");
        assert!(md.contains("halted:** stage `2` failed"), "{md}");
        assert!(!md.contains("\\`"), "{md}");
        let md = idle_summary("r1", Idle::Done("The rollout is finished"));
        assert!(
            md.contains("nothing to do") && md.contains("The rollout is finished"),
            "{md}"
        );
    }

    /// A wave of 300 pairs: the tick's and the plan's tables fold under
    /// their count, and a group names its first ten pairs and counts the
    /// rest, so the groups and their CAUTION stay on the first screen.
    #[test]
    fn a_wave_of_hundreds_folds_its_tables_and_cuts_its_groups() {
        let pairs: Vec<(String, String)> = (0..300)
            .map(|i| (format!("c{i}/production"), "applied".to_string()))
            .collect();
        let md = tick_summary("r1", None, &["stage 1 applied".into()], &pairs);
        assert!(
            md.contains("<details><summary>300 pairs and the result of each</summary>\n\n- `c0/production`: applied\n"),
            "{md}"
        );
        assert!(md.trim_end().ends_with("</details>"), "{md}");
        let one = tick_summary("r1", None, &[], &pairs[..20]);
        assert!(!one.contains("<details>"), "{one}");

        let plans: Vec<PlanSummary> = (0..300)
            .map(|i| {
                summary(
                    &format!("c{i}"),
                    &[("fakecloud_instance.web[0]", Action::Update)],
                )
            })
            .collect();
        let unit = |i: usize| crate::config::Unit::new(&format!("c{i}"), None, "production");
        let planned = plans
            .iter()
            .enumerate()
            .map(|(i, p)| (unit(i), p.clone(), "x".to_string()))
            .collect();
        let groups = super::super::impact::group_plans(planned);
        let rows: Vec<PlannedRow<'_>> = plans
            .iter()
            .enumerate()
            .map(|(i, p)| PlannedRow {
                pair: format!("c{i}/production"),
                summary: p,
            })
            .collect();
        let md = plan_summary("r1", "rest", "production", &groups, &rows, false);
        let group = md.lines().find(|l| l.starts_with("**Group 1**")).unwrap();
        assert_eq!(group.matches("/production`").count(), 10, "{group}");
        assert!(
            group.ends_with(", and 290 more (in the list below)"),
            "{group}"
        );
        assert!(
            md.contains("<details><summary>300 pairs with the changes of each and the digest of its plan</summary>"),
            "{md}"
        );
    }
}
