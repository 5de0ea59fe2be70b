//! How good a churn score is on customers whose outcome is known: ranking (ROC AUC,
//! PR AUC, the ROC curve), probability quality (Brier score, log loss) and a 10-bin
//! calibration table.

use crate::manifest::{CalibrationBin, Evaluation, RocPoint};

/// The step the published ROC curve is thinned to, on either axis.
const ROC_STEP: f64 = 0.01;

/// Scores predicted probabilities `p` against outcomes `y` (true = churned).
pub fn evaluate(p: &[f64], y: &[bool]) -> Evaluation {
    assert_eq!(p.len(), y.len(), "one prediction per outcome");
    let n = p.len();
    let churned = y.iter().filter(|c| **c).count();
    let eps = 1e-15;
    let brier = p.iter().zip(y).map(|(p, &y)| (p - f64::from(u8::from(y))).powi(2)).sum::<f64>() / n as f64;
    let log_loss = -p
        .iter()
        .zip(y)
        .map(|(p, &y)| {
            let p = p.clamp(eps, 1.0 - eps);
            if y {
                p.ln()
            } else {
                (1.0 - p).ln()
            }
        })
        .sum::<f64>()
        / n as f64;
    Evaluation {
        customers: n,
        churned,
        roc_auc: roc_auc(p, y),
        roc_auc_standard_error: Some(roc_auc_standard_error(p, y)).filter(|se| !se.is_nan()),
        pr_auc: average_precision(p, y),
        brier,
        log_loss,
        calibration: calibration(p, y, 10),
        roc: roc_curve(p, y, ROC_STEP),
    }
}

/// Indices ordered by score, highest first; ties keep input order (stable).
fn by_score_desc(p: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    order
}

/// The rank of each of `p` among them, from 1, tied values sharing their mid-rank.
fn mid_ranks(p: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut ranks = vec![0.0; p.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && p[order[j + 1]] == p[order[i]] {
            j += 1;
        }
        let mid = (i + j) as f64 / 2.0 + 1.0;
        for k in &order[i..=j] {
            ranks[*k] = mid;
        }
        i = j + 1;
    }
    ranks
}

/// The probability that a churner is scored above a non-churner (ties count half).
pub fn roc_auc(p: &[f64], y: &[bool]) -> f64 {
    let pos = y.iter().filter(|c| **c).count() as f64;
    let neg = y.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return f64::NAN;
    }
    let rank_sum: f64 = mid_ranks(p).iter().zip(y).filter(|(_, c)| **c).map(|(r, _)| r).sum();
    (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

/// The standard error of the ROC AUC of `p` against `y` (DeLong, DeLong & Clarke-Pearson
/// 1988): how far it may move by chance alone on another sample of that size. NaN
/// without two churners and two stayers.
pub fn roc_auc_standard_error(p: &[f64], y: &[bool]) -> f64 {
    let of = |class: bool| -> Vec<f64> { p.iter().zip(y).filter(|(_, c)| **c == class).map(|(p, _)| *p).collect() };
    let (churners, stayers) = (of(true), of(false));
    let (n1, n2) = (churners.len() as f64, stayers.len() as f64);
    if n1 < 2.0 || n2 < 2.0 {
        return f64::NAN;
    }
    // Each churner's share of stayers scored below it, and each stayer's share of churners
    // scored above it: its rank among all less its rank in its own class.
    let all = mid_ranks(p);
    let rank_of =
        |class: bool| -> Vec<f64> { all.iter().zip(y).filter(|(_, c)| **c == class).map(|(r, _)| *r).collect() };
    let below: Vec<f64> = rank_of(true).iter().zip(mid_ranks(&churners)).map(|(all, own)| (all - own) / n2).collect();
    let above: Vec<f64> =
        rank_of(false).iter().zip(mid_ranks(&stayers)).map(|(all, own)| 1.0 - (all - own) / n1).collect();
    let auc = below.iter().sum::<f64>() / n1;
    let variance = |v: &[f64]| v.iter().map(|x| (x - auc).powi(2)).sum::<f64>() / (v.len() as f64 - 1.0);
    (variance(&below) / n1 + variance(&above) / n2).sqrt()
}

/// Average precision: precision at each recall step, a group of tied scores counted as one step.
pub fn average_precision(p: &[f64], y: &[bool]) -> f64 {
    let pos = y.iter().filter(|c| **c).count() as f64;
    if pos == 0.0 {
        return f64::NAN;
    }
    let order = by_score_desc(p);
    let (mut seen, mut hits, mut ap, mut i) = (0.0, 0.0, 0.0, 0);
    while i < order.len() {
        let mut group_hits = 0.0;
        let mut j = i;
        while j < order.len() && p[order[j]] == p[order[i]] {
            group_hits += f64::from(u8::from(y[order[j]]));
            j += 1;
        }
        seen += (j - i) as f64;
        hits += group_hits;
        ap += (group_hits / pos) * (hits / seen);
        i = j;
    }
    ap
}

/// The ROC curve from (0, 0) to (1, 1), lowering the threshold one distinct score at a
/// time (tied scores make one diagonal step), keeping a point only when it is at least
/// `step` from the last kept one on an axis, and always the end. Empty without both classes.
pub fn roc_curve(p: &[f64], y: &[bool], step: f64) -> Vec<RocPoint> {
    let pos = y.iter().filter(|c| **c).count() as f64;
    let neg = y.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return Vec::new();
    }
    let order = by_score_desc(p);
    let mut curve = vec![RocPoint { fpr: 0.0, tpr: 0.0 }];
    let (mut churners, mut stayers, mut i) = (0.0, 0.0, 0);
    while i < order.len() {
        let mut j = i;
        while j < order.len() && p[order[j]] == p[order[i]] {
            if y[order[j]] {
                churners += 1.0;
            } else {
                stayers += 1.0;
            }
            j += 1;
        }
        let point = RocPoint { fpr: stayers / neg, tpr: churners / pos };
        let last = curve[curve.len() - 1];
        if j == order.len() || point.fpr - last.fpr >= step || point.tpr - last.tpr >= step {
            curve.push(point);
        }
        i = j;
    }
    curve
}

