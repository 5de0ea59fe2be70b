//! The analyst's side: `vitals query` over the published and bronze tables, `vitals score`
//! and `vitals diff` after a rule change, and `vitals check` before a run.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::*;
use polars::prelude::SerReader;
use vitals::canonical::HEALTH;
use vitals::layout::OutputLayout;

use common::vitals_out as vitals;

/// One nightly run of the sample pipeline, shared by the tests that only read it.
fn published() -> &'static Path {
    static OUT: OnceLock<PathBuf> = OnceLock::new();
    OUT.get_or_init(|| {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("analyst-out");
        let _ = std::fs::remove_dir_all(&out);
        stdout(&vitals(&["run", "pipelines/sample.toml", "--quiet"], &out));
        out
    })
}

#[test]
fn query_prints_writes_csv_and_parquet_and_names_the_tables_when_sql_is_wrong() {
    let (out, files) = (published(), tempfile::tempdir().unwrap());

    let sql = "SELECT health_tier, COUNT(*) AS customers FROM customer_health GROUP BY health_tier ORDER BY 1";
    let printed = vitals(&["query", "pipelines/sample.toml", sql], out);
    let text = String::from_utf8_lossy(&printed.stdout);
    assert!(printed.status.success(), "{}", String::from_utf8_lossy(&printed.stderr));
    for tier in ["at_risk", "healthy", "lost", "sub_healthy"] {
        assert!(text.contains(tier), "{text}");
    }
    assert!(text.contains("4 rows"), "{text}");

    // Bronze tables are there too, and a CSV result has a header and one line per row.
    let csv = files.path().join("invoices.csv");
    let sql = "SELECT customer_id, COUNT(*) AS invoices FROM bronze_invoices GROUP BY 1 ORDER BY 1 LIMIT 5";
    let written = vitals(&["query", "pipelines/sample.toml", sql, "--output", csv.to_str().unwrap()], out);
    assert!(written.status.success(), "{}", String::from_utf8_lossy(&written.stderr));
    let lines: Vec<String> = std::fs::read_to_string(&csv).unwrap().lines().map(String::from).collect();
    assert_eq!(lines.len(), 6, "{lines:?}");
    assert_eq!(lines[0], "customer_id,invoices");

    let parquet = files.path().join("alerts.parquet");
    let sql = "SELECT kind, COUNT(*) AS n FROM alerts GROUP BY kind";
    let written = vitals(&["query", "pipelines/sample.toml", sql, "--output", parquet.to_str().unwrap()], out);
    assert!(written.status.success(), "{}", String::from_utf8_lossy(&written.stderr));
    let f = std::fs::File::open(&parquet).unwrap();
    let alerts = polars::prelude::ParquetReader::new(f).finish().unwrap();
    assert!(alerts.height() > 0);

    let wrong = vitals(&["query", "pipelines/sample.toml", "SELECT * FROM health"], out);
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(stderr.contains("customer_health") && stderr.contains("bronze_invoices"), "{stderr}");
}

#[test]
fn query_only_reads_and_its_csv_cannot_carry_formulas() {
    let (out, files) = (published(), tempfile::tempdir().unwrap());
    let target = files.path().join("copied.csv");
    let writes = [
        format!("COPY (SELECT * FROM kpis) TO '{}'", target.display()),
        "INSERT INTO kpis SELECT * FROM kpis".to_string(),
        format!("CREATE EXTERNAL TABLE secrets STORED AS CSV LOCATION '{}'", files.path().display()),
        "CREATE TABLE t AS SELECT 1 AS x".to_string(),
        "CREATE VIEW v AS SELECT 1 AS x".to_string(),
        "DROP TABLE kpis".to_string(),
        "SET datafusion.execution.batch_size = 1".to_string(),
    ];
    for sql in &writes {
        let refused = vitals(&["query", "pipelines/sample.toml", sql], out);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(1), "{sql}: {stderr}");
        assert!(stderr.contains("vitals query only reads"), "{sql}: {stderr}");
    }
    assert!(!target.exists(), "COPY wrote {}", target.display());
    assert!(count(out, "SELECT COUNT(*) FROM kpis") > 0, "kpis is still there");

    let csv = files.path().join("cells.csv");
    let sql = "SELECT '=HYPERLINK(\"http://x\")' AS a, '+1' AS b, '-2+3' AS c, '@SUM(A1)' AS d, 'fine' AS e, -5 AS n";
    stdout(&vitals(&["query", "pipelines/sample.toml", sql, "--output", csv.to_str().unwrap()], out));
    let text = std::fs::read_to_string(&csv).unwrap();
    let row = text.lines().nth(1).unwrap();
    assert!(row.starts_with("\"'=HYPERLINK("), "a formula reads as text: {text}");
    assert!(row.ends_with(",'+1,'-2+3,'@SUM(A1),fine,-5"), "{text}");

    // A file that cannot be written fails the command, and says where.
    let nowhere = files.path().join("missing-folder").join("x.csv");
    let failed =
        vitals(&["query", "pipelines/sample.toml", "SELECT 1 AS x", "--output", nowhere.to_str().unwrap()], out);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("could not write") && stderr.contains("x.csv"), "{stderr}");
    assert!(!String::from_utf8_lossy(&failed.stdout).contains("rows written"));
}

