//! The publish lane: output tables written as Parquet under
//! `<out>/<table>/as_of=<YYYY-MM-DD>/`, first into a staging folder of the run, then
//! committed, then the run's manifest.
//!
//! Committing is crash-safe. Once every staged file is complete and on disk, a journal
//! (`COMMIT.json`, written atomically) records the run's partitions and manifest: that is
//! the commit point. Files then move into place one rename at a time, and a rename replaces
//! a file atomically, so a reader always finds each table whole, old or new. A run killed
//! before the journal leaves only staging, which the next run deletes; one killed after it
//! is finished by the next run ([`recover`]). Bronze tables follow the same path under
//! `<out>/bronze/<source>/`.

pub mod lock;
pub mod manifest;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use serde::{Deserialize, Serialize};

pub use manifest::Manifest;

/// Name of the one data file in each partition.
const PART: &str = "part-0.parquet";
const STAGING: &str = ".staging";
/// The commit point of a staged run.
const JOURNAL: &str = "COMMIT.json";

/// The staging folder of one run and where its partitions go when it is published.
pub struct Staging {
    out: PathBuf,
    root: PathBuf,
    as_of: NaiveDate,
}

/// What a committed run publishes: its partitions (table folders) and its manifest.
#[derive(Serialize, Deserialize)]
struct Journal {
    partitions: Vec<String>,
    manifest: Manifest,
}

impl Staging {
    /// Opens a fresh staging folder for a run as of `as_of` under `out`, after finishing
    /// or clearing whatever earlier runs left there. Call it holding the output's lock.
    pub fn begin(out: &Path, as_of: NaiveDate) -> Result<Staging> {
        recover(out)?;
        let root = out.join(STAGING).join(format!("as_of={as_of}"));
        std::fs::create_dir_all(&root).with_context(|| {
            format!("cannot create the staging folder {}: check that the output directory is writable", root.display())
        })?;
        Ok(Staging { out: out.to_path_buf(), root, as_of })
    }

    fn partition(&self, table: &str) -> PathBuf {
        partition(table, self.as_of)
    }

    /// Where a table's data file is staged.
    pub fn table_file(&self, table: &str) -> PathBuf {
        self.root.join(self.partition(table)).join(PART)
    }

    /// Where a source's bronze data file is staged.
    pub fn bronze_file(&self, source: &str) -> PathBuf {
        self.table_file(&format!("bronze/{source}"))
    }

    /// Writes a table's batches as zstd Parquet with statistics; returns its row count.
    pub fn write_table(&self, table: &str, schema: SchemaRef, batches: &[RecordBatch]) -> Result<u64> {
        write_parquet(&self.table_file(table), schema, batches)
    }

    /// A private working file of the run in staging, never published (another lane's
    /// output on its way to [`Staging::import_table`]).
    pub fn work_file(&self, name: &str) -> PathBuf {
        self.root.join("work").join(format!("{name}.parquet"))
    }

    /// Stages the Parquet file another lane wrote as `table`, in the publish lane's own
    /// format (plain strings, zstd, statistics), and deletes the original; returns its rows.
    pub fn import_table(&self, table: &str, from: &Path) -> Result<u64> {
        let file = File::open(from).with_context(|| format!("opening {}", from.display()))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)?;
        let schema = reader.schema().clone();
        let batches = reader.build()?.collect::<std::result::Result<Vec<_>, _>>()?;
        let rows = self.write_table(table, schema, &batches)?;
        std::fs::remove_file(from).with_context(|| format!("removing {}", from.display()))?;
        Ok(rows)
    }

    /// Writes one file (such as a model) into a staged partition of `table`.
    pub fn write_file(&self, table: &str, name: &str, bytes: &[u8]) -> Result<()> {
        let dir = self.root.join(self.partition(table));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(dir.join(name), bytes).with_context(|| format!("writing {}", dir.join(name).display()))
    }

    /// Publishes every staged partition of `tables` and then the manifest. An existing
    /// partition of the same date is replaced: a rerun of a date overwrites it.
    pub fn commit(self, tables: &[String], manifest: &Manifest) -> Result<()> {
        for table in tables {
            sync_folder(&self.root.join(self.partition(table)))?;
        }
        let journal = Journal { partitions: tables.to_vec(), manifest: manifest.clone() };
        write_atomically(&self.root.join(JOURNAL), &serde_json::to_vec_pretty(&journal)?)?;
        apply(&self.out, &self.root)
    }
}

/// Writes batches as one zstd Parquet file with page statistics; returns its row count.
/// Text is always written as plain UTF-8 strings, whatever in-memory layout the engine
/// chose, so a column keeps one type across every partition readers see.
fn write_parquet(path: &Path, schema: SchemaRef, batches: &[RecordBatch]) -> Result<u64> {
    let (schema, batches) = plain_strings(schema, batches)?;
    std::fs::create_dir_all(path.parent().expect("partition folder"))?;
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_statistics_enabled(EnabledStatistics::Page)
        .build();
    let mut writer = ArrowWriter::try_new(file, schema, Some(props))?;
    let mut rows = 0u64;
    for batch in &batches {
        writer.write(batch)?;
        rows += batch.num_rows() as u64;
    }
    writer.close().with_context(|| format!("finishing {}", path.display()))?;
    Ok(rows)
}

