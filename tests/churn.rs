//! The churn model: honest about time, deterministic, reloadable, and silent rather than
//! inventive when there is too little history.

mod common;

use std::path::Path;

use common::*;
use polars::prelude::*;
use vitals::layout::OutputLayout;
use vitals::manifest::Manifest;
use vitals::transform::{Engine, EngineOptions};

/// Runs the binary quietly into `out`; the manifest of the run.
fn vitals(args: &[&str], out: &Path) -> Manifest {
    let mut args = args.to_vec();
    args.push("--quiet");
    stdout(&vitals_out(&args, out));
    let as_of = args.iter().position(|a| *a == "--as-of").map_or("2026-06-30", |i| args[i + 1]);
    manifest(out, as_of)
}

/// The sample pipeline over the exports in `data`, publishing churn_features, model off.
fn features_pipeline(data: &Path) -> String {
    std::fs::read_to_string(repo().join("pipelines/sample.toml"))
        .unwrap()
        .replace("../sample_data/", &format!("{}/", data.display()))
        .replace("sql_dir = \"../sql\"", &format!("sql_dir = \"{}\"", repo().join("sql").display()))
        .replace(
            "publish = [\"customer_health\", \"customer_metrics\", \"kpis\", \"alerts\"]",
            "publish = [\"churn_features\"]",
        )
        + "\n[churn]\nenabled = false\n"
}

#[test]
fn the_sample_model_trains_beats_the_baseline_and_reloads_identically() {
    let (a, b, c) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let manifest = vitals(&["run", "pipelines/sample.toml"], a.path());
    let churn = &manifest.churn;
    assert_eq!(churn.status, "trained", "{:?}", churn.reason);
    let validation = churn.validation.as_ref().expect("validated out of time");
    assert!(
        validation.model.roc_auc > validation.baseline.roc_auc,
        "model AUC {} vs baseline {}",
        validation.model.roc_auc,
        validation.baseline.roc_auc
    );
    assert_eq!(validation.model.calibration.len(), 10);

    // Determinism: a second run trains the very same model.
    vitals(&["run", "pipelines/sample.toml"], b.path());
    let model = |out: &Path| OutputLayout::new(out).model_file(day("2026-06-30"));
    let first = std::fs::read(model(a.path())).unwrap();
    assert_eq!(first, std::fs::read(model(b.path())).unwrap());
    let artifact: serde_json::Value = serde_json::from_slice(&first).unwrap();
    for key in [
        "features",
        "means",
        "stds",
        "coefficients",
        "intercept",
        "horizon_days",
        "snapshots",
        "validation",
        "libraries",
    ] {
        assert!(artifact.get(key).is_some(), "model.json lacks {key}");
    }

    // Save/load round trip: predicting with the saved model gives the same risks.
    let path = model(a.path());
    let reused = vitals(&["predict", "pipelines/sample.toml", "--model", path.to_str().unwrap()], c.path());
    assert_eq!(reused.churn.status, "reused");
    let risks = |out: &Path| {
        let health = read_table(out, "customer_health", "2026-06-30");
        health.column("churn_risk").unwrap().f64().unwrap().iter().collect::<Vec<_>>()
    };
    let trained = risks(a.path());
    let reloaded = risks(c.path());
    let differing = trained.iter().zip(&reloaded).filter(|(a, b)| a != b).count();
    assert_eq!((differing, trained.len()), (0, reloaded.len()), "risks differ after reloading model.json");
    assert!(trained.iter().flatten().all(|r| (0.0..=1.0).contains(r)));

    let health = read_table(a.path(), "customer_health", "2026-06-30");
    let tiers = strings(&health, "health_tier");
    let bands = strings(&health, "risk_band");
    for (tier, (risk, band)) in tiers.iter().zip(trained.iter().zip(&bands)) {
        assert_eq!(tier.as_deref() == Some("lost"), risk.is_none(), "lost customers are not scored");
        assert_eq!(risk.is_some(), band.is_some());
    }
    let metrics = read_table(a.path(), "model_metrics", "2026-06-30");
    let kinds = strings(&metrics, "metric");
    let count = |metric: &str| kinds.iter().filter(|m| m.as_deref() == Some(metric)).count();
    let (roc_points, psi) = (count("roc_point"), count("psi"));
    assert_eq!(psi, churn.drift.len(), "a drift row for every feature");
    assert_eq!(
        metrics.height() - roc_points - psi,
        2 * (4 + 10) + 2,
        "model and baseline, then recency's two AUCs (no run published risks a horizon ago)"
    );
    let recency = validation.recency.expect("recency alone is ranked too");
    assert!(
        validation.model.roc_auc > recency.roc_auc,
        "model {} vs recency {}",
        validation.model.roc_auc,
        recency.roc_auc
    );
    assert!(roc_points >= 2 * 3, "each scorer's ROC curve has at least (0, 0), a step and (1, 1)");
}

