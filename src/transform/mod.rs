//! The transform lane (DataFusion): the SQL models in the pipeline's SQL folder, run over
//! the bronze Parquet tables as of the run date.
//!
//! Every source is registered under its canonical name as a point-in-time view: rows dated
//! after `as_of` are invisible, and later happenings on visible rows (a payment made after
//! the run date, say) read as not yet happened; planned dates (due dates, contract ends)
//! stay. So any past date re-runs faithfully from the
//! same exports. Sources a pipeline leaves out are registered as empty tables of their
//! canonical shape, so models need no special cases (the `sources` table says which are
//! present). Run parameters and scoring rules are small tables too (see `rules`).
//!
//! The previous run's customer_health is `previous_health` (for trends and alerts). The
//! models that read `scored_health` run in a second pass, after the model lane has added
//! its columns to customer_health and the publish lane has staged it as Parquet.

pub mod diff;
pub mod models;
pub mod outputs;
pub mod rows;
mod rules;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use chrono::NaiveDate;
use std::collections::BTreeMap;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::Int64Type;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};

use crate::canonical::{self, Kind};
use crate::config::{scoring, Pipeline};

/// What the SQL lane produced for a run.
pub struct Transformed {
    /// The tables the pipeline publishes, in its order.
    pub published: Vec<Table>,
    /// The other tables the caller asked for, in its order.
    pub also: Vec<Table>,
    /// Customers with a score on each dimension (a dimension with 0 had no data at all).
    pub customers_with_data: BTreeMap<String, u64>,
    /// Seconds each SQL model took, every model run included.
    pub model_seconds: BTreeMap<String, f64>,
}

/// One model's result.
pub struct Table {
    pub name: String,
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

/// What the SQL lane reads besides the pipeline's rules.
pub struct Inputs<'a> {
    /// The bronze Parquet file of each source.
    pub bronze_file: &'a (dyn Fn(&str) -> PathBuf + Sync),
    /// The newest customer_health published before this run: its as_of and its file.
    pub previous: Option<(NaiveDate, PathBuf)>,
}

impl<'a> Inputs<'a> {
    /// Bronze tables only, no history: a first run, or a past snapshot.
    pub fn bronze(bronze_file: &'a (dyn Fn(&str) -> PathBuf + Sync)) -> Self {
        Inputs { bronze_file, previous: None }
    }
}

/// Runs the SQL models of a nightly run as of `as_of`: the published tables the model lane
/// does not feed, plus the models named in `also`.
pub async fn run(pipeline: &Pipeline, as_of: NaiveDate, inputs: &Inputs<'_>, also: &[&str]) -> Result<Transformed> {
    let after = after_model(pipeline)?;
    let publish: Vec<&str> = pipeline.publish.iter().map(String::as_str).filter(|t| !after.contains(t)).collect();
    let mut wanted = publish.clone();
    wanted.extend_from_slice(also);
    if pipeline.sql_dir.join(format!("{DIMENSION_SCORES}.sql")).exists() {
        wanted.push(DIMENSION_SCORES);
    }
    let (ctx, mut tables, model_seconds) = execute(pipeline, as_of, inputs, None, &wanted).await?;
    let customers_with_data = customers_per_dimension(&ctx).await?;
    let mut take = |names: &mut dyn Iterator<Item = &str>| -> Vec<Table> {
        names.filter_map(|name| tables.iter().position(|t| t.name == name).map(|i| tables.swap_remove(i))).collect()
    };
    let published = take(&mut publish.into_iter());
    let also = take(&mut also.iter().copied());
    Ok(Transformed { published, also, customers_with_data, model_seconds })
}

/// The published tables that read `scored_health`, in the pipeline's order.
pub fn after_model(pipeline: &Pipeline) -> Result<Vec<&str>> {
    let models = models::load(&pipeline.sql_dir)?;
    Ok(pipeline
        .publish
        .iter()
        .map(String::as_str)
        .filter(|t| models.iter().any(|m| m.name == *t && m.after_model))
        .collect())
}

