//! One synthetic customer: a latent profile (size, buying rhythm, churn) and the events it
//! produces over the data window. Customers who will churn decline before their churn
//! date: they buy less, pay later, are touched less and answer slower, complain more and
//! give lower NPS, CSAT and relationship levels.

use chrono::{Duration, NaiveDate};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Small distributions over the stable ChaCha stream (no extra crate needed).
pub trait Draw {
    fn unit(&mut self) -> f64;
    fn normal(&mut self, mean: f64, sd: f64) -> f64;
    fn exponential(&mut self, mean: f64) -> f64;
    fn chance(&mut self, p: f64) -> bool;
    fn days(&mut self, lo: i64, hi: i64) -> i64;
}

impl Draw for ChaCha8Rng {
    fn unit(&mut self) -> f64 {
        self.random::<f64>()
    }
    fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        let (u1, u2) = (1.0 - self.unit(), self.unit());
        mean + sd * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
    fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn days(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            lo
        } else {
            self.random_range(lo..=hi)
        }
    }
}

/// The hidden truth about a customer, from which all its rows follow.
pub struct Profile {
    pub signup: NaiveDate,
    pub churn: Option<NaiveDate>,
    /// When the decline towards churn starts, for churners and for customers declining now.
    decline_start: Option<NaiveDate>,
    decline_end: NaiveDate,
    pub deal_size: f64,
    pub invoices_per_month: f64,
    pub touches_per_month: f64,
    pub product_lines: Vec<usize>,
}

impl Profile {
    pub fn draw(rng: &mut ChaCha8Rng, start: NaiveDate, end: NaiveDate) -> Profile {
        let window = (end - start).num_days();
        let signup = if rng.chance(0.7) {
            start - Duration::days(rng.days(1, 3 * 365))
        } else {
            start + Duration::days(rng.days(0, window - 60))
        };
        let earliest_churn = signup.max(start) + Duration::days(90);
        let churn = (rng.chance(0.25) && earliest_churn < end).then(|| {
            earliest_churn + Duration::days(rng.days(0, (end - earliest_churn).num_days()))
        });
        let (decline_start, decline_end) = match churn {
            Some(c) => (Some(c - Duration::days(rng.days(90, 240))), c),
            None if rng.chance(0.06 / 0.75) => {
                let s = end - Duration::days(rng.days(60, 200));
                (Some(s), s + Duration::days(240))
            }
            None => (None, end),
        };
        let size = rng.normal(0.0, 1.0).exp();
        let lines = (1 + (size * 1.5) as usize + rng.days(0, 1) as usize).min(6);
        let mut product_lines: Vec<usize> = (0..6).collect();
        for i in 0..lines {
            let j = i + rng.days(0, (5 - i) as i64) as usize;
            product_lines.swap(i, j);
        }
        product_lines.truncate(lines);
        Profile {
            signup,
            churn,
            decline_start,
            decline_end,
            deal_size: (8_000.0 * size).clamp(2_000.0, 500_000.0),
            invoices_per_month: (0.56 * rng.normal(0.0, 0.6).exp()).clamp(0.1, 4.0),
            touches_per_month: (0.33 * rng.normal(0.0, 0.5).exp()).clamp(0.05, 3.0),
            product_lines,
        }
    }

    /// How far into its decline the customer is on a date: 0 (none) to 1 (gone).
    pub fn decline(&self, day: NaiveDate) -> f64 {
        match self.decline_start {
            Some(s) if day > s => ((day - s).num_days() as f64
                / (self.decline_end - s).num_days().max(1) as f64)
                .min(1.0),
            _ => 0.0,
        }
    }

    /// The first and last day the customer can produce events.
    pub fn active(&self, start: NaiveDate, end: NaiveDate) -> (NaiveDate, NaiveDate) {
        (
            self.signup.max(start),
            self.churn.map_or(end, |c| c.min(end)),
        )
    }

    /// Event days of a Poisson process whose monthly rate falls with the decline.
    pub fn event_days(
        &self,
        rng: &mut ChaCha8Rng,
        (from, to): (NaiveDate, NaiveDate),
        per_month: f64,
        floor: f64,
    ) -> Vec<NaiveDate> {
        let mut days = Vec::new();
        let mut t = from;
        loop {
            let rate = per_month * (1.0 - (1.0 - floor) * self.decline(t)) / 30.4;
            t += Duration::days(rng.exponential(1.0 / rate).ceil() as i64);
            if t > to {
                return days;
            }
            days.push(t);
        }
    }
}
