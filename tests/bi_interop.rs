//! BI interoperability: two nightly runs of the sample pipeline, read back by DuckDB and
//! pyarrow the way docs/tables.md tells analysts to, and checked against that page and the
//! run manifests by `tests/bi/check_tables.py`.
//!
//! Needs python3 with the modules in `tests/requirements.txt`; without them the test fails
//! (it never skips) and says how to install them. DataFusion's listing table and polars'
//! Hive scan, the readers Rust users reach for, read the same output without Python.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, OnceLock};

use common::{manifest, repo, run_sample};
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::prelude::SessionContext;
use polars::prelude::{col, len, DataType as PolarsType, HiveOptions, LazyFrame, ScanArgsParquet, SortMultipleOptions};

const RUNS: [&str; 2] = ["2026-06-23", "2026-06-30"];
const INSTALL: &str = "pip install -r tests/requirements.txt";

fn python() -> Command {
    let mut command = Command::new("python3");
    command.current_dir(repo());
    command
}

fn text(output: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Fails, with what to do, unless python3 can import duckdb and pyarrow.
fn require_python_modules() {
    let output = python()
        .args(["-c", "import duckdb, pyarrow, pyarrow.dataset; print(duckdb.__version__, pyarrow.__version__)"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}): install Python 3.11+ and then `{INSTALL}`"));
    assert!(
        output.status.success(),
        "python3 cannot import duckdb and pyarrow: run `{INSTALL}` (from the repository root)\n{}",
        text(&output)
    );
}

/// Two nightly runs of the sample, made once for every test here.
fn published() -> &'static Path {
    static OUT: OnceLock<tempfile::TempDir> = OnceLock::new();
    OUT.get_or_init(|| {
        let out = tempfile::tempdir().unwrap();
        for as_of in RUNS {
            run_sample(out.path(), as_of);
        }
        out
    })
    .path()
}

/// The published tables of the last run and their rows per run, from the manifests.
fn rows_per_run(out: &Path) -> BTreeMap<String, BTreeMap<String, u64>> {
    let mut tables: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for as_of in RUNS {
        for (table, written) in manifest(out, as_of).tables {
            if !table.starts_with("bronze/") {
                tables.entry(table).or_default().insert(as_of.to_string(), written.rows);
            }
        }
    }
    tables
}

#[test]
fn datafusion_listing_table_reads_as_of_from_the_folders() {
    let out = published();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for (table, expected) in rows_per_run(out) {
        let counts: BTreeMap<String, u64> = runtime.block_on(async {
            let ctx = SessionContext::new();
            let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
                .with_file_extension(".parquet")
                .with_table_partition_cols(vec![("as_of".to_string(), DataType::Date32)]);
            let url = ListingTableUrl::parse(format!("{}/", out.join(&table).display())).unwrap();
            let config = ListingTableConfig::new(url).with_listing_options(options);
            let config = config.infer_schema(&ctx.state()).await.unwrap_or_else(|e| panic!("{table}: {e}"));
            ctx.register_table("t", Arc::new(ListingTable::try_new(config).unwrap())).unwrap();
            let sql = "SELECT CAST(as_of AS VARCHAR) AS as_of, COUNT(*) AS n FROM t GROUP BY as_of";
            let batches: Vec<RecordBatch> = ctx
                .sql(sql)
                .await
                .unwrap()
                .collect()
                .await
                .unwrap_or_else(|e| panic!("{table}: DataFusion cannot read it: {e}"));
            let mut counts = BTreeMap::new();
            for b in &batches {
                let dates = datafusion::arrow::compute::cast(b.column(0), &DataType::Utf8).unwrap();
                for (d, n) in dates.as_string::<i32>().iter().zip(b.column(1).as_primitive::<Int64Type>().iter()) {
                    counts.insert(d.unwrap().to_string(), n.unwrap() as u64);
                }
            }
            counts
        });
        let expected: BTreeMap<String, u64> = expected.into_iter().filter(|(_, n)| *n > 0).collect();
        assert_eq!(counts, expected, "{table}: rows per as_of as DataFusion reads them against the manifests");
    }
}

#[test]
fn polars_hive_scan_reads_as_of_as_a_date() {
    let out = published();
    for (table, expected) in rows_per_run(out) {
        let args = ScanArgsParquet { hive_options: HiveOptions::new_enabled(), ..Default::default() };
        let pattern = format!("{}/**/*.parquet", out.join(&table).display());
        let scan = LazyFrame::scan_parquet(pattern.as_str().into(), args).unwrap();
        let schema = scan.clone().collect_schema().unwrap_or_else(|e| panic!("{table}: {e}"));
        assert_eq!(schema.get("as_of"), Some(&PolarsType::Date), "{table}: as_of from the folders, once");
        let counts = scan
            .group_by([col("as_of")])
            .agg([len().alias("n")])
            .sort(["as_of"], SortMultipleOptions::default())
            .collect()
            .unwrap_or_else(|e| panic!("{table}: polars cannot read it: {e}"));
        let dates = counts.column("as_of").unwrap().cast(&PolarsType::String).unwrap();
        let n = counts.column("n").unwrap().cast(&PolarsType::UInt64).unwrap();
        let found: BTreeMap<String, u64> = dates
            .str()
            .unwrap()
            .iter()
            .zip(n.u64().unwrap().iter())
            .map(|(d, n)| (d.unwrap().to_string(), n.unwrap()))
            .collect();
        let expected: BTreeMap<String, u64> = expected.into_iter().filter(|(_, n)| *n > 0).collect();
        assert_eq!(found, expected, "{table}: rows per as_of as polars reads them against the manifests");
    }
}

#[test]
fn duckdb_and_pyarrow_read_every_published_table_as_documented() {
    require_python_modules();
    let out = published();
    let output = python().arg("tests/bi/check_tables.py").arg(out).output().unwrap();
    assert!(output.status.success(), "tests/bi/check_tables.py found problems:\n{}", text(&output));
    print!("{}", String::from_utf8_lossy(&output.stdout));
}
