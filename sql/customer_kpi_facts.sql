-- customer_kpi_facts: what each customer brings to the portfolio KPIs (kpis.sql) that no
-- health rule changes: its survey answers, whether it was a customer at the period's
-- start and churned in it, its revenue in the period and the one before (DECIMAL, so
-- their sums are exact), whether it is new, and its product lines. Kept apart so that
-- a re-score after a rule change joins customer_health to these rows alone.
SELECT
    f.customer_id,
    COALESCE(c.nps_answers, 0) AS nps_answers,
    COALESCE(c.promoters, 0) AS promoters,
    COALESCE(c.detractors, 0) AS detractors,
    COALESCE(c.csat_answers, 0) AS csat_answers,
    COALESCE(c.satisfied, 0) AS satisfied,
    COALESCE(LEAST(f.first_invoice_date, f.signup_date), f.first_invoice_date, f.signup_date)
        <= p.as_of - p.window_days
      AND (f.churn_date IS NULL OR f.churn_date > p.as_of - p.window_days) AS at_start,
    f.churn_date IS NOT NULL AND f.churn_date > p.as_of - p.window_days AS churned_in_period,
    COALESCE(c.period_revenue, 0) AS period_revenue,
    COALESCE(c.prior_revenue, 0) AS prior_revenue,
    f.first_invoice_date > p.as_of - p.window_days AS new_customer,
    COALESCE(c.product_lines, 0) AS product_lines
FROM customer_features AS f
CROSS JOIN params AS p
LEFT JOIN customer_period AS c ON c.customer_id = f.customer_id
