//! Derivative-free minimization (the Nelder–Mead simplex method) for the model lane's small
//! fits: the BG/NBD parameters and the health score's dimension weights.

/// Minimizes `f` from `start`: Nelder–Mead with the standard coefficients, restarted twice
/// from its own answer (a restart undoes a collapsed simplex). Each round stops when the
/// simplex's values agree to 1e-10 or after 2,000 iterations. Deterministic.
pub fn minimize(f: &dyn Fn(&[f64]) -> f64, start: &[f64]) -> Vec<f64> {
    let mut best = start.to_vec();
    for _ in 0..3 {
        best = nelder_mead(f, &best);
    }
    best
}

fn nelder_mead(f: &dyn Fn(&[f64]) -> f64, start: &[f64]) -> Vec<f64> {
    let n = start.len();
    let mut simplex: Vec<(Vec<f64>, f64)> = (0..=n)
        .map(|i| {
            let mut p = start.to_vec();
            if i > 0 {
                p[i - 1] += 0.5;
            }
            let value = f(&p);
            (p, value)
        })
        .collect();
    let towards = |from: &[f64], to: &[f64], by: f64| -> Vec<f64> {
        from.iter().zip(to).map(|(a, b)| a + by * (b - a)).collect()
    };
    for _ in 0..2_000 {
        simplex.sort_by(|p, q| p.1.total_cmp(&q.1));
        let (best, worst) = (simplex[0].1, simplex[n].1);
        if (worst - best).abs() <= 1e-10 * (1.0 + best.abs()) {
            break;
        }
        let centroid: Vec<f64> =
            (0..n).map(|k| simplex[..n].iter().map(|(p, _)| p[k]).sum::<f64>() / n as f64).collect();
        let reflected = towards(&centroid, &simplex[n].0, -1.0);
        let fr = f(&reflected);
        if fr < best {
            let expanded = towards(&centroid, &simplex[n].0, -2.0);
            let fe = f(&expanded);
            simplex[n] = if fe < fr { (expanded, fe) } else { (reflected, fr) };
        } else if fr < simplex[n - 1].1 {
            simplex[n] = (reflected, fr);
        } else {
            let contracted =
                if fr < worst { towards(&centroid, &reflected, 0.5) } else { towards(&centroid, &simplex[n].0, 0.5) };
            let fc = f(&contracted);
            if fc < fr.min(worst) {
                simplex[n] = (contracted, fc);
            } else {
                let lowest = simplex[0].0.clone();
                for vertex in simplex.iter_mut().skip(1) {
                    vertex.0 = towards(&lowest, &vertex.0, 0.5);
                    vertex.1 = f(&vertex.0);
                }
            }
        }
    }
    simplex.sort_by(|p, q| p.1.total_cmp(&q.1));
    simplex.swap_remove(0).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_minimum_of_a_curved_valley() {
        let rosenbrock = |p: &[f64]| (1.0 - p[0]).powi(2) + 100.0 * (p[1] - p[0] * p[0]).powi(2);
        let found = minimize(&rosenbrock, &[-1.2, 1.0]);
        assert!((found[0] - 1.0).abs() < 1e-4 && (found[1] - 1.0).abs() < 1e-4, "{found:?}");
    }
}
