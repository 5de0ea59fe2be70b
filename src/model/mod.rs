//! The model lane (linfa): trains the churn model on point-in-time snapshots, validates it
//! out of time against an RFM baseline, and scores the customers of the run.
//!
//! Features come out of the SQL lane once per snapshot as Arrow (the `churn_features`
//! model evaluated as of that date), become an ndarray matrix here, and predictions go back
//! as Arrow columns of `customer_health`: churn_risk, risk_band, top_risk_drivers.

mod dataset;
pub mod evaluation;
pub mod logistic;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use chrono::{Duration, NaiveDate};
use datafusion::arrow::array::{ArrayRef, Date32Array, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use ndarray::Axis;
use serde::{Deserialize, Serialize};
use tokio::runtime::Runtime;

use crate::config::churn::{Churn, LabelRule, Retrain};
use crate::config::Pipeline;
use crate::transform::{self, Table};
use evaluation::Evaluation;
use logistic::ChurnModel;

/// The SQL model holding the features, and the one holding the RFM scores of the baseline.
pub const FEATURES: &str = "churn_features";
const RFM: &str = "customer_rfm";

/// Which model scores a run.
#[derive(Debug, Clone)]
pub enum ModelChoice {
    /// As the pipeline's `[churn] retrain` says.
    Pipeline,
    /// A saved model.json (`vitals predict --model`).
    File(PathBuf),
}

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

/// Out-of-time validation: trained on the older snapshots, tested on the newest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    pub test_snapshot: NaiveDate,
    pub model: Evaluation,
    /// Churn rate by R + F score, learned on the same training snapshots.
    pub baseline: Evaluation,
}

/// What the model lane did, for the manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChurnReport {
    /// `trained`, `reused`, `skipped` or `disabled`.
    pub status: String,
    pub reason: Option<String>,
    pub model: Option<PathBuf>,
    pub horizon_days: i64,
    pub snapshots: Vec<NaiveDate>,
    pub training_customers: usize,
    pub training_churners: usize,
    pub validation: Option<Validation>,
    pub seconds_training: f64,
    /// The part of training spent in the two logistic fits (the rest: the snapshots).
    #[serde(default)]
    pub seconds_fitting: f64,
    pub seconds_scoring: f64,
}

/// The model lane's results for one run.
pub struct Outcome {
    pub report: ChurnReport,
    /// Set when a model was trained in this run: publish it.
    pub artifact: Option<Artifact>,
    /// churn_risk, band and drivers per customer scored.
    pub scores: HashMap<String, (f64, &'static str, String)>,
}

/// The settings and engines a churn run needs.
pub struct Lane<'a> {
    pub pipeline: &'a Pipeline,
    pub as_of: NaiveDate,
    pub runtime: &'a Runtime,
    pub bronze_file: &'a (dyn Fn(&str) -> PathBuf + Sync),
    pub out: &'a Path,
}

impl Outcome {
    /// A run without churn scoring (`[churn] enabled = false`).
    pub fn disabled(cfg: &Churn) -> Outcome {
        Outcome { report: ChurnReport::new("disabled", cfg), artifact: None, scores: HashMap::new() }
    }
}

impl ChurnReport {
    fn new(status: &str, cfg: &Churn) -> ChurnReport {
        ChurnReport {
            status: status.into(),
            reason: None,
            model: None,
            horizon_days: cfg.horizon_days,
            snapshots: Vec::new(),
            training_customers: 0,
            training_churners: 0,
            validation: None,
            seconds_training: 0.0,
            seconds_fitting: 0.0,
            seconds_scoring: 0.0,
        }
    }
}