/// The second pass: the published tables that read `scored_health`, given the staged
/// customer_health file with the churn columns; with the seconds each model took.
pub async fn run_after_model(
    pipeline: &Pipeline,
    as_of: NaiveDate,
    inputs: &Inputs<'_>,
    scored: &Path,
) -> Result<(Vec<Table>, BTreeMap<String, f64>)> {
    let wanted = after_model(pipeline)?;
    if wanted.is_empty() {
        return Ok((Vec::new(), BTreeMap::new()));
    }
    if !scored.exists() {
        bail!(
            "pipeline file {}: {} read{} {}, which needs customer_health in [run] publish",
            pipeline.file.display(),
            wanted.join(", "),
            if wanted.len() == 1 { "s" } else { "" },
            models::SCORED
        );
    }
    let (_, tables, seconds) = execute(pipeline, as_of, inputs, Some(scored), &wanted).await?;
    Ok((tables.into_iter().filter(|t| wanted.contains(&t.name.as_str())).collect(), seconds))
}

/// Runs just the models `wanted` needs as of `as_of` and returns the `wanted` tables, in
/// that order: how the churn model gets point-in-time features for past dates.
pub async fn evaluate(
    pipeline: &Pipeline,
    as_of: NaiveDate,
    inputs: &Inputs<'_>,
    wanted: &[&str],
) -> Result<Vec<Table>> {
    let (_, mut tables, _) = execute(pipeline, as_of, inputs, None, wanted).await?;
    Ok(wanted
        .iter()
        .filter_map(|name| tables.iter().position(|t| t.name == *name).map(|i| tables.swap_remove(i)))
        .collect())
}

/// Registers sources, history and rules, then runs the models `wanted` depends on, in order.
async fn execute(
    pipeline: &Pipeline,
    as_of: NaiveDate,
    inputs: &Inputs<'_>,
    scored: Option<&Path>,
    wanted: &[&str],
) -> Result<(SessionContext, Vec<Table>, BTreeMap<String, f64>)> {
    let ctx = SessionContext::new_with_config(session_config());
    register_sources(&ctx, pipeline, as_of, Some(inputs.bronze_file)).await?;
    register_previous(&ctx, inputs.previous.as_ref().map(|(_, file)| file.as_path())).await?;
    if let Some(file) = scored {
        ctx.register_parquet(models::SCORED, &file.to_string_lossy(), ParquetReadOptions::default())
            .await
            .with_context(|| format!("registering {}", file.display()))?;
    }
    rules::register(&ctx, pipeline, as_of, inputs.previous.as_ref().map(|(d, _)| *d))?;
    let all = models::load(&pipeline.sql_dir)?;
    let needed = models::needed(all, wanted).map_err(|missing| {
        anyhow!(
            "pipeline file {}: the run needs a model `{missing}`, but {} has no {missing}.sql",
            pipeline.file.display(),
            pipeline.sql_dir.display()
        )
    })?;

    // A model's table is dropped once the last model reading it has run, unless it was
    // asked for: memory holds the tables in use, not every table of the run.
    let mut done_with: Vec<Vec<String>> = vec![Vec::new(); needed.len()];
    for model in needed.iter().filter(|m| !wanted.contains(&m.name.as_str())) {
        if let Some(last) = needed.iter().rposition(|m| m.depends_on.contains(&model.name)) {
            done_with[last].push(model.name.clone());
        }
    }
    let mut results = Vec::new();
    let mut seconds = BTreeMap::new();
    for (i, model) in needed.into_iter().enumerate() {
        let started = std::time::Instant::now();
        let frame = ctx.sql(&model.sql).await.map_err(|e| anyhow!("SQL model {}: {e}", located(&model.path, &e)))?;
        let planned: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
        let batches = frame
            .collect()
            .await
            .map_err(|e| anyhow!("SQL model {} failed while running: {e}", model.path.display()))?;
        // The executed batches carry the exact schema (nullability may differ from the plan's).
        let schema = batches.first().map(|b| b.schema()).unwrap_or(planned);
        let table = MemTable::try_new(schema.clone(), vec![batches.clone()])?;
        ctx.register_table(model.name.as_str(), Arc::new(table))?;
        let took = started.elapsed().as_secs_f64();
        tracing::debug!(model = model.name, seconds = took, "SQL model done");
        seconds.insert(model.name.clone(), took);
        if wanted.contains(&model.name.as_str()) {
            results.push(Table { name: model.name, schema, batches });
        }
        for name in &done_with[i] {
            ctx.deregister_table(name.as_str())?;
        }
    }
    Ok((ctx, results, seconds))
}