#[test]
fn a_reader_that_closes_the_pipe_ends_query_quietly() {
    use std::io::Read;
    let mut child = common::vitals()
        .args(["query", "pipelines/sample.toml", "SELECT * FROM customer_metrics", "--out"])
        .arg(published())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap(); // then the pipe closes
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// The one number a `vitals query` prints.
fn count(out: &Path, sql: &str) -> i64 {
    let text = stdout(&vitals(&["query", "pipelines/sample.toml", sql], out));
    text.lines().find_map(|l| l.trim_matches(|c| c == '|' || c == ' ').parse().ok()).unwrap()
}

/// A copy of the shipped SQL models in `dir/sql`, to edit.
fn copy_of_sql(dir: &Path) -> PathBuf {
    let sql = dir.join("sql");
    std::fs::create_dir_all(&sql).unwrap();
    for entry in std::fs::read_dir(repo().join("sql")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), sql.join(entry.file_name())).unwrap();
    }
    sql
}

/// A private copy of the shared run, for tests that write drafts. Hidden entries are left
/// out: the lock, and the snapshot folders of the readers other tests run meanwhile.
fn copy_of_published() -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &to.join(entry.file_name()));
            } else {
                std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    copy(published(), dir.path());
    dir
}

#[test]
fn rescoring_with_unchanged_rules_reproduces_the_published_tables_byte_for_byte() {
    let out = copy_of_published();
    let text = stdout(&vitals(&["score", "pipelines/sample.toml"], out.path()));
    assert!(text.contains("re-scored as of 2026-06-30"), "{text}");
    let layout = OutputLayout::new(out.path());
    let model = layout.model_file(day("2026-06-30"));
    assert!(text.contains(&model.display().to_string()), "the saved model is applied: {text}");
    for table in [HEALTH, "customer_metrics", "kpis", "alerts"] {
        let draft = std::fs::read(layout.drafts().table_file(table, day("2026-06-30"))).unwrap();
        let published = std::fs::read(layout.table_file(table, day("2026-06-30"))).unwrap();
        assert!(draft == published, "draft {table} differs from the published one");
    }
    assert!(text.contains("reused") && !text.contains("  ran "), "nothing changed, nothing runs again: {text}");
    // Drafts are queryable beside the published tables, and never mistaken for one.
    let scored = count(out.path(), "SELECT COUNT(*) FROM draft_customer_health WHERE churn_risk IS NOT NULL");
    assert!(scored > 1000, "{scored} customers with a churn risk");
}

/// The lines `vitals score` prints for the models it ran again, as (model, why).
fn reran(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("  ran "))
        .map(|l| {
            let (model, why) = l.split_once(' ').unwrap();
            (model.to_string(), why.trim().to_string())
        })
        .collect()
}

