//! The committed tables of an output directory, registered for SQL: each table with all
//! its as_of partitions (columns added by later versions read as null in older ones), as
//! the publish lane's snapshot chose them. Readers only: runs never read through here.

use std::sync::Arc;

use anyhow::{Context, Result};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::prelude::SessionContext;

use super::Engine;
use crate::table::ReadableTable;

/// A session with each of `tables` registered by name.
pub async fn register(engine: &Engine, tables: &[ReadableTable]) -> Result<SessionContext> {
    let ctx = engine.session();
    for table in tables {
        let urls = table
            .files
            .iter()
            .map(|f| ListingTableUrl::parse(f.to_string_lossy()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let options = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        let config = ListingTableConfig::new_with_multi_paths(urls)
            .with_listing_options(options)
            .infer_schema(&ctx.state())
            .await
            .with_context(|| format!("reading the published table {}", table.folder.display()))?;
        ctx.register_table(table.name.as_str(), Arc::new(ListingTable::try_new(config)?))?;
    }
    Ok(ctx)
}
