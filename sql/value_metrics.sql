-- value_metrics: how much and how steadily each customer buys (the value dimension).
-- One row per customer and metric: (customer_id, as_of, metric, value). A metric with no
-- data for a customer has no row, so it is left out of the score rather than counted as
-- zero.
--   contract_amount        invoiced amount in the window
--   cooperation_frequency  months with at least one invoice in the window
--   payment_on_time        share of invoices due in the window that were paid by the due date
--   depth                  distinct product lines bought in the window
--   growth                 window revenue vs the window before it, as a ratio minus 1
-- A fact model, from the period's facts (customer_period.sql).
WITH known AS (
    SELECT f.as_of, f.customer_id, c.period_revenue, c.prior_revenue, c.active_months, c.due_invoices,
           c.paid_on_time, c.product_lines
    FROM customer_features AS f
    LEFT JOIN customer_period AS c ON c.as_of = f.as_of AND c.customer_id = f.customer_id
),
-- One pass: each customer's figures are crossed with the list of metrics. (A UNION ALL of
-- one SELECT per metric over `known` would read it once per metric.)
metrics AS (
    SELECT * FROM (VALUES ('contract_amount'), ('cooperation_frequency'), ('payment_on_time'), ('depth'), ('growth'))
        AS v(metric)
),
measured AS (
    SELECT
        k.customer_id,
        k.as_of,
        m.metric,
        CASE m.metric
            WHEN 'contract_amount' THEN CAST(COALESCE(k.period_revenue, 0) AS DOUBLE)
            WHEN 'cooperation_frequency' THEN CAST(COALESCE(k.active_months, 0) AS DOUBLE)
            WHEN 'payment_on_time' THEN CASE WHEN k.due_invoices > 0
                                             THEN CAST(k.paid_on_time AS DOUBLE) / CAST(k.due_invoices AS DOUBLE) END
            WHEN 'depth' THEN CASE WHEN k.product_lines > 0 THEN CAST(k.product_lines AS DOUBLE) END
            WHEN 'growth' THEN CASE WHEN k.prior_revenue > 0
                                    THEN CAST(k.period_revenue AS DOUBLE) / CAST(k.prior_revenue AS DOUBLE) - 1 END
        END AS value
    FROM metrics AS m
    CROSS JOIN known AS k
)
SELECT customer_id, as_of, metric, value FROM measured WHERE value IS NOT NULL
