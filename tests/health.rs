//! The health score, tiers and explanations on small portfolios worked out by hand.

mod common;

use common::*;
use polars::prelude::*;
use rand::{Rng, SeedableRng};

/// Scoring on the value dimension alone, by contract amount: 0 → 0 points, 100 → 100.
const VALUE_ONLY: &str = r#"
[health.weights]
value = 1.0
engagement = 0.0
satisfaction = 0.0
relationship = 0.0
risk = 0.0
[metrics.contract_amount]
weight = 1.0
scale = "thresholds"
points = [[0, 0], [100, 100]]
[metrics.cooperation_frequency]
weight = 0
[metrics.payment_on_time]
weight = 0
[metrics.depth]
weight = 0
[metrics.growth]
weight = 0
"#;

fn floats(df: &DataFrame, column: &str) -> Vec<Option<f64>> {
    df.column(column).unwrap().cast(&DataType::Float64).unwrap().f64().unwrap().iter().collect()
}

#[test]
fn tier_edges_are_inclusive_at_exactly_85_and_60() {
    let fx = Fixture::new();
    fx.write(
        "invoices.csv",
        "customer_id,invoice_date,amount\nA,2026-06-01,85\nB,2026-06-01,60\nC,2026-06-01,59.99\nD,2026-06-01,84.99\n",
    );
    fx.run(&format!("{VALUE_ONLY}{INVOICES_SECTION}")).unwrap();
    let health = read_table(&fx.out(), "customer_health", "2026-06-30");
    assert_eq!(floats(&health, "health_score"), vec![Some(85.0), Some(60.0), Some(59.99), Some(84.99)]);
    let tiers = strings(&health, "health_tier");
    assert_eq!(tiers, ["healthy", "sub_healthy", "at_risk", "sub_healthy"].map(|t| Some(t.to_string())).to_vec());
    let to_next = floats(&health, "points_to_next_tier");
    assert_eq!(to_next[0], None, "healthy has no next tier");
    assert!((to_next[1].unwrap() - 25.0).abs() < 1e-9 && (to_next[2].unwrap() - 0.01).abs() < 1e-9, "{to_next:?}");
    assert_eq!(strings(&health, "next_tier_lever")[1].as_deref(), Some("value"));
    assert!(strings(&health, "tier_playbook")[2].as_deref().unwrap().contains("Escalate"));
}

#[test]
fn a_customer_without_surveys_is_scored_on_the_rest_with_renormalized_weights() {
    let fx = Fixture::new();
    fx.write("invoices.csv", "customer_id,invoice_date,amount\nX,2026-06-01,50\nY,2026-06-01,80\n");
    fx.write("surveys.csv", "customer_id,response_date,nps,csat\nX,2026-05-01,8,\n");
    let rules = r#"
[health.weights]
value = 0.5
engagement = 0.0
satisfaction = 0.5
relationship = 0.0
risk = 0.0
[metrics.contract_amount]
weight = 1.0
scale = "thresholds"
points = [[0, 0], [100, 100]]
[metrics.cooperation_frequency]
weight = 0
[metrics.payment_on_time]
weight = 0
[metrics.depth]
weight = 0
[metrics.growth]
weight = 0
[metrics.nps]
points = [[0, 0], [6, 30], [8, 70], [10, 100]]
[sources.surveys]
path = "surveys.csv"
format = "csv"
"#;
    fx.run(&format!("{rules}{INVOICES_SECTION}")).unwrap();
    let health = read_table(&fx.out(), "customer_health", "2026-06-30");
    // X: value 50, satisfaction = nps 8 → 70 (csat and tickets absent: left out) → (25 + 35) / 1.
    // Y: value 80, never surveyed → satisfaction left out → 80 on half the weight.
    assert_eq!(floats(&health, "health_score"), vec![Some(60.0), Some(80.0)]);
    assert_eq!(floats(&health, "coverage"), vec![Some(1.0), Some(0.5)]);
    assert_eq!(floats(&health, "dim_satisfaction"), vec![Some(70.0), None]);
    assert_eq!(floats(&health, "contrib_value"), vec![Some(25.0), Some(80.0)]);
    assert_eq!(floats(&health, "contrib_satisfaction"), vec![Some(35.0), None]);
    assert_eq!(strings(&health, "weakest_dimension")[0].as_deref(), Some("value"));
    // X needs 25 points: value can give them (50 → 100), satisfaction cannot (70 → 120).
    assert_eq!(strings(&health, "next_tier_lever"), vec![Some("value".to_string()), Some("value".to_string())]);
}

