//! Portfolio KPIs on a four-customer portfolio worked out by hand (as of 2026-06-30, so
//! the period is 2025-07-01 … 2026-06-30 and the period before it the year earlier).

mod common;

use common::*;
use polars::prelude::*;

#[test]
fn overall_kpis_match_the_formulas() {
    let fx = Fixture::new();
    fx.write(
        "accounts.csv",
        "customer_id,signup_date,churn_date,industry\nA,2024-01-01,,retail\nB,2024-01-01,2026-01-15,retail\nC,2025-09-01,,energy\nD,2024-01-01,2025-03-01,energy\n",
    );
    fx.write(
        "invoices.csv",
        "customer_id,invoice_date,amount,product_line\n\
         A,2025-01-10,100,X\nA,2026-02-01,150,X\nA,2026-03-01,50,Y\n\
         B,2025-02-01,200,X\nB,2025-08-01,100,X\n\
         C,2025-10-01,300,X\n\
         D,2024-12-01,50,X\n",
    );
    fx.write(
        "surveys.csv",
        "customer_id,response_date,nps,csat\n\
         A,2026-01-01,10,5\nA,2026-02-01,9,\nA,2026-03-01,10,\nB,2025-12-01,6,3\nC,2026-04-01,8,4\nC,2026-05-01,0,1\nD,2024-10-01,10,5\n",
    );
    let sources = format!(
        "{INVOICES_SECTION}[sources.accounts]\npath = \"accounts.csv\"\nformat = \"csv\"\n\
         [sources.surveys]\npath = \"surveys.csv\"\nformat = \"csv\"\n"
    );
    fx.run(&sources).unwrap();
    let kpis = read_table(&fx.out(), "kpis", "2026-06-30");
    let overall = kpis.clone().lazy().filter(col("group_by").eq(lit("overall"))).collect().unwrap();
    assert_eq!(overall.height(), 1);
    let value = |c: &str| overall.column(c).unwrap().cast(&DataType::Float64).unwrap().f64().unwrap().get(0);
    assert_eq!(value("customers"), Some(4.0));
    // Six answers in the period: promoters 10, 9, 10; detractors 6, 0 → (3 − 2) / 6.
    assert!((value("nps").unwrap() - 100.0 / 6.0).abs() < 1e-9, "{:?}", value("nps"));
    // CSAT answers 5, 3, 4, 1 in the period: two satisfied.
    assert_eq!(value("csat"), Some(0.5));
    // At the start: A and B (C signed later, D left before); B left in the period.
    assert_eq!(value("churn_rate"), Some(0.5));
    // Customers who bought before: A 100 → 200, B 200 → 100, D 50 → 0: 300 / 350.
    assert!((value("revenue_retention").unwrap() - 300.0 / 350.0).abs() < 1e-9);
    // C is new: 300 of the period's 600.
    assert_eq!(value("new_customer_revenue_share"), Some(0.5));
    // Buyers in the period: A (two lines), B, C.
    assert!((value("cross_sell_rate").unwrap() - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(value("lost"), Some(2.0));

    let by_industry = kpis.lazy().filter(col("group_by").eq(lit("industry"))).collect().unwrap();
    assert_eq!(strings(&by_industry, "group_value"), vec![Some("energy".into()), Some("retail".into())]);
}
