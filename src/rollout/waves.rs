//! Which customers go in which wave, and the stages of a rollout: every
//! wave in the first environment (promotion order), then every wave in
//! the next, each with the pairs the change affects.

use std::collections::BTreeSet;

use crate::config::{Customer, Manager, RolloutConfig, Unit, WaveConfig};

use super::state::Stage;

/// The customers of each wave, in wave order, among `affected` (sorted
/// slugs); customers no wave selects are returned apart.
pub fn assign(
    config: &RolloutConfig,
    registry: &[Customer],
    affected: &BTreeSet<String>,
) -> (Vec<Vec<String>>, Vec<String>) {
    let mut left: Vec<String> = affected.iter().cloned().collect();
    let mut waves = Vec::new();
    for (i, w) in config.waves.iter().enumerate() {
        let last = i + 1 == config.waves.len();
        let chosen = choose(w, last, registry, &left);
        left.retain(|c| !chosen.contains(c));
        waves.push(chosen);
    }
    (waves, left)
}

/// One wave's pick among the customers left.
fn choose(w: &WaveConfig, last: bool, registry: &[Customer], left: &[String]) -> Vec<String> {
    let labelled = |c: &Customer, want: &std::collections::BTreeMap<String, String>| {
        want.iter().all(|(k, v)| c.labels.get(k) == Some(v))
    };
    match (&w.customers, &w.labels, w.percent) {
        (Some(names), _, _) => left.iter().filter(|c| names.contains(c)).cloned().collect(),
        (_, Some(want), _) => left
            .iter()
            .filter(|c| {
                registry
                    .iter()
                    .find(|r| &r.slug == *c)
                    .is_some_and(|c| labelled(c, want))
            })
            .cloned()
            .collect(),
        (_, _, Some(p)) => {
            // At least one customer per wave while any are left.
            let n = (left.len() * p as usize).div_ceil(100);
            left.iter().take(n).cloned().collect()
        }
        _ if last => left.to_vec(),
        _ => Vec::new(),
    }
}

/// The stages: per environment in promotion order, per wave, the affected
/// pairs of that wave's customers (empty stages are left out). With
/// `products:`, a wave's pairs go in one stage per dependency level
/// (products that need nothing, then those that need only them, ...): a
/// product's plans are made, and reviewed, after the products it needs
/// were applied, so they read their new outputs. The bake time follows a
/// wave's last stage.
pub fn stages(
    manager: &Manager,
    config: &RolloutConfig,
    waves: &[Vec<String>],
    affected: &BTreeSet<Unit>,
) -> Vec<Stage> {
    let levels = product_levels(manager);
    let mut out = Vec::new();
    for env in manager.environment_names() {
        for (i, (w, customers)) in config.waves.iter().zip(waves).enumerate() {
            let mut wave_stages = Vec::new();
            for level in &levels {
                let units: Vec<Unit> = customers
                    .iter()
                    .flat_map(|c| {
                        affected
                            .iter()
                            .filter(move |u| {
                                &u.customer == c
                                    && u.environment == env
                                    && level.contains(&u.product)
                            })
                            .cloned()
                    })
                    .collect();
                if !units.is_empty() {
                    wave_stages.push(Stage {
                        environment: env.to_string(),
                        wave: w.name.clone(),
                        units,
                        bake: 0,
                        products: level.iter().flatten().cloned().collect(),
                    });
                }
            }
            if let Some(last) = wave_stages.last_mut() {
                last.bake = config.bake_after(i);
            }
            out.extend(wave_stages);
        }
    }
    out
}

/// The products by dependency level (`[[None]]` without products).
fn product_levels(manager: &Manager) -> Vec<Vec<Option<String>>> {
    let mut level: std::collections::BTreeMap<String, usize> = Default::default();
    let mut levels: Vec<Vec<Option<String>>> = Vec::new();
    for view in manager.products() {
        let Some(name) = view.product.clone() else {
            return vec![vec![None]];
        };
        // Dependencies first: every needed product has its level already.
        let l = view
            .needs()
            .keys()
            .filter_map(|d| level.get(d))
            .map(|l| l + 1)
            .max()
            .unwrap_or(0);
        level.insert(name.clone(), l);
        if levels.len() <= l {
            levels.resize(l + 1, Vec::new());
        }
        levels[l].push(Some(name));
    }
    levels
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wave(name: &str, customers: Option<&[&str]>, percent: Option<u32>) -> WaveConfig {
        WaveConfig {
            name: name.into(),
            customers: customers.map(|c| c.iter().map(|s| s.to_string()).collect()),
            labels: None,
            percent,
            bake: None,
        }
    }

    #[test]
    fn names_then_a_percentage_of_the_rest_then_the_rest() {
        let config = RolloutConfig {
            waves: vec![
                wave("canary", Some(&["c05"]), None),
                wave("quarter", None, Some(25)),
                wave("rest", None, None),
            ],
            bake: None,
            max_parallel: 4,
            halt: Default::default(),
            operators: None,
        };
        let affected: BTreeSet<String> = (1..=9).map(|i| format!("c{i:02}")).collect();
        let (waves, left) = assign(&config, &[], &affected);
        assert_eq!(waves[0], ["c05"]);
        assert_eq!(waves[1], ["c01", "c02"]); // 25 % of 8, rounded up
        assert_eq!(waves[2].len(), 6);
        assert!(left.is_empty());
    }
}
