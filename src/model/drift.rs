//! How far the customers being scored have moved from those the model learned on: the
//! population stability index (PSI) of each feature between the training rows, binned at
//! their deciles (a missing value is a bin of its own), and the rows scored. A model
//! reused night after night (`retrain = "reuse"`) shows it is going stale here first.

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

/// PSI past this: the feature has moved enough to distrust the model (the usual rule of
/// thumb: up to 0.1 stable, to 0.25 moving, over 0.25 shifted).
pub const SHIFTED: f64 = 0.25;

/// PSI past this: the feature is moving.
const MOVING: f64 = 0.1;

/// What a PSI says, in a word: `stable`, `moving` or `shifted`.
pub fn reading(psi: f64) -> &'static str {
    match psi {
        p if p > SHIFTED => "shifted",
        p if p > MOVING => "moving",
        _ => "stable",
    }
}

/// Training rows the deciles are taken from at most (every k-th past it).
const SAMPLE_ROWS: usize = 100_000;

/// A share below this counts as this (an empty bin would make PSI infinite).
const FLOOR: f64 = 1e-4;

/// One feature's training distribution: the distinct decile edges, and the share of
/// training rows in each bin (below the first edge, …, from the last edge up, missing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureBins {
    pub edges: Vec<f64>,
    pub shares: Vec<f64>,
}

impl FeatureBins {
    fn bin(&self, v: f64) -> usize {
        if v.is_nan() {
            self.edges.len() + 1
        } else {
            self.edges.partition_point(|e| *e <= v)
        }
    }

    fn shares_of(&self, values: impl Iterator<Item = f64>) -> Vec<f64> {
        let mut counts = vec![0.0; self.edges.len() + 2];
        let mut n = 0.0;
        for v in values {
            counts[self.bin(v)] += 1.0;
            n += 1.0;
        }
        counts.iter().map(|c| if n > 0.0 { c / n } else { 0.0 }).collect()
    }
}

/// Each feature's bins, from the training matrix `x` (NaN = missing).
pub fn bins(x: ArrayView2<f64>) -> Vec<FeatureBins> {
    let stride = x.nrows().div_ceil(SAMPLE_ROWS).max(1);
    x.columns()
        .into_iter()
        .map(|column| {
            let sample: Vec<f64> = column.iter().step_by(stride).copied().collect();
            let mut present: Vec<f64> = sample.iter().copied().filter(|v| !v.is_nan()).collect();
            present.sort_by(f64::total_cmp);
            let mut edges: Vec<f64> = (1..10).filter_map(|k| present.get(k * present.len() / 10).copied()).collect();
            edges.dedup();
            let mut bins = FeatureBins { edges, shares: Vec::new() };
            bins.shares = bins.shares_of(sample.iter().copied());
            bins
        })
        .collect()
}

/// The PSI of each column of `x` (the rows scored) against its training `bins`.
pub fn psi(bins: &[FeatureBins], x: ArrayView2<f64>) -> Vec<f64> {
    bins.iter()
        .zip(x.columns())
        .map(|(b, column)| {
            let now = b.shares_of(column.iter().copied());
            b.shares
                .iter()
                .zip(&now)
                .map(|(then, now)| {
                    let (then, now) = (then.max(FLOOR), now.max(FLOOR));
                    (now - then) * (now / then).ln()
                })
                .sum()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn the_same_distribution_is_stable_and_a_shifted_one_is_not() {
        let training = Array2::from_shape_fn((10_000, 2), |(i, j)| if j == 0 { (i % 1000) as f64 } else { f64::NAN });
        let b = bins(training.view());
        assert_eq!(b[0].edges.len(), 9);
        assert!((b[0].shares.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(b[1].shares.last(), Some(&1.0), "all missing: the missing bin");

        let same = Array2::from_shape_fn((5_000, 2), |(i, j)| if j == 0 { (i % 1000) as f64 } else { f64::NAN });
        assert!(psi(&b, same.view()).iter().all(|p| *p < 1e-9), "{:?}", psi(&b, same.view()));
        let moved = Array2::from_shape_fn((5_000, 2), |(i, j)| if j == 0 { 500.0 + (i % 1000) as f64 } else { 1.0 });
        let p = psi(&b, moved.view());
        assert!(p[0] > SHIFTED && p[1] > SHIFTED, "{p:?}");
    }
}
