//! Fingerprints of what each SQL model reads, and reuse of the table a nightly run saved
//! for a model whose fingerprint has not changed: after a change of rules, `vitals score`
//! runs again only the models the change reaches.
//!
//! A model's fingerprint digests its SQL and the fingerprint of each table it names: the
//! models before it (so a change flows down the chain), the rules tables by content
//! (`params` by the columns the model names), and the sources and previous_health by the
//! run that ingested or published them — a run's bronze and saved tables are committed
//! together, so that run's identity stands for their content.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::arrow::ipc::writer::StreamWriter;

use super::models::{self, Model};
use super::sources::{PREVIOUS, RUN_DATES};
use super::Inputs;
use crate::canonical;
use crate::manifest::{Fingerprint, SavedFact};
use crate::table::TableKind;

/// A table a run saved, with the fingerprint of what it read.
#[derive(Debug, Clone)]
pub struct Saved {
    pub fingerprint: Fingerprint,
    pub file: PathBuf,
}

/// A model a re-score ran again rather than reuse, and why.
#[derive(Debug, Clone)]
pub struct Rerun {
    pub model: String,
    pub why: String,
}

/// The fingerprints of one session's tables, and what was reused or run again.
pub struct Memo<'a> {
    /// The digest of every table a model can name.
    pub tables: BTreeMap<String, String>,
    /// The digest of each `params` column.
    params: BTreeMap<String, String>,
    /// What a run saved, when this is a re-score.
    saved: Option<&'a BTreeMap<String, Saved>>,
    /// Each model's fingerprint and where its table goes, for the run to save.
    pub facts: BTreeMap<String, SavedFact>,
    pub reused: Vec<String>,
    pub reran: Vec<Rerun>,
}

impl<'a> Memo<'a> {
    /// The fingerprints of a session over `inputs` as of `dates` with the rules tables `rules`.
    pub fn new(inputs: &'a Inputs, dates: &[NaiveDate], rules: &[(&str, RecordBatch)]) -> Result<Memo<'a>> {
        let dates: Vec<String> = dates.iter().map(|d| d.to_string()).collect();
        let mut tables = BTreeMap::new();
        for source in canonical::SOURCES {
            let present = inputs.bronze.contains_key(source.name);
            let digest = digest_of(&[source.name, &inputs.ingest_run, &present.to_string(), &dates.join(",")]);
            tables.insert(source.name.to_string(), digest.clone());
            tables.insert(format!("bronze_{}", source.name), digest);
        }
        tables.insert(RUN_DATES.to_string(), digest_of(&[&dates.join(",")]));
        let previous = inputs.previous.as_ref().map(|(d, _)| d.to_string()).unwrap_or_default();
        let previous_run = inputs.previous_run.as_deref().unwrap_or("");
        tables.insert(PREVIOUS.to_string(), digest_of(&[PREVIOUS, &previous, previous_run]));
        let mut params = BTreeMap::new();
        for (name, batch) in rules {
            if *name == "params" {
                for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
                    let one = Schema::new(vec![Field::clone(field)]);
                    params.insert(
                        field.name().clone(),
                        content_digest(&[RecordBatch::try_new(Arc::new(one), vec![column.clone()])?])?,
                    );
                }
            } else {
                tables.insert(name.to_string(), content_digest(std::slice::from_ref(batch))?);
            }
        }
        let saved = inputs.saved.as_ref();
        Ok(Memo { tables, params, saved, facts: BTreeMap::new(), reused: Vec::new(), reran: Vec::new() })
    }

    /// Takes the fingerprints of the models an earlier pass ran.
    pub fn extend(&mut self, facts: &BTreeMap<String, SavedFact>) {
        for (name, fact) in facts {
            self.tables.insert(name.clone(), fact.fingerprint.digest.clone());
        }
    }

    /// The fingerprint of `model` over this session's tables.
    pub fn fingerprint(&self, model: &Model) -> Fingerprint {
        let names: BTreeSet<String> = models::identifiers(&model.sql).collect();
        let mut inputs = BTreeMap::new();
        for name in names.iter().filter(|n| **n != model.name) {
            if let Some(digest) = self.tables.get(name) {
                inputs.insert(name.clone(), digest.clone());
            }
        }
        if names.contains("params") {
            for (column, digest) in self.params.iter().filter(|(c, _)| names.contains(c.as_str())) {
                inputs.insert(format!("params.{column}"), digest.clone());
            }
        }
        fingerprint(&model.sql, inputs)
    }

    /// The digest of a table named in this session (a model run or reused, a rule, a source).
    pub fn digest(&self, table: &str) -> Option<&str> {
        self.tables.get(table).map(String::as_str)
    }

