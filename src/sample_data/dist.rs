//! The few random distributions the generator needs, hand-rolled on top of a ChaCha8 stream
//! so the output never depends on another crate's sampling algorithms.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

pub type Stream = ChaCha8Rng;

pub fn uniform(rng: &mut Stream, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

/// Integer uniform on `lo..=hi`.
pub fn between(rng: &mut Stream, lo: i32, hi: i32) -> i32 {
    rng.random_range(lo..=hi)
}

pub fn chance(rng: &mut Stream, p: f64) -> bool {
    rng.random::<f64>() < p
}

pub fn exponential(rng: &mut Stream, mean: f64) -> f64 {
    // 1 - u lies in (0, 1], so the logarithm is finite.
    -mean * (1.0 - rng.random::<f64>()).ln()
}

/// Box–Muller; the second variate is discarded to keep the stream position simple.
pub fn normal(rng: &mut Stream, mean: f64, sd: f64) -> f64 {
    let radius = (-2.0 * (1.0 - rng.random::<f64>()).ln()).sqrt();
    let angle = std::f64::consts::TAU * rng.random::<f64>();
    mean + sd * radius * angle.cos()
}

pub fn lognormal(rng: &mut Stream, median: f64, sigma: f64) -> f64 {
    median * normal(rng, 0.0, sigma).exp()
}

/// Knuth's multiplication method: fine for the small means used here.
pub fn poisson(rng: &mut Stream, mean: f64) -> u32 {
    let limit = (-mean).exp();
    let mut product = rng.random::<f64>();
    let mut count = 0;
    while product > limit {
        product *= rng.random::<f64>();
        count += 1;
    }
    count
}

pub fn pick<T: Copy>(rng: &mut Stream, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

/// Index drawn with probability proportional to `weights`.
pub fn weighted(rng: &mut Stream, weights: &[f64]) -> usize {
    let mut target = uniform(rng, 0.0, weights.iter().sum());
    for (i, w) in weights.iter().enumerate() {
        if target < *w {
            return i;
        }
        target -= w;
    }
    weights.len() - 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn sample_means_match() {
        let mut rng = Stream::seed_from_u64(7);
        let n = 20_000;
        let mean =
            |f: &mut dyn FnMut(&mut Stream) -> f64, rng: &mut Stream| (0..n).map(|_| f(rng)).sum::<f64>() / n as f64;
        assert!((mean(&mut |r| exponential(r, 3.0), &mut rng) - 3.0).abs() < 0.15);
        assert!((mean(&mut |r| normal(r, 5.0, 2.0), &mut rng) - 5.0).abs() < 0.1);
        assert!((mean(&mut |r| poisson(r, 1.5) as f64, &mut rng) - 1.5).abs() < 0.1);
    }
}
