//! The published tables of an output directory, registered for SQL: each table with all
//! its as_of partitions (columns added by later versions read as null in older ones), each
//! bronze source as `bronze_<source>`, and each draft `vitals score` wrote as
//! `draft_<table>`. Readers only: runs never read through here.

use std::path::Path;

use anyhow::{Context, Result};
use datafusion::prelude::{ParquetReadOptions, SessionContext};

/// Folders under the output directory that are not tables.
const NOT_TABLES: [&str; 6] = ["runs", "models", "bronze", crate::publish::DRAFTS, crate::publish::REPORTS, ".staging"];

/// A context with every table published under `out` registered by name.
pub async fn register(out: &Path) -> Result<SessionContext> {
    let ctx = SessionContext::new();
    let mut tables = Vec::new();
    for entry in read_dir(out)? {
        let name = entry.file_name().to_string_lossy().to_string();
        if !NOT_TABLES.contains(&name.as_str()) && !name.starts_with('.') {
            tables.push((name, entry.path()));
        }
    }
    for (folder, prefix) in [("bronze", "bronze_"), (crate::publish::DRAFTS, "draft_")] {
        let dir = out.join(folder);
        if dir.is_dir() {
            for entry in read_dir(&dir)? {
                tables.push((format!("{prefix}{}", entry.file_name().to_string_lossy()), entry.path()));
            }
        }
    }
    for (name, dir) in tables {
        let path = format!("{}/", dir.display());
        ctx.register_parquet(name.as_str(), &path, ParquetReadOptions::default())
            .await
            .with_context(|| format!("reading the published table {}", dir.display()))?;
    }
    Ok(ctx)
}

fn read_dir(dir: &Path) -> Result<Vec<std::fs::DirEntry>> {
    let entries = std::fs::read_dir(dir).with_context(|| {
        format!("cannot read the output directory {}: has a run published there yet?", dir.display())
    })?;
    let mut dirs: Vec<_> = entries.filter_map(|e| e.ok()).filter(|e| e.path().is_dir()).collect();
    dirs.sort_by_key(|e| e.file_name());
    Ok(dirs)
}
