//! Bad and awkward input: every row is accounted for, file-level problems are clear errors
//! naming the file, and nothing half-written is published.

mod common;

use common::*;
use vitals::layout::OutputLayout;

const HEADER: &str = "customer_id,invoice_date,amount,invoice_id\n";

#[test]
fn a_bad_value_is_quarantined_and_the_run_succeeds() {
    let fx = Fixture::new();
    fx.write(
        "invoices.csv",
        format!("{HEADER}C1,2026-01-05,100,I1\nC2,2026-13-45,50,I2\nC3,2026-02-01,abc,I3\n,2026-02-01,10,I4\nC1,2026-03-01,20,I1\n"),
    );
    let manifest = fx.run(INVOICES_SECTION).unwrap();
    let input = &manifest.inputs[0];
    assert_eq!((input.rows_read, input.rows_accepted, input.rows_rejected), (5, 1, 4));

    let rejects = read_table(&fx.out(), "rejects", "2026-06-30");
    assert_eq!(ints(&rejects, "line"), vec![Some(3), Some(4), Some(5), Some(6)]);
    assert_eq!(
        strings(&rejects, "column"),
        ["invoice_date", "amount", "customer_id", "invoice_id"].map(|s| Some(s.to_string())).to_vec()
    );
    assert_eq!(strings(&rejects, "raw_value")[0].as_deref(), Some("2026-13-45"));
    let reasons = strings(&rejects, "reason");
    assert!(reasons[0].as_deref().unwrap().contains("not a date"), "{reasons:?}");
    assert!(reasons[2].as_deref().unwrap().contains("missing"), "{reasons:?}");
    assert!(reasons[3].as_deref().unwrap().contains("duplicate"), "{reasons:?}");
    assert_eq!(manifest.tables["rejects"].rows, 4);
}

#[test]
fn gbk_with_chinese_headers_is_decoded() {
    let fx = Fixture::new();
    let text = "客户编号,开票日期,含税金额\nC1,2026-01-05,\"1,234.50\"\n";
    let (gbk, _, _) = encoding_rs::GBK.encode(text);
    fx.write("invoices.csv", gbk);
    let section = r#"
[sources.invoices]
path = "invoices.csv"
format = "csv"
encoding = "gbk"
thousands_separator = ","
[sources.invoices.columns]
customer_id = "客户编号"
invoice_date = "开票日期"
amount = "含税金额"
"#;
    let manifest = fx.run(section).unwrap();
    assert_eq!(manifest.inputs[0].rows_accepted, 1);
    let bronze = read_table(&fx.out().join("bronze"), "invoices", "2026-06-30");
    assert_eq!(bronze.column("amount").unwrap().f64().unwrap().get(0), Some(1234.5));
}

#[test]
fn gbk_bytes_declared_as_utf8_are_a_clear_error() {
    let fx = Fixture::new();
    let (gbk, _, _) = encoding_rs::GBK.encode("customer_id,invoice_date,amount\n客户,2026-01-05,1\n");
    fx.write("invoices.csv", gbk);
    let err = format!("{:#}", fx.run(INVOICES_SECTION).unwrap_err());
    assert!(err.contains("invoices.csv") && err.contains("line 2") && err.contains("gbk"), "{err}");
    assert!(!fx.out().join("customer_health").exists());
}

#[test]
fn utf8_declared_as_gbk_is_named_not_decoded_into_nonsense() {
    let fx = Fixture::new();
    let mut csv = String::from("customer_id,invoice_date,amount,invoice_id,product_line\n");
    for i in 0..5 {
        csv.push_str(&format!("C{i},2026-05-0{},100,I{i},云服务\n", i + 1));
    }
    fx.write("invoices.csv", csv);
    let err = format!("{:#}", fx.run(&format!("{INVOICES_SECTION}encoding = \"gbk\"\n")).unwrap_err());
    assert!(err.contains("declared GBK but is UTF-8") && err.contains("line 2"), "{err}");
    assert!(err.contains("encoding = \"utf-8\""), "{err}");
}

