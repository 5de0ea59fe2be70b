//! `vitals query`: SQL (DataFusion) over every published table and every bronze table of
//! an output directory, printed as an aligned table or written to a CSV or Parquet file.

use std::fs::File;
use std::path::Path;

use anyhow::{bail, Context, Result};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use parquet::arrow::ArrowWriter;

use crate::layout::OutputLayout;
use crate::transform::{outputs, Engine};

/// Runs `sql` over the tables under `out` and returns the result as an aligned table, or
/// writes it to `output` (CSV or Parquet, by its extension) and says how many rows.
pub async fn run(engine: &Engine, out: &OutputLayout, sql: &str, output: Option<&Path>) -> Result<String> {
    let ctx = outputs::register(engine, out).await?;
    let frame = ctx.sql(sql).await.with_context(|| {
        format!(
            "the query does not plan; the tables under {} are: {}",
            out.root().display(),
            table_names(&ctx).join(", ")
        )
    })?;
    let schema = std::sync::Arc::new(frame.schema().as_arrow().clone());
    let batches = frame.collect().await.context("the query failed while running")?;
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let Some(output) = output else {
        return Ok(format!("{}\n{rows} rows\n", pretty_format_batches(&batches)?));
    };
    let file = File::create(output).with_context(|| format!("cannot create {}", output.display()))?;
    match output.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("csv") => {
            let mut writer = datafusion::arrow::csv::WriterBuilder::new().with_header(true).build(file);
            for batch in &batches {
                writer.write(batch)?;
            }
        }
        Some("parquet") => {
            let mut writer = ArrowWriter::try_new(file, batches.first().map_or(schema, |b| b.schema()), None)?;
            for batch in &batches {
                writer.write(batch)?;
            }
            writer.close()?;
        }
        _ => bail!("--output {}: name a .csv or a .parquet file", output.display()),
    }
    Ok(format!("{rows} rows written to {}\n", output.display()))
}

fn table_names(ctx: &datafusion::prelude::SessionContext) -> Vec<String> {
    let mut names: Vec<String> =
        ctx.catalog("datafusion").and_then(|c| c.schema("public")).map(|s| s.table_names()).unwrap_or_default();
    names.sort();
    names
}
