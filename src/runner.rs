//! The one nightly sequence, used by `vitals run`, `predict` and `score`: the SQL models,
//! the churn model, customer_health with churn risk, then the models that read it — after
//! ingest and into staging for a run, over the last ingest's bronze tables and into drafts
//! for a re-score.
//!
//! Each lane does its own work and knows nothing of the others; this module hands their
//! results on and keeps the books (timings, row counts, exit codes). Nothing is published
//! unless every stage succeeded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Duration, Local, NaiveDate};
use indicatif::{ProgressBar, ProgressStyle};

use crate::canonical::{self, HEALTH};
use crate::config::churn::Retrain;
use crate::config::Pipeline;
use crate::contract;
use crate::ingest;
use crate::layout::OutputLayout;
use crate::manifest::{
    ChurnReport, DataTestResult, Manifest, Realized, SavedFacts, SavedTest, ScoringReport, TableReport,
};
use crate::model::{self, Artifact};
use crate::publish::{self, lock, Drafts, Staging};
use crate::table::{text_column, Batches, Table, TableKind, TableSink, Written};
use crate::transform::data_tests::Tested;
use crate::transform::{self, Engine, EngineOptions, Inputs, Pass, Rerun, Saved};

/// Where and when a run happens, after command-line overrides.
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub as_of: NaiveDate,
    pub out: PathBuf,
    pub progress: bool,
    /// Which churn model scores the run.
    pub model: ModelChoice,
}

/// Which churn model scores a run.
#[derive(Debug, Clone)]
pub enum ModelChoice {
    /// As the pipeline's `[churn]` says.
    Pipeline,
    /// A saved model.json (`vitals predict --model`).
    File(PathBuf),
}

impl RunSettings {
    /// Command line first, then the pipeline file; as_of falls back to today.
    pub fn resolve(
        pipeline: &Pipeline,
        as_of: Option<NaiveDate>,
        out: Option<PathBuf>,
        progress: bool,
    ) -> Result<Self> {
        let out = out.or_else(|| pipeline.out.clone()).with_context(|| {
            format!("no output directory: pass --out DIR or set [run] out in {}", pipeline.file.display())
        })?;
        let as_of = as_of.or(pipeline.as_of).unwrap_or_else(|| chrono::Local::now().date_naive());
        Ok(RunSettings { as_of, out, progress, model: ModelChoice::Pipeline })
    }
}

/// Name of the rejects output table.
pub const REJECTS: &str = "rejects";
/// Memory budget per training row (a customer as of one snapshot date, with the fact
/// models behind it): the pass runs on as many snapshot dates at once as `[run]
/// memory_limit` holds at this rate. Measured at a million customers, 2 GiB: all four dates
/// at once peaked at 2.4–2.6 GiB, two at a time (this rate) at 1.8–1.9 GiB, one at a time
/// 2.0 GiB and no faster.
const TRAINING_ROW_BYTES: usize = 1000;

/// The alerts table, counted by kind in the manifest.
const ALERTS: &str = "alerts";

/// Process exit codes, for schedulers.
pub mod exit {
    pub const OK: i32 = 0;
    pub const ERROR: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const DATA_QUALITY_GATE: i32 = 3;
    pub const OUTPUT_BUSY: i32 = 4;
    pub const DATA_TESTS_FAILED: i32 = 5;
}

/// A data test of severity `error` failed: the run stops before publishing.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DataTestsFailed(String);

/// Runs the pipeline's data tests over `scored`, taking from `saved` the result of a test
/// over the same tables, or over the same values of the columns it reads.
fn test_data(
    engine: &Engine,
    pipeline: &Pipeline,
    scored: &Scored,
    inputs: &Inputs,
    saved: &BTreeMap<String, SavedTest>,
) -> Result<Tested> {
    let testable = scored.testable(inputs);
    let digests = scored.digests();
    let saved_over = saved_tables(inputs, &testable, &digests);
    transform::data_tests::run(engine, &pipeline.tests, &testable, &digests, saved, &saved_over)
}

/// The tables of the run a re-score reads, by the names data tests know them by
/// (customer_health: the published one, with the churn columns); none in a run. A table
/// with the run's very fingerprint is named by its file in `testable`: the same content.
fn saved_tables(
    inputs: &Inputs,
    testable: &[(String, PathBuf)],
    digests: &BTreeMap<String, String>,
) -> BTreeMap<String, PathBuf> {
    let Some(saved) = &inputs.saved else { return BTreeMap::new() };
    let mut tables = inputs.bronze.clone();
    for (model, table) in saved.iter().filter(|(model, _)| *model != HEALTH) {
        let name = if model == transform::models::SCORED { HEALTH } else { model.as_str() };
        let now = testable.iter().find(|(n, _)| n == name).map(|(_, path)| path);
        let file = match now {
            Some(now) if digests.get(name) == Some(&table.fingerprint.digest) => now,
            _ => &table.file,
        };
        tables.insert(name.to_string(), file.clone());
    }
    tables
}

/// One data test's failure, for a person.
pub fn data_test_line(r: &DataTestResult) -> String {
    let column = r.column.as_deref().map(|c| format!(".{c}")).unwrap_or_default();
    let what = match r.check.as_str() {
        "sql" => format!("{}/{}.sql", crate::config::data_tests::SQL_TESTS, r.test),
        check => format!("{check} on {}{column}", r.table),
    };
    let keys = if r.failing_keys.is_empty() { String::new() } else { format!(" (e.g. {})", r.failing_keys.join(", ")) };
    let detail = r.detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default();
    format!("data test {} ({what}, {}): {} failing rows{keys}{detail}", r.test, r.severity, r.failing_rows)
}

