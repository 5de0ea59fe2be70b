//! Shared helpers for the integration tests: the vitals binary, tiny pipelines written
//! into a temp folder, and reading published tables back the way a user would.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::NaiveDate;
use polars::prelude::*;
use vitals::config::Pipeline;
use vitals::layout::OutputLayout;
use vitals::manifest::Manifest;
use vitals::runner::{self, RunSettings};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The version of `krate` in Cargo.lock.
pub fn locked_version(krate: &str) -> String {
    let lock = std::fs::read_to_string(repo().join("Cargo.lock")).unwrap();
    let at = lock.find(&format!("name = \"{krate}\"\nversion = \"")).unwrap();
    lock[at..].split('"').nth(3).unwrap().to_string()
}

/// The vitals binary, run from the repository root.
pub fn vitals() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vitals"));
    command.current_dir(repo());
    command
}

/// The vitals binary run with `args` and `--out out`, from the repository root.
pub fn vitals_out(args: &[&str], out: &Path) -> Output {
    vitals().args(args).arg("--out").arg(out).output().unwrap()
}

/// The stdout of a command that must have succeeded; its stderr when it did not.
pub fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "{}\n{}", output.status, String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).to_string()
}

/// The sample pipeline rewritten into `dir` with absolute paths, after `edit`.
pub fn sample_pipeline(dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("pipelines/sample.toml")).unwrap();
    let text = text.replace("\"../", &format!("\"{}/", repo().display()));
    let file = dir.join("pipeline.toml");
    std::fs::write(&file, edit(text)).unwrap();
    file
}

/// Runs the sample pipeline as of `as_of` into `out`; panics with stderr when it fails.
pub fn run_sample(out: &Path, as_of: &str) {
    let output = vitals_out(&["run", "pipelines/sample.toml", "--quiet", "--as-of", as_of], out);
    assert!(output.status.success(), "run as of {as_of}: {}", String::from_utf8_lossy(&output.stderr));
}

/// A date written YYYY-MM-DD.
pub fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// The manifest of the run as of `as_of` in `out`.
pub fn manifest(out: &Path, as_of: &str) -> Manifest {
    Manifest::read(&OutputLayout::new(out).manifest_file(day(as_of))).unwrap()
}

/// A temp folder holding export files and a pipeline file over them.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Self {
        Fixture { dir: tempfile::tempdir().unwrap() }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// Writes `pipeline.toml` with the given source sections after a [run] section that
    /// uses the repository's SQL models. The churn model is off (these pipelines test the
    /// SQL models; training it on a few rows only costs time) unless `sections` has a
    /// [churn] table, such as [`CHURN_ON`].
    pub fn pipeline(&self, sections: &str) -> PathBuf {
        let churn = if sections.contains("[churn]") { "" } else { "[churn]\nenabled = false\n" };
        let text = format!(
            "[run]\nas_of = 2026-06-30\nout = \"out\"\nsql_dir = \"{}\"\n[params]\nwindow_days = 365\n{churn}{sections}",
            repo().join("sql").display()
        );
        self.write("pipeline.toml", text)
    }

    pub fn out(&self) -> PathBuf {
        self.path("out")
    }

    pub fn run(&self, sources: &str) -> anyhow::Result<Manifest> {
        self.run_as_of(sources, "2026-06-30")
    }

    /// [`Fixture::run`] as of another date.
    pub fn run_as_of(&self, sources: &str, as_of: &str) -> anyhow::Result<Manifest> {
        let file = self.pipeline(sources);
        let pipeline = Pipeline::load(&file)?;
        let mut settings = RunSettings::resolve(&pipeline, None, None, false)?;
        settings.as_of = day(as_of);
        runner::run(&pipeline, &settings)
    }
}

/// Reads one published table partition.
pub fn read_table(out: &Path, table: &str, as_of: &str) -> DataFrame {
    let file = OutputLayout::new(out).table_file(table, day(as_of));
    let f = std::fs::File::open(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    ParquetReader::new(f).finish().unwrap()
}

pub fn strings(df: &DataFrame, column: &str) -> Vec<Option<String>> {
    df.column(column)
        .unwrap()
        .cast(&DataType::String)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.map(String::from))
        .collect()
}

pub fn ints(df: &DataFrame, column: &str) -> Vec<Option<i64>> {
    df.column(column).unwrap().cast(&DataType::Int64).unwrap().i64().unwrap().iter().collect()
}

/// The churn model on, for the fixture pipelines of tests about it.
pub const CHURN_ON: &str = "[churn]\nenabled = true\n";

/// Invoices from `invoices.csv`. In files of a few rows one bad row is a large share, so
/// the data-quality gate is open here; tests of the gate set their own.
pub const INVOICES_SECTION: &str = r#"
[sources.invoices]
path = "invoices.csv"
format = "csv"
max_reject_ratio = 1.0
"#;

/// `pipeline` with the first `drop` records of its invoice export left out, written beside
/// it as `fewer.toml` (the export as `fewer_invoices.csv`): a rerun of the same date with
/// different inputs, whose tables differ from the first run's.
pub fn with_fewer_invoices(pipeline: &Path, drop: usize) -> PathBuf {
    let text = std::fs::read_to_string(pipeline).unwrap();
    let dir = pipeline.parent().unwrap();
    let section = text.find("[sources.invoices]").unwrap();
    let start = section + text[section..].find("path = \"").unwrap() + "path = \"".len();
    let end = start + text[start..].find('"').unwrap();
    let export = std::fs::read_to_string(dir.join(&text[start..end])).unwrap();
    let lines: Vec<&str> = export.lines().collect();
    let copy = dir.join("fewer_invoices.csv");
    let kept: Vec<&str> = lines[..1].iter().chain(&lines[1 + drop..]).copied().collect();
    std::fs::write(&copy, kept.join("\n") + "\n").unwrap();
    let fewer = dir.join("fewer.toml");
    std::fs::write(&fewer, format!("{}{}{}", &text[..start], copy.display(), &text[end..])).unwrap();
    fewer
}

/// What readers show of the run as of 2026-06-30 in `out`: the rows of each published
/// table and of the invoices' bronze, the sum of the health scores (`vitals query`), and
/// one customer's history (`vitals history`).
pub fn seen_by_readers(out: &Path) -> String {
    let tables = ["customer_health", "customer_metrics", "kpis", "alerts", "rejects", "bronze_invoices"];
    let counts: Vec<String> = tables.iter().map(|t| format!("(SELECT COUNT(*) FROM {t}) AS {t}")).collect();
    let sql = format!("SELECT {}, (SELECT SUM(health_score) FROM customer_health) AS score", counts.join(", "));
    let mut seen = stdout(&vitals_out(&["query", "pipelines/sample.toml", &sql], out));
    seen.push_str(&stdout(&vitals_out(&["history", "pipelines/sample.toml", "C0000009"], out)));
    seen
}

/// Every file under `out` but those under `skip`, with its bytes, by relative path.
pub fn files_under(out: &Path, skip: &[PathBuf]) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, skip: &[PathBuf], files: &mut std::collections::BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if skip.iter().any(|p| path.starts_with(p)) {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, skip, files);
            } else {
                files.insert(path.strip_prefix(root).unwrap().to_path_buf(), std::fs::read(&path).unwrap());
            }
        }
    }
    let mut files = std::collections::BTreeMap::new();
    walk(out, out, skip, &mut files);
    files
}
