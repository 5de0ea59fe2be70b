//! The run manifest, `<out>/runs/<as_of>/manifest.json`: what went in, what came out and
//! how long each stage took — what a person reads to answer "what happened last night".

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ingest::SourceReport;
use crate::model::ChurnReport;

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

impl Manifest {
    /// Writes the manifest into `dir`, whole or not at all.
    pub fn write(&self, dir: &Path) -> Result<()> {
        super::write_atomically(&dir.join("manifest.json"), &serde_json::to_vec_pretty(self)?)
    }

    pub fn read(path: &Path) -> Result<Manifest> {
        let text = std::fs::read(path).with_context(|| format!("reading manifest {}", path.display()))?;
        serde_json::from_slice(&text).with_context(|| format!("manifest {} is not valid", path.display()))
    }
}
