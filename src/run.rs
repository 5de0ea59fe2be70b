//! The nightly run: ingest → transform → model → publish, for one pipeline and one as-of
//! date, holding the output directory's lock throughout.
//!
//! This module only sequences the lanes and keeps the books (timings, row counts, exit
//! codes); each lane owns its own work. Nothing is published unless every stage succeeded.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{DateTime, Local, NaiveDate};
use indicatif::{ProgressBar, ProgressStyle};

use crate::canonical::{self, HEALTH};
use crate::config::Pipeline;
use crate::ingest;
use crate::model::{self, ModelChoice};
use crate::publish::manifest::{Manifest, ScoringReport, TableReport};
use crate::publish::{self, lock, Staging};
use crate::transform;

/// Where and when a run happens, after command-line overrides.
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub as_of: NaiveDate,
    pub out: PathBuf,
    pub progress: bool,
    /// Which churn model scores the run.
    pub model: ModelChoice,
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
            format!("no output directory: pass --out DIR or set [run] out in {}", pipeline.file.display())
        })?;
        let as_of = as_of.or(pipeline.as_of).unwrap_or_else(|| chrono::Local::now().date_naive());
        Ok(RunSettings { as_of, out, progress, model: ModelChoice::Pipeline })
    }
}

/// Name of the rejects output table.
pub const REJECTS: &str = "rejects";
/// The file a failed run leaves next to the manifests, and a good run removes.
const FAILURE: &str = "failure.json";

/// Process exit codes, for schedulers.
pub mod exit {
    pub const OK: i32 = 0;
    pub const ERROR: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const DATA_QUALITY_GATE: i32 = 3;
    pub const OUTPUT_BUSY: i32 = 4;
}

/// The exit code an error of a run stands for.
pub fn exit_code(error: &anyhow::Error) -> i32 {
    if error.downcast_ref::<ingest::QualityGate>().is_some() {
        exit::DATA_QUALITY_GATE
    } else if error.downcast_ref::<lock::Busy>().is_some() {
        exit::OUTPUT_BUSY
    } else {
        exit::ERROR
    }
}

/// Runs a pipeline end to end, alone on its output directory, and returns the manifest it
/// published. A failed run publishes nothing and leaves `runs/<as_of>/failure.json`.
pub fn run(pipeline: &Pipeline, settings: &RunSettings) -> Result<Manifest> {
    let started_at = chrono::Local::now();
    let who = format!("pipeline {} as of {}", pipeline.file.display(), settings.as_of);
    let _lock = lock::acquire(&settings.out, &who)?;
    let failure = settings.out.join("runs").join(settings.as_of.to_string()).join(FAILURE);
    match publish_run(pipeline, settings, started_at) {
        Ok(manifest) => {
            if failure.exists() {
                std::fs::remove_file(&failure).with_context(|| format!("removing {}", failure.display()))?;
            }
            Ok(manifest)
        }
        Err(error) => {
            let record = serde_json::json!({
                "pipeline": pipeline.file,
                "as_of": settings.as_of,
                "started_at": started_at.to_rfc3339(),
                "failed_at": chrono::Local::now().to_rfc3339(),
                "exit_code": exit_code(&error),
                "error": format!("{error:#}"),
            });
            if let Err(e) = publish::write_atomically(&failure, &serde_json::to_vec_pretty(&record)?) {
                tracing::warn!("could not record the failure in {}: {e:#}", failure.display());
            }
            Err(error)
        }
    }
}

