//! What the SQL models read besides each other, registered in a session: every canonical
//! source as a point-in-time view of its bronze table, and the previous run's
//! customer_health as `previous_health`.
//!
//! A source as of a date hides the rows dated after it, and later happenings on the rows it
//! shows (a payment made after the run date, say) read as not yet happened; planned dates
//! (due dates, contract ends) stay. So any past date re-runs faithfully from the same
//! exports. Sources a pipeline leaves out are empty tables of their canonical shape, so
//! models need no special cases (the `sources` rules table says which are present).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use datafusion::arrow::array::{Date32Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::prelude::{lit, Expr, ParquetReadOptions, SessionContext};
use datafusion::scalar::ScalarValue;

use super::Engine;
use crate::canonical::{self, Kind};
use crate::layout::{self, PARTITION_COLUMN};

/// The dates the sources are seen as of: one row per date, column `as_of`.
pub const RUN_DATES: &str = "run_dates";

/// Registers every canonical source as known on each of `dates`: `bronze_<source>` (the
/// whole bronze table) and `<source>` (its point-in-time view: each row once per date it
/// is visible on, with that date as `as_of`), and `run_dates`. `bronze` gives the file of
/// each source the pipeline has; the others are empty.
pub async fn register(
    engine: &Engine,
    ctx: &SessionContext,
    bronze: &BTreeMap<String, PathBuf>,
    dates: &[NaiveDate],
) -> Result<()> {
    let days = Date32Array::from_iter_values(dates.iter().map(|d| canonical::epoch_days(*d)));
    let schema = Arc::new(Schema::new(vec![Field::new("as_of", DataType::Date32, false)]));
    engine.register_batch(ctx, RUN_DATES, RecordBatch::try_new(schema, vec![Arc::new(days)])?).await?;
    for source in canonical::SOURCES {
        let table = format!("bronze_{}", source.name);
        if let Some(path) = bronze.get(source.name) {
            // Bronze rows carry no as_of: the views below give each row the dates it is seen on.
            ctx.register_parquet(&table, &path.to_string_lossy(), ParquetReadOptions::default())
                .await
                .with_context(|| format!("registering bronze table {}", path.display()))?;
        } else {
            engine.register_batch(ctx, &table, RecordBatch::new_empty(source.arrow_schema())).await?;
        }
        let view = ctx.sql(&point_in_time_sql(source, &table, dates)).await?.into_view();
        ctx.register_table(source.name, view)?;
    }
    Ok(())
}

/// Registers a Parquet file as a table. A published partition's file, which leaves out
/// its partition column, gets `as_of` back from its folder's name.
pub async fn register_parquet(ctx: &SessionContext, table: &str, path: &Path) -> Result<()> {
    let read = ctx.read_parquet(path.to_string_lossy().as_ref(), ParquetReadOptions::default()).await?;
    let read = match layout::partition_of(path) {
        Some(date) if !read.schema().has_column_with_unqualified_name(PARTITION_COLUMN) => {
            read.with_column(PARTITION_COLUMN, partition_value(date))?
        }
        _ => read,
    };
    ctx.register_table(table, read.into_view())?;
    Ok(())
}

/// A partition's date as a value of its `as_of` column.
pub fn partition_value(date: NaiveDate) -> Expr {
    lit(ScalarValue::Date32(Some(canonical::epoch_days(date))))
}

/// The SQL of a source as known on each of `dates`: one filtered scan of the bronze table
/// per date, the date a literal the Parquet scan can prune with, stacked with UNION ALL
/// (a join to a table of dates became a nested-loop join, many times slower).
pub fn point_in_time_sql(source: &canonical::Source, bronze: &str, dates: &[NaiveDate]) -> String {
    let one = |date: &NaiveDate| {
        let day = format!("DATE '{date}'");
        let event = source.event_date;
        let visible = if source.field(event).is_some_and(|f| f.required) {
            format!("\"{event}\" <= {day}")
        } else {
            format!("(\"{event}\" IS NULL OR \"{event}\" <= {day})")
        };
        // The date by the row, not a bare literal: DataFusion takes a column it knows to be
        // constant as a sort order, and groups by (as_of, customer_id) in its partially
        // sorted mode, which took ten times as long (2.3 s against 0.2 s for the latest
        // relationship levels at a million customers).
        let mut columns = vec![format!("CASE WHEN {visible} THEN {day} END AS as_of")];
        columns.extend(source.fields.iter().map(|f| match f.kind {
            Kind::Date if f.name != source.event_date && !f.planned => {
                format!("CASE WHEN \"{0}\" <= {day} THEN \"{0}\" END AS \"{0}\"", f.name)
            }
            // Plain strings: string views point into the buffers they were read from, and
            // joins and sorts over them copied those buffers again and again (a 100k-customer
            // customer_health spent 13 s sorting). One copy here is cheap.
            Kind::Text => format!("CAST(\"{0}\" AS VARCHAR) AS \"{0}\"", f.name),
            _ => format!("\"{}\"", f.name),
        }));
        format!("SELECT {} FROM {bronze} WHERE {visible}", columns.join(", "))
    };
    dates.iter().map(one).collect::<Vec<_>>().join(" UNION ALL ")
}

