//! Weights by the Analytic Hierarchy Process: from a pairwise comparison matrix (Saaty's
//! 1–9 scale) to weights (its principal eigenvector) and a consistency ratio that says
//! whether the judgements contradict each other.

use anyhow::{bail, Result};

/// Saaty's random consistency index for matrices of order 1..=15.
const RANDOM_INDEX: [f64; 15] =
    [0.0, 0.0, 0.58, 0.90, 1.12, 1.24, 1.32, 1.41, 1.45, 1.49, 1.51, 1.48, 1.56, 1.57, 1.59];

/// The judgements CR must stay below to be accepted.
pub const MAX_CONSISTENCY_RATIO: f64 = 0.10;

#[derive(Debug, Clone, PartialEq)]
pub struct Ahp {
    pub weights: Vec<f64>,
    pub lambda_max: f64,
    pub consistency_index: f64,
    pub consistency_ratio: f64,
}

/// Derives weights from a reciprocal pairwise matrix; `section` names it in errors.
pub fn derive(matrix: &[Vec<f64>], section: &str) -> Result<Ahp> {
    let n = matrix.len();
    if n < 2 || n > RANDOM_INDEX.len() {
        bail!("{section}: the matrix must compare 2 to {} items, not {n}", RANDOM_INDEX.len());
    }
    for (i, row) in matrix.iter().enumerate() {
        if row.len() != n {
            bail!("{section}: row {} has {} entries; the matrix must be {n}×{n}", i + 1, row.len());
        }
        for (j, &a) in row.iter().enumerate() {
            if !(a.is_finite() && a > 0.0) {
                bail!(
                    "{section}: entry ({}, {}) is {a}; judgements are positive (1–9 or their reciprocals)",
                    i + 1,
                    j + 1
                );
            }
            let mirror = matrix[j][i];
            if (a * mirror - 1.0).abs() > 0.01 {
                bail!(
                    "{section}: entry ({}, {}) = {a} but ({}, {}) = {mirror}; they must be reciprocals",
                    i + 1,
                    j + 1,
                    j + 1,
                    i + 1
                );
            }
        }
    }
    // Power iteration converges to the principal eigenvector of a positive matrix.
    let mut w = vec![1.0 / n as f64; n];
    for _ in 0..1000 {
        let next: Vec<f64> = (0..n).map(|i| (0..n).map(|j| matrix[i][j] * w[j]).sum()).collect();
        let total: f64 = next.iter().sum();
        let next: Vec<f64> = next.iter().map(|x| x / total).collect();
        let change: f64 = next.iter().zip(&w).map(|(a, b)| (a - b).abs()).sum();
        w = next;
        if change < 1e-12 {
            break;
        }
    }
    let lambda_max = (0..n).map(|i| (0..n).map(|j| matrix[i][j] * w[j]).sum::<f64>() / w[i]).sum::<f64>() / n as f64;
    let consistency_index = (lambda_max - n as f64) / (n as f64 - 1.0);
    let ri = RANDOM_INDEX[n - 1];
    let consistency_ratio = if ri == 0.0 { 0.0 } else { consistency_index / ri };
    if consistency_ratio >= MAX_CONSISTENCY_RATIO {
        bail!(
            "{section}: the judgements contradict each other: consistency ratio CR = {consistency_ratio:.3} \
             (must be below {MAX_CONSISTENCY_RATIO}); revise the comparisons"
        );
    }
    Ok(Ahp { weights: w, lambda_max, consistency_index, consistency_ratio })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_consistent_matrix_gives_its_exact_weights() {
        // A is twice B and four times C; B is twice C: weights 4/7, 2/7, 1/7, CR 0.
        let m = vec![vec![1.0, 2.0, 4.0], vec![0.5, 1.0, 2.0], vec![0.25, 0.5, 1.0]];
        let ahp = derive(&m, "[health.ahp]").unwrap();
        for (w, expected) in ahp.weights.iter().zip([4.0 / 7.0, 2.0 / 7.0, 1.0 / 7.0]) {
            assert!((w - expected).abs() < 1e-9, "{:?}", ahp.weights);
        }
        assert!((ahp.lambda_max - 3.0).abs() < 1e-9);
        assert!(ahp.consistency_ratio.abs() < 1e-9);
    }

    #[test]
    fn saatys_textbook_example() {
        // Saaty's classic 3×3 example (1, 3, 5 / 1/3, 1, 3 / 1/5, 1/3, 1): weights ≈ 0.637,
        // 0.258, 0.105; λmax ≈ 3.039, CI ≈ 0.019, CR ≈ 0.033.
        let m = vec![vec![1.0, 3.0, 5.0], vec![1.0 / 3.0, 1.0, 3.0], vec![0.2, 1.0 / 3.0, 1.0]];
        let ahp = derive(&m, "[health.ahp]").unwrap();
        for (w, expected) in ahp.weights.iter().zip([0.637, 0.258, 0.105]) {
            assert!((w - expected).abs() < 0.001, "{:?}", ahp.weights);
        }
        assert!((ahp.lambda_max - 3.039).abs() < 0.001, "{}", ahp.lambda_max);
        assert!((ahp.consistency_ratio - 0.033).abs() < 0.001, "{}", ahp.consistency_ratio);
    }

    #[test]
    fn an_inconsistent_matrix_is_refused_with_its_cr() {
        // A > B > C strongly, yet C > A strongly: a cycle of preferences.
        let m = vec![vec![1.0, 5.0, 1.0 / 5.0], vec![0.2, 1.0, 5.0], vec![5.0, 0.2, 1.0]];
        let err = derive(&m, "[health.ahp]").unwrap_err().to_string();
        assert!(err.contains("CR = ") && err.contains("[health.ahp]"), "{err}");
    }

    #[test]
    fn a_matrix_that_is_not_reciprocal_is_refused() {
        let m = vec![vec![1.0, 3.0], vec![3.0, 1.0]];
        assert!(derive(&m, "x").unwrap_err().to_string().contains("reciprocals"));
    }
}
