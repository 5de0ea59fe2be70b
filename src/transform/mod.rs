//! The transform lane (DataFusion): the SQL models in the pipeline's SQL folder, run over
//! the bronze tables as of the run date (see [`sources`] for what "as of" means).
//!
//! Each model's result is written through the sink the lane is given, table by table, and
//! read back from that file by the models after it: results stream to disk instead of
//! piling up in memory, and a table read by several models is computed once. Run
//! parameters and scoring rules are small tables too (see [`rules`]).
//!
//! A run has two passes around the model lane. The first runs every model that does not
//! read `scored_health`; the second adds the churn model's columns to customer_health,
//! which is then `scored_health` and the published customer_health, and runs the models
//! that read it (alerts).

mod build_side;
#[cfg(feature = "ballista")]
mod cluster;
pub mod data_tests;
pub mod diff;
mod engine;
mod memo;
mod memory;
pub mod models;
pub mod outputs;
pub mod rows;
mod rules;
mod same_column;
mod scored;
pub mod shipped;
mod sources;
mod whole_days;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use chrono::NaiveDate;
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::functions_aggregate::expr_fn::count;
use datafusion::prelude::{col, lit, SessionContext};
use futures::StreamExt;

use crate::canonical::{self, HEALTH};
use crate::config::Pipeline;
use crate::manifest::SavedFact;
use crate::table::{Table, TableKind, TableSink, Written};

#[cfg(feature = "ballista")]
pub use cluster::{serve_executor, serve_scheduler, ExecutorOptions};
pub use engine::{Engine, EngineOptions};
use memo::Memo;
pub use memo::{digest_of_bytes, Rerun, Saved};

/// What the SQL models read besides the pipeline's rules.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// The bronze file of each source the pipeline has, by source name.
    pub bronze: BTreeMap<String, PathBuf>,
    /// The newest customer_health published before this run: its as_of and its file.
    pub previous: Option<(NaiveDate, PathBuf)>,
    /// The run that ingested the bronze files (its start time), which stands for their
    /// content in the models' fingerprints.
    pub ingest_run: String,
    /// The run that published `previous`.
    pub previous_run: Option<String>,
    /// For a re-score: the tables the run saved, by model; a model whose fingerprint is
    /// unchanged is read from there instead of run.
    pub saved: Option<BTreeMap<String, Saved>>,
}

/// What one pass of the lane wrote.
#[derive(Default)]
pub struct Pass {
    /// Every model's table, in the order they ran.
    pub tables: Vec<Written>,
    /// Seconds each SQL model took.
    pub model_seconds: BTreeMap<String, f64>,
    /// Customers with a score on each dimension (a dimension with 0 had no data at all);
    /// empty when the pass ran no dimension_scores model.
    pub customers_with_data: BTreeMap<String, u64>,
    /// Each model's fingerprint and table, for the run to save.
    pub facts: BTreeMap<String, SavedFact>,
    /// In a re-score: the models read from the run's saved tables, and those run again.
    pub reused: Vec<String>,
    pub reran: Vec<Rerun>,
    /// The digest of every table the pass's models could name (sources, rules, models).
    pub digests: BTreeMap<String, String>,
}

impl Pass {
    fn of(tables: Vec<Written>, model_seconds: BTreeMap<String, f64>, memo: Memo) -> Pass {
        let Memo { tables: digests, facts, reused, reran, .. } = memo;
        Pass { tables, model_seconds, customers_with_data: BTreeMap::new(), facts, reused, reran, digests }
    }
}

impl Pass {
    /// The table `name` this pass wrote.
    pub fn table(&self, name: &str) -> Option<&Written> {
        self.tables.iter().find(|t| t.name == name)
    }
}

/// The published tables that read `scored_health`, in the pipeline's order.
pub fn after_model_tables(pipeline: &Pipeline) -> Result<Vec<String>> {
    let models = models::load(&pipeline.sql)?;
    Ok(pipeline.publish.iter().filter(|t| models.iter().any(|m| m.name == **t && m.after_model)).cloned().collect())
}

