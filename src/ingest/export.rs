//! Reading one CSV or NDJSON export a chunk at a time: bytes off disk, checksum, character
//! decoding, and cuts at record boundaries, so that no export is ever held whole.
//!
//! A chunk ends at a line break outside quotes (CSV) or at any line break (NDJSON): a
//! newline byte never occurs inside a multi-byte UTF-8 or GBK character, so every chunk
//! decodes on its own. Each chunk knows the line it starts on, for error messages and for
//! the line numbers of rejected rows. Every file-level problem (missing file, wrong
//! encoding, empty file) becomes an error that names the file, where in it, and the fix.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

use crate::config::{Encoding, Format, SourceConfig};

/// How many bytes of an export are read at a time: large enough that parsing runs on every
/// core, small enough that sources ingesting side by side stay within memory.
pub const CHUNK_BYTES: usize = 16 << 20;

/// A run of whole records of an export, as UTF-8 text.
pub struct Chunk {
    pub text: Vec<u8>,
    /// The 1-based line of the file the chunk's first byte is on.
    pub first_line: u64,
}

/// An export being read chunk by chunk.
pub struct Export<'a> {
    cfg: &'a SourceConfig,
    pipeline: &'a Path,
    file: File,
    hasher: Sha256,
    size: u64,
    /// Raw bytes read but not yet handed out (the start of an unfinished record).
    pending: Vec<u8>,
    /// Lines before the first pending byte.
    lines_before: u64,
    at_start: bool,
    done: bool,
    chunk_bytes: usize,
}

impl<'a> Export<'a> {
    pub fn open(cfg: &'a SourceConfig, pipeline: &'a Path) -> Result<Export<'a>> {
        let file = File::open(&cfg.path).with_context(|| cannot_read(cfg, pipeline))?;
        Ok(Export {
            cfg,
            pipeline,
            file,
            hasher: Sha256::new(),
            size: 0,
            pending: Vec::new(),
            lines_before: 0,
            at_start: true,
            done: false,
            chunk_bytes: CHUNK_BYTES,
        })
    }

    /// Reads chunks of about `bytes` bytes instead (tests cut small files into many chunks).
    pub fn with_chunk_bytes(mut self, bytes: usize) -> Self {
        self.chunk_bytes = bytes.max(1);
        self
    }

    /// The next chunk of whole records, or None at the end of the file.
    pub fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        if self.done && self.pending.is_empty() {
            return Ok(None);
        }
        loop {
            if !self.done {
                let had = self.pending.len();
                let n = (&mut self.file)
                    .take(self.chunk_bytes as u64)
                    .read_to_end(&mut self.pending)
                    .with_context(|| cannot_read(self.cfg, self.pipeline))?;
                self.hasher.update(&self.pending[had..]);
                self.size += n as u64;
                self.done = n < self.chunk_bytes;
            }
            if self.at_start && self.cfg.encoding == Encoding::Utf8 && self.pending.starts_with(b"\xEF\xBB\xBF") {
                self.pending.drain(..3);
            }
            let cut = match self.done {
                true => Some(self.pending.len()),
                false => record_end(&self.pending, self.cfg.format == Format::Csv),
            };
            // A record longer than a block: read on until it ends.
            let Some(cut) = cut else { continue };
            let raw: Vec<u8> = self.pending.drain(..cut).collect();
            let first_line = self.lines_before + 1;
            self.lines_before += memchr::memchr_iter(b'\n', &raw).count() as u64;
            if self.at_start && self.done && raw.iter().all(|b| b.is_ascii_whitespace()) {
                bail!(
                    "source {}: export file {} is empty (not even a header row); re-export it, or remove [sources.{}] from {}",
                    self.cfg.name(),
                    self.cfg.path.display(),
                    self.cfg.name(),
                    self.pipeline.display()
                );
            }
            // Line ends of a single CR (old Mac exports) would read as one endless line.
            if self.at_start && memchr::memchr(b'\n', &raw).is_none() && memchr::memchr(b'\r', &raw).is_some() {
                bail!(
                    "source {}: export file {} ends its lines with a carriage return alone (CR, as old Mac \
                     programs wrote them); convert it to LF or CRLF line ends (e.g. `tr '\\r' '\\n'`) and rerun",
                    self.cfg.name(),
                    self.cfg.path.display()
                );
            }
            self.at_start = false;
            let text = decode(raw, self.cfg, self.pipeline, first_line)?;
            return Ok(Some(Chunk { text, first_line }));
        }
    }

    /// The export's size and SHA-256, once every chunk has been read.
    pub fn identity(self) -> (u64, String) {
        (self.size, hex::encode(self.hasher.finalize()))
    }
}

/// Just past the last line break of `bytes` that ends a record: outside double quotes
/// for CSV (a doubled quote inside a quoted field toggles twice, so it stays inside).
fn record_end(bytes: &[u8], csv: bool) -> Option<usize> {
    if !csv {
        return memchr::memrchr(b'\n', bytes).map(|i| i + 1);
    }
    let mut in_quotes = false;
    let mut end = None;
    for i in memchr::memchr2_iter(b'"', b'\n', bytes) {
        match bytes[i] {
            b'"' => in_quotes = !in_quotes,
            _ if !in_quotes => end = Some(i + 1),
            _ => {}
        }
    }
    end
}

