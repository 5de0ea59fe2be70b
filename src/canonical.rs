//! The canonical sources and fields that every export is mapped onto.
//!
//! This catalog is the one place that says which sources exist, which fields they carry,
//! how each field is typed and validated, and which date places a row in time. The pipeline
//! file is checked against it, ingest types rows by it, and the transform lane registers
//! empty tables of this shape for sources a pipeline leaves out. It also names what the
//! lanes hand each other on the way out (the scored-customers table, the churn columns)
//! and the domain's fixed vocabulary: tiers, dimensions, risk bands, and day numbers.

use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::datatypes::{DataType, Field as ArrowField, Schema, SchemaRef};

/// The published table of scored customers, which the model lane adds its columns to.
pub const HEALTH: &str = "customer_health";

/// The SQL models and columns the churn model is trained from: its features, the outcome
/// at each training date, and the R + F score its baseline predicts from.
pub const CHURN_FEATURES: &str = "churn_features";
pub const CHURN_LABELS: &str = "churn_labels";
pub const CUSTOMER_RFM: &str = "customer_rfm";
pub const CHURNED: &str = "churned";
pub const RF_SCORE: &str = "rf_score";

/// The SQL models' columns the code reads — the contract between the SQL an analyst edits
/// and the rest of vitals: the churn model's training rows, the manifest's alert counts,
/// the scoring report, `vitals report`, `history` and `diff`. `vitals check` reports a
/// model that no longer produces one of them.
pub const READ_BY_CODE: [(&str, &[&str]); 6] = [
    (
        HEALTH,
        &[
            "as_of",
            "customer_id",
            "name",
            "health_score",
            "score_delta",
            "trend",
            "health_tier",
            "previous_tier",
            "dim_value",
            "dim_engagement",
            "dim_satisfaction",
            "dim_relationship",
            "dim_risk",
            "r_score",
            "f_score",
            "monetary",
        ],
    ),
    (CHURN_FEATURES, &["as_of", "customer_id"]),
    (CHURN_LABELS, &["as_of", "customer_id", CHURNED]),
    (CUSTOMER_RFM, &["as_of", "customer_id", "r_score", "f_score"]),
    ("dimension_scores", &["dimension"]),
    ("alerts", &["as_of", "kind", "severity", "message", "evidence"]),
];

/// The columns the model lane appends to customer_health, in order.
pub const CHURN_COLUMNS: [(&str, DataType); 3] =
    [("churn_risk", DataType::Float64), ("risk_band", DataType::Utf8), ("top_risk_drivers", DataType::Utf8)];

/// The health tiers, healthiest first; `lost` is decided by inactivity or churn, not by score.
pub const TIERS: [&str; 4] = ["healthy", "sub_healthy", "at_risk", "lost"];

/// The health dimensions, in the order their columns appear.
pub const DIMENSIONS: [&str; 5] = ["value", "engagement", "satisfaction", "relationship", "risk"];

/// The churn risk bands, lowest first.
pub const RISK_BANDS: [&str; 3] = ["low", "medium", "high"];

/// Arrow's day number of a date (days since 1970-01-01), as Date32 columns hold it.
pub fn epoch_days(date: NaiveDate) -> i32 {
    (date - NaiveDate::from_ymd_opt(1970, 1, 1).expect("a calendar date")).num_days() as i32
}

/// The date of an Arrow day number.
pub fn from_epoch_days(days: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("a calendar date") + chrono::Duration::days(days.into())
}

/// How a canonical field is typed in bronze Parquet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Date,
    /// A decimal amount or measure, stored as Float64.
    Number,
    /// A whole number within an inclusive range, stored as Int32.
    Integer {
        min: i32,
        max: i32,
    },
}

impl Kind {
    /// The Arrow type bronze tables hold this kind in.
    pub fn arrow_type(self) -> DataType {
        match self {
            Kind::Text => DataType::Utf8,
            Kind::Date => DataType::Date32,
            Kind::Number => DataType::Float64,
            Kind::Integer { .. } => DataType::Int32,
        }
    }
}

/// One canonical field of a source.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    /// Values must not repeat within the source (later repeats are rejected).
    pub unique: bool,
    /// A date fixed when the row is written (a due date, a contract's end), as opposed to
    /// one that records a later happening (a payment, a resolution, a churn). Only the
    /// latter are hidden when they fall after a run's as-of date.
    pub planned: bool,
    /// A categorical field's values as the shipped models compare with them (empty: free
    /// text). Exports' spellings are folded and mapped onto them at ingest.
    pub values: &'static [&'static str],
}

/// One canonical source: what a kind of export means to vitals.
#[derive(Debug)]
pub struct Source {
    pub name: &'static str,
    pub fields: &'static [Field],
    /// The date that places a row in time: a run as of D only sees rows dated on or before D.
    pub event_date: &'static str,
}

