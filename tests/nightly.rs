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
    fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            let layout = OutputLayout::new(root);
            let own = [
                layout.run_dir(day("2026-06-30")).parent().unwrap().to_path_buf(),
                layout.fingerprints_file(day("2026-06-30")).parent().unwrap().parent().unwrap().to_path_buf(),
                layout.staging_root(),
                layout.lock_file(),
            ];
            if own.iter().any(|p| path.starts_with(p)) {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, files);
            } else {
                files.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(out, out, &mut files);
    files
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

#[test]
fn the_same_inputs_give_the_same_bytes_on_any_number_of_partitions() {
    let (dir, pipeline) = generated(400);
    let text = std::fs::read_to_string(&pipeline).unwrap();
    let mut outputs = Vec::new();
    for partitions in [1, 2, 5] {
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

#[test]
fn kill_dash_nine_at_any_moment_leaves_the_published_outputs_whole() {
    let (dir, pipeline) = generated(6000);
    let out = dir.path().join("out");
    let status = vitals().args(["run", "--quiet"]).arg(&pipeline).arg("--out").arg(&out).status().unwrap();
    assert!(status.success());
    let published = contents(&out);
    let committing = OutputLayout::new(&out).staging(day("2026-06-30")).journal_file();

    // Kill reruns of the same date at spread-out moments, and once just as it commits. The
    // same inputs give the same bytes, so whatever a reader finds must equal the first run.
    let mut moments: Vec<Option<Duration>> =
        [200, 600, 1200, 2500, 4000, 6000, 9000].into_iter().map(|ms| Some(Duration::from_millis(ms))).collect();
    moments.push(None);
    for moment in moments {
        let mut child = spawn_run(&pipeline, &out);
        let started = Instant::now();
        match moment {
            Some(after) => std::thread::sleep(after),
            None => {
                while !committing.exists() && started.elapsed() < Duration::from_secs(120) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let now = contents(&out);
        assert_eq!(published.keys().collect::<Vec<_>>(), now.keys().collect::<Vec<_>>(), "killed at {moment:?}");
        for (path, bytes) in &published {
            assert!(bytes == &now[path], "{} changed by a run killed at {moment:?}", path.display());
        }
        for table in ["customer_health", "customer_metrics", "kpis", "alerts", "model_metrics", "rejects"] {
            read_table(&out, table, "2026-06-30");
        }
    }

    // The next run cleans up what the killed ones left and publishes normally.
    let status = vitals().args(["run", "--quiet"]).arg(&pipeline).arg("--out").arg(&out).status().unwrap();
    assert!(status.success());
    assert_eq!(contents(&out).len(), published.len());
    let staging = out.join(".staging");
    assert!(!staging.exists() || std::fs::read_dir(&staging).unwrap().next().is_none(), "staging left behind");
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
