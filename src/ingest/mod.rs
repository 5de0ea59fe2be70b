//! The ingest lane (polars): each export in, typed bronze rows and reject records out.
//!
//! An export is read, decoded, parsed, typed, checked and written a chunk at a time (see
//! [`export`]), never held whole, and sources ingest side by side. For every source the
//! accounting holds: rows read = rows accepted + rows rejected. The lane hands its results
//! on only as tables written through the sink it is given: `bronze/<source>` with the
//! accepted rows, and one table of reject records per source.

mod arrow;
mod export;
mod lines;
mod parse;
mod validate;
mod workbook;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use datafusion::arrow::array::{ArrayRef, Date32Array, Int64Array, RecordBatch, StringArray};
use polars::prelude::*;

use crate::canonical;
use crate::config::{Format, Pipeline, SourceConfig};
use crate::layout::OutputLayout;
use crate::manifest::{SourceReport, Unmapped};
use crate::table::{TableKind, TableSink, TableWriter, Written};

/// One or more sources refused more rows than their `max_reject_ratio` allows.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct QualityGate(String);

/// Stops the run when a source's share of rejected rows is above its gate (naming the
/// source, the counts and the commonest reasons), when it read fewer rows than its
/// `min_rows`, or fewer than `max_row_drop` allows against `previous` (the reports of the
/// previous run, with its date), or when its newest event lies more than `max_age_days`
/// before `as_of`. Returns what is worth a warning: an export near that age, a row count
/// that moved more than `warn_row_change`, an export byte-identical to the previous one.
pub fn check_quality(
    pipeline: &Pipeline,
    as_of: NaiveDate,
    reports: &[SourceReport],
    previous: Option<(NaiveDate, &[SourceReport])>,
) -> std::result::Result<Vec<String>, QualityGate> {
    let mut volume: Vec<String> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    for report in reports {
        let Some(cfg) = pipeline.source(&report.source) else { continue };
        let event = cfg.source.event_date;
        let age = report.newest_event.map(|newest| (newest, (as_of - newest).num_days()));
        match (age, cfg.max_age_days, cfg.warn_age_days) {
            (Some((newest, days)), Some(max), _) if days > i64::from(max) => volume.push(format!(
                "source {}: its newest {event} is {newest}, {days} days before the run date {as_of}, more than its \
                 max_age_days {max} (has the export stopped updating?)",
                report.source
            )),
            (None, Some(max), _) => volume.push(format!(
                "source {}: no accepted row has a {event}, so its age cannot be checked against max_age_days {max}",
                report.source
            )),
            (Some((newest, days)), _, Some(warn)) if days > i64::from(warn) => warnings.push(format!(
                "source {}: its newest {event} is {newest}, {days} days before the run date (warn_age_days {warn})",
                report.source
            )),
            _ => {}
        }
        let earlier = previous.and_then(|(d, p)| p.iter().find(|r| r.source == report.source).map(|r| (d, r)));
        if let Some((date, earlier)) = earlier {
            if earlier.sha256 == report.sha256 {
                warnings.push(format!(
                    "source {}: {} is byte-identical to the export of the run as of {date} (did the export job run?)",
                    report.source,
                    cfg.path.display()
                ));
            }
            let change = report.rows_read as f64 / earlier.rows_read.max(1) as f64 - 1.0;
            if earlier.rows_read > 0 && change.abs() > cfg.warn_row_change {
                warnings.push(format!(
                    "source {}: {} rows, {:+.0} % against {} in the run as of {date} (warn_row_change {})",
                    report.source,
                    report.rows_read,
                    100.0 * change,
                    earlier.rows_read,
                    cfg.warn_row_change
                ));
            }
        }
        warnings.extend(unmapped_values(cfg, &report.unmapped));
        if report.rows_read < cfg.min_rows {
            volume.push(format!(
                "source {} read {} rows from {}, fewer than its min_rows {} (an export with a header and no rows?)",
                report.source,
                report.rows_read,
                cfg.path.display(),
                cfg.min_rows
            ));
            continue;
        }
        if let Some((date, before)) = earlier.map(|(d, r)| (d, r.rows_read)).filter(|(_, n)| *n > 0) {
            let drop = 1.0 - report.rows_read as f64 / before as f64;
            if drop > cfg.max_row_drop {
                volume.push(format!(
                    "source {} read {} rows from {}, against {before} in the run as of {date} ({:.0} % fewer, more than its max_row_drop {})",
                    report.source,
                    report.rows_read,
                    cfg.path.display(),
                    100.0 * drop,
                    cfg.max_row_drop
                ));
            }
        }
    }
    if !volume.is_empty() {
        return Err(QualityGate(format!(
            "data-quality gate: {}. Nothing was published. Check that the export is complete and current; if this \
             is expected, set [sources.<name>] min_rows, max_row_drop or max_age_days in {}",
            volume.join(". "),
            pipeline.file.display()
        )));
    }
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
        return Ok(warnings);
    }
    Err(QualityGate(format!(
        "data-quality gate: {}. Nothing was published. Fix the export (or its column mapping) in {}, \
         or raise [sources.<name>] max_reject_ratio if this share of bad rows is expected",
        failed.join(". "),
        pipeline.file.display()
    )))
}

