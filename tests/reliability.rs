//! What a careful user finds when things go wrong around a run: a rerun that publishes less
//! than the run before it, a re-score while a run holds the output, folders vitals did not
//! write, and a publish that stops after its commit point.

mod common;

use std::path::Path;

use common::*;
use vitals::layout::OutputLayout;

fn run(pipeline: &Path, out: &Path) -> std::process::Output {
    vitals().args(["run", "--quiet"]).arg(pipeline).arg("--out").arg(out).output().unwrap()
}

#[test]
fn a_rerun_removes_what_that_date_no_longer_produces() {
    let (dir, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let layout = OutputLayout::new(out.path());
    let date = day("2026-06-30");
    let all = sample_pipeline(dir.path(), |t| t);
    assert!(run(&all, out.path()).status.success());
    assert!(layout.table_file("kpis", date).exists());
    assert!(layout.bronze_file("surveys", date).exists());
    let stray = layout.partition_dir("alerts", date).join("part-1.parquet");
    std::fs::copy(layout.table_file("alerts", date), &stray).unwrap();

    // The same date again, without kpis published and without the survey export.
    let less = sample_pipeline(dir.path(), |t| {
        let t = t.replace(
            r#"publish = ["customer_health", "customer_metrics", "kpis", "alerts"]"#,
            r#"publish = ["customer_health", "customer_metrics", "alerts"]"#,
        );
        let start = t.find("[sources.surveys]").unwrap();
        let end = t.find("[sources.relationship_assessments]").unwrap();
        format!("{}{}", &t[..start], &t[end..])
    });
    let output = run(&less, out.path());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(!layout.partition_dir("kpis", date).exists(), "kpis as of {date} outlived the rerun");
    assert!(!layout.partition_dir(&OutputLayout::bronze_table("surveys"), date).exists(), "bronze/surveys outlived it");
    assert!(!stray.exists(), "a file no run wrote stays in a published partition");
    assert!(layout.table_file("alerts", date).exists() && layout.table_file("customer_health", date).exists());
    let kpis = vitals_out(&["query", "pipelines/sample.toml", "SELECT COUNT(*) FROM kpis"], out.path());
    assert_eq!(kpis.status.code(), Some(1), "no kpis table is left to read");
}

#[test]
fn a_rescore_waits_for_no_one_and_refuses_while_a_run_writes() {
    let out = tempfile::tempdir().unwrap();
    run_sample(out.path(), "2026-06-30");
    let lock = vitals::publish::lock::acquire(&OutputLayout::new(out.path()), "a test holding the output").unwrap();
    let score = vitals_out(&["score", "pipelines/sample.toml"], out.path());
    let stderr = String::from_utf8_lossy(&score.stderr);
    assert_eq!(score.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("a test holding the output"), "{stderr}");
    drop(lock);
    assert!(vitals_out(&["score", "pipelines/sample.toml"], out.path()).status.success());
}

#[test]
fn folders_vitals_did_not_write_are_named_and_left_out_by_readers_and_runs() {
    let out = tempfile::tempdir().unwrap();
    run_sample(out.path(), "2026-06-30");
    let layout = OutputLayout::new(out.path());
    std::fs::create_dir_all(out.path().join("lost+found")).unwrap();
    let backup = out.path().join("customer_health.bak/as_of=2026-06-30");
    std::fs::create_dir_all(&backup).unwrap();
    std::fs::copy(layout.table_file("customer_health", day("2026-06-30")), backup.join("part-0.parquet")).unwrap();
    std::fs::create_dir_all(out.path().join("empty_table")).unwrap();
    // A damaged customer_health of an earlier date: the next run's previous_health.
    let damaged = layout.table_file("customer_health", day("2026-06-23"));
    std::fs::create_dir_all(damaged.parent().unwrap()).unwrap();
    std::fs::write(&damaged, b"PAR1 not really parquet").unwrap();

    let query =
        vitals_out(&["query", "pipelines/sample.toml", "SELECT COUNT(*) AS n FROM customer_health"], out.path());
    let stderr = String::from_utf8_lossy(&query.stderr);
    assert!(query.status.success(), "{stderr}");
    assert!(String::from_utf8_lossy(&query.stdout).contains("2000"), "only the readable partition counts");
    for named in ["lost+found", "customer_health.bak", "empty_table", "as_of=2026-06-23"] {
        assert!(stderr.contains(named), "no warning names {named}: {stderr}");
    }
    let history = vitals_out(&["history", "pipelines/sample.toml", "C0000009"], out.path());
    assert!(history.status.success(), "{}", String::from_utf8_lossy(&history.stderr));
    let report = vitals_out(&["report", "pipelines/sample.toml"], out.path());
    assert!(report.status.success(), "{}", String::from_utf8_lossy(&report.stderr));

    // A rerun of 2026-06-30 compares with the newest earlier run it can read: none.
    let output = vitals_out(&["run", "pipelines/sample.toml"], out.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("as_of=2026-06-23"), "the damaged previous run is named: {stderr}");
    assert_eq!(manifest(out.path(), "2026-06-30").previous_as_of, None);
}

#[test]
fn a_publish_stopped_after_its_commit_point_says_so_and_the_next_run_finishes_it() {
    let out = tempfile::tempdir().unwrap();
    let layout = OutputLayout::new(out.path());
    // A file where the kpis partition folder goes: the publish fails after the journal.
    let blocker = layout.partition_dir("kpis", day("2026-06-30"));
    std::fs::create_dir_all(blocker.parent().unwrap()).unwrap();
    std::fs::write(&blocker, b"in the way").unwrap();
    let failed = vitals_out(&["run", "pipelines/sample.toml", "--quiet"], out.path());
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is committed") && stderr.contains("finishes the publish"), "{stderr}");
    let failure: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.failure_file(day("2026-06-30"))).unwrap()).unwrap();
    assert_eq!(failure["committed"], serde_json::json!(true), "{failure}");
    assert!(failure["published"].as_str().unwrap().starts_with("partly"), "{failure}");

    std::fs::remove_file(&blocker).unwrap();
    let score = vitals_out(&["score", "pipelines/sample.toml"], out.path());
    assert!(score.status.success(), "{}", String::from_utf8_lossy(&score.stderr));
    assert!(layout.table_file("kpis", day("2026-06-30")).exists(), "the re-score finished the publish first");
    assert!(layout.manifest_file(day("2026-06-30")).exists());
    assert!(!layout.staging_root().join("as_of=2026-06-30").exists());
}

