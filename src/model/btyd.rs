//! The buy-till-you-die view of a customer: the BG/NBD model (Fader, Hardie & Lee 2005,
//! "Counting your customers the easy way"), fitted on one date's purchase histories. It
//! gives the churn model two features a logistic regression cannot form from recency and
//! frequency alone: the probability that the customer is still buying (P(alive)), and the
//! purchases expected of them in the horizon, both judged against their own rhythm.
//!
//! A customer's history is three numbers: repeat purchases x (purchases after the first),
//! the time t_x from the first purchase to the last, and the time T from the first
//! purchase to the date. Each customer buys at a Poisson rate drawn from a gamma(r, α) and
//! may drop out after any purchase with a probability drawn from a beta(a, b).

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::simplex::minimize;

/// The churn_features columns a history is read from: x, t_x and the days since the last
/// purchase (T = t_x + those days).
pub const HISTORY: [&str; 3] = ["repeat_purchases", "purchase_span_days", "recency_days"];
/// The features derived from the fit: P(alive) and E[purchases in the horizon].
pub const FEATURES: [&str; 2] = ["p_alive", "expected_purchases"];

/// Fills the [`FEATURES`] columns of `x` (columns as `names` says; rows of one date
/// together, as `dates` gives them), each date's rows from a fit on that date's histories
/// alone, so a snapshot's features know nothing of later ones. A row without a history
/// (never invoiced) keeps them missing. Returns each date's fit (None: no repeat purchase
/// to fit on), in row order; nothing when `names` has no [`FEATURES`].
pub fn derive(x: &mut Array2<f64>, names: &[String], dates: &[i32], horizon_days: f64) -> Vec<(i32, Option<BgNbd>)> {
    let column = |name: &str| names.iter().position(|n| n == name);
    let (Some(alive), Some(expected)) = (column(FEATURES[0]), column(FEATURES[1])) else {
        return Vec::new();
    };
    let (Some(repeat), Some(span), Some(recency)) = (column(HISTORY[0]), column(HISTORY[1]), column(HISTORY[2])) else {
        return Vec::new();
    };
    let history = |i: usize| {
        let [x, t_x, silent] = [x[[i, repeat]], x[[i, span]], x[[i, recency]]];
        (x.is_finite() && t_x.is_finite() && silent.is_finite()).then(|| Purchases {
            repeat: x.max(0.0),
            span: t_x.max(0.0),
            age: t_x.max(0.0) + silent.max(0.0),
        })
    };
    let mut runs: Vec<(i32, std::ops::Range<usize>)> = Vec::new();
    for (i, day) in dates.iter().enumerate() {
        match runs.last_mut() {
            Some((d, rows)) if d == day => rows.end = i + 1,
            _ => runs.push((*day, i..i + 1)),
        }
    }
    let histories: Vec<Vec<(usize, Purchases)>> =
        runs.iter().map(|(_, rows)| rows.clone().filter_map(|i| history(i).map(|h| (i, h))).collect()).collect();
    // The fits are independent: one thread each.
    let fits: Vec<Option<BgNbd>> = std::thread::scope(|scope| {
        let fitting: Vec<_> = histories
            .iter()
            .map(|rows| scope.spawn(move || BgNbd::fit(&rows.iter().map(|(_, h)| *h).collect::<Vec<_>>())))
            .collect();
        fitting.into_iter().map(|f| f.join().expect("a BG/NBD fit panicked")).collect()
    });
    for (rows, fit) in histories.iter().zip(&fits) {
        let Some(fit) = fit else { continue };
        for (i, h) in rows {
            x[[*i, alive]] = fit.p_alive(*h);
            x[[*i, expected]] = fit.expected_purchases(*h, horizon_days);
        }
    }
    runs.into_iter().map(|(day, _)| day).zip(fits).collect()
}

/// A customer's purchase history as of a date, in days.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Purchases {
    /// Purchases after the first.
    pub repeat: f64,
    /// From the first purchase to the last.
    pub span: f64,
    /// From the first purchase to the date.
    pub age: f64,
}

/// BG/NBD parameters; α is in the time unit of the histories it was fitted on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

/// Histories the fit reads at most: the parameters describe the whole portfolio, and an
/// even sample of this many pins them down to a few per cent (the fit's cost grows with
/// the rows; the features are computed for every customer).
pub const FIT_ROWS: usize = 5_000;

