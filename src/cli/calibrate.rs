//! `vitals calibrate`: does the health score predict churn, and which dimension weights
//! would make it predict better? Prints the answer and the weights as a TOML snippet to
//! paste into the pipeline file; changes nothing by itself.

use std::fmt::Write;
use std::path::PathBuf;

use anyhow::Result;
use chrono::NaiveDate;

use crate::config::scoring::Weighting;
use crate::config::Pipeline;
use crate::runner::{self, Calibrated, RunSettings};

pub fn run(pipeline: &Pipeline, as_of: Option<NaiveDate>, out: Option<PathBuf>) -> Result<()> {
    let out = RunSettings::resolve(pipeline, None, out, false)?.out;
    let calibrated = runner::calibrate(pipeline, &out, as_of)?;
    print!("{}", render(pipeline, &calibrated));
    Ok(())
}

/// A gain in ROC AUC worth changing the weights for.
const WORTH_IT: f64 = 0.005;

/// The printed answer.
fn render(pipeline: &Pipeline, c: &Calibrated) -> String {
    let fit = &c.calibration;
    let mut text = String::new();
    let dates: Vec<String> = c.snapshots.iter().map(|d| d.to_string()).collect();
    let _ = writeln!(
        text,
        "health score against churn within {} days, on the ingest as of {} at {} snapshot dates ({}):\n\
         {} customer snapshots, {} churned",
        c.horizon_days,
        c.as_of,
        dates.len(),
        dates.join(", "),
        fit.customers,
        fit.churned
    );
    if let Some(note) = &c.label_note {
        let _ = writeln!(text, "churn label: {note}");
    }
    let _ = writeln!(text, "ROC AUC: how often a churner scored lower than a stayer (0.5 is chance, 1 is perfect)\n");
    let _ = writeln!(text, "  {:<16} {:>9} {:>8} {:>11} {:>10}", "", "customers", "ROC AUC", "weight now", "suggested");
    let _ = writeln!(text, "  {:<16} {:>9} {:>8.3}", "health_score", fit.customers, fit.roc_auc);
    for d in &fit.dimensions {
        let auc = if d.roc_auc.is_nan() { "-".to_string() } else { format!("{:.3}", d.roc_auc) };
        let _ = writeln!(
            text,
            "  {:<16} {:>9} {:>8} {:>11.2} {:>10.2}",
            d.dimension, d.customers, auc, d.weight, d.suggested_weight
        );
    }
    if !fit.fitted {
        let _ = writeln!(text, "\nno dimension's score is lower for churners: the current weights stay the suggestion");
        return text;
    }
    let gain = fit.suggested_roc_auc - fit.roc_auc;
    let _ = writeln!(
        text,
        "\nwith the suggested weights health_score would have ROC AUC {:.3} ({gain:+.3}){}",
        fit.suggested_roc_auc,
        if gain < WORTH_IT {
            format!(": within {WORTH_IT} of the current weights, which rank churners as well; no reason to change them")
        } else {
            ".".to_string()
        }
    );
    let replaces = match pipeline.scoring.weighting {
        Weighting::Ahp { .. } => " (in place of [health.ahp])",
        Weighting::Fixed => "",
    };
    let _ = writeln!(text, "To use them, paste this into {}{replaces}:\n", pipeline.file.display());
    let _ = writeln!(text, "[health.weights]   # fitted by vitals calibrate on churn as of {}", c.as_of);
    for d in &fit.dimensions {
        let _ = writeln!(text, "{} = {:.2}", d.dimension, d.suggested_weight);
    }
    text
}
