-- value_metrics: how much and how steadily each customer buys (the value dimension).
-- One row per customer and metric: (customer_id, metric, value). A metric with no data
-- for a customer has no row, so it is left out of the score rather than counted as zero.
--   contract_amount        invoiced amount in the window
--   cooperation_frequency  months with at least one invoice in the window
--   payment_on_time        share of invoices due in the window that were paid by the due date
--   depth                  distinct product lines bought in the window
--   growth                 window revenue vs the window before it, as a ratio minus 1
WITH per_customer AS (
    SELECT
        i.customer_id,
        SUM(i.amount) FILTER (WHERE i.invoice_date > p.as_of - p.window_days) AS amount_window,
        SUM(i.amount) FILTER (WHERE i.invoice_date <= p.as_of - p.window_days
                                AND i.invoice_date > p.as_of - 2 * p.window_days) AS amount_prior,
        COUNT(DISTINCT CASE WHEN i.invoice_date > p.as_of - p.window_days
                            THEN date_trunc('month', i.invoice_date) END) AS active_months,
        AVG(CASE WHEN i.paid_date IS NOT NULL AND i.paid_date <= i.due_date THEN 1.0 ELSE 0.0 END)
            FILTER (WHERE i.due_date <= p.as_of AND i.due_date > p.as_of - p.window_days) AS on_time,
        COUNT(DISTINCT CASE WHEN i.invoice_date > p.as_of - p.window_days THEN i.product_line END) AS product_lines
    FROM invoices AS i
    CROSS JOIN params AS p
    GROUP BY i.customer_id
),
known AS (
    SELECT f.customer_id, pc.amount_window, pc.amount_prior, pc.active_months, pc.on_time, pc.product_lines
    FROM customer_features AS f
    LEFT JOIN per_customer AS pc ON pc.customer_id = f.customer_id
)
SELECT customer_id, 'contract_amount' AS metric, CAST(COALESCE(amount_window, 0) AS DOUBLE) AS value FROM known
UNION ALL
SELECT customer_id, 'cooperation_frequency', CAST(COALESCE(active_months, 0) AS DOUBLE) FROM known
UNION ALL
SELECT customer_id, 'payment_on_time', CAST(on_time AS DOUBLE) FROM known WHERE on_time IS NOT NULL
UNION ALL
SELECT customer_id, 'depth', CAST(product_lines AS DOUBLE) FROM known WHERE product_lines > 0
UNION ALL
SELECT customer_id, 'growth', CAST(COALESCE(amount_window, 0) / amount_prior - 1 AS DOUBLE)
FROM known WHERE amount_prior > 0
