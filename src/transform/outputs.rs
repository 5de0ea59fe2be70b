//! The committed tables of an output directory, registered for SQL: each table with all
//! its as_of partitions (columns added by later versions read as null in older ones), as
//! the publish lane's snapshot chose them. Readers only: runs never read through here.
//!
//! A partition's `as_of` comes from its folder's name, as Hive-style readers take it; a
//! file written before vitals 0.4 also holds the column, which is then not read from it.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use datafusion::arrow::datatypes::Schema;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::prelude::{col, DataFrame, SessionContext};

use super::sources::partition_value;
use super::Engine;
use crate::layout::{partition_of, PARTITION_COLUMN};
use crate::table::ReadableTable;

/// A session with each of `tables` registered by name.
pub async fn register(engine: &Engine, tables: &[ReadableTable]) -> Result<SessionContext> {
    let ctx = engine.session()?;
    for table in tables {
        let context = || format!("reading the published table {}", table.folder.display());
        let urls = |files: &[&std::path::PathBuf]| {
            files.iter().map(|f| ListingTableUrl::parse(f.to_string_lossy())).collect::<Result<Vec<_>, _>>()
        };
        let options = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        // Every file's schema, merged: DataFusion infers a multi-file table's from its first
        // file alone, the oldest, which lacks the columns later versions added.
        let every: Vec<&std::path::PathBuf> = table.files.iter().collect();
        let mut schemas = Vec::with_capacity(every.len());
        for url in urls(&every)? {
            schemas.push(options.infer_schema(&ctx.state(), &url).await.with_context(context)?.as_ref().clone());
        }
        let merged = Schema::try_merge(schemas).with_context(context)?;
        let fields = merged.fields().iter().filter(|f| f.name() != PARTITION_COLUMN).cloned().collect::<Vec<_>>();
        let file_schema = Arc::new(Schema::new(fields));
        let mut by_date: BTreeMap<NaiveDate, Vec<&std::path::PathBuf>> = BTreeMap::new();
        for file in &table.files {
            let date = partition_of(file).with_context(|| format!("{} lies in no as_of folder", file.display()))?;
            by_date.entry(date).or_default().push(file);
        }
        let mut union: Option<DataFrame> = None;
        for (date, files) in by_date {
            let config = ListingTableConfig::new_with_multi_paths(urls(&files)?)
                .with_listing_options(options.clone())
                .with_schema(file_schema.clone());
            let columns = file_schema.fields().iter().map(|f| col(format!("\"{}\"", f.name())));
            let partition = ctx
                .read_table(Arc::new(ListingTable::try_new(config)?))?
                .select(columns.chain([partition_value(date).alias(PARTITION_COLUMN)]).collect::<Vec<_>>())?;
            union = Some(match union {
                Some(before) => before.union(partition)?,
                None => partition,
            });
        }
        if let Some(union) = union {
            ctx.register_table(table.name.as_str(), union.into_view())?;
        }
    }
    Ok(ctx)
}