/// The survey workbook of `data` written out as a CSV export beside it (dates YYYY-MM-DD,
/// whatever kind of cell held them), and `pipeline` reading that instead: answers a test can
/// edit line by line.
fn with_surveys_as_csv(data: &Path, pipeline: String) -> String {
    use calamine::{Data, Reader, Xlsx};
    let mut book: Xlsx<_> = calamine::open_workbook(data.join("survey/nps_responses.xlsx")).unwrap();
    let range = book.worksheet_range("Responses").unwrap();
    let epoch = chrono::NaiveDate::from_ymd_opt(1899, 12, 30).unwrap();
    let mut csv = String::from("respondent_customer,submitted_at,nps_score,csat_score\n");
    for row in range.rows().skip(2) {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, cell)| match (i, cell) {
                (1, Data::DateTime(d)) => (epoch + chrono::Days::new(d.as_f64() as u64)).to_string(),
                (1, Data::Float(f)) => (epoch + chrono::Days::new(*f as u64)).to_string(),
                (_, Data::Empty) => String::new(),
                (_, other) => other.to_string(),
            })
            .collect();
        csv.push_str(&cells.join(","));
        csv.push('\n');
    }
    std::fs::write(data.join("survey/nps_responses.csv"), csv).unwrap();
    let pipeline =
        pipeline.replace("nps_responses.xlsx", "nps_responses.csv").replace("format = \"xlsx\"", "format = \"csv\"");
    let lines = pipeline.lines().filter(|l| !l.starts_with("sheet = ") && !l.starts_with("header_row = "));
    lines.map(|l| format!("{l}\n")).collect()
}

#[test]
fn no_snapshot_feature_sees_data_after_its_date() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    stdout(&vitals_out(&["sample-data", "--customers", "300", "--seed", "5", "--quiet"], &data));
    let snapshot = "2026-01-31";
    let pipeline = with_surveys_as_csv(&data, features_pipeline(&data));
    let features = |label: &str, as_of: &str| {
        let file = dir.path().join(format!("{label}.toml"));
        std::fs::write(&file, &pipeline).unwrap();
        let out = dir.path().join(label);
        stdout(&vitals_out(&["run", "--quiet", "--as-of", as_of, file.to_str().unwrap()], &out));
        read_table(&out, "churn_features", as_of)
    };
    let honest = features("honest", snapshot);
    let honest_later = features("honest", "2026-06-30");

    // Rewrite the future: everything dated after the snapshot changes wildly.
    let after = |date: &str| date > snapshot && date.len() == 10;
    let rewrite = |rel: &str, f: &dyn Fn(&str) -> String| {
        let path = data.join(rel);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        let mut out = format!("{}\n", lines.next().unwrap());
        for line in lines {
            out.push_str(&f(line));
            out.push('\n');
        }
        std::fs::write(path, out).unwrap();
    };
    rewrite("finance/invoices.csv", &|line| {
        let f: Vec<&str> = line.split(',').collect();
        let mut line = line.to_string();
        if after(f[2]) {
            line = line.replacen(f[2], "2026-06-29", 1);
            line = format!("{line}\n{}", line.replacen(",\"", ",\"9", 1).replacen("INV", "FUT", 1));
        }
        if f.len() > 4 && after(f[4]) {
            line = line.replace(f[4], "2026-06-30");
        }
        line
    });
    rewrite("survey/nps_responses.csv", &|line| {
        let f: Vec<&str> = line.split(',').collect();
        if after(f[1]) {
            format!("{},{},0,1", f[0], f[1])
        } else {
            line.to_string()
        }
    });
    rewrite("crm/tickets.csv", &|line| {
        if line.split(';').nth(2).is_some_and(|d| after(&d.replace('/', "-"))) {
            line.replace(";praise;", ";complaint;").replace(";low;", ";critical;")
        } else {
            line.to_string()
        }
    });
    let poisoned = features("poisoned", snapshot);
    assert_eq!(honest.height(), poisoned.height());
    assert!(honest.equals_missing(&poisoned), "a snapshot's features changed when only later data did");
    // The rewrite is real: a run as of a later date does see it.
    assert!(!honest_later.equals_missing(&features("poisoned", "2026-06-30")));
}

