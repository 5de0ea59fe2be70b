//! customer_health with the churn model's columns, as `scored_health`: customer_health's
//! rows streamed from its file in its order, each given its customer's churn scores by
//! lookup. It is the LEFT JOIN … ORDER BY customer_id the second pass would otherwise run,
//! without the join's hash table of 1M wide rows and the sort of all of them; it applies
//! when customer_health is already in customer order (the shipped model's ORDER BY) and
//! the churn scores have one row per customer.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, RecordBatchReader, StringArray, UInt32Array};
use datafusion::arrow::compute::{cast, concat_batches, take};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::same_column;
use crate::canonical;
use crate::table::{TableKind, TableSink, Written};

const CUSTOMER: &str = "customer_id";

/// Writes `table` through `sink`: the rows of the customer_health file `health` with the
/// churn columns of the scores file `scores` (null for a customer without scores), read
/// in batches of `batch_rows`. None, writing nothing, when `health` is not in strictly
/// ascending customer order or a customer has two rows of scores: the join then has to
/// run as SQL.
pub fn write(
    health: &Path,
    scores: &Path,
    batch_rows: usize,
    table: &str,
    kind: TableKind,
    sink: &dyn TableSink,
) -> Result<Option<Written>> {
    if !in_customer_order(health, batch_rows)? {
        return Ok(None);
    }
    let scores = read_all(scores)?;
    let ids = cast(scores.column_by_name(CUSTOMER).context("churn scores have a customer_id")?, &DataType::Utf8)?;
    let Some(mut scores_of) = ScoresOf::new(ids.as_string::<i32>()) else { return Ok(None) };
    let churn: Vec<ArrayRef> = canonical::CHURN_COLUMNS
        .iter()
        .map(|(name, _)| scores.column_by_name(name).cloned().with_context(|| format!("churn scores have {name}")))
        .collect::<Result<_>>()?;

    let reader = ParquetRecordBatchReaderBuilder::try_new(open(health)?)?.with_batch_size(batch_rows).build()?;
    let mut fields: Vec<Field> = reader.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend(
        churn.iter().zip(canonical::CHURN_COLUMNS).map(|(c, (name, _))| Field::new(name, c.data_type().clone(), true)),
    );
    let schema = Arc::new(Schema::new(fields));
    let mut writer = sink.create(table, schema.clone(), kind)?;
    for batch in reader {
        let batch = batch.with_context(|| format!("reading {}", health.display()))?;
        let customers =
            cast(batch.column_by_name(CUSTOMER).context("customer_health has a customer_id")?, &DataType::Utf8)?;
        let rows: UInt32Array =
            customers.as_string::<i32>().iter().map(|id| id.and_then(|id| scores_of.row(id))).collect();
        let mut columns = batch.columns().to_vec();
        for column in &churn {
            columns.push(take(column.as_ref(), &rows, None)?);
        }
        writer.write(&RecordBatch::try_new(schema.clone(), columns)?)?;
    }
    writer.finish().map(Some)
}

/// The row of each customer's churn scores, asked in ascending customer order.
enum ScoresOf<'a> {
    /// Scores in customer order (the shipped churn_features' order): found by walking on
    /// from the last customer asked, with no table of a million keys to build.
    Ordered {
        ids: &'a StringArray,
        next: usize,
    },
    Lookup(HashMap<&'a str, u32>),
}

impl<'a> ScoresOf<'a> {
    /// None when a customer has two rows of scores.
    fn new(ids: &'a StringArray) -> Option<ScoresOf<'a>> {
        if ids.null_count() == 0 && (1..ids.len()).all(|i| ids.value(i - 1) < ids.value(i)) {
            return Some(ScoresOf::Ordered { ids, next: 0 });
        }
        let mut row_of = HashMap::with_capacity(ids.len());
        for (row, id) in ids.iter().enumerate() {
            let Some(id) = id else { continue };
            if row_of.insert(id, row as u32).is_some() {
                return None;
            }
        }
        Some(ScoresOf::Lookup(row_of))
    }

    /// The row of `id`'s scores; `id` is above every customer asked before.
    fn row(&mut self, id: &str) -> Option<u32> {
        match self {
            ScoresOf::Ordered { ids, next } => {
                while *next < ids.len() && ids.value(*next) < id {
                    *next += 1;
                }
                (*next < ids.len() && ids.value(*next) == id).then_some(*next as u32)
            }
            ScoresOf::Lookup(row_of) => row_of.get(id).copied(),
        }
    }
}

/// Whether the customer_id column of the file `health` strictly ascends, without nulls.
fn in_customer_order(health: &Path, batch_rows: usize) -> Result<bool> {
    let Some(ids) = same_column::column_reader(health, CUSTOMER)? else { return Ok(false) };
    let mut last: Option<String> = None;
    for batch in ids.with_batch_size(batch_rows).build()? {
        let ids = cast(batch?.column(0), &DataType::Utf8)?;
        let ids = ids.as_string::<i32>();
        if ids.null_count() > 0 {
            return Ok(false);
        }
        let mut previous = last.as_deref();
        for id in ids.iter().flatten() {
            if previous.is_some_and(|p| p >= id) {
                return Ok(false);
            }
            previous = Some(id);
        }
        last = previous.map(str::to_string);
    }
    Ok(true)
}

fn read_all(path: &Path) -> Result<RecordBatch> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(open(path)?)?.build()?;
    let schema = reader.schema();
    let batches =
        reader.collect::<std::result::Result<Vec<_>, _>>().with_context(|| format!("reading {}", path.display()))?;
    Ok(concat_batches(&schema, &batches)?)
}

fn open(path: &Path) -> Result<File> {
    File::open(path).with_context(|| format!("opening {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_in_customer_order_or_not_are_found_for_the_same_customers() {
        let ordered = StringArray::from(vec!["c2", "c4", "c5", "c9"]);
        let shuffled = StringArray::from(vec!["c5", "c9", "c2", "c4"]);
        let asked = ["c1", "c2", "c3", "c5", "c9", "x"];
        let found = |ids: &StringArray| {
            let mut of = ScoresOf::new(ids).unwrap();
            asked.iter().map(|id| of.row(id).map(|row| ids.value(row as usize).to_string())).collect::<Vec<_>>()
        };
        assert!(matches!(ScoresOf::new(&ordered), Some(ScoresOf::Ordered { .. })));
        assert!(matches!(ScoresOf::new(&shuffled), Some(ScoresOf::Lookup(_))));
        let expected: Vec<Option<String>> =
            [None, Some("c2"), None, Some("c5"), Some("c9"), None].iter().map(|f| f.map(str::to_string)).collect();
        assert_eq!(found(&ordered), expected);
        assert_eq!(found(&shuffled), expected);
        assert!(ScoresOf::new(&StringArray::from(vec!["c2", "c5", "c2"])).is_none(), "two rows for c2");
    }
}