/// How a run keeps a model's table: published if the pipeline publishes it, else saved
/// for re-scoring.
fn kind_of(pipeline: &Pipeline, name: &str) -> TableKind {
    match pipeline.publish.iter().any(|p| p == name) {
        true => TableKind::Published,
        false => TableKind::Saved,
    }
}

/// The model whose rows say which customers have data on which dimension.
const DIMENSION_SCORES: &str = "dimension_scores";

/// The first pass: every model the pipeline's published tables need that does not read
/// `scored_health`, the models in `also`, and what they need. Published tables are written
/// as published, except customer_health, which the second pass publishes with the churn
/// columns.
pub fn before_model(
    engine: &Engine,
    pipeline: &Pipeline,
    as_of: NaiveDate,
    inputs: &Inputs,
    also: &[&str],
    sink: &dyn TableSink,
) -> Result<Pass> {
    let models = models::load(&pipeline.sql)?;
    let mut wanted: Vec<&str> = pipeline.publish.iter().map(String::as_str).collect();
    wanted.extend_from_slice(also);
    if models.iter().any(|m| m.name == DIMENSION_SCORES) {
        wanted.push(DIMENSION_SCORES);
    }
    // customer_health is saved here and published, with the churn columns, by the second pass.
    let kind = |name: &str| if name == HEALTH { TableKind::Saved } else { kind_of(pipeline, name) };
    engine.block_on(async {
        let (ctx, rules) = session(engine, pipeline, &[as_of], inputs).await?;
        let mut memo = Memo::new(inputs, &[as_of], &rules)?;
        let needed: Vec<models::Model> =
            needed(pipeline, models, &wanted)?.into_iter().filter(|m| !m.after_model).collect();
        let (tables, model_seconds) = execute(&ctx, needed, &kind, sink, "", Some(&mut memo)).await?;
        let dimensions = tables.iter().find(|t| t.name == DIMENSION_SCORES);
        let customers_with_data = match dimensions {
            Some(table) => customers_per_dimension(&ctx, &table.path).await?,
            None => BTreeMap::new(),
        };
        Ok(Pass { customers_with_data, ..Pass::of(tables, model_seconds, memo) })
    })
}

/// The churn model's scores for the second pass: what identifies the model that gives them
/// (with its risk bands), and how to compute them (customer_id and
/// [`canonical::CHURN_COLUMNS`]) when no saved table has them.
pub struct ChurnScores<'a> {
    pub model: String,
    pub compute: &'a dyn Fn() -> Result<Table>,
}

/// The table of churn scores a run saves beside the models' tables.
const CHURN_SCORES: &str = "churn_scores";

