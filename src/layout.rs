//! The output directory's layout: every path under `<out>` is spelled here and nowhere
//! else, for the run that writes it, the readers that read it and the tests.
//!
//! ```text
//! <out>/<table>/as_of=<date>/part-0.parquet      published tables
//! <out>/bronze/<source>/as_of=<date>/…           the accepted rows of each export
//! <out>/models/churn/as_of=<date>/model.json     the churn model a run trained
//! <out>/facts/as_of=<date>/<model>.parquet       the run's unpublished model tables,
//!                     fingerprints.json          and what each model read, for re-scores
//! <out>/runs/<date>/manifest.json | failure.json what happened in a run
//! <out>/drafts/<table>/as_of=<date>/…            `vitals score`'s re-scored tables
//! <out>/reports/report_<date>.html               `vitals report`
//! <out>/.staging/as_of=<date>/…                  a run on its way to being published
//!                       previous/…               the files its commit replaces, until done
//! <out>/.read-<id>/…                             a reader's snapshot (hard links)
//! <out>/.vitals.lock                             one writer at a time
//! ```
//!
//! A staging folder and the drafts folder are laid out like the output directory itself,
//! so they are layouts too ([`OutputLayout::staging`], [`OutputLayout::drafts`]).

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

/// The one data file of a table partition.
const PART: &str = "part-0.parquet";
const DATA_EXTENSION: &str = "parquet";
const RUNS: &str = "runs";
const BRONZE: &str = "bronze";
const MODELS: &str = "models/churn";
const MODEL_FILE: &str = "model.json";
const FACTS: &str = "facts";
const FINGERPRINTS: &str = "fingerprints.json";
const DRAFTS: &str = "drafts";
const REPORTS: &str = "reports";
const STAGING: &str = ".staging";
const WORK: &str = "work";
const PREVIOUS: &str = "previous";
const READER_PREFIX: &str = ".read-";
const SPILL: &str = "spill";
const LOCK: &str = ".vitals.lock";
const MANIFEST: &str = "manifest.json";
const FAILURE: &str = "failure.json";
const JOURNAL: &str = "COMMIT.json";
const PARTITION_PREFIX: &str = "as_of=";

/// The column a table is partitioned by. Published files leave it out: their folder's
/// name (`as_of=<date>`) gives it, the Hive convention every reader follows.
pub const PARTITION_COLUMN: &str = "as_of";

/// Folders of the output directory that hold no published table.
const NOT_TABLES: [&str; 6] = [RUNS, "models", BRONZE, FACTS, DRAFTS, REPORTS];

/// Paths under one output directory (or a staging or drafts folder laid out like one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputLayout {
    root: PathBuf,
}