#[test]
fn a_column_named_twice_in_the_header_is_refused_naming_both() {
    let fx = Fixture::new();
    fx.write("invoices.csv", "customer_id,invoice_date,amount,amount,invoice_id\nC1,2026-05-01,1,2,I1\n");
    let err = format!("{:#}", fx.run(INVOICES_SECTION).unwrap_err());
    assert!(err.contains("two columns named \"amount\" (columns 3 and 4)") && err.contains("invoices.csv"), "{err}");
}

#[test]
fn the_valid_repeat_of_a_rejected_row_is_accepted_and_a_true_repeat_is_not() {
    let fx = Fixture::new();
    fx.write(
        "invoices.csv",
        format!("{HEADER}C1,2026-05-01,lots,I1\nC1,2026-05-01,100.00,I1\nC2,2026-05-02,5,I2\nC2,2026-05-02,5,I2\n"),
    );
    let manifest = fx.run(INVOICES_SECTION).unwrap();
    let (input, out) = (&manifest.inputs[0], fx.out());
    assert_eq!((input.rows_read, input.rows_accepted, input.rows_rejected), (4, 2, 2));
    let rejects = read_table(&out, "rejects", "2026-06-30");
    assert_eq!(ints(&rejects, "line"), vec![Some(2), Some(5)], "the bad amount, then the true repeat");
    let reasons = strings(&rejects, "reason");
    assert!(reasons[0].as_deref().unwrap().contains("not a number"), "{reasons:?}");
    assert!(reasons[1].as_deref().unwrap().contains("duplicate invoice_id"), "{reasons:?}");
}

#[test]
fn a_row_with_more_fields_than_the_header_is_rejected_with_its_line() {
    let fx = Fixture::new();
    fx.write(
        "invoices.csv",
        format!("{HEADER}C1,2026-05-01,100,I1\nC2,2026-05-02,5,I2,extra,more\nC3,2026-05-03,7,I3,\n"),
    );
    let manifest = fx.run(INVOICES_SECTION).unwrap();
    let input = &manifest.inputs[0];
    assert_eq!(
        (input.rows_read, input.rows_accepted, input.rows_rejected),
        (3, 2, 1),
        "a trailing empty field is fine"
    );
    let rejects = read_table(&fx.out(), "rejects", "2026-06-30");
    assert_eq!(ints(&rejects, "line"), vec![Some(3)]);
    assert_eq!(strings(&rejects, "raw_value"), vec![Some("extra".to_string())]);
    assert_eq!(strings(&rejects, "reason"), vec![Some("more fields than the header's 4 columns".to_string())]);
}

#[test]
fn a_nul_byte_is_rejected_and_cr_only_line_ends_are_an_error() {
    let fx = Fixture::new();
    fx.write("invoices.csv", format!("{HEADER}C1,2026-05-01,100,I1\nC\0 2,2026-05-02,5,I2\n"));
    let manifest = fx.run(INVOICES_SECTION).unwrap();
    let input = &manifest.inputs[0];
    assert_eq!((input.rows_read, input.rows_accepted, input.rows_rejected), (2, 1, 1));
    let rejects = read_table(&fx.out(), "rejects", "2026-06-30");
    let reasons = strings(&rejects, "reason");
    assert!(reasons[0].as_deref().unwrap().contains("NUL byte"), "{reasons:?}");

    let fx = Fixture::new();
    fx.write("invoices.csv", format!("{HEADER}C1,2026-05-01,100,I1\n").replace('\n', "\r"));
    let err = format!("{:#}", fx.run(INVOICES_SECTION).unwrap_err());
    assert!(err.contains("carriage return alone") && err.contains("invoices.csv"), "{err}");
}