/// The second pass: customer_health (of the first pass, `before`) with the churn model's
/// columns (`churn`) becomes `scored_health`, the published customer_health; then the
/// published models that read it run, over the tables of the first pass.
pub fn after_model(
    engine: &Engine,
    pipeline: &Pipeline,
    as_of: NaiveDate,
    inputs: &Inputs,
    before: &Pass,
    churn: ChurnScores,
    sink: &dyn TableSink,
) -> Result<Pass> {
    let after = after_model_tables(pipeline)?;
    let wanted: Vec<&str> = after.iter().map(String::as_str).collect();
    let models = models::load(&pipeline.sql)?;
    let table_kind = |name: &str| kind_of(pipeline, name);
    engine.block_on(async {
        let (ctx, rules) = session(engine, pipeline, &[as_of], inputs).await?;
        let mut memo = Memo::new(inputs, &[as_of], &rules)?;
        memo.extend(&before.facts);
        for table in &before.tables {
            sources::register_parquet(&ctx, &table.name, &table.path).await?;
        }
        let started = Instant::now();
        let columns: Vec<String> = canonical::CHURN_COLUMNS.iter().map(|(c, _)| format!("s.\"{c}\"")).collect();
        let sql = format!(
            "SELECT h.*, {} FROM {HEALTH} AS h LEFT JOIN churn_scores AS s ON s.customer_id = h.customer_id \
             ORDER BY h.customer_id",
            columns.join(", ")
        );
        let features = memo.digest(canonical::CHURN_FEATURES).unwrap_or_default().to_string();
        let inputs =
            BTreeMap::from([(canonical::CHURN_FEATURES.to_string(), features), ("model".to_string(), churn.model)]);
        let scores_print = memo::fingerprint(CHURN_SCORES, inputs);
        let scores = match memo.reusable(CHURN_SCORES, &scores_print) {
            Some(file) => sink.adopt(CHURN_SCORES, &file, TableKind::Saved)?,
            None => sink.write(&(churn.compute)()?, TableKind::Saved)?,
        };
        let scores_digest = scores_print.digest.clone();
        memo.done(CHURN_SCORES, scores_print, CHURN_SCORES, TableKind::Saved);
        sources::register_parquet(&ctx, CHURN_SCORES, &scores.path).await?;
        let health = memo.digest(HEALTH).context("customer_health ran in the first pass")?.to_string();
        let print = memo::fingerprint(
            &sql,
            BTreeMap::from([(HEALTH.to_string(), health), (CHURN_SCORES.to_string(), scores_digest)]),
        );
        // Unpublished, it is saved under its own name: customer_health is the first pass's.
        let (table, kind) = match table_kind(HEALTH) {
            TableKind::Published => (HEALTH, TableKind::Published),
            _ => (models::SCORED, TableKind::Saved),
        };
        let scored = match memo.reusable(models::SCORED, &print) {
            Some(file) => sink.adopt(table, &file, kind)?,
            None => {
                let health = before.table(HEALTH).context("customer_health ran in the first pass")?;
                let batch_rows = ctx.state().config().batch_size();
                match scored::write(&health.path, &scores.path, batch_rows, table, kind, sink)? {
                    Some(written) => written,
                    None => write(&ctx, ctx.sql(&sql).await?, table, kind, sink).await?,
                }
            }
        };
        memo.done(models::SCORED, print, table, kind);
        sources::register_parquet(&ctx, models::SCORED, &scored.path).await?;
        let mut model_seconds = BTreeMap::from([(models::SCORED.to_string(), started.elapsed().as_secs_f64())]);
        let mut tables = vec![scored];
        let needed: Vec<models::Model> =
            needed(pipeline, models, &wanted)?.into_iter().filter(|m| m.after_model).collect();
        let (more, seconds) = execute(&ctx, needed, &table_kind, sink, "", Some(&mut memo)).await?;
        tables.extend(more);
        model_seconds.extend(seconds);
        Ok(Pass::of(tables, model_seconds, memo))
    })
}

/// The churn model's training set, written through `sink` as a work table: for each of
/// `dates`, every customer of churn_features as of that date with its features, whether
/// it churned in the horizon after it (churn_labels) and its R + F score (customer_rfm,
/// for the baseline). Every date is computed in one pass: each source's point-in-time
/// view holds its rows once per date, so the fact models run once, not once per date.
/// Newest date first, then by customer.
pub fn training(
    engine: &Engine,
    pipeline: &Pipeline,
    bronze: &BTreeMap<String, PathBuf>,
    dates: &[NaiveDate],
    sink: &dyn TableSink,
) -> Result<Written> {
    let inputs = Inputs { bronze: bronze.clone(), ..Inputs::default() };
    let wanted = [canonical::CHURN_FEATURES, canonical::CHURN_LABELS, canonical::CUSTOMER_RFM];
    engine.block_on(async {
        let (ctx, _) = session(engine, pipeline, dates, &inputs).await?;
        let needed = needed(pipeline, models::load(&pipeline.sql)?, &wanted)?;
        let (tables, _) = execute(&ctx, needed, &|_| TableKind::Work, sink, "training_", None).await?;
        for name in wanted {
            // Registered again: a model another one reads is dropped once it has been read.
            let table = tables.iter().find(|t| t.name == format!("training_{name}")).context("a wanted model ran")?;
            ctx.deregister_table(name)?;
            sources::register_parquet(&ctx, name, &table.path).await?;
        }
        let sql = format!(
            "SELECT f.*, l.{churned}, CAST(r.r_score + r.f_score AS BIGINT) AS {rf} \
             FROM {features} AS f \
             JOIN {labels} AS l ON l.as_of = f.as_of AND l.customer_id = f.customer_id \
             LEFT JOIN {rfm} AS r ON r.as_of = f.as_of AND r.customer_id = f.customer_id \
             ORDER BY f.as_of DESC, f.customer_id",
            churned = canonical::CHURNED,
            rf = canonical::RF_SCORE,
            features = canonical::CHURN_FEATURES,
            labels = canonical::CHURN_LABELS,
            rfm = canonical::CUSTOMER_RFM,
        );
        // Named for its newest date: a training pass run on groups of dates writes one each.
        let name = format!("churn_training_{}", dates.first().context("training needs a date")?);
        write(&ctx, ctx.sql(&sql).await?, &name, TableKind::Work, sink).await
    })
}

