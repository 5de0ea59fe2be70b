//! `vitals sample-data`: realistic, deterministic synthetic finance, CRM and survey exports of
//! N customers over the three years up to an end date.
//!
//! Each customer has a latent profile (size, habits, and for some a gradual decline ending in
//! churn) from which every exported row is drawn, so a churn model has a real signal to learn.
//! The files look like real exports, warts included: Chinese headers, a GBK-encoded CRM file,
//! a BOM and CRLF line ends, semicolons and quoted multi-line ticket subjects, NDJSON,
//! thousands separators, and k = 1 + customers / 2000 deliberately bad rows of each kind.
//!
//! Output is byte-identical for the same (customers, seed, end): each customer draws from its
//! own ChaCha8 stream selected by (seed, customer index), independent of generation order.
//! Customers are streamed one at a time, so memory stays flat however many there are.

mod customer;
mod dist;
mod files;
mod flaws;
mod format;
mod records;
mod text;
pub mod workbook;

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::{Months, NaiveDate};
use rand::SeedableRng;

use customer::Profile;
use dist::Stream;
use files::Exports;
use flaws::Placement;
use format::to_day;
use records::Records;

pub struct SampleOptions {
    pub customers: usize,
    pub seed: u64,
    pub out: PathBuf,
    pub end: NaiveDate,
}

/// What `vitals sample-data` writes when told nothing else: the bundled sample.
impl Default for SampleOptions {
    fn default() -> Self {
        SampleOptions {
            customers: 2000,
            seed: 42,
            out: PathBuf::from("sample_data"),
            end: NaiveDate::from_ymd_opt(2026, 6, 30).expect("a calendar date"),
        }
    }
}

pub struct SampleSummary {
    /// Each file written with its number of data rows.
    pub files: Vec<(PathBuf, u64)>,
}

/// chrono's day number (days from 0001-01-01): cheap to add to and compare.
type Day = i32;

/// The dated span of the exports, both ends inclusive.
struct Window {
    start: Day,
    end: Day,
}

impl Window {
    /// The three years up to and including `end`.
    fn ending(end: NaiveDate) -> Result<Window> {
        let start = end.checked_sub_months(Months::new(36)).context("end date too early for a three-year window")?;
        Ok(Window { start: to_day(start) + 1, end: to_day(end) })
    }
}

pub fn generate(opts: &SampleOptions) -> Result<SampleSummary> {
    let window = Window::ending(opts.end)?;
    let placement = Placement::new(opts.customers);
    let mut exports = Exports::create(&opts.out)?;
    let mut rows = Records::default();
    for index in 0..opts.customers {
        let mut rng = customer_stream(opts.seed, index);
        let profile = Profile::draw(&mut rng, &window);
        let account = records::account(&mut rng, &profile);
        rows.fill(&mut rng, &profile, &window);
        placement.inject(index, &mut rng, &profile, &window, &mut rows);
        let id = format!("C{:07}", index + 1);
        exports.write_customer(&id, &account, &profile, &rows)?;
    }
    Ok(SampleSummary { files: exports.finish()? })
}

