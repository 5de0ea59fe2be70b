//! The seven export files: location, header, encoding, delimiter and line ends (or, for
//! the survey answers, a workbook), and how each typed row is serialised. Each file is a
//! buffered stream written customer by customer.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use encoding_rs::GBK;

use super::customer::Profile;
use super::format::Fields;
use super::records::{Account, Activity, Assessment, Contract, Invoice, InvoiceFlaw, Records, Survey, Ticket};
use super::workbook::{Cell, Workbook};
use super::Day;

const BUFFER_BYTES: usize = 1 << 20;

/// The worksheet of the survey workbook.
pub const SURVEY_SHEET: &str = "Responses";

#[derive(Clone, Copy, PartialEq)]
enum Encoding {
    Utf8,
    /// UTF-8 with a byte-order mark and CRLF line ends, as Excel-minded exporters write.
    Utf8BomCrlf,
    Gbk,
}

/// One output file: rows are built in `line`, then encoded and buffered.
struct Sink {
    path: PathBuf,
    out: BufWriter<File>,
    line: Vec<u8>,
    encoding: Encoding,
    rows: u64,
}

impl Sink {
    fn create(root: &Path, relative: &str, header: Option<&str>, encoding: Encoding) -> Result<Sink> {
        let path = root.join(relative);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let mut sink = Sink {
            out: BufWriter::with_capacity(BUFFER_BYTES, file),
            path,
            line: Vec::with_capacity(256),
            encoding,
            rows: 0,
        };
        if encoding == Encoding::Utf8BomCrlf {
            sink.out.write_all(b"\xEF\xBB\xBF")?;
        }
        if let Some(header) = header {
            sink.line.text(header);
            sink.write_line()?;
        }
        Ok(sink)
    }

    /// The cleared buffer for the next row.
    fn row(&mut self) -> &mut Vec<u8> {
        self.line.clear();
        &mut self.line
    }

    /// Writes the row built since [`Sink::row`].
    fn commit(&mut self) -> Result<()> {
        self.rows += 1;
        self.write_line()
    }

    fn write_line(&mut self) -> Result<()> {
        match self.encoding {
            Encoding::Utf8 => self.line.push(b'\n'),
            Encoding::Utf8BomCrlf => self.line.extend_from_slice(b"\r\n"),
            Encoding::Gbk => {
                self.line.push(b'\n');
                let text = std::str::from_utf8(&self.line)?;
                let (bytes, _, unmappable) = GBK.encode(text);
                if unmappable {
                    bail!("{} has no GBK encoding: {text}", self.path.display());
                }
                self.out.write_all(&bytes)?;
                return Ok(());
            }
        }
        self.out.write_all(&self.line)?;
        Ok(())
    }

    fn finish(mut self) -> Result<(PathBuf, u64)> {
        self.out.flush().with_context(|| format!("writing {}", self.path.display()))?;
        Ok((self.path, self.rows))
    }
}

/// All export files, open for the whole run.
pub struct Exports {
    invoices: Sink,
    contracts: Sink,
    accounts: Sink,
    activities: Sink,
    tickets: Sink,
    surveys: Workbook,
    assessments: Sink,
}

impl Exports {
    pub fn create(root: &Path) -> Result<Exports> {
        use Encoding::*;
        Ok(Exports {
            invoices: Sink::create(
                root,
                "finance/invoices.csv",
                Some("发票号,客户编号,开票日期,到期日,付款日期,含税金额,产品线"),
                Utf8,
            )?,
            contracts: Sink::create(
                root,
                "finance/contracts.csv",
                Some("contract_id,customer_id,start_date,end_date,value"),
                Utf8BomCrlf,
            )?,
            accounts: Sink::create(
                root,
                "crm/accounts.csv",
                Some("客户编号,客户名称,行业,区域,客户经理,签约日期,状态,流失日期,关键联系人,联系人任职日期"),
                Gbk,
            )?,
            // NDJSON carries its field names in every line.
            activities: Sink::create(root, "crm/activities.ndjson", None, Utf8)?,
            tickets: Sink::create(
                root,
                "crm/tickets.csv",
                Some("ticket_id;customer;opened;severity;kind;subject;resolved"),
                Utf8,
            )?,
            // A survey tool's download: a title row above the header, on a named sheet.
            surveys: Workbook::create(
                root,
                "survey/nps_responses.xlsx",
                SURVEY_SHEET,
                &[&["NPS and CSAT responses"], &["respondent_customer", "submitted_at", "nps_score", "csat_score"]],
            )?,
            assessments: Sink::create(
                root,
                "survey/relationship_assessments.csv",
                Some("customer_id,assessed_date,dimension,level"),
                Utf8,
            )?,
        })
    }

    pub fn write_customer(&mut self, id: &str, account: &Account, p: &Profile, rows: &Records) -> Result<()> {
        self.write_account(id, account, p)?;
        for contract in &rows.contracts {
            self.write_contract(id, contract)?;
        }
        for invoice in &rows.invoices {
            self.write_invoice(id, invoice)?;
        }
        for activity in &rows.activities {
            self.write_activity(id, activity)?;
        }
        for ticket in &rows.tickets {
            self.write_ticket(id, ticket)?;
        }
        for survey in &rows.surveys {
            self.write_survey(id, survey)?;
        }
        for assessment in &rows.assessments {
            self.write_assessment(id, assessment)?;
        }
        Ok(())
    }

    /// Every file with its number of data rows, in a fixed order.
    pub fn finish(self) -> Result<Vec<(PathBuf, u64)>> {
        let mut files: Vec<(PathBuf, u64)> = Vec::new();
        for sink in [self.invoices, self.contracts, self.accounts, self.activities, self.tickets] {
            files.push(sink.finish()?);
        }
        files.push(self.surveys.finish()?);
        files.push(self.assessments.finish()?);
        Ok(files)
    }

