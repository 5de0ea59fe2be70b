//! `vitals sample-data`: synthetic finance, CRM and survey exports of N customers over the
//! three years up to an end date, byte-identical for the same seed.
//!
//! The files look like real exports, warts included: Chinese headers, a GBK-encoded CRM
//! file, a BOM and CRLF line ends, a semicolon-separated ticket export with quoted
//! multi-line subjects, NDJSON activities, thousands separators in amounts, and a handful
//! of deliberately bad rows (k = 1 + customers / 2000 of each kind) that ingest must
//! reject. Each customer draws from its own random stream (seed, customer number), so the
//! output does not depend on generation order.

mod customer;

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{Datelike, Duration, NaiveDate};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use customer::{Draw, Profile};

pub struct SampleOptions {
    pub customers: usize,
    pub seed: u64,
    pub out: PathBuf,
    pub end: NaiveDate,
}

pub struct SampleSummary {
    /// Each file written with its number of data rows.
    pub files: Vec<(PathBuf, u64)>,
}

const PRODUCT_LINES: [&str; 6] = ["云服务", "数据分析", "咨询", "培训", "运维", "安全"];
const INDUSTRIES: [&str; 8] = [
    "制造业",
    "金融",
    "零售",
    "医疗",
    "教育",
    "物流",
    "能源",
    "互联网",
];
const REGIONS: [&str; 7] = ["华东", "华北", "华南", "西南", "华中", "东北", "西北"];
const OWNERS: [&str; 10] = [
    "王芳", "李伟", "张敏", "刘洋", "陈静", "杨帆", "赵磊", "黄丽", "周杰", "吴婷",
];
const CITIES: [&str; 12] = [
    "上海", "北京", "深圳", "广州", "杭州", "成都", "武汉", "南京", "苏州", "西安", "天津", "重庆",
];
const WORDS: [&str; 12] = [
    "华信", "恒通", "瑞达", "中科", "远航", "金桥", "博远", "宏图", "新创", "嘉禾", "天成", "鼎盛",
];
const TRADES: [&str; 8] = [
    "科技", "信息", "制造", "贸易", "物流", "医疗", "能源", "教育",
];
const ACTIVITY_TYPES: [&str; 5] = ["meeting", "call", "email", "visit", "business_review"];
const SUBJECTS: [&str; 8] = [
    "Invoice question",
    "Login fails; cannot reach dashboard",
    "Great onboarding, thanks",
    "Feature request: export, filters",
    "Report says \"no data\" since Monday",
    "Renewal terms",
    "Outage follow-up\nsee call notes",
    "Training schedule",
];
const ASSESSED: [&str; 6] = [
    "acceptance",
    "participation",
    "information_sharing",
    "guidance",
    "decision_support",
    "competitor_attitude",
];

/// One export file being written, counting its data rows.
struct Export {
    path: PathBuf,
    out: BufWriter<File>,
    rows: u64,
}

impl Export {
    fn create(root: &Path, rel: &str, header: &str) -> Result<Export> {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().expect("file in a folder"))?;
        let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        out.write_all(header.as_bytes())?;
        Ok(Export { path, out, rows: 0 })
    }

    fn row(&mut self, line: &str) -> Result<()> {
        self.out.write_all(line.as_bytes())?;
        self.rows += 1;
        Ok(())
    }

    fn finish(mut self) -> Result<(PathBuf, u64)> {
        self.out.flush()?;
        Ok((self.path, self.rows))
    }
}

/// Which deliberately bad rows a customer carries (at most one of each kind).
struct Faults {
    every: usize,
}

impl Faults {
    fn new(customers: usize) -> Faults {
        let k = 1 + customers / 2000;
        Faults {
            every: (customers / k).max(1),
        }
    }

    /// Kind `kind` (0..7) goes to customers at a fixed stride, offset by kind.
    fn has(&self, customer: usize, kind: usize) -> bool {
        customer % self.every == (kind * 7 + 3) % self.every
    }
}

