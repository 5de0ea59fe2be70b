//! Running every night: history and trends, alerts that fire once per event, idempotent
//! reruns, surviving `kill -9`, one writer per output directory, and the data-quality gate.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use polars::prelude::*;
use vitals::layout::OutputLayout;

fn floats(df: &DataFrame, column: &str) -> Vec<Option<f64>> {
    df.column(column).unwrap().cast(&DataType::Float64).unwrap().f64().unwrap().iter().collect()
}

fn bools(df: &DataFrame, column: &str) -> Vec<Option<bool>> {
    df.column(column).unwrap().bool().unwrap().iter().collect()
}

/// customer_id → row index.
fn index(df: &DataFrame) -> HashMap<String, usize> {
    strings(df, "customer_id").into_iter().enumerate().map(|(i, id)| (id.unwrap(), i)).collect()
}

const WEEKS: [&str; 3] = ["2026-06-16", "2026-06-23", "2026-06-30"];

#[test]
fn three_nightly_runs_build_a_history_with_trends_and_alerts_that_fire_once() {
    let out = tempfile::tempdir().unwrap();
    for as_of in WEEKS {
        run_sample(out.path(), as_of);
    }

    // Trend columns compare each run with the one before it.
    let first = read_table(out.path(), "customer_health", WEEKS[0]);
    assert!(strings(&first, "previous_as_of").iter().all(Option::is_none), "a first run has no previous");
    for pair in WEEKS.windows(2) {
        let (before, now) =
            (read_table(out.path(), "customer_health", pair[0]), read_table(out.path(), "customer_health", pair[1]));
        let earlier = index(&before);
        let (score_before, tier_before) = (floats(&before, "health_score"), strings(&before, "health_tier"));
        let (score, tier) = (floats(&now, "health_score"), strings(&now, "health_tier"));
        let (previous_score, delta) = (floats(&now, "previous_score"), floats(&now, "score_delta"));
        let (trend, previous_tier, changed) =
            (strings(&now, "trend"), strings(&now, "previous_tier"), bools(&now, "tier_changed"));
        let previous_as_of = strings(&now, "previous_as_of");
        let mut moved = 0;
        for (id, i) in index(&now) {
            let Some(&j) = earlier.get(&id) else {
                assert_eq!(previous_as_of[i], None, "{id} is new");
                continue;
            };
            assert_eq!(previous_as_of[i].as_deref(), Some(pair[0]), "{id}");
            assert_eq!(previous_score[i], score_before[j], "{id}");
            assert_eq!(previous_tier[i], tier_before[j], "{id}");
            assert_eq!(changed[i], Some(tier[i] != tier_before[j]), "{id}");
            if let (Some(s), Some(p)) = (score[i], score_before[j]) {
                let d = delta[i].unwrap();
                assert!((d - (s - p)).abs() < 0.006, "{id}: delta {d} for {p} → {s}");
                let expected = if d > 2.0 {
                    "up"
                } else if d < -2.0 {
                    "down"
                } else {
                    "flat"
                };
                assert_eq!(trend[i].as_deref(), Some(expected), "{id}: delta {d}");
                moved += usize::from(expected != "flat");
            }
        }
        assert!(moved > 0, "some customers move in a week");
    }

    // Every alert is dated inside its run's window, and no event fires twice.
    let mut seen: BTreeMap<(String, String, String, String), &str> = BTreeMap::new();
    let mut kinds = BTreeMap::new();
    let mut since = None;
    for as_of in WEEKS {
        let alerts = read_table(out.path(), "alerts", as_of);
        let (ids, kind, dates, evidence) = (
            strings(&alerts, "customer_id"),
            strings(&alerts, "kind"),
            strings(&alerts, "event_date"),
            strings(&alerts, "evidence"),
        );
        for i in 0..alerts.height() {
            let date = dates[i].clone().unwrap();
            assert!(date.as_str() <= as_of, "{date} after {as_of}");
            if let Some(since) = since {
                assert!(date.as_str() > since, "{date} not after the previous run {since}");
            }
            *kinds.entry(kind[i].clone().unwrap()).or_insert(0) += 1;
            let key = (ids[i].clone().unwrap(), kind[i].clone().unwrap(), date, evidence[i].clone().unwrap());
            if let Some(earlier) = seen.insert(key.clone(), as_of) {
                panic!("{key:?} fired on {earlier} and again on {as_of}");
            }
        }
        since = Some(as_of);
    }
    for kind in [
        "tier_drop",
        "score_drop",
        "severe_complaint",
        "invoice_overdue",
        "contract_ending",
        "no_interaction",
        "key_contact_change",
    ] {
        assert!(kinds.get(kind).is_some_and(|n| *n > 0), "no {kind} alert in three weeks of sample data: {kinds:?}");
    }

    // `vitals history` shows the three runs of a customer who dropped a tier, and the alert.
    let alerts = read_table(out.path(), "alerts", WEEKS[2]);
    let drop = strings(&alerts, "kind")
        .iter()
        .position(|k| k.as_deref() == Some("tier_drop"))
        .map(|i| strings(&alerts, "customer_id")[i].clone().unwrap());
    let customer = drop.unwrap_or_else(|| "C0000009".into());
    let output =
        vitals().args(["history", "pipelines/sample.toml", &customer, "--out"]).arg(out.path()).output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    for as_of in WEEKS {
        assert!(text.contains(as_of), "history lacks {as_of}:\n{text}");
    }
    assert!(text.contains("tier_drop"), "{text}");
}

