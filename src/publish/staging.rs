//! A run's staging folder and its crash-safe commit.
//!
//! Every table of a run is written into `<out>/.staging/as_of=<date>/`, laid out like the
//! output directory. Once every staged file is complete and on disk, a journal
//! (`COMMIT.json`, written atomically) records the run's partitions and manifest: that is
//! the commit point. Files then move into place one rename at a time, each file they
//! replace first kept (a hard link) under the staging folder's `previous/`; then the
//! manifest is written, which is when readers switch to the new run ([`super::snapshot`]);
//! only then do files and partitions the run no longer produces go. A run killed before
//! the journal leaves only staging, which the next run deletes; one killed after it is
//! finished by the next run ([`recover`]), and until then readers see the previous run.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use datafusion::arrow::datatypes::SchemaRef;
use serde::{Deserialize, Serialize};

use super::writer::{self, ParquetFile};
use super::{write_atomically, write_manifest};
use crate::layout::OutputLayout;
use crate::manifest::Manifest;
use crate::table::{TableKind, TableSink, TableWriter, Written};

/// The staging folder of one run and the partitions it has staged so far.
pub struct Staging {
    out: OutputLayout,
    staged: OutputLayout,
    as_of: NaiveDate,
    partitions: Mutex<BTreeSet<String>>,
}

/// What a committed run publishes: its partitions (table folders) and its manifest, which
/// lists the files of each (absent in journals of older versions: nothing is removed).
#[derive(Serialize, Deserialize)]
struct Journal {
    partitions: Vec<String>,
    manifest: Manifest,
}

impl Staging {
    /// Opens a fresh staging folder for a run as of `as_of`, after finishing or clearing
    /// whatever earlier runs left there. Call it holding the output's lock.
    pub fn begin(out: &OutputLayout, as_of: NaiveDate) -> Result<Staging> {
        recover(out)?;
        super::snapshot::remove_abandoned(out);
        let staged = out.staging(as_of);
        std::fs::create_dir_all(staged.root()).with_context(|| {
            format!(
                "cannot create the staging folder {}: check that the output directory is writable",
                staged.root().display()
            )
        })?;
        Ok(Staging { out: out.clone(), staged, as_of, partitions: Mutex::new(BTreeSet::new()) })
    }

    /// Stages one more file (such as a model) in a partition of `table`.
    pub fn write_file(&self, table: &str, name: &str, bytes: &[u8]) -> Result<()> {
        let dir = self.staged.partition_dir(table, self.as_of);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(dir.join(name), bytes).with_context(|| format!("writing {}", dir.join(name).display()))?;
        self.partitions.lock().expect("not poisoned").insert(table.to_string());
        Ok(())
    }

    /// Publishes every staged partition and then the manifest. An existing partition of the
    /// same date is replaced: a rerun of a date overwrites it.
    pub fn commit(self, manifest: &Manifest) -> Result<()> {
        let partitions: Vec<String> = self.partitions.into_inner().expect("not poisoned").into_iter().collect();
        let mut manifest = manifest.clone();
        for table in &partitions {
            let dir = self.staged.partition_dir(table, self.as_of);
            manifest.files.insert(table.clone(), sync_folder(&dir)?);
        }
        let journal = Journal { partitions, manifest };
        let path = self.staged.journal_file();
        write_atomically(&path, &serde_json::to_vec_pretty(&journal)?)?;
        sync_dir(self.staged.root())?;
        apply(&self.out, &self.staged).with_context(|| {
            format!(
                "the run as of {} is committed ({}) but publishing it stopped: some tables are new, \
                 some still old. The next `vitals run` on this output finishes the publish first",
                self.as_of,
                path.display()
            )
        })
    }
}

impl TableSink for Staging {
    fn spill_dir(&self) -> PathBuf {
        self.staged.spill_dir()
    }

    fn create(&self, table: &str, schema: SchemaRef, kind: TableKind) -> Result<Box<dyn TableWriter + '_>> {
        let partition = (kind == TableKind::Published).then_some(self.as_of);
        Ok(Box::new(ParquetFile::create(table, &self.place(table, kind), schema, false, partition, kind)?))
    }

    fn adopt(&self, table: &str, file: &Path, kind: TableKind) -> Result<Written> {
        writer::copy_table(table, file, &self.place(table, kind))
    }
}

impl Staging {
    /// Where `table` of `kind` is staged; a published or saved one joins the commit.
    fn place(&self, table: &str, kind: TableKind) -> PathBuf {
        let mut partitions = self.partitions.lock().expect("not poisoned");
        match kind {
            TableKind::Published => {
                partitions.insert(table.to_string());
                self.staged.table_file(table, self.as_of)
            }
            TableKind::Saved => {
                partitions.insert(OutputLayout::facts_table().to_string());
                self.staged.fact_file(table, self.as_of)
            }
            TableKind::Work => self.staged.work_file(table),
        }
    }
}

/// Finishes runs that committed but did not finish publishing, and deletes the staging
/// of runs that never reached their commit point.
pub fn recover(out: &OutputLayout) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(out.staging_root()) else {
        return Ok(());
    };
    for entry in entries {
        let staged = OutputLayout::new(entry?.path());
        if staged.journal_file().exists() {
            tracing::warn!(staging = %staged.root().display(), "finishing the publish of an interrupted run");
            apply(out, &staged)?;
        } else {
            tracing::info!(staging = %staged.root().display(), "removing what an interrupted run left");
            std::fs::remove_dir_all(staged.root()).with_context(|| format!("cleaning {}", staged.root().display()))?;
        }
    }
    Ok(())
}

