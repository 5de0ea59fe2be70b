//! The sample pipeline, run by the `vitals` binary into a temp folder, read back.

mod common;

use std::collections::BTreeSet;

use common::*;
use vitals::layout::OutputLayout;

#[test]
fn sample_pipeline_publishes_every_table_and_accounts_for_every_row() {
    let out = tempfile::tempdir().unwrap();
    stdout(&vitals_out(&["run", "pipelines/sample.toml", "--quiet"], out.path()));

    let manifest = manifest(out.path(), "2026-06-30");
    assert_eq!(manifest.inputs.len(), 7, "every canonical source is in the sample pipeline");
    assert!(manifest.absent_sources.is_empty());
    for input in &manifest.inputs {
        assert_eq!(input.rows_read, input.rows_accepted + input.rows_rejected, "{}", input.source);
        assert_eq!(input.sha256.len(), 64);
        assert!(input.rows_accepted > 0, "{}", input.source);
    }
    let rejected_sources: BTreeSet<&str> =
        manifest.inputs.iter().filter(|i| i.rows_rejected > 0).map(|i| i.source.as_str()).collect();
    for source in ["invoices", "activities", "surveys", "relationship_assessments"] {
        assert!(rejected_sources.contains(source), "the sample's deliberate bad {source} rows are rejected");
    }

    let health = read_table(out.path(), "customer_health", "2026-06-30");
    assert_eq!(health.height() as u64, manifest.tables["customer_health"].rows);
    let ids = strings(&health, "customer_id");
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len(), "one row per customer");
    assert!(health.height() >= 1900, "about 2,000 sample customers, got {}", health.height());
    for column in ["r_score", "f_score", "m_score"] {
        assert!(ints(&health, column).iter().all(|s| matches!(s, Some(1..=5))), "{column}");
    }
    let (r, f, m) = (ints(&health, "r_score"), ints(&health, "f_score"), ints(&health, "m_score"));
    for (i, cell) in strings(&health, "rfm_cell").iter().enumerate() {
        let expected = format!("R{}F{}M{}", r[i].unwrap(), f[i].unwrap(), m[i].unwrap());
        assert_eq!(cell.as_deref(), Some(expected.as_str()));
    }

    for column in [
        "rfm_segment",
        "health_score",
        "health_tier",
        "tier_playbook",
        "coverage",
        "dim_value",
        "dim_engagement",
        "dim_satisfaction",
        "dim_relationship",
        "dim_risk",
        "contrib_value",
        "contrib_risk",
        "weakest_dimension",
        "points_to_next_tier",
        "next_tier_lever",
    ] {
        assert!(health.column(column).is_ok(), "customer_health lacks {column}");
    }
    let tiers: BTreeSet<String> = strings(&health, "health_tier").into_iter().flatten().collect();
    assert_eq!(tiers.len(), 4, "the sample portfolio has every tier: {tiers:?}");
    assert!(manifest.scoring.dimensions_without_data.is_empty());
    for table in ["customer_metrics", "kpis"] {
        let df = read_table(out.path(), table, "2026-06-30");
        assert_eq!(df.height() as u64, manifest.tables[table].rows, "{table}");
        assert!(df.height() > 0, "{table}");
    }

    let rejects = read_table(out.path(), "rejects", "2026-06-30");
    assert_eq!(rejects.height() as u64, manifest.tables["rejects"].rows);
    assert!(ints(&rejects, "line").iter().all(|l| l.is_some_and(|l| l >= 1)));
    assert!(!OutputLayout::new(out.path()).staging(day("2026-06-30")).root().exists(), "staging is cleaned up");
}

#[test]
fn errors_exit_non_zero_with_a_message_for_people() {
    let output = vitals().args(["run", "pipelines/does-not-exist.toml"]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot read pipeline file") && stderr.contains("does-not-exist.toml"), "{stderr}");
}