#[test]
fn utf8_bom_and_crlf_line_ends() {
    let fx = Fixture::new();
    fx.write("invoices.csv", "\u{feff}customer_id,invoice_date,amount\r\nC1,2026-01-05,10\r\nC2,2026-01-06,x\r\n");
    let manifest = fx.run(INVOICES_SECTION).unwrap();
    assert_eq!((manifest.inputs[0].rows_accepted, manifest.inputs[0].rows_rejected), (1, 1));
    let rejects = read_table(&fx.out(), "rejects", "2026-06-30");
    assert_eq!(ints(&rejects, "line"), vec![Some(3)]);
    let health = read_table(&fx.out(), "customer_health", "2026-06-30");
    assert_eq!(strings(&health, "customer_id"), vec![Some("C1".to_string())]);
}

#[test]
fn quoted_fields_with_newlines_and_delimiters() {
    let fx = Fixture::new();
    fx.write(
        "invoices.csv",
        "customer_id;invoice_date;amount;product_line\n\
         C1;2026-01-05;10;\"cloud; \"\"premium\"\"\nsecond line\"\n\
         C2;2026-01-06;oops;plain\n",
    );
    let section = format!("{INVOICES_SECTION}delimiter = \";\"\n");
    let manifest = fx.run(&section).unwrap();
    assert_eq!((manifest.inputs[0].rows_read, manifest.inputs[0].rows_rejected), (2, 1));
    let bronze = read_table(&fx.out().join("bronze"), "invoices", "2026-06-30");
    assert_eq!(strings(&bronze, "product_line")[0].as_deref(), Some("cloud; \"premium\"\nsecond line"));
    let rejects = read_table(&fx.out(), "rejects", "2026-06-30");
    assert_eq!(ints(&rejects, "line"), vec![Some(4)], "the quoted newline moves the bad row to line 4");
}

#[test]
fn a_missing_required_column_names_the_field_and_file_and_publishes_nothing() {
    let fx = Fixture::new();
    fx.write("invoices.csv", "customer_id,invoice_date\nC1,2026-01-05\n");
    let err = format!("{:#}", fx.run(INVOICES_SECTION).unwrap_err());
    assert!(err.contains("`amount`") && err.contains("invoices.csv") && err.contains("pipeline.toml"), "{err}");
    assert!(!fx.out().join("customer_health").exists());
    let out = OutputLayout::new(fx.out());
    assert!(!out.manifest_file(day("2026-06-30")).exists());
    assert!(out.failure_file(day("2026-06-30")).exists(), "the failure is recorded");
}

#[test]
fn a_mapping_to_an_absent_column_lists_the_columns_there_are() {
    let fx = Fixture::new();
    fx.write("invoices.csv", format!("{HEADER}C1,2026-01-05,1,I1\n"));
    let section = format!("{INVOICES_SECTION}[sources.invoices.columns]\namount = \"含税金额\"\n");
    let err = format!("{:#}", fx.run(&section).unwrap_err());
    assert!(err.contains("含税金额") && err.contains("customer_id, invoice_date, amount, invoice_id"), "{err}");
}

#[test]
fn an_empty_file_and_a_missing_file_are_clear_errors() {
    let fx = Fixture::new();
    fx.write("invoices.csv", "");
    let err = format!("{:#}", fx.run(INVOICES_SECTION).unwrap_err());
    assert!(err.contains("invoices.csv") && err.contains("empty"), "{err}");

    let fx = Fixture::new();
    let err = format!("{:#}", fx.run(INVOICES_SECTION).unwrap_err());
    assert!(err.contains("cannot read export file") && err.contains("invoices.csv"), "{err}");
}

#[test]
fn a_header_only_file_stops_the_run_unless_its_source_allows_no_rows() {
    let fx = Fixture::new();
    fx.write("invoices.csv", HEADER);
    let err = fx.run(INVOICES_SECTION).unwrap_err();
    assert!(err.downcast_ref::<vitals::ingest::QualityGate>().is_some(), "exit code 3: {err:#}");
    let text = format!("{err:#}");
    assert!(text.contains("source invoices read 0 rows") && text.contains("min_rows 1"), "{text}");
    assert!(!fx.out().join("customer_health").exists(), "nothing published");

    let allowed = INVOICES_SECTION.replace("max_reject_ratio = 1.0", "max_reject_ratio = 1.0\nmin_rows = 0");
    let manifest = fx.run(&allowed).unwrap();
    assert_eq!(manifest.inputs[0].rows_read, 0);
    assert_eq!(manifest.tables["customer_health"].rows, 0);
}

