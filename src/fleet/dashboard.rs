//! The dashboard's aggregation (`fleetform report --html`): per active
//! customer, each pair's cell (what was applied, when, by which manager
//! and customer commits, drift, failed applies, approvals waiting, its
//! rollout wave, secrets due for rotation) and its history, and applies per
//! week, from the deployment records and the audit events. The page is
//! [`crate::report::dashboard`]'s; reading the events and the rollouts is
//! the command's.

use std::collections::BTreeMap;

use crate::audit::Entry;
use crate::config::Activity;
use crate::config::{Customer, Manager, Registry, Unit};
use crate::error::{Error, Result};
use crate::report::dashboard::{Cell, CustomerView, Event, State, Week};

/// Events kept per customer in its history.
const HISTORY: usize = 500;
/// Weeks in the chart.
const WEEKS: i64 = 12;
const DAY: i64 = 86_400;

/// Every active customer's view, worst first, and the places (columns)
/// in order of first appearance. `wave_of`: the open rollouts' wave of
/// each pair, and whether its rollout is halted; `server`: GitHub's web
/// address, for the customers' links.
pub fn customers(
    manager: &Manager,
    registry: &Registry,
    store: &crate::records::Store,
    events: &[Entry],
    (wave_of, server): (&BTreeMap<Unit, (String, bool)>, &str),
    now: i64,
) -> Result<(Vec<CustomerView>, Vec<String>)> {
    let by_customer = by_customer(events);
    let mut customers = registry
        .customers
        .iter()
        .filter(|c| c.takes_part(Activity::Shown))
        .map(|c| customer_view(manager, store, c, &by_customer.about(c), wave_of, now))
        .map(|v| {
            v.map(|mut v| {
                v.reference_url = reference_url(manager, v.repo.as_deref(), server);
                v
            })
        })
        .collect::<Result<Vec<_>>>()?;
    crate::report::dashboard::worst_first(&mut customers);
    let mut places: Vec<String> = Vec::new();
    for c in &customers {
        for cell in &c.cells {
            if !places.contains(&cell.place) {
                places.push(cell.place.clone());
            }
        }
    }
    Ok((customers, places))
}

/// The events, by the customer they name: one pass over them, so
/// finding each customer's costs its own events, not every event of the
/// fleet once per customer.
struct ByCustomer<'a>(BTreeMap<&'a str, Vec<(usize, &'a Entry)>>);

fn by_customer(events: &[Entry]) -> ByCustomer<'_> {
    let mut map: BTreeMap<&str, Vec<(usize, &Entry)>> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        if let Some(c) = e.customer.as_deref() {
            map.entry(c).or_default().push((i, e));
        }
    }
    ByCustomer(map)
}

impl<'a> ByCustomer<'a> {
    /// The events about `c`, in their order (audit lines name the slug;
    /// refusals may name the customer's repo).
    fn about(&self, c: &Customer) -> Vec<&'a Entry> {
        let mut mine: Vec<(usize, &Entry)> = Vec::new();
        let names = std::iter::once(c.slug.as_str()).chain(c.repo.as_deref());
        for name in names.collect::<std::collections::BTreeSet<_>>() {
            mine.extend(self.0.get(name).into_iter().flatten().copied());
        }
        mine.sort_by_key(|(i, _)| *i);
        mine.into_iter().map(|(_, e)| e).collect()
    }
}

fn place_of(product: Option<&str>, env: Option<&str>) -> String {
    match (product, env) {
        (Some(p), Some(e)) => format!("{p}/{e}"),
        (None, Some(e)) => e.to_string(),
        _ => String::new(),
    }
}

/// `c`'s view from `mine`, the events about it (oldest first).
fn customer_view(
    manager: &Manager,
    store: &crate::records::Store,
    c: &Customer,
    mine: &[&Entry],
    wave_of: &BTreeMap<Unit, (String, bool)>,
    now: i64,
) -> Result<CustomerView> {
    // The customer's deployment records, read once: each cell's last
    // apply and the cost history come from them.
    let cache = crate::records::segments::cache_dir(manager);
    let records = crate::records::deploy_segments::read_customer(store, &c.slug, Some(&cache))
        .map_err(|e| Error::failed(format!("reading the deployment records of {}: {e}", c.slug)))?;
    let units = units_of(manager, c);
    let mut cells = Vec::new();
    for unit in &units {
        let last =
            crate::records::last_in(&records, unit).map_err(|e| Error::failed(e.to_string()))?;
        cells.push(cell(manager, last, unit, mine, wave_of, now));
    }
    let history = mine
        .iter()
        .rev()
        .take(HISTORY)
        .map(|e| Event {
            time: e.time.clone(),
            action: e.action.clone(),
            result: e.result.clone(),
            place: place_of(e.product.as_deref(), e.environment.as_deref()),
            actor: e.actor.clone(),
            plan: e
                .plan_sha256
                .as_deref()
                .map(|p| p.chars().take(12).collect()),
            detail: e.detail.clone(),
            run_url: e.run_url.clone().filter(|u| u.starts_with("https://")),
        })
        .collect();
    let today = jiff::Timestamp::from_second(now)
        .unwrap_or_else(|_| jiff::Timestamp::now())
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let pins = c
        .pins
        .iter()
        .map(|p| {
            let expired = p.expired_days(today).is_some();
            let product = p
                .product
                .as_deref()
                .map(|x| format!("{x} "))
                .unwrap_or_default();
            crate::report::dashboard::PinView {
                text: p.describe_on(today),
                short: match expired {
                    true => format!("{product}pin expired ({})", p.git_ref),
                    false => format!("{product}pinned at {}", p.git_ref),
                },
                expired,
            }
        })
        .collect();
    let cost = super::cost_history::months_of(&records, &c.slug, &units, now);
    Ok(CustomerView {
        slug: c.slug.clone(),
        repo: c.repo.clone(),
        reference_url: None,
        cells,
        history,
        pins,
        cost,
    })
}

