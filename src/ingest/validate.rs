//! Mapping an export's columns onto canonical fields, typing every value, and splitting
//! rows into accepted ones and rejects with a reason.
//!
//! A row is accepted only when every mapped value parses and passes its rule; otherwise
//! each failing value becomes one reject record (a row can fail on several columns) and
//! the row is kept out of bronze. Nothing is dropped without a record.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;

use anyhow::{bail, Result};
use polars::prelude::*;

use crate::canonical::{epoch_days, Field, Kind};
use crate::config::SourceConfig;

/// The 0-based data-row number of each export row, carried through validation.
pub const RECORD: &str = "__record";

/// The column a CSV row's first field beyond the header is read into (the rest is cut).
pub const BEYOND_HEADER: &str = "__beyond_header";

/// An export split into typed, accepted rows and reject records.
pub struct Checked {
    /// Every canonical field of the source, in canonical order, typed.
    pub accepted: DataFrame,
    /// One row per failing value: record, field, column, raw_value, reason.
    pub rejects: DataFrame,
    /// Accepted values of categorical fields that no map names: (field, folded value, rows).
    pub unmapped: Vec<(&'static str, String, u64)>,
}

/// Canonical field → the export column it is read from.
pub fn resolve_columns(
    cfg: &SourceConfig,
    header: &[String],
    file: &Path,
    pipeline: &Path,
) -> Result<Vec<(&'static Field, String)>> {
    // The CSV reader renames a repeated column `x` to `x_duplicated_0`, and a mapping would
    // then silently read the first of the two.
    for (i, name) in header.iter().enumerate() {
        let Some((base, _)) = name.rsplit_once("_duplicated_") else { continue };
        if let Some(first) = header.iter().position(|h| h == base) {
            bail!(
                "source {src}: export file {} has two columns named \"{base}\" (columns {} and {}); \
                 rename one in the export so [sources.{src}.columns] in {} can say which it means",
                file.display(),
                first + 1,
                i + 1,
                pipeline.display(),
                src = cfg.name(),
            );
        }
    }
    let mut mapped = Vec::new();
    for field in cfg.source.fields {
        let column = match cfg.columns.get(field.name) {
            Some(column) if header.contains(column) => column.clone(),
            Some(column) => bail!(
                "source {src}: [sources.{src}.columns] {} = \"{column}\" in {}, but export file {} has no column \"{column}\"; its columns are: {}",
                field.name,
                pipeline.display(),
                file.display(),
                header.join(", "),
                src = cfg.name(),
            ),
            None if header.iter().any(|h| h == field.name) => field.name.to_string(),
            None if field.required => bail!(
                "source {src}: required field `{}` is not mapped and export file {} has no column of that name; \
                 add {} = \"<column>\" to [sources.{src}.columns] in {} (its columns are: {})",
                field.name,
                file.display(),
                field.name,
                pipeline.display(),
                header.join(", "),
                src = cfg.name(),
            ),
            None => continue,
        };
        mapped.push((field, column));
    }
    Ok(mapped)
}

fn raw_name(field: &str) -> String {
    format!("raw.{field}")
}

fn why_name(field: &str) -> String {
    format!("why.{field}")
}

fn repeat_name(field: &str) -> String {
    format!("repeat.{field}")
}

fn null_text() -> Expr {
    lit(NULL).cast(DataType::String)
}

/// The export value as trimmed text, empty text as null.
fn raw_text(column: &str, dtype: &DataType) -> Expr {
    let text = if dtype == &DataType::String { col(column) } else { col(column).cast(DataType::String) };
    let trimmed = text.str().strip_chars(lit(NULL));
    when(trimmed.clone().eq(lit(""))).then(null_text()).otherwise(trimmed)
}

fn dtype_of(kind: Kind) -> DataType {
    match kind {
        Kind::Text => DataType::String,
        Kind::Date => DataType::Date,
        Kind::Number => DataType::Float64,
        Kind::Integer { .. } => DataType::Int32,
    }
}

/// The type a value is checked in: whole numbers stay Float64 until they pass, so that
/// 1.5 is refused rather than truncated.
fn checked_dtype(kind: Kind) -> DataType {
    match kind {
        Kind::Integer { .. } => DataType::Float64,
        other => dtype_of(other),
    }
}

/// The typed value of a field, null where the raw value does not parse.
fn typed(field: &Field, column: &str, dtype: &DataType, cfg: &SourceConfig) -> Expr {
    let raw = col(raw_name(field.name));
    match field.kind {
        Kind::Text => raw,
        Kind::Date if dtype == &DataType::Date => col(column),
        Kind::Date => {
            let parses: Vec<Expr> = cfg
                .date_formats
                .iter()
                .map(|f| {
                    raw.clone().str().to_date(StrptimeOptions {
                        format: Some(f.as_str().into()),
                        strict: false,
                        exact: true,
                        // Exports hold more distinct dates than polars' cache keeps, and a
                        // cache that keeps evicting costs more than parsing each value anew.
                        cache: false,
                    })
                })
                .collect();
            coalesce(&parses)
        }
        Kind::Number | Kind::Integer { .. } if dtype.is_primitive_numeric() => col(column).cast(DataType::Float64),
        Kind::Number | Kind::Integer { .. } => {
            let mut text = raw;
            if !cfg.currency_symbols.is_empty() {
                for symbol in &cfg.currency_symbols {
                    text = text.str().replace_all(lit(symbol.as_str()), lit(""), true);
                }
                text = text.str().strip_chars(lit(NULL));
            }
            if let Some(sep) = &cfg.thousands_separator {
                text = text.str().replace_all(lit(sep.as_str()), lit(""), true);
            }
            if cfg.decimal_separator != "." {
                text = text.str().replace_all(lit(cfg.decimal_separator.as_str()), lit("."), true);
            }
            text.cast(DataType::Float64)
        }
    }
}

/// Why a field's value is refused, or null when it is fine: the first rule that fails.
fn reason(field: &Field, cfg: &SourceConfig, may_hold_nul: bool) -> Expr {
    let raw = col(raw_name(field.name));
    let value = col(field.name);
    let unparsed = raw.clone().is_not_null().and(value.clone().is_null());
    let mut rules: Vec<(Expr, String)> = Vec::new();
    if field.required {
        rules.push((raw.clone().is_null(), "missing required value".to_string()));
    }
    // Each rule costs a pass over the chunk: only a chunk with a NUL byte somewhere gets this one.
    if may_hold_nul {
        rules.push((
            raw.str().contains_literal(lit("\0")),
            "contains a NUL byte (a damaged or binary export?)".to_string(),
        ));
    }
    match field.kind {
        Kind::Text => {}
        Kind::Date => {
            let formats = cfg.date_formats.join(" or ");
            rules.push((unparsed, format!("not a date in the format {formats}")));
        }
        Kind::Number => {
            rules.push((unparsed.or(value.is_finite().not()), number_hint(cfg)));
        }
        Kind::Integer { min, max } => {
            let whole = value.clone().cast(DataType::Int64).cast(DataType::Float64).eq(value.clone());
            let in_range = value.clone().gt_eq(lit(min as f64)).and(value.lt_eq(lit(max as f64)));
            rules.push((unparsed, number_hint(cfg)));
            rules.push((
                whole.and(in_range).not(),
                format!("{} must be a whole number from {min} to {max}", field.name),
            ));
        }
    }
    rules
        .into_iter()
        .rev()
        .fold(null_text(), |otherwise, (failed, why)| when(failed).then(lit(why)).otherwise(otherwise))
}

fn number_hint(cfg: &SourceConfig) -> String {
    let currency = match cfg.currency_symbols.as_slice() {
        [] => String::new(),
        symbols => format!(", currency symbols {}", symbols.join(" ")),
    };
    match &cfg.thousands_separator {
        Some(t) => format!(
            "not a number (decimal separator \"{}\", thousands separator \"{t}\"{currency})",
            cfg.decimal_separator
        ),
        None => format!(
            "not a number (decimal separator \"{}\"{currency}; set thousands_separator if values look like 1,234.50)",
            cfg.decimal_separator
        ),
    }
}

/// The values of a source's unique fields met so far, in every chunk read before: a value
/// repeated in a later chunk is caught as surely as one repeated in the same chunk.
///
/// Values are kept as 128-bit fingerprints (xxh3), not as text, so a million customers'
/// 19 million invoice ids take a few hundred MB instead of a few GB. Two different ids
/// share a fingerprint with probability about n² / 2¹²⁹ (10⁻²⁴ for 20 million ids).
pub struct Seen {
    fields: Vec<(&'static str, HashSet<u128, BuildHasherDefault<Fingerprint>>)>,
}

impl Seen {
    /// Room for about `rows` values per unique field of the source.
    pub fn new(cfg: &SourceConfig, rows: usize) -> Seen {
        let fields = cfg
            .source
            .fields
            .iter()
            .filter(|f| f.unique)
            .map(|f| (f.name, HashSet::with_capacity_and_hasher(rows, BuildHasherDefault::default())))
            .collect();
        Seen { fields }
    }