#[test]
fn a_rule_change_reruns_only_the_models_it_reaches_and_the_drafts_are_what_a_run_publishes() {
    let out = copy_of_published();
    let dir = tempfile::tempdir().unwrap();
    let heavier_value =
        |t: String| t.replace("value = 0.30", "value = 0.40").replace("engagement = 0.20", "engagement = 0.10");
    let edited = sample_pipeline(dir.path(), heavier_value);
    let text = stdout(&vitals(&["score", edited.to_str().unwrap()], out.path()));
    let ran = reran(&text);
    let names: Vec<&str> = ran.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(names, ["customer_health", "kpis", "scored_health", "alerts"], "{text}");
    assert_eq!(ran[0].1, "dimension_weights changed", "{text}");

    // The same rules in a full run publish exactly the drafts.
    let full = tempfile::tempdir().unwrap();
    stdout(&vitals(&["run", edited.to_str().unwrap(), "--quiet"], full.path()));
    let (drafts, published) = (OutputLayout::new(out.path()).drafts(), OutputLayout::new(full.path()));
    for table in [HEALTH, "customer_metrics", "kpis", "alerts"] {
        let draft = std::fs::read(drafts.table_file(table, day("2026-06-30"))).unwrap();
        let run = std::fs::read(published.table_file(table, day("2026-06-30"))).unwrap();
        assert!(draft == run, "draft {table} differs from what a run with the same rules publishes");
    }
}

/// customer_health with the churn columns is the same table whether customer_health's
/// model gives its rows in customer order (the churn columns are then looked up row by
/// row) or in another (they are joined in SQL, and the rows sorted).
#[test]
fn the_published_customer_health_does_not_depend_on_the_order_its_model_gives() {
    let out = copy_of_published();
    let dir = tempfile::tempdir().unwrap();
    let sql = copy_of_sql(dir.path());
    let health = std::fs::read_to_string(sql.join("customer_health.sql")).unwrap();
    assert!(health.trim_end().ends_with("ORDER BY t.customer_id"), "the shipped model orders by customer");
    std::fs::write(sql.join("customer_health.sql"), format!("{} DESC\n", health.trim_end())).unwrap();
    let edited =
        sample_pipeline(dir.path(), |t| t.replace(&format!("{}/sql", repo().display()), &sql.display().to_string()));
    let text = stdout(&vitals(&["score", edited.to_str().unwrap()], out.path()));
    assert!(reran(&text).iter().any(|(m, _)| m == "scored_health"), "{text}");
    let layout = OutputLayout::new(out.path());
    let draft = std::fs::read(layout.drafts().table_file(HEALTH, day("2026-06-30"))).unwrap();
    let published = std::fs::read(layout.table_file(HEALTH, day("2026-06-30"))).unwrap();
    assert!(draft == published, "customer_health in reverse customer order publishes other bytes");
}

/// A re-score takes the run's result of a data test over tables the rules left as they
/// were, or over columns whose values they left as they were (a failing one too, as the
/// run found it), and runs again a test whose columns or definition changed.
#[test]
fn a_rescore_runs_again_only_the_data_tests_whose_columns_or_definition_changed() {
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let tested = |t: String, max: &str| {
        format!("{t}\n[[tests]]\ntable = \"invoices\"\ncolumn = \"amount\"\ntest = \"range\"\nmin = 0\nmax = {max}\nseverity = \"warn\"\n")
    };
    let pipeline = sample_pipeline(dirs[0].path(), |t| tested(t, "10"));
    let reweighted = sample_pipeline(dirs[1].path(), |t| {
        tested(t.replace("value = 0.30", "value = 0.40").replace("engagement = 0.20", "engagement = 0.10"), "10")
    });
    let widened = sample_pipeline(dirs[2].path(), |t| tested(t, "1e12"));
    let out = tempfile::tempdir().unwrap();
    stdout(&vitals(&["run", pipeline.to_str().unwrap(), "--quiet"], out.path()));
    let manifest = manifest(out.path(), "2026-06-30");
    let amounts = manifest.data_tests.iter().find(|r| r.test == "range_invoices_amount").unwrap();
    assert!(amounts.failed() && amounts.failing_rows > 0, "{amounts:?}");
    let tests = manifest.data_tests.len();

    let unchanged = stdout(&vitals(&["score", pipeline.to_str().unwrap()], out.path()));
    assert!(unchanged.contains(&format!("({tests} of them the run's results")), "{unchanged}");
    assert!(
        unchanged.contains(&vitals::runner::data_test_line(amounts)),
        "the run's failure, as it found it: {unchanged}"
    );

    // customer_health and what reads it were computed again, but of the columns the tests
    // read only health_score and health_tier moved: those two tests run again, and the
    // others (customer ids, churn risks, the alerts' customers, the invoices) keep the
    // run's results.
    let rescored = stdout(&vitals(&["score", reweighted.to_str().unwrap()], out.path()));
    assert!(rescored.contains(&format!("({} of them the run's results", tests - 2)), "{rescored}");
    assert!(rescored.contains(&vitals::runner::data_test_line(amounts)), "{rescored}");

    let passing = stdout(&vitals(&["score", widened.to_str().unwrap()], out.path()));
    assert!(passing.contains(&format!("({} of them the run's results", tests - 1)), "{passing}");
    assert!(!passing.contains("range_invoices_amount"), "the widened range runs again, and passes: {passing}");
}