/// Where the customer reads what it can change: the reference page
/// `sync.form` carries beside its variables file, on its repository's
/// default branch on `server`. None without `sync.form`, a repository or
/// (with products) one variables file to put it beside.
fn reference_url(manager: &Manager, repo: Option<&str>, server: &str) -> Option<String> {
    let repo = repo?;
    if !manager.config.sync.form || manager.has_products() {
        return None;
    }
    Some(format!(
        "{}/{repo}/blob/HEAD/{}",
        server.trim_end_matches('/'),
        manager.config.customer.reference_page()
    ))
}

/// The secrets of the pair's last apply due for rotation now, in words.
fn stale_secrets(
    manager: &Manager,
    env: &str,
    last: Option<&crate::records::Deployment>,
    now: i64,
) -> Vec<String> {
    let Some(d) = last else {
        return Vec::new();
    };
    let today = jiff::Timestamp::from_second(now)
        .unwrap_or_else(|_| jiff::Timestamp::now())
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let files = d
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.content.as_str()));
    crate::values::secret_ages::stale_of_record(manager, env, files, today)
        .into_iter()
        .map(|a| match a.age_days {
            Some(n) => format!("{} ({n} days old)", a.name),
            None => format!("{} (age unknown)", a.name),
        })
        .collect()
}

/// The customer's pairs in fleetform.yml's order: each enabled
/// environment, per product the registry lets it have.
pub fn units_of(manager: &Manager, c: &Customer) -> Vec<Unit> {
    let envs: Vec<&str> = manager
        .environment_names()
        .into_iter()
        .filter(|e| c.environments.iter().any(|x| x == e))
        .collect();
    if !manager.has_products() {
        return envs.iter().map(|e| Unit::new(&c.slug, None, e)).collect();
    }
    let mut out = Vec::new();
    for view in manager.products() {
        let name = view.product.clone().unwrap_or_default();
        if c.products
            .as_ref()
            .is_some_and(|allowed| !allowed.contains(&name))
        {
            continue;
        }
        for e in envs.iter().filter(|e| view.environment(e).is_some()) {
            out.push(Unit::new(&c.slug, Some(&name), e));
        }
    }
    out
}

fn cell(
    manager: &Manager,
    last: Option<crate::records::Deployment>,
    unit: &Unit,
    mine: &[&Entry],
    wave_of: &BTreeMap<Unit, (String, bool)>,
    now: i64,
) -> Cell {
    let here: Vec<&&Entry> = mine
        .iter()
        .filter(|e| {
            e.environment.as_deref() == Some(unit.environment.as_str())
                && e.product.as_deref() == unit.product.as_deref()
        })
        .collect();
    // A drift check older than the last apply says nothing of today: the
    // apply put the pair back to its configuration.
    let applied_after = |t: &str| last.as_ref().is_some_and(|d| d.time.as_str() >= t);
    let drift = here
        .iter()
        .rev()
        .find(|e| e.action == "drift")
        .filter(|e| !applied_after(&e.time))
        .map(|e| {
            match e.result.as_str() {
                "changes" => "drift",
                "unapplied" => "not applied",
                "no-changes" => "clean",
                "never-applied" => "never applied",
                _ => "error",
            }
            .to_string()
        });
    let restorable = restorable(&here, now);
    let (failures, last_apply_failed) = applies_here(&here, now);
    let last_apply = last.as_ref().map(|d| d.time.clone()).unwrap_or_default();
    let waiting = mine.iter().any(|e| {
        e.action == "refusal"
            && e.time > last_apply
            && e.detail.as_deref().is_some_and(|d| {
                d.contains("waiting for approval") && d.contains(&unit.environment)
            })
    });
    let age = |t: &str| {
        t.parse::<jiff::Timestamp>()
            .ok()
            .map(|t| (now - t.as_second()) / DAY)
    };
    let age_days = last.as_ref().and_then(|d| age(&d.time));
    let wave = wave_of.get(unit).cloned();
    let mut cell = Cell {
        place: unit.place(),
        applied_at: last.as_ref().map(|d| d.time.clone()),
        age_days,
        applied_ago: age_days.map(crate::report::dashboard::days_ago),
        manager_sha: last.as_ref().and_then(|d| {
            d.manager_sha
                .as_deref()
                .map(|s| s.chars().take(12).collect())
        }),
        customer_sha: last.as_ref().and_then(|d| {
            d.customer_sha
                .as_deref()
                .map(|s| s.chars().take(12).collect())
        }),
        plan: last
            .as_ref()
            .map(|d| d.plan_sha256.chars().take(12).collect()),
        drift,
        restorable,
        failures,
        waiting,
        halted: wave.as_ref().is_some_and(|w| w.1),
        wave: wave.map(|w| w.0),
        last_apply_failed,
        stale_secrets: stale_secrets(manager, &unit.environment, last.as_ref(), now),
        state: State::Applied,
        state_word: "",
    };
    cell.state = State::of(&cell);
    cell.state_word = cell.state.word();
    cell
}

