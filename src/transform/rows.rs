//! Reading a query's result column by column: the small results the commands that read
//! published tables (report, diff) turn into figures.

use anyhow::{Context, Result};
use datafusion::arrow::array::{ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::prelude::SessionContext;

use crate::table::text_column;

/// A query's result.
pub struct Rows(Vec<RecordBatch>);

/// Runs `sql` and collects its result.
pub async fn query(ctx: &SessionContext, sql: &str) -> Result<Rows> {
    let frame = ctx.sql(sql).await.with_context(|| format!("the query does not plan: {sql}"))?;
    Ok(Rows(frame.collect().await.with_context(|| format!("the query failed: {sql}"))?))
}

impl Rows {
    fn arrays(&self, column: &str) -> Result<Vec<&ArrayRef>> {
        self.0.iter().map(|b| b.column_by_name(column).with_context(|| format!("no column {column}"))).collect()
    }

    /// A column as text, one string per row (empty where missing).
    pub fn text(&self, column: &str) -> Result<Vec<String>> {
        let mut values = Vec::new();
        for array in self.arrays(column)? {
            values.extend(text_column(array)?);
        }
        Ok(values)
    }

    /// A column as numbers (None where missing).
    pub fn numbers(&self, column: &str) -> Result<Vec<Option<f64>>> {
        let mut values = Vec::new();
        for array in self.arrays(column)? {
            values.extend(cast(array, &DataType::Float64)?.as_primitive::<Float64Type>().iter());
        }
        Ok(values)
    }

    /// A column of counts (0 where missing).
    pub fn counts(&self, column: &str) -> Result<Vec<i64>> {
        Ok(self.numbers(column)?.into_iter().map(|v| v.unwrap_or(0.0) as i64).collect())
    }
}
