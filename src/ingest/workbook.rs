//! Reading an Excel workbook export (`format = "xlsx"`) a block of rows at a time, with
//! calamine's streaming cell reader: the sheet is never held whole.
//!
//! Every cell becomes text, as a CSV field would be, so typing and rejecting stay in one
//! place (validate): text as written, numbers with the source's decimal separator, and
//! dates (cells formatted as dates, and plain serial numbers in a column mapped to a date
//! field) in the source's first date format. Rows above `header_row` (a title, notes) are
//! skipped and blank rows are no records. Each record keeps the row number Excel shows for
//! it, for the rejects.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use anyhow::{bail, Context, Result};
use calamine::{DataRef, ExcelDateTime, ExcelDateTimeType, Reader, Xlsx, XlsxError};
use chrono::NaiveDate;
use polars::prelude::*;

use super::validate::BEYOND_HEADER;
use crate::canonical::Kind;
use crate::config::SourceConfig;

/// How many rows of a worksheet are typed and checked at a time.
pub const SHEET_ROWS: usize = 1 << 17;

/// A block of a worksheet's records: text columns named by the header (and
/// [`BEYOND_HEADER`]), the sheet row of each record, and the sheet's name.
pub struct Block {
    pub frame: DataFrame,
    pub rows: Vec<u32>,
    pub sheet: String,
}

/// The worksheet being read: its name and used height (rows below the header).
struct Sheet<'a> {
    name: &'a str,
    height: usize,
}

/// The column names in the header row of the source's worksheet.
pub fn header(cfg: &SourceConfig, pipeline: &Path) -> Result<Vec<String>> {
    let mut names = None;
    each_row(cfg, pipeline, |_, row, cells| {
        if row < cfg.header_row {
            return Ok(true);
        }
        names = Some(header_names(cfg, pipeline, row, &cells)?);
        Ok(false)
    })?;
    names.with_context(|| no_header(cfg, pipeline))
}

/// Hands `each` the sheet's records in blocks of up to `block_rows`, with an estimate of the
/// sheet's data rows (its used range).
pub fn read(
    cfg: &SourceConfig,
    pipeline: &Path,
    block_rows: usize,
    mut each: impl FnMut(Block, usize) -> Result<()>,
) -> Result<()> {
    let mut names: Option<Vec<String>> = None;
    let mut dates: Vec<bool> = Vec::new();
    let mut columns: Vec<Vec<Option<String>>> = Vec::new();
    let mut rows: Vec<u32> = Vec::new();
    let mut last: Option<(String, usize)> = None;
    each_row(cfg, pipeline, |sheet, row, cells| {
        if row < cfg.header_row {
            return Ok(true);
        }
        let Some(header) = &names else {
            let header = names.insert(header_names(cfg, pipeline, row, &cells)?);
            dates = date_columns(cfg, header);
            columns = vec![Vec::new(); header.len() + 1];
            return Ok(true);
        };
        let width = header.len();
        let mut values: Vec<Option<String>> = vec![None; width + 1];
        for (column, value) in &cells {
            let column = *column as usize;
            let slot = column.min(width);
            if values[slot].is_none() {
                values[slot] = text(value, dates.get(column).copied().unwrap_or(false), cfg);
            }
        }
        if values.iter().all(Option::is_none) {
            return Ok(true);
        }
        for (column, value) in columns.iter_mut().zip(values) {
            column.push(value);
        }
        rows.push(row);
        if rows.len() >= block_rows {
            each(block(header, &mut columns, &mut rows, sheet.name)?, sheet.height)?;
        }
        last.get_or_insert_with(|| (sheet.name.to_string(), sheet.height));
        Ok(true)
    })?;
    let Some(header) = &names else { bail!(no_header(cfg, pipeline)) };
    if let Some((sheet, height)) = last.filter(|_| !rows.is_empty()) {
        each(block(header, &mut columns, &mut rows, &sheet)?, height)?;
    }
    Ok(())
}

