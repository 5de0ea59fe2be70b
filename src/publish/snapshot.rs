//! What readers (`query`, `report`, `history`) see: a snapshot of the committed runs
//! under `<out>`, taken without the output's lock, that a run publishing meanwhile cannot
//! change.
//!
//! A run's manifest is its commit as readers see it: a partition is read once the
//! manifest of its date exists, and only the files that manifest lists. While a rerun of a
//! date publishes, every file it replaces is kept under its staging folder's `previous/`
//! until the new manifest is written; a reader takes that copy, so it sees the previous
//! run whole, also after a run killed halfway through its publish. The snapshot hard-links
//! each file it chose into a folder of its own, so a publish that starts later cannot
//! change what the reader reads; where it cannot (a read-only output), it reads in place.
//! A manifest written while the snapshot was taken means it may mix runs: it is taken again.
//!
//! What vitals did not write does not stop a reader: a folder whose name is no table name
//! (`lost+found`, `customer_health.bak`), a partition no committed run published, a table
//! folder without data files, or a file whose Parquet footer is damaged is left out with a
//! warning naming it.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use parquet::file::reader::SerializedFileReader;

use crate::layout::{is_data_file, OutputLayout};
use crate::manifest::Manifest;
use crate::table::ReadableTable;

/// How often a snapshot is retaken while runs keep committing, and how long it waits
/// between tries; a publish's renames take well under a second.
const ATTEMPTS: usize = 100;
const PAUSE: Duration = Duration::from_millis(50);

/// The committed tables of an output directory, held still for as long as this lives.
pub struct Snapshot {
    tables: Vec<ReadableTable>,
    dates: BTreeMap<String, Vec<NaiveDate>>,
    _folder: Option<Folder>,
}

/// A reader's own folder of hard links, removed when the reader ends. Its lock file, held
/// shared, tells a run the reader is still there ([`remove_abandoned`]).
struct Folder {
    layout: OutputLayout,
    _lock: File,
}

impl Drop for Folder {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(self.layout.root()) {
            tracing::warn!("could not remove the reader's folder {}: {e}", self.layout.root().display());
        }
    }
}

impl Snapshot {
    /// The tables to register: each published table by its name, each bronze source as
    /// `bronze_<source>` and each draft of `vitals score` as `draft_<table>`.
    pub fn tables(&self) -> &[ReadableTable] {
        &self.tables
    }

    /// The committed dates of a table (by its SQL name), oldest first.
    pub fn dates(&self, table: &str) -> &[NaiveDate] {
        self.dates.get(table).map_or(&[], Vec::as_slice)
    }
}

/// Takes a snapshot of what is committed under `out`.
pub fn take(out: &OutputLayout) -> Result<Snapshot> {
    static TAKEN: AtomicUsize = AtomicUsize::new(0);
    if !out.root().is_dir() {
        bail!("there is no output directory {}: has a run published there yet?", out.root().display());
    }
    for _ in 0..ATTEMPTS {
        let before = manifests(out);
        let id = format!("{}-{}", std::process::id(), TAKEN.fetch_add(1, Ordering::Relaxed));
        let folder = own_folder(out.reader(&id));
        let chosen = choose(out, &before, folder.as_ref().map(|f| &f.layout));
        match chosen {
            Ok(Some((tables, dates))) if manifests(out) == before => {
                return Ok(Snapshot { tables, dates, _folder: folder })
            }
            Ok(_) => std::thread::sleep(PAUSE),
            Err(e) => return Err(e),
        }
    }
    bail!(
        "runs kept publishing under {} while this command tried to read it; try again when they are done",
        out.root().display()
    )
}

/// Removes the snapshot folders of readers that ended without removing theirs (killed).
pub fn remove_abandoned(out: &OutputLayout) {
    for reader in out.readers() {
        let ended = File::open(reader.lock_file()).map_or(true, |f| f.try_lock().is_ok());
        if ended {
            if let Err(e) = std::fs::remove_dir_all(reader.root()) {
                tracing::warn!("could not remove an ended reader's folder {}: {e}", reader.root().display());
            }
        }
    }
}

/// Whether a Parquet file's footer reads.
pub fn readable(path: &Path) -> bool {
    File::open(path).is_ok_and(|f| SerializedFileReader::new(f).is_ok())
}

/// The raw manifest of every committed run, by date: what a snapshot checks has not
/// changed while it was taken.
fn manifests(out: &OutputLayout) -> BTreeMap<NaiveDate, Vec<u8>> {
    out.run_dates().into_iter().filter_map(|d| Some((d, std::fs::read(out.manifest_file(d)).ok()?))).collect()
}

/// A reader's own folder, locked; none where the output cannot be written to.
fn own_folder(layout: OutputLayout) -> Option<Folder> {
    let created = std::fs::create_dir_all(layout.root()).and_then(|_| File::create(layout.lock_file()));
    match created.and_then(|lock| lock.lock_shared().map(|_| lock)) {
        Ok(lock) => Some(Folder { layout, _lock: lock }),
        Err(e) => {
            tracing::debug!("reading in place: cannot create {} ({e})", layout.root().display());
            std::fs::remove_dir_all(layout.root()).ok();
            None
        }
    }
}

type Chosen = (Vec<ReadableTable>, BTreeMap<String, Vec<NaiveDate>>);

