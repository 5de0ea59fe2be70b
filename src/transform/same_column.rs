//! Whether a column holds the same values, row for row, in two Parquet files: what lets a
//! re-score keep a data test's result when the table it tests was computed again but the
//! columns the test reads did not change (a new weight moves health scores, not customer ids).
//! Also the one reader of a single column of a table's file.

use std::fs::File;
use std::path::Path;

use anyhow::{Context, Result};
use datafusion::arrow::array::{Array, ArrayRef};
use datafusion::parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use datafusion::parquet::arrow::ProjectionMask;

/// Whether `column` has the same type and values in the same order in the files `a` and
/// `b`; a column neither file has counts as the same, one only one file has does not.
pub fn same_column(a: &Path, b: &Path, column: &str) -> Result<bool> {
    if a == b {
        return Ok(true);
    }
    let (a, b) = match (column_reader(a, column)?, column_reader(b, column)?) {
        (None, None) => return Ok(true),
        (Some(a), Some(b)) => (a, b),
        _ => return Ok(false),
    };
    let rows = |r: &ParquetRecordBatchReaderBuilder<File>| r.metadata().file_metadata().num_rows();
    if rows(&a) != rows(&b) {
        return Ok(false);
    }
    let (mut a, mut b) = (Values::new(a.build()?), Values::new(b.build()?));
    // The files' batches need not end at the same rows: compare the overlap of the two
    // current batches, then go on with what is left of each.
    loop {
        match (a.current()?, b.current()?) {
            (None, None) => return Ok(true),
            (Some(x), Some(y)) => {
                let n = x.len().min(y.len());
                if x.slice(0, n).as_ref() != y.slice(0, n).as_ref() {
                    return Ok(false);
                }
                a.advance(n);
                b.advance(n);
            }
            _ => return Ok(false),
        }
    }
}

/// A reader of `file` that reads its `column` alone; None without such a column.
pub(super) fn column_reader(file: &Path, column: &str) -> Result<Option<ParquetRecordBatchReaderBuilder<File>>> {
    let opened = File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(opened)?;
    let Ok(index) = builder.schema().index_of(column) else { return Ok(None) };
    let mask = ProjectionMask::roots(builder.parquet_schema(), [index]);
    Ok(Some(builder.with_projection(mask)))
}

/// A column's values, batch by batch, with the rows of the current batch not yet compared.
struct Values {
    reader: ParquetRecordBatchReader,
    rest: Option<ArrayRef>,
}

impl Values {
    fn new(reader: ParquetRecordBatchReader) -> Values {
        Values { reader, rest: None }
    }

    /// The rows not yet compared, reading on past empty batches; None at the end.
    fn current(&mut self) -> Result<Option<ArrayRef>> {
        while self.rest.as_ref().is_none_or(|r| r.is_empty()) {
            match self.reader.next() {
                Some(batch) => self.rest = Some(batch?.column(0).clone()),
                None => return Ok(None),
            }
        }
        Ok(self.rest.clone())
    }

    fn advance(&mut self, n: usize) {
        if let Some(rest) = &self.rest {
            self.rest = Some(rest.slice(n, rest.len() - n));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Float64Array, RecordBatch, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::parquet::file::properties::WriterProperties;

    use super::*;

    /// A file of `ids` and `scores`, written in row groups of `group_rows`.
    fn file(dir: &Path, name: &str, ids: &[Option<&str>], scores: &[f64], group_rows: usize) -> std::path::PathBuf {
        let schema = Arc::new(Schema::new(vec![
            Field::new("customer_id", DataType::Utf8, true),
            Field::new("health_score", DataType::Float64, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(StringArray::from(ids.to_vec())), Arc::new(Float64Array::from(scores.to_vec()))],
        )
        .unwrap();
        let path = dir.join(name);
        let props = WriterProperties::builder().set_max_row_group_row_count(Some(group_rows)).build();
        let mut writer = ArrowWriter::try_new(File::create(&path).unwrap(), schema, Some(props)).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        path
    }

    #[test]
    fn the_same_ids_beside_other_scores_are_the_same_column() {
        let dir = tempfile::tempdir().unwrap();
        let ids = [Some("c1"), None, Some("c3"), Some("c4"), Some("c5")];
        let was = file(dir.path(), "was.parquet", &ids, &[1.0, 2.0, 3.0, 4.0, 5.0], 2);
        let now = file(dir.path(), "now.parquet", &ids, &[9.0, 2.0, 3.0, 4.0, 5.0], 3);
        assert!(same_column(&was, &now, "customer_id").unwrap(), "row groups of 2 and 3 rows hold the same ids");
        assert!(!same_column(&was, &now, "health_score").unwrap(), "the first score moved");
        assert!(same_column(&was, &now, "churn_risk").unwrap(), "neither file has it");
    }

    #[test]
    fn another_id_order_or_count_or_null_is_another_column() {
        let dir = tempfile::tempdir().unwrap();
        let was = file(dir.path(), "was.parquet", &[Some("c1"), Some("c2"), Some("c3")], &[1.0, 2.0, 3.0], 2);
        let cases: [(&str, &[Option<&str>]); 3] = [
            ("swapped.parquet", &[Some("c2"), Some("c1"), Some("c3")]),
            ("shorter.parquet", &[Some("c1"), Some("c2")]),
            ("null.parquet", &[Some("c1"), None, Some("c3")]),
        ];
        for (name, ids) in cases {
            let now = file(dir.path(), name, ids, &vec![1.0; ids.len()], 2);
            assert!(!same_column(&was, &now, "customer_id").unwrap(), "{name}");
        }
    }
}
