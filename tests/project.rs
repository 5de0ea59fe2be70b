//! vitals outside its repository, as `cargo install` leaves it: `vitals init` writes a
//! project that runs at once from an empty folder, a pipeline without `sql_dir` runs the
//! models built into the binary, and `--version` and shell completions work.

mod common;

use std::process::{Command, Output};

use common::*;

fn vitals_in(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vitals")).args(args).current_dir(dir).output().unwrap()
}

#[test]
fn init_then_run_in_an_empty_folder_and_without_sql_dir_the_built_in_models() {
    let dir = tempfile::tempdir().unwrap();
    let text = stdout(&vitals_in(dir.path(), &["init", "project"]));
    assert!(text.contains("next: vitals run project/pipeline.toml"), "{text}");
    stdout(&vitals_in(dir.path(), &["run", "--quiet", "project/pipeline.toml"]));
    let project = dir.path().join("project");
    let health = read_table(&project.join("out"), "customer_health", "2026-06-30");
    assert_eq!(health.height(), 2000, "every sample customer is scored");
    let checked = stdout(&vitals_in(dir.path(), &["check", "project/pipeline.toml"]));
    assert!(checked.contains("project/sql/customer_health.sql plans"), "the project's copy is what runs: {checked}");

    // Without sql_dir (and without the copy), the models built in give the same tables.
    let pipeline = project.join("pipeline.toml");
    let text = std::fs::read_to_string(&pipeline).unwrap();
    let line = text.lines().find(|l| l.starts_with("sql_dir")).unwrap();
    std::fs::write(&pipeline, text.replace(line, "")).unwrap();
    std::fs::remove_dir_all(project.join("sql")).unwrap();
    stdout(&vitals_in(dir.path(), &["run", "--quiet", "project/pipeline.toml", "--out", "built_in"]));
    for table in ["customer_health", "kpis", "alerts"] {
        let file = |out: &str| {
            std::fs::read(vitals::layout::OutputLayout::new(dir.path().join(out)).table_file(table, day("2026-06-30")))
                .unwrap()
        };
        assert!(file("project/out") == file("built_in"), "{table} differs with the built-in models");
    }

    let again = vitals_in(dir.path(), &["init", "project"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("is not empty"));
}

#[test]
fn the_version_names_the_engines_and_completions_are_printed() {
    let version = stdout(&vitals().arg("--version").output().unwrap());
    for (krate, shown) in [("datafusion", "DataFusion"), ("polars", "polars"), ("linfa", "linfa")] {
        let locked = locked_version(krate);
        assert!(version.contains(&format!("{shown} {locked}")), "{krate} {locked} not in: {version}");
    }
    let bash = stdout(&vitals().args(["completions", "bash"]).output().unwrap());
    assert!(bash.contains("_vitals()") && bash.contains("init"), "{bash}");
}
