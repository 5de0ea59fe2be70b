//! The model lane (linfa): trains the churn model on point-in-time snapshots, validates it
//! out of time against an RFM baseline, and scores the customers of the run.
//!
//! The lane runs no SQL. It is handed the run's features (the `churn_features` table) and a
//! [`History`]: a function that gives the training rows of the dates it asks for (features,
//! outcome, R + F score). Features become an ndarray matrix here; predictions go back as
//! the `churn_scores` table (customer_id and [`canonical::CHURN_COLUMNS`]), which the
//! runner hands on.

pub mod btyd;
pub mod calibration;
mod dataset;
pub mod drift;
pub mod evaluation;
pub mod logistic;
mod simplex;
mod whitening;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use chrono::{Duration, NaiveDate};
use datafusion::arrow::array::{
    ArrayRef, AsArray, Date32Array, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema};
use ndarray::s;
use serde::{Deserialize, Serialize};

use crate::canonical;
use crate::config::churn::{Churn, LabelRule};
use crate::manifest::{ChurnReport, Evaluation, Ranking, Realized, Validation};
use crate::table::{Batches, Table};
use dataset::Training;
use logistic::ChurnModel;

/// The SQL model holding the features.
pub const FEATURES: &str = canonical::CHURN_FEATURES;

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
    /// The BG/NBD fit behind p_alive and expected_purchases at each snapshot date (α in days).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub bg_nbd: BTreeMap<NaiveDate, btyd::BgNbd>,
    /// Each feature's training distribution, to measure drift against (see [`drift`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feature_bins: Vec<drift::FeatureBins>,
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

