//! `vitals report`: one self-contained HTML page about a published run, for people who do
//! not read Parquet. This module gathers the figures with SQL over the published tables
//! (the same registration `vitals query` uses); [`charts`] draws them with the primitives
//! of [`svg`], and [`html`] lays out the page.

mod charts;
mod figures;
mod format;
mod html;
mod svg;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use datafusion::prelude::SessionContext;

use crate::canonical::{DIMENSIONS, HEALTH, TIERS};
use crate::layout::OutputLayout;
use crate::manifest::Manifest;
use crate::publish;
use crate::transform::rows::{query, Rows};
use crate::transform::{outputs, Engine};
use figures::{AlertCount, Churn, Mover, Report, RfCell, ScoreBin, SAVED_MODEL, SCORE_BIN};

/// How many customers the report lists as moving most, each way.
const MOVERS: usize = 8;

/// Writes the report of the run as of `as_of` (default: the newest) under `out` to
/// `output` (default: `<out>/reports/report_<as_of>.html`) and returns where it went.
pub async fn write(
    engine: &Engine,
    out: &OutputLayout,
    as_of: Option<NaiveDate>,
    output: Option<&Path>,
) -> Result<PathBuf> {
    let report = gather(engine, out, as_of).await?;
    let path = output.map_or_else(|| out.report_file(report.as_of), Path::to_path_buf);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(&path, html::page(&report)).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// Reads the figures of the run as of `as_of` (default: the newest published) under `out`.
pub async fn gather(engine: &Engine, out: &OutputLayout, as_of: Option<NaiveDate>) -> Result<Report> {
    let snapshot = publish::snapshot::take(out)?;
    let runs = snapshot.dates(HEALTH);
    let Some(newest) = runs.last().copied() else {
        bail!("{} holds no {HEALTH} table: run `vitals run` first", out.root().display());
    };
    let as_of = as_of.unwrap_or(newest);
    if !runs.contains(&as_of) {
        let dates: Vec<String> = runs.iter().map(NaiveDate::to_string).collect();
        bail!("no run as of {as_of} under {}; published runs: {}", out.root().display(), dates.join(", "));
    }
    let previous = runs.iter().rev().find(|d| **d < as_of).copied();
    let ctx = outputs::register(engine, snapshot.tables()).await?;
    let now = format!("as_of = DATE '{as_of}'");
    Ok(Report {
        as_of,
        previous,
        portfolio: portfolio(&ctx, as_of, previous).await?,
        tiers: tiers(&ctx, as_of, previous).await?,
        histogram: histogram(&ctx, &now).await?,
        rf_cells: rf_cells(&ctx, &now).await?,
        dimensions: dimensions(&ctx, &now).await?,
        movers: movers(&ctx, &now).await?,
        alerts: alerts(&ctx, &now).await?,
        churn: churn(&ctx, out, as_of).await?,
    })
}

async fn portfolio(ctx: &SessionContext, as_of: NaiveDate, previous: Option<NaiveDate>) -> Result<Vec<(i64, f64)>> {
    let mut figures = Vec::new();
    for date in std::iter::once(as_of).chain(previous) {
        let rows = query(
            ctx,
            &format!("SELECT COUNT(*) AS n, AVG(health_score) AS score FROM {HEALTH} WHERE as_of = DATE '{date}'"),
        )
        .await?;
        figures.push((rows.counts("n")?[0], rows.numbers("score")?[0].unwrap_or(f64::NAN)));
    }
    Ok(figures)
}

async fn tiers(ctx: &SessionContext, as_of: NaiveDate, previous: Option<NaiveDate>) -> Result<Vec<(i64, Option<i64>)>> {
    let before = previous.map_or("NULL".to_string(), |d| format!("DATE '{d}'"));
    let rows = query(
        ctx,
        &format!(
            "SELECT health_tier, COUNT(*) FILTER (WHERE as_of = DATE '{as_of}') AS now, \
             COUNT(*) FILTER (WHERE as_of = {before}) AS before \
             FROM {HEALTH} GROUP BY health_tier"
        ),
    )
    .await?;
    let (names, now, before) = (rows.text("health_tier")?, rows.counts("now")?, rows.counts("before")?);
    Ok(TIERS
        .iter()
        .map(|tier| {
            let i = names.iter().position(|n| n == tier);
            (i.map_or(0, |i| now[i]), previous.map(|_| i.map_or(0, |i| before[i])))
        })
        .collect())
}

async fn histogram(ctx: &SessionContext, now: &str) -> Result<Vec<ScoreBin>> {
    let last = 100.0 / SCORE_BIN - 1.0;
    let rows = query(
        ctx,
        &format!(
            "SELECT LEAST(FLOOR(health_score / {SCORE_BIN}), {last}) * {SCORE_BIN} AS bin_from, health_tier, \
             COUNT(*) AS customers FROM {HEALTH} WHERE {now} AND health_score IS NOT NULL \
             GROUP BY 1, 2 ORDER BY 1, 2"
        ),
    )
    .await?;
    let (from, tier, customers) = (rows.numbers("bin_from")?, rows.text("health_tier")?, rows.counts("customers")?);
    Ok(from
        .into_iter()
        .zip(tier.into_iter().zip(customers))
        .map(|(from, (tier, customers))| ScoreBin { from: from.unwrap_or(0.0), tier, customers })
        .collect())
}

async fn rf_cells(ctx: &SessionContext, now: &str) -> Result<Vec<RfCell>> {
    let rows = query(
        ctx,
        &format!(
            "SELECT r_score, f_score, COUNT(*) AS customers, AVG(monetary) AS avg_monetary FROM {HEALTH} \
             WHERE {now} AND r_score IS NOT NULL AND f_score IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2"
        ),
    )
    .await?;
    let (r, f, n, m) =
        (rows.counts("r_score")?, rows.counts("f_score")?, rows.counts("customers")?, rows.numbers("avg_monetary")?);
    Ok((0..r.len()).map(|i| RfCell { r: r[i], f: f[i], customers: n[i], avg_monetary: m[i].unwrap_or(0.0) }).collect())
}

async fn dimensions(ctx: &SessionContext, now: &str) -> Result<Vec<Vec<Option<f64>>>> {
    let averages: Vec<String> = DIMENSIONS.iter().map(|d| format!("AVG(dim_{d}) AS {d}")).collect();
    let rows = query(
        ctx,
        &format!("SELECT health_tier, {} FROM {HEALTH} WHERE {now} GROUP BY health_tier", averages.join(", ")),
    )
    .await?;
    let names = rows.text("health_tier")?;
    let columns = DIMENSIONS.iter().map(|d| rows.numbers(d)).collect::<Result<Vec<_>>>()?;
    Ok(TIERS
        .iter()
        .map(|tier| {
            let i = names.iter().position(|n| n == tier);
            columns.iter().map(|c| i.and_then(|i| c[i])).collect()
        })
        .collect())
}

async fn movers(ctx: &SessionContext, now: &str) -> Result<Vec<Mover>> {
    let mut movers = Vec::new();
    for (sign, order) in [(">", "DESC"), ("<", "ASC")] {
        let rows = query(
            ctx,
            &format!(
                "SELECT customer_id, name, health_tier, previous_tier, health_score, score_delta FROM {HEALTH} WHERE {now} AND score_delta {sign} 0 \
                 ORDER BY score_delta {order}, customer_id LIMIT {MOVERS}"
            ),
        )
        .await?;
        let (ids, names, tiers, before) =
            (rows.text("customer_id")?, rows.text("name")?, rows.text("health_tier")?, rows.text("previous_tier")?);
        let (scores, deltas) = (rows.numbers("health_score")?, rows.numbers("score_delta")?);
        for i in 0..ids.len() {
            movers.push(Mover {
                customer_id: ids[i].clone(),
                name: names[i].clone(),
                tier: tiers[i].clone(),
                previous_tier: before[i].clone(),
                score: scores[i].unwrap_or(f64::NAN),
                delta: deltas[i].unwrap_or(0.0),
            });
        }
    }
    Ok(movers)
}

async fn alerts(ctx: &SessionContext, now: &str) -> Result<Vec<AlertCount>> {
    if !ctx.table_exist("alerts")? {
        return Ok(Vec::new());
    }
    let rows = query(
        ctx,
        &format!("SELECT kind, severity, COUNT(*) AS alerts FROM alerts WHERE {now} GROUP BY 1, 2 ORDER BY 1, 2"),
    )
    .await?;
    let (kinds, severities, counts) = (rows.text("kind")?, rows.text("severity")?, rows.counts("alerts")?);
    Ok(kinds
        .into_iter()
        .zip(severities.into_iter().zip(counts))
        .map(|(kind, (severity, alerts))| AlertCount { kind, severity, alerts })
        .collect())
}

async fn churn(ctx: &SessionContext, out: &OutputLayout, as_of: NaiveDate) -> Result<Churn> {
    if !ctx.table_exist("model_metrics")? {
        return Ok(Churn::Absent(no_model_reason(out, as_of)));
    }
    let rows = query(
        ctx,
        &format!(
            "SELECT scorer, metric, value FROM model_metrics WHERE as_of = DATE '{as_of}' \
             AND metric IN ('roc_auc', 'pr_auc', 'brier', 'log_loss') ORDER BY scorer DESC, metric"
        ),
    )
    .await?;
    let (scorers, names, values) = (rows.text("scorer")?, rows.text("metric")?, rows.numbers("value")?);
    let metrics: Vec<(String, String, f64)> =
        (0..scorers.len()).map(|i| (scorers[i].clone(), names[i].clone(), values[i].unwrap_or(f64::NAN))).collect();
    // Columns no partition has yet (fpr and tpr, feature, predicted_as_of) are not queried;
    // those older partitions lack read as null.
    let schema = ctx.table("model_metrics").await?.schema().clone();
    let has = |column: &str| schema.field_with_unqualified_name(column).is_ok();
    let drift = if has("feature") {
        let rows = query(
            ctx,
            &format!(
                "SELECT feature, value FROM model_metrics WHERE as_of = DATE '{as_of}' AND metric = 'psi' \
                 AND feature IS NOT NULL ORDER BY value DESC, feature"
            ),
        )
        .await?;
        let (features, values) = (rows.text("feature")?, rows.numbers("value")?);
        features.into_iter().zip(values).map(|(f, v)| (f, v.unwrap_or(f64::NAN))).collect()
    } else {
        Vec::new()
    };
    if metrics.is_empty() && drift.is_empty() {
        return Ok(Churn::Absent(no_model_reason(out, as_of)));
    }
    let realized_from = if has("predicted_as_of") {
        let rows = query(
            ctx,
            &format!(
                "SELECT DISTINCT CAST(predicted_as_of AS VARCHAR) AS predicted FROM model_metrics \
                 WHERE as_of = DATE '{as_of}' AND scorer = 'realized' AND predicted_as_of IS NOT NULL"
            ),
        )
        .await?;
        rows.text("predicted")?.into_iter().next()
    } else {
        None
    };
    let curve = |metric: &str, x: &str, y: &str| {
        format!(
            "SELECT scorer, {x} AS x, {y} AS y FROM model_metrics WHERE as_of = DATE '{as_of}' \
             AND metric = '{metric}' AND {x} IS NOT NULL AND {y} IS NOT NULL ORDER BY scorer DESC, bin"
        )
    };
    let points = |rows: Rows| -> Result<Vec<(String, f64, f64)>> {
        let (scorers, x, y) = (rows.text("scorer")?, rows.numbers("x")?, rows.numbers("y")?);
        Ok((0..scorers.len()).map(|i| (scorers[i].clone(), x[i].unwrap_or(0.0), y[i].unwrap_or(0.0))).collect())
    };
    let roc = if has("fpr") { points(query(ctx, &curve("roc_point", "fpr", "tpr")).await?)? } else { Vec::new() };
    let calibration = points(query(ctx, &curve("calibration", "mean_predicted", "observed_rate")).await?)?;
    Ok(Churn::Validated { metrics, roc, calibration, realized_from, drift })
}

/// Why a run has no validated churn model, from its manifest.
fn no_model_reason(out: &OutputLayout, as_of: NaiveDate) -> String {
    let manifest = Manifest::read(&out.manifest_file(as_of));
    match manifest.map(|m| m.churn) {
        Ok(churn) if churn.status == "reused" => SAVED_MODEL.to_string(),
        Ok(churn) if churn.status == "trained" => {
            "The churn model was trained, but the history did not allow testing it on a later date.".to_string()
        }
        Ok(churn) if churn.status == "disabled" => "Churn scoring is switched off in the pipeline file.".to_string(),
        Ok(churn) => format!(
            "No churn model was trained for this run: {}.",
            churn.reason.unwrap_or_else(|| "not enough history".to_string())
        ),
        Err(_) => "No churn model validation was published for this run.".to_string(),
    }
}
