//! The pipeline file: what a person writes to tell vitals where the exports are, how to
//! read them, and which values the SQL models are run with.
//!
//! Parsing is strict on purpose: an unknown key, a field that is not canonical, or a
//! malformed setting is an error naming the pipeline file and the key, so a typo never
//! silently changes a nightly run. Every path in the file is relative to the file itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use serde::Deserialize;

use crate::canonical;

pub mod ahp;
pub mod churn;
mod cluster;
pub mod data_tests;
pub mod scoring;
pub mod segments;
pub mod values;

pub use cluster::Cluster;
pub use scoring::Scoring;

/// Where a pipeline's SQL models come from: a folder of `.sql` files an analyst edits, or
/// the models shipped inside vitals when the pipeline sets no `sql_dir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlModels {
    Folder(PathBuf),
    BuiltIn,
}

impl std::fmt::Display for SqlModels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SqlModels::Folder(dir) => write!(f, "{}", dir.display()),
            SqlModels::BuiltIn => write!(f, "the SQL models built into vitals (no [run] sql_dir)"),
        }
    }
}

/// The default scoring rules and parameters; a pipeline file's tables merge over them.
pub const DEFAULTS: &str = include_str!("defaults.toml");

/// `[params]` names the run sets itself from typed settings; a pipeline may not set them.
pub const RESERVED_PARAMS: [&str; 9] = [
    "as_of",
    "previous_as_of",
    "rfm_bins",
    "tier_healthy",
    "tier_sub_healthy",
    "lost_after_days",
    "churn_horizon_days",
    "churn_label_crm",
    "churn_label_inactivity",
];

/// A pipeline file, read and checked.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub file: PathBuf,
    pub as_of: Option<NaiveDate>,
    pub out: Option<PathBuf>,
    /// The SQL models the run executes (`[run] sql_dir`, else the ones built in).
    pub sql: SqlModels,
    /// The models published as output tables, in the order they are listed.
    pub publish: Vec<String>,
    /// Bytes the SQL engine's joins, sorts and aggregations may hold before they spill to
    /// disk (`[run] memory_limit`).
    pub memory_limit: usize,
    /// Partitions per SQL query (`[run] partitions`; 0: one per core).
    pub partitions: usize,
    /// Where the SQL models run (`[run] engine`, or `--engine` on the command line).
    pub engine: Cluster,
    /// Published columns (`table.column`) this pipeline may drop, rename or retype
    /// (`[run] allow_breaking`): BI users were told.
    pub allow_breaking: Vec<String>,
    /// What the run's tables must hold before they are published (`[[tests]]`, defaults,
    /// `sql_tests/`).
    pub tests: Vec<data_tests::DataTest>,
    /// How much history is kept (`[run] keep_bronze`, `keep_runs`).
    pub retention: Retention,
    pub sources: Vec<SourceConfig>,
    /// Named values handed to every SQL model as the one-row table `params`.
    pub params: BTreeMap<String, toml::Value>,
    pub scoring: Scoring,
    pub churn: churn::Churn,
}

/// How much of the output directory's history a run keeps once it has published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Nights of bronze (and the saved model tables beside it) to keep, the newest first.
    pub keep_bronze: usize,
    /// Nights of published partitions to keep; None keeps them all.
    pub keep_runs: Option<usize>,
}

/// Nights of bronze a pipeline keeps when it says nothing.
pub const DEFAULT_KEEP_BRONZE: usize = 7;

