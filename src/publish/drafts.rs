//! Drafts: the tables `vitals score` computes with the current rules, laid out like
//! published tables under `<out>/drafts/`, never read by a run and never part of the
//! published contract. Each draft replaces the previous one whole (temporary file, then
//! rename); work tables go to a working folder of this process, removed after. A
//! re-score saves nothing for later: only a nightly run saves its model tables.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::NaiveDate;
use datafusion::arrow::datatypes::SchemaRef;

use super::writer::{self, ParquetFile};
use crate::layout::OutputLayout;
use crate::table::{TableKind, TableSink, TableWriter, Written};

pub struct Drafts {
    drafts: OutputLayout,
    as_of: NaiveDate,
    work: PathBuf,
}

impl Drafts {
    pub fn new(out: &OutputLayout, as_of: NaiveDate) -> Result<Drafts> {
        let drafts = out.drafts();
        let work = drafts.private_dir(std::process::id());
        std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
        Ok(Drafts { drafts, as_of, work })
    }
}

impl Drop for Drafts {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.work) {
            tracing::warn!("could not remove the working folder {}: {e}", self.work.display());
        }
    }
}

impl TableSink for Drafts {
    fn spill_dir(&self) -> PathBuf {
        OutputLayout::new(self.work.clone()).spill_dir()
    }

    fn create(&self, table: &str, schema: SchemaRef, kind: TableKind) -> Result<Box<dyn TableWriter + '_>> {
        let file = match kind {
            TableKind::Published => ParquetFile::create(
                table,
                &self.drafts.table_file(table, self.as_of),
                schema,
                true,
                Some(self.as_of),
                kind,
            )?,
            // Kept by a run, a model's table is only a step of the re-score here: a working
            // table, in the working tables' faster codec.
            TableKind::Saved | TableKind::Work => {
                ParquetFile::create(table, &self.work_file(table), schema, false, None, TableKind::Work)?
            }
        };
        Ok(Box::new(file))
    }

    fn adopt(&self, table: &str, file: &Path, kind: TableKind) -> Result<Written> {
        match kind {
            TableKind::Published => writer::copy_table(table, file, &self.drafts.table_file(table, self.as_of)),
            TableKind::Saved | TableKind::Work => {
                Ok(Written { name: table.to_string(), path: file.to_path_buf(), rows: writer::rows(file)? })
            }
        }
    }
}

impl Drafts {
    fn work_file(&self, table: &str) -> PathBuf {
        self.work.join(format!("{}.parquet", table.replace('/', "_")))
    }
}
