//! The publish lane: output tables written as Parquet under
//! `<out>/<table>/as_of=<YYYY-MM-DD>/`, first into a staging folder of the run and moved
//! into place only once every table of the run is whole, then the run's manifest.
//!
//! Readers therefore see either the previous partition or the new one, never a file being
//! written. Bronze tables follow the same path under `<out>/bronze/<source>/`.

pub mod manifest;

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

pub use manifest::Manifest;

/// Name of the one data file in each partition.
const PART: &str = "part-0.parquet";
const STAGING: &str = ".staging";

/// The staging folder of one run and where its partitions go when it is published.
pub struct Staging {
    out: PathBuf,
    root: PathBuf,
    as_of: NaiveDate,
}

impl Staging {
    /// Opens a fresh staging folder for a run as of `as_of` under `out`.
    pub fn begin(out: &Path, as_of: NaiveDate) -> Result<Staging> {
        let root = out.join(STAGING).join(format!("as_of={as_of}"));
        if root.exists() {
            // What an interrupted run of the same date left behind: never published, so safe to drop.
            std::fs::remove_dir_all(&root)
                .with_context(|| format!("removing stale staging {}", root.display()))?;
        }
        std::fs::create_dir_all(&root).with_context(|| {
            format!(
                "cannot create the staging folder {}: check that the output directory is writable",
                root.display()
            )
        })?;
        Ok(Staging {
            out: out.to_path_buf(),
            root,
            as_of,
        })
    }

    fn partition(&self, table: &str) -> PathBuf {
        PathBuf::from(table).join(format!("as_of={}", self.as_of))
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
    pub fn write_table(
        &self,
        table: &str,
        schema: SchemaRef,
        batches: &[RecordBatch],
    ) -> Result<u64> {
        let path = self.table_file(table);
        std::fs::create_dir_all(path.parent().expect("partition folder"))?;
        let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_statistics_enabled(EnabledStatistics::Page)
            .build();
        let mut writer = ArrowWriter::try_new(file, schema, Some(props))?;
        let mut rows = 0u64;
        for batch in batches {
            writer.write(batch)?;
            rows += batch.num_rows() as u64;
        }
        writer
            .close()
            .with_context(|| format!("finishing {}", path.display()))?;
        Ok(rows)
    }

    /// Moves every staged partition into place, then writes the manifest. An existing
    /// partition of the same date is replaced: a rerun of a date overwrites it.
    pub fn commit(self, tables: &[String], manifest: &Manifest) -> Result<()> {
        let trash = self
            .out
            .join(STAGING)
            .join(format!("replaced-as_of={}", self.as_of));
        for table in tables {
            let rel = self.partition(table);
            let (from, to) = (self.root.join(&rel), self.out.join(&rel));
            std::fs::create_dir_all(to.parent().expect("table folder"))?;
            if to.exists() {
                let old = trash.join(&rel);
                std::fs::create_dir_all(old.parent().expect("trash folder"))?;
                std::fs::rename(&to, &old)
                    .with_context(|| format!("moving aside {}", to.display()))?;
            }
            std::fs::rename(&from, &to).with_context(|| format!("publishing {}", to.display()))?;
        }
        manifest.write(&self.out.join("runs").join(self.as_of.to_string()))?;
        for leftover in [&trash, &self.root] {
            if leftover.exists() {
                std::fs::remove_dir_all(leftover)
                    .with_context(|| format!("cleaning {}", leftover.display()))?;
            }
        }
        Ok(())
    }
}