/// How one export is read and mapped onto its canonical source.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    pub source: &'static canonical::Source,
    pub path: PathBuf,
    pub format: Format,
    pub encoding: Encoding,
    pub delimiter: u8,
    pub date_formats: Vec<String>,
    pub thousands_separator: Option<String>,
    pub decimal_separator: String,
    /// Currency signs and units written around amounts (`¥1,234.50`, `1234.5元`), left out
    /// before a number is read.
    pub currency_symbols: Vec<String>,
    /// A workbook export: the worksheet read (none: the first) and the 1-based row of its
    /// column names.
    pub sheet: Option<String>,
    pub header_row: u32,
    /// Canonical field → column name in the export, as written in the pipeline file.
    pub columns: BTreeMap<String, String>,
    /// Rejected rows / rows read above which the run stops before publishing.
    pub max_reject_ratio: f64,
    /// Fewer rows read than this stop the run (an export with a header and nothing else).
    pub min_rows: u64,
    /// The share by which rows read may fall against the previous run before the run stops
    /// (1 turns the check off).
    pub max_row_drop: f64,
    /// The share by which rows read may change (up or down) against the previous run
    /// before the run warns.
    pub warn_row_change: f64,
    /// Days the newest event date of the export may lie before the run's as-of date before
    /// the run stops (an export that stopped updating), or warns; none: not checked.
    pub max_age_days: Option<u32>,
    pub warn_age_days: Option<u32>,
    /// Categorical field → how the export's spellings map onto its values.
    pub values: BTreeMap<&'static str, values::ValueMap>,
}

/// The data-quality gate when a source sets no `max_reject_ratio`.
pub const DEFAULT_MAX_REJECT_RATIO: f64 = 0.1;
/// An export must have a row unless its source says `min_rows = 0`.
pub const DEFAULT_MIN_ROWS: u64 = 1;
/// A change of more than a quarter of an export's rows from one run to the next is worth
/// a warning.
pub const DEFAULT_WARN_ROW_CHANGE: f64 = 0.25;
/// An export may lose half its rows from one run to the next, not more.
pub const DEFAULT_MAX_ROW_DROP: f64 = 0.5;

