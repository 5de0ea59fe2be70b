//! The published tables of an output directory, registered for SQL: each table with all
//! its as_of partitions (columns added by later versions read as null in older ones), each
//! bronze source as `bronze_<source>`, and each draft `vitals score` wrote as
//! `draft_<table>`. Readers only: runs never read through here.
//!
//! What vitals did not write does not stop a reader: a folder whose name is no table name
//! (`lost+found`, `customer_health.bak`), a table folder without data files, or a file
//! whose Parquet footer is damaged is left out with a warning naming it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::prelude::SessionContext;
use parquet::file::reader::SerializedFileReader;

use super::Engine;
use crate::layout::OutputLayout;

/// A session with every table published under `out` registered by name.
pub async fn register(engine: &Engine, out: &OutputLayout) -> Result<SessionContext> {
    let ctx = engine.session();
    let mut tables = out.table_dirs().with_context(|| {
        format!("cannot read the output directory {}: has a run published there yet?", out.root().display())
    })?;
    tables.extend(out.bronze_dirs().into_iter().map(|(source, dir)| (format!("bronze_{source}"), dir)));
    tables
        .extend(out.drafts().table_dirs().unwrap_or_default().into_iter().map(|(t, dir)| (format!("draft_{t}"), dir)));
    for (name, dir) in tables {
        if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            tracing::warn!(folder = %dir.display(), "not a table vitals writes (its name is no table name); left out");
            continue;
        }
        let files = data_files(&dir);
        if files.is_empty() {
            tracing::warn!(folder = %dir.display(), "a table folder without readable data files; left out");
            continue;
        }
        let urls = files
            .iter()
            .map(|f| ListingTableUrl::parse(f.to_string_lossy()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let options = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        let config = ListingTableConfig::new_with_multi_paths(urls)
            .with_listing_options(options)
            .infer_schema(&ctx.state())
            .await
            .with_context(|| format!("reading the published table {}", dir.display()))?;
        ctx.register_table(name.as_str(), Arc::new(ListingTable::try_new(config)?))?;
    }
    Ok(ctx)
}

/// The Parquet files of a table folder's partitions whose footer reads; the others are
/// named in a warning.
fn data_files(table: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let partitions = std::fs::read_dir(table).into_iter().flatten().flatten().filter(|e| e.path().is_dir());
    for partition in partitions {
        for file in std::fs::read_dir(partition.path()).into_iter().flatten().flatten() {
            let path = file.path();
            if path.extension().is_none_or(|e| e != "parquet") {
                continue;
            }
            if readable(&path) {
                files.push(path);
            } else {
                tracing::warn!(file = %path.display(), "not a readable Parquet file (damaged footer?); left out");
            }
        }
    }
    files.sort();
    files
}

/// Whether a Parquet file's footer reads.
pub fn readable(path: &Path) -> bool {
    std::fs::File::open(path).is_ok_and(|f| SerializedFileReader::new(f).is_ok())
}