impl OutputLayout {
    pub fn new(out: impl Into<PathBuf>) -> Self {
        OutputLayout { root: out.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<table>/as_of=<date>`, relative to the root: the unit a run publishes.
    pub fn partition(table: &str, as_of: NaiveDate) -> PathBuf {
        PathBuf::from(table).join(format!("{PARTITION_PREFIX}{as_of}"))
    }

    /// The folder of a table (all its partitions).
    pub fn table_dir(&self, table: &str) -> PathBuf {
        self.root.join(table)
    }

    pub fn partition_dir(&self, table: &str, as_of: NaiveDate) -> PathBuf {
        self.root.join(Self::partition(table, as_of))
    }

    /// The data file of a table's partition.
    pub fn table_file(&self, table: &str, as_of: NaiveDate) -> PathBuf {
        self.partition_dir(table, as_of).join(PART)
    }

    /// The table name bronze rows of `source` are published under.
    pub fn bronze_table(source: &str) -> String {
        format!("{BRONZE}/{source}")
    }

    pub fn bronze_dir(&self) -> PathBuf {
        self.root.join(BRONZE)
    }

    pub fn bronze_file(&self, source: &str, as_of: NaiveDate) -> PathBuf {
        self.table_file(&Self::bronze_table(source), as_of)
    }

    /// The "table" saved churn models are published under.
    pub fn models_table() -> &'static str {
        MODELS
    }

    pub fn model_file(&self, as_of: NaiveDate) -> PathBuf {
        self.partition_dir(MODELS, as_of).join(MODEL_FILE)
    }

    /// The file name of a saved churn model in its partition.
    pub fn model_file_name() -> &'static str {
        MODEL_FILE
    }

    /// The "table" a run's saved model tables are published under.
    pub fn facts_table() -> &'static str {
        FACTS
    }

    /// A model table a run saved, unpublished, for re-scoring.
    pub fn fact_file(&self, table: &str, as_of: NaiveDate) -> PathBuf {
        self.partition_dir(FACTS, as_of).join(format!("{table}.parquet"))
    }

    /// What each saved model table read ([`crate::manifest::SavedFacts`]).
    pub fn fingerprints_file(&self, as_of: NaiveDate) -> PathBuf {
        self.partition_dir(FACTS, as_of).join(FINGERPRINTS)
    }

    /// The file name of the fingerprints in their partition.
    pub fn fingerprints_file_name() -> &'static str {
        FINGERPRINTS
    }

    pub fn run_dir(&self, as_of: NaiveDate) -> PathBuf {
        self.root.join(RUNS).join(as_of.to_string())
    }

    pub fn manifest_file(&self, as_of: NaiveDate) -> PathBuf {
        self.run_dir(as_of).join(MANIFEST)
    }

    pub fn failure_file(&self, as_of: NaiveDate) -> PathBuf {
        self.run_dir(as_of).join(FAILURE)
    }

    /// The drafts `vitals score` writes: laid out like published tables.
    pub fn drafts(&self) -> OutputLayout {
        OutputLayout::new(self.root.join(DRAFTS))
    }

    pub fn report_file(&self, as_of: NaiveDate) -> PathBuf {
        self.root.join(REPORTS).join(format!("report_{as_of}.html"))
    }

    pub fn lock_file(&self) -> PathBuf {
        self.root.join(LOCK)
    }

    /// The folder holding every run's staging folder.
    pub fn staging_root(&self) -> PathBuf {
        self.root.join(STAGING)
    }

    /// The staging folder of a run as of `as_of`, laid out like the output directory.
    pub fn staging(&self, as_of: NaiveDate) -> OutputLayout {
        OutputLayout::new(self.staging_root().join(format!("{PARTITION_PREFIX}{as_of}")))
    }

    /// The commit journal of a staging folder (call it on the staging layout).
    pub fn journal_file(&self) -> PathBuf {
        self.root.join(JOURNAL)
    }

    /// Where a staging folder keeps each published file its commit replaces until the
    /// commit is whole (call it on the staging layout): laid out like the output.
    pub fn previous(&self) -> OutputLayout {
        OutputLayout::new(self.root.join(PREVIOUS))
    }

    /// The snapshot folder of one reader (`id`: its process and a count), laid out like
    /// the output; hidden, so no reader or run takes it for a table.
    pub fn reader(&self, id: &str) -> OutputLayout {
        OutputLayout::new(self.root.join(format!("{READER_PREFIX}{id}")))
    }

    /// The snapshot folders of readers, running or ended without removing theirs.
    pub fn readers(&self) -> Vec<OutputLayout> {
        subfolders(&self.root)
            .unwrap_or_default()
            .into_iter()
            .filter(|(name, _)| name.starts_with(READER_PREFIX))
            .map(|(_, path)| OutputLayout::new(path))
            .collect()
    }

    /// A private working file of a staging folder, never published.
    pub fn work_file(&self, name: &str) -> PathBuf {
        self.root.join(WORK).join(format!("{name}.parquet"))
    }

    /// Where the SQL engine spills what does not fit its memory budget, inside a staging
    /// or working folder, so it goes when that folder goes.
    pub fn spill_dir(&self) -> PathBuf {
        self.root.join(WORK).join(SPILL)
    }

    /// A private working folder of one process (by pid), never published.
    pub fn private_dir(&self, pid: u32) -> PathBuf {
        self.root.join(format!(".{WORK}-{pid}"))
    }

    /// The dates of the runs with a folder under `runs/`, oldest first.
    pub fn run_dates(&self) -> Vec<NaiveDate> {
        let mut dates: Vec<NaiveDate> = subfolders(&self.root.join(RUNS))
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(name, _)| name.parse().ok())
            .collect();
        dates.sort();
        dates
    }

    /// The as_of dates of a table's partitions, oldest first.
    pub fn partitions(&self, table: &str) -> Vec<NaiveDate> {
        let mut dates: Vec<NaiveDate> = std::fs::read_dir(self.table_dir(table))
            .into_iter()
            .flatten()
            .filter_map(|e| partition_date(e.ok()?.file_name().to_str()?))
            .collect();
        dates.sort();
        dates
    }

    /// The folders of published tables: every folder of the root that is not the layout's
    /// own (runs, bronze, models, facts, drafts, reports) or hidden; with their table names.
    pub fn table_dirs(&self) -> std::io::Result<Vec<(String, PathBuf)>> {
        let mut tables: Vec<(String, PathBuf)> = subfolders(&self.root)?
            .into_iter()
            .filter(|(name, _)| !NOT_TABLES.contains(&name.as_str()) && !name.starts_with('.'))
            .collect();
        tables.sort();
        Ok(tables)
    }

    /// The bronze table folders, by source name.
    pub fn bronze_dirs(&self) -> Vec<(String, PathBuf)> {
        subfolders(&self.bronze_dir()).unwrap_or_default()
    }
}

/// Whether a file in a partition folder is a table's data (not a model or fingerprints).
pub fn is_data_file(name: &str) -> bool {
    Path::new(name).extension().is_some_and(|e| e == DATA_EXTENSION)
}

/// The date of a partition folder name `as_of=<date>`.
pub fn partition_date(folder: &str) -> Option<NaiveDate> {
    folder.strip_prefix(PARTITION_PREFIX)?.parse().ok()
}

/// The partition date of a table file: the `as_of=<date>` folder it lies in.
pub fn partition_of(file: &Path) -> Option<NaiveDate> {
    partition_date(file.parent()?.file_name()?.to_str()?)
}

fn subfolders(dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            found.push((entry.file_name().to_string_lossy().to_string(), entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_and_drafts_are_laid_out_like_the_output() {
        let out = OutputLayout::new("/o");
        let day = NaiveDate::from_ymd_opt(2026, 6, 30).unwrap();
        assert_eq!(out.table_file("kpis", day), PathBuf::from("/o/kpis/as_of=2026-06-30/part-0.parquet"));
        assert_eq!(
            out.staging(day).bronze_file("invoices", day),
            PathBuf::from("/o/.staging/as_of=2026-06-30/bronze/invoices/as_of=2026-06-30/part-0.parquet")
        );
        assert_eq!(
            out.drafts().table_file("kpis", day),
            PathBuf::from("/o/drafts/kpis/as_of=2026-06-30/part-0.parquet")
        );
        assert_eq!(out.model_file(day), PathBuf::from("/o/models/churn/as_of=2026-06-30/model.json"));
        assert_eq!(
            out.fact_file("customer_period", day),
            PathBuf::from("/o/facts/as_of=2026-06-30/customer_period.parquet")
        );
        assert_eq!(out.manifest_file(day), PathBuf::from("/o/runs/2026-06-30/manifest.json"));
        assert_eq!(
            out.staging(day).previous().table_file("kpis", day),
            PathBuf::from("/o/.staging/as_of=2026-06-30/previous/kpis/as_of=2026-06-30/part-0.parquet")
        );
        assert_eq!(out.reader("7-0").lock_file(), PathBuf::from("/o/.read-7-0/.vitals.lock"));
        assert_eq!(partition_date("as_of=2026-06-30"), Some(day));
        assert_eq!(partition_date("as_of=yesterday"), None);
    }
}