    /// The saved table of `model` if a run saved one with this very fingerprint; otherwise
    /// records why the model runs again (a re-score only).
    pub fn reusable(&mut self, model: &str, now: &Fingerprint) -> Option<PathBuf> {
        let saved = self.saved?.get(model);
        match saved {
            Some(saved) if saved.fingerprint.digest == now.digest && saved.file.exists() => {
                self.reused.push(model.to_string());
                Some(saved.file.clone())
            }
            _ => {
                self.reran.push(Rerun { model: model.to_string(), why: why(saved, now) });
                None
            }
        }
    }

    /// Records that `model` produced `table` of `kind` with fingerprint `print`.
    pub fn done(&mut self, model: &str, print: Fingerprint, table: &str, kind: TableKind) {
        self.tables.insert(model.to_string(), print.digest.clone());
        if kind != TableKind::Work {
            let published = kind == TableKind::Published;
            self.facts.insert(model.to_string(), SavedFact { fingerprint: print, table: table.to_string(), published });
        }
    }
}

/// The fingerprint of a step with SQL `sql` over `inputs` (name → digest).
pub fn fingerprint(sql: &str, inputs: BTreeMap<String, String>) -> Fingerprint {
    let sql = digest_of(&[sql]);
    let mut parts = vec![sql.clone()];
    parts.extend(inputs.iter().map(|(k, v)| format!("{k}={v}")));
    let digest = digest_of(&parts.iter().map(String::as_str).collect::<Vec<_>>());
    Fingerprint { digest, sql, inputs }
}

/// A digest of a small table's content (its Arrow IPC bytes: schema and values).
fn content_digest(batches: &[RecordBatch]) -> Result<String> {
    let mut bytes = Vec::new();
    if let Some(first) = batches.first() {
        let mut writer = StreamWriter::try_new(&mut bytes, &first.schema())?;
        for batch in batches {
            writer.write(batch)?;
        }
        writer.finish()?;
    }
    Ok(digest_of_bytes(&bytes))
}

/// A digest of bytes (a saved churn model, say), as fingerprints spell it.
pub fn digest_of_bytes(bytes: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(bytes))
}

/// A digest of text parts, each ended so that ("ab", "c") and ("a", "bc") differ.
pub fn digest_of(parts: &[&str]) -> String {
    let mut text = String::new();
    for part in parts {
        text.push_str(part);
        text.push('\u{1f}');
    }
    digest_of_bytes(text.as_bytes())
}

/// Why a model whose saved table does not fit runs again.
fn why(saved: Option<&Saved>, now: &Fingerprint) -> String {
    let Some(saved) = saved else {
        return "the run saved no table for it".to_string();
    };
    let was = &saved.fingerprint;
    if was.digest == now.digest {
        return format!("its saved table {} is missing", saved.file.display());
    }
    if was.sql != now.sql {
        return "its SQL changed".to_string();
    }
    let mut changed: Vec<&str> =
        now.inputs.iter().filter(|(k, v)| was.inputs.get(*k) != Some(*v)).map(|(k, _)| k.as_str()).collect();
    changed.extend(was.inputs.keys().filter(|k| !now.inputs.contains_key(*k)).map(String::as_str));
    format!("{} changed", changed.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved(sql: &str, inputs: &[(&str, &str)]) -> Saved {
        let inputs = inputs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Saved { fingerprint: fingerprint(sql, inputs), file: PathBuf::from("/nowhere/x.parquet") }
    }

    #[test]
    fn a_fingerprint_changes_with_the_sql_and_with_any_input() {
        let base = saved("SELECT 1", &[("a", "1"), ("b", "2")]).fingerprint;
        assert_eq!(base, saved("SELECT 1", &[("b", "2"), ("a", "1")]).fingerprint);
        assert_ne!(base.digest, saved("SELECT 2", &[("a", "1"), ("b", "2")]).fingerprint.digest);
        assert_ne!(base.digest, saved("SELECT 1", &[("a", "1"), ("b", "3")]).fingerprint.digest);
        assert_ne!(base.digest, saved("SELECT 1", &[("a", "1")]).fingerprint.digest);
        assert_ne!(digest_of(&["ab", "c"]), digest_of(&["a", "bc"]));
    }

    #[test]
    fn the_reason_names_what_changed() {
        let now = saved("SELECT 1", &[("dimension_weights", "9"), ("params.window_days", "1")]).fingerprint;
        let was = saved("SELECT 1", &[("dimension_weights", "8"), ("params.window_days", "1")]);
        assert_eq!(why(Some(&was), &now), "dimension_weights changed");
        assert_eq!(why(Some(&saved("SELECT 2", &[])), &now), "its SQL changed");
        assert_eq!(why(None, &now), "the run saved no table for it");
        let same = Saved { fingerprint: now.clone(), file: PathBuf::from("/nowhere/x.parquet") };
        assert!(why(Some(&same), &now).contains("/nowhere/x.parquet"));
    }
}