/// Writes the sample exports; see the module documentation.
pub fn generate(opts: &SampleOptions) -> Result<SampleSummary> {
    let end = opts.end;
    let start = NaiveDate::from_ymd_opt(end.year() - 3, end.month(), end.day().min(28))
        .expect("valid date")
        + Duration::days(1);
    let root = &opts.out;
    let mut invoices = Export::create(
        root,
        "finance/invoices.csv",
        "发票号,客户编号,开票日期,到期日,付款日期,含税金额,产品线\n",
    )?;
    let mut contracts = Export::create(
        root,
        "finance/contracts.csv",
        "\u{feff}contract_id,customer_id,start_date,end_date,value\r\n",
    )?;
    let mut activities = Export::create(root, "crm/activities.ndjson", "")?;
    let mut tickets = Export::create(
        root,
        "crm/tickets.csv",
        "ticket_id;customer;opened;severity;kind;subject;resolved\n",
    )?;
    let mut surveys = Export::create(
        root,
        "survey/nps_responses.csv",
        "respondent_customer,submitted_at,nps_score,csat_score\n",
    )?;
    let mut assessments = Export::create(
        root,
        "survey/relationship_assessments.csv",
        "customer_id,assessed_date,dimension,level\n",
    )?;
    let mut accounts =
        String::from("客户编号,客户名称,行业,区域,客户经理,签约日期,状态,流失日期\n");
    let mut account_rows = 0u64;
    let faults = Faults::new(opts.customers);
    let mut ids = Ids::default();
    let mut line = String::with_capacity(256);

    for index in 1..=opts.customers {
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
        rng.set_stream(index as u64);
        let id = format!("C{index:07}");
        let profile = Profile::draw(&mut rng, start, end);
        let active = profile.active(start, end);

        account_row(&mut accounts, &mut rng, &id, &profile);
        account_rows += 1;
        invoice_rows(
            &mut invoices,
            &mut rng,
            &mut ids,
            &id,
            &profile,
            active,
            end,
            &faults,
            index,
            &mut line,
        )?;
        contract_rows(
            &mut contracts,
            &mut rng,
            &mut ids,
            &id,
            &profile,
            start,
            end,
            &mut line,
        )?;
        activity_rows(
            &mut activities,
            &mut rng,
            &id,
            &profile,
            active,
            faults.has(index, 4),
            &mut line,
        )?;
        ticket_rows(
            &mut tickets,
            &mut rng,
            &mut ids,
            &id,
            &profile,
            active,
            end,
            &mut line,
        )?;
        survey_rows(
            &mut surveys,
            &mut rng,
            &id,
            &profile,
            active,
            faults.has(index, 5),
            &mut line,
        )?;
        assessment_rows(
            &mut assessments,
            &mut rng,
            &id,
            &profile,
            active,
            faults.has(index, 6),
            &mut line,
        )?;
    }

    let accounts_path = root.join("crm/accounts.csv");
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(&accounts);
    anyhow::ensure!(!unmappable, "account text has characters GBK cannot hold");
    std::fs::write(&accounts_path, gbk)
        .with_context(|| format!("writing {}", accounts_path.display()))?;
    let files = vec![
        invoices.finish()?,
        contracts.finish()?,
        (accounts_path, account_rows),
        activities.finish()?,
        tickets.finish()?,
        surveys.finish()?,
        assessments.finish()?,
    ];
    Ok(SampleSummary { files })
}

/// Running numbers for invoice, contract and ticket ids.
#[derive(Default)]
struct Ids {
    invoice: u64,
    contract: u64,
    ticket: u64,
}

fn pick<'a>(rng: &mut ChaCha8Rng, items: &[&'a str]) -> &'a str {
    items[rng.days(0, items.len() as i64 - 1) as usize]
}

/// `1234.5` → `1,234.50`.
fn thousands(amount: f64) -> String {
    let cents = (amount * 100.0).round() as i64;
    let (whole, frac) = (cents / 100, cents % 100);
    let digits = whole.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3 + 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{grouped}.{frac:02}")
}