/// Trains (or loads) the churn model and scores `current`, the run's `churn_features`.
pub fn run(lane: &Lane, choice: &ModelChoice, current: &Table) -> Result<Outcome> {
    let cfg = &lane.pipeline.churn;
    let mut report = ChurnReport::new("trained", cfg);
    let saved = match choice {
        ModelChoice::File(path) => Some(path.clone()),
        ModelChoice::Pipeline if cfg.retrain == Retrain::Reuse => newest_saved(lane.out, lane.as_of),
        ModelChoice::Pipeline => None,
    };
    let started = Instant::now();
    let (model, artifact) = match saved {
        Some(path) => {
            let artifact = load(&path)?;
            report.status = "reused".into();
            report.model = Some(path);
            report.snapshots = artifact.snapshots.clone();
            report.training_customers = artifact.training_customers;
            report.training_churners = artifact.training_churners;
            report.validation = artifact.validation.clone();
            (artifact.model, None)
        }
        None => match train(lane, &mut report)? {
            Some(artifact) => {
                report.model = Some(artifact_path(lane.out, lane.as_of));
                report.validation = artifact.validation.clone();
                (artifact.model.clone(), Some(artifact))
            }
            None => {
                report.status = "skipped".into();
                let reason = report.reason.clone().unwrap_or_default();
                tracing::warn!("no churn model: {reason}; churn columns are left empty");
                return Ok(Outcome { report, artifact: None, scores: HashMap::new() });
            }
        },
    };
    report.seconds_training = started.elapsed().as_secs_f64();

    let started = Instant::now();
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
    let scores = features
        .customers
        .into_iter()
        .zip(risk.into_iter().zip(drivers))
        .map(|(id, (r, d))| (id, (r, cfg.band(r), d)))
        .collect();
    report.seconds_scoring = started.elapsed().as_secs_f64();
    Ok(Outcome { report, artifact, scores })
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

/// Features as of `date` for customers not yet lost, labelled by what happened in the
/// horizon after it (seen from `date + horizon`, never later than the run's as_of).
fn snapshot(lane: &Lane, date: NaiveDate) -> Result<Snapshot> {
    let cfg = &lane.pipeline.churn;
    let inputs = transform::Inputs::bronze(lane.bronze_file);
    let evaluate =
        |on: NaiveDate, wanted: &[&str]| lane.runtime.block_on(transform::evaluate(lane.pipeline, on, &inputs, wanted));
    let at = evaluate(date, &[FEATURES, RFM])?;
    let features = dataset::features(&at[0])?;
    let r = dataset::numbers_by_customer(&at[1], "r_score")?;
    let f = dataset::numbers_by_customer(&at[1], "f_score")?;
    let end = date + Duration::days(cfg.horizon_days);
    let later = evaluate(end, &["customer_features"])?;
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
}

/// The snapshots of `dates`, computed side by side, as many at a time as there are cores
/// (each SQL evaluation runs on one), so memory stays bounded on large portfolios.
fn snapshots(lane: &Lane, dates: &[NaiveDate]) -> Result<Vec<Snapshot>> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut done = Vec::with_capacity(dates.len());
    for batch in dates.chunks(cores) {
        let computed: Vec<Result<Snapshot>> = std::thread::scope(|scope| {
            let running: Vec<_> = batch.iter().map(|d| scope.spawn(move || snapshot(lane, *d))).collect();
            running.into_iter().map(|t| t.join().expect("a snapshot thread panicked")).collect()
        });
        for snapshot in computed {
            done.push(snapshot?);
        }
    }
    Ok(done)
}

/// Stacks snapshots into one training set.
fn stack(snapshots: &[&Snapshot]) -> (ndarray::Array2<f64>, Vec<bool>, Vec<i64>) {
    let views: Vec<_> = snapshots.iter().map(|s| s.x.view()).collect();
    let x = ndarray::concatenate(Axis(0), &views).expect("snapshots share their features");
    let y = snapshots.iter().flat_map(|s| s.churned.iter().copied()).collect();
    let rf = snapshots.iter().flat_map(|s| s.rf.iter().copied()).collect();
    (x, y, rf)
}

