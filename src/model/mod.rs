//! The model lane (linfa): trains the churn model on point-in-time snapshots, validates it
//! out of time against an RFM baseline, and scores the customers of the run.
//!
//! The lane runs no SQL. It is handed the run's features (the `churn_features` table) and a
//! [`History`]: a function that gives the tables it asks for as of past dates. Features
//! become an ndarray matrix here; predictions go back as the `churn_scores` table
//! (customer_id and [`canonical::CHURN_COLUMNS`]), which the runner hands on.

mod dataset;
pub mod evaluation;
pub mod logistic;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use chrono::{Duration, NaiveDate};
use datafusion::arrow::array::{ArrayRef, Date32Array, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use ndarray::Axis;
use serde::{Deserialize, Serialize};

use crate::canonical;
use crate::config::churn::{Churn, LabelRule};
use crate::manifest::{ChurnReport, Validation};
use crate::table::Table;
use logistic::ChurnModel;

/// The SQL model holding the features, and the ones holding the RFM scores of the baseline
/// and the facts the outcomes are read from.
pub const FEATURES: &str = "churn_features";
const RFM: &str = "customer_rfm";
const FACTS: &str = "customer_features";

/// The tables `names` as of each of `dates`, in that order: the portfolio's past.
pub type History<'a> = &'a (dyn Fn(&[NaiveDate], &[&str]) -> Result<Vec<Vec<Table>>> + Sync);

/// A saved model with what it was trained on and how well it validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Artifact {
    pub vitals_version: String,
    pub trained_as_of: NaiveDate,
    pub horizon_days: i64,
    pub label: Vec<LabelRule>,
    pub l2: f64,
    pub snapshots: Vec<NaiveDate>,
    pub training_customers: usize,
    pub training_churners: usize,
    pub validation: Option<Validation>,
    pub libraries: BTreeMap<String, String>,
    #[serde(flatten)]
    pub model: ChurnModel,
}

/// What training gave: a model (none when the history has too few churners) and the
/// manifest's account of it.
pub struct Trained {
    pub artifact: Option<Artifact>,
    pub report: ChurnReport,
}

/// The labelled features of one snapshot date.
struct Snapshot {
    date: NaiveDate,
    x: ndarray::Array2<f64>,
    names: Vec<String>,
    churned: Vec<bool>,
    /// R + F score at the snapshot, for the baseline.
    rf: Vec<i64>,
}

/// Trains the churn model as of `as_of` on the snapshots `history` gives: features as of
/// each snapshot date for customers not yet lost, labelled by what happened in the horizon
/// after it (seen from snapshot + horizon, never later than `as_of`).
pub fn train(cfg: &Churn, as_of: NaiveDate, history: History) -> Result<Trained> {
    let started = Instant::now();
    let mut report = ChurnReport::new("trained", cfg);
    let dates: Vec<NaiveDate> =
        (0..cfg.snapshots).map(|k| as_of - Duration::days(cfg.horizon_days + k as i64 * cfg.step_days)).collect();
    report.snapshots = dates.clone();
    let snapshots = snapshots(cfg, &dates, history)?;
    let all: Vec<&Snapshot> = snapshots.iter().collect();
    let (x, y, _) = stack(&all);
    let churners = y.iter().filter(|c| **c).count();
    report.training_customers = y.len();
    report.training_churners = churners;
    if churners < cfg.min_positives || churners == y.len() {
        report.status = "skipped".into();
        report.reason = Some(format!(
            "{churners} churners among {} customer snapshots, fewer than [churn] min_positives = {} \
             (more history, a longer horizon, or label = [\"crm\", \"inactivity\"] give more)",
            y.len(),
            cfg.min_positives
        ));
        report.seconds_training = started.elapsed().as_secs_f64();
        return Ok(Trained { artifact: None, report });
    }
    let names = snapshots[0].names.clone();
    let fitting = Instant::now();
    // The validation fit and the final fit are independent: one per core.
    let (validation, model) = std::thread::scope(|scope| {
        let validation = scope.spawn(|| validate(&snapshots, cfg));
        let model = ChurnModel::fit(names, &x, &y, cfg.l2, cfg.max_training_rows);
        (validation.join().expect("the validation fit panicked"), model)
    });
    let (validation, model) = (validation?, model?);
    report.seconds_fitting = fitting.elapsed().as_secs_f64();
    report.validation = validation.clone();
    report.seconds_training = started.elapsed().as_secs_f64();
    let artifact = Artifact {
        vitals_version: env!("CARGO_PKG_VERSION").to_string(),
        trained_as_of: as_of,
        horizon_days: cfg.horizon_days,
        label: cfg.label.clone(),
        l2: cfg.l2,
        snapshots: dates,
        training_customers: y.len(),
        training_churners: churners,
        validation,
        libraries: libraries(),
        model,
    };
    Ok(Trained { artifact: Some(artifact), report })
}