impl BgNbd {
    /// The maximum-likelihood parameters for `histories` (every k-th one past
    /// [`FIT_ROWS`]); None when they have no repeat purchase to learn from or the fit does
    /// not converge to finite values.
    pub fn fit(histories: &[Purchases]) -> Option<BgNbd> {
        let stride = histories.len().div_ceil(FIT_ROWS).max(1);
        let mut sample: Vec<Purchases> = histories.iter().step_by(stride).copied().collect();
        if !sample.iter().any(|h| h.repeat > 0.0) {
            return None;
        }
        // In units of the mean age, so the search starts near the answer whatever the data's
        // time unit; repeat counts grouped, so each log-gamma is taken once per count.
        let scale = sample.iter().map(|h| h.age).sum::<f64>() / sample.len() as f64;
        let scale = if scale > 0.0 { scale } else { 1.0 };
        for h in &mut sample {
            h.span /= scale;
            h.age /= scale;
        }
        sample.sort_by(|p, q| p.repeat.total_cmp(&q.repeat));
        let objective = |theta: &[f64]| {
            if theta.iter().any(|t| t.abs() > LOG_BOUND) {
                return f64::INFINITY;
            }
            let p = BgNbd { r: theta[0].exp(), alpha: theta[1].exp(), a: theta[2].exp(), b: theta[3].exp() };
            -p.log_likelihood(&sample)
        };
        let best = minimize(&objective, &[0.0; 4]);
        let p = BgNbd { r: best[0].exp(), alpha: best[1].exp() * scale, a: best[2].exp(), b: best[3].exp() };
        let finite = [p.r, p.alpha, p.a, p.b].iter().all(|v| v.is_finite() && *v > 0.0);
        finite.then_some(p)
    }

    /// The log-likelihood of `histories` (the sum over them), in their time unit.
    pub fn log_likelihood(&self, histories: &[Purchases]) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let (lg_r, lg_ab, lg_b, ln_alpha) = (ln_gamma(r), ln_gamma(a + b), ln_gamma(b), alpha.ln());
        let mut total = 0.0;
        let mut cached: Option<(f64, f64)> = None;
        for h in histories {
            let x = h.repeat;
            let counts = match cached {
                Some((seen, terms)) if seen == x => terms,
                _ => {
                    let terms =
                        ln_gamma(r + x) - lg_r + r * ln_alpha + lg_ab + ln_gamma(b + x) - lg_b - ln_gamma(a + b + x);
                    cached = Some((x, terms));
                    terms
                }
            };
            let stayed = -(r + x) * (alpha + h.age).ln();
            let dropped =
                if x > 0.0 { a.ln() - (b + x - 1.0).ln() - (r + x) * (alpha + h.span).ln() } else { f64::NEG_INFINITY };
            total += counts + log_add_exp(stayed, dropped);
        }
        total
    }

    /// Log of the odds that a customer with this history has dropped out; −∞ without a
    /// repeat purchase (the model lets customers drop out only after one).
    fn log_odds_gone(&self, h: Purchases) -> f64 {
        if h.repeat <= 0.0 {
            return f64::NEG_INFINITY;
        }
        let BgNbd { r, alpha, a, b } = *self;
        a.ln() - (b + h.repeat - 1.0).ln() + (r + h.repeat) * ((alpha + h.age).ln() - (alpha + h.span).ln())
    }

    /// P(alive | history): the probability the customer has not dropped out.
    pub fn p_alive(&self, h: Purchases) -> f64 {
        1.0 / (1.0 + self.log_odds_gone(h).exp())
    }

    /// E[purchases in the next `t` | history] (FHL 2005, eq. 10). The Gaussian
    /// hypergeometric function is taken in Euler's form, whose series converges fast and
    /// cannot overflow for customers with many purchases.
    pub fn expected_purchases(&self, h: Purchases, t: f64) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let x = h.repeat;
        // Away from a = 1, where the closed form is 0 / 0.
        let a = if (a - 1.0).abs() < 1e-9 { 1.0 + 1e-9 } else { a };
        let z = t / (alpha + h.age + t);
        let c = a + b + x - 1.0;
        let bracket = 1.0 - (1.0 - z).powf(a - 1.0) * hypergeometric(a + b - 1.0 - r, a - 1.0, c, z);
        c / (a - 1.0) * bracket / (1.0 + self.log_odds_gone(h).exp())
    }
}

/// Log-parameters beyond this are out of bounds (e^12 ≈ 160,000): where the likelihood
/// peaks at a bound (no customer drops out: a → 0, b → ∞) the search stops there.
const LOG_BOUND: f64 = 12.0;

fn log_add_exp(p: f64, q: f64) -> f64 {
    let top = p.max(q);
    if top == f64::NEG_INFINITY {
        return top;
    }
    top + ((p - top).exp() + (q - top).exp()).ln()
}

fn ln_gamma(v: f64) -> f64 {
    libm::lgamma(v)
}

