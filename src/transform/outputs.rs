//! The published tables of an output directory, registered for SQL: each table with all
//! its as_of partitions (columns added by later versions read as null in older ones), each
//! bronze source as `bronze_<source>`, and each draft `vitals score` wrote as
//! `draft_<table>`. Readers only: runs never read through here.

use anyhow::{Context, Result};
use datafusion::prelude::{ParquetReadOptions, SessionContext};

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
        let path = format!("{}/", dir.display());
        ctx.register_parquet(name.as_str(), &path, ParquetReadOptions::default())
            .await
            .with_context(|| format!("reading the published table {}", dir.display()))?;
    }
    Ok(ctx)
}
