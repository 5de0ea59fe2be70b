//! Deliberately bad rows, so the pipeline's rejects table has something to show: k = 1 +
//! customers / 2000 of each kind. Carriers sit at a fixed stride with a per-kind offset; each
//! bad row is an extra row appended after the carrier's normal rows and dated like its last one.

use super::customer::Profile;
use super::dist::{pick, Stream};
use super::records::{
    activity, assessment, invoice, survey, Activity, Assessment, Invoice, InvoiceFlaw, Records, Survey, DIMENSIONS,
};
use super::{Day, Window};

#[derive(Clone, Copy)]
enum Flaw {
    Invoice(InvoiceFlaw),
    /// Activity `ts` of `yesterday`.
    RelativeTimestamp,
    /// NPS of 11.
    NpsOutOfRange,
    /// Relationship level of 5.
    LevelOutOfRange,
}

/// Duplicate first, so the row it copies its id from is always a normal invoice.
const FLAWS: [Flaw; 7] = [
    Flaw::Invoice(InvoiceFlaw::DuplicateId),
    Flaw::Invoice(InvoiceFlaw::ImpossibleDate),
    Flaw::Invoice(InvoiceFlaw::AmountNotAvailable),
    Flaw::Invoice(InvoiceFlaw::NoCustomer),
    Flaw::RelativeTimestamp,
    Flaw::NpsOutOfRange,
    Flaw::LevelOutOfRange,
];

pub struct Placement {
    customers: usize,
    per_kind: usize,
    stride: usize,
}

impl Placement {
    pub fn new(customers: usize) -> Placement {
        let per_kind = if customers == 0 { 0 } else { 1 + customers / 2000 };
        Placement { customers, per_kind, stride: (customers / per_kind.max(1)).max(1) }
    }

    fn carries(&self, kind: usize, customer: usize) -> bool {
        let shifted = (customer + self.customers - kind % self.customers) % self.customers;
        shifted.is_multiple_of(self.stride) && shifted / self.stride < self.per_kind
    }

    /// Appends the bad rows this customer carries, if any.
    pub fn inject(&self, customer: usize, rng: &mut Stream, p: &Profile, window: &Window, rows: &mut Records) {
        for (kind, flaw) in FLAWS.into_iter().enumerate() {
            if self.carries(kind, customer) {
                add(flaw, rng, p, window, rows);
            }
        }
    }
}

fn add(flaw: Flaw, rng: &mut Stream, p: &Profile, window: &Window, rows: &mut Records) {
    let last = |day: Option<Day>| day.unwrap_or(p.last_day());
    match flaw {
        Flaw::Invoice(kind) => {
            let day = last(rows.invoices.last().map(|i| i.date));
            if kind == InvoiceFlaw::DuplicateId && rows.invoices.is_empty() {
                // Something to duplicate: one ordinary invoice first.
                rows.invoices.push(invoice(rng, p, day, window));
            }
            let bad = invoice(rng, p, day, window);
            rows.invoices.push(Invoice { flaw: Some(kind), ..bad });
        }
        Flaw::RelativeTimestamp => {
            let day = last(rows.activities.last().map(|a| a.day));
            rows.activities.push(Activity { relative_ts: true, ..activity(rng, p, day) });
        }
        Flaw::NpsOutOfRange => {
            let day = last(rows.surveys.last().map(|s| s.day));
            rows.surveys.push(Survey { nps: 11, ..survey(rng, p, day) });
        }
        Flaw::LevelOutOfRange => {
            let day = last(rows.assessments.last().map(|a| a.day));
            let dimension = pick(rng, &DIMENSIONS);
            rows.assessments.push(Assessment { level: 5, ..assessment(rng, p, day, dimension) });
        }
    }
}
