//! How much history the output directory keeps: bronze (with the model tables saved beside
//! it for re-scoring) for `[run] keep_bronze` nights, and every published partition for
//! `keep_runs` nights when the pipeline sets it. Applied after each commit and by
//! `vitals prune`. The newest night always stays, and so does the bronze of a night that
//! has drafts (a re-score of it may still be wanted).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::NaiveDate;

use crate::config::Retention;
use crate::layout::OutputLayout;

/// A folder that goes, and the bytes it frees.
#[derive(Debug, Clone)]
pub struct Removal {
    pub path: PathBuf,
    pub bytes: u64,
}

/// What `retention` removes from `out` today, oldest night first.
pub fn plan(out: &OutputLayout, retention: Retention) -> Vec<Removal> {
    let bronze = out.bronze_dirs();
    let dated = |table: &str| out.partitions(table).into_iter();
    let mut bronze_dates: BTreeSet<NaiveDate> =
        bronze.iter().flat_map(|(s, _)| dated(&OutputLayout::bronze_table(s))).collect();
    bronze_dates.extend(dated(OutputLayout::facts_table()));
    let drafted: BTreeSet<NaiveDate> =
        out.drafts().table_dirs().unwrap_or_default().iter().flat_map(|(t, _)| out.drafts().partitions(t)).collect();
    let tables: Vec<String> = out.table_dirs().unwrap_or_default().into_iter().map(|(t, _)| t).collect();
    let mut run_dates: BTreeSet<NaiveDate> = out.run_dates().into_iter().collect();
    run_dates.extend(tables.iter().flat_map(|t| dated(t)));

    let mut folders = Vec::new();
    let bronze_of = |date: NaiveDate| {
        let mut of: Vec<PathBuf> =
            bronze.iter().map(|(s, _)| out.partition_dir(&OutputLayout::bronze_table(s), date)).collect();
        of.push(out.partition_dir(OutputLayout::facts_table(), date));
        of
    };
    let kept_bronze: Vec<&NaiveDate> = bronze_dates.iter().rev().take(retention.keep_bronze.max(1)).collect();
    for date in bronze_dates.iter().filter(|d| !kept_bronze.contains(d) && !drafted.contains(d)) {
        folders.extend(bronze_of(*date));
    }
    if let Some(keep) = retention.keep_runs {
        let kept: Vec<&NaiveDate> = run_dates.iter().rev().take(keep.max(1)).collect();
        for date in run_dates.iter().filter(|d| !kept.contains(d)) {
            // The manifest first: readers stop counting the night before its tables go.
            folders.push(out.run_dir(*date));
            folders.extend(tables.iter().map(|t| out.partition_dir(t, *date)));
            folders.push(out.partition_dir(OutputLayout::models_table(), *date));
            folders.extend(bronze_of(*date));
        }
    }
    let mut seen = BTreeSet::new();
    folders
        .into_iter()
        .filter(|f| f.exists() && seen.insert(f.clone()))
        .map(|path| Removal { bytes: size(&path), path })
        .collect()
}

/// Removes what [`plan`] listed.
pub fn remove(removals: &[Removal]) -> Result<()> {
    for removal in removals {
        std::fs::remove_dir_all(&removal.path)
            .with_context(|| format!("removing {} (retention)", removal.path.display()))?;
    }
    Ok(())
}

fn size(path: &Path) -> u64 {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::read_dir(path).into_iter().flatten().flatten().map(|e| size(&e.path())).sum(),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}
