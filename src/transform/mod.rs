//! The transform lane (DataFusion): the SQL models in the pipeline's SQL folder, run over
//! the bronze Parquet tables as of the run date.
//!
//! Every source is registered under its canonical name as a point-in-time view: rows dated
//! after `as_of` are invisible, and later happenings on visible rows (a payment made after
//! the run date, say) read as not yet happened; planned dates (due dates, contract ends)
//! stay. So any past date re-runs faithfully from the
//! same exports. Sources a pipeline leaves out are registered as empty tables of their
//! canonical shape, so models need no special cases (the `sources` table says which are
//! present). Run parameters and scoring rules are small tables too (see `rules`).

pub mod models;
mod rules;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use chrono::NaiveDate;
use std::collections::BTreeMap;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::Int64Type;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::prelude::{ParquetReadOptions, SessionContext};

use crate::canonical::{self, Kind};
use crate::config::{scoring, Pipeline};

/// What the SQL lane produced for a run.
pub struct Transformed {
    /// The tables the pipeline publishes, in its order.
    pub tables: Vec<Table>,
    /// Customers with a score on each dimension (a dimension with 0 had no data at all).
    pub customers_with_data: BTreeMap<String, u64>,
}

/// One model's result, ready to publish.
pub struct Table {
    pub name: String,
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

/// Runs every SQL model and returns the tables the pipeline publishes, in its order.
/// `bronze_file` gives the bronze Parquet of each source the pipeline has.
pub async fn run(
    pipeline: &Pipeline,
    as_of: NaiveDate,
    bronze_file: impl Fn(&str) -> PathBuf,
) -> Result<Transformed> {
    let ctx = SessionContext::new();
    register_sources(&ctx, pipeline, as_of, bronze_file).await?;
    rules::register(&ctx, pipeline, as_of)?;

    let mut results = Vec::new();
    for model in models::load(&pipeline.sql_dir)? {
        let frame = ctx
            .sql(&model.sql)
            .await
            .map_err(|e| anyhow!("SQL model {}: {e}", model.path.display()))?;
        let planned: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
        let batches = frame.collect().await.map_err(|e| {
            anyhow!(
                "SQL model {} failed while running: {e}",
                model.path.display()
            )
        })?;
        // The executed batches carry the exact schema (nullability may differ from the plan's).
        let schema = batches.first().map(|b| b.schema()).unwrap_or(planned);
        let table = MemTable::try_new(schema.clone(), vec![batches.clone()])?;
        ctx.register_table(model.name.as_str(), Arc::new(table))?;
        results.push(Table {
            name: model.name,
            schema,
            batches,
        });
    }

    let customers_with_data = customers_per_dimension(&ctx, &results).await?;
    let mut published = Vec::new();
    for name in &pipeline.publish {
        let Some(i) = results.iter().position(|t| &t.name == name) else {
            bail!(
                "pipeline file {}: [run] publish names `{name}`, but {} has no {name}.sql model",
                pipeline.file.display(),
                pipeline.sql_dir.display()
            );
        };
        published.push(results.swap_remove(i));
    }
    Ok(Transformed {
        tables: published,
        customers_with_data,
    })
}

/// How many customers have a score on each dimension, from the `dimension_scores` model
/// (empty when a pipeline's SQL has no such model).
async fn customers_per_dimension(
    ctx: &SessionContext,
    results: &[Table],
) -> Result<BTreeMap<String, u64>> {
    let mut counts: BTreeMap<String, u64> = scoring::DIMENSIONS
        .iter()
        .map(|d| (d.to_string(), 0))
        .collect();
    if !results.iter().any(|t| t.name == "dimension_scores") {
        return Ok(BTreeMap::new());
    }
    let sql = "SELECT dimension, COUNT(*) AS customers FROM dimension_scores GROUP BY dimension";
    for batch in ctx.sql(sql).await?.collect().await? {
        let names = cast(batch.column(0), &DataType::Utf8)?;
        let customers = cast(batch.column(1), &DataType::Int64)?;
        for (name, n) in names
            .as_string::<i32>()
            .iter()
            .zip(customers.as_primitive::<Int64Type>().iter())
        {
            if let (Some(name), Some(n)) = (name, n) {
                counts.insert(name.to_string(), n as u64);
            }
        }
    }
    Ok(counts)
}

fn arrow_type(kind: Kind) -> DataType {
    match kind {
        Kind::Text => DataType::Utf8,
        Kind::Date => DataType::Date32,
        Kind::Number => DataType::Float64,
        Kind::Integer { .. } => DataType::Int32,
    }
}

async fn register_sources(
    ctx: &SessionContext,
    pipeline: &Pipeline,
    as_of: NaiveDate,
    bronze_file: impl Fn(&str) -> PathBuf,
) -> Result<()> {
    for source in canonical::SOURCES {
        let bronze = format!("bronze_{}", source.name);
        if pipeline.source(source.name).is_some() {
            let path = bronze_file(source.name);
            ctx.register_parquet(
                bronze.as_str(),
                path.to_string_lossy().as_ref(),
                ParquetReadOptions::default(),
            )
            .await
            .with_context(|| format!("registering bronze table {}", path.display()))?;
        } else {
            let fields: Vec<Field> = source
                .fields
                .iter()
                .map(|f| Field::new(f.name, arrow_type(f.kind), true))
                .collect();
            let empty = MemTable::try_new(Arc::new(Schema::new(fields)), vec![vec![]])?;
            ctx.register_table(bronze.as_str(), Arc::new(empty))?;
        }
        let view = ctx
            .sql(&point_in_time_sql(source, &bronze, as_of))
            .await?
            .into_view();
        ctx.register_table(source.name, view)?;
    }
    Ok(())
}

/// The SQL of a source as known on `as_of`.
fn point_in_time_sql(source: &canonical::Source, bronze: &str, as_of: NaiveDate) -> String {
    let day = format!("DATE '{as_of}'");
    let columns: Vec<String> = source
        .fields
        .iter()
        .map(|f| match f.kind {
            Kind::Date if f.name != source.event_date && !f.planned => {
                format!(
                    "CASE WHEN \"{0}\" <= {day} THEN \"{0}\" END AS \"{0}\"",
                    f.name
                )
            }
            _ => format!("\"{}\"", f.name),
        })
        .collect();
    let event = source.event_date;
    let required = source.field(event).is_some_and(|f| f.required);
    let visible = if required {
        format!("\"{event}\" <= {day}")
    } else {
        format!("(\"{event}\" IS NULL OR \"{event}\" <= {day})")
    };
    format!(
        "SELECT {} FROM {bronze} WHERE {visible}",
        columns.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_in_time_view_hides_later_rows_and_later_dates() {
        let sql = point_in_time_sql(
            canonical::source("invoices").unwrap(),
            "bronze_invoices",
            NaiveDate::from_ymd_opt(2026, 6, 30).unwrap(),
        );
        assert!(
            sql.contains("WHERE \"invoice_date\" <= DATE '2026-06-30'"),
            "{sql}"
        );
        assert!(
            sql.contains("CASE WHEN \"paid_date\" <= DATE '2026-06-30' THEN \"paid_date\" END"),
            "{sql}"
        );
        assert!(
            sql.contains(", \"due_date\","),
            "a due date is known when the invoice is written: {sql}"
        );
        let accounts = point_in_time_sql(
            canonical::source("accounts").unwrap(),
            "b",
            NaiveDate::from_ymd_opt(2026, 6, 30).unwrap(),
        );
        assert!(
            accounts.contains("\"signup_date\" IS NULL OR"),
            "{accounts}"
        );
    }
}