#[test]
fn retention_keeps_the_newest_bronze_and_what_a_rescore_needs_and_prune_says_what_it_frees() {
    let (dir, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let layout = OutputLayout::new(out.path());
    let bronze = |date: &str| layout.bronze_file("invoices", day(date)).exists();
    let facts = |date: &str| layout.fingerprints_file(day(date)).exists();
    run_sample(out.path(), "2026-06-16");
    run_sample(out.path(), "2026-06-23");
    // A draft of the first night: a re-score of it may still be wanted.
    let score = vitals_out(&["score", "pipelines/sample.toml", "--as-of", "2026-06-16"], out.path());
    assert!(score.status.success(), "{}", String::from_utf8_lossy(&score.stderr));

    let keep_one = sample_pipeline(dir.path(), |t| t.replacen("[run]\n", "[run]\nkeep_bronze = 1\n", 1));
    let run = vitals_out(&["run", keep_one.to_str().unwrap(), "--quiet"], out.path());
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(bronze("2026-06-30") && facts("2026-06-30"), "the newest night stays");
    assert!(!bronze("2026-06-23") && !facts("2026-06-23"), "beyond keep_bronze, bronze and facts go");
    assert!(bronze("2026-06-16"), "a night with drafts keeps its bronze");
    for date in ["2026-06-16", "2026-06-23", "2026-06-30"] {
        assert!(layout.table_file("customer_health", day(date)).exists(), "published partitions stay: {date}");
    }

    let keep_runs =
        sample_pipeline(dir.path(), |t| t.replacen("[run]\n", "[run]\nkeep_bronze = 1\nkeep_runs = 1\n", 1));
    let dry = vitals_out(&["prune", keep_runs.to_str().unwrap(), "--dry-run"], out.path());
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(dry.status.success(), "{}", String::from_utf8_lossy(&dry.stderr));
    assert!(text.contains("would remove") && text.contains("customer_health/as_of=2026-06-23"), "{text}");
    assert!(text.contains("MB to free"), "{text}");
    assert!(layout.table_file("customer_health", day("2026-06-23")).exists(), "a dry run removes nothing");

    let pruned = vitals_out(&["prune", keep_runs.to_str().unwrap()], out.path());
    assert!(pruned.status.success(), "{}", String::from_utf8_lossy(&pruned.stderr));
    assert!(String::from_utf8_lossy(&pruned.stdout).contains("MB freed"));
    for date in ["2026-06-16", "2026-06-23"] {
        assert!(!layout.partition_dir("customer_health", day(date)).exists(), "{date} is pruned");
        assert!(!layout.run_dir(day(date)).exists(), "its manifest goes with it: {date}");
    }
    assert!(layout.table_file("customer_health", day("2026-06-30")).exists() && bronze("2026-06-30"));

    let refused = sample_pipeline(dir.path(), |t| t.replacen("[run]\n", "[run]\nkeep_bronze = 0\n", 1));
    let check = vitals_out(&["prune", refused.to_str().unwrap()], out.path());
    assert!(!check.status.success());
    assert!(String::from_utf8_lossy(&check.stderr).contains("keep_bronze = 0"));
}

/// Waits until a run held by `VITALS_TEST_HOLD_PUBLISH` reaches the middle of its publish.
fn wait_until_held(run: &mut std::process::Child, flag: &Path) {
    let started = std::time::Instant::now();
    while !flag.exists() {
        assert!(run.try_wait().unwrap().is_none(), "the run ended before it was held in its publish");
        assert!(started.elapsed() < std::time::Duration::from_secs(300), "the run never reached its publish");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn readers_see_the_previous_run_whole_while_a_rerun_publishes_and_after_it_is_killed_there() {
    let (dir, out, reference) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let layout = OutputLayout::new(out.path());
    let invoices = layout.bronze_file("invoices", day("2026-06-30"));
    let fewer = with_fewer_invoices(&sample_pipeline(dir.path(), |t| t), 300);
    assert!(run(&fewer, reference.path()).status.success());
    let rerun_seen = seen_by_readers(reference.path());
    let rerun_invoices =
        std::fs::read(OutputLayout::new(reference.path()).bronze_file("invoices", day("2026-06-30"))).unwrap();
    run_sample(out.path(), "2026-06-30");
    let first_seen = seen_by_readers(out.path());
    assert_ne!(first_seen, rerun_seen, "the rerun's inputs must change what readers see");

    // A rerun held halfway through its publish: bronze is new on disk, the rest still old.
    let flag = dir.path().join("held");
    let spawn = |pipeline: &Path| {
        vitals()
            .args(["run", "--quiet"])
            .arg(pipeline)
            .arg("--out")
            .arg(out.path())
            .env("VITALS_TEST_HOLD_PUBLISH", &flag)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut held = spawn(&fewer);
    wait_until_held(&mut held, &flag);
    assert_eq!(std::fs::read(&invoices).unwrap(), rerun_invoices, "the held publish has moved bronze in");
    assert_eq!(seen_by_readers(out.path()), first_seen, "readers during the publish see the previous run");
    let report = vitals_out(&["report", "pipelines/sample.toml"], out.path());
    assert!(report.status.success(), "{}", String::from_utf8_lossy(&report.stderr));
    std::fs::remove_file(&flag).unwrap();
    assert!(held.wait().unwrap().success());
    assert_eq!(seen_by_readers(out.path()), rerun_seen, "once published, readers see the rerun whole");

    // The sample again, killed halfway through its publish: readers keep the rerun's run
    // until the next start finishes the publish.
    let mut killed = spawn(&sample_pipeline(dir.path(), |t| t));
    wait_until_held(&mut killed, &flag);
    killed.kill().unwrap();
    killed.wait().unwrap();
    assert!(layout.staging(day("2026-06-30")).journal_file().exists(), "killed after its commit point");
    assert_eq!(seen_by_readers(out.path()), rerun_seen, "readers after a publish killed halfway");
    let next = vitals_out(&["score", "pipelines/sample.toml"], out.path());
    let stderr = String::from_utf8_lossy(&next.stderr);
    assert!(next.status.success() && stderr.contains("finishing the publish of an interrupted run"), "{stderr}");
    assert_eq!(seen_by_readers(out.path()), first_seen, "the finished publish is the sample's run, whole");
    assert!(layout.readers().is_empty(), "readers leave no snapshot folder behind");
}

#[test]
fn a_run_that_cannot_write_fails_clearly_publishes_nothing_and_leaves_the_runs_before_it() {
    let (dir, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let layout = OutputLayout::new(out.path());
    run_sample(out.path(), "2026-06-30");
    let date = day("2026-06-30");
    let skip = [layout.staging_root(), layout.lock_file(), layout.failure_file(date)];
    let before = files_under(out.path(), &skip);
    let fewer = with_fewer_invoices(&sample_pipeline(dir.path(), |t| t), 300);

    // A file-size limit stands in for a full disk: past it a write fails (EFBIG) where a
    // full disk fails it (ENOSPC), through the same code.
    let full = std::process::Command::new("sh")
        .args(["-c", "trap '' XFSZ; ulimit -f 100; exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_vitals"))
        .args(["run", "--quiet"])
        .arg(&fewer)
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&full.stderr);
    assert_eq!(full.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is full") && stderr.contains("free space"), "{stderr}");
    assert!(stderr.contains("nothing of this run was published"), "{stderr}");
    let failure: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.failure_file(date)).unwrap()).unwrap();
    assert_eq!(failure["committed"], serde_json::json!(false), "{failure}");
    let after = files_under(out.path(), &skip);
    assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>());
    assert!(before.iter().all(|(path, bytes)| after[path] == *bytes), "a file of the run before changed");

    // With room again, the same run publishes.
    let output = run(&fewer, out.path());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(!layout.failure_file(date).exists());
}