#[test]
fn an_export_that_lost_most_of_its_rows_since_the_previous_run_stops_the_run() {
    let fx = Fixture::new();
    let rows = |n: usize| {
        let mut csv = HEADER.to_string();
        for i in 0..n {
            csv.push_str(&format!("C{i},2026-05-{:02},100.00,I{i}\n", i % 28 + 1));
        }
        csv
    };
    fx.write("invoices.csv", rows(40));
    let week = |as_of: &str, section: &str| fx.run_as_of(section, as_of);
    week("2026-06-23", INVOICES_SECTION).unwrap();
    fx.write("invoices.csv", rows(15));
    let err = week("2026-06-30", INVOICES_SECTION).unwrap_err();
    assert!(err.downcast_ref::<vitals::ingest::QualityGate>().is_some(), "exit code 3: {err:#}");
    let text = format!("{err:#}");
    assert!(text.contains("read 15 rows") && text.contains("against 40 in the run as of 2026-06-23"), "{text}");
    assert!(text.contains("max_row_drop 0.5"), "{text}");

    let relaxed = INVOICES_SECTION.replace("max_reject_ratio = 1.0", "max_reject_ratio = 1.0\nmax_row_drop = 0.7");
    week("2026-06-30", &relaxed).unwrap();
}

#[test]
fn range_rules_on_surveys_and_assessments() {
    let fx = Fixture::new();
    fx.write("invoices.csv", format!("{HEADER}C1,2026-01-05,1,I1\n"));
    fx.write("surveys.ndjson", "{\"customer_id\":\"C1\",\"response_date\":\"2026-01-01\",\"nps\":11}\n{\"customer_id\":\"C1\",\"response_date\":\"2026-02-01\",\"nps\":9,\"csat\":4}\n");
    fx.write("levels.csv", "customer_id,assessed_date,dimension,level\nC1,2026-01-01,guidance,-1\nC1,2026-01-01,acceptance,5\nC1,2026-01-01,participation,1.5\n");
    let section = format!(
        "{INVOICES_SECTION}\n[sources.surveys]\npath = \"surveys.ndjson\"\nformat = \"ndjson\"\nmax_reject_ratio = 1.0\n\
         [sources.relationship_assessments]\npath = \"levels.csv\"\nformat = \"csv\"\nmax_reject_ratio = 1.0\n"
    );
    let manifest = fx.run(&section).unwrap();
    let by_source = |s: &str| manifest.inputs.iter().find(|i| i.source == s).unwrap().clone();
    assert_eq!((by_source("surveys").rows_accepted, by_source("surveys").rows_rejected), (1, 1));
    let levels = by_source("relationship_assessments");
    assert_eq!((levels.rows_accepted, levels.rows_rejected), (1, 2));
    let rejects = read_table(&fx.out(), "rejects", "2026-06-30");
    let reasons = strings(&rejects, "reason");
    assert!(
        reasons.iter().any(|r| r.as_deref().unwrap().contains("nps must be a whole number from 0 to 10")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.as_deref().unwrap().contains("level must be a whole number from -1 to 3")),
        "{reasons:?}"
    );
}

#[test]
fn parquet_exports_with_typed_columns_are_read() {
    use polars::prelude::*;
    let fx = Fixture::new();
    let mut df = df!(
        "customer_id" => ["C1", "C2"],
        "invoice_date" => [chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(), chrono::NaiveDate::from_ymd_opt(2026, 7, 5).unwrap()],
        "amount" => [10.0, 20.0],
    )
    .unwrap();
    let file = std::fs::File::create(fx.path("invoices.parquet")).unwrap();
    ParquetWriter::new(file).finish(&mut df).unwrap();
    let manifest = fx.run("[sources.invoices]\npath = \"invoices.parquet\"\nformat = \"parquet\"\n").unwrap();
    assert_eq!(manifest.inputs[0].rows_accepted, 2);
    let health = read_table(&fx.out(), "customer_health", "2026-06-30");
    assert_eq!(strings(&health, "customer_id"), vec![Some("C1".to_string())], "C2's only invoice is after as_of");
}

