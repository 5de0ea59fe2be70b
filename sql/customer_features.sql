-- customer_features: one row per customer known on the run date (in accounts or
-- invoices), with the raw RFM measures and the facts other models share.
--   recency_days   days from the last invoice to as_of; NULL when never invoiced
--   frequency      invoices dated in the window_days up to and including as_of
--   monetary       total invoiced amount in that window
--   days_inactive  days from the last invoice or activity (or the signup, without either)
--                  to as_of: what the lost tier is decided on
-- Sources are point-in-time views: no row dated after as_of is visible here.
--
-- A fact model like this one reads only sources and [params], and is keyed by as_of as
-- well as customer_id: the churn model's training evaluates it for several dates in one
-- pass, each source row joined to every date it is visible on. Sums of amounts are
-- DECIMAL, exact, so every core can add its share in any order and reruns give the same
-- bytes. The invoice facts come from customer_period, which reads the invoices once for
-- every model.
WITH customers AS (
    SELECT as_of, customer_id FROM accounts
    UNION
    SELECT as_of, customer_id FROM customer_period WHERE last_invoice_date IS NOT NULL
)
SELECT
    c.customer_id,
    c.as_of,
    CAST(CAST(c.as_of AS INT) - CAST(pu.last_invoice_date AS INT) AS BIGINT) AS recency_days,
    CAST(COALESCE(pu.invoices_in_period, 0) AS BIGINT) AS frequency,
    CAST(ROUND(COALESCE(pu.period_revenue, 0), 2) AS DOUBLE) AS monetary,
    pu.first_invoice_date,
    pu.last_invoice_date,
    ca.last_activity_date,
    a.name,
    a.industry,
    a.region,
    a.owner,
    a.signup_date,
    a.status,
    a.churn_date,
    CAST(c.as_of AS INT)
        - CAST(COALESCE(GREATEST(pu.last_invoice_date, ca.last_activity_date), a.signup_date) AS INT) AS days_inactive
FROM customers AS c
LEFT JOIN customer_period AS pu ON pu.as_of = c.as_of AND pu.customer_id = c.customer_id
LEFT JOIN customer_activity AS ca ON ca.as_of = c.as_of AND ca.customer_id = c.customer_id
LEFT JOIN accounts AS a ON a.as_of = c.as_of AND a.customer_id = c.customer_id
