//! Tables as the lanes hand them on: Arrow batches in memory ([`Table`]), or written
//! through a [`TableSink`] into Parquet files whose place and format the publish lane
//! decides. A lane that writes a table only names it; it never builds a path.

use std::path::{Path, PathBuf};

use anyhow::Result;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, SchemaRef};

/// A small table in memory, with its name.
pub struct Table {
    pub name: String,
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl Table {
    pub fn rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// Batches read one after another (a table too big to hold whole beside what is built
/// from it).
pub type Batches<'a> = Box<dyn Iterator<Item = Result<RecordBatch>> + 'a>;

/// A table written to its file.
#[derive(Debug, Clone)]
pub struct Written {
    pub name: String,
    pub path: PathBuf,
    pub rows: u64,
}

/// A table as a reader registers it for SQL: its name, the folder it was found in (for
/// messages) and the files of its committed partitions.
#[derive(Debug, Clone)]
pub struct ReadableTable {
    pub name: String,
    pub folder: PathBuf,
    pub files: Vec<PathBuf>,
}

/// Whether a table written is one the run publishes, an intermediate step it keeps for
/// re-scoring, or one it throws away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    Published,
    Saved,
    Work,
}

/// Where lanes write tables: a run's staging folder (its published tables and private
/// working files), or drafts.
pub trait TableSink: Sync {
    /// Opens a writer for `table`; the file is complete once the writer is finished.
    fn create(&self, table: &str, schema: SchemaRef, kind: TableKind) -> Result<Box<dyn TableWriter + '_>>;

    /// Takes `file`, a table an earlier run wrote, as this sink's `table`: a published one
    /// is copied into place, any other is read where it is.
    fn adopt(&self, table: &str, file: &Path, kind: TableKind) -> Result<Written>;

    /// A private folder for the SQL engine to spill to while it writes here.
    fn spill_dir(&self) -> PathBuf;

    /// Writes a whole in-memory table.
    fn write(&self, table: &Table, kind: TableKind) -> Result<Written> {
        let mut writer = self.create(&table.name, table.schema.clone(), kind)?;
        for batch in &table.batches {
            writer.write(batch)?;
        }
        writer.finish()
    }
}

/// One table being written, batch after batch.
pub trait TableWriter: Send {
    fn write(&mut self, batch: &RecordBatch) -> Result<()>;
    fn finish(self: Box<Self>) -> Result<Written>;
}

/// A column as text, one string per row (empty where missing).
pub fn text_column(column: &dyn Array) -> Result<Vec<String>> {
    let text = cast(column, &DataType::Utf8)?;
    Ok(text.as_string::<i32>().iter().map(|v| v.unwrap_or_default().to_string()).collect())
}