#[test]
fn dates_no_export_means_are_rejected_with_a_reason() {
    let fx = Fixture::new();
    fx.write(
        "invoices.csv",
        format!("{HEADER}C1,2026-01-05,100,I1\nC2,9999-12-31,50,I2\nC3,0001-01-01,70,I3\nC4,2199-12-31,10,I4\n"),
    );
    let manifest = fx.run(INVOICES_SECTION).unwrap();
    let input = &manifest.inputs[0];
    assert_eq!((input.rows_read, input.rows_accepted, input.rows_rejected), (4, 2, 2));
    let rejects = read_table(&fx.out(), "rejects", "2026-06-30");
    assert_eq!(ints(&rejects, "line"), vec![Some(3), Some(4)]);
    assert_eq!(strings(&rejects, "raw_value"), vec![Some("9999-12-31".to_string()), Some("0001-01-01".to_string())]);
    for reason in strings(&rejects, "reason") {
        assert!(reason.as_deref().unwrap().contains("outside 1900-01-01 to 2199-12-31"), "{reason:?}");
    }
}

#[test]
fn a_stale_export_stops_the_run_and_a_repeated_or_much_changed_one_is_a_warning() {
    let fx = Fixture::new();
    let rows = |n: usize, month: u32| {
        let mut csv = HEADER.to_string();
        for i in 0..n {
            csv.push_str(&format!("C{i},2026-{month:02}-{:02},100.00,I{i}\n", i % 28 + 1));
        }
        csv
    };
    let week = |as_of: &str, section: &str| fx.run_as_of(section, as_of);
    let fresh = format!("{INVOICES_SECTION}max_age_days = 30\nwarn_age_days = 7\n");

    // Invoices up to 2026-05-28, scored as of 2026-06-30: 33 days old.
    fx.write("invoices.csv", rows(40, 5));
    let err = week("2026-06-30", &fresh).unwrap_err();
    assert!(err.downcast_ref::<vitals::ingest::QualityGate>().is_some(), "exit code 3: {err:#}");
    let text = format!("{err:#}");
    assert!(text.contains("newest invoice_date is 2026-05-28, 33 days before the run date 2026-06-30"), "{text}");
    assert!(text.contains("max_age_days 30") && text.contains("Nothing was published"), "{text}");
    assert!(!OutputLayout::new(fx.out()).manifest_file(day("2026-06-30")).exists());

    // 12 days old: a warning, in the manifest.
    let first = week("2026-06-09", &fresh).unwrap();
    assert!(first.warnings.iter().any(|w| w.contains("12 days before the run date")), "{:?}", first.warnings);
    assert_eq!(first.inputs[0].newest_event, Some(day("2026-05-28")));

    // The same file a week later, then 60 % more rows: warnings naming the previous run.
    let repeated = week("2026-06-16", INVOICES_SECTION).unwrap();
    assert!(
        repeated.warnings.iter().any(|w| w.contains("byte-identical") && w.contains("2026-06-09")),
        "{:?}",
        repeated.warnings
    );
    fx.write("invoices.csv", rows(64, 6));
    let grown = week("2026-06-30", INVOICES_SECTION).unwrap();
    assert!(grown.warnings.iter().any(|w| w.contains("64 rows, +60 % against 40")), "{:?}", grown.warnings);
    assert!(!grown.warnings.iter().any(|w| w.contains("byte-identical")), "{:?}", grown.warnings);
}