/// The training set computes every snapshot date in one pass; each date's rows must be
/// exactly the churn_features a run as of that date publishes, on any number of partitions.
#[test]
fn one_pass_training_rows_are_each_dates_features() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    stdout(&vitals_out(&["sample-data", "--customers", "300", "--seed", "7", "--quiet"], &data));
    let pipeline = features_pipeline(&data);
    let file = dir.path().join("pipeline.toml");
    std::fs::write(&file, pipeline).unwrap();
    let out = dir.path().join("out");
    let dates = ["2026-06-30", "2026-03-31", "2025-12-31"];
    for as_of in dates {
        stdout(&vitals_out(&["run", "--quiet", "--as-of", as_of, file.to_str().unwrap()], &out));
    }

    let pipeline = vitals::config::Pipeline::load(&file).unwrap();
    let layout = OutputLayout::new(&out);
    let bronze =
        pipeline.sources.iter().map(|s| (s.name().to_string(), layout.bronze_file(s.name(), day(dates[0])))).collect();
    let sink = vitals::publish::Drafts::new(&layout, day(dates[0])).unwrap();
    let training_dates: Vec<_> = dates.iter().map(|d| day(d)).collect();
    let mut sets = Vec::new();
    for partitions in [1, 3] {
        let engine = Engine::new(EngineOptions { partitions, ..EngineOptions::default() }).unwrap();
        let written = vitals::transform::training(&engine, &pipeline, &bronze, &training_dates, &sink).unwrap();
        sets.push(ParquetReader::new(std::fs::File::open(&written.path).unwrap()).finish().unwrap());
    }
    assert!(sets[0].equals_missing(&sets[1]), "the training set depends on the number of partitions");
    let set = &sets[0];
    // On groups of dates, newest first (as a run does when the budget cannot hold every
    // date at once), the rows are the same, in the same order.
    let engine = Engine::new(EngineOptions::default()).unwrap();
    let mut groups = training_dates.chunks(2).map(|group| {
        let written = vitals::transform::training(&engine, &pipeline, &bronze, group, &sink).unwrap();
        ParquetReader::new(std::fs::File::open(&written.path).unwrap()).finish().unwrap()
    });
    let mut stacked = groups.next().unwrap();
    stacked.vstack_mut(&groups.next().unwrap()).unwrap();
    assert!(stacked.equals_missing(set), "the training rows depend on how the dates are grouped");
    assert!(set.column("churned").is_ok() && set.column("rf_score").is_ok(), "{:?}", set.get_column_names());
    for as_of in dates {
        let published = read_table(&out, "churn_features", as_of);
        let rows = set
            .clone()
            .lazy()
            .filter(col("as_of").eq(lit(day(as_of))))
            .select(published.get_column_names().into_iter().map(|c| col(c.as_str())).collect::<Vec<_>>())
            .collect()
            .unwrap();
        assert!(published.height() > 100, "{as_of}: {} customers", published.height());
        assert!(rows.equals_missing(&published), "{as_of}: one-pass rows differ from the run's churn_features");
    }
}