fn train(lane: &Lane, report: &mut ChurnReport) -> Result<Option<Artifact>> {
    let cfg = &lane.pipeline.churn;
    let dates: Vec<NaiveDate> =
        (0..cfg.snapshots).map(|k| lane.as_of - Duration::days(cfg.horizon_days + k as i64 * cfg.step_days)).collect();
    let snapshots = snapshots(lane, &dates)?;
    report.snapshots = dates.clone();
    let all: Vec<&Snapshot> = snapshots.iter().collect();
    let (x, y, _) = stack(&all);
    let churners = y.iter().filter(|c| **c).count();
    report.training_customers = y.len();
    report.training_churners = churners;
    if churners < cfg.min_positives || churners == y.len() {
        report.reason = Some(format!(
            "{churners} churners among {} customer snapshots, fewer than [churn] min_positives = {} \
             (more history, a longer horizon, or label = [\"crm\", \"inactivity\"] give more)",
            y.len(),
            cfg.min_positives
        ));
        return Ok(None);
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
    Ok(Some(Artifact {
        vitals_version: env!("CARGO_PKG_VERSION").to_string(),
        trained_as_of: lane.as_of,
        horizon_days: cfg.horizon_days,
        label: cfg.label.clone(),
        l2: cfg.l2,
        snapshots: dates,
        training_customers: y.len(),
        training_churners: churners,
        validation,
        libraries: libraries(),
        model,
    }))
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

/// Where a model trained as of `as_of` is published.
pub fn artifact_path(out: &Path, as_of: NaiveDate) -> PathBuf {
    out.join(MODELS).join(format!("as_of={as_of}")).join(MODEL_FILE)
}

/// The models "table" under the output directory, and the file in each partition.
pub const MODELS: &str = "models/churn";
pub const MODEL_FILE: &str = "model.json";

pub fn to_json(artifact: &Artifact) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec_pretty(artifact)?)
}

pub fn load(path: &Path) -> Result<Artifact> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read churn model {}", path.display()))?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a vitals churn model (model.json)", path.display()))
}

/// The newest saved model trained on or before `as_of`.
pub fn newest_saved(out: &Path, as_of: NaiveDate) -> Option<PathBuf> {
    let dates = crate::publish::partitions(out, MODELS);
    dates.into_iter().rfind(|d| *d <= as_of).map(|d| artifact_path(out, d)).filter(|p| p.exists())
}

/// `customer_health` with churn_risk, risk_band and top_risk_drivers appended (null for
/// customers not scored: lost ones, or all when there is no model).
pub fn attach(health: &Table, scores: &HashMap<String, (f64, &'static str, String)>) -> Result<Table> {
    let mut fields: Vec<Field> = health.schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend(crate::canonical::CHURN_COLUMNS.iter().map(|(name, kind)| Field::new(*name, kind.clone(), true)));
    let schema = Arc::new(Schema::new(fields));
    let mut batches = Vec::new();
    for batch in &health.batches {
        let ids = crate::transform::rows::text_column(
            batch.column_by_name("customer_id").context("customer_health needs customer_id")?,
        )?;
        let found: Vec<Option<&(f64, &str, String)>> = ids.iter().map(|id| scores.get(id)).collect();
        let mut columns = batch.columns().to_vec();
        columns.push(Arc::new(Float64Array::from_iter(found.iter().map(|s| s.map(|s| s.0)))));
        columns.push(Arc::new(StringArray::from_iter(found.iter().map(|s| s.map(|s| s.1)))));
        columns.push(Arc::new(StringArray::from_iter(found.iter().map(|s| s.map(|s| s.2.as_str())))));
        batches.push(RecordBatch::try_new(schema.clone(), columns)?);
    }
    Ok(Table { name: health.name.clone(), schema, batches })
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
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    let day = (as_of - epoch).num_days() as i32;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Date32Array::from(vec![day; rows.len()])),
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
    Ok(Table { name: "model_metrics".into(), schema, batches: vec![batch] })
}