/// The training rows of `dates` — as_of, customer_id, churned, rf_score and the features of
/// every customer not yet lost at each date, newest date first — with their count.
pub type History<'a> = &'a (dyn Fn(&[NaiveDate]) -> Result<(usize, Batches<'a>)> + Sync);

/// The training dates of a model as of `as_of`, newest first: as_of − horizon, then a step
/// further back each, so every snapshot's outcome was known on `as_of`.
pub fn snapshot_dates(cfg: &Churn, as_of: NaiveDate) -> Vec<NaiveDate> {
    (0..cfg.snapshots).map(|k| as_of - Duration::days(cfg.horizon_days + k as i64 * cfg.step_days)).collect()
}

/// Trains the churn model as of `as_of` on the snapshots `history` gives: features as of
/// each snapshot date for customers not yet lost, labelled by what happened in the horizon
/// after it.
pub fn train(cfg: &Churn, as_of: NaiveDate, history: History) -> Result<Trained> {
    let started = Instant::now();
    let mut report = ChurnReport::new("trained", cfg);
    let dates = snapshot_dates(cfg, as_of);
    report.snapshots = dates.clone();
    let (rows, batches) = history(&dates)?;
    let mut set = dataset::training(rows, batches)?;
    let bg_nbd = btyd::derive(&mut set.x, &set.names, &set.dates, cfg.horizon_days as f64)
        .into_iter()
        .filter_map(|(day, fit)| Some((canonical::from_epoch_days(day), fit?)))
        .collect();
    let churners = set.churned.iter().filter(|c| **c).count();
    report.training_customers = set.churned.len();
    report.training_churners = churners;
    if churners < cfg.min_positives || churners == set.churned.len() {
        report.status = "skipped".into();
        report.reason = Some(format!(
            "{churners} churners among {} customer snapshots, fewer than [churn] min_positives = {} \
             (more history, a longer horizon, or label = [\"crm\", \"inactivity\"] give more)",
            set.churned.len(),
            cfg.min_positives
        ));
        report.seconds_training = started.elapsed().as_secs_f64();
        return Ok(Trained { artifact: None, report });
    }
    let fitting = Instant::now();
    // The validation fit and the final fit are independent: one per core.
    let (validation, model) = std::thread::scope(|scope| {
        let validation = scope.spawn(|| validate(&set, dates[0], cfg));
        let model = ChurnModel::fit(set.names.clone(), set.x.view(), &set.churned, cfg.l2, cfg.max_training_rows);
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
        training_customers: set.churned.len(),
        training_churners: churners,
        validation,
        bg_nbd,
        feature_bins: drift::bins(set.x.view()),
        libraries: libraries(),
        model,
    };
    Ok(Trained { artifact: Some(artifact), report })
}

/// The feature holding days since the last invoice.
const RECENCY: &str = "recency_days";

/// Trains on every snapshot but the newest (`test`) and tests on the newest; None when
/// either side lacks churners or stayers. The rows are newest first, so both sides are
/// slices of the one training matrix.
fn validate(set: &Training, test: NaiveDate, cfg: &Churn) -> Result<Option<Validation>> {
    let test_day = canonical::epoch_days(test);
    let split = set.dates.iter().take_while(|d| **d == test_day).count();
    let (test_y, train_y) = set.churned.split_at(split);
    let has_both = |y: &[bool]| y.iter().any(|c| *c) && y.iter().any(|c| !*c);
    if !has_both(train_y) || !has_both(test_y) {
        return Ok(None);
    }
    let train_x = set.x.slice(s![split.., ..]);
    let model = ChurnModel::fit(set.names.clone(), train_x, train_y, cfg.l2, cfg.max_training_rows)?;
    let predicted = model.predict(set.x.slice(s![..split, ..]));
    // Baseline: the training churn rate of customers with the same R + F score.
    let mut by_rf: BTreeMap<i64, (f64, f64)> = BTreeMap::new();
    for (score, churned) in set.rf[split..].iter().zip(train_y) {
        let e = by_rf.entry(*score).or_default();
        e.0 += f64::from(u8::from(*churned));
        e.1 += 1.0;
    }
    let overall = train_y.iter().filter(|c| **c).count() as f64 / train_y.len() as f64;
    let baseline: Vec<f64> = set.rf[..split].iter().map(|s| by_rf.get(s).map_or(overall, |(c, n)| c / n)).collect();
    // Recency alone, the score every churn model must beat; never invoiced ranks stalest.
    let recency = set.names.iter().position(|n| n == RECENCY).map(|j| {
        let days: Vec<f64> =
            set.x.slice(s![..split, j]).iter().map(|d| if d.is_nan() { f64::INFINITY } else { *d }).collect();
        Ranking { roc_auc: evaluation::roc_auc(&days, test_y), pr_auc: evaluation::average_precision(&days, test_y) }
    });
    Ok(Some(Validation {
        test_snapshot: test,
        model: evaluation::evaluate(&predicted, test_y),
        baseline: evaluation::evaluate(&baseline, test_y),
        recency,
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

/// The customers a run scores, as the model reads them: the run's churn_features with the
/// features the lane derives (one BG/NBD fit on the run date's histories).
pub struct ToScore(dataset::Features);

pub fn to_score(cfg: &Churn, current: &Table) -> Result<ToScore> {
    let mut features = dataset::features(current)?;
    let one_date = vec![0; features.customers.len()];
    btyd::derive(&mut features.x, &features.names, &one_date, cfg.horizon_days as f64);
    Ok(ToScore(features))
}

/// Scores the customers `current` with `model`: the `churn_scores` table, one row per
/// customer, with churn_risk, risk_band and top_risk_drivers.
pub fn score(model: &ChurnModel, cfg: &Churn, current: &ToScore) -> Result<Table> {
    let features = &current.0;
    if features.names != model.features {
        bail!(
            "the churn model expects the features {:?} but sql/{FEATURES}.sql now gives {:?}; retrain it (set [churn] retrain = \"always\")",
            model.features,
            features.names
        );
    }
    let (risk, drivers) = model.explain(features.x.view());
    let bands: Vec<&str> = risk.iter().map(|r| cfg.band(*r)).collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(&features.customers)),
        Arc::new(Float64Array::from(risk)),
        Arc::new(StringArray::from(bands)),
        Arc::new(StringArray::from(drivers)),
    ];
    let batch = RecordBatch::try_new(scores_schema(), columns)?;
    Ok(Table { name: SCORES.into(), schema: batch.schema(), batches: vec![batch] })
}

/// The PSI of each feature between the training rows of `artifact` and the customers
/// `current`; empty for a model saved without its training distributions, or whose
/// features differ (scoring refuses it).
pub fn drift(artifact: &Artifact, current: &ToScore) -> BTreeMap<String, f64> {
    let features = &current.0;
    if artifact.feature_bins.len() != features.names.len() || features.names != artifact.model.features {
        return BTreeMap::new();
    }
    let psi = drift::psi(&artifact.feature_bins, features.x.view());
    features.names.iter().cloned().zip(psi).collect()
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

/// How the churn risks of an earlier run fared: `realized` holds churn_risk and churned of
/// each customer it scored whose outcome is now known (the SQL lane's join of the two).
/// None without both a churner and a stayer among them.
pub fn realized(realized: &Table) -> Result<Option<Evaluation>> {
    let (mut risk, mut churned) = (Vec::with_capacity(realized.rows()), Vec::with_capacity(realized.rows()));
    for batch in &realized.batches {
        let column = |name: &str| batch.column_by_name(name).with_context(|| format!("realized outcomes need {name}"));
        let p = cast(column("churn_risk")?, &DataType::Float64)?;
        risk.extend(p.as_primitive::<Float64Type>().iter().map(|p| p.unwrap_or(f64::NAN)));
        churned.extend(column(canonical::CHURNED)?.as_boolean().iter().map(|c| c.unwrap_or(false)));
    }
    let both = churned.iter().any(|c| *c) && churned.iter().any(|c| !*c);
    Ok(both.then(|| evaluation::evaluate(&risk, &churned)))
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
    predicted_as_of: Option<i32>,
    feature: Option<String>,
}

/// The rows of one scorer's evaluation: its summary figures, calibration bins and ROC
/// points, each stamped with `predicted_as_of` (the realized rows only).
fn evaluation_rows(scorer: &'static str, e: &Evaluation, predicted_as_of: Option<i32>) -> Vec<MetricRow> {
    let mut rows = Vec::new();
    let customers = Some(e.customers as i64);
    for (metric, value) in [("roc_auc", e.roc_auc), ("pr_auc", e.pr_auc), ("brier", e.brier), ("log_loss", e.log_loss)]
    {
        rows.push(MetricRow { scorer, metric, value: Some(value), customers, predicted_as_of, ..MetricRow::default() });
    }
    for b in &e.calibration {
        rows.push(MetricRow {
            scorer,
            metric: "calibration",
            bin: Some(b.bin as i32),
            customers: Some(b.customers as i64),
            mean_predicted: Some(b.mean_predicted),
            observed_rate: Some(b.observed_rate),
            predicted_as_of,
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
            predicted_as_of,
            ..MetricRow::default()
        });
    }
    rows
}

/// The published table of the churn model's validation.
pub const METRICS: &str = "model_metrics";

/// The `model_metrics` table: validation figures of the model and the baseline, their
/// calibration tables (metric = "calibration", one row per bin), then their ROC curves
/// (metric = "roc_point", bin numbering the points from (0, 0), with fpr and tpr), then
/// recency's roc_auc and pr_auc (scorer = "recency") — when the run validated a model;
/// then the same figures of the risks an earlier run published, against what happened
/// since (scorer = "realized", with predicted_as_of); then each feature's drift from the
/// training rows (scorer = "model", metric = "psi", with feature).
pub fn metrics_table(
    as_of: NaiveDate,
    validation: Option<&Validation>,
    realized: Option<&Realized>,
    drift: &BTreeMap<String, f64>,
) -> Result<Table> {
    let mut rows = Vec::new();
    if let Some(v) = validation {
        rows.extend(evaluation_rows("model", &v.model, None));
        rows.extend(evaluation_rows("baseline", &v.baseline, None));
        if let Some(r) = &v.recency {
            let customers = Some(v.model.customers as i64);
            for (metric, value) in [("roc_auc", r.roc_auc), ("pr_auc", r.pr_auc)] {
                rows.push(MetricRow {
                    scorer: "recency",
                    metric,
                    value: Some(value),
                    customers,
                    ..MetricRow::default()
                });
            }
        }
    }
    if let Some(r) = realized {
        rows.extend(evaluation_rows("realized", &r.evaluation, Some(canonical::epoch_days(r.predicted_as_of))));
    }
    for (feature, psi) in drift {
        rows.push(MetricRow {
            scorer: "model",
            metric: "psi",
            value: Some(*psi),
            feature: Some(feature.clone()),
            ..MetricRow::default()
        });
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
        Arc::new(Date32Array::from_iter(rows.iter().map(|r| r.predicted_as_of))),
        Arc::new(StringArray::from_iter(rows.iter().map(|r| r.feature.as_deref()))),
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
        Field::new("predicted_as_of", DataType::Date32, true),
        Field::new("feature", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    Ok(Table { name: METRICS.into(), schema, batches: vec![batch] })
}
