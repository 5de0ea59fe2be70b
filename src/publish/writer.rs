//! The one Parquet writer. Every table vitals writes goes through it, bronze included:
//! text as plain UTF-8 strings whatever layout the engine that made it chose (string views,
//! large strings), zstd compression, page statistics. So a column keeps one type in every
//! partition and every reader sees the same format.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::table::{Batches, Table, TableWriter, Written};

/// A table being written to one Parquet file. With `atomic`, it is written beside its
/// path and renamed into place when finished, so readers find the old file or the new one.
pub struct ParquetFile {
    name: String,
    path: PathBuf,
    writing: PathBuf,
    schema: SchemaRef,
    writer: ArrowWriter<File>,
    rows: u64,
}

impl ParquetFile {
    pub fn create(name: &str, path: &Path, schema: SchemaRef, atomic: bool) -> Result<ParquetFile> {
        let dir = path.parent().context("a table file lives in a folder")?;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let writing = if atomic { temporary(path) } else { path.to_path_buf() };
        let file = File::create(&writing).with_context(|| format!("cannot create {}", writing.display()))?;
        let schema = plain_schema(&schema);
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_statistics_enabled(EnabledStatistics::Page)
            .build();
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(props))
            .with_context(|| format!("cannot write {}", writing.display()))?;
        Ok(ParquetFile { name: name.to_string(), path: path.to_path_buf(), writing, schema, writer, rows: 0 })
    }
}

impl TableWriter for ParquetFile {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let columns = batch
            .columns()
            .iter()
            .map(|c| if needs_plain(c.data_type()) { cast(c, &DataType::Utf8) } else { Ok(c.clone()) })
            .collect::<std::result::Result<Vec<ArrayRef>, _>>()?;
        let batch = RecordBatch::try_new(self.schema.clone(), columns)
            .with_context(|| format!("table {}: a batch does not match the table's columns", self.name))?;
        self.writer.write(&batch).with_context(|| format!("writing {}", self.writing.display()))?;
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<Written> {
        let ParquetFile { name, path, writing, writer, rows, .. } = *self;
        writer.close().with_context(|| format!("finishing {}", writing.display()))?;
        if writing != path {
            std::fs::rename(&writing, &path).with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(Written { name, path, rows })
    }
}

/// The file a replacement is written to before it is renamed over `path`: beside it (a
/// rename within one folder is atomic) and named for this process, so two processes
/// replacing the same file never write into one temporary file.
pub fn temporary(path: &Path) -> PathBuf {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    PathBuf::from(tmp)
}

fn needs_plain(t: &DataType) -> bool {
    matches!(t, DataType::Utf8View | DataType::LargeUtf8)
}

fn plain_schema(schema: &Schema) -> SchemaRef {
    let plain = |t: &DataType| if needs_plain(t) { DataType::Utf8 } else { t.clone() };
    let fields: Vec<Field> =
        schema.fields().iter().map(|f| f.as_ref().clone().with_data_type(plain(f.data_type()))).collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// Copies the table file `from` to `to` (via a temporary file and a rename, so readers
/// find the old file or the new one): the same bytes.
pub fn copy_table(name: &str, from: &Path, to: &Path) -> Result<Written> {
    let dir = to.parent().context("a table file lives in a folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = temporary(to);
    std::fs::copy(from, &tmp).with_context(|| format!("copying {} to {}", from.display(), tmp.display()))?;
    std::fs::rename(&tmp, to).with_context(|| format!("writing {}", to.display()))?;
    Ok(Written { name: name.to_string(), path: to.to_path_buf(), rows: rows(to)? })
}

/// The row count a Parquet file's footer gives.
pub fn rows(path: &Path) -> Result<u64> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .with_context(|| format!("{} is not a readable Parquet file", path.display()))?;
    Ok(reader.metadata().file_metadata().num_rows() as u64)
}

/// A Parquet file's row count and its batches, read one at a time.
pub fn open_batches(path: &Path) -> Result<(usize, Batches<'static>)> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .with_context(|| format!("{} is not a readable Parquet file", path.display()))?;
    let rows = reader.metadata().file_metadata().num_rows() as usize;
    let name = path.display().to_string();
    let batches = reader.build()?.map(move |b| b.with_context(|| format!("reading {name}")));
    Ok((rows, Box::new(batches)))
}

/// Reads a whole Parquet file into memory (a table small enough to hold: features, scores).
pub fn read_table(name: &str, path: &Path) -> Result<Table> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .with_context(|| format!("{} is not a readable Parquet file", path.display()))?;
    let schema = reader.schema().clone();
    let batches = reader.build()?.collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(Table { name: name.to_string(), schema, batches })
}
