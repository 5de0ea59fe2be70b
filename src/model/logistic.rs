//! The churn model itself: a logistic regression (linfa-logistic) on standardized
//! features, fitted on their whitened rows (see [`super::whitening`]). The classes are
//! balanced before the fit — rare churners repeated, and past a row budget the stayers (or
//! both classes) sampled with a fixed seed — and the intercept is corrected back, so that
//! predicted probabilities keep the real churn rate.

use anyhow::{anyhow, ensure, Result};
use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use std::fmt::Write;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::whitening::Whitening;

/// How many standard deviations from the mean a standardized feature may lie.
pub const CLIP: f64 = 4.0;

/// A fitted model: everything needed to score a customer, and to say why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChurnModel {
    pub features: Vec<String>,
    /// Training means (also the value a missing feature is taken to have).
    pub means: Vec<f64>,
    pub stds: Vec<f64>,
    /// One per feature, on the standardized scale: log-odds per standard deviation.
    pub coefficients: Vec<f64>,
    pub intercept: f64,
    /// How many times each churner was used in training on average: a whole number of
    /// repeats, or below 1 the sampled share (models saved before sampling call it
    /// `churner_replication`).
    #[serde(alias = "churner_replication")]
    pub churner_rate: f64,
    /// The share of stayers used in training (1 unless they were sampled).
    #[serde(default = "all_of_them")]
    pub stayer_rate: f64,
}

fn all_of_them() -> f64 {
    1.0
}

/// Converged when the gradient of the mean log loss is this small. 1e-4, not 1e-5: before
/// the fit was whitened, the tighter test made the fits at 100k customers 30 % slower
/// (14.9 s against 11.5 s) for the same ROC AUC to four digits.
const GRADIENT_TOLERANCE: f64 = 1e-4;

/// Rows standardized at a time when predicting.
const STANDARDIZED_ROWS: usize = 4096;

/// Seed of the training sample: the same snapshots give the same rows, so the same model.
const SAMPLE_SEED: u64 = 0x00C0_FFEE;

impl ChurnModel {
    /// Fits on raw features `x` (NaN = missing) and outcomes `y` (true = churned), on at most
    /// about `max_rows` training rows.
    pub fn fit(features: Vec<String>, x: ArrayView2<f64>, y: &[bool], l2: f64, max_rows: usize) -> Result<ChurnModel> {
        ensure!(x.nrows() == y.len() && x.ncols() == features.len(), "one row per outcome, one column per feature");
        let (churners, stayers): (Vec<usize>, Vec<usize>) = (0..y.len()).partition(|&i| y[i]);
        ensure!(!churners.is_empty() && !stayers.is_empty(), "training needs both churners and stayers");
        let mut rng = ChaCha8Rng::seed_from_u64(SAMPLE_SEED);
        // Each class gets the same number of rows, at most half the budget: the larger class
        // (the stayers, usually) is sampled down to it, the smaller repeated up to it.
        let per_class = stayers.len().max(churners.len()).min((max_rows / 2).max(1));
        let (stayer_rows, stayer_rate) = balanced(&stayers, per_class, &mut rng);
        let (churner_rows, churner_rate) = balanced(&churners, per_class, &mut rng);
        let (means, stds) = moments(x);
        let mut model =
            ChurnModel { features, means, stds, coefficients: Vec::new(), intercept: 0.0, churner_rate, stayer_rate };
        let rows: Vec<usize> = stayer_rows.into_iter().chain(churner_rows).collect();
        let mut records = model.standardize(x.select(Axis(0), &rows));
        let whitening = Whitening::of(records.view());
        whitening.apply(&mut records);
        let targets: Array1<bool> = rows.iter().map(|&i| y[i]).collect();
        // linfa's loss is a sum over rows, so its gradient grows with them: the tolerance is
        // set per row, or a big training set would run every iteration to the cap.
        let fitted = LogisticRegression::default()
            .alpha(l2)
            .gradient_tolerance(GRADIENT_TOLERANCE * rows.len() as f64)
            .max_iterations(500)
            .fit(&Dataset::new(records, targets))
            .map_err(|e| anyhow!("fitting the churn model: {e}"))?;
        // linfa models the probability of whichever class it met first; we want churn's.
        let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
        let (coefficients, intercept) =
            whitening.unwhiten(&fitted.params().mapv(|c| sign * c), sign * fitted.intercept());
        model.coefficients = coefficients.to_vec();
        // Using churners at rate c and stayers at rate s multiplies the odds of churn by c / s;
        // undo it.
        model.intercept = intercept - (model.churner_rate / model.stayer_rate).ln();
        Ok(model)
    }