/// The outcome of ingesting every source of a pipeline, in canonical source order.
pub struct Ingested {
    pub reports: Vec<SourceReport>,
    /// Each source's bronze table.
    pub bronze: Vec<Written>,
    /// Each source's reject records, a table each.
    pub rejects: Vec<Written>,
}

/// The table a source's reject records are written to (the runner gathers them into the
/// published `rejects`).
pub fn rejects_table(source: &str) -> String {
    format!("rejects_{source}")
}

pub use arrow::rejects_schema;

/// Ingests every source of a pipeline, as many side by side as there are cores (largest
/// export first), writing through `sink`. The first error stops the sources not started.
pub fn ingest_all(pipeline: &Pipeline, as_of: NaiveDate, sink: &dyn TableSink) -> Result<Ingested> {
    let sources = &pipeline.sources;
    let mut order: Vec<usize> = (0..sources.len()).collect();
    let size = |i: &usize| std::fs::metadata(&sources[*i].path).map_or(0, |m| m.len());
    order.sort_by_key(|i| std::cmp::Reverse(size(i)));
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(sources.len()).max(1);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let done: Vec<Mutex<Option<Result<Source>>>> = sources.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::SeqCst);
                if k >= order.len() || failed.load(Ordering::SeqCst) {
                    break;
                }
                let i = order[k];
                let outcome = ingest_source(&sources[i], &pipeline.file, as_of, sink);
                failed.fetch_or(outcome.is_err(), Ordering::SeqCst);
                *done[i].lock().expect("not poisoned") = Some(outcome);
            });
        }
    });
    let mut ingested = Ingested { reports: Vec::new(), bronze: Vec::new(), rejects: Vec::new() };
    for slot in done {
        if let Some(outcome) = slot.into_inner().expect("not poisoned") {
            let source = outcome?;
            ingested.reports.push(source.report);
            ingested.bronze.push(source.bronze);
            ingested.rejects.push(source.rejects);
        }
    }
    Ok(ingested)
}

/// What to tell about the values of `cfg`'s categorical fields that its value maps do not
/// name (`unmapped`, from a run's report): one line per field, leaving out values the maps
/// name now.
pub fn unmapped_values(cfg: &SourceConfig, unmapped: &BTreeMap<String, Unmapped>) -> Vec<String> {
    let mut lines = Vec::new();
    for (field, found) in unmapped {
        let Some(map) = cfg.values.get(field.as_str()) else { continue };
        let still: Vec<(&String, &u64)> = found.values.iter().filter(|(v, _)| !map.resolve(v).1).collect();
        let named: u64 = found.values.iter().filter(|(v, _)| map.resolve(v).1).map(|(_, n)| n).sum();
        if still.is_empty() && named == found.rows {
            continue;
        }
        let mut shown: Vec<(&String, &u64)> = still.clone();
        shown.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        let list: Vec<String> = shown.iter().take(5).map(|(v, n)| format!("\"{v}\" ({n})")).collect();
        let known = cfg.source.field(field).map(|f| f.values.join(", ")).unwrap_or_default();
        let example = shown.first().map(|(v, _)| format!(", e.g. \"{v}\" = \"<value>\"")).unwrap_or_default();
        lines.push(format!(
            "source {src}: {rows} rows have a {field} the value map does not name: {list}{more}; the models \
             compare {field} with {known}, so these rows count as none of them. Map them in \
             [sources.{src}.values.{field}]{example}",
            src = cfg.name(),
            rows = found.rows - named,
            list = list.join(", "),
            more = if still.len() > 5 { ", …" } else { "" },
        ));
    }
    lines
}

