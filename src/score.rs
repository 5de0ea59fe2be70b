//! The analyst's re-score: the SQL models and the saved churn model run again over the
//! bronze Parquet a nightly run already ingested, without reading the exports, and the
//! results land as drafts (`<out>/drafts/<table>/as_of=<date>/`) beside the published
//! tables, which stay untouched. `vitals diff` compares a draft with what was published.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use chrono::NaiveDate;

use crate::canonical::HEALTH;
use crate::config::Pipeline;
use crate::model::{self, ModelChoice};
use crate::publish;
use crate::run;
use crate::transform;

/// What a re-score computed.
pub struct Rescored {
    pub as_of: NaiveDate,
    /// Each draft table with its file and row count, in the pipeline's publish order.
    pub drafts: Vec<(String, PathBuf, u64)>,
    /// The saved churn model applied, if there is one.
    pub model: Option<PathBuf>,
    pub seconds: f64,
}

impl Rescored {
    /// The draft of `table`, if this re-score wrote one.
    pub fn draft(&self, table: &str) -> Option<&Path> {
        self.drafts.iter().find(|(t, _, _)| t == table).map(|(_, file, _)| file.as_path())
    }
}

/// The newest date every source of the pipeline has bronze Parquet for under `out`.
pub fn newest_ingest(pipeline: &Pipeline, out: &Path) -> Result<NaiveDate> {
    let first = pipeline.sources.first().context("the pipeline has no sources")?;
    publish::partitions(out, &bronze(first.name()))
        .into_iter()
        .rev()
        .find(|d| pipeline.sources.iter().all(|s| bronze_file(out, s.name(), *d).exists()))
        .with_context(|| {
            format!(
                "no ingested sources under {}: run `vitals run {}` first, then re-score",
                out.join("bronze").display(),
                pipeline.file.display()
            )
        })
}

fn bronze(source: &str) -> String {
    format!("bronze/{source}")
}

fn bronze_file(out: &Path, source: &str, as_of: NaiveDate) -> PathBuf {
    publish::published_file(out, &bronze(source), as_of)
}

/// Re-scores as of `as_of` (default: the newest ingest) with the pipeline's current rules
/// and the churn model saved for that date, writing drafts under `out`.
pub fn rescore(pipeline: &Pipeline, out: &Path, as_of: Option<NaiveDate>) -> Result<Rescored> {
    let started = Instant::now();
    let as_of = match as_of {
        Some(date) => date,
        None => newest_ingest(pipeline, out)?,
    };
    for source in &pipeline.sources {
        let file = bronze_file(out, source.name(), as_of);
        if !file.exists() {
            bail!(
                "source {} was not ingested as of {as_of} ({} is missing): run `vitals run {} --as-of {as_of}` first",
                source.name(),
                file.display(),
                pipeline.file.display()
            );
        }
    }
    let bronze = |s: &str| bronze_file(out, s, as_of);
    let inputs = transform::Inputs { bronze_file: &bronze, previous: run::previous_health(out, as_of) };
    let saved = pipeline.churn.enabled.then(|| model::newest_saved(out, as_of)).flatten();
    let also: &[&str] = if saved.is_some() { &[model::FEATURES] } else { &[] };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut transformed = runtime.block_on(transform::run(pipeline, as_of, &inputs, also))?;

    let scores = match (&saved, transformed.also.first()) {
        (Some(path), Some(features)) => {
            let lane = model::Lane { pipeline, as_of, runtime: &runtime, bronze_file: &bronze, out };
            model::run(&lane, &ModelChoice::File(path.clone()), features)?.scores
        }
        _ => Default::default(),
    };
    if let Some(health) = transformed.published.iter_mut().find(|t| t.name == HEALTH) {
        *health = model::attach(health, &scores)?;
    }

    let mut drafts = Vec::new();
    for table in &transformed.published {
        let (file, rows) = publish::write_draft(out, &table.name, as_of, table.schema.clone(), &table.batches)?;
        drafts.push((table.name.clone(), file, rows));
    }
    let scored = publish::published_file(&out.join(publish::DRAFTS), HEALTH, as_of);
    for table in runtime.block_on(transform::run_after_model(pipeline, as_of, &inputs, &scored))?.0 {
        let (file, rows) = publish::write_draft(out, &table.name, as_of, table.schema.clone(), &table.batches)?;
        drafts.push((table.name.clone(), file, rows));
    }
    Ok(Rescored { as_of, drafts, model: saved, seconds: started.elapsed().as_secs_f64() })
}
