//! The analyst's side: SQL over the published and bronze tables with `vitals query`.

mod common;

use std::process::{Command, Output};

use common::*;
use polars::prelude::SerReader;

fn vitals(args: &[&str], out: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vitals")).args(args).arg("--out").arg(out).current_dir(repo()).output().unwrap()
}

#[test]
fn query_prints_writes_csv_and_parquet_and_names_the_tables_when_sql_is_wrong() {
    let out = tempfile::tempdir().unwrap();
    assert!(vitals(&["run", "pipelines/sample.toml", "--quiet"], out.path()).status.success());

    let sql = "SELECT health_tier, COUNT(*) AS customers FROM customer_health GROUP BY health_tier ORDER BY 1";
    let printed = vitals(&["query", "pipelines/sample.toml", sql], out.path());
    let text = String::from_utf8_lossy(&printed.stdout);
    assert!(printed.status.success(), "{}", String::from_utf8_lossy(&printed.stderr));
    for tier in ["at_risk", "healthy", "lost", "sub_healthy"] {
        assert!(text.contains(tier), "{text}");
    }
    assert!(text.contains("4 rows"), "{text}");

    // Bronze tables are there too, and a CSV result has a header and one line per row.
    let csv = out.path().join("invoices.csv");
    let sql = "SELECT customer_id, COUNT(*) AS invoices FROM bronze_invoices GROUP BY 1 ORDER BY 1 LIMIT 5";
    let written = vitals(&["query", "pipelines/sample.toml", sql, "--output", csv.to_str().unwrap()], out.path());
    assert!(written.status.success(), "{}", String::from_utf8_lossy(&written.stderr));
    let lines: Vec<String> = std::fs::read_to_string(&csv).unwrap().lines().map(String::from).collect();
    assert_eq!(lines.len(), 6, "{lines:?}");
    assert_eq!(lines[0], "customer_id,invoices");

    let parquet = out.path().join("alerts.parquet");
    let sql = "SELECT kind, COUNT(*) AS n FROM alerts GROUP BY kind";
    let written = vitals(&["query", "pipelines/sample.toml", sql, "--output", parquet.to_str().unwrap()], out.path());
    assert!(written.status.success(), "{}", String::from_utf8_lossy(&written.stderr));
    let f = std::fs::File::open(&parquet).unwrap();
    let alerts = polars::prelude::ParquetReader::new(f).finish().unwrap();
    assert!(alerts.height() > 0);

    let wrong = vitals(&["query", "pipelines/sample.toml", "SELECT * FROM health"], out.path());
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(stderr.contains("customer_health") && stderr.contains("bronze_invoices"), "{stderr}");
}