/// One source ingested: its report, its bronze table and its reject records.
pub struct Source {
    pub report: SourceReport,
    pub bronze: Written,
    pub rejects: Written,
}

/// What one source's chunks add up to.
struct Tally {
    records: u64,
    accepted: u64,
    rejected: u64,
    reasons: HashMap<String, u64>,
    /// The newest event date accepted so far (Arrow day number).
    newest: Option<i32>,
    /// Categorical field → rows of values no map names, and those values' rows (up to
    /// [`UNMAPPED_KEPT`] distinct ones: a free-text column must not fill the memory).
    unmapped: BTreeMap<&'static str, (u64, HashMap<String, u64>)>,
}

const UNMAPPED_KEPT: usize = 1000;

impl Tally {
    fn unmapped(&mut self, field: &'static str, value: String, rows: u64) {
        let (total, values) = self.unmapped.entry(field).or_default();
        *total += rows;
        if values.len() < UNMAPPED_KEPT || values.contains_key(&value) {
            *values.entry(value).or_default() += rows;
        }
    }

    /// The commonest unmapped values of each field, for the report.
    fn unmapped_report(&self) -> BTreeMap<String, Unmapped> {
        let report = |(total, values): &(u64, HashMap<String, u64>)| {
            let mut commonest: Vec<(&String, &u64)> = values.iter().collect();
            commonest.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
            let values = commonest.into_iter().take(Unmapped::SHOWN).map(|(v, n)| (v.clone(), *n)).collect();
            Unmapped { rows: *total, values }
        };
        self.unmapped.iter().map(|(field, seen)| (field.to_string(), report(seen))).collect()
    }
}

/// Ingests one export: its bronze table and its reject records, through `sink`.
pub fn ingest_source(cfg: &SourceConfig, pipeline: &Path, as_of: NaiveDate, sink: &dyn TableSink) -> Result<Source> {
    ingest_in_chunks(cfg, pipeline, as_of, sink, export::CHUNK_BYTES)
}