/// The labelled snapshots of `dates`: features and RFM scores as of each date, outcomes
/// from the facts as of each date plus the horizon.
fn snapshots(cfg: &Churn, dates: &[NaiveDate], history: History) -> Result<Vec<Snapshot>> {
    let ends: Vec<NaiveDate> = dates.iter().map(|d| *d + Duration::days(cfg.horizon_days)).collect();
    let at = history(dates, &[FEATURES, RFM])?;
    let later = history(&ends, &[FACTS])?;
    dates
        .iter()
        .zip(ends)
        .zip(at.iter().zip(&later))
        .map(|((&date, end), (at, later))| {
            let features = dataset::features(&at[0])?;
            let r = dataset::numbers_by_customer(&at[1], "r_score")?;
            let f = dataset::numbers_by_customer(&at[1], "f_score")?;
            let churn_dates = dataset::dates_by_customer(&later[0], "churn_date")?;
            let last_invoices = dataset::dates_by_customer(&later[0], "last_invoice_date")?;
            let churned = features
                .customers
                .iter()
                .map(|id| {
                    cfg.label.iter().any(|rule| match rule {
                        LabelRule::Crm => churn_dates.get(id).copied().flatten().is_some_and(|d| d > date && d <= end),
                        LabelRule::Inactivity => last_invoices.get(id).copied().flatten().is_none_or(|d| d <= date),
                    })
                })
                .collect();
            let rf = features
                .customers
                .iter()
                .map(|id| r.get(id).copied().flatten().unwrap_or(0) + f.get(id).copied().flatten().unwrap_or(0))
                .collect();
            Ok(Snapshot { date, x: features.x, names: features.names, churned, rf })
        })
        .collect()
}

/// Stacks snapshots into one training set.
fn stack(snapshots: &[&Snapshot]) -> (ndarray::Array2<f64>, Vec<bool>, Vec<i64>) {
    let views: Vec<_> = snapshots.iter().map(|s| s.x.view()).collect();
    let x = ndarray::concatenate(Axis(0), &views).expect("snapshots share their features");
    let y = snapshots.iter().flat_map(|s| s.churned.iter().copied()).collect();
    let rf = snapshots.iter().flat_map(|s| s.rf.iter().copied()).collect();
    (x, y, rf)
}

/// Trains on every snapshot but the newest and tests on the newest; None when either side
/// lacks churners or stayers.
fn validate(snapshots: &[Snapshot], cfg: &Churn) -> Result<Option<Validation>> {
    let (test, older) = snapshots.split_first().expect("at least two snapshots");
    let older: Vec<&Snapshot> = older.iter().collect();
    let (x, y, rf) = stack(&older);
    let has_both = |y: &[bool]| y.iter().any(|c| *c) && y.iter().any(|c| !*c);
    if !has_both(&y) || !has_both(&test.churned) {
        return Ok(None);
    }
    let model = ChurnModel::fit(snapshots[0].names.clone(), &x, &y, cfg.l2, cfg.max_training_rows)?;
    let predicted = model.predict(&test.x);
    // Baseline: the training churn rate of customers with the same R + F score.
    let mut by_rf: BTreeMap<i64, (f64, f64)> = BTreeMap::new();
    for (score, churned) in rf.iter().zip(&y) {
        let e = by_rf.entry(*score).or_default();
        e.0 += f64::from(u8::from(*churned));
        e.1 += 1.0;
    }
    let overall = y.iter().filter(|c| **c).count() as f64 / y.len() as f64;
    let baseline: Vec<f64> = test.rf.iter().map(|s| by_rf.get(s).map_or(overall, |(c, n)| c / n)).collect();
    Ok(Some(Validation {
        test_snapshot: test.date,
        model: evaluation::evaluate(&predicted, &test.churned),
        baseline: evaluation::evaluate(&baseline, &test.churned),
    }))
}

fn libraries() -> BTreeMap<String, String> {
    [
        ("linfa", env!("VITALS_VERSION_LINFA")),
        ("linfa-logistic", env!("VITALS_VERSION_LINFA_LOGISTIC")),
        ("ndarray", env!("VITALS_VERSION_NDARRAY")),
        ("datafusion", env!("VITALS_VERSION_DATAFUSION")),
        ("polars", env!("VITALS_VERSION_POLARS")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

pub fn to_json(artifact: &Artifact) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec_pretty(artifact)?)
}

pub fn load(path: &Path) -> Result<Artifact> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read churn model {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("{} is not a churn model saved by vitals", path.display()))
}