fn publish_run(pipeline: &Pipeline, settings: &RunSettings, started_at: DateTime<Local>) -> Result<Manifest> {
    let bar = if settings.progress { ProgressBar::new_spinner() } else { ProgressBar::hidden() };
    bar.set_style(ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("valid template"));
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let mut stage_seconds = BTreeMap::new();
    let as_of = settings.as_of;
    let staging = Staging::begin(&settings.out, as_of)?;
    let previous = previous_health(&settings.out, as_of);

    bar.set_message("ingest: reading and checking exports");
    let started = Instant::now();
    let rejects = staging.work_file(REJECTS);
    let ingested = ingest::ingest_all(pipeline, as_of, |s| staging.bronze_file(s), &rejects)?;
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
    ingest::check_quality(pipeline, &ingested.reports)?;

    bar.set_message("transform: running SQL models");
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let bronze = |s: &str| staging.bronze_file(s);
    let inputs = transform::Inputs { bronze_file: &bronze, previous: previous.clone() };
    let scoring_churn = pipeline.churn.enabled || matches!(settings.model, ModelChoice::File(_));
    let also: &[&str] = if scoring_churn { &[model::FEATURES] } else { &[] };
    let mut transformed = runtime.block_on(transform::run(pipeline, as_of, &inputs, also))?;
    stage_seconds.insert("transform".to_string(), started.elapsed().as_secs_f64());

    bar.set_message("model: churn risk");
    let started = Instant::now();
    let lane = model::Lane { pipeline, as_of, runtime: &runtime, bronze_file: &bronze, out: &settings.out };
    let churn = match transformed.also.first() {
        Some(features) => model::run(&lane, &settings.model, features)?,
        None => model::Outcome::disabled(&pipeline.churn),
    };
    if let Some(health) = transformed.published.iter_mut().find(|t| t.name == HEALTH) {
        *health = model::attach(health, &churn.scores)?;
    }
    transformed
        .published
        .push(model::metrics_table(as_of, churn.artifact.as_ref().and_then(|a| a.validation.as_ref()))?);
    stage_seconds.insert("model".to_string(), started.elapsed().as_secs_f64());

    bar.set_message("publish: writing Parquet");
    let started = Instant::now();
    let mut reports = BTreeMap::new();
    for table in &transformed.published {
        let rows = staging.write_table(&table.name, table.schema.clone(), &table.batches)?;
        reports.insert(table.name.clone(), table_report(settings, &table.name, rows));
    }
    // The models after the model lane (alerts) read the staged, scored customer_health.
    let (after, after_seconds) =
        runtime.block_on(transform::run_after_model(pipeline, as_of, &inputs, &staging.table_file(HEALTH)))?;
    let mut model_seconds = transformed.model_seconds;
    model_seconds.extend(after_seconds);
    let mut alerts = BTreeMap::new();
    for table in &after {
        let rows = staging.write_table(&table.name, table.schema.clone(), &table.batches)?;
        reports.insert(table.name.clone(), table_report(settings, &table.name, rows));
        if table.name == ALERTS {
            alerts = count_by(table, "kind")?;
        }
    }
    let rows = staging.import_table(REJECTS, &rejects)?;
    reports.insert(REJECTS.to_string(), table_report(settings, REJECTS, rows));
    if let Some(artifact) = &churn.artifact {
        staging.write_file(model::MODELS, model::MODEL_FILE, &model::to_json(artifact)?)?;
    }
    stage_seconds.insert("publish".to_string(), started.elapsed().as_secs_f64());

    let mut partitions: Vec<String> = reports.keys().cloned().collect();
    if churn.artifact.is_some() {
        partitions.push(model::MODELS.to_string());
    }
    partitions.extend(pipeline.sources.iter().map(|s| format!("bronze/{}", s.name())));
    let present: Vec<&str> = pipeline.sources.iter().map(|s| s.name()).collect();
    let manifest = Manifest {
        vitals_version: env!("CARGO_PKG_VERSION").to_string(),
        pipeline: pipeline.file.clone(),
        as_of,
        previous_as_of: previous.map(|(d, _)| d),
        started_at: started_at.to_rfc3339(),
        finished_at: chrono::Local::now().to_rfc3339(),
        inputs: ingested.reports,
        absent_sources: canonical::source_names()
            .into_iter()
            .filter(|s| !present.contains(s))
            .map(String::from)
            .collect(),
        tables: reports,
        scoring: scoring_report(pipeline, transformed.customers_with_data)?,
        churn: churn.report,
        alerts,
        stage_seconds,
        model_seconds,
    };
    staging.commit(&partitions, &manifest)?;
    bar.finish_and_clear();
    Ok(manifest)
}

/// The newest customer_health published before `as_of`: its date and its file.
pub fn previous_health(out: &std::path::Path, as_of: NaiveDate) -> Option<(NaiveDate, PathBuf)> {
    publish::partitions(out, HEALTH)
        .into_iter()
        .rfind(|d| *d < as_of)
        .map(|d| (d, publish::published_file(out, HEALTH, d)))
}

/// The alerts table, counted by kind in the manifest.
const ALERTS: &str = "alerts";

/// Rows of `table` per value of its text column `column`.
fn count_by(table: &transform::Table, column: &str) -> Result<BTreeMap<String, u64>> {
    let mut counts = BTreeMap::new();
    for batch in &table.batches {
        let values = batch.column_by_name(column).with_context(|| format!("{} has no column {column}", table.name))?;
        for value in transform::rows::text_column(values)? {
            *counts.entry(value).or_insert(0) += 1;
        }
    }
    Ok(counts)
}

fn scoring_report(pipeline: &Pipeline, customers_with_data: BTreeMap<String, u64>) -> Result<ScoringReport> {
    let weights = &pipeline.scoring.dimension_weights;
    let dimensions_without_data = weights
        .iter()
        .filter(|(d, w)| *w > 0.0 && customers_with_data.get(*d).is_some_and(|n| *n == 0))
        .map(|(d, _)| d.to_string())
        .collect::<Vec<_>>();
    for d in &dimensions_without_data {
        tracing::warn!(dimension = d, "no customer has data for this dimension; it is left out of every score");
    }
    Ok(ScoringReport {
        weighting: serde_json::to_value(&pipeline.scoring.weighting)?,
        dimension_weights: weights.iter().map(|(d, w)| (d.to_string(), *w)).collect(),
        customers_with_data,
        dimensions_without_data,
    })
}

fn table_report(settings: &RunSettings, table: &str, rows: u64) -> TableReport {
    TableReport { rows, path: settings.out.join(table).join(format!("as_of={}", settings.as_of)) }
}
