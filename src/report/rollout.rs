//! The `rollout status` table.

use serde::Serialize;

/// One row of `status`: a stage and how far it got.
#[derive(Debug, Serialize)]
pub struct StageRow {
    pub stage: usize,
    pub environment: String,
    pub wave: String,
    pub pairs: usize,
    pub applied: usize,
    pub failed: usize,
    pub state: String,
}

/// The table, with the rollout's id and, when halted, why.
pub fn table(id: &str, rows: &[StageRow], halted: Option<&str>) -> String {
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
            "STATE",
        ],
        &cells,
    );
    let mut s = format!("rollout {id}\n{t}");
    if let Some(reason) = halted {
        s.push_str(&format!("halted: {reason}\n"));
    }
    s
}

/// The step summary of the stage a tick job is about to run (shown to the
/// reviewer who approves the wave): the wave, its environment and its
/// customers.
pub fn next_summary(
    id: &str,
    stage: usize,
    environment: &str,
    wave: &str,
    units: &[String],
) -> String {
    use super::markdown::md_code;
    let mut s = format!(
        "### fleetform rollout {}: stage {stage}, wave {} in {}\n\n{} pair(s) to plan and apply after approval:\n\n",
        md_code(id),
        md_code(wave),
        md_code(environment),
        units.len()
    );
    for u in units {
        s.push_str(&format!("- {}\n", md_code(u)));
    }
    s
}

/// The step summary of a tick: every pair it applied or failed, with the
/// plan digest applied.
pub fn tick_summary(id: &str, lines: &[String], pairs: &[(String, String)]) -> String {
    use super::markdown::{md_code, md_escape};
    let mut s = format!("### fleetform rollout {}\n\n", md_code(id));
    for l in lines {
        s.push_str(&format!("- {}\n", md_escape(l)));
    }
    if !pairs.is_empty() {
        s.push_str("\n| pair | result |\n|---|---|\n");
        for (unit, result) in pairs {
            s.push_str(&format!("| {} | {} |\n", md_code(unit), md_escape(result)));
        }
    }
    s
}

/// The step summary of `rollout plan`: the wave's plans grouped by what
/// they do (what the reviewer approves), then every pair's digest.
pub fn plan_summary(
    id: &str,
    wave: &str,
    environment: &str,
    groups: &[super::impact::PlanGroup],
    digests: &[(String, String)],
) -> String {
    use super::markdown::{md_code, md_escape};
    let mut s = format!(
        "### fleetform rollout {}: the plans of wave {} in {}\n\n{} pair(s) in {} group(s) of the same changes; approving applies exactly these plans.\n\n",
        md_code(id),
        md_code(wave),
        md_code(environment),
        digests.len(),
        groups.len()
    );
    for (i, g) in groups.iter().enumerate() {
        let members: Vec<String> = g.members.iter().map(|u| md_code(&u.to_string())).collect();
        s.push_str(&format!(
            "**Group {}** ({} pair(s), gates: {}): {}\n\n",
            i + 1,
            g.members.len(),
            md_escape(&g.gates.join(", ")),
            members.join(", ")
        ));
        for r in &g.resources {
            s.push_str(&format!(
                "- {:?} {} {}\n",
                r.action,
                md_code(&r.address),
                r.changed
                    .iter()
                    .map(|c| md_code(c))
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
        s.push('\n');
    }
    s.push_str("| pair | plan sha256 |\n|---|---|\n");
    for (unit, digest) in digests {
        s.push_str(&format!("| {} | `{digest}` |\n", md_code(unit)));
    }
    s
}