/// customer_health as of each of `dates`, as a run on that date would score it (the
/// sources' point-in-time views, no previous run), written through `sink` as work tables:
/// the health scores `vitals calibrate` checks against what happened after each date.
pub fn health_history(
    engine: &Engine,
    pipeline: &Pipeline,
    bronze: &BTreeMap<String, PathBuf>,
    dates: &[NaiveDate],
    sink: &dyn TableSink,
) -> Result<Vec<Written>> {
    dates.iter().map(|date| as_of_date(engine, pipeline, bronze, *date, HEALTH, "calibrate", sink)).collect()
}

/// Whether each customer whose churn risk a run published in `predictions` (its
/// customer_health file, as of `date`) churned in the horizon after it: churn_labels over
/// those customers (rows as_of, customer_id, churned), written through `sink` as a work
/// table. The shipped churn_labels reads only who the customers are from churn_features,
/// so the published customers stand in for it and no feature is computed; one that reads
/// more runs over a point-in-time pass of its own.
fn outcomes(
    engine: &Engine,
    pipeline: &Pipeline,
    bronze: &BTreeMap<String, PathBuf>,
    date: NaiveDate,
    predictions: &Path,
    sink: &dyn TableSink,
) -> Result<Written> {
    let labels = needed(pipeline, models::load(&pipeline.sql)?, &[canonical::CHURN_LABELS])?
        .into_iter()
        .find(|m| m.name == canonical::CHURN_LABELS)
        .context("churn_labels is needed by itself")?;
    let inputs = Inputs { bronze: bronze.clone(), ..Inputs::default() };
    let prefix = format!("outcomes_{date}_");
    let over_published = engine.block_on(async {
        let (ctx, _) = session(engine, pipeline, &[date], &inputs).await?;
        sources::register_parquet(&ctx, "published_health", predictions).await?;
        let customers = ctx.sql("SELECT customer_id, as_of FROM published_health WHERE churn_risk IS NOT NULL").await?;
        ctx.register_table(canonical::CHURN_FEATURES, customers.into_view())?;
        execute(&ctx, vec![labels], &|_| TableKind::Work, sink, &prefix, None).await
    });
    match over_published {
        Ok((mut tables, _)) => tables.pop().context("churn_labels ran"),
        Err(e) => {
            tracing::debug!("churn_labels needs more than the published customers ({e:#}); computing its inputs");
            as_of_date(engine, pipeline, bronze, date, canonical::CHURN_LABELS, "outcomes", sink)
        }
    }
}

/// The model `wanted` as a run on `date` would compute it over the sources' point-in-time
/// views (no previous run), and what it needs, written through `sink` as work tables named
/// `<purpose>_<date>_<model>`; the table of `wanted`.
fn as_of_date(
    engine: &Engine,
    pipeline: &Pipeline,
    bronze: &BTreeMap<String, PathBuf>,
    date: NaiveDate,
    wanted: &str,
    purpose: &str,
    sink: &dyn TableSink,
) -> Result<Written> {
    let inputs = Inputs { bronze: bronze.clone(), ..Inputs::default() };
    engine.block_on(async {
        let (ctx, _) = session(engine, pipeline, &[date], &inputs).await?;
        let needed = needed(pipeline, models::load(&pipeline.sql)?, &[wanted])?;
        let prefix = format!("{purpose}_{date}_");
        let (tables, _) = execute(&ctx, needed, &|_| TableKind::Work, sink, &prefix, None).await?;
        tables.into_iter().find(|t| t.name == format!("{prefix}{wanted}")).with_context(|| format!("{wanted} ran"))
    })
}