/// The end of the first record of CSV text (the header line), just past its line break.
pub fn first_record_end(text: &[u8]) -> usize {
    let mut in_quotes = false;
    for i in memchr::memchr2_iter(b'"', b'\n', text) {
        match text[i] {
            b'"' => in_quotes = !in_quotes,
            _ if !in_quotes => return i + 1,
            _ => {}
        }
    }
    text.len()
}

fn decode(raw: Vec<u8>, cfg: &SourceConfig, pipeline: &Path, first_line: u64) -> Result<Vec<u8>> {
    match cfg.encoding {
        Encoding::Utf8 => {
            if let Err(e) = std::str::from_utf8(&raw) {
                let (line, column) = position(&raw, e.valid_up_to(), first_line);
                bail!(
                    "source {}: export file {} is not valid UTF-8 (line {line}, byte {column} of the line); \
                     if it was saved by a Chinese-locale system or Excel, set encoding = \"gbk\" in [sources.{}] of {}",
                    cfg.name(),
                    cfg.path.display(),
                    cfg.name(),
                    pipeline.display()
                );
            }
            Ok(raw)
        }
        Encoding::Gbk => {
            // GBK decodes most bytes without error, UTF-8 included; but Chinese GBK text is
            // almost never valid UTF-8, so many non-ASCII characters that read as UTF-8 mean
            // the export is UTF-8.
            if let Ok(utf8) = std::str::from_utf8(&raw) {
                if utf8.chars().filter(|c| !c.is_ascii()).count() >= 8 {
                    let at = utf8.find(|c: char| !c.is_ascii()).unwrap_or(0);
                    let (line, _) = position(&raw, at, first_line);
                    bail!(
                        "source {}: export file {} is declared GBK but is UTF-8 (from line {line} its non-ASCII \
                         text reads as UTF-8, which GBK text almost never does); set encoding = \"utf-8\" in [sources.{}] of {}",
                        cfg.name(),
                        cfg.path.display(),
                        cfg.name(),
                        pipeline.display()
                    );
                }
            }
            let (text, had_errors) = encoding_rs::GBK.decode_without_bom_handling(&raw);
            if had_errors {
                let at = text.find('\u{FFFD}').unwrap_or(0);
                let (line, column) = position(text.as_bytes(), at, first_line);
                bail!(
                    "source {}: export file {} is not valid GBK (line {line}, byte {column} of the line); \
                     if it is UTF-8, set encoding = \"utf-8\" in [sources.{}] of {}",
                    cfg.name(),
                    cfg.path.display(),
                    cfg.name(),
                    pipeline.display()
                );
            }
            Ok(text.into_owned().into_bytes())
        }
    }
}

pub fn cannot_read(cfg: &SourceConfig, pipeline: &Path) -> String {
    format!(
        "source {}: cannot read export file {}: check `path` in [sources.{}] of {}",
        cfg.name(),
        cfg.path.display(),
        cfg.name(),
        pipeline.display()
    )
}

/// How much of a CSV or NDJSON export a header check reads.
const HEAD_BYTES: usize = 1 << 20;

/// The start of an export as UTF-8 text: a CSV's header line, or the complete NDJSON
/// records in its first MiB. Enough to check the column mapping without reading a large
/// export.
pub fn head(cfg: &SourceConfig, pipeline: &Path) -> Result<Vec<u8>> {
    let mut export = Export::open(cfg, pipeline)?.with_chunk_bytes(HEAD_BYTES);
    let text = export.next_chunk()?.map(|c| c.text).unwrap_or_default();
    Ok(match cfg.format {
        Format::Csv => text[..first_record_end(&text)].to_vec(),
        _ => text,
    })
}

/// 1-based line and byte-in-line of a byte offset of a chunk starting on `first_line`.
fn position(text: &[u8], offset: usize, first_line: u64) -> (u64, usize) {
    let before = &text[..offset];
    let line = first_line + memchr::memchr_iter(b'\n', before).count() as u64;
    let column = offset - before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_counts_lines_and_bytes_from_one() {
        let text = b"ab\ncde\nf";
        assert_eq!(position(text, 0, 1), (1, 1));
        assert_eq!(position(text, 4, 1), (2, 2));
        assert_eq!(position(text, 7, 10), (12, 1));
    }

    #[test]
    fn csv_records_end_outside_quotes_only() {
        assert_eq!(record_end(b"a,\"x\ny\"\nb,c", true), Some(8));
        assert_eq!(record_end(b"a,\"x\ny", true), None);
        assert_eq!(record_end(b"a,\"say \"\"hi\"\"\"\nb", true), Some(15));
        assert_eq!(record_end(b"{\"a\":1}\n{\"a\"", false), Some(8));
        assert_eq!(first_record_end(b"\"h\nx\",b\n1,2\n"), 8);
        assert_eq!(first_record_end(b"only,a,header"), 13);
    }
}