/// The folder under the output directory `vitals report` writes to (not a table).
pub const REPORTS: &str = "reports";

/// Folder of the drafts: tables `vitals score` computed with the current rules, laid out
/// like published tables but never read by a run and never part of the published contract.
pub const DRAFTS: &str = "drafts";

/// Writes a draft table for `as_of` (replacing any earlier draft of it, whole or not at
/// all) and returns its file and row count.
pub fn write_draft(
    out: &Path,
    table: &str,
    as_of: NaiveDate,
    schema: SchemaRef,
    batches: &[RecordBatch],
) -> Result<(PathBuf, u64)> {
    let file = published_file(&out.join(DRAFTS), table, as_of);
    let rows = replace_whole(&file, |tmp| write_parquet(tmp, schema, batches))?;
    Ok((file, rows))
}

/// The schema and batches with every string-view column cast to a plain string column.
fn plain_strings(schema: SchemaRef, batches: &[RecordBatch]) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let plain = |t: &DataType| if *t == DataType::Utf8View { DataType::Utf8 } else { t.clone() };
    let fields: Vec<Field> =
        schema.fields().iter().map(|f| f.as_ref().clone().with_data_type(plain(f.data_type()))).collect();
    let schema: SchemaRef = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    let batches = batches
        .iter()
        .map(|batch| {
            let columns = batch
                .columns()
                .iter()
                .map(|c| if *c.data_type() == DataType::Utf8View { cast(c, &DataType::Utf8) } else { Ok(c.clone()) })
                .collect::<std::result::Result<Vec<_>, _>>()?;
            Ok(RecordBatch::try_new(schema.clone(), columns)?)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((schema, batches))
}

/// `<table>/as_of=<date>`, relative to the output or staging folder.
fn partition(table: &str, as_of: NaiveDate) -> PathBuf {
    PathBuf::from(table).join(format!("as_of={as_of}"))
}

/// Finishes runs that committed but did not finish publishing, and deletes the staging
/// of runs that never reached their commit point.
pub fn recover(out: &Path) -> Result<()> {
    let staging = out.join(STAGING);
    let Ok(entries) = std::fs::read_dir(&staging) else {
        return Ok(());
    };
    for entry in entries {
        let root = entry?.path();
        if root.join(JOURNAL).exists() {
            tracing::warn!(staging = %root.display(), "finishing the publish of an interrupted run");
            apply(out, &root)?;
        } else {
            tracing::info!(staging = %root.display(), "removing what an interrupted run left");
            std::fs::remove_dir_all(&root).with_context(|| format!("cleaning {}", root.display()))?;
        }
    }
    Ok(())
}

/// Moves a committed staging folder's files into place, then writes its manifest and
/// removes it. Repeating it after an interruption finishes the job.
fn apply(out: &Path, root: &Path) -> Result<()> {
    let path = root.join(JOURNAL);
    let journal: Journal = serde_json::from_slice(&std::fs::read(&path)?)
        .with_context(|| format!("{} is damaged: delete the folder {} and rerun", path.display(), root.display()))?;
    for table in &journal.partitions {
        let rel = partition(table, journal.manifest.as_of);
        let (from, to) = (root.join(&rel), out.join(&rel));
        let Ok(files) = std::fs::read_dir(&from) else { continue };
        std::fs::create_dir_all(&to).with_context(|| format!("creating {}", to.display()))?;
        for file in files {
            let file = file?;
            let target = to.join(file.file_name());
            std::fs::rename(file.path(), &target).with_context(|| format!("publishing {}", target.display()))?;
        }
    }
    journal.manifest.write(&out.join("runs").join(journal.manifest.as_of.to_string()))?;
    std::fs::remove_dir_all(root).with_context(|| format!("cleaning {}", root.display()))
}

/// Flushes a staged partition's files to disk, so the commit point never refers to data
/// still only in memory.
fn sync_folder(dir: &Path) -> Result<()> {
    let Ok(files) = std::fs::read_dir(dir) else { return Ok(()) };
    for file in files {
        File::open(file?.path())?.sync_all()?;
    }
    Ok(())
}

/// Writes `bytes` to `path` via a temporary file and a rename: the file is whole or absent.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().expect("a file in a folder");
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    replace_whole(path, |tmp| {
        let mut file = File::create(tmp).with_context(|| format!("writing {}", tmp.display()))?;
        std::io::Write::write_all(&mut file, bytes)?;
        Ok(file.sync_all()?)
    })
}

/// Has `write` fill a temporary file beside `path`, then renames it over `path`, so
/// readers find the old file or the new one, never half of one.
fn replace_whole<T>(path: &Path, write: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let written = write(&tmp)?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(written)
}

/// The as_of dates of a published table's partitions, oldest first.
pub fn partitions(out: &Path, table: &str) -> Vec<NaiveDate> {
    let mut dates: Vec<NaiveDate> = std::fs::read_dir(out.join(table))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_prefix("as_of=")?.parse().ok())
        .collect();
    dates.sort();
    dates
}

/// The file of a published partition.
pub fn published_file(out: &Path, table: &str, as_of: NaiveDate) -> PathBuf {
    out.join(partition(table, as_of)).join(PART)
}