/// The churn risks a run published in `predictions` (its customer_health file, as of
/// `date`) beside what happened since: churn_risk and churned (see [`outcomes`]) of every
/// customer it scored whose outcome is known, in customer order.
pub fn realized(
    engine: &Engine,
    pipeline: &Pipeline,
    bronze: &BTreeMap<String, PathBuf>,
    date: NaiveDate,
    predictions: &Path,
    sink: &dyn TableSink,
) -> Result<Table> {
    let outcomes = outcomes(engine, pipeline, bronze, date, predictions, sink)?;
    engine.block_on(async {
        let ctx = engine.session()?;
        sources::register_parquet(&ctx, "predicted", predictions).await?;
        sources::register_parquet(&ctx, "outcomes", &outcomes.path).await?;
        let sql = format!(
            "SELECT p.churn_risk, o.{churned} FROM predicted AS p \
             JOIN outcomes AS o ON o.customer_id = p.customer_id \
             WHERE o.as_of = DATE '{date}' AND p.churn_risk IS NOT NULL ORDER BY p.customer_id",
            churned = canonical::CHURNED
        );
        let frame = ctx.sql(&sql).await?;
        let schema = Arc::new(frame.schema().as_arrow().clone());
        let batches = frame.collect().await?;
        Ok(Table { name: "realized".into(), schema, batches })
    })
}

/// A session with the sources as of `dates`, the previous run and the rules registered;
/// with the rules tables.
async fn session(
    engine: &Engine,
    pipeline: &Pipeline,
    dates: &[NaiveDate],
    inputs: &Inputs,
) -> Result<(SessionContext, Vec<(&'static str, RecordBatch)>)> {
    let ctx = engine.session()?;
    sources::register(engine, &ctx, &inputs.bronze, dates).await?;
    sources::register_previous(engine, &ctx, inputs.previous.as_ref().map(|(_, file)| file.as_path())).await?;
    let as_of = match dates {
        [one] => Some(*one),
        _ => None,
    };
    let rules = rules::register(engine, &ctx, pipeline, as_of, inputs.previous.as_ref().map(|(d, _)| *d)).await?;
    Ok((ctx, rules))
}

fn needed(pipeline: &Pipeline, models: Vec<models::Model>, wanted: &[&str]) -> Result<Vec<models::Model>> {
    models::needed(models, wanted).map_err(|missing| {
        anyhow!(
            "pipeline file {}: the run needs a model `{missing}`, but {} has no {missing}.sql",
            pipeline.file.display(),
            pipeline.sql
        )
    })
}

/// Runs `needed` in order, each written through `sink` (as `prefix` + its name, of the
/// kind `kind` says) and registered from its file for the models after it; with `memo`, a
/// model whose saved table still fits is read from there instead. A table is dropped from
/// the session once the last model reading it has run.
async fn execute(
    ctx: &SessionContext,
    needed: Vec<models::Model>,
    kind: &dyn Fn(&str) -> TableKind,
    sink: &dyn TableSink,
    prefix: &str,
    mut memo: Option<&mut Memo<'_>>,
) -> Result<(Vec<Written>, BTreeMap<String, f64>)> {
    let mut done_with: Vec<Vec<String>> = vec![Vec::new(); needed.len()];
    for model in &needed {
        if let Some(last) = needed.iter().rposition(|m| m.depends_on.contains(&model.name)) {
            done_with[last].push(model.name.clone());
        }
    }
    let mut written = Vec::new();
    let mut seconds = BTreeMap::new();
    for (i, model) in needed.iter().enumerate() {
        let started = Instant::now();
        let kind = kind(&model.name);
        let name = format!("{prefix}{}", model.name);
        let print = memo.as_deref().map(|m| m.fingerprint(model));
        let saved = match (memo.as_deref_mut(), &print) {
            (Some(memo), Some(print)) => memo.reusable(&model.name, print),
            _ => None,
        };
        let ran = match saved {
            Some(file) => sink.adopt(&name, &file, kind),
            None => run_or_rerun(ctx, model, &name, kind, sink).await,
        };
        let table = ran.with_context(|| format!("SQL model {} failed while running", model.path.display()))?;
        if let (Some(memo), Some(print)) = (memo.as_deref_mut(), print) {
            memo.done(&model.name, print, &name, kind);
        }
        sources::register_parquet(ctx, &model.name, &table.path).await?;
        let took = started.elapsed().as_secs_f64();
        tracing::debug!(model = model.name, seconds = took, "SQL model done");
        seconds.insert(model.name.clone(), took);
        written.push(table);
        for name in &done_with[i] {
            ctx.deregister_table(name.as_str())?;
        }
    }
    Ok((written, seconds))
}

/// Runs one model. Hash joins cannot spill: past the memory budget the model runs again
/// with sort-merge joins, whose sorts can.
async fn run_or_rerun(
    ctx: &SessionContext,
    model: &models::Model,
    name: &str,
    kind: TableKind,
    sink: &dyn TableSink,
) -> Result<Written> {
    match run_model(ctx, model, name, kind, sink).await {
        Err(e) if exhausted(&e) => {
            tracing::info!(
                model = model.name,
                "over [run] memory_limit with hash joins; rerunning with sort-merge joins"
            );
            ctx.sql("SET datafusion.optimizer.prefer_hash_join = false").await?;
            let rerun = run_model(ctx, model, name, kind, sink).await;
            ctx.sql("SET datafusion.optimizer.prefer_hash_join = true").await?;
            match rerun {
                Err(e) if exhausted(&e) => Err(e.context(
                    "the SQL engine ran out of its memory budget even spilling to disk: \
                     raise [run] memory_limit in the pipeline file (the machine needs about 1 GiB more than it)",
                )),
                rerun => rerun,
            }
        }
        done => done,
    }
}

/// Plans and runs one model into a table of `sink`.
async fn run_model(
    ctx: &SessionContext,
    model: &models::Model,
    table: &str,
    kind: TableKind,
    sink: &dyn TableSink,
) -> Result<Written> {
    let frame = ctx.sql(&model.sql).await.map_err(|e| anyhow!("SQL model {}: {e}", located(&model.path, &e)))?;
    write(ctx, frame, table, kind, sink).await
}

/// Whether a query failed for want of memory under the engine's budget.
fn exhausted(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<datafusion::error::DataFusionError>()
            .is_some_and(|e| matches!(e.find_root(), datafusion::error::DataFusionError::ResourcesExhausted(_)))
    })
}