/// Every file under `out` but the run manifests (they hold timings) and the saved model
/// tables (their fingerprints name the run, and the rows of a table that is read, not
/// published, come in the engine's order), by relative path.
fn contents(out: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let layout = OutputLayout::new(out);
    let own = [
        layout.run_dir(day("2026-06-30")).parent().unwrap().to_path_buf(),
        layout.fingerprints_file(day("2026-06-30")).parent().unwrap().parent().unwrap().to_path_buf(),
        layout.staging_root(),
        layout.lock_file(),
    ];
    files_under(out, &own)
}

#[test]
fn a_rerun_of_the_same_date_publishes_the_same_content() {
    let out = tempfile::tempdir().unwrap();
    run_sample(out.path(), "2026-06-30");
    let first = contents(out.path());
    assert!(first.keys().any(|p| p.starts_with("alerts")) && first.keys().any(|p| p.starts_with("models")));
    run_sample(out.path(), "2026-06-30");
    let second = contents(out.path());
    assert_eq!(first.keys().collect::<Vec<_>>(), second.keys().collect::<Vec<_>>());
    for (path, bytes) in &first {
        assert!(bytes == &second[path], "{} differs after a rerun", path.display());
    }
}

/// A column a later version added is there for readers while older partitions lack it
/// (read as null there): readers merge every partition's schema, not the oldest one's.
#[test]
fn readers_see_a_column_that_only_newer_partitions_have() {
    let out = tempfile::tempdir().unwrap();
    run_sample(out.path(), "2026-05-31");
    run_sample(out.path(), "2026-06-30");
    // The older partition as vitals 0.6 wrote it: no feature column.
    let older = read_table(out.path(), "model_metrics", "2026-05-31");
    let mut older = older.drop("feature").unwrap();
    let file = OutputLayout::new(out.path()).table_file("model_metrics", day("2026-05-31"));
    ParquetWriter::new(std::fs::File::create(&file).unwrap()).finish(&mut older).unwrap();
    let newer = strings(&read_table(out.path(), "model_metrics", "2026-06-30"), "feature");
    let features = newer.iter().flatten().count();
    assert!(features > 10, "{features} drift rows");

    let sql = "SELECT CAST(as_of AS VARCHAR) AS day, COUNT(feature) AS features, COUNT(*) AS n_rows \
               FROM model_metrics GROUP BY 1 ORDER BY 1";
    let counted = stdout(&vitals_out(&["query", "pipelines/sample.toml", sql], out.path()));
    let lines: Vec<Vec<&str>> = counted
        .lines()
        .filter(|l| l.contains("2026-"))
        .map(|l| l.split('|').map(str::trim).filter(|c| !c.is_empty()).collect())
        .collect();
    let (older_rows, newer_rows) = (older.height().to_string(), newer.len().to_string());
    assert_eq!(
        lines,
        vec![vec!["2026-05-31", "0", older_rows.as_str()], vec!["2026-06-30", &features.to_string(), &newer_rows]],
        "{counted}"
    );
}

#[test]
fn the_same_inputs_give_the_same_bytes_on_any_number_of_partitions() {
    let (dir, pipeline) = generated(400);
    let text = std::fs::read_to_string(&pipeline).unwrap();
    let mut outputs = Vec::new();
    for partitions in [1, 2, 8] {
        let file = pipeline.with_file_name(format!("partitions_{partitions}.toml"));
        std::fs::write(&file, text.replacen("[run]\n", &format!("[run]\npartitions = {partitions}\n"), 1)).unwrap();
        let out = dir.path().join(format!("out_{partitions}"));
        let status = vitals().args(["run", "--quiet"]).arg(&file).arg("--out").arg(&out).status().unwrap();
        assert!(status.success(), "run with {partitions} partitions");
        outputs.push(contents(&out));
    }
    let first = &outputs[0];
    assert!(first.keys().any(|p| p.starts_with("customer_health")) && first.keys().any(|p| p.starts_with("models")));
    for other in &outputs[1..] {
        assert_eq!(first.keys().collect::<Vec<_>>(), other.keys().collect::<Vec<_>>());
        for (path, bytes) in first {
            assert!(bytes == &other[path], "{} depends on the number of partitions", path.display());
        }
    }
}

