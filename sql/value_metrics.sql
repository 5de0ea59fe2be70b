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
        AVG(CASE WHEN i.paid_date IS NOT NULL AND i.paid_date <= i.due_date THEN 1.0 ELSE 0.0 END)
            FILTER (WHERE i.due_date <= p.as_of AND i.due_date > p.as_of - p.window_days) AS on_time
    FROM invoices AS i
    CROSS JOIN params AS p
    GROUP BY i.customer_id
),
-- Distinct months and product lines per customer, counted from distinct pairs: a plain
-- COUNT(DISTINCT …) per customer keeps a hash set per customer and was the slowest part
-- of the run at a million customers.
windowed AS (
    SELECT i.customer_id, date_trunc('month', i.invoice_date) AS month, i.product_line
    FROM invoices AS i
    CROSS JOIN params AS p
    WHERE i.invoice_date > p.as_of - p.window_days
),
months AS (
    SELECT customer_id, COUNT(*) AS active_months
    FROM (SELECT DISTINCT customer_id, month FROM windowed) AS d
    GROUP BY customer_id
),
lines AS (
    SELECT customer_id, COUNT(*) AS product_lines
    FROM (SELECT DISTINCT customer_id, product_line FROM windowed WHERE product_line IS NOT NULL) AS d
    GROUP BY customer_id
),
known AS (
    SELECT f.customer_id, pc.amount_window, pc.amount_prior, mo.active_months, pc.on_time, li.product_lines
    FROM customer_features AS f
    LEFT JOIN per_customer AS pc ON pc.customer_id = f.customer_id
    LEFT JOIN months AS mo ON mo.customer_id = f.customer_id
    LEFT JOIN lines AS li ON li.customer_id = f.customer_id
),
-- One pass: each customer's figures are crossed with the list of metrics. (A UNION ALL of
-- one SELECT per metric over `known` would aggregate the invoices once per metric.)
metrics AS (
    SELECT * FROM (VALUES ('contract_amount'), ('cooperation_frequency'), ('payment_on_time'), ('depth'), ('growth'))
        AS v(metric)
),
measured AS (
    SELECT
        k.customer_id,
        m.metric,
        CASE m.metric
            WHEN 'contract_amount' THEN CAST(COALESCE(k.amount_window, 0) AS DOUBLE)
            WHEN 'cooperation_frequency' THEN CAST(COALESCE(k.active_months, 0) AS DOUBLE)
            WHEN 'payment_on_time' THEN CAST(k.on_time AS DOUBLE)
            WHEN 'depth' THEN CASE WHEN k.product_lines > 0 THEN CAST(k.product_lines AS DOUBLE) END
            WHEN 'growth' THEN CASE WHEN k.amount_prior > 0
                                    THEN CAST(COALESCE(k.amount_window, 0) / k.amount_prior - 1 AS DOUBLE) END
        END AS value
    FROM metrics AS m
    CROSS JOIN known AS k
)
SELECT customer_id, metric, value FROM measured WHERE value IS NOT NULL