/// Runs one planned query and streams its result into a table of `sink`.
async fn write(
    ctx: &SessionContext,
    frame: datafusion::dataframe::DataFrame,
    table: &str,
    kind: TableKind,
    sink: &dyn TableSink,
) -> Result<Written> {
    let plan = frame.create_physical_plan().await?;
    let mut stream = datafusion::physical_plan::execute_stream(plan.clone(), ctx.task_ctx())?;
    let mut writer = None;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        // The executed batches carry the exact schema (nullability may differ from the plan's).
        let writer = match &mut writer {
            Some(w) => w,
            None => writer.insert(sink.create(table, batch.schema(), kind)?),
        };
        writer.write(&batch)?;
    }
    let writer = match writer {
        Some(w) => w,
        None => sink.create(table, plan.schema(), kind)?,
    };
    writer.finish()
}

/// `file:line:column` of an SQL error, as far as DataFusion locates it.
fn located(file: &Path, error: &datafusion::error::DataFusionError) -> String {
    let span = error.diagnostic().and_then(|d| d.span).filter(|s| s.start.line > 0);
    match span {
        Some(span) => format!("{}:{}:{}", file.display(), span.start.line, span.start.column),
        None => match parser_location(&error.to_string()) {
            Some((line, column)) => format!("{}:{line}:{column}", file.display()),
            None => file.display().to_string(),
        },
    }
}

/// The "Line: L, Column: C" the SQL parser puts in its messages.
fn parser_location(message: &str) -> Option<(u64, u64)> {
    let rest = &message[message.find("Line: ")? + 6..];
    let line = rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()?;
    let rest = &rest[rest.find("Column: ")? + 8..];
    let column = rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()?;
    Some((line, column))
}