/// The files of every committed partition (linked into `own` where there is one), or
/// None when a run changed them meanwhile.
fn choose(
    out: &OutputLayout,
    raw: &BTreeMap<NaiveDate, Vec<u8>>,
    own: Option<&OutputLayout>,
) -> Result<Option<Chosen>> {
    let committed: BTreeMap<NaiveDate, Manifest> = raw
        .iter()
        .filter_map(|(d, bytes)| match serde_json::from_slice(bytes) {
            Ok(m) => Some((*d, m)),
            Err(e) => {
                tracing::warn!(manifest = %out.manifest_file(*d).display(), "a damaged manifest ({e}); its run is left out");
                None
            }
        })
        .collect();
    let mut folders: Vec<(String, String, PathBuf)> = out
        .table_dirs()
        .with_context(|| {
            format!("cannot read the output directory {}: has a run published there yet?", out.root().display())
        })?
        .into_iter()
        .map(|(t, dir)| (t.clone(), t, dir))
        .collect();
    folders.extend(
        out.bronze_dirs().into_iter().map(|(s, dir)| (format!("bronze_{s}"), OutputLayout::bronze_table(&s), dir)),
    );
    let (mut tables, mut dates) = (Vec::new(), BTreeMap::new());
    for (name, table, folder) in folders {
        if !is_table_name(&name) {
            tracing::warn!(folder = %folder.display(), "not a table vitals writes (its name is no table name); left out");
            continue;
        }
        let mut files = Vec::new();
        for date in out.partitions(&table) {
            let partition = out.partition_dir(&table, date);
            let Some(manifest) = committed.get(&date) else {
                if !out.staging(date).root().exists() {
                    tracing::warn!(folder = %partition.display(), "a partition no committed run published; left out");
                }
                continue;
            };
            let names = match manifest.files.get(&table) {
                Some(names) => names.clone(),
                None if manifest.files.is_empty() => listed(&partition),
                None => continue, // the committed run of that date did not publish it
            };
            let kept = out.staging(date).previous().partition_dir(&table, date);
            for file_name in names.iter().filter(|n| is_data_file(n)) {
                let live = partition.join(file_name);
                let Some(file) = pick(&live, Some(&kept.join(file_name)), own, &table, date)? else {
                    // Runs remove files only after a new manifest: none means it went for good.
                    if manifests(out) != *raw {
                        return Ok(None);
                    }
                    tracing::warn!(file = %live.display(), "a file its run published is missing; left out");
                    continue;
                };
                if readable(&file) {
                    files.push(file);
                    dates.entry(name.clone()).or_insert_with(Vec::new).push(date);
                } else {
                    tracing::warn!(file = %live.display(), "not a readable Parquet file (damaged footer?); left out");
                }
            }
        }
        push(&mut tables, name, folder, files);
    }
    for (table, folder) in out.drafts().table_dirs().unwrap_or_default() {
        let drafts = out.drafts();
        let mut files = Vec::new();
        for date in drafts.partitions(&table) {
            let partition = drafts.partition_dir(&table, date);
            // A draft is replaced whole by a rename, never mid-way: it is linked as it is.
            let link = own.map(OutputLayout::drafts);
            for file_name in listed(&partition) {
                if let Some(file) = pick(&partition.join(&file_name), None, link.as_ref(), &table, date)? {
                    files.extend(Some(file).filter(|f| readable(f)));
                }
            }
        }
        push(&mut tables, format!("draft_{table}"), folder, files);
    }
    for list in dates.values_mut() {
        list.dedup();
    }
    Ok(Some((tables, dates)))
}

/// The file to read for one committed file: the copy kept by a publish under way if there
/// is one, else the published file, linked into `own`. None when the file went meanwhile.
fn pick(
    live: &Path,
    kept: Option<&Path>,
    own: Option<&OutputLayout>,
    table: &str,
    date: NaiveDate,
) -> Result<Option<PathBuf>> {
    let in_place = || Ok(Some(kept.filter(|k| k.exists()).unwrap_or(live).to_path_buf()));
    let Some(own) = own else { return in_place() };
    let link = own.partition_dir(table, date).join(live.file_name().context("a file has a name")?);
    std::fs::create_dir_all(link.parent().context("a link lives in a folder")?)?;
    // The published file first, then the kept copy: a copy that exists by then is older
    // than whatever the link caught, and none means the link caught the committed file.
    match std::fs::hard_link(live, &link) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(_) => return in_place(),
    }
    match kept.filter(|k| k.exists()) {
        Some(kept) => {
            std::fs::remove_file(&link)?;
            Ok(std::fs::hard_link(kept, &link).is_ok().then_some(link))
        }
        None => Ok(Some(link)),
    }
}

fn push(tables: &mut Vec<ReadableTable>, name: String, folder: PathBuf, files: Vec<PathBuf>) {
    if files.is_empty() {
        tracing::warn!(folder = %folder.display(), "a table folder without readable data files; left out");
    } else {
        tables.push(ReadableTable { name, folder, files });
    }
}

/// The data files in a partition folder, by name.
fn listed(partition: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(partition)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .filter(|n| is_data_file(n))
        .collect();
    names.sort();
    names
}

fn is_table_name(name: &str) -> bool {
    name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}
