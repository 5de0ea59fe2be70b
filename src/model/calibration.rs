//! Does the health score predict churn? On point-in-time snapshots: the ROC AUC of
//! health_score and of each dimension score for churn within the horizon (a low score
//! should mean churn), and dimension weights fitted on that churn — non-negative, summing
//! to 1 — with the AUC the health score would have with them. It suggests; it changes
//! nothing.

use std::collections::HashMap;

use anyhow::{Context, Result};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Date32Type, Float64Type};
use ndarray::{Array1, Array2, ArrayView2};
use serde::Serialize;

use super::evaluation::roc_auc;
use crate::canonical::CHURNED;
use crate::table::{text_column, Batches};

/// One dimension's part in the health score, and how well it ranks churners.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DimensionFit {
    pub dimension: String,
    /// Snapshot rows with a score for the dimension.
    pub customers: usize,
    /// ROC AUC of the dimension score alone (lower score = churn), over those rows.
    pub roc_auc: f64,
    pub weight: f64,
    pub suggested_weight: f64,
}

/// What `vitals calibrate` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Calibration {
    pub customers: usize,
    pub churned: usize,
    /// ROC AUC of health_score as the rules compute it now.
    pub roc_auc: f64,
    pub dimensions: Vec<DimensionFit>,
    /// ROC AUC of the health score with the suggested weights (same rows).
    pub suggested_roc_auc: f64,
    /// False when no dimension ranks churners at all: the suggestion is then the current
    /// weights.
    pub fitted: bool,
}

/// Calibrates on the SQL lane's tables: `labels`, the churn training rows (as_of,
/// customer_id, churned, …), and `health`, customer_health as of the same dates (as_of,
/// customer_id, `dim_<dimension>` for each of `weights`). Customers scored but not in the
/// training rows (lost at the date) are left out.
pub fn calibrate_tables(weights: &[(&str, f64)], labels: Batches, health: Batches) -> Result<Calibration> {
    let keys = |batch: &RecordBatch| -> Result<Vec<(i32, String)>> {
        let days = cast(batch.column_by_name("as_of").context("a snapshot table needs as_of")?, &DataType::Date32)?;
        let ids = text_column(batch.column_by_name("customer_id").context("a snapshot table needs customer_id")?)?;
        Ok(days.as_primitive::<Date32Type>().iter().map(Option::unwrap_or_default).zip(ids).collect())
    };
    let mut outcome: HashMap<(i32, String), bool> = HashMap::new();
    for batch in labels {
        let batch = batch?;
        let churned = batch.column_by_name(CHURNED).context("training rows need churned")?.as_boolean().clone();
        outcome.extend(keys(&batch)?.into_iter().zip(churned.iter().map(|c| c.unwrap_or(false))));
    }
    let (mut scores, mut churned) = (Vec::new(), Vec::new());
    for batch in health {
        let batch = batch?;
        let columns = weights
            .iter()
            .map(|(dimension, _)| {
                let column =
                    batch.column_by_name(&format!("dim_{dimension}")).context("customer_health needs dim_ columns")?;
                Ok(cast(column, &DataType::Float64)?.as_primitive::<Float64Type>().clone())
            })
            .collect::<Result<Vec<_>>>()?;
        for (i, key) in keys(&batch)?.iter().enumerate() {
            if let Some(c) = outcome.get(key) {
                churned.push(*c);
                scores.extend(columns.iter().map(|column| if column.is_null(i) { f64::NAN } else { column.value(i) }));
            }
        }
    }
    let scores = Array2::from_shape_vec((churned.len(), weights.len()), scores)?;
    let names: Vec<String> = weights.iter().map(|(d, _)| d.to_string()).collect();
    let now: Vec<f64> = weights.iter().map(|(_, w)| *w).collect();
    Ok(calibrate(&names, &now, scores.view(), &churned))
}