/// Of a pair's events (oldest first): what its last recovery drill
/// (`state drill`) found, and when.
fn restorable(here: &[&&Entry], now: i64) -> Option<String> {
    let e = here.iter().rev().find(|e| e.action == "drill")?;
    let ago = e
        .time
        .parse::<jiff::Timestamp>()
        .map(|t| crate::report::dashboard::days_ago((now - t.as_second()) / DAY))
        .unwrap_or_default();
    Some(match e.result.as_str() {
        "ok" => format!("proven restorable {ago}"),
        _ => format!("restore drill FAILED {ago}"),
    })
}

/// Of a pair's events (oldest first): its failed applies in the last 30
/// days, and whether its last apply failed (every apply as
/// [`crate::audit::apply_of`] defines it).
fn applies_here(here: &[&&Entry], now: i64) -> (usize, bool) {
    let since = crate::audit::rfc3339((now - 30 * DAY).max(0) as u64);
    let applies: Vec<(&Entry, crate::audit::Apply)> = here
        .iter()
        .filter_map(|e| crate::audit::apply_of(e).map(|a| (**e, a)))
        .collect();
    let failures = applies
        .iter()
        .filter(|(e, a)| !a.ok && e.time >= since)
        .count();
    (failures, applies.last().is_some_and(|(_, a)| !a.ok))
}

/// Applies and failed applies per ISO week (every apply, as
/// [`crate::audit::apply_of`] defines it), the last [`WEEKS`] weeks.
pub fn weeks(events: &[Entry], now: i64) -> Vec<Week> {
    let label = |secs: i64| -> Option<String> {
        let t = jiff::Timestamp::from_second(secs).ok()?;
        let d = t.to_zoned(jiff::tz::TimeZone::UTC).date();
        let w = d.iso_week_date();
        Some(format!("{}-W{:02}", w.year(), w.week()))
    };
    let mut out: Vec<Week> = (0..WEEKS)
        .rev()
        .filter_map(|i| label(now - i * 7 * DAY))
        .map(|label| Week {
            label,
            applies: 0,
            failures: 0,
        })
        .collect();
    out.dedup_by(|a, b| a.label == b.label);
    for (e, apply) in events
        .iter()
        .filter_map(|e| crate::audit::apply_of(e).map(|a| (e, a)))
    {
        let Some(l) = e
            .time
            .parse::<jiff::Timestamp>()
            .ok()
            .and_then(|t| label(t.as_second()))
        else {
            continue;
        };
        if let Some(w) = out.iter_mut().find(|w| w.label == l) {
            if apply.ok {
                w.applies += 1;
            } else {
                w.failures += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A customer's events are those naming its slug or its repository,
    /// in the order of all the events, each once.
    #[test]
    fn a_customers_events_are_found_by_slug_and_repo_in_order() {
        let c: Customer = serde_json::from_value(serde_json::json!({
            "slug": "acme", "repo": "acme-corp/infra", "contact": "ops@acme.example",
            "environments": ["staging"], "added": "2026-01-01"
        }))
        .unwrap();
        let named = ["acme", "globex", "acme-corp/infra", "acme", "acme-eu"];
        let events: Vec<Entry> = named
            .iter()
            .enumerate()
            .map(|(i, n)| Entry {
                time: format!("2026-11-0{}T00:00:00Z", i + 1),
                customer: Some(n.to_string()),
                ..Default::default()
            })
            .collect();
        let found: Vec<&str> = by_customer(&events)
            .about(&c)
            .iter()
            .map(|e| e.time.as_str())
            .collect();
        assert_eq!(
            found,
            [
                "2026-11-01T00:00:00Z",
                "2026-11-03T00:00:00Z",
                "2026-11-04T00:00:00Z"
            ]
        );
    }
}
