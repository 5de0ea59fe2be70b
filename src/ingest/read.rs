//! Reading one export file: bytes off disk, checksum, character decoding, and a polars
//! frame of the export's own columns.
//!
//! Every file-level problem (missing file, wrong encoding, empty file, unparseable layout)
//! becomes an error that names the file, where in it, and what to change.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use polars::prelude::*;
use sha2::{Digest, Sha256};

use crate::config::{Encoding, Format, SourceConfig};

/// One export as read from disk: its identity for the manifest and its text as UTF-8.
pub struct Export {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
    /// CSV and NDJSON: the text as UTF-8 without a byte-order mark. Parquet: the file bytes.
    pub bytes: Vec<u8>,
}

/// Reads, checksums and decodes an export.
pub fn load(cfg: &SourceConfig, pipeline: &Path) -> Result<Export> {
    let path = cfg.path.clone();
    let raw = std::fs::read(&path).with_context(|| cannot_read(cfg, pipeline))?;
    let size = raw.len() as u64;
    let sha256 = hex::encode(Sha256::digest(&raw));
    let bytes = match cfg.format {
        Format::Parquet => raw,
        Format::Csv | Format::Ndjson => decode(raw, cfg, &path, pipeline)?,
    };
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        bail!(
            "source {}: export file {} is empty (not even a header row); re-export it, or remove [sources.{}] from {}",
            cfg.name(),
            path.display(),
            cfg.name(),
            pipeline.display()
        );
    }
    Ok(Export { path, size, sha256, bytes })
}

fn decode(raw: Vec<u8>, cfg: &SourceConfig, path: &Path, pipeline: &Path) -> Result<Vec<u8>> {
    match cfg.encoding {
        Encoding::Utf8 => {
            let mut text = raw;
            if text.starts_with(b"\xEF\xBB\xBF") {
                text.drain(..3);
            }
            if let Err(e) = std::str::from_utf8(&text) {
                let (line, column) = position(&text, e.valid_up_to());
                bail!(
                    "source {}: export file {} is not valid UTF-8 (line {line}, byte {column} of the line); \
                     if it was saved by a Chinese-locale system or Excel, set encoding = \"gbk\" in [sources.{}] of {}",
                    cfg.name(),
                    path.display(),
                    cfg.name(),
                    pipeline.display()
                );
            }
            Ok(text)
        }
        Encoding::Gbk => {
            let (text, had_errors) = encoding_rs::GBK.decode_without_bom_handling(&raw);
            if had_errors {
                let at = text.find('\u{FFFD}').unwrap_or(0);
                let (line, column) = position(text.as_bytes(), at);
                bail!(
                    "source {}: export file {} is not valid GBK (line {line}, byte {column} of the line); \
                     if it is UTF-8, set encoding = \"utf-8\" in [sources.{}] of {}",
                    cfg.name(),
                    path.display(),
                    cfg.name(),
                    pipeline.display()
                );
            }
            Ok(text.into_owned().into_bytes())
        }
    }
}

fn cannot_read(cfg: &SourceConfig, pipeline: &Path) -> String {
    format!(
        "source {}: cannot read export file {}: check `path` in [sources.{}] of {}",
        cfg.name(),
        cfg.path.display(),
        cfg.name(),
        pipeline.display()
    )
}

/// How much of a CSV or NDJSON export a header check reads.
const HEAD_BYTES: u64 = 1 << 20;

/// The start of an export as UTF-8 text (the whole file for Parquet): a CSV's header line,
/// or the complete NDJSON records in its first MiB. Enough to check the column mapping
/// without reading a large export.
pub fn head(cfg: &SourceConfig, pipeline: &Path) -> Result<Vec<u8>> {
    let path = &cfg.path;
    let cannot = || cannot_read(cfg, pipeline);
    if cfg.format == Format::Parquet {
        return std::fs::read(path).with_context(cannot);
    }
    let mut raw = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(std::fs::File::open(path).with_context(cannot)?, HEAD_BYTES),
        &mut raw,
    )
    .with_context(cannot)?;
    // A newline byte never occurs inside a multi-byte UTF-8 or GBK character, so cutting
    // at one keeps the text decodable.
    let keep = match cfg.format {
        Format::Csv => raw.iter().position(|&b| b == b'\n').map(|i| i + 1),
        _ => raw.iter().rposition(|&b| b == b'\n').map(|i| i + 1),
    };
    raw.truncate(keep.unwrap_or(raw.len()));
    decode(raw, cfg, path, pipeline)
}

/// 1-based line and byte-in-line of a byte offset.
fn position(text: &[u8], offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = offset - before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1) + 1;
    (line, column)
}

/// Parses an export into a frame of its own columns. CSV columns are read as text so that
/// typing (and rejecting) happens in one place, with the raw value at hand.
pub fn frame(bytes: &[u8], path: &Path, cfg: &SourceConfig) -> Result<DataFrame> {
    let cursor = Cursor::new(bytes);
    let parsed = match cfg.format {
        Format::Csv => CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .map_parse_options(|p| p.with_separator(cfg.delimiter).with_quote_char(Some(b'"')))
            .into_reader_with_file_handle(cursor)
            .finish(),
        Format::Ndjson => {
            JsonReader::new(cursor).with_json_format(JsonFormat::JsonLines).infer_schema_len(None).finish()
        }
        Format::Parquet => ParquetReader::new(cursor).finish(),
    };
    parsed.map_err(|e| {
        anyhow::anyhow!(
            "source {}: cannot parse export file {} as {:?}: {e}; check `format` and `delimiter` in [sources.{}]",
            cfg.name(),
            path.display(),
            cfg.format,
            cfg.name()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_counts_lines_and_bytes_from_one() {
        let text = b"ab\ncde\nf";
        assert_eq!(position(text, 0), (1, 1));
        assert_eq!(position(text, 4), (2, 2));
        assert_eq!(position(text, 7), (3, 1));
    }
}
