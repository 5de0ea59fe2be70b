-- vitals' churn model's data, written the way a Python data team would write it for DuckDB:
-- point-in-time snapshots of the churn features, their labels and the RFM baseline's
-- R + F score, for the training dates and the run date, in one pass over the bronze tables.
-- benches/duckdb_churn.py runs it after benches/duckdb_nightly.py, reads the tables it
-- leaves (churn_training, churn_scoring, churn_settings), fits a scikit-learn logistic
-- regression and scores the run date's customers.
--
-- Run with the variables `bronze` (the folder of bronze tables duckdb_nightly.py
-- published, <out>/bronze) and `as_of`.
--
-- The same as vitals (pipelines/sample.toml with [churn] enabled = true, vitals' defaults):
--   * snapshot dates: as_of − horizon_days − k × step_days, k = 0 … snapshots − 1 (4 dates
--     90 days apart, the newest 90 days before as_of), as src/model/mod.rs `train`;
--   * every source as known on each date, as src/transform/sources.rs: rows dated after it
--     hidden, later happenings on the others (paid_date, resolved_date, churn_date,
--     key_contact_since) not yet happened, planned dates (due_date) kept;
--   * the 22 features of sql/churn_features.sql, in its column order, with the definitions
--     of sql/customer_features.sql, sql/customer_period.sql and the five metric models
--     (amounts and response hours summed as DECIMAL(38, 6), exactly), for customers not yet
--     lost on the date (no CRM churn date, not inactive for more than lost_after_days);
--   * the label of sql/churn_labels.sql (label = ["crm"]: a CRM churn date in the bronze
--     accounts within (date, date + horizon]); the inactivity rule is here too, off;
--   * rf_score = r_score + f_score of sql/customer_rfm.sql, ranked per date among every
--     customer known on it (quantile scores; the sample pipeline has no cut points).
-- Differences, deliberate:
--   * The sources are joined to the table of dates (DuckDB plans an inequality join with
--     five dates cheaply); vitals stacks one filtered scan per date with UNION ALL.
--   * The run date's features are computed in the same pass as the snapshots; vitals
--     computes them in its nightly pass.
--   * Fact models are CTEs of one statement per table, not one file per model; the metric
--     values are computed as columns directly, not as (metric, value) rows pivoted back.
--   * The sources `sources` table of vitals (which sources a pipeline has) is not needed:
--     the sample pipeline has them all.

-- ---- rules -------------------------------------------------------------------------------

CREATE TABLE params AS
SELECT
    CAST(getvariable('as_of') AS DATE) AS as_of,
    365 AS window_days,
    90 AS recent_days,
    365 AS lost_after_days,
    5 AS rfm_bins,
    90 AS churn_horizon_days,
    4 AS churn_snapshots,
    90 AS churn_step_days,
    true AS churn_label_crm,
    false AS churn_label_inactivity;

-- What the fit in duckdb_churn.py uses ([churn] defaults of vitals' src/config/defaults.toml).
CREATE TABLE churn_settings AS
SELECT
    1.0 AS l2,
    400000 AS max_training_rows,
    30 AS min_positives,
    0.15 AS band_medium,
    0.35 AS band_high;

-- The training dates (newest first) and the run date itself (scored, not labelled).
CREATE TABLE run_dates AS
SELECT p.as_of - CAST(p.churn_horizon_days + k * p.churn_step_days AS INT) AS as_of, true AS training
FROM params AS p, range(p.churn_snapshots) AS r(k)
UNION ALL
SELECT as_of, false FROM params;

-- ---- bronze tables, and each as known on each date ---------------------------------------

CREATE MACRO bronze(source) AS getvariable('bronze') || '/' || source || '/as_of=' || getvariable('as_of') || '/part-0.parquet';

CREATE TABLE bronze_invoices AS FROM read_parquet(bronze('invoices'));
CREATE TABLE bronze_accounts AS FROM read_parquet(bronze('accounts'));
CREATE TABLE bronze_activities AS FROM read_parquet(bronze('activities'));
CREATE TABLE bronze_tickets AS FROM read_parquet(bronze('tickets'));
CREATE TABLE bronze_surveys AS FROM read_parquet(bronze('surveys'));
CREATE TABLE bronze_relationship_assessments AS FROM read_parquet(bronze('relationship_assessments'));

CREATE VIEW invoices AS
SELECT d.as_of, i.customer_id, i.invoice_date, i.amount, i.due_date,
       CASE WHEN i.paid_date <= d.as_of THEN i.paid_date END AS paid_date, i.product_line
FROM bronze_invoices AS i JOIN run_dates AS d ON i.invoice_date <= d.as_of;

CREATE VIEW accounts AS
SELECT d.as_of, a.customer_id, a.signup_date,
       CASE WHEN a.churn_date <= d.as_of THEN a.churn_date END AS churn_date
FROM bronze_accounts AS a JOIN run_dates AS d ON a.signup_date IS NULL OR a.signup_date <= d.as_of;

CREATE VIEW activities AS
SELECT d.as_of, a.customer_id, a.activity_date, a.response_hours, a.contact_level
FROM bronze_activities AS a JOIN run_dates AS d ON a.activity_date <= d.as_of;

CREATE VIEW tickets AS
SELECT d.as_of, t.customer_id, t.opened_date, t.severity, t.kind,
       CASE WHEN t.resolved_date <= d.as_of THEN t.resolved_date END AS resolved_date
FROM bronze_tickets AS t JOIN run_dates AS d ON t.opened_date <= d.as_of;

CREATE VIEW surveys AS
SELECT d.as_of, s.customer_id, s.response_date, s.nps, s.csat
FROM bronze_surveys AS s JOIN run_dates AS d ON s.response_date <= d.as_of;

CREATE VIEW relationship_assessments AS
SELECT d.as_of, r.customer_id, r.assessed_date, r.dimension, r.level
FROM bronze_relationship_assessments AS r JOIN run_dates AS d ON r.assessed_date <= d.as_of;

-- ---- per date and customer: facts --------------------------------------------------------

-- One pass over the invoices per date: customer_features' purchases and customer_period's
-- billing facts. Distinct months and product lines from one hash aggregate per (date,
-- customer, product line), as in duckdb_nightly.sql.
CREATE TABLE invoice_facts AS
WITH per_line AS (
    SELECT
        i.as_of,
        i.customer_id,
        i.product_line,
        MIN(i.invoice_date) AS first_invoice_date,
        MAX(i.invoice_date) AS last_invoice_date,
        COUNT(*) AS invoices_to_date,
        COUNT(*) FILTER (WHERE i.invoice_date > i.as_of - p.window_days) AS frequency,
        SUM(CAST(i.amount AS DECIMAL(38, 6))) FILTER (WHERE i.invoice_date > i.as_of - p.window_days) AS monetary,
        SUM(CAST(i.amount AS DECIMAL(38, 6))) FILTER (WHERE i.invoice_date <= i.as_of - p.window_days
                                                        AND i.invoice_date > i.as_of - 2 * p.window_days) AS prior_revenue,
        bit_or(CAST(1 AS UBIGINT) << ((12 * year(i.invoice_date) + month(i.invoice_date)) % 64))
            FILTER (WHERE i.invoice_date > i.as_of - p.window_days) AS months,
        COUNT(*) FILTER (WHERE i.due_date <= i.as_of AND i.due_date > i.as_of - p.window_days) AS due_invoices,
        COUNT(*) FILTER (WHERE i.due_date <= i.as_of AND i.due_date > i.as_of - p.window_days
                           AND i.paid_date IS NOT NULL AND i.paid_date <= i.due_date) AS paid_on_time,
        SUM(GREATEST(COALESCE(i.paid_date, i.as_of) - i.due_date, 0))
            FILTER (WHERE i.due_date <= i.as_of AND i.due_date > i.as_of - p.window_days) AS days_late,
        COUNT(*) FILTER (WHERE i.invoice_date > i.as_of - 90) AS recent_invoices,
        COUNT(*) FILTER (WHERE i.invoice_date <= i.as_of - 90 AND i.invoice_date > i.as_of - 180) AS earlier_invoices
    FROM invoices AS i
    CROSS JOIN params AS p
    GROUP BY i.as_of, i.customer_id, i.product_line
)
SELECT
    as_of,
    customer_id,
    MIN(first_invoice_date) AS first_invoice_date,
    MAX(last_invoice_date) AS last_invoice_date,
    SUM(invoices_to_date) AS invoices_to_date,
    SUM(frequency) AS frequency,
    SUM(monetary) AS monetary,
    SUM(prior_revenue) AS prior_revenue,
    COALESCE(bit_count(bit_or(months)), 0) AS active_months,
    COUNT(product_line) FILTER (WHERE frequency > 0) AS product_lines,
    SUM(due_invoices) AS due_invoices,
    SUM(paid_on_time) AS paid_on_time,
    SUM(due_invoices) - SUM(paid_on_time) AS paid_late,
    SUM(days_late) AS days_late,
    SUM(recent_invoices) AS recent_invoices,
    SUM(earlier_invoices) AS earlier_invoices
FROM per_line
GROUP BY as_of, customer_id;

CREATE TABLE activity_facts AS
SELECT
    a.as_of,
    a.customer_id,
    MAX(a.activity_date) AS last_activity_date,
    COUNT(*) FILTER (WHERE a.activity_date > a.as_of - p.recent_days) AS recent_touches,
    -- vitals: AVG(CAST(response_hours AS DECIMAL(38, 6))) in DataFusion, a DECIMAL(38, 10)
    -- truncated toward zero, then DOUBLE. The same, exactly: the sum in millionths, times
    -- 10⁴, divided by the count in whole numbers.
    CAST(CAST(SUM(CAST(a.response_hours AS DECIMAL(38, 6))) FILTER (WHERE a.activity_date > a.as_of - p.window_days)
              * 1000000 AS HUGEINT) * 10000
         // COUNT(a.response_hours) FILTER (WHERE a.activity_date > a.as_of - p.window_days) AS DOUBLE)
        / 1e10 AS response_hours,
    CAST(COUNT(*) FILTER (WHERE a.activity_date > a.as_of - p.window_days AND a.contact_level = 'executive') AS DOUBLE)
        / NULLIF(COUNT(*) FILTER (WHERE a.activity_date > a.as_of - p.window_days AND a.contact_level IS NOT NULL), 0)
        AS executive_share,
    COUNT(*) FILTER (WHERE a.activity_date > a.as_of - 90)
      - COUNT(*) FILTER (WHERE a.activity_date <= a.as_of - 90 AND a.activity_date > a.as_of - 180) AS touch_trend
FROM activities AS a
CROSS JOIN params AS p
GROUP BY a.as_of, a.customer_id;

CREATE TABLE ticket_facts AS
SELECT
    t.as_of,
    t.customer_id,
    COUNT(*) FILTER (WHERE t.kind = 'praise' AND t.opened_date > t.as_of - p.window_days)
      - COUNT(*) FILTER (WHERE t.kind = 'complaint' AND t.opened_date > t.as_of - p.window_days) AS balance,
    COUNT(*) FILTER (WHERE t.resolved_date IS NULL AND t.severity IN ('high', 'critical')
                       AND t.opened_date > t.as_of - p.recent_days) AS open_severe,
    COUNT(*) FILTER (WHERE t.kind = 'complaint' AND t.opened_date > t.as_of - 90) AS recent_complaints
FROM tickets AS t
CROSS JOIN params AS p
GROUP BY t.as_of, t.customer_id;

CREATE TABLE survey_facts AS
SELECT
    s.as_of,
    s.customer_id,
    CAST(SUM(s.nps) AS DOUBLE) / CAST(NULLIF(COUNT(s.nps), 0) AS DOUBLE) AS nps,
    CAST(SUM(s.csat) AS DOUBLE) / CAST(NULLIF(COUNT(s.csat), 0) AS DOUBLE) AS csat
FROM surveys AS s
CROSS JOIN params AS p
WHERE s.response_date > s.as_of - p.window_days
GROUP BY s.as_of, s.customer_id;

-- The latest level of each assessed dimension, averaged.
CREATE TABLE relationship_facts AS
SELECT as_of, customer_id, AVG(level) AS relationship_level
FROM (
    SELECT as_of, customer_id, level,
           ROW_NUMBER() OVER (PARTITION BY as_of, customer_id, dimension ORDER BY assessed_date DESC, level ASC) AS recency_rank
    FROM relationship_assessments
)
WHERE recency_rank = 1
GROUP BY as_of, customer_id;

-- Every customer known on each date (in accounts or invoices), as customer_features.sql.
CREATE TABLE customer_features AS
WITH customers AS (
    SELECT as_of, customer_id FROM accounts
    UNION
    SELECT as_of, customer_id FROM invoice_facts
)
SELECT
    c.as_of,
    c.customer_id,
    c.as_of - i.last_invoice_date AS recency_days,
    COALESCE(i.frequency, 0) AS frequency,
    CAST(ROUND(COALESCE(i.monetary, 0), 2) AS DOUBLE) AS monetary,
    i.first_invoice_date,
    a.signup_date,
    a.churn_date,
    c.as_of - COALESCE(GREATEST(i.last_invoice_date, t.last_activity_date), a.signup_date) AS days_inactive
FROM customers AS c
LEFT JOIN invoice_facts AS i ON i.as_of = c.as_of AND i.customer_id = c.customer_id
LEFT JOIN activity_facts AS t ON t.as_of = c.as_of AND t.customer_id = c.customer_id
LEFT JOIN accounts AS a ON a.as_of = c.as_of AND a.customer_id = c.customer_id;

-- ---- churn features, labels, the baseline's R + F -----------------------------------------

-- sql/churn_features.sql: one row per customer not yet lost on the date.
CREATE TABLE churn_features AS
SELECT
    f.customer_id,
    f.as_of,
    CAST(f.recency_days AS DOUBLE) AS recency_days,
    CAST(f.frequency AS DOUBLE) AS frequency,
    LN(1 + f.monetary) AS log_monetary,
    CAST(f.as_of - COALESCE(f.signup_date, f.first_invoice_date) AS DOUBLE) AS tenure_days,
    CAST(i.invoices_to_date - 1 AS DOUBLE) AS repeat_purchases,
    CAST(i.last_invoice_date - i.first_invoice_date AS DOUBLE) AS purchase_span_days,
    CAST(i.last_invoice_date - i.first_invoice_date AS DOUBLE) / NULLIF(i.invoices_to_date - 1, 0) AS mean_gap_days,
    LN(1 + f.recency_days * CAST(i.invoices_to_date - 1 AS DOUBLE)
               / NULLIF(i.last_invoice_date - i.first_invoice_date, 0)) AS log_recency_over_gap,
    365 * CAST(i.invoices_to_date - 1 AS DOUBLE) / NULLIF(f.as_of - i.first_invoice_date, 0) AS purchases_per_year,
    LEAST(180, f.as_of - i.first_invoice_date) * CAST(i.invoices_to_date - 1 AS DOUBLE)
        / NULLIF(i.last_invoice_date - i.first_invoice_date, 0)
        - CAST(i.recent_invoices + i.earlier_invoices AS DOUBLE) AS purchase_shortfall,
    CAST(COALESCE(i.active_months, 0) AS DOUBLE) AS cooperation_frequency,
    CASE WHEN i.due_invoices > 0 THEN CAST(i.paid_on_time AS DOUBLE) / CAST(i.due_invoices AS DOUBLE) END AS payment_on_time,
    CASE WHEN i.product_lines > 0 THEN CAST(i.product_lines AS DOUBLE) END AS depth,
    CASE WHEN i.prior_revenue > 0
         THEN CAST(COALESCE(i.monetary, 0) AS DOUBLE) / CAST(i.prior_revenue AS DOUBLE) - 1 END AS growth,
    CAST(COALESCE(a.recent_touches, 0) AS DOUBLE) AS touch_frequency,
    a.response_hours,
    a.executive_share AS decision_maker_reach,
    CAST(f.as_of - a.last_activity_date AS DOUBLE) AS days_since_last_touch,
    s.nps,
    s.csat,
    CAST(COALESCE(t.balance, 0) AS DOUBLE) AS complaint_balance,
    r.relationship_level,
    CASE WHEN i.due_invoices > 0 THEN CAST(i.paid_late AS DOUBLE) / CAST(i.due_invoices AS DOUBLE) END AS overdue_ratio,
    CASE WHEN i.due_invoices > 0 THEN CAST(i.days_late AS DOUBLE) / CAST(i.due_invoices AS DOUBLE) END AS avg_days_late,
    CAST(COALESCE(t.open_severe, 0) AS DOUBLE) AS open_severe_tickets,
    CAST(COALESCE(i.recent_invoices - i.earlier_invoices, 0) AS DOUBLE) AS invoice_trend,
    CAST(COALESCE(a.touch_trend, 0) AS DOUBLE) AS touch_trend,
    CAST(COALESCE(t.recent_complaints, 0) AS DOUBLE) AS recent_complaints
FROM customer_features AS f
CROSS JOIN params AS p
LEFT JOIN invoice_facts AS i ON i.as_of = f.as_of AND i.customer_id = f.customer_id
LEFT JOIN activity_facts AS a ON a.as_of = f.as_of AND a.customer_id = f.customer_id
LEFT JOIN ticket_facts AS t ON t.as_of = f.as_of AND t.customer_id = f.customer_id
LEFT JOIN survey_facts AS s ON s.as_of = f.as_of AND s.customer_id = f.customer_id
LEFT JOIN relationship_facts AS r ON r.as_of = f.as_of AND r.customer_id = f.customer_id
WHERE f.churn_date IS NULL AND NOT COALESCE(f.days_inactive > p.lost_after_days, false);

-- sql/churn_labels.sql: churned in (date, date + horizon], read from the whole bronze tables.
CREATE TABLE churn_labels AS
WITH horizon AS (
    SELECT d.as_of, d.as_of + p.churn_horizon_days AS until
    FROM run_dates AS d
    CROSS JOIN params AS p
    WHERE d.training
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
JOIN horizon AS h ON h.as_of = f.as_of
CROSS JOIN params AS p
LEFT JOIN crm AS c ON c.as_of = f.as_of AND c.customer_id = f.customer_id
LEFT JOIN bought AS b ON b.as_of = f.as_of AND b.customer_id = f.customer_id;

-- sql/customer_rfm.sql's R and F quantile scores, per date, for the baseline.
CREATE TABLE rf_scores AS
SELECT
    f.as_of,
    f.customer_id,
    CAST(1 + (p.rfm_bins * (RANK() OVER (PARTITION BY f.as_of ORDER BY f.recency_days DESC NULLS FIRST) - 1))
             // COUNT(*) OVER (PARTITION BY f.as_of) AS BIGINT)
      + CAST(1 + (p.rfm_bins * (RANK() OVER (PARTITION BY f.as_of ORDER BY f.frequency ASC) - 1))
             // COUNT(*) OVER (PARTITION BY f.as_of) AS BIGINT) AS rf_score
FROM customer_features AS f
JOIN run_dates AS d ON d.as_of = f.as_of AND d.training
CROSS JOIN params AS p;

-- The training rows: features, outcome, R + F; newest date first, then by customer (the
-- order vitals' fit reads them in).
CREATE TABLE churn_training AS
SELECT f.*, l.churned, r.rf_score
FROM churn_features AS f
JOIN churn_labels AS l ON l.as_of = f.as_of AND l.customer_id = f.customer_id
LEFT JOIN rf_scores AS r ON r.as_of = f.as_of AND r.customer_id = f.customer_id
ORDER BY f.as_of DESC, f.customer_id;

-- The customers to score: the run date's features.
CREATE TABLE churn_scoring AS
SELECT f.*
FROM churn_features AS f
JOIN run_dates AS d ON d.as_of = f.as_of AND NOT d.training
ORDER BY f.customer_id;