/// Calibrates on snapshot rows: `scores` holds each row's dimension scores (0–100, NaN:
/// no data) in the order of `dimensions` and `weights`, `churned` what happened in the
/// horizon after the row's date. Rows without any dimension score are left out.
pub fn calibrate(dimensions: &[String], weights: &[f64], scores: ArrayView2<f64>, churned: &[bool]) -> Calibration {
    let rows: Vec<usize> = (0..scores.nrows()).filter(|&i| scores.row(i).iter().any(|s| !s.is_nan())).collect();
    let scores = scores.select(ndarray::Axis(0), &rows);
    let churned: Vec<bool> = rows.iter().map(|&i| churned[i]).collect();
    let found = fitted_weights(&scores, &churned, weights);
    let fitted = found.is_some();
    let suggested = found.map_or_else(|| weights.to_vec(), |w| rounded(&w));
    let dimensions = dimensions
        .iter()
        .enumerate()
        .map(|(d, name)| {
            let present: Vec<usize> = (0..scores.nrows()).filter(|&i| !scores[[i, d]].is_nan()).collect();
            let low_first: Vec<f64> = present.iter().map(|&i| -scores[[i, d]]).collect();
            let outcome: Vec<bool> = present.iter().map(|&i| churned[i]).collect();
            DimensionFit {
                dimension: name.clone(),
                customers: present.len(),
                roc_auc: if present.is_empty() { f64::NAN } else { roc_auc(&low_first, &outcome) },
                weight: weights[d],
                suggested_weight: suggested[d],
            }
        })
        .collect();
    let auc_with = |w: &[f64]| roc_auc(&health(&scores, w).mapv(|h| -h).to_vec(), &churned);
    Calibration {
        customers: churned.len(),
        churned: churned.iter().filter(|c| **c).count(),
        roc_auc: auc_with(weights),
        dimensions,
        suggested_roc_auc: auc_with(&suggested),
        fitted,
    }
}

/// The health score by the rule of customer_health.sql: the weighted average of the
/// dimensions a customer has data for (missing data is not zero). A row whose dimensions
/// all weigh nothing reads as 50, the middle.
pub fn health(scores: &Array2<f64>, weights: &[f64]) -> Array1<f64> {
    scores
        .rows()
        .into_iter()
        .map(|row| {
            let (mut sum, mut weight) = (0.0, 0.0);
            for (s, w) in row.iter().zip(weights) {
                if !s.is_nan() {
                    sum += s * w;
                    weight += w;
                }
            }
            if weight > 0.0 {
                sum / weight
            } else {
                50.0
            }
        })
        .collect()
}

/// Rows the weight fit reads at most (every k-th past it).
const FIT_ROWS: usize = 100_000;

/// Weights (non-negative, summing to 1) that make the health score, by its own rule, the
/// best predictor of churn: over weights, the mean log loss of a logistic regression of
/// churn on the score (its intercept and slope fitted for each candidate) is minimized.
/// None when even the best weights give a score that is not lower for churners.
fn fitted_weights(scores: &Array2<f64>, churned: &[bool], start: &[f64]) -> Option<Vec<f64>> {
    let stride = scores.nrows().div_ceil(FIT_ROWS).max(1);
    let rows: Vec<usize> = (0..scores.nrows()).step_by(stride).collect();
    let sample = scores.select(ndarray::Axis(0), &rows);
    let y: Vec<f64> = rows.iter().map(|&i| f64::from(u8::from(churned[i]))).collect();
    let has_data: Vec<bool> = sample.columns().into_iter().map(|c| c.iter().any(|s| !s.is_nan())).collect();
    let weights = |theta: &[f64]| -> Vec<f64> {
        let top = theta.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = theta.iter().zip(&has_data).map(|(t, d)| if *d { (t - top).exp() } else { 0.0 }).collect();
        let total: f64 = e.iter().sum();
        e.iter().map(|v| v / total).collect()
    };
    let fit = |theta: &[f64]| logistic_on(&(health(&sample, &weights(theta)) / 100.0), &y);
    let theta: Vec<f64> = start.iter().map(|w| w.max(0.01).ln()).collect();
    let best = super::simplex::minimize(&|t: &[f64]| fit(t).0, &theta);
    (fit(&best).1 < 0.0).then(|| weights(&best))
}