/// The table of churn scores the runner adds to customer_health.
pub const SCORES: &str = "churn_scores";

/// Scores the customers of `current` (the run's churn_features) with `model`: the
/// `churn_scores` table, one row per customer, with churn_risk, risk_band and
/// top_risk_drivers.
pub fn score(model: &ChurnModel, cfg: &Churn, current: &Table) -> Result<Table> {
    let features = dataset::features(current)?;
    if features.names != model.features {
        bail!(
            "the churn model expects the features {:?} but sql/{FEATURES}.sql now gives {:?}; retrain it (set [churn] retrain = \"always\")",
            model.features,
            features.names
        );
    }
    let risk = model.predict(&features.x);
    let drivers = model.drivers(&features.x);
    let bands: Vec<&str> = risk.iter().map(|r| cfg.band(*r)).collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(features.customers)),
        Arc::new(Float64Array::from(risk)),
        Arc::new(StringArray::from(bands)),
        Arc::new(StringArray::from(drivers)),
    ];
    let batch = RecordBatch::try_new(scores_schema(), columns)?;
    Ok(Table { name: SCORES.into(), schema: batch.schema(), batches: vec![batch] })
}

/// No churn scores: customer_health's churn columns are then null.
pub fn no_scores() -> Table {
    Table { name: SCORES.into(), schema: scores_schema(), batches: Vec::new() }
}

fn scores_schema() -> Arc<Schema> {
    let mut fields = vec![Field::new("customer_id", DataType::Utf8, false)];
    fields.extend(canonical::CHURN_COLUMNS.iter().map(|(name, kind)| Field::new(*name, kind.clone(), true)));
    Arc::new(Schema::new(fields))
}

/// One row of `model_metrics`; a field a metric does not use is null.
#[derive(Default)]
struct MetricRow {
    scorer: &'static str,
    metric: &'static str,
    value: Option<f64>,
    bin: Option<i32>,
    customers: Option<i64>,
    mean_predicted: Option<f64>,
    observed_rate: Option<f64>,
    fpr: Option<f64>,
    tpr: Option<f64>,
}

/// The published table of the churn model's validation.
pub const METRICS: &str = "model_metrics";

/// The `model_metrics` table: validation figures of the model and the baseline, their
/// calibration tables (metric = "calibration", one row per bin), then their ROC curves
/// (metric = "roc_point", bin numbering the points from (0, 0), with fpr and tpr). Empty
/// without validation.
pub fn metrics_table(as_of: NaiveDate, validation: Option<&Validation>) -> Result<Table> {
    let mut rows = Vec::new();
    if let Some(v) = validation {
        for (scorer, e) in [("model", &v.model), ("baseline", &v.baseline)] {
            let customers = Some(e.customers as i64);
            for (metric, value) in
                [("roc_auc", e.roc_auc), ("pr_auc", e.pr_auc), ("brier", e.brier), ("log_loss", e.log_loss)]
            {
                rows.push(MetricRow { scorer, metric, value: Some(value), customers, ..MetricRow::default() });
            }
            for b in &e.calibration {
                rows.push(MetricRow {
                    scorer,
                    metric: "calibration",
                    bin: Some(b.bin as i32),
                    customers: Some(b.customers as i64),
                    mean_predicted: Some(b.mean_predicted),
                    observed_rate: Some(b.observed_rate),
                    ..MetricRow::default()
                });
            }
            for (i, point) in e.roc.iter().enumerate() {
                rows.push(MetricRow {
                    scorer,
                    metric: "roc_point",
                    bin: Some(i as i32),
                    fpr: Some(point.fpr),
                    tpr: Some(point.tpr),
                    ..MetricRow::default()
                });
            }
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Date32Array::from(vec![canonical::epoch_days(as_of); rows.len()])),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.scorer))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.metric))),
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.value))),
        Arc::new(Int32Array::from_iter(rows.iter().map(|r| r.bin))),
        Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.customers))),
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.mean_predicted))),
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.observed_rate))),
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.fpr))),
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.tpr))),
    ];
    let schema = Arc::new(Schema::new(vec![
        Field::new("as_of", DataType::Date32, false),
        Field::new("scorer", DataType::Utf8, false),
        Field::new("metric", DataType::Utf8, false),
        Field::new("value", DataType::Float64, true),
        Field::new("bin", DataType::Int32, true),
        Field::new("customers", DataType::Int64, true),
        Field::new("mean_predicted", DataType::Float64, true),
        Field::new("observed_rate", DataType::Float64, true),
        Field::new("fpr", DataType::Float64, true),
        Field::new("tpr", DataType::Float64, true),
    ]));
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    Ok(Table { name: METRICS.into(), schema, batches: vec![batch] })
}
