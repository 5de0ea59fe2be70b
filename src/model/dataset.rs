//! From the SQL lane's Arrow tables to the numbers a model trains on: one row per
//! customer, one column per feature, NaN where a value is missing.

use std::collections::HashMap;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use datafusion::arrow::array::AsArray;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type};
use ndarray::Array2;

use crate::canonical::from_epoch_days;
use crate::table::{text_column, Table};

/// Customers as rows, features as columns.
pub struct Features {
    pub customers: Vec<String>,
    pub names: Vec<String>,
    pub x: Array2<f64>,
}

const ID: &str = "customer_id";

/// Every column but `customer_id` of a features table, as Float64.
pub fn features(table: &Table) -> Result<Features> {
    let names: Vec<String> = table.schema.fields().iter().map(|f| f.name().clone()).filter(|n| n != ID).collect();
    let rows: usize = table.batches.iter().map(|b| b.num_rows()).sum();
    let mut x = Array2::from_elem((rows, names.len()), f64::NAN);
    let mut customers = Vec::with_capacity(rows);
    let mut offset = 0;
    for batch in &table.batches {
        customers.extend(text_column(batch.column_by_name(ID).context("features need customer_id")?)?);
        for (j, name) in names.iter().enumerate() {
            let column = cast(batch.column_by_name(name).expect("column of the schema"), &DataType::Float64)
                .with_context(|| format!("feature {name} of {} is not numeric", table.name))?;
            for (i, v) in column.as_primitive::<Float64Type>().iter().enumerate() {
                x[[offset + i, j]] = v.unwrap_or(f64::NAN);
            }
        }
        offset += batch.num_rows();
    }
    Ok(Features { customers, names, x })
}

/// A date column per customer (None where missing).
pub fn dates_by_customer(table: &Table, column: &str) -> Result<HashMap<String, Option<NaiveDate>>> {
    let mut out = HashMap::new();
    for batch in &table.batches {
        let ids = text_column(batch.column_by_name(ID).context("needs customer_id")?)?;
        let dates = cast(batch.column_by_name(column).with_context(|| format!("needs {column}"))?, &DataType::Date32)?;
        for (id, d) in ids.into_iter().zip(dates.as_primitive::<Date32Type>().iter()) {
            out.insert(id, d.map(from_epoch_days));
        }
    }
    Ok(out)
}

/// A whole-number column per customer (None where missing).
pub fn numbers_by_customer(table: &Table, column: &str) -> Result<HashMap<String, Option<i64>>> {
    let mut out = HashMap::new();
    for batch in &table.batches {
        let ids = text_column(batch.column_by_name(ID).context("needs customer_id")?)?;
        let values = cast(batch.column_by_name(column).with_context(|| format!("needs {column}"))?, &DataType::Int64)?;
        for (id, v) in ids.into_iter().zip(values.as_primitive::<Int64Type>().iter()) {
            out.insert(id, v);
        }
    }
    Ok(out)
}
