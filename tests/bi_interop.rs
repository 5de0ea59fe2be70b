//! BI interoperability: two nightly runs of the sample pipeline, read back by DuckDB and
//! pyarrow the way docs/tables.md tells analysts to, and checked against that page and the
//! run manifests by `tests/bi/check_tables.py`.
//!
//! Needs python3 with the modules in `tests/requirements.txt`; without them the test fails
//! (it never skips) and says how to install them.

mod common;

use std::process::{Command, Output};

use common::{repo, run_sample};

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

#[test]
fn duckdb_and_pyarrow_read_every_published_table_as_documented() {
    require_python_modules();
    let out = tempfile::tempdir().unwrap();
    for as_of in RUNS {
        run_sample(out.path(), as_of);
    }
    let output = python().arg("tests/bi/check_tables.py").arg(out.path()).output().unwrap();
    assert!(output.status.success(), "tests/bi/check_tables.py found problems:\n{}", text(&output));
    print!("{}", String::from_utf8_lossy(&output.stdout));
}
