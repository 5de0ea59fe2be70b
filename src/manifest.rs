//! The run manifest, `runs/<as_of>/manifest.json`: what went in, what came out and how long
//! each stage took — what a person reads to answer "what happened last night". Each lane
//! fills in its part ([`SourceReport`] from ingest, [`ChurnReport`] from the model lane);
//! the runner puts them together and the publish lane writes the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::config::churn::{Churn, LabelRule};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub vitals_version: String,
    pub pipeline: PathBuf,
    pub as_of: NaiveDate,
    /// The run whose customer_health the trends and alerts compare with (none: first run).
    #[serde(default)]
    pub previous_as_of: Option<NaiveDate>,
    /// Local times the run started and published (RFC 3339).
    #[serde(default)]
    pub started_at: String,
    #[serde(default)]
    pub finished_at: String,
    pub inputs: Vec<SourceReport>,
    /// Canonical sources the pipeline does not have; their models see empty tables.
    pub absent_sources: Vec<String>,
    pub tables: BTreeMap<String, TableReport>,
    pub scoring: ScoringReport,
    pub churn: ChurnReport,
    /// Alerts raised by this run, per kind.
    #[serde(default)]
    pub alerts: BTreeMap<String, u64>,
    /// Wall-clock seconds per stage (ingest, transform, model, publish).
    pub stage_seconds: BTreeMap<String, f64>,
    /// Wall-clock seconds per SQL model of the run (not the churn snapshots'), to find
    /// where the transform stage spends its time.
    #[serde(default)]
    pub model_seconds: BTreeMap<String, f64>,
    /// The process's peak resident memory (MiB) by the end of each stage; the largest is
    /// the run's peak. Empty where the system does not say.
    #[serde(default)]
    pub peak_memory_mib: BTreeMap<String, f64>,
    /// The SQL engine's budget, `[run] memory_limit` (MiB).
    #[serde(default)]
    pub memory_limit_mib: f64,
    /// What the run found worth a look without stopping for it: an export that is getting
    /// stale, one whose row count moved a lot, one byte-identical to the previous run's.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Every data test the run ran, passed or not (`[[tests]]`, defaults, `sql_tests/`).
    #[serde(default)]
    pub data_tests: Vec<DataTestResult>,
    /// Columns the published tables have beyond docs/tables.md's contract, by table.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub added_columns: BTreeMap<String, Vec<String>>,
    /// Contract breaks the pipeline allowed (`[run] allow_breaking`) that this run made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_breaks: Vec<String>,
    /// The files each partition of this run holds once published, by table as named
    /// under `<out>` (`customer_health`, `bronze/invoices`): what readers read of this
    /// date; anything else in those folders is not this run's. Filled in at the commit.
    #[serde(default)]
    pub files: BTreeMap<String, Vec<String>>,
}

impl Manifest {
    pub fn read(path: &Path) -> Result<Manifest> {
        let text = std::fs::read(path).with_context(|| format!("reading manifest {}", path.display()))?;
        serde_json::from_slice(&text).with_context(|| format!("manifest {} is not valid", path.display()))
    }
}

/// What one SQL model read, as digests: its SQL text and each table it names (the
/// models it reads, the rules tables, `params` by the columns it names, the sources and
/// previous_health by the run that wrote them). Equal digests, equal result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// The digest of everything below, what reuse compares.
    pub digest: String,
    pub sql: String,
    pub inputs: BTreeMap<String, String>,
}

/// `facts/as_of=<date>/fingerprints.json`: every table a run's SQL models produced, with
/// the fingerprint of what it read, so `vitals score` reuses the ones a rule change does
/// not reach.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SavedFacts {
    /// The run that saved them (its `started_at`), which the committed manifest must name.
    pub run: String,
    pub models: BTreeMap<String, SavedFact>,
    /// Each data test's result, with the digest of what it read (its definition and the
    /// tables it names), so a re-score reuses the result of a test over unchanged tables.
    #[serde(default)]
    pub tests: BTreeMap<String, SavedTest>,
}

/// One data test's result, the digest of what it read and the digest of the test itself
/// (empty in runs saved before it was kept: such a result holds only over the same tables).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedTest {
    pub digest: String,
    #[serde(default)]
    pub definition: String,
    pub result: DataTestResult,
}

/// One saved model table: its fingerprint and where the run keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedFact {
    pub fingerprint: Fingerprint,
    /// The table's name under `facts/` or, when published, its published name.
    pub table: String,
    pub published: bool,
}

/// What ingest did with one export.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceReport {
    pub source: String,
    pub path: PathBuf,
    pub size_bytes: u64,
    pub sha256: String,
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    /// The commonest reasons values were refused, with how many values each.
    #[serde(default)]
    pub top_reasons: Vec<(String, u64)>,
    /// The source's data-quality gate.
    #[serde(default)]
    pub max_reject_ratio: f64,
    /// The newest event date among the accepted rows (invoice_date, activity_date, …):
    /// how fresh the export is.
    #[serde(default)]
    pub newest_event: Option<NaiveDate>,
    /// Categorical field → the accepted rows whose value no value map names, and the
    /// commonest such values (folded) with their rows. Absent: every value was known.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unmapped: BTreeMap<String, Unmapped>,
    pub seconds: f64,
}

