//! The scoring rules of a pipeline: RFM bins, cut points and segments; dimension weights
//! (fixed or by AHP); tiers and their playbooks; and how each metric maps to 0–100.
//!
//! Every rule is checked here, before anything runs, with errors that name the section
//! and the offending value. The SQL models receive the checked rules as small tables.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use serde::Deserialize;

use super::ahp::{self, Ahp};
use super::segments::{self, Cell, SegmentSpec};
use crate::canonical::{DIMENSIONS, TIERS};

/// The RFM measures, as named in cut-point keys and in the `rfm_cuts` table.
pub const RFM_MEASURES: [&str; 3] = ["recency", "frequency", "monetary"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RfmSpec {
    pub bins: u32,
    pub recency_cuts: Option<Vec<f64>>,
    pub frequency_cuts: Option<Vec<f64>>,
    pub monetary_cuts: Option<Vec<f64>>,
    pub segments: Vec<SegmentSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthSpec {
    pub weights: BTreeMap<String, f64>,
    pub ahp: Option<AhpSpec>,
    pub tiers: Tiers,
    pub playbooks: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AhpSpec {
    /// The dimensions the matrix compares, in row order.
    pub order: Vec<String>,
    pub matrix: Vec<Vec<f64>>,
}

#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tiers {
    pub healthy: f64,
    pub sub_healthy: f64,
    pub lost_after_days: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    Percentile,
    Thresholds,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Higher,
    Lower,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricSpec {
    pub dimension: String,
    pub weight: f64,
    pub scale: Scale,
    pub better: Better,
    pub points: Option<Vec<[f64; 2]>>,
}

/// One checked metric rule.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Metric {
    pub name: String,
    pub dimension: String,
    pub weight: f64,
    pub scale: Scale,
    pub better: Better,
    /// (value, score) pairs, value ascending; empty for percentile metrics.
    pub points: Vec<[f64; 2]>,
}

/// How the dimension weights were set, for the manifest.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "method", rename_all = "lowercase")]
pub enum Weighting {
    Fixed,
    Ahp { order: Vec<String>, lambda_max: f64, consistency_index: f64, consistency_ratio: f64 },
}

/// The checked scoring rules.
#[derive(Debug, Clone)]
pub struct Scoring {
    pub rfm_bins: u32,
    /// Measure → ascending cut points, for measures scored by cut points instead of quantiles.
    pub rfm_cuts: BTreeMap<&'static str, Vec<f64>>,
    pub segments: Vec<Cell>,
    /// Every dimension with its weight (0 for a dimension left out).
    pub dimension_weights: Vec<(&'static str, f64)>,
    pub weighting: Weighting,
    pub tiers: Tiers,
    pub playbooks: BTreeMap<String, String>,
    pub metrics: Vec<Metric>,
}

/// Checks the scoring sections of a (defaults-merged) pipeline: every problem found, each
/// naming its section and value.
pub fn check(
    rfm: RfmSpec,
    health: HealthSpec,
    metrics: BTreeMap<String, MetricSpec>,
    file: &str,
) -> std::result::Result<Scoring, Vec<String>> {
    let at = |section: &str| format!("pipeline file {file}: [{section}]");
    let mut problems = Vec::new();
    let bins_ok = (2..=10).contains(&rfm.bins);
    if !bins_ok {
        problems.push(format!("{} bins = {}: must be from 2 to 10", at("rfm"), rfm.bins));
    }
    let mut rfm_cuts = BTreeMap::new();
    for (measure, cuts) in RFM_MEASURES.into_iter().zip([rfm.recency_cuts, rfm.frequency_cuts, rfm.monetary_cuts]) {
        let Some(cuts) = cuts else { continue };
        if bins_ok && cuts.len() != rfm.bins as usize - 1 {
            problems.push(format!(
                "{} {measure}_cuts has {} values; {} bins need {}",
                at("rfm"),
                cuts.len(),
                rfm.bins,
                rfm.bins - 1
            ));
        } else if cuts.windows(2).any(|w| w[0] >= w[1]) || cuts.iter().any(|c| !c.is_finite()) {
            problems.push(format!("{} {measure}_cuts must be strictly ascending numbers: {cuts:?}", at("rfm")));
        } else {
            rfm_cuts.insert(measure, cuts);
        }
    }
    let segments = match bins_ok {
        true => segments::cell_map(&rfm.segments, rfm.bins, &at("rfm")).map_err(|e| problems.push(e.to_string())).ok(),
        false => None,
    };
    let weights = dimension_weights(&health, &at).map_err(|e| problems.push(e.to_string())).ok();
    let tiers = health.tiers;
    if !(0.0 <= tiers.sub_healthy && tiers.sub_healthy < tiers.healthy && tiers.healthy <= 100.0) {
        problems.push(format!(
            "{} needs 0 ≤ sub_healthy < healthy ≤ 100, got sub_healthy = {}, healthy = {}",
            at("health.tiers"),
            tiers.sub_healthy,
            tiers.healthy
        ));
    }
    if tiers.lost_after_days <= 0 {
        problems.push(format!("{} lost_after_days must be a positive number of days", at("health.tiers")));
    }
    for tier in TIERS.iter().filter(|t| !health.playbooks.contains_key(**t)) {
        problems.push(format!("{} has no playbook for `{tier}`", at("health.playbooks")));
    }
    for extra in health.playbooks.keys().filter(|k| !TIERS.contains(&k.as_str())) {
        problems.push(format!("{} `{extra}` is not a tier; tiers are {}", at("health.playbooks"), TIERS.join(", ")));
    }
    let metrics = check_metrics(metrics, &at, &mut problems);
    match (segments, weights) {
        (Some(segments), Some((dimension_weights, weighting))) if problems.is_empty() => Ok(Scoring {
            rfm_bins: rfm.bins,
            rfm_cuts,
            segments,
            dimension_weights,
            weighting,
            tiers,
            playbooks: health.playbooks,
            metrics,
        }),
        _ => Err(problems),
    }
}

fn dimension_weights(
    health: &HealthSpec,
    at: &dyn Fn(&str) -> String,
) -> Result<(Vec<(&'static str, f64)>, Weighting)> {
    if let Some(spec) = &health.ahp {
        let section = at("health.ahp");
        for (i, d) in spec.order.iter().enumerate() {
            if !DIMENSIONS.contains(&d.as_str()) {
                bail!("{section} order names `{d}`, not a dimension; dimensions are {}", DIMENSIONS.join(", "));
            }
            if spec.order[..i].contains(d) {
                bail!("{section} order names `{d}` twice");
            }
        }
        if spec.matrix.len() != spec.order.len() {
            bail!("{section} has {} matrix rows for {} dimensions in `order`", spec.matrix.len(), spec.order.len());
        }
        let Ahp { weights, lambda_max, consistency_index, consistency_ratio } = ahp::derive(&spec.matrix, &section)?;
        let by_name: BTreeMap<&str, f64> = spec.order.iter().map(String::as_str).zip(weights).collect();
        let dims = DIMENSIONS.iter().map(|d| (*d, by_name.get(d).copied().unwrap_or(0.0))).collect();
        let weighting = Weighting::Ahp { order: spec.order.clone(), lambda_max, consistency_index, consistency_ratio };
        return Ok((dims, weighting));
    }
    let section = at("health.weights");
    if let Some(unknown) = health.weights.keys().find(|k| !DIMENSIONS.contains(&k.as_str())) {
        bail!("{section} `{unknown}` is not a dimension; dimensions are {}", DIMENSIONS.join(", "));
    }
    if let Some((d, w)) = health.weights.iter().find(|(_, w)| !(w.is_finite() && **w >= 0.0)) {
        bail!("{section} {d} = {w}: weights are numbers ≥ 0");
    }
    let sum: f64 = health.weights.values().sum();
    if (sum - 1.0).abs() > 1e-6 {
        bail!("{section} weights sum to {sum:.4}; they must sum to 1");
    }
    let dims = DIMENSIONS.iter().map(|d| (*d, health.weights.get(*d).copied().unwrap_or(0.0))).collect();
    Ok((dims, Weighting::Fixed))
}

fn check_metrics(
    metrics: BTreeMap<String, MetricSpec>,
    at: &dyn Fn(&str) -> String,
    problems: &mut Vec<String>,
) -> Vec<Metric> {
    let mut checked = Vec::new();
    for (name, m) in metrics {
        let section = at(&format!("metrics.{name}"));
        if !DIMENSIONS.contains(&m.dimension.as_str()) {
            problems.push(format!(
                "{section} dimension = \"{}\" is not a dimension; dimensions are {}",
                m.dimension,
                DIMENSIONS.join(", ")
            ));
            continue;
        }
        if !(m.weight.is_finite() && m.weight >= 0.0) {
            problems.push(format!("{section} weight = {}: must be a number ≥ 0", m.weight));
            continue;
        }
        // Points only shape a thresholds scale; a percentile metric ignores any it inherits.
        let points = match (m.scale, m.points) {
            (Scale::Percentile, _) => Vec::new(),
            (Scale::Thresholds, None) => {
                problems.push(format!("{section} scale = \"thresholds\" needs points = [[value, score], ...]"));
                continue;
            }
            (Scale::Thresholds, Some(points)) => match check_points(points, m.better, &section) {
                Ok(points) => points,
                Err(e) => {
                    problems.push(e.to_string());
                    continue;
                }
            },
        };
        checked.push(Metric {
            name,
            dimension: m.dimension,
            weight: m.weight,
            scale: m.scale,
            better: m.better,
            points,
        });
    }
    for dim in DIMENSIONS {
        let of_dim: Vec<&Metric> = checked.iter().filter(|m| m.dimension == dim).collect();
        let sum: f64 = of_dim.iter().map(|m| m.weight).sum();
        if !of_dim.is_empty() && (sum - 1.0).abs() > 1e-6 {
            let names: Vec<&str> = of_dim.iter().map(|m| m.name.as_str()).collect();
            problems.push(format!(
                "{} the weights of the {dim} metrics ({}) sum to {sum:.4}; they must sum to 1",
                at("metrics"),
                names.join(", ")
            ));
        }
    }
    checked
}

/// Points must rise in value and move the score only in the direction `better` says, so
/// that improving a metric can never lower its score.
fn check_points(points: Vec<[f64; 2]>, better: Better, section: &str) -> Result<Vec<[f64; 2]>> {
    if points.len() < 2 {
        bail!("{section} needs at least two points");
    }
    if points.iter().flatten().any(|v| !v.is_finite()) || points.iter().any(|p| !(0.0..=100.0).contains(&p[1])) {
        bail!("{section} points must be [value, score] with scores from 0 to 100");
    }
    if points.windows(2).any(|w| w[0][0] >= w[1][0]) {
        bail!("{section} point values must be strictly ascending");
    }
    let wrong_way = points.windows(2).any(|w| match better {
        Better::Higher => w[1][1] < w[0][1],
        Better::Lower => w[1][1] > w[0][1],
    });
    if wrong_way {
        let way = if better == Better::Higher { "rise (or stay)" } else { "fall (or stay)" };
        bail!("{section} says better = \"{better:?}\", so scores must {way} as values grow");
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> (RfmSpec, HealthSpec, BTreeMap<String, MetricSpec>) {
        let table: toml::Table = toml::from_str(super::super::DEFAULTS).unwrap();
        let rfm = table["rfm"].clone().try_into().unwrap();
        let health = table["health"].clone().try_into().unwrap();
        let metrics = table["metrics"].clone().try_into().unwrap();
        (rfm, health, metrics)
    }

    #[test]
    fn the_defaults_are_valid() {
        let (rfm, health, metrics) = defaults();
        let s = check(rfm, health, metrics, "p.toml").unwrap();
        assert_eq!(s.segments.len(), 125);
        assert_eq!(s.dimension_weights.iter().map(|(_, w)| w).sum::<f64>(), 1.0);
        assert!(s.metrics.iter().any(|m| m.name == "contract_amount" && m.weight == 0.30));
    }

    #[test]
    fn weights_not_summing_to_one_name_the_section_and_sum() {
        let (rfm, mut health, metrics) = defaults();
        health.weights.insert("risk".into(), 0.15);
        let err = check(rfm, health, metrics, "p.toml").unwrap_err().join("\n");
        assert!(err.contains("[health.weights]") && err.contains("0.9500"), "{err}");
    }

    #[test]
    fn metric_weights_must_sum_to_one_within_a_dimension() {
        let (rfm, health, mut metrics) = defaults();
        metrics.get_mut("depth").unwrap().weight = 0.25;
        let err = check(rfm, health, metrics, "p.toml").unwrap_err().join("\n");
        assert!(err.contains("value metrics") && err.contains("1.1000"), "{err}");
    }

    #[test]
    fn thresholds_against_the_stated_direction_are_refused() {
        let (rfm, health, mut metrics) = defaults();
        metrics.get_mut("overdue_ratio").unwrap().better = Better::Higher;
        let err = check(rfm, health, metrics, "p.toml").unwrap_err().join("\n");
        assert!(err.contains("metrics.overdue_ratio") && err.contains("rise"), "{err}");
    }

    #[test]
    fn ahp_weights_replace_fixed_ones() {
        let (rfm, mut health, metrics) = defaults();
        health.ahp = Some(AhpSpec {
            order: vec!["value".into(), "risk".into()],
            matrix: vec![vec![1.0, 3.0], vec![1.0 / 3.0, 1.0]],
        });
        let s = check(rfm, health, metrics, "p.toml").unwrap();
        let w: BTreeMap<_, _> = s.dimension_weights.into_iter().collect();
        assert!((w["value"] - 0.75).abs() < 1e-9 && (w["risk"] - 0.25).abs() < 1e-9 && w["engagement"] == 0.0);
        assert!(matches!(s.weighting, Weighting::Ahp { .. }));
    }

    #[test]
    fn bins_and_cut_points_are_checked() {
        let (mut rfm, health, metrics) = defaults();
        rfm.bins = 11;
        assert!(check(rfm.clone(), health.clone(), metrics.clone(), "p").unwrap_err().join("\n").contains("2 to 10"));
        rfm.bins = 5;
        rfm.recency_cuts = Some(vec![30.0, 90.0, 60.0, 365.0]);
        assert!(check(rfm.clone(), health.clone(), metrics.clone(), "p").unwrap_err().join("\n").contains("ascending"));
        rfm.recency_cuts = Some(vec![30.0, 90.0]);
        assert!(check(rfm, health, metrics, "p").unwrap_err().join("\n").contains("need 4"));
    }

    #[test]
    fn tier_edges_must_be_ordered() {
        let (rfm, mut health, metrics) = defaults();
        health.tiers.sub_healthy = 90.0;
        assert!(check(rfm, health, metrics, "p").unwrap_err().join("\n").contains("sub_healthy < healthy"));
    }
}