impl Source {
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn field_names(&self) -> Vec<&'static str> {
        self.fields.iter().map(|f| f.name).collect()
    }

    /// The columns of the source's bronze table: every canonical field, in order.
    pub fn arrow_schema(&self) -> SchemaRef {
        let fields: Vec<ArrowField> =
            self.fields.iter().map(|f| ArrowField::new(f.name, f.kind.arrow_type(), true)).collect();
        Arc::new(Schema::new(fields))
    }
}

const fn req(name: &'static str, kind: Kind) -> Field {
    Field { name, kind, required: true, unique: false, planned: false, values: &[] }
}

const fn opt(name: &'static str, kind: Kind) -> Field {
    Field { name, kind, required: false, unique: false, planned: false, values: &[] }
}

const fn planned(field: Field) -> Field {
    Field { planned: true, ..field }
}

const fn categorical(field: Field, values: &'static [&'static str]) -> Field {
    Field { values, ..field }
}

/// A categorical value as written in an export, folded for comparison: surrounding and
/// repeated white space dropped, lower case (`"Complaint "` → `"complaint"`).
pub fn fold(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// The relationship assessment dimensions (DOMAIN.md: the −1…3 scale).
pub const RELATIONSHIP_DIMENSIONS: [&str; 6] =
    ["acceptance", "participation", "information_sharing", "guidance", "decision_support", "competitor_attitude"];

use Kind::{Date, Number, Text};

pub const SOURCES: &[Source] = &[
    Source {
        name: "invoices",
        event_date: "invoice_date",
        fields: &[
            req("customer_id", Text),
            req("invoice_date", Date),
            req("amount", Number),
            Field { unique: true, ..opt("invoice_id", Text) },
            planned(opt("due_date", Date)),
            opt("paid_date", Date),
            opt("product_line", Text),
        ],
    },
    Source {
        name: "accounts",
        event_date: "signup_date",
        fields: &[
            Field { unique: true, ..req("customer_id", Text) },
            opt("name", Text),
            opt("industry", Text),
            opt("region", Text),
            opt("owner", Text),
            opt("signup_date", Date),
            opt("status", Text),
            opt("churn_date", Date),
            opt("key_contact", Text),
            opt("key_contact_since", Date),
        ],
    },
    Source {
        name: "activities",
        event_date: "activity_date",
        fields: &[
            req("customer_id", Text),
            req("activity_date", Date),
            categorical(opt("type", Text), &["meeting", "call", "email", "visit", "business_review"]),
            opt("response_hours", Number),
            categorical(opt("contact_level", Text), &["executive", "manager", "staff"]),
        ],
    },
    Source {
        name: "tickets",
        event_date: "opened_date",
        fields: &[
            req("customer_id", Text),
            req("opened_date", Date),
            categorical(opt("severity", Text), &["low", "medium", "high", "critical"]),
            categorical(opt("kind", Text), &["complaint", "praise", "request"]),
            opt("resolved_date", Date),
        ],
    },
    Source {
        name: "contracts",
        event_date: "start_date",
        fields: &[
            req("customer_id", Text),
            req("start_date", Date),
            planned(req("end_date", Date)),
            opt("value", Number),
        ],
    },
    Source {
        name: "surveys",
        event_date: "response_date",
        fields: &[
            req("customer_id", Text),
            req("response_date", Date),
            opt("nps", Kind::Integer { min: 0, max: 10 }),
            opt("csat", Kind::Integer { min: 1, max: 5 }),
        ],
    },
    Source {
        name: "relationship_assessments",
        event_date: "assessed_date",
        fields: &[
            req("customer_id", Text),
            req("assessed_date", Date),
            categorical(req("dimension", Text), &RELATIONSHIP_DIMENSIONS),
            req("level", Kind::Integer { min: -1, max: 3 }),
        ],
    },
];

/// The canonical source of this name, if there is one.
pub fn source(name: &str) -> Option<&'static Source> {
    SOURCES.iter().find(|s| s.name == name)
}

pub fn source_names() -> Vec<&'static str> {
    SOURCES.iter().map(|s| s.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_round_trip() {
        let day = NaiveDate::from_ymd_opt(2026, 6, 30).unwrap();
        assert_eq!(from_epoch_days(epoch_days(day)), day);
        assert_eq!(epoch_days(NaiveDate::from_ymd_opt(1970, 1, 2).unwrap()), 1);
    }

    #[test]
    fn every_source_has_customer_id_and_a_dated_event_field() {
        for s in SOURCES {
            assert!(s.field("customer_id").is_some_and(|f| f.required), "{}", s.name);
            let event = s.field(s.event_date).unwrap_or_else(|| panic!("{}", s.name));
            assert_eq!(event.kind, Kind::Date, "{}", s.name);
        }
    }
}