#[test]
fn an_edited_fact_model_or_window_reruns_what_reads_it_and_says_why() {
    let out = copy_of_published();
    let dir = tempfile::tempdir().unwrap();
    let sql = copy_of_sql(dir.path());
    let period = std::fs::read_to_string(sql.join("customer_period.sql")).unwrap();
    std::fs::write(sql.join("customer_period.sql"), format!("{period}\n-- edited\n")).unwrap();
    let edited =
        sample_pipeline(dir.path(), |t| t.replace(&format!("{}/sql", repo().display()), &sql.display().to_string()));
    let text = stdout(&vitals(&["score", edited.to_str().unwrap()], out.path()));
    let ran = reran(&text);
    assert_eq!(ran[0], ("customer_period".to_string(), "its SQL changed".to_string()), "{text}");
    assert!(ran.iter().any(|(m, why)| m == "customer_features" && why.contains("customer_period")), "{text}");

    // A model fewer others read: what it does not reach is reused.
    std::fs::write(sql.join("customer_period.sql"), &period).unwrap();
    let assessed = std::fs::read_to_string(sql.join("relationship_metrics.sql")).unwrap();
    std::fs::write(sql.join("relationship_metrics.sql"), format!("{assessed}\n-- edited\n")).unwrap();
    let text = stdout(&vitals(&["score", edited.to_str().unwrap()], out.path()));
    let ran = reran(&text);
    assert_eq!(ran[0], ("relationship_metrics".to_string(), "its SQL changed".to_string()), "{text}");
    assert!(ran.iter().any(|(m, why)| m == "customer_metrics" && why.contains("relationship_metrics")), "{text}");
    for untouched in ["customer_period", "customer_features", "engagement_metrics", "value_metrics"] {
        assert!(!ran.iter().any(|(m, _)| m == untouched), "{untouched} does not read relationship_metrics: {text}");
    }
    std::fs::write(sql.join("relationship_metrics.sql"), &assessed).unwrap();

    let window = sample_pipeline(dir.path(), |t| t.replace("window_days = 365", "window_days = 180"));
    let text = stdout(&vitals(&["score", window.to_str().unwrap()], out.path()));
    let ran = reran(&text);
    for reads_the_window in ["customer_activity", "customer_period"] {
        let why = (reads_the_window.to_string(), "params.window_days changed".to_string());
        assert!(ran.contains(&why), "{reads_the_window} reads window_days: {text}");
    }

    // Without the saved tables every model runs, and the output says so.
    std::fs::remove_dir_all(out.path().join("facts")).unwrap();
    let text = stdout(&vitals(&["score", "pipelines/sample.toml"], out.path()));
    assert!(text.contains("every SQL model ran: the run as of 2026-06-30 saved no model tables"), "{text}");
}

#[test]
fn diff_after_lowering_the_healthy_threshold_moves_exactly_the_customers_in_between() {
    let out = copy_of_published();
    let expected = count(
        out.path(),
        "SELECT COUNT(*) FROM customer_health WHERE health_tier = 'sub_healthy' AND health_score >= 80",
    );
    assert!(expected > 0, "the sample has sub_healthy customers scoring 80 to 85");
    let dir = tempfile::tempdir().unwrap();
    let edited = sample_pipeline(dir.path(), |t| t.replace("healthy = 85", "healthy = 80"));
    let text = stdout(&vitals(&["diff", edited.to_str().unwrap(), "--against", "2026-06-30"], out.path()));
    assert!(text.contains(&format!("{expected} of 2000 customers change tier")), "{text}");
    let row = text.lines().find(|l| l.starts_with("sub_healthy ")).unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[1], expected.to_string(), "sub_healthy → healthy: {text}");
    assert!(text.contains("changed 0 "), "a tier threshold moves no score: {text}");

    let missing = vitals(&["diff", edited.to_str().unwrap(), "--against", "2020-01-01"], out.path());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr.contains("published dates: 2026-06-30"), "{stderr}");
}