/// A one-feature logistic regression of `y` on `x` by Newton's method: the mean log loss
/// and the slope.
fn logistic_on(x: &Array1<f64>, y: &[f64]) -> (f64, f64) {
    let n = y.len() as f64;
    let rate = (y.iter().sum::<f64>() / n).clamp(1e-6, 1.0 - 1e-6);
    let (mut a, mut b) = ((rate / (1.0 - rate)).ln(), 0.0);
    for _ in 0..25 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (xi, yi) in x.iter().zip(y) {
            let p = 1.0 / (1.0 + (-(a + b * xi)).exp());
            let (r, w) = (p - yi, (p * (1.0 - p)).max(1e-12));
            (ga, gb) = (ga + r, gb + r * xi);
            (haa, hab, hbb) = (haa + w, hab + w * xi, hbb + w * xi * xi);
        }
        let det = haa * hbb - hab * hab;
        if det.abs() < 1e-18 {
            break;
        }
        let (da, db) = ((hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det);
        (a, b) = (a - da, b - db);
        if da.abs() + db.abs() < 1e-10 {
            break;
        }
    }
    let loss = x
        .iter()
        .zip(y)
        .map(|(xi, yi)| {
            let z = a + b * xi;
            // log(1 + e^z) − y z, computed without overflow.
            z.max(0.0) + (-z.abs()).exp().ln_1p() - yi * z
        })
        .sum::<f64>()
        / n;
    (loss, b)
}

/// Shares rounded to two decimals that still sum to 1 (the largest absorbs the rounding).
fn rounded(shares: &[f64]) -> Vec<f64> {
    let mut r: Vec<f64> = shares.iter().map(|s| (s * 100.0).round() / 100.0).collect();
    let gap = 1.0 - r.iter().sum::<f64>();
    if let Some(top) = (0..r.len()).max_by(|&i, &j| r[i].total_cmp(&r[j])) {
        r[top] = ((r[top] + gap) * 100.0).round() / 100.0;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Churn follows the first dimension only; the second is noise; the third is missing
    /// for half the rows and follows churn a little.
    fn snapshots(n: usize) -> (Array2<f64>, Vec<bool>) {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut scores = Array2::from_elem((n, 3), f64::NAN);
        let mut churned = Vec::with_capacity(n);
        for i in 0..n {
            let (a, b, c): (f64, f64, f64) = (rng.random_range(0.0..100.0), rng.random_range(0.0..100.0), rng.random());
            let risk = 1.0 / (1.0 + (-(2.0 - a / 12.0)).exp());
            let churn = rng.random::<f64>() < risk;
            scores[[i, 0]] = a;
            scores[[i, 1]] = b;
            if i % 2 == 0 {
                scores[[i, 2]] = if churn { 40.0 + 40.0 * c } else { 50.0 + 40.0 * c };
            }
            churned.push(churn);
        }
        (scores, churned)
    }

    #[test]
    fn weights_go_to_what_predicts_churn_and_raise_the_auc() {
        let (scores, churned) = snapshots(4000);
        let names: Vec<String> = ["value", "noise", "survey"].iter().map(|s| s.to_string()).collect();
        let c = calibrate(&names, &[0.2, 0.6, 0.2], scores.view(), &churned);
        let w: Vec<f64> = c.dimensions.iter().map(|d| d.suggested_weight).collect();
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-9 && w.iter().all(|w| *w >= 0.0), "{w:?}");
        assert!(w[0] > 0.6 && w[1] < 0.1, "{w:?}");
        assert!(c.suggested_roc_auc > c.roc_auc + 0.05, "{} vs {}", c.suggested_roc_auc, c.roc_auc);
        assert!(c.dimensions[0].roc_auc > 0.75 && (c.dimensions[1].roc_auc - 0.5).abs() < 0.05);
        assert_eq!(c.dimensions[2].customers, 2000);
    }

    #[test]
    fn no_signal_keeps_the_current_weights() {
        let (scores, _) = snapshots(500);
        let nobody = vec![false; 500];
        let mut churned = nobody.clone();
        churned[0] = true;
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        // One churner with the best scores: no dimension's risk raises churn.
        let mut scores = scores;
        scores.row_mut(0).fill(100.0);
        let c = calibrate(&names, &[0.5, 0.3, 0.2], scores.view(), &churned);
        assert!(!c.fitted);
        assert_eq!(c.dimensions.iter().map(|d| d.suggested_weight).collect::<Vec<_>>(), vec![0.5, 0.3, 0.2]);
    }

    #[test]
    fn the_health_rule_skips_missing_dimensions() {
        let scores = ndarray::array![[80.0, f64::NAN], [f64::NAN, f64::NAN], [60.0, 20.0]];
        assert_eq!(health(&scores, &[0.5, 0.5]).to_vec(), vec![80.0, 50.0, 40.0]);
        assert_eq!(rounded(&[0.333, 0.333, 0.334]), vec![0.33, 0.33, 0.34]);
    }
}
