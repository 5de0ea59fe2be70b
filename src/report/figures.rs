//! The figures of one report, as gathered from the published tables: what the page and
//! its charts show.

use chrono::NaiveDate;

/// Width of a bar of the score histogram, in health points.
pub const SCORE_BIN: f64 = 5.0;

/// The figures of one run, compared where it helps with the run before it.
pub struct Report {
    pub as_of: NaiveDate,
    /// The previous customer_health partition, if any.
    pub previous: Option<NaiveDate>,
    /// Customers scored and their average health score: this run, then the previous one.
    pub portfolio: Vec<(i64, f64)>,
    /// One entry per tier of [`TIERS`]: customers now and in the previous run.
    pub tiers: Vec<(i64, Option<i64>)>,
    pub histogram: Vec<ScoreBin>,
    pub rf_cells: Vec<RfCell>,
    /// One entry per tier of [`TIERS`]: the average of each dimension of [`DIMENSIONS`].
    pub dimensions: Vec<Vec<Option<f64>>>,
    /// The largest rises, then the largest falls, of the health score since the previous run.
    pub movers: Vec<Mover>,
    pub alerts: Vec<AlertCount>,
    pub churn: Churn,
}

/// Customers of one tier whose health score is in [from, from + SCORE_BIN).
pub struct ScoreBin {
    pub from: f64,
    pub tier: String,
    pub customers: i64,
}

/// Customers with one R score and one F score.
pub struct RfCell {
    pub r: i64,
    pub f: i64,
    pub customers: i64,
    pub avg_monetary: f64,
}

pub struct Mover {
    pub customer_id: String,
    pub name: String,
    pub tier: String,
    pub previous_tier: String,
    pub score: f64,
    pub delta: f64,
}

pub struct AlertCount {
    pub kind: String,
    pub severity: String,
    pub alerts: i64,
}

/// Where the validation of a run that reused a saved model is.
pub const SAVED_MODEL: &str =
    "This run scored churn risk with a saved model; its validation is in the report of the run that trained it.";

/// The churn model's validation in this run, the check of the risks an earlier run
/// published, and its features' drift; or why there is none of these.
pub enum Churn {
    Validated {
        /// (scorer, metric, value) of the headline metrics.
        metrics: Vec<(String, String, f64)>,
        /// (scorer, false positive rate, true positive rate), each scorer's curve in order.
        roc: Vec<(String, f64, f64)>,
        /// (scorer, mean predicted, observed rate) per calibration bin, in order.
        calibration: Vec<(String, f64, f64)>,
        /// The as_of of the run whose risks were checked against what happened (scorer
        /// `realized`), if any.
        realized_from: Option<String>,
        /// (feature, PSI) from the training rows to the customers scored, largest first.
        drift: Vec<(String, f64)>,
    },
    Absent(String),
}

impl Churn {
    /// A headline metric (roc_auc, pr_auc, brier, log_loss) of a scorer (model, baseline).
    pub fn metric(&self, scorer: &str, metric: &str) -> Option<f64> {
        let Churn::Validated { metrics, .. } = self else { return None };
        metrics.iter().find(|(s, m, _)| s == scorer && m == metric).map(|m| m.2)
    }
}
