//! The one export written as an Excel workbook (.xlsx), as survey tools hand them out: the
//! smallest valid Office Open XML package (one sheet, inline strings, one date style),
//! its sheet streamed row by row into the zip. The zip entries carry no timestamps, so the
//! same rows give the same bytes.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{Datelike, NaiveDate};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use super::Day;

/// One cell of a row.
pub enum Cell<'a> {
    Text(&'a str),
    Number(f64),
    /// A date cell: the Excel serial number of the day, shown in a date format.
    Date(Day),
    Empty,
}

/// A workbook of one sheet, open for rows.
pub struct Workbook {
    path: PathBuf,
    zip: ZipWriter<BufWriter<File>>,
    sheet: String,
    next_row: u32,
    row: String,
    /// Data rows written (rows after the header).
    rows: u64,
}

const MAIN: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
const RELATIONSHIPS: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const PACKAGE_RELATIONSHIPS: &str = "http://schemas.openxmlformats.org/package/2006/relationships";

impl Workbook {
    /// A workbook at `root/relative` whose sheet `sheet` starts with `lead` rows (a title,
    /// then the header).
    pub fn create(root: &Path, relative: &str, sheet: &str, lead: &[&[&str]]) -> Result<Workbook> {
        let path = root.join(relative);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let mut zip = ZipWriter::new(BufWriter::with_capacity(1 << 20, file));
        zip.start_file("xl/worksheets/sheet1.xml", options())?;
        write!(
            zip,
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<worksheet xmlns=\"{MAIN}\"><sheetData>"
        )?;
        let mut book = Workbook { path, zip, sheet: sheet.to_string(), next_row: 1, row: String::new(), rows: 0 };
        for cells in lead {
            let cells: Vec<Cell> = cells.iter().map(|t| Cell::Text(t)).collect();
            book.push(&cells)?;
        }
        Ok(book)
    }

    /// Appends a data row.
    pub fn write(&mut self, cells: &[Cell]) -> Result<()> {
        self.rows += 1;
        self.push(cells)
    }

    /// The number of data rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    fn push(&mut self, cells: &[Cell]) -> Result<()> {
        let r = self.next_row;
        self.row.clear();
        self.row.push_str(&format!("<row r=\"{r}\">"));
        for (i, cell) in cells.iter().enumerate() {
            let at = format!("{}{r}", (b'A' + i as u8) as char);
            match cell {
                Cell::Text(t) => {
                    self.row.push_str(&format!("<c r=\"{at}\" t=\"inlineStr\"><is><t>{}</t></is></c>", escape(t)))
                }
                Cell::Number(n) => self.row.push_str(&format!("<c r=\"{at}\"><v>{n}</v></c>")),
                Cell::Date(day) => self.row.push_str(&format!("<c r=\"{at}\" s=\"1\"><v>{}</v></c>", serial(*day))),
                Cell::Empty => {}
            }
        }
        self.row.push_str("</row>");
        self.zip.write_all(self.row.as_bytes())?;
        self.next_row += 1;
        Ok(())
    }

    /// Closes the sheet and writes the rest of the package; returns the path and data rows.
    pub fn finish(mut self) -> Result<(PathBuf, u64)> {
        self.zip.write_all(b"</sheetData></worksheet>")?;
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n";
        let parts = [
            (
                "[Content_Types].xml",
                format!(
                    "{xml}<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
                     <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
                     <Default Extension=\"xml\" ContentType=\"application/xml\"/>\
                     <Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>\
                     <Override PartName=\"/xl/worksheets/sheet1.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>\
                     <Override PartName=\"/xl/styles.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml\"/></Types>"
                ),
            ),
            (
                "_rels/.rels",
                format!(
                    "{xml}<Relationships xmlns=\"{PACKAGE_RELATIONSHIPS}\"><Relationship Id=\"rId1\" \
                     Type=\"{RELATIONSHIPS}/officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>"
                ),
            ),
            (
                "xl/workbook.xml",
                format!(
                    "{xml}<workbook xmlns=\"{MAIN}\" xmlns:r=\"{RELATIONSHIPS}\"><sheets><sheet name=\"{}\" sheetId=\"1\" \
                     r:id=\"rId1\"/></sheets></workbook>",
                    escape(&self.sheet)
                ),
            ),
            (
                "xl/_rels/workbook.xml.rels",
                format!(
                    "{xml}<Relationships xmlns=\"{PACKAGE_RELATIONSHIPS}\">\
                     <Relationship Id=\"rId1\" Type=\"{RELATIONSHIPS}/worksheet\" Target=\"worksheets/sheet1.xml\"/>\
                     <Relationship Id=\"rId2\" Type=\"{RELATIONSHIPS}/styles\" Target=\"styles.xml\"/></Relationships>"
                ),
            ),
            (
                // Style 1 is the built-in short date format (numFmtId 14), which marks a date cell.
                "xl/styles.xml",
                format!(
                    "{xml}<styleSheet xmlns=\"{MAIN}\"><fonts count=\"1\"><font><sz val=\"11\"/><name val=\"Calibri\"/></font></fonts>\
                     <fills count=\"2\"><fill><patternFill patternType=\"none\"/></fill><fill><patternFill patternType=\"gray125\"/></fill></fills>\
                     <borders count=\"1\"><border><left/><right/><top/><bottom/><diagonal/></border></borders>\
                     <cellStyleXfs count=\"1\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\"/></cellStyleXfs>\
                     <cellXfs count=\"2\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\"/>\
                     <xf numFmtId=\"14\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\" applyNumberFormat=\"1\"/></cellXfs></styleSheet>"
                ),
            ),
        ];
        for (name, text) in parts {
            self.zip.start_file(name, options())?;
            self.zip.write_all(text.as_bytes())?;
        }
        let mut out = self.zip.finish().with_context(|| format!("writing {}", self.path.display()))?;
        out.flush().with_context(|| format!("writing {}", self.path.display()))?;
        Ok((self.path, self.rows))
    }
}

fn options() -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
}

/// Excel's serial number of a day: days since 1899-12-30 (right for every date after
/// February 1900).
pub fn serial(day: Day) -> i32 {
    day - NaiveDate::from_ymd_opt(1899, 12, 30).map_or(0, |d| d.num_days_from_ce())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
