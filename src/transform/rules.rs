//! The pipeline's settings as the small tables the SQL models read: `params` (one row),
//! `rfm_cuts`, `rfm_segment_map`, `metric_rules`, `metric_points`, `dimension_weights`,
//! `tier_playbooks` (with each tier's rank, 0 = lost … 3 = healthy), `risk_bands` and
//! `sources`. Rules stay data, so the models stay plain SQL.

use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::prelude::SessionContext;

use super::Engine;
use crate::canonical;
use crate::config::churn::LabelRule;
use crate::config::scoring::{Better, Scale};
use crate::config::{self, Pipeline};

/// Registers every rules table of a pipeline run as of `as_of` (None: several dates at
/// once, which only the fact models and `run_dates` know), and returns them by name.
pub async fn register(
    engine: &Engine,
    ctx: &SessionContext,
    pipeline: &Pipeline,
    as_of: Option<NaiveDate>,
    previous_as_of: Option<NaiveDate>,
) -> Result<Vec<(&'static str, RecordBatch)>> {
    let tables = tables(pipeline, as_of, previous_as_of)?;
    for (name, table) in &tables {
        engine.register_batch(ctx, name, table.clone()).await?;
    }
    Ok(tables)
}

fn tables(
    pipeline: &Pipeline,
    as_of: Option<NaiveDate>,
    previous_as_of: Option<NaiveDate>,
) -> Result<Vec<(&'static str, RecordBatch)>> {
    let s = &pipeline.scoring;
    let mut tables = Vec::new();
    let mut add = |name: &'static str, table: RecordBatch| tables.push((name, table));
    add("params", params(pipeline, as_of, previous_as_of)?);

    let cuts: Vec<(&str, i32, f64)> = s
        .rfm_cuts
        .iter()
        .flat_map(|(measure, cuts)| cuts.iter().enumerate().map(move |(i, c)| (*measure, i as i32 + 1, *c)))
        .collect();
    add(
        "rfm_cuts",
        batch(vec![
            text("measure", cuts.iter().map(|c| c.0)),
            ("cut_index", Arc::new(Int32Array::from_iter_values(cuts.iter().map(|c| c.1)))),
            ("cut", Arc::new(Float64Array::from_iter_values(cuts.iter().map(|c| c.2)))),
        ])?,
    );

    let score = |f: fn(&config::segments::Cell) -> u32| -> ArrayRef {
        Arc::new(Int32Array::from_iter_values(s.segments.iter().map(|c| f(c) as i32)))
    };
    add(
        "rfm_segment_map",
        batch(vec![
            ("r_score", score(|c| c.r)),
            ("f_score", score(|c| c.f)),
            ("m_score", score(|c| c.m)),
            text("rfm_segment", s.segments.iter().map(|c| c.segment.as_str())),
        ])?,
    );

    add(
        "metric_rules",
        batch(vec![
            text("metric", s.metrics.iter().map(|m| m.name.as_str())),
            text("dimension", s.metrics.iter().map(|m| m.dimension.as_str())),
            ("weight", Arc::new(Float64Array::from_iter_values(s.metrics.iter().map(|m| m.weight)))),
            text(
                "scale",
                s.metrics.iter().map(|m| match m.scale {
                    Scale::Percentile => "percentile",
                    Scale::Thresholds => "thresholds",
                }),
            ),
            (
                "higher_is_better",
                Arc::new(BooleanArray::from_iter(s.metrics.iter().map(|m| Some(m.better == Better::Higher)))),
            ),
        ])?,
    );

    let points: Vec<(&str, f64, f64)> =
        s.metrics.iter().flat_map(|m| m.points.iter().map(move |p| (m.name.as_str(), p[0], p[1]))).collect();
    add(
        "metric_points",
        batch(vec![
            text("metric", points.iter().map(|p| p.0)),
            ("value", Arc::new(Float64Array::from_iter_values(points.iter().map(|p| p.1)))),
            ("score", Arc::new(Float64Array::from_iter_values(points.iter().map(|p| p.2)))),
        ])?,
    );

    add(
        "dimension_weights",
        batch(vec![
            text("dimension", s.dimension_weights.iter().map(|d| d.0)),
            ("weight", Arc::new(Float64Array::from_iter_values(s.dimension_weights.iter().map(|d| d.1)))),
        ])?,
    );

    // Higher is healthier, so "the tier fell" reads `now < before`.
    let tier_rank = |tier: &str| canonical::TIERS.iter().rev().position(|t| *t == tier).map(|r| r as i32);
    add(
        "tier_playbooks",
        batch(vec![
            text("health_tier", s.playbooks.keys().map(String::as_str)),
            text("playbook", s.playbooks.values().map(String::as_str)),
            ("tier_rank", Arc::new(Int32Array::from_iter(s.playbooks.keys().map(|t| tier_rank(t))))),
        ])?,
    );

    let bands = pipeline.churn.bands();
    add(
        "risk_bands",
        batch(vec![
            text("risk_band", bands.iter().map(|b| b.0)),
            ("band_rank", Arc::new(Int32Array::from_iter_values(0..bands.len() as i32))),
            ("min_risk", Arc::new(Float64Array::from_iter_values(bands.iter().map(|b| b.1)))),
        ])?,
    );

    add(
        "sources",
        batch(vec![
            text("source", canonical::SOURCES.iter().map(|c| c.name)),
            (
                "present",
                Arc::new(BooleanArray::from_iter(
                    canonical::SOURCES.iter().map(|c| Some(pipeline.source(c.name).is_some())),
                )),
            ),
        ])?,
    );
    Ok(tables)
}

