//! The churn model's settings: what counts as churn, how far ahead, which history to learn
//! from, and how risk is banded.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelRule {
    /// A CRM churn date within the horizon.
    Crm,
    /// No invoice within the horizon.
    Inactivity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Retrain {
    Always,
    Reuse,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RiskBands {
    pub medium: f64,
    pub high: f64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Churn {
    pub enabled: bool,
    pub horizon_days: i64,
    pub label: Vec<LabelRule>,
    pub snapshots: usize,
    pub step_days: i64,
    pub min_positives: usize,
    pub l2: f64,
    /// Training rows the fit may use; past it the classes are sampled (see the model lane).
    pub max_training_rows: usize,
    pub retrain: Retrain,
    pub risk_bands: RiskBands,
}

impl Churn {
    /// Checks the settings; `file` names the pipeline file in errors.
    pub fn check(self, file: &str) -> Result<Churn> {
        let at = format!("pipeline file {file}: [churn]");
        if self.horizon_days < 1 || self.step_days < 1 {
            bail!("{at} horizon_days and step_days must be at least 1");
        }
        if self.snapshots < 2 {
            bail!("{at} snapshots = {}: at least 2 (the newest validates, the older ones train)", self.snapshots);
        }
        if self.label.is_empty() {
            bail!("{at} label must name at least one rule: \"crm\" and/or \"inactivity\"");
        }
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            bail!("{at} l2 must be a number ≥ 0");
        }
        if self.max_training_rows < 1000 {
            bail!("{at} max_training_rows = {}: at least 1000", self.max_training_rows);
        }
        let b = self.risk_bands;
        if !(0.0 < b.medium && b.medium < b.high && b.high <= 1.0) {
            bail!("{at}.risk_bands needs 0 < medium < high ≤ 1, got medium = {}, high = {}", b.medium, b.high);
        }
        Ok(self)
    }

    /// The band of a churn risk.
    pub fn band(&self, risk: f64) -> &'static str {
        if risk >= self.risk_bands.high {
            "high"
        } else if risk >= self.risk_bands.medium {
            "medium"
        } else {
            "low"
        }
    }
}
