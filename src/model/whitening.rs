//! Decorrelating the standardized features before the logistic fit. The rhythm features
//! are strongly correlated (span, gaps, counts and rates of the same invoices), and L-BFGS
//! crawls along such a valley; on whitened rows — centred, rotated onto the principal axes
//! of their covariance and scaled to unit variance — it converges in a fraction of the
//! iterations. The fit is exact to map back: with w = (z − μ)·W, a model b′ + w·β′ is
//! b′ − μ·Wβ′ + z·Wβ′ on the standardized rows. Directions with (almost) no variance are
//! left out rather than blown up: they carry no information, and scaling them to unit
//! variance would let the fit put large offsetting weights on near-duplicate features.

use ndarray::{Array1, Array2, ArrayView2, Axis};

/// A principal direction with less variance than this (a standardized feature has about
/// 1) is left out of the whitened rows.
const LEAST_VARIANCE: f64 = 1e-3;

/// Rows whitened at a time, so the product needs only a small buffer beside the rows.
const CHUNK_ROWS: usize = 4096;

/// The centring and the linear map that whiten a set of rows.
pub struct Whitening {
    mean: Array1<f64>,
    /// Columns: the principal axes, each divided by its standard deviation (0 for an axis
    /// left out).
    map: Array2<f64>,
}

impl Whitening {
    /// The whitening of the rows `z`.
    pub fn of(z: ArrayView2<f64>) -> Whitening {
        let n = z.nrows().max(1) as f64;
        let mean = z.mean_axis(Axis(0)).unwrap_or_else(|| Array1::zeros(z.ncols()));
        // Covariance without a centred copy of the rows: E[zzᵀ] − μμᵀ.
        let mut covariance = z.t().dot(&z) / n;
        for i in 0..mean.len() {
            for j in 0..mean.len() {
                covariance[[i, j]] -= mean[i] * mean[j];
            }
        }
        let (variances, mut axes) = symmetric_eigen(covariance);
        for (j, variance) in variances.iter().enumerate() {
            let scale = if *variance > LEAST_VARIANCE { variance.sqrt().recip() } else { 0.0 };
            axes.column_mut(j).mapv_inplace(|v| v * scale);
        }
        Whitening { mean, map: axes }
    }

    /// Whitens the rows `z` in place.
    pub fn apply(&self, z: &mut Array2<f64>) {
        for mut chunk in z.axis_chunks_iter_mut(Axis(0), CHUNK_ROWS) {
            chunk -= &self.mean;
            let white = chunk.dot(&self.map);
            chunk.assign(&white);
        }
    }

    /// The coefficients and intercept on the standardized rows of a fit on the whitened ones.
    pub fn unwhiten(&self, coefficients: &Array1<f64>, intercept: f64) -> (Array1<f64>, f64) {
        let standardized = self.map.dot(coefficients);
        let intercept = intercept - self.mean.dot(&standardized);
        (standardized, intercept)
    }
}

/// The eigenvalues of the symmetric matrix `a` and its eigenvectors (columns), by cyclic
/// Jacobi rotations: exact to rounding for the few dozen features a model has, and the
/// same bits on every machine.
fn symmetric_eigen(mut a: Array2<f64>) -> (Vec<f64>, Array2<f64>) {
    let k = a.nrows();
    let mut v = Array2::eye(k);
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().max(f64::MIN_POSITIVE);
    for _sweep in 0..100 {
        let off: f64 = (0..k).flat_map(|p| (p + 1..k).map(move |q| (p, q))).map(|(p, q)| a[[p, q]].powi(2)).sum();
        if off <= 1e-30 * scale {
            break;
        }
        for p in 0..k {
            for q in p + 1..k {
                if a[[p, q]] == 0.0 {
                    continue;
                }
                // The rotation in the (p, q) plane that zeroes a[p][q] (Numerical Recipes §11.1).
                let theta = (a[[q, q]] - a[[p, p]]) / (2.0 * a[[p, q]]);
                let t = if theta >= 0.0 { 1.0 } else { -1.0 } / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for r in 0..k {
                    let (rp, rq) = (a[[r, p]], a[[r, q]]);
                    a[[r, p]] = c * rp - s * rq;
                    a[[r, q]] = s * rp + c * rq;
                }
                for r in 0..k {
                    let (pr, qr) = (a[[p, r]], a[[q, r]]);
                    a[[p, r]] = c * pr - s * qr;
                    a[[q, r]] = s * pr + c * qr;
                }
                for r in 0..k {
                    let (rp, rq) = (v[[r, p]], v[[r, q]]);
                    v[[r, p]] = c * rp - s * rq;
                    v[[r, q]] = s * rp + c * rq;
                }
            }
        }
    }
    ((0..k).map(|i| a[[i, i]]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn the_eigen_decomposition_rebuilds_the_matrix() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let b = Array2::from_shape_fn((6, 6), |_| rng.random::<f64>() - 0.5);
        let a = b.t().dot(&b);
        let (values, vectors) = symmetric_eigen(a.clone());
        let rebuilt = vectors.dot(&Array2::from_diag(&Array1::from(values))).dot(&vectors.t());
        assert!((&rebuilt - &a).iter().all(|d| d.abs() < 1e-12), "{rebuilt} against {a}");
        let identity = vectors.t().dot(&vectors);
        assert!((&identity - &Array2::<f64>::eye(6)).iter().all(|d| d.abs() < 1e-12));
    }

    #[test]
    fn whitened_rows_are_uncorrelated_and_a_duplicate_column_is_left_out() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        // Three features: two correlated, the third a copy of the first.
        let z = Array2::from_shape_fn((5000, 3), |_| rng.random::<f64>());
        let mut z = z.clone();
        for mut row in z.rows_mut() {
            row[1] = 0.8 * row[0] + 0.2 * row[1];
            row[2] = row[0];
        }
        let whitening = Whitening::of(z.view());
        let mut white = z.clone();
        whitening.apply(&mut white);
        let covariance = white.t().dot(&white) / white.nrows() as f64;
        let kept: Vec<usize> = (0..3).filter(|j| covariance[[*j, *j]] > 0.5).collect();
        assert_eq!(kept.len(), 2, "the copy adds no direction: {covariance}");
        for i in 0..3 {
            for j in 0..3 {
                let expected = if i == j && kept.contains(&i) { 1.0 } else { 0.0 };
                assert!((covariance[[i, j]] - expected).abs() < 1e-9, "{covariance}");
            }
        }
        // A linear score on the whitened rows is the same score on the original ones.
        let beta = Array1::from(vec![0.7, -1.3, 0.4]);
        let (standardized, intercept) = whitening.unwhiten(&beta, 0.25);
        for (w, z) in white.rows().into_iter().zip(z.rows()).take(50) {
            assert!((0.25 + w.dot(&beta) - (intercept + z.dot(&standardized))).abs() < 1e-9);
        }
    }
}