/// [`ingest_source`], reading CSV and NDJSON exports `chunk_bytes` at a time.
fn ingest_in_chunks(
    cfg: &SourceConfig,
    pipeline: &Path,
    as_of: NaiveDate,
    sink: &dyn TableSink,
    chunk_bytes: usize,
) -> Result<Source> {
    let started = Instant::now();
    let schema = cfg.source.arrow_schema();
    let mut bronze = sink.create(&OutputLayout::bronze_table(cfg.name()), schema.clone(), TableKind::Published)?;
    let mut rejects = Rejects::new(cfg, as_of, sink)?;
    let mut tally = Tally {
        records: 0,
        accepted: 0,
        rejected: 0,
        reasons: HashMap::new(),
        newest: None,
        unmapped: BTreeMap::new(),
    };
    let mut mapped: Option<Vec<(&'static canonical::Field, String)>> = None;
    let mut seen: Option<validate::Seen> = None;
    let (size, sha256) = {
        let mut chunk = |frame: DataFrame, place: Place, estimated_rows: usize| -> Result<()> {
            let header: Vec<String> = frame.get_column_names().iter().map(|c| c.to_string()).collect();
            let mapped = match &mapped {
                Some(m) => m,
                None => mapped.insert(validate::resolve_columns(cfg, &header, &cfg.path, pipeline)?),
            };
            let frame = with_missing_columns(frame, mapped)?;
            let height = frame.height() as u64;
            let seen = seen.get_or_insert_with(|| validate::Seen::new(cfg, estimated_rows));
            let may_hold_nul = match place {
                Place::Text(bytes, _) => memchr::memchr(0, bytes).is_some(),
                Place::Rows | Place::SheetRows { .. } => true,
            };
            let checked = validate::check(frame, cfg, mapped, tally.records as IdxSize, seen, may_hold_nul)
                .with_context(|| format!("source {}: checking rows of {}", cfg.name(), cfg.path.display()))?;
            bronze.write(&arrow::to_batch(&checked.accepted, &schema)?)?;
            let newest = checked.accepted.column(cfg.source.event_date)?.cast(&DataType::Int32)?.i32()?.max();
            tally.newest = tally.newest.max(newest);
            for (field, value, rows) in checked.unmapped {
                tally.unmapped(field, value, rows);
            }
            tally.accepted += checked.accepted.height() as u64;
            tally.rejected += rejects.write(&checked.rejects, tally.records, place, &mut tally.reasons)?;
            tally.records += height;
            Ok(())
        };
        match cfg.format {
            Format::Parquet => {
                let height = parse::parquet_height(cfg, pipeline)?;
                let mut offset = 0;
                loop {
                    chunk(parse::parquet_rows(cfg, pipeline, offset)?, Place::Rows, height)?;
                    offset += parse::PARQUET_ROWS;
                    if offset >= height {
                        break;
                    }
                }
                checksum(cfg, pipeline)?
            }
            Format::Csv | Format::Ndjson => {
                let mut export = export::Export::open(cfg, pipeline)?.with_chunk_bytes(chunk_bytes);
                let total = std::fs::metadata(&cfg.path).map_or(0, |m| m.len()) as usize;
                let mut names: Option<Vec<String>> = None;
                while let Some(piece) = export.next_chunk()? {
                    let (mut data, mut first_line) = (&piece.text[..], piece.first_line);
                    if cfg.format == Format::Csv && names.is_none() {
                        let end = export::first_record_end(data);
                        names = Some(parse::header(&data[..end], cfg)?);
                        first_line += memchr::memchr_iter(b'\n', &data[..end]).count() as u64;
                        data = &data[end..];
                    }
                    let frame = match &names {
                        Some(names) => parse::csv(data, names, cfg, first_line)?,
                        None => parse::ndjson(data, cfg, first_line)?,
                    };
                    // Room for the whole export's unique values, judged from its first chunk.
                    let estimated = frame.height().max(1) * total / piece.text.len().max(1) + 1;
                    chunk(frame, Place::Text(data, first_line), estimated)?;
                }
                export.identity()
            }
            Format::Xlsx => {
                workbook::read(cfg, pipeline, workbook::SHEET_ROWS, |block, estimated| {
                    chunk(block.frame, Place::SheetRows { sheet: &block.sheet, rows: &block.rows }, estimated)
                })?;
                checksum(cfg, pipeline)?
            }
        }
    };
    let written = bronze.finish()?;
    let unmapped = tally.unmapped_report();
    let mut reasons: Vec<(String, u64)> = tally.reasons.into_iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    reasons.truncate(3);
    let report = SourceReport {
        source: cfg.name().to_string(),
        path: cfg.path.clone(),
        size_bytes: size,
        sha256,
        rows_read: tally.records,
        rows_accepted: written.rows,
        rows_rejected: tally.rejected,
        top_reasons: reasons,
        max_reject_ratio: cfg.max_reject_ratio,
        newest_event: tally.newest.map(canonical::from_epoch_days),
        unmapped,
        seconds: started.elapsed().as_secs_f64(),
    };
    debug_assert_eq!(report.rows_accepted, tally.accepted);
    debug_assert_eq!(report.rows_read, report.rows_accepted + report.rows_rejected);
    Ok(Source { report, bronze: written, rejects: rejects.finish()? })
}

/// The size and SHA-256 of a file read whole in one pass (a Parquet export, whose rows are
/// read by row ranges).
fn checksum(cfg: &SourceConfig, pipeline: &Path) -> Result<(u64, String)> {
    use sha2::{Digest, Sha256};
    let mut file = std::fs::File::open(&cfg.path).with_context(|| export::cannot_read(cfg, pipeline))?;
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut file, &mut hasher).with_context(|| export::cannot_read(cfg, pipeline))?;
    Ok((size, hex::encode(hasher.finalize())))
}

