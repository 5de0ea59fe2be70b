//! One customer's rows for every export, drawn from its latent [`Profile`]. Rows are typed
//! and dated in [`Day`]s; the file writers decide how they look on disk.

use chrono::Months;

use super::customer::Profile;
use super::dist::{between, chance, exponential, lognormal, normal, pick, poisson, uniform, weighted, Stream};
use super::format::{to_date, to_day};
use super::text::{
    company_name, COMPLAINT_SUBJECTS, CONTACT_ROLES, CONTACT_SURNAMES, INDUSTRIES, MANAGERS, PRAISE_SUBJECTS,
    PRODUCT_LINES, REGIONS, REQUEST_SUBJECTS,
};
use super::{Day, Window};

pub const DIMENSIONS: [&str; 6] = crate::canonical::RELATIONSHIP_DIMENSIONS;
const ACTIVITY_KINDS: [&str; 5] = ["meeting", "call", "email", "visit", "business_review"];
const ACTIVITY_WEIGHTS: [f64; 5] = [0.25, 0.3, 0.3, 0.1, 0.05];
const CONTACT_LEVELS: [&str; 3] = ["executive", "manager", "staff"];
const SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];
const TICKET_KINDS: [&str; 3] = ["complaint", "praise", "request"];
/// Contracts older than this many terms have aged out of the finance export.
const CONTRACTS_KEPT: usize = 3;

pub struct Account {
    pub name: String,
    pub industry: &'static str,
    pub region: &'static str,
    pub manager: &'static str,
    /// The customer's key contact now, and the day they took over (signup for the first).
    pub key_contact: String,
    pub key_contact_since: Day,
}

pub struct Contract {
    pub start: Day,
    pub end: Day,
    pub cents: u64,
}

/// A deliberately broken invoice row; see `flaws`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum InvoiceFlaw {
    ImpossibleDate,
    AmountNotAvailable,
    NoCustomer,
    /// Reuses the id of the row written just before it.
    DuplicateId,
}

pub struct Invoice {
    pub date: Day,
    pub due: Day,
    pub paid: Option<Day>,
    pub cents: u64,
    pub product: &'static str,
    pub flaw: Option<InvoiceFlaw>,
}

pub struct Activity {
    pub day: Day,
    pub kind: &'static str,
    pub response_tenths: u64,
    pub contact: &'static str,
    /// Written with a `ts` of `yesterday` instead of the day.
    pub relative_ts: bool,
}

pub struct Ticket {
    pub opened: Day,
    pub severity: &'static str,
    pub kind: &'static str,
    pub subject: &'static str,
    pub resolved: Option<Day>,
}

pub struct Survey {
    pub day: Day,
    pub nps: u8,
    pub csat: Option<u8>,
}

pub struct Assessment {
    pub day: Day,
    pub dimension: &'static str,
    pub level: i8,
}

/// Per-customer row buffers, reused across customers to avoid reallocating.
#[derive(Default)]
pub struct Records {
    pub contracts: Vec<Contract>,
    pub invoices: Vec<Invoice>,
    pub activities: Vec<Activity>,
    pub tickets: Vec<Ticket>,
    pub surveys: Vec<Survey>,
    pub assessments: Vec<Assessment>,
    days: Vec<Day>,
}

pub fn account(rng: &mut Stream, p: &Profile) -> Account {
    let name = company_name(rng);
    let (industry, region, manager) = (pick(rng, &INDUSTRIES), pick(rng, &REGIONS), pick(rng, &MANAGERS));
    // A key contact leaving often comes with a decline (DOMAIN §3), so decliners change more.
    let change = if p.declines() { 0.35 } else { 0.08 };
    let key_contact_since = if chance(rng, change) && p.first_day() + 30 < p.last_day() {
        between(rng, p.first_day() + 30, p.last_day())
    } else {
        p.signup
    };
    let key_contact = format!("{}{}", pick(rng, &CONTACT_SURNAMES), pick(rng, &CONTACT_ROLES));
    Account { name, industry, region, manager, key_contact, key_contact_since }
}