impl SourceConfig {
    pub fn name(&self) -> &'static str {
        self.source.name
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Ndjson,
    Parquet,
    /// An Excel workbook (Office Open XML, Excel 2007 and later).
    Xlsx,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum Encoding {
    #[default]
    #[serde(rename = "utf-8", alias = "utf8", alias = "UTF-8")]
    Utf8,
    #[serde(rename = "gbk", alias = "GBK", alias = "gb2312", alias = "gb18030")]
    Gbk,
}

/// The SQL engine's budget when the pipeline sets none. Measured at a million customers
/// (3 GiB of exports, churn model on): runs within it, peak RSS 3.1 GB against 4.1 GB
/// without a budget; 1 GiB is too little there for customer_health's sorts.
pub const DEFAULT_MEMORY_LIMIT: usize = 2 << 30;

/// The top-level tables a pipeline file may have.
const SECTIONS: [&str; 8] = ["run", "params", "sources", "rfm", "health", "metrics", "churn", "tests"];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunSpec {
    as_of: Option<toml::Value>,
    out: Option<PathBuf>,
    sql_dir: Option<PathBuf>,
    publish: Option<Vec<String>>,
    memory_limit: Option<toml::Value>,
    partitions: Option<usize>,
    engine: Option<String>,
    keep_bronze: Option<usize>,
    keep_runs: Option<usize>,
    allow_breaking: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceSpec {
    path: PathBuf,
    format: Format,
    #[serde(default)]
    encoding: Encoding,
    delimiter: Option<String>,
    date_formats: Option<Vec<String>>,
    thousands_separator: Option<String>,
    decimal_separator: Option<String>,
    #[serde(default)]
    currency_symbols: Vec<String>,
    sheet: Option<String>,
    header_row: Option<u32>,
    max_reject_ratio: Option<f64>,
    min_rows: Option<u64>,
    max_row_drop: Option<f64>,
    warn_row_change: Option<f64>,
    max_age_days: Option<u32>,
    warn_age_days: Option<u32>,
    #[serde(default)]
    columns: BTreeMap<String, String>,
    #[serde(default)]
    values: BTreeMap<String, BTreeMap<String, String>>,
}

/// Tables published when the pipeline file names none.
pub const DEFAULT_PUBLISH: &[&str] = &["customer_health", "customer_metrics", "kpis", "alerts"];

impl Pipeline {
    /// Reads and checks a pipeline file.
    pub fn load(file: &Path) -> Result<Pipeline> {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read pipeline file {}: check the path", file.display()))?;
        Self::parse(&text, file)
    }

    /// Checks pipeline text as if it were read from `file` (used for relative paths and
    /// error messages). Every problem in the file is reported, all in one error.
    pub fn parse(text: &str, file: &Path) -> Result<Pipeline> {
        let name = file.display().to_string();
        let user: toml::Table =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("pipeline file {name}: {}", e.to_string().trim_end()))?;
        let mut problems = Vec::new();
        for key in RESERVED_PARAMS {
            if user.get("params").and_then(|p| p.get(key)).is_some() {
                problems.push(format!(
                    "pipeline file {name}: [params] {key} is set by the run itself; use [run] as_of / --as-of, [rfm] bins, [health.tiers] or [churn]"
                ));
            }
        }
        for key in user.keys().filter(|k| !SECTIONS.contains(&k.as_str())) {
            problems
                .push(format!("pipeline file {name}: unknown section `{key}`; sections are {}", SECTIONS.join(", ")));
        }
        let mut user = user;
        let user_tests = user.remove("tests");
        let label_set = user.get("churn").and_then(|c| c.get("label")).is_some();
        let mut merged: toml::Table = toml::from_str(DEFAULTS).expect("built-in defaults are valid TOML");
        let tests = data_tests::tests(merged.remove("tests"), user_tests, file).unwrap_or_else(|mut found| {
            problems.append(&mut found);
            Vec::new()
        });
        merge(&mut merged, user);
        // Params are kept as TOML values (a round trip through serde would turn dates into text).
        let params: BTreeMap<String, toml::Value> = match merged.remove("params") {
            Some(toml::Value::Table(t)) => t.into_iter().collect(),
            _ => {
                problems.push(format!("pipeline file {name}: [params] must be a table of named values"));
                BTreeMap::new()
            }
        };
        for (key, value) in &params {
            if matches!(value, toml::Value::Array(_) | toml::Value::Table(_)) {
                problems.push(format!(
                    "pipeline file {name}: [params] {key} must be a single number, string, boolean or date"
                ));
            }
        }
        let mut section = |key: &str| merged.remove(key).unwrap_or_else(|| toml::Value::Table(toml::Table::new()));
        let (run, rfm, health, metrics, churn, sources) = (
            section("run"),
            section("rfm"),
            section("health"),
            section("metrics"),
            section("churn"),
            section("sources"),
        );
        let run: Option<RunSpec> = typed(run, &name, "[run]", &mut problems);
        let rfm: Option<scoring::RfmSpec> = typed(rfm, &name, "[rfm]", &mut problems);
        let health: Option<scoring::HealthSpec> = typed(health, &name, "[health]", &mut problems);
        let metrics: BTreeMap<String, scoring::MetricSpec> = match metrics {
            toml::Value::Table(t) => t
                .into_iter()
                .filter_map(|(metric, v)| {
                    let spec = typed(v, &name, &format!("[metrics.{metric}]"), &mut problems)?;
                    Some((metric, spec))
                })
                .collect(),
            _ => BTreeMap::new(),
        };
        let churn: Option<churn::ChurnSpec> = typed(churn, &name, "[churn]", &mut problems);
        let sources = match sources {
            toml::Value::Table(t) => t,
            _ => toml::Table::new(),
        };

        let base = file.parent().unwrap_or(Path::new("."));
        let at = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        if !sources.contains_key("invoices") {
            problems.push(format!(
                "pipeline file {name}: no [sources.invoices] section; invoices are the one source every run needs"
            ));
        }
        let mut checked_sources = Vec::new();
        for (source_name, value) in sources {
            let Some(source) = canonical::source(&source_name) else {
                problems.push(format!(
                    "pipeline file {name}: [sources.{source_name}] is not a known source; known sources are {}",
                    canonical::source_names().join(", ")
                ));
                continue;
            };
            let Some(spec) = typed::<SourceSpec>(value, &name, &format!("[sources.{source_name}]"), &mut problems)
            else {
                continue;
            };
            match source_config(file, source, spec, &at) {
                Ok(cfg) => checked_sources.push(cfg),
                Err(mut found) => problems.append(&mut found),
            }
        }
        // Canonical order keeps runs and manifests stable whatever order the file uses.
        checked_sources.sort_by_key(|s| canonical::SOURCES.iter().position(|c| c.name == s.name()));

        let as_of = run.as_ref().and_then(|r| r.as_of.as_ref()).and_then(|d| {
            let date = param_date(d);
            if date.is_none() {
                problems.push(format!("pipeline file {name}: [run] as_of = {d} must be a date such as 2026-06-30"));
            }
            date
        });
        let scoring = match (rfm, health) {
            (Some(rfm), Some(health)) => {
                scoring::check(rfm, health, metrics, &name).map_err(|mut found| problems.append(&mut found)).ok()
            }
            _ => None,
        };
        let churn = churn.and_then(|c| {
            let mut churn = c
                .check(&format!("pipeline file {name}: [churn]"), label_set)
                .map_err(|mut found| problems.append(&mut found))
                .ok()?;
            if !checked_sources.iter().any(|s| s.name() == "accounts") {
                churn.fall_back_to_inactivity("the pipeline has no [sources.accounts], so no CRM churn dates");
            }
            Some(churn)
        });
        let memory_limit = match run.as_ref().and_then(|r| r.memory_limit.as_ref()) {
            None => DEFAULT_MEMORY_LIMIT,
            Some(v) => bytes(v).unwrap_or_else(|| {
                problems.push(format!(
                    "pipeline file {name}: [run] memory_limit = {v} must be a size such as \"1.5 GiB\", \"800 MiB\" or a number of bytes, at least 64 MiB"
                ));
                DEFAULT_MEMORY_LIMIT
            }),
        };
        let engine = match run.as_ref().and_then(|r| r.engine.as_deref()) {
            None => Cluster::Local,
            Some(text) => text.parse().unwrap_or_else(|e| {
                problems.push(format!("pipeline file {name}: [run] engine: {e}"));
                Cluster::Local
            }),
        };
        let mut keep = |key: &str, value: Option<usize>| {
            if value == Some(0) {
                problems.push(format!(
                    "pipeline file {name}: [run] {key} = 0 would delete the run just published; keep at least 1"
                ));
            }
            value
        };
        let retention = Retention {
            keep_bronze: keep("keep_bronze", run.as_ref().and_then(|r| r.keep_bronze)).unwrap_or(DEFAULT_KEEP_BRONZE),
            keep_runs: keep("keep_runs", run.as_ref().and_then(|r| r.keep_runs)),
        };
        let allow_breaking = run.as_ref().and_then(|r| r.allow_breaking.clone()).unwrap_or_default();
        for key in allow_breaking.iter().filter(|k| !crate::contract::is_contracted(k)) {
            problems.push(format!(
                "pipeline file {name}: [run] allow_breaking names \"{key}\", which is no published column \
                 (write table.column, as docs/tables.md lists them, e.g. \"customer_health.health_tier\")"
            ));
        }
        match (problems.len(), run, scoring, churn) {
            (0, Some(run), Some(scoring), Some(churn)) => Ok(Pipeline {
                file: file.to_path_buf(),
                as_of,
                out: run.out.as_deref().map(at),
                sql: run.sql_dir.as_deref().map_or(SqlModels::BuiltIn, |dir| SqlModels::Folder(at(dir))),
                publish: run.publish.unwrap_or_else(|| DEFAULT_PUBLISH.iter().map(|s| s.to_string()).collect()),
                memory_limit,
                partitions: run.partitions.unwrap_or(0),
                engine,
                allow_breaking,
                tests,
                retention,
                sources: checked_sources,
                params,
                scoring,
                churn,
            }),
            (1, ..) => bail!("{}", problems[0]),
            _ => bail!("pipeline file {name} has {} problems:\n  {}", problems.len(), problems.join("\n  ")),
        }
    }

    pub fn source(&self, name: &str) -> Option<&SourceConfig> {
        self.sources.iter().find(|s| s.name() == name)
    }
}

/// A memory size given on the command line, as `[run] memory_limit` takes it.
#[cfg(feature = "ballista")]
pub fn memory_size(text: &str) -> std::result::Result<usize, String> {
    bytes(&toml::Value::String(text.to_string()))
        .ok_or_else(|| format!("`{text}` is not a memory size of 64 MiB or more: say e.g. \"4 GiB\""))
}

/// A memory size: a number of bytes, or text such as "1.5 GiB" / "800MiB" / "2 GB"; None
/// when it is not one or is under 64 MiB (too little for any run).
fn bytes(value: &toml::Value) -> Option<usize> {
    let n = match value {
        toml::Value::Integer(n) => *n as f64,
        toml::Value::String(text) => {
            let text = text.trim();
            let split = text.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(text.len());
            let (number, unit) = text.split_at(split);
            let unit = match unit.trim().to_ascii_lowercase().as_str() {
                "" | "b" => 1.0,
                "kib" => 1024.0,
                "mib" => 1024f64.powi(2),
                "gib" => 1024f64.powi(3),
                "kb" => 1e3,
                "mb" => 1e6,
                "gb" => 1e9,
                _ => return None,
            };
            number.trim().parse::<f64>().ok()? * unit
        }
        _ => return None,
    };
    (n.is_finite() && n >= 64.0 * 1024f64.powi(2)).then_some(n as usize)
}

/// A section of the file as its typed spec; None (and a problem naming the section) when
/// it does not fit.
fn typed<T: serde::de::DeserializeOwned>(
    value: toml::Value,
    file: &str,
    section: &str,
    problems: &mut Vec<String>,
) -> Option<T> {
    value
        .try_into()
        .map_err(|e: toml::de::Error| {
            problems.push(format!("pipeline file {file}: {section} {}", e.to_string().trim_end()))
        })
        .ok()
}

/// Merges a pipeline's tables over the defaults, key by key; arrays and single values
/// replace. So `[metrics.depth] weight = 0` switches one default metric off.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn source_config(
    file: &Path,
    source: &'static canonical::Source,
    s: SourceSpec,
    at: &dyn Fn(&Path) -> PathBuf,
) -> std::result::Result<SourceConfig, Vec<String>> {
    let here = |key: &str| format!("pipeline file {}: [sources.{}] {key}", file.display(), source.name);
    let mut problems = Vec::new();
    for field in s.columns.keys().filter(|f| source.field(f).is_none()) {
        problems.push(format!(
            "{}: `{field}` is not a field of {}; its fields are {}",
            here("columns"),
            source.name,
            source.field_names().join(", ")
        ));
    }
    let delimiter = match s.delimiter.as_deref() {
        None => b',',
        Some("\\t") | Some("tab") => b'\t',
        Some(d) if d.len() == 1 && d.is_ascii() => d.as_bytes()[0],
        Some(d) => {
            problems.push(format!("{}: `{d}` must be one ASCII character (or \"tab\")", here("delimiter")));
            b','
        }
    };
    let date_formats = s.date_formats.unwrap_or_else(|| vec!["%Y-%m-%d".to_string()]);
    if date_formats.is_empty() {
        problems.push(format!("{}: list at least one format, e.g. [\"%Y-%m-%d\"]", here("date_formats")));
    }
    for f in &date_formats {
        let bad = chrono::format::StrftimeItems::new(f).any(|i| matches!(i, chrono::format::Item::Error));
        if bad {
            problems.push(format!("{}: `{f}` is not a valid chrono date format (e.g. %Y-%m-%d)", here("date_formats")));
        }
    }
    let decimal_separator = s.decimal_separator.unwrap_or_else(|| ".".to_string());
    if decimal_separator.chars().count() != 1 {
        problems.push(format!("{}: must be one character, \".\" or \",\"", here("decimal_separator")));
    }
    if s.thousands_separator.as_deref() == Some(decimal_separator.as_str()) {
        problems.push(format!("{}: must differ from decimal_separator", here("thousands_separator")));
    }
    for symbol in &s.currency_symbols {
        if symbol.trim().is_empty() || symbol.chars().any(|c| c.is_ascii_digit() || c == '-') {
            problems.push(format!(
                "{}: `{symbol}` must be a sign or unit around amounts, e.g. [\"¥\", \"元\"]: not empty, no digits or minus",
                here("currency_symbols")
            ));
        }
    }
    if s.format != Format::Xlsx {
        for (key, given) in [("sheet", s.sheet.is_some()), ("header_row", s.header_row.is_some())] {
            if given {
                problems.push(format!("{}: only a workbook has one; set format = \"xlsx\" or remove it", here(key)));
            }
        }
    }
    let header_row = s.header_row.unwrap_or(1);
    if header_row == 0 {
        problems.push(format!("{}: rows count from 1 (the sheet's first row)", here("header_row")));
    }
    let max_reject_ratio = s.max_reject_ratio.unwrap_or(DEFAULT_MAX_REJECT_RATIO);
    if !(0.0..=1.0).contains(&max_reject_ratio) {
        problems.push(format!(
            "{}: {max_reject_ratio} must be a share between 0 and 1 (0.05 = 5 %)",
            here("max_reject_ratio")
        ));
    }
    let max_row_drop = s.max_row_drop.unwrap_or(DEFAULT_MAX_ROW_DROP);
    if !(0.0..=1.0).contains(&max_row_drop) {
        problems.push(format!(
            "{}: {max_row_drop} must be a share between 0 and 1 (0.5 = half the rows; 1 = no check)",
            here("max_row_drop")
        ));
    }
    let warn_row_change = s.warn_row_change.unwrap_or(DEFAULT_WARN_ROW_CHANGE);
    if !(warn_row_change.is_finite() && warn_row_change >= 0.0) {
        problems.push(format!("{}: {warn_row_change} must be a share ≥ 0 (0.25 = a quarter)", here("warn_row_change")));
    }
    if let (Some(warn), Some(max)) = (s.warn_age_days, s.max_age_days) {
        if warn > max {
            problems.push(format!("{}: {warn} is more than max_age_days = {max}", here("warn_age_days")));
        }
    }
    let values =
        values::maps(source, s.values, &format!("pipeline file {}: [sources.{}]", file.display(), source.name))
            .unwrap_or_else(|mut found| {
                problems.append(&mut found);
                BTreeMap::new()
            });
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(SourceConfig {
        source,
        path: at(&s.path),
        format: s.format,
        encoding: s.encoding,
        delimiter,
        date_formats,
        thousands_separator: s.thousands_separator.filter(|t| !t.is_empty()),
        decimal_separator,
        currency_symbols: s.currency_symbols,
        sheet: s.sheet,
        header_row,
        columns: s.columns,
        max_reject_ratio,
        min_rows: s.min_rows.unwrap_or(DEFAULT_MIN_ROWS),
        max_row_drop,
        warn_row_change,
        max_age_days: s.max_age_days,
        warn_age_days: s.warn_age_days,
        values,
    })
}