/// One independent ChaCha8 stream per customer, so customers can be generated in any order.
fn customer_stream(seed: u64, index: usize) -> Stream {
    let mut rng = Stream::seed_from_u64(seed);
    rng.set_stream(index as u64);
    rng
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};
    use std::fs;
    use std::path::Path;

    use super::*;

    const END: &str = "2026-06-30";

    fn end() -> NaiveDate {
        END.parse().unwrap()
    }

    fn run(customers: usize, seed: u64, out: &Path) -> SampleSummary {
        generate(&SampleOptions { customers, seed, out: out.to_path_buf(), end: end() }).unwrap()
    }

    fn read(root: &Path, relative: &str) -> String {
        String::from_utf8(fs::read(root.join(relative)).unwrap()).unwrap()
    }

    /// Minimal CSV reader: quoted fields may hold the delimiter, doubled quotes and newlines.
    fn parse(text: &str, delimiter: char) -> Vec<Vec<String>> {
        let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
        let mut chars = text.chars().peekable();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                (_, '"') => quoted = !quoted,
                (false, '\r') => {}
                (false, '\n') => {
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                }
                (false, c) if c == delimiter => row.push(std::mem::take(&mut field)),
                (_, c) => field.push(c),
            }
        }
        rows.remove(0); // header
        rows
    }

    fn date(text: &str) -> Option<NaiveDate> {
        NaiveDate::parse_from_str(&text.replace('/', "-"), "%Y-%m-%d").ok()
    }

    /// The survey workbook's rows below its title and header, as text; every answer date
    /// YYYY-MM-DD whether the cell holds a date, text or a bare serial number. Also how
    /// many date cells of each kind there are.
    fn surveys_and_date_kinds(root: &Path) -> (Vec<Vec<String>>, [usize; 3]) {
        use calamine::{Data, Reader, Xlsx};
        let mut book: Xlsx<_> = calamine::open_workbook(root.join("survey/nps_responses.xlsx")).unwrap();
        let range = book.worksheet_range(files::SURVEY_SHEET).unwrap();
        let mut lead = range.rows().take(2).map(|r| r.iter().map(|c| c.to_string()).collect::<Vec<_>>());
        assert_eq!(lead.next().unwrap()[0], "NPS and CSAT responses");
        assert_eq!(lead.next().unwrap(), ["respondent_customer", "submitted_at", "nps_score", "csat_score"]);
        let ymd = |serial: f64| {
            (NaiveDate::from_ymd_opt(1899, 12, 30).unwrap() + chrono::Days::new(serial as u64)).to_string()
        };
        let mut kinds = [0; 3];
        let rows = range
            .rows()
            .skip(2)
            .map(|row| {
                let cells = row.iter().enumerate().map(|(i, cell)| match (i, cell) {
                    (1, Data::DateTime(d)) => {
                        kinds[0] += 1;
                        ymd(d.as_f64())
                    }
                    (1, Data::String(s)) => {
                        kinds[1] += 1;
                        s.clone()
                    }
                    (1, Data::Float(f)) => {
                        kinds[2] += 1;
                        ymd(*f)
                    }
                    (_, Data::Float(f)) => f.to_string(),
                    (_, Data::Int(n)) => n.to_string(),
                    (_, Data::String(s)) => s.clone(),
                    (_, Data::Empty) => String::new(),
                    (_, other) => panic!("an unexpected cell {other:?}"),
                });
                cells.collect()
            })
            .collect();
        (rows, kinds)
    }

    fn surveys(root: &Path) -> Vec<Vec<String>> {
        surveys_and_date_kinds(root).0
    }

    fn accounts(root: &Path) -> Vec<Vec<String>> {
        let bytes = fs::read(root.join("crm/accounts.csv")).unwrap();
        let (text, had_errors) = encoding_rs::GBK.decode_without_bom_handling(&bytes);
        assert!(!had_errors, "accounts.csv is not clean GBK");
        assert!(text.starts_with("客户编号,客户名称"));
        parse(&text, ',')
    }

    /// Churn date by customer id, for churned customers only.
    fn churned(root: &Path) -> HashMap<String, NaiveDate> {
        accounts(root).into_iter().filter_map(|row| Some((row[0].clone(), date(&row[7])?))).collect()
    }

    #[test]
    fn same_seed_same_bytes_other_seed_differs() {
        let (a, b, c) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let summary = run(300, 7, a.path());
        run(300, 7, b.path());
        run(300, 8, c.path());
        for (path, _) in &summary.files {
            let relative = path.strip_prefix(a.path()).unwrap();
            let bytes = fs::read(path).unwrap();
            assert_eq!(bytes, fs::read(b.path().join(relative)).unwrap(), "{relative:?}");
            assert_ne!(bytes, fs::read(c.path().join(relative)).unwrap(), "{relative:?}");
        }
    }

    #[test]
    fn two_thousand_customers() {
        let dir = tempfile::tempdir().unwrap();
        let summary = run(2000, 42, dir.path());
        let root = dir.path();
        volumes_are_near_targets(&summary, root);
        nothing_is_dated_after_end(root);
        churned_customers_fall_silent(root);
        churned_customers_score_lower(root);
        bad_rows_are_exactly_k(root, 1 + 2000 / 2000);
        file_shapes(root);
    }

    fn volumes_are_near_targets(summary: &SampleSummary, root: &Path) {
        let rows: HashMap<String, f64> = summary
            .files
            .iter()
            .map(|(path, rows)| {
                let relative = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                (relative, *rows as f64 / 2000.0)
            })
            .collect();
        let expect = |file: &str, lo: f64, hi: f64| {
            let per_customer = rows[file];
            assert!((lo..=hi).contains(&per_customer), "{file}: {per_customer} per customer");
        };
        expect("crm/accounts.csv", 1.0, 1.0);
        expect("finance/invoices.csv", 16.0, 24.0);
        expect("finance/contracts.csv", 1.0, 3.0);
        expect("crm/activities.ndjson", 9.5, 14.5);
        expect("crm/tickets.csv", 1.1, 1.9);
        expect("survey/nps_responses.xlsx", 0.38, 0.62);
        let assessed: HashSet<_> =
            parse(&read(root, "survey/relationship_assessments.csv"), ',').into_iter().map(|r| r[0].clone()).collect();
        let share = assessed.len() as f64 / 2000.0;
        assert!((0.26..=0.34).contains(&share), "{share} assessed");
        let churn_share = churned(root).len() as f64 / 2000.0;
        assert!((0.22..=0.28).contains(&churn_share), "{churn_share} churned");
    }

    fn nothing_is_dated_after_end(root: &Path) {
        // Due dates and contract end dates are terms, not events, and may lie beyond `end`.
        let dated: [(&str, char, &[usize]); 4] = [
            ("finance/invoices.csv", ',', &[2, 4]),
            ("finance/contracts.csv", ',', &[2]),
            ("crm/tickets.csv", ';', &[2, 6]),
            ("survey/relationship_assessments.csv", ',', &[1]),
        ];
        for (file, delimiter, columns) in dated {
            for row in parse(read(root, file).trim_start_matches('\u{feff}'), delimiter) {
                for &column in columns {
                    assert!(date(&row[column]).is_none_or(|d| d <= end()), "{file}: {row:?}");
                }
            }
        }
        for row in surveys(root) {
            assert!(date(&row[1]).is_some_and(|d| d <= end()), "survey/nps_responses.xlsx: {row:?}");
        }
        for row in accounts(root) {
            assert!(date(&row[5]).unwrap() <= end() && date(&row[7]).is_none_or(|d| d <= end()));
        }
        for line in read(root, "crm/activities.ndjson").lines() {
            let ts = &line[line.find("\"ts\":\"").unwrap() + 6..][..10];
            assert!(date(ts).is_none_or(|d| d <= end()), "{line}");
        }
    }

    fn churned_customers_fall_silent(root: &Path) {
        let churned = churned(root);
        for row in parse(&read(root, "finance/invoices.csv"), ',') {
            if let (Some(churn), Some(day)) = (churned.get(&row[1]), date(&row[2])) {
                assert!(day <= *churn, "invoice after churn: {row:?}");
            }
        }
    }

    fn churned_customers_score_lower(root: &Path) {
        let churned = churned(root);
        let (mut churners, mut others) = (Vec::new(), Vec::new());
        for row in surveys(root) {
            let (day, score) = (date(&row[1]).unwrap(), row[2].parse::<f64>().unwrap());
            let last = churned.get(&row[0]).copied().unwrap_or(end());
            if score <= 10.0 && (last - day).num_days() < 180 {
                if churned.contains_key(&row[0]) { &mut churners } else { &mut others }.push(score);
            }
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        assert!(churners.len() >= 10, "only {} churner answers", churners.len());
        assert!(mean(&churners) + 1.5 < mean(&others), "{} vs {}", mean(&churners), mean(&others));
    }

    fn bad_rows_are_exactly_k(root: &Path, k: usize) {
        let invoices = parse(&read(root, "finance/invoices.csv"), ',');
        let count = |pred: &dyn Fn(&Vec<String>) -> bool| invoices.iter().filter(|r| pred(r)).count();
        assert_eq!(count(&|r| r[2] == "2025-13-45"), k);
        assert_eq!(count(&|r| r[5] == "N/A"), k);
        assert_eq!(count(&|r| r[1].is_empty()), k);
        let mut seen = HashSet::new();
        assert_eq!(invoices.iter().filter(|r| !seen.insert(r[0].clone())).count(), k);
        let surveys = surveys(root);
        assert_eq!(surveys.iter().filter(|r| r[2] == "11").count(), k);
        let levels = parse(&read(root, "survey/relationship_assessments.csv"), ',');
        assert_eq!(levels.iter().filter(|r| r[3] == "5").count(), k);
        let activities = read(root, "crm/activities.ndjson");
        assert_eq!(activities.matches("\"ts\":\"yesterday\"").count(), k);
    }

    fn file_shapes(root: &Path) {
        let invoices = read(root, "finance/invoices.csv");
        assert!(invoices.starts_with("发票号,客户编号,开票日期,到期日,付款日期,含税金额,产品线\n"));
        for line in invoices.lines().skip(1).filter(|l| !l.contains("\"N/A\"")) {
            let amount = line.split('"').nth(1).unwrap();
            assert!(is_grouped_amount(amount), "{line}");
        }
        let contracts = fs::read(root.join("finance/contracts.csv")).unwrap();
        assert!(contracts.starts_with(b"\xEF\xBB\xBFcontract_id,customer_id,start_date,end_date,value\r\n"));
        let (surveys, [date_cells, text_dates, bare_serials]) = surveys_and_date_kinds(root);
        assert!(text_dates * 20 > surveys.len() && bare_serials * 20 > surveys.len(), "{text_dates} {bare_serials}");
        assert!(date_cells > text_dates + bare_serials, "most answer dates are date cells");
        let tickets = read(root, "crm/tickets.csv");
        assert!(tickets.contains("\"\"") && tickets.contains("\n税号另发"));
        assert!(parse(&tickets, ';').iter().all(|r| r.len() == 7));
        let names = accounts(root);
        assert!(names.iter().all(|r| r.len() == 10) && names[1999][0] == "C0002000");
        assert!(names.iter().any(|r| r[1].contains(',') || r[1].contains('"')));
    }

    /// `1,234.50`: groups of three digits after the first, two decimals.
    fn is_grouped_amount(s: &str) -> bool {
        let Some((whole, cents)) = s.split_once('.') else {
            return false;
        };
        let mut groups = whole.split(',');
        let first = groups.next().unwrap();
        let digits = |g: &str| g.bytes().all(|b| b.is_ascii_digit());
        cents.len() == 2
            && digits(cents)
            && (1..=3).contains(&first.len())
            && digits(first)
            && !(first.starts_with('0') && whole.len() > 1)
            && groups.all(|g| g.len() == 3 && digits(g))
    }
}