impl Records {
    pub fn fill(&mut self, rng: &mut Stream, p: &Profile, window: &Window) {
        self.fill_contracts(rng, p, window);
        self.fill_invoices(rng, p, window);
        self.fill_activities(rng, p);
        self.fill_tickets(rng, p, window);
        self.fill_surveys(rng, p);
        self.fill_assessments(rng, p);
    }

    /// Consecutive terms from signup; churned customers stop renewing, the rest hold a term
    /// that runs past `end`.
    fn fill_contracts(&mut self, rng: &mut Stream, p: &Profile, window: &Window) {
        self.contracts.clear();
        let covered = p.churn.unwrap_or(window.end);
        let annual = p.deal_size * p.invoices_per_year * uniform(rng, 0.8, 1.1);
        let mut start = p.signup;
        loop {
            let months = if chance(rng, 0.6) { 12 } else { 24 };
            let next = to_day(to_date(start) + Months::new(months));
            let thousands = (annual * f64::from(months) / 12_000.0).round().max(1.0) as u64;
            self.contracts.push(Contract { start, end: next - 1, cents: thousands * 100_000 });
            if next > covered {
                break;
            }
            start = next;
        }
        let aged_out = self.contracts.len().saturating_sub(CONTRACTS_KEPT);
        self.contracts.drain(..aged_out);
    }

    fn fill_invoices(&mut self, rng: &mut Stream, p: &Profile, window: &Window) {
        p.event_days(rng, p.invoices_per_year, 0.2, &mut self.days);
        self.invoices.clear();
        for &day in &self.days {
            self.invoices.push(invoice(rng, p, day, window));
        }
    }

    fn fill_activities(&mut self, rng: &mut Stream, p: &Profile) {
        p.event_days(rng, p.activities_per_year, 0.3, &mut self.days);
        self.activities.clear();
        for &day in &self.days {
            self.activities.push(activity(rng, p, day));
        }
    }

    fn fill_tickets(&mut self, rng: &mut Stream, p: &Profile, window: &Window) {
        p.event_days(rng, p.tickets_per_year, 3.0, &mut self.days);
        self.tickets.clear();
        for &day in &self.days {
            self.tickets.push(ticket(rng, p, day, window));
        }
    }

    /// Survey invitations do not depend on health; the answers do.
    fn fill_surveys(&mut self, rng: &mut Stream, p: &Profile) {
        let years = f64::from(p.last_day() - p.first_day() + 1) / 365.25;
        let count = poisson(rng, 0.22 * years);
        self.random_days(rng, p, count);
        self.surveys.clear();
        for &day in &self.days {
            self.surveys.push(survey(rng, p, day));
        }
    }

    fn fill_assessments(&mut self, rng: &mut Stream, p: &Profile) {
        self.assessments.clear();
        if !chance(rng, 0.3) {
            return;
        }
        let count = between(rng, 1, 2) as u32;
        self.random_days(rng, p, count);
        for &day in &self.days {
            for dimension in DIMENSIONS {
                self.assessments.push(assessment(rng, p, day, dimension));
            }
        }
    }

    fn random_days(&mut self, rng: &mut Stream, p: &Profile, count: u32) {
        self.days.clear();
        self.days.extend((0..count).map(|_| p.random_day(rng)));
        self.days.sort_unstable();
    }
}

/// Bigger customers spread over more lines, favouring their first one.
fn product(rng: &mut Stream, p: &Profile) -> &'static str {
    const WEIGHTS: [f64; 6] = [1.0, 0.5, 0.33, 0.25, 0.2, 0.17];
    let i = weighted(rng, &WEIGHTS[..p.product_lines]);
    PRODUCT_LINES[(p.first_product + i) % PRODUCT_LINES.len()]
}

