//! From the SQL lane's Arrow tables to the numbers a model trains on: one row per customer
//! (and training date), one column per feature, NaN where a value is missing.

use anyhow::{bail, Context, Result};
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type, Schema};
use ndarray::Array2;

use super::btyd;
use crate::canonical::{CHURNED, RF_SCORE};
use crate::table::{text_column, Batches, Table};

/// Customers as rows, features as columns.
pub struct Features {
    pub customers: Vec<String>,
    pub names: Vec<String>,
    pub x: Array2<f64>,
}

const ID: &str = "customer_id";
const AS_OF: &str = "as_of";

/// The columns of the SQL lane's tables that are keys or outcomes, not features.
const NOT_FEATURES: [&str; 4] = [ID, AS_OF, CHURNED, RF_SCORE];

/// The feature columns of `schema`, then the features the model lane derives from them
/// (the BG/NBD ones, when the purchase histories are there), which start out missing.
fn feature_names(schema: &Schema) -> Vec<String> {
    let mut names: Vec<String> =
        schema.fields().iter().map(|f| f.name().clone()).filter(|n| !NOT_FEATURES.contains(&n.as_str())).collect();
    if btyd::HISTORY.iter().all(|h| names.iter().any(|n| n == h)) {
        names.extend(btyd::FEATURES.iter().map(|f| f.to_string()));
    }
    names
}

/// Copies the feature columns of `batch` into rows `offset..` of `x` (derived ones stay
/// missing).
fn fill(x: &mut Array2<f64>, offset: usize, batch: &RecordBatch, names: &[String]) -> Result<()> {
    for (j, name) in names.iter().enumerate().filter(|(_, n)| !btyd::FEATURES.contains(&n.as_str())) {
        let column = batch.column_by_name(name).with_context(|| format!("no feature column {name}"))?;
        let column = cast(column, &DataType::Float64).with_context(|| format!("feature {name} is not numeric"))?;
        for (i, v) in column.as_primitive::<Float64Type>().iter().enumerate() {
            x[[offset + i, j]] = v.unwrap_or(f64::NAN);
        }
    }
    Ok(())
}

/// Every feature column of a features table (churn_features as of the run), as Float64.
pub fn features(table: &Table) -> Result<Features> {
    let names = feature_names(&table.schema);
    let mut x = Array2::from_elem((table.rows(), names.len()), f64::NAN);
    let mut customers = Vec::with_capacity(table.rows());
    let mut offset = 0;
    for batch in &table.batches {
        customers.extend(text_column(batch.column_by_name(ID).context("features need customer_id")?)?);
        fill(&mut x, offset, batch, &names)?;
        offset += batch.num_rows();
    }
    Ok(Features { customers, names, x })
}

/// The training set: every training date's customers, newest date first.
pub struct Training {
    pub names: Vec<String>,
    pub x: Array2<f64>,
    pub churned: Vec<bool>,
    /// R + F score at the row's date, for the baseline.
    pub rf: Vec<i64>,
    /// The row's date (Arrow day number).
    pub dates: Vec<i32>,
}

/// Reads the training rows (as_of, customer_id, churned, rf_score and the features) batch
/// by batch into one matrix, so the Arrow table is never held whole beside it.
pub fn training(rows: usize, batches: Batches) -> Result<Training> {
    let mut batches = batches.peekable();
    let names = match batches.peek() {
        Some(Ok(batch)) => feature_names(&batch.schema()),
        Some(Err(_)) => return Err(batches.next().expect("peeked").unwrap_err()),
        None => Vec::new(),
    };
    let mut t = Training {
        x: Array2::from_elem((rows, names.len()), f64::NAN),
        names,
        churned: Vec::with_capacity(rows),
        rf: Vec::with_capacity(rows),
        dates: Vec::with_capacity(rows),
    };
    let mut offset = 0;
    for batch in batches {
        let batch = batch?;
        if offset + batch.num_rows() > rows {
            bail!("the training set has more rows than the {rows} announced");
        }
        fill(&mut t.x, offset, &batch, &t.names)?;
        let column = |name: &str| batch.column_by_name(name).with_context(|| format!("training rows need {name}"));
        t.churned.extend(column(CHURNED)?.as_boolean().iter().map(|c| c.unwrap_or(false)));
        let rf = cast(column(RF_SCORE)?, &DataType::Int64)?;
        t.rf.extend(rf.as_primitive::<Int64Type>().iter().map(|v| v.unwrap_or(0)));
        let dates = cast(column(AS_OF)?, &DataType::Date32)?;
        t.dates.extend(dates.as_primitive::<Date32Type>().iter().map(|d| d.unwrap_or_default()));
        offset += batch.num_rows();
    }
    if offset != rows {
        bail!("the training set has {offset} rows, not the {rows} announced");
    }
    Ok(t)
}
