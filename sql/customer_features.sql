-- customer_features: one row per customer known on the run date (in accounts or
-- invoices), with the raw RFM measures and the facts other models share.
--   recency_days  days from the last invoice to as_of; NULL when never invoiced
--   frequency     invoices dated in the window_days up to and including as_of
--   monetary      total invoiced amount in that window
-- Sources are point-in-time views: no row dated after as_of is visible here.
WITH customers AS (
    SELECT customer_id FROM accounts
    UNION
    SELECT customer_id FROM invoices
),
purchases AS (
    SELECT
        i.customer_id,
        MIN(i.invoice_date) AS first_invoice_date,
        MAX(i.invoice_date) AS last_invoice_date,
        COUNT(*) FILTER (WHERE i.invoice_date > p.as_of - p.window_days) AS frequency,
        SUM(i.amount) FILTER (WHERE i.invoice_date > p.as_of - p.window_days) AS monetary
    FROM invoices AS i
    CROSS JOIN params AS p
    GROUP BY i.customer_id
),
touches AS (
    SELECT customer_id, MAX(activity_date) AS last_activity_date
    FROM activities
    GROUP BY customer_id
)
SELECT
    c.customer_id,
    p.as_of,
    CAST(CAST(p.as_of AS INT) - CAST(pu.last_invoice_date AS INT) AS BIGINT) AS recency_days,
    CAST(COALESCE(pu.frequency, 0) AS BIGINT) AS frequency,
    CAST(ROUND(COALESCE(pu.monetary, 0), 2) AS DOUBLE) AS monetary,
    pu.first_invoice_date,
    pu.last_invoice_date,
    t.last_activity_date,
    a.name,
    a.industry,
    a.region,
    a.owner,
    a.signup_date,
    a.status,
    a.churn_date
FROM customers AS c
CROSS JOIN params AS p
LEFT JOIN purchases AS pu ON pu.customer_id = c.customer_id
LEFT JOIN touches AS t ON t.customer_id = c.customer_id
LEFT JOIN accounts AS a ON a.customer_id = c.customer_id