#[test]
fn categorical_spellings_are_folded_and_mapped_and_the_unknown_ones_reported() {
    let fx = Fixture::new();
    fx.write("invoices.csv", "customer_id,invoice_date,amount\nC1,2026-06-01,10\nC2,2026-06-01,10\nC3,2026-06-01,10\n");
    fx.write(
        "tickets.csv",
        "customer_id,opened_date,severity,kind\n\
         C1,2026-06-20,P1,投诉\n\
         C2,2026-06-20,HIGH ,Complaint \n\
         C3,2026-06-20,low,Beschwerde\n\
         C3,2026-06-21,low,beschwerde\n",
    );
    let sources = |extra: &str| {
        format!(
            "[sources.invoices]\npath = \"invoices.csv\"\nformat = \"csv\"\n\
             [sources.tickets]\npath = \"tickets.csv\"\nformat = \"csv\"\n\
             [sources.tickets.values.kind]\n\"投诉\" = \"complaint\"\n{extra}\
             [sources.tickets.values.severity]\np1 = \"critical\"\n"
        )
    };
    let manifest = fx.run(&sources("")).unwrap();
    let tickets = read_table(&fx.out(), "bronze/tickets", "2026-06-30");
    let some = |v: &[&str]| v.iter().map(|s| Some(s.to_string())).collect::<Vec<_>>();
    assert_eq!(strings(&tickets, "kind"), some(&["complaint", "complaint", "beschwerde", "beschwerde"]));
    assert_eq!(strings(&tickets, "severity"), some(&["critical", "high", "low", "low"]));
    let report = manifest.inputs.iter().find(|r| r.source == "tickets").unwrap();
    assert_eq!(report.rows_read, 4, "a value no map names is kept, not rejected");
    let kind = &report.unmapped["kind"];
    assert_eq!((kind.rows, kind.values.get("beschwerde")), (2, Some(&2)), "{:?}", report.unmapped);
    assert!(!report.unmapped.contains_key("severity"), "{:?}", report.unmapped);
    let warned = manifest.warnings.iter().find(|w| w.contains("beschwerde")).expect("a warning names the value");
    assert!(
        warned.contains("[sources.tickets.values.kind]") && warned.contains("complaint, praise, request"),
        "{warned}"
    );

    let check = |pipeline: &std::path::Path| {
        String::from_utf8_lossy(&vitals().arg("check").arg(pipeline).output().unwrap().stdout).to_string()
    };
    let shown = check(&fx.path("pipeline.toml"));
    assert!(shown.contains("WARN") && shown.contains("\"beschwerde\" (2)"), "{shown}");
    fx.pipeline(&sources("Beschwerde = \"complaint\"\n"));
    let mapped_now = check(&fx.path("pipeline.toml"));
    assert!(!mapped_now.contains("WARN") && mapped_now.contains("every categorical value mapped"), "{mapped_now}");
}

/// An invoices workbook as finance systems write them: a title row, date cells, bare serial
/// numbers and text dates, amounts as numbers and as text with a currency sign or unit.
fn invoices_workbook(fx: &Fixture) {
    use chrono::Datelike;
    use vitals::sample_data::workbook::{serial, Cell, Workbook};
    let day = |d: &str| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap().num_days_from_ce();
    let header: &[&str] = &["customer_id", "invoice_date", "amount", "invoice_id"];
    let mut book =
        Workbook::create(fx.dir.path(), "invoices.xlsx", "Invoices", &[&["Finance export, June"], header]).unwrap();
    let rows = [
        [Cell::Text("C1"), Cell::Date(day("2026-01-05")), Cell::Text("¥1,234.50"), Cell::Text("I1")],
        [Cell::Text("C2"), Cell::Number(f64::from(serial(day("2026-02-01")))), Cell::Number(99.5), Cell::Text("I2")],
        [Cell::Text("C3"), Cell::Text("2026-03-01"), Cell::Text("1234.5元"), Cell::Text("I3")],
        [Cell::Empty, Cell::Empty, Cell::Empty, Cell::Empty],
        [Cell::Text("C4"), Cell::Text("2026-13-45"), Cell::Number(10.0), Cell::Text("I4")],
        [Cell::Text("C5"), Cell::Date(day("2026-04-01")), Cell::Text("about 5"), Cell::Text("I5")],
    ];
    for row in &rows {
        book.write(row).unwrap();
    }
    book.finish().unwrap();
}