fn parse_toml_date(d: &toml::value::Datetime) -> Result<NaiveDate> {
    match (d.date, d.time) {
        (Some(date), None) => NaiveDate::from_ymd_opt(date.year as i32, date.month as u32, date.day as u32)
            .with_context(|| format!("{d} is not a calendar date")),
        _ => bail!("{d} must be a plain date such as 2026-06-30"),
    }
}

/// A TOML value as a plain date, if it is one (a TOML date, or text like "2026-06-30").
pub fn param_date(v: &toml::Value) -> Option<NaiveDate> {
    match v {
        toml::Value::Datetime(d) => parse_toml_date(d).ok(),
        toml::Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d").ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Pipeline> {
        Pipeline::parse(text, Path::new("/p/pipelines/nightly.toml"))
    }

    const MINIMAL: &str = r#"
        [sources.invoices]
        path = "../data/inv.csv"
        format = "csv"
        [sources.invoices.columns]
        customer_id = "客户编号"
    "#;

    #[test]
    fn paths_are_relative_to_the_pipeline_file() {
        let p = parse(MINIMAL).unwrap();
        assert_eq!(p.sources[0].path, PathBuf::from("/p/pipelines/../data/inv.csv"));
        assert_eq!(p.sql, SqlModels::BuiltIn, "no sql_dir: the models built in");
        let with_sql = parse(&format!("[run]\nsql_dir = \"../sql\"\n{MINIMAL}")).unwrap();
        assert_eq!(with_sql.sql, SqlModels::Folder(PathBuf::from("/p/pipelines/../sql")));
        assert_eq!(p.sources[0].delimiter, b',');
        assert_eq!(p.sources[0].encoding, Encoding::Utf8);
    }

    #[test]
    fn an_invoice_only_pipeline_learns_churn_from_inactivity_unless_it_says_otherwise() {
        use churn::LabelRule;
        let p = parse(MINIMAL).unwrap();
        assert_eq!(p.churn.label, vec![LabelRule::Inactivity]);
        assert!(p.churn.label_note.as_deref().unwrap().contains("no [sources.accounts]"));
        let chosen = parse(&format!("[churn]\nlabel = [\"crm\"]\n{MINIMAL}")).unwrap();
        assert_eq!(chosen.churn.label, vec![LabelRule::Crm]);
        assert_eq!(chosen.churn.label_note, None);
        let accounts = "[sources.accounts]\npath = \"a.csv\"\nformat = \"csv\"\n";
        let with_crm = parse(&format!("{MINIMAL}\n{accounts}")).unwrap();
        assert_eq!(with_crm.churn.label, vec![LabelRule::Crm], "the default, with CRM churn dates to read");
    }

    #[test]
    fn unknown_key_is_an_error_naming_file_and_key() {
        let err = parse(&format!("{MINIMAL}\nencodng = \"gbk\"")).unwrap_err().to_string();
        assert!(err.contains("nightly.toml") && err.contains("encodng"), "{err}");
    }

    #[test]
    fn unknown_canonical_field_is_named_with_the_choices() {
        let text = MINIMAL.replace("customer_id =", "client =");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("`client`") && err.contains("invoice_date"), "{err}");
    }

    #[test]
    fn unknown_source_and_missing_invoices_are_errors() {
        let err = parse(&MINIMAL.replace("invoices", "payments")).unwrap_err().to_string();
        assert!(err.contains("[sources.invoices]"), "{err}");
        let text = format!("{MINIMAL}\n[sources.payments]\npath = \"x\"\nformat = \"csv\"");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("payments") && err.contains("known sources"), "{err}");
    }

    #[test]
    fn pipeline_tables_merge_over_the_defaults() {
        let text = format!("[health.tiers]\nhealthy = 80\n[metrics.depth]\ndimension = \"value\"\nweight = 0.15\nscale = \"percentile\"\nbetter = \"higher\"\n{MINIMAL}");
        let p = parse(&text).unwrap();
        assert_eq!(p.scoring.tiers.healthy, 80.0);
        assert_eq!(p.scoring.tiers.sub_healthy, 60.0, "untouched keys keep their defaults");
        let depth = p.scoring.metrics.iter().find(|m| m.name == "depth").unwrap();
        assert_eq!(depth.scale, scoring::Scale::Percentile);
        assert!(depth.points.is_empty(), "a percentile metric keeps no points");
        assert_eq!(p.params["window_days"].as_integer(), Some(365));
    }

    #[test]
    fn every_problem_of_a_file_is_reported_at_once() {
        let text = format!(
            "[health.tiers]\nhealthy = 50\n[churn]\nsnapshots = 1\n[sources.payments]\npath = \"x\"\nformat = \"csv\"\n{}",
            MINIMAL.replace("format = \"csv\"", "format = \"csv\"\ndelimiter = \";;\"")
        );
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("4 problems"), "{err}");
        for part in ["[health.tiers]", "snapshots = 1", "payments", "delimiter"] {
            assert!(err.contains(part), "{part} missing from: {err}");
        }
    }

    #[test]
    fn bad_settings_are_refused() {
        let with = |line: &str| parse(&MINIMAL.replace("format = \"csv\"", &format!("format = \"csv\"\n{line}")));
        assert!(with("delimiter = \";;\"").unwrap_err().to_string().contains("delimiter"));
        assert!(with("date_formats = [\"%Q\"]").unwrap_err().to_string().contains("%Q"));
        assert!(with("encoding = \"latin1\"").is_err());
        assert_eq!(with("delimiter = \"tab\"").unwrap().sources[0].delimiter, b'\t');
        assert_eq!(with("encoding = \"gbk\"").unwrap().sources[0].encoding, Encoding::Gbk);
    }

    #[test]
    fn run_section_and_params() {
        let text = format!("[run]\nas_of = 2026-06-30\nout = \"../out\"\n[params]\nwindow_days = 365\n{MINIMAL}");
        let p = parse(&text).unwrap();
        assert_eq!(p.as_of, NaiveDate::from_ymd_opt(2026, 6, 30));
        assert_eq!(p.out, Some(PathBuf::from("/p/pipelines/../out")));
        assert_eq!(p.params["window_days"].as_integer(), Some(365));
        let err = parse(&format!("[params]\nas_of = 2026-01-01\n{MINIMAL}")).unwrap_err();
        assert!(err.to_string().contains("as_of"));
        let err = parse(&format!("[params]\nrfm_bins = 4\n{MINIMAL}")).unwrap_err();
        assert!(err.to_string().contains("[rfm] bins"));
    }

    #[test]
    fn a_churn_horizon_past_any_sensible_date_is_refused() {
        let err = parse(&format!("{MINIMAL}\n[churn]\nhorizon_days = 1000000000\n")).unwrap_err().to_string();
        assert!(err.contains("horizon_days = 1000000000") && err.contains("36525 days"), "{err}");
        assert!(parse(&format!("{MINIMAL}\n[churn]\nhorizon_days = 180\n")).is_ok());
    }

    #[test]
    fn engine_names_this_process_or_a_ballista_scheduler() {
        let with = |value: &str| parse(&format!("[run]\nengine = \"{value}\"\n{MINIMAL}"));
        assert_eq!(parse(MINIMAL).unwrap().engine, Cluster::Local);
        assert_eq!(with("ballista-standalone").unwrap().engine, Cluster::BallistaStandalone);
        let remote = Cluster::Ballista { host: "sched.internal".into(), port: 50050 };
        assert_eq!(with("ballista://sched.internal").unwrap().engine, remote);
        assert_eq!(with("ballista://sched.internal:50050/").unwrap().engine, remote);
        assert_eq!(remote.to_string(), "ballista://sched.internal:50050");
        for bad in ["spark://x:7077", "ballista://", "ballista://host:port"] {
            let err = with(bad).unwrap_err().to_string();
            assert!(err.contains("[run] engine") && err.contains("ballista://HOST:PORT"), "{bad}: {err}");
        }
    }

    #[test]
    fn memory_limit_reads_sizes_and_refuses_nonsense() {
        let with = |value: &str| parse(&format!("[run]\nmemory_limit = {value}\n{MINIMAL}"));
        assert_eq!(parse(MINIMAL).unwrap().memory_limit, DEFAULT_MEMORY_LIMIT);
        assert_eq!(with("\"1.5 GiB\"").unwrap().memory_limit, 3 << 29);
        assert_eq!(with("\"800MiB\"").unwrap().memory_limit, 800 << 20);
        assert_eq!(with("\"2 GB\"").unwrap().memory_limit, 2_000_000_000);
        assert_eq!(with("268435456").unwrap().memory_limit, 1 << 28);
        for bad in ["\"lots\"", "\"1 MiB\"", "\"2 parsecs\"", "true"] {
            let err = with(bad).unwrap_err().to_string();
            assert!(err.contains("[run] memory_limit"), "{bad}: {err}");
        }
    }
}