/// Err when a data test of severity error failed, naming each; else the failed warn tests
/// as warnings.
pub fn data_test_gate(pipeline: &Pipeline, results: &[DataTestResult]) -> Result<Vec<String>> {
    let failed: Vec<String> =
        results.iter().filter(|r| r.failed() && r.severity == "error").map(data_test_line).collect();
    if !failed.is_empty() {
        return Err(DataTestsFailed(format!(
            "{} data test(s) of severity error failed, so nothing was published:\n  {}\n\
             Fix the data or the SQL model, or make the test a warning: severity = \"warn\" in its [[tests]] \
             entry of {}, or a line `-- severity: warn` in its sql_tests file",
            failed.len(),
            failed.join("\n  "),
            pipeline.file.display()
        ))
        .into());
    }
    Ok(results.iter().filter(|r| r.failed()).map(data_test_line).collect())
}

/// Whether a write failed for want of space: a full disk, a quota, a file-size limit.
fn out_of_space(error: &anyhow::Error) -> bool {
    use std::io::ErrorKind::{FileTooLarge, QuotaExceeded, StorageFull};
    error.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|e| matches!(e.kind(), StorageFull | QuotaExceeded | FileTooLarge))
            // The engines pass some I/O errors on as text.
            || ["No space left on device", "Disk quota exceeded", "File too large"].iter().any(|m| cause.to_string().contains(m))
    })
}

/// The exit code an error of a run stands for.
pub fn exit_code(error: &anyhow::Error) -> i32 {
    if error.downcast_ref::<ingest::QualityGate>().is_some() {
        exit::DATA_QUALITY_GATE
    } else if error.downcast_ref::<lock::Busy>().is_some() {
        exit::OUTPUT_BUSY
    } else if error.downcast_ref::<DataTestsFailed>().is_some() {
        exit::DATA_TESTS_FAILED
    } else {
        exit::ERROR
    }
}

/// How a scoring fills the churn columns.
enum ChurnPlan {
    /// No churn model: the columns stay null.
    Off,
    /// Train one on the portfolio's history.
    Train,
    /// Apply a saved model.json.
    Saved(PathBuf),
}

impl ChurnPlan {
    /// What `choice` means for a scoring as of `as_of`; `may_train` is false for a
    /// re-score, which only ever applies the model a run saved.
    fn of(
        pipeline: &Pipeline,
        choice: &ModelChoice,
        out: &OutputLayout,
        as_of: NaiveDate,
        may_train: bool,
    ) -> ChurnPlan {
        let saved = || newest_saved_model(out, as_of).map(ChurnPlan::Saved);
        match choice {
            ModelChoice::File(path) => ChurnPlan::Saved(path.clone()),
            ModelChoice::Pipeline if !pipeline.churn.enabled => ChurnPlan::Off,
            ModelChoice::Pipeline if !may_train => saved().unwrap_or(ChurnPlan::Off),
            ModelChoice::Pipeline if pipeline.churn.retrain == Retrain::Reuse => saved().unwrap_or(ChurnPlan::Train),
            ModelChoice::Pipeline => ChurnPlan::Train,
        }
    }
}

/// What the sequence computed, for the manifest and the commands' summaries.
struct Scored {
    before: Pass,
    after: Pass,
    churn: ChurnReport,
    /// A model trained by this scoring, to publish.
    artifact: Option<Artifact>,
    stage_seconds: BTreeMap<String, f64>,
    peak_memory_mib: BTreeMap<String, f64>,
}

impl Scored {
    /// Every table both passes wrote, by the name data tests know it by (customer_health:
    /// the one with the churn columns), and the sources' bronze rows by source name.
    fn testable(&self, inputs: &Inputs) -> Vec<(String, PathBuf)> {
        let mut tables: BTreeMap<String, PathBuf> = inputs.bronze.clone();
        for w in self.before.tables.iter().chain(&self.after.tables) {
            let name = if w.name == transform::models::SCORED { HEALTH } else { w.name.as_str() };
            tables.insert(name.to_string(), w.path.clone());
        }
        tables.into_iter().collect()
    }

    /// The digest of every table the data tests can name, by that name (customer_health:
    /// the one with the churn columns).
    fn digests(&self) -> BTreeMap<String, String> {
        let mut digests = self.before.digests.clone();
        digests.extend(self.after.digests.clone());
        if let Some(scored) = digests.get(transform::models::SCORED).cloned() {
            digests.insert(HEALTH.to_string(), scored);
        }
        digests
    }

    /// The tables of both passes the pipeline publishes, in its order.
    fn published<'a>(&'a self, pipeline: &'a Pipeline) -> impl Iterator<Item = &'a Written> + 'a {
        pipeline.publish.iter().filter_map(|name| {
            // customer_health is published by the second pass, with the churn columns.
            let pass = if name == HEALTH { &self.after } else { &self.before };
            pass.table(name).or_else(|| self.after.table(name))
        })
    }
}

