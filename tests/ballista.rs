//! The SQL lane on a Ballista cluster publishes what the local engine publishes: the sample
//! pipeline run on an in-process scheduler and executor, at two and four partitions, gives
//! every table cell for cell and the churn model byte for byte. Without the `ballista`
//! feature, asking for a cluster is a clear error.

mod common;

use common::*;

#[cfg(feature = "ballista")]
mod on_a_cluster {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    use datafusion::arrow::array::{RecordBatch, RecordBatchReader};
    use datafusion::arrow::compute::{concat_batches, lexsort_to_indices, take, SortColumn};
    use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use vitals::layout::OutputLayout;

    use super::*;

    #[test]
    fn every_published_table_matches_the_local_engine_at_two_and_four_partitions() {
        let dir = tempfile::tempdir().unwrap();
        for partitions in [2, 4] {
            let pipeline = sample_pipeline(dir.path(), |text| {
                text.replacen("[run]\n", &format!("[run]\npartitions = {partitions}\n"), 1)
            });
            // A nightly run, then an analyst's re-score of it with a changed weight.
            std::fs::create_dir_all(dir.path().join("rescore")).unwrap();
            let rescored = sample_pipeline(&dir.path().join("rescore"), |text| {
                assert!(text.contains("value = 0.30\nengagement = 0.20"));
                text.replacen("[run]\n", &format!("[run]\npartitions = {partitions}\n"), 1).replacen(
                    "value = 0.30\nengagement = 0.20",
                    "value = 0.20\nengagement = 0.30",
                    1,
                )
            });
            let run = |engine: &str| {
                let out = dir.path().join(format!("out_{engine}_{partitions}"));
                for (command, file) in [("run", &pipeline), ("score", &rescored)] {
                    let output = vitals()
                        .args([command, "--quiet", "--engine", engine])
                        .arg(file)
                        .arg("--out")
                        .arg(&out)
                        .output()
                        .unwrap();
                    assert!(output.status.success(), "{command} {engine}: {}", String::from_utf8_lossy(&output.stderr));
                }
                out
            };
            let local = tables(&run("local"));
            let cluster = tables(&run("ballista-standalone"));
            assert!(local.keys().any(|p| p.starts_with("customer_health")), "{:?}", local.keys());
            for kind in ["models", "facts", "drafts/customer_health"] {
                assert!(local.keys().any(|p| p.starts_with(kind)), "no {kind}: {:?}", local.keys());
            }
            assert_eq!(local.keys().collect::<Vec<_>>(), cluster.keys().collect::<Vec<_>>());
            for (path, ours) in &local {
                if let Some(difference) = first_difference(ours, &cluster[path]) {
                    panic!("{} at {partitions} partitions: {difference}", path.display());
                }
            }
        }
    }

    #[test]
    fn the_version_names_the_ballista_a_cluster_must_run() {
        let version = stdout(&vitals().arg("--version").output().unwrap());
        let locked = locked_version("ballista-core");
        assert!(version.contains(&format!("Ballista {locked}")), "{version}");
    }

    #[test]
    fn a_scheduler_that_does_not_answer_is_named_and_nothing_is_published() {
        let out = tempfile::tempdir().unwrap();
        // Port 9 (discard) has no Ballista scheduler on a test machine.
        let stderr = refused(&["run", "pipelines/sample.toml", "--engine", "ballista://127.0.0.1:9"], out.path());
        assert!(stderr.contains("127.0.0.1:9") && stderr.contains("ballista-scheduler"), "{stderr}");
    }

    #[test]
    fn one_partition_is_refused_where_ballista_repeats_union_rows() {
        let dir = tempfile::tempdir().unwrap();
        let pipeline = sample_pipeline(dir.path(), |text| text.replacen("[run]\n", "[run]\npartitions = 1\n", 1));
        let stderr = refused(&["run", pipeline.to_str().unwrap(), "--engine", "ballista-standalone"], dir.path());
        assert!(stderr.contains("datafusion-ballista#2184") && stderr.contains("partitions to 2"), "{stderr}");
    }

    /// A published file: a table's rows, or another file's bytes (the saved churn model).
    enum Published {
        Rows(RecordBatch),
        Bytes(Vec<u8>),
    }