/// One partition per query: floating-point sums then add up in one fixed order, so the
/// same inputs give the same bytes (parallel partial sums arrive in any order). Spans are
/// kept so a planning error can name the line of the model it comes from.
fn session_config() -> SessionConfig {
    SessionConfig::new()
        .with_target_partitions(1)
        .set_bool("datafusion.sql_parser.collect_spans", true)
        .set_bool("datafusion.execution.parquet.schema_force_view_types", false)
        .set_bool("datafusion.sql_parser.map_string_types_to_utf8view", false)
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

/// The outcome of planning one SQL model without running it.
pub struct ModelCheck {
    pub model: String,
    pub path: PathBuf,
    /// Err: what is wrong, starting with `file:line:column` where DataFusion locates it.
    pub planned: std::result::Result<(), String>,
}

/// Plans every SQL model of the pipeline, in run order, over empty tables of the canonical
/// shapes: finds unknown tables or columns, type errors and syntax errors without data.
/// A model whose dependency failed to plan is reported as such, not planned.
pub async fn check(pipeline: &Pipeline, as_of: NaiveDate) -> Result<Vec<ModelCheck>> {
    let ctx = SessionContext::new_with_config(session_config());
    register_sources(&ctx, pipeline, as_of, None).await?;
    register_previous(&ctx, None).await?;
    rules::register(&ctx, pipeline, as_of, None)?;
    let mut checks: Vec<ModelCheck> = Vec::new();
    // As in a run: the models reading scored_health come after the model lane.
    let mut all = models::load(&pipeline.sql_dir)?;
    all.sort_by_key(|m| m.after_model);
    for model in all {
        let reads =
            |name: &str| model.depends_on.contains(name) || (model.after_model && name == crate::canonical::HEALTH);
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
                    ctx.register_table(model.name.as_str(), frame.into_view())?;
                    if model.name == crate::canonical::HEALTH {
                        register_scored_shape(&ctx).await?;
                    }
                    Ok(())
                }
                // The first line says it; DataFusion's next lines list every valid field.
                Err(e) => Err(format!("{}: {}", located(&model.path, &e), e.to_string().lines().next().unwrap_or(""))),
            }
        };
        checks.push(ModelCheck { model: model.name, path: model.path, planned });
    }
    Ok(checks)
}

/// `scored_health` for planning: customer_health's columns plus the churn columns.
async fn register_scored_shape(ctx: &SessionContext) -> Result<()> {
    let churn: Vec<String> = crate::canonical::CHURN_COLUMNS
        .iter()
        .map(|(name, kind)| format!("CAST(NULL AS {}) AS \"{name}\"", sql_type(kind)))
        .collect();
    let sql = format!("SELECT *, {} FROM {}", churn.join(", "), crate::canonical::HEALTH);
    ctx.register_table(models::SCORED, ctx.sql(&sql).await?.into_view())?;
    Ok(())
}

/// The columns of `previous_health`, whatever version published the previous partition:
/// a column it lacks reads as null.
const PREVIOUS_COLUMNS: [(&str, DataType); 6] = [
    ("customer_id", DataType::Utf8),
    ("as_of", DataType::Date32),
    ("health_score", DataType::Float64),
    ("health_tier", DataType::Utf8),
    ("churn_risk", DataType::Float64),
    ("risk_band", DataType::Utf8),
];

/// Registers `previous_health`: the previous run's customer_health, or an empty table.
async fn register_previous(ctx: &SessionContext, file: Option<&Path>) -> Result<()> {
    let Some(file) = file else {
        let fields: Vec<Field> = PREVIOUS_COLUMNS.iter().map(|(n, t)| Field::new(*n, t.clone(), true)).collect();
        let empty = MemTable::try_new(Arc::new(Schema::new(fields)), vec![vec![]])?;
        ctx.register_table("previous_health", Arc::new(empty))?;
        return Ok(());
    };
    ctx.register_parquet("previous_health_file", &file.to_string_lossy(), ParquetReadOptions::default())
        .await
        .with_context(|| format!("reading the previous run's customer_health {}", file.display()))?;
    let present = ctx.table("previous_health_file").await?.schema().clone();
    let columns: Vec<String> = PREVIOUS_COLUMNS
        .iter()
        .map(|(name, kind)| match present.has_column_with_unqualified_name(name) {
            true => format!("CAST(\"{name}\" AS {}) AS \"{name}\"", sql_type(kind)),
            false => format!("CAST(NULL AS {}) AS \"{name}\"", sql_type(kind)),
        })
        .collect();
    let view = ctx.sql(&format!("SELECT {} FROM previous_health_file", columns.join(", "))).await?.into_view();
    ctx.register_table("previous_health", view)?;
    Ok(())
}