fn text<'a>(name: &'static str, values: impl Iterator<Item = &'a str>) -> (&'static str, ArrayRef) {
    (name, Arc::new(StringArray::from_iter_values(values)))
}

fn batch(columns: Vec<(&str, ArrayRef)>) -> Result<RecordBatch> {
    let fields: Vec<Field> =
        columns.iter().map(|(n, a)| Field::new(*n, a.data_type().clone(), a.null_count() > 0)).collect();
    let arrays = columns.into_iter().map(|(_, a)| a).collect();
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
}

/// The one-row `params` table: `as_of`, `previous_as_of` (the previous run's, null on a
/// first run), the typed settings models need (rfm_bins, tier_healthy, tier_sub_healthy,
/// lost_after_days, and the churn label: churn_horizon_days, churn_label_crm,
/// churn_label_inactivity) and every value of `[params]`.
fn params(pipeline: &Pipeline, as_of: Option<NaiveDate>, previous_as_of: Option<NaiveDate>) -> Result<RecordBatch> {
    let days = canonical::epoch_days;
    let scoring = &pipeline.scoring;
    let settings = [
        ("rfm_bins", toml::Value::Integer(scoring.rfm_bins.into())),
        ("tier_healthy", toml::Value::Float(scoring.tiers.healthy)),
        ("tier_sub_healthy", toml::Value::Float(scoring.tiers.sub_healthy)),
        ("lost_after_days", toml::Value::Integer(scoring.tiers.lost_after_days)),
        ("churn_horizon_days", toml::Value::Integer(pipeline.churn.horizon_days)),
        ("churn_label_crm", toml::Value::Boolean(pipeline.churn.label.contains(&LabelRule::Crm))),
        ("churn_label_inactivity", toml::Value::Boolean(pipeline.churn.label.contains(&LabelRule::Inactivity))),
    ];
    let mut columns: Vec<(&str, ArrayRef)> = vec![
        ("as_of", Arc::new(Date32Array::from(vec![as_of.map(days)]))),
        ("previous_as_of", Arc::new(Date32Array::from(vec![previous_as_of.map(days)]))),
    ];
    let values = pipeline.params.iter().map(|(k, v)| (k.as_str(), v)).chain(settings.iter().map(|(k, v)| (*k, v)));
    for (key, value) in values {
        let column: ArrayRef = match value {
            toml::Value::Integer(i) => Arc::new(Int64Array::from(vec![*i])),
            toml::Value::Float(f) => Arc::new(Float64Array::from(vec![*f])),
            toml::Value::Boolean(b) => Arc::new(BooleanArray::from(vec![*b])),
            toml::Value::Datetime(_) => {
                let date = config::param_date(value).with_context(|| {
                    format!("pipeline file {}: [params] {key} must be a plain date", pipeline.file.display())
                })?;
                Arc::new(Date32Array::from(vec![days(date)]))
            }
            toml::Value::String(s) => Arc::new(StringArray::from(vec![s.as_str()])),
            toml::Value::Array(_) | toml::Value::Table(_) => {
                unreachable!("refused when the pipeline is loaded")
            }
        };
        columns.push((key, column));
    }
    batch(columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::DataType;
    use std::path::Path;

    #[test]
    fn params_carry_as_of_settings_and_the_pipeline_values() {
        let text =
            "[params]\nregion = \"east\"\nstart = 2026-01-01\n[sources.invoices]\npath = \"x.csv\"\nformat = \"csv\"\n";
        let p = Pipeline::parse(text, Path::new("/p/x.toml")).unwrap();
        let b = params(&p, NaiveDate::from_ymd_opt(2026, 6, 30), None).unwrap();
        let names: Vec<String> = b.schema().fields().iter().map(|f| f.name().clone()).collect();
        for expected in [
            "as_of",
            "region",
            "start",
            "window_days",
            "rfm_bins",
            "tier_healthy",
            "lost_after_days",
            "churn_label_crm",
        ] {
            assert!(names.contains(&expected.to_string()), "{names:?}");
        }
        assert_eq!(b.num_rows(), 1);
        assert_eq!(b.column_by_name("start").unwrap().data_type(), &DataType::Date32);
    }
}