#[test]
fn score_before_any_run_says_to_run_first() {
    let out = tempfile::tempdir().unwrap();
    let failed = vitals(&["score", "pipelines/sample.toml"], out.path());
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(1));
    assert!(stderr.contains("vitals run"), "{stderr}");
}

#[test]
fn check_passes_the_sample_and_names_file_line_and_column_of_problems() {
    let ok = common::vitals().args(["check", "pipelines/sample.toml"]).output();
    assert!(stdout(&ok.unwrap()).contains("is ready to run"));

    let dir = tempfile::tempdir().unwrap();
    let sql = copy_of_sql(dir.path());
    let health = std::fs::read_to_string(sql.join("customer_health.sql")).unwrap();
    let line = health.lines().position(|l| l.trim() == "t.frequency,").unwrap() + 1;
    std::fs::write(sql.join("customer_health.sql"), health.replace("    t.frequency,", "    t.frequence,")).unwrap();
    let broken = sample_pipeline(dir.path(), |t| {
        t.replace(&format!("{}/sql", repo().display()), &sql.display().to_string())
            .replace("amount = \"含税金额\"", "amount = \"金额\"")
    });
    let output = common::vitals().arg("check").arg(&broken).output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains(&format!("customer_health.sql:{line}:5")) && text.contains("frequence"), "{text}");
    assert!(text.contains("kpis.sql: not planned, it reads customer_health"), "{text}");
    let invoices = text.lines().find(|l| l.contains("source invoices")).unwrap();
    assert!(invoices.starts_with("ERROR") && invoices.contains("\"金额\""), "{invoices}");
    assert!(text.lines().any(|l| l.starts_with("ok") && l.contains("source accounts")), "{text}");
}

#[test]
fn check_names_what_the_code_reads_and_a_model_dropped_and_rules_no_model_reads() {
    let ok = stdout(&common::vitals().args(["check", "pipelines/sample.toml"]).output().unwrap());
    assert!(ok.lines().any(|l| l.starts_with("ok     metrics")), "{ok}");
    assert!(ok.lines().any(|l| l.starts_with("ok     params")), "{ok}");

    let dir = tempfile::tempdir().unwrap();
    let sql = copy_of_sql(dir.path());
    // alerts without `kind` still plans, but the manifest counts alerts by kind.
    let alerts = std::fs::read_to_string(sql.join("alerts.sql")).unwrap();
    assert_eq!(alerts.matches("\n    e.kind,\n").count(), 1, "alerts.sql selects e.kind on a line of its own");
    let renamed = alerts.replace("\n    e.kind,\n", "\n    e.kind AS alert_kind,\n");
    std::fs::write(sql.join("alerts.sql"), &renamed).unwrap();
    let typos = sample_pipeline(dir.path(), |t| {
        t.replace(&format!("{}/sql", repo().display()), &sql.display().to_string())
            // The weight moved to a metric of a mistyped name, which no model produces.
            .replace("weight = 0.30\nscale", "weight = 0.0\nscale")
            .replace("[metrics.contract_amount]", "[metrics.contract_amout]\ndimension = \"value\"\nweight = 0.30\nscale = \"percentile\"\nbetter = \"higher\"\n[metrics.contract_amount]")
            .replace("window_days = 365", "window_days = 365\nwindow_dayz = 30")
    });
    let output = common::vitals().arg("check").arg(&typos).output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{text}");
    // Each line: status, subject, what was found.
    let line = |subject: &str| {
        let subject_of =
            |l: &str| l.split_whitespace().skip(1).take(subject.split(' ').count()).collect::<Vec<_>>().join(" ");
        text.lines().find(|l| subject_of(l) == subject).unwrap_or_else(|| panic!("{subject}: {text}"))
    };
    assert!(line("model alerts").starts_with("ERROR") && line("model alerts").contains("kind"), "{text}");
    assert!(line("metrics").starts_with("ERROR") && line("metrics").contains("contract_amout"), "{text}");
    assert!(line("params").starts_with("ERROR") && line("params").contains("window_dayz"), "{text}");
}