/// The columns of `previous_health`, whatever version published the previous partition:
/// a column it lacks reads as null.
const PREVIOUS_COLUMNS: [(&str, DataType); 6] = [
    ("customer_id", DataType::Utf8),
    ("as_of", DataType::Date32),
    ("health_score", DataType::Float64),
    ("health_tier", DataType::Utf8),
    ("churn_risk", DataType::Float64),
    ("risk_band", DataType::Utf8),
];

/// The table of the previous run's customer_health the models read.
pub const PREVIOUS: &str = "previous_health";

/// Registers `previous_health`: the previous run's customer_health, or an empty table.
pub async fn register_previous(engine: &Engine, ctx: &SessionContext, file: Option<&Path>) -> Result<()> {
    let Some(file) = file else {
        let fields: Vec<Field> = PREVIOUS_COLUMNS.iter().map(|(n, t)| Field::new(*n, t.clone(), true)).collect();
        return engine.register_batch(ctx, PREVIOUS, RecordBatch::new_empty(Arc::new(Schema::new(fields)))).await;
    };
    register_parquet(ctx, "previous_health_file", file)
        .await
        .with_context(|| format!("reading the previous run's customer_health {}", file.display()))?;
    let present = ctx.table("previous_health_file").await?.schema().clone();
    let columns: Vec<String> = PREVIOUS_COLUMNS
        .iter()
        .map(|(name, kind)| match present.has_column_with_unqualified_name(name) {
            true => format!("CAST(\"{name}\" AS {}) AS \"{name}\"", sql_type(kind)),
            false => format!("CAST(NULL AS {}) AS \"{name}\"", sql_type(kind)),
        })
        .collect();
    let view = ctx.sql(&format!("SELECT {} FROM previous_health_file", columns.join(", "))).await?.into_view();
    ctx.register_table(PREVIOUS, view)?;
    Ok(())
}

pub fn sql_type(kind: &DataType) -> &'static str {
    match kind {
        DataType::Date32 => "DATE",
        DataType::Float64 => "DOUBLE",
        _ => "VARCHAR",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_in_time_view_hides_later_rows_and_later_dates() {
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 6, d).unwrap();
        let sql = point_in_time_sql(canonical::source("invoices").unwrap(), "bronze_invoices", &[day(30)]);
        assert!(
            sql.contains("CASE WHEN \"invoice_date\" <= DATE '2026-06-30' THEN DATE '2026-06-30' END AS as_of"),
            "{sql}"
        );
        assert!(sql.contains("WHERE \"invoice_date\" <= DATE '2026-06-30'"), "{sql}");
        assert!(sql.contains("CASE WHEN \"paid_date\" <= DATE '2026-06-30' THEN \"paid_date\" END"), "{sql}");
        assert!(sql.contains(", \"due_date\","), "a due date is known when the invoice is written: {sql}");
        let accounts = point_in_time_sql(canonical::source("accounts").unwrap(), "b", &[day(30)]);
        assert!(accounts.contains("\"signup_date\" IS NULL OR"), "{accounts}");
        let several = point_in_time_sql(canonical::source("invoices").unwrap(), "bronze_invoices", &[day(1), day(30)]);
        assert!(several.contains("<= DATE '2026-06-01' UNION ALL SELECT CASE WHEN"), "{several}");
        assert!(several.contains("CASE WHEN \"paid_date\" <= DATE '2026-06-01'"), "{several}");
    }

    /// A fact model groups by the date and the customer: in DataFusion's partially sorted
    /// mode, which it picks for a column it knows to be constant, that took ten times as long.
    #[test]
    fn the_date_of_a_view_is_no_sort_order_to_group_by() {
        let engine = Engine::new(crate::transform::EngineOptions::default()).unwrap();
        let ctx = engine.session().unwrap();
        let source = canonical::source("relationship_assessments").unwrap();
        let date = NaiveDate::from_ymd_opt(2026, 6, 30).unwrap();
        let plan = engine.block_on(async {
            let empty = RecordBatch::new_empty(source.arrow_schema());
            engine.register_batch(&ctx, "exported", empty).await.unwrap();
            let view = ctx.sql(&point_in_time_sql(source, "exported", &[date])).await.unwrap().into_view();
            ctx.register_table("assessments", view).unwrap();
            let sql = "EXPLAIN SELECT as_of, customer_id, dimension, MAX(level) FROM assessments \
                       GROUP BY as_of, customer_id, dimension";
            let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
            datafusion::arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string()
        });
        assert!(plan.contains("AggregateExec"), "{plan}");
        assert!(!plan.contains("ordering_mode"), "{plan}");
    }
}
