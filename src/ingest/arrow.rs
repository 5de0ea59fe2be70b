//! From polars frames to the Arrow batches every lane hands on: bronze rows typed by their
//! canonical kind, and reject records.

use std::sync::Arc;

use anyhow::Result;
use datafusion::arrow::array::{ArrayRef, Date32Array, Float64Array, Int32Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType as ArrowType, Field as ArrowField, Schema, SchemaRef};
use polars::prelude::*;

/// A frame's columns as an Arrow batch of `schema` (same names, polars types matching the
/// Arrow ones: String, Date, Float64, Int32).
pub fn to_batch(frame: &DataFrame, schema: &SchemaRef) -> Result<RecordBatch> {
    let columns = schema
        .fields()
        .iter()
        .map(|field| {
            let column = frame.column(field.name()).map_err(|e| anyhow::anyhow!("no column {}: {e}", field.name()))?;
            let array: ArrayRef = match field.data_type() {
                ArrowType::Utf8 => Arc::new(column.str()?.iter().collect::<StringArray>()),
                ArrowType::Date32 => Arc::new(column.date()?.physical().iter().collect::<Date32Array>()),
                ArrowType::Float64 => Arc::new(column.f64()?.iter().collect::<Float64Array>()),
                ArrowType::Int32 => Arc::new(column.i32()?.iter().collect::<Int32Array>()),
                other => anyhow::bail!("column {} of type {other} has no polars counterpart here", field.name()),
            };
            Ok(array)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

/// The columns of the `rejects` table, in order.
pub fn rejects_schema() -> SchemaRef {
    let text = |name: &str| ArrowField::new(name, ArrowType::Utf8, true);
    Arc::new(Schema::new(vec![
        ArrowField::new("as_of", ArrowType::Date32, true),
        text("source"),
        text("file"),
        ArrowField::new("line", ArrowType::Int64, true),
        text("column"),
        text("field"),
        text("raw_value"),
        text("reason"),
        text("sheet"),
    ]))
}
