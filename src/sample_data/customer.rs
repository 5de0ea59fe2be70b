//! The latent state of one customer — size, habits, signup and the churn process a model must
//! later learn. Every exported row is drawn from this profile, never the other way round.

use super::dist::{between, chance, exponential, lognormal, normal, uniform, Stream};
use super::{Day, Window};

/// Share of customers that churn inside the window (a little above 25% because very late
/// signups cannot churn: churn needs 90 days of tenure).
const CHURN_RATE: f64 = 0.26;
/// Among the rest, share already declining at `end` without a churn date (~6% of all).
const DECLINING_NOW_RATE: f64 = 0.08;
const DAYS_PER_YEAR: f64 = 365.25;

pub struct Profile {
    pub signup: Day,
    pub churn: Option<Day>,
    /// Health slides linearly from 1 at the first day to 0 at the second.
    decline: Option<(Day, Day)>,
    /// First and last day with any activity inside the window.
    active: (Day, Day),
    /// Typical invoice amount in CNY.
    pub deal_size: f64,
    pub invoices_per_year: f64,
    pub activities_per_year: f64,
    pub tickets_per_year: f64,
    /// How many of the six product lines the customer buys, starting at `first_product`.
    pub product_lines: usize,
    pub first_product: usize,
    /// Baseline satisfaction (standard normal), so healthy customers are not all alike.
    pub mood: f64,
    /// Payment term in days.
    pub pay_term: i32,
    /// Typical days late while healthy.
    pub pay_habit: f64,
}

impl Profile {
    pub fn draw(rng: &mut Stream, window: &Window) -> Profile {
        let signup = if chance(rng, 0.7) {
            between(rng, window.end - 6 * 365, window.start - 1)
        } else {
            between(rng, window.start, window.end - 14)
        };
        // Churners have at least 90 days of tenure and a month of history in the window.
        let churn_from = (signup + 90).max(window.start + 30);
        let churn = (chance(rng, CHURN_RATE) && churn_from <= window.end).then(|| between(rng, churn_from, window.end));
        let decline = match churn {
            Some(day) => Some((day - between(rng, 90, 240), day)),
            None if chance(rng, DECLINING_NOW_RATE) => {
                let began = window.end - between(rng, 60, 200);
                Some((began, began + between(rng, 90, 240)))
            }
            None => None,
        };
        // Churn day itself is the first silent day.
        let active = (signup.max(window.start), churn.map_or(window.end, |day| day - 1));
        let deal_size = lognormal(rng, 15_000.0, 1.0).clamp(2_000.0, 500_000.0);
        // Bigger accounts buy a little more often and across more product lines.
        let size_factor = (deal_size / 15_000.0).powf(0.15);
        let depth = (deal_size / 2_000.0).log10() / 2.4 * 5.0 + uniform(rng, 0.0, 1.5);
        Profile {
            signup,
            churn,
            decline,
            active,
            deal_size,
            invoices_per_year: (lognormal(rng, 6.3, 0.8) * size_factor).clamp(2.0, 60.0),
            activities_per_year: lognormal(rng, 4.5, 0.6) * size_factor,
            tickets_per_year: lognormal(rng, 0.55, 0.5),
            product_lines: (depth as usize + 1).min(6),
            first_product: between(rng, 0, 5) as usize,
            mood: normal(rng, 0.0, 1.0),
            pay_term: if chance(rng, 0.7) { 30 } else { 60 },
            pay_habit: uniform(rng, 0.0, 8.0),
        }
    }

    pub fn first_day(&self) -> Day {
        self.active.0
    }

    pub fn last_day(&self) -> Day {
        self.active.1
    }

    /// Whether the customer declines at some point (churners always do).
    pub fn declines(&self) -> bool {
        self.decline.is_some()
    }

    /// 0 while healthy, rising to 1 when fully declined.
    pub fn decline(&self, day: Day) -> f64 {
        match self.decline {
            Some((from, to)) if day > from => ((day - from) as f64 / (to - from) as f64).min(1.0),
            _ => 0.0,
        }
    }

    pub fn random_day(&self, rng: &mut Stream) -> Day {
        between(rng, self.first_day(), self.last_day())
    }

    /// Days of a Poisson process over the active range whose rate is `per_year` while healthy
    /// and `per_year * declined` when fully declined (thinning of a homogeneous process).
    pub fn event_days(&self, rng: &mut Stream, per_year: f64, declined: f64, days: &mut Vec<Day>) {
        days.clear();
        let peak = declined.max(1.0);
        let mean_gap = DAYS_PER_YEAR / (per_year * peak);
        let mut t = self.first_day() as f64;
        loop {
            t += exponential(rng, mean_gap);
            let day = t as Day;
            if day > self.last_day() {
                return;
            }
            let factor = 1.0 + (declined - 1.0) * self.decline(day);
            if chance(rng, factor / peak) {
                days.push(day);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::sample_data::format::to_day;

    #[test]
    fn profiles_respect_the_window() {
        let end = chrono::NaiveDate::from_ymd_opt(2026, 6, 30).unwrap();
        let window = Window { start: to_day(end) - 1095, end: to_day(end) };
        let mut rng = Stream::seed_from_u64(1);
        for _ in 0..50_000 {
            let p = Profile::draw(&mut rng, &window);
            assert!(p.first_day() <= p.last_day() && p.signup <= window.end);
            if let Some(churn) = p.churn {
                assert!(churn >= p.signup + 90 && churn > window.start && churn <= window.end);
                assert_eq!(p.decline(churn), 1.0);
            }
        }
    }
}