/// The sequence itself: SQL models → churn model → customer_health with churn risk → the
/// models that read it, every table written through `sink`. `pipeline` carries the churn
/// label this ingest allows (see [`label_fallback`]).
fn score(
    engine: &Engine,
    pipeline: &Pipeline,
    as_of: NaiveDate,
    inputs: &Inputs,
    plan: ChurnPlan,
    sink: &dyn TableSink,
    bar: &ProgressBar,
) -> Result<Scored> {
    let mut stage_seconds = BTreeMap::new();
    let cfg = &pipeline.churn;
    bar.set_message("transform: running SQL models");
    let started = Instant::now();
    let also: &[&str] = if matches!(plan, ChurnPlan::Off) { &[] } else { &[model::FEATURES] };
    let before = transform::before_model(engine, pipeline, as_of, inputs, also, sink)?;
    let mut transform_seconds = started.elapsed().as_secs_f64();
    release_freed_memory();

    bar.set_message("model: churn risk");
    let started = Instant::now();
    // The model that scores the run, and its digest: the scores are computed in the second
    // pass, unless a run saved the very scores of this model over the same features.
    let (mut churn, artifact, scorer) = match plan {
        ChurnPlan::Off => (ChurnReport::new("disabled", cfg), None, None),
        ChurnPlan::Saved(path) => {
            let saved = model::load(&path)?;
            let digest = transform::digest_of_bytes(&model::to_json(&saved)?);
            let mut report = ChurnReport::new("reused", cfg);
            report.model = Some(path);
            report.snapshots = saved.snapshots.clone();
            report.training_customers = saved.training_customers;
            report.training_churners = saved.training_churners;
            report.validation = saved.validation.clone();
            report.seconds_training = started.elapsed().as_secs_f64();
            (report, None, Some((saved, digest)))
        }
        ChurnPlan::Train => {
            // The training pass holds every snapshot date's rows at once: past a share of the
            // memory budget it runs on groups of dates, newest first, so the rows come in the
            // same order and the model is the same.
            let customers = before.table(HEALTH).map_or(1, |t| t.rows.max(1) as usize);
            let dates_per_pass = (pipeline.memory_limit / TRAINING_ROW_BYTES / customers).max(1);
            let history = |dates: &[NaiveDate]| {
                let mut parts = Vec::new();
                for group in dates.chunks(dates_per_pass) {
                    let rows = transform::training(engine, pipeline, &inputs.bronze, group, sink)?;
                    parts.push(publish::open_batches(&rows.path)?);
                }
                // The SQL lane's memory, before the model lane builds its training matrix.
                release_freed_memory();
                let rows = parts.iter().map(|(n, _)| n).sum();
                let batches: Batches = Box::new(parts.into_iter().flat_map(|(_, b)| b));
                Ok((rows, batches))
            };
            let trained = model::train(cfg, as_of, &history)?;
            match trained.artifact {
                Some(artifact) => {
                    let digest = transform::digest_of_bytes(&model::to_json(&artifact)?);
                    let scoring = artifact.clone();
                    (trained.report, Some(artifact), Some((scoring, digest)))
                }
                None => {
                    tracing::warn!(
                        "no churn model: {}; churn columns are left empty",
                        trained.report.reason.as_deref().unwrap_or("")
                    );
                    (trained.report, None, None)
                }
            }
        }
    };
    stage_seconds.insert("model".to_string(), started.elapsed().as_secs_f64());
    let mut peak_memory_mib = BTreeMap::new();
    peak_memory_mib.extend(peak_memory().map(|m| ("model".to_string(), m)));

    bar.set_message("transform: alerts");
    let started = Instant::now();
    let scoring_seconds = std::cell::Cell::new(0.0);
    let drift = std::cell::RefCell::new(BTreeMap::new());
    // Only when no saved scores of this model over the same features can be reused: a
    // re-score with unchanged rules reads no features (and a run always scores).
    let compute = || -> Result<Table> {
        let scoring = Instant::now();
        let scores = match &scorer {
            Some((scoring, _)) => {
                let file = before.table(model::FEATURES).context("the SQL lane wrote no churn_features")?;
                let current = model::to_score(cfg, &publish::read_table(model::FEATURES, &file.path)?)?;
                drift.replace(model::drift(scoring, &current));
                model::score(&scoring.model, cfg, &current)?
            }
            None => model::no_scores(),
        };
        scoring_seconds.set(scoring.elapsed().as_secs_f64());
        Ok(scores)
    };
    let bands = format!("{:?}", cfg.bands());
    let model = match &scorer {
        Some((_, digest)) => format!("{digest} {bands}"),
        None => "no model".to_string(),
    };
    let scores = transform::ChurnScores { model, compute: &compute };
    let after = match before.table(HEALTH) {
        Some(_) => transform::after_model(engine, pipeline, as_of, inputs, &before, scores, sink)?,
        None => {
            let after = transform::after_model_tables(pipeline)?;
            if !after.is_empty() {
                bail!(
                    "pipeline file {}: {} read{} {}, which needs customer_health in [run] publish",
                    pipeline.file.display(),
                    after.join(", "),
                    if after.len() == 1 { "s" } else { "" },
                    transform::models::SCORED
                );
            }
            Pass::default()
        }
    };
    transform_seconds += started.elapsed().as_secs_f64();
    stage_seconds.insert("transform".to_string(), transform_seconds);
    churn.seconds_scoring = scoring_seconds.get();
    churn.drift = drift.take();
    peak_memory_mib.extend(peak_memory().map(|m| ("transform".to_string(), m)));
    Ok(Scored { before, after, churn, artifact, stage_seconds, peak_memory_mib })
}

/// Past this shortfall of the realized ROC AUC below the one the model's validation
/// showed, and past two standard errors of the difference (chance alone moves either AUC
/// by 0.05 when there are a few dozen churners), its risks did not come true as promised:
/// a warning.
const REALIZED_SHORTFALL: f64 = 0.05;

