//! The ingest lane (polars): each export in, typed bronze Parquet and reject records out.
//!
//! For every source the accounting holds: rows read = rows accepted + rows rejected. The
//! lane hands its results to the rest of the run only as Parquet files.

mod lines;
mod read;
mod validate;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::{Pipeline, SourceConfig};

pub use validate::RECORD;

/// What ingest did with one export: the manifest's record of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceReport {
    pub source: String,
    pub path: PathBuf,
    pub size_bytes: u64,
    pub sha256: String,
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    /// The commonest reasons values were refused, with how many values each.
    #[serde(default)]
    pub top_reasons: Vec<(String, u64)>,
    /// The source's data-quality gate.
    #[serde(default)]
    pub max_reject_ratio: f64,
    pub seconds: f64,
}

impl SourceReport {
    /// Rejected rows / rows read (0 for an empty export).
    pub fn reject_ratio(&self) -> f64 {
        if self.rows_read == 0 {
            0.0
        } else {
            self.rows_rejected as f64 / self.rows_read as f64
        }
    }
}

/// One or more sources refused more rows than their `max_reject_ratio` allows.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct QualityGate(String);

/// Stops the run when a source's share of rejected rows is above its gate, naming the
/// source, the counts and the commonest reasons.
pub fn check_quality(pipeline: &Pipeline, reports: &[SourceReport]) -> std::result::Result<(), QualityGate> {
    let failed: Vec<String> = reports
        .iter()
        .filter(|r| r.reject_ratio() > r.max_reject_ratio)
        .map(|r| {
            let reasons: Vec<String> = r.top_reasons.iter().map(|(why, n)| format!("{why} ({n} values)")).collect();
            format!(
                "source {} refused {} of {} rows ({:.1} %), above its max_reject_ratio {} ({:.1} %); commonest reasons: {}",
                r.source,
                r.rows_rejected,
                r.rows_read,
                100.0 * r.reject_ratio(),
                r.max_reject_ratio,
                100.0 * r.max_reject_ratio,
                reasons.join("; ")
            )
        })
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    Err(QualityGate(format!(
        "data-quality gate: {}. Nothing was published. Fix the export (or its column mapping) in {}, \
         or raise [sources.<name>] max_reject_ratio if this share of bad rows is expected",
        failed.join(". "),
        pipeline.file.display()
    )))
}

/// The outcome of ingesting every source of a pipeline.
pub struct Ingested {
    pub reports: Vec<SourceReport>,
}

/// Reads every source of a pipeline, writes each one's bronze Parquet to the path
/// `bronze_file(source)` gives, and the reject records of all of them to `rejects_file`.
pub fn ingest_all(
    pipeline: &Pipeline,
    as_of: NaiveDate,
    bronze_file: impl Fn(&str) -> PathBuf,
    rejects_file: &Path,
) -> Result<Ingested> {
    let mut reports = Vec::new();
    let mut rejects: Vec<LazyFrame> = Vec::new();
    for cfg in &pipeline.sources {
        let (report, source_rejects) = ingest_source(cfg, &pipeline.file, &bronze_file(cfg.name()))?;
        reports.push(report);
        rejects.push(source_rejects.lazy());
    }
    let mut all = concat(rejects, UnionArgs::default())?
        .with_column(lit(as_of).cast(DataType::Date).alias("as_of"))
        .select([
            col("as_of"),
            col("source"),
            col("file"),
            col("line"),
            col("column"),
            col("field"),
            col("raw_value"),
            col("reason"),
        ])
        .collect()?;
    write_parquet(&mut all, rejects_file)?;
    Ok(Ingested { reports })
}

/// Ingests one export: returns its report and its reject records (with file and line).
pub fn ingest_source(cfg: &SourceConfig, pipeline: &Path, bronze: &Path) -> Result<(SourceReport, DataFrame)> {
    let started = Instant::now();
    let export = read::load(cfg, pipeline)?;
    let frame = read::frame(&export.bytes, &export.path, cfg)?;
    let header: Vec<String> = frame.get_column_names().iter().map(|c| c.to_string()).collect();
    let mapped = validate::resolve_columns(cfg, &header, &export.path, pipeline)?;
    let rows_read = frame.height() as u64;
    let checked = validate::check(frame, cfg, &mapped)
        .with_context(|| format!("source {}: checking rows of {}", cfg.name(), export.path.display()))?;
    let mut accepted = checked.accepted;
    write_parquet(&mut accepted, bronze)?;

    let records: Vec<u32> = checked.rejects.column(RECORD)?.idx()?.into_no_null_iter().collect();
    let line_numbers = lines::record_lines(&export.bytes, cfg.format, &records);
    let rows_rejected = {
        let mut distinct = records.clone();
        distinct.dedup();
        distinct.len() as u64
    };
    let file = export.path.display().to_string();
    let mut rejects = checked.rejects;
    let lines: Vec<i64> = line_numbers.iter().map(|&l| l as i64).collect();
    rejects.with_column(Column::new("line".into(), lines))?;
    let rejects = rejects.lazy().with_columns([lit(cfg.name()).alias("source"), lit(file).alias("file")]).collect()?;

    let report = SourceReport {
        source: cfg.name().to_string(),
        path: export.path.clone(),
        size_bytes: export.size,
        sha256: export.sha256,
        rows_read,
        rows_accepted: accepted.height() as u64,
        rows_rejected,
        top_reasons: commonest_reasons(&rejects)?,
        max_reject_ratio: cfg.max_reject_ratio,
        seconds: started.elapsed().as_secs_f64(),
    };
    debug_assert_eq!(report.rows_read, report.rows_accepted + report.rows_rejected);
    Ok((report, rejects))
}

/// Checks that an export can be read and parsed and that its columns match the source's
/// mapping, reading only the start of the file; returns the export's column count.
pub fn check_columns(cfg: &SourceConfig, pipeline: &Path) -> Result<usize> {
    let head = read::head(cfg, pipeline)?;
    let frame = read::frame(&head, &cfg.path, cfg)?;
    let header: Vec<String> = frame.get_column_names().iter().map(|c| c.to_string()).collect();
    validate::resolve_columns(cfg, &header, &cfg.path, pipeline)?;
    Ok(header.len())
}

/// The three commonest `field: reason` pairs among reject records, most frequent first.
fn commonest_reasons(rejects: &DataFrame) -> Result<Vec<(String, u64)>> {
    let mut counts: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    let (fields, reasons) = (rejects.column("field")?.str()?, rejects.column("reason")?.str()?);
    for (field, reason) in fields.iter().zip(reasons.iter()) {
        *counts.entry(format!("{}: {}", field.unwrap_or("?"), reason.unwrap_or("?"))).or_default() += 1;
    }
    let mut counts: Vec<(String, u64)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts.truncate(3);
    Ok(counts)
}

/// Writes a frame as zstd-compressed Parquet with full statistics.
fn write_parquet(df: &mut DataFrame, path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    ParquetWriter::new(file)
        .with_compression(ParquetCompression::Zstd(None))
        .with_statistics(StatisticsOptions::full())
        .finish(df)
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    Ok(())
}