/// The frame with a null text column for each mapped column an NDJSON chunk lacks (its
/// records simply have no such key).
fn with_missing_columns(mut frame: DataFrame, mapped: &[(&'static canonical::Field, String)]) -> Result<DataFrame> {
    for (_, column) in mapped {
        if frame.column(column).is_err() {
            let height = frame.height();
            frame.with_column(Column::full_null(column.as_str().into(), height, &DataType::String))?;
        }
    }
    Ok(frame)
}

/// Where a chunk's records are in their export, for the line numbers of its rejects.
#[derive(Clone, Copy)]
enum Place<'a> {
    /// CSV or NDJSON text, starting on this line.
    Text(&'a [u8], u64),
    /// Parquet: a record's line is its 1-based row number.
    Rows,
    /// A worksheet: its name, and each record's row number on it.
    SheetRows { sheet: &'a str, rows: &'a [u32] },
}

/// One source's reject records on their way to their table.
struct Rejects<'a> {
    cfg: &'a SourceConfig,
    as_of: i32,
    writer: Box<dyn TableWriter + 'a>,
}

impl<'a> Rejects<'a> {
    fn new(cfg: &'a SourceConfig, as_of: NaiveDate, sink: &'a dyn TableSink) -> Result<Rejects<'a>> {
        let writer = sink.create(&rejects_table(cfg.name()), rejects_schema(), TableKind::Work)?;
        Ok(Rejects { cfg, as_of: canonical::epoch_days(as_of), writer })
    }

    /// Writes a chunk's reject records (with the lines they start on) and counts their
    /// reasons; returns how many rows they refuse. `first_record` is the chunk's first
    /// data-row number, `place` where its records are in the export.
    fn write(
        &mut self,
        rejects: &DataFrame,
        first_record: u64,
        place: Place,
        reasons: &mut HashMap<String, u64>,
    ) -> Result<u64> {
        if rejects.height() == 0 {
            return Ok(0);
        }
        let records: Vec<u32> = rejects.column(validate::RECORD)?.idx()?.into_no_null_iter().collect();
        let local = || records.iter().map(|r| (r - first_record as u32) as usize);
        let lines: Vec<i64> = match place {
            Place::Text(text, first_line) => {
                let local: Vec<u32> = local().map(|r| r as u32).collect();
                lines::record_lines(text, self.cfg.format == Format::Csv, first_line, &local)
                    .into_iter()
                    .map(|l| l as i64)
                    .collect()
            }
            Place::Rows => records.iter().map(|&r| i64::from(r) + 1).collect(),
            Place::SheetRows { rows, .. } => local().map(|r| i64::from(rows[r])).collect(),
        };
        let sheet = match place {
            Place::SheetRows { sheet, .. } => Some(sheet),
            _ => None,
        };
        let text = |name: &str| -> Result<Vec<Option<String>>> {
            Ok(rejects.column(name)?.str()?.iter().map(|v| v.map(String::from)).collect())
        };
        let (fields, reasons_of) = (text("field")?, text("reason")?);
        for (field, reason) in fields.iter().zip(&reasons_of) {
            let key = format!("{}: {}", field.as_deref().unwrap_or("?"), reason.as_deref().unwrap_or("?"));
            *reasons.entry(key).or_default() += 1;
        }
        let n = records.len();
        let file = self.cfg.path.display().to_string();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Date32Array::from(vec![self.as_of; n])),
            Arc::new(StringArray::from(vec![self.cfg.name(); n])),
            Arc::new(StringArray::from(vec![file.as_str(); n])),
            Arc::new(Int64Array::from(lines)),
            Arc::new(StringArray::from(text("column")?)),
            Arc::new(StringArray::from(fields)),
            Arc::new(StringArray::from(text("raw_value")?)),
            Arc::new(StringArray::from(reasons_of)),
            Arc::new(StringArray::from(vec![sheet; n])),
        ];
        self.writer.write(&RecordBatch::try_new(rejects_schema(), columns)?)?;
        let mut distinct = records;
        distinct.dedup();
        Ok(distinct.len() as u64)
    }

    fn finish(self) -> Result<Written> {
        self.writer.finish()
    }
}

