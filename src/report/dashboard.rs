//! The fleet dashboard (`fleetform report --html`): one self-contained
//! HTML file (inline CSS and SVG, no script, nothing fetched) that works
//! from `file://` and GitHub Pages. A grid of customers × environments,
//! the open rollouts, applies and failures per week, and a section per
//! customer with its history. Every value is escaped by the report's one
//! HTML escape (`markdown::html_environment`: hidden characters shown as
//! `\u{..}`, as everywhere), in an embedded template with strict
//! undefined.

use serde::Serialize;

use super::rollout::StageRow;

/// One customer × environment (× product) of the grid.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// `<env>` or `<product>/<env>`.
    pub place: String,
    pub applied_at: Option<String>,
    pub age_days: Option<i64>,
    pub manager_sha: Option<String>,
    pub customer_sha: Option<String>,
    pub plan: Option<String>,
    /// `drift`, `clean`, `never applied` or `error` from the last drift
    /// check.
    pub drift: Option<String>,
    /// Failed applies in the last 30 days.
    pub failures: usize,
    /// An apply refused while it waits for approvals, after the last apply.
    pub waiting: bool,
    /// The current rollout's wave holding this pair, if any.
    pub wave: Option<String>,
}

/// One event of a customer's history.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub time: String,
    pub action: String,
    pub result: String,
    pub place: String,
    pub actor: String,
    pub plan: Option<String>,
    pub detail: Option<String>,
    pub run_url: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CustomerView {
    pub slug: String,
    pub repo: Option<String>,
    pub cells: Vec<Cell>,
    /// Newest first.
    pub history: Vec<Event>,
    /// The customer's pins (the registry's `pins:`).
    pub pins: Vec<PinView>,
}

/// One pin of a customer: the hold in words, and whether it expired.
#[derive(Debug, Clone, Serialize)]
pub struct PinView {
    pub text: String,
    pub expired: bool,
}

/// Applies and failures of one ISO week.
#[derive(Debug, Clone, Serialize)]
pub struct Week {
    /// `2026-W47`
    pub label: String,
    pub applies: usize,
    pub failures: usize,
}

#[derive(Debug, Serialize)]
pub struct RolloutView {
    pub id: String,
    pub manager_sha: String,
    pub halted: Option<String>,
    pub stages: Vec<StageRow>,
}

#[derive(Debug, Serialize)]
pub struct Dashboard {
    pub generated_at: String,
    pub source: String,
    /// Column headings of the grid: every place any customer has.
    pub places: Vec<String>,
    pub customers: Vec<CustomerView>,
    pub rollouts: Vec<RolloutView>,
    pub weeks: Vec<Week>,
}

/// A bar of the weekly chart, in SVG units.
#[derive(Debug, Serialize)]
struct Bar {
    label: String,
    x: usize,
    applies_h: usize,
    failures_h: usize,
    applies: usize,
    failures: usize,
}

const CHART_HEIGHT: usize = 120;
const BAR_STEP: usize = 56;

fn bars(weeks: &[Week]) -> Vec<Bar> {
    let max = weeks
        .iter()
        .map(|w| w.applies.max(w.failures))
        .max()
        .unwrap_or(0)
        .max(1);
    weeks
        .iter()
        .enumerate()
        .map(|(i, w)| Bar {
            label: w.label.clone(),
            x: 40 + i * BAR_STEP,
            applies_h: w.applies * CHART_HEIGHT / max,
            failures_h: w.failures * CHART_HEIGHT / max,
            applies: w.applies,
            failures: w.failures,
        })
        .collect()
}

const TEMPLATE: &str = include_str!("templates/dashboard.html.j2");

/// The whole page.
pub fn html(d: &Dashboard) -> Result<String, minijinja::Error> {
    let mut env = super::markdown::html_environment();
    env.add_template("dashboard.html", TEMPLATE)?;
    let chart = bars(&d.weeks);
    let width = 40 + chart.len().max(1) * BAR_STEP;
    env.get_template("dashboard.html")?
        .render(minijinja::context! {
            d => minijinja::Value::from(minijinja::value::Serde(d)),
            chart => minijinja::Value::from(minijinja::value::Serde(&chart)),
            chart_width => width,
            chart_height => CHART_HEIGHT,
        })
}