const WORKBOOK_SECTION: &str = r#"
[sources.invoices]
path = "invoices.xlsx"
format = "xlsx"
sheet = "Invoices"
header_row = 2
thousands_separator = ","
currency_symbols = ["¥", "元"]
max_reject_ratio = 1.0
"#;

#[test]
fn a_workbook_reads_dates_of_every_kind_and_amounts_with_currency_and_rejects_name_sheet_and_row() {
    let fx = Fixture::new();
    invoices_workbook(&fx);
    let manifest = fx.run(WORKBOOK_SECTION).unwrap();
    let input = &manifest.inputs[0];
    // The blank row is no record; the title and header rows are none either.
    assert_eq!((input.rows_read, input.rows_accepted, input.rows_rejected), (5, 3, 2));
    let bronze = read_table(&fx.out().join("bronze"), "invoices", "2026-06-30");
    let amounts: Vec<Option<f64>> = bronze.column("amount").unwrap().f64().unwrap().iter().collect();
    assert_eq!(amounts, [Some(1234.5), Some(99.5), Some(1234.5)]);
    let dates = bronze.column("invoice_date").unwrap().cast(&polars::prelude::DataType::String).unwrap();
    let dates: Vec<Option<&str>> = dates.str().unwrap().iter().collect();
    assert_eq!(dates, [Some("2026-01-05"), Some("2026-02-01"), Some("2026-03-01")]);

    let rejects = read_table(&fx.out(), "rejects", "2026-06-30");
    assert_eq!(ints(&rejects, "line"), [Some(7), Some(8)], "sheet rows as Excel numbers them");
    assert_eq!(strings(&rejects, "sheet"), [Some("Invoices".to_string()), Some("Invoices".to_string())]);
    assert!(strings(&rejects, "file")[0].as_deref().unwrap().ends_with("invoices.xlsx"));
    assert_eq!(strings(&rejects, "raw_value"), [Some("2026-13-45".to_string()), Some("about 5".to_string())]);
    let reasons = strings(&rejects, "reason");
    assert!(reasons[1].as_deref().unwrap().contains("currency symbols ¥ 元"), "{reasons:?}");
}

#[test]
fn a_workbook_without_the_sheet_or_that_is_no_workbook_is_a_clear_error() {
    let fx = Fixture::new();
    invoices_workbook(&fx);
    let missing = fx.run(&WORKBOOK_SECTION.replace("sheet = \"Invoices\"", "sheet = \"Sheet1\"")).unwrap_err();
    let said = format!("{missing:#}");
    assert!(said.contains("has no sheet \"Sheet1\"; its sheets are \"Invoices\""), "{said}");
    let no_header = fx.run(&WORKBOOK_SECTION.replace("header_row = 2", "header_row = 9")).unwrap_err();
    let said = format!("{no_header:#}");
    assert!(said.contains("has no column names in row 9"), "{said}");
    // Without currency_symbols, "¥1,234.50" is no number: rejected, not misread.
    let manifest = fx.run(&WORKBOOK_SECTION.replace("currency_symbols = [\"¥\", \"元\"]\n", "")).unwrap();
    assert_eq!((manifest.inputs[0].rows_accepted, manifest.inputs[0].rows_rejected), (1, 4));

    fx.write("invoices.xlsx", format!("{HEADER}C1,2026-01-05,100,I1\n"));
    let said = format!("{:#}", fx.run(WORKBOOK_SECTION).unwrap_err());
    assert!(said.contains("cannot read export file") && said.contains("as a workbook"), "{said}");
    let csv_with_sheet = fx.run(&WORKBOOK_SECTION.replace("format = \"xlsx\"", "format = \"csv\"")).unwrap_err();
    assert!(format!("{csv_with_sheet:#}").contains("sheet: only a workbook has one"), "{csv_with_sheet:#}");
}