fn csv_quote(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

fn account_row(out: &mut String, rng: &mut ChaCha8Rng, id: &str, p: &Profile) {
    let mut name = format!(
        "{}{}{}有限公司",
        pick(rng, &CITIES),
        pick(rng, &WORDS),
        pick(rng, &TRADES)
    );
    if rng.chance(0.01) {
        name.push_str(",华东分部");
    } else if rng.chance(0.01) {
        name = format!("\"{}\"{}", pick(rng, &WORDS), name);
    }
    let (status, churn) = match p.churn {
        Some(c) => ("流失", c.to_string()),
        None => ("正常", String::new()),
    };
    let _ = writeln!(
        out,
        "{id},{},{},{},{},{},{status},{churn}",
        csv_quote(&name),
        pick(rng, &INDUSTRIES),
        pick(rng, &REGIONS),
        pick(rng, &OWNERS),
        p.signup
    );
}

#[allow(clippy::too_many_arguments)]
fn invoice_rows(
    out: &mut Export,
    rng: &mut ChaCha8Rng,
    ids: &mut Ids,
    id: &str,
    p: &Profile,
    active: (NaiveDate, NaiveDate),
    end: NaiveDate,
    faults: &Faults,
    index: usize,
    line: &mut String,
) -> Result<()> {
    let days = p.event_days(rng, active, p.invoices_per_month, 0.2);
    for (n, day) in days.iter().enumerate() {
        ids.invoice += 1;
        let decline = p.decline(*day);
        let terms = if rng.chance(0.7) { 30 } else { 60 };
        let due = *day + Duration::days(terms);
        let paid = if rng.chance(0.02 + 0.3 * decline) {
            None
        } else if rng.chance(0.8 - 0.6 * decline) {
            Some(due - Duration::days(rng.days(0, terms / 2)))
        } else {
            Some(due + Duration::days(rng.exponential(8.0 + 60.0 * decline).ceil() as i64))
        };
        let paid = paid
            .filter(|d| *d <= end)
            .map(|d| d.to_string())
            .unwrap_or_default();
        let amount = thousands(p.deal_size * rng.normal(0.0, 0.3).exp());
        let product =
            PRODUCT_LINES[p.product_lines[rng.days(0, p.product_lines.len() as i64 - 1) as usize]];
        line.clear();
        let _ = writeln!(
            line,
            "INV{:09},{id},{day},{due},{paid},\"{amount}\",{product}",
            ids.invoice
        );
        out.row(line)?;
        if n == 0 {
            // The deliberate faults ride on the customer's first invoice.
            let bad = [
                (
                    0,
                    format!(
                        "INV{:09}X,{id},2025-13-45,{due},,\"{amount}\",{product}\n",
                        ids.invoice
                    ),
                ),
                (
                    1,
                    format!("INV{:09}Y,{id},{day},{due},,N/A,{product}\n", ids.invoice),
                ),
                (
                    2,
                    format!(
                        "INV{:09}Z,,{day},{due},,\"{amount}\",{product}\n",
                        ids.invoice
                    ),
                ),
                (
                    3,
                    format!(
                        "INV{:09},{id},{day},{due},{paid},\"{amount}\",{product}\n",
                        ids.invoice
                    ),
                ),
            ];
            for (kind, row) in bad {
                if faults.has(index, kind) {
                    out.row(&row)?;
                }
            }
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn contract_rows(
    out: &mut Export,
    rng: &mut ChaCha8Rng,
    ids: &mut Ids,
    id: &str,
    p: &Profile,
    start: NaiveDate,
    end: NaiveDate,
    line: &mut String,
) -> Result<()> {
    let mut from = p.signup;
    loop {
        let months = if rng.chance(0.6) { 12 } else { 24 };
        let to = from
            .checked_add_months(chrono::Months::new(months))
            .expect("date in range")
            - Duration::days(1);
        if to >= start {
            ids.contract += 1;
            let value =
                p.deal_size * p.invoices_per_month * months as f64 * rng.normal(1.0, 0.1).max(0.5);
            line.clear();
            let _ = write!(line, "K{:08},{id},{from},{to},{value:.2}\r\n", ids.contract);
            out.row(line)?;
        }
        let renews = p.churn.is_none_or(|c| to < c - Duration::days(120));
        from = to + Duration::days(1);
        if !renews || from > end {
            return Ok(());
        }
    }
}

fn activity_rows(
    out: &mut Export,
    rng: &mut ChaCha8Rng,
    id: &str,
    p: &Profile,
    active: (NaiveDate, NaiveDate),
    fault: bool,
    line: &mut String,
) -> Result<()> {
    for (n, day) in p
        .event_days(rng, active, p.touches_per_month, 0.15)
        .into_iter()
        .enumerate()
    {
        let decline = p.decline(day);
        let level = if rng.chance(0.3 * (1.0 - decline)) {
            "executive"
        } else if rng.chance(0.55) {
            "manager"
        } else {
            "staff"
        };
        let hours = (rng.exponential(6.0 + 40.0 * decline) * 10.0).round() / 10.0;
        let kind = pick(rng, &ACTIVITY_TYPES);
        let ts = if fault && n == 0 {
            "yesterday".to_string()
        } else {
            day.to_string()
        };
        line.clear();
        let _ = writeln!(
            line,
            "{{\"account\":\"{id}\",\"ts\":\"{ts}\",\"type\":\"{kind}\",\"response_hours\":{hours:.1},\"contact_level\":\"{level}\"}}"
        );
        out.row(line)?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn ticket_rows(
    out: &mut Export,
    rng: &mut ChaCha8Rng,
    ids: &mut Ids,
    id: &str,
    p: &Profile,
    active: (NaiveDate, NaiveDate),
    end: NaiveDate,
    line: &mut String,
) -> Result<()> {
    // Tickets do not thin out with the decline: complaints rise instead.
    for day in p.event_days(rng, active, 1.5 / 36.0 * (1.0 + p.invoices_per_month), 1.0) {
        ids.ticket += 1;
        let decline = p.decline(day);
        let kind = if rng.chance(0.2 + 0.6 * decline) {
            "complaint"
        } else if rng.chance(0.3 * (1.0 - decline)) {
            "praise"
        } else {
            "request"
        };
        let severity = match (kind, rng.unit() + decline * 0.5) {
            ("complaint", x) if x > 0.9 => "critical",
            ("complaint", x) if x > 0.5 => "high",
            (_, x) if x > 0.6 => "medium",
            _ => "low",
        };
        let resolved = day + Duration::days(rng.days(1, 20));
        let open = rng.chance(0.1) || resolved > end;
        let resolved = if open {
            String::new()
        } else {
            resolved.format("%Y/%m/%d").to_string()
        };
        line.clear();
        let _ = writeln!(
            line,
            "T{:08};{id};{};{severity};{kind};{};{resolved}",
            ids.ticket,
            day.format("%Y/%m/%d"),
            csv_quote(pick(rng, &SUBJECTS))
        );
        out.row(line)?;
    }
    Ok(())
}

fn survey_rows(
    out: &mut Export,
    rng: &mut ChaCha8Rng,
    id: &str,
    p: &Profile,
    active: (NaiveDate, NaiveDate),
    fault: bool,
    line: &mut String,
) -> Result<()> {
    for (n, day) in p
        .event_days(rng, active, 0.5 / 36.0 * 1.2, 1.0)
        .into_iter()
        .enumerate()
    {
        let decline = p.decline(day);
        let nps = rng
            .normal(8.3 - 6.0 * decline, 1.3)
            .round()
            .clamp(0.0, 10.0) as i64;
        let csat = if rng.chance(0.3) {
            String::new()
        } else {
            (rng.normal(4.2 - 2.5 * decline, 0.7).round().clamp(1.0, 5.0) as i64).to_string()
        };
        line.clear();
        let _ = writeln!(
            line,
            "{id},{day},{},{csat}",
            if fault && n == 0 { 11 } else { nps }
        );
        out.row(line)?;
    }
    Ok(())
}

fn assessment_rows(
    out: &mut Export,
    rng: &mut ChaCha8Rng,
    id: &str,
    p: &Profile,
    (from, to): (NaiveDate, NaiveDate),
    fault: bool,
    line: &mut String,
) -> Result<()> {
    if !(fault || rng.chance(0.3)) {
        return Ok(());
    }
    let span = (to - from).num_days();
    let mut dates: Vec<NaiveDate> = (0..rng.days(1, 2))
        .map(|_| from + Duration::days(rng.days(0, span)))
        .collect();
    dates.sort();
    for (n, day) in dates.into_iter().enumerate() {
        let decline = p.decline(day);
        for (d, dimension) in ASSESSED.iter().enumerate() {
            let level = rng
                .normal(1.8 - 2.5 * decline, 0.8)
                .round()
                .clamp(-1.0, 3.0) as i64;
            let level = if fault && n == 0 && d == 0 { 5 } else { level };
            line.clear();
            let _ = writeln!(line, "{id},{day},{dimension},{level}");
            out.row(line)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generate_into(dir: &Path, customers: usize, seed: u64) -> SampleSummary {
        let end = NaiveDate::from_ymd_opt(2026, 6, 30).unwrap();
        generate(&SampleOptions {
            customers,
            seed,
            out: dir.to_path_buf(),
            end,
        })
        .unwrap()
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(1234.5), "1,234.50");
        assert_eq!(thousands(999.999), "1,000.00");
        assert_eq!(thousands(12.0), "12.00");
        assert_eq!(thousands(1234567.891), "1,234,567.89");
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let (a, b, c) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        let files = generate_into(a.path(), 300, 42).files;
        generate_into(b.path(), 300, 42);
        generate_into(c.path(), 300, 43);
        for (path, _) in &files {
            let rel = path.strip_prefix(a.path()).unwrap();
            let bytes = std::fs::read(path).unwrap();
            assert_eq!(
                bytes,
                std::fs::read(b.path().join(rel)).unwrap(),
                "{}",
                rel.display()
            );
            if !rel.ends_with("relationship_assessments.csv") {
                assert_ne!(
                    bytes,
                    std::fs::read(c.path().join(rel)).unwrap(),
                    "{}",
                    rel.display()
                );
            }
        }
    }

    #[test]
    fn volumes_encodings_and_faults() {
        let dir = tempfile::tempdir().unwrap();
        let summary = generate_into(dir.path(), 2000, 42);
        let rows = |name: &str| {
            summary
                .files
                .iter()
                .find(|(p, _)| p.ends_with(name))
                .unwrap()
                .1 as f64
                / 2000.0
        };
        assert!(
            (12.0..30.0).contains(&rows("invoices.csv")),
            "invoices per customer {}",
            rows("invoices.csv")
        );
        assert!(
            (6.0..20.0).contains(&rows("activities.ndjson")),
            "activities {}",
            rows("activities.ndjson")
        );
        assert!(
            (0.3..0.9).contains(&rows("nps_responses.csv")),
            "surveys {}",
            rows("nps_responses.csv")
        );
        assert_eq!(rows("accounts.csv"), 1.0);

        let gbk = std::fs::read(dir.path().join("crm/accounts.csv")).unwrap();
        let (text, _, errors) = encoding_rs::GBK.decode(&gbk);
        assert!(!errors && text.starts_with("客户编号,"));
        let contracts = std::fs::read(dir.path().join("finance/contracts.csv")).unwrap();
        assert!(
            contracts.starts_with(b"\xEF\xBB\xBFcontract_id")
                && contracts.windows(2).any(|w| w == b"\r\n")
        );

        let invoices = std::fs::read_to_string(dir.path().join("finance/invoices.csv")).unwrap();
        let k = 1 + 2000 / 2000;
        assert_eq!(invoices.matches("2025-13-45").count(), k);
        assert_eq!(invoices.matches(",N/A,").count(), k);
        assert!(invoices
            .lines()
            .skip(1)
            .all(|l| l.contains(",\"") || l.contains(",N/A,")));
        let nps = std::fs::read_to_string(dir.path().join("survey/nps_responses.csv")).unwrap();
        assert_eq!(
            nps.lines()
                .filter(|l| l.split(',').nth(2) == Some("11"))
                .count(),
            k
        );
    }

    #[test]
    fn nothing_after_the_end_and_churners_decline_before_leaving() {
        let dir = tempfile::tempdir().unwrap();
        generate_into(dir.path(), 1500, 7);
        let accounts = std::fs::read(dir.path().join("crm/accounts.csv")).unwrap();
        let (accounts, _, _) = encoding_rs::GBK.decode(&accounts);
        let churned: std::collections::BTreeMap<String, String> = accounts
            .lines()
            .skip(1)
            .filter_map(|l| {
                let f: Vec<&str> = l.rsplitn(3, ',').collect();
                (!f[0].is_empty()).then(|| (l[..8].to_string(), f[0].to_string()))
            })
            .collect();
        let share = churned.len() as f64 / 1500.0;
        assert!((0.15..0.35).contains(&share), "churned share {share}");

        let invoices = std::fs::read_to_string(dir.path().join("finance/invoices.csv")).unwrap();
        for line in invoices
            .lines()
            .skip(1)
            .filter(|l| !l.contains("2025-13-45"))
        {
            let f: Vec<&str> = line.split(',').collect();
            assert!(f[2] <= "2026-06-30" && f[4] <= "2026-06-30", "{line}");
            if let Some(churn) = churned.get(f[1]) {
                assert!(f[2] <= churn.as_str(), "invoice after churn: {line}");
            }
        }
        let nps = std::fs::read_to_string(dir.path().join("survey/nps_responses.csv")).unwrap();
        let (mut leaving, mut staying) = (Vec::new(), Vec::new());
        for line in nps.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let score: f64 = f[2].parse().unwrap();
            let day: NaiveDate = f[1].parse().unwrap();
            match churned.get(f[0]).map(|c| c.parse::<NaiveDate>().unwrap()) {
                Some(c) if day <= c && day > c - Duration::days(180) && score <= 10.0 => {
                    leaving.push(score)
                }
                None if score <= 10.0 => staying.push(score),
                _ => {}
            }
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        assert!(
            mean(&leaving) + 1.0 < mean(&staying),
            "{} vs {}",
            mean(&leaving),
            mean(&staying)
        );
    }
}