#[test]
fn a_model_that_breaks_a_published_column_is_refused_unless_allowed_and_added_columns_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let sql = copy_of_sql(dir.path());
    let kpis = std::fs::read_to_string(sql.join("kpis.sql")).unwrap();
    let avg = "    CAST(AVG(g.health_score_exact) AS DOUBLE) AS avg_health_score,\n";
    assert!(kpis.contains("    COUNT(*) AS customers,\n") && kpis.contains(avg), "kpis.sql as the test expects");
    let edited = kpis
        .replace("    COUNT(*) AS customers,\n", "    COUNT(*) AS customer_count,\n    'edited' AS note,\n")
        .replace(avg, "    CAST(CAST(AVG(g.health_score_exact) AS DOUBLE) AS VARCHAR) AS avg_health_score,\n");
    std::fs::write(sql.join("kpis.sql"), edited).unwrap();
    let pipeline = |allow: &str| {
        sample_pipeline(dir.path(), |t| {
            t.replace(&format!("{}/sql", repo().display()), &sql.display().to_string())
                .replace("[run]\n", &format!("[run]\n{allow}"))
                + "\n[churn]\nenabled = false\n"
        })
    };
    let out = dir.path().join("out");
    let checked = common::vitals().arg("check").arg(pipeline("")).output().unwrap();
    let text = String::from_utf8_lossy(&checked.stdout);
    assert!(text.lines().any(|l| l.starts_with("ERROR  model kpis") && l.contains("kpis.customers")), "{text}");
    let refused = vitals(&["run", pipeline("").to_str().unwrap(), "--quiet"], &out);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{said}");
    assert!(
        said.contains("kpis.customers: the column is gone")
            && said.contains("kpis.avg_health_score: the column is now string"),
        "{said}"
    );
    assert!(said.contains("allow_breaking = [\"kpis.customers\", \"kpis.avg_health_score\"]"), "{said}");
    assert!(!out.join("kpis").exists() && !out.join("runs/2026-06-30/manifest.json").exists(), "nothing published");

    let allowed = pipeline("allow_breaking = [\"kpis.customers\", \"kpis.avg_health_score\"]\n");
    stdout(&vitals(&["run", allowed.to_str().unwrap(), "--quiet"], &out));
    let manifest = common::manifest(&out, "2026-06-30");
    assert_eq!(manifest.added_columns.get("kpis"), Some(&vec!["customer_count".to_string(), "note".to_string()]));
    assert_eq!(manifest.allowed_breaks, ["kpis.customers", "kpis.avg_health_score"]);
    let typo = pipeline("allow_breaking = [\"kpis.customer\"]\n");
    let said = String::from_utf8_lossy(&common::vitals().arg("check").arg(&typo).output().unwrap().stderr).to_string();
    assert!(said.contains("\"kpis.customer\", which is no published column"), "{said}");
}