pub fn invoice(rng: &mut Stream, p: &Profile, date: Day, window: &Window) -> Invoice {
    let d = p.decline(date);
    let yuan = (p.deal_size * lognormal(rng, 1.0, 0.35) * (1.0 - 0.3 * d)).clamp(2_000.0, 500_000.0);
    let due = date + p.pay_term;
    Invoice {
        date,
        due,
        paid: payment(rng, p, d, date, due).filter(|&paid| paid <= window.end),
        cents: (yuan * 100.0).round() as u64,
        product: product(rng, p),
        flaw: None,
    }
}

/// Healthy customers pay around the due date; decliners drift to 30–90 days late or never.
fn payment(rng: &mut Stream, p: &Profile, d: f64, date: Day, due: Day) -> Option<Day> {
    if chance(rng, 0.01 + 0.2 * d) {
        return None;
    }
    let late = (1.0 - d) * normal(rng, p.pay_habit - 5.0, 3.0) + d * uniform(rng, 30.0, 90.0);
    Some((due + late.round() as Day).max(date))
}

pub fn activity(rng: &mut Stream, p: &Profile, day: Day) -> Activity {
    let d = p.decline(day);
    let hours = lognormal(rng, 4.0 * (1.0 + 4.0 * d), 0.7).clamp(0.1, 500.0);
    let contact_weights = [0.03 + 0.3 * (1.0 - d), 0.45, 0.25 + 0.3 * d];
    Activity {
        day,
        kind: ACTIVITY_KINDS[weighted(rng, &ACTIVITY_WEIGHTS)],
        response_tenths: (hours * 10.0).round() as u64,
        contact: CONTACT_LEVELS[weighted(rng, &contact_weights)],
        relative_ts: false,
    }
}

fn ticket(rng: &mut Stream, p: &Profile, opened: Day, window: &Window) -> Ticket {
    let d = p.decline(opened);
    let kind = weighted(rng, &[0.25 + 0.55 * d, 0.2 * (1.0 - d), 0.55 * (1.0 - d)]);
    let severity = if kind == 0 {
        let lerp = |healthy: f64, declined: f64| healthy + (declined - healthy) * d;
        weighted(rng, &[lerp(0.4, 0.1), lerp(0.35, 0.3), lerp(0.2, 0.4), lerp(0.05, 0.2)])
    } else {
        weighted(rng, &[0.6, 0.3, 0.08, 0.02])
    };
    let subjects: &[&'static str] = match kind {
        0 => &COMPLAINT_SUBJECTS,
        1 => &PRAISE_SUBJECTS,
        _ => &REQUEST_SUBJECTS,
    };
    let subject = pick(rng, subjects);
    // Resolution is judged as of `end`, so recent tickets are more often still open.
    let resolved = (!chance(rng, 0.04))
        .then(|| opened + exponential(rng, 3.0 + 8.0 * d).round() as Day)
        .filter(|&day| day <= window.end);
    Ticket { opened, severity: SEVERITIES[severity], kind: TICKET_KINDS[kind], subject, resolved }
}

pub fn survey(rng: &mut Stream, p: &Profile, day: Day) -> Survey {
    let unhappy = chance(rng, p.decline(day));
    let nps =
        if unhappy { between(rng, 0, 6) } else { normal(rng, 8.6 + 0.5 * p.mood, 1.0).round().clamp(0.0, 10.0) as i32 };
    let csat = (!chance(rng, 0.3)).then(|| {
        if unhappy {
            between(rng, 1, 2)
        } else {
            normal(rng, 4.3 + 0.3 * p.mood, 0.6).round().clamp(1.0, 5.0) as i32
        }
    });
    Survey { day, nps: nps as u8, csat: csat.map(|c| c as u8) }
}

pub fn assessment(rng: &mut Stream, p: &Profile, day: Day, dimension: &'static str) -> Assessment {
    // Customers rarely rate their attitude to competitors as favourably as the rest.
    let bias = if dimension == "competitor_attitude" { 0.5 } else { 0.0 };
    let mean = 1.8 + 0.4 * p.mood - 3.0 * p.decline(day) - bias;
    let level = normal(rng, mean, 0.8).round().clamp(-1.0, 3.0) as i8;
    Assessment { day, dimension, level }
}
