//! The data tests run over a run's tables before they are published: each test becomes
//! one query for its failing rows, counted, with the smallest five keys as a sample.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;
use chrono::NaiveDate;
use datafusion::arrow::array::{ArrayRef, Date32Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::prelude::SessionContext;

use super::{same_column, sources, Engine};
use crate::canonical;
use crate::config::data_tests::{Check, DataTest};
use crate::manifest::{DataTestResult, SavedTest};
use crate::table::{text_column, Table};

/// The published table of test results.
pub const DATA_TESTS: &str = "data_tests";
const SAMPLE: usize = 5;

/// The results of a pipeline's data tests.
pub struct Tested {
    pub results: Vec<DataTestResult>,
    /// Each result with the digest of what its test read, for a later re-score to reuse.
    pub saved: BTreeMap<String, SavedTest>,
    /// How many results were taken from `saved` rather than run.
    pub reused: usize,
}

/// Runs `tests` over `tables` (name → Parquet file: the models' tables and the sources'
/// bronze rows, whose content `digests` stand for), except a test whose `saved` result
/// still holds: it was over the very same tables, or the columns the test reads have the
/// same values in `tables` as in `saved_over` (the tables of the run that saved it).
pub fn run(
    engine: &Engine,
    tests: &[DataTest],
    tables: &[(String, PathBuf)],
    digests: &BTreeMap<String, String>,
    saved: &BTreeMap<String, SavedTest>,
    saved_over: &BTreeMap<String, PathBuf>,
) -> Result<Tested> {
    engine.block_on(async {
        let ctx = engine.session()?;
        for (name, path) in tables {
            sources::register_parquet(&ctx, name, path).await?;
        }
        let now: BTreeMap<&str, &Path> = tables.iter().map(|(name, path)| (name.as_str(), path.as_path())).collect();
        let mut unchanged = Unchanged { now, before: saved_over, known: BTreeMap::new() };
        let mut tested = Tested { results: Vec::new(), saved: BTreeMap::new(), reused: 0 };
        for test in tests {
            let started = std::time::Instant::now();
            let digest = digest(test, digests);
            let definition = super::memo::digest_of(&[&format!("{test:?}")]);
            let holds = |before: &SavedTest| digest.as_deref() == Some(before.digest.as_str());
            let result = match saved.get(&test.name) {
                Some(before)
                    if holds(before) || (before.definition == definition && unchanged.reads_the_same(test)) =>
                {
                    tested.reused += 1;
                    before.result.clone()
                }
                _ => run_one(&ctx, test).await,
            };
            tracing::debug!(test = test.name, seconds = started.elapsed().as_secs_f64(), "data test done");
            if let Some(digest) = digest {
                tested.saved.insert(test.name.clone(), SavedTest { digest, definition, result: result.clone() });
            }
            tested.results.push(result);
        }
        Ok(tested)
    })
}

/// The tables `test` names (none for an SQL test: its query names them).
fn named_tables(test: &DataTest) -> Vec<&str> {
    match &test.check {
        Check::Sql { .. } => Vec::new(),
        Check::Relationships { to, .. } => vec![test.table.as_str(), to.as_str()],
        _ => vec![test.table.as_str()],
    }
}

/// The columns a test reads, by table: its column, the key its failing rows are sampled
/// by (customer_id, where the table has one) and a relationship's parent column. None
/// for an SQL test, which may read anything.
fn columns_read(test: &DataTest) -> Option<Vec<(&str, &str)>> {
    let column = test.column.as_deref()?;
    let mut read = vec![(test.table.as_str(), column)];
    match &test.check {
        Check::Sql { .. } => return None,
        Check::Unique => {}
        Check::Relationships { to, column: parent } => {
            read.push((test.table.as_str(), CUSTOMER));
            read.push((to.as_str(), parent.as_str()));
        }
        Check::NotNull | Check::AcceptedValues(_) | Check::Range { .. } => read.push((test.table.as_str(), CUSTOMER)),
    }
    Some(read)
}

/// The key failing rows are sampled by, where a table has it.
const CUSTOMER: &str = "customer_id";

/// Whether the columns a test reads are what they were in the run that saved its result,
/// each column compared once.
struct Unchanged<'a> {
    now: BTreeMap<&'a str, &'a Path>,
    before: &'a BTreeMap<String, PathBuf>,
    known: BTreeMap<(String, String), bool>,
}

impl Unchanged<'_> {
    fn reads_the_same(&mut self, test: &DataTest) -> bool {
        let Some(columns) = columns_read(test) else { return false };
        columns.into_iter().all(|(table, column)| {
            let key = (table.to_string(), column.to_string());
            if let Some(same) = self.known.get(&key) {
                return *same;
            }
            let same = match (self.now.get(table), self.before.get(table)) {
                // A file that cannot be compared is only a test run again.
                (Some(now), Some(before)) => same_column::same_column(before, now, column).unwrap_or_else(|e| {
                    tracing::debug!(table, column, "could not compare with the run's table: {e:#}");
                    false
                }),
                _ => false,
            };
            self.known.insert(key, same);
            same
        })
    }
}

/// What `test` reads, as one digest: its definition and the digest of each table it
/// names. None for an SQL test, which may read any table, and for a test of a table
/// without a digest.
fn digest(test: &DataTest, digests: &BTreeMap<String, String>) -> Option<String> {
    if matches!(test.check, Check::Sql { .. }) {
        return None;
    }
    let mut parts = vec![format!("{test:?}")];
    for table in named_tables(test) {
        parts.push(format!("{table}={}", digests.get(table)?));
    }
    Some(super::memo::digest_of(&parts.iter().map(String::as_str).collect::<Vec<_>>()))
}