/// The block gathered so far, leaving `columns` and `rows` empty for the next.
fn block(names: &[String], columns: &mut [Vec<Option<String>>], rows: &mut Vec<u32>, sheet: &str) -> Result<Block> {
    let series: Vec<Column> = names
        .iter()
        .map(String::as_str)
        .chain([BEYOND_HEADER])
        .zip(columns.iter_mut())
        .map(|(name, values)| Column::new(name.into(), std::mem::take(values)))
        .collect();
    Ok(Block { frame: DataFrame::new(rows.len(), series)?, rows: std::mem::take(rows), sheet: sheet.to_string() })
}

/// Whether each header column is mapped to a date field, so a plain number in it is an
/// Excel serial date.
fn date_columns(cfg: &SourceConfig, header: &[String]) -> Vec<bool> {
    header
        .iter()
        .map(|name| {
            cfg.source
                .fields
                .iter()
                .any(|f| f.kind == Kind::Date && cfg.columns.get(f.name).map_or(f.name == name, |c| c == name))
        })
        .collect()
}

/// A cell as the text a CSV export would hold; None for an empty cell.
fn text(value: &DataRef<'_>, date_column: bool, cfg: &SourceConfig) -> Option<String> {
    let number = |v: f64| {
        let text = v.to_string();
        if cfg.decimal_separator == "." {
            text
        } else {
            text.replace('.', &cfg.decimal_separator)
        }
    };
    let day = |d: &ExcelDateTime| {
        let (y, m, day, ..) = d.to_ymd_hms_milli();
        NaiveDate::from_ymd_opt(i32::from(y), u32::from(m), u32::from(day))
            .map_or_else(|| number(d.as_f64()), |day| day.format(&cfg.date_formats[0]).to_string())
    };
    // Excel's calendar runs from 1900 to 9999; outside it a number in a date column is no date.
    let serial = |v: f64| match (1.0..2_958_466.0).contains(&v) {
        true => day(&ExcelDateTime::new(v, ExcelDateTimeType::DateTime, false)),
        false => number(v),
    };
    let text = match value {
        DataRef::Empty => return None,
        DataRef::String(s) => s.clone(),
        DataRef::SharedString(s) => s.to_string(),
        DataRef::Int(i) if date_column => serial(*i as f64),
        DataRef::Float(f) if date_column => serial(*f),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => number(*f),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(d) if d.is_datetime() => day(d),
        DataRef::DateTime(d) => number(d.as_f64()),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::Error(e) => e.to_string(),
    };
    Some(text)
}

