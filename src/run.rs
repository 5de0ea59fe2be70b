//! The nightly run: ingest → transform → publish, for one pipeline and one as-of date.
//!
//! This module only sequences the lanes and keeps the books (timings, row counts); each
//! lane owns its own work. Nothing is published unless every stage succeeded.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressStyle};

use crate::canonical;
use crate::config::Pipeline;
use crate::ingest;
use crate::publish::manifest::{Manifest, ScoringReport, TableReport};
use crate::publish::Staging;
use crate::transform;

/// Where and when a run happens, after command-line overrides.
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub as_of: NaiveDate,
    pub out: PathBuf,
    pub progress: bool,
}

impl RunSettings {
    /// Command line first, then the pipeline file; as_of falls back to today.
    pub fn resolve(
        pipeline: &Pipeline,
        as_of: Option<NaiveDate>,
        out: Option<PathBuf>,
        progress: bool,
    ) -> Result<Self> {
        let out = out.or_else(|| pipeline.out.clone()).with_context(|| {
            format!(
                "no output directory: pass --out DIR or set [run] out in {}",
                pipeline.file.display()
            )
        })?;
        let as_of = as_of
            .or(pipeline.as_of)
            .unwrap_or_else(|| chrono::Local::now().date_naive());
        Ok(RunSettings {
            as_of,
            out,
            progress,
        })
    }
}

/// Name of the rejects output table.
pub const REJECTS: &str = "rejects";

/// Runs a pipeline end to end and returns the manifest it published.
pub fn run(pipeline: &Pipeline, settings: &RunSettings) -> Result<Manifest> {
    let bar = if settings.progress {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("valid template"),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let mut stage_seconds = BTreeMap::new();
    let as_of = settings.as_of;
    let staging = Staging::begin(&settings.out, as_of)?;

    bar.set_message("ingest: reading and checking exports");
    let started = Instant::now();
    let ingested = ingest::ingest_all(
        pipeline,
        as_of,
        |s| staging.bronze_file(s),
        &staging.table_file(REJECTS),
    )?;
    stage_seconds.insert("ingest".to_string(), started.elapsed().as_secs_f64());
    for report in &ingested.reports {
        tracing::info!(
            source = report.source,
            read = report.rows_read,
            accepted = report.rows_accepted,
            rejected = report.rows_rejected,
            "ingested"
        );
    }

    bar.set_message("transform: running SQL models");
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let transformed =
        runtime.block_on(transform::run(pipeline, as_of, |s| staging.bronze_file(s)))?;
    stage_seconds.insert("transform".to_string(), started.elapsed().as_secs_f64());

    bar.set_message("publish: writing Parquet");
    let started = Instant::now();
    let mut reports = BTreeMap::new();
    for table in &transformed.tables {
        let rows = staging.write_table(&table.name, table.schema.clone(), &table.batches)?;
        reports.insert(
            table.name.clone(),
            table_report(settings, &table.name, rows),
        );
    }
    reports.insert(
        REJECTS.to_string(),
        table_report(settings, REJECTS, ingested.reject_records),
    );
    stage_seconds.insert("publish".to_string(), started.elapsed().as_secs_f64());

    let mut partitions: Vec<String> = reports.keys().cloned().collect();
    partitions.extend(
        pipeline
            .sources
            .iter()
            .map(|s| format!("bronze/{}", s.name())),
    );
    let present: Vec<&str> = pipeline.sources.iter().map(|s| s.name()).collect();
    let manifest = Manifest {
        vitals_version: env!("CARGO_PKG_VERSION").to_string(),
        pipeline: pipeline.file.clone(),
        as_of,
        inputs: ingested.reports,
        absent_sources: canonical::source_names()
            .into_iter()
            .filter(|s| !present.contains(s))
            .map(String::from)
            .collect(),
        tables: reports,
        scoring: scoring_report(pipeline, transformed.customers_with_data)?,
        stage_seconds,
    };
    staging.commit(&partitions, &manifest)?;
    bar.finish_and_clear();
    Ok(manifest)
}

fn scoring_report(
    pipeline: &Pipeline,
    customers_with_data: BTreeMap<String, u64>,
) -> Result<ScoringReport> {
    let weights = &pipeline.scoring.dimension_weights;
    let dimensions_without_data = weights
        .iter()
        .filter(|(d, w)| *w > 0.0 && customers_with_data.get(*d).is_some_and(|n| *n == 0))
        .map(|(d, _)| d.to_string())
        .collect::<Vec<_>>();
    for d in &dimensions_without_data {
        tracing::warn!(
            dimension = d,
            "no customer has data for this dimension; it is left out of every score"
        );
    }
    Ok(ScoringReport {
        weighting: serde_json::to_value(&pipeline.scoring.weighting)?,
        dimension_weights: weights.iter().map(|(d, w)| (d.to_string(), *w)).collect(),
        customers_with_data,
        dimensions_without_data,
    })
}

fn table_report(settings: &RunSettings, table: &str, rows: u64) -> TableReport {
    TableReport {
        rows,
        path: settings
            .out
            .join(table)
            .join(format!("as_of={}", settings.as_of)),
    }
}