    /// Standardized features, clipped to ±[`CLIP`] standard deviations so one extreme value
    /// in an export cannot dominate a prediction; a missing value becomes 0, the mean.
    /// Works in place on `z`, the raw features.
    pub fn standardize(&self, mut z: Array2<f64>) -> Array2<f64> {
        for (j, mut column) in z.columns_mut().into_iter().enumerate() {
            column.mapv_inplace(
                |v| if v.is_nan() { 0.0 } else { ((v - self.means[j]) / self.stds[j]).clamp(-CLIP, CLIP) },
            );
        }
        z
    }

    /// Probability of churning within the horizon, per row of raw features.
    pub fn predict(&self, x: ArrayView2<f64>) -> Vec<f64> {
        let mut risk = Vec::with_capacity(x.nrows());
        self.each_standardized(x, |z| risk.extend(z.rows().into_iter().map(|row| self.risk(row))));
        risk
    }

    /// Up to three features pushing a customer's risk up most, whether the customer's value
    /// is high or low, and the contribution in log-odds (coefficient × standardized value),
    /// e.g. `avg_days_late (high) +0.84, nps (low) +0.52`.
    pub fn drivers(&self, x: ArrayView2<f64>) -> Vec<String> {
        let mut pushes = Vec::new();
        let mut drivers = Vec::with_capacity(x.nrows());
        self.each_standardized(x, |z| {
            drivers.extend(z.rows().into_iter().map(|row| self.drivers_of(row, &mut pushes)))
        });
        drivers
    }

    /// Calls `f` on the rows of `x` standardized a slice at a time, in order: a copy of
    /// every row at once would be as large as the training matrix.
    fn each_standardized(&self, x: ArrayView2<f64>, mut f: impl FnMut(Array2<f64>)) {
        for part in x.axis_chunks_iter(Axis(0), STANDARDIZED_ROWS) {
            f(self.standardize(part.to_owned()));
        }
    }

    /// [`Self::predict`] and [`Self::drivers`] at once, the rows split over the machine's
    /// cores: each row's figures depend on that row alone, so the split changes nothing.
    pub fn explain(&self, x: ArrayView2<f64>) -> (Vec<f64>, Vec<String>) {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = x.nrows().div_ceil(threads).max(1);
        std::thread::scope(|s| {
            let parts: Vec<_> = x
                .axis_chunks_iter(Axis(0), chunk)
                .map(|part| {
                    s.spawn(move || {
                        let (mut risk, mut drivers, mut pushes) = (Vec::new(), Vec::new(), Vec::new());
                        self.each_standardized(part, |z| {
                            risk.extend(z.rows().into_iter().map(|row| self.risk(row)));
                            drivers.extend(z.rows().into_iter().map(|row| self.drivers_of(row, &mut pushes)));
                        });
                        (risk, drivers)
                    })
                })
                .collect();
            let (mut risk, mut drivers) = (Vec::with_capacity(x.nrows()), Vec::with_capacity(x.nrows()));
            for part in parts {
                let (r, d) = part.join().expect("scoring a slice of rows does not panic");
                risk.extend(r);
                drivers.extend(d);
            }
            (risk, drivers)
        })
    }

    fn risk(&self, z: ArrayView1<f64>) -> f64 {
        let logit = self.intercept + z.iter().zip(&self.coefficients).map(|(v, c)| v * c).sum::<f64>();
        1.0 / (1.0 + (-logit).exp())
    }

    /// The drivers of one standardized row; `pushes` is scratch space reused across rows.
    fn drivers_of<'a>(&'a self, z: ArrayView1<f64>, pushes: &mut Vec<(f64, &'a str, &'static str)>) -> String {
        pushes.clear();
        pushes.extend(
            z.iter()
                .zip(&self.coefficients)
                .zip(&self.features)
                .map(|((v, c), name)| (v * c, name.as_str(), if *v > 0.0 { "high" } else { "low" }))
                .filter(|(push, _, _)| *push > 0.005),
        );
        pushes.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
        let mut text = String::new();
        for (i, (push, name, side)) in pushes.iter().take(3).enumerate() {
            if i > 0 {
                text.push_str(", ");
            }
            let _ = write!(text, "{name} ({side}) +{push:.2}");
        }
        text
    }
}

/// `target` rows of a class: all of them repeated a whole number of times when the class is
/// smaller (as near the target as whole repeats get), a seeded sample when it is larger; with
/// the rate each row of the class is used at.
fn balanced(class: &[usize], target: usize, rng: &mut ChaCha8Rng) -> (Vec<usize>, f64) {
    if class.len() > target {
        let mut picked: Vec<usize> = rand::seq::index::sample(rng, class.len(), target).into_iter().collect();
        picked.sort_unstable();
        (picked.into_iter().map(|k| class[k]).collect(), target as f64 / class.len() as f64)
    } else {
        let repeats = (target as f64 / class.len() as f64).round().max(1.0) as usize;
        (class.iter().copied().cycle().take(class.len() * repeats).collect(), repeats as f64)
    }
}

