//! The SQL models: one `.sql` file per model in the pipeline's SQL folder, named for the
//! table it produces, run in the order their references to each other require.
//!
//! A model depends on another when its SQL names the other model as an identifier
//! (outside comments and string literals), so an analyst adds a model by adding a file.
//! A model that reads `scored_health` (customer_health with the churn model's columns)
//! runs after the model lane, as do the models that depend on it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::shipped::SHIPPED;
use crate::config::SqlModels;

/// One SQL model read from disk.
#[derive(Debug, Clone)]
pub struct Model {
    pub name: String,
    pub path: PathBuf,
    pub sql: String,
    pub depends_on: BTreeSet<String>,
    /// Reads `scored_health`, itself or through a model it depends on.
    pub after_model: bool,
}

/// The table of scored customers the models after the model lane read.
pub const SCORED: &str = "scored_health";

/// Reads the models (every `*.sql` file of a folder, or the ones built in) and returns them
/// in dependency order (alphabetical among models whose dependencies are met, so the order
/// is stable).
pub fn load(sql: &SqlModels) -> Result<Vec<Model>> {
    let files = match sql {
        SqlModels::Folder(dir) => read_folder(dir)?,
        SqlModels::BuiltIn => SHIPPED
            .iter()
            .map(|(name, sql)| (name.to_string(), (PathBuf::from(format!("(built in) {name}.sql")), sql.to_string())))
            .collect(),
    };
    let names: BTreeSet<String> = files.keys().cloned().collect();
    let models = files
        .into_iter()
        .map(|(name, (path, sql))| {
            let after_model = identifiers(&sql).any(|i| i == SCORED);
            let depends_on = identifiers(&sql).filter(|i| *i != name && names.contains(i)).collect();
            Model { name, path, sql, depends_on, after_model }
        })
        .collect();
    let mut ordered = order(models)?;
    for i in 0..ordered.len() {
        let inherited = ordered[..i].iter().any(|m| m.after_model && ordered[i].depends_on.contains(&m.name));
        ordered[i].after_model |= inherited;
    }
    Ok(ordered)
}

/// The `.sql` files of `dir`, by model name.
fn read_folder(dir: &Path) -> Result<BTreeMap<String, (PathBuf, String)>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the SQL folder {}: check [run] sql_dir", dir.display()))?;
    let mut files = BTreeMap::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "sql") {
            let name = path.file_stem().unwrap_or_default().to_string_lossy().to_string();
            let sql = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            files.insert(name, (path, sql));
        }
    }
    if files.is_empty() {
        bail!("the SQL folder {} holds no .sql models", dir.display());
    }
    Ok(files)
}

/// The models `wanted` needs (themselves and everything they reference), in run order;
/// `Err` names a wanted model that does not exist.
pub fn needed(ordered: Vec<Model>, wanted: &[&str]) -> std::result::Result<Vec<Model>, String> {
    let mut keep: BTreeSet<String> = BTreeSet::new();
    let mut stack: Vec<String> = wanted.iter().map(|w| w.to_string()).collect();
    while let Some(name) = stack.pop() {
        let Some(model) = ordered.iter().find(|m| m.name == name) else {
            return Err(name);
        };
        if keep.insert(name) {
            stack.extend(model.depends_on.iter().cloned());
        }
    }
    Ok(ordered.into_iter().filter(|m| keep.contains(&m.name)).collect())
}

fn order(mut pending: Vec<Model>) -> Result<Vec<Model>> {
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut ordered = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let Some(next) = pending.iter().position(|m| m.depends_on.is_subset(&done)) else {
            let stuck: Vec<String> = pending.iter().map(|m| m.path.display().to_string()).collect();
            bail!("these SQL models refer to each other in a cycle: {}", stuck.join(", "));
        };
        let model = pending.remove(next);
        done.insert(model.name.clone());
        ordered.push(model);
    }
    Ok(ordered)
}

/// Lower-cased identifiers of SQL text, skipping comments and quoted strings.
pub fn identifiers(sql: &str) -> impl Iterator<Item = String> {
    let mut out = Vec::new();
    let mut chars = sql.chars().peekable();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut Vec<String>| {
        if !word.is_empty() {
            out.push(word.to_lowercase());
            word.clear();
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '-' if chars.peek() == Some(&'-') => {
                flush(&mut word, &mut out);
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                flush(&mut word, &mut out);
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
            }
            '\'' => {
                flush(&mut word, &mut out);
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                }
            }
            c if c.is_alphanumeric() || c == '_' => word.push(c),
            _ => flush(&mut word, &mut out),
        }
    }
    flush(&mut word, &mut out);
    out.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(dir: &Path) -> SqlModels {
        SqlModels::Folder(dir.to_path_buf())
    }

    fn write(dir: &Path, name: &str, sql: &str) {
        std::fs::write(dir.join(format!("{name}.sql")), sql).unwrap();
    }

    #[test]
    fn models_run_after_what_they_reference() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a_health", "SELECT * FROM rfm JOIN features USING (customer_id)");
        write(dir.path(), "rfm", "SELECT * FROM features -- not a_health\n");
        write(dir.path(), "features", "SELECT 'rfm' AS x /* rfm */ FROM invoices");
        let names: Vec<String> = load(&folder(dir.path())).unwrap().into_iter().map(|m| m.name).collect();
        assert_eq!(names, vec!["features", "rfm", "a_health"]);
    }

    #[test]
    fn only_what_is_wanted_and_its_dependencies_run() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a", "SELECT 1");
        write(dir.path(), "b", "SELECT * FROM a");
        write(dir.path(), "c", "SELECT 2");
        let names = |wanted: &[&str]| -> Vec<String> {
            needed(load(&folder(dir.path())).unwrap(), wanted).unwrap().into_iter().map(|m| m.name).collect()
        };
        assert_eq!(names(&["b"]), vec!["a", "b"]);
        assert_eq!(names(&["c"]), vec!["c"]);
        assert_eq!(needed(load(&folder(dir.path())).unwrap(), &["zzz"]).unwrap_err(), "zzz");
    }

    #[test]
    fn models_reading_scored_health_and_their_dependents_run_after_the_model() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "health", "SELECT 1");
        write(dir.path(), "alerts", "SELECT * FROM scored_health JOIN health USING (customer_id)");
        write(dir.path(), "digest", "SELECT * FROM alerts");
        let after: Vec<(String, bool)> =
            load(&folder(dir.path())).unwrap().into_iter().map(|m| (m.name, m.after_model)).collect();
        assert_eq!(after, [("health".into(), false), ("alerts".into(), true), ("digest".into(), true)]);
    }

    #[test]
    fn a_cycle_names_the_files() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "x", "SELECT * FROM y");
        write(dir.path(), "y", "SELECT * FROM x");
        let err = load(&folder(dir.path())).unwrap_err().to_string();
        assert!(err.contains("cycle") && err.contains("x.sql") && err.contains("y.sql"), "{err}");
    }

    #[test]
    fn an_empty_or_missing_folder_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(&folder(dir.path())).unwrap_err().to_string().contains("no .sql"));
        assert!(load(&folder(&dir.path().join("nope"))).is_err());
    }
}
