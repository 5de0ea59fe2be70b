-- churn_labels: the outcome the churn model learns to predict, for every customer of
-- churn_features at every training date (as_of): did the customer churn in the
-- churn_horizon_days after it?
--   crm         the account's CRM churn_date falls in (as_of, as_of + horizon]
--   inactivity  no invoice is dated in (as_of, as_of + horizon]
-- A customer churned when any rule of [churn] label says so (params churn_label_crm,
-- churn_label_inactivity). The horizon ends on or before the run date, so these outcomes
-- were known when the run happened; they are read from the whole bronze tables, not the
-- point-in-time views, which end at as_of.
WITH horizon AS (
    SELECT d.as_of, d.as_of + p.churn_horizon_days AS until
    FROM run_dates AS d
    CROSS JOIN params AS p
),
crm AS (
    SELECT DISTINCT h.as_of, a.customer_id
    FROM bronze_accounts AS a
    JOIN horizon AS h ON a.churn_date > h.as_of AND a.churn_date <= h.until
),
bought AS (
    SELECT DISTINCT h.as_of, i.customer_id
    FROM bronze_invoices AS i
    JOIN horizon AS h ON i.invoice_date > h.as_of AND i.invoice_date <= h.until
)
SELECT
    f.customer_id,
    f.as_of,
    (p.churn_label_crm AND c.customer_id IS NOT NULL)
        OR (p.churn_label_inactivity AND b.customer_id IS NULL) AS churned
FROM churn_features AS f
CROSS JOIN params AS p
LEFT JOIN crm AS c ON c.as_of = f.as_of AND c.customer_id = f.customer_id
LEFT JOIN bought AS b ON b.as_of = f.as_of AND b.customer_id = f.customer_id