/// Warnings that the churn model has gone stale: its risks published a horizon ago ranked
/// the churners since well below its validation, or (for a reused model) the customers
/// scored moved away from its training rows. A model trained by the run itself is not
/// warned about drift: it learned from the newest history there is, and features that
/// grow with a customer's age (tenure, purchase span) always drift from a year of
/// snapshots; its drift is in the manifest and model_metrics.
fn model_warnings(churn: &ChurnReport) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Some(r) = &churn.realized {
        let e = &r.evaluation;
        // The two AUCs are of different snapshots: their errors add.
        let squared = |se: Option<f64>| se.unwrap_or(0.0).powi(2);
        let chance = 2.0 * (squared(e.roc_auc_standard_error) + squared(r.validation_roc_auc_standard_error)).sqrt();
        let far_below = |promised: &f64| e.roc_auc < promised - REALIZED_SHORTFALL.max(chance);
        if let Some(promised) = r.validation_roc_auc.filter(far_below) {
            warnings.push(format!(
                "the churn risks published on {} ranked the {} of their {} customers who churned since at ROC AUC \
                 {:.3}, {:.3} below the {promised:.3} their model's validation showed (chance explains up to {:.3}): \
                 the model may be stale; retrain it (a run with [churn] retrain = \"always\") or look at what \
                 changed in the portfolio",
                r.predicted_as_of,
                e.churned,
                e.customers,
                e.roc_auc,
                promised - e.roc_auc,
                REALIZED_SHORTFALL.max(chance)
            ));
        }
    }
    let shifted: Vec<String> = churn
        .drift
        .iter()
        .filter(|(_, psi)| churn.status == "reused" && **psi > model::drift::SHIFTED)
        .map(|(feature, psi)| format!("{feature} (PSI {psi:.2})"))
        .collect();
    if !shifted.is_empty() {
        warnings.push(format!(
            "the customers scored have moved away from the churn model's training rows on {}: \
             its risks may be stale; retrain it (a run with [churn] retrain = \"always\") and compare",
            shifted.join(", ")
        ));
    }
    warnings
}

/// The churn risks the newest committed run on or before `as_of` − horizon published,
/// checked against what happened in the horizon after its date (churn_labels over its
/// customers, by the label `pipeline` carries). None when churn is off, no such run
/// published risks, or its customers hold no churner or no stayer.
fn realized(
    engine: &Engine,
    pipeline: &Pipeline,
    out: &OutputLayout,
    as_of: NaiveDate,
    inputs: &Inputs,
    sink: &dyn TableSink,
) -> Result<Option<Realized>> {
    if !pipeline.churn.enabled {
        return Ok(None);
    }
    let due = as_of - Duration::days(pipeline.churn.horizon_days);
    let mut published = out.partitions(HEALTH).into_iter().rev().filter(|d| *d <= due);
    let scored = |d: &NaiveDate| {
        let file = out.table_file(HEALTH, *d);
        publish::snapshot::readable(&file) && publish::values_in(&file, "churn_risk").is_ok_and(|n| n > 0)
    };
    let Some(predicted_as_of) = published.find(scored) else {
        return Ok(None);
    };
    let predictions = out.table_file(HEALTH, predicted_as_of);
    let joined = transform::realized(engine, pipeline, &inputs.bronze, predicted_as_of, &predictions, sink)?;
    let Some(evaluation) = model::realized(&joined)? else {
        return Ok(None);
    };
    let validated = Manifest::read(&out.manifest_file(predicted_as_of)).ok().and_then(|m| m.churn.validation);
    Ok(Some(Realized {
        predicted_as_of,
        validation_roc_auc: validated.as_ref().map(|v| v.model.roc_auc),
        validation_roc_auc_standard_error: validated.and_then(|v| v.model.roc_auc_standard_error),
        evaluation,
    }))
}

/// The pipeline with the churn label this ingest allows, when it differs: a default `crm`
/// label over an accounts export without a churn_date in any row would find no churner,
/// so it falls back to inactivity.
fn label_fallback(pipeline: &Pipeline, inputs: &Inputs) -> Result<Option<Pipeline>> {
    let churn = &pipeline.churn;
    if !churn.enabled || churn.label_set || churn.label_note.is_some() {
        return Ok(None);
    }
    let Some(accounts) = inputs.bronze.get("accounts") else {
        return Ok(None);
    };
    if publish::values_in(accounts, "churn_date")? > 0 {
        return Ok(None);
    }
    let mut fallen_back = pipeline.clone();
    fallen_back.churn.fall_back_to_inactivity("no row of the accounts export has a churn_date");
    Ok(Some(fallen_back))
}

/// Hands the memory freed so far back to the system, between one lane's work and the next.
/// jemalloc keeps the pages a thread frees in that thread's arena for a while and returns
/// them only when the arena is busy again; the threads of a lane that has finished sit idle
/// while the next lane works in its own arenas, so without this what the one freed stays
/// resident on top of what the other holds. With the system allocator it does nothing.
fn release_freed_memory() {
    // "arena.<MALLCTL_ARENAS_ALL>.purge": the unused pages of every arena, at once.
    const PURGE_ALL: &[u8] = b"arena.4096.purge\0";
    use std::ptr::null_mut;
    // SAFETY: a void mallctl with a NUL-terminated name: nothing is read or written through
    // the pointers. A failure leaves the pages where they are, which is only slower to free.
    unsafe { tikv_jemalloc_sys::mallctl(PURGE_ALL.as_ptr().cast(), null_mut(), null_mut(), null_mut(), 0) };
}

/// The most memory (resident set, MiB) the process has held so far, where the system
/// says (Linux: VmHWM).
fn peak_memory() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib / 1024.0)
}

/// The share of `[run] memory_limit` the SQL engine's operators may hold before they spill:
/// the rest is for what its memory pool does not count (Parquet readers' and writers'
/// buffers, the tables the lanes hand over, the allocator's slack). With all of it, a run at
/// a million customers peaked at 2,052 MiB in the SQL lane under a 2 GiB limit.
const ENGINE_SHARE: (usize, usize) = (3, 4);

/// The engine a run or re-score uses: every core unless `[run] partitions` says otherwise
/// (the SQL models sum exactly, so the same inputs give the same bytes on any number of
/// partitions), within its share of `[run] memory_limit`, spilling into the folder it
/// writes to, on the cluster `[run] engine` names.
fn engine(pipeline: &Pipeline, sink: &dyn TableSink) -> Result<Engine> {
    Engine::new(EngineOptions {
        partitions: pipeline.partitions,
        memory_limit: Some(pipeline.memory_limit / ENGINE_SHARE.1 * ENGINE_SHARE.0),
        spill_dir: Some(sink.spill_dir()),
        cluster: pipeline.engine.clone(),
    })
}

