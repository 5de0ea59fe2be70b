//! `vitals query`: SQL (DataFusion) over every published table and every bronze table of
//! an output directory, printed as an aligned table or written to a CSV or Parquet file.
//! It only reads: statements that would create, change or write anything (`CREATE …`,
//! `INSERT`, `COPY … TO`, `SET`) are refused before they plan.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::execution::context::SQLOptions;
use parquet::arrow::ArrowWriter;

use crate::layout::OutputLayout;
use crate::publish;
use crate::transform::{outputs, Engine};

/// Runs `sql` over the tables under `out` and returns the result as an aligned table, or
/// writes it to `output` (CSV or Parquet, by its extension) and says how many rows.
pub async fn run(engine: &Engine, out: &OutputLayout, sql: &str, output: Option<&Path>) -> Result<String> {
    let snapshot = publish::snapshot::take(out)?;
    let ctx = outputs::register(engine, snapshot.tables()).await?;
    let read_only = SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
    let frame = ctx.sql_with_options(sql, read_only).await;
    if let Err(e) = &frame {
        let message = e.to_string();
        if ["DDL not supported", "DML not supported", "Statement not supported"].iter().any(|m| message.contains(m)) {
            bail!(
                "vitals query only reads, and this statement would create or change something ({}); \
                 write a SELECT, and --output FILE to save its result",
                message.trim_start_matches("Error during planning: ")
            );
        }
    }
    let frame = frame.with_context(|| {
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
    let csv = match output.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("csv") => true,
        Some("parquet") => false,
        _ => bail!("--output {}: name a .csv or a .parquet file", output.display()),
    };
    // Written beside the file and renamed over it once on disk: a failed write (a full
    // disk) fails the command and leaves no partial file.
    let tmp = crate::publish::temporary(output);
    let written = write_file(&tmp, &batches, schema, csv);
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.context(format!(
            "could not write {}: check the free space and the folder's permissions",
            output.display()
        )));
    }
    std::fs::rename(&tmp, output).with_context(|| format!("could not write {}", output.display()))?;
    Ok(format!("{rows} rows written to {}\n", output.display()))
}

fn write_file(path: &Path, batches: &[RecordBatch], schema: Arc<Schema>, csv: bool) -> Result<()> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let file = if csv {
        let mut writer = datafusion::arrow::csv::WriterBuilder::new().with_header(true).build(file);
        for batch in batches {
            writer.write(&without_formulas(batch)?)?;
        }
        writer.into_inner()
    } else {
        let mut writer = ArrowWriter::try_new(file, batches.first().map_or(schema, |b| b.schema()), None)?;
        for batch in batches {
            writer.write(batch)?;
        }
        writer.into_inner()?
    };
    file.sync_all()?;
    Ok(())
}

/// The batch with every text cell that a spreadsheet would run as a formula (starting with
/// `=`, `+`, `-`, `@`, a tab or a carriage return: the OWASP rule) prefixed with `'`, which
/// spreadsheets show as text. Numbers are left as they are.
fn without_formulas(batch: &RecordBatch) -> Result<RecordBatch> {
    let risky = |s: &str| s.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if matches!(field.data_type(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) {
            let text = cast(column, &DataType::Utf8)?;
            let safe: StringArray = text
                .as_string::<i32>()
                .iter()
                .map(|v| v.map(|s| if risky(s) { format!("'{s}") } else { s.to_string() }))
                .collect();
            fields.push(Field::new(field.name(), DataType::Utf8, safe.null_count() > 0 || field.is_nullable()));
            columns.push(Arc::new(safe));
        } else {
            fields.push(field.as_ref().clone());
            columns.push(column.clone());
        }
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
}

fn table_names(ctx: &datafusion::prelude::SessionContext) -> Vec<String> {
    let mut names: Vec<String> =
        ctx.catalog("datafusion").and_then(|c| c.schema("public")).map(|s| s.table_names()).unwrap_or_default();
    names.sort();
    names
}
