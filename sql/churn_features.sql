-- churn_features: what the churn model learns from, one row per customer not yet lost on
-- the run date. Every column but customer_id is a numeric feature: add a column here to
-- add a feature (the model standardizes them and fills a missing value with the mean).
-- The model is trained on this same model evaluated at past dates, so it only ever sees
-- what was known at each date.
WITH m AS (
    SELECT
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
    FROM customer_metrics
    GROUP BY customer_id
),
-- Trends: the last 90 days against the 90 days before them.
invoice_trend AS (
    SELECT
        i.customer_id,
        COUNT(*) FILTER (WHERE i.invoice_date > p.as_of - 90)
          - COUNT(*) FILTER (WHERE i.invoice_date <= p.as_of - 90 AND i.invoice_date > p.as_of - 180) AS invoice_trend
    FROM invoices AS i
    CROSS JOIN params AS p
    GROUP BY i.customer_id
),
touch_trend AS (
    SELECT
        a.customer_id,
        COUNT(*) FILTER (WHERE a.activity_date > p.as_of - 90)
          - COUNT(*) FILTER (WHERE a.activity_date <= p.as_of - 90 AND a.activity_date > p.as_of - 180) AS touch_trend
    FROM activities AS a
    CROSS JOIN params AS p
    GROUP BY a.customer_id
),
complaints AS (
    SELECT t.customer_id, COUNT(*) AS recent_complaints
    FROM tickets AS t
    CROSS JOIN params AS p
    WHERE t.kind = 'complaint' AND t.opened_date > p.as_of - 90
    GROUP BY t.customer_id
)
SELECT
    h.customer_id,
    CAST(h.recency_days AS DOUBLE) AS recency_days,
    CAST(h.frequency AS DOUBLE) AS frequency,
    LN(1 + h.monetary) AS log_monetary,
    CAST(CAST(p.as_of AS INT) - CAST(COALESCE(f.signup_date, f.first_invoice_date) AS INT) AS DOUBLE) AS tenure_days,
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
    CAST(COALESCE(it.invoice_trend, 0) AS DOUBLE) AS invoice_trend,
    CAST(COALESCE(tt.touch_trend, 0) AS DOUBLE) AS touch_trend,
    CAST(COALESCE(c.recent_complaints, 0) AS DOUBLE) AS recent_complaints
FROM customer_health AS h
JOIN customer_features AS f ON f.customer_id = h.customer_id
CROSS JOIN params AS p
LEFT JOIN m ON m.customer_id = h.customer_id
LEFT JOIN invoice_trend AS it ON it.customer_id = h.customer_id
LEFT JOIN touch_trend AS tt ON tt.customer_id = h.customer_id
LEFT JOIN complaints AS c ON c.customer_id = h.customer_id
WHERE h.health_tier <> 'lost'
ORDER BY h.customer_id