fn sql_type(kind: &DataType) -> &'static str {
    match kind {
        DataType::Date32 => "DATE",
        DataType::Float64 => "DOUBLE",
        _ => "VARCHAR",
    }
}

/// The model whose rows say which customers have data on which dimension.
const DIMENSION_SCORES: &str = "dimension_scores";

/// How many customers have a score on each dimension, from the `dimension_scores` model
/// (empty when a pipeline's SQL has no such model).
async fn customers_per_dimension(ctx: &SessionContext) -> Result<BTreeMap<String, u64>> {
    if !ctx.table_exist(DIMENSION_SCORES)? {
        return Ok(BTreeMap::new());
    }
    let mut counts: BTreeMap<String, u64> = scoring::DIMENSIONS.iter().map(|d| (d.to_string(), 0)).collect();
    let sql = "SELECT dimension, COUNT(*) AS customers FROM dimension_scores GROUP BY dimension";
    for batch in ctx.sql(sql).await?.collect().await? {
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

fn arrow_type(kind: Kind) -> DataType {
    match kind {
        Kind::Text => DataType::Utf8,
        Kind::Date => DataType::Date32,
        Kind::Number => DataType::Float64,
        Kind::Integer { .. } => DataType::Int32,
    }
}

async fn register_sources(
    ctx: &SessionContext,
    pipeline: &Pipeline,
    as_of: NaiveDate,
    bronze_file: Option<&(dyn Fn(&str) -> PathBuf + Sync)>,
) -> Result<()> {
    for source in canonical::SOURCES {
        let bronze = format!("bronze_{}", source.name);
        if let Some(path) = bronze_file.filter(|_| pipeline.source(source.name).is_some()).map(|f| f(source.name)) {
            ctx.register_parquet(bronze.as_str(), path.to_string_lossy().as_ref(), ParquetReadOptions::default())
                .await
                .with_context(|| format!("registering bronze table {}", path.display()))?;
        } else {
            let fields: Vec<Field> =
                source.fields.iter().map(|f| Field::new(f.name, arrow_type(f.kind), true)).collect();
            let empty = MemTable::try_new(Arc::new(Schema::new(fields)), vec![vec![]])?;
            ctx.register_table(bronze.as_str(), Arc::new(empty))?;
        }
        let view = ctx.sql(&point_in_time_sql(source, &bronze, as_of)).await?.into_view();
        ctx.register_table(source.name, view)?;
    }
    Ok(())
}

/// The SQL of a source as known on `as_of`.
fn point_in_time_sql(source: &canonical::Source, bronze: &str, as_of: NaiveDate) -> String {
    let day = format!("DATE '{as_of}'");
    let columns: Vec<String> = source
        .fields
        .iter()
        .map(|f| match f.kind {
            Kind::Date if f.name != source.event_date && !f.planned => {
                format!("CASE WHEN \"{0}\" <= {day} THEN \"{0}\" END AS \"{0}\"", f.name)
            }
            // Plain strings: string views point into the buffers they were read from, and
            // joins and sorts over them copied those buffers again and again (a 100k-customer
            // customer_health spent 13 s sorting). One copy here is cheap.
            Kind::Text => format!("CAST(\"{0}\" AS VARCHAR) AS \"{0}\"", f.name),
            _ => format!("\"{}\"", f.name),
        })
        .collect();
    let event = source.event_date;
    let required = source.field(event).is_some_and(|f| f.required);
    let visible = if required {
        format!("\"{event}\" <= {day}")
    } else {
        format!("(\"{event}\" IS NULL OR \"{event}\" <= {day})")
    };
    format!("SELECT {} FROM {bronze} WHERE {visible}", columns.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_in_time_view_hides_later_rows_and_later_dates() {
        let sql = point_in_time_sql(
            canonical::source("invoices").unwrap(),
            "bronze_invoices",
            NaiveDate::from_ymd_opt(2026, 6, 30).unwrap(),
        );
        assert!(sql.contains("WHERE \"invoice_date\" <= DATE '2026-06-30'"), "{sql}");
        assert!(sql.contains("CASE WHEN \"paid_date\" <= DATE '2026-06-30' THEN \"paid_date\" END"), "{sql}");
        assert!(sql.contains(", \"due_date\","), "a due date is known when the invoice is written: {sql}");
        let accounts = point_in_time_sql(
            canonical::source("accounts").unwrap(),
            "b",
            NaiveDate::from_ymd_opt(2026, 6, 30).unwrap(),
        );
        assert!(accounts.contains("\"signup_date\" IS NULL OR"), "{accounts}");
    }
}
