//! The churn model's settings: what counts as churn, how far ahead, which history to learn
//! from, and how risk is banded. [`ChurnSpec`] is the `[churn]` section as written;
//! [`Churn`] the checked settings a run uses.

use serde::{Deserialize, Serialize};

use crate::canonical::RISK_BANDS;

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

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskBands {
    pub medium: f64,
    pub high: f64,
}

/// The `[churn]` section as written (defaults merged).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChurnSpec {
    enabled: bool,
    horizon_days: i64,
    label: Vec<LabelRule>,
    snapshots: usize,
    step_days: i64,
    min_positives: usize,
    l2: f64,
    max_training_rows: usize,
    retrain: Retrain,
    risk_bands: RiskBands,
}

/// How far back (days) the churn model's snapshots and horizon may reach.
const MAX_REACH_DAYS: i64 = 36_525;

/// The checked churn settings.
#[derive(Debug, Clone)]
pub struct Churn {
    pub enabled: bool,
    pub horizon_days: i64,
    pub label: Vec<LabelRule>,
    /// Whether the pipeline file chose `label`; when it did not, vitals may fall back to
    /// inactivity (see [`Churn::fall_back_to_inactivity`]).
    pub label_set: bool,
    /// Why vitals chose the label rules, when the pipeline file did not.
    pub label_note: Option<String>,
    pub snapshots: usize,
    pub step_days: i64,
    pub min_positives: usize,
    pub l2: f64,
    /// Training rows the fit may use; past it the classes are sampled (see the model lane).
    pub max_training_rows: usize,
    pub retrain: Retrain,
    pub risk_bands: RiskBands,
}

impl ChurnSpec {
    /// Checks the settings: every problem found, each naming the key (`at` is the section
    /// as a reader finds it, e.g. "pipeline file p.toml: [churn]"). `label_set`: the file
    /// itself gives `label` (else it is the default).
    pub fn check(self, at: &str, label_set: bool) -> std::result::Result<Churn, Vec<String>> {
        let mut problems = Vec::new();
        if self.horizon_days < 1 || self.step_days < 1 {
            problems.push(format!("{at} horizon_days and step_days must be at least 1"));
        }
        // Snapshot dates lie snapshots × step_days + horizon_days before the run: keep that
        // within a century, far from where date arithmetic overflows.
        let reach = (self.snapshots as i64).saturating_mul(self.step_days).saturating_add(self.horizon_days);
        if reach > MAX_REACH_DAYS {
            problems.push(format!(
                "{at} horizon_days = {} and snapshots × step_days = {} × {} reach {reach} days back; keep it within {MAX_REACH_DAYS} days",
                self.horizon_days, self.snapshots, self.step_days
            ));
        }
        if self.snapshots < 2 {
            problems.push(format!(
                "{at} snapshots = {}: at least 2 (the newest validates, the older ones train)",
                self.snapshots
            ));
        }
        if self.label.is_empty() {
            problems.push(format!("{at} label must name at least one rule: \"crm\" and/or \"inactivity\""));
        }
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            problems.push(format!("{at} l2 must be a number ≥ 0"));
        }
        if self.max_training_rows < 1000 {
            problems.push(format!("{at} max_training_rows = {}: at least 1000", self.max_training_rows));
        }
        let b = self.risk_bands;
        if !(0.0 < b.medium && b.medium < b.high && b.high <= 1.0) {
            problems.push(format!(
                "{at}.risk_bands needs 0 < medium < high ≤ 1, got medium = {}, high = {}",
                b.medium, b.high
            ));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Churn {
            enabled: self.enabled,
            horizon_days: self.horizon_days,
            label: self.label,
            label_set,
            label_note: None,
            snapshots: self.snapshots,
            step_days: self.step_days,
            min_positives: self.min_positives,
            l2: self.l2,
            max_training_rows: self.max_training_rows,
            retrain: self.retrain,
            risk_bands: self.risk_bands,
        })
    }
}

impl Churn {
    /// Each risk band with the churn risk it starts at, lowest first.
    pub fn bands(&self) -> [(&'static str, f64); 3] {
        [(RISK_BANDS[0], 0.0), (RISK_BANDS[1], self.risk_bands.medium), (RISK_BANDS[2], self.risk_bands.high)]
    }

    /// Churn becomes "no invoice within the horizon" when the pipeline file leaves `label`
    /// to the default and `why` (the portfolio has no CRM churn dates) makes the default
    /// (`crm`) unable to find a single churner. A label the file sets is kept.
    pub fn fall_back_to_inactivity(&mut self, why: &str) {
        if self.label_set || self.label.contains(&LabelRule::Inactivity) {
            return;
        }
        self.label = vec![LabelRule::Inactivity];
        self.label_note = Some(format!(
            "{why}, so churn means no invoice within horizon_days = {} (label = [\"inactivity\"]); \
             set [churn] label to choose",
            self.horizon_days
        ));
    }

    /// The band of a churn risk.
    pub fn band(&self, risk: f64) -> &'static str {
        self.bands().iter().rev().find(|(_, from)| risk >= *from).map_or(RISK_BANDS[0], |(name, _)| name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_start_at_their_thresholds() {
        let churn = defaults(false);
        assert_eq!(churn.band(0.0), "low");
        assert_eq!(churn.band(0.15), "medium");
        assert_eq!(churn.band(0.349), "medium");
        assert_eq!(churn.band(0.35), "high");
    }

    fn defaults(label_set: bool) -> Churn {
        let spec: ChurnSpec =
            toml::from_str::<toml::Table>(crate::config::DEFAULTS).unwrap()["churn"].clone().try_into().unwrap();
        spec.check("[churn]", label_set).unwrap()
    }

    #[test]
    fn only_a_default_label_falls_back_to_inactivity() {
        let mut default = defaults(false);
        default.fall_back_to_inactivity("no CRM churn dates");
        assert_eq!(default.label, vec![LabelRule::Inactivity]);
        let note = default.label_note.unwrap();
        assert!(note.starts_with("no CRM churn dates, so churn means no invoice within horizon_days = 90"), "{note}");

        let mut chosen = defaults(true);
        chosen.fall_back_to_inactivity("no CRM churn dates");
        assert_eq!(chosen.label, vec![LabelRule::Crm]);
        assert_eq!(chosen.label_note, None);
    }
}