#[test]
fn lost_by_churn_date_or_by_long_silence() {
    let fx = Fixture::new();
    fx.write("invoices.csv", "customer_id,invoice_date,amount\nA,2026-06-01,90\nB,2025-06-01,90\nC,2026-06-01,90\n");
    fx.write("accounts.csv", "customer_id,churn_date\nA,\nB,\nC,2026-06-15\n");
    let rules =
        format!("{VALUE_ONLY}[sources.accounts]\npath = \"accounts.csv\"\nformat = \"csv\"\n{INVOICES_SECTION}");
    fx.run(&rules).unwrap();
    let health = read_table(&fx.out(), "customer_health", "2026-06-30");
    assert_eq!(strings(&health, "health_tier"), ["healthy", "lost", "lost"].map(|t| Some(t.to_string())).to_vec());
}

#[test]
fn improving_a_metric_never_lowers_its_dimension_score() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    for case in 0..6 {
        let customers = 12;
        let amounts: Vec<u32> = (0..customers).map(|_| rng.random_range(1..6) * 50).collect();
        let lateness: Vec<i64> = (0..customers).map(|_| rng.random_range(0..4) * 10).collect();
        let who = rng.random_range(0..customers);
        let scores = |amounts: &[u32], lateness: &[i64]| {
            let fx = Fixture::new();
            let mut csv = String::from("customer_id,invoice_date,amount,due_date,paid_date\n");
            for (i, (a, late)) in amounts.iter().zip(lateness).enumerate() {
                let paid = chrono::NaiveDate::from_ymd_opt(2026, 5, 1).unwrap() + chrono::Duration::days(*late);
                csv.push_str(&format!("K{i:02},2026-04-01,{a},2026-05-01,{paid}\n"));
            }
            fx.write("invoices.csv", csv);
            fx.run(INVOICES_SECTION).unwrap();
            let health = read_table(&fx.out(), "customer_health", "2026-06-30");
            (floats(&health, "dim_value")[who].unwrap(), floats(&health, "dim_risk")[who].unwrap())
        };
        let (value_before, risk_before) = scores(&amounts, &lateness);
        let mut better_amounts = amounts.clone();
        better_amounts[who] += 75;
        let mut better_lateness = lateness.clone();
        better_lateness[who] = (better_lateness[who] - 10).max(0);
        let (value_after, risk_after) = scores(&better_amounts, &better_lateness);
        assert!(value_after >= value_before, "case {case}: value {value_before} → {value_after}");
        assert!(risk_after >= risk_before, "case {case}: risk {risk_before} → {risk_after}");
    }
}

#[test]
fn the_manifest_records_weights_and_the_dimensions_no_source_fed() {
    let fx = Fixture::new();
    fx.write("invoices.csv", "customer_id,invoice_date,amount,due_date\nA,2026-05-01,10,2026-05-31\n");
    let manifest = fx.run(INVOICES_SECTION).unwrap();
    let scoring = &manifest.scoring;
    assert_eq!(scoring.dimension_weights["value"], 0.30);
    assert_eq!(scoring.weighting["method"], "fixed");
    assert_eq!(scoring.customers_with_data["value"], 1);
    assert_eq!(scoring.customers_with_data["risk"], 1, "due dates feed the risk dimension");
    assert_eq!(scoring.dimensions_without_data, vec!["engagement", "satisfaction", "relationship"]);
    let health = read_table(&fx.out(), "customer_health", "2026-06-30");
    assert_eq!(floats(&health, "coverage"), vec![Some(0.5)]);
}