    /// Every file a run published or saved under `out` (the fact tables a re-score reuses,
    /// drafts), by relative path; run records (timings, fingerprints) and working folders
    /// left out.
    fn tables(out: &Path) -> BTreeMap<PathBuf, Published> {
        let layout = OutputLayout::new(out);
        let as_of = day("2026-06-30");
        let own = [
            layout.run_dir(as_of).parent().unwrap().to_path_buf(),
            layout.fingerprints_file(as_of),
            layout.staging_root(),
            layout.lock_file(),
            layout.drafts().fingerprints_file(as_of),
        ];
        files_under(out, &own)
            .into_iter()
            .map(|(path, bytes)| {
                let published = match path.extension().is_some_and(|e| e == "parquet") {
                    // The fact tables are a re-score's cache, in no set order: compared as sets.
                    true => Published::Rows(rows(&out.join(&path), path.starts_with("facts"))),
                    false => Published::Bytes(bytes),
                };
                (path, published)
            })
            .collect()
    }

    /// Where the cluster's file differs from the local one: schema, row count, or the
    /// first differing cell.
    fn first_difference(local: &Published, cluster: &Published) -> Option<String> {
        let (local, cluster) = match (local, cluster) {
            (Published::Rows(l), Published::Rows(c)) => (l, c),
            (Published::Bytes(l), Published::Bytes(c)) => return (l != c).then(|| "the bytes differ".to_string()),
            _ => return Some("one side is not Parquet".to_string()),
        };
        if local.schema() != cluster.schema() {
            return Some(format!("schema {:?} locally, {:?} on the cluster", local.schema(), cluster.schema()));
        }
        if local == cluster {
            return None;
        }
        if local.num_rows() != cluster.num_rows() {
            return Some(format!("{} rows locally, {} on the cluster", local.num_rows(), cluster.num_rows()));
        }
        let options = FormatOptions::default().with_null("NULL");
        for (field, (ours, theirs)) in local.schema().fields().iter().zip(local.columns().iter().zip(cluster.columns()))
        {
            let ours = ArrayFormatter::try_new(ours.as_ref(), &options).unwrap();
            let theirs = ArrayFormatter::try_new(theirs.as_ref(), &options).unwrap();
            for row in 0..local.num_rows() {
                let (a, b) = (ours.value(row).to_string(), theirs.value(row).to_string());
                if a != b {
                    return Some(format!("column {} row {row}: {a} locally, {b} on the cluster", field.name()));
                }
            }
        }
        Some("the values differ in a way their text does not show (floats' last bits?)".to_string())
    }

    /// The rows of a Parquet file, as one batch; `sorted`: ordered by every column.
    fn rows(file: &Path, sorted: bool) -> RecordBatch {
        let file = std::fs::File::open(file).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
        let schema = reader.schema();
        let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
        let batch = concat_batches(&schema, &batches).unwrap();
        if !sorted {
            return batch;
        }
        let keys: Vec<SortColumn> =
            batch.columns().iter().map(|c| SortColumn { values: c.clone(), options: None }).collect();
        let order = lexsort_to_indices(&keys, None).unwrap();
        let columns = batch.columns().iter().map(|c| take(c.as_ref(), &order, None).unwrap()).collect();
        RecordBatch::try_new(schema, columns).unwrap()
    }
}

#[cfg(not(feature = "ballista"))]
#[test]
fn a_cluster_without_the_feature_says_how_to_build_it() {
    let out = tempfile::tempdir().unwrap();
    let stderr = refused(&["run", "pipelines/sample.toml", "--engine", "ballista-standalone"], out.path());
    assert!(stderr.contains("without Ballista") && stderr.contains("--features ballista"), "{stderr}");
}

/// The stderr of a vitals command with `args` and `--out out` that must fail having
/// published nothing: no table and no manifest under `out`.
fn refused(args: &[&str], out: &std::path::Path) -> String {
    let output = vitals_out(args, out);
    assert!(!output.status.success());
    let layout = vitals::layout::OutputLayout::new(out);
    assert!(layout.table_dirs().unwrap_or_default().is_empty(), "{:?}", layout.table_dirs());
    assert!(!layout.manifest_file(day("2026-06-30")).exists());
    String::from_utf8_lossy(&output.stderr).to_string()
}