/// How many customers have a score on each dimension, from the `dimension_scores` table.
async fn customers_per_dimension(ctx: &SessionContext, file: &Path) -> Result<BTreeMap<String, u64>> {
    let mut counts: BTreeMap<String, u64> = canonical::DIMENSIONS.iter().map(|d| (d.to_string(), 0)).collect();
    let scores = ctx.read_parquet(file.to_string_lossy().as_ref(), Default::default()).await?;
    let per_dimension = scores.aggregate(vec![col("dimension")], vec![count(lit(1)).alias("customers")])?;
    for batch in per_dimension.collect().await? {
        let names = cast(batch.column(0), &DataType::Utf8)?;
        let customers = cast(batch.column(1), &DataType::Int64)?;
        for (name, n) in names.as_string::<i32>().iter().zip(customers.as_primitive::<Int64Type>().iter()) {
            if let (Some(name), Some(n)) = (name, n) {
                counts.insert(name.to_string(), n as u64);
            }
        }
    }
    Ok(counts)
}

/// The outcome of planning one SQL model without running it.
pub struct ModelCheck {
    pub model: String,
    pub path: PathBuf,
    /// The columns it produces, or Err: what is wrong, starting with `file:line:column`
    /// where DataFusion locates it.
    pub planned: std::result::Result<Vec<String>, String>,
}

/// Plans every SQL model of the pipeline, in run order, over empty tables of the canonical
/// shapes: finds unknown tables or columns, type errors and syntax errors without data.
/// A model whose dependency failed to plan is reported as such, not planned.
pub fn check(engine: &Engine, pipeline: &Pipeline, as_of: NaiveDate) -> Result<Vec<ModelCheck>> {
    engine.block_on(async {
        let (ctx, _) = session(engine, pipeline, &[as_of], &Inputs::default()).await?;
        let mut checks: Vec<ModelCheck> = Vec::new();
        // As in a run: the models reading scored_health come after the model lane.
        let mut all = models::load(&pipeline.sql)?;
        all.sort_by_key(|m| m.after_model);
        for model in all {
            let reads = |name: &str| model.depends_on.contains(name) || (model.after_model && name == HEALTH);
            let failed: Vec<&str> =
                checks.iter().filter(|c| c.planned.is_err() && reads(&c.model)).map(|c| c.model.as_str()).collect();
            let planned = if !failed.is_empty() {
                Err(format!("{}: not planned, it reads {} which did not plan", model.path.display(), failed.join(", ")))
            } else if model.after_model && !ctx.table_exist(models::SCORED)? {
                Err(format!(
                    "{}: reads {} but there is no customer_health model to build it from",
                    model.path.display(),
                    models::SCORED
                ))
            } else {
                match ctx.sql(&model.sql).await {
                    Ok(frame) => {
                        let columns = frame.schema().fields().iter().map(|f| f.name().clone()).collect();
                        ctx.register_table(model.name.as_str(), frame.into_view())?;
                        if model.name == HEALTH {
                            register_scored_shape(&ctx).await?;
                        }
                        Ok(columns)
                    }
                    // The first line says it; DataFusion's next lines list every valid field.
                    Err(e) => {
                        Err(format!("{}: {}", located(&model.path, &e), e.to_string().lines().next().unwrap_or("")))
                    }
                }
            };
            checks.push(ModelCheck { model: model.name, path: model.path, planned });
        }
        Ok(checks)
    })
}

/// `scored_health` for planning: customer_health's columns plus the churn columns.
async fn register_scored_shape(ctx: &SessionContext) -> Result<()> {
    let churn: Vec<String> = canonical::CHURN_COLUMNS
        .iter()
        .map(|(name, kind)| format!("CAST(NULL AS {}) AS \"{name}\"", sources::sql_type(kind)))
        .collect();
    let sql = format!("SELECT *, {} FROM {HEALTH}", churn.join(", "));
    ctx.register_table(models::SCORED, ctx.sql(&sql).await?.into_view())?;
    Ok(())
}
