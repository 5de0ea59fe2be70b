//! Parsing a chunk of an export into a polars frame of the export's own columns. CSV
//! columns are read as text so that typing (and rejecting) happens in one place, with the
//! raw value at hand; NDJSON and Parquet keep the types their files carry.

use std::fs::File;
use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use polars::prelude::*;

use super::validate::BEYOND_HEADER;
use crate::config::{Format, SourceConfig};

/// The column names of a CSV header line.
pub fn header(line: &[u8], cfg: &SourceConfig) -> Result<Vec<String>> {
    let frame = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .map_parse_options(|p| p.with_separator(cfg.delimiter).with_quote_char(Some(b'"')))
        .into_reader_with_file_handle(Cursor::new(line))
        .finish()
        .map_err(|e| unparseable(cfg, 1, &e))?;
    Ok(frame.get_column_names().iter().map(|c| c.to_string()).collect())
}

/// A chunk of CSV records (no header) as a frame of text columns named `names`.
/// A row with more fields than the header has its first extra field in
/// [`BEYOND_HEADER`], which validation rejects it for.
pub fn csv(data: &[u8], names: &[String], cfg: &SourceConfig, first_line: u64) -> Result<DataFrame> {
    let schema: Schema = names
        .iter()
        .map(String::as_str)
        .chain([BEYOND_HEADER])
        .map(|n| Field::new(n.into(), DataType::String))
        .collect();
    if data.iter().all(u8::is_ascii_whitespace) {
        return Ok(DataFrame::empty_with_schema(&schema));
    }
    CsvReadOptions::default()
        .with_has_header(false)
        .with_schema(Some(Arc::new(schema)))
        .map_parse_options(|p| {
            p.with_separator(cfg.delimiter).with_quote_char(Some(b'"')).with_truncate_ragged_lines(true)
        })
        .into_reader_with_file_handle(Cursor::new(data))
        .finish()
        .map_err(|e| unparseable(cfg, first_line, &e))
}

/// A chunk of NDJSON records as a frame of the keys they have, types inferred.
pub fn ndjson(data: &[u8], cfg: &SourceConfig, first_line: u64) -> Result<DataFrame> {
    if data.iter().all(u8::is_ascii_whitespace) {
        return Ok(DataFrame::empty());
    }
    JsonReader::new(Cursor::new(data))
        .with_json_format(JsonFormat::JsonLines)
        .infer_schema_len(None)
        .finish()
        .map_err(|e| unparseable(cfg, first_line, &e))
}

/// How many rows of a Parquet export are typed and checked at a time.
pub const PARQUET_ROWS: usize = 1 << 20;

/// Rows `offset..offset + PARQUET_ROWS` of a Parquet export.
pub fn parquet_rows(cfg: &SourceConfig, pipeline: &Path, offset: usize) -> Result<DataFrame> {
    ParquetReader::new(open(cfg, pipeline)?)
        .with_slice(Some((offset, PARQUET_ROWS)))
        .finish()
        .map_err(|e| unparseable(cfg, offset as u64 + 1, &e))
}

/// The number of rows of a Parquet export.
pub fn parquet_height(cfg: &SourceConfig, pipeline: &Path) -> Result<usize> {
    ParquetReader::new(open(cfg, pipeline)?).num_rows().map_err(|e| unparseable(cfg, 1, &e))
}

fn open(cfg: &SourceConfig, pipeline: &Path) -> Result<File> {
    File::open(&cfg.path).with_context(|| super::export::cannot_read(cfg, pipeline))
}

fn unparseable(cfg: &SourceConfig, line: u64, e: &PolarsError) -> anyhow::Error {
    let (at, fix) = match cfg.format {
        Format::Parquet => (format!("from row {line}"), "check `format`".to_string()),
        _ => (format!("in the records from line {line}"), "check `format` and `delimiter`".to_string()),
    };
    anyhow::anyhow!(
        "source {}: cannot parse export file {} as {:?} ({at}): {e}; {fix} in [sources.{}]",
        cfg.name(),
        cfg.path.display(),
        cfg.format,
        cfg.name()
    )
}
