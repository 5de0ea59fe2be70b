//! Drafts: the tables `vitals score` computes with the current rules, laid out like
//! published tables under `<out>/drafts/`, never read by a run and never part of the
//! published contract. Each draft replaces the previous one whole (temporary file, then
//! rename); work tables go to a working folder of this process, removed after.

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use datafusion::arrow::datatypes::SchemaRef;

use super::writer::ParquetFile;
use crate::layout::OutputLayout;
use crate::table::{TableKind, TableSink, TableWriter};

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
            TableKind::Published => {
                ParquetFile::create(table, &self.drafts.table_file(table, self.as_of), schema, true)?
            }
            TableKind::Work => ParquetFile::create(
                table,
                &self.work.join(format!("{}.parquet", table.replace('/', "_"))),
                schema,
                false,
            )?,
        };
        Ok(Box::new(file))
    }
}
