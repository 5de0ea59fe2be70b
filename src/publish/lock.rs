//! One writer per output directory: an OS file lock on `<out>/.vitals.lock`.
//!
//! The lock belongs to the open file, so the operating system releases it when the process
//! ends in any way, `kill -9` included: a crashed run never leaves it stuck. The file's
//! text only says who holds it, for the error a second run prints.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::layout::OutputLayout;

/// Another run holds the output directory.
#[derive(Debug, thiserror::Error)]
#[error(
    "another vitals run is writing to {out}: {holder}. Wait for it to finish (or stop it), \
     or give this run another --out"
)]
pub struct Busy {
    pub out: PathBuf,
    pub holder: String,
}

/// Held for the whole run; dropping it releases the directory.
#[derive(Debug)]
pub struct OutputLock {
    _file: File,
}

/// Takes the output directory's lock at once, or fails with [`Busy`] naming the holder.
pub fn acquire(out: &OutputLayout, description: &str) -> Result<OutputLock> {
    std::fs::create_dir_all(out.root()).with_context(|| {
        format!("cannot create the output directory {}: check the path and its permissions", out.root().display())
    })?;
    let path = out.lock_file();
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            file.read_to_string(&mut holder).ok();
            let holder = match holder.trim() {
                "" => "a run that has not said who it is yet".to_string(),
                text => text.to_string(),
            };
            return Err(Busy { out: out.root().to_path_buf(), holder }.into());
        }
        Err(TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock {}", path.display()));
        }
    }
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    let started = chrono::Local::now().format("%Y-%m-%d %H:%M:%S %:z");
    write!(file, "pid {} started {started}, {description}", std::process::id())?;
    file.flush()?;
    Ok(OutputLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_directory_is_refused_and_names_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let out = OutputLayout::new(dir.path());
        let first = acquire(&out, "pipeline a.toml as of 2026-06-30").unwrap();
        let err = acquire(&out, "pipeline b.toml").unwrap_err();
        let busy = err.downcast_ref::<Busy>().expect("a Busy error");
        assert!(busy.holder.contains(&format!("pid {}", std::process::id())), "{}", busy.holder);
        assert!(busy.holder.contains("a.toml"), "{}", busy.holder);
        drop(first);
        acquire(&out, "pipeline b.toml").expect("free again once the first is dropped");
    }
}