#[test]
fn too_little_history_gives_no_model_and_empty_churn_columns() {
    let fx = Fixture::new();
    fx.write("invoices.csv", "customer_id,invoice_date,amount\nA,2026-01-05,10\nB,2026-03-01,20\nA,2026-06-01,5\n");
    let manifest = fx.run(&format!("{CHURN_ON}{INVOICES_SECTION}")).unwrap();
    assert_eq!(manifest.churn.status, "skipped");
    assert!(manifest.churn.reason.as_deref().unwrap().contains("min_positives"), "{:?}", manifest.churn.reason);
    let health = read_table(&fx.out(), "customer_health", "2026-06-30");
    assert_eq!(health.column("churn_risk").unwrap().null_count(), health.height());
    assert_eq!(health.column("top_risk_drivers").unwrap().null_count(), health.height());
    assert!(OutputLayout::new(fx.out()).partitions(OutputLayout::models_table()).is_empty());
    let metrics = read_table(&fx.out(), "model_metrics", "2026-06-30");
    assert_eq!(metrics.height(), 0);
}

/// The pipeline text without source `name` (its `[sources.NAME]` table and sub-tables).
fn without_source(text: String, name: &str) -> String {
    let header = format!("[sources.{name}");
    let mut inside = false;
    let mut kept = String::new();
    for line in text.lines() {
        if line.starts_with('[') {
            inside = line.starts_with(&format!("{header}]")) || line.starts_with(&format!("{header}."));
        }
        if !inside {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    kept
}

/// The common case of an invoice-only portfolio (or a CRM that records no churn dates): the
/// default label cannot find a churner, so the model learns inactivity, and says so.
#[test]
fn without_crm_churn_dates_the_model_learns_inactivity_and_says_so() {
    use vitals::config::churn::LabelRule;
    let dir = tempfile::tempdir().unwrap();
    for (case, edit, because) in [
        ("invoice-only", without_source as fn(String, &str) -> String, "no [sources.accounts]"),
        ("no churn dates", |text: String, _: &str| text.replace("churn_date = \"流失日期\"\n", ""), "churn_date"),
    ] {
        let folder = dir.path().join(case);
        std::fs::create_dir_all(&folder).unwrap();
        let pipeline = sample_pipeline(&folder, |text| edit(text, "accounts"));
        let out = folder.join("out");
        let output = vitals_out(&["run", pipeline.to_str().unwrap()], &out);
        let printed = stdout(&output);
        let churn = manifest(&out, "2026-06-30").churn;
        assert_eq!(churn.status, "trained", "{case}: {:?}", churn.reason);
        assert_eq!(churn.label, vec![LabelRule::Inactivity], "{case}");
        let note = churn.label_note.as_deref().unwrap_or_default();
        assert!(note.contains(because) && note.contains("no invoice within horizon_days = 90"), "{case}: {note}");
        assert!(printed.contains(&format!("churn label: {note}")), "{case}: the run says so:\n{printed}");
        assert!(churn.validation.is_some(), "{case}: validated out of time");
    }
    // With the CRM's churn dates the default stays: the sample's own run.
    let out = dir.path().join("sample");
    let churn = vitals(&["run", "pipelines/sample.toml"], &out).churn;
    assert_eq!((churn.label, churn.label_note), (vec![LabelRule::Crm], None));
}

/// The BG/NBD fit behind p_alive and expected_purchases, against the figures Fader, Hardie
/// & Lee (2005) publish for the CDNOW sample (2,357 customers, 39 weeks): r = 0.243,
/// α = 4.414, a = 0.793, b = 2.426. The histories are the CDNOW summary that ships with
/// the Python package lifetimes (tests/requirements.txt).
#[test]
fn bg_nbd_fits_the_published_cdnow_parameters() {
    use vitals::model::btyd::{BgNbd, Purchases};
    let find = "import lifetimes, pathlib; print(pathlib.Path(lifetimes.__file__).parent / 'datasets' / 'cdnow_customers_summary.csv')";
    let located = std::process::Command::new("python3").args(["-c", find]).output().expect("python3 runs");
    assert!(
        located.status.success(),
        "the Python package lifetimes is missing (tests/install-deps.sh installs it): {}",
        String::from_utf8_lossy(&located.stderr)
    );
    let file = String::from_utf8(located.stdout).unwrap();
    let text = std::fs::read_to_string(file.trim()).unwrap();
    let histories: Vec<Purchases> = text
        .lines()
        .skip(1)
        .map(|line| {
            let v: Vec<f64> = line.split(',').skip(1).map(|f| f.parse().unwrap()).collect();
            Purchases { repeat: v[0], span: v[1], age: v[2] }
        })
        .collect();
    assert_eq!(histories.len(), 2357);
    let fit = BgNbd::fit(&histories).expect("a fit");
    for (name, got, published) in
        [("r", fit.r, 0.243), ("α", fit.alpha, 4.414), ("a", fit.a, 0.793), ("b", fit.b, 2.426)]
    {
        assert!((got - published).abs() < 6e-4, "{name} = {got}, published {published} ({fit:?})");
    }
    // Customer 1 of the sample (x = 2, t_x = 30.43, T = 38.86): 1.226 purchases expected in
    // the next 39 weeks, as lifetimes' BetaGeoFitter computes with its own fit.
    let first = BgNbd::expected_purchases(&fit, histories[0], 39.0);
    assert!((first - 1.226).abs() < 1e-3, "{first}");
}

/// `vitals calibrate` on the sample: the ROC AUC of health_score and of each dimension on
/// the snapshot dates, weights that sum to 1 as a snippet the pipeline file accepts, and
/// nothing under the output folder changed.
#[test]
fn calibrate_reports_the_health_scores_auc_and_weights_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    vitals(&["run", "pipelines/sample.toml"], &out);
    // The lock file says who holds the folder last; nothing else may change.
    let lock = [out.join(".vitals.lock")];
    let before = files_under(&out, &lock);
    let printed = stdout(&vitals_out(&["calibrate", "pipelines/sample.toml"], &out));
    let after = files_under(&out, &lock);
    assert_eq!(after.keys().collect::<Vec<_>>(), before.keys().collect::<Vec<_>>(), "calibrate added or removed files");
    assert!(after == before, "calibrate changed a file of the output folder");

    let row = |name: &str| -> Vec<String> {
        let line = printed.lines().find(|l| l.trim_start().starts_with(&format!("{name} "))).unwrap_or_else(|| {
            panic!("no {name} row in:\n{printed}");
        });
        line.split_whitespace().map(str::to_string).collect()
    };
    let auc: f64 = row("health_score")[2].parse().unwrap();
    assert!(auc > 0.55 && auc < 1.0, "the sample's health score ranks churners: {auc}");
    for dimension in vitals::canonical::DIMENSIONS {
        assert_eq!(row(dimension).len(), 5, "{dimension}: customers, ROC AUC, weight now, suggested");
    }
    let snippet: String =
        printed.lines().skip_while(|l| !l.starts_with("[health.weights]")).map(|l| format!("{l}\n")).collect();
    let weights: Vec<f64> = snippet.lines().skip(1).map(|l| l.split(" = ").nth(1).unwrap().parse().unwrap()).collect();
    assert_eq!(weights.len(), 5, "{snippet}");
    assert!((weights.iter().sum::<f64>() - 1.0).abs() < 1e-9 && weights.iter().all(|w| *w >= 0.0), "{weights:?}");

    // Pasted over the file's own weights, the snippet makes a pipeline that checks.
    let pipeline = sample_pipeline(dir.path(), |text| {
        let start = text.find("[health.weights]").unwrap();
        let end = start + text[start..].find("\n\n").unwrap();
        format!("{}{snippet}{}", &text[..start], &text[end..])
    });
    let checked = common::vitals().args(["check", "--quiet", pipeline.to_str().unwrap()]).output().unwrap();
    assert!(checked.status.success(), "{}", String::from_utf8_lossy(&checked.stdout));
}

/// Each run measures how far the customers scored are from the model's training rows
/// (PSI per feature); a reused model whose features moved is a warning, in the manifest
/// and on stderr.
#[test]
fn a_reused_model_warns_when_the_customers_moved_from_its_training_rows() {
    let dir = tempfile::tempdir().unwrap();
    let (trained_out, reused_out) = (dir.path().join("trained"), dir.path().join("reused"));
    let trained = vitals(&["run", "pipelines/sample.toml"], &trained_out);
    let model = OutputLayout::new(&trained_out).model_file(day("2026-06-30"));
    let artifact: serde_json::Value = serde_json::from_slice(&std::fs::read(&model).unwrap()).unwrap();
    let features = artifact["features"].as_array().unwrap();
    assert_eq!(trained.churn.drift.len(), features.len(), "a PSI for every feature");
    assert!(trained.churn.drift.values().all(|psi| psi.is_finite() && *psi >= 0.0));
    assert!(trained.warnings.iter().all(|w| !w.contains("PSI")), "a model the run trained is not warned about");

    let output = vitals_out(&["predict", "pipelines/sample.toml", "--model", model.to_str().unwrap()], &reused_out);
    let reused = manifest(&reused_out, "2026-06-30");
    assert_eq!(reused.churn.drift, trained.churn.drift, "the same model over the same customers");
    // The sample's customers age: a year of snapshots ago their purchase spans were shorter.
    let span = reused.churn.drift["purchase_span_days"];
    assert!(span > 0.25, "purchase_span_days PSI {span}");
    let warning = reused.warnings.iter().find(|w| w.contains("PSI")).expect("a drift warning");
    assert!(warning.contains("purchase_span_days (PSI") && warning.contains("retrain"), "{warning}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("purchase_span_days (PSI"));
}

/// Each run checks the churn risks published a horizon ago against what happened since:
/// the figures are those of the published risks against the CRM churn dates after their
/// date, with a trained model or a reused one, and with a churn_labels that needs the
/// features computed; risks that no longer rank the churners are a warning.
#[test]
fn risks_published_a_horizon_ago_are_checked_against_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (predicted, now) = ("2026-04-01", "2026-06-30");
    let earlier = vitals(&["run", "pipelines/sample.toml", "--as-of", predicted], &out);
    assert_eq!(earlier.churn.realized, None, "no run published risks a horizon before it");
    let trained = vitals(&["run", "pipelines/sample.toml"], &out);
    let realized = trained.churn.realized.clone().expect("the risks of 2026-04-01 checked");
    assert_eq!(realized.predicted_as_of, day(predicted));
    assert_eq!(realized.validation_roc_auc, Some(earlier.churn.validation.unwrap().model.roc_auc));

    // The same figures from the published files: risks of 2026-04-01, churn dates ingested now.
    let health = read_table(&out, "customer_health", predicted);
    let risks: Vec<(String, f64)> = strings(&health, "customer_id")
        .into_iter()
        .zip(health.column("churn_risk").unwrap().f64().unwrap().iter())
        .filter_map(|(id, risk)| Some((id?, risk?)))
        .collect();
    let accounts = read_table(&out, "bronze/accounts", now);
    let (since, until) = (day(predicted), day(predicted) + chrono::Duration::days(90));
    let churned_ids: std::collections::HashSet<String> = strings(&accounts, "customer_id")
        .into_iter()
        .zip(strings(&accounts, "churn_date"))
        .filter_map(|(id, date)| Some((id?, day(&date?))))
        .filter(|(_, date)| *date > since && *date <= until)
        .map(|(id, _)| id)
        .collect();
    let (churners, stayers): (Vec<_>, Vec<_>) = risks.iter().partition(|(id, _)| churned_ids.contains(id));
    let ordered: f64 = churners
        .iter()
        .flat_map(|(_, c)| {
            stayers.iter().map(move |(_, s)| {
                if c > s {
                    1.0
                } else if c == s {
                    0.5
                } else {
                    0.0
                }
            })
        })
        .sum();
    let auc = ordered / (churners.len() * stayers.len()) as f64;
    let e = &realized.evaluation;
    assert_eq!((e.customers, e.churned), (risks.len(), churners.len()));
    assert!((e.roc_auc - auc).abs() < 1e-12, "published {} against {auc} from the files", e.roc_auc);
    assert!(trained.warnings.iter().all(|w| !w.contains("ROC AUC")), "{:?}", trained.warnings);

    let metrics = read_table(&out, "model_metrics", now);
    let (scorers, kinds) = (strings(&metrics, "scorer"), strings(&metrics, "metric"));
    let (dates, features) = (strings(&metrics, "predicted_as_of"), strings(&metrics, "feature"));
    let values: Vec<Option<f64>> = metrics.column("value").unwrap().f64().unwrap().iter().collect();
    let is = |i: usize, scorer: &str, metric: &str| {
        scorers[i].as_deref() == Some(scorer) && kinds[i].as_deref() == Some(metric)
    };
    let auc_row = (0..metrics.height()).find(|i| is(*i, "realized", "roc_auc")).expect("a realized roc_auc row");
    assert_eq!((dates[auc_row].as_deref(), values[auc_row]), (Some(predicted), Some(e.roc_auc)));
    let psi: Vec<usize> = (0..metrics.height()).filter(|i| is(*i, "model", "psi")).collect();
    assert_eq!(psi.len(), trained.churn.drift.len());
    for i in psi {
        assert_eq!(values[i], Some(trained.churn.drift[features[i].as_deref().unwrap()]));
    }

    // A reused model: no training pass, the same check.
    let model = dir.path().join("model.json");
    std::fs::copy(OutputLayout::new(&out).model_file(day(now)), &model).unwrap();
    let reused = vitals(&["predict", "pipelines/sample.toml", "--model", model.to_str().unwrap()], &out);
    assert_eq!(reused.churn.status, "reused");
    assert_eq!(reused.churn.realized, trained.churn.realized);

    // A churn_labels that reads a feature (to no effect on the labels) cannot run over the
    // published customers alone: the features are computed for it, and the check is the same.
    let sql = dir.path().join("sql");
    std::fs::create_dir(&sql).unwrap();
    for entry in std::fs::read_dir(repo().join("sql")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, sql.join(path.file_name().unwrap())).unwrap();
    }
    let labels = std::fs::read_to_string(sql.join("churn_labels.sql")).unwrap();
    let reads_a_feature = "LEFT JOIN bought AS b ON b.as_of = f.as_of AND b.customer_id = f.customer_id\n\
                           WHERE f.recency_days IS NULL OR f.recency_days IS NOT NULL";
    let edited =
        labels.replace("LEFT JOIN bought AS b ON b.as_of = f.as_of AND b.customer_id = f.customer_id", reads_a_feature);
    assert_ne!(edited, labels);
    std::fs::write(sql.join("churn_labels.sql"), edited).unwrap();
    let own_sql = sample_pipeline(dir.path(), |text| {
        text.replace(&format!("sql_dir = \"{}/sql\"", repo().display()), &format!("sql_dir = \"{}\"", sql.display()))
    });
    assert!(std::fs::read_to_string(&own_sql).unwrap().contains(sql.to_str().unwrap()));
    let recomputed = vitals(&["run", own_sql.to_str().unwrap()], &out);
    assert_eq!(recomputed.churn.realized, trained.churn.realized);

    // Risks of a model trained for another outcome (inactivity) rank the CRM churners badly.
    let other = dir.path().join("other");
    let inactivity = sample_pipeline(dir.path(), |text| text + "\n[churn]\nlabel = [\"inactivity\"]\n");
    vitals(&["run", inactivity.to_str().unwrap(), "--as-of", predicted], &other);
    let checked = vitals(&["run", "pipelines/sample.toml"], &other);
    let realized = checked.churn.realized.unwrap();
    let promised = realized.validation_roc_auc.unwrap();
    assert!(realized.evaluation.roc_auc < promised - 0.1, "{} against {promised}", realized.evaluation.roc_auc);
    let warning = checked.warnings.iter().find(|w| w.contains("ROC AUC")).expect("a warning");
    assert!(warning.contains("published on 2026-04-01") && warning.contains("retrain"), "{warning}");
}