/// Runs a pipeline end to end, alone on its output directory, and returns the manifest it
/// published. A run that fails before its commit point publishes nothing; one that fails
/// after it is published in part, which the next run finishes. Either way it leaves
/// `runs/<as_of>/failure.json` saying which.
pub fn run(pipeline: &Pipeline, settings: &RunSettings) -> Result<Manifest> {
    let started_at = chrono::Local::now();
    let who = format!("pipeline {} as of {}", pipeline.file.display(), settings.as_of);
    let out = OutputLayout::new(&settings.out);
    let _lock = lock::acquire(&out, &who)?;
    let failure = out.failure_file(settings.as_of);
    match publish_run(pipeline, settings, &out, started_at) {
        Ok(manifest) => {
            if failure.exists() {
                std::fs::remove_file(&failure).with_context(|| format!("removing {}", failure.display()))?;
            }
            Ok(manifest)
        }
        Err(error) => {
            // Past the commit point the run is published in part, and the next run finishes it.
            let committed = out.staging(settings.as_of).journal_file().exists();
            let error = match out_of_space(&error) {
                false => error,
                true => error.context(format!(
                    "the disk under {} is full (or a file-size limit stopped a write): free space and \
                     rerun; {}",
                    out.root().display(),
                    if committed {
                        "the run is committed and the next run finishes its publish"
                    } else {
                        "nothing of this run was published, and the runs before it are as they were"
                    }
                )),
            };
            let record = serde_json::json!({
                "pipeline": pipeline.file,
                "as_of": settings.as_of,
                "started_at": started_at.to_rfc3339(),
                "failed_at": chrono::Local::now().to_rfc3339(),
                "exit_code": exit_code(&error),
                "committed": committed,
                "published": if committed { "partly: the next run finishes the publish" } else { "nothing" },
                "error": format!("{error:#}"),
            });
            if let Err(e) = publish::write_atomically(&failure, &serde_json::to_vec_pretty(&record)?) {
                tracing::warn!("could not record the failure in {}: {e:#}", failure.display());
            }
            Err(error)
        }
    }
}

