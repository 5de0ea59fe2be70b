//! Encoding a Parquet file's columns side by side. The encoding (and zstd) of a wide table
//! is most of the time it takes to write, and Parquet's own `ArrowWriter` does it on one
//! thread; here each column of a row group is encoded by whichever core is free. Every
//! column writer sees the same values in the same order as `ArrowWriter` would give it,
//! and row groups end at the same rows, so the file has the same bytes.

use std::fs::File;
use std::sync::Mutex;

use parquet::arrow::arrow_writer::{compute_leaves, ArrowColumnWriter, ArrowLeafColumn, ArrowRowGroupWriterFactory};
use parquet::arrow::ArrowWriter;
use parquet::errors::{ParquetError, Result};
use parquet::file::writer::SerializedFileWriter;

use datafusion::arrow::array::RecordBatch;

/// Rows gathered before their columns are encoded: enough that starting the encoding
/// threads costs little beside it, few enough to hold.
const ENCODE_ROWS: usize = 64 * 1024;

/// A Parquet file whose columns are encoded in parallel.
pub struct Encoder {
    file: SerializedFileWriter<File>,
    factory: ArrowRowGroupWriterFactory,
    /// The row group being written (its column writers) and the rows it has.
    group: Option<Vec<ArrowColumnWriter>>,
    group_rows: usize,
    max_group_rows: usize,
    /// Rows of the row group not yet encoded.
    pending: Vec<RecordBatch>,
    pending_rows: usize,
}

impl Encoder {
    /// Takes over `writer`, before anything has been written to it: its file, schema and
    /// properties (the Arrow schema in the footer included).
    pub fn new(writer: ArrowWriter<File>) -> Result<Encoder> {
        let (file, factory) = writer.into_serialized_writer()?;
        let max_group_rows = file.properties().max_row_group_row_count().unwrap_or(usize::MAX).max(1);
        Ok(Encoder { file, factory, group: None, group_rows: 0, max_group_rows, pending: Vec::new(), pending_rows: 0 })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut batch = batch.clone();
        while batch.num_rows() > 0 {
            let room = self.max_group_rows - self.group_rows - self.pending_rows;
            let take = batch.num_rows().min(room);
            self.pending.push(batch.slice(0, take));
            self.pending_rows += take;
            batch = batch.slice(take, batch.num_rows() - take);
            if self.group_rows + self.pending_rows == self.max_group_rows {
                self.close_group()?;
            } else if self.pending_rows >= ENCODE_ROWS {
                self.encode()?;
            }
        }
        Ok(())
    }

    pub fn close(mut self) -> Result<()> {
        self.close_group()?;
        self.file.close()?;
        Ok(())
    }

    /// Encodes the pending rows into the row group's column writers, each column's batches
    /// in order, the columns spread over the cores.
    fn encode(&mut self) -> Result<()> {
        if self.pending_rows == 0 {
            return Ok(());
        }
        let writers = match &mut self.group {
            Some(writers) => writers,
            group => group.insert(self.factory.create_column_writers(self.file.flushed_row_groups().len())?),
        };
        let mut leaves: Vec<Vec<ArrowLeafColumn>> = (0..writers.len()).map(|_| Vec::new()).collect();
        for batch in self.pending.drain(..) {
            let mut next = leaves.iter_mut();
            for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
                for leaf in compute_leaves(field, column)? {
                    next.next().ok_or_else(|| general("more leaf columns than column writers"))?.push(leaf);
                }
            }
        }
        let writers_count = writers.len();
        let jobs = Mutex::new(writers.iter_mut().zip(leaves));
        let encode_columns = || -> Result<()> {
            loop {
                let job = jobs.lock().map_err(|_| general("a column encoder panicked"))?.next();
                let Some((writer, leaves)) = job else { return Ok(()) };
                for leaf in &leaves {
                    writer.write(leaf)?;
                }
            }
        };
        // No more threads than columns: a narrow table's extra ones would find no work.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(writers_count);
        std::thread::scope(|scope| {
            let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(encode_columns)).collect();
            let mut result = encode_columns();
            for helper in helpers {
                let done = helper.join().unwrap_or_else(|_| Err(general("a column encoder panicked")));
                result = result.and(done);
            }
            result
        })?;
        self.group_rows += self.pending_rows;
        self.pending_rows = 0;
        Ok(())
    }

    /// Encodes what is pending and appends the row group to the file.
    fn close_group(&mut self) -> Result<()> {
        self.encode()?;
        let Some(writers) = self.group.take() else { return Ok(()) };
        let mut group = self.file.next_row_group()?;
        for writer in writers {
            writer.close()?.append_to_row_group(&mut group)?;
        }
        group.close()?;
        self.group_rows = 0;
        Ok(())
    }
}

fn general(message: &str) -> ParquetError {
    ParquetError::General(message.to_string())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Float64Array, Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use parquet::file::properties::WriterProperties;

    use super::*;

    fn batches() -> Vec<RecordBatch> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("customer_id", DataType::Utf8, false),
            Field::new("score", DataType::Float64, true),
            Field::new("invoices", DataType::Int64, true),
        ]));
        (0..7)
            .map(|b| {
                let rows = 1000 + 377 * b;
                let ids = StringArray::from_iter_values((0..rows).map(|i| format!("C{b}-{i}")));
                let scores = Float64Array::from_iter((0..rows).map(|i| (i % 11 != 0).then(|| i as f64 / 7.0)));
                let invoices = Int64Array::from_iter((0..rows).map(|i| (i % 5 != 0).then_some(i as i64 * 3)));
                RecordBatch::try_new(schema.clone(), vec![Arc::new(ids), Arc::new(scores), Arc::new(invoices)]).unwrap()
            })
            .collect()
    }

    #[test]
    fn the_file_has_the_bytes_arrow_writer_gives_it() {
        let dir = tempfile::tempdir().unwrap();
        // Row groups of 2,500 rows: batches are split across them, as ArrowWriter splits them.
        let props = || Some(WriterProperties::builder().set_max_row_group_row_count(Some(2500)).build());
        let schema = batches()[0].schema();
        let serial = dir.path().join("serial.parquet");
        let mut writer = ArrowWriter::try_new(File::create(&serial).unwrap(), schema.clone(), props()).unwrap();
        for batch in batches() {
            writer.write(&batch).unwrap();
        }
        writer.close().unwrap();
        let parallel = dir.path().join("parallel.parquet");
        let writer = ArrowWriter::try_new(File::create(&parallel).unwrap(), schema, props()).unwrap();
        let mut encoder = Encoder::new(writer).unwrap();
        for batch in batches() {
            encoder.write(&batch).unwrap();
        }
        encoder.close().unwrap();
        let (serial, parallel) = (std::fs::read(serial).unwrap(), std::fs::read(parallel).unwrap());
        assert!(serial.len() > 10_000, "{} bytes", serial.len());
        assert!(serial == parallel, "{} bytes written serially, {} in parallel", serial.len(), parallel.len());
    }
}