    /// For each value, in order: whether an earlier row (of any chunk) had it. Only rows
    /// that are `fine` otherwise count: the valid repeat of a row rejected for another
    /// reason is the first good copy, not a duplicate.
    fn repeats(&mut self, field: &str, values: &StringChunked, fine: &BooleanChunked) -> BooleanChunked {
        let Some((_, seen)) = self.fields.iter_mut().find(|(f, _)| *f == field) else {
            return BooleanChunked::full(repeat_name(field).into(), false, values.len());
        };
        values
            .iter()
            .zip(fine.iter())
            .map(|(v, fine)| {
                fine == Some(true) && v.is_some_and(|v| !seen.insert(xxhash_rust::xxh3::xxh3_128(v.as_bytes())))
            })
            .collect::<BooleanChunked>()
            .with_name(repeat_name(field).into())
    }
}

/// Hashes a fingerprint by taking its low bits: it is already uniformly spread.
#[derive(Default)]
pub struct Fingerprint(u64);

impl Hasher for Fingerprint {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u128(&mut self, value: u128) {
        self.0 = value as u64;
    }
}

/// Types and checks the rows of one chunk of an export; `first_record` is the 0-based
/// data-row number of its first row, `seen` the unique values of the chunks before;
/// `may_hold_nul` is false when the chunk's bytes hold no NUL.
pub fn check(
    frame: DataFrame,
    cfg: &SourceConfig,
    mapped: &[(&'static Field, String)],
    first_record: IdxSize,
    seen: &mut Seen,
    may_hold_nul: bool,
) -> Result<Checked> {
    let schema = frame.schema().clone();
    let header_columns = frame.width().saturating_sub(1);
    let dtype = |c: &str| schema.get(c).cloned().unwrap_or(DataType::String);

    let raws: Vec<Expr> = mapped.iter().map(|(f, c)| raw_text(c, &dtype(c)).alias(raw_name(f.name))).collect();
    let values: Vec<Expr> =
        mapped.iter().map(|(f, c)| typed(f, c, &dtype(c), cfg).cast(checked_dtype(f.kind)).alias(f.name)).collect();
    let whys: Vec<Expr> = mapped.iter().map(|(f, _)| reason(f, cfg, may_hold_nul).alias(why_name(f.name))).collect();
    let mut checked = frame
        .lazy()
        .with_row_index(RECORD, Some(first_record))
        .with_columns(raws)
        .with_columns(values)
        .with_columns(whys)
        .collect()?;
    // A row with more fields than the header: its values may have slid out of their columns.
    let beyond = checked.column(BEYOND_HEADER).is_ok();
    if beyond {
        let why = format!("more fields than the header's {header_columns} columns");
        let extra = col(BEYOND_HEADER).str().strip_chars(lit(NULL));
        let row_why = when(extra.clone().is_not_null().and(extra.neq(lit("")))).then(lit(why)).otherwise(null_text());
        checked = checked.lazy().with_columns([row_why.alias(why_name(BEYOND_HEADER))]).collect()?;
    }
    // Dates no export means (0001-01-01, 9999-12-31 for "no end"): the chunk's extremes are
    // looked at first, so only a chunk holding one pays a pass for the rule.
    let mut far = Vec::new();
    for (field, _) in mapped.iter().filter(|(f, _)| matches!(f.kind, Kind::Date)) {
        if outside_dates(&checked, field.name)? {
            let (first, last) = date_range();
            let value = col(field.name);
            let bound = |d| lit(epoch_days(d)).cast(DataType::Date);
            let is_far = value.clone().lt(bound(first)).or(value.gt(bound(last)));
            let why =
                format!("a date outside {first} to {last} (a placeholder for \"no date\"? leave the field empty)");
            let old = col(why_name(field.name));
            far.push(when(old.clone().is_null().and(is_far)).then(lit(why)).otherwise(old).alias(why_name(field.name)));
        }
    }
    if !far.is_empty() {
        checked = checked.lazy().with_columns(far).collect()?;
    }
    let mut all_fine: Vec<Expr> = mapped.iter().map(|(f, _)| col(why_name(f.name)).is_null()).collect();
    if beyond {
        all_fine.push(col(why_name(BEYOND_HEADER)).is_null());
    }
    // Uniqueness last, over the rows that pass every other rule.
    let unique: Vec<&'static Field> = mapped.iter().map(|(f, _)| *f).filter(|f| f.unique).collect();
    if !unique.is_empty() {
        let fine = checked.clone().lazy().select([all_horizontal(all_fine.clone())?.alias("fine")]).collect()?;
        let fine = fine.column("fine")?.bool()?.clone();
        let mut duplicates = Vec::new();
        for field in unique {
            let text = checked.column(field.name)?.cast(&DataType::String)?;
            checked.with_column(seen.repeats(field.name, text.str()?, &fine).into_column())?;
            let why = format!("duplicate {}: an earlier row has the same value", field.name);
            duplicates.push(
                when(col(repeat_name(field.name)))
                    .then(lit(why))
                    .otherwise(col(why_name(field.name)))
                    .alias(why_name(field.name)),
            );
        }
        checked = checked.lazy().with_columns(duplicates).collect()?;
    }

    let canonical: Vec<Expr> = cfg
        .source
        .fields
        .iter()
        .map(|f| match mapped.iter().find(|(m, _)| m.name == f.name) {
            Some(_) => col(f.name).cast(dtype_of(f.kind)),
            None => lit(NULL).cast(dtype_of(f.kind)).alias(f.name),
        })
        .collect();
    let mut accepted = checked.clone().lazy();
    if !all_fine.is_empty() {
        accepted = accepted.filter(all_horizontal(all_fine)?);
    }
    let mut accepted = accepted.select(canonical).collect()?;
    let unmapped = map_values(&mut accepted, cfg, mapped)?;

    let mut per_field: Vec<LazyFrame> = mapped
        .iter()
        .map(|(f, c)| {
            checked.clone().lazy().filter(col(why_name(f.name)).is_not_null()).select([
                col(RECORD),
                lit(f.name).alias("field"),
                lit(c.as_str()).alias("column"),
                col(raw_name(f.name)).alias("raw_value"),
                col(why_name(f.name)).alias("reason"),
            ])
        })
        .collect();
    if beyond {
        per_field.push(checked.clone().lazy().filter(col(why_name(BEYOND_HEADER)).is_not_null()).select([
            col(RECORD),
            lit("(row)").alias("field"),
            lit("(beyond the header)").alias("column"),
            col(BEYOND_HEADER).alias("raw_value"),
            col(why_name(BEYOND_HEADER)).alias("reason"),
        ]));
    }
    let rejects = if per_field.is_empty() {
        empty_rejects()
    } else {
        concat(per_field, UnionArgs::default())?
            .sort([RECORD], SortMultipleOptions::default().with_maintain_order(true))
            .collect()?
    };
    Ok(Checked { accepted, rejects, unmapped })
}

/// Folds and maps the categorical fields of accepted rows onto the values the models
/// compare with; returns the spellings that are none of them. Each distinct spelling is
/// looked up once per chunk, and a column already spelled as the models do is left alone.
fn map_values(
    accepted: &mut DataFrame,
    cfg: &SourceConfig,
    mapped: &[(&'static Field, String)],
) -> Result<Vec<(&'static str, String, u64)>> {
    let mut unmapped = Vec::new();
    for (&field, map) in &cfg.values {
        if !mapped.iter().any(|(f, _)| f.name == field) {
            continue;
        }
        let column = accepted.column(field)?.str()?.clone();
        let mut resolved: HashMap<&str, (String, bool)> = HashMap::new();
        for value in column.iter().flatten() {
            if !map.is_known(value) && !resolved.contains_key(value) {
                resolved.insert(value, map.resolve(value));
            }
        }
        if resolved.is_empty() {
            continue;
        }
        let mut counts: HashMap<&str, u64> = HashMap::new();
        let values: StringChunked = column
            .iter()
            .map(|v| {
                v.map(|v| match resolved.get(v) {
                    Some((value, known)) => {
                        if !known {
                            *counts.entry(value.as_str()).or_default() += 1;
                        }
                        value.as_str()
                    }
                    None => v,
                })
            })
            .collect();
        accepted.with_column(values.with_name(field.into()).into_column())?;
        unmapped.extend(counts.into_iter().map(|(value, rows)| (field, value.to_string(), rows)));
    }
    Ok(unmapped)
}

/// The range of dates a value may take: wider than any customer's history or contract,
/// narrower than the placeholders exports use for "none".
fn date_range() -> (chrono::NaiveDate, chrono::NaiveDate) {
    let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).expect("a calendar date");
    (day(1900, 1, 1), day(2199, 12, 31))
}

/// Whether the typed date column `field` of a chunk holds a value outside the range.
fn outside_dates(checked: &DataFrame, field: &str) -> Result<bool> {
    let (first, last) = date_range();
    let values = checked.column(field)?.cast(&DataType::Int32)?;
    let values = values.i32()?;
    let outside = |v: Option<i32>| v.is_some_and(|v| v < epoch_days(first) || v > epoch_days(last));
    Ok(outside(values.min()) || outside(values.max()))
}

fn empty_rejects() -> DataFrame {
    DataFrame::new_infer_height(vec![
        Column::new_empty(RECORD.into(), &IDX_DTYPE),
        Column::new_empty("field".into(), &DataType::String),
        Column::new_empty("column".into(), &DataType::String),
        Column::new_empty("raw_value".into(), &DataType::String),
        Column::new_empty("reason".into(), &DataType::String),
    ])
    .expect("columns of equal (zero) length")
}
