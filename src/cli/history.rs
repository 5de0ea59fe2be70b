//! `vitals history`: one customer's score, tier, dimensions, churn risk and alerts over
//! every published run, as tables in the terminal.

use anyhow::{bail, Result};
use datafusion::arrow::util::pretty::pretty_format_batches;

use crate::layout::OutputLayout;
use crate::publish;
use crate::transform::{outputs, Engine};

/// The history of `customer` in the output directory `out`, ready to print.
pub async fn render(engine: &Engine, out: &OutputLayout, customer: &str) -> Result<String> {
    let snapshot = publish::snapshot::take(out)?;
    let ctx = outputs::register(engine, snapshot.tables()).await?;
    if !ctx.table_exist("customer_health")? {
        bail!("{} holds no customer_health table: run `vitals run` first", out.root().display());
    }
    let id = customer.replace('\'', "''");
    let scores = ctx
        .sql(&format!(
            "SELECT as_of, health_score, score_delta, trend, health_tier, dim_value, dim_engagement, \
             dim_satisfaction, dim_relationship, dim_risk, ROUND(churn_risk, 3) AS churn_risk, risk_band \
             FROM customer_health WHERE customer_id = '{id}' ORDER BY as_of"
        ))
        .await?
        .collect()
        .await?;
    if scores.iter().all(|b| b.num_rows() == 0) {
        bail!("customer {customer} appears in no published run under {}: check the id", out.root().display());
    }
    let mut text = format!("customer {customer}\n{}\n", pretty_format_batches(&scores)?);
    if ctx.table_exist("alerts")? {
        let alerts = ctx
            .sql(&format!(
                "SELECT as_of, kind, severity, message, evidence FROM alerts \
                 WHERE customer_id = '{id}' ORDER BY as_of, kind, event_date"
            ))
            .await?
            .collect()
            .await?;
        if alerts.iter().all(|b| b.num_rows() == 0) {
            text.push_str("no alerts\n");
        } else {
            text.push_str(&format!("alerts\n{}\n", pretty_format_batches(&alerts)?));
        }
    }
    Ok(text)
}