fn publish_run(
    pipeline: &Pipeline,
    settings: &RunSettings,
    out: &OutputLayout,
    started_at: DateTime<Local>,
) -> Result<Manifest> {
    let bar = if settings.progress { ProgressBar::new_spinner() } else { ProgressBar::hidden() };
    bar.set_style(ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("valid template"));
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let as_of = settings.as_of;
    let staging = Staging::begin(out, as_of)?;
    let previous = previous_health(out, as_of);
    // Before ingest, so a cluster that cannot be reached fails the run at once.
    let engine = engine(pipeline, &staging)?;

    bar.set_message("ingest: reading and checking exports");
    let started = Instant::now();
    let ingested = ingest::ingest_all(pipeline, as_of, &staging)?;
    let ingest_seconds = started.elapsed().as_secs_f64();
    let ingest_memory = peak_memory();
    release_freed_memory();
    for report in &ingested.reports {
        tracing::info!(
            source = report.source,
            read = report.rows_read,
            accepted = report.rows_accepted,
            rejected = report.rows_rejected,
            "ingested"
        );
    }
    let previous_inputs =
        previous.as_ref().and_then(|(d, _)| Some((*d, Manifest::read(&out.manifest_file(*d)).ok()?.inputs)));
    let previous_inputs = previous_inputs.as_ref().map(|(d, r)| (*d, r.as_slice()));
    let mut warnings = ingest::check_quality(pipeline, settings.as_of, &ingested.reports, previous_inputs)?;
    for warning in &warnings {
        tracing::warn!("{warning}");
    }

    let bronze = ingested.bronze.iter().map(|w| (source_of(&w.name).to_string(), w.path.clone())).collect();
    let inputs = Inputs {
        bronze,
        previous: previous.clone(),
        ingest_run: started_at.to_rfc3339(),
        previous_run: previous.as_ref().and_then(|(d, _)| run_id(out, *d)),
        saved: None,
    };
    let fallen_back = label_fallback(pipeline, &inputs)?;
    let pipeline = fallen_back.as_ref().unwrap_or(pipeline);
    // Before the sequence: after the training pass the allocator holds its freed memory for
    // a while, and this check's would come on top.
    bar.set_message("model: checking earlier churn risks against what happened");
    let started = Instant::now();
    let realized = realized(&engine, pipeline, out, as_of, &inputs, &staging)?;
    let realized_seconds = started.elapsed().as_secs_f64();
    let plan = ChurnPlan::of(pipeline, &settings.model, out, as_of, true);
    let mut scored = score(&engine, pipeline, as_of, &inputs, plan, &staging, &bar)?;
    scored.churn.realized = realized;
    *scored.stage_seconds.entry("model".to_string()).or_default() += realized_seconds;
    bar.set_message("publish: committing");
    let started = Instant::now();
    let mut tables: BTreeMap<String, TableReport> = BTreeMap::new();
    let report = |w: &Written| TableReport { rows: w.rows, path: out.partition_dir(&w.name, as_of) };
    let mut staged_files = Vec::new();
    for table in scored.published(pipeline) {
        tables.insert(table.name.clone(), report(table));
        staged_files.push((table.name.clone(), table.path.clone()));
    }
    let validation = scored.artifact.as_ref().and_then(|a| a.validation.as_ref());
    let metrics = model::metrics_table(as_of, validation, scored.churn.realized.as_ref(), &scored.churn.drift)?;
    let metrics = staging.write(&metrics, TableKind::Published)?;
    tables.insert(metrics.name.clone(), report(&metrics));
    let rejects = publish::gather(&staging, REJECTS, &ingested.rejects)?;
    tables.insert(rejects.name.clone(), report(&rejects));
    staged_files.extend([metrics, rejects].into_iter().map(|w| (w.name, w.path)));
    if let Some(artifact) = &scored.artifact {
        staging.write_file(
            OutputLayout::models_table(),
            OutputLayout::model_file_name(),
            &model::to_json(artifact)?,
        )?;
    }
    let Tested { results: data_tests, saved: tests, .. } =
        test_data(&engine, pipeline, &scored, &inputs, &BTreeMap::new())?;
    let mut models = scored.before.facts.clone();
    models.extend(scored.after.facts.clone());
    let facts = SavedFacts { run: inputs.ingest_run.clone(), models, tests };
    staging.write_file(
        OutputLayout::facts_table(),
        OutputLayout::fingerprints_file_name(),
        &serde_json::to_vec_pretty(&facts)?,
    )?;
    let failed_warn_tests = data_test_gate(pipeline, &data_tests)?;
    for warning in &failed_warn_tests {
        tracing::warn!("{warning}");
    }
    warnings.extend(failed_warn_tests);
    let stale = model_warnings(&scored.churn);
    for warning in &stale {
        tracing::warn!("{warning}");
    }
    warnings.extend(stale);
    let tested = staging.write(&transform::data_tests::table(as_of, &data_tests)?, TableKind::Published)?;
    tables.insert(tested.name.clone(), report(&tested));
    staged_files.push((tested.name, tested.path));
    let (added_columns, allowed_breaks) = hold_to_contract(pipeline, &staged_files)?;
    let alerts = match scored.after.table(ALERTS) {
        Some(file) => count_by(&publish::read_table(ALERTS, &file.path)?, "kind")?,
        None => BTreeMap::new(),
    };
    let mut churn = scored.churn.clone();
    if scored.artifact.is_some() {
        churn.model = Some(out.model_file(as_of));
    }
    let mut stage_seconds = scored.stage_seconds.clone();
    stage_seconds.insert("ingest".to_string(), ingest_seconds);
    let mut peak_memory_mib = scored.peak_memory_mib.clone();
    peak_memory_mib.extend(ingest_memory.map(|m| ("ingest".to_string(), m)));
    let mut model_seconds = scored.before.model_seconds.clone();
    model_seconds.extend(scored.after.model_seconds.clone());
    let present: Vec<&str> = pipeline.sources.iter().map(|s| s.name()).collect();
    let mut manifest = Manifest {
        vitals_version: env!("CARGO_PKG_VERSION").to_string(),
        pipeline: pipeline.file.clone(),
        as_of,
        previous_as_of: previous.map(|(d, _)| d),
        started_at: started_at.to_rfc3339(),
        finished_at: String::new(),
        inputs: ingested.reports,
        absent_sources: canonical::source_names()
            .into_iter()
            .filter(|s| !present.contains(s))
            .map(String::from)
            .collect(),
        tables,
        scoring: scoring_report(pipeline, scored.before.customers_with_data.clone())?,
        churn,
        alerts,
        stage_seconds,
        model_seconds,
        peak_memory_mib,
        memory_limit_mib: pipeline.memory_limit as f64 / 1024.0 / 1024.0,
        warnings,
        data_tests,
        added_columns,
        allowed_breaks,
        files: BTreeMap::new(),
    };
    manifest.stage_seconds.insert("publish".to_string(), started.elapsed().as_secs_f64());
    manifest.peak_memory_mib.extend(peak_memory().map(|m| ("publish".to_string(), m)));
    manifest.finished_at = chrono::Local::now().to_rfc3339();
    staging.commit(&manifest)?;
    // Published: what retention removes now is history, so a failure here is a warning.
    let removals = publish::retention::plan(out, pipeline.retention);
    match publish::retention::remove(&removals) {
        Ok(()) => {
            for removal in &removals {
                tracing::info!(folder = %removal.path.display(), bytes = removal.bytes, "removed by retention");
            }
        }
        Err(e) => tracing::warn!("retention could not remove everything it meant to: {e:#}"),
    }
    bar.finish_and_clear();
    Ok(manifest)
}

/// The source a bronze table holds (`bronze/<source>`).
fn source_of(bronze_table: &str) -> &str {
    bronze_table.rsplit('/').next().unwrap_or(bronze_table)
}

/// What a re-score computed.
pub struct Rescored {
    pub as_of: NaiveDate,
    /// Each draft table with its file and row count, in the pipeline's publish order.
    pub drafts: Vec<Written>,
    /// The saved churn model applied, if there is one.
    pub model: Option<PathBuf>,
    pub seconds: f64,
    /// The models read from the tables the run saved, and those run again with why.
    pub reused: Vec<String>,
    pub reran: Vec<Rerun>,
    /// Why nothing the run saved could be used, if so.
    pub unsaved: Option<String>,
    /// The pipeline's data tests over the drafts (none fails the re-score).
    pub data_tests: Vec<DataTestResult>,
    /// How many of them tested tables the run had tested, unchanged: their results are
    /// the run's.
    pub data_tests_reused: usize,
}

impl Rescored {
    /// The draft of `table`, if this re-score wrote one.
    pub fn draft(&self, table: &str) -> Option<&Path> {
        self.drafts.iter().find(|w| w.name == table).map(|w| w.path.as_path())
    }
}