/// The header row's cells as column names; a repeated name is marked as the CSV reader
/// marks it (`x_duplicated_0`), so the mapping refuses it the same way.
fn header_names(cfg: &SourceConfig, pipeline: &Path, row: u32, cells: &[(u32, DataRef<'_>)]) -> Result<Vec<String>> {
    if row != cfg.header_row {
        bail!(no_header(cfg, pipeline));
    }
    let width = cells.iter().map(|(c, _)| *c as usize + 1).max().unwrap_or(0);
    let mut names: Vec<String> = (0..width).map(|c| format!("column {}", letters(c))).collect();
    for (column, value) in cells {
        if let Some(name) = text(value, false, cfg).map(|t| t.trim().to_string()).filter(|t| !t.is_empty()) {
            names[*column as usize] = name;
        }
    }
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for name in &mut names {
        let count = seen.entry(name.clone()).or_default();
        if *count > 0 {
            *name = format!("{name}_duplicated_{}", *count - 1);
        }
        *count += 1;
    }
    Ok(names)
}

/// A column's letters as Excel shows them: 0 → A, 26 → AA.
fn letters(mut column: usize) -> String {
    let mut text = Vec::new();
    loop {
        text.push(b'A' + (column % 26) as u8);
        if column < 26 {
            break;
        }
        column = column / 26 - 1;
    }
    text.reverse();
    String::from_utf8(text).unwrap_or_default()
}

fn no_header(cfg: &SourceConfig, pipeline: &Path) -> String {
    format!(
        "source {src}: workbook {} has no column names in row {} of its sheet{}; set header_row (the row \
         holding them, 1 = the first) or sheet in [sources.{src}] of {}",
        cfg.path.display(),
        cfg.header_row,
        cfg.sheet.as_deref().map(|s| format!(" \"{s}\"")).unwrap_or_default(),
        pipeline.display(),
        src = cfg.name(),
    )
}

fn open(cfg: &SourceConfig, pipeline: &Path) -> Result<Xlsx<BufReader<File>>> {
    let file = File::open(&cfg.path).with_context(|| super::export::cannot_read(cfg, pipeline))?;
    Xlsx::new(BufReader::new(file)).map_err(|e| {
        let why = match &e {
            XlsxError::Password => "it is password-protected; save an unprotected copy".to_string(),
            _ => format!(
                "{e}; is it an Excel 2007+ workbook? Save an .xls or .ods file as .xlsx, or set `format` to what the file is"
            ),
        };
        anyhow::anyhow!(
            "source {src}: cannot read export file {} as a workbook (format = \"xlsx\" in [sources.{src}] of {}): {why}",
            cfg.path.display(),
            pipeline.display(),
            src = cfg.name()
        )
    })
}

fn chosen_sheet(workbook: &Xlsx<BufReader<File>>, cfg: &SourceConfig, pipeline: &Path) -> Result<String> {
    let names = workbook.sheet_names();
    match &cfg.sheet {
        Some(sheet) if names.contains(sheet) => Ok(sheet.clone()),
        None if !names.is_empty() => Ok(names[0].clone()),
        wanted => bail!(
            "source {src}: workbook {} has no sheet{}; its sheets are {}: set sheet = \"<name>\" in [sources.{src}] of {}",
            cfg.path.display(),
            wanted.as_deref().map(|s| format!(" \"{s}\"")).unwrap_or_default(),
            if names.is_empty() { "none".to_string() } else { names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ") },
            pipeline.display(),
            src = cfg.name()
        ),
    }
}

/// Calls `each` with every row of the source's sheet that has a cell (its 1-based row
/// number and its cells by 0-based column) until it returns false.
fn each_row(
    cfg: &SourceConfig,
    pipeline: &Path,
    mut each: impl FnMut(&Sheet, u32, Vec<(u32, DataRef<'_>)>) -> Result<bool>,
) -> Result<()> {
    let mut workbook = open(cfg, pipeline)?;
    let sheet = chosen_sheet(&workbook, cfg, pipeline)?;
    let broken = |row: u32, e: XlsxError| {
        anyhow::anyhow!(
            "source {}: cannot read sheet \"{sheet}\" of workbook {} (near row {row}): {e}; open it in Excel \
             and save it again, or export the sheet as CSV",
            cfg.name(),
            cfg.path.display(),
        )
    };
    let mut cells = workbook.worksheet_cells_reader(&sheet).map_err(|e| broken(1, e))?;
    let height = (cells.dimensions().end.0 + 1).saturating_sub(cfg.header_row) as usize;
    let about = Sheet { name: &sheet, height };
    let mut current: Option<u32> = None;
    let mut row_cells: Vec<(u32, DataRef<'_>)> = Vec::new();
    loop {
        let cell = cells.next_cell().map_err(|e| broken(current.map_or(1, |r| r + 1), e))?;
        let row = cell.as_ref().map(|c| c.get_position().0 + 1);
        if let Some(finished) = current.filter(|&r| Some(r) != row) {
            if !each(&about, finished, std::mem::take(&mut row_cells))? {
                return Ok(());
            }
        }
        let Some(cell) = cell else { return Ok(()) };
        current = row;
        row_cells.push((cell.get_position().1, cell.get_value().clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_lettered_as_excel_shows_them() {
        assert_eq!(
            [0, 1, 25, 26, 27, 51, 52, 701, 702].map(letters),
            ["A", "B", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA"]
        );
    }
}