/// Column means and standard deviations over the values present; a constant or empty
/// column gets standard deviation 1 so it standardizes to 0.
fn moments(x: ArrayView2<f64>) -> (Vec<f64>, Vec<f64>) {
    x.columns()
        .into_iter()
        .map(|column| {
            let present: Vec<f64> = column.iter().copied().filter(|v| !v.is_nan()).collect();
            if present.is_empty() {
                return (0.0, 1.0);
            }
            let mean = present.iter().sum::<f64>() / present.len() as f64;
            let var = present.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / present.len() as f64;
            let std = var.sqrt();
            (mean, if std > 1e-12 { std } else { 1.0 })
        })
        .unzip()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Churn rises with lateness and falls with touches; noise is pure noise.
    fn synthetic(n: usize, seed: u64) -> (Array2<f64>, Vec<bool>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut x = Array2::zeros((n, 3));
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            let late: f64 = rng.random_range(0.0..60.0);
            let touches: f64 = rng.random_range(0.0..10.0);
            x[[i, 0]] = late;
            x[[i, 1]] = touches;
            x[[i, 2]] = rng.random_range(-1.0..1.0);
            let logit = -3.0 + 0.08 * late - 0.4 * touches;
            y.push(rng.random::<f64>() < 1.0 / (1.0 + (-logit as f64).exp()));
        }
        (x, y)
    }

    fn names() -> Vec<String> {
        ["days_late", "touches", "noise"].map(String::from).to_vec()
    }

    #[test]
    fn coefficients_have_the_signs_the_data_was_made_with() {
        let (x, y) = synthetic(3000, 1);
        let model = ChurnModel::fit(names(), x.view(), &y, 1.0, 100_000).unwrap();
        assert!(model.coefficients[0] > 0.5, "{:?}", model.coefficients);
        assert!(model.coefficients[1] < -0.5, "{:?}", model.coefficients);
        assert!(model.coefficients[2].abs() < 0.2, "{:?}", model.coefficients);
    }

    #[test]
    fn balancing_keeps_the_predicted_rate_near_the_real_one() {
        let (x, y) = synthetic(4000, 2);
        let model = ChurnModel::fit(names(), x.view(), &y, 1.0, 100_000).unwrap();
        assert!(model.churner_rate > 1.0);
        let predicted = model.predict(x.view()).iter().sum::<f64>() / 4000.0;
        let actual = y.iter().filter(|c| **c).count() as f64 / 4000.0;
        assert!((predicted - actual).abs() < 0.03, "predicted {predicted}, actual {actual}");
    }

    #[test]
    fn sampling_past_the_budget_keeps_the_rate_and_the_signs() {
        let (x, y) = synthetic(20_000, 5);
        let model = ChurnModel::fit(names(), x.view(), &y, 1.0, 2_000).unwrap();
        assert!(model.stayer_rate < 0.1, "stayers sampled: {}", model.stayer_rate);
        assert!(model.coefficients[0] > 0.5 && model.coefficients[1] < -0.5, "{:?}", model.coefficients);
        let predicted = model.predict(x.view()).iter().sum::<f64>() / 20_000.0;
        let actual = y.iter().filter(|c| **c).count() as f64 / 20_000.0;
        assert!((predicted - actual).abs() < 0.03, "predicted {predicted}, actual {actual}");
    }

    #[test]
    fn a_model_saved_before_sampling_still_loads() {
        let saved = r#"{"features":["a"],"means":[0.0],"stds":[1.0],"coefficients":[0.5],"intercept":-2.0,"churner_replication":20}"#;
        let model: ChurnModel = serde_json::from_str(saved).unwrap();
        assert_eq!((model.churner_rate, model.stayer_rate), (20.0, 1.0));
    }

    #[test]
    fn fitting_twice_gives_the_same_model_and_missing_values_read_as_the_mean() {
        let (mut x, y) = synthetic(500, 3);
        let a = ChurnModel::fit(names(), x.view(), &y, 1.0, 100_000).unwrap();
        let b = ChurnModel::fit(names(), x.view(), &y, 1.0, 100_000).unwrap();
        assert_eq!(a, b);
        x[[0, 0]] = f64::NAN;
        let mut at_mean = x.row(0).to_owned().insert_axis(Axis(0));
        at_mean[[0, 0]] = a.means[0];
        assert_eq!(a.predict(x.row(0).insert_axis(Axis(0))), a.predict(at_mean.view()));
    }

    #[test]
    fn drivers_name_what_pushes_risk_up() {
        let (x, y) = synthetic(2000, 4);
        let model = ChurnModel::fit(names(), x.view(), &y, 1.0, 100_000).unwrap();
        let late_and_untouched = Array2::from_shape_vec((1, 3), vec![59.0, 0.0, 0.0]).unwrap();
        let drivers = model.drivers(late_and_untouched.view());
        assert!(drivers[0].starts_with("days_late (high) +"), "{drivers:?}");
        assert!(drivers[0].contains("touches (low) +"), "{drivers:?}");
    }
}
