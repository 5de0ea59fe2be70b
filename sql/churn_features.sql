-- churn_features: what the churn model learns from, one row per customer not yet lost on
-- the run date. Every column but customer_id and as_of is a numeric feature: add a column
-- here to add a feature (the model standardizes them and fills a missing value with the
-- mean).
--
-- Only facts are read (customer_features, customer_period, the metric models and the
-- sources), never the scores, so the training evaluates this model for every snapshot
-- date in one pass (see churn_labels.sql) and it only ever sees what was known at each
-- date.
WITH metric_values AS (
    SELECT customer_id, as_of, metric, value FROM value_metrics
    UNION ALL SELECT customer_id, as_of, metric, value FROM engagement_metrics
    UNION ALL SELECT customer_id, as_of, metric, value FROM satisfaction_metrics
    UNION ALL SELECT customer_id, as_of, metric, value FROM relationship_metrics
    UNION ALL SELECT customer_id, as_of, metric, value FROM risk_metrics
),
m AS (
    SELECT
        as_of,
        customer_id,
        MAX(CASE WHEN metric = 'cooperation_frequency' THEN value END) AS cooperation_frequency,
        MAX(CASE WHEN metric = 'payment_on_time' THEN value END) AS payment_on_time,
        MAX(CASE WHEN metric = 'depth' THEN value END) AS depth,
        MAX(CASE WHEN metric = 'growth' THEN value END) AS growth,
        MAX(CASE WHEN metric = 'touch_frequency' THEN value END) AS touch_frequency,
        MAX(CASE WHEN metric = 'response_hours' THEN value END) AS response_hours,
        MAX(CASE WHEN metric = 'decision_maker_reach' THEN value END) AS decision_maker_reach,
        MAX(CASE WHEN metric = 'days_since_last_touch' THEN value END) AS days_since_last_touch,
        MAX(CASE WHEN metric = 'nps' THEN value END) AS nps,
        MAX(CASE WHEN metric = 'csat' THEN value END) AS csat,
        MAX(CASE WHEN metric = 'complaint_balance' THEN value END) AS complaint_balance,
        MAX(CASE WHEN metric = 'relationship_level' THEN value END) AS relationship_level,
        MAX(CASE WHEN metric = 'overdue_ratio' THEN value END) AS overdue_ratio,
        MAX(CASE WHEN metric = 'avg_days_late' THEN value END) AS avg_days_late,
        MAX(CASE WHEN metric = 'open_severe_tickets' THEN value END) AS open_severe_tickets
    FROM metric_values
    GROUP BY as_of, customer_id
),
-- Each customer's own rhythm: purchases after the first (repeat), the days from the first
-- to the last (span) and from the first to as_of (age: span + recency, so not a feature
-- of its own, which would make three exactly collinear). The model lane also fits the
-- BG/NBD buy-till-you-die model on repeat, span and recency and adds P(alive) and the
-- purchases expected in the horizon as features (src/model/btyd.rs).
rhythm AS (
    SELECT
        as_of,
        customer_id,
        CAST(CASE WHEN first_invoice_date IS NOT NULL THEN invoices_to_date - 1 END AS DOUBLE) AS repeat_purchases,
        CAST(CAST(last_invoice_date AS INT) - CAST(first_invoice_date AS INT) AS DOUBLE) AS purchase_span_days,
        CAST(CAST(as_of AS INT) - CAST(first_invoice_date AS INT) AS DOUBLE) AS customer_age_days,
        CAST(recent_invoices + earlier_invoices AS DOUBLE) AS invoices_last_180,
        CAST(recent_invoices - earlier_invoices AS DOUBLE) AS invoice_trend
    FROM customer_period
),
-- Trends are the last 90 days against the 90 days before them: invoice_trend above, and
-- touch_trend from customer_activity's counts.
complaints AS (
    SELECT as_of, customer_id, COUNT(*) AS recent_complaints
    FROM tickets
    WHERE kind = 'complaint' AND opened_date > as_of - 90
    GROUP BY as_of, customer_id
)
SELECT
    f.customer_id,
    f.as_of,
    CAST(f.recency_days AS DOUBLE) AS recency_days,
    CAST(f.frequency AS DOUBLE) AS frequency,
    LN(1 + f.monetary) AS log_monetary,
    CAST(CAST(f.as_of AS INT) - CAST(COALESCE(f.signup_date, f.first_invoice_date) AS INT) AS DOUBLE) AS tenure_days,
    r.repeat_purchases,
    r.purchase_span_days,
    -- The days between purchases, on average; the silence since the last one in those
    -- units (60 days is alarming for a weekly buyer and normal for a quarterly one).
    r.purchase_span_days / NULLIF(r.repeat_purchases, 0) AS mean_gap_days,
    LN(1 + f.recency_days * r.repeat_purchases / NULLIF(r.purchase_span_days, 0)) AS log_recency_over_gap,
    -- Purchases a year since the first, and those the last 180 days lacked at the pace the
    -- customer kept from the first purchase to the last (positive: slowing down).
    365 * r.repeat_purchases / NULLIF(r.customer_age_days, 0) AS purchases_per_year,
    LEAST(180, r.customer_age_days) * r.repeat_purchases / NULLIF(r.purchase_span_days, 0)
        - r.invoices_last_180 AS purchase_shortfall,
    m.cooperation_frequency,
    m.payment_on_time,
    m.depth,
    m.growth,
    m.touch_frequency,
    m.response_hours,
    m.decision_maker_reach,
    m.days_since_last_touch,
    m.nps,
    m.csat,
    m.complaint_balance,
    m.relationship_level,
    m.overdue_ratio,
    m.avg_days_late,
    m.open_severe_tickets,
    COALESCE(r.invoice_trend, 0) AS invoice_trend,
    CAST(COALESCE(ca.touches_last_90 - ca.touches_prior_90, 0) AS DOUBLE) AS touch_trend,
    CAST(COALESCE(c.recent_complaints, 0) AS DOUBLE) AS recent_complaints
FROM customer_features AS f
CROSS JOIN params AS p
LEFT JOIN m ON m.as_of = f.as_of AND m.customer_id = f.customer_id
LEFT JOIN rhythm AS r ON r.as_of = f.as_of AND r.customer_id = f.customer_id
LEFT JOIN customer_activity AS ca ON ca.as_of = f.as_of AND ca.customer_id = f.customer_id
LEFT JOIN complaints AS c ON c.as_of = f.as_of AND c.customer_id = f.customer_id
-- Not lost (the rule of customer_health.sql): no CRM churn date, not silent too long.
WHERE f.churn_date IS NULL AND NOT COALESCE(f.days_inactive > p.lost_after_days, FALSE)
ORDER BY f.as_of DESC, f.customer_id