/// One data test's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataTestResult {
    pub test: String,
    pub table: String,
    pub column: Option<String>,
    /// unique, not_null, accepted_values, range, relationships or sql.
    pub check: String,
    pub severity: String,
    /// pass, fail, or skipped (the run has no such table).
    pub status: String,
    pub failing_rows: u64,
    /// Up to five failing keys (customer_id where the table has one, else the value),
    /// smallest first.
    pub failing_keys: Vec<String>,
    /// Why a test failed without failing rows (its query did not run), or was skipped.
    pub detail: Option<String>,
}

impl DataTestResult {
    pub fn failed(&self) -> bool {
        self.status == "fail"
    }
}

/// Values of one categorical field that map to nothing the models compare with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Unmapped {
    pub rows: u64,
    /// The commonest values (at most [`Unmapped::SHOWN`]) with their rows.
    pub values: BTreeMap<String, u64>,
}

impl Unmapped {
    pub const SHOWN: usize = 20;
}

impl SourceReport {
    /// Rejected rows / rows read (0 for an empty export).
    pub fn reject_ratio(&self) -> f64 {
        if self.rows_read == 0 {
            0.0
        } else {
            self.rows_rejected as f64 / self.rows_read as f64
        }
    }
}

/// The scoring rules a run used, and how much data each dimension had.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScoringReport {
    /// `fixed`, or `ahp` with its consistency figures.
    pub weighting: serde_json::Value,
    pub dimension_weights: BTreeMap<String, f64>,
    /// Customers with a score on each dimension.
    pub customers_with_data: BTreeMap<String, u64>,
    /// Weighted dimensions no customer had data for (e.g. their source is absent): left out
    /// of every score, the other weights renormalized.
    pub dimensions_without_data: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableReport {
    pub rows: u64,
    pub path: PathBuf,
}

/// What the model lane did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChurnReport {
    /// `trained`, `reused`, `skipped` or `disabled`.
    pub status: String,
    pub reason: Option<String>,
    pub model: Option<PathBuf>,
    pub horizon_days: i64,
    /// What counted as churn (`[churn] label`, or vitals' fallback).
    #[serde(default)]
    pub label: Vec<LabelRule>,
    /// Why vitals chose the label, when the pipeline file did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_note: Option<String>,
    pub snapshots: Vec<NaiveDate>,
    pub training_customers: usize,
    pub training_churners: usize,
    pub validation: Option<Validation>,
    pub seconds_training: f64,
    /// The part of training spent in the two logistic fits (the rest: the snapshots).
    #[serde(default)]
    pub seconds_fitting: f64,
    pub seconds_scoring: f64,
    /// Population stability index of each feature, training rows against the customers
    /// scored (over 0.25 with a reused model: a warning).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub drift: BTreeMap<String, f64>,
    /// The churn risks published a horizon or more ago, checked against what happened since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realized: Option<Realized>,
}

/// How the churn risks of an earlier run came true: its customers whose outcome over the
/// horizon after its date is now known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Realized {
    /// The as_of of the run that published the risks.
    pub predicted_as_of: NaiveDate,
    /// The ROC AUC that run's model showed in its validation, if it had one, and its
    /// standard error.
    pub validation_roc_auc: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_roc_auc_standard_error: Option<f64>,
    pub evaluation: Evaluation,
}

impl ChurnReport {
    /// A report of `status` for the churn settings `cfg`, before anything was done.
    pub fn new(status: &str, cfg: &Churn) -> ChurnReport {
        ChurnReport {
            status: status.into(),
            reason: None,
            model: None,
            horizon_days: cfg.horizon_days,
            label: cfg.label.clone(),
            label_note: cfg.label_note.clone(),
            snapshots: Vec::new(),
            training_customers: 0,
            training_churners: 0,
            validation: None,
            seconds_training: 0.0,
            seconds_fitting: 0.0,
            seconds_scoring: 0.0,
            drift: BTreeMap::new(),
            realized: None,
        }
    }
}

/// Out-of-time validation: trained on the older snapshots, tested on the newest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    pub test_snapshot: NaiveDate,
    pub model: Evaluation,
    /// Churn rate by R + F score, learned on the same training snapshots.
    pub baseline: Evaluation,
    /// Days since the last invoice alone, ranked (a ranking, not a probability: no Brier
    /// score or calibration). Absent when churn_features has no recency_days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recency: Option<Ranking>,
}

/// How well a score that is not a probability ranked churners first.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ranking {
    pub roc_auc: f64,
    pub pr_auc: f64,
}

/// How good a churn score was on customers whose outcome is known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub customers: usize,
    pub churned: usize,
    pub roc_auc: f64,
    /// How far chance alone moves roc_auc on another sample of this size (DeLong); absent
    /// in evaluations saved before vitals 0.7 and without two churners and two stayers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roc_auc_standard_error: Option<f64>,
    /// Average precision: the area under the precision–recall curve.
    pub pr_auc: f64,
    pub brier: f64,
    pub log_loss: f64,
    pub calibration: Vec<CalibrationBin>,
    /// The ROC curve, for the `model_metrics` table only: not kept in the manifest or
    /// model.json (a reused model's validation has none).
    #[serde(skip)]
    pub roc: Vec<RocPoint>,
}

/// One tenth of the customers, by predicted risk: what was predicted and what happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    pub bin: usize,
    pub customers: usize,
    pub mean_predicted: f64,
    pub observed_rate: f64,
}

/// A point of the ROC curve: the share of stayers (false positive rate) and of churners
/// (true positive rate) scored at or above some threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RocPoint {
    pub fpr: f64,
    pub tpr: f64,
}