    fn write_account(&mut self, id: &str, a: &Account, p: &Profile) -> Result<()> {
        let line = self.accounts.row();
        line.text(id).text(",").csv(&a.name, b',');
        line.text(",").text(a.industry).text(",").text(a.region).text(",").text(a.manager);
        line.text(",").date(p.signup, b'-');
        match p.churn {
            Some(day) => line.text(",流失,").date(day, b'-'),
            None => line.text(",正常,"),
        };
        line.text(",").text(&a.key_contact).text(",").date(a.key_contact_since, b'-');
        self.accounts.commit()
    }

    fn write_contract(&mut self, id: &str, c: &Contract) -> Result<()> {
        let number = self.contracts.rows + 1;
        let line = self.contracts.row();
        line.text("CT").int(number, 8).text(",").text(id);
        line.text(",").date(c.start, b'-').text(",").date(c.end, b'-');
        line.text(",").plain_cents(c.cents);
        self.contracts.commit()
    }

    /// Invoice numbers are the row number; a duplicate reuses the previous row's.
    fn write_invoice(&mut self, id: &str, i: &Invoice) -> Result<()> {
        let number = match i.flaw {
            Some(InvoiceFlaw::DuplicateId) => self.invoices.rows,
            _ => self.invoices.rows + 1,
        };
        let line = self.invoices.row();
        line.text("INV").int(number, 9).text(",");
        if i.flaw != Some(InvoiceFlaw::NoCustomer) {
            line.text(id);
        }
        line.text(",");
        if i.flaw == Some(InvoiceFlaw::ImpossibleDate) {
            line.text("2025-13-45");
        } else {
            line.date(i.date, b'-');
        }
        line.text(",").date(i.due, b'-').text(",");
        optional_date(line, i.paid, b'-');
        if i.flaw == Some(InvoiceFlaw::AmountNotAvailable) {
            line.text(",\"N/A\",");
        } else {
            line.text(",\"").grouped_cents(i.cents).text("\",");
        }
        line.text(i.product);
        self.invoices.commit()
    }

    fn write_activity(&mut self, id: &str, a: &Activity) -> Result<()> {
        let line = self.activities.row();
        line.text("{\"account\":\"").text(id).text("\",\"ts\":\"");
        if a.relative_ts {
            line.text("yesterday");
        } else {
            line.date(a.day, b'-');
        }
        line.text("\",\"type\":\"").text(a.kind);
        line.text("\",\"response_hours\":").tenths(a.response_tenths);
        line.text(",\"contact_level\":\"").text(a.contact).text("\"}");
        self.activities.commit()
    }

    fn write_ticket(&mut self, id: &str, t: &Ticket) -> Result<()> {
        let number = self.tickets.rows + 1;
        let line = self.tickets.row();
        line.text("TK").int(number, 8).text(";").text(id).text(";").date(t.opened, b'/');
        let (severity, kind) = helpdesk_spelling(number, t);
        line.text(";").text(severity).text(";").text(kind).text(";").quoted(t.subject).text(";");
        optional_date(line, t.resolved, b'/');
        self.tickets.commit()
    }

    /// Most answer dates are date cells; as in workbooks people have edited, one in ten is
    /// typed as text and one in ten is a bare serial number in a General-formatted cell.
    fn write_survey(&mut self, id: &str, s: &Survey) -> Result<()> {
        let number = self.surveys.rows() + 1;
        let mut typed = Vec::new();
        let day = match number % 10 {
            3 => Cell::Text(std::str::from_utf8(typed.date(s.day, b'-'))?),
            7 => Cell::Number(f64::from(super::workbook::serial(s.day))),
            _ => Cell::Date(s.day),
        };
        let csat = s.csat.map_or(Cell::Empty, |c| Cell::Number(f64::from(c)));
        self.surveys.write(&[Cell::Text(id), day, Cell::Number(f64::from(s.nps)), csat])
    }

    fn write_assessment(&mut self, id: &str, a: &Assessment) -> Result<()> {
        let line = self.assessments.row();
        line.text(id).text(",").date(a.day, b'-').text(",").text(a.dimension).text(",");
        if a.level < 0 {
            line.text("-");
        }
        line.int(u64::from(a.level.unsigned_abs()), 1);
        self.assessments.commit()
    }
}

/// How a helpdesk writes a ticket's severity and kind: mostly as the models spell them,
/// but one ticket in six from the Chinese desk (投诉, 表扬, 需求), one in eight with a
/// priority code (P1 … P4) and one in ten capitalised with a stray space, so the sample
/// pipeline's value maps have something to map.
fn helpdesk_spelling(number: u64, t: &Ticket) -> (&'static str, &'static str) {
    let kind = match (number % 6, number % 10, t.kind) {
        (0, _, "complaint") => "投诉",
        (0, _, "praise") => "表扬",
        (0, _, "request") => "需求",
        (_, 3, "complaint") => "Complaint ",
        (_, 3, "praise") => "Praise ",
        (_, 3, "request") => "Request ",
        (_, _, kind) => kind,
    };
    let severity = match (number % 8, t.severity) {
        (1, "critical") => "P1",
        (1, "high") => "P2",
        (1, "medium") => "P3",
        (1, "low") => "P4",
        (_, severity) => severity,
    };
    (severity, kind)
}

fn optional_date(line: &mut Vec<u8>, day: Option<Day>, sep: u8) {
    if let Some(day) = day {
        line.date(day, sep);
    }
}