/// The analyst's re-score: the sequence again over the bronze tables a nightly run as of
/// `as_of` (default: the newest) ingested, with the pipeline's current rules and the churn
/// model saved for that date, into drafts; published tables stay untouched.
pub fn rescore(pipeline: &Pipeline, out: &Path, as_of: Option<NaiveDate>) -> Result<Rescored> {
    let started = Instant::now();
    let out = OutputLayout::new(out);
    // Alone against runs, so it reads one committed run; a run interrupted after its
    // commit point is finished first. (No output folder yet: nothing to lock, nor to score.)
    let _lock = match out.root().exists() {
        true => Some(lock::acquire(&out, &format!("vitals score {}", pipeline.file.display()))?),
        false => None,
    };
    publish::recover(&out)?;
    let (as_of, bronze) = ingested(pipeline, &out, as_of)?;
    let previous = previous_health(&out, as_of);
    let ingest_run = run_id(&out, as_of).unwrap_or_default();
    let (saved, saved_tests, unsaved) = match saved_facts(&out, as_of, &ingest_run) {
        Ok((saved, tests)) => (Some(saved), tests, None),
        Err(why) => (None, BTreeMap::new(), Some(why)),
    };
    let inputs = Inputs {
        bronze,
        previous_run: previous.as_ref().and_then(|(d, _)| run_id(&out, *d)),
        previous,
        ingest_run,
        saved,
    };
    let plan = ChurnPlan::of(pipeline, &ModelChoice::Pipeline, &out, as_of, false);
    let model = match &plan {
        ChurnPlan::Saved(path) => Some(path.clone()),
        _ => None,
    };
    let drafts = Drafts::new(&out, as_of)?;
    let engine = engine(pipeline, &drafts)?;
    let fallen_back = label_fallback(pipeline, &inputs)?;
    let pipeline = fallen_back.as_ref().unwrap_or(pipeline);
    let scored = score(&engine, pipeline, as_of, &inputs, plan, &drafts, &ProgressBar::hidden())?;
    let tested = test_data(&engine, pipeline, &scored, &inputs, &saved_tests)?;
    let drafts = scored.published(pipeline).cloned().collect();
    let mut reused = scored.before.reused;
    reused.extend(scored.after.reused);
    let mut reran = scored.before.reran;
    reran.extend(scored.after.reran);
    Ok(Rescored {
        as_of,
        drafts,
        model,
        seconds: started.elapsed().as_secs_f64(),
        reused,
        reran,
        unsaved,
        data_tests: tested.results,
        data_tests_reused: tested.reused,
    })
}

/// The ingest a re-score reads: as of `as_of` (default: the newest), with each source's
/// bronze file.
fn ingested(
    pipeline: &Pipeline,
    out: &OutputLayout,
    as_of: Option<NaiveDate>,
) -> Result<(NaiveDate, BTreeMap<String, PathBuf>)> {
    let as_of = match as_of {
        Some(date) => date,
        None => newest_ingest(pipeline, out)?,
    };
    let mut bronze = BTreeMap::new();
    for source in &pipeline.sources {
        let file = out.bronze_file(source.name(), as_of);
        if !file.exists() {
            bail!(
                "source {} was not ingested as of {as_of} ({} is missing): run `vitals run {} --as-of {as_of}` first",
                source.name(),
                file.display(),
                pipeline.file.display()
            );
        }
        bronze.insert(source.name().to_string(), file);
    }
    Ok((as_of, bronze))
}

/// What `vitals calibrate` found.
pub struct Calibrated {
    pub as_of: NaiveDate,
    pub snapshots: Vec<NaiveDate>,
    pub horizon_days: i64,
    /// Why the churn label is what it is, when vitals chose it.
    pub label_note: Option<String>,
    pub calibration: model::calibration::Calibration,
}

/// Checks the health score against what happened: customer_health as of each of the churn
/// model's snapshot dates (over the ingest as of `as_of`, default the newest), and whether
/// each customer churned in the horizon after it. Writes nothing but work files, removed
/// when it ends.
pub fn calibrate(pipeline: &Pipeline, out: &Path, as_of: Option<NaiveDate>) -> Result<Calibrated> {
    let out = OutputLayout::new(out);
    if !out.root().exists() {
        bail!(
            "{} holds no run to calibrate on: run `vitals run {}` first",
            out.root().display(),
            pipeline.file.display()
        );
    }
    let _lock = lock::acquire(&out, &format!("vitals calibrate {}", pipeline.file.display()))?;
    publish::recover(&out)?;
    let (as_of, bronze) = ingested(pipeline, &out, as_of)?;
    let inputs = Inputs { bronze, ..Inputs::default() };
    let fallen_back = label_fallback(pipeline, &inputs)?;
    let pipeline = fallen_back.as_ref().unwrap_or(pipeline);
    let snapshots = model::snapshot_dates(&pipeline.churn, as_of);
    let drafts = Drafts::new(&out, as_of)?;
    let engine = engine(pipeline, &drafts)?;
    let labels = transform::training(&engine, pipeline, &inputs.bronze, &snapshots, &drafts)?;
    let healths = transform::health_history(&engine, pipeline, &inputs.bronze, &snapshots, &drafts)?;
    let mut health: Vec<Batches> = Vec::new();
    for table in &healths {
        health.push(publish::open_batches(&table.path)?.1);
    }
    let calibration = model::calibration::calibrate_tables(
        &pipeline.scoring.dimension_weights,
        publish::open_batches(&labels.path)?.1,
        Box::new(health.into_iter().flatten()),
    )?;
    Ok(Calibrated {
        as_of,
        snapshots,
        horizon_days: pipeline.churn.horizon_days,
        label_note: pipeline.churn.label_note.clone(),
        calibration,
    })
}

/// The start time of the committed run as of `date`, which identifies it.
fn run_id(out: &OutputLayout, date: NaiveDate) -> Option<String> {
    Manifest::read(&out.manifest_file(date)).ok().map(|m| m.started_at)
}

