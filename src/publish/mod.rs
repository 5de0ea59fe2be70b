//! The publish lane (arrow/parquet): every table a run writes, through one Parquet writer
//! ([`writer`]), into a staging folder that is committed whole ([`staging`]), or into
//! drafts for a re-score ([`drafts`]); the run's manifest; the output's one-writer lock
//! ([`lock`]); and what readers see of the committed runs ([`snapshot`]). Where each file
//! goes is the layout's business (`crate::layout`).

mod drafts;
mod encoder;
pub mod lock;
pub mod retention;
pub mod snapshot;
mod staging;
mod writer;

use std::fs::File;
use std::path::Path;

use anyhow::{Context, Result};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::layout::OutputLayout;
use crate::manifest::Manifest;
use crate::table::{TableKind, TableSink, Written};

pub use drafts::Drafts;
pub use staging::{recover, Staging};
pub use writer::{open_batches, read_table, schema, temporary, values_in};

/// Writes `bytes` to `path` via a temporary file and a rename: the file is whole or absent.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().context("a file lives in a folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = writer::temporary(path);
    let mut file = File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    std::io::Write::write_all(&mut file, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    file.sync_all().with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// Writes a run's manifest into its folder of `out`, whole or not at all.
pub fn write_manifest(out: &OutputLayout, manifest: &Manifest) -> Result<()> {
    write_atomically(&out.manifest_file(manifest.as_of), &serde_json::to_vec_pretty(manifest)?)
}

/// Publishes `parts` (work tables of one shape, such as each source's reject records) as
/// one table `name`, in their order, batch by batch.
pub fn gather(sink: &dyn TableSink, name: &str, parts: &[Written]) -> Result<Written> {
    let mut writer = None;
    for part in parts {
        let file = File::open(&part.path).with_context(|| format!("opening {}", part.path.display()))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)?;
        let writer = match &mut writer {
            Some(w) => w,
            None => writer.insert(sink.create(name, reader.schema().clone(), TableKind::Published)?),
        };
        for batch in reader.build()? {
            writer.write(&batch?)?;
        }
    }
    writer.with_context(|| format!("no parts to gather into {name}"))?.finish()
}