#[test]
fn a_failing_data_test_of_severity_error_stops_the_run_with_exit_5_and_warn_ones_are_published() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = sample_pipeline(dir.path(), |t| {
        t + "\n[churn]\nenabled = false\n\n[[tests]]\ntable = \"customer_health\"\ncolumn = \"industry\"\n\
             test = \"accepted_values\"\nvalues = [\"Retail\"]\nseverity = \"warn\"\n\n[[tests]]\n\
             name = \"alerted_customers_have_kpis\"\ntable = \"alerts\"\ncolumn = \"customer_id\"\n\
             test = \"relationships\"\nto = \"kpis\"\nto_column = \"group_value\"\nseverity = \"warn\"\n"
    });
    let sql_tests = dir.path().join("sql_tests");
    std::fs::create_dir(&sql_tests).unwrap();
    let nobody_lost = |severity: &str| {
        let query = format!("{severity}SELECT customer_id FROM customer_health WHERE health_tier = 'lost'\n");
        std::fs::write(sql_tests.join("nobody_lost.sql"), query).unwrap();
    };
    nobody_lost("-- severity: warn\n");
    let out = dir.path().join("out");
    let pipeline = pipeline.to_str().unwrap();
    stdout(&vitals(&["run", pipeline, "--quiet"], &out));

    let manifest = common::manifest(&out, "2026-06-30");
    let result = |name: &str| manifest.data_tests.iter().find(|r| r.test == name).unwrap_or_else(|| panic!("{name}"));
    let industry = result("accepted_values_customer_health_industry");
    assert_eq!((industry.status.as_str(), industry.severity.as_str()), ("fail", "warn"));
    let not_retail =
        count(&out, "SELECT COUNT(*) FROM customer_health WHERE industry IS NOT NULL AND industry <> 'Retail'");
    assert_eq!(industry.failing_rows as i64, not_retail);
    assert_eq!(industry.failing_keys.len(), 5);
    // No customer id is a KPI group's value: every alert fails the relationship.
    let unrelated = result("alerted_customers_have_kpis");
    assert_eq!(unrelated.failing_rows as i64, count(&out, "SELECT COUNT(*) FROM alerts"), "{unrelated:?}");
    assert!(unrelated.failing_rows > 0);
    let lost = result("nobody_lost");
    let lost_customers = count(&out, "SELECT COUNT(*) FROM customer_health WHERE health_tier = 'lost'");
    assert!(lost_customers > 0 && lost.failing_rows as i64 == lost_customers, "{lost:?}");
    // The shipped models' own tests pass on the sample (the invoices one may warn).
    for r in manifest.data_tests.iter().filter(|r| r.severity == "error" && r.check != "sql") {
        assert_eq!(r.status, "pass", "{r:?}");
    }
    assert!(manifest.warnings.iter().any(|w| w.contains("data test nobody_lost")), "{:?}", manifest.warnings);
    let published = count(&out, "SELECT COUNT(*) FROM data_tests WHERE status = 'fail' AND test = 'nobody_lost'");
    assert_eq!(published, 1);
    assert_eq!(count(&out, "SELECT COUNT(*) FROM data_tests") as usize, manifest.data_tests.len());

    // As an error, the same test stops `check --data` and the run: exit 5, nothing published.
    nobody_lost("");
    let checked = vitals(&["check", pipeline, "--data"], &out);
    let text = String::from_utf8_lossy(&checked.stdout);
    assert_eq!(checked.status.code(), Some(5), "{text}{}", String::from_utf8_lossy(&checked.stderr));
    assert!(
        text.lines().any(|l| l.starts_with("ERROR  data test nobody_lost (sql_tests/nobody_lost.sql, error)")),
        "{text}"
    );
    assert!(text.lines().any(|l| l.starts_with("WARN   data test accepted_values_customer_health_industry")), "{text}");
    let refused = vitals(&["run", pipeline, "--quiet", "--as-of", "2026-06-23"], &out);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(5), "{said}");
    assert!(said.contains("1 data test(s) of severity error failed, so nothing was published"), "{said}");
    assert!(
        said.contains("data test nobody_lost (sql_tests/nobody_lost.sql, error): ")
            && said.contains("failing rows (e.g. C"),
        "{said}"
    );
    let layout = OutputLayout::new(&out);
    assert!(!layout.manifest_file(common::day("2026-06-23")).exists());

    // `vitals check` names a test whose column no model produces.
    let typo = sample_pipeline(dir.path(), |t| {
        t + "\n[[tests]]\ntable = \"customer_health\"\ncolumn = \"helth_tier\"\ntest = \"not_null\"\n"
    });
    let checked = common::vitals().arg("check").arg(&typo).output().unwrap();
    let text = String::from_utf8_lossy(&checked.stdout);
    assert!(
        text.lines().any(|l| l.starts_with("WARN   data test not_null_customer_health_helth_tier")
            && l.contains("customer_health has no column helth_tier")),
        "{text}"
    );
    assert!(layout.partitions(HEALTH).iter().all(|d| d.to_string() == "2026-06-30"), "nothing of 2026-06-23 published");
}