/// The tables the committed run as of `as_of` (started at `run`) saved, by model, and its
/// data tests' results; Err says why there are none to use.
fn saved_facts(out: &OutputLayout, as_of: NaiveDate, run: &str) -> std::result::Result<SavedRun, String> {
    if out.staging(as_of).journal_file().exists() {
        // Its files may be half moved in: the next run finishes the publish.
        return Err(format!("the run as of {as_of} has not finished publishing"));
    }
    let file = out.fingerprints_file(as_of);
    let text = std::fs::read(&file)
        .map_err(|_| format!("the run as of {as_of} saved no model tables ({} is missing)", file.display()))?;
    let facts: SavedFacts =
        serde_json::from_slice(&text).map_err(|e| format!("{} is not valid ({e})", file.display()))?;
    if facts.run != run {
        return Err(format!("{} belongs to another run than the one published as of {as_of}", file.display()));
    }
    let place = |table: &str, published: bool| match published {
        true => out.table_file(table, as_of),
        false => out.fact_file(table, as_of),
    };
    let models = facts
        .models
        .into_iter()
        .map(|(model, f)| (model, Saved { file: place(&f.table, f.published), fingerprint: f.fingerprint }))
        .collect();
    Ok((models, facts.tests))
}

/// What a run saved for re-scoring: its model tables and its data tests' results.
type SavedRun = (BTreeMap<String, Saved>, BTreeMap<String, SavedTest>);

/// Holds each table about to be published to its contract (docs/tables.md): a break the
/// pipeline does not allow refuses the run, naming table and column, before anything is
/// published. Returns the columns added beyond the contract, and the allowed breaks made.
fn hold_to_contract(
    pipeline: &Pipeline,
    staged: &[(String, PathBuf)],
) -> Result<(BTreeMap<String, Vec<String>>, Vec<String>)> {
    let (mut added, mut broken, mut allowed) = (BTreeMap::new(), Vec::new(), Vec::new());
    for (table, file) in staged {
        let schema = publish::schema(file)?;
        let held = contract::hold(table, &schema, &pipeline.allow_breaking);
        if !held.added.is_empty() {
            added.insert(table.clone(), held.added);
        }
        broken.extend(held.broken.into_iter().map(|(key, why)| format!("{key}: {why}")));
        let strict = contract::hold(table, &schema, &[]);
        allowed.extend(strict.broken.into_iter().map(|(key, _)| key).filter(|k| pipeline.allow_breaking.contains(k)));
    }
    if !broken.is_empty() {
        bail!(
            "the SQL models would break {} published column(s) that BI users read (docs/tables.md):\n  {}\n\
             Nothing was published. Restore the column(s) in the SQL model, or, if the change is meant, \
             tell the BI users and add allow_breaking = [{}] to [run] in {}",
            broken.len(),
            broken.join("\n  "),
            broken.iter().map(|b| format!("\"{}\"", b.split(':').next().unwrap_or(b))).collect::<Vec<_>>().join(", "),
            pipeline.file.display()
        );
    }
    Ok((added, allowed))
}

/// The newest date every source of the pipeline has bronze Parquet for under `out`.
pub fn newest_ingest(pipeline: &Pipeline, out: &OutputLayout) -> Result<NaiveDate> {
    let first = pipeline.sources.first().context("the pipeline has no sources")?;
    out.partitions(&OutputLayout::bronze_table(first.name()))
        .into_iter()
        .rev()
        .find(|d| pipeline.sources.iter().all(|s| out.bronze_file(s.name(), *d).exists()))
        .with_context(|| {
            format!(
                "no ingested sources under {}: run `vitals run {}` first, then re-score",
                out.bronze_dir().display(),
                pipeline.file.display()
            )
        })
}

/// The newest customer_health published before `as_of`: its date and its file.
pub fn previous_health(out: &OutputLayout, as_of: NaiveDate) -> Option<(NaiveDate, PathBuf)> {
    let file = |d: NaiveDate| out.table_file(HEALTH, d);
    let readable = |d: &NaiveDate| {
        let ok = publish::snapshot::readable(&file(*d));
        if !ok {
            tracing::warn!(file = %file(*d).display(), "not a readable customer_health; trends compare with an earlier run");
        }
        ok
    };
    out.partitions(HEALTH).into_iter().filter(|d| *d < as_of).rfind(readable).map(|d| (d, file(d)))
}

/// The newest saved churn model trained on or before `as_of`.
pub fn newest_saved_model(out: &OutputLayout, as_of: NaiveDate) -> Option<PathBuf> {
    out.partitions(OutputLayout::models_table())
        .into_iter()
        .rfind(|d| *d <= as_of)
        .map(|d| out.model_file(d))
        .filter(|p| p.exists())
}

/// Rows of `table` per value of its text column `column`.
fn count_by(table: &Table, column: &str) -> Result<BTreeMap<String, u64>> {
    let mut counts = BTreeMap::new();
    for batch in &table.batches {
        let values = batch.column_by_name(column).with_context(|| format!("{} has no column {column}", table.name))?;
        for value in text_column(values)? {
            *counts.entry(value).or_insert(0) += 1;
        }
    }
    Ok(counts)
}

fn scoring_report(pipeline: &Pipeline, customers_with_data: BTreeMap<String, u64>) -> Result<ScoringReport> {
    let weights = &pipeline.scoring.dimension_weights;
    let dimensions_without_data = weights
        .iter()
        .filter(|(d, w)| *w > 0.0 && customers_with_data.get(*d).is_some_and(|n| *n == 0))
        .map(|(d, _)| d.to_string())
        .collect::<Vec<_>>();
    for d in &dimensions_without_data {
        tracing::warn!(dimension = d, "no customer has data for this dimension; it is left out of every score");
    }
    Ok(ScoringReport {
        weighting: serde_json::to_value(&pipeline.scoring.weighting)?,
        dimension_weights: weights.iter().map(|(d, w)| (d.to_string(), *w)).collect(),
        customers_with_data,
        dimensions_without_data,
    })
}