/// Moves a committed staging folder's files into place, keeping each file it replaces
/// under `previous/` until the manifest is written; then removes what the run no longer
/// produces, and the staging folder. Repeating it after an interruption finishes the job.
fn apply(out: &OutputLayout, staged: &OutputLayout) -> Result<()> {
    let path = staged.journal_file();
    let journal: Journal = serde_json::from_slice(&std::fs::read(&path)?).with_context(|| {
        format!("{} is damaged: delete the folder {} and rerun", path.display(), staged.root().display())
    })?;
    let as_of = journal.manifest.as_of;
    let previous = staged.previous();
    for (done, table) in journal.partitions.iter().enumerate() {
        let (from, to) = (staged.partition_dir(table, as_of), out.partition_dir(table, as_of));
        std::fs::create_dir_all(&to).with_context(|| format!("creating {}", to.display()))?;
        if let Ok(files) = std::fs::read_dir(&from) {
            for file in files {
                let file = file?;
                let target = to.join(file.file_name());
                keep_previous(&target, &previous.partition_dir(table, as_of).join(file.file_name()));
                std::fs::rename(file.path(), &target).with_context(|| format!("publishing {}", target.display()))?;
            }
        }
        sync_dir(&to)?;
        hold_for_test(done + 1 == journal.partitions.len() / 2);
    }
    write_manifest(out, &journal.manifest)?;
    sync_dir(&out.run_dir(as_of))?;
    if !journal.manifest.files.is_empty() {
        for (table, keep) in &journal.manifest.files {
            remove_others(&out.partition_dir(table, as_of), keep)?;
        }
        // A model reused from this very date stays: the manifest names it.
        let reused_here = journal.manifest.churn.model.as_deref() == Some(out.model_file(as_of).as_path());
        remove_stale_partitions(out, as_of, &journal.partitions, reused_here)?;
    }
    std::fs::remove_dir_all(staged.root()).with_context(|| format!("cleaning {}", staged.root().display()))
}

/// Keeps the published file `live`, about to be replaced, as `kept`, so readers can still
/// read the previous run whole. A second pass after an interruption keeps the first copy.
/// Where the file system has no hard links, readers may see this file new a moment early.
fn keep_previous(live: &Path, kept: &Path) {
    if !live.exists() || kept.exists() {
        return;
    }
    let linked = kept.parent().map(std::fs::create_dir_all).transpose().and_then(|_| std::fs::hard_link(live, kept));
    if let Err(e) = linked {
        tracing::warn!("could not keep {} while the run publishes ({e}); readers may see it new early", live.display());
    }
}

/// A test hook: with `VITALS_TEST_HOLD_PUBLISH=<file>` set, the publish stops `halfway`
/// (after half its partitions), creates `<file>` and waits while it exists, so a test can
/// read (or kill) a run in the middle of publishing.
fn hold_for_test(halfway: bool) {
    let Some(flag) = std::env::var_os("VITALS_TEST_HOLD_PUBLISH").filter(|_| halfway) else { return };
    let flag = PathBuf::from(flag);
    if std::fs::write(&flag, b"held").is_ok() {
        while flag.exists() {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// Removes the files of a published partition folder that the committed run did not write.
fn remove_others(dir: &Path, keep: &[String]) -> Result<()> {
    for file in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let file = file?;
        let name = file.file_name().to_string_lossy().to_string();
        if !keep.contains(&name) && file.file_type()?.is_file() {
            std::fs::remove_file(file.path())
                .with_context(|| format!("removing the stale {}", file.path().display()))?;
        }
    }
    Ok(())
}

/// Removes the partitions of date `as_of` that an earlier run of that date published and
/// this one does not (a table dropped from `publish`, a source removed, a model reused
/// rather than trained), so no stale partition outlives a rerun.
fn remove_stale_partitions(out: &OutputLayout, as_of: NaiveDate, published: &[String], keep_model: bool) -> Result<()> {
    let mut tables: Vec<String> = out.table_dirs().unwrap_or_default().into_iter().map(|(t, _)| t).collect();
    tables.extend(out.bronze_dirs().into_iter().map(|(s, _)| OutputLayout::bronze_table(&s)));
    if !keep_model {
        tables.push(OutputLayout::models_table().to_string());
    }
    tables.push(OutputLayout::facts_table().to_string());
    for table in tables.iter().filter(|t| !published.contains(t)) {
        let dir = out.partition_dir(table, as_of);
        if dir.exists() {
            tracing::info!(partition = %dir.display(), "removing a partition this run no longer produces");
            std::fs::remove_dir_all(&dir).with_context(|| format!("removing the stale {}", dir.display()))?;
        }
    }
    Ok(())
}

/// Flushes a staged partition's files to disk, so the commit point never refers to data
/// still only in memory; returns their names.
fn sync_folder(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let Ok(files) = std::fs::read_dir(dir) else { return Ok(names) };
    for file in files {
        let file = file?;
        File::open(file.path())?.sync_all()?;
        names.push(file.file_name().to_string_lossy().to_string());
    }
    sync_dir(dir)?;
    names.sort();
    Ok(names)
}

/// Flushes a folder's entries (the renames and new files in it), so they survive a power
/// loss and not only a killed process.
fn sync_dir(dir: &Path) -> Result<()> {
    match File::open(dir) {
        Ok(folder) => folder.sync_all().with_context(|| format!("flushing the folder {}", dir.display())),
        Err(_) => Ok(()),
    }
}