async fn run_one(ctx: &SessionContext, test: &DataTest) -> DataTestResult {
    let mut result = DataTestResult {
        test: test.name.clone(),
        table: test.table.clone(),
        column: test.column.clone(),
        check: test.check.kind().to_string(),
        severity: test.severity.as_str().to_string(),
        status: "pass".to_string(),
        failing_rows: 0,
        failing_keys: Vec::new(),
        detail: None,
    };
    if let Some(missing) = named_tables(test).iter().find(|t| !ctx.table_exist(**t).unwrap_or(false)) {
        result.status = "skipped".to_string();
        result.detail = Some(format!("the run has no table {missing}"));
        return result;
    }
    match failing(ctx, test).await {
        Ok((rows, keys)) => {
            result.failing_rows = rows;
            result.failing_keys = keys;
            if rows > 0 {
                result.status = "fail".to_string();
            }
        }
        Err(e) => {
            result.status = "fail".to_string();
            result.detail = Some(format!("the test's query failed: {e:#}"));
        }
    }
    result
}

/// The failing rows of `test`, counted, and a sample of their keys.
async fn failing(ctx: &SessionContext, test: &DataTest) -> Result<(u64, Vec<String>)> {
    let quoted = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
    let table = quoted(&test.table);
    let column = test.column.as_deref().map(quoted).unwrap_or_default();
    let has_customer = match &test.check {
        Check::Sql { .. } => false,
        _ => ctx.table(test.table.as_str()).await?.schema().has_column_with_unqualified_name(CUSTOMER),
    };
    let key = match has_customer {
        true => format!("CAST({CUSTOMER} AS VARCHAR)"),
        false => format!("CAST({column} AS VARCHAR)"),
    };
    let rows_where = |condition: String| format!("SELECT {key} AS key FROM {table} WHERE {condition}");
    let literal = |v: &str| format!("'{}'", v.replace('\'', "''"));
    let query = match &test.check {
        Check::Unique => format!(
            "SELECT CAST({column} AS VARCHAR) AS key FROM {table} WHERE {column} IN \
             (SELECT {column} FROM {table} WHERE {column} IS NOT NULL GROUP BY {column} HAVING COUNT(*) > 1)"
        ),
        Check::NotNull => rows_where(format!("{column} IS NULL")),
        Check::AcceptedValues(values) => rows_where(format!(
            "{column} IS NOT NULL AND CAST({column} AS VARCHAR) NOT IN ({})",
            values.iter().map(|v| literal(v)).collect::<Vec<_>>().join(", ")
        )),
        Check::Range { min, max } => {
            let mut outside = Vec::new();
            outside.extend(min.map(|m| format!("{column} < {m:?}")));
            outside.extend(max.map(|m| format!("{column} > {m:?}")));
            outside.push(format!("isnan(CAST({column} AS DOUBLE))"));
            rows_where(format!("{column} IS NOT NULL AND ({})", outside.join(" OR ")))
        }
        // NOT EXISTS plans as a plain anti join; NOT IN would need a null-aware one.
        Check::Relationships { to, column: to_column } => rows_where(format!(
            "{column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {t} AS parent WHERE parent.{c} = {table}.{column})",
            t = quoted(to),
            c = quoted(to_column)
        )),
        Check::Sql { query, .. } => {
            let first = ctx.sql(query).await?.schema().field(0).name().clone();
            format!("SELECT CAST({} AS VARCHAR) AS key FROM ({query})", quoted(&first))
        }
    };
    let count = ctx.sql(&format!("SELECT COUNT(*) FROM ({query})")).await?.collect().await?;
    let rows = count.first().map(|b| text_column(b.column(0))).transpose()?.and_then(|c| c.first()?.parse().ok());
    let rows = rows.unwrap_or(0);
    // Most tests pass: only a failing one pays for a second pass to sample its keys.
    if rows == 0 {
        return Ok((0, Vec::new()));
    }
    let sample = ctx
        .sql(&format!("SELECT DISTINCT COALESCE(key, '(null)') AS key FROM ({query}) ORDER BY key LIMIT {SAMPLE}"))
        .await?
        .collect()
        .await?;
    let mut keys = Vec::new();
    for batch in &sample {
        keys.extend(text_column(batch.column(0))?);
    }
    Ok((rows, keys))
}

/// The results as the published `data_tests` table, one row per test.
pub fn table(as_of: NaiveDate, results: &[DataTestResult]) -> Result<Table> {
    let text = |f: &dyn Fn(&DataTestResult) -> Option<String>| -> ArrayRef {
        Arc::new(StringArray::from_iter(results.iter().map(f)))
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Date32Array::from(vec![canonical::epoch_days(as_of); results.len()])),
        text(&|r| Some(r.test.clone())),
        text(&|r| Some(r.table.clone())),
        text(&|r| r.column.clone()),
        text(&|r| Some(r.check.clone())),
        text(&|r| Some(r.severity.clone())),
        text(&|r| Some(r.status.clone())),
        Arc::new(Int64Array::from_iter_values(results.iter().map(|r| r.failing_rows as i64))),
        text(&|r| Some(r.failing_keys.join(", "))),
        text(&|r| r.detail.clone()),
    ];
    let schema = Arc::new(Schema::new(vec![
        Field::new("as_of", DataType::Date32, false),
        Field::new("test", DataType::Utf8, false),
        Field::new("table_name", DataType::Utf8, false),
        Field::new("column_name", DataType::Utf8, true),
        Field::new("check", DataType::Utf8, false),
        Field::new("severity", DataType::Utf8, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("failing_rows", DataType::Int64, false),
        Field::new("failing_keys", DataType::Utf8, false),
        Field::new("detail", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    Ok(Table { name: DATA_TESTS.to_string(), schema, batches: vec![batch] })
}
