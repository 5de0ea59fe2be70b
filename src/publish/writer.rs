//! The one Parquet writer. Every table vitals writes goes through it, bronze included:
//! text as plain UTF-8 strings whatever layout the engine that made it chose (string views,
//! large strings), zstd compression, page statistics. So a column keeps one type in every
//! partition and every reader sees the same format; the columns are encoded side by side
//! ([`super::encoder`]). A published partition's file leaves out its partition column
//! (`as_of`): the folder name says it, as Hive, Spark, DataFusion, polars, DuckDB and
//! pyarrow expect.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::Date32Type;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use super::encoder::Encoder;
use crate::canonical;
use crate::layout::PARTITION_COLUMN;
use crate::table::{Batches, Table, TableKind, TableWriter, Written};

/// A table being written to one Parquet file. With `atomic`, it is written beside its
/// path and renamed into place when finished, so readers find the old file or the new one.
/// With `partition`, the file is that date's partition of a published table: the rows'
/// `as_of` must be that date, and the column is left out of the file.
pub struct ParquetFile {
    name: String,
    path: PathBuf,
    writing: PathBuf,
    schema: SchemaRef,
    partition: Option<(usize, i32)>,
    writer: Encoder,
    rows: u64,
}

impl ParquetFile {
    pub fn create(
        name: &str,
        path: &Path,
        schema: SchemaRef,
        atomic: bool,
        partition: Option<NaiveDate>,
        kind: TableKind,
    ) -> Result<ParquetFile> {
        let dir = path.parent().context("a table file lives in a folder")?;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let writing = if atomic { temporary(path) } else { path.to_path_buf() };
        let file = File::create(&writing).with_context(|| format!("cannot create {}", writing.display()))?;
        let partition = partition.and_then(|date| {
            let column = schema.index_of(PARTITION_COLUMN).ok()?;
            Some((column, canonical::epoch_days(date)))
        });
        let mut schema = plain_schema(&schema);
        if let Some((column, _)) = partition {
            let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
            fields.remove(column);
            schema = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
        }
        let props = WriterProperties::builder()
            .set_compression(compression(kind))
            .set_statistics_enabled(EnabledStatistics::Page)
            .build();
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(props))
            .and_then(Encoder::new)
            .with_context(|| format!("cannot write {}", writing.display()))?;
        Ok(ParquetFile {
            name: name.to_string(),
            path: path.to_path_buf(),
            writing,
            schema,
            partition,
            writer,
            rows: 0,
        })
    }
}

impl TableWriter for ParquetFile {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut columns = batch
            .columns()
            .iter()
            .map(|c| if needs_plain(c.data_type()) { cast(c, &DataType::Utf8) } else { Ok(c.clone()) })
            .collect::<std::result::Result<Vec<ArrayRef>, _>>()?;
        if let Some((column, day)) = self.partition {
            let dates = cast(&columns.remove(column), &DataType::Date32)?;
            let dates = dates.as_primitive::<Date32Type>();
            if let Some(i) = (0..dates.len()).find(|&i| dates.is_null(i) || dates.value(i) != day) {
                let found = if dates.is_null(i) {
                    "null".to_string()
                } else {
                    canonical::from_epoch_days(dates.value(i)).to_string()
                };
                bail!(
                    "table {}: a row has {PARTITION_COLUMN} {found}, but it is written to the partition of {}; \
                     a model publishing this table must give every row the run's as_of",
                    self.name,
                    canonical::from_epoch_days(day)
                );
            }
        }
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

/// Tables that are kept (published, bronze, saved facts) in zstd, small for the nights
/// they are kept; a run's working tables, written and read back within the run, in LZ4,
/// which costs less CPU to write and to read.
fn compression(kind: TableKind) -> Compression {
    match kind {
        TableKind::Published | TableKind::Saved => Compression::ZSTD(ZstdLevel::default()),
        TableKind::Work => Compression::LZ4_RAW,
    }
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

/// The columns of a Parquet file, from its footer.
pub fn schema(path: &Path) -> Result<SchemaRef> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .with_context(|| format!("{} is not a readable Parquet file", path.display()))?;
    Ok(reader.schema().clone())
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

/// How many rows of a Parquet file hold a value in `column` (0 when it has no such column),
/// reading that column alone.
pub fn values_in(path: &Path, column: &str) -> Result<u64> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .with_context(|| format!("{} is not a readable Parquet file", path.display()))?;
    let Ok(index) = reader.schema().index_of(column) else {
        return Ok(0);
    };
    let only = ProjectionMask::roots(reader.parquet_schema(), [index]);
    let mut values = 0;
    for batch in reader.with_projection(only).build()? {
        let batch = batch.with_context(|| format!("reading {}", path.display()))?;
        values += (batch.num_rows() - batch.column(0).null_count()) as u64;
    }
    Ok(values)
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

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Date32Array, StringArray};

    use super::*;

    fn batch(days: &[i32]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("customer_id", DataType::Utf8, false),
            Field::new(PARTITION_COLUMN, DataType::Date32, true),
        ]));
        let ids = StringArray::from_iter_values(days.iter().map(|d| format!("C{d}")));
        RecordBatch::try_new(schema, vec![Arc::new(ids), Arc::new(Date32Array::from(days.to_vec()))]).unwrap()
    }

    #[test]
    fn a_partition_file_leaves_out_as_of_and_refuses_rows_of_another_date() {
        let dir = tempfile::tempdir().unwrap();
        let date = NaiveDate::from_ymd_opt(2026, 6, 30).unwrap();
        let day = canonical::epoch_days(date);
        let layout = crate::layout::OutputLayout::new(dir.path().to_path_buf());
        let path = layout.table_file("t", date);
        let mut file: Box<dyn TableWriter> = Box::new(
            ParquetFile::create("t", &path, batch(&[]).schema(), false, Some(date), TableKind::Published).unwrap(),
        );
        file.write(&batch(&[day, day])).unwrap();
        file.finish().unwrap();
        let table = read_table("t", &path).unwrap();
        assert_eq!(table.schema.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>(), ["customer_id"]);
        assert_eq!(table.batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 2);

        let other = layout.partition_dir("t", date).join("other.parquet");
        let mut file =
            ParquetFile::create("t", &other, batch(&[]).schema(), false, Some(date), TableKind::Published).unwrap();
        let err = file.write(&batch(&[day, day - 1])).unwrap_err().to_string();
        assert!(err.contains("as_of 2026-06-29") && err.contains("partition of 2026-06-30"), "{err}");
    }

    #[test]
    fn kept_tables_are_zstd_and_working_tables_lz4() {
        let dir = tempfile::tempdir().unwrap();
        for (kind, expected) in [
            (TableKind::Published, Compression::ZSTD(ZstdLevel::default())),
            (TableKind::Saved, Compression::ZSTD(ZstdLevel::default())),
            (TableKind::Work, Compression::LZ4_RAW),
        ] {
            let path = dir.path().join(format!("{kind:?}.parquet"));
            let mut file = ParquetFile::create("t", &path, batch(&[]).schema(), false, None, kind).unwrap();
            file.write(&batch(&[1, 2])).unwrap();
            Box::new(file).finish().unwrap();
            let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
            let column = reader.metadata().row_group(0).column(0).compression();
            // The footer keeps the codec, not its level.
            let same = matches!((column, expected), (Compression::ZSTD(_), Compression::ZSTD(_))) || column == expected;
            assert!(same, "{kind:?}: {column:?}");
        }
    }
}