/// A copy of the sample pipeline over `customers` generated customers, in a temp folder.
fn generated(customers: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let status = vitals()
        .args(["sample-data", "--quiet", "--customers", &customers.to_string(), "--out"])
        .arg(dir.path().join("sample_data"))
        .status()
        .unwrap();
    assert!(status.success());
    let pipeline = dir.path().join("pipelines/sample.toml");
    std::fs::create_dir_all(pipeline.parent().unwrap()).unwrap();
    let text = std::fs::read_to_string(repo().join("pipelines/sample.toml")).unwrap();
    let text = text.replace("sql_dir = \"../sql\"", &format!("sql_dir = \"{}\"", repo().join("sql").display()));
    std::fs::write(&pipeline, text).unwrap();
    (dir, pipeline)
}

fn spawn_run(pipeline: &Path, out: &Path) -> std::process::Child {
    vitals()
        .args(["run", "--quiet"])
        .arg(pipeline)
        .arg("--out")
        .arg(out)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Copies the folder `from` to `to`.
fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_folder(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// When a test kills a run: a share of the time a whole run takes, as soon as its commit
/// journal exists, or while it is held halfway through moving its files into place.
#[derive(Debug, Clone, Copy)]
enum Moment {
    After(f64),
    AtTheCommitPoint,
    HalfwayThroughThePublish,
}

#[test]
fn kill_dash_nine_inside_a_rerun_with_new_inputs_leaves_each_table_old_or_new_until_the_next_start() {
    let (dir, pipeline) = generated(3000);
    let fewer = with_fewer_invoices(&pipeline, 2000);
    let (first, rerun) = (dir.path().join("first"), dir.path().join("rerun"));
    assert!(vitals().args(["run", "--quiet"]).arg(&pipeline).arg("--out").arg(&first).status().unwrap().success());
    let started = Instant::now();
    assert!(vitals().args(["run", "--quiet"]).arg(&fewer).arg("--out").arg(&rerun).status().unwrap().success());
    let whole_run = started.elapsed();
    let (old, new) = (contents(&first), contents(&rerun));
    let (old_seen, new_seen) = (seen_by_readers(&first), seen_by_readers(&rerun));
    assert_ne!(old_seen, new_seen, "the new inputs change what readers see");
    for table in ["customer_health", "customer_metrics", "kpis", "bronze/invoices"] {
        let file = OutputLayout::partition(table, day("2026-06-30")).join("part-0.parquet");
        assert_ne!(old[&file], new[&file], "{table} must differ between the two runs");
    }

    let out = dir.path().join("out");
    let (journal, flag) = (OutputLayout::new(&out).staging(day("2026-06-30")).journal_file(), dir.path().join("held"));
    let mut moments: Vec<Moment> = [0.1, 0.3, 0.5, 0.7, 0.9].into_iter().map(Moment::After).collect();
    moments.extend([Moment::AtTheCommitPoint, Moment::HalfwayThroughThePublish]);
    let mut inside = 0;
    for moment in moments {
        std::fs::remove_dir_all(&out).ok();
        copy_folder(&first, &out);
        let mut command = vitals();
        command.args(["run", "--quiet"]).arg(&fewer).arg("--out").arg(&out).stderr(std::process::Stdio::null());
        if let Moment::HalfwayThroughThePublish = moment {
            command.env("VITALS_TEST_HOLD_PUBLISH", &flag);
        }
        let mut child = command.spawn().unwrap();
        let started = Instant::now();
        let reached = |child: &mut std::process::Child, done: &dyn Fn() -> bool| {
            while !done() && child.try_wait().unwrap().is_none() && started.elapsed() < Duration::from_secs(300) {
                std::thread::sleep(Duration::from_millis(1));
            }
        };
        match moment {
            Moment::After(share) => std::thread::sleep(whole_run.mul_f64(share)),
            Moment::AtTheCommitPoint => reached(&mut child, &|| journal.exists()),
            Moment::HalfwayThroughThePublish => reached(&mut child, &|| flag.exists()),
        }
        let alive = child.try_wait().unwrap().is_none();
        child.kill().unwrap();
        child.wait().unwrap();
        std::fs::remove_file(&flag).ok();
        // A run can be alive yet done publishing (the kill landed in its last milliseconds,
        // on a busier machine than the timed run's): then its files are the rerun's whole.
        let (files, seen) = (contents(&out), seen_by_readers(&out));
        let published = !journal.exists() && files == new && seen == new_seen;
        if !alive || published {
            assert!(matches!(moment, Moment::After(_)), "the run had ended before {moment:?}");
            continue;
        }
        inside += 1;

        // Each file is wholly the first run's or wholly the rerun's; readers see the first
        // run whole, as its manifest says, until the next start.
        for (path, bytes) in &files {
            let either = old.get(path) == Some(bytes) || new.get(path) == Some(bytes);
            assert!(either, "{} is neither the first run's nor the rerun's (killed {moment:?})", path.display());
        }
        assert_eq!(seen, old_seen, "readers after a kill {moment:?}");
        let rows = manifest(&out, "2026-06-30").tables["customer_health"].rows;
        let counted =
            stdout(&vitals_out(&["query", "pipelines/sample.toml", "SELECT COUNT(*) AS n FROM customer_health"], &out));
        assert!(counted.contains(&format!(" {rows} ")), "readers agree with the manifest ({rows} rows): {counted}");

        // The next start finishes a committed publish, or clears one that never committed.
        let committed = journal.exists();
        let next = vitals().args(["run", "--quiet"]).arg(&fewer).arg("--out").arg(&out).output().unwrap();
        let stderr = String::from_utf8_lossy(&next.stderr);
        assert!(next.status.success(), "{stderr}");
        assert_eq!(committed, stderr.contains("finishing the publish of an interrupted run"), "{moment:?}: {stderr}");
        let now = contents(&out);
        assert_eq!(now.keys().collect::<Vec<_>>(), new.keys().collect::<Vec<_>>(), "after a kill {moment:?}");
        assert!(now.iter().all(|(path, bytes)| new[path] == *bytes), "the next start publishes the rerun whole");
        assert_eq!(seen_by_readers(&out), new_seen);
    }
    assert!(inside >= 5, "only {inside} of the kills landed inside a run");
}

#[test]
fn a_second_run_on_the_same_output_fails_at_once_and_a_killed_run_leaves_no_stuck_lock() {
    let (dir, pipeline) = generated(3000);
    let out = dir.path().join("out");
    let mut first = spawn_run(&pipeline, &out);
    let lock = out.join(".vitals.lock");
    let started = Instant::now();
    while !std::fs::read_to_string(&lock).is_ok_and(|t| t.contains("pid")) {
        assert!(started.elapsed() < Duration::from_secs(60), "the first run never took the lock");
        std::thread::sleep(Duration::from_millis(5));
    }
    let second = vitals().args(["run"]).arg(&pipeline).arg("--out").arg(&out).output().unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains(&format!("pid {}", first.id())), "names the running one: {stderr}");
    assert!(first.try_wait().unwrap().is_none(), "the first run went on");

    first.kill().unwrap();
    first.wait().unwrap();
    assert!(lock.exists(), "the killed run's lock file is still there");
    let third = vitals().args(["run", "--quiet"]).arg(&pipeline).arg("--out").arg(&out).output().unwrap();
    assert!(third.status.success(), "{}", String::from_utf8_lossy(&third.stderr));
}

#[test]
fn too_many_rejects_stop_the_run_before_publishing_with_exit_code_three() {
    let fixture = Fixture::new();
    let mut csv = String::from("customer_id,invoice_date,amount\n");
    for i in 0..20 {
        csv.push_str(&format!("C{i},2026-05-{:02},100.00\n", i + 1));
    }
    for i in 0..5 {
        csv.push_str(&format!("C{i},2026-05-40,100.00\n"));
    }
    csv.push_str("C1,2026-05-02,lots\n");
    fixture.write("invoices.csv", csv);
    let gated = |ratio: f64| {
        format!("[sources.invoices]\npath = \"invoices.csv\"\nformat = \"csv\"\nmax_reject_ratio = {ratio}\n")
    };
    let pipeline = fixture.pipeline(&gated(0.1));
    let output = vitals().args(["run", "--log-format", "json"]).arg(&pipeline).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    for line in stderr.lines() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(event.get("level").is_some(), "{line}");
    }
    assert!(stderr.contains("\"exit_code\":3"), "{stderr}");
    assert!(stderr.contains("invoices") && stderr.contains("6 of 26 rows"), "{stderr}");
    assert!(stderr.contains("invoice_date") && stderr.contains("max_reject_ratio"), "{stderr}");
    assert!(!fixture.out().join("customer_health").exists(), "nothing published");
    let failure = std::fs::read_to_string(OutputLayout::new(fixture.out()).failure_file(day("2026-06-30"))).unwrap();
    assert!(failure.contains("\"exit_code\": 3"), "{failure}");

    let relaxed = fixture.pipeline(&gated(0.5));
    let output = vitals().args(["run", "--quiet"]).arg(&relaxed).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        !OutputLayout::new(fixture.out()).failure_file(day("2026-06-30")).exists(),
        "a good run clears the failure"
    );
}