/// Checks that an export can be read and parsed and that its columns match the source's
/// mapping, reading only the start of the file; returns the export's column count.
pub fn check_columns(cfg: &SourceConfig, pipeline: &Path) -> Result<usize> {
    let header: Vec<String> = match cfg.format {
        Format::Parquet => {
            parse::parquet_rows(cfg, pipeline, 0)?.get_column_names().iter().map(|c| c.to_string()).collect()
        }
        Format::Csv => parse::header(&export::head(cfg, pipeline)?, cfg)?,
        Format::Xlsx => workbook::header(cfg, pipeline)?,
        Format::Ndjson => parse::ndjson(&export::head(cfg, pipeline)?, cfg, 1)?
            .get_column_names()
            .iter()
            .map(|c| c.to_string())
            .collect(),
    };
    validate::resolve_columns(cfg, &header, &cfg.path, pipeline)?;
    Ok(header.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::SchemaRef;
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use std::collections::BTreeMap;

    /// A sink that keeps every table in memory.
    #[derive(Default)]
    struct Memory(Mutex<BTreeMap<String, Vec<RecordBatch>>>);

    struct Into<'a>(&'a Memory, String, u64);

    impl TableSink for Memory {
        fn create(&self, table: &str, _: SchemaRef, _: TableKind) -> Result<Box<dyn TableWriter + '_>> {
            self.0.lock().unwrap().insert(table.to_string(), Vec::new());
            Ok(Box::new(Into(self, table.to_string(), 0)))
        }

        fn adopt(&self, _: &str, _: &std::path::Path, _: TableKind) -> Result<Written> {
            unreachable!("ingest writes every table itself")
        }

        fn spill_dir(&self) -> std::path::PathBuf {
            std::env::temp_dir()
        }
    }

    impl TableWriter for Into<'_> {
        fn write(&mut self, batch: &RecordBatch) -> Result<()> {
            self.2 += batch.num_rows() as u64;
            self.0 .0.lock().unwrap().get_mut(&self.1).unwrap().push(batch.clone());
            Ok(())
        }

        fn finish(self: Box<Self>) -> Result<Written> {
            Ok(Written { name: self.1.clone(), path: Default::default(), rows: self.2 })
        }
    }

    impl Memory {
        fn text(&self, table: &str) -> String {
            pretty_format_batches(&self.0.lock().unwrap()[table]).unwrap().to_string()
        }
    }

    #[test]
    fn chunks_of_any_size_give_the_same_rows_rejects_and_lines() {
        let dir = tempfile::tempdir().unwrap();
        let mut csv = String::from("invoice_id,customer_id,invoice_date,amount,product_line\n");
        for i in 1..=60 {
            let id = if i == 52 { "INV3".to_string() } else { format!("INV{i}") };
            let date = if i == 25 { "2026-13-01" } else { "2026-01-02" };
            let line = if i == 10 { "\"cloud\nservices\"" } else { "cloud" };
            csv.push_str(&format!("{id},C{},{date},{i}.50,{line}\n", i % 7));
        }
        std::fs::write(dir.path().join("invoices.csv"), &csv).unwrap();
        let text = format!("[sources.invoices]\npath = \"invoices.csv\"\nformat = \"csv\"\n");
        let pipeline = crate::config::Pipeline::parse(&text, &dir.path().join("p.toml")).unwrap();
        let cfg = &pipeline.sources[0];
        let as_of = NaiveDate::from_ymd_opt(2026, 6, 30).unwrap();
        let whole = Memory::default();
        let one = ingest_in_chunks(cfg, &pipeline.file, as_of, &whole, 1 << 20).unwrap();
        assert_eq!((one.report.rows_read, one.report.rows_accepted, one.report.rows_rejected), (60, 58, 2));
        let rejects = whole.text(&rejects_table("invoices"));
        // Data row 25 starts on line 27 (the header, and row 10's field spans two lines);
        // row 52 repeats row 3's id, 50 lines and several chunks later.
        assert!(rejects.contains("| 27   | invoice_date"), "{rejects}");
        assert!(rejects.contains("| 54   | invoice_id") && rejects.contains("duplicate invoice_id"), "{rejects}");
        for bytes in [40, 97, 256] {
            let chunked = Memory::default();
            let many = ingest_in_chunks(cfg, &pipeline.file, as_of, &chunked, bytes).unwrap();
            assert_eq!(many.report.rows_accepted, one.report.rows_accepted, "chunks of {bytes} bytes");
            assert_eq!(many.report.sha256, one.report.sha256);
            for table in [OutputLayout::bronze_table("invoices"), rejects_table("invoices")] {
                assert_eq!(chunked.text(&table), whole.text(&table), "{table} in chunks of {bytes} bytes");
            }
        }
    }
}