/// ₂F₁(a, b; c; z) for 0 ≤ z < 1 by its power series.
fn hypergeometric(a: f64, b: f64, c: f64, z: f64) -> f64 {
    let (mut term, mut sum) = (1.0, 1.0);
    for k in 0..100_000 {
        let k = k as f64;
        term *= (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
        sum += term;
        if term.abs() <= 1e-15 * sum.abs() {
            break;
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The CDNOW parameters of FHL 2005 (weeks).
    const CDNOW: BgNbd = BgNbd { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };

    #[test]
    fn conditional_figures_match_an_independent_implementation() {
        // Reference values from the Python library lifetimes (BetaGeoFitter fitted on its
        // CDNOW summary: r 0.242593, α 4.413532, a 0.792886, b 2.425752), 39 weeks ahead.
        let fitted = BgNbd { r: 0.24259293, alpha: 4.41353227, a: 0.79288597, b: 2.42575238 };
        for (x, span, age, expected, alive) in [
            (2.0, 30.43, 38.86, 1.2259104241744068, 0.72660914),
            (0.0, 0.0, 38.86, 0.19478085793947836, 1.0),
            (7.0, 29.43, 38.86, 3.3372396465269594, 0.64180064),
            (1.0, 1.71, 38.86, 0.20325062425618798, 0.21222739),
            (26.0, 38.0, 39.0, 17.330474698998042, 0.94940622),
        ] {
            let h = Purchases { repeat: x, span, age };
            let e = fitted.expected_purchases(h, 39.0);
            assert!((e - expected).abs() < 1e-6 * expected, "E[Y(39)] for {h:?}: {e} vs {expected}");
            assert!((fitted.p_alive(h) - alive).abs() < 1e-6, "P(alive) for {h:?}");
        }
    }

    /// Draws BG/NBD histories with known parameters, observed for `weeks`.
    fn simulate(truth: BgNbd, customers: usize, weeks: f64, seed: u64) -> Vec<Purchases> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        fn gamma(shape: f64, rng: &mut ChaCha8Rng) -> f64 {
            // Marsaglia and Tsang; a shape below 1 from shape + 1 and a uniform's power.
            if shape < 1.0 {
                return gamma(shape + 1.0, rng) * rng.random::<f64>().powf(1.0 / shape);
            }
            let d = shape - 1.0 / 3.0;
            let c = 1.0 / (9.0 * d).sqrt();
            loop {
                let (u1, u2): (f64, f64) = (rng.random(), rng.random());
                let n = (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                let v = (1.0 + c * n).powi(3);
                if v > 0.0 && (1.0 - rng.random::<f64>()).ln() < 0.5 * n * n + d - d * v + d * v.ln() {
                    return d * v;
                }
            }
        }
        (0..customers)
            .map(|_| {
                let rate = gamma(truth.r, &mut rng) / truth.alpha;
                let (ga, gb) = (gamma(truth.a, &mut rng), gamma(truth.b, &mut rng));
                let drop = ga / (ga + gb);
                let (mut t, mut repeat, mut last) = (0.0, 0.0, 0.0);
                loop {
                    t += -(1.0 - rng.random::<f64>()).ln() / rate;
                    if t > weeks {
                        break;
                    }
                    repeat += 1.0;
                    last = t;
                    if rng.random::<f64>() < drop {
                        break;
                    }
                }
                Purchases { repeat, span: last, age: weeks }
            })
            .collect()
    }

    #[test]
    fn the_fit_recovers_the_parameters_it_was_simulated_with_in_any_time_unit() {
        let weeks = simulate(CDNOW, FIT_ROWS, 39.0, 7);
        let fitted = BgNbd::fit(&weeks).expect("a fit");
        for (got, want) in [(fitted.r, CDNOW.r), (fitted.alpha, CDNOW.alpha), (fitted.a, CDNOW.a), (fitted.b, CDNOW.b)]
        {
            assert!((got / want - 1.0).abs() < 0.25, "{fitted:?} against {CDNOW:?}");
        }
        assert!(fitted.log_likelihood(&weeks) >= CDNOW.log_likelihood(&weeks), "the optimum is at least the truth's");
        let days: Vec<Purchases> =
            weeks.iter().map(|h| Purchases { repeat: h.repeat, span: h.span * 7.0, age: h.age * 7.0 }).collect();
        let in_days = BgNbd::fit(&days).expect("a fit");
        assert!((in_days.alpha / 7.0 / fitted.alpha - 1.0).abs() < 1e-3, "α scales with the unit: {in_days:?}");
        assert!((in_days.r / fitted.r - 1.0).abs() < 1e-3 && (in_days.b / fitted.b - 1.0).abs() < 1e-3);
    }

    #[test]
    fn no_repeat_purchase_gives_no_fit_and_big_counts_stay_finite() {
        let once = vec![Purchases { repeat: 0.0, span: 0.0, age: 100.0 }; 50];
        assert_eq!(BgNbd::fit(&once), None);
        let busy = Purchases { repeat: 5_000.0, span: 360.0, age: 365.0 };
        let e = BgNbd { r: 2.0, alpha: 30.0, a: 0.5, b: 3.0 }.expected_purchases(busy, 90.0);
        assert!(e.is_finite() && e > 0.0, "{e}");
    }
}
