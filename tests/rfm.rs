//! RFM scores on small portfolios whose right answers are worked out by hand.

mod common;

use common::*;

/// Ten customers: six bought once, two twice, one three times, one five times, all in the
/// window; amounts make monetary ties too.
fn portfolio() -> String {
    let mut csv = String::from("customer_id,invoice_date,amount\n");
    let counts = [
        ("C01", 1),
        ("C02", 1),
        ("C03", 1),
        ("C04", 1),
        ("C05", 1),
        ("C06", 1),
        ("C07", 2),
        ("C08", 2),
        ("C09", 3),
        ("C10", 5),
    ];
    for (customer, n) in counts {
        for k in 0..n {
            // Everyone's last invoice is 2026-06-01 except C10 (2026-06-30) and C01 (2025-12-01).
            let date = match customer {
                "C10" => "2026-06-30",
                "C01" => "2025-12-01",
                _ => "2026-06-01",
            };
            let date = if k == 0 { date } else { "2026-01-15" };
            csv.push_str(&format!("{customer},{date},100\n"));
        }
    }
    csv
}

#[test]
fn ties_share_a_score_and_a_mostly_single_purchase_portfolio_stays_defined() {
    let fx = Fixture::new();
    fx.write("invoices.csv", portfolio());
    fx.run(INVOICES_SECTION).unwrap();
    let health = read_table(&fx.out(), "customer_health", "2026-06-30");
    let ids: Vec<String> = strings(&health, "customer_id").into_iter().map(Option::unwrap).collect();
    let score = |col: &str, id: &str| ints(&health, col)[ids.iter().position(|i| i == id).unwrap()].unwrap();

    // Frequency: six tied at rank 1 → 1; ranks 7,7 → 1 + 5*6/10 = 4; rank 9 → 5; rank 10 → 5.
    let f: Vec<i64> = ids.iter().map(|id| score("f_score", id)).collect();
    assert_eq!(f, vec![1, 1, 1, 1, 1, 1, 4, 4, 5, 5]);
    // Monetary follows frequency here (100 per invoice).
    let m: Vec<i64> = ids.iter().map(|id| score("m_score", id)).collect();
    assert_eq!(m, f);
    // Recency: C01 is oldest (rank 1 → 1); eight tied at 29 days share rank 2 → 1 + 5*1/10 = 1;
    // C10 invoiced on as_of is rank 10 → 1 + 5*9/10 = 5.
    assert_eq!(score("r_score", "C01"), 1);
    assert_eq!(score("r_score", "C05"), 1);
    assert_eq!(score("r_score", "C10"), 5);
    assert_eq!(ints(&health, "recency_days")[0], Some(211));
    assert_eq!(strings(&health, "rfm_cell")[9].as_deref(), Some("R5F5M5"));
}

#[test]
fn the_window_limits_frequency_and_monetary_but_not_recency() {
    let fx = Fixture::new();
    fx.write(
        "invoices.csv",
        "customer_id,invoice_date,amount\nC1,2024-01-01,1000\nC1,2026-06-29,5\nC2,2025-06-30,7\nC2,2025-07-01,9\n",
    );
    fx.run(INVOICES_SECTION).unwrap();
    let health = read_table(&fx.out(), "customer_health", "2026-06-30");
    assert_eq!(ints(&health, "frequency"), vec![Some(1), Some(1)], "2025-06-30 is 365 days back: outside");
    let monetary = health.column("monetary").unwrap().f64().unwrap().into_no_null_iter().collect::<Vec<_>>();
    assert_eq!(monetary, vec![5.0, 9.0]);
    assert_eq!(ints(&health, "recency_days"), vec![Some(1), Some(364)]);
}

#[test]
fn custom_cut_points_and_fewer_bins_with_their_own_segments() {
    let fx = Fixture::new();
    fx.write(
        "invoices.csv",
        "customer_id,invoice_date,amount\nA,2026-06-30,10\nB,2026-05-01,500\nB,2026-05-02,500\nC,2025-09-01,2000\n",
    );
    let rules = r#"
[rfm]
bins = 3
recency_cuts = [30, 180]
monetary_cuts = [100, 1000]
[[rfm.segments]]
name = "Active"
r = 3
[[rfm.segments]]
name = "Cooling"
r = [1, 2]
"#;
    fx.run(&format!("{rules}{INVOICES_SECTION}")).unwrap();
    let health = read_table(&fx.out(), "customer_health", "2026-06-30");
    // Recency 0, 60, 302 days: ≤ 30 → 3, ≤ 180 → 2, beyond → 1.
    assert_eq!(ints(&health, "r_score"), vec![Some(3), Some(2), Some(1)]);
    // Monetary 10, 1000, 2000: ≤ 100 → 1, ≤ 1000 → 2, beyond → 3.
    assert_eq!(ints(&health, "m_score"), vec![Some(1), Some(2), Some(3)]);
    // Frequency keeps quantiles over 3 bins: 1, 2, 1 → ranks 1, 3, 1 → 1, 1 + 3*2/3 = 3, 1.
    assert_eq!(ints(&health, "f_score"), vec![Some(1), Some(3), Some(1)]);
    assert_eq!(
        strings(&health, "rfm_segment"),
        vec![Some("Active".into()), Some("Cooling".into()), Some("Cooling".into())]
    );
}

#[test]
fn a_segment_table_with_a_gap_stops_the_run_naming_the_cell() {
    let fx = Fixture::new();
    fx.write("invoices.csv", "customer_id,invoice_date,amount\nA,2026-06-30,10\n");
    let rules =
        "[rfm]\nbins = 2\n[[rfm.segments]]\nname = \"Top\"\nr = 2\n[[rfm.segments]]\nname = \"Low\"\nr = 1\nf = 1\n";
    let err = format!("{:#}", fx.run(&format!("{rules}{INVOICES_SECTION}")).unwrap_err());
    assert!(err.contains("R1F2M1") && err.contains("no segment"), "{err}");
    assert!(!fx.out().exists(), "nothing is written when the pipeline is refused");
}