/// Customers sorted by predicted risk and cut into `bins` groups of (nearly) equal size.
pub fn calibration(p: &[f64], y: &[bool], bins: usize) -> Vec<CalibrationBin> {
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    (0..bins)
        .filter_map(|b| {
            let (lo, hi) = (b * order.len() / bins, (b + 1) * order.len() / bins);
            let members = &order[lo..hi];
            (!members.is_empty()).then(|| CalibrationBin {
                bin: b + 1,
                customers: members.len(),
                mean_predicted: members.iter().map(|&i| p[i]).sum::<f64>() / members.len() as f64,
                observed_rate: members.iter().filter(|&&i| y[i]).count() as f64 / members.len() as f64,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_of_a_perfect_a_reversed_and_a_tied_score() {
        let y = [false, false, true, true];
        assert_eq!(roc_auc(&[0.1, 0.2, 0.8, 0.9], &y), 1.0);
        assert_eq!(roc_auc(&[0.9, 0.8, 0.2, 0.1], &y), 0.0);
        assert_eq!(roc_auc(&[0.5, 0.5, 0.5, 0.5], &y), 0.5);
        // One churner above both, one between: 3 of 4 pairs ordered right.
        assert_eq!(roc_auc(&[0.1, 0.5, 0.3, 0.9], &y), 0.75);
    }

    #[test]
    fn the_auc_standard_error_matches_the_spread_of_aucs_over_samples() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        // Standard normal scores (Box–Muller), churners shifted up by one.
        let mut normal = || {
            let (u, v): (f64, f64) = (rng.random(), rng.random());
            (-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        };
        let (churners, stayers) = (40, 400);
        let y: Vec<bool> = (0..churners + stayers).map(|i| i < churners).collect();
        let (mut aucs, mut errors) = (Vec::new(), Vec::new());
        for _ in 0..2000 {
            let p: Vec<f64> = y.iter().map(|c| normal() + f64::from(u8::from(*c))).collect();
            aucs.push(roc_auc(&p, &y));
            errors.push(roc_auc_standard_error(&p, &y));
        }
        let mean = aucs.iter().sum::<f64>() / aucs.len() as f64;
        let spread = (aucs.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (aucs.len() - 1) as f64).sqrt();
        let se = errors.iter().sum::<f64>() / errors.len() as f64;
        assert!((se / spread - 1.0).abs() < 0.05, "standard error {se:.4} against a spread of {spread:.4}");
        assert!(roc_auc_standard_error(&[0.1, 0.9], &[false, true]).is_nan(), "one of each: no estimate");
    }

    #[test]
    fn the_roc_curve_encloses_the_auc_and_thins_to_its_step() {
        let p = [0.9, 0.8, 0.8, 0.6, 0.5, 0.5, 0.4, 0.3, 0.2, 0.1];
        let y = [true, false, true, true, false, false, true, false, false, false];
        let curve = roc_curve(&p, &y, 0.0);
        assert_eq!(curve.first(), Some(&RocPoint { fpr: 0.0, tpr: 0.0 }));
        assert_eq!(curve.last(), Some(&RocPoint { fpr: 1.0, tpr: 1.0 }));
        let area: f64 = curve.windows(2).map(|w| (w[1].fpr - w[0].fpr) * (w[1].tpr + w[0].tpr) / 2.0).sum();
        assert!((area - roc_auc(&p, &y)).abs() < 1e-12);
        let thinned = roc_curve(&p, &y, 0.3);
        assert!(thinned.len() < curve.len());
        assert_eq!(thinned.last(), curve.last());
        assert!(roc_curve(&p, &[false; 10], 0.0).is_empty());
    }

    #[test]
    fn average_precision_by_hand() {
        // Ranked: churner, stayer, churner → precision 1 at recall ½, ⅔ at recall 1.
        let ap = average_precision(&[0.9, 0.8, 0.7], &[true, false, true]);
        assert!((ap - (0.5 * 1.0 + 0.5 * 2.0 / 3.0)).abs() < 1e-12);
    }

    #[test]
    fn brier_log_loss_and_calibration() {
        let e = evaluate(&[0.0, 1.0, 0.5, 0.5], &[false, true, true, false]);
        assert!((e.brier - 0.125).abs() < 1e-12);
        assert!((e.log_loss - (2.0 * 0.5f64.ln().abs()) / 4.0).abs() < 1e-6);
        let bins = calibration(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true], 2);
        assert_eq!(bins[0].observed_rate, 0.0);
        assert_eq!(bins[1].observed_rate, 1.0);
        assert!((bins[1].mean_predicted - 0.85).abs() < 1e-12);
    }
}
