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
    /// `today`, `3 days ago`.
    pub applied_ago: Option<String>,
    pub manager_sha: Option<String>,
    pub customer_sha: Option<String>,
    pub plan: Option<String>,
    /// `drift`, `clean`, `never applied` or `error` from the last drift
    /// check.
    pub drift: Option<String>,
    /// The last recovery drill (`state drill`): `proven restorable 3
    /// days ago`, or `restore drill FAILED today`.
    pub restorable: Option<String>,
    /// Failed applies in the last 30 days.
    pub failures: usize,
    /// An apply refused while it waits for approvals, after the last apply.
    pub waiting: bool,
    /// The current rollout's wave holding this pair, if any.
    pub wave: Option<String>,
    /// Whether that rollout is halted.
    pub halted: bool,
    /// The last apply of the pair failed (nothing applied since).
    pub last_apply_failed: bool,
    /// Secrets of the last apply due for rotation (`secrets.max_age_days`):
    /// `name (N days old)` or `name (age unknown)`, never a value.
    pub stale_secrets: Vec<String>,
    /// The one state the cell shows (see [`State`]), and its word.
    pub state: State,
    pub state_word: &'static str,
}

/// A pair's state on the grid: one per cell, with a colour and a word,
/// worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// The last apply failed.
    Failed,
    /// The last drift check found the cloud differs from the last apply.
    Drifted,
    /// A rollout holding this pair is halted.
    Halted,
    /// An apply waits for approvals.
    Waiting,
    NeverApplied,
    Applied,
}

impl State {
    /// Every state, worst first, with its word (the legend's order).
    pub const ALL: [State; 6] = [
        State::Failed,
        State::Drifted,
        State::Halted,
        State::Waiting,
        State::NeverApplied,
        State::Applied,
    ];

    pub fn word(self) -> &'static str {
        match self {
            State::Failed => "failed",
            State::Drifted => "drifted",
            State::Halted => "in a halted wave",
            State::Waiting => "waiting for approval",
            State::NeverApplied => "never applied",
            State::Applied => "applied",
        }
    }

    /// What the state means, for the legend.
    fn meaning(self) -> &'static str {
        match self {
            State::Failed => "the last apply failed",
            State::Drifted => "the last drift check found the cloud changed",
            State::Halted => "a halted rollout holds it: see Rollouts",
            State::Waiting => "an apply waits for approvals",
            State::NeverApplied => "nothing applied yet",
            State::Applied => "applied, no drift found",
        }
    }

    /// The worst state that holds for a cell's facts.
    pub fn of(cell: &Cell) -> State {
        if cell.last_apply_failed {
            State::Failed
        } else if cell.drift.as_deref() == Some("drift") {
            State::Drifted
        } else if cell.halted {
            State::Halted
        } else if cell.waiting {
            State::Waiting
        } else if cell.applied_at.is_none() {
            State::NeverApplied
        } else {
            State::Applied
        }
    }
}

/// A legend entry.
#[derive(Debug, Serialize)]
struct LegendEntry {
    state: State,
    word: &'static str,
    meaning: &'static str,
}

/// How long ago, in words: `today`, `1 day ago`, `12 days ago`.
pub fn days_ago(days: i64) -> String {
    match days {
        i64::MIN..=0 => "today".into(),
        1 => "1 day ago".into(),
        n => format!("{n} days ago"),
    }
}

/// Puts the customers with the worst cell first (then as they were).
pub fn worst_first(customers: &mut [CustomerView]) {
    customers.sort_by_key(|c| {
        c.cells
            .iter()
            .map(|x| x.state)
            .min()
            .unwrap_or(State::Applied)
    });
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
    /// The customer's reference of its settings (with `sync.form`).
    pub reference_url: Option<String>,
    pub cells: Vec<Cell>,
    /// Newest first.
    pub history: Vec<Event>,
    /// The customer's pins (the registry's `pins:`).
    pub pins: Vec<PinView>,
    /// Its cost per month, oldest first (empty when no apply kept an
    /// estimate).
    pub cost: Vec<CostMonth>,
}

/// One month of a customer's cost, from the deployment records (each
/// apply keeps its plan's Infracost estimate).
#[derive(Debug, Clone, Serialize)]
pub struct CostMonth {
    /// `2026-11`
    pub month: String,
    /// What is deployed at the month's end costs per month: `$1,361.31`.
    pub total: String,
    /// The month's applies' changes summed: `+$1,361.31/month`.
    pub change: String,
}

/// One pin of a customer: the hold in words, and whether it expired.
#[derive(Debug, Clone, Serialize)]
pub struct PinView {
    pub text: String,
    /// For the grid: `pinned at v1.4` or `pin expired (v1.4)`.
    pub short: String,
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
    /// The last whole-fleet drift run's causes (the records), if any.
    pub drift_causes: Option<super::drift_causes::CausesRecord>,
    /// Pairs being brought under fleetform (`adopt`), when there are any.
    pub adoptions: Vec<super::adopt::PairStatus>,
    /// Adoption waves held by their halt.
    pub adoption_halts: Vec<super::adopt::WaveHalt>,
    /// Response times against `sla:` over the last 30 days, when it
    /// promises any.
    pub sla: Option<super::sla::SlaView>,
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
            legend => minijinja::Value::from(minijinja::value::Serde(
                State::ALL
                    .iter()
                    .map(|&state| LegendEntry {
                        state,
                        word: state.word(),
                        meaning: state.meaning(),
                    })
                    .collect::<Vec<_>>()
            )),
        })
}
